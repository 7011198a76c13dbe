//! Hashing throughput, side by side with the tools a customer would otherwise use (issue 2,
//! "Performance").
//!
//! ```text
//! cargo build --release -p custody-cli      # optional: adds the `custody digest` rows
//! cargo bench -p custody-crypto --bench hash [one|many]
//! ```
//!
//! `one`: a 1 GiB file, page cache warm, N interleaved rounds of `openssl dgst -sha256`,
//! `sha256sum`, and custody (in-process and as the `custody digest` binary). Interleaving puts
//! every contender through the same noise of a shared machine, so their medians compare.
//!
//! `many`: 100 files of 10 MiB with `digest_files(.., Algorithms::Both)`, wall time and CPU
//! time over wall time (near the core count when every core is busy), against hashing the same
//! files one after another.
//!
//! Environment: `CUSTODY_BENCH_ROUNDS` (default 7), `CUSTODY_BENCH_DATA` (default
//! `<workspace>/target/bench-data`), `CUSTODY_BIN` (default `$CARGO_TARGET_DIR/release/custody`,
//! else `<workspace>/target/release/custody`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use custody_crypto::{Algorithms, digest_file, digest_files};
use sha2::{Digest as _, Sha256, Sha512};

const ONE_FILE_BYTES: u64 = 1 << 30;
const MANY_FILES: usize = 100;
const MANY_FILE_BYTES: u64 = 10 << 20;

fn main() {
    // `cargo bench` appends `--bench`; anything else not starting with `-` selects sections.
    let sections: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let want = |s: &str| sections.is_empty() || sections.iter().any(|a| a == s);
    let rounds = env_usize("CUSTODY_BENCH_ROUNDS", 7);
    let root = workspace_root();
    let data = std::env::var_os("CUSTODY_BENCH_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/bench-data"));
    std::fs::create_dir_all(&data).unwrap();

    print_machine();
    if want("one") {
        one_large_file(&data, &root, rounds);
    }
    if want("many") {
        many_files(&data, rounds);
    }
}

fn one_large_file(data: &Path, root: &Path, rounds: usize) {
    let file = data.join("one-1GiB.bin");
    ensure_file(&file, ONE_FILE_BYTES, 1);
    warm(&file);
    let bin = custody_bin(root);
    let have_bin = bin.is_file();

    let mut contenders: Vec<Contender> = vec![
        Contender::command(
            "openssl dgst -sha256",
            "openssl",
            &["dgst", "-sha256"],
            &file,
        ),
        Contender::command("sha256sum", "sha256sum", &[], &file),
        // Context for the `both` rows: SHA-512 has no CPU extension here and sets their pace.
        Contender::command(
            "openssl dgst -sha512",
            "openssl",
            &["dgst", "-sha512"],
            &file,
        ),
        Contender::in_process("custody sha256 (in-process)", &file, Algorithms::Sha256),
        Contender::in_process("custody both (in-process)", &file, Algorithms::Both),
    ];
    if have_bin {
        let b = bin.to_str().unwrap();
        contenders.push(Contender::command(
            "custody digest -a sha256",
            b,
            &["digest", "--algorithm", "sha256"],
            &file,
        ));
        contenders.push(Contender::command(
            "custody digest -a both",
            b,
            &["digest", "--algorithm", "both"],
            &file,
        ));
    }

    println!(
        "\n## one file: {} ({} bytes), page cache warm, {rounds} interleaved rounds",
        file.display(),
        ONE_FILE_BYTES
    );
    if !have_bin {
        println!(
            "(no custody binary at {}: `cargo build --release -p custody-cli` or set CUSTODY_BIN \
             to add the `custody digest` rows)",
            bin.display()
        );
    } else {
        println!("(custody binary: {})", bin.display());
    }
    for round in 0..rounds {
        // Rotate the start so no contender always runs first after the previous round.
        let n = contenders.len();
        for k in 0..n {
            contenders[(round + k) % n].run();
        }
        eprintln!("round {}/{rounds} done, {}", round + 1, load_average());
    }

    let reference = contenders[0].sha256.clone();
    for c in contenders.iter().filter(|c| !c.name.contains("sha512")) {
        assert_eq!(
            c.sha256, reference,
            "{} disagrees with openssl about the SHA-256",
            c.name
        );
    }
    let median_of = |name: &str| {
        contenders
            .iter()
            .find(|c| c.name == name)
            .map(|c| median(&c.times))
    };
    let openssl = median_of("openssl dgst -sha256").unwrap();
    let coreutils = median_of("sha256sum").unwrap();
    println!(
        "{:<30} {:>9} {:>9} {:>9} {:>8} {:>12} {:>14}",
        "contender", "median", "min", "max", "GB/s", "vs openssl", "vs sha256sum"
    );
    for c in &contenders {
        let m = median(&c.times);
        println!(
            "{:<30} {:>8.3}s {:>8.3}s {:>8.3}s {:>8.3} {:>11.1}% {:>13.2}x",
            c.name,
            m.as_secs_f64(),
            c.times.iter().min().unwrap().as_secs_f64(),
            c.times.iter().max().unwrap().as_secs_f64(),
            ONE_FILE_BYTES as f64 / m.as_secs_f64() / 1e9,
            100.0 * openssl.as_secs_f64() / m.as_secs_f64(),
            coreutils.as_secs_f64() / m.as_secs_f64(),
        );
    }
    let ours = median_of("custody sha256 (in-process)").unwrap();
    let ratio = openssl.as_secs_f64() / ours.as_secs_f64();
    println!(
        "target: custody SHA-256 >= 95% of openssl's throughput: {:.1}% -> {}",
        100.0 * ratio,
        if ratio >= 0.95 { "MET" } else { "MISSED" }
    );
}

fn many_files(data: &Path, rounds: usize) {
    let dir = data.join("many-100x10MiB");
    std::fs::create_dir_all(&dir).unwrap();
    let paths: Vec<PathBuf> = (0..MANY_FILES)
        .map(|i| {
            let p = dir.join(format!("artifact-{i:03}.bin"));
            ensure_file(&p, MANY_FILE_BYTES, 1000 + i as u64);
            p
        })
        .collect();
    for p in &paths {
        warm(p);
    }
    let total = MANY_FILE_BYTES * MANY_FILES as u64;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());

    type Run = fn(&[PathBuf]) -> Vec<[u8; 32]>;
    let modes: [(&str, Run); 3] = [
        ("digest_files (parallel)", |p| {
            digest_files(p, Algorithms::Both)
                .into_iter()
                .map(|r| r.unwrap().sha256.unwrap().0)
                .collect()
        }),
        ("digest_file loop (pipelined)", |p| {
            p.iter()
                .map(|p| digest_file(p, Algorithms::Both).unwrap().sha256.unwrap().0)
                .collect()
        }),
        ("one thread, one pass", |p| {
            p.iter().map(|p| one_thread_both(p)).collect()
        }),
    ];
    let mut wall: Vec<Vec<Duration>> = vec![Vec::new(); modes.len()];
    let mut cpu: Vec<Vec<Duration>> = vec![Vec::new(); modes.len()];
    let mut answers: Vec<Vec<[u8; 32]>> = vec![Vec::new(); modes.len()];

    println!(
        "\n## many files: {MANY_FILES} x {MANY_FILE_BYTES} bytes, SHA-256 + SHA-512, {cores} cores, \
         {rounds} interleaved rounds"
    );
    for round in 0..rounds {
        for k in 0..modes.len() {
            let i = (round + k) % modes.len();
            let cpu0 = process_cpu_time();
            let t0 = Instant::now();
            answers[i] = (modes[i].1)(&paths);
            wall[i].push(t0.elapsed());
            cpu[i].push(process_cpu_time().saturating_sub(cpu0));
        }
        eprintln!("round {}/{rounds} done, {}", round + 1, load_average());
    }
    for a in &answers[1..] {
        assert_eq!(*a, answers[0], "hashing modes disagree");
    }
    let parallel = median(&wall[0]);
    println!(
        "{:<30} {:>9} {:>8} {:>10} {:>12}",
        "mode", "wall", "GB/s", "cpu/wall", "vs parallel"
    );
    for (i, (name, _)) in modes.iter().enumerate() {
        let w = median(&wall[i]);
        // Ratio per round, then the median: CPU and wall of one round belong together.
        let mut ratios: Vec<f64> = wall[i]
            .iter()
            .zip(&cpu[i])
            .map(|(w, c)| c.as_secs_f64() / w.as_secs_f64())
            .collect();
        ratios.sort_by(f64::total_cmp);
        println!(
            "{:<30} {:>8.3}s {:>8.3} {:>10.2} {:>11.2}x",
            name,
            w.as_secs_f64(),
            total as f64 / w.as_secs_f64() / 1e9,
            ratios[ratios.len() / 2],
            w.as_secs_f64() / parallel.as_secs_f64(),
        );
    }
}

/// What `digest_files` does per file when several are in flight, on one thread only.
fn one_thread_both(path: &Path) -> [u8; 32] {
    let mut file = File::open(path).unwrap();
    // The read size digest.rs uses.
    let mut buf = vec![0u8; 64 << 10];
    let (mut a, mut b) = (Sha256::new(), Sha512::new());
    loop {
        let n = file.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        a.update(&buf[..n]);
        b.update(&buf[..n]);
    }
    let _ = b.finalize();
    a.finalize().into()
}

struct Contender {
    name: String,
    job: Box<dyn Fn() -> String>,
    times: Vec<Duration>,
    sha256: Option<String>,
}

impl Contender {
    fn command(name: &str, program: &str, args: &[&str], file: &Path) -> Self {
        let program = program.to_owned();
        let mut args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
        args.push(file.to_str().unwrap().to_owned());
        Self::new(
            name,
            Box::new(move || {
                let out = Command::new(&program)
                    .args(&args)
                    .output()
                    .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
                assert!(out.status.success(), "{program} failed: {out:?}");
                first_sha256_hex(&String::from_utf8_lossy(&out.stdout))
            }),
        )
    }

    fn in_process(name: &str, file: &Path, algorithms: Algorithms) -> Self {
        let file = file.to_path_buf();
        Self::new(
            name,
            Box::new(move || {
                digest_file(&file, algorithms)
                    .unwrap()
                    .sha256
                    .unwrap()
                    .to_hex()
            }),
        )
    }

    fn new(name: &str, job: Box<dyn Fn() -> String>) -> Self {
        Self {
            name: name.to_owned(),
            job,
            times: Vec::new(),
            sha256: None,
        }
    }

    fn run(&mut self) {
        let t0 = Instant::now();
        let hex = (self.job)();
        self.times.push(t0.elapsed());
        self.sha256 = Some(hex);
    }
}

/// The first digest-sized hex word of a tool's output, whatever its format (`SHA2-256(f)= h`,
/// `h  f`, `sha256:h  f`).
fn first_sha256_hex(out: &str) -> String {
    out.split(|c: char| !c.is_ascii_hexdigit())
        .find(|w| w.len() >= 64)
        .unwrap_or_else(|| panic!("no SHA-256 in {out:?}"))
        .to_ascii_lowercase()
}

fn median(times: &[Duration]) -> Duration {
    let mut t = times.to_vec();
    t.sort();
    t[t.len() / 2]
}

/// user + sys time of this process, all threads (including finished ones), from
/// `/proc/self/stat`: no unsafe `getrusage` call needed.
fn process_cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // The command name may hold spaces; fields resume after its closing parenthesis.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 of proc(5), counted from `state` = field 3.
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_secs_f64(ticks as f64 / clock_ticks_per_second() as f64)
}

fn clock_ticks_per_second() -> u64 {
    static HZ: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *HZ.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100)
    })
}

/// Create `path` with `len` pseudo-random bytes unless it already has that length.
fn ensure_file(path: &Path, len: u64, seed: u64) {
    if std::fs::metadata(path).is_ok_and(|m| m.len() == len) {
        return;
    }
    let tmp = path.with_extension("partial");
    let mut out = std::io::BufWriter::new(File::create(&tmp).unwrap());
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut buf = vec![0u8; 1 << 20];
    let mut left = len;
    while left > 0 {
        for word in buf.chunks_exact_mut(8) {
            // xorshift64: incompressible enough that no layer below can cheat.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            word.copy_from_slice(&state.to_le_bytes());
        }
        let n = left.min(buf.len() as u64) as usize;
        out.write_all(&buf[..n]).unwrap();
        left -= n as u64;
    }
    out.into_inner().unwrap().sync_all().unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn warm(path: &Path) {
    std::io::copy(&mut File::open(path).unwrap(), &mut std::io::sink()).unwrap();
}

fn custody_bin(root: &Path) -> PathBuf {
    if let Some(p) = std::env::var_os("CUSTODY_BIN") {
        return PathBuf::from(p);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let target = if target.is_relative() {
        root.join(target)
    } else {
        target
    };
    target.join("release/custody")
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(default)
}

/// Other work on the machine skews every row; the load average says how much there was.
fn load_average() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let one_minute = text.split_whitespace().next().unwrap_or("?");
    format!("load average {one_minute}")
}

fn print_machine() {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_else(|| "unknown".to_owned());
    let flags = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("flags"))
        .unwrap_or_default();
    let has = |f: &str| flags.split_whitespace().any(|x| x == f);
    println!(
        "machine: {model}, {} cores, sha_ni={}, avx2={}",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        has("sha_ni"),
        has("avx2"),
    );
    println!("at start: {}", load_average());
    if let Ok(out) = Command::new("openssl").arg("version").output() {
        print!("openssl: {}", String::from_utf8_lossy(&out.stdout));
    }
}
