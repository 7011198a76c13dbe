//! `custody rebuild-check`: does a second build give the released bytes?

use std::path::PathBuf;
use std::process::{ExitCode, Stdio};

use custody_rebuild::Difference;
use custody_service::rebuild::RebuildRequest;
use custody_site::config::Loaded;

use crate::cmd::key::file_keys;
use crate::output::{CmdResult, EXIT_FAILED, Output, usage};

/// Check that a release is reproducible: a second, independent build gives the same bytes.
///
/// Compares each artifact of the published release (--release site/releases/PRODUCT/VERSION)
/// with the file of the same name in --artifacts, after running the build command given after
/// `--` in the project directory, if one is. Where they differ it says where, as diffoscope
/// would: for gzip the header fields (a timestamp, the OS byte, the stored name), for tar and
/// zip the entries only one side has, their order, their size, mode, time and owner, and the
/// first differing bytes of contents that differ; for other files the first differing byte.
///
/// Pass or fail, the outcome is signed with the release key as an in-toto Statement about the
/// release's artifacts (predicate https://custody.dev/reproducibility/v1), recorded in the
/// transparency log, and kept on the site under rebuilds/PRODUCT/VERSION/.
///
///   custody rebuild-check --release site/releases/app/1.4.2 --artifacts dist -- make dist
///
/// Exit codes: 0 reproduced; 1 not (or the build failed); 2 bad usage.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The published release's directory.
    #[arg(long, value_name = "DIR")]
    release: PathBuf,
    /// Where the second build puts its outputs, under the released artifacts' names.
    #[arg(long, value_name = "DIR")]
    artifacts: PathBuf,
    /// Project directory (where custody.toml lives); the build command runs here.
    #[arg(long, default_value = ".")]
    dir: PathBuf,
    /// Accept an unencrypted signing key file.
    #[arg(long)]
    insecure_unencrypted_key: bool,
    /// The build command, after `--`.
    #[arg(last = true, value_name = "COMMAND")]
    command: Vec<String>,
}

pub fn run(args: Args, out: &Output) -> CmdResult {
    let loaded = Loaded::from_dir(&args.dir).map_err(usage)?;
    if let Some((program, rest)) = args.command.split_first() {
        out.progress(format!("Building: {}", args.command.join(" ")));
        // The build's own output goes to stderr, so stdout stays this command's (--json).
        let status = std::process::Command::new(program)
            .args(rest)
            .current_dir(&args.dir)
            .stdin(Stdio::null())
            .stdout(std::io::stderr())
            .status()
            .map_err(|e| anyhow::anyhow!("cannot run {program}: {e}"))?;
        if !status.success() {
            return Err(anyhow::anyhow!(
                "the build command failed ({status}); nothing was compared"
            )
            .into());
        }
    }
    let report = custody_service::rebuild::check(
        &loaded,
        &RebuildRequest {
            release_dir: args.release,
            rebuilt_dir: args.artifacts,
            command: (!args.command.is_empty()).then_some(args.command),
        },
        &file_keys(args.insecure_unencrypted_key, out),
        &custody_service::env::SystemClock,
        &super::transport(),
        out,
    )?;
    out.result(&report, || {
        let mut s = String::new();
        for a in &report.artifacts {
            if a.reproduced {
                s.push_str(&format!(
                    "reproduced  {}  sha256:{}\n",
                    a.name, a.released_sha256
                ));
                continue;
            }
            s.push_str(&format!("DIFFERS     {}\n", a.name));
            if let Some(why) = &a.unexplained {
                s.push_str(&format!("  {why}\n"));
            }
            if let Some(e) = &a.explanation {
                for d in &e.differences {
                    s.push_str(&format!("  {}\n", describe(d)));
                }
                if e.more > 0 {
                    s.push_str(&format!("  ... and {} more\n", e.more));
                }
            }
        }
        s.push_str(&format!(
            "{} {} {}; attestation: {}",
            report.product,
            report.version,
            if report.reproduced {
                "is reproducible"
            } else {
                "is NOT reproduced"
            },
            report.attestation.display()
        ));
        s
    });
    Ok(if report.reproduced {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FAILED)
    })
}

fn describe(d: &Difference) -> String {
    match d {
        Difference::Format { released, rebuilt } => {
            format!("format: released {released:?}, rebuilt {rebuilt:?}")
        }
        Difference::GzipHeader {
            field,
            released,
            rebuilt,
        } => format!("gzip header {field}: {released} -> {rebuilt}"),
        Difference::OnlyInReleased { path } => format!("only in the release: {path}"),
        Difference::OnlyInRebuilt { path } => format!("only in the rebuild: {path}"),
        Difference::Order {
            position,
            released,
            rebuilt,
        } => format!("order: entry {position} is {released} in the release, {rebuilt} rebuilt"),
        Difference::Metadata {
            path,
            field,
            released,
            rebuilt,
        } => format!("{path}: {field} {released} -> {rebuilt}"),
        Difference::Content {
            path,
            released_size,
            rebuilt_size,
            offset,
            released_bytes,
            rebuilt_bytes,
        } => {
            let what = if path.is_empty() {
                "content"
            } else {
                path.as_str()
            };
            match offset {
                Some(at) => format!(
                    "{what}: differs at byte {at} ({released_bytes} -> {rebuilt_bytes}); sizes \
                     {released_size} and {rebuilt_size}"
                ),
                None => format!(
                    "{what}: contents differ; sizes {released_size} and {rebuilt_size} (too \
                     large to locate the first difference)"
                ),
            }
        }
    }
}
