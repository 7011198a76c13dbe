//! `Cargo.lock` (+ `Cargo.toml`): never panics; what it accepts round-trips through the writers.
//! Seed corpus: `cp ../tests/fixtures/cargo/*/Cargo.lock corpus/cargo_lock/`.
#![no_main]

use custody_sbom::{CargoManifest, Limits, parse_cargo_lock};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let (lock, manifest) = common::split(data);
    let manifest = manifest.map(|bytes| CargoManifest {
        file: "Cargo.toml",
        bytes,
    });
    if let Ok(sbom) = parse_cargo_lock("Cargo.lock", lock, manifest, &Limits::default()) {
        common::check_round_trip(&sbom);
    }
});
