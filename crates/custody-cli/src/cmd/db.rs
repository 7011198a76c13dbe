//! `custody db`: the local vulnerability advisory database that `custody scan` reads.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Instant, SystemTime};

use anyhow::{Context, anyhow};
use custody_site::config::Loaded;
use custody_vuln::{Index, PackageRef, SourceKind, Store};
use serde::Serialize;

use crate::output::{CmdResult, Output, usage};

/// Import vulnerability advisories, or show what is imported.
///
/// The database lives in `[vulndb] dir` of custody.toml (default `.custody/advisories`); outside
/// a project, give --db DIR or set CUSTODY_DB.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  custody db import ../advisories/crates.io            # a directory of OSV JSON or YAML
  custody db import Go-all.zip --name Go               # an osv.dev per-ecosystem zip
  custody db import advisory-db                        # the RustSec database (crates/<name>/*.md)
  custody db status")]
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
    /// The advisory database directory, instead of custody.toml's `[vulndb] dir`.
    #[arg(long, env = "CUSTODY_DB", value_name = "DIR")]
    pub db: Option<PathBuf>,
}

impl DbLocation {
    /// The database directory: --db or CUSTODY_DB, else the project's `[vulndb] dir`.
    pub fn resolve(&self) -> anyhow::Result<PathBuf> {
        if let Some(dir) = &self.db {
            return Ok(dir.clone());
        }
        let cwd = std::env::current_dir().context("reading the current directory")?;
        match Loaded::from_dir(&cwd) {
            Ok(loaded) => Ok(loaded.vulndb_dir()),
            Err(custody_site::Error::NotInitialised(_)) => Err(anyhow!(
                "no advisory database: not in a custody project ({} has no custody.toml); \
                 pass --db DIR or set CUSTODY_DB",
                cwd.display()
            )),
            Err(e) => Err(e.into()),
        }
    }
}

/// The names of the sources imported into `dir` (its `sources/<name>.json` files), without
/// reading them, or an error saying how to import some.
pub fn existing_sources(dir: &Path) -> anyhow::Result<Vec<String>> {
    let missing = || {
        anyhow!(
            "no advisories imported in {}: run `custody db import PATH` first \
             (PATH: a directory of OSV files, an osv.dev zip, or the RustSec database)",
            dir.display()
        )
    };
    let Ok(entries) = std::fs::read_dir(dir.join("sources")) else {
        return Err(missing());
    };
    let mut names: Vec<String> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("json"))
        .filter_map(|p| p.file_stem().and_then(|s| s.to_str()).map(str::to_owned))
        .collect();
    if names.is_empty() {
        return Err(missing());
    }
    names.sort();
    Ok(names)
}

/// Open an existing database without creating one, or say how to make it.
pub fn open_existing(dir: &Path) -> anyhow::Result<Store> {
    existing_sources(dir)?;
    Store::open(dir).with_context(|| format!("reading the advisory database {}", dir.display()))
}

/// An index of the advisories in `dir` that name any of `packages`, and the number of distinct
/// advisories stored: only those are read and decoded (custody-vuln's per-ecosystem packs).
pub fn index_for(dir: &Path, packages: &[PackageRef]) -> anyhow::Result<(Index, usize)> {
    existing_sources(dir)?;
    custody_vuln::load_index(dir, packages)
        .with_context(|| format!("reading the advisory database {}", dir.display()))
}

/// How long ago each source was last imported (its index file's modification time: the store
/// rewrites `sources/<name>.json` on every import of that source), by name.
pub fn import_ages(dir: &Path, names: &[String]) -> Vec<(String, Option<SystemTime>, Option<u64>)> {
    let now = SystemTime::now();
    names
        .iter()
        .map(|name| {
            let written = std::fs::metadata(dir.join("sources").join(format!("{name}.json")))
                .and_then(|m| m.modified())
                .ok();
            let age = written
                .and_then(|t| now.duration_since(t).ok())
                .map(|d| d.as_secs());
            (name.clone(), written, age)
        })
        .collect()
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

fn kind_name(kind: SourceKind) -> &'static str {
    match kind {
        SourceKind::Osv => "osv",
        SourceKind::OsvZip => "osv-zip",
        SourceKind::RustSec => "rustsec",
        _ => "other",
    }
}

/// What `path` holds: a zip by its magic bytes, the RustSec database by its `crates/<name>/`
/// directories, else a directory of OSV files.
fn detect(path: &Path) -> anyhow::Result<SourceKind> {
    let meta = std::fs::metadata(path).with_context(|| format!("{}", path.display()))?;
    if meta.is_file() {
        let mut magic = [0u8; 4];
        let n = std::io::Read::read(
            &mut std::fs::File::open(path).with_context(|| format!("{}", path.display()))?,
            &mut magic,
        )
        .with_context(|| format!("{}", path.display()))?;
        if n == 4 && magic == *b"PK\x03\x04" {
            return Ok(SourceKind::OsvZip);
        }
        return Err(anyhow!(
            "{}: not a zip archive; import a directory of OSV files, an osv.dev zip, or the \
             RustSec database directory",
            path.display()
        ));
    }
    // RustSec keeps `crates/<name>/RUSTSEC-*.md`; its OSV export branch has a flat
    // `crates/RUSTSEC-*.json`, which is OSV.
    let rustsec = std::fs::read_dir(path.join("crates"))
        .map(|entries| entries.flatten().any(|e| e.path().is_dir()))
        .unwrap_or(false);
    Ok(if rustsec {
        SourceKind::RustSec
    } else {
        SourceKind::Osv
    })
}

/// `Go/all.zip` is named `Go`; `advisories/crates.io` is `crates.io`.
fn default_name(path: &Path, kind: SourceKind) -> Option<String> {
    let full = path.canonicalize().ok()?;
    let own = match kind {
        SourceKind::OsvZip => full.file_stem()?,
        _ => full.file_name()?,
    }
    .to_str()?;
    if kind == SourceKind::OsvZip && own == "all" {
        return full.parent()?.file_name()?.to_str().map(str::to_owned);
    }
    Some(own.to_owned())
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

/// The largest zip a URL import downloads: osv.dev's biggest per-ecosystem archive is well under
/// this, and a server sending more is refused rather than allowed to fill the disk.
const MAX_DOWNLOAD_BYTES: u64 = 1 << 30;

/// `PyPI` for `https://host/PyPI/all.zip`, `Go` for `.../Go.zip`.
fn name_from_url(url: &str) -> Option<String> {
    let path = url.split(['?', '#']).next()?;
    let mut segments = path.rsplit('/').filter(|s| !s.is_empty());
    let last = segments.next()?;
    let stem = last.strip_suffix(".zip").unwrap_or(last);
    let name = if stem == "all" {
        segments.next()?
    } else {
        stem
    };
    Some(name.to_owned())
}

/// Downloads `url` into a temporary file inside `db` (so the import reads it from the same
/// disk), refusing anything but a zip archive.
fn download(url: &str, db: &Path) -> anyhow::Result<tempfile::NamedTempFile> {
    std::fs::create_dir_all(db).with_context(|| format!("creating {}", db.display()))?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(crate::http::CONNECT_TIMEOUT))
        .timeout_global(Some(std::time::Duration::from_secs(600)))
        .user_agent(concat!("custody/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let mut response = agent
        .get(url)
        .call()
        .with_context(|| format!("downloading {url}"))?;
    let mut file = tempfile::NamedTempFile::new_in(db)
        .with_context(|| format!("a temporary file in {}", db.display()))?;
    let copied = std::io::copy(
        &mut response
            .body_mut()
            .with_config()
            .limit(MAX_DOWNLOAD_BYTES)
            .reader(),
        file.as_file_mut(),
    )
    .with_context(|| format!("downloading {url} (at most {MAX_DOWNLOAD_BYTES} bytes)"))?;
    let mut magic = [0u8; 4];
    let is_zip = copied >= 4
        && std::fs::File::open(file.path())
            .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic))
            .is_ok()
        && magic == *b"PK\x03\x04";
    if !is_zip {
        return Err(anyhow!(
            "{url} is not a zip archive ({copied} bytes): a URL import takes an osv.dev-style \
             all.zip"
        ));
    }
    Ok(file)
}

fn import(args: ImportArgs, out: &Output) -> CmdResult {
    let db = args.location.resolve().map_err(usage)?;
    let url = args
        .path
        .to_str()
        .filter(|p| p.starts_with("https://") || p.starts_with("http://"))
        .map(str::to_owned);
    if let Some(url) = &url {
        out.progress(format!("Downloading {url}"));
        let file = download(url, &db).map_err(usage)?;
        let name = match args.name.clone().or_else(|| name_from_url(url)) {
            Some(n) => n,
            None => {
                return Err(usage(anyhow!(
                    "cannot name a source after {url}: give --name"
                )));
            }
        };
        return import_path(
            &args,
            out,
            &db,
            SourceKind::OsvZip,
            name,
            file.path(),
            Some(url),
        );
    }
    let kind = detect(&args.path).map_err(usage)?;
    let name = match args.name.clone().or_else(|| default_name(&args.path, kind)) {
        Some(n) => n,
        None => {
            return Err(usage(anyhow!(
                "cannot name a source after {}: give --name",
                args.path.display()
            )));
        }
    };
    import_path(&args, out, &db, kind, name, &args.path, None)
}

fn import_path(
    args: &ImportArgs,
    out: &Output,
    db: &Path,
    kind: SourceKind,
    name: String,
    path: &Path,
    url: Option<&str>,
) -> CmdResult {
    let db = db.to_path_buf();
    out.progress(format!(
        "Importing {} ({}) as source {name:?} into {}",
        url.map_or_else(|| path.display().to_string(), str::to_owned),
        kind_name(kind),
        db.display()
    ));
    let started = Instant::now();
    let mut store = Store::open(&db)
        .with_context(|| format!("opening the advisory database {}", db.display()))
        .map_err(usage)?;
    let origin = url.map_or_else(|| path.to_path_buf(), PathBuf::from);
    let summary = store
        .import_from(&name, kind, path, &origin)
        .with_context(|| format!("importing {}", origin.display()))
        .map_err(usage)?;
    let millis = started.elapsed().as_millis();
    for e in &summary.skipped {
        out.warn(format!("skipped: {e}"));
    }
    let advisories = store
        .sources()
        .iter()
        .find(|s| s.name == name)
        .map_or(0, |s| s.advisories);
    if advisories == 0 {
        out.warn(format!(
            "{} held no advisories: is it the right directory?",
            args.path.display()
        ));
    }
    let report = ImportReport {
        ok: true,
        db: &db,
        source: &name,
        kind: kind_name(kind),
        path: &args.path,
        advisories,
        added: summary.added.len(),
        changed: summary.changed.len(),
        removed: summary.removed.len(),
        unchanged: summary.unchanged,
        skipped: summary
            .skipped
            .iter()
            .map(|e| Skipped {
                error: e.to_string(),
            })
            .collect(),
        millis,
    };
    out.result(&report, || {
        format!(
            "Imported {name}: {advisories} advisories ({} added, {} changed, {} removed, {} unchanged){} in {millis} ms",
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
struct SourceReport {
    name: String,
    kind: &'static str,
    origin: PathBuf,
    advisories: usize,
    skipped: usize,
    /// RFC 3339; when the source's index file was last written.
    last_import: Option<String>,
    age_seconds: Option<u64>,
}

#[derive(Debug, Serialize)]
struct StatusReport<'a> {
    ok: bool,
    db: &'a Path,
    /// Distinct advisory ids across sources (a RustSec id imported twice counts once).
    advisories: usize,
    /// The latest `modified` date of any advisory, ignoring the Go database's `0001-01-01`.
    newest_modified: Option<String>,
    sources: Vec<SourceReport>,
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
    let store = open_existing(&db).map_err(usage)?;
    let names: Vec<String> = store.sources().into_iter().map(|s| s.name).collect();
    let ages = import_ages(&db, &names);
    let sources: Vec<SourceReport> = store
        .sources()
        .into_iter()
        .zip(ages)
        .map(|(s, (_, written, age_seconds))| SourceReport {
            kind: kind_name(s.kind),
            origin: s.origin,
            advisories: s.advisories,
            skipped: s.skipped,
            last_import: written
                .and_then(|t| jiff::Timestamp::try_from(t).ok())
                .map(|t| t.round(jiff::Unit::Second).unwrap_or(t).to_string()),
            age_seconds,
            name: s.name,
        })
        .collect();
    let index = store.into_index();
    let newest_modified = index
        .advisories()
        .filter_map(|a| a.modified.as_deref())
        .filter_map(|m| m.parse::<jiff::Timestamp>().ok())
        .filter(|t| t.as_second() > 0)
        .max()
        .map(|t| t.to_string());
    let report = StatusReport {
        ok: true,
        db: &db,
        advisories: index.len(),
        newest_modified,
        sources,
    };
    out.result(&report, || {
        let mut text = format!(
            "Advisory database {}: {} advisories{}\n",
            db.display(),
            report.advisories,
            report
                .newest_modified
                .as_deref()
                .map(|m| format!(", newest modified {m}"))
                .unwrap_or_default()
        );
        let width = report
            .sources
            .iter()
            .map(|s| s.name.len())
            .max()
            .unwrap_or(0);
        for s in &report.sources {
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
