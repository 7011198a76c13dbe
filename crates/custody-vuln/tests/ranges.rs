//! Step 3: OSV range evaluation, one rule per test, each on a real advisory
//! from `testdata/advisories` (named in the test).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

mod common;

use custody_vuln::{Advisory, Event, UnknownReason, Verdict};

fn verdict(a: &Advisory, package: &str, version: &str) -> Verdict {
    let affected: Vec<_> = a
        .affected
        .iter()
        .filter(|x| x.package.as_ref().is_some_and(|p| p.name == package))
        .collect();
    assert!(!affected.is_empty(), "{} has no entry for {package}", a.id);
    let verdicts: Vec<Verdict> = affected.iter().map(|x| x.evaluate(version)).collect();
    verdicts
        .iter()
        .find(|v| **v == Verdict::Affected)
        .or_else(|| {
            verdicts
                .iter()
                .find(|v| matches!(v, Verdict::Unknown { .. }))
        })
        .cloned()
        .unwrap_or(Verdict::NotAffected)
}

fn affected(a: &Advisory, package: &str, version: &str) -> bool {
    match verdict(a, package, version) {
        Verdict::Affected => true,
        Verdict::NotAffected => false,
        Verdict::Unknown { reason } => panic!("{} {package}@{version}: unknown: {reason:?}", a.id),
    }
}

#[test]
fn events_are_sorted_by_version_before_evaluation() {
    // PYSEC-2024-36 (ansible-core) lists its events newest branch first:
    // [2.16.0, 2.16.3) [2.15.0, 2.15.9) [0, 2.14.4). Read in file order,
    // 2.16.1 would end "not affected" after the last `fixed: 2.14.4`.
    let a = common::advisory("PyPI/vulns/ansible-core/PYSEC-2024-36.yaml");
    let events = &a.affected[0].ranges[0].events;
    assert_eq!(events[0], Event::Introduced("2.16.0".into()));
    assert!(affected(&a, "ansible-core", "2.16.1"));
    assert!(affected(&a, "ansible-core", "2.15.8"));
    assert!(affected(&a, "ansible-core", "2.14.3"));
    assert!(!affected(&a, "ansible-core", "2.14.4"));
    assert!(!affected(&a, "ansible-core", "2.15.9"));
    assert!(!affected(&a, "ansible-core", "2.16.3"));
    // Shuffling the events changes nothing.
    let mut shuffled = a.clone();
    shuffled.affected[0].ranges[0].events.reverse();
    for v in ["2.14.3", "2.14.4", "2.15.0", "2.15.9", "2.16.1", "2.16.3"] {
        assert_eq!(
            verdict(&a, "ansible-core", v),
            verdict(&shuffled, "ansible-core", v),
            "{v}"
        );
    }
}

#[test]
fn introduced_zero_means_from_the_beginning() {
    // GO-2020-0001: gin, introduced "0", fixed 1.6.0.
    let a = common::advisory("Go/GO-2020-0001.json");
    assert!(affected(&a, "github.com/gin-gonic/gin", "0.0.1"));
    assert!(affected(
        &a,
        "github.com/gin-gonic/gin",
        "v0.0.0-20140101000000-aaaaaaaaaaaa"
    ));
}

#[test]
fn fixed_is_exclusive() {
    // GO-2020-0001: 1.6.0 is the fix, 1.5.x is not.
    let a = common::advisory("Go/GO-2020-0001.json");
    assert!(affected(&a, "github.com/gin-gonic/gin", "v1.5.9"));
    assert!(!affected(&a, "github.com/gin-gonic/gin", "v1.6.0"));
    assert!(!affected(&a, "github.com/gin-gonic/gin", "1.6.0"));
    // A pre-release of the fix is still before the fix.
    assert!(affected(&a, "github.com/gin-gonic/gin", "v1.6.0-rc.1"));
}

#[test]
fn last_affected_is_inclusive() {
    // PYSEC-2022-42969: py, introduced 0, last_affected 1.11.0.
    let a = common::advisory("PyPI/vulns/py/PYSEC-2022-42969.yaml");
    assert!(affected(&a, "py", "1.11.0"));
    assert!(affected(&a, "py", "1.11"));
    assert!(!affected(&a, "py", "1.11.1"));
    assert!(!affected(&a, "py", "1.12.0"));
}

#[test]
fn limit_bounds_the_range() {
    // No advisory in the snapshots uses `limit` (OSV advises against it outside GIT);
    // RUSTSEC-2016-0001 (openssl, fixed 0.9.0) with its `fixed` replaced by
    // `limit: 0.9.0` must evaluate the same, and an extra limit below the
    // fix must cut the range there.
    let mut a = common::advisory("crates.io/RUSTSEC-2016-0001.json");
    assert!(affected(&a, "openssl", "0.8.3"));
    a.affected[0].ranges[0].events = vec![
        Event::Introduced("0.0.0-0".into()),
        Event::Limit("0.9.0".into()),
    ];
    assert!(affected(&a, "openssl", "0.8.3"));
    assert!(!affected(&a, "openssl", "0.9.0"));
    a.affected[0].ranges[0]
        .events
        .push(Event::Limit("0.7.0".into()));
    // BeforeLimits: v below *any* limit is in scope.
    assert!(affected(&a, "openssl", "0.8.3"));
    a.affected[0].ranges[0].events = vec![
        Event::Introduced("0.0.0-0".into()),
        Event::Limit("0.7.0".into()),
    ];
    assert!(affected(&a, "openssl", "0.6.0"));
    assert!(!affected(&a, "openssl", "0.8.3"));
}

#[test]
fn versions_list_also_counts() {
    // PYSEC-2023-177: gevent, range [0, 23.9.0), yet its `versions` list
    // includes 23.9.0 itself. OSV: affected if in any range OR listed.
    let a = common::advisory("PyPI/vulns/gevent/PYSEC-2023-177.yaml");
    assert!(a.affected[0].versions.iter().any(|v| v == "23.9.0"));
    assert!(affected(&a, "gevent", "23.9.0"));
    assert!(!affected(&a, "gevent", "23.9.1"));
    // Listed versions match by value under PEP 440, not only by spelling.
    assert!(affected(&a, "gevent", "23.9.0.0"));
}

#[test]
fn git_ranges_are_never_compared_with_versions() {
    // PYSEC-2022-42969 (py) has only an ECOSYSTEM range; PYSEC-2021-335
    // (accesscontrol) has GIT ranges of commit hashes beside ECOSYSTEM ones.
    let a = common::advisory("PyPI/vulns/accesscontrol/PYSEC-2021-335.yaml");
    let git = a.affected[0]
        .ranges
        .iter()
        .find(|r| r.kind == custody_vuln::RangeKind::Git)
        .expect("a GIT range");
    let commit = git.events.iter().find_map(|e| match e {
        Event::Fixed(c) => Some(c.clone()),
        _ => None,
    });
    // The GIT range alone says nothing about a version string...
    let mut git_only = a.clone();
    git_only.affected[0]
        .ranges
        .retain(|r| r.kind == custody_vuln::RangeKind::Git);
    git_only.affected[0].versions.clear();
    assert_eq!(
        verdict(&git_only, "accesscontrol", "4.2"),
        Verdict::Unknown {
            reason: UnknownReason::OnlyGitRanges
        }
    );
    // ...not even a "version" that happens to be the fixing commit.
    if let Some(commit) = commit {
        assert!(matches!(
            verdict(&git_only, "accesscontrol", &commit),
            Verdict::Unknown { .. }
        ));
    }
    // With the ECOSYSTEM range kept, the verdict comes from it alone.
    let fixed_in_ecosystem = a.affected[0]
        .ranges
        .iter()
        .filter(|r| r.kind == custody_vuln::RangeKind::Ecosystem)
        .flat_map(|r| r.events.iter())
        .find_map(|e| match e {
            Event::Fixed(v) => Some(v.clone()),
            _ => None,
        })
        .expect("an ECOSYSTEM fix");
    assert!(!affected(&a, "accesscontrol", &fixed_in_ecosystem));
}

#[test]
fn semver_prereleases_in_rustsec_ranges() {
    // RUSTSEC-2022-0069 (windows-only crate, events up to fixed
    // 0.10.0-alpha.2 after introduced 0.10.0-0): pre-releases are ordered.
    let a = common::advisory("crates.io/RUSTSEC-2022-0069.json");
    let name = a.affected[0].package.as_ref().unwrap().name.clone();
    assert!(affected(&a, &name, "0.9.1"));
    assert!(!affected(&a, &name, "0.9.2"));
    assert!(affected(&a, &name, "0.10.0-alpha.1"));
    assert!(!affected(&a, &name, "0.10.0-alpha.2"));
    assert!(!affected(&a, &name, "0.10.0"));
}

#[test]
fn go_stdlib_with_toolchain_spellings() {
    // GO-2022-0515: stdlib, [0, 1.17.12) and [1.18.0-0, 1.18.4).
    let a = common::advisory("Go/GO-2022-0515.json");
    assert!(affected(&a, "stdlib", "go1.17.11"));
    assert!(!affected(&a, "stdlib", "go1.17.12"));
    assert!(affected(&a, "stdlib", "go1.18rc1"));
    assert!(affected(&a, "stdlib", "1.18.3"));
    assert!(!affected(&a, "stdlib", "v1.18.4"));
    assert!(!affected(&a, "stdlib", "go1.19"));
}

#[test]
fn go_pseudo_versions() {
    // GO-2020-0004: fixed at pseudo-version 0.0.0-20200131131040-063a3fb69896.
    let a = common::advisory("Go/GO-2020-0004.json");
    let name = a.affected[0].package.as_ref().unwrap().name.clone();
    assert!(affected(&a, &name, "v0.0.0-20191231000000-aaaaaaaaaaaa"));
    assert!(!affected(&a, &name, "v0.0.0-20200131131040-063a3fb69896"));
    assert!(!affected(&a, &name, "v0.0.0-20210101000000-bbbbbbbbbbbb"));
}

#[test]
fn unparsable_scanned_version_is_unknown_not_unaffected() {
    // GO-2020-0001 and PYSEC-2022-42969 with versions their schemes reject.
    let go = common::advisory("Go/GO-2020-0001.json");
    assert!(matches!(
        verdict(&go, "github.com/gin-gonic/gin", "master"),
        Verdict::Unknown {
            reason: UnknownReason::UnparsablePackageVersion { .. }
        }
    ));
    let py = common::advisory("PyPI/vulns/py/PYSEC-2022-42969.yaml");
    assert!(matches!(
        verdict(&py, "py", "1.0-not-pep440!"),
        Verdict::Unknown {
            reason: UnknownReason::UnparsablePackageVersion { .. }
        }
    ));
}

#[test]
fn unparsable_range_version_is_unknown() {
    // RUSTSEC-2016-0001 with its fix spelled in a way SemVer rejects.
    let mut a = common::advisory("crates.io/RUSTSEC-2016-0001.json");
    a.affected[0].ranges[0].events[1] = Event::Fixed("0.9".into());
    assert!(matches!(
        verdict(&a, "openssl", "0.8.0"),
        Verdict::Unknown {
            reason: UnknownReason::UnparsableRangeVersion { .. }
        }
    ));
}

#[test]
fn range_without_introduced_is_unknown() {
    // RUSTSEC-2016-0001 with its `introduced` event removed.
    let mut a = common::advisory("crates.io/RUSTSEC-2016-0001.json");
    a.affected[0].ranges[0].events.remove(0);
    assert_eq!(
        verdict(&a, "openssl", "0.8.0"),
        Verdict::Unknown {
            reason: UnknownReason::RangeWithoutIntroduced
        }
    );
}

#[test]
fn unknown_range_type_and_ecosystem_are_unknown() {
    // GO-2020-0001 re-typed: an unknown range type, then an unknown ecosystem.
    let mut a = common::advisory("Go/GO-2020-0001.json");
    a.affected[0].ranges[0].kind = custody_vuln::RangeKind::Other("NUMERIC".into());
    assert!(matches!(
        verdict(&a, "github.com/gin-gonic/gin", "1.0.0"),
        Verdict::Unknown {
            reason: UnknownReason::UnsupportedRangeType { .. }
        }
    ));
    let mut b = common::advisory("Go/GO-2020-0001.json");
    b.affected[0].ranges[0].kind = custody_vuln::RangeKind::Ecosystem;
    b.affected[0].package.as_mut().unwrap().ecosystem = "Hex".into();
    assert!(matches!(
        verdict(&b, "github.com/gin-gonic/gin", "1.0.0"),
        Verdict::Unknown {
            reason: UnknownReason::UnsupportedEcosystem { .. }
        }
    ));
}

#[test]
fn unparsable_version_against_a_versions_list_is_unknown() {
    // PYSEC-2020-342 (apache-skywalking) lists ten versions. A version that
    // is not PEP 440 cannot be compared with them by value: unknown, even
    // though its text is not in the list.
    let a = common::advisory("PyPI/vulns/apache-skywalking/PYSEC-2020-342.yaml");
    let mut listed_only = a.clone();
    listed_only.affected[0].ranges.clear();
    assert!(matches!(
        verdict(
            &listed_only,
            "apache-skywalking",
            "1.0.1-this is not pep440"
        ),
        Verdict::Unknown {
            reason: UnknownReason::UnparsablePackageVersion { .. }
        }
    ));
    // Parsable versions are decided by the list: 1.0.1 listed, 1.0.2 not.
    assert!(affected(&listed_only, "apache-skywalking", "1.0.1"));
    assert!(!affected(&listed_only, "apache-skywalking", "1.0.2"));
}
