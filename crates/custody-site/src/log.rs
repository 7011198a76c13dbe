//! The site's transparency log: `site/log/` in C2SP tlog-tiles layout, written by one
//! sequencer, recording every bundle a release signs. `[log] store = "s3://bucket/prefix"`
//! keeps it in an S3-compatible bucket instead (crate feature `s3`).

use std::path::Path;
use std::sync::Arc;

use custody_attest::bundle::{self, IN_TOTO_PAYLOAD_TYPE};
use custody_attest::tlog::{TlogEntry, dsse_entry_body, entry_from_proof, entry_records, log_id};
use custody_attest::trust::Policy;
use custody_crypto::{PublicKey, Signer};
use custody_tlog::{
    ArtifactDigest, DirStore, LogEntry, NoteSigner, NoteVerifier, Sequencer, SignatureType,
    TileStore, WitnessClient, WitnessFailure,
};

use crate::Error;

/// The directory of the log inside the site.
pub const LOG_DIR: &str = "log";
/// The verifier key file (signed-note `name+keyid+base64`), for witnesses and monitors.
pub const VKEY_FILE: &str = "vkey";

/// The storage a log is written to: the site's `log/` directory or a bucket.
pub type LogStore = Box<dyn TileStore>;

/// The log's storage as `[log] store` names it: absent, the site's `log/` directory, with
/// writes staged in `staging` (outside the published site, on the same file system);
/// `s3://bucket/prefix`, that bucket (endpoint, region and credentials from the standard AWS
/// environment variables, with `env`'s names and values taking precedence).
///
/// An `s3://` store needs the crate feature `s3`; without it this is
/// [`Error::LogStoreNeedsS3`].
pub fn open_store(
    site_root: &Path,
    staging: &Path,
    store: Option<&str>,
    env: &[(&str, &str)],
) -> Result<LogStore, Error> {
    let Some(url) = store else {
        return Ok(Box::new(DirStore::open_with_staging(
            site_root.join(LOG_DIR),
            staging,
        )?));
    };
    if !url.starts_with("s3://") {
        return Err(Error::BadLogStore {
            store: url.chars().take(200).collect(),
        });
    }
    open_s3(url, env)
}

#[cfg(feature = "s3")]
fn open_s3(url: &str, env: &[(&str, &str)]) -> Result<LogStore, Error> {
    Ok(Box::new(
        custody_tlog::s3::ObjectTileStore::from_s3_url_with(url, env)?,
    ))
}

#[cfg(not(feature = "s3"))]
fn open_s3(url: &str, _env: &[(&str, &str)]) -> Result<LogStore, Error> {
    Err(Error::LogStoreNeedsS3 {
        store: url.chars().take(200).collect(),
    })
}

/// The checkpoint verifier for `key` under `origin`.
pub fn note_verifier(origin: &str, key: &PublicKey) -> Result<NoteVerifier, Error> {
    let raw = key.ed25519_bytes().ok_or(Error::LogKeyNotEd25519)?;
    let vk = custody_tlog_key(&raw)?;
    Ok(NoteVerifier::new(origin, SignatureType::Ed25519, vk)?)
}

fn custody_tlog_key(raw: &[u8; 32]) -> Result<ed25519_dalek::VerifyingKey, Error> {
    ed25519_dalek::VerifyingKey::from_bytes(raw).map_err(|_| Error::LogKeyNotEd25519)
}

/// The note signer a witness cosigns with: `key` (Ed25519) under `name`, as cosignature/v1.
pub fn witness_signer(name: &str, key: Arc<dyn Signer>) -> Result<NoteSigner, Error> {
    Ok(NoteSigner::with_key(
        name,
        SignatureType::CosignatureV1,
        note_key(key)?,
    )?)
}

fn note_key(key: Arc<dyn Signer>) -> Result<Box<dyn custody_tlog::NoteKey>, Error> {
    custody_attest::tlog::note_key(key).map_err(|_| Error::LogKeyNotEd25519)
}

/// An open log, holding the single-writer lock until dropped.
#[derive(Debug)]
pub struct Log {
    seq: Sequencer<LogStore>,
    log_id: [u8; 32],
    witness_failures: Vec<WitnessFailure>,
}

/// One thing to record: the entry body, and the artifact digest to index it under.
#[derive(Debug, Clone)]
pub struct Record {
    /// The Rekor v2 entry body.
    pub body: Vec<u8>,
    /// SHA-256 of the artifact the entry is about, for `custody log lookup`.
    pub artifact: Option<[u8; 32]>,
}

/// What [`Log::reindex`] found.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Reindexed {
    /// Bundles read.
    pub bundles: usize,
    /// Entries indexed under an artifact digest.
    pub indexed: usize,
    /// Bundles not used, each with why.
    pub skipped: Vec<(std::path::PathBuf, String)>,
}

/// A bundle that [`Log::append_bundle`] recorded.
#[derive(Debug, Clone)]
pub struct AppendedBundle {
    /// Its new `tlogEntries` item.
    pub entry: TlogEntry,
    /// The bundle JSON carrying that entry.
    pub json: String,
}

/// The SHA-256 digests of an in-toto statement's subjects; none if it is not one.
fn subject_digests(payload: &[u8]) -> Vec<[u8; 32]> {
    #[derive(serde::Deserialize)]
    struct Statement {
        #[serde(default)]
        subject: Vec<Subject>,
    }
    #[derive(serde::Deserialize)]
    struct Subject {
        #[serde(default)]
        digest: std::collections::BTreeMap<String, String>,
    }
    let Ok(stmt) = serde_json::from_slice::<Statement>(payload) else {
        return Vec::new();
    };
    stmt.subject
        .iter()
        .filter_map(|s| s.digest.get("sha256"))
        .filter_map(|h| custody_crypto::Sha256Digest::from_hex(h).ok())
        .map(|d| d.0)
        .collect()
}

impl Log {
    /// Open (or create) the log in `store` (see [`open_store`]), with private state in
    /// `state_dir`.
    ///
    /// The verifier key is written beside the checkpoint as [`VKEY_FILE`], so a log kept in a
    /// bucket is served whole from there.
    pub fn open(
        store: LogStore,
        state_dir: &Path,
        origin: &str,
        key: Arc<dyn Signer>,
    ) -> Result<Self, Error> {
        let signer = NoteSigner::with_key(origin, SignatureType::Ed25519, note_key(key.clone())?)?;
        let raw = key
            .public_key()
            .ed25519_bytes()
            .ok_or(Error::LogKeyNotEd25519)?;
        let vkey = format!(
            "{}\n",
            note_verifier(origin, key.public_key())?.to_vkey_string()
        );
        if store.get(VKEY_FILE)?.as_deref() != Some(vkey.as_bytes()) {
            store.put(VKEY_FILE, vkey.as_bytes())?;
        }
        let seq = Sequencer::open(store, state_dir, origin, signer)?;
        Ok(Self {
            seq,
            log_id: log_id(origin, &raw),
            witness_failures: Vec::new(),
        })
    }

    /// The log's key was rotated: sign with `key` from now on. The current checkpoint is
    /// republished signed by it (witness cosignatures kept) and the verifier key beside it
    /// replaced, so readers that take the log's `vkey` verify the new checkpoints.
    pub fn rotate_key(
        &mut self,
        origin: &str,
        key: Arc<dyn Signer>,
    ) -> Result<custody_tlog::SignedCheckpoint, Error> {
        let raw = key
            .public_key()
            .ed25519_bytes()
            .ok_or(Error::LogKeyNotEd25519)?;
        let vkey = format!(
            "{}\n",
            note_verifier(origin, key.public_key())?.to_vkey_string()
        );
        let signer = NoteSigner::with_key(origin, SignatureType::Ed25519, note_key(key)?)?;
        let checkpoint = self.seq.resign(signer)?;
        self.seq.store().put(VKEY_FILE, vkey.as_bytes())?;
        self.log_id = log_id(origin, &raw);
        Ok(checkpoint)
    }

    /// Asks these witnesses to cosign every checkpoint published from now on, so that the
    /// checkpoints embedded in bundles carry their cosignatures.
    pub fn set_witnesses(&mut self, witnesses: Vec<WitnessClient>) {
        self.seq.set_witnesses(witnesses);
    }

    /// Witnesses that did not cosign the latest checkpoint this log published.
    pub fn witness_failures(&self) -> &[WitnessFailure] {
        &self.witness_failures
    }

    /// Asks the witnesses to cosign the current checkpoint again and republishes it.
    pub fn witness_checkpoint(&mut self) -> Result<custody_tlog::SignedCheckpoint, Error> {
        let appended = self.seq.witness_checkpoint()?;
        self.witness_failures = appended.witness_failures;
        Ok(appended.checkpoint)
    }

    /// Append `records` as one batch, wait until they are durable under a published checkpoint,
    /// and return each one's bundle entry with its inclusion proof.
    pub fn record(&mut self, records: &[Record]) -> Result<Vec<TlogEntry>, Error> {
        let entries: Vec<LogEntry> = records
            .iter()
            .map(|r| LogEntry {
                data: r.body.clone(),
                artifact: r.artifact.map(ArtifactDigest),
            })
            .collect();
        let appended = self.seq.append_batch(&entries)?;
        self.witness_failures = appended.witness_failures.clone();
        let cp = &appended.checkpoint.checkpoint;
        records
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let proof = self.seq.prove(appended.first_index + i as u64)?;
                Ok(entry_from_proof(
                    &r.body,
                    &self.log_id,
                    &proof,
                    cp.root.0,
                    cp.size,
                ))
            })
            .collect()
    }

    /// Records the signature of an existing bundle (signed by a key `policy` trusts at `now`)
    /// and returns the bundle rewritten with its entry: inclusion proof and checkpoint.
    ///
    /// Refuses a bundle that already carries an entry, and one whose signature the log already
    /// holds (found through the lookup index by the statement's subject digests), so each
    /// signature is recorded once.
    pub fn append_bundle(
        &mut self,
        bundle_json: &[u8],
        policy: &Policy,
        now: jiff::Timestamp,
    ) -> Result<AppendedBundle, Error> {
        let signed = bundle::parse(bundle_json)?;
        if let Some(first) = signed.tlog_entries.first() {
            return Err(Error::BundleCarriesEntry {
                index: first.log_index.clone(),
            });
        }
        let key = policy.key_for(&signed.hint, now, None)?;
        self.append_signed(&signed, key)
    }

    /// [`append_bundle`](Self::append_bundle) for a bundle whose signer the caller has
    /// judged (an approver's key, which the policy names under its approval rules): the
    /// signature must verify with `key`.
    pub fn append_signed(
        &mut self,
        signed: &bundle::SignedBundle,
        key: &PublicKey,
    ) -> Result<AppendedBundle, Error> {
        if let Some(first) = signed.tlog_entries.first() {
            return Err(Error::BundleCarriesEntry {
                index: first.log_index.clone(),
            });
        }
        bundle::verify_envelope(&signed.envelope, key)?;
        let body = dsse_entry_body(&signed.envelope, key);
        let subjects = if signed.envelope.payload_type == IN_TOTO_PAYLOAD_TYPE {
            subject_digests(signed.envelope.payload.as_bytes())
        } else {
            Vec::new()
        };
        for digest in &subjects {
            for &index in self.lookup(digest) {
                if self.seq.entry(index)? == body {
                    return Err(Error::AlreadyLogged { index });
                }
            }
        }
        // Only a statement about one artifact is indexed under it, as `custody release` does:
        // a provenance or SBOM attestation names every artifact and would bury their entries.
        let artifact = match subjects.as_slice() {
            [one] => Some(*one),
            _ => None,
        };
        let appended = self.seq.append_batch(&[LogEntry {
            data: body.clone(),
            artifact: artifact.map(ArtifactDigest),
        }])?;
        self.witness_failures = appended.witness_failures.clone();
        let cp = &appended.checkpoint.checkpoint;
        let proof = self.seq.prove(appended.first_index)?;
        let entry = entry_from_proof(&body, &self.log_id, &proof, cp.root.0, cp.size);
        let json = bundle::to_json_with_entries(&signed.bundle, std::slice::from_ref(&entry))?;
        Ok(AppendedBundle { entry, json })
    }

    /// The bundle rewritten with the log's entry `index`, which must record exactly its
    /// signature by `key`: for a bundle logged by a run that was killed before it kept it.
    pub fn recorded_bundle(
        &self,
        signed: &bundle::SignedBundle,
        key: &PublicKey,
        index: u64,
    ) -> Result<AppendedBundle, Error> {
        let body = dsse_entry_body(&signed.envelope, key);
        if self.seq.entry(index)? != body {
            return Err(Error::EntryDiffers { index });
        }
        let cp = &self.seq.checkpoint().checkpoint;
        let proof = self.seq.prove(index)?;
        let entry = entry_from_proof(&body, &self.log_id, &proof, cp.root.0, cp.size);
        let json = bundle::to_json_with_entries(&signed.bundle, std::slice::from_ref(&entry))?;
        Ok(AppendedBundle { entry, json })
    }

    /// Rebuilds the lookup index from bundles found on the site (`(path, bytes)`): each
    /// bundle's entry is read back from the log and used only if it records that bundle's
    /// signature; a statement about one artifact is indexed under it, as `append_bundle` and a
    /// release index them.
    pub fn reindex(
        &mut self,
        bundles: &[(std::path::PathBuf, Vec<u8>)],
    ) -> Result<Reindexed, Error> {
        let mut records = Vec::new();
        let mut report = Reindexed::default();
        for (path, bytes) in bundles {
            report.bundles += 1;
            let mut skip = |why: String| report.skipped.push((path.clone(), why));
            let signed = match bundle::parse(bytes) {
                Ok(s) => s,
                Err(e) => {
                    skip(e.to_string());
                    continue;
                }
            };
            let Some(entry) = signed.tlog_entries.first() else {
                skip("carries no log entry".to_owned());
                continue;
            };
            let Some(index) = entry
                .log_index
                .parse::<u64>()
                .ok()
                .filter(|i| *i < self.size())
            else {
                skip(format!("names entry {}, not in the log", entry.log_index));
                continue;
            };
            if !entry_records(&self.seq.entry(index)?, &signed.envelope) {
                skip(format!(
                    "the log's entry {index} is not this bundle's signature"
                ));
                continue;
            }
            if signed.envelope.payload_type != IN_TOTO_PAYLOAD_TYPE {
                continue;
            }
            if let [one] = subject_digests(signed.envelope.payload.as_bytes()).as_slice() {
                records.push((index, ArtifactDigest(*one)));
            }
        }
        report.indexed = records.len();
        self.seq.rebuild_index(records)?;
        Ok(report)
    }

    /// Whether lookups see every entry (the index was not lost, or was rebuilt since).
    pub fn index_complete(&self) -> bool {
        self.seq.index_complete()
    }

    /// Entry indices recorded under an artifact digest.
    pub fn lookup(&self, sha256: &[u8; 32]) -> &[u64] {
        self.seq.lookup(&ArtifactDigest(*sha256))
    }

    /// The current tree size.
    pub fn size(&self) -> u64 {
        self.seq.size()
    }

    /// The sequencer, for reading entries and proofs.
    pub fn sequencer(&self) -> &Sequencer<LogStore> {
        &self.seq
    }
}
