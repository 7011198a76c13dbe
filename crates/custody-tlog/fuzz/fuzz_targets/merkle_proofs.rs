//! Inclusion and consistency proof verification over arbitrary sizes, indices and hashes:
//! never panics or overflows, and never accepts a proof for an index outside the tree.
#![no_main]

use custody_tlog::{ConsistencyProof, Hash, InclusionProof};
use libfuzzer_sys::fuzz_target;

fn u64_at(d: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    for (i, x) in d.iter().skip(at).take(8).enumerate() {
        b[i] = *x;
    }
    u64::from_le_bytes(b)
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 24 {
        return;
    }
    let (a, b, c) = (u64_at(data, 0), u64_at(data, 8), u64_at(data, 16));
    // Small values are the interesting ones; keep both regimes.
    let (a, b) = if c & 1 == 0 { (a % 4096, b % 4096) } else { (a, b) };
    let hashes: Vec<Hash> = data[24..]
        .chunks_exact(32)
        .take(70)
        .map(|ch| {
            let mut h = [0u8; 32];
            h.copy_from_slice(ch);
            Hash(h)
        })
        .collect();
    let leaf = hashes.first().copied().unwrap_or_default();
    let root = hashes.last().copied().unwrap_or_default();
    let proof = InclusionProof(hashes.clone());
    if proof.verify(a, b, leaf, root).is_ok() {
        assert!(a < b);
    }
    let _ = ConsistencyProof(hashes).verify(a, leaf, b, root);
});
