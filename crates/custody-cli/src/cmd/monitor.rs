//! `custody monitor`: re-scan every shipped release after `custody db import`, and tell
//! customers about what is new.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, anyhow};
use custody_attest::bundle;
use custody_attest::release::{Artifact, attest_document};
use custody_catalog::{Catalog, MonitorOptions, NewRelease, ReleaseNews};
use custody_crypto::{Algorithms, digest_files};
use custody_site::config::{Loaded, WebhookConfig};
use custody_site::fs::write_atomic;
use custody_site::site::Published;
use custody_vuln::report;
use custody_vuln::vex::{Assessed, Document};
use hmac::{KeyInit, Mac};
use serde::Serialize;

use crate::cmd::db::{DbLocation, existing_sources};
use crate::output::{CmdResult, Output, usage};

/// The in-toto predicate type of a customer notice.
pub const NOTICE_PREDICATE: &str = "https://custody.dev/notice/v1";
/// The header carrying a webhook body's HMAC-SHA256, as `sha256=<hex>`.
pub const SIGNATURE_HEADER: &str = "X-Custody-Signature";

/// Re-scan every shipped release and report only what is new.
///
/// Every release made with `custody release --sbom` is in the catalog (`[monitor] catalog`,
/// SQLite); older ones are added with --add-release DIR or --add-site. After a `custody db
/// import`, a run compares each advisory's content hash with the last run's (never its
/// `modified` date) and re-matches only the packages a changed advisory names, in the releases
/// that contain them. Findings the release did not have before are new. For each release with
/// new findings that no VEX statement for the product suppresses, a customer notice is written
/// to site/advisories/ and signed with the release key, and each `[[monitor.webhooks]]` gets a
/// JSON event signed with HMAC-SHA256 (header `X-Custody-Signature: sha256=<hex>`).
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  custody db import ../advisories/crates.io && custody monitor
  custody monitor --add-release site/releases/app/1.4.2
  custody monitor --add-site        # every release on the site not yet in the catalog")]
pub struct Args {
    /// Add a published release directory (site/releases/<product>/<version>) to the catalog
    /// first (repeatable). It needs the sbom.cdx.json that `custody release --sbom` publishes.
    #[arg(long, value_name = "DIR")]
    add_release: Vec<PathBuf>,
    /// Add every release under the site's releases/ that is not in the catalog yet.
    #[arg(long)]
    add_site: bool,
    /// Project directory (where custody.toml lives).
    #[arg(long, default_value = ".")]
    dir: PathBuf,
    /// Accept an unencrypted signing key file.
    #[arg(long)]
    insecure_unencrypted_key: bool,
    #[command(flatten)]
    location: DbLocation,
}

/// Files a release directory holds besides its artifacts.
fn is_attachment(name: &str) -> bool {
    name.ends_with(".sigstore.json")
        || name.ends_with(".openvex.json")
        || matches!(
            name,
            "manifest.json"
                | "sbom.cdx.json"
                | "sbom.spdx.json"
                | "scan.json"
                | "vex.cdx.json"
                | "provenance.sigstore.json"
        )
}

/// Adds a freshly published release to the catalog, with the gate's findings as already known.
pub fn catalog_release(
    loaded: &Loaded,
    published: &Published,
    sbom: &custody_sbom::Sbom,
    known: &[Assessed],
) -> anyhow::Result<()> {
    let mut catalog = Catalog::open(&loaded.catalog_path())?;
    let (packages, _) = crate::cmd::scan::packages(sbom);
    let sbom_json = std::fs::read_to_string(published.dir.join("sbom.cdx.json")).ok();
    let artifacts: Vec<String> = published.artifacts.iter().map(|a| a.name.clone()).collect();
    catalog.add_release(
        &NewRelease {
            product: &published.product,
            version: &published.version,
            dir: &published.dir,
            sbom: sbom_json.as_deref(),
            artifacts: &artifacts,
            packages: &packages,
            known,
        },
        &jiff::Timestamp::now().to_string(),
    )?;
    Ok(())
}

/// Adds a release directory from the site; `false` when it is already in the catalog.
fn add_release_dir(catalog: &mut Catalog, dir: &Path, now: &str) -> anyhow::Result<bool> {
    let full = dir
        .canonicalize()
        .with_context(|| format!("release directory {}", dir.display()))?;
    let name = |p: Option<&Path>| -> Option<String> { p?.file_name()?.to_str().map(str::to_owned) };
    let (Some(version), Some(product)) = (name(Some(&full)), name(full.parent())) else {
        return Err(anyhow!(
            "{}: not a release directory (site/releases/<product>/<version>)",
            dir.display()
        ));
    };
    if catalog.contains(&product, &version)? {
        return Ok(false);
    }
    let sbom_path = full.join("sbom.cdx.json");
    if !sbom_path.is_file() {
        return Err(anyhow!(
            "{}: no sbom.cdx.json (released without --sbom), so there is nothing to monitor",
            dir.display()
        ));
    }
    let sbom = crate::cmd::sbom::read(&sbom_path)?;
    let (packages, _) = crate::cmd::scan::packages(&sbom);
    let mut artifacts: Vec<String> = std::fs::read_dir(&full)
        .with_context(|| full.display().to_string())?
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .filter(|n| !is_attachment(n) && full.join(format!("{n}.sigstore.json")).is_file())
        .collect();
    artifacts.sort();
    let sbom_json = std::fs::read_to_string(&sbom_path).ok();
    Ok(catalog.add_release(
        &NewRelease {
            product: &product,
            version: &version,
            dir: &full,
            sbom: sbom_json.as_deref(),
            artifacts: &artifacts,
            packages: &packages,
            known: &[],
        },
        now,
    )?)
}

/// Every OpenVEX document in `dir`; one that does not read is an error, as in the release gate.
fn all_vex(dir: &Path) -> anyhow::Result<Vec<Document>> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(Vec::new());
    };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().and_then(|e| e.to_str()) == Some("json"))
        .collect();
    files.sort();
    files.iter().map(|p| crate::cmd::vex::read(p)).collect()
}

#[derive(Debug, Serialize)]
struct NoticeFinding<'a> {
    id: &'a str,
    aliases: &'a [String],
    package: &'a str,
    version: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    purl: Option<&'a str>,
    kind: &'static str,
    severity: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    score: Option<f64>,
    /// The smallest version that fixes it, if known.
    #[serde(skip_serializing_if = "Option::is_none")]
    fixed_version: Option<&'a str>,
    fixed: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    summary: Option<&'a str>,
    /// The supplier's VEX status for the product (`affected`, `under_investigation`), or none.
    vex_status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    vex_statement: Option<&'a str>,
    /// When the advisory, in this content, was first seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    advisory_first_seen: Option<&'a str>,
}

/// The customer notice (`https://custody.dev/notice/v1`).
#[derive(Debug, Serialize)]
struct Notice<'a> {
    product: &'a str,
    version: &'a str,
    issued: &'a str,
    release: String,
    findings: Vec<NoticeFinding<'a>>,
}

fn notice<'a>(news: &'a ReleaseNews, now: &'a str) -> Notice<'a> {
    Notice {
        product: &news.release.product,
        version: &news.release.version,
        issued: now,
        release: format!(
            "releases/{}/{}/",
            news.release.product, news.release.version
        ),
        findings: news
            .findings
            .iter()
            .map(|a| {
                let f = &a.finding;
                NoticeFinding {
                    id: &f.id,
                    aliases: &f.aliases,
                    package: &f.package.name,
                    version: &f.package.version,
                    purl: f.package.purl.as_deref(),
                    kind: if f.is_warning() {
                        "warning"
                    } else {
                        "vulnerability"
                    },
                    severity: report::rating_name(f),
                    score: f.severity.score.as_ref().map(|s| s.score),
                    fixed_version: f.smallest_fix.as_deref(),
                    fixed: &f.fixed,
                    summary: f.advisories.iter().find_map(|x| x.summary.as_deref()),
                    vex_status: a.vex.as_ref().map(|v| v.status.to_string()),
                    vex_statement: a.vex.as_ref().and_then(|v| {
                        v.action_statement
                            .as_deref()
                            .or(v.impact_statement.as_deref())
                    }),
                    advisory_first_seen: f
                        .advisories
                        .iter()
                        .find_map(|x| news.first_seen.get(&x.id))
                        .map(String::as_str),
                }
            })
            .collect(),
    }
}

/// `sha256=<hex>` of HMAC-SHA256(secret, body).
pub fn hmac_signature(secret: &[u8], body: &[u8]) -> String {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[derive(Debug, Serialize)]
struct Delivery {
    url: String,
    product: String,
    version: String,
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

fn post(
    agent: &ureq::Agent,
    hook: &WebhookConfig,
    secret: &[u8],
    body: &[u8],
) -> Result<(), String> {
    agent
        .post(&hook.url)
        .header("Content-Type", "application/json")
        .header(SIGNATURE_HEADER, hmac_signature(secret, body))
        .send(body)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[derive(Debug, Serialize)]
struct NewFindingLine<'a> {
    product: &'a str,
    version: &'a str,
    id: &'a str,
    package: &'a str,
    package_version: &'a str,
    fixed_version: Option<&'a str>,
    vex_status: Option<String>,
}

#[derive(Debug, Serialize)]
struct Report<'a> {
    ok: bool,
    first_run: bool,
    added_releases: usize,
    advisories_added: usize,
    advisories_changed: usize,
    advisories_removed: usize,
    touched_packages: usize,
    releases: usize,
    rescanned_releases: usize,
    new_findings: Vec<NewFindingLine<'a>>,
    suppressed: usize,
    resolved: usize,
    notices: Vec<PathBuf>,
    webhooks: Vec<Delivery>,
    millis: u128,
}

pub fn run(args: Args, out: &Output) -> CmdResult {
    let started = std::time::Instant::now();
    let loaded = Loaded::from_dir(&args.dir).map_err(usage)?;
    let db = match &args.location.db {
        Some(d) => d.clone(),
        None => loaded.vulndb_dir(),
    };
    existing_sources(&db).map_err(usage)?;
    let now = jiff::Timestamp::now();
    let now_text = now.to_string();
    let mut catalog = Catalog::open(&loaded.catalog_path())
        .with_context(|| format!("the catalog {}", loaded.catalog_path().display()))?;

    let mut added = 0;
    let mut dirs = args.add_release.clone();
    if args.add_site {
        let releases = loaded.site_dir().join("releases");
        for product in sorted_dirs(&releases) {
            dirs.extend(sorted_dirs(&product));
        }
    }
    for dir in &dirs {
        match add_release_dir(&mut catalog, dir, &now_text) {
            Ok(true) => added += 1,
            Ok(false) => {}
            // With --add-site, a release without an SBOM is skipped and said; named
            // explicitly, it is an error.
            Err(e) if args.add_site && !args.add_release.contains(dir) => {
                out.warn(format!("not monitored: {e:#}"));
            }
            Err(e) => return Err(usage(e)),
        }
    }

    let packs = custody_vuln::open_current(&db)
        .with_context(|| format!("reading the advisory database {}", db.display()))
        .map_err(usage)?;
    let vex_docs = all_vex(&loaded.vex_dir()).map_err(usage)?;
    let vex_for = |product: &str| -> Vec<Document> {
        vex_docs
            .iter()
            .filter(|d| d.is_about(product, |_| true))
            .cloned()
            .collect()
    };
    let result = custody_catalog::monitor(
        &mut catalog,
        &packs,
        &MonitorOptions {
            now: &now_text,
            vex: &vex_for,
        },
    )?;

    // Notices: one per release with news, signed with the release key.
    let mut notices = Vec::new();
    if !result.new.is_empty() {
        let key_path = loaded.key_path();
        let mut keys = crate::cmd::key::unlock(&[&key_path], args.insecure_unencrypted_key, out)?;
        let signer = keys.pop().context("signing key")?;
        let dir = loaded.site_dir().join("advisories");
        let stamp = now.strftime("%Y%m%dT%H%M%SZ").to_string();
        for news in &result.new {
            let n = notice(news, &now_text);
            let value = serde_json::to_value(&n).context("serialising a notice")?;
            let paths: Vec<PathBuf> = news
                .release
                .artifacts
                .iter()
                .map(|a| news.release.dir.join(a))
                .collect();
            let mut subjects = Vec::with_capacity(paths.len());
            for (digests, name) in digest_files(&paths, Algorithms::Both)
                .into_iter()
                .zip(&news.release.artifacts)
            {
                subjects.push(Artifact {
                    name: name.clone(),
                    digests: digests.with_context(|| {
                        format!(
                            "hashing {} for its notice",
                            news.release.dir.join(name).display()
                        )
                    })?,
                });
            }
            let file = dir.join(format!(
                "{}-{}-{stamp}.json",
                news.release.product, news.release.version
            ));
            let bundle = attest_document(&signer, &subjects, NOTICE_PREDICATE, &value)?;
            let text = serde_json::to_string_pretty(&value).context("serialising a notice")?;
            write_atomic(&file, format!("{text}\n").as_bytes())?;
            write_atomic(
                &dir.join(format!(
                    "{}-{}-{stamp}.json.sigstore.json",
                    news.release.product, news.release.version
                )),
                bundle::to_json(&bundle)?.as_bytes(),
            )?;
            notices.push(file);
        }
    }

    // Webhooks: one event per release with news.
    let mut deliveries = Vec::new();
    if !result.new.is_empty() && !loaded.config.monitor.webhooks.is_empty() {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(15)))
            .build()
            .into();
        for hook in &loaded.config.monitor.webhooks {
            let Some(secret) = std::env::var_os(&hook.secret_env) else {
                out.warn(format!(
                    "webhook {}: ${} is not set, so its events are not sent (the secret is never \
                     read from custody.toml)",
                    hook.url, hook.secret_env
                ));
                continue;
            };
            let secret = secret.into_encoded_bytes();
            for (news, file) in result.new.iter().zip(&notices) {
                let event = serde_json::json!({
                    "type": "custody.monitor.new_findings",
                    "product": news.release.product,
                    "version": news.release.version,
                    "notice": file.strip_prefix(loaded.site_dir()).unwrap_or(file),
                    "notice_body": notice(news, &now_text),
                });
                let body = serde_json::to_vec(&event).context("serialising a webhook event")?;
                let outcome = post(&agent, hook, &secret, &body);
                if let Err(e) = &outcome {
                    out.warn(format!("webhook {}: {e}", hook.url));
                }
                deliveries.push(Delivery {
                    url: hook.url.clone(),
                    product: news.release.product.clone(),
                    version: news.release.version.clone(),
                    ok: outcome.is_ok(),
                    error: outcome.err(),
                });
            }
        }
    }

    let new_findings: Vec<NewFindingLine<'_>> = result
        .new
        .iter()
        .flat_map(|n| {
            n.findings.iter().map(move |a| NewFindingLine {
                product: &n.release.product,
                version: &n.release.version,
                id: &a.finding.id,
                package: &a.finding.package.name,
                package_version: &a.finding.package.version,
                fixed_version: a.finding.smallest_fix.as_deref(),
                vex_status: a.vex.as_ref().map(|v| v.status.to_string()),
            })
        })
        .collect();
    let report = Report {
        ok: deliveries.iter().all(|d| d.ok),
        first_run: result.first_run,
        added_releases: added,
        advisories_added: result.added.len(),
        advisories_changed: result.changed.len(),
        advisories_removed: result.removed.len(),
        touched_packages: result.touched_packages,
        releases: result.releases,
        rescanned_releases: result.rescanned_releases,
        new_findings,
        suppressed: result.suppressed,
        resolved: result.resolved,
        notices,
        webhooks: deliveries,
        millis: started.elapsed().as_millis(),
    };
    out.result(&report, || {
        let mut s = format!(
            "{} release(s) in the catalog{}; advisories: {} added, {} changed, {} removed; \
             {} release(s) re-scanned\n",
            report.releases,
            if added > 0 {
                format!(" ({added} added now)")
            } else {
                String::new()
            },
            report.advisories_added,
            report.advisories_changed,
            report.advisories_removed,
            report.rescanned_releases,
        );
        if report.new_findings.is_empty() {
            s.push_str("No new findings.\n");
        }
        for f in &report.new_findings {
            s.push_str(&format!(
                "NEW  {} {}: {} in {} {} (fix: {}; VEX: {})\n",
                f.product,
                f.version,
                f.id,
                f.package,
                f.package_version,
                f.fixed_version.unwrap_or("none known"),
                f.vex_status.as_deref().unwrap_or("none"),
            ));
        }
        if report.suppressed > 0 {
            s.push_str(&format!(
                "{} new finding(s) suppressed by VEX statements\n",
                report.suppressed
            ));
        }
        for n in &report.notices {
            s.push_str(&format!("Notice: {}\n", n.display()));
        }
        s
    });
    Ok(if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::output::EXIT_FAILED)
    })
}

fn sorted_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4231 test case 2.
    #[test]
    fn hmac_matches_rfc_4231() {
        assert_eq!(
            hmac_signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn attachments_are_not_artifacts() {
        for n in [
            "sbom.cdx.json",
            "scan.json",
            "app.openvex.json",
            "x.sigstore.json",
        ] {
            assert!(is_attachment(n), "{n}");
        }
        assert!(!is_attachment("app.tgz"));
    }
}
