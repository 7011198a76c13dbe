//! Helpers shared by the integration tests: the real advisory snapshots in
//! `shared/data/advisories` (see its README for provenance).
#![allow(dead_code, clippy::unwrap_used)]

use std::path::PathBuf;

use custody_vuln::Advisory;

/// The shared advisory data, beside the repository.
pub fn data() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/advisories"
    ))
}

/// One real advisory, by path relative to the data directory.
pub fn advisory(rel: &str) -> Advisory {
    Advisory::read_file(&data().join(rel)).unwrap()
}

/// The raw bytes of one real advisory.
pub fn bytes(rel: &str) -> Vec<u8> {
    std::fs::read(data().join(rel)).unwrap()
}
