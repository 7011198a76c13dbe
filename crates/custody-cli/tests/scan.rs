//! `custody scan` on real inputs against the real advisory snapshots in
//! `testdata/advisories`: the `Cargo.lock` in `tests/fixtures/vulnerable-cargo` (written by
//! `cargo generate-lockfile` from a manifest that pins crate versions RustSec names), the SBOM
//! crate's lockfile fixtures, and SBOMs `custody sbom` makes of them. Expected ids come from the
//! RustSec files named beside each one. The last test compares with `cargo audit` itself.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

mod common;

use common::Run;

fn data() -> PathBuf {
    common::advisories()
}

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

fn sbom_fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../custody-sbom/tests/fixtures")
        .join(rel)
}

fn vulnerable_lock() -> PathBuf {
    fixture("vulnerable-cargo/Cargo.lock")
}

fn custody(cwd: &Path, args: &[&str]) -> Run {
    common::run_in(cwd, args)
}

/// A temp dir holding an advisory database imported from the named snapshots in `testdata/`.
struct Db {
    tmp: tempfile::TempDir,
}

impl Db {
    fn new(sources: &[&str]) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let db = Self { tmp };
        for s in sources {
            let src = data().join(s);
            let r = db.run(&["db", "import", src.to_str().unwrap()]);
            assert_eq!(r.code, 0, "importing {s}: {}", r.stderr);
        }
        db
    }

    fn dir(&self) -> PathBuf {
        self.tmp.path().join("db")
    }

    fn run(&self, args: &[&str]) -> Run {
        let mut all: Vec<&str> = args.to_vec();
        let dir = self.dir();
        all.extend(["--db", dir.to_str().unwrap()]);
        custody(self.tmp.path(), &all)
    }

    fn scan(&self, path: &Path, extra: &[&str]) -> Run {
        let mut args = vec!["scan", path.to_str().unwrap()];
        args.extend(extra);
        self.run(&args)
    }

    fn scan_json(&self, path: &Path, extra: &[&str]) -> serde_json::Value {
        let mut args = vec!["--json", "--fail-on", "never"];
        args.extend(extra);
        let r = self.scan(path, &args);
        assert_eq!(r.code, 0, "{}", r.stderr);
        r.json()
    }
}

/// (vulnerability advisory ids, warning advisory ids) of a `--json` scan, by the advisories
/// grouped into each finding.
fn ids(report: &serde_json::Value) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut vulns = BTreeSet::new();
    let mut warnings = BTreeSet::new();
    for f in report["findings"].as_array().unwrap() {
        let set = match f["kind"].as_str().unwrap() {
            "vulnerability" => &mut vulns,
            "warning" => &mut warnings,
            other => panic!("kind {other}"),
        };
        for a in f["advisories"].as_array().unwrap() {
            set.insert(a["id"].as_str().unwrap().to_owned());
        }
    }
    (vulns, warnings)
}

fn finding_ids(report: &serde_json::Value) -> BTreeSet<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "{} {}",
                f["id"].as_str().unwrap(),
                f["package"]["name"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn vulnerable_lockfile_names_the_advisories_by_id() {
    let db = Db::new(&["crates.io", "rustsec-advisory-db"]);
    let r = db.scan(&vulnerable_lock(), &["--json"]);
    assert_eq!(
        r.code, 1,
        "vulnerabilities fail the default gate: {}",
        r.stderr
    );
    let report = r.json();
    assert_eq!(report["ok"], false);
    assert_eq!(report["fail_on"], "any");
    let (vulns, warnings) = ids(&report);
    // crates/smallvec/RUSTSEC-2021-0003.md: patched >= 0.6.14; we pin 0.6.13.
    // crates/regex/RUSTSEC-2022-0013.md: patched >= 1.5.5; we pin 1.5.4.
    // crates/chrono/RUSTSEC-2020-0159.md: patched >= 0.4.20; we pin 0.4.19.
    // crates/time/RUSTSEC-2020-0071.md: patched >= 0.2.23 (Unix only); we pin 0.1.43.
    for id in [
        "RUSTSEC-2021-0003",
        "RUSTSEC-2022-0013",
        "RUSTSEC-2020-0159",
        "RUSTSEC-2020-0071",
    ] {
        assert!(vulns.contains(id), "{id} missing from {vulns:?}");
    }
    // Informational: ansi_term and yaml-rust unmaintained (RUSTSEC-2021-0139,
    // RUSTSEC-2024-0320), atty unmaintained (2024-0375) and unsound on Windows (2021-0145).
    for id in [
        "RUSTSEC-2021-0139",
        "RUSTSEC-2024-0320",
        "RUSTSEC-2024-0375",
        "RUSTSEC-2021-0145",
    ] {
        assert!(
            warnings.contains(id),
            "{id} missing from warnings {warnings:?}"
        );
        assert!(
            !vulns.contains(id),
            "{id} is informational, not a vulnerability"
        );
    }
    let smallvec = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "RUSTSEC-2021-0003")
        .unwrap();
    assert_eq!(smallvec["status"], "affected");
    assert_eq!(smallvec["package"]["version"], "0.6.13");
    assert_eq!(smallvec["package"]["purl"], "pkg:cargo/smallvec@0.6.13");
    assert_eq!(smallvec["smallest_fix"], "0.6.14");
    let counts = &report["counts"];
    assert_eq!(
        counts["vulnerabilities"].as_u64().unwrap() + counts["warnings"].as_u64().unwrap(),
        report["findings"].as_array().unwrap().len() as u64
    );
    // The project itself has no purl: listed, not matched.
    assert!(
        report["not_scanned"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["component"]
                .as_str()
                .unwrap()
                .starts_with("vulnerable-app")),
        "{}",
        report["not_scanned"]
    );
}

#[test]
fn target_os_keeps_only_that_os_advisories() {
    let db = Db::new(&["rustsec-advisory-db"]);
    let lock = vulnerable_lock();
    let (all, all_w) = ids(&db.scan_json(&lock, &[]));
    let (linux, linux_w) = ids(&db.scan_json(&lock, &["--target-os", "linux"]));
    let (windows, windows_w) = ids(&db.scan_json(&lock, &["--target-os", "windows"]));
    // crates/mio/RUSTSEC-2024-0019.md and crates/atty/RUSTSEC-2021-0145.md: os = ["windows"];
    // crates/time/RUSTSEC-2020-0071.md: Unix-like systems only.
    assert!(all.contains("RUSTSEC-2024-0019") && all.contains("RUSTSEC-2020-0071"));
    assert!(windows.contains("RUSTSEC-2024-0019"), "{windows:?}");
    assert!(!windows.contains("RUSTSEC-2020-0071"), "{windows:?}");
    assert!(windows_w.contains("RUSTSEC-2021-0145"), "{windows_w:?}");
    assert!(!linux.contains("RUSTSEC-2024-0019"), "{linux:?}");
    assert!(linux.contains("RUSTSEC-2020-0071"), "{linux:?}");
    assert!(!linux_w.contains("RUSTSEC-2021-0145"), "{linux_w:?}");
    assert!(all_w.contains("RUSTSEC-2021-0145"));
}

#[test]
fn fail_on_thresholds() {
    let db = Db::new(&["rustsec-advisory-db"]);
    let lock = vulnerable_lock();
    let report = db.scan_json(&lock, &[]);
    let findings = report["findings"].as_array().unwrap();
    let rating = |f: &serde_json::Value| -> Option<String> {
        f["severity"]["score"]["rating"].as_str().map(str::to_owned)
    };
    let vulns: Vec<&serde_json::Value> = findings
        .iter()
        .filter(|f| f["kind"] == "vulnerability")
        .collect();
    assert!(
        vulns.iter().any(|f| rating(f).is_none()),
        "an unscored advisory is pinned"
    );
    assert!(
        vulns.iter().any(|f| rating(f).is_some()),
        "a scored advisory is pinned"
    );

    for threshold in ["any", "low", "medium", "high", "critical"] {
        let r = db.scan(&lock, &["--fail-on", threshold, "--json"]);
        // Unscored vulnerabilities fail every threshold: no score is not a low score.
        assert_eq!(r.code, 1, "--fail-on {threshold}: {}", r.stderr);
        let failing: BTreeSet<String> = r.json()["failing"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect();
        let floor = ["low", "medium", "high", "critical"]
            .iter()
            .position(|t| *t == threshold);
        let expected: BTreeSet<String> = vulns
            .iter()
            .filter(|f| match (rating(f), floor) {
                (None, _) | (_, None) => true,
                (Some(r), Some(floor)) => ["low", "medium", "high", "critical"]
                    .iter()
                    .position(|t| *t == r)
                    .is_some_and(|p| p >= floor),
            })
            .map(|f| f["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(failing, expected, "--fail-on {threshold}");
    }
    let r = db.scan(&lock, &["--fail-on", "never"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = db.scan(&lock, &["--fail-on", "severe"]);
    assert_eq!(r.code, 2, "{}", r.stderr);

    // Warnings alone never fail: ansi_term's lockfile entry is only informational.
    let tmp = tempfile::tempdir().unwrap();
    let sbom = tmp.path().join("warnings-only.cdx.json");
    let text = custody_sbom_of(&lock, "cyclonedx");
    let mut doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    doc["components"]
        .as_array_mut()
        .unwrap()
        .retain(|c| c["name"] == "ansi_term");
    doc.as_object_mut().unwrap().remove("dependencies");
    std::fs::write(&sbom, serde_json::to_string(&doc).unwrap()).unwrap();
    let r = db.scan(&sbom, &["--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        ids(&r.json()).1,
        BTreeSet::from(["RUSTSEC-2021-0139".to_owned()])
    );
}

fn custody_sbom_of(path: &Path, format: &str) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let r = custody(
        tmp.path(),
        &["sbom", path.to_str().unwrap(), "--format", format],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    r.stdout
}

#[test]
fn cyclonedx_and_spdx_sboms_give_the_lockfile_findings() {
    let db = Db::new(&["crates.io", "rustsec-advisory-db"]);
    let lock = vulnerable_lock();
    let expected = finding_ids(&db.scan_json(&lock, &[]));
    assert!(expected.len() > 10, "{expected:?}");
    for (format, file) in [("cyclonedx", "sbom.cdx.json"), ("spdx", "sbom.spdx.json")] {
        let path = db.tmp.path().join(file);
        std::fs::write(&path, custody_sbom_of(&lock, format)).unwrap();
        let got = finding_ids(&db.scan_json(&path, &[]));
        assert_eq!(got, expected, "{format}");
    }
}

#[test]
fn sbom_crate_fixtures_scan_cleanly() {
    let db = Db::new(&["crates.io", "rustsec-advisory-db", "PyPI"]);
    for rel in [
        "cargo/small",
        "cargo/lock-v1/Cargo.lock",
        "cargo/large/Cargo.lock",
        "npm/small",
        "npm/lock-v1/package-lock.json",
        "yarn/classic",
        "deb/bookworm",
        "python/uv/uv.lock",
        "python/requirements/requirements.txt",
    ] {
        let report = db.scan_json(&sbom_fixture(rel), &[]);
        assert!(report["packages"].as_u64().unwrap() > 0, "{rel}: {report}");
        for f in report["findings"].as_array().unwrap() {
            assert!(
                ["affected", "unknown"].contains(&f["status"].as_str().unwrap()),
                "{rel}: {f}"
            );
        }
    }
    // cargo/large pins a real dependency tree of 898 packages; its RustSec findings are checked
    // one for one against cargo-audit below. Here: it has some, and they are grouped per crate.
    let large = db.scan_json(&sbom_fixture("cargo/large/Cargo.lock"), &[]);
    assert!(large["packages"].as_u64().unwrap() > 800);
    assert!(!large["findings"].as_array().unwrap().is_empty());
}

#[test]
fn unparsable_version_is_an_unknown_finding_that_fails_the_gate() {
    let db = Db::new(&["rustsec-advisory-db"]);
    let text = custody_sbom_of(&vulnerable_lock(), "cyclonedx").replace(
        "pkg:cargo/smallvec@0.6.13",
        "pkg:cargo/smallvec@0.6.x-or-so!",
    );
    let path = db.tmp.path().join("odd-version.cdx.json");
    std::fs::write(&path, text).unwrap();
    let report = db.scan_json(&path, &[]);
    let smallvec: Vec<&serde_json::Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["package"]["name"] == "smallvec")
        .collect();
    assert!(!smallvec.is_empty(), "never dropped: {report}");
    for f in &smallvec {
        assert_eq!(f["status"], "unknown", "{f}");
        assert_eq!(f["reason"]["kind"], "unparsable_package_version", "{f}");
        assert_eq!(f["reason"]["version"], "0.6.x-or-so!", "{f}");
    }
    assert!(report["counts"]["unknown"].as_u64().unwrap() >= smallvec.len() as u64);

    let r = db.scan(&path, &["--fail-on", "critical"]);
    assert_eq!(r.code, 1, "unknown counts as affected: {}", r.stderr);
    assert!(r.stdout.contains("UNKNOWN"), "{}", r.stdout);
    assert!(r.stdout.contains("0.6.x-or-so!"), "{}", r.stdout);
}

#[test]
fn table_and_sarif_outputs() {
    let db = Db::new(&["rustsec-advisory-db"]);
    let lock = vulnerable_lock();
    let report = db.scan_json(&lock, &[]);
    let n = report["findings"].as_array().unwrap().len();

    let r = db.scan(&lock, &[]);
    assert_eq!(r.code, 1);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert!(
        lines[0].starts_with("SEVERITY") && lines[0].contains("FIX"),
        "{}",
        r.stdout
    );
    assert_eq!(lines.len(), n + 1, "one row per finding: {}", r.stdout);
    assert!(r.stdout.contains("RUSTSEC-2021-0003"), "{}", r.stdout);
    assert!(r.stdout.contains("warning (unmaintained)"), "{}", r.stdout);
    assert!(
        r.stderr.contains("vulnerabilities"),
        "summary on stderr: {}",
        r.stderr
    );

    let r = db.scan(&lock, &["--format", "json", "--fail-on", "never"]);
    assert_eq!(r.json()["findings"].as_array().unwrap().len(), n);

    let r = db.scan(&lock, &["--format", "sarif"]);
    assert_eq!(r.code, 1);
    let sarif = r.json();
    assert_eq!(sarif["version"], "2.1.0");
    let run = &sarif["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "custody");
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), n);
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    for result in results {
        let rule = &rules[result["ruleIndex"].as_u64().unwrap() as usize];
        assert_eq!(rule["id"], result["ruleId"]);
        assert!(["error", "warning", "note"].contains(&result["level"].as_str().unwrap()));
        assert!(result["message"]["text"].as_str().unwrap().len() > 10);
        let uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            .as_str()
            .unwrap();
        assert!(uri.ends_with("vulnerable-cargo/Cargo.lock"), "{uri}");
    }
    let smallvec = rules
        .iter()
        .find(|r| r["id"] == "RUSTSEC-2021-0003")
        .unwrap();
    assert!(
        smallvec["properties"]["security-severity"]
            .as_str()
            .is_some(),
        "{smallvec}"
    );
}

#[test]
fn unreadable_inputs_exit_2() {
    let db = Db::new(&["rustsec-advisory-db"]);
    let dir = db.tmp.path();

    let lock = dir.join("Cargo.lock");
    std::fs::write(
        &lock,
        "version = 4\n[[package]]\nname = \"smallvec\"\nversion = [oops\n",
    )
    .unwrap();
    let r = db.scan(&lock, &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("Cargo.lock"), "{}", r.stderr);

    let sbom = dir.join("bom.cdx.json");
    let text = custody_sbom_of(&vulnerable_lock(), "cyclonedx");
    std::fs::write(&sbom, &text[..text.len() / 2]).unwrap();
    let r = db.scan(&sbom, &["--json"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("bom.cdx.json"), "{}", r.stderr);
    assert_eq!(r.json()["ok"], false);

    let r = db.scan(&dir.join("missing.lock"), &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);

    // A real lockfile with no database: say what to run.
    let empty = dir.join("no-db");
    let r = custody(
        dir,
        &[
            "scan",
            vulnerable_lock().to_str().unwrap(),
            "--db",
            empty.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("custody db import"), "{}", r.stderr);
    assert!(!empty.exists(), "a scan must not create a database");

    // Outside a project, without --db or CUSTODY_DB.
    let r = custody(dir, &["scan", vulnerable_lock().to_str().unwrap()]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("--db") && r.stderr.contains("CUSTODY_DB"),
        "{}",
        r.stderr
    );
}

/// `(advisory id, crate, version)` for every vulnerability and every informational warning
/// `cargo audit` reports; yanked-crate warnings name no advisory and are left out.
fn cargo_audit(lock: &Path, target_os: Option<&str>) -> (BTreeSet<String>, BTreeSet<String>) {
    let db = data().join("rustsec-advisory-db");
    let cwd = tempfile::tempdir().unwrap();
    let mut cmd = Command::new("cargo");
    cmd.current_dir(cwd.path())
        .args(["audit", "--no-fetch", "--json", "--db"])
        .arg(&db)
        .arg("--file")
        .arg(lock);
    if let Some(os) = target_os {
        cmd.args(["--target-os", os]);
    }
    let o = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        !stderr.contains("no such command"),
        "cargo-audit is not installed: the parity test needs it (cargo install cargo-audit --locked)"
    );
    let v: serde_json::Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("cargo audit gave no JSON ({e}): {stdout}\n{stderr}"));
    let key = |item: &serde_json::Value| {
        format!(
            "{} {} {}",
            item["advisory"]["id"].as_str().unwrap(),
            item["package"]["name"].as_str().unwrap(),
            item["package"]["version"].as_str().unwrap()
        )
    };
    let vulns = v["vulnerabilities"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(key)
        .collect();
    let mut warnings = BTreeSet::new();
    for (_, list) in v["warnings"].as_object().unwrap() {
        for w in list.as_array().unwrap() {
            if w["advisory"].is_object() {
                warnings.insert(key(w));
            }
        }
    }
    (vulns, warnings)
}

fn ours(db: &Db, lock: &Path, target_os: Option<&str>) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut extra = vec![];
    if let Some(os) = target_os {
        extra.extend(["--target-os", os]);
    }
    let report = db.scan_json(lock, &extra);
    let mut vulns = BTreeSet::new();
    let mut warnings = BTreeSet::new();
    for f in report["findings"].as_array().unwrap() {
        assert_eq!(f["status"], "affected", "{f}");
        let set = if f["kind"] == "warning" {
            &mut warnings
        } else {
            &mut vulns
        };
        // custody groups aliases into one finding; cargo-audit lists each advisory.
        for a in f["advisories"].as_array().unwrap() {
            set.insert(format!(
                "{} {} {}",
                a["id"].as_str().unwrap(),
                f["package"]["name"].as_str().unwrap(),
                f["package"]["version"].as_str().unwrap()
            ));
        }
    }
    (vulns, warnings)
}

#[test]
fn same_vulnerabilities_and_warnings_as_cargo_audit() {
    let db = Db::new(&["rustsec-advisory-db"]);
    for lock in [
        vulnerable_lock(),
        sbom_fixture("cargo/large/Cargo.lock"),
        sbom_fixture("cargo/small/Cargo.lock"),
    ] {
        for os in [None, Some("linux"), Some("windows")] {
            let (their_vulns, their_warnings) = cargo_audit(&lock, os);
            let (our_vulns, our_warnings) = ours(&db, &lock, os);
            let only = |a: &BTreeSet<String>, b: &BTreeSet<String>| -> Vec<String> {
                a.difference(b).cloned().collect()
            };
            assert!(
                our_vulns == their_vulns && our_warnings == their_warnings,
                "{} (target os {os:?}) differs from cargo audit:\n\
                 vulnerabilities only we report: {:?}\nvulnerabilities only cargo audit reports: {:?}\n\
                 warnings only we report: {:?}\nwarnings only cargo audit reports: {:?}",
                lock.display(),
                only(&our_vulns, &their_vulns),
                only(&their_vulns, &our_vulns),
                only(&our_warnings, &their_warnings),
                only(&their_warnings, &our_warnings),
            );
            if lock == vulnerable_lock() {
                assert!(
                    our_vulns.len() >= 5 && our_warnings.len() >= 3,
                    "{our_vulns:?}"
                );
            }
        }
    }
}

#[test]
fn stale_database_is_named_on_stderr() {
    let db = Db::new(&["rustsec-advisory-db"]);
    let r = db.scan(&vulnerable_lock(), &["--fail-on", "never"]);
    assert!(!r.stderr.contains("last imported"), "{}", r.stderr);
    let source = db.dir().join("sources/rustsec-advisory-db.json");
    let o = Command::new("touch")
        .args(["-d", "30 days ago"])
        .arg(&source)
        .output()
        .unwrap();
    assert!(o.status.success());
    let r = db.scan(&vulnerable_lock(), &["--fail-on", "never", "--quiet"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("rustsec-advisory-db was last imported 30 days ago"),
        "{}",
        r.stderr
    );
}
