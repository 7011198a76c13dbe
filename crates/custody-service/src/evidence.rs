//! A release's evidence for procurement: what the release already has (provenance, SBOMs, the
//! scan, VEX, log inclusion, TUF target, reproducibility, keys, approvals), verified now and
//! gathered in one signed, logged evidence bundle; mapped to the NIST SSDF (SP 800-218) tasks
//! it supports, to the CISA Secure Software Development Attestation Form, and to the guide's
//! threats; and exported as an OSCAL Assessment Results document over an OSCAL catalog of those
//! tasks and form items, for GRC tools.
//!
//! Every fact is read from the release and the site; what custody cannot know (the supplier's
//! access controls, its training, its code review) is said to be unknown, never assumed.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use custody_attest::bundle;
use custody_attest::release::Artifact;
use custody_crypto::{Digests, Sha256Digest, Sha512Digest};
use custody_site::config::Loaded;
use custody_site::fs::{read_bounded, write_atomic};
use custody_site::site::Site;
use serde::Serialize;

use crate::Error;
use crate::dashboard::{ArtifactFacts, InclusionCheck, TargetState};
use crate::env::{Clock, Events, KeySource};
use crate::keys::Protection;
use crate::transport::Transport;

/// The in-toto predicate type of an evidence bundle.
pub const EVIDENCE_PREDICATE: &str = "https://custody.dev/evidence/v1";

/// The OSCAL version the exports follow.
pub const OSCAL_VERSION: &str = "1.1.2";

/// The catalog file the Assessment Results refer to.
pub const CATALOG_FILE: &str = "custody-ssdf-catalog.json";

/// The source the release was built from, as its verified provenance says.
#[derive(Debug, Clone, Serialize)]
pub struct SourceFacts {
    /// The repository.
    pub repository: String,
    /// The ref.
    pub git_ref: String,
    /// The commit.
    pub commit: String,
    /// Whether the tree was clean.
    pub tree_clean: Option<bool>,
    /// The builder.
    pub builder: String,
}

/// The release's SBOM.
#[derive(Debug, Clone, Serialize)]
pub struct SbomFacts {
    /// How many components.
    pub components: usize,
    /// The formats published.
    pub formats: Vec<&'static str>,
}

/// The release gate's scan, as `scan.json` records it.
#[derive(Debug, Clone, Serialize)]
pub struct ScanFacts {
    /// Whether the SBOM was scanned.
    pub scanned: bool,
    /// Why not, when not.
    pub skipped_because: Option<String>,
    /// The gate's threshold.
    pub fail_on: String,
    /// Findings at release time.
    pub findings: usize,
    /// Findings a VEX statement covered.
    pub suppressed: usize,
    /// The advisory sources used.
    pub sources: Vec<String>,
}

/// The transparency log, as published.
#[derive(Debug, Clone, Serialize)]
pub struct LogFacts {
    /// Its origin.
    pub origin: String,
    /// Its size by the verified checkpoint.
    pub size: u64,
    /// Cosignatures on that checkpoint.
    pub cosignatures: usize,
    /// How many witnesses the policy requires, if any.
    pub witnesses_required: Option<usize>,
}

/// The latest reproducibility check.
#[derive(Debug, Clone, Serialize)]
pub struct RebuildFacts {
    /// Whether every artifact was reproduced.
    pub reproduced: bool,
    /// When it was checked.
    pub checked_at: String,
    /// The attestation, on the site.
    pub attestation: String,
}

/// The keys behind the release.
#[derive(Debug, Clone, Serialize)]
pub struct KeyFacts {
    /// The key that signed the release (hint).
    pub release_key: String,
    /// How the configured release key is kept.
    pub release_key_protection: Protection,
    /// How the configured log key is kept.
    pub log_key_protection: Protection,
    /// Whether the release, log and TUF keys are distinct.
    pub separate_duties: bool,
}

/// M-of-N approval of the release.
#[derive(Debug, Clone, Serialize)]
pub struct ApprovalFacts {
    /// How many must approve.
    pub threshold: usize,
    /// How many approvers the policy names.
    pub approvers: usize,
    /// Whether the threshold was verified now.
    pub verified: bool,
    /// What the verification said.
    pub detail: String,
}

/// How far evidence supports a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Support {
    /// The release's evidence shows it.
    Evidenced,
    /// Some of it; the rest is the supplier's to show.
    PartlyEvidenced,
    /// custody has nothing that shows it.
    NotEvidenced,
}

impl Support {
    /// The name in output.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Evidenced => "evidenced",
            Self::PartlyEvidenced => "partly evidenced",
            Self::NotEvidenced => "not evidenced",
        }
    }
}

/// One SSDF task.
#[derive(Debug, Clone, Serialize)]
pub struct Practice {
    /// The task id (`PS.2.1`).
    pub id: &'static str,
    /// Its practice group (`PO`, `PS`, `PW`, `RV`).
    pub group: &'static str,
    /// What the task asks, in short.
    pub task: &'static str,
    /// How far the release's evidence supports it.
    pub support: Support,
    /// The evidence, each item from the release.
    pub evidence: Vec<String>,
    /// What custody cannot show.
    pub gap: Option<&'static str>,
}

/// One item of the CISA attestation form, prefilled.
#[derive(Debug, Clone, Serialize)]
pub struct FormItem {
    /// The form's section.
    pub section: &'static str,
    /// The item.
    pub item: &'static str,
    /// The answer custody can give, or what the supplier must.
    pub answer: String,
    /// Whether custody knows it.
    pub known: bool,
}

/// One threat the guide names, and what stops it here.
#[derive(Debug, Clone, Serialize)]
pub struct Threat {
    /// The threat.
    pub threat: &'static str,
    /// The control.
    pub control: &'static str,
    /// Whether the control is on for this release.
    pub on: bool,
    /// The evidence that it is (or why not).
    pub evidence: String,
}

/// Everything gathered about one release.
#[derive(Debug, Clone, Serialize)]
pub struct Evidence {
    /// The product.
    pub product: String,
    /// The version.
    pub version: String,
    /// When this was gathered.
    pub generated_at: jiff::Timestamp,
    /// Whether every artifact verified now.
    pub verified: bool,
    /// Each artifact, verified now.
    pub artifacts: Vec<ArtifactFacts>,
    /// The source, from the provenance.
    pub source: Option<SourceFacts>,
    /// The SBOM.
    pub sbom: Option<SbomFacts>,
    /// The gate's scan.
    pub scan: Option<ScanFacts>,
    /// The supplier's VEX documents published with the release.
    pub vex_documents: usize,
    /// The log.
    pub log: Option<LogFacts>,
    /// The latest reproducibility check.
    pub reproducibility: Option<RebuildFacts>,
    /// The keys.
    pub keys: KeyFacts,
    /// Approval, where the policy asks it.
    pub approval: Option<ApprovalFacts>,
    /// `custody doctor`'s findings about the setup at the time.
    pub setup_findings: Vec<crate::doctor::Finding>,
    /// The SSDF tasks.
    pub ssdf: Vec<Practice>,
    /// The CISA attestation form, prefilled.
    pub attestation_form: Vec<FormItem>,
    /// The threat model.
    pub threats: Vec<Threat>,
}

/// What [`write`] produced.
#[derive(Debug, Clone, Serialize)]
pub struct Written {
    /// The evidence.
    #[serde(skip)]
    pub evidence: Evidence,
    /// The signed, logged evidence bundle.
    pub bundle: PathBuf,
    /// The evidence as JSON.
    pub json: PathBuf,
    /// The OSCAL Assessment Results.
    pub oscal: PathBuf,
    /// The OSCAL catalog they refer to.
    pub catalog: PathBuf,
}

/// Gathers the evidence of `product` `version`, verified at the clock's now.
pub fn gather(
    loaded: &Loaded,
    product: &str,
    version: &str,
    keys: &dyn KeySource,
    clock: &dyn Clock,
    transport: &Arc<dyn Transport>,
) -> Result<Evidence, Error> {
    let now = clock.now();
    let artifacts = crate::dashboard::artifacts(loaded, product, version, now)?;
    let site = Site::new(loaded.site_dir());
    let dir = site.release_dir(product, version);
    let policy = site.policy().map_err(Error::input)?;
    let source = artifacts.first().map(|a| SourceFacts {
        repository: a.release.repository.clone(),
        git_ref: a.release.git_ref.clone(),
        commit: a.release.commit.clone(),
        tree_clean: a.release.tree_clean,
        builder: a.release.builder.clone(),
    });
    let sbom = sbom_facts(&dir)?;
    let scan = scan_facts(&dir);
    let vex_documents = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".openvex.json"))
        .count();
    let log = crate::log::LogReader::open(loaded).ok().map(|r| LogFacts {
        origin: r.checkpoint().checkpoint.origin.clone(),
        size: r.checkpoint().checkpoint.size,
        cosignatures: r.checkpoint().note.signatures().len().saturating_sub(1),
        witnesses_required: policy.witnesses.as_ref().map(|w| w.threshold),
    });
    let reproducibility = rebuild_facts(loaded, product, version);
    let setup_findings = crate::doctor::examine(
        loaded,
        &crate::doctor::DoctorRequest::default(),
        keys,
        clock,
        transport,
    )?
    .findings;
    let keys = KeyFacts {
        release_key: artifacts
            .first()
            .map(|a| a.release.key.clone())
            .unwrap_or_default(),
        release_key_protection: crate::keys::protection(&loaded.key_path()),
        log_key_protection: crate::keys::protection(&loaded.log_key_path()),
        separate_duties: !setup_findings.iter().any(|f| f.check == "key-shared"),
    };
    let approval = policy.approval_rule(product).map(|rule| {
        let check = artifacts
            .iter()
            .flat_map(|a| a.checks.iter())
            .find(|c| c.name == "approval");
        ApprovalFacts {
            threshold: rule.threshold,
            approvers: rule.approvers.len(),
            verified: check.is_some_and(|c| c.status == "pass"),
            detail: check.map(|c| c.detail.clone()).unwrap_or_default(),
        }
    });
    let mut evidence = Evidence {
        product: product.to_owned(),
        version: version.to_owned(),
        generated_at: now,
        verified: !artifacts.is_empty() && artifacts.iter().all(|a| a.verified),
        artifacts,
        source,
        sbom,
        scan,
        vex_documents,
        log,
        reproducibility,
        keys,
        approval,
        setup_findings,
        ssdf: Vec::new(),
        attestation_form: Vec::new(),
        threats: Vec::new(),
    };
    evidence.ssdf = ssdf(&evidence);
    evidence.attestation_form = attestation_form(&evidence);
    evidence.threats = threats(&evidence);
    Ok(evidence)
}

fn sbom_facts(dir: &Path) -> Result<Option<SbomFacts>, Error> {
    let cdx = dir.join("sbom.cdx.json");
    if !cdx.is_file() {
        return Ok(None);
    }
    let sbom = crate::inputs::read_sbom(&cdx)?;
    let mut formats = vec!["CycloneDX 1.6"];
    if dir.join("sbom.spdx.json").is_file() {
        formats.push("SPDX 2.3");
    }
    Ok(Some(SbomFacts {
        components: sbom.len(),
        formats,
    }))
}

fn scan_facts(dir: &Path) -> Option<ScanFacts> {
    let bytes = read_bounded(&dir.join(crate::gate::SCAN_FILE), 64 << 20, "scan").ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let strings = |key: &str| -> Vec<String> {
        v[key]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    Some(ScanFacts {
        scanned: v["scanned"].as_bool().unwrap_or(false),
        skipped_because: v["skipped_because"].as_str().map(str::to_owned),
        fail_on: v["fail_on"].as_str().unwrap_or_default().to_owned(),
        findings: v["findings"].as_array().map_or(0, Vec::len),
        suppressed: strings("suppressed").len(),
        sources: v["database"]["sources"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s["name"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
    })
}

/// The newest reproducibility attestation of the release, as its statement says.
fn rebuild_facts(loaded: &Loaded, product: &str, version: &str) -> Option<RebuildFacts> {
    let dir = loaded
        .site_dir()
        .join(crate::rebuild::REBUILDS_DIR)
        .join(product)
        .join(version);
    let newest = crate::log::site_documents(&dir)
        .ok()?
        .into_iter()
        .max()?
        .with_extension("json.sigstore.json");
    let bytes = read_bounded(&newest, bundle::MAX_BUNDLE_BYTES as u64, "attestation").ok()?;
    let signed = bundle::parse(&bytes).ok()?;
    let stmt: serde_json::Value =
        serde_json::from_slice(signed.envelope.payload.as_bytes()).ok()?;
    let predicate = &stmt["predicate"];
    Some(RebuildFacts {
        reproduced: predicate["reproduced"].as_bool()?,
        checked_at: predicate["checkedAt"].as_str()?.to_owned(),
        attestation: newest
            .strip_prefix(loaded.site_dir())
            .unwrap_or(&newest)
            .display()
            .to_string(),
    })
}

fn count_logged(e: &Evidence) -> usize {
    e.artifacts
        .iter()
        .filter(|a| {
            a.log
                .as_ref()
                .is_some_and(|l| matches!(l.check, InclusionCheck::Proved { .. }))
        })
        .count()
}

fn count_tuf(e: &Evidence) -> usize {
    e.artifacts
        .iter()
        .filter(|a| matches!(a.tuf, TargetState::Listed { matches: true, .. }))
        .count()
}

/// The SSDF v1.1 tasks the release bears on, each with its evidence or what is missing.
fn ssdf(e: &Evidence) -> Vec<Practice> {
    let n = e.artifacts.len();
    let logged = count_logged(e);
    let in_tuf = count_tuf(e);
    let signed = format!(
        "{} of {n} artifact(s) carry a DSSE signature by key {} that verifies against the \
         published policy",
        e.artifacts.iter().filter(|a| a.verified).count(),
        e.keys.release_key
    );
    let mut out = Vec::new();
    let mut task = |id, group, task, evidence: Vec<String>, gap: Option<&'static str>| {
        let support = match (evidence.is_empty(), gap) {
            (true, _) => Support::NotEvidenced,
            (false, Some(_)) => Support::PartlyEvidenced,
            (false, None) => Support::Evidenced,
        };
        out.push(Practice {
            id,
            group,
            task,
            support,
            evidence,
            gap,
        });
    };
    task(
        "PO.1.1",
        "PO",
        "Identify and document security requirements for the development infrastructure",
        Vec::new(),
        Some("the supplier's own requirements documents"),
    );
    task(
        "PO.3.2",
        "PO",
        "Deploy, operate and maintain the toolchain securely",
        e.source
            .iter()
            .map(|s| format!("the provenance names the builder {}", s.builder))
            .collect(),
        Some("how the builder itself is secured"),
    );
    task(
        "PO.3.3",
        "PO",
        "Configure tools to generate artifacts that support security practices",
        e.source
            .iter()
            .map(|_| {
                format!(
                    "SLSA v1 provenance, a signed release manifest{} were generated for the \
                     release",
                    if e.sbom.is_some() { " and SBOMs" } else { "" }
                )
            })
            .collect(),
        None,
    );
    task(
        "PO.4.1",
        "PO",
        "Define criteria for software security checks",
        e.scan
            .iter()
            .map(|s| {
                format!(
                    "the release gate refuses findings at or above {}",
                    s.fail_on
                )
            })
            .collect(),
        None,
    );
    task(
        "PO.5.1",
        "PO",
        "Separate and protect each environment involved in development",
        if e.keys.separate_duties {
            vec!["the release, log and TUF keys are distinct".to_owned()]
        } else {
            Vec::new()
        },
        Some("network separation and access control of the supplier's environments"),
    );
    task(
        "PS.1.1",
        "PS",
        "Store all forms of code with least privilege, integrity and provenance",
        e.source
            .iter()
            .map(|s| format!("built from {} at commit {}", s.repository, s.commit))
            .collect(),
        Some("who may write to the source repository"),
    );
    task(
        "PS.2.1",
        "PS",
        "Make software integrity verification information available to acquirers",
        {
            let mut v = vec![signed];
            if in_tuf > 0 {
                v.push(format!(
                    "{in_tuf} of {n} artifact(s) are TUF targets whose hashes match"
                ));
            }
            v
        },
        None,
    );
    task(
        "PS.3.1",
        "PS",
        "Securely archive each release's files and supporting data",
        if logged > 0 {
            vec![format!(
                "{logged} of {n} artifact bundle(s) are recorded in transparency log {}{}",
                e.log.as_ref().map_or("", |l| l.origin.as_str()),
                e.log
                    .as_ref()
                    .map_or(String::new(), |l| format!(" (size {})", l.size))
            )]
        } else {
            Vec::new()
        },
        None,
    );
    task(
        "PS.3.2",
        "PS",
        "Collect, safeguard and share provenance data for all components",
        {
            let mut v = Vec::new();
            if let Some(s) = &e.sbom {
                v.push(format!(
                    "an SBOM of {} component(s) ({})",
                    s.components,
                    s.formats.join(", ")
                ));
            }
            if e.source.is_some() {
                v.push("signed SLSA provenance for every artifact".to_owned());
            }
            v
        },
        e.sbom.is_none().then_some("an SBOM for the release"),
    );
    task(
        "PW.4.4",
        "PW",
        "Verify that acquired components are free of known vulnerabilities",
        e.scan
            .iter()
            .filter(|s| s.scanned)
            .map(|s| {
                format!(
                    "the SBOM was scanned against {} before release: {} finding(s), {} \
                     covered by VEX",
                    if s.sources.is_empty() {
                        "the advisory database".to_owned()
                    } else {
                        s.sources.join(", ")
                    },
                    s.findings,
                    s.suppressed
                )
            })
            .collect(),
        None,
    );
    task(
        "PW.6.2",
        "PW",
        "Use compiler, interpreter and build settings that improve security",
        e.reproducibility
            .iter()
            .map(|r| {
                format!(
                    "an independent rebuild on {} {} the released bytes",
                    r.checked_at,
                    if r.reproduced {
                        "reproduced"
                    } else {
                        "did NOT reproduce"
                    }
                )
            })
            .collect(),
        Some("the build settings themselves"),
    );
    task(
        "PW.7.1",
        "PW",
        "Review and analyse human-readable code for vulnerabilities",
        e.approval
            .iter()
            .filter(|a| a.verified)
            .map(|a| a.detail.clone())
            .collect(),
        Some("the supplier's code review records"),
    );
    task(
        "RV.1.1",
        "RV",
        "Gather information about potential vulnerabilities in released software",
        e.sbom
            .iter()
            .map(|_| {
                "the release is in the catalog the monitor re-scans as advisories arrive".to_owned()
            })
            .collect(),
        None,
    );
    task(
        "RV.2.1",
        "RV",
        "Analyse each vulnerability to gather information to plan its remediation",
        if e.vex_documents > 0 {
            vec![format!(
                "{} OpenVEX document(s) published with the release",
                e.vex_documents
            )]
        } else {
            Vec::new()
        },
        Some("analyses not published as VEX"),
    );
    task(
        "RV.1.3",
        "RV",
        "Have a policy for disclosing and remediating vulnerabilities",
        Vec::new(),
        Some("the supplier's vulnerability disclosure policy"),
    );
    out
}

/// The CISA Secure Software Development Attestation Form, prefilled from the evidence.
fn attestation_form(e: &Evidence) -> Vec<FormItem> {
    let known = |section, item, answer: String| FormItem {
        section,
        item,
        answer,
        known: true,
    };
    let unknown = |section, item, what: &str| FormItem {
        section,
        item,
        answer: format!("custody cannot know this: {what}"),
        known: false,
    };
    let mut out = vec![
        known(
            "Section I",
            "Software covered by this attestation",
            format!("{} version {}", e.product, e.version),
        ),
        unknown(
            "Section II",
            "Software producer (name, address, contact)",
            "the supplier fills it in",
        ),
        unknown(
            "Section III (1a)",
            "Development environments separated and access-controlled",
            "the supplier's access controls",
        ),
        unknown(
            "Section III (1b)",
            "Multi-factor authentication and conditional access across the environments",
            "the supplier's identity provider",
        ),
        known(
            "Section III (1d)",
            "Encryption and protection of sensitive data (signing keys)",
            format!(
                "release key {} ({}), log key {}",
                protection(e.keys.release_key_protection),
                if e.keys.separate_duties {
                    "separate duties"
                } else {
                    "SHARED with another duty"
                },
                protection(e.keys.log_key_protection)
            ),
        ),
    ];
    out.push(match &e.sbom {
        Some(s) => known(
            "Section III (2)",
            "A good-faith effort to maintain trusted source code supply chains",
            format!(
                "{} third-party component(s) inventoried{}",
                s.components,
                e.scan
                    .as_ref()
                    .filter(|s| s.scanned)
                    .map_or(String::new(), |s| format!(
                        " and scanned before release ({} finding(s))",
                        s.findings
                    ))
            ),
        ),
        None => unknown(
            "Section III (2)",
            "A good-faith effort to maintain trusted source code supply chains",
            "the release has no SBOM",
        ),
    });
    out.push(known(
        "Section III (3)",
        "Provenance data maintained for internal code and third-party components",
        match &e.source {
            Some(s) => format!(
                "SLSA provenance: {} at {} ({}), built by {}{}",
                s.repository,
                s.commit,
                s.git_ref,
                s.builder,
                if e.sbom.is_some() {
                    "; SBOM published"
                } else {
                    ""
                }
            ),
            None => "no verified provenance".to_owned(),
        },
    ));
    out.push(match &e.scan {
        Some(s) if s.scanned => known(
            "Section III (4)",
            "Automated tools and processes that check for security vulnerabilities",
            format!(
                "release gate at {}; monitor re-scans released SBOMs; {} finding(s) at release",
                s.fail_on, s.findings
            ),
        ),
        _ => unknown(
            "Section III (4)",
            "Automated tools and processes that check for security vulnerabilities",
            "the release was not scanned",
        ),
    });
    out.push(unknown(
        "Section III",
        "Signature of the CEO or a designee",
        "a person signs the form",
    ));
    out
}

fn protection(p: Protection) -> &'static str {
    match p {
        Protection::Token => "in a PKCS#11 token",
        Protection::Encrypted => "encrypted at rest",
        Protection::Unencrypted => "UNENCRYPTED",
    }
}

/// The guide's threats to a release pipeline, each with the control that stops it here.
fn threats(e: &Evidence) -> Vec<Threat> {
    let clean = e.source.as_ref().and_then(|s| s.tree_clean);
    let witnessed = e.log.as_ref().is_some_and(|l| {
        l.witnesses_required
            .is_some_and(|w| w > 0 && l.cosignatures >= w)
    });
    vec![
        Threat {
            threat: "Injected code",
            control: "Provenance binds the release to one commit of the source repository, \
                      built from a clean tree; M-of-N approval where the policy asks it",
            on: clean == Some(true),
            evidence: match (&e.source, clean) {
                (Some(s), Some(true)) => {
                    format!("built from {} at {}, tree clean", s.repository, s.commit)
                }
                (Some(s), _) => format!(
                    "built from {} at {}, tree NOT clean",
                    s.repository, s.commit
                ),
                (None, _) => "no verified provenance".to_owned(),
            },
        },
        Threat {
            threat: "Vulnerable third-party code",
            control: "SBOM, release gate, continuous monitoring, VEX",
            on: e.scan.as_ref().is_some_and(|s| s.scanned),
            evidence: match (&e.sbom, &e.scan) {
                (Some(b), Some(s)) if s.scanned => format!(
                    "{} component(s) scanned at release, {} finding(s), gate at {}",
                    b.components, s.findings, s.fail_on
                ),
                (Some(b), _) => format!("{} component(s), not scanned", b.components),
                _ => "no SBOM".to_owned(),
            },
        },
        Threat {
            threat: "An exploited build",
            control: "An independent rebuild must give the same bytes",
            on: e.reproducibility.as_ref().is_some_and(|r| r.reproduced),
            evidence: e.reproducibility.as_ref().map_or_else(
                || "no reproducibility check (custody rebuild-check)".to_owned(),
                |r| {
                    format!(
                        "{} on {} ({})",
                        if r.reproduced {
                            "reproduced"
                        } else {
                            "NOT reproduced"
                        },
                        r.checked_at,
                        r.attestation
                    )
                },
            ),
        },
        Threat {
            threat: "A compromised signing server",
            control: "Keys in hardware, separate duties, a witnessed transparency log, key \
                      revocation",
            on: e.keys.separate_duties && witnessed,
            evidence: format!(
                "release key {}, {}; log {}",
                protection(e.keys.release_key_protection),
                if e.keys.separate_duties {
                    "separate duties"
                } else {
                    "duties SHARED"
                },
                e.log.as_ref().map_or_else(
                    || "not readable".to_owned(),
                    |l| format!(
                        "checkpoint of size {} with {} cosignature(s){}",
                        l.size,
                        l.cosignatures,
                        l.witnesses_required
                            .map_or(", witnesses not required".to_owned(), |w| format!(
                                ", {w} required"
                            ))
                    )
                )
            ),
        },
        Threat {
            threat: "An update modified in delivery",
            control: "Signatures customers verify offline; TUF targets",
            on: e.verified && count_tuf(e) == e.artifacts.len(),
            evidence: format!(
                "{} of {} artifact(s) verify now; {} are TUF targets",
                e.artifacts.iter().filter(|a| a.verified).count(),
                e.artifacts.len(),
                count_tuf(e)
            ),
        },
        Threat {
            threat: "A rollback to an older vulnerable version",
            control: "TUF's versioned, expiring metadata and custody update's downgrade refusal",
            on: count_tuf(e) > 0,
            evidence: if count_tuf(e) > 0 {
                "the release is delivered through the site's TUF repository".to_owned()
            } else {
                "the site has no TUF repository listing it".to_owned()
            },
        },
    ]
}

/// Gathers the evidence, signs it as one in-toto Statement about the release's artifacts,
/// logs it, and writes it with its OSCAL export into `out`.
pub fn write(
    loaded: &Loaded,
    (product, version): (&str, &str),
    out: &Path,
    keys: &dyn KeySource,
    clock: &dyn Clock,
    transport: &Arc<dyn Transport>,
    events: &dyn Events,
) -> Result<Written, Error> {
    let evidence = gather(loaded, product, version, keys, clock, transport)?;
    let subjects: Vec<Artifact> = evidence
        .artifacts
        .iter()
        .map(|a| Artifact {
            name: a.name.clone(),
            digests: Digests {
                size: a.size,
                sha256: Sha256Digest::from_hex(&a.sha256).ok(),
                sha512: Sha512Digest::from_hex(&a.sha512).ok(),
            },
        })
        .collect();
    let value = serde_json::to_value(&evidence).map_err(|source| Error::Serialise {
        what: "the evidence",
        source,
    })?;
    let signer = crate::keys::unlock_one(keys, &loaded.key_path())?;
    let _writer = crate::sequence::writer(loaded, events)?;
    let json_path = out.join("evidence.json");
    let bundle_path = crate::log::SignedDocument {
        path: &json_path,
        subjects: &subjects,
        predicate_type: EVIDENCE_PREDICATE,
        predicate: &value,
    }
    .publish(loaded, &signer, (keys, transport), events, clock.now())?;
    let catalog_path = out.join(CATALOG_FILE);
    write_atomic(
        &catalog_path,
        pretty(&oscal_catalog(&evidence)?)?.as_bytes(),
    )?;
    let oscal_path = out.join("oscal-assessment-results.json");
    write_atomic(
        &oscal_path,
        pretty(&oscal_assessment_results(&evidence)?)?.as_bytes(),
    )?;
    Ok(Written {
        evidence,
        bundle: bundle_path,
        json: json_path,
        oscal: oscal_path,
        catalog: catalog_path,
    })
}

fn pretty(value: &serde_json::Value) -> Result<String, Error> {
    serde_json::to_string_pretty(value).map_err(|source| Error::Serialise {
        what: "the evidence",
        source,
    })
}

/// A random version-4 UUID, as OSCAL requires of every identifier it assigns.
fn uuid() -> Result<String, Error> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|_| Error::Randomness)?;
    Ok(custody_crypto::uuid_string(b, 4))
}

fn control_id(id: &str) -> String {
    id.to_lowercase()
}

fn form_control_id(item: &FormItem, i: usize) -> String {
    format!(
        "cisa-{i}-{}",
        item.section
            .split_whitespace()
            .next()
            .map_or("s", |_| "item")
    )
}

fn metadata(title: String, now: jiff::Timestamp) -> serde_json::Value {
    serde_json::json!({
        "title": title,
        "last-modified": now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "version": env!("CARGO_PKG_VERSION"),
        "oscal-version": OSCAL_VERSION,
    })
}

/// An OSCAL catalog of the SSDF tasks and the attestation form's items custody maps.
pub fn oscal_catalog(e: &Evidence) -> Result<serde_json::Value, Error> {
    let mut groups = Vec::new();
    for (group, title) in [
        ("PO", "Prepare the Organization"),
        ("PS", "Protect the Software"),
        ("PW", "Produce Well-Secured Software"),
        ("RV", "Respond to Vulnerabilities"),
    ] {
        let controls: Vec<serde_json::Value> = e
            .ssdf
            .iter()
            .filter(|p| p.group == group)
            .map(|p| serde_json::json!({"id": control_id(p.id), "title": format!("{} {}", p.id, p.task)}))
            .collect();
        groups.push(serde_json::json!({
            "id": format!("ssdf-{}", group.to_lowercase()),
            "title": format!("SSDF {group}: {title}"),
            "controls": controls,
        }));
    }
    let form: Vec<serde_json::Value> = e
        .attestation_form
        .iter()
        .enumerate()
        .map(|(i, f)| serde_json::json!({"id": form_control_id(f, i), "title": format!("{}: {}", f.section, f.item)}))
        .collect();
    groups.push(serde_json::json!({
        "id": "cisa-form",
        "title": "CISA Secure Software Development Attestation Form",
        "controls": form,
    }));
    Ok(serde_json::json!({
        "catalog": {
            "uuid": uuid()?,
            "metadata": metadata(
                "NIST SP 800-218 SSDF tasks and CISA attestation form items mapped by custody"
                    .to_owned(),
                e.generated_at,
            ),
            "groups": groups,
        }
    }))
}

/// The mapping as an OSCAL Assessment Results document: one result for the release, with an
/// observation per piece of evidence and a finding per SSDF task and form item.
pub fn oscal_assessment_results(e: &Evidence) -> Result<serde_json::Value, Error> {
    let now = e.generated_at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    let catalog_resource = uuid()?;
    let mut observations = Vec::new();
    let mut findings = Vec::new();
    let mut controls = Vec::new();
    let mut judged = |id: String,
                      title: String,
                      satisfied: bool,
                      items: &[String],
                      gap: Option<&str>|
     -> Result<(), Error> {
        let mut related = Vec::new();
        for item in items {
            let obs = uuid()?;
            observations.push(serde_json::json!({
                "uuid": obs,
                "title": title,
                "description": item,
                "methods": ["EXAMINE"],
                "collected": now,
            }));
            related.push(serde_json::json!({"observation-uuid": obs}));
        }
        let mut description = if items.is_empty() {
            "custody has no evidence for this".to_owned()
        } else {
            items.join("; ")
        };
        if let Some(gap) = gap {
            description.push_str(&format!(". Not evidenced by custody: {gap}"));
        }
        let mut finding = serde_json::json!({
            "uuid": uuid()?,
            "title": title,
            "description": description,
            "target": {
                "type": "objective-id",
                "target-id": format!("{id}_obj"),
                "status": {"state": if satisfied { "satisfied" } else { "not-satisfied" }},
            },
        });
        if !related.is_empty() {
            finding["related-observations"] = serde_json::Value::Array(related);
        }
        findings.push(finding);
        controls.push(serde_json::json!({"control-id": id}));
        Ok(())
    };
    for p in &e.ssdf {
        judged(
            control_id(p.id),
            format!("{} {}", p.id, p.task),
            p.support == Support::Evidenced,
            &p.evidence,
            p.gap,
        )?;
    }
    for (i, f) in e.attestation_form.iter().enumerate() {
        judged(
            form_control_id(f, i),
            format!("{}: {}", f.section, f.item),
            f.known,
            std::slice::from_ref(&f.answer),
            None,
        )?;
    }
    Ok(serde_json::json!({
        "assessment-results": {
            "uuid": uuid()?,
            "metadata": metadata(
                format!("Evidence for {} {}", e.product, e.version),
                e.generated_at,
            ),
            "import-ap": {"href": format!("#{catalog_resource}")},
            "results": [{
                "uuid": uuid()?,
                "title": format!("{} {}", e.product, e.version),
                "description": format!(
                    "The release's own evidence, verified by custody at {now}, mapped to NIST SP \
                     800-218 and the CISA attestation form"
                ),
                "start": now,
                "reviewed-controls": {
                    "control-selections": [{"include-controls": controls}],
                },
                "observations": observations,
                "findings": findings,
            }],
            "back-matter": {
                "resources": [{
                    "uuid": catalog_resource,
                    "title": "The catalog these controls are from",
                    "rlinks": [{"href": CATALOG_FILE}],
                }],
            },
        }
    }))
}
