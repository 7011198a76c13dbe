//! tlog-proof file parsing and verification: never panics; parsed files re-serialize exactly.
#![no_main]

use custody_tlog::{NoteVerifier, TlogProof};
use libfuzzer_sys::fuzz_target;

const VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = TlogProof::parse(data) {
        assert_eq!(p.to_bytes(), data, "parse/serialize round trip");
        if let Ok(v) = NoteVerifier::parse(VKEY) {
            let _ = p.verify(b"entry", "PeterNeumann", &v);
        }
    }
});
