//! What the fuzz targets check, run on stable over deterministic inputs
//! derived from the real databases: parsers never panic on truncated or
//! mutated input, and every scheme's order is a consistent total order.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

mod common;

use std::cmp::Ordering;

use custody_vuln::import::read_osv_directory;
use custody_vuln::osv::Format;
use custody_vuln::rustsec::parse_rustsec;
use custody_vuln::{Advisory, Event, VersionScheme};

#[test]
fn truncated_advisories_never_panic() {
    for (rel, format) in [
        ("Go/GO-2022-0515.json", Format::Json),
        ("crates.io/RUSTSEC-2016-0001.json", Format::Json),
        ("PyPI/vulns/py/PYSEC-2022-42969.yaml", Format::Yaml),
    ] {
        let bytes = common::bytes(rel);
        for cut in 0..bytes.len() {
            let _ = Advisory::parse(&bytes[..cut], format, rel);
        }
        // Byte flips through the file.
        for i in (0..bytes.len()).step_by(7) {
            let mut b = bytes.clone();
            b[i] ^= 0x5a;
            if let Ok(a) = Advisory::parse(&b, format, rel) {
                for affected in &a.affected {
                    let _ = affected.evaluate("1.0.0");
                }
            }
        }
    }
    let path = common::data().join("rustsec-advisory-db/crates/abi_stable/RUSTSEC-2020-0105.md");
    let text = std::fs::read_to_string(&path).unwrap();
    for cut in (0..text.len()).filter(|c| text.is_char_boundary(*c)) {
        let _ = parse_rustsec(&text[..cut], &path);
    }
}

/// Version strings of one scheme: every event and listed version in the
/// databases that use it, plus hand-picked edge cases.
fn corpus(db: &str, extra: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = extra.iter().map(|s| (*s).to_owned()).collect();
    for f in read_osv_directory(&common::data().join(db))
        .unwrap()
        .advisories
        .iter()
        .step_by(9)
    {
        for a in &f.advisory.affected {
            for r in a
                .ranges
                .iter()
                .filter(|r| r.kind != custody_vuln::RangeKind::Git)
            {
                out.extend(
                    r.events
                        .iter()
                        .map(Event::value)
                        .filter(|v| *v != "0")
                        .map(str::to_owned),
                );
            }
            out.extend(a.versions.iter().take(5).cloned());
        }
    }
    out.sort();
    out.dedup();
    out
}

fn check_total_order(scheme: VersionScheme, inputs: &[String]) {
    let parsed: Vec<_> = inputs.iter().filter_map(|s| scheme.parse(s).ok()).collect();
    assert!(parsed.len() > 10, "{scheme}: too few parse");
    // Sorting then checking neighbours and a sample of triples.
    let mut sorted = parsed.clone();
    sorted.sort_by(|a, b| a.compare(b).unwrap());
    for w in sorted.windows(2) {
        assert_ne!(
            w[0].compare(&w[1]),
            Some(Ordering::Greater),
            "{scheme}: {} > {}",
            w[0],
            w[1]
        );
        assert_eq!(
            w[0].compare(&w[1]).map(Ordering::reverse),
            w[1].compare(&w[0])
        );
    }
    let n = sorted.len();
    let step = (n / 60).max(1);
    for i in (0..n).step_by(step) {
        for j in (i..n).step_by(step) {
            // Everything sorted later must not be smaller.
            assert_ne!(
                sorted[i].compare(&sorted[j]),
                Some(Ordering::Greater),
                "{scheme}: {} sorted before {} but is greater",
                sorted[i],
                sorted[j]
            );
        }
    }
}

#[test]
fn semver_go_and_pep440_orders_are_total_on_real_versions() {
    check_total_order(
        VersionScheme::SemVer,
        &corpus("crates.io", &["0.0.0-0", "1.0.0-alpha", "1.0.0"]),
    );
    check_total_order(
        VersionScheme::Go,
        &corpus("Go", &["v1.0.0+incompatible", "go1.21rc2", "1.21"]),
    );
    check_total_order(
        VersionScheme::Pep440,
        &corpus("PyPI", &["1!0.1", "1.0.post1.dev2", "1.0rc1"]),
    );
}

const HAND_PICKED: [&str; 40] = [
    "0",
    "0.1",
    "1",
    "1.0",
    "1.0.0",
    "1.0.0.0",
    "1-0",
    "1-1",
    "1.1",
    "1-a1",
    "1-alpha",
    "1-alpha-2",
    "1.0-beta",
    "1.0-rc1",
    "1.0-RC2",
    "1.0-SNAPSHOT",
    "1.0-sp",
    "1.0-sp1",
    "1.0-ga",
    "1.0-final",
    "1.0.a",
    "1.0.b1",
    "1.0.pre.1",
    "1.0-dev",
    "1.0-beta2-dev",
    "1.0-patch1",
    "1.0-pl2",
    "1.2.3.4",
    "2.0.0.1",
    "1:1.0",
    "1.0~rc1",
    "1.0+dfsg-1",
    "1.0-1ubuntu1",
    "1.0~~",
    "10.0",
    "9.99",
    "1.0-xyz",
    "1.0.xyz",
    "1-1.1",
    "1.1-1",
];

#[test]
fn handwritten_orders_are_total() {
    let extra: Vec<String> = HAND_PICKED
        .iter()
        .map(|s| (*s).to_owned())
        .chain((0..200).map(|i| format!("{}.{}.{}", i % 7, (i * 3) % 11, i % 4)))
        .chain((0..100).map(|i| {
            format!(
                "{}.{}-{}{}",
                i % 3,
                i % 5,
                ["alpha", "beta", "rc", "sp", "x"][i % 5],
                i % 3
            )
        }))
        .collect();
    for scheme in [
        VersionScheme::RubyGems,
        VersionScheme::Maven,
        VersionScheme::Composer,
        VersionScheme::Dpkg,
    ] {
        let parsed: Vec<_> = extra.iter().filter_map(|s| scheme.parse(s).ok()).collect();
        // All triples on the small hand-picked set, sampled on the rest.
        for a in parsed.iter().take(60) {
            for b in parsed.iter().take(60) {
                let ab = a.compare(b).unwrap();
                assert_eq!(ab.reverse(), b.compare(a).unwrap(), "{scheme}: {a} vs {b}");
                if !scheme.is_total_order() {
                    continue;
                }
                for c in parsed.iter().take(60) {
                    if ab != Ordering::Greater && b.compare(c).unwrap() != Ordering::Greater {
                        assert_ne!(
                            a.compare(c).unwrap(),
                            Ordering::Greater,
                            "{scheme}: {a} <= {b} <= {c} but {a} > {c}"
                        );
                    }
                }
            }
        }
        if scheme.is_total_order() {
            check_total_order(scheme, &extra);
        }
    }
}

#[test]
fn maven_order_cycle_does_not_panic_sorting_or_matching() {
    // By the published padding rules 1-1 < 1.0.b1 < 1 < 1-1: not an order.
    let p = |s: &str| VersionScheme::Maven.parse(s).unwrap();
    assert_eq!(p("1-1").compare(&p("1.0.b1")), Some(Ordering::Less));
    assert_eq!(p("1.0.b1").compare(&p("1")), Some(Ordering::Less));
    assert_eq!(p("1").compare(&p("1-1")), Some(Ordering::Less));
    // An advisory built on that cycle, with a long hostile versions list:
    // evaluation completes and the listed version is still found.
    let mut versions: Vec<String> = Vec::new();
    for i in 0..300 {
        versions.extend(["1-1", "1.0.b1", "1"].iter().map(|v| format!("{v}.{i}")));
    }
    versions.push("1.0.b1".into());
    let json = serde_json::json!({
        "id": "MAVEN-CYCLE",
        "affected": [{
            "package": {"ecosystem": "Maven", "name": "g:a"},
            "ranges": [{"type": "ECOSYSTEM", "events": [
                {"introduced": "1-1"}, {"fixed": "1"}, {"introduced": "1.0.b1"}, {"fixed": "1-1"}
            ]}],
            "versions": versions,
        }]
    });
    let a = Advisory::from_json(json.to_string().as_bytes(), "cycle").unwrap();
    assert_eq!(
        a.affected[0].evaluate("1.0.b1"),
        custody_vuln::Verdict::Affected
    );
    let _ = a.affected[0].evaluate("2.0");
}

#[test]
fn mutated_versions_never_panic() {
    let seeds = [
        "1.2.3",
        "1:2.30-1~deb11u1",
        "v0.0.0-20200131131040-063a3fb69896",
        "1.0rc1",
        "1.0-SNAPSHOT",
        "1.0.0-beta2-dev",
    ];
    let noise = [
        '~', '-', '+', '.', ':', '!', 'a', '0', '9', '_', '*', ' ', 'é', '\u{0}',
    ];
    for seed in seeds {
        for i in 0..=seed.len() {
            for c in noise {
                let mut s = seed.to_owned();
                if s.is_char_boundary(i) {
                    s.insert(i, c);
                }
                for scheme in [
                    VersionScheme::SemVer,
                    VersionScheme::Go,
                    VersionScheme::Pep440,
                    VersionScheme::RubyGems,
                    VersionScheme::Maven,
                    VersionScheme::Composer,
                    VersionScheme::Dpkg,
                ] {
                    if let Ok(v) = scheme.parse(&s) {
                        assert_eq!(v.compare(&v), Some(Ordering::Equal), "{scheme}: {s}");
                    }
                }
            }
        }
    }
}
