//! The fuzz targets' bodies over `fuzz/seeds/` and deterministic mutations of it, on stable, so
//! CI catches a parser panic or a broken invariant without nightly or libFuzzer.
//!
//! The bodies are `fuzz/src/lib.rs`, included by path: the same code `cargo fuzz run` drives.
//! Mutations: truncations and one-bit flips at hundreds of offsets, each JSON value replaced by
//! values of other types or removed, and a few hostile shapes (deep nesting, oversized input).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../../fuzz/src/lib.rs"]
mod bodies;

use std::path::{Path, PathBuf};

use bodies::Fixture;
use custody_attest::bundle::{self, MAX_BUNDLE_BYTES};
use custody_attest::trust::MAX_TRUST_FILE_BYTES;
use serde_json::Value;

fn seeds(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
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

fn name(path: &Path) -> &str {
    path.file_name().unwrap().to_str().unwrap()
}

/// Byte-level mutations: truncations, flipped bits, assorted framing.
fn byte_mutations(seed: &[u8]) -> Vec<Vec<u8>> {
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
fn json_mutations(seed: &[u8]) -> Vec<Vec<u8>> {
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

fn collect_pointers(v: &Value, at: String, out: &mut Vec<String>) {
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
fn hostile(limit: usize) -> Vec<Vec<u8>> {
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

#[test]
fn bundle_parse_seeds_verify_and_mutations_do_not_panic() {
    let fx = Fixture::new();
    for (path, seed) in seeds("bundle_parse") {
        let out = bodies::bundle_parse(&fx, &seed);
        assert!(out.parsed && out.signature, "{}: {out:?}", name(&path));
        // Each seed must reach the last check, or the mutations below test only the first ones.
        if name(&path).contains("manifest") {
            assert!(out.verified_as_manifest, "{}: {out:?}", name(&path));
        } else {
            assert!(out.verified_as_artifact, "{}: {out:?}", name(&path));
        }
        let signed = bundle::parse(&seed).unwrap().envelope;
        let mut reached_signature = 0;
        for m in byte_mutations(&seed)
            .into_iter()
            .chain(json_mutations(&seed))
        {
            let out = bodies::bundle_parse(&fx, &m);
            reached_signature += usize::from(out.parsed);
            if out.signature {
                // Bytes outside the envelope may change (unsigned metadata); what was signed
                // may not.
                let envelope = bundle::parse(&m).unwrap().envelope;
                assert_eq!(envelope.payload, signed.payload, "{}", name(&path));
                assert_eq!(
                    envelope.payload_type,
                    signed.payload_type,
                    "{}",
                    name(&path)
                );
            }
        }
        assert!(
            reached_signature > 100,
            "{}: mutations stop at the parser",
            name(&path)
        );
    }
    for m in hostile(MAX_BUNDLE_BYTES) {
        assert!(!bodies::bundle_parse(&fx, &m).parsed);
    }
}

#[test]
fn policy_parse_seeds_load_and_mutations_do_not_panic() {
    let fx = Fixture::new();
    for (path, seed) in seeds("policy_parse") {
        let out = bodies::policy_parse(&fx, &seed);
        let want_policy = name(&path).contains("policy");
        assert_eq!(
            (out.policy, out.trusted_root),
            (want_policy, !want_policy),
            "{}",
            name(&path)
        );
        for m in byte_mutations(&seed)
            .into_iter()
            .chain(json_mutations(&seed))
        {
            bodies::policy_parse(&fx, &m);
        }
    }
    for m in hostile(MAX_TRUST_FILE_BYTES) {
        let out = bodies::policy_parse(&fx, &m);
        assert!(!out.policy && !out.trusted_root);
    }
}

#[test]
fn statement_parse_seeds_parse_and_mutations_do_not_panic() {
    let fx = Fixture::new();
    for (path, seed) in seeds("statement_parse") {
        let out = bodies::statement_parse(&fx, &seed);
        let manifest = name(&path).contains("manifest");
        assert_eq!(
            (out.provenance, out.manifest, out.names_seed_artifact),
            (!manifest, manifest, true),
            "{}",
            name(&path)
        );
        for m in byte_mutations(&seed)
            .into_iter()
            .chain(json_mutations(&seed))
        {
            bodies::statement_parse(&fx, &m);
        }
    }
    for m in hostile(1 << 20) {
        let out = bodies::statement_parse(&fx, &m);
        assert!(!out.provenance && !out.manifest);
    }
}
