//! Matching an SBOM's packages against the advisory database, VEX applied: what `custody scan`,
//! the release gate and the server all decide with.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use custody_vuln::report::{self, Counts, FailOn};
use custody_vuln::vex::{self, Assessed};
use custody_vuln::{MatchOptions, PackageRef};
use serde::Serialize;

use crate::Error;
use crate::env::{Clock, Events};

/// A component that was not matched, and why.
#[derive(Debug, Clone, Serialize)]
pub struct NotScanned {
    /// The component's name and version.
    pub component: String,
    /// Why it was not matched.
    pub reason: String,
}

impl NotScanned {
    /// Whether the component has no package URL at all (the project itself, a path or a
    /// workspace dependency), as opposed to one naming an ecosystem without advisories here.
    pub fn has_no_purl(&self) -> bool {
        self.reason == NO_PURL
    }
}

const NO_PURL: &str = "no package URL (the project itself, or a path or workspace dependency)";

/// The packages to match: one per (ecosystem, name, version), read from the components'
/// package URLs; the rest are listed with the reason they were not scanned.
pub fn packages(sbom: &custody_sbom::Sbom) -> (Vec<PackageRef>, Vec<NotScanned>) {
    let mut seen = BTreeSet::new();
    let mut refs = Vec::new();
    let mut not_scanned = Vec::new();
    for c in sbom.components() {
        let label = format!(
            "{} {}",
            c.name,
            c.version.as_deref().unwrap_or("(unversioned)")
        );
        let Some(purl) = &c.purl else {
            not_scanned.push(NotScanned {
                component: label,
                reason: NO_PURL.to_owned(),
            });
            continue;
        };
        match PackageRef::from_purl(&purl.0) {
            Ok(p) => {
                let key = (p.ecosystem.clone(), p.name.clone(), p.version.clone());
                if seen.insert(key) {
                    refs.push(p);
                }
            }
            Err(e) => not_scanned.push(NotScanned {
                component: label,
                reason: e.to_string(),
            }),
        }
    }
    (refs, not_scanned)
}

/// The licences the SBOM names, by package URL: what the catalog keeps beside each package.
pub fn licenses(sbom: &custody_sbom::Sbom) -> std::collections::BTreeMap<String, String> {
    sbom.components()
        .filter_map(|c| Some((c.purl.as_ref()?.0.clone(), c.license.clone()?)))
        .collect()
}

/// What a scan of one SBOM found, VEX statements applied.
#[derive(Debug)]
pub struct Outcome {
    /// Distinct packages matched.
    pub packages: usize,
    /// Components that could not be matched, and why.
    pub not_scanned: Vec<NotScanned>,
    /// Distinct advisories in the database.
    pub advisories: usize,
    /// Counts by kind and rating, before VEX.
    pub counts: Counts,
    /// The findings, sorted, each with the VEX statement that applies.
    pub findings: Vec<Assessed>,
}

/// Matches `sbom`'s packages against the database at `db` (reading only the advisories that
/// name them) and applies `documents` for `product`.
pub fn scan_sbom(
    sbom: &custody_sbom::Sbom,
    db: &Path,
    options: &MatchOptions,
    documents: &[custody_vuln::VexDocument],
    product: Option<&str>,
) -> Result<Outcome, Error> {
    let (refs, not_scanned) = packages(sbom);
    let (index, advisories) = crate::advisories::index_for(db, &refs)?;
    let mut findings = index.scan(&refs, options);
    report::sort(&mut findings);
    let counts = Counts::of(&findings);
    Ok(Outcome {
        packages: refs.len(),
        not_scanned,
        advisories,
        counts,
        findings: vex::apply(findings, documents, product),
    })
}

/// The findings at or above `fail_on` (a suppressing VEX statement keeps one out; an unknown
/// or unscored one counts), as the scan's exit code and the release gate both decide.
pub fn reaching(findings: &[Assessed], fail_on: FailOn) -> impl Iterator<Item = &Assessed> {
    findings
        .iter()
        .filter(move |a| fail_on.is_reached_by_assessed(a))
}

/// The ids of the findings a VEX statement keeps out of the gate.
pub fn suppressed_ids(findings: &[Assessed]) -> Vec<&str> {
    findings
        .iter()
        .filter(|a| a.is_suppressed())
        .map(|a| a.finding.id.as_str())
        .collect()
}

/// What to scan.
#[derive(Debug, Clone)]
pub struct ScanRequest {
    /// A project directory, a lockfile, a binary or an SBOM.
    pub path: PathBuf,
    /// OpenVEX files whose statements apply (later ones win).
    pub vex: Vec<PathBuf>,
    /// The product the statements are matched against (default: the scanned input's own name).
    pub product: Option<String>,
    /// The advisory database.
    pub db: PathBuf,
    /// Target OS and architecture filters.
    pub options: MatchOptions,
}

/// What [`run`] found.
#[derive(Debug)]
pub struct Scanned {
    /// The product VEX statements were matched against, if any could be named.
    pub product: Option<String>,
    /// How many VEX documents applied.
    pub vex_documents: usize,
    /// The findings.
    pub outcome: Outcome,
}

/// Reads the input and the VEX files, warns about stale advisory sources, and scans.
pub fn run(
    request: &ScanRequest,
    clock: &dyn Clock,
    events: &dyn Events,
) -> Result<Scanned, Error> {
    let sbom = crate::inputs::read_sbom(&request.path)?;
    let documents = request
        .vex
        .iter()
        .map(|p| crate::inputs::read_vex(p))
        .collect::<Result<Vec<_>, _>>()?;
    let names = crate::advisories::existing_sources(&request.db)?;
    crate::advisories::warn_stale(&request.db, &names, clock, events);
    let product = request
        .product
        .clone()
        .or_else(|| sbom.primary().map(|c| c.name.clone()));
    let outcome = scan_sbom(
        &sbom,
        &request.db,
        &request.options,
        &documents,
        product.as_deref(),
    )?;
    Ok(Scanned {
        product,
        vex_documents: documents.len(),
        outcome,
    })
}
