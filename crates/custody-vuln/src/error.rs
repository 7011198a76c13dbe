//! The crate's one error type.

use std::path::PathBuf;

use crate::version::VersionScheme;
use crate::vex::Status;

/// Everything that can go wrong in custody-vuln. Each variant names the rule
/// that was broken and carries the values involved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An advisory file is larger than the import limit.
    #[error("{origin}: advisory is {size} bytes, over the {limit}-byte limit")]
    AdvisoryTooLarge {
        /// Where the advisory came from (a path or a caller-given name).
        origin: String,
        /// Its size.
        size: u64,
        /// The limit in force.
        limit: u64,
    },
    /// An advisory is not valid OSV JSON.
    #[error("{origin}: not a valid OSV advisory in JSON: {source}")]
    MalformedJson {
        /// Where the advisory came from.
        origin: String,
        /// The parser's account, with line and column.
        #[source]
        source: serde_json::Error,
    },
    /// An advisory is not valid OSV YAML.
    #[error("{origin}: not a valid OSV advisory in YAML: {source}")]
    MalformedYaml {
        /// Where the advisory came from.
        origin: String,
        /// The parser's account, with line and column.
        #[source]
        source: serde_yaml_ng::Error,
    },
    /// OSV requires a non-empty `id`.
    #[error("{origin}: the advisory has an empty id")]
    EmptyId {
        /// Where the advisory came from.
        origin: String,
    },
    /// A file name whose extension is neither `.json` nor `.yaml`/`.yml`.
    #[error("{path}: not an OSV file (expected .json, .yaml or .yml)")]
    UnknownFileFormat {
        /// The file.
        path: PathBuf,
    },
    /// A zip archive of advisories could not be read.
    #[error("{path}: not a readable zip archive: {source}")]
    MalformedZip {
        /// The archive (and, for one entry, the entry's name after `!`).
        path: String,
        /// The `zip` crate's account.
        #[source]
        source: zip::result::ZipError,
    },
    /// A RustSec advisory (TOML front matter in Markdown) did not parse.
    #[error("{path}: not a valid RustSec advisory: {source}")]
    MalformedRustSec {
        /// The file.
        path: PathBuf,
        /// The `rustsec` crate's account.
        #[source]
        source: Box<rustsec::Error>,
    },
    /// A RustSec advisory opens with its TOML front matter (a ```` ```toml ```` line).
    #[error("{path}: not a RustSec advisory: it does not start with a ```toml front matter block")]
    RustSecWithoutFrontMatter {
        /// The file.
        path: PathBuf,
    },
    /// RustSec advisories are UTF-8 Markdown.
    #[error("{path}: not UTF-8 text")]
    NotUtf8 {
        /// The file.
        path: PathBuf,
    },
    /// A directory does not have the layout its importer expects.
    #[error("{path}: expected {expected}")]
    UnexpectedLayout {
        /// The directory.
        path: PathBuf,
        /// What should have been there.
        expected: &'static str,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's account.
        #[source]
        source: std::io::Error,
    },
    /// A version string is longer than any parser accepts.
    #[error("{scheme} version of {len} bytes is over the {limit}-byte limit")]
    VersionTooLong {
        /// The scheme it was parsed under.
        scheme: VersionScheme,
        /// Its length.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// Not a SemVer 2.0 version.
    #[error("{version:?} is not a SemVer 2.0 version: {source}")]
    InvalidSemVer {
        /// The text.
        version: String,
        /// What the `semver` crate objected to.
        #[source]
        source: semver::Error,
    },
    /// Not a PEP 440 version.
    #[error("{version:?} is not a PEP 440 version: {source}")]
    InvalidPep440 {
        /// The text.
        version: String,
        /// What `pep440_rs` objected to (boxed: it is large).
        #[source]
        source: Box<pep440_rs::VersionParseError>,
    },
    /// A version broke a rule of its scheme's grammar.
    #[error("{version:?} is not a {scheme} version: {rule}")]
    InvalidVersion {
        /// The scheme.
        scheme: VersionScheme,
        /// The text.
        version: String,
        /// The grammar rule it broke.
        rule: &'static str,
    },
    /// A CVSS vector did not parse.
    #[error("{vector:?} is not a valid CVSS vector: {source}")]
    InvalidCvss {
        /// The vector.
        vector: String,
        /// The `cvss` crate's account.
        #[source]
        source: cvss::Error,
    },
    /// A database source name must be usable as a file name.
    #[error(
        "{name:?} is not a valid source name (letters, digits, '.', '_', '-'; not starting with '.')"
    )]
    InvalidSourceName {
        /// The name given.
        name: String,
    },
    /// A package URL did not parse.
    #[error("{purl:?} is not a valid package URL: {source}")]
    InvalidPurl {
        /// The text.
        purl: String,
        /// The `packageurl` crate's account.
        #[source]
        source: packageurl::Error,
    },
    /// Matching needs a version, and the package URL has none.
    #[error("{purl:?} has no version")]
    PurlWithoutVersion {
        /// The package URL.
        purl: String,
    },
    /// A package URL type with no OSV ecosystem here.
    #[error("{purl:?}: package URL type {purl_type:?} has no OSV ecosystem")]
    UnsupportedPurlType {
        /// The package URL.
        purl: String,
        /// Its type.
        purl_type: String,
    },
    /// The on-disk index was written by another format version.
    #[error("{path}: index format {found}, this build reads {expected}")]
    IndexFormatMismatch {
        /// The index file.
        path: PathBuf,
        /// The version in the file.
        found: u32,
        /// The version this build writes.
        expected: u32,
    },
    /// The on-disk index did not decode.
    #[error("{path}: the index file is corrupt: {source}")]
    IndexCorrupt {
        /// The index file.
        path: PathBuf,
        /// The decoder's account.
        #[source]
        source: serde_json::Error,
    },
    /// A per-ecosystem pack did not decode.
    #[error("{path}: the advisory pack is corrupt ({what}); run `custody db import` again")]
    PackCorrupt {
        /// The pack file.
        path: PathBuf,
        /// What was wrong.
        what: &'static str,
    },

    /// The document is larger than [`crate::vex::MAX_DOCUMENT_BYTES`].
    #[error("the VEX document is {len} bytes, more than the limit of {limit}")]
    VexTooLarge {
        /// Its size.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// Not JSON, or not the OpenVEX shape (unknown status or justification, a
    /// missing required field).
    #[error("not an OpenVEX document")]
    VexMalformed(#[source] serde_json::Error),
    /// `@context` is not OpenVEX v0.2.0.
    #[error("@context is {found:?}, not {:?}", crate::vex::CONTEXT)]
    VexWrongContext {
        /// The `@context` found.
        found: String,
    },
    /// `@id` is empty.
    #[error("the document has an empty @id")]
    VexEmptyDocumentId,
    /// A statement's `vulnerability.name` is empty.
    #[error("statement {index} names no vulnerability")]
    VexEmptyVulnerabilityName {
        /// The statement's position (0-based).
        index: usize,
    },
    /// A statement lists no products (OpenVEX spec, "Statement": products
    /// are required).
    #[error("statement {index} ({vulnerability}) lists no products")]
    VexNoProducts {
        /// The statement's position.
        index: usize,
        /// Its vulnerability name.
        vulnerability: String,
    },
    /// A product with an empty `@id`.
    #[error("statement {index} ({vulnerability}) has a product with an empty @id")]
    VexEmptyProductId {
        /// The statement's position.
        index: usize,
        /// Its vulnerability name.
        vulnerability: String,
    },
    /// `not_affected` without a justification or an impact statement
    /// (OpenVEX spec, "Status Justifications").
    #[error(
        "statement {index} ({vulnerability}) is not_affected but gives neither a justification \
         nor an impact statement"
    )]
    VexNotAffectedWithoutJustification {
        /// The statement's position.
        index: usize,
        /// Its vulnerability name.
        vulnerability: String,
    },
    /// A justification on a status other than `not_affected`, where the spec
    /// gives it no meaning.
    #[error("statement {index} ({vulnerability}) has a justification but status {status}")]
    VexJustificationWithoutNotAffected {
        /// The statement's position.
        index: usize,
        /// Its vulnerability name.
        vulnerability: String,
        /// Its status.
        status: Status,
    },
}
