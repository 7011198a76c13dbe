//! Bounded reads and durable, atomic writes.

use std::io::{Read, Write};
use std::path::Path;

use crate::Error;

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Read a whole file, refusing directories and anything over `limit` bytes.
pub fn read_bounded(path: &Path, limit: u64, what: &'static str) -> Result<Vec<u8>, Error> {
    let file = std::fs::File::open(path).map_err(io(path))?;
    let meta = file.metadata().map_err(io(path))?;
    if meta.is_dir() {
        return Err(Error::Io {
            path: path.to_path_buf(),
            source: std::io::Error::other(format!("is a directory, not a {what}")),
        });
    }
    if meta.len() > limit {
        return Err(Error::TooLarge {
            path: path.to_path_buf(),
            what,
            size: meta.len(),
            limit,
        });
    }
    let mut out = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    // The file can grow after the metadata call; read one byte past the limit to notice.
    file.take(limit + 1)
        .read_to_end(&mut out)
        .map_err(io(path))?;
    if out.len() as u64 > limit {
        return Err(Error::TooLarge {
            path: path.to_path_buf(),
            what,
            size: out.len() as u64,
            limit,
        });
    }
    Ok(out)
}

/// [`read_bounded`] as UTF-8 text.
pub fn read_text(path: &Path, limit: u64, what: &'static str) -> Result<String, Error> {
    String::from_utf8(read_bounded(path, limit, what)?).map_err(|_| Error::Io {
        path: path.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text"),
    })
}

/// Write `bytes` so that readers see the old file or the new one, never a torn one, and the
/// new one survives a crash once this returns ([`custody_crypto::fs::write_atomic`]).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    custody_crypto::fs::write_atomic(path, bytes).map_err(io(path))
}

/// Create `files` in a directory not yet published, durably
/// ([`custody_crypto::fs::write_new_files`]).
pub fn write_new_files(dir: &Path, files: &[(&str, &[u8])]) -> Result<(), Error> {
    custody_crypto::fs::write_new_files(dir, files).map_err(path_io)
}

/// The error of a file operation that says which path failed.
pub(crate) fn path_io((path, source): (std::path::PathBuf, std::io::Error)) -> Error {
    Error::Io { path, source }
}

/// Make a directory's entries (new names, renames) durable.
pub fn sync_dir(dir: &Path) -> Result<(), Error> {
    custody_crypto::fs::sync_dir(dir).map_err(io(dir))
}

/// Create a file that must not exist yet, with owner-only permissions (for private keys).
pub fn create_private(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let dir = custody_crypto::fs::parent_dir(path);
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(io(path))?;
    f.write_all(bytes).map_err(io(path))?;
    f.sync_all().map_err(io(path))?;
    sync_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_read_refuses_large_files_and_directories() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, vec![0u8; 100]).unwrap();
        assert_eq!(read_bounded(&p, 100, "test").unwrap().len(), 100);
        assert!(matches!(
            read_bounded(&p, 99, "test"),
            Err(Error::TooLarge { .. })
        ));
        assert!(read_bounded(dir.path(), 1000, "test").is_err());
        write_atomic(&p, b"new").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"new");
    }
}
