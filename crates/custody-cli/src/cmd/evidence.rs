//! `custody evidence`: a release's evidence, signed, with a report and an OSCAL export.

use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};

use custody_site::config::Loaded;
use custody_site::fs::write_atomic;

use crate::cmd::key::file_keys;
use crate::output::{CmdResult, Output, usage};

/// Gather a release's evidence for procurement: one signed bundle, a report, an OSCAL export.
///
/// Verifies the release now and gathers what it already has (provenance, SBOMs, the scan, VEX,
/// log inclusion and checkpoint, TUF target, the latest `custody rebuild-check`, keys, approvals,
/// `custody doctor`'s findings) into `evidence.json`, signed and logged as one in-toto Statement
/// about the release's artifacts (`evidence.json.sigstore.json`, predicate
/// https://custody.dev/evidence/v1). It maps that evidence to the NIST SSDF (SP 800-218) tasks
/// it supports, prefills the CISA Secure Software Development Attestation Form (marking what
/// custody cannot know, such as the supplier's access controls), and says, for each threat the
/// guide names, which control stops it here and whether it is on.
///
/// Writes to --out (default evidence/PRODUCT-VERSION): report.html; with --pdf, report.pdf
/// (printed by headless Chromium: CUSTODY_CHROMIUM, or chromium on PATH); and the same mapping
/// as OSCAL Assessment Results (oscal-assessment-results.json) over an OSCAL catalog of the
/// tasks and form items (custody-ssdf-catalog.json), for GRC tools.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The product.
    product: String,
    /// The version.
    version: String,
    /// Where to write [default: evidence/PRODUCT-VERSION].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Also print the report to PDF with headless Chromium.
    #[arg(long)]
    pdf: bool,
    /// Project directory (where custody.toml lives).
    #[arg(long, default_value = ".")]
    dir: PathBuf,
    /// Accept an unencrypted signing key file.
    #[arg(long)]
    insecure_unencrypted_key: bool,
}

#[derive(serde::Serialize)]
struct Outcome<'a> {
    #[serde(flatten)]
    written: &'a custody_service::evidence::Written,
    report: PathBuf,
    #[serde(skip_serializing_if = "Option::is_none")]
    pdf: Option<PathBuf>,
    verified: bool,
}

pub fn run(args: Args, out: &Output) -> CmdResult {
    let loaded = Loaded::from_dir(&args.dir).map_err(usage)?;
    custody_site::site::check_name("product", &args.product).map_err(usage)?;
    custody_site::site::check_name("version", &args.version).map_err(usage)?;
    let dir = args.out.unwrap_or_else(|| {
        PathBuf::from("evidence").join(format!("{}-{}", args.product, args.version))
    });
    let written = custody_service::evidence::write(
        &loaded,
        (&args.product, &args.version),
        &dir,
        &file_keys(args.insecure_unencrypted_key, out),
        &custody_service::env::SystemClock,
        &super::transport(),
        out,
    )?;
    let report = dir.join("report.html");
    write_atomic(
        &report,
        custody_server::report::evidence(&written.evidence).as_bytes(),
    )?;
    let pdf = if args.pdf {
        let pdf = dir.join("report.pdf");
        print_pdf(&report, &pdf)?;
        Some(pdf)
    } else {
        None
    };
    let outcome = Outcome {
        written: &written,
        report,
        pdf,
        verified: written.evidence.verified,
    };
    out.result(&outcome, || {
        let e = &written.evidence;
        let mut s = format!(
            "Evidence for {} {}: {} artifact(s), {}\n",
            e.product,
            e.version,
            e.artifacts.len(),
            if e.verified {
                "all verified now"
            } else {
                "NOT all verified"
            }
        );
        for p in &e.ssdf {
            s.push_str(&format!("  {:<7} {}\n", p.id, p.support.as_str()));
        }
        s.push_str(&format!(
            "Wrote {} (signed and logged), {}, {}{}",
            written.bundle.display(),
            outcome.report.display(),
            written.oscal.display(),
            outcome
                .pdf
                .as_ref()
                .map_or(String::new(), |p| format!(", {}", p.display()))
        ));
        s
    });
    Ok(ExitCode::SUCCESS)
}

/// Prints `html` to `pdf` with headless Chromium.
fn print_pdf(html: &Path, pdf: &Path) -> Result<(), crate::output::Failure> {
    let browser = std::env::var_os("CUSTODY_CHROMIUM")
        .map(PathBuf::from)
        .or_else(|| {
            ["chromium", "chromium-browser", "google-chrome"]
                .iter()
                .find_map(|name| find_on_path(name))
        })
        .ok_or_else(|| {
            anyhow::anyhow!(
                "--pdf needs headless Chromium: install chromium, or name it in CUSTODY_CHROMIUM"
            )
        })?;
    let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let profile = tempfile::tempdir().map_err(|e| anyhow::anyhow!("a temporary directory: {e}"))?;
    let status = std::process::Command::new(&browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-pdf-header-footer",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--print-to-pdf={}", absolute(pdf).display()))
        .arg(format!("file://{}", absolute(html).display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| anyhow::anyhow!("cannot run {}: {e}", browser.display()))?;
    if !status.success() || !pdf.is_file() {
        return Err(anyhow::anyhow!(
            "{} did not print {} ({status})",
            browser.display(),
            pdf.display()
        )
        .into());
    }
    Ok(())
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}
