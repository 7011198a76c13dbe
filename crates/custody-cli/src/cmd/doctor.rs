//! `custody doctor`: check the supplier's setup against the guide.

use std::path::PathBuf;
use std::process::ExitCode;

use custody_service::doctor::{DoctorRequest, Level};
use custody_site::config::Loaded;

use crate::cmd::key::file_keys;
use crate::output::{CmdResult, EXIT_FAILED, Output, usage};

/// Check this supplier's setup against the guide's practices, and say how to fix each finding.
///
/// Looks for: a signing key stored unencrypted, or missing (`key-unencrypted`, `key-missing`);
/// one key serving two duties (`key-shared`); TUF root keys on the signing machine
/// (`tuf-root-key-online`); no TUF repository, a root threshold of 1, metadata expired or about
/// to (`tuf-missing`, `tuf-root-threshold`, `tuf-expiring`); a release without an SBOM or
/// provenance, or built from a dirty tree (`release-without-sbom`,
/// `release-without-provenance`, `release-dirty-tree`); no advisory database, or one not
/// imported for a week (`advisories-missing`, `advisories-stale`); a log no witness cosigns,
/// witnesses the policy does not require, or a checkpoint short of cosignatures
/// (`log-unwitnessed`, `log-witnesses-not-required`, `log-checkpoint-unwitnessed`); and with
/// --url, a site served without the cache headers custody needs (`site-cache-headers`).
///
/// Nothing is unlocked but what a key's public half needs (a token's PIN).
///
/// Exit codes: 0 nothing at or above --fail-on; 1 a finding at or above it; 2 bad usage.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Project directory (where custody.toml lives).
    #[arg(long, default_value = ".")]
    dir: PathBuf,
    /// Also check how the site is served from this URL (its cache headers).
    #[arg(long, value_name = "URL")]
    url: Option<String>,
    /// Exit 1 on any finding at or above this level.
    #[arg(long, default_value = "warning", value_parser = ["info", "warning", "error"])]
    fail_on: String,
}

pub fn run(args: Args, out: &Output) -> CmdResult {
    let loaded = Loaded::from_dir(&args.dir).map_err(usage)?;
    let fail_on = Level::parse(&args.fail_on)
        .ok_or_else(|| usage(anyhow::anyhow!("--fail-on {:?}", args.fail_on)))?;
    let report = custody_service::doctor::examine(
        &loaded,
        &DoctorRequest { url: args.url },
        &file_keys(false, out),
        &custody_service::env::SystemClock,
        &super::transport(),
    )?;
    out.result(&report, || {
        if report.findings.is_empty() {
            return format!(
                "No findings: {} checked ({}).",
                report.project.display(),
                report.checks.join(", ")
            );
        }
        let mut s = String::new();
        for f in &report.findings {
            s.push_str(&format!(
                "{:<7} {}  {}\n        {}\n        why: {}\n        fix: {}\n",
                f.level.as_str().to_uppercase(),
                f.check,
                f.subject,
                f.problem,
                f.why,
                f.fix
            ));
        }
        let count = |l: Level| report.findings.iter().filter(|f| f.level == l).count();
        s.push_str(&format!(
            "{} finding(s): {} error, {} warning, {} info",
            report.findings.len(),
            count(Level::Error),
            count(Level::Warning),
            count(Level::Info)
        ));
        s
    });
    if report.worst().is_some_and(|w| w >= fail_on) {
        return Ok(ExitCode::from(EXIT_FAILED));
    }
    Ok(ExitCode::SUCCESS)
}
