//! A sequencer with witnesses publishes only checkpoints they cosigned after checking
//! consistency; a witness that is down, lies, or was shown a fork does not stop the log.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use custody_tlog::{
    AddCheckpointRequest, CHECKPOINT_PATH, LogEntry, MemoryStore, Note, NoteSigner, Sequencer,
    SignatureType, TileStore, WitnessClient, WitnessPolicy, WitnessTransport, WitnessedLog,
    http_status,
};
use ed25519_dalek::SigningKey;

const ORIGIN: &str = "example.com/log";

/// A witness in memory, answering as c2sp.org/tlog-witness says over HTTP.
#[derive(Debug)]
struct InMemoryWitness {
    key: NoteSigner,
    state: Mutex<WitnessedLog>,
    down: Mutex<bool>,
}

impl InMemoryWitness {
    fn new(seed: u8, log: &NoteSigner) -> Arc<Self> {
        Arc::new(Self {
            key: NoteSigner::new(
                &format!("witness-{seed}.example"),
                SignatureType::CosignatureV1,
                SigningKey::from_bytes(&[seed; 32]),
            )
            .unwrap(),
            state: Mutex::new(WitnessedLog::new(ORIGIN, log.verifier().clone())),
            down: Mutex::new(false),
        })
    }
}

#[derive(Debug)]
struct Transport(Arc<InMemoryWitness>);

impl WitnessTransport for Transport {
    fn add_checkpoint(
        &self,
        body: &[u8],
    ) -> Result<(u16, Vec<u8>), Box<dyn std::error::Error + Send + Sync>> {
        if *self.0.down.lock().unwrap() {
            return Err("connection refused".into());
        }
        let req = match AddCheckpointRequest::parse(body) {
            Ok(r) => r,
            Err(e) => return Ok((400, e.to_string().into_bytes())),
        };
        let mut state = self.0.state.lock().unwrap();
        match state.add_checkpoint(&req, &self.0.key, 1_700_000_000) {
            Ok((cosig, signed)) => {
                *state = state.advanced_to(&signed.checkpoint);
                Ok((200, cosig.line().into_bytes()))
            }
            // Content type SIZE_MEDIA_TYPE over HTTP.
            Err(custody_tlog::Error::WitnessOldSize { witness, .. }) => {
                Ok((409, format!("{witness}\n").into_bytes()))
            }
            Err(e) => Ok((http_status(&e), e.to_string().into_bytes())),
        }
    }
}

fn log_signer() -> NoteSigner {
    NoteSigner::new(
        ORIGIN,
        SignatureType::Ed25519,
        SigningKey::from_bytes(&[9; 32]),
    )
    .unwrap()
}

fn entries(from: u64, n: u64) -> Vec<LogEntry> {
    (from..from + n)
        .map(|i| LogEntry {
            data: format!("entry {i}").into_bytes(),
            artifact: None,
        })
        .collect()
}

fn policy(ws: &[&Arc<InMemoryWitness>], threshold: usize) -> WitnessPolicy {
    WitnessPolicy {
        witnesses: ws.iter().map(|w| w.key.verifier().clone()).collect(),
        threshold,
    }
}

#[test]
fn checkpoints_carry_cosignatures_of_consistent_witnesses() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(MemoryStore::new());
    let log = log_signer();
    let (a, b) = (InMemoryWitness::new(1, &log), InMemoryWitness::new(2, &log));
    let mut seq = Sequencer::open(store.clone(), dir.path(), ORIGIN, log_signer()).unwrap();
    seq.set_witnesses(vec![
        WitnessClient::new(a.key.verifier().clone(), Box::new(Transport(a.clone()))).unwrap(),
        WitnessClient::new(b.key.verifier().clone(), Box::new(Transport(b.clone()))).unwrap(),
    ]);

    for round in 0..3u64 {
        let appended = seq.append_batch(&entries(round * 300, 300)).unwrap();
        assert!(
            appended.witness_failures.is_empty(),
            "{:?}",
            appended.witness_failures
        );
        let published = Note::parse(&store.get(CHECKPOINT_PATH).unwrap().unwrap()).unwrap();
        assert_eq!(published.signatures().len(), 3);
        assert_eq!(published, appended.checkpoint.note);
        policy(&[&a, &b], 2).check(&published).unwrap();
        // Inclusion proofs embed the cosigned checkpoint.
        let proof = seq.prove(round * 300).unwrap();
        assert_eq!(proof.checkpoint, published.to_bytes());
    }
    assert_eq!(a.state.lock().unwrap().size, 900);

    // Witness b goes down: the log carries on with a's cosignature alone.
    *b.down.lock().unwrap() = true;
    let appended = seq.append_batch(&entries(900, 10)).unwrap();
    assert_eq!(appended.witness_failures.len(), 1);
    assert_eq!(appended.witness_failures[0].witness, "witness-2.example");
    let published = appended.checkpoint.note;
    policy(&[&a, &b], 1).check(&published).unwrap();
    assert!(policy(&[&a, &b], 2).check(&published).is_err());

    // Back up, b last cosigned 900: the log learns that from a 409 and proves from there.
    *b.down.lock().unwrap() = false;
    let appended = seq.append_batch(&entries(910, 5)).unwrap();
    assert!(
        appended.witness_failures.is_empty(),
        "{:?}",
        appended.witness_failures
    );
    assert_eq!(b.state.lock().unwrap().size, 915);

    // Re-witnessing the current checkpoint: same body, fresh cosignatures, no duplicates.
    let again = seq.witness_checkpoint().unwrap();
    assert_eq!(again.checkpoint.checkpoint.size, 915);
    assert_eq!(again.checkpoint.note.signatures().len(), 3);
    policy(&[&a, &b], 2).check(&again.checkpoint.note).unwrap();
}

#[test]
fn a_new_log_starting_over_with_the_same_key_is_refused_by_the_witness() {
    let log = log_signer();
    let w = InMemoryWitness::new(3, &log);
    let client =
        || WitnessClient::new(w.key.verifier().clone(), Box::new(Transport(w.clone()))).unwrap();
    let d1 = tempfile::tempdir().unwrap();
    let mut honest = Sequencer::open(MemoryStore::new(), d1.path(), ORIGIN, log_signer()).unwrap();
    honest.set_witnesses(vec![client()]);
    honest.append_batch(&entries(0, 20)).unwrap();

    // The same key, a different history of the same size or larger.
    let d2 = tempfile::tempdir().unwrap();
    let mut fork = Sequencer::open(MemoryStore::new(), d2.path(), ORIGIN, log_signer()).unwrap();
    fork.set_witnesses(vec![client()]);
    let mut evil = entries(0, 25);
    evil[3].data = b"evil".to_vec();
    let appended = fork.append_batch(&evil).unwrap();
    assert_eq!(appended.witness_failures.len(), 1);
    let err = appended.witness_failures[0].error.to_string();
    assert!(err.contains("422"), "{err}");
    assert_eq!(appended.checkpoint.note.signatures().len(), 1);

    // A shorter fork: the witness is ahead of this log, which the client reports.
    let d3 = tempfile::tempdir().unwrap();
    let mut short = Sequencer::open(MemoryStore::new(), d3.path(), ORIGIN, log_signer()).unwrap();
    short.set_witnesses(vec![client()]);
    let appended = short.append_batch(&entries(0, 5)).unwrap();
    let err = appended.witness_failures[0].error.to_string();
    assert!(err.contains("beyond this log's 5"), "{err}");
}

#[test]
fn a_witness_answer_that_is_not_its_cosignature_is_rejected() {
    #[derive(Debug)]
    struct Liar(NoteSigner);
    impl WitnessTransport for Liar {
        fn add_checkpoint(
            &self,
            body: &[u8],
        ) -> Result<(u16, Vec<u8>), Box<dyn std::error::Error + Send + Sync>> {
            // A valid signature line by the witness's key, over some other checkpoint.
            let req = AddCheckpointRequest::parse(body).unwrap();
            let note = Note::parse(&req.checkpoint).unwrap();
            let other = note.text().replace("example.com/log", "example.com/other");
            Ok((
                200,
                self.0
                    .signature_for(&other, Some(1))
                    .unwrap()
                    .line()
                    .into_bytes(),
            ))
        }
    }
    let key = || {
        NoteSigner::new(
            "liar.example",
            SignatureType::CosignatureV1,
            SigningKey::from_bytes(&[4; 32]),
        )
        .unwrap()
    };
    let dir = tempfile::tempdir().unwrap();
    let mut seq = Sequencer::open(MemoryStore::new(), dir.path(), ORIGIN, log_signer()).unwrap();
    seq.set_witnesses(vec![
        WitnessClient::new(key().verifier().clone(), Box::new(Liar(key()))).unwrap(),
    ]);
    let appended = seq.append_batch(&entries(0, 3)).unwrap();
    let err = appended.witness_failures[0].error.to_string();
    assert!(
        err.contains("does not verify over this checkpoint"),
        "{err}"
    );
    assert_eq!(appended.checkpoint.note.signatures().len(), 1);
}
