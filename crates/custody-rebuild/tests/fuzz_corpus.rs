//! Replays the committed libFuzzer corpus (`fuzz/corpus/explain/`) through the fuzz target's
//! own file, on stable: see `fuzz/src/replay.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

extern crate self as libfuzzer_sys;

#[path = "../../../fuzz/src/replay.rs"]
mod replay;

#[allow(unused_attributes)] // the target's `#![no_main]`
#[path = "../fuzz/fuzz_targets/explain.rs"]
mod explain;

#[test]
fn explain_corpus() {
    replay::replay("fuzz", "explain", explain::run);
}
