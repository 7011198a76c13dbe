//! The writer lock that frontends on separate hosts share through a PostgreSQL catalog
//! ([`custody_catalog::WriterLock`]), on a real throwaway cluster.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support {
    pub mod postgres;
}

use std::sync::mpsc;
use std::time::Duration;

use custody_catalog::{Backend, Error, WriterLock, backend};

const ORIGIN: &str = "releases.example.com/log";

#[test]
fn one_session_holds_the_lock_and_the_next_waits_for_it() {
    let Some(cluster) = support::postgres::Postgres::start() else {
        return;
    };
    let url = cluster.database("custody");
    let first = WriterLock::take(&url, ORIGIN, &mut || panic!("nobody holds it yet")).unwrap();
    assert!(first.is_held());
    assert!(
        WriterLock::try_take(&url, ORIGIN).unwrap().is_none(),
        "a second session is refused while the first holds it"
    );
    // Another project's log in the same cluster does not wait for this one.
    assert!(
        WriterLock::try_take(&url, "other.example.com/log")
            .unwrap()
            .is_some()
    );

    let (told, waited) = mpsc::channel();
    let (taken, took) = mpsc::channel();
    std::thread::scope(|s| {
        let url = &url;
        s.spawn(move || {
            let lock = WriterLock::take(url, ORIGIN, &mut || told.send(()).unwrap()).unwrap();
            taken.send(()).unwrap();
            drop(lock);
        });
        waited
            .recv_timeout(Duration::from_secs(30))
            .expect("the second writer says it waits");
        assert!(
            took.recv_timeout(Duration::from_millis(300)).is_err(),
            "the second writer does not get the lock while the first holds it"
        );
        drop(first);
        took.recv_timeout(Duration::from_secs(30))
            .expect("the second writer gets the lock once the first lets go");
    });
    assert!(WriterLock::try_take(&url, ORIGIN).unwrap().is_some());
}

#[test]
fn a_holder_whose_session_dies_leaves_the_lock_free() {
    let Some(cluster) = support::postgres::Postgres::start() else {
        return;
    };
    let url = cluster.database("custody");
    let holder = WriterLock::take(&url, ORIGIN, &mut || panic!("nobody holds it yet")).unwrap();
    // What a frontend killed mid-publish, or cut off from the database, leaves: its backend
    // ends without unlocking.
    let mut admin = backend::Postgres::connect(&url).unwrap();
    let ended = admin
        .query(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_locks \
             WHERE locktype = 'advisory' AND granted",
            &[],
        )
        .unwrap();
    assert_eq!(
        ended,
        [vec![backend::Value::Int(1)]],
        "one session held an advisory lock"
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let next = loop {
        if let Some(lock) = WriterLock::try_take(&url, ORIGIN).unwrap() {
            break lock;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the dead holder's lock was never released"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(next.is_held());
    drop(holder);
}

#[test]
fn a_database_that_cannot_be_reached_is_a_writer_lock_error() {
    let (url, port) = support::postgres::unreachable();
    let err = WriterLock::take(&url, ORIGIN, &mut || panic!("it never connects")).unwrap_err();
    match &err {
        Error::WriterLock { location, .. } => {
            assert_eq!(
                location,
                &format!("postgres://custody:***@127.0.0.1:{port}/custody")
            );
        }
        other => panic!("expected WriterLock, got {other:?}"),
    }
    assert!(!format!("{err:?}").contains("s3cret"));
}

#[test]
fn a_released_lock_is_unlocked_and_its_session_reused() {
    let Some(cluster) = support::postgres::Postgres::start() else {
        return;
    };
    let url = cluster.database("custody");
    let mut admin = backend::Postgres::connect(&url).unwrap();
    let mut count = |sql: &'static str| match admin.query(sql, &[]).unwrap().as_slice() {
        [row] => match row.as_slice() {
            [backend::Value::Int(n)] => *n,
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    };
    for _ in 0..3 {
        let lock = WriterLock::take(&url, ORIGIN, &mut || panic!("nobody holds it")).unwrap();
        assert_eq!(
            count("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"),
            1
        );
        drop(lock);
        assert_eq!(
            count("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"),
            0,
            "dropping the lock unlocks it, though its session stays open"
        );
        assert_eq!(
            count(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
                 AND pid <> pg_backend_pid()"
            ),
            1,
            "one session, kept for the next writer"
        );
    }
}
