//! Storage for a log's static files (tiles, entry bundles, checkpoint) behind a small trait,
//! with an in-memory backend and a local-directory backend.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io::{ErrorKind, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::{Error, Tile, TileCoord, TileReader};

/// Where a log's files live. Paths are relative, `/`-separated, plain components
/// (`checkpoint`, `tile/0/x001/234.p/5`).
///
/// Every write is durable when it returns: a reader never sees a torn file, and after a crash
/// every acknowledged write is present.
pub trait TileStore: Send + Sync {
    /// Reads a file; `None` if it does not exist.
    fn get(&self, path: &str) -> Result<Option<Vec<u8>>, Error>;
    /// Creates or atomically replaces a file.
    fn put(&self, path: &str, data: &[u8]) -> Result<(), Error>;
    /// Creates a file only if it does not exist; returns `false`, leaving the file alone,
    /// if it does. Two writers can never overwrite each other's tiles.
    fn put_if_absent(&self, path: &str, data: &[u8]) -> Result<bool, Error>;
    /// Cleans up what a crashed writer left behind (temporary files). Only the single
    /// writer calls this, after taking its lock; others' writes may be in flight otherwise.
    fn recover(&self) -> Result<(), Error> {
        Ok(())
    }
}

impl<S: TileStore + ?Sized> TileStore for &S {
    fn get(&self, path: &str) -> Result<Option<Vec<u8>>, Error> {
        (**self).get(path)
    }
    fn put(&self, path: &str, data: &[u8]) -> Result<(), Error> {
        (**self).put(path, data)
    }
    fn put_if_absent(&self, path: &str, data: &[u8]) -> Result<bool, Error> {
        (**self).put_if_absent(path, data)
    }
    fn recover(&self) -> Result<(), Error> {
        (**self).recover()
    }
}

impl<S: TileStore + ?Sized> TileStore for Box<S> {
    fn get(&self, path: &str) -> Result<Option<Vec<u8>>, Error> {
        (**self).get(path)
    }
    fn put(&self, path: &str, data: &[u8]) -> Result<(), Error> {
        (**self).put(path, data)
    }
    fn put_if_absent(&self, path: &str, data: &[u8]) -> Result<bool, Error> {
        (**self).put_if_absent(path, data)
    }
    fn recover(&self) -> Result<(), Error> {
        (**self).recover()
    }
}

impl<S: TileStore + ?Sized> TileStore for std::sync::Arc<S> {
    fn get(&self, path: &str) -> Result<Option<Vec<u8>>, Error> {
        (**self).get(path)
    }
    fn put(&self, path: &str, data: &[u8]) -> Result<(), Error> {
        (**self).put(path, data)
    }
    fn put_if_absent(&self, path: &str, data: &[u8]) -> Result<bool, Error> {
        (**self).put_if_absent(path, data)
    }
    fn recover(&self) -> Result<(), Error> {
        (**self).recover()
    }
}

/// Writes an immutable file (a tile or entry bundle): creates it, or accepts an existing file
/// only if it holds the same bytes (tiles never change once written, c2sp.org/tlog-tiles).
pub fn put_immutable(
    store: &(impl TileStore + ?Sized),
    path: &str,
    data: &[u8],
) -> Result<(), Error> {
    if store.put_if_absent(path, data)? {
        return Ok(());
    }
    match store.get(path)? {
        Some(existing) if existing == data => Ok(()),
        _ => Err(Error::ImmutableConflict {
            path: path.to_owned(),
        }),
    }
}

/// Reads and parses one hash tile from a store.
pub fn read_tile(store: &(impl TileStore + ?Sized), coord: &TileCoord) -> Result<Tile, Error> {
    let path = coord.path();
    let data = store.get(&path)?.ok_or(Error::TileMissing { path })?;
    Tile::parse(*coord, &data)
}

/// Adapts a [`TileStore`] to a [`TileReader`].
#[derive(Debug, Clone, Copy)]
pub struct StoreTiles<S>(pub S);

impl<S: TileStore> TileReader for StoreTiles<S> {
    fn read_tile(&self, coord: &TileCoord) -> Result<Tile, Error> {
        read_tile(&self.0, coord)
    }
}

/// Accepts `a/b/c` with components of ASCII letters, digits, `.`, `_` and `-`, not starting
/// with `.` (so `..` and the backends' temporary files can never be named).
pub(crate) fn check_path(path: &str) -> Result<(), Error> {
    let ok = !path.is_empty()
        && path.len() <= 1024
        && path.split('/').all(|c| {
            !c.is_empty()
                && !c.starts_with('.')
                && c.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
        });
    if !ok {
        return Err(Error::BadStorePath {
            path: path.chars().take(200).collect(),
        });
    }
    Ok(())
}

/// A store in memory, for tests and for building a log before publishing it.
#[derive(Debug, Default)]
pub struct MemoryStore {
    files: Mutex<HashMap<String, Vec<u8>>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn files(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<u8>>> {
        // A panic while holding the lock cannot leave a half-inserted map entry.
        self.files.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every path in the store, sorted.
    pub fn paths(&self) -> Vec<String> {
        let mut v: Vec<String> = self.files().keys().cloned().collect();
        v.sort();
        v
    }
}

impl TileStore for MemoryStore {
    fn get(&self, path: &str) -> Result<Option<Vec<u8>>, Error> {
        check_path(path)?;
        Ok(self.files().get(path).cloned())
    }

    fn put(&self, path: &str, data: &[u8]) -> Result<(), Error> {
        check_path(path)?;
        self.files().insert(path.to_owned(), data.to_vec());
        Ok(())
    }

    fn put_if_absent(&self, path: &str, data: &[u8]) -> Result<bool, Error> {
        check_path(path)?;
        let mut files = self.files();
        if files.contains_key(path) {
            return Ok(false);
        }
        files.insert(path.to_owned(), data.to_vec());
        Ok(true)
    }
}

/// A store in a local directory.
///
/// Each write goes to a temporary file in the staging directory (`<root>/.tmp`, or one given to
/// [`DirStore::open_with_staging`]), which is fsynced, then
/// renamed (or, for [`TileStore::put_if_absent`], hard-linked, which fails if the target
/// exists) into place, and the directory is fsynced. New directories are fsynced together
/// with their parents.
#[derive(Debug)]
pub struct DirStore {
    root: PathBuf,
    staging: PathBuf,
    durable_dirs: Mutex<HashSet<PathBuf>>,
    counter: AtomicU64,
}

fn io(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.to_path_buf();
    move |source| Error::Io { op, path, source }
}

fn sync_dir(dir: &Path) -> Result<(), Error> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io("fsync directory", dir))
}

impl DirStore {
    /// A store rooted at `root`, which is created if missing.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, Error> {
        let root = root.into();
        fs::create_dir_all(&root).map_err(io("create directory", &root))?;
        sync_dir(&root)?;
        if let Some(parent) = root.parent().filter(|p| !p.as_os_str().is_empty()) {
            sync_dir(parent)?;
        }
        Ok(DirStore {
            durable_dirs: Mutex::new(HashSet::from([root.clone()])),
            staging: root.join(TEMP_DIR),
            root,
            counter: AtomicU64::new(0),
        })
    }

    /// A store rooted at `root` that stages its writes in `staging` rather than inside the
    /// root, so a directory served to the public (a release site's `log/`) never lists
    /// half-written files. Rename and link are atomic only within one file system, so when
    /// `staging` is on another one than `root`, writes are staged in `<root>/.tmp` after all.
    pub fn open_with_staging(
        root: impl Into<PathBuf>,
        staging: impl Into<PathBuf>,
    ) -> Result<Self, Error> {
        let mut store = Self::open(root)?;
        let staging = staging.into();
        fs::create_dir_all(&staging).map_err(io("create directory", &staging))?;
        if same_file_system(&store.root, &staging)? {
            store.staging = staging;
        }
        Ok(store)
    }

    /// Where writes are staged.
    pub fn staging(&self) -> &Path {
        &self.staging
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn dirs(&self) -> std::sync::MutexGuard<'_, HashSet<PathBuf>> {
        self.durable_dirs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes sure `dir` (inside the root) exists and that its entry in each parent is durable.
    fn ensure_dir(&self, dir: &Path) -> Result<(), Error> {
        if self.dirs().contains(dir) {
            return Ok(());
        }
        fs::create_dir_all(dir).map_err(io("create directory", dir))?;
        // Fsync from the new directory up to the first one known durable.
        let mut d = dir.to_path_buf();
        loop {
            sync_dir(&d)?;
            let known = self.dirs().contains(&d);
            self.dirs().insert(d.clone());
            if known || d == self.root {
                break;
            }
            match d.parent() {
                Some(p) => d = p.to_path_buf(),
                None => break,
            }
        }
        Ok(())
    }

    /// Writes `data` to a fresh fsynced temporary file in `<root>/.tmp`, on the same file
    /// system as its target so that rename and link stay atomic.
    fn write_temp(&self, target: &Path, data: &[u8]) -> Result<PathBuf, Error> {
        let dir = target.parent().unwrap_or(&self.root);
        self.ensure_dir(dir)?;
        let tmp_dir = &self.staging;
        if !self.dirs().contains(tmp_dir) {
            fs::create_dir_all(tmp_dir).map_err(io("create directory", tmp_dir))?;
            sync_dir(tmp_dir)?;
            self.dirs().insert(tmp_dir.clone());
        }
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let tmp = tmp_dir.join(format!("{}-{n}", std::process::id()));
        let mut f = File::create(&tmp).map_err(io("create", &tmp))?;
        f.write_all(data).map_err(io("write", &tmp))?;
        f.sync_all().map_err(io("fsync", &tmp))?;
        Ok(tmp)
    }
}

/// Where [`DirStore`] stages writes by default; no store path can name it (components never
/// start with `.`).
const TEMP_DIR: &str = ".tmp";

/// Whether `a` and `b` are on one file system (so a rename between them is atomic).
#[cfg(unix)]
fn same_file_system(a: &Path, b: &Path) -> Result<bool, Error> {
    use std::os::unix::fs::MetadataExt as _;
    let dev = |p: &Path| fs::metadata(p).map(|m| m.dev()).map_err(io("stat", p));
    Ok(dev(a)? == dev(b)?)
}

/// Whether `a` and `b` are on one file system; without a portable device id, only when they
/// share a parent directory's volume is this known, so staging stays in the root.
#[cfg(not(unix))]
fn same_file_system(_: &Path, _: &Path) -> Result<bool, Error> {
    Ok(false)
}

impl TileStore for DirStore {
    fn get(&self, path: &str) -> Result<Option<Vec<u8>>, Error> {
        check_path(path)?;
        let p = self.root.join(path);
        let mut f = match File::open(&p) {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io("open", &p)(e)),
        };
        let mut out = Vec::new();
        f.read_to_end(&mut out).map_err(io("read", &p))?;
        Ok(Some(out))
    }

    fn put(&self, path: &str, data: &[u8]) -> Result<(), Error> {
        check_path(path)?;
        let target = self.root.join(path);
        let tmp = self.write_temp(&target, data)?;
        fs::rename(&tmp, &target).map_err(io("rename", &target))?;
        sync_dir(target.parent().unwrap_or(&self.root))
    }

    fn put_if_absent(&self, path: &str, data: &[u8]) -> Result<bool, Error> {
        check_path(path)?;
        let target = self.root.join(path);
        let dir = target.parent().unwrap_or(&self.root).to_path_buf();
        let tmp = self.write_temp(&target, data)?;
        // link(2) fails if the target exists, which makes this a conditional create.
        let linked = match fs::hard_link(&tmp, &target) {
            Ok(()) => true,
            Err(e) if e.kind() == ErrorKind::AlreadyExists => false,
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                return Err(io("link", &target)(e));
            }
        };
        fs::remove_file(&tmp).map_err(io("remove", &tmp))?;
        sync_dir(&dir)?;
        Ok(linked)
    }

    fn recover(&self) -> Result<(), Error> {
        let tmp_dir = &self.staging;
        let entries = match fs::read_dir(tmp_dir) {
            Ok(e) => e,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io("read directory", tmp_dir)(e)),
        };
        for e in entries {
            let p = e.map_err(io("read directory", tmp_dir))?.path();
            fs::remove_file(&p).map_err(io("remove", &p))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exercise(store: &dyn TileStore) {
        assert_eq!(store.get("checkpoint").unwrap(), None);
        store.put("checkpoint", b"one").unwrap();
        store.put("checkpoint", b"two").unwrap();
        assert_eq!(
            store.get("checkpoint").unwrap().as_deref(),
            Some(&b"two"[..])
        );
        assert!(store.put_if_absent("tile/0/x001/234.p/5", b"a").unwrap());
        assert!(!store.put_if_absent("tile/0/x001/234.p/5", b"b").unwrap());
        assert_eq!(
            store.get("tile/0/x001/234.p/5").unwrap().as_deref(),
            Some(&b"a"[..])
        );
        put_immutable(store, "tile/0/x001/234.p/5", b"a").unwrap();
        assert!(matches!(
            put_immutable(store, "tile/0/x001/234.p/5", b"b"),
            Err(Error::ImmutableConflict { .. })
        ));
        for bad in [
            "", "/abs", "a//b", "../x", "a/../b", "a/.tmp-1", "a/b c", "a\\b", "tile/é", "a/",
        ] {
            assert!(
                matches!(store.get(bad), Err(Error::BadStorePath { .. })),
                "{bad:?}"
            );
            assert!(
                matches!(store.put(bad, b""), Err(Error::BadStorePath { .. })),
                "{bad:?}"
            );
            assert!(store.put_if_absent(bad, b"").is_err(), "{bad:?}");
        }
        let c = TileCoord::new(0, 0, 2).unwrap();
        assert!(matches!(
            read_tile(store, &c),
            Err(Error::TileMissing { .. })
        ));
        store.put(&c.path(), &[0u8; 63]).unwrap();
        assert!(matches!(read_tile(store, &c), Err(Error::TileSize { .. })));
    }

    #[test]
    fn memory_store_contract() {
        exercise(&MemoryStore::new());
    }

    #[test]
    fn dir_store_contract_and_leaves_no_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        let store = DirStore::open(dir.path().join("log")).unwrap();
        exercise(&store);
        let tmp = store.root().join(TEMP_DIR);
        assert_eq!(fs::read_dir(&tmp).unwrap().count(), 0);
        // A crashed writer's leftovers go on recovery.
        fs::write(tmp.join("123-4"), b"half").unwrap();
        store.recover().unwrap();
        assert_eq!(fs::read_dir(&tmp).unwrap().count(), 0);
        // Only the files written are visible: the checkpoint and the tile directory.
        let mut names: Vec<String> = fs::read_dir(store.root())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, [".tmp", "checkpoint", "tile"]);
    }

    /// Issue 15: a published log directory holds only the log's own files.
    #[test]
    fn dir_store_stages_outside_a_published_root() {
        let dir = tempfile::tempdir().unwrap();
        let staging = dir.path().join("state").join("staging");
        let store = DirStore::open_with_staging(dir.path().join("log"), &staging).unwrap();
        assert_eq!(store.staging(), staging.as_path());
        exercise(&store);
        assert_eq!(fs::read_dir(&staging).unwrap().count(), 0);
        fs::write(staging.join("123-4"), b"half").unwrap();
        store.recover().unwrap();
        assert_eq!(fs::read_dir(&staging).unwrap().count(), 0);
        let mut names: Vec<String> = fs::read_dir(store.root())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["checkpoint", "tile"]);
    }

    #[test]
    fn dir_store_concurrent_creates_have_one_winner() {
        let dir = tempfile::tempdir().unwrap();
        let store = DirStore::open(dir.path()).unwrap();
        let wins: usize = std::thread::scope(|s| {
            let hs: Vec<_> = (0..8u8)
                .map(|i| {
                    let store = &store;
                    s.spawn(move || store.put_if_absent("tile/0/000", &[i]).unwrap() as usize)
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(wins, 1);
    }
}
