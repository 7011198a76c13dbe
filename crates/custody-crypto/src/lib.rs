//! Digests, key files, and the [`Signer`] / [`Verifier`] traits that the rest of custody signs
//! and verifies through.
//!
//! Design: nothing here knows about bundles, logs or TUF. Hashing streams (never reads a file
//! whole); keys at rest are encrypted PKCS#8; a signing backend (file today, PKCS#11 tomorrow)
//! only has to implement [`Signer`].
//!
//! It is also the one crate of ours that every pure core may depend on, so the few helpers
//! those cores share and that have no better home below them live here too: [`fs`] (atomic
//! file replacement) and [`ecosystem`] (package ecosystems and their name rules).
//!
//! ```
//! use custody_crypto::{KeyAlgorithm, Signer, SigningKey, Verifier, Sha256Digest};
//!
//! let key = SigningKey::generate(KeyAlgorithm::Ed25519)?;
//! let signature = key.sign(b"payload")?;
//! key.public_key().verify(b"payload", &signature)?;
//! assert_eq!(
//!     Sha256Digest::of(b"abc").to_hex(),
//!     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
//! );
//! # Ok::<(), custody_crypto::Error>(())
//! ```

pub mod digest;
pub mod ecosystem;
mod error;
pub mod fs;
pub mod key;
mod rsa;

pub use digest::{
    Algorithms, Digests, Sha256Digest, Sha512Digest, digest_file, digest_files, digest_reader,
    uuid_string,
};
pub use ecosystem::Ecosystem;
pub use error::Error;
pub use key::{KeyAlgorithm, KeyHint, PublicKey, Signer, SigningKey, Verifier, ecdsa_p256_der};
