//! A log monitor's pure core: remember the latest checkpoint, accept a new one only with a
//! consistency proof, and report a split view with its evidence.

use std::fmt;

use crate::checkpoint::{Checkpoint, SignedCheckpoint};
use crate::note::NoteVerifier;
use crate::{ConsistencyProof, Error};

/// Two signed checkpoints of one log that no consistency proof reconciles.
///
/// When both have the same size this is proof of misbehaviour on its own: the log signed two
/// different trees of one size. For different sizes it is the log's signed claim of two
/// trees together with the proof it offered that failed; anyone can recheck it.
#[derive(Clone, PartialEq, Eq)]
pub struct SplitViewEvidence {
    /// The checkpoint the monitor had verified before, as signed.
    pub trusted: Vec<u8>,
    /// The checkpoint that contradicts it, as signed.
    pub observed: Vec<u8>,
    /// The consistency proof that failed (empty for equal sizes).
    pub proof: ConsistencyProof,
    /// The rule that failed.
    pub reason: String,
}

impl fmt::Debug for SplitViewEvidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SplitViewEvidence")
            .field("trusted", &String::from_utf8_lossy(&self.trusted))
            .field("observed", &String::from_utf8_lossy(&self.observed))
            .field("proof", &self.proof)
            .field("reason", &self.reason)
            .finish()
    }
}

/// What observing a checkpoint changed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Observation {
    /// The first checkpoint seen, now trusted.
    First {
        /// Its size.
        size: u64,
    },
    /// The log grew consistently.
    Advanced {
        /// Previous size.
        from: u64,
        /// New size.
        to: u64,
    },
    /// The same tree again.
    Unchanged,
    /// An older tree, consistent with the trusted one (which is kept).
    Older {
        /// The older size.
        size: u64,
    },
}

/// Monitor state for one log.
#[derive(Clone, Debug)]
pub struct Monitor {
    origin: String,
    log_key: NoteVerifier,
    trusted: Option<SignedCheckpoint>,
}

impl Monitor {
    /// A monitor that has seen nothing of the log yet.
    pub fn new(origin: &str, log_key: NoteVerifier) -> Self {
        Monitor {
            origin: origin.to_owned(),
            log_key,
            trusted: None,
        }
    }

    /// A monitor resuming from a checkpoint it stored earlier (verified again here).
    pub fn resume(origin: &str, log_key: NoteVerifier, trusted: &[u8]) -> Result<Self, Error> {
        let cp = Checkpoint::open(trusted, origin, &log_key)?;
        Ok(Monitor {
            origin: origin.to_owned(),
            log_key,
            trusted: Some(cp),
        })
    }

    /// The latest consistent checkpoint, to store between runs.
    pub fn trusted(&self) -> Option<&SignedCheckpoint> {
        self.trusted.as_ref()
    }

    /// Checks a newly fetched signed checkpoint. `proof` is the consistency proof between the
    /// trusted size and the new size, from the smaller to the larger (RFC 6962 §2.1.2).
    ///
    /// A checkpoint that is not validly signed by the log is rejected with that error and
    /// changes nothing; one that is signed but inconsistent is a split view.
    pub fn observe(&mut self, note: &[u8], proof: &ConsistencyProof) -> Result<Observation, Error> {
        let new = Checkpoint::open(note, &self.origin, &self.log_key)?;
        let Some(old) = &self.trusted else {
            let size = new.checkpoint.size;
            self.trusted = Some(new);
            return Ok(Observation::First { size });
        };
        let (a, b) = (&old.checkpoint, &new.checkpoint);
        let check = if a.size <= b.size {
            proof.verify(a.size, a.root, b.size, b.root)
        } else {
            proof.verify(b.size, b.root, a.size, a.root)
        };
        if let Err(e) = check {
            return Err(Error::SplitView {
                evidence: Box::new(SplitViewEvidence {
                    trusted: old.note.to_bytes(),
                    observed: new.note.to_bytes(),
                    proof: proof.clone(),
                    reason: e.to_string(),
                }),
            });
        }
        let outcome = match a.size.cmp(&b.size) {
            std::cmp::Ordering::Less => Observation::Advanced {
                from: a.size,
                to: b.size,
            },
            std::cmp::Ordering::Equal => Observation::Unchanged,
            std::cmp::Ordering::Greater => Observation::Older { size: b.size },
        };
        if matches!(outcome, Observation::Advanced { .. }) {
            self.trusted = Some(new);
        }
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{NoteSigner, SignatureType, prove_tree, stored_hashes, tree_hash};
    use ed25519_dalek::SigningKey;

    #[test]
    fn monitor_follows_a_log_and_reports_a_fork_with_evidence() {
        let log = NoteSigner::new(
            "log",
            SignatureType::Ed25519,
            SigningKey::from_bytes(&[1; 32]),
        )
        .unwrap();
        let mut main = Vec::new();
        let mut fork = Vec::new();
        for i in 0..50u64 {
            main.extend(stored_hashes(i, &i.to_be_bytes(), &main).unwrap());
            // The fork rewrites entry 30.
            let d = if i == 30 {
                b"evil".to_vec()
            } else {
                i.to_be_bytes().to_vec()
            };
            fork.extend(stored_hashes(i, &d, &fork).unwrap());
        }
        let note = |stored: &Vec<crate::Hash>, n: u64| {
            Checkpoint {
                origin: "log".into(),
                size: n,
                root: tree_hash(n, stored).unwrap(),
                extensions: vec![],
            }
            .sign(&log)
            .unwrap()
            .to_bytes()
        };
        let mut m = Monitor::new("log", log.verifier().clone());
        assert_eq!(
            m.observe(&note(&main, 20), &ConsistencyProof::default())
                .unwrap(),
            Observation::First { size: 20 }
        );
        let p = prove_tree(40, 20, &main).unwrap();
        assert_eq!(
            m.observe(&note(&main, 40), &p).unwrap(),
            Observation::Advanced { from: 20, to: 40 }
        );
        assert_eq!(
            m.observe(&note(&main, 40), &ConsistencyProof::default())
                .unwrap(),
            Observation::Unchanged
        );
        assert_eq!(
            m.observe(&note(&main, 25), &prove_tree(40, 25, &main).unwrap())
                .unwrap(),
            Observation::Older { size: 25 }
        );
        // Same size, other root: a split view, whatever the proof.
        let Err(Error::SplitView { evidence }) =
            m.observe(&note(&fork, 40), &ConsistencyProof::default())
        else {
            panic!("fork of equal size not reported");
        };
        assert_eq!(evidence.trusted, note(&main, 40));
        assert_eq!(evidence.observed, note(&fork, 40));
        // Larger forked tree: the fork's own proof does not reach our root.
        let forged = prove_tree(45, 40, &fork).unwrap();
        assert!(matches!(
            m.observe(&note(&fork, 45), &forged),
            Err(Error::SplitView { .. })
        ));
        // The trusted checkpoint did not move, and resumes from storage.
        let stored = m.trusted().unwrap().note.to_bytes();
        let mut again = Monitor::resume("log", log.verifier().clone(), &stored).unwrap();
        assert_eq!(again.trusted().unwrap().checkpoint.size, 40);
        // Unsigned input is an ordinary error, not a split view.
        let stranger = NoteSigner::new(
            "log",
            SignatureType::Ed25519,
            SigningKey::from_bytes(&[9; 32]),
        )
        .unwrap();
        let bad = Checkpoint {
            origin: "log".into(),
            size: 41,
            root: tree_hash(41, &main).unwrap(),
            extensions: vec![],
        }
        .sign(&stranger)
        .unwrap()
        .to_bytes();
        assert!(matches!(
            again.observe(&bad, &ConsistencyProof::default()),
            Err(Error::NoKnownSignature { .. })
        ));
    }
}
