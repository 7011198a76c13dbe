//! One error enum for the crate. Each attack the TUF client workflow defends against has its own
//! variant, and its message names the attack, so an operator reading a failed update knows at
//! once whether the mirror is stale, hostile or merely down. Shape rules and repository-editor
//! refusals have variants of their own too, carrying the values that disagreed, so a caller
//! never has to parse a message to tell one refusal from another. Section numbers (§5.4.3)
//! are those of the TUF specification, version 1.0.31.

use std::collections::BTreeMap;
use std::path::PathBuf;

use custody_crypto::KeyAlgorithm;
use jiff::{SignedDuration, Timestamp};

/// Everything that can go wrong reading, writing or updating TUF metadata.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // Shape of metadata (§4, TAP 15), checked before any signature.
    /// The bytes are not JSON, or not JSON of the shape the role's type needs: the parser's
    /// verdict. Rules this crate checks itself have variants of their own.
    #[error("{what}: malformed TUF metadata: {source}")]
    Malformed {
        /// Which file or role.
        what: String,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },

    /// §4.2.1: signed metadata is a JSON object.
    #[error("{what}: malformed TUF metadata: not a JSON object")]
    NotAnObject {
        /// Which file.
        what: String,
    },

    /// §4.2.1: the envelope has `signed` and `signatures`, and `signed` has `_type`.
    #[error("{what}: malformed TUF metadata: no {field:?}")]
    MissingField {
        /// Which file.
        what: String,
        /// The absent field.
        field: &'static str,
    },

    /// §4.1: canonical JSON has no floats, so no signature over this object can be checked.
    #[error(
        "{what}: malformed TUF metadata: {number} is not an integer; canonical JSON has no floats"
    )]
    NotCanonical {
        /// Which file or object.
        what: String,
        /// The offending number, as written.
        number: String,
    },

    /// §4.2.1 (`_type`): a file of one role was served where another was expected, which
    /// could otherwise pass as the expected role when the same key signs both.
    #[error("{what}: expected {expected} metadata, found {found:?}")]
    WrongType {
        /// Which file.
        what: String,
        /// The role asked for.
        expected: String,
        /// The `_type` the file declared.
        found: String,
    },

    /// §4.3 (VERSION): versions start at 1.
    #[error("{what}: malformed TUF metadata: version must be at least 1")]
    ZeroVersion {
        /// Which file.
        what: String,
    },

    /// §4.3 (SPEC_VERSION): clients check the specification version; this crate reads 1.x.
    #[error("{what}: malformed TUF metadata: spec_version {spec_version:?} is not TUF 1.x")]
    UnsupportedSpecVersion {
        /// Which file.
        what: String,
        /// The version the file declares.
        spec_version: String,
    },

    /// §4.3 (THRESHOLD): a threshold is at least one key; zero would trust unsigned metadata.
    #[error("{what}: malformed TUF metadata: role {role:?} has threshold 0")]
    ZeroThreshold {
        /// Which file.
        what: String,
        /// The role (for succinct roles, the bins' name prefix).
        role: String,
    },

    /// A role lists one key id twice, which would let one key count twice toward its
    /// threshold (§5.3.4: each key contributes one signature).
    #[error("{what}: malformed TUF metadata: role {role:?} lists key id {keyid} twice")]
    DuplicateKeyId {
        /// Which file.
        what: String,
        /// The role.
        role: String,
        /// The repeated key id.
        keyid: String,
    },

    /// §4.3: a root names keys for each of root, targets, snapshot and timestamp.
    #[error("{what}: root names no {role} role")]
    MissingTopLevelRole {
        /// Which root (a file, or the root being edited).
        what: String,
        /// The role it lacks.
        role: String,
    },

    /// §4.3: a root's `roles` holds the four top-level roles and nothing else.
    #[error("{what}: malformed TUF metadata: root names unknown role {role:?}")]
    UnknownTopLevelRole {
        /// Which file.
        what: String,
        /// The extra role.
        role: String,
    },

    /// §4.6: a timestamp's `meta` describes snapshot.json and nothing else.
    #[error("{what}: malformed TUF metadata: meta must hold exactly snapshot.json, not {found:?}")]
    TimestampMeta {
        /// Which file.
        what: String,
        /// The entries it holds.
        found: Vec<String>,
    },

    /// §4.4 (VERSION): a pinned metadata version is at least 1.
    #[error("{what}: malformed TUF metadata: {file} pinned at version 0")]
    ZeroPinnedVersion {
        /// The pinning file.
        what: String,
        /// The metadata file pinned.
        file: String,
    },

    /// §4.4 (HASHES): a `hashes` object, when present, holds one or more hashes; an empty one
    /// would pin nothing while looking as if it did.
    #[error("{what}: malformed TUF metadata: {file} has an empty hashes object")]
    EmptyHashes {
        /// The pinning file.
        what: String,
        /// The metadata file pinned.
        file: String,
    },

    /// §4.5 (HASHES): every target carries at least one hash, or nothing checks its bytes.
    #[error("{what}: malformed TUF metadata: target {target:?} has no hashes")]
    TargetWithoutHashes {
        /// The targets file.
        what: String,
        /// The target path.
        target: String,
    },

    /// TAP 15: `delegations` holds `roles` or `succinct_roles`, not both.
    #[error("{what}: malformed TUF metadata: delegations has both roles and succinct_roles")]
    AmbiguousDelegations {
        /// The targets file.
        what: String,
    },

    /// §4.5 and TAP 15: `delegations` holds `roles` or `succinct_roles`.
    #[error("{what}: malformed TUF metadata: delegations has neither roles nor succinct_roles")]
    EmptyDelegations {
        /// The targets file.
        what: String,
    },

    /// A delegated role named like a top-level role: its file would be taken for that role's.
    #[error("{what}: malformed TUF metadata: delegated role may not be named {role:?}")]
    ReservedRoleName {
        /// The targets file.
        what: String,
        /// The name.
        role: String,
    },

    /// §4.5 (ROLENAME): a role name is unique within one `delegations`.
    #[error("{what}: malformed TUF metadata: role {role:?} delegated twice")]
    DuplicateDelegation {
        /// The targets file.
        what: String,
        /// The name.
        role: String,
    },

    /// §4.5: `paths` and `path_hash_prefixes` may not both be given.
    #[error("{what}: malformed TUF metadata: role {role:?} has both paths and path_hash_prefixes")]
    PathsAndPrefixes {
        /// The targets file.
        what: String,
        /// The delegated role.
        role: String,
    },

    /// TAP 15: `bit_length` is 1 to 32 (the bin is taken from the first four bytes of the hash).
    #[error(
        "{what}: malformed TUF metadata: succinct_roles bit_length must be 1 to 32, not {bit_length}"
    )]
    BitLengthOutOfRange {
        /// The targets file.
        what: String,
        /// The declared bit length.
        bit_length: u32,
    },

    // The client workflow (§5).
    /// §5.3.4, §5.4.2, §5.5.3, §5.6.3 (arbitrary software attack): fewer distinct trusted keys
    /// signed than the role's threshold.
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

    /// §4.2.1: the same key id signed twice. The spec forbids it, and counting both would let
    /// one key stand in for several.
    #[error("{role}: key id {keyid} appears in more than one signature")]
    DuplicateSignature {
        /// The role.
        role: String,
        /// The repeated key id.
        keyid: String,
    },

    /// §5.4.3 and §5.5.5 (rollback attack): a newer-looking file is older than what the client
    /// already trusts.
    #[error("rollback attack: {role} version {offered} is older than trusted version {trusted}")]
    Rollback {
        /// The role (or meta file) rolled back.
        role: String,
        /// Version the client trusts.
        trusted: u64,
        /// Version offered.
        offered: u64,
    },

    /// §5.3.5: a root in the chain did not carry the next version number.
    #[error("root chain broken: {file} holds root version {found}, expected {expected}")]
    RootVersion {
        /// The file fetched.
        file: String,
        /// Version wanted.
        expected: u64,
        /// Version found.
        found: u64,
    },

    /// §5.3.10, §5.4.4, §5.5.6, §5.6.5 (freeze attack): the metadata has expired, as when a
    /// mirror replays old data to hide newer releases.
    #[error("freeze attack: {role} metadata expired at {expires}")]
    Expired {
        /// The role.
        role: String,
        /// When it expired.
        expires: Timestamp,
    },

    /// §5.5.4 and §5.6.4 (mix-and-match attack): metadata versions disagree across roles, so
    /// files from different repository states were combined.
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

    /// §5.5.5 (rollback attack): a role listed earlier vanished from newer metadata.
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

    /// §5.3.3, §5.4.1, §5.5.1, §5.6.1, §5.7.3 (endless-data attack): a server kept sending
    /// past the size limit.
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

    /// §5.2: the client needs a root it already trusts; without one there is no anchor to
    /// check anything against.
    #[error(
        "no root.json in the local metadata store: initialise it with a trusted root obtained \
         out of band"
    )]
    NoTrustedRoot,

    /// §5.6.1 and §5.6.4: a targets role the trusted snapshot does not list has no version
    /// that can be trusted, whatever a mirror serves under its name.
    #[error("{file}: not listed in the trusted snapshot")]
    NotInSnapshot {
        /// The role's metadata file name.
        file: String,
    },

    /// §5.6.3: a role is trusted only through a delegation naming its keys; the delegator
    /// names none for it.
    #[error("{role}: {delegator} delegates no role of this name")]
    DelegationNotFound {
        /// The role looked for.
        role: String,
        /// The targets role expected to delegate it.
        delegator: String,
    },

    /// §5.7.2: no role on the delegation path lists the target.
    #[error("{target}: no trusted targets metadata lists this target")]
    UnknownTarget {
        /// The target path.
        target: String,
    },

    /// The workflow was driven out of order (a caller bug, not an attack).
    #[error("TUF workflow: {0}")]
    Order(&'static str),

    // Keys and signing.
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

    /// Metadata could not be serialised (for signing or writing).
    #[error("encoding {role} metadata: {source}")]
    Encode {
        /// The role's type.
        role: String,
        /// The serialiser's error.
        #[source]
        source: serde_json::Error,
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

    // Repository-editor refusals.
    /// A validity period that takes an expiry past what a timestamp can hold.
    #[error("expiry out of range: {now} plus {validity}: {source}")]
    ExpiryOutOfRange {
        /// The time signing.
        now: Timestamp,
        /// The role's validity period.
        validity: SignedDuration,
        /// jiff's refusal.
        #[source]
        source: jiff::Error,
    },

    /// Product names become role names, metadata file names and URL segments, so they stay
    /// plain and never shadow a top-level role.
    #[error(
        "product name {product:?} cannot name a TUF role: use letters, digits, '-', '_' and '.'"
    )]
    InvalidProductName {
        /// The name refused.
        product: String,
    },

    /// Creating a repository over an existing one would replace the root every client trusts.
    #[error("{} already holds a TUF repository", dir.display())]
    RepositoryExists {
        /// The repository directory.
        dir: PathBuf,
    },

    /// A threshold is at least 1 (§4.3) and at most the number of keys that can meet it, or
    /// the role could never be signed again.
    #[error("{role} threshold {threshold} needs between 1 and {keys} keys")]
    ThresholdOutOfRange {
        /// The role.
        role: String,
        /// The threshold asked for.
        threshold: u64,
        /// Keys given for the role.
        keys: usize,
    },

    /// The repository lacks a targets role its own metadata refers to: the files on disk are
    /// out of step with one another.
    #[error("repository has no {role} role")]
    RoleNotInRepository {
        /// The role.
        role: String,
    },

    /// Hash bins take 1 to 16 bits: at least two bins, and no more than 65536 metadata files.
    #[error("hash bins take 1 to 16 bits, not {bits}")]
    HashBinBitsOutOfRange {
        /// The bits asked for.
        bits: u32,
    },

    /// A targets role is delegated to a key that was not given to sign it.
    #[error("role {role} is delegated to key {}, which was not given to sign it", keyids.join(", "))]
    NoKeyForDelegatedRole {
        /// The role.
        role: String,
        /// The key ids its delegation names.
        keyids: Vec<String>,
    },

    /// The root gives a role no keys, so nothing can be signed for it.
    #[error("root names no {role} key")]
    NoKeyForRole {
        /// The role.
        role: String,
    },

    /// §4.3: every key id a role lists is a key in the root's `keys`.
    #[error("root lists {role} key {keyid} without the key")]
    MissingKey {
        /// The role.
        role: String,
        /// The key id it lists.
        keyid: String,
    },

    /// The file to publish has no name to publish it under.
    #[error("{}: not a file name", path.display())]
    NotAFileName {
        /// The path given.
        path: PathBuf,
    },

    /// A release version becomes one segment of the target path (`product/version/file`), so
    /// it may not climb out of it or hide.
    #[error("version {version:?} cannot be a path segment")]
    InvalidVersionSegment {
        /// The version refused.
        version: String,
    },

    /// The file to publish could not be hashed.
    #[error("{source}")]
    Digest {
        /// The file.
        path: PathBuf,
        /// The hashing error, which names the file.
        #[source]
        source: custody_crypto::Error,
    },

    /// The hasher returned fewer digests than asked for: a bug, never bad input.
    #[error("{}: SHA-256 and SHA-512 were asked for, not both returned", path.display())]
    DigestMissing {
        /// The file.
        path: PathBuf,
    },

    /// Releases are immutable: a client that fetched a target once must never find other
    /// bytes under the same path.
    #[error("target {target} is already published with different content; releases are immutable")]
    TargetImmutable {
        /// The target path.
        target: String,
        /// Hashes of the published file.
        published: BTreeMap<String, String>,
        /// Hashes of the file offered in its place.
        offered: BTreeMap<String, String>,
    },

    /// An online key the root does not name for its role: every client would refuse what it
    /// signs (§5.4.2, §5.5.3, §5.6.3), so nothing is signed with it.
    #[error("the {role} key given ({keyid}) is not one the root names for {role}")]
    KeyNotInRole {
        /// The role.
        role: String,
        /// The key's id.
        keyid: String,
    },

    /// Only the four top-level roles have keys in the root.
    #[error("{role} is not a top-level role (root, targets, snapshot, timestamp)")]
    NotTopLevelRole {
        /// The role named.
        role: String,
    },

    /// A key the root does not list has no key id in it, so its signature would count for
    /// nothing.
    #[error("key {keyid} is not among the root's keys; it cannot sign this root")]
    KeyNotInRoot {
        /// The key's id.
        keyid: String,
    },

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
