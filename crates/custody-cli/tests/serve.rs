//! `custody serve` over real HTTP: immutable files (log tiles, releases, TUF targets and
//! versioned metadata) are cacheable for a year, the checkpoint and TUF timestamp and root must
//! be revalidated, partial tiles are short-lived; and a witness can cosign the log it serves.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "../../custody-catalog/tests/support/postgres.rs"]
mod postgres;

use common::{Killed, Project, serve_custody};

fn serve(p: &Project) -> (Killed, String) {
    serve_custody(p, &[])
}

fn get(url: &str) -> (u16, Option<String>, Vec<u8>) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut res = agent.get(url).call().unwrap();
    let cc = res
        .headers()
        .get("cache-control")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = res.body_mut().read_to_vec().unwrap();
    (res.status().as_u16(), cc, body)
}

const YEAR: &str = "public, max-age=31536000, immutable";

#[test]
fn cache_headers_say_what_is_immutable() {
    let p = Project::new("ed25519");
    p.release();
    let site = p.site();
    // TUF and full-tile paths as a larger site has them (headers depend on the path only).
    for (path, body) in [
        ("tuf/metadata/1.root.json", "{}"),
        ("tuf/metadata/root.json", "{}"),
        ("tuf/metadata/timestamp.json", "{}"),
        ("tuf/metadata/4.snapshot.json", "{}"),
        ("tuf/targets/app/0a1b.app-1.4.2.tar.gz", "x"),
        ("log/tile/0/x001/234", "t"),
    ] {
        let f = site.join(path);
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(f, body).unwrap();
    }
    let (_server, base) = serve(&p);

    let partial: Vec<String> = std::fs::read_dir(site.join("log/tile/0/000.p"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let entries_partial: Vec<String> = std::fs::read_dir(site.join("log/tile/entries/000.p"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let cases = [
        ("releases/app/1.4.2/app-1.4.2.tar.gz".to_owned(), YEAR),
        (
            "releases/app/1.4.2/app-1.4.2.tar.gz.sigstore.json".to_owned(),
            YEAR,
        ),
        ("tuf/metadata/1.root.json".to_owned(), YEAR),
        ("tuf/metadata/4.snapshot.json".to_owned(), YEAR),
        ("tuf/targets/app/0a1b.app-1.4.2.tar.gz".to_owned(), YEAR),
        ("log/tile/0/x001/234".to_owned(), YEAR),
        ("log/checkpoint".to_owned(), "no-cache"),
        ("tuf/metadata/timestamp.json".to_owned(), "no-cache"),
        ("tuf/metadata/root.json".to_owned(), "no-cache"),
        ("trusted_root.json".to_owned(), "no-cache"),
        (
            format!("log/tile/0/000.p/{}", partial[0]),
            "public, max-age=60",
        ),
        (
            format!("log/tile/entries/000.p/{}", entries_partial[0]),
            "public, max-age=60",
        ),
        ("custody-policy.json".to_owned(), "public, max-age=60"),
    ];
    for (path, want) in cases {
        let (status, cc, body) = get(&format!("{base}/{path}"));
        assert_eq!(status, 200, "{path}");
        assert_eq!(cc.as_deref(), Some(want), "{path}");
        assert_eq!(body, std::fs::read(site.join(&path)).unwrap(), "{path}");
    }
    // Nothing outside the site, and no header on a miss.
    let (status, cc, _) = get(&format!("{base}/../custody.toml"));
    assert_eq!(status, 404);
    assert_eq!(cc, None);
    let (status, _, _) = get(&format!("{base}/%2e%2e/custody.toml"));
    assert_eq!(status, 404);
}

#[test]
fn a_witness_cosigns_a_log_read_over_http() {
    let p = Project::new("ed25519");
    p.release();
    let (_server, base) = serve(&p);
    let wdir = tempfile::tempdir().unwrap();
    let key = wdir.path().join("w.key");
    assert_eq!(
        p.run(&["key", "generate", "--out", key.to_str().unwrap()])
            .code,
        0
    );
    let vkey = std::fs::read_to_string(p.site().join("log/vkey")).unwrap();
    let r = p.run(&[
        "--json",
        "log",
        "witness",
        "cosign",
        "--log",
        &format!("{base}/log"),
        "--vkey",
        vkey.trim(),
        "--key",
        key.to_str().unwrap(),
        "--name",
        "witness.example",
        "--state",
        wdir.path().join("state").to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["size"], 4);
}

// ---------------------------------------------------------------------------------------------
// The API: tokens on every route, the audit log of every write and refusal.

/// (status, WWW-Authenticate, JSON body) of one API call.
fn call(
    method: &str,
    url: &str,
    token: Option<&str>,
    body: Option<&[u8]>,
) -> (u16, Option<String>, serde_json::Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut req = ureq::http::Request::builder().method(method).uri(url);
    if let Some(t) = token {
        req = req.header("Authorization", format!("Bearer {t}"));
    }
    let req = req.body(body.unwrap_or_default().to_vec()).unwrap();
    let mut res = agent.run(req).unwrap();
    let challenge = res
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    let text = res.body_mut().read_to_string().unwrap_or_default();
    let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
    (res.status().as_u16(), challenge, json)
}

/// A project with app 1.0.0 released and monitored: regex's advisory is a stored finding.
fn monitored_release() -> Project {
    let p = Project::new("ed25519");
    p.write_vulnerable_app();
    common::git(p.dir(), &["add", "-A"]);
    common::git(p.dir(), &["commit", "-q", "-m", "app"]);
    p.artifact("app.tgz", b"app");
    let feed = common::AdvisoryFeed::new();
    feed.add("RUSTSEC-2021-0003");
    feed.import(&p);
    p.vex_not_affected("RUSTSEC-2021-0003");
    p.release_app("1.0.0");
    feed.add("RUSTSEC-2022-0013");
    feed.import(&p);
    let r = p.run(&["monitor"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    p
}

#[test]
fn the_api_checks_tokens_on_every_route_and_audits_writes_and_refusals() {
    let p = monitored_release();
    let (_admin_id, admin) = p.token(&["--scope", "admin"]);
    let (reader_id, reader) = p.token(&["--product", "app", "--scope", "read"]);
    let (other_id, other) = p.token(&["--product", "web", "--scope", "read"]);
    let (revoked_id, revoked) = p.token(&["--product", "app", "--scope", "read"]);
    assert_eq!(p.run(&["token", "revoke", &revoked_id]).code, 0);
    let (_server, base) = serve(&p);
    let api = format!("{base}/api/v1");
    let findings = format!("{api}/releases/app/1.0.0/findings");

    // A reader of app sees app's findings, the monitor's and the gate's.
    let (status, _, body) = call("GET", &findings, Some(&reader), None);
    assert_eq!(status, 200, "{body}");
    let ids: Vec<&str> = body["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"RUSTSEC-2022-0013"), "{body}");

    // Refusals: none, unknown, revoked (401, with the challenge); another product, another
    // scope (403).
    let made_up = format!("custody_{}", "A".repeat(43));
    for (secret, want) in [
        (None, 401),
        (Some(made_up.as_str()), 401),
        (Some(revoked.as_str()), 401),
        (Some(other.as_str()), 403),
    ] {
        let (status, challenge, body) = call("GET", &findings, secret, None);
        assert_eq!(status, want, "{secret:?}: {body}");
        assert_eq!(challenge.is_some(), want == 401, "{secret:?}");
        assert!(body["error"].is_string(), "{body}");
    }
    let (status, _, body) = call("GET", &format!("{api}/tokens"), Some(&reader), None);
    assert_eq!(status, 403, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("may not admin"),
        "{body}"
    );
    let (status, _, _) = call(
        "GET",
        &format!("{api}/releases/app/9.9.9/findings"),
        Some(&reader),
        None,
    );
    assert_eq!(status, 404);

    // Tokens through the API: made by an admin, used at once, refused once expired.
    let (status, _, made) = call(
        "POST",
        &format!("{api}/tokens"),
        Some(&admin),
        Some(br#"{"product": "app", "scopes": ["read"], "expires_in": 1}"#),
    );
    assert_eq!(status, 201, "{made}");
    let short = made["secret"].as_str().unwrap();
    assert_eq!(call("GET", &findings, Some(short), None).0, 200);
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let (status, _, body) = call("GET", &findings, Some(short), None);
    assert_eq!(status, 401);
    assert!(
        body["error"].as_str().unwrap().contains("expired"),
        "{body}"
    );

    // Bad requests: malformed JSON, an unknown scope, a body over the limit, an unknown id.
    for body in [
        &b"{not json"[..],
        br#"{"scopes": ["root"]}"#,
        br#"{"scopes": []}"#,
    ] {
        let (status, _, err) = call("POST", &format!("{api}/tokens"), Some(&admin), Some(body));
        assert_eq!(status, 400, "{err}");
    }
    let huge = vec![b' '; 128 << 10];
    let (status, _, _) = call("POST", &format!("{api}/tokens"), Some(&admin), Some(&huge));
    assert_eq!(status, 413);
    let (status, _, _) = call(
        "DELETE",
        &format!("{api}/tokens/tok_000000000000"),
        Some(&admin),
        None,
    );
    assert_eq!(status, 404);
    let (status, _, _) = call(
        "DELETE",
        &format!("{api}/tokens/{other_id}"),
        Some(&admin),
        None,
    );
    assert_eq!(status, 200);
    assert_eq!(call("GET", &findings, Some(&other), None).0, 401);

    // The audit log has every write and refusal, in order, and not the successful reads.
    let (status, _, log) = call(
        "GET",
        &format!("{api}/audit?limit=1000"),
        Some(&admin),
        None,
    );
    assert_eq!(status, 200, "{log}");
    let records = log["records"].as_array().unwrap();
    let line = |r: &serde_json::Value| {
        format!(
            "{} {} {} {}",
            r["action"].as_str().unwrap(),
            r["token"].as_str().unwrap_or("-"),
            r["target"].as_str().unwrap(),
            r["outcome"].as_str().unwrap().split(':').next().unwrap()
        )
    };
    let lines: Vec<String> = records.iter().map(line).collect();
    let short_id = made["id"].as_str().unwrap();
    assert_eq!(
        lines,
        [
            "findings.read - app/1.0.0 refused".to_owned(),
            "findings.read - app/1.0.0 refused".to_owned(),
            format!("findings.read {revoked_id} app/1.0.0 refused"),
            format!("findings.read {other_id} app/1.0.0 refused"),
            format!("token.list {reader_id} tokens refused"),
            format!("findings.read {reader_id} app/9.9.9 failed"),
            format!("token.create {_admin_id} tokens ok"),
            format!("findings.read {short_id} app/1.0.0 refused"),
            format!("token.create {_admin_id} tokens failed"),
            format!("token.create {_admin_id} tokens failed"),
            format!("token.create {_admin_id} tokens failed"),
            format!("token.revoke {_admin_id} tok_000000000000 failed"),
            format!("token.revoke {_admin_id} {other_id} ok"),
            format!("findings.read {other_id} app/1.0.0 refused"),
        ],
        "{log}"
    );
    assert!(records.iter().all(|r| r["client"] == "127.0.0.1"));
    assert!(
        records
            .windows(2)
            .all(|w| w[0]["seq"].as_i64() < w[1]["seq"].as_i64())
    );
}

#[test]
fn the_api_runs_on_a_postgresql_catalog() {
    let Some(cluster) = postgres::Postgres::start() else {
        return;
    };
    let url = cluster.database("api");
    let p = Project::new("ed25519");
    p.use_catalog(&url);
    let (admin_id, admin) = p.token(&["--scope", "admin"]);
    let (_server, base) = serve(&p);
    let api = format!("{base}/api/v1");
    assert_eq!(call("GET", &format!("{api}/tokens"), None, None).0, 401);
    let (status, _, body) = call("GET", &format!("{api}/tokens"), Some(&admin), None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["tokens"][0]["id"], admin_id.as_str());
    let (status, _, log) = call("GET", &format!("{api}/audit"), Some(&admin), None);
    assert_eq!(status, 200, "{log}");
    assert_eq!(log["records"].as_array().unwrap().len(), 1, "{log}");
    assert!(!p.dir().join(".custody/catalog.sqlite").exists());
}

// ---------------------------------------------------------------------------------------------
// Publishing through the server

/// `custody release ... --publish URL` from the pipeline's project `c`.
fn publish(c: &Project, url: &str, token: &str, version: &str, extra: &[&str]) -> common::Run {
    let args = [
        &[
            "release",
            "dist/app.tgz",
            "--product",
            "app",
            "--version",
            version,
            "--publish",
            url,
            "--json",
        ][..],
        extra,
    ]
    .concat();
    common::custody()
        .current_dir(c.dir())
        .env("CUSTODY_TOKEN", token)
        .args(args)
        .output()
        .unwrap()
        .into()
}

#[test]
fn a_pipeline_publishes_through_the_server_once_gated_signed_and_logged() {
    // The server: a project with a TUF repository and smallvec's advisory.
    let server = Project::new("ed25519");
    let r = server.run(&["repo", "init", "--root-keys", "1", "--root-threshold", "1"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let feed = common::AdvisoryFeed::new();
    feed.add("RUSTSEC-2021-0003");
    feed.import(&server);
    let (_, publisher) = server.token(&["--product", "app", "--scope", "publish"]);
    let (_, web) = server.token(&["--product", "web", "--scope", "publish"]);
    let (_, reader) = server.token(&["--product", "app", "--scope", "read"]);
    let (_, admin) = server.token(&["--scope", "admin"]);
    let (_running, url) = serve_custody(&server, &["--max-upload", "4096", "--read-timeout", "1"]);

    // The pipeline: its own repository, a vulnerable lockfile and an artifact.
    let pipeline = Project::new("ed25519");
    pipeline.write_vulnerable_app();
    common::git(pipeline.dir(), &["add", "-A"]);
    common::git(pipeline.dir(), &["commit", "-q", "-m", "app"]);
    pipeline.artifact("app.tgz", b"app 1.0.0");
    let sbom = ["--sbom", "app/Cargo.lock"];

    // The server's gate refuses the vulnerable release: nothing is published.
    let r = publish(&pipeline, &url, &publisher, "1.0.0", &sbom);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("422"), "{}", r.stderr);
    assert!(r.stderr.contains("RUSTSEC-2021-0003"), "{}", r.stderr);
    assert!(!server.site().join("releases/app/1.0.0").exists());

    // Refused tokens: another product's, none that exists.
    let r = publish(&pipeline, &url, &web, "1.0.0", &sbom);
    assert!(r.stderr.contains("403"), "{}", r.stderr);
    let r = publish(&pipeline, &url, "custody_nope", "1.0.0", &sbom);
    assert!(r.stderr.contains("401"), "{}", r.stderr);

    // Once the supplier says, through the API, that the product is not affected, it is
    // published, signed by the server's key, logged and a TUF target.
    let (_, vex) = server.token(&["--product", "app", "--scope", "vex"]);
    let statement = br#"{"id": "RUSTSEC-2021-0003", "status": "not_affected",
        "justification": "vulnerable_code_not_in_execute_path"}"#;
    let vex_url = format!("{url}/api/v1/products/app/vex");
    let (status, _, body) = call("POST", &vex_url, Some(&publisher), Some(statement));
    assert_eq!(
        status, 403,
        "a publish token may not say what a vulnerability means: {body}"
    );
    let (status, _, body) = call(
        "POST",
        &vex_url,
        Some(&vex),
        Some(br#"{"id": "RUSTSEC-2021-0003", "status": "fine"}"#),
    );
    assert_eq!(status, 400, "{body}");
    let (status, _, body) = call("POST", &vex_url, Some(&vex), Some(statement));
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["version"], 1);
    let r = publish(&pipeline, &url, &publisher, "1.0.0", &sbom);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["fresh"], true);
    let dir = server.site().join("releases/app/1.0.0");
    for f in ["app.tgz", "sbom.cdx.json", "scan.json", "manifest.json"] {
        assert!(dir.join(f).is_file(), "{f}");
    }
    let v = server.verify(
        &dir.join("app.tgz"),
        &["--product", "app", "--version", "1.0.0"],
    );
    assert_eq!(v.code, 0, "{}", v.stderr);
    let provenance = common::statement(&dir.join("provenance.sigstore.json"));
    let text = provenance.to_string();
    assert!(text.contains("https://example.com/acme/app.git"), "{text}");
    let r = server.run(&["repo", "status", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // The catalog has it: the API reads its findings (smallvec's, suppressed by VEX).
    let (status, _, body) = call(
        "GET",
        &format!("{url}/api/v1/releases/app/1.0.0/findings"),
        Some(&reader),
        None,
    );
    assert_eq!(status, 200, "{body}");

    // A retry after a lost answer is answered with the release as it is; other artifacts under
    // the same version are refused.
    let r = publish(&pipeline, &url, &publisher, "1.0.0", &sbom);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["fresh"], false);
    pipeline.artifact("app.tgz", b"app 1.0.0, rebuilt differently");
    let r = publish(&pipeline, &url, &publisher, "1.0.0", &sbom);
    assert!(r.stderr.contains("409"), "{}", r.stderr);

    // Uploads: one whose bytes are not the digest it is sent under, one over the limit;
    // neither leaves anything behind.
    let uploads = server.dir().join(".custody/uploads/app");
    let before = std::fs::read_dir(&uploads).map_or(0, |d| d.count());
    let digest = "0".repeat(64);
    let put = format!("{url}/api/v1/releases/app/uploads/{digest}");
    let (status, _, body) = call("PUT", &put, Some(&publisher), Some(b"not those bytes"));
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("truncated or corrupted"),
        "{body}"
    );
    let (status, _, body) = call("PUT", &put, Some(&publisher), Some(&[7u8; 5000]));
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("over the limit"),
        "{body}"
    );
    let (status, _, _) = call(
        "PUT",
        &format!("{url}/api/v1/releases/app/uploads/xyz"),
        Some(&publisher),
        Some(b"x"),
    );
    assert_eq!(status, 400);
    // A client that stalls mid-upload is dropped after the read timeout; one that hangs up is
    // too; neither leaves a partial file.
    let (status, body) = stalled_upload(&url, &publisher, &digest, false);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("stopped after 10 bytes"), "{body}");
    stalled_upload(&url, &publisher, &digest, true);
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(std::fs::read_dir(&uploads).map_or(0, |d| d.count()), before);

    // Odd names in the version or an artifact are refused before anything is written.
    let source = r#""source": {"repository": "https://example.com/acme/app.git",
        "git_ref": "refs/heads/main", "commit": "0123456789abcdef0123456789abcdef01234567",
        "clean": true}"#;
    for (version, name) in [
        ("1.2.0", "../../escape"),
        ("1.2.0", ".hidden"),
        ("1.2.0", "a/b"),
        ("%2e%2e", "app.tgz"),
        ("..%2f..%2fescape", "app.tgz"),
    ] {
        let body = format!(
            r#"{{"artifacts": [{{"name": "{name}", "sha256": "{}"}}], {source}}}"#,
            "0".repeat(64)
        );
        let (status, _, answer) = call(
            "POST",
            &format!("{url}/api/v1/releases/app/{version}"),
            Some(&publisher),
            Some(body.as_bytes()),
        );
        assert!(
            status == 400 || status == 404,
            "{version} {name}: {status} {answer}"
        );
    }
    assert!(!server.dir().join("escape").exists());
    assert!(!server.site().join("escape").exists());

    // A dirty tree needs the pipeline to say so.
    std::fs::write(pipeline.dir().join("app/extra.txt"), "uncommitted").unwrap();
    pipeline.artifact("app.tgz", b"app 1.1.0");
    let r = publish(&pipeline, &url, &publisher, "1.1.0", &sbom);
    assert!(r.stderr.contains("422"), "{}", r.stderr);
    assert!(r.stderr.contains("uncommitted"), "{}", r.stderr);
    let r = publish(
        &pipeline,
        &url,
        &publisher,
        "1.1.0",
        &[&sbom[..], &["--allow-dirty"]].concat(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);

    // An advisory arrives through the API: both shipped versions have regex, and the monitor
    // says so at once, with a signed notice each.
    let (_, importer) = server.token(&["--scope", "advisories"]);
    let zips = tempfile::tempdir().unwrap();
    {
        use std::io::Write as _;
        let mut zip =
            zip::ZipWriter::new(std::fs::File::create(zips.path().join("all.zip")).unwrap());
        zip.start_file(
            "RUSTSEC-2022-0013.json",
            zip::write::SimpleFileOptions::default(),
        )
        .unwrap();
        zip.write_all(
            &std::fs::read(common::advisories().join("crates.io/RUSTSEC-2022-0013.json")).unwrap(),
        )
        .unwrap();
        zip.finish().unwrap();
    }
    let feed_server = common::Server::start(zips.path());
    let import = format!(
        r#"{{"url": "{}", "name": "osv"}}"#,
        feed_server.url("all.zip")
    );
    let advisories_url = format!("{url}/api/v1/advisories");
    let (status, _, body) = call(
        "POST",
        &advisories_url,
        Some(&publisher),
        Some(import.as_bytes()),
    );
    assert_eq!(
        status, 403,
        "a product's token may not change everyone's advisories: {body}"
    );
    let (status, _, body) = call(
        "POST",
        &advisories_url,
        Some(&importer),
        Some(br#"{"url": "http://203.0.113.7/all.zip"}"#),
    );
    assert_eq!(status, 400, "plain HTTP to another host: {body}");
    let (status, _, body) = call(
        "POST",
        &advisories_url,
        Some(&importer),
        Some(import.as_bytes()),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["import"]["added"], 1, "{body}");
    let news: Vec<String> = body["monitor"]["new_findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "{} {}",
                f["version"].as_str().unwrap(),
                f["id"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        news,
        ["1.0.0 RUSTSEC-2022-0013", "1.1.0 RUSTSEC-2022-0013"],
        "{body}"
    );
    assert_eq!(body["monitor"]["notices"].as_array().unwrap().len(), 2);

    // This server's operator did not allow webhooks to private addresses.
    let (_, hooks) = server.token(&["--scope", "webhooks"]);
    let (status, _, body) = call(
        "POST",
        &format!("{url}/api/v1/webhooks"),
        Some(&hooks),
        Some(br#"{"url": "http://169.254.169.254/latest/meta-data/"}"#),
    );
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("link-local"),
        "{body}"
    );

    // The read routes: releases, a release's components, the log's entries for an artifact.
    let (_, everything) = server.token(&["--scope", "read"]);
    let (status, _, listed) = call(
        "GET",
        &format!("{url}/api/v1/releases?product=app"),
        Some(&reader),
        None,
    );
    assert_eq!(status, 200, "{listed}");
    let versions: Vec<&str> = listed["releases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["version"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["1.1.0", "1.0.0"], "{listed}");
    let (status, _, body) = call(
        "GET",
        &format!("{url}/api/v1/releases"),
        Some(&reader),
        None,
    );
    assert_eq!(
        status, 403,
        "a product's reader may not list every product: {body}"
    );
    let (status, _, comps) = call(
        "GET",
        &format!("{url}/api/v1/releases/app/1.0.0/components"),
        Some(&reader),
        None,
    );
    assert_eq!(status, 200, "{comps}");
    assert!(
        comps["components"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == "regex" && c["ecosystem"] == "crates.io"),
        "{comps}"
    );
    let artifact = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
        std::fs::read(server.site().join("releases/app/1.0.0/app.tgz")).unwrap(),
    ));
    let (status, _, entries) = call(
        "GET",
        &format!("{url}/api/v1/log/entries?digest=sha256:{artifact}"),
        Some(&everything),
        None,
    );
    assert_eq!(status, 200, "{entries}");
    assert_eq!(entries["entries"][0]["body"]["kind"], "dsse", "{entries}");
    let (status, _, _) = call(
        "GET",
        &format!("{url}/api/v1/log/entries?digest=nope"),
        Some(&everything),
        None,
    );
    assert_eq!(status, 400);

    // A pipeline that signs with its own key sends the bundle to be logged: one the policy
    // trusts is logged once; one signed by another key is refused, nothing logged.
    let bundles = format!("{url}/api/v1/releases/app/bundles");
    let trusted = std::fs::read(server.unlogged_bundle(b"tool bytes")).unwrap();
    let (status, _, logged) = call("POST", &bundles, Some(&publisher), Some(&trusted));
    assert_eq!(status, 201, "{logged}");
    assert!(
        logged["bundle"]["verificationMaterial"]["tlogEntries"][0]["inclusionProof"].is_object(),
        "{logged}"
    );
    let (status, _, body) = call("POST", &bundles, Some(&publisher), Some(&trusted));
    assert_eq!(status, 409, "logged already: {body}");
    let stranger =
        custody_crypto::SigningKey::generate(custody_crypto::KeyAlgorithm::Ed25519).unwrap();
    let untrusted = common::signed_statement(&stranger, b"tool bytes");
    let size = || {
        let r = server.run(&["--json", "log", "checkpoint"]);
        r.json()["size"].as_u64().unwrap()
    };
    let before = size();
    let (status, _, body) = call(
        "POST",
        &bundles,
        Some(&publisher),
        Some(untrusted.as_bytes()),
    );
    assert_eq!(status, 422, "{body}");
    let (status, _, _) = call("POST", &bundles, Some(&publisher), Some(b"not a bundle"));
    assert!(status == 400 || status == 422, "{status}");
    assert_eq!(size(), before, "nothing refused was logged");

    // Every publish, upload and refusal is in the audit log.
    let (_, _, log) = call(
        "GET",
        &format!("{url}/api/v1/audit?limit=1000"),
        Some(&admin),
        None,
    );
    let actions: Vec<String> = log["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r["action"].as_str().unwrap(),
                r["outcome"].as_str().unwrap().split(':').next().unwrap()
            )
        })
        .collect();
    for want in [
        "upload ok",
        "publish failed",
        "upload refused",
        "publish ok",
    ] {
        assert!(actions.iter().any(|a| a == want), "{want}: {actions:?}");
    }
}

/// Sends the headers of a 1000-byte upload and 10 bytes of it, then waits (or hangs up);
/// the status and body of the answer, if one came.
fn stalled_upload(url: &str, token: &str, digest: &str, hang_up: bool) -> (u16, String) {
    use std::io::{Read as _, Write as _};
    let addr = url.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    write!(
        s,
        "PUT /api/v1/releases/app/uploads/{digest} HTTP/1.1\r\nHost: {addr}\r\n\
         Authorization: Bearer {token}\r\nContent-Length: 1000\r\n\r\n0123456789"
    )
    .unwrap();
    s.flush().unwrap();
    if hang_up {
        return (0, String::new());
    }
    let started = std::time::Instant::now();
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(8),
        "the server waited for the stalled client"
    );
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, answer)
}

#[test]
fn the_openapi_document_validates_and_every_route_in_it_needs_a_token() {
    let p = Project::new("ed25519");
    let (_server, base) = serve(&p);
    let (status, _, doc) = call("GET", &format!("{base}/openapi.json"), None, None);
    assert_eq!(status, 200, "{doc}");
    assert_eq!(doc["openapi"], "3.1.0");

    // A third-party validator (PyPI openapi-spec-validator) accepts it.
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("openapi.json");
    std::fs::write(&file, doc.to_string()).unwrap();
    let out = std::process::Command::new(common::python())
        .args(["-m", "openapi_spec_validator"])
        .arg(&file)
        .output()
        .expect("python3 runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && text.contains("OK"),
        "openapi-spec-validator (interop/requirements.txt): {text}"
    );

    // Every operation it lists is served, and refuses a request without a token.
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let url = path
            .replace("{sha256}", &"0".repeat(64))
            .replace("{product}", "app")
            .replace("{version}", "1.0.0")
            .replace("{id}", "tok_000000000000");
        assert!(!url.contains('{'), "{path}");
        for method in item.as_object().unwrap().keys() {
            let body: Option<&[u8]> = matches!(method.as_str(), "put" | "post").then_some(b"{}");
            let (status, challenge, answer) =
                call(&method.to_uppercase(), &format!("{base}{url}"), None, body);
            assert_eq!(status, 401, "{method} {path}: {answer}");
            assert_eq!(challenge.as_deref(), Some("Bearer"), "{method} {path}");
            operations += 1;
        }
    }
    assert_eq!(operations, 20, "{doc}");
}

#[test]
fn a_registered_webhook_gets_signed_events_through_the_outbox() {
    use hmac::{KeyInit as _, Mac as _};
    let p = Project::new("ed25519");
    p.write_vulnerable_app();
    common::git(p.dir(), &["add", "-A"]);
    common::git(p.dir(), &["commit", "-q", "-m", "app"]);
    p.artifact("app.tgz", b"app");
    let feed = common::AdvisoryFeed::new();
    feed.add("RUSTSEC-2021-0003");
    feed.import(&p);
    p.vex_not_affected("RUSTSEC-2021-0003");
    p.release_app("1.0.0");
    let (_, hooks) = p.token(&["--scope", "webhooks"]);
    let (_, reader) = p.token(&["--product", "app", "--scope", "read"]);
    // The receiver is on loopback: this operator allows private webhook addresses.
    let (_server, base) = serve_custody(&p, &["--allow-private-webhooks"]);
    let api = format!("{base}/api/v1/webhooks");
    let (receiver, requests) = common::hook_server();

    assert_eq!(call("POST", &api, Some(&reader), Some(b"{}")).0, 403);
    let request = format!(r#"{{"url": "{receiver}"}}"#);
    let (status, _, registered) = call("POST", &api, Some(&hooks), Some(request.as_bytes()));
    assert_eq!(status, 201, "{registered}");
    let secret = registered["secret"].as_str().unwrap().to_owned();
    assert_eq!(secret.len(), 64);
    let id = registered["id"].as_str().unwrap().to_owned();
    let (_, _, listed) = call("GET", &api, Some(&hooks), None);
    assert_eq!(listed["webhooks"][0]["id"], id.as_str());
    assert!(
        !listed.to_string().contains(&secret),
        "a list shows no secret"
    );

    // New findings: the monitor queues the event with them and sends it, signed with the
    // registered webhook's secret.
    feed.add("RUSTSEC-2022-0013");
    feed.import(&p);
    let r = p.run(&["monitor", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let got = requests.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "{}", r.stdout);
    let (headers, body) = &got[0];
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    let want = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(
        common::header(headers, "x-custody-signature"),
        Some(want.as_str())
    );
    let event: serde_json::Value = serde_json::from_slice(body).unwrap();
    assert_eq!(
        common::header(headers, "x-custody-delivery"),
        event["id"].as_str()
    );
    assert_eq!(event["version"], "1.0.0");

    // The delivery is on record; once removed, the webhook is gone.
    let (_, _, deliveries) = call("GET", &format!("{api}/deliveries"), Some(&hooks), None);
    assert!(
        deliveries["deliveries"][0]["delivered"].is_string(),
        "{deliveries}"
    );
    assert_eq!(
        call("DELETE", &format!("{api}/{id}"), Some(&hooks), None).0,
        200
    );
    assert_eq!(
        call("DELETE", &format!("{api}/{id}"), Some(&hooks), None).0,
        404
    );
    let (_, _, listed) = call("GET", &api, Some(&hooks), None);
    assert_eq!(listed["webhooks"], serde_json::json!([]));
}

/// `custody release approve|publish --server URL`, as an approver elsewhere runs it.
fn held_command(approver: &Project, token: &str, url: &str, args: &[&str]) -> common::Run {
    common::custody()
        .current_dir(approver.dir())
        .env("CUSTODY_TOKEN", token)
        .args([&["release"][..], args, &["--server", url, "--json"]].concat())
        .output()
        .unwrap()
        .into()
}

#[test]
fn approvers_elsewhere_approve_a_release_the_server_holds_and_it_publishes_it() {
    // The server's project asks two of alice, bob and carol to approve app's releases.
    let server = Project::new("ed25519");
    let r = server.run(&["repo", "init", "--root-keys", "1", "--root-threshold", "1"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // The approvers' keys live on their own machines (here: another directory).
    let desk = Project::new("ed25519");
    for name in ["alice", "bob", "carol", "mallory"] {
        let r = desk.run(&["key", "generate", "--out", &format!("dist/{name}.key")]);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let public = |name: &str| desk.dir().join(format!("dist/{name}.key.pub"));
    let (alice, bob, carol) = (public("alice"), public("bob"), public("carol"));
    let r = server.run(&[
        "key",
        "approvers",
        "app",
        "--threshold",
        "2",
        "--approver",
        alice.to_str().unwrap(),
        "--approver",
        bob.to_str().unwrap(),
        "--approver",
        carol.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let (_, publisher) = server.token(&["--product", "app", "--scope", "publish"]);
    let (_, reader) = server.token(&["--product", "app", "--scope", "read"]);
    // An approver reads the held release and sends an approval.
    let (_, approver) = server.token(&["--product", "app", "--scope", "read,publish"]);
    let (_running, url) = serve_custody(&server, &[]);

    let pipeline = Project::new("ed25519");
    pipeline.artifact("app.tgz", b"app 2.0.0");
    let r = publish(&pipeline, &url, &publisher, "2.0.0", &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let answer = r.json();
    let held_dir = server.dir().join(
        answer["awaiting_approval"]["dir"]
            .as_str()
            .unwrap_or_else(|| panic!("held for its approvers: {}", r.stdout)),
    );
    assert!(!server.site().join("releases/app/2.0.0").exists());

    // What an approver reads: the manifest to sign and who approved so far.
    let held_url = format!("{url}/api/v1/releases/app/2.0.0/approvals");
    let (status, _, held) = call("GET", &held_url, Some(&reader), None);
    assert_eq!(status, 200, "{held}");
    assert_eq!(held["threshold"], 2);
    assert_eq!(held["approved"], serde_json::json!([]));
    {
        use base64::Engine as _;
        assert_eq!(
            base64::engine::general_purpose::STANDARD
                .decode(held["manifest"].as_str().unwrap())
                .unwrap(),
            std::fs::read(held_dir.join("manifest.json")).unwrap()
        );
    }

    // A read token may not approve; nor may anything that is not an approval.
    let (status, _, body) = call("POST", &held_url, Some(&reader), Some(b"{}"));
    assert_eq!(status, 403, "{body}");
    let (status, _, body) = call("POST", &held_url, Some(&publisher), Some(b"{\"not\": 1}"));
    assert_eq!(status, 400, "{body}");

    let approve = |key: &str| {
        held_command(
            &desk,
            &approver,
            &url,
            &[
                "approve",
                "app",
                "2.0.0",
                "--key",
                &format!("dist/{key}.key"),
            ],
        )
    };
    // A token that may only publish cannot read what to sign.
    let r = held_command(
        &desk,
        &publisher,
        &url,
        &["approve", "app", "2.0.0", "--key", "dist/alice.key"],
    );
    assert!(r.stderr.contains("403"), "{}", r.stderr);
    // Not an approver: the server does not count it.
    let r = approve("mallory");
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("422") && r.stderr.contains("does not count"),
        "{}",
        r.stderr
    );
    let r = approve("alice");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["ready"], false);
    let r = approve("alice");
    assert!(
        r.stderr.contains("409") && r.stderr.contains("already"),
        "{}",
        r.stderr
    );

    // One approval of two: it stays held.
    let publish_held = || held_command(&desk, &approver, &url, &["publish", "app", "2.0.0"]);
    let r = publish_held();
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("422"), "{}", r.stderr);
    assert!(!server.site().join("releases/app/2.0.0").exists());

    let r = approve("carol");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["ready"], true);
    let r = publish_held();
    assert_eq!(r.code, 0, "{}", r.stderr);
    let published = server.site().join("releases/app/2.0.0");
    assert!(published.join("app.tgz").is_file());
    let approvals: serde_json::Value =
        serde_json::from_slice(&std::fs::read(published.join("approvals.json")).unwrap()).unwrap();
    assert_eq!(approvals["approvals"].as_array().unwrap().len(), 2);
    // A customer's check holds: the release verifies with its approvals.
    let r = server.verify(&published.join("app.tgz"), &[]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
}
