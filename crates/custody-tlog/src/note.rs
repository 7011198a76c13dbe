//! C2SP signed notes (c2sp.org/signed-note): text, signature lines, Ed25519 keys and key strings,
//! and witness cosignatures (c2sp.org/tlog-cosignature, signature type 0x04).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::Error;

/// Largest note accepted by [`Note::parse`].
pub const MAX_NOTE_SIZE: usize = 1 << 20;
/// Most signature lines accepted on one note (the limit Go's `sumdb/note` uses).
pub const MAX_SIGNATURES: usize = 100;
/// The em dash and space that start every signature line.
const SIG_PREFIX: &str = "\u{2014} ";

/// A signed-note key ID: the first four bytes of SHA-256(name || "\n" || type || key).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub struct KeyId(pub u32);

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08x}", self.0)
    }
}

impl KeyId {
    /// Computes the key ID of a key of `signature_type` (c2sp.org/signed-note, "Signatures").
    pub fn compute(name: &str, signature_type: SignatureType, public_key: &[u8]) -> KeyId {
        let mut h = Sha256::new();
        h.update(name.as_bytes());
        h.update(b"\n");
        h.update([signature_type.byte()]);
        h.update(public_key);
        let d = h.finalize();
        KeyId(u32::from_be_bytes([d[0], d[1], d[2], d[3]]))
    }
}

/// The signature types this crate implements.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub enum SignatureType {
    /// 0x01: Ed25519 over the note text.
    Ed25519,
    /// 0x04: a witness cosignature, Ed25519 over `cosignature/v1\ntime <t>\n` + checkpoint.
    CosignatureV1,
}

impl SignatureType {
    /// The type byte.
    pub fn byte(self) -> u8 {
        match self {
            SignatureType::Ed25519 => 0x01,
            SignatureType::CosignatureV1 => 0x04,
        }
    }

    fn from_byte(b: u8) -> Result<Self, Error> {
        match b {
            0x01 => Ok(SignatureType::Ed25519),
            0x04 => Ok(SignatureType::CosignatureV1),
            key_type => Err(Error::UnsupportedKeyType { key_type }),
        }
    }
}

/// Key names are non-empty and hold no whitespace and no `+` (c2sp.org/signed-note, "Keys").
fn check_key_name(name: &str) -> Result<(), Error> {
    if name.is_empty()
        || name.contains('+')
        || name.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(Error::BadKeyName {
            name: name.chars().take(100).collect(),
        });
    }
    Ok(())
}

/// Checks note text: non-empty, ends in a newline, does not end in a blank line, no control
/// characters but newline (c2sp.org/signed-note, "Note text").
fn check_text(text: &str) -> Result<(), Error> {
    if !text.ends_with('\n') || text.ends_with("\n\n") || text == "\n" {
        return Err(Error::BadNoteText);
    }
    if let Some((offset, ch)) = text
        .char_indices()
        .find(|&(_, c)| c.is_control() && c != '\n')
    {
        return Err(Error::NoteControlCharacter { ch, offset });
    }
    Ok(())
}

/// One signature line of a note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteSignature {
    /// The key name.
    pub name: String,
    /// The key ID.
    pub key_id: KeyId,
    /// The signature bytes after the key ID.
    pub signature: Vec<u8>,
}

impl NoteSignature {
    /// Parses one signature line (`— name base64`, without its newline).
    pub fn parse_line(line: &str) -> Option<Self> {
        parse_signature_line(line)
    }

    /// The signature line, ending in a newline.
    pub fn line(&self) -> String {
        let mut blob = Vec::with_capacity(4 + self.signature.len());
        blob.extend_from_slice(&self.key_id.0.to_be_bytes());
        blob.extend_from_slice(&self.signature);
        format!("{SIG_PREFIX}{} {}\n", self.name, B64.encode(blob))
    }
}

/// A signed note: text and one or more signature lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    text: String,
    signatures: Vec<NoteSignature>,
}

impl Note {
    /// An unsigned note with `text`; fails if the text breaks the note text rules.
    pub fn new(text: impl Into<String>) -> Result<Self, Error> {
        let text = text.into();
        check_text(&text)?;
        Ok(Note {
            text,
            signatures: Vec::new(),
        })
    }

    /// Parses a signed note, checking its structure but no signature.
    pub fn parse(msg: &[u8]) -> Result<Self, Error> {
        if msg.len() > MAX_NOTE_SIZE {
            return Err(Error::NoteTooLarge {
                len: msg.len(),
                max: MAX_NOTE_SIZE,
            });
        }
        let msg = std::str::from_utf8(msg).map_err(|_| Error::NoteNotUtf8)?;
        // The signature block follows the last blank line (c2sp.org/signed-note, "Format").
        let split = msg.rfind("\n\n").ok_or(Error::NoteMissingSignatureBlock)?;
        let (text, sigs) = (&msg[..split + 1], &msg[split + 2..]);
        check_text(text).map_err(|e| match e {
            Error::BadNoteText => Error::NoteMissingSignatureBlock,
            e => e,
        })?;
        if sigs.is_empty() || !sigs.ends_with('\n') {
            return Err(Error::NoteMissingSignatureBlock);
        }
        let lines: Vec<&str> = sigs[..sigs.len() - 1].split('\n').collect();
        if lines.len() > MAX_SIGNATURES {
            return Err(Error::TooManySignatures {
                count: lines.len(),
                max: MAX_SIGNATURES,
            });
        }
        let mut signatures = Vec::with_capacity(lines.len());
        for (i, line) in lines.iter().enumerate() {
            signatures.push(
                parse_signature_line(line).ok_or_else(|| Error::BadSignatureLine {
                    line: i + 1,
                    text: line.chars().take(200).collect(),
                })?,
            );
        }
        Ok(Note {
            text: text.to_owned(),
            signatures,
        })
    }

    /// The note text, ending in a newline.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The signature lines, in order.
    pub fn signatures(&self) -> &[NoteSignature] {
        &self.signatures
    }

    /// Appends a signature line.
    pub fn push_signature(&mut self, sig: NoteSignature) {
        self.signatures.push(sig);
    }

    /// The serialized note: text, a blank line, the signature lines.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.text.clone();
        out.push('\n');
        for s in &self.signatures {
            out.push_str(&s.line());
        }
        out.into_bytes()
    }

    /// Verifies the signatures from keys in `verifiers`, ignoring unknown keys
    /// (c2sp.org/signed-note, "Verification"). Requires at least one verified signature.
    pub fn verify(&self, verifiers: &[NoteVerifier]) -> Result<Vec<VerifiedSignature>, Error> {
        let verified = self.verify_known(verifiers)?;
        if verified.is_empty() {
            return Err(Error::NoKnownSignature {
                signers: self
                    .signatures
                    .iter()
                    .map(|s| format!("{}+{}", s.name, s.key_id))
                    .collect(),
            });
        }
        Ok(verified)
    }

    /// Verifies the signatures from keys in `verifiers` and returns them; signatures from
    /// unknown keys are ignored, so the result may be empty. A known key's bad or repeated
    /// signature is an error.
    pub fn verify_known(
        &self,
        verifiers: &[NoteVerifier],
    ) -> Result<Vec<VerifiedSignature>, Error> {
        let mut verified: Vec<VerifiedSignature> = Vec::new();
        for sig in &self.signatures {
            let Some(v) = verifiers
                .iter()
                .find(|v| v.key_id == sig.key_id && v.name == sig.name)
            else {
                continue;
            };
            if verified
                .iter()
                .any(|s| s.key_id == sig.key_id && s.name == sig.name)
            {
                return Err(Error::DuplicateSignature {
                    name: sig.name.clone(),
                    key_id: sig.key_id,
                });
            }
            let timestamp = v
                .check(self.text.as_bytes(), &sig.signature)
                .ok_or_else(|| Error::InvalidSignature {
                    name: sig.name.clone(),
                    key_id: sig.key_id,
                })?;
            verified.push(VerifiedSignature {
                name: sig.name.clone(),
                key_id: sig.key_id,
                signature_type: v.signature_type,
                timestamp,
            });
        }
        Ok(verified)
    }
}

fn parse_signature_line(line: &str) -> Option<NoteSignature> {
    let rest = line.strip_prefix(SIG_PREFIX)?;
    let (name, b64) = rest.split_once(' ')?;
    check_key_name(name).ok()?;
    let blob = B64.decode(b64).ok()?;
    // Four bytes of key ID and at least one byte of signature.
    if blob.len() < 5 {
        return None;
    }
    Some(NoteSignature {
        name: name.to_owned(),
        key_id: KeyId(u32::from_be_bytes([blob[0], blob[1], blob[2], blob[3]])),
        signature: blob[4..].to_vec(),
    })
}

/// A signature that verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedSignature {
    /// Key name.
    pub name: String,
    /// Key ID.
    pub key_id: KeyId,
    /// The key's signature type.
    pub signature_type: SignatureType,
    /// For a cosignature, the time (seconds since the epoch) the witness signed at.
    pub timestamp: Option<u64>,
}

/// The message a witness signs: `cosignature/v1\ntime <t>\n` then the checkpoint text
/// (c2sp.org/tlog-cosignature, "Signed message").
fn cosigned_message(timestamp: u64, text: &[u8]) -> Vec<u8> {
    let mut m = format!("cosignature/v1\ntime {timestamp}\n").into_bytes();
    m.extend_from_slice(text);
    m
}

fn parse_key_string(
    s: &str,
    kind: &'static str,
) -> Result<(String, KeyId, SignatureType, Vec<u8>), Error> {
    let bad = |reason| Error::BadKeyString { kind, reason };
    // The base64 key may itself contain '+', so split off only the name and the key ID.
    let mut parts = s.splitn(3, '+');
    let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad("expected name+keyid+key"));
    };
    check_key_name(name)?;
    if id.len() != 8
        || !id
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    {
        return Err(bad("key ID is not 8 lowercase hex digits"));
    }
    let stated = KeyId(u32::from_str_radix(id, 16).map_err(|_| bad("key ID is not hex"))?);
    let blob = B64.decode(key).map_err(|_| bad("key is not base64"))?;
    let [t, material @ ..] = blob.as_slice() else {
        return Err(bad("key is empty"));
    };
    let signature_type = SignatureType::from_byte(*t)?;
    let material: [u8; 32] = material
        .try_into()
        .map_err(|_| bad("key is not 32 bytes"))?;
    Ok((name.to_owned(), stated, signature_type, material.to_vec()))
}

/// A public key that verifies note signatures, with its name and key ID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    key_id: KeyId,
    signature_type: SignatureType,
    key: VerifyingKey,
}

impl NoteVerifier {
    /// A verifier for `key` under `name`, of the given signature type.
    pub fn new(
        name: &str,
        signature_type: SignatureType,
        key: VerifyingKey,
    ) -> Result<Self, Error> {
        check_key_name(name)?;
        Ok(NoteVerifier {
            name: name.to_owned(),
            key_id: KeyId::compute(name, signature_type, key.as_bytes()),
            signature_type,
            key,
        })
    }

    /// Parses a verifier key string `name+hex(keyid)+base64(type||key)`, checking the key ID.
    pub fn parse(vkey: &str) -> Result<Self, Error> {
        let (name, stated, signature_type, material) =
            parse_key_string(vkey.trim_end_matches('\n'), "verifier")?;
        let bytes: [u8; 32] = material
            .as_slice()
            .try_into()
            .map_err(|_| Error::BadKeyString {
                kind: "verifier",
                reason: "key is not 32 bytes",
            })?;
        let key = VerifyingKey::from_bytes(&bytes).map_err(|_| Error::BadKeyString {
            kind: "verifier",
            reason: "not an Ed25519 public key",
        })?;
        let v = NoteVerifier::new(&name, signature_type, key)?;
        if v.key_id != stated {
            return Err(Error::KeyIdMismatch {
                name,
                stated,
                computed: v.key_id,
            });
        }
        Ok(v)
    }

    /// The verifier key string `name+hex(keyid)+base64(type||key)`.
    pub fn to_vkey_string(&self) -> String {
        let mut blob = vec![self.signature_type.byte()];
        blob.extend_from_slice(self.key.as_bytes());
        format!("{}+{}+{}", self.name, self.key_id, B64.encode(blob))
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// The signature type.
    pub fn signature_type(&self) -> SignatureType {
        self.signature_type
    }

    /// The Ed25519 public key.
    pub fn public_key(&self) -> &VerifyingKey {
        &self.key
    }

    /// Checks one signature over `text`; `Some(timestamp)` if it verifies.
    fn check(&self, text: &[u8], sig: &[u8]) -> Option<Option<u64>> {
        match self.signature_type {
            SignatureType::Ed25519 => {
                let s = Signature::from_slice(sig).ok()?;
                self.key.verify_strict(text, &s).ok()?;
                Some(None)
            }
            SignatureType::CosignatureV1 => {
                // timestamp (8 bytes, big-endian) || Ed25519 signature (c2sp.org/tlog-cosignature).
                let (t, s) = sig.split_first_chunk::<8>()?;
                let t = u64::from_be_bytes(*t);
                let s = Signature::from_slice(s).ok()?;
                self.key
                    .verify_strict(&cosigned_message(t, text), &s)
                    .ok()?;
                Some(Some(t))
            }
        }
    }
}

/// Why a note key held elsewhere could not sign: its holder's own error.
pub type SignError = Box<dyn std::error::Error + Send + Sync>;

/// An Ed25519 key that signs notes, wherever it is held: in this process (an
/// `ed25519_dalek::SigningKey`), or elsewhere (a key file behind custody-crypto's `Signer`, a
/// hardware token) that is handed only the bytes to sign and never gives out its seed.
pub trait NoteKey: Send + Sync {
    /// The public key.
    fn verifying_key(&self) -> VerifyingKey;
    /// An Ed25519 signature over `message`, or why its holder could not make one.
    fn sign_message(&self, message: &[u8]) -> Result<[u8; 64], SignError>;
    /// The seed, when the key is in this process and may be written out as a key string.
    fn seed(&self) -> Option<[u8; 32]> {
        None
    }
}

impl NoteKey for SigningKey {
    fn verifying_key(&self) -> VerifyingKey {
        SigningKey::verifying_key(self)
    }
    fn sign_message(&self, message: &[u8]) -> Result<[u8; 64], SignError> {
        Ok(self.sign(message).to_bytes())
    }
    fn seed(&self) -> Option<[u8; 32]> {
        Some(self.to_bytes())
    }
}

/// A private key that signs notes (Ed25519) or cosigns checkpoints (cosignature/v1).
pub struct NoteSigner {
    verifier: NoteVerifier,
    key: Box<dyn NoteKey>,
}

impl fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the private key.
        f.debug_struct("NoteSigner")
            .field("verifier", &self.verifier)
            .finish_non_exhaustive()
    }
}

impl NoteSigner {
    /// A signer for `key` (held in this process) under `name`.
    pub fn new(name: &str, signature_type: SignatureType, key: SigningKey) -> Result<Self, Error> {
        Self::with_key(name, signature_type, Box::new(key))
    }

    /// A signer for `key`, wherever it is held, under `name`.
    pub fn with_key(
        name: &str,
        signature_type: SignatureType,
        key: Box<dyn NoteKey>,
    ) -> Result<Self, Error> {
        Ok(NoteSigner {
            verifier: NoteVerifier::new(name, signature_type, key.verifying_key())?,
            key,
        })
    }

    /// A signer with a fresh key from the operating system's random source.
    pub fn generate(name: &str, signature_type: SignatureType) -> Result<Self, Error> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|_| Error::Random)?;
        NoteSigner::new(name, signature_type, SigningKey::from_bytes(&seed))
    }

    /// Parses a signer key string `PRIVATE+KEY+name+hex(keyid)+base64(type||seed)`.
    pub fn parse(skey: &str) -> Result<Self, Error> {
        let rest = skey
            .trim_end_matches('\n')
            .strip_prefix("PRIVATE+KEY+")
            .ok_or(Error::BadKeyString {
                kind: "signer",
                reason: "missing PRIVATE+KEY+ prefix",
            })?;
        let (name, stated, signature_type, material) = parse_key_string(rest, "signer")?;
        let seed: [u8; 32] = material
            .as_slice()
            .try_into()
            .map_err(|_| Error::BadKeyString {
                kind: "signer",
                reason: "key is not 32 bytes",
            })?;
        let s = NoteSigner::new(&name, signature_type, SigningKey::from_bytes(&seed))?;
        if s.verifier.key_id != stated {
            return Err(Error::KeyIdMismatch {
                name,
                stated,
                computed: s.verifier.key_id,
            });
        }
        Ok(s)
    }

    /// The signer key string, for a key held in this process (`None` for one held elsewhere).
    /// It holds the private key: store it like one.
    pub fn to_skey_string(&self) -> Option<String> {
        let mut blob = vec![self.verifier.signature_type.byte()];
        blob.extend_from_slice(&zeroize::Zeroizing::new(self.key.seed()?)[..]);
        Some(format!(
            "PRIVATE+KEY+{}+{}+{}",
            self.verifier.name,
            self.verifier.key_id,
            B64.encode(blob)
        ))
    }

    /// The matching verifier.
    pub fn verifier(&self) -> &NoteVerifier {
        &self.verifier
    }

    /// Signs `note`'s text and appends the signature line. For a cosignature/v1 key,
    /// `timestamp` (seconds since the epoch) is required and bound into the signature.
    pub fn sign(&self, note: &mut Note, timestamp: Option<u64>) -> Result<(), Error> {
        let sig = self.signature_for(&note.text, timestamp)?;
        note.push_signature(sig);
        Ok(())
    }

    fn sign_bytes(&self, message: &[u8]) -> Result<[u8; 64], Error> {
        self.key
            .sign_message(message)
            .map_err(|source| Error::NoteKeySign {
                name: self.verifier.name.clone(),
                source,
            })
    }

    /// The signature line this key makes over `text` (see [`NoteSigner::sign`]).
    pub fn signature_for(
        &self,
        text: &str,
        timestamp: Option<u64>,
    ) -> Result<NoteSignature, Error> {
        check_text(text)?;
        let signature = match (self.verifier.signature_type, timestamp) {
            (SignatureType::Ed25519, _) => self.sign_bytes(text.as_bytes())?.to_vec(),
            (SignatureType::CosignatureV1, Some(t)) => {
                let s = self.sign_bytes(&cosigned_message(t, text.as_bytes()))?;
                let mut out = t.to_be_bytes().to_vec();
                out.extend_from_slice(&s);
                out
            }
            (SignatureType::CosignatureV1, None) => {
                return Err(Error::BadKeyString {
                    kind: "signer",
                    reason: "a cosignature/v1 key signs only with a timestamp",
                });
            }
        };
        Ok(NoteSignature {
            name: self.verifier.name.clone(),
            key_id: self.verifier.key_id,
            signature,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer(name: &str, t: SignatureType, seed: u8) -> NoteSigner {
        NoteSigner::new(name, t, SigningKey::from_bytes(&[seed; 32])).unwrap()
    }

    /// Go's `sumdb/note` example key pair (golang.org/x/mod/sumdb/note, package documentation).
    const GO_SKEY: &str =
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const GO_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const GO_NOTE: &str = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n\n\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

    #[test]
    fn go_example_note_verifies() {
        let v = NoteVerifier::parse(GO_VKEY).unwrap();
        assert_eq!(v.to_vkey_string(), GO_VKEY);
        let s = NoteSigner::parse(GO_SKEY).unwrap();
        assert_eq!(s.verifier(), &v);
        assert_eq!(s.to_skey_string().as_deref(), Some(GO_SKEY));
        let n = Note::parse(GO_NOTE.as_bytes()).unwrap();
        assert_eq!(n.to_bytes(), GO_NOTE.as_bytes());
        let ok = n.verify(std::slice::from_ref(&v)).unwrap();
        assert_eq!(ok[0].name, "PeterNeumann");
        // Ed25519 is deterministic: re-signing gives the same note.
        let mut again = Note::new(n.text()).unwrap();
        s.sign(&mut again, None).unwrap();
        assert_eq!(again.to_bytes(), GO_NOTE.as_bytes());
    }

    #[test]
    fn unknown_signatures_are_ignored_bad_known_ones_rejected() {
        let log = signer("log.example", SignatureType::Ed25519, 1);
        let other = signer("other.example", SignatureType::Ed25519, 2);
        let mut n = Note::new("hello\n").unwrap();
        other.sign(&mut n, None).unwrap();
        log.sign(&mut n, None).unwrap();
        let parsed = Note::parse(&n.to_bytes()).unwrap();
        let got = parsed.verify(&[log.verifier().clone()]).unwrap();
        assert_eq!(got.len(), 1);
        // Only an unknown key: no known signature.
        let stranger = signer("stranger", SignatureType::Ed25519, 3);
        assert!(matches!(
            parsed.verify(&[stranger.verifier().clone()]),
            Err(Error::NoKnownSignature { .. })
        ));
        // Same name and ID, wrong key material: the signature fails, which is an error.
        let impostor = NoteVerifier {
            key: stranger.verifier().key,
            ..log.verifier().clone()
        };
        assert!(matches!(
            parsed.verify(&[impostor]),
            Err(Error::InvalidSignature { .. })
        ));
        // Altered text.
        let mut bytes = n.to_bytes();
        bytes[0] = b'j';
        assert!(matches!(
            Note::parse(&bytes)
                .unwrap()
                .verify(&[log.verifier().clone()]),
            Err(Error::InvalidSignature { .. })
        ));
        // A repeated signature from a known key.
        let mut dup = n.clone();
        log.sign(&mut dup, None).unwrap();
        assert!(matches!(
            dup.verify(&[log.verifier().clone()]),
            Err(Error::DuplicateSignature { .. })
        ));
    }

    #[test]
    fn cosignatures_bind_the_timestamp() {
        let w = signer("witness.example", SignatureType::CosignatureV1, 9);
        let mut n =
            Note::new("log.example\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n").unwrap();
        assert!(w.sign(&mut n, None).is_err());
        w.sign(&mut n, Some(1_700_000_000)).unwrap();
        assert_eq!(n.signatures()[0].signature.len(), 72);
        let got = n.verify(&[w.verifier().clone()]).unwrap();
        assert_eq!(got[0].timestamp, Some(1_700_000_000));
        assert_eq!(got[0].signature_type, SignatureType::CosignatureV1);
        // Moving the timestamp breaks the signature.
        n.signatures[0].signature[7] ^= 1;
        assert!(matches!(
            n.verify(&[w.verifier().clone()]),
            Err(Error::InvalidSignature { .. })
        ));
        // The same key as an Ed25519 note key has another key ID, so they never mix.
        let as_note =
            NoteVerifier::new("witness.example", SignatureType::Ed25519, w.verifier().key).unwrap();
        assert_ne!(as_note.key_id(), w.verifier().key_id());
        let vk = w.verifier().to_vkey_string();
        assert_eq!(NoteVerifier::parse(&vk).unwrap(), *w.verifier());
    }

    #[test]
    fn malformed_notes_are_rejected() {
        let sig = "\u{2014} k AAAAAAE=\n";
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"".to_vec(), "empty"),
            (b"text\n".to_vec(), "no block"),
            ("text\n\n".to_string().into_bytes(), "empty block"),
            (format!("\n{sig}").into_bytes(), "no text"),
            (
                "text\n\n\u{2014} k AAAAAAE=".to_string().into_bytes(),
                "unterminated",
            ),
            ("text\n\n- k AAAAAAE=\n".to_string().into_bytes(), "hyphen"),
            (
                "text\n\n\u{2014} k AAAA\n".to_string().into_bytes(),
                "short sig",
            ),
            (
                "text\n\n\u{2014} k+x AAAAAAE=\n".to_string().into_bytes(),
                "plus in name",
            ),
            (
                "text\n\n\u{2014}  AAAAAAE=\n".to_string().into_bytes(),
                "empty name",
            ),
            (
                "text\n\n\u{2014} k !!!!\n".to_string().into_bytes(),
                "bad base64",
            ),
            (format!("te\u{7}xt\n\n{sig}").into_bytes(), "bell"),
            (format!("text\r\n\n{sig}").into_bytes(), "carriage return"),
            (b"text\n\n\xff\n".to_vec(), "not utf-8"),
            (
                format!("text\n\n{}", sig.repeat(101)).into_bytes(),
                "too many",
            ),
            (vec![b'a'; MAX_NOTE_SIZE + 1], "too big"),
        ];
        for (msg, what) in cases {
            assert!(Note::parse(&msg).is_err(), "{what} accepted");
        }
        assert!(Note::parse(format!("text\n\n{sig}").as_bytes()).is_ok());
        assert!(Note::parse(format!("a\n\nb\n\n{sig}").as_bytes()).is_ok());
        for bad in ["", "\n", "no newline", "two\n\n"] {
            assert!(matches!(Note::new(bad), Err(Error::BadNoteText)), "{bad:?}");
        }
    }

    #[test]
    fn malformed_keys_are_rejected() {
        let v = signer("log", SignatureType::Ed25519, 1)
            .verifier()
            .to_vkey_string();
        let (name, rest) = v.split_once('+').unwrap();
        let (id, key) = rest.split_once('+').unwrap();
        let bad_id = format!(
            "{name}+{}+{key}",
            if id == "00000000" {
                "00000001"
            } else {
                "00000000"
            }
        );
        assert!(matches!(
            NoteVerifier::parse(&bad_id),
            Err(Error::KeyIdMismatch { .. })
        ));
        assert!(matches!(
            NoteVerifier::parse(&format!("{name}+{}+{key}", id.to_uppercase())),
            Err(Error::BadKeyString { .. }) | Err(Error::KeyIdMismatch { .. })
        ));
        assert!(NoteVerifier::parse("log+00000000").is_err());
        assert!(NoteVerifier::parse(&format!("{v}+extra")).is_err());
        assert!(matches!(
            NoteVerifier::parse(&format!("{name}+{id}+{}", B64.encode([2u8; 33]))),
            Err(Error::UnsupportedKeyType { key_type: 2 })
        ));
        assert!(NoteVerifier::parse(&format!("{name}+{id}+{}", B64.encode([1u8; 20]))).is_err());
        assert!(matches!(
            NoteVerifier::parse(&format!("a b+{id}+{key}")),
            Err(Error::BadKeyName { .. })
        ));
        assert!(NoteSigner::parse(&v).is_err());
        let s = signer("log", SignatureType::Ed25519, 1);
        assert!(format!("{s:?}").contains("NoteSigner"));
        assert!(!format!("{s:?}").contains(&s.to_skey_string().unwrap()));
    }
}
