//! Benchmarks for issue 4's performance targets, without a harness
//! dependency: `cargo bench -p custody-vuln --bench scan`.
//!
//! - import of the full Go database (4,291 files) into a fresh store, and
//!   the incremental re-import of the unchanged database;
//! - loading the store of all three shared OSV databases and building the
//!   index;
//! - matching 1,000 packages against that index (median of many runs);
//! - the same 1,000 packages from the on-disk packs: read and decode only the
//!   advisories naming them, then match, as a `custody scan` process does.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark may unwrap

use std::path::PathBuf;
use std::time::{Duration, Instant};

use custody_vuln::{Ecosystem, Event, Index, MatchOptions, PackageRef, SourceKind, Store};

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

fn stats(mut samples: Vec<Duration>) -> (Duration, Duration, Duration) {
    samples.sort();
    let p95 = samples[(samples.len() * 95 / 100).min(samples.len() - 1)];
    (samples[0], samples[samples.len() / 2], p95)
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// 1,000 packages drawn from the databases themselves, so that most names
/// hit the index (the expensive path), at versions taken from the
/// advisories' own events (inside, at and past the ranges), plus 10% names
/// that no advisory mentions.
fn packages(index: &Index) -> Vec<PackageRef> {
    let mut by_eco: Vec<Vec<PackageRef>> = vec![Vec::new(), Vec::new(), Vec::new()];
    let mut seen = std::collections::HashSet::new();
    for a in index.advisories() {
        for affected in &a.affected {
            let Some(p) = &affected.package else { continue };
            let slot = match p.ecosystem() {
                Ecosystem::CratesIo => 0,
                Ecosystem::Go => 1,
                Ecosystem::PyPI => 2,
                _ => continue,
            };
            // An SBOM lists each package once.
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
            by_eco[slot].push(PackageRef::new(p.ecosystem(), &p.name, version));
        }
    }
    let mut out = Vec::with_capacity(1000);
    let quotas = [300, 300, 300];
    for (list, quota) in by_eco.iter().zip(quotas) {
        let step = (list.len() / quota).max(1);
        out.extend(list.iter().step_by(step).take(quota).cloned());
    }
    let mut i = 0;
    while out.len() < 1000 {
        out.push(PackageRef::new(
            Ecosystem::CratesIo,
            format!("no-such-crate-{i}"),
            "1.0.0",
        ));
        i += 1;
    }
    out
}

fn main() {
    let root = data();
    let go = root.join("Go");

    // 1. Go import into a fresh store, five times.
    let mut fresh = Vec::new();
    let mut again = Vec::new();
    for _ in 0..5 {
        let tmp = tempfile::tempdir().unwrap();
        let mut store = Store::open(tmp.path()).unwrap();
        let t = Instant::now();
        let s = store.import("Go", SourceKind::Osv, &go).unwrap();
        fresh.push(t.elapsed());
        assert_eq!(s.added.len(), 4291);
        let t = Instant::now();
        let s = store.import("Go", SourceKind::Osv, &go).unwrap();
        again.push(t.elapsed());
        assert_eq!(s.unchanged, 4291);
    }
    let (min, med, _) = stats(fresh);
    println!(
        "go_import_full (4,291 files, fresh store): median {}, min {}",
        ms(med),
        ms(min)
    );
    let (min, med, _) = stats(again);
    println!(
        "go_import_unchanged (re-import, nothing parsed): median {}, min {}",
        ms(med),
        ms(min)
    );

    // 2. A store of the three OSV databases; load and index.
    let tmp = tempfile::tempdir().unwrap();
    {
        let mut store = Store::open(tmp.path()).unwrap();
        let t = Instant::now();
        for db in ["crates.io", "Go", "PyPI"] {
            let s = store.import(db, SourceKind::Osv, &root.join(db)).unwrap();
            assert!(s.skipped.is_empty());
        }
        println!(
            "import_all_three (crates.io + Go + PyPI, fresh): {}",
            ms(t.elapsed())
        );
    }
    let t = Instant::now();
    let store = Store::open(tmp.path()).unwrap();
    let load = t.elapsed();
    let t = Instant::now();
    let index = store.into_index();
    let build = t.elapsed();
    println!(
        "store_open {} + into_index {} for {} advisories (entries compile lazily, on first match)",
        ms(load),
        ms(build),
        index.len()
    );

    // 3. Matching 1,000 packages.
    let pkgs = packages(&index);
    assert_eq!(pkgs.len(), 1000);
    let opts = MatchOptions::default();
    let t = Instant::now();
    let findings = index.scan(&pkgs, &opts);
    println!(
        "scan_1000_packages_first (compiles the matched entries): {}",
        ms(t.elapsed())
    );
    let affected = findings.iter().filter(|f| f.is_affected()).count();
    for _ in 0..5 {
        std::hint::black_box(index.scan(&pkgs, &opts));
    }
    let runs = std::env::var("SCAN_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(100);
    let mut samples = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        std::hint::black_box(index.scan(std::hint::black_box(&pkgs), &opts));
        samples.push(t.elapsed());
    }
    let (min, med, p95) = stats(samples);
    if std::env::var_os("SCAN_PROFILE").is_some() {
        let mut per: Vec<(Duration, &PackageRef, usize)> = pkgs
            .iter()
            .map(|p| {
                let t = Instant::now();
                let mut n = 0;
                for _ in 0..20 {
                    n = std::hint::black_box(index.match_package(p, &opts)).len();
                }
                (t.elapsed() / 20, p, n)
            })
            .collect();
        per.sort_by_key(|x| std::cmp::Reverse(x.0));
        for (d, p, n) in per.iter().take(12) {
            println!(
                "  {:>9.1} us  {} {}@{} ({n} findings)",
                d.as_secs_f64() * 1e6,
                p.ecosystem,
                p.name,
                p.version
            );
        }
        let by_eco = |e: Ecosystem| {
            per.iter()
                .filter(|x| x.1.ecosystem == e)
                .map(|x| x.0)
                .sum::<Duration>()
        };
        println!(
            "  crates.io {} Go {} PyPI {}",
            ms(by_eco(Ecosystem::CratesIo)),
            ms(by_eco(Ecosystem::Go)),
            ms(by_eco(Ecosystem::PyPI))
        );
    }
    println!(
        "scan_1000_packages: median {}, min {}, p95 {} ({} findings, {} affected)",
        ms(med),
        ms(min),
        ms(p95),
        findings.len(),
        affected
    );

    // 4. What a scan process does: read only the advisories naming the 1,000
    // packages from the per-ecosystem packs, decode them, and match.
    let mut samples = Vec::new();
    let mut loaded = 0;
    for _ in 0..runs.min(50) {
        let t = Instant::now();
        let (index, _) = custody_vuln::load_index(tmp.path(), &pkgs).unwrap();
        let n = std::hint::black_box(index.scan(&pkgs, &opts)).len();
        samples.push(t.elapsed());
        assert_eq!(n, findings.len(), "the packs give the store's findings");
        loaded = index.len();
    }
    let (min, med, p95) = stats(samples);
    println!(
        "packs_load_and_scan_1000_packages: median {}, min {}, p95 {} ({loaded} advisories decoded)",
        ms(med),
        ms(min),
        ms(p95),
    );
}
