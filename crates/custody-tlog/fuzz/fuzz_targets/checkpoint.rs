//! Checkpoint body parsing: never panics, and what parses re-serializes exactly.
#![no_main]

use custody_tlog::Checkpoint;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(cp) = Checkpoint::parse(text) {
        assert_eq!(cp.to_text(), text, "parse/serialize round trip");
    }
});
