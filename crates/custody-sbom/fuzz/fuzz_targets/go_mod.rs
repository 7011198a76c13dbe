//! `go.mod` (+ `go.sum`): never panics; what it accepts round-trips through the writers.
#![no_main]

use custody_sbom::{GoSum, Limits, parse_go_mod_file};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let (lock, manifest) = common::split(data);
    let manifest = manifest.map(|bytes| GoSum {
        file: "go.sum",
        bytes,
    });
    if let Ok(sbom) = parse_go_mod_file("go.mod", lock, manifest, &Limits::default()) {
        common::check_round_trip(&sbom);
    }
});
