//! OSV schema types (ossf.github.io/osv-schema, 1.x) and their parsers.
//!
//! Only what matching and reporting need is typed; the open-ended
//! `ecosystem_specific` and `database_specific` objects stay JSON values.
//! Parsing is strict where the spec is (an event has exactly one key) and
//! lenient where real databases are (`null` for an empty list).

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::Error;
use crate::ecosystem::Ecosystem;

/// Largest advisory the parsers accept. The biggest real one in the
/// crates.io, Go and PyPI databases is under 20 KiB; a megabyte leaves room
/// for long `versions` lists while bounding memory on a hostile file.
pub const MAX_ADVISORY_BYTES: u64 = 1024 * 1024;

/// One OSV advisory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Advisory {
    /// `schema_version`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_version: Option<String>,
    /// `id`, e.g. `GO-2020-0001`.
    pub id: String,
    /// `modified` (RFC 3339). Required by OSV, but not trusted for
    /// change detection: the Go database sets it to `0001-01-01` everywhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified: Option<String>,
    /// `published`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
    /// `withdrawn`: set when the advisory was retracted; matching skips it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdrawn: Option<String>,
    /// `aliases`: other ids of the same vulnerability.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub aliases: Vec<String>,
    /// `related`: ids of related but distinct vulnerabilities.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub related: Vec<String>,
    /// `summary`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// `details` (CommonMark).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    /// `severity`.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub severity: Vec<Severity>,
    /// `affected`.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub affected: Vec<Affected>,
    /// `references`.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub references: Vec<Reference>,
    /// `database_specific`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_specific: Option<Value>,
}

/// One `affected[]` entry: a package and the versions of it that are affected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Affected {
    /// `package`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<Package>,
    /// `severity` for this package only (OSV 1.4).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub severity: Vec<Severity>,
    /// `ranges`.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub ranges: Vec<Range>,
    /// `versions`: affected versions listed one by one.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub versions: Vec<String>,
    /// `ecosystem_specific`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecosystem_specific: Option<Value>,
    /// `database_specific`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_specific: Option<Value>,
}

/// `affected[].package`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    /// `ecosystem`, as spelled in the advisory (`Debian:11`).
    pub ecosystem: String,
    /// `name`.
    pub name: String,
    /// `purl`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
}

impl Package {
    /// The parsed ecosystem.
    pub fn ecosystem(&self) -> Ecosystem {
        Ecosystem::parse(&self.ecosystem)
    }
}

/// One `affected[].ranges[]` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Range {
    /// `type`.
    #[serde(rename = "type")]
    pub kind: RangeKind,
    /// `repo` (GIT ranges).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    /// `events`.
    #[serde(default, deserialize_with = "nullable")]
    pub events: Vec<Event>,
    /// `database_specific`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_specific: Option<Value>,
}

/// `ranges[].type`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RangeKind {
    /// `SEMVER`: SemVer 2.0 versions, no `v` prefix.
    SemVer,
    /// `ECOSYSTEM`: the package ecosystem's own version order.
    Ecosystem,
    /// `GIT`: commit hashes; never compared with version strings.
    Git,
    /// A type this crate does not know; ranges of it yield "unknown".
    Other(String),
}

impl RangeKind {
    fn as_str(&self) -> &str {
        match self {
            Self::SemVer => "SEMVER",
            Self::Ecosystem => "ECOSYSTEM",
            Self::Git => "GIT",
            Self::Other(s) => s,
        }
    }
}

impl fmt::Display for RangeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for RangeKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for RangeKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(match s.as_str() {
            "SEMVER" => Self::SemVer,
            "ECOSYSTEM" => Self::Ecosystem,
            "GIT" => Self::Git,
            _ => Self::Other(s),
        })
    }
}

/// One `events[]` entry; OSV allows exactly one key per event.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// The version that introduced the vulnerability (`"0"`: from the start).
    Introduced(String),
    /// The first version without it (exclusive end).
    Fixed(String),
    /// The last version with it (inclusive end).
    LastAffected(String),
    /// An upper bound on the range (exclusive).
    Limit(String),
}

// Deserialized through a struct rather than serde's externally tagged enum
// form, which YAML deserializers expect as `!tag` rather than a one-key map.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEvent {
    introduced: Option<String>,
    fixed: Option<String>,
    last_affected: Option<String>,
    limit: Option<String>,
}

impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = RawEvent::deserialize(d)?;
        match (raw.introduced, raw.fixed, raw.last_affected, raw.limit) {
            (Some(v), None, None, None) => Ok(Self::Introduced(v)),
            (None, Some(v), None, None) => Ok(Self::Fixed(v)),
            (None, None, Some(v), None) => Ok(Self::LastAffected(v)),
            (None, None, None, Some(v)) => Ok(Self::Limit(v)),
            _ => Err(serde::de::Error::custom(
                "an event has exactly one of introduced, fixed, last_affected, limit",
            )),
        }
    }
}

impl Event {
    /// The version or commit the event names.
    pub fn value(&self) -> &str {
        match self {
            Self::Introduced(v) | Self::Fixed(v) | Self::LastAffected(v) | Self::Limit(v) => v,
        }
    }
}

/// One `severity[]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Severity {
    /// `type`: `CVSS_V2`, `CVSS_V3`, `CVSS_V4`, `Ubuntu`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// `score`: for CVSS types, the vector string.
    pub score: String,
}

/// One `references[]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reference {
    /// `type`: `ADVISORY`, `FIX`, `WEB`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// `url`.
    pub url: String,
}

fn nullable<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

/// The two encodings OSV advisories come in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// JSON, as OSV specifies.
    Json,
    /// YAML, as the PyPA advisory database publishes.
    Yaml,
}

impl Format {
    /// The format a file name's extension announces.
    pub fn from_path(path: &Path) -> Option<Self> {
        match path.extension()?.to_str()? {
            "json" => Some(Self::Json),
            "yaml" | "yml" => Some(Self::Yaml),
            _ => None,
        }
    }
}

impl Advisory {
    /// Parses one advisory. `origin` names it in errors (usually its path).
    pub fn parse(bytes: &[u8], format: Format, origin: &str) -> Result<Self, Error> {
        if bytes.len() as u64 > MAX_ADVISORY_BYTES {
            return Err(Error::AdvisoryTooLarge {
                origin: origin.to_owned(),
                size: bytes.len() as u64,
                limit: MAX_ADVISORY_BYTES,
            });
        }
        let advisory: Self = match format {
            Format::Json => {
                serde_json::from_slice(bytes).map_err(|source| Error::MalformedJson {
                    origin: origin.to_owned(),
                    source,
                })?
            }
            Format::Yaml => {
                serde_yaml_ng::from_slice(bytes).map_err(|source| Error::MalformedYaml {
                    origin: origin.to_owned(),
                    source,
                })?
            }
        };
        if advisory.id.trim().is_empty() {
            return Err(Error::EmptyId {
                origin: origin.to_owned(),
            });
        }
        Ok(advisory)
    }

    /// Parses OSV JSON.
    pub fn from_json(bytes: &[u8], origin: &str) -> Result<Self, Error> {
        Self::parse(bytes, Format::Json, origin)
    }

    /// Parses OSV YAML.
    pub fn from_yaml(bytes: &[u8], origin: &str) -> Result<Self, Error> {
        Self::parse(bytes, Format::Yaml, origin)
    }

    /// Reads one advisory file, choosing the format by extension and
    /// refusing files over [`MAX_ADVISORY_BYTES`] before reading them.
    pub fn read_file(path: &Path) -> Result<Self, Error> {
        let format = Format::from_path(path).ok_or_else(|| Error::UnknownFileFormat {
            path: path.to_owned(),
        })?;
        let bytes = read_limited(path)?;
        Self::parse(&bytes, format, &path.display().to_string())
    }

    /// Whether the advisory was withdrawn.
    pub fn is_withdrawn(&self) -> bool {
        self.withdrawn.is_some()
    }

    /// The id followed by the aliases.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.id.as_str()).chain(self.aliases.iter().map(String::as_str))
    }

    /// RustSec's informational kind (`unmaintained`, `unsound`, `notice`),
    /// from `affected[].database_specific.informational` in RustSec's OSV
    /// export or the top-level `database_specific` of other exporters.
    pub fn informational(&self) -> Option<&str> {
        fn from(v: &Option<Value>) -> Option<&str> {
            v.as_ref()?
                .get("informational")?
                .as_str()
                .filter(|s| !s.is_empty())
        }
        self.affected
            .iter()
            .find_map(|a| from(&a.database_specific))
            .or_else(|| from(&self.database_specific))
    }
}

/// Reads a file of at most [`MAX_ADVISORY_BYTES`].
pub(crate) fn read_limited(path: &Path) -> Result<Vec<u8>, Error> {
    use std::io::Read;
    let io = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    if size > MAX_ADVISORY_BYTES {
        return Err(Error::AdvisoryTooLarge {
            origin: path.display().to_string(),
            size,
            limit: MAX_ADVISORY_BYTES,
        });
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    // Read one byte past the limit so an oversized file is detected even
    // when its metadata lies (a FIFO, a growing file).
    file.take(MAX_ADVISORY_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_ADVISORY_BYTES {
        return Err(Error::AdvisoryTooLarge {
            origin: path.display().to_string(),
            size: bytes.len() as u64,
            limit: MAX_ADVISORY_BYTES,
        });
    }
    Ok(bytes)
}
