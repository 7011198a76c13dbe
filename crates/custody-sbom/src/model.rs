//! The component graph: what every reader produces and every writer consumes.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// A package ecosystem; a component's is written as its purl type
/// ([`Ecosystem::purl_type`]). The one enum shared with the vulnerability matcher.
pub use custody_crypto::Ecosystem;

/// Why a component is in the graph, strongest first: the order matters, because a component
/// reached along several paths takes the strongest scope of any of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// Needed at run time by the product.
    Required,
    /// Needed at run time only when an optional feature or platform is enabled.
    Optional,
    /// Needed only to build the product (Cargo build-dependencies); not shipped.
    Build,
    /// Needed only to develop or test the product; not shipped.
    Dev,
}

impl Scope {
    /// Lower-case name, as written in the `custody:scope` property.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Required => "required",
            Scope::Optional => "optional",
            Scope::Build => "build",
            Scope::Dev => "dev",
        }
    }

    /// The inverse of [`Scope::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "required" => Scope::Required,
            "optional" => Scope::Optional,
            "build" => Scope::Build,
            "dev" => Scope::Dev,
            _ => return None,
        })
    }
}

/// Where a component's code came from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Source {
    /// A package registry; `url` is its index or tarball base when the input names one.
    Registry { url: Option<String> },
    /// A git repository, at a commit when the input pins one.
    Git { url: String, rev: Option<String> },
    /// A directory next to the project (a path dependency or a workspace member).
    Path { path: Option<String> },
}

impl Source {
    /// `registry`, `git` or `path`.
    pub fn kind(&self) -> &'static str {
        match self {
            Source::Registry { .. } => "registry",
            Source::Git { .. } => "git",
            Source::Path { .. } => "path",
        }
    }
}

/// A hash algorithm that lockfiles record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum HashAlgorithm {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlgorithm {
    /// Length of the digest in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            HashAlgorithm::Sha1 => 20,
            HashAlgorithm::Sha256 => 32,
            HashAlgorithm::Sha384 => 48,
            HashAlgorithm::Sha512 => 64,
        }
    }
}

/// A digest of a component's distributed archive.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Hash {
    pub algorithm: HashAlgorithm,
    /// Lower-case hex.
    pub hex: String,
}

/// Identifies a component within one [`Sbom`]; written as the CycloneDX `bom-ref`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ComponentId(pub String);

impl fmt::Display for ComponentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A package URL, kept in its canonical text form (see the `purl` module for how it is built).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Purl(pub String);

impl fmt::Display for Purl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One package in the graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    pub id: ComponentId,
    pub ecosystem: Ecosystem,
    /// The name as the ecosystem writes it (npm names keep their `@scope/`).
    pub name: String,
    /// `None` only where the input records no version (npm v1 `file:` dependencies).
    pub version: Option<String>,
    /// `None` for path dependencies and the project itself: a purl would claim the code is the
    /// registry package of that name, and the scanner would match the registry's advisories.
    pub purl: Option<Purl>,
    pub source: Source,
    pub scope: Scope,
    pub hashes: Vec<Hash>,
    /// The organisation or person that distributes it, where the input says.
    pub supplier: Option<String>,
    pub authors: Vec<String>,
    /// The declared licence, as the input wrote it (not necessarily an SPDX expression).
    pub license: Option<String>,
    /// Debian: the source package the binary package was built from, which Debian's
    /// advisories name. Written as the purl's `upstream` qualifier when it differs from `name`.
    pub source_package: Option<String>,
}

impl Component {
    /// A registry component with no hashes, supplier, authors or licence yet.
    pub fn new(
        id: ComponentId,
        ecosystem: Ecosystem,
        name: impl Into<String>,
        version: Option<String>,
    ) -> Self {
        Component {
            id,
            ecosystem,
            name: name.into(),
            version,
            purl: None,
            source: Source::Registry { url: None },
            scope: Scope::Required,
            hashes: Vec::new(),
            supplier: None,
            authors: Vec::new(),
            license: None,
            source_package: None,
        }
    }
}

/// A directed edge: `from` depends on `to`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Dependency {
    pub from: ComponentId,
    pub to: ComponentId,
}

/// A component graph: components by id, dependency edges, and the product it describes.
///
/// Iteration is always in id order, so writers are deterministic.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sbom {
    primary: Option<ComponentId>,
    components: BTreeMap<ComponentId, Component>,
    edges: BTreeMap<ComponentId, BTreeSet<ComponentId>>,
}

impl Sbom {
    /// An empty graph.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a component; a component with the same id is replaced, its edges kept.
    pub fn insert(&mut self, component: Component) {
        self.components.insert(component.id.clone(), component);
    }

    /// Adds the edge `from -> to`. Both ends should be inserted components; writers skip an edge
    /// whose end is missing rather than write a dangling reference.
    pub fn add_dependency(&mut self, from: ComponentId, to: ComponentId) {
        self.edges.entry(from).or_default().insert(to);
    }

    /// Marks the component the SBOM describes (the product); it must be inserted.
    pub fn set_primary(&mut self, id: Option<ComponentId>) {
        self.primary = id;
    }

    /// The product this SBOM describes, if known.
    pub fn primary(&self) -> Option<&Component> {
        self.primary.as_ref().and_then(|id| self.components.get(id))
    }

    /// A component by id.
    pub fn get(&self, id: &ComponentId) -> Option<&Component> {
        self.components.get(id)
    }

    /// A component by id, for changes.
    pub fn get_mut(&mut self, id: &ComponentId) -> Option<&mut Component> {
        self.components.get_mut(id)
    }

    /// Every component, the primary one included, in id order.
    pub fn components(&self) -> impl Iterator<Item = &Component> {
        self.components.values()
    }

    /// Number of components, the primary one included.
    pub fn len(&self) -> usize {
        self.components.len()
    }

    /// True when there are no components.
    pub fn is_empty(&self) -> bool {
        self.components.is_empty()
    }

    /// What `id` depends on directly, in id order; only edges to inserted components.
    pub fn dependencies_of<'a>(
        &'a self,
        id: &ComponentId,
    ) -> impl Iterator<Item = &'a ComponentId> + 'a {
        self.edges
            .get(id)
            .into_iter()
            .flatten()
            .filter(|to| self.components.contains_key(*to))
    }

    /// Every edge between inserted components, in (from, to) order.
    pub fn dependencies(&self) -> impl Iterator<Item = Dependency> + '_ {
        self.edges
            .iter()
            .filter(|(from, _)| self.components.contains_key(*from))
            .flat_map(move |(from, tos)| {
                tos.iter()
                    .filter(|to| self.components.contains_key(*to))
                    .map(move |to| Dependency {
                        from: from.clone(),
                        to: to.clone(),
                    })
            })
    }

    /// Components nothing else depends on (the roots of the graph), in id order.
    pub fn roots(&self) -> Vec<&Component> {
        let depended: BTreeSet<&ComponentId> = self.dependencies_targets();
        self.components
            .values()
            .filter(|c| !depended.contains(&c.id))
            .collect()
    }

    fn dependencies_targets(&self) -> BTreeSet<&ComponentId> {
        self.edges
            .iter()
            .filter(|(from, _)| self.components.contains_key(*from))
            .flat_map(|(_, tos)| tos.iter())
            .collect()
    }

    /// Adds every component and edge of `other`. A component present in both keeps the
    /// stronger scope and the union of hashes. The primary stays this graph's, or becomes
    /// `other`'s if this one has none.
    pub fn merge(&mut self, other: Sbom) {
        for (id, c) in other.components {
            match self.components.get_mut(&id) {
                Some(mine) => {
                    mine.scope = mine.scope.min(c.scope);
                    for h in c.hashes {
                        if !mine.hashes.contains(&h) {
                            mine.hashes.push(h);
                        }
                    }
                    mine.hashes.sort();
                }
                None => {
                    self.components.insert(id, c);
                }
            }
        }
        for (from, tos) in other.edges {
            self.edges.entry(from).or_default().extend(tos);
        }
        if self.primary.is_none() {
            self.primary = other.primary;
        }
    }

    /// Sets each component's scope to the strongest scope along any path from `starts`.
    ///
    /// `starts` are (component, scope) pairs for the primary's direct dependencies; components
    /// not reachable from any start keep their scope.
    pub(crate) fn propagate_scopes(&mut self, starts: &[(ComponentId, Scope)]) {
        let mut best: BTreeMap<ComponentId, Scope> = BTreeMap::new();
        // Strongest scope first, so that each component is settled the first time it is seen.
        for scope in [Scope::Required, Scope::Optional, Scope::Build, Scope::Dev] {
            let mut stack: Vec<ComponentId> = starts
                .iter()
                .filter(|(_, s)| *s == scope)
                .map(|(id, _)| id.clone())
                .collect();
            while let Some(id) = stack.pop() {
                if best.contains_key(&id) || Some(&id) == self.primary.as_ref() {
                    continue;
                }
                best.insert(id.clone(), scope);
                if let Some(tos) = self.edges.get(&id) {
                    stack.extend(tos.iter().filter(|t| !best.contains_key(*t)).cloned());
                }
            }
        }
        for (id, scope) in best {
            if let Some(c) = self.components.get_mut(&id) {
                c.scope = scope;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn comp(id: &str) -> Component {
        Component::new(
            ComponentId(id.into()),
            Ecosystem::CratesIo,
            id,
            Some("1.0.0".into()),
        )
    }

    #[test]
    fn scope_takes_the_strongest_path_and_survives_cycles() {
        let mut s = Sbom::new();
        for id in ["app", "a", "b", "c", "d"] {
            s.insert(comp(id));
        }
        s.set_primary(Some(ComponentId("app".into())));
        let id = |x: &str| ComponentId(x.into());
        s.add_dependency(id("app"), id("a"));
        s.add_dependency(id("app"), id("d"));
        s.add_dependency(id("a"), id("b"));
        s.add_dependency(id("b"), id("a"));
        s.add_dependency(id("d"), id("b"));
        s.add_dependency(id("d"), id("c"));
        s.propagate_scopes(&[(id("d"), Scope::Dev), (id("a"), Scope::Optional)]);
        let scope = |x: &str| s.get(&id(x)).map(|c| c.scope);
        assert_eq!(scope("a"), Some(Scope::Optional));
        assert_eq!(scope("b"), Some(Scope::Optional));
        assert_eq!(scope("c"), Some(Scope::Dev));
        assert_eq!(scope("d"), Some(Scope::Dev));
        assert_eq!(scope("app"), Some(Scope::Required));
    }

    #[test]
    fn edges_to_missing_components_are_not_reported() {
        let mut s = Sbom::new();
        s.insert(comp("a"));
        s.add_dependency(ComponentId("a".into()), ComponentId("ghost".into()));
        assert_eq!(s.dependencies().count(), 0);
        assert_eq!(s.roots().len(), 1);
    }
}
