//! Range evaluation, exactly as the OSV schema's "Evaluation" section gives it.
//!
//! An `affected[]` entry is compiled once ([`CompiledAffected`]): event
//! versions are parsed under the range's scheme and sorted, so that a scan
//! only parses the scanned version (once per scheme, see [`QueryVersion`]).
//! Anything that cannot be decided (an unparsable version on either side, an
//! ecosystem without a known order, an unknown range type) is an
//! [`Verdict::Unknown`] carrying the reason, never a silent "not affected".

use std::cmp::Ordering;

use serde::Serialize;

use crate::ecosystem::Ecosystem;
use crate::osv::{Affected, Event, RangeKind};
use crate::version::{Version, VersionScheme, sort_by_cmp};

/// The outcome of asking whether a version is affected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Verdict {
    /// The version lies in a range or is listed.
    Affected,
    /// Every range and the `versions` list were evaluated, and none include it.
    NotAffected,
    /// The question could not be decided.
    Unknown {
        /// Why.
        reason: UnknownReason,
    },
}

/// Why a verdict is unknown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum UnknownReason {
    /// The scanned package's version does not parse under the scheme.
    UnparsablePackageVersion {
        /// The scheme.
        scheme: VersionScheme,
        /// The scanned version.
        version: String,
        /// The parser's account.
        error: String,
    },
    /// A version in the advisory's range does not parse under the scheme.
    UnparsableRangeVersion {
        /// The scheme.
        scheme: VersionScheme,
        /// The event's version.
        version: String,
        /// The parser's account.
        error: String,
    },
    /// The ecosystem has no version order known to this crate.
    UnsupportedEcosystem {
        /// The ecosystem as the advisory spells it.
        ecosystem: String,
    },
    /// A range type other than SEMVER, ECOSYSTEM or GIT.
    UnsupportedRangeType {
        /// The type.
        range_type: String,
    },
    /// OSV requires at least one `introduced` event per range.
    RangeWithoutIntroduced,
    /// Only GIT ranges and no `versions` list: commits cannot be compared
    /// with a version string.
    OnlyGitRanges,
    /// Neither ranges nor versions: the entry says nothing decidable.
    NoRangesOrVersions,
}

#[derive(Debug, Clone)]
enum Bound {
    /// `introduced: "0"`: before every version.
    Zero,
    At(Version),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    // Tie order at one version: opening before closing, so that
    // `introduced: X, fixed: X` is empty and `introduced: X,
    // last_affected: X` holds exactly X.
    Introduced,
    LastAffected,
    Fixed,
    Limit,
}

#[derive(Debug, Clone)]
enum CompiledRange {
    Ordered {
        scheme: VersionScheme,
        events: Vec<(Kind, Bound)>,
        limits: Vec<Version>,
    },
    /// GIT: not compared with versions (OSV: commits are not versions).
    Git,
    Undecidable(UnknownReason),
}

/// An `affected[]` entry prepared for repeated evaluation.
#[derive(Debug, Clone)]
pub struct CompiledAffected {
    scheme: Option<VersionScheme>,
    ranges: Vec<CompiledRange>,
    versions: Vec<String>,
    /// The listed versions that parse, sorted, for binary search.
    versions_parsed: Vec<Version>,
    fixed: Vec<(String, Option<Version>)>,
    ecosystem: String,
}

/// The scanned version, parsed lazily once per scheme it is compared under.
#[derive(Debug)]
pub struct QueryVersion<'a> {
    raw: &'a str,
    parsed: Vec<(VersionScheme, Result<Version, String>)>,
}

impl<'a> QueryVersion<'a> {
    /// Wraps a version string.
    pub fn new(raw: &'a str) -> Self {
        Self {
            raw,
            parsed: Vec::with_capacity(2),
        }
    }

    /// The text given.
    pub fn raw(&self) -> &'a str {
        self.raw
    }

    /// The version under `scheme`, or the parser's account.
    pub fn get(&mut self, scheme: VersionScheme) -> Result<&Version, &str> {
        let i = match self.parsed.iter().position(|(s, _)| *s == scheme) {
            Some(i) => i,
            None => {
                let r = scheme.parse(self.raw).map_err(|e| e.to_string());
                self.parsed.push((scheme, r));
                self.parsed.len() - 1
            }
        };
        self.parsed[i].1.as_ref().map_err(String::as_str)
    }
}

fn scheme_for(
    kind: &RangeKind,
    ecosystem: &Ecosystem,
) -> Result<Option<VersionScheme>, UnknownReason> {
    match kind {
        RangeKind::Git => Ok(None),
        // OSV: SEMVER ranges hold SemVer 2.0 without `v`; Go's own parser is
        // that plus Go's spellings, so Go packages keep it.
        RangeKind::SemVer if *ecosystem == Ecosystem::Go => Ok(Some(VersionScheme::Go)),
        RangeKind::SemVer => Ok(Some(VersionScheme::SemVer)),
        RangeKind::Ecosystem => VersionScheme::of(ecosystem).map(Some).ok_or_else(|| {
            UnknownReason::UnsupportedEcosystem {
                ecosystem: ecosystem.as_str().to_owned(),
            }
        }),
        RangeKind::Other(k) => Err(UnknownReason::UnsupportedRangeType {
            range_type: k.clone(),
        }),
    }
}

fn cmp_bound(a: &Bound, b: &Bound) -> Ordering {
    match (a, b) {
        (Bound::Zero, Bound::Zero) => Ordering::Equal,
        (Bound::Zero, Bound::At(_)) => Ordering::Less,
        (Bound::At(_), Bound::Zero) => Ordering::Greater,
        // Same scheme by construction, so `compare` is `Some`.
        (Bound::At(x), Bound::At(y)) => x.compare(y).unwrap_or(Ordering::Equal),
    }
}

impl CompiledAffected {
    /// Prepares `affected` for evaluation.
    pub fn compile(affected: &Affected) -> Self {
        let ecosystem = affected
            .package
            .as_ref()
            .map(|p| p.ecosystem())
            .unwrap_or(Ecosystem::Other(String::new()));
        let scheme = VersionScheme::of(&ecosystem);
        let mut fixed = Vec::new();
        let ranges = affected
            .ranges
            .iter()
            .map(|range| {
                let scheme = match scheme_for(&range.kind, &ecosystem) {
                    Ok(Some(s)) => s,
                    Ok(None) => return CompiledRange::Git,
                    Err(reason) => return CompiledRange::Undecidable(reason),
                };
                let mut events = Vec::with_capacity(range.events.len());
                let mut limits = Vec::new();
                for event in &range.events {
                    let (kind, text) = match event {
                        Event::Introduced(v) => (Kind::Introduced, v),
                        Event::Fixed(v) => (Kind::Fixed, v),
                        Event::LastAffected(v) => (Kind::LastAffected, v),
                        Event::Limit(v) => (Kind::Limit, v),
                    };
                    if kind == Kind::Introduced && text == "0" {
                        events.push((kind, Bound::Zero));
                        continue;
                    }
                    let parsed = match scheme.parse(text) {
                        Ok(v) => v,
                        Err(e) => {
                            return CompiledRange::Undecidable(
                                UnknownReason::UnparsableRangeVersion {
                                    scheme,
                                    version: text.clone(),
                                    error: e.to_string(),
                                },
                            );
                        }
                    };
                    match kind {
                        Kind::Limit => limits.push(parsed),
                        Kind::Fixed => {
                            fixed.push((text.clone(), Some(parsed.clone())));
                            events.push((kind, Bound::At(parsed)));
                        }
                        _ => events.push((kind, Bound::At(parsed))),
                    }
                }
                if !events.iter().any(|(k, _)| *k == Kind::Introduced) {
                    return CompiledRange::Undecidable(UnknownReason::RangeWithoutIntroduced);
                }
                let events =
                    sort_by_cmp(events, &|(ka, a), (kb, b)| cmp_bound(a, b).then(ka.cmp(kb)));
                CompiledRange::Ordered {
                    scheme,
                    events,
                    limits,
                }
            })
            .collect();
        let mut versions_parsed: Vec<Version> = match scheme {
            Some(s) => affected
                .versions
                .iter()
                .filter_map(|v| s.parse(v).ok())
                .collect(),
            None => Vec::new(),
        };
        versions_parsed.sort_by(|a, b| a.compare(b).unwrap_or(Ordering::Equal));
        Self {
            scheme,
            ranges,
            versions: affected.versions.clone(),
            versions_parsed,
            fixed,
            ecosystem: ecosystem.as_str().to_owned(),
        }
    }

    /// The `fixed` versions of the entry's SEMVER and ECOSYSTEM ranges.
    pub fn fixed_versions(&self) -> impl Iterator<Item = (&str, Option<&Version>)> {
        self.fixed.iter().map(|(s, v)| (s.as_str(), v.as_ref()))
    }

    /// OSV `IsVulnerable` for one entry: listed in `versions`, or inside a range.
    pub fn evaluate(&self, q: &mut QueryVersion<'_>) -> Verdict {
        if self.listed(q) {
            return Verdict::Affected;
        }
        let mut unknown = None;
        let mut decided_any = !self.versions.is_empty();
        // A `versions` list settles a version only if that version could
        // have been recognised in it: when it does not parse, a spelling the
        // list holds in normal form (`1.0` for `1.0.0`) would go unseen.
        // Where the ecosystem has no order, text is all the list offers.
        if let Some(scheme) = self.scheme
            && decided_any
        {
            let raw = q.raw();
            if let Err(error) = q.get(scheme) {
                decided_any = false;
                unknown = Some(UnknownReason::UnparsablePackageVersion {
                    scheme,
                    version: raw.to_owned(),
                    error: error.to_owned(),
                });
            }
        }
        for range in &self.ranges {
            match range {
                CompiledRange::Git => {}
                CompiledRange::Undecidable(reason) => {
                    unknown.get_or_insert_with(|| reason.clone());
                }
                CompiledRange::Ordered {
                    scheme,
                    events,
                    limits,
                } => {
                    let raw = q.raw();
                    match q.get(*scheme) {
                        Ok(v) => {
                            decided_any = true;
                            if in_range(v, events, limits) {
                                return Verdict::Affected;
                            }
                        }
                        Err(error) => {
                            unknown.get_or_insert_with(|| {
                                UnknownReason::UnparsablePackageVersion {
                                    scheme: *scheme,
                                    version: raw.to_owned(),
                                    error: error.to_owned(),
                                }
                            });
                        }
                    }
                }
            }
        }
        if let Some(reason) = unknown {
            return Verdict::Unknown { reason };
        }
        if decided_any {
            return Verdict::NotAffected;
        }
        let reason = if self.ranges.is_empty() {
            UnknownReason::NoRangesOrVersions
        } else {
            UnknownReason::OnlyGitRanges
        };
        Verdict::Unknown { reason }
    }

    /// `IncludedInVersions`: equal as text, or equal under the ecosystem's
    /// order (PEP 440 `1.0` is `1.0.0`), so spelling does not hide a match.
    fn listed(&self, q: &mut QueryVersion<'_>) -> bool {
        if self.versions.is_empty() {
            return false;
        }
        if self.versions.iter().any(|s| s == q.raw()) {
            return true;
        }
        let Some(scheme) = self.scheme else {
            return false;
        };
        let Ok(v) = q.get(scheme) else {
            return false;
        };
        let equal = |p: &Version| p.compare(v) == Some(Ordering::Equal);
        if scheme.is_total_order() {
            self.versions_parsed
                .binary_search_by(|p| p.compare(v).unwrap_or(Ordering::Less))
                .is_ok()
        } else {
            self.versions_parsed.iter().any(equal)
        }
    }

    /// The ecosystem as the advisory spells it (without release suffix).
    pub fn ecosystem(&self) -> &str {
        &self.ecosystem
    }
}

/// `IncludedInRanges` for one range whose events are sorted.
fn in_range(v: &Version, events: &[(Kind, Bound)], limits: &[Version]) -> bool {
    // BeforeLimits: with limits present, v must be below at least one.
    if !limits.is_empty() && !limits.iter().any(|l| v.compare(l) == Some(Ordering::Less)) {
        return false;
    }
    let mut vulnerable = false;
    for (kind, bound) in events {
        let ord = match bound {
            Bound::Zero => Ordering::Greater,
            Bound::At(b) => match v.compare(b) {
                Some(o) => o,
                None => continue,
            },
        };
        match kind {
            Kind::Introduced if ord != Ordering::Less => vulnerable = true,
            Kind::Fixed if ord != Ordering::Less => vulnerable = false,
            Kind::LastAffected if ord == Ordering::Greater => vulnerable = false,
            _ => {}
        }
    }
    vulnerable
}

impl Affected {
    /// Evaluates one version against this entry (compiles on every call;
    /// use [`crate::Index`] for repeated queries).
    pub fn evaluate(&self, version: &str) -> Verdict {
        CompiledAffected::compile(self).evaluate(&mut QueryVersion::new(version))
    }
}
