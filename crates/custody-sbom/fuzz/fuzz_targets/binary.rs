//! Programs (Go build information, `cargo auditable` data): never panics; what it accepts
//! round-trips through the writers.
#![no_main]

use custody_sbom::{Limits, parse_binary};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    if let Ok(sbom) = parse_binary("program", data, &Limits::default()) {
        common::check_round_trip(&sbom);
    }
});
