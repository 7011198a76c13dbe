// Each target uses only part of this module.
#![allow(dead_code)]

// Shared by the targets: whatever a reader accepts, the writers turn into documents that the
// SBOM reader reads back into the same graph.

use custody_sbom::{CycloneDxVersion, Limits, Metadata, Sbom, parse_sbom, to_cyclonedx, to_spdx};

pub fn check_round_trip(sbom: &Sbom) {
    let meta = Metadata::new(jiff::Timestamp::UNIX_EPOCH);
    for version in [CycloneDxVersion::V1_6, CycloneDxVersion::V1_5] {
        let cdx = to_cyclonedx(sbom, version, &meta);
        let back = parse_sbom("fuzz.cdx.json", cdx.as_bytes(), &Limits::default())
            .expect("our CycloneDX must read back");
        assert_eq!(&back, sbom, "CycloneDX round trip changed the graph");
    }
    let spdx = to_spdx(sbom, &meta);
    let back = parse_sbom("fuzz.spdx.json", spdx.as_bytes(), &Limits::default())
        .expect("our SPDX must read back");
    assert_eq!(
        back.len(),
        sbom.len(),
        "SPDX round trip changed the component count"
    );
}

/// Splits fuzz input at the first NUL into a lockfile and its manifest, so that both are fuzzed.
pub fn split(data: &[u8]) -> (&[u8], Option<&[u8]>) {
    match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], Some(&data[i + 1..])),
        None => (data, None),
    }
}
