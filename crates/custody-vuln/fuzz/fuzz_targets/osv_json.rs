//! OSV JSON parser: any bytes give an advisory or an error, never a panic,
//! and a parsed advisory survives a round trip through JSON.
#![no_main]

use custody_vuln::Advisory;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(a) = Advisory::from_json(data, "fuzz.json") {
        let again = serde_json::to_vec(&a).map(|j| Advisory::from_json(&j, "again.json"));
        assert!(matches!(again, Ok(Ok(ref b)) if *b == a));
        // Compiling and evaluating any parsed advisory must not panic either.
        for affected in &a.affected {
            let _ = affected.evaluate("1.0.0");
        }
    }
});
