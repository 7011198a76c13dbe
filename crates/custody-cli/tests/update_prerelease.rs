//! Regression for issue 15: `custody update` ordered `1.0.0` below `1.0.0-rc.1`, so after an rc
//! was installed the final release was refused as a downgrade and `--to latest` picked the rc.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};

use common::{Project, Run};

fn release(p: &Project, version: &str) -> Run {
    let name = format!("app-{version}.tar.gz");
    p.artifact(&name, version.as_bytes());
    p.run(&[
        "release",
        &format!("dist/{name}"),
        "--product",
        "app",
        "--version",
        version,
    ])
}

fn update(p: &Project, dest: &Path, extra: &[&str]) -> Run {
    let site = p.site();
    let paths = [
        site.join("tuf"),
        site.join("tuf/metadata/1.root.json"),
        site.join("trusted_root.json"),
        site.join("custody-policy.json"),
    ]
    .map(|p| p.display().to_string());
    let mut args = vec![
        "update",
        "--repo",
        &paths[0],
        "--root",
        &paths[1],
        "--trust",
        &paths[2],
        "--policy",
        &paths[3],
        "--product",
        "app",
        "--json",
    ];
    let dir = dest.display().to_string();
    args.extend(["--dir", &dir]);
    args.extend(extra);
    p.run(&args)
}

fn installed(dest: &Path) -> PathBuf {
    std::fs::read_link(dest.join("current")).unwrap()
}

#[test]
fn a_release_candidate_is_taken_only_with_pre_and_the_final_release_upgrades_it() {
    let p = Project::new("ed25519");
    let r = p.run(&["repo", "init", "--root-keys", "1", "--root-threshold", "1"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let dest = p.dir().join("dist/installed");

    assert_eq!(release(&p, "0.9.0").code, 0);
    assert_eq!(release(&p, "1.0.0-rc.1").code, 0);

    let r = update(&p, &dest, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["version"], "0.9.0", "latest skips pre-releases");

    let r = update(&p, &dest, &["--pre"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["version"], "1.0.0-rc.1");
    assert_eq!(installed(&dest), PathBuf::from("1.0.0-rc.1"));

    assert_eq!(release(&p, "1.0.0").code, 0);
    let r = update(&p, &dest, &[]);
    assert_eq!(r.code, 0, "rc -> final is an upgrade: {}", r.stderr);
    assert_eq!(r.json()["previous"], "1.0.0-rc.1");
    assert_eq!(installed(&dest), PathBuf::from("1.0.0"));

    let r = update(&p, &dest, &["--to", "1.0.0-rc.1"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stderr.contains("refusing to downgrade"), "{}", r.stderr);
    assert_eq!(installed(&dest), PathBuf::from("1.0.0"));
}

#[test]
fn only_pre_releases_is_a_usage_error_naming_pre() {
    let p = Project::new("ed25519");
    let r = p.run(&["repo", "init", "--root-keys", "1", "--root-threshold", "1"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(release(&p, "2.0.0-beta.1").code, 0);
    let dest = p.dir().join("dist/installed");
    let r = update(&p, &dest, &[]);
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(r.stderr.contains("--pre"), "{}", r.stderr);
    assert!(!dest.join("current").exists());
}
