//! `custody monitor`: releases are catalogued by `custody release`, re-scanned after an advisory
//! import, and only what is new is reported, with a signed notice per release and an
//! HMAC-signed webhook event; a VEX suppression holds for every version of the product.
//!
//! Advisories are real ones from the crates.io snapshot in `testdata/`: RUSTSEC-2021-0003 (smallvec),
//! RUSTSEC-2022-0013 (regex, fixed in 1.5.5) and RUSTSEC-2020-0071 (time).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "../../custody-catalog/tests/support/postgres.rs"]
mod postgres;

use common::{AdvisoryFeed, Project, Run, git, header, hook_server};
use hmac::{KeyInit, Mac};

const SECRET: &str = "webhook secret for the test";

fn run_env(p: &Project, args: &[&str]) -> Run {
    common::custody()
        .current_dir(p.dir())
        .env("HOOK_SECRET", SECRET)
        .args(args)
        .output()
        .unwrap()
        .into()
}

fn lines(report: &serde_json::Value) -> Vec<String> {
    let mut v: Vec<String> = report["new_findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "{} {} {}",
                f["version"].as_str().unwrap(),
                f["id"].as_str().unwrap(),
                f["package"].as_str().unwrap()
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn monitor_reports_only_what_is_new_with_signed_notices_and_webhooks() {
    let p = Project::new("ed25519");
    p.write_vulnerable_app();
    let (url, requests) = hook_server();
    let config = p.dir().join("custody.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        format!("{text}\n[[monitor.webhooks]]\nurl = \"{url}\"\nsecret_env = \"HOOK_SECRET\"\n"),
    )
    .unwrap();
    git(p.dir(), &["add", "-A"]);
    git(p.dir(), &["commit", "-q", "-m", "app"]);
    p.artifact("app.tgz", b"app");

    // Only the smallvec advisory is known; the supplier says app is not affected.
    let feed = AdvisoryFeed::new();
    feed.add("RUSTSEC-2021-0003");
    feed.import(&p);
    p.vex_not_affected("RUSTSEC-2021-0003");
    p.release_app("1.0.0");
    p.release_app("1.1.0");

    // First run: both releases catalogued by `custody release`; what the gate knew is not news.
    let r = run_env(&p, &["monitor", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let first = r.json();
    assert_eq!(first["first_run"], true);
    assert_eq!(first["releases"], 2);
    assert!(lines(&first).is_empty(), "{first}");

    // Two advisories arrive; time's is declared not_affected for the product before the run.
    feed.add("RUSTSEC-2022-0013");
    feed.add("RUSTSEC-2020-0071");
    feed.import(&p);
    p.vex_not_affected("RUSTSEC-2020-0071");
    let r = run_env(&p, &["monitor", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let second = r.json();
    assert_eq!(second["advisories_added"], 2);
    assert_eq!(second["touched_packages"], 2);
    assert_eq!(second["rescanned_releases"], 2);
    assert_eq!(
        lines(&second),
        [
            "1.0.0 RUSTSEC-2022-0013 regex",
            "1.1.0 RUSTSEC-2022-0013 regex"
        ]
    );
    // The suppression holds in both versions of the product.
    assert_eq!(second["suppressed"], 2);

    // One signed notice per affected release.
    let notices = second["notices"].as_array().unwrap();
    assert_eq!(notices.len(), 2);
    for n in notices {
        // Relative to the project directory, like the site itself.
        let path = p.dir().join(n.as_str().unwrap());
        assert!(
            path.parent().unwrap().ends_with("site/advisories"),
            "{}",
            path.display()
        );
        let notice: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(notice["product"], "app");
        let f = &notice["findings"][0];
        assert_eq!(f["id"], "RUSTSEC-2022-0013");
        assert_eq!(f["package"], "regex");
        assert_eq!(f["fixed_version"], "1.5.5");
        assert_eq!(f["vex_status"], serde_json::Value::Null);
        assert_eq!(notice["findings"].as_array().unwrap().len(), 1);
        let bundle = path.with_file_name(format!(
            "{}.sigstore.json",
            path.file_name().unwrap().to_str().unwrap()
        ));
        let stmt = common::statement(&bundle);
        assert_eq!(stmt["predicateType"], "https://custody.dev/notice/v1");
        assert_eq!(stmt["predicate"], notice);
        assert_eq!(stmt["subject"][0]["name"], "app.tgz");
        // Logged, so the supplier cannot quietly withdraw it: the bundle carries its log entry
        // and inclusion proof.
        let logged: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&bundle).unwrap()).unwrap();
        let entry = &logged["verificationMaterial"]["tlogEntries"][0];
        assert!(entry["logIndex"].is_string(), "{logged}");
        assert!(entry["inclusionProof"]["hashes"].is_array(), "{logged}");
    }
    let r = p.run(&["log", "checkpoint", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Two releases and their attachments, then two notices.
    assert!(r.json()["size"].as_u64().unwrap() >= 4, "{}", r.stdout);

    // One webhook event per affected release, each with a valid HMAC-SHA256 of its body.
    let got = requests.lock().unwrap().clone();
    assert_eq!(got.len(), 2);
    for (headers, body) in &got {
        let sig = header(headers, "x-custody-signature").expect("signature header");
        let mut mac =
            <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(SECRET.as_bytes()).unwrap();
        mac.update(body);
        assert_eq!(
            sig,
            format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
        );
        let event: serde_json::Value = serde_json::from_slice(body).unwrap();
        assert_eq!(event["type"], "custody.monitor.new_findings");
        assert_eq!(
            event["notice_body"]["findings"][0]["id"],
            "RUSTSEC-2022-0013"
        );
    }

    // Nothing changed: nothing is re-scanned, nothing new, no event.
    let r = run_env(&p, &["monitor", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let third = r.json();
    assert_eq!(third["rescanned_releases"], 0);
    assert!(lines(&third).is_empty());
    assert_eq!(requests.lock().unwrap().len(), 2);

    // An advisory whose content changes (its `modified` alone would not be trusted) is looked
    // at again, but what the releases already had is not news.
    let file = feed.dir().join("RUSTSEC-2022-0013.json");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        text.replacen("\"summary\": \"", "\"summary\": \"Updated: ", 1),
    )
    .unwrap();
    feed.import(&p);
    let r = run_env(&p, &["monitor", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let fourth = r.json();
    assert_eq!(fourth["advisories_changed"], 1);
    assert_eq!(fourth["rescanned_releases"], 2);
    assert!(lines(&fourth).is_empty(), "{fourth}");
}

#[test]
fn old_releases_are_added_from_the_site() {
    let p = Project::new("ed25519");
    p.write_vulnerable_app();
    git(p.dir(), &["add", "-A"]);
    git(p.dir(), &["commit", "-q", "-m", "app"]);
    p.artifact("app.tgz", b"app");
    let feed = AdvisoryFeed::new();
    feed.add("RUSTSEC-2022-0013");
    feed.import(&p);
    p.vex_not_affected("RUSTSEC-2022-0013");
    p.release_app("1.0.0");
    // A release from before the catalog: no SBOM, so it cannot be monitored, and says so.
    let r = p.run(&[
        "release",
        "dist/app.tgz",
        "--product",
        "app",
        "--version",
        "0.9.0",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    std::fs::remove_file(p.dir().join(".custody/catalog.sqlite")).unwrap();

    let r = p.run(&["monitor", "--add-site", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("0.9.0") && r.stderr.contains("no sbom.cdx.json"),
        "{}",
        r.stderr
    );
    let report = r.json();
    assert_eq!(report["added_releases"], 1);
    assert_eq!(report["releases"], 1);
    // Suppressed by the product's VEX statement, so not news; nothing else applies.
    assert_eq!(report["suppressed"], 1);
    assert!(lines(&report).is_empty());

    // Adding it again is a no-op; naming a directory without an SBOM is an error.
    let dir = p.release_dir("app", "1.0.0");
    let r = p.run(&["monitor", "--add-release", dir.to_str().unwrap(), "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["added_releases"], 0);
    let old = p.release_dir("app", "0.9.0");
    let r = p.run(&["monitor", "--add-release", old.to_str().unwrap()]);
    assert_eq!(r.code, 2, "{}", r.stderr);
}

#[test]
fn a_catalog_in_postgresql_serves_release_and_monitor_alike() {
    let Some(cluster) = postgres::Postgres::start() else {
        return;
    };
    let url = cluster.database("catalog");
    let p = Project::new("ed25519");
    p.write_vulnerable_app();
    p.use_catalog(&url);
    git(p.dir(), &["add", "-A"]);
    git(p.dir(), &["commit", "-q", "-m", "app"]);
    p.artifact("app.tgz", b"app");
    let feed = AdvisoryFeed::new();
    feed.add("RUSTSEC-2021-0003");
    feed.import(&p);
    p.vex_not_affected("RUSTSEC-2021-0003");
    p.release_app("1.0.0");
    assert!(
        !p.dir().join(".custody/catalog.sqlite").exists(),
        "the release went to PostgreSQL, not the default SQLite file"
    );

    let r = run_env(&p, &["monitor", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["releases"], 1);
    feed.add("RUSTSEC-2022-0013");
    feed.import(&p);
    let r = run_env(&p, &["monitor", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(lines(&r.json()), ["1.0.0 RUSTSEC-2022-0013 regex"]);
    let r = run_env(&p, &["monitor", "--json"]);
    assert!(lines(&r.json()).is_empty());

    // A catalog that cannot be reached is named, without its password.
    p.use_catalog("postgres://custody:hunter2@127.0.0.1:1/none");
    let r = run_env(&p, &["monitor"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("postgres://custody:***@127.0.0.1:1/none"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("hunter2"), "{}", r.stderr);
}
