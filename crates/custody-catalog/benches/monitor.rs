//! Issue 4's monitor target: 10,000 stored release SBOMs re-checked after a 50-advisory update
//! in under 2 s. `cargo bench -p custody-catalog --bench monitor`.
//!
//! - Advisories: the shared crates.io, Go and PyPI snapshots, imported as one source with 50
//!   advisories (17 crates.io, 17 Go, 16 PyPI) held back.
//! - Catalog: 200 products x 50 versions. Each product has 150 packages: 45 named by advisories
//!   (every held-back advisory's packages among them), 105 that no advisory names, as in real
//!   lockfiles; each version bumps a few packages. 1.5 million package rows.
//! - Timed: the first run (every release scanned whole), then, after importing the 50
//!   advisories, the run that matters (`open_current` + `monitor`), then a run with nothing
//!   changed. `MONITOR_PRODUCTS`/`MONITOR_VERSIONS` change the catalog's shape.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark may unwrap

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use custody_catalog::{Catalog, MonitorOptions, NewRelease, monitor};
use custody_vuln::{Advisory, Ecosystem, Event, PackageRef, SourceKind, Store};

/// The advisory corpus: `CUSTODY_ADVISORIES` (e.g. the full snapshots in `shared/data/advisories`,
/// as BENCHMARKS.md measured), else the trimmed copy in `testdata/advisories`.
fn data() -> PathBuf {
    std::env::var_os("CUSTODY_ADVISORIES").map_or_else(
        || {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../testdata/advisories"
            ))
        },
        PathBuf::from,
    )
}

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, out);
        } else if matches!(
            p.extension().and_then(|e| e.to_str()),
            Some("json" | "yaml")
        ) {
            out.push(p);
        }
    }
}

/// A version of `affected` an SBOM could hold: its first fixed (or last affected, or listed)
/// version, so some releases are affected and some are not.
fn version_of(a: &custody_vuln::Affected) -> String {
    a.ranges
        .iter()
        .flat_map(|r| r.events.iter())
        .find_map(|e| match e {
            Event::Fixed(v) | Event::LastAffected(v) => Some(v.clone()),
            _ => None,
        })
        .or_else(|| a.versions.first().cloned())
        .unwrap_or_else(|| "1.0.0".to_owned())
}

fn packages_of(a: &Advisory) -> Vec<PackageRef> {
    a.affected
        .iter()
        .filter_map(|x| {
            let p = x.package.as_ref()?;
            let e = p.ecosystem();
            matches!(e, Ecosystem::CratesIo | Ecosystem::Go | Ecosystem::PyPI)
                .then(|| PackageRef::new(e, &p.name, version_of(x)))
        })
        .collect()
}

fn main() {
    let products: usize = std::env::var("MONITOR_PRODUCTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let versions: usize = std::env::var("MONITOR_VERSIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("osv");
    let held = tmp.path().join("held");
    std::fs::create_dir_all(&held).unwrap();
    let mut held_back = Vec::new();
    for (db, n) in [("crates.io", 17), ("Go", 17), ("PyPI", 16)] {
        let mut all = Vec::new();
        files(&data().join(db), &mut all);
        all.sort();
        let step = all.len() / n;
        for (i, f) in all.iter().enumerate() {
            let rel = f.strip_prefix(data()).unwrap();
            let dst = src.join(rel);
            std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
            if i % step == 0 && i / step < n {
                held_back.push((f.clone(), dst));
            } else {
                std::fs::copy(f, &dst).unwrap();
            }
        }
    }
    assert_eq!(held_back.len(), 50);
    let db = tmp.path().join("db");
    let mut store = Store::open(&db).unwrap();
    store.import("osv", SourceKind::Osv, &src).unwrap();

    // The package universe.
    let mut named: Vec<PackageRef> = Vec::new();
    let mut seen = BTreeSet::new();
    let held_pkgs: Vec<PackageRef> = held_back
        .iter()
        .flat_map(|(f, _)| packages_of(&Advisory::read_file(f).unwrap()))
        .collect();
    let index = store.index();
    for p in held_pkgs
        .iter()
        .cloned()
        .chain(index.advisories().flat_map(packages_of))
    {
        if seen.insert((p.ecosystem.clone(), p.name.clone())) {
            named.push(p);
        }
    }
    drop(index);
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    let catalog_path = tmp.path().join("catalog.sqlite");
    let mut catalog = Catalog::open(&catalog_path).unwrap();
    let t = Instant::now();
    let mut rows = 0;
    for product in 0..products {
        let mut pkgs: Vec<PackageRef> = Vec::with_capacity(150);
        // Every held-back advisory's packages are in some products.
        if product < held_pkgs.len() {
            pkgs.push(held_pkgs[product].clone());
        }
        while pkgs.len() < 45 {
            pkgs.push(named[rng.below(named.len())].clone());
        }
        let eco = [Ecosystem::CratesIo, Ecosystem::Go, Ecosystem::PyPI][product % 3].clone();
        for i in 0..105 {
            pkgs.push(PackageRef::new(
                eco.clone(),
                format!("private-{product}-{i}"),
                "1.0.0",
            ));
        }
        for v in 0..versions {
            // A few upgrades per version.
            for _ in 0..3 {
                let i = 45 + rng.below(105);
                pkgs[i].version = format!("1.0.{v}");
            }
            let name = format!("product-{product}");
            let version = format!("{v}.0.0");
            catalog
                .add_release(
                    &NewRelease {
                        product: &name,
                        version: &version,
                        dir: Path::new("/nonexistent"),
                        sbom: None,
                        artifacts: &[],
                        packages: &pkgs,
                        licenses: &Default::default(),
                        known: &[],
                    },
                    "2026-01-01T00:00:00Z",
                )
                .unwrap();
            rows += pkgs.len();
        }
    }
    println!(
        "catalog: {} releases, {rows} package rows, written in {:.1} s",
        catalog.len().unwrap(),
        t.elapsed().as_secs_f64()
    );

    let no_vex = |_: &str| Vec::new();
    let run = |catalog: &mut Catalog, label: &str, now: &str| {
        let t = Instant::now();
        let packs = custody_vuln::open_current(&db).unwrap();
        let r = monitor(catalog, &packs, &MonitorOptions { now, vex: &no_vex }).unwrap();
        let took = t.elapsed();
        println!(
            "{label}: {:.0} ms; advisories +{} ~{} -{}, {} packages touched, {} of {} releases \
             re-scanned, {} distinct package versions matched, {} releases with new findings \
             ({} findings)",
            took.as_secs_f64() * 1000.0,
            r.added.len(),
            r.changed.len(),
            r.removed.len(),
            r.touched_packages,
            r.rescanned_releases,
            r.releases,
            r.matched_packages,
            r.new.len(),
            r.new.iter().map(|n| n.findings.len()).sum::<usize>()
        );
        took
    };
    run(
        &mut catalog,
        "monitor_first_run (every release scanned whole)",
        "2026-01-02T00:00:00Z",
    );
    run(
        &mut catalog,
        "monitor_nothing_changed",
        "2026-01-03T00:00:00Z",
    );
    for (from, to) in &held_back {
        std::fs::copy(from, to).unwrap();
    }
    let t = Instant::now();
    let s = store.import("osv", SourceKind::Osv, &src).unwrap();
    println!(
        "import of the update (+{} advisories): {:.0} ms",
        s.added.len(),
        t.elapsed().as_secs_f64() * 1000.0
    );
    let took = run(
        &mut catalog,
        "monitor_after_50_advisory_update",
        "2026-01-04T00:00:00Z",
    );
    println!(
        "target: under 2 s for 10,000 releases after a 50-advisory update: {}",
        if took.as_secs_f64() < 2.0 {
            "met"
        } else {
            "MISSED"
        }
    );
}
