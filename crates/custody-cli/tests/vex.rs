//! `custody vex add` and `custody scan --vex` on the real `tests/fixtures/vulnerable-cargo`
//! lockfile against the RustSec snapshots in `testdata/`: OpenVEX statements keep findings out of the
//! gate by id or alias, for the product in every later version, and stay listed as suppressed.
//! The ids are the ones `custody scan` reports for the fixture (see tests/scan.rs):
//! RUSTSEC-2021-0003 (smallvec 0.6.13, aliases CVE-2021-25900, GHSA-43w2-9j62-hq99) and
//! RUSTSEC-2022-0013 (regex 1.5.4, alias CVE-2022-24713).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

mod common;

use common::Run;

fn data() -> PathBuf {
    common::advisories()
}

fn vulnerable_lock() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/vulnerable-cargo/Cargo.lock")
}

/// A temp project dir with an advisory database imported from the RustSec snapshots.
struct Project {
    tmp: tempfile::TempDir,
}

impl Project {
    fn new() -> Self {
        let p = Self {
            tmp: tempfile::tempdir().unwrap(),
        };
        for s in ["crates.io", "rustsec-advisory-db"] {
            let src = data().join(s);
            let db = p.db();
            let r = p.run(&[
                "db",
                "import",
                src.to_str().unwrap(),
                "--db",
                db.to_str().unwrap(),
            ]);
            assert_eq!(r.code, 0, "importing {s}: {}", r.stderr);
        }
        p
    }

    fn dir(&self) -> &Path {
        self.tmp.path()
    }

    fn db(&self) -> PathBuf {
        self.dir().join("db")
    }

    fn run(&self, args: &[&str]) -> Run {
        common::run_in(self.dir(), args)
    }

    fn vex_add(&self, args: &[&str]) -> Run {
        let mut all = vec!["vex", "add"];
        all.extend(args);
        self.run(&all)
    }

    fn scan(&self, lock: &Path, extra: &[&str]) -> Run {
        let db = self.db();
        let mut args = vec!["scan", lock.to_str().unwrap(), "--db", db.to_str().unwrap()];
        args.extend(extra);
        self.run(&args)
    }

    /// A `--json` scan with `--vex FILE`, exit code and report.
    fn scan_vex(&self, lock: &Path, vex: &str, extra: &[&str]) -> (i32, serde_json::Value) {
        let mut args = vec!["--json", "--vex", vex];
        args.extend(extra);
        let r = self.scan(lock, &args);
        assert!(r.code == 0 || r.code == 1, "{}", r.stderr);
        (r.code, r.json())
    }
}

const FILE: &str = ".custody/vex/vulnerable-app.openvex.json";

fn strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

fn finding<'a>(report: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == id)
        .unwrap_or_else(|| panic!("no finding {id}"))
}

fn not_affected(p: &Project, id: &str) {
    let r = p.vex_add(&[
        id,
        "--product",
        "vulnerable-app",
        "--status",
        "not_affected",
        "--justification",
        "vulnerable_code_not_in_execute_path",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn not_affected_by_id_leaves_the_gate_but_stays_listed() {
    let p = Project::new();
    let before = p.scan(&vulnerable_lock(), &["--json"]).json();
    assert!(strings(&before["failing"]).contains(&"RUSTSEC-2021-0003".to_owned()));

    not_affected(&p, "RUSTSEC-2021-0003");
    let (code, report) = p.scan_vex(&vulnerable_lock(), FILE, &[]);
    assert_eq!(code, 1, "the other vulnerabilities still fail");
    assert!(!strings(&report["failing"]).contains(&"RUSTSEC-2021-0003".to_owned()));
    assert_eq!(strings(&report["suppressed"]), ["RUSTSEC-2021-0003"]);
    assert_eq!(report["product"], "vulnerable-app");
    let f = finding(&report, "RUSTSEC-2021-0003");
    assert_eq!(f["vex"]["status"], "not_affected");
    assert_eq!(
        f["vex"]["justification"],
        "vulnerable_code_not_in_execute_path"
    );
    assert_eq!(
        strings(&report["failing"]).len() + 1,
        strings(&before["failing"]).len()
    );

    let table = p.scan(&vulnerable_lock(), &["--vex", FILE]);
    assert!(table.stdout.contains("VEX"), "{}", table.stdout);
    assert!(table.stdout.contains("not_affected (suppressed)"));
}

#[test]
fn the_gate_passes_when_every_failing_finding_is_not_affected() {
    let p = Project::new();
    let r = p.scan(&vulnerable_lock(), &["--json"]);
    assert_eq!(r.code, 1);
    let failing = strings(&r.json()["failing"]);
    assert!(!failing.is_empty());
    for id in &failing {
        not_affected(&p, id);
    }
    let (code, report) = p.scan_vex(&vulnerable_lock(), FILE, &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["ok"], true);
    assert_eq!(strings(&report["suppressed"]).len(), failing.len());
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(p.dir().join(FILE)).unwrap()).unwrap();
    assert_eq!(doc["version"], failing.len(), "one version per change");
}

#[test]
fn not_affected_by_alias_suppresses() {
    let p = Project::new();
    not_affected(&p, "CVE-2021-25900");
    p.vex_add(&[
        "GHSA-m5pq-gvj9-9vr8",
        "--product",
        "vulnerable-app",
        "--status",
        "fixed",
    ]);
    let (_, report) = p.scan_vex(&vulnerable_lock(), FILE, &[]);
    let suppressed = strings(&report["suppressed"]);
    assert!(
        suppressed.contains(&"RUSTSEC-2021-0003".to_owned()),
        "{suppressed:?}"
    );
    assert!(
        suppressed.contains(&"RUSTSEC-2022-0013".to_owned()),
        "{suppressed:?}"
    );
    assert_eq!(
        finding(&report, "RUSTSEC-2021-0003")["vex"]["vulnerability"],
        "CVE-2021-25900"
    );
}

#[test]
fn affected_and_under_investigation_do_not_suppress() {
    for status in ["affected", "under_investigation"] {
        let p = Project::new();
        let r = p.vex_add(&[
            "RUSTSEC-2021-0003",
            "--product",
            "vulnerable-app",
            "--status",
            status,
        ]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let (code, report) = p.scan_vex(&vulnerable_lock(), FILE, &[]);
        assert_eq!(code, 1);
        assert!(strings(&report["failing"]).contains(&"RUSTSEC-2021-0003".to_owned()));
        assert!(strings(&report["suppressed"]).is_empty());
        assert_eq!(
            finding(&report, "RUSTSEC-2021-0003")["vex"]["status"],
            status
        );
    }
}

/// The issue's complaint about Dependency-Track: suppressions come back with every release.
/// A statement names the product, so it holds for the next version of it.
#[test]
fn a_suppression_holds_in_the_next_version_of_the_product() {
    let p = Project::new();
    not_affected(&p, "RUSTSEC-2021-0003");
    let text = std::fs::read_to_string(vulnerable_lock()).unwrap();
    let old = "name = \"vulnerable-app\"\nversion = \"0.1.0\"";
    assert!(text.contains(old));
    let next = p.dir().join("next/Cargo.lock");
    std::fs::create_dir_all(next.parent().unwrap()).unwrap();
    std::fs::write(
        &next,
        text.replace(old, "name = \"vulnerable-app\"\nversion = \"0.2.0\""),
    )
    .unwrap();
    // The product's name comes from the manifest beside the lockfile.
    let manifest = std::fs::read_to_string(vulnerable_lock().with_file_name("Cargo.toml")).unwrap();
    assert!(manifest.contains("version = \"0.1.0\""));
    std::fs::write(
        next.with_file_name("Cargo.toml"),
        manifest.replacen("version = \"0.1.0\"", "version = \"0.2.0\"", 1),
    )
    .unwrap();
    let (_, report) = p.scan_vex(&next, FILE, &[]);
    assert_eq!(report["product"], "vulnerable-app");
    assert_eq!(strings(&report["suppressed"]), ["RUSTSEC-2021-0003"]);

    // Another product's scan is not covered by this product's statement.
    let (_, other) = p.scan_vex(&next, FILE, &["--product", "other-app"]);
    assert!(strings(&other["suppressed"]).is_empty());
}

#[test]
fn sarif_marks_suppressed_results() {
    let p = Project::new();
    not_affected(&p, "RUSTSEC-2021-0003");
    let r = p.scan(&vulnerable_lock(), &["--format", "sarif", "--vex", FILE]);
    let log = r.json();
    let results = log["runs"][0]["results"].as_array().unwrap();
    let smallvec = results
        .iter()
        .find(|r| r["ruleId"] == "RUSTSEC-2021-0003")
        .unwrap();
    assert_eq!(smallvec["suppressions"][0]["kind"], "external");
    assert_eq!(smallvec["suppressions"][0]["status"], "accepted");
    let regex = results
        .iter()
        .find(|r| r["ruleId"] == "RUSTSEC-2022-0013")
        .unwrap();
    assert!(regex.get("suppressions").is_none());
}

#[test]
fn a_malformed_vex_file_is_an_error_naming_it() {
    let p = Project::new();
    let bad = p.dir().join("truncated.openvex.json");
    std::fs::write(
        &bad,
        r#"{"@context": "https://openvex.dev/ns/v0.2.0", "statements": ["#,
    )
    .unwrap();
    let r = p.scan(&vulnerable_lock(), &["--vex", bad.to_str().unwrap()]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("truncated.openvex.json"), "{}", r.stderr);

    let missing = p.scan(&vulnerable_lock(), &["--vex", "nowhere.openvex.json"]);
    assert_eq!(missing.code, 2);
    assert!(
        missing.stderr.contains("nowhere.openvex.json"),
        "{}",
        missing.stderr
    );
}

#[test]
fn not_affected_without_justification_or_impact_statement_is_refused() {
    let p = Project::new();
    let r = p.vex_add(&[
        "RUSTSEC-2021-0003",
        "--product",
        "vulnerable-app",
        "--status",
        "not_affected",
    ]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("neither a justification"), "{}", r.stderr);
    assert!(
        !p.dir().join(FILE).exists(),
        "a refused statement writes nothing"
    );

    let with_impact = p.vex_add(&[
        "RUSTSEC-2021-0003",
        "--product",
        "vulnerable-app",
        "--status",
        "not_affected",
        "--statement",
        "insert_many is never called",
    ]);
    assert_eq!(with_impact.code, 0, "{}", with_impact.stderr);

    // A hand-edited file with such a statement is refused by the scan too.
    let hand = p.dir().join("hand.openvex.json");
    std::fs::write(
        &hand,
        r#"{"@context": "https://openvex.dev/ns/v0.2.0", "@id": "urn:x", "author": "a",
            "timestamp": "2026-01-01T00:00:00Z", "version": 1, "statements": [
            {"vulnerability": {"name": "RUSTSEC-2021-0003"}, "products": [{"@id": "vulnerable-app"}],
             "status": "not_affected"}]}"#,
    )
    .unwrap();
    let r = p.scan(&vulnerable_lock(), &["--vex", hand.to_str().unwrap()]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("hand.openvex.json"), "{}", r.stderr);
}

#[test]
fn every_change_bumps_the_version_and_keeps_the_id() {
    let p = Project::new();
    not_affected(&p, "RUSTSEC-2021-0003");
    let first: serde_json::Value =
        serde_json::from_slice(&std::fs::read(p.dir().join(FILE)).unwrap()).unwrap();
    assert_eq!(first["@context"], "https://openvex.dev/ns/v0.2.0");
    assert_eq!(first["author"], "custody");
    assert_eq!(first["version"], 1);
    not_affected(&p, "RUSTSEC-2022-0013");
    let second: serde_json::Value =
        serde_json::from_slice(&std::fs::read(p.dir().join(FILE)).unwrap()).unwrap();
    assert_eq!(second["version"], 2);
    assert_eq!(second["@id"], first["@id"]);
    assert_eq!(second["statements"].as_array().unwrap().len(), 2);
}

#[test]
fn a_lockfile_without_its_manifest_needs_product() {
    let p = Project::new();
    not_affected(&p, "RUSTSEC-2021-0003");
    let bare = p.dir().join("bare/Cargo.lock");
    std::fs::create_dir_all(bare.parent().unwrap()).unwrap();
    std::fs::copy(vulnerable_lock(), &bare).unwrap();
    let r = p.scan(&bare, &["--json", "--vex", FILE]);
    assert!(r.stderr.contains("pass --product"), "{}", r.stderr);
    let (_, named) = p.scan_vex(&bare, FILE, &["--product", "vulnerable-app"]);
    assert_eq!(strings(&named["suppressed"]), ["RUSTSEC-2021-0003"]);
}
