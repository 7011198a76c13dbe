//! Poetry's `poetry.lock` (lock-version 1.x and 2.x), with `pyproject.toml` for the project.
//!
//! Each `[[package]]` is one resolved distribution. Poetry 1.5+ records the dependency groups that
//! reach it (`groups`, lock-version 2.1) and whether only an extra pulls it in (`optional`);
//! older files say `category = "main" | "dev"`. Dependencies name packages without versions: a
//! name that resolves to several entries (Poetry splits a resolution by environment markers)
//! gets an edge to each, since which one installs depends on the target machine.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Deserialize;
use toml::Spanned;

use crate::error::{Error, LineIndex, Result, line_of_offset};
use crate::model::{ComponentId, Sbom, Scope, Source};
use crate::purl::pep503_name;
use crate::python::{component_for, invalid_hash, parse_hash};
use crate::{Limits, check_size, to_utf8};

/// A `pyproject.toml` given alongside `poetry.lock`, which names the project and its direct
/// dependencies; the lockfile records neither.
#[derive(Debug, Clone, Copy)]
pub struct PyProject<'a> {
    /// Name for error messages, usually the path.
    pub file: &'a str,
    pub bytes: &'a [u8],
}

#[derive(Deserialize)]
struct PoetryLock {
    #[serde(default)]
    package: Vec<Spanned<PoetryPackage>>,
    metadata: Option<PoetryMetadata>,
}

#[derive(Deserialize)]
struct PoetryMetadata {
    #[serde(rename = "lock-version")]
    lock_version: Option<String>,
    /// lock-version 1.x: hashes per package name, outside the packages.
    #[serde(default)]
    files: BTreeMap<String, Vec<PoetryFile>>,
}

#[derive(Deserialize)]
struct PoetryPackage {
    #[serde(default)]
    name: String,
    version: Option<String>,
    #[serde(default)]
    optional: bool,
    category: Option<String>,
    #[serde(default)]
    groups: Vec<String>,
    #[serde(default)]
    files: Vec<PoetryFile>,
    #[serde(default)]
    dependencies: BTreeMap<String, toml::Value>,
    source: Option<PoetrySource>,
}

#[derive(Deserialize)]
struct PoetryFile {
    hash: Option<String>,
}

#[derive(Deserialize)]
struct PoetrySource {
    #[serde(rename = "type")]
    kind: String,
    url: Option<String>,
    resolved_reference: Option<String>,
    reference: Option<String>,
}

#[derive(Deserialize, Default)]
struct RawPyProject {
    project: Option<PepProject>,
    tool: Option<Tool>,
    #[serde(default, rename = "dependency-groups")]
    dependency_groups: BTreeMap<String, Vec<toml::Value>>,
}

#[derive(Deserialize, Default)]
struct PepProject {
    name: Option<String>,
    version: Option<String>,
    #[serde(default)]
    dependencies: Vec<String>,
    #[serde(default, rename = "optional-dependencies")]
    optional_dependencies: BTreeMap<String, Vec<String>>,
}

#[derive(Deserialize, Default)]
struct Tool {
    poetry: Option<ToolPoetry>,
}

#[derive(Deserialize, Default)]
struct ToolPoetry {
    name: Option<String>,
    version: Option<String>,
    #[serde(default)]
    dependencies: BTreeMap<String, toml::Value>,
    #[serde(default, rename = "dev-dependencies")]
    dev_dependencies: BTreeMap<String, toml::Value>,
    #[serde(default)]
    group: BTreeMap<String, PoetryGroup>,
}

#[derive(Deserialize, Default)]
struct PoetryGroup {
    #[serde(default)]
    dependencies: BTreeMap<String, toml::Value>,
}

const SUPPORTED: &str = "1.x, 2.x";

/// The distribution name at the start of a PEP 508 requirement (`name[extra] >= 1 ; marker`).
fn requirement_name(req: &str) -> &str {
    let req = req.trim_start();
    let end = req
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(req.len());
    &req[..end]
}

fn to_source(s: Option<&PoetrySource>) -> Source {
    let Some(s) = s else {
        return Source::Registry { url: None };
    };
    match s.kind.as_str() {
        "git" => Source::Git {
            url: s.url.clone().unwrap_or_default(),
            rev: s.resolved_reference.clone().or_else(|| s.reference.clone()),
        },
        "directory" | "file" => Source::Path {
            path: s.url.clone(),
        },
        // `legacy` is a PEP 503 index; `url` a direct archive link.
        _ => Source::Registry {
            url: s.url.as_ref().map(|u| u.trim_end_matches('/').to_owned()),
        },
    }
}

fn parse_pyproject(pp: PyProject<'_>, limits: &Limits) -> Result<RawPyProject> {
    check_size(pp.file, pp.bytes.len(), limits)?;
    let text = to_utf8(pp.file, pp.bytes)?;
    toml::from_str(text).map_err(|e| Error::InvalidToml {
        file: pp.file.to_owned(),
        line: e.span().map_or(1, |s| line_of_offset(text, s.start)),
        message: e.message().to_owned(),
    })
}

/// The project's direct dependencies by PEP 503 name, from every place Poetry 1 and 2 and
/// PEP 621 / PEP 735 declare them. Their scopes come from the lockfile's groups instead.
fn direct_dependencies(pp: &RawPyProject) -> BTreeSet<String> {
    let mut names: Vec<&str> = Vec::new();
    if let Some(p) = &pp.project {
        names.extend(p.dependencies.iter().map(|d| requirement_name(d)));
        names.extend(
            p.optional_dependencies
                .values()
                .flatten()
                .map(|d| requirement_name(d)),
        );
    }
    // `{include-group = "…"}` entries name groups, not packages.
    names.extend(
        pp.dependency_groups
            .values()
            .flatten()
            .filter_map(toml::Value::as_str)
            .map(requirement_name),
    );
    if let Some(tp) = pp.tool.as_ref().and_then(|t| t.poetry.as_ref()) {
        names.extend(
            tp.dependencies
                .keys()
                .chain(tp.dev_dependencies.keys())
                .chain(tp.group.values().flat_map(|g| g.dependencies.keys()))
                .map(String::as_str),
        );
    }
    names
        .into_iter()
        .filter(|n| !n.is_empty() && *n != "python")
        .map(pep503_name)
        .collect()
}

/// Reads a `poetry.lock` into a component graph; `pyproject.toml`, when given, becomes the
/// primary component with edges to its direct dependencies.
///
/// Scope comes from the file: a package only in non-`main` groups is dev, one that only an extra
/// pulls in is optional.
pub fn parse_poetry_lock(
    file: &str,
    bytes: &[u8],
    pyproject: Option<PyProject<'_>>,
    limits: &Limits,
) -> Result<Sbom> {
    check_size(file, bytes.len(), limits)?;
    let text = to_utf8(file, bytes)?;
    let raw: PoetryLock = toml::from_str(text).map_err(|e| Error::InvalidToml {
        file: file.to_owned(),
        line: e.span().map_or(1, |s| line_of_offset(text, s.start)),
        message: e.message().to_owned(),
    })?;
    let version = raw.metadata.as_ref().and_then(|m| m.lock_version.clone());
    // Minor versions add fields (2.1 added `groups`); a new major one changes meaning.
    if !version
        .as_deref()
        .is_some_and(|v| v.starts_with("1.") || v.starts_with("2."))
    {
        return Err(Error::UnsupportedLockfileVersion {
            file: file.to_owned(),
            found: version.unwrap_or_else(|| "(none)".to_owned()),
            supported: SUPPORTED,
        });
    }
    let old_files = raw.metadata.as_ref().map(|m| &m.files);
    let project = pyproject.map(|p| parse_pyproject(p, limits)).transpose()?;

    let lines = LineIndex::new(text);
    let mut sbom = Sbom::new();
    let mut by_name: HashMap<String, Vec<usize>> = HashMap::new();
    let mut first_line: HashMap<ComponentId, usize> = HashMap::new();
    let mut ids: Vec<ComponentId> = Vec::with_capacity(raw.package.len());
    let mut line_of: Vec<usize> = Vec::with_capacity(raw.package.len());
    for spanned in &raw.package {
        let line = lines.line(spanned.span().start);
        let p = spanned.get_ref();
        if p.name.is_empty() {
            return Err(Error::MissingField {
                file: file.to_owned(),
                line,
                package: "(unnamed)".to_owned(),
                field: "name",
            });
        }
        let Some(version) = p.version.as_deref().filter(|v| !v.is_empty()) else {
            return Err(Error::MissingField {
                file: file.to_owned(),
                line,
                package: p.name.clone(),
                field: "version",
            });
        };
        let source = to_source(p.source.as_ref());
        // Poetry writes the version it read from a path or git package's metadata; it is the
        // package's own claim, so it is kept (the purl is withheld for paths all the same).
        let mut c = component_for(file, line, &p.name, Some(version), source)?;
        let files = p
            .files
            .iter()
            .chain(old_files.and_then(|f| f.get(&p.name)).into_iter().flatten());
        for f in files {
            if let Some(h) = f.hash.as_deref() {
                c.hashes
                    .push(parse_hash(h).ok_or_else(|| invalid_hash(file, line, &p.name, h))?);
            }
        }
        c.hashes.sort();
        c.hashes.dedup();
        let main = if p.groups.is_empty() {
            p.category.as_deref().is_none_or(|c| c == "main")
        } else {
            p.groups.iter().any(|g| g == "main")
        };
        c.scope = match (main, p.optional) {
            (false, _) => Scope::Dev,
            (true, true) => Scope::Optional,
            (true, false) => Scope::Required,
        };
        if let Some(first) = first_line.get(&c.id) {
            return Err(Error::DuplicatePackage {
                file: file.to_owned(),
                line,
                first_line: *first,
                name: p.name.clone(),
                version: version.to_owned(),
            });
        }
        first_line.insert(c.id.clone(), line);
        by_name
            .entry(pep503_name(&p.name))
            .or_default()
            .push(ids.len());
        ids.push(c.id.clone());
        line_of.push(line);
        sbom.insert(c);
    }

    for (i, spanned) in raw.package.iter().enumerate() {
        for name in spanned.get_ref().dependencies.keys() {
            // No entry is no error: Poetry leaves out packages whose markers exclude every
            // Python the project supports (a backport for versions it has dropped).
            for &j in by_name.get(&pep503_name(name)).into_iter().flatten() {
                sbom.add_dependency(ids[i].clone(), ids[j].clone());
            }
        }
    }

    let Some(project) = project else {
        return Ok(sbom);
    };
    let pep = project.project.as_ref();
    let tool = project.tool.as_ref().and_then(|t| t.poetry.as_ref());
    let name = pep
        .and_then(|p| p.name.clone())
        .or_else(|| tool.and_then(|t| t.name.clone()))
        .unwrap_or_else(|| "(root)".to_owned());
    let version = pep
        .and_then(|p| p.version.clone())
        .or_else(|| tool.and_then(|t| t.version.clone()));
    let root = component_for(
        file,
        1,
        &name,
        version.as_deref(),
        Source::Path {
            path: Some(".".to_owned()),
        },
    )?;
    let root_id = root.id.clone();
    sbom.insert(root);
    sbom.set_primary(Some(root_id.clone()));
    for dep in direct_dependencies(&project) {
        for &j in by_name.get(&dep).into_iter().flatten() {
            sbom.add_dependency(root_id.clone(), ids[j].clone());
        }
    }
    Ok(sbom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirement_names() {
        assert_eq!(
            requirement_name("Flask_SQLAlchemy>=3.1"),
            "Flask_SQLAlchemy"
        );
        assert_eq!(
            requirement_name("zope.interface[x] ; python_version<'4'"),
            "zope.interface"
        );
        assert_eq!(requirement_name(""), "");
    }

    #[test]
    fn missing_or_future_lock_version_is_refused() {
        for lock in ["", "[metadata]\nlock-version = \"3.0\"\n"] {
            assert!(matches!(
                parse_poetry_lock("poetry.lock", lock.as_bytes(), None, &Limits::default()),
                Err(Error::UnsupportedLockfileVersion { .. })
            ));
        }
    }

    #[test]
    fn groups_and_extras_are_scopes() {
        let lock = r#"
[[package]]
name = "a"
version = "1.0"
groups = ["main"]
files = []
[package.dependencies]
b = ">=1"

[[package]]
name = "b"
version = "2.0"
optional = true
groups = ["main"]
files = [{file = "b.whl", hash = "sha256:0000000000000000000000000000000000000000000000000000000000000000"}]

[[package]]
name = "c"
version = "3.0"
groups = ["dev"]
files = []

[metadata]
lock-version = "2.1"
"#;
        let s = parse_poetry_lock("poetry.lock", lock.as_bytes(), None, &Limits::default())
            .unwrap_or_else(|e| panic!("{e}"));
        let scope = |n: &str| {
            s.components()
                .find(|c| c.name == n)
                .map(|c| (c.scope, c.hashes.len()))
        };
        assert_eq!(scope("a"), Some((Scope::Required, 0)));
        assert_eq!(scope("b"), Some((Scope::Optional, 1)));
        assert_eq!(scope("c"), Some((Scope::Dev, 0)));
        assert_eq!(s.dependencies().count(), 1);
    }
}
