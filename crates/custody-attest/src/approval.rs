//! M-of-N release approval: each approver signs the release's manifest (the `manifest.json`
//! bundle, byte for byte) as an in-toto Statement with predicate [`APPROVAL_PREDICATE`], and a
//! release verifies only when the policy's threshold of distinct approvers did.
//!
//! A release keeps its approvals in one file, `approvals.json` ([`Approvals`]), beside its
//! manifest, so that a TUF client fetches them as one target.

use custody_crypto::{Digests, Sha256Digest, Sha512Digest, Signer};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::bundle::{self, IN_TOTO_PAYLOAD_TYPE};
use crate::statement;
use crate::tlog::TrustedLog;
use crate::trust::ApprovalRule;

/// The in-toto predicate type of an approval.
pub const APPROVAL_PREDICATE: &str = "https://custody.dev/approval/v1";

/// Media type of `approvals.json`.
pub const APPROVALS_MEDIA_TYPE: &str = "application/vnd.custody.approvals+json;version=1";

/// The file a release keeps its approvals in.
pub const APPROVALS_FILE: &str = "approvals.json";

/// A release's approvals are a few signatures; this bounds what a hostile file can make us
/// allocate.
pub const MAX_APPROVALS_BYTES: usize = 1 << 20;

/// The subject name of the manifest in an approval's Statement.
const MANIFEST_SUBJECT: &str = "manifest.json";

/// What an approver signs: this product's release of this version, at this time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    /// The product.
    pub product: String,
    /// The version.
    pub version: String,
    /// When the approver signed.
    pub at: Timestamp,
}

/// `approvals.json`: the approvals' Sigstore bundles, in the order they were given.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Approvals {
    /// [`APPROVALS_MEDIA_TYPE`].
    pub media_type: String,
    /// One Sigstore bundle (v0.3, DSSE) per approval.
    pub approvals: Vec<serde_json::Value>,
}

impl Default for Approvals {
    fn default() -> Self {
        Self {
            media_type: APPROVALS_MEDIA_TYPE.to_owned(),
            approvals: Vec::new(),
        }
    }
}

impl Approvals {
    /// Parse `approvals.json`, bounded in size; the bundles inside are judged by [`tally`].
    pub fn from_json(json: &[u8]) -> Result<Self, Error> {
        if json.len() > MAX_APPROVALS_BYTES {
            return Err(Error::TooLarge {
                what: "approvals",
                size: json.len(),
                limit: MAX_APPROVALS_BYTES,
            });
        }
        let parsed: Self = serde_json::from_slice(json).map_err(Error::json("approvals"))?;
        if parsed.media_type != APPROVALS_MEDIA_TYPE {
            return Err(Error::UnknownMediaType {
                what: "approvals",
                found: parsed.media_type,
                expected: APPROVALS_MEDIA_TYPE,
            });
        }
        Ok(parsed)
    }

    /// Pretty JSON for publishing.
    pub fn to_json(&self) -> Result<String, Error> {
        serde_json::to_string_pretty(self).map_err(Error::json("approvals"))
    }

    /// Add one approval bundle.
    pub fn push(&mut self, approval: &sigstore_types::Bundle) -> Result<(), Error> {
        let value =
            serde_json::from_str(&bundle::to_json(approval)?).map_err(Error::json("bundle"))?;
        self.approvals.push(value);
        Ok(())
    }
}

fn manifest_digests(manifest: &[u8]) -> Digests {
    Digests {
        size: manifest.len() as u64,
        sha256: Some(Sha256Digest::of(manifest)),
        sha512: Some(Sha512Digest::of(manifest)),
    }
}

/// Sign an approval of the release whose manifest bundle is `manifest`.
pub fn sign(
    signer: &dyn Signer,
    manifest: &[u8],
    approval: &Approval,
) -> Result<sigstore_types::Bundle, Error> {
    let payload = statement::to_json(
        vec![statement::subject(
            MANIFEST_SUBJECT,
            &manifest_digests(manifest),
        )],
        APPROVAL_PREDICATE,
        approval,
    )?;
    bundle::sign(signer, IN_TOTO_PAYLOAD_TYPE, &payload)
}

/// How the approvals of one release count under a rule.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    /// The approvers whose signature holds, each once, in the order given.
    pub approved: Vec<String>,
    /// The signatures that do not count, each with why.
    pub ignored: Vec<String>,
}

/// Where an approval must be recorded to count.
#[derive(Debug, Clone, Copy)]
pub enum Logged<'a> {
    /// Not yet: a held release's approvals, before publishing logs them.
    NotRequired,
    /// In one of these logs (a customer's trusted root): each approval carries its entry,
    /// inclusion proof and signed checkpoint, so no approver can sign unseen. An empty list
    /// (a trusted root without logs) asks nothing.
    In(&'a [TrustedLog]),
}

/// Count the distinct approvers of `rule` who signed this release's `manifest` for `product`
/// `version`, with keys valid at `now`, each approval recorded as `logged` asks. A signature
/// by a key the rule does not name, over another manifest or release, that does not verify,
/// or that is not logged, does not count, and neither does an approver's second signature.
pub fn tally(
    rule: &ApprovalRule,
    manifest: &[u8],
    approvals: &Approvals,
    (product, version): (&str, &str),
    logged: Logged<'_>,
    now: Timestamp,
) -> Tally {
    let digests = manifest_digests(manifest);
    let mut tally = Tally::default();
    for (i, value) in approvals.approvals.iter().enumerate() {
        let judged = (|| -> Result<String, String> {
            let bytes = serde_json::to_vec(value).map_err(|e| format!("approval {i}: {e}"))?;
            let signed = bundle::parse(&bytes).map_err(|e| format!("approval {i}: {e}"))?;
            let hint = signed.hint.to_string();
            let approver = rule
                .approvers
                .iter()
                .find(|a| a.hint == hint)
                .ok_or_else(|| format!("{hint} is not an approver of {}", rule.product))?;
            if !approver.valid_for.contains(now) {
                return Err(format!("approver {hint}'s key is not valid at {now}"));
            }
            let key = approver
                .key()
                .ok_or_else(|| format!("approver {hint}'s key was not loaded"))?;
            bundle::verify_envelope(&signed.envelope, key).map_err(|e| format!("{hint}: {e}"))?;
            if signed.envelope.payload_type != IN_TOTO_PAYLOAD_TYPE {
                return Err(format!("{hint}: payload type is not in-toto"));
            }
            let (stmt, signed_approval): (_, Approval) =
                statement::parse(signed.envelope.payload.as_bytes(), APPROVAL_PREDICATE)
                    .map_err(|e| format!("{hint}: {e}"))?;
            statement::find_subject(&stmt, &digests)
                .map_err(|_| format!("{hint} approved another manifest"))?;
            if signed_approval.product != product || signed_approval.version != version {
                return Err(format!(
                    "{hint} approved {} {}, not {product} {version}",
                    signed_approval.product, signed_approval.version
                ));
            }
            if let Logged::In(logs) = logged
                && !logs.is_empty()
            {
                let entry = signed
                    .tlog_entries
                    .first()
                    .ok_or_else(|| format!("{hint}'s approval is not logged"))?;
                crate::tlog::verify_entry(entry, &signed.envelope, key, logs, now)
                    .map_err(|e| format!("{hint}'s approval: {e}"))?;
            }
            if tally.approved.contains(&hint) {
                return Err(format!("{hint} approved twice; counted once"));
            }
            Ok(hint)
        })();
        match judged {
            Ok(hint) => tally.approved.push(hint),
            Err(why) => tally.ignored.push(why),
        }
    }
    tally
}

/// [`tally`], failing with [`Error::ApprovalsBelowThreshold`] when fewer than the rule's
/// threshold of approvers count.
pub fn check(
    rule: &ApprovalRule,
    manifest: &[u8],
    approvals: &Approvals,
    (product, version): (&str, &str),
    logged: Logged<'_>,
    now: Timestamp,
) -> Result<Tally, Error> {
    let tally = tally(rule, manifest, approvals, (product, version), logged, now);
    if tally.approved.len() < rule.threshold {
        return Err(Error::ApprovalsBelowThreshold(Box::new(
            crate::ShortOfApprovals {
                product: product.to_owned(),
                version: version.to_owned(),
                threshold: rule.threshold,
                approvers: rule.approvers.len(),
                approved: tally.approved,
                ignored: tally.ignored,
            },
        )));
    }
    Ok(tally)
}

#[cfg(test)]
mod tests {
    use custody_crypto::{KeyAlgorithm, SigningKey};

    use super::*;
    use crate::trust::{LogPosition, PolicyKey, TimeRange};

    fn key() -> SigningKey {
        SigningKey::generate(KeyAlgorithm::Ed25519).unwrap_or_else(|e| panic!("{e}"))
    }

    fn rule(threshold: usize, approvers: &[&SigningKey]) -> ApprovalRule {
        let window = TimeRange {
            start: Timestamp::UNIX_EPOCH,
            end: None,
        };
        ApprovalRule {
            product: "app".to_owned(),
            threshold,
            approvers: approvers
                .iter()
                .map(|k| PolicyKey::new(k.public_key(), window))
                .collect(),
            required_from: LogPosition {
                at: Timestamp::UNIX_EPOCH,
                log: "log".to_owned(),
                size: 0,
            },
        }
    }

    fn approve(by: &SigningKey, manifest: &[u8], version: &str) -> sigstore_types::Bundle {
        sign(
            by,
            manifest,
            &Approval {
                product: "app".to_owned(),
                version: version.to_owned(),
                at: Timestamp::UNIX_EPOCH,
            },
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    fn approvals(bundles: &[sigstore_types::Bundle]) -> Approvals {
        let mut out = Approvals::default();
        for b in bundles {
            out.push(b).unwrap_or_else(|e| panic!("{e}"));
        }
        // Through the file format, as a verifier reads it.
        Approvals::from_json(out.to_json().unwrap_or_default().as_bytes())
            .unwrap_or_else(|e| panic!("{e}"))
    }

    const MANIFEST: &[u8] = b"{\"the\":\"manifest bundle\"}";

    #[test]
    fn threshold_of_distinct_approvers_is_met_and_nothing_else_counts() {
        let (alice, bob, carol, mallory) = (key(), key(), key(), key());
        let rule = rule(2, &[&alice, &bob, &carol]);
        let now = Timestamp::now();
        let check = |bundles: &[sigstore_types::Bundle]| {
            check(
                &rule,
                MANIFEST,
                &approvals(bundles),
                ("app", "1.0.0"),
                Logged::NotRequired,
                now,
            )
        };

        let two = check(&[
            approve(&alice, MANIFEST, "1.0.0"),
            approve(&carol, MANIFEST, "1.0.0"),
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(two.approved.len(), 2);
        assert!(two.ignored.is_empty());

        // M-1 approvals.
        let one = check(&[approve(&alice, MANIFEST, "1.0.0")]);
        assert!(
            matches!(&one, Err(Error::ApprovalsBelowThreshold(s)) if s.approved.len() == 1 && s.threshold == 2),
            "{one:?}"
        );
        // The same approver twice counts once.
        let twice = check(&[
            approve(&alice, MANIFEST, "1.0.0"),
            approve(&alice, MANIFEST, "1.0.0"),
        ]);
        let Err(Error::ApprovalsBelowThreshold(short)) = &twice else {
            panic!("{twice:?}");
        };
        assert!(short.ignored[0].contains("twice"), "{short:?}");
        // A key that is not an approver.
        let outsider = check(&[
            approve(&alice, MANIFEST, "1.0.0"),
            approve(&mallory, MANIFEST, "1.0.0"),
        ]);
        let Err(Error::ApprovalsBelowThreshold(short)) = &outsider else {
            panic!("{outsider:?}");
        };
        assert!(short.ignored[0].contains("not an approver"), "{short:?}");
        // An approval of another manifest, or of another version, is not this one's.
        let other = check(&[
            approve(&alice, MANIFEST, "1.0.0"),
            approve(&bob, b"other", "1.0.0"),
        ]);
        assert!(other.is_err(), "{other:?}");
        let version = check(&[
            approve(&alice, MANIFEST, "1.0.0"),
            approve(&bob, MANIFEST, "0.9.0"),
        ]);
        assert!(version.is_err(), "{version:?}");
    }

    #[test]
    fn a_forged_approval_does_not_count() {
        let (alice, bob) = (key(), key());
        let rule = rule(1, &[&alice, &bob]);
        let mut forged = approvals(&[approve(&alice, MANIFEST, "1.0.0")]);
        // Bob's hint on Alice's signature.
        let bob_hint = bob.public_key().hint().to_string();
        let alice_hint = alice.public_key().hint().to_string();
        let text = serde_json::to_string(&forged.approvals[0])
            .unwrap_or_default()
            .replace(&alice_hint, &bob_hint);
        forged.approvals[0] = serde_json::from_str(&text).unwrap_or_default();
        let got = check(
            &rule,
            MANIFEST,
            &forged,
            ("app", "1.0.0"),
            Logged::NotRequired,
            Timestamp::now(),
        );
        assert!(
            matches!(got, Err(Error::ApprovalsBelowThreshold { .. })),
            "{got:?}"
        );
    }

    #[test]
    fn approvals_file_is_bounded_and_typed() {
        let big = vec![b' '; MAX_APPROVALS_BYTES + 1];
        assert!(matches!(
            Approvals::from_json(&big),
            Err(Error::TooLarge { .. })
        ));
        let wrong = br#"{"mediaType":"text/plain","approvals":[]}"#;
        assert!(matches!(
            Approvals::from_json(wrong),
            Err(Error::UnknownMediaType { .. })
        ));
        assert!(matches!(
            Approvals::from_json(b"[1"),
            Err(Error::Json { .. })
        ));
    }
}
