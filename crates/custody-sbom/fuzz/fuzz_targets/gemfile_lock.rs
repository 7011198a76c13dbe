//! `Gemfile.lock` (+ `Gemfile`): never panics; what it accepts round-trips through the writers.
#![no_main]

use custody_sbom::{Gemfile, Limits, parse_gemfile_lock};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let (lock, manifest) = common::split(data);
    let manifest = manifest.map(|bytes| Gemfile {
        file: "Gemfile",
        bytes,
    });
    if let Ok(sbom) = parse_gemfile_lock("Gemfile.lock", lock, manifest, &Limits::default()) {
        common::check_round_trip(&sbom);
    }
});
