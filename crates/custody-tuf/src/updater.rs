//! The client updater: drives [`TrustedMetadata`] over a [`Fetcher`] and a [`Store`].
//!
//! I/O sits behind two small traits so the workflow runs the same against HTTP, a directory
//! or memory. Metadata is stored byte-for-byte as fetched, under unversioned names, with
//! delegated role names percent-encoded so no role name can climb out of the directory.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::error::{Error, Result, io};
use crate::metadata::{TargetFile, Targets};
use crate::trusted::{TimestampUpdate, TrustedMetadata};

/// Everything except RFC 3986 unreserved characters, as Python's `quote(s, "")` encodes.
const ROLE_NAME: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Like [`ROLE_NAME`] but keeping `/`, for target paths inside URLs.
const TARGET_PATH: &AsciiSet = &ROLE_NAME.remove(b'/');

/// Percent-encode a role name or target path for use as one file name.
pub fn encode_name(name: &str) -> String {
    utf8_percent_encode(name, ROLE_NAME).to_string()
}

/// Fetches bytes by URL. `Ok(None)` means the server has no such file (404); more than
/// `max_length` bytes must be refused while reading, not after.
pub trait Fetcher {
    /// Fetch `url`.
    fn fetch(&self, url: &str, max_length: u64) -> Result<Option<Vec<u8>>>;
}

/// Where the client keeps the metadata it trusts.
pub trait Store {
    /// The stored file `name`, if any.
    fn load(&self, name: &str) -> Result<Option<Vec<u8>>>;
    /// Replace `name` with `bytes`, atomically.
    fn save(&self, name: &str, bytes: &[u8]) -> Result<()>;
}

/// A borrowed fetcher fetches the same way, so a caller can keep one across sessions.
impl<F: Fetcher + ?Sized> Fetcher for &F {
    fn fetch(&self, url: &str, max_length: u64) -> Result<Option<Vec<u8>>> {
        (**self).fetch(url, max_length)
    }
}

/// A borrowed store, so the same metadata can back several updaters in turn (one per run).
impl<S: Store + ?Sized> Store for &S {
    fn load(&self, name: &str) -> Result<Option<Vec<u8>>> {
        (**self).load(name)
    }

    fn save(&self, name: &str, bytes: &[u8]) -> Result<()> {
        (**self).save(name, bytes)
    }
}

/// Byte limits and search bounds, with python-tuf's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Largest root file.
    pub root_max_length: u64,
    /// Largest timestamp file.
    pub timestamp_max_length: u64,
    /// Largest snapshot file when the timestamp pins no length.
    pub snapshot_max_length: u64,
    /// Largest targets file when the snapshot pins no length.
    pub targets_max_length: u64,
    /// Most root versions walked in one refresh.
    pub max_root_rotations: u64,
    /// Most targets roles visited looking for one target.
    pub max_delegations: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            root_max_length: 512_000,
            timestamp_max_length: 16_384,
            snapshot_max_length: 2_000_000,
            targets_max_length: 5_000_000,
            max_root_rotations: 256,
            max_delegations: 32,
        }
    }
}

/// A TUF client session against one repository.
#[derive(Debug)]
pub struct Updater<F, S> {
    fetcher: F,
    store: S,
    metadata_url: String,
    config: Config,
    trusted: TrustedMetadata,
    refreshed: bool,
}

impl<F: Fetcher, S: Store> Updater<F, S> {
    /// Start from the `root.json` already in `store`.
    pub fn new(
        fetcher: F,
        store: S,
        metadata_url: &str,
        config: Config,
        now: jiff::Timestamp,
    ) -> Result<Self> {
        let root = store.load("root.json")?.ok_or(Error::NoTrustedRoot)?;
        let trusted = TrustedMetadata::new(&root, now)?;
        Ok(Self {
            fetcher,
            store,
            metadata_url: metadata_url.trim_end_matches('/').to_string(),
            config,
            trusted,
            refreshed: false,
        })
    }

    /// What is trusted so far.
    pub fn trusted(&self) -> &TrustedMetadata {
        &self.trusted
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The full §5 refresh: root chain, timestamp, snapshot, top-level targets.
    pub fn refresh(&mut self) -> Result<()> {
        self.load_root()?;
        self.load_timestamp()?;
        self.load_snapshot()?;
        self.load_targets("targets", "root")?;
        self.refreshed = true;
        Ok(())
    }

    fn fetch_metadata(&self, name: &str, max: u64) -> Result<Option<Vec<u8>>> {
        let url = format!("{}/{}", self.metadata_url, name);
        self.fetcher.fetch(&url, max)
    }

    fn load_root(&mut self) -> Result<()> {
        let first = self.trusted.root().signed.version + 1;
        for version in first..first.saturating_add(self.config.max_root_rotations) {
            let file = format!("{version}.root.json");
            let Some(bytes) = self.fetch_metadata(&file, self.config.root_max_length)? else {
                break;
            };
            self.trusted.update_root(&file, &bytes)?;
            self.store.save("root.json", &bytes)?;
        }
        self.trusted.check_root()
    }

    fn load_timestamp(&mut self) -> Result<()> {
        if let Some(local) = self.store.load("timestamp.json")? {
            // A stored timestamp that no longer verifies (keys rotated) is simply dropped:
            // that is the spec's fast-forward recovery. One that verifies but has expired still
            // becomes the rollback floor.
            let _ = self.trusted.update_timestamp(&local);
        }
        let bytes = self
            .fetch_metadata("timestamp.json", self.config.timestamp_max_length)?
            .ok_or_else(|| Error::NotFound {
                what: "timestamp.json".into(),
            })?;
        if self.trusted.update_timestamp(&bytes)? == TimestampUpdate::Updated {
            self.store.save("timestamp.json", &bytes)?;
        }
        Ok(())
    }

    fn load_snapshot(&mut self) -> Result<()> {
        if let Some(local) = self.store.load("snapshot.json")?
            && self.trusted.update_snapshot(&local, true).is_ok()
        {
            return Ok(());
        }
        let pinned = self
            .trusted
            .timestamp()
            .map(|t| t.signed.snapshot_meta().clone())
            .ok_or(Error::Order("timestamp is not loaded"))?;
        let file = if self.trusted.root().signed.consistent_snapshot {
            format!("{}.snapshot.json", pinned.version)
        } else {
            "snapshot.json".to_string()
        };
        let max = pinned.length.unwrap_or(self.config.snapshot_max_length);
        let bytes = self
            .fetch_metadata(&file, max)?
            .ok_or(Error::NotFound { what: file })?;
        self.trusted.update_snapshot(&bytes, false)?;
        self.store.save("snapshot.json", &bytes)
    }

    fn load_targets(&mut self, role: &str, delegator: &str) -> Result<Targets> {
        if self.trusted.targets(role).is_some() {
            return Ok(self
                .trusted
                .reverify_delegated_targets(role, delegator)?
                .signed
                .clone());
        }
        let local_name = format!("{}.json", encode_name(role));
        if let Some(local) = self.store.load(&local_name)?
            && let Ok(t) = self
                .trusted
                .update_delegated_targets(&local, role, delegator)
        {
            return Ok(t.signed.clone());
        }
        let meta_name = format!("{role}.json");
        let pinned = self
            .trusted
            .snapshot()
            .and_then(|s| s.signed.meta.get(&meta_name))
            .cloned()
            .ok_or(Error::NotInSnapshot { file: meta_name })?;
        let file = if self.trusted.root().signed.consistent_snapshot {
            format!("{}.{}.json", pinned.version, encode_name(role))
        } else {
            local_name.clone()
        };
        let max = pinned.length.unwrap_or(self.config.targets_max_length);
        let bytes = self
            .fetch_metadata(&file, max)?
            .ok_or(Error::NotFound { what: file })?;
        let t = self
            .trusted
            .update_delegated_targets(&bytes, role, delegator)?
            .signed
            .clone();
        self.store.save(&local_name, &bytes)?;
        Ok(t)
    }

    /// Every target a role delegated by top-level `targets` lists, with its hash bins
    /// targets when it delegates by succinct roles: how a client lists a product's releases.
    pub fn list_role(&mut self, role: &str) -> Result<BTreeMap<String, TargetFile>> {
        if !self.refreshed {
            self.refresh()?;
        }
        let top = self.load_targets("targets", "root")?;
        if top
            .delegations
            .as_ref()
            .and_then(|d| d.role(role))
            .is_none()
        {
            return Err(Error::DelegationNotFound {
                role: role.to_string(),
                delegator: "targets".into(),
            });
        }
        let product = self.load_targets(role, "targets")?;
        let mut all = product.targets.clone();
        if let Some(bins) = product
            .delegations
            .as_ref()
            .and_then(|d| d.succinct_roles.clone())
        {
            for n in 0..bins.bins() {
                all.extend(self.load_targets(&bins.bin_name(n), role)?.targets);
            }
        }
        Ok(all)
    }

    /// §5.6.7: find `target` by a pre-order depth-first search of the delegation graph,
    /// loading roles only as the search reaches them.
    pub fn target_info(&mut self, target: &str) -> Result<TargetFile> {
        if !self.refreshed {
            self.refresh()?;
        }
        let mut visited = BTreeSet::new();
        let mut stack = vec![("targets".to_string(), "root".to_string())];
        while let Some((role, delegator)) = stack.pop() {
            // python-tuf's bound, kept identical so both clients visit the same roles.
            if visited.len() > self.config.max_delegations {
                break;
            }
            if visited.contains(&role) {
                continue;
            }
            let targets = self.load_targets(&role, &delegator)?;
            if let Some(file) = targets.targets.get(target) {
                return Ok(file.clone());
            }
            visited.insert(role.clone());
            if let Some(delegations) = &targets.delegations {
                let mut children = Vec::new();
                for (child, terminating) in delegations.roles_for_target(target) {
                    children.push((child, role.clone()));
                    if terminating {
                        stack.clear();
                        break;
                    }
                }
                stack.extend(children.into_iter().rev());
            }
        }
        Err(Error::UnknownTarget {
            target: target.to_string(),
        })
    }

    /// The URL path of `target` under the targets base URL: hash-prefixed when the
    /// repository uses consistent snapshots.
    pub fn target_url(&self, target_base_url: &str, target: &str, info: &TargetFile) -> String {
        let path = if self.trusted.root().signed.consistent_snapshot
            && let Some(hash) = info
                .hashes
                .get("sha256")
                .or_else(|| info.hashes.values().next())
        {
            match target.rsplit_once('/') {
                Some((dir, base)) => format!("{dir}/{hash}.{base}"),
                None => format!("{hash}.{target}"),
            }
        } else {
            target.to_string()
        };
        let encoded = utf8_percent_encode(&path, TARGET_PATH);
        format!("{}/{}", target_base_url.trim_end_matches('/'), encoded)
    }

    /// Download `target` and check it against `info`.
    pub fn download_target(
        &self,
        target_base_url: &str,
        target: &str,
        info: &TargetFile,
    ) -> Result<Vec<u8>> {
        let url = self.target_url(target_base_url, target, info);
        let bytes = self
            .fetcher
            .fetch(&url, info.length)?
            .ok_or_else(|| Error::NotFound {
                what: target.to_string(),
            })?;
        info.verify(target, &bytes)?;
        Ok(bytes)
    }
}

/// Where a target is kept in a download directory: one file per target path.
pub fn cached_target_path(target_dir: &Path, target: &str) -> PathBuf {
    target_dir.join(encode_name(target))
}

/// The cached copy of `target`, if present and still matching `info`.
pub fn cached_target(target_dir: &Path, target: &str, info: &TargetFile) -> Option<Vec<u8>> {
    let bytes = std::fs::read(cached_target_path(target_dir, target)).ok()?;
    info.verify(target, &bytes).ok().map(|()| bytes)
}

/// Metadata kept in a directory, one file per role.
#[derive(Debug, Clone)]
pub struct DirStore {
    dir: PathBuf,
}

impl DirStore {
    /// Use `dir`, creating it when first written.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Store for DirStore {
    fn load(&self, name: &str) -> Result<Option<Vec<u8>>> {
        let path = self.dir.join(name);
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&path)(e)),
        }
    }

    fn save(&self, name: &str, bytes: &[u8]) -> Result<()> {
        // The root is the trust anchor and must survive a crash. Every other file is verified
        // against it when loaded, so losing one costs a download, or at worst lowers the
        // rollback floor by one version, as python-tuf accepts.
        if name == "root.json" {
            write_atomic(&self.dir.join(name), bytes)
        } else {
            write_replace(&self.dir.join(name), bytes)
        }
    }
}

/// Write through a temporary file in the same directory, fsync it, rename, fsync the
/// directory, so a crash leaves the old file or the new one, never half of either, and the new
/// one survives ([`custody_crypto::fs::write_atomic`]).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    custody_crypto::fs::write_atomic(path, bytes).map_err(io(path))
}

/// [`write_atomic`] without the fsyncs, for files checked against signed metadata on every
/// read: a crash can only cost a download, and a refresh stays fast (an fsync per file was
/// most of a cold refresh here).
pub fn write_replace(path: &Path, bytes: &[u8]) -> Result<()> {
    custody_crypto::fs::replace_file(path, bytes).map_err(io(path))
}

/// Metadata kept in memory, for tests and one-shot checks.
#[derive(Debug, Default)]
pub struct MemoryStore {
    files: std::sync::Mutex<BTreeMap<String, Vec<u8>>>,
}

impl Store for MemoryStore {
    fn load(&self, name: &str) -> Result<Option<Vec<u8>>> {
        Ok(self
            .files
            .lock()
            .map_err(|_| Error::Order("store lock poisoned"))?
            .get(name)
            .cloned())
    }

    fn save(&self, name: &str, bytes: &[u8]) -> Result<()> {
        self.files
            .lock()
            .map_err(|_| Error::Order("store lock poisoned"))?
            .insert(name.to_string(), bytes.to_vec());
        Ok(())
    }
}

/// Reads a repository from a local directory, as a static host would serve it; `file://`
/// URLs and plain paths both work.
#[derive(Debug, Clone, Copy, Default)]
pub struct FileFetcher;

impl Fetcher for FileFetcher {
    fn fetch(&self, url: &str, max_length: u64) -> Result<Option<Vec<u8>>> {
        use std::io::Read as _;
        let raw = url.strip_prefix("file://").unwrap_or(url);
        let decoded = percent_encoding::percent_decode_str(raw).decode_utf8_lossy();
        let path = Path::new(decoded.as_ref());
        let file = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(path)(e)),
        };
        let mut bytes = Vec::new();
        file.take(max_length.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(io(path))?;
        if bytes.len() as u64 > max_length {
            return Err(Error::TooLarge {
                what: url.to_string(),
                limit: max_length,
            });
        }
        Ok(Some(bytes))
    }
}

/// An in-memory repository for tests: it signs metadata with fresh keys and serves it, at
/// the URLs the updater asks for, through a [`Fetcher`] that records every request.
#[cfg(test)]
pub(crate) mod sim {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};

    use custody_crypto::{KeyAlgorithm, Signer, SigningKey};

    use super::{Fetcher, MemoryStore, Store as _};
    use crate::error::{Error, Result};
    use crate::key::Key;
    use crate::metadata::{
        MetaFile, Metadata, Root, Signed, Snapshot, TOP_LEVEL_ROLES, TargetFile, Targets, Timestamp,
    };

    pub const METADATA_URL: &str = "mem://repo/metadata";
    pub const TARGETS_URL: &str = "mem://repo/targets";

    /// The clock every test runs at.
    pub fn now() -> jiff::Timestamp {
        "2030-01-01T00:00:00Z".parse().unwrap()
    }

    /// `days` from [`now`] (negative for the past).
    pub fn in_days(days: i64) -> jiff::Timestamp {
        now()
            .checked_add(jiff::SignedDuration::from_hours(24 * days))
            .unwrap()
    }

    pub fn new_key() -> SigningKey {
        SigningKey::generate(KeyAlgorithm::Ed25519).unwrap()
    }

    pub fn keyid(key: &SigningKey) -> String {
        Key::from_public_key(key.public_key())
            .unwrap()
            .compute_keyid()
    }

    /// Serves whatever the test put there; refuses past the limit as a real fetcher would.
    #[derive(Debug, Default, Clone)]
    pub struct MemoryFetcher {
        pub files: Arc<Mutex<BTreeMap<String, Vec<u8>>>>,
        pub requests: Arc<Mutex<Vec<String>>>,
    }

    impl Fetcher for MemoryFetcher {
        fn fetch(&self, url: &str, max_length: u64) -> Result<Option<Vec<u8>>> {
            self.requests.lock().unwrap().push(url.to_string());
            let Some(bytes) = self.files.lock().unwrap().get(url).cloned() else {
                return Ok(None);
            };
            if bytes.len() as u64 > max_length {
                return Err(Error::TooLarge {
                    what: url.to_string(),
                    limit: max_length,
                });
            }
            Ok(Some(bytes))
        }
    }

    impl MemoryFetcher {
        /// Requests made so far, as paths under `mem://repo/`.
        pub fn requests(&self) -> Vec<String> {
            self.requests
                .lock()
                .unwrap()
                .iter()
                .map(|u| u.trim_start_matches("mem://repo/").to_string())
                .collect()
        }
    }

    /// A repository without consistent snapshots: metadata is served as `<role>.json`, root as
    /// `<version>.root.json`, targets under their plain paths.
    #[derive(Debug)]
    pub struct Repo {
        pub fetcher: MemoryFetcher,
        /// Keys that sign each role's next publication.
        pub signers: BTreeMap<String, Vec<SigningKey>>,
        pub root: Root,
        pub timestamp: Timestamp,
        pub snapshot: Snapshot,
        pub targets: Targets,
        pub delegated: BTreeMap<String, Targets>,
    }

    impl Repo {
        /// Version 1 of every top-level role, one key each, all published.
        pub fn new() -> Self {
            let mut root = Root::new(in_days(365), false);
            let mut signers = BTreeMap::new();
            for role in TOP_LEVEL_ROLES {
                let key = new_key();
                trust_key(&mut root, role, &key);
                signers.insert(role.to_string(), vec![key]);
            }
            let mut repo = Self {
                fetcher: MemoryFetcher::default(),
                signers,
                root,
                timestamp: Timestamp::new(1, in_days(1), pinned(1)),
                snapshot: Snapshot::new(1, in_days(7), BTreeMap::new()),
                targets: Targets::new(1, in_days(90)),
                delegated: BTreeMap::new(),
            };
            repo.publish_root();
            repo.publish_targets();
            repo.publish_snapshot();
            repo.publish_timestamp();
            repo
        }

        /// Sign with exactly `keys`.
        pub fn sign_with<T: Signed + Clone>(keys: &[&SigningKey], signed: &T) -> Vec<u8> {
            let ids: Vec<String> = keys.iter().map(|k| keyid(k)).collect();
            let signers: Vec<(&str, &dyn Signer)> = ids
                .iter()
                .zip(keys)
                .map(|(id, k)| (id.as_str(), *k as &dyn Signer))
                .collect();
            Metadata::sign(signed.clone(), &signers)
                .unwrap()
                .bytes()
                .to_vec()
        }

        /// Sign with the role's current keys.
        pub fn sign<T: Signed + Clone>(&self, role: &str, signed: &T) -> Vec<u8> {
            let keys: Vec<&SigningKey> = self.signers[role].iter().collect();
            Self::sign_with(&keys, signed)
        }

        pub fn put(&self, path: &str, bytes: Vec<u8>) {
            self.fetcher
                .files
                .lock()
                .unwrap()
                .insert(format!("mem://repo/{path}"), bytes);
        }

        pub fn publish_root(&mut self) {
            let bytes = self.sign("root", &self.root);
            self.put(&format!("metadata/{}.root.json", self.root.version), bytes);
        }

        /// Publish `targets` (or a delegated role) and pin it in the next snapshot.
        pub fn publish_targets(&mut self) {
            let bytes = self.sign("targets", &self.targets);
            self.put("metadata/targets.json", bytes);
            self.snapshot
                .meta
                .insert("targets.json".into(), pinned(self.targets.version));
        }

        pub fn publish_delegated(&mut self, role: &str) {
            let bytes = self.sign(role, &self.delegated[role]);
            self.put(&format!("metadata/{role}.json"), bytes);
            let version = self.delegated[role].version;
            self.snapshot
                .meta
                .insert(format!("{role}.json"), pinned(version));
        }

        pub fn publish_snapshot(&mut self) {
            let bytes = self.sign("snapshot", &self.snapshot);
            self.put("metadata/snapshot.json", bytes);
            self.timestamp
                .meta
                .insert("snapshot.json".into(), pinned(self.snapshot.version));
        }

        pub fn publish_timestamp(&mut self) {
            let bytes = self.sign("timestamp", &self.timestamp);
            self.put("metadata/timestamp.json", bytes);
        }

        /// A routine release: targets, snapshot and timestamp each one version up.
        pub fn release(&mut self) {
            self.targets.version += 1;
            self.publish_targets();
            self.snapshot.version += 1;
            self.publish_snapshot();
            self.timestamp.version += 1;
            self.publish_timestamp();
        }

        /// Add a target file to `targets` and serve its bytes.
        pub fn add_target(&mut self, path: &str, bytes: &[u8]) -> TargetFile {
            let file = TargetFile::from_bytes(bytes, None);
            self.targets.targets.insert(path.into(), file.clone());
            self.put(&format!("targets/{path}"), bytes.to_vec());
            file
        }

        /// A client store holding version 1 of root, as `init` leaves it.
        pub fn client_store(&self) -> MemoryStore {
            let store = MemoryStore::default();
            let root =
                self.fetcher.files.lock().unwrap()["mem://repo/metadata/1.root.json"].clone();
            store.save("root.json", &root).unwrap();
            store
        }
    }

    pub fn pinned(version: u64) -> MetaFile {
        MetaFile {
            version,
            length: None,
            hashes: None,
        }
    }

    /// List `key` in `root` and give it to `role`.
    pub fn trust_key(root: &mut Root, role: &str, key: &SigningKey) {
        let id = keyid(key);
        root.keys
            .insert(id.clone(), Key::from_public_key(key.public_key()).unwrap());
        root.roles.get_mut(role).unwrap().keyids.push(id);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use custody_crypto::Signer as _;

    use super::sim::{self, Repo, in_days, new_key, now, trust_key};
    use super::*;
    use crate::key::Key;
    use crate::metadata::{
        DelegatedRole, Delegations, MetaFile, Metadata, Root, Signed, Snapshot, Timestamp,
    };

    fn updater<'a>(
        repo: &'a Repo,
        store: &'a MemoryStore,
        at: jiff::Timestamp,
    ) -> Updater<&'a sim::MemoryFetcher, &'a MemoryStore> {
        Updater::new(
            &repo.fetcher,
            store,
            sim::METADATA_URL,
            Config::default(),
            at,
        )
        .unwrap()
    }

    fn stored_version<T: Signed>(store: &MemoryStore, name: &str) -> u64 {
        let bytes = store.load(name).unwrap().unwrap();
        Metadata::<T>::from_bytes(name, &bytes)
            .unwrap()
            .signed
            .version()
    }

    /// The repository as first published, and a client that has refreshed against it.
    fn refreshed() -> (Repo, MemoryStore) {
        let repo = Repo::new();
        let store = repo.client_store();
        updater(&repo, &store, now()).refresh().unwrap();
        (repo, store)
    }

    #[test]
    fn refresh_fetches_each_top_level_role_once_and_stores_it() {
        let (repo, store) = refreshed();
        assert_eq!(
            repo.fetcher.requests(),
            [
                "metadata/2.root.json",
                "metadata/timestamp.json",
                "metadata/snapshot.json",
                "metadata/targets.json"
            ]
        );
        for name in ["timestamp.json", "snapshot.json", "targets.json"] {
            assert!(store.load(name).unwrap().is_some(), "{name} not stored");
        }
    }

    #[test]
    fn timestamp_rollback_is_refused() {
        let (mut repo, store) = refreshed();
        repo.timestamp.version = 2;
        repo.publish_timestamp();
        updater(&repo, &store, now()).refresh().unwrap();

        repo.timestamp.version = 1;
        repo.publish_timestamp();
        let err = updater(&repo, &store, now()).refresh().unwrap_err();
        assert!(
            matches!(&err, Error::Rollback { role, trusted: 2, offered: 1 } if role == "timestamp"),
            "{err}"
        );
        assert_eq!(stored_version::<Timestamp>(&store, "timestamp.json"), 2);
    }

    #[test]
    fn snapshot_rollback_is_refused() {
        let (mut repo, store) = refreshed();
        repo.release();
        updater(&repo, &store, now()).refresh().unwrap();

        // A newer timestamp that points back at the older snapshot.
        repo.snapshot.version = 1;
        repo.publish_snapshot();
        repo.timestamp.version += 1;
        repo.publish_timestamp();
        let err = updater(&repo, &store, now()).refresh().unwrap_err();
        assert!(
            matches!(
                &err,
                Error::Rollback {
                    trusted: 2,
                    offered: 1,
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(stored_version::<Snapshot>(&store, "snapshot.json"), 2);
    }

    #[test]
    fn targets_rollback_is_refused() {
        let (mut repo, store) = refreshed();
        repo.release();
        updater(&repo, &store, now()).refresh().unwrap();

        // Snapshot and timestamp move on, but pin the old targets: the stored snapshot is the
        // floor the new one is held to.
        repo.targets.version = 1;
        repo.publish_targets();
        repo.snapshot.version += 1;
        repo.publish_snapshot();
        repo.timestamp.version += 1;
        repo.publish_timestamp();
        let err = updater(&repo, &store, now()).refresh().unwrap_err();
        assert!(
            matches!(&err, Error::Rollback { role, trusted: 2, offered: 1 } if role == "targets.json"),
            "{err}"
        );
        assert_eq!(stored_version::<Snapshot>(&store, "snapshot.json"), 2);
        assert_eq!(stored_version::<Targets>(&store, "targets.json"), 2);
    }

    #[test]
    fn expired_metadata_is_a_freeze_attack() {
        // The simulator's expiries: timestamp 1 day, snapshot 7, targets 90, root 365.
        for (role, at, expiry) in [
            ("root", in_days(400), in_days(365)),
            ("timestamp", in_days(2), in_days(1)),
            ("snapshot", in_days(8), in_days(7)),
            ("targets", in_days(91), in_days(90)),
        ] {
            let mut repo = Repo::new();
            // Everything else outlives `at`, so `role` is the one refused.
            if role != "timestamp" {
                repo.timestamp.expires = in_days(500);
            }
            if role != "snapshot" {
                repo.snapshot.expires = in_days(500);
            }
            if role != "targets" {
                repo.targets.expires = in_days(500);
            }
            repo.release();
            let store = repo.client_store();
            let err = updater(&repo, &store, at).refresh().unwrap_err();
            assert!(
                matches!(&err, Error::Expired { role: r, expires } if r == role && *expires == expiry),
                "{role}: {err}"
            );
            if role != "root" {
                assert!(store.load(&format!("{role}.json")).unwrap().is_none());
            }
        }
    }

    #[test]
    fn target_with_wrong_hash_or_length_is_refused() {
        let mut repo = Repo::new();
        let info = repo.add_target("app.tar.gz", b"the real artifact");
        repo.release();
        let store = repo.client_store();
        let mut client = updater(&repo, &store, now());
        assert_eq!(client.target_info("app.tar.gz").unwrap(), info);

        // Same length, different bytes.
        repo.put("targets/app.tar.gz", b"the evil artifact".to_vec());
        let err = client
            .download_target(sim::TARGETS_URL, "app.tar.gz", &info)
            .unwrap_err();
        let evil = TargetFile::from_bytes(b"the evil artifact", None);
        assert!(
            matches!(&err, Error::HashMismatch { what, algorithm, expected, actual }
                if what == "app.tar.gz"
                    && *expected == info.hashes[algorithm]
                    && *actual == evil.hashes[algorithm]),
            "{err}"
        );

        // Shorter.
        repo.put("targets/app.tar.gz", b"the real".to_vec());
        let err = client
            .download_target(sim::TARGETS_URL, "app.tar.gz", &info)
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::LengthMismatch {
                    expected: 17,
                    actual: 8,
                    ..
                }
            ),
            "{err}"
        );

        repo.put("targets/app.tar.gz", b"the real artifact".to_vec());
        let bytes = client
            .download_target(sim::TARGETS_URL, "app.tar.gz", &info)
            .unwrap();
        assert_eq!(bytes, b"the real artifact");
    }

    #[test]
    fn endless_data_is_refused_at_the_pinned_or_default_limit() {
        // A target is never read past the length its metadata pins.
        let mut repo = Repo::new();
        let info = repo.add_target("app.tar.gz", b"0123456789");
        repo.release();
        repo.put("targets/app.tar.gz", vec![b'x'; 1 << 20]);
        let store = repo.client_store();
        let mut client = updater(&repo, &store, now());
        client.refresh().unwrap();
        let err = client
            .download_target(sim::TARGETS_URL, "app.tar.gz", &info)
            .unwrap_err();
        assert!(matches!(err, Error::TooLarge { limit: 10, .. }), "{err}");

        // Timestamp pins nothing, so the configured maximum bounds it.
        let repo = Repo::new();
        let mut padded = repo.sign("timestamp", &repo.timestamp);
        padded.resize(Config::default().timestamp_max_length as usize + 1, b' ');
        repo.put("metadata/timestamp.json", padded);
        let store = repo.client_store();
        let err = updater(&repo, &store, now()).refresh().unwrap_err();
        assert!(
            matches!(err, Error::TooLarge { limit, .. } if limit == Config::default().timestamp_max_length),
            "{err}"
        );

        // A snapshot longer than the length timestamp pins.
        let mut repo = Repo::new();
        let real = repo.sign("snapshot", &repo.snapshot);
        repo.timestamp
            .meta
            .insert("snapshot.json".into(), MetaFile::pinning(1, &real));
        repo.publish_timestamp();
        let mut padded = real.clone();
        padded.extend_from_slice(&[b' '; 4096]);
        repo.put("metadata/snapshot.json", padded);
        let store = repo.client_store();
        let err = updater(&repo, &store, now()).refresh().unwrap_err();
        assert!(
            matches!(err, Error::TooLarge { limit, .. } if limit == real.len() as u64),
            "{err}"
        );
    }

    #[test]
    fn root_below_threshold_is_refused() {
        // Root v2 raises its own threshold to two keys but carries one signature.
        let mut repo = Repo::new();
        let second = new_key();
        trust_key(&mut repo.root, "root", &second);
        repo.root.roles.get_mut("root").unwrap().threshold = 2;
        repo.root.version = 2;
        repo.publish_root();
        let store = repo.client_store();
        let err = updater(&repo, &store, now()).refresh().unwrap_err();
        assert!(
            matches!(&err, Error::Threshold { role, valid: 1, threshold: 2 } if role == "root"),
            "{err}"
        );
        assert_eq!(stored_version::<Root>(&store, "root.json"), 1);

        // Root v2 signed only by a new key: the trusted root's threshold is not met.
        let mut repo = Repo::new();
        let new = new_key();
        repo.root.roles.get_mut("root").unwrap().keyids.clear();
        trust_key(&mut repo.root, "root", &new);
        repo.root.version = 2;
        let bytes = Repo::sign_with(&[&new], &repo.root);
        repo.put("metadata/2.root.json", bytes);
        let store = repo.client_store();
        let err = updater(&repo, &store, now()).refresh().unwrap_err();
        assert!(
            matches!(&err, Error::Threshold { role, valid: 0, threshold: 1 } if role == "root"),
            "{err}"
        );
    }

    #[test]
    fn root_must_carry_the_next_version() {
        let mut repo = Repo::new();
        repo.root.version = 3;
        let bytes = repo.sign("root", &repo.root);
        repo.put("metadata/2.root.json", bytes);
        let store = repo.client_store();
        let err = updater(&repo, &store, now()).refresh().unwrap_err();
        assert!(
            matches!(
                err,
                Error::RootVersion {
                    expected: 2,
                    found: 3,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn mix_and_match_snapshot_is_refused() {
        let (mut repo, store) = refreshed();
        // The timestamp pins snapshot v2; the mirror serves a validly signed v3.
        repo.snapshot.version = 2;
        repo.publish_snapshot();
        repo.timestamp.version = 2;
        repo.publish_timestamp();
        repo.snapshot.version = 3;
        let v3 = repo.sign("snapshot", &repo.snapshot);
        repo.put("metadata/snapshot.json", v3);
        let err = updater(&repo, &store, now()).refresh().unwrap_err();
        assert!(
            matches!(&err, Error::MixAndMatch { role, expected: 2, found: 3, .. } if role == "snapshot"),
            "{err}"
        );
        assert_eq!(stored_version::<Snapshot>(&store, "snapshot.json"), 1);
    }

    #[test]
    fn old_timestamp_key_is_powerless_after_rotation() {
        let (mut repo, store) = refreshed();
        let old = repo.signers.remove("timestamp").unwrap().remove(0);
        let new = new_key();
        repo.root.roles.get_mut("timestamp").unwrap().keyids.clear();
        trust_key(&mut repo.root, "timestamp", &new);
        repo.root.version = 2;
        repo.publish_root();
        repo.signers.insert("timestamp".into(), vec![new]);
        repo.timestamp.version = 2;
        repo.publish_timestamp();
        updater(&repo, &store, now()).refresh().unwrap();

        // Whoever kept the old key signs a "newer" timestamp with it.
        repo.timestamp.version = 3;
        let forged = Repo::sign_with(&[&old], &repo.timestamp);
        repo.put("metadata/timestamp.json", forged);
        let err = updater(&repo, &store, now()).refresh().unwrap_err();
        assert!(
            matches!(&err, Error::Threshold { role, valid: 0, .. } if role == "timestamp"),
            "{err}"
        );
        assert_eq!(stored_version::<Timestamp>(&store, "timestamp.json"), 2);
    }

    /// python-tuf xfails this conformance case: a role delegated by two parents with different
    /// keys must be checked against the parent on the current search path, not trusted
    /// because it verified through the other one earlier in the same session.
    #[test]
    fn cached_role_is_verified_against_current_delegator() {
        let mut repo = Repo::new();
        let (a_key, b_key, release_key) = (new_key(), new_key(), new_key());
        let delegate = |name: &str, key: &custody_crypto::SigningKey, path: &str| {
            let id = sim::keyid(key);
            Delegations {
                keys: BTreeMap::from([(
                    id.clone(),
                    Key::from_public_key(key.public_key()).unwrap(),
                )]),
                roles: Some(vec![DelegatedRole {
                    name: name.into(),
                    keyids: vec![id],
                    threshold: 1,
                    terminating: false,
                    paths: Some(vec![path.into()]),
                    path_hash_prefixes: None,
                }]),
                succinct_roles: None,
            }
        };
        let mut top = delegate("parent-a", &a_key, "team-a/*");
        let b = delegate("parent-b", &b_key, "team-b/*");
        top.keys.extend(b.keys);
        top.roles.as_mut().unwrap().extend(b.roles.unwrap());
        repo.targets.delegations = Some(top);
        let mut parent_a = Targets::new(1, in_days(90));
        parent_a.delegations = Some(delegate("release", &release_key, "team-a/*"));
        // parent-b names a key that never signed release.
        let mut parent_b = Targets::new(1, in_days(90));
        parent_b.delegations = Some(delegate("release", &new_key(), "team-b/*"));
        let mut release = Targets::new(1, in_days(90));
        for (path, bytes) in [
            ("team-a/x", b"trusted A".as_slice()),
            ("team-b/x", b"evil B"),
        ] {
            release
                .targets
                .insert(path.into(), TargetFile::from_bytes(bytes, None));
        }
        repo.signers.insert("parent-a".into(), vec![a_key]);
        repo.signers.insert("parent-b".into(), vec![b_key]);
        repo.signers.insert("release".into(), vec![release_key]);
        repo.delegated.insert("parent-a".into(), parent_a);
        repo.delegated.insert("parent-b".into(), parent_b);
        repo.delegated.insert("release".into(), release);
        for role in ["parent-a", "parent-b", "release"] {
            repo.publish_delegated(role);
        }
        repo.release();

        let store = repo.client_store();
        let mut client = updater(&repo, &store, now());
        assert!(client.target_info("team-a/x").is_ok());
        let err = client.target_info("team-b/x").unwrap_err();
        assert!(
            matches!(&err, Error::Threshold { role, valid: 0, .. } if role == "release"),
            "{err}"
        );
    }

    #[test]
    fn successive_runs_share_one_store() {
        // The blanket impls let one store back successive updaters, as successive runs do.
        let (repo, store) = refreshed();
        let before = repo.fetcher.requests().len();
        updater(&repo, &store, now()).refresh().unwrap();
        // Unchanged repository: root probe and timestamp only.
        assert_eq!(
            &repo.fetcher.requests()[before..],
            ["metadata/2.root.json", "metadata/timestamp.json"]
        );
    }

    #[test]
    fn only_roles_the_snapshot_lists_and_a_delegator_names_are_trusted() {
        let mut repo = Repo::new();
        let empty = MemoryStore::default();
        let err = Updater::new(
            &repo.fetcher,
            &empty,
            sim::METADATA_URL,
            Config::default(),
            now(),
        )
        .unwrap_err();
        assert!(matches!(err, Error::NoTrustedRoot), "{err}");

        // targets delegates app/* to `app`, which is published but left out of the snapshot.
        let key = new_key();
        let id = sim::keyid(&key);
        repo.targets.delegations = Some(Delegations {
            keys: BTreeMap::from([(id.clone(), Key::from_public_key(key.public_key()).unwrap())]),
            roles: Some(vec![DelegatedRole {
                name: "app".into(),
                keyids: vec![id],
                threshold: 1,
                terminating: true,
                paths: Some(vec!["app/*".into()]),
                path_hash_prefixes: None,
            }]),
            succinct_roles: None,
        });
        repo.signers.insert("app".into(), vec![key]);
        repo.delegated
            .insert("app".into(), Targets::new(1, in_days(90)));
        repo.publish_delegated("app");
        repo.snapshot.meta.remove("app.json");
        repo.release();
        let store = repo.client_store();
        let mut client = updater(&repo, &store, now());
        let err = client.target_info("app/x").unwrap_err();
        assert!(
            matches!(&err, Error::NotInSnapshot { file } if file == "app.json"),
            "{err}"
        );
        let err = client.list_role("lib").unwrap_err();
        assert!(
            matches!(&err, Error::DelegationNotFound { role, delegator } if role == "lib" && delegator == "targets"),
            "{err}"
        );
    }

    #[test]
    fn snapshot_must_be_the_file_the_timestamp_pins() {
        let mut repo = Repo::new();
        let real = repo.sign("snapshot", &repo.snapshot);
        let pinned = MetaFile::pinning(1, &real);
        repo.timestamp
            .meta
            .insert("snapshot.json".into(), pinned.clone());
        repo.publish_timestamp();

        // Same length, one byte of whitespace changed: still validly signed, but not the
        // file the timestamp pins (5.5.2).
        let mut swapped = real.clone();
        let last = swapped.len() - 1;
        swapped[last] = b' ';
        repo.put("metadata/snapshot.json", swapped.clone());
        let store = repo.client_store();
        let err = updater(&repo, &store, now()).refresh().unwrap_err();
        let hashes = pinned.hashes.as_ref().unwrap();
        let swapped_sha256 = TargetFile::from_bytes(&swapped, None).hashes["sha256"].clone();
        assert!(
            matches!(&err, Error::HashMismatch { what, algorithm, expected, actual }
                if what == "snapshot.json"
                    && algorithm == "sha256"
                    && *expected == hashes["sha256"]
                    && *actual == swapped_sha256),
            "{err}"
        );

        // Shorter than pinned: the fetch limit is the pinned length, so only a short file gets
        // as far as the length check.
        repo.put("metadata/snapshot.json", real[..real.len() - 1].to_vec());
        let err = updater(&repo, &store, now()).refresh().unwrap_err();
        assert!(
            matches!(&err, Error::LengthMismatch { what, expected, actual }
                if what == "snapshot.json"
                    && *expected == real.len() as u64
                    && *actual == real.len() as u64 - 1),
            "{err}"
        );
        assert!(store.load("snapshot.json").unwrap().is_none());
    }

    #[test]
    fn a_snapshot_that_drops_a_role_is_a_rollback() {
        let (mut repo, store) = refreshed();
        repo.snapshot.version += 1;
        repo.snapshot.meta.remove("targets.json");
        repo.publish_snapshot();
        repo.timestamp.version += 1;
        repo.publish_timestamp();
        let err = updater(&repo, &store, now()).refresh().unwrap_err();
        assert!(
            matches!(&err, Error::Removed { role, by } if role == "targets.json" && by == "snapshot"),
            "{err}"
        );
        assert_eq!(stored_version::<Snapshot>(&store, "snapshot.json"), 1);
    }
}
