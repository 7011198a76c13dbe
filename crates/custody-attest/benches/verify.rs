//! One artifact's full offline verification, hashing excluded (issue 2, "Performance": under
//! 2 ms median).
//!
//! ```text
//! cargo bench -p custody-attest --bench verify
//! ```
//!
//! Each iteration runs `verify::verify` on bytes already in memory: parse the artifact's bundle,
//! look the key up in the policy, check the DSSE signature, parse the statement and find the
//! subject, check the provenance against the policy, then parse the manifest bundle, check its
//! signature and find the artifact in it. The digests are precomputed, as `custody verify`
//! computes them once before calling this. Policy and trusted root are parsed once, as a
//! customer's verifier would load them once; their parse time is reported on its own line.
//!
//! Environment: `CUSTODY_BENCH_ITERATIONS` (default 2000).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use custody_attest::bundle;
use custody_attest::release::{self, Artifact, ReleaseFacts, SourceState};
use custody_attest::trust::{
    BuilderPolicy, POLICY_MEDIA_TYPE, Policy, PolicyKey, SourcePolicy, TimeRange, TrustedRoot,
};
use custody_attest::verify::{Expectations, Request, verify};
use custody_crypto::{Algorithms, Digests, KeyAlgorithm, Signer, SigningKey, digest_reader};
use jiff::{SignedDuration, Timestamp};

const REPO: &str = "https://example.com/acme/app";
const BUILDER: &str = "https://example.com/builders/release@v1";
const LIMIT: Duration = Duration::from_millis(2);

struct Fixture {
    artifact: Digests,
    bundle: Vec<u8>,
    manifest: Vec<u8>,
    policy: Policy,
    policy_json: Vec<u8>,
    root: TrustedRoot,
    root_json: Vec<u8>,
    now: Timestamp,
}

fn fixture(alg: KeyAlgorithm) -> Fixture {
    let now: Timestamp = "2026-06-01T12:00:00Z".parse().unwrap();
    let key = SigningKey::generate(alg).unwrap();
    // A release of a few artifacts, so the manifest has more than one subject to search.
    let artifacts: Vec<Artifact> = ["tar.gz", "zip", "deb", "rpm"]
        .iter()
        .map(|ext| Artifact {
            name: format!("app-1.4.2.{ext}"),
            digests: digest_reader(format!("contents of {ext}").as_bytes(), Algorithms::Both)
                .unwrap(),
        })
        .collect();
    let facts = ReleaseFacts {
        product: "app".into(),
        version: "1.4.2".into(),
        builder_id: BUILDER.into(),
        source: SourceState {
            repository: REPO.into(),
            git_ref: "refs/tags/v1.4.2".into(),
            commit: "0123456789abcdef0123456789abcdef01234567".into(),
            clean: true,
        },
        allow_dirty: false,
        invocation_id: "bench".into(),
        started_on: now,
        finished_on: now,
    };
    let docs = release::attest(&key, &facts, &artifacts).unwrap();
    let policy_json = Policy {
        media_type: POLICY_MEDIA_TYPE.into(),
        keys: vec![PolicyKey::new(
            key.public_key(),
            TimeRange {
                start: now - SignedDuration::from_hours(24),
                end: None,
            },
        )],
        builder: BuilderPolicy { id: BUILDER.into() },
        source: SourcePolicy {
            repository: REPO.into(),
        },
        witnesses: None,
        approvals: Vec::new(),
        log_key_rotations: Vec::new(),
    }
    .to_json()
    .unwrap()
    .into_bytes();
    let root_json = serde_json::to_vec(&TrustedRoot::empty()).unwrap();
    Fixture {
        artifact: artifacts[0].digests.clone(),
        bundle: bundle::to_json(&docs.artifact_bundles[0].1)
            .unwrap()
            .into_bytes(),
        manifest: bundle::to_json(&docs.manifest).unwrap().into_bytes(),
        policy: Policy::from_json(&policy_json).unwrap(),
        root: TrustedRoot::from_json(&root_json).unwrap(),
        policy_json,
        root_json,
        now,
    }
}

fn main() {
    let iterations = std::env::var("CUSTODY_BENCH_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n: &usize| n > 0)
        .unwrap_or(2000);
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']))
        .unwrap_or("unknown");
    println!(
        "machine: {model}, {} cores; {iterations} iterations per row after {} warm-up",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        iterations / 10
    );
    println!(
        "{:<48} {:>10} {:>10} {:>10} {:>12}",
        "what", "median", "p99", "max", "median/2ms"
    );
    let expect = Expectations {
        product: Some("app".into()),
        version: Some("1.4.2".into()),
        source_ref: Some("v1.4.2".into()),
    };
    for (name, alg) in [
        ("ed25519", KeyAlgorithm::Ed25519),
        ("ecdsa-p256", KeyAlgorithm::EcdsaP256),
    ] {
        let f = fixture(alg);
        let request = Request {
            artifact: &f.artifact,
            bundle: &f.bundle,
            manifest: Some(&f.manifest),
            approvals: None,
            policy: &f.policy,
            trusted_root: &f.root,
            expect: &expect,
            now: f.now,
        };
        let report = verify(&request);
        assert!(report.verified, "fixture does not verify: {report:#?}");

        let full = measure(iterations, || verify(black_box(&request)).verified);
        row(&format!("{name}: verify, with manifest"), &full, true);
        let no_manifest = Request {
            manifest: None,
            approvals: None,
            ..request
        };
        let artifact_only = measure(iterations, || verify(black_box(&no_manifest)).verified);
        row(
            &format!("{name}: verify, artifact bundle only"),
            &artifact_only,
            true,
        );
        let parse = measure(iterations, || bundle::parse(black_box(&f.bundle)).is_ok());
        row(&format!("{name}: bundle::parse alone"), &parse, false);
        let trust = measure(iterations, || {
            Policy::from_json(black_box(&f.policy_json)).is_ok()
                && TrustedRoot::from_json(black_box(&f.root_json)).is_ok()
        });
        row(
            &format!("{name}: policy + trusted root load (once)"),
            &trust,
            false,
        );
    }
}

/// Per-iteration times, sorted. `work` must return true, so a broken fixture cannot look fast.
fn measure(iterations: usize, mut work: impl FnMut() -> bool) -> Vec<Duration> {
    for _ in 0..iterations / 10 {
        assert!(black_box(work()));
    }
    let mut times: Vec<Duration> = (0..iterations)
        .map(|_| {
            let t0 = Instant::now();
            let ok = black_box(work());
            let t = t0.elapsed();
            assert!(ok);
            t
        })
        .collect();
    times.sort();
    times
}

fn row(what: &str, sorted: &[Duration], against_limit: bool) {
    let at =
        |q: f64| sorted[((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1];
    let median = sorted[sorted.len() / 2];
    let us = |d: Duration| format!("{:.1} us", d.as_secs_f64() * 1e6);
    println!(
        "{:<48} {:>10} {:>10} {:>10} {:>12}",
        what,
        us(median),
        us(at(0.99)),
        us(sorted[sorted.len() - 1]),
        if against_limit {
            format!("{:.3}", median.as_secs_f64() / LIMIT.as_secs_f64())
        } else {
            "-".to_owned()
        }
    );
}
