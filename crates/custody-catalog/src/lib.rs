//! custody-catalog: every release's SBOM in one database, and the monitor that re-scans
//! shipped releases when the advisory database changes.
//!
//! # Design
//! - The database is a [`Backend`]: an embedded SQLite file (the default, nothing to install),
//!   or PostgreSQL, which many `custody serve` frontends share. Every query is written once in
//!   the SQL both accept, the schema is one list of migrations, and the same test suite runs on
//!   both ([`backend`]).
//! - [`Catalog`] keeps, per release (product, version), the SBOM as published and its packages
//!   by (ecosystem, normalised name), indexed, so "which releases contain this package" is one
//!   index lookup; and the findings already known for each release.
//! - [`monitor()`] compares every stored advisory's content hash (SHA-256 of the file as
//!   imported) with the previous run's. `modified` dates are not trusted: the Go database has
//!   `0001-01-01` everywhere. Only packages named by a changed advisory (before or after the
//!   change) can have new findings, so only releases containing such a package are looked at,
//!   and in them only those packages; releases never scanned are scanned whole. Each distinct
//!   (package, version) is matched once however many releases share it.
//! - What is new is what the release's stored findings lack. A finding a VEX statement for the
//!   product suppresses is stored but not reported, so a `not_affected` statement holds for
//!   every version of the product, past and future.
//! - Notices, signatures and webhooks are the caller's: this crate does no network I/O and holds
//!   no keys.
//!
//! # Example
//! ```
//! use custody_catalog::{Catalog, MonitorOptions, NewRelease, monitor};
//! use custody_vuln::{Ecosystem, PackageRef, SourceKind, Store};
//!
//! let tmp = tempfile::tempdir()?;
//! let advisories = tmp.path().join("osv");
//! std::fs::create_dir_all(&advisories)?;
//! std::fs::write(advisories.join("GO-2020-0001.json"), r#"{"id": "GO-2020-0001",
//!   "affected": [{"package": {"ecosystem": "Go", "name": "github.com/gin-gonic/gin"},
//!   "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "1.6.0"}]}]}]}"#)?;
//! let db = tmp.path().join("db");
//! Store::open(&db)?.import("Go", SourceKind::Osv, &advisories)?;
//!
//! let mut catalog = Catalog::open(&tmp.path().join("catalog.sqlite"))?;
//! let gin = PackageRef::new(Ecosystem::Go, "github.com/gin-gonic/gin", "v1.5.0");
//! catalog.add_release(
//!     &NewRelease { product: "app", version: "1.0.0", dir: tmp.path(), sbom: None,
//!                   artifacts: &[], packages: &[gin], licenses: &Default::default(),
//!                   known: &[] },
//!     "2026-01-01T00:00:00Z",
//! )?;
//! let packs = custody_vuln::open_current(&db)?;
//! let no_vex = |_: &str| Vec::new();
//! let options = MonitorOptions { now: "2026-01-02T00:00:00Z", vex: &no_vex };
//! let first = monitor(&mut catalog, &packs, &options)?;
//! assert_eq!(first.new[0].findings[0].finding.id, "GO-2020-0001");
//! // Nothing changed since: nothing is re-scanned, nothing is new.
//! let second = monitor(&mut catalog, &packs, &options)?;
//! assert_eq!(second.rescanned_releases, 0);
//! assert!(second.new.is_empty());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod access;
pub mod backend;
mod catalog;
mod error;
mod lock;
mod monitor;
mod tls;

pub use access::{
    AuditRecord, DeliveryRecord, NewAuditRecord, NewDelivery, NewToken, Pending, SecretRef,
    StoredToken, Webhook,
};
pub use backend::Backend;
pub use catalog::{
    AffectedRelease, Catalog, Component, ListedRelease, NewRelease, ProductSummary,
    ReleaseFindings, ReleaseInfo, StoredFinding, is_open, is_url,
};
pub use error::Error;
pub use lock::WriterLock;
pub use monitor::{MonitorOptions, MonitorReport, ReleaseNews, monitor, monitor_then};
