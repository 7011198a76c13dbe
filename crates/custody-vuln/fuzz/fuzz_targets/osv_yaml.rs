//! OSV YAML parser (the PyPA form): any bytes give an advisory or an error.
#![no_main]

use custody_vuln::Advisory;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(a) = Advisory::from_yaml(data, "fuzz.yaml") {
        for affected in &a.affected {
            let _ = affected.evaluate("1.0");
        }
    }
});
