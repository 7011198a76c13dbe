//! A key's life where customers look: every rotation and revocation is a signed statement about
//! the policy it produced (predicate [`KEY_EVENT_PREDICATE`]), logged in the transparency log so
//! that a supplier cannot quietly rewrite its history, and kept in the site's `keys/`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use custody_attest::bundle;
use custody_attest::release::Artifact;
use custody_crypto::{Algorithms, digest_file};
use custody_site::config::Loaded;
use custody_site::fs::{read_bounded, write_atomic};
use custody_site::site::{POLICY_FILE, Site};
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::env::{Key, KeySource};
use crate::log::LogReader;
use crate::transport::Transport;

/// The in-toto predicate type of a key event.
pub const KEY_EVENT_PREDICATE: &str = "https://custody.dev/key-event/v1";

/// The site directory holding the events.
pub const KEYS_DIR: &str = "keys";

/// The largest event file read back.
const MAX_EVENT: u64 = 1 << 20;

/// One change in the keys a policy trusts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyEvent {
    /// `rotate`, `revoke` or `approvers` (a product's approval rule set).
    pub event: String,
    /// The key it is about.
    pub key: String,
    /// When it was made.
    pub at: jiff::Timestamp,
    /// The key that replaced it (a rotation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced_by: Option<String>,
    /// The log's size at a rotation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_size: Option<u64>,
    /// From when a revoked key is not trusted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<jiff::Timestamp>,
    /// Why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The product whose approval rule was set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    /// How many approvers it asks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<usize>,
    /// The approvers' key hints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approvers: Option<Vec<String>>,
}

/// Signs `event` with `signer` (a key the new policy trusts) as a statement about the site's
/// policy as it now is, logs it and keeps it in the site's `keys/`. Returns the event file.
fn record(
    loaded: &Loaded,
    event: &KeyEvent,
    signer: &Key,
    keys: &dyn KeySource,
    transport: &Arc<dyn Transport>,
) -> Result<PathBuf, Error> {
    let site = Site::new(loaded.site_dir());
    let policy_path = site.policy_path();
    let digests = digest_file(&policy_path, Algorithms::Both).map_err(|source| Error::Hash {
        path: policy_path.clone(),
        source,
    })?;
    let value = serde_json::to_value(event).map_err(|source| Error::Serialise {
        what: "a key event",
        source,
    })?;
    let base = format!(
        "{}-{}-{}",
        event.at.strftime("%Y%m%dT%H%M%S%.fZ"),
        event.event,
        event.key.replace(['/', '+', '='], "_")
    );
    let file = loaded
        .site_dir()
        .join(KEYS_DIR)
        .join(format!("{base}.json"));
    crate::log::SignedDocument {
        path: &file,
        subjects: &[Artifact {
            name: POLICY_FILE.to_owned(),
            digests,
        }],
        predicate_type: KEY_EVENT_PREDICATE,
        predicate: &value,
    }
    .publish(
        loaded,
        signer,
        (keys, transport),
        &crate::env::Silent,
        event.at,
    )?;
    Ok(file)
}

/// A change of the site's policy, made where customers look: writes `policy`, records `event`
/// about it (signed by `signer`, a key the new policy trusts, and logged), and publishes the
/// trust files through the TUF repository when the site has one. Returns the event file and
/// whether TUF carries the new policy.
pub(crate) fn change_policy(
    loaded: &Loaded,
    policy: &custody_attest::trust::Policy,
    event: &KeyEvent,
    signer: &Key,
    keys: &dyn KeySource,
    clock: &dyn crate::env::Clock,
    transport: &Arc<dyn Transport>,
) -> Result<(PathBuf, bool), Error> {
    write_atomic(
        &Site::new(loaded.site_dir()).policy_path(),
        policy.to_json()?.as_bytes(),
    )?;
    let file = record(loaded, event, signer, keys, transport)?;
    let through_tuf = custody_site::tuf::exists(&loaded.tuf_dir())
        && crate::repo::publish_trust_files(loaded, keys, clock)?;
    Ok((file, through_tuf))
}

/// A key event as `custody key history` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct Recorded {
    /// The event.
    #[serde(flatten)]
    pub event: KeyEvent,
    /// Its file on the site.
    pub file: PathBuf,
    /// Its log entry.
    pub log_index: Option<u64>,
    /// Whether its bundle signs exactly this event and the published log holds it.
    pub verified: bool,
    /// Why not, when not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// Every key event on the site, oldest first, each checked: its bundle's statement is this
/// event, and the published log records the bundle's signature under its signed checkpoint.
pub fn history(loaded: &Loaded) -> Result<Vec<Recorded>, Error> {
    let paths = crate::log::site_documents(&loaded.site_dir().join(KEYS_DIR))?;
    if paths.is_empty() {
        return Ok(Vec::new());
    }
    let log = LogReader::open(loaded)?;
    let policy = Site::new(loaded.site_dir())
        .policy()
        .map_err(Error::input)?;
    let mut out = Vec::new();
    for path in paths {
        let bytes = read_bounded(&path, MAX_EVENT, "key event").map_err(Error::input)?;
        let event: KeyEvent = serde_json::from_slice(&bytes).map_err(|source| Error::NotJson {
            what: "a key event",
            source,
        })?;
        let (log_index, problem) = check(&path, &event, &log, &policy);
        out.push(Recorded {
            event,
            file: path,
            log_index,
            verified: problem.is_none(),
            problem,
        });
    }
    out.sort_by(|a, b| a.event.at.cmp(&b.event.at).then(a.file.cmp(&b.file)));
    Ok(out)
}

/// The event's log index, and what is wrong with it, if anything.
fn check(
    path: &Path,
    event: &KeyEvent,
    log: &LogReader,
    policy: &custody_attest::trust::Policy,
) -> (Option<u64>, Option<String>) {
    let bundle_path = path.with_extension("json.sigstore.json");
    let Ok(bytes) = read_bounded(&bundle_path, bundle::MAX_BUNDLE_BYTES as u64, "bundle") else {
        return (None, Some(format!("{} is missing", bundle_path.display())));
    };
    let signed = match bundle::parse(&bytes) {
        Ok(s) => s,
        Err(e) => return (None, Some(e.to_string())),
    };
    // Signed by a key the policy trusted when the event was made.
    let trusted = policy
        .key_for_logged(&signed.hint, event.at, None)
        .and_then(|key| bundle::verify_envelope(&signed.envelope, key));
    if let Err(e) = trusted {
        return (None, Some(e.to_string()));
    }
    #[derive(Deserialize)]
    struct Statement {
        predicate: KeyEvent,
    }
    let signed_event = serde_json::from_slice::<Statement>(signed.envelope.payload.as_bytes())
        .map(|s| s.predicate);
    if signed_event.as_ref().ok() != Some(event) {
        return (
            None,
            Some("the file differs from the event its bundle signs".to_owned()),
        );
    }
    let Some(index) = signed
        .tlog_entries
        .first()
        .and_then(|e| e.log_index.parse::<u64>().ok())
    else {
        return (None, Some("the bundle names no log entry".to_owned()));
    };
    let problem = log
        .check_recorded(index, &signed)
        .err()
        .map(|e| e.to_string());
    (Some(index), problem)
}
