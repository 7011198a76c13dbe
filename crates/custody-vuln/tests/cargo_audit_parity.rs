//! Parity with cargo-audit's matching core: the `rustsec` crate's
//! `Database::query` with `Query::crate_scope()` (what `cargo audit` runs for
//! vulnerabilities) and its informational counterpart (its warnings), asked
//! for every crate of the RustSec database in `testdata/` at versions around every
//! bound, must name exactly the advisories our matcher names.
//!
//! This checks the library cargo-audit is built on, offline and without
//! installing cargo-audit; the end-to-end comparison with the `cargo audit`
//! binary on real lockfiles belongs with the scanner.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

mod common;

use std::collections::BTreeSet;

use custody_vuln::rustsec::read_rustsec_directory;
use custody_vuln::{Ecosystem, Index, MatchOptions, PackageRef};
use rustsec::database::Query;
use rustsec::{Collection, Database};

fn probes(db: &Database, name: &str) -> BTreeSet<semver::Version> {
    let mut out: BTreeSet<semver::Version> = ["0.0.0", "0.1.0", "1.0.0", "99.0.0"]
        .iter()
        .map(|v| semver::Version::parse(v).unwrap())
        .collect();
    let crate_name: rustsec::package::Name = name.parse().unwrap();
    for a in db.query(
        &Query::new()
            .collection(Collection::Crates)
            .package_name(crate_name),
    ) {
        for range in rustsec::osv::ranges_for_advisory(&a.versions) {
            for v in range.introduced.iter().chain(range.fixed.iter()) {
                out.insert(v.clone());
                let mut next = v.clone();
                next.pre = semver::Prerelease::EMPTY;
                next.patch += 1;
                out.insert(next.clone());
                next.pre = semver::Prerelease::new("alpha.1").unwrap();
                out.insert(next);
                if v.patch > 0 {
                    let mut prev = v.clone();
                    prev.pre = semver::Prerelease::EMPTY;
                    prev.patch -= 1;
                    out.insert(prev);
                }
            }
        }
    }
    out
}

#[test]
fn same_vulnerabilities_and_warnings_as_cargo_audit_core() {
    let root = common::data().join("rustsec-advisory-db");
    let db = Database::open(&root).unwrap();
    let mut index = Index::new();
    for f in read_rustsec_directory(&root).unwrap().advisories {
        index.insert(f.advisory, "rustsec", None);
    }
    let names: BTreeSet<String> = db
        .iter()
        .filter(|a| a.metadata.collection == Some(Collection::Crates))
        .map(|a| a.metadata.package.as_str().to_owned())
        .collect();
    assert!(names.len() > 200, "{}", names.len());

    let mut checked = 0;
    let mut mismatches = Vec::new();
    for name in &names {
        for version in probes(&db, name) {
            let crate_name: rustsec::package::Name = name.parse().unwrap();
            let query = |informational: bool| {
                Query::crate_scope()
                    .informational(informational)
                    .package_name(crate_name.clone())
                    .package_version(version.clone())
            };
            let theirs_vulns: BTreeSet<String> = db
                .query(&query(false))
                .iter()
                .map(|a| a.metadata.id.to_string())
                .collect();
            let theirs_warnings: BTreeSet<String> = db
                .query(&query(true))
                .iter()
                .map(|a| a.metadata.id.to_string())
                .collect();

            let findings = index.match_package(
                &PackageRef::new(Ecosystem::CratesIo, name, version.to_string()),
                &MatchOptions::default(),
            );
            assert!(
                findings.iter().all(|f| f.is_affected()),
                "{name}@{version}: unknown finding"
            );
            let ids = findings
                .iter()
                .flat_map(|f| f.advisories.iter().map(|a| a.id.clone()));
            let (ours_warnings, ours_vulns): (BTreeSet<String>, BTreeSet<String>) =
                ids.partition(|id| index.get(id).is_some_and(|a| a.informational().is_some()));
            if ours_vulns != theirs_vulns || ours_warnings != theirs_warnings {
                mismatches.push(format!(
                    "{name}@{version}: vulns ours {ours_vulns:?} theirs {theirs_vulns:?}; \
                     warnings ours {ours_warnings:?} theirs {theirs_warnings:?}"
                ));
            }
            checked += 1;
        }
    }
    assert!(checked > 2000, "{checked}");
    assert!(
        mismatches.is_empty(),
        "{} of {checked}:\n{}",
        mismatches.len(),
        mismatches[..mismatches.len().min(20)].join("\n")
    );
}

#[test]
fn target_os_filter_matches_cargo_audit_core() {
    // RUSTSEC-2024-0019: mio, Windows only.
    let root = common::data().join("rustsec-advisory-db");
    let db = Database::open(&root).unwrap();
    let mut index = Index::new();
    for f in read_rustsec_directory(&root).unwrap().advisories {
        index.insert(f.advisory, "rustsec", None);
    }
    let version = semver::Version::parse("0.8.10").unwrap();
    for os in ["linux", "windows"] {
        let theirs: BTreeSet<String> = db
            .query(
                &Query::crate_scope()
                    .package_name("mio".parse().unwrap())
                    .package_version(version.clone())
                    .target_os(vec![os.parse().unwrap()]),
            )
            .iter()
            .map(|a| a.metadata.id.to_string())
            .collect();
        let options = MatchOptions {
            target_os: Some(os.to_owned()),
            ..MatchOptions::default()
        };
        let ours: BTreeSet<String> = index
            .match_package(
                &PackageRef::new(Ecosystem::CratesIo, "mio", "0.8.10"),
                &options,
            )
            .iter()
            .filter(|f| !f.is_warning())
            .flat_map(|f| f.advisories.iter().map(|a| a.id.clone()))
            .collect();
        assert_eq!(ours, theirs, "{os}");
    }
}
