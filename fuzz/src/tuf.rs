//! The `tuf_parse` body: TUF metadata as a client receives it from a mirror it does not trust.
//!
//! Beyond "no panic", it asserts what a fuzzer can break:
//! - whatever parses as a role re-serialises into metadata that parses to the same value;
//! - `TrustedMetadata::new` accepts only what parses as a root, and keeps its exact bytes;
//! - walking the client workflow from the seed repository (fuzz/seeds/tuf_parse/, written by
//!   `fuzz/make-tuf-seeds.sh`), a file accepted at any step has the signed content of a seed:
//!   without the keys, no mutation gets a changed role trusted;
//! - every error renders.
//!
//! Used by `fuzz_targets/tuf_parse.rs` and, by path, by the stable test
//! `crates/custody-tuf/tests/fuzz_seeds.rs`, so it depends on nothing but custody-tuf.

use custody_tuf::{Metadata, Root, Signed, Snapshot, Targets, Timestamp, TrustedMetadata};

/// Inside every seed role's validity (they run to 2126), and fixed so runs repeat.
const NOW: &str = "2030-01-01T00:00:00Z";

/// The seed repository, in the order a client trusts it.
const ROOT_V1: &[u8] = include_bytes!("../seeds/tuf_parse/1.root.json");
const ROOT_V2: &[u8] = include_bytes!("../seeds/tuf_parse/2.root.json");
const TIMESTAMP: &[u8] = include_bytes!("../seeds/tuf_parse/timestamp.json");
const SNAPSHOT: &[u8] = include_bytes!("../seeds/tuf_parse/snapshot.json");
const TARGETS: &[u8] = include_bytes!("../seeds/tuf_parse/targets.json");
/// `app`: delegated by `targets` with paths.
const APP: &[u8] = include_bytes!("../seeds/tuf_parse/app.json");
/// `lib`: delegated by `targets`, and delegating in turn to TAP 15 bins.
const LIB: &[u8] = include_bytes!("../seeds/tuf_parse/lib.json");
/// The bin of `lib` that holds its target.
const LIB_BIN: &[u8] = include_bytes!("../seeds/tuf_parse/lib-bin-3.json");
const LIB_BIN_ROLE: &str = "lib-bin-3";

/// The client's state after each step of the seed chain, so each input can be offered at
/// every step without replaying the ones before.
#[derive(Debug)]
pub struct TufFixture {
    now: jiff::Timestamp,
    /// Trusting root v1 only.
    at_root_v1: TrustedMetadata,
    /// Root v2 trusted, nothing else yet.
    at_root: TrustedMetadata,
    /// And the timestamp.
    at_timestamp: TrustedMetadata,
    /// And the snapshot.
    at_snapshot: TrustedMetadata,
    /// And top-level targets.
    at_targets: TrustedMetadata,
    /// And `lib`, the delegator of the bins.
    at_lib: TrustedMetadata,
}

impl TufFixture {
    /// Panics only if the committed seed files are broken, never on fuzzed input.
    pub fn new() -> Self {
        let now: jiff::Timestamp = match NOW.parse() {
            Ok(t) => t,
            Err(e) => panic!("{NOW}: {e}"),
        };
        let step = |what: &str, r: custody_tuf::Result<()>| {
            if let Err(e) = r {
                panic!("fuzz/seeds/tuf_parse: {what}: {e}");
            }
        };
        let at_root_v1 = match TrustedMetadata::new(ROOT_V1, now) {
            Ok(t) => t,
            Err(e) => panic!("fuzz/seeds/tuf_parse/1.root.json: {e}"),
        };
        let mut t = at_root_v1.clone();
        step("2.root.json", t.update_root("2.root.json", ROOT_V2));
        let at_root = t.clone();
        step("timestamp.json", t.update_timestamp(TIMESTAMP).map(drop));
        let at_timestamp = t.clone();
        step("snapshot.json", t.update_snapshot(SNAPSHOT, false));
        let at_snapshot = t.clone();
        step("targets.json", t.update_targets(TARGETS).map(drop));
        let at_targets = t.clone();
        step(
            "app.json",
            t.clone()
                .update_delegated_targets(APP, "app", "targets")
                .map(drop),
        );
        step(
            "lib.json",
            t.update_delegated_targets(LIB, "lib", "targets").map(drop),
        );
        let at_lib = t.clone();
        step(
            "lib bin",
            t.update_delegated_targets(LIB_BIN, LIB_BIN_ROLE, "lib")
                .map(drop),
        );
        Self {
            now,
            at_root_v1,
            at_root,
            at_timestamp,
            at_snapshot,
            at_targets,
            at_lib,
        }
    }
}

impl Default for TufFixture {
    fn default() -> Self {
        Self::new()
    }
}

/// How far TUF metadata got.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TufOutcome {
    /// It parsed as a root.
    pub root: bool,
    /// It parsed as a timestamp.
    pub timestamp: bool,
    /// It parsed as a snapshot.
    pub snapshot: bool,
    /// It parsed as a targets role.
    pub targets: bool,
    /// `TrustedMetadata::new` accepted it: a root signed by its own threshold.
    pub trusted_root: bool,
    /// Offered at the step of the seed chain its type belongs to, it was trusted.
    pub accepted: bool,
}

/// `tuf_parse`: the bytes as every role type, as an initial root, and at each step of the
/// client workflow from the seed repository.
pub fn tuf_parse(fx: &TufFixture, data: &[u8]) -> TufOutcome {
    let mut out = TufOutcome {
        root: parses::<Root>(data),
        timestamp: parses::<Timestamp>(data),
        snapshot: parses::<Snapshot>(data),
        targets: parses::<Targets>(data),
        ..TufOutcome::default()
    };
    match TrustedMetadata::new(data, fx.now) {
        Err(e) => render(&e),
        Ok(trusted) => {
            out.trusted_root = true;
            assert!(out.root, "TrustedMetadata::new took what is not a root");
            assert_eq!(
                trusted.root().bytes(),
                data,
                "the trusted root is not the input"
            );
        }
    }

    // Each step parses as its role type first, so offering a file only where its type fits
    // loses nothing and spares the signature checks.
    let mut accepted = Vec::new();
    if out.root {
        let mut t = fx.at_root_v1.clone();
        accepted.push((ROOT_V2, t.update_root("2.root.json", data).is_ok()));
    }
    if out.timestamp {
        let mut t = fx.at_root.clone();
        accepted.push((TIMESTAMP, t.update_timestamp(data).is_ok()));
    }
    if out.snapshot {
        for from_cache in [false, true] {
            let mut t = fx.at_timestamp.clone();
            accepted.push((SNAPSHOT, t.update_snapshot(data, from_cache).is_ok()));
        }
    }
    if out.targets {
        let mut t = fx.at_snapshot.clone();
        accepted.push((TARGETS, t.update_targets(data).is_ok()));
        for (seed, role) in [(APP, "app"), (LIB, "lib")] {
            let mut t = fx.at_targets.clone();
            let ok = t.update_delegated_targets(data, role, "targets").is_ok();
            accepted.push((seed, ok));
        }
        let mut t = fx.at_lib.clone();
        let ok = t
            .update_delegated_targets(data, LIB_BIN_ROLE, "lib")
            .is_ok();
        accepted.push((LIB_BIN, ok));
    }

    // Targets files carry no role name, and one online key signs every delegated role, so
    // `app.json` may pass as `lib` at the same version: the spec allows that. What no
    // mutation may do is get content trusted that no seed signed.
    if accepted.iter().any(|&(_, ok)| ok) {
        out.accepted = true;
        let signed = canonical(data);
        assert!(
            [ROOT_V2, TIMESTAMP, SNAPSHOT, TARGETS, APP, LIB, LIB_BIN]
                .iter()
                .any(|seed| canonical(seed) == signed),
            "a client trusted signed content that no seed has:\n{}",
            String::from_utf8_lossy(&signed)
        );
    }
    out
}

/// Parses as `T`; if it does, what it re-serialises to parses to the same value.
fn parses<T: Signed + PartialEq + std::fmt::Debug>(data: &[u8]) -> bool {
    let md = match Metadata::<T>::from_bytes("fuzz.json", data) {
        Ok(md) => md,
        Err(e) => {
            render(&e);
            return false;
        }
    };
    let again = serde_json::json!({
        "signatures": md.signatures,
        "signed": md.signed,
    });
    let bytes = match serde_json::to_vec(&again) {
        Ok(b) => b,
        Err(e) => panic!("parsed {} metadata does not serialise: {e}", T::TYPE),
    };
    match Metadata::<T>::from_bytes("fuzz.json", &bytes) {
        Ok(back) => {
            assert_eq!(
                back.signed,
                md.signed,
                "{} changed in a round trip",
                T::TYPE
            );
            assert_eq!(back.signatures, md.signatures, "signatures changed");
        }
        Err(e) => panic!(
            "parsed {} metadata does not parse after a round trip: {e}\n{}",
            T::TYPE,
            String::from_utf8_lossy(&bytes)
        ),
    }
    true
}

/// The canonical bytes of the `signed` object of metadata that parsed.
fn canonical(data: &[u8]) -> Vec<u8> {
    let value: serde_json::Value = match serde_json::from_slice(data) {
        Ok(v) => v,
        Err(e) => panic!("accepted metadata is not JSON: {e}"),
    };
    match custody_tuf::metadata::canonical_json(&value["signed"]) {
        Ok(c) => c,
        Err(e) => panic!("accepted metadata has no canonical form: {e}"),
    }
}

/// Every error reaches a user as text; rendering must not panic and must say something.
fn render(e: &dyn std::error::Error) {
    assert!(!e.to_string().is_empty(), "an error with no message: {e:?}");
}
