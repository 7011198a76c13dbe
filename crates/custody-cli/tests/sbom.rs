//! `custody sbom` over the SBOM crate's real fixtures: formats, files, conversion, bad input.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../custody-sbom/tests/fixtures")
}

fn run(args: &[&str]) -> common::Run {
    common::custody().args(args).output().unwrap().into()
}

#[test]
fn cyclonedx_to_stdout_and_spdx_to_a_file() {
    let dir = fixtures().join("cargo/small");
    let r = run(&["sbom", dir.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    assert_eq!(v["bomFormat"], "CycloneDX");
    assert_eq!(v["specVersion"], "1.6");
    assert!(
        r.stderr.contains("component(s)"),
        "progress goes to stderr: {}",
        r.stderr
    );

    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("sbom.spdx.json");
    let r = run(&[
        "sbom",
        dir.join("Cargo.lock").to_str().unwrap(),
        "-f",
        "spdx",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.is_empty());
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(v["spdxVersion"], "SPDX-2.3");

    // An SBOM converts to the other format with the same components.
    let r = run(&["sbom", out.to_str().unwrap(), "--cyclonedx-version", "1.5"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let cdx = r.json();
    assert_eq!(cdx["specVersion"], "1.5");
    let spdx_packages = v["packages"].as_array().unwrap().len();
    let cdx_components = cdx["components"].as_array().map_or(0, Vec::len)
        + usize::from(cdx["metadata"]["component"].is_object());
    assert_eq!(spdx_packages, cdx_components);
}

#[test]
fn garbage_lockfile_is_an_error_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let lock = tmp.path().join("Cargo.lock");
    std::fs::write(&lock, "[[package]\nname = ").unwrap();
    let r = run(&["sbom", lock.to_str().unwrap()]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("Cargo.lock"), "{}", r.stderr);
    let r = run(&["sbom", tmp.path().join("nothing-here").to_str().unwrap()]);
    assert_eq!(r.code, 2);
    let empty = tempfile::tempdir().unwrap();
    let r = run(&["sbom", empty.path().to_str().unwrap()]);
    assert_eq!(r.code, 2);
}

/// Writes the SBOM of `fixture` in `format` into `dir` and gives its path.
fn sbom_file(dir: &Path, fixture: &str, format: &str) -> PathBuf {
    let out = dir.join(format!("{}.{format}.json", fixture.replace('/', "-")));
    let r = run(&[
        "sbom",
        fixtures().join(fixture).to_str().unwrap(),
        "-f",
        format,
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    out
}

#[test]
fn diff_of_one_project_in_both_formats_is_empty() {
    let tmp = tempfile::tempdir().unwrap();
    let cdx = sbom_file(tmp.path(), "npm/small", "cyclonedx");
    let spdx = sbom_file(tmp.path(), "npm/small", "spdx");
    let r = run(&[
        "sbom",
        "diff",
        cdx.to_str().unwrap(),
        spdx.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout.trim(), "no changes");
    let r = run(&[
        "--json",
        "sbom",
        "diff",
        cdx.to_str().unwrap(),
        spdx.to_str().unwrap(),
    ]);
    let v = r.json();
    assert_eq!(v["added"], serde_json::json!([]));
    assert!(v["unchanged"].as_u64().unwrap() > 5, "{v}");
}

#[test]
fn diff_reports_added_removed_and_changed_versions() {
    let tmp = tempfile::tempdir().unwrap();
    let old = sbom_file(tmp.path(), "cargo/small", "cyclonedx");
    // The next release: itoa upgraded, memchr dropped, ryu added; other tools' bom-refs.
    let mut doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&old).unwrap()).unwrap();
    let components = doc["components"].as_array_mut().unwrap();
    let names: Vec<String> = components
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect();
    assert!(names.contains(&"itoa".to_owned()) && names.contains(&"memchr".to_owned()));
    components.retain(|c| c["name"] != "memchr");
    for c in components.iter_mut() {
        if c["name"] == "itoa" {
            c["version"] = "9.9.9".into();
            c["purl"] = "pkg:cargo/itoa@9.9.9".into();
        }
    }
    components.push(serde_json::json!({
        "type": "library", "name": "ryu", "version": "1.0.20", "purl": "pkg:cargo/ryu@1.0.20"
    }));
    doc["dependencies"] = serde_json::json!([]);
    let new = tmp.path().join("new.cdx.json");
    std::fs::write(&new, serde_json::to_vec(&doc).unwrap()).unwrap();

    let r = run(&["sbom", "diff", old.to_str().unwrap(), new.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let line = |word: &str, name: &str| {
        r.stdout
            .lines()
            .find(|l| l.starts_with(word) && l.split_whitespace().nth(2) == Some(name))
            .unwrap_or_else(|| panic!("no `{word} {name}` row in\n{}", r.stdout))
            .to_owned()
    };
    assert!(line("added", "ryu").ends_with("1.0.20"));
    line("removed", "memchr");
    assert!(line("changed", "itoa").contains("-> 9.9.9"), "{}", r.stdout);
    assert!(
        r.stderr.contains("1 added, 1 removed, 1 changed"),
        "{}",
        r.stderr
    );

    let r = run(&[
        "--json",
        "sbom",
        "diff",
        old.to_str().unwrap(),
        new.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    assert_eq!(v["added"][0]["purl"], "pkg:cargo/ryu@1.0.20");
    assert_eq!(v["removed"][0]["name"], "memchr");
    assert_eq!(v["changed"][0]["name"], "itoa");
    assert_eq!(v["changed"][0]["new"], serde_json::json!(["9.9.9"]));
}

#[test]
fn diff_of_an_unreadable_sbom_is_a_usage_error() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.cdx.json");
    std::fs::write(&bad, "{\"bomFormat\":").unwrap();
    let good = sbom_file(tmp.path(), "cargo/small", "cyclonedx");
    let r = run(&[
        "sbom",
        "diff",
        good.to_str().unwrap(),
        bad.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("bad.cdx.json"), "{}", r.stderr);
}

#[test]
fn binaries_are_read_by_their_embedded_dependency_data() {
    let go = fixtures().join("binary/fixture-go");
    let r = run(&["sbom", go.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    let purls: Vec<&str> = v["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["purl"].as_str())
        .collect();
    assert!(
        purls.contains(&"pkg:golang/github.com/pkg/errors@v0.9.1"),
        "{purls:?}"
    );

    let rust = fixtures().join("binary/fixture-app-auditable");
    let r = run(&["sbom", rust.to_str().unwrap(), "-f", "spdx"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("pkg:cargo/smallvec@"), "{}", r.stdout);

    // A program with no dependency data: an error that says what is missing, exit 2.
    let r = run(&["sbom", env!("CARGO_BIN_EXE_custody")]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("cargo auditable"), "{}", r.stderr);
}
