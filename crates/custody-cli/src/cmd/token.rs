//! `custody token`: the bearer tokens pipelines and people use with `custody serve`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::anyhow;
use custody_service::access::{self, Action, TokenRequest};
use custody_service::env::SystemClock;
use custody_site::config::Loaded;
use serde::Serialize;

use crate::output::{CmdResult, Output, usage};

/// Make, list and revoke the tokens `custody serve` accepts.
///
/// A token is 256 random bits, printed once when it is made and stored only as its SHA-256 in
/// the project's catalog (`[monitor] catalog`: the SQLite file, or the PostgreSQL database the
/// servers share). Each is scoped to one product or to all, and to actions: publish, vex,
/// advisories, webhooks, read, or admin (everything). A token for one product acts on that
/// product only; importing advisories and managing tokens need a token for every product.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
    /// The project directory (where custody.toml is).
    #[arg(long, global = true, default_value = ".")]
    dir: PathBuf,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    Create(CreateArgs),
    List,
    Revoke(RevokeArgs),
}

/// Make a token and print its secret, once.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  custody token create --product app --scope publish --expires 90d --description 'app CI'
  custody token create --scope admin --expires 30d
  CUSTODY_TOKEN=custody_... custody release dist/app.tgz --product app --version 1.4.2 ...")]
pub struct CreateArgs {
    /// The product it may act on [default: every product].
    #[arg(long)]
    product: Option<String>,
    /// What it may do; repeat or separate with commas.
    #[arg(long = "scope", required = true, value_delimiter = ',',
          value_parser = ["publish", "vex", "advisories", "webhooks", "read", "admin"])]
    scopes: Vec<String>,
    /// How long it lives: 90d, 12h, 2w... [default: until revoked].
    #[arg(long, value_name = "DURATION")]
    expires: Option<String>,
    /// What it is for, shown in `custody token list` and kept with the audit log.
    #[arg(long, default_value = "")]
    description: String,
}

/// Revoke a token: from now on every request with it is refused (401).
#[derive(Debug, clap::Args)]
pub struct RevokeArgs {
    /// The token's id (tok_..., from `custody token list`).
    id: String,
}

pub fn run(args: Args, out: &Output) -> CmdResult {
    let loaded = Loaded::from_dir(&args.dir).map_err(usage)?;
    let mut catalog = custody_service::monitor::open_catalog(&loaded)?;
    match args.command {
        Command::Create(a) => create(&mut catalog, a, out),
        Command::List => list(&mut catalog, out),
        Command::Revoke(a) => revoke(&mut catalog, &a.id, out),
    }
}

/// `90d`, `2w`, `12h`, `1h30m`: days and weeks are 24 hours and 7 days.
fn lifetime(text: &str) -> Result<jiff::SignedDuration, anyhow::Error> {
    let span: jiff::Span = text
        .parse()
        .map_err(|e| anyhow!("--expires {text:?}: not a duration like 90d or 12h ({e})"))?;
    let duration = span
        .to_duration(jiff::SpanRelativeTo::days_are_24_hours())
        .map_err(|e| anyhow!("--expires {text:?}: {e}"))?;
    if !duration.is_positive() {
        return Err(anyhow!("--expires {text:?}: must be in the future"));
    }
    Ok(duration)
}

#[derive(Serialize)]
struct Created<'a> {
    ok: bool,
    #[serde(flatten)]
    token: &'a access::StoredToken,
    secret: &'a str,
}

fn create(catalog: &mut access::Catalog, args: CreateArgs, out: &Output) -> CmdResult {
    let actions = args
        .scopes
        .iter()
        .map(|s| Action::parse(s).ok_or_else(|| usage(anyhow!("{s:?} is not a scope"))))
        .collect::<Result<Vec<_>, _>>()?;
    let lifetime = args
        .expires
        .as_deref()
        .map(lifetime)
        .transpose()
        .map_err(usage)?;
    let issued = access::create(
        catalog,
        &TokenRequest {
            product: args.product,
            actions,
            lifetime,
            description: args.description,
        },
        &SystemClock,
    )?;
    let t = &issued.token;
    out.result(
        &Created {
            ok: true,
            token: t,
            secret: &issued.secret,
        },
        || {
            format!(
                "{}\n\ntoken {} for {} ({}), {}.\nThis is the only time the secret is shown: \
                 store it in the pipeline's secrets as CUSTODY_TOKEN.",
                issued.secret.as_str(),
                t.id,
                t.product.as_deref().unwrap_or("every product"),
                t.scopes.join(", "),
                t.expires
                    .as_deref()
                    .map_or("valid until revoked".to_owned(), |e| format!("expires {e}")),
            )
        },
    );
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct Listed<'a> {
    tokens: &'a [access::StoredToken],
}

fn list(catalog: &mut access::Catalog, out: &Output) -> CmdResult {
    let tokens = access::list(catalog)?;
    out.result(&Listed { tokens: &tokens }, || {
        if tokens.is_empty() {
            return "no tokens; make one with `custody token create`".to_owned();
        }
        let now = jiff::Timestamp::now();
        tokens
            .iter()
            .map(|t| {
                let state = match (&t.revoked, &t.expires) {
                    (Some(r), _) => format!("revoked {r}"),
                    (None, Some(e)) if access::is_expired(t, now) => {
                        format!("expired {e}")
                    }
                    (None, Some(e)) => format!("expires {e}"),
                    (None, None) => "no expiry".to_owned(),
                };
                format!(
                    "{}  {:<16} {:<28} {}  {}",
                    t.id,
                    t.product.as_deref().unwrap_or("*"),
                    t.scopes.join(","),
                    state,
                    t.description
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    });
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct Revoked<'a> {
    ok: bool,
    revoked: &'a str,
}

fn revoke(catalog: &mut access::Catalog, id: &str, out: &Output) -> CmdResult {
    access::revoke(catalog, id, &SystemClock)?;
    out.result(
        &Revoked {
            ok: true,
            revoked: id,
        },
        || format!("token {id} revoked; requests with it are refused from now on"),
    );
    Ok(ExitCode::SUCCESS)
}
