//! Releasing: hash, gate, attest, sign, log, add TUF targets and publish, in that order, with
//! every refusal made before anything is signed or written.

use std::path::{Path, PathBuf};

use custody_attest::release::{CYCLONEDX_BOM, ReleaseFacts, SPDX_DOCUMENT, SourceState};
use custody_sbom::CycloneDxVersion;
use custody_site::config::Loaded;
use custody_site::git;
use custody_site::site::{Attachment, Site, check_name};

use custody_crypto::Signer as _;

use crate::Error;
pub use crate::commit::{AwaitingApproval, Prepared, Released, online_keys};
use crate::commit::{Committer, SBOM_CYCLONEDX};
use crate::env::{Events, Key};
use crate::gate::{Gate, GateRequest, parse_fail_on};
use crate::inputs::{SbomFormat, read_sbom, render_sbom};

/// What to release.
#[derive(Debug, Clone)]
pub struct ReleaseRequest {
    /// The product.
    pub product: String,
    /// The version; published versions are immutable.
    pub version: String,
    /// The files to release.
    pub artifacts: Vec<PathBuf>,
    /// Release from a tree with uncommitted changes (recorded in the provenance).
    pub allow_dirty: bool,
    /// A project directory, lockfile, binary or SBOM whose SBOM the release carries; the gate
    /// scans it.
    pub sbom: Option<PathBuf>,
    /// Release without scanning the SBOM, recording this reason in `scan.json`.
    pub skip_scan: Option<String>,
    /// The source as the pipeline that built the artifacts states it, when the server
    /// publishes for one; `None` reads the project's own git tree.
    pub source: Option<SourceState>,
    /// Sign even when one key serves two duties (the release key as the log key, say).
    pub insecure_shared_key: bool,
}

/// The duty of each key [`signing_key_paths`] lists, in its order.
const DUTIES: [&str; 5] = [
    "release",
    "log",
    "TUF targets",
    "TUF snapshot",
    "TUF timestamp",
];

/// The duty of each key [`signing_key_paths`] lists, in its order (products' own TUF targets
/// keys last).
pub(crate) fn duties() -> impl Iterator<Item = &'static str> {
    DUTIES
        .into_iter()
        .chain(std::iter::repeat("a product's TUF targets"))
}

/// Separate duties: each of the release, log and online TUF keys (`keys`, in
/// [`signing_key_paths`] order) must be a key of its own, so that one stolen key does not both
/// sign a release and vouch for it; unless `insecure_shared_key` says otherwise.
pub fn check_duties(
    keys: &[Key],
    insecure_shared_key: bool,
    events: &dyn Events,
) -> Result<(), Error> {
    let duty = |i: usize| duties().nth(i).unwrap_or("?");
    for (i, a) in keys.iter().enumerate() {
        for (j, b) in keys.iter().enumerate().skip(i + 1) {
            if a.public_key() != b.public_key() {
                continue;
            }
            let (first, second) = (duty(i), duty(j));
            if insecure_shared_key {
                events.warn(&format!(
                    "the {first} key also serves as the {second} key ({})",
                    a.public_key().hint()
                ));
            } else {
                return Err(Error::SharedKey {
                    first,
                    second,
                    key: a.public_key().hint().to_string(),
                });
            }
        }
    }
    Ok(())
}

/// The keys a release signs with, in the order it takes them: the release key, the log key,
/// then the TUF repository's online keys and products' targets keys when the site has one.
pub fn signing_key_paths(loaded: &Loaded) -> Vec<PathBuf> {
    let mut paths = vec![loaded.key_path(), loaded.log_key_path()];
    if custody_site::tuf::exists(&loaded.tuf_dir()) {
        paths.extend(loaded.tuf_signing_key_paths());
    }
    paths
}

/// The project's source tree as git has it: repository (the configured URL first), ref,
/// commit, and whether it is clean apart from custody's own outputs.
pub fn project_source(loaded: &Loaded) -> Result<SourceState, Error> {
    Ok(git::source_state(
        &loaded.base,
        loaded.config.provenance.source_repository.as_deref(),
        &loaded.outputs(),
    )?)
}

/// The release, log and online TUF keys, unlocked once from `keys` and held in memory: what
/// a server signs with for as long as it runs.
pub fn held_signing_keys(
    loaded: &Loaded,
    keys: &dyn crate::env::KeySource,
    insecure_shared_key: bool,
    events: &dyn Events,
) -> Result<crate::env::MemoryKeys, Error> {
    let paths = signing_key_paths(loaded);
    let refs: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
    let unlocked = keys.unlock(&refs)?;
    check_duties(&unlocked, insecure_shared_key, events)?;
    Ok(crate::env::MemoryKeys::holding(
        paths.iter().cloned().zip(unlocked),
    ))
}

pub use crate::env::ReleaseEnv;

/// The SBOM attachments, the gate's decision and the graph, when the release has an SBOM.
type SbomParts = (Vec<Attachment>, Option<Gate>, Option<custody_sbom::Sbom>);

fn sbom_parts(
    loaded: &Loaded,
    request: &ReleaseRequest,
    env: &ReleaseEnv<'_>,
    started_on: jiff::Timestamp,
) -> Result<SbomParts, Error> {
    let Some(path) = &request.sbom else {
        return Ok((Vec::new(), None, None));
    };
    let sbom = read_sbom(path)?;
    env.events.progress(&format!(
        "SBOM: {} component(s) from {}",
        sbom.len(),
        path.display()
    ));
    let gate = crate::gate::check(
        &GateRequest {
            product: &request.product,
            version: &request.version,
            sbom: &sbom,
            fail_on: parse_fail_on(&loaded.config.vulndb.fail_on)?,
            db: &loaded.vulndb_dir(),
            vex_dir: &loaded.vex_dir(),
            skip_scan: request.skip_scan.as_deref(),
        },
        env.clock,
        env.events,
    )?;
    let mut attachments = vec![
        Attachment {
            name: SBOM_CYCLONEDX.to_owned(),
            bytes: render_sbom(
                &sbom,
                SbomFormat::CycloneDx(CycloneDxVersion::V1_6),
                started_on,
            )
            .into_bytes(),
            predicate_type: CYCLONEDX_BOM,
        },
        Attachment {
            name: "sbom.spdx.json".to_owned(),
            bytes: render_sbom(&sbom, SbomFormat::Spdx, started_on).into_bytes(),
            predicate_type: SPDX_DOCUMENT,
        },
    ];
    attachments.extend(gate.attachments.iter().cloned());
    Ok((attachments, Some(gate), Some(sbom)))
}

/// Signs and publishes a release of the project `loaded`.
///
/// Copies the artifacts into `site/releases/<product>/<version>/`, hashes the copies, records
/// SLSA provenance, signs one DSSE bundle per artifact plus a provenance bundle and a release
/// manifest, logs every bundle, and publishes the directory atomically; then adds the release
/// to the TUF repository (when the site has one) and to the catalog. With an SBOM the gate runs
/// first. The name checks, the gate, the source state and the keys are all checked before
/// anything is written.
pub fn release(
    loaded: &Loaded,
    request: &ReleaseRequest,
    env: &ReleaseEnv<'_>,
) -> Result<Released, Error> {
    let prepared = prepare(loaded, request, env)?;
    Committer::default().commit(loaded, prepared, env)
}

/// Everything of a release that needs no lock: the checks, the gate, the keys, and the staged,
/// hashed and signed release. Nothing reaches the site, the log or the TUF repository.
pub fn prepare(
    loaded: &Loaded,
    request: &ReleaseRequest,
    env: &ReleaseEnv<'_>,
) -> Result<Prepared, Error> {
    check_name("product", &request.product).map_err(Error::input)?;
    check_name("version", &request.version).map_err(Error::input)?;
    let site = Site::new(loaded.site_dir()).staging_in(loaded.release_staging_dir());
    let target = site.release_dir(&request.product, &request.version);
    if target.exists() {
        return Err(custody_site::Error::AlreadyPublished {
            product: request.product.clone(),
            version: request.version.clone(),
            path: target,
        }
        .into());
    }
    let rule = site.policy()?.approval_rule(&request.product).cloned();
    let site = match &rule {
        Some(_) => site.holding_in(loaded.held_dir()),
        None => site,
    };
    if let Some(held) = site
        .held_dir(&request.product, &request.version)
        .filter(|d| d.exists())
    {
        return Err(custody_site::Error::AlreadyHeld {
            product: request.product.clone(),
            version: request.version.clone(),
            path: held,
        }
        .into());
    }
    let started_on = env.clock.now();
    let (attachments, gate, sbom) = sbom_parts(loaded, request, env, started_on)?;
    let source = match &request.source {
        Some(claimed) => claimed.clone(),
        None => project_source(loaded)?,
    };
    if !source.clean {
        if request.allow_dirty {
            env.events
                .warn("releasing from a tree with uncommitted changes; the provenance records it");
        } else if request.source.is_some() {
            return Err(Error::DirtySource {
                repository: source.repository,
                commit: source.commit,
            });
        } else {
            let (count, first) = git::dirty_paths(&loaded.base, &loaded.outputs())?;
            return Err(custody_site::Error::DirtyTree {
                dir: loaded.base.clone(),
                count,
                first,
            }
            .into());
        }
    }
    // Every key is unlocked (one passphrase) and checked before anything is written.
    let paths = signing_key_paths(loaded);
    let refs: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
    // In `paths` order: the release key, the log key, then the online TUF keys (whose count
    // `online_keys` checks).
    let unlocked = env.keys.unlock(&refs)?;
    check_duties(&unlocked, request.insecure_shared_key, env.events)?;
    let mut keys = unlocked.into_iter();
    let (Some(signer), Some(log_key)) = (keys.next(), keys.next()) else {
        return Err(Error::KeyMissing {
            path: loaded.key_path(),
        });
    };
    let tuf_keys: Vec<Key> = keys.collect();
    env.events.progress(&format!(
        "Releasing {} {} from {} at {} ({} artifact(s))",
        request.product,
        request.version,
        source.repository,
        &source.commit[..source.commit.len().min(12)],
        request.artifacts.len()
    ));
    let facts = ReleaseFacts {
        product: request.product.clone(),
        version: request.version.clone(),
        builder_id: loaded.config.provenance.builder_id.clone(),
        source,
        allow_dirty: request.allow_dirty,
        invocation_id: format!("{}-{}", started_on.as_millisecond(), std::process::id()),
        started_on,
        finished_on: env.clock.now(),
    };
    let staged = site.stage(signer.as_ref(), &facts, &request.artifacts, &attachments)?;
    Ok(Prepared {
        staged,
        rule,
        gate,
        sbom,
        cyclonedx: cyclonedx(&attachments).map(str::to_owned),
        log_key,
        tuf_keys,
    })
}

/// The release's CycloneDX SBOM text, among its attachments.
fn cyclonedx(attachments: &[Attachment]) -> Option<&str> {
    attachments
        .iter()
        .find(|a| a.name == SBOM_CYCLONEDX)
        .and_then(|a| std::str::from_utf8(&a.bytes).ok())
}
