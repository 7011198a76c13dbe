//! Append throughput and latency with fsync to a local directory, storage per entry, and
//! inclusion-proof time in a 10-million-entry log (issue 5, "Performance").
//!
//! Run: `CARGO_TARGET_DIR=target-tlog cargo bench -p custody-tlog --bench append`
//! Knobs (environment): `BENCH_DIR` (default: a temp dir), `BENCH_ENTRIES` (default 300000),
//! `BENCH_ENTRY_BYTES` (default 512), `BENCH_PROOF_LOG` (default 10000000), and
//! `BENCH_SKIP_APPEND` / `BENCH_SKIP_PROOFS` to run one half.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark binary may stop on errors

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use custody_tlog::{
    ArtifactDigest, DirStore, LogEntry, NoteSigner, Receipt, Sequencer, SequencerService,
    SignatureType, StoreTiles, TileHashReader, TiledTree, prove_record, record_hash,
};
use ed25519_dalek::SigningKey;
use sha2::{Digest, Sha256};

const ORIGIN: &str = "bench.example/log";

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn signer() -> NoteSigner {
    NoteSigner::new(
        ORIGIN,
        SignatureType::Ed25519,
        SigningKey::from_bytes(&[3; 32]),
    )
    .unwrap()
}

fn entry(i: u64, size: usize) -> LogEntry {
    let mut data = format!("entry {i} ").into_bytes();
    data.resize(size, b'.');
    LogEntry {
        artifact: Some(ArtifactDigest(Sha256::digest(i.to_be_bytes()).into())),
        data,
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn dir_bytes(dir: &Path) -> (u64, u64, u64) {
    // (all bytes, bytes in partial tiles and bundles, files)
    let (mut all, mut partial, mut files) = (0, 0, 0);
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let md = e.metadata().unwrap();
            if md.is_dir() {
                stack.push(e.path());
            } else {
                all += md.len();
                files += 1;
                if e.path().to_string_lossy().contains(".p/") {
                    partial += md.len();
                }
            }
        }
    }
    (all, partial, files)
}

struct Run {
    entries: u64,
    elapsed: Duration,
    latencies: Vec<Duration>,
    batches: u64,
}

/// Feeds the service at `rate` entries/s (0: as fast as it absorbs them, with at most
/// `window` entries in flight), and collects every acknowledgement.
fn drive(
    svc: &SequencerService<Arc<DirStore>>,
    first: u64,
    n: u64,
    size: usize,
    rate: u64,
    window: usize,
) -> Run {
    let (tx, rx) = mpsc::sync_channel::<Receipt>(window);
    let collector = std::thread::spawn(move || {
        let mut lat = Vec::new();
        let mut sizes = std::collections::BTreeSet::new();
        for r in rx {
            let ack = r.wait().unwrap();
            lat.push(ack.latency);
            sizes.insert(ack.checkpoint_size);
        }
        (lat, sizes.len() as u64)
    });
    let start = Instant::now();
    for i in first..first + n {
        if rate > 0 {
            // Submit in 1 ms slices to hold the offered rate.
            let due = start + Duration::from_secs_f64((i - first) as f64 / rate as f64);
            let now = Instant::now();
            if due > now + Duration::from_millis(1) {
                std::thread::sleep(due - now);
            }
        }
        tx.send(svc.submit(entry(i, size)).unwrap()).unwrap();
    }
    drop(tx);
    let (mut latencies, batches) = collector.join().unwrap();
    let elapsed = start.elapsed();
    latencies.sort();
    Run {
        entries: n,
        elapsed,
        latencies,
        batches,
    }
}

fn report(name: &str, r: &Run) {
    println!(
        "{name}: {} entries in {:.2} s = {:.0} entries/s; {} checkpoints (mean batch {:.0}); \
         append-to-checkpoint latency median {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        r.entries,
        r.elapsed.as_secs_f64(),
        r.entries as f64 / r.elapsed.as_secs_f64(),
        r.batches,
        r.entries as f64 / r.batches.max(1) as f64,
        percentile(&r.latencies, 0.5).as_secs_f64() * 1e3,
        percentile(&r.latencies, 0.99).as_secs_f64() * 1e3,
        r.latencies
            .last()
            .copied()
            .unwrap_or_default()
            .as_secs_f64()
            * 1e3,
    );
}

fn bench_append(base: &Path) {
    let n = env_u64("BENCH_ENTRIES", 300_000);
    let size = env_u64("BENCH_ENTRY_BYTES", 512) as usize;
    let log = base.join("append/log");
    let state = base.join("append/state");
    let store = Arc::new(DirStore::open(&log).unwrap());
    let seq = Sequencer::open(store, &state, ORIGIN, signer()).unwrap();
    let svc = SequencerService::spawn(seq, 16_384);
    println!(
        "append: {size}-byte entries with SHA-256 lookup records, fsync to {}",
        log.display()
    );
    let sat = drive(&svc, 0, n, size, 0, 32_768);
    report("saturated (32768 in flight)", &sat);
    let paced = drive(&svc, n, n / 3, size, 10_000, 1 << 20);
    report("paced at 10000/s", &paced);
    let seq = svc.shutdown().unwrap();
    let total = seq.size();
    let (all, partial, files) = dir_bytes(&log);
    let index = std::fs::metadata(state.join("index.sha256")).map_or(0, |m| m.len());
    println!(
        "storage: {total} entries of {size} bytes: {:.1} bytes/entry on disk ({files} files), of which \
         {:.1} bytes/entry are superseded partial tiles and bundles; lookup index {:.1} bytes/entry",
        all as f64 / total as f64,
        partial as f64 / total as f64,
        index as f64 / total as f64
    );
}

fn bench_proofs(base: &Path) {
    let n = env_u64("BENCH_PROOF_LOG", 10_000_000);
    let log = base.join("proofs/log");
    // Tiles only (proofs never read entries), written without fsync: this measures proving
    // from local tiles, not writing them.
    let t0 = Instant::now();
    let mut tree = TiledTree::new();
    let mut i = 0u64;
    while i < n {
        let end = (i + 1_000_000).min(n);
        for j in i..end {
            tree.append(record_hash(&j.to_be_bytes())).unwrap();
        }
        for t in tree.take_new_tiles() {
            let p = log.join(t.coord.path());
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, t.to_bytes()).unwrap();
        }
        i = end;
    }
    let root = tree.root();
    println!(
        "proofs: built tiles of a {n}-entry log in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    let store = DirStore::open(&log).unwrap();
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let indices: Vec<u64> = (0..2000)
        .map(|k| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if k == 0 { n - 1 } else { x % n }
        })
        .collect();
    // Pass 1 touches each tile file for the first time since it was written; pass 2 proves
    // the same indices again with the files in the page cache.
    for pass in ["first read of each tile", "tiles in page cache"] {
        let mut prove = Vec::new();
        let mut verify = Vec::new();
        for &index in &indices {
            let s = Instant::now();
            let reader = TileHashReader::new(n, StoreTiles(&store));
            let p = prove_record(n, index, &reader).unwrap();
            prove.push(s.elapsed());
            let s = Instant::now();
            p.verify(index, n, record_hash(&index.to_be_bytes()), root)
                .unwrap();
            verify.push(s.elapsed());
        }
        prove.sort();
        verify.sort();
        println!(
            "inclusion proof in a {n}-entry log from local tiles ({pass}): prove median {:.0} us, \
             p99 {:.0} us, max {:.0} us; verify median {:.1} us",
            percentile(&prove, 0.5).as_secs_f64() * 1e6,
            percentile(&prove, 0.99).as_secs_f64() * 1e6,
            prove.last().unwrap().as_secs_f64() * 1e6,
            percentile(&verify, 0.5).as_secs_f64() * 1e6,
        );
    }
}

fn main() {
    let tmp;
    let base: PathBuf = match std::env::var_os("BENCH_DIR") {
        Some(d) => d.into(),
        None => {
            tmp = tempfile::tempdir().unwrap();
            tmp.path().to_path_buf()
        }
    };
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return; // cargo test --benches / nextest probing
    }
    if std::env::var_os("BENCH_SKIP_APPEND").is_none() {
        bench_append(&base);
    }
    if std::env::var_os("BENCH_SKIP_PROOFS").is_none() {
        bench_proofs(&base);
    }
}
