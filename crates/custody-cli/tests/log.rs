//! `custody log` over a site that two releases wrote into: every bundle is an entry, proofs
//! verify against the published checkpoint, lookups by artifact digest find their entries.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Project;
use custody_tlog::{NoteVerifier, TlogProof};

#[test]
fn releases_are_logged_and_the_log_answers_lookups_and_proofs() {
    let p = Project::new("ed25519");
    p.release(); // 2 artifacts: 2 artifact bundles, provenance, manifest
    p.artifact("app-1.4.3.tar.gz", b"tarball bytes");
    let r = p.run(&[
        "release",
        "dist/app-1.4.3.tar.gz",
        "--product",
        "app",
        "--version",
        "1.4.3",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Issue 15: the published log/ holds only the log's files; writes are staged elsewhere.
    let published: Vec<String> = std::fs::read_dir(p.site().join("log"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        published.iter().all(|n| !n.starts_with('.')),
        "{published:?}"
    );

    let r = p.run(&["--json", "log", "checkpoint"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let cp = r.json();
    assert_eq!(cp["size"], 4 + 3);
    assert_eq!(cp["origin"], "custody.local/log");

    // The same tarball bytes were released twice: both artifact bundles are found.
    let sha = custody_crypto::Sha256Digest::of(b"tarball bytes").to_hex();
    let r = p.run(&["--json", "log", "lookup", &format!("sha256:{sha}")]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let entries: Vec<u64> = serde_json::from_value(r.json()["entries"].clone()).unwrap();
    assert_eq!(entries.len(), 2, "{entries:?}");

    let vkey = std::fs::read_to_string(p.site().join("log/vkey")).unwrap();
    let verifier = NoteVerifier::parse(vkey.trim()).unwrap();
    for index in entries {
        let r = p.run(&["log", "get", "--index", &index.to_string()]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let entry = r.stdout.trim_end().as_bytes().to_vec();
        let body: serde_json::Value = serde_json::from_slice(&entry).unwrap();
        assert_eq!(body["kind"], "dsse");
        assert_eq!(body["apiVersion"], "0.0.2");
        let r = p.run(&["log", "prove", "--index", &index.to_string()]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let proof = TlogProof::parse(r.stdout.as_bytes()).unwrap();
        proof
            .verify(&entry, "custody.local/log", &verifier)
            .unwrap();
    }

    let r = p.run(&["log", "get", "--index", "7"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("not in a tree of size 7"), "{}", r.stderr);
}

#[test]
fn a_forged_checkpoint_is_refused() {
    let p = Project::new("ed25519");
    p.release();
    let cp_path = p.site().join("log/checkpoint");
    let text = std::fs::read_to_string(&cp_path).unwrap();
    let mut lines: Vec<&str> = text.split('\n').collect();
    lines[1] = "1000";
    std::fs::write(&cp_path, lines.join("\n")).unwrap();
    let r = p.run(&["log", "checkpoint"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("checkpoint"), "{}", r.stderr);
}

fn copy_dir(src: &std::path::Path, dst: &std::path::Path) {
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        let to = dst.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to);
        } else {
            std::fs::copy(e.path(), &to).unwrap();
        }
    }
}

#[test]
fn monitor_follows_growth_and_reports_a_split_view_with_evidence() {
    let p = Project::new("ed25519");
    p.release();
    let r = p.run(&["--json", "log", "monitor"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.json()["observation"]
            .as_str()
            .unwrap()
            .starts_with("First")
    );

    // A fork: the same project (same log key and state) copied, then each copy releases
    // something different. Both logs are validly signed, at the same size, with different trees.
    let fork = tempfile::tempdir().unwrap();
    copy_dir(p.dir(), fork.path());
    p.artifact("b.bin", b"honest");
    assert_eq!(
        p.run(&[
            "release",
            "dist/b.bin",
            "--product",
            "app",
            "--version",
            "2.0.0"
        ])
        .code,
        0
    );
    std::fs::write(fork.path().join("dist/b.bin"), b"evil").unwrap();
    let r: common::Run = common::custody()
        .current_dir(fork.path())
        .args([
            "release",
            "dist/b.bin",
            "--product",
            "app",
            "--version",
            "2.0.0",
        ])
        .output()
        .unwrap()
        .into();
    assert_eq!(r.code, 0, "{}", r.stderr);

    let r = p.run(&["--json", "log", "monitor"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.json()["observation"]
            .as_str()
            .unwrap()
            .starts_with("Advanced"),
        "{}",
        r.stdout
    );

    // Now shown the fork's log: same size, different root, both signed by the log's key.
    let fork_log = fork.path().join("site/log");
    let r = p.run(&[
        "log",
        "monitor",
        "--log",
        fork_log.to_str().unwrap(),
        "--vkey",
        "site/log/vkey",
    ]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("SPLIT VIEW"), "{}", r.stdout);
    let honest_cp = std::fs::read_to_string(p.site().join("log/checkpoint")).unwrap();
    let fork_cp = std::fs::read_to_string(fork_log.join("checkpoint")).unwrap();
    assert!(
        r.stdout.contains(&honest_cp) && r.stdout.contains(&fork_cp),
        "evidence: {}",
        r.stdout
    );

    // The monitor kept trusting the honest checkpoint.
    let r = p.run(&["--json", "log", "monitor"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.json()["observation"]
            .as_str()
            .unwrap()
            .starts_with("Unchanged"),
        "{}",
        r.stdout
    );
}

/// A bundle signed with the project's release key that no log has seen: a statement about
/// `artifact`, the way another tool (or an older custody) would have left it.
#[test]
fn append_logs_an_existing_bundle_once_and_entries_are_found_by_digest() {
    let p = Project::new("ed25519");
    p.release();
    let bundle = p.unlogged_bundle(b"tool bytes");
    let r = p.run(&["--json", "log", "append", bundle.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["index"], "4");

    // The rewritten bundle carries its entry, with a proof against the published checkpoint.
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&bundle).unwrap()).unwrap();
    let entry = &written["verificationMaterial"]["tlogEntries"][0];
    assert_eq!(entry["logIndex"], "4");
    assert_eq!(entry["inclusionProof"]["treeSize"], "5");
    let cp = std::fs::read_to_string(p.site().join("log/checkpoint")).unwrap();
    assert_eq!(entry["inclusionProof"]["checkpoint"]["envelope"], cp);
    let parsed = custody_attest::bundle::parse(&std::fs::read(&bundle).unwrap()).unwrap();
    let trust = custody_attest::trust::TrustedRoot::from_json(
        &std::fs::read(p.site().join("trusted_root.json")).unwrap(),
    )
    .unwrap();
    let policy = custody_attest::trust::Policy::from_json(
        &std::fs::read(p.site().join("custody-policy.json")).unwrap(),
    )
    .unwrap();
    let key = policy
        .key_for(&parsed.hint, jiff::Timestamp::now(), None)
        .unwrap();
    custody_attest::tlog::verify_entry(
        &parsed.tlog_entries[0],
        &parsed.envelope,
        key,
        &trust.trusted_logs().unwrap(),
        jiff::Timestamp::now(),
    )
    .unwrap();

    // Logged already: the bundle says so.
    let r = p.run(&["log", "append", bundle.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("already logged"), "{}", r.stderr);
    // Its entry stripped, the log itself still knows the signature.
    let stripped = bundle.with_file_name("stripped.sigstore.json");
    std::fs::write(
        &stripped,
        custody_attest::bundle::to_json(&parsed.bundle).unwrap(),
    )
    .unwrap();
    let r = p.run(&["log", "append", stripped.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("already in the log, at index 4"),
        "{}",
        r.stderr
    );

    // --digest selects through the lookup index, for get and prove alike.
    let sha = custody_crypto::Sha256Digest::of(b"tool bytes").to_hex();
    let r = p.run(&["--json", "log", "get", "--digest", &format!("sha256:{sha}")]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["entries"][0]["index"], 4);
    let r = p.run(&["log", "prove", "--digest", &sha]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let proof = TlogProof::parse(r.stdout.as_bytes()).unwrap();
    assert_eq!(proof.index, 4);
    let r = p.run(&["log", "get", "--digest", &"0".repeat(64)]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("no entries name"), "{}", r.stderr);
    let r = p.run(&["log", "get", "--index", "1", "--digest", &sha]);
    assert_eq!(r.code, 2);
}

#[test]
fn append_refuses_a_signature_no_policy_key_verifies() {
    let p = Project::new("ed25519");
    let bundle = p.unlogged_bundle(b"tool bytes");
    // Flip one signature byte.
    let mut v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&bundle).unwrap()).unwrap();
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let sig = v["dsseEnvelope"]["signatures"][0]["sig"].as_str().unwrap();
    let mut raw = b64.decode(sig).unwrap();
    raw[0] ^= 1;
    v["dsseEnvelope"]["signatures"][0]["sig"] = b64.encode(raw).into();
    std::fs::write(&bundle, serde_json::to_vec(&v).unwrap()).unwrap();
    let before = std::fs::read(&bundle).unwrap();
    let r = p.run(&["log", "append", bundle.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("signature"), "{}", r.stderr);
    assert_eq!(std::fs::read(&bundle).unwrap(), before);
    let r = p.run(&["--json", "log", "checkpoint"]);
    assert_eq!(r.json()["size"], 0);
}

#[test]
fn a_lost_lookup_index_refuses_lookups_until_reindexed_from_the_site() {
    let p = Project::new("ed25519");
    p.release(); // app 1.4.2: app-1.4.2.tar.gz and app-1.4.2.zip
    p.artifact("app-1.4.3.tar.gz", b"tarball bytes");
    let r = p.run(&[
        "release",
        "dist/app-1.4.3.tar.gz",
        "--product",
        "app",
        "--version",
        "1.4.3",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lookup = |sha: &str| p.run(&["--json", "log", "lookup", &format!("sha256:{sha}")]);
    let tarball = custody_crypto::Sha256Digest::of(b"tarball bytes").to_hex();
    let r = lookup(&tarball);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let before: Vec<u64> = serde_json::from_value(r.json()["entries"].clone()).unwrap();
    assert_eq!(before.len(), 2);

    // The log's private state is lost: a lookup would now miss every entry, so it refuses.
    std::fs::remove_dir_all(p.dir().join(".custody/log-state")).unwrap();
    let r = lookup(&tarball);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stderr.contains("does not cover the whole log"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("custody log reindex"), "{}", r.stderr);

    // Releasing goes on meanwhile, and lookups still refuse: the new index is partial.
    p.artifact("app-1.4.4.tar.gz", b"another tarball");
    let r = p.run(&[
        "release",
        "dist/app-1.4.4.tar.gz",
        "--product",
        "app",
        "--version",
        "1.4.4",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(lookup(&tarball).code, 1);

    // A bundle on the site whose signature is not the one its entry records is not trusted.
    let zip_bundle = p
        .release_dir("app", "1.4.2")
        .join("app-1.4.2.zip.sigstore.json");
    let mut bundle: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&zip_bundle).unwrap()).unwrap();
    let sig = bundle["dsseEnvelope"]["signatures"][0]["sig"]
        .as_str()
        .unwrap()
        .to_owned();
    let forged = format!(
        "{}{}",
        if sig.starts_with('A') { 'B' } else { 'A' },
        &sig[1..]
    );
    assert_ne!(forged, sig);
    bundle["dsseEnvelope"]["signatures"][0]["sig"] = serde_json::Value::String(forged);
    std::fs::write(&zip_bundle, bundle.to_string()).unwrap();

    let r = p.run(&["--json", "log", "reindex"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report = r.json();
    // Four artifact bundles on the site, one of them forged.
    assert_eq!(report["bundles"], 4, "{report}");
    assert_eq!(report["indexed"], 3, "{report}");
    assert!(
        r.stderr.contains("app-1.4.2.zip.sigstore.json"),
        "{}",
        r.stderr
    );

    let r = lookup(&tarball);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let after: Vec<u64> = serde_json::from_value(r.json()["entries"].clone()).unwrap();
    assert_eq!(after, before, "the same entries as before the loss");
    let r = lookup(&custody_crypto::Sha256Digest::of(b"another tarball").to_hex());
    assert_eq!(r.code, 0, "{}", r.stderr);
}
