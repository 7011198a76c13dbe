//! `package-lock.json` (+ `package.json`): never panics; what it accepts round-trips through the
//! writers. Seed corpus: `cp ../tests/fixtures/npm/*/package-lock.json corpus/package_lock/`.
#![no_main]

use custody_sbom::{Limits, PackageJson, parse_package_lock};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let (lock, package_json) = common::split(data);
    let package_json = package_json.map(|bytes| PackageJson {
        file: "package.json",
        bytes,
    });
    if let Ok(sbom) =
        parse_package_lock("package-lock.json", lock, package_json, &Limits::default())
    {
        common::check_round_trip(&sbom);
    }
});
