//! `custody scan` against `cargo audit` on the same `Cargo.lock`, side by side in one run.
//!
//! ```text
//! CARGO_TARGET_DIR=target-scan cargo bench -p custody-cli --bench scan_vs_cargo_audit
//! ```
//!
//! Both are timed as a user runs them: one process per scan, wall clock, output discarded, the
//! database already on disk. cargo-audit reads the shared RustSec database with `--no-fetch`;
//! custody reads its own index of the same database (imported once, before timing), and again of
//! all four shared snapshots (RustSec, crates.io OSV, Go, PyPI). Runs are interleaved so that
//! load from other work on the machine falls on all three alike. `BENCH_RUNS=N` sets the number
//! of timed runs of each (default 21). Needs `cargo audit` on PATH.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The advisory corpus: `CUSTODY_ADVISORIES` (e.g. the full snapshots in `shared/data/advisories`,
/// as BENCHMARKS.md measured), else the trimmed copy in `testdata/advisories`.
fn data() -> PathBuf {
    std::env::var_os("CUSTODY_ADVISORIES").map_or_else(
        || {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../testdata/advisories"
            ))
        },
        PathBuf::from,
    )
}

fn import(db: &Path, source: &str) {
    let out = Command::new(env!("CARGO_BIN_EXE_custody"))
        .args(["-q", "db", "import"])
        .arg(data().join(source))
        .arg("--db")
        .arg(db)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "importing {source}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn time(cmd: &mut Command) -> Duration {
    let start = Instant::now();
    let status = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    let elapsed = start.elapsed();
    // 0: nothing found; 1: findings. Anything else is a broken run, not a timing.
    assert!(matches!(status.code(), Some(0 | 1)), "{cmd:?}: {status}");
    elapsed
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(21);
    let has_audit = Command::new("cargo")
        .args(["audit", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_audit {
        eprintln!("cargo-audit is not installed: cargo install cargo-audit --locked");
        std::process::exit(1);
    }
    let rustsec = data().join("rustsec-advisory-db");
    let tmp = tempfile::tempdir().unwrap();
    let db_rustsec = tmp.path().join("rustsec");
    import(&db_rustsec, "rustsec-advisory-db");
    let db_all = tmp.path().join("all");
    for s in ["rustsec-advisory-db", "crates.io", "Go", "PyPI"] {
        import(&db_all, s);
    }

    let locks = [
        (
            "custody-sbom fixture cargo/large (898 packages)",
            root().join("crates/custody-sbom/tests/fixtures/cargo/large/Cargo.lock"),
        ),
        (
            "custody-cli fixture vulnerable-cargo (52 packages)",
            root().join("crates/custody-cli/tests/fixtures/vulnerable-cargo/Cargo.lock"),
        ),
    ];
    let cwd = tempfile::tempdir().unwrap();
    for (label, lock) in &locks {
        let custody = |db: &Path| {
            let mut c = Command::new(env!("CARGO_BIN_EXE_custody"));
            c.current_dir(cwd.path())
                .args(["scan", "--json", "--fail-on", "never", "--db"])
                .arg(db)
                .arg(lock);
            c
        };
        let audit = || {
            let mut c = Command::new("cargo");
            c.current_dir(cwd.path())
                .args(["audit", "--no-fetch", "--json", "--db"])
                .arg(&rustsec)
                .arg("--file")
                .arg(lock);
            c
        };
        // One untimed run each warms the page cache.
        time(&mut custody(&db_rustsec));
        time(&mut custody(&db_all));
        time(&mut audit());
        let (mut a, mut b, mut c) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..runs {
            a.push(time(&mut custody(&db_rustsec)));
            b.push(time(&mut custody(&db_all)));
            c.push(time(&mut audit()));
        }
        let (min_a, min_b, min_c) = (
            *a.iter().min().unwrap(),
            *b.iter().min().unwrap(),
            *c.iter().min().unwrap(),
        );
        let (ma, mb, mc) = (median(&mut a), median(&mut b), median(&mut c));
        println!("{label}, {runs} interleaved runs each");
        println!(
            "  custody scan, RustSec index        median {:>9}  min {:>9}",
            ms(ma),
            ms(min_a)
        );
        println!(
            "  custody scan, all four snapshots   median {:>9}  min {:>9}",
            ms(mb),
            ms(min_b)
        );
        println!(
            "  cargo audit --no-fetch             median {:>9}  min {:>9}",
            ms(mc),
            ms(min_c)
        );
        println!(
            "  speed-up (cargo audit / custody, medians): {:.1}x same database, {:.1}x all snapshots",
            mc.as_secs_f64() / ma.as_secs_f64(),
            mc.as_secs_f64() / mb.as_secs_f64()
        );
    }
}
