//! Pinned `requirements.txt`: never panics; what it accepts round-trips through the writers.
#![no_main]

use custody_sbom::{Limits, Scope, parse_requirements};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    if let Ok(sbom) = parse_requirements(
        "requirements.txt",
        data,
        Scope::Required,
        &Limits::default(),
    ) {
        common::check_round_trip(&sbom);
    }
});
