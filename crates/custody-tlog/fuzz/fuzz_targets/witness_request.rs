//! tlog-witness add-checkpoint request bodies: never panic; parsed bodies re-serialize exactly.
#![no_main]

use custody_tlog::AddCheckpointRequest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = AddCheckpointRequest::parse(data) {
        assert_eq!(r.to_bytes(), data, "parse/serialize round trip");
    }
});
