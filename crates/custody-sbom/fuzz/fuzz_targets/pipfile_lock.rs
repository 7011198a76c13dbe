//! `Pipfile.lock`: never panics; what it accepts round-trips through the writers.
#![no_main]

use custody_sbom::{Limits, parse_pipfile_lock};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    if let Ok(sbom) = parse_pipfile_lock("Pipfile.lock", data, &Limits::default()) {
        common::check_round_trip(&sbom);
    }
});
