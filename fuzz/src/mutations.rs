//! Seeds and deterministic mutations for the stable fuzz-seed tests, which include this file by
//! path (`crates/custody-attest/tests/fuzz_seeds.rs`, `crates/custody-tuf/tests/fuzz_seeds.rs`):
//! truncations and one-bit flips at hundreds of offsets, each JSON
//! value replaced by values of other types or removed, and hostile shapes (deep nesting,
//! oversized input).

// Each test uses only part of this module.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use serde_json::Value;

/// `fuzz/seeds/<target>/`, sorted, from a test of a crate under `crates/`.
pub fn seeds(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/seeds")
        .join(target);
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            (path, bytes)
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no seeds in {}", dir.display());
    out
}

pub fn name(path: &Path) -> &str {
    path.file_name().unwrap().to_str().unwrap()
}

/// Byte-level mutations: truncations, flipped bits, assorted framing.
pub fn byte_mutations(seed: &[u8]) -> Vec<Vec<u8>> {
    // Most bytes of a bundle are base64 whose mutations all end at the same check; a sample
    // spread over the file, and every byte of the head and tail where the structure is,
    // keeps this test to seconds.
    let stride = seed.len().div_ceil(250).max(1);
    let sample =
        || (0..seed.len()).filter(|&i| i < 256 || seed.len() - i <= 256 || i % stride == 0);
    let mut out: Vec<Vec<u8>> = sample().map(|n| seed[..n].to_vec()).collect();
    for i in sample() {
        let mut m = seed.to_vec();
        // The bit rotates with the position so every bit of a byte class gets hit somewhere.
        m[i] ^= 1 << (i % 8);
        out.push(m);
    }
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend_from_slice(seed);
    out.push(bom);
    out.push([seed, b"garbage"].concat());
    out.push([seed, seed].concat());
    out.push(
        seed.iter()
            .map(|&b| if b == b'"' { b'\'' } else { b })
            .collect(),
    );
    out
}

/// Structural mutations: each value in the document replaced by one of another type, or removed.
pub fn json_mutations(seed: &[u8]) -> Vec<Vec<u8>> {
    let Ok(doc) = serde_json::from_slice::<Value>(seed) else {
        return Vec::new();
    };
    let replacements = [
        Value::Null,
        Value::Bool(true),
        serde_json::json!(0),
        serde_json::json!(-1),
        serde_json::json!(u64::MAX),
        serde_json::json!(1.5),
        serde_json::json!(""),
        serde_json::json!("A"),
        serde_json::json!("2030-01-01T00:00:00Z"),
        serde_json::json!("\u{0}\u{202e}\u{fffd}"),
        Value::String("x".repeat(70_000)),
        serde_json::json!([]),
        serde_json::json!({}),
        serde_json::json!([{}]),
    ];
    let mut pointers = Vec::new();
    collect_pointers(&doc, String::new(), &mut pointers);
    let mut out = Vec::new();
    for pointer in &pointers {
        for r in &replacements {
            let mut m = doc.clone();
            *m.pointer_mut(pointer).unwrap() = r.clone();
            out.push(serde_json::to_vec(&m).unwrap());
        }
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        let mut m = doc.clone();
        match m.pointer_mut(parent).unwrap() {
            Value::Object(map) => {
                map.remove(&key.replace("~1", "/").replace("~0", "~"));
            }
            Value::Array(items) => {
                items.remove(key.parse().unwrap());
            }
            _ => unreachable!(),
        }
        out.push(serde_json::to_vec(&m).unwrap());
        // The same member twice: which one wins must not depend on luck.
        if let Value::Object(_) = doc.pointer(parent).unwrap() {
            let text = String::from_utf8(serde_json::to_vec(&doc).unwrap()).unwrap();
            let needle = format!("\"{}\":", key.replace("~1", "/").replace("~0", "~"));
            if let Some(at) = text.find(&needle) {
                let dup = format!("{needle}null,");
                out.push(format!("{}{dup}{}", &text[..at], &text[at..]).into_bytes());
            }
        }
    }
    out
}

pub fn collect_pointers(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                let p = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                out.push(p.clone());
                collect_pointers(child, p, out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                let p = format!("{at}/{i}");
                out.push(p.clone());
                collect_pointers(child, p, out);
            }
        }
        _ => {}
    }
}

/// Inputs no seed suggests: empty, scalars, deep nesting, sizes around the limits.
pub fn hostile(limit: usize) -> Vec<Vec<u8>> {
    let deep = |n| [vec![b'['; n], vec![b']'; n]].concat();
    let deep_obj = |n: usize| {
        let mut s = "{\"a\":".repeat(n);
        s.push_str("null");
        s.push_str(&"}".repeat(n));
        s.into_bytes()
    };
    vec![
        Vec::new(),
        b"null".to_vec(),
        b"0".to_vec(),
        b"\"\"".to_vec(),
        b"[]".to_vec(),
        b"{}".to_vec(),
        b"\xff\xfe\xfd".to_vec(),
        deep(100_000),
        deep_obj(10_000),
        vec![b' '; limit],
        vec![b' '; limit + 1],
    ]
}
