//! RustSec Markdown advisories: any text gives an advisory or an error.
#![no_main]

use std::path::Path;

use custody_vuln::rustsec::parse_rustsec;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let _ = parse_rustsec(text, Path::new("fuzz.md"));
});
