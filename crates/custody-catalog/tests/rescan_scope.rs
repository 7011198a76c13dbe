//! A monitor run looks only at releases that contain a package a changed advisory names, and
//! a withdrawn finding is resolved, not reported. Advisories are real ones from the shared Go
//! snapshot: GO-2020-0001 (gin) and GO-2020-0004 (nats-server).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use custody_catalog::{Catalog, MonitorOptions, NewRelease, monitor};
use custody_vuln::{Ecosystem, PackageRef, SourceKind, Store};

fn go(file: &str) -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/advisories/Go"
    ))
    .join(file)
}

fn add(catalog: &mut Catalog, product: &str, packages: &[PackageRef]) {
    catalog
        .add_release(
            &NewRelease {
                product,
                version: "1.0.0",
                dir: Path::new("/nonexistent"),
                sbom: None,
                artifacts: &[],
                packages,
                known: &[],
            },
            "2026-01-01T00:00:00Z",
        )
        .unwrap();
}

#[test]
fn only_releases_with_a_touched_package_are_rescanned() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    for f in ["GO-2020-0001.json", "GO-2020-0004.json"] {
        std::fs::copy(go(f), src.join(f)).unwrap();
    }
    let db = tmp.path().join("db");
    let mut store = Store::open(&db).unwrap();
    store.import("Go", SourceKind::Osv, &src).unwrap();

    let mut catalog = Catalog::open(&tmp.path().join("c.sqlite")).unwrap();
    let gin = PackageRef::new(Ecosystem::Go, "github.com/gin-gonic/gin", "v1.5.0");
    let other = PackageRef::new(Ecosystem::Go, "example.com/unrelated", "v1.0.0");
    add(&mut catalog, "web", &[gin, other.clone()]);
    add(&mut catalog, "tool", &[other]);
    let no_vex = |_: &str| Vec::new();
    let run = |catalog: &mut Catalog, now: &str| {
        let packs = custody_vuln::open_current(&db).unwrap();
        monitor(catalog, &packs, &MonitorOptions { now, vex: &no_vex }).unwrap()
    };

    let first = run(&mut catalog, "2026-01-02T00:00:00Z");
    assert!(first.first_run);
    assert_eq!(first.rescanned_releases, 2, "never scanned: both, whole");
    assert_eq!(first.new.len(), 1);
    assert_eq!(first.new[0].release.product, "web");
    assert_eq!(
        first.new[0]
            .first_seen
            .get("GO-2020-0001")
            .map(String::as_str),
        Some("2026-01-02T00:00:00Z")
    );

    // The nats-server advisory's file changes (a byte is enough: content hashes, not dates,
    // decide): neither release has that package.
    let f = src.join("GO-2020-0004.json");
    let text = std::fs::read_to_string(&f).unwrap();
    std::fs::write(&f, format!("{text}\n")).unwrap();
    store.import("Go", SourceKind::Osv, &src).unwrap();
    let second = run(&mut catalog, "2026-01-03T00:00:00Z");
    assert_eq!(second.changed, ["GO-2020-0004"]);
    assert_eq!(second.rescanned_releases, 0);

    // The gin advisory is withdrawn: only "web" is looked at, and its finding is resolved.
    let f = src.join("GO-2020-0001.json");
    let text = std::fs::read_to_string(&f).unwrap();
    std::fs::write(
        &f,
        text.replacen('{', "{\"withdrawn\": \"2026-01-03T00:00:00Z\",", 1),
    )
    .unwrap();
    store.import("Go", SourceKind::Osv, &src).unwrap();
    let third = run(&mut catalog, "2026-01-04T00:00:00Z");
    assert_eq!(third.rescanned_releases, 1);
    assert_eq!(third.resolved, 1);
    assert!(third.new.is_empty());
    assert!(catalog.findings("web", "1.0.0").unwrap().is_empty());
}

#[test]
fn news_whose_publishing_failed_is_found_again() {
    // Regression (issue 15 crash campaign): the monitor committed the findings before the
    // notices were written, so a run killed in between lost them for good.
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::copy(go("GO-2020-0001.json"), src.join("GO-2020-0001.json")).unwrap();
    let db = tmp.path().join("db");
    let mut store = Store::open(&db).unwrap();
    store.import("Go", SourceKind::Osv, &src).unwrap();
    let mut catalog = Catalog::open(&tmp.path().join("c.sqlite")).unwrap();
    let gin = PackageRef::new(Ecosystem::Go, "github.com/gin-gonic/gin", "v1.5.0");
    add(&mut catalog, "web", &[gin]);
    let no_vex = |_: &str| Vec::new();
    let packs = custody_vuln::open_current(&db).unwrap();
    let options = MonitorOptions {
        now: "2026-01-02T00:00:00Z",
        vex: &no_vex,
    };

    let failed = custody_catalog::monitor_then(&mut catalog, &packs, &options, |report| {
        assert_eq!(report.new.len(), 1);
        Err::<(), _>("the notice could not be written")
    })
    .unwrap();
    assert!(failed.is_err());
    let again = monitor(&mut catalog, &packs, &options).unwrap();
    assert!(again.first_run, "the failed run recorded nothing");
    assert_eq!(again.new.len(), 1, "the news is found again");
    let after = monitor(&mut catalog, &packs, &options).unwrap();
    assert!(after.new.is_empty());
}
