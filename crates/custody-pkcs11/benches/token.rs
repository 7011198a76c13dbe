//! Signing with a key in a PKCS#11 token (SoftHSM 2) against a key in memory, in one run
//! (issue 13): signatures per second, and the transparency log's appends per second with its
//! checkpoint key in the token, against the 10,000/s the log must keep.
//!
//! ```text
//! CARGO_TARGET_DIR=target-bench cargo bench -p custody-pkcs11 --bench token
//! ```
//!
//! The log appends `TOKEN_BENCH_BATCHES` (default 100) batches of `TOKEN_BENCH_BATCH` (default
//! 1,000) 512-byte entries to a local directory with fsync, one signed checkpoint per batch, as
//! the sequencer batches under load. SoftHSM reads `SOFTHSM2_CONF` when the module is loaded,
//! so the benchmark makes a token in a temporary directory and runs itself again pointed at it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use custody_crypto::{KeyAlgorithm, Signer, SigningKey};
use custody_pkcs11::softhsm::{self, MODULE};
use custody_pkcs11::{KeyUri, Token};
use custody_tlog::{DirStore, LogEntry, NoteSigner, Sequencer, SignatureType};

const PIN: &str = "4711";
const CHILD: &str = "CUSTODY_TOKEN_BENCH_CHILD";

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn signatures_per_second(label: &str, key: &dyn Signer) -> f64 {
    let n = 2_000;
    let started = Instant::now();
    for i in 0..n {
        key.sign(format!("checkpoint {i}").as_bytes()).unwrap();
    }
    let rate = f64::from(n) / started.elapsed().as_secs_f64();
    println!("sign       {label:<24} {rate:>10.0} signatures/s");
    rate
}

fn appends_per_second(label: &str, key: Arc<dyn Signer>) -> f64 {
    let batches = env_num("TOKEN_BENCH_BATCHES", 100);
    let size = env_num("TOKEN_BENCH_BATCH", 1_000);
    let dir = tempfile::tempdir().unwrap();
    let store = DirStore::open(dir.path().join("log")).unwrap();
    let signer = NoteSigner::with_key(
        "bench.example/log",
        SignatureType::Ed25519,
        custody_attest::tlog::note_key(key).unwrap(),
    )
    .unwrap();
    let mut seq = Sequencer::open(
        store,
        &dir.path().join("state"),
        "bench.example/log",
        signer,
    )
    .unwrap();
    let started = Instant::now();
    let mut next = 0u64;
    for _ in 0..batches {
        let entries: Vec<LogEntry> = (0..size)
            .map(|_| {
                next += 1;
                let mut data = format!("entry {next} ").into_bytes();
                data.resize(512, b'.');
                LogEntry {
                    data,
                    artifact: None,
                }
            })
            .collect();
        seq.append_batch(&entries).unwrap();
    }
    let rate = (batches * size) as f64 / started.elapsed().as_secs_f64();
    println!(
        "log        {label:<24} {rate:>10.0} appends/s ({batches} checkpoints of {size}; {:.2}x the 10,000/s)",
        rate / 10_000.0
    );
    rate
}

fn child() {
    let uri = |object: &str| {
        KeyUri::parse(&format!(
            "pkcs11:token=bench;object={object}?module-path={MODULE}"
        ))
        .unwrap()
    };
    let token = Token::open(&uri("log")).unwrap();
    let in_token: Arc<dyn Signer> = Arc::new(
        token
            .generate(&uri("log"), KeyAlgorithm::Ed25519, PIN)
            .unwrap(),
    );
    let p256: Arc<dyn Signer> = Arc::new(
        token
            .generate(&uri("targets"), KeyAlgorithm::EcdsaP256, PIN)
            .unwrap(),
    );
    let in_memory: Arc<dyn Signer> = Arc::new(SigningKey::generate(KeyAlgorithm::Ed25519).unwrap());
    let memory_p256: Arc<dyn Signer> =
        Arc::new(SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap());

    let file = signatures_per_second("Ed25519, in memory", in_memory.as_ref());
    let hsm = signatures_per_second("Ed25519, SoftHSM", in_token.as_ref());
    println!("           SoftHSM/memory: {:.2}x", hsm / file);
    let file = signatures_per_second("P-256, in memory", memory_p256.as_ref());
    let hsm = signatures_per_second("P-256, SoftHSM", p256.as_ref());
    println!("           SoftHSM/memory: {:.2}x", hsm / file);

    let file = appends_per_second("key in memory", in_memory);
    let hsm = appends_per_second("key in SoftHSM", in_token);
    println!("           SoftHSM/memory: {:.2}x", hsm / file);
}

fn main() {
    if std::env::var_os(CHILD).is_some() {
        child();
        return;
    }
    if !softhsm::installed() {
        println!("skipped: no SoftHSM at {MODULE} (Debian softhsm2)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let conf = softhsm::init_token(dir.path(), "bench", "0000", PIN).unwrap();
    let status = Command::new(std::env::current_exe().unwrap())
        .args(std::env::args().skip(1))
        .env("SOFTHSM2_CONF", &conf)
        .env(CHILD, "1")
        .status()
        .unwrap();
    assert!(status.success());
}
