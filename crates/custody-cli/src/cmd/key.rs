//! `custody key`: create signing keys and show their public halves.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use custody_crypto::{KeyAlgorithm, PublicKey, Signer, SigningKey};
use custody_site::fs::{create_private, read_text, write_atomic};

use crate::output::{CmdResult, Output, usage};
use crate::passphrase;

/// Create signing keys and show their public halves.
///
/// Private keys are written as encrypted PKCS#8 PEM (scrypt + AES-256-CBC), readable only by
/// their owner; the public key is written beside them as `<key>.pub` (SPKI PEM).
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: KeyCommand,
}

#[derive(Debug, Subcommand)]
enum KeyCommand {
    /// Generate a new key pair.
    Generate {
        /// Where to write the private key (the public key goes to <OUT>.pub).
        #[arg(long, short)]
        out: PathBuf,
        /// Signature algorithm.
        #[arg(long, default_value = "ed25519", value_parser = ["ed25519", "ecdsa-p256"])]
        algorithm: String,
        /// Write the private key unencrypted. Anyone who can read the file can sign as you.
        #[arg(long)]
        insecure_unencrypted_key: bool,
    },
    /// Print a key's public half (SPKI PEM) and its Sigstore hint.
    Public {
        /// A private key file, or its `.pub`.
        path: PathBuf,
        /// Accept an unencrypted private key file.
        #[arg(long)]
        insecure_unencrypted_key: bool,
    },
}

#[derive(serde::Serialize)]
struct KeyInfo {
    algorithm: String,
    hint: String,
    public_key_pem: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    private_key: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    public_key: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    encrypted: Option<bool>,
}

fn info(key: &PublicKey) -> KeyInfo {
    KeyInfo {
        algorithm: key.algorithm().to_string(),
        hint: key.hint().to_string(),
        public_key_pem: key.to_pem(),
        private_key: None,
        public_key: None,
        encrypted: None,
    }
}

pub fn run(args: Args, out: &Output) -> CmdResult {
    match args.command {
        KeyCommand::Generate {
            out: path,
            algorithm,
            insecure_unencrypted_key,
        } => {
            let algorithm = KeyAlgorithm::parse(&algorithm).map_err(usage)?;
            let key = generate(&path, algorithm, insecure_unencrypted_key, out)?;
            let mut i = info(key.public_key());
            i.private_key = Some(path.clone());
            i.public_key = Some(pub_path(&path));
            i.encrypted = Some(!insecure_unencrypted_key);
            out.result(&i, || {
                describe_new_key(&path, key.public_key(), !insecure_unencrypted_key)
            });
        }
        KeyCommand::Public {
            path,
            insecure_unencrypted_key,
        } => {
            let key = public_key(&path, insecure_unencrypted_key)?;
            out.result(&info(&key), || {
                format!("{}hint: {}", key.to_pem(), key.hint())
            });
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `<key>.pub`.
pub fn pub_path(key: &Path) -> PathBuf {
    let mut name = key.file_name().unwrap_or_default().to_os_string();
    name.push(".pub");
    key.with_file_name(name)
}

/// Generate a key, write it (encrypted unless told otherwise) and its `.pub`.
pub fn generate(
    path: &Path,
    algorithm: KeyAlgorithm,
    insecure_unencrypted: bool,
    out: &Output,
) -> anyhow::Result<SigningKey> {
    let pass = if insecure_unencrypted {
        None
    } else {
        Some(passphrase::for_new_key(path)?)
    };
    generate_with(path, algorithm, pass.as_ref().map(|p| p.as_str()), out)
}

/// Generate a key and write it encrypted with `passphrase`, or unencrypted (with a warning)
/// when there is none.
pub fn generate_with(
    path: &Path,
    algorithm: KeyAlgorithm,
    passphrase: Option<&str>,
    out: &Output,
) -> anyhow::Result<SigningKey> {
    if path.exists() {
        anyhow::bail!(
            "{} already exists; refusing to overwrite a key",
            path.display()
        );
    }
    let key = SigningKey::generate(algorithm)?;
    let pem = match passphrase {
        None => {
            out.warn(format!(
                "writing {} UNENCRYPTED (--insecure-unencrypted-key): anyone who can read it can sign",
                path.display()
            ));
            key.to_unencrypted_pem_insecure()?
        }
        Some(pass) => {
            out.progress(format!("Encrypting {} (scrypt)...", path.display()));
            key.to_encrypted_pem(pass.as_bytes())?
        }
    };
    create_private(path, pem.as_bytes())?;
    write_atomic(&pub_path(path), key.public_key().to_pem().as_bytes())?;
    Ok(key)
}

/// Human description of a freshly created key.
pub fn describe_new_key(path: &Path, key: &PublicKey, encrypted: bool) -> String {
    let protection = if encrypted {
        "encrypted PKCS#8 (PBES2: scrypt, AES-256-CBC), owner-only permissions; \
         the passphrase comes from a prompt, CUSTODY_PASSPHRASE or CUSTODY_PASSPHRASE_FILE"
    } else {
        "UNENCRYPTED PKCS#8, owner-only permissions"
    };
    format!(
        "Created {} key {}\n  private: {} ({protection})\n  public:  {}\n  hint:    {}",
        key.algorithm(),
        path.display(),
        path.display(),
        pub_path(path).display(),
        key.hint()
    )
}

/// Load a signing key, asking for its passphrase if it is encrypted.
pub fn load_signer(
    path: &Path,
    insecure_unencrypted: bool,
    out: &Output,
) -> anyhow::Result<SigningKey> {
    let mut keys = unlock(&[path], insecure_unencrypted, out)?;
    keys.pop().context("no key loaded")
}

/// Load several keys that share one passphrase (the release key and the log key), asking for
/// it at most once.
pub fn unlock(
    paths: &[&Path],
    insecure_unencrypted: bool,
    out: &Output,
) -> anyhow::Result<Vec<SigningKey>> {
    let mut pass: Option<zeroize::Zeroizing<String>> = None;
    let mut keys = Vec::with_capacity(paths.len());
    for path in paths {
        let pem = read_text(path, 64 << 10, "private key")?;
        if pem.contains("ENCRYPTED PRIVATE KEY") {
            if pass.is_none() {
                pass = Some(passphrase::for_unlock(path)?);
            }
        } else if insecure_unencrypted {
            out.warn(format!("{} is an UNENCRYPTED key", path.display()));
        }
        let key = SigningKey::from_pkcs8_pem(
            &pem,
            pass.as_ref().map(|p| p.as_bytes()),
            insecure_unencrypted,
        )
        .with_context(|| path.display().to_string())?;
        keys.push(key);
    }
    Ok(keys)
}

/// A key's public half: from `<key>.pub` if present, else by unlocking the private key.
pub fn public_key(path: &Path, insecure_unencrypted: bool) -> anyhow::Result<PublicKey> {
    let text = read_text(path, 64 << 10, "key")?;
    if text.contains("BEGIN PUBLIC KEY") {
        return PublicKey::from_pem(&text).with_context(|| path.display().to_string());
    }
    let pub_file = pub_path(path);
    if pub_file.is_file() {
        let text = read_text(&pub_file, 64 << 10, "public key")?;
        return PublicKey::from_pem(&text).with_context(|| pub_file.display().to_string());
    }
    let quiet = Output::new(false, true);
    Ok(load_signer(path, insecure_unencrypted, &quiet)?
        .public_key()
        .clone())
}

/// Key files, unlocked with at most one passphrase prompt, as the service asks for keys; new
/// keys are encrypted with one passphrase asked for once.
#[derive(Debug)]
pub struct FileKeys<'a> {
    insecure_unencrypted: bool,
    out: &'a Output,
    new_passphrase: std::cell::RefCell<Option<zeroize::Zeroizing<String>>>,
}

impl<'a> FileKeys<'a> {
    /// Key files; unencrypted ones are accepted (and new ones written so) only when
    /// `insecure_unencrypted` says so.
    pub fn new(insecure_unencrypted: bool, out: &'a Output) -> Self {
        Self {
            insecure_unencrypted,
            out,
            new_passphrase: std::cell::RefCell::new(None),
        }
    }
}

fn unlock_error(e: anyhow::Error) -> custody_service::Error {
    custody_service::Error::Unlock(e.into())
}

impl custody_service::env::KeySource for FileKeys<'_> {
    fn unlock(&self, paths: &[&Path]) -> Result<Vec<SigningKey>, custody_service::Error> {
        unlock(paths, self.insecure_unencrypted, self.out).map_err(unlock_error)
    }

    fn public_key(&self, path: &Path) -> Result<PublicKey, custody_service::Error> {
        public_key(path, self.insecure_unencrypted).map_err(unlock_error)
    }

    fn generate(
        &self,
        path: &Path,
        algorithm: KeyAlgorithm,
    ) -> Result<SigningKey, custody_service::Error> {
        if path.exists() {
            return Err(custody_service::Error::KeyExists {
                path: path.to_path_buf(),
            });
        }
        if self.insecure_unencrypted {
            return generate_with(path, algorithm, None, self.out).map_err(unlock_error);
        }
        let mut cached = self.new_passphrase.borrow_mut();
        if cached.is_none() {
            *cached = Some(passphrase::for_new_key(path).map_err(unlock_error)?);
        }
        let pass = cached.as_ref().map(|p| p.as_str());
        generate_with(path, algorithm, pass, self.out).map_err(unlock_error)
    }
}
