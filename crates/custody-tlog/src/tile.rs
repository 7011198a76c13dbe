//! C2SP tlog-tiles: tile coordinates and paths, hash tiles, entry bundles, and building or
//! reading a tree through its tiles.
//!
//! A tile at level `L` holds up to 256 consecutive hashes at tree level `8·L`; the hashes at
//! levels in between are recomputed from the tile below (c2sp.org/tlog-tiles, "Merkle Tree").

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::merkle::{MAX_TREE_SIZE, empty_tree_hash, node_hash, split_stored_hash_index};
use crate::{Error, HASH_SIZE, Hash, HashReader};

/// Tile height: each tile spans 8 tree levels (c2sp.org/tlog-tiles).
pub const TILE_HEIGHT: u32 = 8;
/// Hashes in a full tile, and entries in a full entry bundle.
pub const TILE_WIDTH: u64 = 256;
/// Largest entry an entry bundle can hold: its length prefix is a uint16.
pub const MAX_ENTRY_SIZE: usize = u16::MAX as usize;

fn check_width(width: u16) -> Result<(), Error> {
    if width == 0 || u64::from(width) > TILE_WIDTH {
        return Err(Error::TileWidth {
            width: u32::from(width),
        });
    }
    Ok(())
}

/// Writes `n` as 3-digit groups, all but the last prefixed with `x` (`1234067` → `x001/x234/067`).
fn push_index(out: &mut String, n: u64) {
    let mut groups = Vec::new();
    let mut m = n;
    loop {
        groups.push(m % 1000);
        m /= 1000;
        if m == 0 {
            break;
        }
    }
    for (i, g) in groups.iter().rev().enumerate() {
        if i + 1 < groups.len() {
            let _ = write!(out, "x{g:03}/");
        } else {
            let _ = write!(out, "{g:03}");
        }
    }
}

fn push_width(out: &mut String, width: u16) {
    if u64::from(width) < TILE_WIDTH {
        let _ = write!(out, ".p/{width}");
    }
}

/// Parses the index and width components after `tile/<L>/` or `tile/entries/`.
fn parse_index_width(parts: &[&str]) -> Option<(u64, u16)> {
    let (index_parts, width) = match parts {
        [rest @ .., last_index, w] if last_index.ends_with(".p") => {
            // Partial widths are 1..=255 in canonical decimal.
            if w.is_empty()
                || w.starts_with('0')
                || !w.bytes().all(|b| b.is_ascii_digit())
                || w.len() > 3
            {
                return None;
            }
            let w: u16 = w.parse().ok()?;
            if u64::from(w) >= TILE_WIDTH {
                return None;
            }
            let mut v: Vec<&str> = rest.to_vec();
            v.push(last_index.strip_suffix(".p")?);
            (v, w)
        }
        _ => (parts.to_vec(), TILE_WIDTH as u16),
    };
    if index_parts.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    let last = index_parts.len() - 1;
    for (i, part) in index_parts.iter().enumerate() {
        let digits = if i < last {
            part.strip_prefix('x')?
        } else {
            part
        };
        if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        // A leading x000 group would give a second spelling of the same index.
        if i == 0 && i < last && digits == "000" {
            return None;
        }
        n = n
            .checked_mul(1000)?
            .checked_add(digits.parse::<u64>().ok()?)?;
    }
    Some((n, width))
}

/// The coordinates of a hash tile: level, index within the level, and width (1..=256).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TileCoord {
    /// Tile level `L`; the tile holds tree hashes at level `8·L`.
    pub level: u8,
    /// Tile index `N` within its level.
    pub index: u64,
    /// Number of hashes in the tile; 256 for a full tile.
    pub width: u16,
}

impl TileCoord {
    /// Checks the ranges: level ≤ 63, width in 1..=256.
    pub fn new(level: u8, index: u64, width: u16) -> Result<Self, Error> {
        if level > 63 {
            return Err(Error::TileLevel {
                level: u64::from(level),
            });
        }
        check_width(width)?;
        Ok(TileCoord {
            level,
            index,
            width,
        })
    }

    /// Whether this is a partial tile (fewer than 256 hashes).
    pub fn is_partial(&self) -> bool {
        u64::from(self.width) < TILE_WIDTH
    }

    /// The path `tile/<L>/<N>[.p/<W>]`.
    pub fn path(&self) -> String {
        let mut out = format!("tile/{}/", self.level);
        push_index(&mut out, self.index);
        push_width(&mut out, self.width);
        out
    }

    /// Parses a hash tile path; rejects non-canonical spellings.
    pub fn parse_path(path: &str) -> Result<Self, Error> {
        let bad = || Error::BadTilePath {
            path: path.chars().take(200).collect(),
        };
        let parts: Vec<&str> = path.split('/').collect();
        let [tile, level, rest @ ..] = parts.as_slice() else {
            return Err(bad());
        };
        if *tile != "tile"
            || level.is_empty()
            || level.len() > 2
            || !level.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        if level.len() > 1 && level.starts_with('0') {
            return Err(bad());
        }
        let level: u8 = level.parse().map_err(|_| bad())?;
        let (index, width) = parse_index_width(rest).ok_or_else(bad)?;
        TileCoord::new(level, index, width).map_err(|_| bad())
    }
}

/// The coordinates of an entry bundle: index and width (1..=256).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntryBundleCoord {
    /// Bundle index `N`: it holds entries `256·N ..`.
    pub index: u64,
    /// Number of entries; 256 for a full bundle.
    pub width: u16,
}

impl EntryBundleCoord {
    /// Checks the width range.
    pub fn new(index: u64, width: u16) -> Result<Self, Error> {
        check_width(width)?;
        Ok(EntryBundleCoord { index, width })
    }

    /// Whether this is a partial bundle (fewer than 256 entries).
    pub fn is_partial(&self) -> bool {
        u64::from(self.width) < TILE_WIDTH
    }

    /// The path `tile/entries/<N>[.p/<W>]`.
    pub fn path(&self) -> String {
        let mut out = String::from("tile/entries/");
        push_index(&mut out, self.index);
        push_width(&mut out, self.width);
        out
    }

    /// Parses an entry bundle path; rejects non-canonical spellings.
    pub fn parse_path(path: &str) -> Result<Self, Error> {
        let bad = || Error::BadTilePath {
            path: path.chars().take(200).collect(),
        };
        let rest = path.strip_prefix("tile/entries/").ok_or_else(bad)?;
        let parts: Vec<&str> = rest.split('/').collect();
        let (index, width) = parse_index_width(&parts).ok_or_else(bad)?;
        EntryBundleCoord::new(index, width).map_err(|_| bad())
    }
}

/// The `Cache-Control` value to serve a log file with: tiles and entry bundles, partial ones
/// included, never change once written (c2sp.org/tlog-tiles), while the checkpoint changes with
/// every batch. `None` for a path that is not part of a log.
pub fn cache_control(path: &str) -> Option<&'static str> {
    if path == "checkpoint" {
        Some("no-cache")
    } else if TileCoord::parse_path(path).is_ok() || EntryBundleCoord::parse_path(path).is_ok() {
        Some("public, max-age=31536000, immutable")
    } else {
        None
    }
}

/// A hash tile: its coordinates and its hashes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tile {
    /// Where the tile sits.
    pub coord: TileCoord,
    /// `coord.width` hashes at tree level `8·coord.level`.
    pub hashes: Vec<Hash>,
}

impl Tile {
    /// Parses tile bytes: exactly `width × 32` bytes of concatenated hashes.
    pub fn parse(coord: TileCoord, data: &[u8]) -> Result<Self, Error> {
        let expected = usize::from(coord.width) * HASH_SIZE;
        if data.len() != expected {
            return Err(Error::TileSize {
                path: coord.path(),
                expected,
                actual: data.len(),
            });
        }
        let hashes = data
            .chunks_exact(HASH_SIZE)
            .map(|c| {
                let mut h = [0u8; HASH_SIZE];
                h.copy_from_slice(c);
                Hash(h)
            })
            .collect();
        Ok(Tile { coord, hashes })
    }

    /// The tile's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.hashes.len() * HASH_SIZE);
        for h in &self.hashes {
            out.extend_from_slice(&h.0);
        }
        out
    }
}

/// An entry bundle: up to 256 entries, each written as a uint16 big-endian length and the bytes.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct EntryBundle {
    /// The entries, in log order.
    pub entries: Vec<Vec<u8>>,
}

/// Appends one length-prefixed entry to `out` (c2sp.org/tlog-tiles, "Log Entries").
pub fn encode_entry(out: &mut Vec<u8>, entry: &[u8]) -> Result<(), Error> {
    let len = u16::try_from(entry.len()).map_err(|_| Error::EntryTooLarge {
        len: entry.len(),
        max: MAX_ENTRY_SIZE,
    })?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(entry);
    Ok(())
}

impl EntryBundle {
    /// Parses a bundle that must hold exactly `width` entries.
    pub fn parse(data: &[u8], width: u16) -> Result<Self, Error> {
        check_width(width)?;
        let mut entries = Vec::with_capacity(usize::from(width));
        let mut rest = data;
        while !rest.is_empty() {
            if entries.len() == usize::from(width) {
                return Err(Error::BundleTrailingBytes {
                    entries: entries.len(),
                    trailing: rest.len(),
                });
            }
            let [a, b, tail @ ..] = rest else {
                return Err(Error::BundleTruncated {
                    entry: entries.len(),
                    needed: 2,
                    available: rest.len(),
                });
            };
            let len = usize::from(u16::from_be_bytes([*a, *b]));
            if tail.len() < len {
                return Err(Error::BundleTruncated {
                    entry: entries.len(),
                    needed: len,
                    available: tail.len(),
                });
            }
            entries.push(tail[..len].to_vec());
            rest = &tail[len..];
        }
        if entries.len() != usize::from(width) {
            return Err(Error::BundleCount {
                expected: usize::from(width),
                actual: entries.len(),
            });
        }
        Ok(EntryBundle { entries })
    }

    /// The bundle's bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, Error> {
        if self.entries.len() as u64 > TILE_WIDTH {
            return Err(Error::BundleCount {
                expected: TILE_WIDTH as usize,
                actual: self.entries.len(),
            });
        }
        let mut out = Vec::new();
        for e in &self.entries {
            encode_entry(&mut out, e)?;
        }
        Ok(out)
    }
}

/// Number of hashes at tile level `level` in a tree of `size` leaves.
fn level_count(size: u64, level: u8) -> u64 {
    size.checked_shr(TILE_HEIGHT * u32::from(level))
        .unwrap_or(0)
}

fn width_of(count: u64, index: u64) -> u16 {
    // At most 256, so the cast cannot truncate.
    (count - index * TILE_WIDTH).min(TILE_WIDTH) as u16
}

/// The hash tiles a tree of `new` leaves has that a tree of `old` leaves did not have with the
/// same contents: every tile touched by the leaves `old..new`, at its width for `new`.
///
/// `new_tiles(0, n)` is every tile of the tree of size `n`.
pub fn new_tiles(old: u64, new: u64) -> Vec<TileCoord> {
    let mut out = Vec::new();
    if new <= old {
        return out;
    }
    for level in 0..8u8 {
        let (oc, nc) = (level_count(old, level), level_count(new, level));
        if nc == oc {
            break;
        }
        for index in oc / TILE_WIDTH..=(nc - 1) / TILE_WIDTH {
            out.push(TileCoord {
                level,
                index,
                width: width_of(nc, index),
            });
        }
    }
    out
}

/// The entry bundles that the entries `old..new` go into, at their width for `new`.
pub fn new_entry_bundles(old: u64, new: u64) -> Vec<EntryBundleCoord> {
    if new <= old {
        return Vec::new();
    }
    (old / TILE_WIDTH..=(new - 1) / TILE_WIDTH)
        .map(|index| EntryBundleCoord {
            index,
            width: width_of(new, index),
        })
        .collect()
}

/// The partial tiles of a tree of `size` leaves: at most one per level.
pub fn partial_tiles(size: u64) -> Vec<TileCoord> {
    (0..8u8)
        .filter_map(|level| {
            let count = level_count(size, level);
            let width = count % TILE_WIDTH;
            (width > 0).then_some(TileCoord {
                level,
                index: count / TILE_WIDTH,
                width: width as u16,
            })
        })
        .collect()
}

/// The root of a complete subtree given its leaves at some level (length a power of two).
fn subtree_root(hashes: &[Hash]) -> Hash {
    match hashes {
        [] => empty_tree_hash(),
        [h] => *h,
        _ => {
            let mut level: Vec<Hash> = hashes
                .chunks_exact(2)
                .map(|p| node_hash(&p[0], &p[1]))
                .collect();
            while level.len() > 1 {
                level = level
                    .chunks_exact(2)
                    .map(|p| node_hash(&p[0], &p[1]))
                    .collect();
            }
            level[0]
        }
    }
}

/// Source of hash tiles.
pub trait TileReader {
    /// Reads and parses one tile.
    fn read_tile(&self, coord: &TileCoord) -> Result<Tile, Error>;
}

impl<R: TileReader + ?Sized> TileReader for &R {
    fn read_tile(&self, coord: &TileCoord) -> Result<Tile, Error> {
        (**self).read_tile(coord)
    }
}

/// Reads stored hashes of the tree of `size` leaves out of its tiles, so that
/// [`crate::tree_hash`], [`crate::prove_record`] and [`crate::prove_tree`] work over tiles.
///
/// Tiles are not authenticated here: proofs built from them must be verified against a signed
/// checkpoint, which catches any wrong tile.
#[derive(Debug)]
pub struct TileHashReader<R> {
    size: u64,
    tiles: R,
}

impl<R: TileReader> TileHashReader<R> {
    /// A reader for the tree of `size` leaves.
    pub fn new(size: u64, tiles: R) -> Self {
        TileHashReader { size, tiles }
    }
}

impl<R: TileReader> HashReader for TileHashReader<R> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, Error> {
        let mut cache: HashMap<TileCoord, Tile> = HashMap::new();
        let mut out = Vec::with_capacity(indexes.len());
        for &i in indexes {
            let (level, n) = split_stored_hash_index(i);
            // The hash exists iff (n + 1) · 2^level <= size, checked without overflow.
            if level >= 64 || n >= self.size >> level {
                return Err(Error::HashNotAvailable { index: i });
            }
            let tile_level = level / TILE_HEIGHT as u8;
            let k = level % TILE_HEIGHT as u8;
            let first = n << k;
            let index = first / TILE_WIDTH;
            let coord = TileCoord {
                level: tile_level,
                index,
                width: width_of(level_count(self.size, tile_level), index),
            };
            let tile = match cache.get(&coord) {
                Some(t) => t,
                None => {
                    let t = self.tiles.read_tile(&coord)?;
                    if t.hashes.len() != usize::from(coord.width) {
                        return Err(Error::TileSize {
                            path: coord.path(),
                            expected: usize::from(coord.width) * HASH_SIZE,
                            actual: t.hashes.len() * HASH_SIZE,
                        });
                    }
                    cache.entry(coord).or_insert(t)
                }
            };
            let start = (first % TILE_WIDTH) as usize;
            let end = start + (1usize << k);
            let hashes = tile
                .hashes
                .get(start..end)
                .ok_or(Error::HashNotAvailable { index: i })?;
            out.push(subtree_root(hashes));
        }
        Ok(out)
    }
}

/// The right edge of a tiled tree: the partial tile at each level. Appending leaves completes
/// tiles; [`TiledTree::take_new_tiles`] hands out every tile that changed.
///
/// This is all a sequencer needs in memory to extend the tree and compute its root.
#[derive(Clone, Debug, Default)]
pub struct TiledTree {
    size: u64,
    taken: u64,
    edge: Vec<Vec<Hash>>,
    completed: Vec<Tile>,
}

impl TiledTree {
    /// The empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Loads the right edge of the tree of `size` leaves from its partial tiles.
    pub fn from_tiles(size: u64, tiles: &impl TileReader) -> Result<Self, Error> {
        if size > MAX_TREE_SIZE {
            return Err(Error::TreeTooLarge {
                size,
                max: MAX_TREE_SIZE,
            });
        }
        let mut edge = vec![Vec::new(); 8];
        for coord in partial_tiles(size) {
            let t = tiles.read_tile(&coord)?;
            if t.hashes.len() != usize::from(coord.width) {
                return Err(Error::TileSize {
                    path: coord.path(),
                    expected: usize::from(coord.width) * HASH_SIZE,
                    actual: t.hashes.len() * HASH_SIZE,
                });
            }
            edge[usize::from(coord.level)] = t.hashes;
        }
        Ok(TiledTree {
            size,
            taken: size,
            edge,
            completed: Vec::new(),
        })
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends one leaf hash.
    pub fn append(&mut self, leaf: Hash) -> Result<(), Error> {
        if self.size >= MAX_TREE_SIZE {
            return Err(Error::TreeTooLarge {
                size: self.size + 1,
                max: MAX_TREE_SIZE,
            });
        }
        self.size += 1;
        if self.edge.is_empty() {
            self.edge = vec![Vec::new(); 8];
        }
        let mut carry = leaf;
        for level in 0..8u8 {
            let row = &mut self.edge[usize::from(level)];
            row.push(carry);
            if row.len() as u64 != TILE_WIDTH {
                return Ok(());
            }
            let hashes = std::mem::take(row);
            carry = subtree_root(&hashes);
            let index = level_count(self.size, level) / TILE_WIDTH - 1;
            self.completed.push(Tile {
                coord: TileCoord {
                    level,
                    index,
                    width: TILE_WIDTH as u16,
                },
                hashes,
            });
        }
        // Level 7 tiles cover 2^64 leaves, beyond MAX_TREE_SIZE.
        Ok(())
    }

    /// The tree root (RFC 6962 MTH).
    pub fn root(&self) -> Hash {
        // Complete subtrees from the left: highest tile level first, and within a partial
        // tile the largest power-of-two prefix first.
        let mut parts = Vec::new();
        for row in self.edge.iter().rev() {
            let mut pos = 0usize;
            for j in (0..8).rev() {
                if row.len() & (1 << j) != 0 {
                    parts.push(subtree_root(&row[pos..pos + (1 << j)]));
                    pos += 1 << j;
                }
            }
        }
        let mut iter = parts.iter().rev();
        match iter.next() {
            None => empty_tree_hash(),
            Some(last) => iter.fold(*last, |acc, left| node_hash(left, &acc)),
        }
    }

    /// Every tile that changed since the last call (or since loading): full tiles completed
    /// meanwhile, then the current partial tiles that grew.
    pub fn take_new_tiles(&mut self) -> Vec<Tile> {
        let mut out = std::mem::take(&mut self.completed);
        for coord in new_tiles(self.taken, self.size) {
            if coord.is_partial() {
                out.push(Tile {
                    coord,
                    hashes: self.edge[usize::from(coord.level)].clone(),
                });
            }
        }
        self.taken = self.size;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        prove_record, prove_tree, record_hash, stored_hash_index, stored_hashes, tree_hash,
    };

    #[test]
    fn paths_follow_the_spec_examples() {
        let t = |l, n, w| TileCoord::new(l, n, w).unwrap().path();
        assert_eq!(t(0, 1234067, 256), "tile/0/x001/x234/067");
        assert_eq!(t(1, 0, 256), "tile/1/000");
        assert_eq!(t(2, 1234, 17), "tile/2/x001/234.p/17");
        assert_eq!(t(0, 999, 255), "tile/0/999.p/255");
        assert_eq!(t(0, 1000, 256), "tile/0/x001/000");
        assert_eq!(
            EntryBundleCoord::new(1234067, 8).unwrap().path(),
            "tile/entries/x001/x234/067.p/8"
        );
        for (l, n, w) in [
            (0, 0, 1),
            (3, 1234067, 256),
            (1, u64::MAX, 200),
            (63, 5, 256),
        ] {
            let c = TileCoord::new(l, n, w).unwrap();
            assert_eq!(TileCoord::parse_path(&c.path()).unwrap(), c);
            let e = EntryBundleCoord::new(n, w).unwrap();
            assert_eq!(EntryBundleCoord::parse_path(&e.path()).unwrap(), e);
        }
    }

    #[test]
    fn bad_paths_and_coords_are_rejected() {
        for p in [
            "",
            "tile",
            "tile/0",
            "tile/0/",
            "tile/00/000",
            "tile/64/000",
            "tile/0/1",
            "tile/0/0000",
            "tile/0/x000/001",
            "tile/0/001/002",
            "tile/0/x1/000",
            "tile/0/000.p/0",
            "tile/0/000.p/256",
            "tile/0/000.p/010",
            "tile/0/000.p/",
            "tile/0/000.p",
            "tile/0/000/.p/5",
            "tile/0/x018/x446/x744/x073/x709/x551/616",
            "tile/a/000",
            "tile/0/-01",
            "tile/entries/000",
            "tile/0/000.p/5/6",
        ] {
            assert!(
                matches!(TileCoord::parse_path(p), Err(Error::BadTilePath { .. })),
                "{p:?} accepted"
            );
        }
        for p in [
            "tile/entries/",
            "tile/entries/1",
            "tile/0/000",
            "tile/entries/000.p/0",
            "tile/entries/x000/001",
        ] {
            assert!(EntryBundleCoord::parse_path(p).is_err(), "{p:?} accepted");
        }
        assert!(matches!(
            TileCoord::new(0, 0, 0),
            Err(Error::TileWidth { width: 0 })
        ));
        assert!(matches!(
            TileCoord::new(0, 0, 257),
            Err(Error::TileWidth { width: 257 })
        ));
        assert!(matches!(
            TileCoord::new(64, 0, 1),
            Err(Error::TileLevel { level: 64 })
        ));
    }

    #[test]
    fn entry_bundles_round_trip_and_reject_damage() {
        let b = EntryBundle {
            entries: vec![b"a".to_vec(), Vec::new(), vec![7u8; MAX_ENTRY_SIZE]],
        };
        let bytes = b.to_bytes().unwrap();
        assert_eq!(&bytes[..3], &[0, 1, b'a']);
        assert_eq!(EntryBundle::parse(&bytes, 3).unwrap(), b);
        assert!(matches!(
            EntryBundle::parse(&bytes, 2),
            Err(Error::BundleTrailingBytes { entries: 2, .. })
        ));
        assert!(matches!(
            EntryBundle::parse(&bytes, 4),
            Err(Error::BundleCount {
                expected: 4,
                actual: 3
            })
        ));
        assert!(matches!(
            EntryBundle::parse(&bytes[..bytes.len() - 1], 3),
            Err(Error::BundleTruncated { entry: 2, .. })
        ));
        assert!(matches!(
            EntryBundle::parse(&[0], 1),
            Err(Error::BundleTruncated {
                entry: 0,
                needed: 2,
                ..
            })
        ));
        assert!(matches!(
            EntryBundle::parse(&[], 0),
            Err(Error::TileWidth { width: 0 })
        ));
        let big = EntryBundle {
            entries: vec![vec![0u8; MAX_ENTRY_SIZE + 1]],
        };
        assert!(matches!(
            big.to_bytes(),
            Err(Error::EntryTooLarge {
                len: 65536,
                max: 65535
            })
        ));
    }

    #[test]
    fn cache_headers_follow_mutability() {
        assert_eq!(cache_control("checkpoint"), Some("no-cache"));
        assert_eq!(
            cache_control("tile/0/x001/234.p/5"),
            Some("public, max-age=31536000, immutable")
        );
        assert_eq!(
            cache_control("tile/entries/000"),
            Some("public, max-age=31536000, immutable")
        );
        assert_eq!(cache_control("tile/0/1"), None);
        assert_eq!(cache_control("../etc/passwd"), None);
    }

    #[test]
    fn tile_bytes_must_match_width() {
        let c = TileCoord::new(0, 0, 2).unwrap();
        assert!(matches!(
            Tile::parse(c, &[0u8; 63]),
            Err(Error::TileSize {
                expected: 64,
                actual: 63,
                ..
            })
        ));
        let t = Tile::parse(c, &[1u8; 64]).unwrap();
        assert_eq!(t.to_bytes(), vec![1u8; 64]);
    }

    #[test]
    fn new_tiles_geometry() {
        assert_eq!(new_tiles(0, 0), vec![]);
        assert_eq!(
            new_tiles(0, 1).iter().map(|c| c.path()).collect::<Vec<_>>(),
            ["tile/0/000.p/1"]
        );
        assert_eq!(
            new_tiles(255, 256)
                .iter()
                .map(|c| c.path())
                .collect::<Vec<_>>(),
            ["tile/0/000", "tile/1/000.p/1"]
        );
        assert_eq!(
            new_tiles(200, 70000)
                .iter()
                .map(|c| c.path())
                .collect::<Vec<_>>()
                .len(),
            274 + 2 + 1
        );
        assert_eq!(
            partial_tiles(65536 + 256 + 3)
                .iter()
                .map(|c| c.path())
                .collect::<Vec<_>>(),
            ["tile/0/257.p/3", "tile/1/001.p/1", "tile/2/000.p/1"]
        );
        assert_eq!(
            new_entry_bundles(250, 600)
                .iter()
                .map(|c| c.path())
                .collect::<Vec<_>>(),
            [
                "tile/entries/000",
                "tile/entries/001",
                "tile/entries/002.p/88"
            ]
        );
    }

    /// Tiles kept in memory, built from a full stored-hash list: the reference layout.
    struct MemTiles(HashMap<TileCoord, Tile>);
    impl TileReader for MemTiles {
        fn read_tile(&self, coord: &TileCoord) -> Result<Tile, Error> {
            self.0
                .get(coord)
                .cloned()
                .ok_or(Error::TileMissing { path: coord.path() })
        }
    }

    #[test]
    fn tiled_tree_matches_stored_hashes_and_serves_proofs() {
        let n: u64 = 256 * 256 + 700;
        let mut stored = Vec::new();
        let mut tree = TiledTree::new();
        let mut tiles = MemTiles(HashMap::new());
        let mut sizes = Vec::new();
        let mut step = 1u64;
        for i in 0..n {
            let data = i.to_be_bytes();
            stored.extend(stored_hashes(i, &data, &stored).unwrap());
            tree.append(record_hash(&data)).unwrap();
            // Take tiles at irregular sizes, as batches would.
            if (i + 1) % step == 0 || i + 1 == n {
                for t in tree.take_new_tiles() {
                    // Each tile equals the stored hashes it claims to hold.
                    for (j, h) in t.hashes.iter().enumerate() {
                        let idx =
                            stored_hash_index(t.coord.level * 8, t.coord.index * 256 + j as u64)
                                .unwrap();
                        assert_eq!(stored[idx as usize], *h, "{} [{j}]", t.coord.path());
                    }
                    tiles.0.insert(t.coord, t);
                }
                assert_eq!(tree.root(), tree_hash(tree.size(), &stored).unwrap());
                sizes.push(tree.size());
                step = step * 3 % 1001 + 1;
            }
        }
        for &size in sizes.iter().step_by(7).chain(std::iter::once(&n)) {
            let r = TileHashReader::new(size, &tiles);
            let root = tree_hash(size, &stored).unwrap();
            assert_eq!(tree_hash(size, &r).unwrap(), root, "size {size}");
            for index in [0, size / 3, size - 1] {
                let p = prove_record(size, index, &r).unwrap();
                assert_eq!(p, prove_record(size, index, &stored).unwrap());
            }
            for old in [1, size / 2, size - 1] {
                assert_eq!(
                    prove_tree(size, old, &r).unwrap(),
                    prove_tree(size, old, &stored).unwrap()
                );
            }
            let reloaded = TiledTree::from_tiles(size, &tiles).unwrap();
            assert_eq!(reloaded.root(), root);
        }
    }

    #[test]
    fn tile_hash_reader_reports_missing_and_short_tiles() {
        let mut tiles = MemTiles(HashMap::new());
        let r = TileHashReader::new(3, &tiles);
        assert!(matches!(tree_hash(3, &r), Err(Error::TileMissing { .. })));
        for bad in [u64::MAX, 1 << 63, 5, 4] {
            assert!(matches!(
                r.read_hashes(&[bad]),
                Err(Error::HashNotAvailable { .. })
            ));
        }
        assert!(matches!(
            tree_hash(4, &r),
            Err(Error::HashNotAvailable { .. })
        ));
        let c = TileCoord::new(0, 0, 3).unwrap();
        tiles.0.insert(
            c,
            Tile {
                coord: c,
                hashes: vec![Hash::default(); 2],
            },
        );
        let r = TileHashReader::new(3, &tiles);
        assert!(matches!(tree_hash(3, &r), Err(Error::TileSize { .. })));
    }
}
