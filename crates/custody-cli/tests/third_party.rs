//! Someone else's verifiers over our output: npm `@sigstore/verify` (sigstore-js) for the
//! bundles, PyPI `securesystemslib` for the DSSE envelopes, PyPI `in-toto-attestation` for the
//! Statement and SLSA predicate. Each must accept what we publish and reject what we reject,
//! wherever it checks that thing. `.ci/run` installs them (interop/package.json,
//! interop/requirements.txt); a missing checker fails the test rather than skipping it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::Project;

fn interop() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../interop")
}

fn python() -> String {
    std::env::var("CUSTODY_PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

struct Verdict {
    ok: bool,
    text: String,
}

fn run(cmd: &mut Command, what: &str) -> Verdict {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}; .ci/run installs it"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // A checker that could not even load is a broken environment, not a verdict.
    assert!(
        text.contains("VERIFIED") || text.contains("REJECTED"),
        "{what} did not run properly (run .ci/run or install interop/): {text}"
    );
    Verdict {
        ok: out.status.success(),
        text,
    }
}

/// `@sigstore/verify` with the site's trusted root and a transparency-log threshold of 1: the
/// bundle's log entry, inclusion proof and checkpoint must all verify.
fn sigstore_js(bundle: &Path, key: &Path, artifact: Option<&Path>, trusted_root: &Path) -> Verdict {
    assert!(
        interop().join("node_modules/@sigstore/verify").is_dir(),
        "interop/node_modules is missing: run `npm ci --prefix interop` (.ci/run does)"
    );
    let mut c = Command::new("node");
    c.arg(interop().join("sigstore_check.js"))
        .arg(bundle)
        .arg(key);
    // The script takes the artifact positionally before the root; "" stands for none.
    c.arg(artifact.map_or_else(Default::default, |a| a.as_os_str().to_owned()));
    c.arg(trusted_root).arg("1");
    run(&mut c, "node @sigstore/verify")
}

fn securesystemslib(bundle: &Path, key: &Path) -> Verdict {
    let mut c = Command::new(python());
    c.arg(interop().join("dsse_check.py")).arg(bundle).arg(key);
    run(&mut c, "python securesystemslib/in-toto-attestation")
}

fn released(alg: &str) -> (Project, PathBuf) {
    let p = Project::new(alg);
    let dir = p.release();
    (p, dir)
}

#[test]
fn third_party_verifiers_accept_our_bundles_ed25519_and_p256() {
    for alg in ["ed25519", "ecdsa-p256"] {
        let (p, dir) = released(alg);
        let key = p.public_key_pem();
        for (bundle, artifact) in [
            ("app-1.4.2.tar.gz.sigstore.json", Some("app-1.4.2.tar.gz")),
            ("app-1.4.2.zip.sigstore.json", Some("app-1.4.2.zip")),
            ("provenance.sigstore.json", None),
            ("manifest.json", None),
        ] {
            let b = dir.join(bundle);
            let root = p.site().join("trusted_root.json");
            let v = sigstore_js(&b, &key, artifact.map(|a| dir.join(a)).as_deref(), &root);
            assert!(v.ok, "{alg} {bundle}: @sigstore/verify: {}", v.text);
            let v = securesystemslib(&b, &key);
            assert!(v.ok, "{alg} {bundle}: securesystemslib: {}", v.text);
        }
    }
}

#[test]
fn third_party_verifiers_reject_a_wrong_key() {
    let (p, dir) = released("ecdsa-p256");
    let stranger = Project::new("ecdsa-p256");
    let b = dir.join("app-1.4.2.tar.gz.sigstore.json");
    let root = p.site().join("trusted_root.json");
    let tar = dir.join("app-1.4.2.tar.gz");
    assert!(!sigstore_js(&b, &stranger.public_key_pem(), Some(&tar), &root).ok);
    assert!(!securesystemslib(&b, &stranger.public_key_pem()).ok);
}

fn doctor(src: &Path, dst: &Path, f: impl FnOnce(&mut Vec<u8>)) {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(src).unwrap()).unwrap();
    let mut payload = b64
        .decode(v["dsseEnvelope"]["payload"].as_str().unwrap())
        .unwrap();
    f(&mut payload);
    v["dsseEnvelope"]["payload"] = b64.encode(&payload).into();
    std::fs::write(dst, v.to_string()).unwrap();
}

#[test]
fn third_party_verifiers_reject_a_flipped_payload_byte() {
    for alg in ["ed25519", "ecdsa-p256"] {
        let (p, dir) = released(alg);
        let key = p.public_key_pem();
        let bad = dir.join("flipped.sigstore.json");
        doctor(
            &dir.join("app-1.4.2.tar.gz.sigstore.json"),
            &bad,
            |payload| {
                let at = payload.len() / 2;
                payload[at] ^= 0x01;
            },
        );
        let root = p.site().join("trusted_root.json");
        let tar = dir.join("app-1.4.2.tar.gz");
        assert!(!sigstore_js(&bad, &key, Some(&tar), &root).ok, "{alg}");
        assert!(!securesystemslib(&bad, &key).ok, "{alg}");
        let ours = p.verify(
            &dir.join("app-1.4.2.tar.gz"),
            &["--bundle", bad.to_str().unwrap()],
        );
        assert_eq!(ours.code, 1);
    }
}

#[test]
fn third_party_verifiers_reject_a_swapped_subject() {
    let (p, dir) = released("ed25519");
    let key = p.public_key_pem();
    let zip = std::fs::read(dir.join("app-1.4.2.zip")).unwrap();
    let zip_sha = custody_crypto::Sha256Digest::of(&zip).to_hex();
    let bad = dir.join("swapped.sigstore.json");
    doctor(
        &dir.join("app-1.4.2.tar.gz.sigstore.json"),
        &bad,
        |payload| {
            let mut stmt: serde_json::Value = serde_json::from_slice(payload).unwrap();
            stmt["subject"][0]["digest"] = serde_json::json!({ "sha256": zip_sha });
            *payload = stmt.to_string().into_bytes();
        },
    );
    let root = p.site().join("trusted_root.json");
    assert!(!sigstore_js(&bad, &key, Some(&dir.join("app-1.4.2.zip")), &root).ok);
    assert!(!securesystemslib(&bad, &key).ok);
    assert_eq!(
        p.verify(
            &dir.join("app-1.4.2.zip"),
            &["--bundle", bad.to_str().unwrap()]
        )
        .code,
        1
    );
}

#[test]
fn a_flipped_artifact_byte_is_caught_by_our_subject_check() {
    // @sigstore/verify checks a DSSE bundle's signature but not that the statement's subject is
    // the artifact, and securesystemslib never sees the artifact: only our verifier catches this.
    let (p, dir) = released("ed25519");
    let tar = dir.join("app-1.4.2.tar.gz");
    let mut bytes = std::fs::read(&tar).unwrap();
    bytes[3] ^= 0x80;
    std::fs::write(&tar, bytes).unwrap();
    let r = p.verify(&tar, &[]);
    assert_eq!(r.code, 1);
    assert!(r.stdout.contains("FAIL  subject"), "{}", r.stdout);
}

/// Rewrite one field of the bundle's first log entry.
fn doctor_entry(src: &Path, dst: &Path, f: impl FnOnce(&mut serde_json::Value)) {
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(src).unwrap()).unwrap();
    f(&mut v["verificationMaterial"]["tlogEntries"][0]);
    std::fs::write(dst, v.to_string()).unwrap();
}

#[test]
fn log_entries_verify_and_tampering_with_them_is_rejected_by_both() {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let (p, dir) = released("ed25519");
    let key = p.public_key_pem();
    let root = p.site().join("trusted_root.json");
    let tar = dir.join("app-1.4.2.tar.gz");
    let good = dir.join("app-1.4.2.tar.gz.sigstore.json");
    let v = sigstore_js(&good, &key, Some(&tar), &root);
    assert!(v.ok, "{}", v.text);

    type Edit = Box<dyn Fn(&mut serde_json::Value)>;
    let flip_b64 = |s: &str| {
        let mut raw = base64::engine::general_purpose::STANDARD.decode(s).unwrap();
        raw[0] ^= 1;
        base64::engine::general_purpose::STANDARD.encode(raw)
    };
    let cases: Vec<(&str, Edit)> = vec![
        (
            "proof hash",
            Box::new(move |e| {
                let h = e["inclusionProof"]["hashes"][0]
                    .as_str()
                    .unwrap()
                    .to_owned();
                e["inclusionProof"]["hashes"][0] = flip_b64(&h).into();
            }),
        ),
        (
            "checkpoint",
            Box::new(|e| {
                let cp = e["inclusionProof"]["checkpoint"]["envelope"]
                    .as_str()
                    .unwrap();
                let mut lines: Vec<String> = cp.split('\n').map(str::to_owned).collect();
                lines[1] = "999".into();
                e["inclusionProof"]["checkpoint"]["envelope"] = lines.join("\n").into();
            }),
        ),
        (
            "entry body",
            Box::new(move |e| {
                let body = b64
                    .decode(e["canonicalizedBody"].as_str().unwrap())
                    .unwrap();
                let mut v: serde_json::Value = serde_json::from_slice(&body).unwrap();
                let sig = v["spec"]["dsseV002"]["signatures"][0]["content"]
                    .as_str()
                    .unwrap()
                    .to_owned();
                v["spec"]["dsseV002"]["signatures"][0]["content"] = flip_b64(&sig).into();
                e["canonicalizedBody"] = b64.encode(v.to_string()).into();
            }),
        ),
    ];
    for (what, edit) in cases {
        let bad = dir.join("doctored-entry.sigstore.json");
        doctor_entry(&good, &bad, |e| edit(e));
        let js = sigstore_js(&bad, &key, Some(&tar), &root);
        assert!(!js.ok, "{what}: @sigstore/verify accepted: {}", js.text);
        let ours = p.verify(&tar, &["--bundle", bad.to_str().unwrap()]);
        assert_eq!(ours.code, 1, "{what}: {}", ours.stdout);
        assert!(ours.stdout.contains("FAIL  log"), "{what}: {}", ours.stdout);
    }
}

#[test]
fn sbom_attestations_verify_with_third_party_tools() {
    let p = Project::new("ecdsa-p256");
    let src =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../custody-sbom/tests/fixtures/cargo/small");
    let r = p.run(&[
        "sbom",
        src.join("Cargo.lock").to_str().unwrap(),
        "-o",
        "app.cdx.json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    common::git(p.dir(), &["add", "-A"]);
    common::git(p.dir(), &["commit", "-q", "-m", "sbom"]);
    p.artifact("app.tgz", b"app");
    let r = p.run(&[
        "release",
        "dist/app.tgz",
        "--product",
        "app",
        "--version",
        "1.0.0",
        "--sbom",
        "app.cdx.json",
        "--no-scan",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let dir = p.release_dir("app", "1.0.0");
    let root = p.site().join("trusted_root.json");
    for b in [
        "sbom.cdx.json.sigstore.json",
        "sbom.spdx.json.sigstore.json",
    ] {
        let v = sigstore_js(&dir.join(b), &p.public_key_pem(), None, &root);
        assert!(v.ok, "{b}: @sigstore/verify: {}", v.text);
        let v = securesystemslib(&dir.join(b), &p.public_key_pem());
        assert!(v.ok, "{b}: securesystemslib: {}", v.text);
    }
}
