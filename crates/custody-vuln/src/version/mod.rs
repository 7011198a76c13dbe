//! Per-ecosystem version order.
//!
//! Every parser is a plain function from `&str` to a [`Version`] or an
//! [`Error`], so each can be fuzzed on its own. Two versions compare only
//! within one [`VersionScheme`]; across schemes there is no order, and
//! [`Version::compare`] says so with `None` rather than guessing.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::ecosystem::Ecosystem;

mod composer;
mod digits;
mod dpkg;
mod gem;
mod go;
mod maven;

pub use composer::ComposerVersion;
pub use dpkg::DpkgVersion;
pub use gem::GemVersion;
pub use maven::MavenVersion;

/// Longest version string any parser accepts; real versions are far shorter,
/// and the bound keeps comparison cost predictable on hostile input.
pub const MAX_VERSION_LEN: usize = 256;

/// A version ordering rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum VersionScheme {
    /// SemVer 2.0 (crates.io, npm, OSV `SEMVER` ranges).
    SemVer,
    /// Go module versions: SemVer with an optional `v`, build metadata
    /// ignored, and Go toolchain spellings (`go1.21rc2`) for `stdlib`.
    Go,
    /// PEP 440 (PyPI).
    Pep440,
    /// `Gem::Version` (RubyGems).
    RubyGems,
    /// Maven's `ComparableVersion`.
    Maven,
    /// Composer (Packagist): normalised, then PHP `version_compare`.
    Composer,
    /// Debian `dpkg --compare-versions`.
    Dpkg,
}

impl VersionScheme {
    /// The version order of `ECOSYSTEM` ranges in `ecosystem`, if known.
    pub fn of(ecosystem: &Ecosystem) -> Option<Self> {
        match ecosystem {
            Ecosystem::CratesIo | Ecosystem::Npm => Some(Self::SemVer),
            Ecosystem::PyPI => Some(Self::Pep440),
            Ecosystem::Go => Some(Self::Go),
            Ecosystem::RubyGems => Some(Self::RubyGems),
            Ecosystem::Maven => Some(Self::Maven),
            Ecosystem::Packagist => Some(Self::Composer),
            Ecosystem::Debian | Ecosystem::Ubuntu => Some(Self::Dpkg),
            _ => None,
        }
    }

    /// Parses `s` under this scheme.
    pub fn parse(self, s: &str) -> Result<Version, Error> {
        if s.len() > MAX_VERSION_LEN {
            return Err(Error::VersionTooLong {
                scheme: self,
                len: s.len(),
                limit: MAX_VERSION_LEN,
            });
        }
        match self {
            Self::SemVer => parse_semver(s).map(Version::SemVer),
            Self::Go => go::parse(s).map(Version::Go),
            Self::Pep440 => parse_pep440(s).map(Version::Pep440),
            Self::RubyGems => GemVersion::parse(s).map(Version::RubyGems),
            Self::Maven => MavenVersion::parse(s).map(Version::Maven),
            Self::Composer => ComposerVersion::parse(s).map(Version::Composer),
            Self::Dpkg => DpkgVersion::parse(s).map(Version::Dpkg),
        }
    }
}

impl fmt::Display for VersionScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::SemVer => "SemVer",
            Self::Go => "Go",
            Self::Pep440 => "PEP 440",
            Self::RubyGems => "RubyGems",
            Self::Maven => "Maven",
            Self::Composer => "Composer",
            Self::Dpkg => "dpkg",
        })
    }
}

/// A parsed version, tagged with its scheme.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Version {
    /// SemVer 2.0.
    SemVer(semver::Version),
    /// Go; build metadata already stripped.
    Go(semver::Version),
    /// PEP 440.
    Pep440(pep440_rs::Version),
    /// RubyGems.
    RubyGems(GemVersion),
    /// Maven.
    Maven(MavenVersion),
    /// Composer.
    Composer(ComposerVersion),
    /// dpkg.
    Dpkg(DpkgVersion),
}

impl Version {
    /// The scheme this version was parsed under.
    pub fn scheme(&self) -> VersionScheme {
        match self {
            Self::SemVer(_) => VersionScheme::SemVer,
            Self::Go(_) => VersionScheme::Go,
            Self::Pep440(_) => VersionScheme::Pep440,
            Self::RubyGems(_) => VersionScheme::RubyGems,
            Self::Maven(_) => VersionScheme::Maven,
            Self::Composer(_) => VersionScheme::Composer,
            Self::Dpkg(_) => VersionScheme::Dpkg,
        }
    }

    /// Orders two versions of the same scheme; `None` across schemes.
    pub fn compare(&self, other: &Self) -> Option<Ordering> {
        Some(match (self, other) {
            // SemVer 2.0 §10: build metadata does not take part in precedence,
            // but `semver::Version`'s `Ord` uses it as a tie-break.
            (Self::SemVer(a), Self::SemVer(b)) => a.cmp_precedence(b),
            (Self::Go(a), Self::Go(b)) => a.cmp_precedence(b),
            (Self::Pep440(a), Self::Pep440(b)) => a.cmp(b),
            (Self::RubyGems(a), Self::RubyGems(b)) => a.cmp(b),
            (Self::Maven(a), Self::Maven(b)) => a.cmp(b),
            (Self::Composer(a), Self::Composer(b)) => a.cmp(b),
            (Self::Dpkg(a), Self::Dpkg(b)) => a.cmp(b),
            _ => return None,
        })
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        self.compare(other)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SemVer(v) | Self::Go(v) => v.fmt(f),
            Self::Pep440(v) => v.fmt(f),
            Self::RubyGems(v) => v.fmt(f),
            Self::Maven(v) => v.fmt(f),
            Self::Composer(v) => v.fmt(f),
            Self::Dpkg(v) => v.fmt(f),
        }
    }
}

impl VersionScheme {
    /// Whether this scheme's order is a total order on every input. Maven's
    /// published order is not (its padding rules make `1-1 < 1.0.b1 < 1 <
    /// 1-1` a cycle), so code that sorts or bisects must not rely on it.
    pub fn is_total_order(self) -> bool {
        self != Self::Maven
    }
}

/// A stable merge sort that never panics, whatever `cmp` returns. The
/// standard library's sorts may panic on a comparison that is not a total
/// order, and version orders come from outside (Maven's is not total).
pub(crate) fn sort_by_cmp<T>(items: Vec<T>, cmp: &impl Fn(&T, &T) -> Ordering) -> Vec<T> {
    if items.len() <= 1 {
        return items;
    }
    let mut left = items;
    let right = left.split_off(left.len() / 2);
    let left = sort_by_cmp(left, cmp);
    let right = sort_by_cmp(right, cmp);
    let mut out = Vec::with_capacity(left.len() + right.len());
    let mut l = left.into_iter().peekable();
    let mut r = right.into_iter().peekable();
    loop {
        let take_right = match (l.peek(), r.peek()) {
            (Some(a), Some(b)) => cmp(b, a) == Ordering::Less,
            (Some(_), None) => false,
            (None, Some(_)) => true,
            (None, None) => break,
        };
        out.extend(if take_right { r.next() } else { l.next() });
    }
    out
}

/// SemVer 2.0, strict as crates.io is; a leading `v` or `=` is tolerated
/// because npm's `semver.valid()` accepts both and lockfiles carry them.
pub fn parse_semver(s: &str) -> Result<semver::Version, Error> {
    let t = s.trim();
    let t = t.strip_prefix(['v', '=']).unwrap_or(t);
    semver::Version::parse(t).map_err(|source| Error::InvalidSemVer {
        version: s.to_owned(),
        source,
    })
}

/// PEP 440, including its normal forms (`1.0-alpha2` is `1.0a2`).
pub fn parse_pep440(s: &str) -> Result<pep440_rs::Version, Error> {
    pep440_rs::Version::from_str(s.trim()).map_err(|source| Error::InvalidPep440 {
        version: s.to_owned(),
        source: Box::new(source),
    })
}

/// Go versions, as OSV spells them (`1.2.3`) or as go.mod does (`v1.2.3`).
pub fn parse_go(s: &str) -> Result<semver::Version, Error> {
    go::parse(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(scheme: VersionScheme, a: &str, b: &str) -> Ordering {
        let a = scheme.parse(a).unwrap();
        let b = scheme.parse(b).unwrap();
        a.compare(&b).unwrap()
    }

    #[test]
    fn semver_prereleases_sort_before_release() {
        use VersionScheme::SemVer;
        assert_eq!(cmp(SemVer, "1.0.0-alpha", "1.0.0"), Ordering::Less);
        assert_eq!(
            cmp(SemVer, "1.0.0-alpha.1", "1.0.0-alpha.beta"),
            Ordering::Less
        );
        assert_eq!(
            cmp(SemVer, "1.0.0-rc.1", "1.0.0-beta.11"),
            Ordering::Greater
        );
        assert_eq!(cmp(SemVer, "0.0.0-0", "0.0.0"), Ordering::Less);
        assert_eq!(
            cmp(SemVer, "1.0.0+build.1", "1.0.0+build.2"),
            Ordering::Equal
        );
        assert_eq!(cmp(SemVer, "v1.2.3", "1.2.3"), Ordering::Equal);
    }

    #[test]
    fn semver_rejects_partial_versions() {
        assert!(matches!(
            VersionScheme::SemVer.parse("1.2"),
            Err(Error::InvalidSemVer { .. })
        ));
        assert!(VersionScheme::SemVer.parse("").is_err());
    }

    #[test]
    fn pep440_normal_forms_and_order() {
        use VersionScheme::Pep440;
        assert_eq!(cmp(Pep440, "0.8.0-alpha2", "0.8.0a2"), Ordering::Equal);
        assert_eq!(cmp(Pep440, "1.0.dev1", "1.0a1"), Ordering::Less);
        assert_eq!(cmp(Pep440, "1.0rc1", "1.0"), Ordering::Less);
        assert_eq!(cmp(Pep440, "1.0", "1.0.post1"), Ordering::Less);
        assert_eq!(cmp(Pep440, "1!0.1", "2.0"), Ordering::Greater);
        assert_eq!(cmp(Pep440, "1.0", "1.0.0"), Ordering::Equal);
        assert!(matches!(
            Pep440.parse("not a version"),
            Err(Error::InvalidPep440 { .. })
        ));
    }

    #[test]
    fn schemes_do_not_compare_across() {
        let a = VersionScheme::SemVer.parse("1.0.0").unwrap();
        let b = VersionScheme::Pep440.parse("1.0.0").unwrap();
        assert_eq!(a.compare(&b), None);
    }

    #[test]
    fn merge_sort_survives_an_inconsistent_comparison() {
        let sorted = sort_by_cmp((0..100).collect(), &|a: &i32, b: &i32| a.cmp(b));
        assert_eq!(sorted, (0..100).collect::<Vec<_>>());
        let reversed = sort_by_cmp((0..100).collect(), &|a: &i32, b: &i32| b.cmp(a));
        assert_eq!(reversed[0], 99);
        // A comparison that is not an order at all: no panic, nothing lost.
        let chaos = sort_by_cmp((0..1000).collect(), &|a: &i32, b: &i32| {
            if (a ^ b) % 3 == 0 {
                Ordering::Less
            } else {
                Ordering::Greater
            }
        });
        assert_eq!(chaos.len(), 1000);
    }

    #[test]
    fn overlong_versions_are_rejected_before_parsing() {
        let long = "1".repeat(MAX_VERSION_LEN + 1);
        assert!(matches!(
            VersionScheme::Dpkg.parse(&long),
            Err(Error::VersionTooLong { .. })
        ));
    }
}
