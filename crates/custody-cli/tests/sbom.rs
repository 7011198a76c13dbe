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
