//! C2SP checkpoints (c2sp.org/tlog-checkpoint), witness cosignature policy
//! (c2sp.org/tlog-cosignature) and tlog-proof files (c2sp.org/tlog-proof).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use crate::note::{Note, NoteSigner, NoteVerifier, SignatureType, VerifiedSignature};
use crate::{Error, Hash, InclusionProof, record_hash};

/// A checkpoint body: origin, tree size, root hash and optional extension lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin line, unique to the log.
    pub origin: String,
    /// Number of leaves.
    pub size: u64,
    /// The RFC 6962 root hash of the tree of `size` leaves.
    pub root: Hash,
    /// Extension lines after the root, without newlines.
    pub extensions: Vec<String>,
}

/// A checkpoint whose log signature verified, with the note it came in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedCheckpoint {
    /// The parsed body.
    pub checkpoint: Checkpoint,
    /// The signed note, with every signature line, known or not.
    pub note: Note,
}

impl Checkpoint {
    /// Parses a checkpoint body (c2sp.org/tlog-checkpoint, "Note text").
    pub fn parse(text: &str) -> Result<Self, Error> {
        let bad = |line: usize, rule: &'static str, text: &str| Error::BadCheckpoint {
            line,
            rule,
            text: text.chars().take(200).collect(),
        };
        let body = text
            .strip_suffix('\n')
            .ok_or_else(|| bad(0, "body must end in a newline", ""))?;
        let mut lines = body.split('\n');
        let origin = lines.next().unwrap_or_default();
        if origin.is_empty() {
            return Err(bad(1, "origin must be non-empty", origin));
        }
        let size_line = lines
            .next()
            .ok_or_else(|| bad(2, "missing tree size", ""))?;
        // Decimal, no sign, no leading zeros.
        if size_line.is_empty()
            || !size_line.bytes().all(|b| b.is_ascii_digit())
            || (size_line.len() > 1 && size_line.starts_with('0'))
        {
            return Err(bad(2, "tree size must be canonical decimal", size_line));
        }
        let size: u64 = size_line
            .parse()
            .ok()
            .filter(|&s| s <= i64::MAX as u64)
            .ok_or_else(|| bad(2, "tree size out of range", size_line))?;
        let root_line = lines
            .next()
            .ok_or_else(|| bad(3, "missing root hash", ""))?;
        let root = Hash::from_base64(root_line, "checkpoint root")
            .map_err(|_| bad(3, "root must be base64 of 32 bytes", root_line))?;
        let mut extensions = Vec::new();
        for (i, l) in lines.enumerate() {
            if l.is_empty() {
                return Err(bad(i + 4, "extension lines must be non-empty", l));
            }
            extensions.push(l.to_owned());
        }
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            extensions,
        })
    }

    /// The checkpoint body.
    pub fn to_text(&self) -> String {
        let mut s = format!("{}\n{}\n{}\n", self.origin, self.size, self.root);
        for e in &self.extensions {
            s.push_str(e);
            s.push('\n');
        }
        s
    }

    /// Signs the body with the log key.
    pub fn sign(&self, log: &NoteSigner) -> Result<Note, Error> {
        let mut note = Note::new(self.to_text())?;
        log.sign(&mut note, None)?;
        Ok(note)
    }

    /// Opens a signed checkpoint: parses the note, verifies the log's signature (unknown
    /// signatures are ignored) and checks the origin.
    pub fn open(msg: &[u8], origin: &str, log: &NoteVerifier) -> Result<SignedCheckpoint, Error> {
        let note = Note::parse(msg)?;
        if log.signature_type() != SignatureType::Ed25519 {
            return Err(Error::UnsupportedKeyType {
                key_type: log.signature_type().byte(),
            });
        }
        note.verify(std::slice::from_ref(log))?;
        let checkpoint = Checkpoint::parse(note.text())?;
        if checkpoint.origin != origin {
            return Err(Error::OriginMismatch {
                expected: origin.to_owned(),
                actual: checkpoint.origin,
            });
        }
        Ok(SignedCheckpoint { checkpoint, note })
    }
}

/// Which witnesses must cosign a checkpoint: at least `threshold` of `witnesses`.
#[derive(Clone, Debug)]
pub struct WitnessPolicy {
    /// Witness keys of signature type cosignature/v1.
    pub witnesses: Vec<NoteVerifier>,
    /// How many of them must have cosigned.
    pub threshold: usize,
}

impl WitnessPolicy {
    /// Checks the cosignatures on a checkpoint note and returns the ones that verified.
    pub fn check(&self, note: &Note) -> Result<Vec<VerifiedSignature>, Error> {
        let cosigners: Vec<NoteVerifier> = self
            .witnesses
            .iter()
            .filter(|w| w.signature_type() == SignatureType::CosignatureV1)
            .cloned()
            .collect();
        let verified = note.verify_known(&cosigners)?;
        if verified.len() < self.threshold {
            return Err(Error::WitnessThreshold {
                required: self.threshold,
                verified: verified.len(),
            });
        }
        Ok(verified)
    }
}

/// The first line of a tlog-proof file.
const PROOF_HEADER: &str = "c2sp.org/tlog-proof@v1";
/// More hashes than any tree of up to 2^63 leaves needs.
const MAX_PROOF_HASHES: usize = 63;

/// A tlog-proof: an entry's index, its inclusion proof and the checkpoint it is proved
/// against, with optional opaque extra data (c2sp.org/tlog-proof).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlogProof {
    /// Application-defined extra data.
    pub extra: Option<Vec<u8>>,
    /// The entry's index.
    pub index: u64,
    /// The RFC 6962 inclusion proof.
    pub proof: InclusionProof,
    /// The signed checkpoint note, possibly with cosignatures.
    pub checkpoint: Vec<u8>,
}

impl TlogProof {
    /// Parses a tlog-proof file. The checkpoint is parsed as a note, not yet verified.
    pub fn parse(data: &[u8]) -> Result<Self, Error> {
        let bad = |line: usize, rule: &'static str| Error::BadProofFile { line, rule };
        if data.len() > crate::note::MAX_NOTE_SIZE + 64 * 64 {
            return Err(Error::NoteTooLarge {
                len: data.len(),
                max: crate::note::MAX_NOTE_SIZE + 64 * 64,
            });
        }
        let text = std::str::from_utf8(data).map_err(|_| Error::NoteNotUtf8)?;
        let (head, checkpoint) = text
            .split_once("\n\n")
            .ok_or(bad(0, "no blank line before the checkpoint"))?;
        let mut lines = head.split('\n').enumerate().map(|(i, l)| (i + 1, l));
        match lines.next() {
            Some((_, PROOF_HEADER)) => {}
            _ => return Err(bad(1, "first line must be c2sp.org/tlog-proof@v1")),
        }
        let (mut n, mut line) = lines.next().ok_or(bad(2, "missing index line"))?;
        let mut extra = None;
        if let Some(b) = line.strip_prefix("extra ") {
            extra = Some(
                B64.decode(b)
                    .map_err(|_| bad(n, "extra data must be base64"))?,
            );
            (n, line) = lines.next().ok_or(bad(n + 1, "missing index line"))?;
        }
        let index = line
            .strip_prefix("index ")
            .filter(|d| {
                !d.is_empty()
                    && d.bytes().all(|b| b.is_ascii_digit())
                    && (d.len() == 1 || !d.starts_with('0'))
            })
            .and_then(|d| d.parse::<u64>().ok())
            .ok_or(bad(n, "expected index <canonical decimal>"))?;
        let mut hashes = Vec::new();
        for (n, line) in lines {
            if hashes.len() == MAX_PROOF_HASHES {
                return Err(bad(n, "too many proof hashes"));
            }
            hashes.push(
                Hash::from_base64(line, "tlog-proof hash")
                    .map_err(|_| bad(n, "proof hash must be base64 of 32 bytes"))?,
            );
        }
        // The checkpoint must at least be a well-formed note.
        Note::parse(checkpoint.as_bytes())?;
        Ok(TlogProof {
            extra,
            index,
            proof: InclusionProof(hashes),
            checkpoint: checkpoint.as_bytes().to_vec(),
        })
    }

    /// The file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut s = format!("{PROOF_HEADER}\n");
        if let Some(e) = &self.extra {
            s.push_str(&format!("extra {}\n", B64.encode(e)));
        }
        s.push_str(&format!("index {}\n", self.index));
        for h in &self.proof.0 {
            s.push_str(&format!("{h}\n"));
        }
        s.push('\n');
        let mut out = s.into_bytes();
        out.extend_from_slice(&self.checkpoint);
        out
    }

    /// Verifies that `entry` is in the log at `self.index`, under a checkpoint signed by `log`
    /// for `origin`. Returns the checkpoint so callers can apply a witness policy to its note.
    pub fn verify(
        &self,
        entry: &[u8],
        origin: &str,
        log: &NoteVerifier,
    ) -> Result<SignedCheckpoint, Error> {
        let signed = Checkpoint::open(&self.checkpoint, origin, log)?;
        self.proof.verify(
            self.index,
            signed.checkpoint.size,
            record_hash(entry),
            signed.checkpoint.root,
        )?;
        Ok(signed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{prove_record, stored_hashes, tree_hash};
    use ed25519_dalek::SigningKey;

    fn key(name: &str, t: SignatureType, seed: u8) -> NoteSigner {
        NoteSigner::new(name, t, SigningKey::from_bytes(&[seed; 32])).unwrap()
    }

    #[test]
    fn checkpoint_round_trips_and_opens() {
        let log = key("example.com/log", SignatureType::Ed25519, 1);
        let cp = Checkpoint {
            origin: "example.com/log".into(),
            size: 42,
            root: record_hash(b"r"),
            extensions: vec!["ext one".into()],
        };
        assert_eq!(Checkpoint::parse(&cp.to_text()).unwrap(), cp);
        let note = cp.sign(&log).unwrap();
        let opened = Checkpoint::open(&note.to_bytes(), "example.com/log", log.verifier()).unwrap();
        assert_eq!(opened.checkpoint, cp);
        assert!(matches!(
            Checkpoint::open(&note.to_bytes(), "other", log.verifier()),
            Err(Error::OriginMismatch { .. })
        ));
        let other = key("example.com/log", SignatureType::Ed25519, 2);
        assert!(matches!(
            Checkpoint::open(&note.to_bytes(), "example.com/log", other.verifier()),
            Err(Error::NoKnownSignature { .. })
        ));
    }

    #[test]
    fn malformed_checkpoints_are_rejected() {
        let root = record_hash(b"r").to_base64();
        for (text, what) in [
            (format!("o\n1\n{root}"), "no final newline"),
            (format!("\n1\n{root}\n"), "empty origin"),
            (format!("o\n01\n{root}\n"), "leading zero"),
            (format!("o\n-1\n{root}\n"), "negative"),
            (format!("o\n+1\n{root}\n"), "plus"),
            (format!("o\n\n{root}\n"), "empty size"),
            (format!("o\n99999999999999999999\n{root}\n"), "overflow"),
            (format!("o\n9223372036854775808\n{root}\n"), "beyond int64"),
            ("o\n1\nAAAA\n".to_string(), "short root"),
            ("o\n1\n".to_string(), "no root"),
            (format!("o\n1\n{root}\n\n"), "empty extension"),
        ] {
            assert!(
                matches!(Checkpoint::parse(&text), Err(Error::BadCheckpoint { .. })),
                "{what} accepted"
            );
        }
        assert!(Checkpoint::parse(&format!("o\n0\n{root}\n")).is_ok());
    }

    #[test]
    fn witness_policy_counts_valid_cosignatures() {
        let log = key("log", SignatureType::Ed25519, 1);
        let w1 = key("w1", SignatureType::CosignatureV1, 2);
        let w2 = key("w2", SignatureType::CosignatureV1, 3);
        let w3 = key("w3", SignatureType::CosignatureV1, 4);
        let cp = Checkpoint {
            origin: "log".into(),
            size: 1,
            root: record_hash(b"x"),
            extensions: vec![],
        };
        let mut note = cp.sign(&log).unwrap();
        w1.sign(&mut note, Some(10)).unwrap();
        w2.sign(&mut note, Some(11)).unwrap();
        let policy = |t| WitnessPolicy {
            witnesses: vec![
                w1.verifier().clone(),
                w2.verifier().clone(),
                w3.verifier().clone(),
            ],
            threshold: t,
        };
        let note = Note::parse(&note.to_bytes()).unwrap();
        assert_eq!(policy(2).check(&note).unwrap().len(), 2);
        assert!(matches!(
            policy(3).check(&note),
            Err(Error::WitnessThreshold {
                required: 3,
                verified: 2
            })
        ));
    }

    #[test]
    fn tlog_proof_round_trips_verifies_and_rejects_damage() {
        let log = key("log", SignatureType::Ed25519, 1);
        let mut stored = Vec::new();
        for i in 0..10u64 {
            stored.extend(stored_hashes(i, format!("e{i}").as_bytes(), &stored).unwrap());
        }
        let cp = Checkpoint {
            origin: "log".into(),
            size: 10,
            root: tree_hash(10, &stored).unwrap(),
            extensions: vec![],
        };
        let proof = TlogProof {
            extra: Some(b"hello".to_vec()),
            index: 7,
            proof: prove_record(10, 7, &stored).unwrap(),
            checkpoint: cp.sign(&log).unwrap().to_bytes(),
        };
        let bytes = proof.to_bytes();
        assert!(bytes.starts_with(b"c2sp.org/tlog-proof@v1\nextra aGVsbG8=\nindex 7\n"));
        let parsed = TlogProof::parse(&bytes).unwrap();
        assert_eq!(parsed, proof);
        parsed.verify(b"e7", "log", log.verifier()).unwrap();
        assert!(matches!(
            parsed.verify(b"e6", "log", log.verifier()),
            Err(Error::InclusionRootMismatch { .. })
        ));
        let no_extra = TlogProof {
            extra: None,
            ..proof.clone()
        };
        assert_eq!(TlogProof::parse(&no_extra.to_bytes()).unwrap(), no_extra);

        let text = String::from_utf8(bytes).unwrap();
        for (bad, what) in [
            (
                text.replacen("c2sp.org/tlog-proof@v1", "c2sp.org/tlog-proof@v2", 1),
                "version",
            ),
            (text.replacen("index 7", "index 07", 1), "leading zero"),
            (text.replacen("index 7", "index -7", 1), "negative"),
            (text.replacen("index 7\n", "", 1), "no index"),
            (text.replacen("extra aGVsbG8=", "extra !!", 1), "bad extra"),
            (text.replacen("\n\n", "\n", 1), "no blank line"),
            (text.replacen("=\n", "\n", 1), "bad hash"),
            (text.replacen("\n\n", "\nAAAA\n\n", 1), "short hash"),
            (text[..text.len() - 1].to_string(), "truncated checkpoint"),
        ] {
            assert!(TlogProof::parse(bad.as_bytes()).is_err(), "{what} accepted");
        }
        let many = text.replacen(
            "\n\n",
            &format!("\n{}\n", vec![cp.root.to_base64(); 64].join("\n")),
            1,
        );
        assert!(matches!(
            TlogProof::parse(many.as_bytes()),
            Err(Error::BadProofFile { .. })
        ));
    }
}
