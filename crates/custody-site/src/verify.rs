//! `custody verify` over files: read what is needed (bounded), then call the pure verifier.

use std::io::Read;
use std::path::{Path, PathBuf};

use custody_attest::approval::{APPROVALS_FILE, MAX_APPROVALS_BYTES};
use custody_attest::bundle::MAX_BUNDLE_BYTES;
use custody_attest::verify::{Expectations, Report, Request, verify};
use custody_crypto::{Algorithms, digest_file};

use crate::Error;
use crate::site::{MANIFEST_FILE, default_bundle_path, load_policy, load_trusted_root};

/// The files one verification reads.
#[derive(Debug, Clone)]
pub struct VerifyFiles {
    /// The artifact.
    pub artifact: PathBuf,
    /// Its bundle; default `<artifact>.sigstore.json`.
    pub bundle: Option<PathBuf>,
    /// The release manifest; default `manifest.json` beside the bundle, if there is one.
    pub manifest: Option<PathBuf>,
    /// The release's approvals; default `approvals.json` beside the manifest, if there is one.
    pub approvals: Option<PathBuf>,
    /// `trusted_root.json`.
    pub trust: PathBuf,
    /// `custody-policy.json`.
    pub policy: PathBuf,
}

/// The paths actually used, for the report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct UsedFiles {
    /// The artifact.
    pub artifact: PathBuf,
    /// The bundle.
    pub bundle: PathBuf,
    /// The manifest, if one was found.
    pub manifest: Option<PathBuf>,
    /// The approvals, if any were found.
    pub approvals: Option<PathBuf>,
}

/// Read bytes up to one past `limit`, so the verifier itself can report "too large" as a
/// verification failure while memory stays bounded.
fn read_capped(path: &Path, limit: usize) -> Result<Vec<u8>, Error> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    if file.metadata().map_err(io)?.is_dir() {
        return Err(Error::Io {
            path: path.to_path_buf(),
            source: std::io::Error::other("is a directory, not a bundle"),
        });
    }
    let mut out = Vec::new();
    file.take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(io)?;
    Ok(out)
}

/// Verify one artifact. `Err` means an input could not be read at all (exit 2); a readable
/// input that fails a check is a [`Report`] with `verified == false` (exit 1).
pub fn verify_files(
    files: &VerifyFiles,
    expect: &Expectations,
    now: jiff::Timestamp,
) -> Result<(Report, UsedFiles), Error> {
    let policy = load_policy(&files.policy)?;
    let trusted_root = load_trusted_root(&files.trust)?;
    let bundle_path = files
        .bundle
        .clone()
        .unwrap_or_else(|| default_bundle_path(&files.artifact));
    let manifest_path = match &files.manifest {
        Some(p) => Some(p.clone()),
        None => {
            let beside = bundle_path.with_file_name(MANIFEST_FILE);
            beside.is_file().then_some(beside)
        }
    };
    let approvals_path = match (&files.approvals, &manifest_path) {
        (Some(p), _) => Some(p.clone()),
        (None, Some(manifest)) => {
            let beside = manifest.with_file_name(APPROVALS_FILE);
            beside.is_file().then_some(beside)
        }
        (None, None) => None,
    };
    let artifact = digest_file(&files.artifact, Algorithms::Both)?;
    let bundle = read_capped(&bundle_path, MAX_BUNDLE_BYTES)?;
    let manifest = match &manifest_path {
        Some(p) => Some(read_capped(p, MAX_BUNDLE_BYTES)?),
        None => None,
    };
    let approvals = match &approvals_path {
        Some(p) => Some(read_capped(p, MAX_APPROVALS_BYTES)?),
        None => None,
    };
    let report = verify(&Request {
        artifact: &artifact,
        bundle: &bundle,
        manifest: manifest.as_deref(),
        approvals: approvals.as_deref(),
        policy: &policy,
        trusted_root: &trusted_root,
        expect,
        now,
    });
    Ok((
        report,
        UsedFiles {
            artifact: files.artifact.clone(),
            bundle: bundle_path,
            manifest: manifest_path,
            approvals: approvals_path,
        },
    ))
}
