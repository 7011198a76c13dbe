//! `custody serve`: the release site over HTTP, with cache headers.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use custody_site::config::Loaded;

use crate::output::{CmdResult, Output, usage};

/// Serve the release site, and in a project the publishing API, until killed.
///
/// Run in a project (a directory with custody.toml), it also serves the JSON API under
/// `/api/v1` on the project's catalog, described by the OpenAPI document at `/openapi.json`:
/// pipelines publish releases through it with tokens (`custody token create`), never keys;
/// VEX statements, advisory imports, webhooks, findings, tokens and the audit log have routes
/// too. Tokens are checked on every route, and every write and every refused request goes to
/// the audit log. The signing keys are unlocked once, now (CUSTODY_PASSPHRASE or
/// CUSTODY_PASSPHRASE_FILE, or a prompt); without them the site and the read routes are
/// served and publishing answers 503. Webhook events waiting in the outbox are sent every 15 s.
///
/// Any static web server or CDN can serve the site; this one also says in `Cache-Control` what
/// may be cached for good: log tiles and entry bundles, published releases, TUF targets and
/// versioned TUF metadata are `immutable` for a year, while the log checkpoint, TUF
/// `timestamp.json` and the `root.json` files must be revalidated (`no-cache`), and partial log
/// tiles and everything else live a minute. Prints the address it listens on.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The site directory [default: `[site] dir` of ./custody.toml, else ./site].
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    /// The largest artifact a pipeline may upload, in bytes (streamed to disk, never held in
    /// memory).
    #[arg(long, value_name = "BYTES", default_value_t = 8 << 30)]
    max_upload: u64,
    /// Drop an upload that sends nothing for this many seconds (a stalled or very slow client).
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    read_timeout: u64,
    /// Let webhooks registered through the API point at loopback, private and link-local
    /// addresses (refused by default: a token holder could make the server reach what only it
    /// can).
    #[arg(long)]
    allow_private_webhooks: bool,
    /// Sign even when custody.toml gives one key two duties (see `custody release
    /// --insecure-shared-key`).
    #[arg(long)]
    insecure_shared_key: bool,
}

/// The project's signing keys, unlocked once now (from CUSTODY_PASSPHRASE(_FILE) or a prompt)
/// and held in memory for the server's releases; why not, when they cannot be.
fn publisher(
    loaded: &Loaded,
    args: &Args,
    out: &Output,
) -> Result<custody_server::api::Publisher, String> {
    let keys = custody_service::release::held_signing_keys(
        loaded,
        &crate::cmd::key::file_keys(false, out),
        args.insecure_shared_key,
        out,
    )
    .map_err(|e| e.to_string())?;
    Ok(custody_server::api::Publisher {
        loaded: loaded.clone(),
        keys,
        transport: super::transport(),
        upload_limit: args.max_upload,
        read_timeout: std::time::Duration::from_secs(args.read_timeout),
        committer: custody_service::commit::Committer::default(),
    })
}

/// glibc's malloc gives each thread that allocates an arena of its own and keeps what it held:
/// the server's blocking threads grew it to 145 MiB after 1,000 releases, and two arenas hold it
/// near 54 (BENCHMARKS.md, issue 11). The bound must be set before any thread starts, which the
/// environment read at exec guarantees: so the server runs itself again with it, once, unless
/// the operator chose a value.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn bound_malloc_arenas(out: &Output) {
    use std::os::unix::process::CommandExt as _;
    const VAR: &str = "MALLOC_ARENA_MAX";
    if std::env::var_os(VAR).is_some() {
        return;
    }
    let Ok(me) = std::env::current_exe() else {
        return;
    };
    // `exec` returns only when it failed; the server then runs with glibc's default.
    let failed = std::process::Command::new(me)
        .args(std::env::args_os().skip(1))
        .env(VAR, "2")
        .exec();
    out.warn(format!(
        "could not re-run with {VAR}=2 ({failed}); memory may grow with the blocking threads"
    ));
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn bound_malloc_arenas(_: &Output) {}

pub fn run(args: Args, out: &Output) -> CmdResult {
    bound_malloc_arenas(out);
    let project = Loaded::from_dir(std::path::Path::new(".")).ok();
    let dir = match (args.dir.clone(), &project) {
        (Some(d), _) => d,
        (None, Some(l)) => l.site_dir(),
        (None, None) => PathBuf::from("site"),
    };
    if !dir.is_dir() {
        return Err(usage(anyhow::anyhow!(
            "{}: no such site directory",
            dir.display()
        )));
    }
    let listener = std::net::TcpListener::bind(&args.listen)
        .with_context(|| format!("listen on {}", args.listen))
        .map_err(usage)?;
    let addr = listener.local_addr()?;
    // In a project, the API runs on its catalog; a bare site directory is served read-only.
    let api = match &project {
        Some(loaded) => Some(custody_service::monitor::open_catalog(loaded)?),
        None => None,
    };
    let announce = if out.json {
        serde_json::json!({
            "listen": format!("http://{addr}"),
            "dir": dir,
            "api": api.as_ref().map(|_| format!("http://{addr}/api/v1")),
            "dashboard": api.as_ref().map(|_| format!("http://{addr}/ui")),
        })
        .to_string()
    } else {
        let api = match &api {
            // A second line: scripts read the address as the first line's last word.
            Some(c) => format!(
                "\napi http://{addr}/api/v1 on the catalog {}\ndashboard http://{addr}/ui",
                c.location()
            ),
            None => String::new(),
        };
        format!("serving {} on http://{addr}{api}", dir.display())
    };
    // A reader of the announcement that then hangs up must not stop the server.
    {
        use std::io::Write as _;
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{announce}").and_then(|()| stdout.flush());
    }
    let mut router = custody_server::site::router(dir);
    if let (Some(catalog), Some(loaded)) = (api, &project) {
        let publishing = publisher(loaded, &args, out);
        if let Err(reason) = &publishing {
            out.warn(format!(
                "publishing is off: the signing keys could not be unlocked ({reason}); set \
                 CUSTODY_PASSPHRASE or CUSTODY_PASSPHRASE_FILE, or start it on a terminal"
            ));
        }
        let clock = std::sync::Arc::new(custody_service::env::SystemClock);
        router = router.merge(custody_server::service(
            custody_server::api::Project {
                loaded: loaded.clone(),
                catalog,
                allow_internal_webhooks: args.allow_private_webhooks,
            },
            clock,
            publishing,
        ));
        custody_server::api::spawn_relay(loaded.clone());
    }
    custody_server::serve(listener, router)?;
    Ok(ExitCode::SUCCESS)
}
