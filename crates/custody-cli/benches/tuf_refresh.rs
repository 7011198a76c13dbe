//! TUF refresh against a repository of 100,000 targets in 256 hash bins: custody against
//! python-tuf, side by side in one run.
//!
//! ```text
//! CARGO_TARGET_DIR=target-bench cargo bench -p custody-cli --bench tuf_refresh
//! ```
//!
//! The repository is written once with custody's own editor (`Repository::add_target` with
//! 8 bits of hash bins, then one `commit`) under `$TUF_BENCH_DIR` (default
//! `target/bench-data/tuf-100k`), and reused while it is current. A small HTTP/1.1 server in
//! this process serves it on loopback to both clients and records every request path, so the
//! bench can check that a cold download fetches one bin and nothing else.
//!
//! Each round runs, in turn and on the same target:
//! - **warm refresh**, as a process: `custody-tuf-client … refresh` and
//!   `python3 tuf_refresh.py refresh` (ngclient), each on a metadata directory already
//!   populated, so nothing has changed;
//! - **cold download**, as a process: a new metadata directory holding only the trusted
//!   root, then `custody-tuf-client … download` and `python3 tuf_refresh.py download`;
//! - both again **in-process**: `Updater::new` + `refresh` (+ `target_info` +
//!   `download_target`) through the CLI's own HTTP fetcher, and a long-lived python worker
//!   doing the same with `ngclient.Updater`, so process start and imports are not counted.
//!
//! `TUF_BENCH_ROUNDS=N` (default 25), `TUF_BENCH_TARGETS` (100000), `TUF_BENCH_BITS` (8),
//! `TUF_BENCH_PYTHON` (python3), `TUF_BENCH_SKIP_PYTHON=1`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use custody_crypto::{KeyAlgorithm, Signer, SigningKey};
use custody_tuf::repo::{Expiry, OnlineKeys, Repository};
use custody_tuf::{Config, DirStore, Updater};
use jiff::SignedDuration;

const PRODUCT: &str = "app";
/// Targets per release version: 100,000 targets are 1,000 releases of 100 files.
const PER_VERSION: usize = 100;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn bench_dir(targets: usize, bits: u32) -> PathBuf {
    if let Ok(dir) = std::env::var("TUF_BENCH_DIR") {
        return PathBuf::from(dir);
    }
    let target = std::env::var("CARGO_TARGET_DIR").map_or_else(
        |_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"),
        PathBuf::from,
    );
    target.join(format!("bench-data/tuf-{targets}-{bits}"))
}

fn target_name(i: usize) -> String {
    format!("{PRODUCT}/1.{}.0/file-{i:06}.bin", i / PER_VERSION)
}

/// Write the repository with custody's editor, timing each phase. Expiries are long so the
/// repository can be reused by later runs.
fn generate(dir: &Path, targets: usize, bits: u32) {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    let key = |a| SigningKey::generate(a).unwrap();
    let root_key = key(KeyAlgorithm::Ed25519);
    let (t, s, ts) = (
        key(KeyAlgorithm::Ed25519),
        key(KeyAlgorithm::Ed25519),
        key(KeyAlgorithm::Ed25519),
    );
    let online = OnlineKeys {
        targets: &t,
        snapshot: &s,
        timestamp: &ts,
        delegated: &[],
    };
    let year = SignedDuration::from_hours(24 * 365);
    let expiry = Expiry {
        root: year,
        targets: year,
        snapshot: year,
        timestamp: year,
    };
    let repo_dir = dir.join("repo");
    let sources = dir.join("sources");
    let start = Instant::now();
    let mut repo = Repository::create(
        &repo_dir,
        &[&root_key as &dyn Signer],
        1,
        online,
        expiry,
        jiff::Timestamp::now(),
    )
    .unwrap();
    let mut paths = Vec::with_capacity(targets);
    for i in 0..targets {
        let d = sources.join(format!("1.{}.0", i / PER_VERSION));
        if i % PER_VERSION == 0 {
            std::fs::create_dir_all(&d).unwrap();
        }
        let p = d.join(format!("file-{i:06}.bin"));
        std::fs::write(&p, format!("bench target {i}\n")).unwrap();
        paths.push(p);
    }
    let written = start.elapsed();
    let mut last = Instant::now();
    for (i, p) in paths.iter().enumerate() {
        let version = format!("1.{}.0", i / PER_VERSION);
        let name = repo
            .add_target(PRODUCT, &version, p, None, Some(bits))
            .unwrap();
        assert_eq!(name, target_name(i));
        if (i + 1) % 10_000 == 0 {
            println!(
                "  add_target {}..{}: {:.2} s",
                i + 1 - 10_000,
                i + 1,
                last.elapsed().as_secs_f64()
            );
            last = Instant::now();
        }
    }
    let added = start.elapsed();
    repo.commit(online, jiff::Timestamp::now()).unwrap();
    let committed = start.elapsed();
    std::fs::remove_dir_all(&sources).unwrap();
    println!(
        "generated {targets} targets in {} bins: sources {:.2} s, add_target {:.2} s, commit {:.2} s, total {:.2} s",
        1u32 << bits,
        written.as_secs_f64(),
        (added - written).as_secs_f64(),
        (committed - added).as_secs_f64(),
        committed.as_secs_f64()
    );
    std::fs::write(dir.join("complete"), format!("{targets} {bits}\n")).unwrap();
}

/// The generated repository, written now unless a current one is there.
fn repository(targets: usize, bits: u32) -> PathBuf {
    let dir = bench_dir(targets, bits);
    let current = std::fs::read_to_string(dir.join("complete"))
        .is_ok_and(|s| s.trim() == format!("{targets} {bits}"))
        && Repository::open(&dir.join("repo"), Expiry::default()).is_ok_and(|r| {
            r.timestamp().signed.expires
                > jiff::Timestamp::now()
                    .checked_add(SignedDuration::from_hours(24 * 7))
                    .unwrap()
        });
    if current {
        println!("reusing {}", dir.display());
    } else {
        println!("generating {} …", dir.display());
        generate(&dir, targets, bits);
    }
    let meta = dir.join("repo/metadata");
    let bins = std::fs::read_dir(&meta)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .contains("-bin-")
        })
        .count();
    let size = |n: &str| std::fs::metadata(meta.join(n)).map_or(0, |m| m.len());
    println!(
        "repository: {bins} bin files; root {} B, timestamp {} B, snapshot {} B, targets {} B, {PRODUCT} {} B, one bin ≈ {} B",
        size("1.root.json"),
        size("timestamp.json"),
        size("1.snapshot.json"),
        size("1.targets.json"),
        size(&format!("1.{PRODUCT}.json")),
        size(&format!("1.{PRODUCT}-bin-00.json")),
    );
    dir.join("repo")
}

/// A static file server on loopback (HTTP/1.1, keep-alive), recording each request path.
struct Server {
    port: u16,
    log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn start(dir: PathBuf) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let log = Arc::new(Mutex::new(Vec::new()));
        let shared = Arc::clone(&log);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (dir, log) = (dir.clone(), Arc::clone(&shared));
                std::thread::spawn(move || {
                    let _ = connection(stream, &dir, &log);
                });
            }
        });
        Self { port, log }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/{path}", self.port)
    }

    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.log.lock().unwrap())
    }
}

fn connection(stream: TcpStream, dir: &Path, log: &Mutex<Vec<String>>) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut out = stream;
    loop {
        let mut request = String::new();
        if reader.read_line(&mut request)? == 0 {
            return Ok(());
        }
        let mut close = false;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header)? == 0 {
                return Ok(());
            }
            if header.trim().is_empty() {
                break;
            }
            let h = header.to_ascii_lowercase();
            close |= h.starts_with("connection:") && h.contains("close");
        }
        let mut parts = request.split_whitespace();
        let (method, path, version) = (
            parts.next().unwrap_or(""),
            parts.next().unwrap_or("/"),
            parts.next().unwrap_or(""),
        );
        log.lock().unwrap().push(path.to_string());
        let body = (method == "GET" && !path.contains(".."))
            .then(|| std::fs::read(dir.join(path.trim_start_matches('/'))).ok())
            .flatten();
        match body {
            Some(body) => {
                write!(
                    out,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                )?;
                out.write_all(&body)?;
            }
            None => out.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")?,
        }
        out.flush()?;
        if close || version == "HTTP/1.0" {
            return Ok(());
        }
    }
}

/// The python-tuf side: a worker kept running for in-process timings.
struct Python {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/tuf_refresh.py")
}

impl Python {
    fn start(python: &str, metadata_url: &str, targets_url: &str) -> Self {
        let mut child = Command::new(python)
            .arg(script())
            .args(["worker", metadata_url, targets_url])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Self {
            child,
            stdin,
            stdout,
        }
    }

    /// Send one command line; the worker answers with the seconds it took.
    fn run(&mut self, line: &str) -> Duration {
        writeln!(self.stdin, "{line}").unwrap();
        self.stdin.flush().unwrap();
        let mut answer = String::new();
        self.stdout.read_line(&mut answer).unwrap();
        let secs: f64 = answer
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("python worker answered {answer:?} to {line:?}"));
        Duration::from_secs_f64(secs)
    }
}

impl Drop for Python {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "quit");
        let _ = self.child.wait();
    }
}

fn time(cmd: &mut Command) -> Duration {
    let start = Instant::now();
    let out = cmd.stdout(Stdio::null()).output().unwrap();
    let elapsed = start.elapsed();
    assert!(
        out.status.success(),
        "{cmd:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    elapsed
}

/// A metadata directory holding only the trusted root.
fn fresh(dir: &Path, root: &Path) -> PathBuf {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    std::fs::copy(root, dir.join("root.json")).unwrap();
    dir.to_path_buf()
}

fn in_process_refresh(metadata_dir: &Path, metadata_url: &str) -> Duration {
    let start = Instant::now();
    let mut u = Updater::new(
        custody_service::transport::UrlFetcher::http(),
        DirStore::new(metadata_dir),
        metadata_url,
        Config::default(),
        jiff::Timestamp::now(),
    )
    .unwrap();
    u.refresh().unwrap();
    start.elapsed()
}

fn in_process_download(
    metadata_dir: &Path,
    metadata_url: &str,
    targets_url: &str,
    target_dir: &Path,
    target: &str,
) -> Duration {
    let start = Instant::now();
    let mut u = Updater::new(
        custody_service::transport::UrlFetcher::http(),
        DirStore::new(metadata_dir),
        metadata_url,
        Config::default(),
        jiff::Timestamp::now(),
    )
    .unwrap();
    u.refresh().unwrap();
    let info = u.target_info(target).unwrap();
    let bytes = u.download_target(targets_url, target, &info).unwrap();
    custody_tuf::updater::write_atomic(
        &custody_tuf::updater::cached_target_path(target_dir, target),
        &bytes,
    )
    .unwrap();
    start.elapsed()
}

/// The requests of one cold download: the root walk, timestamp, snapshot, targets, the
/// product role, exactly one bin, and the target.
fn check_cold(who: &str, requests: &[String], target: &str) {
    let bins: Vec<_> = requests.iter().filter(|r| r.contains("-bin-")).collect();
    assert_eq!(bins.len(), 1, "{who} fetched bins {bins:?}");
    assert!(
        requests.len() == 7
            && requests
                .last()
                .is_some_and(|r| r.ends_with(target.rsplit('/').next().unwrap())),
        "{who} cold download made requests {requests:?}"
    );
}

fn check_warm(who: &str, requests: &[String]) {
    assert!(
        requests.len() == 2
            && requests[0].ends_with("/2.root.json")
            && requests[1].ends_with("/timestamp.json"),
        "{who} warm refresh made requests {requests:?}"
    );
}

struct Row {
    name: &'static str,
    times: Vec<Duration>,
}

fn median(v: &[Duration]) -> Duration {
    let mut v = v.to_vec();
    v.sort();
    v[v.len() / 2]
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let rounds: usize = env_or("TUF_BENCH_ROUNDS", 25);
    let targets: usize = env_or("TUF_BENCH_TARGETS", 100_000);
    let bits: u32 = env_or("TUF_BENCH_BITS", 8);
    let python: String = env_or("TUF_BENCH_PYTHON", "python3".to_string());
    let with_python = std::env::var("TUF_BENCH_SKIP_PYTHON").is_err();
    let client = env!("CARGO_BIN_EXE_custody-tuf-client");
    println!("load average at start: {}", load());

    let repo = repository(targets, bits);
    let root = repo.join("metadata/1.root.json");
    let server = Server::start(repo.clone());
    let (metadata_url, targets_url) = (server.url("metadata"), server.url("targets"));
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path();

    // Warm caches: one full download each, so the metadata directories hold every role the
    // first target needs; then a warm refresh must change nothing.
    let first = target_name(0);
    let warm_rs = fresh(&work.join("warm-rs"), &root);
    let warm_py = fresh(&work.join("warm-py"), &root);
    let cli = |md: &Path| {
        let mut c = Command::new(client);
        c.arg("--metadata-dir")
            .arg(md)
            .args(["--metadata-url", &metadata_url]);
        c
    };
    let py = |args: &[&str]| {
        let mut c = Command::new(&python);
        c.arg(script()).args(args);
        c
    };
    let warm_dl = work.join("warm-dl");
    time(
        cli(&warm_rs)
            .args(["--target-name", &first, "--target-base-url", &targets_url])
            .arg("--target-dir")
            .arg(&warm_dl)
            .arg("download"),
    );
    let mut python_worker = None;
    if with_python {
        time(&mut py(&[
            "download",
            warm_py.to_str().unwrap(),
            &metadata_url,
            &targets_url,
            warm_dl.to_str().unwrap(),
            &first,
        ]));
        python_worker = Some(Python::start(&python, &metadata_url, &targets_url));
    }
    server.take();

    let names = [
        "custody-tuf-client refresh (process)",
        "python-tuf refresh (process)",
        "custody Updater::refresh (in-process)",
        "python-tuf Updater.refresh (in-process)",
        "custody-tuf-client download (process)",
        "python-tuf download (process)",
        "custody refresh + target_info + download_target (in-process)",
        "python-tuf refresh + get_targetinfo + download_target (in-process)",
    ];
    let mut rows: Vec<Row> = names
        .iter()
        .map(|&name| Row {
            name,
            times: Vec::new(),
        })
        .collect();
    let mut loads = vec![load()];
    // One untimed warm-up round, then the timed ones.
    for round in 0..=rounds {
        let timed = round > 0;
        let target = target_name((round * 7919) % targets);
        let mut record = |i: usize, d: Duration| {
            if timed {
                rows[i].times.push(d);
            }
        };

        // Warm refresh, as processes.
        record(0, time(cli(&warm_rs).arg("refresh")));
        check_warm("custody-tuf-client", &server.take());
        if with_python {
            record(
                1,
                time(&mut py(&[
                    "refresh",
                    warm_py.to_str().unwrap(),
                    &metadata_url,
                ])),
            );
            check_warm("python-tuf", &server.take());
        }
        // Warm refresh, in-process.
        record(2, in_process_refresh(&warm_rs, &metadata_url));
        check_warm("custody Updater", &server.take());
        if let Some(w) = python_worker.as_mut() {
            record(3, w.run(&format!("refresh {}", warm_py.display())));
            check_warm("python-tuf Updater", &server.take());
        }

        // Cold download, as processes.
        let md = fresh(&work.join("cold-rs"), &root);
        let td = work.join("cold-rs-targets");
        let _ = std::fs::remove_dir_all(&td);
        record(
            4,
            time(
                cli(&md)
                    .args(["--target-name", &target, "--target-base-url", &targets_url])
                    .arg("--target-dir")
                    .arg(&td)
                    .arg("download"),
            ),
        );
        check_cold("custody-tuf-client", &server.take(), &target);
        let stored = std::fs::read_dir(&md)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .contains("-bin-")
            })
            .count();
        assert_eq!(stored, 1, "custody stored {stored} bins");
        if with_python {
            let md = fresh(&work.join("cold-py"), &root);
            let td = work.join("cold-py-targets");
            let _ = std::fs::remove_dir_all(&td);
            std::fs::create_dir_all(&td).unwrap();
            record(
                5,
                time(&mut py(&[
                    "download",
                    md.to_str().unwrap(),
                    &metadata_url,
                    &targets_url,
                    td.to_str().unwrap(),
                    &target,
                ])),
            );
            check_cold("python-tuf", &server.take(), &target);
        }
        // Cold download, in-process.
        let md = fresh(&work.join("cold-rs"), &root);
        let td = work.join("cold-rs-targets");
        let _ = std::fs::remove_dir_all(&td);
        record(
            6,
            in_process_download(&md, &metadata_url, &targets_url, &td, &target),
        );
        check_cold("custody Updater", &server.take(), &target);
        if let Some(w) = python_worker.as_mut() {
            let md = fresh(&work.join("cold-py"), &root);
            let td = work.join("cold-py-targets");
            let _ = std::fs::remove_dir_all(&td);
            std::fs::create_dir_all(&td).unwrap();
            record(
                7,
                w.run(&format!(
                    "download {} {} {}",
                    md.display(),
                    td.display(),
                    target
                )),
            );
            check_cold("python-tuf Updater", &server.take(), &target);
        }
        if timed && round % 5 == 0 {
            loads.push(load());
        }
    }
    loads.push(load());
    drop(python_worker);

    println!(
        "\n{rounds} interleaved rounds; load average (1, 5, 15 min) during the run: {}",
        loads.join(" | ")
    );
    println!("\n| what | median | min | max |\n|---|---:|---:|---:|");
    for r in rows.iter().filter(|r| !r.times.is_empty()) {
        println!(
            "| {} | {} | {} | {} |",
            r.name,
            ms(median(&r.times)),
            ms(*r.times.iter().min().unwrap()),
            ms(*r.times.iter().max().unwrap())
        );
    }
    if with_python {
        println!("\nratios python-tuf / custody (medians):");
        for (label, rs, pyi) in [
            ("warm refresh, process", 0, 1),
            ("warm refresh, in-process", 2, 3),
            ("cold download, process", 4, 5),
            ("cold download, in-process", 6, 7),
        ] {
            let (a, b) = (median(&rows[rs].times), median(&rows[pyi].times));
            println!("  {label}: {:.2}×", b.as_secs_f64() / a.as_secs_f64());
        }
    }
    let warm = median(&rows[0].times).min(median(&rows[2].times));
    println!(
        "\nwarm refresh target (< 50 ms median): process {}, in-process {} → {}",
        ms(median(&rows[0].times)),
        ms(median(&rows[2].times)),
        if median(&rows[0].times) < Duration::from_millis(50) {
            "met"
        } else if warm < Duration::from_millis(50) {
            "met in-process only"
        } else {
            "NOT met"
        }
    );
}
