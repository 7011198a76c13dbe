//! The release gate: `custody release --sbom` scans the SBOM against the project's advisory
//! database and refuses a release with an uncovered vulnerability at or above `[vulndb]
//! fail_on`, before anything is signed; what it decided is published and signed with the
//! release, with the product's VEX documents in OpenVEX and CycloneDX form.
//!
//! The lockfile pins smallvec 0.6.13 (RUSTSEC-2021-0003, CVSS 9.8 critical), regex 1.5.4
//! (RUSTSEC-2022-0013, 7.5 high) and time 0.1.43 (RUSTSEC-2020-0071, 6.2 medium), from the
//! crates.io OSV snapshot in `testdata/`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Command;

use common::{Project, git};

/// A project whose `app/Cargo.lock` has the three vulnerable crates, committed.
fn project() -> Project {
    let p = Project::new("ed25519");
    p.write_vulnerable_app();
    git(p.dir(), &["add", "-A"]);
    git(p.dir(), &["commit", "-q", "-m", "app"]);
    p.artifact("app.tgz", b"app");
    p
}

fn import_db(p: &Project) {
    let src = common::advisories().join("crates.io");
    let r = p.run(&["db", "import", src.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

fn release(p: &Project, version: &str, extra: &[&str]) -> common::Run {
    let mut args = vec![
        "release",
        "dist/app.tgz",
        "--product",
        "app",
        "--version",
        version,
        "--sbom",
        "app/Cargo.lock",
    ];
    args.extend(extra);
    p.run(&args)
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The attestation beside `doc` is signed over the release's artifact and carries `doc` itself.
fn assert_attested(dir: &Path, doc: &str, predicate_type: &str) -> serde_json::Value {
    let plain = read_json(&dir.join(doc));
    let stmt = common::statement(&dir.join(format!("{doc}.sigstore.json")));
    assert_eq!(stmt["predicateType"], predicate_type, "{doc}");
    assert_eq!(
        stmt["predicate"], plain,
        "{doc}: the attested predicate is the file"
    );
    assert_eq!(stmt["subject"][0]["name"], "app.tgz");
    plain
}

#[test]
fn no_database_is_a_clear_error_unless_no_scan_is_given() {
    let p = project();
    let r = release(&p, "1.0.0", &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("no advisories imported"), "{}", r.stderr);
    assert!(r.stderr.contains("--no-scan"), "{}", r.stderr);
    assert!(!p.release_dir("app", "1.0.0").exists());

    let r = release(&p, "1.0.0", &["--no-scan", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("without a vulnerability scan"),
        "{}",
        r.stderr
    );
    assert_eq!(r.json()["scan"]["scanned"], false);
    let scan = assert_attested(
        &p.release_dir("app", "1.0.0"),
        "scan.json",
        "https://custody.dev/scan/v1",
    );
    assert_eq!(scan["scanned"], false);
    assert_eq!(scan["skipped_because"], "custody release --no-scan");
}

#[test]
fn uncovered_vulnerabilities_refuse_the_release_and_say_which_and_why() {
    let p = project();
    import_db(&p);
    let r = release(&p, "1.0.0", &[]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let err = &r.stderr;
    assert!(err.contains("release refused: 2 vulnerabilities"), "{err}");
    assert!(err.contains("fail_on = high"), "{err}");
    assert!(
        err.contains(
            "RUSTSEC-2021-0003 in smallvec 0.6.13: critical 9.8; fix: 0.6.14; no VEX statement"
        ),
        "{err}"
    );
    assert!(
        err.contains("RUSTSEC-2022-0013 in regex 1.5.4: high 7.5"),
        "{err}"
    );
    assert!(
        !err.contains("RUSTSEC-2020-0071"),
        "medium is under the threshold: {err}"
    );
    assert!(!p.release_dir("app", "1.0.0").exists());
    // Refused before signing: nothing reached the transparency log either.
    assert!(!p.site().join("log/checkpoint").exists());

    // An `affected` statement is not a suppression: still refused, and it says so.
    let r = p.run(&[
        "vex",
        "add",
        "RUSTSEC-2022-0013",
        "--product",
        "app",
        "--status",
        "affected",
        "--statement",
        "upgrade regex",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = release(&p, "1.0.0", &[]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("VEX says affected"), "{}", r.stderr);
}

#[test]
fn fail_on_none_turns_the_gate_off_and_a_bad_value_is_refused() {
    let p = project();
    import_db(&p);
    let config = p.dir().join("custody.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace("fail_on = \"high\"", "fail_on = \"severe\""),
    )
    .unwrap();
    git(p.dir(), &["commit", "-q", "-am", "typo"]);
    let r = release(&p, "1.0.0", &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("\"severe\""), "{}", r.stderr);

    std::fs::write(
        &config,
        text.replace("fail_on = \"high\"", "fail_on = \"none\""),
    )
    .unwrap();
    git(p.dir(), &["commit", "-q", "-am", "no gate"]);
    let r = release(&p, "1.0.0", &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let scan = read_json(&p.release_dir("app", "1.0.0").join("scan.json"));
    assert_eq!(scan["scanned"], true);
    assert_eq!(scan["fail_on"], "never");
    assert_eq!(scan["counts"]["vulnerabilities"], 3);
}

fn validate_cyclonedx(file: &Path) {
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../custody-sbom/tests/validate_sbom.py");
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let run = Command::new(&python)
        .arg(&script)
        .arg(file)
        .output()
        .unwrap_or_else(|e| panic!("cannot run `{python}` ({e})"));
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(
        run.status.code(),
        Some(0),
        "CycloneDX VEX failed validation (exit 2: validators not installed, see \
         crates/custody-sbom/tests/requirements.txt):\n{stdout}\n{stderr}"
    );
}

#[test]
fn vex_statements_let_the_release_through_and_are_published_signed_in_both_forms() {
    let p = project();
    import_db(&p);
    for (id, justification) in [
        ("RUSTSEC-2021-0003", "vulnerable_code_not_in_execute_path"),
        // By an alias: the CVE of the regex advisory.
        (
            "CVE-2022-24713",
            "vulnerable_code_cannot_be_controlled_by_adversary",
        ),
    ] {
        let r = p.run(&[
            "vex",
            "add",
            id,
            "--product",
            "app",
            "--status",
            "not_affected",
            "--justification",
            justification,
        ]);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    // Another product's statements are neither applied nor published.
    let r = p.run(&[
        "vex",
        "add",
        "RUSTSEC-2020-0071",
        "--product",
        "other",
        "--status",
        "under_investigation",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);

    let r = release(&p, "1.0.0", &["--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report = r.json();
    assert_eq!(report["scan"]["scanned"], true);
    assert_eq!(report["scan"]["fail_on"], "high");
    let mut suppressed: Vec<&str> = report["scan"]["suppressed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    suppressed.sort();
    assert_eq!(suppressed, ["RUSTSEC-2021-0003", "RUSTSEC-2022-0013"]);

    let dir = p.release_dir("app", "1.0.0");
    let scan = assert_attested(&dir, "scan.json", "https://custody.dev/scan/v1");
    assert_eq!(scan["product"], "app");
    assert_eq!(scan["version"], "1.0.0");
    assert_eq!(scan["counts"]["vulnerabilities"], 3);
    assert_eq!(scan["database"]["sources"][0]["name"], "crates.io");
    let findings = scan["findings"].as_array().unwrap();
    let smallvec = findings
        .iter()
        .find(|f| f["id"] == "RUSTSEC-2021-0003")
        .unwrap();
    assert_eq!(smallvec["vex"]["status"], "not_affected");

    let openvex = assert_attested(&dir, "app.openvex.json", "https://openvex.dev/ns/v0.2.0");
    assert_eq!(openvex["statements"].as_array().unwrap().len(), 2);
    assert!(!dir.join("other.openvex.json").exists());

    let cdx = assert_attested(&dir, "vex.cdx.json", "https://cyclonedx.org/bom");
    assert_eq!(cdx["specVersion"], "1.6");
    assert_eq!(cdx["metadata"]["component"]["name"], "app");
    assert_eq!(cdx["metadata"]["component"]["version"], "1.0.0");
    let vulns = cdx["vulnerabilities"].as_array().unwrap();
    assert_eq!(vulns.len(), 2);
    assert_eq!(vulns[0]["id"], "RUSTSEC-2021-0003");
    assert_eq!(vulns[0]["analysis"]["state"], "not_affected");
    assert_eq!(vulns[0]["analysis"]["justification"], "code_not_reachable");
    assert_eq!(vulns[1]["id"], "CVE-2022-24713");
    assert_eq!(
        vulns[1]["analysis"]["justification"],
        "requires_environment"
    );
    assert_eq!(
        vulns[0]["affects"][0]["ref"],
        cdx["metadata"]["component"]["bom-ref"]
    );
    validate_cyclonedx(&dir.join("vex.cdx.json"));

    // Every attestation verifies with the site's trust files, like the artifact's own.
    let r = p.verify(&dir.join("app.tgz"), &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);

    // The suppression is about the product, so the next version passes the gate too.
    let r = release(&p, "1.1.0", &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}
