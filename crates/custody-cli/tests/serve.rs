//! `custody serve` over real HTTP: immutable files (log tiles, releases, TUF targets and
//! versioned metadata) are cacheable for a year, the checkpoint and TUF timestamp and root must
//! be revalidated, partial tiles are short-lived; and a witness can cosign the log it serves.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Stdio};

use common::Project;

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(p: &Project) -> (Server, String) {
    let mut child = common::custody()
        .current_dir(p.dir())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let line = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .next()
        .unwrap()
        .unwrap();
    let url = line.rsplit(' ').next().unwrap().to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{line}");
    (Server(child), url)
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
