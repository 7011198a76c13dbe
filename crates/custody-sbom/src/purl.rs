//! Package URLs, built with the `packageurl` crate after the per-type name rules of the purl spec
//! (PURL-TYPES.rst) that it does not apply itself.

use crate::model::{Ecosystem, Purl};

pub use custody_crypto::ecosystem::pep503_name;

/// The purl of `name` at `version` in `ecosystem`, with `qualifiers` (key, value).
///
/// npm `@scope/name` becomes namespace `@scope` (written `%40scope`), Go module paths split at
/// the last `/`, PyPI names are PEP 503 normalised.
pub fn purl(
    ecosystem: &Ecosystem,
    name: &str,
    version: Option<&str>,
    qualifiers: &[(&str, &str)],
) -> Result<Purl, packageurl::Error> {
    let pypi_name;
    let (namespace, short) = match ecosystem {
        // Debian's "name" here is `vendor/package`, the vendor being the purl namespace.
        Ecosystem::Npm
        | Ecosystem::Go
        | Ecosystem::Packagist
        | Ecosystem::Debian
        | Ecosystem::Ubuntu => match name.rsplit_once('/') {
            Some((ns, n)) => (Some(ns), n),
            None => (None, name),
        },
        Ecosystem::PyPI => {
            pypi_name = pep503_name(name);
            (None, pypi_name.as_str())
        }
        _ => (None, name),
    };
    let mut p = packageurl::PackageUrl::new(ecosystem.purl_type(), short)?;
    if let Some(ns) = namespace {
        p.with_namespace(ns)?;
    }
    if let Some(v) = version {
        p.with_version(v)?;
    }
    for (k, v) in qualifiers {
        p.add_qualifier(*k, *v)?;
    }
    let text = p.to_string();
    // The builder does not apply every per-type rule the parser does (a Composer purl needs a
    // vendor namespace, for one), nor does it make sure the parts it joins split back the same
    // (an npm name `@s` with version `a/b@1` does not): refuse here what the SBOM reader would
    // refuse, or read as another package, on the way back.
    let back: packageurl::PackageUrl<'_> = text.parse()?;
    if back.name() != p.name() || back.namespace() != p.namespace() {
        return Err(packageurl::Error::InvalidName(
            ecosystem.purl_type().to_owned(),
            name.to_owned(),
        ));
    }
    if back.version() != p.version() {
        return Err(packageurl::Error::InvalidVersion(
            ecosystem.purl_type().to_owned(),
            version.unwrap_or_default().to_owned(),
        ));
    }
    Ok(Purl(text))
}

/// What the graph keeps of a purl.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurlParts {
    pub ecosystem: Ecosystem,
    /// The package name as the ecosystem writes it: npm, Go and Composer namespaces joined back
    /// with `/`; a Debian purl's namespace is the vendor, not part of the name.
    pub name: String,
    pub version: Option<String>,
    /// Debian: the `upstream` qualifier (source package), or the name.
    pub source_package: Option<String>,
}

/// Parses a purl into the parts the graph keeps.
pub fn parse(purl: &str) -> Result<PurlParts, packageurl::Error> {
    let p: packageurl::PackageUrl<'_> = purl.parse()?;
    let ecosystem = Ecosystem::from_purl_type(p.ty());
    let name = match (p.namespace(), &ecosystem) {
        (Some(_), Ecosystem::Debian) | (None, _) => p.name().to_owned(),
        (Some(ns), _) => format!("{ns}/{}", p.name()),
    };
    let source_package = (ecosystem == Ecosystem::Debian).then(|| {
        p.qualifiers()
            .get("upstream")
            .map_or_else(|| name.clone(), |u| u.to_string())
    });
    Ok(PurlParts {
        ecosystem,
        name,
        version: p.version().map(str::to_owned),
        source_package,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npm_scope_is_percent_encoded_namespace() {
        let p = purl(&Ecosystem::Npm, "@sindresorhus/slugify", Some("2.2.1"), &[]).unwrap();
        assert_eq!(p.0, "pkg:npm/%40sindresorhus/slugify@2.2.1");
        let parts = parse(&p.0).unwrap();
        assert_eq!(parts.ecosystem, Ecosystem::Npm);
        assert_eq!(parts.name, "@sindresorhus/slugify");
        assert_eq!(parts.version.as_deref(), Some("2.2.1"));
    }

    #[test]
    fn pypi_names_are_pep503() {
        assert_eq!(pep503_name("Zope.Interface__x"), "zope-interface-x");
        let p = purl(&Ecosystem::PyPI, "Flask_SQLAlchemy", Some("3.1.1"), &[]).unwrap();
        assert_eq!(p.0, "pkg:pypi/flask-sqlalchemy@3.1.1");
    }

    #[test]
    fn cargo_with_qualifier() {
        let p = purl(
            &Ecosystem::CratesIo,
            "serde",
            Some("1.0.0"),
            &[("vcs_url", "git+https://github.com/serde-rs/serde@abc")],
        )
        .unwrap();
        assert_eq!(
            p.0,
            "pkg:cargo/serde@1.0.0?vcs_url=git%2Bhttps:%2F%2Fgithub.com%2Fserde-rs%2Fserde%40abc"
        );
    }

    #[test]
    fn go_module_path_splits_at_last_slash() {
        let p = purl(
            &Ecosystem::Go,
            "github.com/gin-gonic/gin",
            Some("v1.9.1"),
            &[],
        )
        .unwrap();
        assert_eq!(p.0, "pkg:golang/github.com/gin-gonic/gin@v1.9.1");
    }
}
