//! Where a key passphrase comes from: the environment, a file named in the environment, or a
//! prompt on the terminal. Never a command-line flag, which would land in shell history and `ps`.

use std::io::IsTerminal;

use anyhow::{Context, bail};
use zeroize::Zeroizing;

pub const ENV: &str = "CUSTODY_PASSPHRASE";
pub const ENV_FILE: &str = "CUSTODY_PASSPHRASE_FILE";
pub const PIN_ENV: &str = "CUSTODY_PKCS11_PIN";
pub const PIN_ENV_FILE: &str = "CUSTODY_PKCS11_PIN_FILE";

/// The user PIN of a PKCS#11 token.
pub fn for_pin(token: &str) -> anyhow::Result<Zeroizing<String>> {
    if let Some(p) = secret_from_env(PIN_ENV, PIN_ENV_FILE)? {
        return Ok(p);
    }
    if !std::io::stdin().is_terminal() {
        bail!(
            "the PIN of token {token:?} is needed and no terminal is attached: set {PIN_ENV} or {PIN_ENV_FILE}"
        );
    }
    let p = rpassword::prompt_password(format!("PIN for token {token:?}: "))
        .context("reading the PIN")?;
    Ok(Zeroizing::new(p))
}

/// The passphrase for an existing key.
pub fn for_unlock(key_path: &std::path::Path) -> anyhow::Result<Zeroizing<String>> {
    if let Some(p) = from_env()? {
        return Ok(p);
    }
    if !std::io::stdin().is_terminal() {
        bail!(
            "{} is encrypted and no terminal is attached: set {ENV} or {ENV_FILE}",
            key_path.display()
        );
    }
    let p = rpassword::prompt_password(format!("Passphrase for {}: ", key_path.display()))
        .context("reading the passphrase")?;
    Ok(Zeroizing::new(p))
}

/// A passphrase for a new key, asked twice on a terminal.
pub fn for_new_key(key_path: &std::path::Path) -> anyhow::Result<Zeroizing<String>> {
    if let Some(p) = from_env()? {
        return Ok(p);
    }
    if !std::io::stdin().is_terminal() {
        bail!(
            "a passphrase is needed to encrypt the new key {}: set {ENV} or {ENV_FILE}, or run on a terminal",
            key_path.display()
        );
    }
    let first = Zeroizing::new(
        rpassword::prompt_password(format!("New passphrase for {}: ", key_path.display()))
            .context("reading the passphrase")?,
    );
    let second = Zeroizing::new(
        rpassword::prompt_password("Repeat the passphrase: ").context("reading the passphrase")?,
    );
    if first != second {
        bail!("the two passphrases differ");
    }
    Ok(first)
}

fn from_env() -> anyhow::Result<Option<Zeroizing<String>>> {
    secret_from_env(ENV, ENV_FILE)
}

/// A secret from the variable `env`, or from the file the variable `env_file` names.
fn secret_from_env(env: &str, env_file: &str) -> anyhow::Result<Option<Zeroizing<String>>> {
    if let Ok(p) = std::env::var(env) {
        if p.is_empty() {
            bail!("{env} is set but empty");
        }
        return Ok(Some(Zeroizing::new(p)));
    }
    if let Ok(path) = std::env::var(env_file) {
        let text = std::fs::read_to_string(&path).with_context(|| format!("{env_file}={path}"))?;
        let p = text.trim_end_matches(['\r', '\n']).to_owned();
        if p.is_empty() {
            bail!("{env_file}={path} is empty");
        }
        return Ok(Some(Zeroizing::new(p)));
    }
    Ok(None)
}

/// Passphrases from the environment or a terminal prompt, for the service's key files.
#[derive(Debug, Clone, Copy)]
pub struct Prompt;

impl custody_service::keys::Passphrases for Prompt {
    fn for_unlock(
        &self,
        key: &std::path::Path,
    ) -> Result<Zeroizing<String>, custody_service::Error> {
        for_unlock(key).map_err(|e| custody_service::Error::Unlock(e.into()))
    }
    fn for_new_key(
        &self,
        key: &std::path::Path,
    ) -> Result<Zeroizing<String>, custody_service::Error> {
        for_new_key(key).map_err(|e| custody_service::Error::Unlock(e.into()))
    }
    fn for_pin(&self, token: &str) -> Result<Zeroizing<String>, custody_service::Error> {
        for_pin(token).map_err(|e| custody_service::Error::Unlock(e.into()))
    }
}
