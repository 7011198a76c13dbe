//! Two independent implementations agree with ours (issue 5, "Checked by someone else's
//! tools"): the crates `tlog_tiles` (a Rust port of Go's `sumdb/tlog`, plus c2sp checkpoints)
//! and `signed_note` (a port of Go's `sumdb/note`), used only here, as oracles.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use custody_tlog as ours;
use custody_tlog::{Checkpoint, Hash, NoteSigner, SignatureType};
use ed25519_dalek::SigningKey;
use signed_note as sn;
use tlog_tiles as tt;

struct TheirHashes(Vec<tt::Hash>);
impl tt::HashReader for TheirHashes {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<tt::Hash>, tt::Error> {
        Ok(indexes.iter().map(|&i| self.0[i as usize]).collect())
    }
}

fn theirs(h: Hash) -> tt::Hash {
    tt::Hash(h.0)
}
fn ours_h(h: tt::Hash) -> Hash {
    Hash(h.0)
}

fn build(n: u64) -> (Vec<Hash>, TheirHashes) {
    let mut mine = Vec::new();
    let mut their = TheirHashes(Vec::new());
    for i in 0..n {
        let data = format!("record {i}");
        mine.extend(ours::stored_hashes(i, data.as_bytes(), &mine).unwrap());
        let t = tt::stored_hashes(i, data.as_bytes(), &their).unwrap();
        their.0.extend(t);
    }
    (mine, their)
}

#[test]
fn stored_hashes_and_roots_match_tlog_tiles() {
    let (mine, their) = build(700);
    assert_eq!(mine.len(), their.0.len());
    assert!(mine.iter().zip(&their.0).all(|(a, b)| a.0 == b.0));
    for n in 0..=700 {
        assert_eq!(
            ours::tree_hash(n, &mine).unwrap().0,
            tt::tree_hash(n, &their).unwrap().0,
            "root of size {n}"
        );
    }
    for i in [0u64, 1, 2, 3, 77, 1000, 123_456_789] {
        for level in [0u8, 1, 5, 8, 20] {
            assert_eq!(
                ours::stored_hash_index(level, i).unwrap(),
                tt::stored_hash_index(level, i)
            );
        }
        assert_eq!(
            ours::split_stored_hash_index(i),
            tt::split_stored_hash_index(i)
        );
    }
}

#[test]
fn proofs_match_tlog_tiles_both_ways() {
    let (mine, their) = build(300);
    for t in [1u64, 2, 3, 7, 8, 9, 100, 255, 256, 257, 300] {
        let th = ours::tree_hash(t, &mine).unwrap();
        for n in (0..t).step_by(7).chain([t - 1]) {
            let p = ours::prove_record(t, n, &mine).unwrap();
            let q = tt::prove_record(t, n, &their).unwrap();
            assert_eq!(
                p.0.iter().map(|h| h.0).collect::<Vec<_>>(),
                q.iter().map(|h| h.0).collect::<Vec<_>>()
            );
            let leaf = ours::record_hash(format!("record {n}").as_bytes());
            let theirs_p: Vec<tt::Hash> = p.0.iter().copied().map(theirs).collect();
            tt::check_record(&theirs_p, t, theirs(th), n, theirs(leaf)).unwrap();
            ours::InclusionProof(q.into_iter().map(ours_h).collect())
                .verify(n, t, leaf, th)
                .unwrap();
        }
        for old in (1..=t).step_by(5).chain([t]) {
            let oh = ours::tree_hash(old, &mine).unwrap();
            let p = ours::prove_tree(t, old, &mine).unwrap();
            let q = tt::prove_tree(t, old, &their).unwrap();
            assert_eq!(p.0.len(), q.len(), "{old} -> {t}");
            let theirs_p: Vec<tt::Hash> = p.0.iter().copied().map(theirs).collect();
            tt::check_tree(&theirs_p, t, theirs(th), old, theirs(oh)).unwrap();
            ours::ConsistencyProof(q.into_iter().map(ours_h).collect())
                .verify(old, oh, t, th)
                .unwrap();
        }
    }
}

#[test]
fn tile_paths_and_new_tiles_match_tlog_tiles() {
    for (l, n, w) in [
        (0u8, 0u64, 256u16),
        (0, 1_234_067, 256),
        (2, 1234, 17),
        (5, 999, 255),
        (1, 1000, 1),
    ] {
        let mine = ours::TileCoord::new(l, n, w).unwrap().path();
        let their = tt::Tile::new(8, l, n, u32::from(w), false).path();
        assert_eq!(mine.strip_prefix("tile/"), their.strip_prefix("tile/8/"));
        let mine = ours::EntryBundleCoord::new(n, w).unwrap().path();
        let their = tt::Tile::new(8, 0, n, u32::from(w), true).path();
        assert_eq!(
            mine.strip_prefix("tile/entries/"),
            their.strip_prefix("tile/8/data/")
        );
    }
    for (old, new) in [
        (0u64, 1u64),
        (0, 256),
        (255, 256),
        (200, 70_000),
        (65_535, 65_537),
        (1000, 1000),
    ] {
        let mine: Vec<(u8, u64, u32)> = ours::new_tiles(old, new)
            .iter()
            .map(|c| (c.level, c.index, u32::from(c.width)))
            .collect();
        let mut their: Vec<(u8, u64, u32)> = tt::Tile::new_tiles(8, old, new)
            .iter()
            .map(|t| (t.level(), t.level_index(), t.width()))
            .collect();
        their.sort();
        let mut mine_sorted = mine.clone();
        mine_sorted.sort();
        assert_eq!(mine_sorted, their, "{old} -> {new}");
    }
}

#[test]
fn checkpoints_match_tlog_tiles() {
    let cp = Checkpoint {
        origin: "example.com/log".into(),
        size: 123_456,
        root: ours::record_hash(b"root"),
        extensions: vec!["one".into(), "two words".into()],
    };
    let their = tt::Checkpoint::from_bytes(cp.to_text().as_bytes()).unwrap();
    assert_eq!(their.origin(), cp.origin);
    assert_eq!(their.size(), cp.size);
    assert_eq!(their.hash().0, cp.root.0);
    assert_eq!(their.to_bytes(), cp.to_text().as_bytes());
    let back = tt::Checkpoint::new("o", 5, theirs(cp.root), "").unwrap();
    assert_eq!(
        Checkpoint::parse(std::str::from_utf8(&back.to_bytes()).unwrap())
            .unwrap()
            .size,
        5
    );
}

#[test]
fn signed_notes_match_signed_note() {
    let log = NoteSigner::new(
        "example.com/log",
        SignatureType::Ed25519,
        SigningKey::from_bytes(&[11; 32]),
    )
    .unwrap();
    let w = NoteSigner::new(
        "witness.example",
        SignatureType::CosignatureV1,
        SigningKey::from_bytes(&[12; 32]),
    )
    .unwrap();
    let cp = Checkpoint {
        origin: "example.com/log".into(),
        size: 9,
        root: ours::record_hash(b"r"),
        extensions: vec![],
    };
    let mut note = cp.sign(&log).unwrap();
    w.sign(&mut note, Some(1_700_000_000)).unwrap();
    let bytes = note.to_bytes();

    // Theirs verifies ours, with the key from our vkey string, ignoring the cosignature.
    let v = sn::StandardVerifier::new(&log.verifier().to_vkey_string()).unwrap();
    assert_eq!(sn::Verifier::key_id(&v), log.verifier().key_id().0);
    let their_note = sn::Note::from_bytes(&bytes).unwrap();
    let (verified, unverified) = their_note
        .verify(&sn::VerifierList::new(vec![Box::new(v)]))
        .unwrap();
    assert_eq!((verified.len(), unverified.len()), (1, 1));
    assert_eq!(their_note.to_bytes(), bytes);

    // Ours verifies theirs, signed with the key from our skey string.
    let s = sn::StandardSigner::new(&log.to_skey_string().unwrap()).unwrap();
    let mut n = sn::Note::new(b"hello\nworld\n", &[]).unwrap();
    n.add_sigs(&[&s]).unwrap();
    let mine = ours::Note::parse(&n.to_bytes()).unwrap();
    mine.verify(&[log.verifier().clone()]).unwrap();
    assert_eq!(mine.to_bytes(), n.to_bytes());
}
