//! Python: `uv.lock` (version 1) and pinned `requirements*.txt`.
//!
//! Names are compared PEP 503-normalised, as the installers do. A component keeps every hash the
//! file lists for it (one per sdist or wheel): any of them identifies a genuine artifact.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;
use toml::Spanned;

use crate::error::{Error, LineIndex, Result, line_of_offset};
use crate::model::{Component, ComponentId, Ecosystem, Hash, HashAlgorithm, Sbom, Scope, Source};
use crate::purl::pep503_name;
use crate::{Limits, check_size, to_utf8};

pub(crate) fn parse_hash(s: &str) -> Option<Hash> {
    let (alg, hex) = s.split_once(':')?;
    let algorithm = match alg {
        "sha256" => HashAlgorithm::Sha256,
        "sha384" => HashAlgorithm::Sha384,
        "sha512" => HashAlgorithm::Sha512,
        _ => return None,
    };
    (hex.len() == algorithm.digest_len() * 2 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then(
        || Hash {
            algorithm,
            hex: hex.to_ascii_lowercase(),
        },
    )
}

pub(crate) fn invalid_hash(file: &str, line: usize, package: &str, value: &str) -> Error {
    Error::InvalidChecksum {
        file: file.to_owned(),
        line,
        package: package.to_owned(),
        value: value.to_owned(),
        expected: "sha256:, sha384: or sha512: followed by the digest in hex",
    }
}

pub(crate) fn component_for(
    file: &str,
    line: usize,
    name: &str,
    version: Option<&str>,
    source: Source,
) -> Result<Component> {
    let norm = pep503_name(name);
    let mut id = format!("pypi/{norm}@{}", version.unwrap_or(""));
    let qualifier = match &source {
        Source::Registry { url: Some(u) } if u != "https://pypi.org/simple" => {
            id.push_str(&format!("#registry:{u}"));
            Some(("repository_url", u.clone()))
        }
        Source::Registry { .. } => None,
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
    };
    let purl = match &source {
        Source::Path { .. } => None,
        _ => {
            let q: Vec<(&str, &str)> = qualifier.iter().map(|(k, v)| (*k, v.as_str())).collect();
            Some(
                crate::purl::purl(&Ecosystem::PyPI, &norm, version, &q).map_err(|source| {
                    Error::InvalidPurlName {
                        file: file.to_owned(),
                        line,
                        package: name.to_owned(),
                        name: name.to_owned(),
                        source: Box::new(source),
                    }
                })?,
            )
        }
    };
    let mut c = Component::new(
        ComponentId(id),
        Ecosystem::PyPI,
        norm,
        version.map(str::to_owned),
    );
    c.purl = purl;
    c.source = source;
    Ok(c)
}

// ---------------------------------------------------------------------------------------------
// uv.lock

#[derive(Deserialize)]
struct UvLock {
    version: Option<Spanned<i64>>,
    #[serde(default)]
    package: Vec<Spanned<UvPackage>>,
}

#[derive(Deserialize)]
struct UvPackage {
    #[serde(default)]
    name: String,
    version: Option<String>,
    source: Option<UvSource>,
    #[serde(default)]
    dependencies: Vec<UvDependency>,
    #[serde(default, rename = "optional-dependencies")]
    optional_dependencies: BTreeMap<String, Vec<UvDependency>>,
    #[serde(default, rename = "dev-dependencies")]
    dev_dependencies: BTreeMap<String, Vec<UvDependency>>,
    sdist: Option<UvDistribution>,
    #[serde(default)]
    wheels: Vec<UvDistribution>,
}

#[derive(Deserialize, Clone, PartialEq, Eq)]
struct UvSource {
    registry: Option<String>,
    git: Option<String>,
    url: Option<String>,
    path: Option<String>,
    directory: Option<String>,
    editable: Option<String>,
    #[serde(rename = "virtual")]
    virtual_: Option<String>,
}

#[derive(Deserialize)]
struct UvDependency {
    name: String,
    version: Option<String>,
    source: Option<UvSource>,
}

#[derive(Deserialize)]
struct UvDistribution {
    hash: Option<String>,
}

impl UvSource {
    fn to_source(&self) -> Option<Source> {
        if let Some(r) = &self.registry {
            return Some(Source::Registry {
                url: Some(r.clone()),
            });
        }
        if let Some(g) = &self.git {
            let (base, rev) = match g.split_once('#') {
                Some((b, r)) => (b, Some(r.to_owned())),
                None => (g.as_str(), None),
            };
            let url = base.split_once('?').map_or(base, |(u, _)| u);
            return Some(Source::Git {
                url: url.to_owned(),
                rev,
            });
        }
        if let Some(u) = &self.url {
            return Some(Source::Registry {
                url: Some(u.clone()),
            });
        }
        let path = self
            .path
            .as_ref()
            .or(self.directory.as_ref())
            .or(self.editable.as_ref())
            .or(self.virtual_.as_ref())?;
        Some(Source::Path {
            path: Some(path.clone()),
        })
    }

    fn is_project(&self) -> bool {
        self.editable.is_some() || self.virtual_.is_some()
    }
}

/// Reads a `uv.lock` into a component graph. The project (source `virtual` or `editable` at
/// `.`) is the primary component; its dependency groups make components dev, its extras
/// optional.
pub fn parse_uv_lock(file: &str, bytes: &[u8], limits: &Limits) -> Result<Sbom> {
    check_size(file, bytes.len(), limits)?;
    let text = to_utf8(file, bytes)?;
    let raw: UvLock = toml::from_str(text).map_err(|e| Error::InvalidToml {
        file: file.to_owned(),
        line: e.span().map_or(1, |s| line_of_offset(text, s.start)),
        message: e.message().to_owned(),
    })?;
    match raw.version.as_ref().map(|v| *v.get_ref()) {
        Some(1) => {}
        other => {
            return Err(Error::UnsupportedLockfileVersion {
                file: file.to_owned(),
                found: other.map_or_else(|| "(none)".to_owned(), |v| v.to_string()),
                supported: "1",
            });
        }
    }

    let lines = LineIndex::new(text);
    let mut sbom = Sbom::new();
    let mut by_name: HashMap<String, Vec<usize>> = HashMap::new();
    let mut ids: Vec<ComponentId> = Vec::with_capacity(raw.package.len());
    let mut line_of: Vec<usize> = Vec::with_capacity(raw.package.len());
    let mut primary: Option<usize> = None;
    for (i, spanned) in raw.package.iter().enumerate() {
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
        let source = p
            .source
            .as_ref()
            .and_then(UvSource::to_source)
            .ok_or_else(|| Error::MissingField {
                file: file.to_owned(),
                line,
                package: p.name.clone(),
                field: "source",
            })?;
        if matches!(source, Source::Registry { .. }) && p.version.is_none() {
            return Err(Error::MissingField {
                file: file.to_owned(),
                line,
                package: p.name.clone(),
                field: "version",
            });
        }
        let mut c = component_for(file, line, &p.name, p.version.as_deref(), source)?;
        for dist in p.sdist.iter().chain(&p.wheels) {
            if let Some(h) = &dist.hash {
                c.hashes
                    .push(parse_hash(h).ok_or_else(|| invalid_hash(file, line, &p.name, h))?);
            }
        }
        c.hashes.sort();
        c.hashes.dedup();
        if sbom.get(&c.id).is_some() {
            let first = ids.iter().position(|id| *id == c.id).unwrap_or(0);
            return Err(Error::DuplicatePackage {
                file: file.to_owned(),
                line,
                first_line: line_of.get(first).copied().unwrap_or(1),
                name: p.name.clone(),
                version: p.version.clone().unwrap_or_default(),
            });
        }
        if primary.is_none()
            && p.source.as_ref().is_some_and(|s| {
                s.is_project() && s.editable.as_deref().or(s.virtual_.as_deref()) == Some(".")
            })
        {
            primary = Some(i);
        }
        by_name.entry(pep503_name(&p.name)).or_default().push(i);
        ids.push(c.id.clone());
        line_of.push(line);
        sbom.insert(c);
    }

    let resolve = |from: usize, d: &UvDependency| -> Result<usize> {
        let found: Vec<usize> = by_name
            .get(&pep503_name(&d.name))
            .into_iter()
            .flatten()
            .copied()
            .filter(|&j| {
                let p = raw.package[j].get_ref();
                d.version
                    .as_ref()
                    .is_none_or(|v| p.version.as_ref() == Some(v))
                    && d.source
                        .as_ref()
                        .is_none_or(|s| p.source.as_ref() == Some(s))
            })
            .collect();
        let package = raw.package[from].get_ref().name.clone();
        match found.as_slice() {
            [one] => Ok(*one),
            [] => Err(Error::UnresolvedDependency {
                file: file.to_owned(),
                line: line_of[from],
                package,
                reference: d.name.clone(),
            }),
            many => Err(Error::AmbiguousDependency {
                file: file.to_owned(),
                line: line_of[from],
                package,
                reference: d.name.clone(),
                count: many.len(),
            }),
        }
    };

    let mut starts: Vec<(ComponentId, Scope)> = Vec::new();
    for (i, spanned) in raw.package.iter().enumerate() {
        let p = spanned.get_ref();
        let groups = [
            (Scope::Required, p.dependencies.iter().collect::<Vec<_>>()),
            (
                Scope::Optional,
                p.optional_dependencies.values().flatten().collect(),
            ),
            (Scope::Dev, p.dev_dependencies.values().flatten().collect()),
        ];
        for (scope, deps) in groups {
            for d in deps {
                let j = resolve(i, d)?;
                sbom.add_dependency(ids[i].clone(), ids[j].clone());
                if Some(i) == primary {
                    starts.push((ids[j].clone(), scope));
                }
            }
        }
    }
    if let Some(p) = primary {
        sbom.set_primary(Some(ids[p].clone()));
        // Other workspace members are products too.
        let roots: Vec<ComponentId> = sbom.roots().iter().map(|c| c.id.clone()).collect();
        for (i, spanned) in raw.package.iter().enumerate() {
            let is_member = spanned
                .get_ref()
                .source
                .as_ref()
                .is_some_and(UvSource::is_project);
            if i != p && is_member && roots.contains(&ids[i]) {
                starts.push((ids[i].clone(), Scope::Required));
            }
        }
        sbom.propagate_scopes(&starts);
    }
    Ok(sbom)
}

// ---------------------------------------------------------------------------------------------
// requirements.txt

/// Options that change where or how pip installs, not what: they name no package.
const GLOBAL_OPTIONS: [&str; 14] = [
    "-i",
    "--index-url",
    "--extra-index-url",
    "--no-index",
    "-f",
    "--find-links",
    "--trusted-host",
    "--no-binary",
    "--only-binary",
    "--pre",
    "--prefer-binary",
    "--require-hashes",
    "--use-feature",
    "--config-settings",
];

/// Reads a pinned `requirements.txt` (`name==version`, optional `--hash` options, `# via`
/// comments as pip-compile and uv write them). Every component gets `scope`: the file does not
/// say, its name does (see [`requirements_scope`]).
///
/// Fails closed on what it cannot pin down: a requirement that is not `==`/`===`, and `-r`, `-c`
/// and `-e` lines, whose packages are in another file or directory.
pub fn parse_requirements(file: &str, bytes: &[u8], scope: Scope, limits: &Limits) -> Result<Sbom> {
    check_size(file, bytes.len(), limits)?;
    let text = to_utf8(file, bytes)?;
    let mut sbom = Sbom::new();
    // (component, line) per requirement, and the `# via` names that follow each one.
    let mut last: Option<ComponentId> = None;
    let mut in_via = false;
    let mut via: Vec<(ComponentId, String)> = Vec::new();
    let mut by_name: HashMap<String, Vec<ComponentId>> = HashMap::new();

    let mut lines = text.lines().enumerate().peekable();
    while let Some((i, first)) = lines.next() {
        let line_no = i + 1;
        let mut logical = first.to_owned();
        while logical.ends_with('\\') {
            logical.pop();
            match lines.next() {
                Some((_, next)) => {
                    logical.push(' ');
                    logical.push_str(next);
                }
                None => break,
            }
        }
        let trimmed = logical.trim();
        if let Some(comment) = trimmed.strip_prefix('#') {
            let comment = comment.trim_start();
            if let Some(target) = &last {
                if let Some(rest) = comment.strip_prefix("via") {
                    let rest = rest.trim();
                    in_via = rest.is_empty();
                    if !rest.is_empty() {
                        via.push((target.clone(), rest.to_owned()));
                    }
                } else if in_via && first.trim_start().starts_with("#   ") {
                    via.push((target.clone(), comment.to_owned()));
                } else {
                    in_via = false;
                }
            }
            continue;
        }
        in_via = false;
        // A comment starts at `#` after whitespace (pip's rule), so URLs with fragments survive.
        let content = match trimmed.find(" #") {
            Some(i) => trimmed[..i].trim_end(),
            None => trimmed,
        };
        if content.is_empty() {
            continue;
        }
        if content.starts_with('-') {
            let option = content
                .split(|c: char| c.is_whitespace() || c == '=')
                .next()
                .unwrap_or(content);
            if GLOBAL_OPTIONS.contains(&option) {
                continue;
            }
            return Err(Error::UnsupportedRequirementOption {
                file: file.to_owned(),
                line: line_no,
                option: option.to_owned(),
            });
        }
        let c = requirement(file, line_no, content, scope)?;
        let id = c.id.clone();
        match sbom.get_mut(&id) {
            Some(existing) => {
                for h in c.hashes {
                    if !existing.hashes.contains(&h) {
                        existing.hashes.push(h);
                    }
                }
                existing.hashes.sort();
            }
            None => {
                by_name.entry(c.name.clone()).or_default().push(id.clone());
                sbom.insert(c);
            }
        }
        last = Some(id);
    }

    for (target, by) in via {
        // `fixture (pyproject.toml)`, `-r requirements.in`: the project itself, not a package.
        let name = pep503_name(by.split_whitespace().next().unwrap_or(&by));
        if let Some(froms) = by_name.get(&name) {
            for from in froms {
                sbom.add_dependency(from.clone(), target.clone());
            }
        }
    }
    Ok(sbom)
}

/// The scope a requirements file's name implies: `requirements-dev.txt`, `dev-requirements.txt`,
/// `requirements-test.txt`, … are dev; anything else is required.
pub fn requirements_scope(file_name: &str) -> Scope {
    let lower = file_name.to_ascii_lowercase();
    if ["dev", "test", "lint", "doc"]
        .iter()
        .any(|k| lower.contains(k))
    {
        Scope::Dev
    } else {
        Scope::Required
    }
}

fn requirement(file: &str, line: usize, content: &str, scope: Scope) -> Result<Component> {
    let not_pinned = || Error::RequirementNotPinned {
        file: file.to_owned(),
        line,
        requirement: content.to_owned(),
    };
    // Options (`--hash=...`) follow the requirement and its marker.
    let (spec, options) = match content.find(" --") {
        Some(i) => (content[..i].trim(), &content[i..]),
        None => (content, ""),
    };
    let spec = spec.split_once(';').map_or(spec, |(s, _)| s).trim();
    let name_end = spec
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(spec.len());
    let name = &spec[..name_end];
    if name.is_empty() {
        return Err(not_pinned());
    }
    let mut rest = spec[name_end..].trim_start();
    if rest.starts_with('[') {
        rest = rest
            .find(']')
            .map(|i| rest[i + 1..].trim_start())
            .ok_or_else(not_pinned)?;
    }
    let (version, source) = if let Some(url) = rest.strip_prefix('@') {
        let url = url.trim();
        let source = if let Some(git) = url.strip_prefix("git+") {
            let (u, rev) = match git.rsplit_once('@') {
                Some((u, r)) if !r.contains('/') => (u, Some(r.to_owned())),
                _ => (git, None),
            };
            Source::Git {
                url: u.to_owned(),
                rev,
            }
        } else if url.starts_with("file:") {
            Source::Path {
                path: Some(url.to_owned()),
            }
        } else {
            Source::Registry {
                url: Some(url.to_owned()),
            }
        };
        (None, source)
    } else {
        let v = rest
            .strip_prefix("===")
            .or_else(|| rest.strip_prefix("=="))
            .map(str::trim)
            .filter(|v| !v.is_empty() && !v.contains([',', '*', '<', '>', '!', '~', ' ']))
            .ok_or_else(not_pinned)?;
        (Some(v), Source::Registry { url: None })
    };
    let mut c = component_for(file, line, name, version, source)?;
    for opt in options.split_whitespace() {
        if let Some(h) = opt.strip_prefix("--hash=") {
            c.hashes
                .push(parse_hash(h).ok_or_else(|| invalid_hash(file, line, name, h))?);
        }
    }
    c.hashes.sort();
    c.hashes.dedup();
    c.scope = scope;
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(text: &str) -> Result<Sbom> {
        parse_requirements(
            "requirements.txt",
            text.as_bytes(),
            Scope::Required,
            &Limits::default(),
        )
    }

    #[test]
    fn pins_extras_markers_and_hashes() {
        let s = req("Foo_Bar[extra]==1.0 ; python_version >= '3.8' \\\n    --hash=sha256:0000000000000000000000000000000000000000000000000000000000000000\n").unwrap();
        let c = s.components().next().unwrap();
        assert_eq!(c.name, "foo-bar");
        assert_eq!(c.purl.as_ref().unwrap().0, "pkg:pypi/foo-bar@1.0");
        assert_eq!(c.hashes.len(), 1);
    }

    #[test]
    fn unpinned_and_includes_fail_closed() {
        assert!(matches!(
            req("a>=1\n"),
            Err(Error::RequirementNotPinned { line: 1, .. })
        ));
        assert!(matches!(
            req("# x\n-r other.txt\n"),
            Err(Error::UnsupportedRequirementOption { line: 2, .. })
        ));
        assert!(req("--index-url https://example.org/simple\na==1\n").is_ok());
    }

    #[test]
    fn git_requirement_is_marked() {
        let s = req("pkg @ git+https://github.com/o/pkg.git@abc123\n").unwrap();
        let c = s.components().next().unwrap();
        assert!(matches!(&c.source, Source::Git { rev: Some(r), .. } if r == "abc123"));
    }

    #[test]
    fn scope_from_file_name() {
        assert_eq!(requirements_scope("requirements-dev.txt"), Scope::Dev);
        assert_eq!(requirements_scope("requirements.txt"), Scope::Required);
    }
}

// ---------------------------------------------------------------------------------------------
// Pipfile.lock

#[derive(Deserialize)]
struct PipfileLock {
    #[serde(rename = "_meta")]
    meta: PipfileMeta,
    #[serde(default)]
    default: BTreeMap<String, PipfileEntry>,
    #[serde(default)]
    develop: BTreeMap<String, PipfileEntry>,
}

#[derive(Deserialize)]
struct PipfileMeta {
    #[serde(rename = "pipfile-spec")]
    pipfile_spec: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct PipfileEntry {
    version: Option<String>,
    #[serde(default)]
    hashes: Vec<String>,
    git: Option<String>,
    #[serde(rename = "ref")]
    git_ref: Option<String>,
    path: Option<String>,
    file: Option<String>,
}

/// Reads a `Pipfile.lock` (pipfile-spec 6): `default` packages are required, `develop` ones dev.
/// The file records no dependency edges, so the graph has none.
pub fn parse_pipfile_lock(file: &str, bytes: &[u8], limits: &Limits) -> Result<Sbom> {
    check_size(file, bytes.len(), limits)?;
    let text = to_utf8(file, bytes)?;
    let lock: PipfileLock = serde_json::from_str(text).map_err(|e| Error::InvalidJson {
        file: file.to_owned(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })?;
    let spec = lock.meta.pipfile_spec.as_ref().and_then(|v| v.as_u64());
    if spec != Some(6) {
        return Err(Error::UnsupportedLockfileVersion {
            file: file.to_owned(),
            found: lock
                .meta
                .pipfile_spec
                .map_or_else(|| "(none)".to_owned(), |v| v.to_string()),
            supported: "pipfile-spec 6",
        });
    }
    // serde_json keeps no positions; an entry's line is found by its key.
    let line_of = |name: &str| {
        let quoted = format!("\"{name}\"");
        text.find(&quoted).map_or(1, |o| line_of_offset(text, o))
    };
    let mut sbom = Sbom::new();
    for (entries, scope) in [
        (&lock.default, Scope::Required),
        (&lock.develop, Scope::Dev),
    ] {
        for (name, e) in entries {
            let line = line_of(name);
            let (version, source) = if let Some(git) = &e.git {
                (
                    None,
                    Source::Git {
                        url: git.trim_start_matches("git+").to_owned(),
                        rev: e.git_ref.clone(),
                    },
                )
            } else if let Some(path) = &e.path {
                (
                    None,
                    Source::Path {
                        path: Some(path.clone()),
                    },
                )
            } else if let Some(url) = &e.file {
                (
                    None,
                    Source::Registry {
                        url: Some(url.clone()),
                    },
                )
            } else {
                let v = e
                    .version
                    .as_deref()
                    .and_then(|v| v.strip_prefix("==="))
                    .or_else(|| e.version.as_deref().and_then(|v| v.strip_prefix("==")))
                    .ok_or_else(|| Error::RequirementNotPinned {
                        file: file.to_owned(),
                        line,
                        requirement: format!(
                            "{name} {}",
                            e.version.as_deref().unwrap_or("(no version)")
                        ),
                    })?;
                (Some(v), Source::Registry { url: None })
            };
            let mut c = component_for(file, line, name, version, source)?;
            for h in &e.hashes {
                c.hashes
                    .push(parse_hash(h).ok_or_else(|| invalid_hash(file, line, name, h))?);
            }
            c.hashes.sort();
            c.hashes.dedup();
            c.scope = scope;
            match sbom.get_mut(&c.id) {
                // In both sections: required wins.
                Some(existing) => existing.scope = existing.scope.min(scope),
                None => sbom.insert(c),
            }
        }
    }
    Ok(sbom)
}
