//! `custody`: the chain of custody for shipped software.
//!
//! This binary only parses flags, calls the library crates, prints, and maps outcomes to exit
//! codes: 0 success (verified), 1 failure (not verified, or refused), 2 bad usage or unreadable
//! input.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd;
mod output;
mod passphrase;

/// The chain of custody for shipped software: sign every release, publish it as a static site,
/// and let customers verify it offline.
///
/// A supplier runs `custody init` once, then `custody release` for every version. A customer
/// downloads an artifact, its `.sigstore.json` bundle and the site's `trusted_root.json` and
/// `custody-policy.json`, and runs `custody verify`.
#[derive(Debug, Parser)]
#[command(name = "custody", version)]
#[command(after_help = "Examples:
  custody init                                   # custody.toml, an encrypted key, site/
  custody release dist/app-1.4.2.tar.gz --product app --version 1.4.2
  custody verify app-1.4.2.tar.gz --trust trusted_root.json --policy custody-policy.json
  custody sbom . -o sbom.cdx.json                # CycloneDX 1.6 from every lockfile here
  custody db import advisories/crates.io         # then: custody scan . --fail-on high

Exit codes: 0 success or verified; 1 not verified or refused; 2 bad usage or unreadable input.
Environment: CUSTODY_PASSPHRASE or CUSTODY_PASSPHRASE_FILE supply the key passphrase without a prompt.")]
struct Cli {
    /// Print one JSON document on standard output instead of human text.
    #[arg(long, global = true)]
    json: bool,

    /// Print nothing on standard error but errors.
    #[arg(long, short, global = true)]
    quiet: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Init(cmd::init::Args),
    Release(cmd::release::Args),
    Repo(cmd::repo::Args),
    Update(cmd::update::Args),
    Verify(cmd::verify::Args),
    Sbom(cmd::sbom::Args),
    Scan(cmd::scan::Args),
    Db(cmd::db::Args),
    Key(cmd::key::Args),
    Log(cmd::log::Args),
    Digest(cmd::digest::Args),
    Vex(cmd::vex::Args),
    Monitor(cmd::monitor::Args),
    Serve(cmd::serve::Args),
    Token(cmd::token::Args),
    Doctor(cmd::doctor::Args),
    RebuildCheck(cmd::rebuild::Args),
    Evidence(cmd::evidence::Args),
    Tutorial(cmd::tutorial::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let out = output::Output::new(cli.json, cli.quiet);
    let result = match cli.command {
        Command::Init(args) => cmd::init::run(args, &out),
        Command::Release(args) => cmd::release::run(args, &out),
        Command::Repo(args) => cmd::repo::run(args, &out),
        Command::Update(args) => cmd::update::run(args, &out),
        Command::Verify(args) => cmd::verify::run(args, &out),
        Command::Sbom(args) => cmd::sbom::run(args, &out),
        Command::Scan(args) => cmd::scan::run(args, &out),
        Command::Db(args) => cmd::db::run(args, &out),
        Command::Key(args) => cmd::key::run(args, &out),
        Command::Log(args) => cmd::log::run(args, &out),
        Command::Digest(args) => cmd::digest::run(args, &out),
        Command::Vex(args) => cmd::vex::run(args, &out),
        Command::Monitor(args) => cmd::monitor::run(args, &out),
        Command::Serve(args) => cmd::serve::run(args, &out),
        Command::Token(args) => cmd::token::run(args, &out),
        Command::Doctor(args) => cmd::doctor::run(args, &out),
        Command::RebuildCheck(args) => cmd::rebuild::run(args, &out),
        Command::Evidence(args) => cmd::evidence::run(args, &out),
        Command::Tutorial(args) => cmd::tutorial::run(args, &out),
    };
    match result {
        Ok(code) => code,
        Err(err) => out.error(&err),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn flag_definitions_are_consistent() {
        super::Cli::command().debug_assert();
    }
}
