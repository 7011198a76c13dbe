//! The in-memory advisory index and the matcher.
//!
//! Advisories are indexed by (ecosystem, normalised package name); each
//! `affected[]` entry is compiled once, the first time a scan needs it. A scan evaluates only the entries
//! under the scanned package's key, groups the advisories that matched by
//! shared ids (transitively: `A ~ CVE-1 ~ B` is one group), and turns each
//! group into one [`Finding`].

use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap};
use std::str::FromStr;
use std::sync::OnceLock;

use serde::Serialize;

use crate::Error;
use crate::ecosystem::Ecosystem;
use crate::osv::Advisory;
use crate::range::{CompiledAffected, QueryVersion, UnknownReason, Verdict};
use crate::severity::SeverityReport;
use crate::version::{Version, sort_by_cmp};

/// A package to check: what an SBOM component or lockfile entry says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackageRef {
    /// The ecosystem.
    pub ecosystem: Ecosystem,
    /// The name as the SBOM spells it (normalised only for lookup).
    pub name: String,
    /// The version as the SBOM spells it.
    pub version: String,
    /// The package URL, if known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
}

impl PackageRef {
    /// A package without a purl.
    pub fn new(ecosystem: Ecosystem, name: impl Into<String>, version: impl Into<String>) -> Self {
        Self {
            ecosystem,
            name: name.into(),
            version: version.into(),
            purl: None,
        }
    }

    /// Reads the ecosystem, name and version from a package URL, as SBOM
    /// components carry them: `pkg:cargo/openssl@0.10.0`,
    /// `pkg:golang/github.com/gin-gonic/gin@v1.5.0`, `pkg:npm/%40scope/x@1.0.0`,
    /// `pkg:maven/org.x/y@1.0` (name `org.x:y`, as OSV spells it),
    /// `pkg:deb/debian/openssl@3.0.11-1`.
    pub fn from_purl(purl: &str) -> Result<Self, Error> {
        let parsed =
            packageurl::PackageUrl::from_str(purl).map_err(|source| Error::InvalidPurl {
                purl: purl.to_owned(),
                source,
            })?;
        let version = parsed.version().ok_or_else(|| Error::PurlWithoutVersion {
            purl: purl.to_owned(),
        })?;
        let joined = |sep: &str| match parsed.namespace() {
            Some(ns) => format!("{ns}{sep}{}", parsed.name()),
            None => parsed.name().to_owned(),
        };
        let ecosystem = match Ecosystem::from_purl_type(parsed.ty()) {
            Ecosystem::Debian if parsed.namespace() == Some("ubuntu") => Ecosystem::Ubuntu,
            Ecosystem::Other(other) => {
                return Err(Error::UnsupportedPurlType {
                    purl: purl.to_owned(),
                    purl_type: other,
                });
            }
            known => known,
        };
        // OSV spells these with their purl namespace, Maven as `group:artifact`.
        let name = match ecosystem {
            Ecosystem::Npm | Ecosystem::Go | Ecosystem::Packagist => joined("/"),
            Ecosystem::Maven => joined(":"),
            _ => parsed.name().to_owned(),
        };
        Ok(Self {
            ecosystem,
            name,
            version: version.to_owned(),
            purl: Some(purl.to_owned()),
        })
    }

    /// Sets the purl.
    pub fn with_purl(mut self, purl: impl Into<String>) -> Self {
        self.purl = Some(purl.into());
        self
    }
}

/// Options that narrow a scan.
#[derive(Debug, Clone, Default)]
pub struct MatchOptions {
    /// Only advisories that affect this OS (RustSec's `affects.os`, as in
    /// `cargo audit --target-os`); `None` keeps every advisory.
    pub target_os: Option<String>,
    /// Only advisories that affect this CPU architecture.
    pub target_arch: Option<String>,
}

/// What kind of finding this is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FindingKind {
    /// A vulnerability.
    Vulnerability,
    /// A RustSec informational advisory (`unmaintained`, `unsound`,
    /// `notice`, ...): a warning, not a vulnerability.
    Warning {
        /// The informational kind.
        informational: String,
    },
}

/// Whether the package is affected, or why that is unknown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum FindingStatus {
    /// At least one advisory of the group includes the version.
    Affected,
    /// No advisory includes it, but at least one could not decide.
    Unknown {
        /// The first reason met.
        reason: UnknownReason,
    },
}

/// The advisory a finding comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AdvisoryRef {
    /// Its id.
    pub id: String,
    /// The database it was imported from.
    pub source: String,
    /// Its summary, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// SHA-256 of the advisory as imported, hex; tells a changed advisory
    /// from an unchanged one where `modified` cannot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

/// One vulnerability (or warning) in one package.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// The id reported for the group: an ecosystem database's own id
    /// (RUSTSEC-, GO-, PYSEC-...) when one matched, else the smallest.
    pub id: String,
    /// Every other id of the group's advisories, sorted.
    pub aliases: Vec<String>,
    /// Vulnerability or warning.
    #[serde(flatten)]
    pub kind: FindingKind,
    /// Affected or unknown.
    #[serde(flatten)]
    pub status: FindingStatus,
    /// The scanned package.
    pub package: PackageRef,
    /// Scored CVSS vectors of the group.
    pub severity: SeverityReport,
    /// Every `fixed` version of the group's ranges for this package.
    pub fixed: Vec<String>,
    /// The smallest version above the scanned one that no advisory of the
    /// group affects, among the fixed versions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smallest_fix: Option<String>,
    /// The advisories grouped here.
    pub advisories: Vec<AdvisoryRef>,
}

impl Finding {
    /// Whether this is a RustSec informational warning.
    pub fn is_warning(&self) -> bool {
        matches!(self.kind, FindingKind::Warning { .. })
    }

    /// Whether the package is known to be affected (not "unknown").
    pub fn is_affected(&self) -> bool {
        self.status == FindingStatus::Affected
    }
}

#[derive(Debug)]
struct Entry {
    advisory: Advisory,
    source: String,
    digest: Option<String>,
    /// Compiled on first use: a scan touches few packages, so building an
    /// index of every database stays cheap and only matched entries pay.
    compiled: Vec<OnceLock<CompiledAffected>>,
    informational: Option<String>,
    /// Scored on first use: top-level, then per `affected[]` entry.
    severity: OnceLock<(SeverityReport, Vec<SeverityReport>)>,
}

impl Entry {
    fn compiled(&self, i: usize) -> Option<&CompiledAffected> {
        let affected = self.advisory.affected.get(i)?;
        Some(
            self.compiled
                .get(i)?
                .get_or_init(|| CompiledAffected::compile(affected)),
        )
    }

    fn severity(&self) -> &(SeverityReport, Vec<SeverityReport>) {
        self.severity.get_or_init(|| {
            (
                SeverityReport::from_entries(&self.advisory.severity),
                self.advisory
                    .affected
                    .iter()
                    .map(|a| SeverityReport::from_entries(&a.severity))
                    .collect(),
            )
        })
    }
}

type Key = (Ecosystem, String);

/// An in-memory index of advisories.
#[derive(Debug, Default)]
pub struct Index {
    entries: Vec<Option<Entry>>,
    by_id: HashMap<String, usize>,
    by_package: HashMap<Key, Vec<(usize, usize)>>,
    live: usize,
}

impl Index {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of advisories held.
    pub fn len(&self) -> usize {
        self.live
    }

    /// Whether the index is empty.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// The advisory with this id.
    pub fn get(&self, id: &str) -> Option<&Advisory> {
        let slot = *self.by_id.get(id)?;
        self.entries.get(slot)?.as_ref().map(|e| &e.advisory)
    }

    /// Every advisory, in insertion order.
    pub fn advisories(&self) -> impl Iterator<Item = &Advisory> {
        self.entries.iter().flatten().map(|e| &e.advisory)
    }

    /// Adds an advisory; one with the same id is replaced, so importing the
    /// same advisory from two databases (RustSec's OSV export and its
    /// Markdown) keeps one copy.
    pub fn insert(&mut self, advisory: Advisory, source: &str, digest: Option<String>) {
        self.remove(&advisory.id);
        let slot = self.entries.len();
        for (i, affected) in advisory.affected.iter().enumerate() {
            if let Some(package) = &affected.package {
                let ecosystem = package.ecosystem();
                let name = ecosystem.normalise_name(&package.name);
                // `slot` is new, so the pair cannot be listed yet.
                self.by_package
                    .entry((ecosystem, name))
                    .or_default()
                    .push((slot, i));
            }
        }
        self.by_id.insert(advisory.id.clone(), slot);
        self.entries.push(Some(Entry {
            informational: advisory.informational().map(str::to_owned),
            compiled: advisory.affected.iter().map(|_| OnceLock::new()).collect(),
            severity: OnceLock::new(),
            advisory,
            source: source.to_owned(),
            digest,
        }));
        self.live += 1;
    }

    /// Removes the advisory with this id; returns it if it was there.
    pub fn remove(&mut self, id: &str) -> Option<Advisory> {
        let slot = self.by_id.remove(id)?;
        let entry = self.entries.get_mut(slot)?.take()?;
        for affected in &entry.advisory.affected {
            if let Some(package) = &affected.package {
                let ecosystem = package.ecosystem();
                let key = (ecosystem.clone(), ecosystem.normalise_name(&package.name));
                if let Some(list) = self.by_package.get_mut(&key) {
                    list.retain(|(s, _)| *s != slot);
                    if list.is_empty() {
                        self.by_package.remove(&key);
                    }
                }
            }
        }
        self.live -= 1;
        Some(entry.advisory)
    }

    /// Every finding for every package.
    pub fn scan(&self, packages: &[PackageRef], options: &MatchOptions) -> Vec<Finding> {
        packages
            .iter()
            .flat_map(|p| self.match_package(p, options))
            .collect()
    }

    /// The findings for one package: one per group of aliased advisories
    /// that include its version or cannot decide.
    pub fn match_package(&self, package: &PackageRef, options: &MatchOptions) -> Vec<Finding> {
        let key = (
            package.ecosystem.clone(),
            package.ecosystem.normalise_name(&package.name),
        );
        let Some(candidates) = self.by_package.get(&key) else {
            return Vec::new();
        };
        let mut q = QueryVersion::new(&package.version);
        // Per advisory: its verdict and which of its affected entries apply.
        let mut hits: Vec<(usize, Verdict, Vec<usize>)> = Vec::new();
        for &(slot, i) in candidates {
            let Some(entry) = self.entries.get(slot).and_then(Option::as_ref) else {
                continue;
            };
            // OSV: a withdrawn advisory no longer applies.
            if entry.advisory.is_withdrawn() {
                continue;
            }
            let Some(affected) = entry.advisory.affected.get(i) else {
                continue;
            };
            if !applies_to_target(affected.ecosystem_specific.as_ref(), options) {
                continue;
            }
            let Some(compiled) = entry.compiled(i) else {
                continue;
            };
            let verdict = compiled.evaluate(&mut q);
            // An advisory's entries sit next to each other in `candidates`
            // (inserted together), so only the last hit can be the same one.
            match hits.last_mut().filter(|(s, _, _)| *s == slot) {
                Some((_, v, list)) => {
                    list.push(i);
                    if rank(&verdict) > rank(v) {
                        *v = verdict;
                    }
                }
                None => hits.push((slot, verdict, vec![i])),
            }
        }
        hits.retain(|(_, v, _)| *v != Verdict::NotAffected);
        if hits.is_empty() {
            return Vec::new();
        }
        self.group(&hits)
            .into_iter()
            .map(|members| self.finding(package, &hits, &members, &mut q))
            .collect()
    }

    /// Union-find over the advisories' id sets: two advisories sharing any id
    /// (own id or alias) are one vulnerability.
    fn group(&self, hits: &[(usize, Verdict, Vec<usize>)]) -> Vec<Vec<usize>> {
        if hits.len() == 1 {
            return vec![vec![0]];
        }
        let mut parent: Vec<usize> = (0..hits.len()).collect();
        fn find(parent: &mut [usize], mut x: usize) -> usize {
            while parent[x] != x {
                parent[x] = parent[parent[x]];
                x = parent[x];
            }
            x
        }
        let mut owner: HashMap<&str, usize> = HashMap::new();
        for (h, (slot, _, _)) in hits.iter().enumerate() {
            let Some(entry) = self.entries[*slot].as_ref() else {
                continue;
            };
            for id in entry.advisory.ids() {
                match owner.get(id) {
                    Some(&other) => {
                        let (a, b) = (find(&mut parent, h), find(&mut parent, other));
                        if a != b {
                            parent[a.max(b)] = a.min(b);
                        }
                    }
                    None => {
                        owner.insert(id, h);
                    }
                }
            }
        }
        let mut groups: Vec<Vec<usize>> = Vec::new();
        let mut root_group: HashMap<usize, usize> = HashMap::new();
        for h in 0..hits.len() {
            let r = find(&mut parent, h);
            let g = *root_group.entry(r).or_insert_with(|| {
                groups.push(Vec::new());
                groups.len() - 1
            });
            groups[g].push(h);
        }
        groups
    }

    fn finding(
        &self,
        package: &PackageRef,
        hits: &[(usize, Verdict, Vec<usize>)],
        members: &[usize],
        q: &mut QueryVersion<'_>,
    ) -> Finding {
        let entries: Vec<(&Entry, &Verdict, &[usize])> = members
            .iter()
            .filter_map(|&h| {
                let (slot, verdict, affected) = &hits[h];
                Some((self.entries[*slot].as_ref()?, verdict, affected.as_slice()))
            })
            .collect();

        let primary = entries
            .iter()
            .map(|(e, _, _)| e.advisory.id.as_str())
            .min_by(|a, b| id_preference(a).cmp(&id_preference(b)).then(a.cmp(b)))
            .unwrap_or_default()
            .to_owned();
        let aliases: Vec<String> = entries
            .iter()
            .flat_map(|(e, _, _)| e.advisory.ids())
            .filter(|id| *id != primary)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .map(str::to_owned)
            .collect();

        let kind = if entries.iter().any(|(e, _, _)| e.informational.is_none()) {
            FindingKind::Vulnerability
        } else {
            FindingKind::Warning {
                informational: entries
                    .iter()
                    .find_map(|(e, _, _)| e.informational.clone())
                    .unwrap_or_default(),
            }
        };

        let status = if entries.iter().any(|(_, v, _)| **v == Verdict::Affected) {
            FindingStatus::Affected
        } else {
            let reason = entries
                .iter()
                .find_map(|(_, v, _)| match v {
                    Verdict::Unknown { reason } => Some(reason.clone()),
                    _ => None,
                })
                .unwrap_or(UnknownReason::NoRangesOrVersions);
            FindingStatus::Unknown { reason }
        };

        let severity = SeverityReport::merge(entries.iter().flat_map(|(e, _, affected)| {
            let (top, per_affected) = e.severity();
            std::iter::once(top).chain(affected.iter().filter_map(|&i| per_affected.get(i)))
        }));

        let compiled: Vec<&CompiledAffected> = entries
            .iter()
            .flat_map(|(e, _, affected)| affected.iter().filter_map(|&i| e.compiled(i)))
            .collect();
        let mut fixed: Vec<(&str, Option<&Version>)> = Vec::new();
        for c in &compiled {
            for (text, parsed) in c.fixed_versions() {
                if !fixed.iter().any(|(t, _)| *t == text) {
                    fixed.push((text, parsed));
                }
            }
        }
        let fixed = sort_by_cmp(
            fixed,
            &|(ta, a): &(&str, Option<&Version>), (tb, b)| match (a, b) {
                (Some(a), Some(b)) => a.compare(b).unwrap_or(Ordering::Equal).then(ta.cmp(tb)),
                _ => ta.cmp(tb),
            },
        );
        let smallest_fix = smallest_fix(&fixed, &compiled, q);

        Finding {
            id: primary,
            aliases,
            kind,
            status,
            package: package.clone(),
            severity,
            fixed: fixed.iter().map(|(t, _)| (*t).to_owned()).collect(),
            smallest_fix,
            advisories: entries
                .iter()
                .map(|(e, _, _)| AdvisoryRef {
                    id: e.advisory.id.clone(),
                    source: e.source.clone(),
                    summary: e.advisory.summary.clone(),
                    digest: e.digest.clone(),
                })
                .collect(),
        }
    }
}

/// The first fixed version above the scanned one that no entry affects; a
/// fix on another branch (1.2.5 for 1.2.x while 1.3.0 is still affected)
/// is skipped for the next one.
fn smallest_fix(
    fixed: &[(&str, Option<&Version>)],
    compiled: &[&CompiledAffected],
    q: &mut QueryVersion<'_>,
) -> Option<String> {
    for (text, parsed) in fixed {
        let Some(parsed) = *parsed else { continue };
        let current = q.get(parsed.scheme()).ok()?;
        if parsed.compare(current) != Some(Ordering::Greater) {
            continue;
        }
        let mut candidate = QueryVersion::new(text);
        if compiled
            .iter()
            .all(|c| c.evaluate(&mut candidate) == Verdict::NotAffected)
        {
            return Some((*text).to_owned());
        }
    }
    None
}

fn rank(v: &Verdict) -> u8 {
    match v {
        Verdict::NotAffected => 0,
        Verdict::Unknown { .. } => 1,
        Verdict::Affected => 2,
    }
}

/// Lower is preferred as a finding's id: a database's own id over GHSA over CVE.
fn id_preference(id: &str) -> u8 {
    if id.starts_with("CVE-") {
        2
    } else if id.starts_with("GHSA-") {
        1
    } else {
        0
    }
}

/// RustSec's `ecosystem_specific.affects.{os,arch}`: an empty or absent list
/// means every target.
fn applies_to_target(specific: Option<&serde_json::Value>, options: &MatchOptions) -> bool {
    let listed = |field: &str, want: &Option<String>| -> bool {
        let Some(want) = want else { return true };
        let Some(list) = specific
            .and_then(|s| s.get("affects"))
            .and_then(|a| a.get(field))
            .and_then(|l| l.as_array())
        else {
            return true;
        };
        list.is_empty() || list.iter().any(|v| v.as_str() == Some(want.as_str()))
    };
    listed("os", &options.target_os) && listed("arch", &options.target_arch)
}
