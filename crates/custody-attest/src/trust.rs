//! The two files a customer trusts: Sigstore's `trusted_root.json` and `custody-policy.json`.
//!
//! `trusted_root.json` is Sigstore's `TrustedRoot` (mediaType
//! `application/vnd.dev.sigstore.trustedroot+json;version=0.1`): transparency log keys, timestamp
//! authorities, CAs. `custody-policy.json` says who may sign what: the supplier's keys with their
//! validity windows and products, the builder id, the source repository.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use custody_crypto::{KeyAlgorithm, KeyHint, PublicKey};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::Error;

/// Media type of Sigstore's trusted root.
pub const TRUSTED_ROOT_MEDIA_TYPE: &str =
    "application/vnd.dev.sigstore.trustedroot+json;version=0.1";

/// Media type of custody's policy file.
pub const POLICY_MEDIA_TYPE: &str = "application/vnd.custody.policy+json;version=1";

/// Trust files are small; this bounds what a hostile one can make us allocate.
pub const MAX_TRUST_FILE_BYTES: usize = 4 << 20;

/// A validity window, as Sigstore's `TimeRange`: `end` absent means open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeRange {
    /// Inclusive start.
    pub start: Timestamp,
    /// Inclusive end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<Timestamp>,
}

impl TimeRange {
    /// Whether `at` falls inside the window.
    pub fn contains(&self, at: Timestamp) -> bool {
        self.start <= at && self.end.is_none_or(|end| at <= end)
    }
}

/// Sigstore `TrustedRoot`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrustedRoot {
    /// [`TRUSTED_ROOT_MEDIA_TYPE`].
    pub media_type: String,
    /// Transparency logs whose checkpoints we accept.
    #[serde(default)]
    pub tlogs: Vec<TransparencyLogInstance>,
    /// Certificate authorities (custody signs with keys, so normally empty).
    #[serde(default)]
    pub certificate_authorities: Vec<serde_json::Value>,
    /// Certificate transparency logs (normally empty).
    #[serde(default)]
    pub ctlogs: Vec<TransparencyLogInstance>,
    /// RFC 3161 timestamp authorities.
    #[serde(default)]
    pub timestamp_authorities: Vec<serde_json::Value>,
}

/// Sigstore `TransparencyLogInstance`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransparencyLogInstance {
    /// Where the log is served.
    pub base_url: String,
    /// Always `SHA2_256` for RFC 6962 trees.
    pub hash_algorithm: String,
    /// The log's key.
    pub public_key: TrustedPublicKey,
    /// The log id.
    pub log_id: LogId,
}

/// Sigstore `PublicKey` in a trusted root.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrustedPublicKey {
    /// base64 SPKI DER.
    pub raw_bytes: String,
    /// `PKIX_ED25519`, `PKIX_ECDSA_P256_SHA_256`, ...
    pub key_details: String,
    /// When the key may be used.
    pub valid_for: TimeRange,
}

/// Sigstore `LogId`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogId {
    /// base64 key id.
    pub key_id: String,
}

impl TrustedRoot {
    /// Pretty JSON for publishing.
    pub fn to_json(&self) -> Result<String, Error> {
        serde_json::to_string_pretty(self).map_err(Error::json("trusted root"))
    }

    /// A trusted root with no logs or authorities yet.
    pub fn empty() -> Self {
        Self {
            media_type: TRUSTED_ROOT_MEDIA_TYPE.to_owned(),
            tlogs: Vec::new(),
            certificate_authorities: Vec::new(),
            ctlogs: Vec::new(),
            timestamp_authorities: Vec::new(),
        }
    }

    /// Parse and check a `trusted_root.json`.
    pub fn from_json(json: &[u8]) -> Result<Self, Error> {
        check_size("trusted root", json)?;
        let root: Self = serde_json::from_slice(json).map_err(Error::json("trusted root"))?;
        if root.media_type != TRUSTED_ROOT_MEDIA_TYPE {
            return Err(Error::UnknownMediaType {
                what: "trusted root",
                found: root.media_type,
                expected: TRUSTED_ROOT_MEDIA_TYPE,
            });
        }
        for log in &root.tlogs {
            let der =
                B64.decode(&log.public_key.raw_bytes)
                    .map_err(|_| Error::InvalidDocument {
                        what: "trusted root",
                        rule: "a tlog publicKey.rawBytes is not base64",
                    })?;
            PublicKey::from_spki_der(&der).map_err(|source| Error::BadKey {
                what: "trusted root",
                hint: log.log_id.key_id.clone(),
                source,
            })?;
        }
        Ok(root)
    }
}

/// `custody-policy.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Policy {
    /// [`POLICY_MEDIA_TYPE`].
    pub media_type: String,
    /// Keys allowed to sign releases.
    pub keys: Vec<PolicyKey>,
    /// The builder whose provenance we accept.
    pub builder: BuilderPolicy,
    /// The source repository releases must come from.
    pub source: SourcePolicy,
    /// Witnesses that must have cosigned the checkpoint a bundle's log entry is proved against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub witnesses: Option<WitnessesPolicy>,
    /// Products whose releases need M-of-N approval.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approvals: Vec<ApprovalRule>,
    /// Transparency-log keys replaced by others: what each signed before still counts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub log_key_rotations: Vec<LogKeyRotation>,
}

/// A transparency log's key, replaced: checkpoints it signed still prove entries below the
/// log's size at the rotation (checkpoints carry no time, so the log's size dates them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogKeyRotation {
    /// The replaced key's log id, as the trusted root's `logId.keyId` (base64).
    pub key_id: String,
    /// When, in which log, at what size.
    #[serde(flatten)]
    pub position: LogPosition,
}

/// At least `threshold` of the witnesses named by `keys` must have cosigned a bundle's
/// checkpoint (c2sp.org/tlog-cosignature); cosignatures by other keys are ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WitnessesPolicy {
    /// How many of the witnesses must have cosigned; at least 1.
    pub threshold: usize,
    /// The witnesses' verifier keys (`name+keyid+base64`, type cosignature/v1).
    pub keys: Vec<String>,
    /// Parsed once at load.
    #[serde(skip)]
    parsed: Vec<custody_tlog::NoteVerifier>,
}

impl WitnessesPolicy {
    /// A policy requiring `threshold` of the witnesses with verifier keys `keys`.
    pub fn new(threshold: usize, keys: &[custody_tlog::NoteVerifier]) -> Self {
        Self {
            threshold,
            keys: keys.iter().map(|k| k.to_vkey_string()).collect(),
            parsed: keys.to_vec(),
        }
    }

    fn load(&mut self) -> Result<(), Error> {
        let bad = |rule| Error::InvalidDocument {
            what: "policy witnesses",
            rule,
        };
        if self.threshold == 0 {
            return Err(bad("threshold must be at least 1"));
        }
        if self.threshold > self.keys.len() {
            return Err(bad("threshold is more than the witnesses named"));
        }
        let mut parsed: Vec<custody_tlog::NoteVerifier> = Vec::with_capacity(self.keys.len());
        for k in &self.keys {
            let v = custody_tlog::NoteVerifier::parse(k)
                .map_err(|_| bad("a witness key is not a signed-note verifier key"))?;
            if v.signature_type() != custody_tlog::SignatureType::CosignatureV1 {
                return Err(bad("a witness key is not a cosignature/v1 key"));
            }
            // Two entries for one witness would let one cosignature count twice.
            if parsed
                .iter()
                .any(|p| p.name() == v.name() && p.key_id() == v.key_id())
            {
                return Err(bad("a witness is named twice"));
            }
            parsed.push(v);
        }
        self.parsed = parsed;
        Ok(())
    }

    /// The tlog-side policy over the parsed keys.
    pub fn to_tlog(&self) -> custody_tlog::WitnessPolicy {
        custody_tlog::WitnessPolicy {
            witnesses: self.parsed.clone(),
            threshold: self.threshold,
        }
    }
}

/// One trusted signing key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyKey {
    /// base64(SHA-256(SPKI DER)), as in bundles' `publicKey.hint`.
    pub hint: String,
    /// `PKIX_ED25519` or `PKIX_ECDSA_P256_SHA_256`.
    pub key_details: String,
    /// SPKI PEM.
    pub public_key: String,
    /// When signatures by this key are accepted.
    pub valid_for: TimeRange,
    /// Products this key may sign; absent means all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub products: Option<Vec<String>>,
    /// The key was revoked: its signatures count only where the log proves them older.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked: Option<Revocation>,
    /// The key was replaced by another: its signatures count where the log held them before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotated: Option<LogPosition>,
    /// Parsed once at load.
    #[serde(skip)]
    parsed: Option<PublicKey>,
}

/// A key's revocation: from `since` on, a signature by it counts only when a witness's
/// cosignature on the log's checkpoint proves the signature was logged before `since`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    /// From when the key is not to be trusted (it may have been stolen at this time).
    pub since: Timestamp,
    /// Why, as the supplier tells its customers.
    pub reason: String,
}

/// A moment in a log's history: at `at`, the log `log` held `size` entries. A key's rotation
/// is one (its signatures still verify where their entry's index is below `size`: the
/// append-only log, not the signer, shows they were made before), and so is the start of an
/// approval rule (releases logged from `size` on need approvals).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogPosition {
    /// When.
    pub at: Timestamp,
    /// The log's origin.
    pub log: String,
    /// The log's size then: entries below it were logged before.
    pub size: u64,
}

impl LogPosition {
    /// Whether the entry `index` of the log `origin` was logged before this moment. An entry
    /// of another log cannot be placed, and is not.
    pub fn precedes(&self, origin: &str, index: u64) -> bool {
        origin == self.log && index < self.size
    }
}

/// M-of-N approval of `product`'s releases: from `required_from` on, a release verifies only
/// when `threshold` of the `approvers` have each signed its manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalRule {
    /// The product.
    pub product: String,
    /// How many distinct approvers must sign; at least 1, at most the approvers named.
    pub threshold: usize,
    /// The approvers' keys.
    pub approvers: Vec<PolicyKey>,
    /// Releases logged from here on need the approvals; those logged before do not.
    pub required_from: LogPosition,
}

/// Expected builder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BuilderPolicy {
    /// Exact builder id.
    pub id: String,
}

/// Expected source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourcePolicy {
    /// Exact repository URL.
    pub repository: String,
}

impl PolicyKey {
    /// A policy entry for `key`, valid over `valid_for`.
    pub fn new(key: &PublicKey, valid_for: TimeRange) -> Self {
        Self {
            hint: key.hint().to_string(),
            key_details: key.algorithm().sigstore_key_details().to_owned(),
            public_key: key.to_pem(),
            valid_for,
            products: None,
            revoked: None,
            rotated: None,
            parsed: Some(key.clone()),
        }
    }

    /// Parse the key and check it against its declared algorithm, hint and window.
    fn load(&mut self) -> Result<(), Error> {
        let bad = |source| Error::BadKey {
            what: "policy",
            hint: self.hint.clone(),
            source,
        };
        let key = PublicKey::from_pem(&self.public_key).map_err(bad)?;
        let declared = KeyAlgorithm::parse(&self.key_details).map_err(bad)?;
        if declared != key.algorithm() || key.hint().as_str() != self.hint {
            return Err(Error::InvalidDocument {
                what: "policy",
                rule: "a key's hint or keyDetails does not match its publicKey",
            });
        }
        if self
            .valid_for
            .end
            .is_some_and(|end| end < self.valid_for.start)
        {
            return Err(Error::InvalidDocument {
                what: "policy",
                rule: "a key's validFor ends before it starts",
            });
        }
        self.parsed = Some(key);
        Ok(())
    }

    /// The parsed key (always present on a policy from [`Policy::from_json`] or [`Self::new`]).
    pub fn key(&self) -> Option<&PublicKey> {
        self.parsed.as_ref()
    }
}

impl Policy {
    /// Parse and check a `custody-policy.json`: every key must parse, match its declared
    /// algorithm, and hash to its declared hint.
    pub fn from_json(json: &[u8]) -> Result<Self, Error> {
        check_size("policy", json)?;
        let mut policy: Self = serde_json::from_slice(json).map_err(Error::json("policy"))?;
        if policy.media_type != POLICY_MEDIA_TYPE {
            return Err(Error::UnknownMediaType {
                what: "policy",
                found: policy.media_type,
                expected: POLICY_MEDIA_TYPE,
            });
        }
        if policy.keys.is_empty() {
            return Err(Error::InvalidDocument {
                what: "policy",
                rule: "it trusts no keys",
            });
        }
        for entry in &mut policy.keys {
            entry.load()?;
        }
        let mut products = std::collections::BTreeSet::new();
        for rule in &mut policy.approvals {
            for entry in &mut rule.approvers {
                entry.load()?;
            }
            let mut hints: Vec<&str> = rule.approvers.iter().map(|a| a.hint.as_str()).collect();
            hints.sort_unstable();
            hints.dedup();
            let broken = if rule.threshold == 0 || rule.threshold > rule.approvers.len() {
                Some("an approval threshold is 0 or above the number of approvers")
            } else if hints.len() != rule.approvers.len() {
                Some("an approver is named twice")
            } else if !products.insert(rule.product.as_str()) {
                Some("a product has two approval rules")
            } else {
                None
            };
            if let Some(rule) = broken {
                return Err(Error::InvalidDocument {
                    what: "policy",
                    rule,
                });
            }
        }
        if let Some(w) = &mut policy.witnesses {
            w.load()?;
        }
        Ok(policy)
    }

    /// Pretty JSON for publishing.
    pub fn to_json(&self) -> Result<String, Error> {
        serde_json::to_string_pretty(self).map_err(Error::json("policy"))
    }

    /// The approval rule for `product`, if its releases need approvals.
    pub fn approval_rule(&self, product: &str) -> Option<&ApprovalRule> {
        self.approvals.iter().find(|r| r.product == product)
    }

    /// The rotation of the key with `hint`, if the policy records one.
    pub fn rotation(&self, hint: &KeyHint) -> Option<&LogPosition> {
        self.keys
            .iter()
            .find(|k| k.hint == hint.as_str())
            .and_then(|k| k.rotated.as_ref())
    }

    /// The revocation of the key with `hint`, if the policy records one.
    pub fn revocation(&self, hint: &KeyHint) -> Option<&Revocation> {
        self.keys
            .iter()
            .find(|k| k.hint == hint.as_str())
            .and_then(|k| k.revoked.as_ref())
    }

    /// The key with `hint`, if it may sign `product` at `at`.
    pub fn key_for(
        &self,
        hint: &KeyHint,
        at: Timestamp,
        product: Option<&str>,
    ) -> Result<&PublicKey, Error> {
        self.key_checked(hint, at, product, false)
    }

    /// [`key_for`](Self::key_for) for a signature whose log entry is judged next: a rotated
    /// key's window closed at its rotation, and what it signed before is told by the entry's
    /// index (see [`Rotation`]), not by `at`.
    pub fn key_for_logged(
        &self,
        hint: &KeyHint,
        at: Timestamp,
        product: Option<&str>,
    ) -> Result<&PublicKey, Error> {
        self.key_checked(hint, at, product, true)
    }

    fn key_checked(
        &self,
        hint: &KeyHint,
        at: Timestamp,
        product: Option<&str>,
        judged_by_log: bool,
    ) -> Result<&PublicKey, Error> {
        let entry = self
            .keys
            .iter()
            .find(|k| k.hint == hint.as_str())
            .ok_or_else(|| Error::UnknownKey {
                hint: hint.to_string(),
            })?;
        // A rotated key's window closed at its rotation; what it signed before is told by its
        // log entry, which the caller judges next.
        let dated_by_log = judged_by_log && entry.rotated.is_some();
        if !(entry.valid_for.contains(at) || dated_by_log) {
            return Err(Error::KeyNotValidAt {
                hint: entry.hint.clone(),
                at,
                start: entry.valid_for.start,
                end: entry.valid_for.end,
            });
        }
        if let (Some(allowed), Some(product)) = (&entry.products, product)
            && !allowed.iter().any(|p| p == product)
        {
            return Err(Error::ProductNotAllowed {
                hint: entry.hint.clone(),
                product: product.to_owned(),
                allowed: allowed.clone(),
            });
        }
        entry.parsed.as_ref().ok_or(Error::InvalidDocument {
            what: "policy",
            rule: "a key was not loaded through Policy::from_json",
        })
    }
}

fn check_size(what: &'static str, json: &[u8]) -> Result<(), Error> {
    if json.len() > MAX_TRUST_FILE_BYTES {
        return Err(Error::TooLarge {
            what,
            size: json.len(),
            limit: MAX_TRUST_FILE_BYTES,
        });
    }
    Ok(())
}
