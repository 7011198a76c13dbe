//! Yarn 2+ ("berry") `yarn.lock`: YAML with a `__metadata` entry (lockfile versions 4–8 of
//! yarn 2–4 and the cache-key-prefixed checksums of later ones).
//!
//! Each entry is keyed by every descriptor (`name@npm:^1.0.0`) that resolved to it; a
//! dependency `name: "npm:^1.0.0"` points at the entry holding `name@npm:^1.0.0`. Workspaces are
//! entries too (`name@workspace:.`); their dependency lists merge the kinds together, so the
//! project's dev and optional dependencies come from `package.json`.
//!
//! Berry's `checksum` is a digest of the zip archive yarn repacks each package into, not of the
//! registry's tarball, so it verifies nothing a consumer downloads and is not kept as a hash.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::model::{ComponentId, Sbom, Scope, Source};
use crate::npm::npm_component;

#[derive(Deserialize)]
struct Entry {
    version: Option<String>,
    resolution: Option<String>,
    #[serde(default)]
    dependencies: BTreeMap<String, String>,
    #[serde(default, rename = "optionalDependencies")]
    optional_dependencies: BTreeMap<String, String>,
    #[serde(default, rename = "dependenciesMeta")]
    dependencies_meta: BTreeMap<String, DependencyMeta>,
}

#[derive(Deserialize, Default)]
struct DependencyMeta {
    #[serde(default)]
    optional: bool,
}

/// The root `package.json`'s fields berry's lockfile does not keep.
#[derive(Deserialize, Default)]
pub(crate) struct RootManifest {
    pub(crate) name: Option<String>,
    pub(crate) version: Option<String>,
    #[serde(default, rename = "devDependencies")]
    pub(crate) dev_dependencies: BTreeMap<String, String>,
    #[serde(default, rename = "optionalDependencies")]
    pub(crate) optional_dependencies: BTreeMap<String, String>,
}

/// `name` and the rest of `name@rest`; scoped names start with `@`.
fn split_descriptor(d: &str) -> Option<(&str, &str)> {
    let at = if let Some(rest) = d.strip_prefix('@') {
        rest.find('@')? + 1
    } else {
        d.find('@')?
    };
    Some((&d[..at], &d[at + 1..]))
}

/// A descriptor without berry's `::locator=…` binding, which ties `file:` and `patch:` ranges to
/// the workspace that declared them; dependency lists write the range without it.
fn unbound(d: &str) -> &str {
    d.split_once("::").map_or(d, |(a, _)| a)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            // Two hex digits are below 256.
            out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What a resolution (`name@npm:1.0.0`, `name@workspace:.`, `name@file:./x#./x::hash=…`,
/// `name@https://github.com/o/r.git#commit=abc`, `name@patch:name@npm%3A1.0.0#…`) says about
/// where the code came from. `None` for a protocol this reader does not know.
fn source_of(reference: &str) -> Option<(Source, bool)> {
    if reference.starts_with("npm:") {
        return Some((Source::Registry { url: None }, false));
    }
    if let Some(path) = reference.strip_prefix("workspace:") {
        return Some((
            Source::Path {
                path: Some(path.to_owned()),
            },
            true,
        ));
    }
    for proto in ["file:", "link:", "portal:"] {
        if let Some(rest) = reference.strip_prefix(proto) {
            let path = unbound(rest);
            let path = path.split_once('#').map_or(path, |(p, _)| p);
            return Some((
                Source::Path {
                    // package-lock.json writes the same directory as `local-lib`, and the two
                    // must give one id.
                    path: Some(path.trim_start_matches("./").to_owned()),
                },
                false,
            ));
        }
    }
    if let Some(rest) = reference.strip_prefix("patch:") {
        // `patch:<original descriptor, percent-encoded>#<patch file>`: the code is the
        // original package's with a local patch; it is that package for the scanner.
        let original = percent_decode(rest.split_once('#').map_or(rest, |(o, _)| o));
        let (_, inner) = split_descriptor(&original)?;
        return source_of(inner);
    }
    let git_like = reference.starts_with("git")
        || reference.starts_with("ssh:")
        || reference.contains(".git#")
        || reference.contains("#commit=");
    if git_like {
        let (url, frag) = reference.split_once('#').unwrap_or((reference, ""));
        let rev = frag
            .split('&')
            .find_map(|kv| kv.strip_prefix("commit="))
            .map(str::to_owned);
        return Some((
            Source::Git {
                url: url.to_owned(),
                rev,
            },
            false,
        ));
    }
    if reference.starts_with("https://") || reference.starts_with("http://") {
        return Some((
            Source::Registry {
                url: Some(unbound(reference).to_owned()),
            },
            false,
        ));
    }
    None
}

/// First line of each top-level key, as written (quotes removed); the YAML parser keeps no
/// positions once deserialised.
fn key_lines(text: &str) -> HashMap<String, usize> {
    let mut out = HashMap::new();
    for (i, l) in text.lines().enumerate() {
        if l.starts_with([' ', '#']) || l.is_empty() {
            continue;
        }
        if let Some(k) = l.strip_suffix(':') {
            let k = k
                .strip_prefix('"')
                .and_then(|x| x.strip_suffix('"'))
                .unwrap_or(k);
            out.entry(k.to_owned()).or_insert(i + 1);
        }
    }
    out
}

/// Reads a berry lockfile; `root` is the project's `package.json`, when there is one.
pub(crate) fn parse(file: &str, text: &str, root: Option<RootManifest>) -> Result<Sbom> {
    let raw: BTreeMap<String, serde_yaml_ng::Value> =
        serde_yaml_ng::from_str(text).map_err(|e| Error::InvalidYaml {
            file: file.to_owned(),
            line: e.location().map_or(1, |l| l.line()),
            message: e.to_string(),
        })?;
    let lines = key_lines(text);
    let line_of = |k: &str| lines.get(k).copied().unwrap_or(1);

    let mut sbom = Sbom::new();
    let mut by_descriptor: HashMap<String, (ComponentId, usize)> = HashMap::new();
    let mut entries: Vec<(String, Entry, ComponentId)> = Vec::new();
    let mut workspaces: Vec<(ComponentId, String)> = Vec::new();
    for (key, value) in raw {
        if key == "__metadata" {
            continue;
        }
        let line = line_of(&key);
        let entry: Entry = serde_yaml_ng::from_value(value).map_err(|e| Error::InvalidYaml {
            file: file.to_owned(),
            line,
            message: format!("entry `{key}`: {e}"),
        })?;
        let missing = |field| Error::MissingField {
            file: file.to_owned(),
            line,
            package: key.clone(),
            field,
        };
        let resolution = entry
            .resolution
            .as_deref()
            .ok_or_else(|| missing("resolution"))?;
        let (name, reference) = split_descriptor(resolution).ok_or_else(|| missing("name"))?;
        let (source, is_workspace) = source_of(reference).ok_or_else(|| Error::UnknownSource {
            file: file.to_owned(),
            line,
            package: key.clone(),
            source_value: reference.to_owned(),
        })?;
        let is_root = is_workspace && reference == "workspace:.";
        let (name, version) = match (&root, is_root) {
            (Some(m), true) => (
                m.name.clone().unwrap_or_else(|| name.to_owned()),
                m.version.clone(),
            ),
            // A workspace's `0.0.0-use.local` is a placeholder, not its version.
            (_, _) if is_workspace => (name.to_owned(), None),
            _ => (
                name.to_owned(),
                Some(entry.version.clone().ok_or_else(|| missing("version"))?),
            ),
        };
        let c = npm_component(file, &|| line, &key, name, version, source, None)?;
        for d in key.split(", ").map(str::trim) {
            if let Some((_, first)) = by_descriptor.insert(d.to_owned(), (c.id.clone(), line)) {
                return Err(Error::DuplicateKey {
                    file: file.to_owned(),
                    line,
                    first_line: first,
                    key: d.to_owned(),
                });
            }
        }
        for d in key.split(", ").map(str::trim) {
            // Two workspaces may bind the same `file:` range; either entry will do for an edge.
            by_descriptor
                .entry(unbound(d).to_owned())
                .or_insert((c.id.clone(), line));
        }
        if is_workspace {
            workspaces.push((c.id.clone(), reference.to_owned()));
            if is_root {
                sbom.set_primary(Some(c.id.clone()));
            }
        }
        let id = c.id.clone();
        if sbom.get(&id).is_none() {
            sbom.insert(c);
        }
        entries.push((key, entry, id));
    }

    let root_deps = root.as_ref();
    let primary = sbom.primary().map(|c| c.id.clone());
    let mut starts: Vec<(ComponentId, Scope)> = Vec::new();
    for (key, e, from) in &entries {
        let deps = e
            .dependencies
            .iter()
            .map(|d| (d, false))
            .chain(e.optional_dependencies.iter().map(|d| (d, true)));
        for ((name, range), listed_optional) in deps {
            let optional =
                listed_optional || e.dependencies_meta.get(name).is_some_and(|m| m.optional);
            let descriptor = format!("{name}@{range}");
            let Some((to, _)) = by_descriptor.get(&descriptor) else {
                // Yarn leaves out optional packages for platforms it never installs on.
                if optional {
                    continue;
                }
                return Err(Error::UnresolvedDependency {
                    file: file.to_owned(),
                    line: line_of(key),
                    package: key.clone(),
                    reference: descriptor,
                });
            };
            sbom.add_dependency(from.clone(), to.clone());
            if Some(from) == primary.as_ref() {
                let scope = match root_deps {
                    Some(m) if m.dev_dependencies.contains_key(name) => Scope::Dev,
                    Some(m) if m.optional_dependencies.contains_key(name) => Scope::Optional,
                    _ if optional => Scope::Optional,
                    _ => Scope::Required,
                };
                starts.push((to.clone(), scope));
            }
        }
    }
    // Other workspace members are products too.
    for (id, _) in &workspaces {
        if Some(id) != primary.as_ref() {
            starts.push((id.clone(), Scope::Required));
        }
    }
    if primary.is_some() {
        sbom.propagate_scopes(&starts);
    }
    Ok(sbom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_by_protocol() {
        let kind = |r: &str| source_of(r).map(|(s, w)| (s.kind(), w));
        assert_eq!(kind("npm:1.0.0"), Some(("registry", false)));
        assert_eq!(kind("workspace:packages/a"), Some(("path", true)));
        assert_eq!(
            kind("patch:resolve@npm%3A1.22.8#optional!builtin<compat/resolve>::version=1.22.8"),
            Some(("registry", false))
        );
        assert_eq!(kind("exec:./gen.js"), None);
        match source_of("https://github.com/o/r.git#commit=abc123") {
            Some((Source::Git { url, rev }, false)) => {
                assert_eq!(url, "https://github.com/o/r.git");
                assert_eq!(rev.as_deref(), Some("abc123"));
            }
            other => panic!("{other:?}"),
        }
        match source_of("file:./local-lib#./local-lib::hash=6efaca&locator=x") {
            Some((Source::Path { path }, false)) => assert_eq!(path.as_deref(), Some("local-lib")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a@npm%3A1.0.0"), "a@npm:1.0.0");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }
}
