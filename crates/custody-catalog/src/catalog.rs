//! The catalog of releases, their packages and their known findings, in SQLite or PostgreSQL.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use custody_vuln::{AdvisoryStamp, Ecosystem, PackageRef};

use crate::Error;
use crate::backend::{Backend, BackendError, Param, Postgres, Row, Sqlite, Value};

/// The schema, one migration per version, in the SQL both databases take (see
/// [`crate::backend::Dialect::render`]). A database at version N has had the first N applied;
/// a newer one is refused. Integer columns are BIGINT: PostgreSQL's driver maps them to i64
/// and SQLite gives them its one integer type.
const MIGRATIONS: &[&str] = &[
    "
CREATE TABLE IF NOT EXISTS releases (
    id {id},
    product TEXT NOT NULL,
    version TEXT NOT NULL,
    dir TEXT NOT NULL,
    added TEXT NOT NULL,
    -- The SBOM as published (CycloneDX JSON), when there was one.
    sbom TEXT,
    -- JSON list of the artifact file names, the subjects of its notices.
    artifacts TEXT NOT NULL,
    -- 0 until a monitor run has matched every package of the release.
    scanned BIGINT NOT NULL DEFAULT 0,
    UNIQUE (product, version)
);
CREATE TABLE IF NOT EXISTS packages (
    release BIGINT NOT NULL REFERENCES releases (id) ON DELETE CASCADE,
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
    release BIGINT NOT NULL REFERENCES releases (id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    ecosystem TEXT NOT NULL,
    key TEXT NOT NULL,
    version TEXT NOT NULL,
    vex TEXT,
    first_seen TEXT NOT NULL,
    PRIMARY KEY (release, ecosystem, key, version, id)
) {without_rowid};
-- A re-scan after an update reads the findings of a few packages across all releases at once.
CREATE INDEX IF NOT EXISTS findings_by_package ON findings (ecosystem, key);
-- The advisories as the last monitor run saw them.
CREATE TABLE IF NOT EXISTS advisories (
    id TEXT PRIMARY KEY,
    digest TEXT NOT NULL,
    -- JSON list of [ecosystem, key].
    packages TEXT NOT NULL
) {without_rowid};
-- When each content of each advisory was first seen.
CREATE TABLE IF NOT EXISTS advisory_versions (
    id TEXT NOT NULL,
    digest TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    PRIMARY KEY (id, digest)
) {without_rowid};
",
    "
-- The publishing service's API tokens: only the SHA-256 of each secret is kept.
CREATE TABLE IF NOT EXISTS tokens (
    id TEXT PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    -- The product it may act on; NULL for every product.
    product TEXT,
    -- Space-separated actions.
    scopes TEXT NOT NULL,
    description TEXT NOT NULL,
    created TEXT NOT NULL,
    expires TEXT,
    revoked TEXT
) {without_rowid};
-- Every write and every refused request, appended and never changed.
CREATE TABLE IF NOT EXISTS audit (
    seq {id},
    time TEXT NOT NULL,
    token TEXT,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    client TEXT NOT NULL,
    outcome TEXT NOT NULL
);
",
    "
-- Webhook events waiting to be delivered (a transactional outbox): written in the monitor's
-- transaction with the findings they announce, sent at least once by a relay, each with its
-- id for receivers to de-duplicate by.
CREATE TABLE IF NOT EXISTS outbox (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    -- The environment variable holding the HMAC secret: the secret itself is never stored.
    secret_env TEXT NOT NULL,
    body TEXT NOT NULL,
    created TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt TEXT NOT NULL,
    delivered TEXT,
    last_error TEXT
) {without_rowid};
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (delivered, next_attempt);
",
    "
-- Webhooks registered through the API (those in custody.toml are not here). The HMAC secret is
-- kept, since every event must be signed with it; it is shown once, when registered.
CREATE TABLE IF NOT EXISTS webhooks (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    -- 1 when it was registered with loopback or private addresses allowed.
    private_ok BIGINT NOT NULL DEFAULT 0,
    created TEXT NOT NULL,
    removed TEXT
) {without_rowid};
-- An event for a registered webhook names it; one for a configured webhook names the
-- environment variable of its secret instead.
ALTER TABLE outbox ADD COLUMN webhook TEXT;
",
    "
-- What the dashboard shows without reading the advisory database or the SBOM again: a
-- component's licence (an SPDX expression, as the SBOM gave it) and, per finding, the facts of
-- its advisory when it was recorded.
ALTER TABLE packages ADD COLUMN license TEXT;
ALTER TABLE findings ADD COLUMN severity TEXT;
ALTER TABLE findings ADD COLUMN fixed TEXT;
ALTER TABLE findings ADD COLUMN summary TEXT;
CREATE INDEX IF NOT EXISTS findings_by_id ON findings (id);
-- A product's latest release, and its releases newest first, by one index seek.
CREATE INDEX IF NOT EXISTS releases_latest ON releases (product, added, id);
",
];

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
    /// Licences by package URL, as the SBOM gave them (SPDX expressions).
    pub licenses: &'a BTreeMap<String, String>,
    /// Findings already known when it was released (the release gate's): not news later.
    pub known: &'a [custody_vuln::vex::Assessed],
}

/// A finding the catalog holds for a release.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StoredFinding {
    /// The finding's id.
    pub id: String,
    /// The package, by its indexed (normalised) name.
    pub package: String,
    /// The package's version.
    pub version: String,
    /// The VEX status when it was recorded.
    pub vex: Option<String>,
    /// The package's ecosystem.
    pub ecosystem: String,
    /// `critical`, `high`, `medium`, `low`, `none`, `unscored` or `warning`; absent for a
    /// finding recorded before the catalog kept it.
    pub severity: Option<String>,
    /// The smallest version that fixes it, when the advisory names one.
    pub fixed: Option<String>,
    /// The advisory's summary.
    pub summary: Option<String>,
    /// When it was first recorded for this release (RFC 3339).
    pub first_seen: String,
}

/// Whether a finding with this VEX status is still open: not `not_affected`, not `fixed`.
pub fn is_open(vex: Option<&str>) -> bool {
    !matches!(vex, Some("not_affected" | "fixed"))
}

/// A product as the products page lists it: its latest release and that release's open
/// findings.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ProductSummary {
    /// The product.
    pub product: String,
    /// How many releases it has.
    pub releases: i64,
    /// Its latest release.
    pub latest: String,
    /// When that was catalogued.
    pub added: String,
    /// That release's open findings by severity (see [`StoredFinding::severity`]; `unknown`
    /// for findings recorded without one).
    pub open: BTreeMap<String, i64>,
}

/// One release of a product with its open findings by severity: a point of the findings plot.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReleaseFindings {
    /// The version.
    pub version: String,
    /// When it was catalogued.
    pub added: String,
    /// Open findings by severity.
    pub open: BTreeMap<String, i64>,
}

/// A release an advisory affects: which of its packages, and the VEX status recorded.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AffectedRelease {
    /// The product.
    pub product: String,
    /// The version.
    pub version: String,
    /// The package, by its indexed name.
    pub package: String,
    /// The package's version.
    pub package_version: String,
    /// The VEX status recorded, if any.
    pub vex: Option<String>,
    /// When the finding was first recorded.
    pub first_seen: String,
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

/// A release as listed: what it is and when it was catalogued.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ListedRelease {
    /// The product.
    pub product: String,
    /// The version.
    pub version: String,
    /// When it was catalogued (RFC 3339).
    pub added: String,
    /// Its artifacts' file names.
    pub artifacts: Vec<String>,
}

/// A component of a release, as its SBOM names it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Component {
    /// Its ecosystem (`crates.io`, `npm`, `Go`...).
    pub ecosystem: String,
    /// Its name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Its package URL, when known.
    pub purl: Option<String>,
    /// Its licence (an SPDX expression), when the SBOM named one.
    pub license: Option<String>,
}

/// The catalog, in whichever [`Backend`] holds it.
#[derive(Debug)]
pub struct Catalog {
    backend: Box<dyn Backend>,
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

/// What the catalog keeps of a finding's advisory, as `[severity, fixed, summary]`: the rating
/// (`critical`... `unscored`, or `warning` for an informational advisory such as an
/// unmaintained crate), the smallest fixed version, and the advisory's summary.
pub(crate) fn finding_facts(f: &custody_vuln::Finding) -> [Option<&str>; 3] {
    let severity = if f.is_warning() {
        "warning"
    } else {
        custody_vuln::report::rating_name(f)
    };
    [
        Some(severity),
        f.smallest_fix.as_deref(),
        f.advisories.iter().find_map(|a| a.summary.as_deref()),
    ]
}

/// `map_err` helper naming the query.
pub(crate) fn query_failed(what: &'static str) -> impl FnOnce(BackendError) -> Error {
    move |source| Error::Query { what, source }
}

/// A transaction: rolled back when dropped uncommitted (an error, a panic, a refused
/// publish), so nothing half-done is ever seen.
pub(crate) struct Tx<'a> {
    catalog: &'a mut Catalog,
    open: bool,
}

impl Tx<'_> {
    pub(crate) fn commit(mut self) -> Result<(), Error> {
        self.open = false;
        self.catalog
            .backend
            .batch("COMMIT")
            .map_err(query_failed("commit"))
    }
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        if self.open {
            // Best effort: a connection that cannot roll back is broken, and the database
            // drops the transaction with it.
            let _ = self.catalog.backend.batch("ROLLBACK");
        }
    }
}

impl std::ops::Deref for Tx<'_> {
    type Target = Catalog;
    fn deref(&self) -> &Catalog {
        self.catalog
    }
}

impl std::ops::DerefMut for Tx<'_> {
    fn deref_mut(&mut self) -> &mut Catalog {
        self.catalog
    }
}

/// Column readers: the catalog wrote every row, so a value of the wrong kind means someone
/// else did.
pub(crate) fn int(row: &Row, index: usize, what: &'static str) -> Result<i64, Error> {
    match row.get(index) {
        Some(Value::Int(n)) => Ok(*n),
        _ => Err(Error::Column {
            what,
            index,
            expected: "an integer",
        }),
    }
}

pub(crate) fn text(row: &Row, index: usize, what: &'static str) -> Result<String, Error> {
    match row.get(index) {
        Some(Value::Text(t)) => Ok(t.clone()),
        _ => Err(Error::Column {
            what,
            index,
            expected: "text",
        }),
    }
}

pub(crate) fn opt_text(
    row: &Row,
    index: usize,
    what: &'static str,
) -> Result<Option<String>, Error> {
    match row.get(index) {
        Some(Value::Text(t)) => Ok(Some(t.clone())),
        Some(Value::Null) => Ok(None),
        _ => Err(Error::Column {
            what,
            index,
            expected: "text or null",
        }),
    }
}

/// The columns `SELECT id, product, version, dir, artifacts` from `at` on.
pub(crate) fn release_info(row: &Row, at: usize) -> Result<ReleaseInfo, Error> {
    const WHAT: &str = "release";
    let artifacts = text(row, at + 4, WHAT)?;
    Ok(ReleaseInfo {
        id: int(row, at, WHAT)?,
        product: text(row, at + 1, WHAT)?,
        version: text(row, at + 2, WHAT)?,
        dir: PathBuf::from(text(row, at + 3, WHAT)?),
        artifacts: serde_json::from_str(&artifacts).map_err(|source| Error::Corrupt {
            what: "artifact list",
            source,
        })?,
    })
}

/// The columns `product, version, added, artifacts`.
fn listed_release(r: &Row) -> Result<ListedRelease, Error> {
    const WHAT: &str = "release";
    Ok(ListedRelease {
        product: text(r, 0, WHAT)?,
        version: text(r, 1, WHAT)?,
        added: text(r, 2, WHAT)?,
        artifacts: serde_json::from_str(&text(r, 3, WHAT)?).map_err(|source| Error::Corrupt {
            what: "artifact list",
            source,
        })?,
    })
}

/// The columns `ecosystem, name, version, purl` from `at` on.
pub(crate) fn package(row: &Row, at: usize) -> Result<PackageRef, Error> {
    const WHAT: &str = "package";
    let mut p = PackageRef::new(
        Ecosystem::parse(&text(row, at, WHAT)?),
        text(row, at + 1, WHAT)?,
        text(row, at + 2, WHAT)?,
    );
    p.purl = opt_text(row, at + 3, WHAT)?;
    Ok(p)
}

impl Catalog {
    /// Opens (creating if needed) the SQLite catalog at `path`.
    pub fn open(path: &Path) -> Result<Self, Error> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            // SQLite's own error for a missing directory ("unable to open database file")
            // does not say which; creating it is what the user wants anyway.
            let _ = std::fs::create_dir_all(dir);
        }
        let backend = Sqlite::open(path).map_err(|source| Error::Open {
            location: path.display().to_string(),
            source,
        })?;
        Self::with_backend(Box::new(backend))
    }

    /// A catalog in memory (SQLite), gone when dropped: the twin tests use.
    pub fn in_memory() -> Result<Self, Error> {
        let backend = Sqlite::in_memory().map_err(|source| Error::Open {
            location: ":memory:".into(),
            source,
        })?;
        Self::with_backend(Box::new(backend))
    }

    /// Connects to the PostgreSQL catalog at `url` (`postgres://user:password@host/db`).
    pub fn connect(url: &str) -> Result<Self, Error> {
        let backend = Postgres::connect(url).map_err(|source| Error::Open {
            location: crate::backend::redact(url),
            source,
        })?;
        Self::with_backend(Box::new(backend))
    }

    /// The catalog `location` names: a `postgres://` or `postgresql://` URL, else a SQLite
    /// file.
    pub fn at(location: &str) -> Result<Self, Error> {
        if is_url(location) {
            Self::connect(location)
        } else {
            Self::open(Path::new(location))
        }
    }

    /// Brings `backend`'s schema up to date and wraps it.
    pub fn with_backend(backend: Box<dyn Backend>) -> Result<Self, Error> {
        let mut catalog = Self { backend };
        catalog.migrate()?;
        Ok(catalog)
    }

    /// Where the catalog lives, for messages.
    pub fn location(&self) -> &str {
        self.backend.location()
    }

    /// Whether its connection is gone for good (a PostgreSQL server that closed it).
    pub fn is_closed(&self) -> bool {
        self.backend.is_closed()
    }

    fn migrate(&mut self) -> Result<(), Error> {
        let failed = |location: &str| {
            let location = location.to_owned();
            move |source| Error::Open { location, source }
        };
        let location = self.location().to_owned();
        let latest = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
        // Read without the lock first: an up-to-date database (every open but the first)
        // never waits for another process's migration lock.
        let found = self.backend.schema_version().map_err(failed(&location))?;
        if found > latest {
            return Err(Error::SchemaTooNew {
                found,
                supported: latest,
            });
        }
        if found == latest {
            return Ok(());
        }
        self.backend.begin_migration().map_err(failed(&location))?;
        let mut tx = Tx {
            catalog: self,
            open: true,
        };
        let found = tx.backend.schema_version().map_err(failed(&location))?;
        let dialect = tx.backend.dialect();
        for (done, migration) in MIGRATIONS.iter().enumerate() {
            if i64::try_from(done).unwrap_or(i64::MAX) < found {
                continue;
            }
            tx.backend
                .batch(&dialect.render(migration))
                .map_err(failed(&location))?;
        }
        tx.backend
            .set_schema_version(latest)
            .map_err(failed(&location))?;
        tx.commit()
    }

    /// Starts a transaction.
    pub(crate) fn begin(&mut self) -> Result<Tx<'_>, Error> {
        self.backend.batch("BEGIN").map_err(query_failed("begin"))?;
        Ok(Tx {
            catalog: self,
            open: true,
        })
    }

    /// Runs one query.
    pub(crate) fn query(
        &mut self,
        what: &'static str,
        sql: &'static str,
        params: &[Param<'_>],
    ) -> Result<Vec<Row>, Error> {
        self.backend.query(sql, params).map_err(query_failed(what))
    }

    /// Runs one statement.
    pub(crate) fn execute(
        &mut self,
        what: &'static str,
        sql: &'static str,
        params: &[Param<'_>],
    ) -> Result<u64, Error> {
        self.backend
            .execute(sql, params)
            .map_err(query_failed(what))
    }

    /// Adds a release; `false` (and nothing changed) when that product and version is already
    /// there, since published versions are immutable.
    pub fn add_release(&mut self, r: &NewRelease<'_>, now: &str) -> Result<bool, Error> {
        let artifacts = serde_json::to_string(r.artifacts).map_err(|source| Error::Corrupt {
            what: "artifact list",
            source,
        })?;
        let dir = r.dir.to_string_lossy();
        let mut tx = self.begin()?;
        // ON CONFLICT DO NOTHING: a concurrent add of the same version (another frontend)
        // returns no row instead of failing the transaction.
        let inserted = tx.query(
            "adding a release",
            "INSERT INTO releases (product, version, dir, added, sbom, artifacts)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (product, version) DO NOTHING RETURNING id",
            &[
                r.product.into(),
                r.version.into(),
                Param::Text(Some(&dir)),
                now.into(),
                r.sbom.into(),
                (&artifacts).into(),
            ],
        )?;
        let Some(row) = inserted.first() else {
            return Ok(false);
        };
        let id = int(row, 0, "release id")?;
        for p in r.packages {
            let key = p.ecosystem.normalise_name(&p.name);
            tx.execute(
                "adding packages",
                "INSERT INTO packages (release, ecosystem, key, name, version, purl, license)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[
                    id.into(),
                    p.ecosystem.as_str().into(),
                    (&key).into(),
                    (&p.name).into(),
                    (&p.version).into(),
                    p.purl.as_deref().into(),
                    p.purl
                        .as_ref()
                        .and_then(|purl| r.licenses.get(purl))
                        .map(String::as_str)
                        .into(),
                ],
            )?;
        }
        for a in r.known {
            let (fid, eco, key, version) = finding_key(&a.finding);
            let [severity, fixed, summary] = finding_facts(&a.finding);
            tx.execute(
                "adding findings",
                "INSERT INTO findings
                   (release, id, ecosystem, key, version, vex, first_seen, severity, fixed, summary)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
                &[
                    id.into(),
                    (&fid).into(),
                    (&eco).into(),
                    (&key).into(),
                    (&version).into(),
                    a.vex.as_ref().map(|v| v.status.as_str()).into(),
                    now.into(),
                    severity.into(),
                    fixed.into(),
                    summary.into(),
                ],
            )?;
        }
        tx.commit()?;
        Ok(true)
    }

    /// Whether this product and version is in the catalog.
    pub fn contains(&mut self, product: &str, version: &str) -> Result<bool, Error> {
        Ok(!self
            .query(
                "looking up a release",
                "SELECT 1 FROM releases WHERE product = $1 AND version = $2",
                &[product.into(), version.into()],
            )?
            .is_empty())
    }

    /// How many releases the catalog holds.
    pub fn len(&mut self) -> Result<usize, Error> {
        let rows = self.query("counting releases", "SELECT count(*) FROM releases", &[])?;
        let n = rows
            .first()
            .map(|r| int(r, 0, "release count"))
            .transpose()?
            .unwrap_or(0);
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// Whether the catalog holds no release.
    pub fn is_empty(&mut self) -> Result<bool, Error> {
        Ok(self.len()? == 0)
    }

    /// The findings stored for a release.
    pub fn findings(&mut self, product: &str, version: &str) -> Result<Vec<StoredFinding>, Error> {
        const WHAT: &str = "finding";
        self.query(
            "reading findings",
            "SELECT f.id, f.key, f.version, f.vex, f.ecosystem, f.severity, f.fixed, f.summary,
                    f.first_seen
             FROM findings f JOIN releases r ON r.id = f.release
             WHERE r.product = $1 AND r.version = $2 ORDER BY f.id, f.key",
            &[product.into(), version.into()],
        )?
        .iter()
        .map(|r| {
            Ok(StoredFinding {
                id: text(r, 0, WHAT)?,
                package: text(r, 1, WHAT)?,
                version: text(r, 2, WHAT)?,
                vex: opt_text(r, 3, WHAT)?,
                ecosystem: text(r, 4, WHAT)?,
                severity: opt_text(r, 5, WHAT)?,
                fixed: opt_text(r, 6, WHAT)?,
                summary: opt_text(r, 7, WHAT)?,
                first_seen: text(r, 8, WHAT)?,
            })
        })
        .collect()
    }

    /// Every product with its latest release and that release's open findings by severity,
    /// by product name: the products from the index on (product, added), then one seek each
    /// for the latest (a window over every release took 15 times as long at 20,000).
    pub fn products(&mut self) -> Result<Vec<ProductSummary>, Error> {
        const WHAT: &str = "product";
        let rows = self.query(
            "listing products",
            "WITH products AS (
               SELECT product, COUNT(*) AS releases FROM releases GROUP BY product),
             latest AS (
               SELECT p.product, p.releases,
                      (SELECT x.id FROM releases x WHERE x.product = p.product
                       ORDER BY x.added DESC, x.id DESC LIMIT 1) AS id
               FROM products p)
             SELECT l.product, r.version, r.added, l.releases,
                    COALESCE(f.severity, 'unknown'), COUNT(f.id)
             FROM latest l JOIN releases r ON r.id = l.id
             LEFT JOIN findings f ON f.release = r.id
               AND (f.vex IS NULL OR f.vex NOT IN ('not_affected', 'fixed'))
             GROUP BY l.product, r.version, r.added, l.releases, COALESCE(f.severity, 'unknown')
             ORDER BY l.product",
            &[],
        )?;
        let mut out: Vec<ProductSummary> = Vec::new();
        for r in &rows {
            let product = text(r, 0, WHAT)?;
            if out.last().is_none_or(|p| p.product != product) {
                out.push(ProductSummary {
                    product,
                    latest: text(r, 1, WHAT)?,
                    added: text(r, 2, WHAT)?,
                    releases: int(r, 3, WHAT)?,
                    open: BTreeMap::new(),
                });
            }
            let count = int(r, 5, WHAT)?;
            if count > 0
                && let Some(last) = out.last_mut()
            {
                last.open.insert(text(r, 4, WHAT)?, count);
            }
        }
        Ok(out)
    }

    /// A product's releases, newest first, each with its open findings by severity.
    pub fn release_findings(
        &mut self,
        product: &str,
        limit: i64,
    ) -> Result<Vec<ReleaseFindings>, Error> {
        const WHAT: &str = "release findings";
        let rows = self.query(
            "counting findings per release",
            "WITH latest AS (
               SELECT id, version, added FROM releases WHERE product = $1
               ORDER BY added DESC, id DESC LIMIT $2)
             SELECT l.version, l.added, COALESCE(f.severity, 'unknown'), COUNT(f.id)
             FROM latest l
             LEFT JOIN findings f ON f.release = l.id
               AND (f.vex IS NULL OR f.vex NOT IN ('not_affected', 'fixed'))
             GROUP BY l.id, l.version, l.added, COALESCE(f.severity, 'unknown')
             ORDER BY l.added DESC, l.id DESC",
            &[product.into(), Param::Int(limit)],
        )?;
        let mut out: Vec<ReleaseFindings> = Vec::new();
        for r in &rows {
            let version = text(r, 0, WHAT)?;
            if out.last().is_none_or(|p| p.version != version) {
                out.push(ReleaseFindings {
                    version,
                    added: text(r, 1, WHAT)?,
                    open: BTreeMap::new(),
                });
            }
            let count = int(r, 3, WHAT)?;
            if count > 0
                && let Some(last) = out.last_mut()
            {
                last.open.insert(text(r, 2, WHAT)?, count);
            }
        }
        Ok(out)
    }

    /// The releases an advisory affects, as the monitor recorded them.
    pub fn affected_by(&mut self, advisory: &str) -> Result<Vec<AffectedRelease>, Error> {
        const WHAT: &str = "affected release";
        self.query(
            "listing releases an advisory affects",
            "SELECT r.product, r.version, f.key, f.version, f.vex, f.first_seen
             FROM findings f JOIN releases r ON r.id = f.release
             WHERE f.id = $1 ORDER BY r.product, r.added DESC, r.id DESC, f.key",
            &[advisory.into()],
        )?
        .iter()
        .map(|r| {
            Ok(AffectedRelease {
                product: text(r, 0, WHAT)?,
                version: text(r, 1, WHAT)?,
                package: text(r, 2, WHAT)?,
                package_version: text(r, 3, WHAT)?,
                vex: opt_text(r, 4, WHAT)?,
                first_seen: text(r, 5, WHAT)?,
            })
        })
        .collect()
    }

    /// One release as listed, if the catalog holds it.
    pub fn release(
        &mut self,
        product: &str,
        version: &str,
    ) -> Result<Option<ListedRelease>, Error> {
        let rows = self.query(
            "reading a release",
            "SELECT product, version, added, artifacts FROM releases
             WHERE product = $1 AND version = $2",
            &[product.into(), version.into()],
        )?;
        rows.first().map(listed_release).transpose()
    }

    /// The packages (ecosystem, indexed name) an advisory named when the monitor last saw it;
    /// `None` when it never saw it.
    pub fn advisory_packages(&mut self, id: &str) -> Result<Option<Vec<(String, String)>>, Error> {
        let rows = self.query(
            "reading an advisory's packages",
            "SELECT packages FROM advisories WHERE id = $1",
            &[id.into()],
        )?;
        rows.first()
            .map(|r| {
                serde_json::from_str(&text(r, 0, "advisory packages")?).map_err(|source| {
                    Error::Corrupt {
                        what: "advisory package list",
                        source,
                    }
                })
            })
            .transpose()
    }

    /// A release's SBOM as published (CycloneDX JSON), if it had one; `None` also when the
    /// release is not in the catalog.
    pub fn sbom(&mut self, product: &str, version: &str) -> Result<Option<String>, Error> {
        let rows = self.query(
            "reading an SBOM",
            "SELECT sbom FROM releases WHERE product = $1 AND version = $2",
            &[product.into(), version.into()],
        )?;
        match rows.first() {
            Some(r) => opt_text(r, 0, "SBOM"),
            None => Ok(None),
        }
    }

    /// Releases, newest first: of one product, or of all. (The CAST tells PostgreSQL the type
    /// of a parameter that is only compared with NULL.)
    pub fn releases(
        &mut self,
        product: Option<&str>,
        limit: i64,
    ) -> Result<Vec<ListedRelease>, Error> {
        self.query(
            "listing releases",
            "SELECT product, version, added, artifacts FROM releases
             WHERE CAST($1 AS TEXT) IS NULL OR product = $1
             ORDER BY added DESC, id DESC LIMIT $2",
            &[product.into(), Param::Int(limit)],
        )?
        .iter()
        .map(listed_release)
        .collect()
    }

    /// A release's components, by ecosystem and name.
    pub fn components(&mut self, product: &str, version: &str) -> Result<Vec<Component>, Error> {
        const WHAT: &str = "component";
        self.query(
            "reading components",
            "SELECT p.ecosystem, p.name, p.version, p.purl, p.license FROM packages p
             JOIN releases r ON r.id = p.release
             WHERE r.product = $1 AND r.version = $2 ORDER BY p.ecosystem, p.key, p.version",
            &[product.into(), version.into()],
        )?
        .iter()
        .map(|r| {
            Ok(Component {
                ecosystem: text(r, 0, WHAT)?,
                name: text(r, 1, WHAT)?,
                version: text(r, 2, WHAT)?,
                purl: opt_text(r, 3, WHAT)?,
                license: opt_text(r, 4, WHAT)?,
            })
        })
        .collect()
    }

    /// The advisories as the last monitor run saw them.
    pub(crate) fn advisory_state(&mut self) -> Result<BTreeMap<String, AdvisoryStamp>, Error> {
        const WHAT: &str = "advisory state";
        let rows = self.query(
            "reading advisory state",
            "SELECT id, digest, packages FROM advisories",
            &[],
        )?;
        let mut out = BTreeMap::new();
        for r in &rows {
            let packages: Vec<(String, String)> = serde_json::from_str(&text(r, 2, WHAT)?)
                .map_err(|source| Error::Corrupt {
                    what: "advisory package list",
                    source,
                })?;
            out.insert(
                text(r, 0, WHAT)?,
                AdvisoryStamp {
                    digest: text(r, 1, WHAT)?,
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

/// Whether `location` is a PostgreSQL URL rather than a file.
pub fn is_url(location: &str) -> bool {
    location.starts_with("postgres://") || location.starts_with("postgresql://")
}
