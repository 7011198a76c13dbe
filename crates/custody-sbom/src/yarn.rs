//! Yarn classic `yarn.lock` (format "yarn lockfile v1"), with `package.json` for the project's own
//! dependencies and their kinds, which the lockfile does not record.
//!
//! Each entry is keyed by every `name@range` that resolved to it; a dependency `name range`
//! points at the entry whose keys include `name@range`. Yarn 2+ ("berry") lockfiles are YAML
//! with a `__metadata` entry; the `berry` module reads those.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::model::{ComponentId, Hash, HashAlgorithm, Sbom, Scope, Source};
use crate::npm::{PackageJson, npm_component};
use crate::{Limits, check_size, to_utf8};

#[derive(Default)]
struct Entry {
    line: usize,
    keys: Vec<String>,
    version: Option<String>,
    resolved: Option<String>,
    integrity: Option<String>,
    dependencies: Vec<(String, String, usize)>,
    optional_dependencies: Vec<(String, String, usize)>,
}

#[derive(Deserialize, Default)]
struct RawPackageJson {
    name: Option<String>,
    version: Option<String>,
    #[serde(default)]
    dependencies: BTreeMap<String, String>,
    #[serde(default, rename = "devDependencies")]
    dev_dependencies: BTreeMap<String, String>,
    #[serde(default, rename = "optionalDependencies")]
    optional_dependencies: BTreeMap<String, String>,
}

fn unquote(s: &str) -> &str {
    s.strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .unwrap_or(s)
}

/// `name` and `range` of `name@range`; the name of a scoped package starts with `@`.
fn split_key(key: &str) -> Option<(&str, &str)> {
    let at = if let Some(rest) = key.strip_prefix('@') {
        rest.find('@')? + 1
    } else {
        key.find('@')?
    };
    Some((&key[..at], &key[at + 1..]))
}

/// `name range` on a dependency line; either may be quoted.
fn split_pair(s: &str) -> Option<(String, String)> {
    let (name, rest) = if let Some(q) = s.strip_prefix('"') {
        let end = q.find('"')?;
        (&q[..end], &q[end + 1..])
    } else {
        s.split_once(' ')?
    };
    Some((name.to_owned(), unquote(rest.trim()).to_owned()))
}

fn parse_entries(file: &str, text: &str) -> Result<Vec<Entry>> {
    let bad = |line: usize, t: &str| Error::InvalidYarnLock {
        file: file.to_owned(),
        line,
        text: t.to_owned(),
    };
    let mut entries: Vec<Entry> = Vec::new();
    let mut section: Option<String> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let indent = raw.len() - raw.trim_start_matches(' ').len();
        match indent {
            0 => {
                let keys = trimmed.strip_suffix(':').ok_or_else(|| bad(line, raw))?;
                if keys == "__metadata" {
                    return Err(Error::UnsupportedLockfileVersion {
                        file: file.to_owned(),
                        found: "yarn 2+ (berry)".to_owned(),
                        supported: "yarn lockfile v1 (yarn classic)",
                    });
                }
                entries.push(Entry {
                    line,
                    keys: keys
                        .split(", ")
                        .map(|k| unquote(k.trim()).to_owned())
                        .collect(),
                    ..Entry::default()
                });
                section = None;
            }
            2 => {
                let e = entries.last_mut().ok_or_else(|| bad(line, raw))?;
                if let Some(name) = trimmed.strip_suffix(':') {
                    section = Some(name.to_owned());
                    continue;
                }
                section = None;
                let (field, value) = trimmed.split_once(' ').ok_or_else(|| bad(line, raw))?;
                let value = unquote(value.trim()).to_owned();
                match field {
                    "version" => e.version = Some(value),
                    "resolved" => e.resolved = Some(value),
                    "integrity" => e.integrity = Some(value),
                    _ => {}
                }
            }
            4 => {
                let e = entries.last_mut().ok_or_else(|| bad(line, raw))?;
                let (name, range) = split_pair(trimmed).ok_or_else(|| bad(line, raw))?;
                match section.as_deref() {
                    Some("dependencies") => e.dependencies.push((name, range, line)),
                    Some("optionalDependencies") => {
                        e.optional_dependencies.push((name, range, line))
                    }
                    Some(_) => {}
                    None => return Err(bad(line, raw)),
                }
            }
            _ => return Err(bad(line, raw)),
        }
    }
    Ok(entries)
}

fn read_package_json<T: serde::de::DeserializeOwned>(
    pj: PackageJson<'_>,
    limits: &Limits,
) -> Result<T> {
    check_size(pj.file, pj.bytes.len(), limits)?;
    let t = to_utf8(pj.file, pj.bytes)?;
    serde_json::from_str(t).map_err(|e| Error::InvalidJson {
        file: pj.file.to_owned(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })
}

/// Reads a `yarn.lock` (and optionally `package.json`) into a component graph: yarn classic
/// (lockfile v1), or yarn 2+ ("berry", told apart by its `__metadata` entry).
pub fn parse_yarn_lock(
    file: &str,
    bytes: &[u8],
    package_json: Option<PackageJson<'_>>,
    limits: &Limits,
) -> Result<Sbom> {
    check_size(file, bytes.len(), limits)?;
    let text = to_utf8(file, bytes)?;
    if text.lines().any(|l| l == "__metadata:") {
        let root = package_json
            .map(|pj| read_package_json::<crate::berry::RootManifest>(pj, limits))
            .transpose()?;
        return crate::berry::parse(file, text, root);
    }
    let entries = parse_entries(file, text)?;
    let root: Option<RawPackageJson> = package_json
        .map(|pj| read_package_json(pj, limits))
        .transpose()?;

    let mut sbom = Sbom::new();
    let mut by_key: HashMap<&str, (ComponentId, usize)> = HashMap::new();
    let mut ids: Vec<ComponentId> = Vec::with_capacity(entries.len());
    for e in &entries {
        let first_key = e.keys.first().map(String::as_str).unwrap_or("");
        let (name, range) = split_key(first_key).ok_or_else(|| Error::MissingField {
            file: file.to_owned(),
            line: e.line,
            package: first_key.to_owned(),
            field: "name",
        })?;
        let source = match e.resolved.as_deref() {
            // `file:./local-lib`; package-lock.json writes the same directory as `local-lib`, and
            // the two must give one id.
            None if range.starts_with("file:") || range.starts_with("link:") => Source::Path {
                path: Some(
                    range
                        .split_once(':')
                        .map_or(range, |(_, p)| p)
                        .trim_start_matches("./")
                        .to_owned(),
                ),
            },
            None => Source::Registry { url: None },
            Some(r) if r.starts_with("git") => {
                let (url, rev) = match r.split_once('#') {
                    Some((u, rev)) => (u.to_owned(), Some(rev.to_owned())),
                    None => (r.to_owned(), None),
                };
                Source::Git { url, rev }
            }
            Some(r) if r.starts_with("https://") || r.starts_with("http://") => {
                // Yarn appends `#<sha1>` to the tarball URL.
                Source::Registry {
                    url: Some(r.split_once('#').map_or(r, |(u, _)| u).to_owned()),
                }
            }
            Some(r) if r.starts_with("file:") => Source::Path {
                path: Some(r["file:".len()..].to_owned()),
            },
            Some(r) => {
                return Err(Error::UnknownSource {
                    file: file.to_owned(),
                    line: e.line,
                    package: first_key.to_owned(),
                    source_value: r.to_owned(),
                });
            }
        };
        if e.version.is_none() {
            return Err(Error::MissingField {
                file: file.to_owned(),
                line: e.line,
                package: first_key.to_owned(),
                field: "version",
            });
        }
        let mut c = npm_component(
            file,
            &|| e.line,
            first_key,
            name.to_owned(),
            e.version.clone(),
            source,
            e.integrity.as_deref(),
        )?;
        if c.hashes.is_empty()
            && let Some(sha1) = e.resolved.as_deref().and_then(|r| r.split_once('#'))
            && sha1.1.len() == 40
            && sha1.1.bytes().all(|b| b.is_ascii_hexdigit())
            && !sha1.0.starts_with("git")
        {
            c.hashes.push(Hash {
                algorithm: HashAlgorithm::Sha1,
                hex: sha1.1.to_ascii_lowercase(),
            });
        }
        for k in &e.keys {
            if let Some((_, first)) = by_key.insert(k.as_str(), (c.id.clone(), e.line)) {
                return Err(Error::DuplicateKey {
                    file: file.to_owned(),
                    line: e.line,
                    first_line: first,
                    key: k.clone(),
                });
            }
        }
        ids.push(c.id.clone());
        if sbom.get(&c.id).is_none() {
            sbom.insert(c);
        }
    }

    for (e, from) in entries.iter().zip(&ids) {
        for (deps, required) in [(&e.dependencies, true), (&e.optional_dependencies, false)] {
            for (name, range, line) in deps {
                let key = format!("{name}@{range}");
                match by_key.get(key.as_str()) {
                    Some((to, _)) => sbom.add_dependency(from.clone(), to.clone()),
                    None if !required => {}
                    None => {
                        return Err(Error::UnresolvedDependency {
                            file: file.to_owned(),
                            line: *line,
                            package: e.keys.join(", "),
                            reference: key,
                        });
                    }
                }
            }
        }
    }

    let Some(root) = root else {
        return Ok(sbom);
    };
    let name = root.name.clone().unwrap_or_else(|| "(root)".to_owned());
    let primary = npm_component(
        file,
        &|| 1,
        "package.json",
        name,
        root.version.clone(),
        Source::Path {
            path: Some(".".to_owned()),
        },
        None,
    )?;
    let primary_id = primary.id.clone();
    sbom.insert(primary);
    sbom.set_primary(Some(primary_id.clone()));
    let mut starts = Vec::new();
    for (deps, scope) in [
        (&root.dependencies, Scope::Required),
        (&root.optional_dependencies, Scope::Optional),
        (&root.dev_dependencies, Scope::Dev),
    ] {
        for (name, range) in deps {
            let key = format!("{name}@{range}");
            match by_key.get(key.as_str()) {
                Some((to, _)) => {
                    sbom.add_dependency(primary_id.clone(), to.clone());
                    starts.push((to.clone(), scope));
                }
                None if scope == Scope::Optional => {}
                None => {
                    return Err(Error::UnresolvedDependency {
                        file: file.to_owned(),
                        line: 1,
                        package: "package.json".to_owned(),
                        reference: key,
                    });
                }
            }
        }
    }
    sbom.propagate_scopes(&starts);
    Ok(sbom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scoped_keys_split_at_the_second_at() {
        assert_eq!(split_key("@s/x@^1.0.0"), Some(("@s/x", "^1.0.0")));
        assert_eq!(split_key("ms@^2"), Some(("ms", "^2")));
        assert_eq!(split_key("@nope"), None);
    }

    #[test]
    fn berry_without_entries_is_an_empty_graph() {
        let lock = "__metadata:\n  version: 8\n";
        let s = parse_yarn_lock("yarn.lock", lock.as_bytes(), None, &Limits::default())
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(s.is_empty());
    }

    #[test]
    fn dangling_dependency_names_its_line() {
        let lock = "a@^1:\n  version \"1.0.0\"\n  dependencies:\n    b \"^2\"\n";
        assert!(matches!(
            parse_yarn_lock("yarn.lock", lock.as_bytes(), None, &Limits::default()),
            Err(Error::UnresolvedDependency { line: 4, .. })
        ));
    }
}
