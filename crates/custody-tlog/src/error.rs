//! The crate's single error type.

use std::path::PathBuf;

/// Everything that can go wrong in custody-tlog.
///
/// Each variant names the rule that was broken and carries the values that disagreed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // ---- Merkle math (RFC 6962 §2.1, RFC 9162 §2.1.3–2.1.4) ----
    /// An inclusion proof was asked for an index that is not in the tree.
    #[error("leaf index {index} is not in a tree of size {size}")]
    IndexNotInTree {
        /// The leaf index.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// A consistency proof was asked from a larger tree to a smaller one.
    #[error("old tree size {old} is larger than new tree size {new}")]
    OldTreeLarger {
        /// The older size.
        old: u64,
        /// The newer size.
        new: u64,
    },
    /// A tree size beyond what this crate supports (2^62 leaves) was given.
    #[error("tree size {size} exceeds the supported maximum {max}")]
    TreeTooLarge {
        /// The size given.
        size: u64,
        /// The largest supported size.
        max: u64,
    },
    /// A proof has the wrong number of hashes for its tree sizes.
    #[error("proof has {actual} hashes, the tree shape needs {expected}")]
    ProofLength {
        /// Hashes the tree shape requires.
        expected: usize,
        /// Hashes in the proof.
        actual: usize,
    },
    /// The root recomputed from an inclusion proof is not the checkpoint root.
    #[error(
        "inclusion proof for leaf {index} gives root {computed}, tree of size {size} has root {expected}"
    )]
    InclusionRootMismatch {
        /// The leaf index.
        index: u64,
        /// The tree size.
        size: u64,
        /// Root recomputed from the proof.
        computed: crate::Hash,
        /// Root the proof was checked against.
        expected: crate::Hash,
    },
    /// A consistency proof does not reproduce both roots.
    #[error("consistency proof {old_size} -> {new_size} does not reproduce the {which} root")]
    ConsistencyRootMismatch {
        /// The older size.
        old_size: u64,
        /// The newer size.
        new_size: u64,
        /// `"old"` or `"new"`.
        which: &'static str,
    },
    /// Equal tree sizes with different roots: two views of one tree (a split view).
    #[error("trees of equal size {size} have different roots {old} and {new}")]
    SameSizeDifferentRoot {
        /// The common size.
        size: u64,
        /// One root.
        old: crate::Hash,
        /// The other root.
        new: crate::Hash,
    },
    /// A stored hash was asked for that a [`crate::HashReader`] does not have.
    #[error("stored hash {index} is not available")]
    HashNotAvailable {
        /// The stored-hash index.
        index: u64,
    },
    /// A [`crate::HashReader`] returned the wrong number of hashes.
    #[error("hash reader returned {actual} hashes for {expected} indexes")]
    HashReaderCount {
        /// Hashes asked for.
        expected: usize,
        /// Hashes returned.
        actual: usize,
    },
    /// A base64 string does not decode to a 32-byte hash.
    #[error("{context}: not a base64 SHA-256 hash: {value:?}")]
    BadHash {
        /// Where the hash appeared.
        context: &'static str,
        /// The text given.
        value: String,
    },

    // ---- tlog-tiles ----
    /// A tile's byte length is not width × 32.
    #[error("tile {path}: {actual} bytes, expected {expected}")]
    TileSize {
        /// The tile path.
        path: String,
        /// Expected length.
        expected: usize,
        /// Actual length.
        actual: usize,
    },
    /// A tile width outside 1..=256.
    #[error("tile width {width} is outside 1..=256")]
    TileWidth {
        /// The width given.
        width: u32,
    },
    /// A tile level above 63.
    #[error("tile level {level} is above 63")]
    TileLevel {
        /// The level given.
        level: u64,
    },
    /// A path that is not a tlog-tiles tile or entry bundle path.
    #[error("not a tlog-tiles path: {path:?}")]
    BadTilePath {
        /// The path given.
        path: String,
    },
    /// A tile or entry bundle that the tree needs is missing from storage.
    #[error("tile {path} is missing")]
    TileMissing {
        /// The tile path.
        path: String,
    },
    /// An entry longer than the uint16 length prefix of entry bundles allows.
    #[error("entry of {len} bytes exceeds the {max}-byte limit")]
    EntryTooLarge {
        /// The entry length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// An entry bundle ends inside a length prefix or an entry.
    #[error("entry bundle truncated in entry {entry}: needs {needed} more bytes, {available} left")]
    BundleTruncated {
        /// Index within the bundle of the broken entry.
        entry: usize,
        /// Bytes the entry needs.
        needed: usize,
        /// Bytes left in the bundle.
        available: usize,
    },
    /// An entry bundle has bytes after its last entry.
    #[error("entry bundle has {trailing} bytes after its {entries} entries")]
    BundleTrailingBytes {
        /// Entries parsed.
        entries: usize,
        /// Bytes left over.
        trailing: usize,
    },
    /// An entry bundle holds more than 256 entries, or fewer than its width says.
    #[error("entry bundle holds {actual} entries, expected {expected}")]
    BundleCount {
        /// Entries expected.
        expected: usize,
        /// Entries found.
        actual: usize,
    },

    // ---- signed notes (c2sp.org/signed-note) ----
    /// A note larger than the limit.
    #[error("note of {len} bytes exceeds {max}")]
    NoteTooLarge {
        /// Note length.
        len: usize,
        /// Limit.
        max: usize,
    },
    /// A note is not UTF-8.
    #[error("note is not valid UTF-8")]
    NoteNotUtf8,
    /// A note text is empty, does not end in a newline, or has no signature block.
    #[error("note has no text followed by a blank line and a signature block")]
    NoteMissingSignatureBlock,
    /// A note text contains a control character other than newline.
    #[error("note text contains control character {ch:?} at byte {offset}")]
    NoteControlCharacter {
        /// The character.
        ch: char,
        /// Its byte offset.
        offset: usize,
    },
    /// A signature line that is not `— name base64`.
    #[error("malformed signature line {line}: {text:?}")]
    BadSignatureLine {
        /// 1-based line within the signature block.
        line: usize,
        /// The line.
        text: String,
    },
    /// More signature lines than the limit.
    #[error("note has {count} signatures, more than {max}")]
    TooManySignatures {
        /// Lines found.
        count: usize,
        /// Limit.
        max: usize,
    },
    /// Two signatures from one known key.
    #[error("two signatures from key {name}+{key_id}")]
    DuplicateSignature {
        /// Key name.
        name: String,
        /// Key ID.
        key_id: crate::KeyId,
    },
    /// A signature from a known key does not verify.
    #[error("signature from key {name}+{key_id} does not verify")]
    InvalidSignature {
        /// Key name.
        name: String,
        /// Key ID.
        key_id: crate::KeyId,
    },
    /// No signature on the note is from a key the verifier knows.
    #[error("note has no signature from a known key (signed by: {signers:?})")]
    NoKnownSignature {
        /// `name+keyid` of each signature present.
        signers: Vec<String>,
    },
    /// A key name that is empty, has whitespace or `+`.
    #[error("bad key name {name:?}")]
    BadKeyName {
        /// The name.
        name: String,
    },
    /// A verifier or signer key string that does not parse.
    #[error("malformed {kind} key string: {reason}")]
    BadKeyString {
        /// `"verifier"` or `"signer"`.
        kind: &'static str,
        /// Which part is wrong.
        reason: &'static str,
    },
    /// A key string's key ID does not match its name and key.
    #[error("key {name}: key ID {stated} in the key string, {computed} computed")]
    KeyIdMismatch {
        /// Key name.
        name: String,
        /// Key ID written in the string.
        stated: crate::KeyId,
        /// Key ID computed from name and key.
        computed: crate::KeyId,
    },
    /// A key of a signature type this crate does not implement.
    #[error("unsupported key type 0x{key_type:02x}")]
    UnsupportedKeyType {
        /// The type byte.
        key_type: u8,
    },
    /// Text to sign breaks the note text rules.
    #[error("note text must be non-empty, end in a newline and have no blank line at its end")]
    BadNoteText,
    /// A note key held outside this process (a key file's signer, a hardware token) could not
    /// sign, or gave something that is not an Ed25519 signature.
    #[error("the note key {name} could not sign: {source}")]
    NoteKeySign {
        /// The key's name.
        name: String,
        /// What its holder said.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The system random source failed while generating a key.
    #[error("random number generator failed")]
    Random,

    // ---- checkpoints (c2sp.org/tlog-checkpoint) and witness cosignatures ----
    /// A checkpoint body that breaks the format.
    #[error("checkpoint line {line}: {rule}: {text:?}")]
    BadCheckpoint {
        /// 1-based line number.
        line: usize,
        /// The rule broken.
        rule: &'static str,
        /// The offending line.
        text: String,
    },
    /// A checkpoint from another log.
    #[error("checkpoint origin {actual:?}, expected {expected:?}")]
    OriginMismatch {
        /// Origin expected.
        expected: String,
        /// Origin found.
        actual: String,
    },
    /// Fewer witness cosignatures than policy requires.
    #[error("{verified} of the required {required} witness cosignatures verified")]
    WitnessThreshold {
        /// Required.
        required: usize,
        /// Present and valid.
        verified: usize,
    },

    /// An add-checkpoint request built on a size other than the witness's latest
    /// (c2sp.org/tlog-witness: answered with 409 Conflict and the witness's size).
    #[error("request is based on size {claimed}, the witness has cosigned size {witness}")]
    WitnessOldSize {
        /// Size the witness last cosigned.
        witness: u64,
        /// Size the request claims.
        claimed: u64,
    },
    /// A malformed add-checkpoint request body.
    #[error("add-checkpoint request line {line}: {rule}")]
    BadWitnessRequest {
        /// 1-based line number.
        line: usize,
        /// The rule broken.
        rule: &'static str,
    },

    /// A witness could not be reached, or its transport failed.
    #[error("witness {witness}: {source}")]
    WitnessUnreachable {
        /// The witness's key name.
        witness: String,
        /// What the transport said.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A witness refused to cosign (c2sp.org/tlog-witness status codes: 403 unknown log or bad
    /// signature, 422 inconsistent, 400 malformed).
    #[error("witness {witness} refused with HTTP {status}: {message}")]
    WitnessRefused {
        /// The witness's key name.
        witness: String,
        /// The HTTP status.
        status: u16,
        /// The start of its response body.
        message: String,
    },
    /// A witness answered 200 without a valid cosignature by its key on the checkpoint.
    #[error("witness {witness}: {rule}")]
    BadWitnessResponse {
        /// The witness's key name.
        witness: String,
        /// What was wrong.
        rule: &'static str,
    },

    /// Two checkpoints signed by the log that no consistency proof reconciles.
    #[error("split view: {}", evidence.reason)]
    SplitView {
        /// Both signed checkpoints and the proof that failed.
        evidence: Box<crate::monitor::SplitViewEvidence>,
    },

    // ---- tlog-proof (c2sp.org/tlog-proof) ----
    /// A tlog-proof file that breaks the format.
    #[error("tlog-proof line {line}: {rule}")]
    BadProofFile {
        /// 1-based line number.
        line: usize,
        /// The rule broken.
        rule: &'static str,
    },

    // ---- storage and sequencer ----
    /// A storage path that is not a plain relative path.
    #[error("storage path {path:?} is not a relative path of plain components")]
    BadStorePath {
        /// The path given.
        path: String,
    },
    /// An immutable object exists with different contents.
    #[error("immutable object {path} already exists with different contents")]
    ImmutableConflict {
        /// The path.
        path: String,
    },
    /// An I/O error, with the file it concerned.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A remote store (object storage, HTTP) failed or refused an operation.
    #[error("{op} {path}: {source}")]
    Storage {
        /// What was being done.
        op: &'static str,
        /// The object or URL.
        path: String,
        /// What the backend said.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A stored object is larger than any file of a log can be.
    #[error("{path}: {size} bytes is over the {max}-byte limit")]
    ObjectTooLarge {
        /// The object.
        path: String,
        /// Its size.
        size: u64,
        /// The largest size read.
        max: u64,
    },
    /// A storage request ended without a result: the task running it on the store's own
    /// runtime panicked.
    #[error("{op} {path}: the storage request was abandoned")]
    StorageTaskLost {
        /// What was being done.
        op: &'static str,
        /// The object.
        path: String,
    },
    /// Another process holds the sequencer lock.
    #[error("log is locked by another sequencer ({path})")]
    Locked {
        /// The lock file.
        path: PathBuf,
    },
    /// The stored checkpoint does not match the tiles (storage was damaged or edited).
    #[error("stored tiles give root {computed} for size {size}, checkpoint says {checkpoint}")]
    StateMismatch {
        /// Tree size.
        size: u64,
        /// Root from tiles.
        computed: crate::Hash,
        /// Root in the checkpoint.
        checkpoint: crate::Hash,
    },
    /// The lookup index file is damaged.
    #[error(
        "lookup index {path}: record {record} names entry {index}, beyond or before its neighbours"
    )]
    BadIndexRecord {
        /// The file.
        path: PathBuf,
        /// Record number.
        record: u64,
        /// The entry index it names.
        index: u64,
    },
    /// The lookup index lacks entries the log has: it was lost and made anew.
    #[error(
        "lookup index {path} does not cover the whole log (it was lost); rebuild it from the \
         site's bundles before looking entries up"
    )]
    IndexIncomplete {
        /// The index file.
        path: PathBuf,
    },
    /// The sequencer thread stopped.
    #[error("sequencer stopped")]
    SequencerStopped,
}
