//! Every SBOM written from every fixture passes someone else's validator: cyclonedx-python-lib's
//! strict JSON schema check (1.6 and 1.5) and `pyspdxtools -i` (SPDX 2.3).
//!
//! Needs Python with tests/requirements.txt installed. When it is missing the test fails with
//! the command to run: a validator that silently does not run is no check.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use custody_sbom::{
    Component, ComponentId, CycloneDxVersion, Ecosystem, Limits, Metadata, Sbom, parse_sbom,
    read_dir, to_cyclonedx, to_spdx,
};

const SMALL_FIXTURES: [&str; 18] = [
    "cargo/small",
    "cargo/lock-v1",
    "cargo/lock-v2",
    "cargo/lock-v3",
    "npm/small",
    "npm/lock-v1",
    "npm/lock-v2",
    "python/uv",
    "python/requirements",
    "yarn/classic",
    "pnpm/small",
    "python/pipenv",
    "python/poetry",
    "yarn/berry",
    "pnpm/lock-v6",
    "ruby/bundler",
    "php/composer",
    "go/module",
];

// Validating a 1,500-package document takes pyspdxtools about 20 s here, so the benchmark
// inputs get the two documents a release carries, not every variant.
const LARGE_FIXTURES: [&str; 3] = ["cargo/large", "npm/large", "deb/bookworm"];

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn write_all(out: &Path, fixtures: &[&str], every_variant: bool) -> Vec<PathBuf> {
    let mut meta = Metadata::new("2026-03-01T12:00:00Z".parse().unwrap());
    meta.organization = Some("Custody Test Supplier".to_owned());
    let mut files = Vec::new();
    let mut write = |name: String, text: String| {
        let path = out.join(name);
        std::fs::write(&path, text).unwrap();
        files.push(path);
    };
    for fixture in fixtures {
        let dir = manifest_dir().join("tests/fixtures").join(fixture);
        let sbom = read_dir(&dir, &Limits::default()).unwrap();
        let stem = fixture.replace('/', "-");
        let cdx = to_cyclonedx(&sbom, CycloneDxVersion::V1_6, &meta);
        write(format!("{stem}.spdx.json"), to_spdx(&sbom, &meta));
        if every_variant {
            write(
                format!("{stem}.1.5.cdx.json"),
                to_cyclonedx(&sbom, CycloneDxVersion::V1_5, &meta),
            );
            // What the SBOM reader makes of our own output must be writable and valid too.
            let back = parse_sbom("cdx", cdx.as_bytes(), &Limits::default()).unwrap();
            write(format!("{stem}.from-cdx.spdx.json"), to_spdx(&back, &meta));
            let back = parse_sbom("cdx", cdx.as_bytes(), &Limits::default()).unwrap();
            write(
                format!("{stem}.from-cdx.cdx.json"),
                to_cyclonedx(&back, CycloneDxVersion::V1_6, &meta),
            );
        }
        write(format!("{stem}.cdx.json"), cdx);
    }
    files
}

fn validate(files: &[PathBuf]) {
    let script = manifest_dir().join("tests/validate_sbom.py");
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let run = Command::new(&python).arg(&script).args(files).output();
    let run = match run {
        Ok(r) => r,
        Err(e) => panic!(
            "cannot run `{python}` ({e}): install Python 3 and \
             `pip install -r crates/custody-sbom/tests/requirements.txt` (or set PYTHON)"
        ),
    };
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    match run.status.code() {
        Some(0) => {}
        Some(2) => panic!("third-party validators are not installed:\n{stderr}"),
        _ => panic!("SBOMs failed third-party validation:\n{stdout}\n{stderr}"),
    }
    assert_eq!(
        stdout.lines().filter(|l| l.ends_with(": valid")).count(),
        files.len(),
        "{stdout}"
    );
}

#[test]
fn small_fixture_sboms_pass_cyclonedx_and_spdx_validators() {
    let out = tempfile::tempdir().unwrap();
    let mut files = write_all(out.path(), &SMALL_FIXTURES, true);
    // SBOMs of the two programs, from their embedded dependency data.
    let meta = Metadata::new("2026-03-01T12:00:00Z".parse().unwrap());
    for bin in ["fixture-go", "fixture-app-auditable"] {
        let path = manifest_dir().join("tests/fixtures/binary").join(bin);
        let sbom = custody_sbom::read_binary(&path, &Limits::default()).unwrap();
        for (ext, text) in [
            (
                "cdx.json",
                to_cyclonedx(&sbom, CycloneDxVersion::V1_6, &meta),
            ),
            ("spdx.json", to_spdx(&sbom, &meta)),
        ] {
            let f = out.path().join(format!("binary-{bin}.{ext}"));
            std::fs::write(&f, text).unwrap();
            files.push(f);
        }
    }
    // No fixture has a component with several authors, which CycloneDX 1.5 writes as the
    // joined `author` and one `custody:author` property each (fuzz finding, composer_lock).
    let mut sbom = Sbom::new();
    let mut c = Component::new(
        ComponentId("composer/psr/log@1.1.4".to_owned()),
        Ecosystem::Packagist,
        "psr/log",
        Some("1.1.4".to_owned()),
    );
    c.authors = vec!["Ann".to_owned(), "Bob, Jr.".to_owned()];
    sbom.insert(c);
    for (name, version) in [
        ("authors.1.5.cdx.json", CycloneDxVersion::V1_5),
        ("authors.cdx.json", CycloneDxVersion::V1_6),
    ] {
        let f = out.path().join(name);
        std::fs::write(&f, to_cyclonedx(&sbom, version, &meta)).unwrap();
        files.push(f);
    }
    validate(&files);
}

#[test]
fn large_fixture_sboms_pass_cyclonedx_and_spdx_validators() {
    let out = tempfile::tempdir().unwrap();
    validate(&write_all(out.path(), &LARGE_FIXTURES, false));
}
