//! Step 5: the RustSec database in cargo-audit's layout reads into the same
//! OSV advisories RustSec's own OSV export publishes.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

mod common;

use std::collections::HashMap;

use custody_vuln::import::read_osv_directory;
use custody_vuln::rustsec::{parse_rustsec, read_rustsec_directory};
use custody_vuln::{
    Advisory, Ecosystem, Error, Event, FindingKind, Index, MatchOptions, PackageRef, Verdict,
};

#[test]
fn one_advisory_reads_with_its_fields() {
    let path = common::data().join("rustsec-advisory-db/crates/abi_stable/RUSTSEC-2020-0105.md");
    let text = std::fs::read_to_string(&path).unwrap();
    let a = parse_rustsec(&text, &path).unwrap();
    assert_eq!(a.id, "RUSTSEC-2020-0105");
    assert_eq!(a.aliases.len(), 4);
    assert_eq!(
        a.summary.as_deref(),
        Some("Update unsound DrainFilter and RString::retain")
    );
    assert_eq!(
        a.severity[0].score,
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"
    );
    assert_eq!(
        a.affected[0].ranges[0].events,
        [Event::Introduced("0".into()), Event::Fixed("0.9.1".into())]
    );
    assert_eq!(a.affected[0].evaluate("0.9.0"), Verdict::Affected);
    assert_eq!(a.affected[0].evaluate("0.9.1"), Verdict::NotAffected);
}

#[test]
fn malformed_front_matter_is_an_error_naming_the_file() {
    let path = common::data().join("rustsec-advisory-db/crates/abi_stable/RUSTSEC-2020-0105.md");
    let text = std::fs::read_to_string(&path).unwrap();
    let broken = text.replace(
        "patched = [\">= 0.9.1\"]",
        "patched = [\">= not a version\"]",
    );
    let err = parse_rustsec(&broken, &path).unwrap_err();
    assert!(matches!(err, Error::MalformedRustSec { .. }));
    assert!(err.to_string().contains("RUSTSEC-2020-0105.md"), "{err}");
    assert!(parse_rustsec("no front matter", &path).is_err());
}

/// Found by `scripts/fuzz.sh` (target `rustsec_md`): text that does not open with ```` ```toml
/// ```` and has a multi-byte character across byte 20 made the `rustsec` crate panic while
/// quoting the first 20 bytes in its error.
#[test]
fn fuzz_regression_rustsec_md_character_across_byte_twenty() {
    let path = std::path::Path::new("fuzz.md");
    // Nineteen ASCII bytes, then a byte-order mark at bytes 19..22 (the fuzzer's input).
    let text = "```\u{1}\0\0\0\0\0\0\u{1}visxry]\n\u{feff}'= \"RUS/rust-m0\"\n```toml\n\
                [advisory]\nid = \"RUSTSEC-1012-0s4\"\n```\n\n# title\n";
    assert!(!text.is_char_boundary(20));
    let err = parse_rustsec(text, path).unwrap_err();
    assert!(
        matches!(err, Error::RustSecWithoutFrontMatter { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("fuzz.md"), "{err}");
}

#[test]
fn directory_import_skips_bad_files() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("crates/abi_stable");
    std::fs::create_dir_all(&good).unwrap();
    std::fs::copy(
        common::data().join("rustsec-advisory-db/crates/abi_stable/RUSTSEC-2020-0105.md"),
        good.join("RUSTSEC-2020-0105.md"),
    )
    .unwrap();
    std::fs::write(
        good.join("RUSTSEC-2099-0001.md"),
        "```toml\n[advisory]\nid = 3\n```\n# x\n",
    )
    .unwrap();
    std::fs::write(good.join("RUSTSEC-0000-0000.md"), "draft").unwrap();
    let import = read_rustsec_directory(dir.path()).unwrap();
    assert_eq!(import.advisories.len(), 1);
    assert_eq!(import.skipped.len(), 1, "{:?}", import.skipped);
    assert!(
        import.skipped[0]
            .to_string()
            .contains("RUSTSEC-2099-0001.md")
    );
    assert!(matches!(
        read_rustsec_directory(&common::data().join("Go")),
        Err(Error::UnexpectedLayout { .. })
    ));
}

/// Every version an advisory's events name, plus neighbours, for comparing
/// two encodings of one advisory by behaviour rather than by spelling.
fn probe_versions(a: &Advisory) -> Vec<String> {
    let mut out = vec!["0.0.0".to_owned(), "0.0.1".to_owned(), "99.0.0".to_owned()];
    for range in a.affected.iter().flat_map(|x| x.ranges.iter()) {
        for e in &range.events {
            if let Ok(v) = semver::Version::parse(e.value()) {
                out.push(v.to_string());
                out.push(format!("{}.{}.{}", v.major, v.minor, v.patch + 1));
                if v.patch > 0 {
                    out.push(format!("{}.{}.{}", v.major, v.minor, v.patch - 1));
                }
                out.push(format!("{}.{}.{}-alpha.1", v.major, v.minor, v.patch));
            }
        }
    }
    out
}

#[test]
fn markdown_database_agrees_with_rustsec_osv_export() {
    let md = read_rustsec_directory(&common::data().join("rustsec-advisory-db")).unwrap();
    assert!(md.skipped.is_empty(), "{:?}", md.skipped.first());
    assert_eq!(
        md.advisories.len(),
        common::files("rustsec-advisory-db/crates")
    );
    let osv: HashMap<String, Advisory> = read_osv_directory(&common::data().join("crates.io"))
        .unwrap()
        .advisories
        .into_iter()
        .map(|f| (f.advisory.id.clone(), f.advisory))
        .collect();
    let mut compared = 0;
    let mut disagreements = Vec::new();
    for f in &md.advisories {
        let ours = &f.advisory;
        let Some(theirs) = osv.get(&ours.id) else {
            continue;
        };
        compared += 1;
        let mut a1 = ours.aliases.clone();
        let mut a2 = theirs.aliases.clone();
        a1.sort();
        a2.sort();
        if a1 != a2
            || ours.is_withdrawn() != theirs.is_withdrawn()
            || ours.informational() != theirs.informational()
        {
            disagreements.push(format!("{}: metadata", ours.id));
            continue;
        }
        let name = &ours.affected[0].package.as_ref().unwrap().name;
        for v in probe_versions(ours)
            .iter()
            .chain(probe_versions(theirs).iter())
        {
            let x = ours.affected[0].evaluate(v);
            let y = theirs
                .affected
                .iter()
                .find(|a| a.package.as_ref().is_some_and(|p| &p.name == name))
                .unwrap()
                .evaluate(v);
            if x != y {
                disagreements.push(format!("{} @ {v}: md {x:?}, osv {y:?}", ours.id));
                break;
            }
        }
    }
    assert_eq!(
        compared,
        md.advisories.len(),
        "every advisory is in both formats"
    );
    assert!(
        disagreements.is_empty(),
        "{} of {compared}: {disagreements:#?}",
        disagreements.len()
    );
}

#[test]
fn rustsec_database_feeds_the_matcher() {
    let import = read_rustsec_directory(&common::data().join("rustsec-advisory-db")).unwrap();
    let mut index = Index::new();
    for f in import.advisories {
        index.insert(f.advisory, "rustsec", Some(f.digest));
    }
    let opts = MatchOptions::default();
    let vulns = index.scan(
        &[PackageRef::new(Ecosystem::CratesIo, "abi_stable", "0.9.0")],
        &opts,
    );
    assert!(
        vulns
            .iter()
            .any(|f| f.advisories.iter().any(|a| a.id == "RUSTSEC-2020-0105"))
    );
    // RUSTSEC-2020-0036: failure is unmaintained: a warning.
    let warnings = index.scan(
        &[PackageRef::new(Ecosystem::CratesIo, "failure", "0.1.8")],
        &opts,
    );
    assert!(warnings.iter().any(|f| f.kind
        == FindingKind::Warning {
            informational: "unmaintained".into()
        }
        || f.advisories.iter().any(|a| a.id == "RUSTSEC-2020-0036")));
}
