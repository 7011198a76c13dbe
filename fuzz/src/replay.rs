//! Replays the committed fuzz corpora on stable, through the fuzz targets' own files.
//!
//! A crate's test includes its `fuzz/fuzz_targets/<target>.rs` files by path, after
//! `extern crate self as libfuzzer_sys;` so that their `use libfuzzer_sys::fuzz_target;` finds
//! the `fuzz_target!` below instead of libFuzzer's: it turns each target's body into
//! `pub fn run(bytes: &[u8])`, which [`replay`] calls on every file of
//! `<fuzz dir>/corpus/<target>/` (minimised by `scripts/fuzz.sh`). So `cargo test` replays, on
//! stable and without libFuzzer, exactly the inputs and assertions the fuzzer ran.

// Each test uses only part of this module.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// Stands in for `libfuzzer_sys::fuzz_target!`: the same closure forms, as `pub fn run`.
#[macro_export]
macro_rules! fuzz_target {
    (|$data:ident: &[u8]| $body:block) => {
        pub fn run($data: &[u8]) $body
    };
    (|$data:ident: &str| $body:block) => {
        pub fn run(bytes: &[u8]) {
            // As libfuzzer-sys: input that is not UTF-8 never reaches the body.
            if let Ok($data) = std::str::from_utf8(bytes) $body
        }
    };
    (|$data:ident: $ty:ty| $body:block) => {
        pub fn run(bytes: &[u8]) {
            // As libfuzzer-sys: the typed input is built from all of the bytes.
            let u = arbitrary::Unstructured::new(bytes);
            if let Ok($data) = <$ty as arbitrary::Arbitrary>::arbitrary_take_rest(u) $body
        }
    };
}

/// The files of `<fuzz dir>/corpus/<target>/`, sorted; `fuzz_dir` is relative to the crate
/// whose test calls this. Panics if the corpus is missing or empty: it is committed.
pub fn corpus(fuzz_dir: &str, target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(fuzz_dir)
        .join("corpus")
        .join(target);
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry
                .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                .path();
            let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (path, bytes)
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "empty fuzz corpus {}", dir.display());
    out
}

/// Runs `body` on every file of the target's committed corpus, naming the file that panics.
pub fn replay(fuzz_dir: &str, target: &str, mut body: impl FnMut(&[u8])) {
    /// Names the input on the way out of a panic in the body.
    struct Naming<'a>(&'a Path, &'a str);
    impl Drop for Naming<'_> {
        fn drop(&mut self) {
            if std::thread::panicking() {
                eprintln!(
                    "fuzz target {} fails on corpus input {}",
                    self.1,
                    self.0.display()
                );
            }
        }
    }
    for (path, bytes) in corpus(fuzz_dir, target) {
        let _naming = Naming(&path, target);
        body(&bytes);
    }
}
