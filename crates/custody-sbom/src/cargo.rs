//! `Cargo.lock` v1–v4, with `Cargo.toml` to tell normal, optional, build and dev dependencies apart.
//!
//! The lockfile alone cannot: it records one edge list per package, merging every dependency
//! kind. So the manifest of the root package classifies its direct dependencies, and each
//! transitive one takes the strongest scope of any path to it (see [`Scope`]).

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;
use toml::Spanned;

use crate::error::{Error, LineIndex, Result, line_of_offset};
use crate::model::{Component, ComponentId, Ecosystem, Hash, HashAlgorithm, Sbom, Scope, Source};
use crate::{Limits, check_size, to_utf8};

const CRATES_IO_INDEXES: [&str; 2] = [
    "https://github.com/rust-lang/crates.io-index",
    "https://index.crates.io/",
];

#[derive(Deserialize)]
struct RawLock {
    version: Option<Spanned<i64>>,
    #[serde(default)]
    package: Vec<Spanned<RawPackage>>,
    // v1 keeps checksums here, keyed "checksum NAME VERSION (SOURCE)".
    #[serde(default)]
    metadata: BTreeMap<String, toml::Value>,
}

#[derive(Deserialize)]
struct RawPackage {
    #[serde(default)]
    name: String,
    #[serde(default)]
    version: String,
    source: Option<String>,
    checksum: Option<String>,
    #[serde(default)]
    dependencies: Vec<String>,
}

/// A `Cargo.toml` given alongside the lockfile.
#[derive(Debug, Clone, Copy)]
pub struct CargoManifest<'a> {
    /// Name for error messages, usually the path.
    pub file: &'a str,
    pub bytes: &'a [u8],
}

#[derive(Deserialize, Default)]
struct RawManifest {
    package: Option<RawManifestPackage>,
    #[serde(default)]
    dependencies: BTreeMap<String, toml::Value>,
    #[serde(default, rename = "dev-dependencies")]
    dev_dependencies: BTreeMap<String, toml::Value>,
    #[serde(default, rename = "build-dependencies")]
    build_dependencies: BTreeMap<String, toml::Value>,
    #[serde(default)]
    target: BTreeMap<String, RawTarget>,
}

#[derive(Deserialize, Default)]
struct RawTarget {
    #[serde(default)]
    dependencies: BTreeMap<String, toml::Value>,
    #[serde(default, rename = "dev-dependencies")]
    dev_dependencies: BTreeMap<String, toml::Value>,
    #[serde(default, rename = "build-dependencies")]
    build_dependencies: BTreeMap<String, toml::Value>,
}

#[derive(Deserialize)]
struct RawManifestPackage {
    name: String,
    // `{ workspace = true }` is possible here, so these stay loosely typed.
    authors: Option<toml::Value>,
    license: Option<toml::Value>,
}

fn parse_toml<'de, T: Deserialize<'de>>(file: &str, text: &'de str) -> Result<T> {
    toml::from_str(text).map_err(|e| Error::InvalidToml {
        file: file.to_owned(),
        line: e.span().map_or(1, |s| line_of_offset(text, s.start)),
        message: e.message().to_owned(),
    })
}

/// Reads a `Cargo.lock` (and optionally the root `Cargo.toml`) into a component graph.
pub fn parse_cargo_lock(
    file: &str,
    lock: &[u8],
    manifest: Option<CargoManifest<'_>>,
    limits: &Limits,
) -> Result<Sbom> {
    check_size(file, lock.len(), limits)?;
    let text = to_utf8(file, lock)?;
    let raw: RawLock = parse_toml(file, text)?;
    if let Some(v) = &raw.version
        && !(1..=4).contains(v.get_ref())
    {
        return Err(Error::UnsupportedLockfileVersion {
            file: file.to_owned(),
            found: v.get_ref().to_string(),
            supported: "1, 2, 3, 4",
        });
    }

    let manifest = match manifest {
        Some(m) => {
            check_size(m.file, m.bytes.len(), limits)?;
            Some(parse_toml::<RawManifest>(
                m.file,
                to_utf8(m.file, m.bytes)?,
            )?)
        }
        None => None,
    };

    let v1_checksums: HashMap<&str, &str> = raw
        .metadata
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("checksum ")?, v.as_str()?)))
        .collect();

    struct Entry<'a> {
        line: usize,
        pkg: &'a RawPackage,
        id: ComponentId,
    }
    let mut entries: Vec<Entry<'_>> = Vec::with_capacity(raw.package.len());
    let mut by_name: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut seen: HashMap<(&str, &str, Option<&str>), usize> = HashMap::new();
    let mut sbom = Sbom::new();

    let lines = LineIndex::new(text);
    for spanned in &raw.package {
        let line = lines.line(spanned.span().start);
        let pkg = spanned.get_ref();
        let label = || format!("{} {}", pkg.name, pkg.version);
        for (field, value) in [("name", &pkg.name), ("version", &pkg.version)] {
            if value.is_empty() {
                return Err(Error::MissingField {
                    file: file.to_owned(),
                    line,
                    package: label(),
                    field,
                });
            }
        }
        let key = (
            pkg.name.as_str(),
            pkg.version.as_str(),
            pkg.source.as_deref(),
        );
        if let Some(&first) = seen.get(&key) {
            return Err(Error::DuplicatePackage {
                file: file.to_owned(),
                line,
                first_line: entries[first].line,
                name: pkg.name.clone(),
                version: pkg.version.clone(),
            });
        }
        let component = component(file, line, pkg, &v1_checksums)?;
        let id = component.id.clone();
        sbom.insert(component);
        seen.insert(key, entries.len());
        by_name
            .entry(pkg.name.as_str())
            .or_default()
            .push(entries.len());
        entries.push(Entry { line, pkg, id });
    }

    for e in &entries {
        for reference in &e.pkg.dependencies {
            let target = resolve(reference, &by_name, |i| entries[i].pkg).map_err(|count| {
                let (file, line, package, reference) = (
                    file.to_owned(),
                    e.line,
                    format!("{} {}", e.pkg.name, e.pkg.version),
                    reference.clone(),
                );
                if count == 0 {
                    Error::UnresolvedDependency {
                        file,
                        line,
                        package,
                        reference,
                    }
                } else {
                    Error::AmbiguousDependency {
                        file,
                        line,
                        package,
                        reference,
                        count,
                    }
                }
            })?;
            sbom.add_dependency(e.id.clone(), entries[target].id.clone());
        }
    }

    let Some(manifest) = manifest else {
        return Ok(sbom);
    };
    let Some(package) = &manifest.package else {
        // A virtual workspace manifest names no product; every member stays a root.
        return Ok(sbom);
    };
    let Some(primary) = entries
        .iter()
        .find(|e| e.pkg.source.is_none() && e.pkg.name == package.name)
    else {
        return Ok(sbom);
    };
    let primary_id = primary.id.clone();
    if let Some(c) = sbom.get_mut(&primary_id) {
        c.authors = string_list(package.authors.as_ref());
        c.license = package
            .license
            .as_ref()
            .and_then(|l| l.as_str())
            .map(str::to_owned);
    }
    sbom.set_primary(Some(primary_id.clone()));

    let kinds = manifest_kinds(&manifest);
    let mut starts: Vec<(ComponentId, Scope)> = Vec::new();
    for reference in &primary.pkg.dependencies {
        let name = reference.split(' ').next().unwrap_or(reference);
        let scope = kinds.get(name).copied().unwrap_or(Scope::Required);
        if let Ok(i) = resolve(reference, &by_name, |i| entries[i].pkg) {
            starts.push((entries[i].id.clone(), scope));
        }
    }
    // Other workspace members are products too: what they need is required.
    let roots: Vec<ComponentId> = sbom.roots().iter().map(|c| c.id.clone()).collect();
    for e in &entries {
        if e.pkg.source.is_none() && e.id != primary_id && roots.contains(&e.id) {
            starts.push((e.id.clone(), Scope::Required));
        }
    }
    sbom.propagate_scopes(&starts);
    Ok(sbom)
}

fn string_list(v: Option<&toml::Value>) -> Vec<String> {
    v.and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The strongest scope each direct dependency (by package name) has in the manifest.
fn manifest_kinds(m: &RawManifest) -> HashMap<String, Scope> {
    let mut kinds: HashMap<String, Scope> = HashMap::new();
    let mut add = |table: &BTreeMap<String, toml::Value>, normal: Option<Scope>| {
        for (key, value) in table {
            let name = value.get("package").and_then(|p| p.as_str()).unwrap_or(key);
            let optional = value
                .get("optional")
                .and_then(|o| o.as_bool())
                .unwrap_or(false);
            let scope = match normal {
                Some(s) => s,
                None if optional => Scope::Optional,
                None => Scope::Required,
            };
            let e = kinds.entry(name.to_owned()).or_insert(scope);
            *e = (*e).min(scope);
        }
    };
    let tables = std::iter::once((&m.dependencies, &m.dev_dependencies, &m.build_dependencies))
        .chain(
            m.target
                .values()
                .map(|t| (&t.dependencies, &t.dev_dependencies, &t.build_dependencies)),
        );
    for (normal, dev, build) in tables {
        add(normal, None);
        add(build, Some(Scope::Build));
        add(dev, Some(Scope::Dev));
    }
    kinds
}

/// Resolves a dependency reference (`name`, `name version` or `name version (source)`) to an
/// entry index; `Err(n)` says how many entries matched when that is not exactly one.
fn resolve<'a>(
    reference: &str,
    by_name: &HashMap<&str, Vec<usize>>,
    pkg: impl Fn(usize) -> &'a RawPackage,
) -> std::result::Result<usize, usize> {
    let mut parts = reference.splitn(3, ' ');
    let name = parts.next().unwrap_or_default();
    let version = parts.next();
    let source = parts
        .next()
        .map(|s| s.trim_start_matches('(').trim_end_matches(')'));
    let mut found = by_name
        .get(name)
        .into_iter()
        .flatten()
        .copied()
        .filter(|&i| {
            let p = pkg(i);
            version.is_none_or(|v| p.version == v)
                && source.is_none_or(|s| p.source.as_deref() == Some(s))
        });
    match (found.next(), found.next()) {
        (Some(i), None) => Ok(i),
        (None, _) => Err(0),
        (Some(_), Some(_)) => Err(2 + found.count()),
    }
}

fn component(
    file: &str,
    line: usize,
    pkg: &RawPackage,
    v1_checksums: &HashMap<&str, &str>,
) -> Result<Component> {
    let label = || format!("{} {}", pkg.name, pkg.version);
    let source = match pkg.source.as_deref() {
        None => Source::Path { path: None },
        Some(s) => {
            if let Some(url) = s
                .strip_prefix("registry+")
                .or_else(|| s.strip_prefix("sparse+"))
            {
                Source::Registry {
                    url: Some(url.to_owned()),
                }
            } else if let Some(rest) = s.strip_prefix("git+") {
                let (url, rev) = match rest.split_once('#') {
                    Some((u, r)) => (u, Some(r.to_owned())),
                    None => (rest, None),
                };
                let url = url.split_once('?').map_or(url, |(u, _)| u);
                Source::Git {
                    url: url.to_owned(),
                    rev,
                }
            } else {
                return Err(Error::UnknownSource {
                    file: file.to_owned(),
                    line,
                    package: label(),
                    source_value: s.to_owned(),
                });
            }
        }
    };

    let mut id = format!("cargo/{}@{}", pkg.name, pkg.version);
    let qualifier: Option<(&str, String)> = match &source {
        Source::Registry { url: Some(u) } if CRATES_IO_INDEXES.contains(&u.as_str()) => None,
        Source::Registry { url } => {
            let u = url.clone().unwrap_or_default();
            id.push_str(&format!("#registry:{u}"));
            Some(("repository_url", u))
        }
        Source::Git { url, rev } => {
            id.push_str(&format!("#git:{url}"));
            let vcs = match rev {
                Some(r) => format!("git+{url}@{r}"),
                None => format!("git+{url}"),
            };
            Some(("vcs_url", vcs))
        }
        Source::Path { .. } => {
            id.push_str("#path");
            None
        }
    };
    let purl = match &source {
        Source::Path { .. } => None,
        _ => {
            let q: Vec<(&str, &str)> = qualifier.iter().map(|(k, v)| (*k, v.as_str())).collect();
            Some(
                crate::purl::purl(&Ecosystem::CratesIo, &pkg.name, Some(&pkg.version), &q)
                    .map_err(|source| Error::InvalidPurlName {
                        file: file.to_owned(),
                        line,
                        package: label(),
                        name: pkg.name.clone(),
                        source: Box::new(source),
                    })?,
            )
        }
    };

    let checksum = pkg.checksum.as_deref().or_else(|| {
        let key = match &pkg.source {
            Some(s) => format!("{} {} ({s})", pkg.name, pkg.version),
            None => format!("{} {}", pkg.name, pkg.version),
        };
        v1_checksums.get(key.as_str()).copied()
    });
    let mut hashes = Vec::new();
    // Cargo v1 writes `<none>` for a package it has no checksum for.
    if let Some(c) = checksum.filter(|c| *c != "<none>") {
        if c.len() != 64 || !c.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::InvalidChecksum {
                file: file.to_owned(),
                line,
                package: label(),
                value: c.to_owned(),
                expected: "64 hex digits (SHA-256)",
            });
        }
        hashes.push(Hash {
            algorithm: HashAlgorithm::Sha256,
            hex: c.to_ascii_lowercase(),
        });
    }

    let mut c = Component::new(
        ComponentId(id),
        Ecosystem::CratesIo,
        &pkg.name,
        Some(pkg.version.clone()),
    );
    c.purl = purl;
    c.source = source;
    c.hashes = hashes;
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(lock: &str) -> Result<Sbom> {
        parse_cargo_lock("Cargo.lock", lock.as_bytes(), None, &Limits::default())
    }

    #[test]
    fn duplicate_entry_names_both_lines() {
        let lock = "version = 4\n\n[[package]]\nname = \"a\"\nversion = \"1.0.0\"\n\n[[package]]\nname = \"a\"\nversion = \"1.0.0\"\n";
        match parse(lock) {
            Err(Error::DuplicatePackage {
                line, first_line, ..
            }) => {
                assert_eq!((first_line, line), (3, 7));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn cyclic_entries_make_a_graph() {
        let lock = "[[package]]\nname = \"a\"\nversion = \"1.0.0\"\ndependencies = [\"b\"]\n\n[[package]]\nname = \"b\"\nversion = \"1.0.0\"\ndependencies = [\"a\"]\n";
        let s = parse(lock).unwrap();
        assert_eq!(s.dependencies().count(), 2);
    }

    #[test]
    fn unknown_dependency_is_an_error_with_its_line() {
        let lock = "version = 3\n[[package]]\nname = \"a\"\nversion = \"1.0.0\"\ndependencies = [\"zzz\"]\n";
        match parse(lock) {
            Err(Error::UnresolvedDependency {
                line, reference, ..
            }) => {
                assert_eq!(line, 2);
                assert_eq!(reference, "zzz");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn future_version_fails_closed() {
        assert!(matches!(
            parse("version = 5\n"),
            Err(Error::UnsupportedLockfileVersion { .. })
        ));
    }

    #[test]
    fn syntax_error_names_the_line() {
        match parse("version = 4\n\n[[package]\nname = 1\n") {
            Err(Error::InvalidToml { line, .. }) => assert_eq!(line, 3),
            other => panic!("{other:?}"),
        }
    }
}
