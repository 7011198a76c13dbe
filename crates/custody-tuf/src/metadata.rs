//! TUF 1.0 metadata: the four top-level roles, delegations (including TAP 15 succinct hash
//! bins), and the signed envelope that carries them.
//!
//! Signatures are checked over the canonical form of the `signed` object exactly as it arrived,
//! unknown fields included; the typed structs below are a view of that object, so a field we
//! do not model can never change what a signature covers.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest as _, Sha256, Sha512};

use crate::error::{Error, Result};
use crate::key::Key;

/// The TUF specification version this crate writes.
pub const SPEC_VERSION: &str = "1.0.31";

/// The four top-level role names.
pub const TOP_LEVEL_ROLES: [&str; 4] = ["root", "targets", "snapshot", "timestamp"];

/// One signature in a metadata envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    /// The signing key's id, as the delegating metadata declares it.
    pub keyid: String,
    /// Hex-encoded signature over the canonical `signed` object.
    pub sig: String,
}

/// A role's key ids and signature threshold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Role {
    /// Keys allowed to sign for the role.
    pub keyids: Vec<String>,
    /// Distinct keys that must sign.
    pub threshold: u64,
}

/// `root.json`: the trust anchor, naming the keys of every top-level role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Root {
    #[serde(rename = "_type")]
    kind: String,
    /// Specification version the file follows.
    pub spec_version: String,
    /// Whether snapshot, targets and target files are fetched by version/hash-prefixed names.
    #[serde(default)]
    pub consistent_snapshot: bool,
    /// Monotonic version.
    pub version: u64,
    /// Expiry.
    #[serde(with = "expiry")]
    pub expires: jiff::Timestamp,
    /// Keys by declared id.
    pub keys: BTreeMap<String, Key>,
    /// The top-level roles.
    pub roles: BTreeMap<String, Role>,
}

/// The version, length and hashes of one metadata file, as pinned by timestamp or snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetaFile {
    /// Version of the pinned file.
    pub version: u64,
    /// Its length in bytes, when pinned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<u64>,
    /// Its hashes, when pinned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hashes: Option<BTreeMap<String, String>>,
}

/// `timestamp.json`: the short-lived pointer to the current snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timestamp {
    #[serde(rename = "_type")]
    kind: String,
    /// Specification version.
    pub spec_version: String,
    /// Monotonic version.
    pub version: u64,
    /// Expiry.
    #[serde(with = "expiry")]
    pub expires: jiff::Timestamp,
    /// Exactly one entry, `snapshot.json`.
    pub meta: BTreeMap<String, MetaFile>,
}

/// `snapshot.json`: the version of every targets metadata file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    #[serde(rename = "_type")]
    kind: String,
    /// Specification version.
    pub spec_version: String,
    /// Monotonic version.
    pub version: u64,
    /// Expiry.
    #[serde(with = "expiry")]
    pub expires: jiff::Timestamp,
    /// `<role>.json` to its pinned version.
    pub meta: BTreeMap<String, MetaFile>,
}

/// One target file: its length, hashes and free-form custom metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetFile {
    /// Exact length in bytes.
    pub length: u64,
    /// Hex digests by algorithm name.
    pub hashes: BTreeMap<String, String>,
    /// Application metadata (custody puts product, version and bundle path here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom: Option<Value>,
}

/// A role delegated by a targets role, trusted for the paths it matches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DelegatedRole {
    /// Role name, also its metadata file name.
    pub name: String,
    /// Keys allowed to sign it.
    pub keyids: Vec<String>,
    /// Distinct keys that must sign.
    pub threshold: u64,
    /// Whether the search stops here when this role matches, found or not.
    pub terminating: bool,
    /// Shell-style patterns, matched per path segment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paths: Option<Vec<String>>,
    /// Hex prefixes of SHA-256(target path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_hash_prefixes: Option<Vec<String>>,
}

/// TAP 15: `2^bit_length` hash-bin roles named `<name_prefix>-<hex>`, described in one object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuccinctRoles {
    /// Keys allowed to sign every bin.
    pub keyids: Vec<String>,
    /// Distinct keys that must sign each bin.
    pub threshold: u64,
    /// Bits of SHA-256(target path) that choose the bin (1 to 32).
    pub bit_length: u32,
    /// Bin names are this prefix, a dash and the bin number in hex.
    pub name_prefix: String,
}

/// Delegations from a targets role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delegations {
    /// Keys by declared id.
    pub keys: BTreeMap<String, Key>,
    /// Ordered delegated roles (exclusive with `succinct_roles`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<DelegatedRole>>,
    /// Hash-bin roles (exclusive with `roles`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub succinct_roles: Option<SuccinctRoles>,
}

/// `targets.json` or a delegated targets role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Targets {
    #[serde(rename = "_type")]
    kind: String,
    /// Specification version.
    pub spec_version: String,
    /// Monotonic version.
    pub version: u64,
    /// Expiry.
    #[serde(with = "expiry")]
    pub expires: jiff::Timestamp,
    /// Target path to file description.
    pub targets: BTreeMap<String, TargetFile>,
    /// Further delegations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delegations: Option<Delegations>,
}

/// What every signed role shares.
pub trait Signed: Serialize + serde::de::DeserializeOwned {
    /// The `_type` value.
    const TYPE: &'static str;
    /// Version number.
    fn version(&self) -> u64;
    /// Expiry.
    fn expires(&self) -> jiff::Timestamp;
    /// Checks the spec asks for beyond the JSON shape.
    fn validate(&self, what: &str) -> Result<()>;
}

fn validate_common(what: &str, spec_version: &str, version: u64) -> Result<()> {
    if version == 0 {
        return Err(Error::ZeroVersion {
            what: what.to_string(),
        });
    }
    if !spec_version.starts_with("1.") {
        return Err(Error::UnsupportedSpecVersion {
            what: what.to_string(),
            spec_version: spec_version.to_string(),
        });
    }
    Ok(())
}

fn validate_role(what: &str, name: &str, keyids: &[String], threshold: u64) -> Result<()> {
    if threshold == 0 {
        return Err(Error::ZeroThreshold {
            what: what.to_string(),
            role: name.to_string(),
        });
    }
    let mut unique = BTreeSet::new();
    if let Some(keyid) = keyids.iter().find(|id| !unique.insert(id.as_str())) {
        return Err(Error::DuplicateKeyId {
            what: what.to_string(),
            role: name.to_string(),
            keyid: keyid.clone(),
        });
    }
    Ok(())
}

/// Every role's header fields are named the same, so one definition serves all four.
macro_rules! header_accessors {
    () => {
        fn version(&self) -> u64 {
            self.version
        }
        fn expires(&self) -> jiff::Timestamp {
            self.expires
        }
    };
}

impl Signed for Root {
    const TYPE: &'static str = "root";
    header_accessors!();
    fn validate(&self, what: &str) -> Result<()> {
        validate_common(what, &self.spec_version, self.version)?;
        for name in TOP_LEVEL_ROLES {
            let role = self
                .roles
                .get(name)
                .ok_or_else(|| Error::MissingTopLevelRole {
                    what: what.to_string(),
                    role: name.to_string(),
                })?;
            validate_role(what, name, &role.keyids, role.threshold)?;
        }
        if let Some(extra) = self
            .roles
            .keys()
            .find(|r| !TOP_LEVEL_ROLES.contains(&r.as_str()))
        {
            return Err(Error::UnknownTopLevelRole {
                what: what.to_string(),
                role: extra.clone(),
            });
        }
        Ok(())
    }
}

impl Signed for Timestamp {
    const TYPE: &'static str = "timestamp";
    header_accessors!();
    fn validate(&self, what: &str) -> Result<()> {
        validate_common(what, &self.spec_version, self.version)?;
        if self.meta.len() != 1 || !self.meta.contains_key("snapshot.json") {
            return Err(Error::TimestampMeta {
                what: what.to_string(),
                found: self.meta.keys().cloned().collect(),
            });
        }
        validate_meta(what, &self.meta)
    }
}

impl Timestamp {
    /// The pinned snapshot.
    pub fn snapshot_meta(&self) -> &MetaFile {
        // validate() guaranteed the entry; an empty map never reaches a caller.
        static EMPTY: MetaFile = MetaFile {
            version: 0,
            length: None,
            hashes: None,
        };
        self.meta.get("snapshot.json").unwrap_or(&EMPTY)
    }
}

fn validate_meta(what: &str, meta: &BTreeMap<String, MetaFile>) -> Result<()> {
    for (name, file) in meta {
        if file.version == 0 {
            return Err(Error::ZeroPinnedVersion {
                what: what.to_string(),
                file: name.clone(),
            });
        }
        if file.hashes.as_ref().is_some_and(BTreeMap::is_empty) {
            return Err(Error::EmptyHashes {
                what: what.to_string(),
                file: name.clone(),
            });
        }
    }
    Ok(())
}

impl Signed for Snapshot {
    const TYPE: &'static str = "snapshot";
    header_accessors!();
    fn validate(&self, what: &str) -> Result<()> {
        validate_common(what, &self.spec_version, self.version)?;
        validate_meta(what, &self.meta)
    }
}

impl Signed for Targets {
    const TYPE: &'static str = "targets";
    header_accessors!();
    fn validate(&self, what: &str) -> Result<()> {
        validate_common(what, &self.spec_version, self.version)?;
        for (path, file) in &self.targets {
            if file.hashes.is_empty() {
                return Err(Error::TargetWithoutHashes {
                    what: what.to_string(),
                    target: path.clone(),
                });
            }
        }
        let Some(d) = &self.delegations else {
            return Ok(());
        };
        match (&d.roles, &d.succinct_roles) {
            (Some(_), Some(_)) => {
                return Err(Error::AmbiguousDelegations {
                    what: what.to_string(),
                });
            }
            (None, None) => {
                return Err(Error::EmptyDelegations {
                    what: what.to_string(),
                });
            }
            (Some(roles), None) => {
                let mut names = BTreeSet::new();
                for r in roles {
                    if TOP_LEVEL_ROLES.contains(&r.name.as_str()) {
                        return Err(Error::ReservedRoleName {
                            what: what.to_string(),
                            role: r.name.clone(),
                        });
                    }
                    if !names.insert(&r.name) {
                        return Err(Error::DuplicateDelegation {
                            what: what.to_string(),
                            role: r.name.clone(),
                        });
                    }
                    if r.paths.is_some() && r.path_hash_prefixes.is_some() {
                        return Err(Error::PathsAndPrefixes {
                            what: what.to_string(),
                            role: r.name.clone(),
                        });
                    }
                    validate_role(what, &r.name, &r.keyids, r.threshold)?;
                }
            }
            (None, Some(s)) => {
                if !(1..=32).contains(&s.bit_length) {
                    return Err(Error::BitLengthOutOfRange {
                        what: what.to_string(),
                        bit_length: s.bit_length,
                    });
                }
                validate_role(what, &s.name_prefix, &s.keyids, s.threshold)?;
            }
        }
        Ok(())
    }
}

impl Root {
    /// A new root (version 1) with no keys yet.
    pub fn new(expires: jiff::Timestamp, consistent_snapshot: bool) -> Self {
        Self {
            kind: Self::TYPE.into(),
            spec_version: SPEC_VERSION.into(),
            consistent_snapshot,
            version: 1,
            expires,
            keys: BTreeMap::new(),
            roles: TOP_LEVEL_ROLES
                .iter()
                .map(|r| {
                    (
                        (*r).to_string(),
                        Role {
                            keyids: Vec::new(),
                            threshold: 1,
                        },
                    )
                })
                .collect(),
        }
    }

    /// The keys and threshold of a top-level role.
    pub fn role(&self, name: &str) -> Option<&Role> {
        self.roles.get(name)
    }
}

impl Timestamp {
    /// A timestamp pinning `snapshot`.
    pub fn new(version: u64, expires: jiff::Timestamp, snapshot: MetaFile) -> Self {
        Self {
            kind: Self::TYPE.into(),
            spec_version: SPEC_VERSION.into(),
            version,
            expires,
            meta: BTreeMap::from([("snapshot.json".to_string(), snapshot)]),
        }
    }
}

impl Snapshot {
    /// A snapshot pinning `meta`.
    pub fn new(version: u64, expires: jiff::Timestamp, meta: BTreeMap<String, MetaFile>) -> Self {
        Self {
            kind: Self::TYPE.into(),
            spec_version: SPEC_VERSION.into(),
            version,
            expires,
            meta,
        }
    }
}

impl Targets {
    /// An empty targets role.
    pub fn new(version: u64, expires: jiff::Timestamp) -> Self {
        Self {
            kind: Self::TYPE.into(),
            spec_version: SPEC_VERSION.into(),
            version,
            expires,
            targets: BTreeMap::new(),
            delegations: None,
        }
    }
}

impl TargetFile {
    /// Describe `bytes` with SHA-256 and SHA-512.
    pub fn from_bytes(bytes: &[u8], custom: Option<Value>) -> Self {
        Self {
            length: bytes.len() as u64,
            hashes: BTreeMap::from([
                ("sha256".to_string(), hex::encode(Sha256::digest(bytes))),
                ("sha512".to_string(), hex::encode(Sha512::digest(bytes))),
            ]),
            custom,
        }
    }

    /// Check downloaded bytes against the pinned length and every pinned hash.
    pub fn verify(&self, what: &str, bytes: &[u8]) -> Result<()> {
        check_length_and_hashes(what, bytes, Some(self.length), Some(&self.hashes))
    }
}

impl MetaFile {
    /// Pin `bytes` at `version` with length and SHA-256.
    pub fn pinning(version: u64, bytes: &[u8]) -> Self {
        Self {
            version,
            length: Some(bytes.len() as u64),
            hashes: Some(BTreeMap::from([(
                "sha256".to_string(),
                hex::encode(Sha256::digest(bytes)),
            )])),
        }
    }

    /// Check fetched metadata bytes against whatever is pinned.
    pub fn verify(&self, what: &str, bytes: &[u8]) -> Result<()> {
        check_length_and_hashes(what, bytes, self.length, self.hashes.as_ref())
    }
}

/// Length first (cheap), then every hash; an algorithm we cannot compute fails closed.
pub(crate) fn check_length_and_hashes(
    what: &str,
    bytes: &[u8],
    length: Option<u64>,
    hashes: Option<&BTreeMap<String, String>>,
) -> Result<()> {
    if let Some(expected) = length
        && bytes.len() as u64 != expected
    {
        return Err(Error::LengthMismatch {
            what: what.to_string(),
            expected,
            actual: bytes.len() as u64,
        });
    }
    for (algorithm, expected) in hashes.into_iter().flatten() {
        let actual = match algorithm.as_str() {
            "sha256" => hex::encode(Sha256::digest(bytes)),
            "sha512" => hex::encode(Sha512::digest(bytes)),
            _ => {
                return Err(Error::UnsupportedHashAlgorithm {
                    what: what.to_string(),
                    algorithm: algorithm.clone(),
                });
            }
        };
        if !actual.eq_ignore_ascii_case(expected) {
            return Err(Error::HashMismatch {
                what: what.to_string(),
                algorithm: algorithm.clone(),
                expected: expected.clone(),
                actual,
            });
        }
    }
    Ok(())
}

impl Delegations {
    /// The roles trusted for `target`, in search order, each with its `terminating` flag.
    pub fn roles_for_target(&self, target: &str) -> Vec<(String, bool)> {
        if let Some(s) = &self.succinct_roles {
            return vec![(s.role_for_target(target), true)];
        }
        self.roles
            .iter()
            .flatten()
            .filter(|r| r.matches(target))
            .map(|r| (r.name.clone(), r.terminating))
            .collect()
    }

    /// The keys and threshold for the delegated role `name`, if this delegates it.
    pub fn role(&self, name: &str) -> Option<Role> {
        if let Some(s) = &self.succinct_roles {
            return s.is_bin(name).then(|| Role {
                keyids: s.keyids.clone(),
                threshold: s.threshold,
            });
        }
        self.roles
            .iter()
            .flatten()
            .find(|r| r.name == name)
            .map(|r| Role {
                keyids: r.keyids.clone(),
                threshold: r.threshold,
            })
    }
}

impl DelegatedRole {
    /// Whether this role is trusted for `target`.
    pub fn matches(&self, target: &str) -> bool {
        if let Some(prefixes) = &self.path_hash_prefixes {
            let hash = hex::encode(Sha256::digest(target.as_bytes()));
            return prefixes.iter().any(|p| hash.starts_with(p.as_str()));
        }
        self.paths
            .iter()
            .flatten()
            .any(|pattern| path_matches(pattern, target))
    }
}

/// Shell-style matching per `/`-separated segment, as the spec and python-tuf do: `*` never
/// crosses a directory boundary, so `app/*` does not match `app/1.0/x`.
fn path_matches(pattern: &str, target: &str) -> bool {
    let pattern_parts: Vec<&str> = pattern.split('/').collect();
    let target_parts: Vec<&str> = target.split('/').collect();
    if pattern_parts.len() != target_parts.len() {
        return false;
    }
    let options = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: false,
    };
    pattern_parts.iter().zip(&target_parts).all(|(p, t)| {
        glob::Pattern::new(p)
            .map(|p| p.matches_with(t, options))
            .unwrap_or(false)
    })
}

impl SuccinctRoles {
    /// Number of bins.
    pub fn bins(&self) -> u64 {
        1u64 << self.bit_length
    }

    fn suffix_len(&self) -> usize {
        format!("{:x}", self.bins() - 1).len()
    }

    /// The name of bin `n`.
    pub fn bin_name(&self, n: u64) -> String {
        format!(
            "{}-{:0width$x}",
            self.name_prefix,
            n,
            width = self.suffix_len()
        )
    }

    /// The bin whose role is trusted for `target`.
    pub fn role_for_target(&self, target: &str) -> String {
        let hash = Sha256::digest(target.as_bytes());
        let first = u32::from_be_bytes([hash[0], hash[1], hash[2], hash[3]]);
        let bin = u64::from(first >> (32 - self.bit_length));
        self.bin_name(bin)
    }

    /// Whether `name` is one of these bins.
    pub fn is_bin(&self, name: &str) -> bool {
        let Some(suffix) = name
            .strip_prefix(self.name_prefix.as_str())
            .and_then(|s| s.strip_prefix('-'))
        else {
            return false;
        };
        suffix.len() == self.suffix_len()
            && u64::from_str_radix(suffix, 16).is_ok_and(|n| n < self.bins())
            && suffix
                .bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
    }
}

/// Signed metadata as fetched: the typed role, its signatures, the canonical bytes they cover,
/// and the original bytes, kept so the client stores exactly what it verified.
#[derive(Debug, Clone)]
pub struct Metadata<T> {
    /// The typed `signed` object.
    pub signed: T,
    /// The signatures.
    pub signatures: Vec<Signature>,
    canonical: Vec<u8>,
    bytes: Vec<u8>,
}

impl<T: Signed> Metadata<T> {
    /// Parse `bytes` as metadata of role type `T`. `what` names the file for errors.
    pub fn from_bytes(what: &str, bytes: &[u8]) -> Result<Self> {
        let malformed = |source| Error::Malformed {
            what: what.to_string(),
            source,
        };
        let missing = |field| Error::MissingField {
            what: what.to_string(),
            field,
        };
        let value: Value = serde_json::from_slice(bytes).map_err(malformed)?;
        let Value::Object(mut envelope) = value else {
            return Err(Error::NotAnObject {
                what: what.to_string(),
            });
        };
        let signed = envelope.remove("signed").ok_or_else(|| missing("signed"))?;
        let found = signed
            .get("_type")
            .and_then(Value::as_str)
            .ok_or_else(|| missing("_type"))?;
        if found != T::TYPE {
            return Err(Error::WrongType {
                what: what.to_string(),
                expected: T::TYPE.to_string(),
                found: found.to_string(),
            });
        }
        let signatures: Vec<Signature> = serde_json::from_value(
            envelope
                .remove("signatures")
                .ok_or_else(|| missing("signatures"))?,
        )
        .map_err(|source| Error::Malformed {
            what: format!("{what} signatures"),
            source,
        })?;
        let mut seen = BTreeSet::new();
        for s in &signatures {
            if !seen.insert(s.keyid.as_str()) {
                return Err(Error::DuplicateSignature {
                    role: what.to_string(),
                    keyid: s.keyid.clone(),
                });
            }
        }
        let canonical = canonical(what, &signed)?;
        let signed: T = serde_json::from_value(signed).map_err(malformed)?;
        signed.validate(what)?;
        Ok(Self {
            signed,
            signatures,
            canonical,
            bytes: bytes.to_vec(),
        })
    }

    /// Sign `signed` with `signers` and serialise it the way custody publishes metadata.
    pub fn sign(signed: T, signers: &[(&str, &dyn custody_crypto::Signer)]) -> Result<Self> {
        let value = serde_json::to_value(&signed).map_err(encode::<T>)?;
        let canonical = canonical(T::TYPE, &value)?;
        let mut signatures = Vec::with_capacity(signers.len());
        for (keyid, signer) in signers {
            let sig = signer.sign(&canonical).map_err(|source| Error::Sign {
                role: T::TYPE.to_string(),
                source,
            })?;
            signatures.push(Signature {
                keyid: (*keyid).to_string(),
                sig: hex::encode(sig),
            });
        }
        let mut md = Self {
            signed,
            signatures,
            canonical,
            bytes: Vec::new(),
        };
        md.bytes = md.render()?;
        Ok(md)
    }

    /// Add signatures to metadata that already carries some (offline root signing).
    pub fn add_signatures(
        &mut self,
        signers: &[(&str, &dyn custody_crypto::Signer)],
    ) -> Result<()> {
        for (keyid, signer) in signers {
            let sig = signer.sign(&self.canonical).map_err(|source| Error::Sign {
                role: T::TYPE.to_string(),
                source,
            })?;
            self.signatures.retain(|s| s.keyid != *keyid);
            self.signatures.push(Signature {
                keyid: (*keyid).to_string(),
                sig: hex::encode(sig),
            });
        }
        self.bytes = self.render()?;
        Ok(())
    }

    fn render(&self) -> Result<Vec<u8>> {
        #[derive(Serialize)]
        struct Envelope<'a, T> {
            signatures: &'a [Signature],
            signed: &'a T,
        }
        let mut out = serde_json::to_vec_pretty(&Envelope {
            signatures: &self.signatures,
            signed: &self.signed,
        })
        .map_err(encode::<T>)?;
        out.push(b'\n');
        Ok(out)
    }

    /// The canonical bytes the signatures cover.
    pub fn canonical(&self) -> &[u8] {
        &self.canonical
    }

    /// The file's bytes: as fetched, or as rendered after signing.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Check that `role`'s threshold of distinct keys from `keys` signed this metadata.
    pub fn verify_role(&self, name: &str, keys: &BTreeMap<String, Key>, role: &Role) -> Result<()> {
        let mut valid = BTreeSet::new();
        for keyid in &role.keyids {
            let (Some(key), Some(sig)) = (
                keys.get(keyid),
                self.signatures.iter().find(|s| &s.keyid == keyid),
            ) else {
                continue;
            };
            let Ok(sig) = hex::decode(&sig.sig) else {
                continue;
            };
            if key.verify(keyid, &self.canonical, &sig).is_ok() {
                valid.insert(keyid.as_str());
            }
        }
        if (valid.len() as u64) < role.threshold {
            return Err(Error::Threshold {
                role: name.to_string(),
                valid: valid.len(),
                threshold: role.threshold,
            });
        }
        Ok(())
    }
}

/// Canonical JSON as securesystemslib encodes it for signing: keys sorted, no whitespace,
/// strings escaping only `"` and `\\`, integers only. Written here rather than taken from
/// `olpc-cjson`, which also NFC-normalises strings: a signer that does not (securesystemslib)
/// would then sign different bytes than we check, and the normalisation was half the cost of
/// checking a large role.
pub fn canonical_json(value: &Value) -> Result<Vec<u8>> {
    canonical("signed object", value)
}

fn canonical(what: &str, value: &Value) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(256);
    write_canonical(value, &mut out).map_err(|n| Error::NotCanonical {
        what: what.to_string(),
        number: n.to_string(),
    })?;
    Ok(out)
}

fn encode<T: Signed>(source: serde_json::Error) -> Error {
    Error::Encode {
        role: T::TYPE.to_string(),
        source,
    }
}

/// Fails with the first number that is not an integer.
fn write_canonical<'a>(
    value: &'a Value,
    out: &mut Vec<u8>,
) -> std::result::Result<(), &'a serde_json::Number> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => {
            if !(n.is_i64() || n.is_u64()) {
                return Err(n);
            }
            out.extend_from_slice(n.to_string().as_bytes());
        }
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out)?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            // Sorted here rather than trusting the map's order: a crate elsewhere in the build
            // enabling serde_json's `preserve_order` would silently change it. Byte order of
            // UTF-8 is code point order, the order Python's sort gives securesystemslib.
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(k, out);
                out.push(b':');
                write_canonical(v, out)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

fn write_string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    for b in s.bytes() {
        if b == b'"' || b == b'\\' {
            out.push(b'\\');
        }
        out.push(b);
    }
    out.push(b'"');
}

mod expiry {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &jiff::Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<jiff::Timestamp, D::Error> {
        let text = String::deserialize(d)?;
        if !text.ends_with('Z') {
            return Err(serde::de::Error::custom(format!(
                "expires {text:?} is not a UTC time ending in Z"
            )));
        }
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_match_per_segment() {
        assert!(path_matches("app/*", "app/x.tar.gz"));
        assert!(!path_matches("app/*", "app/1.0/x.tar.gz"));
        assert!(path_matches("app/*/*", "app/1.0/x.tar.gz"));
        assert!(path_matches("*", "file1.txt"));
        assert!(!path_matches("*", "dir/file1.txt"));
        assert!(path_matches("f?le[0-9].txt", "file1.txt"));
        assert!(!path_matches("app/*", "other/x"));
    }

    #[test]
    fn succinct_bins_follow_tap_15() {
        let s = SuccinctRoles {
            keyids: vec![],
            threshold: 1,
            bit_length: 8,
            name_prefix: "bin".into(),
        };
        assert_eq!(s.bins(), 256);
        assert_eq!(s.bin_name(0), "bin-00");
        assert_eq!(s.bin_name(255), "bin-ff");
        // The bin is the first byte of SHA-256 of the path.
        let first = Sha256::digest(b"a/b.txt")[0];
        assert_eq!(s.role_for_target("a/b.txt"), format!("bin-{first:02x}"));
        assert!(s.is_bin("bin-0a"));
        assert!(!s.is_bin("bin-0A"));
        assert!(!s.is_bin("bin-100"));
        assert!(!s.is_bin("bins-00"));
        let odd = SuccinctRoles { bit_length: 5, ..s };
        assert_eq!(odd.bins(), 32);
        assert_eq!(odd.bin_name(31), "bin-1f");
        assert!(!odd.is_bin("bin-20"));
    }

    #[test]
    fn canonical_json_matches_securesystemslib() {
        let v: Value =
            serde_json::from_str(r#"{"b":1,"a":"x\"y\\z\n\u00e9","c":[true,null,-3]}"#).unwrap();
        let got = canonical_json(&v).unwrap();
        // securesystemslib escapes only the quote and the backslash; the newline and the
        // non-ASCII character go through as raw bytes, not normalised.
        assert_eq!(
            got,
            "{\"a\":\"x\\\"y\\\\z\n\u{e9}\",\"b\":1,\"c\":[true,null,-3]}".as_bytes()
        );
        let float: Value = serde_json::from_str(r#"{"a":1.5}"#).unwrap();
        assert!(canonical_json(&float).is_err());
    }

    #[test]
    fn hash_checks_fail_closed() {
        let f = TargetFile::from_bytes(b"hello", None);
        assert!(f.verify("t", b"hello").is_ok());
        let err = f.verify("t", b"hellO").unwrap_err();
        let tampered = hex::encode(Sha256::digest(b"hellO"));
        assert!(
            matches!(&err, Error::HashMismatch { what, algorithm, expected, actual }
                if what == "t"
                    && algorithm == "sha256"
                    && *expected == f.hashes["sha256"]
                    && *actual == tampered),
            "{err}"
        );
        assert!(err.to_string().contains("tampered or substituted"), "{err}");
        let err = f.verify("t", b"hello!").unwrap_err();
        assert!(
            matches!(
                err,
                Error::LengthMismatch {
                    expected: 5,
                    actual: 6,
                    ..
                }
            ),
            "{err}"
        );
        let mut odd = f.clone();
        odd.hashes = BTreeMap::from([("md5".into(), "00".into())]);
        let err = odd.verify("t", b"hello").unwrap_err();
        assert!(
            matches!(&err, Error::UnsupportedHashAlgorithm { algorithm, .. } if algorithm == "md5"),
            "{err}"
        );
    }

    fn expires() -> jiff::Timestamp {
        "2030-01-01T00:00:00Z".parse().unwrap()
    }

    /// `signed` in an envelope with no signatures, after `edit`.
    fn file<T: Signed>(signed: &T, edit: impl FnOnce(&mut Value)) -> Vec<u8> {
        let mut value = serde_json::to_value(signed).unwrap();
        edit(&mut value);
        serde_json::to_vec(&serde_json::json!({"signed": value, "signatures": []})).unwrap()
    }

    fn parse<T: Signed + std::fmt::Debug>(bytes: &[u8]) -> Error {
        Metadata::<T>::from_bytes("f.json", bytes).unwrap_err()
    }

    #[test]
    fn envelope_shape_is_checked_before_anything_is_trusted() {
        let targets = Targets::new(1, expires());
        assert!(Metadata::<Targets>::from_bytes("f.json", &file(&targets, |_| ())).is_ok());

        let err = parse::<Targets>(b"{not json");
        assert!(matches!(err, Error::Malformed { .. }), "{err}");
        let err = parse::<Targets>(b"[]");
        assert!(matches!(err, Error::NotAnObject { .. }), "{err}");
        let err = parse::<Targets>(br#"{"signatures": []}"#);
        assert!(
            matches!(
                err,
                Error::MissingField {
                    field: "signed",
                    ..
                }
            ),
            "{err}"
        );
        let no_type = file(&targets, |v| {
            v.as_object_mut().unwrap().remove("_type");
        });
        let err = parse::<Targets>(&no_type);
        assert!(
            matches!(err, Error::MissingField { field: "_type", .. }),
            "{err}"
        );
        let float = file(&targets, |v| v["x-rating"] = serde_json::json!(1.5));
        let err = parse::<Targets>(&float);
        assert!(
            matches!(&err, Error::NotCanonical { number, .. } if number == "1.5"),
            "{err}"
        );
        let zero = file(&targets, |v| v["version"] = 0.into());
        let err = parse::<Targets>(&zero);
        assert!(matches!(err, Error::ZeroVersion { .. }), "{err}");
        let future = file(&targets, |v| v["spec_version"] = "2.0.0".into());
        let err = parse::<Targets>(&future);
        assert!(
            matches!(&err, Error::UnsupportedSpecVersion { spec_version, .. } if spec_version == "2.0.0"),
            "{err}"
        );
        assert!(err.to_string().contains("malformed TUF metadata"), "{err}");
    }

    #[test]
    fn root_and_timestamp_shape_rules_have_their_own_variants() {
        let root = Root::new(expires(), false);
        let err = parse::<Root>(&file(&root, |v| {
            v["roles"].as_object_mut().unwrap().remove("snapshot");
        }));
        assert!(
            matches!(&err, Error::MissingTopLevelRole { role, .. } if role == "snapshot"),
            "{err}"
        );
        let err = parse::<Root>(&file(&root, |v| {
            v["roles"]["mirrors"] = v["roles"]["root"].clone();
        }));
        assert!(
            matches!(&err, Error::UnknownTopLevelRole { role, .. } if role == "mirrors"),
            "{err}"
        );
        let err = parse::<Root>(&file(&root, |v| {
            v["roles"]["timestamp"]["threshold"] = 0.into();
        }));
        assert!(
            matches!(&err, Error::ZeroThreshold { role, .. } if role == "timestamp"),
            "{err}"
        );
        let err = parse::<Root>(&file(&root, |v| {
            v["roles"]["targets"]["keyids"] = serde_json::json!(["a", "b", "a"]);
        }));
        assert!(
            matches!(&err, Error::DuplicateKeyId { role, keyid, .. } if role == "targets" && keyid == "a"),
            "{err}"
        );

        let timestamp = Timestamp::new(1, expires(), MetaFile::pinning(1, b"snapshot"));
        let err = parse::<Timestamp>(&file(&timestamp, |v| {
            v["meta"]["targets.json"] = serde_json::json!({"version": 1});
        }));
        assert!(
            matches!(&err, Error::TimestampMeta { found, .. } if *found == ["snapshot.json", "targets.json"]),
            "{err}"
        );
        let err = parse::<Timestamp>(&file(&timestamp, |v| {
            v["meta"]["snapshot.json"]["version"] = 0.into();
        }));
        assert!(
            matches!(&err, Error::ZeroPinnedVersion { file, .. } if file == "snapshot.json"),
            "{err}"
        );
        let err = parse::<Timestamp>(&file(&timestamp, |v| {
            v["meta"]["snapshot.json"]["hashes"] = serde_json::json!({});
        }));
        assert!(
            matches!(&err, Error::EmptyHashes { file, .. } if file == "snapshot.json"),
            "{err}"
        );
    }

    #[test]
    fn targets_and_delegation_shape_rules_have_their_own_variants() {
        let role = |name: &str| DelegatedRole {
            name: name.into(),
            keyids: vec!["k".into()],
            threshold: 1,
            terminating: false,
            paths: Some(vec!["*".into()]),
            path_hash_prefixes: None,
        };
        let succinct = SuccinctRoles {
            keyids: vec!["k".into()],
            threshold: 1,
            bit_length: 4,
            name_prefix: "bin".into(),
        };
        let delegating = |roles: Option<Vec<DelegatedRole>>, succinct: Option<SuccinctRoles>| {
            let mut t = Targets::new(1, expires());
            t.delegations = Some(Delegations {
                keys: BTreeMap::new(),
                roles,
                succinct_roles: succinct,
            });
            t
        };
        let ok = delegating(Some(vec![role("a"), role("b")]), None);
        assert!(Metadata::<Targets>::from_bytes("f.json", &file(&ok, |_| ())).is_ok());

        let mut unhashed = Targets::new(1, expires());
        unhashed.targets.insert(
            "a/b".into(),
            TargetFile {
                length: 1,
                hashes: BTreeMap::new(),
                custom: None,
            },
        );
        let err = parse::<Targets>(&file(&unhashed, |_| ()));
        assert!(
            matches!(&err, Error::TargetWithoutHashes { target, .. } if target == "a/b"),
            "{err}"
        );

        let both = delegating(Some(vec![role("a")]), Some(succinct.clone()));
        let err = parse::<Targets>(&file(&both, |_| ()));
        assert!(matches!(err, Error::AmbiguousDelegations { .. }), "{err}");
        let neither = delegating(None, None);
        let err = parse::<Targets>(&file(&neither, |_| ()));
        assert!(matches!(err, Error::EmptyDelegations { .. }), "{err}");
        let reserved = delegating(Some(vec![role("snapshot")]), None);
        let err = parse::<Targets>(&file(&reserved, |_| ()));
        assert!(
            matches!(&err, Error::ReservedRoleName { role, .. } if role == "snapshot"),
            "{err}"
        );
        let twice = delegating(Some(vec![role("a"), role("b"), role("a")]), None);
        let err = parse::<Targets>(&file(&twice, |_| ()));
        assert!(
            matches!(&err, Error::DuplicateDelegation { role, .. } if role == "a"),
            "{err}"
        );
        let mut prefixed = role("a");
        prefixed.path_hash_prefixes = Some(vec!["ab".into()]);
        let err = parse::<Targets>(&file(&delegating(Some(vec![prefixed]), None), |_| ()));
        assert!(
            matches!(&err, Error::PathsAndPrefixes { role, .. } if role == "a"),
            "{err}"
        );
        let wide = SuccinctRoles {
            bit_length: 33,
            ..succinct
        };
        let err = parse::<Targets>(&file(&delegating(None, Some(wide)), |_| ()));
        assert!(
            matches!(err, Error::BitLengthOutOfRange { bit_length: 33, .. }),
            "{err}"
        );
    }
}
