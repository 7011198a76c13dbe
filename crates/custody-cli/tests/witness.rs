//! Witnessing over real HTTP on loopback: two `custody log witness serve` processes cosign every
//! checkpoint a release publishes, bundles carry the cosigned checkpoint, a witness that is down
//! is reported without stopping the release, and the one-shot `witness cosign` refuses a fork.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Stdio};

use common::Project;
use custody_tlog::{Note, NoteVerifier, WitnessPolicy};

/// A witness server process, killed when dropped.
struct WitnessServer {
    child: Child,
    url: String,
    vkey: String,
}

impl WitnessServer {
    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for WitnessServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Witness keys and state live outside the project, whose tree must stay clean to release.
fn witness_key(p: &Project, wdir: &std::path::Path, n: u32) -> String {
    let key = wdir.join(format!("w{n}.key"));
    let r = p.run(&["key", "generate", "--out", key.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    key.to_str().unwrap().to_owned()
}

fn start_witness(p: &Project, wdir: &std::path::Path, n: u32) -> WitnessServer {
    let key = wdir.join(format!("w{n}.key"));
    if !key.exists() {
        witness_key(p, wdir, n);
    }
    let state = wdir.join(format!("w{n}-state"));
    let mut child = common::custody()
        .current_dir(p.dir())
        .args([
            "log",
            "witness",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--vkey",
            "site/log/vkey",
            "--key",
            key.to_str().unwrap(),
            "--name",
            &format!("witness-{n}.example"),
            "--state",
            state.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let url = first
        .strip_prefix("witness listening on ")
        .unwrap_or_else(|| panic!("{first}"))
        .to_owned();
    let vkey = lines.next().unwrap().unwrap();
    let vkey = vkey.trim().strip_prefix("vkey: ").unwrap().to_owned();
    WitnessServer { child, url, vkey }
}

fn configure(p: &Project, witnesses: &[(&str, &WitnessServer)]) {
    let path = p.dir().join("custody.toml");
    let mut toml = std::fs::read_to_string(&path).unwrap();
    for (name, w) in witnesses {
        toml.push_str(&format!(
            "\n[[log.witnesses]]\nname = \"{name}\"\nvkey = \"{}\"\nurl = \"{}\"\n",
            w.vkey, w.url
        ));
    }
    std::fs::write(&path, toml).unwrap();
    common::git(p.dir(), &["commit", "-q", "-am", "witnesses"]);
}

fn policy(ws: &[&WitnessServer], threshold: usize) -> WitnessPolicy {
    WitnessPolicy {
        witnesses: ws
            .iter()
            .map(|w| NoteVerifier::parse(&w.vkey).unwrap())
            .collect(),
        threshold,
    }
}

/// The site's policy with a witness rule added, written beside the project.
fn require_witnesses(
    p: &Project,
    ws: &[&WitnessServer],
    threshold: usize,
) -> tempfile::NamedTempFile {
    let mut policy: serde_json::Value =
        serde_json::from_slice(&std::fs::read(p.site().join("custody-policy.json")).unwrap())
            .unwrap();
    policy["witnesses"] = serde_json::json!({
        "threshold": threshold,
        "keys": ws.iter().map(|w| w.vkey.clone()).collect::<Vec<_>>(),
    });
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), serde_json::to_vec(&policy).unwrap()).unwrap();
    f
}

fn verify_with(
    p: &Project,
    artifact: &std::path::Path,
    policy: &tempfile::NamedTempFile,
) -> common::Run {
    let trust = p.site().join("trusted_root.json");
    p.run(&[
        "verify",
        artifact.to_str().unwrap(),
        "--trust",
        trust.to_str().unwrap(),
        "--policy",
        policy.path().to_str().unwrap(),
    ])
}

fn embedded_checkpoint(bundle: &std::path::Path) -> Note {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(bundle).unwrap()).unwrap();
    let env =
        v["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["checkpoint"]["envelope"]
            .as_str()
            .unwrap();
    Note::parse(env.as_bytes()).unwrap()
}

#[test]
fn releases_publish_checkpoints_cosigned_by_two_witnesses_on_loopback() {
    let p = Project::new("ed25519");
    let wdir = tempfile::tempdir().unwrap();
    let (w1, mut w2) = (
        start_witness(&p, wdir.path(), 1),
        start_witness(&p, wdir.path(), 2),
    );
    configure(&p, &[("one", &w1), ("two", &w2)]);

    p.artifact("app-1.4.2.tar.gz", b"tarball bytes");
    let r = p.run(&[
        "release",
        "dist/app-1.4.2.tar.gz",
        "--product",
        "app",
        "--version",
        "1.4.2",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stderr.contains("did not cosign"), "{}", r.stderr);
    let dir = p.release_dir("app", "1.4.2");
    let note = embedded_checkpoint(&dir.join("app-1.4.2.tar.gz.sigstore.json"));
    assert_eq!(
        note.signatures().len(),
        3,
        "{}",
        String::from_utf8_lossy(&note.to_bytes())
    );
    policy(&[&w1, &w2], 2).check(&note).unwrap();
    let published = std::fs::read(p.site().join("log/checkpoint")).unwrap();
    assert_eq!(note.to_bytes(), published);

    // The site verifies as before (the verifier ignores cosignatures it was not asked about).
    let r = p.verify(&dir.join("app-1.4.2.tar.gz"), &[]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);

    // A customer's policy requiring both witnesses accepts it.
    let strict = require_witnesses(&p, &[&w1, &w2], 2);
    let r = verify_with(&p, &dir.join("app-1.4.2.tar.gz"), &strict);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);

    // Witness two goes away: the release still happens, with a warning, cosigned by one.
    w2.stop();
    p.artifact("b.bin", b"second");
    let r = p.run(&[
        "release",
        "dist/b.bin",
        "--product",
        "app",
        "--version",
        "2.0.0",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("witness witness-2.example did not cosign"),
        "{}",
        r.stderr
    );
    let note = embedded_checkpoint(&p.release_dir("app", "2.0.0").join("b.bin.sigstore.json"));
    assert_eq!(note.signatures().len(), 2);
    // That release does not meet the 2-of-2 policy; 1-of-2 is met.
    let b = p.release_dir("app", "2.0.0").join("b.bin");
    let r = verify_with(&p, &b, &strict);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("1 of the required 2 witness cosignatures"),
        "{}",
        r.stdout
    );
    let lenient = require_witnesses(&p, &[&w1, &w2], 1);
    let r = verify_with(&p, &b, &lenient);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);

    // Asking again: one answers, one does not; the checkpoint is republished, exit 1.
    let r = p.run(&["--json", "log", "checkpoint", "--witness"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert_eq!(r.json()["signatures"], 2);
    assert_eq!(r.json()["witnesses_failed"][0], "witness-2.example");
}

#[test]
fn one_shot_cosign_follows_growth_and_refuses_a_fork() {
    let p = Project::new("ed25519");
    p.release();
    let wdir = tempfile::tempdir().unwrap();
    let key = witness_key(&p, wdir.path(), 3);
    let cosign = |project: &std::path::Path| {
        common::custody()
            .current_dir(project)
            .args([
                "--json",
                "log",
                "witness",
                "cosign",
                "--log",
                "site/log",
                "--vkey",
                "site/log/vkey",
                "--key",
                &key,
                "--name",
                "witness-3.example",
                "--state",
                wdir.path().join("w3-state").to_str().unwrap(),
            ])
            .output()
            .map(common::Run::from)
            .unwrap()
    };
    let r = cosign(p.dir());
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    assert_eq!(v["size"], 4);
    assert_eq!(v["old_size"], 0);
    // The line is a valid cosignature over the published checkpoint.
    let vkey = NoteVerifier::parse(v["witness"].as_str().unwrap()).unwrap();
    let mut note = Note::parse(&std::fs::read(p.site().join("log/checkpoint")).unwrap()).unwrap();
    note.push_signature(
        custody_tlog::NoteSignature::parse_line(v["cosignature"].as_str().unwrap()).unwrap(),
    );
    WitnessPolicy {
        witnesses: vec![vkey],
        threshold: 1,
    }
    .check(&note)
    .unwrap();

    // A fork of the log (same key and state, another history) grows past what was cosigned.
    let fork = tempfile::tempdir().unwrap();
    copy_dir(p.dir(), fork.path());
    std::fs::write(fork.path().join("dist/b.bin"), b"evil").unwrap();
    let r = common::run_in(
        fork.path(),
        &[
            "release",
            "dist/b.bin",
            "--product",
            "app",
            "--version",
            "2.0.0",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    p.artifact("b.bin", b"honest");
    let r = p.run(&[
        "release",
        "dist/b.bin",
        "--product",
        "app",
        "--version",
        "2.0.0",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);

    // The honest log grew consistently: cosigned from size 4.
    let r = cosign(p.dir());
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["old_size"], 4);
    assert_eq!(r.json()["size"], 7);
    // The fork, same size, another root: refused, and the state is unchanged.
    let r = cosign(fork.path());
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("not cosigned"), "{}", r.stderr);
    let r = cosign(p.dir());
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["old_size"], 7);
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
