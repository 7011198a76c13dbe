//! M-of-N release approval end to end: a product whose policy names approvers has its releases
//! held until enough of them sign; customers (`custody verify`, `custody update`) check the same
//! threshold, and M-1 approvals, a non-approver, the same approver twice, or approvals removed
//! after publishing are each refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use common::{Project, Run};

fn release(p: &Project, version: &str) -> Run {
    let name = format!("app-{version}.tar.gz");
    p.artifact(&name, format!("app {version}").as_bytes());
    p.run(&[
        "release",
        &format!("dist/{name}"),
        "--product",
        "app",
        "--version",
        version,
        "--json",
    ])
}

/// An approver's key pair in `dist/` (which the project ignores): the private key path.
fn approver(p: &Project, name: &str) -> String {
    let out = format!("dist/{name}.key");
    let r = p.run(&["key", "generate", "--out", &out]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    out
}

fn approve(p: &Project, version: &str, key: &str) -> Run {
    p.run(&["release", "approve", "app", version, "--key", key, "--json"])
}

fn check<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no {name} check in {report}"))
}

fn verify_json(p: &Project, artifact: &Path) -> (i32, serde_json::Value) {
    let r = p.verify(artifact, &["--json"]);
    (r.code, r.json())
}

fn with_repo_and_approvers() -> (Project, [String; 4]) {
    let p = Project::new("ed25519");
    let r = p.run(&["repo", "init", "--root-keys", "1", "--root-threshold", "1"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let keys = ["alice", "bob", "carol", "mallory"].map(|n| approver(&p, n));
    (p, keys)
}

fn set_rule(p: &Project, threshold: &str, keys: &[&String]) -> Run {
    let mut args = vec![
        "key",
        "approvers",
        "app",
        "--threshold",
        threshold,
        "--json",
    ];
    let pubs: Vec<String> = keys.iter().map(|k| format!("{k}.pub")).collect();
    for k in &pubs {
        args.extend(["--approver", k.as_str()]);
    }
    p.run(&args)
}

#[test]
fn a_release_waits_for_m_of_n_approvers_and_customers_check_the_threshold() {
    let (p, [alice, bob, carol, mallory]) = with_repo_and_approvers();
    // Released before the rule: needs no approval, then or later.
    let r = release(&p, "1.0.0");
    assert_eq!(r.code, 0, "{}", r.stderr);

    let r = set_rule(&p, "2", &[&alice, &bob, &carol]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rule = r.json();
    assert_eq!(rule["threshold"], 2);
    assert_eq!(rule["approvers"].as_array().unwrap().len(), 3);
    assert_eq!(rule["through_tuf"], true);
    let history = p.run(&["key", "history", "--json"]);
    assert!(
        history.stdout.contains("\"approvers\""),
        "{}",
        history.stdout
    );

    // Signed and logged, but held off the site.
    let r = release(&p, "1.1.0");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let held = r.json();
    assert_eq!(held["awaiting_approval"]["threshold"], 2);
    let held_dir = p
        .dir()
        .join(held["awaiting_approval"]["dir"].as_str().unwrap());
    assert!(held_dir.join("manifest.json").is_file());
    assert!(!p.release_dir("app", "1.1.0").exists());
    // Releasing the same version again while it waits is refused.
    let r = release(&p, "1.1.0");
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("awaits approval"), "{}", r.stderr);

    // A version nobody released is not waiting for anyone.
    let r = p.run(&["release", "publish", "app", "2.0.0"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("no release of app 2.0.0 awaits approval"),
        "{}",
        r.stderr
    );
    let r = approve(&p, "2.0.0", &alice);
    assert_eq!(r.code, 1, "{}", r.stderr);
    // No approvals yet: publishing is refused, and nothing moves.
    let r = p.run(&["release", "publish", "app", "1.1.0"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("needs approval by 2 of its 3 approvers"),
        "{}",
        r.stderr
    );
    assert!(!p.release_dir("app", "1.1.0").exists());

    // A key that is not an approver is refused.
    let r = approve(&p, "1.1.0", &mallory);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("is not an approver of app"),
        "{}",
        r.stderr
    );

    // M-1 approvals, and the same approver twice, do not publish.
    let r = approve(&p, "1.1.0", &alice);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["ready"], false);
    let r = approve(&p, "1.1.0", &alice);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("already"), "{}", r.stderr);
    let r = p.run(&["release", "publish", "app", "1.1.0"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("1 did"), "{}", r.stderr);

    let r = approve(&p, "1.1.0", &carol);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["ready"], true);
    let r = p.run(&["release", "publish", "app", "1.1.0", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let targets = r.json()["tuf_targets"].to_string();
    assert!(targets.contains("app/1.1.0/approvals.json"), "{targets}");
    assert!(targets.contains("app/1.1.0/manifest.json"), "{targets}");
    assert!(!held_dir.exists());
    let released = p.release_dir("app", "1.1.0");
    let artifact = released.join("app-1.1.0.tar.gz");

    let (code, report) = verify_json(&p, &artifact);
    assert_eq!(code, 0, "{report}");
    let approval = check(&report, "approval");
    assert_eq!(approval["status"], "pass", "{approval}");
    assert!(
        approval["detail"]
            .as_str()
            .unwrap()
            .contains("approved by 2 of 3 approvers"),
        "{approval}"
    );
    let (code, report) = verify_json(&p, &p.release_dir("app", "1.0.0").join("app-1.0.0.tar.gz"));
    assert_eq!(code, 0, "{report}");
    assert_eq!(check(&report, "approval")["status"], "skipped");

    // A customer taking the release through TUF checks the approvals that came with it.
    let dest = p.dir().join("dist/installed");
    let root = p.site().join("tuf/metadata/1.root.json");
    let r = p.run(&[
        "update",
        "--repo",
        p.site().join("tuf").to_str().unwrap(),
        "--root",
        root.to_str().unwrap(),
        "--product",
        "app",
        "--dir",
        dest.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(dest.join("1.1.0/approvals.json").is_file());

    // Approvals taken away after publishing: M-1, or one approver counted twice, fail.
    let file = released.join("approvals.json");
    let original = std::fs::read_to_string(&file).unwrap();
    // Publishing logged each approval: one stripped of its log entry does not count.
    let mut unlogged: serde_json::Value = serde_json::from_str(&original).unwrap();
    for a in unlogged["approvals"].as_array_mut().unwrap() {
        assert!(
            a["verificationMaterial"]["tlogEntries"][0]["logIndex"].is_string(),
            "{a}"
        );
        a["verificationMaterial"]
            .as_object_mut()
            .unwrap()
            .remove("tlogEntries");
    }
    std::fs::write(&file, unlogged.to_string()).unwrap();
    let (code, report) = verify_json(&p, &artifact);
    assert_eq!(code, 1, "{report}");
    let detail = check(&report, "approval")["detail"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(detail.contains("approval is not logged"), "{detail}");
    std::fs::write(&file, &original).unwrap();
    let mut doc: serde_json::Value = serde_json::from_str(&original).unwrap();
    let list = doc["approvals"].as_array_mut().unwrap();
    let first = list[0].clone();
    list[1] = first;
    std::fs::write(&file, doc.to_string()).unwrap();
    let (code, report) = verify_json(&p, &artifact);
    assert_eq!(code, 1, "{report}");
    let detail = check(&report, "approval")["detail"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(detail.contains("approved twice; counted once"), "{detail}");
    std::fs::remove_file(&file).unwrap();
    let (code, report) = verify_json(&p, &artifact);
    assert_eq!(code, 1, "{report}");
    assert!(
        check(&report, "approval")["detail"]
            .as_str()
            .unwrap()
            .contains("none approved it"),
        "{report}"
    );
    // Without the manifest the approvals sign, it cannot be checked: a failure, not a pass.
    std::fs::write(&file, &original).unwrap();
    let elsewhere = p.dir().join("dist/bundle-alone.sigstore.json");
    std::fs::copy(released.join("app-1.1.0.tar.gz.sigstore.json"), &elsewhere).unwrap();
    let r = p.verify(
        &artifact,
        &["--bundle", elsewhere.to_str().unwrap(), "--json"],
    );
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stdout.contains("no manifest.json was given"),
        "{}",
        r.stdout
    );
}

#[test]
fn an_approval_rule_is_checked_before_it_is_published() {
    let (p, [alice, bob, _, _]) = with_repo_and_approvers();
    // No rule yet: nothing to approve.
    let r = approve(&p, "1.0.0", &alice);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("asks no approvals of app"),
        "{}",
        r.stderr
    );
    // More approvals than approvers.
    let r = set_rule(&p, "3", &[&alice, &bob]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("threshold"), "{}", r.stderr);
    // The same approver twice.
    let r = set_rule(&p, "2", &[&alice, &alice]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("approver is named twice"), "{}", r.stderr);
    // The release key is not a second pair of eyes.
    let release_key = ".custody/release.key".to_owned();
    let r = set_rule(&p, "1", &[&release_key, &alice]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("approver"), "{}", r.stderr);
    // Nothing was written: releases are not held.
    let policy = std::fs::read_to_string(p.site().join("custody-policy.json")).unwrap();
    assert!(!policy.contains("approvals"), "{policy}");
    let r = release(&p, "1.0.0");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(p.release_dir("app", "1.0.0").exists());
}
