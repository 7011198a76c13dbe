//! Every rule `verify` enforces, each broken once on purpose.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use custody_attest::Error;
use custody_attest::bundle;
use custody_attest::release::{self, Artifact, ReleaseFacts, SourceState};
use custody_attest::trust::{
    BuilderPolicy, POLICY_MEDIA_TYPE, Policy, PolicyKey, SourcePolicy, TimeRange, TrustedRoot,
};
use custody_attest::verify::{CheckName, Expectations, Request, Status, verify};
use custody_crypto::{Algorithms, Digests, KeyAlgorithm, Signer, SigningKey, digest_reader};
use jiff::{SignedDuration, Timestamp};

const REPO: &str = "https://example.com/acme/app";
const BUILDER: &str = "https://example.com/builders/release@v1";

fn now() -> Timestamp {
    "2026-06-01T12:00:00Z".parse().unwrap()
}

fn digests(bytes: &[u8]) -> Digests {
    digest_reader(bytes, Algorithms::Both).unwrap()
}

fn facts() -> ReleaseFacts {
    ReleaseFacts {
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
        invocation_id: "test".into(),
        started_on: now(),
        finished_on: now(),
    }
}

fn policy_json(
    keys: &[&SigningKey],
    valid_for: TimeRange,
    products: Option<Vec<String>>,
) -> Vec<u8> {
    let keys = keys
        .iter()
        .map(|k| {
            let mut entry = PolicyKey::new(k.public_key(), valid_for);
            entry.products = products.clone();
            entry
        })
        .collect();
    let policy = Policy {
        media_type: POLICY_MEDIA_TYPE.into(),
        keys,
        builder: BuilderPolicy { id: BUILDER.into() },
        source: SourcePolicy {
            repository: REPO.into(),
        },
        witnesses: None,
        approvals: Vec::new(),
        log_key_rotations: Vec::new(),
    };
    policy.to_json().unwrap().into_bytes()
}

fn always() -> TimeRange {
    TimeRange {
        start: now() - SignedDuration::from_hours(24),
        end: None,
    }
}

struct Fixture {
    key: SigningKey,
    a: Digests,
    b: Digests,
    a_bundle: Vec<u8>,
    b_bundle: Vec<u8>,
    manifest: Vec<u8>,
    policy: Policy,
}

fn fixture(alg: KeyAlgorithm) -> Fixture {
    let key = SigningKey::generate(alg).unwrap();
    let a = digests(b"contents of app-1.4.2.tar.gz");
    let b = digests(b"contents of app-1.4.2.zip");
    let docs = release::attest(
        &key,
        &facts(),
        &[
            Artifact {
                name: "app-1.4.2.tar.gz".into(),
                digests: a.clone(),
            },
            Artifact {
                name: "app-1.4.2.zip".into(),
                digests: b.clone(),
            },
        ],
    )
    .unwrap();
    let json = |b| bundle::to_json(b).unwrap().into_bytes();
    let policy = Policy::from_json(&policy_json(&[&key], always(), None)).unwrap();
    Fixture {
        a_bundle: json(&docs.artifact_bundles[0].1),
        b_bundle: json(&docs.artifact_bundles[1].1),
        manifest: json(&docs.manifest),
        key,
        a,
        b,
        policy,
    }
}

fn run(
    f: &Fixture,
    artifact: &Digests,
    bundle: &[u8],
    policy: &Policy,
    expect: &Expectations,
) -> custody_attest::verify::Report {
    let root = TrustedRoot::empty();
    verify(&Request {
        artifact,
        bundle,
        manifest: Some(&f.manifest),
        approvals: None,
        policy,
        trusted_root: &root,
        expect,
        now: now(),
    })
}

fn failed(report: &custody_attest::verify::Report) -> (CheckName, &Error) {
    assert!(!report.verified, "expected a failure: {report:#?}");
    let c = report.first_failure().unwrap();
    (c.name, c.error.as_ref().unwrap())
}

#[test]
fn a_good_release_verifies_with_both_algorithms() {
    for alg in [KeyAlgorithm::Ed25519, KeyAlgorithm::EcdsaP256] {
        let f = fixture(alg);
        let r = run(&f, &f.a, &f.a_bundle, &f.policy, &Expectations::default());
        assert!(r.verified, "{r:#?}");
        // With no log in the trusted root, and no approval rule in the policy, only the log
        // and approval checks are skipped.
        for c in &r.checks {
            let expected = if matches!(c.name, CheckName::Log | CheckName::Approval) {
                Status::Skipped
            } else {
                Status::Pass
            };
            assert_eq!(c.status, expected, "{c:?}");
        }
        assert_eq!(r.release.product, "app");
        assert_eq!(r.release.artifact, "app-1.4.2.tar.gz");
        let r = run(&f, &f.b, &f.b_bundle, &f.policy, &Expectations::default());
        assert!(r.verified, "{r:#?}");
    }
}

#[test]
fn tampered_artifact_fails_the_subject_check() {
    let f = fixture(KeyAlgorithm::Ed25519);
    let tampered = digests(b"contents of app-1.4.2.tar.gz!");
    let r = run(
        &f,
        &tampered,
        &f.a_bundle,
        &f.policy,
        &Expectations::default(),
    );
    assert!(matches!(
        failed(&r),
        (CheckName::Subject, Error::SubjectMismatch { .. })
    ));
}

#[test]
fn swapped_subject_fails() {
    // The zip's bundle offered for the tarball.
    let f = fixture(KeyAlgorithm::EcdsaP256);
    let r = run(&f, &f.a, &f.b_bundle, &f.policy, &Expectations::default());
    assert!(matches!(
        failed(&r),
        (CheckName::Subject, Error::SubjectMismatch { .. })
    ));
}

#[test]
fn wrong_key_is_unknown_to_the_policy() {
    let f = fixture(KeyAlgorithm::Ed25519);
    let stranger = SigningKey::generate(KeyAlgorithm::Ed25519).unwrap();
    let policy = Policy::from_json(&policy_json(&[&stranger], always(), None)).unwrap();
    let r = run(&f, &f.a, &f.a_bundle, &policy, &Expectations::default());
    assert!(matches!(
        failed(&r),
        (CheckName::Signature, Error::UnknownKey { .. })
    ));
}

#[test]
fn a_stranger_re_signing_under_the_trusted_hint_fails_the_signature() {
    let f = fixture(KeyAlgorithm::Ed25519);
    let stranger = SigningKey::generate(KeyAlgorithm::Ed25519).unwrap();
    let mut v: serde_json::Value = serde_json::from_slice(&f.a_bundle).unwrap();
    let payload = base64_decode(v["dsseEnvelope"]["payload"].as_str().unwrap());
    let forged = stranger.sign(&sigstore_pae(&payload)).unwrap();
    v["dsseEnvelope"]["signatures"][0]["sig"] = base64_encode(&forged).into();
    let r = run(
        &f,
        &f.a,
        v.to_string().as_bytes(),
        &f.policy,
        &Expectations::default(),
    );
    assert!(matches!(
        failed(&r),
        (CheckName::Signature, Error::Signature(_))
    ));
}

#[test]
fn flipped_payload_byte_fails_the_signature() {
    let f = fixture(KeyAlgorithm::EcdsaP256);
    let mut v: serde_json::Value = serde_json::from_slice(&f.a_bundle).unwrap();
    let mut payload = base64_decode(v["dsseEnvelope"]["payload"].as_str().unwrap());
    // Flip a byte inside the builder id, keeping the JSON valid.
    let at = payload.windows(7).position(|w| w == b"example").unwrap();
    payload[at] ^= 0x01;
    v["dsseEnvelope"]["payload"] = base64_encode(&payload).into();
    let r = run(
        &f,
        &f.a,
        v.to_string().as_bytes(),
        &f.policy,
        &Expectations::default(),
    );
    assert!(matches!(
        failed(&r),
        (CheckName::Signature, Error::Signature(_))
    ));
    // Later checks never ran on the unauthenticated payload.
    assert!(
        r.checks
            .iter()
            .filter(|c| c.status == Status::Skipped)
            .count()
            >= 3
    );
}

#[test]
fn expired_and_not_yet_valid_keys_are_rejected() {
    let f = fixture(KeyAlgorithm::Ed25519);
    for window in [
        TimeRange {
            start: now() - SignedDuration::from_hours(48),
            end: Some(now() - SignedDuration::from_hours(1)),
        },
        TimeRange {
            start: now() + SignedDuration::from_hours(1),
            end: None,
        },
    ] {
        let policy = Policy::from_json(&policy_json(&[&f.key], window, None)).unwrap();
        let r = run(&f, &f.a, &f.a_bundle, &policy, &Expectations::default());
        assert!(matches!(
            failed(&r),
            (CheckName::Signature, Error::KeyNotValidAt { .. })
        ));
    }
}

#[test]
fn key_limited_to_another_product_is_refused() {
    let f = fixture(KeyAlgorithm::Ed25519);
    let policy = Policy::from_json(&policy_json(
        &[&f.key],
        always(),
        Some(vec!["other".into()]),
    ))
    .unwrap();
    let r = run(&f, &f.a, &f.a_bundle, &policy, &Expectations::default());
    assert!(matches!(
        failed(&r),
        (CheckName::Provenance, Error::ProductNotAllowed { .. })
    ));
}

#[test]
fn provenance_must_match_builder_source_ref_and_version() {
    let f = fixture(KeyAlgorithm::Ed25519);
    let mut policy = f.policy.clone();
    policy.builder.id = "https://example.com/builders/other@v1".into();
    let r = run(&f, &f.a, &f.a_bundle, &policy, &Expectations::default());
    assert!(matches!(
        failed(&r),
        (CheckName::Provenance, Error::BuilderMismatch { .. })
    ));

    let mut policy = f.policy.clone();
    policy.source.repository = "https://example.com/acme/fork".into();
    let r = run(&f, &f.a, &f.a_bundle, &policy, &Expectations::default());
    assert!(matches!(
        failed(&r),
        (CheckName::Provenance, Error::SourceMismatch { .. })
    ));

    for good in ["refs/tags/v1.4.2", "v1.4.2", "0123456789ab"] {
        let expect = Expectations {
            source_ref: Some(good.into()),
            ..Default::default()
        };
        assert!(
            run(&f, &f.a, &f.a_bundle, &f.policy, &expect).verified,
            "{good}"
        );
    }
    let expect = Expectations {
        source_ref: Some("refs/heads/main".into()),
        ..Default::default()
    };
    let r = run(&f, &f.a, &f.a_bundle, &f.policy, &expect);
    assert!(matches!(
        failed(&r),
        (CheckName::Provenance, Error::SourceRefMismatch { .. })
    ));

    let expect = Expectations {
        version: Some("1.4.3".into()),
        ..Default::default()
    };
    let r = run(&f, &f.a, &f.a_bundle, &f.policy, &expect);
    assert!(matches!(
        failed(&r),
        (CheckName::Provenance, Error::VersionMismatch { .. })
    ));
}

#[test]
fn manifest_of_another_release_is_refused() {
    let f = fixture(KeyAlgorithm::Ed25519);
    let other = fixture(KeyAlgorithm::Ed25519);
    // Same key so only the contents differ: the other manifest does not list this artifact.
    let mut facts2 = facts();
    facts2.version = "1.4.3".into();
    let docs = release::attest(
        &f.key,
        &facts2,
        &[Artifact {
            name: "x".into(),
            digests: other.a.clone(),
        }],
    )
    .unwrap();
    let manifest = bundle::to_json(&docs.manifest).unwrap().into_bytes();
    let root = TrustedRoot::empty();
    let r = verify(&Request {
        artifact: &f.a,
        bundle: &f.a_bundle,
        manifest: Some(&manifest),
        approvals: None,
        policy: &f.policy,
        trusted_root: &root,
        expect: &Expectations::default(),
        now: now(),
    });
    assert!(matches!(
        failed(&r),
        (CheckName::Manifest, Error::VersionMismatch { .. })
    ));
}

#[test]
fn malformed_bundles_fail_the_bundle_check_without_panicking() {
    let f = fixture(KeyAlgorithm::Ed25519);
    let text = String::from_utf8(f.a_bundle.clone()).unwrap();
    let cases: Vec<Vec<u8>> = vec![
        Vec::new(),
        f.a_bundle[..f.a_bundle.len() / 3].to_vec(),
        text.replace("bundle.v0.3+json", "bundle.v9+json")
            .into_bytes(),
        b"[]".to_vec(),
        b"{\"mediaType\":\"application/vnd.dev.sigstore.bundle.v0.3+json\"}".to_vec(),
        vec![0xff; 100],
    ];
    for bytes in cases {
        let r = run(&f, &f.a, &bytes, &f.policy, &Expectations::default());
        assert_eq!(failed(&r).0, CheckName::Bundle);
    }
}

#[test]
fn policy_with_a_mismatched_hint_is_rejected() {
    let key = SigningKey::generate(KeyAlgorithm::Ed25519).unwrap();
    let text = String::from_utf8(policy_json(&[&key], always(), None)).unwrap();
    let hint = key.public_key().hint().to_string();
    let bad = text.replace(&hint, "AAAA");
    assert!(Policy::from_json(bad.as_bytes()).is_err());
    let bad = text.replace("PKIX_ED25519", "PKIX_ECDSA_P256_SHA_256");
    assert!(Policy::from_json(bad.as_bytes()).is_err());
}

fn sigstore_pae(payload: &[u8]) -> Vec<u8> {
    sigstore_types::pae(bundle::IN_TOTO_PAYLOAD_TYPE, payload)
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

fn base64_encode(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}
