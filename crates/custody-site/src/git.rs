//! What the source tree looks like, asked of `git` itself.

use std::path::Path;
use std::process::Command;

use custody_attest::release::SourceState;

use crate::Error;

fn git(dir: &Path, args: &[&str]) -> Result<Option<String>, Error> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .map_err(|e| Error::Git {
            args: args.join(" "),
            reason: format!("cannot run git: {e}"),
        })?;
    if !out.status.success() {
        return Ok(None);
    }
    Ok(Some(
        String::from_utf8_lossy(&out.stdout).trim_end().to_owned(),
    ))
}

/// The repository ([`repository_url`]), ref, commit and cleanliness of the tree containing `dir`.
///
/// `outputs` are custody's own output paths (the site, the key directory), relative to `dir`:
/// what custody writes there is not a change to the source, so it does not make the tree dirty.
pub fn source_state(
    dir: &Path,
    repository: Option<&str>,
    outputs: &[&Path],
) -> Result<SourceState, Error> {
    let commit = git(dir, &["rev-parse", "--verify", "HEAD"])?.ok_or_else(|| Error::Git {
        args: "rev-parse HEAD".to_owned(),
        reason: format!(
            "{} is not inside a git repository with at least one commit; provenance needs the source commit",
            dir.display()
        ),
    })?;
    let git_ref = git(dir, &["symbolic-ref", "-q", "HEAD"])?
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| "HEAD".to_owned());
    let repository = repository_url(dir, repository)?;
    let status = status(dir, outputs)?;
    Ok(SourceState {
        repository,
        git_ref,
        commit,
        clean: status.is_empty(),
    })
}

/// The source repository URL: `explicit` if given, else the `origin` remote, else the tree's own
/// path as a `file://` URL (so provenance still names where the source was).
pub fn repository_url(dir: &Path, explicit: Option<&str>) -> Result<String, Error> {
    if let Some(r) = explicit {
        return Ok(r.to_owned());
    }
    if let Some(url) = git(dir, &["remote", "get-url", "origin"])?.filter(|u| !u.is_empty()) {
        return Ok(url);
    }
    let top = git(dir, &["rev-parse", "--show-toplevel"])?
        .filter(|t| !t.is_empty())
        .map(std::path::PathBuf::from)
        .or_else(|| std::fs::canonicalize(dir).ok())
        .unwrap_or_else(|| dir.to_path_buf());
    Ok(format!("file://{}", top.display()))
}

fn status(dir: &Path, outputs: &[&Path]) -> Result<String, Error> {
    let mut args: Vec<String> = [
        "status",
        "--porcelain",
        "--untracked-files=normal",
        "--",
        ":/",
    ]
    .map(String::from)
    .to_vec();
    for out in outputs {
        if out.is_relative() {
            args.push(format!(":(exclude){}", out.display()));
        }
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    git(dir, &args)?.ok_or_else(|| Error::Git {
        args: args.join(" "),
        reason: "failed".to_owned(),
    })
}

/// The first uncommitted path and how many there are, for a clear refusal.
pub fn dirty_paths(dir: &Path, outputs: &[&Path]) -> Result<(usize, String), Error> {
    let status = status(dir, outputs)?;
    let lines: Vec<&str> = status.lines().collect();
    Ok((
        lines.len(),
        lines
            .first()
            .map(|l| l.trim().to_owned())
            .unwrap_or_default(),
    ))
}
