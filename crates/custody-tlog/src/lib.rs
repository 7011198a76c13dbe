//! custody-tlog: work in progress.

mod error;
pub mod merkle;
pub mod tile;

pub use error::Error;
pub use merkle::{
    ConsistencyProof, HASH_SIZE, Hash, HashReader, InclusionProof, empty_tree_hash, node_hash,
    prove_record, prove_tree, record_hash, split_stored_hash_index, stored_hash_count,
    stored_hash_index, stored_hashes, tree_hash,
};
pub use tile::{
    EntryBundle, EntryBundleCoord, MAX_ENTRY_SIZE, TILE_HEIGHT, TILE_WIDTH, Tile, TileCoord,
    TileHashReader, TileReader, TiledTree, encode_entry, new_entry_bundles, new_tiles,
    partial_tiles,
};

/// Placeholder until the note module lands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KeyId(pub u32);
impl std::fmt::Display for KeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:08x}", self.0)
    }
}
