//! Atomic file replacement, shared by every crate that writes state to disk.
//!
//! Why here, in a crate about digests and keys: the layering rule lets the pure cores
//! (custody-vuln's advisory store, custody-tuf's metadata store) depend on custody-crypto and
//! nothing else of ours, and custody-site sits above them. This is the one crate all three can
//! reach without an upward or sideways dependency, so the one copy of "write a temporary file,
//! fsync, rename, fsync the directory" lives here rather than in each of them. It needs only
//! `std`.
//!
//! Errors are plain [`std::io::Error`]s; each caller maps them into its own error type, with the
//! path it was writing, so messages keep naming the file the user asked for.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Write `bytes` to `path` so that a reader sees the old file or the new one, never a torn one,
/// and the new one survives a crash once this returns.
///
/// The parent directory is created when missing. The temporary file sits beside `path` (a
/// rename is only atomic within one file system), is created exclusively, is fsynced before
/// the rename, and is removed if anything fails; the directory is fsynced after the rename so
/// the new name is durable too.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic_with(path, |f| f.write_all(bytes))
}

/// [`write_atomic`] for content produced by a writer (a serialiser), so it need not be held in
/// memory whole first. `write` gets the temporary file; buffer it yourself if it writes in
/// small pieces, and flush the buffer before returning.
pub fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&mut File) -> io::Result<()>,
) -> io::Result<()> {
    replace(path, write, Durability::Durable)
}

/// Like [`write_atomic`] but without any fsync: readers still never see a torn file, but a
/// crash may lose the new content (or, on some file systems, leave an empty file). Only for
/// files that are checked on every read and cheap to fetch again, where an fsync per file
/// costs more than the rare re-download.
pub fn replace_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    replace(path, |f| f.write_all(bytes), Durability::NotDurable)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Durability {
    Durable,
    NotDurable,
}

fn replace(
    path: &Path,
    write: impl FnOnce(&mut File) -> io::Result<()>,
    durability: Durability,
) -> io::Result<()> {
    let dir = parent_dir(path);
    std::fs::create_dir_all(dir)?;
    let (tmp, mut file) = create_temp_beside(path, dir)?;
    let result = (|| {
        write(&mut file)?;
        if durability == Durability::Durable {
            file.sync_all()?;
        }
        drop(file);
        std::fs::rename(&tmp, path)?;
        if durability == Durability::Durable {
            sync_dir(dir)?;
        }
        Ok(())
    })();
    if result.is_err() {
        // After a failed rename the temporary file is still there; after a failed directory
        // fsync it is gone and this is a harmless NotFound.
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Make each of `paths` durable (`fsync`), all at once: one thread a file, so that a journaling
/// file system commits them together rather than one flush after another. The error names the
/// first file that failed.
pub fn sync_files(paths: &[PathBuf]) -> Result<(), (PathBuf, io::Error)> {
    let sync = |path: &PathBuf| File::open(path).and_then(|f| f.sync_all());
    if let [only] = paths {
        return sync(only).map_err(|e| (only.clone(), e));
    }
    std::thread::scope(|s| {
        let running: Vec<_> = paths
            .iter()
            .map(|path| (path, s.spawn(move || sync(path))))
            .collect();
        let mut first = Ok(());
        for (path, thread) in running {
            let result = thread
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("the fsync thread panicked")));
            if let (Err(e), Ok(())) = (result, &first) {
                first = Err((path.clone(), e));
            }
        }
        first
    })
}

/// Replace `files` (name, content) in `dir`, each atomically ([`replace_file`]), and return
/// once all are durable: their fsyncs overlap ([`sync_files`]) and the directory is synced
/// once. For files nothing published names yet (versioned metadata, markers), so that no
/// reader depends on the order in which they become durable. Nothing to write, nothing done.
pub fn replace_files(dir: &Path, files: &[(&str, &[u8])]) -> Result<(), (PathBuf, io::Error)> {
    if files.is_empty() {
        return Ok(());
    }
    let mut paths = Vec::with_capacity(files.len());
    for (name, bytes) in files {
        let path = dir.join(name);
        if let Err(e) = replace_file(&path, bytes) {
            return Err((path, e));
        }
        paths.push(path);
    }
    sync_files(&paths)?;
    sync_dir(dir).map_err(|e| (dir.to_path_buf(), e))
}

/// Create `files` (name, content) in `dir`, a directory no reader sees until it is renamed
/// into place whole, and make them and their names durable: the files are fsynced together
/// ([`sync_files`]), then the directory once. No temporary names: nothing can see a torn file
/// in a directory that is not published yet. A name that exists already is an error.
pub fn write_new_files(dir: &Path, files: &[(&str, &[u8])]) -> Result<(), (PathBuf, io::Error)> {
    let mut paths = Vec::with_capacity(files.len());
    for (name, bytes) in files {
        let path = dir.join(name);
        let written = File::options()
            .write(true)
            .create_new(true)
            .open(&path)
            .and_then(|mut f| f.write_all(bytes));
        if let Err(e) = written {
            return Err((path, e));
        }
        paths.push(path);
    }
    sync_files(&paths)?;
    sync_dir(dir).map_err(|e| (dir.to_path_buf(), e))
}

/// Make a directory's entries (new names, renames) durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// The directory a path's file lives in; a bare file name lives in ".".
pub fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// A fresh file next to `path`, named `.<name>.tmp-<pid>-<n>`: the leading dot keeps it out
/// of directory listings that skip hidden files (a published site, the monitor's state), and
/// the process id and counter keep concurrent writers, in this process or another, apart.
/// `create_new` means a name left behind by a crashed process is skipped, never reused.
fn create_temp_beside(path: &Path, dir: &Path) -> io::Result<(PathBuf, File)> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let pid = std::process::id();
    // Enough tries to get past any plausible leftovers; a loop without a bound could spin
    // forever on a directory that refuses every name for a reason other than a clash.
    for _ in 0..1000 {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!(".{name}.tmp-{pid}-{n}"));
        match File::options().write(true).create_new(true).open(&tmp) {
            Ok(f) => return Ok((tmp, f)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!("no free temporary name beside {}", path.display()),
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn replaces_and_creates_missing_directories() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a/b/f.json");
        write_atomic(&p, b"old").unwrap();
        write_atomic(&p, b"new").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"new");
        replace_file(&p, b"newer").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"newer");
        assert_eq!(names(&dir.path().join("a/b")), ["f.json"]);
    }

    #[test]
    fn a_failed_write_leaves_the_old_file_and_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        write_atomic(&p, b"old").unwrap();
        let e = write_atomic_with(&p, |f| {
            f.write_all(b"half")?;
            Err(io::Error::other("serialiser failed"))
        })
        .unwrap_err();
        assert_eq!(e.to_string(), "serialiser failed");
        assert_eq!(std::fs::read(&p).unwrap(), b"old");
        assert_eq!(names(dir.path()), ["f"]);
    }

    #[test]
    fn a_failed_rename_removes_the_temporary() {
        let dir = tempfile::tempdir().unwrap();
        // A non-empty directory where the file should go: the rename must fail.
        let p = dir.path().join("taken");
        std::fs::create_dir_all(p.join("inside")).unwrap();
        assert!(write_atomic(&p, b"x").is_err());
        assert_eq!(names(dir.path()), ["taken"]);
    }

    #[test]
    fn a_leftover_temporary_name_is_skipped_not_reused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        // Squat on the next few names this process would pick.
        let pid = std::process::id();
        let start = {
            let (tmp, _) = create_temp_beside(&p, dir.path()).unwrap();
            std::fs::remove_file(&tmp).unwrap();
            tmp.file_name()
                .unwrap()
                .to_string_lossy()
                .rsplit('-')
                .next()
                .unwrap()
                .parse::<u64>()
                .unwrap()
        };
        for n in start + 1..start + 50 {
            std::fs::write(dir.path().join(format!(".f.tmp-{pid}-{n}")), b"leftover").unwrap();
        }
        write_atomic(&p, b"new").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"new");
    }

    #[test]
    fn new_files_are_written_whole_and_an_existing_name_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        write_new_files(dir.path(), &[("a", b"one"), ("b", b"two")]).unwrap();
        assert_eq!(std::fs::read(dir.path().join("a")).unwrap(), b"one");
        assert_eq!(std::fs::read(dir.path().join("b")).unwrap(), b"two");
        let (path, e) = write_new_files(dir.path(), &[("c", b"3"), ("a", b"again")]).unwrap_err();
        assert_eq!(path, dir.path().join("a"));
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(dir.path().join("a")).unwrap(), b"one");
        let (path, _) = sync_files(&[dir.path().join("a"), dir.path().join("gone")]).unwrap_err();
        assert_eq!(path, dir.path().join("gone"));
        // Replacing is allowed, and creates the directory.
        let sub = dir.path().join("sub");
        replace_files(&sub, &[("a", b"1"), ("b", b"2")]).unwrap();
        replace_files(&sub, &[("a", b"3")]).unwrap();
        assert_eq!(std::fs::read(sub.join("a")).unwrap(), b"3");
        assert_eq!(names(&sub), ["a", "b"]);
        replace_files(&dir.path().join("never"), &[]).unwrap();
        assert!(!dir.path().join("never").exists());
    }

    #[test]
    fn a_bare_file_name_lives_in_the_current_directory() {
        assert_eq!(parent_dir(Path::new("sbom.json")), Path::new("."));
        assert_eq!(parent_dir(Path::new("a/b.json")), Path::new("a"));
    }
}
