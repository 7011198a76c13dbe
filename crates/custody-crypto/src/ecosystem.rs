//! Package ecosystems and their name rules, shared by the SBOM generator and the vulnerability
//! matcher.
//!
//! Why here: custody-sbom names a component's ecosystem by its purl type, custody-vuln by its
//! OSV name, and the two must agree on which ecosystems exist and how a name is spelt, or an
//! SBOM's PyPI component and an advisory's PyPI package would never meet. Neither core may
//! depend on the other, and custody-crypto is the one crate both may use, so the one enum lives
//! here. It carries every spelling (OSV, purl type) and no behaviour beyond names; version
//! order stays in custody-vuln.

use std::fmt;

/// A package ecosystem. [`Ecosystem::as_str`] is its OSV name (`affected[].package.ecosystem`),
/// [`Ecosystem::purl_type`] its package-URL type.
///
/// A release suffix such as `Debian:11` is dropped when parsing: the vulnerability index matches
/// a Debian package against every Debian advisory, and the full string stays in the advisory for
/// callers that filter by release.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Ecosystem {
    /// `crates.io`, purl type `cargo`: crates.io and other Cargo registries.
    CratesIo,
    /// `npm`, purl type `npm`.
    Npm,
    /// `PyPI`, purl type `pypi`.
    PyPI,
    /// `Go`, purl type `golang`: Go modules.
    Go,
    /// `RubyGems`, purl type `gem`.
    RubyGems,
    /// `Maven`, purl type `maven`.
    Maven,
    /// `Packagist`, purl type `composer`: Composer packages.
    Packagist,
    /// `Debian` (any release), purl type `deb`.
    Debian,
    /// `Ubuntu` (any release), purl type `deb` with namespace `ubuntu`; dpkg version order.
    Ubuntu,
    /// Any other ecosystem, named as the input named it: an OSV name from an advisory
    /// (`Alpine`), a purl type from someone else's SBOM (`generic`). Stored and matched by that
    /// name, with no known version order.
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

    /// The OSV spelling (`crates.io`, `PyPI`, …), the inverse of [`Ecosystem::parse`].
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

    /// The purl type (`cargo`, `npm`, `pypi`, `golang`, `gem`, `maven`, `composer`, `deb`, …).
    pub fn purl_type(&self) -> &str {
        match self {
            Self::CratesIo => "cargo",
            Self::Npm => "npm",
            Self::PyPI => "pypi",
            Self::Go => "golang",
            Self::RubyGems => "gem",
            Self::Maven => "maven",
            Self::Packagist => "composer",
            Self::Debian | Self::Ubuntu => "deb",
            Self::Other(t) => t,
        }
    }

    /// The ecosystem of a purl type, the inverse of [`Ecosystem::purl_type`]. `deb` is Debian:
    /// Ubuntu shares the type and differs only by the purl's namespace, which the caller has.
    pub fn from_purl_type(ty: &str) -> Self {
        match ty {
            "cargo" => Self::CratesIo,
            "npm" => Self::Npm,
            "pypi" => Self::PyPI,
            "golang" => Self::Go,
            "gem" => Self::RubyGems,
            "maven" => Self::Maven,
            "composer" => Self::Packagist,
            "deb" => Self::Debian,
            other => Self::Other(other.to_owned()),
        }
    }

    /// The name under which a package is compared, so that both sides (an SBOM's component,
    /// an advisory's package) meet on one spelling.
    ///
    /// PyPI: [`pep503_name`]. Packagist: Composer package names are case-insensitive,
    /// lowercased. npm is left case-sensitive on purpose: legacy names with capitals
    /// (`JSONStream`) are different packages from their lowercase twins. Everything else
    /// (crates.io, Go module paths, Maven coordinates) is matched exactly as lockfiles and
    /// advisories spell it. Surrounding white space is never part of a name.
    pub fn normalise_name(&self, name: &str) -> String {
        let name = name.trim();
        match self {
            Self::PyPI => pep503_name(name),
            Self::Packagist => name.to_ascii_lowercase(),
            _ => name.to_owned(),
        }
    }
}

/// The OSV name: vulnerability reports read like OSV.
impl fmt::Display for Ecosystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Serialised as OSV spells it (`"crates.io"`), so reports read like OSV.
#[cfg(feature = "serde")]
impl serde::Serialize for Ecosystem {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Ecosystem {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Self::parse(&<String as serde::Deserialize>::deserialize(
            d,
        )?))
    }
}

/// A PyPI project name normalised per PEP 503: `re.sub(r"[-_.]+", "-", name).lower()`.
///
/// Exactly the PEP's rule, nothing trimmed; [`Ecosystem::normalise_name`] trims first.
pub fn pep503_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_run = false;
    for c in name.chars() {
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
    fn pep503_examples_from_the_pep_and_the_issue() {
        for n in [
            "friendly-bard",
            "Friendly-Bard",
            "FRIENDLY-BARD",
            "friendly.bard",
            "friendly_bard",
            "friendly--bard",
            "FrIeNdLy-._.-bArD",
        ] {
            assert_eq!(pep503_name(n), "friendly-bard", "{n}");
        }
        assert_eq!(pep503_name("Foo.Bar_baz"), "foo-bar-baz");
        assert_eq!(pep503_name("foo--bar"), "foo-bar");
        assert_eq!(pep503_name("FOO___bar"), "foo-bar");
        assert_eq!(pep503_name("Zope.Interface__x"), "zope-interface-x");
    }

    #[test]
    fn only_the_ecosystem_rule_trims() {
        // The two copies this replaced differed here: the matcher's trimmed, the SBOM's did not.
        assert_eq!(pep503_name(" Foo_Bar "), " foo-bar ");
        assert_eq!(Ecosystem::PyPI.normalise_name(" Foo_Bar "), "foo-bar");
        assert_eq!(
            Ecosystem::Packagist.normalise_name(" Vendor/Pkg"),
            "vendor/pkg"
        );
        assert_eq!(Ecosystem::Npm.normalise_name("JSONStream"), "JSONStream");
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

    #[test]
    fn every_spelling_round_trips() {
        let all = [
            Ecosystem::CratesIo,
            Ecosystem::Npm,
            Ecosystem::PyPI,
            Ecosystem::Go,
            Ecosystem::RubyGems,
            Ecosystem::Maven,
            Ecosystem::Packagist,
            Ecosystem::Debian,
            Ecosystem::Ubuntu,
        ];
        for e in &all {
            assert_eq!(&Ecosystem::parse(e.as_str()), e);
            assert_eq!(e.to_string(), e.as_str());
            if *e != Ecosystem::Ubuntu {
                assert_eq!(&Ecosystem::from_purl_type(e.purl_type()), e);
            }
        }
        let purl: Vec<&str> = all.iter().map(Ecosystem::purl_type).collect();
        assert_eq!(
            purl,
            [
                "cargo", "npm", "pypi", "golang", "gem", "maven", "composer", "deb", "deb"
            ]
        );
        assert_eq!(Ecosystem::from_purl_type("generic").purl_type(), "generic");
    }
}
