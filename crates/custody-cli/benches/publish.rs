//! Publishing through `custody serve` (issue 11): releases per second, each with 3 artifacts
//! and an SBOM, on a SQLite catalog and on a PostgreSQL one, against the issue's 50/s; the
//! server's memory after them; and a large upload streamed without the server growing.
//!
//! ```text
//! CARGO_TARGET_DIR=target-bench cargo bench -p custody-cli --bench publish
//! ```
//!
//! Each run makes a project with a TUF repository and an advisory database (the trimmed
//! crates.io snapshot in `testdata/`), a publish token, and starts `custody serve` on it. Then
//! `PUBLISH_BENCH_CLIENTS` threads (default: 4, then 16, a run each; a comma-separated list
//! chooses) publish `PUBLISH_BENCH_RELEASES` releases (default 200) between them as a pipeline
//! does, through `custody release --publish`'s own client (`custody_service::publish::submit`):
//! three uploads and an SBOM upload (`PUT`, four at a time), then the release (`POST`); the server gates,
//! signs, logs with fsync, commits TUF metadata and catalogs each, committing the releases
//! that arrive together as one batch. The project lives under `TMPDIR`: BENCHMARKS.md says
//! which file system the figures are from. The rate is releases over wall time from the first upload to the last answer. The
//! PostgreSQL run uses a throwaway cluster from `scripts/postgres.sh` with `PG_DURABLE=1`
//! (fsync on). Afterwards the server's resident memory (`VmRSS`, `VmHWM`) is read from /proc.
//! Last, one `PUBLISH_BENCH_LARGE_MIB` (default 2048) MiB upload is streamed and the server's
//! peak memory compared before and after. The SQLite run is repeated with the release and log
//! keys in a PKCS#11 token (SoftHSM 2; the TUF online keys stay files), to compare releases/s
//! with a token against file keys in one run (issue 13).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::io::Read;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use common::Project;
use custody_service::publish::Server;

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `VmRSS` and `VmHWM` of `pid`, in MiB.
fn memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap_or(0)
            / 1024
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

/// One release as `custody release --publish` sends it (`custody_service::publish::submit`:
/// the files uploaded four at a time, then the release), from files in `dir`.
fn publish_one(server: &Server, dir: &Path, version: &str, lock: &[u8]) {
    let mut artifacts = Vec::new();
    for i in 0..3 {
        let path = dir.join(format!("app-{i}.tgz"));
        let body = format!("app {version} artifact {i} {}", "x".repeat(4096));
        std::fs::write(&path, body).unwrap();
        artifacts.push(path);
    }
    let sbom = dir.join("Cargo.lock");
    std::fs::write(&sbom, lock).unwrap();
    let submitted = custody_service::publish::submit(
        server,
        &custody_service::publish::Submission {
            product: "app".to_owned(),
            version: version.to_owned(),
            artifacts,
            sbom: Some(sbom),
            source: custody_attest::release::SourceState {
                repository: "https://example.com/acme/app.git".to_owned(),
                git_ref: "refs/heads/main".to_owned(),
                commit: "0123456789abcdef0123456789abcdef01234567".to_owned(),
                clean: true,
            },
            allow_dirty: false,
            skip_scan: None,
        },
        &custody_service::env::SystemClock,
        &custody_service::env::Silent,
    )
    .unwrap_or_else(|e| panic!("{version}: {e}"));
    assert!(submitted.fresh, "{version}");
}

/// A project ready to publish into, with `catalog` as its `[monitor] catalog`.
/// A project for the server; with `hsm`, its release and log keys are in that token.
fn server_project(catalog: Option<&str>, hsm: Option<&common::SoftHsm>) -> Project {
    let p = match hsm {
        None => Project::new("ed25519"),
        Some(hsm) => {
            let (release, log) = (hsm.uri("release"), hsm.uri("log"));
            Project::with_init(&["--key", &release, "--log-key", &log], |c| {
                hsm.point(c, common::PKCS11_PIN);
            })
        }
    };
    // `PUBLISH_BENCH_HASH_BINS=N`: the product's targets in 2^N hash bins (TAP 15), so a
    // release re-signs one bin rather than every target the product has.
    if let Ok(bits) = std::env::var("PUBLISH_BENCH_HASH_BINS") {
        let config = p.dir().join("custody.toml");
        let text = std::fs::read_to_string(&config).unwrap();
        std::fs::write(
            &config,
            text.replacen("[tuf]\n", &format!("[tuf]\nhash_bins = {bits}\n"), 1),
        )
        .unwrap();
    }
    let r = p.run(&["repo", "init", "--root-keys", "1", "--root-threshold", "1"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let advisories = common::advisories().join("crates.io");
    let r = p.run(&[
        "db",
        "import",
        advisories.to_str().unwrap(),
        "--name",
        "osv",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    if let Some(url) = catalog {
        p.use_catalog(url);
    }
    p
}

const LOCK: &str = "version = 3\n\n[[package]]\nname = \"app\"\nversion = \"1.0.0\"\n\n\
[[package]]\nname = \"serde\"\nversion = \"1.0.228\"\n\
source = \"registry+https://github.com/rust-lang/crates.io-index\"\n";

fn run(
    label: &str,
    catalog: Option<&str>,
    hsm: Option<&common::SoftHsm>,
    releases: u64,
    clients: u64,
) {
    let p = server_project(catalog, hsm);
    let (_, token) = p.token(&["--product", "app", "--scope", "publish"]);
    let (server, url) = common::serve_custody_with(&p, &[], |c| {
        if let Some(hsm) = hsm {
            hsm.point(c, common::PKCS11_PIN);
        }
    });
    let pid = server.0.id();
    let (idle_rss, _) = memory(pid);
    let next = std::sync::atomic::AtomicU64::new(0);
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..clients {
            s.spawn(|| {
                let server = Server::new(&url, &token);
                let files = tempfile::tempdir().unwrap();
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= releases {
                        break;
                    }
                    publish_one(&server, files.path(), &format!("1.0.{i}"), LOCK.as_bytes());
                }
            });
        }
    });
    let elapsed = started.elapsed();
    let rate = releases as f64 / elapsed.as_secs_f64();
    let (rss, hwm) = memory(pid);
    println!(
        "{label:<10} {releases:>5} releases, {clients} clients: {:>7.2} s, {rate:>6.1} releases/s \
         ({:.2}x the 50/s target); server RSS {idle_rss} MiB idle, {rss} MiB after (peak {hwm})",
        elapsed.as_secs_f64(),
        rate / 50.0
    );
    // Every release is there.
    let dirs = std::fs::read_dir(p.site().join("releases/app"))
        .unwrap()
        .count();
    assert_eq!(dirs as u64, releases);
}

/// A reader of `left` bytes of a repeating pattern, without holding them.
struct Pattern {
    left: u64,
    at: u64,
}

impl Read for Pattern {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        for b in &mut buf[..n] {
            *b = (self.at % 251) as u8;
            self.at += 1;
        }
        self.left -= n as u64;
        Ok(n)
    }
}

fn large_upload(mib: u64) {
    let p = server_project(None, None);
    let (_, token) = p.token(&["--product", "app", "--scope", "publish"]);
    let config = p.dir().join("custody.toml");
    assert!(config.is_file());
    let (server, url) = common::serve_custody(&p, &[]);
    let pid = server.0.id();
    let len = mib << 20;
    // The digest first, streamed.
    let digest = custody_crypto::digest_reader(
        Pattern { left: len, at: 0 },
        custody_crypto::Algorithms::Sha256,
    )
    .unwrap()
    .sha256
    .unwrap()
    .to_string();
    let (_, before) = memory(pid);
    let started = Instant::now();
    let mut body = Pattern { left: len, at: 0 };
    let res = agent()
        .put(format!("{url}/api/v1/releases/app/uploads/{digest}"))
        .header("Authorization", format!("Bearer {token}"))
        .header("Content-Length", len.to_string())
        .send(ureq::SendBody::from_reader(&mut body))
        .unwrap();
    assert_eq!(res.status().as_u16(), 201);
    let (_, after) = memory(pid);
    let kept = p.dir().join(".custody/uploads/app").join(&digest);
    assert_eq!(std::fs::metadata(&kept).unwrap().len(), len);
    println!(
        "upload     {mib} MiB streamed in {:.1} s; server peak RSS {before} MiB before, {after} MiB \
         after (+{} MiB)",
        started.elapsed().as_secs_f64(),
        after.saturating_sub(before)
    );
}

/// `PUBLISH_BENCH_CLIENTS`: one count, or several separated by commas, each run in turn.
fn client_counts() -> Vec<u64> {
    std::env::var("PUBLISH_BENCH_CLIENTS")
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .filter(|v: &Vec<u64>| !v.is_empty())
        .unwrap_or_else(|| vec![4, 16])
}

fn main() {
    let releases = env_num("PUBLISH_BENCH_RELEASES", 200);
    let counts = client_counts();
    for &clients in &counts {
        run("sqlite", None, None, releases, clients);
    }
    // The same, with the release and log keys in a PKCS#11 token (SoftHSM), side by side.
    match common::SoftHsm::new() {
        Some(hsm) => {
            for &clients in &counts {
                run("sqlite+hsm", None, Some(&hsm), releases, clients);
            }
        }
        None => println!("sqlite+hsm: skipped (no SoftHSM)"),
    }

    let scratch = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/postgres.sh");
    let out = Command::new("bash")
        .arg(&script)
        .arg("start")
        .arg(scratch.path())
        .env("PG_DURABLE", "1")
        .output()
        .unwrap();
    if out.status.success() {
        let url = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        for &clients in &counts {
            run("postgresql", Some(&url), None, releases, clients);
        }
        let _ = Command::new("bash")
            .arg(&script)
            .arg("stop")
            .arg(scratch.path())
            .status();
    } else {
        println!(
            "postgresql: skipped ({})",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }

    large_upload(env_num("PUBLISH_BENCH_LARGE_MIB", 2048));
}
