//! The release gate: `custody release` scans the release's SBOM against the local advisory
//! database and refuses the release, before anything is signed, when a vulnerability at or
//! above `[vulndb] fail_on` is not covered by one of the supplier's VEX statements.
//!
//! What it decided is published with the release as signed attestations: the scan
//! (`scan.json`, predicate [`SCAN_PREDICATE`]), the supplier's OpenVEX documents about the
//! product, and the same statements as a CycloneDX 1.6 VEX document (`vex.cdx.json`).

use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};
use custody_attest::release::CYCLONEDX_BOM;
use custody_site::config::Loaded;
use custody_site::site::{Attachment, check_name};
use custody_vuln::report::{self, FailOn};
use custody_vuln::vex::{self, Assessed, CycloneDxSubject, Document};
use custody_vuln::{FindingStatus, MatchOptions};
use serde::Serialize;

use crate::cmd::db::{existing_sources, import_ages};
use crate::cmd::scan::{NotScanned, Outcome, scan_sbom, warn_stale};
use crate::output::{Failure, Output, usage};

/// The in-toto predicate type of a release's scan result.
pub const SCAN_PREDICATE: &str = "https://custody.dev/scan/v1";
/// The scan result's file in the release directory.
pub const SCAN_FILE: &str = "scan.json";
/// The CycloneDX VEX export's file in the release directory.
pub const CYCLONEDX_VEX_FILE: &str = "vex.cdx.json";

/// `[vulndb] fail_on`: the scan's thresholds, plus `none` for no gate.
pub fn parse_fail_on(text: &str) -> anyhow::Result<FailOn> {
    if text.eq_ignore_ascii_case("none") {
        return Ok(FailOn::Never);
    }
    text.parse().map_err(|_| {
        anyhow!(
            "[vulndb] fail_on = {text:?} in custody.toml is not a threshold \
             (any, low, medium, high, critical, none)"
        )
    })
}

/// What the gate decided, for the release report.
#[derive(Debug, Serialize)]
pub struct GateReport {
    /// Whether the SBOM was scanned (false: `--no-scan`, or no gate and no database).
    pub scanned: bool,
    /// The threshold in force.
    pub fail_on: String,
    /// Findings (vulnerabilities, warnings and unknowns), VEX applied.
    pub findings: usize,
    /// Ids a VEX statement keeps out of the gate.
    pub suppressed: Vec<String>,
    /// `@id`s of the VEX documents published with the release.
    pub vex_documents: Vec<String>,
}

/// The attachments to publish, and the report.
#[derive(Debug)]
pub struct Gate {
    /// `scan.json`, the OpenVEX documents and `vex.cdx.json`.
    pub attachments: Vec<Attachment>,
    /// What was decided.
    pub report: GateReport,
    /// The scan's assessed findings (empty when not scanned): known at release, so the
    /// monitor does not report them as new.
    pub findings: Vec<Assessed>,
}

#[derive(Serialize)]
struct Scanner {
    name: &'static str,
    version: &'static str,
}

#[derive(Serialize)]
struct Source {
    name: String,
    /// RFC 3339; when the source was last imported.
    imported: Option<String>,
}

/// The scan predicate (`https://custody.dev/scan/v1`).
#[derive(Serialize)]
struct ScanPredicate<'a> {
    scanner: Scanner,
    product: &'a str,
    version: &'a str,
    timestamp: String,
    scanned: bool,
    /// Why the SBOM was not scanned.
    #[serde(skip_serializing_if = "Option::is_none")]
    skipped_because: Option<&'a str>,
    fail_on: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    database: Option<Database>,
    packages: usize,
    not_scanned: &'a [NotScanned],
    counts: Option<report::Counts>,
    suppressed: Vec<&'a str>,
    vex_documents: Vec<&'a str>,
    findings: &'a [Assessed],
}

#[derive(Serialize)]
struct Database {
    sources: Vec<Source>,
    advisories: usize,
}

/// The supplier's OpenVEX documents about `product` in `dir` (`custody vex add` writes them),
/// with the files they came from. A malformed one refuses the release: a statement that cannot
/// be read must not silently stop suppressing, nor be published.
pub fn product_vex(
    dir: &Path,
    product: &str,
    sbom: &custody_sbom::Sbom,
) -> anyhow::Result<Vec<(PathBuf, Document)>> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(Vec::new());
    };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().and_then(|e| e.to_str()) == Some("json"))
        .collect();
    files.sort();
    let purls: Vec<&str> = sbom
        .components()
        .filter_map(|c| c.purl.as_ref().map(|p| p.0.as_str()))
        .collect();
    let mut docs = Vec::new();
    for path in files {
        let doc = crate::cmd::vex::read(&path)?;
        if doc.is_about(product, |prefix| {
            purls.iter().any(|p| vex::purl_has_prefix(p, prefix))
        }) {
            docs.push((path, doc));
        }
    }
    Ok(docs)
}

/// A UUID-shaped serial number (RFC 9562 version 4 layout) derived from `seed`, so the same
/// release always gets the same one.
fn serial_number(seed: &str) -> String {
    let d = custody_crypto::Sha256Digest::of(seed.as_bytes()).0;
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// One line per finding that stops the release: what, where, how severe, the fix, and why no
/// VEX statement lets it through.
fn refusal(failing: &[&Assessed], fail_on: FailOn, product: &str) -> String {
    let mut text = format!(
        "release refused: {} vulnerabilit{} at or above [vulndb] fail_on = {fail_on} not covered \
         by a VEX statement for {product}:\n",
        failing.len(),
        if failing.len() == 1 { "y" } else { "ies" }
    );
    for a in failing {
        let f = &a.finding;
        let severity = match (&f.severity.score, &f.status) {
            (_, FindingStatus::Unknown { reason }) => format!(
                "unknown whether affected ({}), which the gate counts as affected",
                report::describe_unknown(reason)
            ),
            (Some(s), _) => format!("{} {:.1}", report::rating_name(f), s.score),
            (None, _) => "no CVSS score, which reaches every threshold".to_owned(),
        };
        let vex = match &a.vex {
            Some(v) => format!(
                "VEX says {} ({}), which does not suppress",
                v.status, v.document
            ),
            None => "no VEX statement".to_owned(),
        };
        text.push_str(&format!(
            "  {} in {} {}: {severity}; fix: {}; {vex}\n",
            f.id,
            f.package.name,
            f.package.version,
            f.smallest_fix.as_deref().unwrap_or("none known"),
        ));
    }
    text.push_str(&format!(
        "Upgrade, or record why the product is not affected (custody vex add ID --product \
         {product} --status not_affected --justification ...), or change [vulndb] fail_on in \
         custody.toml."
    ));
    text
}

/// Runs the gate for a release of `product` `version` whose SBOM is `sbom`. Returns an error
/// (exit 1) naming every finding that stops the release; nothing has been signed by then.
pub fn check(
    loaded: &Loaded,
    product: &str,
    version: &str,
    sbom: &custody_sbom::Sbom,
    no_scan: bool,
    now: jiff::Timestamp,
    out: &Output,
) -> Result<Gate, Failure> {
    let fail_on = parse_fail_on(&loaded.config.vulndb.fail_on).map_err(usage)?;
    let db = loaded.vulndb_dir();
    let vex_dir = loaded.vex_dir();
    let docs = product_vex(&vex_dir, product, sbom).map_err(usage)?;
    let sources = if no_scan {
        out.warn(
            "releasing without a vulnerability scan (--no-scan); scan.json records that the \
             SBOM was not scanned",
        );
        None
    } else {
        match existing_sources(&db) {
            Ok(names) => Some(names),
            Err(_) if fail_on == FailOn::Never => {
                out.warn(format!(
                    "no advisory database in {}; [vulndb] fail_on = none, so the release is \
                     not scanned",
                    db.display()
                ));
                None
            }
            Err(e) => {
                return Err(usage(e.context(format!(
                    "the release gate scans the SBOM against the advisory database \
                     ([vulndb] fail_on = {fail_on}): import one with `custody db import`, or \
                     pass --no-scan to release unscanned (recorded in the release)"
                ))));
            }
        }
    };
    let outcome = match &sources {
        Some(names) => {
            warn_stale(&db, names, out);
            Some(
                scan_sbom(
                    sbom,
                    &db,
                    &MatchOptions::default(),
                    &docs.iter().map(|(_, d)| d.clone()).collect::<Vec<_>>(),
                    Some(product),
                )
                .map_err(usage)?,
            )
        }
        None => None,
    };
    let empty = Vec::new();
    let findings = outcome.as_ref().map_or(&empty, |o| &o.findings);
    let failing: Vec<&Assessed> = findings
        .iter()
        .filter(|a| fail_on.is_reached_by_assessed(a))
        .collect();
    if !failing.is_empty() {
        return Err(anyhow!(refusal(&failing, fail_on, product)).into());
    }
    let suppressed: Vec<&str> = findings
        .iter()
        .filter(|a| a.is_suppressed())
        .map(|a| a.finding.id.as_str())
        .collect();
    if let Some(o) = &outcome {
        out.progress(format!(
            "Scan: {} package(s) against {} advisories: {} finding(s), {} suppressed by VEX, \
             none at or above {fail_on} uncovered",
            o.packages,
            o.advisories,
            o.findings.len(),
            suppressed.len()
        ));
    }

    let timestamp = now.to_string();
    let no_not_scanned = Vec::new();
    let predicate = ScanPredicate {
        scanner: Scanner {
            name: "custody",
            version: env!("CARGO_PKG_VERSION"),
        },
        product,
        version,
        timestamp: timestamp.clone(),
        scanned: outcome.is_some(),
        skipped_because: match (&outcome, no_scan) {
            (Some(_), _) => None,
            (None, true) => Some("custody release --no-scan"),
            (None, false) => Some("no advisory database, and [vulndb] fail_on = none"),
        },
        fail_on: fail_on.to_string(),
        database: sources
            .as_ref()
            .zip(outcome.as_ref())
            .map(|(names, o)| Database {
                sources: import_ages(&db, names)
                    .into_iter()
                    .map(|(name, written, _)| Source {
                        name,
                        imported: written
                            .and_then(|t| jiff::Timestamp::try_from(t).ok())
                            .map(|t| t.to_string()),
                    })
                    .collect(),
                advisories: o.advisories,
            }),
        packages: outcome.as_ref().map_or(0, |o: &Outcome| o.packages),
        not_scanned: outcome.as_ref().map_or(&no_not_scanned, |o| &o.not_scanned),
        counts: outcome.as_ref().map(|o| o.counts.clone()),
        suppressed: suppressed.clone(),
        vex_documents: docs.iter().map(|(_, d)| d.id.as_str()).collect(),
        findings,
    };
    let mut attachments = vec![Attachment {
        name: SCAN_FILE.to_owned(),
        bytes: serde_json::to_vec_pretty(&predicate).context("serialising the scan result")?,
        predicate_type: SCAN_PREDICATE,
    }];
    let mut names = vec![SCAN_FILE.to_owned(), CYCLONEDX_VEX_FILE.to_owned()];
    for (i, (path, doc)) in docs.iter().enumerate() {
        let own = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let name = if check_name("attachment", &own).is_ok() && !names.contains(&own) {
            own
        } else {
            format!("vex-{i}.openvex.json")
        };
        names.push(name.clone());
        attachments.push(Attachment {
            name,
            bytes: doc.to_json().into_bytes(),
            predicate_type: vex::CONTEXT,
        });
    }
    if !docs.is_empty() {
        let documents: Vec<Document> = docs.iter().map(|(_, d)| d.clone()).collect();
        let cdx = vex::to_cyclonedx(
            &documents,
            CycloneDxSubject {
                product,
                version,
                serial_number: &serial_number(&format!("custody vex {product} {version}")),
                timestamp: &timestamp,
            },
        );
        attachments.push(Attachment {
            name: CYCLONEDX_VEX_FILE.to_owned(),
            bytes: serde_json::to_vec_pretty(&cdx).context("serialising the CycloneDX VEX")?,
            predicate_type: CYCLONEDX_BOM,
        });
    }
    let report = GateReport {
        scanned: outcome.is_some(),
        fail_on: fail_on.to_string(),
        findings: findings.len(),
        suppressed: suppressed.iter().map(|s| (*s).to_owned()).collect(),
        vex_documents: docs.iter().map(|(_, d)| d.id.clone()).collect(),
    };
    let findings = outcome.map(|o| o.findings).unwrap_or_default();
    Ok(Gate {
        attachments,
        report,
        findings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fail_on_accepts_none_and_the_scan_thresholds() {
        assert_eq!(parse_fail_on("none").unwrap(), FailOn::Never);
        assert_eq!(parse_fail_on("high").unwrap(), FailOn::High);
        assert_eq!(parse_fail_on("Critical").unwrap(), FailOn::Critical);
        let e = parse_fail_on("severe").unwrap_err().to_string();
        assert!(e.contains("fail_on") && e.contains("none"), "{e}");
    }

    #[test]
    fn serial_numbers_are_stable_uuids() {
        let a = serial_number("x");
        assert_eq!(a, serial_number("x"));
        assert_ne!(a, serial_number("y"));
        let uuid = a.strip_prefix("urn:uuid:").unwrap();
        let groups: Vec<usize> = uuid.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12]);
        assert_eq!(&uuid[14..15], "4");
    }
}
