//! The static release site: layout, initialisation, immutable publishing, the index page.

use std::path::{Path, PathBuf};

use custody_attest::bundle;
use custody_attest::release::{self, Artifact, ReleaseFacts, bundle_name};
use custody_attest::trust::{
    BuilderPolicy, POLICY_MEDIA_TYPE, Policy, PolicyKey, SourcePolicy, TimeRange, TrustedRoot,
};
use custody_crypto::{Algorithms, PublicKey, Signer, digest_files};
use serde::Serialize;

use crate::Error;
use crate::fs::{path_io, read_bounded, sync_dir, write_atomic, write_new_files};
use crate::log::{Log, Record};
use custody_attest::tlog::{self, TlogEntry};

/// `trusted_root.json`.
pub const TRUSTED_ROOT_FILE: &str = "trusted_root.json";
/// `custody-policy.json`.
pub const POLICY_FILE: &str = "custody-policy.json";
/// A release's signed manifest.
pub const MANIFEST_FILE: &str = "manifest.json";
/// Provenance naming every artifact of a release.
pub const PROVENANCE_FILE: &str = "provenance.sigstore.json";

/// A release site rooted at a directory.
#[derive(Debug, Clone)]
pub struct Site {
    root: PathBuf,
    staging: Option<PathBuf>,
    held: Option<PathBuf>,
}

/// The name prefix of a release being assembled, before it is renamed into place.
const STAGING_PREFIX: &str = ".staging-";

/// What `init` did.
#[derive(Debug, Clone, Serialize)]
pub struct InitOutcome {
    /// The site directory.
    pub site: PathBuf,
    /// Whether `trusted_root.json` was written now (false: it existed).
    pub wrote_trusted_root: bool,
    /// Whether the key was added to the policy now (false: it was there).
    pub added_key_to_policy: bool,
}

/// What `publish` wrote.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Published {
    /// The product.
    pub product: String,
    /// The version.
    pub version: String,
    /// The release directory.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub dir: PathBuf,
    /// Each artifact with its digests and bundle.
    pub artifacts: Vec<PublishedArtifact>,
    /// The signing key's hint.
    pub key: String,
    /// Whether the source tree was clean.
    pub source_clean: bool,
    /// The source commit.
    pub commit: String,
}

/// One artifact of a [`Published`] release.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PublishedArtifact {
    /// File name.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256, hex.
    pub sha256: String,
    /// SHA-512, hex.
    pub sha512: String,
    /// Its bundle's path.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub bundle: PathBuf,
}

/// A document published with a release and signed as an attestation about all its artifacts:
/// written as `name`, with its bundle as `name.sigstore.json`.
#[derive(Debug, Clone)]
pub struct Attachment {
    /// File name in the release directory, e.g. `sbom.cdx.json`.
    pub name: String,
    /// The document (JSON).
    pub bytes: Vec<u8>,
    /// The in-toto predicate type it is attested under.
    pub predicate_type: &'static str,
}

/// Files a release directory holds besides its artifacts: bundles, the manifest, SBOMs, the
/// scan and VEX documents.
pub fn is_attachment(name: &str) -> bool {
    name.ends_with(".sigstore.json")
        || name.ends_with(".openvex.json")
        || matches!(
            name,
            "manifest.json"
                | "sbom.cdx.json"
                | "sbom.spdx.json"
                | "scan.json"
                | "vex.cdx.json"
                | "provenance.sigstore.json"
                | "approvals.json"
        )
}

/// Where the bundle for an artifact lives by default: beside it.
pub fn default_bundle_path(artifact: &Path) -> PathBuf {
    let mut name = artifact.file_name().unwrap_or_default().to_os_string();
    name.push(".sigstore.json");
    artifact.with_file_name(name)
}

/// Product and version become directory names; keep them to a safe alphabet.
pub fn check_name(what: &'static str, value: &str) -> Result<(), Error> {
    let ok = !value.is_empty()
        && value.len() <= 128
        && !value.starts_with('.')
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+'));
    if ok {
        Ok(())
    } else {
        Err(Error::BadName {
            what,
            value: value.to_owned(),
        })
    }
}

impl Site {
    /// The site at `root` (which need not exist yet).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            staging: None,
            held: None,
        }
    }

    /// Publish releases into `dir` (as `<product>/<version>/`) instead of the site: signed and
    /// logged, but held out of sight until [`release_held`](Self::release_held) moves one in
    /// (once its approvals are in). `dir` should be on the site's file system, so that the move
    /// is one rename.
    pub fn holding_in(mut self, dir: impl Into<PathBuf>) -> Self {
        self.held = Some(dir.into());
        self
    }

    /// Where a held release of `product` `version` waits, when this site holds releases.
    pub fn held_dir(&self, product: &str, version: &str) -> Option<PathBuf> {
        self.held.as_ref().map(|d| d.join(product).join(version))
    }

    /// Move the held release of `product` `version` onto the site, atomically, and describe it
    /// as published.
    pub fn release_held(&self, product: &str, version: &str) -> Result<Published, Error> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| Error::Io { path, source }
        };
        let final_dir = self.release_dir(product, version);
        let Some(held) = self.held_dir(product, version).filter(|d| d.is_dir()) else {
            return Err(Error::NotHeld {
                product: product.to_owned(),
                version: version.to_owned(),
            });
        };
        if final_dir.exists() {
            return Err(Error::AlreadyPublished {
                product: product.to_owned(),
                version: version.to_owned(),
                path: final_dir,
            });
        }
        let product_dir = final_dir.parent().unwrap_or(&self.root).to_path_buf();
        std::fs::create_dir_all(&product_dir).map_err(io(&product_dir))?;
        sync_dir(&held)?;
        std::fs::rename(&held, &final_dir).map_err(io(&final_dir))?;
        sync_dir(&product_dir)?;
        write_index(&self.root)?;
        published_release(self, product, version)
    }

    /// Assemble releases in `dir` rather than beside the published versions, so a publish
    /// killed midway leaves nothing half-written where the site is served from. Rename is
    /// atomic only within one file system: when `dir` is on another one than the site, releases
    /// are assembled in the product directory after all.
    pub fn staging_in(mut self, dir: impl Into<PathBuf>) -> Self {
        self.staging = Some(dir.into());
        self
    }

    /// Its directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `trusted_root.json`.
    pub fn trusted_root_path(&self) -> PathBuf {
        self.root.join(TRUSTED_ROOT_FILE)
    }

    /// `custody-policy.json`.
    pub fn policy_path(&self) -> PathBuf {
        self.root.join(POLICY_FILE)
    }

    /// `releases/<product>/<version>/`.
    pub fn release_dir(&self, product: &str, version: &str) -> PathBuf {
        self.root.join("releases").join(product).join(version)
    }

    /// Load and check the site's policy.
    pub fn policy(&self) -> Result<Policy, Error> {
        load_policy(&self.policy_path())
    }

    /// Create the site's trust files, or add `key` to an existing policy.
    ///
    /// With `log` (its checkpoint origin and key), the trusted root lists that transparency log
    /// and `log/vkey` publishes its verifier key.
    pub fn init(
        &self,
        key: &PublicKey,
        builder_id: &str,
        repository: &str,
        now: jiff::Timestamp,
        log: Option<(&str, &PublicKey)>,
    ) -> Result<InitOutcome, Error> {
        std::fs::create_dir_all(&self.root).map_err(|source| Error::Io {
            path: self.root.clone(),
            source,
        })?;
        let root_path = self.trusted_root_path();
        let wrote_trusted_root = !root_path.exists();
        let mut root = if wrote_trusted_root {
            TrustedRoot::empty()
        } else {
            load_trusted_root(&root_path)?
        };
        let mut root_changed = wrote_trusted_root;
        if let Some((origin, log_key)) = log {
            let instance = tlog::log_instance(
                origin,
                log_key,
                TimeRange {
                    start: now,
                    end: None,
                },
            )
            .ok_or(Error::LogKeyNotEd25519)?;
            if !root.tlogs.iter().any(|t| t.log_id == instance.log_id) {
                root.tlogs.push(instance);
                root_changed = true;
            }
            let vkey = crate::log::note_verifier(origin, log_key)?.to_vkey_string();
            write_atomic(
                &self
                    .root
                    .join(crate::log::LOG_DIR)
                    .join(crate::log::VKEY_FILE),
                format!("{vkey}\n").as_bytes(),
            )?;
        }
        if root_changed {
            write_atomic(&root_path, root.to_json()?.as_bytes())?;
        }
        let policy_path = self.policy_path();
        let entry = PolicyKey::new(
            key,
            TimeRange {
                start: now,
                end: None,
            },
        );
        let (policy, added) = if policy_path.exists() {
            let mut policy = self.policy()?;
            let present = policy.keys.iter().any(|k| k.hint == entry.hint);
            if !present {
                policy.keys.push(entry);
            }
            (policy, !present)
        } else {
            let policy = Policy {
                media_type: POLICY_MEDIA_TYPE.to_owned(),
                keys: vec![entry],
                builder: BuilderPolicy {
                    id: builder_id.to_owned(),
                },
                source: SourcePolicy {
                    repository: repository.to_owned(),
                },
                witnesses: None,
                approvals: Vec::new(),
                log_key_rotations: Vec::new(),
            };
            (policy, true)
        };
        if added {
            write_atomic(&policy_path, policy.to_json()?.as_bytes())?;
        }
        write_index(&self.root)?;
        Ok(InitOutcome {
            site: self.root.clone(),
            wrote_trusted_root,
            added_key_to_policy: added,
        })
    }

    /// Copy `artifacts` into a new release directory, hash the copies, sign, and publish
    /// atomically: the version directory appears whole or not at all, and never twice.
    ///
    /// With `log`, every bundle is recorded in the transparency log first and carries its entry,
    /// inclusion proof and checkpoint. [`stage`](Self::stage) and [`Staged::finish`] are the
    /// two halves, for a caller that signs several releases and logs them as one batch.
    pub fn publish(
        &self,
        signer: &dyn Signer,
        facts: &ReleaseFacts,
        artifacts: &[PathBuf],
        attachments: &[Attachment],
        log: Option<&mut Log>,
    ) -> Result<Published, Error> {
        let mut staged = self.stage(signer, facts, artifacts, attachments)?;
        let entries = match log {
            Some(log) => log.record(staged.records())?,
            None => Vec::new(),
        };
        let published = staged.finish(&entries)?;
        if self.held.is_none() {
            self.write_index()?;
        }
        Ok(published)
    }

    /// The first half of [`publish`](Self::publish): checks the names, copies `artifacts` into
    /// a staging directory of this call's own, hashes the copies and signs every document. Needs
    /// no lock: nothing is logged and nothing reaches the site until [`Staged::finish`].
    pub fn stage(
        &self,
        signer: &dyn Signer,
        facts: &ReleaseFacts,
        artifacts: &[PathBuf],
        attachments: &[Attachment],
    ) -> Result<Staged, Error> {
        check_name("product", &facts.product)?;
        check_name("version", &facts.version)?;
        let published_dir = self.release_dir(&facts.product, &facts.version);
        if published_dir.exists() {
            return Err(Error::AlreadyPublished {
                product: facts.product.clone(),
                version: facts.version.clone(),
                path: published_dir,
            });
        }
        let held = self.held.is_some();
        let final_dir = self
            .held_dir(&facts.product, &facts.version)
            .unwrap_or(published_dir);
        if final_dir.exists() {
            return Err(already(facts, &final_dir, held));
        }
        let policy = self.policy()?;
        let hint = signer.public_key().hint();
        if !policy.keys.iter().any(|k| k.hint == hint.as_str()) {
            return Err(Error::KeyNotInPolicy {
                hint: hint.to_string(),
                policy: self.policy_path(),
            });
        }
        let mut names = Vec::with_capacity(artifacts.len());
        for path in artifacts {
            let meta = std::fs::metadata(path).map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?;
            if meta.is_dir() {
                return Err(custody_crypto::Error::IsDirectory(path.clone()).into());
            }
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            check_name("artifact file name", &name)?;
            if names.contains(&name) {
                return Err(Error::DuplicateArtifact(name));
            }
            names.push(name);
        }

        let product_dir = final_dir.parent().unwrap_or(&self.root).to_path_buf();
        std::fs::create_dir_all(&product_dir).map_err(|source| Error::Io {
            path: product_dir.clone(),
            source,
        })?;
        let staging_dir = self.staging_dir(&product_dir)?;
        sweep_staging(&staging_dir);
        sweep_old_staging_once(&product_dir);
        let mut staged = Staged {
            staging: staging_dir.join(staging_name(&facts.product, &facts.version)),
            final_dir,
            held,
            facts: facts.clone(),
            key: hint.to_string(),
            hashed: Vec::new(),
            files: Vec::new(),
            records: Vec::new(),
            finished: false,
        };
        staged.assemble(
            signer,
            &Inputs {
                artifacts,
                names: &names,
                attachments,
            },
        )?;
        Ok(staged)
    }

    /// Rewrite `index.html`, the human summary of every release.
    pub fn write_index(&self) -> Result<(), Error> {
        write_index(&self.root)
    }

    /// Where to assemble a release of the product in `product_dir`.
    fn staging_dir(&self, product_dir: &Path) -> Result<PathBuf, Error> {
        let Some(dir) = &self.staging else {
            return Ok(product_dir.to_path_buf());
        };
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            path: dir.clone(),
            source,
        })?;
        if same_file_system(dir, product_dir) {
            Ok(dir.clone())
        } else {
            Ok(product_dir.to_path_buf())
        }
    }
}

fn already(facts: &ReleaseFacts, dir: &Path, held: bool) -> Error {
    let (product, version, path) = (
        facts.product.clone(),
        facts.version.clone(),
        dir.to_path_buf(),
    );
    if held {
        Error::AlreadyHeld {
            product,
            version,
            path,
        }
    } else {
        Error::AlreadyPublished {
            product,
            version,
            path,
        }
    }
}

/// A release assembled by [`Site::stage`]: its artifacts copied and hashed and every document
/// signed, in a staging directory of its own, not yet logged nor on the site. Dropped
/// unfinished, it removes its staging directory.
#[derive(Debug)]
pub struct Staged {
    staging: PathBuf,
    final_dir: PathBuf,
    held: bool,
    facts: ReleaseFacts,
    key: String,
    hashed: Vec<Artifact>,
    /// Each bundle to write, by file name, with the artifact digest its entry is indexed under.
    files: Vec<(String, sigstore_types::Bundle, Option<[u8; 32]>)>,
    /// The log records of the files' signatures, one a file, in their order.
    records: Vec<Record>,
    finished: bool,
}

/// The staging directory's name: the product and version for a reader, then the process and a
/// sequence number, so that concurrent publishes in one process never share one, and
/// [`sweep_staging`] can tell whose it is.
fn staging_name(product: &str, version: &str) -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!(
        "{STAGING_PREFIX}{product}-{version}-{}.{n}",
        std::process::id()
    )
}

impl Staged {
    /// The product.
    pub fn product(&self) -> &str {
        &self.facts.product
    }

    /// The version.
    pub fn version(&self) -> &str {
        &self.facts.version
    }

    /// Where it will be: the release directory on the site, or where it is held.
    pub fn final_dir(&self) -> &Path {
        &self.final_dir
    }

    /// Whether it goes where releases wait for approvals rather than onto the site.
    pub fn is_held(&self) -> bool {
        self.held
    }

    /// What to record in the transparency log, one record a bundle: [`finish`](Self::finish)
    /// takes their entries in this order.
    pub fn records(&self) -> &[Record] {
        &self.records
    }

    /// Refuse now, before logging, if another publish put this version in place first.
    pub fn check_vacant(&self) -> Result<(), Error> {
        if self.final_dir.exists() {
            return Err(self.taken());
        }
        Ok(())
    }

    /// The error for this version being published (or held) already.
    pub fn taken(&self) -> Error {
        already(&self.facts, &self.final_dir, self.held)
    }

    fn assemble(&mut self, signer: &dyn Signer, inputs: &Inputs<'_>) -> Result<(), Error> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| Error::Io { path, source }
        };
        let staging = self.staging.clone();
        std::fs::create_dir_all(&staging).map_err(io(&staging))?;
        // Hash the copies, not the originals, so what is signed is exactly what is served even
        // if a source file changes while we work.
        let mut copies = Vec::with_capacity(inputs.artifacts.len());
        for (src, name) in inputs.artifacts.iter().zip(inputs.names) {
            let dst = staging.join(name);
            // Opened first so that a failure of the copy is the destination's (a full disk).
            std::fs::File::open(src).map_err(io(src))?;
            std::fs::copy(src, &dst).map_err(io(&dst))?;
            copies.push(dst);
        }
        for ((result, name), src) in digest_files(&copies, Algorithms::Both)
            .into_iter()
            .zip(inputs.names)
            .zip(inputs.artifacts)
        {
            let digests = result.map_err(|e| match e {
                custody_crypto::Error::Io { source, .. } => Error::Io {
                    path: src.clone(),
                    source,
                },
                other => other.into(),
            })?;
            self.hashed.push(Artifact {
                name: name.clone(),
                digests,
            });
        }
        let docs = release::attest(signer, &self.facts, &self.hashed)?;
        let mut attached = Vec::with_capacity(inputs.attachments.len());
        for a in inputs.attachments {
            check_name("attachment file name", &a.name)?;
            let predicate: serde_json::Value =
                serde_json::from_slice(&a.bytes).map_err(|source| custody_attest::Error::Json {
                    what: "attachment",
                    source,
                })?;
            let b = release::attest_document(signer, &self.hashed, a.predicate_type, &predicate)?;
            attached.push((bundle_name(&a.name), b));
        }
        // The copies and the attachments durable together, before anything is logged.
        let documents: Vec<(&str, &[u8])> = inputs
            .attachments
            .iter()
            .map(|a| (a.name.as_str(), a.bytes.as_slice()))
            .collect();
        write_new_files(&staging, &documents)?;
        custody_crypto::fs::sync_files(&copies).map_err(path_io)?;
        let release::ReleaseDocuments {
            artifact_bundles,
            provenance,
            manifest,
        } = docs;
        for ((name, b), a) in artifact_bundles.into_iter().zip(&self.hashed) {
            self.files
                .push((bundle_name(&name), b, a.digests.sha256.map(|d| d.0)));
        }
        self.files
            .push((PROVENANCE_FILE.to_owned(), provenance, None));
        self.files.push((MANIFEST_FILE.to_owned(), manifest, None));
        for (name, b) in attached {
            self.files.push((name, b, None));
        }
        for (_, b, artifact) in &self.files {
            let sigstore_types::SignatureContent::DsseEnvelope(env) = &b.content else {
                continue;
            };
            self.records.push(Record {
                body: tlog::dsse_entry_body(env, signer.public_key()),
                artifact: *artifact,
            });
        }
        Ok(())
    }

    /// The second half of [`Site::publish`]: writes each bundle with its log entry (`entries`,
    /// in [`records`](Self::records) order; none without a log) and renames the staging
    /// directory into place, atomically. The site's index is the caller's to rewrite.
    pub fn finish(&mut self, entries: &[TlogEntry]) -> Result<Published, Error> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| Error::Io { path, source }
        };
        let mut bundles = Vec::with_capacity(self.files.len());
        for (i, (file, b, _)) in self.files.iter().enumerate() {
            let entry: Vec<_> = entries.get(i).cloned().into_iter().collect();
            bundles.push((file.as_str(), bundle::to_json_with_entries(b, &entry)?));
        }
        let bundles: Vec<(&str, &[u8])> = bundles
            .iter()
            .map(|(name, json)| (*name, json.as_bytes()))
            .collect();
        write_new_files(&self.staging, &bundles)?;
        self.check_vacant()?;
        std::fs::rename(&self.staging, &self.final_dir).map_err(io(&self.final_dir))?;
        self.finished = true;
        if let Some(parent) = self.final_dir.parent() {
            sync_dir(parent)?;
        }
        let artifacts = self
            .hashed
            .iter()
            .map(|a| PublishedArtifact {
                name: a.name.clone(),
                size: a.digests.size,
                sha256: a.digests.sha256.map(|d| d.to_hex()).unwrap_or_default(),
                sha512: a.digests.sha512.map(|d| d.to_hex()).unwrap_or_default(),
                bundle: self.final_dir.join(bundle_name(&a.name)),
            })
            .collect();
        Ok(Published {
            product: self.facts.product.clone(),
            version: self.facts.version.clone(),
            dir: self.final_dir.clone(),
            artifacts,
            key: self.key.clone(),
            source_clean: self.facts.source.clean,
            commit: self.facts.source.commit.clone(),
        })
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.finished {
            // Best effort: what is left is swept by a later publish once this process is gone.
            let _ = std::fs::remove_dir_all(&self.staging);
        }
    }
}

/// Whether the staging directory `name` belongs to a process that is still running (and so
/// may be a publish in progress). Names without a process id are leftovers of old versions.
fn staging_owner_alive(name: &str) -> bool {
    let Some(pid) = name
        .rsplit_once('-')
        .and_then(|(_, tail)| tail.split('.').next())
        .and_then(|pid| pid.parse::<u32>().ok())
    else {
        return false;
    };
    if pid == std::process::id() {
        return true;
    }
    process_alive(pid)
}

#[cfg(target_os = "linux")]
fn process_alive(pid: u32) -> bool {
    Path::new("/proc").join(pid.to_string()).exists()
}

#[cfg(not(target_os = "linux"))]
fn process_alive(_pid: u32) -> bool {
    // Without a cheap way to ask, assume it may be running: leftovers wait for a sweep by hand.
    true
}

/// Remove the staging directories a killed publish left in `dir`: those of processes no longer
/// running. Best effort: one that cannot be removed now is tried again by the next publish, and
/// never published.
/// [`sweep_staging`] of a product directory, where releases staged before the staging
/// directory moved out of the site; once per process and directory, since listing a product's
/// every release on each release grows with the product.
fn sweep_old_staging_once(product_dir: &Path) {
    static SWEPT: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());
    let first = SWEPT.lock().is_ok_and(|mut swept| {
        let fresh = !swept.iter().any(|d| d == product_dir);
        if fresh {
            swept.push(product_dir.to_path_buf());
        }
        fresh
    });
    if first {
        sweep_staging(product_dir);
    }
}

fn sweep_staging(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(STAGING_PREFIX) && !staging_owner_alive(&name) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

#[cfg(unix)]
fn same_file_system(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    let dev = |p: &Path| std::fs::metadata(p).map(|m| m.dev());
    matches!((dev(a), dev(b)), (Ok(x), Ok(y)) if x == y)
}

#[cfg(not(unix))]
fn same_file_system(_: &Path, _: &Path) -> bool {
    false
}

/// What a release is made of, before hashing.
struct Inputs<'a> {
    artifacts: &'a [PathBuf],
    names: &'a [String],
    attachments: &'a [Attachment],
}

/// Read and check a policy file.
pub fn load_policy(path: &Path) -> Result<Policy, Error> {
    let bytes = read_bounded(
        path,
        custody_attest::trust::MAX_TRUST_FILE_BYTES as u64,
        "policy file",
    )?;
    Policy::from_json(&bytes).map_err(|source| Error::Document {
        path: path.to_path_buf(),
        source,
    })
}

/// Read and check a trusted root.
pub fn load_trusted_root(path: &Path) -> Result<TrustedRoot, Error> {
    let bytes = read_bounded(
        path,
        custody_attest::trust::MAX_TRUST_FILE_BYTES as u64,
        "trusted root",
    )?;
    TrustedRoot::from_json(&bytes).map_err(|source| Error::Document {
        path: path.to_path_buf(),
        source,
    })
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn sorted_dirs(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// How many releases of a product `index.html` lists with their files, newest first. Listing
/// a release's files reads its directory, and the index is rebuilt by every release: a bound
/// keeps that cost flat as a product's releases accumulate.
pub const INDEX_RELEASES: usize = 25;

/// `index.html`: a human summary of every product's newest [`INDEX_RELEASES`] releases,
/// rebuilt from the directory tree.
fn write_index(root: &Path) -> Result<(), Error> {
    let releases = root.join("releases");
    let mut body = String::new();
    for product in sorted_dirs(&releases) {
        body.push_str(&format!("<h2>{}</h2>\n<ul>\n", html_escape(&product)));
        let mut versions = sorted_dirs(&releases.join(&product));
        versions.sort_by(|a, b| custody_attest::version::compare(b, a));
        let older = versions.len().saturating_sub(INDEX_RELEASES);
        for version in versions.into_iter().take(INDEX_RELEASES) {
            let dir = releases.join(&product).join(&version);
            let mut files: Vec<String> = std::fs::read_dir(&dir)
                .map(|rd| {
                    rd.filter_map(Result::ok)
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .filter(|n| !n.starts_with('.'))
                        .collect()
                })
                .unwrap_or_default();
            files.sort();
            let links: Vec<String> = files
                .iter()
                .map(|f| {
                    let href = format!("releases/{product}/{version}/{f}");
                    format!("<a href=\"{}\">{}</a>", html_escape(&href), html_escape(f))
                })
                .collect();
            body.push_str(&format!(
                "<li><strong>{}</strong>: {}</li>\n",
                html_escape(&version),
                links.join(" · ")
            ));
        }
        if older > 0 {
            let href = format!("releases/{product}/");
            body.push_str(&format!(
                "<li>and {older} older release(s) in <a href=\"{}\">{}</a></li>\n",
                html_escape(&href),
                html_escape(&href)
            ));
        }
        body.push_str("</ul>\n");
    }
    if body.is_empty() {
        body.push_str("<p>No releases yet.</p>\n");
    }
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Releases</title></head>\n<body>\n<h1>Releases</h1>\n\
         <p>Verify any artifact offline with <code>custody verify ARTIFACT --trust {TRUSTED_ROOT_FILE} --policy {POLICY_FILE}</code>, \
         using the <a href=\"{TRUSTED_ROOT_FILE}\">trusted root</a> and <a href=\"{POLICY_FILE}\">policy</a> of this site.</p>\n{body}</body></html>\n"
    );
    // Replaced atomically but not fsynced: it is a convenience for people, rebuilt from the
    // release directories by every release, so a crash that loses the newest one loses
    // nothing the next release does not write again.
    let path = root.join("index.html");
    custody_crypto::fs::replace_file(&path, html.as_bytes()).map_err(|source| Error::Io {
        path: path.clone(),
        source,
    })
}

/// A release already on the site, as `tuf::add_release` takes it: its artifacts are the subjects of
/// its signed manifest (digests are not needed; the repository hashes the files itself).
pub fn published_release(site: &Site, product: &str, version: &str) -> Result<Published, Error> {
    #[derive(serde::Deserialize)]
    struct Statement {
        subject: Vec<Subject>,
    }
    #[derive(serde::Deserialize)]
    struct Subject {
        name: String,
        #[serde(default)]
        digest: std::collections::BTreeMap<String, String>,
    }
    let dir = site.release_dir(product, version);
    let path = dir.join(MANIFEST_FILE);
    let bytes = read_bounded(
        &path,
        custody_attest::bundle::MAX_BUNDLE_BYTES as u64,
        "release manifest",
    )?;
    let document = |source| Error::Document {
        path: path.clone(),
        source,
    };
    let signed = custody_attest::bundle::parse(&bytes).map_err(document)?;
    let statement: Statement =
        serde_json::from_slice(signed.envelope.payload.as_bytes()).map_err(|source| {
            document(custody_attest::Error::Json {
                what: "release manifest statement",
                source,
            })
        })?;
    let artifacts = statement
        .subject
        .into_iter()
        .map(|mut s| {
            check_name("artifact file name", &s.name)?;
            // The digests the signed manifest names; the size is the file's, when it is there.
            let size = std::fs::metadata(dir.join(&s.name)).map_or(0, |m| m.len());
            Ok(PublishedArtifact {
                bundle: dir.join(custody_attest::release::bundle_name(&s.name)),
                sha256: s.digest.remove("sha256").unwrap_or_default(),
                sha512: s.digest.remove("sha512").unwrap_or_default(),
                name: s.name,
                size,
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    Ok(Published {
        product: product.to_owned(),
        version: version.to_owned(),
        dir,
        artifacts,
        key: String::new(),
        source_clean: false,
        commit: String::new(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_index_lists_the_newest_releases_by_version_and_counts_the_rest() {
        let root = tempfile::tempdir().unwrap();
        let product = root.path().join("releases/app");
        let total = INDEX_RELEASES + 5;
        for minor in 0..total {
            let dir = product.join(format!("1.{minor}.0"));
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(format!("app-1.{minor}.0.tgz")), b"x").unwrap();
        }
        write_index(root.path()).unwrap();
        let html = std::fs::read_to_string(root.path().join("index.html")).unwrap();
        // By version, not by name: 1.29.0 is newer than 1.3.0 and is listed first.
        let newest = html.find("releases/app/1.29.0/app-1.29.0.tgz").unwrap();
        let older = html.find("releases/app/1.5.0/app-1.5.0.tgz").unwrap();
        assert!(newest < older);
        assert!(
            !html.contains("app-1.4.0.tgz"),
            "only the newest are listed"
        );
        assert!(html.contains("and 5 older release(s)"), "{html}");
    }
}
