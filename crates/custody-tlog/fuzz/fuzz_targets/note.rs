//! Signed-note and key-string parsing: never panics, and what parses re-serializes byte for byte.
#![no_main]

use custody_tlog::{Note, NoteSigner, NoteVerifier};
use libfuzzer_sys::fuzz_target;

// Go's sumdb/note example key (golang.org/x/mod/sumdb/note), so that inputs built from
// its example note reach signature verification.
const VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";

fuzz_target!(|data: &[u8]| {
    if let Ok(note) = Note::parse(data) {
        assert_eq!(note.to_bytes(), data, "parse/serialize round trip");
        if let Ok(v) = NoteVerifier::parse(VKEY) {
            let _ = note.verify(&[v]);
        }
    }
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(v) = NoteVerifier::parse(s) {
            assert_eq!(NoteVerifier::parse(&v.to_vkey_string()).ok(), Some(v));
        }
        let _ = NoteSigner::parse(s);
    }
});
