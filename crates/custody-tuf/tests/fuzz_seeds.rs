//! The `tuf_parse` fuzz target's body over `fuzz/seeds/tuf_parse/` and deterministic mutations
//! of it, on stable, so CI catches a parser panic, a round trip that changes a role, or a
//! mutation a client would trust, without nightly or libFuzzer.
//!
//! The body is `fuzz/src/tuf.rs` and the mutations `fuzz/src/mutations.rs`, both included by
//! path: the same code `cargo fuzz run tuf_parse` drives.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../../fuzz/src/mutations.rs"]
mod mutations;
#[path = "../../../fuzz/src/replay.rs"]
mod replay;
#[path = "../../../fuzz/src/tuf.rs"]
mod tuf;

use mutations::{byte_mutations, hostile, json_mutations, name, seeds};
use tuf::{TufFixture, tuf_parse};

/// Every seed whose name `pick` selects: trusted at its step of the chain, and its mutations
/// parse often enough to reach the signature and rollback checks.
fn seeds_and_mutations(pick: impl Fn(&str) -> bool) {
    let fx = TufFixture::new();
    let mut any = false;
    for (path, seed) in seeds("tuf_parse") {
        let name = name(&path);
        if !pick(name) {
            continue;
        }
        any = true;
        let out = tuf_parse(&fx, &seed);
        let is_root = name.ends_with("root.json");
        assert_eq!(
            (out.root, out.timestamp, out.snapshot, out.targets),
            (
                is_root,
                name == "timestamp.json",
                name == "snapshot.json",
                !is_root && !name.starts_with("timestamp") && !name.starts_with("snapshot"),
            ),
            "{name}: {out:?}"
        );
        assert_eq!(out.trusted_root, is_root, "{name}");
        // Root v1 is the trust anchor, not a step of the chain.
        assert!(
            out.accepted || name == "1.root.json",
            "{name} was not trusted: {out:?}"
        );
        let mut parsed = 0;
        for m in byte_mutations(&seed)
            .into_iter()
            .chain(json_mutations(&seed))
        {
            let out = tuf_parse(&fx, &m);
            parsed += usize::from(out.root || out.timestamp || out.snapshot || out.targets);
        }
        assert!(parsed > 100, "{name}: mutations stop at the parser");
    }
    assert!(any, "no seed selected");
}

// Split by role so the runner spreads the signature checks over its threads.

#[test]
fn tuf_parse_root_seeds_and_mutations() {
    seeds_and_mutations(|name| name.ends_with("root.json"));
}

#[test]
fn tuf_parse_timestamp_and_snapshot_seeds_and_mutations() {
    seeds_and_mutations(|name| name == "timestamp.json" || name == "snapshot.json");
}

#[test]
fn tuf_parse_top_level_targets_seed_and_mutations() {
    seeds_and_mutations(|name| name == "targets.json");
}

#[test]
fn tuf_parse_delegated_targets_seeds_and_mutations() {
    seeds_and_mutations(|name| {
        !name.ends_with("root.json")
            && !["timestamp.json", "snapshot.json", "targets.json"].contains(&name)
    });
}

#[test]
fn tuf_parse_refuses_hostile_input() {
    let fx = TufFixture::new();
    for m in hostile(1 << 20) {
        assert_eq!(tuf_parse(&fx, &m), tuf::TufOutcome::default());
    }
}

/// The libFuzzer corpus `scripts/fuzz.sh` minimised into `fuzz/corpus/tuf_parse/`, through the
/// same body.
#[test]
fn committed_fuzz_corpus_replays() {
    let fx = TufFixture::new();
    replay::replay("../../fuzz", "tuf_parse", |b| {
        tuf_parse(&fx, b);
    });
}
