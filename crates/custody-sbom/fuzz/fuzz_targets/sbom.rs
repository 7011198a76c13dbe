//! CycloneDX / SPDX JSON intake: never panics; what it accepts can be written out again and
//! read back.
#![no_main]

use custody_sbom::{Limits, parse_sbom};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(sbom) = parse_sbom("fuzz.json", data, &Limits::default()) {
        // A foreign document can say things our writers do not (nested components, hashes we
        // drop, fields we ignore), so past reading only "no panic" is checked, not equality.
        let meta = custody_sbom::Metadata::new(jiff::Timestamp::UNIX_EPOCH);
        let _ = custody_sbom::to_cyclonedx(&sbom, custody_sbom::CycloneDxVersion::V1_6, &meta);
        let _ = custody_sbom::to_spdx(&sbom, &meta);
    }
});
