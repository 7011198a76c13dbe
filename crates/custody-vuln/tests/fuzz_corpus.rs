//! Replays the committed libFuzzer corpora (`fuzz/corpus/<target>/`, minimised by
//! `scripts/fuzz.sh`) through the fuzz targets' own files, on stable: see `fuzz/src/replay.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

extern crate self as libfuzzer_sys;

#[path = "../../../fuzz/src/replay.rs"]
mod replay;

macro_rules! targets {
    ($($target:ident = $file:literal),* $(,)?) => {
        $(
            #[allow(unused_attributes)] // the target's `#![no_main]`
            #[path = $file]
            mod $target;
        )*
        mod corpus {
            $(
                #[test]
                fn $target() {
                    super::replay::replay("fuzz", stringify!($target), super::$target::run);
                }
            )*
        }
    };
}

targets!(
    evaluate = "../fuzz/fuzz_targets/evaluate.rs",
    osv_json = "../fuzz/fuzz_targets/osv_json.rs",
    osv_yaml = "../fuzz/fuzz_targets/osv_yaml.rs",
    rustsec_md = "../fuzz/fuzz_targets/rustsec_md.rs",
    versions = "../fuzz/fuzz_targets/versions.rs",
);
