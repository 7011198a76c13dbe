//! One error enum for the service layer. Each variant names what was wrong and carries the
//! values involved; [`Error::kind`] is the one place that says whether the caller's input was
//! at fault, a rule refused, or an operation failed, which the CLI turns into an exit code and
//! the server into an HTTP status.

use std::path::PathBuf;

use custody_vuln::report::FailOn;

use crate::gate::Blocking;
use crate::transport::TransportError;

/// How an error should be reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input was unreadable, malformed or missing (CLI exit 2; HTTP 400).
    Input,
    /// A rule refused the request: the gate, the policy, a dirty tree (CLI exit 1; HTTP 422).
    Refused,
    /// The thing exists already and is immutable (CLI exit 1; HTTP 409).
    Conflict,
    /// What was asked for does not exist (CLI exit 1; HTTP 404).
    NotFound,
    /// No valid credentials came with the request (HTTP 401).
    Unauthenticated,
    /// The credentials do not allow this (HTTP 403).
    Forbidden,
    /// The service is not set up for this (HTTP 503).
    Unavailable,
    /// An operation failed on the way: storage, signing, the catalog (CLI exit 1; HTTP 500).
    Failed,
}

/// Everything a service operation can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An input the caller named (the project, a name, a file) was rejected.
    #[error(transparent)]
    Input(Box<custody_site::Error>),
    /// The site, its log or its TUF repository refused or failed.
    #[error(transparent)]
    Site(Box<custody_site::Error>),
    /// A file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// A project, lockfile, binary or SBOM could not be read as a component graph (the error
    /// names the file).
    #[error(transparent)]
    SbomInput(custody_sbom::Error),
    /// An OpenVEX file was rejected.
    #[error("VEX file {}: {source}", path.display())]
    Vex {
        /// The file.
        path: PathBuf,
        /// Why.
        source: Box<custody_vuln::Error>,
    },
    /// No advisory source has been imported into the database.
    #[error(
        "no advisories imported in {}: import a directory of OSV files, an osv.dev zip, or the \
         RustSec database first",
        dir.display()
    )]
    NoAdvisories {
        /// The database directory.
        dir: PathBuf,
    },
    /// The advisory database could not be read.
    #[error("reading the advisory database {}: {source}", dir.display())]
    AdvisoryDb {
        /// The database directory.
        dir: PathBuf,
        /// Why.
        source: Box<custody_vuln::Error>,
    },
    /// A file given as an advisory source is not a zip archive.
    #[error(
        "{}: not a zip archive; import a directory of OSV files, an osv.dev zip, or the RustSec \
         database directory",
        path.display()
    )]
    NotAnAdvisorySource {
        /// The file.
        path: PathBuf,
    },
    /// Advisories over plain HTTP from another host could be altered on the way, hiding a
    /// vulnerability from every later scan.
    #[error(
        "refusing to download advisories over plain HTTP from {url}: anyone on the path could \
         change them; use https://"
    )]
    InsecureHttp {
        /// The URL.
        url: String,
    },
    /// A source needs a name and none could be derived from where it came from.
    #[error("cannot name a source after {origin}: give it a name")]
    UnnamedSource {
        /// The path or URL.
        origin: String,
    },
    /// An advisory download failed.
    #[error("downloading {url}: {source}")]
    Download {
        /// The URL.
        url: String,
        /// Why.
        source: TransportError,
    },
    /// A downloaded advisory source is not a zip archive.
    #[error(
        "{url} is not a zip archive ({bytes} bytes): a URL import takes an osv.dev-style all.zip"
    )]
    DownloadNotZip {
        /// The URL.
        url: String,
        /// What was downloaded.
        bytes: u64,
    },
    /// Importing a source failed.
    #[error("importing {}: {source}", origin.display())]
    Import {
        /// The path or URL.
        origin: PathBuf,
        /// Why.
        source: Box<custody_vuln::Error>,
    },
    /// `[vulndb] fail_on` is not a threshold.
    #[error(
        "[vulndb] fail_on = {value:?} in custody.toml is not a threshold (any, low, medium, high, \
         critical, none)"
    )]
    FailOn {
        /// The configured value.
        value: String,
    },
    /// The gate is on but there is no database to scan against.
    #[error(
        "no advisories imported in {}: the release gate scans the SBOM against the advisory \
         database ([vulndb] fail_on = {fail_on}); import one, or release unscanned (recorded in \
         the release)",
        dir.display()
    )]
    GateNeedsDatabase {
        /// The database directory.
        dir: PathBuf,
        /// The threshold in force.
        fail_on: FailOn,
    },
    /// The gate refused the release: findings at or above the threshold that no VEX statement
    /// covers.
    #[error("{}", crate::gate::refusal(blocking, fail_on, product))]
    GateRefused {
        /// The product.
        product: String,
        /// The threshold.
        fail_on: FailOn,
        /// Each finding that stops the release.
        blocking: Vec<Blocking>,
    },
    /// A document could not be serialised.
    #[error("serialising {what}: {source}")]
    Serialise {
        /// Which document.
        what: &'static str,
        /// Why.
        source: serde_json::Error,
    },
    /// The catalog could not be opened, read or written.
    #[error("the catalog {location}: {source}")]
    Catalog {
        /// The catalog file, or its database URL without the password.
        location: String,
        /// Why.
        source: Box<custody_catalog::Error>,
    },
    /// A directory named as a published release is not one.
    #[error("{}: not a release directory (site/releases/<product>/<version>)", dir.display())]
    NotAReleaseDir {
        /// The directory.
        dir: PathBuf,
    },
    /// A release without an SBOM cannot be monitored.
    #[error(
        "{}: no sbom.cdx.json (released without an SBOM), so there is nothing to monitor",
        dir.display()
    )]
    ReleaseWithoutSbom {
        /// The release directory.
        dir: PathBuf,
    },
    /// A key the operation needs was not unlocked.
    #[error("{}: key not loaded", path.display())]
    KeyMissing {
        /// The key's path.
        path: PathBuf,
    },
    /// A rotation of an online role whose key is in a token: the rotation stages key files.
    #[error(
        "the {role} key is in a token ({key}): rotating a key held in a token is not supported yet"
    )]
    RotateTokenKey {
        /// The role.
        role: String,
        /// Its configured key.
        key: String,
    },
    /// No key of this hint is in the site's policy.
    #[error("{}: the policy has no key {hint}", policy.display())]
    KeyNotInPolicy {
        /// The hint asked for.
        hint: String,
        /// The policy file.
        policy: PathBuf,
    },
    /// The key to revoke is the release key in force: its revocation would be signed by itself.
    #[error("key {hint} is the release key in force: replace it first, then revoke it")]
    RevokingCurrentKey {
        /// The key's hint.
        hint: String,
    },
    /// The key is revoked already.
    #[error("key {hint} is revoked already, from {since}")]
    KeyAlreadyRevoked {
        /// The key's hint.
        hint: String,
        /// Its revocation's start.
        since: jiff::Timestamp,
    },
    /// A published log entry records another signature than the bundle naming it.
    #[error("the log's entry {index} records another signature than this bundle's")]
    EntryRecordsAnother {
        /// The entry.
        index: u64,
    },
    /// One key serves two duties (separate duties: each key its own).
    #[error("the {first} key is also the {second} key ({key}): give each duty a key of its own")]
    SharedKey {
        /// The first duty.
        first: &'static str,
        /// The second.
        second: &'static str,
        /// The key: its hint, or where it is configured.
        key: String,
    },
    /// A key in a PKCS#11 token could not be reached, unlocked or made.
    #[error(transparent)]
    Pkcs11(#[from] custody_pkcs11::Error),
    /// The key source could not unlock a key (a wrong passphrase, an unreadable file).
    #[error(transparent)]
    Unlock(Box<dyn std::error::Error + Send + Sync>),
    /// A file could not be hashed.
    #[error("hashing {}: {source}", path.display())]
    Hash {
        /// The file.
        path: PathBuf,
        /// Why.
        source: custody_crypto::Error,
    },
    /// Building or signing an attestation failed.
    #[error(transparent)]
    Attest(#[from] custody_attest::Error),
    /// The TUF repository refused an edit or could not be read.
    #[error("{}: {source}", dir.display())]
    Tuf {
        /// The repository.
        dir: PathBuf,
        /// Why.
        source: custody_tuf::Error,
    },
    /// The TUF repository needs its three online keys.
    #[error("expected the three online TUF keys (targets, snapshot, timestamp), got {found}")]
    OnlineKeys {
        /// How many were given.
        found: usize,
    },
    /// A configured witness is unusable.
    #[error("[log] witness {name}: {source}")]
    Witness {
        /// The witness's name.
        name: String,
        /// Why.
        source: Box<custody_tlog::Error>,
    },
    /// An artifact digest that is not `sha256:HEX` or `HEX`.
    #[error("{text:?} is not a SHA-256 digest (sha256:HEX or HEX): {source}")]
    BadDigest {
        /// The text given.
        text: String,
        /// Why.
        source: custody_crypto::Error,
    },
    /// A verifier key that is not a signed-note key.
    #[error("{location}: not a verifier key: {source}")]
    VerifierKey {
        /// Where it came from.
        location: String,
        /// Why.
        source: Box<custody_tlog::Error>,
    },
    /// A text file holds bytes that are not UTF-8.
    #[error("{}: not UTF-8 text", path.display())]
    NotUtf8 {
        /// The file.
        path: PathBuf,
    },
    /// The log's store could not be opened.
    #[error("{location}: {source}")]
    LogStore {
        /// The log's location.
        location: String,
        /// Why.
        source: Box<custody_site::Error>,
    },
    /// A log file the reader needs is missing.
    #[error("{location}: not found")]
    LogFileMissing {
        /// The file's location.
        location: String,
    },
    /// A log file is larger than such a file can be.
    #[error("{location}: over the {limit}-byte limit")]
    LogFileTooLarge {
        /// The file's location.
        location: String,
        /// The limit.
        limit: usize,
    },
    /// Reading or verifying the log failed.
    #[error("{location}: {source}")]
    Log {
        /// Where.
        location: String,
        /// Why.
        source: Box<custody_tlog::Error>,
    },
    /// A checkpoint a monitor fetched is not validly signed, or its stored state is unusable.
    #[error("{location}: {source}")]
    CheckpointRejected {
        /// Where.
        location: String,
        /// Why.
        source: Box<custody_tlog::Error>,
    },
    /// An entry index outside the tree, or an entry that cannot be read.
    #[error("entry {index}: {source}")]
    Entry {
        /// The index.
        index: u64,
        /// Why.
        source: Box<custody_tlog::Error>,
    },
    /// The lookup index records no entry for a digest.
    #[error("no entries name sha256:{sha256}")]
    NoEntries {
        /// The digest, hex.
        sha256: String,
    },
    /// Cosignatures were asked for, but the configuration names no witness.
    #[error("custody.toml names no [log] witnesses to ask")]
    NoWitnesses,
    /// The log refused to record a bundle.
    #[error("{}: {source}", bundle.display())]
    Append {
        /// The bundle.
        bundle: PathBuf,
        /// Why.
        source: Box<custody_site::Error>,
    },
    /// The project has no TUF repository.
    #[error("{}: no TUF repository here; create one first", dir.display())]
    NoRepository {
        /// Where it was expected.
        dir: PathBuf,
    },
    /// A TUF repository exists already.
    #[error("{} already holds a TUF repository", dir.display())]
    RepositoryExists {
        /// The repository.
        dir: PathBuf,
    },
    /// A root threshold no set of the root keys can meet, or that one key meets alone by
    /// mistake of zero.
    #[error(
        "the root threshold {threshold} must be between 1 and the number of root keys ({keys})"
    )]
    RootThreshold {
        /// The threshold asked for.
        threshold: u64,
        /// The root keys asked for.
        keys: usize,
    },
    /// A key file exists where a new key would be written.
    #[error("{} already exists; refusing to overwrite a key", path.display())]
    KeyExists {
        /// The key file.
        path: PathBuf,
    },
    /// A rotation of the role is staged already.
    #[error(
        "{} exists: a rotation of {role} is already staged; publish it, or delete it to start over",
        path.display()
    )]
    RotationStaged {
        /// The role.
        role: String,
        /// The staged next key.
        path: PathBuf,
    },
    /// An online role takes exactly one new key.
    #[error("the online role {role} takes exactly one new key (a private key file), not {given}")]
    OnlineRoleKeys {
        /// The role.
        role: String,
        /// How many were given.
        given: usize,
    },
    /// Rotating root needs the new root public keys.
    #[error("rotating root needs each new root public key")]
    RootRotationWithoutKeys,
    /// A staged root file is not TUF root metadata.
    #[error("{}: {source}", path.display())]
    StagedRoot {
        /// The file.
        path: PathBuf,
        /// Why.
        source: Box<custody_tuf::Error>,
    },
    /// Installing or retiring a key file failed.
    #[error("installing {what} at {}: {source}", path.display())]
    Install {
        /// Which file.
        what: &'static str,
        /// Where.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The installation has no trusted TUF root yet, and none was given.
    #[error("{} has no trusted TUF root yet: give the supplier's 1.root.json", dir.display())]
    NoTrustedRoot {
        /// The installation directory.
        dir: PathBuf,
    },
    /// The repository lists no such release.
    #[error(
        "{repo} lists no release {product}{}",
        version.as_deref().map(|v| format!(" {v}")).unwrap_or_default()
    )]
    ReleaseNotListed {
        /// The repository.
        repo: String,
        /// The product.
        product: String,
        /// The version asked for, if one was.
        version: Option<String>,
    },
    /// The repository lists only pre-releases, and none was asked for.
    #[error("{repo} lists only pre-releases of {product}")]
    OnlyPrereleases {
        /// The repository.
        repo: String,
        /// The product.
        product: String,
    },
    /// The installation holds another product.
    #[error("{} holds {installed}, not {wanted}", dir.display())]
    OtherProductInstalled {
        /// The installation directory.
        dir: PathBuf,
        /// What it holds.
        installed: String,
        /// What was asked for.
        wanted: String,
    },
    /// The version offered is older than the one installed.
    #[error(
        "refusing to downgrade {product} from {installed} to {offered} (the repository may be \
         replaying an old release; TUF would have caught a rolled-back repository, this is a \
         second line)"
    )]
    Downgrade {
        /// The product.
        product: String,
        /// The version installed.
        installed: String,
        /// The older version offered.
        offered: String,
    },
    /// An artifact TUF delivered did not verify against the supplier's policy.
    #[error("{artifact}: {check} check failed: {detail}")]
    NotVerified {
        /// The artifact's target path.
        artifact: String,
        /// The failing check.
        check: String,
        /// Why.
        detail: String,
    },
    /// The install record is not readable.
    #[error("{}: {source}", path.display())]
    InstallRecord {
        /// The record.
        path: PathBuf,
        /// Why.
        source: serde_json::Error,
    },
    /// A product name that cannot name its VEX file.
    #[error("product {product:?} cannot be a file name")]
    ProductNotAFileName {
        /// The product.
        product: String,
    },
    /// The pipeline says its tree had uncommitted changes, and the release did not allow it.
    #[error(
        "the source {repository} at {commit} had uncommitted changes; publish from a clean \
         tree, or allow a dirty one (the provenance records it)"
    )]
    DirtySource {
        /// The repository.
        repository: String,
        /// The commit.
        commit: String,
    },
    /// An upload's content does not have the digest it was sent under.
    #[error(
        "the upload for sha256:{expected} has sha256:{actual} ({size} bytes): truncated or corrupted on the way; nothing was kept"
    )]
    UploadDigest {
        /// The digest it was sent under.
        expected: String,
        /// The digest of what arrived.
        actual: String,
        /// How much arrived.
        size: u64,
    },
    /// An upload stopped arriving.
    #[error("the upload stopped after {received} bytes ({reason}); nothing was kept")]
    UploadInterrupted {
        /// How much arrived.
        received: u64,
        /// Why it stopped.
        reason: String,
    },
    /// An upload is larger than the server takes.
    #[error("the upload is over the limit of {limit} bytes; nothing was kept")]
    UploadTooLarge {
        /// The limit.
        limit: u64,
    },
    /// A release names an upload the server does not have.
    #[error("no upload sha256:{sha256} for product {product}: upload {name} first")]
    UploadMissing {
        /// The product.
        product: String,
        /// The artifact's name.
        name: String,
        /// Its digest.
        sha256: String,
    },
    /// A version is published already, with other contents.
    #[error(
        "{product} {version} is published already with other artifacts; published versions are immutable"
    )]
    PublishedDifferently {
        /// The product.
        product: String,
        /// The version.
        version: String,
    },
    /// A custody server refused a request.
    #[error("{url}: {status}: {reason}")]
    ServerRefused {
        /// The request's URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The server's error.
        reason: String,
    },
    /// A custody server could not be reached.
    #[error("{url}: {reason}")]
    ServerUnreachable {
        /// The request's URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// This server does not publish (its keys could not be unlocked when it started).
    #[error("publishing is not enabled on this server: {reason}")]
    PublishingDisabled {
        /// Why.
        reason: String,
    },
    /// Stored data that should be JSON is not.
    #[error("{what} is not JSON: {source}")]
    NotJson {
        /// Which data.
        what: &'static str,
        /// The parser's account.
        source: serde_json::Error,
    },
    /// A request body is not the JSON it should be.
    #[error("{what} is not valid JSON: {source}")]
    RequestJson {
        /// Which request.
        what: &'static str,
        /// The parser's account.
        source: serde_json::Error,
    },
    /// The log's lookup index was lost and not rebuilt: a lookup would miss entries.
    #[error(
        "the log's lookup index {} was lost and does not cover the whole log; rebuild it from \
         the site before looking entries up",
        path.display()
    )]
    LookupIndexLost {
        /// The index file.
        path: PathBuf,
    },
    /// A webhook URL the server will not post to.
    #[error("webhook {url}: {reason}")]
    WebhookUrl {
        /// The URL.
        url: String,
        /// Why not.
        reason: String,
    },
    /// No registered webhook has this id.
    #[error("no webhook {id}")]
    UnknownWebhook {
        /// The id asked for.
        id: String,
    },
    /// A VEX status or justification OpenVEX does not define.
    #[error("{value:?} is not an OpenVEX {what}")]
    UnknownVexValue {
        /// `status` or `justification`.
        what: &'static str,
        /// What was given.
        value: String,
    },
    /// A scope name that is not an action.
    #[error("{scope:?} is not a scope (publish, vex, advisories, webhooks, read, admin)")]
    UnknownScope {
        /// The name given.
        scope: String,
    },
    /// A signed-in form came without the value its page carried: posted from another site,
    /// or from a page of an earlier session.
    #[error("the form is not one this session's page made; reload the page and try again")]
    FormTokenMismatch,
    /// The catalog holds no release of this product.
    #[error("no release of {product} in the catalog")]
    ProductNotInCatalog {
        /// The product.
        product: String,
    },
    /// Neither the catalog nor the advisory database knows this advisory.
    #[error("advisory {id} is neither in the advisory database nor recorded against a release")]
    AdvisoryNotFound {
        /// The id asked for.
        id: String,
    },
    /// The catalog holds no such release.
    #[error("no release {product} {version} in the catalog")]
    ReleaseNotInCatalog {
        /// The product.
        product: String,
        /// The version.
        version: String,
    },
    /// A token must allow at least one action.
    #[error("a token needs at least one scope")]
    TokenWithoutScope,
    /// A token's lifetime runs past the last representable time.
    #[error("a token's lifetime is too long")]
    TokenLifetime,
    /// No token has this id.
    #[error("no token {id}")]
    UnknownToken {
        /// The id asked for.
        id: String,
    },
    /// A request's token was not accepted.
    #[error(transparent)]
    Access(#[from] crate::access::Refusal),
    /// The system's random number generator failed.
    #[error("the system's random number generator failed")]
    Randomness,
    /// A key could not be made, encoded or decoded.
    #[error("{}: {source}", path.display())]
    KeyCrypto {
        /// The key's path.
        path: PathBuf,
        /// Why.
        source: custody_crypto::Error,
    },
    /// A log named as a directory is not one.
    #[error("{}: no such log directory", path.display())]
    NotALogDirectory {
        /// The path.
        path: PathBuf,
    },
    /// The policy asks no approvals of the product's releases.
    #[error(
        "the policy asks no approvals of {product}'s releases (custody key approvers {product} ... sets a rule)"
    )]
    NoApprovalRule {
        /// The product.
        product: String,
    },
    /// The key is not one of the product's approvers.
    #[error("key {hint} is not an approver of {product}; its approvers are {}", approvers.join(", "))]
    NotAnApprover {
        /// The key's hint.
        hint: String,
        /// The product.
        product: String,
        /// The approvers' hints.
        approvers: Vec<String>,
    },
    /// This approver approved the release already.
    #[error("{hint} approved {product} {version} already; another approver must")]
    AlreadyApproved {
        /// The approver's hint.
        hint: String,
        /// The product.
        product: String,
        /// The version.
        version: String,
    },
    /// An approval given does not count: not a valid signature of one of the product's
    /// approvers over this release's manifest.
    #[error("the approval of {product} {version} does not count: {}", reasons.join("; "))]
    ApprovalNotCounted {
        /// The product.
        product: String,
        /// The version.
        version: String,
        /// Why, as the tally judged it.
        reasons: Vec<String>,
    },
    /// A server's answer lacks what it should carry.
    #[error("the server's answer lacks {what}")]
    ServerAnswer {
        /// What was missing.
        what: &'static str,
    },
    /// An approval sent is not a Sigstore bundle.
    #[error("the approval is not a Sigstore bundle: {0}")]
    MalformedApproval(#[source] Box<custody_attest::Error>),
    /// An approval rule breaks the policy's rules (a threshold out of range, an approver twice).
    #[error("{0}")]
    InvalidApprovalRule(#[source] Box<custody_attest::Error>),
    /// A held release does not have the approvals its product's rule asks.
    #[error("{0}")]
    NotApproved(#[source] Box<custody_attest::Error>),
    /// A step that the releases committed together share failed (the writer lock, the log
    /// append, the TUF commit): each release of the batch reports it.
    #[error(transparent)]
    Batch(std::sync::Arc<Error>),
    /// The commit of a release stopped without an answer (the thread committing it failed):
    /// nothing was acknowledged, so publishing it again is safe.
    #[error("the commit of {product} {version} stopped without finishing; publish it again")]
    CommitAbandoned {
        /// The product.
        product: String,
        /// The version.
        version: String,
    },
    /// The witness refused to cosign: the checkpoint is not consistent with what it cosigned.
    #[error("{log}: not cosigned: {source}")]
    NotCosigned {
        /// The log.
        log: String,
        /// Why.
        source: Box<custody_tlog::Error>,
    },
}

impl Error {
    /// How the error should be reported.
    pub fn kind(&self) -> ErrorKind {
        use custody_site::Error as Site;
        match self {
            Self::Input(_)
            | Self::Io { .. }
            | Self::SbomInput(_)
            | Self::Vex { .. }
            | Self::NoAdvisories { .. }
            | Self::AdvisoryDb { .. }
            | Self::NotAnAdvisorySource { .. }
            | Self::InsecureHttp { .. }
            | Self::UnnamedSource { .. }
            | Self::Download { .. }
            | Self::DownloadNotZip { .. }
            | Self::Import { .. }
            | Self::FailOn { .. }
            | Self::GateNeedsDatabase { .. }
            | Self::NotAReleaseDir { .. }
            | Self::ReleaseWithoutSbom { .. }
            | Self::Witness { .. }
            | Self::BadDigest { .. }
            | Self::VerifierKey { .. }
            | Self::NotUtf8 { .. }
            | Self::LogStore { .. }
            | Self::LogFileMissing { .. }
            | Self::LogFileTooLarge { .. }
            | Self::Log { .. }
            | Self::Entry { .. }
            | Self::NoEntries { .. }
            | Self::NoWitnesses
            | Self::NoRepository { .. }
            | Self::RepositoryExists { .. }
            | Self::RootThreshold { .. }
            | Self::KeyExists { .. }
            | Self::SharedKey { .. }
            | Self::KeyAlreadyRevoked { .. }
            | Self::RevokingCurrentKey { .. }
            | Self::EntryRecordsAnother { .. }
            | Self::RotateTokenKey { .. }
            | Self::RotationStaged { .. }
            | Self::OnlineRoleKeys { .. }
            | Self::RootRotationWithoutKeys
            | Self::StagedRoot { .. }
            | Self::NoTrustedRoot { .. }
            | Self::OnlyPrereleases { .. }
            | Self::ProductNotAFileName { .. }
            | Self::TokenWithoutScope
            | Self::TokenLifetime
            | Self::RequestJson { .. }
            | Self::MalformedApproval(_)
            | Self::UploadDigest { .. }
            | Self::UploadTooLarge { .. }
            | Self::UploadInterrupted { .. }
            | Self::UnknownScope { .. }
            | Self::UnknownVexValue { .. }
            | Self::WebhookUrl { .. }
            | Self::NotALogDirectory { .. }
            | Self::NoApprovalRule { .. }
            | Self::InvalidApprovalRule(_) => ErrorKind::Input,
            Self::NotAnApprover { .. } | Self::NotApproved(_) | Self::ApprovalNotCounted { .. } => {
                ErrorKind::Refused
            }
            Self::AlreadyApproved { .. } => ErrorKind::Conflict,
            Self::NotCosigned { .. } | Self::DirtySource { .. } | Self::LookupIndexLost { .. } => {
                ErrorKind::Refused
            }
            Self::UploadMissing { .. } => ErrorKind::NotFound,
            Self::PublishingDisabled { .. } => ErrorKind::Unavailable,
            Self::ServerRefused { .. }
            | Self::ServerUnreachable { .. }
            | Self::ServerAnswer { .. } => ErrorKind::Failed,
            Self::PublishedDifferently { .. } => ErrorKind::Conflict,
            Self::ReleaseNotListed { .. }
            | Self::UnknownToken { .. }
            | Self::UnknownWebhook { .. }
            | Self::ReleaseNotInCatalog { .. }
            | Self::ProductNotInCatalog { .. }
            | Self::KeyNotInPolicy { .. }
            | Self::AdvisoryNotFound { .. } => ErrorKind::NotFound,
            Self::Access(r) if r.is_unauthenticated() => ErrorKind::Unauthenticated,
            Self::Access(_) | Self::FormTokenMismatch => ErrorKind::Forbidden,
            Self::Pkcs11(e) => {
                use custody_pkcs11::Error as P;
                match e {
                    P::BadUri { .. } | P::NoModule => ErrorKind::Input,
                    P::WrongPin { .. } | P::PinLocked { .. } => ErrorKind::Refused,
                    P::TokenNotFound { .. } | P::KeyNotFound { .. } => ErrorKind::NotFound,
                    P::KeyExists { .. } | P::Ambiguous { .. } => ErrorKind::Conflict,
                    _ => ErrorKind::Failed,
                }
            }
            Self::Randomness | Self::NotJson { .. } | Self::CommitAbandoned { .. } => {
                ErrorKind::Failed
            }
            Self::Batch(shared) => shared.kind(),
            Self::OtherProductInstalled { .. }
            | Self::Downgrade { .. }
            | Self::NotVerified { .. } => ErrorKind::Refused,
            Self::CheckpointRejected { .. } => ErrorKind::Refused,
            Self::Append { source, .. } => match **source {
                custody_site::Error::AlreadyLogged { .. }
                | custody_site::Error::BundleCarriesEntry { .. } => ErrorKind::Conflict,
                _ => ErrorKind::Refused,
            },
            Self::Site(site) => match **site {
                Site::AlreadyPublished { .. }
                | Site::AlreadyHeld { .. }
                | Site::AlreadyLogged { .. } => ErrorKind::Conflict,
                Site::NotHeld { .. } => ErrorKind::NotFound,
                Site::DirtyTree { .. } | Site::KeyNotInPolicy { .. } => ErrorKind::Refused,
                _ => ErrorKind::Failed,
            },
            Self::GateRefused { .. } => ErrorKind::Refused,
            Self::Serialise { .. }
            | Self::Catalog { .. }
            | Self::KeyMissing { .. }
            | Self::Unlock(_)
            | Self::Hash { .. }
            | Self::Attest(_)
            | Self::Tuf { .. }
            | Self::OnlineKeys { .. }
            | Self::Install { .. }
            | Self::InstallRecord { .. }
            | Self::KeyCrypto { .. } => ErrorKind::Failed,
        }
    }
}

impl Error {
    /// A catalog operation failed: the error, naming where the catalog lives.
    pub(crate) fn catalog(
        catalog: &custody_catalog::Catalog,
        source: custody_catalog::Error,
    ) -> Self {
        Self::Catalog {
            location: catalog.location().to_owned(),
            source: Box::new(source),
        }
    }
}

impl From<custody_site::Error> for Error {
    fn from(e: custody_site::Error) -> Self {
        Self::Site(Box::new(e))
    }
}

impl Error {
    /// An input the caller named, rejected by the site layer (a name, the project's config).
    pub fn input(e: custody_site::Error) -> Self {
        Self::Input(Box::new(e))
    }
}

/// Maps an I/O error installing or retiring `what` at `path`.
pub(crate) fn install_failed<'a>(
    what: &'static str,
    path: &'a std::path::Path,
) -> impl FnOnce(std::io::Error) -> Error + 'a {
    move |source| Error::Install {
        what,
        path: path.to_path_buf(),
        source,
    }
}
