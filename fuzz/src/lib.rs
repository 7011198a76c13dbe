//! The bodies of custody's fuzz targets.
//!
//! `fuzz_targets/*.rs` call these under libFuzzer (nightly, `cargo fuzz run <target>`); the
//! stable test `crates/custody-attest/tests/fuzz_seeds.rs` includes this same file by path and
//! replays `fuzz/seeds/` plus mutations through them, so CI checks what the fuzzer checks.
//! The TUF body, `tuf.rs`, stands apart (the `tuf_parse` target and
//! `crates/custody-tuf/tests/fuzz_seeds.rs` include it by path) so custody-tuf's test needs no
//! attestation crates; both tests share the mutations in `mutations.rs`.
//!
//! Beyond "no panic", each body asserts properties a fuzzer can break:
//! - whatever parses re-serialises into something that parses to the same value;
//! - a bundle that verifies has a good signature by a key the policy trusts;
//! - every error renders (the CLI prints it).

#![forbid(unsafe_code)]

use custody_attest::approval::{self, APPROVALS_MEDIA_TYPE, Approvals};
use custody_attest::bundle::{self, MAX_BUNDLE_BYTES};
use custody_attest::provenance::{
    Provenance, RELEASE_MANIFEST_V1, ReleaseManifest, SLSA_PROVENANCE_V1,
};
use custody_attest::statement;
use custody_attest::trust::{ApprovalRule, LogPosition, MAX_TRUST_FILE_BYTES, Policy, TrustedRoot};
use custody_attest::verify::{self, Expectations, Request};
use custody_crypto::{Algorithms, Digests, KeyHint, digest_reader};
use jiff::Timestamp;

/// A policy trusting the two keys that signed `fuzz/seeds/bundle_parse/` (written by
/// `fuzz/make-seeds.sh`), so seeds verify and mutations exercise every later check.
const SEED_POLICY: &[u8] = include_bytes!("seed-policy.json");
/// A trusted root listing the logs of both seed sites, so the seeds' log entries are checked.
const SEED_TRUSTED_ROOT: &[u8] = include_bytes!("seed-trusted_root.json");
/// The seed release's manifest, for checking fuzzed artifact bundles against.
const SEED_MANIFEST: &[u8] = include_bytes!("../seeds/bundle_parse/ed25519-manifest.sigstore.json");
/// The seed release's artifact bundle, for checking fuzzed manifests against.
const SEED_ARTIFACT_BUNDLE: &[u8] =
    include_bytes!("../seeds/bundle_parse/ed25519-artifact.sigstore.json");
/// The bytes of the artifact every seed release signs.
pub const SEED_ARTIFACT: &[u8] = b"custody fuzz seed artifact\n";
/// After the seed keys' validity starts, and fixed so runs repeat.
const NOW: &str = "2030-01-01T00:00:00Z";

/// What the bodies share across inputs: parsed once, as a verifier would.
#[derive(Debug)]
pub struct Fixture {
    policy: Policy,
    root: TrustedRoot,
    artifact: Digests,
    now: Timestamp,
}

impl Fixture {
    /// Panics only if the committed seed files are broken, never on fuzzed input.
    pub fn new() -> Self {
        let policy = match Policy::from_json(SEED_POLICY) {
            Ok(p) => p,
            Err(e) => panic!("fuzz/src/seed-policy.json: {e}"),
        };
        let root = match TrustedRoot::from_json(SEED_TRUSTED_ROOT) {
            Ok(r) => r,
            Err(e) => panic!("fuzz/src/seed-trusted_root.json: {e}"),
        };
        let artifact = match digest_reader(SEED_ARTIFACT, Algorithms::Both) {
            Ok(d) => d,
            Err(e) => panic!("hashing the seed artifact: {e}"),
        };
        let now = match NOW.parse() {
            Ok(t) => t,
            Err(e) => panic!("{NOW}: {e}"),
        };
        Self {
            policy,
            root,
            artifact,
            now,
        }
    }
}

impl Default for Fixture {
    fn default() -> Self {
        Self::new()
    }
}

/// How far a bundle got.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BundleOutcome {
    /// `bundle::parse` accepted it.
    pub parsed: bool,
    /// Its DSSE signature verifies with the policy key its hint names.
    pub signature: bool,
    /// `verify` passes it as the seed artifact's bundle, with the seed manifest.
    pub verified_as_artifact: bool,
    /// `verify` passes it as the manifest of the seed artifact's bundle.
    pub verified_as_manifest: bool,
}

/// `bundle_parse`: `bundle::parse`, `verify_envelope` with the seed keys, and full `verify`.
pub fn bundle_parse(fx: &Fixture, data: &[u8]) -> BundleOutcome {
    let mut out = BundleOutcome::default();
    let signed = match bundle::parse(data) {
        Ok(s) => s,
        Err(e) => {
            render(&e);
            return out;
        }
    };
    out.parsed = true;
    // Pretty printing can grow a document; only near the size limit may that refuse it.
    if data.len() <= MAX_BUNDLE_BYTES / 8 {
        let json = match bundle::to_json(&signed.bundle) {
            Ok(j) => j,
            Err(e) => panic!("a parsed bundle does not serialise: {e}"),
        };
        match bundle::parse(json.as_bytes()) {
            Ok(again) => {
                assert_eq!(again.hint, signed.hint, "hint changed in a round trip");
                assert_eq!(
                    again.envelope, signed.envelope,
                    "envelope changed in a round trip"
                );
            }
            Err(e) => panic!("a parsed bundle does not parse after a round trip: {e}\n{json}"),
        }
    }
    out.signature = fx
        .policy
        .key_for(&signed.hint, fx.now, None)
        .and_then(|key| bundle::verify_envelope(&signed.envelope, key))
        .map_err(|e| render(&e))
        .is_ok();

    let expect = Expectations::default();
    let request = |bundle, manifest| Request {
        artifact: &fx.artifact,
        bundle,
        manifest: Some(manifest),
        approvals: None,
        policy: &fx.policy,
        trusted_root: &fx.root,
        expect: &expect,
        now: fx.now,
    };
    let as_artifact = verify::verify(&request(data, SEED_MANIFEST));
    let as_manifest = verify::verify(&request(SEED_ARTIFACT_BUNDLE, data));
    for report in [&as_artifact, &as_manifest] {
        if let Err(e) = serde_json::to_string(report) {
            panic!("a verify report does not serialise: {e}");
        }
        for check in &report.checks {
            if let Some(e) = &check.error {
                render(e);
            }
        }
    }
    out.verified_as_artifact = as_artifact.verified;
    out.verified_as_manifest = as_manifest.verified;
    approvals(fx, data);
    assert!(
        out.signature || !out.verified_as_artifact,
        "verify passed a bundle whose signature does not verify"
    );
    assert!(
        out.signature || !out.verified_as_manifest,
        "verify passed a manifest whose signature does not verify"
    );
    out
}

/// The same bytes as `approvals.json`, and as one approval in it of the seed manifest, by the
/// seed keys made approvers: a signature over anything else must not count.
fn approvals(fx: &Fixture, data: &[u8]) {
    if let Err(e) = Approvals::from_json(data) {
        render(&e);
    }
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let rule = ApprovalRule {
        product: "app".to_owned(),
        threshold: 1,
        approvers: fx.policy.keys.clone(),
        required_from: LogPosition {
            at: fx.now,
            log: String::new(),
            size: 0,
        },
    };
    let one = Approvals {
        media_type: APPROVALS_MEDIA_TYPE.to_owned(),
        approvals: vec![value],
    };
    let logs = fx.root.trusted_logs().unwrap_or_default();
    let tally = approval::tally(
        &rule,
        SEED_MANIFEST,
        &one,
        ("app", "1.0.0"),
        approval::Logged::In(&logs),
        fx.now,
    );
    // The seeds are release bundles, not approvals: nothing may count as one.
    assert!(
        tally.approved.is_empty(),
        "a bundle that is not an approval counted as one: {tally:?}"
    );
}

/// How far a trust file got.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TrustOutcome {
    /// `Policy::from_json` accepted it.
    pub policy: bool,
    /// `TrustedRoot::from_json` accepted it.
    pub trusted_root: bool,
}

/// `policy_parse`: the same bytes as `custody-policy.json` and as `trusted_root.json`.
pub fn policy_parse(fx: &Fixture, data: &[u8]) -> TrustOutcome {
    let mut out = TrustOutcome::default();
    let small = data.len() <= MAX_TRUST_FILE_BYTES / 8;
    match Policy::from_json(data) {
        Err(e) => render(&e),
        Ok(policy) => {
            out.policy = true;
            if small {
                let again = policy
                    .to_json()
                    .and_then(|json| Policy::from_json(json.as_bytes()));
                match again {
                    Ok(again) => assert_eq!(again, policy, "policy changed in a round trip"),
                    Err(e) => panic!("a parsed policy does not survive a round trip: {e}"),
                }
            }
            for key in &policy.keys {
                let hint = KeyHint::new(key.hint.clone());
                for product in [None, Some("app")] {
                    if let Err(e) = policy.key_for(&hint, fx.now, product) {
                        render(&e);
                    }
                }
            }
        }
    }
    match TrustedRoot::from_json(data) {
        Err(e) => render(&e),
        Ok(root) => {
            out.trusted_root = true;
            if small {
                let json = match serde_json::to_vec(&root) {
                    Ok(j) => j,
                    Err(e) => panic!("a parsed trusted root does not serialise: {e}"),
                };
                match TrustedRoot::from_json(&json) {
                    Ok(again) => assert_eq!(again, root, "trusted root changed in a round trip"),
                    Err(e) => panic!("a parsed trusted root does not survive a round trip: {e}"),
                }
            }
        }
    }
    out
}

/// How far a statement got.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatementOutcome {
    /// It parsed as a Statement v1 with a SLSA Provenance v1 predicate.
    pub provenance: bool,
    /// It parsed as a Statement v1 with a custody release manifest predicate.
    pub manifest: bool,
    /// One of its subjects is the seed artifact.
    pub names_seed_artifact: bool,
}

/// `statement_parse`: a DSSE payload as each predicate type custody reads.
pub fn statement_parse(fx: &Fixture, data: &[u8]) -> StatementOutcome {
    let mut out = StatementOutcome::default();
    match statement::parse::<Provenance>(data, SLSA_PROVENANCE_V1) {
        Err(e) => render(&e),
        Ok((stmt, provenance)) => {
            out.provenance = true;
            let _ = provenance.source_commit();
            out.names_seed_artifact |= subject_check(fx, &stmt);
            round_trip(&stmt, SLSA_PROVENANCE_V1, &provenance);
        }
    }
    match statement::parse::<ReleaseManifest>(data, RELEASE_MANIFEST_V1) {
        Err(e) => render(&e),
        Ok((stmt, manifest)) => {
            out.manifest = true;
            out.names_seed_artifact |= subject_check(fx, &stmt);
            round_trip(&stmt, RELEASE_MANIFEST_V1, &manifest);
        }
    }
    out
}

fn subject_check(fx: &Fixture, stmt: &sigstore_types::Statement) -> bool {
    match statement::find_subject(stmt, &fx.artifact) {
        Ok(_) => true,
        Err(e) => {
            render(&e);
            false
        }
    }
}

fn round_trip<P>(stmt: &sigstore_types::Statement, predicate_type: &'static str, predicate: &P)
where
    P: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let json = match statement::to_json(stmt.subject.clone(), predicate_type, predicate) {
        Ok(j) => j,
        Err(e) => panic!("a parsed statement does not serialise: {e}"),
    };
    match statement::parse::<P>(&json, predicate_type) {
        Ok((again, p)) => {
            assert_eq!(&p, predicate, "predicate changed in a round trip");
            assert_eq!(
                again.subject, stmt.subject,
                "subjects changed in a round trip"
            );
        }
        Err(e) => panic!("a parsed statement does not parse after a round trip: {e}"),
    }
}

/// Every error reaches a user as text; rendering must not panic and must say something.
fn render(e: &dyn std::error::Error) {
    assert!(!e.to_string().is_empty(), "an error with no message: {e:?}");
}
