//! Step 1: OSV JSON and YAML parse into the spec's nouns; malformed input is
//! an error naming the file and the reason; a directory import reports and
//! skips bad files and imports the rest.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

mod common;

use custody_vuln::import::read_osv_directory;
use custody_vuln::osv::{Format, MAX_ADVISORY_BYTES};
use custody_vuln::{Advisory, Ecosystem, Error, Event, RangeKind};

#[test]
fn rustsec_osv_json_parses() {
    let a = common::advisory("crates.io/RUSTSEC-2016-0001.json");
    assert_eq!(a.id, "RUSTSEC-2016-0001");
    assert_eq!(a.aliases, ["CVE-2016-10931", "GHSA-34p9-f4q3-c4r7"]);
    assert_eq!(a.severity[0].kind, "CVSS_V3");
    let affected = &a.affected[0];
    let package = affected.package.as_ref().unwrap();
    assert_eq!(package.ecosystem(), Ecosystem::CratesIo);
    assert_eq!(package.name, "openssl");
    assert_eq!(affected.ranges[0].kind, RangeKind::SemVer);
    assert_eq!(
        affected.ranges[0].events,
        [
            Event::Introduced("0.0.0-0".into()),
            Event::Fixed("0.9.0".into())
        ]
    );
    // `"informational": null` is not informational.
    assert_eq!(a.informational(), None);
}

#[test]
fn go_json_parses_with_its_zero_modified_date() {
    let a = common::advisory("Go/GO-2020-0001.json");
    assert_eq!(a.modified.as_deref(), Some("0001-01-01T00:00:00Z"));
    assert_eq!(a.schema_version.as_deref(), Some("1.3.1"));
    assert_eq!(
        a.affected[0].package.as_ref().unwrap().ecosystem(),
        Ecosystem::Go
    );
}

#[test]
fn pypa_yaml_parses() {
    let a = common::advisory("PyPI/vulns/apache-skywalking/PYSEC-2020-342.yaml");
    assert_eq!(a.id, "PYSEC-2020-342");
    assert_eq!(a.affected[0].versions.len(), 10);
    assert_eq!(a.affected[0].versions[0], "0.1.0");
    let git = common::advisory("PyPI/vulns/py/PYSEC-2022-42969.yaml");
    assert_eq!(
        git.affected[0].ranges[0].events[1],
        Event::LastAffected("1.11.0".into())
    );
}

#[test]
fn yaml_numbers_in_version_lists_stay_text() {
    // YAML would read `1.10` as the float 1.1; versions are text.
    let yaml = b"id: PYSEC-TEST-1\naffected:\n- package: {ecosystem: PyPI, name: x}\n  versions:\n  - 1.10\n  - 2\n";
    let a = Advisory::from_yaml(yaml, "inline").unwrap();
    assert_eq!(a.affected[0].versions, ["1.10", "2"]);
}

#[test]
fn informational_rustsec_advisory_is_recognised() {
    let a = common::advisory("crates.io/RUSTSEC-2020-0036.json");
    assert_eq!(a.informational(), Some("unmaintained"));
}

#[test]
fn truncated_json_names_the_file() {
    let bytes = common::bytes("Go/GO-2020-0001.json");
    let err = Advisory::from_json(&bytes[..bytes.len() / 2], "Go/GO-2020-0001.json").unwrap_err();
    assert!(
        matches!(&err, Error::MalformedJson { origin, .. } if origin == "Go/GO-2020-0001.json")
    );
    assert!(err.to_string().contains("GO-2020-0001.json"), "{err}");
}

#[test]
fn event_with_two_keys_is_rejected() {
    let json = br#"{"id":"X-1","affected":[{"package":{"ecosystem":"Go","name":"m"},
        "ranges":[{"type":"SEMVER","events":[{"introduced":"0","fixed":"1.0.0"}]}]}]}"#;
    assert!(matches!(
        Advisory::from_json(json, "x"),
        Err(Error::MalformedJson { .. })
    ));
}

#[test]
fn missing_or_empty_id_is_rejected() {
    assert!(matches!(
        Advisory::from_json(br#"{"affected":[]}"#, "x"),
        Err(Error::MalformedJson { .. })
    ));
    assert!(matches!(
        Advisory::from_json(br#"{"id":" "}"#, "x"),
        Err(Error::EmptyId { .. })
    ));
    assert!(matches!(
        Advisory::from_yaml(b"id: [1, 2]\n", "x"),
        Err(Error::MalformedYaml { .. })
    ));
}

#[test]
fn oversized_advisory_is_refused() {
    let big = vec![b' '; usize::try_from(MAX_ADVISORY_BYTES).unwrap() + 1];
    assert!(matches!(
        Advisory::parse(&big, Format::Json, "big.json"),
        Err(Error::AdvisoryTooLarge { size, limit, .. }) if size == limit + 1
    ));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.json");
    std::fs::write(&path, &big).unwrap();
    assert!(matches!(
        Advisory::read_file(&path),
        Err(Error::AdvisoryTooLarge { .. })
    ));
}

#[test]
fn unknown_extension_is_refused() {
    let path = common::data().join("README.md");
    assert!(matches!(
        Advisory::read_file(&path),
        Err(Error::UnknownFileFormat { .. })
    ));
}

#[test]
fn directory_import_skips_malformed_and_keeps_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("vulns/py");
    std::fs::create_dir_all(&sub).unwrap();
    std::fs::write(
        dir.path().join("GO-2020-0001.json"),
        common::bytes("Go/GO-2020-0001.json"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("RUSTSEC-2016-0001.json"),
        common::bytes("crates.io/RUSTSEC-2016-0001.json"),
    )
    .unwrap();
    std::fs::write(
        sub.join("PYSEC-2022-42969.yaml"),
        common::bytes("PyPI/vulns/py/PYSEC-2022-42969.yaml"),
    )
    .unwrap();
    std::fs::write(dir.path().join("broken.json"), b"{\"id\": \"GO-BROKEN\", ").unwrap();
    std::fs::write(sub.join("broken.yaml"), b"id: [").unwrap();
    std::fs::write(dir.path().join("README.md"), b"not an advisory").unwrap();
    std::fs::write(dir.path().join(".hidden.json"), b"garbage").unwrap();

    let import = read_osv_directory(dir.path()).unwrap();
    let mut ids: Vec<_> = import
        .advisories
        .iter()
        .map(|f| f.advisory.id.as_str())
        .collect();
    ids.sort();
    assert_eq!(
        ids,
        ["GO-2020-0001", "PYSEC-2022-42969", "RUSTSEC-2016-0001"]
    );
    assert_eq!(import.skipped.len(), 2, "{:?}", import.skipped);
    let reasons: Vec<String> = import.skipped.iter().map(ToString::to_string).collect();
    assert!(
        reasons.iter().any(|r| r.contains("broken.json")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("broken.yaml")),
        "{reasons:?}"
    );
    assert!(import.advisories.iter().all(|f| f.digest.len() == 64));
}

#[test]
fn import_of_a_missing_directory_is_an_error() {
    assert!(matches!(
        read_osv_directory(&common::data().join("no-such-dir")),
        Err(Error::Io { .. })
    ));
}

#[test]
fn every_osv_advisory_parses() {
    for db in ["crates.io", "Go", "PyPI"] {
        let import = read_osv_directory(&common::data().join(db)).unwrap();
        assert!(
            import.skipped.is_empty(),
            "{db}: {:?}",
            import.skipped.first()
        );
        assert_eq!(import.advisories.len(), common::files(db), "{db}");
    }
}

#[test]
fn advisories_round_trip_through_json() {
    for rel in [
        "crates.io/RUSTSEC-2016-0001.json",
        "Go/GO-2022-0515.json",
        "PyPI/vulns/py/PYSEC-2022-42969.yaml",
    ] {
        let a = common::advisory(rel);
        let json = serde_json::to_vec(&a).unwrap();
        assert_eq!(Advisory::from_json(&json, rel).unwrap(), a, "{rel}");
    }
}
