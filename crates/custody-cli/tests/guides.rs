//! The guides in `docs/` run: every `sh` block of a guide, in order, in one bash shell, in a
//! temporary directory, with this build's `custody` on `PATH`. A block that fails fails the
//! test, naming the block; so a guide cannot go stale.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Read as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The `sh` blocks of a Markdown document, in order.
fn sh_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match &mut current {
            None if line.trim_start() == "```sh" => current = Some(String::new()),
            None => {}
            Some(_) if line.trim_start() == "```" => blocks.extend(current.take()),
            Some(block) => {
                block.push_str(line);
                block.push('\n');
            }
        }
    }
    assert!(current.is_none(), "an sh block is not closed");
    blocks
}

struct Outcome {
    ok: bool,
    /// The block that failed (1-based), if one did.
    failed: Option<usize>,
    log: String,
}

/// Runs `blocks` as one script in `dir`, each announced on stderr so a failure names its block.
fn run_blocks(blocks: &[String], dir: &Path) -> Outcome {
    let mut script = String::from(
        "set -euo pipefail\n\
         trap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n",
    );
    for (i, block) in blocks.iter().enumerate() {
        script.push_str(&format!("echo '::block {}' >&2\n{block}", i + 1));
    }
    script.push_str("echo '::done' >&2\n");
    let bin_dir = PathBuf::from(env!("CARGO_BIN_EXE_custody"))
        .parent()
        .unwrap()
        .to_path_buf();
    let path = std::env::join_paths(
        std::iter::once(bin_dir).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
    )
    .unwrap();
    let advisories = common::advisories().join("crates.io");
    let mut child = Command::new("bash")
        // Its own process group, so whatever a guide leaves running is stopped with it.
        .process_group(0)
        .arg("-c")
        .arg(&script)
        .current_dir(dir)
        .env("PATH", path)
        .env("ADVISORIES", advisories)
        .env("XDG_DATA_HOME", dir.join(".xdg-data"))
        .env_remove("CUSTODY_PASSPHRASE")
        .env_remove("CUSTODY_PASSPHRASE_FILE")
        .env_remove("CUSTODY_DB")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bash");
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(180);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // A background process a failed guide left behind would hold the pipes open.
    let _ = Command::new("kill")
        .args(["-TERM", "--", &format!("-{}", child.id())])
        .stderr(Stdio::null())
        .status();
    let (out, err) = (out_reader.join().unwrap(), err_reader.join().unwrap());
    let last_block = err
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("::block "))
        .and_then(|n| n.trim().parse::<usize>().ok());
    let ok = status.is_some_and(|s| s.success()) && err.contains("::done");
    Outcome {
        ok,
        failed: (!ok).then_some(last_block.unwrap_or(0)),
        log: format!("stdout:\n{out}\nstderr:\n{err}"),
    }
}

fn run_guide(name: &str, at_least: usize) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../docs")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    let blocks = sh_blocks(&text);
    assert!(
        blocks.len() >= at_least,
        "{name} has {} sh blocks, fewer than its {at_least}",
        blocks.len()
    );
    let dir = tempfile::tempdir().unwrap();
    let outcome = run_blocks(&blocks, dir.path());
    assert!(
        outcome.ok,
        "{name}: sh block {} failed:\n{}\n---\n{}",
        outcome.failed.unwrap_or(0),
        outcome
            .failed
            .and_then(|n| blocks.get(n.wrapping_sub(1)))
            .map_or("", String::as_str),
        outcome.log
    );
}

#[test]
fn the_suppliers_guide_runs() {
    run_guide("supplier.md", 9);
}

#[test]
fn the_customers_guide_runs() {
    run_guide("customer.md", 8);
}

#[test]
fn a_failing_block_fails_the_guide_and_is_named() {
    let markdown = "# A guide\n\n```sh\necho one\n```\n\ntext\n\n```text\nnot run\n```\n\n\
                    ```sh\nfalse\n```\n\n```sh\necho never\n```\n";
    let blocks = sh_blocks(markdown);
    assert_eq!(blocks, ["echo one\n", "false\n", "echo never\n"]);
    let dir = tempfile::tempdir().unwrap();
    let outcome = run_blocks(&blocks, dir.path());
    assert!(!outcome.ok);
    assert_eq!(outcome.failed, Some(2), "{}", outcome.log);
    assert!(!outcome.log.contains("never"));
}
