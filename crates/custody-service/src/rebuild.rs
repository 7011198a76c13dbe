//! Reproducible-build checks: a second, independent build's outputs compared with a published
//! release, the differences explained (custody-rebuild), and the outcome, pass or fail, signed
//! as an in-toto Statement about the release's artifacts (predicate
//! [`REPRODUCIBILITY_PREDICATE`]), logged, and kept on the site under `rebuilds/`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use custody_attest::release::Artifact;
use custody_crypto::{Algorithms, Digests, Sha256Digest, Sha512Digest, digest_file};
use custody_rebuild::{Explanation, Limits};
use custody_site::config::Loaded;
use custody_site::site::{Site, published_release};
use serde::Serialize;

use crate::Error;
use crate::env::{Clock, Events, KeySource};
use crate::transport::Transport;

/// The in-toto predicate type of a reproducibility attestation.
pub const REPRODUCIBILITY_PREDICATE: &str = "https://custody.dev/reproducibility/v1";

/// The site directory holding the attestations, by product and version.
pub const REBUILDS_DIR: &str = "rebuilds";

/// What to compare.
#[derive(Debug, Clone)]
pub struct RebuildRequest {
    /// The published release's directory (`site/releases/<product>/<version>`).
    pub release_dir: PathBuf,
    /// Where the second build put its outputs, under the released artifacts' names.
    pub rebuilt_dir: PathBuf,
    /// The command that built them, when custody ran it (recorded as given).
    pub command: Option<Vec<String>>,
}

/// One released artifact, rebuilt.
#[derive(Debug, Clone, Serialize)]
pub struct RebuiltArtifact {
    /// Its name.
    pub name: String,
    /// The released SHA-256 (hex).
    pub released_sha256: String,
    /// The rebuilt one, absent when the build made no such file.
    pub rebuilt_sha256: Option<String>,
    /// Whether they are the same bytes.
    pub reproduced: bool,
    /// Where they differ, when they do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explanation: Option<Explanation>,
    /// Why no explanation could be made, when none could.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unexplained: Option<String>,
}

/// The outcome.
#[derive(Debug, Clone, Serialize)]
pub struct RebuildReport {
    /// The product.
    pub product: String,
    /// The version.
    pub version: String,
    /// Whether every artifact was reproduced bit for bit.
    pub reproduced: bool,
    /// Each artifact.
    pub artifacts: Vec<RebuiltArtifact>,
    /// The signed, logged attestation on the site (beside the document it signs, `.json`).
    pub attestation: PathBuf,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Predicate<'a> {
    product: &'a str,
    version: &'a str,
    reproduced: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    command: Option<&'a [String]>,
    checked_at: jiff::Timestamp,
    artifacts: &'a [RebuiltArtifact],
}

/// Compares the rebuilt outputs with the release, then signs and logs the outcome, pass or
/// fail, and keeps it on the site.
pub fn check(
    loaded: &Loaded,
    request: &RebuildRequest,
    keys: &dyn KeySource,
    clock: &dyn Clock,
    transport: &Arc<dyn Transport>,
    events: &dyn Events,
) -> Result<RebuildReport, Error> {
    let (_, product, version) = crate::monitor::release_names(&request.release_dir)?;
    let site = Site::new(loaded.site_dir());
    let released = published_release(&site, &product, &version)?;
    let _writer = crate::sequence::writer(loaded, events)?;
    let mut artifacts = Vec::with_capacity(released.artifacts.len());
    let mut subjects = Vec::with_capacity(released.artifacts.len());
    for a in &released.artifacts {
        events.progress(&format!("Comparing {}", a.name));
        let released_path = released.dir.join(&a.name);
        subjects.push(Artifact {
            name: a.name.clone(),
            digests: Digests {
                size: a.size,
                sha256: Sha256Digest::from_hex(&a.sha256).ok(),
                sha512: Sha512Digest::from_hex(&a.sha512).ok(),
            },
        });
        let rebuilt_path = request.rebuilt_dir.join(&a.name);
        if !rebuilt_path.is_file() {
            artifacts.push(RebuiltArtifact {
                name: a.name.clone(),
                released_sha256: a.sha256.clone(),
                rebuilt_sha256: None,
                reproduced: false,
                explanation: None,
                unexplained: Some(format!("the build made no {}", a.name)),
            });
            continue;
        }
        let rebuilt =
            digest_file(&rebuilt_path, Algorithms::Sha256).map_err(|source| Error::Hash {
                path: rebuilt_path.clone(),
                source,
            })?;
        let rebuilt_hex = rebuilt.sha256.map(|d| d.to_hex()).unwrap_or_default();
        let reproduced = rebuilt_hex == a.sha256;
        let (explanation, unexplained) = if reproduced {
            (None, None)
        } else {
            match explain(&released_path, &rebuilt_path) {
                Ok(e) => (Some(e), None),
                Err(why) => (None, Some(why)),
            }
        };
        artifacts.push(RebuiltArtifact {
            name: a.name.clone(),
            released_sha256: a.sha256.clone(),
            rebuilt_sha256: Some(rebuilt_hex),
            reproduced,
            explanation,
            unexplained,
        });
    }
    let reproduced = artifacts.iter().all(|a| a.reproduced);
    let now = clock.now();
    let predicate = serde_json::to_value(Predicate {
        product: &product,
        version: &version,
        reproduced,
        command: request.command.as_deref(),
        checked_at: now,
        artifacts: &artifacts,
    })
    .map_err(|source| Error::Serialise {
        what: "a reproducibility attestation",
        source,
    })?;
    let signer = crate::keys::unlock_one(keys, &loaded.key_path())?;
    let document = loaded
        .site_dir()
        .join(REBUILDS_DIR)
        .join(&product)
        .join(&version)
        .join(format!("{}.json", now.strftime("%Y%m%dT%H%M%S%.fZ")));
    let attestation = crate::log::SignedDocument {
        path: &document,
        subjects: &subjects,
        predicate_type: REPRODUCIBILITY_PREDICATE,
        predicate: &predicate,
    }
    .publish(loaded, &signer, (keys, transport), events, now)?;
    Ok(RebuildReport {
        product,
        version,
        reproduced,
        artifacts,
        attestation,
    })
}

fn explain(released: &Path, rebuilt: &Path) -> Result<Explanation, String> {
    let open = |p: &Path| {
        std::fs::File::open(p)
            .map(std::io::BufReader::new)
            .map_err(|e| format!("{}: {e}", p.display()))
    };
    let (mut a, mut b) = (open(released)?, open(rebuilt)?);
    custody_rebuild::explain(&mut a, &mut b, &Limits::default()).map_err(|e| e.to_string())
}
