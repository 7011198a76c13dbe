use std::path::PathBuf;

/// What went wrong reading config, inspecting the source, or reading and writing the site.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file or directory could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// A file is larger than custody reads for its kind.
    #[error("{}: {size} bytes is over the {limit}-byte limit for a {what}", path.display())]
    TooLarge {
        /// The path.
        path: PathBuf,
        /// What it was supposed to be.
        what: &'static str,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// `custody.toml` is not valid.
    #[error("{}: {source}", path.display())]
    Config {
        /// The config file.
        path: PathBuf,
        /// The TOML parser's account.
        source: toml::de::Error,
    },
    /// No `custody.toml` where one was expected.
    #[error("{}: no custody.toml here; run `custody init` first", .0.display())]
    NotInitialised(PathBuf),
    /// A document (policy, trusted root, bundle) was rejected.
    #[error("{}: {source}", path.display())]
    Document {
        /// The file.
        path: PathBuf,
        /// Why.
        source: custody_attest::Error,
    },
    /// Hashing or key handling failed.
    #[error("{0}")]
    Crypto(#[from] custody_crypto::Error),
    /// A key file was rejected.
    #[error("{}: {source}", path.display())]
    Key {
        /// The key file.
        path: PathBuf,
        /// Why.
        source: custody_crypto::Error,
    },
    /// Building, signing or checking a document failed.
    #[error("{0}")]
    Attest(#[from] custody_attest::Error),
    /// `git` could not be run or failed.
    #[error("git {args}: {reason}")]
    Git {
        /// The git arguments.
        args: String,
        /// What went wrong.
        reason: String,
    },
    /// The working tree has uncommitted changes.
    #[error("the source tree at {} has uncommitted changes ({count} path(s), first: {first})", dir.display())]
    DirtyTree {
        /// The tree.
        dir: PathBuf,
        /// How many paths differ.
        count: usize,
        /// The first of them.
        first: String,
    },
    /// Published versions are immutable.
    #[error("{product} {version} is already published at {}; published versions are immutable, release a new version", path.display())]
    AlreadyPublished {
        /// The product.
        product: String,
        /// The version.
        version: String,
        /// Where it is.
        path: PathBuf,
    },
    /// A release of this version already waits for its approvals.
    #[error("{product} {version} already awaits approval at {}; approve it (custody release approve) or remove that directory to release it again", path.display())]
    AlreadyHeld {
        /// The product.
        product: String,
        /// The version.
        version: String,
        /// Where it waits.
        path: PathBuf,
    },
    /// No release of this version awaits approval.
    #[error("no release of {product} {version} awaits approval")]
    NotHeld {
        /// The product.
        product: String,
        /// The version.
        version: String,
    },
    /// The log's entry records another signature than the bundle said to be recorded there.
    #[error("the log's entry {index} records another signature")]
    EntryDiffers {
        /// The entry.
        index: u64,
    },
    /// A product or version that cannot be a path component.
    #[error(
        "invalid {what} {value:?}: use letters, digits, '.', '-', '_' and '+', not starting with '.'"
    )]
    BadName {
        /// `product` or `version`.
        what: &'static str,
        /// The value.
        value: String,
    },
    /// Two artifacts with the same file name would overwrite each other.
    #[error("two artifacts are named {0:?}; artifact file names must be unique in a release")]
    DuplicateArtifact(String),
    /// The signing key is not among the keys the site's policy trusts.
    #[error("the signing key {hint} is not in {}; customers could not verify this release", policy.display())]
    KeyNotInPolicy {
        /// The key's hint.
        hint: String,
        /// The policy file.
        policy: PathBuf,
    },
    /// The TUF repository refused an edit or could not be read.
    #[error("TUF repository: {0}")]
    Tuf(#[from] custody_tuf::Error),
    /// The transparency log failed.
    #[error("transparency log: {0}")]
    Log(#[from] custody_tlog::Error),
    /// Checkpoints are signed with Ed25519 (C2SP signed notes); another key type was given.
    #[error("the transparency log key must be an Ed25519 key")]
    LogKeyNotEd25519,
    /// `[log] store` names an `s3://` bucket, but this build has no S3 support.
    #[error(
        "[log] store = {store:?}: this custody was built without S3 support; rebuild with `cargo build --features s3`"
    )]
    LogStoreNeedsS3 {
        /// The configured store.
        store: String,
    },
    /// `[log] store` is neither absent nor an `s3://bucket/prefix` URL.
    #[error("[log] store = {store:?}: expected s3://bucket/prefix (or no store: the site's log/)")]
    BadLogStore {
        /// The configured store.
        store: String,
    },
    /// The bundle already carries a transparency-log entry; logging it again would record the
    /// same signature twice.
    #[error("the bundle is already logged: it carries an entry at index {index}")]
    BundleCarriesEntry {
        /// The `logIndex` of its first entry.
        index: String,
    },
    /// The log already holds an entry recording this very signature.
    #[error("this signature is already in the log, at index {index}")]
    AlreadyLogged {
        /// The existing entry's index.
        index: u64,
    },
    /// The passphrase could not be obtained.
    #[error("no passphrase: {0}")]
    Passphrase(&'static str),
}
