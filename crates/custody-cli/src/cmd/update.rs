//! `custody update`: take a release through TUF, verify its Sigstore bundle and provenance
//! against the supplier's policy, and install it atomically.

use std::path::PathBuf;
use std::process::ExitCode;

use custody_service::env::SystemClock;
use custody_service::transport::UrlFetcher;
use custody_service::update::UpdateRequest;

use crate::output::{CmdResult, Output};

/// Update a product from a custody release site's TUF repository.
///
/// The TUF workflow refuses forged, rolled-back, frozen and mixed metadata, and artifacts of
/// the wrong length or hash. Each artifact's Sigstore bundle and provenance are then verified
/// against the supplier's policy, and a version older than the installed one is refused. The
/// release is installed as `<dir>/<version>/`, and `<dir>/current` is switched to it in one
/// rename, so a crash leaves the old version or the new one.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  custody update --repo https://downloads.example.com/tuf --root 1.root.json \\
      --product app --dir /opt/app          # trust files from the repository, through TUF
  custody update --repo ./site/tuf ... --to 1.4.2     # a local copy of the site works too

The first run needs --root, a TUF root obtained securely (site/tuf/metadata/1.root.json);
later runs trust the root stored in <dir>/.custody-update/metadata/. The supplier's
trusted_root.json and custody-policy.json are taken from the repository unless --trust and
--policy pin local copies.")]
pub struct Args {
    /// The TUF repository: its base URL (with metadata/ and targets/ under it) or directory.
    #[arg(long)]
    repo: String,
    /// The product.
    #[arg(long)]
    product: String,
    /// `latest`, or an exact version. Versions are ordered by SemVer precedence (a leading `v`
    /// ignored, build metadata not counted); `latest` skips pre-releases unless --pre is given.
    #[arg(long, default_value = "latest")]
    to: String,
    /// Let `--to latest` pick a pre-release (`1.5.0-rc.1`) when it is the highest version.
    #[arg(long)]
    pre: bool,
    /// Installation directory.
    #[arg(long)]
    dir: PathBuf,
    /// Initial trusted TUF root (first run only).
    #[arg(long)]
    root: Option<PathBuf>,
    /// The supplier's Sigstore trusted root (`trusted_root.json`); default: the one the
    /// repository lists, verified through TUF like every release.
    #[arg(long)]
    trust: Option<PathBuf>,
    /// The supplier's policy (`custody-policy.json`); default: the one the repository lists,
    /// so a revoked key or a new one reaches you through the same rollback-proof channel.
    #[arg(long)]
    policy: Option<PathBuf>,
}

/// What is installed, remembered to refuse downgrades.
pub fn run(args: Args, out: &Output) -> CmdResult {
    let request = UpdateRequest {
        repo: args.repo,
        product: args.product,
        version: (args.to != "latest").then_some(args.to),
        pre: args.pre,
        dir: args.dir,
        root: args.root,
        trust: args.trust,
        policy: args.policy,
    };
    let report = custody_service::update::update(&request, UrlFetcher::http(), &SystemClock, out)?;
    out.result(&report, || {
        if report.up_to_date {
            return format!(
                "{} {} is installed and current",
                report.product, report.version
            );
        }
        format!(
            "Installed {} {} in {} ({} artifact(s) verified: TUF, signature, provenance){}",
            report.product,
            report.version,
            report.installed.display(),
            report.artifacts.len(),
            report
                .previous
                .as_ref()
                .map(|p| format!("; was {p}"))
                .unwrap_or_default()
        )
    });
    Ok(ExitCode::SUCCESS)
}
