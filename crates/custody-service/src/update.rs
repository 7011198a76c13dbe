//! The customer's side: take a release through TUF, verify each artifact's Sigstore bundle and
//! provenance against the supplier's policy, and install it atomically.
//!
//! The TUF workflow refuses forged, rolled-back, frozen and mixed metadata, and artifacts of
//! the wrong length or hash. A version older than the installed one is refused as well (a
//! second line behind TUF's own rollback protection). The release is installed as
//! `<dir>/<version>/`, and `<dir>/current` is switched to it in one rename, so a crash leaves
//! the old version or the new one.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use custody_attest::verify::{Expectations, Status};
use custody_attest::version;
use custody_site::fs::{read_bounded, write_atomic};
use custody_site::verify::{VerifyFiles, verify_files};
use custody_tuf::updater::{cached_target, cached_target_path};
use custody_tuf::{Config, DirStore, Fetcher, Store as _, TargetFile, Updater};
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::env::{Clock, Events};
use crate::error::install_failed;

/// Where the updater keeps its state inside the installation directory.
pub const STATE: &str = ".custody-update";

/// What to update.
#[derive(Debug, Clone)]
pub struct UpdateRequest {
    /// The TUF repository: its base URL (with `metadata/` and `targets/` under it) or
    /// directory.
    pub repo: String,
    /// The product.
    pub product: String,
    /// An exact version, or `None` for the latest.
    pub version: Option<String>,
    /// Let the latest be a pre-release.
    pub pre: bool,
    /// The installation directory.
    pub dir: PathBuf,
    /// The initial trusted TUF root, needed on the first run only.
    pub root: Option<PathBuf>,
    /// The supplier's Sigstore trusted root; `None` takes it from the repository (a top-level
    /// target), as a revocation or a new key reaches customers.
    pub trust: Option<PathBuf>,
    /// The supplier's policy; likewise.
    pub policy: Option<PathBuf>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Installed {
    product: String,
    version: String,
}

/// What an update did.
#[derive(Debug, Serialize)]
pub struct Updated {
    /// The product.
    pub product: String,
    /// The version now installed.
    pub version: String,
    /// The version installed before, if any.
    pub previous: Option<String>,
    /// Where it is installed.
    pub installed: PathBuf,
    /// The artifacts verified and installed (none when already current).
    pub artifacts: Vec<String>,
    /// Whether the installed version was already the one asked for.
    pub up_to_date: bool,
}

fn tuf_error(what: &str) -> impl FnOnce(custody_tuf::Error) -> Error + '_ {
    move |source| Error::Tuf {
        dir: PathBuf::from(what),
        source,
    }
}

/// Updates `request.dir` to the requested release, fetching through `fetcher`.
pub fn update<F: Fetcher>(
    request: &UpdateRequest,
    fetcher: F,
    clock: &dyn Clock,
    events: &dyn Events,
) -> Result<Updated, Error> {
    let state = request.dir.join(STATE);
    let store = DirStore::new(state.join("metadata"));
    let store_name = state.join("metadata").display().to_string();
    if store
        .load("root.json")
        .map_err(tuf_error(&store_name))?
        .is_none()
    {
        let Some(root) = &request.root else {
            return Err(Error::NoTrustedRoot {
                dir: request.dir.clone(),
            });
        };
        let bytes = read_bounded(root, Config::default().root_max_length, "TUF root")
            .map_err(Error::input)?;
        store
            .save("root.json", &bytes)
            .map_err(tuf_error(&store_name))?;
    }
    let base = request.repo.trim_end_matches('/');
    let now = clock.now();
    let mut updater = Updater::new(
        fetcher,
        store,
        &format!("{base}/metadata"),
        Config::default(),
        now,
    )
    .map_err(tuf_error(base))?;
    events.progress(&format!("Refreshing TUF metadata from {base}"));
    updater.refresh().map_err(tuf_error(base))?;
    let targets = updater
        .list_role(&request.product)
        .map_err(tuf_error(base))?;
    let releases = releases(&request.product, &targets);
    let version = choose(request, base, &releases)?;
    let installed_file = state.join("installed.json");
    let previous = read_installed(&installed_file)?;
    if let Some(prev) = &previous {
        if prev.product != request.product {
            return Err(Error::OtherProductInstalled {
                dir: request.dir.clone(),
                installed: prev.product.clone(),
                wanted: request.product.clone(),
            });
        }
        match version::compare(&version, &prev.version) {
            Ordering::Less => {
                return Err(Error::Downgrade {
                    product: request.product.clone(),
                    installed: prev.version.clone(),
                    offered: version,
                });
            }
            Ordering::Equal => {
                return Ok(Updated {
                    product: request.product.clone(),
                    installed: request.dir.join(&version),
                    version,
                    previous: Some(prev.version.clone()),
                    artifacts: Vec::new(),
                    up_to_date: true,
                });
            }
            Ordering::Greater => {}
        }
    }
    let files = releases.get(&version).cloned().unwrap_or_default();
    let staging = Staging::create(state.join(format!("staging-{}", std::process::id())))?;
    let targets_url = format!("{base}/targets");
    let cache = state.join("targets");
    // The trust files the repository lists, unless the customer pinned their own: verified by
    // TUF like every target, so a rolled-back policy is refused with the metadata.
    let mut trust_files = Vec::with_capacity(2);
    for (given, name) in [
        (&request.trust, custody_site::site::TRUSTED_ROOT_FILE),
        (&request.policy, custody_site::site::POLICY_FILE),
    ] {
        let path = match given {
            Some(p) => p.clone(),
            None => {
                let info = updater.target_info(name).map_err(tuf_error(base))?;
                let bytes = updater
                    .download_target(&targets_url, name, &info)
                    .map_err(tuf_error(base))?;
                let path = state.join("trust").join(name);
                write_atomic(&path, &bytes)?;
                path
            }
        };
        trust_files.push(path);
    }
    let (trust, policy) = (trust_files[0].clone(), trust_files[1].clone());
    // A release that needed approvals carries its manifest and approvals as targets; verified
    // by TUF, they land beside the bundles, where the verifier finds them.
    for doc in [
        custody_site::site::MANIFEST_FILE,
        custody_attest::approval::APPROVALS_FILE,
    ] {
        let target = format!("{}/{version}/{doc}", request.product);
        if let Some(info) = targets.get(&target) {
            let bytes = updater
                .download_target(&targets_url, &target, info)
                .map_err(tuf_error(base))?;
            write_atomic(&staging.0.join(doc), &bytes)?;
        }
    }
    let mut names = Vec::new();
    for (artifact, bundle) in &files {
        for target in [artifact, bundle] {
            let info = updater.target_info(target).map_err(tuf_error(base))?;
            let bytes = match cached_target(&cache, target, &info) {
                Some(bytes) => bytes,
                None => {
                    events.progress(&format!("Downloading {target} ({} bytes)", info.length));
                    let bytes = updater
                        .download_target(&targets_url, target, &info)
                        .map_err(tuf_error(base))?;
                    write_atomic(&cached_target_path(&cache, target), &bytes)?;
                    bytes
                }
            };
            write_atomic(&staging.0.join(file_name(target)), &bytes)?;
        }
        let name = file_name(artifact);
        let (report, _) = verify_files(
            &VerifyFiles {
                artifact: staging.0.join(name),
                bundle: Some(staging.0.join(file_name(bundle))),
                manifest: None,
                approvals: None,
                trust: trust.clone(),
                policy: policy.clone(),
            },
            &Expectations {
                product: Some(request.product.clone()),
                version: Some(version.clone()),
                source_ref: None,
            },
            now,
        )
        .map_err(Error::input)?;
        if let Some(failed) = report.checks.iter().find(|c| c.status == Status::Fail) {
            return Err(Error::NotVerified {
                artifact: artifact.clone(),
                check: failed.name.as_str().to_owned(),
                detail: failed.detail.clone(),
            });
        }
        names.push(name.to_owned());
    }
    let installed = install(&request.dir, &version, &staging.0)?;
    let record = serde_json::to_vec_pretty(&Installed {
        product: request.product.clone(),
        version: version.clone(),
    })
    .map_err(|source| Error::Serialise {
        what: "the install record",
        source,
    })?;
    write_atomic(&installed_file, &record)?;
    Ok(Updated {
        product: request.product.clone(),
        version,
        previous: previous.map(|p| p.version),
        installed,
        artifacts: names,
        up_to_date: false,
    })
}

fn file_name(target: &str) -> &str {
    target.rsplit('/').next().unwrap_or(target)
}

/// The version to install: the one asked for, or the highest (pre-releases only if allowed).
fn choose(
    request: &UpdateRequest,
    base: &str,
    releases: &BTreeMap<String, Vec<(String, String)>>,
) -> Result<String, Error> {
    let not_listed = |version: Option<&str>| Error::ReleaseNotListed {
        repo: base.to_owned(),
        product: request.product.clone(),
        version: version.map(str::to_owned),
    };
    match &request.version {
        Some(v) if releases.contains_key(v) => Ok(v.clone()),
        Some(v) => Err(not_listed(Some(v))),
        None => {
            let latest = releases
                .keys()
                .filter(|v| request.pre || !version::is_prerelease(v))
                .max_by(|a, b| version::compare(a, b))
                .cloned();
            match latest {
                Some(v) => Ok(v),
                None if releases.is_empty() => Err(not_listed(None)),
                None => Err(Error::OnlyPrereleases {
                    repo: base.to_owned(),
                    product: request.product.clone(),
                }),
            }
        }
    }
}

/// Artifact targets of `product` by version, each with its bundle's target path.
fn releases(
    product: &str,
    targets: &BTreeMap<String, TargetFile>,
) -> BTreeMap<String, Vec<(String, String)>> {
    let mut out: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for (path, file) in targets {
        let Some(custom) = file.custom.as_ref().and_then(|c| c.get("custody")) else {
            continue;
        };
        let field = |k: &str| custom.get(k).and_then(|v| v.as_str());
        let (Some(p), Some(v), Some(bundle)) =
            (field("product"), field("version"), field("bundle"))
        else {
            continue;
        };
        // The custom fields are signed, but the path is what TUF checked: they must agree.
        if p != product || !path.starts_with(&format!("{product}/{v}/")) {
            continue;
        }
        out.entry(v.to_string())
            .or_default()
            .push((path.clone(), bundle.to_string()));
    }
    out
}

fn read_installed(path: &Path) -> Result<Option<Installed>, Error> {
    if !path.exists() {
        return Ok(None);
    }
    let bytes = read_bounded(path, 64 << 10, "install record").map_err(Error::input)?;
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|source| Error::InstallRecord {
            path: path.to_path_buf(),
            source,
        })
}

/// The staging directory, removed however the update ends: a refused or failed download
/// leaves nothing behind (after a successful install it has been renamed away already).
struct Staging(PathBuf);

impl Staging {
    fn create(path: PathBuf) -> Result<Self, Error> {
        // A crashed earlier run of this process id may have left one.
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).map_err(install_failed("the staging directory", &path))?;
        Ok(Self(path))
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        // Best effort: the directory is gone already after a successful install.
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Moves the staged release to `<dir>/<version>` and points `<dir>/current` at it with one
/// rename of a fresh symlink.
fn install(dir: &Path, version: &str, staging: &Path) -> Result<PathBuf, Error> {
    let target = dir.join(version);
    if target.exists() {
        std::fs::remove_dir_all(&target).map_err(install_failed("the release", &target))?;
    }
    std::fs::rename(staging, &target).map_err(install_failed("the release", &target))?;
    let link = dir.join("current");
    let tmp = dir.join(format!(".current-{}", std::process::id()));
    // A leftover from a crashed run would make the symlink below fail.
    let _ = std::fs::remove_file(&tmp);
    #[cfg(unix)]
    std::os::unix::fs::symlink(version, &tmp).map_err(install_failed("the current link", &tmp))?;
    std::fs::rename(&tmp, &link).map_err(install_failed("the current link", &link))?;
    Ok(target)
}
