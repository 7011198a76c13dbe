//! OpenVEX v0.2.0: a supplier's statements about whether its product is
//! affected by a vulnerability, and applying them to a scan's findings.
//!
//! # Design
//! Parsing and applying do no I/O and read no clock: callers pass bytes in
//! and, when writing, the timestamp. A statement names a *product*, not a
//! product version, so a `not_affected` statement keeps suppressing the same
//! advisory in every later release of that product. Suppressed findings are
//! kept and marked, never dropped: the gate skips them, the reports show
//! them.
//!
//! A finding matches a statement when the statement's vulnerability name (or
//! one of its aliases) is the finding's id or one of its aliases, and one of
//! the statement's products is the product under scan (by name) or a package
//! URL that is a prefix of the component's. When several statements match,
//! the last one wins (documents in the order given, statements in file
//! order), so a statement appended later overrides an earlier one.
//!
//! # Example
//! ```
//! use custody_vuln::vex::{Document, Status};
//!
//! let json = br#"{
//!   "@context": "https://openvex.dev/ns/v0.2.0",
//!   "@id": "https://example.com/vex/app-1",
//!   "author": "Example",
//!   "timestamp": "2026-01-01T00:00:00Z",
//!   "version": 1,
//!   "statements": [{
//!     "vulnerability": {"name": "RUSTSEC-2021-0003"},
//!     "products": [{"@id": "app"}],
//!     "status": "not_affected",
//!     "justification": "vulnerable_code_not_in_execute_path"
//!   }]
//! }"#;
//! let doc = Document::from_json(json)?;
//! assert_eq!(doc.statements[0].status, Status::NotAffected);
//! assert!(doc.statements[0].status.suppresses());
//! # Ok::<(), custody_vuln::Error>(())
//! ```

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::index::Finding;

/// The only `@context` this module reads and writes.
pub const CONTEXT: &str = "https://openvex.dev/ns/v0.2.0";

/// Larger documents are refused before parsing: a VEX file is a list of
/// short statements, and a huge one is a mistake or an attack.
pub const MAX_DOCUMENT_BYTES: usize = 16 * 1024 * 1024;

/// An OpenVEX document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Document {
    /// Always [`CONTEXT`].
    #[serde(rename = "@context")]
    pub context: String,
    /// The document's IRI.
    #[serde(rename = "@id")]
    pub id: String,
    /// Who wrote the statements.
    pub author: String,
    /// The author's role, if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// When the document was first issued (RFC 3339).
    pub timestamp: String,
    /// When it last changed (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_updated: Option<String>,
    /// Bumped on every change.
    pub version: u64,
    /// What wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tooling: Option<String>,
    /// The statements.
    #[serde(default)]
    pub statements: Vec<Statement>,
}

/// One statement: a vulnerability's status in some products.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Statement {
    /// The vulnerability.
    pub vulnerability: Vulnerability,
    /// The products it is about.
    #[serde(default)]
    pub products: Vec<Product>,
    /// Its status.
    pub status: Status,
    /// Why it is not affected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub justification: Option<Justification>,
    /// Free-text reason, allowed in place of a justification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impact_statement: Option<String>,
    /// What to do, for `affected`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action_statement: Option<String>,
    /// When this statement was made (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
}

/// The vulnerability a statement is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vulnerability {
    /// Its id (`RUSTSEC-...`, `CVE-...`, `GHSA-...`).
    pub name: String,
    /// Other ids of the same vulnerability.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
}

/// A product: a package URL or a product name, with optional subcomponents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    /// A package URL or a product name.
    #[serde(rename = "@id")]
    pub id: String,
    /// Components of the product the statement is limited to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subcomponents: Vec<Subcomponent>,
}

/// A component inside a product, by package URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subcomponent {
    /// A package URL.
    #[serde(rename = "@id")]
    pub id: String,
}

/// A statement's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Status {
    /// The product is not affected.
    NotAffected,
    /// The product is affected.
    Affected,
    /// The product contains a fix.
    Fixed,
    /// Not yet known.
    UnderInvestigation,
}

impl Status {
    /// Every status, in the spec's order.
    pub const ALL: [Self; 4] = [
        Self::NotAffected,
        Self::Affected,
        Self::Fixed,
        Self::UnderInvestigation,
    ];

    /// The spec's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotAffected => "not_affected",
            Self::Affected => "affected",
            Self::Fixed => "fixed",
            Self::UnderInvestigation => "under_investigation",
        }
    }

    /// Whether a finding with this status is kept out of the gate.
    pub fn suppresses(self) -> bool {
        matches!(self, Self::NotAffected | Self::Fixed)
    }

    /// The status spelled `s`, if any.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a product is not affected (the five OpenVEX justifications).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Justification {
    /// The vulnerable component is not in the product.
    ComponentNotPresent,
    /// The component is there, the vulnerable code is not.
    VulnerableCodeNotPresent,
    /// The vulnerable code cannot be reached.
    VulnerableCodeNotInExecutePath,
    /// An attacker cannot control the input that reaches it.
    VulnerableCodeCannotBeControlledByAdversary,
    /// The product mitigates it.
    InlineMitigationsAlreadyExist,
}

impl Justification {
    /// Every justification.
    pub const ALL: [Self; 5] = [
        Self::ComponentNotPresent,
        Self::VulnerableCodeNotPresent,
        Self::VulnerableCodeNotInExecutePath,
        Self::VulnerableCodeCannotBeControlledByAdversary,
        Self::InlineMitigationsAlreadyExist,
    ];

    /// The spec's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ComponentNotPresent => "component_not_present",
            Self::VulnerableCodeNotPresent => "vulnerable_code_not_present",
            Self::VulnerableCodeNotInExecutePath => "vulnerable_code_not_in_execute_path",
            Self::VulnerableCodeCannotBeControlledByAdversary => {
                "vulnerable_code_cannot_be_controlled_by_adversary"
            }
            Self::InlineMitigationsAlreadyExist => "inline_mitigations_already_exist",
        }
    }

    /// The justification spelled `s`, if any.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

impl std::fmt::Display for Justification {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Statement {
    /// Checks the statement's own rules; `index` is its position, for errors.
    pub fn validate(&self, index: usize) -> Result<(), Error> {
        let vulnerability = self.vulnerability.name.clone();
        if vulnerability.trim().is_empty() {
            return Err(Error::VexEmptyVulnerabilityName { index });
        }
        if self.products.is_empty() {
            return Err(Error::VexNoProducts {
                index,
                vulnerability,
            });
        }
        if self.products.iter().any(|p| p.id.trim().is_empty()) {
            return Err(Error::VexEmptyProductId {
                index,
                vulnerability,
            });
        }
        let has_impact = self
            .impact_statement
            .as_deref()
            .is_some_and(|s| !s.trim().is_empty());
        match self.status {
            Status::NotAffected if self.justification.is_none() && !has_impact => {
                Err(Error::VexNotAffectedWithoutJustification {
                    index,
                    vulnerability,
                })
            }
            Status::NotAffected => Ok(()),
            status if self.justification.is_some() => {
                Err(Error::VexJustificationWithoutNotAffected {
                    index,
                    vulnerability,
                    status,
                })
            }
            _ => Ok(()),
        }
    }

    fn names(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.vulnerability.name.as_str())
            .chain(self.vulnerability.aliases.iter().map(String::as_str))
    }

    fn covers_vulnerability(&self, finding: &Finding) -> bool {
        self.names()
            .any(|n| n == finding.id || finding.aliases.iter().any(|a| a == n))
    }

    fn covers_component(&self, product: Option<&str>, finding: &Finding) -> bool {
        let purl = finding.package.purl.as_deref();
        self.products.iter().any(|p| {
            if product == Some(p.id.as_str()) {
                p.subcomponents.is_empty()
                    || p.subcomponents
                        .iter()
                        .any(|s| purl.is_some_and(|purl| purl_has_prefix(purl, &s.id)))
            } else {
                purl.is_some_and(|purl| purl_has_prefix(purl, &p.id))
            }
        })
    }
}

/// Whether `purl` is `prefix` or extends it at a component boundary, so that
/// `pkg:cargo/smallvec` covers `pkg:cargo/smallvec@0.6.13` but not
/// `pkg:cargo/smallvec2@1.0.0`.
pub fn purl_has_prefix(purl: &str, prefix: &str) -> bool {
    if !prefix.starts_with("pkg:") {
        return false;
    }
    match purl.strip_prefix(prefix) {
        Some("") => true,
        Some(rest) => {
            matches!(rest.as_bytes().first(), Some(b'@' | b'?' | b'#'))
                || prefix.ends_with(['@', '?', '&', '/'])
        }
        None => false,
    }
}

impl Document {
    /// An empty document, version 1.
    pub fn new(id: impl Into<String>, author: impl Into<String>, now: impl Into<String>) -> Self {
        Self {
            context: CONTEXT.to_owned(),
            id: id.into(),
            author: author.into(),
            role: None,
            timestamp: now.into(),
            last_updated: None,
            version: 1,
            tooling: None,
            statements: Vec::new(),
        }
    }

    /// Parses and validates a document.
    pub fn from_json(bytes: &[u8]) -> Result<Self, Error> {
        if bytes.len() > MAX_DOCUMENT_BYTES {
            return Err(Error::VexTooLarge {
                len: bytes.len(),
                limit: MAX_DOCUMENT_BYTES,
            });
        }
        let doc: Self = serde_json::from_slice(bytes).map_err(Error::VexMalformed)?;
        doc.validate()?;
        Ok(doc)
    }

    /// Checks the document's rules and every statement's.
    pub fn validate(&self) -> Result<(), Error> {
        if self.context != CONTEXT {
            return Err(Error::VexWrongContext {
                found: self.context.clone(),
            });
        }
        if self.id.trim().is_empty() {
            return Err(Error::VexEmptyDocumentId);
        }
        for (index, s) in self.statements.iter().enumerate() {
            s.validate(index)?;
        }
        Ok(())
    }

    /// Appends a valid statement, bumping the version and `last_updated`.
    pub fn push(&mut self, statement: Statement, now: impl Into<String>) -> Result<(), Error> {
        statement.validate(self.statements.len())?;
        self.statements.push(statement);
        self.version = self.version.saturating_add(1);
        self.last_updated = Some(now.into());
        Ok(())
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        // A document of strings, integers and enums always serialises.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

impl Document {
    /// Whether any statement names `product` (by name) or, by package URL
    /// prefix, one of `purls`: the documents to publish with a release of
    /// that product.
    pub fn is_about<'a>(&self, product: &str, purls: impl Fn(&str) -> bool + 'a) -> bool {
        self.statements.iter().any(|s| {
            s.products
                .iter()
                .any(|p| p.id == product || (p.id.starts_with("pkg:") && purls(&p.id)))
        })
    }
}

/// The CycloneDX 1.6 `analysis.state` for an OpenVEX status (CycloneDX's
/// impact analysis states; the mapping CISA's VEX minimum requirements and
/// the OpenVEX spec's CycloneDX notes give).
pub fn cyclonedx_state(status: Status) -> &'static str {
    match status {
        Status::NotAffected => "not_affected",
        Status::Affected => "exploitable",
        Status::Fixed => "resolved",
        Status::UnderInvestigation => "in_triage",
    }
}

/// The CycloneDX 1.6 `analysis.justification` for an OpenVEX one. CycloneDX
/// has no "cannot be controlled by an adversary": it names the condition the
/// attack would need instead, which for that justification is the
/// environment.
pub fn cyclonedx_justification(j: Justification) -> &'static str {
    match j {
        Justification::ComponentNotPresent | Justification::VulnerableCodeNotPresent => {
            "code_not_present"
        }
        Justification::VulnerableCodeNotInExecutePath => "code_not_reachable",
        Justification::VulnerableCodeCannotBeControlledByAdversary => "requires_environment",
        Justification::InlineMitigationsAlreadyExist => "protected_by_mitigating_control",
    }
}

/// What a CycloneDX VEX document is about: the release it ships with.
#[derive(Debug, Clone, Copy)]
pub struct CycloneDxSubject<'a> {
    /// The product's name (what product-level statements name).
    pub product: &'a str,
    /// The release's version.
    pub version: &'a str,
    /// `urn:uuid:...`, unique per document.
    pub serial_number: &'a str,
    /// RFC 3339.
    pub timestamp: &'a str,
}

/// `documents` as one CycloneDX 1.6 VEX document: a vulnerability per
/// (vulnerability, product) with the last statement's analysis, as
/// [`apply`] would decide it. Statements naming the product by name affect
/// the document's own component; those naming package URLs affect a
/// component listed under that URL.
pub fn to_cyclonedx(documents: &[Document], subject: CycloneDxSubject<'_>) -> serde_json::Value {
    use serde_json::json;

    let product_ref = format!("{}@{}", subject.product, subject.version);
    // Keyed by (vulnerability, product) so a later statement replaces an
    // earlier one in place, keeping first-seen order.
    let mut order: Vec<(String, String)> = Vec::new();
    let mut latest: std::collections::HashMap<(String, String), &Statement> =
        std::collections::HashMap::new();
    for s in documents.iter().flat_map(|d| d.statements.iter()) {
        for p in &s.products {
            let target = if p.id == subject.product {
                product_ref.clone()
            } else if p.id.starts_with("pkg:") {
                p.id.clone()
            } else {
                continue;
            };
            let key = (s.vulnerability.name.clone(), target);
            if latest.insert(key.clone(), s).is_none() {
                order.push(key);
            }
        }
    }
    let mut components: Vec<serde_json::Value> = Vec::new();
    let mut listed = std::collections::BTreeSet::new();
    let vulnerabilities: Vec<serde_json::Value> = order
        .iter()
        .filter_map(|key| {
            let s = latest.get(key)?;
            let (name, target) = key;
            if *target != product_ref && listed.insert(target.clone()) {
                components.push(json!({
                    "type": "library",
                    "bom-ref": target,
                    "name": target.trim_start_matches("pkg:"),
                    "purl": target,
                }));
            }
            let mut analysis = serde_json::Map::new();
            analysis.insert("state".into(), json!(cyclonedx_state(s.status)));
            if let Some(j) = s.justification {
                analysis.insert("justification".into(), json!(cyclonedx_justification(j)));
            }
            let detail: Vec<&str> = [s.impact_statement.as_deref(), s.action_statement.as_deref()]
                .into_iter()
                .flatten()
                .filter(|t| !t.trim().is_empty())
                .collect();
            if !detail.is_empty() {
                analysis.insert("detail".into(), json!(detail.join("\n")));
            }
            let mut v = json!({
                "id": name,
                "analysis": analysis,
                "affects": [{"ref": target}],
            });
            if !s.vulnerability.aliases.is_empty() {
                v["references"] = s
                    .vulnerability
                    .aliases
                    .iter()
                    .map(|a| json!({"id": a, "source": {"name": id_source(a)}}))
                    .collect();
            }
            Some(v)
        })
        .collect();
    let mut doc = json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": subject.serial_number,
        "version": 1,
        "metadata": {
            "timestamp": subject.timestamp,
            "tools": {"components": [{"type": "application", "name": "custody", "version": env!("CARGO_PKG_VERSION")}]},
            "component": {
                "type": "application",
                "bom-ref": product_ref,
                "name": subject.product,
                "version": subject.version,
            },
        },
        "vulnerabilities": vulnerabilities,
    });
    if !components.is_empty() {
        doc["components"] = components.into();
    }
    doc
}

/// The database an id comes from, by its prefix, for CycloneDX `source.name`.
fn id_source(id: &str) -> &'static str {
    match id.split('-').next().unwrap_or("") {
        "CVE" => "NVD",
        "GHSA" => "GitHub",
        "RUSTSEC" => "RustSec",
        "GO" => "Go Vulnerability Database",
        "PYSEC" => "PyPA",
        _ => "OSV",
    }
}

/// The statement that decided a finding's VEX status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Applied {
    /// The statement's status.
    pub status: Status,
    /// Its justification.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub justification: Option<Justification>,
    /// Its impact statement.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub impact_statement: Option<String>,
    /// Its action statement.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action_statement: Option<String>,
    /// The vulnerability name the statement used.
    pub vulnerability: String,
    /// The `@id` of the document it came from.
    pub document: String,
}

impl Applied {
    /// Whether the gate skips the finding.
    pub fn suppresses(&self) -> bool {
        self.status.suppresses()
    }

    /// The reason in one line: the justification, else the impact statement.
    pub fn reason(&self) -> String {
        match (&self.justification, &self.impact_statement) {
            (Some(j), Some(i)) => format!("{j}: {i}"),
            (Some(j), None) => j.to_string(),
            (None, Some(i)) => i.clone(),
            (None, None) => String::new(),
        }
    }
}

/// A finding and the VEX statement that applies to it, if any.
#[derive(Debug, Clone, Serialize)]
pub struct Assessed {
    /// The finding.
    #[serde(flatten)]
    pub finding: Finding,
    /// The statement that applies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vex: Option<Applied>,
}

impl Assessed {
    /// Whether a VEX statement keeps this finding out of the gate.
    pub fn is_suppressed(&self) -> bool {
        self.vex.as_ref().is_some_and(Applied::suppresses)
    }
}

/// Pairs each finding with the last matching statement of `documents`.
/// `product` is the name of the product under scan, matched against product
/// `@id`s that are not package URLs.
pub fn apply(
    findings: Vec<Finding>,
    documents: &[Document],
    product: Option<&str>,
) -> Vec<Assessed> {
    findings
        .into_iter()
        .map(|finding| {
            let vex = documents
                .iter()
                .flat_map(|d| d.statements.iter().map(move |s| (d, s)))
                .rfind(|(_, s)| {
                    s.covers_vulnerability(&finding) && s.covers_component(product, &finding)
                })
                .map(|(d, s)| Applied {
                    status: s.status,
                    justification: s.justification,
                    impact_statement: s.impact_statement.clone(),
                    action_statement: s.action_statement.clone(),
                    vulnerability: s.vulnerability.name.clone(),
                    document: d.id.clone(),
                });
            Assessed { finding, vex }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Advisory, Ecosystem, Index, MatchOptions, PackageRef};

    /// The real advisory, read from the RustSec snapshot in `testdata/`: smallvec,
    /// patched >= 0.6.14 and >= 1.6.1, aliases CVE-2021-25900 and
    /// GHSA-43w2-9j62-hq99.
    fn smallvec() -> Vec<u8> {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../testdata/advisories/crates.io/RUSTSEC-2021-0003.json"
        );
        std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn findings() -> Vec<Finding> {
        let mut index = Index::new();
        index.insert(
            Advisory::from_json(&smallvec(), "RUSTSEC-2021-0003.json").unwrap(),
            "t",
            None,
        );
        let mut p = PackageRef::new(Ecosystem::CratesIo, "smallvec", "0.6.13");
        p.purl = Some("pkg:cargo/smallvec@0.6.13".to_owned());
        index.scan(&[p], &MatchOptions::default())
    }

    fn doc(statements: &str) -> Result<Document, Error> {
        Document::from_json(
            format!(
                r#"{{"@context": "{CONTEXT}", "@id": "urn:test", "author": "t",
                    "timestamp": "2026-01-01T00:00:00Z", "version": 1,
                    "statements": [{statements}]}}"#
            )
            .as_bytes(),
        )
    }

    fn statement(name: &str, product: &str, status: &str, extra: &str) -> String {
        format!(
            r#"{{"vulnerability": {{"name": "{name}"}}, "products": [{{"@id": "{product}"}}],
                "status": "{status}"{extra}}}"#
        )
    }

    const JUST: &str = r#", "justification": "vulnerable_code_not_in_execute_path""#;

    #[test]
    fn not_affected_by_id_for_the_product_suppresses() {
        let d = doc(&statement("RUSTSEC-2021-0003", "app", "not_affected", JUST)).unwrap();
        let a = apply(findings(), &[d], Some("app"));
        assert_eq!(a.len(), 1, "never dropped");
        assert!(a[0].is_suppressed());
        assert_eq!(
            a[0].vex.as_ref().unwrap().justification,
            Some(Justification::VulnerableCodeNotInExecutePath)
        );
    }

    #[test]
    fn matches_by_alias_and_by_purl_prefix() {
        let d = doc(&statement(
            "CVE-2021-25900",
            "pkg:cargo/smallvec",
            "fixed",
            "",
        ))
        .unwrap();
        let a = apply(findings(), &[d], None);
        assert!(a[0].is_suppressed());
        assert_eq!(a[0].vex.as_ref().unwrap().vulnerability, "CVE-2021-25900");
    }

    #[test]
    fn other_product_or_purl_does_not_match() {
        let d = doc(&[
            statement("RUSTSEC-2021-0003", "other-app", "not_affected", JUST),
            statement(
                "RUSTSEC-2021-0003",
                "pkg:cargo/smallvec2",
                "not_affected",
                JUST,
            ),
            statement("RUSTSEC-2021-0003", "pkg:cargo/small", "not_affected", JUST),
        ]
        .join(","))
        .unwrap();
        let a = apply(findings(), &[d], Some("app"));
        assert!(a[0].vex.is_none());
    }

    #[test]
    fn affected_and_under_investigation_do_not_suppress() {
        for status in ["affected", "under_investigation"] {
            let d = doc(&statement("GHSA-43w2-9j62-hq99", "app", status, "")).unwrap();
            let a = apply(findings(), &[d], Some("app"));
            assert_eq!(a[0].vex.as_ref().unwrap().status.as_str(), status);
            assert!(!a[0].is_suppressed());
        }
    }

    #[test]
    fn the_last_matching_statement_wins() {
        let d = doc(&[
            statement("RUSTSEC-2021-0003", "app", "not_affected", JUST),
            statement("RUSTSEC-2021-0003", "app", "affected", ""),
        ]
        .join(","))
        .unwrap();
        assert!(!apply(findings(), &[d], Some("app"))[0].is_suppressed());
    }

    #[test]
    fn not_affected_needs_a_justification_or_impact_statement() {
        let e = doc(&statement("RUSTSEC-2021-0003", "app", "not_affected", "")).unwrap_err();
        assert!(matches!(
            e,
            Error::VexNotAffectedWithoutJustification { index: 0, .. }
        ));
        let ok = doc(&statement(
            "RUSTSEC-2021-0003",
            "app",
            "not_affected",
            r#", "impact_statement": "only the safe API is used""#,
        ));
        assert!(ok.is_ok());
    }

    #[test]
    fn broken_rules_have_their_own_errors() {
        assert!(matches!(
            doc(&statement("RUSTSEC-2021-0003", "app", "unaffected", "")),
            Err(Error::VexMalformed(_))
        ));
        assert!(matches!(
            doc(r#"{"vulnerability": {"name": "X"}, "products": [], "status": "affected"}"#),
            Err(Error::VexNoProducts { .. })
        ));
        assert!(matches!(
            doc(&statement("", "app", "affected", "")),
            Err(Error::VexEmptyVulnerabilityName { index: 0 })
        ));
        assert!(matches!(
            doc(&statement("X", "app", "affected", JUST)),
            Err(Error::VexJustificationWithoutNotAffected { .. })
        ));
        assert!(matches!(
            Document::from_json(
                br#"{"@context": "https://openvex.dev/ns/v0.1.0", "@id": "x",
                "author": "a", "timestamp": "t", "version": 1}"#
            ),
            Err(Error::VexWrongContext { .. })
        ));
        let big = vec![b' '; MAX_DOCUMENT_BYTES + 1];
        assert!(matches!(
            Document::from_json(&big),
            Err(Error::VexTooLarge { .. })
        ));
    }

    #[test]
    fn push_bumps_the_version_and_round_trips() {
        let mut d = Document::new("urn:x", "custody", "2026-01-01T00:00:00Z");
        let s = doc(&statement("RUSTSEC-2021-0003", "app", "not_affected", JUST))
            .unwrap()
            .statements
            .remove(0);
        d.push(s, "2026-01-02T00:00:00Z").unwrap();
        assert_eq!(d.version, 2);
        assert_eq!(Document::from_json(d.to_json().as_bytes()).unwrap(), d);
    }

    #[test]
    fn suppressed_findings_leave_the_gate_but_stay_in_sarif() {
        use crate::report::{FailOn, Tool, sarif_assessed};
        let d = doc(&statement("RUSTSEC-2021-0003", "app", "not_affected", JUST)).unwrap();
        let a = apply(findings(), &[d], Some("app"));
        assert!(FailOn::Any.is_reached_by(&a[0].finding));
        assert!(!FailOn::Any.is_reached_by_assessed(&a[0]));
        let tool = Tool {
            name: "custody",
            version: "0",
            information_uri: "https://example.com",
        };
        let log = sarif_assessed(&a, "Cargo.lock", &tool);
        let result = &log["runs"][0]["results"][0];
        assert_eq!(result["suppressions"][0]["kind"], "external");
        assert_eq!(result["properties"]["vex"]["status"], "not_affected");
        let unsuppressed = apply(findings(), &[], Some("app"));
        assert!(FailOn::Any.is_reached_by_assessed(&unsuppressed[0]));
        let log = sarif_assessed(&unsuppressed, "Cargo.lock", &tool);
        assert!(log["runs"][0]["results"][0].get("suppressions").is_none());
    }
}
