//! Frontends on separate hosts take turns through the PostgreSQL catalog they share
//! (`custody_service::sequence::writer`): two copies of one project, each with its own
//! directory and so its own `flock`, as two hosts without a shared filesystem have.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

#[path = "../../custody-catalog/tests/support/postgres.rs"]
mod postgres;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use custody_service::env::{FixedClock, MemoryKeys, Recorded};
use custody_service::project::InitRequest;
use custody_site::config::Loaded;

/// A project in a directory of its own whose catalog is `catalog`.
fn host(tmp: &tempfile::TempDir, name: &str, catalog: &str) -> Loaded {
    let dir = tmp.path().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    custody_service::project::init(
        &dir,
        &InitRequest::default(),
        &MemoryKeys::new(),
        &FixedClock(jiff::Timestamp::now()),
        &Recorded::default(),
    )
    .unwrap();
    let mut loaded = Loaded::from_dir(&dir).unwrap();
    loaded.config.monitor.catalog = PathBuf::from(catalog);
    loaded
}

#[test]
fn frontends_without_a_shared_filesystem_take_turns_through_postgresql() {
    let Some(cluster) = postgres::Postgres::start() else {
        return;
    };
    let url = cluster.database("custody");
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (host(&tmp, "a", &url), host(&tmp, "b", &url));
    assert_ne!(a.log_state_dir(), b.log_state_dir(), "no flock in common");

    let held = custody_service::sequence::writer(&a, &Recorded::default()).unwrap();
    let events = Recorded::default();
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::scope(|s| {
        s.spawn(|| {
            let writer = custody_service::sequence::writer(&b, &events).unwrap();
            done.send(()).unwrap();
            drop(writer);
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        while !events
            .progress_lines()
            .iter()
            .any(|l| l.starts_with("waiting for another frontend"))
        {
            assert!(Instant::now() < deadline, "the second host never waited");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(
            finished.recv_timeout(Duration::from_millis(300)).is_err(),
            "the second host writes while the first holds the lock"
        );
        drop(held);
        finished
            .recv_timeout(Duration::from_secs(30))
            .expect("the second host gets the lock once the first lets go");
    });
    let waited = events.progress_lines().join("\n");
    assert!(
        waited.contains("custody.local/log") && waited.contains("127.0.0.1"),
        "the message names the log and the database: {waited}"
    );
}

#[test]
fn an_unreachable_database_refuses_the_writer_and_says_where() {
    let tmp = tempfile::tempdir().unwrap();
    let (url, port) = postgres::unreachable();
    let loaded = host(&tmp, "a", &url);
    let err = custody_service::sequence::writer(&loaded, &Recorded::default()).unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(err, custody_service::Error::Catalog { .. }),
        "{err:?}"
    );
    assert!(
        message.contains(&format!("127.0.0.1:{port}")) && message.contains("writer lock"),
        "{message}"
    );
    assert!(!message.contains("s3cret"), "{message}");
}
