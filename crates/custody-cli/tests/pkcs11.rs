//! Release and log keys in a PKCS#11 token (Debian SoftHSM 2, a token per test in a temporary
//! directory): `custody init --key pkcs11:... --log-key pkcs11:...` makes them in the token, a
//! release is signed and logged through it and verifies; a wrong PIN, a missing token or a
//! label already used is a clear error that writes nothing. Under CI a missing SoftHSM fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{PKCS11_PIN as PIN, Project, SoftHsm, git};

/// A git project with `custody init` keeping both keys in the token.
fn project(hsm: &SoftHsm) -> Project {
    let (release, log) = (hsm.uri("release"), hsm.uri("log"));
    let p = Project::with_init(&["--key", &release, "--log-key", &log], |c| {
        hsm.point(c, PIN);
    });
    // No private key file was written anywhere in the project.
    assert!(!p.dir().join(".custody/release.key").exists());
    assert!(!p.dir().join(".custody/log.key").exists());
    p
}

#[test]
fn a_release_is_signed_and_logged_by_keys_in_the_token_and_verifies() {
    let Some(hsm) = SoftHsm::new() else { return };
    let p = project(&hsm);
    let dir = p.dir();
    std::fs::write(dir.join("dist/app.tgz"), b"built in CI").unwrap();
    let r = hsm.run(dir, PIN, &common::RELEASE_UNSCANNED);
    assert_eq!(r.code, 0, "{}", r.stderr);

    let site = dir.join("site");
    let artifact = site.join("releases/app/1.0.0/app.tgz");
    let v = hsm.run(
        dir,
        PIN,
        &[
            "verify",
            artifact.to_str().unwrap(),
            "--trust",
            site.join("trusted_root.json").to_str().unwrap(),
            "--policy",
            site.join("custody-policy.json").to_str().unwrap(),
        ],
    );
    assert_eq!(v.code, 0, "{}\n{}", v.stdout, v.stderr);

    // The key the policy trusts is the token's: `custody key public` reads it from there.
    let public = hsm.run(dir, PIN, &["key", "public", &hsm.uri("release"), "--json"]);
    assert_eq!(public.code, 0, "{}", public.stderr);
    let hint = public.json()["hint"].as_str().unwrap().to_owned();
    let policy = std::fs::read_to_string(site.join("custody-policy.json")).unwrap();
    assert!(policy.contains(&hint), "{hint} not in {policy}");
}

#[test]
fn a_wrong_pin_or_a_missing_token_is_a_clear_error_and_publishes_nothing() {
    let Some(hsm) = SoftHsm::new() else { return };
    let p = project(&hsm);
    let dir = p.dir();
    std::fs::write(dir.join("dist/app.tgz"), b"built in CI").unwrap();
    let release = common::RELEASE_UNSCANNED;
    let r = hsm.run(dir, "0000", &release);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("wrong PIN"), "{}", r.stderr);
    assert!(!dir.join("site/releases/app/1.0.0").exists());

    let config = dir.join("custody.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace(
            "token=custody;object=release",
            "token=elsewhere;object=release",
        ),
    )
    .unwrap();
    git(dir, &["commit", "-qam", "another token"]);
    let r = hsm.run(dir, PIN, &release);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("no token labelled \"elsewhere\"") && r.stderr.contains("\"custody\""),
        "{}",
        r.stderr
    );
    assert!(!dir.join("site/releases/app/1.0.0").exists());
}

#[test]
fn a_key_is_made_in_the_token_once_and_never_replaced() {
    let Some(hsm) = SoftHsm::new() else { return };
    let dir = tempfile::tempdir().unwrap();
    let uri = hsm.uri("targets");
    let made = hsm.run(
        dir.path(),
        PIN,
        &[
            "key",
            "generate",
            "--pkcs11",
            &uri,
            "--algorithm",
            "ecdsa-p256",
            "--json",
        ],
    );
    assert_eq!(made.code, 0, "{}", made.stderr);
    assert_eq!(made.json()["algorithm"], "ecdsa-p256");
    let again = hsm.run(dir.path(), PIN, &["key", "generate", "--pkcs11", &uri]);
    assert_ne!(again.code, 0);
    assert!(again.stderr.contains("never replaced"), "{}", again.stderr);
    let bad = hsm.run(
        dir.path(),
        PIN,
        &["key", "generate", "--pkcs11", "pkcs11:object=x"],
    );
    assert_ne!(bad.code, 0);
    assert!(bad.stderr.contains("names no token"), "{}", bad.stderr);
}

#[test]
fn the_tuf_online_keys_in_the_token_sign_what_a_customer_updates_from() {
    let Some(hsm) = SoftHsm::new() else { return };
    let p = project(&hsm);
    let dir = p.dir();
    let config = dir.join("custody.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    let online = format!(
        "[tuf]\ntargets_key = \"{}\"\nsnapshot_key = \"{}\"\ntimestamp_key = \"{}\"\n",
        hsm.uri("tuf-targets"),
        hsm.uri("tuf-snapshot"),
        hsm.uri("tuf-timestamp")
    );
    std::fs::write(&config, text.replacen("[tuf]\n", &online, 1)).unwrap();
    git(dir, &["commit", "-qam", "online TUF keys in the token"]);
    let r = hsm.run(
        dir,
        PIN,
        &["repo", "init", "--root-keys", "1", "--root-threshold", "1"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Only the offline root key is a file; the online ones are in the token.
    let tuf_keys: Vec<String> = std::fs::read_dir(dir.join(".custody/tuf"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".key"))
        .collect();
    assert_eq!(tuf_keys, ["root-1.key"]);

    std::fs::write(dir.join("dist/app.tgz"), b"built in CI").unwrap();
    let r = hsm.run(dir, PIN, &common::RELEASE_UNSCANNED);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let site = p.site();
    let dest = dir.join("dist/installed");
    let r = hsm.run(
        dir,
        PIN,
        &[
            "update",
            "--repo",
            site.join("tuf").to_str().unwrap(),
            "--root",
            site.join("tuf/metadata/1.root.json").to_str().unwrap(),
            "--trust",
            site.join("trusted_root.json").to_str().unwrap(),
            "--policy",
            site.join("custody-policy.json").to_str().unwrap(),
            "--product",
            "app",
            "--dir",
            dest.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let installed = std::fs::read(dest.join("1.0.0/app.tgz")).unwrap();
    assert_eq!(installed, b"built in CI");

    // A rotation would stage key files: refused for a key in the token, nothing changed.
    let r = hsm.run(dir, PIN, &["repo", "rotate", "--role", "timestamp"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("in a token"), "{}", r.stderr);
}

#[test]
fn a_witness_cosigns_with_its_key_in_the_token() {
    let Some(hsm) = SoftHsm::new() else { return };
    let p = Project::new("ed25519");
    p.release();
    let key = hsm.uri("witness");
    let made = hsm.run(p.dir(), PIN, &["key", "generate", "--pkcs11", &key]);
    assert_eq!(made.code, 0, "{}", made.stderr);
    let state = p.dir().join("dist/witness-state");
    let r = hsm.run(
        p.dir(),
        PIN,
        &[
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
            "witness.example",
            "--state",
            state.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    // The cosignature line verifies with the witness's verifier key over the checkpoint.
    let vkey = custody_tlog::NoteVerifier::parse(v["witness"].as_str().unwrap()).unwrap();
    let mut note =
        custody_tlog::Note::parse(&std::fs::read(p.site().join("log/checkpoint")).unwrap())
            .unwrap();
    note.push_signature(
        custody_tlog::NoteSignature::parse_line(v["cosignature"].as_str().unwrap()).unwrap(),
    );
    custody_tlog::WitnessPolicy {
        witnesses: vec![vkey],
        threshold: 1,
    }
    .check(&note)
    .unwrap();
}
