//! Transparency-log entries in bundles: the Rekor v2 `dsse` 0.0.2 entry body, the bundle's
//! `tlogEntries` with an inclusion proof and a C2SP checkpoint, and their offline verification
//! against the logs a trusted root lists.
//!
//! A log is named in `trusted_root.json` by its Ed25519 key (SPKI), its `baseUrl` (whose host and
//! path are the checkpoint origin) and its `logId.keyId`: the full SHA-256 of
//! origin ‖ "\n" ‖ 0x01 ‖ key, whose first four bytes are the C2SP signed-note key ID. That is
//! the identification sigstore clients use to find the key for a checkpoint signature.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use custody_crypto::{PublicKey, Sha256Digest};
use custody_tlog::{Checkpoint, InclusionProof, NoteVerifier, SignatureType, TlogProof};
use serde::{Deserialize, Serialize};
use sigstore_types::DsseEnvelope;

use crate::Error;
use crate::trust::{TimeRange, TransparencyLogInstance, TrustedPublicKey, TrustedRoot};

/// Rekor v2 entry kind for DSSE.
pub const KIND: &str = "dsse";
/// Rekor v2 `dsse` entry version.
pub const API_VERSION: &str = "0.0.2";

/// A bundle's `verificationMaterial.tlogEntries[]` item (Sigstore `TransparencyLogEntry`), in its
/// protobuf-JSON form: 64-bit integers as strings, bytes as base64.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TlogEntry {
    /// Index in the log, decimal.
    pub log_index: String,
    /// The log's id.
    pub log_id: LogId,
    /// `{"kind": "dsse", "version": "0.0.2"}`.
    pub kind_version: KindVersion,
    /// Proof that the entry is in the tree a signed checkpoint commits to.
    pub inclusion_proof: Option<InclusionProofJson>,
    /// base64 of the exact entry bytes in the log.
    pub canonicalized_body: String,
}

/// Sigstore `LogId`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogId {
    /// base64 of the 32-byte log id.
    pub key_id: String,
}

/// Rekor `KindVersion`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KindVersion {
    /// Entry kind.
    pub kind: String,
    /// Entry version.
    pub version: String,
}

/// Sigstore `InclusionProof`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InclusionProofJson {
    /// Index in the log, decimal.
    pub log_index: String,
    /// base64 root hash of the tree of `tree_size`.
    pub root_hash: String,
    /// Tree size, decimal.
    pub tree_size: String,
    /// base64 sibling hashes, leaf to root.
    pub hashes: Vec<String>,
    /// The signed checkpoint.
    pub checkpoint: CheckpointJson,
}

/// Sigstore `Checkpoint`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointJson {
    /// The whole signed note, as text.
    pub envelope: String,
}

/// A custody key as a C2SP note key: the signer is handed the bytes to sign and nothing more,
/// so the key may be in a file or in a token that never gives it out. Notes are Ed25519 only.
pub fn note_key(
    signer: std::sync::Arc<dyn custody_crypto::Signer>,
) -> Result<Box<dyn custody_tlog::NoteKey>, Error> {
    let public = signer.public_key();
    let raw = public
        .ed25519_bytes()
        .ok_or_else(|| Error::NoteKeyNotEd25519 {
            hint: public.hint().to_string(),
            algorithm: format!("{:?}", public.algorithm()),
        })?;
    let verifying =
        ed25519_dalek::VerifyingKey::from_bytes(&raw).map_err(|_| Error::NoteKeyNotEd25519 {
            hint: public.hint().to_string(),
            algorithm: "an invalid Ed25519 point".to_owned(),
        })?;
    Ok(Box::new(SignerNoteKey { signer, verifying }))
}

struct SignerNoteKey {
    signer: std::sync::Arc<dyn custody_crypto::Signer>,
    verifying: ed25519_dalek::VerifyingKey,
}

impl custody_tlog::NoteKey for SignerNoteKey {
    fn verifying_key(&self) -> ed25519_dalek::VerifyingKey {
        self.verifying
    }

    fn sign_message(&self, message: &[u8]) -> Result<[u8; 64], custody_tlog::SignError> {
        let signature = self.signer.sign(message)?;
        <[u8; 64]>::try_from(signature.as_slice())
            .map_err(|_| format!("{} bytes are not an Ed25519 signature", signature.len()).into())
    }
}

/// The log id of a log: SHA-256(origin ‖ "\n" ‖ 0x01 ‖ Ed25519 key).
pub fn log_id(origin: &str, ed25519_key: &[u8; 32]) -> [u8; 32] {
    let mut msg = Vec::with_capacity(origin.len() + 34);
    msg.extend_from_slice(origin.as_bytes());
    msg.push(b'\n');
    msg.push(0x01);
    msg.extend_from_slice(ed25519_key);
    Sha256Digest::of(&msg).0
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Body {
    api_version: String,
    kind: String,
    spec: BodySpec,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BodySpec {
    dsse_v002: DsseV002,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DsseV002 {
    payload_hash: HashOutput,
    signatures: Vec<BodySignature>,
}

#[derive(Serialize, Deserialize)]
struct HashOutput {
    algorithm: String,
    digest: String,
}

#[derive(Serialize, Deserialize)]
struct BodySignature {
    content: String,
    verifier: BodyVerifier,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BodyVerifier {
    public_key: RawBytes,
    key_details: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawBytes {
    raw_bytes: String,
}

/// The Rekor v2 `dsse` 0.0.2 entry for an envelope signed by `key`: the payload's SHA-256, the
/// signature and the verifying key. Never the payload itself, so an entry stays small whatever
/// was attested.
pub fn dsse_entry_body(envelope: &DsseEnvelope, key: &PublicKey) -> Vec<u8> {
    let body = Body {
        api_version: API_VERSION.to_owned(),
        kind: KIND.to_owned(),
        spec: BodySpec {
            dsse_v002: DsseV002 {
                payload_hash: HashOutput {
                    algorithm: "SHA2_256".to_owned(),
                    digest: B64.encode(Sha256Digest::of(envelope.payload.as_bytes()).0),
                },
                signatures: vec![BodySignature {
                    content: B64.encode(envelope.signature.sig.as_bytes()),
                    verifier: BodyVerifier {
                        public_key: RawBytes {
                            raw_bytes: B64.encode(key.spki_der()),
                        },
                        key_details: key.algorithm().sigstore_key_details().to_owned(),
                    },
                }],
            },
        },
    };
    serde_json::to_vec(&body).unwrap_or_default()
}

/// Whether a logged `dsse` entry records `envelope`: the same payload hash and signature.
/// (What a log entry says about an artifact comes from the envelope's statement, which the
/// entry does not hold; this ties a bundle found on the site to its entry.)
pub fn entry_records(entry: &[u8], envelope: &DsseEnvelope) -> bool {
    let Ok(body) = serde_json::from_slice::<Body>(entry) else {
        return false;
    };
    let spec = &body.spec.dsse_v002;
    spec.payload_hash.algorithm == "SHA2_256"
        && spec.payload_hash.digest == B64.encode(Sha256Digest::of(envelope.payload.as_bytes()).0)
        && spec
            .signatures
            .iter()
            .any(|s| s.content == B64.encode(envelope.signature.sig.as_bytes()))
}

/// The bundle entry for a logged body, from the log's proof file.
pub fn entry_from_proof(
    body: &[u8],
    log_id: &[u8; 32],
    proof: &TlogProof,
    root: [u8; 32],
    size: u64,
) -> TlogEntry {
    TlogEntry {
        log_index: proof.index.to_string(),
        log_id: LogId {
            key_id: B64.encode(log_id),
        },
        kind_version: KindVersion {
            kind: KIND.to_owned(),
            version: API_VERSION.to_owned(),
        },
        inclusion_proof: Some(InclusionProofJson {
            log_index: proof.index.to_string(),
            root_hash: B64.encode(root),
            tree_size: size.to_string(),
            hashes: proof.proof.0.iter().map(|h| B64.encode(h.0)).collect(),
            checkpoint: CheckpointJson {
                envelope: String::from_utf8_lossy(&proof.checkpoint).into_owned(),
            },
        }),
        canonicalized_body: B64.encode(body),
    }
}

/// A log as the trusted root describes it.
#[derive(Debug, Clone)]
pub struct TrustedLog {
    /// Checkpoint origin.
    pub origin: String,
    /// 32-byte log id.
    pub log_id: [u8; 32],
    /// The checkpoint verifier.
    pub verifier: NoteVerifier,
    /// When the log key is trusted.
    pub valid_for: TimeRange,
    /// The key was replaced when the log held this many entries: its checkpoints still count,
    /// outside `valid_for`, for entries below that index in trees no larger (the policy's
    /// `logKeyRotations`).
    pub dated_below: Option<u64>,
}

/// The checkpoint origin a `baseUrl` stands for: the URL without its scheme or trailing `/`.
pub fn origin_of(base_url: &str) -> &str {
    base_url
        .split_once("://")
        .map_or(base_url, |(_, rest)| rest)
        .trim_end_matches('/')
}

/// A trusted-root entry for a log with Ed25519 key `key` and checkpoint origin `origin`.
pub fn log_instance(
    origin: &str,
    key: &PublicKey,
    valid_for: TimeRange,
) -> Option<TransparencyLogInstance> {
    let raw = key.ed25519_bytes()?;
    Some(TransparencyLogInstance {
        base_url: format!("https://{origin}"),
        hash_algorithm: "SHA2_256".to_owned(),
        public_key: TrustedPublicKey {
            raw_bytes: B64.encode(key.spki_der()),
            key_details: key.algorithm().sigstore_key_details().to_owned(),
            valid_for,
        },
        log_id: crate::trust::LogId {
            key_id: B64.encode(log_id(origin, &raw)),
        },
    })
}

impl TrustedRoot {
    /// The Ed25519 transparency logs this root trusts, ready to check checkpoints.
    pub fn trusted_logs(&self) -> Result<Vec<TrustedLog>, Error> {
        let bad = |rule| Error::InvalidDocument {
            what: "trusted root",
            rule,
        };
        let mut logs = Vec::new();
        for t in &self.tlogs {
            let der = B64
                .decode(&t.public_key.raw_bytes)
                .map_err(|_| bad("a tlog publicKey.rawBytes is not base64"))?;
            let key = PublicKey::from_spki_der(&der).map_err(|source| Error::BadKey {
                what: "trusted root",
                hint: t.log_id.key_id.clone(),
                source,
            })?;
            let Some(raw) = key.ed25519_bytes() else {
                // Logs with other key types (Rekor v1's ECDSA) sign checkpoints differently;
                // they are not ours to check.
                continue;
            };
            let origin = origin_of(&t.base_url).to_owned();
            let vk = ed25519_dalek::VerifyingKey::from_bytes(&raw)
                .map_err(|_| bad("a tlog Ed25519 key is not a valid point"))?;
            let verifier = NoteVerifier::new(&origin, SignatureType::Ed25519, vk)
                .map_err(|_| bad("a tlog baseUrl does not give a valid checkpoint origin"))?;
            let declared = B64
                .decode(&t.log_id.key_id)
                .map_err(|_| bad("a tlog logId.keyId is not base64"))?;
            let id = log_id(&origin, &raw);
            if declared != id {
                return Err(bad(
                    "a tlog logId.keyId is not SHA-256(origin, 0x0A, 0x01, key)",
                ));
            }
            logs.push(TrustedLog {
                origin,
                log_id: id,
                verifier,
                valid_for: t.public_key.valid_for,
                dated_below: None,
            });
        }
        Ok(logs)
    }
}

/// What a verified log entry established.
#[derive(Debug, Clone, Serialize)]
pub struct Logged {
    /// The log's origin.
    pub origin: String,
    /// The entry's index.
    pub index: u64,
    /// The checkpoint's tree size.
    pub tree_size: u64,
    /// The checkpoint note the entry was proved against, with every signature it carries.
    #[serde(skip)]
    pub checkpoint: custody_tlog::Note,
}

fn b64_32(what: &'static str, s: &str) -> Result<[u8; 32], Error> {
    B64.decode(s)
        .ok()
        .and_then(|v| <[u8; 32]>::try_from(v.as_slice()).ok())
        .ok_or(Error::LogEntry { rule: what })
}

fn number(what: &'static str, s: &str) -> Result<u64, Error> {
    s.parse().map_err(|_| Error::LogEntry { rule: what })
}

/// Check that `entry` records exactly this envelope signed by `key`, that it is included in the
/// tree its checkpoint commits to, and that a trusted log signed that checkpoint.
pub fn verify_entry(
    entry: &TlogEntry,
    envelope: &DsseEnvelope,
    key: &PublicKey,
    logs: &[TrustedLog],
    now: jiff::Timestamp,
) -> Result<Logged, Error> {
    let id = b64_32(
        "logId.keyId is not 32 bytes of base64",
        &entry.log_id.key_id,
    )?;
    let log = logs
        .iter()
        .find(|l| l.log_id == id)
        .ok_or_else(|| Error::UnknownLog {
            log_id: entry.log_id.key_id.clone(),
        })?;
    let index = number("logIndex is not a number", &entry.log_index)?;
    let tree_size = entry
        .inclusion_proof
        .as_ref()
        .map(|p| number("inclusionProof.treeSize is not a number", &p.tree_size))
        .transpose()?;
    // A replaced log key vouches only for what the log held before its replacement.
    let dated = log
        .dated_below
        .is_some_and(|n| index < n && tree_size.is_some_and(|t| t <= n));
    if !(log.valid_for.contains(now) || dated) {
        return Err(Error::LogKeyNotValidAt {
            origin: log.origin.clone(),
            at: now,
        });
    }
    if entry.kind_version.kind != KIND || entry.kind_version.version != API_VERSION {
        return Err(Error::LogEntry {
            rule: "kindVersion is not dsse 0.0.2",
        });
    }
    let body = B64
        .decode(&entry.canonicalized_body)
        .map_err(|_| Error::LogEntry {
            rule: "canonicalizedBody is not base64",
        })?;
    // The entry must describe this very signature: same payload digest, signature and key.
    // Comparing with the body we would have written is exact and leaves no parser ambiguity.
    if body != dsse_entry_body(envelope, key) {
        return Err(Error::LogEntry {
            rule: "the logged entry does not record this bundle's payload, signature and key",
        });
    }
    let proof = entry.inclusion_proof.as_ref().ok_or(Error::LogEntry {
        rule: "no inclusionProof (custody verifies offline, so a proof is required)",
    })?;
    if number("inclusionProof.logIndex is not a number", &proof.log_index)? != index {
        return Err(Error::LogEntry {
            rule: "inclusionProof.logIndex differs from logIndex",
        });
    }
    let signed = Checkpoint::open(
        proof.checkpoint.envelope.as_bytes(),
        &log.origin,
        &log.verifier,
    )
    .map_err(|source| Error::Checkpoint {
        origin: log.origin.clone(),
        source: Box::new(source),
    })?;
    let cp = &signed.checkpoint;
    let size = number("inclusionProof.treeSize is not a number", &proof.tree_size)?;
    let root = b64_32(
        "inclusionProof.rootHash is not 32 bytes of base64",
        &proof.root_hash,
    )?;
    if size != cp.size || root != cp.root.0 {
        return Err(Error::LogEntry {
            rule: "inclusionProof treeSize/rootHash differ from the signed checkpoint",
        });
    }
    let hashes = proof
        .hashes
        .iter()
        .map(|h| {
            b64_32("an inclusionProof hash is not 32 bytes of base64", h).map(custody_tlog::Hash)
        })
        .collect::<Result<Vec<_>, _>>()?;
    InclusionProof(hashes)
        .verify(index, cp.size, custody_tlog::record_hash(&body), cp.root)
        .map_err(|source| Error::Inclusion {
            origin: log.origin.clone(),
            index,
            source: Box::new(source),
        })?;
    Ok(Logged {
        origin: log.origin.clone(),
        index,
        tree_size: cp.size,
        checkpoint: signed.note,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use custody_crypto::{KeyAlgorithm, Signer, SigningKey};
    use custody_tlog::{Note, NoteSigner, SignatureType};

    use super::*;

    /// A signer that holds a key elsewhere and fails, as a token that was pulled out would.
    #[derive(Debug)]
    struct Unplugged(custody_crypto::PublicKey);

    impl Signer for Unplugged {
        fn public_key(&self) -> &custody_crypto::PublicKey {
            &self.0
        }
        fn sign(&self, _: &[u8]) -> Result<Vec<u8>, custody_crypto::Error> {
            Err(custody_crypto::Error::Encoding)
        }
    }

    #[test]
    fn a_custody_key_signs_notes_through_the_signer_trait_only() {
        let key: Arc<dyn Signer> = Arc::new(SigningKey::generate(KeyAlgorithm::Ed25519).unwrap());
        let signer = NoteSigner::with_key(
            "example.com/log",
            SignatureType::Ed25519,
            note_key(key.clone()).unwrap(),
        )
        .unwrap();
        // The same verifier the log publishes as its vkey, from the public key alone.
        let raw = key.public_key().ed25519_bytes().unwrap();
        let expected = NoteVerifier::new(
            "example.com/log",
            SignatureType::Ed25519,
            ed25519_dalek::VerifyingKey::from_bytes(&raw).unwrap(),
        )
        .unwrap();
        assert_eq!(signer.verifier(), &expected);
        let mut note =
            Note::new("example.com/log\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n")
                .unwrap();
        signer.sign(&mut note, None).unwrap();
        assert_eq!(note.verify(&[expected]).unwrap().len(), 1);
        // Nothing of the key can be written out: it was never handed over.
        assert_eq!(signer.to_skey_string(), None);
    }

    #[test]
    fn a_note_key_that_is_not_ed25519_or_cannot_sign_is_an_error() {
        let p256: Arc<dyn Signer> =
            Arc::new(SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap());
        assert!(matches!(
            note_key(p256),
            Err(Error::NoteKeyNotEd25519 { .. })
        ));
        let real = SigningKey::generate(KeyAlgorithm::Ed25519).unwrap();
        let unplugged: Arc<dyn Signer> = Arc::new(Unplugged(real.public_key().clone()));
        let signer = NoteSigner::with_key(
            "example.com/log",
            SignatureType::Ed25519,
            note_key(unplugged).unwrap(),
        )
        .unwrap();
        let mut note =
            Note::new("example.com/log\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n")
                .unwrap();
        let err = signer.sign(&mut note, None).unwrap_err();
        assert!(
            matches!(&err, custody_tlog::Error::NoteKeySign { name, .. } if name == "example.com/log"),
            "{err}"
        );
        assert!(note.signatures().is_empty());
    }
}
