//! `pnpm-lock.yaml`, lockfile version 9 (pnpm 9 and later).
//!
//! `importers` are the project and its workspace members, with their direct dependencies and
//! kinds; `packages` holds each package's resolution (integrity, tarball, directory or git);
//! `snapshots` holds the graph, one entry per package and peer-dependency combination. Peer
//! variants (`name@1.0.0(react@18.0.0)`) are one component. Older lockfile versions (5–8) key
//! packages differently and are refused rather than misread.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::model::{ComponentId, Sbom, Scope, Source};
use crate::npm::{PackageJson, npm_component};
use crate::{Limits, check_size, to_utf8};

#[derive(Deserialize)]
struct PnpmLock {
    #[serde(rename = "lockfileVersion")]
    lockfile_version: Option<serde_yaml_ng::Value>,
    #[serde(default)]
    importers: BTreeMap<String, Importer>,
    #[serde(default)]
    packages: BTreeMap<String, PnpmPackage>,
    #[serde(default)]
    snapshots: BTreeMap<String, Snapshot>,
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

/// Reads a `pnpm-lock.yaml` (v9) into a component graph; `package.json` names the project.
pub fn parse_pnpm_lock(
    file: &str,
    bytes: &[u8],
    package_json: Option<PackageJson<'_>>,
    limits: &Limits,
) -> Result<Sbom> {
    check_size(file, bytes.len(), limits)?;
    let text = to_utf8(file, bytes)?;
    let lock: PnpmLock = serde_yaml_ng::from_str(text).map_err(|e| Error::InvalidYaml {
        file: file.to_owned(),
        line: e.location().map_or(1, |l| l.line()),
        message: e.to_string(),
    })?;
    let version = match &lock.lockfile_version {
        Some(serde_yaml_ng::Value::String(s)) => s.clone(),
        Some(serde_yaml_ng::Value::Number(n)) => n.to_string(),
        _ => "(none)".to_owned(),
    };
    if !(version == "9.0" || version == "9") {
        return Err(Error::UnsupportedLockfileVersion {
            file: file.to_owned(),
            found: version,
            supported: "9.0",
        });
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
            line_of(key),
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
            line_of(path),
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
                b"lockfileVersion: '6.0'\n",
                None,
                &Limits::default()
            ),
            Err(Error::UnsupportedLockfileVersion { .. })
        ));
    }
}
