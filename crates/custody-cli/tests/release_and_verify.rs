//! The supplier's release and the customer's verification, end to end through the binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Project, git};

#[test]
fn release_then_verify_every_artifact_with_both_algorithms() {
    for alg in ["ed25519", "ecdsa-p256"] {
        let p = Project::new(alg);
        let dir = p.release();
        for name in ["app-1.4.2.tar.gz", "app-1.4.2.zip"] {
            let r = p.verify(&dir.join(name), &[]);
            assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
            assert!(r.stdout.contains("VERIFIED"), "{}", r.stdout);
            for check in [
                "bundle",
                "signature",
                "log",
                "subject",
                "provenance",
                "manifest",
            ] {
                assert!(
                    r.stdout.contains(&format!("PASS  {check}")),
                    "{check}: {}",
                    r.stdout
                );
            }
        }
        let r = p.verify(
            &dir.join("app-1.4.2.zip"),
            &[
                "--version",
                "1.4.2",
                "--source-ref",
                "main",
                "--product",
                "app",
                "--json",
            ],
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        let v = r.json();
        assert_eq!(v["verified"], true);
        assert_eq!(
            v["release"]["repository"],
            "https://example.com/acme/app.git"
        );
        assert_eq!(v["release"]["builder"], "https://example.com/ci@v1");
        assert_eq!(v["release"]["git_ref"], "refs/heads/main");
        let checks = v["checks"].as_array().unwrap();
        assert_eq!(checks.len(), 7);
        // The policy asks no approvals of app: the approval check is skipped, all else passes.
        for c in checks {
            let expected = if c["name"] == "approval" {
                "skipped"
            } else {
                "pass"
            };
            assert_eq!(c["status"], expected, "{c}");
        }
    }
}

#[test]
fn site_layout_is_complete() {
    let p = Project::new("ed25519");
    let dir = p.release();
    for f in [
        "app-1.4.2.tar.gz",
        "app-1.4.2.tar.gz.sigstore.json",
        "app-1.4.2.zip",
        "app-1.4.2.zip.sigstore.json",
        "provenance.sigstore.json",
        "manifest.json",
    ] {
        assert!(dir.join(f).is_file(), "{f} missing");
    }
    for f in ["trusted_root.json", "custody-policy.json", "index.html"] {
        assert!(p.site().join(f).is_file(), "{f} missing");
    }
    let index = std::fs::read_to_string(p.site().join("index.html")).unwrap();
    assert!(index.contains("releases/app/1.4.2/app-1.4.2.tar.gz"));
    let root: serde_json::Value =
        serde_json::from_slice(&std::fs::read(p.site().join("trusted_root.json")).unwrap())
            .unwrap();
    assert_eq!(
        root["mediaType"],
        "application/vnd.dev.sigstore.trustedroot+json;version=0.1"
    );
    // No staging leftovers are visible to customers.
    let product_dir = p.site().join("releases/app");
    let names: Vec<_> = std::fs::read_dir(product_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("1.4.2")]);
}

#[test]
fn provenance_records_source_builder_and_times() {
    let p = Project::new("ed25519");
    let dir = p.release();
    let stmt = common::statement(&dir.join("provenance.sigstore.json"));
    assert_eq!(stmt["_type"], "https://in-toto.io/Statement/v1");
    assert_eq!(stmt["predicateType"], "https://slsa.dev/provenance/v1");
    assert_eq!(stmt["subject"].as_array().unwrap().len(), 2);
    let pred = &stmt["predicate"];
    let dep = &pred["buildDefinition"]["resolvedDependencies"][0];
    assert_eq!(
        dep["uri"],
        "git+https://example.com/acme/app.git@refs/heads/main"
    );
    assert_eq!(dep["digest"]["gitCommit"].as_str().unwrap().len(), 40);
    assert_eq!(dep["annotations"]["treeClean"], true);
    assert_eq!(
        pred["buildDefinition"]["internalParameters"]["allowDirty"],
        false
    );
    assert_eq!(
        pred["runDetails"]["builder"]["id"],
        "https://example.com/ci@v1"
    );
    assert!(pred["runDetails"]["metadata"]["startedOn"].is_string());
    assert!(pred["runDetails"]["metadata"]["finishedOn"].is_string());
    for s in stmt["subject"].as_array().unwrap() {
        assert_eq!(s["digest"]["sha256"].as_str().unwrap().len(), 64);
        assert_eq!(s["digest"]["sha512"].as_str().unwrap().len(), 128);
    }
}

#[test]
fn published_versions_are_immutable() {
    let p = Project::new("ed25519");
    let dir = p.release();
    let before = std::fs::read(dir.join("app-1.4.2.tar.gz.sigstore.json")).unwrap();
    p.artifact("app-1.4.2.tar.gz", b"different bytes");
    let r = p.run(&[
        "release",
        "dist/app-1.4.2.tar.gz",
        "--product",
        "app",
        "--version",
        "1.4.2",
    ]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("already published"), "{}", r.stderr);
    assert_eq!(
        std::fs::read(dir.join("app-1.4.2.tar.gz.sigstore.json")).unwrap(),
        before
    );
    assert_eq!(
        std::fs::read(dir.join("app-1.4.2.tar.gz")).unwrap(),
        b"tarball bytes"
    );
}

#[test]
fn dirty_tree_is_refused_unless_allowed_and_then_recorded() {
    let p = Project::new("ed25519");
    std::fs::write(p.dir().join("uncommitted.rs"), "fn main() {}").unwrap();
    p.artifact("a.bin", b"a");
    let r = p.run(&[
        "release",
        "dist/a.bin",
        "--product",
        "app",
        "--version",
        "2.0.0",
    ]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("uncommitted changes") && r.stderr.contains("uncommitted.rs"),
        "{}",
        r.stderr
    );
    assert!(!p.release_dir("app", "2.0.0").exists());

    let r = p.run(&[
        "release",
        "dist/a.bin",
        "--product",
        "app",
        "--version",
        "2.0.0",
        "--allow-dirty",
        "--json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["source_clean"], false);
    let stmt = common::statement(
        &p.release_dir("app", "2.0.0")
            .join("provenance.sigstore.json"),
    );
    assert_eq!(
        stmt["predicate"]["buildDefinition"]["internalParameters"]["allowDirty"],
        true
    );
    assert_eq!(
        stmt["predicate"]["buildDefinition"]["resolvedDependencies"][0]["annotations"]["treeClean"],
        false
    );
}

#[test]
fn release_outside_git_is_refused_with_a_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let r = common::custody()
        .current_dir(tmp.path())
        .args(["init"])
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    std::fs::write(tmp.path().join("a"), b"a").unwrap();
    let r = common::custody()
        .current_dir(tmp.path())
        .args(["release", "a", "--product", "p", "--version", "1"])
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&r.stderr).contains("not inside a git repository"));
}

#[test]
fn key_is_encrypted_and_wrong_passphrase_is_refused() {
    let p = Project::new("ed25519");
    let key = std::fs::read_to_string(p.dir().join(".custody/release.key")).unwrap();
    assert!(key.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(p.dir().join(".custody/release.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "key readable by others: {mode:o}");
    }
    p.artifact("a.bin", b"a");
    let r = common::custody()
        .current_dir(p.dir())
        .env("CUSTODY_PASSPHRASE", "wrong")
        .args([
            "release",
            "dist/a.bin",
            "--product",
            "app",
            "--version",
            "3.0.0",
        ])
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&r.stderr).contains("wrong passphrase"));
    assert!(!p.release_dir("app", "3.0.0").exists());
    // With no passphrase and no terminal, the error says how to give one.
    let r = common::custody()
        .current_dir(p.dir())
        .env_remove("CUSTODY_PASSPHRASE")
        .stdin(std::process::Stdio::null())
        .args([
            "release",
            "dist/a.bin",
            "--product",
            "app",
            "--version",
            "3.0.0",
        ])
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&r.stderr).contains("CUSTODY_PASSPHRASE"));
}

#[test]
fn unencrypted_key_needs_the_explicit_flag_and_warns() {
    let tmp = tempfile::tempdir().unwrap();
    git(tmp.path(), &["init", "-q"]);
    let r = common::custody()
        .current_dir(tmp.path())
        .env_remove("CUSTODY_PASSPHRASE")
        .args(["init", "--insecure-unencrypted-key"])
        .output()
        .unwrap();
    assert!(r.status.success());
    assert!(String::from_utf8_lossy(&r.stderr).contains("UNENCRYPTED"));
    git(tmp.path(), &["add", "-A"]);
    git(tmp.path(), &["commit", "-q", "-m", "init"]);
    std::fs::create_dir_all(tmp.path().join("out")).unwrap();
    std::fs::write(tmp.path().join("out/a"), b"a").unwrap();
    let release = |extra: &[&str]| {
        let mut c = common::custody();
        c.current_dir(tmp.path()).env_remove("CUSTODY_PASSPHRASE");
        c.args([
            "release",
            "out/a",
            "--product",
            "p",
            "--version",
            "1",
            "--allow-dirty",
        ])
        .args(extra);
        c.output().unwrap()
    };
    let r = release(&[]);
    assert_eq!(r.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&r.stderr).contains("--insecure-unencrypted-key"));
    let r = release(&["--insecure-unencrypted-key"]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert!(String::from_utf8_lossy(&r.stderr).contains("UNENCRYPTED"));
}

#[test]
fn bad_names_and_directory_artifacts_are_refused() {
    let p = Project::new("ed25519");
    p.artifact("a.bin", b"a");
    for (product, version) in [
        ("../evil", "1"),
        ("app", "../../x"),
        ("app", ".hidden"),
        ("", "1"),
    ] {
        let r = p.run(&[
            "release",
            "dist/a.bin",
            "--product",
            product,
            "--version",
            version,
        ]);
        assert_eq!(r.code, 2, "{product} {version}: {}", r.stderr);
    }
    let r = p.run(&["release", "dist", "--product", "app", "--version", "1"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("is a directory"), "{}", r.stderr);
    assert!(!p.release_dir("app", "1").exists());
}

fn copy_npm_fixture(p: &Project) -> std::path::PathBuf {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../custody-sbom/tests/fixtures/npm/small");
    let dst = p.dir().join("web");
    std::fs::create_dir_all(&dst).unwrap();
    for f in ["package.json", "package-lock.json"] {
        std::fs::copy(src.join(f), dst.join(f)).unwrap();
    }
    git(p.dir(), &["add", "-A"]);
    git(p.dir(), &["commit", "-q", "-m", "web"]);
    dst
}

#[test]
fn release_carries_its_sboms_signed_as_attestations() {
    let p = Project::new("ed25519");
    copy_npm_fixture(&p);
    p.artifact("app.tgz", b"app");
    let r = p.run(&[
        "release",
        "dist/app.tgz",
        "--product",
        "app",
        "--version",
        "5.0.0",
        "--sbom",
        "web",
        "--no-scan",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let dir = p.release_dir("app", "5.0.0");
    for (doc, predicate_type) in [
        ("sbom.cdx.json", "https://cyclonedx.org/bom"),
        ("sbom.spdx.json", "https://spdx.dev/Document"),
    ] {
        let plain: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join(doc)).unwrap()).unwrap();
        let stmt = common::statement(&dir.join(format!("{doc}.sigstore.json")));
        assert_eq!(stmt["predicateType"], predicate_type);
        assert_eq!(
            stmt["predicate"], plain,
            "{doc}: the attested predicate is the published file"
        );
        assert_eq!(stmt["subject"][0]["name"], "app.tgz");
    }
    let cdx: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("sbom.cdx.json")).unwrap()).unwrap();
    assert_eq!(cdx["specVersion"], "1.6");
    assert!(cdx["components"].as_array().is_some_and(|c| !c.is_empty()));
}

#[test]
fn a_bad_sbom_input_refuses_the_release_before_signing() {
    let p = Project::new("ed25519");
    let web = copy_npm_fixture(&p);
    std::fs::write(
        web.join("package-lock.json"),
        b"{\"lockfileVersion\": 3, \"packages\": ",
    )
    .unwrap();
    git(p.dir(), &["commit", "-q", "-am", "break"]);
    p.artifact("app.tgz", b"app");
    let r = p.run(&[
        "release",
        "dist/app.tgz",
        "--product",
        "app",
        "--version",
        "5.0.1",
        "--sbom",
        "web",
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("package-lock.json"), "{}", r.stderr);
    assert!(!p.release_dir("app", "5.0.1").exists());
}

#[test]
fn one_key_with_two_duties_is_refused_unless_the_risk_is_accepted() {
    let p = Project::new("ed25519");
    // The log key made the release key too: a stolen release key could then also sign the
    // checkpoints that vouch for the releases it signs.
    p.use_log_key(".custody/release.key");
    p.artifact("app.tgz", b"app");
    let release = common::RELEASE_UNSCANNED;
    let r = p.run(&release);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("the release key is also the log key"),
        "{}",
        r.stderr
    );
    assert!(!p.release_dir("app", "1.0.0").exists(), "nothing published");

    let r = p.run(&[&release[..], &["--insecure-shared-key"]].concat());
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("also serves as the log key"),
        "{}",
        r.stderr
    );

    // custody init refuses to set such a project up in the first place.
    let dir = tempfile::tempdir().unwrap();
    let r = common::run_in(
        dir.path(),
        &["init", "--key", "k.key", "--log-key", "k.key"],
    );
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("the release key is also the log key"),
        "{}",
        r.stderr
    );
    assert!(!dir.path().join("custody.toml").exists(), "nothing written");
}

#[test]
fn a_revoked_key_fails_verification_naming_the_revocation_and_its_reason() {
    let p = Project::new("ed25519");
    let dir = p.release();
    let artifact = dir.join("app-1.4.2.tar.gz");
    assert_eq!(p.verify(&artifact, &[]).code, 0);
    let hint = p.release_key_hint();
    // The release key in force is not revoked: its revocation would be signed by itself.
    let r = p.run(&["key", "revoke", &hint, "--reason", "x"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("replace it first"), "{}", r.stderr);
    let r = p.run(&["key", "rotate", "--role", "release"]);
    assert_eq!(r.code, 0, "{}", r.stderr);

    let r = p.run(&[
        "key",
        "revoke",
        &hint,
        "--since",
        "2026-01-01T00:00:00Z",
        "--reason",
        "the build host was compromised",
        "--json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["hint"], hint.as_str());
    let v = p.verify(&artifact, &[]);
    assert_eq!(v.code, 1, "{}", v.stdout);
    assert!(
        v.stdout.contains("was revoked from 2026-01-01T00:00:00Z")
            && v.stdout.contains("the build host was compromised"),
        "{}",
        v.stdout
    );

    // A second revocation keeps the first; an unknown key is an error naming the policy.
    let again = p.run(&["key", "revoke", &hint, "--reason", "again"]);
    assert_ne!(again.code, 0);
    assert!(again.stderr.contains("revoked already"), "{}", again.stderr);
    let unknown = p.run(&["key", "revoke", "AAAA", "--reason", "x"]);
    assert_ne!(unknown.code, 0);
    assert!(
        unknown.stderr.contains("has no key AAAA"),
        "{}",
        unknown.stderr
    );

    // The rotation and the revocation are signed, logged events: listed and checked.
    let h = p.run(&["key", "history", "--json"]);
    assert_eq!(h.code, 0, "{}\n{}", h.stdout, h.stderr);
    let events = h.json();
    let kinds: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["rotate", "revoke"]);
    assert!(
        events
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["verified"] == true),
        "{events}"
    );
    assert_eq!(events[1]["reason"], "the build host was compromised");

    // An event rewritten after the fact no longer matches what was signed and logged.
    let file = p.dir().join(events[1]["file"].as_str().unwrap());
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        text.replace("the build host was compromised", "routine"),
    )
    .unwrap();
    let h = p.run(&["key", "history"]);
    assert_eq!(h.code, 1, "{}", h.stdout);
    assert!(h.stdout.contains("NOT VERIFIED"), "{}", h.stdout);
}

#[test]
fn a_rotated_log_key_keeps_proving_what_the_log_held_and_signs_from_now() {
    let p = Project::new("ed25519");
    let first = p.release().join("app-1.4.2.tar.gz");
    let vkey_path = p.site().join("log/vkey");
    let old_vkey = std::fs::read_to_string(&vkey_path).unwrap();
    let r = p.run(&["key", "rotate", "--role", "log", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rotated = r.json();
    assert_ne!(rotated["old"], rotated["new"]);
    assert!(p.dir().join(rotated["retired"].as_str().unwrap()).is_file());
    // The published checkpoint is signed by the new key, and its vkey is the new one.
    let new_vkey = std::fs::read_to_string(&vkey_path).unwrap();
    assert_ne!(new_vkey, old_vkey);
    assert_eq!(new_vkey.trim(), rotated["vkey"].as_str().unwrap());
    let r = p.run(&["log", "checkpoint", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // The trusted root lists both keys, the old one's window closed.
    let root: serde_json::Value =
        serde_json::from_slice(&std::fs::read(p.site().join("trusted_root.json")).unwrap())
            .unwrap();
    let tlogs = root["tlogs"].as_array().unwrap();
    assert_eq!(tlogs.len(), 2, "{root}");
    assert!(
        tlogs[0]["publicKey"]["validFor"]["end"].is_string(),
        "{root}"
    );

    // What the old key's checkpoints proved still verifies; the next release is proved by
    // checkpoints of the new key.
    let v = p.verify(&first, &[]);
    assert_eq!(v.code, 0, "{}", v.stdout);
    p.artifact("app-1.5.0.tar.gz", b"next");
    let r = p.run(&[
        "release",
        "dist/app-1.5.0.tar.gz",
        "--product",
        "app",
        "--version",
        "1.5.0",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let second = p.release_dir("app", "1.5.0").join("app-1.5.0.tar.gz");
    let v = p.verify(&second, &[]);
    assert_eq!(v.code, 0, "{}", v.stdout);
    let h = p.run(&["key", "history", "--json"]);
    assert_eq!(h.code, 0, "{}", h.stderr);
    assert!(
        h.json()
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["verified"] == true),
        "{}",
        h.stdout
    );

    // Without the policy's record of the rotation the old key's window is simply closed: it is
    // that record, the log's size, which dates the old checkpoints.
    let policy_path = p.site().join("custody-policy.json");
    let mut policy: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&policy_path).unwrap()).unwrap();
    assert_eq!(policy["logKeyRotations"][0]["size"], rotated["log_size"]);
    policy.as_object_mut().unwrap().remove("logKeyRotations");
    std::fs::write(&policy_path, policy.to_string()).unwrap();
    let v = p.verify(&first, &[]);
    assert_eq!(v.code, 1, "{}", v.stdout);
    assert!(v.stdout.contains("not valid at"), "{}", v.stdout);
    let v = p.verify(&second, &[]);
    assert_eq!(v.code, 0, "{}", v.stdout);
}

#[test]
fn a_rotated_key_keeps_what_it_signed_before_and_the_new_key_signs_from_now() {
    let p = Project::new("ed25519");
    let first = p.release().join("app-1.4.2.tar.gz");
    let old = p.release_key_hint();

    let r = p.run(&["key", "rotate", "--role", "release", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rotated = r.json();
    assert_eq!(rotated["old"], old.as_str());
    assert_ne!(rotated["new"], old.as_str());
    // The old key file is kept, out of the way.
    let retired = p.dir().join(rotated["retired"].as_str().unwrap());
    assert!(retired.is_file(), "{}", retired.display());

    // What the old key signed before still verifies; the new key signs the next release.
    let v = p.verify(&first, &[]);
    assert_eq!(v.code, 0, "{}", v.stdout);
    assert!(v.stdout.contains("was rotated at"), "{}", v.stdout);
    p.artifact("app-1.5.0.tar.gz", b"next");
    let r = p.run(&[
        "release",
        "dist/app-1.5.0.tar.gz",
        "--product",
        "app",
        "--version",
        "1.5.0",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let second = p.release_dir("app", "1.5.0").join("app-1.5.0.tar.gz");
    let v = p.verify(&second, &["--json"]);
    assert_eq!(v.code, 0, "{}", v.stdout);
    assert_eq!(v.json()["release"]["key"], rotated["new"]);

    // The old key can no longer have anything logged: the log refuses it.
    let pem = std::fs::read_to_string(&retired).unwrap();
    let key =
        custody_crypto::SigningKey::from_pkcs8_pem(&pem, Some(common::PASS.as_bytes()), false)
            .unwrap();
    let bundle = p.dir().join("dist/late.sigstore.json");
    std::fs::write(&bundle, common::signed_statement(&key, b"late")).unwrap();
    let r = p.run(&["log", "append", bundle.to_str().unwrap()]);
    assert_ne!(r.code, 0, "{}", r.stdout);
}

#[test]
fn rotating_to_a_named_key_rewrites_custody_toml_keeping_its_comments() {
    let p = Project::new("ed25519");
    let config = p.dir().join("custody.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    let commented = text.replacen(
        "[signing]\n",
        "# Release keys live in the vault; ask #security first.\n[signing]\n",
        1,
    );
    assert_ne!(commented, text);
    std::fs::write(&config, &commented).unwrap();
    common::git(p.dir(), &["commit", "-qam", "a comment"]);
    let r = p.run(&["key", "generate", "--out", ".custody/release-2027.key"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = p.run(&[
        "key",
        "rotate",
        "--role",
        "release",
        "--new",
        ".custody/release-2027.key",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);

    // One line changed: the key's; the comment and everything else are as they were.
    let after = std::fs::read_to_string(&config).unwrap();
    let changed: Vec<&str> = after
        .lines()
        .filter(|l| !commented.lines().any(|c| c == *l))
        .collect();
    assert_eq!(changed, ["key = \".custody/release-2027.key\""], "{after}");
    assert_eq!(after.lines().count(), commented.lines().count(), "{after}");

    // The next release is signed with the new key and verifies.
    common::git(p.dir(), &["commit", "-qam", "the new release key"]);
    let dir = p.release();
    let v = p.verify(&dir.join("app-1.4.2.tar.gz"), &[]);
    assert_eq!(v.code, 0, "{}{}", v.stdout, v.stderr);
}
