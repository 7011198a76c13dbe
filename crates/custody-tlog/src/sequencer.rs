//! The sequencer: the single writer that appends entries, writes their bundles and tiles, and
//! publishes signed checkpoints; plus read helpers for entries and proofs.
//!
//! Write order for each batch, so that a crash at any point leaves a log clients can use and
//! a sequencer can resume:
//! 1. lookup-index records for the batch (fsynced);
//! 2. entry bundles, one after another, each durable before the next;
//! 3. hash tiles, in parallel;
//! 4. the checkpoint, replaced atomically.
//!
//! Only step 4 makes entries visible and acknowledged. On restart, entries that reached step 2
//! but not step 4 are found again by scanning entry bundles past the checkpoint and are
//! integrated, so that every tile ever written keeps its contents (tiles are immutable).

use std::collections::HashMap;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::store::{StoreTiles, TileStore, put_immutable};
use crate::witness::WitnessClient;
use crate::{
    Checkpoint, ConsistencyProof, EntryBundle, EntryBundleCoord, Error, MAX_ENTRY_SIZE, Note,
    NoteSignature, NoteSigner, SignedCheckpoint, TILE_WIDTH, TileHashReader, TiledTree, TlogProof,
    encode_entry, new_entry_bundles, prove_record, prove_tree, record_hash,
};

/// Path of the checkpoint within the store (c2sp.org/tlog-tiles).
pub const CHECKPOINT_PATH: &str = "checkpoint";
const LOCK_FILE: &str = "lock";
const INDEX_FILE: &str = "index.sha256";
/// Present while the lookup index lacks entries the log has (it was lost and made anew): every
/// lookup then fails, saying so, until the index is rebuilt.
const INDEX_INCOMPLETE: &str = "index.incomplete";
/// One lookup-index record: a SHA-256 artifact digest and a big-endian entry index.
const INDEX_RECORD: usize = 40;

/// The SHA-256 digest of an artifact that a log entry names.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ArtifactDigest(pub [u8; 32]);

impl fmt::Display for ArtifactDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", hex::encode(self.0))
    }
}

impl fmt::Debug for ArtifactDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// One entry to append: its bytes and, if it records an artifact, the artifact's digest for
/// the lookup index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEntry {
    /// The entry bytes, at most [`MAX_ENTRY_SIZE`].
    pub data: Vec<u8>,
    /// The artifact digest to index the entry under.
    pub artifact: Option<ArtifactDigest>,
}

/// What an append achieved: where the entries went and the checkpoint that covers them.
#[derive(Clone, Debug)]
pub struct Appended {
    /// Index of the first entry of the batch.
    pub first_index: u64,
    /// Number of entries.
    pub count: u64,
    /// The published checkpoint, with the cosignatures the witnesses gave.
    pub checkpoint: SignedCheckpoint,
    /// Witnesses that did not cosign it.
    pub witness_failures: Vec<WitnessFailure>,
}

/// A witness that did not cosign a checkpoint, and why. The checkpoint is published without
/// its cosignature: a log must not stop because a witness is down, and a verifier's witness
/// policy decides whether the remaining cosignatures are enough.
#[derive(Clone, Debug)]
pub struct WitnessFailure {
    /// The witness's key name.
    pub witness: String,
    /// Why.
    pub error: std::sync::Arc<Error>,
}

fn check_entry(e: &LogEntry) -> Result<(), Error> {
    if e.data.len() > MAX_ENTRY_SIZE {
        return Err(Error::EntryTooLarge {
            len: e.data.len(),
            max: MAX_ENTRY_SIZE,
        });
    }
    Ok(())
}

fn io(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.to_path_buf();
    move |source| Error::Io { op, path, source }
}

/// Entry indices below `size` recorded under `digest`, read from a sequencer's state directory
/// without taking the writer lock or repairing anything: for lookups while a writer may run.
pub fn lookup_readonly(
    state_dir: &Path,
    size: u64,
    digest: &ArtifactDigest,
) -> Result<Vec<u64>, Error> {
    let path = state_dir.join(INDEX_FILE);
    if state_dir.join(INDEX_INCOMPLETE).exists() {
        return Err(Error::IndexIncomplete { path });
    }
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && size > 0 => {
            return Err(Error::IndexIncomplete { path });
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io("read", &path)(e)),
    };
    Ok(bytes
        .chunks_exact(INDEX_RECORD)
        .filter_map(|rec| {
            let (d, i) = rec.split_at(32);
            let index = u64::from_be_bytes(i.try_into().ok()?);
            (d == digest.0 && index < size).then_some(index)
        })
        .collect())
}

/// The digest → entry indices map, backed by an append-only file of fixed-size records.
#[derive(Debug)]
struct LookupIndex {
    path: PathBuf,
    file: File,
    map: HashMap<ArtifactDigest, Vec<u64>>,
}

impl LookupIndex {
    /// Loads the records naming entries below `size` and cuts off the rest (records of a
    /// batch that never reached its entry bundles, or a torn last record).
    fn open(path: PathBuf, size: u64) -> Result<Self, Error> {
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(io("open", &path))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(io("read", &path))?;
        let mut map: HashMap<ArtifactDigest, Vec<u64>> = HashMap::new();
        let mut keep = 0usize;
        let mut last: Option<u64> = None;
        for (n, rec) in bytes.chunks_exact(INDEX_RECORD).enumerate() {
            let mut d = [0u8; 32];
            d.copy_from_slice(&rec[..32]);
            let mut i = [0u8; 8];
            i.copy_from_slice(&rec[32..]);
            let index = u64::from_be_bytes(i);
            if index >= size {
                break;
            }
            // Records are written in entry order; anything else is damage.
            if last.is_some_and(|l| index <= l) {
                return Err(Error::BadIndexRecord {
                    path,
                    record: n as u64,
                    index,
                });
            }
            last = Some(index);
            map.entry(ArtifactDigest(d)).or_default().push(index);
            keep += INDEX_RECORD;
        }
        if keep != bytes.len() {
            file.set_len(keep as u64).map_err(io("truncate", &path))?;
            file.sync_all().map_err(io("fsync", &path))?;
        }
        file.seek(SeekFrom::End(0)).map_err(io("seek", &path))?;
        Ok(LookupIndex { path, file, map })
    }

    fn append(&mut self, first: u64, entries: &[LogEntry]) -> Result<(), Error> {
        let mut buf = Vec::new();
        for (i, e) in entries.iter().enumerate() {
            if let Some(d) = e.artifact {
                buf.extend_from_slice(&d.0);
                buf.extend_from_slice(&(first + i as u64).to_be_bytes());
            }
        }
        if buf.is_empty() {
            return Ok(());
        }
        self.file.write_all(&buf).map_err(io("write", &self.path))?;
        self.file.sync_data().map_err(io("fsync", &self.path))?;
        Ok(())
    }

    fn insert(&mut self, first: u64, entries: &[LogEntry]) {
        for (i, e) in entries.iter().enumerate() {
            if let Some(d) = e.artifact {
                self.map.entry(d).or_default().push(first + i as u64);
            }
        }
    }
}

/// The single writer of a log.
pub struct Sequencer<S: TileStore> {
    store: S,
    signer: NoteSigner,
    origin: String,
    tree: TiledTree,
    /// Entries of the current partial entry bundle.
    bundle_tail: Vec<Vec<u8>>,
    index: LookupIndex,
    checkpoint: SignedCheckpoint,
    /// Set when a write failed half-way: memory is ahead of storage until a reopen.
    poisoned: bool,
    /// Asked to cosign every checkpoint before it is published.
    witnesses: Vec<WitnessClient>,
    _lock: File,
}

impl<S: TileStore> fmt::Debug for Sequencer<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sequencer")
            .field("origin", &self.origin)
            .field("size", &self.tree.size())
            .finish_non_exhaustive()
    }
}

impl<S: TileStore> Sequencer<S> {
    /// Opens (or creates) the log in `store`, taking the single-writer lock in `state_dir`
    /// (which also holds the lookup index), and recovers from any crash.
    pub fn open(
        store: S,
        state_dir: &Path,
        origin: &str,
        signer: NoteSigner,
    ) -> Result<Self, Error> {
        std::fs::create_dir_all(state_dir).map_err(io("create directory", state_dir))?;
        let lock_path = state_dir.join(LOCK_FILE);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io("open", &lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(Error::Locked { path: lock_path });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io("lock", &lock_path)(e)),
        }
        store.recover()?;

        let existing = store.get(CHECKPOINT_PATH)?;
        let (checkpoint, fresh) = match &existing {
            Some(msg) => (Checkpoint::open(msg, origin, signer.verifier())?, false),
            None => {
                let cp = Checkpoint {
                    origin: origin.to_owned(),
                    size: 0,
                    root: crate::empty_tree_hash(),
                    extensions: Vec::new(),
                };
                let note = cp.sign(&signer)?;
                (
                    SignedCheckpoint {
                        checkpoint: cp,
                        note,
                    },
                    true,
                )
            }
        };
        let size = checkpoint.checkpoint.size;
        let tree = TiledTree::from_tiles(size, &StoreTiles(&store))?;
        if tree.root() != checkpoint.checkpoint.root {
            return Err(Error::StateMismatch {
                size,
                computed: tree.root(),
                checkpoint: checkpoint.checkpoint.root,
            });
        }
        let bundle_tail = if size % TILE_WIDTH == 0 {
            Vec::new()
        } else {
            read_bundle(&store, size / TILE_WIDTH, (size % TILE_WIDTH) as u16)?.entries
        };
        let orphans = find_orphans(&store, size, &bundle_tail)?;
        let index_path = state_dir.join(INDEX_FILE);
        if size > 0 && !index_path.exists() {
            // The state directory was lost: a new index would quietly miss every entry so far.
            let marker = state_dir.join(INDEX_INCOMPLETE);
            File::create(&marker)
                .and_then(|f| f.sync_all())
                .map_err(io("create", &marker))?;
        }
        let index = LookupIndex::open(index_path, size + orphans.len() as u64)?;
        let mut seq = Sequencer {
            store,
            signer,
            origin: origin.to_owned(),
            tree,
            bundle_tail,
            index,
            checkpoint,
            poisoned: false,
            witnesses: Vec::new(),
            _lock: lock,
        };
        if !orphans.is_empty() {
            let entries: Vec<LogEntry> = orphans
                .into_iter()
                .map(|data| LogEntry {
                    data,
                    artifact: None,
                })
                .collect();
            // Their lookup records were written before their bundles and were kept above.
            seq.integrate(&entries, false)?;
        } else if fresh {
            seq.store
                .put(CHECKPOINT_PATH, &seq.checkpoint.note.to_bytes())?;
        }
        Ok(seq)
    }

    /// The latest published checkpoint.
    pub fn checkpoint(&self) -> &SignedCheckpoint {
        &self.checkpoint
    }

    /// Number of entries in the log.
    pub fn size(&self) -> u64 {
        self.tree.size()
    }

    /// The store the log is written to.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Indices of the entries that name `digest`, in log order (those the index has: see
    /// [`index_complete`](Self::index_complete)).
    pub fn lookup(&self, digest: &ArtifactDigest) -> &[u64] {
        self.index.map.get(digest).map_or(&[], Vec::as_slice)
    }

    /// Whether the lookup index covers every entry (it does unless it was lost and not yet
    /// rebuilt with [`rebuild_index`](Self::rebuild_index)).
    pub fn index_complete(&self) -> bool {
        !self.index_marker().exists()
    }

    fn index_marker(&self) -> PathBuf {
        self.index.path.with_file_name(INDEX_INCOMPLETE)
    }

    /// Replaces the lookup index with `records` (entry index, artifact digest), as found by
    /// reading what the log's entries record; entries beyond the log are dropped. Written to a
    /// new file and renamed over the old, so a crash leaves one or the other.
    pub fn rebuild_index(&mut self, mut records: Vec<(u64, ArtifactDigest)>) -> Result<(), Error> {
        let size = self.tree.size();
        records.retain(|(i, _)| *i < size);
        records.sort_by_key(|(i, _)| *i);
        records.dedup_by_key(|(i, _)| *i);
        let mut bytes = Vec::with_capacity(records.len() * INDEX_RECORD);
        for (i, d) in &records {
            bytes.extend_from_slice(&d.0);
            bytes.extend_from_slice(&i.to_be_bytes());
        }
        let path = self.index.path.clone();
        let temp = path.with_extension("rebuild");
        std::fs::write(&temp, &bytes).map_err(io("write", &temp))?;
        File::open(&temp)
            .and_then(|f| f.sync_all())
            .map_err(io("fsync", &temp))?;
        std::fs::rename(&temp, &path).map_err(io("rename", &path))?;
        self.index = LookupIndex::open(path, size)?;
        let marker = self.index_marker();
        match std::fs::remove_file(&marker) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io("remove", &marker)(e)),
        }
        Ok(())
    }

    /// Appends a batch, makes it durable and publishes a checkpoint covering it.
    ///
    /// An oversized entry rejects the whole batch before anything is written.
    pub fn append_batch(&mut self, entries: &[LogEntry]) -> Result<Appended, Error> {
        entries.iter().try_for_each(check_entry)?;
        self.integrate(entries, true)
    }

    fn integrate(&mut self, entries: &[LogEntry], write_index: bool) -> Result<Appended, Error> {
        if self.poisoned {
            return Err(Error::SequencerStopped);
        }
        self.poisoned = true;
        let old = self.tree.size();
        if write_index {
            self.index.append(old, entries)?;
        }
        for e in entries {
            self.tree.append(record_hash(&e.data))?;
        }
        let new = self.tree.size();

        // Step 2: entry bundles, in order, each durable before the next.
        let base = old / TILE_WIDTH * TILE_WIDTH;
        let mut pending = std::mem::take(&mut self.bundle_tail);
        pending.extend(entries.iter().map(|e| e.data.clone()));
        for coord in new_entry_bundles(old, new) {
            let start = (coord.index * TILE_WIDTH - base) as usize;
            let mut bytes = Vec::new();
            for e in &pending[start..start + usize::from(coord.width)] {
                encode_entry(&mut bytes, e)?;
            }
            put_immutable(&self.store, &coord.path(), &bytes)?;
        }
        self.bundle_tail = pending.split_off((new / TILE_WIDTH * TILE_WIDTH - base) as usize);

        // Step 3: hash tiles; their order does not matter, so overlap the fsyncs.
        let tiles = self.tree.take_new_tiles();
        let store = &self.store;
        std::thread::scope(|s| {
            let handles: Vec<_> = tiles
                .iter()
                .map(|t| s.spawn(move || put_immutable(store, &t.coord.path(), &t.to_bytes())))
                .collect();
            handles
                .into_iter()
                .try_for_each(|h| h.join().unwrap_or(Err(Error::SequencerStopped)))
        })?;

        // Step 4: the checkpoint, cosigned by whichever witnesses agree (they check
        // consistency against the tiles just written).
        let cp = Checkpoint {
            origin: self.origin.clone(),
            size: new,
            root: self.tree.root(),
            extensions: Vec::new(),
        };
        let note = cp.sign(&self.signer)?;
        let signed = SignedCheckpoint {
            checkpoint: cp,
            note,
        };
        let (cosigs, witness_failures) = self.ask_witnesses(&signed);
        let mut note = signed.note;
        for c in cosigs {
            note.push_signature(c);
        }
        self.store.put(CHECKPOINT_PATH, &note.to_bytes())?;
        self.checkpoint = SignedCheckpoint {
            checkpoint: signed.checkpoint,
            note,
        };
        self.index.insert(old, entries);
        self.poisoned = false;
        Ok(Appended {
            first_index: old,
            count: new - old,
            checkpoint: self.checkpoint.clone(),
            witness_failures,
        })
    }

    /// Sets the witnesses asked to cosign each checkpoint from now on.
    pub fn set_witnesses(&mut self, witnesses: Vec<WitnessClient>) {
        self.witnesses = witnesses;
    }

    /// Asks every witness, in parallel, to cosign `signed` (which carries the log's signature
    /// only). Returns the cosignatures in witness order, and the failures.
    fn ask_witnesses(
        &mut self,
        signed: &SignedCheckpoint,
    ) -> (Vec<NoteSignature>, Vec<WitnessFailure>) {
        if self.witnesses.is_empty() {
            return (Vec::new(), Vec::new());
        }
        let store = &self.store;
        let size = signed.checkpoint.size;
        let prove = move |old: u64| prove_consistency(store, size, old);
        let results: Vec<(String, Result<NoteSignature, Error>)> = std::thread::scope(|s| {
            let handles: Vec<_> = self
                .witnesses
                .iter_mut()
                .map(|w| {
                    let prove = &prove;
                    let name = w.verifier().name().to_owned();
                    (name, s.spawn(move || w.cosign(signed, prove)))
                })
                .collect();
            handles
                .into_iter()
                .map(|(name, h)| (name, h.join().unwrap_or(Err(Error::SequencerStopped))))
                .collect()
        });
        let mut cosigs = Vec::new();
        let mut failures = Vec::new();
        for (witness, r) in results {
            match r {
                Ok(sig) => cosigs.push(sig),
                Err(e) => failures.push(WitnessFailure {
                    witness,
                    error: std::sync::Arc::new(e),
                }),
            }
        }
        (cosigs, failures)
    }

    /// Asks the witnesses to cosign the current checkpoint again and republishes it with their
    /// cosignatures. A witness that does not answer keeps its earlier cosignature, which stays
    /// valid for the same checkpoint text.
    pub fn witness_checkpoint(&mut self) -> Result<Appended, Error> {
        if self.poisoned {
            return Err(Error::SequencerStopped);
        }
        let current = self.checkpoint.clone();
        let log_key = self.signer.verifier().clone();
        let mut bare = Note::new(current.note.text())?;
        for sig in current.note.signatures() {
            if sig.name == log_key.name() && sig.key_id == log_key.key_id() {
                bare.push_signature(sig.clone());
            }
        }
        let bare = SignedCheckpoint {
            checkpoint: current.checkpoint.clone(),
            note: bare,
        };
        let (cosigs, witness_failures) = self.ask_witnesses(&bare);
        let mut note = bare.note;
        for sig in current.note.signatures() {
            let is_log = sig.name == log_key.name() && sig.key_id == log_key.key_id();
            let renewed = cosigs
                .iter()
                .any(|c| c.name == sig.name && c.key_id == sig.key_id);
            if !is_log && !renewed {
                note.push_signature(sig.clone());
            }
        }
        for c in cosigs {
            note.push_signature(c);
        }
        self.store.put(CHECKPOINT_PATH, &note.to_bytes())?;
        self.checkpoint.note = note;
        Ok(Appended {
            first_index: current.checkpoint.size,
            count: 0,
            checkpoint: self.checkpoint.clone(),
            witness_failures,
        })
    }

    /// Sign with `signer` from now on (the log's key was rotated): the current checkpoint is
    /// republished with its signature instead of the old key's, keeping the witnesses'
    /// cosignatures (they sign the checkpoint's text, which is unchanged). The log's origin
    /// stays the same.
    pub fn resign(&mut self, signer: NoteSigner) -> Result<SignedCheckpoint, Error> {
        if self.poisoned {
            return Err(Error::SequencerStopped);
        }
        if signer.verifier().name() != self.signer.verifier().name() {
            return Err(Error::OriginMismatch {
                expected: self.signer.verifier().name().to_string(),
                actual: signer.verifier().name().to_string(),
            });
        }
        let current = self.checkpoint.clone();
        let old = self.signer.verifier().clone();
        let mut note = Note::new(current.note.text())?;
        signer.sign(&mut note, None)?;
        for sig in current.note.signatures() {
            if !(sig.name == old.name() && sig.key_id == old.key_id()) {
                note.push_signature(sig.clone());
            }
        }
        self.store.put(CHECKPOINT_PATH, &note.to_bytes())?;
        self.checkpoint.note = note;
        self.signer = signer;
        Ok(self.checkpoint.clone())
    }

    /// The entry at `index`.
    pub fn entry(&self, index: u64) -> Result<Vec<u8>, Error> {
        read_entry(&self.store, self.size(), index)
    }

    /// A tlog-proof file for the entry at `index` under the latest checkpoint.
    pub fn prove(&self, index: u64) -> Result<TlogProof, Error> {
        prove_inclusion(&self.store, &self.checkpoint, index)
    }
}

fn read_bundle(store: &impl TileStore, index: u64, width: u16) -> Result<EntryBundle, Error> {
    let coord = EntryBundleCoord::new(index, width)?;
    let path = coord.path();
    let bytes = store.get(&path)?.ok_or(Error::TileMissing { path })?;
    EntryBundle::parse(&bytes, width)
}

/// Entries written to bundles past the checkpoint of `size` by a batch that did not finish.
fn find_orphans(
    store: &impl TileStore,
    size: u64,
    tail: &[Vec<u8>],
) -> Result<Vec<Vec<u8>>, Error> {
    let mut found = Vec::new();
    let mut current: Vec<Vec<u8>> = tail.to_vec();
    loop {
        let at = size + found.len() as u64;
        let (index, have) = (at / TILE_WIDTH, (at % TILE_WIDTH) as u16);
        let mut bundle = None;
        for width in std::iter::once(TILE_WIDTH as u16).chain((have + 1..TILE_WIDTH as u16).rev()) {
            let coord = EntryBundleCoord::new(index, width)?;
            if let Some(bytes) = store.get(&coord.path())? {
                bundle = Some((coord, EntryBundle::parse(&bytes, width)?));
                break;
            }
        }
        let Some((coord, bundle)) = bundle else {
            return Ok(found);
        };
        // The part already in the tree must be what the tree has.
        if bundle.entries[..usize::from(have)] != current[..] {
            return Err(Error::ImmutableConflict { path: coord.path() });
        }
        found.extend_from_slice(&bundle.entries[usize::from(have)..]);
        if coord.is_partial() {
            return Ok(found);
        }
        current.clear();
    }
}

/// Reads the entry at `index` from the log of `size` entries.
pub fn read_entry(store: &impl TileStore, size: u64, index: u64) -> Result<Vec<u8>, Error> {
    if index >= size {
        return Err(Error::IndexNotInTree { index, size });
    }
    let bundle = index / TILE_WIDTH;
    let width = (size - bundle * TILE_WIDTH).min(TILE_WIDTH) as u16;
    let mut b = read_bundle(store, bundle, width)?;
    Ok(std::mem::take(
        &mut b.entries[(index % TILE_WIDTH) as usize],
    ))
}

/// A tlog-proof for the entry at `index` under `checkpoint`, built from the store's tiles.
pub fn prove_inclusion(
    store: &impl TileStore,
    checkpoint: &SignedCheckpoint,
    index: u64,
) -> Result<TlogProof, Error> {
    let size = checkpoint.checkpoint.size;
    let proof = prove_record(size, index, &TileHashReader::new(size, StoreTiles(store)))?;
    Ok(TlogProof {
        extra: None,
        index,
        proof,
        checkpoint: checkpoint.note.to_bytes(),
    })
}

/// The consistency proof from size `old` to size `new`, built from the store's tiles.
pub fn prove_consistency(
    store: &impl TileStore,
    new: u64,
    old: u64,
) -> Result<ConsistencyProof, Error> {
    prove_tree(new, old, &TileHashReader::new(new, StoreTiles(store)))
}

/// The result of one entry submitted to a [`SequencerService`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Acknowledged {
    /// The entry's index.
    pub index: u64,
    /// Size of the published checkpoint that covers it.
    pub checkpoint_size: u64,
    /// Time from submission to that checkpoint's publication.
    pub latency: Duration,
}

struct Submission {
    entry: LogEntry,
    at: Instant,
    reply: mpsc::Sender<Result<Acknowledged, Error>>,
}

/// A pending acknowledgement.
#[derive(Debug)]
pub struct Receipt(mpsc::Receiver<Result<Acknowledged, Error>>);

impl Receipt {
    /// Blocks until the entry is covered by a published checkpoint.
    pub fn wait(self) -> Result<Acknowledged, Error> {
        self.0.recv().unwrap_or(Err(Error::SequencerStopped))
    }
}

/// A sequencer on its own thread that batches entries submitted from any thread: whatever
/// arrives while one batch is being made durable goes into the next.
#[derive(Debug)]
pub struct SequencerService<S: TileStore + 'static> {
    tx: Option<mpsc::Sender<Submission>>,
    handle: Option<JoinHandle<Result<Sequencer<S>, Error>>>,
}

impl<S: TileStore + 'static> SequencerService<S> {
    /// Starts the thread; batches hold at most `max_batch` entries.
    pub fn spawn(mut seq: Sequencer<S>, max_batch: usize) -> Self {
        let (tx, rx) = mpsc::channel::<Submission>();
        let max_batch = max_batch.max(1);
        let handle = std::thread::spawn(move || {
            while let Ok(first) = rx.recv() {
                let mut batch = vec![first];
                while batch.len() < max_batch {
                    match rx.try_recv() {
                        Ok(s) => batch.push(s),
                        Err(_) => break,
                    }
                }
                let entries: Vec<LogEntry> = batch.iter().map(|s| s.entry.clone()).collect();
                match seq.append_batch(&entries) {
                    Ok(done) => {
                        let now = Instant::now();
                        for (i, s) in batch.into_iter().enumerate() {
                            let _ = s.reply.send(Ok(Acknowledged {
                                index: done.first_index + i as u64,
                                checkpoint_size: done.checkpoint.checkpoint.size,
                                latency: now - s.at,
                            }));
                        }
                    }
                    Err(e) => {
                        // Fail stop: storage state is uncertain until the log is reopened.
                        for s in batch {
                            let _ = s.reply.send(Err(Error::SequencerStopped));
                        }
                        return Err(e);
                    }
                }
            }
            Ok(seq)
        });
        SequencerService {
            tx: Some(tx),
            handle: Some(handle),
        }
    }

    /// Submits one entry; oversized entries are refused here.
    pub fn submit(&self, entry: LogEntry) -> Result<Receipt, Error> {
        check_entry(&entry)?;
        let (reply, rx) = mpsc::channel();
        let tx = self.tx.as_ref().ok_or(Error::SequencerStopped)?;
        tx.send(Submission {
            entry,
            at: Instant::now(),
            reply,
        })
        .map_err(|_| Error::SequencerStopped)?;
        Ok(Receipt(rx))
    }

    /// Finishes pending batches, stops the thread and returns the sequencer, or the error
    /// that stopped it.
    pub fn shutdown(mut self) -> Result<Sequencer<S>, Error> {
        self.tx = None;
        match self.handle.take() {
            Some(h) => h.join().unwrap_or(Err(Error::SequencerStopped)),
            None => Err(Error::SequencerStopped),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{DirStore, MemoryStore};
    use crate::{NoteVerifier, SignatureType};
    use ed25519_dalek::SigningKey;
    use sha2::{Digest, Sha256};

    const ORIGIN: &str = "example.com/log";

    fn signer() -> NoteSigner {
        NoteSigner::new(
            ORIGIN,
            SignatureType::Ed25519,
            SigningKey::from_bytes(&[5; 32]),
        )
        .unwrap()
    }

    fn entry(i: u64) -> LogEntry {
        let data = format!("entry {i}").into_bytes();
        LogEntry {
            artifact: Some(ArtifactDigest(Sha256::digest(&data).into())),
            data,
        }
    }

    fn check_log(store: &impl TileStore, verifier: &NoteVerifier, n: u64) {
        let cp = Checkpoint::open(
            &store.get(CHECKPOINT_PATH).unwrap().unwrap(),
            ORIGIN,
            verifier,
        )
        .unwrap();
        assert_eq!(cp.checkpoint.size, n);
        for i in (0..n).step_by(37).chain(n.checked_sub(1)) {
            assert_eq!(read_entry(store, n, i).unwrap(), entry(i).data);
            let p = prove_inclusion(store, &cp, i).unwrap();
            p.verify(&entry(i).data, ORIGIN, verifier).unwrap();
        }
    }

    fn run(store: impl TileStore + Clone) {
        let state = tempfile::tempdir().unwrap();
        let mut seq = Sequencer::open(store.clone(), state.path(), ORIGIN, signer()).unwrap();
        assert_eq!(seq.size(), 0);
        assert!(store.get(CHECKPOINT_PATH).unwrap().is_some());
        let mut roots = vec![(0, seq.checkpoint().checkpoint.root)];
        let mut next = 0u64;
        for batch in [1u64, 2, 300, 255, 1, 0, 700, 3] {
            let entries: Vec<LogEntry> = (next..next + batch).map(entry).collect();
            let done = seq.append_batch(&entries).unwrap();
            assert_eq!(done.first_index, next);
            next += batch;
            roots.push((next, done.checkpoint.checkpoint.root));
        }
        check_log(&store, signer().verifier(), next);
        for &(old, old_root) in &roots {
            prove_consistency(&store, next, old)
                .unwrap()
                .verify(old, old_root, next, seq.checkpoint().checkpoint.root)
                .unwrap();
        }
        let d = entry(500).artifact.unwrap();
        assert_eq!(seq.lookup(&d), &[500]);
        // A second writer is locked out.
        assert!(matches!(
            Sequencer::open(store.clone(), state.path(), ORIGIN, signer()),
            Err(Error::Locked { .. })
        ));
        // Oversized entries are refused before anything is written.
        let big = LogEntry {
            data: vec![0; MAX_ENTRY_SIZE + 1],
            artifact: None,
        };
        assert!(matches!(
            seq.append_batch(&[entry(next), big]),
            Err(Error::EntryTooLarge { len: 65536, .. })
        ));
        assert_eq!(seq.size(), next);
        drop(seq);
        // Reopen: same state, lookups survive, appends continue.
        let mut seq = Sequencer::open(store.clone(), state.path(), ORIGIN, signer()).unwrap();
        assert_eq!(seq.size(), next);
        assert_eq!(seq.lookup(&d), &[500]);
        seq.append_batch(&[entry(next)]).unwrap();
        check_log(&store, signer().verifier(), next + 1);
        // A wrong key or origin cannot open the log.
        drop(seq);
        let other = NoteSigner::new(
            ORIGIN,
            SignatureType::Ed25519,
            SigningKey::from_bytes(&[6; 32]),
        )
        .unwrap();
        assert!(Sequencer::open(store.clone(), state.path(), ORIGIN, other).is_err());
        assert!(matches!(
            Sequencer::open(store, state.path(), "other", signer()),
            Err(Error::OriginMismatch { .. })
        ));
    }

    #[test]
    fn sequencer_on_memory_store() {
        run(std::sync::Arc::new(MemoryStore::new()));
    }

    #[test]
    fn sequencer_on_dir_store() {
        let dir = tempfile::tempdir().unwrap();
        run(std::sync::Arc::new(DirStore::open(dir.path()).unwrap()));
    }

    #[test]
    fn orphaned_bundles_are_integrated_on_restart() {
        let store = std::sync::Arc::new(MemoryStore::new());
        let state = tempfile::tempdir().unwrap();
        let mut seq = Sequencer::open(store.clone(), state.path(), ORIGIN, signer()).unwrap();
        seq.append_batch(&(0..100).map(entry).collect::<Vec<_>>())
            .unwrap();
        drop(seq);
        // A batch that wrote its bundles (and lookup records) but crashed before its tiles.
        let mut index = OpenOptions::new()
            .append(true)
            .open(state.path().join(INDEX_FILE))
            .unwrap();
        let mut bytes = Vec::new();
        let mut rec = Vec::new();
        for i in 0..100 {
            encode_entry(&mut bytes, &entry(i).data).unwrap();
        }
        let mut full = bytes.clone();
        for i in 100..256 {
            encode_entry(&mut full, &entry(i).data).unwrap();
        }
        let mut partial = Vec::new();
        for i in 256..300 {
            encode_entry(&mut partial, &entry(i).data).unwrap();
        }
        for i in 100..300u64 {
            rec.extend_from_slice(&entry(i).artifact.unwrap().0);
            rec.extend_from_slice(&i.to_be_bytes());
        }
        // And lookup records of a batch that never reached its bundles.
        rec.extend_from_slice(&[9u8; 32]);
        rec.extend_from_slice(&300u64.to_be_bytes());
        rec.extend_from_slice(&[1, 2, 3]);
        index.write_all(&rec).unwrap();
        store.put("tile/entries/000", &full).unwrap();
        store.put("tile/entries/001.p/44", &partial).unwrap();
        let seq = Sequencer::open(store.clone(), state.path(), ORIGIN, signer()).unwrap();
        assert_eq!(seq.size(), 300);
        check_log(&store, signer().verifier(), 300);
        assert_eq!(seq.lookup(&entry(299).artifact.unwrap()), &[299]);
        assert_eq!(seq.lookup(&ArtifactDigest([9; 32])), &[] as &[u64]);
        drop(seq);
        assert_eq!(
            std::fs::metadata(state.path().join(INDEX_FILE))
                .unwrap()
                .len(),
            300 * INDEX_RECORD as u64
        );
        // A bundle that contradicts the checkpointed entries is refused, not overwritten.
        store.put("tile/entries/001", &vec![0u8; 512]).unwrap();
        assert!(matches!(
            Sequencer::open(store, state.path(), ORIGIN, signer()),
            Err(Error::ImmutableConflict { .. })
        ));
    }

    #[test]
    fn damaged_tiles_stop_the_sequencer() {
        let store = std::sync::Arc::new(MemoryStore::new());
        let state = tempfile::tempdir().unwrap();
        let mut seq = Sequencer::open(store.clone(), state.path(), ORIGIN, signer()).unwrap();
        seq.append_batch(&(0..10).map(entry).collect::<Vec<_>>())
            .unwrap();
        drop(seq);
        store.put("tile/0/000.p/10", &[0u8; 320]).unwrap();
        assert!(matches!(
            Sequencer::open(store.clone(), state.path(), ORIGIN, signer()),
            Err(Error::StateMismatch { size: 10, .. })
        ));
        store.put("tile/0/000.p/10", &[0u8; 31]).unwrap();
        assert!(matches!(
            Sequencer::open(store, state.path(), ORIGIN, signer()),
            Err(Error::TileSize { .. })
        ));
    }

    /// A store whose writes start failing after a budget, like a disk filling up mid-batch.
    struct FailingStore {
        inner: MemoryStore,
        budget: std::sync::atomic::AtomicI64,
    }
    impl TileStore for FailingStore {
        fn get(&self, path: &str) -> Result<Option<Vec<u8>>, Error> {
            self.inner.get(path)
        }
        fn put(&self, path: &str, data: &[u8]) -> Result<(), Error> {
            self.spend(path)?;
            self.inner.put(path, data)
        }
        fn put_if_absent(&self, path: &str, data: &[u8]) -> Result<bool, Error> {
            self.spend(path)?;
            self.inner.put_if_absent(path, data)
        }
    }
    impl FailingStore {
        fn spend(&self, path: &str) -> Result<(), Error> {
            if self
                .budget
                .fetch_sub(1, std::sync::atomic::Ordering::SeqCst)
                <= 0
            {
                return Err(Error::Io {
                    op: "write",
                    path: path.into(),
                    source: std::io::Error::other("disk full"),
                });
            }
            Ok(())
        }
    }

    #[test]
    fn a_failed_write_stops_the_sequencer_until_reopened() {
        // The batch 300 -> 900 makes 8 writes: 3 bundles, 4 tiles, the checkpoint.
        for budget in 0..8 {
            let store = std::sync::Arc::new(FailingStore {
                inner: MemoryStore::new(),
                budget: std::sync::atomic::AtomicI64::new(i64::MAX),
            });
            let state = tempfile::tempdir().unwrap();
            let mut seq = Sequencer::open(store.clone(), state.path(), ORIGIN, signer()).unwrap();
            seq.append_batch(&(0..300).map(entry).collect::<Vec<_>>())
                .unwrap();
            let published = seq.checkpoint().clone();
            store
                .budget
                .store(budget, std::sync::atomic::Ordering::SeqCst);
            assert!(
                matches!(
                    seq.append_batch(&(300..900).map(entry).collect::<Vec<_>>()),
                    Err(Error::Io { .. })
                ),
                "budget {budget}"
            );
            // Memory may be ahead of storage now: refuse to go on.
            assert!(matches!(
                seq.append_batch(&[entry(900)]),
                Err(Error::SequencerStopped)
            ));
            drop(seq);
            // Reopening recovers: whatever was written is integrated, the tree extends the
            // published checkpoint, and appends continue.
            store
                .budget
                .store(i64::MAX, std::sync::atomic::Ordering::SeqCst);
            let mut seq = Sequencer::open(store.clone(), state.path(), ORIGIN, signer()).unwrap();
            let size = seq.size();
            assert!(
                size == 300 || size == 512 || size == 768 || size == 900,
                "size {size}"
            );
            prove_consistency(&store, size, 300)
                .unwrap()
                .verify(
                    300,
                    published.checkpoint.root,
                    size,
                    seq.checkpoint().checkpoint.root,
                )
                .unwrap();
            let next = seq.append_batch(&[entry(size)]).unwrap();
            assert_eq!(next.first_index, size);
            check_log(&store, signer().verifier(), size + 1);
        }
    }

    #[test]
    fn service_batches_concurrent_submissions() {
        let dir = tempfile::tempdir().unwrap();
        let store = std::sync::Arc::new(DirStore::open(dir.path().join("log")).unwrap());
        let seq =
            Sequencer::open(store.clone(), &dir.path().join("state"), ORIGIN, signer()).unwrap();
        let svc = SequencerService::spawn(seq, 1000);
        let receipts: Vec<Receipt> = (0..2000).map(|i| svc.submit(entry(i)).unwrap()).collect();
        let mut seen = std::collections::HashSet::new();
        for r in receipts {
            let ack = r.wait().unwrap();
            assert!(ack.index < ack.checkpoint_size);
            assert!(seen.insert(ack.index));
        }
        assert!(matches!(
            svc.submit(LogEntry {
                data: vec![0; 70000],
                artifact: None
            }),
            Err(Error::EntryTooLarge { .. })
        ));
        let seq = svc.shutdown().unwrap();
        assert_eq!(seq.size(), 2000);
        // Entries land in submission order.
        assert_eq!(seq.entry(1234).unwrap(), entry(1234).data);
    }
}
