//! Release and log keys in a PKCS#11 token (Debian SoftHSM 2, a token per test in a temporary
//! directory): `custody init --key pkcs11:... --log-key pkcs11:...` makes them in the token, a
//! release is signed and logged through it and verifies; a wrong PIN, a missing token or a
//! label already used is a clear error that writes nothing. Under CI a missing SoftHSM fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Run, custody, git};

const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
const PIN: &str = "4711";

/// A SoftHSM token labelled `custody` in a temporary directory.
struct SoftHsm {
    dir: tempfile::TempDir,
}

impl SoftHsm {
    fn new() -> Option<Self> {
        if !Path::new(MODULE).is_file() {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI: SoftHSM (Debian softhsm2) is missing: {MODULE}"
            );
            eprintln!("skipped: no SoftHSM at {MODULE}");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("tokens")).unwrap();
        std::fs::write(
            dir.path().join("softhsm2.conf"),
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                dir.path().join("tokens").display()
            ),
        )
        .unwrap();
        let hsm = Self { dir };
        let out = Command::new("softhsm2-util")
            .args(["--init-token", "--free", "--label", "custody"])
            .args(["--so-pin", "0000", "--pin", PIN])
            .env("SOFTHSM2_CONF", hsm.conf())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Some(hsm)
    }

    fn conf(&self) -> PathBuf {
        self.dir.path().join("softhsm2.conf")
    }

    fn uri(&self, object: &str) -> String {
        format!("pkcs11:token=custody;object={object}?module-path={MODULE}")
    }

    /// `custody ARGS` in `dir` with this token and `pin`.
    fn run(&self, dir: &Path, pin: &str, args: &[&str]) -> Run {
        custody()
            .current_dir(dir)
            .env("SOFTHSM2_CONF", self.conf())
            .env("CUSTODY_PKCS11_PIN", pin)
            .env_remove("CUSTODY_PKCS11_PIN_FILE")
            .args(args)
            .output()
            .unwrap()
            .into()
    }
}

/// A git project with `custody init` keeping both keys in the token.
fn project(hsm: &SoftHsm) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    git(dir, &["init", "-q", "-b", "main"]);
    git(
        dir,
        &[
            "remote",
            "add",
            "origin",
            "https://example.com/acme/app.git",
        ],
    );
    std::fs::create_dir_all(dir.join("dist")).unwrap();
    std::fs::write(dir.join(".gitignore"), "dist/\n").unwrap();
    let r = hsm.run(
        dir,
        PIN,
        &[
            "init",
            "--builder-id",
            "https://example.com/ci@v1",
            "--key",
            &hsm.uri("release"),
            "--log-key",
            &hsm.uri("log"),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("in the token"), "{}", r.stderr);
    // No private key file was written anywhere in the project.
    assert!(!dir.join(".custody/release.key").exists());
    assert!(!dir.join(".custody/log.key").exists());
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "init"]);
    tmp
}

#[test]
fn a_release_is_signed_and_logged_by_keys_in_the_token_and_verifies() {
    let Some(hsm) = SoftHsm::new() else { return };
    let tmp = project(&hsm);
    let dir = tmp.path();
    std::fs::write(dir.join("dist/app.tgz"), b"built in CI").unwrap();
    let r = hsm.run(
        dir,
        PIN,
        &[
            "release",
            "dist/app.tgz",
            "--product",
            "app",
            "--version",
            "1.0.0",
            "--no-scan",
        ],
    );
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
    let tmp = project(&hsm);
    let dir = tmp.path();
    std::fs::write(dir.join("dist/app.tgz"), b"built in CI").unwrap();
    let release = [
        "release",
        "dist/app.tgz",
        "--product",
        "app",
        "--version",
        "1.0.0",
        "--no-scan",
    ];
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
