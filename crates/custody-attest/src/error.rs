use jiff::Timestamp;

/// Why an attestation, bundle, policy or trust file was rejected.
///
/// Each variant names the rule that was broken and carries the values that disagreed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The document is larger than custody will parse.
    #[error("{what} is {size} bytes, over the {limit}-byte limit")]
    TooLarge {
        /// What kind of document.
        what: &'static str,
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Not valid JSON, or JSON of the wrong shape.
    #[error("{what} is not valid: {source}")]
    Json {
        /// What kind of document.
        what: &'static str,
        /// The parser's account, with line and column.
        source: serde_json::Error,
    },
    /// A `mediaType` this version of custody does not understand.
    #[error("unsupported {what} mediaType {found:?} (expected {expected:?})")]
    UnknownMediaType {
        /// What kind of document.
        what: &'static str,
        /// What the file says.
        found: String,
        /// What custody accepts.
        expected: &'static str,
    },
    /// The bundle holds a message signature or certificate; custody signs DSSE with keys.
    #[error(
        "the bundle has no {missing}; custody bundles carry a DSSE envelope and a publicKey hint"
    )]
    UnsupportedBundleContent {
        /// The part that is missing.
        missing: &'static str,
    },
    /// The DSSE signature's keyid must equal the bundle's public-key hint.
    #[error("DSSE keyid {keyid:?} differs from the bundle's publicKey hint {hint:?}")]
    KeyIdMismatch {
        /// The signature's keyid.
        keyid: String,
        /// The bundle's hint.
        hint: String,
    },
    /// No key in the policy has this hint.
    #[error("the policy trusts no key with hint {hint}")]
    UnknownKey {
        /// The bundle's hint.
        hint: String,
    },
    /// The key is in the policy, but not for this moment.
    #[error("key {hint} is valid from {start} until {}, not at {at}", end.map_or("(open)".to_owned(), |e| e.to_string()))]
    KeyNotValidAt {
        /// The key's hint.
        hint: String,
        /// When we checked.
        at: Timestamp,
        /// Start of its validity window.
        start: Timestamp,
        /// End of its validity window.
        end: Option<Timestamp>,
    },
    /// The key may not sign for this product.
    #[error("key {hint} may not sign product {product:?} (allowed: {allowed:?})")]
    ProductNotAllowed {
        /// The key's hint.
        hint: String,
        /// The product claimed.
        product: String,
        /// The products the policy allows.
        allowed: Vec<String>,
    },
    /// The cryptographic check failed.
    #[error("DSSE signature: {0}")]
    Signature(#[source] custody_crypto::Error),
    /// Signing failed in the backend.
    #[error("signing failed: {0}")]
    Signing(#[source] custody_crypto::Error),
    /// A DSSE payload type other than in-toto's.
    #[error("DSSE payloadType is {found:?}, expected {expected:?}")]
    PayloadType {
        /// What the envelope says.
        found: String,
        /// in-toto's payload type.
        expected: &'static str,
    },
    /// The Statement's `_type` is not in-toto Statement v1.
    #[error("statement _type is {found:?}, expected {expected:?}")]
    StatementType {
        /// What the payload says.
        found: String,
        /// The v1 type URI.
        expected: &'static str,
    },
    /// The predicate is not the kind this check needs.
    #[error("predicateType is {found:?}, expected {expected:?}")]
    PredicateType {
        /// What the statement says.
        found: String,
        /// What the check needs.
        expected: &'static str,
    },
    /// No subject carries the artifact's digest.
    #[error("no statement subject has the artifact's sha256 {sha256} (subjects: {subjects:?})")]
    SubjectMismatch {
        /// The artifact's SHA-256.
        sha256: String,
        /// The subjects' names.
        subjects: Vec<String>,
    },
    /// A subject matched on SHA-256 but disagrees on SHA-512.
    #[error("subject {name:?} matches sha256 but its sha512 differs from the artifact's")]
    Sha512Mismatch {
        /// The subject's name.
        name: String,
    },
    /// The provenance names a builder the policy does not expect.
    #[error("builder id is {found:?}, policy expects {expected:?}")]
    BuilderMismatch {
        /// The policy's builder id.
        expected: String,
        /// The provenance's builder id.
        found: String,
    },
    /// The provenance names a different source repository.
    #[error("source repository is {found:?}, policy expects {expected:?}")]
    SourceMismatch {
        /// The policy's repository.
        expected: String,
        /// The provenance's repository.
        found: String,
    },
    /// The provenance was built from a different ref or commit than asked for.
    #[error("source ref is {found:?} (commit {commit}), expected {expected:?}")]
    SourceRefMismatch {
        /// What the caller asked for.
        expected: String,
        /// The provenance's ref.
        found: String,
        /// The provenance's commit.
        commit: String,
    },
    /// The release is not the version asked for.
    #[error("version is {found:?}, expected {expected:?}")]
    VersionMismatch {
        /// What the caller asked for.
        expected: String,
        /// What the signed statement says.
        found: String,
    },
    /// The release is not the product asked for.
    #[error("product is {found:?}, expected {expected:?}")]
    ProductMismatch {
        /// What the caller or the provenance says.
        expected: String,
        /// What the manifest says.
        found: String,
    },
    /// The manifest does not list the artifact.
    #[error("the manifest of {product} {version} does not list an artifact with sha256 {sha256}")]
    NotInManifest {
        /// The manifest's product.
        product: String,
        /// The manifest's version.
        version: String,
        /// The artifact's digest.
        sha256: String,
    },
    /// A bundle's transparency-log entry is malformed or does not match the bundle.
    #[error("transparency log entry: {rule}")]
    LogEntry {
        /// The rule it breaks.
        rule: &'static str,
    },
    /// The entry names a log the trusted root does not list.
    #[error("transparency log entry is from log {log_id}, which the trusted root does not list")]
    UnknownLog {
        /// The entry's base64 log id.
        log_id: String,
    },
    /// The log's key is listed, but not for this moment.
    #[error("the trusted root's key for log {origin} is not valid at {at}")]
    LogKeyNotValidAt {
        /// The log's origin.
        origin: String,
        /// When we checked.
        at: Timestamp,
    },
    /// The checkpoint is not signed by the trusted log key, or is malformed.
    #[error("checkpoint of log {origin}: {source}")]
    Checkpoint {
        /// The log's origin.
        origin: String,
        /// Why it was rejected (boxed: log errors are large and rare).
        source: Box<custody_tlog::Error>,
    },
    /// The inclusion proof does not lead to the checkpoint's root.
    #[error("inclusion of entry {index} in log {origin}: {source}")]
    Inclusion {
        /// The log's origin.
        origin: String,
        /// The entry's index.
        index: u64,
        /// Why it was rejected (boxed: log errors are large and rare).
        source: Box<custody_tlog::Error>,
    },
    /// The checkpoint lacks the witness cosignatures the policy requires, or carries a bad one
    /// from a witness the policy names.
    #[error("witness cosignatures on the checkpoint of log {origin}: {source}")]
    Witnesses {
        /// The log's origin.
        origin: String,
        /// Why (boxed: log errors are large and rare).
        source: Box<custody_tlog::Error>,
    },
    /// The trusted root lists logs but the bundle carries no entry from any of them.
    #[error(
        "the bundle carries no transparency log entry, but the trusted root requires one from {logs:?}"
    )]
    NotLogged {
        /// The origins of the trusted logs.
        logs: Vec<String>,
    },
    /// A policy or trust file that makes no sense.
    #[error("{what}: {rule}")]
    InvalidDocument {
        /// Which document.
        what: &'static str,
        /// The rule it breaks.
        rule: &'static str,
    },
    /// A public key in a policy or trust file could not be read.
    #[error("{what}: key {hint:?}: {source}")]
    BadKey {
        /// Which document.
        what: &'static str,
        /// The hint recorded beside the key.
        hint: String,
        /// Why the key was rejected.
        source: custody_crypto::Error,
    },
    /// The key was rotated or revoked, and no log is trusted to date its signature.
    #[error(
        "key {hint} was rotated or revoked, and the trusted root lists no transparency log to show when it signed"
    )]
    NoLogToDate {
        /// The key's hint.
        hint: String,
    },
    /// The signing key was replaced, and this signature was logged after that.
    #[error("key {} was replaced at {}, when log {} held {} entries; this signature is entry {} of log {}, logged after", .0.hint, .0.at, .0.log, .0.size, .0.index, .0.origin)]
    KeyRotated(Box<LoggedAfterRotation>),
    /// The signing key was revoked, and nothing proves this signature older than that.
    #[error("key {hint} was revoked from {since}: {reason}; {}", earliest.map_or_else(|| "no witness the policy names cosigned this entry to prove it older".to_owned(), |t| format!("the earliest witness cosignature of this entry is at {t}, not before")))]
    KeyRevoked {
        /// The key's hint.
        hint: String,
        /// The revocation's start.
        since: jiff::Timestamp,
        /// Why it was revoked.
        reason: String,
        /// The earliest time a witness cosigned the entry, if any did.
        earliest: Option<jiff::Timestamp>,
    },
    /// A key asked to sign C2SP notes (checkpoints, cosignatures) is not Ed25519, the only
    /// algorithm notes have.
    #[error("a note key must be Ed25519, and key {hint} is {algorithm}")]
    NoteKeyNotEd25519 {
        /// The key's hint.
        hint: String,
        /// Its algorithm.
        algorithm: String,
    },
    /// Fewer distinct approvers than the policy's threshold signed the release's manifest.
    #[error(
        "{} {} needs approval by {} of its {} approvers; {}{}",
        .0.product, .0.version, .0.threshold, .0.approvers,
        if .0.approved.is_empty() { "none approved it".to_owned() } else { format!("{} did: {}", .0.approved.len(), .0.approved.join(", ")) },
        if .0.ignored.is_empty() { String::new() } else { format!(" (not counted: {})", .0.ignored.join("; ")) }
    )]
    ApprovalsBelowThreshold(Box<ShortOfApprovals>),
    /// The policy asks approvals of the product's releases, and the manifest they sign is not
    /// at hand.
    #[error(
        "{product}'s releases need approval by {threshold} approvers, which sign the release manifest; no manifest.json was given"
    )]
    ApprovalNeedsManifest {
        /// The product.
        product: String,
        /// How many must approve.
        threshold: usize,
    },
}

/// A release short of approvals ([`Error::ApprovalsBelowThreshold`]).
#[derive(Debug)]
pub struct ShortOfApprovals {
    /// The product.
    pub product: String,
    /// The version.
    pub version: String,
    /// How many must approve.
    pub threshold: usize,
    /// How many approvers the policy names.
    pub approvers: usize,
    /// The approvers whose signature counts.
    pub approved: Vec<String>,
    /// The signatures that do not count, each with why.
    pub ignored: Vec<String>,
}

/// A signature by a replaced key, logged after the replacement ([`Error::KeyRotated`]).
#[derive(Debug)]
pub struct LoggedAfterRotation {
    /// The key's hint.
    pub hint: String,
    /// When it was replaced.
    pub at: jiff::Timestamp,
    /// The log the rotation names.
    pub log: String,
    /// Its size at the rotation.
    pub size: u64,
    /// The entry's index.
    pub index: u64,
    /// The entry's log.
    pub origin: String,
}

impl Error {
    pub(crate) fn json(what: &'static str) -> impl FnOnce(serde_json::Error) -> Self {
        move |source| Self::Json { what, source }
    }
}
