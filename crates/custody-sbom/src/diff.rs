//! What changed between two SBOMs: components added, removed, or moved to another version.
//!
//! Components are matched by package identity, not by version or document id: the purl without
//! its version and qualifiers (which the graph keeps as ecosystem + name), or, for a component
//! without a purl, its name and ecosystem. Two SBOMs of the same product written by different
//! tools give different ids and often different qualifiers; the identity still matches.
//!
//! A package may be present at several versions at once (npm nests them). Per identity, the
//! versions only in the old SBOM and those only in the new one are compared: both non-empty is
//! one version change; only one side non-empty is an addition or removal of those versions.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{Component, Ecosystem, Purl, Sbom};

/// One component that is in one SBOM and not in the other.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct DiffComponent {
    pub ecosystem: Ecosystem,
    pub name: String,
    pub version: Option<String>,
    pub purl: Option<Purl>,
}

/// A package present in both SBOMs whose versions differ.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct VersionChange {
    pub ecosystem: Ecosystem,
    pub name: String,
    /// Versions only the old SBOM has, in order; `None` for an unversioned component.
    pub old: Vec<Option<String>>,
    /// Versions only the new SBOM has, in order.
    pub new: Vec<Option<String>>,
}

/// The difference between two SBOMs; see the module docs for how components are matched.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SbomDiff {
    /// In the new SBOM only, by ecosystem, name and version.
    pub added: Vec<DiffComponent>,
    /// In the old SBOM only.
    pub removed: Vec<DiffComponent>,
    /// In both, at other versions.
    pub changed: Vec<VersionChange>,
    /// Components (identity and version) in both.
    pub unchanged: usize,
}

impl SbomDiff {
    /// True when both SBOMs hold the same packages at the same versions.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

type Identity = (Ecosystem, String);
type Versions<'a> = BTreeMap<Option<&'a str>, &'a Component>;

fn by_identity(sbom: &Sbom) -> BTreeMap<Identity, Versions<'_>> {
    let mut out: BTreeMap<Identity, Versions<'_>> = BTreeMap::new();
    for c in sbom.components() {
        // The first of duplicates (one package at one version from two lockfiles) stands for all.
        out.entry((c.ecosystem.clone(), c.name.clone()))
            .or_default()
            .entry(c.version.as_deref())
            .or_insert(c);
    }
    out
}

fn entry(c: &Component) -> DiffComponent {
    DiffComponent {
        ecosystem: c.ecosystem.clone(),
        name: c.name.clone(),
        version: c.version.clone(),
        purl: c.purl.clone(),
    }
}

/// Compares two component graphs.
///
/// ```
/// use custody_sbom::{Component, ComponentId, Ecosystem, Sbom, diff};
///
/// let comp = |name: &str, v: &str| {
///     Component::new(ComponentId(format!("{name}@{v}")), Ecosystem::CratesIo, name, Some(v.into()))
/// };
/// let (mut old, mut new) = (Sbom::new(), Sbom::new());
/// old.insert(comp("serde", "1.0.100"));
/// old.insert(comp("itoa", "1.0.0"));
/// new.insert(comp("serde", "1.0.200"));
/// new.insert(comp("ryu", "1.0.0"));
/// let d = diff(&old, &new);
/// assert_eq!(d.added[0].name, "ryu");
/// assert_eq!(d.removed[0].name, "itoa");
/// assert_eq!(d.changed[0].new, [Some("1.0.200".to_owned())]);
/// ```
pub fn diff(old: &Sbom, new: &Sbom) -> SbomDiff {
    let old = by_identity(old);
    let new = by_identity(new);
    let mut out = SbomDiff::default();
    let identities: BTreeSet<&Identity> = old.keys().chain(new.keys()).collect();
    let empty = Versions::new();
    for identity in identities {
        let before = old.get(identity).unwrap_or(&empty);
        let after = new.get(identity).unwrap_or(&empty);
        let gone: Vec<&Component> = before
            .iter()
            .filter(|(v, _)| !after.contains_key(*v))
            .map(|(_, c)| *c)
            .collect();
        let came: Vec<&Component> = after
            .iter()
            .filter(|(v, _)| !before.contains_key(*v))
            .map(|(_, c)| *c)
            .collect();
        out.unchanged += before.len() - gone.len();
        if !gone.is_empty() && !came.is_empty() {
            out.changed.push(VersionChange {
                ecosystem: identity.0.clone(),
                name: identity.1.clone(),
                old: gone.iter().map(|c| c.version.clone()).collect(),
                new: came.iter().map(|c| c.version.clone()).collect(),
            });
        } else {
            out.removed.extend(gone.into_iter().map(entry));
            out.added.extend(came.into_iter().map(entry));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ComponentId;

    fn comp(eco: Ecosystem, name: &str, v: Option<&str>, id: &str) -> Component {
        Component::new(ComponentId(id.into()), eco, name, v.map(str::to_owned))
    }

    #[test]
    fn identity_ignores_ids_and_keeps_ecosystems_apart() {
        let mut old = Sbom::new();
        old.insert(comp(Ecosystem::Npm, "ms", Some("2.1.3"), "a"));
        old.insert(comp(Ecosystem::CratesIo, "ms", Some("0.1.0"), "b"));
        let mut new = Sbom::new();
        // Another tool's ids, same packages.
        new.insert(comp(
            Ecosystem::Npm,
            "ms",
            Some("2.1.3"),
            "pkg:npm/ms@2.1.3",
        ));
        new.insert(comp(Ecosystem::PyPI, "ms", Some("0.1.0"), "x"));
        let d = diff(&old, &new);
        assert_eq!(d.unchanged, 1);
        assert!(d.changed.is_empty());
        assert_eq!(d.removed.len(), 1);
        assert_eq!(d.removed[0].ecosystem, Ecosystem::CratesIo);
        assert_eq!(d.added[0].ecosystem, Ecosystem::PyPI);
    }

    #[test]
    fn several_versions_of_one_package() {
        let mut old = Sbom::new();
        for (v, id) in [("1.0.0", "a1"), ("2.0.0", "a2")] {
            old.insert(comp(Ecosystem::Npm, "a", Some(v), id));
        }
        let mut new = Sbom::new();
        for (v, id) in [("2.0.0", "a2"), ("3.0.0", "a3"), ("4.0.0", "a4")] {
            new.insert(comp(Ecosystem::Npm, "a", Some(v), id));
        }
        // b keeps 1.0.0 and gains 1.1.0: an addition, not a change.
        old.insert(comp(Ecosystem::Npm, "b", Some("1.0.0"), "b1"));
        new.insert(comp(Ecosystem::Npm, "b", Some("1.0.0"), "b1"));
        new.insert(comp(Ecosystem::Npm, "b", Some("1.1.0"), "b2"));
        let d = diff(&old, &new);
        assert_eq!(d.unchanged, 2);
        assert_eq!(d.changed.len(), 1);
        assert_eq!(d.changed[0].old, [Some("1.0.0".to_owned())]);
        assert_eq!(
            d.changed[0].new,
            [Some("3.0.0".to_owned()), Some("4.0.0".to_owned())]
        );
        assert_eq!(d.added.len(), 1);
        assert_eq!(d.added[0].version.as_deref(), Some("1.1.0"));
        assert!(d.removed.is_empty());
    }

    #[test]
    fn same_graph_is_empty() {
        let mut s = Sbom::new();
        s.insert(comp(Ecosystem::CratesIo, "a", None, "a"));
        let d = diff(&s, &s);
        assert!(d.is_empty());
        assert_eq!(d.unchanged, 1);
    }
}
