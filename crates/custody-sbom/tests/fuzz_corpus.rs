//! Replays the committed libFuzzer corpora (`fuzz/corpus/<target>/`, minimised by
//! `scripts/fuzz.sh`) through the fuzz targets' own files, on stable: see `fuzz/src/replay.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// tests may unwrap
// Each target includes the shared `fuzz_targets/common.rs` by path, as in its own binary.
#![allow(clippy::duplicate_mod)]

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

// `binary` has no committed corpus: its inputs are whole executables, over the 64 KiB per-file
// cap (docs/fuzzing.md); tests/bad_input.rs mutates the real binaries on every run instead.
targets!(
    cargo_lock = "../fuzz/fuzz_targets/cargo_lock.rs",
    composer_lock = "../fuzz/fuzz_targets/composer_lock.rs",
    dpkg_status = "../fuzz/fuzz_targets/dpkg_status.rs",
    gemfile_lock = "../fuzz/fuzz_targets/gemfile_lock.rs",
    go_mod = "../fuzz/fuzz_targets/go_mod.rs",
    package_lock = "../fuzz/fuzz_targets/package_lock.rs",
    pipfile_lock = "../fuzz/fuzz_targets/pipfile_lock.rs",
    pnpm_lock = "../fuzz/fuzz_targets/pnpm_lock.rs",
    poetry_lock = "../fuzz/fuzz_targets/poetry_lock.rs",
    requirements = "../fuzz/fuzz_targets/requirements.rs",
    sbom = "../fuzz/fuzz_targets/sbom.rs",
    uv_lock = "../fuzz/fuzz_targets/uv_lock.rs",
    yarn_lock = "../fuzz/fuzz_targets/yarn_lock.rs",
);
