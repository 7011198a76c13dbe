//! The S3 backend against a real S3-compatible server on loopback (moto's `moto_server`, from
//! PyPI `moto[server]`, which honours `If-None-Match: *`): the store contract, a sequencer
//! writing and reopening a log there, two writers racing for the same tiles, and the store
//! used from inside tokio runtimes as `custody serve` will (issue 15).
//!
//! The server is started on a free port and stopped by the test. Without `moto_server` on
//! PATH (or `MOTO_SERVER`) the test is skipped, except under CI, where it fails.
#![cfg(feature = "s3")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use custody_tlog::s3::ObjectTileStore;
use custody_tlog::{
    LogEntry, NoteSigner, Sequencer, SignatureType, TileCoord, TileStore, TlogProof, put_immutable,
    read_tile,
};

#[path = "support/moto.rs"]
mod moto;

use moto::{Moto, request, start_moto};

fn store(moto: &Moto, bucket: &str, prefix: &str) -> ObjectTileStore {
    let head = request(moto.port, "PUT", &format!("/{bucket}")).unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let endpoint = format!("http://127.0.0.1:{}", moto.port);
    ObjectTileStore::from_s3_url_with(
        &format!("s3://{bucket}/{prefix}"),
        &[
            ("AWS_ENDPOINT_URL", &endpoint),
            ("AWS_ALLOW_HTTP", "true"),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
        ],
    )
    .unwrap()
}

fn signer() -> NoteSigner {
    NoteSigner::new(
        "example.com/log",
        SignatureType::Ed25519,
        ed25519_dalek::SigningKey::from_bytes(&[5; 32]),
    )
    .unwrap()
}

#[test]
fn s3_store_keeps_the_contract_and_holds_a_log() {
    let Some(moto) = start_moto() else { return };
    let s = store(&moto, "custody-log", "prod/log");

    // The store contract.
    assert_eq!(s.get("checkpoint").unwrap(), None);
    s.put("checkpoint", b"one").unwrap();
    s.put("checkpoint", b"two").unwrap();
    assert_eq!(s.get("checkpoint").unwrap().as_deref(), Some(&b"two"[..]));
    assert!(s.put_if_absent("tile/0/x001/234.p/5", b"a").unwrap());
    assert!(!s.put_if_absent("tile/0/x001/234.p/5", b"b").unwrap());
    assert_eq!(
        s.get("tile/0/x001/234.p/5").unwrap().as_deref(),
        Some(&b"a"[..])
    );
    put_immutable(&s, "tile/0/x001/234.p/5", b"a").unwrap();
    assert!(matches!(
        put_immutable(&s, "tile/0/x001/234.p/5", b"b"),
        Err(custody_tlog::Error::ImmutableConflict { .. })
    ));
    assert!(s.get("../escape").is_err());

    // Concurrent creates of one tile: exactly one winner.
    let wins: usize = std::thread::scope(|sc| {
        let hs: Vec<_> = (0..6u8)
            .map(|i| {
                let s = &s;
                sc.spawn(move || s.put_if_absent("tile/1/000", &[i]).unwrap() as usize)
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(wins, 1);

    // A sequencer writes a log into the bucket, is reopened, and proves from S3's tiles.
    let log = store(&moto, "custody-log", "seq");
    let state = tempfile::tempdir().unwrap();
    let entries: Vec<LogEntry> = (0..300u32)
        .map(|i| LogEntry {
            data: format!("entry {i}").into_bytes(),
            artifact: None,
        })
        .collect();
    let mut seq = Sequencer::open(&log, state.path(), "example.com/log", signer()).unwrap();
    seq.append_batch(&entries[..200]).unwrap();
    seq.append_batch(&entries[200..]).unwrap();
    drop(seq);
    let seq = Sequencer::open(&log, state.path(), "example.com/log", signer()).unwrap();
    assert_eq!(seq.size(), 300);
    let proof = seq.prove(257).unwrap();
    TlogProof::parse(&proof.to_bytes())
        .unwrap()
        .verify(b"entry 257", "example.com/log", signer().verifier())
        .unwrap();
    assert_eq!(seq.entry(42).unwrap(), b"entry 42");
}

#[test]
fn two_writers_cannot_overwrite_each_others_tiles() {
    let Some(moto) = start_moto() else { return };
    let a = store(&moto, "race", "log");
    let b = store(&moto, "race", "log");
    // Each believes it is the only writer and writes its own version of the same tiles.
    let tiles: Vec<String> = (0..20).map(|i| format!("tile/0/{i:03}")).collect();
    let (ra, rb) = std::thread::scope(|sc| {
        let ha = sc.spawn(|| {
            tiles
                .iter()
                .map(|t| put_immutable(&a, t, b"from a").is_ok())
                .collect::<Vec<_>>()
        });
        let hb = sc.spawn(|| {
            tiles
                .iter()
                .map(|t| put_immutable(&b, t, b"from b").is_ok())
                .collect::<Vec<_>>()
        });
        (ha.join().unwrap(), hb.join().unwrap())
    });
    for (i, t) in tiles.iter().enumerate() {
        // Exactly one writer succeeded per tile, and the tile holds its bytes.
        assert!(ra[i] != rb[i], "{t}");
        let want: &[u8] = if ra[i] { b"from a" } else { b"from b" };
        assert_eq!(a.get(t).unwrap().as_deref(), Some(want), "{t}");
    }
}

/// What the server will do with the store: append through a sequencer, reopen it, and read
/// entries, a full tile and a proof back from the bucket.
fn append_and_read_back(log: &ObjectTileStore) {
    let state = tempfile::tempdir().unwrap();
    let entries: Vec<LogEntry> = (0..260u32)
        .map(|i| LogEntry {
            data: format!("entry {i}").into_bytes(),
            artifact: None,
        })
        .collect();
    let mut seq = Sequencer::open(log, state.path(), "example.com/log", signer()).unwrap();
    seq.append_batch(&entries[..100]).unwrap();
    seq.append_batch(&entries[100..]).unwrap();
    drop(seq);
    let seq = Sequencer::open(log, state.path(), "example.com/log", signer()).unwrap();
    assert_eq!(seq.size(), 260);
    assert_eq!(seq.entry(258).unwrap(), b"entry 258");
    let full = TileCoord::new(0, 0, 256).unwrap();
    assert_eq!(read_tile(log, &full).unwrap().to_bytes().len(), 256 * 32);
    let proof = seq.prove(3).unwrap();
    TlogProof::parse(&proof.to_bytes())
        .unwrap()
        .verify(b"entry 3", "example.com/log", signer().verifier())
        .unwrap();
}

// Each of these panicked before the store stopped calling `block_on` on its caller's thread
// and stopped blocking when dropped: "Cannot start a runtime from within a runtime" on the
// first S3 request, or "Cannot drop a runtime in a context where blocking is not allowed"
// when the store went away inside a task.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usable_from_a_multi_thread_runtime() {
    let Some(moto) = start_moto() else { return };
    let log = store(&moto, "in-runtime", "multi");
    append_and_read_back(&log);
}

#[tokio::test(flavor = "current_thread")]
async fn usable_from_a_current_thread_runtime() {
    let Some(moto) = start_moto() else { return };
    let log = store(&moto, "in-runtime", "current");
    append_and_read_back(&log);
}

#[tokio::test(flavor = "current_thread")]
async fn usable_from_spawn_blocking_and_dropped_in_a_task() {
    let Some(moto) = start_moto() else { return };
    // A server holds the store in shared state, opened at start-up inside the runtime; its
    // handlers move the synchronous work to the blocking pool, and the last reference goes
    // in whichever task ends last.
    let log = std::sync::Arc::new(store(&moto, "in-runtime", "blocking"));
    let worker = std::sync::Arc::clone(&log);
    tokio::task::spawn_blocking(move || append_and_read_back(&worker))
        .await
        .unwrap();
    let handler = std::sync::Arc::clone(&log);
    tokio::spawn(async move { handler.get("checkpoint").unwrap() })
        .await
        .unwrap()
        .unwrap();
    drop(log);
}
