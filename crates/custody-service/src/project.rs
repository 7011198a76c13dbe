//! A supplier's project: `custody.toml`, the release and log keys, and the site's trust files.

use std::path::{Path, PathBuf};

use custody_crypto::{KeyAlgorithm, Signer as _};
use custody_site::config::{CONFIG_FILE, Config, Loaded};
use custody_site::fs::write_atomic;
use custody_site::git;
use custody_site::site::{InitOutcome, Site};
use serde::Serialize;

use crate::Error;
use crate::env::{Clock, Events, KeySource};
pub use crate::keys::ProjectKey;
use crate::keys::project_key;

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
    /// The signed, logged record of the revocation.
    pub event: PathBuf,
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
    transport: &std::sync::Arc<dyn crate::transport::Transport>,
) -> Result<Revoked, Error> {
    let _writer = crate::sequence::writer(loaded, &crate::env::Silent)?;
    // The event is signed by the release key in force: not by the key it revokes.
    let signer = crate::keys::unlock_one(keys, &loaded.key_path())?;
    if signer.public_key().hint().to_string() == hint {
        return Err(Error::RevokingCurrentKey {
            hint: hint.to_owned(),
        });
    }
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
    let (event, through_tuf) = crate::key_events::change_policy(
        loaded,
        &policy,
        &crate::key_events::KeyEvent {
            event: "revoke".to_owned(),
            key: hint.to_owned(),
            at: clock.now(),
            since: Some(since),
            reason: Some(reason.to_owned()),
            ..Default::default()
        },
        &signer,
        keys,
        clock,
        transport,
    )?;
    Ok(Revoked {
        event,
        hint: hint.to_owned(),
        since,
        reason: reason.to_owned(),
        policy: path,
        through_tuf,
    })
}

/// What [`rotate_release_key`] did.
#[derive(Debug, Clone, Serialize)]
pub struct RotatedKey {
    /// The key replaced.
    pub old: String,
    /// The key now signing releases.
    pub new: String,
    /// When.
    pub at: jiff::Timestamp,
    /// The log's size then: the old key's signatures below it keep verifying.
    pub log_size: u64,
    /// Where the old key file was kept (a file key replaced in place).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retired: Option<PathBuf>,
    /// Whether the policy was published as a TUF target too.
    pub through_tuf: bool,
    /// The signed, logged record of the rotation.
    pub event: PathBuf,
}

/// Replaces the release key: a new key (`new`, a file or `pkcs11:` URI, made there if it is
/// not yet; by default a new file where the key file is, the old one kept beside it) signs
/// from now on. The policy closes the old key's window and records the log's size, so what the
/// old key signed before still verifies and nothing it signs after does; the new key is
/// trusted from now. The policy reaches TUF customers at once.
pub fn rotate_release_key(
    loaded: &Loaded,
    new: Option<&Path>,
    keys: &dyn KeySource,
    clock: &dyn Clock,
    transport: &std::sync::Arc<dyn crate::transport::Transport>,
) -> Result<RotatedKey, Error> {
    let _writer = crate::sequence::writer(loaded, &crate::env::Silent)?;
    let now = clock.now();
    let log_size = crate::log::LogReader::size_of(loaded)?;
    let current = loaded.key_path();
    let old = keys.public_key(&current)?;
    let algorithm = loaded.algorithm()?;
    let (new_public, retired) = match new {
        Some(path) => {
            let public = project_key(path.to_path_buf(), algorithm, keys)?.public;
            let mut config = loaded.config.clone();
            config.signing.key = path.to_path_buf();
            loaded.rewrite_config(&config)?;
            (public, None)
        }
        None if custody_site::config::is_key_uri(&current) => {
            return Err(Error::RotateTokenKey {
                role: "release".to_owned(),
                key: current.display().to_string(),
            });
        }
        None => {
            let stamp = now.strftime("%Y%m%dT%H%M%SZ").to_string();
            let next = current.with_extension(format!("key.next-{stamp}"));
            let public = keys.generate(&next, algorithm)?.public_key().clone();
            (public, Some(swap_in(&current, &next, &stamp)?))
        }
    };
    if new_public == old {
        return Err(Error::SharedKey {
            first: "old release",
            second: "new release",
            key: old.hint().to_string(),
        });
    }
    let site = Site::new(loaded.site_dir());
    let path = site.policy_path();
    let mut policy = site.policy().map_err(Error::input)?;
    let hint = old.hint().to_string();
    let entry = policy
        .keys
        .iter_mut()
        .find(|k| k.hint == hint)
        .ok_or_else(|| Error::KeyNotInPolicy {
            hint: hint.clone(),
            policy: path.clone(),
        })?;
    entry.valid_for.end = Some(now);
    entry.rotated = Some(custody_attest::trust::LogPosition {
        at: now,
        log: loaded.config.log.origin.clone(),
        size: log_size,
    });
    let products = entry.products.clone();
    let mut added = custody_attest::trust::PolicyKey::new(
        &new_public,
        custody_attest::trust::TimeRange {
            start: now,
            end: None,
        },
    );
    added.products = products;
    policy.keys.push(added);
    // Signed by the new key, which the policy now trusts.
    let new_path = new.map_or(current, Path::to_path_buf);
    let signer = crate::keys::unlock_one(keys, &new_path)?;
    let (event, through_tuf) = crate::key_events::change_policy(
        loaded,
        &policy,
        &crate::key_events::KeyEvent {
            event: "rotate".to_owned(),
            key: hint.clone(),
            at: now,
            replaced_by: Some(new_public.hint().to_string()),
            log_size: Some(log_size),
            ..Default::default()
        },
        &signer,
        keys,
        clock,
        transport,
    )?;
    Ok(RotatedKey {
        event,
        old: hint,
        new: new_public.hint().to_string(),
        at: now,
        log_size,
        retired,
        through_tuf,
    })
}

/// Puts the key file `next` (and its `.pub`) where `current` is, keeping the current one beside
/// it as `<key>.retired-<stamp>`. Returns the retired key's path.
fn swap_in(current: &Path, next: &Path, stamp: &str) -> Result<PathBuf, Error> {
    let retired = current.with_extension(format!("key.retired-{stamp}"));
    let moved = |from: &Path, to: &Path| {
        std::fs::rename(from, to).map_err(|source| Error::Io {
            path: from.to_path_buf(),
            source,
        })
    };
    moved(current, &retired)?;
    moved(
        &crate::keys::pub_path(current),
        &crate::keys::pub_path(&retired),
    )?;
    moved(next, current)?;
    moved(
        &crate::keys::pub_path(next),
        &crate::keys::pub_path(current),
    )?;
    Ok(retired)
}

/// What [`rotate_log_key`] did.
#[derive(Debug, Clone, Serialize)]
pub struct RotatedLogKey {
    /// The log key replaced (its hint).
    pub old: String,
    /// The key now signing checkpoints.
    pub new: String,
    /// When.
    pub at: jiff::Timestamp,
    /// The log's size then: the old key's checkpoints keep proving entries below it.
    pub log_size: u64,
    /// The log's new verifier key (C2SP vkey), for the witnesses that cosign its checkpoints.
    pub vkey: String,
    /// Where the old key file was kept (a file key replaced in place).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retired: Option<PathBuf>,
    /// Whether the trust files were published as TUF targets too.
    pub through_tuf: bool,
    /// The signed, logged record of the rotation.
    pub event: PathBuf,
}

/// Replaces the transparency log's key: a new key (`new`, a file or `pkcs11:` URI, made there
/// if it is not yet; by default a new file where the key file is, the old one kept beside it)
/// signs its checkpoints from now on, starting with the current one, republished. The trusted
/// root closes the old key's window and lists the new key for the same log; the policy records
/// the log's size at the rotation, so checkpoints by the old key keep proving the entries they
/// held, and nothing larger. Both reach TUF customers at once. The log's witnesses must be told
/// its new verifier key.
pub fn rotate_log_key(
    loaded: &Loaded,
    new: Option<&Path>,
    keys: &dyn KeySource,
    clock: &dyn Clock,
    transport: &std::sync::Arc<dyn crate::transport::Transport>,
) -> Result<RotatedLogKey, Error> {
    use base64::Engine as _;
    let _writer = crate::sequence::writer(loaded, &crate::env::Silent)?;
    let now = clock.now();
    let stamp = now.strftime("%Y%m%dT%H%M%SZ").to_string();
    let origin = loaded.config.log.origin.clone();
    let current = loaded.log_key_path();
    let old = keys.public_key(&current)?;
    let next = match new {
        Some(path) => {
            project_key(path.to_path_buf(), KeyAlgorithm::Ed25519, keys)?;
            path.to_path_buf()
        }
        None if custody_site::config::is_key_uri(&current) => {
            return Err(Error::RotateTokenKey {
                role: "log".to_owned(),
                key: current.display().to_string(),
            });
        }
        None => {
            let next = current.with_extension(format!("key.next-{stamp}"));
            keys.generate(&next, KeyAlgorithm::Ed25519)?;
            next
        }
    };
    let new_key = crate::keys::unlock_one(keys, &next)?;
    let release_key = keys.public_key(&loaded.key_path())?;
    for (other, duty) in [(&old, "old log"), (&release_key, "release")] {
        if new_key.public_key() == other {
            return Err(Error::SharedKey {
                first: duty,
                second: "new log",
                key: other.hint().to_string(),
            });
        }
    }
    let mut log = crate::log::open_writer(loaded, keys, transport)?;
    let log_size = log.size();
    let id_of = |key: &custody_crypto::PublicKey| {
        key.ed25519_bytes().map(|raw| {
            base64::engine::general_purpose::STANDARD
                .encode(custody_attest::tlog::log_id(&origin, &raw))
        })
    };
    let (Some(old_id), Some(new_instance)) = (
        id_of(&old),
        custody_attest::tlog::log_instance(
            &origin,
            new_key.public_key(),
            custody_attest::trust::TimeRange {
                start: now,
                end: None,
            },
        ),
    ) else {
        return Err(custody_site::Error::LogKeyNotEd25519.into());
    };
    // The trust files name both keys before the log changes hands, so whatever a crash leaves,
    // customers can check the checkpoints published.
    let site = Site::new(loaded.site_dir());
    let mut root =
        custody_site::site::load_trusted_root(&site.trusted_root_path()).map_err(Error::input)?;
    for instance in root.tlogs.iter_mut().filter(|t| t.log_id.key_id == old_id) {
        instance.public_key.valid_for.end = Some(now);
    }
    root.tlogs.push(new_instance);
    write_atomic(&site.trusted_root_path(), root.to_json()?.as_bytes())?;
    log.rotate_key(&origin, new_key.clone())?;
    drop(log);
    let (updated, retired) = match new {
        Some(path) => {
            let mut config = loaded.config.clone();
            config.log.key = path.to_path_buf();
            loaded.rewrite_config(&config)?;
            (
                Loaded {
                    config,
                    ..loaded.clone()
                },
                None,
            )
        }
        None => (loaded.clone(), Some(swap_in(&current, &next, &stamp)?)),
    };
    let mut policy = site.policy().map_err(Error::input)?;
    policy
        .log_key_rotations
        .push(custody_attest::trust::LogKeyRotation {
            key_id: old_id,
            position: custody_attest::trust::LogPosition {
                at: now,
                log: origin.clone(),
                size: log_size,
            },
        });
    let signer = crate::keys::unlock_one(keys, &loaded.key_path())?;
    let (event, through_tuf) = crate::key_events::change_policy(
        &updated,
        &policy,
        &crate::key_events::KeyEvent {
            event: "rotate".to_owned(),
            key: old.hint().to_string(),
            at: now,
            replaced_by: Some(new_key.public_key().hint().to_string()),
            log_size: Some(log_size),
            ..Default::default()
        },
        &signer,
        keys,
        clock,
        transport,
    )?;
    let vkey = custody_site::log::note_verifier(&origin, new_key.public_key())?.to_vkey_string();
    Ok(RotatedLogKey {
        old: old.hint().to_string(),
        new: new_key.public_key().hint().to_string(),
        at: now,
        log_size,
        vkey,
        retired,
        through_tuf,
        event,
    })
}
