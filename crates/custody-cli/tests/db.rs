//! `custody db import` and `custody db status` on the real advisory snapshots in
//! `testdata/advisories` (see its README for where each came from).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;

use common::Run;

fn data() -> PathBuf {
    common::advisories()
}

fn custody(cwd: &Path, args: &[&str]) -> Run {
    common::run_in(cwd, args)
}

/// The first `n` advisories of the crates.io OSV export, copied into `dir`.
fn some_osv_files(dir: &Path, n: usize) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).unwrap();
    let mut files: Vec<PathBuf> = std::fs::read_dir(data().join("crates.io"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files.truncate(n);
    for f in &files {
        std::fs::copy(f, dir.join(f.file_name().unwrap())).unwrap();
    }
    files
}

#[test]
fn rustsec_database_is_detected_and_imported() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("db");
    let src = data().join("rustsec-advisory-db");
    let r = custody(
        tmp.path(),
        &[
            "db",
            "import",
            src.to_str().unwrap(),
            "--db",
            db.to_str().unwrap(),
            "--json",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    assert_eq!(v["kind"], "rustsec");
    assert_eq!(v["source"], "rustsec-advisory-db");
    // Only crates/<name>/*.md is matched against lockfiles; rust/ (the toolchain) is left out.
    let crates_md = std::fs::read_dir(src.join("crates"))
        .unwrap()
        .flat_map(|d| std::fs::read_dir(d.unwrap().path()).unwrap())
        .count();
    assert!(crates_md > 300, "{crates_md}");
    assert_eq!(v["advisories"].as_u64(), Some(crates_md as u64));
    assert_eq!(v["skipped"].as_array().unwrap().len(), 0);
    assert!(
        r.stderr.contains("Importing"),
        "progress on stderr: {}",
        r.stderr
    );
}

#[test]
fn malformed_advisory_is_reported_and_the_rest_imported() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("osv");
    let copied = some_osv_files(&src, 20);
    std::fs::write(
        src.join("RUSTSEC-9999-0001.json"),
        b"{\"id\": \"RUSTSEC-9999-0001\", ",
    )
    .unwrap();
    let db = tmp.path().join("db");
    let r = custody(
        tmp.path(),
        &[
            "db",
            "import",
            src.to_str().unwrap(),
            "--db",
            db.to_str().unwrap(),
            "--json",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    assert_eq!(v["kind"], "osv");
    assert_eq!(v["advisories"].as_u64().unwrap(), copied.len() as u64);
    let skipped = v["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert!(
        skipped[0]["error"]
            .as_str()
            .unwrap()
            .contains("RUSTSEC-9999-0001.json"),
        "{skipped:?}"
    );
    assert!(
        r.stderr.contains("skipped") && r.stderr.contains("RUSTSEC-9999-0001.json"),
        "{}",
        r.stderr
    );

    // Importing again parses nothing new.
    let r = custody(
        tmp.path(),
        &[
            "db",
            "import",
            src.to_str().unwrap(),
            "--db",
            db.to_str().unwrap(),
            "--json",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    assert_eq!(v["unchanged"].as_u64().unwrap(), copied.len() as u64);
    assert_eq!(v["added"], 0);
}

#[test]
fn location_comes_from_config_then_env() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("feed");
    some_osv_files(&src, 5);
    std::fs::write(
        tmp.path().join("custody.toml"),
        "[vulndb]\ndir = \"vulns\"\n",
    )
    .unwrap();
    let r = custody(tmp.path(), &["db", "import", "feed"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("Imported feed: 5 advisories"),
        "{}",
        r.stdout
    );
    assert!(tmp.path().join("vulns/sources/feed.json").is_file());

    let r = custody(tmp.path(), &["db", "status", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    assert_eq!(v["advisories"], 5);
    assert_eq!(v["sources"][0]["name"], "feed");
    assert_eq!(v["sources"][0]["kind"], "osv");
    assert!(v["sources"][0]["age_seconds"].as_u64().unwrap() < 600);
    assert!(
        v["sources"][0]["last_import"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );

    let r = custody(tmp.path(), &["db", "status"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("5 advisories"), "{}", r.stdout);
    assert!(r.stdout.contains("feed"), "{}", r.stdout);

    // CUSTODY_DB overrides the project's directory.
    let elsewhere = tmp.path().join("elsewhere");
    let o = Command::new(env!("CARGO_BIN_EXE_custody"))
        .current_dir(tmp.path())
        .env("CUSTODY_DB", &elsewhere)
        .args(["db", "import", "feed", "--name", "other"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(elsewhere.join("sources/other.json").is_file());
    assert!(!tmp.path().join("vulns/sources/other.json").exists());
}

#[test]
fn osv_zip_is_detected() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("files");
    let files = some_osv_files(&src, 7);
    let zip = tmp.path().join("crates.io").join("all.zip");
    std::fs::create_dir_all(zip.parent().unwrap()).unwrap();
    // Python's zipfile writes the same layout as osv.dev's per-ecosystem all.zip (flat JSON).
    let mut cmd = Command::new("python3");
    cmd.current_dir(&src)
        .args(["-m", "zipfile", "-c"])
        .arg(&zip);
    for f in &files {
        cmd.arg(f.file_name().unwrap());
    }
    let o = cmd
        .output()
        .expect("python3 is needed to build a zip fixture");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let db = tmp.path().join("db");
    let r = custody(
        tmp.path(),
        &[
            "db",
            "import",
            zip.to_str().unwrap(),
            "--db",
            db.to_str().unwrap(),
            "--json",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    assert_eq!(v["kind"], "osv-zip");
    assert_eq!(
        v["source"], "crates.io",
        "all.zip takes its directory's name"
    );
    assert_eq!(v["advisories"], 7);
}

#[test]
fn bad_import_inputs_are_usage_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("db");
    let db = db.to_str().unwrap();

    let r = custody(tmp.path(), &["db", "import", "no-such-dir", "--db", db]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("no-such-dir"), "{}", r.stderr);

    std::fs::write(tmp.path().join("notes.txt"), "hello").unwrap();
    let r = custody(tmp.path(), &["db", "import", "notes.txt", "--db", db]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("not a zip"), "{}", r.stderr);

    std::fs::write(tmp.path().join("broken.zip"), b"PK\x03\x04 truncated").unwrap();
    let r = custody(tmp.path(), &["db", "import", "broken.zip", "--db", db]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("broken.zip"), "{}", r.stderr);

    let src = tmp.path().join("feed");
    some_osv_files(&src, 1);
    let r = custody(
        tmp.path(),
        &["db", "import", "feed", "--name", "../evil", "--db", db],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("not a valid source name"), "{}", r.stderr);
}

#[test]
fn status_without_a_database_says_how_to_make_one() {
    let tmp = tempfile::tempdir().unwrap();
    let r = custody(tmp.path(), &["db", "status"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--db"), "{}", r.stderr);

    let db = tmp.path().join("empty");
    let r = custody(tmp.path(), &["db", "status", "--db", db.to_str().unwrap()]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("custody db import"), "{}", r.stderr);
    assert!(!db.exists(), "status must not create a database");
}

#[test]
fn rustsec_osv_export_layout_is_osv_not_rustsec() {
    // The RustSec OSV export keeps flat `crates/RUSTSEC-*.json`; only `crates/<name>/*.md` is
    // the Markdown database.
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("advisory-db-osv");
    some_osv_files(&src.join("crates"), 3);
    let db = tmp.path().join("db");
    let r = custody(
        tmp.path(),
        &[
            "db",
            "import",
            src.to_str().unwrap(),
            "--db",
            db.to_str().unwrap(),
            "--json",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    assert_eq!(v["kind"], "osv");
    assert_eq!(v["advisories"], 3);
}

/// Serves `zip` at `/Go/all.zip` (osv.dev's layout) and 404 elsewhere, on 127.0.0.1, for as many
/// requests as come; returns the base URL.
fn serve_zip(zip: Vec<u8>) -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            reader.read_line(&mut request).unwrap_or(0);
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                    break;
                }
            }
            let (status, body): (&str, &[u8]) = if request.starts_with("GET /Go/all.zip ") {
                ("200 OK", &zip)
            } else {
                ("404 Not Found", b"not found")
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(body);
        }
    });
    base
}

#[test]
fn import_from_a_url_serving_an_osv_zip() {
    use std::io::Write;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for f in ["GO-2020-0001.json", "GO-2022-0515.json"] {
        zip.start_file(f, opts).unwrap();
        zip.write_all(&std::fs::read(data().join("Go").join(f)).unwrap())
            .unwrap();
    }
    let base = serve_zip(zip.finish().unwrap().into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("db");
    let url = format!("{base}/Go/all.zip");
    let r = custody(
        tmp.path(),
        &["--json", "db", "import", &url, "--db", db.to_str().unwrap()],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report = r.json();
    assert_eq!(report["source"], "Go", "named after the URL's directory");
    assert_eq!(report["kind"], "osv-zip");
    assert_eq!(report["added"], 2);
    // The download is not left in the database directory.
    let leftovers: Vec<_> = std::fs::read_dir(&db)
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_file())
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // Importing again: nothing changed; the status names the URL as the origin.
    let r = custody(
        tmp.path(),
        &["--json", "db", "import", &url, "--db", db.to_str().unwrap()],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["unchanged"], 2);
    let r = custody(
        tmp.path(),
        &["--json", "db", "status", "--db", db.to_str().unwrap()],
    );
    assert_eq!(r.json()["sources"][0]["origin"], url.as_str());

    // A missing file, and something that is not a zip, are clear errors.
    let r = custody(
        tmp.path(),
        &[
            "db",
            "import",
            &format!("{base}/PyPI/all.zip"),
            "--db",
            db.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("404"), "{}", r.stderr);
}

/// Issue 15: outside any project, `custody db import` and `custody scan` share the user's own
/// database in the XDG data directory, as cargo-audit keeps `~/.cargo/advisory-db`.
#[test]
fn outside_a_project_the_database_is_the_users_own() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::write(work.join("Cargo.lock"), common::VULNERABLE_LOCK).unwrap();
    let src = data().join("crates.io");
    let home = tmp.path().join("home");
    let with_home = |args: &[&str]| -> Run {
        common::custody()
            .current_dir(&work)
            .env_remove("CUSTODY_DB")
            .env_remove("XDG_DATA_HOME")
            .env("HOME", &home)
            .args(args)
            .output()
            .unwrap()
            .into()
    };

    // Nothing imported yet: the scan says how to fill the user's database.
    let r = with_home(&["scan", "Cargo.lock"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("custody db import"), "{}", r.stderr);

    let r = with_home(&["--json", "db", "import", src.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let user_db = home.join(".local/share/custody/advisories");
    assert_eq!(
        Path::new(r.json()["db"].as_str().unwrap()),
        user_db.as_path()
    );
    assert!(user_db.join("sources/crates.io.json").is_file());

    let r = with_home(&["--json", "scan", "Cargo.lock", "--fail-on", "critical"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let ids: Vec<String> = r.json()["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(ids.iter().any(|i| i == "RUSTSEC-2021-0003"), "{ids:?}");

    // XDG_DATA_HOME, when set, is where the user's data lives.
    let xdg = tmp.path().join("xdg");
    let r: Run = common::custody()
        .current_dir(&work)
        .env_remove("CUSTODY_DB")
        .env("XDG_DATA_HOME", &xdg)
        .env("HOME", &home)
        .args(["--json", "db", "status"])
        .output()
        .unwrap()
        .into();
    assert_eq!(
        r.code, 2,
        "nothing imported under XDG_DATA_HOME yet: {}",
        r.stderr
    );
    assert!(r.stderr.contains(xdg.to_str().unwrap()), "{}", r.stderr);
}

/// Issue 15: an advisory feed over plain HTTP from another host is refused unless the user says
/// otherwise, before anything is fetched or written.
#[test]
fn plain_http_from_another_host_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("db");
    // 192.0.2.0/24 is TEST-NET-1: nothing is ever sent there, the refusal comes first.
    let r = custody(
        tmp.path(),
        &[
            "db",
            "import",
            "http://192.0.2.1/PyPI/all.zip",
            "--db",
            db.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("plain HTTP") && r.stderr.contains("--allow-insecure-http"),
        "{}",
        r.stderr
    );
    assert!(!db.exists(), "nothing may be written for a refused import");
}
