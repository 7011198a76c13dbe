//! The site's TUF repository (`site/tuf/`): where its keys live, how long its roles stay
//! valid, and how a published release becomes TUF targets.

use std::path::{Path, PathBuf};

use custody_attest::approval::APPROVALS_FILE;
use custody_tuf::repo::{Expiry, Repository};
use jiff::SignedDuration;

use crate::Error;
use crate::config::TufConfig;
use crate::site::{MANIFEST_FILE, Published};

pub use crate::config::ONLINE_ROLES;

/// The file of root key `n` (1-based), written by `custody repo init` to be moved offline.
pub fn root_key_path(keys_dir: &Path, n: usize) -> PathBuf {
    keys_dir.join(format!("root-{n}.key"))
}

/// Validity periods from `[tuf]`.
pub fn expiry(config: &TufConfig) -> Expiry {
    let days = |d: u32| SignedDuration::from_hours(i64::from(d) * 24);
    Expiry {
        root: days(config.root_days),
        targets: days(config.targets_days),
        snapshot: days(config.snapshot_days),
        timestamp: days(config.timestamp_days),
    }
}

/// Whether `dir` holds a TUF repository.
pub fn exists(dir: &Path) -> bool {
    dir.join("metadata").join("root.json").is_file()
}

/// Add a published release: each artifact and its bundle become targets
/// `<product>/<version>/<file>`, the artifact's custom metadata naming its product, version and
/// bundle. The caller commits.
pub fn add_release(
    repo: &mut Repository,
    published: &Published,
    hash_bins: Option<u32>,
) -> Result<Vec<String>, Error> {
    let (product, version) = (&published.product, &published.version);
    let mut added = Vec::new();
    for artifact in &published.artifacts {
        let bundle_name = artifact
            .bundle
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let custom = serde_json::json!({
            "custody": {
                "product": product,
                "version": version,
                "bundle": format!("{product}/{version}/{bundle_name}"),
            }
        });
        added.push(repo.add_target(
            product,
            version,
            &published.dir.join(&artifact.name),
            Some(custom),
            hash_bins,
        )?);
        added.push(repo.add_target(product, version, &artifact.bundle, None, hash_bins)?);
    }
    // The approvals sign the manifest: a customer needs both to check them.
    if published.dir.join(APPROVALS_FILE).is_file() {
        for doc in [MANIFEST_FILE, APPROVALS_FILE] {
            added.push(repo.add_target(
                product,
                version,
                &published.dir.join(doc),
                None,
                hash_bins,
            )?);
        }
    }
    Ok(added)
}
