//! `custody monitor`: re-scan every shipped release after `custody db import`, and tell
//! customers about what is new.

use std::path::PathBuf;
use std::process::ExitCode;

use custody_service::env::{EnvSecrets, SystemClock};
use custody_service::monitor::{MonitorEnv, MonitorRequest, Monitored};
use custody_site::config::Loaded;
use serde::Serialize;

use crate::cmd::db::DbLocation;
use crate::cmd::key::file_keys;
use crate::output::{CmdResult, Output, usage};

/// Re-scan every shipped release and report only what is new.
///
/// Every release made with `custody release --sbom` is in the catalog (`[monitor] catalog`,
/// SQLite); older ones are added with --add-release DIR or --add-site. After a `custody db
/// import`, a run compares each advisory's content hash with the last run's (never its
/// `modified` date) and re-matches only the packages a changed advisory names, in the releases
/// that contain them. Findings the release did not have before are new. For each release with
/// new findings that no VEX statement for the product suppresses, a customer notice is written
/// to site/advisories/ and signed with the release key, and each `[[monitor.webhooks]]` gets a
/// JSON event signed with HMAC-SHA256 (header `X-Custody-Signature: sha256=<hex>`).
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  custody db import ../advisories/crates.io && custody monitor
  custody monitor --add-release site/releases/app/1.4.2
  custody monitor --add-site        # every release on the site not yet in the catalog")]
pub struct Args {
    /// Add a published release directory (site/releases/<product>/<version>) to the catalog
    /// first (repeatable). It needs the sbom.cdx.json that `custody release --sbom` publishes.
    #[arg(long, value_name = "DIR")]
    add_release: Vec<PathBuf>,
    /// Add every release under the site's releases/ that is not in the catalog yet.
    #[arg(long)]
    add_site: bool,
    /// Project directory (where custody.toml lives).
    #[arg(long, default_value = ".")]
    dir: PathBuf,
    /// Accept an unencrypted signing key file.
    #[arg(long)]
    insecure_unencrypted_key: bool,
    #[command(flatten)]
    location: DbLocation,
}

#[derive(Debug, Serialize)]
struct Report {
    #[serde(flatten)]
    monitored: Monitored,
    millis: u128,
}

pub fn run(args: Args, out: &Output) -> CmdResult {
    let started = std::time::Instant::now();
    let loaded = Loaded::from_dir(&args.dir).map_err(usage)?;
    let request = MonitorRequest {
        add_releases: args.add_release.clone(),
        add_site: args.add_site,
        db: args.location.db.clone(),
    };
    let transport = super::transport();
    let env = MonitorEnv {
        keys: &file_keys(args.insecure_unencrypted_key, out),
        transport: &transport,
        secrets: &EnvSecrets,
        clock: &SystemClock,
        events: out,
    };
    let monitored = custody_service::monitor::run(&loaded, &request, env)?;
    let report = Report {
        monitored,
        millis: started.elapsed().as_millis(),
    };
    let m = &report.monitored;
    out.result(&report, || {
        let mut s = format!(
            "{} release(s) in the catalog{}; advisories: {} added, {} changed, {} removed; \
             {} release(s) re-scanned\n",
            m.releases,
            if m.added_releases > 0 {
                format!(" ({} added now)", m.added_releases)
            } else {
                String::new()
            },
            m.advisories_added,
            m.advisories_changed,
            m.advisories_removed,
            m.rescanned_releases,
        );
        if m.new_findings.is_empty() {
            s.push_str("No new findings.\n");
        }
        for f in &m.new_findings {
            s.push_str(&format!(
                "NEW  {} {}: {} in {} {} (fix: {}; VEX: {})\n",
                f.product,
                f.version,
                f.id,
                f.package,
                f.package_version,
                f.fixed_version.as_deref().unwrap_or("none known"),
                f.vex_status.as_deref().unwrap_or("none"),
            ));
        }
        if m.suppressed > 0 {
            s.push_str(&format!(
                "{} new finding(s) suppressed by VEX statements\n",
                m.suppressed
            ));
        }
        for n in &m.notices {
            s.push_str(&format!("Notice: {}\n", n.display()));
        }
        s
    });
    Ok(if m.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::output::EXIT_FAILED)
    })
}
