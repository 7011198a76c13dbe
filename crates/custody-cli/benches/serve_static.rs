//! Static reads from `custody serve` against nginx serving the same site, side by side in one
//! run, under `wrk` on loopback (issue 11: at least 70% of nginx's requests/s).
//!
//! ```text
//! apt-get install wrk nginx-light
//! CARGO_TARGET_DIR=target-bench cargo bench -p custody-cli --bench serve_static
//! ```
//!
//! The site is made by the custody binary itself (`init`, `repo init`, then
//! `SERVE_BENCH_RELEASES` releases, default 20), so it holds a real log, TUF repository and
//! release directories. Both servers serve that one directory on 127.0.0.1: nginx with
//! `worker_processes auto`, `sendfile`, `tcp_nodelay` and keep-alive (a stock static setup);
//! `custody serve` as a user starts it. Each round runs, for each path, `wrk -t2 -c32 -d{D}s`
//! against nginx and then custody; the figure is the median over `SERVE_BENCH_ROUNDS` rounds
//! (default 5) of requests/s, and the ratio is custody's median over nginx's. A single
//! connection (`-c1`) row shows per-request latency, where Nagle's algorithm used to show.
//!
//! `SERVE_BENCH_SECONDS` (default 5), `SERVE_BENCH_ROUNDS`, `SERVE_BENCH_RELEASES`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::io::{BufRead as _, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Project, git};

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        // SIGTERM, not SIGKILL: nginx's master then stops its workers too.
        let _ = Command::new("kill").arg(self.0.id().to_string()).status();
        let _ = self.0.wait();
    }
}

fn nginx(site: &Path, scratch: &Path) -> (Killed, u16) {
    let port = free_port();
    let conf = scratch.join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "daemon off;\nworker_processes auto;\npid {pid};\nerror_log {err} warn;\n\
             events {{ worker_connections 1024; }}\n\
             http {{\n  access_log off;\n  sendfile on;\n  tcp_nopush on;\n  tcp_nodelay on;\n\
             keepalive_requests 1000000;\n  default_type application/octet-stream;\n\
             client_body_temp_path {tmp}; proxy_temp_path {tmp}; fastcgi_temp_path {tmp};\n\
             uwsgi_temp_path {tmp}; scgi_temp_path {tmp};\n\
             server {{ listen 127.0.0.1:{port}; root {root}; }}\n}}\n",
            pid = scratch.join("nginx.pid").display(),
            err = scratch.join("nginx.err").display(),
            tmp = scratch.display(),
            root = site.display(),
        ),
    )
    .unwrap();
    let child = Command::new("nginx")
        .arg("-c")
        .arg(&conf)
        .arg("-p")
        .arg(scratch)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nginx (apt-get install nginx-light)");
    wait_for(port);
    (Killed(child), port)
}

fn custody_serve(site: &Path) -> (Killed, u16) {
    let mut child = common::custody()
        .arg("serve")
        .arg("--dir")
        .arg(site)
        .args(["--listen", "127.0.0.1:0", "--json"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let announced: serde_json::Value = serde_json::from_str(&line).unwrap();
    let url = announced["listen"].as_str().unwrap();
    let port = url.rsplit(':').next().unwrap().parse().unwrap();
    wait_for(port);
    (Killed(child), port)
}

/// Requests/s that `wrk` reports.
fn wrk(port: u16, path: &str, connections: u32, seconds: u64) -> f64 {
    let threads = connections.min(2);
    let out = Command::new("wrk")
        .args([
            &format!("-t{threads}"),
            &format!("-c{connections}"),
            &format!("-d{seconds}s"),
        ])
        .arg(format!("http://127.0.0.1:{port}/{path}"))
        .output()
        .expect("wrk (apt-get install wrk)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        !text.contains("Non-2xx"),
        "{path} on {port} answered errors:\n{text}"
    );
    text.lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no Requests/sec in wrk's output:\n{text}"))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let releases = env_num("SERVE_BENCH_RELEASES", 20);
    let rounds = env_num("SERVE_BENCH_ROUNDS", 5);
    let seconds = env_num("SERVE_BENCH_SECONDS", 5);

    let p = Project::new("ed25519");
    let r = p.run(&["repo", "init", "--root-keys", "1", "--root-threshold", "1"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    git(p.dir(), &["add", "-A"]);
    git(p.dir(), &["commit", "-q", "-m", "repo"]);
    for i in 0..releases {
        let version = format!("1.0.{i}");
        let name = format!("app-{version}.tgz");
        p.artifact(&name, format!("app {version}").as_bytes());
        let r = p.run(&[
            "release",
            &format!("dist/{name}"),
            "--product",
            "app",
            "--version",
            &version,
        ]);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let site = p.site().canonicalize().unwrap();
    let tile = tile_file(&site.join("log/tile/0"));
    let paths = [
        tile.strip_prefix(&site).unwrap().display().to_string(),
        "log/checkpoint".to_owned(),
        "tuf/metadata/timestamp.json".to_owned(),
        "releases/app/1.0.0/app-1.0.0.tgz".to_owned(),
    ];
    for path in &paths {
        assert!(site.join(path).is_file(), "{path} is not in the site");
    }

    let scratch = tempfile::tempdir().unwrap();
    let (_nginx, nginx_port) = nginx(&site, scratch.path());
    let (_custody, custody_port) = custody_serve(&site);

    println!(
        "static reads, {releases} releases, wrk {seconds}s per figure, median of {rounds} rounds"
    );
    println!(
        "{:<44} {:>5} {:>12} {:>12} {:>7}",
        "path", "conns", "nginx req/s", "custody", "ratio"
    );
    for path in &paths {
        for connections in [32, 1] {
            let mut n = Vec::new();
            let mut c = Vec::new();
            for _ in 0..rounds {
                n.push(wrk(nginx_port, path, connections, seconds));
                c.push(wrk(custody_port, path, connections, seconds));
            }
            let (n, c) = (median(n), median(c));
            println!(
                "{path:<44} {connections:>5} {n:>12.0} {c:>12.0} {:>6.1}%",
                100.0 * c / n
            );
        }
    }
}

/// The first file under a directory of tiles (a full tile is a file; a partial one sits under
/// `.p/`).
fn tile_file(path: &Path) -> std::path::PathBuf {
    if path.is_file() {
        return path.to_owned();
    }
    let mut dirs = vec![path.to_owned()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap().filter_map(Result::ok) {
            let p = e.path();
            if p.is_file() {
                return p;
            }
            dirs.push(p);
        }
    }
    panic!("no tile file under {}", path.display());
}
