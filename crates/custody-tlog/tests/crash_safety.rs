//! Crash safety (issue 5, "Faults and bad input"): a child process appends entries and is
//! killed with SIGKILL at random points, 100 times. After every kill, before and after
//! restarting, every acknowledged entry is present, the published checkpoint matches the
//! tiles a client would read, and every checkpoint ever published is consistent with it.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use custody_tlog::{
    ArtifactDigest, CHECKPOINT_PATH, Checkpoint, DirStore, EntryBundle, EntryBundleCoord, Hash,
    LogEntry, NoteSigner, Sequencer, SignatureType, StoreTiles, TILE_WIDTH, TileHashReader,
    TileStore, prove_consistency, tree_hash,
};
use ed25519_dalek::SigningKey;
use sha2::{Digest, Sha256};

const ORIGIN: &str = "crash.example/log";
const CHILD_ENV: &str = "CUSTODY_TLOG_CRASH_CHILD";
const RUNS: u64 = 100;

fn signer() -> NoteSigner {
    NoteSigner::new(
        ORIGIN,
        SignatureType::Ed25519,
        SigningKey::from_bytes(&[42; 32]),
    )
    .unwrap()
}

fn entry(run: u64, k: u64) -> LogEntry {
    let data = format!("run {run} entry {k}").into_bytes();
    LogEntry {
        artifact: Some(ArtifactDigest(Sha256::digest(&data).into())),
        data,
    }
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*: enough to spread batch sizes and kill times.
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// The child: append random-sized batches forever, printing each acknowledgement.
#[test]
fn crash_child() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return; // Only runs when the parent test starts this binary as a child.
    };
    let mut parts = spec.splitn(3, ':');
    let run: u64 = parts.next().unwrap().parse().unwrap();
    let seed: u64 = parts.next().unwrap().parse().unwrap();
    let dir = Path::new(parts.next().unwrap());
    let store = DirStore::open(dir.join("log")).unwrap();
    let mut seq = Sequencer::open(store, &dir.join("state"), ORIGIN, signer()).unwrap();
    let mut rng = Rng(seed | 1);
    let mut out = std::io::stdout().lock();
    writeln!(out, "OPEN {}", seq.size()).unwrap();
    out.flush().unwrap();
    let start = Instant::now();
    let mut k = 0u64;
    while start.elapsed() < Duration::from_secs(30) {
        let n = 1 + rng.next() % 600;
        let batch: Vec<LogEntry> = (k..k + n).map(|k| entry(run, k)).collect();
        let done = seq.append_batch(&batch).unwrap();
        let cp = &done.checkpoint.checkpoint;
        writeln!(
            out,
            "ACK {} {} {} {} {}",
            done.first_index, n, k, cp.size, cp.root
        )
        .unwrap();
        out.flush().unwrap();
        k += n;
    }
}

struct Acked {
    /// index -> (run, k)
    entries: BTreeMap<u64, (u64, u64)>,
    /// Every checkpoint a child published: size -> root.
    checkpoints: BTreeMap<u64, Hash>,
}

/// What a client sees right now: a valid signed checkpoint whose root the tiles reproduce, and
/// which is consistent with each checkpoint in `published`. (Consistency is transitive, so
/// checking each round's new checkpoints and the previous head covers every one.)
fn check_client_view(
    store: &DirStore,
    acked: &Acked,
    published: &BTreeMap<u64, Hash>,
) -> Option<Checkpoint> {
    let Some(msg) = store.get(CHECKPOINT_PATH).unwrap() else {
        // Killed before the first checkpoint of a new log: nothing can have been published.
        assert!(
            acked.checkpoints.is_empty(),
            "published checkpoints vanished"
        );
        return None;
    };
    let cp = Checkpoint::open(&msg, ORIGIN, signer().verifier())
        .expect("published checkpoint verifies")
        .checkpoint;
    let reader = TileHashReader::new(cp.size, StoreTiles(store));
    assert_eq!(
        tree_hash(cp.size, &reader).unwrap(),
        cp.root,
        "tiles reproduce the checkpoint root"
    );
    for (&size, &root) in published {
        assert!(
            size <= cp.size,
            "published checkpoint {size} is ahead of the stored one {}",
            cp.size
        );
        prove_consistency(store, cp.size, size)
            .unwrap()
            .verify(size, root, cp.size, cp.root)
            .unwrap_or_else(|e| panic!("checkpoint {size} inconsistent with {}: {e}", cp.size));
    }
    Some(cp)
}

/// Every acknowledged entry from index `from` on is in its entry bundle.
fn check_entries(store: &DirStore, size: u64, acked: &Acked, from: u64) {
    let mut bundle: Option<(u64, Vec<Vec<u8>>)> = None;
    for (&index, &(run, k)) in acked.entries.range(from..) {
        assert!(
            index < size,
            "acknowledged entry {index} beyond checkpoint size {size}"
        );
        let b = index / TILE_WIDTH;
        if bundle.as_ref().is_none_or(|(i, _)| *i != b) {
            let width = (size - b * TILE_WIDTH).min(TILE_WIDTH) as u16;
            let coord = EntryBundleCoord::new(b, width).unwrap();
            let bytes = store
                .get(&coord.path())
                .unwrap()
                .expect("entry bundle present");
            bundle = Some((b, EntryBundle::parse(&bytes, width).unwrap().entries));
        }
        let entries = &bundle.as_ref().unwrap().1;
        assert_eq!(
            entries[(index % TILE_WIDTH) as usize],
            entry(run, k).data,
            "acknowledged entry {index} (run {run}, k {k})"
        );
    }
}

#[test]
fn sigkill_at_random_points_loses_nothing_acknowledged() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let store = DirStore::open(dir.path().join("log")).unwrap();
    let mut seed = [0u8; 8];
    getrandom::fill(&mut seed).unwrap();
    let seed = u64::from_le_bytes(seed);
    eprintln!("crash test seed {seed}");
    let mut rng = Rng(seed | 1);
    let exe = std::env::current_exe().unwrap();
    let mut acked = Acked {
        entries: BTreeMap::new(),
        checkpoints: BTreeMap::new(),
    };
    let mut checked_up_to = 0u64;
    let mut head: Option<(u64, Hash)> = None;
    let mut total_acks = 0usize;
    for run in 0..RUNS {
        let mut child = Command::new(&exe)
            .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
            .env(
                CHILD_ENV,
                format!("{run}:{}:{}", rng.next(), dir.path().display()),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut early: Vec<String> = Vec::new();
        if rng.next().is_multiple_of(5) {
            // One run in five dies during startup and recovery.
            std::thread::sleep(Duration::from_micros(rng.next() % 30_000));
        } else {
            // The others die after 0 to 2 acknowledged batches (waited for, so the test
            // does not depend on how fast this machine is) plus up to 100 ms more, that is
            // anywhere inside a batch. libtest prints its own lines first.
            let wait_acks = rng.next() % 3;
            let mut seen = 0;
            loop {
                let mut line = String::new();
                if stdout.read_line(&mut line).unwrap() == 0 {
                    break;
                }
                if line.contains("ACK ") {
                    seen += 1;
                    early.push(line);
                    if seen >= wait_acks {
                        break;
                    }
                } else if line.contains("OPEN") && wait_acks == 0 {
                    break;
                }
            }
            std::thread::sleep(Duration::from_micros(rng.next() % 100_000));
        }
        let reader = std::thread::spawn(move || {
            stdout
                .lines()
                .map_while(Result::ok)
                .collect::<Vec<String>>()
        });
        child.kill().unwrap(); // SIGKILL on Unix
        let status = child.wait().unwrap();
        assert!(!status.success(), "child exited on its own: {status}");
        let mut published: BTreeMap<u64, Hash> = head.into_iter().collect();
        early.extend(reader.join().unwrap());
        for line in early {
            let f: Vec<&str> = line.trim_end().split(' ').collect();
            if f[0] != "ACK" {
                continue;
            }
            let (first, n, k): (u64, u64, u64) = (
                f[1].parse().unwrap(),
                f[2].parse().unwrap(),
                f[3].parse().unwrap(),
            );
            for i in 0..n {
                acked.entries.insert(first + i, (run, k + i));
            }
            let size: u64 = f[4].parse().unwrap();
            let root = Hash::from_base64(f[5], "ack").unwrap();
            acked.checkpoints.insert(size, root);
            published.insert(size, root);
            total_acks += 1;
        }
        // Before any restart: what a client would read now.
        let cp = check_client_view(&store, &acked, &published);
        let size = cp.as_ref().map_or(0, |cp| cp.size);
        head = cp.map(|cp| (cp.size, cp.root));
        check_entries(&store, size, &acked, checked_up_to);
        checked_up_to = acked.entries.keys().next_back().map_or(0, |&i| i + 1);
    }
    assert!(
        total_acks >= RUNS as usize / 4,
        "too few acknowledged batches ({total_acks}) to mean anything"
    );

    // Restart in-process: recovery succeeds, the lock was released by the kill, nothing
    // acknowledged is missing, every checkpoint is consistent, and lookups work.
    let seq = Sequencer::open(
        DirStore::open(dir.path().join("log")).unwrap(),
        &dir.path().join("state"),
        ORIGIN,
        signer(),
    )
    .unwrap();
    let cp = check_client_view(&store, &acked, &acked.checkpoints).unwrap();
    assert_eq!(seq.size(), cp.size);
    check_entries(&store, cp.size, &acked, 0);
    for (&index, &(run, k)) in acked.entries.iter().step_by(97) {
        let d = entry(run, k).artifact.unwrap();
        assert!(seq.lookup(&d).contains(&index), "lookup of entry {index}");
    }
    eprintln!(
        "{RUNS} kills, {total_acks} acknowledged batches, {} acknowledged entries, final size {}",
        acked.entries.len(),
        cp.size
    );
}

#[test]
fn a_lost_lookup_index_is_marked_until_rebuilt() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let entries: Vec<LogEntry> = (0..5).map(|k| entry(0, k)).collect();
    let digest = entries[3].artifact.unwrap();
    {
        let mut seq = Sequencer::open(
            DirStore::open(dir.path().join("log")).unwrap(),
            &state,
            ORIGIN,
            signer(),
        )
        .unwrap();
        seq.append_batch(&entries).unwrap();
        assert_eq!(seq.lookup(&digest), [3]);
        assert!(seq.index_complete());
    }
    assert_eq!(
        custody_tlog::lookup_readonly(&state, 5, &digest).unwrap(),
        [3]
    );

    // The state directory is lost: read-only lookups refuse rather than answer from nothing.
    std::fs::remove_dir_all(&state).unwrap();
    let err = custody_tlog::lookup_readonly(&state, 5, &digest).unwrap_err();
    assert!(
        matches!(err, custody_tlog::Error::IndexIncomplete { .. }),
        "{err}"
    );
    // The writer opens (the log is intact) and says its index is partial, and so do readers,
    // although an index file exists again and grows with new entries.
    let mut seq = Sequencer::open(
        DirStore::open(dir.path().join("log")).unwrap(),
        &state,
        ORIGIN,
        signer(),
    )
    .unwrap();
    assert!(!seq.index_complete());
    seq.append_batch(&[entry(1, 0)]).unwrap();
    assert!(custody_tlog::lookup_readonly(&state, 6, &digest).is_err());

    // Rebuilt from what the entries record (records beyond the log are dropped): complete.
    seq.rebuild_index(vec![(3, digest), (99, digest)]).unwrap();
    assert!(seq.index_complete());
    assert_eq!(seq.lookup(&digest), [3]);
    assert_eq!(
        custody_tlog::lookup_readonly(&state, 6, &digest).unwrap(),
        [3]
    );
    drop(seq);
    let seq = Sequencer::open(
        DirStore::open(dir.path().join("log")).unwrap(),
        &state,
        ORIGIN,
        signer(),
    )
    .unwrap();
    assert!(
        seq.index_complete(),
        "a rebuilt index stays complete across opens"
    );
    assert_eq!(seq.lookup(&digest), [3]);
}
