//! Helpers shared by the integration tests: the trimmed real advisory snapshots in
//! `testdata/advisories` (see its README for provenance and the trimming).
#![allow(dead_code, clippy::unwrap_used)]

use std::path::PathBuf;

use custody_vuln::Advisory;

/// The advisory data, in the repository.
pub fn data() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/advisories"
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

/// How many advisory files (`.json`, `.yaml`, `.md`) a data directory holds, at any depth.
pub fn files(rel: &str) -> usize {
    fn walk(dir: &std::path::Path) -> usize {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .map(|p| match p.extension().and_then(|e| e.to_str()) {
                _ if p.is_dir() => walk(&p),
                Some("json" | "yaml" | "md") => 1,
                _ => 0,
            })
            .sum()
    }
    walk(&data().join(rel))
}
