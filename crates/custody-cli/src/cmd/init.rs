//! `custody init`: config, an encrypted signing key, and the site's trust files.

use std::path::PathBuf;
use std::process::ExitCode;

use custody_crypto::KeyAlgorithm;
use custody_service::env::SystemClock;
use custody_service::project::InitRequest;

use super::key;
use crate::cmd::key::file_keys;
use crate::output::{CmdResult, Output, usage};

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
    /// The release key: a file (default `.custody/release.key`), or a key in a PKCS#11 token,
    /// `pkcs11:token=LABEL;object=LABEL?module-path=MODULE.so`, made there if it is not (the
    /// PIN from CUSTODY_PKCS11_PIN, CUSTODY_PKCS11_PIN_FILE or a prompt).
    #[arg(long, value_name = "FILE|URI")]
    key: Option<PathBuf>,
    /// The transparency log's checkpoint key (Ed25519), likewise.
    #[arg(long, value_name = "FILE|URI")]
    log_key: Option<PathBuf>,
    /// Allow --key and --log-key to be one key (separate duties keep a stolen key from both
    /// signing a release and vouching for it).
    #[arg(long)]
    insecure_shared_key: bool,
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
    let request = InitRequest {
        algorithm: args
            .algorithm
            .as_deref()
            .map(KeyAlgorithm::parse)
            .transpose()
            .map_err(usage)?,
        builder_id: args.builder_id.clone(),
        source_repository: args.source_repository.clone(),
        site: args.site.clone(),
        key: args.key.clone(),
        log_key: args.log_key.clone(),
        insecure_shared_key: args.insecure_shared_key,
    };
    let keys = file_keys(args.insecure_unencrypted_key, out);
    let done = custody_service::project::init(&args.dir, &request, &keys, &SystemClock, out)?;
    let protection = custody_service::keys::protection(&done.key.path);
    let in_token = protection == custody_service::keys::Protection::Token;
    let encrypted = protection != custody_service::keys::Protection::Unencrypted;
    if done.key.created && in_token {
        out.progress(format!(
            "Created the release key in the token: {} (hint {})",
            done.key.path.display(),
            done.key.public.hint()
        ));
    } else if done.key.created {
        out.progress(key::describe_new_key(
            &done.key.path,
            &done.key.public,
            encrypted,
        ));
    }
    if done.log_key.created && custody_site::config::is_key_uri(&done.log_key.path) {
        out.progress(format!(
            "Created the transparency log's checkpoint key in the token: {}",
            done.log_key.path.display()
        ));
    } else if done.log_key.created {
        out.progress(format!(
            "Created the transparency log's checkpoint key {} (Ed25519, {})",
            done.log_key.path.display(),
            if encrypted {
                "encrypted with the same passphrase"
            } else {
                "UNENCRYPTED"
            }
        ));
    }
    let report = InitReport {
        config: done.config,
        created_config: done.created_config,
        key: done.key.path,
        created_key: done.key.created,
        key_encrypted: encrypted,
        key_hint: done.key.public.hint().to_string(),
        policy: done.policy,
        trusted_root: done.trusted_root,
        site: done.site,
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
            if in_token {
                "in a PKCS#11 token"
            } else if report.key_encrypted {
                "encrypted"
            } else {
                "UNENCRYPTED"
            },
            report.key_hint,
        )
    });
    Ok(ExitCode::SUCCESS)
}
