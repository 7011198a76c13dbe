//! A supplier's project: `custody.toml`, the release and log keys, and the site's trust files.

use std::path::{Path, PathBuf};

use custody_crypto::{KeyAlgorithm, PublicKey, Signer as _};
use custody_site::config::{CONFIG_FILE, Config, Loaded};
use custody_site::fs::write_atomic;
use custody_site::git;
use custody_site::site::{InitOutcome, Site};
use serde::Serialize;

use crate::Error;
use crate::env::{Clock, Events, KeySource};

/// How to set a new project up; ignored for what an existing `custody.toml` already says.
#[derive(Debug, Clone, Default)]
pub struct InitRequest {
    /// The release key's algorithm.
    pub algorithm: Option<KeyAlgorithm>,
    /// The builder id recorded in provenance.
    pub builder_id: Option<String>,
    /// The source repository recorded in provenance (default: the git remote).
    pub source_repository: Option<String>,
    /// The site directory.
    pub site: Option<PathBuf>,
    /// The release key, when not the default file: another file, or a `pkcs11:` URI.
    pub key: Option<PathBuf>,
    /// The log's checkpoint key, likewise.
    pub log_key: Option<PathBuf>,
    /// Let the release key and the log key be one key.
    pub insecure_shared_key: bool,
}

/// A key of the project, and whether this run created it.
#[derive(Debug, Clone, Serialize)]
pub struct ProjectKey {
    /// The private key file.
    pub path: PathBuf,
    /// Whether it was created now.
    pub created: bool,
    /// Its public half.
    #[serde(skip)]
    pub public: PublicKey,
}

/// What [`init`] set up.
#[derive(Debug)]
pub struct Initialized {
    /// The configuration file.
    pub config: PathBuf,
    /// Whether it was written now.
    pub created_config: bool,
    /// The release signing key.
    pub key: ProjectKey,
    /// The transparency log's checkpoint key (Ed25519).
    pub log_key: ProjectKey,
    /// The site's trust files.
    pub site: InitOutcome,
    /// The site's policy file.
    pub policy: PathBuf,
    /// The site's trusted root.
    pub trusted_root: PathBuf,
}

fn project_key(
    path: PathBuf,
    algorithm: KeyAlgorithm,
    keys: &dyn KeySource,
) -> Result<ProjectKey, Error> {
    // A key in a token is used when it is there already, and made there when not.
    let there = if custody_site::config::is_key_uri(&path) {
        match keys.public_key(&path) {
            Ok(public) => Some(public),
            Err(Error::Pkcs11(custody_pkcs11::Error::KeyNotFound { .. })) => None,
            Err(e) => return Err(e),
        }
    } else if path.exists() {
        Some(keys.public_key(&path)?)
    } else {
        None
    };
    if let Some(public) = there {
        return Ok(ProjectKey {
            path,
            created: false,
            public,
        });
    }
    let public = keys.generate(&path, algorithm)?.public_key().clone();
    Ok(ProjectKey {
        path,
        created: true,
        public,
    })
}

/// Sets up (or completes) the project in `dir`: `custody.toml` when missing, the release key
/// and the log key when missing, and the site's policy and trusted root naming them. Running it
/// again changes nothing that exists.
pub fn init(
    dir: &Path,
    request: &InitRequest,
    keys: &dyn KeySource,
    clock: &dyn Clock,
    events: &dyn Events,
) -> Result<Initialized, Error> {
    if let (Some(key), Some(log_key)) = (&request.key, &request.log_key)
        && key == log_key
        && !request.insecure_shared_key
    {
        return Err(Error::SharedKey {
            first: "release",
            second: "log",
            key: key.display().to_string(),
        });
    }
    let config_path = dir.join(CONFIG_FILE);
    let created_config = !config_path.exists();
    if created_config {
        let mut config = Config::default();
        if let Some(a) = request.algorithm {
            config.signing.algorithm = a.name().to_owned();
        }
        if let Some(b) = &request.builder_id {
            config.provenance.builder_id = b.clone();
        }
        config.provenance.source_repository = request.source_repository.clone();
        if let Some(s) = &request.site {
            config.site.dir = s.clone();
        }
        if let Some(k) = &request.key {
            config.signing.key = k.clone();
        }
        if let Some(k) = &request.log_key {
            config.log.key = k.clone();
        }
        write_atomic(&config_path, config.to_toml().as_bytes())?;
        events.progress(&format!("Wrote {}", config_path.display()));
    } else if request.algorithm.is_some()
        || request.builder_id.is_some()
        || request.site.is_some()
        || request.key.is_some()
        || request.log_key.is_some()
    {
        events.warn(&format!(
            "{} exists; edit it to change the algorithm, builder id, site or keys",
            config_path.display()
        ));
    }
    let loaded = Loaded::from_dir(dir).map_err(Error::input)?;
    let key = project_key(loaded.key_path(), loaded.algorithm()?, keys)?;
    let log_key = project_key(loaded.log_key_path(), KeyAlgorithm::Ed25519, keys)?;
    // Keys that live inside the project stay out of version control.
    for path in [&key.path, &log_key.path]
        .into_iter()
        .filter(|p| !custody_site::config::is_key_uri(p))
    {
        if let Some(key_dir) = path.parent().filter(|d| *d != loaded.base.as_path()) {
            let ignore = key_dir.join(".gitignore");
            if !ignore.exists() {
                write_atomic(
                    &ignore,
                    b"# custody: private keys never belong in version control\n*\n",
                )?;
            }
        }
    }
    let repository = git::repository_url(
        &loaded.base,
        loaded.config.provenance.source_repository.as_deref(),
    )?;
    let site = Site::new(loaded.site_dir());
    let outcome = site.init(
        &key.public,
        &loaded.config.provenance.builder_id,
        &repository,
        clock.now(),
        Some((&loaded.config.log.origin, &log_key.public)),
    )?;
    Ok(Initialized {
        config: config_path,
        created_config,
        key,
        log_key,
        policy: site.policy_path(),
        trusted_root: site.trusted_root_path(),
        site: outcome,
    })
}

/// What [`revoke_key`] recorded.
#[derive(Debug, Clone, Serialize)]
pub struct Revoked {
    /// The key's hint.
    pub hint: String,
    /// From when.
    pub since: jiff::Timestamp,
    /// Why.
    pub reason: String,
    /// The policy written.
    pub policy: PathBuf,
    /// Whether the policy was published as a TUF target too.
    pub through_tuf: bool,
}

/// Revokes the key with `hint` in the site's policy from `since`, for `reason`: from then on a
/// signature by it verifies only where a witness's cosignature dates its log entry earlier.
/// A key already revoked keeps its first revocation.
pub fn revoke_key(
    loaded: &Loaded,
    hint: &str,
    since: jiff::Timestamp,
    reason: &str,
    keys: &dyn KeySource,
    clock: &dyn Clock,
) -> Result<Revoked, Error> {
    let _writer = crate::sequence::writer(loaded, &crate::env::Silent)?;
    let site = Site::new(loaded.site_dir());
    let path = site.policy_path();
    let mut policy = site.policy().map_err(Error::input)?;
    let entry = policy
        .keys
        .iter_mut()
        .find(|k| k.hint == hint)
        .ok_or_else(|| Error::KeyNotInPolicy {
            hint: hint.to_owned(),
            policy: path.clone(),
        })?;
    if let Some(earlier) = &entry.revoked {
        return Err(Error::KeyAlreadyRevoked {
            hint: hint.to_owned(),
            since: earlier.since,
        });
    }
    entry.revoked = Some(custody_attest::trust::Revocation {
        since,
        reason: reason.to_owned(),
    });
    write_atomic(&path, policy.to_json()?.as_bytes())?;
    // Customers who update through TUF take the revocation from there.
    let through_tuf = custody_site::tuf::exists(&loaded.tuf_dir())
        && crate::repo::publish_trust_files(loaded, keys, clock)?;
    Ok(Revoked {
        hint: hint.to_owned(),
        since,
        reason: reason.to_owned(),
        policy: path,
        through_tuf,
    })
}
