//! Keys in a real PKCS#11 token: Debian's SoftHSM 2. Each test makes a token of its own in a
//! temporary directory and runs again in a child process whose `SOFTHSM2_CONF` points there
//! (SoftHSM reads it when the module is initialised, once per process; and this workspace sets
//! no environment in-process). Under CI a missing SoftHSM fails the tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::sync::Arc;

use custody_crypto::{KeyAlgorithm, Signer, Verifier as _};
use custody_pkcs11::softhsm::{self, MODULE};
use custody_pkcs11::{Error, KeyUri, Token};

const LABEL: &str = "custody-test";
const PIN: &str = "4711";
const CHILD: &str = "CUSTODY_SOFTHSM_CHILD";

/// In the test process: makes a token, runs `test` in a child pointed at it, asserts that it
/// ran and passed, and returns `false`. In the child: returns `true`, to go on with the test.
fn in_token(test: &str) -> bool {
    if std::env::var_os(CHILD).is_some() {
        return true;
    }
    if !softhsm::installed() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI: SoftHSM (Debian softhsm2) is missing: {MODULE}"
        );
        eprintln!("skipped: no SoftHSM at {MODULE}");
        return false;
    }
    let dir = tempfile::tempdir().unwrap();
    let conf = softhsm::init_token(dir.path(), LABEL, "0000", PIN).unwrap();
    let child = Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads", "1"])
        .env("SOFTHSM2_CONF", &conf)
        .env(CHILD, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&child.stdout);
    let stderr = String::from_utf8_lossy(&child.stderr);
    assert!(
        child.status.success(),
        "{test} in SoftHSM:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("1 passed"), "{test} did not run:\n{stdout}");
    false
}

fn uri(object: &str) -> KeyUri {
    KeyUri::parse(&format!(
        "pkcs11:token={LABEL};object={object}?module-path={MODULE}"
    ))
    .unwrap()
}

fn generated(object: &str, algorithm: KeyAlgorithm) -> Arc<dyn Signer> {
    let uri = uri(object);
    let token = Token::open(&uri).unwrap();
    Arc::new(token.generate(&uri, algorithm, PIN).unwrap())
}

#[test]
fn an_ed25519_key_made_in_the_token_signs_and_stays_there() {
    if !in_token("an_ed25519_key_made_in_the_token_signs_and_stays_there") {
        return;
    }
    let signer = generated("release", KeyAlgorithm::Ed25519);
    assert_eq!(signer.public_key().algorithm(), KeyAlgorithm::Ed25519);
    let message = b"custody release manifest";
    let signature = signer.sign(message).unwrap();
    signer.public_key().verify(message, &signature).unwrap();
    assert!(signer.public_key().verify(b"another", &signature).is_err());

    // Opened again by its URI, it is the same key.
    let uri = uri("release");
    let again = Token::open(&uri).unwrap().signer(&uri, PIN).unwrap();
    assert_eq!(again.public_key(), signer.public_key());
    again
        .public_key()
        .verify(message, &again.sign(message).unwrap())
        .unwrap();

    // A DSSE bundle and a C2SP checkpoint signed through the token verify as file keys' do.
    let bundle = custody_attest::bundle::sign(
        signer.as_ref(),
        custody_attest::bundle::IN_TOTO_PAYLOAD_TYPE,
        b"{}",
    )
    .unwrap();
    let json = custody_attest::bundle::to_json(&bundle).unwrap();
    let parsed = custody_attest::bundle::parse(json.as_bytes()).unwrap();
    custody_attest::bundle::verify_envelope(&parsed.envelope, signer.public_key()).unwrap();
    let note_signer = custody_tlog::NoteSigner::with_key(
        "example.com/log",
        custody_tlog::SignatureType::Ed25519,
        custody_attest::tlog::note_key(signer.clone()).unwrap(),
    )
    .unwrap();
    let mut note = custody_tlog::Note::new(
        "example.com/log\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
    )
    .unwrap();
    note_signer.sign(&mut note, None).unwrap();
    assert_eq!(
        note.verify(&[note_signer.verifier().clone()])
            .unwrap()
            .len(),
        1
    );
    assert_eq!(note_signer.to_skey_string(), None, "the seed never leaves");
}

#[test]
fn an_ecdsa_p256_key_made_in_the_token_signs_der_like_a_file_key() {
    if !in_token("an_ecdsa_p256_key_made_in_the_token_signs_der_like_a_file_key") {
        return;
    }
    let signer = generated("targets", KeyAlgorithm::EcdsaP256);
    assert_eq!(signer.public_key().algorithm(), KeyAlgorithm::EcdsaP256);
    let message = b"TUF targets metadata";
    let signature = signer.sign(message).unwrap();
    // DER: a SEQUENCE of two INTEGERs, as custody's file keys and sigstore expect.
    assert_eq!(signature[0], 0x30, "{signature:02x?}");
    signer.public_key().verify(message, &signature).unwrap();
}

#[test]
fn a_wrong_pin_a_missing_token_or_key_and_a_second_key_of_a_label_are_refused() {
    if !in_token("a_wrong_pin_a_missing_token_or_key_and_a_second_key_of_a_label_are_refused") {
        return;
    }
    let release = uri("release");
    let token = Token::open(&release).unwrap();
    assert!(matches!(
        token.generate(&release, KeyAlgorithm::Ed25519, "0000"),
        Err(Error::WrongPin { token }) if token == LABEL
    ));
    token
        .generate(&release, KeyAlgorithm::Ed25519, PIN)
        .unwrap();
    assert!(matches!(
        token.generate(&release, KeyAlgorithm::EcdsaP256, PIN),
        Err(Error::KeyExists { object, .. }) if object == "release"
    ));
    assert!(matches!(
        token.signer(&uri("log"), PIN),
        Err(Error::KeyNotFound { object, .. }) if object == "log"
    ));
    assert!(matches!(
        token.generate(&uri("rsa"), KeyAlgorithm::RsaPssSha256, PIN),
        Err(Error::UnsupportedAlgorithm { .. })
    ));
    let elsewhere = KeyUri::parse(&format!(
        "pkcs11:token=no-such-token;object=release?module-path={MODULE}"
    ))
    .unwrap();
    match Token::open(&elsewhere) {
        Err(Error::TokenNotFound { label, available }) => {
            assert_eq!(label, "no-such-token");
            assert!(available.iter().any(|l| l == LABEL), "{available:?}");
        }
        other => panic!("{other:?}"),
    }
    let no_module =
        KeyUri::parse("pkcs11:token=t;object=o?module-path=/nonexistent/module.so").unwrap();
    assert!(matches!(Token::open(&no_module), Err(Error::Module { .. })));
}
