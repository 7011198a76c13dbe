//! RSASSA-PSS with SHA-256, MGF1-SHA-256 and a 32-byte salt: the scheme TUF and
//! securesystemslib call `rsassa-pss-sha256`. ring does the arithmetic.
//!
//! ring takes keys as PKCS#1 DER and, when it refuses one, never says which rule the key broke.
//! So the modulus size and the public exponent are checked here first, where the error can carry
//! the values; ring's own checks then run as a second line.

use std::ops::RangeInclusive;

use ring::rand::SystemRandom;
use ring::signature::{RSA_PSS_2048_8192_SHA256, RSA_PSS_SHA256, UnparsedPublicKey};
use spki::der::asn1::{AnyRef, BitStringRef, UintRef};
use spki::der::{Decode as _, Reader as _, SliceReader};
use spki::{AlgorithmIdentifierRef, ObjectIdentifier, SubjectPublicKeyInfoRef};
use zeroize::Zeroizing;

use crate::{Error, KeyAlgorithm};

/// rsaEncryption (RFC 8017 appendix A.1). OpenSSL and securesystemslib label PSS keys with it
/// too, and the padding is fixed by the TUF scheme, not by the key.
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// NIST SP 800-131A disallows shorter moduli; ring's `RSA_PSS_2048_8192_SHA256` caps the length.
const VERIFY_BITS: RangeInclusive<usize> = 2048..=8192;
const VERIFY_BITS_TEXT: &str = "verifying needs 2048 to 8192 bits";
/// ring loads private keys only up to 4096 bits and only with primes a multiple of 512 bits
/// long, which leaves exactly these sizes.
const SIGN_BITS: [usize; 3] = [2048, 3072, 4096];
const SIGN_BITS_TEXT: &str = "signing needs 2048, 3072 or 4096 bits";
/// ring's ceiling for the public exponent, 2^33 - 1.
const MAX_EXPONENT: u64 = (1 << 33) - 1;

/// An RSA public key ring will accept, kept as the PKCS#1 `RSAPublicKey` ring takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RsaPublicKey {
    pkcs1: Vec<u8>,
    /// Every signature is exactly this many bytes (RFC 8017 section 8.1.2 step 1).
    modulus_len: usize,
}

impl RsaPublicKey {
    /// The key inside an SPKI, or `None` when the SPKI is not rsaEncryption, so the caller can
    /// report an unsupported algorithm rather than a malformed RSA key.
    pub(crate) fn from_spki_der(der: &[u8]) -> Result<Option<Self>, Error> {
        let Ok(spki) = SubjectPublicKeyInfoRef::from_der(der) else {
            return Ok(None);
        };
        if spki.algorithm.oid != RSA_ENCRYPTION {
            return Ok(None);
        }
        // RFC 3279 section 2.3.1: the parameters MUST be NULL. Some encoders omit them.
        if spki.algorithm.parameters.is_some_and(|p| !p.is_null()) {
            return Err(Error::MalformedRsaKey);
        }
        let pkcs1 = spki
            .subject_public_key
            .as_bytes()
            .ok_or(Error::MalformedRsaKey)?;
        let (n, e) = read_public_key(pkcs1).map_err(|_| Error::MalformedRsaKey)?;
        let bits = modulus_bits(n.as_bytes())?;
        if !VERIFY_BITS.contains(&bits) {
            return Err(Error::RsaModulusSize {
                bits,
                accepted: VERIFY_BITS_TEXT,
            });
        }
        check_exponent(e.as_bytes())?;
        Ok(Some(Self {
            pkcs1: pkcs1.to_vec(),
            modulus_len: n.as_bytes().len(),
        }))
    }

    pub(crate) fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), Error> {
        if signature.len() != self.modulus_len {
            return Err(Error::MalformedSignature(KeyAlgorithm::RsaPssSha256));
        }
        // ring derives the salt length from the digest (32 bytes) and rejects any other, which is
        // what securesystemslib's `rsassa-pss-sha256` requires.
        UnparsedPublicKey::new(&RSA_PSS_2048_8192_SHA256, &self.pkcs1)
            .verify(message, signature)
            .map_err(|_| Error::BadSignature(KeyAlgorithm::RsaPssSha256))
    }
}

/// An RSA private key, with the PKCS#8 DER it came from so it can be written back unchanged.
pub(crate) struct RsaSecretKey {
    pair: ring::rsa::KeyPair,
    pkcs8: Zeroizing<Vec<u8>>,
}

impl RsaSecretKey {
    /// The key in a PKCS#8 `PrivateKeyInfo`, or `None` when it is not rsaEncryption.
    pub(crate) fn from_pkcs8_der(der: &[u8]) -> Result<Option<Self>, Error> {
        let Ok(info) = pkcs8::PrivateKeyInfoRef::from_der(der) else {
            return Ok(None);
        };
        if info.algorithm.oid != RSA_ENCRYPTION {
            return Ok(None);
        }
        let n = read_private_modulus(info.private_key.as_bytes())
            .map_err(|_| Error::MalformedRsaKey)?;
        let bits = modulus_bits(n.as_bytes())?;
        if !SIGN_BITS.contains(&bits) {
            return Err(Error::RsaModulusSize {
                bits,
                accepted: SIGN_BITS_TEXT,
            });
        }
        let pair = ring::rsa::KeyPair::from_pkcs8(der).map_err(|e| Error::RsaKeyRejected {
            reason: e.to_string(),
        })?;
        Ok(Some(Self {
            pair,
            pkcs8: Zeroizing::new(der.to_vec()),
        }))
    }

    /// SPKI DER for the public half, encoded as OpenSSL does (NULL parameters), so the key's
    /// hint matches that of `openssl pkey -pubout`.
    pub(crate) fn spki_der(&self) -> spki::Result<spki::Document> {
        Ok(spki::Document::encode_msg(&SubjectPublicKeyInfoRef {
            algorithm: AlgorithmIdentifierRef {
                oid: RSA_ENCRYPTION,
                parameters: Some(AnyRef::NULL),
            },
            subject_public_key: BitStringRef::from_bytes(self.pair.public().as_ref())?,
        })?)
    }

    pub(crate) fn pkcs8_der(&self) -> pkcs8::Result<pkcs8::SecretDocument> {
        Ok(pkcs8::SecretDocument::try_from(self.pkcs8.as_slice())?)
    }

    pub(crate) fn sign(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        let mut signature = vec![0; self.pair.public().modulus_len()];
        self.pair
            .sign(
                &RSA_PSS_SHA256,
                &SystemRandom::new(),
                message,
                &mut signature,
            )
            .map_err(|_| Error::SigningFailed(KeyAlgorithm::RsaPssSha256))?;
        Ok(signature)
    }
}

/// PKCS#1 `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }`.
fn read_public_key(der: &[u8]) -> spki::der::Result<(UintRef<'_>, UintRef<'_>)> {
    let mut reader = SliceReader::new(der)?;
    let key = reader
        .sequence(|r| Ok::<_, spki::der::Error>((UintRef::decode(r)?, UintRef::decode(r)?)))?;
    reader.finish()?;
    Ok(key)
}

/// The modulus of a PKCS#1 `RSAPrivateKey`, read ahead of ring to name a wrong size.
fn read_private_modulus(der: &[u8]) -> spki::der::Result<UintRef<'_>> {
    let mut reader = SliceReader::new(der)?;
    let n = reader.sequence(|r| {
        let _version = UintRef::decode(r)?;
        let n = UintRef::decode(r)?;
        // The remaining fields are private; ring parses and checks them.
        r.read_slice(r.remaining_len())?;
        Ok::<_, spki::der::Error>(n)
    })?;
    reader.finish()?;
    Ok(n)
}

/// The bit length of `n`, given big-endian without leading zeros as `UintRef` holds it.
fn modulus_bits(n: &[u8]) -> Result<usize, Error> {
    // An even modulus cannot be a product of two odd primes.
    match (n.first(), n.last()) {
        (Some(top), Some(low)) if low & 1 == 1 => Ok(n.len() * 8 - top.leading_zeros() as usize),
        _ => Err(Error::MalformedRsaKey),
    }
}

/// ring verifies only with odd exponents from 3 to 2^33 - 1; anything else would fail every
/// signature later with no hint why.
fn check_exponent(e: &[u8]) -> Result<(), Error> {
    let value = if e.len() <= 5 {
        e.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
    } else {
        u64::MAX
    };
    if !(3..=MAX_EXPONENT).contains(&value) || value & 1 == 0 {
        return Err(Error::RsaPublicExponent {
            exponent_hex: hex::encode(e),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        match content.len() {
            n @ 0..=0x7f => out.push(n as u8),
            n @ 0x80..=0xff => out.extend([0x81, n as u8]),
            n => out.extend([0x82, (n >> 8) as u8, n as u8]),
        }
        out.extend_from_slice(content);
        out
    }

    /// A non-negative DER INTEGER: a zero byte goes in front only when the top bit is set.
    fn integer(be: &[u8]) -> Vec<u8> {
        let mut content = Vec::new();
        if be.first().is_some_and(|b| b & 0x80 != 0) {
            content.push(0);
        }
        content.extend_from_slice(be);
        tlv(0x02, &content)
    }

    /// An rsaEncryption SPKI around `RSAPublicKey { n, e }`, with `params` as the raw
    /// AlgorithmIdentifier parameters (empty for none).
    fn spki(n: &[u8], e: &[u8], params: &[u8]) -> Vec<u8> {
        let pkcs1 = tlv(0x30, &[integer(n), integer(e)].concat());
        spki_around(&pkcs1, params)
    }

    fn spki_around(pkcs1: &[u8], params: &[u8]) -> Vec<u8> {
        let oid = [
            0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
        ];
        let algorithm = tlv(0x30, &[&oid[..], params].concat());
        let bits = tlv(0x03, &[&[0u8][..], pkcs1].concat());
        tlv(0x30, &[algorithm, bits].concat())
    }

    const NULL: &[u8] = &[0x05, 0x00];
    const F4: &[u8] = &[0x01, 0x00, 0x01];

    fn odd_modulus(bits: usize) -> Vec<u8> {
        vec![0xff; bits / 8]
    }

    #[test]
    fn well_formed_key_is_accepted_with_or_without_null_parameters() {
        for params in [NULL, &[]] {
            let key = RsaPublicKey::from_spki_der(&spki(&odd_modulus(2048), F4, params))
                .unwrap()
                .unwrap();
            assert_eq!(key.modulus_len, 256);
        }
        RsaPublicKey::from_spki_der(&spki(&odd_modulus(8192), &[3], NULL))
            .unwrap()
            .unwrap();
    }

    #[test]
    fn modulus_outside_2048_to_8192_bits_is_refused() {
        for bits in [1024, 2040, 8200] {
            let err = RsaPublicKey::from_spki_der(&spki(&odd_modulus(bits), F4, NULL)).unwrap_err();
            assert!(
                matches!(err, Error::RsaModulusSize { bits: b, .. } if b == bits),
                "{bits}: {err:?}"
            );
        }
    }

    #[test]
    fn exponent_ring_cannot_use_is_refused() {
        for e in [
            &[1u8][..],
            &[0x01, 0x00, 0x00],
            &[0x02, 0x00, 0x00, 0x00, 0x01],
        ] {
            let err = RsaPublicKey::from_spki_der(&spki(&odd_modulus(2048), e, NULL)).unwrap_err();
            assert!(
                matches!(err, Error::RsaPublicExponent { .. }),
                "{e:?}: {err:?}"
            );
        }
    }

    #[test]
    fn malformed_rsa_keys_are_named() {
        let mut even = odd_modulus(2048);
        even[255] = 0xfe;
        let oid_params = [0x06, 0x03, 0x2b, 0x65, 0x70];
        for der in [
            spki(&even, F4, NULL),
            spki(&odd_modulus(2048), F4, &oid_params),
            spki_around(b"\x01\x02\x03", NULL),
        ] {
            assert!(matches!(
                RsaPublicKey::from_spki_der(&der),
                Err(Error::MalformedRsaKey)
            ));
        }
    }

    #[test]
    fn other_algorithms_are_not_claimed() {
        assert!(
            RsaPublicKey::from_spki_der(b"\x30\x03\x02\x01\x00")
                .unwrap()
                .is_none()
        );
    }
}
