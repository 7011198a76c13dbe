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
//! - [`import`] and [`rustsec`]: reading OSV directories, osv.dev-style
//!   zips and the RustSec database; a malformed advisory is reported and
//!   skipped, the rest imported.
//! - [`report`]: the release gate's severity threshold (failing closed on
//!   unscored and undecidable findings), counts, and SARIF 2.1.0.
//! - [`vex`]: OpenVEX v0.2.0 documents and applying their statements to
//!   findings; `not_affected` and `fixed` ones are kept out of the gate.
//! - [`store`]: the persistent, incrementally updated advisory index on disk
//!   (one JSON file per source, change detection by SHA-256).
//! - [`pack`]: per-ecosystem packs written at import, so a scan reads and
//!   decodes only the advisories naming its packages.
//!
//! # Design
//! The matching core does no I/O: the index is built from parsed advisories
//! and answers queries from memory; reading directories and the store sit at
//! the edge. Every `affected[]` entry is compiled once (event versions parsed
//! and sorted under the ecosystem's scheme), so a scan parses only the
//! scanned version, once per scheme. Undecidable questions are "unknown"
//! findings with a reason; no version order is trusted to be total before
//! sorting (Maven's is not), so no input can make a sort panic.
//!
//! | ecosystem | order | notes |
//! |---|---|---|
//! | crates.io, npm | SemVer 2.0 (`semver`) | pre-releases ordered; build metadata ignored |
//! | Go | SemVer with optional `v` | pseudo-versions, `+incompatible`, `go1.21rc2` for `stdlib` |
//! | PyPI | PEP 440 (`pep440_rs`) | names normalised per PEP 503 on both sides |
//! | RubyGems | `Gem::Version` | |
//! | Maven | the published Version Order Specification | not a total order on odd inputs |
//! | Packagist | Composer normalisation + PHP `version_compare` | branches (`dev-main`) rejected |
//! | Debian, Ubuntu | dpkg | epochs, `~` |
//!
//! Severity is scored with RustSec's `cvss` crate, whose 3.x releases score
//! CVSS v2, v3.0, v3.1 and v4.0 vectors.
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
pub mod pack;
pub mod range;
pub mod report;
pub mod rustsec;
pub mod severity;
pub mod store;
pub mod version;
pub mod vex;

pub use ecosystem::Ecosystem;
pub use error::Error;
pub use index::{
    AdvisoryRef, Finding, FindingKind, FindingStatus, Index, MatchOptions, PackageRef,
};
pub use osv::{Advisory, Affected, Event, Package, Range, RangeKind, Severity};
pub use pack::{AdvisoryStamp, Packs, load_index, open_current};
pub use range::{CompiledAffected, QueryVersion, UnknownReason, Verdict};
pub use severity::{Rating, Score, SeverityReport};
pub use store::{ImportSummary, SourceKind, Store};
pub use version::{Version, VersionScheme};
pub use vex::{Assessed, Document as VexDocument, Justification, Statement, Status};
