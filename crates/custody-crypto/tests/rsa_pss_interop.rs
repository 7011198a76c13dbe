//! RSA-PSS-SHA256 (TUF's `rsassa-pss-sha256`) interoperates with OpenSSL in both directions, and
//! rejects what it must. Keys and signatures are made by the `openssl` CLI at test time; a
//! missing `openssl` fails the tests rather than skipping them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use custody_crypto::{Error, KeyAlgorithm, PublicKey, Signer, SigningKey, Verifier};

const MESSAGE: &[u8] = b"{\"signed\":{\"_type\":\"root\",\"version\":1}}";
const PSS: [&str; 4] = [
    "-sigopt",
    "rsa_padding_mode:pss",
    "-sigopt",
    "rsa_pss_saltlen:32",
];

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run openssl (it must be on PATH for these tests): {e}"));
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A fresh RSA key in `dir`: `<name>.pem` (PKCS#8) and `<name>.pub.pem` (SPKI).
fn rsa_key(dir: &Path, name: &str, bits: u32) -> (PathBuf, PathBuf) {
    let key = format!("{name}.pem");
    let public = format!("{name}.pub.pem");
    let bits = format!("rsa_keygen_bits:{bits}");
    openssl(
        dir,
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            &bits,
            "-out",
            &key,
        ],
    );
    openssl(dir, &["pkey", "-in", &key, "-pubout", "-out", &public]);
    (dir.join(key), dir.join(public))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

fn openssl_sign(dir: &Path, key: &Path, saltlen: &str) -> Vec<u8> {
    std::fs::write(dir.join("msg"), MESSAGE).unwrap();
    let saltlen = format!("rsa_pss_saltlen:{saltlen}");
    let key = key.to_str().unwrap();
    openssl(
        dir,
        &[
            "dgst",
            "-sha256",
            "-sigopt",
            "rsa_padding_mode:pss",
            "-sigopt",
            &saltlen,
            "-sign",
            key,
            "-out",
            "sig",
            "msg",
        ],
    );
    std::fs::read(dir.join("sig")).unwrap()
}

#[test]
fn openssl_signature_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = rsa_key(dir.path(), "k", 2048);
    let sig = openssl_sign(dir.path(), &key, "32");
    let public = PublicKey::from_pem(&read(&public)).unwrap();

    assert_eq!(public.algorithm(), KeyAlgorithm::RsaPssSha256);
    assert_eq!(sig.len(), 256);
    public.verify(MESSAGE, &sig).unwrap();

    assert!(public.ed25519_bytes().is_none());
    let again = PublicKey::from_pem(&public.to_pem()).unwrap();
    assert_eq!(again, public);
    assert_eq!(again.hint(), public.hint());
    assert_eq!(PublicKey::from_spki_der(public.spki_der()).unwrap(), public);
}

#[test]
fn our_signature_verifies_with_openssl() {
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = rsa_key(dir.path(), "k", 3072);
    let signer = SigningKey::from_pkcs8_pem(&read(&key), None, true).unwrap();
    assert_eq!(signer.algorithm(), KeyAlgorithm::RsaPssSha256);
    // Same SPKI bytes as `openssl pkey -pubout`, so hints and TUF key IDs agree across tools.
    assert_eq!(
        signer.public_key(),
        &PublicKey::from_pem(&read(&public)).unwrap()
    );

    let sig = signer.sign(MESSAGE).unwrap();
    assert_eq!(sig.len(), 384);
    signer.public_key().verify(MESSAGE, &sig).unwrap();
    std::fs::write(dir.path().join("msg"), MESSAGE).unwrap();
    std::fs::write(dir.path().join("sig"), &sig).unwrap();
    let public = public.to_str().unwrap();
    let mut args = vec!["dgst", "-sha256"];
    args.extend(PSS);
    args.extend(["-verify", public, "-signature", "sig", "msg"]);
    openssl(dir.path(), &args);
}

#[test]
fn tampered_signature_and_message_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = rsa_key(dir.path(), "k", 2048);
    let sig = openssl_sign(dir.path(), &key, "32");
    let public = PublicKey::from_pem(&read(&public)).unwrap();

    for i in [0, sig.len() / 2, sig.len() - 1] {
        let mut flipped = sig.clone();
        flipped[i] ^= 1;
        assert!(matches!(
            public.verify(MESSAGE, &flipped),
            Err(Error::BadSignature(KeyAlgorithm::RsaPssSha256))
        ));
    }
    assert!(matches!(
        public.verify(b"another message", &sig),
        Err(Error::BadSignature(_))
    ));
    assert!(matches!(
        public.verify(MESSAGE, &sig[1..]),
        Err(Error::MalformedSignature(KeyAlgorithm::RsaPssSha256))
    ));
}

#[test]
fn wrong_key_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = rsa_key(dir.path(), "a", 2048);
    let (_, other) = rsa_key(dir.path(), "b", 2048);
    let sig = openssl_sign(dir.path(), &key, "32");
    let other = PublicKey::from_pem(&read(&other)).unwrap();
    assert!(matches!(
        other.verify(MESSAGE, &sig),
        Err(Error::BadSignature(_))
    ));

    let ed = SigningKey::generate(KeyAlgorithm::Ed25519).unwrap();
    assert!(ed.public_key().verify(MESSAGE, &sig).is_err());
}

/// securesystemslib's `rsassa-pss-sha256` fixes the salt at the digest length; a signature with
/// another salt length is a different scheme and must not pass.
#[test]
fn salt_length_other_than_32_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = rsa_key(dir.path(), "k", 2048);
    let public = PublicKey::from_pem(&read(&public)).unwrap();
    for saltlen in ["0", "20", "64", "max"] {
        let sig = openssl_sign(dir.path(), &key, saltlen);
        assert!(
            matches!(public.verify(MESSAGE, &sig), Err(Error::BadSignature(_))),
            "salt length {saltlen} accepted"
        );
    }
}

#[test]
fn rsa_1024_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = rsa_key(dir.path(), "k", 1024);
    let err = PublicKey::from_pem(&read(&public)).unwrap_err();
    assert!(
        matches!(err, Error::RsaModulusSize { bits: 1024, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("2048 to 8192"), "{err}");

    let err = SigningKey::from_pkcs8_pem(&read(&key), None, true).unwrap_err();
    assert!(
        matches!(err, Error::RsaModulusSize { bits: 1024, .. }),
        "{err:?}"
    );
}

/// ring signs only with 2048-, 3072- and 4096-bit keys; anything else is named, not a vague
/// rejection.
#[test]
fn rsa_signing_key_of_odd_size_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = rsa_key(dir.path(), "k", 2560);
    PublicKey::from_pem(&read(&public)).unwrap();
    let err = SigningKey::from_pkcs8_pem(&read(&key), None, true).unwrap_err();
    assert!(
        matches!(err, Error::RsaModulusSize { bits: 2560, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("2048, 3072 or 4096"), "{err}");
}

#[test]
fn generate_refuses_rsa() {
    let err = SigningKey::generate(KeyAlgorithm::RsaPssSha256).unwrap_err();
    assert!(matches!(err, Error::RsaGenerationUnsupported));
    assert!(err.to_string().contains("openssl genpkey"), "{err}");
}

#[test]
fn openssl_encrypted_key_loads() {
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = rsa_key(dir.path(), "k", 2048);
    let key = key.to_str().unwrap();
    openssl(
        dir.path(),
        &[
            "pkcs8",
            "-topk8",
            "-in",
            key,
            "-v2",
            "aes-256-cbc",
            "-passout",
            "pass:hunter22",
            "-out",
            "enc.pem",
        ],
    );
    let pem = read(&dir.path().join("enc.pem"));
    assert!(pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
    assert!(matches!(
        SigningKey::from_pkcs8_pem(&pem, Some(b"wrong"), false),
        Err(Error::WrongPassphrase)
    ));
    let signer = SigningKey::from_pkcs8_pem(&pem, Some(b"hunter22"), false).unwrap();
    let public = PublicKey::from_pem(&read(&public)).unwrap();
    public
        .verify(MESSAGE, &signer.sign(MESSAGE).unwrap())
        .unwrap();
    // Plaintext RSA keys still need explicit consent.
    assert!(matches!(
        SigningKey::from_pkcs8_pem(&read(Path::new(key)), None, false),
        Err(Error::UnencryptedKeyRefused)
    ));
}

#[test]
fn rsa_key_re_exports_as_pkcs8() {
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = rsa_key(dir.path(), "k", 2048);
    let signer = SigningKey::from_pkcs8_pem(&read(&key), None, true).unwrap();

    let encrypted = signer.to_encrypted_pem(b"correct horse").unwrap();
    let back = SigningKey::from_pkcs8_pem(&encrypted, Some(b"correct horse"), false).unwrap();
    assert_eq!(back.public_key(), signer.public_key());
    // OpenSSL reads custody's scrypt-encrypted file back to the same public key.
    std::fs::write(dir.path().join("custody.pem"), encrypted.as_bytes()).unwrap();
    openssl(
        dir.path(),
        &[
            "pkey",
            "-in",
            "custody.pem",
            "-passin",
            "pass:correct horse",
            "-pubout",
            "-out",
            "custody.pub.pem",
        ],
    );
    assert_eq!(read(&dir.path().join("custody.pub.pem")), read(&public));

    let plain = signer.to_unencrypted_pem_insecure().unwrap();
    let back = SigningKey::from_pkcs8_pem(&plain, None, true).unwrap();
    assert_eq!(back.public_key(), signer.public_key());
}
