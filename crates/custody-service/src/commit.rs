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
//! [`prepare`]: crate::release::prepare

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use custody_attest::tlog::TlogEntry;
use custody_site::config::Loaded;
use custody_site::site::{Published, Site};

use crate::Error;
use crate::release::{
    AwaitingApproval, Prepared, ReleaseEnv, Released, Tuf, TufBatch, catalog_published,
};

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
    answers: HashMap<u64, Result<Released, Error>>,
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
                return answer;
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
    answers: Vec<(u64, Result<Released, Error>)>,
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

type Answers = Vec<(u64, Result<Released, Error>)>;

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

/// Logs and places `batch` under the writer lock; then catalogs what was published.
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

    // The releases are durable; the catalog has transactions of its own.
    let (mut added, mut tuf_errors) = match committed {
        Ok(added) => (added.into_iter(), Vec::new().into_iter()),
        Err(e) => (Vec::new().into_iter(), shared(e, on_site_count).into_iter()),
    };
    for (id, published, p) in placed {
        if let Some(rule) = &p.rule {
            env.events.progress(&format!(
                "{} {} is signed and logged; it is published once {} of its {} approvers \
                 approve it (custody release approve)",
                published.product,
                published.version,
                rule.threshold,
                rule.approvers.len()
            ));
            let awaiting = AwaitingApproval {
                threshold: rule.threshold,
                approvers: rule.approvers.iter().map(|a| a.hint.clone()).collect(),
                approved: Vec::new(),
                dir: published.dir.clone(),
            };
            answers.push((
                id,
                Ok(Released {
                    awaiting_approval: Some(awaiting),
                    release: published,
                    tuf_targets: Vec::new(),
                    scan: p.gate.map(|g| g.report),
                }),
            ));
            continue;
        }
        if let Some(e) = tuf_errors.next() {
            answers.push((id, Err(e)));
            continue;
        }
        catalog_published(loaded, &published, p.catalog_parts(), env);
        answers.push((
            id,
            Ok(Released {
                release: published,
                tuf_targets: added.next().unwrap_or_default(),
                scan: p.gate.map(|g| g.report),
                awaiting_approval: None,
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
