//! `custody tutorial`: a release and its verification, in a sandbox, explained as it runs.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use crate::output::{CmdResult, EXIT_FAILED, Output, usage};

/// Walk through a release and its verification in a sandbox directory, explaining each step.
///
/// Makes a small project in --dir (a new directory, or an empty one), then runs the real
/// commands one by one, saying before each what it does and what it protects against: `custody
/// init`, `custody repo init`, `custody release`, `custody verify`, a tampered copy that
/// `custody verify` refuses, `custody update` as a customer, and `custody doctor`. On a
/// terminal it waits for Enter between steps (--yes does not). Nothing outside --dir is touched;
/// the sandbox's keys use the passphrase "tutorial", so never release real software from it.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The sandbox [default: a new directory custody-tutorial-N here].
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Run every step without waiting for Enter.
    #[arg(long)]
    yes: bool,
}

/// One step: what it is, why, and the command (`custody` args, or another program).
struct Step {
    title: &'static str,
    why: &'static str,
    program: Option<&'static str>,
    args: Vec<String>,
    /// The step shows a refusal: it passes when the command fails.
    expect_failure: bool,
}

#[derive(serde::Serialize)]
struct Ran {
    title: &'static str,
    command: String,
    exit_code: i32,
    ok: bool,
}

#[derive(serde::Serialize)]
struct Walkthrough {
    sandbox: PathBuf,
    steps: Vec<Ran>,
    ok: bool,
}

fn custody(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| (*s).to_owned()).collect()
}

fn steps() -> Vec<Step> {
    let step = |title, why, args: &[&str]| Step {
        title,
        why,
        program: None,
        args: custody(args),
        expect_failure: false,
    };
    vec![
        Step {
            title: "A project under git",
            why: "custody signs provenance that names the source repository and commit, and \
                  refuses to release from a tree with uncommitted changes, so a release can be \
                  traced to reviewed code.",
            program: Some("sh"),
            args: custody(&[
                "-c",
                "git init -q -b main . && git config user.name Tutorial && \
                 git config user.email tutorial@example.com && \
                 git remote add origin https://example.com/tutorial/hello.git && \
                 printf 'dist/\\n' > .gitignore && mkdir -p dist && \
                 printf 'hello, customers\\n' > dist/hello.txt && git add -A && \
                 git commit -q -m 'a project' && echo 'made a git repository with one commit'",
            ]),
            expect_failure: false,
        },
        step(
            "custody init: keys and trust files",
            "Makes the release key and the transparency log's key (two keys, so one stolen key \
             cannot both sign and vouch), encrypted at rest, and the site's trust files: \
             trusted_root.json (the log's key) and custody-policy.json (who may sign what).",
            &["init", "--builder-id", "https://ci.example.com/tutorial@v1"],
        ),
        step(
            "custody repo init: a TUF repository",
            "Customers' updaters take releases through TUF, which refuses forged, rolled-back \
             and frozen metadata. Its root keys belong offline once it exists.",
            &["repo", "init"],
        ),
        Step {
            title: "Commit the configuration",
            why: "custody.toml and the public trust files are part of the project; the private \
                  keys under .custody/ are kept out of git by the .gitignore custody wrote \
                  beside them.",
            program: Some("sh"),
            args: custody(&[
                "-c",
                "git add -A && git commit -q -m 'custody init' && git status --short && \
                 echo 'committed; the tree is clean'",
            ]),
            expect_failure: false,
        },
        step(
            "custody release: sign, log, publish",
            "Hashes the artifact, records SLSA provenance, signs a DSSE bundle, records the \
             signature in the transparency log (so it cannot be made quietly), publishes \
             site/releases/hello/1.0.0/ and adds it to the TUF repository.",
            &[
                "release",
                "dist/hello.txt",
                "--product",
                "hello",
                "--version",
                "1.0.0",
            ],
        ),
        step(
            "custody verify: what a customer runs, offline",
            "Checks the bundle, the signature against the policy, the log entry against the \
             log's signed checkpoint, the artifact's digest, the provenance and the manifest.",
            &[
                "verify",
                "site/releases/hello/1.0.0/hello.txt",
                "--trust",
                "site/trusted_root.json",
                "--policy",
                "site/custody-policy.json",
            ],
        ),
        Step {
            title: "A tampered copy is refused",
            why: "One changed byte and the artifact no longer matches what was signed: verify \
                  names the check that failed. (This step passes when verify refuses.)",
            program: Some("sh"),
            args: custody(&[
                "-c",
                "cp site/releases/hello/1.0.0/hello.txt tampered.txt && \
                 printf 'and one more line\\n' >> tampered.txt && \
                 \"$CUSTODY\" verify tampered.txt \
                   --bundle site/releases/hello/1.0.0/hello.txt.sigstore.json \
                   --trust site/trusted_root.json --policy site/custody-policy.json",
            ]),
            expect_failure: true,
        },
        step(
            "custody update: take the release through TUF",
            "Pins only the first TUF root, refreshes the metadata, verifies the artifact as \
             above and installs it in one rename; a lower version would be refused.",
            &[
                "update",
                "--repo",
                "site/tuf",
                "--root",
                "site/tuf/metadata/1.root.json",
                "--product",
                "hello",
                "--dir",
                "installed",
            ],
        ),
        step(
            "custody doctor: what a real setup still needs",
            "Checks the setup against the guide. In this sandbox it finds what a real supplier \
             would fix: no advisory database, a log no witness cosigns, TUF root keys on this \
             machine, a release without an SBOM.",
            &["doctor", "--fail-on", "error"],
        ),
    ]
}

fn new_sandbox() -> PathBuf {
    (1..)
        .map(|n| PathBuf::from(format!("custody-tutorial-{n}")))
        .find(|p| !p.exists())
        .unwrap_or_else(|| PathBuf::from("custody-tutorial"))
}

pub fn run(args: Args, out: &Output) -> CmdResult {
    let sandbox = args.dir.unwrap_or_else(new_sandbox);
    if sandbox.exists()
        && std::fs::read_dir(&sandbox)
            .map_err(|e| usage(anyhow::anyhow!("{}: {e}", sandbox.display())))?
            .next()
            .is_some()
    {
        return Err(usage(anyhow::anyhow!(
            "{} is not empty: the tutorial works in a new or empty directory",
            sandbox.display()
        )));
    }
    std::fs::create_dir_all(&sandbox)
        .map_err(|e| usage(anyhow::anyhow!("{}: {e}", sandbox.display())))?;
    let me = std::env::current_exe()
        .map_err(|e| anyhow::anyhow!("cannot find the custody executable: {e}"))?;
    let pause = !args.yes && !out.json && std::io::stdin().is_terminal();
    let say = |text: String| {
        if !out.json {
            println!("{text}");
        }
    };
    say(format!(
        "custody tutorial, in {} (the sandbox's keys use the passphrase \"tutorial\")\n",
        sandbox.display()
    ));
    let all = steps();
    let mut ran = Vec::with_capacity(all.len());
    for (i, step) in all.iter().enumerate() {
        say(format!("== {}/{}: {}", i + 1, all.len(), step.title));
        say(format!("   {}", step.why));
        let (program, shown) = match step.program {
            Some(p) => (PathBuf::from(p), format!("{p} {}", step.args.join(" "))),
            None => (me.clone(), format!("custody {}", step.args.join(" "))),
        };
        say(format!("   $ {shown}"));
        if pause {
            print!("   [Enter to run] ");
            let _ = std::io::stdout().flush();
            let mut line = String::new();
            let _ = std::io::stdin().lock().read_line(&mut line);
        }
        let code = run_step(&program, &step.args, &sandbox, &me, out.json)?;
        let ok = (code == 0) != step.expect_failure;
        say(format!(
            "   {}\n",
            match (ok, step.expect_failure) {
                (true, false) => "done".to_owned(),
                (true, true) => "refused, as it should be".to_owned(),
                (false, _) => format!("this step did not go as expected (exit {code})"),
            }
        ));
        ran.push(Ran {
            title: step.title,
            command: shown,
            exit_code: code,
            ok,
        });
        if !ok {
            break;
        }
    }
    let ok = ran.len() == all.len() && ran.iter().all(|r| r.ok);
    let walkthrough = Walkthrough {
        sandbox: sandbox.clone(),
        steps: ran,
        ok,
    };
    out.result(&walkthrough, || {
        format!(
            "{} Look around {}: site/ is what a supplier publishes, installed/ what a customer \
             took. Next: docs/supplier.md and docs/customer.md.",
            if ok {
                "That is the chain of custody, end to end."
            } else {
                "The tutorial stopped early."
            },
            sandbox.display()
        )
    });
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FAILED)
    })
}

/// Runs one step in the sandbox; its output goes to the terminal (stderr under --json).
fn run_step(
    program: &Path,
    args: &[String],
    sandbox: &Path,
    me: &Path,
    json: bool,
) -> Result<i32, crate::output::Failure> {
    let mut command = Command::new(program);
    command
        .args(args)
        .current_dir(sandbox)
        .env("CUSTODY_PASSPHRASE", "tutorial")
        .env_remove("CUSTODY_PASSPHRASE_FILE")
        .env("CUSTODY", me)
        .stdin(Stdio::null());
    if json {
        command.stdout(std::io::stderr());
    }
    let status = command
        .status()
        .map_err(|e| anyhow::anyhow!("cannot run {}: {e}", program.display()))?;
    Ok(status.code().unwrap_or(-1))
}
