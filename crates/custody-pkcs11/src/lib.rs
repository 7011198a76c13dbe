//! custody-pkcs11: signing keys that live in a PKCS#11 token (a hardware security module, a
//! smart card; SoftHSM in the tests) behind custody-crypto's [`Signer`], so that release, TUF,
//! log and witness signing never see a private key.
//!
//! # Design
//! - A key is named by an RFC 7512 URI, `pkcs11:token=<label>;object=<label>[;id=<bytes>]`, with
//!   the module to load as the query attribute `module-path` (or `CUSTODY_PKCS11_MODULE`).
//!   [`KeyUri::parse`] checks it; the PIN is the caller's to obtain (a prompt, an environment
//!   variable, a file) and is handed to [`Token::signer`] and [`Token::generate`].
//! - Keys are generated inside the token, private, sensitive and not extractable: nothing here
//!   can read one out. An existing object of the same label is never replaced.
//! - Ed25519 (`CKM_EDDSA`, pure) where the token has it, ECDSA P-256 otherwise; an ECDSA
//!   signature is hashed here (SHA-256) and returned DER-encoded, as custody's file keys do, so
//!   a verifier cannot tell where a key lives.
//! - A module is initialised once per process (PKCS#11 allows no more) and shared.

pub mod softhsm;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::eddsa::{EddsaParams, EddsaSignatureScheme};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use custody_crypto::{KeyAlgorithm, PublicKey, Sha256Digest, Signer};

/// The environment variable naming the PKCS#11 module when a URI does not.
pub const MODULE_ENV: &str = "CUSTODY_PKCS11_MODULE";

/// The longest key URI taken: they come from configuration files and flags.
const MAX_URI: usize = 4096;

/// DER of the OID of Ed25519 (1.3.101.112), the `CKA_EC_PARAMS` of an Edwards key.
const ED25519_PARAMS: [u8; 5] = [0x06, 0x03, 0x2b, 0x65, 0x70];
/// DER of the OID of P-256 (1.2.840.10045.3.1.7).
const P256_PARAMS: [u8; 10] = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

/// Everything that can go wrong with a key in a token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The key URI breaks RFC 7512 or lacks what custody needs.
    #[error("key URI {uri:?}: {rule}")]
    BadUri {
        /// The URI (or its start).
        uri: String,
        /// The rule it breaks.
        rule: &'static str,
    },
    /// Neither the URI nor the environment names a module.
    #[error(
        "no PKCS#11 module: add `?module-path=/path/to/module.so` to the key URI or set {MODULE_ENV}"
    )]
    NoModule,
    /// The module could not be loaded or initialised.
    #[error("PKCS#11 module {}: {source}", path.display())]
    Module {
        /// The module.
        path: PathBuf,
        /// Why.
        source: CkError,
    },
    /// No slot holds a token of this label.
    #[error("no token labelled {label:?} (tokens present: {available:?})")]
    TokenNotFound {
        /// The label asked for.
        label: String,
        /// The labels present.
        available: Vec<String>,
    },
    /// The token refused the PIN.
    #[error("token {token:?}: wrong PIN")]
    WrongPin {
        /// The token.
        token: String,
    },
    /// The token is locked after too many wrong PINs.
    #[error("token {token:?}: the PIN is locked; the security officer must reset it")]
    PinLocked {
        /// The token.
        token: String,
    },
    /// No private key of this label (and id) is in the token.
    #[error("token {token:?} holds no private key {object:?}")]
    KeyNotFound {
        /// The token.
        token: String,
        /// The key's label.
        object: String,
    },
    /// More than one key matches: the URI must say which (with `id`).
    #[error("token {token:?} holds {count} private keys labelled {object:?}; add id= to the URI")]
    Ambiguous {
        /// The token.
        token: String,
        /// The key's label.
        object: String,
        /// How many match.
        count: usize,
    },
    /// Generation would replace a key already there.
    #[error("token {token:?} already holds a key labelled {object:?}; keys are never replaced")]
    KeyExists {
        /// The token.
        token: String,
        /// The label.
        object: String,
    },
    /// A key of a kind custody does not sign with.
    #[error("token {token:?}: key {object:?} is {kind}, not Ed25519 or ECDSA P-256")]
    UnsupportedKey {
        /// The token.
        token: String,
        /// The key's label.
        object: String,
        /// What it is.
        kind: String,
    },
    /// The token cannot make keys of this algorithm.
    #[error(
        "token {token:?} cannot generate {algorithm} keys (custody generates Ed25519 or ECDSA P-256 in tokens)"
    )]
    UnsupportedAlgorithm {
        /// The token.
        token: String,
        /// The algorithm asked for.
        algorithm: String,
    },
    /// The token's public key is not one custody can read.
    #[error("token {token:?}: the public key of {object:?} is malformed: {source}")]
    PublicKey {
        /// The token.
        token: String,
        /// The key's label.
        object: String,
        /// Why.
        source: custody_crypto::Error,
    },
    /// Another PKCS#11 call failed.
    #[error("token {token:?}: {operation}: {source}")]
    Token {
        /// The token.
        token: String,
        /// What was being done.
        operation: &'static str,
        /// The module's answer.
        source: CkError,
    },
}

/// A key's address: RFC 7512 `pkcs11:` URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyUri {
    /// The token's label (`token=`).
    pub token: String,
    /// The key's label (`object=`).
    pub object: String,
    /// The key's `CKA_ID` (`id=`), when given.
    pub id: Option<Vec<u8>>,
    /// The module to load (`module-path=` in the query).
    pub module_path: Option<PathBuf>,
}

fn percent_decode(value: &str, uri: &str) -> Result<Vec<u8>, Error> {
    let bad = |rule| Error::BadUri {
        uri: uri.chars().take(200).collect(),
        rule,
    };
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| bad("a % is not followed by two hex digits"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(out)
}

impl KeyUri {
    /// Whether `text` is a PKCS#11 URI rather than a key file's path.
    pub fn is_uri(text: &str) -> bool {
        text.starts_with("pkcs11:")
    }

    /// Parses `pkcs11:token=...;object=...[;id=...][?module-path=...]`. Attributes custody does
    /// not use (`type`, `manufacturer`, `serial`...) are accepted and ignored, as RFC 7512
    /// allows; each attribute may appear once.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let bad = |rule| Error::BadUri {
            uri: text.chars().take(200).collect(),
            rule,
        };
        if text.len() > MAX_URI {
            return Err(bad("longer than 4096 bytes"));
        }
        let rest = text
            .strip_prefix("pkcs11:")
            .ok_or_else(|| bad("does not start with pkcs11:"))?;
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let mut seen: HashMap<String, Vec<u8>> = HashMap::new();
        let attributes = path
            .split(';')
            .chain(query.split('&'))
            .filter(|a| !a.is_empty());
        for attribute in attributes {
            let (name, value) = attribute
                .split_once('=')
                .ok_or_else(|| bad("an attribute lacks '='"))?;
            if seen
                .insert(name.to_owned(), percent_decode(value, text)?)
                .is_some()
            {
                return Err(bad("an attribute appears twice"));
            }
        }
        let utf8 = |name: &str, rule| -> Result<Option<String>, Error> {
            seen.get(name)
                .map(|v| String::from_utf8(v.clone()).map_err(|_| bad(rule)))
                .transpose()
        };
        let token = utf8("token", "token= is not UTF-8")?
            .filter(|t| !t.is_empty())
            .ok_or_else(|| bad("names no token (token=)"))?;
        let object = utf8("object", "object= is not UTF-8")?
            .filter(|o| !o.is_empty())
            .ok_or_else(|| bad("names no key (object=)"))?;
        if token.len() > 32 || object.len() > 255 {
            return Err(bad("a token label is at most 32 bytes, a key label 255"));
        }
        Ok(Self {
            token,
            object,
            id: seen.get("id").cloned(),
            module_path: utf8("module-path", "module-path= is not UTF-8")?.map(PathBuf::from),
        })
    }

    /// The module to load: the URI's, else [`MODULE_ENV`]'s.
    pub fn module(&self) -> Result<PathBuf, Error> {
        match &self.module_path {
            Some(p) => Ok(p.clone()),
            None => std::env::var_os(MODULE_ENV)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .ok_or(Error::NoModule),
        }
    }
}

/// Loaded modules, by path: PKCS#11 lets a process initialise a module once.
fn module(path: &Path) -> Result<Pkcs11, Error> {
    static MODULES: OnceLock<Mutex<HashMap<PathBuf, Pkcs11>>> = OnceLock::new();
    let modules = MODULES.get_or_init(Mutex::default);
    // A panic while holding the map left it whole: entries are inserted in one step.
    let mut loaded = modules
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(m) = loaded.get(path) {
        return Ok(m.clone());
    }
    let failed = |source| Error::Module {
        path: path.to_path_buf(),
        source,
    };
    let m = Pkcs11::new(path).map_err(failed)?;
    match m.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => return Err(failed(e)),
    }
    loaded.insert(path.to_path_buf(), m.clone());
    Ok(m)
}

/// A token, found by its label in the module the URI names.
#[derive(Debug)]
pub struct Token {
    module: Pkcs11,
    slot: Slot,
    label: String,
}

impl Token {
    /// Loads the module and finds the token `uri` names.
    pub fn open(uri: &KeyUri) -> Result<Self, Error> {
        let path = uri.module()?;
        let module = module(&path)?;
        let failed = |source| Error::Module {
            path: path.clone(),
            source,
        };
        let mut available = Vec::new();
        for slot in module.get_slots_with_token().map_err(failed)? {
            let info = module.get_token_info(slot).map_err(failed)?;
            if info.label() == uri.token {
                return Ok(Self {
                    module,
                    slot,
                    label: uri.token.clone(),
                });
            }
            available.push(info.label().to_owned());
        }
        Err(Error::TokenNotFound {
            label: uri.token.clone(),
            available,
        })
    }

    fn call<T>(&self, operation: &'static str, r: Result<T, CkError>) -> Result<T, Error> {
        r.map_err(|source| Error::Token {
            token: self.label.clone(),
            operation,
            source,
        })
    }

    /// A read-write session logged in as the user with `pin`.
    fn session(&self, pin: &str) -> Result<Session, Error> {
        let session = self.call("open a session", self.module.open_rw_session(self.slot))?;
        match session.login(UserType::User, Some(&AuthPin::new(pin.into()))) {
            Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(session),
            Err(CkError::Pkcs11(RvError::PinIncorrect | RvError::PinLenRange, _)) => {
                Err(Error::WrongPin {
                    token: self.label.clone(),
                })
            }
            Err(CkError::Pkcs11(RvError::PinLocked, _)) => Err(Error::PinLocked {
                token: self.label.clone(),
            }),
            Err(source) => Err(Error::Token {
                token: self.label.clone(),
                operation: "log in",
                source,
            }),
        }
    }

    fn find(
        &self,
        session: &Session,
        uri: &KeyUri,
        class: ObjectClass,
    ) -> Result<Vec<ObjectHandle>, Error> {
        let mut template = vec![
            Attribute::Class(class),
            Attribute::Label(uri.object.as_bytes().to_vec()),
        ];
        if let Some(id) = &uri.id {
            template.push(Attribute::Id(id.clone()));
        }
        self.call("find keys", session.find_objects(&template))
    }

    /// Generates a key of `algorithm` in the token under `uri`'s label: private, sensitive, not
    /// extractable. Refuses when a key of that label is there already.
    pub fn generate(
        &self,
        uri: &KeyUri,
        algorithm: KeyAlgorithm,
        pin: &str,
    ) -> Result<Pkcs11Signer, Error> {
        let session = self.session(pin)?;
        if !self
            .find(&session, uri, ObjectClass::PRIVATE_KEY)?
            .is_empty()
        {
            return Err(Error::KeyExists {
                token: self.label.clone(),
                object: uri.object.clone(),
            });
        }
        let (mechanism, params) = match algorithm {
            KeyAlgorithm::Ed25519 => (Mechanism::EccEdwardsKeyPairGen, ED25519_PARAMS.to_vec()),
            KeyAlgorithm::EcdsaP256 => (Mechanism::EccKeyPairGen, P256_PARAMS.to_vec()),
            other => {
                return Err(Error::UnsupportedAlgorithm {
                    token: self.label.clone(),
                    algorithm: other.name().to_owned(),
                });
            }
        };
        let label = uri.object.as_bytes().to_vec();
        let id = uri
            .id
            .clone()
            .unwrap_or_else(|| Sha256Digest::of(&label).0[..8].to_vec());
        let public = [
            Attribute::Token(true),
            Attribute::Verify(true),
            Attribute::EcParams(params),
            Attribute::Label(label.clone()),
            Attribute::Id(id.clone()),
        ];
        let private = [
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Sign(true),
            Attribute::Label(label),
            Attribute::Id(id.clone()),
        ];
        self.call(
            "generate a key pair",
            session.generate_key_pair(&mechanism, &public, &private),
        )?;
        let uri = KeyUri {
            id: Some(id),
            ..uri.clone()
        };
        self.signer_in(session, &uri)
    }

    /// The key `uri` names, to sign with.
    pub fn signer(&self, uri: &KeyUri, pin: &str) -> Result<Pkcs11Signer, Error> {
        let session = self.session(pin)?;
        self.signer_in(session, uri)
    }

    fn signer_in(&self, session: Session, uri: &KeyUri) -> Result<Pkcs11Signer, Error> {
        let private = self.find(&session, uri, ObjectClass::PRIVATE_KEY)?;
        let key = match private.as_slice() {
            [one] => *one,
            [] => {
                return Err(Error::KeyNotFound {
                    token: self.label.clone(),
                    object: uri.object.clone(),
                });
            }
            more => {
                return Err(Error::Ambiguous {
                    token: self.label.clone(),
                    object: uri.object.clone(),
                    count: more.len(),
                });
            }
        };
        let public_key = self.public_key(&session, uri, key)?;
        Ok(Pkcs11Signer {
            token: self.label.clone(),
            session: Mutex::new(session),
            key,
            public: Arc::new(public_key),
        })
    }

    /// The public half of `key`: from its public key object (a private key object does not
    /// always carry the point).
    fn public_key(
        &self,
        session: &Session,
        uri: &KeyUri,
        key: ObjectHandle,
    ) -> Result<PublicKey, Error> {
        let kind = self.call(
            "read the key type",
            session.get_attributes(key, &[AttributeType::KeyType, AttributeType::Id]),
        )?;
        let mut key_type = None;
        let mut id = uri.id.clone();
        for a in kind {
            match a {
                Attribute::KeyType(t) => key_type = Some(t),
                Attribute::Id(i) if id.is_none() => id = Some(i),
                _ => {}
            }
        }
        let algorithm = match key_type {
            Some(KeyType::EC_EDWARDS) => KeyAlgorithm::Ed25519,
            Some(KeyType::EC) => KeyAlgorithm::EcdsaP256,
            other => {
                return Err(Error::UnsupportedKey {
                    token: self.label.clone(),
                    object: uri.object.clone(),
                    kind: format!("{other:?}"),
                });
            }
        };
        let by_id = KeyUri { id, ..uri.clone() };
        let public = self.find(session, &by_id, ObjectClass::PUBLIC_KEY)?;
        let Some(&handle) = public.first() else {
            return Err(Error::KeyNotFound {
                token: self.label.clone(),
                object: format!("{} (its public key)", uri.object),
            });
        };
        let point = self
            .call(
                "read the public key",
                session.get_attributes(handle, &[AttributeType::EcPoint]),
            )?
            .into_iter()
            .find_map(|a| match a {
                Attribute::EcPoint(p) => Some(p),
                _ => None,
            })
            .unwrap_or_default();
        PublicKey::from_raw(algorithm, unwrap_octet_string(&point)).map_err(|source| {
            Error::PublicKey {
                token: self.label.clone(),
                object: uri.object.clone(),
                source,
            }
        })
    }
}

/// `CKA_EC_POINT` is a DER OCTET STRING around the point; some tokens give the point bare.
fn unwrap_octet_string(der: &[u8]) -> &[u8] {
    match der {
        [0x04, len, rest @ ..] if usize::from(*len) == rest.len() && *len < 0x80 => rest,
        [0x04, 0x81, len, rest @ ..] if usize::from(*len) == rest.len() => rest,
        bare => bare,
    }
}

/// A key in a token, signing as custody's file keys do.
pub struct Pkcs11Signer {
    token: String,
    // A session is one sequence of calls: signatures from several threads take turns.
    session: Mutex<Session>,
    key: ObjectHandle,
    public: Arc<PublicKey>,
}

impl std::fmt::Debug for Pkcs11Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Signer")
            .field("token", &self.token)
            .field("key", &self.public.hint())
            .finish_non_exhaustive()
    }
}

impl Signer for Pkcs11Signer {
    fn public_key(&self) -> &PublicKey {
        &self.public
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, custody_crypto::Error> {
        let failed = |source: CkError| custody_crypto::Error::KeyHolder {
            holder: format!("token {:?}", self.token),
            source: Box::new(source),
        };
        let session = self
            .session
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match self.public.algorithm() {
            KeyAlgorithm::Ed25519 => session
                .sign(
                    &Mechanism::Eddsa(EddsaParams::new(EddsaSignatureScheme::Pure)),
                    self.key,
                    message,
                )
                .map_err(failed),
            KeyAlgorithm::EcdsaP256 => {
                let digest = Sha256Digest::of(message);
                let fixed = session
                    .sign(&Mechanism::Ecdsa, self.key, &digest.0)
                    .map_err(failed)?;
                custody_crypto::ecdsa_p256_der(&fixed)
            }
            other => Err(custody_crypto::Error::SigningFailed(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_uri_is_parsed_as_rfc_7512_says() {
        let uri = KeyUri::parse(
            "pkcs11:token=custody%20ci;object=release;id=%01%02;type=private?module-path=/usr/lib/softhsm/libsofthsm2.so",
        )
        .unwrap();
        assert_eq!(uri.token, "custody ci");
        assert_eq!(uri.object, "release");
        assert_eq!(uri.id.as_deref(), Some(&[1u8, 2][..]));
        assert_eq!(
            uri.module_path.as_deref(),
            Some(Path::new("/usr/lib/softhsm/libsofthsm2.so"))
        );
    }

    #[test]
    fn a_malformed_key_uri_is_refused_with_its_rule() {
        for (text, rule) in [
            ("file:release.key", "does not start with pkcs11:"),
            ("pkcs11:object=release", "names no token (token=)"),
            ("pkcs11:token=t", "names no key (object=)"),
            (
                "pkcs11:token=t;object=a;object=b",
                "an attribute appears twice",
            ),
            ("pkcs11:token=t;object", "an attribute lacks '='"),
            (
                "pkcs11:token=t;object=%zz",
                "a % is not followed by two hex digits",
            ),
            (
                "pkcs11:token=t;object=%F",
                "a % is not followed by two hex digits",
            ),
            ("pkcs11:token=%FF;object=a", "token= is not UTF-8"),
        ] {
            match KeyUri::parse(text) {
                Err(Error::BadUri { rule: r, .. }) => assert_eq!(r, rule, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
        let long = format!("pkcs11:token=t;object={}", "a".repeat(5000));
        assert!(matches!(KeyUri::parse(&long), Err(Error::BadUri { .. })));
    }

    #[test]
    fn a_point_is_read_wrapped_or_bare() {
        let point = [7u8; 32];
        let mut wrapped = vec![0x04, 32];
        wrapped.extend_from_slice(&point);
        assert_eq!(unwrap_octet_string(&wrapped), &point);
        assert_eq!(unwrap_octet_string(&point), &point);
        let mut long = vec![0x04, 0x81, 65];
        long.extend_from_slice(&[4u8; 65]);
        assert_eq!(unwrap_octet_string(&long).len(), 65);
    }
}
