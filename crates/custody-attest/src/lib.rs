//! DSSE-signed in-toto attestations in Sigstore bundles, SLSA provenance, and the customer's
//! offline verification of them against a policy.
//!
//! Design: formats are plain types (`sigstore-types` for the bundle, DSSE and Statement; our own
//! for SLSA provenance, the trusted root and the policy); signing goes through
//! [`custody_crypto::Signer`]; [`verify::verify`] is a pure function of bytes and `now`.
//!
//! ```
//! use custody_attest::{bundle, statement, trust::{Policy, PolicyKey, TimeRange}};
//! use custody_crypto::{digest_reader, Algorithms, KeyAlgorithm, Signer, SigningKey};
//!
//! let key = SigningKey::generate(KeyAlgorithm::Ed25519)?;
//! let digests = digest_reader(&b"artifact bytes"[..], Algorithms::Both).unwrap();
//! let payload = statement::to_json(
//!     vec![statement::subject("app.tar.gz", &digests)],
//!     "https://example.com/predicate/v1",
//!     &serde_json::json!({}),
//! )?;
//! let signed = bundle::sign(&key, bundle::IN_TOTO_PAYLOAD_TYPE, &payload)?;
//! let parsed = bundle::parse(bundle::to_json(&signed)?.as_bytes())?;
//! bundle::verify_envelope(&parsed.envelope, key.public_key())?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod approval;
pub mod bundle;
mod error;
pub mod provenance;
pub mod release;
pub mod statement;
pub mod tlog;
pub mod trust;
pub mod verify;
pub mod version;

pub use error::{Error, LoggedAfterRotation, ShortOfApprovals};
