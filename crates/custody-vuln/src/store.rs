//! A persistent advisory index on disk, updated incrementally.
//!
//! # Design
//! One JSON file per imported source (`<root>/sources/<name>.json`) holds,
//! for every advisory file of that source, its relative path, the SHA-256
//! of its bytes and the parsed advisory. Re-importing a source reads and
//! hashes every file but parses only those whose digest changed, drops the
//! ones that disappeared, and rewrites that source's file atomically (a
//! temporary file in the same directory, `fsync`, then rename). The
//! [`ImportSummary`] lists what was added, changed and removed, and the
//! packages those advisories name, so a monitor re-scans only what can
//! have changed. Digests rather than `modified` dates decide what changed,
//! because the Go database sets `modified` to `0001-01-01` everywhere.
//!
//! # Why not SQLite
//! The catalog (releases, SBOMs, VEX, monitor state) is planned on SQLite
//! through `sqlx`; the advisory index is not, on purpose. The sources are
//! loaded whole only to import, and replaced one at a time; scans read the
//! per-ecosystem packs ([`crate::pack`]), which are key lookups plus a
//! positioned read per matched advisory. Neither needs queries, transactions
//! across sources, or concurrent writers, nor an async runtime or a bundled
//! C library; a single writer per store is assumed.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::ecosystem::Ecosystem;
use crate::import::{Import, read_osv_directory_incremental, read_osv_zip_incremental};
use crate::index::Index;
use crate::osv::Advisory;
use crate::pack::Packable;
use crate::rustsec::read_rustsec_directory_incremental;

/// The on-disk format version this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// How a source directory is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum SourceKind {
    /// OSV JSON or YAML files, in any directory structure.
    Osv,
    /// The RustSec advisory database (`crates/<name>/RUSTSEC-*.md`).
    RustSec,
    /// A zip of OSV files, as osv.dev publishes per ecosystem (`all.zip`).
    OsvZip,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredAdvisory {
    path: PathBuf,
    digest: String,
    advisory: Advisory,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct SourceFile {
    format: u32,
    name: String,
    kind: SourceKind,
    origin: PathBuf,
    advisories: Vec<StoredAdvisory>,
    /// Files that did not parse at the last import, with the reason.
    skipped: Vec<String>,
}

/// What one import changed.
#[derive(Debug, Default)]
pub struct ImportSummary {
    /// Ids of advisories that are new.
    pub added: Vec<String>,
    /// Ids of advisories whose file changed.
    pub changed: Vec<String>,
    /// Ids of advisories whose file is gone.
    pub removed: Vec<String>,
    /// How many files were unchanged and not parsed again.
    pub unchanged: usize,
    /// Files that did not parse; they are left out, the rest imported.
    pub skipped: Vec<Error>,
    /// (ecosystem, normalised name) of every package named by an added,
    /// changed or removed advisory, before or after the change: the only
    /// packages whose findings this import can have changed.
    pub touched_packages: BTreeSet<(Ecosystem, String)>,
}

/// A summary of one stored source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceStatus {
    /// The source's name.
    pub name: String,
    /// Its layout.
    pub kind: SourceKind,
    /// The directory it was last imported from.
    pub origin: PathBuf,
    /// Advisories held.
    pub advisories: usize,
    /// Files skipped at the last import.
    pub skipped: usize,
}

/// The persistent advisory store.
#[derive(Debug)]
pub struct Store {
    root: PathBuf,
    sources: BTreeMap<String, SourceFile>,
}

fn validate_name(name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidSourceName {
            name: name.to_owned(),
        })
    }
}

fn packages_of(a: &Advisory, out: &mut BTreeSet<(Ecosystem, String)>) {
    for p in a.affected.iter().filter_map(|x| x.package.as_ref()) {
        let e = p.ecosystem();
        out.insert((e.clone(), e.normalise_name(&p.name)));
    }
}

impl Store {
    /// Opens (creating if needed) the store at `root` and loads every source.
    ///
    /// A scan needs much less: [`crate::pack::load_index`] reads only the
    /// advisories naming the scanned packages.
    pub fn open(root: &Path) -> Result<Self, Error> {
        let dir = root.join("sources");
        std::fs::create_dir_all(&dir).map_err(|source| Error::Io {
            path: dir.clone(),
            source,
        })?;
        let mut sources = BTreeMap::new();
        let entries = std::fs::read_dir(&dir).map_err(|source| Error::Io {
            path: dir.clone(),
            source,
        })?;
        for entry in entries {
            let entry = entry.map_err(|source| Error::Io {
                path: dir.clone(),
                source,
            })?;
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            let file = load_source(&path)?;
            sources.insert(file.name.clone(), file);
        }
        Ok(Self {
            root: root.to_owned(),
            sources,
        })
    }

    /// Imports (or re-imports) the source `name` from `dir` (for
    /// [`SourceKind::OsvZip`], the archive), parsing only files whose
    /// content changed since the last import.
    pub fn import(
        &mut self,
        name: &str,
        kind: SourceKind,
        dir: &Path,
    ) -> Result<ImportSummary, Error> {
        self.import_from(name, kind, dir, dir)
    }

    /// Like [`Store::import`], recording `origin` (a URL the file was downloaded from) as
    /// where the source came from instead of `dir`.
    pub fn import_from(
        &mut self,
        name: &str,
        kind: SourceKind,
        dir: &Path,
        origin: &Path,
    ) -> Result<ImportSummary, Error> {
        validate_name(name)?;
        let mut previous_meta = self.sources.remove(name);
        let old: BTreeMap<PathBuf, StoredAdvisory> = previous_meta
            .as_mut()
            .map(|s| {
                std::mem::take(&mut s.advisories)
                    .into_iter()
                    .map(|a| (a.path.clone(), a))
                    .collect()
            })
            .unwrap_or_default();
        let known = |path: &Path, digest: &str| old.get(path).is_some_and(|a| a.digest == digest);
        let import: Result<Import, Error> = match kind {
            SourceKind::Osv => read_osv_directory_incremental(dir, known),
            SourceKind::RustSec => read_rustsec_directory_incremental(dir, known),
            SourceKind::OsvZip => read_osv_zip_incremental(dir, known),
        };
        let import = match import {
            Ok(i) => i,
            Err(e) => {
                // Nothing was written: keep the source as it was.
                if let Some(mut p) = previous_meta {
                    p.advisories = old.into_values().collect();
                    self.sources.insert(name.to_owned(), p);
                }
                return Err(e);
            }
        };

        let mut summary = ImportSummary {
            unchanged: import.unchanged.len(),
            ..ImportSummary::default()
        };
        let mut old = old;
        let mut advisories = Vec::with_capacity(import.unchanged.len() + import.advisories.len());
        for (path, _) in &import.unchanged {
            if let Some(a) = old.remove(path) {
                advisories.push(a);
            }
        }
        let old_ids: BTreeMap<String, Advisory> = old
            .into_values()
            .map(|a| (a.advisory.id.clone(), a.advisory))
            .collect();
        let mut seen = BTreeSet::new();
        for file in import.advisories {
            let id = file.advisory.id.clone();
            match old_ids.get(&id) {
                Some(before) => {
                    packages_of(before, &mut summary.touched_packages);
                    summary.changed.push(id.clone());
                }
                None => summary.added.push(id.clone()),
            }
            packages_of(&file.advisory, &mut summary.touched_packages);
            seen.insert(id);
            advisories.push(StoredAdvisory {
                path: file.path,
                digest: file.digest,
                advisory: file.advisory,
            });
        }
        for (id, before) in &old_ids {
            if !seen.contains(id) {
                packages_of(before, &mut summary.touched_packages);
                summary.removed.push(id.clone());
            }
        }
        advisories.sort_by(|a, b| a.path.cmp(&b.path));
        let file = SourceFile {
            format: FORMAT_VERSION,
            name: name.to_owned(),
            kind,
            origin: origin.to_owned(),
            advisories,
            skipped: import.skipped.iter().map(ToString::to_string).collect(),
        };
        self.write_source(&file)?;
        self.sources.insert(name.to_owned(), file);
        self.write_packs()?;
        summary.skipped = import.skipped;
        Ok(summary)
    }

    /// Forgets a source; returns whether it existed.
    pub fn remove_source(&mut self, name: &str) -> Result<bool, Error> {
        validate_name(name)?;
        if self.sources.remove(name).is_none() {
            return Ok(false);
        }
        let path = self.source_path(name);
        std::fs::remove_file(&path).map_err(|source| Error::Io { path, source })?;
        self.write_packs()?;
        Ok(true)
    }

    /// Every stored source.
    pub fn sources(&self) -> Vec<SourceStatus> {
        self.sources
            .values()
            .map(|s| SourceStatus {
                name: s.name.clone(),
                kind: s.kind,
                origin: s.origin.clone(),
                advisories: s.advisories.len(),
                skipped: s.skipped.len(),
            })
            .collect()
    }

    /// Builds the in-memory index of every source. Sources are inserted in
    /// name order, so when two hold the same id the later name wins.
    pub fn index(&self) -> Index {
        let mut index = Index::new();
        for s in self.sources.values() {
            for a in &s.advisories {
                index.insert(a.advisory.clone(), &s.name, Some(a.digest.clone()));
            }
        }
        index
    }

    /// Like [`Store::index`], without copying the advisories.
    pub fn into_index(self) -> Index {
        let mut index = Index::new();
        for s in self.sources.into_values() {
            for a in s.advisories {
                index.insert(a.advisory, &s.name, Some(a.digest));
            }
        }
        index
    }

    /// The digest of every stored advisory, by id, for change tracking.
    pub fn digests(&self) -> BTreeMap<&str, &str> {
        self.sources
            .values()
            .flat_map(|s| s.advisories.iter())
            .map(|a| (a.advisory.id.as_str(), a.digest.as_str()))
            .collect()
    }

    /// Rewrites the per-ecosystem packs scans read (see [`crate::pack`])
    /// from the sources in memory. Imports do this themselves.
    pub fn write_packs(&self) -> Result<(), Error> {
        // One advisory per id, the later source name winning, as in `index`.
        let mut winners: BTreeMap<&str, Packable<'_>> = BTreeMap::new();
        for s in self.sources.values() {
            for a in &s.advisories {
                winners.insert(
                    a.advisory.id.as_str(),
                    Packable {
                        source: &s.name,
                        digest: &a.digest,
                        advisory: &a.advisory,
                    },
                );
            }
        }
        let advisories: Vec<Packable<'_>> = winners.into_values().collect();
        let names: Vec<&str> = self.sources.keys().map(String::as_str).collect();
        crate::pack::write(&self.root, &names, &advisories)
    }

    fn source_path(&self, name: &str) -> PathBuf {
        self.root.join("sources").join(format!("{name}.json"))
    }

    fn write_source(&self, file: &SourceFile) -> Result<(), Error> {
        let path = self.source_path(&file.name);
        custody_crypto::fs::write_atomic_with(&path, |f| {
            let mut w = BufWriter::new(f);
            serde_json::to_writer(&mut w, file)?;
            w.flush()
        })
        .map_err(|source| Error::Io { path, source })
    }
}

/// Writes `bytes` to `path` atomically and durably ([`custody_crypto::fs::write_atomic`]).
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    custody_crypto::fs::write_atomic(path, bytes).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })
}

fn load_source(path: &Path) -> Result<SourceFile, Error> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    let corrupt = |source| Error::IndexCorrupt {
        path: path.to_owned(),
        source,
    };
    match serde_json::from_slice::<SourceFile>(&bytes) {
        Ok(file) if file.format == FORMAT_VERSION => Ok(file),
        Ok(file) => Err(Error::IndexFormatMismatch {
            path: path.to_owned(),
            found: file.format,
            expected: FORMAT_VERSION,
        }),
        Err(e) => {
            // A file from another format version may not decode at all;
            // name the version rather than the field that failed.
            #[derive(Deserialize)]
            struct Header {
                format: u32,
            }
            match serde_json::from_slice::<Header>(&bytes) {
                Ok(h) if h.format != FORMAT_VERSION => Err(Error::IndexFormatMismatch {
                    path: path.to_owned(),
                    found: h.format,
                    expected: FORMAT_VERSION,
                }),
                _ => Err(corrupt(e)),
            }
        }
    }
}
