//! What a scan's findings turn into: a release gate's threshold, counts by
//! rating, a stable order, and SARIF 2.1.0 for code-scanning tools.
//!
//! # Design
//! The gate fails closed (see [`FailOn::is_reached_by`]): a vulnerability
//! without a CVSS score, or whose version could not be decided, counts as
//! reaching every threshold, because "no score" is not "low" and "could not
//! tell" is not "not affected". RustSec informational advisories are
//! warnings and never fail the gate, as in `cargo audit`.
//!
//! # Example
//! ```
//! use custody_vuln::report::FailOn;
//!
//! let gate: FailOn = "high".parse()?;
//! assert_eq!(gate, FailOn::High);
//! assert!("severe".parse::<FailOn>().is_err());
//! # Ok::<(), custody_vuln::report::UnknownThreshold>(())
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::Serialize;
use serde_json::{Value, json};

use crate::index::{Finding, FindingStatus};
use crate::range::UnknownReason;
use crate::severity::Rating;
use crate::vex::{Applied, Assessed};

/// The lowest severity at which a scan fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum FailOn {
    /// Every vulnerability, whatever its score (the default, as `cargo audit`
    /// and `osv-scanner` do).
    #[default]
    Any,
    /// CVSS rating low (0.1) or above.
    Low,
    /// Medium (4.0) or above.
    Medium,
    /// High (7.0) or above.
    High,
    /// Critical (9.0) or above.
    Critical,
    /// Never: report only.
    Never,
}

/// A `--fail-on` value that names no threshold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a severity threshold (any, low, medium, high, critical, never)")]
pub struct UnknownThreshold(pub String);

impl FromStr for FailOn {
    type Err = UnknownThreshold;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "any" => Self::Any,
            "low" => Self::Low,
            "medium" => Self::Medium,
            "high" => Self::High,
            "critical" => Self::Critical,
            "never" => Self::Never,
            _ => return Err(UnknownThreshold(s.to_owned())),
        })
    }
}

impl fmt::Display for FailOn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Any => "any",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
            Self::Never => "never",
        })
    }
}

impl FailOn {
    /// Whether `finding` fails a scan at this threshold. Warnings never do;
    /// an unscored vulnerability reaches every threshold but `never`, and an
    /// "unknown" one counts as affected.
    pub fn is_reached_by(self, finding: &Finding) -> bool {
        if finding.is_warning() {
            return false;
        }
        let floor = match self {
            Self::Never => return false,
            Self::Any => return true,
            Self::Low => Rating::Low,
            Self::Medium => Rating::Medium,
            Self::High => Rating::High,
            Self::Critical => Rating::Critical,
        };
        finding.severity.rating().is_none_or(|r| r >= floor)
    }

    /// Whether an assessed finding fails a scan: as [`Self::is_reached_by`],
    /// except that a `not_affected` or `fixed` VEX statement keeps it out.
    pub fn is_reached_by_assessed(self, assessed: &Assessed) -> bool {
        !assessed.is_suppressed() && self.is_reached_by(&assessed.finding)
    }
}

/// How many findings of each kind a scan has.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Vulnerabilities, affected or unknown.
    pub vulnerabilities: usize,
    /// RustSec informational warnings.
    pub warnings: usize,
    /// Findings (either kind) whose version could not be decided.
    pub unknown: usize,
    /// Vulnerabilities rated critical.
    pub critical: usize,
    /// ... high.
    pub high: usize,
    /// ... medium.
    pub medium: usize,
    /// ... low.
    pub low: usize,
    /// ... none (a CVSS score of 0.0).
    pub none: usize,
    /// Vulnerabilities with no CVSS vector that parsed.
    pub unscored: usize,
}

impl Counts {
    /// Counts `findings`.
    pub fn of(findings: &[Finding]) -> Self {
        let mut c = Self::default();
        for f in findings {
            if !f.is_affected() {
                c.unknown += 1;
            }
            if f.is_warning() {
                c.warnings += 1;
                continue;
            }
            c.vulnerabilities += 1;
            match f.severity.rating() {
                Some(Rating::Critical) => c.critical += 1,
                Some(Rating::High) => c.high += 1,
                Some(Rating::Medium) => c.medium += 1,
                Some(Rating::Low) => c.low += 1,
                Some(Rating::None) => c.none += 1,
                None => c.unscored += 1,
            }
        }
        c
    }
}

/// A finding's rating as a word: `critical` ... `none`, or `unscored`.
pub fn rating_name(finding: &Finding) -> &'static str {
    match finding.severity.rating() {
        Some(Rating::Critical) => "critical",
        Some(Rating::High) => "high",
        Some(Rating::Medium) => "medium",
        Some(Rating::Low) => "low",
        Some(Rating::None) => "none",
        None => "unscored",
    }
}

/// Why a finding's status is unknown, in one line.
pub fn describe_unknown(reason: &UnknownReason) -> String {
    match reason {
        UnknownReason::UnparsablePackageVersion {
            scheme,
            version,
            error,
        } => format!("version {version:?} is not a {scheme} version: {error}"),
        UnknownReason::UnparsableRangeVersion {
            scheme,
            version,
            error,
        } => format!("the advisory's range version {version:?} is not a {scheme} version: {error}"),
        UnknownReason::UnsupportedEcosystem { ecosystem } => {
            format!("no version order is known for ecosystem {ecosystem:?}")
        }
        UnknownReason::UnsupportedRangeType { range_type } => {
            format!("the advisory uses range type {range_type:?}, which is not understood")
        }
        UnknownReason::RangeWithoutIntroduced => {
            "the advisory has a range without an introduced event".to_owned()
        }
        UnknownReason::OnlyGitRanges => {
            "the advisory names only git commits, which cannot be compared with a version"
                .to_owned()
        }
        UnknownReason::NoRangesOrVersions => {
            "the advisory lists neither ranges nor versions".to_owned()
        }
    }
}

/// Sorts findings as a reader triages them: vulnerabilities before warnings,
/// the most severe first (unscored right after critical, since the gate
/// treats them as reaching any threshold), then by package, version and id.
pub fn sort(findings: &mut [Finding]) {
    fn rank(f: &Finding) -> (u8, u8) {
        let severity = match f.severity.rating() {
            Some(Rating::Critical) => 0,
            None => 1,
            Some(Rating::High) => 2,
            Some(Rating::Medium) => 3,
            Some(Rating::Low) => 4,
            Some(Rating::None) => 5,
        };
        (u8::from(f.is_warning()), severity)
    }
    findings.sort_by(|a, b| {
        rank(a)
            .cmp(&rank(b))
            .then_with(|| a.package.name.cmp(&b.package.name))
            .then_with(|| a.package.version.cmp(&b.package.version))
            .then_with(|| a.id.cmp(&b.id))
    });
}

/// Who produced a SARIF log.
#[derive(Debug, Clone)]
pub struct Tool<'a> {
    /// The tool's name.
    pub name: &'a str,
    /// Its version.
    pub version: &'a str,
    /// Where to read about it.
    pub information_uri: &'a str,
}

fn level(finding: &Finding) -> &'static str {
    if finding.is_warning() {
        return "note";
    }
    match finding.severity.rating() {
        Some(Rating::Critical | Rating::High) | None => "error",
        Some(Rating::Medium) => "warning",
        Some(Rating::Low | Rating::None) => "note",
    }
}

fn message(finding: &Finding) -> String {
    let p = &finding.package;
    let mut text = match &finding.status {
        FindingStatus::Affected => {
            format!("{} {} is affected by {}", p.name, p.version, finding.id)
        }
        FindingStatus::Unknown { reason } => format!(
            "{} {} may be affected by {} (unknown: {})",
            p.name,
            p.version,
            finding.id,
            describe_unknown(reason)
        ),
    };
    if let Some(summary) = finding.advisories.iter().find_map(|a| a.summary.as_deref()) {
        text.push_str(": ");
        text.push_str(summary.trim());
    }
    text.push('.');
    match &finding.smallest_fix {
        Some(fix) => text.push_str(&format!(" Upgrade to {fix} or later.")),
        None if finding.fixed.is_empty() => text.push_str(" No fixed version is known."),
        None => {}
    }
    text
}

/// A SARIF 2.1.0 log of `findings`, one rule per finding id and one result
/// per finding, each located in `artifact_uri` (the scanned lockfile or SBOM,
/// relative to the repository root where possible). Scores go in
/// `properties.security-severity`, which GitHub code scanning ranks by.
pub fn sarif(findings: &[Finding], artifact_uri: &str, tool: &Tool<'_>) -> Value {
    sarif_of(findings.iter().map(|f| (f, None)), artifact_uri, tool)
}

/// As [`sarif`], for findings with their VEX statements: a `not_affected`
/// or `fixed` one becomes an accepted external suppression (SARIF 2.1.0
/// §3.35), so code scanning lists the result as dismissed instead of
/// dropping it; every status is in the result's `properties.vex`.
pub fn sarif_assessed(assessed: &[Assessed], artifact_uri: &str, tool: &Tool<'_>) -> Value {
    sarif_of(
        assessed.iter().map(|a| (&a.finding, a.vex.as_ref())),
        artifact_uri,
        tool,
    )
}

fn sarif_of<'f>(
    findings: impl ExactSizeIterator<Item = (&'f Finding, Option<&'f Applied>)>,
    artifact_uri: &str,
    tool: &Tool<'_>,
) -> Value {
    let mut rules: Vec<Value> = Vec::new();
    let mut rule_index: BTreeMap<&str, usize> = BTreeMap::new();
    let mut results = Vec::with_capacity(findings.len());
    for (f, vex) in findings {
        let index = *rule_index.entry(f.id.as_str()).or_insert_with(|| {
            let summary = f
                .advisories
                .iter()
                .find_map(|a| a.summary.as_deref())
                .unwrap_or(f.id.as_str());
            let mut properties = json!({
                "tags": ["security", if f.is_warning() { "warning" } else { "vulnerability" }],
            });
            if let Some(score) = &f.severity.score {
                properties["security-severity"] = json!(format!("{:.1}", score.score));
                properties["cvss"] = json!(score.vector);
            }
            if !f.aliases.is_empty() {
                properties["aliases"] = json!(f.aliases);
            }
            rules.push(json!({
                "id": f.id,
                "shortDescription": { "text": summary },
                "helpUri": format!("https://osv.dev/vulnerability/{}", f.id),
                "defaultConfiguration": { "level": level(f) },
                "properties": properties,
            }));
            rules.len() - 1
        });
        let mut properties = json!({
            "ecosystem": f.package.ecosystem.as_str(),
            "package": f.package.name,
            "version": f.package.version,
            "status": if f.is_affected() { "affected" } else { "unknown" },
            "advisories": f.advisories.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
        });
        if let Some(purl) = &f.package.purl {
            properties["purl"] = json!(purl);
        }
        if let Some(fix) = &f.smallest_fix {
            properties["smallestFix"] = json!(fix);
        }
        if let Some(vex) = vex {
            properties["vex"] = json!(vex);
        }
        let mut result = json!({
            "ruleId": f.id,
            "ruleIndex": index,
            "level": level(f),
            "message": { "text": message(f) },
            "locations": [{
                "physicalLocation": { "artifactLocation": { "uri": artifact_uri } }
            }],
            // Stable across runs, so code scanning tracks one alert per
            // (advisory, package, version) instead of opening a new one.
            "partialFingerprints": {
                "custody/v1": format!("{}|{}|{}|{}", f.id, f.package.ecosystem.as_str(), f.package.name, f.package.version),
            },
            "properties": properties,
        });
        if let Some(vex) = vex.filter(|v| v.suppresses()) {
            result["suppressions"] = json!([{
                "kind": "external",
                "status": "accepted",
                "justification": format!("VEX {}: {} ({})", vex.status, vex.reason(), vex.document),
            }]);
        }
        results.push(result);
    }
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": tool.name,
                    "version": tool.version,
                    "informationUri": tool.information_uri,
                    "rules": rules,
                }
            },
            "results": results,
        }]
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Advisory, Ecosystem, Index, MatchOptions, PackageRef};

    fn finding(severity: &str) -> Finding {
        let json = format!(
            r#"{{"id": "RUSTSEC-0000-0001", "summary": "s",
                "severity": [{severity}],
                "affected": [{{"package": {{"ecosystem": "crates.io", "name": "x"}},
                  "ranges": [{{"type": "SEMVER", "events": [{{"introduced": "0"}}, {{"fixed": "1.0.0"}}]}}]}}]}}"#
        );
        let mut index = Index::new();
        index.insert(
            Advisory::from_json(json.as_bytes(), "t").unwrap(),
            "t",
            None,
        );
        let mut found = index.scan(
            &[PackageRef::new(Ecosystem::CratesIo, "x", "0.5.0")],
            &MatchOptions::default(),
        );
        found.pop().unwrap()
    }

    #[test]
    fn thresholds_fail_closed_on_unscored() {
        let unscored = finding("");
        let medium = finding(
            r#"{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:L/I:L/A:N"}"#,
        );
        assert_eq!(rating_name(&medium), "medium");
        assert!(FailOn::Any.is_reached_by(&medium));
        assert!(FailOn::Medium.is_reached_by(&medium));
        assert!(!FailOn::High.is_reached_by(&medium));
        assert!(!FailOn::Never.is_reached_by(&medium));
        assert!(FailOn::Critical.is_reached_by(&unscored));
        assert!(!FailOn::Never.is_reached_by(&unscored));
    }

    #[test]
    fn sarif_has_one_rule_per_id() {
        let f = finding("");
        let log = sarif(
            &[f.clone(), f],
            "Cargo.lock",
            &Tool {
                name: "custody",
                version: "0",
                information_uri: "https://example.com",
            },
        );
        assert_eq!(log["version"], "2.1.0");
        assert_eq!(
            log["runs"][0]["tool"]["driver"]["rules"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        assert_eq!(log["runs"][0]["results"].as_array().unwrap().len(), 2);
        assert_eq!(log["runs"][0]["results"][1]["ruleIndex"], 0);
    }
}
