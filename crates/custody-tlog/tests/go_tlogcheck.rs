//! Go's own verifier checks our log (issue 5, "Checked by someone else's tools"):
//! `golang.org/x/mod/sumdb/note` verifies the checkpoint signature, `sumdb/tlog` recomputes the
//! root from every tile, re-hashes every entry bundle, and checks our inclusion and
//! consistency proofs, on a log of 100,000+ entries.
//!
//! Needs Debian `golang-go` and `golang-golang-x-mod-dev`; fails (never skips) without them.
//! The checker's source is `interop/tlogcheck` (a copy of the one in `shared/checkers`), or
//! `tlogcheck/` under the directory in `CUSTODY_CHECKERS_DIR`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use custody_tlog::{
    DirStore, LogEntry, NoteSigner, Sequencer, SignatureType, StoreTiles, TileHashReader,
    prove_consistency, prove_record, record_hash,
};
use ed25519_dalek::SigningKey;

const ORIGIN: &str = "go.example/log";
const ENTRIES: u64 = 100_003;

fn checkers_dir() -> PathBuf {
    match std::env::var_os("CUSTODY_CHECKERS_DIR") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../interop"),
    }
}

/// Builds tlogcheck once per test binary into the target directory.
fn tlogcheck() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let go = Command::new("go").arg("version").output();
        assert!(
            go.as_ref().is_ok_and(|o| o.status.success()),
            "the Go toolchain is required for this test and was not found: install it with \
             `apt-get install -y golang-go golang-golang-x-mod-dev` ({go:?})"
        );
        let src = checkers_dir().join("tlogcheck");
        assert!(
            src.join("main.go").is_file(),
            "tlogcheck source not found at {} (set CUSTODY_CHECKERS_DIR)",
            src.display()
        );
        let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let bin = tmp.join("tlogcheck");
        let out = Command::new("go")
            .args(["build", "-o"])
            .arg(&bin)
            .arg(".")
            .current_dir(&src)
            .env("GO111MODULE", "off")
            .env("GOPATH", "/usr/share/gocode")
            .env("GOPROXY", "off")
            .env("GOCACHE", tmp.join("gocache"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "building tlogcheck failed (is golang-golang-x-mod-dev installed?):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        bin
    })
}

fn signer() -> NoteSigner {
    NoteSigner::new(
        ORIGIN,
        SignatureType::Ed25519,
        SigningKey::from_bytes(&[7; 32]),
    )
    .unwrap()
}

fn entry(i: u64) -> Vec<u8> {
    // Varied lengths, including empty entries and one at the 64 KiB limit.
    match i {
        0 => Vec::new(),
        77_777 => vec![0xab; custody_tlog::MAX_ENTRY_SIZE],
        _ => format!("entry {i} {}", "x".repeat((i % 300) as usize)).into_bytes(),
    }
}

fn run(bin: &Path, args: &[&std::ffi::OsStr]) -> Output {
    Command::new(bin).args(args).output().unwrap()
}

fn show(o: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn go_sumdb_tlog_verifies_our_log() {
    let bin = tlogcheck();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let store = DirStore::open(&log).unwrap();
    let mut seq = Sequencer::open(store, &dir.path().join("state"), ORIGIN, signer()).unwrap();
    let vkey = dir.path().join("vkey");
    std::fs::write(&vkey, format!("{}\n", signer().verifier().to_vkey_string())).unwrap();

    // Irregular batches, keeping one older checkpoint for a consistency check.
    let old_size = 70_001;
    let mut old = None;
    let mut next = 0u64;
    let mut step = 1u64;
    while next < ENTRIES {
        let mut n = (step * 7919) % 9000 + 1;
        if next < old_size && next + n > old_size {
            n = old_size - next;
        }
        let n = n.min(ENTRIES - next);
        let batch: Vec<LogEntry> = (next..next + n)
            .map(|i| LogEntry {
                data: entry(i),
                artifact: None,
            })
            .collect();
        let done = seq.append_batch(&batch).unwrap();
        next += n;
        step += 1;
        if next == old_size {
            old = Some(done.checkpoint);
        }
    }
    let old = old.unwrap();
    let old_cp = dir.path().join("old-checkpoint");
    std::fs::write(&old_cp, old.note.to_bytes()).unwrap();
    let cons = prove_consistency(seq.store(), ENTRIES, old_size).unwrap();
    let cons_file = dir.path().join("consistency");
    std::fs::write(
        &cons_file,
        cons.0.iter().map(|h| format!("{h}\n")).collect::<String>(),
    )
    .unwrap();
    let index = 77_777u64;
    let proof_file = dir.path().join("e.tlog-proof");
    std::fs::write(&proof_file, seq.prove(index).unwrap().to_bytes()).unwrap();
    let entry_file = dir.path().join("entry");
    std::fs::write(&entry_file, entry(index)).unwrap();

    let args = |extra: &[&Path]| -> Vec<std::ffi::OsString> {
        let mut v: Vec<std::ffi::OsString> = vec![
            "-dir".into(),
            log.clone().into(),
            "-vkey".into(),
            vkey.clone().into(),
        ];
        for (flag, p) in ["-old", "-consistency", "-proof", "-entry"]
            .iter()
            .zip(extra)
        {
            v.push(flag.into());
            v.push(p.into());
        }
        v
    };
    let full = args(&[&old_cp, &cons_file, &proof_file, &entry_file]);
    let full_ref: Vec<&std::ffi::OsStr> = full.iter().map(|s| s.as_os_str()).collect();
    let out = run(bin, &full_ref);
    let text = show(&out);
    assert!(out.status.success(), "tlogcheck rejected our log:\n{text}");
    eprintln!("{text}");
    for want in [
        "OK checkpoint signature",
        &format!("size={ENTRIES}"),
        "OK root hash recomputed from hash tiles",
        &format!("OK {ENTRIES} entries re-hashed"),
        &format!("OK consistency {old_size} -> {ENTRIES}"),
        "OK supplied consistency proof",
        &format!("OK tlog-proof: entry at index {index}"),
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }

    // The checker is not a rubber stamp: damage one byte of one entry bundle and one tile.
    let bundle = log.join("tile/entries/300");
    let mut b = std::fs::read(&bundle).unwrap();
    b[10] ^= 1;
    std::fs::write(&bundle, &b).unwrap();
    let base = args(&[]);
    let base_ref: Vec<&std::ffi::OsStr> = base.iter().map(|s| s.as_os_str()).collect();
    let out = run(bin, &base_ref);
    assert!(
        !out.status.success(),
        "tampered entry bundle accepted:\n{}",
        show(&out)
    );
    b[10] ^= 1;
    std::fs::write(&bundle, &b).unwrap();
    let tile = log.join("tile/0/300");
    let mut t = std::fs::read(&tile).unwrap();
    t[0] ^= 1;
    std::fs::write(&tile, &t).unwrap();
    let out = run(bin, &base_ref);
    assert!(
        !out.status.success(),
        "tampered tile accepted:\n{}",
        show(&out)
    );
    // Our proofs built from the damaged tile fail against the signed root, as they must.
    let store = DirStore::open(&log).unwrap();
    let reader = TileHashReader::new(ENTRIES, StoreTiles(&store));
    let i = 300 * 256 + 1;
    let p = prove_record(ENTRIES, i, &reader).unwrap();
    let cp = &seq.checkpoint().checkpoint;
    assert!(
        p.verify(i, ENTRIES, record_hash(&entry(i)), cp.root)
            .is_err()
    );
}
