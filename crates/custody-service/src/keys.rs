//! Signing keys in files: encrypted PKCS#8 PEM (scrypt + AES-256-CBC), owner-only, with the
//! public half beside each as `<key>.pub`. The [`KeySource`] backend for keys on disk; only
//! where a passphrase comes from (a prompt, the environment) is the caller's, through
//! [`Passphrases`].

use std::cell::RefCell;
use std::path::{Path, PathBuf};

use std::sync::Arc;

use custody_crypto::{KeyAlgorithm, PublicKey, Signer as _, SigningKey};
use custody_site::fs::{create_private, read_text, write_atomic};
use zeroize::Zeroizing;

use crate::Error;
use crate::env::{Events, Key, KeySource};

/// The largest key file read.
const MAX_KEY_FILE: u64 = 64 << 10;

/// Where passphrases come from. Never a command-line argument, which would land in shell
/// history and `ps`.
pub trait Passphrases {
    /// The passphrase of the existing encrypted key at `key`.
    fn for_unlock(&self, key: &Path) -> Result<Zeroizing<String>, Error>;
    /// A passphrase to encrypt the new key at `key` with.
    fn for_new_key(&self, key: &Path) -> Result<Zeroizing<String>, Error>;
    /// The user PIN of the PKCS#11 token `token`.
    fn for_pin(&self, token: &str) -> Result<Zeroizing<String>, Error>;
}

/// The PKCS#11 key `path` names, when it is a `pkcs11:` URI rather than a file.
fn key_uri(path: &Path) -> Result<Option<custody_pkcs11::KeyUri>, Error> {
    match path.to_str() {
        Some(text) if custody_pkcs11::KeyUri::is_uri(text) => {
            Ok(Some(custody_pkcs11::KeyUri::parse(text)?))
        }
        _ => Ok(None),
    }
}

/// How a configured key is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Protection {
    /// In a PKCS#11 token, never leaving it.
    Token,
    /// An encrypted PKCS#8 file.
    Encrypted,
    /// A plaintext PKCS#8 file (or one that cannot be read).
    Unencrypted,
}

/// How the key at `path` (a file or a `pkcs11:` URI) is kept.
pub fn protection(path: &Path) -> Protection {
    if custody_site::config::is_key_uri(path) {
        return Protection::Token;
    }
    match read_text(path, MAX_KEY_FILE, "private key") {
        Ok(pem) if is_encrypted(&pem) => Protection::Encrypted,
        _ => Protection::Unencrypted,
    }
}

/// Whether a key file's PEM is encrypted PKCS#8.
fn is_encrypted(pem: &str) -> bool {
    pem.contains("ENCRYPTED PRIVATE KEY")
}

/// `<key>.pub`, where a key's public half is kept.
pub fn pub_path(key: &Path) -> PathBuf {
    let mut name = key.file_name().unwrap_or_default().to_os_string();
    name.push(".pub");
    key.with_file_name(name)
}

fn key_error(path: &Path) -> impl FnOnce(custody_crypto::Error) -> Error + '_ {
    move |source| Error::KeyCrypto {
        path: path.to_path_buf(),
        source,
    }
}

/// Key files. Several keys unlocked together share one passphrase, asked for at most once, and
/// the new keys of one run are encrypted with one passphrase, asked for once.
pub struct FileKeys<'a> {
    passphrases: &'a dyn Passphrases,
    insecure_unencrypted: bool,
    events: &'a dyn Events,
    new_passphrase: RefCell<Option<Zeroizing<String>>>,
    /// Each token's PIN, asked for once per run.
    pins: RefCell<std::collections::BTreeMap<String, Zeroizing<String>>>,
}

impl std::fmt::Debug for FileKeys<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileKeys")
            .field("insecure_unencrypted", &self.insecure_unencrypted)
            .finish_non_exhaustive()
    }
}

impl<'a> FileKeys<'a> {
    /// Key files whose passphrases come from `passphrases`. Unencrypted key files are accepted,
    /// and new keys written unencrypted, only with `insecure_unencrypted`, and then with a
    /// warning.
    pub fn new(
        passphrases: &'a dyn Passphrases,
        insecure_unencrypted: bool,
        events: &'a dyn Events,
    ) -> Self {
        Self {
            passphrases,
            insecure_unencrypted,
            events,
            new_passphrase: RefCell::new(None),
            pins: RefCell::default(),
        }
    }

    fn pin(&self, token: &str) -> Result<Zeroizing<String>, Error> {
        if let Some(pin) = self.pins.borrow().get(token) {
            return Ok(pin.clone());
        }
        let pin = self.passphrases.for_pin(token)?;
        self.pins.borrow_mut().insert(token.to_owned(), pin.clone());
        Ok(pin)
    }

    /// Whether new keys are written encrypted.
    pub fn encrypts(&self) -> bool {
        !self.insecure_unencrypted
    }

    /// Writes `key` to `path`, encrypted with `passphrase` or, without one, unencrypted with a
    /// warning; its public half goes to `<path>.pub`.
    fn write(&self, path: &Path, key: &SigningKey, passphrase: Option<&str>) -> Result<(), Error> {
        let pem = match passphrase {
            None => {
                self.events.warn(&format!(
                    "writing {} UNENCRYPTED: anyone who can read it can sign",
                    path.display()
                ));
                key.to_unencrypted_pem_insecure()
            }
            Some(pass) => {
                self.events
                    .progress(&format!("Encrypting {} (scrypt)...", path.display()));
                key.to_encrypted_pem(pass.as_bytes())
            }
        }
        .map_err(key_error(path))?;
        create_private(path, pem.as_bytes())?;
        write_atomic(&pub_path(path), key.public_key().to_pem().as_bytes())?;
        Ok(())
    }
}

impl KeySource for FileKeys<'_> {
    fn unlock(&self, paths: &[&Path]) -> Result<Vec<Key>, Error> {
        let mut pass: Option<Zeroizing<String>> = None;
        let mut keys: Vec<Key> = Vec::with_capacity(paths.len());
        for path in paths {
            if let Some(uri) = key_uri(path)? {
                let token = custody_pkcs11::Token::open(&uri)?;
                keys.push(Arc::new(token.signer(&uri, &self.pin(&uri.token)?)?));
                continue;
            }
            let pem = read_text(path, MAX_KEY_FILE, "private key").map_err(Error::input)?;
            if is_encrypted(&pem) {
                if pass.is_none() {
                    pass = Some(self.passphrases.for_unlock(path)?);
                }
            } else if self.insecure_unencrypted {
                self.events
                    .warn(&format!("{} is an UNENCRYPTED key", path.display()));
            }
            let key = SigningKey::from_pkcs8_pem(
                &pem,
                pass.as_ref().map(|p| p.as_bytes()),
                self.insecure_unencrypted,
            )
            .map_err(key_error(path))?;
            keys.push(Arc::new(key));
        }
        Ok(keys)
    }

    /// From a public key file, or the `.pub` beside a private key, else by unlocking it.
    fn public_key(&self, path: &Path) -> Result<PublicKey, Error> {
        if key_uri(path)?.is_some() {
            return Ok(unlock_one(self, path)?.public_key().clone());
        }
        let text = read_text(path, MAX_KEY_FILE, "key").map_err(Error::input)?;
        if text.contains("BEGIN PUBLIC KEY") {
            return PublicKey::from_pem(&text).map_err(key_error(path));
        }
        let pub_file = pub_path(path);
        if pub_file.is_file() {
            let text = read_text(&pub_file, MAX_KEY_FILE, "public key").map_err(Error::input)?;
            return PublicKey::from_pem(&text).map_err(key_error(&pub_file));
        }
        Ok(unlock_one(self, path)?.public_key().clone())
    }

    /// In a token when `path` is a `pkcs11:` URI: made there, and never leaving it.
    fn generate(&self, path: &Path, algorithm: KeyAlgorithm) -> Result<Key, Error> {
        if let Some(uri) = key_uri(path)? {
            let token = custody_pkcs11::Token::open(&uri)?;
            let pin = self.pin(&uri.token)?;
            return Ok(Arc::new(token.generate(&uri, algorithm, &pin)?));
        }
        if path.exists() {
            return Err(Error::KeyExists {
                path: path.to_path_buf(),
            });
        }
        let key = SigningKey::generate(algorithm).map_err(key_error(path))?;
        if self.insecure_unencrypted {
            self.write(path, &key, None)?;
            return Ok(Arc::new(key));
        }
        let mut cached = self.new_passphrase.borrow_mut();
        if cached.is_none() {
            *cached = Some(self.passphrases.for_new_key(path)?);
        }
        self.write(path, &key, cached.as_ref().map(|p| p.as_str()))?;
        Ok(Arc::new(key))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::env::Recorded;

    /// A fixed passphrase, counting how often it was asked for.
    struct Fixed(std::cell::Cell<usize>);

    impl Passphrases for Fixed {
        fn for_unlock(&self, _: &Path) -> Result<Zeroizing<String>, Error> {
            self.0.set(self.0.get() + 1);
            Ok(Zeroizing::new("correct horse".into()))
        }
        fn for_new_key(&self, key: &Path) -> Result<Zeroizing<String>, Error> {
            self.for_unlock(key)
        }
        fn for_pin(&self, token: &str) -> Result<Zeroizing<String>, Error> {
            self.for_unlock(Path::new(token))
        }
    }

    #[test]
    fn new_keys_share_one_passphrase_and_unlock_with_one_prompt() {
        let dir = tempfile::tempdir().unwrap();
        let asked = Fixed(std::cell::Cell::new(0));
        let events = Recorded::default();
        let keys = FileKeys::new(&asked, false, &events);
        let a = dir.path().join("a.key");
        let b = dir.path().join("b.key");
        let ka = keys.generate(&a, KeyAlgorithm::Ed25519).unwrap();
        keys.generate(&b, KeyAlgorithm::EcdsaP256).unwrap();
        assert_eq!(asked.0.get(), 1, "one passphrase for both new keys");
        assert!(std::fs::read_to_string(&a).unwrap().contains("ENCRYPTED"));
        assert_eq!(keys.public_key(&a).unwrap(), ka.public_key().clone());

        let unlocked = keys.unlock(&[&a, &b]).unwrap();
        assert_eq!(unlocked.len(), 2);
        assert_eq!(asked.0.get(), 2, "one prompt unlocks both");
        let err = keys.generate(&a, KeyAlgorithm::Ed25519).unwrap_err();
        assert!(matches!(err, Error::KeyExists { .. }), "{err}");
    }

    #[test]
    fn unencrypted_keys_need_the_insecure_switch() {
        let dir = tempfile::tempdir().unwrap();
        let asked = Fixed(std::cell::Cell::new(0));
        let events = Recorded::default();
        let plain = dir.path().join("plain.key");
        FileKeys::new(&asked, true, &events)
            .generate(&plain, KeyAlgorithm::Ed25519)
            .unwrap();
        assert_eq!(asked.0.get(), 0);
        assert!(events.warnings()[0].contains("UNENCRYPTED"));
        let err = FileKeys::new(&asked, false, &events)
            .unlock(&[&plain])
            .unwrap_err();
        assert!(matches!(err, Error::KeyCrypto { .. }), "{err}");
    }
}

/// A key of the project, and whether this run created it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ProjectKey {
    /// The private key file.
    pub path: PathBuf,
    /// Whether it was created now.
    pub created: bool,
    /// Its public half.
    #[serde(skip)]
    pub public: PublicKey,
}

/// The key at `path` (a file or `pkcs11:` URI): used when it is there, made there with
/// `algorithm` when not.
pub(crate) fn project_key(
    path: PathBuf,
    algorithm: KeyAlgorithm,
    keys: &dyn KeySource,
) -> Result<ProjectKey, Error> {
    // A key in a token is used when it is there already, and made there when not.
    let there = if custody_site::config::is_key_uri(&path) {
        match keys.public_key(&path) {
            Ok(public) => Some(public),
            Err(Error::Pkcs11(custody_pkcs11::Error::KeyNotFound { .. })) => None,
            Err(e) => return Err(e),
        }
    } else if path.exists() {
        Some(keys.public_key(&path)?)
    } else {
        None
    };
    if let Some(public) = there {
        return Ok(ProjectKey {
            path,
            created: false,
            public,
        });
    }
    let public = keys.generate(&path, algorithm)?.public_key().clone();
    Ok(ProjectKey {
        path,
        created: true,
        public,
    })
}

/// The one key at `path`, unlocked.
pub(crate) fn unlock_one(keys: &dyn KeySource, path: &Path) -> Result<Key, Error> {
    keys.unlock(&[path])?
        .pop()
        .ok_or_else(|| Error::KeyMissing {
            path: path.to_path_buf(),
        })
}
