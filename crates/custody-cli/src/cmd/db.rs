//! `custody db`: the local vulnerability advisory database that `custody scan` reads.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, anyhow};
use custody_service::advisories::{self, ImportFrom};
use custody_service::env::SystemClock;
use custody_service::transport::HttpTransport;
use custody_site::config::Loaded;
use serde::Serialize;

use crate::output::{CmdResult, Output, usage};

/// Import vulnerability advisories, or show what is imported.
///
/// In a project the database lives in `[vulndb] dir` of custody.toml (default
/// `.custody/advisories`). Outside one it is the user's own, in
/// `$XDG_DATA_HOME/custody/advisories` (default `~/.local/share/custody/advisories`), so
/// `custody db import ...; custody scan Cargo.lock` works anywhere. --db DIR or CUSTODY_DB
/// names another.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  custody db import ../advisories/crates.io            # a directory of OSV JSON or YAML
  custody db import Go-all.zip --name Go               # an osv.dev per-ecosystem zip
  custody db import advisory-db                        # the RustSec database (crates/<name>/*.md)
  custody db status

Outside a project the database is ~/.local/share/custody/advisories ($XDG_DATA_HOME/custody/...).")]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    Import(ImportArgs),
    Status(StatusArgs),
}

/// Where the advisory database is.
#[derive(Debug, Clone, clap::Args)]
pub struct DbLocation {
    /// The advisory database directory, instead of custody.toml's `[vulndb] dir` (or, outside
    /// a project, the user's in ~/.local/share/custody/advisories).
    #[arg(long, env = "CUSTODY_DB", value_name = "DIR")]
    pub db: Option<PathBuf>,
}

impl DbLocation {
    /// The database directory: --db or CUSTODY_DB, else the project's `[vulndb] dir`, else the
    /// user's.
    pub fn resolve(&self) -> anyhow::Result<PathBuf> {
        if let Some(dir) = &self.db {
            return Ok(dir.clone());
        }
        let cwd = std::env::current_dir().context("reading the current directory")?;
        match Loaded::from_dir(&cwd) {
            Ok(loaded) => Ok(loaded.vulndb_dir()),
            Err(custody_site::Error::NotInitialised(_)) => user_db().ok_or_else(|| {
                anyhow!(
                    "no advisory database: not in a custody project ({} has no custody.toml), \
                     and neither XDG_DATA_HOME nor HOME names a data directory; pass --db DIR or \
                     set CUSTODY_DB",
                    cwd.display()
                )
            }),
            Err(e) => Err(e.into()),
        }
    }
}

/// The user's own database, as cargo-audit keeps `~/.cargo/advisory-db`: in the XDG data
/// directory (`$XDG_DATA_HOME`, else `~/.local/share`). A relative `XDG_DATA_HOME` is ignored,
/// as the XDG specification says.
fn user_db() -> Option<PathBuf> {
    let absolute = |v: std::ffi::OsString| Some(PathBuf::from(v)).filter(|p| p.is_absolute());
    let base = std::env::var_os("XDG_DATA_HOME")
        .and_then(absolute)
        .or_else(|| {
            std::env::var_os("HOME")
                .and_then(absolute)
                .map(|h| h.join(".local/share"))
        })?;
    Some(base.join("custody").join("advisories"))
}

/// Import advisories: a directory of OSV JSON/YAML files, an osv.dev-style zip (a file or an
/// http(s) URL), or the RustSec advisory database (detected by its `crates/` directory).
///
/// Importing a source again updates it: only changed files are parsed, and advisories whose file
/// is gone are dropped. A malformed advisory is reported on standard error (and under `skipped`
/// in --json) and left out; the rest are imported.
#[derive(Debug, clap::Args)]
struct ImportArgs {
    /// The directory, zip file, or RustSec database to import; or the URL of an osv.dev-style
    /// zip (`https://osv-vulnerabilities.storage.googleapis.com/PyPI/all.zip`).
    path: PathBuf,
    /// The source's name in the database (default: the directory's or zip's name).
    #[arg(long)]
    name: Option<String>,
    /// Accept a plain `http://` URL from another host. Unsafe: anyone on the path could alter
    /// the advisories, hiding vulnerabilities from every later scan. (Loopback is always
    /// accepted.)
    #[arg(long)]
    allow_insecure_http: bool,
    #[command(flatten)]
    location: DbLocation,
}

/// Show the imported sources: advisory counts, skipped files, and when each was imported.
#[derive(Debug, clap::Args)]
struct StatusArgs {
    #[command(flatten)]
    location: DbLocation,
}

pub fn run(args: Args, out: &Output) -> CmdResult {
    match args.command {
        Command::Import(a) => import(a, out),
        Command::Status(a) => status(a, out),
    }
}

#[derive(Debug, Serialize)]
struct Skipped {
    error: String,
}

#[derive(Debug, Serialize)]
struct ImportReport<'a> {
    ok: bool,
    db: &'a Path,
    source: &'a str,
    kind: &'static str,
    path: &'a Path,
    advisories: usize,
    added: usize,
    changed: usize,
    removed: usize,
    unchanged: usize,
    skipped: Vec<Skipped>,
    millis: u128,
}

fn import(args: ImportArgs, out: &Output) -> CmdResult {
    let db = args.location.resolve().map_err(usage)?;
    let started = Instant::now();
    let from = ImportFrom::parse(&args.path, args.allow_insecure_http);
    if args.allow_insecure_http && matches!(from, ImportFrom::Url { .. }) {
        out.warn("--allow-insecure-http: advisories fetched over plain HTTP could have been altered on the way");
    }
    let transport = HttpTransport::new();
    let imported = advisories::import(&db, &from, args.name.as_deref(), &transport, out)?;
    let millis = started.elapsed().as_millis();
    let report = ImportReport {
        ok: true,
        db: &db,
        source: &imported.source,
        kind: imported.kind,
        path: &args.path,
        advisories: imported.advisories,
        added: imported.added,
        changed: imported.changed,
        removed: imported.removed,
        unchanged: imported.unchanged,
        skipped: imported
            .skipped
            .iter()
            .map(|e| Skipped { error: e.clone() })
            .collect(),
        millis,
    };
    out.result(&report, || {
        format!(
            "Imported {}: {} advisories ({} added, {} changed, {} removed, {} unchanged){} in {millis} ms",
            report.source,
            report.advisories,
            report.added,
            report.changed,
            report.removed,
            report.unchanged,
            match report.skipped.len() {
                0 => String::new(),
                n => format!(", {n} malformed file(s) skipped"),
            }
        )
    });
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Serialize)]
struct Report {
    ok: bool,
    #[serde(flatten)]
    status: advisories::Status,
}

fn age(seconds: u64) -> String {
    match seconds {
        s if s < 120 => format!("{s} s ago"),
        s if s < 7200 => format!("{} min ago", s / 60),
        s if s < 172_800 => format!("{} h ago", s / 3600),
        s => format!("{} days ago", s / 86_400),
    }
}

fn status(args: StatusArgs, out: &Output) -> CmdResult {
    let db = args.location.resolve().map_err(usage)?;
    let report = Report {
        ok: true,
        status: advisories::status(&db, &SystemClock)?,
    };
    let db = &report.status.db;
    let status = &report.status;
    out.result(&report, || {
        let mut text = format!(
            "Advisory database {}: {} advisories{}\n",
            db.display(),
            status.advisories,
            status
                .newest_modified
                .as_deref()
                .map(|m| format!(", newest modified {m}"))
                .unwrap_or_default()
        );
        let width = status
            .sources
            .iter()
            .map(|s| s.name.len())
            .max()
            .unwrap_or(0);
        for s in &status.sources {
            text.push_str(&format!(
                "  {:width$}  {:8} {:>6} advisories{}  imported {} from {}\n",
                s.name,
                s.kind,
                s.advisories,
                match s.skipped {
                    0 => String::new(),
                    n => format!(" ({n} skipped)"),
                },
                s.age_seconds
                    .map(age)
                    .unwrap_or_else(|| "at an unknown time".to_owned()),
                s.origin.display(),
            ));
        }
        text
    });
    Ok(ExitCode::SUCCESS)
}
