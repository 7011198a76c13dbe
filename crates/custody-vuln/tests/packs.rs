//! The per-ecosystem packs a scan reads give exactly the findings of the
//! whole store, follow source precedence, notice when they are stale, and
//! refuse corrupt bytes.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use custody_vuln::{
    Ecosystem, Error, Event, Index, MatchOptions, PackageRef, Packs, SourceKind, Store, load_index,
};

/// Every package the advisories name, at the first fixed (or listed)
/// version, and one name no advisory mentions per ecosystem.
fn packages_of(index: &Index) -> Vec<PackageRef> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for a in index.advisories() {
        for affected in &a.affected {
            let Some(p) = &affected.package else { continue };
            if !seen.insert((p.ecosystem(), p.name.clone())) {
                continue;
            }
            let version = affected
                .ranges
                .iter()
                .flat_map(|r| r.events.iter())
                .find_map(|e| match e {
                    Event::Fixed(v) | Event::LastAffected(v) => Some(v.clone()),
                    _ => None,
                })
                .or_else(|| affected.versions.first().cloned())
                .unwrap_or_else(|| "1.0.0".to_owned());
            out.push(PackageRef::new(p.ecosystem(), &p.name, version));
        }
    }
    for e in [Ecosystem::CratesIo, Ecosystem::Go, Ecosystem::PyPI] {
        out.push(PackageRef::new(e, "no-such-package", "1.0.0"));
    }
    out
}

fn json(findings: &[custody_vuln::Finding]) -> String {
    serde_json::to_string(findings).unwrap()
}

#[test]
fn packs_give_the_findings_of_the_whole_store() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = Store::open(tmp.path()).unwrap();
    for db in ["crates.io", "Go", "PyPI"] {
        store
            .import(db, SourceKind::Osv, &common::data().join(db))
            .unwrap();
    }
    let full = store.index();
    let packages = packages_of(&full);
    assert!(packages.len() > 500, "{}", packages.len());
    let packs = Packs::open(tmp.path()).unwrap().expect("written by import");
    assert_eq!(packs.advisories(), full.len());
    let opts = MatchOptions::default();
    let want = full.scan(&packages, &opts);
    assert!(want.len() > 500, "{}", want.len());

    // All at once, and a Cargo.lock's worth (one ecosystem) alone.
    let all = packs.index_for(&packages).unwrap();
    assert_eq!(json(&all.scan(&packages, &opts)), json(&want));
    let crates: Vec<PackageRef> = packages
        .iter()
        .filter(|p| p.ecosystem == Ecosystem::CratesIo)
        .cloned()
        .collect();
    let some = packs.index_for(&crates).unwrap();
    assert!(
        some.len() <= common::files("crates.io") && some.len() < full.len(),
        "only crates.io advisories"
    );
    assert_eq!(
        json(&some.scan(&crates, &opts)),
        json(&full.scan(&crates, &opts))
    );
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(name), text).unwrap();
}

/// Two sources hold the same id; the later name wins, and its version names
/// only `b`. Loading only `a`'s advisories must not resurrect the loser.
#[test]
fn the_later_source_wins_an_id_in_the_packs_too() {
    let tmp = tempfile::tempdir().unwrap();
    let early = r#"{"id": "X-1", "affected": [
        {"package": {"ecosystem": "crates.io", "name": "a"}, "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}]}]},
        {"package": {"ecosystem": "crates.io", "name": "b"}, "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}]}]}]}"#;
    let late = r#"{"id": "X-1", "affected": [
        {"package": {"ecosystem": "crates.io", "name": "b"}, "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}]}]}]}"#;
    write(&tmp.path().join("s1"), "X-1.json", early);
    write(&tmp.path().join("s2"), "X-1.json", late);
    let db = tmp.path().join("db");
    let mut store = Store::open(&db).unwrap();
    store
        .import("s1", SourceKind::Osv, &tmp.path().join("s1"))
        .unwrap();
    store
        .import("s2", SourceKind::Osv, &tmp.path().join("s2"))
        .unwrap();
    let a = [PackageRef::new(Ecosystem::CratesIo, "a", "1.0.0")];
    let b = [PackageRef::new(Ecosystem::CratesIo, "b", "1.0.0")];
    let opts = MatchOptions::default();
    assert!(store.index().scan(&a, &opts).is_empty());
    let (index, total) = load_index(&db, &a).unwrap();
    assert_eq!(total, 1);
    assert!(index.scan(&a, &opts).is_empty());
    let (index, _) = load_index(&db, &b).unwrap();
    let findings = index.scan(&b, &opts);
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].advisories[0].source, "s2");
}

#[test]
fn stale_packs_are_rebuilt_and_corrupt_ones_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("go");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::copy(
        common::data().join("Go/GO-2020-0001.json"),
        src.join("GO-2020-0001.json"),
    )
    .unwrap();
    let db = tmp.path().join("db");
    Store::open(&db)
        .unwrap()
        .import("Go", SourceKind::Osv, &src)
        .unwrap();
    let gin = [PackageRef::new(
        Ecosystem::Go,
        "github.com/gin-gonic/gin",
        "v1.5.0",
    )];
    let opts = MatchOptions::default();

    // A store written before packs existed (or whose manifest was lost).
    std::fs::remove_dir_all(db.join("packs")).unwrap();
    assert!(Packs::open(&db).unwrap().is_none());
    let (index, _) = load_index(&db, &gin).unwrap();
    assert_eq!(index.scan(&gin, &opts).len(), 1);
    assert!(Packs::open(&db).unwrap().is_some(), "rebuilt by the scan");

    // A source file that changed behind the manifest's back.
    let source = db.join("sources/Go.json");
    let text = std::fs::read(&source).unwrap();
    std::fs::write(&source, [text.as_slice(), b" "].concat()).unwrap();
    assert!(Packs::open(&db).unwrap().is_none());
    let (index, _) = load_index(&db, &gin).unwrap();
    assert_eq!(index.scan(&gin, &opts).len(), 1);

    // Bytes changed inside a pack that is otherwise current.
    let pack = db.join("packs/eco-Go.pack");
    let mut bytes = std::fs::read(&pack).unwrap();
    bytes.truncate(40);
    std::fs::write(&pack, &bytes).unwrap();
    assert!(matches!(
        load_index(&db, &gin),
        Err(Error::PackCorrupt { .. })
    ));
    std::fs::write(&pack, b"not a pack at all, but long enough").unwrap();
    assert!(matches!(
        load_index(&db, &gin),
        Err(Error::PackCorrupt { .. })
    ));
}
