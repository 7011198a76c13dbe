//! The local advisory database: importing sources into it and describing what it holds.
//!
//! The database is custody-vuln's [`Store`] in a directory; a source is imported from a
//! directory of OSV files, an osv.dev-style zip (a file, or an HTTPS URL fetched through the
//! [`Transport`]), or the RustSec advisory database.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use custody_vuln::{Index, PackageRef, SourceKind, Store};
use serde::Serialize;

use crate::Error;
use crate::env::{Clock, Events};
use crate::transport::{Limits, Transport, TransportError};

/// A source imported longer ago than this is named in a warning: new advisories appear daily,
/// and a scan against an old copy passes what a fresh one would fail.
pub const STALE_DAYS: u64 = 7;

/// The names of the sources imported into `dir` (its `sources/<name>.json` files), without
/// reading them.
pub fn existing_sources(dir: &Path) -> Result<Vec<String>, Error> {
    let missing = || Error::NoAdvisories {
        dir: dir.to_path_buf(),
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

fn db_error(dir: &Path) -> impl FnOnce(custody_vuln::Error) -> Error + '_ {
    move |source| Error::AdvisoryDb {
        dir: dir.to_path_buf(),
        source: Box::new(source),
    }
}

/// An existing database, never a new empty one.
pub fn open_existing(dir: &Path) -> Result<Store, Error> {
    existing_sources(dir)?;
    Store::open(dir).map_err(db_error(dir))
}

/// An index of the advisories in `dir` that name any of `packages`, and the number of distinct
/// advisories stored: only those are read and decoded (custody-vuln's per-ecosystem packs).
pub fn index_for(dir: &Path, packages: &[PackageRef]) -> Result<(Index, usize), Error> {
    existing_sources(dir)?;
    custody_vuln::load_index(dir, packages).map_err(db_error(dir))
}

/// When one source was last imported.
#[derive(Debug, Clone)]
pub struct SourceAge {
    /// The source's name.
    pub name: String,
    /// When its index file was last written (the store rewrites `sources/<name>.json` on
    /// every import of that source).
    pub written: Option<SystemTime>,
    /// Seconds between then and now.
    pub age_seconds: Option<u64>,
}

/// How long ago each of `names` was last imported into `dir`.
pub fn import_ages(dir: &Path, names: &[String], now: &dyn Clock) -> Vec<SourceAge> {
    let now = SystemTime::from(now.now());
    names
        .iter()
        .map(|name| {
            let written = std::fs::metadata(dir.join("sources").join(format!("{name}.json")))
                .and_then(|m| m.modified())
                .ok();
            SourceAge {
                name: name.clone(),
                written,
                age_seconds: written
                    .and_then(|t| now.duration_since(t).ok())
                    .map(|d| d.as_secs()),
            }
        })
        .collect()
}

/// Warns about each of `names` imported more than [`STALE_DAYS`] ago.
pub fn warn_stale(dir: &Path, names: &[String], clock: &dyn Clock, events: &dyn Events) {
    for age in import_ages(dir, names, clock) {
        if let Some(days) = age
            .age_seconds
            .map(|s| s / 86_400)
            .filter(|d| *d >= STALE_DAYS)
        {
            events.warn(&format!(
                "advisory source {} was last imported {days} days ago: import it again for \
                 advisories published since",
                age.name
            ));
        }
    }
}

/// A [`SourceKind`]'s name in reports.
pub fn kind_name(kind: SourceKind) -> &'static str {
    match kind {
        SourceKind::Osv => "osv",
        SourceKind::OsvZip => "osv-zip",
        SourceKind::RustSec => "rustsec",
        _ => "other",
    }
}

const ZIP_MAGIC: [u8; 4] = *b"PK\x03\x04";

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What `path` holds: a zip by its magic bytes, the RustSec database by its `crates/<name>/`
/// directories, else a directory of OSV files.
pub fn detect(path: &Path) -> Result<SourceKind, Error> {
    let meta = std::fs::metadata(path).map_err(io_error(path))?;
    if meta.is_file() {
        let mut magic = [0u8; 4];
        let n = std::io::Read::read(
            &mut std::fs::File::open(path).map_err(io_error(path))?,
            &mut magic,
        )
        .map_err(io_error(path))?;
        if n == 4 && magic == ZIP_MAGIC {
            return Ok(SourceKind::OsvZip);
        }
        return Err(Error::NotAnAdvisorySource {
            path: path.to_path_buf(),
        });
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

/// Whether `url` is plain HTTP to a host other than this machine. Advisories fetched that way
/// could be rewritten by anyone on the path, hiding a vulnerability from every later scan; a
/// test server on loopback is not on any path.
fn is_insecure_remote(url: &str) -> bool {
    let Some(rest) = url
        .get(..7)
        .filter(|s| s.eq_ignore_ascii_case("http://"))
        .and_then(|_| url.get(7..))
    else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit('@').next().unwrap_or("");
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host_port.split(':').next().unwrap_or(""),
    };
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    !loopback
}

/// Where a source comes from.
#[derive(Debug, Clone)]
pub enum ImportFrom {
    /// A directory of OSV files, an osv.dev zip, or the RustSec database, on disk.
    Path(PathBuf),
    /// The URL of an osv.dev-style zip.
    Url {
        /// `https://...` (plain `http://` only to loopback, or when allowed below).
        url: String,
        /// Accept plain HTTP from another host: unsafe, since the advisories could be altered
        /// on the way.
        insecure_allow_http: bool,
    },
}

impl ImportFrom {
    /// A URL when `text` is one, else a path.
    pub fn parse(text: &Path, insecure_allow_http: bool) -> Self {
        match text
            .to_str()
            .filter(|p| crate::transport::is_http(p))
            .map(str::to_owned)
        {
            Some(url) => Self::Url {
                url,
                insecure_allow_http,
            },
            None => Self::Path(text.to_path_buf()),
        }
    }
}

/// What an import did.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Serialize)]
pub struct Imported {
    /// The database directory.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub db: PathBuf,
    /// The source's name in the database.
    pub source: String,
    /// `osv`, `osv-zip` or `rustsec`.
    pub kind: &'static str,
    /// The source's advisories after the import.
    pub advisories: usize,
    /// Advisories new to the source.
    pub added: usize,
    /// Advisories whose file changed.
    pub changed: usize,
    /// Advisories whose file is gone.
    pub removed: usize,
    /// Advisories unchanged.
    pub unchanged: usize,
    /// Files that did not parse, each with the reason; the rest were imported.
    pub skipped: Vec<String>,
}

/// Downloads `url` into a temporary file inside `db` (so the import reads it from the same
/// disk), refusing anything but a zip archive.
fn download(
    transport: &dyn Transport,
    url: &str,
    db: &Path,
) -> Result<tempfile::NamedTempFile, Error> {
    std::fs::create_dir_all(db).map_err(io_error(db))?;
    let mut file = tempfile::NamedTempFile::new_in(db).map_err(io_error(db))?;
    let copied = transport
        .get(url, Limits::DOWNLOAD, file.as_file_mut())
        .map_err(|source| Error::Download {
            url: url.to_owned(),
            source,
        })?
        .ok_or_else(|| Error::Download {
            url: url.to_owned(),
            source: TransportError::Status {
                url: url.to_owned(),
                status: 404,
            },
        })?;
    let mut magic = [0u8; 4];
    let is_zip = copied >= 4
        && std::fs::File::open(file.path())
            .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic))
            .is_ok()
        && magic == ZIP_MAGIC;
    if !is_zip {
        return Err(Error::DownloadNotZip {
            url: url.to_owned(),
            bytes: copied,
        });
    }
    Ok(file)
}

/// Imports a source into the database at `db` (created if need be). Importing a source again
/// updates it: only changed files are parsed, and advisories whose file is gone are dropped. A
/// malformed advisory is left out and listed under `skipped`.
pub fn import(
    db: &Path,
    from: &ImportFrom,
    name: Option<&str>,
    transport: &dyn Transport,
    events: &dyn Events,
) -> Result<Imported, Error> {
    let (kind, name, _download, path, origin) = match from {
        ImportFrom::Url {
            url,
            insecure_allow_http,
        } => {
            if is_insecure_remote(url) && !insecure_allow_http {
                return Err(Error::InsecureHttp { url: url.clone() });
            }
            let name = name
                .map(str::to_owned)
                .or_else(|| name_from_url(url))
                .ok_or_else(|| Error::UnnamedSource {
                    origin: url.clone(),
                })?;
            events.progress(&format!("Downloading {url}"));
            let file = download(transport, url, db)?;
            let path = file.path().to_path_buf();
            (
                SourceKind::OsvZip,
                name,
                Some(file),
                path,
                PathBuf::from(url),
            )
        }
        ImportFrom::Path(path) => {
            let kind = detect(path)?;
            let name = name
                .map(str::to_owned)
                .or_else(|| default_name(path, kind))
                .ok_or_else(|| Error::UnnamedSource {
                    origin: path.display().to_string(),
                })?;
            (kind, name, None, path.clone(), path.clone())
        }
    };
    events.progress(&format!(
        "Importing {} ({}) as source {name:?} into {}",
        origin.display(),
        kind_name(kind),
        db.display()
    ));
    let mut store = Store::open(db).map_err(db_error(db))?;
    let summary = store
        .import_from(&name, kind, &path, &origin)
        .map_err(|source| Error::Import {
            origin: origin.clone(),
            source: Box::new(source),
        })?;
    for e in &summary.skipped {
        events.warn(&format!("skipped: {e}"));
    }
    let advisories = store
        .sources()
        .iter()
        .find(|s| s.name == name)
        .map_or(0, |s| s.advisories);
    if advisories == 0 {
        events.warn(&format!(
            "{} held no advisories: is it the right directory?",
            origin.display()
        ));
    }
    Ok(Imported {
        db: db.to_path_buf(),
        source: name,
        kind: kind_name(kind),
        advisories,
        added: summary.added.len(),
        changed: summary.changed.len(),
        removed: summary.removed.len(),
        unchanged: summary.unchanged,
        skipped: summary.skipped.iter().map(ToString::to_string).collect(),
    })
}

/// One imported source, as `status` describes it.
#[derive(Debug, Serialize)]
pub struct SourceStatus {
    /// Its name.
    pub name: String,
    /// `osv`, `osv-zip` or `rustsec`.
    pub kind: &'static str,
    /// Where it was imported from.
    pub origin: PathBuf,
    /// Its advisories.
    pub advisories: usize,
    /// Files that did not parse.
    pub skipped: usize,
    /// RFC 3339; when the source's index file was last written.
    pub last_import: Option<String>,
    /// Seconds since then.
    pub age_seconds: Option<u64>,
}

/// What the database holds.
#[derive(Debug, Serialize)]
pub struct Status {
    /// The database directory.
    pub db: PathBuf,
    /// Distinct advisory ids across sources (a RustSec id imported twice counts once).
    pub advisories: usize,
    /// The latest `modified` date of any advisory, ignoring the Go database's `0001-01-01`.
    pub newest_modified: Option<String>,
    /// Each source.
    pub sources: Vec<SourceStatus>,
}

/// Describes the database at `db`.
pub fn status(db: &Path, clock: &dyn Clock) -> Result<Status, Error> {
    let store = open_existing(db)?;
    let sources = store.sources();
    let names: Vec<String> = sources.iter().map(|s| s.name.clone()).collect();
    let ages = import_ages(db, &names, clock);
    let sources: Vec<SourceStatus> = sources
        .into_iter()
        .zip(ages)
        .map(|(s, age)| SourceStatus {
            kind: kind_name(s.kind),
            origin: s.origin,
            advisories: s.advisories,
            skipped: s.skipped,
            last_import: age
                .written
                .and_then(|t| jiff::Timestamp::try_from(t).ok())
                .map(|t| t.round(jiff::Unit::Second).unwrap_or(t).to_string()),
            age_seconds: age.age_seconds,
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
    Ok(Status {
        db: db.to_path_buf(),
        advisories: index.len(),
        newest_modified,
        sources,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::env::Silent;
    use crate::transport::MemoryTransport;

    #[test]
    fn plain_http_is_insecure_except_to_loopback() {
        for url in [
            "http://example.com/PyPI/all.zip",
            "HTTP://10.0.0.1/x.zip",
            "http://user@example.com:8080/x.zip",
            "http://127.0.0.1.example.com/x.zip",
        ] {
            assert!(is_insecure_remote(url), "{url}");
        }
        for url in [
            "https://example.com/x.zip",
            "http://127.0.0.1:8080/x.zip",
            "http://localhost/x.zip",
            "http://[::1]:9000/x.zip",
        ] {
            assert!(!is_insecure_remote(url), "{url}");
        }
    }

    #[test]
    fn a_plain_http_import_is_refused_before_anything_is_fetched() {
        let db = tempfile::tempdir().unwrap();
        let transport = MemoryTransport::new();
        transport.serve("http://mirror.example/Go/all.zip", b"PK\x03\x04".to_vec());
        let from = ImportFrom::parse(Path::new("http://mirror.example/Go/all.zip"), false);
        let err = import(db.path(), &from, None, &transport, &Silent).unwrap_err();
        assert!(
            matches!(&err, Error::InsecureHttp { url } if url.contains("mirror.example")),
            "{err}"
        );
        assert!(!db.path().join("sources").exists());
    }

    #[test]
    fn a_download_that_is_not_a_zip_is_refused() {
        let db = tempfile::tempdir().unwrap();
        let transport = MemoryTransport::new();
        transport.serve("https://mirror.example/Go/all.zip", b"<html>".to_vec());
        let from = ImportFrom::parse(Path::new("https://mirror.example/Go/all.zip"), false);
        let err = import(db.path(), &from, None, &transport, &Silent).unwrap_err();
        assert!(
            matches!(err, Error::DownloadNotZip { bytes: 6, .. }),
            "{err}"
        );
    }

    #[test]
    fn sources_are_named_after_their_url() {
        assert_eq!(
            name_from_url("https://h/PyPI/all.zip?x=1").as_deref(),
            Some("PyPI")
        );
        assert_eq!(name_from_url("https://h/Go.zip").as_deref(), Some("Go"));
    }
}
