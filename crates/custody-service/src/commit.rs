//! Group commit: the releases prepared while the writer lock was busy are logged and put in
//! place together.
//!
//! A release spends most of its time where no lock is needed ([`prepare`]: the gate, copying,
//! hashing, signing). What must be serialised is short but durable: the log append (tiles,
//! checkpoint, fsync), the renames onto the site, `index.html` and the TUF commit (targets,
//! snapshot and timestamp re-signed). [`Committer::commit`] queues a prepared release; the
//! first caller to find no commit running becomes the leader, takes everything queued, and
//! commits it as one batch under the project's writer lock: one log batch (one checkpoint and
//! one round of fsyncs), one index, one TUF commit. Every caller gets its own release's answer,
//! and only after the batch is durable. Concurrent publishes through `custody serve` share a
//! committer; the CLI's single release is a batch of one.
//!
//! Here too is what committing needs and makes: the [`Prepared`] release it takes, the
//! [`Released`] answer, the crash-safe TUF batch ([`TufBatch`]: a marker per release until the
//! TUF commit names it) and the catalog entry made once a release is out. `release` builds on
//! this module, never the other way round.
//!
//! [`prepare`]: crate::release::prepare

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use std::path::{Path, PathBuf};

use custody_attest::tlog::TlogEntry;
use custody_site::config::Loaded;
use custody_site::site::{Published, Site, check_name};
use custody_site::tuf::{add_release, expiry};
use custody_tuf::repo::{OnlineKeys, Repository};
use serde::Serialize;

use crate::Error;
use crate::env::{Events, Key, ReleaseEnv};
use crate::gate::{Gate, GateReport};

/// Commits prepared releases of one project in batches; see the module documentation.
#[derive(Debug, Default)]
pub struct Committer {
    queue: Mutex<Queue>,
    turn: Condvar,
}

#[derive(Debug, Default)]
struct Queue {
    next: u64,
    waiting: Vec<(u64, Prepared)>,
    answers: HashMap<u64, Result<Placed, Error>>,
    leading: bool,
}

impl Committer {
    /// Logs `prepared` and puts it in place, with whatever else is queued; returns once it is
    /// durable. `loaded` and `env` are those of every release this committer takes: one
    /// project, one key source.
    pub fn commit(
        &self,
        loaded: &Loaded,
        prepared: Prepared,
        env: &ReleaseEnv<'_>,
    ) -> Result<Released, Error> {
        let mut queue = self.lock();
        let id = queue.next;
        queue.next += 1;
        queue.waiting.push((id, prepared));
        loop {
            if let Some(answer) = queue.answers.remove(&id) {
                drop(queue);
                // Each caller catalogs its own release, after the leader has handed over.
                return answer.map(|placed| placed.into_released(loaded, env));
            }
            if queue.leading {
                queue = self
                    .turn
                    .wait(queue)
                    .unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            queue.leading = true;
            let batch = std::mem::take(&mut queue.waiting);
            drop(queue);
            let mut lead = Lead {
                committer: self,
                unanswered: batch
                    .iter()
                    .map(|(id, p)| {
                        (
                            *id,
                            (p.staged.product().to_owned(), p.staged.version().to_owned()),
                        )
                    })
                    .collect(),
                answers: Vec::new(),
            };
            lead.answers = commit_batch(loaded, batch, env);
            drop(lead);
            queue = self.lock();
        }
    }

    /// How many releases wait for the commit running now to finish.
    pub fn queued(&self) -> usize {
        self.lock().waiting.len()
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        // A panic while holding the queue leaves it consistent (each change is one statement).
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The leader's turn: when it ends, even by a panic, every release it took has an answer and
/// the next caller may lead.
struct Lead<'a> {
    committer: &'a Committer,
    unanswered: Vec<(u64, (String, String))>,
    answers: Answers,
}

impl Drop for Lead<'_> {
    fn drop(&mut self) {
        let mut queue = self.committer.lock();
        for (id, answer) in self.answers.drain(..) {
            queue.answers.insert(id, answer);
        }
        for (id, (product, version)) in self.unanswered.drain(..) {
            queue
                .answers
                .entry(id)
                .or_insert(Err(Error::CommitAbandoned { product, version }));
        }
        queue.leading = false;
        drop(queue);
        self.committer.turn.notify_all();
    }
}

type Answers = Vec<(u64, Result<Placed, Error>)>;

/// A release of a batch that is in place and durable: logged, on the site (or held), in the
/// TUF repository; what is left is its catalog entry.
#[derive(Debug)]
pub(crate) struct Placed {
    published: Published,
    prepared: Prepared,
    tuf_targets: Vec<String>,
}

impl Placed {
    /// Catalogs it (unless it is held for approvals) and describes it.
    fn into_released(self, loaded: &Loaded, env: &ReleaseEnv<'_>) -> Released {
        let Placed {
            published,
            prepared,
            tuf_targets,
        } = self;
        let awaiting_approval = match &prepared.rule {
            Some(rule) => {
                env.events.progress(&format!(
                    "{} {} is signed and logged; it is published once {} of its {} approvers \
                     approve it (custody release approve)",
                    published.product,
                    published.version,
                    rule.threshold,
                    rule.approvers.len()
                ));
                Some(AwaitingApproval {
                    threshold: rule.threshold,
                    approvers: rule.approvers.iter().map(|a| a.hint.clone()).collect(),
                    approved: Vec::new(),
                    dir: published.dir.clone(),
                })
            }
            None => {
                catalog_published(loaded, &published, prepared.catalog_parts(), env);
                None
            }
        };
        Released {
            release: published,
            tuf_targets,
            scan: prepared.gate.map(|g| g.report),
            awaiting_approval,
        }
    }
}

/// `error` for each of `n` releases: itself for one, shared for more.
fn shared(error: Error, n: usize) -> Vec<Error> {
    if n <= 1 {
        return vec![error];
    }
    let error = Arc::new(error);
    (0..n).map(|_| Error::Batch(error.clone())).collect()
}

/// One error for every release of `batch`.
fn fail_all(batch: Vec<(u64, Prepared)>, error: Error, answers: &mut Answers) {
    let errors = shared(error, batch.len());
    answers.extend(
        batch
            .into_iter()
            .map(|(id, _)| id)
            .zip(errors.into_iter().map(Err)),
    );
}

/// Logs and places `batch` under the writer lock.
fn commit_batch(loaded: &Loaded, batch: Vec<(u64, Prepared)>, env: &ReleaseEnv<'_>) -> Answers {
    let mut answers = Vec::with_capacity(batch.len());
    let Some((log_key, tuf_keys)) = batch
        .first()
        .map(|(_, p)| (p.log_key.clone(), p.tuf_keys.clone()))
    else {
        return answers;
    };
    let writer = match crate::sequence::writer(loaded, env.events) {
        Ok(w) => w,
        Err(e) => {
            fail_all(batch, e, &mut answers);
            return answers;
        }
    };
    // Refused now, before anything is logged: a version another run put in place meanwhile.
    // So is the second of two publishes of one version in this batch.
    let mut live = Vec::with_capacity(batch.len());
    let mut claimed = std::collections::HashSet::new();
    for (id, p) in batch {
        match p.staged.check_vacant() {
            Ok(()) if claimed.insert(p.staged.final_dir().to_path_buf()) => live.push((id, p)),
            Ok(()) => answers.push((id, Err(p.staged.taken().into()))),
            Err(e) => answers.push((id, Err(e.into()))),
        }
    }
    let to_tuf =
        live.iter().any(|(_, p)| p.rule.is_none()) && custody_site::tuf::exists(&loaded.tuf_dir());
    let tuf = if to_tuf {
        let tuf = match Tuf::open(loaded, tuf_keys) {
            Ok(t) => t,
            Err(e) => {
                fail_all(live, e, &mut answers);
                return answers;
            }
        };
        live.retain(|(id, p)| {
            if p.rule.is_some() {
                return true;
            }
            match tuf.check_product(loaded, p.staged.product()) {
                Ok(()) => true,
                Err(e) => {
                    answers.push((*id, Err(e)));
                    false
                }
            }
        });
        Some(tuf)
    } else {
        None
    };
    if live.is_empty() {
        return answers;
    }
    let mut log = match crate::log::open_with_key(loaded, log_key, &env.transport) {
        Ok(log) => log,
        Err(e) => {
            fail_all(live, e, &mut answers);
            return answers;
        }
    };
    let tuf = match tuf {
        Some(tuf) => {
            let names: Vec<(&str, &str)> = live
                .iter()
                .filter(|(_, p)| p.rule.is_none())
                .map(|(_, p)| (p.staged.product(), p.staged.version()))
                .collect();
            match TufBatch::begin(loaded, tuf, &names, env.events) {
                Ok(b) => Some(b),
                Err(e) => {
                    fail_all(live, e, &mut answers);
                    return answers;
                }
            }
        }
        None => None,
    };
    let records: Vec<custody_site::log::Record> = live
        .iter()
        .flat_map(|(_, p)| p.staged.records().iter().cloned())
        .collect();
    let entries = match log.record(&records) {
        Ok(entries) => entries,
        Err(e) => {
            fail_all(live, e.into(), &mut answers);
            return answers;
        }
    };
    crate::log::warn_witness_failures(&log, env.events);

    // Each release into place with its entries, all at once (their fsyncs overlap); one
    // failing does not stop the others.
    let finished = finish_all(&mut live, &entries);
    let mut placed: Vec<(u64, Published, Prepared)> = Vec::with_capacity(live.len());
    for ((id, p), result) in live.into_iter().zip(finished) {
        match result {
            Ok(published) => placed.push((id, published, p)),
            Err(e) => answers.push((id, Err(e))),
        }
    }
    let on_site: Vec<&Published> = placed
        .iter()
        .filter(|(_, _, p)| p.rule.is_none())
        .map(|(_, published, _)| published)
        .collect();
    let on_site_count = on_site.len();
    if on_site_count > 0
        && let Err(e) = Site::new(loaded.site_dir()).write_index()
    {
        env.events.warn(&format!(
            "the release is published, but the site's index.html was not rewritten ({e})"
        ));
    }
    let committed = match tuf {
        Some(batch) => batch.commit(loaded, &on_site, env),
        None => Ok(Vec::new()),
    };
    drop(writer);

    // Durable: each caller catalogs its own release (`Placed::into_released`).
    let (mut added, mut tuf_errors) = match committed {
        Ok(added) => (added.into_iter(), Vec::new().into_iter()),
        Err(e) => (Vec::new().into_iter(), shared(e, on_site_count).into_iter()),
    };
    for (id, published, prepared) in placed {
        let tuf_targets = if prepared.rule.is_some() {
            Vec::new()
        } else if let Some(e) = tuf_errors.next() {
            answers.push((id, Err(e)));
            continue;
        } else {
            added.next().unwrap_or_default()
        };
        answers.push((
            id,
            Ok(Placed {
                published,
                prepared,
                tuf_targets,
            }),
        ));
    }
    answers
}

/// [`Staged::finish`](custody_site::site::Staged::finish) for each release of `live`, with its
/// slice of `entries` (theirs are in `live`'s order), concurrently.
fn finish_all(
    live: &mut [(u64, Prepared)],
    entries: &[TlogEntry],
) -> Vec<Result<Published, Error>> {
    let mut offset = 0;
    let mut work = Vec::with_capacity(live.len());
    for (_, p) in live.iter_mut() {
        let count = p.staged.records().len();
        let mine = entries.get(offset..offset + count).unwrap_or_default();
        offset += count;
        work.push((&mut p.staged, mine));
    }
    if let [(staged, mine)] = work.as_mut_slice() {
        return vec![staged.finish(mine).map_err(Error::from)];
    }
    std::thread::scope(|s| {
        let running: Vec<_> = work
            .into_iter()
            .map(|(staged, mine)| {
                let name = (staged.product().to_owned(), staged.version().to_owned());
                (name, s.spawn(move || staged.finish(mine)))
            })
            .collect();
        running
            .into_iter()
            .map(|((product, version), thread)| match thread.join() {
                Ok(result) => result.map_err(Error::from),
                Err(_) => Err(Error::CommitAbandoned { product, version }),
            })
            .collect()
    })
}

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
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
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

/// The release's CycloneDX SBOM, which the catalog keeps too.
pub(crate) const SBOM_CYCLONEDX: &str = "sbom.cdx.json";

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
        let names: Vec<String> = names
            .iter()
            .map(|(product, version)| pending_name(product, version))
            .collect();
        let empty: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b""[..])).collect();
        custody_crypto::fs::replace_files(&pending_dir, &empty)
            .map_err(|(path, source)| Error::Io { path, source })?;
        let markers = names.iter().map(|n| pending_dir.join(n)).collect();
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
