//! `custody vex`: write OpenVEX statements that `custody scan --vex` honours.

use std::path::PathBuf;
use std::process::ExitCode;

use custody_service::env::SystemClock;
use custody_service::vex::NewStatement;
use serde::Serialize;

use crate::output::{CmdResult, Output};

/// Record what a vulnerability means for a product, as OpenVEX v0.2.0 statements.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    Add(AddArgs),
}

/// Append a statement to an OpenVEX file.
///
/// The statement names the product, not a version: a `not_affected` statement keeps the
/// advisory out of the gate in every later release of the product too, until a newer statement
/// for it says otherwise. The file is created when missing (a fresh @id, version 1); every
/// change bumps its version.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  custody vex add RUSTSEC-2021-0003 --product app --status not_affected \\
      --justification vulnerable_code_not_in_execute_path
  custody vex add CVE-2022-24713 --product app --status affected --statement 'upgrade regex'
  custody scan . --vex .custody/vex/app.openvex.json

Justifications: component_not_present, vulnerable_code_not_present,
vulnerable_code_not_in_execute_path, vulnerable_code_cannot_be_controlled_by_adversary,
inline_mitigations_already_exist.")]
pub struct AddArgs {
    /// The vulnerability: an advisory id or any of its aliases (RUSTSEC-, CVE-, GHSA-, ...).
    id: String,
    /// The product: its name (as the scanned project calls itself) or a package URL.
    #[arg(long)]
    product: String,
    /// not_affected, affected, fixed or under_investigation.
    #[arg(long, value_parser = ["not_affected", "affected", "fixed", "under_investigation"])]
    status: String,
    /// Why it is not affected (required for not_affected unless --statement is given).
    #[arg(long, value_parser = [
        "component_not_present",
        "vulnerable_code_not_present",
        "vulnerable_code_not_in_execute_path",
        "vulnerable_code_cannot_be_controlled_by_adversary",
        "inline_mitigations_already_exist",
    ])]
    justification: Option<String>,
    /// Free text: the impact statement, or for `affected` the action statement.
    #[arg(long, value_name = "TEXT")]
    statement: Option<String>,
    /// The OpenVEX file (default: .custody/vex/<product>.openvex.json).
    #[arg(long)]
    file: Option<PathBuf>,
    /// The author of a new file.
    #[arg(long, default_value = "custody")]
    author: String,
}

#[derive(Serialize)]
struct Report {
    ok: bool,
    #[serde(flatten)]
    added: custody_service::vex::Added,
}

pub fn run(args: Args, out: &Output) -> CmdResult {
    match args.command {
        Command::Add(a) => add(a, out),
    }
}

fn add(args: AddArgs, out: &Output) -> CmdResult {
    let file = match &args.file {
        Some(f) => f.clone(),
        None => custody_service::vex::default_file(&args.product)?,
    };
    let status = custody_service::vex::status(&args.status)?;
    let justification = args
        .justification
        .as_deref()
        .map(custody_service::vex::justification)
        .transpose()?;
    let added = custody_service::vex::add(
        &NewStatement {
            id: args.id.clone(),
            product: args.product.clone(),
            status,
            justification,
            statement: args.statement.clone(),
            file,
            author: args.author.clone(),
        },
        &SystemClock,
    )?;
    let report = Report { ok: true, added };
    out.result(&report, || {
        format!(
            "{} {} for {} in {} (version {})",
            args.id,
            args.status,
            args.product,
            report.added.file.display(),
            report.added.version
        )
    });
    Ok(ExitCode::SUCCESS)
}
