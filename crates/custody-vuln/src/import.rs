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
