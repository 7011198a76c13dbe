//! `custody release`: hash, attest, sign and publish a release.

use std::path::PathBuf;
use std::process::ExitCode;

use custody_attest::release::ReleaseFacts;
use custody_site::config::Loaded;
use custody_site::site::{Site, check_name};
use custody_site::{Error as SiteError, git};

use super::key;
use crate::output::{CmdResult, Output, usage};
use anyhow::Context as _;
use custody_attest::release::{CYCLONEDX_BOM, SPDX_DOCUMENT};
use custody_site::log::Log;
use custody_site::site::{Attachment, Published};
use custody_site::tuf::{add_release, expiry, online_key_paths};
use custody_tuf::repo::Repository;

use super::repo::online_keys;

#[derive(serde::Serialize)]
struct Report<'a> {
    #[serde(flatten)]
    release: &'a Published,
    /// Targets added to the site's TUF repository (empty when it has none).
    tuf_targets: &'a [String],
    /// The vulnerability gate's decision (absent without --sbom).
    #[serde(skip_serializing_if = "Option::is_none")]
    scan: Option<&'a super::gate::GateReport>,
}

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
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The files to release.
    #[arg(required = true)]
    artifacts: Vec<PathBuf>,
    /// Product name.
    #[arg(long)]
    product: String,
    /// Version.
    #[arg(long)]
    version: String,
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
    /// Accept an unencrypted signing key file.
    #[arg(long)]
    insecure_unencrypted_key: bool,
}

pub fn run(args: Args, out: &Output) -> CmdResult {
    check_name("product", &args.product).map_err(usage)?;
    check_name("version", &args.version).map_err(usage)?;
    let loaded = Loaded::from_dir(&args.dir).map_err(usage)?;
    let site = Site::new(loaded.site_dir());
    let target = site.release_dir(&args.product, &args.version);
    if target.exists() {
        return Err(SiteError::AlreadyPublished {
            product: args.product,
            version: args.version,
            path: target,
        }
        .into());
    }
    let started_on = jiff::Timestamp::now();
    // Read the SBOM input and run the gate before anything is signed, so a bad lockfile or an
    // uncovered vulnerability refuses the release.
    let (attachments, gate, sbom) = match &args.sbom {
        None => (Vec::new(), None, None),
        Some(path) => {
            let sbom = super::sbom::read(path).map_err(usage)?;
            out.progress(format!(
                "SBOM: {} component(s) from {}",
                sbom.len(),
                path.display()
            ));
            let gate = super::gate::check(
                &loaded,
                &args.product,
                &args.version,
                &sbom,
                args.no_scan,
                started_on,
                out,
            )?;
            let mut attachments = vec![
                Attachment {
                    name: "sbom.cdx.json".to_owned(),
                    bytes: super::sbom::render(&sbom, "cyclonedx", "1.6", started_on).into_bytes(),
                    predicate_type: CYCLONEDX_BOM,
                },
                Attachment {
                    name: "sbom.spdx.json".to_owned(),
                    bytes: super::sbom::render(&sbom, "spdx", "", started_on).into_bytes(),
                    predicate_type: SPDX_DOCUMENT,
                },
            ];
            attachments.extend(gate.attachments.iter().cloned());
            (attachments, Some(gate), Some(sbom))
        }
    };
    let source = git::source_state(
        &loaded.base,
        loaded.config.provenance.source_repository.as_deref(),
        &loaded.outputs(),
    )?;
    if !source.clean {
        if args.allow_dirty {
            out.warn("releasing from a tree with uncommitted changes (--allow-dirty); the provenance records it");
        } else {
            let (count, first) = git::dirty_paths(&loaded.base, &loaded.outputs())?;
            return Err(SiteError::DirtyTree {
                dir: loaded.base.clone(),
                count,
                first,
            }
            .into());
        }
    }
    // Everything is unlocked (one passphrase prompt) and checked before anything is written.
    let tuf_dir = loaded.tuf_dir();
    let with_tuf = custody_site::tuf::exists(&tuf_dir);
    let mut paths = vec![loaded.key_path(), loaded.log_key_path()];
    if with_tuf {
        paths.extend(online_key_paths(&loaded.tuf_keys_dir()));
    }
    let refs: Vec<&std::path::Path> = paths.iter().map(PathBuf::as_path).collect();
    let mut keys = key::unlock(&refs, args.insecure_unencrypted_key, out)?;
    let tuf_keys = keys.split_off(2);
    let log_key = keys.pop().context("log key")?;
    let signer = keys.pop().context("signing key")?;
    let mut tuf = if with_tuf {
        let repo = Repository::open(&tuf_dir, expiry(&loaded.config.tuf))
            .with_context(|| tuf_dir.display().to_string())?;
        repo.check_online(online_keys(&tuf_keys)?)?;
        Some(repo)
    } else {
        None
    };
    let store =
        custody_site::log::open_store(site.root(), loaded.config.log.store.as_deref(), &[])?;
    let mut log = Log::open(
        store,
        &loaded.log_state_dir(),
        &loaded.config.log.origin,
        &log_key,
    )?;
    // Every checkpoint the release publishes is cosigned by the configured witnesses, so the
    // bundles' embedded checkpoints carry their cosignatures.
    log.set_witnesses(super::log::witness_clients(&loaded).map_err(usage)?);
    out.progress(format!(
        "Releasing {} {} from {} at {} ({} artifact(s))",
        args.product,
        args.version,
        source.repository,
        &source.commit[..source.commit.len().min(12)],
        args.artifacts.len()
    ));
    let facts = ReleaseFacts {
        product: args.product,
        version: args.version,
        builder_id: loaded.config.provenance.builder_id.clone(),
        source,
        allow_dirty: args.allow_dirty,
        invocation_id: format!("{}-{}", started_on.as_millisecond(), std::process::id()),
        started_on,
        finished_on: jiff::Timestamp::now(),
    };
    let published = site.publish(
        &signer,
        &facts,
        &args.artifacts,
        &attachments,
        Some(&mut log),
    )?;
    super::log::warn_witness_failures(&log, out);
    let tuf_targets = match tuf.as_mut() {
        None => Vec::new(),
        Some(repo) => {
            let added = add_release(repo, &published, loaded.config.tuf.hash_bins)?;
            repo.commit(online_keys(&tuf_keys)?, jiff::Timestamp::now())?;
            added
        }
    };
    if let (Some(sbom), Some(gate)) = (&sbom, &gate) {
        // The release is out: a catalog that cannot be written must not turn that into a
        // failure, but it must be said, since `custody monitor` would not watch this release.
        if let Err(e) = super::monitor::catalog_release(&loaded, &published, sbom, &gate.findings) {
            out.warn(format!(
                "the release is published, but not added to the catalog ({e:#}); run \
                 `custody monitor --add-release {}`",
                published.dir.display()
            ));
        }
    }
    let report = Report {
        release: &published,
        tuf_targets: &tuf_targets,
        scan: gate.as_ref().map(|g| &g.report),
    };
    out.result(&report, || {
        let mut s = format!(
            "Published {} {} at {}\n",
            published.product,
            published.version,
            published.dir.display()
        );
        for a in &published.artifacts {
            s.push_str(&format!(
                "  {}  {} bytes  sha256:{}\n    bundle: {}\n",
                a.name,
                a.size,
                a.sha256,
                a.bundle.display()
            ));
        }
        if !tuf_targets.is_empty() {
            s.push_str(&format!(
                "Added {} TUF target(s) to {}\n",
                tuf_targets.len(),
                tuf_dir.display()
            ));
        }
        s.push_str(&format!("Signed with key {}", published.key));
        s
    });
    Ok(ExitCode::SUCCESS)
}
