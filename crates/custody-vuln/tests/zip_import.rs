//! Importing an osv.dev-style `all.zip`: entries parse like files, bad
//! entries are reported and skipped, oversized ones refused while inflating.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

mod common;

use std::io::Write;
use std::path::Path;

use custody_vuln::import::read_osv_zip;
use custody_vuln::{Ecosystem, Error, MatchOptions, PackageRef, SourceKind, Store};
use zip::write::SimpleFileOptions;

fn write_zip(path: &Path, entries: &[(&str, Vec<u8>)]) {
    let mut w = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let opts = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in entries {
        w.start_file(*name, opts).unwrap();
        w.write_all(bytes).unwrap();
    }
    w.finish().unwrap();
}

fn go(name: &str) -> Vec<u8> {
    common::bytes(&format!("Go/{name}"))
}

#[test]
fn zip_entries_import_and_bad_ones_are_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let zip = tmp.path().join("all.zip");
    write_zip(
        &zip,
        &[
            ("GO-2020-0001.json", go("GO-2020-0001.json")),
            ("GO-2022-0515.json", go("GO-2022-0515.json")),
            ("GO-BROKEN.json", b"{\"id\": ".to_vec()),
            ("README.md", b"not an advisory".to_vec()),
            // Deflates to a few KiB, inflates past the advisory size limit.
            ("GO-BOMB.json", vec![b' '; 3 * 1024 * 1024]),
        ],
    );
    let import = read_osv_zip(&zip).unwrap();
    let ids: Vec<_> = import
        .advisories
        .iter()
        .map(|f| f.advisory.id.as_str())
        .collect();
    assert_eq!(ids, ["GO-2020-0001", "GO-2022-0515"]);
    assert_eq!(import.skipped.len(), 2, "{:?}", import.skipped);
    assert!(import.skipped.iter().any(
        |e| matches!(e, Error::AdvisoryTooLarge { origin, .. } if origin.ends_with("!GO-BOMB.json"))
    ));
    assert!(
        import
            .skipped
            .iter()
            .any(|e| e.to_string().contains("GO-BROKEN.json"))
    );
}

#[test]
fn a_file_that_is_not_a_zip_is_an_error() {
    let path = common::data().join("Go/GO-2020-0001.json");
    assert!(matches!(
        read_osv_zip(&path),
        Err(Error::MalformedZip { .. })
    ));
}

#[test]
fn the_store_imports_zips_incrementally() {
    let tmp = tempfile::tempdir().unwrap();
    let zip = tmp.path().join("all.zip");
    write_zip(&zip, &[("GO-2020-0001.json", go("GO-2020-0001.json"))]);
    let mut store = Store::open(&tmp.path().join("db")).unwrap();
    assert_eq!(
        store.import("Go", SourceKind::OsvZip, &zip).unwrap().added,
        ["GO-2020-0001"]
    );
    write_zip(
        &zip,
        &[
            ("GO-2020-0001.json", go("GO-2020-0001.json")),
            ("GO-2022-0515.json", go("GO-2022-0515.json")),
        ],
    );
    let update = store.import("Go", SourceKind::OsvZip, &zip).unwrap();
    assert_eq!(update.added, ["GO-2022-0515"]);
    assert_eq!(update.unchanged, 1);
    let index = Store::open(&tmp.path().join("db")).unwrap().into_index();
    let f = index.scan(
        &[PackageRef::new(Ecosystem::Go, "stdlib", "go1.18.1")],
        &MatchOptions::default(),
    );
    assert_eq!(f.len(), 1);
}
