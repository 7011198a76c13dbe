//! RFC 6962 Merkle tree hashing, stored-hash indexing and proofs.
//!
//! Hashes are laid out in "stored hash" order, the order in which a log that appends records
//! one at a time first knows them (the layout of Go's `golang.org/x/mod/sumdb/tlog`): after
//! record `n`'s leaf hash come the hashes of every subtree that record `n` completes, lowest
//! level first. Proof generation reads hashes through [`HashReader`], so it works the same over
//! a `Vec<Hash>`, over tiles or over a database. Proof verification never reads anything.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use sha2::{Digest, Sha256};

use crate::Error;

/// Size in bytes of a [`Hash`](struct@Hash).
pub const HASH_SIZE: usize = 32;

/// Largest tree size supported by proof generation and stored-hash indexing.
///
/// 2^62 leaves keeps every stored-hash index within a `u64` with room to spare.
pub const MAX_TREE_SIZE: u64 = 1 << 62;

/// A SHA-256 hash: a leaf hash, an interior node hash or a tree root.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Hash(pub [u8; HASH_SIZE]);

impl Hash {
    /// Parses the standard base64 form used in checkpoints and proofs.
    pub fn from_base64(s: &str, context: &'static str) -> Result<Self, Error> {
        let bad = || Error::BadHash {
            context,
            value: s.chars().take(100).collect(),
        };
        // A 32-byte hash is 44 base64 characters; refuse early anything longer.
        if s.len() != 44 {
            return Err(bad());
        }
        let bytes = B64.decode(s).map_err(|_| bad())?;
        let arr: [u8; HASH_SIZE] = bytes.try_into().map_err(|_| bad())?;
        Ok(Hash(arr))
    }

    /// The standard base64 form.
    pub fn to_base64(&self) -> String {
        B64.encode(self.0)
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; HASH_SIZE] {
        &self.0
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64())
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", hex::encode(self.0))
    }
}

/// The leaf hash of a record: SHA-256(0x00 || data) (RFC 6962 §2.1).
pub fn record_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(data);
    Hash(h.finalize().into())
}

/// An interior node hash: SHA-256(0x01 || left || right) (RFC 6962 §2.1).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left.0);
    h.update(right.0);
    Hash(h.finalize().into())
}

/// The root of the empty tree: SHA-256 of the empty string (RFC 6962 §2.1).
pub fn empty_tree_hash() -> Hash {
    Hash(Sha256::digest([]).into())
}

/// Number of hashes stored for a log of `n` records: `n + n/2 + n/4 + …`.
pub fn stored_hash_count(n: u64) -> u64 {
    // Saturates instead of wrapping for n beyond 2^63, which no supported tree reaches.
    let mut count = 0u64;
    let mut m = n;
    while m > 0 {
        count = count.saturating_add(m);
        m >>= 1;
    }
    count
}

/// Stored-hash index of the hash at `level` covering leaves `[n·2^level, (n+1)·2^level)`.
///
/// That hash is stored right after the leaf hash of the last record it covers.
pub fn stored_hash_index(level: u8, n: u64) -> Result<u64, Error> {
    let too_large = || Error::TreeTooLarge {
        size: n.saturating_add(1).saturating_mul(1u64 << level.min(63)),
        max: MAX_TREE_SIZE,
    };
    // (n + 1) · 2^level <= MAX_TREE_SIZE, written so that nothing can overflow.
    if level >= 63 || n >= MAX_TREE_SIZE >> level {
        return Err(too_large());
    }
    let last_leaf = ((n + 1) << level) - 1;
    Ok(stored_hash_count(last_leaf) + u64::from(level))
}

/// The inverse of [`stored_hash_index`]: the `(level, n)` of a stored-hash index.
///
/// Indexes beyond the largest supported tree give a level above 63, which no reader has.
pub fn split_stored_hash_index(index: u64) -> (u8, u64) {
    // stored_hash_count(index / 2) <= index, and the true record is at most 64 records later.
    let mut record = index / 2;
    for _ in 0..128 {
        if stored_hash_count(record + 1) > index {
            break;
        }
        record += 1;
    }
    let level = index.saturating_sub(stored_hash_count(record));
    let level = u8::try_from(level).unwrap_or(u8::MAX);
    (level, record.checked_shr(u32::from(level)).unwrap_or(0))
}

/// Source of stored hashes, by stored-hash index.
///
/// Implementations return exactly one hash per index, in order.
pub trait HashReader {
    /// Reads the hashes at the given stored-hash indexes.
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, Error>;
}

impl HashReader for [Hash] {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, Error> {
        indexes
            .iter()
            .map(|&i| {
                usize::try_from(i)
                    .ok()
                    .and_then(|i| self.get(i))
                    .copied()
                    .ok_or(Error::HashNotAvailable { index: i })
            })
            .collect()
    }
}

impl HashReader for Vec<Hash> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, Error> {
        self.as_slice().read_hashes(indexes)
    }
}

impl<R: HashReader + ?Sized> HashReader for &R {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, Error> {
        (**self).read_hashes(indexes)
    }
}

fn read_checked(r: &(impl HashReader + ?Sized), indexes: &[u64]) -> Result<Vec<Hash>, Error> {
    let hashes = r.read_hashes(indexes)?;
    if hashes.len() != indexes.len() {
        return Err(Error::HashReaderCount {
            expected: indexes.len(),
            actual: hashes.len(),
        });
    }
    Ok(hashes)
}

fn check_size(size: u64) -> Result<(), Error> {
    if size > MAX_TREE_SIZE {
        return Err(Error::TreeTooLarge {
            size,
            max: MAX_TREE_SIZE,
        });
    }
    Ok(())
}

/// The hashes that record `n` adds to storage, given its data: its leaf hash, then the hash of
/// every subtree it completes (Go's `tlog.StoredHashes`).
pub fn stored_hashes(
    n: u64,
    data: &[u8],
    r: &(impl HashReader + ?Sized),
) -> Result<Vec<Hash>, Error> {
    stored_hashes_for_record_hash(n, record_hash(data), r)
}

/// Like [`stored_hashes`], from the record's leaf hash.
pub fn stored_hashes_for_record_hash(
    n: u64,
    leaf: Hash,
    r: &(impl HashReader + ?Sized),
) -> Result<Vec<Hash>, Error> {
    check_size(n.saturating_add(1))?;
    // Each trailing one bit of n is a completed left sibling subtree.
    let mut indexes = Vec::new();
    let mut m = n;
    let mut level = 0u8;
    while m & 1 == 1 {
        indexes.push(stored_hash_index(level, m ^ 1)?);
        m >>= 1;
        level += 1;
    }
    let siblings = read_checked(r, &indexes)?;
    let mut out = Vec::with_capacity(siblings.len() + 1);
    let mut h = leaf;
    out.push(h);
    for s in &siblings {
        h = node_hash(s, &h);
        out.push(h);
    }
    Ok(out)
}

/// The maximal complete subtrees covering leaves `[lo, hi)`, left to right, as (level, n).
fn subtree_cover(mut lo: u64, hi: u64, out: &mut Vec<(u8, u64)>) {
    while lo < hi {
        let mut level = 0u8;
        // Grow while lo stays aligned and the subtree stays inside the range.
        while level < 62 && lo & (1u64 << level) == 0 && lo + (2u64 << level) <= hi {
            level += 1;
        }
        out.push((level, lo >> level));
        lo += 1u64 << level;
    }
}

/// Right fold of subtree hashes into one hash, as RFC 6962's MTH does for a range that
/// splits at the largest power of two.
fn fold_right(hashes: &[Hash]) -> Hash {
    let mut iter = hashes.iter().rev();
    let Some(last) = iter.next() else {
        return empty_tree_hash();
    };
    iter.fold(*last, |acc, left| node_hash(left, &acc))
}

/// Reads and computes the MTH of each range in `ranges` with one call to the reader.
fn range_hashes(ranges: &[(u64, u64)], r: &(impl HashReader + ?Sized)) -> Result<Vec<Hash>, Error> {
    let mut covers = Vec::with_capacity(ranges.len());
    let mut indexes = Vec::new();
    for &(lo, hi) in ranges {
        let mut cover = Vec::new();
        subtree_cover(lo, hi, &mut cover);
        for &(level, n) in &cover {
            indexes.push(stored_hash_index(level, n)?);
        }
        covers.push(cover.len());
    }
    let hashes = read_checked(r, &indexes)?;
    let mut out = Vec::with_capacity(ranges.len());
    let mut at = 0;
    for len in covers {
        out.push(fold_right(&hashes[at..at + len]));
        at += len;
    }
    Ok(out)
}

/// The root hash of a tree of `size` records (RFC 6962 §2.1 MTH).
pub fn tree_hash(size: u64, r: &(impl HashReader + ?Sized)) -> Result<Hash, Error> {
    check_size(size)?;
    if size == 0 {
        return Ok(empty_tree_hash());
    }
    Ok(range_hashes(&[(0, size)], r)?[0])
}

/// Largest power of two strictly less than `n` (n >= 2).
fn split_point(n: u64) -> u64 {
    1u64 << (63 - (n - 1).leading_zeros())
}

/// An RFC 6962 §2.1.1 audit path: the hashes from a leaf's sibling up to the root.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct InclusionProof(pub Vec<Hash>);

/// An RFC 6962 §2.1.2 consistency proof between two tree sizes.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ConsistencyProof(pub Vec<Hash>);

/// Builds the inclusion proof for leaf `index` in the tree of `size` leaves (RFC 6962 §2.1.1 PATH).
pub fn prove_record(
    size: u64,
    index: u64,
    r: &(impl HashReader + ?Sized),
) -> Result<InclusionProof, Error> {
    check_size(size)?;
    if index >= size {
        return Err(Error::IndexNotInTree { index, size });
    }
    let mut ranges = Vec::new();
    let (mut lo, mut hi) = (0u64, size);
    // Walk down from the root; the sibling ranges come out root-first, proofs list them leaf-first.
    while hi - lo > 1 {
        let k = split_point(hi - lo);
        if index < lo + k {
            ranges.push((lo + k, hi));
            hi = lo + k;
        } else {
            ranges.push((lo, lo + k));
            lo += k;
        }
    }
    ranges.reverse();
    Ok(InclusionProof(range_hashes(&ranges, r)?))
}

/// Builds the consistency proof from tree size `old` to tree size `new` (RFC 6962 §2.1.2 PROOF).
///
/// The proof from the empty tree, or between equal sizes, is empty.
pub fn prove_tree(
    new: u64,
    old: u64,
    r: &(impl HashReader + ?Sized),
) -> Result<ConsistencyProof, Error> {
    check_size(new)?;
    if old > new {
        return Err(Error::OldTreeLarger { old, new });
    }
    if old == 0 || old == new {
        return Ok(ConsistencyProof(Vec::new()));
    }
    // SUBPROOF(m, D[lo:hi], b), unrolled: each step adds one range, root-first.
    let mut ranges = Vec::new();
    let (mut lo, mut hi, mut m, mut b) = (0u64, new, old, true);
    loop {
        let n = hi - lo;
        if m == n {
            if !b {
                ranges.push((lo, hi));
            }
            break;
        }
        let k = split_point(n);
        if m <= k {
            ranges.push((lo + k, hi));
            hi = lo + k;
        } else {
            ranges.push((lo, lo + k));
            lo += k;
            m -= k;
            b = false;
        }
    }
    ranges.reverse();
    Ok(ConsistencyProof(range_hashes(&ranges, r)?))
}

impl InclusionProof {
    /// Checks that `leaf` is the leaf hash at `index` in the tree of `size` with `root`
    /// (RFC 9162 §2.1.3.2).
    pub fn verify(&self, index: u64, size: u64, leaf: Hash, root: Hash) -> Result<(), Error> {
        if index >= size {
            return Err(Error::IndexNotInTree { index, size });
        }
        let expected = inclusion_proof_len(index, size);
        if self.0.len() != expected {
            return Err(Error::ProofLength {
                expected,
                actual: self.0.len(),
            });
        }
        let (mut fnode, mut snode) = (index, size - 1);
        let mut r = leaf;
        for p in &self.0 {
            if fnode & 1 == 1 || fnode == snode {
                r = node_hash(p, &r);
                if fnode & 1 == 0 {
                    while fnode & 1 == 0 && fnode != 0 {
                        fnode >>= 1;
                        snode >>= 1;
                    }
                }
            } else {
                r = node_hash(&r, p);
            }
            fnode >>= 1;
            snode >>= 1;
        }
        if snode != 0 || r != root {
            return Err(Error::InclusionRootMismatch {
                index,
                size,
                computed: r,
                expected: root,
            });
        }
        Ok(())
    }
}

/// Length of the audit path for `index` in a tree of `size` (index < size).
fn inclusion_proof_len(index: u64, size: u64) -> usize {
    let (mut lo, mut hi, mut len) = (0u64, size, 0usize);
    while hi - lo > 1 {
        let k = split_point(hi - lo);
        if index < lo + k {
            hi = lo + k;
        } else {
            lo += k;
        }
        len += 1;
    }
    len
}

impl ConsistencyProof {
    /// Checks that the tree of `old_size` with `old_root` is a prefix of the tree of
    /// `new_size` with `new_root` (RFC 9162 §2.1.4.2).
    pub fn verify(
        &self,
        old_size: u64,
        old_root: Hash,
        new_size: u64,
        new_root: Hash,
    ) -> Result<(), Error> {
        if old_size > new_size {
            return Err(Error::OldTreeLarger {
                old: old_size,
                new: new_size,
            });
        }
        if old_size == 0 {
            // Every tree extends the empty one; only the empty root is a valid old root.
            if !self.0.is_empty() {
                return Err(Error::ProofLength {
                    expected: 0,
                    actual: self.0.len(),
                });
            }
            if old_root != empty_tree_hash() {
                return Err(Error::ConsistencyRootMismatch {
                    old_size,
                    new_size,
                    which: "old",
                });
            }
            return Ok(());
        }
        if old_size == new_size {
            if !self.0.is_empty() {
                return Err(Error::ProofLength {
                    expected: 0,
                    actual: self.0.len(),
                });
            }
            if old_root != new_root {
                return Err(Error::SameSizeDifferentRoot {
                    size: old_size,
                    old: old_root,
                    new: new_root,
                });
            }
            return Ok(());
        }
        let expected = consistency_proof_len(old_size, new_size);
        if self.0.len() != expected {
            return Err(Error::ProofLength {
                expected,
                actual: self.0.len(),
            });
        }
        // Step 2: when old_size is a power of two its root is the first hash of the path.
        let mut path: Vec<Hash> = Vec::with_capacity(self.0.len() + 1);
        if old_size.is_power_of_two() {
            path.push(old_root);
        }
        path.extend_from_slice(&self.0);
        let (mut fnode, mut snode) = (old_size - 1, new_size - 1);
        while fnode & 1 == 1 {
            fnode >>= 1;
            snode >>= 1;
        }
        let (mut fr, mut sr) = (path[0], path[0]);
        for c in &path[1..] {
            if snode == 0 {
                return Err(Error::ConsistencyRootMismatch {
                    old_size,
                    new_size,
                    which: "new",
                });
            }
            if fnode & 1 == 1 || fnode == snode {
                fr = node_hash(c, &fr);
                sr = node_hash(c, &sr);
                if fnode & 1 == 0 {
                    while fnode & 1 == 0 && fnode != 0 {
                        fnode >>= 1;
                        snode >>= 1;
                    }
                }
            } else {
                sr = node_hash(&sr, c);
            }
            fnode >>= 1;
            snode >>= 1;
        }
        if fr != old_root {
            return Err(Error::ConsistencyRootMismatch {
                old_size,
                new_size,
                which: "old",
            });
        }
        if sr != new_root || snode != 0 {
            return Err(Error::ConsistencyRootMismatch {
                old_size,
                new_size,
                which: "new",
            });
        }
        Ok(())
    }
}

/// Length of the consistency proof from `old` to `new` (0 < old < new).
fn consistency_proof_len(old: u64, new: u64) -> usize {
    let (mut lo, mut hi, mut m, mut b, mut len) = (0u64, new, old, true, 0usize);
    loop {
        let n = hi - lo;
        if m == n {
            if !b {
                len += 1;
            }
            return len;
        }
        let k = split_point(n);
        len += 1;
        if m <= k {
            hi = lo + k;
        } else {
            lo += k;
            m -= k;
            b = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference MTH straight from RFC 6962 §2.1, recursive over the leaves.
    fn mth(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => empty_tree_hash(),
            1 => leaves[0],
            n => {
                let k = split_point(n as u64) as usize;
                node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
            }
        }
    }

    fn build(n: u64) -> (Vec<Hash>, Vec<Hash>) {
        let mut stored: Vec<Hash> = Vec::new();
        let mut leaves = Vec::new();
        for i in 0..n {
            let data = format!("record {i}");
            leaves.push(record_hash(data.as_bytes()));
            let hs = stored_hashes(i, data.as_bytes(), &stored).unwrap();
            assert_eq!(stored.len() as u64, stored_hash_count(i));
            stored.extend(hs);
        }
        (stored, leaves)
    }

    #[test]
    fn rfc6962_prefixes() {
        // SHA-256 of a single 0x00 byte: the leaf hash of the empty record.
        assert_eq!(
            hex::encode(record_hash(b"").0),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
        assert_eq!(
            hex::encode(empty_tree_hash().0),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn stored_hash_index_round_trips() {
        for level in 0..20u8 {
            for n in 0..300u64 {
                let i = stored_hash_index(level, n).unwrap();
                assert_eq!(
                    split_stored_hash_index(i),
                    (level, n),
                    "level {level} n {n}"
                );
            }
        }
        // Go's tlog layout: record 0, record 1, their parent, record 2, record 3, ...
        assert_eq!(stored_hash_index(0, 0).unwrap(), 0);
        assert_eq!(stored_hash_index(0, 1).unwrap(), 1);
        assert_eq!(stored_hash_index(1, 0).unwrap(), 2);
        assert_eq!(stored_hash_index(0, 2).unwrap(), 3);
        assert_eq!(stored_hash_index(2, 0).unwrap(), 6);
        assert!(stored_hash_index(0, MAX_TREE_SIZE).is_err());
        assert!(stored_hash_index(0, MAX_TREE_SIZE - 1).is_ok());
        assert!(stored_hash_index(2, 1 << 62).is_err());
        assert!(stored_hash_index(70, 1).is_err());
        // Nonsense indexes neither panic nor hang.
        for i in [u64::MAX, u64::MAX - 1, 1 << 63, (1 << 63) + 12345] {
            let _ = split_stored_hash_index(i);
        }
    }

    #[test]
    fn tree_hash_matches_reference() {
        let (stored, leaves) = build(300);
        for n in 0..=300u64 {
            assert_eq!(
                tree_hash(n, &stored).unwrap(),
                mth(&leaves[..n as usize]),
                "size {n}"
            );
        }
    }

    #[test]
    fn inclusion_proofs_verify_and_tampering_fails() {
        let (stored, leaves) = build(70);
        for size in 1..=70u64 {
            let root = tree_hash(size, &stored).unwrap();
            for index in 0..size {
                let p = prove_record(size, index, &stored).unwrap();
                p.verify(index, size, leaves[index as usize], root).unwrap();
                // Wrong leaf, wrong index, wrong size and a flipped hash all fail.
                let other = leaves[((index + 1) % size) as usize];
                if size > 1 {
                    assert!(p.verify(index, size, other, root).is_err());
                    assert!(
                        p.verify((index + 1) % size, size, leaves[index as usize], root)
                            .is_err()
                    );
                }
                for j in 0..p.0.len() {
                    let mut bad = p.clone();
                    bad.0[j].0[0] ^= 1;
                    assert!(
                        bad.verify(index, size, leaves[index as usize], root)
                            .is_err()
                    );
                }
                let mut long = p.clone();
                long.0.push(root);
                assert!(matches!(
                    long.verify(index, size, leaves[index as usize], root),
                    Err(Error::ProofLength { .. })
                ));
            }
        }
        assert!(matches!(
            prove_record(5, 5, &stored),
            Err(Error::IndexNotInTree { index: 5, size: 5 })
        ));
        assert!(
            InclusionProof::default()
                .verify(0, 0, leaves[0], leaves[0])
                .is_err()
        );
    }

    #[test]
    fn consistency_proofs_verify_and_tampering_fails() {
        let (stored, _) = build(70);
        let roots: Vec<Hash> = (0..=70).map(|n| tree_hash(n, &stored).unwrap()).collect();
        for new in 0..=70u64 {
            for old in 0..=new {
                let p = prove_tree(new, old, &stored).unwrap();
                p.verify(old, roots[old as usize], new, roots[new as usize])
                    .unwrap_or_else(|e| panic!("{old}->{new}: {e}"));
                if old > 0 && old < new {
                    assert!(
                        p.verify(old, roots[old as usize - 1], new, roots[new as usize])
                            .is_err()
                    );
                    assert!(
                        p.verify(old, roots[old as usize], new, roots[new as usize - 1])
                            .is_err()
                    );
                    for j in 0..p.0.len() {
                        let mut bad = p.clone();
                        bad.0[j].0[31] ^= 0x80;
                        assert!(
                            bad.verify(old, roots[old as usize], new, roots[new as usize])
                                .is_err()
                        );
                    }
                    let mut short = p.clone();
                    short.0.pop();
                    assert!(
                        short
                            .verify(old, roots[old as usize], new, roots[new as usize])
                            .is_err()
                    );
                }
            }
        }
        assert!(matches!(
            prove_tree(3, 4, &stored),
            Err(Error::OldTreeLarger { old: 4, new: 3 })
        ));
        assert!(matches!(
            ConsistencyProof::default().verify(5, roots[5], 5, roots[4]),
            Err(Error::SameSizeDifferentRoot { size: 5, .. })
        ));
    }

    #[test]
    fn reader_errors_surface() {
        let (stored, _) = build(10);
        assert!(matches!(
            tree_hash(11, &stored),
            Err(Error::HashNotAvailable { .. })
        ));
        assert!(matches!(
            tree_hash(MAX_TREE_SIZE + 1, &stored),
            Err(Error::TreeTooLarge { .. })
        ));
    }

    #[test]
    fn hash_base64_rejects_garbage() {
        let h = record_hash(b"x");
        assert_eq!(Hash::from_base64(&h.to_base64(), "t").unwrap(), h);
        for bad in [
            "",
            "AAAA",
            "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!=",
            &h.to_base64()[1..],
        ] {
            assert!(matches!(
                Hash::from_base64(bad, "t"),
                Err(Error::BadHash { .. })
            ));
        }
    }
}
