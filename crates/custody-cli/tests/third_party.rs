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

fn sigstore_js(bundle: &Path, key: &Path, artifact: Option<&Path>) -> Verdict {
    assert!(
        interop().join("node_modules/@sigstore/verify").is_dir(),
        "interop/node_modules is missing: run `npm ci --prefix interop` (.ci/run does)"
    );
    let mut c = Command::new("node");
    c.arg(interop().join("sigstore_check.js"))
        .arg(bundle)
        .arg(key);
    if let Some(a) = artifact {
        c.arg(a);
    }
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
            let v = sigstore_js(&b, &key, artifact.map(|a| dir.join(a)).as_deref());
            assert!(v.ok, "{alg} {bundle}: @sigstore/verify: {}", v.text);
            let v = securesystemslib(&b, &key);
            assert!(v.ok, "{alg} {bundle}: securesystemslib: {}", v.text);
        }
    }
}

#[test]
fn third_party_verifiers_reject_a_wrong_key() {
    let (_p, dir) = released("ecdsa-p256");
    let stranger = Project::new("ecdsa-p256");
    let b = dir.join("app-1.4.2.tar.gz.sigstore.json");
    assert!(
        !sigstore_js(
            &b,
            &stranger.public_key_pem(),
            Some(&dir.join("app-1.4.2.tar.gz"))
        )
        .ok
    );
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
        assert!(
            !sigstore_js(&bad, &key, Some(&dir.join("app-1.4.2.tar.gz"))).ok,
            "{alg}"
        );
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
    assert!(!sigstore_js(&bad, &key, Some(&dir.join("app-1.4.2.zip"))).ok);
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
