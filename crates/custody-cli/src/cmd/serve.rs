//! `custody serve`: the release site over HTTP, with cache headers.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use custody_site::config::Loaded;

use crate::output::{CmdResult, Output, usage};

/// Serve the release site as static files, until killed.
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
}

pub fn run(args: Args, out: &Output) -> CmdResult {
    let dir = match args.dir {
        Some(d) => d,
        None => Loaded::from_dir(std::path::Path::new("."))
            .map(|l| l.site_dir())
            .unwrap_or_else(|_| PathBuf::from("site")),
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
    let announce = if out.json {
        serde_json::json!({ "listen": format!("http://{addr}"), "dir": dir }).to_string()
    } else {
        format!("serving {} on http://{addr}", dir.display())
    };
    // A reader of the announcement that then hangs up must not stop the server.
    {
        use std::io::Write as _;
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{announce}").and_then(|()| stdout.flush());
    }
    custody_server::serve(listener, custody_server::site::router(dir))?;
    Ok(ExitCode::SUCCESS)
}
