//! `custody verify`: check an artifact offline against its bundle, the policy and the trust file.

use std::path::PathBuf;
use std::process::ExitCode;

use custody_attest::verify::{Expectations, Status};
use custody_site::verify::{VerifyFiles, verify_files};

use crate::output::{CmdResult, EXIT_FAILED, Output, usage};

/// Verify a released artifact offline.
///
/// Checks, in order, and reports each by name: `bundle` (a well-formed Sigstore bundle v0.3 with
/// a DSSE envelope whose keyid equals its key hint), `signature` (by a key the policy trusts
/// now), `subject` (the artifact's SHA-256/512 is a subject of the signed statement),
/// `provenance` (builder, source repository, and --source-ref/--version/--product if given), and
/// `manifest` (the signed release manifest lists the artifact; checked when manifest.json is
/// beside the bundle or given with --manifest), and `approval` (where the policy asks M-of-N
/// approval of the product's releases: M distinct approvers signed that manifest, as
/// approvals.json beside it or --approvals holds).
///
/// Exit codes: 0 verified; 1 not verified (the first failing check and why); 2 bad usage or an
/// unreadable input.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The artifact file.
    artifact: PathBuf,
    /// The supplier's trusted_root.json.
    #[arg(long)]
    trust: PathBuf,
    /// The supplier's custody-policy.json.
    #[arg(long)]
    policy: PathBuf,
    /// The artifact's bundle [default: ARTIFACT.sigstore.json].
    #[arg(long)]
    bundle: Option<PathBuf>,
    /// The release's manifest.json [default: beside the bundle, if present].
    #[arg(long)]
    manifest: Option<PathBuf>,
    /// The release's approvals.json [default: beside the manifest, if present].
    #[arg(long)]
    approvals: Option<PathBuf>,
    /// Require this source ref: a full ref, a short branch or tag name, or a commit prefix.
    #[arg(long)]
    source_ref: Option<String>,
    /// Require this version.
    #[arg(long)]
    version: Option<String>,
    /// Require this product.
    #[arg(long)]
    product: Option<String>,
}

pub fn run(args: Args, out: &Output) -> CmdResult {
    let files = VerifyFiles {
        artifact: args.artifact,
        bundle: args.bundle,
        manifest: args.manifest,
        approvals: args.approvals,
        trust: args.trust,
        policy: args.policy,
    };
    let expect = Expectations {
        product: args.product,
        version: args.version,
        source_ref: args.source_ref,
    };
    let (report, used) = verify_files(&files, &expect, jiff::Timestamp::now()).map_err(usage)?;
    #[derive(serde::Serialize)]
    struct Json<'a> {
        #[serde(flatten)]
        report: &'a custody_attest::verify::Report,
        files: &'a custody_site::verify::UsedFiles,
    }
    out.result(
        &Json {
            report: &report,
            files: &used,
        },
        || {
            let mut s = String::new();
            for c in &report.checks {
                let mark = match c.status {
                    Status::Pass => "PASS",
                    Status::Fail => "FAIL",
                    Status::Skipped => "SKIP",
                };
                s.push_str(&format!("{mark}  {:<10}  {}\n", c.name.as_str(), c.detail));
            }
            match report.first_failure() {
                None => s.push_str(&format!(
                    "VERIFIED {}: {} {}",
                    used.artifact.display(),
                    report.release.product,
                    report.release.version
                )),
                Some(f) => s.push_str(&format!(
                    "NOT VERIFIED {} (bundle {}): {} check failed: {}",
                    used.artifact.display(),
                    used.bundle.display(),
                    f.name.as_str(),
                    f.detail
                )),
            }
            s
        },
    );
    if report.verified {
        Ok(ExitCode::SUCCESS)
    } else {
        if out.json {
            // The JSON document already says why; keep stderr to one line for scripts.
            if let Some(f) = report.first_failure() {
                eprintln!(
                    "not verified: {} (bundle {}): {}: {}",
                    used.artifact.display(),
                    used.bundle.display(),
                    f.name.as_str(),
                    f.detail
                );
            }
        }
        Ok(ExitCode::from(EXIT_FAILED))
    }
}
