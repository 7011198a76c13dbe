//! Writes the CycloneDX and SPDX SBOMs of a directory's lockfiles, for trying the writers by hand:
//! `cargo run -p custody-sbom --example write_sbom -- DIR OUT_STEM`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use custody_sbom::{CycloneDxVersion, Limits, Metadata, read_dir, to_cyclonedx, to_spdx};

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args.next().expect("DIR");
    let stem = args.next().expect("OUT_STEM");
    let sbom = read_dir(std::path::Path::new(&dir), &Limits::default()).unwrap();
    let meta = Metadata::new(jiff::Timestamp::now());
    std::fs::write(
        format!("{stem}.cdx.json"),
        to_cyclonedx(&sbom, CycloneDxVersion::V1_6, &meta),
    )
    .unwrap();
    std::fs::write(format!("{stem}.spdx.json"), to_spdx(&sbom, &meta)).unwrap();
}
