//! `custody doctor`: each check tripped by a setup that breaks the practice it looks for, and
//! quiet once the practice is followed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{AdvisoryFeed, Project, Server, git, serve_custody};
use serde_json::Value;

fn doctor(p: &Project, extra: &[&str]) -> (i32, Value) {
    let r = p.run(&[&["doctor", "--json"][..], extra].concat());
    assert!(r.code == 0 || r.code == 1, "{}", r.stderr);
    (r.code, r.json())
}

/// The findings of `check`, as (level, subject).
fn found(report: &Value, check: &str) -> Vec<(String, String)> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check"] == check)
        .map(|f| {
            for field in ["problem", "why", "fix"] {
                assert!(
                    !f[field].as_str().unwrap_or_default().is_empty(),
                    "{field} is empty: {f}"
                );
            }
            (
                f["level"].as_str().unwrap().to_owned(),
                f["subject"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn release(p: &Project, version: &str, extra: &[&str]) {
    let name = format!("app-{version}.tar.gz");
    p.artifact(&name, version.as_bytes());
    let r = p.run(
        &[
            &[
                "release",
                &format!("dist/{name}"),
                "--product",
                "app",
                "--version",
                version,
            ][..],
            extra,
        ]
        .concat(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
}

fn set_config(p: &Project, from: &str, to: &str) {
    let path = p.dir().join("custody.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{text}");
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    git(p.dir(), &["commit", "-q", "-am", "config"]);
}

#[test]
fn a_new_project_is_told_what_it_does_not_do_yet_and_exit_codes_follow_fail_on() {
    let p = Project::new("ed25519");
    let (code, report) = doctor(&p, &[]);
    assert_eq!(code, 1, "{report}");
    for check in ["tuf-missing", "advisories-missing", "log-unwitnessed"] {
        assert_eq!(found(&report, check).len(), 1, "{check}: {report}");
        assert_eq!(found(&report, check)[0].0, "warning");
    }
    // Encrypted, separate keys: nothing about them.
    for check in ["key-unencrypted", "key-shared", "key-missing"] {
        assert!(found(&report, check).is_empty(), "{report}");
    }
    // Warnings only: below an error threshold.
    let (code, _) = doctor(&p, &["--fail-on", "error"]);
    assert_eq!(code, 0);
    // Human output explains each finding.
    let r = p.run(&["doctor"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stdout.contains("WARNING") && r.stdout.contains("why: ") && r.stdout.contains("fix: "),
        "{}",
        r.stdout
    );
    let r = p.run(&["doctor", "--fail-on", "sometimes"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
}

#[test]
fn unencrypted_shared_and_missing_keys_are_errors() {
    let plain = Project::with_init(&["--insecure-unencrypted-key"], |_| {});
    let (code, report) = doctor(&plain, &["--fail-on", "error"]);
    assert_eq!(code, 1, "{report}");
    let unencrypted = found(&report, "key-unencrypted");
    assert!(
        unencrypted
            .iter()
            .any(|(l, s)| l == "error" && s.contains("release key")),
        "{report}"
    );

    let shared = Project::with_init(
        &[
            "--key",
            ".custody/one.key",
            "--log-key",
            ".custody/one.key",
            "--insecure-shared-key",
        ],
        |_| {},
    );
    let (_, report) = doctor(&shared, &[]);
    let hits = found(&report, "key-shared");
    assert_eq!(hits.len(), 1, "{report}");
    assert_eq!(hits[0].0, "error");

    let p = Project::new("ed25519");
    std::fs::remove_file(p.dir().join(".custody/log.key")).unwrap();
    let (code, report) = doctor(&p, &["--fail-on", "error"]);
    assert_eq!(code, 1);
    let missing = found(&report, "key-missing");
    assert!(missing[0].1.contains("log key"), "{report}");
}

#[test]
fn tuf_root_threshold_online_root_keys_and_expiring_metadata() {
    let p = Project::new("ed25519");
    let r = p.run(&["repo", "init"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let (_, report) = doctor(&p, &[]);
    assert_eq!(found(&report, "tuf-root-threshold").len(), 1, "{report}");
    assert_eq!(found(&report, "tuf-root-key-online").len(), 1, "{report}");
    assert!(found(&report, "tuf-missing").is_empty());
    assert!(found(&report, "tuf-expiring").is_empty(), "{report}");

    // The timestamp, valid for a day, is now under a quarter of a 30-day period.
    set_config(&p, "timestamp_days = 1", "timestamp_days = 30");
    let (_, report) = doctor(&p, &[]);
    let expiring = found(&report, "tuf-expiring");
    assert_eq!(
        expiring,
        vec![("warning".to_owned(), "TUF timestamp".to_owned())],
        "{report}"
    );
    // Re-signed to expire at once: expired, an error.
    set_config(&p, "timestamp_days = 30", "timestamp_days = 0");
    let r = p.run(&["repo", "refresh", "--force"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let (code, report) = doctor(&p, &["--fail-on", "error"]);
    assert_eq!(code, 1, "{report}");
    assert!(
        found(&report, "tuf-expiring").contains(&("error".to_owned(), "TUF timestamp".to_owned())),
        "{report}"
    );

    // Several root keys, two needed, kept offline: nothing about the root.
    let q = Project::new("ed25519");
    let r = q.run(&["repo", "init", "--root-keys", "3", "--root-threshold", "2"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let offline = q.dir().join("dist/offline");
    std::fs::create_dir_all(&offline).unwrap();
    for n in 1..=3 {
        let name = format!("root-{n}.key");
        std::fs::rename(
            q.dir().join(".custody/tuf").join(&name),
            offline.join(&name),
        )
        .unwrap();
    }
    let (_, report) = doctor(&q, &[]);
    assert!(found(&report, "tuf-root-threshold").is_empty(), "{report}");
    assert!(found(&report, "tuf-root-key-online").is_empty(), "{report}");
}

#[test]
fn releases_without_sbom_or_provenance_or_from_a_dirty_tree() {
    let p = Project::new("ed25519");
    release(&p, "1.0.0", &[]);
    let (_, report) = doctor(&p, &[]);
    assert_eq!(
        found(&report, "release-without-sbom"),
        vec![("warning".to_owned(), "app 1.0.0".to_owned())]
    );
    assert!(found(&report, "release-dirty-tree").is_empty(), "{report}");

    std::fs::write(p.dir().join("uncommitted.txt"), "x").unwrap();
    release(&p, "1.1.0", &["--allow-dirty"]);
    let (_, report) = doctor(&p, &[]);
    assert_eq!(
        found(&report, "release-dirty-tree"),
        vec![("warning".to_owned(), "app 1.1.0".to_owned())]
    );

    std::fs::remove_file(
        p.release_dir("app", "1.0.0")
            .join("provenance.sigstore.json"),
    )
    .unwrap();
    let (code, report) = doctor(&p, &["--fail-on", "error"]);
    assert_eq!(code, 1);
    assert_eq!(
        found(&report, "release-without-provenance"),
        vec![("error".to_owned(), "app 1.0.0".to_owned())]
    );
}

#[test]
fn an_advisory_database_older_than_a_week_is_stale() {
    let p = Project::new("ed25519");
    let feed = AdvisoryFeed::new();
    feed.add("RUSTSEC-2021-0003");
    feed.import(&p);
    let (_, report) = doctor(&p, &[]);
    assert!(found(&report, "advisories-missing").is_empty(), "{report}");
    assert!(found(&report, "advisories-stale").is_empty(), "{report}");

    let sources = p.dir().join(".custody/advisories/sources");
    let week_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(8 * 86_400);
    for entry in std::fs::read_dir(&sources).unwrap() {
        let file = std::fs::File::options()
            .append(true)
            .open(entry.unwrap().path())
            .unwrap();
        file.set_modified(week_ago).unwrap();
    }
    let (_, report) = doctor(&p, &[]);
    let stale = found(&report, "advisories-stale");
    assert_eq!(stale.len(), 1, "{report}");
    assert!(stale[0].1.contains("osv"), "{report}");
}

#[test]
fn witnesses_configured_but_not_required_then_required_and_missing() {
    let p = Project::new("ed25519");
    let r = p.run(&["key", "generate", "--out", "dist/witness.key"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = p.run(&[
        "log",
        "witness",
        "vkey",
        "--key",
        "dist/witness.key",
        "--name",
        "witness.example.com",
        "--json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let vkey = r.json()["vkey"].as_str().unwrap().to_owned();
    // A witness nobody runs: every cosignature request fails.
    let config = p.dir().join("custody.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "\n[[log.witnesses]]\nname = \"w\"\nvkey = \"{vkey}\"\nurl = \"http://127.0.0.1:9\"\n"
    ));
    std::fs::write(&config, text).unwrap();
    git(p.dir(), &["commit", "-q", "-am", "a witness"]);
    release(&p, "1.0.0", &[]);
    let (_, report) = doctor(&p, &[]);
    assert!(found(&report, "log-unwitnessed").is_empty(), "{report}");
    assert_eq!(
        found(&report, "log-witnesses-not-required").len(),
        1,
        "{report}"
    );

    let policy_path = p.site().join("custody-policy.json");
    let mut policy: Value = serde_json::from_slice(&std::fs::read(&policy_path).unwrap()).unwrap();
    policy["witnesses"] = serde_json::json!({"threshold": 1, "keys": [vkey]});
    std::fs::write(&policy_path, policy.to_string()).unwrap();
    let (code, report) = doctor(&p, &["--fail-on", "error"]);
    assert_eq!(code, 1, "{report}");
    assert_eq!(
        found(&report, "log-checkpoint-unwitnessed").len(),
        1,
        "{report}"
    );
}

#[test]
fn a_site_served_without_custodys_cache_headers_is_found() {
    let p = Project::new("ed25519");
    let r = p.run(&["repo", "init"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    release(&p, "1.0.0", &[]);
    // A plain static server sends no Cache-Control: a cache may keep the timestamp.
    let plain = Server::start(&p.site());
    let (code, report) = doctor(&p, &["--url", &plain.url(""), "--fail-on", "error"]);
    assert_eq!(code, 1, "{report}");
    let hits = found(&report, "site-cache-headers");
    assert!(
        hits.iter()
            .any(|(l, s)| l == "error" && s.ends_with("tuf/metadata/timestamp.json")),
        "{report}"
    );
    // custody serve sends them.
    let (_server, url) = serve_custody(&p, &[]);
    let (_, report) = doctor(&p, &["--url", &url]);
    assert!(found(&report, "site-cache-headers").is_empty(), "{report}");
    assert!(found(&report, "site-unreachable").is_empty(), "{report}");
    // Nothing listening.
    let (code, report) = doctor(&p, &["--url", "http://127.0.0.1:9", "--fail-on", "error"]);
    assert_eq!(code, 1);
    assert_eq!(found(&report, "site-unreachable").len(), 1, "{report}");
}
