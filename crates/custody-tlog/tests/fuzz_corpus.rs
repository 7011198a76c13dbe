//! Replays the committed libFuzzer corpora (`fuzz/corpus/<target>/`, minimised by
//! `scripts/fuzz.sh`) through the fuzz targets' own files, on stable: see `fuzz/src/replay.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

extern crate self as libfuzzer_sys;

#[path = "../../../fuzz/src/replay.rs"]
mod replay;

macro_rules! targets {
    ($($target:ident = $file:literal),* $(,)?) => {
        $(
            #[allow(unused_attributes)] // the target's `#![no_main]`
            #[path = $file]
            mod $target;
        )*
        mod corpus {
            $(
                #[test]
                fn $target() {
                    super::replay::replay("fuzz", stringify!($target), super::$target::run);
                }
            )*
        }
    };
}

targets!(
    checkpoint = "../fuzz/fuzz_targets/checkpoint.rs",
    merkle_proofs = "../fuzz/fuzz_targets/merkle_proofs.rs",
    note = "../fuzz/fuzz_targets/note.rs",
    tiles = "../fuzz/fuzz_targets/tiles.rs",
    tlog_proof = "../fuzz/fuzz_targets/tlog_proof.rs",
    witness_request = "../fuzz/fuzz_targets/witness_request.rs",
);

/// Writes `fuzz/seeds/<target>/`: a signed, cosigned checkpoint, the request and proof files
/// built on it, tile paths, a tile and an entry bundle, as this crate writes them, and Go's
/// sumdb/note example note. Run by hand after a format change:
/// `cargo test -p custody-tlog --test fuzz_corpus -- --ignored write_seeds`.
#[test]
#[ignore = "writes fuzz/seeds/; run by hand"]
fn write_seeds() {
    use custody_tlog::{
        AddCheckpointRequest, Checkpoint, ConsistencyProof, EntryBundle, NoteSigner, SignatureType,
        Tile, TileCoord, TiledTree, TlogProof, prove_record, record_hash, stored_hashes,
    };
    use ed25519_dalek::SigningKey;

    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds");
    let write = |target: &str, name: &str, bytes: &[u8]| {
        let d = dir.join(target);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join(name), bytes).unwrap();
    };
    let log = NoteSigner::new(
        "log.example",
        SignatureType::Ed25519,
        SigningKey::from_bytes(&[1; 32]),
    )
    .unwrap();
    let w = NoteSigner::new(
        "w.example",
        SignatureType::CosignatureV1,
        SigningKey::from_bytes(&[2; 32]),
    )
    .unwrap();
    let mut stored = Vec::new();
    let mut tree = TiledTree::new();
    for i in 0..13u64 {
        stored.extend(stored_hashes(i, &i.to_be_bytes(), &stored).unwrap());
        tree.append(record_hash(&i.to_be_bytes())).unwrap();
    }
    let cp = Checkpoint {
        origin: "log.example".into(),
        size: 13,
        root: tree.root(),
        extensions: vec!["ext".into()],
    };
    write("checkpoint", "checkpoint.txt", cp.to_text().as_bytes());
    let mut note = cp.sign(&log).unwrap();
    write("note", "signed-checkpoint.note", &note.to_bytes());
    w.sign(&mut note, Some(1234)).unwrap();
    write("note", "cosigned-checkpoint.note", &note.to_bytes());
    write(
        "note",
        "log.vkey",
        log.verifier().to_vkey_string().as_bytes(),
    );
    // Go's golang.org/x/mod/sumdb/note example, signed by the targets' PeterNeumann key.
    write(
        "note",
        "go-example.note",
        "If you think cryptography is the answer to your problem,\n\
         then you don't know what your problem is.\n\n\
         \u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
            .as_bytes(),
    );
    let req = AddCheckpointRequest {
        old_size: 7,
        proof: ConsistencyProof(vec![record_hash(b"a"), record_hash(b"b")]),
        checkpoint: note.to_bytes(),
    };
    write("witness_request", "add-checkpoint.txt", &req.to_bytes());
    let proof = TlogProof {
        extra: Some(b"x".to_vec()),
        index: 5,
        proof: prove_record(13, 5, &stored).unwrap(),
        checkpoint: note.to_bytes(),
    };
    write("tlog_proof", "record.tlog-proof", &proof.to_bytes());
    for (i, p) in [
        "tile/3/x001/x234/067.p/17",
        "tile/entries/x123/456",
        "tile/0/000",
    ]
    .iter()
    .enumerate()
    {
        write("tiles", &format!("path-{i}"), p.as_bytes());
    }
    let bundle = EntryBundle {
        entries: vec![b"a".to_vec(), vec![], vec![9; 300]],
    }
    .to_bytes()
    .unwrap();
    // The first byte is the width less one.
    write(
        "tiles",
        "entry-bundle",
        &[[2u8].as_slice(), &bundle].concat(),
    );
    let hashes: Vec<u8> = (0..3u64)
        .flat_map(|i| record_hash(&i.to_be_bytes()).0)
        .collect();
    if let Ok(t) = Tile::parse(TileCoord::new(0, 0, 3).unwrap(), &hashes) {
        write(
            "tiles",
            "hash-tile",
            &[[2u8].as_slice(), &t.to_bytes()].concat(),
        );
    }
    let mut mp = Vec::new();
    for v in [5u64, 13, 0] {
        mp.extend(v.to_le_bytes());
    }
    for h in prove_record(13, 5, &stored).unwrap().0 {
        mp.extend(h.0);
    }
    write("merkle_proofs", "inclusion-5-of-13", &mp);
}
