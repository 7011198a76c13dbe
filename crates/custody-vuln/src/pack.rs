//! Per-ecosystem packs: what a scan reads instead of the whole store.
//!
//! # Why
//! [`Store::open`](crate::Store::open) decodes every advisory of every
//! source (about 170 ms for the three shared databases), although a
//! `Cargo.lock` needs only crates.io advisories, and of those only the few
//! naming one of its packages. A scan's cost should follow its input, not
//! the database's size.
//!
//! # Design
//! Every import (and source removal) rewrites, from the whole store, one
//! pack per ecosystem (`<root>/packs/eco-<ecosystem>.pack`) and a manifest.
//! Precedence between sources is settled when packing (the later source
//! name wins an id, as in [`Store::index`](crate::Store::index)), so each
//! pack is self-contained and a scan of one ecosystem never looks at
//! another. A pack is:
//!
//! ```text
//! magic "CUSTODYVULNPACK\x01"   16 bytes, the last one the format version
//! header length                 u64 LE
//! header                        sources, then per advisory (source, digest,
//!                               offset, length), then the sorted package
//!                               keys, each with the advisories naming it
//! advisories                    compact OSV JSON without `details` and
//!                               `references` (scans never read them)
//! ```
//!
//! A scan reads the manifest, then for each ecosystem of its input the
//! pack's header, and only the advisories under its packages' keys, decoded
//! on demand; nothing is memory-mapped (the crate forbids `unsafe`).
//!
//! The manifest records each source file's size and modification time. If
//! they no longer agree (a crash between writing a source and its packs, a
//! copy that lost the times), [`Packs::open`] says the packs are stale and
//! [`load_index`] falls back to reading the whole store and rewrites them, so
//! a stale pack can slow a scan down but never change its answer.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::ecosystem::Ecosystem;
use crate::index::{Index, PackageRef};
use crate::osv::Advisory;

const MAGIC: &[u8; 16] = b"CUSTODYVULNPACK\x01";
const MANIFEST: &str = "manifest.json";
const STAMPS: &str = "advisories.json";
/// Bumped whenever the manifest or pack layout changes.
const MANIFEST_FORMAT: u32 = 1;
/// A header larger than this is corrupt: the three shared databases'
/// largest (Go) is about 200 KiB.
const MAX_HEADER_BYTES: u64 = 256 * 1024 * 1024;

/// A source file's identity as the manifest saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct SourceStamp {
    name: String,
    len: u64,
    modified_ns: u128,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Manifest {
    format: u32,
    sources: Vec<SourceStamp>,
    /// Distinct advisory ids across all sources.
    advisories: usize,
    /// Ecosystem (OSV spelling, release suffix dropped) to pack file name.
    packs: BTreeMap<String, String>,
}

/// What a monitor needs to know of one stored advisory to tell whether it
/// changed and whom the change can concern.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdvisoryStamp {
    /// SHA-256 of the advisory as imported, hex.
    pub digest: String,
    /// (ecosystem, normalised name) of every package it names.
    pub packages: Vec<(Ecosystem, String)>,
}

/// One advisory to pack: the source it won under, its digest and the
/// advisory.
pub(crate) struct Packable<'a> {
    pub(crate) source: &'a str,
    pub(crate) digest: &'a str,
    pub(crate) advisory: &'a Advisory,
}

/// A pack file's name: the ecosystem with anything outside `[A-Za-z0-9.-]`
/// escaped as `_XX`, so two ecosystems never share a file and none can
/// leave the directory.
fn pack_file_name(ecosystem: &str) -> String {
    let mut name = String::from("eco-");
    for b in ecosystem.bytes() {
        if b.is_ascii_alphanumeric() || b == b'.' || b == b'-' {
            name.push(char::from(b));
        } else {
            name.push_str(&format!("_{b:02X}"));
        }
    }
    name.push_str(".pack");
    name
}

fn stamp(path: &Path, name: &str) -> Result<SourceStamp, Error> {
    let meta = std::fs::metadata(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    let modified_ns = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    Ok(SourceStamp {
        name: name.to_owned(),
        len: meta.len(),
        modified_ns,
    })
}

/// The source files on disk, by name, as the manifest would stamp them.
fn current_stamps(root: &Path) -> Result<Vec<SourceStamp>, Error> {
    let dir = root.join("sources");
    let io = |source| Error::Io {
        path: dir.clone(),
        source,
    };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let Some(name) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        out.push(stamp(&path, name)?);
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

fn put_u32(out: &mut Vec<u8>, v: usize) {
    // Pack sizes are bounded far below 4 GiB by MAX_ADVISORY_BYTES and the
    // databases' size; saturating keeps this total without a panic path.
    out.extend_from_slice(&u32::try_from(v).unwrap_or(u32::MAX).to_le_bytes());
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_u32(out, s.len());
    out.extend_from_slice(s.as_bytes());
}

/// Writes the packs and manifest under `<root>/packs/` for `advisories`
/// (already reduced to one per id), stamping `sources`.
pub(crate) fn write(
    root: &Path,
    source_names: &[&str],
    advisories: &[Packable<'_>],
) -> Result<(), Error> {
    let dir = root.join("packs");
    std::fs::create_dir_all(&dir).map_err(|source| Error::Io {
        path: dir.clone(),
        source,
    })?;
    // Ecosystem -> key -> advisory positions in `advisories`.
    let mut by_eco: BTreeMap<String, BTreeMap<String, BTreeSet<usize>>> = BTreeMap::new();
    for (i, p) in advisories.iter().enumerate() {
        for package in p
            .advisory
            .affected
            .iter()
            .filter_map(|a| a.package.as_ref())
        {
            let eco = package.ecosystem();
            by_eco
                .entry(eco.as_str().to_owned())
                .or_default()
                .entry(eco.normalise_name(&package.name))
                .or_default()
                .insert(i);
        }
    }
    let mut json: HashMap<usize, Vec<u8>> = HashMap::new();
    let mut packs = BTreeMap::new();
    for (eco, keys) in &by_eco {
        let members: BTreeSet<usize> = keys.values().flatten().copied().collect();
        let local: HashMap<usize, usize> = members
            .iter()
            .enumerate()
            .map(|(local, &global)| (global, local))
            .collect();
        let sources: Vec<&str> = {
            let set: BTreeSet<&str> = members.iter().map(|&i| advisories[i].source).collect();
            set.into_iter().collect()
        };
        let mut header = Vec::new();
        put_u32(&mut header, sources.len());
        for s in &sources {
            put_str(&mut header, s);
        }
        let mut blob = Vec::new();
        put_u32(&mut header, members.len());
        for &i in &members {
            let p = &advisories[i];
            let bytes = match json.get(&i) {
                Some(b) => b,
                None => {
                    // Matching and findings never read `details` or
                    // `references`, the bulk of most advisories' text;
                    // leaving them out halves what a scan decodes.
                    let mut slim = p.advisory.clone();
                    slim.details = None;
                    slim.references = Vec::new();
                    let encoded = serde_json::to_vec(&slim).map_err(|e| Error::Io {
                        path: dir.join(pack_file_name(eco)),
                        source: e.into(),
                    })?;
                    json.entry(i).or_insert(encoded)
                }
            };
            let source = sources.binary_search(&p.source).unwrap_or(0);
            put_u32(&mut header, source);
            put_str(&mut header, p.digest);
            header.extend_from_slice(&(blob.len() as u64).to_le_bytes());
            put_u32(&mut header, bytes.len());
            blob.extend_from_slice(bytes);
        }
        put_u32(&mut header, keys.len());
        for (name, refs) in keys {
            put_str(&mut header, name);
            put_u32(&mut header, refs.len());
            for r in refs {
                put_u32(&mut header, local.get(r).copied().unwrap_or(0));
            }
        }
        let mut file = Vec::with_capacity(24 + header.len() + blob.len());
        file.extend_from_slice(MAGIC);
        file.extend_from_slice(&(header.len() as u64).to_le_bytes());
        file.extend_from_slice(&header);
        file.extend_from_slice(&blob);
        let name = pack_file_name(eco);
        crate::store::write_atomic(&dir.join(&name), &file)?;
        packs.insert(eco.clone(), name);
    }
    let mut sources = Vec::with_capacity(source_names.len());
    for name in source_names {
        sources.push(stamp(
            &root.join("sources").join(format!("{name}.json")),
            name,
        )?);
    }
    sources.sort_by(|a, b| a.name.cmp(&b.name));
    let manifest = Manifest {
        format: MANIFEST_FORMAT,
        sources,
        advisories: advisories.len(),
        packs,
    };
    let bytes = serde_json::to_vec_pretty(&manifest).map_err(|e| Error::Io {
        path: dir.join(MANIFEST),
        source: e.into(),
    })?;
    let stamps: BTreeMap<&str, AdvisoryStamp> = advisories
        .iter()
        .map(|p| {
            let packages: BTreeSet<(Ecosystem, String)> = p
                .advisory
                .affected
                .iter()
                .filter_map(|a| a.package.as_ref())
                .map(|pkg| {
                    let e = pkg.ecosystem();
                    let name = e.normalise_name(&pkg.name);
                    (e, name)
                })
                .collect();
            (
                p.advisory.id.as_str(),
                AdvisoryStamp {
                    digest: p.digest.to_owned(),
                    packages: packages.into_iter().collect(),
                },
            )
        })
        .collect();
    let stamp_bytes = serde_json::to_vec(&stamps).map_err(|e| Error::Io {
        path: dir.join(STAMPS),
        source: e.into(),
    })?;
    // Written before the manifest: a reader that finds a current manifest
    // finds the stamps of the same generation.
    crate::store::write_atomic(&dir.join(STAMPS), &stamp_bytes)?;
    crate::store::write_atomic(&dir.join(MANIFEST), &bytes)?;
    // Packs of ecosystems no longer present would only mislead a reader of
    // the directory; the manifest no longer names them.
    if let Ok(entries) = std::fs::read_dir(&dir) {
        let keep: BTreeSet<&String> = manifest.packs.values().collect();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".pack") && !keep.contains(&name) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    Ok(())
}

/// The packs of a store, opened for scanning.
#[derive(Debug)]
pub struct Packs {
    dir: PathBuf,
    manifest: Manifest,
}

impl Packs {
    /// Opens the packs of the store at `root`; `None` when there are none or
    /// they no longer match the sources (see the module docs).
    pub fn open(root: &Path) -> Result<Option<Self>, Error> {
        let dir = root.join("packs");
        let path = dir.join(MANIFEST);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(Error::Io { path, source }),
        };
        let Ok(manifest) = serde_json::from_slice::<Manifest>(&bytes) else {
            // A manifest from another build or a torn write: the store
            // itself is still good, so the caller rebuilds rather than fails.
            return Ok(None);
        };
        if manifest.format != MANIFEST_FORMAT || manifest.sources != current_stamps(root)? {
            return Ok(None);
        }
        Ok(Some(Self { dir, manifest }))
    }

    /// Distinct advisories across all sources.
    pub fn advisories(&self) -> usize {
        self.manifest.advisories
    }

    /// Every stored advisory's digest and packages, by id, for a monitor to
    /// tell what changed since it last looked.
    pub fn stamps(&self) -> Result<BTreeMap<String, AdvisoryStamp>, Error> {
        let path = self.dir.join(STAMPS);
        let bytes = std::fs::read(&path).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        serde_json::from_slice(&bytes).map_err(|source| Error::IndexCorrupt { path, source })
    }

    /// The names of the stored sources.
    pub fn sources(&self) -> impl Iterator<Item = &str> {
        self.manifest.sources.iter().map(|s| s.name.as_str())
    }

    /// An index holding exactly the advisories that name one of `packages`
    /// (by ecosystem and normalised name): scanning those packages against
    /// it gives the same findings as against the whole store. The advisories
    /// come without `details` and `references`; [`crate::Store`] has them.
    pub fn index_for(&self, packages: &[PackageRef]) -> Result<Index, Error> {
        let mut wanted: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
        for p in packages {
            wanted
                .entry(p.ecosystem.as_str())
                .or_default()
                .insert(p.ecosystem.normalise_name(&p.name));
        }
        self.index_for_keys(
            wanted
                .iter()
                .map(|(eco, names)| (Ecosystem::parse(eco), names)),
        )
    }

    /// Like [`Packs::index_for`], for (ecosystem, normalised name) keys.
    pub fn index_for_keys<'a>(
        &self,
        wanted: impl IntoIterator<Item = (Ecosystem, &'a BTreeSet<String>)>,
    ) -> Result<Index, Error> {
        let mut index = Index::new();
        for (eco, names) in wanted {
            let Some(file) = self.manifest.packs.get(eco.as_str()) else {
                continue;
            };
            let path = self.dir.join(file);
            let mut pack = PackReader::open(&path)?;
            let header = pack.header()?;
            let mut slots: BTreeSet<usize> = BTreeSet::new();
            for name in names {
                if let Ok(k) = header
                    .keys
                    .binary_search_by(|(key, _)| key.as_str().cmp(name))
                {
                    slots.extend(header.keys[k].1.iter().copied());
                }
            }
            for slot in slots {
                let Some(entry) = header.advisories.get(slot) else {
                    return Err(pack.corrupt("an advisory reference past the table"));
                };
                let bytes = pack.read_advisory(entry)?;
                let advisory: Advisory =
                    serde_json::from_slice(&bytes).map_err(|source| Error::IndexCorrupt {
                        path: path.clone(),
                        source,
                    })?;
                let source = header.sources.get(entry.source).map_or("", String::as_str);
                // The same advisory may sit in two packs (it names packages
                // of two ecosystems); inserting it again replaces it.
                index.insert(advisory, source, Some(entry.digest.clone()));
            }
        }
        Ok(index)
    }
}

struct PackEntry {
    source: usize,
    digest: String,
    offset: u64,
    len: usize,
}

struct Header {
    sources: Vec<String>,
    advisories: Vec<PackEntry>,
    keys: Vec<(String, Vec<usize>)>,
}

struct PackReader {
    path: PathBuf,
    file: std::fs::File,
    blob_start: u64,
    file_len: u64,
}

/// A cursor over header bytes that fails, never panics, on truncation.
struct Cursor<'a> {
    bytes: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.bytes.len() < n {
            return None;
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Some(head)
    }

    fn u32(&mut self) -> Option<usize> {
        let b: [u8; 4] = self.take(4)?.try_into().ok()?;
        usize::try_from(u32::from_le_bytes(b)).ok()
    }

    fn u64(&mut self) -> Option<u64> {
        let b: [u8; 8] = self.take(8)?.try_into().ok()?;
        Some(u64::from_le_bytes(b))
    }

    fn string(&mut self) -> Option<String> {
        let n = self.u32()?;
        std::str::from_utf8(self.take(n)?).ok().map(str::to_owned)
    }

    /// A count of items each at least `min` bytes long, refused when the
    /// rest of the header cannot hold them (so a corrupt count cannot make
    /// us allocate gigabytes).
    fn count(&mut self, min: usize) -> Option<usize> {
        let n = self.u32()?;
        (n.checked_mul(min)? <= self.bytes.len()).then_some(n)
    }
}

impl PackReader {
    fn open(path: &Path) -> Result<Self, Error> {
        let io = |source| Error::Io {
            path: path.to_owned(),
            source,
        };
        let mut file = std::fs::File::open(path).map_err(io)?;
        let file_len = file.metadata().map_err(io)?.len();
        let mut head = [0u8; 24];
        file.read_exact(&mut head).map_err(io)?;
        let mut me = Self {
            path: path.to_owned(),
            file,
            blob_start: 0,
            file_len,
        };
        if &head[..16] != MAGIC {
            return Err(me.corrupt("not a pack of this format"));
        }
        let mut len = [0u8; 8];
        len.copy_from_slice(&head[16..24]);
        let header_len = u64::from_le_bytes(len);
        if header_len > MAX_HEADER_BYTES || 24 + header_len > file_len {
            return Err(me.corrupt("a header longer than the file"));
        }
        me.blob_start = 24 + header_len;
        Ok(me)
    }

    fn corrupt(&self, what: &'static str) -> Error {
        Error::PackCorrupt {
            path: self.path.clone(),
            what,
        }
    }

    fn header(&mut self) -> Result<Header, Error> {
        let n = usize::try_from(self.blob_start - 24).map_err(|_| self.corrupt("header size"))?;
        let mut bytes = vec![0u8; n];
        self.file
            .read_exact(&mut bytes)
            .map_err(|source| Error::Io {
                path: self.path.clone(),
                source,
            })?;
        self.parse_header(&bytes)
            .ok_or_else(|| self.corrupt("a truncated or inconsistent header"))
    }

    fn parse_header(&self, bytes: &[u8]) -> Option<Header> {
        let mut c = Cursor { bytes };
        let n = c.count(4)?;
        let mut sources = Vec::with_capacity(n);
        for _ in 0..n {
            sources.push(c.string()?);
        }
        let n = c.count(20)?;
        let mut advisories = Vec::with_capacity(n);
        let blob_len = self.file_len - self.blob_start;
        for _ in 0..n {
            let source = c.u32()?;
            let digest = c.string()?;
            let offset = c.u64()?;
            let len = c.u32()?;
            if source >= sources.len() || offset.checked_add(len as u64)? > blob_len {
                return None;
            }
            advisories.push(PackEntry {
                source,
                digest,
                offset,
                len,
            });
        }
        let n = c.count(8)?;
        let mut keys = Vec::with_capacity(n);
        for _ in 0..n {
            let name = c.string()?;
            let m = c.count(4)?;
            let mut refs = Vec::with_capacity(m);
            for _ in 0..m {
                refs.push(c.u32()?);
            }
            keys.push((name, refs));
        }
        // Lookups binary-search the keys, so their order is part of the format.
        if !keys.windows(2).all(|w| w[0].0 < w[1].0) {
            return None;
        }
        Some(Header {
            sources,
            advisories,
            keys,
        })
    }

    fn read_advisory(&mut self, entry: &PackEntry) -> Result<Vec<u8>, Error> {
        let io = |source| Error::Io {
            path: self.path.clone(),
            source,
        };
        self.file
            .seek(SeekFrom::Start(self.blob_start + entry.offset))
            .map_err(io)?;
        let mut bytes = vec![0u8; entry.len];
        self.file.read_exact(&mut bytes).map_err(io)?;
        Ok(bytes)
    }
}

/// The packs of the store at `root`, rewritten first from the whole store if
/// they are missing or stale.
pub fn open_current(root: &Path) -> Result<Packs, Error> {
    if let Some(packs) = Packs::open(root)? {
        return Ok(packs);
    }
    crate::Store::open(root)?.write_packs()?;
    Packs::open(root)?.ok_or_else(|| Error::PackCorrupt {
        path: root.join("packs").join(MANIFEST),
        what: "the manifest does not match the sources just after writing it",
    })
}

/// An index for scanning `packages` from the store at `root`, and the number
/// of distinct advisories stored: from the packs when they are current,
/// else from the whole store (rewriting the packs, best effort, so the next
/// scan is fast again).
pub fn load_index(root: &Path, packages: &[PackageRef]) -> Result<(Index, usize), Error> {
    if let Some(packs) = Packs::open(root)? {
        return Ok((packs.index_for(packages)?, packs.advisories()));
    }
    let store = crate::Store::open(root)?;
    // A read-only database still scans, only more slowly.
    let _ = store.write_packs();
    let index = store.into_index();
    let total = index.len();
    Ok((index, total))
}
