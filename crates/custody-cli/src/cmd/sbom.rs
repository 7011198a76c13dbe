//! `custody sbom`: what is inside a project, as CycloneDX or SPDX.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use custody_sbom::CycloneDxVersion;
use custody_service::inputs::{SbomFormat, read_sbom, render_sbom};
use custody_site::fs::write_atomic;

use crate::output::{CmdResult, Output};

/// Write a software bill of materials, or compare two.
///
/// PATH is a project directory (every lockfile in it is read), one lockfile (`Cargo.lock`,
/// `package-lock.json`, `go.mod`, ...), a program (a Rust binary built with `cargo auditable`, or
/// a Go 1.18+ binary), or an existing CycloneDX or SPDX JSON SBOM (converted). The SBOM goes to
/// standard output unless -o is given; progress and diagnostics go to standard error.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    /// A project directory, a lockfile, a binary, or an SBOM to convert.
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

#[derive(Debug, clap::Subcommand)]
enum Command {
    Diff(DiffArgs),
}

/// What changed between two SBOMs: components added, removed, or at another version.
///
/// Components are matched by package (the purl without version, or name and ecosystem), so
/// SBOMs written by different tools compare. OLD and NEW are CycloneDX or SPDX JSON (or anything
/// `custody sbom` reads). Exits 0 whatever the difference.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:
  custody sbom diff site/releases/app/1.4.1/sbom.cdx.json site/releases/app/1.4.2/sbom.cdx.json")]
struct DiffArgs {
    /// The earlier SBOM.
    old: PathBuf,
    /// The later SBOM.
    new: PathBuf,
}

pub fn run(args: Args, out: &Output) -> CmdResult {
    if let Some(Command::Diff(d)) = args.command {
        return run_diff(&d, out);
    }
    let sbom = read_sbom(&args.path)?;
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
    let format = match (args.format.as_str(), args.cyclonedx_version.as_str()) {
        ("spdx", _) => SbomFormat::Spdx,
        (_, "1.5") => SbomFormat::CycloneDx(CycloneDxVersion::V1_5),
        _ => SbomFormat::CycloneDx(CycloneDxVersion::V1_6),
    };
    let doc = render_sbom(&sbom, format, jiff::Timestamp::now());
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

fn version_text(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("(unversioned)")
}

fn versions_text(vs: &[Option<String>]) -> String {
    vs.iter().map(version_text).collect::<Vec<_>>().join(", ")
}

fn component_json(c: &custody_sbom::DiffComponent) -> serde_json::Value {
    serde_json::json!({
        "ecosystem": c.ecosystem.purl_type(),
        "name": c.name,
        "version": c.version,
        "purl": c.purl.as_ref().map(|p| p.0.as_str()),
    })
}

fn run_diff(args: &DiffArgs, out: &Output) -> CmdResult {
    let old = read_sbom(&args.old)?;
    let new = read_sbom(&args.new)?;
    let d = custody_sbom::diff(&old, &new);
    out.progress(format!(
        "{} added, {} removed, {} changed, {} unchanged",
        d.added.len(),
        d.removed.len(),
        d.changed.len(),
        d.unchanged
    ));
    let json = serde_json::json!({
        "old": args.old.display().to_string(),
        "new": args.new.display().to_string(),
        "added": d.added.iter().map(component_json).collect::<Vec<_>>(),
        "removed": d.removed.iter().map(component_json).collect::<Vec<_>>(),
        "changed": d.changed.iter().map(|c| serde_json::json!({
            "ecosystem": c.ecosystem.purl_type(),
            "name": c.name,
            "old": c.old,
            "new": c.new,
        })).collect::<Vec<_>>(),
        "unchanged": d.unchanged,
    });
    out.result(&json, || diff_table(&d));
    Ok(ExitCode::SUCCESS)
}

fn diff_table(d: &custody_sbom::SbomDiff) -> String {
    if d.is_empty() {
        return "no changes\n".to_owned();
    }
    let mut rows: Vec<[String; 4]> = Vec::new();
    for c in &d.added {
        rows.push([
            "added".into(),
            c.ecosystem.purl_type().to_owned(),
            c.name.clone(),
            version_text(&c.version).to_owned(),
        ]);
    }
    for c in &d.removed {
        rows.push([
            "removed".into(),
            c.ecosystem.purl_type().to_owned(),
            c.name.clone(),
            version_text(&c.version).to_owned(),
        ]);
    }
    for c in &d.changed {
        rows.push([
            "changed".into(),
            c.ecosystem.purl_type().to_owned(),
            c.name.clone(),
            format!("{} -> {}", versions_text(&c.old), versions_text(&c.new)),
        ]);
    }
    // Grouped by package rather than by kind, so an upgrade reads next to what it pulled in.
    rows.sort_by(|a, b| (&a[1], &a[2], &a[0]).cmp(&(&b[1], &b[2], &b[0])));
    let header = [
        "CHANGE".to_owned(),
        "ECOSYSTEM".to_owned(),
        "NAME".to_owned(),
        "VERSION".to_owned(),
    ];
    let mut widths = [0usize; 3];
    for r in std::iter::once(&header).chain(&rows) {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut text = String::new();
    for r in std::iter::once(&header).chain(&rows) {
        text.push_str(&format!(
            "{:w0$}  {:w1$}  {:w2$}  {}\n",
            r[0],
            r[1],
            r[2],
            r[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        ));
    }
    text
}
