//! `custody doctor`: a supplier's setup checked against the guide's recommended practices,
//! each finding with the threat it leaves open and how to fix it.
//!
//! Every check reads what is there (keys' files, the site, the TUF metadata, the advisory
//! database, the log) and unlocks nothing a key's protection and public half do not need.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use custody_attest::bundle;
use custody_attest::provenance::{Provenance, SLSA_PROVENANCE_V1};
use custody_attest::statement;
use custody_crypto::PublicKey;
use custody_site::config::Loaded;
use custody_site::fs::read_bounded;
use custody_site::site::{PROVENANCE_FILE, Site};
use serde::Serialize;

use crate::Error;
use crate::env::{Clock, KeySource};
use crate::keys::Protection;
use crate::transport::{Limits, Transport};

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Worth knowing.
    Info,
    /// A practice the guide recommends is not followed.
    Warning,
    /// Customers, or the supplier, are exposed now.
    Error,
}

impl Level {
    /// `info`, `warning` or `error`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "info" => Some(Self::Info),
            "warning" => Some(Self::Warning),
            "error" => Some(Self::Error),
            _ => None,
        }
    }

    /// The name in output.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Error => "error",
        }
    }
}

/// One thing found.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// The check that found it (`key-unencrypted`, `tuf-root-threshold`, ...).
    pub check: &'static str,
    /// How much it matters.
    pub level: Level,
    /// What it is about: a key, a role, a release, a URL.
    pub subject: String,
    /// What is wrong.
    pub problem: String,
    /// The threat it leaves open.
    pub why: &'static str,
    /// How to fix it.
    pub fix: String,
}

/// What the doctor saw.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The project.
    pub project: PathBuf,
    /// The checks run, in order.
    pub checks: Vec<&'static str>,
    /// What they found, most serious first.
    pub findings: Vec<Finding>,
}

impl Report {
    /// The most serious level found.
    pub fn worst(&self) -> Option<Level> {
        self.findings.iter().map(|f| f.level).max()
    }
}

/// What to look at besides the project.
#[derive(Debug, Clone, Default)]
pub struct DoctorRequest {
    /// The URL the site is served from, to check its cache headers.
    pub url: Option<String>,
}

/// Advisory sources older than this are stale (the guide: monitor continuously).
const STALE_DAYS: u64 = 7;

/// Checks the project `loaded` and, with a URL, how its site is served.
pub fn examine(
    loaded: &Loaded,
    request: &DoctorRequest,
    keys: &dyn KeySource,
    clock: &dyn Clock,
    transport: &Arc<dyn Transport>,
) -> Result<Report, Error> {
    let mut findings = Vec::new();
    let mut checks = Vec::new();
    let mut run = |name: &'static str, found: Vec<Finding>| {
        checks.push(name);
        findings.extend(found);
    };
    run("keys", keys_kept(loaded, keys));
    run("tuf", tuf_metadata(loaded, clock)?);
    run("releases", releases(loaded)?);
    run("advisories", advisories(loaded, clock));
    run("log", witnessed(loaded));
    if let Some(url) = &request.url {
        run("cache-headers", cache_headers(url, transport.as_ref()));
    }
    findings.sort_by(|a, b| b.level.cmp(&a.level).then(a.check.cmp(b.check)));
    Ok(Report {
        project: loaded.base.clone(),
        checks,
        findings,
    })
}

const STOLEN_KEY: &str = "a stolen private key lets an attacker impersonate the supplier";

/// Each signing key's protection, and whether two duties share one.
fn keys_kept(loaded: &Loaded, keys: &dyn KeySource) -> Vec<Finding> {
    let mut found = Vec::new();
    let paths = crate::release::signing_key_paths(loaded);
    let mut publics: Vec<Option<PublicKey>> = Vec::with_capacity(paths.len());
    for (path, duty) in paths.iter().zip(crate::release::duties()) {
        let subject = format!("{duty} key {}", path.display());
        match crate::keys::protection(path) {
            Protection::Unencrypted if path.exists() => found.push(Finding {
                check: "key-unencrypted",
                level: Level::Error,
                subject: subject.clone(),
                problem: "the private key is stored unencrypted".to_owned(),
                why: STOLEN_KEY,
                fix: format!(
                    "make a new, encrypted key and rotate to it (`custody key rotate --role \
                     {}`), or keep it in a PKCS#11 token",
                    duty.split_whitespace()
                        .last()
                        .unwrap_or(duty)
                        .to_lowercase()
                ),
            }),
            Protection::Unencrypted => found.push(Finding {
                check: "key-missing",
                level: Level::Error,
                subject: subject.clone(),
                problem: "custody.toml names a key file that is not there".to_owned(),
                why: "a lost key blocks updates",
                fix: "restore the key from its backup, or rotate to a new one".to_owned(),
            }),
            Protection::Encrypted | Protection::Token => {}
        }
        publics.push(keys.public_key(path).ok());
    }
    let duties: Vec<&str> = crate::release::duties().take(publics.len()).collect();
    for (i, a) in publics.iter().enumerate() {
        for (j, b) in publics.iter().enumerate().skip(i + 1) {
            if let (Some(a), Some(b)) = (a, b)
                && a == b
            {
                found.push(Finding {
                    check: "key-shared",
                    level: Level::Error,
                    subject: format!("key {}", a.hint()),
                    problem: format!(
                        "the {} key is also the {} key",
                        duties.get(i).unwrap_or(&"?"),
                        duties.get(j).unwrap_or(&"?")
                    ),
                    why: "one stolen key both signs a release and vouches for it",
                    fix: "give each duty a key of its own (custody key rotate)".to_owned(),
                });
            }
        }
    }
    let root_keys = loaded.tuf_keys_dir();
    if let Ok(entries) = std::fs::read_dir(&root_keys) {
        let mut online_roots: Vec<String> = entries
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("root-") && n.ends_with(".key"))
            .collect();
        online_roots.sort();
        if !online_roots.is_empty() {
            found.push(Finding {
                check: "tuf-root-key-online",
                level: Level::Warning,
                subject: root_keys.display().to_string(),
                problem: format!(
                    "TUF root key(s) {} are on the signing machine",
                    online_roots.join(", ")
                ),
                why: "a compromised signing server with the root keys can replace every other \
                      key customers trust",
                fix: "move the root keys offline (they are needed only to sign a new root: \
                      custody repo sign-root)"
                    .to_owned(),
            });
        }
    }
    found
}

/// The TUF root's threshold and every role's expiry.
fn tuf_metadata(loaded: &Loaded, clock: &dyn Clock) -> Result<Vec<Finding>, Error> {
    let mut found = Vec::new();
    if !custody_site::tuf::exists(&loaded.tuf_dir()) {
        found.push(Finding {
            check: "tuf-missing",
            level: Level::Warning,
            subject: loaded.tuf_dir().display().to_string(),
            problem: "the site has no TUF repository".to_owned(),
            why: "without it an update modified in delivery, rolled back or frozen is not \
                  detected by customers' updaters",
            fix: "create one: custody repo init --root-keys 3 --root-threshold 2".to_owned(),
        });
        return Ok(found);
    }
    let repo = crate::repo::open(loaded)?;
    let root = &repo.root().signed;
    if let Some(role) = root.role("root")
        && role.threshold <= 1
    {
        found.push(Finding {
            check: "tuf-root-threshold",
            level: Level::Warning,
            subject: "TUF root".to_owned(),
            problem: format!(
                "one signature of {} root key(s) is enough to sign a new root",
                role.keyids.len()
            ),
            why: "one stolen root key lets an attacker replace every key customers trust",
            fix: "rotate the root to several keys with a threshold above one: custody repo \
                  rotate --role root --new-key A.pub --new-key B.pub --new-key C.pub \
                  --threshold 2"
                .to_owned(),
        });
    }
    let now = clock.now();
    let expiry = custody_site::tuf::expiry(&loaded.config.tuf);
    for status in repo.status(now) {
        let period = match status.role.as_str() {
            "root" => expiry.root,
            "snapshot" => expiry.snapshot,
            "timestamp" => expiry.timestamp,
            _ => expiry.targets,
        };
        let left = status.expires.duration_since(now);
        let (level, problem) = if status.expired {
            (Level::Error, format!("expired at {}", status.expires))
        } else if left < period / 4 {
            (
                Level::Warning,
                format!(
                    "expires at {}, in under a quarter of its validity period",
                    status.expires
                ),
            )
        } else {
            continue;
        };
        found.push(Finding {
            check: "tuf-expiring",
            level,
            subject: format!("TUF {}", status.role),
            problem,
            why: "customers refuse expired metadata, and so take no updates (a freeze)",
            fix: if status.role == "root" {
                "sign a new root with the offline root keys (custody repo rotate, sign-root, \
                 publish-root)"
                    .to_owned()
            } else {
                "run custody repo refresh, from cron, more often than the timestamp expires"
                    .to_owned()
            },
        });
    }
    Ok(found)
}

/// Each published release: SBOM, provenance, and a clean tree.
fn releases(loaded: &Loaded) -> Result<Vec<Finding>, Error> {
    let mut found = Vec::new();
    let site = Site::new(loaded.site_dir());
    let releases = site.root().join("releases");
    for product in sorted_dirs(&releases) {
        for version in sorted_dirs(&releases.join(&product)) {
            let dir = site.release_dir(&product, &version);
            let subject = format!("{product} {version}");
            if !dir.join("sbom.cdx.json").is_file() {
                found.push(Finding {
                    check: "release-without-sbom",
                    level: Level::Warning,
                    subject: subject.clone(),
                    problem: "released without an SBOM".to_owned(),
                    why: "vulnerable third-party code in it cannot be found, then or later",
                    fix: "release with --sbom PROJECT_DIR, so the gate scans it and the monitor \
                          watches it"
                        .to_owned(),
                });
            }
            match provenance(&dir.join(PROVENANCE_FILE)) {
                None => found.push(Finding {
                    check: "release-without-provenance",
                    level: Level::Error,
                    subject: subject.clone(),
                    problem: "no readable provenance".to_owned(),
                    why: "nothing shows which source and builder made it (injected code, an \
                          exploited build)",
                    fix: "release it again as a new version with custody release".to_owned(),
                }),
                Some(p) if p.tree_clean() == Some(false) => found.push(Finding {
                    check: "release-dirty-tree",
                    level: Level::Warning,
                    subject,
                    problem: "built from a tree with uncommitted changes".to_owned(),
                    why: "code that is in no commit cannot be reviewed or rebuilt",
                    fix: "commit first; release without --allow-dirty".to_owned(),
                }),
                Some(_) => {}
            }
        }
    }
    Ok(found)
}

fn provenance(path: &Path) -> Option<Provenance> {
    let bytes = read_bounded(path, bundle::MAX_BUNDLE_BYTES as u64, "provenance").ok()?;
    let signed = bundle::parse(&bytes).ok()?;
    statement::parse::<Provenance>(signed.envelope.payload.as_bytes(), SLSA_PROVENANCE_V1)
        .ok()
        .map(|(_, p)| p)
}

fn sorted_dirs(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    names
}

/// The advisory database: there, and imported within the week.
fn advisories(loaded: &Loaded, clock: &dyn Clock) -> Vec<Finding> {
    let db = loaded.vulndb_dir();
    let why = "advisories published since are not matched against what was shipped";
    let Ok(names) = crate::advisories::existing_sources(&db) else {
        return vec![Finding {
            check: "advisories-missing",
            level: Level::Warning,
            subject: db.display().to_string(),
            problem: "no advisory database".to_owned(),
            why,
            fix: "import one (custody db import https://osv-vulnerabilities.storage.googleapis\
                  .com/crates.io/all.zip), and again daily"
                .to_owned(),
        }];
    };
    crate::advisories::import_ages(&db, &names, clock)
        .into_iter()
        .filter_map(|age| {
            let days = age.age_seconds? / 86_400;
            (days >= STALE_DAYS).then(|| Finding {
                check: "advisories-stale",
                level: Level::Warning,
                subject: format!("advisory source {}", age.name),
                problem: format!("last imported {days} days ago"),
                why,
                fix: "import it again (custody db import), daily from cron".to_owned(),
            })
        })
        .collect()
}

/// Whether the log's checkpoints are witnessed, and whether customers require it.
fn witnessed(loaded: &Loaded) -> Vec<Finding> {
    let mut found = Vec::new();
    let why = "an unwitnessed log can show customers a different history than everyone else \
               (a split view), hiding a malicious release";
    if loaded.config.log.witnesses.is_empty() {
        found.push(Finding {
            check: "log-unwitnessed",
            level: Level::Warning,
            subject: loaded.config.log.origin.clone(),
            problem: "no witness cosigns the log's checkpoints".to_owned(),
            why,
            fix: "add witnesses under [[log.witnesses]] in custody.toml (custody log witness \
                  serves one)"
                .to_owned(),
        });
        return found;
    }
    let policy = Site::new(loaded.site_dir()).policy().ok();
    let Some(rule) = policy.as_ref().and_then(|p| p.witnesses.as_ref()) else {
        found.push(Finding {
            check: "log-witnesses-not-required",
            level: Level::Warning,
            subject: "custody-policy.json".to_owned(),
            problem: "witnesses cosign, but the policy does not ask customers to check it"
                .to_owned(),
            why,
            fix: "add a witness rule to custody-policy.json: \"witnesses\": {\"threshold\": K, \
                  \"keys\": [their verifier keys]}"
                .to_owned(),
        });
        return found;
    };
    if let Ok(reader) = crate::log::LogReader::open(loaded)
        && let Err(e) = rule.to_tlog().check(&reader.checkpoint().note)
    {
        found.push(Finding {
            check: "log-checkpoint-unwitnessed",
            level: Level::Error,
            subject: format!(
                "checkpoint {} of {}",
                reader.checkpoint().checkpoint.size,
                loaded.config.log.origin
            ),
            problem: format!("the published checkpoint is short of cosignatures: {e}"),
            why,
            fix: "ask the witnesses again: custody log checkpoint --witness".to_owned(),
        });
    }
    found
}

/// The cache headers of a few files that must be revalidated and a few that never change.
fn cache_headers(url: &str, transport: &dyn Transport) -> Vec<Finding> {
    let base = url.trim_end_matches('/');
    let mut found = Vec::new();
    for path in [
        "tuf/metadata/timestamp.json",
        "log/checkpoint",
        "trusted_root.json",
        "tuf/metadata/1.root.json",
    ] {
        let expected = custody_site::cache::cache_control(path);
        let full = format!("{base}/{path}");
        let got = match transport.header(&full, "cache-control", Limits::tuf(1 << 20)) {
            Ok(None) => continue,
            Ok(Some(got)) => got,
            Err(e) => {
                found.push(Finding {
                    check: "site-unreachable",
                    level: Level::Error,
                    subject: full,
                    problem: e.to_string(),
                    why: "customers cannot take updates from a site they cannot reach",
                    fix: "check the URL and the server".to_owned(),
                });
                return found;
            }
        };
        let revalidate = expected == custody_site::cache::REVALIDATE;
        let ok = match got.as_deref() {
            None => false,
            Some(v) if revalidate => {
                v.contains("no-cache") || v.contains("no-store") || v.contains("max-age=0")
            }
            Some(v) => !(v.contains("no-store") || v.contains("no-cache")),
        };
        if !ok {
            found.push(Finding {
                check: "site-cache-headers",
                level: if revalidate {
                    Level::Error
                } else {
                    Level::Info
                },
                subject: full,
                problem: format!(
                    "served with Cache-Control {}, custody needs {expected:?}",
                    got.map_or_else(|| "(none)".to_owned(), |v| format!("{v:?}"))
                ),
                why: if revalidate {
                    "a cache that keeps an old timestamp or checkpoint freezes customers on old \
                     metadata"
                } else {
                    "files that never change are fetched again and again"
                },
                fix: "serve the site with custody serve, or set these headers in the web \
                      server (custody_site::cache lists them per path)"
                    .to_owned(),
            });
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::MemoryTransport;

    #[test]
    fn cache_headers_are_judged_per_path_through_the_transport() {
        let site = MemoryTransport::new();
        let base = "https://releases.example.com";
        let good = [
            ("tuf/metadata/timestamp.json", "no-cache"),
            ("log/checkpoint", "no-cache"),
            ("trusted_root.json", "no-cache"),
            (
                "tuf/metadata/1.root.json",
                "public, max-age=31536000, immutable",
            ),
        ];
        for (path, cc) in good {
            site.serve_with_headers(&format!("{base}/{path}"), "x", &[("Cache-Control", cc)]);
        }
        assert!(cache_headers(base, &site).is_empty());

        // A timestamp cached for an hour, and a versioned root forbidden to be cached.
        site.serve_with_headers(
            &format!("{base}/tuf/metadata/timestamp.json"),
            "x",
            &[("cache-control", "public, max-age=3600")],
        );
        site.serve(&format!("{base}/tuf/metadata/1.root.json"), "x");
        let found = cache_headers(base, &site);
        let levels: Vec<(Level, &str)> = found
            .iter()
            .map(|f| (f.level, f.subject.rsplit('/').next().unwrap_or_default()))
            .collect();
        assert_eq!(
            levels,
            vec![
                (Level::Error, "timestamp.json"),
                (Level::Info, "1.root.json")
            ]
        );
        // Files the site does not have are not judged.
        assert!(cache_headers("https://elsewhere.example.com", &site).is_empty());
    }
}
