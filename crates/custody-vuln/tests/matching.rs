//! Step 4: the index and matcher on real advisories: withdrawn advisories
//! skipped, aliases grouped, warnings apart from vulnerabilities, severity,
//! fixed versions and the smallest fix, name normalisation, unknowns.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

mod common;

use custody_vuln::import::read_osv_directory;
use custody_vuln::severity::CvssVersion;
use custody_vuln::{
    Advisory, Ecosystem, FindingKind, FindingStatus, Index, MatchOptions, PackageRef, Rating,
    UnknownReason,
};

fn index_of(paths: &[&str]) -> Index {
    let mut index = Index::new();
    for p in paths {
        index.insert(common::advisory(p), p.split('/').next().unwrap(), None);
    }
    index
}

fn scan(index: &Index, package: PackageRef) -> Vec<custody_vuln::Finding> {
    index.scan(&[package], &MatchOptions::default())
}

#[test]
fn withdrawn_advisories_are_skipped() {
    // GO-2024-2730 (gorilla/sessions, introduced 0, no fix) is withdrawn.
    let index = index_of(&["Go/GO-2024-2730.json"]);
    assert!(index.get("GO-2024-2730").unwrap().is_withdrawn());
    assert!(
        scan(
            &index,
            PackageRef::new(Ecosystem::Go, "github.com/gorilla/sessions", "v1.2.1")
        )
        .is_empty()
    );
}

#[test]
fn shared_aliases_make_one_finding() {
    // RUSTSEC-2019-0036 and RUSTSEC-2020-0036 (failure) carry the same
    // CVE and GHSA aliases: one vulnerability, one finding.
    let index = index_of(&[
        "crates.io/RUSTSEC-2019-0036.json",
        "crates.io/RUSTSEC-2020-0036.json",
    ]);
    let findings = scan(
        &index,
        PackageRef::new(Ecosystem::CratesIo, "failure", "0.1.8"),
    );
    assert_eq!(findings.len(), 1, "{findings:#?}");
    let f = &findings[0];
    assert_eq!(f.id, "RUSTSEC-2019-0036");
    assert!(f.aliases.contains(&"RUSTSEC-2020-0036".to_owned()));
    assert!(f.aliases.contains(&"CVE-2019-25010".to_owned()));
    assert_eq!(f.advisories.len(), 2);
    // One of the two is only "unsound"/"unmaintained": the group is still
    // reported under the stronger kind of its members.
    assert!(matches!(
        f.kind,
        FindingKind::Warning { .. } | FindingKind::Vulnerability
    ));
}

#[test]
fn aliases_group_transitively() {
    // GO-2020-0001 lists CVE-2020-36567 and GHSA-6vm3-jj99-7229. Two
    // records that each share only one of those ids with it (as GHSA and NVD
    // records do) join it in one group: A ~ CVE ~ B and A ~ GHSA ~ C.
    let go = common::advisory("Go/GO-2020-0001.json");
    let mut via_cve = go.clone();
    via_cve.id = "EXAMPLE-CVE-ONLY".into();
    via_cve.aliases = vec!["CVE-2020-36567".into()];
    let mut via_ghsa = go.clone();
    via_ghsa.id = "EXAMPLE-GHSA-ONLY".into();
    via_ghsa.aliases = vec!["GHSA-6vm3-jj99-7229".into()];
    let mut index = Index::new();
    // Inserted so that the two outer records come first and share nothing.
    index.insert(via_cve, "test", None);
    index.insert(via_ghsa, "test", None);
    index.insert(go, "Go", None);
    let findings = scan(
        &index,
        PackageRef::new(Ecosystem::Go, "github.com/gin-gonic/gin", "v1.5.0"),
    );
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(findings[0].advisories.len(), 3);
}

#[test]
fn the_same_advisory_from_two_databases_is_kept_once() {
    let mut index = Index::new();
    let a = common::advisory("crates.io/RUSTSEC-2016-0001.json");
    index.insert(a.clone(), "crates.io", None);
    index.insert(a, "rustsec", None);
    assert_eq!(index.len(), 1);
    let findings = scan(
        &index,
        PackageRef::new(Ecosystem::CratesIo, "openssl", "0.8.0"),
    );
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].advisories[0].source, "rustsec");
}

#[test]
fn informational_advisories_are_warnings() {
    // RUSTSEC-2020-0036: failure is unmaintained.
    let index = index_of(&["crates.io/RUSTSEC-2020-0036.json"]);
    let findings = scan(
        &index,
        PackageRef::new(Ecosystem::CratesIo, "failure", "0.1.8"),
    );
    assert_eq!(findings.len(), 1);
    assert_eq!(
        findings[0].kind,
        FindingKind::Warning {
            informational: "unmaintained".into()
        }
    );
    assert!(findings[0].is_warning());
    // RUSTSEC-2016-0001 is a vulnerability.
    let index = index_of(&["crates.io/RUSTSEC-2016-0001.json"]);
    let findings = scan(
        &index,
        PackageRef::new(Ecosystem::CratesIo, "openssl", "0.8.0"),
    );
    assert_eq!(findings[0].kind, FindingKind::Vulnerability);
}

#[test]
fn finding_carries_package_severity_and_fix() {
    // RUSTSEC-2016-0001: CVSS 3.0 8.1 High, fixed 0.9.0.
    let index = index_of(&["crates.io/RUSTSEC-2016-0001.json"]);
    let pkg = PackageRef::new(Ecosystem::CratesIo, "openssl", "0.8.3")
        .with_purl("pkg:cargo/openssl@0.8.3");
    let f = &scan(&index, pkg.clone())[0];
    assert_eq!(f.id, "RUSTSEC-2016-0001");
    assert_eq!(f.aliases, ["CVE-2016-10931", "GHSA-34p9-f4q3-c4r7"]);
    assert_eq!(f.package, pkg);
    assert_eq!(f.status, FindingStatus::Affected);
    let score = f.severity.score.as_ref().unwrap();
    assert_eq!(score.version, CvssVersion::V3);
    assert!((score.score - 8.1).abs() < 1e-9);
    assert_eq!(score.rating, Rating::High);
    assert_eq!(f.fixed, ["0.9.0"]);
    assert_eq!(f.smallest_fix.as_deref(), Some("0.9.0"));
    assert_eq!(f.advisories[0].source, "crates.io");
}

#[test]
fn cvss_v4_vectors_are_scored() {
    // RUSTSEC-2026-0009 (time 0.3.6..0.3.47) has only a CVSS v4 vector.
    let index = index_of(&["crates.io/RUSTSEC-2026-0009.json"]);
    let f = &scan(
        &index,
        PackageRef::new(Ecosystem::CratesIo, "time", "0.3.20"),
    )[0];
    let score = f.severity.score.as_ref().unwrap();
    assert_eq!(score.version, CvssVersion::V4);
    assert!(score.score > 0.0);
    assert_eq!(f.smallest_fix.as_deref(), Some("0.3.47"));
}

#[test]
fn smallest_fix_is_per_branch() {
    // GO-2022-0515: stdlib fixed in 1.17.12 and 1.18.4.
    let index = index_of(&["Go/GO-2022-0515.json"]);
    let on_117 = &scan(&index, PackageRef::new(Ecosystem::Go, "stdlib", "go1.17.5"))[0];
    assert_eq!(on_117.fixed, ["1.17.12", "1.18.4"]);
    assert_eq!(on_117.smallest_fix.as_deref(), Some("1.17.12"));
    let on_118 = &scan(&index, PackageRef::new(Ecosystem::Go, "stdlib", "go1.18.1"))[0];
    assert_eq!(on_118.smallest_fix.as_deref(), Some("1.18.4"));
}

#[test]
fn smallest_fix_skips_a_fix_that_another_advisory_still_affects() {
    // RUSTSEC-2022-0096 (wasmtime: fixed 0.33.1 and 0.34.1) and
    // RUSTSEC-2022-0101 (wasmtime: fixed 0.38.2) share aliases, so they are
    // one finding; for 0.33.0 the first fix that clears both is 0.38.2.
    let index = index_of(&[
        "crates.io/RUSTSEC-2022-0096.json",
        "crates.io/RUSTSEC-2022-0101.json",
    ]);
    let findings = scan(
        &index,
        PackageRef::new(Ecosystem::CratesIo, "wasmtime", "0.33.0"),
    );
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].fixed, ["0.33.1", "0.34.1", "0.38.2"]);
    assert_eq!(findings[0].smallest_fix.as_deref(), Some("0.38.2"));
}

#[test]
fn pypi_names_are_normalised_on_both_sides() {
    // PYSEC-2020-342 names "apache-skywalking"; jw.util's advisory names "jw.util".
    let index = index_of(&["PyPI/vulns/apache-skywalking/PYSEC-2020-342.yaml"]);
    for name in [
        "apache-skywalking",
        "Apache_SkyWalking",
        "apache.skywalking",
        "APACHE--skywalking",
    ] {
        let f = scan(&index, PackageRef::new(Ecosystem::PyPI, name, "1.0.0"));
        assert_eq!(f.len(), 1, "{name}");
    }
    let import = read_osv_directory(&common::data().join("PyPI/vulns/jw.util")).unwrap();
    let mut index = Index::new();
    for f in import.advisories {
        index.insert(f.advisory, "PyPI", Some(f.digest));
    }
    assert!(!index.is_empty());
    let any = index.advisories().next().unwrap().clone();
    let version = any.affected[0]
        .versions
        .first()
        .cloned()
        .unwrap_or_else(|| "0.0.1".into());
    let f = scan(
        &index,
        PackageRef::new(Ecosystem::PyPI, "JW_Util", &version),
    );
    assert!(!f.is_empty());
    assert!(
        f[0].advisories[0]
            .digest
            .as_ref()
            .is_some_and(|d| d.len() == 64)
    );
}

#[test]
fn unparsable_version_gives_an_unknown_finding() {
    // GO-2020-0001 against a branch name instead of a version.
    let index = index_of(&["Go/GO-2020-0001.json"]);
    let f = scan(
        &index,
        PackageRef::new(Ecosystem::Go, "github.com/gin-gonic/gin", "master"),
    );
    assert_eq!(f.len(), 1);
    assert!(!f[0].is_affected());
    assert!(matches!(
        f[0].status,
        FindingStatus::Unknown {
            reason: UnknownReason::UnparsablePackageVersion { .. }
        }
    ));
    assert_eq!(f[0].smallest_fix, None);
}

#[test]
fn target_os_filters_os_specific_advisories() {
    // RUSTSEC-2024-0019: mio 0.7.2..0.8.11, Windows only.
    let index = index_of(&["crates.io/RUSTSEC-2024-0019.json"]);
    let mio = PackageRef::new(Ecosystem::CratesIo, "mio", "0.8.10");
    let linux = MatchOptions {
        target_os: Some("linux".into()),
        ..MatchOptions::default()
    };
    let windows = MatchOptions {
        target_os: Some("windows".into()),
        ..MatchOptions::default()
    };
    assert!(index.scan(std::slice::from_ref(&mio), &linux).is_empty());
    assert_eq!(index.scan(std::slice::from_ref(&mio), &windows).len(), 1);
    assert_eq!(index.scan(&[mio], &MatchOptions::default()).len(), 1);
}

#[test]
fn removal_forgets_the_advisory() {
    let mut index = index_of(&["Go/GO-2020-0001.json"]);
    assert!(index.remove("GO-2020-0001").is_some());
    assert!(index.is_empty());
    assert!(
        scan(
            &index,
            PackageRef::new(Ecosystem::Go, "github.com/gin-gonic/gin", "v1.5.0")
        )
        .is_empty()
    );
}

#[test]
fn full_databases_scan_without_panics() {
    let mut index = Index::new();
    for db in ["crates.io", "Go", "PyPI"] {
        for f in read_osv_directory(&common::data().join(db))
            .unwrap()
            .advisories
        {
            index.insert(f.advisory, db, Some(f.digest));
        }
    }
    // Every package named in the databases, at a few awkward versions.
    let mut packages = Vec::new();
    let all: Vec<Advisory> = index.advisories().cloned().collect();
    for a in all.iter().step_by(25) {
        for affected in &a.affected {
            let Some(p) = &affected.package else { continue };
            for v in ["0", "0.0.0-0", "1.0.0", "v2.3.4", "garbage", ""] {
                packages.push(PackageRef::new(p.ecosystem(), &p.name, v));
            }
        }
    }
    let findings = index.scan(&packages, &MatchOptions::default());
    assert!(findings.iter().any(|f| f.is_affected()));
    assert!(findings.iter().any(|f| !f.is_affected()));
}

#[test]
fn findings_serialise_to_plain_json() {
    // RUSTSEC-2016-0001 against openssl 0.8.3, and GO-2020-0001 against an
    // unparsable version: the JSON a scanner would print.
    let index = index_of(&["crates.io/RUSTSEC-2016-0001.json", "Go/GO-2020-0001.json"]);
    let pkgs = [
        PackageRef::new(Ecosystem::CratesIo, "openssl", "0.8.3")
            .with_purl("pkg:cargo/openssl@0.8.3"),
        PackageRef::new(Ecosystem::Go, "github.com/gin-gonic/gin", "master"),
    ];
    let json = serde_json::to_value(index.scan(&pkgs, &MatchOptions::default())).unwrap();
    let v = &json[0];
    assert_eq!(v["id"], "RUSTSEC-2016-0001");
    assert_eq!(v["kind"], "vulnerability");
    assert_eq!(v["status"], "affected");
    assert_eq!(v["package"]["ecosystem"], "crates.io");
    assert_eq!(v["package"]["purl"], "pkg:cargo/openssl@0.8.3");
    assert_eq!(v["severity"]["score"]["rating"], "high");
    assert_eq!(v["smallest_fix"], "0.9.0");
    assert_eq!(v["advisories"][0]["source"], "crates.io");
    let u = &json[1];
    assert_eq!(u["status"], "unknown");
    assert_eq!(u["reason"]["kind"], "unparsable_package_version");
    assert_eq!(u["reason"]["version"], "master");
}

#[test]
fn the_index_can_be_shared_across_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<Index>();
    // Concurrent first use of the lazily compiled entries.
    let index = index_of(&["Go/GO-2022-0515.json", "crates.io/RUSTSEC-2016-0001.json"]);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                let f = scan(&index, PackageRef::new(Ecosystem::Go, "stdlib", "go1.17.5"));
                assert_eq!(f[0].smallest_fix.as_deref(), Some("1.17.12"));
            });
        }
    });
}

#[test]
fn packages_from_purls() {
    let cases = [
        (
            "pkg:cargo/openssl@0.8.3",
            Ecosystem::CratesIo,
            "openssl",
            "0.8.3",
        ),
        (
            "pkg:golang/github.com/gin-gonic/gin@v1.5.0",
            Ecosystem::Go,
            "github.com/gin-gonic/gin",
            "v1.5.0",
        ),
        (
            "pkg:npm/%40angular/core@1.0.0",
            Ecosystem::Npm,
            "@angular/core",
            "1.0.0",
        ),
        (
            "pkg:pypi/apache-skywalking@1.0.0",
            Ecosystem::PyPI,
            "apache-skywalking",
            "1.0.0",
        ),
        (
            "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1",
            Ecosystem::Maven,
            "org.apache.logging.log4j:log4j-core",
            "2.14.1",
        ),
        (
            "pkg:composer/laravel/framework@8.0.0",
            Ecosystem::Packagist,
            "laravel/framework",
            "8.0.0",
        ),
        ("pkg:gem/rails@7.0.0", Ecosystem::RubyGems, "rails", "7.0.0"),
        (
            "pkg:deb/debian/openssl@3.0.11-1?arch=amd64",
            Ecosystem::Debian,
            "openssl",
            "3.0.11-1",
        ),
    ];
    for (purl, eco, name, version) in cases {
        let p = PackageRef::from_purl(purl).unwrap();
        assert_eq!(
            (p.ecosystem, p.name.as_str(), p.version.as_str()),
            (eco, name, version),
            "{purl}"
        );
        assert_eq!(p.purl.as_deref(), Some(purl));
    }
    // A purl feeds the matcher directly: GO-2020-0001 through its purl.
    let index = index_of(&["Go/GO-2020-0001.json"]);
    let pkg = PackageRef::from_purl("pkg:golang/github.com/gin-gonic/gin@v1.5.0").unwrap();
    assert_eq!(scan(&index, pkg).len(), 1);

    assert!(matches!(
        PackageRef::from_purl("not a purl"),
        Err(custody_vuln::Error::InvalidPurl { .. })
    ));
    assert!(matches!(
        PackageRef::from_purl("pkg:cargo/openssl"),
        Err(custody_vuln::Error::PurlWithoutVersion { .. })
    ));
    assert!(matches!(
        PackageRef::from_purl("pkg:docker/library/nginx@1.25"),
        Err(custody_vuln::Error::UnsupportedPurlType { .. })
    ));
}
