//! custody-vuln: OSV advisories, per-ecosystem version order, and exact
//! matching of packages against them.
//!
//! # Overview
//! - [`osv`]: the OSV schema's nouns ([`Advisory`], [`Affected`], [`Range`],
//!   [`Event`], [`Severity`]) and parsers for OSV JSON and the YAML form the
//!   PyPA database publishes, with a size limit.
//! - [`version`]: each ecosystem's own version order (SemVer, Go, PEP 440,
//!   RubyGems, Maven, Composer, dpkg), as small fuzzable parsers.
//! - [`range`]: the OSV evaluation algorithm over compiled ranges; anything
//!   undecidable is a [`Verdict::Unknown`] with its reason, never "not affected".
//! - [`index`]: an in-memory [`Index`] from (ecosystem, normalised name) to
//!   advisories, and the matcher that turns a list of packages into
//!   [`Finding`]s, one per vulnerability (aliases grouped transitively).
//! - [`import`] and [`rustsec`]: reading OSV directories and the RustSec
//!   database; a malformed advisory is reported and skipped.
//!
//! The matching core does no I/O: the index is built from parsed advisories
//! and answers queries from memory. Reading directories is at the edge.
//!
//! # Example
//! ```
//! use custody_vuln::{Advisory, Ecosystem, Index, MatchOptions, PackageRef};
//!
//! let json = br#"{
//!   "id": "GO-2020-0001",
//!   "aliases": ["CVE-2020-36567", "GHSA-6vm3-jj99-7229"],
//!   "affected": [{
//!     "package": {"ecosystem": "Go", "name": "github.com/gin-gonic/gin"},
//!     "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "1.6.0"}]}]
//!   }]
//! }"#;
//! let advisory = Advisory::from_json(json, "GO-2020-0001.json")?;
//! let mut index = Index::new();
//! index.insert(advisory, "Go", None);
//!
//! // go.mod spells versions with a `v`; OSV does not. Both are understood.
//! let gin = PackageRef::new(Ecosystem::Go, "github.com/gin-gonic/gin", "v1.5.0");
//! let findings = index.scan(&[gin], &MatchOptions::default());
//! assert_eq!(findings.len(), 1);
//! assert_eq!(findings[0].id, "GO-2020-0001");
//! assert!(findings[0].is_affected());
//! assert_eq!(findings[0].smallest_fix.as_deref(), Some("1.6.0"));
//!
//! let fixed = PackageRef::new(Ecosystem::Go, "github.com/gin-gonic/gin", "v1.6.0");
//! assert!(index.scan(&[fixed], &MatchOptions::default()).is_empty());
//! # Ok::<(), custody_vuln::Error>(())
//! ```

mod error;

pub mod ecosystem;
pub mod import;
pub mod index;
pub mod osv;
pub mod range;
pub mod rustsec;
pub mod severity;
pub mod store;
pub mod version;

pub use ecosystem::Ecosystem;
pub use error::Error;
pub use index::{
    AdvisoryRef, Finding, FindingKind, FindingStatus, Index, MatchOptions, PackageRef,
};
pub use osv::{Advisory, Affected, Event, Package, Range, RangeKind, Severity};
pub use range::{CompiledAffected, QueryVersion, UnknownReason, Verdict};
pub use severity::{Rating, Score, SeverityReport};
pub use store::{ImportSummary, SourceKind, Store};
pub use version::{Version, VersionScheme};
