//! Composer's `composer.lock`, with `composer.json` for the project's name.
//!
//! `packages` are required, `packages-dev` dev-only. Each package's `require` names other
//! packages by name; names without a `/` are the platform (`php`, `ext-json`), not packages.
//! `dist.shasum` is a SHA-1 of the archive when the repository gave one (Packagist usually
//! leaves it empty for GitHub archives).

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;

use crate::error::{Error, Result, line_of_offset};
use crate::model::{Component, ComponentId, Ecosystem, Hash, HashAlgorithm, Sbom, Scope, Source};
use crate::{Limits, check_size, to_utf8};

/// A `composer.json` given alongside `composer.lock`; it names the project.
#[derive(Debug, Clone, Copy)]
pub struct ComposerJson<'a> {
    /// Name for error messages, usually the path.
    pub file: &'a str,
    pub bytes: &'a [u8],
}

#[derive(Deserialize)]
struct Lock {
    #[serde(rename = "content-hash")]
    content_hash: Option<String>,
    packages: Option<Vec<Package>>,
    #[serde(default, rename = "packages-dev")]
    packages_dev: Option<Vec<Package>>,
}

#[derive(Deserialize)]
struct Package {
    #[serde(default)]
    name: String,
    version: Option<String>,
    source: Option<Location>,
    dist: Option<Location>,
    #[serde(default)]
    require: BTreeMap<String, String>,
    #[serde(default)]
    license: Vec<String>,
    #[serde(default)]
    authors: Vec<Author>,
}

#[derive(Deserialize)]
struct Location {
    #[serde(rename = "type")]
    kind: Option<String>,
    url: Option<String>,
    reference: Option<String>,
    shasum: Option<String>,
}

#[derive(Deserialize)]
struct Author {
    name: Option<String>,
}

#[derive(Deserialize, Default)]
struct Manifest {
    name: Option<String>,
    version: Option<String>,
    #[serde(default)]
    require: BTreeMap<String, String>,
    #[serde(default, rename = "require-dev")]
    require_dev: BTreeMap<String, String>,
}

fn json_error(file: &str, e: &serde_json::Error) -> Error {
    Error::InvalidJson {
        file: file.to_owned(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    }
}

/// A platform requirement (`php`, `ext-*`, `lib-*`, `composer-plugin-api`): no package.
fn is_platform(name: &str) -> bool {
    !name.contains('/')
}

fn source_of(p: &Package) -> Source {
    let dist_kind = p.dist.as_ref().and_then(|d| d.kind.as_deref());
    if dist_kind == Some("path") {
        return Source::Path {
            path: p.dist.as_ref().and_then(|d| d.url.clone()),
        };
    }
    match (&p.dist, &p.source) {
        // A package with a source and no archive is installed from version control.
        (None, Some(s)) if s.kind.as_deref() == Some("git") => Source::Git {
            url: s.url.clone().unwrap_or_default(),
            rev: s.reference.clone(),
        },
        (Some(d), _) => Source::Registry { url: d.url.clone() },
        _ => Source::Registry { url: None },
    }
}

/// Reads a `composer.lock` (and optionally `composer.json`) into a component graph.
pub fn parse_composer_lock(
    file: &str,
    bytes: &[u8],
    manifest: Option<ComposerJson<'_>>,
    limits: &Limits,
) -> Result<Sbom> {
    check_size(file, bytes.len(), limits)?;
    let text = to_utf8(file, bytes)?;
    let lock: Lock = serde_json::from_str(text).map_err(|e| json_error(file, &e))?;
    // Every Composer since 1.x writes `content-hash` and `packages`; without them this is some
    // other JSON file named composer.lock.
    if lock.content_hash.is_none() || lock.packages.is_none() {
        return Err(Error::MissingField {
            file: file.to_owned(),
            line: 1,
            package: "(lockfile)".to_owned(),
            field: if lock.content_hash.is_none() {
                "content-hash"
            } else {
                "packages"
            },
        });
    }
    let root: Option<Manifest> = match manifest {
        Some(m) => {
            check_size(m.file, m.bytes.len(), limits)?;
            let t = to_utf8(m.file, m.bytes)?;
            Some(serde_json::from_str(t).map_err(|e| json_error(m.file, &e))?)
        }
        None => None,
    };
    // serde_json keeps no positions: an entry's line is that of its `"name": "…"`, the n-th
    // occurrence for the n-th entry of that name.
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut line_of = |name: &str| {
        let needle = format!("\"name\": \"{name}\"");
        let nth = seen.entry(name.to_owned()).or_insert(0);
        let line = text
            .match_indices(&needle)
            .nth(*nth)
            .map_or(1, |(o, _)| line_of_offset(text, o));
        *nth += 1;
        line
    };

    let mut sbom = Sbom::new();
    let mut by_name: HashMap<String, (ComponentId, usize)> = HashMap::new();
    let mut all: Vec<(&Package, ComponentId)> = Vec::new();
    let sections = [
        (lock.packages.iter().flatten(), Scope::Required),
        (lock.packages_dev.iter().flatten(), Scope::Dev),
    ];
    for (packages, scope) in sections {
        for p in packages {
            let line = line_of(&p.name);
            if p.name.is_empty() {
                return Err(Error::MissingField {
                    file: file.to_owned(),
                    line,
                    package: "(unnamed)".to_owned(),
                    field: "name",
                });
            }
            let version =
                p.version
                    .clone()
                    .filter(|v| !v.is_empty())
                    .ok_or_else(|| Error::MissingField {
                        file: file.to_owned(),
                        line,
                        package: p.name.clone(),
                        field: "version",
                    })?;
            let c = composer_component(file, line, p, version, scope)?;
            // Composer package names are case-insensitive and one version per name is locked.
            let key = p.name.to_ascii_lowercase();
            if let Some((_, first_line)) = by_name.insert(key, (c.id.clone(), line)) {
                return Err(Error::DuplicatePackage {
                    file: file.to_owned(),
                    line,
                    first_line,
                    name: p.name.clone(),
                    version: c.version.clone().unwrap_or_default(),
                });
            }
            all.push((p, c.id.clone()));
            sbom.insert(c);
        }
    }
    for (p, from) in &all {
        for name in p.require.keys().filter(|n| !is_platform(n)) {
            // A requirement the lock does not hold is satisfied by a `replace` or `provide` of
            // another package, or is a platform package.
            if let Some((to, _)) = by_name.get(&name.to_ascii_lowercase()) {
                sbom.add_dependency(from.clone(), to.clone());
            }
        }
    }
    if let Some(root) = root {
        let name = root.name.clone().unwrap_or_else(|| "(root)".to_owned());
        let mut c = Component::new(
            ComponentId(format!("composer/{name}#path:.")),
            Ecosystem::Packagist,
            name,
            root.version.clone(),
        );
        c.source = Source::Path {
            path: Some(".".to_owned()),
        };
        let id = c.id.clone();
        sbom.insert(c);
        sbom.set_primary(Some(id.clone()));
        for name in root.require.keys().chain(root.require_dev.keys()) {
            if let Some((to, _)) = by_name.get(&name.to_ascii_lowercase()) {
                sbom.add_dependency(id.clone(), to.clone());
            }
        }
    }
    Ok(sbom)
}

fn composer_component(
    file: &str,
    line: usize,
    p: &Package,
    version: String,
    scope: Scope,
) -> Result<Component> {
    let source = source_of(p);
    let mut id = format!("composer/{}@{version}", p.name);
    let qualifier = match &source {
        Source::Git { url, rev } => {
            id.push_str(&format!("#git:{url}"));
            Some((
                "vcs_url",
                match rev {
                    Some(r) => format!("git+{url}@{r}"),
                    None => format!("git+{url}"),
                },
            ))
        }
        Source::Path { path } => {
            id.push_str(&format!("#path:{}", path.as_deref().unwrap_or("")));
            None
        }
        Source::Registry { .. } => None,
    };
    let purl = match &source {
        Source::Path { .. } => None,
        _ => {
            let q: Vec<(&str, &str)> = qualifier.iter().map(|(k, v)| (*k, v.as_str())).collect();
            Some(
                crate::purl::purl(&Ecosystem::Packagist, &p.name, Some(&version), &q).map_err(
                    |source| Error::InvalidPurlName {
                        file: file.to_owned(),
                        line,
                        package: p.name.clone(),
                        name: p.name.clone(),
                        source: Box::new(source),
                    },
                )?,
            )
        }
    };
    let mut c = Component::new(
        ComponentId(id),
        Ecosystem::Packagist,
        p.name.clone(),
        Some(version),
    );
    c.purl = purl;
    c.source = source;
    c.scope = scope;
    if let Some(sum) = p.dist.as_ref().and_then(|d| d.shasum.as_deref())
        && !sum.is_empty()
    {
        if sum.len() != 40 || !sum.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::InvalidChecksum {
                file: file.to_owned(),
                line,
                package: p.name.clone(),
                value: sum.to_owned(),
                expected: "a SHA-1 in hex (40 digits)",
            });
        }
        c.hashes.push(Hash {
            algorithm: HashAlgorithm::Sha1,
            hex: sum.to_ascii_lowercase(),
        });
    }
    c.license = match p.license.as_slice() {
        [] => None,
        [one] => Some(one.clone()),
        // Composer's list means the user may choose any of them.
        many => Some(format!("({})", many.join(" OR "))),
    };
    c.authors = p.authors.iter().filter_map(|a| a.name.clone()).collect();
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(lock: &str) -> Result<Sbom> {
        parse_composer_lock("composer.lock", lock.as_bytes(), None, &Limits::default())
    }

    #[test]
    fn git_sources_shasums_and_platform_requirements() {
        let lock = r#"{"content-hash":"x","packages":[
            {"name":"a/b","version":"dev-main","source":{"type":"git","url":"https://example.org/a/b.git","reference":"abc"},"require":{"php":">=8","c/d":"^1"}},
            {"name":"c/d","version":"1.0.0","dist":{"type":"zip","url":"https://example.org/d.zip","shasum":"0123456789abcdef0123456789abcdef01234567"}}
        ],"packages-dev":[]}"#;
        let s = parse(lock).unwrap_or_else(|e| panic!("{e}"));
        let find = |n: &str| {
            s.components()
                .find(|c| c.name == n)
                .unwrap_or_else(|| panic!("{n}"))
        };
        assert!(matches!(&find("a/b").source, Source::Git { rev: Some(r), .. } if r == "abc"));
        assert_eq!(find("c/d").hashes.len(), 1);
        assert_eq!(
            find("c/d").purl.as_ref().map(|p| p.0.as_str()),
            Some("pkg:composer/c/d@1.0.0")
        );
        assert_eq!(s.dependencies().count(), 1);
    }

    /// libFuzzer, `composer_lock`: a package name with no vendor (`x` rather than `v/x`)
    /// was accepted and written as `pkg:composer/x@…`, which the SBOM reader refuses
    /// (a Composer purl needs a namespace), so the SBOM custody wrote did not read back.
    #[test]
    fn fuzz_regression_composer_lock_name_without_vendor() {
        let lock = r#"{"content-hash":"x","packages":[
            {"name":"symfonyjdeprecation-contracts","version":"v2.ry","dist":{"type":"zip","url":"https://example.org/x.zip"}}
        ]}"#;
        assert!(
            matches!(parse(lock), Err(Error::InvalidPurlName { ref name, .. }) if name == "symfonyjdeprecation-contracts"),
            "{:?}",
            parse(lock)
        );
    }

    #[test]
    fn other_json_is_refused() {
        assert!(matches!(
            parse("{}"),
            Err(Error::MissingField {
                field: "content-hash",
                ..
            })
        ));
        assert!(matches!(
            parse(
                r#"{"content-hash":"x","packages":[{"name":"a/b","version":"1","dist":{"shasum":"zz"}}]}"#
            ),
            Err(Error::InvalidChecksum { .. })
        ));
    }
}
