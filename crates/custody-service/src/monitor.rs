//! Watching every shipped release: the catalog of their SBOMs, the re-scan after an advisory
//! import, signed notices to customers and HMAC-signed webhook events.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use custody_attest::bundle;
use custody_attest::release::{Artifact, attest_document};
use custody_catalog::{Catalog, MonitorOptions, NewDelivery, NewRelease, ReleaseNews, SecretRef};
pub use custody_catalog::{Component, ListedRelease, StoredFinding};
use custody_crypto::{Algorithms, digest_files};
use custody_site::config::Loaded;
use custody_site::fs::write_atomic;
use custody_site::site::Published;
use custody_vuln::report;
use custody_vuln::vex::{Assessed, Document};
use hmac::{KeyInit, Mac};
use serde::Serialize;

use crate::Error;
use crate::env::{Clock, Events, KeySource, Secrets};
use crate::transport::{Limits, Transport};

/// The in-toto predicate type of a customer notice.
pub const NOTICE_PREDICATE: &str = "https://custody.dev/notice/v1";
/// The header carrying a webhook body's HMAC-SHA256, as `sha256=<hex>`.
pub const SIGNATURE_HEADER: &str = "X-Custody-Signature";

use custody_site::site::is_attachment;

/// The project's catalog, as `[monitor] catalog` names it: a SQLite file relative to the
/// configuration, or a `postgres://` URL that several frontends share.
pub fn open_catalog(loaded: &Loaded) -> Result<Catalog, Error> {
    let configured = loaded.config.monitor.catalog.to_string_lossy();
    if custody_catalog::is_url(&configured) {
        Catalog::connect(&configured).map_err(catalog_error(&custody_catalog::backend::redact(
            &configured,
        )))
    } else {
        let path = loaded.catalog_path();
        Catalog::open(&path).map_err(catalog_error(&path.display().to_string()))
    }
}

/// Releases in the catalog, newest first: of one product, or of all.
pub fn releases(
    catalog: &mut Catalog,
    product: Option<&str>,
    limit: i64,
) -> Result<Vec<ListedRelease>, Error> {
    catalog
        .releases(product, limit)
        .map_err(|e| Error::catalog(catalog, e))
}

/// A release the catalog holds, or the error saying it does not.
fn require_release(catalog: &mut Catalog, product: &str, version: &str) -> Result<(), Error> {
    let found = catalog.contains(product, version);
    if found.map_err(|e| Error::catalog(catalog, e))? {
        Ok(())
    } else {
        Err(Error::ReleaseNotInCatalog {
            product: product.to_owned(),
            version: version.to_owned(),
        })
    }
}

/// A release's components, as its SBOM named them.
pub fn components(
    catalog: &mut Catalog,
    product: &str,
    version: &str,
) -> Result<Vec<Component>, Error> {
    require_release(catalog, product, version)?;
    catalog
        .components(product, version)
        .map_err(|e| Error::catalog(catalog, e))
}

/// The findings the catalog holds for a release, as the monitor last recorded them.
pub fn release_findings(
    catalog: &mut Catalog,
    product: &str,
    version: &str,
) -> Result<Vec<StoredFinding>, Error> {
    require_release(catalog, product, version)?;
    catalog
        .findings(product, version)
        .map_err(|e| Error::catalog(catalog, e))
}

fn catalog_error(location: &str) -> impl FnOnce(custody_catalog::Error) -> Error + '_ {
    move |source| Error::Catalog {
        location: location.to_owned(),
        source: Box::new(source),
    }
}

/// Adds a freshly published release to the project's catalog, with its SBOM (the graph and
/// the CycloneDX document published with it) and the gate's findings as already known.
pub fn catalog_release(
    catalog: &mut Catalog,
    published: &Published,
    sbom: (&custody_sbom::Sbom, &str),
    known: &[Assessed],
    clock: &dyn Clock,
) -> Result<(), Error> {
    let (graph, sbom_json) = sbom;
    let (packages, _) = crate::scan::packages(graph);
    let artifacts: Vec<String> = published.artifacts.iter().map(|a| a.name.clone()).collect();
    catalog
        .add_release(
            &NewRelease {
                product: &published.product,
                version: &published.version,
                dir: &published.dir,
                sbom: Some(sbom_json),
                artifacts: &artifacts,
                packages: &packages,
                licenses: &crate::scan::licenses(graph),
                known,
            },
            &clock.now().to_string(),
        )
        .map_err(|e| Error::catalog(catalog, e))?;
    Ok(())
}

/// Adds the published release in `dir` to the catalog from the SBOM it carries.
pub(crate) fn catalog_release_dir(
    catalog: &mut Catalog,
    dir: &Path,
    clock: &dyn Clock,
) -> Result<(), Error> {
    add_release_dir(catalog, dir, &clock.now().to_string()).map(|_| ())
}

/// A release directory (`.../<product>/<version>`), resolved, with its product and version.
pub(crate) fn release_names(dir: &Path) -> Result<(PathBuf, String, String), Error> {
    let full = dir.canonicalize().map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let name = |p: Option<&Path>| -> Option<String> { p?.file_name()?.to_str().map(str::to_owned) };
    match (name(full.parent()), name(Some(&full))) {
        (Some(product), Some(version)) => Ok((full, product, version)),
        _ => Err(Error::NotAReleaseDir {
            dir: dir.to_path_buf(),
        }),
    }
}

/// Adds a release directory from the site; `false` when it is already in the catalog.
fn add_release_dir(catalog: &mut Catalog, dir: &Path, now: &str) -> Result<bool, Error> {
    let (full, product, version) = release_names(dir)?;
    if catalog
        .contains(&product, &version)
        .map_err(|e| Error::catalog(catalog, e))?
    {
        return Ok(false);
    }
    let sbom_path = full.join("sbom.cdx.json");
    if !sbom_path.is_file() {
        return Err(Error::ReleaseWithoutSbom {
            dir: dir.to_path_buf(),
        });
    }
    let sbom = crate::inputs::read_sbom(&sbom_path)?;
    let (packages, _) = crate::scan::packages(&sbom);
    let mut artifacts: Vec<String> = std::fs::read_dir(&full)
        .map_err(|source| Error::Io {
            path: full.clone(),
            source,
        })?
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .filter(|n| !is_attachment(n) && full.join(format!("{n}.sigstore.json")).is_file())
        .collect();
    artifacts.sort();
    let sbom_json = std::fs::read_to_string(&sbom_path).ok();
    catalog
        .add_release(
            &NewRelease {
                product: &product,
                version: &version,
                dir: &full,
                sbom: sbom_json.as_deref(),
                artifacts: &artifacts,
                packages: &packages,
                licenses: &crate::scan::licenses(&sbom),
                known: &[],
            },
            now,
        )
        .map_err(|e| Error::catalog(catalog, e))
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

/// One webhook delivery attempt.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Serialize)]
pub struct Delivery {
    /// The event's id (sent as `X-Custody-Delivery`; a retry carries the same).
    pub id: String,
    /// The webhook.
    pub url: String,
    /// The release the event is about.
    pub product: String,
    /// Its version.
    pub version: String,
    /// Whether the receiver acknowledged it (a 2xx status).
    pub ok: bool,
    /// Why not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One event per webhook and release with news, each with a fresh id, for the outbox.
fn webhook_events(
    loaded: &Loaded,
    registered: &[custody_catalog::Webhook],
    news: &[ReleaseNews],
    notices: &[PathBuf],
    now: &str,
) -> Result<Vec<NewDelivery>, Error> {
    let configured = loaded
        .config
        .monitor
        .webhooks
        .iter()
        .map(|h| (h.url.as_str(), SecretRef::Env(h.secret_env.clone())));
    let registered = registered
        .iter()
        .map(|h| (h.url.as_str(), SecretRef::Webhook(h.id.clone())));
    let mut out = Vec::new();
    for (url, secret) in configured.chain(registered) {
        for (news, file) in news.iter().zip(notices) {
            let mut id = [0u8; 12];
            getrandom::fill(&mut id).map_err(|_| Error::Randomness)?;
            let id = format!("evt_{}", hex::encode(id));
            let event = serde_json::json!({
                "id": id,
                "type": "custody.monitor.new_findings",
                "product": news.release.product,
                "version": news.release.version,
                "notice": file.strip_prefix(loaded.site_dir()).unwrap_or(file),
                "notice_body": notice(news, now),
            });
            out.push(NewDelivery {
                id,
                url: url.to_owned(),
                secret: secret.clone(),
                body: event.to_string(),
            });
        }
    }
    Ok(out)
}

/// The header carrying an event's id, the same on every retry: receivers drop repeats by it.
pub const DELIVERY_HEADER: &str = "X-Custody-Delivery";

fn post(
    transport: &dyn Transport,
    (url, limits): (&str, Limits),
    id: &str,
    secret: &[u8],
    body: &[u8],
) -> Result<(), String> {
    let signature = hmac_signature(secret, body);
    let response = transport
        .post(
            url,
            &[
                ("Content-Type", "application/json"),
                (SIGNATURE_HEADER, &signature),
                (DELIVERY_HEADER, id),
            ],
            body,
            limits,
        )
        .map_err(|e| e.to_string())?;
    if (200..300).contains(&response.status) {
        Ok(())
    } else {
        Err(format!("{url}: status code {}", response.status))
    }
}

/// When to try a delivery again after `attempts` failures: 30 s, doubling, at most an hour.
fn retry_delay(attempts: i64) -> jiff::SignedDuration {
    let exponent = u32::try_from(attempts.clamp(0, 7)).unwrap_or(7);
    jiff::SignedDuration::from_secs((30_i64 << exponent).min(3600))
}

/// Sends every webhook event due in the outbox, recording each outcome: an acknowledged
/// event is done, a failed one is tried again later (see [`retry_delay`]). Safe to run from
/// several places at once only in the sense that a receiver may see an event twice, which its
/// id lets it drop.
pub fn relay(
    catalog: &mut Catalog,
    transport: &dyn Transport,
    secrets: &dyn Secrets,
    clock: &dyn Clock,
    events: &dyn Events,
) -> Result<Vec<Delivery>, Error> {
    let now = clock.now();
    let now_text = now.to_string();
    let due = catalog
        .due_deliveries(&now_text, 100)
        .map_err(|e| Error::catalog(catalog, e))?;
    let mut out = Vec::new();
    for event in due {
        let registered = match &event.secret {
            SecretRef::Webhook(id) => Some(
                catalog
                    .webhook_secret(id)
                    .map_err(|e| Error::catalog(catalog, e))?,
            ),
            SecretRef::Env(_) => None,
        };
        if let Some(None) = registered {
            // Removed since the event was queued: no one asked for it any more.
            catalog
                .abandon_delivery(&event.id, "the webhook was removed; not sent")
                .map_err(|e| Error::catalog(catalog, e))?;
            continue;
        }
        // custody.toml's webhooks are the operator's own; one registered through the API
        // reaches only public addresses unless it was registered as private.
        let mut limits = Limits::WEBHOOK;
        let secret = match &event.secret {
            SecretRef::Env(name) => secrets.secret(name).ok_or_else(|| {
                format!(
                    "${name} is not set, so the event cannot be signed (the secret is never \
                     read from custody.toml)"
                )
            }),
            SecretRef::Webhook(_) => match registered.flatten() {
                // Checked again now, and again by the connection itself (`PUBLIC_WEBHOOK`):
                // the name may resolve somewhere else by then.
                Some((secret, private_ok)) => {
                    if !private_ok {
                        limits = Limits::PUBLIC_WEBHOOK;
                    }
                    crate::webhooks::check_url(&event.url, private_ok)
                        .map(|()| secret.into_bytes())
                        .map_err(|e| e.to_string())
                }
                None => Err("the webhook was removed".to_owned()),
            },
        };
        let outcome = secret.and_then(|secret| {
            post(
                transport,
                (&event.url, limits),
                &event.id,
                &secret,
                event.body.as_bytes(),
            )
        });
        match &outcome {
            Ok(()) => catalog.delivered(&event.id, &now_text),
            Err(e) => {
                events.warn(&format!("webhook {}: {e}", event.url));
                let retry = now
                    .checked_add(retry_delay(event.attempts))
                    .unwrap_or(now)
                    .to_string();
                catalog.delivery_failed(&event.id, e, &retry)
            }
        }
        .map_err(|e| Error::catalog(catalog, e))?;
        let about: serde_json::Value = serde_json::from_str(&event.body).unwrap_or_default();
        let field = |name: &str| about[name].as_str().unwrap_or_default().to_owned();
        out.push(Delivery {
            id: event.id,
            url: event.url,
            product: field("product"),
            version: field("version"),
            ok: outcome.is_ok(),
            error: outcome.err(),
        });
    }
    Ok(out)
}

/// A finding new since the last run.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Serialize)]
pub struct NewFinding {
    /// The release's product.
    pub product: String,
    /// The release's version.
    pub version: String,
    /// The advisory.
    pub id: String,
    /// The affected package.
    pub package: String,
    /// Its version in the release.
    pub package_version: String,
    /// The smallest fixed version, if known.
    pub fixed_version: Option<String>,
    /// The supplier's VEX status, if any.
    pub vex_status: Option<String>,
}

/// What a monitor run found and did.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Serialize)]
pub struct Monitored {
    /// False when a webhook delivery failed.
    pub ok: bool,
    /// Whether this was the first run (everything is new).
    pub first_run: bool,
    /// Releases added to the catalog by this run.
    pub added_releases: usize,
    /// Advisories new since the last run.
    pub advisories_added: usize,
    /// Advisories whose content changed.
    pub advisories_changed: usize,
    /// Advisories gone.
    pub advisories_removed: usize,
    /// Packages named by a changed advisory.
    pub touched_packages: usize,
    /// Releases in the catalog.
    pub releases: usize,
    /// Releases re-matched.
    pub rescanned_releases: usize,
    /// What is new, release by release.
    pub new_findings: Vec<NewFinding>,
    /// New findings a VEX statement suppresses.
    pub suppressed: usize,
    /// Findings no longer present.
    pub resolved: usize,
    /// The notices written.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub notices: Vec<PathBuf>,
    /// The webhook deliveries.
    pub webhooks: Vec<Delivery>,
}

/// What a monitor run is asked to do besides re-scanning.
#[derive(Debug, Clone, Default)]
pub struct MonitorRequest {
    /// Published release directories to add to the catalog first.
    pub add_releases: Vec<PathBuf>,
    /// Add every release on the site not in the catalog yet (those without an SBOM are skipped
    /// with a warning, unless named in `add_releases`).
    pub add_site: bool,
    /// The advisory database, instead of the project's.
    pub db: Option<PathBuf>,
}

/// What the monitor reaches the world through.
#[derive(Clone, Copy)]
pub struct MonitorEnv<'a> {
    /// The release key, to sign notices.
    pub keys: &'a dyn KeySource,
    /// Webhook deliveries, and the log's witnesses (notices are logged).
    pub transport: &'a Arc<dyn Transport>,
    /// Webhook secrets.
    pub secrets: &'a dyn Secrets,
    /// The time.
    pub clock: &'a dyn Clock,
    /// Progress and warnings.
    pub events: &'a dyn Events,
}

impl std::fmt::Debug for MonitorEnv<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MonitorEnv").finish_non_exhaustive()
    }
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

/// Re-scans every release in the project's catalog against the advisory database and reports
/// only what is new. For each release with news, a customer notice is written to the site's
/// `advisories/` and signed with the release key, and each configured webhook gets a JSON event
/// signed with HMAC-SHA256.
pub fn run(
    loaded: &Loaded,
    request: &MonitorRequest,
    env: MonitorEnv<'_>,
) -> Result<Monitored, Error> {
    // Notices go into the transparency log.
    let _writer = crate::sequence::writer(loaded, env.events)?;
    run_locked(loaded, request, env)
}

/// [`run`] for a caller holding the project's writer lock.
fn run_locked(
    loaded: &Loaded,
    request: &MonitorRequest,
    env: MonitorEnv<'_>,
) -> Result<Monitored, Error> {
    let db = request.db.clone().unwrap_or_else(|| loaded.vulndb_dir());
    crate::advisories::existing_sources(&db)?;
    let now = env.clock.now();
    let now_text = now.to_string();
    let mut catalog = open_catalog(loaded)?;

    let mut added = 0;
    let mut dirs = request.add_releases.clone();
    if request.add_site {
        let releases = loaded.site_dir().join("releases");
        for product in sorted_dirs(&releases) {
            dirs.extend(sorted_dirs(&product));
        }
    }
    for dir in &dirs {
        match add_release_dir(&mut catalog, dir, &now_text) {
            Ok(true) => added += 1,
            Ok(false) => {}
            // Adding the whole site, a release without an SBOM is skipped and said; named
            // explicitly, it is an error.
            Err(e) if request.add_site && !request.add_releases.contains(dir) => {
                env.events.warn(&format!("not monitored: {e}"));
            }
            Err(e) => return Err(e),
        }
    }

    let packs = custody_vuln::open_current(&db).map_err(|source| Error::AdvisoryDb {
        dir: db.clone(),
        source: Box::new(source),
    })?;
    let vex_docs: Vec<Document> = crate::inputs::vex_documents(&loaded.vex_dir())?
        .into_iter()
        .map(|(_, d)| d)
        .collect();
    let vex_for = |product: &str| -> Vec<Document> {
        vex_docs
            .iter()
            .filter(|d| d.is_about(product, |_| true))
            .cloned()
            .collect()
    };
    let registered = catalog
        .webhooks()
        .map_err(|e| Error::catalog(&catalog, e))?;
    // The notices are written before the catalog records the news as seen, so a run killed in
    // between repeats them rather than losing them.
    let (result, notices) = custody_catalog::monitor_then(
        &mut catalog,
        &packs,
        &MonitorOptions {
            now: &now_text,
            vex: &vex_for,
        },
        |report| {
            if report.new.is_empty() {
                return Ok::<_, Error>((Vec::new(), Vec::new()));
            }
            let notices = write_notices(loaded, &report.new, env, now)?;
            let events = webhook_events(loaded, &registered, &report.new, &notices, &now_text)?;
            Ok((notices, events))
        },
    )
    .map_err(|e| Error::catalog(&catalog, e))??;
    // After the commit: what the outbox holds now is what was recorded, and what an earlier
    // run could not deliver is due again.
    let deliveries = relay(
        &mut catalog,
        env.transport.as_ref(),
        env.secrets,
        env.clock,
        env.events,
    )?;

    let new_findings = result
        .new
        .iter()
        .flat_map(|n| {
            n.findings.iter().map(move |a| NewFinding {
                product: n.release.product.clone(),
                version: n.release.version.clone(),
                id: a.finding.id.clone(),
                package: a.finding.package.name.clone(),
                package_version: a.finding.package.version.clone(),
                fixed_version: a.finding.smallest_fix.clone(),
                vex_status: a.vex.as_ref().map(|v| v.status.to_string()),
            })
        })
        .collect();
    Ok(Monitored {
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
    })
}

/// One notice per release with news, signed with the release key, in the site's
/// `advisories/`.
fn write_notices(
    loaded: &Loaded,
    news: &[ReleaseNews],
    env: MonitorEnv<'_>,
    now: jiff::Timestamp,
) -> Result<Vec<PathBuf>, Error> {
    let now_text = now.to_string();
    let key_path = loaded.key_path();
    let mut keys = env
        .keys
        .unlock(&[&key_path, &loaded.log_key_path()])?
        .into_iter();
    let (Some(signer), Some(log_key)) = (keys.next(), keys.next()) else {
        return Err(Error::KeyMissing { path: key_path });
    };
    // Every notice is logged, so a supplier cannot quietly withdraw one.
    let mut log = crate::log::open_with_key(loaded, log_key, env.transport)?;
    let policy = custody_site::site::Site::new(loaded.site_dir())
        .policy()
        .map_err(Error::input)?;
    let dir = loaded.site_dir().join("advisories");
    let stamp = now.strftime("%Y%m%dT%H%M%SZ").to_string();
    let mut notices = Vec::with_capacity(news.len());
    for news in news {
        let n = notice(news, &now_text);
        let serialise = |source| Error::Serialise {
            what: "a notice",
            source,
        };
        let value = serde_json::to_value(&n).map_err(serialise)?;
        let paths: Vec<PathBuf> = news
            .release
            .artifacts
            .iter()
            .map(|a| news.release.dir.join(a))
            .collect();
        let mut subjects = Vec::with_capacity(paths.len());
        for ((digests, name), path) in digest_files(&paths, Algorithms::Both)
            .into_iter()
            .zip(&news.release.artifacts)
            .zip(&paths)
        {
            subjects.push(Artifact {
                name: name.clone(),
                digests: digests.map_err(|source| Error::Hash {
                    path: path.clone(),
                    source,
                })?,
            });
        }
        let base = notice_name(&dir, &news.release.product, &news.release.version, &stamp);
        let file = dir.join(&base);
        let bundle = attest_document(&signer, &subjects, NOTICE_PREDICATE, &value)?;
        let bundle_path = dir.join(format!("{base}.sigstore.json"));
        let logged = log
            .append_bundle(bundle::to_json(&bundle)?.as_bytes(), &policy, now)
            .map_err(|source| Error::Append {
                bundle: bundle_path.clone(),
                source: Box::new(source),
            })?;
        let text = serde_json::to_string_pretty(&value).map_err(serialise)?;
        write_atomic(&file, format!("{text}\n").as_bytes())?;
        write_atomic(&bundle_path, logged.json.as_bytes())?;
        notices.push(file);
    }
    crate::log::warn_witness_failures(&log, env.events);
    Ok(notices)
}

/// `<product>-<version>-<stamp>.json`, or with `-2`, `-3`... when a run in the same second
/// (a rerun after a killed one) already wrote that name: a notice is never replaced.
fn notice_name(dir: &Path, product: &str, version: &str, stamp: &str) -> String {
    let mut base = format!("{product}-{version}-{stamp}.json");
    let mut n = 1u32;
    while dir.join(&base).exists() || dir.join(format!("{base}.sigstore.json")).exists() {
        n += 1;
        base = format!("{product}-{version}-{stamp}-{n}.json");
    }
    base
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notice_written_in_the_same_second_does_not_replace_the_earlier_one() {
        // Regression (issue 15 crash campaign): a rerun within the second overwrote the notice
        // of the run before it.
        let dir = tempfile::tempdir().unwrap();
        let first = notice_name(dir.path(), "app", "1.0.0", "20260101T000000Z");
        assert_eq!(first, "app-1.0.0-20260101T000000Z.json");
        std::fs::write(dir.path().join(&first), b"{}").unwrap();
        let second = notice_name(dir.path(), "app", "1.0.0", "20260101T000000Z");
        assert_eq!(second, "app-1.0.0-20260101T000000Z-2.json");
    }

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

/// What [`import_and_monitor`] did.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Serialize)]
pub struct ImportedAndMonitored {
    /// The import.
    pub import: crate::advisories::Imported,
    /// The monitor run that followed it.
    pub monitor: Monitored,
}

/// Imports advisories into the project's database and at once re-scans every shipped release
/// against them, telling customers (notices, webhooks) what is new, as the server does for
/// each import it is sent. Holds the project's writer lock, so publishes wait for it.
pub fn import_and_monitor(
    loaded: &Loaded,
    from: &crate::advisories::ImportFrom,
    name: Option<&str>,
    env: MonitorEnv<'_>,
) -> Result<ImportedAndMonitored, Error> {
    let _writer = crate::sequence::writer(loaded, env.events)?;
    let import = crate::advisories::import(
        &loaded.vulndb_dir(),
        from,
        name,
        env.transport.as_ref(),
        env.events,
    )?;
    let monitor = run_locked(loaded, &MonitorRequest::default(), env)?;
    Ok(ImportedAndMonitored { import, monitor })
}
