//! The dashboard under `custody serve`: two releases of a product with real SBOMs, an advisory
//! that hits the first, and the pages over real HTTP and in Debian's Chromium (Playwright,
//! axe-core), screenshots kept under `target/dashboard-screenshots/`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{AdvisoryFeed, Killed, Project, serve_custody};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/dashboard")
        .join(name)
}

/// An advisory of our own for `time` 0.1.43, whose summary is markup.
const MARKUP_ADVISORY: &str = r#"{
  "schema_version": "1.4.0",
  "id": "CUSTODY-TEST-0001",
  "modified": "2026-12-01T00:00:00Z",
  "summary": "<script>alert('advisory')</script> in time",
  "details": "A test advisory whose text is markup: <img src=x onerror=alert(1)>.",
  "affected": [{
    "package": {"ecosystem": "crates.io", "name": "time", "purl": "pkg:cargo/time"},
    "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "0.2.0"}]}]
  }]
}"#;

/// A project with app 1.0.0 and 1.1.0 released with their SBOMs, then two advisories that hit
/// 1.0.0 only (smallvec 0.6.13; time 0.1.43) imported and monitored, served.
struct Shipped {
    p: Project,
    _server: Killed,
    url: String,
}

fn shipped() -> Shipped {
    let p = Project::new("ed25519");
    let feed = AdvisoryFeed::new();
    // The gate needs a database; this advisory hits nothing shipped.
    feed.add("RUSTSEC-2016-0001");
    feed.import(&p);
    for (version, contents) in [("1.0.0", "one"), ("1.1.0", "two")] {
        p.artifact("app.tgz", contents.as_bytes());
        let sbom = fixture(&format!("app-{version}.cdx.json"));
        let r = p.run(&[
            "release",
            "dist/app.tgz",
            "--product",
            "app",
            "--version",
            version,
            "--sbom",
            sbom.to_str().unwrap(),
        ]);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    feed.add("RUSTSEC-2021-0003");
    std::fs::write(feed.dir().join("CUSTODY-TEST-0001.json"), MARKUP_ADVISORY).unwrap();
    feed.import(&p);
    let r = p.run(&["monitor"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let (server, url) = serve_custody(&p, &[]);
    Shipped {
        p,
        _server: server,
        url,
    }
}

struct Answer {
    status: u16,
    headers: BTreeMap<String, String>,
    body: String,
}

/// One request, redirects not followed, with the session cookie and a form body if given.
fn request(method: &str, url: &str, session: Option<&str>, form: Option<&str>) -> Answer {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let mut req = ureq::http::Request::builder().method(method).uri(url);
    if let Some(s) = session {
        req = req.header("Cookie", format!("custody_session={s}"));
    }
    if form.is_some() {
        req = req.header("Content-Type", "application/x-www-form-urlencoded");
    }
    let req = req
        .body(form.unwrap_or_default().as_bytes().to_vec())
        .unwrap();
    let mut res = agent.run(req).unwrap();
    let headers = res
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    Answer {
        status: res.status().as_u16(),
        headers,
        body: res.body_mut().read_to_string().unwrap_or_default(),
    }
}

fn get(url: &str) -> Answer {
    request("GET", url, None, None)
}

/// The form token a signed-in page carries.
fn form_token(body: &str) -> String {
    let at = body.find("name=\"form_token\" value=\"").unwrap() + 25;
    body[at..at + 64].to_owned()
}

#[test]
fn the_pages_show_what_shipped_checked_now_and_markup_as_text() {
    let s = shipped();
    let ui = |path: &str| format!("{}/ui{path}", s.url);

    let products = get(&ui(""));
    assert_eq!(products.status, 200, "{}", products.body);
    assert_eq!(products.headers["content-type"], "text/html; charset=utf-8");
    assert!(products.headers["content-security-policy"].contains("default-src 'none'"));
    // The latest release (1.1.0) has no open finding: the gate lets it through.
    assert!(products.body.contains(">1.1.0</a>"), "{}", products.body);
    assert!(products.body.contains("passes"), "{}", products.body);

    let product = get(&ui("/products/app"));
    assert_eq!(product.status, 200);
    // 1.0.0 has the two findings; the SBOM diff counts itoa added, and the versions of app
    // itself, smallvec and time changed.
    assert!(product.body.contains("1.0.0: 2"), "{}", product.body);
    assert!(product.body.contains("1.1.0: +1 -0 ~3"), "{}", product.body);

    let release = get(&ui("/releases/app/1.0.0"));
    assert_eq!(release.status, 200, "{}", release.body);
    let b = &release.body;
    for shown in [
        "https://example.com/acme/app.git",
        "https://example.com/ci@v1",
        "verified",
        "included in the checkpoint of size",
        "RUSTSEC-2021-0003",
        "critical",
        "0.6.14",
        "Buffer overflow in SmallVec::insert_many",
        "11 of 11 components",
        "ISC AND MIT AND OpenSSL",
    ] {
        assert!(
            b.contains(shown),
            "{shown} missing from the release page:\n{b}"
        );
    }
    let notices = std::fs::read_dir(s.p.site().join("advisories"))
        .unwrap()
        .count();
    assert_eq!(notices, 2, "one notice and its bundle");
    assert!(
        b.contains("advisories/app-1.0.0-"),
        "the notice is linked: {b}"
    );
    // Markup from the SBOM and from an advisory is text.
    assert!(!b.contains("<script>"), "{b}");
    assert!(
        b.contains("&lt;script&gt;alert('licence')&lt;/script&gt;"),
        "{b}"
    );
    assert!(
        b.contains("&lt;script&gt;alert('advisory')&lt;/script&gt; in time"),
        "{b}"
    );

    let filtered = get(&ui("/releases/app/1.0.0?license=MPL-2.0"));
    assert!(
        filtered.body.contains("1 of 11 components"),
        "{}",
        filtered.body
    );
    assert!(filtered.body.contains("webpki-roots"));
    let searched = get(&ui("/releases/app/1.0.0?q=SMALL&ecosystem=crates.io"));
    assert!(
        searched.body.contains("1 of 11 components"),
        "{}",
        searched.body
    );
    let npm = get(&ui("/releases/app/1.0.0?ecosystem=npm"));
    assert!(npm.body.contains("1 of 11 components") && npm.body.contains("left-pad"));

    let advisory = get(&ui("/advisories/CUSTODY-TEST-0001"));
    assert_eq!(advisory.status, 200, "{}", advisory.body);
    assert!(!advisory.body.contains("<script>") && !advisory.body.contains("<img"));
    assert!(
        advisory
            .body
            .contains("&lt;script&gt;alert('advisory')&lt;/script&gt; in time"),
        "{}",
        advisory.body
    );
    assert!(
        advisory.body.contains(">app 1.0.0</a>"),
        "{}",
        advisory.body
    );

    let log = get(&ui("/log"));
    assert_eq!(log.status, 200);
    assert!(log.body.contains("custody.local/log"), "{}", log.body);
    let digest = custody_crypto::Sha256Digest::of(b"one").to_hex();
    let found = get(&ui(&format!("/log?digest={digest}")));
    assert!(
        found.body.contains("<td>0</td>"),
        "entry 0 is app 1.0.0's: {}",
        found.body
    );

    for missing in [
        "/releases/app/9.9.9",
        "/products/nope",
        "/advisories/GHSA-none-none-none",
    ] {
        let a = get(&ui(missing));
        assert_eq!(a.status, 404, "{missing}: {}", a.body);
    }
}

#[test]
fn a_tampered_artifact_bundle_shows_as_not_verified() {
    let s = shipped();
    let bundle =
        s.p.release_dir("app", "1.1.0")
            .join("app.tgz.sigstore.json");
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&bundle).unwrap()).unwrap();
    // Another signature over the same statement: the bundle no longer verifies.
    let sig = &mut json["dsseEnvelope"]["signatures"][0]["sig"];
    let mut text = sig.as_str().unwrap().to_owned();
    let flipped = if text.starts_with('A') { "B" } else { "A" };
    text.replace_range(0..1, flipped);
    *sig = serde_json::Value::String(text);
    std::fs::write(&bundle, serde_json::to_vec(&json).unwrap()).unwrap();
    let page = get(&format!("{}/ui/releases/app/1.1.0", s.url));
    assert_eq!(page.status, 200);
    assert!(page.body.contains("not verified"), "{}", page.body);
    assert!(page.body.contains("No artifact of this release verified"));
}

#[test]
fn admin_pages_need_a_session_made_from_an_admin_token_and_forms_their_token() {
    let s = shipped();
    let ui = |path: &str| format!("{}/ui{path}", s.url);
    let (_, admin) = s.p.token(&["--scope", "admin"]);
    let (_, publisher) = s.p.token(&["--product", "app", "--scope", "publish"]);

    let pages = ["/admin", "/admin/audit", "/admin/webhooks"];
    let forms = ["/admin/tokens", "/admin/tokens/tok_x/revoke"];
    for page in pages {
        assert_eq!(get(&ui(page)).status, 401, "{page}");
        let r = request("GET", &ui(page), Some(&publisher), None);
        assert_eq!(r.status, 403, "{page} with a publish token");
        assert_eq!(
            request("GET", &ui(page), Some("custody_wrong"), None).status,
            401
        );
    }
    for form in forms {
        let r = request("POST", &ui(form), None, Some("scope=admin"));
        assert_eq!(r.status, 401, "{form}");
    }

    let refused = request("POST", &ui("/login"), None, Some("token=custody_wrong"));
    assert_eq!(refused.status, 401);
    assert!(refused.body.contains("Sign in"));
    assert!(!refused.headers.contains_key("set-cookie"));

    let signed_in = request("POST", &ui("/login"), None, Some(&format!("token={admin}")));
    assert_eq!(signed_in.status, 303, "{}", signed_in.body);
    assert_eq!(signed_in.headers["location"], "/ui/admin");
    let cookie = &signed_in.headers["set-cookie"];
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/ui"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }

    // Served on loopback the cookie may travel over plain HTTP; asked for by another name, or
    // through a proxy that says the page was HTTPS, it must be Secure.
    assert!(!cookie.contains("Secure"), "{cookie}");
    for (name, value) in [
        ("Host", "releases.example.com"),
        ("X-Forwarded-Proto", "https"),
    ] {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .build()
            .into();
        let res = agent
            .post(ui("/login"))
            .header(name, value)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .send(format!("token={admin}"))
            .unwrap();
        let set = res.headers().get("set-cookie").unwrap().to_str().unwrap();
        assert!(set.contains("; Secure"), "{name}: {set}");
    }

    let tokens = request("GET", &ui("/admin"), Some(&admin), None);
    assert_eq!(tokens.status, 200, "{}", tokens.body);
    let form = form_token(&tokens.body);
    for page in pages {
        assert_eq!(request("GET", &ui(page), Some(&admin), None).status, 200);
    }

    // A form without this session's token (another site's) changes nothing.
    let before = s.p.run(&["token", "list", "--json"]).json();
    let forged = request(
        "POST",
        &ui("/admin/tokens"),
        Some(&admin),
        Some("scope=admin&description=forged"),
    );
    assert_eq!(forged.status, 403, "{}", forged.body);
    assert_eq!(s.p.run(&["token", "list", "--json"]).json(), before);

    let made = request(
        "POST",
        &ui("/admin/tokens"),
        Some(&admin),
        Some(&format!(
            "form_token={form}&product=app&scope=read&scope=vex&expires_days=30&description=from+the+dashboard"
        )),
    );
    assert_eq!(made.status, 200, "{}", made.body);
    let at = made.body.find("id=\"new-secret\">").unwrap() + 16;
    let secret = &made.body[at..made.body[at..].find('<').unwrap() + at];
    assert!(secret.starts_with("custody_"), "{secret}");
    // The new token works on the API, for what it was made for only.
    let (status, _) = api(&s.url, "/api/v1/releases/app/1.0.0/findings", secret);
    assert_eq!(status, 200);
    let (status, _) = api(&s.url, "/api/v1/audit", secret);
    assert_eq!(status, 403);

    let made_id = token_id(&s.p, |t| t["description"] == "from the dashboard");
    let revoked = request(
        "POST",
        &ui(&format!("/admin/tokens/{made_id}/revoke")),
        Some(&admin),
        Some(&format!("form_token={form}")),
    );
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    let (status, _) = api(&s.url, "/api/v1/releases/app/1.0.0/findings", secret);
    assert_eq!(status, 401, "revoked");

    let audit = request("GET", &ui("/admin/audit"), Some(&admin), None);
    for line in ["dashboard.login", "token.create", "token.revoke", "refused"] {
        assert!(
            audit.body.contains(line),
            "{line} not audited: {}",
            audit.body
        );
    }

    // Revoking the admin token ends the session made from it.
    let admin_id = token_id(&s.p, |t| t["scopes"] == serde_json::json!(["admin"]));
    assert_eq!(s.p.run(&["token", "revoke", &admin_id]).code, 0);
    assert_eq!(
        request("GET", &ui("/admin"), Some(&admin), None).status,
        401
    );
}

/// The id of the one token `which` picks from `custody token list --json`.
fn token_id(p: &Project, which: impl Fn(&serde_json::Value) -> bool) -> String {
    let listed = p.run(&["token", "list", "--json"]).json();
    let picked: Vec<&serde_json::Value> = listed["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| which(t))
        .collect();
    assert_eq!(picked.len(), 1, "{listed}");
    picked[0]["id"].as_str().unwrap().to_owned()
}

fn api(base: &str, path: &str, token: &str) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut res = agent
        .get(format!("{base}{path}"))
        .header("Authorization", format!("Bearer {token}"))
        .call()
        .unwrap();
    (
        res.status().as_u16(),
        res.body_mut().read_to_string().unwrap_or_default(),
    )
}

/// `tests/browser` with its npm packages installed (`.ci/run` does `npm ci` there).
fn browser_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    let ready = dir.join("node_modules/playwright-core").is_dir()
        && dir.join("node_modules/@axe-core/playwright").is_dir()
        && Path::new(&std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()))
            .is_file();
    if ready {
        return Some(dir);
    }
    assert!(
        std::env::var("CI").is_err(),
        "CI: the browser test needs Chromium and `npm ci` in {}",
        dir.display()
    );
    eprintln!(
        "skipped: no Chromium or no npm packages in {}",
        dir.display()
    );
    None
}

#[test]
fn a_person_clicks_from_the_products_to_the_advisory_in_chromium() {
    let Some(dir) = browser_dir() else { return };
    let s = shipped();
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/dashboard-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let out = std::process::Command::new("node")
        .current_dir(&dir)
        .arg("dashboard.mjs")
        .arg(&s.url)
        .arg(&shots)
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: serde_json::Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("{e}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr)));
    assert!(report["failure"].is_null(), "{}", report["failure"]);
    let pages = report["pages"].as_array().unwrap();
    let names: Vec<&str> = pages.iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "products",
            "product",
            "release",
            "release-search",
            "advisory",
            "log",
            "admin-refused"
        ]
    );
    for p in pages {
        assert!(
            p["passes"].as_u64().unwrap() > 0,
            "axe checked nothing: {p}"
        );
        assert_eq!(p["critical"], serde_json::json!([]), "critical: {p}");
        let shot = shots.join(format!("{}.png", p["name"].as_str().unwrap()));
        assert!(
            std::fs::metadata(&shot).unwrap().len() > 10_000,
            "{}",
            shot.display()
        );
    }
    assert!(out.status.success(), "{stdout}");
}
