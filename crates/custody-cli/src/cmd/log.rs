//! `custody log`: read the site's transparency log: its checkpoint, entries, proofs, and which
//! entries name an artifact.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use custody_service::env::SystemClock;
use custody_service::log::{LogReader, Monitored, parse_digest, read_vkey};
use custody_site::config::Loaded;
use custody_site::log::{LOG_DIR, VKEY_FILE};

use crate::cmd::key::file_keys;
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
    /// Verify and print the log's current checkpoint. With --witness, first ask the witnesses of
    /// `[log] witnesses` to cosign it and republish it with their cosignatures.
    Checkpoint {
        /// Collect witness cosignatures (needs the log key); exit 1 if a witness did not cosign.
        #[arg(long)]
        witness: bool,
        /// Accept an unencrypted log key file.
        #[arg(long, requires = "witness")]
        insecure_unencrypted_key: bool,
    },
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
    /// Rebuild the lookup index (artifact digest → entries) from the site's release and notice
    /// bundles, after `.custody/log-state` was lost: until then `lookup` refuses to answer
    /// rather than miss entries. Each bundle is used only if its log entry records its
    /// signature.
    Reindex {
        /// Accept an unencrypted log key file.
        #[arg(long)]
        insecure_unencrypted_key: bool,
    },
    /// List the entries recorded for an artifact digest (`sha256:HEX` or `HEX`).
    Lookup {
        /// The artifact's SHA-256.
        digest: String,
    },
    /// Act as a witness (c2sp.org/tlog-witness): check that a log only grows and cosign its
    /// checkpoints with a cosignature/v1 key.
    Witness {
        #[command(subcommand)]
        command: WitnessCommand,
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

impl Select {
    fn indices(&self, log: &LogReader) -> Result<Vec<u64>, crate::output::Failure> {
        match (self.index, &self.digest) {
            (Some(i), _) => Ok(vec![i]),
            (None, Some(d)) => Ok(log.lookup_some(&parse_digest(d)?)?),
            (None, None) => Err(usage(anyhow::anyhow!("give --index or --digest"))),
        }
    }
}

#[derive(Debug, Subcommand)]
enum WitnessCommand {
    /// Print the witness's verifier key (`name+keyid+base64`, cosignature/v1), for logs'
    /// `[log] witnesses` and verifiers' policies.
    Vkey {
        #[command(flatten)]
        key: WitnessKey,
    },
    /// Fetch a log's checkpoint, verify its signature, prove consistency from the last size
    /// this witness cosigned (from the log's own tiles), and print a cosignature line.
    Cosign {
        /// The log: a directory (a site's `log/`) or its URL.
        #[arg(long)]
        log: String,
        /// The log's verifier key: a file (a site's `log/vkey`) or the key itself.
        #[arg(long)]
        vkey: String,
        #[command(flatten)]
        key: WitnessKey,
        /// Where the witness remembers the latest checkpoint it cosigned for each log.
        #[arg(long)]
        state: PathBuf,
    },
    /// Serve `POST /add-checkpoint` over HTTP for the logs named by --vkey, until killed.
    /// Prints the address it listens on.
    Serve {
        /// Address to listen on (port 0 picks a free port).
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: String,
        /// Verifier key of a log to witness (a file or the key itself); repeat for several.
        #[arg(long, required = true)]
        vkey: Vec<String>,
        #[command(flatten)]
        key: WitnessKey,
        /// Where the witness remembers the latest checkpoint it cosigned for each log.
        #[arg(long)]
        state: PathBuf,
    },
}

/// The witness's identity: an Ed25519 key file and the name its signatures carry.
#[derive(Debug, clap::Args)]
struct WitnessKey {
    /// The witness's Ed25519 key: a file (encrypted PKCS#8, as `custody key generate` writes)
    /// or a key in a PKCS#11 token (`pkcs11:` URI).
    #[arg(long)]
    key: PathBuf,
    /// The witness's name, e.g. `witness.example.com` (part of its verifier key).
    #[arg(long)]
    name: String,
    /// Accept an unencrypted witness key file.
    #[arg(long)]
    insecure_unencrypted_key: bool,
}

impl WitnessKey {
    fn signer(&self, out: &Output) -> anyhow::Result<custody_tlog::NoteSigner> {
        let key = super::key::load_signer(&self.key, self.insecure_unencrypted_key, out)?;
        custody_site::log::witness_signer(&self.name, key)
            .with_context(|| self.key.display().to_string())
    }
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
    match &args.command {
        LogCommand::Append {
            bundle,
            insecure_unencrypted_key,
        } => return append(&args.dir, bundle, *insecure_unencrypted_key, out),
        LogCommand::Witness { command } => return witness(command, out),
        LogCommand::Reindex {
            insecure_unencrypted_key,
        } => return reindex(&args.dir, *insecure_unencrypted_key, out),
        LogCommand::Checkpoint {
            witness: true,
            insecure_unencrypted_key,
        } => return rewitness(&args.dir, *insecure_unencrypted_key, out),
        _ => {}
    }
    let loaded = Loaded::from_dir(&args.dir).map_err(usage)?;
    let log = LogReader::open(&loaded)?;
    let cp = &log.checkpoint().checkpoint;
    match args.command {
        LogCommand::Checkpoint { .. } => {
            let v = serde_json::json!({
                "origin": cp.origin,
                "size": cp.size,
                "root": hex_of(&cp.root.0),
                "signatures": log.checkpoint().note.signatures().len(),
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
                let entry = log.entry(index)?;
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
                proofs.push((index, log.prove(index)?));
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
            let d = parse_digest(&digest)?;
            let found = log.lookup(&d)?;
            let v = serde_json::json!({ "sha256": d.to_hex(), "entries": found });
            out.result(&v, || {
                if found.is_empty() {
                    format!("no entries name sha256:{}", d.to_hex())
                } else {
                    found.iter().map(|i| format!("{i}\n")).collect()
                }
            });
        }
        LogCommand::Monitor { .. }
        | LogCommand::Append { .. }
        | LogCommand::Witness { .. }
        | LogCommand::Reindex { .. } => {}
    }
    Ok(ExitCode::SUCCESS)
}

fn reindex(dir: &std::path::Path, insecure_unencrypted_key: bool, out: &Output) -> CmdResult {
    let loaded = Loaded::from_dir(dir).map_err(usage)?;
    let keys = file_keys(insecure_unencrypted_key, out);
    let done = custody_service::log::reindex(&loaded, &keys, &super::transport(), out)?;
    out.result(&done, || {
        format!(
            "lookup index rebuilt: {} entr{} indexed from {} bundle(s), {} skipped",
            done.indexed,
            if done.indexed == 1 { "y" } else { "ies" },
            done.bundles,
            done.skipped.len()
        )
    });
    Ok(ExitCode::SUCCESS)
}

fn rewitness(dir: &std::path::Path, insecure_unencrypted_key: bool, out: &Output) -> CmdResult {
    let loaded = Loaded::from_dir(dir).map_err(usage)?;
    let keys = file_keys(insecure_unencrypted_key, out);
    let done = custody_service::log::rewitness(&loaded, &keys, &super::transport(), out)?;
    let signed = &done.checkpoint;
    let cp = &signed.checkpoint;
    let v = serde_json::json!({
        "origin": cp.origin,
        "size": cp.size,
        "root": hex_of(&cp.root.0),
        "signatures": signed.note.signatures().len(),
        "witnesses_failed": done.failed,
    });
    out.result(&v, || {
        format!(
            "checkpoint of {} at size {} republished with {} signature(s)",
            cp.origin,
            cp.size,
            signed.note.signatures().len()
        )
    });
    Ok(if done.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::output::EXIT_FAILED)
    })
}

fn witness(command: &WitnessCommand, out: &Output) -> CmdResult {
    match command {
        WitnessCommand::Vkey { key } => {
            let signer = key.signer(out)?;
            let vkey = signer.verifier().to_vkey_string();
            out.result(&serde_json::json!({ "vkey": vkey }), || vkey.clone());
            Ok(ExitCode::SUCCESS)
        }
        WitnessCommand::Cosign {
            log,
            vkey,
            key,
            state,
        } => {
            let log_key = read_vkey(vkey)?;
            let signer = key.signer(out)?;
            let cosigned = custody_service::log::cosign(
                log,
                &log_key,
                &signer,
                state,
                &super::transport(),
                &SystemClock,
            )?;
            out.result(&cosigned, || cosigned.cosignature.clone());
            Ok(ExitCode::SUCCESS)
        }
        WitnessCommand::Serve {
            listen,
            vkey,
            key,
            state,
        } => {
            let logs = vkey
                .iter()
                .map(|v| read_vkey(v))
                .collect::<Result<Vec<_>, _>>()?;
            let signer = key.signer(out)?;
            let vkey = signer.verifier().to_vkey_string();
            let state = custody_tlog::WitnessState::open(state)?;
            let listener = std::net::TcpListener::bind(listen)
                .with_context(|| format!("listen on {listen}"))
                .map_err(usage)?;
            let addr = listener.local_addr()?;
            let origins: Vec<String> = logs.iter().map(|l| l.name().to_owned()).collect();
            let w = std::sync::Arc::new(custody_server::Witness::new(signer, logs, state));
            // The address goes out first, so a supervisor or test can read it; a reader that
            // then hangs up must not take the witness down, hence no panicking println!.
            let announce = if out.json {
                serde_json::json!({ "listen": format!("http://{addr}"), "vkey": vkey, "logs": origins })
                    .to_string()
            } else {
                format!(
                    "witness listening on http://{addr}\n  vkey: {vkey}\n  logs: {}",
                    origins.join(", ")
                )
            };
            {
                use std::io::Write as _;
                let mut stdout = std::io::stdout().lock();
                let _ = writeln!(stdout, "{announce}").and_then(|()| stdout.flush());
            }
            custody_server::serve(listener, w.router())?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn append(
    dir: &std::path::Path,
    bundle_path: &std::path::Path,
    insecure_unencrypted_key: bool,
    out: &Output,
) -> CmdResult {
    let loaded = Loaded::from_dir(dir).map_err(usage)?;
    let keys = file_keys(insecure_unencrypted_key, out);
    let appended = custody_service::log::append(
        &loaded,
        bundle_path,
        &keys,
        &super::transport(),
        &SystemClock,
        out,
    )?;
    let v = serde_json::json!({
        "bundle": bundle_path,
        "index": appended.index,
        "tree_size": appended.tree_size,
    });
    out.result(&v, || {
        format!(
            "logged {} as entry {} (tree size {})",
            bundle_path.display(),
            appended.index,
            appended.tree_size
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
    match custody_service::log::monitor(&log_dir, &vkey_path, &state)? {
        Monitored::Consistent {
            origin,
            size,
            observation,
        } => {
            let text = format!("{observation:?}");
            let v = serde_json::json!({
                "origin": origin,
                "size": size,
                "observation": text,
                "split_view": false,
            });
            out.result(&v, || format!("{origin}: {text} (size {size})"));
            Ok(ExitCode::SUCCESS)
        }
        Monitored::SplitView { origin, evidence } => {
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
    }
}

fn hex_of(b: &[u8]) -> String {
    hex::encode(b)
}
