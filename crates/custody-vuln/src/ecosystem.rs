//! OSV ecosystems and their package-name rules.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::version::VersionScheme;

/// An OSV ecosystem (`affected[].package.ecosystem`).
///
/// A release suffix such as `Debian:11` is dropped here: the index matches a
/// Debian package against every Debian advisory, and the full string stays in
/// the advisory for callers that filter by release.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Ecosystem {
    /// `crates.io`
    CratesIo,
    /// `npm`
    Npm,
    /// `PyPI`
    PyPI,
    /// `Go`
    Go,
    /// `RubyGems`
    RubyGems,
    /// `Maven`
    Maven,
    /// `Packagist`
    Packagist,
    /// `Debian` (any release)
    Debian,
    /// `Ubuntu` (any release); dpkg version order
    Ubuntu,
    /// Any other ecosystem: stored and matched by name, but its versions
    /// have no known order, so every match is "unknown".
    Other(String),
}

impl Ecosystem {
    /// Reads an OSV ecosystem string; the part after `:` (a release) is dropped.
    pub fn parse(s: &str) -> Self {
        let base = s.split(':').next().unwrap_or(s);
        match base {
            "crates.io" => Self::CratesIo,
            "npm" => Self::Npm,
            "PyPI" => Self::PyPI,
            "Go" => Self::Go,
            "RubyGems" => Self::RubyGems,
            "Maven" => Self::Maven,
            "Packagist" => Self::Packagist,
            "Debian" => Self::Debian,
            "Ubuntu" => Self::Ubuntu,
            _ => Self::Other(base.to_owned()),
        }
    }

    /// The OSV spelling.
    pub fn as_str(&self) -> &str {
        match self {
            Self::CratesIo => "crates.io",
            Self::Npm => "npm",
            Self::PyPI => "PyPI",
            Self::Go => "Go",
            Self::RubyGems => "RubyGems",
            Self::Maven => "Maven",
            Self::Packagist => "Packagist",
            Self::Debian => "Debian",
            Self::Ubuntu => "Ubuntu",
            Self::Other(s) => s,
        }
    }

    /// The version order of `ECOSYSTEM` ranges in this ecosystem, if known.
    pub fn scheme(&self) -> Option<VersionScheme> {
        match self {
            Self::CratesIo | Self::Npm => Some(VersionScheme::SemVer),
            Self::PyPI => Some(VersionScheme::Pep440),
            Self::Go => Some(VersionScheme::Go),
            Self::RubyGems => Some(VersionScheme::RubyGems),
            Self::Maven => Some(VersionScheme::Maven),
            Self::Packagist => Some(VersionScheme::Composer),
            Self::Debian | Self::Ubuntu => Some(VersionScheme::Dpkg),
            Self::Other(_) => None,
        }
    }

    /// The name under which a package is indexed, so that both the advisory
    /// side and the scanned side meet on one spelling.
    ///
    /// PyPI: PEP 503 (lowercase, runs of `-`, `_`, `.` become one `-`).
    /// Packagist: Composer package names are case-insensitive, lowercased.
    /// npm is left case-sensitive on purpose: legacy names with capitals
    /// (`JSONStream`) are different packages from their lowercase twins.
    /// Everything else (crates.io, Go module paths, Maven coordinates) is
    /// matched exactly as lockfiles and advisories spell it.
    pub fn normalise_name(&self, name: &str) -> String {
        match self {
            Self::PyPI => pep503_normalise(name),
            Self::Packagist => name.trim().to_ascii_lowercase(),
            _ => name.trim().to_owned(),
        }
    }
}

/// Serialized as OSV spells it (`"crates.io"`), so reports read like OSV.
impl Serialize for Ecosystem {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Ecosystem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Self::parse(&String::deserialize(d)?))
    }
}

impl fmt::Display for Ecosystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// PEP 503: `re.sub(r"[-_.]+", "-", name).lower()`.
pub fn pep503_normalise(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_run = false;
    for c in name.trim().chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_run {
                out.push('-');
            }
            in_run = true;
        } else {
            out.extend(c.to_lowercase());
            in_run = false;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pep503_examples_from_the_pep() {
        for n in [
            "friendly-bard",
            "Friendly-Bard",
            "FRIENDLY-BARD",
            "friendly.bard",
            "friendly_bard",
            "friendly--bard",
            "FrIeNdLy-._.-bArD",
        ] {
            assert_eq!(pep503_normalise(n), "friendly-bard", "{n}");
        }
    }

    #[test]
    fn release_suffix_is_dropped() {
        assert_eq!(Ecosystem::parse("Debian:11"), Ecosystem::Debian);
        assert_eq!(
            Ecosystem::parse("Alpine:v3.16"),
            Ecosystem::Other("Alpine".into())
        );
        assert_eq!(Ecosystem::parse("crates.io").as_str(), "crates.io");
    }
}
