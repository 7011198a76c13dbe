//! The policy's witness rule: `custody verify` fails the log check unless K of the named
//! witnesses cosigned the bundle's checkpoint. Unknown cosignatures are ignored (C2SP); a
//! forged one, or one made over another checkpoint, fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use custody_attest::Error;
use custody_attest::bundle;
use custody_attest::release::{self, Artifact, ReleaseFacts, SourceState};
use custody_attest::tlog::{dsse_entry_body, entry_from_proof, log_id, log_instance};
use custody_attest::trust::{
    BuilderPolicy, POLICY_MEDIA_TYPE, Policy, PolicyKey, SourcePolicy, TimeRange, TrustedRoot,
    WitnessesPolicy,
};
use custody_attest::verify::{CheckName, Expectations, Request, Status, verify};
use custody_crypto::{Algorithms, Digests, KeyAlgorithm, Signer, SigningKey, digest_reader};
use custody_tlog::{
    Checkpoint, LogEntry, MemoryStore, Note, NoteSigner, NoteVerifier, Sequencer, SignatureType,
    SignedCheckpoint, prove_inclusion,
};
use jiff::{SignedDuration, Timestamp};
use sigstore_types::SignatureContent;

const ORIGIN: &str = "example.com/log";
const REPO: &str = "https://example.com/acme/app";
const BUILDER: &str = "https://example.com/builders/release@v1";

fn now() -> Timestamp {
    "2026-06-01T12:00:00Z".parse().unwrap()
}

fn always() -> TimeRange {
    TimeRange {
        start: now() - SignedDuration::from_hours(24),
        end: None,
    }
}

fn witness(n: u8) -> NoteSigner {
    NoteSigner::new(
        &format!("witness-{n}.example"),
        SignatureType::CosignatureV1,
        ed25519_dalek::SigningKey::from_bytes(&[n; 32]),
    )
    .unwrap()
}

/// A release bundle logged in a small log, and what verifying it needs.
struct Logged {
    key: SigningKey,
    artifact: Digests,
    /// The bundle's checkpoint before any cosignature, and the one before it.
    checkpoint: SignedCheckpoint,
    previous: SignedCheckpoint,
    bundle: sigstore_types::Bundle,
    body: Vec<u8>,
    index: u64,
    store: MemoryStore,
    root: TrustedRoot,
    log_id: [u8; 32],
}

fn logged() -> Logged {
    let key = SigningKey::generate(KeyAlgorithm::Ed25519).unwrap();
    let artifact = digest_reader(&b"app bytes"[..], Algorithms::Both).unwrap();
    let facts = ReleaseFacts {
        product: "app".into(),
        version: "1.0.0".into(),
        builder_id: BUILDER.into(),
        source: SourceState {
            repository: REPO.into(),
            git_ref: "refs/tags/v1.0.0".into(),
            commit: "0123456789abcdef0123456789abcdef01234567".into(),
            clean: true,
        },
        allow_dirty: false,
        invocation_id: "t".into(),
        started_on: now(),
        finished_on: now(),
    };
    let docs = release::attest(
        &key,
        &facts,
        &[Artifact {
            name: "app.tar.gz".into(),
            digests: artifact.clone(),
        }],
    )
    .unwrap();
    let bundle = docs.artifact_bundles[0].1.clone();
    let SignatureContent::DsseEnvelope(env) = &bundle.content else {
        panic!("not DSSE")
    };
    let body = dsse_entry_body(env, key.public_key());

    let log_key = SigningKey::generate(KeyAlgorithm::Ed25519).unwrap();
    let log_key = std::sync::Arc::new(log_key);
    let signer = NoteSigner::with_key(
        ORIGIN,
        SignatureType::Ed25519,
        custody_attest::tlog::note_key(log_key.clone()).unwrap(),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = MemoryStore::new();
    let mut seq = Sequencer::open(&store, dir.path(), ORIGIN, signer).unwrap();
    let filler = |i: u64| LogEntry {
        data: format!("other {i}").into_bytes(),
        artifact: None,
    };
    let previous = seq
        .append_batch(&(0..10).map(filler).collect::<Vec<_>>())
        .unwrap()
        .checkpoint;
    let appended = seq
        .append_batch(&[
            LogEntry {
                data: body.clone(),
                artifact: None,
            },
            filler(11),
        ])
        .unwrap();
    drop(seq);
    let mut root = TrustedRoot::empty();
    root.tlogs
        .push(log_instance(ORIGIN, log_key.public_key(), always()).unwrap());
    let raw = log_key.public_key().ed25519_bytes().unwrap();
    Logged {
        key,
        artifact,
        checkpoint: appended.checkpoint,
        previous,
        bundle,
        body,
        index: appended.first_index,
        store,
        root,
        log_id: log_id(ORIGIN, &raw),
    }
}

impl Logged {
    /// The bundle JSON with its entry proved against `note` (the checkpoint, re-signed lines).
    fn bundle_with(&self, note: Note) -> Vec<u8> {
        let signed = SignedCheckpoint {
            checkpoint: self.checkpoint.checkpoint.clone(),
            note,
        };
        let proof = prove_inclusion(&self.store, &signed, self.index).unwrap();
        let cp = &signed.checkpoint;
        let entry = entry_from_proof(&self.body, &self.log_id, &proof, cp.root.0, cp.size);
        bundle::to_json_with_entries(&self.bundle, &[entry])
            .unwrap()
            .into_bytes()
    }

    fn cosigned_by(&self, witnesses: &[&NoteSigner]) -> Note {
        let mut note = self.checkpoint.note.clone();
        for w in witnesses {
            w.sign(&mut note, Some(1_780_000_000)).unwrap();
        }
        note
    }

    fn policy(&self, witnesses: Option<WitnessesPolicy>) -> Policy {
        let json = Policy {
            media_type: POLICY_MEDIA_TYPE.into(),
            keys: vec![PolicyKey::new(self.key.public_key(), always())],
            builder: BuilderPolicy { id: BUILDER.into() },
            source: SourcePolicy {
                repository: REPO.into(),
            },
            witnesses,
            approvals: Vec::new(),
            log_key_rotations: Vec::new(),
        }
        .to_json()
        .unwrap();
        // Through the parser, as custody verify reads it.
        Policy::from_json(json.as_bytes()).unwrap()
    }

    fn verify(&self, bundle: &[u8], policy: &Policy) -> custody_attest::verify::Report {
        verify(&Request {
            artifact: &self.artifact,
            bundle,
            manifest: None,
            approvals: None,
            policy,
            trusted_root: &self.root,
            expect: &Expectations::default(),
            now: now(),
        })
    }
}

fn require(threshold: usize, witnesses: &[&NoteSigner]) -> Option<WitnessesPolicy> {
    let keys: Vec<NoteVerifier> = witnesses.iter().map(|w| w.verifier().clone()).collect();
    Some(WitnessesPolicy::new(threshold, &keys))
}

fn log_failure(report: &custody_attest::verify::Report) -> &Error {
    let failed = report.first_failure().expect("a failure");
    assert_eq!(failed.name, CheckName::Log, "{}", failed.detail);
    failed.error.as_ref().unwrap()
}

#[test]
fn threshold_met_passes_and_unknown_cosignatures_are_ignored() {
    let l = logged();
    let (w1, w2, w3, stranger) = (witness(1), witness(2), witness(3), witness(9));
    let bundle = l.bundle_with(l.cosigned_by(&[&w1, &stranger, &w3]));
    let report = l.verify(&bundle, &l.policy(require(2, &[&w1, &w2, &w3])));
    assert!(report.verified, "{:?}", report.first_failure());
    let log = report
        .checks
        .iter()
        .find(|c| c.name == CheckName::Log)
        .unwrap();
    assert_eq!(log.status, Status::Pass);
    assert!(log.detail.contains("cosigned by 2 of 3"), "{}", log.detail);

    // Without a witness rule the same bundle verifies, and so does an uncosigned one.
    assert!(l.verify(&bundle, &l.policy(None)).verified);
    let bare = l.bundle_with(l.checkpoint.note.clone());
    assert!(l.verify(&bare, &l.policy(None)).verified);
}

#[test]
fn threshold_not_met_fails_the_log_check() {
    let l = logged();
    let (w1, w2, w3, stranger) = (witness(1), witness(2), witness(3), witness(9));
    // A stranger's cosignature does not count towards the threshold.
    let bundle = l.bundle_with(l.cosigned_by(&[&w1, &stranger]));
    let report = l.verify(&bundle, &l.policy(require(2, &[&w1, &w2, &w3])));
    assert!(!report.verified);
    match log_failure(&report) {
        Error::Witnesses { source, .. } => assert!(
            matches!(
                **source,
                custody_tlog::Error::WitnessThreshold {
                    required: 2,
                    verified: 1
                }
            ),
            "{source}"
        ),
        other => panic!("{other}"),
    }
    // And nothing at all cosigned.
    let bare = l.bundle_with(l.checkpoint.note.clone());
    let report = l.verify(&bare, &l.policy(require(1, &[&w1])));
    assert!(matches!(log_failure(&report), Error::Witnesses { .. }));
}

#[test]
fn a_forged_cosignature_fails() {
    let l = logged();
    let (w1, w2) = (witness(1), witness(2));
    let mut note = l.cosigned_by(&[&w2]);
    // w1's name and key ID, but a signature w1 never made.
    let mut forged = w1
        .signature_for(l.checkpoint.note.text(), Some(1_780_000_000))
        .unwrap();
    let last = forged.signature.len() - 1;
    forged.signature[last] ^= 1;
    note.push_signature(forged);
    let report = l.verify(&l.bundle_with(note), &l.policy(require(2, &[&w1, &w2])));
    match log_failure(&report) {
        Error::Witnesses { source, .. } => assert!(
            matches!(**source, custody_tlog::Error::InvalidSignature { .. }),
            "{source}"
        ),
        other => panic!("{other}"),
    }
}

#[test]
fn a_cosignature_for_a_different_checkpoint_fails() {
    let l = logged();
    let (w1, w2) = (witness(1), witness(2));
    // w1 really cosigned, but the previous checkpoint; the line is moved onto this one.
    let mut note = l.cosigned_by(&[&w2]);
    let mut earlier = l.previous.note.clone();
    w1.sign(&mut earlier, Some(1_780_000_000)).unwrap();
    note.push_signature(earlier.signatures().last().unwrap().clone());
    let report = l.verify(&l.bundle_with(note), &l.policy(require(2, &[&w1, &w2])));
    match log_failure(&report) {
        Error::Witnesses { source, .. } => assert!(
            matches!(**source, custody_tlog::Error::InvalidSignature { .. }),
            "{source}"
        ),
        other => panic!("{other}"),
    }
    let _: &Checkpoint = &l.previous.checkpoint;
}

#[test]
fn witness_rules_that_make_no_sense_are_refused_at_load() {
    let l = logged();
    let (w1, w2) = (witness(1), witness(2));
    let base = serde_json::to_value(l.policy(None)).unwrap();
    let log_vkey = l.checkpoint.note.signatures()[0].name.clone();
    let with = |threshold: usize, keys: Vec<String>| {
        let mut v = base.clone();
        v["witnesses"] = serde_json::json!({ "threshold": threshold, "keys": keys });
        Policy::from_json(&serde_json::to_vec(&v).unwrap())
    };
    let vk = |w: &NoteSigner| w.verifier().to_vkey_string();
    assert!(with(1, vec![vk(&w1), vk(&w2)]).is_ok());
    for (threshold, keys, what) in [
        (0, vec![vk(&w1)], "threshold 0"),
        (2, vec![vk(&w1)], "more than named"),
        (2, vec![vk(&w1), vk(&w1)], "a witness twice"),
        (1, vec!["not a key".into()], "garbage"),
    ] {
        assert!(with(threshold, keys).is_err(), "{what} accepted");
    }
    // A log (Ed25519) key is not a witness key.
    let ed = NoteSigner::new(
        &log_vkey,
        SignatureType::Ed25519,
        ed25519_dalek::SigningKey::from_bytes(&[7; 32]),
    )
    .unwrap();
    assert!(with(1, vec![ed.verifier().to_vkey_string()]).is_err());
}

/// `policy` with its key revoked from `since`.
fn revoked(policy: Policy, since: &str) -> Policy {
    let mut p = policy;
    p.keys[0].revoked = Some(custody_attest::trust::Revocation {
        since: since.parse().unwrap(),
        reason: "the CI runner's disk was imaged by an intruder".into(),
    });
    Policy::from_json(p.to_json().unwrap().as_bytes()).unwrap()
}

#[test]
fn a_revoked_key_counts_only_where_a_witness_dates_the_signature_before_the_revocation() {
    let l = logged();
    let w1 = witness(1);
    // Cosigned at 1_780_000_000 (2026-05-28T20:26:40Z).
    let bundle = l.bundle_with(l.cosigned_by(&[&w1]));

    let after = revoked(l.policy(require(1, &[&w1])), "2026-05-30T00:00:00Z");
    let report = l.verify(&bundle, &after);
    assert!(report.verified, "{:?}", report.first_failure());
    let log = report
        .checks
        .iter()
        .find(|c| c.name == CheckName::Log)
        .unwrap();
    assert!(
        log.detail.contains("is revoked from 2026-05-30T00:00:00Z"),
        "{}",
        log.detail
    );

    let before = revoked(l.policy(require(1, &[&w1])), "2026-05-01T00:00:00Z");
    match log_failure(&l.verify(&bundle, &before)) {
        Error::KeyRevoked {
            reason, earliest, ..
        } => {
            assert!(reason.contains("intruder"));
            assert_eq!(earliest.unwrap().as_second(), 1_780_000_000);
        }
        other => panic!("{other}"),
    }

    // Without a witness the policy names, nothing dates the signature: refused.
    let unwitnessed = revoked(l.policy(None), "2026-05-30T00:00:00Z");
    let report = l.verify(&bundle, &unwitnessed);
    let e = log_failure(&report);
    assert!(matches!(e, Error::KeyRevoked { earliest: None, .. }), "{e}");
    assert!(e.to_string().contains("intruder"), "{e}");
}

/// `policy` with its key replaced at `size` entries of the log, its window closed a day ago.
fn rotated(policy: Policy, log: &str, size: u64) -> Policy {
    let mut p = policy;
    let at = now() - SignedDuration::from_hours(1);
    p.keys[0].valid_for.end = Some(at);
    p.keys[0].rotated = Some(custody_attest::trust::LogPosition {
        at,
        log: log.into(),
        size,
    });
    Policy::from_json(p.to_json().unwrap().as_bytes()).unwrap()
}

#[test]
fn a_rotated_key_counts_for_what_the_log_held_before_the_rotation() {
    let l = logged();
    let bundle = l.bundle_with(l.checkpoint.note.clone());
    // Logged before: the entry's index is below the log's size at the rotation.
    let report = l.verify(&bundle, &rotated(l.policy(None), ORIGIN, l.index + 1));
    assert!(report.verified, "{:?}", report.first_failure());
    let log = report
        .checks
        .iter()
        .find(|c| c.name == CheckName::Log)
        .unwrap();
    assert!(log.detail.contains("was rotated at"), "{}", log.detail);

    // Logged at or after the rotation, or in another log: refused, saying so.
    for policy in [
        rotated(l.policy(None), ORIGIN, l.index),
        rotated(l.policy(None), "example.com/other-log", l.index + 1),
    ] {
        match log_failure(&l.verify(&bundle, &policy)) {
            Error::KeyRotated(late) => assert_eq!(late.index, l.index),
            other => panic!("{other}"),
        }
    }

    // The same closed window without a rotation is simply not valid now.
    let mut closed = l.policy(None);
    closed.keys[0].valid_for.end = Some(now() - SignedDuration::from_hours(1));
    let closed = Policy::from_json(closed.to_json().unwrap().as_bytes()).unwrap();
    let report = l.verify(&bundle, &closed);
    assert_eq!(report.first_failure().unwrap().name, CheckName::Signature);
}

/// `l`'s trusted root with the log key's window closed an hour ago, and a policy saying the
/// key was replaced when the log held `size` entries (none: no record of a rotation).
fn log_key_retired(l: &Logged, size: Option<u64>) -> (TrustedRoot, Policy) {
    use base64::Engine as _;
    let mut root = l.root.clone();
    let at = now() - SignedDuration::from_hours(1);
    root.tlogs[0].public_key.valid_for.end = Some(at);
    let mut policy = l.policy(None);
    if let Some(size) = size {
        policy
            .log_key_rotations
            .push(custody_attest::trust::LogKeyRotation {
                key_id: base64::engine::general_purpose::STANDARD.encode(l.log_id),
                position: custody_attest::trust::LogPosition {
                    at,
                    log: ORIGIN.into(),
                    size,
                },
            });
    }
    let policy = Policy::from_json(policy.to_json().unwrap().as_bytes()).unwrap();
    (root, policy)
}

#[test]
fn a_replaced_log_key_proves_only_what_the_log_held_before() {
    let l = logged();
    let bundle = l.bundle_with(l.checkpoint.note.clone());
    let size = l.checkpoint.checkpoint.size;
    assert!(l.index < size - 1, "the entry is not the log's last");
    let run = |retired: Option<u64>| {
        let (root, policy) = log_key_retired(&l, retired);
        verify(&Request {
            artifact: &l.artifact,
            bundle: &bundle,
            manifest: None,
            approvals: None,
            policy: &policy,
            trusted_root: &root,
            expect: &Expectations::default(),
            now: now(),
        })
    };
    // Replaced when the log held this checkpoint's tree: the old checkpoint still proves it.
    let report = run(Some(size));
    assert!(report.verified, "{:?}", report.first_failure());
    // A checkpoint of a larger tree than the log held at the replacement is one the old key
    // should never have signed (a stolen key's fork), and an entry logged at or after it is
    // not the old key's to prove; without a record of the replacement the key is simply
    // expired.
    for retired in [Some(size - 1), Some(l.index), None] {
        match log_failure(&run(retired)) {
            Error::LogKeyNotValidAt { origin, .. } => assert_eq!(origin, ORIGIN),
            other => panic!("{retired:?}: {other}"),
        }
    }
}
