//! Times each stage on one directory, for finding slow spots by hand:
//! `cargo run -p custody-sbom --example timing -- DIR`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use custody_sbom::{
    CycloneDxVersion, Limits, Metadata, parse_sbom, read_dir, to_cyclonedx, to_spdx,
};

fn main() {
    let dir = std::env::args().nth(1).expect("DIR");
    let t = Instant::now();
    let sbom = read_dir(std::path::Path::new(&dir), &Limits::default()).unwrap();
    eprintln!("read   {:?} ({} components)", t.elapsed(), sbom.len());
    let meta = Metadata::new(jiff::Timestamp::UNIX_EPOCH);
    let t = Instant::now();
    let cdx = to_cyclonedx(&sbom, CycloneDxVersion::V1_6, &meta);
    eprintln!("cdx    {:?}", t.elapsed());
    let t = Instant::now();
    let spdx = to_spdx(&sbom, &meta);
    eprintln!("spdx   {:?}", t.elapsed());
    let t = Instant::now();
    parse_sbom("cdx", cdx.as_bytes(), &Limits::default()).unwrap();
    eprintln!("r-cdx  {:?}", t.elapsed());
    let t = Instant::now();
    parse_sbom("spdx", spdx.as_bytes(), &Limits::default()).unwrap();
    eprintln!("r-spdx {:?}", t.elapsed());
}
