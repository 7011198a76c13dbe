//! `custody evidence`: the signed evidence bundle, the HTML report rendered by headless
//! Chromium and printed to PDF (read back with pdftotext), and the OSCAL export read back by
//! compliance-trestle; every number in the report is checked against the release's own files.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Command;

use common::{AdvisoryFeed, Project, git, python, statement};
use serde_json::Value;

/// A release of app 1.0.0 with an SBOM scanned against real advisories (the gate set to
/// record, not refuse), inside a TUF repository, checked for reproducibility.
fn released() -> Project {
    let p = Project::new("ed25519");
    let r = p.run(&["repo", "init"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let config = p.dir().join("custody.toml");
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("fail_on = \"high\"", "fail_on = \"none\"");
    std::fs::write(&config, text).unwrap();
    p.write_vulnerable_app();
    git(p.dir(), &["add", "-A"]);
    git(p.dir(), &["commit", "-q", "-m", "app"]);
    let feed = AdvisoryFeed::new();
    for id in ["RUSTSEC-2021-0003", "RUSTSEC-2020-0071"] {
        feed.add(id);
    }
    feed.import(&p);
    p.artifact("app-1.0.0.tar.gz", b"the app");
    let r = p.run(&[
        "release",
        "dist/app-1.0.0.tar.gz",
        "--product",
        "app",
        "--version",
        "1.0.0",
        "--sbom",
        "app",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = p.run(&[
        "rebuild-check",
        "--release",
        p.release_dir("app", "1.0.0").to_str().unwrap(),
        "--artifacts",
        "dist",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    p
}

fn json_file(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The text of the element with `id` in the report.
fn number(html: &str, id: &str) -> String {
    let start = html
        .find(&format!("id=\"{id}\">"))
        .unwrap_or_else(|| panic!("no #{id}"))
        + id.len()
        + 6;
    html[start..].split('<').next().unwrap().to_owned()
}

#[test]
fn the_evidence_is_signed_reported_printed_and_exported_from_the_release_itself() {
    let p = released();
    let out = p.dir().join("dist/evidence");
    let r = p.run(&[
        "evidence",
        "app",
        "1.0.0",
        "--out",
        out.to_str().unwrap(),
        "--pdf",
        "--json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let written = r.json();
    assert_eq!(written["verified"], true, "{written}");

    // One signed, logged evidence bundle about the release's artifacts.
    let bundle = json_file(&out.join("evidence.json.sigstore.json"));
    assert!(bundle["verificationMaterial"]["tlogEntries"][0]["logIndex"].is_string());
    let stmt = statement(&out.join("evidence.json.sigstore.json"));
    assert_eq!(stmt["predicateType"], "https://custody.dev/evidence/v1");
    assert_eq!(stmt["predicate"], json_file(&out.join("evidence.json")));
    let evidence = json_file(&out.join("evidence.json"));

    // Every number the report shows comes from the release's files.
    let release = p.release_dir("app", "1.0.0");
    let cdx = json_file(&release.join("sbom.cdx.json"));
    let components = cdx["components"].as_array().unwrap().len();
    let scan = json_file(&release.join("scan.json"));
    let findings = scan["findings"].as_array().unwrap().len();
    assert!(findings > 0, "the fixture should have findings: {scan}");
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert_eq!(number(&html, "artifacts"), "1");
    assert_eq!(number(&html, "logged"), "1");
    assert_eq!(number(&html, "components"), components.to_string());
    assert_eq!(number(&html, "findings"), findings.to_string());
    assert_eq!(evidence["sbom"]["components"], components);
    assert_eq!(evidence["scan"]["findings"], findings);
    let artifact_bundle = json_file(&release.join("app-1.0.0.tar.gz.sigstore.json"));
    let index = artifact_bundle["verificationMaterial"]["tlogEntries"][0]["logIndex"]
        .as_str()
        .unwrap();
    assert!(html.contains(&format!("entry {index}, proved")), "{html}");
    let sha = custody_crypto::Sha256Digest::of(b"the app").to_hex();
    assert!(html.contains(&sha));
    assert_eq!(evidence["reproducibility"]["reproduced"], true);
    let evidenced = evidence["ssdf"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["support"] == "evidenced")
        .count();
    assert_eq!(
        number(&html, "ssdf"),
        format!(
            "{evidenced} / {}",
            evidence["ssdf"].as_array().unwrap().len()
        )
    );
    // What custody cannot know is said to be unknown, not assumed.
    let form = evidence["attestation_form"].as_array().unwrap();
    let access = form
        .iter()
        .find(|f| f["section"] == "Section III (1a)")
        .unwrap();
    assert_eq!(access["known"], false);
    assert!(access["answer"].as_str().unwrap().contains("cannot know"));
    // The threats the guide names, each with its control.
    let threats: Vec<&str> = evidence["threats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["threat"].as_str().unwrap())
        .collect();
    assert_eq!(threats.len(), 6, "{threats:?}");
    let exploited = &evidence["threats"][2];
    assert_eq!(exploited["threat"], "An exploited build");
    assert_eq!(exploited["on"], true, "the rebuild reproduced: {exploited}");

    // The HTML renders in headless Chromium.
    let profile = tempfile::tempdir().unwrap();
    let dom = Command::new("chromium")
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("file://{}", out.join("report.html").display()))
        .output()
        .expect("chromium (.ci/run installs it)");
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(dom.contains("NIST SSDF (SP 800-218) tasks"), "{dom}");
    assert!(dom.contains(&format!(">{components}<")), "{dom}");

    // The PDF has the report's sections, on more than one page.
    let pdf = out.join("report.pdf");
    let text = Command::new("pdftotext")
        .arg(&pdf)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils; .ci/run installs it)");
    assert!(text.status.success());
    let text = String::from_utf8_lossy(&text.stdout);
    for section in [
        "Evidence: app 1.0.0",
        "Threat model",
        "NIST SSDF (SP 800-218) tasks",
        "CISA Secure Software Development Attestation Form",
    ] {
        assert!(text.contains(section), "{section} not in the PDF:\n{text}");
    }
    assert!(text.contains(&components.to_string()));
    let pages = text.matches('\u{c}').count();
    assert!(pages >= 2, "{pages} page(s)");

    // The OSCAL export is read back by compliance-trestle.
    let check = Command::new(python())
        .arg("-c")
        .arg(
            "import pathlib, sys\n\
             from trestle.oscal.assessment_results import AssessmentResults\n\
             from trestle.oscal.catalog import Catalog\n\
             ar = AssessmentResults.oscal_read(pathlib.Path(sys.argv[1]))\n\
             cat = Catalog.oscal_read(pathlib.Path(sys.argv[2]))\n\
             ids = {c.id for g in cat.groups for c in g.controls}\n\
             chosen = [c.control_id for s in ar.results[0].reviewed_controls.control_selections for c in s.include_controls]\n\
             assert set(chosen) <= ids, set(chosen) - ids\n\
             print(len(ar.results[0].findings))\n",
        )
        .arg(out.join("oscal-assessment-results.json"))
        .arg(out.join("custody-ssdf-catalog.json"))
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "compliance-trestle refused the export (.ci/run installs it): {}",
        String::from_utf8_lossy(&check.stderr)
    );
    let judged = String::from_utf8_lossy(&check.stdout).trim().to_owned();
    assert_eq!(
        judged,
        (evidence["ssdf"].as_array().unwrap().len() + form.len()).to_string()
    );
}

#[test]
fn evidence_for_a_release_that_is_not_there_is_a_clear_error() {
    let p = Project::new("ed25519");
    let r = p.run(&["evidence", "app", "9.9.9", "--out", "dist/e"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("app/9.9.9"), "{}", r.stderr);
    assert!(!p.dir().join("dist/e/evidence.json.sigstore.json").exists());
    let r = p.run(&["evidence", "../app", "1.0.0"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
}
