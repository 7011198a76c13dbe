//! `composer.lock` (+ `composer.json`): never panics; what it accepts round-trips through the writers.
#![no_main]

use custody_sbom::{ComposerJson, Limits, parse_composer_lock};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let (lock, manifest) = common::split(data);
    let manifest = manifest.map(|bytes| ComposerJson {
        file: "composer.json",
        bytes,
    });
    if let Ok(sbom) = parse_composer_lock("composer.lock", lock, manifest, &Limits::default()) {
        common::check_round_trip(&sbom);
    }
});
