//! `custody update`: take a release through TUF, verify its Sigstore bundle and provenance
//! against the supplier's policy, and install it atomically.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use custody_attest::verify::{Expectations, Status};
use custody_attest::version;
use custody_site::fs::{read_bounded, write_atomic};
use custody_site::verify::{VerifyFiles, verify_files};
use custody_tuf::updater::{cached_target, cached_target_path};
use custody_tuf::{Config, DirStore, Store as _, TargetFile, Updater};
use serde::{Deserialize, Serialize};

use crate::output::{CmdResult, Output, usage};
use custody_service::transport::UrlFetcher;

/// Update a product from a custody release site's TUF repository.
///
/// The TUF workflow refuses forged, rolled-back, frozen and mixed metadata, and artifacts of
/// the wrong length or hash. Each artifact's Sigstore bundle and provenance are then verified
/// against the supplier's policy, and a version older than the installed one is refused. The
/// release is installed as `<dir>/<version>/`, and `<dir>/current` is switched to it in one
/// rename, so a crash leaves the old version or the new one.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  custody update --repo https://downloads.example.com/tuf --root 1.root.json \\
      --trust trusted_root.json --policy custody-policy.json --product app --dir /opt/app
  custody update --repo ./site/tuf ... --to 1.4.2     # a local copy of the site works too

The first run needs --root, a TUF root obtained securely (site/tuf/metadata/1.root.json);
later runs trust the root stored in <dir>/.custody-update/metadata/.")]
pub struct Args {
    /// The TUF repository: its base URL (with metadata/ and targets/ under it) or directory.
    #[arg(long)]
    repo: String,
    /// The product.
    #[arg(long)]
    product: String,
    /// `latest`, or an exact version. Versions are ordered by SemVer precedence (a leading `v`
    /// ignored, build metadata not counted); `latest` skips pre-releases unless --pre is given.
    #[arg(long, default_value = "latest")]
    to: String,
    /// Let `--to latest` pick a pre-release (`1.5.0-rc.1`) when it is the highest version.
    #[arg(long)]
    pre: bool,
    /// Installation directory.
    #[arg(long)]
    dir: PathBuf,
    /// Initial trusted TUF root (first run only).
    #[arg(long)]
    root: Option<PathBuf>,
    /// The supplier's Sigstore trusted root (`trusted_root.json`).
    #[arg(long)]
    trust: PathBuf,
    /// The supplier's policy (`custody-policy.json`).
    #[arg(long)]
    policy: PathBuf,
}

/// What is installed, remembered to refuse downgrades.
#[derive(Debug, Serialize, Deserialize)]
struct Installed {
    product: String,
    version: String,
}

#[derive(Debug, Serialize)]
struct Report {
    product: String,
    version: String,
    previous: Option<String>,
    installed: PathBuf,
    artifacts: Vec<String>,
    up_to_date: bool,
}

const STATE: &str = ".custody-update";

pub fn run(args: Args, out: &Output) -> CmdResult {
    let state = args.dir.join(STATE);
    let store = DirStore::new(state.join("metadata"));
    if store.load("root.json")?.is_none() {
        let Some(root) = &args.root else {
            return Err(usage(anyhow::anyhow!(
                "{} has no trusted TUF root yet: give --root (the supplier's 1.root.json)",
                args.dir.display()
            )));
        };
        let bytes =
            read_bounded(root, Config::default().root_max_length, "TUF root").map_err(usage)?;
        store.save("root.json", &bytes)?;
    }
    let base = args.repo.trim_end_matches('/');
    let now = jiff::Timestamp::now();
    let mut updater = Updater::new(
        UrlFetcher::http(),
        store,
        &format!("{base}/metadata"),
        Config::default(),
        now,
    )?;
    out.progress(format!("Refreshing TUF metadata from {base}"));
    updater.refresh()?;
    let targets = updater
        .list_role(&args.product)
        .with_context(|| format!("listing {} in {base}", args.product))?;
    let releases = releases(&args.product, &targets);
    let version = if args.to == "latest" {
        let latest = releases
            .keys()
            .filter(|v| args.pre || !version::is_prerelease(v))
            .max_by(|a, b| version::compare(a, b))
            .cloned();
        match latest {
            Some(v) => v,
            None if releases.is_empty() => {
                return Err(anyhow::anyhow!("{base} lists no release of {}", args.product).into());
            }
            None => {
                return Err(usage(anyhow::anyhow!(
                    "{base} lists only pre-releases of {}; pass --pre to take one",
                    args.product
                )));
            }
        }
    } else {
        if !releases.contains_key(&args.to) {
            return Err(
                anyhow::anyhow!("{base} lists no release {} {}", args.product, args.to).into(),
            );
        }
        args.to.clone()
    };
    let installed_file = state.join("installed.json");
    let previous = read_installed(&installed_file)?;
    if let Some(prev) = &previous {
        if prev.product != args.product {
            return Err(anyhow::anyhow!(
                "{} holds {}, not {}",
                args.dir.display(),
                prev.product,
                args.product
            )
            .into());
        }
        match version::compare(&version, &prev.version) {
            Ordering::Less => return Err(anyhow::anyhow!(
                "refusing to downgrade {} from {} to {} (the repository may be replaying an old \
                 release; TUF would have caught a rolled-back repository, this is a second line)",
                args.product,
                prev.version,
                version
            )
            .into()),
            Ordering::Equal => {
                let report = Report {
                    product: args.product.clone(),
                    version: version.clone(),
                    previous: Some(prev.version.clone()),
                    installed: args.dir.join(&version),
                    artifacts: Vec::new(),
                    up_to_date: true,
                };
                out.result(&report, || {
                    format!("{} {} is installed and current", args.product, version)
                });
                return Ok(ExitCode::SUCCESS);
            }
            Ordering::Greater => {}
        }
    }
    let files = releases.get(&version).cloned().unwrap_or_default();
    let staging = Staging(state.join(format!("staging-{}", std::process::id())));
    let staging = staging.create()?;
    let targets_url = format!("{base}/targets");
    let cache = state.join("targets");
    let mut names = Vec::new();
    for (artifact, bundle) in &files {
        for target in [artifact, bundle] {
            let info = updater.target_info(target)?;
            let bytes = match cached_target(&cache, target, &info) {
                Some(bytes) => bytes,
                None => {
                    out.progress(format!("Downloading {target} ({} bytes)", info.length));
                    let bytes = updater.download_target(&targets_url, target, &info)?;
                    write_atomic(&cached_target_path(&cache, target), &bytes)?;
                    bytes
                }
            };
            let name = target.rsplit('/').next().unwrap_or(target);
            write_atomic(&staging.join(name), &bytes)?;
        }
        let name = artifact.rsplit('/').next().unwrap_or(artifact);
        let bundle_name = bundle.rsplit('/').next().unwrap_or(bundle);
        let (report, _) = verify_files(
            &VerifyFiles {
                artifact: staging.join(name),
                bundle: Some(staging.join(bundle_name)),
                manifest: None,
                trust: args.trust.clone(),
                policy: args.policy.clone(),
            },
            &Expectations {
                product: Some(args.product.clone()),
                version: Some(version.clone()),
                source_ref: None,
            },
            now,
        )
        .map_err(usage)?;
        if let Some(failed) = report.checks.iter().find(|c| c.status == Status::Fail) {
            return Err(anyhow::anyhow!(
                "{target}: {} check failed: {}",
                failed.name.as_str(),
                failed.detail,
                target = artifact
            )
            .into());
        }
        names.push(name.to_string());
    }
    let installed = install(&args.dir, &version, &staging)?;
    write_atomic(
        &installed_file,
        &serde_json::to_vec_pretty(&Installed {
            product: args.product.clone(),
            version: version.clone(),
        })?,
    )?;
    let report = Report {
        product: args.product.clone(),
        version: version.clone(),
        previous: previous.map(|p| p.version),
        installed,
        artifacts: names,
        up_to_date: false,
    };
    out.result(&report, || {
        format!(
            "Installed {} {} in {} ({} artifact(s) verified: TUF, signature, provenance){}",
            report.product,
            report.version,
            report.installed.display(),
            report.artifacts.len(),
            report
                .previous
                .as_ref()
                .map(|p| format!("; was {p}"))
                .unwrap_or_default()
        )
    });
    Ok(ExitCode::SUCCESS)
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

fn read_installed(path: &Path) -> anyhow::Result<Option<Installed>> {
    if !path.exists() {
        return Ok(None);
    }
    let bytes = read_bounded(path, 64 << 10, "install record")?;
    Ok(Some(
        serde_json::from_slice(&bytes).with_context(|| path.display().to_string())?,
    ))
}

/// The staging directory, removed however the update ends: a refused or failed download
/// leaves nothing behind (after a successful install it has been renamed away already).
struct Staging(PathBuf);

impl Staging {
    fn create(self) -> anyhow::Result<Self> {
        let _ = std::fs::remove_dir_all(&self.0);
        std::fs::create_dir_all(&self.0).with_context(|| self.0.display().to_string())?;
        Ok(self)
    }
}

impl std::ops::Deref for Staging {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Move the staged release to `<dir>/<version>` and point `<dir>/current` at it with one
/// rename of a fresh symlink.
fn install(dir: &Path, version: &str, staging: &Path) -> anyhow::Result<PathBuf> {
    let target = dir.join(version);
    if target.exists() {
        std::fs::remove_dir_all(&target).with_context(|| target.display().to_string())?;
    }
    std::fs::rename(staging, &target).with_context(|| target.display().to_string())?;
    let link = dir.join("current");
    let tmp = dir.join(format!(".current-{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    #[cfg(unix)]
    std::os::unix::fs::symlink(version, &tmp).with_context(|| tmp.display().to_string())?;
    std::fs::rename(&tmp, &link).with_context(|| link.display().to_string())?;
    Ok(target)
}
