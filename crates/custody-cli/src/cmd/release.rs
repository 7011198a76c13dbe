//! `custody release`: hash, attest, sign and publish a release.

use std::path::PathBuf;
use std::process::ExitCode;

use custody_service::env::SystemClock;
use custody_service::release::{ReleaseEnv, ReleaseRequest, Released};
use custody_site::config::Loaded;

use crate::cmd::key::file_keys;
use crate::output::{CmdResult, Failure, Output, usage};

/// Sign and publish a release.
///
/// Copies the artifacts into `site/releases/<product>/<version>/`, hashes the copies (SHA-256
/// and SHA-512, in parallel), records SLSA provenance (source repository, commit and ref, whether
/// the tree was clean, builder id, times), signs one DSSE bundle per artifact plus a provenance
/// bundle and a release manifest, and publishes the directory atomically. Published versions are
/// immutable: releasing the same version twice is refused.
///
/// With --sbom, the release gate runs first: the SBOM is scanned against the advisory database
/// (`[vulndb] dir`), and the release is refused, before anything is signed, when a vulnerability
/// at or above `[vulndb] fail_on` (default high; `none` turns the gate off) is not covered by a
/// VEX statement in .custody/vex/ (`custody vex add`). The scan result (`scan.json`), the
/// product's OpenVEX documents and a CycloneDX VEX export (`vex.cdx.json`) are published and
/// signed with the release.
///
/// With --publish URL, nothing is signed here: the artifacts, the SBOM (a directory is read
/// here and sent as CycloneDX) and this tree's source state (repository, commit, ref, clean)
/// are sent to `custody serve` at URL with the token in CUSTODY_TOKEN, and the server gates,
/// signs, logs and publishes with its own keys. Each file is uploaded under its SHA-256, so
/// running the same command again after a failure is safe: what arrived is kept, and a
/// release already published with the same artifacts is answered as it is.
///
/// Where the policy asks M-of-N approval of the product's releases (`custody key approvers`),
/// the release is signed and logged but held off the site; each approver runs `custody release
/// approve PRODUCT VERSION --key THEIR_KEY`, and `custody release publish PRODUCT VERSION`
/// publishes it once enough have.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct Args {
    #[command(subcommand)]
    held: Option<HeldCommand>,
    /// The files to release.
    #[arg(required = true)]
    artifacts: Vec<PathBuf>,
    /// Product name.
    #[arg(long, required = true)]
    product: Option<String>,
    /// Version.
    #[arg(long, required = true)]
    version: Option<String>,
    /// Release from a tree with uncommitted changes (recorded in the provenance).
    #[arg(long)]
    allow_dirty: bool,
    /// Project directory (where custody.toml lives).
    #[arg(long, default_value = ".")]
    dir: PathBuf,
    /// Attach SBOMs of this project directory, lockfile or SBOM: `sbom.cdx.json` (CycloneDX
    /// 1.6) and `sbom.spdx.json` (SPDX 2.3), each also signed as an attestation about every
    /// artifact (`<file>.sigstore.json`).
    #[arg(long)]
    sbom: Option<PathBuf>,
    /// Release without scanning the SBOM for vulnerabilities; `scan.json` records that it was
    /// not scanned.
    #[arg(long)]
    no_scan: bool,
    /// Publish through the `custody serve` at this URL instead of signing here (token in
    /// CUSTODY_TOKEN).
    #[arg(long, value_name = "URL")]
    publish: Option<String>,
    /// Accept an unencrypted signing key file.
    #[arg(long)]
    insecure_unencrypted_key: bool,
    /// Sign even when custody.toml gives one key two duties (the release key as the log key,
    /// say). Separate keys mean a stolen one cannot both sign a release and vouch for it.
    #[arg(long)]
    insecure_shared_key: bool,
}

/// A release that waits for its approvers.
#[derive(Debug, clap::Subcommand)]
enum HeldCommand {
    /// Approve a release that waits for its approvers: sign its manifest with your key.
    ///
    /// The signature goes into the held release's approvals.json, published with it. Refused
    /// for a key that is not one of the product's approvers, or that approved it already.
    Approve {
        /// The product.
        product: String,
        /// The version.
        version: String,
        /// Your approver key: a file or a `pkcs11:` URI.
        #[arg(long, value_name = "FILE|URI")]
        key: PathBuf,
        /// Approve a release held by this custody server instead of one in a project here:
        /// its manifest is fetched, signed here with your key, and sent back (token in
        /// CUSTODY_TOKEN, scopes `read,publish`).
        #[arg(long, value_name = "URL")]
        server: Option<String>,
        /// Project directory (where custody.toml lives).
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// Accept an unencrypted key file.
        #[arg(long)]
        insecure_unencrypted_key: bool,
    },
    /// Publish a held release once its approvals meet the policy's threshold: onto the site,
    /// into the TUF repository (with its manifest and approvals) and the catalog.
    Publish {
        /// The product.
        product: String,
        /// The version.
        version: String,
        /// Ask this custody server to publish the release it holds (token in CUSTODY_TOKEN,
        /// scope `publish`).
        #[arg(long, value_name = "URL")]
        server: Option<String>,
        /// Project directory (where custody.toml lives).
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// Accept unencrypted TUF key files.
        #[arg(long)]
        insecure_unencrypted_key: bool,
    },
}

fn run_held(command: HeldCommand, out: &Output) -> CmdResult {
    match command {
        HeldCommand::Approve {
            product,
            version,
            key,
            server,
            dir,
            insecure_unencrypted_key,
        } => {
            let keys = file_keys(insecure_unencrypted_key, out);
            let done = match &server {
                Some(url) => custody_service::approval::approve_through(
                    &api_server(url, &product, ("--server", "read,publish"))?,
                    (&product, &version),
                    &key,
                    &keys,
                    &SystemClock,
                )?,
                None => custody_service::approval::approve(
                    &Loaded::from_dir(&dir).map_err(usage)?,
                    &product,
                    &version,
                    &key,
                    &keys,
                    &SystemClock,
                )?,
            };
            out.result(&done, || {
                let mut s = format!(
                    "{} approved {} {}: {} of {} approvals (at least {} required)",
                    done.approver,
                    done.product,
                    done.version,
                    done.state.approved.len(),
                    done.state.approvers.len(),
                    done.state.threshold
                );
                if done.ready {
                    let on = server.as_ref().map(|u| format!(" --server {u}"));
                    s.push_str(&format!(
                        "\nReady: publish it with `custody release publish {} {}{}`",
                        done.product,
                        done.version,
                        on.unwrap_or_default()
                    ));
                }
                s
            });
        }
        HeldCommand::Publish {
            product,
            version,
            server: Some(url),
            ..
        } => {
            let answer = custody_service::approval::publish_through(
                &api_server(&url, &product, ("--server", "publish"))?,
                (&product, &version),
            )?;
            out.result(&answer, || {
                format!("Published {product} {version} on {url}")
            });
        }
        HeldCommand::Publish {
            product,
            version,
            dir,
            insecure_unencrypted_key,
            server: None,
        } => {
            let loaded = Loaded::from_dir(&dir).map_err(usage)?;
            let env = ReleaseEnv {
                keys: &file_keys(insecure_unencrypted_key, out),
                transport: super::transport(),
                clock: &SystemClock,
                events: out,
                catalog: None,
            };
            let released = custody_service::approval::publish(&loaded, &product, &version, &env)?;
            print_released(&loaded, &released, out);
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn run(args: Args, out: &Output) -> CmdResult {
    if let Some(held) = args.held {
        return run_held(held, out);
    }
    if let Some(server) = &args.publish {
        return submit(server, &args, out);
    }
    let loaded = Loaded::from_dir(&args.dir).map_err(usage)?;
    let request = ReleaseRequest {
        product: args.product.unwrap_or_default(),
        version: args.version.unwrap_or_default(),
        artifacts: args.artifacts,
        allow_dirty: args.allow_dirty,
        sbom: args.sbom,
        skip_scan: args.no_scan.then(|| "custody release --no-scan".to_owned()),
        source: None,
        insecure_shared_key: args.insecure_shared_key,
    };
    let env = ReleaseEnv {
        keys: &file_keys(args.insecure_unencrypted_key, out),
        transport: super::transport(),
        clock: &SystemClock,
        events: out,
        catalog: None,
    };
    let released = custody_service::release::release(&loaded, &request, &env)?;
    print_released(&loaded, &released, out);
    Ok(ExitCode::SUCCESS)
}

fn print_released(loaded: &Loaded, released: &Released, out: &Output) {
    let published = &released.release;
    let tuf_dir = loaded.tuf_dir();
    out.result(released, || {
        let mut s = match &released.awaiting_approval {
            Some(held) => format!(
                "Signed and logged {} {}; held at {} until {} of its {} approvers approve it \
                 (custody release approve {} {} --key KEY)\n",
                published.product,
                published.version,
                published.dir.display(),
                held.threshold,
                held.approvers.len(),
                published.product,
                published.version
            ),
            None => format!(
                "Published {} {} at {}\n",
                published.product,
                published.version,
                published.dir.display()
            ),
        };
        for a in &published.artifacts {
            s.push_str(&format!(
                "  {}  {} bytes  sha256:{}\n    bundle: {}\n",
                a.name,
                a.size,
                a.sha256,
                a.bundle.display()
            ));
        }
        if !released.tuf_targets.is_empty() {
            s.push_str(&format!(
                "Added {} TUF target(s) to {}\n",
                released.tuf_targets.len(),
                tuf_dir.display()
            ));
        }
        s.push_str(&format!("Signed with key {}", published.key));
        s
    });
}

/// The API of the custody server at `url`, with the token in CUSTODY_TOKEN.
fn api_server(
    url: &str,
    product: &str,
    (flag, scopes): (&str, &str),
) -> Result<custody_service::publish::Server, Failure> {
    let token = std::env::var("CUSTODY_TOKEN").map_err(|_| {
        usage(anyhow::anyhow!(
            "{flag} needs a token in CUSTODY_TOKEN (`custody token create --product {product} \
             --scope {scopes}` on the server)"
        ))
    })?;
    Ok(custody_service::publish::Server::new(url, &token))
}

fn submit(server: &str, args: &Args, out: &Output) -> CmdResult {
    let api = api_server(
        server,
        args.product.as_deref().unwrap_or("PRODUCT"),
        ("--publish", "publish"),
    )?;
    let source = custody_service::publish::tree_source(&args.dir)?;
    let submitted = custody_service::publish::submit(
        &api,
        &custody_service::publish::Submission {
            product: args.product.clone().unwrap_or_default(),
            version: args.version.clone().unwrap_or_default(),
            artifacts: args.artifacts.clone(),
            sbom: args.sbom.clone(),
            source,
            allow_dirty: args.allow_dirty,
            skip_scan: args.no_scan.then(|| "custody release --no-scan".to_owned()),
        },
        &SystemClock,
        out,
    )?;
    out.result(&submitted, || {
        let what = if submitted.release.get("awaiting_approval").is_some() {
            "Signed and logged, held for its approvers:"
        } else if submitted.fresh {
            "Published"
        } else {
            "Already published, with the same artifacts:"
        };
        format!(
            "{what} {} {} on {server}",
            args.product.as_deref().unwrap_or_default(),
            args.version.as_deref().unwrap_or_default()
        )
    });
    Ok(ExitCode::SUCCESS)
}
