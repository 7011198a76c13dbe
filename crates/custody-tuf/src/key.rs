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
            algorithm => {
                return Err(Error::NoTufScheme {
                    key: key.hint().to_string(),
                    algorithm,
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
        let keyid = || keyid.to_string();
        let invalid = |source| Error::InvalidKey {
            keyid: keyid(),
            source,
        };
        let expected = match (self.keytype.as_str(), self.scheme.as_str()) {
            ("ed25519", "ed25519") => KeyAlgorithm::Ed25519,
            ("ecdsa" | "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256") => KeyAlgorithm::EcdsaP256,
            ("rsa", "rsassa-pss-sha256") => KeyAlgorithm::RsaPssSha256,
            (keytype, scheme) => {
                return Err(Error::UnsupportedKeyType {
                    keyid: keyid(),
                    keytype: keytype.to_string(),
                    scheme: scheme.to_string(),
                });
            }
        };
        let public = self.keyval.public.trim();
        let key = if public.starts_with("-----BEGIN") {
            PublicKey::from_pem(public).map_err(invalid)?
        } else if expected == KeyAlgorithm::Ed25519 {
            let raw = hex::decode(public).map_err(|_| Error::KeyNotHex { keyid: keyid() })?;
            if raw.len() != 32 {
                return Err(Error::Ed25519KeyLength {
                    keyid: keyid(),
                    length: raw.len(),
                });
            }
            let mut der = ED25519_SPKI_PREFIX.to_vec();
            der.extend_from_slice(&raw);
            PublicKey::from_spki_der(&der).map_err(invalid)?
        } else {
            return Err(Error::KeyNotPem { keyid: keyid() });
        };
        if key.algorithm() != expected {
            return Err(Error::KeySchemeMismatch {
                keyid: keyid(),
                scheme: self.scheme.clone(),
                found: key.algorithm(),
            });
        }
        Ok(key)
    }

    /// Check `signature` over `message`.
    pub fn verify(&self, keyid: &str, message: &[u8], signature: &[u8]) -> Result<()> {
        self.public_key(keyid)?
            .verify(message, signature)
            .map_err(|source| Error::BadSignature {
                keyid: keyid.to_string(),
                source,
            })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use custody_crypto::{Signer as _, SigningKey};

    use super::*;

    fn ed25519() -> (SigningKey, Key) {
        let signer = SigningKey::generate(KeyAlgorithm::Ed25519).unwrap();
        let key = Key::from_public_key(signer.public_key()).unwrap();
        (signer, key)
    }

    #[test]
    fn unusable_keys_say_what_is_wrong_with_them() {
        let (_, good) = ed25519();
        assert!(good.public_key("k").is_ok());

        let odd = Key {
            scheme: "ed448".into(),
            ..good.clone()
        };
        let err = odd.public_key("k").unwrap_err();
        assert!(
            matches!(&err, Error::UnsupportedKeyType { keyid, keytype, scheme }
                if keyid == "k" && keytype == "ed25519" && scheme == "ed448"),
            "{err}"
        );

        let mut not_hex = good.clone();
        not_hex.keyval.public = "zz".repeat(32);
        let err = not_hex.public_key("k").unwrap_err();
        assert!(matches!(err, Error::KeyNotHex { .. }), "{err}");

        let mut short = good.clone();
        short.keyval.public.truncate(62);
        let err = short.public_key("k").unwrap_err();
        assert!(
            matches!(err, Error::Ed25519KeyLength { length: 31, .. }),
            "{err}"
        );

        // Ed25519 material under an ECDSA scheme.
        let (signer, _) = ed25519();
        let disguised = Key {
            keytype: "ecdsa".into(),
            scheme: "ecdsa-sha2-nistp256".into(),
            keyval: KeyVal {
                public: signer.public_key().to_pem(),
            },
            unrecognized: BTreeMap::new(),
        };
        let err = disguised.public_key("k").unwrap_err();
        assert!(
            matches!(&err, Error::KeySchemeMismatch { scheme, found: KeyAlgorithm::Ed25519, .. }
                if scheme == "ecdsa-sha2-nistp256"),
            "{err}"
        );
        let hex_ecdsa = Key {
            keyval: good.keyval.clone(),
            ..disguised
        };
        let err = hex_ecdsa.public_key("k").unwrap_err();
        assert!(matches!(err, Error::KeyNotPem { .. }), "{err}");
    }

    #[test]
    fn a_signature_by_another_key_is_a_bad_signature() {
        let (signer, key) = ed25519();
        let (other, _) = ed25519();
        let sig = signer.sign(b"message").unwrap();
        assert!(key.verify("k", b"message", &sig).is_ok());
        let forged = other.sign(b"message").unwrap();
        let err = key.verify("k", b"message", &forged).unwrap_err();
        assert!(
            matches!(&err, Error::BadSignature { keyid, .. } if keyid == "k"),
            "{err}"
        );
    }
}
