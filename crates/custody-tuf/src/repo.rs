//! The repository side: a TUF repository written as static files, so any web server, bucket
//! or CDN can serve it.
//!
//! Layout under the repository directory (custody uses `site/tuf/`):
//! - `metadata/N.root.json` for every root version, and `metadata/root.json`, the newest;
//! - `metadata/N.snapshot.json`, `metadata/N.<role>.json` (consistent snapshots: old versions
//!   stay, so a client mid-update never finds a file replaced under it);
//! - `metadata/timestamp.json`, written last and renamed into place, which is what makes a
//!   new repository state visible;
//! - `targets/<dir>/<sha256>.<name>` for each target `<dir>/<name>`.
//!
//! Roles: `targets` delegates each product to a role of its own, trusted for
//! `<product>/*/*` (`<product>/<version>/<file>`). A product created with hash bins
//! delegates in turn, by TAP 15 succinct roles, to `2^bits` bins named `<product>-bin-XX`.
//! Online roles (targets and everything it delegates, snapshot, timestamp) are signed by the
//! keys the root names; the root's own keys stay offline.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use custody_crypto::{Algorithms, PublicKey, Sha256Digest, Signer, digest_file};
use jiff::SignedDuration;
use serde_json::Value;

use crate::error::{Error, Result, io};
use crate::key::Key;
use crate::metadata::{
    DelegatedRole, Delegations, MetaFile, Metadata, Role, Root, Snapshot, SuccinctRoles,
    TOP_LEVEL_ROLES, TargetFile, Targets, Timestamp,
};
use crate::updater::write_atomic;

/// How long each role's signature stays valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expiry {
    /// Root: signed offline, so long-lived.
    pub root: SignedDuration,
    /// Targets and delegated roles.
    pub targets: SignedDuration,
    /// Snapshot.
    pub snapshot: SignedDuration,
    /// Timestamp: short, so a mirror cannot freeze clients for long.
    pub timestamp: SignedDuration,
}

const DAY: i64 = 24 * 3600;

impl Default for Expiry {
    fn default() -> Self {
        Self {
            root: SignedDuration::from_secs(365 * DAY),
            targets: SignedDuration::from_secs(90 * DAY),
            snapshot: SignedDuration::from_secs(7 * DAY),
            timestamp: SignedDuration::from_secs(DAY),
        }
    }
}

impl Expiry {
    fn of(&self, role: &str) -> SignedDuration {
        match role {
            "root" => self.root,
            "snapshot" => self.snapshot,
            "timestamp" => self.timestamp,
            _ => self.targets,
        }
    }
}

/// The online keys: the repository signs with them on every release and refresh.
#[derive(Debug, Clone, Copy)]
pub struct OnlineKeys<'a> {
    /// Signs `targets` and every delegated role.
    pub targets: &'a dyn Signer,
    /// Signs `snapshot`.
    pub snapshot: &'a dyn Signer,
    /// Signs `timestamp`.
    pub timestamp: &'a dyn Signer,
    /// Keys held for products' own delegated roles ([`Repository::delegate_product`]): a
    /// changed role is signed by the key its delegation names, from here or `targets`.
    pub delegated: &'a [std::sync::Arc<dyn Signer>],
}

impl OnlineKeys<'_> {
    fn for_role(&self, role: &str) -> &dyn Signer {
        match role {
            "snapshot" => self.snapshot,
            "timestamp" => self.timestamp,
            _ => self.targets,
        }
    }
}

/// What `status` reports for one role.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RoleStatus {
    /// Role name (`delegated (N roles)` summarises the delegated ones).
    pub role: String,
    /// Current version (highest, for the delegated summary).
    pub version: u64,
    /// When it expires (earliest, for the delegated summary).
    #[serde(with = "jiff::fmt::serde::timestamp::second::required")]
    pub expires: jiff::Timestamp,
    /// Whether it has already expired.
    pub expired: bool,
    /// Keys allowed to sign, and how many must.
    pub keys: usize,
    /// Threshold.
    pub threshold: u64,
}

/// A role whose signature was renewed by [`Repository::refresh`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Renewed {
    /// Role name.
    pub role: String,
    /// New version.
    pub version: u64,
    /// New expiry.
    #[serde(with = "jiff::fmt::serde::timestamp::second::required")]
    pub expires: jiff::Timestamp,
}

/// A change to the root's keys, staged as the next root version.
#[derive(Debug, Clone)]
pub struct KeyChange {
    /// The top-level role whose keys change.
    pub role: String,
    /// Its new keys.
    pub keys: Vec<PublicKey>,
    /// Its new threshold.
    pub threshold: u64,
}

/// A TUF repository on disk, loaded for editing.
#[derive(Debug)]
pub struct Repository {
    dir: PathBuf,
    expiry: Expiry,
    root: Metadata<Root>,
    roles: BTreeMap<String, Metadata<Targets>>,
    snapshot: Metadata<Snapshot>,
    timestamp: Metadata<Timestamp>,
    changed: BTreeSet<String>,
}

fn after(now: jiff::Timestamp, span: SignedDuration) -> Result<jiff::Timestamp> {
    let out_of_range = |source| Error::ExpiryOutOfRange {
        now,
        validity: span,
        source,
    };
    let t = now.checked_add(span).map_err(out_of_range)?;
    // Whole seconds: the metadata format has no fractions.
    jiff::Timestamp::from_second(t.as_second()).map_err(out_of_range)
}

fn keyid(key: &PublicKey) -> Result<String> {
    Ok(Key::from_public_key(key)?.compute_keyid())
}

/// Product names become role names, metadata file names and URL segments; keep them plain.
pub fn validate_product(product: &str) -> Result<()> {
    let ok = !product.is_empty()
        && !product.starts_with('.')
        && product.len() <= 128
        && product
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && !TOP_LEVEL_ROLES.contains(&product);
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidProductName {
            product: product.to_string(),
        })
    }
}

impl Repository {
    /// Create a repository in `dir` (which must not hold one): root version 1 signed by every
    /// key in `root_keys`, which need `threshold` of them for the next root, and empty
    /// targets, snapshot and timestamp.
    pub fn create(
        dir: &Path,
        root_keys: &[&dyn Signer],
        threshold: u64,
        online: OnlineKeys<'_>,
        expiry: Expiry,
        now: jiff::Timestamp,
    ) -> Result<Self> {
        if dir.join("metadata/root.json").exists() {
            return Err(Error::RepositoryExists {
                dir: dir.to_path_buf(),
            });
        }
        if threshold == 0 || threshold as usize > root_keys.len() {
            return Err(Error::ThresholdOutOfRange {
                role: "root".into(),
                threshold,
                keys: root_keys.len(),
            });
        }
        let mut root = Root::new(after(now, expiry.root)?, true);
        let mut set = |role: &str, keys: Vec<&PublicKey>, threshold: u64| -> Result<()> {
            let mut ids = Vec::new();
            for k in keys {
                let key = Key::from_public_key(k)?;
                let id = key.compute_keyid();
                root.keys.insert(id.clone(), key);
                ids.push(id);
            }
            root.roles.insert(
                role.to_string(),
                Role {
                    keyids: ids,
                    threshold,
                },
            );
            Ok(())
        };
        set(
            "root",
            root_keys.iter().map(|s| s.public_key()).collect(),
            threshold,
        )?;
        set("targets", vec![online.targets.public_key()], 1)?;
        set("snapshot", vec![online.snapshot.public_key()], 1)?;
        set("timestamp", vec![online.timestamp.public_key()], 1)?;
        let signers = root_keys
            .iter()
            .map(|s| Ok((keyid(s.public_key())?, *s)))
            .collect::<Result<Vec<(String, &dyn Signer)>>>()?;
        let root = Metadata::sign(root, &borrow(&signers))?;
        let targets = Targets::new(0, now);
        let mut repo = Self {
            dir: dir.to_path_buf(),
            expiry,
            root,
            roles: BTreeMap::from([("targets".to_string(), Metadata::sign(targets, &[])?)]),
            snapshot: Metadata::sign(Snapshot::new(0, now, BTreeMap::new()), &[])?,
            timestamp: Metadata::sign(
                Timestamp::new(
                    0,
                    now,
                    MetaFile {
                        version: 1,
                        length: None,
                        hashes: None,
                    },
                ),
                &[],
            )?,
            changed: BTreeSet::from(["targets".to_string()]),
        };
        repo.write_root()?;
        repo.commit(online, now)?;
        Ok(repo)
    }

    /// Load the repository in `dir` as last published.
    pub fn open(dir: &Path, expiry: Expiry) -> Result<Self> {
        let meta = dir.join("metadata");
        let read = |name: &str| -> Result<Vec<u8>> {
            let path = meta.join(name);
            std::fs::read(&path).map_err(io(&path))
        };
        let root = Metadata::<Root>::from_bytes("root.json", &read("root.json")?)?;
        let timestamp =
            Metadata::<Timestamp>::from_bytes("timestamp.json", &read("timestamp.json")?)?;
        let snapshot_version = timestamp.signed.snapshot_meta().version;
        let name = format!("{snapshot_version}.snapshot.json");
        let snapshot = Metadata::<Snapshot>::from_bytes(&name, &read(&name)?)?;
        let mut roles = BTreeMap::new();
        for (file, pinned) in &snapshot.signed.meta {
            let role = file.strip_suffix(".json").unwrap_or(file);
            let name = format!("{}.{file}", pinned.version);
            roles.insert(
                role.to_string(),
                Metadata::<Targets>::from_bytes(&name, &read(&name)?)?,
            );
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            expiry,
            root,
            roles,
            snapshot,
            timestamp,
            changed: BTreeSet::new(),
        })
    }

    /// The repository directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The current root.
    pub fn root(&self) -> &Metadata<Root> {
        &self.root
    }

    /// A targets role, if the repository has it.
    pub fn role(&self, name: &str) -> Option<&Metadata<Targets>> {
        self.roles.get(name)
    }

    /// Target `name` as published, with the role that lists it.
    pub fn find_target(&self, name: &str) -> Option<(&str, &TargetFile)> {
        self.roles
            .iter()
            .find_map(|(role, md)| Some((role.as_str(), md.signed.targets.get(name)?)))
    }

    /// The current timestamp.
    pub fn timestamp(&self) -> &Metadata<Timestamp> {
        &self.timestamp
    }

    /// The top-level `targets` role, for editing.
    fn top_targets(&mut self) -> Result<&mut Targets> {
        self.roles
            .get_mut("targets")
            .map(|md| &mut md.signed)
            .ok_or_else(|| Error::RoleNotInRepository {
                role: "targets".into(),
            })
    }

    /// The role that holds (or will hold) `target` of `product`, creating the product's
    /// delegation (and its bins, if `bins` bits are given) the first time.
    fn role_for(&mut self, product: &str, target: &str, bins: Option<u32>) -> Result<String> {
        validate_product(product)?;
        let targets_key = self.online_targets_key()?;
        let has_product = self
            .roles
            .get("targets")
            .and_then(|t| t.signed.delegations.as_ref())
            .and_then(|d| d.role(product))
            .is_some();
        // Refused before anything changes: a delegation added first would dangle, and the
        // next commit would publish it.
        if let Some(bits) = bins.filter(|b| !has_product && !(1..=16).contains(b)) {
            return Err(Error::HashBinBitsOutOfRange { bits });
        }
        if !has_product {
            let delegations = self
                .top_targets()?
                .delegations
                .get_or_insert_with(|| Delegations {
                    keys: BTreeMap::new(),
                    roles: Some(Vec::new()),
                    succinct_roles: None,
                });
            delegations
                .keys
                .insert(targets_key.0.clone(), targets_key.1.clone());
            delegations
                .roles
                .get_or_insert_with(Vec::new)
                .push(DelegatedRole {
                    name: product.to_string(),
                    keyids: vec![targets_key.0.clone()],
                    threshold: 1,
                    terminating: true,
                    paths: Some(vec![format!("{product}/*/*")]),
                    path_hash_prefixes: None,
                });
            self.changed.insert("targets".into());
            let mut role = Targets::new(0, jiff::Timestamp::UNIX_EPOCH);
            if let Some(bits) = bins {
                if !(1..=16).contains(&bits) {
                    return Err(Error::HashBinBitsOutOfRange { bits });
                }
                let succinct = SuccinctRoles {
                    keyids: vec![targets_key.0.clone()],
                    threshold: 1,
                    bit_length: bits,
                    name_prefix: format!("{product}-bin"),
                };
                for n in 0..succinct.bins() {
                    let name = succinct.bin_name(n);
                    self.roles.insert(
                        name.clone(),
                        Metadata::sign(Targets::new(0, jiff::Timestamp::UNIX_EPOCH), &[])?,
                    );
                    self.changed.insert(name);
                }
                role.delegations = Some(Delegations {
                    keys: BTreeMap::from([targets_key]),
                    roles: None,
                    succinct_roles: Some(succinct),
                });
            }
            self.roles
                .insert(product.to_string(), Metadata::sign(role, &[])?);
            self.changed.insert(product.to_string());
        }
        let role = self
            .roles
            .get(product)
            .ok_or_else(|| Error::RoleNotInRepository {
                role: product.to_string(),
            })?;
        Ok(
            match role
                .signed
                .delegations
                .as_ref()
                .and_then(|d| d.succinct_roles.as_ref())
            {
                Some(s) => s.role_for_target(target),
                None => product.to_string(),
            },
        )
    }

    fn online_targets_key(&self) -> Result<(String, Key)> {
        let role = self
            .root
            .signed
            .role("targets")
            .ok_or_else(|| Error::MissingTopLevelRole {
                what: "root.json".into(),
                role: "targets".into(),
            })?;
        let id = role.keyids.first().ok_or_else(|| Error::NoKeyForRole {
            role: "targets".into(),
        })?;
        let key = self
            .root
            .signed
            .keys
            .get(id)
            .ok_or_else(|| Error::MissingKey {
                role: "targets".into(),
                keyid: id.clone(),
            })?;
        Ok((id.clone(), key.clone()))
    }

    /// Add the file at `source` as target `<product>/<version>/<name>`, copying it into the
    /// targets directory under its hash-prefixed name. `bins` applies when the product is new.
    pub fn add_target(
        &mut self,
        product: &str,
        version: &str,
        source: &Path,
        custom: Option<Value>,
        bins: Option<u32>,
    ) -> Result<String> {
        let name = source
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| Error::NotAFileName {
                path: source.to_path_buf(),
            })?;
        if version.is_empty() || version.contains('/') || version.starts_with('.') {
            return Err(Error::InvalidVersionSegment {
                version: version.to_string(),
            });
        }
        let target = format!("{product}/{version}/{name}");
        let (file, sha256) = target_file(source, custom)?;
        let role = self.role_for(product, &target, bins)?;
        let md = self
            .roles
            .get_mut(&role)
            .ok_or_else(|| Error::RoleNotInRepository { role: role.clone() })?;
        if let Some(existing) = md.signed.targets.get(&target)
            && existing.hashes != file.hashes
        {
            return Err(Error::TargetImmutable {
                target,
                published: existing.hashes.clone(),
                offered: file.hashes,
            });
        }
        let dest = self
            .dir
            .join("targets")
            .join(product)
            .join(version)
            .join(format!("{}.{name}", sha256.to_hex()));
        link_or_copy(source, &dest)?;
        md.signed.targets.insert(target.clone(), file);
        self.changed.insert(role);
        Ok(target)
    }

    /// Lists the file at `source` as the top-level target `name` (signed by the `targets` role
    /// itself, outside every product's delegation), replacing what it listed before: for files
    /// that change over time, such as the supplier's trust files. `false` (and nothing changed)
    /// when it lists these bytes already. The caller commits.
    pub fn set_top_level_target(&mut self, name: &str, source: &Path) -> Result<bool> {
        if name.is_empty() || name.contains('/') || name.starts_with('.') {
            return Err(Error::NotAFileName {
                path: PathBuf::from(name),
            });
        }
        let (file, sha256) = target_file(source, None)?;
        let top = self
            .roles
            .get_mut("targets")
            .ok_or_else(|| Error::RoleNotInRepository {
                role: "targets".into(),
            })?;
        if top
            .signed
            .targets
            .get(name)
            .is_some_and(|t| t.hashes == file.hashes)
        {
            return Ok(false);
        }
        let dest = self
            .dir
            .join("targets")
            .join(format!("{}.{name}", sha256.to_hex()));
        link_or_copy(source, &dest)?;
        top.signed.targets.insert(name.to_string(), file);
        self.changed.insert("targets".to_string());
        Ok(true)
    }

    /// Sign every changed targets role, then a new snapshot and timestamp, and publish them,
    /// timestamp last.
    pub fn commit(&mut self, online: OnlineKeys<'_>, now: jiff::Timestamp) -> Result<()> {
        self.check_online(online)?;
        let changed = std::mem::take(&mut self.changed);
        // The new versioned files (roles, snapshot) need only be durable before the timestamp
        // names them: written first, then made durable together.
        let mut versioned = Vec::with_capacity(changed.len() + 1);
        for role in &changed {
            let md = self
                .roles
                .get(role)
                .ok_or_else(|| Error::RoleNotInRepository { role: role.clone() })?;
            let mut signed = md.signed.clone();
            signed.version += 1;
            signed.expires = after(now, self.expiry.targets)?;
            let (id, signer) = self.signer_for(role, online)?;
            let md = Metadata::sign(signed, &[(&id, signer)])?;
            versioned.push((
                format!("{}.{role}.json", md.signed.version),
                md.bytes().to_vec(),
            ));
            self.roles.insert(role.clone(), md);
        }
        let meta = self
            .roles
            .iter()
            // Length and hash, not just the version: every delegated role is signed by the same
            // online key, so only the hash stops one role's file standing in for another's.
            .map(|(role, md)| {
                (
                    format!("{role}.json"),
                    MetaFile::pinning(md.signed.version, md.bytes()),
                )
            })
            .collect();
        let snapshot = Snapshot::new(
            self.snapshot.signed.version + 1,
            after(now, self.expiry.snapshot)?,
            meta,
        );
        let signer = online.snapshot;
        let snapshot = Metadata::sign(snapshot, &[(&keyid_in(&self.root, signer)?, signer)])?;
        versioned.push((
            format!("{}.snapshot.json", snapshot.signed.version),
            snapshot.bytes().to_vec(),
        ));
        self.write_together(&versioned)?;
        let timestamp = Timestamp::new(
            self.timestamp.signed.version + 1,
            after(now, self.expiry.timestamp)?,
            MetaFile::pinning(snapshot.signed.version, snapshot.bytes()),
        );
        let signer = online.timestamp;
        let timestamp = Metadata::sign(timestamp, &[(&keyid_in(&self.root, signer)?, signer)])?;
        self.write("timestamp.json", timestamp.bytes())?;
        self.snapshot = snapshot;
        self.timestamp = timestamp;
        Ok(())
    }

    /// The key ids the delegating role names for the targets role `role`: `targets` by the
    /// root, a product by `targets`, a hash bin by its product.
    fn delegated_keyids(&self, role: &str) -> Vec<String> {
        if role == "targets" {
            return self
                .root
                .signed
                .role("targets")
                .map(|r| r.keyids.clone())
                .unwrap_or_default();
        }
        self.roles
            .values()
            .filter_map(|md| md.signed.delegations.as_ref())
            .find_map(|d| {
                if let Some(r) = d.role(role) {
                    return Some(r.keyids.clone());
                }
                d.succinct_roles
                    .as_ref()
                    .filter(|s| (0..s.bins()).any(|n| s.bin_name(n) == role))
                    .map(|s| s.keyids.clone())
            })
            .unwrap_or_default()
    }

    /// The key that signs the targets role `role`, with its id: the online `targets` key, or a
    /// delegated key, whichever the delegation names.
    fn signer_for<'k>(
        &self,
        role: &str,
        online: OnlineKeys<'k>,
    ) -> Result<(String, &'k dyn Signer)> {
        let wanted = self.delegated_keyids(role);
        let candidates = std::iter::once(online.targets)
            .chain(online.delegated.iter().map(|k| k.as_ref() as &dyn Signer));
        for signer in candidates {
            if let Ok(id) = keyid(signer.public_key())
                && wanted.contains(&id)
            {
                return Ok((id, signer));
            }
            // A root written by another tool may declare its own ids for our keys.
            if role == "targets"
                && let Ok(id) = keyid_in(&self.root, signer)
                && wanted.contains(&id)
            {
                return Ok((id, signer));
            }
        }
        Err(Error::NoKeyForDelegatedRole {
            role: role.to_string(),
            keyids: wanted,
        })
    }

    /// Refuse, before anything is signed, to add targets of `product` when `online` holds no key
    /// its roles are delegated to (a product with a key of its own, not given).
    pub fn check_product(&self, product: &str, online: OnlineKeys<'_>) -> Result<()> {
        let Some(role) = self.roles.get(product) else {
            // A new product is delegated to the online targets key.
            return Ok(());
        };
        self.signer_for(product, online)?;
        if let Some(bins) = role
            .signed
            .delegations
            .as_ref()
            .and_then(|d| d.succinct_roles.as_ref())
        {
            self.signer_for(&bins.bin_name(0), online)?;
        }
        Ok(())
    }

    /// Give `product` a targets key of its own: its delegation (created if the product is new,
    /// with `bins` as [`add_target`](Self::add_target) would) names `key` instead of the online
    /// `targets` key, and so do its hash bins, so only the product's key signs its targets from
    /// the next commit on. The commit needs that key among [`OnlineKeys::delegated`].
    pub fn delegate_product(
        &mut self,
        product: &str,
        key: &PublicKey,
        bins: Option<u32>,
    ) -> Result<()> {
        let placeholder = format!("{product}/.delegation/placeholder");
        self.role_for(product, &placeholder, bins)?;
        let tuf_key = Key::from_public_key(key)?;
        let id = tuf_key.compute_keyid();
        let delegations =
            self.top_targets()?
                .delegations
                .as_mut()
                .ok_or_else(|| Error::RoleNotInRepository {
                    role: product.to_string(),
                })?;
        let role = delegations
            .roles
            .as_mut()
            .and_then(|roles| roles.iter_mut().find(|r| r.name == product))
            .ok_or_else(|| Error::RoleNotInRepository {
                role: product.to_string(),
            })?;
        role.keyids = vec![id.clone()];
        delegations.keys.insert(id.clone(), tuf_key.clone());
        // A key no delegation names any longer is dropped, so the list says who signs what.
        let named: BTreeSet<String> = delegations
            .roles
            .iter()
            .flatten()
            .flat_map(|r| r.keyids.iter().cloned())
            .collect();
        delegations.keys.retain(|k, _| named.contains(k));
        self.changed.insert("targets".into());
        self.changed.insert(product.to_string());
        let product_role =
            self.roles
                .get_mut(product)
                .ok_or_else(|| Error::RoleNotInRepository {
                    role: product.to_string(),
                })?;
        if let Some(d) = product_role.signed.delegations.as_mut()
            && let Some(succinct) = d.succinct_roles.as_mut()
        {
            succinct.keyids = vec![id.clone()];
            d.keys = BTreeMap::from([(id, tuf_key)]);
            let names: Vec<String> = (0..succinct.bins()).map(|n| succinct.bin_name(n)).collect();
            self.changed.extend(names);
        }
        Ok(())
    }

    /// Refuse online keys the root does not name, before anything is signed.
    pub fn check_online(&self, online: OnlineKeys<'_>) -> Result<()> {
        for role in ["targets", "snapshot", "timestamp"] {
            let signer = online.for_role(role);
            let listed = keyid_in(&self.root, signer).is_ok_and(|id| {
                self.root
                    .signed
                    .role(role)
                    .is_some_and(|r| r.keyids.contains(&id))
            });
            if !listed {
                return Err(Error::KeyNotInRole {
                    role: role.to_string(),
                    keyid: describe(signer),
                });
            }
        }
        Ok(())
    }

    /// Re-sign whatever expires within half its validity period (everything, with `force`),
    /// so a daily cron keeps clients from ever seeing expired metadata.
    pub fn refresh(
        &mut self,
        online: OnlineKeys<'_>,
        now: jiff::Timestamp,
        force: bool,
    ) -> Result<Vec<Renewed>> {
        let due = |role: &str, expires: jiff::Timestamp| -> bool {
            let half = self.expiry.of(role) / 2;
            force || now.checked_add(half).map(|t| expires <= t).unwrap_or(true)
        };
        let stale: Vec<String> = self
            .roles
            .iter()
            .filter(|(role, md)| due(role, md.signed.expires))
            .map(|(role, _)| role.clone())
            .collect();
        let snapshot_due = due("snapshot", self.snapshot.signed.expires);
        let timestamp_due = due("timestamp", self.timestamp.signed.expires);
        if stale.is_empty() && !snapshot_due && !timestamp_due {
            return Ok(Vec::new());
        }
        self.changed.extend(stale.iter().cloned());
        self.commit(online, now)?;
        let mut renewed: Vec<Renewed> = stale
            .iter()
            .filter_map(|r| self.roles.get(r).map(|md| (r, md)))
            .map(|(r, md)| Renewed {
                role: r.clone(),
                version: md.signed.version,
                expires: md.signed.expires,
            })
            .collect();
        renewed.push(Renewed {
            role: "snapshot".into(),
            version: self.snapshot.signed.version,
            expires: self.snapshot.signed.expires,
        });
        renewed.push(Renewed {
            role: "timestamp".into(),
            version: self.timestamp.signed.version,
            expires: self.timestamp.signed.expires,
        });
        Ok(renewed)
    }

    /// Version, expiry and keys of every top-level role, plus one line summarising the
    /// delegated roles (earliest expiry, highest version).
    pub fn status(&self, now: jiff::Timestamp) -> Vec<RoleStatus> {
        let root = &self.root.signed;
        let line = |role: &str, version: u64, expires: jiff::Timestamp| {
            let (keys, threshold) = root
                .role(role)
                .map_or((0, 0), |r| (r.keyids.len(), r.threshold));
            RoleStatus {
                role: role.to_string(),
                version,
                expires,
                expired: expires <= now,
                keys,
                threshold,
            }
        };
        let mut out = vec![line("root", root.version, root.expires)];
        if let Some(t) = self.roles.get("targets") {
            out.push(line("targets", t.signed.version, t.signed.expires));
        }
        out.push(line(
            "snapshot",
            self.snapshot.signed.version,
            self.snapshot.signed.expires,
        ));
        out.push(line(
            "timestamp",
            self.timestamp.signed.version,
            self.timestamp.signed.expires,
        ));
        let delegated: Vec<&Metadata<Targets>> = self
            .roles
            .iter()
            .filter(|(r, _)| r.as_str() != "targets")
            .map(|(_, md)| md)
            .collect();
        if let Some(earliest) = delegated.iter().map(|md| md.signed.expires).min() {
            out.push(RoleStatus {
                role: format!("delegated ({} roles)", delegated.len()),
                version: delegated
                    .iter()
                    .map(|md| md.signed.version)
                    .max()
                    .unwrap_or_default(),
                expires: earliest,
                expired: earliest <= now,
                keys: 1,
                threshold: 1,
            });
        }
        out
    }

    /// The next root version with `change` applied, unsigned: each root key holder signs it
    /// offline with [`sign_root`], then [`Repository::publish_root`] takes it.
    pub fn stage_root(&self, change: &KeyChange, now: jiff::Timestamp) -> Result<Metadata<Root>> {
        if !TOP_LEVEL_ROLES.contains(&change.role.as_str()) {
            return Err(Error::NotTopLevelRole {
                role: change.role.clone(),
            });
        }
        if change.threshold == 0 || change.threshold as usize > change.keys.len() {
            return Err(Error::ThresholdOutOfRange {
                role: change.role.clone(),
                threshold: change.threshold,
                keys: change.keys.len(),
            });
        }
        let mut root = self.root.signed.clone();
        root.version += 1;
        root.expires = after(now, self.expiry.root)?;
        let mut ids = Vec::new();
        for k in &change.keys {
            let key = Key::from_public_key(k)?;
            let id = key.compute_keyid();
            root.keys.insert(id.clone(), key);
            ids.push(id);
        }
        root.roles.insert(
            change.role.clone(),
            Role {
                keyids: ids,
                threshold: change.threshold,
            },
        );
        // The current root keys stay listed for this one version even if replaced: they must
        // sign it (the old threshold), and holders find their key id in the file they sign.
        let current_root = self.root.signed.role("root").map(|r| r.keyids.clone());
        let used: BTreeSet<&String> = root
            .roles
            .values()
            .flat_map(|r| &r.keyids)
            .chain(current_root.iter().flatten())
            .collect();
        root.keys.retain(|id, _| used.contains(id));
        Metadata::sign(root, &[])
    }

    /// Publish a new root once the threshold of the current root and of the new root have
    /// both signed it. Roles whose keys changed are re-signed with `online` straight away, so
    /// the old keys' signatures stop being accepted.
    pub fn publish_root(
        &mut self,
        new: &Metadata<Root>,
        online: OnlineKeys<'_>,
        now: jiff::Timestamp,
    ) -> Result<()> {
        let old = &self.root.signed;
        if new.signed.version != old.version + 1 {
            // §5.3.5: clients accept exactly N+1, so no other version could ever be trusted.
            return Err(Error::RootVersion {
                file: "staged root".into(),
                expected: old.version + 1,
                found: new.signed.version,
            });
        }
        let old_root = old.role("root").ok_or_else(|| Error::MissingTopLevelRole {
            what: "current root".into(),
            role: "root".into(),
        })?;
        new.verify_role("root (current threshold)", &old.keys, old_root)?;
        let new_root = new
            .signed
            .role("root")
            .ok_or_else(|| Error::MissingTopLevelRole {
                what: "staged root".into(),
                role: "root".into(),
            })?;
        new.verify_role("root (new threshold)", &new.signed.keys, new_root)?;
        let rotated: Vec<&str> = ["targets", "snapshot", "timestamp"]
            .into_iter()
            .filter(|r| old.role(r) != new.signed.role(r))
            .collect();
        self.root = new.clone();
        self.check_online(online)?;
        self.write_root()?;
        if rotated.contains(&"targets") {
            let key = self.online_targets_key()?;
            for md in self.roles.values_mut() {
                if let Some(d) = md.signed.delegations.as_mut() {
                    d.keys = BTreeMap::from([key.clone()]);
                    for r in d.roles.iter_mut().flatten() {
                        r.keyids = vec![key.0.clone()];
                    }
                    if let Some(s) = d.succinct_roles.as_mut() {
                        s.keyids = vec![key.0.clone()];
                    }
                }
            }
            self.changed.extend(self.roles.keys().cloned());
        }
        self.commit(online, now)
    }

    fn write_root(&self) -> Result<()> {
        let bytes = self.root.bytes();
        self.write(&format!("{}.root.json", self.root.signed.version), bytes)?;
        self.write("root.json", bytes)
    }

    fn write(&self, name: &str, bytes: &[u8]) -> Result<()> {
        write_atomic(&self.dir.join("metadata").join(name), bytes)
    }

    /// Writes `files` (name, content) into the metadata directory, each replaced atomically,
    /// and returns once all are durable: their fsyncs overlap, and the directory is synced
    /// once. For files no published metadata names yet.
    fn write_together(&self, files: &[(String, Vec<u8>)]) -> Result<()> {
        let dir = self.dir.join("metadata");
        let files: Vec<(&str, &[u8])> = files
            .iter()
            .map(|(name, bytes)| (name.as_str(), bytes.as_slice()))
            .collect();
        custody_crypto::fs::replace_files(&dir, &files).map_err(|(path, e)| io(&path)(e))
    }
}

/// Add `signer`'s signature to a staged root, under the key id the root lists for its key.
pub fn sign_root(root: &mut Metadata<Root>, signer: &dyn Signer) -> Result<()> {
    let id = keyid_in(root, signer)?;
    root.add_signatures(&[(&id, signer)])
}

fn keyid_in(root: &Metadata<Root>, signer: &dyn Signer) -> Result<String> {
    keyid_in_keys(&root.signed.keys, signer)
}

/// The declared id of `signer`'s key: roots written by other tools need not use our id.
fn keyid_in_keys(keys: &BTreeMap<String, Key>, signer: &dyn Signer) -> Result<String> {
    let mine = Key::from_public_key(signer.public_key())?;
    keys.iter()
        .find(|(_, k)| {
            k.keytype == mine.keytype && k.keyval.public.trim() == mine.keyval.public.trim()
        })
        .or_else(|| {
            keys.iter()
                .find(|(id, k)| k.public_key(id).ok().as_ref() == Some(signer.public_key()))
        })
        .map(|(id, _)| id.clone())
        .ok_or_else(|| Error::KeyNotInRoot {
            keyid: mine.compute_keyid(),
        })
}

/// How to name a key the root may not list: the id custody would give it, or its hint when
/// TUF has no scheme for it.
fn describe(signer: &dyn Signer) -> String {
    keyid(signer.public_key()).unwrap_or_else(|_| signer.public_key().hint().to_string())
}

fn borrow<'a>(signers: &'a [(String, &'a dyn Signer)]) -> Vec<(&'a str, &'a dyn Signer)> {
    signers.iter().map(|(id, s)| (id.as_str(), *s)).collect()
}

/// Hard-link when the target directory shares a file system with the release (no second
/// copy of a large artifact); copy otherwise.
/// The target entry of the file at `source` (length, SHA-256 and SHA-512), and its SHA-256
/// for the hash-prefixed name it is published under.
fn target_file(source: &Path, custom: Option<Value>) -> Result<(TargetFile, Sha256Digest)> {
    let digests = digest_file(source, Algorithms::Both).map_err(|e| Error::Digest {
        path: source.to_path_buf(),
        source: e,
    })?;
    let (Some(sha256), Some(sha512)) = (digests.sha256, digests.sha512) else {
        return Err(Error::DigestMissing {
            path: source.to_path_buf(),
        });
    };
    let file = TargetFile {
        length: digests.size,
        hashes: BTreeMap::from([
            ("sha256".to_string(), sha256.to_hex()),
            ("sha512".to_string(), sha512.to_hex()),
        ]),
        custom,
    };
    Ok((file, sha256))
}

fn link_or_copy(source: &Path, dest: &Path) -> Result<()> {
    if dest.exists() {
        return Ok(());
    }
    let dir = dest.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    if std::fs::hard_link(source, dest).is_ok() {
        return Ok(());
    }
    let tmp = dest.with_extension("partial");
    std::fs::copy(source, &tmp).map_err(io(dest))?;
    std::fs::rename(&tmp, dest).map_err(io(dest))
}
