//! DSSE envelopes inside Sigstore bundles v0.3, signed with a key identified by its hint.
//!
//! The bundle types come from `sigstore-types`; this module adds what custody insists on when it
//! writes or reads one: the v0.3 media type, a DSSE envelope, a `publicKey.hint` equal to
//! base64(SHA-256(SPKI DER)) and a DSSE keyid equal to that hint, and a size limit before any
//! JSON is parsed.

use custody_crypto::{KeyHint, PublicKey, Signer, Verifier};
use sigstore_types::bundle::{
    MediaType, PublicKeyIdentifier, SignatureContent, VerificationMaterial,
    VerificationMaterialContent,
};
use sigstore_types::{Bundle, DsseEnvelope, DsseSignature, KeyId, PayloadBytes, SignatureBytes};

use crate::Error;
use crate::tlog::TlogEntry;

/// DSSE payload type of an in-toto Statement.
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// The only bundle media type custody writes and reads.
pub const BUNDLE_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";

/// Largest bundle custody parses. An SBOM attestation can be a few MiB; anything near this is
/// an attack or a mistake, and refusing it early bounds memory.
pub const MAX_BUNDLE_BYTES: usize = 32 << 20;

/// A parsed bundle that passed the structural checks, with its envelope and hint at hand.
#[derive(Debug, Clone)]
pub struct SignedBundle {
    /// The bundle without its log entries.
    pub bundle: Bundle,
    /// Its `verificationMaterial.tlogEntries`, parsed by us: `sigstore-types` does not know the
    /// Rekor v2 `dsse` 0.0.2 kind.
    pub tlog_entries: Vec<TlogEntry>,
    /// The DSSE envelope inside it.
    pub envelope: DsseEnvelope,
    /// The bundle's `verificationMaterial.publicKey.hint`.
    pub hint: KeyHint,
}

/// Sign `payload` as DSSE (over PAE(payloadType, payload)) and wrap it in a v0.3 bundle.
pub fn sign(signer: &dyn Signer, payload_type: &str, payload: &[u8]) -> Result<Bundle, Error> {
    let hint = signer.public_key().hint();
    let pae = sigstore_types::pae(payload_type, payload);
    let sig = signer.sign(&pae).map_err(Error::Signing)?;
    let envelope = DsseEnvelope::new(
        payload_type,
        PayloadBytes::from_bytes(payload),
        DsseSignature::new(SignatureBytes::new(sig), KeyId::new(hint.as_str())),
    );
    let material = VerificationMaterial::new(VerificationMaterialContent::PublicKey(
        PublicKeyIdentifier::new(hint.as_str()),
    ));
    Ok(Bundle::new(
        MediaType::Bundle0_3,
        material,
        SignatureContent::DsseEnvelope(envelope),
    ))
}

/// Serialise a bundle as the pretty JSON custody publishes.
pub fn to_json(bundle: &Bundle) -> Result<String, Error> {
    to_json_with_entries(bundle, &[])
}

/// Serialise a bundle with transparency-log entries in `verificationMaterial.tlogEntries`.
pub fn to_json_with_entries(bundle: &Bundle, entries: &[TlogEntry]) -> Result<String, Error> {
    let mut value = serde_json::to_value(bundle).map_err(Error::json("bundle"))?;
    let entries = serde_json::to_value(entries).map_err(Error::json("bundle"))?;
    if let Some(material) = value
        .get_mut("verificationMaterial")
        .and_then(|m| m.as_object_mut())
    {
        material.insert("tlogEntries".to_owned(), entries);
    }
    serde_json::to_string_pretty(&value).map_err(Error::json("bundle"))
}

/// Parse and structurally check a bundle. This proves nothing about who signed it: call
/// [`verify_envelope`] with a trusted key for that.
pub fn parse(json: &[u8]) -> Result<SignedBundle, Error> {
    if json.len() > MAX_BUNDLE_BYTES {
        return Err(Error::TooLarge {
            what: "bundle",
            size: json.len(),
            limit: MAX_BUNDLE_BYTES,
        });
    }
    let mut value: serde_json::Value =
        serde_json::from_slice(json).map_err(Error::json("bundle"))?;
    // Look at the media type before the typed parse, so that an unknown version is reported as
    // such rather than as a field the parser did not expect.
    let media_type = value
        .get("mediaType")
        .and_then(|m| m.as_str())
        .map(str::to_owned);
    match media_type.as_deref() {
        Some(BUNDLE_MEDIA_TYPE) => {}
        found => {
            return Err(Error::UnknownMediaType {
                what: "bundle",
                found: found.unwrap_or("(none)").to_owned(),
                expected: BUNDLE_MEDIA_TYPE,
            });
        }
    }
    let entries = value
        .get_mut("verificationMaterial")
        .and_then(|m| m.as_object_mut())
        .and_then(|m| m.remove("tlogEntries"));
    let tlog_entries: Vec<TlogEntry> = match entries {
        Some(e) => serde_json::from_value(e).map_err(Error::json("bundle tlogEntries"))?,
        None => Vec::new(),
    };
    let bundle: Bundle = serde_json::from_value(value).map_err(Error::json("bundle"))?;
    let VerificationMaterialContent::PublicKey(id) = &bundle.verification_material.content else {
        return Err(Error::UnsupportedBundleContent {
            missing: "verificationMaterial.publicKey",
        });
    };
    let SignatureContent::DsseEnvelope(envelope) = &bundle.content else {
        return Err(Error::UnsupportedBundleContent {
            missing: "dsseEnvelope",
        });
    };
    let keyid = envelope.signature.keyid.as_str();
    if keyid != id.hint {
        return Err(Error::KeyIdMismatch {
            keyid: keyid.to_owned(),
            hint: id.hint.clone(),
        });
    }
    Ok(SignedBundle {
        tlog_entries,
        hint: KeyHint::new(id.hint.clone()),
        envelope: envelope.clone(),
        bundle,
    })
}

/// Check the envelope's signature over PAE with `key`.
pub fn verify_envelope(envelope: &DsseEnvelope, key: &PublicKey) -> Result<(), Error> {
    key.verify(&envelope.pae(), envelope.signature.sig.as_bytes())
        .map_err(Error::Signature)
}

#[cfg(test)]
mod tests {
    use super::*;
    use custody_crypto::{KeyAlgorithm, SigningKey};

    fn bundle_json(key: &SigningKey) -> String {
        to_json(&sign(key, IN_TOTO_PAYLOAD_TYPE, b"{}").unwrap()).unwrap()
    }

    #[test]
    fn round_trip_and_verify() {
        for alg in [KeyAlgorithm::Ed25519, KeyAlgorithm::EcdsaP256] {
            let key = SigningKey::generate(alg).unwrap();
            let json = bundle_json(&key);
            let parsed = parse(json.as_bytes()).unwrap();
            assert_eq!(parsed.hint, key.public_key().hint());
            verify_envelope(&parsed.envelope, key.public_key()).unwrap();
            let other = SigningKey::generate(alg).unwrap();
            assert!(verify_envelope(&parsed.envelope, other.public_key()).is_err());
        }
    }

    #[test]
    fn rejects_unknown_media_type() {
        let key = SigningKey::generate(KeyAlgorithm::Ed25519).unwrap();
        let json = bundle_json(&key).replace(BUNDLE_MEDIA_TYPE, "application/vnd.example+json");
        assert!(matches!(
            parse(json.as_bytes()),
            Err(Error::UnknownMediaType { .. })
        ));
    }

    #[test]
    fn rejects_keyid_that_differs_from_hint() {
        let key = SigningKey::generate(KeyAlgorithm::Ed25519).unwrap();
        let hint = key.public_key().hint();
        let mut v: serde_json::Value = serde_json::from_str(&bundle_json(&key)).unwrap();
        v["dsseEnvelope"]["signatures"][0]["keyid"] = "someone-else".into();
        let err = parse(v.to_string().as_bytes()).unwrap_err();
        assert!(
            matches!(&err, Error::KeyIdMismatch { keyid, hint: h } if keyid == "someone-else" && h == hint.as_str()),
            "{err}"
        );
    }

    #[test]
    fn rejects_truncated_and_oversized() {
        let key = SigningKey::generate(KeyAlgorithm::Ed25519).unwrap();
        let json = bundle_json(&key);
        for cut in [0, 1, json.len() / 2, json.len() - 1] {
            assert!(matches!(
                parse(&json.as_bytes()[..cut]),
                Err(Error::Json { .. })
            ));
        }
        let huge = vec![b' '; MAX_BUNDLE_BYTES + 1];
        assert!(matches!(parse(&huge), Err(Error::TooLarge { .. })));
    }
}
