//! Malformed notes, checkpoints, proofs, tiles and bundles are rejected with an error, never a
//! panic; whatever parses re-serializes byte for byte. A stable-toolchain companion to the
//! cargo-fuzz targets in `fuzz/`: seeded mutations of valid inputs, the same properties.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use custody_tlog::{
    AddCheckpointRequest, Checkpoint, ConsistencyProof, EntryBundle, EntryBundleCoord, Note,
    NoteSigner, NoteVerifier, SignatureType, Tile, TileCoord, TiledTree, TlogProof, prove_record,
    record_hash, stored_hashes,
};
use ed25519_dalek::SigningKey;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Bytes that matter to these formats, so mutations hit the parsers' decisions.
const INTERESTING: &[u8] = b"\n \x00\xe2\x80\x94+/=0123456789x.pAZaz-\xff";

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(v.len() + 1);
        match rng.below(5) {
            0 if at < v.len() => v[at] ^= 1 << rng.below(8),
            1 if at < v.len() => {
                v.remove(at);
            }
            2 => v.insert(at, INTERESTING[rng.below(INTERESTING.len())]),
            3 => v.truncate(at),
            _ => {
                let from = rng.below(v.len());
                let len = rng.below(40).min(v.len() - from.min(v.len()));
                let chunk = v[from..from + len].to_vec();
                v.splice(at.min(v.len())..at.min(v.len()), chunk);
            }
        }
    }
    v
}

fn seeds() -> (NoteVerifier, Vec<u8>, Vec<u8>) {
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
    for i in 0..13u64 {
        stored.extend(stored_hashes(i, &i.to_be_bytes(), &stored).unwrap());
    }
    let mut tree = TiledTree::new();
    for i in 0..13u64 {
        tree.append(record_hash(&i.to_be_bytes())).unwrap();
    }
    let cp = Checkpoint {
        origin: "log.example".into(),
        size: 13,
        root: tree.root(),
        extensions: vec!["ext".into()],
    };
    let mut note = cp.sign(&log).unwrap();
    w.sign(&mut note, Some(1234)).unwrap();
    let proof = TlogProof {
        extra: Some(b"x".to_vec()),
        index: 5,
        proof: prove_record(13, 5, &stored).unwrap(),
        checkpoint: note.to_bytes(),
    };
    (log.verifier().clone(), note.to_bytes(), proof.to_bytes())
}

#[test]
fn mutated_notes_checkpoints_and_proofs_never_panic() {
    let (log, note, proof) = seeds();
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let (mut notes_ok, mut proofs_ok) = (0, 0);
    for _ in 0..20_000 {
        let m = mutate(&mut rng, &note);
        if let Ok(n) = Note::parse(&m) {
            notes_ok += 1;
            assert_eq!(n.to_bytes(), m);
            let _ = n.verify(std::slice::from_ref(&log));
            if let Ok(cp) = Checkpoint::parse(n.text()) {
                assert_eq!(cp.to_text(), n.text());
            }
        }
        let _ = Checkpoint::open(&m, "log.example", &log);
        let req = AddCheckpointRequest {
            old_size: 7,
            proof: ConsistencyProof(vec![record_hash(b"a"), record_hash(b"b")]),
            checkpoint: note.clone(),
        }
        .to_bytes();
        let m = mutate(&mut rng, &req);
        if let Ok(r) = AddCheckpointRequest::parse(&m) {
            assert_eq!(r.to_bytes(), m);
        }
        let m = mutate(&mut rng, &proof);
        if let Ok(p) = TlogProof::parse(&m) {
            proofs_ok += 1;
            assert_eq!(p.to_bytes(), m);
            let _ = p.verify(&5u64.to_be_bytes(), "log.example", &log);
        }
    }
    // The mutations must also produce inputs that parse, or the test proves little.
    assert!(notes_ok > 100 && proofs_ok > 100, "{notes_ok} {proofs_ok}");
}

#[test]
fn mutated_keys_paths_tiles_and_bundles_never_panic() {
    let (log, _, _) = seeds();
    let vkey = log.to_vkey_string().into_bytes();
    let mut rng = Rng(0xfeed_beef_1234_5677);
    let bundle = EntryBundle {
        entries: vec![b"a".to_vec(), vec![], vec![9; 300]],
    }
    .to_bytes()
    .unwrap();
    for _ in 0..20_000 {
        let m = mutate(&mut rng, &vkey);
        if let Ok(s) = std::str::from_utf8(&m) {
            if let Ok(v) = NoteVerifier::parse(s) {
                assert_eq!(v.to_vkey_string(), s.trim_end_matches('\n'));
            }
            let _ = NoteSigner::parse(s);
        }
        let seed = match rng.below(3) {
            0 => b"tile/3/x001/x234/067.p/17".as_slice(),
            1 => b"tile/entries/x123/456",
            _ => b"tile/0/000",
        };
        let m = mutate(&mut rng, seed);
        if let Ok(s) = std::str::from_utf8(&m) {
            if let Ok(c) = TileCoord::parse_path(s) {
                assert_eq!(c.path(), s);
            }
            if let Ok(c) = EntryBundleCoord::parse_path(s) {
                assert_eq!(c.path(), s);
            }
        }
        let m = mutate(&mut rng, &bundle);
        let width = 1 + rng.below(4) as u16;
        if let Ok(b) = EntryBundle::parse(&m, width) {
            assert_eq!(b.to_bytes().unwrap(), m);
        }
        if let Ok(t) = Tile::parse(TileCoord::new(0, 0, width).unwrap(), &m) {
            assert_eq!(t.to_bytes(), m);
        }
    }
}
