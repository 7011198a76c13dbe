//! Step 6: the persistent index imports incrementally, survives reopening,
//! reports what changed, and refuses corrupt or foreign files.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

mod common;

use std::path::Path;

use custody_vuln::{Ecosystem, Error, MatchOptions, PackageRef, SourceKind, Store};

const GO_FILES: [&str; 4] = [
    "GO-2020-0001.json",
    "GO-2020-0004.json",
    "GO-2022-0515.json",
    "GO-2024-2730.json",
];

fn copy_go(dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for f in GO_FILES {
        std::fs::copy(common::data().join("Go").join(f), dst.join(f)).unwrap();
    }
}

#[test]
fn incremental_import_parses_only_what_changed() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("go-src");
    copy_go(&src);
    let mut store = Store::open(&tmp.path().join("db")).unwrap();

    let first = store.import("Go", SourceKind::Osv, &src).unwrap();
    assert_eq!(first.added.len(), 4);
    assert_eq!(first.unchanged, 0);

    let again = store.import("Go", SourceKind::Osv, &src).unwrap();
    assert!(again.added.is_empty() && again.changed.is_empty() && again.removed.is_empty());
    assert_eq!(again.unchanged, 4);
    assert!(again.touched_packages.is_empty());

    // GO-2020-0001 is edited (its fix moves), GO-2020-0004 disappears, a
    // malformed file arrives.
    let gin = src.join("GO-2020-0001.json");
    let text = std::fs::read_to_string(&gin)
        .unwrap()
        .replace("\"fixed\": \"1.6.0\"", "\"fixed\": \"1.6.1\"");
    std::fs::write(&gin, text).unwrap();
    std::fs::remove_file(src.join("GO-2020-0004.json")).unwrap();
    std::fs::write(src.join("GO-9999-0001.json"), "{ not json").unwrap();
    let update = store.import("Go", SourceKind::Osv, &src).unwrap();
    assert_eq!(update.changed, ["GO-2020-0001"]);
    assert_eq!(update.removed, ["GO-2020-0004"]);
    assert!(update.added.is_empty());
    assert_eq!(update.unchanged, 2);
    assert_eq!(update.skipped.len(), 1);
    assert!(update.skipped[0].to_string().contains("GO-9999-0001.json"));
    assert!(
        update
            .touched_packages
            .contains(&(Ecosystem::Go, "github.com/gin-gonic/gin".into()))
    );
    assert!(
        !update
            .touched_packages
            .contains(&(Ecosystem::Go, "stdlib".into()))
    );

    // Reopening gives the same index, with the edit applied.
    drop(store);
    let store = Store::open(&tmp.path().join("db")).unwrap();
    let status = store.sources();
    assert_eq!(status.len(), 1);
    assert_eq!(status[0].advisories, 3);
    assert_eq!(status[0].skipped, 1);
    let index = store.index();
    assert_eq!(index.len(), 3);
    let f = index.scan(
        &[PackageRef::new(
            Ecosystem::Go,
            "github.com/gin-gonic/gin",
            "v1.6.0",
        )],
        &MatchOptions::default(),
    );
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].smallest_fix.as_deref(), Some("1.6.1"));
    assert_eq!(f[0].advisories[0].source, "Go");
    assert_eq!(store.digests().len(), 3);
}

#[test]
fn several_sources_and_removal() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("go-src");
    copy_go(&src);
    let mut store = Store::open(&tmp.path().join("db")).unwrap();
    store.import("Go", SourceKind::Osv, &src).unwrap();
    let rustsec = store
        .import(
            "rustsec",
            SourceKind::RustSec,
            &common::data().join("rustsec-advisory-db"),
        )
        .unwrap();
    assert_eq!(
        rustsec.added.len(),
        common::files("rustsec-advisory-db/crates")
    );
    assert_eq!(store.sources().len(), 2);
    assert!(store.remove_source("Go").unwrap());
    assert!(!store.remove_source("Go").unwrap());
    let store = Store::open(&tmp.path().join("db")).unwrap();
    assert_eq!(store.sources().len(), 1);
}

#[test]
fn invalid_source_names_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = Store::open(tmp.path()).unwrap();
    for bad in ["", "../x", ".hidden", "a/b", "name with space"] {
        assert!(
            matches!(
                store.import(bad, SourceKind::Osv, tmp.path()),
                Err(Error::InvalidSourceName { .. })
            ),
            "{bad}"
        );
    }
}

#[test]
fn corrupt_and_foreign_index_files_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("go-src");
    copy_go(&src);
    let db = tmp.path().join("db");
    Store::open(&db)
        .unwrap()
        .import("Go", SourceKind::Osv, &src)
        .unwrap();
    let file = db.join("sources/Go.json");
    let good = std::fs::read(&file).unwrap();

    std::fs::write(&file, &good[..good.len() / 2]).unwrap();
    assert!(matches!(Store::open(&db), Err(Error::IndexCorrupt { .. })));

    std::fs::write(&file, br#"{"format": 99, "anything": "else"}"#).unwrap();
    assert!(matches!(
        Store::open(&db),
        Err(Error::IndexFormatMismatch {
            found: 99,
            expected: 1,
            ..
        })
    ));
}

#[test]
fn full_go_database_reimport_parses_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = Store::open(tmp.path()).unwrap();
    let go = common::data().join("Go");
    let first = store.import("Go", SourceKind::Osv, &go).unwrap();
    let all = common::files("Go");
    assert!(all > 300, "{all}");
    assert_eq!(first.added.len(), all);
    assert!(first.skipped.is_empty());
    let second = store.import("Go", SourceKind::Osv, &go).unwrap();
    assert_eq!(second.unchanged, all);
    assert!(second.added.is_empty() && second.changed.is_empty());
}

#[test]
fn a_failed_reimport_keeps_the_source() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("go-src");
    copy_go(&src);
    let mut store = Store::open(&tmp.path().join("db")).unwrap();
    store.import("Go", SourceKind::Osv, &src).unwrap();
    std::fs::remove_dir_all(&src).unwrap();
    assert!(matches!(
        store.import("Go", SourceKind::Osv, &src),
        Err(Error::Io { .. })
    ));
    assert_eq!(store.sources()[0].advisories, 4);
    assert_eq!(store.index().len(), 4);
}
