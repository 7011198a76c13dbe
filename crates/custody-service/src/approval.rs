//! M-of-N release approval: the policy names a product's approvers and how many must sign;
//! `custody release` then signs and logs the product's releases but holds them off the site;
//! each approver signs the held release's manifest; and the release is published once the
//! threshold is met. Customers check the same threshold (custody-attest's `approval`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use custody_attest::approval::{self, APPROVALS_FILE, Approval, Approvals, Tally};
use custody_attest::trust::{ApprovalRule, LogPosition, Policy, PolicyKey, TimeRange};
use custody_crypto::PublicKey;
use custody_site::config::Loaded;
use custody_site::fs::{read_bounded, write_atomic};
use custody_site::site::{MANIFEST_FILE, Site, check_name};
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::env::{Clock, KeySource};
use crate::release::{AwaitingApproval, ReleaseEnv, Released};
use crate::transport::Transport;

/// What [`set_approvers`] recorded.
#[derive(Debug, Clone, Serialize)]
pub struct ApproversSet {
    /// The product.
    pub product: String,
    /// How many must approve.
    pub threshold: usize,
    /// The approvers' key hints.
    pub approvers: Vec<String>,
    /// The log's size when the rule took effect: releases logged from here on need approvals.
    pub log_size: u64,
    /// The policy written.
    pub policy: PathBuf,
    /// Whether the policy was published as a TUF target too.
    pub through_tuf: bool,
    /// The signed, logged record of the change.
    pub event: PathBuf,
}

/// An approver's public key: a PEM public key file, or a key (file or `pkcs11:` URI) whose
/// public half `keys` reads.
fn approver_key(path: &Path, keys: &dyn KeySource) -> Result<PublicKey, Error> {
    if let Ok(bytes) = read_bounded(path, 64 << 10, "approver key")
        && let Ok(text) = std::str::from_utf8(&bytes)
        && let Ok(key) = PublicKey::from_pem(text)
    {
        return Ok(key);
    }
    keys.public_key(path)
}

/// Asks `threshold` of `approvers` (public key files or key URIs) to approve each release of
/// `product` from now on: the rule goes into the site's policy, starting at the log's present
/// size (releases logged before keep verifying without approvals), is recorded as a signed,
/// logged key event, and reaches TUF customers with the policy. Setting it again replaces it.
pub fn set_approvers(
    loaded: &Loaded,
    product: &str,
    threshold: usize,
    approvers: &[PathBuf],
    keys: &dyn KeySource,
    clock: &dyn Clock,
    transport: &Arc<dyn Transport>,
) -> Result<ApproversSet, Error> {
    check_name("product", product).map_err(Error::input)?;
    let _writer = crate::sequence::writer(loaded, &crate::env::Silent)?;
    let now = clock.now();
    let signer = crate::keys::unlock_one(keys, &loaded.key_path())?;
    let mut entries = Vec::with_capacity(approvers.len());
    for path in approvers {
        let key = approver_key(path, keys)?;
        // An approval is a second pair of eyes: the key that signs releases is not one.
        if &key == signer.public_key() {
            return Err(Error::SharedKey {
                first: "release",
                second: "approver",
                key: key.hint().to_string(),
            });
        }
        entries.push(PolicyKey::new(
            &key,
            TimeRange {
                start: now,
                end: None,
            },
        ));
    }
    let log_size = crate::log::LogReader::size_of(loaded)?;
    let site = Site::new(loaded.site_dir());
    let path = site.policy_path();
    let mut policy = site.policy().map_err(Error::input)?;
    policy.approvals.retain(|r| r.product != product);
    policy.approvals.push(ApprovalRule {
        product: product.to_owned(),
        threshold,
        approvers: entries,
        required_from: LogPosition {
            at: now,
            log: loaded.config.log.origin.clone(),
            size: log_size,
        },
    });
    let json = policy.to_json()?;
    // The same rules a verifier applies: threshold within 1..=N, no approver twice.
    Policy::from_json(json.as_bytes()).map_err(|e| Error::InvalidApprovalRule(Box::new(e)))?;
    let hints: Vec<String> = policy
        .approval_rule(product)
        .map(|r| r.approvers.iter().map(|a| a.hint.clone()).collect())
        .unwrap_or_default();
    let (event, through_tuf) = crate::key_events::change_policy(
        loaded,
        &policy,
        &crate::key_events::KeyEvent {
            event: "approvers".to_owned(),
            key: product.to_owned(),
            at: now,
            log_size: Some(log_size),
            product: Some(product.to_owned()),
            threshold: Some(threshold),
            approvers: Some(hints.clone()),
            ..Default::default()
        },
        &signer,
        keys,
        clock,
        transport,
    )?;
    Ok(ApproversSet {
        product: product.to_owned(),
        threshold,
        approvers: hints,
        log_size,
        policy: path,
        through_tuf,
        event,
    })
}

/// A held release, as its approval files make it out.
struct Held {
    site: Site,
    dir: PathBuf,
    rule: ApprovalRule,
    manifest: Vec<u8>,
    approvals: Approvals,
}

fn held(loaded: &Loaded, product: &str, version: &str) -> Result<Held, Error> {
    check_name("product", product).map_err(Error::input)?;
    check_name("version", version).map_err(Error::input)?;
    let site = Site::new(loaded.site_dir()).holding_in(loaded.held_dir());
    let rule = site
        .policy()
        .map_err(Error::input)?
        .approval_rule(product)
        .cloned()
        .ok_or_else(|| Error::NoApprovalRule {
            product: product.to_owned(),
        })?;
    let Some(dir) = site.held_dir(product, version).filter(|d| d.is_dir()) else {
        return Err(custody_site::Error::NotHeld {
            product: product.to_owned(),
            version: version.to_owned(),
        }
        .into());
    };
    let manifest = read_bounded(
        &dir.join(MANIFEST_FILE),
        custody_attest::bundle::MAX_BUNDLE_BYTES as u64,
        "release manifest",
    )
    .map_err(Error::input)?;
    let approvals_path = dir.join(APPROVALS_FILE);
    let approvals = if approvals_path.exists() {
        let bytes = read_bounded(
            &approvals_path,
            approval::MAX_APPROVALS_BYTES as u64,
            "approvals",
        )
        .map_err(Error::input)?;
        Approvals::from_json(&bytes)?
    } else {
        Approvals::default()
    };
    Ok(Held {
        site,
        dir,
        rule,
        manifest,
        approvals,
    })
}

impl Held {
    fn tally(&self, product: &str, version: &str, now: jiff::Timestamp) -> Tally {
        approval::tally(
            &self.rule,
            &self.manifest,
            &self.approvals,
            (product, version),
            approval::Logged::NotRequired,
            now,
        )
    }

    fn awaiting(&self, tally: Tally) -> AwaitingApproval {
        AwaitingApproval {
            threshold: self.rule.threshold,
            approvers: self.rule.approvers.iter().map(|a| a.hint.clone()).collect(),
            approved: tally.approved,
            dir: self.dir.clone(),
        }
    }
}

/// Where a held release stands after [`approve`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Approved {
    /// The product.
    pub product: String,
    /// The version.
    pub version: String,
    /// The approver who signed now.
    pub approver: String,
    /// The approvals so far.
    #[serde(flatten)]
    pub state: AwaitingApproval,
    /// Whether the threshold is met, so the release can be published.
    pub ready: bool,
}

/// A held release as an approver elsewhere sees it: the manifest an approval signs, and where
/// its approvals stand.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HeldRelease {
    /// The product.
    pub product: String,
    /// The version.
    pub version: String,
    /// The release's manifest bundle (`manifest.json`), base64: what an approval signs.
    pub manifest: String,
    /// How many must approve.
    pub threshold: usize,
    /// The approvers' key hints.
    pub approvers: Vec<String>,
    /// The approvers who approved so far.
    pub approved: Vec<String>,
}

/// The held release of `product` `version`, for an approver to sign ([`sign_approval`]).
pub fn held_release(
    loaded: &Loaded,
    product: &str,
    version: &str,
    clock: &dyn Clock,
) -> Result<HeldRelease, Error> {
    use base64::Engine as _;
    let held = held(loaded, product, version)?;
    let tally = held.tally(product, version, clock.now());
    Ok(HeldRelease {
        product: product.to_owned(),
        version: version.to_owned(),
        manifest: base64::engine::general_purpose::STANDARD.encode(&held.manifest),
        threshold: held.rule.threshold,
        approvers: held.rule.approvers.iter().map(|a| a.hint.clone()).collect(),
        approved: tally.approved,
    })
}

/// An approval of `product` `version`, whose manifest bundle is `manifest`, signed with `key`
/// (a file or `pkcs11:` URI): the Sigstore bundle [`add_approval`] takes.
pub fn sign_approval(
    manifest: &[u8],
    (product, version): (&str, &str),
    key: &Path,
    keys: &dyn KeySource,
    clock: &dyn Clock,
) -> Result<String, Error> {
    let signer = crate::keys::unlock_one(keys, key)?;
    signed_by(signer.as_ref(), manifest, (product, version), clock)
}

fn signed_by(
    signer: &dyn custody_crypto::Signer,
    manifest: &[u8],
    (product, version): (&str, &str),
    clock: &dyn Clock,
) -> Result<String, Error> {
    let signed = approval::sign(
        signer,
        manifest,
        &Approval {
            product: product.to_owned(),
            version: version.to_owned(),
            at: clock.now(),
        },
    )?;
    Ok(custody_attest::bundle::to_json(&signed)?)
}

/// The approver whose key is `key` (a file or `pkcs11:` URI) approves the held release of
/// `product` `version`: signs its manifest and adds the signature to its `approvals.json`.
/// Refused for a key that is not one of the product's approvers, and for a second approval by
/// the same approver.
pub fn approve(
    loaded: &Loaded,
    product: &str,
    version: &str,
    key: &Path,
    keys: &dyn KeySource,
    clock: &dyn Clock,
) -> Result<Approved, Error> {
    let held = held(loaded, product, version)?;
    let signer = crate::keys::unlock_one(keys, key)?;
    let hint = signer.public_key().hint().to_string();
    if !held.rule.approvers.iter().any(|a| a.hint == hint) {
        return Err(Error::NotAnApprover {
            hint,
            product: product.to_owned(),
            approvers: held.rule.approvers.iter().map(|a| a.hint.clone()).collect(),
        });
    }
    let signed = signed_by(signer.as_ref(), &held.manifest, (product, version), clock)?;
    add_approval(loaded, product, version, signed.as_bytes(), clock)
}

/// Adds `signed`, an approval's Sigstore bundle (from [`sign_approval`], made wherever the
/// approver's key is), to the held release of `product` `version`. Refused unless it is a
/// valid signature of one of the product's approvers over this release's manifest, and for a
/// second approval by the same approver.
pub fn add_approval(
    loaded: &Loaded,
    product: &str,
    version: &str,
    signed: &[u8],
    clock: &dyn Clock,
) -> Result<Approved, Error> {
    let signed = custody_attest::bundle::parse(signed)
        .map_err(|e| Error::MalformedApproval(Box::new(e)))?
        .bundle;
    // Two approvers at once must not lose one's signature.
    let _writer = crate::sequence::writer(loaded, &crate::env::Silent)?;
    let mut held = held(loaded, product, version)?;
    let now = clock.now();
    let mut alone = Approvals::default();
    alone.push(&signed)?;
    let judged = approval::tally(
        &held.rule,
        &held.manifest,
        &alone,
        (product, version),
        approval::Logged::NotRequired,
        now,
    );
    let Some(hint) = judged.approved.into_iter().next() else {
        return Err(Error::ApprovalNotCounted {
            product: product.to_owned(),
            version: version.to_owned(),
            reasons: judged.ignored,
        });
    };
    if held.tally(product, version, now).approved.contains(&hint) {
        return Err(Error::AlreadyApproved {
            hint,
            product: product.to_owned(),
            version: version.to_owned(),
        });
    }
    held.approvals.push(&signed)?;
    write_atomic(
        &held.dir.join(APPROVALS_FILE),
        held.approvals.to_json()?.as_bytes(),
    )?;
    let tally = held.tally(product, version, now);
    let ready = tally.approved.len() >= held.rule.threshold;
    Ok(Approved {
        product: product.to_owned(),
        version: version.to_owned(),
        approver: hint,
        state: held.awaiting(tally),
        ready,
    })
}

/// Publishes the held release of `product` `version` once its approvals meet the policy's
/// threshold: moves it onto the site in one rename, adds it (with its manifest and approvals)
/// to the TUF repository, and to the catalog. A release short of approvals stays held.
pub fn publish(
    loaded: &Loaded,
    product: &str,
    version: &str,
    env: &ReleaseEnv<'_>,
) -> Result<Released, Error> {
    let _writer = crate::sequence::writer(loaded, env.events)?;
    let mut held = held(loaded, product, version)?;
    let now = env.clock.now();
    let tally = approval::check(
        &held.rule,
        &held.manifest,
        &held.approvals,
        (product, version),
        approval::Logged::NotRequired,
        now,
    )
    .map_err(|e| Error::NotApproved(Box::new(e)))?;
    let tuf = crate::commit::open_tuf(loaded, env.keys)?;
    if let Some(tuf) = &tuf {
        tuf.check_product(loaded, product)?;
    }
    log_approvals(loaded, &mut held, &tally, env)?;
    let put_on_site = || {
        held.site
            .release_held(product, version)
            .map_err(Error::from)
    };
    let (published, tuf_targets) = match tuf {
        Some(tuf) => {
            crate::commit::publish_to_tuf(loaded, (product, version), tuf, env, put_on_site)?
        }
        None => (put_on_site()?, Vec::new()),
    };
    crate::commit::catalog_published(loaded, &published, None, env);
    Ok(Released {
        release: published,
        tuf_targets,
        scan: None,
        awaiting_approval: None,
    })
}

/// Records each counted approval in the transparency log, so no approver signs unseen, and
/// keeps the approvals with their entries in the held release's `approvals.json`. An approval
/// a killed run logged already is taken from the log as it is.
fn log_approvals(
    loaded: &Loaded,
    held: &mut Held,
    tally: &Tally,
    env: &ReleaseEnv<'_>,
) -> Result<(), Error> {
    let mut log = crate::log::open_writer(loaded, env.keys, &env.transport)?;
    let mut kept = Approvals::default();
    let mut seen = std::collections::BTreeSet::new();
    for value in &held.approvals.approvals {
        let bytes = serde_json::to_vec(value).map_err(|source| Error::Serialise {
            what: "an approval",
            source,
        })?;
        let signed = custody_attest::bundle::parse(&bytes)?;
        let hint = signed.hint.to_string();
        let approver = held.rule.approvers.iter().find(|a| a.hint == hint);
        let (Some(key), true) = (
            approver.and_then(|a| a.key()),
            tally.approved.contains(&hint) && seen.insert(hint.clone()),
        ) else {
            // Not counted: not published either.
            continue;
        };
        if !signed.tlog_entries.is_empty() {
            kept.approvals.push(value.clone());
            continue;
        }
        let logged = match log.append_signed(&signed, key) {
            Err(custody_site::Error::AlreadyLogged { index }) => {
                log.recorded_bundle(&signed, key, index)?
            }
            other => other?,
        };
        kept.approvals
            .push(
                serde_json::from_str(&logged.json).map_err(|source| Error::NotJson {
                    what: "a logged approval",
                    source,
                })?,
            );
    }
    crate::log::warn_witness_failures(&log, env.events);
    write_atomic(&held.dir.join(APPROVALS_FILE), kept.to_json()?.as_bytes())?;
    held.approvals = kept;
    Ok(())
}

/// [`publish`], answered as a publish through the server is.
pub fn publish_held(
    loaded: &Loaded,
    product: &str,
    version: &str,
    env: &ReleaseEnv<'_>,
) -> Result<crate::publish::PublishOutcome, Error> {
    let released = publish(loaded, product, version, env)?;
    Ok(crate::publish::PublishOutcome {
        fresh: true,
        release: released.release,
        tuf_targets: released.tuf_targets,
        awaiting_approval: None,
    })
}

/// [`approve`] through a server, by an approver who holds their key and a token, not the
/// project: fetches the held release's manifest, signs the approval here, and sends it. The
/// server's answer ([`Approved`]).
pub fn approve_through(
    server: &crate::publish::Server,
    (product, version): (&str, &str),
    key: &Path,
    keys: &dyn KeySource,
    clock: &dyn Clock,
) -> Result<Approved, Error> {
    use base64::Engine as _;
    check_name("product", product).map_err(Error::input)?;
    check_name("version", version).map_err(Error::input)?;
    let path = format!("/api/v1/releases/{product}/{version}/approvals");
    let held: HeldRelease = server.get(&path)?;
    let manifest = base64::engine::general_purpose::STANDARD
        .decode(&held.manifest)
        .map_err(|_| Error::ServerAnswer {
            what: "the held release's manifest in base64",
        })?;
    let signed = sign_approval(&manifest, (product, version), key, keys, clock)?;
    server
        .post(&path, signed.as_bytes())
        .map(|(_, answer)| answer)
}

/// [`publish`] through a server. The server's answer ([`crate::publish::PublishOutcome`]).
pub fn publish_through(
    server: &crate::publish::Server,
    (product, version): (&str, &str),
) -> Result<serde_json::Value, Error> {
    check_name("product", product).map_err(Error::input)?;
    check_name("version", version).map_err(Error::input)?;
    let path = format!("/api/v1/releases/{product}/{version}/publish");
    server
        .post(&path, b"")
        .map(|(_, answer): (u16, serde_json::Value)| answer)
}
