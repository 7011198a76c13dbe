//! Reading advisory databases from directories.
//!
//! A malformed advisory never stops an import: it is reported in
//! [`Import::skipped`] with its path and reason, and the rest are read.
//! Each file's SHA-256 is kept, so a persistent store can tell which
//! advisories changed without trusting `modified`.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::Error;
use crate::osv::{Advisory, Format, read_limited};

/// One advisory read from a file.
#[derive(Debug, Clone)]
pub struct AdvisoryFile {
    /// The file, relative to the imported directory.
    pub path: PathBuf,
    /// SHA-256 of the file's bytes, hex.
    pub digest: String,
    /// The advisory.
    pub advisory: Advisory,
}

/// The result of reading a directory.
#[derive(Debug, Default)]
pub struct Import {
    /// Advisories read.
    pub advisories: Vec<AdvisoryFile>,
    /// Files that were advisories by name but did not parse.
    pub skipped: Vec<Error>,
    /// Files left as they were because their digest was already known
    /// (see [`read_osv_directory_incremental`]).
    pub unchanged: Vec<(PathBuf, String)>,
}

/// The SHA-256 of `bytes`, hex.
pub fn digest(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Reads every `.json`, `.yaml` and `.yml` file under `dir`, recursively,
/// skipping hidden entries. Fails only if a directory cannot be listed.
pub fn read_osv_directory(dir: &Path) -> Result<Import, Error> {
    read_osv_directory_incremental(dir, |_, _| false)
}

/// Like [`read_osv_directory`], but a file for which `known(path, digest)`
/// is true is not parsed and is listed in [`Import::unchanged`] instead.
pub fn read_osv_directory_incremental(
    dir: &Path,
    mut known: impl FnMut(&Path, &str) -> bool,
) -> Result<Import, Error> {
    let mut files = Vec::new();
    walk(dir, &mut files)?;
    files.sort();
    let mut import = Import::default();
    for path in files {
        let Some(format) = Format::from_path(&path) else {
            continue;
        };
        let relative = path.strip_prefix(dir).unwrap_or(&path).to_path_buf();
        let bytes = match read_limited(&path) {
            Ok(b) => b,
            Err(e) => {
                import.skipped.push(e);
                continue;
            }
        };
        let digest = digest(&bytes);
        if known(&relative, &digest) {
            import.unchanged.push((relative, digest));
            continue;
        }
        match Advisory::parse(&bytes, format, &path.display().to_string()) {
            Ok(advisory) => import.advisories.push(AdvisoryFile {
                path: relative,
                digest,
                advisory,
            }),
            Err(e) => import.skipped.push(e),
        }
    }
    Ok(import)
}

/// Reads every `.json`, `.yaml` and `.yml` entry of a zip archive in
/// osv.dev's per-ecosystem layout (`<ecosystem>/all.zip`, one advisory per
/// entry). Each entry is bounded by [`crate::osv::MAX_ADVISORY_BYTES`] as it
/// is decompressed, so a zip bomb is refused, not inflated.
pub fn read_osv_zip(path: &Path) -> Result<Import, Error> {
    read_osv_zip_incremental(path, |_, _| false)
}

/// Like [`read_osv_zip`], skipping entries whose digest is known.
pub fn read_osv_zip_incremental(
    path: &Path,
    mut known: impl FnMut(&Path, &str) -> bool,
) -> Result<Import, Error> {
    use std::io::Read;

    use crate::osv::MAX_ADVISORY_BYTES;

    let file = std::fs::File::open(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    let mut archive = zip::ZipArchive::new(std::io::BufReader::new(file)).map_err(|source| {
        Error::MalformedZip {
            path: path.display().to_string(),
            source,
        }
    })?;
    let mut import = Import::default();
    for i in 0..archive.len() {
        let mut entry = match archive.by_index(i) {
            Ok(e) => e,
            Err(source) => {
                import.skipped.push(Error::MalformedZip {
                    path: format!("{}!#{i}", path.display()),
                    source,
                });
                continue;
            }
        };
        // `enclosed_name` refuses absolute paths and `..`, so an entry name
        // is only ever a relative label here.
        let Some(name) = entry.enclosed_name() else {
            continue;
        };
        let Some(format) = Format::from_path(&name) else {
            continue;
        };
        if !entry.is_file() {
            continue;
        }
        let origin = format!("{}!{}", path.display(), name.display());
        let mut bytes = Vec::new();
        if let Err(source) = (&mut entry)
            .take(MAX_ADVISORY_BYTES + 1)
            .read_to_end(&mut bytes)
        {
            import.skipped.push(Error::Io {
                path: PathBuf::from(&origin),
                source,
            });
            continue;
        }
        if bytes.len() as u64 > MAX_ADVISORY_BYTES {
            import.skipped.push(Error::AdvisoryTooLarge {
                origin,
                size: entry.size(),
                limit: MAX_ADVISORY_BYTES,
            });
            continue;
        }
        let digest = digest(&bytes);
        if known(&name, &digest) {
            import.unchanged.push((name, digest));
            continue;
        }
        match Advisory::parse(&bytes, format, &origin) {
            Ok(advisory) => import.advisories.push(AdvisoryFile {
                path: name,
                digest,
                advisory,
            }),
            Err(e) => import.skipped.push(e),
        }
    }
    import.advisories.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(import)
}

pub(crate) fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), Error> {
    let io = |source| Error::Io {
        path: dir.to_owned(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let kind = entry.file_type().map_err(io)?;
        if kind.is_dir() {
            walk(&entry.path(), out)?;
        } else if kind.is_file() {
            out.push(entry.path());
        }
    }
    Ok(())
}
