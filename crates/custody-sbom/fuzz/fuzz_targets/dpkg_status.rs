//! dpkg `status` (+ `os-release`): never panics; what it accepts round-trips through the writers.
#![no_main]

use custody_sbom::{Limits, parse_dpkg_status};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let (status, os_release) = common::split(data);
    if let Ok(sbom) = parse_dpkg_status("status", status, os_release, &Limits::default()) {
        common::check_round_trip(&sbom);
    }
});
