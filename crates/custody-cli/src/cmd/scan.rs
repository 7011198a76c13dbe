//! `custody scan`: match a project's packages against the imported advisories.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use custody_service::env::SystemClock;
use custody_service::scan::{NotScanned, Outcome, ScanRequest, reaching, suppressed_ids};
use custody_vuln::report::{self, Counts, FailOn};
use custody_vuln::vex::Assessed;
use custody_vuln::{FindingStatus, MatchOptions};
use serde::Serialize;

use crate::cmd::db::DbLocation;
use crate::output::{CmdResult, EXIT_FAILED, Output, usage};

/// Scan a project, a lockfile, or an SBOM for known vulnerabilities.
///
/// PATH is a project directory (every lockfile in it), one lockfile (Cargo.lock,
/// package-lock.json, uv.lock, ...), or a CycloneDX or SPDX JSON SBOM. Every package with a
/// package URL is matched against the advisory database (`custody db import` fills it), each
/// under its ecosystem's own version order. A package whose version cannot be compared is
/// reported as "unknown", never left out.
///
/// The gate: the scan exits 1 when a vulnerability reaches --fail-on. The default, `any`, fails
/// on every vulnerability, as cargo-audit and osv-scanner do. It fails closed: a vulnerability
/// with no CVSS score reaches every threshold (no score is not a low score), and an "unknown"
/// finding counts as affected. RustSec informational advisories (unmaintained, unsound, notice)
/// are warnings: shown, never failing. `never` only reports.
///
/// VEX: each --vex names an OpenVEX v0.2.0 file (`custody vex add` writes them). A statement
/// applies to a finding when its vulnerability is the finding's id or any alias, and its product
/// is the scanned product's name (or --product) or a package URL prefix of the component. A
/// `not_affected` or `fixed` statement keeps the finding out of the gate; it is still listed,
/// marked suppressed. The last matching statement wins.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  custody scan .                                   # every lockfile in the project
  custody scan Cargo.lock --fail-on high
  custody scan sbom.cdx.json --format sarif > custody.sarif
  custody scan . --db /var/lib/custody/advisories  # outside a project (or CUSTODY_DB)
  custody scan . --vex .custody/vex/app.openvex.json

Exit codes: 0 nothing reaches --fail-on; 1 a finding reaches it; 2 unreadable input or no
advisory database.")]
pub struct Args {
    /// A project directory, a lockfile, or a CycloneDX or SPDX JSON SBOM.
    #[arg(default_value = ".")]
    path: PathBuf,
    /// Output: a table for people, JSON (as --json), or SARIF 2.1.0 for code-scanning tools.
    #[arg(long, short, value_parser = ["table", "json", "sarif"])]
    format: Option<String>,
    /// Exit 1 when a vulnerability is at or above this severity.
    #[arg(long, default_value = "any", value_parser = ["any", "low", "medium", "high", "critical", "never"])]
    fail_on: String,
    /// Only advisories that affect this OS (RustSec's `affects.os`: linux, windows, macos, ...).
    #[arg(long, value_name = "OS")]
    target_os: Option<String>,
    /// Only advisories that affect this CPU architecture (x86_64, aarch64, ...).
    #[arg(long, value_name = "ARCH")]
    target_arch: Option<String>,
    /// An OpenVEX file whose statements apply (repeatable; later statements win).
    #[arg(long, value_name = "FILE")]
    vex: Vec<PathBuf>,
    /// The product name VEX statements are matched against (default: the scanned project's
    /// own name).
    #[arg(long, value_name = "NAME")]
    product: Option<String>,
    #[command(flatten)]
    location: DbLocation,
}

#[derive(Debug, Serialize)]
struct ScanReport<'a> {
    /// False when a finding reaches --fail-on.
    ok: bool,
    path: &'a Path,
    db: &'a Path,
    fail_on: FailOn,
    target_os: Option<&'a str>,
    target_arch: Option<&'a str>,
    advisories: usize,
    packages: usize,
    not_scanned: &'a [NotScanned],
    counts: Counts,
    /// Ids of the findings that reach --fail-on.
    failing: Vec<&'a str>,
    /// The product VEX statements were matched against.
    product: Option<&'a str>,
    /// Ids of the findings a `not_affected` or `fixed` VEX statement keeps out of the gate.
    suppressed: Vec<&'a str>,
    findings: &'a [Assessed],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Table,
    Json,
    Sarif,
}

fn shorten(text: &str, max: usize) -> String {
    let text = text.trim();
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut s: String = text.chars().take(max.saturating_sub(1)).collect();
    s.push('…');
    s
}

fn table(assessed: &[Assessed]) -> String {
    let rows: Vec<[String; 8]> = assessed
        .iter()
        .map(|a| {
            let f = &a.finding;
            let severity = match &f.kind {
                custody_vuln::FindingKind::Warning { informational } => {
                    format!("warning ({informational})")
                }
                _ => match &f.severity.score {
                    Some(s) => format!("{} {:.1}", report::rating_name(f), s.score),
                    None => report::rating_name(f).to_owned(),
                },
            };
            let status = match &f.status {
                FindingStatus::Affected => "affected",
                FindingStatus::Unknown { .. } => "UNKNOWN",
            };
            [
                severity,
                f.id.clone(),
                f.package.name.clone(),
                f.package.version.clone(),
                status.to_owned(),
                f.smallest_fix.clone().unwrap_or_else(|| "-".to_owned()),
                match &a.vex {
                    Some(v) if v.suppresses() => format!("{} (suppressed)", v.status),
                    Some(v) => v.status.to_string(),
                    None => "-".to_owned(),
                },
                shorten(
                    f.advisories
                        .iter()
                        .find_map(|a| a.summary.as_deref())
                        .unwrap_or(""),
                    70,
                ),
            ]
        })
        .collect();
    let header = [
        "SEVERITY", "ID", "PACKAGE", "VERSION", "STATUS", "FIX", "VEX", "SUMMARY",
    ];
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[&str]| {
        let mut l = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                l.push_str(cell);
            } else {
                l.push_str(cell);
                l.push_str(&" ".repeat(w.saturating_sub(cell.chars().count()) + 2));
            }
        }
        l.trim_end().to_owned() + "\n"
    };
    let mut text = line(&header);
    for row in &rows {
        text.push_str(&line(&row.each_ref().map(String::as_str)));
    }
    let unknown: Vec<String> = assessed
        .iter()
        .map(|a| &a.finding)
        .filter_map(|f| match &f.status {
            FindingStatus::Unknown { reason } => Some(format!(
                "  {} in {} {}: {}\n",
                f.id,
                f.package.name,
                f.package.version,
                report::describe_unknown(reason)
            )),
            FindingStatus::Affected => None,
        })
        .collect();
    if !unknown.is_empty() {
        text.push_str("\nUnknown: the version could not be compared, so these may apply:\n");
        text.extend(unknown);
    }
    let suppressed: Vec<String> = assessed
        .iter()
        .filter_map(|a| {
            let v = a.vex.as_ref().filter(|v| v.suppresses())?;
            Some(format!(
                "  {} in {} {}: {} ({}), {}\n",
                a.finding.id,
                a.finding.package.name,
                a.finding.package.version,
                v.status,
                v.reason(),
                v.document
            ))
        })
        .collect();
    if !suppressed.is_empty() {
        text.push_str("\nSuppressed by VEX statements (not counted by --fail-on):\n");
        text.extend(suppressed);
    }
    text
}

fn summary_line(c: &Counts, packages: usize, advisories: usize) -> String {
    let mut ratings = Vec::new();
    for (n, name) in [
        (c.critical, "critical"),
        (c.high, "high"),
        (c.medium, "medium"),
        (c.low, "low"),
        (c.none, "none"),
        (c.unscored, "unscored"),
    ] {
        if n > 0 {
            ratings.push(format!("{n} {name}"));
        }
    }
    format!(
        "{} vulnerabilities{}, {} warnings, {} unknown; {packages} packages against {advisories} advisories",
        c.vulnerabilities,
        if ratings.is_empty() {
            String::new()
        } else {
            format!(" ({})", ratings.join(", "))
        },
        c.warnings,
        c.unknown,
    )
}

/// The SARIF artifact: the scanned path relative to the current directory when it is inside it
/// (code scanning resolves URIs against the repository root), with `/` separators.
fn artifact_uri(path: &Path) -> String {
    let cwd = std::env::current_dir().ok();
    let relative = match (cwd, path.canonicalize().ok()) {
        (Some(cwd), Some(full)) => full
            .strip_prefix(&cwd)
            .map(Path::to_path_buf)
            .unwrap_or(full),
        _ => path.to_path_buf(),
    };
    let text = relative.to_string_lossy().replace('\\', "/");
    if text.is_empty() {
        ".".to_owned()
    } else {
        text
    }
}

pub fn run(args: Args, out: &Output) -> CmdResult {
    let fail_on: FailOn = args.fail_on.parse().map_err(usage)?;
    let format = match (args.format.as_deref(), out.json) {
        (Some("sarif"), _) => Format::Sarif,
        (_, true) | (Some("json"), _) => Format::Json,
        _ => Format::Table,
    };
    let started = Instant::now();
    let db = args.location.resolve().map_err(usage)?;
    let scanned = custody_service::scan::run(
        &ScanRequest {
            path: args.path.clone(),
            vex: args.vex.clone(),
            product: args.product.clone(),
            db: db.clone(),
            options: MatchOptions {
                target_os: args.target_os.clone(),
                target_arch: args.target_arch.clone(),
            },
        },
        &SystemClock,
        out,
    )?;
    let product = scanned.product;
    if scanned.vex_documents > 0 && product.is_none() {
        out.warn(
            "the scanned input names no product, so VEX statements about a product by name do \
             not apply: pass --product",
        );
    }
    let Outcome {
        packages: refs,
        not_scanned,
        advisories,
        counts,
        findings,
    } = scanned.outcome;
    let failing: Vec<&str> = reaching(&findings, fail_on)
        .map(|a| a.finding.id.as_str())
        .collect();
    let suppressed = suppressed_ids(&findings);
    let failed = !failing.is_empty();

    let registry_skips = not_scanned.iter().filter(|n| !n.has_no_purl()).count();
    if registry_skips > 0 {
        out.warn(format!(
            "{registry_skips} component(s) not scanned: their package URL names no ecosystem \
             with advisories here (listed under not_scanned in --json)"
        ));
    }
    out.progress(format!(
        "{}: {} in {} ms",
        args.path.display(),
        summary_line(&counts, refs, advisories),
        started.elapsed().as_millis()
    ));
    if !suppressed.is_empty() {
        out.progress(format!(
            "{} finding(s) suppressed by VEX statements for {}",
            suppressed.len(),
            product.as_deref().unwrap_or("(no product name)")
        ));
    }
    if failed {
        out.progress(format!(
            "{} finding(s) reach --fail-on {fail_on}",
            failing.len()
        ));
    }

    match format {
        Format::Table => {
            if findings.is_empty() {
                println!("No known vulnerabilities or warnings.");
            } else {
                print!("{}", table(&findings));
            }
        }
        Format::Json => {
            let report = ScanReport {
                ok: !failed,
                path: &args.path,
                db: &db,
                fail_on,
                target_os: args.target_os.as_deref(),
                target_arch: args.target_arch.as_deref(),
                advisories,
                packages: refs,
                not_scanned: &not_scanned,
                counts,
                failing,
                product: product.as_deref(),
                suppressed,
                findings: &findings,
            };
            print_json(&serde_json::to_value(&report).context("serialising the scan")?)?;
        }
        Format::Sarif => {
            let log = report::sarif_assessed(
                &findings,
                &artifact_uri(&args.path),
                &report::Tool {
                    name: "custody",
                    version: env!("CARGO_PKG_VERSION"),
                    information_uri: "https://github.com/custody-dev/custody",
                },
            );
            print_json(&log)?;
        }
    }
    Ok(if failed {
        ExitCode::from(EXIT_FAILED)
    } else {
        ExitCode::SUCCESS
    })
}

fn print_json(value: &serde_json::Value) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value).context("serialising the scan")?;
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.write_all(b"\n"))
        .context("writing to standard output")
}
