//! `custody-tuf-client`: custody's TUF client behind the tuf-conformance suite's CLI protocol.
//!
//! This binary only parses flags, builds an [`Updater`] over HTTP (or a local directory) and a
//! metadata directory, and maps the outcome to an exit code: 0 success, 1 any failure, with
//! the reason on standard error. Every check lives in `custody-tuf`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};
use clap::{Parser, Subcommand};
use custody_tuf::updater::{cached_target, cached_target_path, write_replace};
use custody_tuf::{Config, DirStore, Store as _, TrustedMetadata, Updater};

/// A TUF 1.0 client: keeps trusted metadata in a directory and downloads verified targets.
///
/// Flags come first, in any order; the command comes last.
#[derive(Debug, Parser)]
#[command(name = "custody-tuf-client", version)]
#[command(after_help = "Examples:
  custody-tuf-client --metadata-dir md init root.json
  custody-tuf-client --metadata-dir md --metadata-url https://repo.example/metadata refresh
  custody-tuf-client --metadata-dir md --metadata-url https://repo.example/metadata \\
      --target-base-url https://repo.example/targets --target-dir out --target-name app.tar.gz download

Exit codes: 0 success; 1 any failure (the reason is printed on standard error).")]
struct Cli {
    /// Where the client keeps the metadata it trusts (root.json, timestamp.json, ...).
    #[arg(long, value_name = "DIR")]
    metadata_dir: PathBuf,

    /// The repository's metadata URL: http(s)://, file:// or a local directory.
    #[arg(long, value_name = "URL")]
    metadata_url: Option<String>,

    /// A target path to download; repeat to download several, in order.
    #[arg(long = "target-name", value_name = "TARGET_PATH")]
    target_names: Vec<String>,

    /// The repository's targets URL: http(s)://, file:// or a local directory.
    #[arg(long, value_name = "URL")]
    target_base_url: Option<String>,

    /// Where verified targets are stored (and found again, so an unchanged one is not
    /// downloaded twice).
    #[arg(long, value_name = "DIR")]
    target_dir: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Trust ROOT as the initial root.json. Makes no request.
    Init {
        /// The trusted root file, shipped out of band.
        #[arg(value_name = "TRUSTED_ROOT")]
        trusted_root: PathBuf,
    },
    /// Update the trusted top-level metadata from the repository.
    Refresh,
    /// Refresh, then download and verify each --target-name.
    Download,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            // --help and --version are not failures; every usage error is one (exit 1, as the
            // conformance protocol wants, not clap's 2).
            return if err.use_stderr() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("custody-tuf-client: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Init { ref trusted_root } => init(&cli.metadata_dir, trusted_root),
        Command::Refresh => {
            let mut updater = updater(&cli)?;
            updater.refresh().context("refresh failed")?;
            report(updater.trusted());
            Ok(())
        }
        Command::Download => download(&cli),
    }
}

fn init(metadata_dir: &Path, trusted_root: &Path) -> Result<()> {
    let bytes = std::fs::read(trusted_root)
        .with_context(|| format!("reading {}", trusted_root.display()))?;
    // Only the self-signature is checked: an expired initial root is fine, since refresh
    // walks forward to a current one.
    let trusted = TrustedMetadata::new(&bytes, jiff::Timestamp::now())
        .with_context(|| format!("{} is not a usable trusted root", trusted_root.display()))?;
    DirStore::new(metadata_dir).save("root.json", &bytes)?;
    eprintln!(
        "trusting root version {} from {}",
        trusted.root().signed.version,
        trusted_root.display()
    );
    Ok(())
}

fn updater(cli: &Cli) -> Result<Updater<custody_service::transport::UrlFetcher, DirStore>> {
    let Some(url) = &cli.metadata_url else {
        bail!("--metadata-url is required");
    };
    Ok(Updater::new(
        custody_service::transport::UrlFetcher::http(),
        DirStore::new(&cli.metadata_dir),
        url,
        Config::default(),
        jiff::Timestamp::now(),
    )?)
}

fn report(trusted: &TrustedMetadata) {
    let version = |v: Option<u64>| v.map_or_else(|| "-".to_string(), |v| v.to_string());
    eprintln!(
        "trusted: root v{}, timestamp v{}, snapshot v{}, targets v{}",
        trusted.root().signed.version,
        version(trusted.timestamp().map(|t| t.signed.version)),
        version(trusted.snapshot().map(|s| s.signed.version)),
        version(trusted.targets("targets").map(|t| t.signed.version)),
    );
}

fn download(cli: &Cli) -> Result<()> {
    let (Some(base_url), Some(target_dir)) = (&cli.target_base_url, &cli.target_dir) else {
        bail!("download needs --target-base-url and --target-dir");
    };
    if cli.target_names.is_empty() {
        bail!("download needs at least one --target-name");
    }
    let mut updater = updater(cli)?;
    updater.refresh().context("refresh failed")?;
    report(updater.trusted());
    for target in &cli.target_names {
        let info = updater
            .target_info(target)
            .with_context(|| format!("looking up {target}"))?;
        let path = cached_target_path(target_dir, target);
        if cached_target(target_dir, target, &info).is_some() {
            eprintln!("{target}: cached copy at {} is current", path.display());
            continue;
        }
        let bytes = updater
            .download_target(base_url, target, &info)
            .with_context(|| format!("downloading {target}"))?;
        write_replace(&path, &bytes)?;
        eprintln!("{target}: verified, saved to {}", path.display());
    }
    Ok(())
}
