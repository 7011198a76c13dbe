//! `package-lock.json` / `npm-shrinkwrap.json`, lockfile versions 1, 2 and 3.
//!
//! v2 and v3 list every installed package under its `node_modules/…` path in `packages`; v1 nests
//! them in `dependencies`. v1 is first flattened into the v2 shape, so one resolver serves both:
//! a dependency of the package at path P is found the way Node finds it, in P/node_modules, then
//! in each ancestor's node_modules, up to the root.

use std::collections::{BTreeMap, HashMap};

use base64::Engine as _;
use serde::Deserialize;

use crate::error::{Error, Result, line_of_offset};
use crate::model::{Component, ComponentId, Ecosystem, Hash, HashAlgorithm, Sbom, Scope, Source};
use crate::{Limits, check_size, to_utf8};

const NPM_REGISTRY: &str = "https://registry.npmjs.org/";
const YARN_REGISTRY: &str = "https://registry.yarnpkg.com/";

/// A `package.json` given alongside the lockfile; only v1 lockfiles need it, for the root's
/// direct dependencies, which v1 does not record.
#[derive(Debug, Clone, Copy)]
pub struct PackageJson<'a> {
    /// Name for error messages, usually the path.
    pub file: &'a str,
    pub bytes: &'a [u8],
}

#[derive(Deserialize)]
struct RawLock {
    name: Option<String>,
    version: Option<String>,
    #[serde(rename = "lockfileVersion")]
    lockfile_version: Option<serde_json::Value>,
    packages: Option<Unique<RawPackage>>,
    dependencies: Option<Unique<RawV1Dependency>>,
}

/// A JSON object as a map that remembers the first repeated key: serde_json keeps the last
/// value of a repeated key, which would silently drop the package the first one described.
struct Unique<V> {
    map: BTreeMap<String, V>,
    repeated: Option<String>,
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Unique<V> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Visitor<V>(std::marker::PhantomData<V>);
        impl<'de, V: Deserialize<'de>> serde::de::Visitor<'de> for Visitor<V> {
            type Value = Unique<V>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object of packages")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut access: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                let mut out = Unique {
                    map: BTreeMap::new(),
                    repeated: None,
                };
                while let Some((k, v)) = access.next_entry::<String, V>()? {
                    match out.map.entry(k) {
                        std::collections::btree_map::Entry::Occupied(e) => {
                            out.repeated.get_or_insert_with(|| e.key().clone());
                        }
                        std::collections::btree_map::Entry::Vacant(e) => {
                            e.insert(v);
                        }
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_map(Visitor(std::marker::PhantomData))
    }
}

/// Lines of the occurrences of `"key":` in `text`; the JSON parser keeps no positions.
fn key_lines(text: &str, key: &str) -> Vec<usize> {
    let quoted = format!("\"{key}\"");
    let mut lines = Vec::new();
    let mut from = 0;
    while let Some(i) = text[from..].find(&quoted) {
        let at = from + i;
        from = at + quoted.len();
        if text[from..].trim_start().starts_with(':') {
            lines.push(line_of_offset(text, at));
        }
    }
    lines
}

fn check_unique<V>(file: &str, text: &str, u: Unique<V>) -> Result<BTreeMap<String, V>> {
    match u.repeated {
        None => Ok(u.map),
        Some(key) => {
            let lines = key_lines(text, &key);
            Err(Error::DuplicateKey {
                file: file.to_owned(),
                line: lines.get(1).copied().unwrap_or(1),
                first_line: lines.first().copied().unwrap_or(1),
                key,
            })
        }
    }
}

#[derive(Deserialize, Default, Clone)]
struct RawPackage {
    name: Option<String>,
    version: Option<String>,
    resolved: Option<String>,
    integrity: Option<String>,
    #[serde(default)]
    link: bool,
    #[serde(default)]
    dev: bool,
    #[serde(default)]
    optional: bool,
    #[serde(default, rename = "devOptional")]
    dev_optional: bool,
    license: Option<serde_json::Value>,
    #[serde(default)]
    dependencies: BTreeMap<String, serde_json::Value>,
    #[serde(default, rename = "optionalDependencies")]
    optional_dependencies: BTreeMap<String, serde_json::Value>,
    #[serde(default, rename = "peerDependencies")]
    peer_dependencies: BTreeMap<String, serde_json::Value>,
    #[serde(default, rename = "devDependencies")]
    dev_dependencies: BTreeMap<String, serde_json::Value>,
}

#[derive(Deserialize)]
struct RawV1Dependency {
    #[serde(default)]
    version: String,
    resolved: Option<String>,
    integrity: Option<String>,
    #[serde(default)]
    dev: bool,
    #[serde(default)]
    optional: bool,
    #[serde(default)]
    requires: BTreeMap<String, serde_json::Value>,
    dependencies: Option<Unique<RawV1Dependency>>,
}

fn parse_json<'de, T: Deserialize<'de>>(file: &str, text: &'de str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| Error::InvalidJson {
        file: file.to_owned(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })
}

/// Reads a `package-lock.json` (and, for v1, optionally `package.json`) into a component graph.
pub fn parse_package_lock(
    file: &str,
    lock: &[u8],
    package_json: Option<PackageJson<'_>>,
    limits: &Limits,
) -> Result<Sbom> {
    check_size(file, lock.len(), limits)?;
    let text = to_utf8(file, lock)?;
    let raw: RawLock = parse_json(file, text)?;
    let version = raw.lockfile_version.as_ref().and_then(|v| v.as_u64());
    let packages = match (version, raw.packages, raw.dependencies) {
        (Some(2 | 3), Some(p), _) => check_unique(file, text, p)?,
        (Some(1), _, Some(deps)) => {
            let root_json = match package_json {
                Some(pj) => {
                    check_size(pj.file, pj.bytes.len(), limits)?;
                    Some(parse_json::<RawPackage>(
                        pj.file,
                        to_utf8(pj.file, pj.bytes)?,
                    )?)
                }
                None => None,
            };
            flatten_v1(file, text, raw.name, raw.version, root_json, deps)?
        }
        _ => {
            return Err(Error::UnsupportedLockfileVersion {
                file: file.to_owned(),
                found: raw
                    .lockfile_version
                    .map_or_else(|| "(none)".to_owned(), |v| v.to_string()),
                supported: "1 (with `dependencies`), 2 and 3 (with `packages`)",
            });
        }
    };
    Graph {
        file,
        text,
        packages: &packages,
    }
    .build()
}

/// Turns the v1 nested tree into v2's path-keyed map.
fn flatten_v1(
    file: &str,
    text: &str,
    name: Option<String>,
    version: Option<String>,
    root_json: Option<RawPackage>,
    deps: Unique<RawV1Dependency>,
) -> Result<BTreeMap<String, RawPackage>> {
    let deps = check_unique(file, text, deps)?;
    let mut out = BTreeMap::new();
    let mut root = root_json.unwrap_or_default();
    if root.name.is_none() {
        root.name = name;
    }
    if root.version.is_none() {
        root.version = version;
    }
    if root.dependencies.is_empty()
        && root.dev_dependencies.is_empty()
        && root.optional_dependencies.is_empty()
    {
        // Without package.json, every top-level entry is taken as a direct dependency: the graph
        // then over-approximates, which is safe for scanning.
        for (n, d) in &deps {
            let table = if d.dev {
                &mut root.dev_dependencies
            } else if d.optional {
                &mut root.optional_dependencies
            } else {
                &mut root.dependencies
            };
            table.insert(n.clone(), serde_json::Value::Null);
        }
    }
    out.insert(String::new(), root);
    let mut stack: Vec<(String, BTreeMap<String, RawV1Dependency>)> = vec![(String::new(), deps)];
    while let Some((prefix, deps)) = stack.pop() {
        for (n, d) in deps {
            let key = if prefix.is_empty() {
                format!("node_modules/{n}")
            } else {
                format!("{prefix}/node_modules/{n}")
            };
            let (version, resolved) = if d.version.starts_with("file:")
                || d.version.contains("://")
                || d.version.starts_with("github:")
            {
                // v1 writes a non-registry source in place of the version.
                (None, Some(d.version.clone()))
            } else {
                (Some(d.version.clone()), d.resolved.clone())
            };
            out.insert(
                key.clone(),
                RawPackage {
                    name: Some(n),
                    version,
                    resolved,
                    integrity: d.integrity,
                    dev: d.dev,
                    optional: d.optional,
                    dependencies: d.requires,
                    ..RawPackage::default()
                },
            );
            if let Some(nested) = d.dependencies {
                let nested = check_unique(file, text, nested)?;
                if !nested.is_empty() {
                    stack.push((key, nested));
                }
            }
        }
    }
    Ok(out)
}

struct Graph<'a> {
    file: &'a str,
    text: &'a str,
    packages: &'a BTreeMap<String, RawPackage>,
}

impl<'a> Graph<'a> {
    /// Line of an entry's key; the JSON parser keeps no positions, so the key is searched for.
    fn line(&self, key: &str) -> usize {
        key_lines(self.text, key).first().copied().unwrap_or(1)
    }

    fn name_of(&self, key: &str, pkg: &RawPackage, link_names: &HashMap<&str, &str>) -> String {
        if let Some(n) = &pkg.name {
            return n.clone();
        }
        if let Some(i) = key.rfind("node_modules/") {
            return key[i + "node_modules/".len()..].to_owned();
        }
        if let Some(n) = link_names.get(key) {
            return (*n).to_owned();
        }
        key.rsplit('/').next().unwrap_or(key).to_owned()
    }

    fn build(&self) -> Result<Sbom> {
        // Link entries point at a directory entry elsewhere in the map (workspaces, `file:` deps).
        let mut link_names: HashMap<&str, &str> = HashMap::new();
        for (key, pkg) in self.packages {
            if pkg.link
                && let (Some(target), Some(i)) =
                    (pkg.resolved.as_deref(), key.rfind("node_modules/"))
            {
                link_names.insert(target, &key[i + "node_modules/".len()..]);
            }
        }

        let mut sbom = Sbom::new();
        let mut ids: HashMap<&str, ComponentId> = HashMap::new();
        for (key, pkg) in self.packages {
            if pkg.link {
                continue;
            }
            let component = self.component(key, pkg, &link_names)?;
            ids.insert(key.as_str(), component.id.clone());
            match sbom.get_mut(&component.id) {
                // The same package installed at several paths is one component.
                Some(existing) => existing.scope = existing.scope.min(component.scope),
                None => sbom.insert(component),
            }
        }
        if let Some(root) = ids.get("") {
            sbom.set_primary(Some(root.clone()));
        }

        // Node's lookup tries a path per ancestor: hashing beats comparing long shared prefixes.
        let index: HashMap<&str, &RawPackage> =
            self.packages.iter().map(|(k, p)| (k.as_str(), p)).collect();
        let mut buf = String::new();

        for (key, pkg) in self.packages {
            let Some(from) = ids.get(key.as_str()) else {
                continue;
            };
            let required = pkg.dependencies.keys().map(|d| (d, true));
            let optional = pkg
                .optional_dependencies
                .keys()
                .chain(pkg.peer_dependencies.keys())
                .map(|d| (d, false));
            let dev = if key.is_empty() {
                Some(pkg.dev_dependencies.keys().map(|d| (d, true)))
            } else {
                None
            };
            for (dep, must_exist) in required.chain(optional).chain(dev.into_iter().flatten()) {
                let target = self.resolve(&index, &mut buf, key, dep).and_then(|p| {
                    match (p.link, p.resolved.as_deref()) {
                        (true, Some(t)) => ids.get(t),
                        _ => ids.get(buf.as_str()),
                    }
                });
                match target {
                    Some(to) => sbom.add_dependency(from.clone(), to.clone()),
                    // An optional or peer dependency that was not installed is not an error;
                    // neither is a dev dependency of a package below the root, which npm never
                    // installs.
                    None if !must_exist => {}
                    None => {
                        return Err(Error::UnresolvedDependency {
                            file: self.file.to_owned(),
                            line: self.line(key),
                            package: if key.is_empty() {
                                "(root)".to_owned()
                            } else {
                                key.clone()
                            },
                            reference: dep.clone(),
                        });
                    }
                }
            }
        }
        Ok(sbom)
    }

    fn resolve(
        &self,
        index: &HashMap<&str, &'a RawPackage>,
        buf: &mut String,
        from: &str,
        dep: &str,
    ) -> Option<&'a RawPackage> {
        let mut base = from;
        loop {
            buf.clear();
            if !base.is_empty() {
                buf.push_str(base);
                buf.push('/');
            }
            buf.push_str("node_modules/");
            buf.push_str(dep);
            if let Some(p) = index.get(buf.as_str()) {
                return Some(p);
            }
            if base.is_empty() {
                return None;
            }
            base = base.rfind("/node_modules/").map_or("", |i| &base[..i]);
        }
    }

    fn component(
        &self,
        key: &str,
        pkg: &RawPackage,
        link_names: &HashMap<&str, &str>,
    ) -> Result<Component> {
        let line = || self.line(key);
        let name = self.name_of(key, pkg, link_names);
        if name.is_empty() && !key.is_empty() {
            return Err(Error::MissingField {
                file: self.file.to_owned(),
                line: line(),
                package: key.to_owned(),
                field: "name",
            });
        }
        let in_node_modules = key.starts_with("node_modules/") || key.contains("/node_modules/");
        let source = if !in_node_modules {
            Source::Path {
                path: Some(if key.is_empty() { "." } else { key }.to_owned()),
            }
        } else {
            match pkg.resolved.as_deref() {
                None => Source::Registry { url: None },
                Some(r) if r.starts_with("git") => {
                    let (url, rev) = match r.split_once('#') {
                        Some((u, rev)) => (u.to_owned(), Some(rev.to_owned())),
                        None => (r.to_owned(), None),
                    };
                    Source::Git { url, rev }
                }
                Some(r) if r.starts_with("file:") => Source::Path {
                    path: Some(r.trim_start_matches("file:").to_owned()),
                },
                Some(r) if r.starts_with("https://") || r.starts_with("http://") => {
                    Source::Registry {
                        url: Some(r.to_owned()),
                    }
                }
                Some(r) => {
                    return Err(Error::UnknownSource {
                        file: self.file.to_owned(),
                        line: line(),
                        package: key.to_owned(),
                        source_value: r.to_owned(),
                    });
                }
            }
        };
        let version = pkg.version.clone();
        if version.is_none() && matches!(source, Source::Registry { .. }) {
            return Err(Error::MissingField {
                file: self.file.to_owned(),
                line: line(),
                package: key.to_owned(),
                field: "version",
            });
        }

        let name = if key.is_empty() && name.is_empty() {
            // A root without a name still anchors the graph; a fixed stand-in is clearer than
            // inventing one from the path.
            "(root)".to_owned()
        } else {
            name
        };
        let mut c = npm_component(
            self.file,
            &line,
            key,
            name,
            version,
            source,
            pkg.integrity.as_deref(),
        )?;
        let scope = if key.is_empty() {
            // The root entry is the project itself, the SBOM's primary component: a scope says
            // why a dependency is in the graph, which means nothing for the product, and the
            // writers leave it out. npm never flags the root `dev` or `optional`; an edited
            // lockfile that does would otherwise make the product "optional".
            Scope::Required
        } else if pkg.dev {
            Scope::Dev
        } else if pkg.optional || pkg.dev_optional {
            Scope::Optional
        } else {
            Scope::Required
        };
        c.scope = scope;
        c.license = pkg
            .license
            .as_ref()
            .and_then(|l| l.as_str())
            .map(str::to_owned);
        Ok(c)
    }
}

/// An npm-registry component (npm, yarn and pnpm lockfiles all describe these): the id, purl and
/// hashes are built the same way whichever lockfile names it, so that graphs from two of them
/// merge. `label` names the entry in errors.
pub(crate) fn npm_component(
    file: &str,
    // Looked up only for an error: finding a key's line scans the file, once per package.
    line: &dyn Fn() -> usize,
    label: &str,
    name: String,
    version: Option<String>,
    source: Source,
    integrity: Option<&str>,
) -> Result<Component> {
    let mut id = format!("npm/{name}@{}", version.as_deref().unwrap_or(""));
    let mut qualifiers: Vec<(&str, String)> = Vec::new();
    match &source {
        // registry.yarnpkg.com serves the npm registry under another name.
        Source::Registry { url: Some(u) }
            if !u.starts_with(NPM_REGISTRY) && !u.starts_with(YARN_REGISTRY) =>
        {
            let origin = u
                .find("://")
                .and_then(|s| u[s + 3..].find('/').map(|e| &u[..s + 3 + e + 1]))
                .unwrap_or(u);
            id.push_str(&format!("#registry:{origin}"));
            qualifiers.push(("repository_url", origin.to_owned()));
        }
        Source::Registry { .. } => {}
        Source::Git { url, rev } => {
            id.push_str(&format!("#git:{url}"));
            let vcs = match rev {
                Some(r) => format!("{url}@{r}"),
                None => url.clone(),
            };
            qualifiers.push(("vcs_url", vcs));
        }
        Source::Path { path } => {
            id.push_str(&format!("#path:{}", path.as_deref().unwrap_or("")));
        }
    }
    let purl = match &source {
        Source::Path { .. } => None,
        _ => {
            let q: Vec<(&str, &str)> = qualifiers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            Some(
                crate::purl::purl(&Ecosystem::Npm, &name, version.as_deref(), &q).map_err(
                    |source| Error::InvalidPurlName {
                        file: file.to_owned(),
                        line: line(),
                        package: label.to_owned(),
                        name: name.clone(),
                        source: Box::new(source),
                    },
                )?,
            )
        }
    };

    let mut hashes = Vec::new();
    if let Some(integrity) = integrity {
        for sri in integrity.split_whitespace() {
            hashes.push(sri_hash(sri).ok_or_else(|| Error::InvalidChecksum {
                file: file.to_owned(),
                line: line(),
                package: label.to_owned(),
                value: sri.to_owned(),
                expected: "a Subresource Integrity value (sha1/sha256/sha384/sha512-BASE64)",
            })?);
        }
    }
    hashes.sort();
    hashes.dedup();

    let mut c = Component::new(ComponentId(id), Ecosystem::Npm, name, version);
    c.purl = purl;
    c.source = source;
    c.hashes = hashes;
    Ok(c)
}

pub(crate) fn sri_hash(sri: &str) -> Option<Hash> {
    let (alg, b64) = sri.split_once('-')?;
    let algorithm = match alg {
        "sha1" => HashAlgorithm::Sha1,
        "sha256" => HashAlgorithm::Sha256,
        "sha384" => HashAlgorithm::Sha384,
        "sha512" => HashAlgorithm::Sha512,
        _ => return None,
    };
    // SRI allows `?options` after the digest (CSP level 3); npm writes none, but it is not an error.
    let b64 = b64.split_once('?').map_or(b64, |(d, _)| d);
    let bytes = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    (bytes.len() == algorithm.digest_len()).then(|| Hash {
        algorithm,
        hex: hex::encode(bytes),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Sbom> {
        parse_package_lock(
            "package-lock.json",
            text.as_bytes(),
            None,
            &Limits::default(),
        )
    }

    #[test]
    fn nested_node_modules_resolve_nearest_first() {
        let lock = r#"{"lockfileVersion":3,"packages":{
            "":{"name":"app","version":"1.0.0","dependencies":{"a":"1","b":"1"}},
            "node_modules/a":{"version":"1.0.0","dependencies":{"b":"2"}},
            "node_modules/a/node_modules/b":{"version":"2.0.0"},
            "node_modules/b":{"version":"1.0.0"}}}"#;
        let s = parse(lock).unwrap();
        let a = ComponentId("npm/a@1.0.0".into());
        let deps: Vec<_> = s.dependencies_of(&a).map(|i| i.0.clone()).collect();
        assert_eq!(deps, ["npm/b@2.0.0"]);
    }

    #[test]
    fn missing_required_dependency_names_the_entry() {
        let lock = "{\"lockfileVersion\":3,\"packages\":{\n\"\":{\"name\":\"app\"},\n\"node_modules/a\":{\"version\":\"1.0.0\",\"dependencies\":{\"gone\":\"1\"}}}}";
        match parse(lock) {
            Err(Error::UnresolvedDependency {
                line, reference, ..
            }) => {
                assert_eq!(line, 3);
                assert_eq!(reference, "gone");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bad_integrity_is_an_error() {
        let lock = r#"{"lockfileVersion":3,"packages":{"node_modules/a":{"version":"1.0.0","integrity":"sha512-AAAA"}}}"#;
        assert!(matches!(parse(lock), Err(Error::InvalidChecksum { .. })));
    }

    #[test]
    fn unknown_version_fails_closed() {
        assert!(matches!(
            parse(r#"{"lockfileVersion":4,"packages":{}}"#),
            Err(Error::UnsupportedLockfileVersion { .. })
        ));
    }
}
