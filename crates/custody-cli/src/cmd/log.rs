//! `custody log`: read the site's transparency log: its checkpoint, entries, proofs, and which
//! entries name an artifact.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use custody_site::config::Loaded;
use custody_site::fs::read_bounded;
use custody_site::log::{LOG_DIR, VKEY_FILE};
use custody_tlog::{
    ArtifactDigest, Checkpoint, DirStore, NoteVerifier, SignedCheckpoint, lookup_readonly,
    prove_inclusion, read_entry,
};

use crate::output::{CmdResult, Output, usage};

/// Read the release site's transparency log (C2SP tlog-tiles under `site/log/`).
///
/// Every bundle `custody release` signs is recorded there; bundles carry their entry's
/// inclusion proof and checkpoint, so customers need none of this to verify. These commands are
/// for auditors and monitors: `checkpoint` verifies the published checkpoint with `log/vkey`,
/// `get` prints an entry, `prove` writes a C2SP tlog-proof file, and `lookup` lists the entries
/// recorded for an artifact digest.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Project directory (where custody.toml lives).
    #[arg(long, default_value = ".", global = true)]
    dir: PathBuf,
    #[command(subcommand)]
    command: LogCommand,
}

#[derive(Debug, Subcommand)]
enum LogCommand {
    /// Verify and print the log's current checkpoint.
    Checkpoint,
    /// Record an existing bundle's signature in the log and write the bundle back with its
    /// `tlogEntries` (entry, inclusion proof, checkpoint). The signature must verify with a key
    /// of the site's policy; a bundle already logged is refused.
    Append {
        /// The bundle (`*.sigstore.json`), rewritten in place.
        bundle: PathBuf,
        /// Accept an unencrypted log key file.
        #[arg(long)]
        insecure_unencrypted_key: bool,
    },
    /// Print entries (Rekor v2 `dsse` entry bodies), chosen by index or by artifact digest.
    Get {
        #[command(flatten)]
        select: Select,
    },
    /// Print a C2SP tlog-proof for entries against the current checkpoint, chosen by index or
    /// by artifact digest.
    Prove {
        #[command(flatten)]
        select: Select,
    },
    /// List the entries recorded for an artifact digest (`sha256:HEX` or `HEX`).
    Lookup {
        /// The artifact's SHA-256.
        digest: String,
    },
    /// Check that the log only ever grew: verify its checkpoint against the one remembered from
    /// the last run, with a consistency proof from the log's tiles. A log that shows two
    /// different histories is reported as a split view, with both signed checkpoints as
    /// evidence, and exit code 1.
    Monitor {
        /// The log directory to watch (a copy or mount of a site's `log/`) [default: this
        /// project's site/log].
        #[arg(long)]
        log: Option<PathBuf>,
        /// The log's verifier key file (signed-note vkey) [default: LOG/vkey].
        #[arg(long)]
        vkey: Option<PathBuf>,
        /// Where the last trusted checkpoint is kept between runs [default:
        /// .custody/monitor/checkpoint].
        #[arg(long)]
        state: Option<PathBuf>,
    },
}

/// Which entries: one index, or every entry the lookup index holds for an artifact digest.
#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
struct Select {
    /// Entry index.
    #[arg(long)]
    index: Option<u64>,
    /// Every entry recorded for this artifact digest (`sha256:HEX` or `HEX`).
    #[arg(long)]
    digest: Option<String>,
}

fn parse_digest(digest: &str) -> anyhow::Result<custody_crypto::Sha256Digest> {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    Ok(custody_crypto::Sha256Digest::from_hex(hex)?)
}

impl Select {
    fn indices(&self, log: &Opened) -> Result<Vec<u64>, crate::output::Failure> {
        match (self.index, &self.digest) {
            (Some(i), _) => Ok(vec![i]),
            (None, Some(d)) => {
                let d = parse_digest(d).map_err(usage)?;
                let found = lookup_readonly(
                    &log.loaded.log_state_dir(),
                    log.checkpoint.checkpoint.size,
                    &ArtifactDigest(d.0),
                )?;
                if found.is_empty() {
                    return Err(usage(anyhow::anyhow!(
                        "no entries name sha256:{}",
                        d.to_hex()
                    )));
                }
                Ok(found)
            }
            (None, None) => Err(usage(anyhow::anyhow!("give --index or --digest"))),
        }
    }
}

struct Opened {
    store: DirStore,
    checkpoint: SignedCheckpoint,
    loaded: Loaded,
}

fn open(dir: &std::path::Path) -> anyhow::Result<Opened> {
    let loaded = Loaded::from_dir(dir)?;
    let log_dir = loaded.site_dir().join(LOG_DIR);
    let vkey_path = log_dir.join(VKEY_FILE);
    let vkey = String::from_utf8(read_bounded(&vkey_path, 4096, "verifier key")?)
        .with_context(|| vkey_path.display().to_string())?;
    let verifier =
        NoteVerifier::parse(vkey.trim()).with_context(|| vkey_path.display().to_string())?;
    let cp_path = log_dir.join(custody_tlog::CHECKPOINT_PATH);
    let bytes = read_bounded(&cp_path, 1 << 20, "checkpoint")?;
    let checkpoint = Checkpoint::open(&bytes, &loaded.config.log.origin, &verifier)
        .with_context(|| cp_path.display().to_string())?;
    let store = DirStore::open(&log_dir).with_context(|| log_dir.display().to_string())?;
    Ok(Opened {
        store,
        checkpoint,
        loaded,
    })
}

pub fn run(args: Args, out: &Output) -> CmdResult {
    if let LogCommand::Monitor { log, vkey, state } = &args.command {
        return monitor(
            &args.dir,
            log.as_deref(),
            vkey.as_deref(),
            state.as_deref(),
            out,
        );
    }
    if let LogCommand::Append {
        bundle,
        insecure_unencrypted_key,
    } = &args.command
    {
        return append(&args.dir, bundle, *insecure_unencrypted_key, out);
    }
    let log = open(&args.dir).map_err(usage)?;
    let cp = &log.checkpoint.checkpoint;
    match args.command {
        LogCommand::Checkpoint => {
            let v = serde_json::json!({
                "origin": cp.origin,
                "size": cp.size,
                "root": hex_of(&cp.root.0),
                "signatures": log.checkpoint.note.signatures().len(),
            });
            out.result(&v, || {
                format!(
                    "checkpoint of {} verified with log/vkey\n  size: {}\n  root: {}",
                    cp.origin,
                    cp.size,
                    hex_of(&cp.root.0)
                )
            });
        }
        LogCommand::Get { select } => {
            let mut found = Vec::new();
            for index in select.indices(&log)? {
                let entry = read_entry(&log.store, cp.size, index).map_err(usage)?;
                found.push((index, entry));
            }
            let v: Vec<serde_json::Value> = found
                .iter()
                .map(|(index, entry)| {
                    let parsed: Option<serde_json::Value> = serde_json::from_slice(entry).ok();
                    serde_json::json!({ "index": index, "entry": parsed })
                })
                .collect();
            // One entry by index keeps the plain object shape scripts already read.
            let v = match (&select.index, v.as_slice()) {
                (Some(_), [one]) => one.clone(),
                _ => serde_json::json!({ "entries": v }),
            };
            out.result(&v, || {
                found
                    .iter()
                    .map(|(_, e)| String::from_utf8_lossy(e).into_owned())
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        LogCommand::Prove { select } => {
            let mut proofs = Vec::new();
            for index in select.indices(&log)? {
                let proof = prove_inclusion(&log.store, &log.checkpoint, index).map_err(usage)?;
                proofs.push((
                    index,
                    String::from_utf8_lossy(&proof.to_bytes()).into_owned(),
                ));
            }
            let v: Vec<serde_json::Value> = proofs
                .iter()
                .map(|(index, text)| {
                    serde_json::json!({ "index": index, "tree_size": cp.size, "tlog_proof": text })
                })
                .collect();
            let v = match (&select.index, v.as_slice()) {
                (Some(_), [one]) => one.clone(),
                _ => serde_json::json!({ "proofs": v }),
            };
            // Several proof files are separated by a blank line; a single one is printed as
            // is, so it can be saved and parsed as a tlog-proof file.
            out.result(&v, || {
                proofs
                    .iter()
                    .map(|(_, t)| t.clone())
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        LogCommand::Lookup { digest } => {
            let d = parse_digest(&digest).map_err(usage)?;
            let found =
                lookup_readonly(&log.loaded.log_state_dir(), cp.size, &ArtifactDigest(d.0))?;
            let v = serde_json::json!({ "sha256": d.to_hex(), "entries": found });
            out.result(&v, || {
                if found.is_empty() {
                    format!("no entries name sha256:{}", d.to_hex())
                } else {
                    found.iter().map(|i| format!("{i}\n")).collect()
                }
            });
        }
        LogCommand::Monitor { .. } | LogCommand::Append { .. } => {}
    }
    Ok(ExitCode::SUCCESS)
}

fn append(
    dir: &std::path::Path,
    bundle_path: &std::path::Path,
    insecure_unencrypted_key: bool,
    out: &Output,
) -> CmdResult {
    let loaded = Loaded::from_dir(dir).map_err(usage)?;
    let site = custody_site::site::Site::new(loaded.site_dir());
    let policy = site.policy().map_err(usage)?;
    let bytes = read_bounded(
        bundle_path,
        custody_attest::bundle::MAX_BUNDLE_BYTES as u64,
        "bundle",
    )
    .map_err(usage)?;
    let log_key = super::key::load_signer(&loaded.log_key_path(), insecure_unencrypted_key, out)?;
    let mut log = custody_site::log::Log::open(
        site.root(),
        &loaded.log_state_dir(),
        &loaded.config.log.origin,
        &log_key,
    )?;
    let appended = log
        .append_bundle(&bytes, &policy, jiff::Timestamp::now())
        .with_context(|| bundle_path.display().to_string())?;
    custody_site::fs::write_atomic(bundle_path, appended.json.as_bytes())?;
    let v = serde_json::json!({
        "bundle": bundle_path,
        "index": appended.entry.log_index,
        "tree_size": log.size(),
    });
    out.result(&v, || {
        format!(
            "logged {} as entry {} (tree size {})",
            bundle_path.display(),
            appended.entry.log_index,
            log.size()
        )
    });
    Ok(ExitCode::SUCCESS)
}

fn monitor(
    dir: &std::path::Path,
    log: Option<&std::path::Path>,
    vkey: Option<&std::path::Path>,
    state: Option<&std::path::Path>,
    out: &Output,
) -> CmdResult {
    let loaded = Loaded::from_dir(dir).ok();
    let log_dir = match (log, &loaded) {
        (Some(l), _) => l.to_path_buf(),
        (None, Some(c)) => c.site_dir().join(LOG_DIR),
        (None, None) => {
            return Err(usage(anyhow::anyhow!(
                "no custody.toml here: give --log DIR"
            )));
        }
    };
    let state = match (state, &loaded) {
        (Some(s), _) => s.to_path_buf(),
        (None, Some(c)) => c.base.join(".custody/monitor/checkpoint"),
        (None, None) => {
            return Err(usage(anyhow::anyhow!(
                "no custody.toml here: give --state FILE"
            )));
        }
    };
    let vkey_path = vkey.map_or_else(|| log_dir.join(VKEY_FILE), std::path::Path::to_path_buf);
    let vkey_text =
        String::from_utf8(read_bounded(&vkey_path, 4096, "verifier key").map_err(usage)?)
            .with_context(|| vkey_path.display().to_string())
            .map_err(usage)?;
    let verifier = NoteVerifier::parse(vkey_text.trim())
        .with_context(|| vkey_path.display().to_string())
        .map_err(usage)?;
    let origin = verifier.name().to_owned();
    let cp_path = log_dir.join(custody_tlog::CHECKPOINT_PATH);
    let note = read_bounded(&cp_path, 1 << 20, "checkpoint").map_err(usage)?;
    let observed = Checkpoint::open(&note, &origin, &verifier)
        .with_context(|| cp_path.display().to_string())?;
    let mut monitor = if state.is_file() {
        let trusted = read_bounded(&state, 1 << 20, "monitor state").map_err(usage)?;
        custody_tlog::Monitor::resume(&origin, verifier, &trusted)
            .with_context(|| state.display().to_string())?
    } else {
        custody_tlog::Monitor::new(&origin, verifier)
    };
    let store = DirStore::open(&log_dir).with_context(|| log_dir.display().to_string())?;
    let proof = match monitor.trusted() {
        None => custody_tlog::ConsistencyProof::default(),
        Some(t) => {
            let (old, new) = (t.checkpoint.size, observed.checkpoint.size);
            let (small, large) = if old <= new { (old, new) } else { (new, old) };
            // A log that shrank cannot prove anything from its own tiles: that is itself the
            // evidence, so an empty proof lets the monitor report it.
            custody_tlog::prove_consistency(&store, large, small).unwrap_or_default()
        }
    };
    match monitor.observe(&note, &proof) {
        Ok(observation) => {
            if let Some(t) = monitor.trusted() {
                custody_site::fs::write_atomic(&state, &t.note.to_bytes())?;
            }
            let text = format!("{observation:?}");
            let v = serde_json::json!({
                "origin": origin,
                "size": observed.checkpoint.size,
                "observation": text,
                "split_view": false,
            });
            out.result(&v, || {
                format!("{origin}: {text} (size {})", observed.checkpoint.size)
            });
            Ok(ExitCode::SUCCESS)
        }
        Err(custody_tlog::Error::SplitView { evidence }) => {
            let v = serde_json::json!({
                "origin": origin,
                "split_view": true,
                "reason": evidence.reason,
                "trusted_checkpoint": String::from_utf8_lossy(&evidence.trusted),
                "observed_checkpoint": String::from_utf8_lossy(&evidence.observed),
            });
            out.result(&v, || {
                format!(
                    "SPLIT VIEW in log {origin}: {}\n--- checkpoint trusted earlier ---\n{}--- checkpoint observed now ---\n{}",
                    evidence.reason,
                    String::from_utf8_lossy(&evidence.trusted),
                    String::from_utf8_lossy(&evidence.observed)
                )
            });
            Ok(ExitCode::from(crate::output::EXIT_FAILED))
        }
        Err(e) => Err(anyhow::Error::new(e)
            .context(cp_path.display().to_string())
            .into()),
    }
}

fn hex_of(b: &[u8]) -> String {
    hex::encode(b)
}
