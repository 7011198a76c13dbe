//! Releasing: hash, gate, attest, sign, log, add TUF targets and publish, in that order, with
//! every refusal made before anything is signed or written.

use std::path::{Path, PathBuf};

use custody_attest::release::{CYCLONEDX_BOM, ReleaseFacts, SPDX_DOCUMENT, SourceState};
use custody_sbom::CycloneDxVersion;
use custody_site::config::Loaded;
use custody_site::git;
use custody_site::site::{Attachment, Published, Site, check_name};
use custody_site::tuf::{add_release, expiry};
use custody_tuf::repo::{OnlineKeys, Repository};
use serde::Serialize;

use custody_crypto::Signer as _;

use crate::Error;
use crate::env::{Events, Key};
use crate::gate::{Gate, GateReport, GateRequest, parse_fail_on};
use crate::inputs::{SbomFormat, read_sbom, render_sbom};

/// The TUF keys in `Loaded::tuf_signing_key_paths` order (targets, snapshot, timestamp, then
/// the products' own targets keys), as the repository takes them.
pub fn online_keys(keys: &[Key]) -> Result<OnlineKeys<'_>, Error> {
    match keys {
        [targets, snapshot, timestamp, delegated @ ..] => Ok(OnlineKeys {
            targets: targets.as_ref(),
            snapshot: snapshot.as_ref(),
            timestamp: timestamp.as_ref(),
            delegated,
        }),
        _ => Err(Error::OnlineKeys { found: keys.len() }),
    }
}

/// What to release.
#[derive(Debug, Clone)]
pub struct ReleaseRequest {
    /// The product.
    pub product: String,
    /// The version; published versions are immutable.
    pub version: String,
    /// The files to release.
    pub artifacts: Vec<PathBuf>,
    /// Release from a tree with uncommitted changes (recorded in the provenance).
    pub allow_dirty: bool,
    /// A project directory, lockfile, binary or SBOM whose SBOM the release carries; the gate
    /// scans it.
    pub sbom: Option<PathBuf>,
    /// Release without scanning the SBOM, recording this reason in `scan.json`.
    pub skip_scan: Option<String>,
    /// The source as the pipeline that built the artifacts states it, when the server
    /// publishes for one; `None` reads the project's own git tree.
    pub source: Option<SourceState>,
    /// Sign even when one key serves two duties (the release key as the log key, say).
    pub insecure_shared_key: bool,
}

/// The duty of each key [`signing_key_paths`] lists, in its order.
const DUTIES: [&str; 5] = [
    "release",
    "log",
    "TUF targets",
    "TUF snapshot",
    "TUF timestamp",
];

/// The duty of each key [`signing_key_paths`] lists, in its order (products' own TUF targets
/// keys last).
pub(crate) fn duties() -> impl Iterator<Item = &'static str> {
    DUTIES
        .into_iter()
        .chain(std::iter::repeat("a product's TUF targets"))
}

/// Separate duties: each of the release, log and online TUF keys (`keys`, in
/// [`signing_key_paths`] order) must be a key of its own, so that one stolen key does not both
/// sign a release and vouch for it; unless `insecure_shared_key` says otherwise.
pub fn check_duties(
    keys: &[Key],
    insecure_shared_key: bool,
    events: &dyn Events,
) -> Result<(), Error> {
    let duty = |i: usize| duties().nth(i).unwrap_or("?");
    for (i, a) in keys.iter().enumerate() {
        for (j, b) in keys.iter().enumerate().skip(i + 1) {
            if a.public_key() != b.public_key() {
                continue;
            }
            let (first, second) = (duty(i), duty(j));
            if insecure_shared_key {
                events.warn(&format!(
                    "the {first} key also serves as the {second} key ({})",
                    a.public_key().hint()
                ));
            } else {
                return Err(Error::SharedKey {
                    first,
                    second,
                    key: a.public_key().hint().to_string(),
                });
            }
        }
    }
    Ok(())
}

/// The keys a release signs with, in the order it takes them: the release key, the log key,
/// then the TUF repository's online keys and products' targets keys when the site has one.
pub fn signing_key_paths(loaded: &Loaded) -> Vec<PathBuf> {
    let mut paths = vec![loaded.key_path(), loaded.log_key_path()];
    if custody_site::tuf::exists(&loaded.tuf_dir()) {
        paths.extend(loaded.tuf_signing_key_paths());
    }
    paths
}

/// The project's source tree as git has it: repository (the configured URL first), ref,
/// commit, and whether it is clean apart from custody's own outputs.
pub fn project_source(loaded: &Loaded) -> Result<SourceState, Error> {
    Ok(git::source_state(
        &loaded.base,
        loaded.config.provenance.source_repository.as_deref(),
        &loaded.outputs(),
    )?)
}

/// The release, log and online TUF keys, unlocked once from `keys` and held in memory: what
/// a server signs with for as long as it runs.
pub fn held_signing_keys(
    loaded: &Loaded,
    keys: &dyn crate::env::KeySource,
    insecure_shared_key: bool,
    events: &dyn Events,
) -> Result<crate::env::MemoryKeys, Error> {
    let paths = signing_key_paths(loaded);
    let refs: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
    let unlocked = keys.unlock(&refs)?;
    check_duties(&unlocked, insecure_shared_key, events)?;
    Ok(crate::env::MemoryKeys::holding(
        paths.iter().cloned().zip(unlocked),
    ))
}

/// What a release published.
#[derive(Debug, Serialize)]
pub struct Released {
    /// The release.
    #[serde(flatten)]
    pub release: Published,
    /// Targets added to the site's TUF repository (empty when it has none).
    pub tuf_targets: Vec<String>,
    /// The vulnerability gate's decision (absent without an SBOM).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scan: Option<GateReport>,
    /// Set when the policy asks approvals of the product's releases: the release is signed and
    /// logged, but waits for them off the site.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub awaiting_approval: Option<AwaitingApproval>,
}

/// A release that waits for its approvers.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize)]
pub struct AwaitingApproval {
    /// How many distinct approvers must sign its manifest.
    pub threshold: usize,
    /// The approvers' key hints.
    pub approvers: Vec<String>,
    /// Those who have.
    pub approved: Vec<String>,
    /// Where it waits.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub dir: PathBuf,
}

pub use crate::env::ReleaseEnv;

/// The release's CycloneDX SBOM, which the catalog keeps too.
const SBOM_CYCLONEDX: &str = "sbom.cdx.json";

/// The SBOM attachments, the gate's decision and the graph, when the release has an SBOM.
type SbomParts = (Vec<Attachment>, Option<Gate>, Option<custody_sbom::Sbom>);

fn sbom_parts(
    loaded: &Loaded,
    request: &ReleaseRequest,
    env: &ReleaseEnv<'_>,
    started_on: jiff::Timestamp,
) -> Result<SbomParts, Error> {
    let Some(path) = &request.sbom else {
        return Ok((Vec::new(), None, None));
    };
    let sbom = read_sbom(path)?;
    env.events.progress(&format!(
        "SBOM: {} component(s) from {}",
        sbom.len(),
        path.display()
    ));
    let gate = crate::gate::check(
        &GateRequest {
            product: &request.product,
            version: &request.version,
            sbom: &sbom,
            fail_on: parse_fail_on(&loaded.config.vulndb.fail_on)?,
            db: &loaded.vulndb_dir(),
            vex_dir: &loaded.vex_dir(),
            skip_scan: request.skip_scan.as_deref(),
        },
        env.clock,
        env.events,
    )?;
    let mut attachments = vec![
        Attachment {
            name: SBOM_CYCLONEDX.to_owned(),
            bytes: render_sbom(
                &sbom,
                SbomFormat::CycloneDx(CycloneDxVersion::V1_6),
                started_on,
            )
            .into_bytes(),
            predicate_type: CYCLONEDX_BOM,
        },
        Attachment {
            name: "sbom.spdx.json".to_owned(),
            bytes: render_sbom(&sbom, SbomFormat::Spdx, started_on).into_bytes(),
            predicate_type: SPDX_DOCUMENT,
        },
    ];
    attachments.extend(gate.attachments.iter().cloned());
    Ok((attachments, Some(gate), Some(sbom)))
}

/// Signs and publishes a release of the project `loaded`.
///
/// Copies the artifacts into `site/releases/<product>/<version>/`, hashes the copies, records
/// SLSA provenance, signs one DSSE bundle per artifact plus a provenance bundle and a release
/// manifest, logs every bundle, and publishes the directory atomically; then adds the release
/// to the TUF repository (when the site has one) and to the catalog. With an SBOM the gate runs
/// first. The name checks, the gate, the source state and the keys are all checked before
/// anything is written.
pub fn release(
    loaded: &Loaded,
    request: &ReleaseRequest,
    env: &ReleaseEnv<'_>,
) -> Result<Released, Error> {
    let prepared = prepare(loaded, request, env)?;
    crate::commit::Committer::default().commit(loaded, prepared, env)
}

/// A release made ready without the writer lock: gated, its artifacts staged, hashed and
/// signed. [`Committer::commit`](crate::commit::Committer::commit) logs it and puts it in
/// place.
#[derive(Debug)]
pub struct Prepared {
    pub(crate) staged: custody_site::site::Staged,
    /// The product's approval rule: the release is held for its approvers.
    pub(crate) rule: Option<custody_attest::trust::ApprovalRule>,
    pub(crate) gate: Option<Gate>,
    pub(crate) sbom: Option<custody_sbom::Sbom>,
    /// The CycloneDX text of the SBOM, which the catalog keeps.
    pub(crate) cyclonedx: Option<String>,
    pub(crate) log_key: Key,
    pub(crate) tuf_keys: Vec<Key>,
}

impl Prepared {
    /// The SBOM graph, its CycloneDX text and the gate's findings, for the catalog.
    pub(crate) fn catalog_parts(
        &self,
    ) -> Option<(&custody_sbom::Sbom, &str, &[custody_vuln::vex::Assessed])> {
        match (&self.sbom, &self.cyclonedx, &self.gate) {
            (Some(sbom), Some(text), Some(gate)) => Some((sbom, text, &gate.findings)),
            _ => None,
        }
    }
}

/// Everything of a release that needs no lock: the checks, the gate, the keys, and the staged,
/// hashed and signed release. Nothing reaches the site, the log or the TUF repository.
pub fn prepare(
    loaded: &Loaded,
    request: &ReleaseRequest,
    env: &ReleaseEnv<'_>,
) -> Result<Prepared, Error> {
    check_name("product", &request.product).map_err(Error::input)?;
    check_name("version", &request.version).map_err(Error::input)?;
    let site = Site::new(loaded.site_dir()).staging_in(loaded.release_staging_dir());
    let target = site.release_dir(&request.product, &request.version);
    if target.exists() {
        return Err(custody_site::Error::AlreadyPublished {
            product: request.product.clone(),
            version: request.version.clone(),
            path: target,
        }
        .into());
    }
    let rule = site.policy()?.approval_rule(&request.product).cloned();
    let site = match &rule {
        Some(_) => site.holding_in(loaded.held_dir()),
        None => site,
    };
    if let Some(held) = site
        .held_dir(&request.product, &request.version)
        .filter(|d| d.exists())
    {
        return Err(custody_site::Error::AlreadyHeld {
            product: request.product.clone(),
            version: request.version.clone(),
            path: held,
        }
        .into());
    }
    let started_on = env.clock.now();
    let (attachments, gate, sbom) = sbom_parts(loaded, request, env, started_on)?;
    let source = match &request.source {
        Some(claimed) => claimed.clone(),
        None => project_source(loaded)?,
    };
    if !source.clean {
        if request.allow_dirty {
            env.events
                .warn("releasing from a tree with uncommitted changes; the provenance records it");
        } else if request.source.is_some() {
            return Err(Error::DirtySource {
                repository: source.repository,
                commit: source.commit,
            });
        } else {
            let (count, first) = git::dirty_paths(&loaded.base, &loaded.outputs())?;
            return Err(custody_site::Error::DirtyTree {
                dir: loaded.base.clone(),
                count,
                first,
            }
            .into());
        }
    }
    // Every key is unlocked (one passphrase) and checked before anything is written.
    let paths = signing_key_paths(loaded);
    let refs: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
    // In `paths` order: the release key, the log key, then the online TUF keys (whose count
    // `online_keys` checks).
    let unlocked = env.keys.unlock(&refs)?;
    check_duties(&unlocked, request.insecure_shared_key, env.events)?;
    let mut keys = unlocked.into_iter();
    let (Some(signer), Some(log_key)) = (keys.next(), keys.next()) else {
        return Err(Error::KeyMissing {
            path: loaded.key_path(),
        });
    };
    let tuf_keys: Vec<Key> = keys.collect();
    env.events.progress(&format!(
        "Releasing {} {} from {} at {} ({} artifact(s))",
        request.product,
        request.version,
        source.repository,
        &source.commit[..source.commit.len().min(12)],
        request.artifacts.len()
    ));
    let facts = ReleaseFacts {
        product: request.product.clone(),
        version: request.version.clone(),
        builder_id: loaded.config.provenance.builder_id.clone(),
        source,
        allow_dirty: request.allow_dirty,
        invocation_id: format!("{}-{}", started_on.as_millisecond(), std::process::id()),
        started_on,
        finished_on: env.clock.now(),
    };
    let staged = site.stage(signer.as_ref(), &facts, &request.artifacts, &attachments)?;
    Ok(Prepared {
        staged,
        rule,
        gate,
        sbom,
        cyclonedx: cyclonedx(&attachments).map(str::to_owned),
        log_key,
        tuf_keys,
    })
}

/// The site's TUF repository, opened with its online keys (checked against its roles).
pub(crate) struct Tuf {
    repo: Repository,
    keys: Vec<Key>,
}

impl Tuf {
    /// Open the repository with `keys`, the online keys in `ONLINE_ROLES` order.
    pub(crate) fn open(loaded: &Loaded, keys: Vec<Key>) -> Result<Self, Error> {
        let dir = loaded.tuf_dir();
        let tuf_error = |source| Error::Tuf {
            dir: dir.clone(),
            source,
        };
        let repo = Repository::open(&dir, expiry(&loaded.config.tuf)).map_err(tuf_error)?;
        repo.check_online(online_keys(&keys)?).map_err(tuf_error)?;
        Ok(Self { repo, keys })
    }

    /// Refuse a product whose own targets key is not among the keys held.
    pub(crate) fn check_product(&self, loaded: &Loaded, product: &str) -> Result<(), Error> {
        self.repo
            .check_product(product, online_keys(&self.keys)?)
            .map_err(|source| Error::Tuf {
                dir: loaded.tuf_dir(),
                source,
            })
    }
}

/// The site's TUF repository with its online keys unlocked from `keys`, when the site has one.
pub(crate) fn open_tuf(
    loaded: &Loaded,
    keys: &dyn crate::env::KeySource,
) -> Result<Option<Tuf>, Error> {
    if !custody_site::tuf::exists(&loaded.tuf_dir()) {
        return Ok(None);
    }
    let paths = loaded.tuf_signing_key_paths();
    let refs: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
    Tuf::open(loaded, keys.unlock(&refs)?).map(Some)
}

/// Puts the release of `product` `version` on the site with `put` and adds it to the TUF
/// repository, crash-safely (see [`TufBatch`]). Returns the release and the targets added.
pub(crate) fn publish_to_tuf(
    loaded: &Loaded,
    name: (&str, &str),
    tuf: Tuf,
    env: &ReleaseEnv<'_>,
    put: impl FnOnce() -> Result<Published, Error>,
) -> Result<(Published, Vec<String>), Error> {
    let batch = TufBatch::begin(loaded, tuf, &[name], env.events)?;
    let published = put()?;
    let mut added = batch.commit(loaded, &[&published], env)?;
    Ok((published, added.pop().unwrap_or_default()))
}

/// Releases on their way to the TUF repository, crash-safely: a marker for each, written
/// before it reaches the site, lets the next release announce one that was killed between the
/// site and the TUF commit, and add it then.
pub(crate) struct TufBatch {
    tuf: Tuf,
    pending: Vec<(PathBuf, Published)>,
    markers: Vec<PathBuf>,
}

impl TufBatch {
    /// Finds what killed releases left pending and marks `names` (product, version) as on
    /// their way.
    pub(crate) fn begin(
        loaded: &Loaded,
        tuf: Tuf,
        names: &[(&str, &str)],
        events: &dyn Events,
    ) -> Result<Self, Error> {
        let site = Site::new(loaded.site_dir());
        let pending_dir = loaded.log_state_dir().join(TUF_PENDING_DIR);
        let pending = pending_releases(&site, &pending_dir, events)?;
        // Durable before any of them reaches the site: written, then synced together.
        let mut markers = Vec::with_capacity(names.len());
        for (product, version) in names {
            let marker = pending_dir.join(pending_name(product, version));
            custody_crypto::fs::replace_file(&marker, b"").map_err(|source| Error::Io {
                path: marker.clone(),
                source,
            })?;
            markers.push(marker);
        }
        if !markers.is_empty() {
            custody_crypto::fs::sync_files(&markers)
                .and_then(|()| {
                    custody_crypto::fs::sync_dir(&pending_dir).map_err(|e| (pending_dir.clone(), e))
                })
                .map_err(|(path, source)| Error::Io { path, source })?;
        }
        Ok(Self {
            tuf,
            pending,
            markers,
        })
    }

    /// Adds the pending releases and `published` (those of the marked that reached the site)
    /// in one TUF commit; returns the targets added for each of `published`.
    pub(crate) fn commit(
        mut self,
        loaded: &Loaded,
        published: &[&Published],
        env: &ReleaseEnv<'_>,
    ) -> Result<Vec<Vec<String>>, Error> {
        let bins = loaded.config.tuf.hash_bins;
        for (_, earlier) in &self.pending {
            add_release(&mut self.tuf.repo, earlier, bins)?;
        }
        let added = published
            .iter()
            .map(|p| add_release(&mut self.tuf.repo, p, bins))
            .collect::<Result<Vec<_>, _>>()?;
        self.tuf
            .repo
            .commit(online_keys(&self.tuf.keys)?, env.clock.now())
            .map_err(|source| Error::Tuf {
                dir: loaded.tuf_dir(),
                source,
            })?;
        for (earlier_marker, earlier) in &self.pending {
            env.events.warn(&format!(
                "{} {} was published by a release that did not finish; it is now in the TUF \
                 repository too",
                earlier.product, earlier.version
            ));
            remove_marker(earlier_marker);
        }
        // Also the markers of releases that failed before the site: nothing of them is there.
        for marker in &self.markers {
            remove_marker(marker);
        }
        Ok(added)
    }
}

/// The release's CycloneDX SBOM text, among its attachments.
fn cyclonedx(attachments: &[Attachment]) -> Option<&str> {
    attachments
        .iter()
        .find(|a| a.name == SBOM_CYCLONEDX)
        .and_then(|a| std::str::from_utf8(&a.bytes).ok())
}

/// Adds a published release to the catalog, so the monitor watches it: with its SBOM graph,
/// SBOM text and the gate's findings when at hand, or else from the SBOM in its directory.
/// The release is out by now: a catalog that cannot be written must not turn that into a
/// failure, but it is said.
pub(crate) fn catalog_published(
    loaded: &Loaded,
    published: &Published,
    sbom: Option<(&custody_sbom::Sbom, &str, &[custody_vuln::vex::Assessed])>,
    env: &ReleaseEnv<'_>,
) {
    if sbom.is_none() && !published.dir.join(SBOM_CYCLONEDX).is_file() {
        return;
    }
    let add = |catalog: &mut custody_catalog::Catalog| match sbom {
        Some((graph, text, findings)) => {
            crate::monitor::catalog_release(catalog, published, (graph, text), findings, env.clock)
        }
        None => crate::monitor::catalog_release_dir(catalog, &published.dir, env.clock),
    };
    let added = match env.catalog {
        Some(pool) => pool.get().and_then(|mut catalog| add(&mut catalog)),
        None => crate::monitor::open_catalog(loaded).and_then(|mut catalog| add(&mut catalog)),
    };
    if let Err(e) = added {
        env.events.warn(&format!(
            "the release is published, but not added to the catalog ({e}); add {} to the \
             catalog to have it monitored",
            published.dir.display()
        ));
    }
}

/// Under the log's state: one empty file per release between its publishing and its TUF commit.
const TUF_PENDING_DIR: &str = "tuf-pending";

/// `@` cannot occur in a product or version name (see `check_name`).
fn pending_name(product: &str, version: &str) -> String {
    format!("{product}@{version}")
}

fn remove_marker(path: &Path) {
    // A marker left behind costs one idempotent re-add on the next release.
    let _ = std::fs::remove_file(path);
}

/// The releases a killed `custody release` published but did not add to the TUF repository,
/// with their markers. Markers of releases that never reached the site are removed.
fn pending_releases(
    site: &Site,
    dir: &Path,
    events: &dyn Events,
) -> Result<Vec<(PathBuf, Published)>, Error> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(Vec::new());
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let marker = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some((product, version)) = name.split_once('@') else {
            continue;
        };
        if check_name("product", product).is_err() || check_name("version", version).is_err() {
            continue;
        }
        if !site.release_dir(product, version).is_dir() {
            remove_marker(&marker);
            continue;
        }
        match custody_site::site::published_release(site, product, version) {
            Ok(published) => found.push((marker, published)),
            Err(e) => events.warn(&format!(
                "{product} {version} is on the site but not in the TUF repository, and cannot \
                 be added: {e}"
            )),
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(found)
}
