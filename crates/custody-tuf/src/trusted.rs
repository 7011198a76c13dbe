//! The TUF 1.0 client workflow's state: what the client trusts so far, and the rules for
//! accepting each newer file. Pure: bytes in, decisions out, time given by the caller.
//!
//! The order is the spec's (§5.3–5.6): root chain, timestamp, snapshot, then targets roles.
//! Each `update_*` call checks signatures with the keys trusted at that moment, then rollback
//! against the previously trusted version, and only then expiry, so an expired file still
//! serves as the rollback floor for the next one.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::metadata::{Metadata, Role, Root, Signed, Snapshot, Targets, Timestamp};

/// What the client trusts, built up one verified file at a time.
#[derive(Debug, Clone)]
pub struct TrustedMetadata {
    now: jiff::Timestamp,
    root: Metadata<Root>,
    timestamp: Option<Metadata<Timestamp>>,
    snapshot: Option<Metadata<Snapshot>>,
    targets: BTreeMap<String, Metadata<Targets>>,
}

/// Whether an offered timestamp replaced the trusted one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampUpdate {
    /// It was newer, and is now trusted.
    Updated,
    /// Same version as the trusted one: the repository has not changed, keep what we have.
    Unchanged,
}

impl TrustedMetadata {
    /// Start from a root the caller trusts (shipped with the product, or stored earlier). It
    /// must be signed by its own threshold; it may be expired, since a newer root may follow.
    pub fn new(root_bytes: &[u8], now: jiff::Timestamp) -> Result<Self> {
        let root = Metadata::<Root>::from_bytes("root.json", root_bytes)?;
        verify_by_root(&root, "root", &root.signed)?;
        Ok(Self {
            now,
            root,
            timestamp: None,
            snapshot: None,
            targets: BTreeMap::new(),
        })
    }

    /// The trusted root.
    pub fn root(&self) -> &Metadata<Root> {
        &self.root
    }

    /// The trusted timestamp, once loaded.
    pub fn timestamp(&self) -> Option<&Metadata<Timestamp>> {
        self.timestamp.as_ref()
    }

    /// The trusted snapshot, once loaded.
    pub fn snapshot(&self) -> Option<&Metadata<Snapshot>> {
        self.snapshot.as_ref()
    }

    /// A trusted targets role, once loaded.
    pub fn targets(&self, role: &str) -> Option<&Metadata<Targets>> {
        self.targets.get(role)
    }

    /// The reference time.
    pub fn now(&self) -> jiff::Timestamp {
        self.now
    }

    /// §5.3: accept root version N+1, signed by the threshold of both the trusted root and
    /// itself.
    pub fn update_root(&mut self, file: &str, bytes: &[u8]) -> Result<()> {
        if self.timestamp.is_some() {
            return Err(Error::Order("root cannot change after timestamp is loaded"));
        }
        let new = Metadata::<Root>::from_bytes(file, bytes)?;
        verify_by_root(&new, "root", &self.root.signed)?;
        let expected = self.root.signed.version + 1;
        if new.signed.version != expected {
            return Err(Error::RootVersion {
                file: file.to_string(),
                expected,
                found: new.signed.version,
            });
        }
        verify_by_root(&new, "root", &new.signed)?;
        self.root = new;
        Ok(())
    }

    /// §5.3.10: the final root must not be expired.
    pub fn check_root(&self) -> Result<()> {
        expired("root", &self.root.signed, self.now)
    }

    /// §5.4: accept a timestamp signed by the root's timestamp keys, no older than the trusted
    /// one and pinning no older a snapshot. An expired timestamp is kept as the rollback floor
    /// but reported.
    pub fn update_timestamp(&mut self, bytes: &[u8]) -> Result<TimestampUpdate> {
        if self.snapshot.is_some() {
            return Err(Error::Order(
                "timestamp cannot change after snapshot is loaded",
            ));
        }
        self.check_root()?;
        let new = Metadata::<Timestamp>::from_bytes("timestamp.json", bytes)?;
        verify_by_root(&new, "timestamp", &self.root.signed)?;
        if let Some(old) = &self.timestamp {
            let (trusted, offered) = (old.signed.version, new.signed.version);
            if offered < trusted {
                return Err(Error::Rollback {
                    role: "timestamp".into(),
                    trusted,
                    offered,
                });
            }
            // §5.4.3.1: the same version means no change, not an attack.
            if offered == trusted {
                return Ok(TimestampUpdate::Unchanged);
            }
            // §5.4.3.2: nor may a newer timestamp point back at an older snapshot.
            let (trusted, offered) = (
                old.signed.snapshot_meta().version,
                new.signed.snapshot_meta().version,
            );
            if offered < trusted {
                return Err(Error::Rollback {
                    role: "snapshot (pinned by timestamp)".into(),
                    trusted,
                    offered,
                });
            }
        }
        self.timestamp = Some(new);
        self.check_timestamp()?;
        Ok(TimestampUpdate::Updated)
    }

    fn check_timestamp(&self) -> Result<()> {
        let ts = self
            .timestamp
            .as_ref()
            .ok_or(Error::Order("timestamp is not loaded"))?;
        expired("timestamp", &ts.signed, self.now)
    }

    /// §5.5: accept the snapshot the timestamp pins. `from_cache` skips the hash check for a
    /// file we stored ourselves (its signature is still checked).
    pub fn update_snapshot(&mut self, bytes: &[u8], from_cache: bool) -> Result<()> {
        if !self.targets.is_empty() {
            return Err(Error::Order(
                "snapshot cannot change after targets are loaded",
            ));
        }
        self.check_timestamp()?;
        let pinned = self
            .timestamp
            .as_ref()
            .map(|t| t.signed.snapshot_meta().clone())
            .ok_or(Error::Order("timestamp is not loaded"))?;
        if !from_cache {
            pinned.verify("snapshot.json", bytes)?;
        }
        let new = Metadata::<Snapshot>::from_bytes("snapshot.json", bytes)?;
        verify_by_root(&new, "snapshot", &self.root.signed)?;
        if let Some(old) = &self.snapshot {
            for (name, old_meta) in &old.signed.meta {
                let Some(new_meta) = new.signed.meta.get(name) else {
                    return Err(Error::Removed {
                        role: name.clone(),
                        by: "snapshot".into(),
                    });
                };
                if new_meta.version < old_meta.version {
                    return Err(Error::Rollback {
                        role: name.clone(),
                        trusted: old_meta.version,
                        offered: new_meta.version,
                    });
                }
            }
        }
        self.snapshot = Some(new);
        self.check_snapshot()
    }

    fn check_snapshot(&self) -> Result<()> {
        let snapshot = self
            .snapshot
            .as_ref()
            .ok_or(Error::Order("snapshot is not loaded"))?;
        expired("snapshot", &snapshot.signed, self.now)?;
        let pinned = self
            .timestamp
            .as_ref()
            .map(|t| t.signed.snapshot_meta().version)
            .unwrap_or_default();
        if snapshot.signed.version != pinned {
            return Err(Error::MixAndMatch {
                role: "snapshot".into(),
                by: "timestamp".into(),
                expected: pinned,
                found: snapshot.signed.version,
            });
        }
        Ok(())
    }

    /// §5.6: accept top-level targets.
    pub fn update_targets(&mut self, bytes: &[u8]) -> Result<&Metadata<Targets>> {
        self.update_delegated_targets(bytes, "targets", "root")
    }

    /// §5.6 for any targets role: pinned by the snapshot, signed by the keys its delegator
    /// names, at exactly the pinned version, and not expired.
    pub fn update_delegated_targets(
        &mut self,
        bytes: &[u8],
        role: &str,
        delegator: &str,
    ) -> Result<&Metadata<Targets>> {
        self.check_snapshot()?;
        let file = format!("{role}.json");
        let pinned = self
            .snapshot
            .as_ref()
            .and_then(|s| s.signed.meta.get(&file))
            .cloned()
            .ok_or_else(|| Error::NotInSnapshot { file: file.clone() })?;
        pinned.verify(&file, bytes)?;
        let new = Metadata::<Targets>::from_bytes(&file, bytes)?;
        self.verify_delegated(&new, role, delegator)?;
        if new.signed.version != pinned.version {
            return Err(Error::MixAndMatch {
                role: role.to_string(),
                by: "snapshot".into(),
                expected: pinned.version,
                found: new.signed.version,
            });
        }
        expired(role, &new.signed, self.now)?;
        self.targets.insert(role.to_string(), new);
        self.targets
            .get(role)
            .ok_or(Error::Order("targets role vanished"))
    }

    /// A targets role already trusted, reached again through `delegator`. Trust in a role is
    /// trust through one delegation path: when two delegators name the same role with
    /// different keys, metadata verified through the first must not inherit the second's
    /// authority, so its signatures are checked again against the keys `delegator` names.
    pub fn reverify_delegated_targets(
        &self,
        role: &str,
        delegator: &str,
    ) -> Result<&Metadata<Targets>> {
        let md = self
            .targets
            .get(role)
            .ok_or(Error::Order("targets role is not loaded"))?;
        self.verify_delegated(md, role, delegator)?;
        Ok(md)
    }

    /// §5.6.3: `md` must be signed by the threshold of keys that `delegator` gives `role`.
    fn verify_delegated(&self, md: &Metadata<Targets>, role: &str, delegator: &str) -> Result<()> {
        if delegator == "root" {
            return verify_by_root(md, role, &self.root.signed);
        }
        let parent = self
            .targets
            .get(delegator)
            .ok_or(Error::Order("delegating role is not loaded"))?;
        let not_delegated = || Error::DelegationNotFound {
            role: role.to_string(),
            delegator: delegator.to_string(),
        };
        let delegations = parent
            .signed
            .delegations
            .as_ref()
            .ok_or_else(not_delegated)?;
        let keys = delegations.role(role).ok_or_else(not_delegated)?;
        md.verify_role(role, &delegations.keys, &keys)
    }
}

fn verify_by_root<T: Signed>(md: &Metadata<T>, role: &str, root: &Root) -> Result<()> {
    let keys: &Role = root
        .roles
        .get(role)
        .ok_or_else(|| Error::MissingTopLevelRole {
            what: "root.json".into(),
            role: role.to_string(),
        })?;
    md.verify_role(role, &root.keys, keys)
}

fn expired<T: Signed>(role: &str, signed: &T, now: jiff::Timestamp) -> Result<()> {
    if signed.expires() <= now {
        return Err(Error::Expired {
            role: role.to_string(),
            expires: signed.expires(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::updater::sim::{Repo, in_days, now};

    fn trusting(repo: &Repo, at: jiff::Timestamp) -> TrustedMetadata {
        TrustedMetadata::new(&repo.sign("root", &repo.root), at).unwrap()
    }

    #[test]
    fn expired_timestamp_still_sets_the_rollback_floor() {
        let mut repo = Repo::new();
        repo.timestamp.version = 5;
        let expired = repo.sign("timestamp", &repo.timestamp);
        let mut trusted = trusting(&repo, in_days(2));
        let err = trusted.update_timestamp(&expired).unwrap_err();
        assert!(
            matches!(&err, Error::Expired { role, expires } if role == "timestamp" && *expires == in_days(1)),
            "{err}"
        );

        // A fresh but older timestamp is still a rollback below the expired v5.
        repo.timestamp.version = 4;
        repo.timestamp.expires = in_days(30);
        let older = repo.sign("timestamp", &repo.timestamp);
        let err = trusted.update_timestamp(&older).unwrap_err();
        assert!(
            matches!(
                &err,
                Error::Rollback {
                    trusted: 5,
                    offered: 4,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn same_version_timestamp_keeps_the_trusted_one() {
        let mut repo = Repo::new();
        let mut trusted = trusting(&repo, now());
        let first = repo.sign("timestamp", &repo.timestamp);
        assert_eq!(
            trusted.update_timestamp(&first).unwrap(),
            TimestampUpdate::Updated
        );
        // Same version, different content: the repository has not moved on, so nothing
        // it says now may replace what was verified before.
        repo.timestamp
            .meta
            .get_mut("snapshot.json")
            .unwrap()
            .version = 100;
        let changed = repo.sign("timestamp", &repo.timestamp);
        assert_eq!(
            trusted.update_timestamp(&changed).unwrap(),
            TimestampUpdate::Unchanged
        );
        assert_eq!(
            trusted.timestamp().unwrap().signed.snapshot_meta().version,
            1
        );
    }

    #[test]
    fn metadata_of_another_role_is_refused() {
        let repo = Repo::new();
        // The type is checked before any signature, so who signed it does not matter.
        let disguised = repo.sign("snapshot", &repo.snapshot);
        let mut trusted = trusting(&repo, now());
        let err = trusted.update_timestamp(&disguised).unwrap_err();
        assert!(
            matches!(&err, Error::WrongType { expected, found, .. } if expected == "timestamp" && found == "snapshot"),
            "{err}"
        );
    }

    #[test]
    fn snapshot_before_timestamp_is_a_caller_bug() {
        let repo = Repo::new();
        let mut trusted = trusting(&repo, now());
        let snapshot = repo.sign("snapshot", &repo.snapshot);
        assert!(matches!(
            trusted.update_snapshot(&snapshot, false),
            Err(Error::Order(_))
        ));
    }
}
