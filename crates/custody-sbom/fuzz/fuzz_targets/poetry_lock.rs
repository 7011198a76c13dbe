//! `poetry.lock` (+ `pyproject.toml`): never panics; what it accepts round-trips through the writers.
#![no_main]

use custody_sbom::{Limits, PyProject, parse_poetry_lock};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let (lock, manifest) = common::split(data);
    let manifest = manifest.map(|bytes| PyProject {
        file: "pyproject.toml",
        bytes,
    });
    if let Ok(sbom) = parse_poetry_lock("poetry.lock", lock, manifest, &Limits::default()) {
        common::check_round_trip(&sbom);
    }
});
