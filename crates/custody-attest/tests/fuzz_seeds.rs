//! The fuzz targets' bodies over `fuzz/seeds/` and deterministic mutations of it, on stable, so
//! CI catches a parser panic or a broken invariant without nightly or libFuzzer.
//!
//! The bodies are `fuzz/src/lib.rs`, included by path: the same code `cargo fuzz run` drives.
//! Mutations: truncations and one-bit flips at hundreds of offsets, each JSON value replaced by
//! values of other types or removed, and a few hostile shapes (deep nesting, oversized input).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../../fuzz/src/lib.rs"]
mod bodies;
#[path = "../../../fuzz/src/mutations.rs"]
mod mutations;
#[path = "../../../fuzz/src/replay.rs"]
mod replay;

use bodies::Fixture;
use custody_attest::bundle::{self, MAX_BUNDLE_BYTES};
use custody_attest::trust::MAX_TRUST_FILE_BYTES;
use mutations::{byte_mutations, hostile, json_mutations, name, seeds};

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

/// The libFuzzer corpora `scripts/fuzz.sh` minimised into `fuzz/corpus/<target>/`, through the
/// same bodies.
#[test]
fn committed_fuzz_corpora_replay() {
    let fx = Fixture::new();
    replay::replay("../../fuzz", "bundle_parse", |b| {
        bodies::bundle_parse(&fx, b);
    });
    replay::replay("../../fuzz", "policy_parse", |b| {
        bodies::policy_parse(&fx, b);
    });
    replay::replay("../../fuzz", "statement_parse", |b| {
        bodies::statement_parse(&fx, b);
    });
}
