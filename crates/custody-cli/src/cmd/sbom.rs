//! `custody sbom`: what is inside a project, as CycloneDX or SPDX.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use custody_sbom::{CycloneDxVersion, Limits, Metadata, Sbom};
use custody_site::fs::write_atomic;

use crate::output::{CmdResult, Output, usage};

/// Write a software bill of materials.
///
/// PATH is a project directory (every lockfile in it is read), one lockfile (`Cargo.lock`,
/// `package-lock.json`, ...), or an existing CycloneDX or SPDX JSON SBOM (converted). The SBOM goes
/// to standard output unless -o is given; progress and diagnostics go to standard error.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A project directory, a lockfile, or an SBOM to convert.
    #[arg(default_value = ".")]
    path: PathBuf,
    /// Output format.
    #[arg(long, short, default_value = "cyclonedx", value_parser = ["cyclonedx", "spdx"])]
    format: String,
    /// CycloneDX specification version.
    #[arg(long, default_value = "1.6", value_parser = ["1.6", "1.5"])]
    cyclonedx_version: String,
    /// Write to this file instead of standard output.
    #[arg(long, short)]
    output: Option<PathBuf>,
}

/// Read a directory, a lockfile, or an SBOM into a component graph.
pub fn read(path: &Path) -> anyhow::Result<Sbom> {
    let limits = Limits::default();
    if path.is_dir() {
        return Ok(custody_sbom::read_dir(path, &limits)?);
    }
    match custody_sbom::read_lockfile(path, &limits) {
        Err(custody_sbom::Error::UnknownLockfile { .. }) => {
            let bytes = custody_site::fs::read_bounded(path, limits.max_bytes, "SBOM")?;
            Ok(custody_sbom::parse_sbom(
                &path.display().to_string(),
                &bytes,
                &limits,
            )?)
        }
        other => Ok(other?),
    }
}

/// Render a graph in the chosen format.
pub fn render(sbom: &Sbom, format: &str, cyclonedx_version: &str, now: jiff::Timestamp) -> String {
    let meta = Metadata::new(now);
    match format {
        "spdx" => custody_sbom::to_spdx(sbom, &meta),
        _ => {
            let v = if cyclonedx_version == "1.5" {
                CycloneDxVersion::V1_5
            } else {
                CycloneDxVersion::V1_6
            };
            custody_sbom::to_cyclonedx(sbom, v, &meta)
        }
    }
}

pub fn run(args: Args, out: &Output) -> CmdResult {
    let sbom = read(&args.path).map_err(usage)?;
    out.progress(format!(
        "{}: {} component(s){}",
        args.path.display(),
        sbom.len(),
        sbom.primary()
            .map(|c| format!(
                ", primary {} {}",
                c.name,
                c.version.as_deref().unwrap_or("(unversioned)")
            ))
            .unwrap_or_default()
    ));
    let doc = render(
        &sbom,
        &args.format,
        &args.cyclonedx_version,
        jiff::Timestamp::now(),
    );
    match &args.output {
        Some(path) => {
            write_atomic(path, doc.as_bytes())?;
            out.progress(format!("Wrote {}", path.display()));
        }
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(doc.as_bytes())
                .and_then(|()| stdout.write_all(b"\n"))
                .context("writing the SBOM to standard output")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
