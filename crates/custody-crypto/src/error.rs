use std::path::PathBuf;

use crate::KeyAlgorithm;

/// Everything that can go wrong in hashing, key handling and signature checks.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be opened or read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// An artifact path names a directory; only regular files are artifacts.
    #[error("{}: is a directory, not an artifact file", .0.display())]
    IsDirectory(PathBuf),
    /// A hex digest of the wrong length or with non-hex characters.
    #[error("not a {algorithm} hex digest: {value:?}")]
    BadDigestHex {
        /// The algorithm expected.
        algorithm: &'static str,
        /// The start of the offending text.
        value: String,
    },
    /// A key algorithm name custody does not know.
    #[error("unknown key algorithm {0:?} (expected ed25519, ecdsa-p256 or rsa-pss-sha256)")]
    UnknownAlgorithm(String),
    /// Not a PEM block with the expected label.
    #[error("not a PEM block labelled {expected:?}")]
    BadPem {
        /// The label we wanted.
        expected: &'static str,
    },
    /// A public key whose algorithm or encoding custody does not support.
    #[error("unsupported public key: expected SPKI for Ed25519, ECDSA P-256 or RSA")]
    UnsupportedPublicKey,
    /// A private key whose algorithm or encoding custody does not support.
    #[error("unsupported private key: expected PKCS#8 for Ed25519, ECDSA P-256 or RSA")]
    UnsupportedPrivateKey,
    /// The key file is encrypted and no passphrase was given.
    #[error("the key is encrypted: give its passphrase (prompt or CUSTODY_PASSPHRASE)")]
    PassphraseRequired,
    /// Decryption failed: the passphrase is wrong or the file is corrupt.
    #[error("wrong passphrase, or the encrypted key is corrupt")]
    WrongPassphrase,
    /// An empty passphrase would encrypt with no secret at all.
    #[error("refusing to encrypt a key with an empty passphrase")]
    EmptyPassphrase,
    /// A plaintext key was offered where an encrypted one is required.
    #[error(
        "the key file is not encrypted; pass the explicit --insecure-unencrypted-key flag to use it"
    )]
    UnencryptedKeyRefused,
    /// The signature bytes are not a well-formed signature for the algorithm.
    #[error("malformed {0} signature")]
    MalformedSignature(KeyAlgorithm),
    /// A well-formed signature that does not verify.
    #[error("{0} signature does not verify with this key")]
    BadSignature(KeyAlgorithm),
    /// An RSA key whose modulus is too short to be safe, or a size ring cannot use.
    #[error("RSA modulus is {bits} bits; {accepted}")]
    RsaModulusSize {
        /// The key's modulus length.
        bits: usize,
        /// The sizes accepted for this use, as a sentence fragment.
        accepted: &'static str,
    },
    /// An RSA public exponent ring cannot verify with.
    #[error("RSA public exponent 0x{exponent_hex} is not odd and between 3 and 2^33 - 1")]
    RsaPublicExponent {
        /// The exponent, big-endian hex.
        exponent_hex: String,
    },
    /// An rsaEncryption key whose PKCS#1 body is not valid DER, or whose SPKI has parameters
    /// other than NULL.
    #[error("malformed RSA key: expected PKCS#1 DER inside rsaEncryption SPKI or PKCS#8")]
    MalformedRsaKey,
    /// ring refused an RSA private key that passed custody's own size checks.
    #[error("RSA private key rejected: {reason}")]
    RsaKeyRejected {
        /// ring's reason, such as `InconsistentComponents`.
        reason: String,
    },
    /// RSA keys are only imported: custody does not generate them.
    #[error("custody does not generate RSA keys; create one with openssl genpkey and import it")]
    RsaGenerationUnsupported,
    /// A signing operation failed (RSA-PSS needs randomness for its salt).
    #[error("{0} signing failed")]
    SigningFailed(KeyAlgorithm),
    /// The OS random source failed.
    #[error("the operating system's random source failed")]
    Randomness,
    /// A key could not be encoded (should not happen with valid keys).
    #[error("key encoding failed")]
    Encoding,
    /// A key held outside this process (a PKCS#11 token) could not sign.
    #[error("the key in {holder} could not sign: {source}")]
    KeyHolder {
        /// Where the key is (a token's label).
        holder: String,
        /// What the holder said.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}
