//! What the service asks of its caller besides storage: the time, and somewhere to say how the
//! work is going.

use jiff::Timestamp;

/// The current time. Operations take a clock instead of reading the system's, so tests can
/// release "yesterday" or let metadata expire without waiting.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now.
    fn now(&self) -> Timestamp;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock stopped at one instant: the in-memory twin.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub Timestamp);

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        self.0
    }
}

/// Where an operation reports progress and warnings while it runs: the CLI prints them on
/// standard error, the server logs them. Neither changes what the operation decides.
pub trait Events {
    /// A step of the work, for people watching.
    fn progress(&self, message: &str);
    /// Something the caller should know although the operation goes on: a stale database, an
    /// unreachable webhook, a witness that did not cosign.
    fn warn(&self, message: &str);
}

/// Events nobody watches.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Events for Silent {
    fn progress(&self, _: &str) {}
    fn warn(&self, _: &str) {}
}

/// Events kept in memory, for tests that check what an operation said.
#[derive(Debug, Default)]
pub struct Recorded {
    lines: std::sync::Mutex<Vec<(bool, String)>>,
}

impl Recorded {
    /// The warnings so far.
    pub fn warnings(&self) -> Vec<String> {
        self.lines
            .lock()
            .map(|l| {
                l.iter()
                    .filter(|(w, _)| *w)
                    .map(|(_, m)| m.clone())
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Recorded {
    /// The progress messages so far.
    pub fn progress_lines(&self) -> Vec<String> {
        self.lines
            .lock()
            .map(|l| {
                l.iter()
                    .filter(|(w, _)| !*w)
                    .map(|(_, m)| m.clone())
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Events for Recorded {
    fn progress(&self, message: &str) {
        if let Ok(mut l) = self.lines.lock() {
            l.push((false, message.to_owned()));
        }
    }
    fn warn(&self, message: &str) {
        if let Ok(mut l) = self.lines.lock() {
            l.push((true, message.to_owned()));
        }
    }
}

/// Where secrets named in the configuration (a webhook's HMAC key, by the name of the variable
/// that holds it) come from. Never from `custody.toml` itself.
pub trait Secrets {
    /// The secret called `name`, if set.
    fn secret(&self, name: &str) -> Option<Vec<u8>>;
}

/// Secrets from the process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct EnvSecrets;

impl Secrets for EnvSecrets {
    fn secret(&self, name: &str) -> Option<Vec<u8>> {
        std::env::var_os(name).map(std::ffi::OsString::into_encoded_bytes)
    }
}

impl Secrets for std::collections::BTreeMap<String, Vec<u8>> {
    fn secret(&self, name: &str) -> Option<Vec<u8>> {
        self.get(name).cloned()
    }
}

/// An unlocked key, wherever it is held: in this process (a key file's), or in a token that
/// signs what it is handed.
pub type Key = std::sync::Arc<dyn custody_crypto::Signer>;

/// Where signing keys come from, unlocked, and where new ones go. The CLI's source reads key
/// files (asking for their passphrase at most once) and opens keys in PKCS#11 tokens; a server
/// holds its keys unlocked from the start.
pub trait KeySource {
    /// The keys at `paths` (files, or `pkcs11:` URIs), in order.
    fn unlock(&self, paths: &[&std::path::Path]) -> Result<Vec<Key>, crate::Error>;

    /// The public half of the key at `path` (a public key file, the `.pub` beside a private
    /// key, or the private key unlocked).
    fn public_key(&self, path: &std::path::Path)
    -> Result<custody_crypto::PublicKey, crate::Error>;

    /// A new key of `algorithm`, stored at `path` (protected as this source protects keys)
    /// with its public half beside it, never overwriting one.
    fn generate(
        &self,
        path: &std::path::Path,
        algorithm: custody_crypto::KeyAlgorithm,
    ) -> Result<Key, crate::Error>;
}

/// Keys held in memory only, generated on request: the in-memory twin of a key store, for tests
/// that need signing without key files or passphrases.
#[derive(Debug, Default)]
pub struct MemoryKeys {
    keys: std::sync::Mutex<std::collections::BTreeMap<std::path::PathBuf, Key>>,
}

impl MemoryKeys {
    /// No keys yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Keys unlocked elsewhere (from files, once, when a server starts), held under the paths
    /// they were read from.
    pub fn holding(keys: impl IntoIterator<Item = (std::path::PathBuf, Key)>) -> Self {
        Self {
            keys: std::sync::Mutex::new(keys.into_iter().collect()),
        }
    }

    fn key_error(
        path: &std::path::Path,
    ) -> impl FnOnce(custody_crypto::Error) -> crate::Error + '_ {
        move |source| crate::Error::KeyCrypto {
            path: path.to_path_buf(),
            source,
        }
    }
}

impl KeySource for MemoryKeys {
    fn unlock(&self, paths: &[&std::path::Path]) -> Result<Vec<Key>, crate::Error> {
        let keys = self
            .keys
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        paths
            .iter()
            .map(|path| {
                keys.get(*path)
                    .cloned()
                    .ok_or_else(|| crate::Error::KeyMissing {
                        path: path.to_path_buf(),
                    })
            })
            .collect()
    }

    fn public_key(
        &self,
        path: &std::path::Path,
    ) -> Result<custody_crypto::PublicKey, crate::Error> {
        use custody_crypto::Signer as _;
        let mut keys = self.unlock(&[path])?;
        let key = keys.pop().ok_or_else(|| crate::Error::KeyMissing {
            path: path.to_path_buf(),
        })?;
        Ok(key.public_key().clone())
    }

    fn generate(
        &self,
        path: &std::path::Path,
        algorithm: custody_crypto::KeyAlgorithm,
    ) -> Result<Key, crate::Error> {
        let mut keys = self
            .keys
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if keys.contains_key(path) {
            return Err(crate::Error::KeyExists {
                path: path.to_path_buf(),
            });
        }
        let key: Key = std::sync::Arc::new(
            custody_crypto::SigningKey::generate(algorithm).map_err(Self::key_error(path))?,
        );
        keys.insert(path.to_path_buf(), key.clone());
        Ok(key)
    }
}

/// What signing and logging reach the world through: a release, and a bundle logged for a
/// pipeline.
#[derive(Clone)]
pub struct ReleaseEnv<'a> {
    /// The release, log and online TUF keys.
    pub keys: &'a dyn KeySource,
    /// Witnesses.
    pub transport: std::sync::Arc<dyn crate::transport::Transport>,
    /// The time.
    pub clock: &'a dyn Clock,
    /// Progress and warnings.
    pub events: &'a dyn Events,
    /// The catalog's connections, when the caller keeps some (a server); else one is opened
    /// for each use.
    pub catalog: Option<&'a crate::pool::CatalogPool>,
}

impl std::fmt::Debug for ReleaseEnv<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReleaseEnv").finish_non_exhaustive()
    }
}
