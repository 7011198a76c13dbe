//! The site's transparency log as auditors and operators use it: reading the verified
//! checkpoint, entries, inclusion proofs and lookups by artifact digest; appending an existing
//! bundle; asking the witnesses to cosign; and monitoring a log for growth and split views.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use custody_crypto::Sha256Digest;
use custody_site::config::Loaded;
use custody_site::fs::{read_bounded, write_atomic};
use custody_site::log::{LOG_DIR, Log, LogStore, VKEY_FILE};
use custody_site::site::Site;
use custody_tlog::{
    AddCheckpointRequest, ArtifactDigest, CHECKPOINT_PATH, Checkpoint, ConsistencyProof, DirStore,
    NoteSigner, NoteVerifier, Observation, SignedCheckpoint, SplitViewEvidence, TileStore as _,
    WitnessClient, WitnessState, lookup_readonly, prove_consistency, prove_inclusion, read_entry,
};
use serde::Serialize;

use crate::Error;
use crate::env::{Clock, Events, KeySource};
use crate::transport::{HttpLog, HttpWitness, Transport};

/// The largest checkpoint (a signed note with cosignatures) or monitor state read.
const MAX_CHECKPOINT: usize = 1 << 20;
/// The largest verifier key read.
const MAX_VKEY: usize = 4096;

fn tlog_error(location: impl Into<String>) -> impl FnOnce(custody_tlog::Error) -> Error {
    let location = location.into();
    move |source| Error::Log {
        location,
        source: Box::new(source),
    }
}

/// A `sha256:HEX` or bare `HEX` artifact digest.
pub fn parse_digest(text: &str) -> Result<Sha256Digest, Error> {
    let hex = text.strip_prefix("sha256:").unwrap_or(text);
    Sha256Digest::from_hex(hex).map_err(|source| Error::BadDigest {
        text: text.to_owned(),
        source,
    })
}

/// A verifier key in signed-note form (`name+keyid+base64`).
pub fn parse_vkey(text: &str, location: &str) -> Result<NoteVerifier, Error> {
    NoteVerifier::parse(text.trim()).map_err(|source| Error::VerifierKey {
        location: location.to_owned(),
        source: Box::new(source),
    })
}

/// A verifier key given as a file, or as the key itself.
pub fn read_vkey(arg: &str) -> Result<NoteVerifier, Error> {
    let path = Path::new(arg);
    if !path.is_file() {
        return parse_vkey(arg, "verifier key");
    }
    let bytes = read_bounded(path, MAX_VKEY as u64, "verifier key").map_err(Error::input)?;
    let text = String::from_utf8(bytes).map_err(|_| Error::NotUtf8 {
        path: path.to_path_buf(),
    })?;
    parse_vkey(&text, &path.display().to_string())
}

/// The witnesses of `[log] witnesses`, reached through `transport`.
pub fn witness_clients(
    loaded: &Loaded,
    transport: &Arc<dyn Transport>,
) -> Result<Vec<WitnessClient>, Error> {
    loaded
        .config
        .log
        .witnesses
        .iter()
        .map(|w| {
            let witness_error = |source| Error::Witness {
                name: w.name.clone(),
                source: Box::new(source),
            };
            let vkey = NoteVerifier::parse(w.vkey.trim()).map_err(witness_error)?;
            let client = Box::new(HttpWitness::new(&w.url, Arc::clone(transport)));
            WitnessClient::new(vkey, client).map_err(witness_error)
        })
        .collect()
}

/// Warns about each witness that did not cosign the checkpoint just published.
pub fn warn_witness_failures(log: &Log, events: &dyn Events) {
    for f in log.witness_failures() {
        events.warn(&format!(
            "witness {} did not cosign the checkpoint: {}",
            f.witness, f.error
        ));
    }
}

/// The site's log opened for writing, its checkpoints cosigned by the configured witnesses.
pub fn open_writer(
    loaded: &Loaded,
    keys: &dyn KeySource,
    transport: &Arc<dyn Transport>,
) -> Result<Log, Error> {
    let log_key = crate::keys::unlock_one(keys, &loaded.log_key_path())?;
    open_with_key(loaded, log_key, transport)
}

/// The site's log opened for writing with an unlocked `log_key`; every checkpoint it publishes
/// is cosigned by the configured witnesses first, so bundles embed cosigned checkpoints.
pub fn open_with_key(
    loaded: &Loaded,
    log_key: Arc<dyn custody_crypto::Signer>,
    transport: &Arc<dyn Transport>,
) -> Result<Log, Error> {
    let store = custody_site::log::open_store(
        &loaded.site_dir(),
        &loaded.log_staging_dir(),
        loaded.config.log.store.as_deref(),
        &[],
    )?;
    let mut log = Log::open(
        store,
        &loaded.log_state_dir(),
        &loaded.config.log.origin,
        log_key,
    )?;
    log.set_witnesses(witness_clients(loaded, transport)?);
    Ok(log)
}

/// The site's log opened for reading, with its checkpoint verified against the log's own
/// `vkey`.
pub struct LogReader {
    store: LogStore,
    location: String,
    state_dir: PathBuf,
    checkpoint: SignedCheckpoint,
}

impl std::fmt::Debug for LogReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogReader")
            .field("location", &self.location)
            .field("size", &self.checkpoint.checkpoint.size)
            .finish_non_exhaustive()
    }
}

impl LogReader {
    /// Opens the log of the project `loaded` (the site's `log/`, or the `[log] store` bucket).
    pub fn open(loaded: &Loaded) -> Result<Self, Error> {
        let site = loaded.site_dir();
        let location = match &loaded.config.log.store {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => site.join(LOG_DIR).display().to_string(),
        };
        let store = custody_site::log::open_store(
            &site,
            &loaded.log_staging_dir(),
            loaded.config.log.store.as_deref(),
            &[],
        )
        .map_err(|source| Error::LogStore {
            location: location.clone(),
            source: Box::new(source),
        })?;
        let vkey_bytes = read_from_store(&store, &location, VKEY_FILE, MAX_VKEY)?;
        let vkey_location = format!("{location}/{VKEY_FILE}");
        let vkey = String::from_utf8(vkey_bytes).map_err(|_| Error::NotUtf8 {
            path: PathBuf::from(&vkey_location),
        })?;
        let verifier = parse_vkey(&vkey, &vkey_location)?;
        let bytes = read_from_store(&store, &location, CHECKPOINT_PATH, MAX_CHECKPOINT)?;
        let checkpoint = Checkpoint::open(&bytes, &loaded.config.log.origin, &verifier)
            .map_err(tlog_error(format!("{location}/{CHECKPOINT_PATH}")))?;
        Ok(Self {
            store,
            location,
            state_dir: loaded.log_state_dir(),
            checkpoint,
        })
    }

    /// How many entries the project's log holds by its verified checkpoint: 0 for a log that
    /// has published no checkpoint yet.
    pub fn size_of(loaded: &Loaded) -> Result<u64, Error> {
        match Self::open(loaded) {
            Ok(reader) => Ok(reader.checkpoint.checkpoint.size),
            Err(Error::LogFileMissing { location }) if location.ends_with(CHECKPOINT_PATH) => Ok(0),
            Err(e) => Err(e),
        }
    }

    /// The verified checkpoint.
    pub fn checkpoint(&self) -> &SignedCheckpoint {
        &self.checkpoint
    }

    /// The entries recorded for an artifact digest, below the checkpoint's size.
    pub fn lookup(&self, digest: &Sha256Digest) -> Result<Vec<u64>, Error> {
        lookup_readonly(
            &self.state_dir,
            self.checkpoint.checkpoint.size,
            &ArtifactDigest(digest.0),
        )
        .map_err(|e| match e {
            custody_tlog::Error::IndexIncomplete { path } => Error::LookupIndexLost { path },
            other => tlog_error(self.state_dir.display().to_string())(other),
        })
    }

    /// Like [`lookup`](Self::lookup), but no entry at all is an error.
    pub fn lookup_some(&self, digest: &Sha256Digest) -> Result<Vec<u64>, Error> {
        let found = self.lookup(digest)?;
        if found.is_empty() {
            return Err(Error::NoEntries {
                sha256: digest.to_hex(),
            });
        }
        Ok(found)
    }

    /// Entry `index`'s body (a Rekor v2 `dsse` entry).
    pub fn entry(&self, index: u64) -> Result<Vec<u8>, Error> {
        read_entry(&self.store, self.checkpoint.checkpoint.size, index).map_err(|source| {
            Error::Entry {
                index,
                source: Box::new(source),
            }
        })
    }

    /// A C2SP tlog-proof of entry `index` against the checkpoint.
    pub fn prove(&self, index: u64) -> Result<String, Error> {
        let proof = prove_inclusion(&self.store, &self.checkpoint, index).map_err(|source| {
            Error::Entry {
                index,
                source: Box::new(source),
            }
        })?;
        Ok(String::from_utf8_lossy(&proof.to_bytes()).into_owned())
    }

    /// Checks that the published entry `index` records `signed`'s signature and that the
    /// verified checkpoint commits to it (see [`check_inclusion`](Self::check_inclusion)).
    pub fn check_recorded(
        &self,
        index: u64,
        signed: &custody_attest::bundle::SignedBundle,
    ) -> Result<(), Error> {
        let body = self.entry(index)?;
        if !custody_attest::tlog::entry_records(&body, &signed.envelope) {
            return Err(Error::EntryRecordsAnother { index });
        }
        self.check_inclusion(index, &body)
    }

    /// Checks, from the published tiles, that entry `index` is `entry` and that the verified
    /// checkpoint commits to it: the entry bundle and the hash tiles agree with the signed root.
    pub fn check_inclusion(&self, index: u64, entry: &[u8]) -> Result<(), Error> {
        let failed = |source| Error::Entry {
            index,
            source: Box::new(source),
        };
        let proof = prove_inclusion(&self.store, &self.checkpoint, index).map_err(failed)?;
        let c = &self.checkpoint.checkpoint;
        proof
            .proof
            .verify(index, c.size, custody_tlog::record_hash(entry), c.root)
            .map_err(failed)
    }

    /// Where the log is read from.
    pub fn location(&self) -> &str {
        &self.location
    }
}

/// Reads `path` from the log's store, refusing more than `limit` bytes.
fn read_from_store(
    store: &LogStore,
    location: &str,
    path: &str,
    limit: usize,
) -> Result<Vec<u8>, Error> {
    let full = format!("{location}/{path}");
    let bytes = store
        .get(path)
        .map_err(tlog_error(full.clone()))?
        .ok_or_else(|| Error::LogFileMissing {
            location: full.clone(),
        })?;
    if bytes.len() > limit {
        return Err(Error::LogFileTooLarge {
            location: full,
            limit,
        });
    }
    Ok(bytes)
}

/// What a request for witness cosignatures achieved.
#[derive(Debug)]
pub struct Rewitnessed {
    /// The checkpoint republished.
    pub checkpoint: SignedCheckpoint,
    /// Witnesses that did not cosign.
    pub failed: Vec<String>,
}

/// Asks the configured witnesses to cosign the log's current checkpoint and republishes it
/// with their cosignatures.
pub fn rewitness(
    loaded: &Loaded,
    keys: &dyn KeySource,
    transport: &Arc<dyn Transport>,
    events: &dyn Events,
) -> Result<Rewitnessed, Error> {
    if loaded.config.log.witnesses.is_empty() {
        return Err(Error::NoWitnesses);
    }
    let _writer = crate::sequence::writer(loaded, &crate::env::Silent)?;
    let mut log = open_writer(loaded, keys, transport)?;
    let checkpoint = log.witness_checkpoint()?;
    warn_witness_failures(&log, events);
    let failed = log
        .witness_failures()
        .iter()
        .map(|f| f.witness.clone())
        .collect();
    Ok(Rewitnessed { checkpoint, failed })
}

/// The signed documents in the site directory `dir` (`*.json`, each beside its
/// `*.json.sigstore.json` bundle): notices, key events. None when there is no such directory.
pub fn site_documents(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(Error::Io {
                path: dir.to_path_buf(),
                source,
            });
        }
    };
    let mut out = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|source| Error::Io {
                path: dir.to_path_buf(),
                source,
            })?
            .path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.ends_with(".json") && !name.ends_with(".sigstore.json") {
            out.push(path);
        }
    }
    Ok(out)
}

/// One log entry found by artifact digest.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, serde::Serialize)]
pub struct FoundEntry {
    /// Its index in the log.
    pub index: u64,
    /// The entry (a Rekor v2 `dsse` body: payload hash, signature, key).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub body: serde_json::Value,
}

/// The log entries recorded for an artifact digest (`sha256:HEX` or `HEX`), below the
/// verified checkpoint.
pub fn entries_for(loaded: &Loaded, digest: &str) -> Result<Vec<FoundEntry>, Error> {
    let log = LogReader::open(loaded)?;
    let digest = parse_digest(digest)?;
    log.lookup(&digest)?
        .into_iter()
        .map(|index| {
            let bytes = log.entry(index)?;
            let body = serde_json::from_slice(&bytes).map_err(|source| Error::NotJson {
                what: "a log entry",
                source,
            })?;
            Ok(FoundEntry { index, body })
        })
        .collect()
}

/// Rebuilds the log's lookup index (artifact digest → entries) from the site: every release's
/// artifact bundles and every customer notice, each used only if the entry it names records
/// its signature. For when `<log-state>` was lost: until then lookups refuse to answer rather
/// than answer from an index that misses entries.
pub fn reindex(
    loaded: &Loaded,
    keys: &dyn KeySource,
    transport: &Arc<dyn Transport>,
    events: &dyn Events,
) -> Result<custody_site::log::Reindexed, Error> {
    let _writer = crate::sequence::writer(loaded, events)?;
    let mut log = open_writer(loaded, keys, transport)?;
    let site = loaded.site_dir();
    let mut paths = Vec::new();
    let listed = |dir: &Path| -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
            .map(|rd| rd.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        v.sort();
        v
    };
    for product in listed(&site.join("releases")) {
        for release in listed(&product).into_iter().filter(|p| p.is_dir()) {
            for file in listed(&release) {
                let Some(name) = file.file_name().and_then(|n| n.to_str()) else {
                    continue;
                };
                // An artifact's own bundle: `<artifact>.sigstore.json` beside the artifact.
                if let Some(artifact) = name.strip_suffix(".sigstore.json")
                    && !custody_site::site::is_attachment(artifact)
                    && release.join(artifact).is_file()
                {
                    paths.push(file.clone());
                }
            }
        }
    }
    paths.extend(
        listed(&site.join("advisories"))
            .into_iter()
            .filter(|p| p.to_string_lossy().ends_with(".sigstore.json")),
    );
    let mut bundles = Vec::with_capacity(paths.len());
    for path in paths {
        let bytes = read_bounded(
            &path,
            custody_attest::bundle::MAX_BUNDLE_BYTES as u64,
            "bundle",
        )
        .map_err(Error::input)?;
        bundles.push((path, bytes));
    }
    events.progress(&format!(
        "Reindexing the log from {} bundle(s)",
        bundles.len()
    ));
    let report = log.reindex(&bundles)?;
    for (path, why) in &report.skipped {
        events.warn(&format!("{}: not indexed: {why}", path.display()));
    }
    Ok(report)
}

/// A bundle recorded in the log.
#[derive(Debug)]
pub struct Appended {
    /// Its entry's index.
    pub index: String,
    /// The tree size after it.
    pub tree_size: u64,
}

/// Records an existing bundle's signature in the log (the signature must verify with a key of
/// the site's policy; a bundle already logged is refused) and writes the bundle back with its
/// entry, inclusion proof and checkpoint.
pub fn append(
    loaded: &Loaded,
    bundle: &Path,
    keys: &dyn KeySource,
    transport: &Arc<dyn Transport>,
    clock: &dyn Clock,
    events: &dyn Events,
) -> Result<Appended, Error> {
    let site = Site::new(loaded.site_dir());
    let policy = site.policy().map_err(Error::input)?;
    let bytes = read_bounded(
        bundle,
        custody_attest::bundle::MAX_BUNDLE_BYTES as u64,
        "bundle",
    )
    .map_err(Error::input)?;
    let env = crate::env::ReleaseEnv {
        keys,
        transport: transport.clone(),
        clock,
        events,
        catalog: None,
    };
    let (appended, json) = append_bytes(loaded, bundle, &bytes, &policy, &env)?;
    write_atomic(bundle, json.as_bytes())?;
    Ok(appended)
}

/// A bundle a pipeline signed with its own key (one the site's policy trusts), verified and
/// recorded in the log: the server's side of accepting signed bundles. `name` says where it
/// came from, in errors.
pub fn append_uploaded(
    loaded: &Loaded,
    name: &str,
    bytes: &[u8],
    env: &crate::env::ReleaseEnv<'_>,
) -> Result<LoggedBundle, Error> {
    if bytes.len() > custody_attest::bundle::MAX_BUNDLE_BYTES {
        return Err(Error::UploadTooLarge {
            limit: custody_attest::bundle::MAX_BUNDLE_BYTES as u64,
        });
    }
    let policy = Site::new(loaded.site_dir())
        .policy()
        .map_err(Error::input)?;
    let (appended, json) = append_bytes(loaded, Path::new(name), bytes, &policy, env)?;
    let bundle = serde_json::from_str(&json).map_err(|source| Error::NotJson {
        what: "a logged bundle",
        source,
    })?;
    Ok(LoggedBundle {
        index: appended.index,
        tree_size: appended.tree_size,
        bundle,
    })
}

/// The largest bundle the server takes for logging.
pub const MAX_UPLOADED_BUNDLE: usize = custody_attest::bundle::MAX_BUNDLE_BYTES;

/// A bundle the log recorded, with its entry.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, serde::Serialize)]
pub struct LoggedBundle {
    /// Its entry's index.
    pub index: String,
    /// The tree size after it.
    pub tree_size: u64,
    /// The bundle, now carrying its log entry, inclusion proof and checkpoint.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub bundle: serde_json::Value,
}

/// Verifies `bytes` against the policy and records it, under the writer lock; the bundle with
/// its entry.
fn append_bytes(
    loaded: &Loaded,
    path: &Path,
    bytes: &[u8],
    policy: &custody_attest::trust::Policy,
    env: &crate::env::ReleaseEnv<'_>,
) -> Result<(Appended, String), Error> {
    let _writer = crate::sequence::writer(loaded, env.events)?;
    let mut log = open_writer(loaded, env.keys, &env.transport)?;
    let appended = log
        .append_bundle(bytes, policy, env.clock.now())
        .map_err(|source| Error::Append {
            bundle: path.to_path_buf(),
            source: Box::new(source),
        })?;
    warn_witness_failures(&log, env.events);
    Ok((
        Appended {
            index: appended.entry.log_index.to_string(),
            tree_size: log.size(),
        },
        appended.json,
    ))
}

/// What a monitor run saw.
#[derive(Debug)]
pub enum Monitored {
    /// The log is consistent with what was trusted before (or seen for the first time).
    Consistent {
        /// The log's origin.
        origin: String,
        /// The observed size.
        size: u64,
        /// What changed.
        observation: Observation,
    },
    /// The log showed two irreconcilable histories, both signed.
    SplitView {
        /// The log's origin.
        origin: String,
        /// Both checkpoints and the failed proof.
        evidence: Box<SplitViewEvidence>,
    },
}

/// Checks that the log in `log_dir` only ever grew: its checkpoint (verified with `vkey`)
/// against the one remembered in `state` from the last run, with a consistency proof from the
/// log's own tiles. A consistent checkpoint is remembered for the next run.
pub fn monitor(log_dir: &Path, vkey: &Path, state: &Path) -> Result<Monitored, Error> {
    let vkey_bytes = read_bounded(vkey, MAX_VKEY as u64, "verifier key").map_err(Error::input)?;
    let vkey_text = String::from_utf8(vkey_bytes).map_err(|_| Error::NotUtf8 {
        path: vkey.to_path_buf(),
    })?;
    let verifier = parse_vkey(&vkey_text, &vkey.display().to_string())?;
    let origin = verifier.name().to_owned();
    let cp_path = log_dir.join(CHECKPOINT_PATH);
    let cp_location = cp_path.display().to_string();
    let note = read_bounded(&cp_path, MAX_CHECKPOINT as u64, "checkpoint").map_err(Error::input)?;
    let observed =
        Checkpoint::open(&note, &origin, &verifier).map_err(rejected(cp_location.clone()))?;
    let mut monitor = if state.is_file() {
        let trusted =
            read_bounded(state, MAX_CHECKPOINT as u64, "monitor state").map_err(Error::input)?;
        custody_tlog::Monitor::resume(&origin, verifier, &trusted)
            .map_err(rejected(state.display().to_string()))?
    } else {
        custody_tlog::Monitor::new(&origin, verifier)
    };
    let store = DirStore::open(log_dir).map_err(tlog_error(log_dir.display().to_string()))?;
    let proof = match monitor.trusted() {
        None => ConsistencyProof::default(),
        Some(t) => {
            let (old, new) = (t.checkpoint.size, observed.checkpoint.size);
            let (small, large) = if old <= new { (old, new) } else { (new, old) };
            // A log that shrank cannot prove anything from its own tiles: that is itself the
            // evidence, so an empty proof lets the monitor report it.
            prove_consistency(&store, large, small).unwrap_or_default()
        }
    };
    match monitor.observe(&note, &proof) {
        Ok(observation) => {
            if let Some(t) = monitor.trusted() {
                write_atomic(state, &t.note.to_bytes())?;
            }
            Ok(Monitored::Consistent {
                origin,
                size: observed.checkpoint.size,
                observation,
            })
        }
        Err(custody_tlog::Error::SplitView { evidence }) => {
            Ok(Monitored::SplitView { origin, evidence })
        }
        Err(e) => Err(rejected(cp_location)(e)),
    }
}

fn rejected(location: String) -> impl FnOnce(custody_tlog::Error) -> Error {
    move |source| Error::CheckpointRejected {
        location,
        source: Box::new(source),
    }
}

/// What a witness's one-shot cosignature covered.
#[derive(Debug, Serialize)]
pub struct Cosigned {
    /// The log's origin.
    pub origin: String,
    /// The size cosigned now.
    pub size: u64,
    /// The size the witness had cosigned before.
    pub old_size: u64,
    /// The cosignature line (c2sp.org/tlog-cosignature).
    pub cosignature: String,
    /// The witness's verifier key.
    pub witness: String,
}

/// Acts once as a witness (c2sp.org/tlog-witness) for the log at `log` (a directory or URL):
/// fetches its checkpoint, verifies it with `log_key`, proves it consistent with the last size
/// this witness cosigned (from the log's own tiles), cosigns it with `witness`, and remembers
/// it in `state`.
pub fn cosign(
    log: &str,
    log_key: &NoteVerifier,
    witness: &NoteSigner,
    state: &Path,
    transport: &Arc<dyn Transport>,
    clock: &dyn Clock,
) -> Result<Cosigned, Error> {
    let store: Box<dyn custody_tlog::TileStore> = if crate::transport::is_http(log) {
        Box::new(HttpLog::new(log, Arc::clone(transport)))
    } else {
        let dir = Path::new(log);
        if !dir.is_dir() {
            return Err(Error::NotALogDirectory {
                path: dir.to_path_buf(),
            });
        }
        Box::new(DirStore::open(dir).map_err(tlog_error(log))?)
    };
    let state_location = state.display().to_string();
    let state = WitnessState::open(state).map_err(tlog_error(state_location.clone()))?;
    let origin = log_key.name().to_owned();
    let cp_location = format!("{log}/{CHECKPOINT_PATH}");
    let note = store
        .get(CHECKPOINT_PATH)
        .map_err(tlog_error(cp_location.clone()))?
        .ok_or_else(|| Error::LogFileMissing {
            location: cp_location.clone(),
        })?;
    let witnessed = state
        .load(&origin, log_key)
        .map_err(tlog_error(state_location.clone()))?;
    let new = Checkpoint::open(&note, &origin, log_key).map_err(rejected(cp_location))?;
    // The tiles are the log's word only: the proof built from them is checked against the root
    // this witness cosigned before and the root the log just signed.
    let proof = prove_consistency(
        &store,
        new.checkpoint.size,
        witnessed.size.min(new.checkpoint.size),
    )
    .map_err(tlog_error(format!(
        "{log}: consistency proof from size {}",
        witnessed.size
    )))?;
    let request = AddCheckpointRequest {
        old_size: witnessed.size,
        proof,
        checkpoint: note,
    };
    let now = u64::try_from(clock.now().as_second()).unwrap_or(0);
    let (cosignature, signed) =
        witnessed
            .add_checkpoint(&request, witness, now)
            .map_err(|source| Error::NotCosigned {
                log: log.to_owned(),
                source: Box::new(source),
            })?;
    state.save(&signed).map_err(tlog_error(state_location))?;
    Ok(Cosigned {
        origin,
        size: signed.checkpoint.size,
        old_size: witnessed.size,
        cosignature: cosignature.line().trim_end().to_owned(),
        witness: witness.verifier().to_vkey_string(),
    })
}

/// A signed document of the site (a key event, a reproducibility check, a release's evidence):
/// `path` holds the predicate as pretty JSON, and beside it (`.json.sigstore.json`) its bundle.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SignedDocument<'a> {
    /// Where the document goes (`.json`).
    pub path: &'a Path,
    /// What the statement is about.
    pub subjects: &'a [custody_attest::release::Artifact],
    /// The predicate type.
    pub predicate_type: &'a str,
    /// The document.
    pub predicate: &'a serde_json::Value,
}

impl SignedDocument<'_> {
    /// Signs the document with `signer` (a key the site's policy trusts at `at`) as an in-toto
    /// Statement about its subjects, records the signature in the transparency log, and writes
    /// the document and its bundle. Returns the bundle's path.
    pub(crate) fn publish(
        &self,
        loaded: &Loaded,
        signer: &crate::env::Key,
        (keys, transport): (&dyn KeySource, &Arc<dyn Transport>),
        events: &dyn Events,
        at: jiff::Timestamp,
    ) -> Result<PathBuf, Error> {
        let bundle_path = self.path.with_extension("json.sigstore.json");
        let signed = custody_attest::release::attest_document(
            signer.as_ref(),
            self.subjects,
            self.predicate_type,
            self.predicate,
        )?;
        let policy = custody_site::site::Site::new(loaded.site_dir())
            .policy()
            .map_err(Error::input)?;
        let mut log = open_writer(loaded, keys, transport)?;
        let logged = log
            .append_bundle(
                custody_attest::bundle::to_json(&signed)?.as_bytes(),
                &policy,
                at,
            )
            .map_err(|source| Error::Append {
                bundle: bundle_path.clone(),
                source: Box::new(source),
            })?;
        warn_witness_failures(&log, events);
        let text =
            serde_json::to_string_pretty(self.predicate).map_err(|source| Error::Serialise {
                what: "a signed document",
                source,
            })?;
        write_atomic(self.path, format!("{text}\n").as_bytes())?;
        write_atomic(&bundle_path, logged.json.as_bytes())?;
        Ok(bundle_path)
    }
}
