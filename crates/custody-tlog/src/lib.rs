//! custody-tlog: a tile-based, append-only transparency log in the formats of C2SP.
//!
//! Pure cores (bytes and structs in, bytes and structs out; no files, sockets or clocks):
//! - [`merkle`]: RFC 6962 hashing (0x00 leaf and 0x01 node prefixes), tree roots, and
//!   inclusion and consistency proofs. Generation reads hashes through [`HashReader`];
//!   verification ([`InclusionProof::verify`], [`ConsistencyProof::verify`]) reads nothing.
//! - [`tile`]: c2sp.org/tlog-tiles paths, hash tiles and entry bundles, [`TileHashReader`] to
//!   prove from tiles, and [`TiledTree`], the right edge a sequencer keeps in memory.
//! - [`note`] and [`checkpoint`]: c2sp.org/signed-note, tlog-checkpoint, tlog-cosignature
//!   (witness cosignatures, with a K-of-N [`WitnessPolicy`]) and tlog-proof files.
//! - [`witness`]: c2sp.org/tlog-witness `add-checkpoint` requests, the witness's decision, and
//!   [`WitnessClient`], through which the sequencer collects cosignatures before publishing.
//! - [`monitor`]: follows a log's checkpoints and reports a split view with its evidence.
//!
//! At the edges:
//! - [`store`]: [`TileStore`] (get, put, put-if-absent), with [`MemoryStore`] and
//!   [`DirStore`] (temp file, fsync, rename or link, fsync of the directory); with feature
//!   `s3`, `s3::ObjectTileStore` on S3-compatible storage with conditional writes.
//! - [`sequencer`]: the single writer ([`Sequencer`], lock file, durable ordered writes,
//!   crash recovery, artifact-digest lookup) and [`SequencerService`], which batches appends
//!   from many threads.
//!
//! ```
//! use custody_tlog::{Checkpoint, NoteSigner, SignatureType, TiledTree, TlogProof};
//! use custody_tlog::{TileCoord, TileHashReader, TileReader, Tile, prove_record, record_hash};
//! use std::collections::HashMap;
//!
//! // Build a small tree, keeping its tiles in memory.
//! let mut tree = TiledTree::new();
//! for i in 0..1000u32 {
//!     tree.append(record_hash(format!("entry {i}").as_bytes()))?;
//! }
//! let tiles: HashMap<TileCoord, Tile> =
//!     tree.take_new_tiles().into_iter().map(|t| (t.coord, t)).collect();
//!
//! // Sign a checkpoint with the log's key.
//! let log = NoteSigner::generate("example.com/log", SignatureType::Ed25519)?;
//! let checkpoint = Checkpoint {
//!     origin: "example.com/log".into(),
//!     size: tree.size(),
//!     root: tree.root(),
//!     extensions: vec![],
//! };
//! let note = checkpoint.sign(&log)?;
//!
//! // Prove entry 123 from the tiles and check the proof as a client would.
//! struct Mem(HashMap<TileCoord, Tile>);
//! impl TileReader for Mem {
//!     fn read_tile(&self, c: &TileCoord) -> Result<Tile, custody_tlog::Error> {
//!         self.0.get(c).cloned().ok_or(custody_tlog::Error::TileMissing { path: c.path() })
//!     }
//! }
//! let reader = TileHashReader::new(tree.size(), Mem(tiles));
//! let proof = TlogProof {
//!     extra: None,
//!     index: 123,
//!     proof: prove_record(tree.size(), 123, &reader)?,
//!     checkpoint: note.to_bytes(),
//! };
//! let file = proof.to_bytes();
//! let verified = TlogProof::parse(&file)?.verify(b"entry 123", "example.com/log", log.verifier())?;
//! assert_eq!(verified.checkpoint.size, 1000);
//! # Ok::<(), custody_tlog::Error>(())
//! ```

pub mod checkpoint;
mod error;
pub mod merkle;
pub mod monitor;
pub mod note;
#[cfg(feature = "s3")]
pub mod s3;
pub mod sequencer;
pub mod store;
pub mod tile;
pub mod witness;

pub use checkpoint::{Checkpoint, SignedCheckpoint, TlogProof, WitnessPolicy};
pub use error::Error;
pub use merkle::{
    ConsistencyProof, HASH_SIZE, Hash, HashReader, InclusionProof, empty_tree_hash, node_hash,
    prove_record, prove_tree, record_hash, split_stored_hash_index, stored_hash_count,
    stored_hash_index, stored_hashes, tree_hash,
};
pub use monitor::{Monitor, Observation, SplitViewEvidence};
pub use note::{
    KeyId, Note, NoteKey, NoteSignature, NoteSigner, NoteVerifier, SignError, SignatureType,
    VerifiedSignature,
};
pub use sequencer::{
    Acknowledged, Appended, ArtifactDigest, CHECKPOINT_PATH, LogEntry, Receipt, Sequencer,
    SequencerService, WitnessFailure, lookup_readonly, prove_consistency, prove_inclusion,
    read_entry,
};
pub use store::{DirStore, MemoryStore, StoreTiles, TileStore, put_immutable, read_tile};
pub use tile::{
    EntryBundle, EntryBundleCoord, MAX_ENTRY_SIZE, TILE_HEIGHT, TILE_WIDTH, Tile, TileCoord,
    TileHashReader, TileReader, TiledTree, cache_control, encode_entry, new_entry_bundles,
    new_tiles, partial_tiles,
};
pub use witness::{
    AddCheckpointRequest, WitnessClient, WitnessState, WitnessTransport, WitnessedLog, http_status,
};
