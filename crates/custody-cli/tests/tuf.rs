//! `custody repo` and `custody update` end to end: a supplier's releases reach a customer's
//! install directory through TUF, and the bad paths are refused with the attack named.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};

use common::{Project, Run};

fn release(p: &Project, version: &str, body: &[u8]) -> Run {
    let name = format!("app-{version}.tar.gz");
    p.artifact(&name, body);
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

fn update(p: &Project, dest: &Path, extra: &[&str]) -> Run {
    let site = p.site();
    let root = site.join("tuf/metadata/1.root.json");
    let mut args = vec![
        "update".to_string(),
        "--repo".into(),
        site.join("tuf").display().to_string(),
        "--root".into(),
        root.display().to_string(),
        "--trust".into(),
        site.join("trusted_root.json").display().to_string(),
        "--policy".into(),
        site.join("custody-policy.json").display().to_string(),
        "--product".into(),
        "app".into(),
        "--dir".into(),
        dest.display().to_string(),
    ];
    args.extend(extra.iter().map(|s| (*s).to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    p.run(&refs)
}

fn with_repo() -> (Project, PathBuf) {
    let p = Project::new("ed25519");
    let r = p.run(&[
        "repo",
        "init",
        "--root-keys",
        "3",
        "--root-threshold",
        "2",
        "--json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    assert_eq!(v["root_keys"].as_array().unwrap().len(), 3);
    // Inside dist/, which the project ignores, so releases still see a clean tree.
    let dest = p.dir().join("dist/installed");
    (p, dest)
}

#[test]
fn releases_flow_to_the_customer_and_downgrades_are_refused() {
    let (p, dest) = with_repo();
    let r = release(&p, "1.0.0", b"version one");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let targets = r.json()["tuf_targets"].clone();
    assert_eq!(
        targets,
        serde_json::json!([
            "app/1.0.0/app-1.0.0.tar.gz",
            "app/1.0.0/app-1.0.0.tar.gz.sigstore.json"
        ])
    );

    let r = update(&p, &dest, &["--json"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(r.json()["version"], "1.0.0");
    assert_eq!(
        std::fs::read(dest.join("current/app-1.0.0.tar.gz")).unwrap(),
        b"version one"
    );

    let r = release(&p, "1.10.0", b"version ten");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(release(&p, "1.9.0", b"version nine").code, 0);
    let r = update(&p, &dest, &["--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    assert_eq!(v["version"], "1.10.0", "latest is numeric, not lexical");
    assert_eq!(v["previous"], "1.0.0");
    assert_eq!(
        std::fs::read(dest.join("current/app-1.10.0.tar.gz")).unwrap(),
        b"version ten"
    );
    let r = update(&p, &dest, &["--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["up_to_date"], true);

    let r = update(&p, &dest, &["--to", "1.9.0"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stderr.contains("refusing to downgrade"), "{}", r.stderr);
    assert_eq!(
        std::fs::read_link(dest.join("current")).unwrap(),
        PathBuf::from("1.10.0"),
        "a refused update changes nothing"
    );
}

#[test]
fn a_tampered_target_is_refused_and_nothing_is_installed() {
    let (p, dest) = with_repo();
    assert_eq!(release(&p, "2.0.0", b"genuine").code, 0);
    let dir = p.site().join("tuf/targets/app/2.0.0");
    let file = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".app-2.0.0.tar.gz"))
        .unwrap();
    // Break the hard link, then change the bytes the mirror serves.
    std::fs::remove_file(&file).unwrap();
    std::fs::write(&file, b"malware").unwrap();
    let r = update(&p, &dest, &[]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stderr.contains("tampered or substituted"), "{}", r.stderr);
    assert!(!dest.join("current").exists());
    let leftovers: Vec<_> = std::fs::read_dir(dest.join(".custody-update"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().starts_with("staging-"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "a refused update leaves no staging: {leftovers:?}"
    );
}

#[test]
fn refresh_status_and_rotation_through_the_cli() {
    let (p, dest) = with_repo();
    assert_eq!(release(&p, "1.0.0", b"one").code, 0);
    let r = p.run(&["repo", "status", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let roles: Vec<String> = r
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["role"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(roles[..4], ["root", "targets", "snapshot", "timestamp"]);
    let r = p.run(&["repo", "refresh", "--force", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("timestamp"), "{}", r.stdout);

    // Rotate the timestamp key offline: stage, sign with two of three root keys, publish.
    let staged = p.dir().join("dist/next-root.json");
    let r = p.run(&[
        "repo",
        "rotate",
        "--role",
        "timestamp",
        "-o",
        staged.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["published"], false);
    let keys = p.dir().join(".custody/tuf");
    for n in [1, 3] {
        let key = keys.join(format!("root-{n}.key"));
        let r = p.run(&[
            "repo",
            "sign-root",
            staged.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
        ]);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let r = p.run(&["repo", "publish-root", staged.to_str().unwrap(), "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["rotated"], serde_json::json!(["timestamp"]));
    assert!(keys.join("timestamp.key.retired-v1").exists());

    // The customer follows the rotation from the v1 root they pinned.
    let r = update(&p, &dest, &["--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let stored = std::fs::read(dest.join(".custody-update/metadata/root.json")).unwrap();
    assert_eq!(
        stored,
        std::fs::read(p.site().join("tuf/metadata/2.root.json")).unwrap()
    );
    // Releases keep working with the new key.
    let r = release(&p, "1.1.0", b"two");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = update(&p, &dest, &["--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["version"], "1.1.0");
}

#[test]
fn a_product_team_signs_its_own_targets_and_the_online_key_alone_cannot() {
    let (p, dest) = with_repo();
    let r = release(&p, "1.0.0", b"one");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = p.run(&["repo", "product-key", "app", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let made = r.json();
    assert_eq!(made["created"], true);
    let config = std::fs::read_to_string(p.dir().join("custody.toml")).unwrap();
    assert!(config.contains("[tuf.product_keys]"), "{config}");
    common::git(p.dir(), &["commit", "-q", "-am", "app's own targets key"]);

    // Releases sign app's role with the team's key; customers install them.
    let r = release(&p, "1.1.0", b"two");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = update(&p, &dest, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(dest.join("1.1.0").exists());

    // Without the team's key (only the online targets key at hand), app's role cannot be
    // signed: the release is refused before anything is published.
    std::fs::write(
        p.dir().join("custody.toml"),
        config.split("[tuf.product_keys]").next().unwrap(),
    )
    .unwrap();
    let without = std::fs::read_to_string(p.dir().join("custody.toml")).unwrap();
    assert!(!without.contains("product_keys"));
    common::git(p.dir(), &["commit", "-q", "-am", "forget the team's key"]);
    let r = release(&p, "1.2.0", b"three");
    assert_ne!(r.code, 0, "{}", r.stdout);
    assert!(
        r.stderr.contains("role app is delegated to key"),
        "{}",
        r.stderr
    );
    assert!(!p.release_dir("app", "1.2.0").exists());

    // A product key that is an online key is refused.
    let r = p.run(&[
        "repo",
        "product-key",
        "app",
        "--key",
        ".custody/tuf/snapshot.key",
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("is also the product's targets key"),
        "{}",
        r.stderr
    );
}

/// `custody update` taking the trust files from the repository at `repo` (no --trust/--policy).
fn update_trusting_the_repo(p: &Project, repo: &Path, dest: &Path) -> Run {
    let root = p.site().join("tuf/metadata/1.root.json");
    p.run(&[
        "update",
        "--repo",
        repo.to_str().unwrap(),
        "--root",
        root.to_str().unwrap(),
        "--product",
        "app",
        "--dir",
        dest.to_str().unwrap(),
    ])
}

#[test]
fn trust_files_reach_customers_through_tuf_and_a_revocation_with_them() {
    let (p, dest) = with_repo();
    let repo = p.site().join("tuf");
    let r = release(&p, "1.0.0", b"one");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = update_trusting_the_repo(&p, &repo, &dest);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        dest.join(".custody-update/trust/custody-policy.json")
            .is_file()
    );

    // A mirror that will go on serving the metadata from before the revocation.
    let stale = p.dir().join("dist/stale-mirror");
    copy_dir(&repo, &stale);

    let hint = p.release_key_hint();
    let r = p.run(&["key", "rotate", "--role", "release"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = p.run(&[
        "key",
        "revoke",
        &hint,
        "--since",
        "2026-01-01T00:00:00Z",
        "--reason",
        "stolen with a laptop",
        "--json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["through_tuf"], true);

    // A new customer installing 1.0.0, signed by the revoked key, refuses it with the policy
    // from the repository, and says why.
    let fresh = p.dir().join("dist/fresh");
    let r = update_trusting_the_repo(&p, &repo, &fresh);
    assert_ne!(r.code, 0, "{}", r.stdout);
    assert!(
        r.stderr.contains("revoked") && r.stderr.contains("stolen with a laptop"),
        "{}",
        r.stderr
    );
    assert!(!fresh.join("1.0.0").exists());
    // What the new key signs installs.
    let r = release(&p, "1.1.0", b"two");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = update_trusting_the_repo(&p, &repo, &dest);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(dest.join("1.1.0").exists());

    // A mirror serving the policy from before the revocation is a rollback: refused by TUF.
    let r = update_trusting_the_repo(&p, &stale, &dest);
    assert_ne!(r.code, 0, "{}", r.stdout);
    assert!(
        r.stderr.contains("rollback attack: timestamp version"),
        "{}",
        r.stderr
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn key_rotate_replaces_a_tuf_online_key_through_a_new_root() {
    let (p, dest) = with_repo();
    let r = release(&p, "1.0.0", b"one");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = update(&p, &dest, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let old = std::fs::read(p.dir().join(".custody/tuf/timestamp.key.pub")).unwrap();
    // One root key is below the root's threshold of two: staged, not published.
    let r = p.run(&[
        "key",
        "rotate",
        "--role",
        "timestamp",
        "--root-key",
        ".custody/tuf/root-1.key",
        "--json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let staged = r.json();
    assert!(staged["staged"].is_string(), "{staged}");
    assert!(!p.site().join("tuf/metadata/2.root.json").exists());
    let r = p.run(&[
        "repo",
        "sign-root",
        staged["staged"].as_str().unwrap(),
        "--key",
        ".custody/tuf/root-2.key",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = p.run(&["repo", "publish-root", staged["staged"].as_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(p.site().join("tuf/metadata/2.root.json").is_file());
    assert_ne!(
        std::fs::read(p.dir().join(".custody/tuf/timestamp.key.pub")).unwrap(),
        old
    );
    // The customer follows the new root and takes the next release, timestamped by the new key.
    let r = release(&p, "1.1.0", b"two");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = update(&p, &dest, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(dest.join("1.1.0").exists());
}
