//! TUF keys. Key ids are taken as the delegating metadata declares them and never recomputed:
//! real roots (Sigstore's, GitHub's) carry ids that are not the hash of the key object as a
//! client would re-serialise it, and refusing them would refuse those repositories.

use std::collections::BTreeMap;

use custody_crypto::{KeyAlgorithm, PublicKey, Verifier as _};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::error::{Error, Result};
use crate::metadata::canonical_json;

/// The key material.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyVal {
    /// Hex for ed25519, SPKI PEM for ecdsa and rsa.
    pub public: String,
}

/// A public key as TUF metadata lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Key {
    /// `ed25519`, `ecdsa`, `ecdsa-sha2-nistp256` or `rsa`.
    pub keytype: String,
    /// `ed25519`, `ecdsa-sha2-nistp256` or `rsassa-pss-sha256`.
    pub scheme: String,
    /// The public key.
    pub keyval: KeyVal,
    /// Fields other tools add (`x-tuf-on-ci-keyowner`, `keyid_hash_algorithms`), kept so a
    /// root we re-sign still carries them.
    #[serde(flatten)]
    pub unrecognized: BTreeMap<String, Value>,
}

/// SPKI DER prefix of an Ed25519 public key (RFC 8410), before the 32 raw bytes.
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

impl Key {
    /// The TUF form of a custody public key.
    pub fn from_public_key(key: &PublicKey) -> Result<Self> {
        let (keytype, scheme, public) = match key.algorithm() {
            KeyAlgorithm::Ed25519 => (
                "ed25519",
                "ed25519",
                key.ed25519_bytes().map(hex::encode).unwrap_or_default(),
            ),
            KeyAlgorithm::EcdsaP256 => ("ecdsa", "ecdsa-sha2-nistp256", key.to_pem()),
            KeyAlgorithm::RsaPssSha256 => ("rsa", "rsassa-pss-sha256", key.to_pem()),
            other => {
                return Err(Error::Key {
                    keyid: key.hint().to_string(),
                    reason: format!("{other} keys have no TUF scheme"),
                });
            }
        };
        Ok(Self {
            keytype: keytype.into(),
            scheme: scheme.into(),
            keyval: KeyVal { public },
            unrecognized: BTreeMap::new(),
        })
    }

    /// The key id python-tuf and securesystemslib assign a new key: SHA-256 of the canonical
    /// key object. Used only when custody adds a key; ids read from metadata are never
    /// checked against it.
    pub fn compute_keyid(&self) -> String {
        let value = serde_json::json!({
            "keytype": self.keytype,
            "scheme": self.scheme,
            "keyval": {"public": self.keyval.public},
        });
        let canonical = canonical_json(&value).unwrap_or_default();
        hex::encode(Sha256::digest(canonical))
    }

    /// The key in custody's form, with its scheme checked.
    pub fn public_key(&self, keyid: &str) -> Result<PublicKey> {
        let bad = |reason: String| Error::Key {
            keyid: keyid.to_string(),
            reason,
        };
        let expected = match (self.keytype.as_str(), self.scheme.as_str()) {
            ("ed25519", "ed25519") => KeyAlgorithm::Ed25519,
            ("ecdsa" | "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256") => KeyAlgorithm::EcdsaP256,
            ("rsa", "rsassa-pss-sha256") => KeyAlgorithm::RsaPssSha256,
            (t, s) => return Err(bad(format!("unsupported keytype {t:?} with scheme {s:?}"))),
        };
        let public = self.keyval.public.trim();
        let key = if public.starts_with("-----BEGIN") {
            PublicKey::from_pem(public).map_err(|e| bad(e.to_string()))?
        } else if expected == KeyAlgorithm::Ed25519 {
            let raw = hex::decode(public).map_err(|_| bad("ed25519 key is not hex".into()))?;
            if raw.len() != 32 {
                return Err(bad(format!("ed25519 key is {} bytes, not 32", raw.len())));
            }
            let mut der = ED25519_SPKI_PREFIX.to_vec();
            der.extend_from_slice(&raw);
            PublicKey::from_spki_der(&der).map_err(|e| bad(e.to_string()))?
        } else {
            return Err(bad("public key is not PEM".into()));
        };
        if key.algorithm() != expected {
            return Err(bad(format!(
                "keyval holds a {} key, but scheme {:?} was declared",
                key.algorithm(),
                self.scheme
            )));
        }
        Ok(key)
    }

    /// Check `signature` over `message`.
    pub fn verify(&self, keyid: &str, message: &[u8], signature: &[u8]) -> Result<()> {
        self.public_key(keyid)?
            .verify(message, signature)
            .map_err(|e| Error::Key {
                keyid: keyid.to_string(),
                reason: e.to_string(),
            })
    }
}
