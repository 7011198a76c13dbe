//! Tile paths, hash tiles and entry bundles: never panic; paths and bundles round-trip.
#![no_main]

use custody_tlog::{EntryBundle, EntryBundleCoord, Tile, TileCoord};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(c) = TileCoord::parse_path(s) {
            assert_eq!(c.path(), s);
        }
        if let Ok(c) = EntryBundleCoord::parse_path(s) {
            assert_eq!(c.path(), s);
        }
    }
    let width = u16::from(data.first().copied().unwrap_or(0)) + 1;
    let rest = data.get(1..).unwrap_or_default();
    if let Ok(b) = EntryBundle::parse(rest, width) {
        assert_eq!(b.to_bytes().ok().as_deref(), Some(rest));
    }
    if let Ok(coord) = TileCoord::new(0, 0, width)
        && let Ok(t) = Tile::parse(coord, rest)
    {
        assert_eq!(t.to_bytes(), rest);
    }
});
