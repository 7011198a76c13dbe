//! The release gate: a release's SBOM is scanned against the local advisory database, and the
//! release is refused, before anything is signed, when a vulnerability at or above the
//! configured threshold is not covered by one of the supplier's VEX statements.
//!
//! What it decided is published with the release as signed attestations: the scan
//! (`scan.json`, predicate [`SCAN_PREDICATE`]), the supplier's OpenVEX documents about the
//! product, and the same statements as a CycloneDX 1.6 VEX document (`vex.cdx.json`).

use std::path::Path;

use custody_attest::release::CYCLONEDX_BOM;
use custody_site::site::{Attachment, check_name};
use custody_vuln::report::{self, FailOn};
use custody_vuln::vex::{self, Assessed, CycloneDxSubject, Document};
use custody_vuln::{FindingStatus, MatchOptions};
use serde::Serialize;

use crate::Error;
use crate::advisories::{existing_sources, import_ages, warn_stale};
use crate::env::{Clock, Events};
use crate::scan::{NotScanned, Outcome, reaching, scan_sbom, suppressed_ids};

/// The in-toto predicate type of a release's scan result.
pub const SCAN_PREDICATE: &str = "https://custody.dev/scan/v1";
/// The scan result's file in the release directory.
pub const SCAN_FILE: &str = "scan.json";
/// The CycloneDX VEX export's file in the release directory.
pub const CYCLONEDX_VEX_FILE: &str = "vex.cdx.json";

/// `[vulndb] fail_on`: the scan's thresholds, plus `none` for no gate.
pub fn parse_fail_on(text: &str) -> Result<FailOn, Error> {
    if text.eq_ignore_ascii_case("none") {
        return Ok(FailOn::Never);
    }
    text.parse().map_err(|_| Error::FailOn {
        value: text.to_owned(),
    })
}

/// A finding that stops a release, as the refusal describes it.
#[derive(Debug, Clone)]
pub struct Blocking {
    /// The finding, with the VEX statement that applies (one that does not suppress).
    pub assessed: Assessed,
}

impl std::fmt::Display for Blocking {
    fn fmt(&self, out: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let f = &self.assessed.finding;
        let severity = match (&f.severity.score, &f.status) {
            (_, FindingStatus::Unknown { reason }) => format!(
                "unknown whether affected ({}), which the gate counts as affected",
                report::describe_unknown(reason)
            ),
            (Some(s), _) => format!("{} {:.1}", report::rating_name(f), s.score),
            (None, _) => "no CVSS score, which reaches every threshold".to_owned(),
        };
        let vex = match &self.assessed.vex {
            Some(v) => format!(
                "VEX says {} ({}), which does not suppress",
                v.status, v.document
            ),
            None => "no VEX statement".to_owned(),
        };
        write!(
            out,
            "{} in {} {}: {severity}; fix: {}; {vex}",
            f.id,
            f.package.name,
            f.package.version,
            f.smallest_fix.as_deref().unwrap_or("none known"),
        )
    }
}

/// One line per finding that stops the release: what, where, how severe, the fix, and why no
/// VEX statement lets it through.
pub(crate) fn refusal(blocking: &[Blocking], fail_on: &FailOn, product: &str) -> String {
    let mut text = format!(
        "release refused: {} vulnerabilit{} at or above [vulndb] fail_on = {fail_on} not covered \
         by a VEX statement for {product}:\n",
        blocking.len(),
        if blocking.len() == 1 { "y" } else { "ies" }
    );
    for b in blocking {
        text.push_str(&format!("  {b}\n"));
    }
    text.push_str(&format!(
        "Upgrade, or record in a VEX statement why {product} is not affected, or change \
         [vulndb] fail_on in custody.toml."
    ));
    text
}

/// What the gate decided, for the release report.
#[derive(Debug, Serialize)]
pub struct GateReport {
    /// Whether the SBOM was scanned (false: skipped on request, or no gate and no database).
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

/// What the gate is asked to check.
#[derive(Debug, Clone, Copy)]
pub struct GateRequest<'a> {
    /// The product.
    pub product: &'a str,
    /// The version being released.
    pub version: &'a str,
    /// Its SBOM.
    pub sbom: &'a custody_sbom::Sbom,
    /// The threshold (`[vulndb] fail_on`).
    pub fail_on: FailOn,
    /// The advisory database.
    pub db: &'a Path,
    /// The supplier's OpenVEX documents.
    pub vex_dir: &'a Path,
    /// Release without scanning, recording this reason in `scan.json` (who asked, and how).
    pub skip_scan: Option<&'a str>,
}

/// A serial number derived from `seed`, so the same release always gets the same one
/// ([`custody_crypto::Sha256Digest::to_uuid`]).
fn serial_number(seed: &str) -> String {
    format!(
        "urn:uuid:{}",
        custody_crypto::Sha256Digest::of(seed.as_bytes()).to_uuid()
    )
}

fn serialise(what: &'static str, value: &impl Serialize) -> Result<Vec<u8>, Error> {
    serde_json::to_vec_pretty(value).map_err(|source| Error::Serialise { what, source })
}

/// Runs the gate. Returns [`Error::GateRefused`] naming every finding that stops the release;
/// nothing has been signed by then.
pub fn check(
    request: &GateRequest<'_>,
    clock: &dyn Clock,
    events: &dyn Events,
) -> Result<Gate, Error> {
    let GateRequest {
        product,
        version,
        sbom,
        fail_on,
        db,
        vex_dir,
        skip_scan,
    } = *request;
    let docs = crate::inputs::product_vex(vex_dir, product, sbom)?;
    let sources = if skip_scan.is_some() {
        events.warn(
            "releasing without a vulnerability scan; scan.json records that the SBOM was not \
             scanned",
        );
        None
    } else {
        match existing_sources(db) {
            Ok(names) => Some(names),
            Err(_) if fail_on == FailOn::Never => {
                events.warn(&format!(
                    "no advisory database in {}; [vulndb] fail_on = none, so the release is \
                     not scanned",
                    db.display()
                ));
                None
            }
            Err(_) => {
                return Err(Error::GateNeedsDatabase {
                    dir: db.to_path_buf(),
                    fail_on,
                });
            }
        }
    };
    let documents: Vec<Document> = docs.iter().map(|(_, d)| d.clone()).collect();
    let outcome = match &sources {
        Some(names) => {
            warn_stale(db, names, clock, events);
            Some(scan_sbom(
                sbom,
                db,
                &MatchOptions::default(),
                &documents,
                Some(product),
            )?)
        }
        None => None,
    };
    let empty = Vec::new();
    let findings = outcome.as_ref().map_or(&empty, |o| &o.findings);
    let blocking: Vec<Blocking> = reaching(findings, fail_on)
        .map(|a| Blocking {
            assessed: a.clone(),
        })
        .collect();
    if !blocking.is_empty() {
        return Err(Error::GateRefused {
            product: product.to_owned(),
            fail_on,
            blocking,
        });
    }
    let suppressed = suppressed_ids(findings);
    if let Some(o) = &outcome {
        events.progress(&format!(
            "Scan: {} package(s) against {} advisories: {} finding(s), {} suppressed by VEX, \
             none at or above {fail_on} uncovered",
            o.packages,
            o.advisories,
            o.findings.len(),
            suppressed.len()
        ));
    }

    let timestamp = clock.now().to_string();
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
        skipped_because: match (&outcome, skip_scan) {
            (Some(_), _) => None,
            (None, Some(why)) => Some(why),
            (None, None) => Some("no advisory database, and [vulndb] fail_on = none"),
        },
        fail_on: fail_on.to_string(),
        database: sources
            .as_ref()
            .zip(outcome.as_ref())
            .map(|(names, o)| Database {
                sources: import_ages(db, names, clock)
                    .into_iter()
                    .map(|age| Source {
                        name: age.name,
                        imported: age
                            .written
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
        bytes: serialise("the scan result", &predicate)?,
        predicate_type: SCAN_PREDICATE,
    }];
    let mut names = vec![SCAN_FILE.to_owned(), CYCLONEDX_VEX_FILE.to_owned()];
    for (i, (path, doc)) in docs.iter().enumerate() {
        let own = attachment_name(path);
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
    if !documents.is_empty() {
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
            bytes: serialise("the CycloneDX VEX", &cdx)?,
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

/// A VEX document's own file name, to publish it under.
fn attachment_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn fail_on_accepts_none_and_the_scan_thresholds() {
        assert_eq!(parse_fail_on("none").unwrap(), FailOn::Never);
        assert_eq!(parse_fail_on("high").unwrap(), FailOn::High);
        assert_eq!(parse_fail_on("Critical").unwrap(), FailOn::Critical);
        let e = parse_fail_on("severe").unwrap_err();
        assert!(
            matches!(&e, Error::FailOn { value } if value == "severe"),
            "{e}"
        );
        assert!(e.to_string().contains("none"), "{e}");
    }

    #[test]
    fn serial_numbers_are_stable_uuids() {
        let a = serial_number("x");
        assert_eq!(a, serial_number("x"));
        assert_ne!(a, serial_number("y"));
        let uuid = a.strip_prefix("urn:uuid:").unwrap();
        let groups: Vec<usize> = uuid.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12]);
        // RFC 9562 version 8: derived from a digest, not random.
        assert_eq!(&uuid[14..15], "8");
    }
}
