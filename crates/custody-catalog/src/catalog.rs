//! The SQLite catalog of releases, their packages and their known findings.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use custody_vuln::{AdvisoryStamp, Ecosystem, PackageRef};
use rusqlite::{Connection, OptionalExtension, params};

use crate::Error;
use crate::error::sql;

/// The schema this build writes; older files are migrated, newer refused.
const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS releases (
    id INTEGER PRIMARY KEY,
    product TEXT NOT NULL,
    version TEXT NOT NULL,
    dir TEXT NOT NULL,
    added TEXT NOT NULL,
    -- The SBOM as published (CycloneDX JSON), when there was one.
    sbom TEXT,
    -- JSON list of the artifact file names, the subjects of its notices.
    artifacts TEXT NOT NULL,
    -- 0 until a monitor run has matched every package of the release.
    scanned INTEGER NOT NULL DEFAULT 0,
    UNIQUE (product, version)
);
CREATE TABLE IF NOT EXISTS packages (
    release INTEGER NOT NULL REFERENCES releases (id) ON DELETE CASCADE,
    ecosystem TEXT NOT NULL,
    -- The name as the ecosystem's advisories are indexed (PEP 503 for PyPI...).
    key TEXT NOT NULL,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    purl TEXT
);
CREATE INDEX IF NOT EXISTS packages_by_key ON packages (ecosystem, key);
CREATE INDEX IF NOT EXISTS packages_by_release ON packages (release);
CREATE TABLE IF NOT EXISTS findings (
    release INTEGER NOT NULL REFERENCES releases (id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    ecosystem TEXT NOT NULL,
    key TEXT NOT NULL,
    version TEXT NOT NULL,
    vex TEXT,
    first_seen TEXT NOT NULL,
    PRIMARY KEY (release, ecosystem, key, version, id)
) WITHOUT ROWID;
-- A re-scan after an update reads the findings of a few packages across all releases at once.
CREATE INDEX IF NOT EXISTS findings_by_package ON findings (ecosystem, key);
-- The advisories as the last monitor run saw them.
CREATE TABLE IF NOT EXISTS advisories (
    id TEXT PRIMARY KEY,
    digest TEXT NOT NULL,
    -- JSON list of [ecosystem, key].
    packages TEXT NOT NULL
) WITHOUT ROWID;
-- When each content of each advisory was first seen.
CREATE TABLE IF NOT EXISTS advisory_versions (
    id TEXT NOT NULL,
    digest TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    PRIMARY KEY (id, digest)
) WITHOUT ROWID;
";

/// A release to add.
#[derive(Debug, Clone, Copy)]
pub struct NewRelease<'a> {
    /// The product.
    pub product: &'a str,
    /// The version.
    pub version: &'a str,
    /// Its directory on the site.
    pub dir: &'a Path,
    /// Its SBOM as published.
    pub sbom: Option<&'a str>,
    /// Its artifacts' file names in `dir`.
    pub artifacts: &'a [String],
    /// Its packages.
    pub packages: &'a [PackageRef],
    /// Findings already known when it was released (the release gate's): not news later.
    pub known: &'a [custody_vuln::vex::Assessed],
}

/// A finding the catalog holds for a release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFinding {
    /// The finding's id.
    pub id: String,
    /// The package, by its indexed (normalised) name.
    pub package: String,
    /// The package's version.
    pub version: String,
    /// The VEX status when it was recorded.
    pub vex: Option<String>,
}

/// A stored release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseInfo {
    /// Its row id.
    pub id: i64,
    /// The product.
    pub product: String,
    /// The version.
    pub version: String,
    /// Its directory on the site.
    pub dir: PathBuf,
    /// Its artifacts' file names.
    pub artifacts: Vec<String>,
}

/// The catalog.
#[derive(Debug)]
pub struct Catalog {
    pub(crate) conn: Connection,
}

/// A finding's identity in a release: (id, ecosystem, key, version).
pub(crate) type FindingKey = (String, String, String, String);

pub(crate) fn finding_key(f: &custody_vuln::Finding) -> FindingKey {
    let e = &f.package.ecosystem;
    (
        f.id.clone(),
        e.as_str().to_owned(),
        e.normalise_name(&f.package.name),
        f.package.version.clone(),
    )
}

impl Catalog {
    /// Opens (creating if needed) the catalog at `path`.
    pub fn open(path: &Path) -> Result<Self, Error> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            // SQLite's own error for a missing directory ("unable to open database file")
            // does not say which; creating it is what the user wants anyway.
            let _ = std::fs::create_dir_all(dir);
        }
        let open = |source| Error::Open {
            path: path.to_owned(),
            source,
        };
        let conn = Connection::open(path).map_err(open)?;
        // WAL: a monitor run's one big transaction does not block readers; NORMAL is durable
        // at every checkpoint, and a lost last transaction is only re-done by the next run.
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;
             PRAGMA cache_size = -65536;",
        )
        .map_err(open)?;
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(open)?;
        if version > SCHEMA_VERSION {
            return Err(Error::SchemaTooNew {
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        conn.execute_batch(SCHEMA).map_err(open)?;
        conn.execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION}"))
            .map_err(open)?;
        Ok(Self { conn })
    }

    /// Adds a release; `false` (and nothing changed) when that product and version is already
    /// there, since published versions are immutable.
    pub fn add_release(&mut self, r: &NewRelease<'_>, now: &str) -> Result<bool, Error> {
        let tx = self.conn.transaction().map_err(sql("begin"))?;
        let exists = tx
            .query_row(
                "SELECT 1 FROM releases WHERE product = ?1 AND version = ?2",
                params![r.product, r.version],
                |_| Ok(()),
            )
            .optional()
            .map_err(sql("looking up a release"))?
            .is_some();
        if exists {
            return Ok(false);
        }
        let artifacts = serde_json::to_string(r.artifacts).map_err(|source| Error::Corrupt {
            what: "artifact list",
            source,
        })?;
        tx.execute(
            "INSERT INTO releases (product, version, dir, added, sbom, artifacts)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                r.product,
                r.version,
                r.dir.to_string_lossy(),
                now,
                r.sbom,
                artifacts
            ],
        )
        .map_err(sql("adding a release"))?;
        let id = tx.last_insert_rowid();
        {
            let mut insert = tx
                .prepare(
                    "INSERT INTO packages (release, ecosystem, key, name, version, purl)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(sql("adding packages"))?;
            for p in r.packages {
                insert
                    .execute(params![
                        id,
                        p.ecosystem.as_str(),
                        p.ecosystem.normalise_name(&p.name),
                        p.name,
                        p.version,
                        p.purl
                    ])
                    .map_err(sql("adding packages"))?;
            }
            let mut known = tx
                .prepare(
                    "INSERT OR IGNORE INTO findings
                     (release, id, ecosystem, key, version, vex, first_seen)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .map_err(sql("adding findings"))?;
            for a in r.known {
                let (fid, eco, key, version) = finding_key(&a.finding);
                known
                    .execute(params![
                        id,
                        fid,
                        eco,
                        key,
                        version,
                        a.vex.as_ref().map(|v| v.status.as_str()),
                        now
                    ])
                    .map_err(sql("adding findings"))?;
            }
        }
        tx.commit().map_err(sql("commit"))?;
        Ok(true)
    }

    /// Whether this product and version is in the catalog.
    pub fn contains(&self, product: &str, version: &str) -> Result<bool, Error> {
        Ok(self
            .conn
            .query_row(
                "SELECT 1 FROM releases WHERE product = ?1 AND version = ?2",
                params![product, version],
                |_| Ok(()),
            )
            .optional()
            .map_err(sql("looking up a release"))?
            .is_some())
    }

    /// How many releases the catalog holds.
    pub fn len(&self) -> Result<usize, Error> {
        let n: i64 = self
            .conn
            .query_row("SELECT count(*) FROM releases", [], |r| r.get(0))
            .map_err(sql("counting releases"))?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// Whether the catalog holds no release.
    pub fn is_empty(&self) -> Result<bool, Error> {
        Ok(self.len()? == 0)
    }

    /// The findings stored for a release.
    pub fn findings(&self, product: &str, version: &str) -> Result<Vec<StoredFinding>, Error> {
        let mut q = self
            .conn
            .prepare(
                "SELECT f.id, f.key, f.version, f.vex FROM findings f
                 JOIN releases r ON r.id = f.release
                 WHERE r.product = ?1 AND r.version = ?2 ORDER BY f.id, f.key",
            )
            .map_err(sql("reading findings"))?;
        let rows = q
            .query_map(params![product, version], |r| {
                Ok(StoredFinding {
                    id: r.get(0)?,
                    package: r.get(1)?,
                    version: r.get(2)?,
                    vex: r.get(3)?,
                })
            })
            .map_err(sql("reading findings"))?;
        rows.collect::<Result<_, _>>()
            .map_err(sql("reading findings"))
    }

    /// The advisories as the last monitor run saw them.
    pub(crate) fn advisory_state(&self) -> Result<BTreeMap<String, AdvisoryStamp>, Error> {
        let mut q = self
            .conn
            .prepare("SELECT id, digest, packages FROM advisories")
            .map_err(sql("reading advisory state"))?;
        let rows = q
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })
            .map_err(sql("reading advisory state"))?;
        let mut out = BTreeMap::new();
        for row in rows {
            let (id, digest, packages) = row.map_err(sql("reading advisory state"))?;
            let packages: Vec<(String, String)> =
                serde_json::from_str(&packages).map_err(|source| Error::Corrupt {
                    what: "advisory package list",
                    source,
                })?;
            out.insert(
                id,
                AdvisoryStamp {
                    digest,
                    packages: packages
                        .into_iter()
                        .map(|(e, k)| (Ecosystem::parse(&e), k))
                        .collect(),
                },
            );
        }
        Ok(out)
    }
}

pub(crate) fn release_info(r: &rusqlite::Row<'_>) -> rusqlite::Result<ReleaseInfo> {
    let artifacts: String = r.get(4)?;
    Ok(ReleaseInfo {
        id: r.get(0)?,
        product: r.get(1)?,
        version: r.get(2)?,
        dir: PathBuf::from(r.get::<_, String>(3)?),
        // Written by `add_release` from a list of strings; anything else reads as none.
        artifacts: serde_json::from_str(&artifacts).unwrap_or_default(),
    })
}
