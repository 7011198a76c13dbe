//! `custody repo`: the TUF repository that delivers releases to `custody update` and any TUF
//! client.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use custody_crypto::KeyAlgorithm;
use custody_service::env::SystemClock;
use custody_service::repo::{self, Rotation};
use custody_site::config::Loaded;

use crate::cmd::key::file_keys;
use crate::output::{CmdResult, EXIT_FAILED, Output, usage};

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
    /// Give a product a targets key of its own, held by the team that owns the product.
    ///
    /// The product's delegated role (and its hash bins) are signed by this key from now on,
    /// not by the online `targets` key: the online key still delegates to the product, but
    /// cannot sign its files. custody.toml records the key under `[tuf.product_keys]`; each
    /// release of the product signs with it (a file, its passphrase asked like the others', or
    /// a key in the team's PKCS#11 token). Running it again moves the product to another key.
    ProductKey {
        /// The product.
        product: String,
        /// The key: a file or a `pkcs11:` URI, made there if it is not yet [default:
        /// product-PRODUCT.key in the TUF key directory].
        #[arg(long, value_name = "FILE|URI")]
        key: Option<PathBuf>,
    },
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

pub fn run(args: Args, out: &Output) -> CmdResult {
    let keys = file_keys(args.insecure_unencrypted_key, out);
    if let RepoCommand::SignRoot { file, key } = &args.command {
        return sign_root(file, key, &keys, out);
    }
    let loaded = Loaded::from_dir(&args.dir).map_err(usage)?;
    match args.command {
        RepoCommand::SignRoot { .. } => Ok(ExitCode::SUCCESS),
        RepoCommand::Init {
            root_keys,
            root_threshold,
            algorithm,
        } => {
            let algorithm = KeyAlgorithm::parse(&algorithm).map_err(usage)?;
            init(&loaded, root_keys, root_threshold, algorithm, &keys, out)
        }
        RepoCommand::Refresh { force } => {
            let renewed = repo::refresh(&loaded, force, &keys, &SystemClock)?;
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
        RepoCommand::ProductKey { product, key } => {
            let done = repo::product_key(&loaded, &product, key.as_deref(), &keys, &SystemClock)?;
            out.result(&done, || {
                format!(
                    "{}'s TUF targets are signed by key {} ({}{}) from now on; commit custody.toml, \
                     which names it",
                    done.product,
                    done.hint,
                    done.key.display(),
                    if done.created { ", made now" } else { "" }
                )
            });
            Ok(ExitCode::SUCCESS)
        }
        RepoCommand::Status => {
            let (dir, status) = repo::status(&loaded, &SystemClock)?;
            out.result(&status, || {
                let mut s = format!("TUF repository {}\n", dir.display());
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
            let rotation = Rotation {
                role,
                new_keys,
                threshold,
                root_keys,
                staged_out,
            };
            super::rotate_tuf_key(&loaded, &rotation, &keys, out)
        }
        RepoCommand::PublishRoot { file } => {
            let staged = repo::read_staged_root(&file)?;
            let report = repo::publish_root(&loaded, &staged, &keys, &SystemClock)?;
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
    }
}

fn init(
    loaded: &Loaded,
    root_count: usize,
    threshold: u64,
    algorithm: KeyAlgorithm,
    keys: &custody_service::keys::FileKeys<'_>,
    out: &Output,
) -> CmdResult {
    let report = repo::init(loaded, root_count, threshold, algorithm, keys, &SystemClock)?;
    let paths = |v: &[PathBuf]| {
        v.iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    out.result(&report, || {
        format!(
            "Created TUF repository {} (root v1, {} of {} root keys)\n\
             Customers pin {} and update with `custody update`.\n\
             MOVE THE ROOT KEYS OFFLINE now: {}\n\
             Online keys (used by release and refresh): {}\n\
             Schedule `custody repo refresh` at least every {} day(s).",
            report.repository.display(),
            threshold,
            report.root_keys.len(),
            report.root.display(),
            paths(&report.root_keys),
            paths(&report.online_keys),
            loaded.config.tuf.timestamp_days
        )
    });
    Ok(ExitCode::SUCCESS)
}

fn sign_root(
    file: &std::path::Path,
    key: &[PathBuf],
    keys: &custody_service::keys::FileKeys<'_>,
    out: &Output,
) -> CmdResult {
    let report = repo::sign_staged_root(file, key, keys)?;
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
