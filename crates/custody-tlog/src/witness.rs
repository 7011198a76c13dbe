//! The witness side of c2sp.org/tlog-witness: the `add-checkpoint` request body, and the pure
//! decision a witness makes before it cosigns (c2sp.org/tlog-cosignature).
//!
//! A witness remembers, per log origin, the latest checkpoint it cosigned. It cosigns a new
//! checkpoint only if the log signed it, the client knew the witness's latest size, and the
//! consistency proof from that size holds; so a log cannot show two witnesses' clients
//! different histories without one of them refusing.
//!
//! The log's side is [`WitnessClient`]: it builds requests, follows a 409 to the witness's
//! size, and checks the cosignature it gets back. The HTTP itself is a [`WitnessTransport`]
//! supplied by the caller, since this crate opens no sockets.

use std::fmt;

use crate::checkpoint::{Checkpoint, SignedCheckpoint};
use crate::note::{Note, NoteSignature, NoteSigner, NoteVerifier, SignatureType};
use crate::store::{DirStore, TileStore as _};
use crate::{ConsistencyProof, Error, Hash, empty_tree_hash};

/// The media type of a 409 response body: the witness's latest size in decimal.
pub const SIZE_MEDIA_TYPE: &str = "text/x.tlog.size";

/// The HTTP status a witness answers a refused `add-checkpoint` with
/// (c2sp.org/tlog-witness, "add-checkpoint").
pub fn http_status(e: &Error) -> u16 {
    match e {
        Error::WitnessOldSize { .. } => 409,
        // Unknown log, or not signed by it.
        Error::NoKnownSignature { .. }
        | Error::InvalidSignature { .. }
        | Error::OriginMismatch { .. }
        | Error::UnsupportedKeyType { .. } => 403,
        // Signed, but not consistent with what the witness cosigned before.
        Error::OldTreeLarger { .. }
        | Error::ConsistencyRootMismatch { .. }
        | Error::SameSizeDifferentRoot { .. }
        | Error::ProofLength { .. } => 422,
        Error::Io { .. } => 500,
        _ => 400,
    }
}

/// How a log reaches one witness: posts an `add-checkpoint` request body and returns the
/// HTTP status and response body (bounded by the transport).
pub trait WitnessTransport: Send + Sync + fmt::Debug {
    /// Sends one request.
    fn add_checkpoint(
        &self,
        body: &[u8],
    ) -> Result<(u16, Vec<u8>), Box<dyn std::error::Error + Send + Sync>>;
}

/// A witness as a log sees it: its cosignature key, how to reach it, and the size it is
/// believed to have cosigned last.
#[derive(Debug)]
pub struct WitnessClient {
    verifier: NoteVerifier,
    transport: Box<dyn WitnessTransport>,
    known_size: u64,
}

/// A cosignature response larger than this is not a few signature lines.
const MAX_RESPONSE: usize = 16 << 10;

impl WitnessClient {
    /// A witness with a cosignature/v1 key. Its size starts unknown (0); the first 409 corrects
    /// it, at the cost of one more round trip.
    pub fn new(
        verifier: NoteVerifier,
        transport: Box<dyn WitnessTransport>,
    ) -> Result<Self, Error> {
        if verifier.signature_type() != SignatureType::CosignatureV1 {
            return Err(Error::UnsupportedKeyType {
                key_type: verifier.signature_type().byte(),
            });
        }
        Ok(WitnessClient {
            verifier,
            transport,
            known_size: 0,
        })
    }

    /// The witness's key.
    pub fn verifier(&self) -> &NoteVerifier {
        &self.verifier
    }

    /// Asks the witness to cosign `checkpoint`. `prove(old)` gives the consistency proof from
    /// size `old` to the checkpoint's size. Returns the witness's verified cosignature.
    pub fn cosign(
        &mut self,
        checkpoint: &SignedCheckpoint,
        prove: &(dyn Fn(u64) -> Result<ConsistencyProof, Error> + Sync),
    ) -> Result<NoteSignature, Error> {
        let witness = self.verifier.name().to_owned();
        let size = checkpoint.checkpoint.size;
        let mut old = self.known_size.min(size);
        // At most one retry: after a 409 the log knows the witness's size exactly.
        for attempt in 0..2 {
            let req = AddCheckpointRequest {
                old_size: old,
                proof: prove(old)?,
                checkpoint: checkpoint.note.to_bytes(),
            };
            let (status, body) =
                self.transport
                    .add_checkpoint(&req.to_bytes())
                    .map_err(|source| Error::WitnessUnreachable {
                        witness: witness.clone(),
                        source,
                    })?;
            if body.len() > MAX_RESPONSE {
                return Err(Error::BadWitnessResponse {
                    witness,
                    rule: "response is too large",
                });
            }
            match status {
                200 => {
                    let sig = self.check_response(&checkpoint.note, &body)?;
                    self.known_size = size;
                    return Ok(sig);
                }
                409 if attempt == 0 => {
                    let theirs = std::str::from_utf8(&body)
                        .ok()
                        .and_then(|t| t.trim_end_matches('\n').parse::<u64>().ok())
                        .ok_or_else(|| Error::BadWitnessResponse {
                            witness: witness.clone(),
                            rule: "409 body is not a tree size",
                        })?;
                    // A witness ahead of the log has seen a tree this log does not extend:
                    // retrying cannot help, and it is worth an alarm.
                    if theirs > size {
                        return Err(Error::WitnessRefused {
                            witness,
                            status,
                            message: format!(
                                "the witness has cosigned size {theirs}, beyond this log's {size}"
                            ),
                        });
                    }
                    old = theirs;
                    self.known_size = theirs;
                }
                _ => {
                    return Err(Error::WitnessRefused {
                        witness,
                        status,
                        message: String::from_utf8_lossy(&body).chars().take(200).collect(),
                    });
                }
            }
        }
        Err(Error::BadWitnessResponse {
            witness,
            rule: "answered 409 twice",
        })
    }

    /// Finds this witness's signature among the response's lines and verifies it over the
    /// checkpoint text (c2sp.org/tlog-witness: "one or more signature lines").
    fn check_response(&self, note: &Note, body: &[u8]) -> Result<NoteSignature, Error> {
        let bad = |rule| Error::BadWitnessResponse {
            witness: self.verifier.name().to_owned(),
            rule,
        };
        let text = std::str::from_utf8(body).map_err(|_| bad("response is not UTF-8"))?;
        let mut any = false;
        for line in text.split_terminator('\n') {
            let sig = NoteSignature::parse_line(line).ok_or(bad("not a signature line"))?;
            if sig.name != self.verifier.name() || sig.key_id != self.verifier.key_id() {
                continue;
            }
            any = true;
            let mut single = Note::new(note.text())?;
            single.push_signature(sig.clone());
            if single
                .verify_known(std::slice::from_ref(&self.verifier))
                .is_ok()
            {
                return Ok(sig);
            }
        }
        Err(bad(if any {
            "its cosignature does not verify over this checkpoint"
        } else {
            "no cosignature by its key"
        }))
    }
}

/// Most hashes a consistency proof can need (trees of up to 2^63 leaves).
const MAX_PROOF_HASHES: usize = 126;

/// The body of an `add-checkpoint` request: `old <size>`, the consistency proof lines, a blank
/// line, then the checkpoint note (c2sp.org/tlog-witness, "add-checkpoint").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddCheckpointRequest {
    /// The size of the latest checkpoint the client believes the witness has cosigned.
    pub old_size: u64,
    /// Consistency proof from `old_size` to the new checkpoint's size.
    pub proof: ConsistencyProof,
    /// The new checkpoint, a signed note.
    pub checkpoint: Vec<u8>,
}

impl AddCheckpointRequest {
    /// Parses a request body.
    pub fn parse(body: &[u8]) -> Result<Self, Error> {
        let bad = |line: usize, rule: &'static str| Error::BadWitnessRequest { line, rule };
        let text = std::str::from_utf8(body).map_err(|_| Error::NoteNotUtf8)?;
        let (head, checkpoint) = text
            .split_once("\n\n")
            .ok_or(bad(0, "no blank line before the checkpoint"))?;
        let mut lines = head.split('\n');
        let old_size = lines
            .next()
            .and_then(|l| l.strip_prefix("old "))
            .filter(|d| {
                !d.is_empty()
                    && d.bytes().all(|b| b.is_ascii_digit())
                    && (d.len() == 1 || !d.starts_with('0'))
            })
            .and_then(|d| d.parse::<u64>().ok())
            .ok_or(bad(1, "first line must be old <canonical decimal>"))?;
        let mut hashes = Vec::new();
        for (i, l) in lines.enumerate() {
            if hashes.len() == MAX_PROOF_HASHES {
                return Err(bad(i + 2, "too many proof hashes"));
            }
            hashes.push(
                Hash::from_base64(l, "consistency proof")
                    .map_err(|_| bad(i + 2, "proof line must be base64 of 32 bytes"))?,
            );
        }
        Ok(AddCheckpointRequest {
            old_size,
            proof: ConsistencyProof(hashes),
            checkpoint: checkpoint.as_bytes().to_vec(),
        })
    }

    /// The request body.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut s = format!("old {}\n", self.old_size);
        for h in &self.proof.0 {
            s.push_str(&format!("{h}\n"));
        }
        s.push('\n');
        let mut out = s.into_bytes();
        out.extend_from_slice(&self.checkpoint);
        out
    }
}

/// What a witness remembers about one log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WitnessedLog {
    /// The log's origin line.
    pub origin: String,
    /// The log's checkpoint key.
    pub log_key: NoteVerifier,
    /// Size of the latest checkpoint cosigned (0 before the first).
    pub size: u64,
    /// Its root.
    pub root: Hash,
}

impl WitnessedLog {
    /// A log the witness has not cosigned anything for yet.
    pub fn new(origin: &str, log_key: NoteVerifier) -> Self {
        WitnessedLog {
            origin: origin.to_owned(),
            log_key,
            size: 0,
            root: empty_tree_hash(),
        }
    }

    /// Decides an `add-checkpoint` request: on success returns the cosignature line to send
    /// back and the checkpoint to remember (the caller stores it before replying).
    ///
    /// Errors, with the HTTP status c2sp.org/tlog-witness assigns: [`Error::WitnessOldSize`]
    /// (409, carries the witness's size), a bad or missing log signature (403), a failed
    /// consistency proof or a smaller tree (422), anything malformed (400).
    pub fn add_checkpoint(
        &self,
        req: &AddCheckpointRequest,
        witness: &NoteSigner,
        now_unix: u64,
    ) -> Result<(NoteSignature, SignedCheckpoint), Error> {
        if witness.verifier().signature_type() != SignatureType::CosignatureV1 {
            return Err(Error::UnsupportedKeyType {
                key_type: witness.verifier().signature_type().byte(),
            });
        }
        let signed = Checkpoint::open(&req.checkpoint, &self.origin, &self.log_key)?;
        let cp = &signed.checkpoint;
        // The client must build on what this witness last cosigned.
        if req.old_size != self.size {
            return Err(Error::WitnessOldSize {
                witness: self.size,
                claimed: req.old_size,
            });
        }
        if cp.size < self.size {
            return Err(Error::OldTreeLarger {
                old: self.size,
                new: cp.size,
            });
        }
        req.proof.verify(self.size, self.root, cp.size, cp.root)?;
        let cosig = witness.signature_for(signed.note.text(), Some(now_unix))?;
        Ok((cosig, signed))
    }

    /// The state remembered after cosigning the checkpoint note `latest`; the log's signature
    /// is checked again, so a tampered state file is refused rather than trusted.
    pub fn resume(origin: &str, log_key: NoteVerifier, latest: &[u8]) -> Result<Self, Error> {
        let signed = Checkpoint::open(latest, origin, &log_key)?;
        Ok(WitnessedLog {
            origin: origin.to_owned(),
            log_key,
            size: signed.checkpoint.size,
            root: signed.checkpoint.root,
        })
    }

    /// The state after cosigning `cp`.
    pub fn advanced_to(&self, cp: &Checkpoint) -> Self {
        WitnessedLog {
            size: cp.size,
            root: cp.root,
            ..self.clone()
        }
    }
}

/// Where a witness keeps, per log, the latest checkpoint it cosigned (the log-signed note).
/// Each write is durable before it returns, so a witness never cosigns a checkpoint it could
/// forget in a crash and then contradict.
#[derive(Debug)]
pub struct WitnessState {
    store: DirStore,
}

impl WitnessState {
    /// State in directory `dir`, created if missing.
    pub fn open(dir: &std::path::Path) -> Result<Self, Error> {
        Ok(Self {
            store: DirStore::open(dir)?,
        })
    }

    /// One file per origin, named by a hash so any origin makes a plain file name.
    fn path(origin: &str) -> String {
        use sha2::Digest as _;
        let hash = hex::encode(sha2::Sha256::digest(origin.as_bytes()));
        format!("logs/{}.checkpoint", &hash[..32])
    }

    /// What the witness remembers about `origin`; a log it never cosigned starts empty.
    pub fn load(&self, origin: &str, log_key: &NoteVerifier) -> Result<WitnessedLog, Error> {
        match self.store.get(&Self::path(origin))? {
            Some(note) => WitnessedLog::resume(origin, log_key.clone(), &note),
            None => Ok(WitnessedLog::new(origin, log_key.clone())),
        }
    }

    /// Records that the witness cosigned `signed`.
    pub fn save(&self, signed: &SignedCheckpoint) -> Result<(), Error> {
        self.store.put(
            &Self::path(&signed.checkpoint.origin),
            &signed.note.to_bytes(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Note, WitnessPolicy, prove_tree, stored_hashes, tree_hash};
    use ed25519_dalek::SigningKey;

    #[test]
    fn witness_cosigns_consistent_checkpoints_only() {
        let log = NoteSigner::new(
            "log",
            SignatureType::Ed25519,
            SigningKey::from_bytes(&[1; 32]),
        )
        .unwrap();
        let w = NoteSigner::new(
            "w",
            SignatureType::CosignatureV1,
            SigningKey::from_bytes(&[2; 32]),
        )
        .unwrap();
        let mut stored = Vec::new();
        for i in 0..40u64 {
            stored.extend(stored_hashes(i, &i.to_be_bytes(), &stored).unwrap());
        }
        let cp = |n: u64| Checkpoint {
            origin: "log".into(),
            size: n,
            root: tree_hash(n, &stored).unwrap(),
            extensions: vec![],
        };
        let req = |old: u64, n: u64| AddCheckpointRequest {
            old_size: old,
            proof: prove_tree(n, old, &stored).unwrap(),
            checkpoint: cp(n).sign(&log).unwrap().to_bytes(),
        };
        let state = WitnessedLog::new("log", log.verifier().clone());

        let r = req(0, 10);
        assert_eq!(AddCheckpointRequest::parse(&r.to_bytes()).unwrap(), r);
        let (cosig, signed) = state.add_checkpoint(&r, &w, 1000).unwrap();
        let mut note = signed.note.clone();
        note.push_signature(cosig);
        let policy = WitnessPolicy {
            witnesses: vec![w.verifier().clone()],
            threshold: 1,
        };
        let got = policy
            .check(&Note::parse(&note.to_bytes()).unwrap())
            .unwrap();
        assert_eq!(got[0].timestamp, Some(1000));
        let state = state.advanced_to(&signed.checkpoint);

        let r = req(10, 25);
        assert_eq!(AddCheckpointRequest::parse(&r.to_bytes()).unwrap(), r);
        let (_, signed) = state.add_checkpoint(&r, &w, 1001).unwrap();
        let state = state.advanced_to(&signed.checkpoint);

        // Stale old size: 409 with the witness's size.
        assert!(matches!(
            state.add_checkpoint(&req(10, 30), &w, 1002),
            Err(Error::WitnessOldSize {
                witness: 25,
                claimed: 10
            })
        ));
        // A fork: same size as cosigned, another root.
        let mut fork = cp(25);
        fork.root = cp(24).root;
        let forked = AddCheckpointRequest {
            old_size: 25,
            proof: ConsistencyProof::default(),
            checkpoint: fork.sign(&log).unwrap().to_bytes(),
        };
        assert!(matches!(
            state.add_checkpoint(&forked, &w, 1003),
            Err(Error::SameSizeDifferentRoot { size: 25, .. })
        ));
        // A bad proof.
        let mut bad = req(25, 30);
        bad.proof.0[0].0[0] ^= 1;
        assert!(matches!(
            state.add_checkpoint(&bad, &w, 1004),
            Err(Error::ConsistencyRootMismatch { .. })
        ));
        // Not signed by the log.
        let stranger = NoteSigner::new(
            "log",
            SignatureType::Ed25519,
            SigningKey::from_bytes(&[3; 32]),
        )
        .unwrap();
        let mut unsigned = req(25, 30);
        unsigned.checkpoint = cp(30).sign(&stranger).unwrap().to_bytes();
        assert!(matches!(
            state.add_checkpoint(&unsigned, &w, 1005),
            Err(Error::NoKnownSignature { .. })
        ));
        // A rollback to a smaller tree.
        let small = AddCheckpointRequest {
            old_size: 25,
            proof: ConsistencyProof::default(),
            checkpoint: cp(20).sign(&log).unwrap().to_bytes(),
        };
        assert!(matches!(
            state.add_checkpoint(&small, &w, 1006),
            Err(Error::OldTreeLarger { old: 25, new: 20 })
        ));
    }

    #[test]
    fn malformed_requests_are_rejected() {
        let h = empty_tree_hash().to_base64();
        for (body, what) in [
            ("old 1\n".to_string(), "no blank line"),
            ("\n\nx".to_string(), "no old line"),
            ("old 01\n\nx".to_string(), "leading zero"),
            ("old -1\n\nx".to_string(), "negative"),
            (format!("old 1\n{h}x\n\nx"), "bad hash"),
            (
                format!("old 1\n{}\n\nx", vec![h.as_str(); 127].join("\n")),
                "too many",
            ),
        ] {
            assert!(
                AddCheckpointRequest::parse(body.as_bytes()).is_err(),
                "{what} accepted"
            );
        }
        assert!(AddCheckpointRequest::parse(b"old 0\n\nx").is_ok());
    }
}
