//! Signing keys, public keys, and the [`Signer`] / [`Verifier`] traits.
//!
//! Private keys live at rest as PKCS#8 PEM, encrypted (PBES2 with scrypt and AES-256-CBC) unless
//! the caller asks for plaintext with a function whose name says so. Public keys travel as SPKI
//! (DER inside, PEM outside), and are named by their Sigstore *hint*: base64(SHA-256(SPKI DER)).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use p256::ecdsa::signature::{Signer as _, Verifier as _};
use pkcs8::LineEnding;
use zeroize::Zeroizing;

use crate::rsa::{RsaPublicKey, RsaSecretKey};
use crate::{Error, Sha256Digest};

/// The signature schemes custody signs and verifies with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyAlgorithm {
    /// Ed25519 (RFC 8032), pure: the message is signed, not a pre-hash.
    Ed25519,
    /// ECDSA over NIST P-256 with SHA-256; signatures are ASN.1 DER.
    EcdsaP256,
    /// RSASSA-PSS (RFC 8017) with SHA-256, MGF1-SHA-256 and a 32-byte salt, modulus 2048 to
    /// 8192 bits: TUF's `rsassa-pss-sha256`. Signatures are as long as the modulus. Keys are
    /// imported (PKCS#8; 2048, 3072 or 4096 bits to sign), never generated.
    RsaPssSha256,
}

impl KeyAlgorithm {
    /// Sigstore's `PublicKeyDetails` name, used in `trusted_root.json`.
    pub fn sigstore_key_details(self) -> &'static str {
        match self {
            Self::Ed25519 => "PKIX_ED25519",
            Self::EcdsaP256 => "PKIX_ECDSA_P256_SHA_256",
            // Sigstore names the modulus size; the algorithm does not know it, and 2048 is the
            // floor every accepted key meets.
            Self::RsaPssSha256 => "PKIX_RSA_PSS_2048_SHA256",
        }
    }

    /// The short name used in custody's config and policy files.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ed25519 => "ed25519",
            Self::EcdsaP256 => "ecdsa-p256",
            Self::RsaPssSha256 => "rsa-pss-sha256",
        }
    }

    /// Parse the short name, the Sigstore name, or (for RSA) the TUF scheme name.
    pub fn parse(text: &str) -> Result<Self, Error> {
        match text {
            "ed25519" | "PKIX_ED25519" => Ok(Self::Ed25519),
            "ecdsa-p256" | "p256" | "PKIX_ECDSA_P256_SHA_256" => Ok(Self::EcdsaP256),
            "rsa-pss-sha256" | "rsassa-pss-sha256" | "PKIX_RSA_PSS_2048_SHA256" => {
                Ok(Self::RsaPssSha256)
            }
            other => Err(Error::UnknownAlgorithm(other.to_owned())),
        }
    }
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A Sigstore public-key hint: base64 of SHA-256 over the key's SPKI DER.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyHint(String);

impl KeyHint {
    /// The hint of an SPKI DER encoding.
    pub fn of_spki(spki_der: &[u8]) -> Self {
        Self(B64.encode(Sha256Digest::of(spki_der).0))
    }

    /// Wrap a hint read from a file; it is only ever compared, never decoded.
    pub fn new(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    /// The base64 text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyHint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Checks signatures. Implemented by [`PublicKey`]; an HSM-held key verifies the same way.
pub trait Verifier {
    /// Accept `signature` over `message`, or say why not.
    fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), Error>;
}

/// Produces signatures without exposing the private key, so file keys and HSM keys are
/// interchangeable.
pub trait Signer: Send + Sync + fmt::Debug {
    /// The public half, for hints, trust files and self-checks.
    fn public_key(&self) -> &PublicKey;
    /// Sign `message` (Ed25519: the message itself; ECDSA: SHA-256 of it, DER-encoded result;
    /// RSA-PSS: SHA-256 of it, with a fresh random salt, so signatures differ each time).
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, Error>;
}

/// A shared key signs as the key it shares: keys unlocked once are handed around as
/// `Arc<dyn Signer>`, wherever they are held.
impl<T: Signer + ?Sized> Signer for std::sync::Arc<T> {
    fn public_key(&self) -> &PublicKey {
        (**self).public_key()
    }
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        (**self).sign(message)
    }
}

/// A public key: its algorithm and its SPKI DER encoding.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    algorithm: KeyAlgorithm,
    spki_der: Vec<u8>,
    inner: VerifyingKey,
}

#[derive(Clone, PartialEq, Eq)]
enum VerifyingKey {
    Ed25519(ed25519_dalek::VerifyingKey),
    EcdsaP256(p256::ecdsa::VerifyingKey),
    RsaPss(RsaPublicKey),
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("algorithm", &self.algorithm)
            .field("hint", &self.hint())
            .finish()
    }
}

impl PublicKey {
    /// Parse SPKI DER, recognising the algorithm from its OID. An rsaEncryption key must have a
    /// 2048- to 8192-bit modulus and is used for RSA-PSS-SHA256 only.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, Error> {
        if let Ok(k) = ed25519_dalek::VerifyingKey::from_public_key_der(der) {
            return Ok(Self {
                algorithm: KeyAlgorithm::Ed25519,
                spki_der: der.to_vec(),
                inner: VerifyingKey::Ed25519(k),
            });
        }
        if let Ok(k) = p256::ecdsa::VerifyingKey::from_public_key_der(der) {
            return Ok(Self {
                algorithm: KeyAlgorithm::EcdsaP256,
                spki_der: der.to_vec(),
                inner: VerifyingKey::EcdsaP256(k),
            });
        }
        if let Some(k) = RsaPublicKey::from_spki_der(der)? {
            return Ok(Self {
                algorithm: KeyAlgorithm::RsaPssSha256,
                spki_der: der.to_vec(),
                inner: VerifyingKey::RsaPss(k),
            });
        }
        Err(Error::UnsupportedPublicKey)
    }

    /// A public key in the raw form a token gives it (PKCS#11 `CKA_EC_POINT`, unwrapped from
    /// its OCTET STRING): Ed25519's 32 bytes, or a P-256 SEC1 point.
    pub fn from_raw(algorithm: KeyAlgorithm, raw: &[u8]) -> Result<Self, Error> {
        let der = match algorithm {
            KeyAlgorithm::Ed25519 => <[u8; 32]>::try_from(raw)
                .ok()
                .and_then(|b| ed25519_dalek::VerifyingKey::from_bytes(&b).ok())
                .and_then(|k| k.to_public_key_der().ok()),
            KeyAlgorithm::EcdsaP256 => p256::ecdsa::VerifyingKey::from_sec1_bytes(raw)
                .ok()
                .and_then(|k| k.to_public_key_der().ok()),
            KeyAlgorithm::RsaPssSha256 => None,
        }
        .ok_or(Error::UnsupportedPublicKey)?;
        Self::from_spki_der(der.as_bytes())
    }

    /// Parse a `PUBLIC KEY` PEM block.
    pub fn from_pem(pem: &str) -> Result<Self, Error> {
        let (label, der) =
            spki::der::pem::decode_vec(pem.trim().as_bytes()).map_err(|_| Error::BadPem {
                expected: "PUBLIC KEY",
            })?;
        if label != "PUBLIC KEY" {
            return Err(Error::BadPem {
                expected: "PUBLIC KEY",
            });
        }
        Self::from_spki_der(&der)
    }

    /// The algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    /// SPKI DER bytes, as Sigstore's trusted root carries them.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// SPKI PEM text.
    pub fn to_pem(&self) -> String {
        let body = B64.encode(&self.spki_der);
        let mut out = String::from("-----BEGIN PUBLIC KEY-----\n");
        for line in body.as_bytes().chunks(64) {
            out.push_str(&String::from_utf8_lossy(line));
            out.push('\n');
        }
        out.push_str("-----END PUBLIC KEY-----\n");
        out
    }

    /// base64(SHA-256(SPKI DER)): the bundle's `publicKey.hint` and the DSSE keyid.
    pub fn hint(&self) -> KeyHint {
        KeyHint::of_spki(&self.spki_der)
    }

    /// The raw 32-byte Ed25519 key, for formats (signed notes) that embed it bare.
    pub fn ed25519_bytes(&self) -> Option<[u8; 32]> {
        match &self.inner {
            VerifyingKey::Ed25519(k) => Some(k.to_bytes()),
            VerifyingKey::EcdsaP256(_) | VerifyingKey::RsaPss(_) => None,
        }
    }
}

impl Verifier for PublicKey {
    fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), Error> {
        match &self.inner {
            VerifyingKey::Ed25519(k) => {
                let sig = ed25519_dalek::Signature::from_slice(signature)
                    .map_err(|_| Error::MalformedSignature(self.algorithm))?;
                // Strict: rejects small-order keys and non-canonical S, so one message cannot
                // carry two valid signatures.
                k.verify_strict(message, &sig)
                    .map_err(|_| Error::BadSignature(self.algorithm))
            }
            VerifyingKey::EcdsaP256(k) => {
                let sig = p256::ecdsa::DerSignature::from_bytes(signature)
                    .map_err(|_| Error::MalformedSignature(self.algorithm))?;
                k.verify(message, &sig)
                    .map_err(|_| Error::BadSignature(self.algorithm))
            }
            VerifyingKey::RsaPss(k) => k.verify(message, signature),
        }
    }
}

/// A private key held in this process, loaded from or saved to a PKCS#8 file.
pub struct SigningKey {
    public: PublicKey,
    inner: SecretKey,
}

enum SecretKey {
    Ed25519(ed25519_dalek::SigningKey),
    EcdsaP256(p256::ecdsa::SigningKey),
    RsaPss(RsaSecretKey),
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A fresh key from the operating system's random source. RSA keys are refused with
    /// [`Error::RsaGenerationUnsupported`]: ring cannot generate them, and an offline root
    /// holder is better served by OpenSSL's well-reviewed generator than by a new one.
    pub fn generate(algorithm: KeyAlgorithm) -> Result<Self, Error> {
        let mut seed = Zeroizing::new([0u8; 32]);
        loop {
            getrandom::fill(seed.as_mut()).map_err(|_| Error::Randomness)?;
            let inner = match algorithm {
                KeyAlgorithm::Ed25519 => {
                    SecretKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(&seed))
                }
                // A P-256 scalar must be below the group order; a random 32 bytes almost always
                // is, and the rare miss simply draws again.
                KeyAlgorithm::EcdsaP256 => {
                    match p256::ecdsa::SigningKey::from_slice(seed.as_ref()) {
                        Ok(k) => SecretKey::EcdsaP256(k),
                        Err(_) => continue,
                    }
                }
                KeyAlgorithm::RsaPssSha256 => return Err(Error::RsaGenerationUnsupported),
            };
            return Self::from_secret(inner);
        }
    }

    fn from_secret(inner: SecretKey) -> Result<Self, Error> {
        let spki = match &inner {
            SecretKey::Ed25519(k) => k.verifying_key().to_public_key_der(),
            SecretKey::EcdsaP256(k) => k.verifying_key().to_public_key_der(),
            SecretKey::RsaPss(k) => k.spki_der(),
        }
        .map_err(|_| Error::Encoding)?;
        Ok(Self {
            public: PublicKey::from_spki_der(spki.as_bytes())?,
            inner,
        })
    }

    fn from_pkcs8_der(der: &[u8]) -> Result<Self, Error> {
        if let Ok(k) = ed25519_dalek::SigningKey::from_pkcs8_der(der) {
            return Self::from_secret(SecretKey::Ed25519(k));
        }
        if let Ok(k) = p256::ecdsa::SigningKey::from_pkcs8_der(der) {
            return Self::from_secret(SecretKey::EcdsaP256(k));
        }
        if let Some(k) = RsaSecretKey::from_pkcs8_der(der)? {
            return Self::from_secret(SecretKey::RsaPss(k));
        }
        Err(Error::UnsupportedPrivateKey)
    }

    /// Load a PKCS#8 PEM file's text. An `ENCRYPTED PRIVATE KEY` needs `passphrase`; a plaintext
    /// `PRIVATE KEY` is accepted only with `allow_unencrypted`, so a key that was meant to be
    /// protected cannot silently be swapped for one that is not. RSA keys (rsaEncryption, as
    /// `openssl genpkey -algorithm RSA` writes them) load for RSA-PSS-SHA256 signing.
    pub fn from_pkcs8_pem(
        pem: &str,
        passphrase: Option<&[u8]>,
        allow_unencrypted: bool,
    ) -> Result<Self, Error> {
        let (label, der) =
            spki::der::pem::decode_vec(pem.trim().as_bytes()).map_err(|_| Error::BadPem {
                expected: "ENCRYPTED PRIVATE KEY",
            })?;
        let der = Zeroizing::new(der);
        match label {
            "ENCRYPTED PRIVATE KEY" => {
                let passphrase = passphrase.ok_or(Error::PassphraseRequired)?;
                let info = pkcs8::EncryptedPrivateKeyInfoRef::try_from(der.as_slice())
                    .map_err(|_| Error::UnsupportedPrivateKey)?;
                let plain = info
                    .decrypt(passphrase)
                    .map_err(|_| Error::WrongPassphrase)?;
                Self::from_pkcs8_der(plain.as_bytes())
            }
            "PRIVATE KEY" if allow_unencrypted => Self::from_pkcs8_der(&der),
            "PRIVATE KEY" => Err(Error::UnencryptedKeyRefused),
            _ => Err(Error::BadPem {
                expected: "ENCRYPTED PRIVATE KEY",
            }),
        }
    }

    fn pkcs8_der(&self) -> Result<pkcs8::SecretDocument, Error> {
        match &self.inner {
            SecretKey::Ed25519(k) => k.to_pkcs8_der(),
            SecretKey::EcdsaP256(k) => k.to_pkcs8_der(),
            // ring cannot re-encode a key, so the imported PKCS#8 is kept and written back.
            SecretKey::RsaPss(k) => k.pkcs8_der(),
        }
        .map_err(|_| Error::Encoding)
    }

    /// Encrypted PKCS#8 PEM (PBES2: scrypt log2 N = 15, r = 8, p = 1; AES-256-CBC).
    pub fn to_encrypted_pem(&self, passphrase: &[u8]) -> Result<Zeroizing<String>, Error> {
        if passphrase.is_empty() {
            return Err(Error::EmptyPassphrase);
        }
        let doc = self.pkcs8_der()?;
        let encrypted = pkcs8::PrivateKeyInfoRef::try_from(doc.as_bytes())
            .and_then(|info| info.encrypt(passphrase))
            .map_err(|_| Error::Encoding)?;
        encrypted
            .to_pem("ENCRYPTED PRIVATE KEY", LineEnding::LF)
            .map_err(|_| Error::Encoding)
    }

    /// Plaintext PKCS#8 PEM. Anyone who can read the file can sign as this key.
    pub fn to_unencrypted_pem_insecure(&self) -> Result<Zeroizing<String>, Error> {
        self.pkcs8_der()?
            .to_pem("PRIVATE KEY", LineEnding::LF)
            .map_err(|_| Error::Encoding)
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.public.algorithm
    }
}

/// A P-256 ECDSA signature in the fixed form tokens return (`r ‖ s`, 64 bytes), DER-encoded as
/// custody's ECDSA signatures are.
pub fn ecdsa_p256_der(fixed: &[u8]) -> Result<Vec<u8>, Error> {
    p256::ecdsa::Signature::from_slice(fixed)
        .map(|s| s.to_der().as_bytes().to_vec())
        .map_err(|_| Error::MalformedSignature(KeyAlgorithm::EcdsaP256))
}

impl Signer for SigningKey {
    fn public_key(&self) -> &PublicKey {
        &self.public
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        Ok(match &self.inner {
            SecretKey::Ed25519(k) => k.sign(message).to_bytes().to_vec(),
            SecretKey::EcdsaP256(k) => {
                let sig: p256::ecdsa::Signature = k.sign(message);
                sig.to_der().as_bytes().to_vec()
            }
            SecretKey::RsaPss(k) => k.sign(message)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn both() -> [SigningKey; 2] {
        [
            SigningKey::generate(KeyAlgorithm::Ed25519).unwrap(),
            SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap(),
        ]
    }

    #[test]
    fn sign_verify_and_reject_tampering() {
        for key in both() {
            let sig = key.sign(b"release 1.4.2").unwrap();
            key.public_key().verify(b"release 1.4.2", &sig).unwrap();
            assert!(matches!(
                key.public_key().verify(b"release 1.4.3", &sig),
                Err(Error::BadSignature(_))
            ));
            let mut flipped = sig.clone();
            let last = flipped.len() - 1;
            flipped[last] ^= 1;
            assert!(key.public_key().verify(b"release 1.4.2", &flipped).is_err());
            assert!(matches!(
                key.public_key().verify(b"release 1.4.2", &[1, 2, 3]),
                Err(Error::MalformedSignature(_))
            ));
        }
    }

    #[test]
    fn wrong_key_is_rejected() {
        let [a, b] = both();
        let other = SigningKey::generate(KeyAlgorithm::Ed25519).unwrap();
        let sig = a.sign(b"m").unwrap();
        assert!(other.public_key().verify(b"m", &sig).is_err());
        let sig = b.sign(b"m").unwrap();
        assert!(other.public_key().verify(b"m", &sig).is_err());
    }

    #[test]
    fn ecdsa_signatures_are_der() {
        let key = SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
        let sig = key.sign(b"m").unwrap();
        assert_eq!(sig[0], 0x30, "DER SEQUENCE tag");
        assert_eq!(usize::from(sig[1]) + 2, sig.len());
    }

    #[test]
    fn encrypted_pem_round_trip_and_wrong_passphrase() {
        for key in both() {
            let pem = key.to_encrypted_pem(b"correct horse").unwrap();
            assert!(pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
            let back = SigningKey::from_pkcs8_pem(&pem, Some(b"correct horse"), false).unwrap();
            assert_eq!(back.public_key(), key.public_key());
            assert!(matches!(
                SigningKey::from_pkcs8_pem(&pem, Some(b"wrong"), false),
                Err(Error::WrongPassphrase)
            ));
            assert!(matches!(
                SigningKey::from_pkcs8_pem(&pem, None, false),
                Err(Error::PassphraseRequired)
            ));
        }
    }

    #[test]
    fn plaintext_key_needs_explicit_consent() {
        let key = SigningKey::generate(KeyAlgorithm::Ed25519).unwrap();
        let pem = key.to_unencrypted_pem_insecure().unwrap();
        assert!(matches!(
            SigningKey::from_pkcs8_pem(&pem, None, false),
            Err(Error::UnencryptedKeyRefused)
        ));
        let back = SigningKey::from_pkcs8_pem(&pem, None, true).unwrap();
        assert_eq!(back.public_key(), key.public_key());
        assert!(matches!(
            SigningKey::from_pkcs8_pem("not a key", None, true),
            Err(Error::BadPem { .. })
        ));
        assert!(key.to_encrypted_pem(b"").is_err());
    }

    #[test]
    fn algorithm_names_round_trip() {
        for alg in [
            KeyAlgorithm::Ed25519,
            KeyAlgorithm::EcdsaP256,
            KeyAlgorithm::RsaPssSha256,
        ] {
            assert_eq!(KeyAlgorithm::parse(alg.name()).unwrap(), alg);
            assert_eq!(
                KeyAlgorithm::parse(alg.sigstore_key_details()).unwrap(),
                alg
            );
        }
        assert_eq!(KeyAlgorithm::RsaPssSha256.name(), "rsa-pss-sha256");
        assert_eq!(
            KeyAlgorithm::RsaPssSha256.sigstore_key_details(),
            "PKIX_RSA_PSS_2048_SHA256"
        );
        assert_eq!(
            KeyAlgorithm::parse("rsassa-pss-sha256").unwrap(),
            KeyAlgorithm::RsaPssSha256
        );
    }

    #[test]
    fn rsa_keys_are_not_generated() {
        assert!(matches!(
            SigningKey::generate(KeyAlgorithm::RsaPssSha256),
            Err(Error::RsaGenerationUnsupported)
        ));
    }

    #[test]
    fn public_pem_round_trip_and_hint() {
        for key in both() {
            let pem = key.public_key().to_pem();
            let back = PublicKey::from_pem(&pem).unwrap();
            assert_eq!(&back, key.public_key());
            let expected = B64.encode(Sha256Digest::of(back.spki_der()).0);
            assert_eq!(back.hint().as_str(), expected);
        }
        assert!(matches!(
            PublicKey::from_spki_der(b"\x30\x03\x02\x01\x00"),
            Err(Error::UnsupportedPublicKey)
        ));
    }
}
