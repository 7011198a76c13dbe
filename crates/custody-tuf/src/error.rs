//! One error enum for the crate. Each attack the TUF client workflow defends against has its own
//! variant, and its message names the attack, so an operator reading a failed update knows at
//! once whether the mirror is stale, hostile or merely down.

use std::path::PathBuf;

use custody_crypto::KeyAlgorithm;
use jiff::Timestamp;

/// Everything that can go wrong reading, writing or updating TUF metadata.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The bytes are not TUF metadata of the expected shape.
    #[error("{what}: malformed TUF metadata: {reason}")]
    Malformed {
        /// Which file or role.
        what: String,
        /// What was wrong.
        reason: String,
    },

    /// A file of one role was served where another was expected.
    #[error("{what}: expected {expected} metadata, found {found:?}")]
    WrongType {
        /// Which file.
        what: String,
        /// The role asked for.
        expected: String,
        /// The `_type` the file declared.
        found: String,
    },

    /// Fewer distinct trusted keys signed than the role's threshold.
    #[error(
        "{role}: signed by {valid} valid key(s), below its threshold of {threshold} \
         (forged or under-signed metadata)"
    )]
    Threshold {
        /// The role.
        role: String,
        /// Distinct keys whose signatures verified.
        valid: usize,
        /// Keys required.
        threshold: u64,
    },

    /// The same key id signed twice: the spec forbids it, and counting both would let one key
    /// stand in for several.
    #[error("{role}: key id {keyid} appears in more than one signature")]
    DuplicateSignature {
        /// The role.
        role: String,
        /// The repeated key id.
        keyid: String,
    },

    /// A newer-looking file is older than what the client already trusts.
    #[error("rollback attack: {role} version {offered} is older than trusted version {trusted}")]
    Rollback {
        /// The role (or meta file) rolled back.
        role: String,
        /// Version the client trusts.
        trusted: u64,
        /// Version offered.
        offered: u64,
    },

    /// A root in the chain did not carry the next version number.
    #[error("root chain broken: {file} holds root version {found}, expected {expected}")]
    RootVersion {
        /// The file fetched.
        file: String,
        /// Version wanted.
        expected: u64,
        /// Version found.
        found: u64,
    },

    /// The metadata has expired: a mirror is replaying old data to hide newer releases.
    #[error("freeze attack: {role} metadata expired at {expires}")]
    Expired {
        /// The role.
        role: String,
        /// When it expired.
        expires: Timestamp,
    },

    /// Metadata versions disagree across roles: files from different repository states were
    /// combined.
    #[error(
        "mix-and-match attack: {role} is version {found}, but {by} says it must be version {expected}"
    )]
    MixAndMatch {
        /// The role whose version is wrong.
        role: String,
        /// Who pinned the version.
        by: String,
        /// Version pinned.
        expected: u64,
        /// Version found.
        found: u64,
    },

    /// A role or file listed earlier vanished from newer metadata.
    #[error(
        "rollback attack: {role} is missing from the new {by}, though the trusted one lists it"
    )]
    Removed {
        /// The missing entry.
        role: String,
        /// The metadata that dropped it.
        by: String,
    },

    /// Downloaded bytes are not as long as the metadata pins (§5.5.2 and §5.6.2 for metadata
    /// the timestamp or snapshot pins, §5.7.3 for a target): a substituted file.
    #[error(
        "{what}: length is {actual} bytes, metadata pins {expected} (tampered or substituted file)"
    )]
    LengthMismatch {
        /// Which file.
        what: String,
        /// Length the metadata pins.
        expected: u64,
        /// Length of the bytes received.
        actual: u64,
    },

    /// Downloaded bytes do not have the hash the metadata pins (§5.5.2, §5.6.2, §5.7.3): a
    /// tampered or substituted file.
    #[error(
        "{what}: {algorithm} is {actual}, metadata pins {expected} (tampered or substituted file)"
    )]
    HashMismatch {
        /// Which file.
        what: String,
        /// The hash algorithm, as the metadata names it.
        algorithm: String,
        /// Hex digest the metadata pins.
        expected: String,
        /// Hex digest of the bytes received.
        actual: String,
    },

    /// The metadata pins a hash this build cannot compute. Skipping it would let whoever
    /// chose the algorithm skip the check, so the file is refused.
    #[error(
        "{what}: metadata pins an unsupported hash algorithm {algorithm:?}, so the file cannot \
         be checked"
    )]
    UnsupportedHashAlgorithm {
        /// Which file.
        what: String,
        /// The algorithm named.
        algorithm: String,
    },

    /// A server kept sending past the size limit.
    #[error("endless-data attack: {what} is larger than its limit of {limit} bytes")]
    TooLarge {
        /// Which file.
        what: String,
        /// The limit.
        limit: u64,
    },

    /// Metadata the workflow needs was absent from the repository.
    #[error("{what}: not found in the repository")]
    NotFound {
        /// Which file.
        what: String,
    },

    /// A file could not be fetched.
    #[error("fetching {url}: {reason}")]
    Fetch {
        /// Where from.
        url: String,
        /// Why not.
        reason: String,
    },

    /// No role on the delegation path lists the target.
    #[error("{target}: no trusted targets metadata lists this target")]
    UnknownTarget {
        /// The target path.
        target: String,
    },

    /// The workflow was driven out of order (a caller bug, not an attack).
    #[error("TUF workflow: {0}")]
    Order(&'static str),

    /// A custody key of an algorithm TUF has no scheme for, so it cannot be listed in metadata.
    #[error("key {key}: {algorithm} keys have no TUF scheme")]
    NoTufScheme {
        /// The key's hint (it has no TUF key id).
        key: String,
        /// Its algorithm.
        algorithm: KeyAlgorithm,
    },

    /// §4.2.2: a keytype and scheme pair this build cannot verify. Signatures by such a key are
    /// never counted, so it cannot help a role reach its threshold.
    #[error("key {keyid}: unsupported keytype {keytype:?} with scheme {scheme:?}")]
    UnsupportedKeyType {
        /// Its id as declared.
        keyid: String,
        /// The declared `keytype`.
        keytype: String,
        /// The declared `scheme`.
        scheme: String,
    },

    /// The key's `keyval` does not decode as a public key.
    #[error("key {keyid}: {source}")]
    InvalidKey {
        /// Its id as declared.
        keyid: String,
        /// Why the key material was refused.
        #[source]
        source: custody_crypto::Error,
    },

    /// §4.2.2: an ed25519 `keyval` is 64 hex digits (or, as some tools write it, PEM).
    #[error("key {keyid}: ed25519 key is not hex")]
    KeyNotHex {
        /// Its id as declared.
        keyid: String,
    },

    /// §4.2.2: an ed25519 public key is 32 bytes.
    #[error("key {keyid}: ed25519 key is {length} bytes, not 32")]
    Ed25519KeyLength {
        /// Its id as declared.
        keyid: String,
        /// Bytes the hex decoded to.
        length: usize,
    },

    /// §4.2.2: ecdsa and rsa `keyval`s are PEM.
    #[error("key {keyid}: public key is not PEM")]
    KeyNotPem {
        /// Its id as declared.
        keyid: String,
    },

    /// The key material is of another algorithm than the declared scheme: checking a
    /// signature under the wrong scheme would mean trusting whatever the file says it is.
    #[error("key {keyid}: keyval holds a {found} key, but scheme {scheme:?} was declared")]
    KeySchemeMismatch {
        /// Its id as declared.
        keyid: String,
        /// The declared scheme.
        scheme: String,
        /// The algorithm of the key material.
        found: KeyAlgorithm,
    },

    /// A signature that does not verify under the key its `keyid` names.
    #[error("key {keyid}: {source}")]
    BadSignature {
        /// The signing key's declared id.
        keyid: String,
        /// The verifier's verdict.
        #[source]
        source: custody_crypto::Error,
    },

    /// Signing failed.
    #[error("signing {role}: {source}")]
    Sign {
        /// The role being signed.
        role: String,
        /// The signer's error.
        #[source]
        source: custody_crypto::Error,
    },

    /// A repository edit was refused.
    #[error("{0}")]
    Edit(String),

    /// Local storage failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// Shorthand.
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}
