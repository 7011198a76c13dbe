//! What the dashboard's pages show, one call per page: the catalog's facts, what the site's
//! signed files say (checked now, against the site's policy and trusted root), the log's
//! published tiles and the advisory database. Rendering is the server's; nothing here is HTML.

use std::collections::BTreeSet;
use std::path::Path;

use custody_attest::bundle;
use custody_attest::verify::{Expectations, Request, Status, verify};
use custody_catalog::Catalog;
pub use custody_catalog::{
    AffectedRelease, Component, ProductSummary, ReleaseFindings, StoredFinding, is_open,
};
use custody_crypto::{Digests, Sha256Digest, Sha512Digest};
use custody_site::config::Loaded;
use custody_site::site::{Site, load_policy, load_trusted_root};
use custody_vuln::osv::Advisory;
use custody_vuln::report::FailOn;
use custody_vuln::{Ecosystem, PackageRef};
use serde::Serialize;

use crate::Error;
use crate::log::{FoundEntry, LogReader};

/// How many of a product's releases its page lists and plots.
pub const PRODUCT_HISTORY: i64 = 20;

/// A product on the products page.
#[derive(Debug, Clone, Serialize)]
pub struct ProductRow {
    /// Its latest release and that release's open findings.
    #[serde(flatten)]
    pub summary: ProductSummary,
    /// How many of those open findings the release gate, as configured, would refuse today.
    pub blocking: i64,
}

/// Every product with its latest release, that release's open findings, and whether the
/// release gate (`[vulndb] fail_on`) would let it through today.
pub fn products(loaded: &Loaded, catalog: &mut Catalog) -> Result<Vec<ProductRow>, Error> {
    let fail_on = crate::gate::parse_fail_on(&loaded.config.vulndb.fail_on)?;
    let summaries = catalog.products().map_err(|e| Error::catalog(catalog, e))?;
    Ok(summaries
        .into_iter()
        .map(|summary| ProductRow {
            blocking: summary
                .open
                .iter()
                .filter(|(severity, _)| blocks(fail_on, severity))
                .map(|(_, n)| n)
                .sum(),
            summary,
        })
        .collect())
}

/// Whether the gate at `fail_on` refuses an open finding of this severity (as the catalog
/// names it): warnings never, unscored ones only when every vulnerability counts.
pub fn blocks(fail_on: FailOn, severity: &str) -> bool {
    let rank = match severity {
        "critical" => 4,
        "high" => 3,
        "medium" => 2,
        "low" => 1,
        "warning" => return false,
        _ => 0,
    };
    match fail_on {
        FailOn::Any => true,
        FailOn::Low => rank >= 1,
        FailOn::Medium => rank >= 2,
        FailOn::High => rank >= 3,
        FailOn::Critical => rank >= 4,
        FailOn::Never => false,
        // A threshold added later: shown as blocking until this learns it.
        _ => true,
    }
}

/// Components added, removed and changed from one release to the next (`custody sbom diff`).
#[derive(Debug, Clone, Serialize)]
pub struct ComponentChanges {
    /// The release.
    pub version: String,
    /// The release before it.
    pub previous: String,
    /// Components it added.
    pub added: usize,
    /// Components it removed.
    pub removed: usize,
    /// Components whose version changed.
    pub changed: usize,
}

/// A product's page.
#[derive(Debug, Clone, Serialize)]
pub struct ProductPage {
    /// The product.
    pub product: String,
    /// Its latest releases, newest first, with their open findings.
    pub releases: Vec<ReleaseFindings>,
    /// Component changes between consecutive releases listed, newest first.
    pub changes: Vec<ComponentChanges>,
}

/// A product's releases and how each changed its components.
pub fn product(catalog: &mut Catalog, product: &str) -> Result<ProductPage, Error> {
    let releases = catalog
        .release_findings(product, PRODUCT_HISTORY)
        .map_err(|e| Error::catalog(catalog, e))?;
    if releases.is_empty() {
        return Err(Error::ProductNotInCatalog {
            product: product.to_owned(),
        });
    }
    let mut sboms = Vec::with_capacity(releases.len());
    for r in &releases {
        let text = catalog
            .sbom(product, &r.version)
            .map_err(|e| Error::catalog(catalog, e))?;
        let sbom = match text {
            Some(t) => custody_sbom::parse_sbom(
                &format!("the catalog's SBOM of {product} {}", r.version),
                t.as_bytes(),
                &custody_sbom::Limits::default(),
            )
            .ok(),
            None => None,
        };
        sboms.push(sbom);
    }
    let mut changes = Vec::new();
    for (i, pair) in sboms.windows(2).enumerate() {
        if let [Some(new), Some(old)] = pair {
            let d = custody_sbom::diff(old, new);
            changes.push(ComponentChanges {
                version: releases[i].version.clone(),
                previous: releases[i + 1].version.clone(),
                added: d.added.len(),
                removed: d.removed.len(),
                changed: d.changed.len(),
            });
        }
    }
    Ok(ProductPage {
        product: product.to_owned(),
        releases,
        changes,
    })
}

/// Which of a release's components to show.
#[derive(Debug, Clone, Default)]
pub struct ComponentQuery {
    /// Part of the name or package URL, any case.
    pub text: Option<String>,
    /// The ecosystem, exactly.
    pub ecosystem: Option<String>,
    /// The licence expression, exactly; [`NO_LICENSE`] for components without one.
    pub license: Option<String>,
}

/// The licence filter's value for components whose SBOM names no licence.
pub const NO_LICENSE: &str = "(none)";

impl ComponentQuery {
    fn admits(&self, c: &Component) -> bool {
        let text = self.text.as_deref().map(str::trim).unwrap_or_default();
        let text_ok = text.is_empty() || {
            let t = text.to_lowercase();
            c.name.to_lowercase().contains(&t)
                || c.purl
                    .as_deref()
                    .is_some_and(|p| p.to_lowercase().contains(&t))
        };
        let eco_ok = self
            .ecosystem
            .as_deref()
            .is_none_or(|e| e.is_empty() || e == c.ecosystem);
        let license_ok = self
            .license
            .as_deref()
            .is_none_or(|l| l.is_empty() || l == c.license.as_deref().unwrap_or(NO_LICENSE));
        text_ok && eco_ok && license_ok
    }
}

/// How a log entry's inclusion fared when the page checked it against the published tiles.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum InclusionCheck {
    /// The published log holds the entry and its signed checkpoint commits to it.
    Proved {
        /// The size of the checkpoint it was proved against.
        size: u64,
    },
    /// The published log contradicts the bundle.
    Failed {
        /// Why.
        reason: String,
    },
    /// The log could not be read.
    Unavailable {
        /// Why.
        reason: String,
    },
}

/// Where an artifact's signature is in the transparency log.
#[derive(Debug, Clone, Serialize)]
pub struct Inclusion {
    /// The entry's index.
    pub index: u64,
    /// The size of the checkpoint the bundle carries a proof against.
    pub bundle_size: Option<u64>,
    /// The check against the tiles as published now.
    pub check: InclusionCheck,
}

/// Whether an artifact is a TUF target.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum TargetState {
    /// Listed, by this role; `matches` when its hashes are the release's.
    Listed {
        /// The targets role that lists it.
        role: String,
        /// Whether the listed SHA-256 is the artifact's.
        matches: bool,
    },
    /// The repository does not list it.
    NotListed,
    /// The site has no TUF repository.
    NoRepository,
}

/// One check of `custody verify`, as the page lists it.
#[derive(Debug, Clone, Serialize)]
pub struct CheckLine {
    /// Its name.
    pub name: &'static str,
    /// `pass`, `fail` or `skipped`.
    pub status: &'static str,
    /// What it established, or why not.
    pub detail: String,
}

/// One artifact of a release.
#[derive(Debug, Clone, Serialize)]
pub struct ArtifactFacts {
    /// Its file name.
    pub name: String,
    /// Its size in bytes, when the file is on the site.
    pub size: u64,
    /// SHA-256, as the signed manifest names it.
    pub sha256: String,
    /// SHA-512, as the signed manifest names it.
    pub sha512: String,
    /// Whether every check of `custody verify` passed, run now over its bundle.
    pub verified: bool,
    /// Each check.
    pub checks: Vec<CheckLine>,
    /// What the verified statements say (signer key, source, builder).
    pub release: custody_attest::verify::Release,
    /// Its log entry.
    pub log: Option<Inclusion>,
    /// Its TUF target.
    pub tuf: TargetState,
}

/// A customer notice on the site.
#[derive(Debug, Clone, Serialize)]
pub struct NoticeRef {
    /// Its path on the site (`advisories/...json`).
    pub path: String,
    /// The product.
    pub product: String,
    /// The version.
    pub version: String,
    /// When it was issued.
    pub issued: String,
    /// The findings it announced.
    pub ids: Vec<String>,
}

/// A release's page.
#[derive(Debug, Clone, Serialize)]
pub struct ReleasePage {
    /// The product.
    pub product: String,
    /// The version.
    pub version: String,
    /// When it was catalogued.
    pub added: String,
    /// Its artifacts, each verified now.
    pub artifacts: Vec<ArtifactFacts>,
    /// The components the query admits.
    pub components: Vec<Component>,
    /// How many components the release has in all.
    pub total_components: usize,
    /// Every ecosystem among its components, for the filter.
    pub ecosystems: Vec<String>,
    /// Every licence among its components ([`NO_LICENSE`] for none), for the filter.
    pub licenses: Vec<String>,
    /// Its findings, open and covered by VEX.
    pub findings: Vec<StoredFinding>,
    /// The notices sent for it, newest first.
    pub notices: Vec<NoticeRef>,
}

/// Everything a release's page shows. The artifacts' digests are those of the signed manifest;
/// each artifact's bundle is verified against them, the site's policy and trusted root at
/// `now`, and its log entry against the tiles as published.
pub fn release(
    loaded: &Loaded,
    catalog: &mut Catalog,
    product: &str,
    version: &str,
    query: &ComponentQuery,
    now: jiff::Timestamp,
) -> Result<ReleasePage, Error> {
    let listed = catalog
        .release(product, version)
        .map_err(|e| Error::catalog(catalog, e))?
        .ok_or_else(|| Error::ReleaseNotInCatalog {
            product: product.to_owned(),
            version: version.to_owned(),
        })?;
    let all = catalog
        .components(product, version)
        .map_err(|e| Error::catalog(catalog, e))?;
    let findings = catalog
        .findings(product, version)
        .map_err(|e| Error::catalog(catalog, e))?;
    let ecosystems: BTreeSet<String> = all.iter().map(|c| c.ecosystem.clone()).collect();
    let licenses: BTreeSet<String> = all
        .iter()
        .map(|c| c.license.clone().unwrap_or_else(|| NO_LICENSE.to_owned()))
        .collect();
    let total_components = all.len();
    let components = all.into_iter().filter(|c| query.admits(c)).collect();
    let notices = notices(loaded)?
        .into_iter()
        .filter(|n| n.product == product && n.version == version)
        .collect();
    Ok(ReleasePage {
        product: product.to_owned(),
        version: version.to_owned(),
        added: listed.added,
        artifacts: artifacts(loaded, product, version, now)?,
        components,
        total_components,
        ecosystems: ecosystems.into_iter().collect(),
        licenses: licenses.into_iter().collect(),
        findings,
        notices,
    })
}

/// Each artifact of a published release, verified now as `custody verify` would, with its log
/// entry checked against the published tiles and its TUF target looked up.
pub(crate) fn artifacts(
    loaded: &Loaded,
    product: &str,
    version: &str,
    now: jiff::Timestamp,
) -> Result<Vec<ArtifactFacts>, Error> {
    let site = Site::new(loaded.site_dir());
    let published =
        custody_site::site::published_release(&site, product, version).map_err(Error::input)?;
    let policy = load_policy(&site.policy_path()).map_err(Error::input)?;
    let trusted_root = load_trusted_root(&site.trusted_root_path()).map_err(Error::input)?;
    let manifest = std::fs::read(published.dir.join(custody_site::site::MANIFEST_FILE)).ok();
    let approvals = custody_site::fs::read_bounded(
        &published.dir.join(custody_attest::approval::APPROVALS_FILE),
        custody_attest::approval::MAX_APPROVALS_BYTES as u64,
        "approvals",
    )
    .ok();
    let log = LogReader::open(loaded).map_err(|e| e.to_string());
    let repo = custody_site::tuf::exists(&loaded.tuf_dir())
        .then(|| crate::repo::open(loaded).ok())
        .flatten();
    let expect = Expectations {
        product: Some(product.to_owned()),
        version: Some(version.to_owned()),
        source_ref: None,
    };
    let mut out = Vec::with_capacity(published.artifacts.len());
    for a in &published.artifacts {
        let digests = Digests {
            size: a.size,
            sha256: Sha256Digest::from_hex(&a.sha256).ok(),
            sha512: Sha512Digest::from_hex(&a.sha512).ok(),
        };
        let bundle_bytes = custody_site::fs::read_bounded(
            &a.bundle,
            bundle::MAX_BUNDLE_BYTES as u64,
            "artifact bundle",
        )
        .map_err(Error::input)?;
        let report = verify(&Request {
            artifact: &digests,
            bundle: &bundle_bytes,
            manifest: manifest.as_deref(),
            approvals: approvals.as_deref(),
            policy: &policy,
            trusted_root: &trusted_root,
            expect: &expect,
            now,
        });
        let tuf = match &repo {
            None => TargetState::NoRepository,
            Some(repo) => match repo.find_target(&format!("{product}/{version}/{}", a.name)) {
                Some((role, file)) => TargetState::Listed {
                    role: role.to_owned(),
                    matches: file.hashes.get("sha256") == Some(&a.sha256),
                },
                None => TargetState::NotListed,
            },
        };
        out.push(ArtifactFacts {
            name: a.name.clone(),
            size: a.size,
            sha256: a.sha256.clone(),
            sha512: a.sha512.clone(),
            verified: report.verified,
            checks: report
                .checks
                .iter()
                .map(|c| CheckLine {
                    name: c.name.as_str(),
                    status: match c.status {
                        Status::Pass => "pass",
                        Status::Fail => "fail",
                        Status::Skipped => "skipped",
                    },
                    detail: c.detail.clone(),
                })
                .collect(),
            release: report.release,
            log: inclusion(&bundle_bytes, log.as_ref()),
            tuf,
        });
    }
    Ok(out)
}

/// The bundle's log entry, checked against the log as published.
fn inclusion(bundle_bytes: &[u8], log: Result<&LogReader, &String>) -> Option<Inclusion> {
    let signed = bundle::parse(bundle_bytes).ok()?;
    let entry = signed.tlog_entries.first()?;
    let index: u64 = entry.log_index.parse().ok()?;
    let bundle_size = entry
        .inclusion_proof
        .as_ref()
        .and_then(|p| p.tree_size.parse().ok());
    let check = match log {
        Err(reason) => InclusionCheck::Unavailable {
            reason: reason.clone(),
        },
        Ok(log) => match log.check_recorded(index, &signed) {
            Ok(()) => InclusionCheck::Proved {
                size: log.checkpoint().checkpoint.size,
            },
            Err(e) => InclusionCheck::Failed {
                reason: e.to_string(),
            },
        },
    };
    Some(Inclusion {
        index,
        bundle_size,
        check,
    })
}

/// The largest notice read: notices are a few kilobytes.
const MAX_NOTICE: u64 = 4 << 20;

/// Every customer notice on the site, newest first. A file that is not a notice is skipped.
pub fn notices(loaded: &Loaded) -> Result<Vec<NoticeRef>, Error> {
    #[derive(serde::Deserialize)]
    struct Notice {
        product: String,
        version: String,
        issued: String,
        #[serde(default)]
        findings: Vec<Finding>,
    }
    #[derive(serde::Deserialize)]
    struct Finding {
        id: String,
    }
    let site = loaded.site_dir();
    let mut out = Vec::new();
    for path in crate::log::site_documents(&site.join("advisories"))? {
        let Ok(bytes) = custody_site::fs::read_bounded(&path, MAX_NOTICE, "notice") else {
            continue;
        };
        let Ok(n) = serde_json::from_slice::<Notice>(&bytes) else {
            continue;
        };
        out.push(NoticeRef {
            path: relative(&site, &path),
            product: n.product,
            version: n.version,
            issued: n.issued,
            ids: n.findings.into_iter().map(|f| f.id).collect(),
        });
    }
    out.sort_by(|a, b| b.issued.cmp(&a.issued).then_with(|| b.path.cmp(&a.path)));
    Ok(out)
}

fn relative(site: &Path, path: &Path) -> String {
    path.strip_prefix(site)
        .unwrap_or(path)
        .to_string_lossy()
        .into_owned()
}

/// A VEX statement about an advisory.
#[derive(Debug, Clone, Serialize)]
pub struct VexCover {
    /// The document's `@id`.
    pub document: String,
    /// Its author.
    pub author: String,
    /// The products it is about.
    pub products: Vec<String>,
    /// Its status.
    pub status: String,
    /// Its justification, for `not_affected`.
    pub justification: Option<String>,
    /// Its impact or action statement.
    pub statement: Option<String>,
}

/// An advisory's page.
#[derive(Debug, Clone, Serialize)]
pub struct AdvisoryPage {
    /// The id asked for.
    pub id: String,
    /// The advisory as the database holds it, when it still does.
    pub advisory: Option<Advisory>,
    /// The shipped releases it affects.
    pub affected: Vec<AffectedRelease>,
    /// The project's VEX statements about it.
    pub vex: Vec<VexCover>,
    /// The notices that announced it.
    pub notices: Vec<NoticeRef>,
}

/// What an advisory affects, what the supplier said of it, and what customers were told.
/// Unknown to both the catalog and the advisory database: [`Error::AdvisoryNotFound`].
pub fn advisory(loaded: &Loaded, catalog: &mut Catalog, id: &str) -> Result<AdvisoryPage, Error> {
    let affected = catalog
        .affected_by(id)
        .map_err(|e| Error::catalog(catalog, e))?;
    let packages = catalog
        .advisory_packages(id)
        .map_err(|e| Error::catalog(catalog, e))?;
    let advisory = match packages {
        Some(packages) if !packages.is_empty() => {
            let refs: Vec<PackageRef> = packages
                .iter()
                .map(|(e, name)| PackageRef::new(Ecosystem::parse(e), name.clone(), ""))
                .collect();
            let (index, _) = crate::advisories::index_for(&loaded.vulndb_dir(), &refs)?;
            index.get(id).cloned()
        }
        _ => None,
    };
    if advisory.is_none() && affected.is_empty() {
        return Err(Error::AdvisoryNotFound { id: id.to_owned() });
    }
    let names: BTreeSet<&str> = std::iter::once(id)
        .chain(
            advisory
                .iter()
                .flat_map(|a| a.aliases.iter().map(String::as_str)),
        )
        .collect();
    let mut vex = Vec::new();
    for (_, doc) in crate::inputs::vex_documents(&loaded.vex_dir())? {
        for s in &doc.statements {
            let about = names.contains(s.vulnerability.name.as_str())
                || s.vulnerability
                    .aliases
                    .iter()
                    .any(|a| names.contains(a.as_str()));
            if about {
                vex.push(VexCover {
                    document: doc.id.clone(),
                    author: doc.author.clone(),
                    products: s.products.iter().map(|p| p.id.clone()).collect(),
                    status: s.status.to_string(),
                    justification: s.justification.map(|j| j.to_string()),
                    statement: s
                        .impact_statement
                        .clone()
                        .or_else(|| s.action_statement.clone()),
                });
            }
        }
    }
    let notices = notices(loaded)?
        .into_iter()
        .filter(|n| n.ids.iter().any(|i| names.contains(i.as_str())))
        .collect();
    Ok(AdvisoryPage {
        id: id.to_owned(),
        advisory,
        affected,
        vex,
        notices,
    })
}

/// A signature on the log's checkpoint.
#[derive(Debug, Clone, Serialize)]
pub struct Cosignature {
    /// The signer's key name.
    pub name: String,
    /// Its key id, hex.
    pub key_id: String,
    /// `log`, `witness` (a configured witness whose signature verified) or `unknown`.
    pub signer: &'static str,
}

/// The log's page.
#[derive(Debug, Clone, Serialize)]
pub struct LogPage {
    /// The log's origin.
    pub origin: String,
    /// Its size.
    pub size: u64,
    /// Its root hash, base64.
    pub root: String,
    /// The signatures on the checkpoint: the log's and its witnesses'.
    pub signatures: Vec<Cosignature>,
    /// The configured witnesses.
    pub witnesses: Vec<String>,
    /// The entries found for the digest looked up.
    pub found: Option<(String, Vec<FoundEntry>)>,
}

/// The log's checkpoint as published, verified, with who signed it; and the entries recorded
/// for `lookup`, a digest, when one is given.
pub fn log(loaded: &Loaded, lookup: Option<&str>) -> Result<LogPage, Error> {
    let reader = LogReader::open(loaded)?;
    let signed = reader.checkpoint();
    let mut verifiers = Vec::new();
    for w in &loaded.config.log.witnesses {
        verifiers.push(crate::log::parse_vkey(
            &w.vkey,
            &format!("witness {} in custody.toml", w.name),
        )?);
    }
    // A witness's signature counts only if it verifies.
    let verified: Vec<(String, String)> = signed
        .note
        .verify_known(&verifiers)
        .map(|v| {
            v.into_iter()
                .map(|s| (s.name, s.key_id.to_string()))
                .collect()
        })
        .unwrap_or_default();
    let signatures = signed
        .note
        .signatures()
        .iter()
        .map(|s| {
            let key_id = s.key_id.to_string();
            let signer = if s.name == loaded.config.log.origin {
                "log"
            } else if verified.iter().any(|(n, k)| n == &s.name && k == &key_id) {
                "witness"
            } else {
                "unknown"
            };
            Cosignature {
                name: s.name.clone(),
                key_id,
                signer,
            }
        })
        .collect();
    let found = match lookup.map(str::trim).filter(|d| !d.is_empty()) {
        Some(digest) => Some((digest.to_owned(), crate::log::entries_for(loaded, digest)?)),
        None => None,
    };
    Ok(LogPage {
        origin: signed.checkpoint.origin.clone(),
        size: signed.checkpoint.size,
        root: signed.checkpoint.root.to_base64(),
        signatures,
        witnesses: loaded
            .config
            .log
            .witnesses
            .iter()
            .map(|w| w.name.clone())
            .collect(),
        found,
    })
}
