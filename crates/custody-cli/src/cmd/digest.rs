//! `custody digest`: SHA-256 / SHA-512 of files, streamed and in parallel.

use std::path::PathBuf;
use std::process::ExitCode;

use custody_crypto::{Algorithms, digest_files};

use crate::output::{CmdResult, Failure, Output, usage};

/// Print SHA-256 and/or SHA-512 digests of files (`sha256sum` style).
///
/// Files are streamed, never read whole; several files are hashed in parallel, one per core.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Files to hash.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Which digests.
    #[arg(long, short, default_value = "both", value_parser = ["sha256", "sha512", "both"])]
    algorithm: String,
}

#[derive(serde::Serialize)]
struct Entry {
    path: PathBuf,
    size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sha512: Option<String>,
}

pub fn run(args: Args, out: &Output) -> CmdResult {
    let algorithms = match args.algorithm.as_str() {
        "sha256" => Algorithms::Sha256,
        "sha512" => Algorithms::Sha512,
        _ => Algorithms::Both,
    };
    let mut entries = Vec::new();
    for (path, result) in args.files.iter().zip(digest_files(&args.files, algorithms)) {
        let d = result.map_err(usage)?;
        entries.push(Entry {
            path: path.clone(),
            size: d.size,
            sha256: d.sha256.map(|h| h.to_hex()),
            sha512: d.sha512.map(|h| h.to_hex()),
        });
    }
    out.result(&entries, || {
        let mut s = String::new();
        for e in &entries {
            for (alg, h) in [("sha256", &e.sha256), ("sha512", &e.sha512)] {
                if let Some(h) = h {
                    let prefix = if algorithms == Algorithms::Both {
                        format!("{alg}:")
                    } else {
                        String::new()
                    };
                    s.push_str(&format!("{prefix}{h}  {}\n", e.path.display()));
                }
            }
        }
        s
    });
    Ok::<_, Failure>(ExitCode::SUCCESS)
}
