//! `custody key`: create, rotate and revoke signing keys; show their public halves and history.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use custody_crypto::{KeyAlgorithm, PublicKey, Signer};
use custody_service::env::KeySource as _;
use custody_service::keys::{FileKeys, pub_path};

use crate::output::{CmdResult, Output, usage};
use crate::passphrase;

/// Create, rotate and revoke signing keys; name a product's approvers; show public halves and
/// history.
///
/// Private keys are written as encrypted PKCS#8 PEM (scrypt + AES-256-CBC), readable only by
/// their owner; the public key is written beside them as `<key>.pub` (SPKI PEM). Or a key is made
/// inside a PKCS#11 token (a hardware security module) and never leaves it:
///
///   custody key generate --pkcs11 'pkcs11:token=ci;object=release?module-path=/usr/lib/softhsm/libsofthsm2.so'
///
/// and that URI goes where custody.toml names a key file (`[signing] key`, `[log] key`). The
/// token's PIN comes from CUSTODY_PKCS11_PIN, the file CUSTODY_PKCS11_PIN_FILE names, or a prompt.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: KeyCommand,
}

#[derive(Debug, Subcommand)]
enum KeyCommand {
    /// Generate a new key pair.
    Generate {
        /// Where to write the private key (the public key goes to <OUT>.pub).
        #[arg(
            long,
            short,
            required_unless_present = "pkcs11",
            conflicts_with = "pkcs11"
        )]
        out: Option<PathBuf>,
        /// Make the key inside the PKCS#11 token this RFC 7512 URI names, under its `object`
        /// label (`pkcs11:token=LABEL;object=LABEL?module-path=MODULE.so`).
        #[arg(long, value_name = "URI")]
        pkcs11: Option<String>,
        /// Signature algorithm.
        #[arg(long, default_value = "ed25519", value_parser = ["ed25519", "ecdsa-p256"])]
        algorithm: String,
        /// Write the private key unencrypted. Anyone who can read the file can sign as you.
        #[arg(long)]
        insecure_unencrypted_key: bool,
    },
    /// Replace the key of a duty with a new one.
    ///
    /// The release key: the policy closes the old key's window and records how many entries
    /// the log held, so what the old key signed before keeps verifying and nothing it signs
    /// after does; the new key is trusted from now. By default the new key is a file where the
    /// key file is, the old one kept beside it (`release.key.retired-<time>`); --new names
    /// another file or a key in a token (made there if it is not yet) and custody.toml is
    /// updated to it.
    ///
    /// The log key: the new key signs the log's checkpoints from now on, starting with the
    /// current one; the trusted root closes the old key's window and lists the new one, and the
    /// policy records the log's size, so the old key's checkpoints keep proving the entries
    /// they held and nothing after. Give the log's witnesses the new verifier key it prints.
    ///
    /// A TUF online key (targets, snapshot, timestamp): the next root version names the new
    /// key, signed with the --root-key files given, as `custody repo rotate` does; without
    /// enough root keys it is staged for the offline root key holders to sign.
    Rotate {
        /// The duty whose key to replace.
        #[arg(long, value_parser = ["release", "log", "targets", "snapshot", "timestamp"])]
        role: String,
        /// The new key: a file or a `pkcs11:` URI (a TUF role takes a file).
        #[arg(long, value_name = "FILE|URI")]
        new: Option<PathBuf>,
        /// For a TUF role: root private keys to sign the new root with now.
        #[arg(long = "root-key")]
        root_keys: Vec<PathBuf>,
        /// Project directory (where custody.toml lives).
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
    /// List every rotation and revocation, oldest first, each checked: signed by a key the
    /// policy trusted then, and recorded in the published transparency log.
    History {
        /// Project directory (where custody.toml lives).
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
    /// Revoke a key in the site's policy (custody-policy.json), from a time on.
    ///
    /// From --since on, a signature by the key verifies only where a witness the policy names
    /// cosigned its log entry before then; everything else it signed fails `custody verify`,
    /// which names the revocation and its reason. Publish the policy to customers as you
    /// publish the site.
    Revoke {
        /// The key: its hint (base64 SHA-256 of its SPKI, as `custody key public` prints).
        hint: String,
        /// From when it is not to be trusted (RFC 3339); default: now.
        #[arg(long)]
        since: Option<String>,
        /// Why, as customers will read it.
        #[arg(long)]
        reason: String,
        /// Project directory (where custody.toml lives).
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
    /// Ask M-of-N approval of a product's releases from now on.
    ///
    /// Names the approvers (each a public key file, as `custody key generate` writes beside the
    /// private key, or a key URI) and how many of them must sign a release's manifest. From
    /// then on `custody release` signs and logs the product's releases but holds them off the
    /// site until --threshold approvers have run `custody release approve`; `custody release
    /// publish` then publishes. The rule is in the site's policy, so `custody verify` checks
    /// the same threshold; releases logged before it keep verifying without approvals. The
    /// change is a signed, logged key event. Running it again replaces the product's rule.
    Approvers {
        /// The product.
        product: String,
        /// How many distinct approvers must approve each release.
        #[arg(long)]
        threshold: usize,
        /// An approver's public key (repeat for each).
        #[arg(long = "approver", value_name = "FILE|URI", required = true)]
        approvers: Vec<PathBuf>,
        /// Project directory (where custody.toml lives).
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
    /// Print a key's public half (SPKI PEM) and its Sigstore hint.
    Public {
        /// A private key file, or its `.pub`.
        path: PathBuf,
        /// Accept an unencrypted private key file.
        #[arg(long)]
        insecure_unencrypted_key: bool,
    },
}

#[derive(serde::Serialize)]
struct KeyInfo {
    algorithm: String,
    hint: String,
    public_key_pem: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    private_key: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    public_key: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    encrypted: Option<bool>,
}

fn info(key: &PublicKey) -> KeyInfo {
    KeyInfo {
        algorithm: key.algorithm().to_string(),
        hint: key.hint().to_string(),
        public_key_pem: key.to_pem(),
        private_key: None,
        public_key: None,
        encrypted: None,
    }
}

pub fn run(args: Args, out: &Output) -> CmdResult {
    match args.command {
        KeyCommand::Generate {
            out: _,
            pkcs11: Some(uri),
            algorithm,
            insecure_unencrypted_key: _,
        } => {
            let algorithm = KeyAlgorithm::parse(&algorithm).map_err(usage)?;
            let key = file_keys(false, out).generate(Path::new(&uri), algorithm)?;
            let mut i = info(key.public_key());
            i.private_key = Some(PathBuf::from(&uri));
            out.result(&i, || {
                format!(
                    "Created {} key in the token: {uri}
  it cannot be read out; name this URI                      where custody.toml names a key file
  hint:    {}",
                    key.public_key().algorithm(),
                    key.public_key().hint()
                )
            });
        }
        KeyCommand::Generate {
            out: path,
            pkcs11: None,
            algorithm,
            insecure_unencrypted_key,
        } => {
            let algorithm = KeyAlgorithm::parse(&algorithm).map_err(usage)?;
            // clap requires --out without --pkcs11.
            let path = path.unwrap_or_default();
            let key = file_keys(insecure_unencrypted_key, out).generate(&path, algorithm)?;
            let mut i = info(key.public_key());
            i.private_key = Some(path.clone());
            i.public_key = Some(pub_path(&path));
            i.encrypted = Some(!insecure_unencrypted_key);
            out.result(&i, || {
                describe_new_key(&path, key.public_key(), !insecure_unencrypted_key)
            });
        }
        KeyCommand::History { dir } => {
            let loaded = custody_site::config::Loaded::from_dir(&dir).map_err(usage)?;
            let events = custody_service::key_events::history(&loaded)?;
            let all_verified = events.iter().all(|e| e.verified);
            out.result(&events, || {
                if events.is_empty() {
                    return "no key has been rotated or revoked".to_owned();
                }
                events
                    .iter()
                    .map(|e| {
                        let what = match e.event.event.as_str() {
                            "rotate" => format!(
                                "{} replaced by {}",
                                e.event.key,
                                e.event.replaced_by.as_deref().unwrap_or("?")
                            ),
                            _ => format!(
                                "{} revoked from {}: {}",
                                e.event.key,
                                e.event.since.map(|s| s.to_string()).unwrap_or_default(),
                                e.event.reason.as_deref().unwrap_or("")
                            ),
                        };
                        let state = match (&e.problem, e.log_index) {
                            (None, Some(i)) => format!("logged as entry {i}"),
                            (Some(p), _) => format!("NOT VERIFIED: {p}"),
                            (None, None) => "not logged".to_owned(),
                        };
                        format!("{}  {:<7} {what}  ({state})", e.event.at, e.event.event)
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
            if !all_verified {
                return Ok(ExitCode::from(1));
            }
        }
        KeyCommand::Rotate {
            role,
            new,
            root_keys,
            dir,
        } if !matches!(role.as_str(), "release" | "log") => {
            let loaded = custody_site::config::Loaded::from_dir(&dir).map_err(usage)?;
            let rotation = custody_service::repo::Rotation {
                role,
                new_keys: new.into_iter().collect(),
                threshold: 1,
                root_keys,
                staged_out: None,
            };
            return super::rotate_tuf_key(&loaded, &rotation, &file_keys(false, out), out);
        }
        KeyCommand::Rotate { role, new, dir, .. } if role == "log" => {
            let loaded = custody_site::config::Loaded::from_dir(&dir).map_err(usage)?;
            let done = custody_service::project::rotate_log_key(
                &loaded,
                new.as_deref(),
                &file_keys(false, out),
                &custody_service::env::SystemClock,
                &super::transport(),
            )?;
            out.result(&done, || {
                format!(
                    "Rotated the log key: {} now signs checkpoints; {}'s checkpoints keep proving \
                     the log's first {} entries; {}\nGive the log's witnesses its new verifier key:\n  {}",
                    done.new,
                    done.old,
                    done.log_size,
                    trust_files_reach(done.through_tuf),
                    done.vkey
                )
            });
        }
        KeyCommand::Rotate { new, dir, .. } => {
            let loaded = custody_site::config::Loaded::from_dir(&dir).map_err(usage)?;
            let done = custody_service::project::rotate_release_key(
                &loaded,
                new.as_deref(),
                &file_keys(false, out),
                &custody_service::env::SystemClock,
                &super::transport(),
            )?;
            out.result(&done, || {
                format!(
                    "Rotated the release key: {} now signs; {} signed until {} (its signatures \
                     among the log's first {} entries keep verifying); {}",
                    done.new,
                    done.old,
                    done.at,
                    done.log_size,
                    trust_files_reach(done.through_tuf)
                )
            });
        }
        KeyCommand::Revoke {
            hint,
            since,
            reason,
            dir,
        } => {
            let loaded = custody_site::config::Loaded::from_dir(&dir).map_err(usage)?;
            let since = match since {
                Some(s) => s
                    .parse::<jiff::Timestamp>()
                    .map_err(|e| usage(anyhow::anyhow!("--since {s:?}: {e}")))?,
                None => jiff::Timestamp::now(),
            };
            let done = custody_service::project::revoke_key(
                &loaded,
                &hint,
                since,
                &reason,
                &file_keys(false, out),
                &custody_service::env::SystemClock,
                &super::transport(),
            )?;
            out.result(&done, || {
                format!(
                    "Revoked key {} from {} in {}: {}\n  signatures by it verify only where a \
                     witness dates their log entry earlier; {}",
                    done.hint,
                    done.since,
                    done.policy.display(),
                    done.reason,
                    trust_files_reach(done.through_tuf)
                )
            });
        }
        KeyCommand::Approvers {
            product,
            threshold,
            approvers,
            dir,
        } => {
            let loaded = custody_site::config::Loaded::from_dir(&dir).map_err(usage)?;
            let done = custody_service::approval::set_approvers(
                &loaded,
                &product,
                threshold,
                &approvers,
                &file_keys(false, out),
                &custody_service::env::SystemClock,
                &super::transport(),
            )?;
            out.result(&done, || {
                format!(
                    "{} releases now need approval by {} of {} approvers ({}), from log \
                     entry {} on\n  {}",
                    done.product,
                    done.threshold,
                    done.approvers.len(),
                    done.approvers.join(", "),
                    done.log_size,
                    trust_files_reach(done.through_tuf)
                )
            });
        }
        KeyCommand::Public {
            path,
            insecure_unencrypted_key,
        } => {
            let key = file_keys(insecure_unencrypted_key, out).public_key(&path)?;
            out.result(&info(&key), || {
                format!("{}hint: {}", key.to_pem(), key.hint())
            });
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Where a change of the trust files went: through TUF to `custody update`, or to be published.
fn trust_files_reach(through_tuf: bool) -> &'static str {
    if through_tuf {
        "the trust files are new TUF targets: `custody update` takes them"
    } else {
        "publish the trust files to customers"
    }
}

/// Human description of a freshly created key.
pub fn describe_new_key(path: &Path, key: &PublicKey, encrypted: bool) -> String {
    let protection = if encrypted {
        "encrypted PKCS#8 (PBES2: scrypt, AES-256-CBC), owner-only permissions; \
         the passphrase comes from a prompt, CUSTODY_PASSPHRASE or CUSTODY_PASSPHRASE_FILE"
    } else {
        "UNENCRYPTED PKCS#8, owner-only permissions"
    };
    format!(
        "Created {} key {}\n  private: {} ({protection})\n  public:  {}\n  hint:    {}",
        key.algorithm(),
        path.display(),
        path.display(),
        pub_path(path).display(),
        key.hint()
    )
}

/// The project's key files, their passphrases from the environment or a prompt.
pub fn file_keys(insecure_unencrypted: bool, out: &Output) -> FileKeys<'_> {
    FileKeys::new(&passphrase::Prompt, insecure_unencrypted, out)
}

/// Loads one signing key (a file, asking for its passphrase if it is encrypted; or a key in a
/// token, asking for its PIN).
pub fn load_signer(
    path: &Path,
    insecure_unencrypted: bool,
    out: &Output,
) -> Result<custody_service::env::Key, custody_service::Error> {
    let mut keys = file_keys(insecure_unencrypted, out).unlock(&[path])?;
    keys.pop()
        .ok_or_else(|| custody_service::Error::KeyMissing {
            path: path.to_path_buf(),
        })
}
