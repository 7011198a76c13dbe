//! `custody vex`: write OpenVEX statements that `custody scan --vex` honours.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, anyhow};
use custody_vuln::vex::{Document, Justification, Product, Statement, Status, Vulnerability};
use serde::Serialize;

use crate::output::{CmdResult, Output, usage};

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
struct Added<'a> {
    ok: bool,
    file: &'a Path,
    document: &'a str,
    version: u64,
    statements: usize,
}

pub fn run(args: Args, out: &Output) -> CmdResult {
    match args.command {
        Command::Add(a) => add(a, out),
    }
}

/// The default file of a product. Names that could leave the directory are refused, since the
/// name becomes a path.
fn default_file(product: &str) -> anyhow::Result<PathBuf> {
    let safe = !product.is_empty()
        && product != "."
        && product != ".."
        && product
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@' | '+'));
    if !safe {
        return Err(anyhow!(
            "product {product:?} cannot be a file name: pass --file"
        ));
    }
    Ok(Path::new(".custody/vex").join(format!("{product}.openvex.json")))
}

fn add(args: AddArgs, out: &Output) -> CmdResult {
    let file = match &args.file {
        Some(f) => f.clone(),
        None => default_file(&args.product).map_err(usage)?,
    };
    let status = Status::parse(&args.status)
        .ok_or_else(|| usage(anyhow!("{:?} is not a VEX status", args.status)))?;
    let justification = match args.justification.as_deref() {
        Some(j) => Some(
            Justification::parse(j)
                .ok_or_else(|| usage(anyhow!("{j:?} is not a VEX justification")))?,
        ),
        None => None,
    };
    let now = jiff::Timestamp::now().to_string();
    let (impact_statement, action_statement) = match status {
        Status::Affected => (None, args.statement.clone()),
        _ => (args.statement.clone(), None),
    };
    let statement = Statement {
        vulnerability: Vulnerability {
            name: args.id.clone(),
            aliases: Vec::new(),
        },
        products: vec![Product {
            id: args.product.clone(),
            subcomponents: Vec::new(),
        }],
        status,
        justification,
        impact_statement,
        action_statement,
        timestamp: Some(now.clone()),
    };
    let mut doc = if file.exists() {
        custody_service::inputs::read_vex(&file)?
    } else {
        let seed = format!(
            "{}|{}|{now}|{}",
            args.product,
            file.display(),
            std::process::id()
        );
        let id = custody_crypto::Sha256Digest::of(seed.as_bytes()).to_hex();
        let mut d = Document::new(
            format!("urn:custody:vex:{id}"),
            args.author.clone(),
            now.clone(),
        );
        d.tooling = Some(format!("custody {}", env!("CARGO_PKG_VERSION")));
        // `push` bumps the version, so a new file with one statement is version 1.
        d.version = 0;
        d
    };
    // Validated here, before anything is written, so a refused statement never creates a file.
    doc.push(statement, now).map_err(usage)?;

    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let tmp = file.with_extension("json.tmp");
    std::fs::write(&tmp, doc.to_json() + "\n")
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &file).with_context(|| format!("writing {}", file.display()))?;

    out.result(
        &Added {
            ok: true,
            file: &file,
            document: &doc.id,
            version: doc.version,
            statements: doc.statements.len(),
        },
        || {
            format!(
                "{} {} for {} in {} (version {})",
                args.id,
                args.status,
                args.product,
                file.display(),
                doc.version
            )
        },
    );
    Ok(ExitCode::SUCCESS)
}
