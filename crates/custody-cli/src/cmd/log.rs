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
    /// Print one entry (a Rekor v2 `dsse` entry body).
    Get {
        /// Entry index.
        #[arg(long)]
        index: u64,
    },
    /// Print a C2SP tlog-proof for one entry against the current checkpoint.
    Prove {
        /// Entry index.
        #[arg(long)]
        index: u64,
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
        LogCommand::Get { index } => {
            let entry = read_entry(&log.store, cp.size, index).map_err(usage)?;
            let parsed: Option<serde_json::Value> = serde_json::from_slice(&entry).ok();
            let v = serde_json::json!({ "index": index, "entry": parsed });
            out.result(&v, || String::from_utf8_lossy(&entry).into_owned());
        }
        LogCommand::Prove { index } => {
            let proof = prove_inclusion(&log.store, &log.checkpoint, index).map_err(usage)?;
            let text = String::from_utf8_lossy(&proof.to_bytes()).into_owned();
            let v = serde_json::json!({ "index": index, "tree_size": cp.size, "tlog_proof": text });
            out.result(&v, || text.clone());
        }
        LogCommand::Lookup { digest } => {
            let hex = digest.strip_prefix("sha256:").unwrap_or(&digest);
            let d = custody_crypto::Sha256Digest::from_hex(hex).map_err(usage)?;
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
        LogCommand::Monitor { .. } => {}
    }
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
