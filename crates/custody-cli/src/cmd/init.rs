//! `custody init`: config, an encrypted signing key, and the site's trust files.

use std::path::PathBuf;
use std::process::ExitCode;

use custody_crypto::KeyAlgorithm;
use custody_site::config::{CONFIG_FILE, Config, Loaded};
use custody_site::fs::write_atomic;
use custody_site::git;
use custody_site::site::Site;

use super::key;
use crate::output::{CmdResult, Output, usage};
use crate::passphrase;
use custody_crypto::Signer as _;

/// Set up a project for signed releases.
///
/// Writes `custody.toml` (unless present), creates the signing key it names (unless present;
/// encrypted with a passphrase from a prompt, CUSTODY_PASSPHRASE or CUSTODY_PASSPHRASE_FILE),
/// and creates the site with `trusted_root.json` and a `custody-policy.json` that trusts the key,
/// the builder id and the source repository. Safe to run again: it only adds what is missing.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Project directory (where custody.toml lives).
    #[arg(long, default_value = ".")]
    dir: PathBuf,
    /// Key algorithm for a new key.
    #[arg(long, value_parser = ["ed25519", "ecdsa-p256"])]
    algorithm: Option<String>,
    /// Builder id to record in provenance and require in the policy.
    #[arg(long)]
    builder_id: Option<String>,
    /// Source repository URL (default: the git `origin` remote).
    #[arg(long)]
    source_repository: Option<String>,
    /// Site directory, relative to --dir.
    #[arg(long)]
    site: Option<PathBuf>,
    /// Write the new key unencrypted. Anyone who can read the file can sign releases.
    #[arg(long)]
    insecure_unencrypted_key: bool,
}

#[derive(serde::Serialize)]
struct InitReport {
    config: PathBuf,
    created_config: bool,
    key: PathBuf,
    created_key: bool,
    key_encrypted: bool,
    key_hint: String,
    site: custody_site::site::InitOutcome,
    policy: PathBuf,
    trusted_root: PathBuf,
}

pub fn run(args: Args, out: &Output) -> CmdResult {
    let config_path = args.dir.join(CONFIG_FILE);
    let created_config = !config_path.exists();
    if created_config {
        let mut config = Config::default();
        if let Some(a) = &args.algorithm {
            config.signing.algorithm = KeyAlgorithm::parse(a).map_err(usage)?.name().to_owned();
        }
        if let Some(b) = &args.builder_id {
            config.provenance.builder_id = b.clone();
        }
        config.provenance.source_repository = args.source_repository.clone();
        if let Some(s) = &args.site {
            config.site.dir = s.clone();
        }
        write_atomic(&config_path, config.to_toml().as_bytes())?;
        out.progress(format!("Wrote {}", config_path.display()));
    } else if args.algorithm.is_some() || args.builder_id.is_some() || args.site.is_some() {
        out.warn(format!(
            "{} exists; edit it to change the algorithm, builder id or site",
            config_path.display()
        ));
    }
    let loaded = Loaded::from_dir(&args.dir).map_err(usage)?;
    let key_path = loaded.key_path();
    let log_key_path = loaded.log_key_path();
    let created_key = !key_path.exists();
    let created_log_key = !log_key_path.exists();
    // One passphrase protects both new keys, asked for once.
    let pass = if (created_key || created_log_key) && !args.insecure_unencrypted_key {
        Some(passphrase::for_new_key(&key_path)?)
    } else {
        None
    };
    let pass = pass.as_ref().map(|p| p.as_str());
    let public = if created_key {
        let k = key::generate_with(&key_path, loaded.algorithm()?, pass, out)?;
        out.progress(key::describe_new_key(
            &key_path,
            k.public_key(),
            pass.is_some(),
        ));
        k.public_key().clone()
    } else {
        key::public_key(&key_path, args.insecure_unencrypted_key)?
    };
    let encrypted = custody_site::fs::read_text(&key_path, 64 << 10, "private key")
        .map(|t| t.contains("ENCRYPTED"))
        .unwrap_or(false);
    let log_public = if created_log_key {
        let k = key::generate_with(
            &log_key_path,
            custody_crypto::KeyAlgorithm::Ed25519,
            pass,
            out,
        )?;
        out.progress(format!(
            "Created the transparency log's checkpoint key {} (Ed25519, {})",
            log_key_path.display(),
            if pass.is_some() {
                "encrypted with the same passphrase"
            } else {
                "UNENCRYPTED"
            }
        ));
        k.public_key().clone()
    } else {
        key::public_key(&log_key_path, args.insecure_unencrypted_key)?
    };
    // Keep keys that live inside the project out of version control.
    for path in [&key_path, &log_key_path] {
        if let Some(dir) = path.parent().filter(|d| *d != loaded.base.as_path()) {
            let ignore = dir.join(".gitignore");
            if !ignore.exists() {
                write_atomic(
                    &ignore,
                    b"# custody: private keys never belong in version control\n*\n",
                )?;
            }
        }
    }
    let repository = git::repository_url(
        &loaded.base,
        loaded.config.provenance.source_repository.as_deref(),
    )?;
    let site = Site::new(loaded.site_dir());
    let outcome = site.init(
        &public,
        &loaded.config.provenance.builder_id,
        &repository,
        jiff::Timestamp::now(),
        Some((&loaded.config.log.origin, &log_public)),
    )?;
    let report = InitReport {
        config: config_path,
        created_config,
        key: key_path,
        created_key,
        key_encrypted: encrypted,
        key_hint: public.hint().to_string(),
        policy: site.policy_path(),
        trusted_root: site.trusted_root_path(),
        site: outcome,
    };
    out.result(&report, || {
        format!(
            "Site ready at {}\n  policy:       {} ({})\n  trusted root: {}\n  signing key:  {} ({}, hint {})\n\
             Next: custody release FILE... --product NAME --version X.Y.Z",
            report.site.site.display(),
            report.policy.display(),
            if report.site.added_key_to_policy { "key added" } else { "key already trusted" },
            report.trusted_root.display(),
            report.key.display(),
            if report.key_encrypted { "encrypted" } else { "UNENCRYPTED" },
            report.key_hint,
        )
    });
    Ok(ExitCode::SUCCESS)
}
