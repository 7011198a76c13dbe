//! Group commit (`custody_service::commit`): releases that queue while the writer lock is held
//! are logged and placed as one batch, each caller gets its own answer, and a version asked
//! for twice in one batch is logged once.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

#[path = "../../custody-catalog/tests/support/postgres.rs"]
mod postgres;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use custody_attest::release::SourceState;
use custody_service::Error;
use custody_service::commit::Committer;
use custody_service::env::{FixedClock, MemoryKeys, Recorded};
use custody_service::project::InitRequest;
use custody_service::release::{ReleaseEnv, ReleaseRequest, Released, prepare};
use custody_service::transport::{MemoryTransport, Transport};
use custody_site::config::Loaded;

fn request(dir: &Path, version: &str) -> ReleaseRequest {
    let artifact = dir.join(format!("dist/app-{version}.tar.gz"));
    std::fs::create_dir_all(dir.join("dist")).unwrap();
    std::fs::write(&artifact, format!("app {version}")).unwrap();
    ReleaseRequest {
        product: "app".into(),
        version: version.into(),
        artifacts: vec![artifact],
        allow_dirty: false,
        sbom: None,
        skip_scan: None,
        source: Some(SourceState {
            repository: "https://example.com/app".into(),
            git_ref: "refs/heads/main".into(),
            commit: "0123456789abcdef0123456789abcdef01234567".into(),
            clean: true,
        }),
        insecure_shared_key: false,
    }
}

/// The tree size of the checkpoint the release manifest's log entry is proven against.
fn checkpoint_size(released: &Released) -> u64 {
    let bundle: serde_json::Value =
        serde_json::from_slice(&std::fs::read(released.release.dir.join("manifest.json")).unwrap())
            .unwrap();
    bundle["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["treeSize"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// Commits `versions` from one thread each while `hold` holds the writer lock: the first
/// commit takes the lead and waits for the lock (its progress line starts with `waiting`), the
/// others queue behind it, and then `hold`'s value is dropped (which lets go of the lock, or
/// ends what the lock lives in). The answers, in `versions`' order.
fn commit_behind<H>(
    loaded: &Loaded,
    keys: &MemoryKeys,
    versions: &[&str],
    waiting: &str,
    hold: impl FnOnce(&Recorded) -> H,
) -> Vec<Result<Released, Error>> {
    let clock = FixedClock(jiff::Timestamp::now());
    let events = Recorded::default();
    // What a request of the server has: an environment of its own over shared keys.
    let env = || ReleaseEnv {
        keys,
        transport: Arc::new(MemoryTransport::new()) as Arc<dyn Transport>,
        clock: &clock,
        events: &events,
        catalog: None,
    };
    let committer = Committer::default();
    // Prepared first, so that only the commits are concurrent.
    let prepared: Vec<_> = versions
        .iter()
        .map(|v| prepare(loaded, &request(&loaded.base, v), &env()).unwrap())
        .collect();
    let held = hold(&events);
    std::thread::scope(|s| {
        let mut running = Vec::new();
        let mut prepared = prepared.into_iter();
        let first = prepared.next().unwrap();
        running.push(s.spawn(|| committer.commit(loaded, first, &env())));
        let deadline = Instant::now() + Duration::from_secs(30);
        while !events
            .progress_lines()
            .iter()
            .any(|l| l.starts_with(waiting))
        {
            assert!(
                Instant::now() < deadline,
                "the first commit never waited for the lock"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        for p in prepared {
            running.push(s.spawn(|| committer.commit(loaded, p, &env())));
        }
        while committer.queued() != versions.len() - 1 {
            assert!(Instant::now() < deadline, "the others never queued");
            std::thread::sleep(Duration::from_millis(5));
        }
        drop(held);
        running.into_iter().map(|t| t.join().unwrap()).collect()
    })
}

/// [`commit_behind`] the project's writer lock, held here.
fn commit_while_locked(
    loaded: &Loaded,
    keys: &MemoryKeys,
    versions: &[&str],
) -> Vec<Result<Released, Error>> {
    commit_behind(
        loaded,
        keys,
        versions,
        "waiting for another custody run",
        |events| custody_service::sequence::writer(loaded, events).unwrap(),
    )
}

fn project() -> (tempfile::TempDir, Loaded, MemoryKeys) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("project");
    std::fs::create_dir_all(&dir).unwrap();
    let keys = MemoryKeys::new();
    custody_service::project::init(
        &dir,
        &InitRequest {
            source_repository: Some("https://example.com/app".into()),
            ..InitRequest::default()
        },
        &keys,
        &FixedClock(jiff::Timestamp::now()),
        &Recorded::default(),
    )
    .unwrap();
    let loaded = Loaded::from_dir(&dir).unwrap();
    (tmp, loaded, keys)
}

#[test]
fn releases_queued_behind_the_writer_lock_are_logged_as_one_batch() {
    let (_tmp, loaded, keys) = project();
    let versions = ["1.0.0", "1.0.1", "1.0.2", "1.0.3", "1.0.4"];
    let answers = commit_while_locked(&loaded, &keys, &versions);
    let released: Vec<Released> = answers.into_iter().map(Result::unwrap).collect();
    for (r, v) in released.iter().zip(versions) {
        assert_eq!(r.release.version, v, "each caller gets its own release");
        assert!(r.release.dir.join(format!("app-{v}.tar.gz")).is_file());
    }
    // Each release logs 3 bundles (the artifact's, provenance, manifest): the first batch is
    // one release, the second the four that queued behind it, proven against one checkpoint.
    let sizes: Vec<u64> = released.iter().map(checkpoint_size).collect();
    assert_eq!(sizes, [3, 15, 15, 15, 15]);
    assert!(loaded.site_dir().join("log/checkpoint").is_file());
    let index = std::fs::read_to_string(loaded.site_dir().join("index.html")).unwrap();
    assert!(versions.iter().all(|v| index.contains(v)), "{index}");
}

#[test]
fn one_version_twice_in_a_batch_is_logged_once() {
    let (_tmp, loaded, keys) = project();
    let answers = commit_while_locked(&loaded, &keys, &["0.9.0", "1.0.0", "1.0.0"]);
    let [first, a, b] = <[_; 3]>::try_from(answers).ok().unwrap();
    first.unwrap();
    // One of the two lands; the other is told the version is taken, before it is logged.
    let (landed, refused) = match (a, b) {
        (Ok(r), Err(e)) | (Err(e), Ok(r)) => (r, e),
        (a, b) => panic!("expected one of each: {a:?} {b:?}"),
    };
    assert!(
        matches!(&refused, Error::Site(e) if matches!(**e, custody_site::Error::AlreadyPublished { .. })),
        "{refused}"
    );
    // 0.9.0 alone, then 1.0.0 once: 6 entries, not 9.
    assert_eq!(checkpoint_size(&landed), 6);
    let staging = loaded.release_staging_dir();
    let left: Vec<_> = std::fs::read_dir(&staging)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(
        left.is_empty(),
        "the refused release's staging is removed: {left:?}"
    );
}

#[test]
fn a_batch_whose_database_goes_away_fails_each_release_and_places_none() {
    let Some(cluster) = postgres::Postgres::start() else {
        return;
    };
    let url = cluster.database("custody");
    let (_tmp, mut loaded, keys) = project();
    loaded.config.monitor.catalog = std::path::PathBuf::from(&url);
    let versions = ["1.0.0", "1.0.1", "1.0.2", "1.0.3"];
    // Another frontend holds the writer lock in the database; once the commits wait and queue
    // behind it, the database stops: the waiting leader's session ends, and the batch queued
    // behind it cannot take the lock either.
    let other = custody_catalog::WriterLock::take(&url, &loaded.config.log.origin, &mut || {
        panic!("nobody holds it yet")
    })
    .unwrap();
    let answers = commit_behind(
        &loaded,
        &keys,
        &versions,
        "waiting for another frontend",
        |_| cluster,
    );
    drop(other);
    let mut answers = answers.into_iter();
    let first = answers.next().unwrap().unwrap_err();
    assert!(matches!(first, Error::Catalog { .. }), "{first:?}");
    let rest: Vec<Error> = answers.map(Result::unwrap_err).collect();
    let shared: Vec<&Arc<Error>> = rest
        .iter()
        .map(|e| match e {
            Error::Batch(shared) => shared,
            other => panic!("expected the batch's shared error, got {other:?}"),
        })
        .collect();
    assert!(
        matches!(**shared[0], Error::Catalog { .. }),
        "{:?}",
        shared[0]
    );
    assert!(
        shared.iter().all(|e| Arc::ptr_eq(e, shared[0])),
        "the three queued releases were one batch and report its one failure"
    );
    assert!(
        rest[0].to_string().contains("writer lock"),
        "the message says what failed: {}",
        rest[0]
    );
    // Nothing is on the site, nothing was logged, no staging is left.
    for v in versions {
        assert!(
            !loaded.site_dir().join("releases/app").join(v).exists(),
            "{v}"
        );
    }
    assert!(!loaded.site_dir().join("log/checkpoint").exists());
    let left: Vec<_> = std::fs::read_dir(loaded.release_staging_dir())
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "staging is removed: {left:?}");
}
