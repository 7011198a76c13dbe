//! Tampering and malformed input: each is refused with the check, the file and the reason, and
//! the right exit code (1 not verified, 2 unreadable input), never a panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};

use common::{Project, Run, payload};

struct Released {
    p: Project,
    dir: PathBuf,
}

fn released() -> Released {
    let p = Project::new("ed25519");
    let dir = p.release();
    Released { p, dir }
}

impl Released {
    fn tar(&self) -> PathBuf {
        self.dir.join("app-1.4.2.tar.gz")
    }
    fn bundle(&self) -> PathBuf {
        self.dir.join("app-1.4.2.tar.gz.sigstore.json")
    }
    fn bundle_json(&self) -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(self.bundle()).unwrap()).unwrap()
    }
    /// Write a doctored bundle beside the artifact and verify with it.
    fn verify_with_bundle(&self, bytes: &[u8]) -> Run {
        let path = self.dir.join("doctored.sigstore.json");
        std::fs::write(&path, bytes).unwrap();
        self.p
            .verify(&self.tar(), &["--bundle", path.to_str().unwrap()])
    }
}

fn assert_not_verified(r: &Run, check: &str, reason: &str) {
    assert_eq!(r.code, 1, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains(&format!("FAIL  {check}")),
        "{check}: {}",
        r.stdout
    );
    assert!(r.stdout.contains("NOT VERIFIED"), "{}", r.stdout);
    assert!(
        r.stdout.contains(reason),
        "expected {reason:?} in {}",
        r.stdout
    );
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
}

fn assert_unreadable(r: &Run, path: &Path, reason: &str) {
    assert_eq!(r.code, 2, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(&path.display().to_string()),
        "path missing: {}",
        r.stderr
    );
    assert!(
        r.stderr.contains(reason),
        "expected {reason:?} in {}",
        r.stderr
    );
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
}

fn set_payload(v: &mut serde_json::Value, bytes: &[u8]) {
    use base64::Engine as _;
    v["dsseEnvelope"]["payload"] = base64::engine::general_purpose::STANDARD
        .encode(bytes)
        .into();
}

#[test]
fn tampered_artifact() {
    let r = released();
    let mut bytes = std::fs::read(r.tar()).unwrap();
    bytes[0] ^= 0x01;
    std::fs::write(r.tar(), bytes).unwrap();
    assert_not_verified(
        &r.p.verify(&r.tar(), &[]),
        "subject",
        "no statement subject",
    );
}

#[test]
fn wrong_key() {
    let r = released();
    let other = Project::new("ed25519");
    let policy = other.site().join("custody-policy.json");
    let trust = other.site().join("trusted_root.json");
    let out: Run = common::custody()
        .args([
            "verify",
            r.tar().to_str().unwrap(),
            "--trust",
            trust.to_str().unwrap(),
            "--policy",
            policy.to_str().unwrap(),
        ])
        .output()
        .unwrap()
        .into();
    assert_not_verified(&out, "signature", "trusts no key");
}

#[test]
fn flipped_payload_byte() {
    let r = released();
    let mut v = r.bundle_json();
    let mut p = payload(&v);
    let at = p
        .windows(8)
        .position(|w| w == b"1.4.2\",\"")
        .unwrap_or(p.len() / 2);
    p[at] ^= 0x01;
    set_payload(&mut v, &p);
    assert_not_verified(
        &r.verify_with_bundle(v.to_string().as_bytes()),
        "signature",
        "does not verify",
    );
}

#[test]
fn swapped_subject() {
    let r = released();
    // The zip's bundle, presented for the tarball.
    let zip_bundle = std::fs::read(r.dir.join("app-1.4.2.zip.sigstore.json")).unwrap();
    assert_not_verified(
        &r.verify_with_bundle(&zip_bundle),
        "subject",
        "no statement subject",
    );
    // A re-written subject breaks the signature instead.
    let mut v = r.bundle_json();
    let mut stmt: serde_json::Value = serde_json::from_slice(&payload(&v)).unwrap();
    let zip_sha = common::custody()
        .args([
            "--json",
            "digest",
            "-a",
            "sha256",
            r.dir.join("app-1.4.2.zip").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let zip_sha: serde_json::Value = serde_json::from_slice(&zip_sha.stdout).unwrap();
    stmt["subject"][0]["digest"] = serde_json::json!({"sha256": zip_sha[0]["sha256"]});
    set_payload(&mut v, stmt.to_string().as_bytes());
    let out: Run = common::custody()
        .current_dir(r.p.dir())
        .args([
            "verify",
            r.dir.join("app-1.4.2.zip").to_str().unwrap(),
            "--bundle",
        ])
        .arg({
            let p = r.dir.join("swapped.sigstore.json");
            std::fs::write(&p, v.to_string()).unwrap();
            p
        })
        .args([
            "--trust",
            "site/trusted_root.json",
            "--policy",
            "site/custody-policy.json",
        ])
        .output()
        .unwrap()
        .into();
    assert_not_verified(&out, "signature", "does not verify");
}

#[test]
fn truncated_bundle() {
    let r = released();
    let bytes = std::fs::read(r.bundle()).unwrap();
    for cut in [0, 10, bytes.len() / 2, bytes.len() - 2] {
        let out = r.verify_with_bundle(&bytes[..cut]);
        assert_not_verified(&out, "bundle", "bundle is not valid");
        assert!(
            out.stdout.contains("doctored.sigstore.json"),
            "bundle file not named: {}",
            out.stdout
        );
    }
}

#[test]
fn oversized_bundle() {
    let r = released();
    let mut bytes = std::fs::read(r.bundle()).unwrap();
    bytes.resize(33 << 20, b' ');
    assert_not_verified(&r.verify_with_bundle(&bytes), "bundle", "over the");
}

#[test]
fn unknown_media_type() {
    let r = released();
    let mut v = r.bundle_json();
    v["mediaType"] = "application/vnd.dev.sigstore.bundle.v0.9+json".into();
    assert_not_verified(
        &r.verify_with_bundle(v.to_string().as_bytes()),
        "bundle",
        "unsupported bundle mediaType",
    );
}

#[test]
fn keyid_differs_from_hint() {
    let r = released();
    let mut v = r.bundle_json();
    v["dsseEnvelope"]["signatures"][0]["keyid"] = "c29tZW9uZSBlbHNl".into();
    assert_not_verified(
        &r.verify_with_bundle(v.to_string().as_bytes()),
        "bundle",
        "differs from the bundle's publicKey hint",
    );
}

#[test]
fn expired_key() {
    let r = released();
    let path = r.p.site().join("custody-policy.json");
    let mut policy: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    policy["keys"][0]["validFor"] =
        serde_json::json!({"start": "2020-01-01T00:00:00Z", "end": "2021-01-01T00:00:00Z"});
    std::fs::write(&path, policy.to_string()).unwrap();
    assert_not_verified(
        &r.p.verify(&r.tar(), &[]),
        "signature",
        "is valid from 2020-01-01T00:00:00Z until 2021-01-01T00:00:00Z",
    );
}

#[test]
fn artifact_is_a_directory_or_missing() {
    let r = released();
    let dir = r.p.dir().join("somedir");
    std::fs::create_dir_all(&dir).unwrap();
    assert_unreadable(&r.p.verify(&dir, &[]), &dir, "is a directory");
    let missing = r.dir.join("nope.tar.gz");
    assert_unreadable(&r.p.verify(&missing, &[]), &missing, "No such file");
}

#[test]
fn missing_bundle_and_bad_policy_are_unreadable_input() {
    let r = released();
    let lone = r.p.artifact("lone.bin", b"x");
    assert_unreadable(
        &r.p.verify(&lone, &[]),
        &r.p.dir().join("dist/lone.bin.sigstore.json"),
        "No such file",
    );
    let policy = r.p.site().join("custody-policy.json");
    std::fs::write(&policy, b"{\"mediaType\": 1").unwrap();
    assert_unreadable(&r.p.verify(&r.tar(), &[]), &policy, "policy is not valid");
}

#[test]
fn verify_json_failure_is_machine_readable() {
    let r = released();
    std::fs::write(r.tar(), b"evil").unwrap();
    let out = r.p.verify(&r.tar(), &["--json"]);
    assert_eq!(out.code, 1);
    let v = out.json();
    assert_eq!(v["verified"], false);
    let failed: Vec<_> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "fail")
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["name"], "subject");
}
