//! `custody repo`: the TUF repository that delivers releases to `custody update` and any TUF
//! client.

use custody_service::release::online_keys;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::Subcommand;
use custody_crypto::{KeyAlgorithm, PublicKey, Signer, SigningKey};
use custody_site::config::Loaded;
use custody_site::fs::{read_bounded, write_atomic};
use custody_site::tuf::{ONLINE_ROLES, expiry, online_key_paths, root_key_path};
use custody_tuf::repo::{KeyChange, Repository, sign_root};
use custody_tuf::{Metadata, Root};
use serde::Serialize;

use super::key;
use crate::output::{CmdResult, EXIT_FAILED, Output, usage};
use crate::passphrase;

/// Run the TUF repository in `site/tuf/`: customers take updates from it that cannot be
/// forged, rolled back, frozen or mixed, even if an online key is stolen.
///
/// The root keys are offline: `init` writes them to the key directory for you to move away,
/// and they are needed again only to sign a new root. The targets, snapshot and timestamp keys
/// are online: `custody release` and `custody repo refresh` use them.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  custody repo init --root-keys 3 --root-threshold 2
  custody release dist/app.tar.gz --product app --version 1.4.2   # adds TUF targets
  custody repo refresh                       # from cron, at least daily
  custody repo status
  custody repo rotate --role timestamp --root-key k1.key --root-key k2.key
  custody repo rotate --role snapshot -o next-root.json       # sign offline, then:
  custody repo sign-root next-root.json --key /media/usb/root-1.key
  custody repo publish-root next-root.json

Customers pin site/tuf/metadata/1.root.json (or any later root they obtained securely) and run
  custody update --repo https://downloads.example.com/tuf --root 1.root.json --product app --dir /opt/app")]
pub struct Args {
    #[command(subcommand)]
    command: RepoCommand,
    /// Project directory (where custody.toml lives).
    #[arg(long, default_value = ".", global = true)]
    dir: PathBuf,
    /// Accept unencrypted key files.
    #[arg(long, global = true)]
    insecure_unencrypted_key: bool,
}

#[derive(Debug, Subcommand)]
enum RepoCommand {
    /// Create the repository: root version 1, and empty targets, snapshot and timestamp.
    Init {
        /// How many root keys to create.
        #[arg(long, default_value_t = 1)]
        root_keys: usize,
        /// How many root keys must sign each new root.
        #[arg(long, default_value_t = 1)]
        root_threshold: u64,
        /// Algorithm of the new keys.
        #[arg(long, default_value = "ed25519", value_parser = ["ed25519", "ecdsa-p256"])]
        algorithm: String,
    },
    /// Re-sign whatever expires within half its validity period (timestamp, snapshot,
    /// targets roles). Run it from cron at least as often as the timestamp expires.
    Refresh {
        /// Re-sign every online role now, due or not.
        #[arg(long)]
        force: bool,
    },
    /// Show each role's version, expiry and keys. Exits 1 if anything has expired.
    Status,
    /// Replace the keys of a role: stages the next root version with the new key, signs it
    /// with any root keys given, and publishes it once both the current and the new root
    /// thresholds have signed. Otherwise it writes the staged root for offline signing.
    Rotate {
        /// The role whose key changes.
        #[arg(long, value_parser = ["root", "targets", "snapshot", "timestamp"])]
        role: String,
        /// New key(s) for the role: a public key (PEM) for root keys held offline, or a private
        /// key file for an online role. Default for an online role: generate one.
        #[arg(long = "new-key")]
        new_keys: Vec<PathBuf>,
        /// Threshold of the new keys.
        #[arg(long, default_value_t = 1)]
        threshold: u64,
        /// Root private keys to sign the new root with now.
        #[arg(long = "root-key")]
        root_keys: Vec<PathBuf>,
        /// Where to write the staged root when it still needs signatures.
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
    /// Sign a staged root with one root key (offline; needs no repository).
    SignRoot {
        /// The staged root file (from `rotate`).
        file: PathBuf,
        /// A root private key.
        #[arg(long, required = true)]
        key: Vec<PathBuf>,
    },
    /// Publish a staged root that enough root keys have signed.
    PublishRoot {
        /// The signed staged root.
        file: PathBuf,
    },
}

/// Most bytes read from a staged root file.
const ROOT_LIMIT: u64 = 512 << 10;

pub fn run(args: Args, out: &Output) -> CmdResult {
    let insecure = args.insecure_unencrypted_key;
    match args.command {
        RepoCommand::SignRoot { file, key } => sign_root_file(&file, &key, insecure, out),
        RepoCommand::Init {
            root_keys,
            root_threshold,
            algorithm,
        } => {
            let loaded = Loaded::from_dir(&args.dir).map_err(usage)?;
            let algorithm = KeyAlgorithm::parse(&algorithm).map_err(usage)?;
            init(&loaded, root_keys, root_threshold, algorithm, insecure, out)
        }
        RepoCommand::Refresh { force } => {
            let loaded = Loaded::from_dir(&args.dir).map_err(usage)?;
            let mut repo = open(&loaded)?;
            let keys = unlock_online(&loaded, &[], insecure, out)?;
            let renewed = repo.refresh(online_keys(&keys)?, jiff::Timestamp::now(), force)?;
            out.result(&renewed, || {
                if renewed.is_empty() {
                    return "Nothing is due: every role is valid for over half its period.".into();
                }
                renewed
                    .iter()
                    .map(|r| {
                        format!(
                            "Re-signed {} version {}, expires {}",
                            r.role, r.version, r.expires
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
            Ok(ExitCode::SUCCESS)
        }
        RepoCommand::Status => {
            let loaded = Loaded::from_dir(&args.dir).map_err(usage)?;
            let repo = open(&loaded)?;
            let status = repo.status(jiff::Timestamp::now());
            out.result(&status, || {
                let mut s = format!("TUF repository {}\n", repo.dir().display());
                for r in &status {
                    s.push_str(&format!(
                        "  {:<22} v{:<6} expires {}{}  keys {} threshold {}\n",
                        r.role,
                        r.version,
                        r.expires,
                        if r.expired { " EXPIRED" } else { "" },
                        r.keys,
                        r.threshold
                    ));
                }
                s
            });
            if status.iter().any(|r| r.expired) {
                return Ok(ExitCode::from(EXIT_FAILED));
            }
            Ok(ExitCode::SUCCESS)
        }
        RepoCommand::Rotate {
            role,
            new_keys,
            threshold,
            root_keys,
            out: staged_out,
        } => {
            let loaded = Loaded::from_dir(&args.dir).map_err(usage)?;
            rotate(
                &loaded,
                Rotation {
                    role,
                    new_keys,
                    threshold,
                    root_keys,
                    staged_out,
                },
                insecure,
                out,
            )
        }
        RepoCommand::PublishRoot { file } => {
            let loaded = Loaded::from_dir(&args.dir).map_err(usage)?;
            let staged = read_root(&file)?;
            publish(&loaded, &staged, insecure, out)
        }
    }
}

fn open(loaded: &Loaded) -> anyhow::Result<Repository> {
    let dir = loaded.tuf_dir();
    if !custody_site::tuf::exists(&dir) {
        bail!(
            "{}: no TUF repository here; create one with `custody repo init`",
            dir.display()
        );
    }
    Repository::open(&dir, expiry(&loaded.config.tuf)).with_context(|| dir.display().to_string())
}

/// The online keys, taking `<role>.key.next` for roles being rotated.
fn unlock_online(
    loaded: &Loaded,
    next_for: &[&str],
    insecure: bool,
    out: &Output,
) -> anyhow::Result<[SigningKey; 3]> {
    let mut paths = online_key_paths(&loaded.tuf_keys_dir());
    for (path, role) in paths.iter_mut().zip(ONLINE_ROLES) {
        if next_for.contains(&role) {
            *path = next_path(path);
        }
    }
    let refs: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
    let keys = key::unlock(&refs, insecure, out)?;
    keys.try_into()
        .map_err(|_| anyhow::anyhow!("expected three online keys"))
}

fn next_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".next");
    path.with_file_name(name)
}

#[derive(Debug, Serialize)]
struct InitReport {
    repository: PathBuf,
    root: PathBuf,
    root_keys: Vec<PathBuf>,
    root_threshold: u64,
    online_keys: Vec<PathBuf>,
}

fn init(
    loaded: &Loaded,
    root_count: usize,
    threshold: u64,
    algorithm: KeyAlgorithm,
    insecure: bool,
    out: &Output,
) -> CmdResult {
    let dir = loaded.tuf_dir();
    if custody_site::tuf::exists(&dir) {
        return Err(usage(anyhow::anyhow!(
            "{} already holds a TUF repository",
            dir.display()
        )));
    }
    if root_count == 0 || threshold == 0 || threshold as usize > root_count {
        return Err(usage(anyhow::anyhow!(
            "--root-threshold {threshold} must be between 1 and --root-keys {root_count}"
        )));
    }
    let keys_dir = loaded.tuf_keys_dir();
    let root_paths: Vec<PathBuf> = (1..=root_count)
        .map(|n| root_key_path(&keys_dir, n))
        .collect();
    let online_paths = online_key_paths(&keys_dir);
    if let Some(existing) = root_paths.iter().chain(&online_paths).find(|p| p.exists()) {
        return Err(usage(anyhow::anyhow!(
            "{} already exists; refusing to overwrite a key",
            existing.display()
        )));
    }
    let pass = if insecure {
        None
    } else {
        Some(passphrase::for_new_key(&keys_dir)?)
    };
    let pass = pass.as_ref().map(|p| p.as_str());
    let generate = |path: &Path| key::generate_with(path, algorithm, pass, out);
    let roots = root_paths
        .iter()
        .map(|p| generate(p))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let online = online_paths
        .iter()
        .map(|p| generate(p))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let root_refs: Vec<&dyn Signer> = roots.iter().map(|k| k as &dyn Signer).collect();
    let repo = Repository::create(
        &dir,
        &root_refs,
        threshold,
        online_keys(&online)?,
        expiry(&loaded.config.tuf),
        jiff::Timestamp::now(),
    )?;
    let report = InitReport {
        repository: dir.clone(),
        root: dir.join("metadata/1.root.json"),
        root_keys: root_paths,
        root_threshold: threshold,
        online_keys: online_paths.to_vec(),
    };
    out.result(&report, || {
        format!(
            "Created TUF repository {} (root v1, {} of {} root keys)\n\
             Customers pin {} and update with `custody update`.\n\
             MOVE THE ROOT KEYS OFFLINE now: {}\n\
             Online keys (used by release and refresh): {}\n\
             Schedule `custody repo refresh` at least every {} day(s).",
            repo.dir().display(),
            threshold,
            report.root_keys.len(),
            report.root.display(),
            report
                .root_keys
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            report
                .online_keys
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            loaded.config.tuf.timestamp_days
        )
    });
    Ok(ExitCode::SUCCESS)
}

struct Rotation {
    role: String,
    new_keys: Vec<PathBuf>,
    threshold: u64,
    root_keys: Vec<PathBuf>,
    staged_out: Option<PathBuf>,
}

#[derive(Debug, Serialize)]
struct RotateReport {
    role: String,
    root_version: u64,
    published: bool,
    staged: Option<PathBuf>,
    signatures: usize,
}

fn rotate(loaded: &Loaded, r: Rotation, insecure: bool, out: &Output) -> CmdResult {
    let repo = open(loaded)?;
    let keys_dir = loaded.tuf_keys_dir();
    let online_role = r.role != "root";
    let new_public: Vec<PublicKey> = if online_role && r.new_keys.is_empty() {
        let path = next_path(&keys_dir.join(format!("{}.key", r.role)));
        if path.exists() {
            return Err(usage(anyhow::anyhow!(
                "{} exists: a rotation of {} is already staged; publish it with \
                 `custody repo publish-root`, or delete it to start over",
                path.display(),
                r.role
            )));
        }
        let pass = if insecure {
            None
        } else {
            Some(passphrase::for_new_key(&path)?)
        };
        let key = key::generate_with(
            &path,
            KeyAlgorithm::Ed25519,
            pass.as_ref().map(|p| p.as_str()),
            out,
        )?;
        vec![key.public_key().clone()]
    } else if online_role {
        if r.new_keys.len() != 1 {
            return Err(usage(anyhow::anyhow!(
                "an online role takes exactly one --new-key (a private key file)"
            )));
        }
        let signer = key::load_signer(&r.new_keys[0], insecure, out)?;
        let next = next_path(&keys_dir.join(format!("{}.key", r.role)));
        std::fs::copy(&r.new_keys[0], &next)
            .with_context(|| format!("copying the new key to {}", next.display()))?;
        vec![signer.public_key().clone()]
    } else {
        if r.new_keys.is_empty() {
            return Err(usage(anyhow::anyhow!(
                "rotating root needs --new-key for each new root public key"
            )));
        }
        r.new_keys
            .iter()
            .map(|p| key::public_key(p, insecure))
            .collect::<anyhow::Result<_>>()?
    };
    let mut staged = repo.stage_root(
        &KeyChange {
            role: r.role.clone(),
            keys: new_public,
            threshold: r.threshold,
        },
        jiff::Timestamp::now(),
    )?;
    let refs: Vec<&Path> = r.root_keys.iter().map(PathBuf::as_path).collect();
    for signer in key::unlock(&refs, insecure, out)? {
        sign_root(&mut staged, &signer)?;
    }
    let version = staged.signed.version;
    let staged_path = r
        .staged_out
        .unwrap_or_else(|| keys_dir.join(format!("{version}.root.staged.json")));
    write_atomic(&staged_path, staged.bytes())?;
    let enough = enough_signatures(&repo, &staged);
    if enough {
        publish(loaded, &staged, insecure, out)?;
        let _ = std::fs::remove_file(&staged_path);
    }
    let report = RotateReport {
        role: r.role,
        root_version: version,
        published: enough,
        staged: (!enough).then_some(staged_path),
        signatures: staged.signatures.len(),
    };
    out.result(&report, || match &report.staged {
        None => format!(
            "Rotated the {} key: root version {} is published",
            report.role, report.root_version
        ),
        Some(path) => format!(
            "Staged root version {} at {} ({} signature(s) so far).\n\
             Each root key holder signs it offline:  custody repo sign-root {} --key ROOT_KEY\n\
             then publish it:                        custody repo publish-root {}",
            report.root_version,
            path.display(),
            report.signatures,
            path.display(),
            path.display()
        ),
    });
    Ok(ExitCode::SUCCESS)
}

/// Whether both the current and the staged root's thresholds are met.
fn enough_signatures(repo: &Repository, staged: &Metadata<Root>) -> bool {
    let old = &repo.root().signed;
    let new = &staged.signed;
    let ok = |keys, role: Option<&custody_tuf::Role>| {
        role.is_some_and(|r| staged.verify_role("root", keys, r).is_ok())
    };
    ok(&old.keys, old.role("root")) && ok(&new.keys, new.role("root"))
}

fn read_root(file: &Path) -> anyhow::Result<Metadata<Root>> {
    let bytes = read_bounded(file, ROOT_LIMIT, "staged root")?;
    Metadata::<Root>::from_bytes(&file.display().to_string(), &bytes)
        .with_context(|| file.display().to_string())
}

#[derive(Debug, Serialize)]
struct SignReport {
    file: PathBuf,
    version: u64,
    signatures: usize,
    threshold: u64,
}

fn sign_root_file(file: &Path, keys: &[PathBuf], insecure: bool, out: &Output) -> CmdResult {
    let mut staged = read_root(file).map_err(usage)?;
    let refs: Vec<&Path> = keys.iter().map(PathBuf::as_path).collect();
    for signer in key::unlock(&refs, insecure, out)? {
        sign_root(&mut staged, &signer).with_context(|| format!("signing {}", file.display()))?;
    }
    write_atomic(file, staged.bytes())?;
    let report = SignReport {
        file: file.to_path_buf(),
        version: staged.signed.version,
        signatures: staged.signatures.len(),
        threshold: staged.signed.role("root").map_or(0, |r| r.threshold),
    };
    out.result(&report, || {
        format!(
            "Signed root version {} in {}: {} signature(s); the new root needs {} (and the \
             current root's threshold)",
            report.version,
            report.file.display(),
            report.signatures,
            report.threshold
        )
    });
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Serialize)]
struct PublishReport {
    root_version: u64,
    rotated: Vec<String>,
}

fn publish(loaded: &Loaded, staged: &Metadata<Root>, insecure: bool, out: &Output) -> CmdResult {
    let mut repo = open(loaded)?;
    let old = repo.root().signed.clone();
    let rotated: Vec<&str> = ONLINE_ROLES
        .into_iter()
        .filter(|r| old.role(r) != staged.signed.role(r))
        .collect();
    let keys_dir = loaded.tuf_keys_dir();
    let keys = unlock_online(loaded, &rotated, insecure, out)?;
    repo.publish_root(staged, online_keys(&keys)?, jiff::Timestamp::now())?;
    for role in &rotated {
        let current = keys_dir.join(format!("{role}.key"));
        let retired = keys_dir.join(format!("{role}.key.retired-v{}", staged.signed.version - 1));
        std::fs::rename(&current, &retired)
            .with_context(|| format!("retiring {}", current.display()))?;
        std::fs::rename(next_path(&current), &current)
            .with_context(|| format!("installing the new {role} key"))?;
        let _ = std::fs::remove_file(key::pub_path(&next_path(&current)));
        write_atomic(
            &key::pub_path(&current),
            keys[ONLINE_ROLES.iter().position(|r| r == role).unwrap_or(0)]
                .public_key()
                .to_pem()
                .as_bytes(),
        )?;
    }
    let report = PublishReport {
        root_version: staged.signed.version,
        rotated: rotated.iter().map(|r| (*r).to_string()).collect(),
    };
    out.result(&report, || {
        format!(
            "Published root version {}{}",
            report.root_version,
            if report.rotated.is_empty() {
                String::new()
            } else {
                format!(
                    "; re-signed with the new {} key(s)",
                    report.rotated.join(", ")
                )
            }
        )
    });
    Ok(ExitCode::SUCCESS)
}
