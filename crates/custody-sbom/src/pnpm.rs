//! `pnpm-lock.yaml`, lockfile versions 6 (pnpm 8) and 9 (pnpm 9 and later).
//!
//! `importers` are the project and its workspace members, with their direct dependencies and
//! kinds; `packages` holds each package's resolution (integrity, tarball, directory or git);
//! `snapshots` holds the graph, one entry per package and peer-dependency combination. Peer
//! variants (`name@1.0.0(react@18.0.0)`) are one component.
//!
//! Version 6 differs in layout only: a single project's dependencies sit at the top level
//! instead of under `importers`, `packages` keys start with `/` and hold the graph as well as
//! the resolution, and a dependency on a registry package is written by version alone. It is
//! rewritten into the version 9 shape, so that one resolver serves both. Versions 5 and older
//! key packages as `/name/1.0.0` and are refused rather than misread.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::model::{ComponentId, Sbom, Scope, Source};
use crate::npm::{PackageJson, npm_component};
use crate::{Limits, check_size, to_utf8};

#[derive(Deserialize)]
struct PnpmLock {
    #[serde(default)]
    importers: BTreeMap<String, Importer>,
    #[serde(default)]
    packages: BTreeMap<String, PnpmPackage>,
    #[serde(default)]
    snapshots: BTreeMap<String, Snapshot>,
    /// Version 6, single project: the root importer's fields at the top level.
    #[serde(flatten)]
    top_level: Importer,
}

#[derive(Deserialize, Default)]
struct Importer {
    #[serde(default)]
    dependencies: BTreeMap<String, ImporterDependency>,
    #[serde(default, rename = "optionalDependencies")]
    optional_dependencies: BTreeMap<String, ImporterDependency>,
    #[serde(default, rename = "devDependencies")]
    dev_dependencies: BTreeMap<String, ImporterDependency>,
}

#[derive(Deserialize)]
struct ImporterDependency {
    version: String,
}

#[derive(Deserialize)]
struct PnpmPackage {
    #[serde(default)]
    resolution: Resolution,
    /// Version 6 only: the graph, and the name of a package not from a registry.
    name: Option<String>,
    #[serde(flatten)]
    graph: Snapshot,
}

#[derive(Deserialize, Default)]
struct Resolution {
    integrity: Option<String>,
    tarball: Option<String>,
    directory: Option<String>,
    repo: Option<String>,
    commit: Option<String>,
}

#[derive(Deserialize, Default)]
struct Snapshot {
    #[serde(default)]
    dependencies: BTreeMap<String, String>,
    #[serde(default, rename = "optionalDependencies")]
    optional_dependencies: BTreeMap<String, String>,
}

#[derive(Deserialize, Default)]
struct RawPackageJson {
    name: Option<String>,
    version: Option<String>,
}

/// `name` and `version` of `name@version`; scoped names start with `@`.
fn split_key(key: &str) -> Option<(&str, &str)> {
    let at = if let Some(rest) = key.strip_prefix('@') {
        rest.find('@')? + 1
    } else {
        key.find('@')?
    };
    Some((&key[..at], &key[at + 1..]))
}

/// `name@1.0.0(peer@2.0.0)` without the peer suffix.
fn without_peers(key: &str) -> &str {
    key.find('(').map_or(key, |i| &key[..i])
}

/// The `lockfileVersion` on the file's first lines, unquoted; pnpm writes it first. Read from the
/// text so that an old layout is refused by its version, not by a YAML type error.
fn lockfile_version(text: &str) -> &str {
    text.lines()
        .take(8)
        .find_map(|l| l.strip_prefix("lockfileVersion:"))
        .map(|v| v.trim().trim_matches(|c| c == '\'' || c == '"'))
        .unwrap_or("(none)")
}

/// Rewrites a version 6 lockfile into the version 9 layout (see the module docs).
fn from_v6(mut lock: PnpmLock, written: &mut HashMap<String, String>) -> PnpmLock {
    if lock.importers.is_empty() {
        lock.importers
            .insert(".".to_owned(), std::mem::take(&mut lock.top_level));
    }
    // `/name@1.0.0(peer@2.0.0)` -> `name@1.0.0(peer@2.0.0)`; `file:dir` or
    // `github.com/o/r/<commit>` with `name: x` -> `x@file:dir`.
    let new_key = |key: &str, p: &PnpmPackage| match key.strip_prefix('/') {
        Some(k) => k.to_owned(),
        None => format!("{}@{key}", p.name.as_deref().unwrap_or(key)),
    };
    // A dependency is written by version (`1.0.0(peer@2.0.0)`), by alias target
    // (`/real@1.0.0`), or by location (`file:dir`): v9 writes the first and last the same way,
    // the alias without its slash; a location needs the target's name, resolved below.
    let mut by_location: HashMap<String, String> = HashMap::new();
    for (key, p) in &lock.packages {
        if !key.starts_with('/') {
            by_location.insert(key.clone(), new_key(key, p));
        }
    }
    let fix_ref = |name: &str, r: &str| -> String {
        if let Some(alias) = r.strip_prefix('/') {
            return alias.to_owned();
        }
        match by_location.get(r) {
            Some(k) if !k.starts_with(&format!("{name}@")) => k.clone(),
            _ => r.to_owned(),
        }
    };
    let fix_map = |m: &mut BTreeMap<String, String>| {
        for (name, r) in m.iter_mut() {
            *r = fix_ref(name, r);
        }
    };
    for importer in lock.importers.values_mut() {
        for deps in [
            &mut importer.dependencies,
            &mut importer.optional_dependencies,
            &mut importer.dev_dependencies,
        ] {
            for (name, d) in deps.iter_mut() {
                d.version = fix_ref(name, &d.version);
            }
        }
    }
    let packages = std::mem::take(&mut lock.packages);
    for (key, mut p) in packages {
        let k = new_key(&key, &p);
        written.insert(k.clone(), key);
        let mut graph = std::mem::take(&mut p.graph);
        fix_map(&mut graph.dependencies);
        fix_map(&mut graph.optional_dependencies);
        lock.snapshots.insert(k.clone(), graph);
        lock.packages.insert(without_peers(&k).to_owned(), p);
    }
    lock
}

/// Reads a `pnpm-lock.yaml` (v6 or v9) into a component graph; `package.json` names the
/// project.
pub fn parse_pnpm_lock(
    file: &str,
    bytes: &[u8],
    package_json: Option<PackageJson<'_>>,
    limits: &Limits,
) -> Result<Sbom> {
    check_size(file, bytes.len(), limits)?;
    let text = to_utf8(file, bytes)?;
    let version = lockfile_version(text);
    let v6 = version.starts_with("6.");
    if !(v6 || version == "9.0" || version == "9") {
        return Err(Error::UnsupportedLockfileVersion {
            file: file.to_owned(),
            found: version.to_owned(),
            supported: "6.0, 6.1, 9.0",
        });
    }
    let mut lock: PnpmLock = serde_yaml_ng::from_str(text).map_err(|e| Error::InvalidYaml {
        file: file.to_owned(),
        line: e.location().map_or(1, |l| l.line()),
        message: e.to_string(),
    })?;
    // Keys as rewritten -> keys as written, for error lines.
    let mut written: HashMap<String, String> = HashMap::new();
    if v6 {
        lock = from_v6(lock, &mut written);
    }
    let root: RawPackageJson = match package_json {
        Some(pj) => {
            check_size(pj.file, pj.bytes.len(), limits)?;
            let t = to_utf8(pj.file, pj.bytes)?;
            serde_json::from_str(t).map_err(|e| Error::InvalidJson {
                file: pj.file.to_owned(),
                line: e.line(),
                column: e.column(),
                message: e.to_string(),
            })?
        }
        None => RawPackageJson::default(),
    };

    // The YAML parser keeps no positions once deserialised; errors point at the entry's key.
    let line_of = |key: &str| {
        let key = written.get(key).map_or(key, String::as_str);
        text.lines()
            .position(|l| {
                let t = l.trim_start();
                t.strip_prefix(key)
                    .or_else(|| t.strip_prefix(&format!("'{key}'")))
                    .is_some_and(|r| r.starts_with(':'))
            })
            .map_or(1, |i| i + 1)
    };

    let mut sbom = Sbom::new();
    let mut snapshot_ids: HashMap<&str, ComponentId> = HashMap::new();
    for key in lock.snapshots.keys() {
        let base = without_peers(key);
        let (name, version) = split_key(base).ok_or_else(|| Error::MissingField {
            file: file.to_owned(),
            line: line_of(key),
            package: key.clone(),
            field: "name",
        })?;
        let resolution = lock
            .packages
            .get(base)
            .map(|p| &p.resolution)
            .ok_or_else(|| Error::UnresolvedDependency {
                file: file.to_owned(),
                line: line_of(key),
                package: key.clone(),
                reference: format!("packages.{base}"),
            })?;
        let (source, version) = if let Some(dir) = &resolution.directory {
            (
                Source::Path {
                    path: Some(dir.clone()),
                },
                None,
            )
        } else if let Some(repo) = &resolution.repo {
            (
                Source::Git {
                    url: repo.clone(),
                    rev: resolution.commit.clone(),
                },
                None,
            )
        } else {
            (
                Source::Registry {
                    url: resolution.tarball.clone(),
                },
                Some(version.to_owned()),
            )
        };
        // A directory or git package's "version" in the key is its location, not a version.
        let c = npm_component(
            file,
            &|| line_of(key),
            key,
            name.to_owned(),
            version,
            source,
            resolution.integrity.as_deref(),
        )?;
        snapshot_ids.insert(key.as_str(), c.id.clone());
        if sbom.get(&c.id).is_none() {
            sbom.insert(c);
        }
    }

    let resolve = |name: &str, reference: &str| -> Option<&ComponentId> {
        snapshot_ids
            .get(format!("{name}@{reference}").as_str())
            // An alias (`alias: real-name@1.0.0`) names the snapshot itself.
            .or_else(|| snapshot_ids.get(reference))
    };
    for (key, snap) in &lock.snapshots {
        let Some(from) = snapshot_ids.get(key.as_str()) else {
            continue;
        };
        for (deps, required) in [
            (&snap.dependencies, true),
            (&snap.optional_dependencies, false),
        ] {
            for (name, reference) in deps {
                match resolve(name, reference) {
                    Some(to) => sbom.add_dependency(from.clone(), to.clone()),
                    None if !required => {}
                    None => {
                        return Err(Error::UnresolvedDependency {
                            file: file.to_owned(),
                            line: line_of(key),
                            package: key.clone(),
                            reference: format!("{name}@{reference}"),
                        });
                    }
                }
            }
        }
    }

    let mut starts = Vec::new();
    for (path, importer) in &lock.importers {
        let (name, version) = if path == "." {
            (
                root.name.clone().unwrap_or_else(|| "(root)".to_owned()),
                root.version.clone(),
            )
        } else {
            (path.clone(), None)
        };
        let c = npm_component(
            file,
            &|| line_of(path),
            path,
            name,
            version,
            Source::Path {
                path: Some(path.clone()),
            },
            None,
        )?;
        let id = c.id.clone();
        sbom.insert(c);
        if path == "." {
            sbom.set_primary(Some(id.clone()));
        }
        for (deps, scope) in [
            (&importer.dependencies, Scope::Required),
            (&importer.optional_dependencies, Scope::Optional),
            (&importer.dev_dependencies, Scope::Dev),
        ] {
            for (name, dep) in deps {
                // Workspace members link to each other; the member is its own importer.
                if dep.version.starts_with("link:") {
                    continue;
                }
                match resolve(name, &dep.version) {
                    Some(to) => {
                        sbom.add_dependency(id.clone(), to.clone());
                        starts.push((to.clone(), scope));
                    }
                    None if scope == Scope::Optional => {}
                    None => {
                        return Err(Error::UnresolvedDependency {
                            file: file.to_owned(),
                            line: line_of(path),
                            package: format!("importer {path}"),
                            reference: format!("{name}@{}", dep.version),
                        });
                    }
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
    fn peer_suffix_is_dropped() {
        assert_eq!(without_peers("a@1.0.0(b@2.0.0)"), "a@1.0.0");
        assert_eq!(split_key("@s/x@1.0.0"), Some(("@s/x", "1.0.0")));
    }

    #[test]
    fn older_lockfile_versions_are_refused() {
        assert!(matches!(
            parse_pnpm_lock(
                "pnpm-lock.yaml",
                b"lockfileVersion: '5.4'\n",
                None,
                &Limits::default()
            ),
            Err(Error::UnsupportedLockfileVersion { .. })
        ));
    }
}
