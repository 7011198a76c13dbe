//! Offline verification of one artifact: pure, over bytes already read, at a given `now`.
//!
//! The checks run in a fixed order and stop at the first failure, because each later check
//! trusts what the earlier ones established (no statement is read before its signature holds).

use custody_crypto::Digests;
use jiff::Timestamp;
use serde::Serialize;

use crate::Error;
use crate::bundle::{self, IN_TOTO_PAYLOAD_TYPE};
use crate::provenance::{Provenance, RELEASE_MANIFEST_V1, ReleaseManifest, SLSA_PROVENANCE_V1};
use crate::statement;
use crate::tlog;
use crate::trust::{Policy, TrustedRoot};

/// What the customer additionally insists on.
#[derive(Debug, Clone, Default)]
pub struct Expectations {
    /// The product must be this.
    pub product: Option<String>,
    /// The version must be this.
    pub version: Option<String>,
    /// The source ref (`refs/tags/v1.4.2`, a branch, or a commit) must be this.
    pub source_ref: Option<String>,
}

/// Everything one verification looks at, already in memory.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The artifact's digests (SHA-256 required).
    pub artifact: &'a Digests,
    /// The artifact's bundle.
    pub bundle: &'a [u8],
    /// The release's `manifest.json`, when at hand.
    pub manifest: Option<&'a [u8]>,
    /// The release's `approvals.json`, when at hand: needed where the policy asks approvals of
    /// the product's releases.
    pub approvals: Option<&'a [u8]>,
    /// The supplier's policy.
    pub policy: &'a Policy,
    /// The supplier's trusted root.
    pub trusted_root: &'a TrustedRoot,
    /// Extra requirements.
    pub expect: &'a Expectations,
    /// The time keys must be valid at. Without a trusted timestamp, that is now.
    pub now: Timestamp,
}

/// The checks, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum CheckName {
    /// The bundle is a well-formed v0.3 DSSE bundle whose keyid equals its hint.
    Bundle,
    /// The DSSE signature verifies with a key the policy trusts now.
    Signature,
    /// The signature is recorded in a transparency log the trusted root lists.
    Log,
    /// The statement names the artifact's digest.
    Subject,
    /// The SLSA provenance matches the policy and the expectations.
    Provenance,
    /// The signed release manifest lists the artifact under the same product and version.
    Manifest,
    /// Where the policy asks it, enough approvers signed the manifest.
    Approval,
}

impl CheckName {
    /// Every check, in order.
    pub const ALL: [Self; 7] = [
        Self::Bundle,
        Self::Signature,
        Self::Log,
        Self::Subject,
        Self::Provenance,
        Self::Manifest,
        Self::Approval,
    ];

    /// The kebab-case name used in output.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bundle => "bundle",
            Self::Signature => "signature",
            Self::Log => "log",
            Self::Subject => "subject",
            Self::Provenance => "provenance",
            Self::Manifest => "manifest",
            Self::Approval => "approval",
        }
    }
}

/// How a check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// It held.
    Pass,
    /// It did not.
    Fail,
    /// It did not run (an earlier check failed, or its input was absent).
    Skipped,
}

/// One check's result.
#[derive(Debug, Serialize)]
pub struct Check {
    /// Which check.
    pub name: CheckName,
    /// How it ended.
    pub status: Status,
    /// What was established, or why it failed or was skipped.
    pub detail: String,
    /// The failure, for callers that match on it.
    #[serde(skip)]
    pub error: Option<Error>,
}

/// What the signed statements say about the release, once verified.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Release {
    /// Product.
    pub product: String,
    /// Version.
    pub version: String,
    /// Subject name of the artifact.
    pub artifact: String,
    /// Builder id.
    pub builder: String,
    /// Source repository.
    pub repository: String,
    /// Source ref.
    pub git_ref: String,
    /// Source commit.
    pub commit: String,
    /// The signing key's hint.
    pub key: String,
    /// Whether the source tree was clean when it was built, as the provenance says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tree_clean: Option<bool>,
}

/// The outcome of [`verify`].
#[derive(Debug, Serialize)]
pub struct Report {
    /// True only if no check failed.
    pub verified: bool,
    /// Each check, in order.
    pub checks: Vec<Check>,
    /// What was verified about the release (complete only when `verified`).
    pub release: Release,
}

impl Report {
    /// The first failing check.
    pub fn first_failure(&self) -> Option<&Check> {
        self.checks.iter().find(|c| c.status == Status::Fail)
    }
}

/// Verify one artifact against its bundle, the policy and the trusted root.
pub fn verify(req: &Request<'_>) -> Report {
    let mut checks = Vec::new();
    let mut release = Release::default();
    let outcome = run(req, &mut checks, &mut release);
    let verified = outcome.is_ok();
    if let Err((name, error)) = outcome {
        checks.push(Check {
            name,
            status: Status::Fail,
            detail: error.to_string(),
            error: Some(error),
        });
    }
    for name in CheckName::ALL {
        if !checks.iter().any(|c| c.name == name) {
            checks.push(Check {
                name,
                status: Status::Skipped,
                detail: "not run: an earlier check failed".to_owned(),
                error: None,
            });
        }
    }
    Report {
        verified,
        checks,
        release,
    }
}

fn pass(checks: &mut Vec<Check>, name: CheckName, detail: String) {
    checks.push(Check {
        name,
        status: Status::Pass,
        detail,
        error: None,
    });
}

fn run(
    req: &Request<'_>,
    checks: &mut Vec<Check>,
    release: &mut Release,
) -> Result<(), (CheckName, Error)> {
    use CheckName as C;
    let at = |name| move |e| (name, e);

    let signed = bundle::parse(req.bundle).map_err(at(C::Bundle))?;
    pass(
        checks,
        C::Bundle,
        format!("Sigstore bundle v0.3, DSSE, key hint {}", signed.hint),
    );
    release.key = signed.hint.to_string();

    let key = req
        .policy
        .key_for_logged(&signed.hint, req.now, None)
        .map_err(at(C::Signature))?;
    bundle::verify_envelope(&signed.envelope, key).map_err(at(C::Signature))?;
    if signed.envelope.payload_type != IN_TOTO_PAYLOAD_TYPE {
        return Err((
            C::Signature,
            Error::PayloadType {
                found: signed.envelope.payload_type.clone(),
                expected: IN_TOTO_PAYLOAD_TYPE,
            },
        ));
    }
    pass(
        checks,
        C::Signature,
        format!(
            "{} signature by trusted key {} (valid at {})",
            key.algorithm(),
            signed.hint,
            req.now
        ),
    );

    let logged = check_log(req, &signed, key, checks).map_err(at(C::Log))?;

    let (stmt, provenance): (_, Provenance) =
        statement::parse(signed.envelope.payload.as_bytes(), SLSA_PROVENANCE_V1)
            .map_err(at(C::Subject))?;
    let subject = statement::find_subject(&stmt, req.artifact).map_err(at(C::Subject))?;
    release.artifact = subject.name.clone();
    pass(
        checks,
        C::Subject,
        format!(
            "artifact digest matches subject {:?}{}",
            subject.name,
            if subject.digest.sha512.is_some() && req.artifact.sha512.is_some() {
                " (sha256 and sha512)"
            } else {
                " (sha256)"
            }
        ),
    );

    let ext = &provenance.build_definition.external_parameters;
    release.product = ext.product.clone();
    release.version = ext.version.clone();
    release.builder = provenance.run_details.builder.id.clone();
    release.repository = ext.source.repository.clone();
    release.git_ref = ext.source.git_ref.clone();
    release.commit = provenance.source_commit().unwrap_or_default().to_owned();
    release.tree_clean = provenance.tree_clean();
    check_provenance(req, &signed.hint, &provenance).map_err(at(C::Provenance))?;
    pass(
        checks,
        C::Provenance,
        format!(
            "{} {} built by {} from {} at {} ({})",
            ext.product,
            ext.version,
            provenance.run_details.builder.id,
            ext.source.repository,
            release.commit,
            ext.source.git_ref
        ),
    );

    match req.manifest {
        None => checks.push(Check {
            name: C::Manifest,
            status: Status::Skipped,
            detail: "no manifest.json beside the bundle (give --manifest to check it)".to_owned(),
            error: None,
        }),
        Some(bytes) => {
            let detail = check_manifest(req, bytes, release).map_err(at(C::Manifest))?;
            pass(checks, C::Manifest, detail);
        }
    }
    match check_approvals(req, release, logged.as_ref()).map_err(at(C::Approval))? {
        Some(detail) => pass(checks, C::Approval, detail),
        None => checks.push(Check {
            name: C::Approval,
            status: Status::Skipped,
            detail: format!(
                "the policy asks no approvals of this release of {}",
                release.product
            ),
            error: None,
        }),
    }
    Ok(())
}

/// The policy's approval rule for the product, when it applies to this release (logged from
/// the rule's start on, or not placed in that log at all): enough distinct approvers signed
/// the manifest that [`check_manifest`] verified. `None` when no rule applies.
fn check_approvals(
    req: &Request<'_>,
    release: &Release,
    logged: Option<&(String, u64)>,
) -> Result<Option<String>, Error> {
    let Some(rule) = req.policy.approval_rule(&release.product) else {
        return Ok(None);
    };
    if logged.is_some_and(|(origin, index)| rule.required_from.precedes(origin, *index)) {
        return Ok(None);
    }
    let Some(manifest) = req.manifest else {
        return Err(Error::ApprovalNeedsManifest {
            product: release.product.clone(),
            threshold: rule.threshold,
        });
    };
    let approvals = match req.approvals {
        Some(bytes) => crate::approval::Approvals::from_json(bytes)?,
        None => crate::approval::Approvals::default(),
    };
    let logs = trusted_logs(req)?;
    let tally = crate::approval::check(
        rule,
        manifest,
        &approvals,
        (&release.product, &release.version),
        crate::approval::Logged::In(&logs),
        req.now,
    )?;
    Ok(Some(format!(
        "approved by {} of {} approvers (at least {} required): {}",
        tally.approved.len(),
        rule.approvers.len(),
        rule.threshold,
        tally.approved.join(", ")
    )))
}

fn check_log(
    req: &Request<'_>,
    signed: &bundle::SignedBundle,
    key: &custody_crypto::PublicKey,
    checks: &mut Vec<Check>,
) -> Result<Option<(String, u64)>, Error> {
    let logs = trusted_logs(req)?;
    if logs.is_empty()
        && (req.policy.rotation(&signed.hint).is_some()
            || req.policy.revocation(&signed.hint).is_some())
    {
        return Err(Error::NoLogToDate {
            hint: signed.hint.to_string(),
        });
    }
    if logs.is_empty() {
        checks.push(Check {
            name: CheckName::Log,
            status: Status::Skipped,
            detail: "the trusted root lists no transparency log".to_owned(),
            error: None,
        });
        return Ok(None);
    }
    let mut first_error = None;
    for entry in &signed.tlog_entries {
        let witnessed =
            tlog::verify_entry(entry, &signed.envelope, key, &logs, req.now).and_then(|logged| {
                let (cosigned, verified) = check_witnesses(req, &logged)?;
                let revocation = check_revocation(req, &signed.hint, &verified)?;
                let rotation = check_rotation(req, &signed.hint, &logged)?;
                Ok((logged, format!("{cosigned}{revocation}{rotation}")))
            });
        match witnessed {
            Ok((logged, cosigned)) => {
                pass(
                    checks,
                    CheckName::Log,
                    format!(
                        "entry {} of log {} is in its signed checkpoint of size {}{cosigned}",
                        logged.index, logged.origin, logged.tree_size
                    ),
                );
                return Ok(Some((logged.origin, logged.index)));
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error.unwrap_or_else(|| Error::NotLogged {
        logs: logs.iter().map(|l| l.origin.clone()).collect(),
    }))
}

/// The trusted root's logs, each replaced key dated by the policy's record of its rotation.
fn trusted_logs(req: &Request<'_>) -> Result<Vec<tlog::TrustedLog>, Error> {
    use base64::Engine as _;
    let mut logs = req.trusted_root.trusted_logs()?;
    for log in &mut logs {
        let id = base64::engine::general_purpose::STANDARD.encode(log.log_id);
        log.dated_below = req
            .policy
            .log_key_rotations
            .iter()
            .find(|r| r.key_id == id && r.position.log == log.origin)
            .map(|r| r.position.size);
    }
    Ok(logs)
}

/// The policy's witness rule (c2sp.org/tlog-cosignature): at least K of the named witnesses
/// cosigned the checkpoint; cosignatures from keys the policy does not name are ignored, and a
/// named witness's signature that does not verify (forged, or made over another checkpoint)
/// fails. Returns a description for the report.
fn check_witnesses(
    req: &Request<'_>,
    logged: &tlog::Logged,
) -> Result<(String, Vec<custody_tlog::VerifiedSignature>), Error> {
    let Some(w) = &req.policy.witnesses else {
        return Ok((String::new(), Vec::new()));
    };
    let verified = w
        .to_tlog()
        .check(&logged.checkpoint)
        .map_err(|source| Error::Witnesses {
            origin: logged.origin.clone(),
            source: Box::new(source),
        })?;
    let names: Vec<&str> = verified.iter().map(|v| v.name.as_str()).collect();
    let described = format!(
        ", cosigned by {} of {} witnesses (at least {} required): {}",
        verified.len(),
        w.keys.len(),
        w.threshold,
        names.join(", ")
    );
    Ok((described, verified))
}

/// A rotated key's signature counts only where the log held it before the rotation: its entry's
/// index is below the log's size at the rotation.
fn check_rotation(
    req: &Request<'_>,
    hint: &custody_crypto::KeyHint,
    logged: &tlog::Logged,
) -> Result<String, Error> {
    let Some(rotated) = req.policy.rotation(hint) else {
        return Ok(String::new());
    };
    if rotated.precedes(&logged.origin, logged.index) {
        Ok(format!(
            "; key {hint} was rotated at {} when the log held {} entries, and this is entry {}",
            rotated.at, rotated.size, logged.index
        ))
    } else {
        Err(Error::KeyRotated(Box::new(
            crate::error::LoggedAfterRotation {
                hint: hint.to_string(),
                at: rotated.at,
                log: rotated.log.clone(),
                size: rotated.size,
                index: logged.index,
                origin: logged.origin.clone(),
            },
        )))
    }
}

/// A revoked key's signature counts only when a witness the policy names cosigned a checkpoint
/// holding it before the revocation: the log, not the signer, says when it was made.
fn check_revocation(
    req: &Request<'_>,
    hint: &custody_crypto::KeyHint,
    cosigned: &[custody_tlog::VerifiedSignature],
) -> Result<String, Error> {
    let Some(revoked) = req.policy.revocation(hint) else {
        return Ok(String::new());
    };
    let proved = cosigned
        .iter()
        .filter_map(|v| Some((v.timestamp?, v.name.as_str())))
        .filter_map(|(t, name)| Some((Timestamp::from_second(i64::try_from(t).ok()?).ok()?, name)))
        .min_by_key(|(t, _)| *t);
    match proved {
        Some((at, witness)) if at < revoked.since => Ok(format!(
            "; key {hint} is revoked from {} ({}), and {witness} cosigned this entry at {at}, before that",
            revoked.since, revoked.reason
        )),
        _ => Err(Error::KeyRevoked {
            hint: hint.to_string(),
            since: revoked.since,
            reason: revoked.reason.clone(),
            earliest: proved.map(|(at, _)| at),
        }),
    }
}

fn check_provenance(
    req: &Request<'_>,
    hint: &custody_crypto::KeyHint,
    p: &Provenance,
) -> Result<(), Error> {
    let ext = &p.build_definition.external_parameters;
    // The key may be limited to some products; only now do we know which product this is.
    req.policy
        .key_for_logged(hint, req.now, Some(&ext.product))?;
    if p.run_details.builder.id != req.policy.builder.id {
        return Err(Error::BuilderMismatch {
            expected: req.policy.builder.id.clone(),
            found: p.run_details.builder.id.clone(),
        });
    }
    if ext.source.repository != req.policy.source.repository {
        return Err(Error::SourceMismatch {
            expected: req.policy.source.repository.clone(),
            found: ext.source.repository.clone(),
        });
    }
    let commit = p.source_commit().unwrap_or_default();
    if let Some(want) = &req.expect.source_ref {
        let short = ext.source.git_ref.rsplit('/').next().unwrap_or_default();
        let matches = *want == ext.source.git_ref
            || *want == short
            || (want.len() >= 7 && commit.starts_with(want.as_str()));
        if !matches {
            return Err(Error::SourceRefMismatch {
                expected: want.clone(),
                found: ext.source.git_ref.clone(),
                commit: commit.to_owned(),
            });
        }
    }
    if let Some(want) = &req.expect.version
        && *want != ext.version
    {
        return Err(Error::VersionMismatch {
            expected: want.clone(),
            found: ext.version.clone(),
        });
    }
    if let Some(want) = &req.expect.product
        && *want != ext.product
    {
        return Err(Error::ProductMismatch {
            expected: want.clone(),
            found: ext.product.clone(),
        });
    }
    Ok(())
}

fn check_manifest(req: &Request<'_>, bytes: &[u8], release: &Release) -> Result<String, Error> {
    let signed = bundle::parse(bytes)?;
    let key = req
        .policy
        .key_for_logged(&signed.hint, req.now, Some(&release.product))?;
    bundle::verify_envelope(&signed.envelope, key)?;
    if req.policy.rotation(&signed.hint).is_some() {
        // A rotated key's manifest counts, as its artifact bundles do, only where the log held
        // it before the rotation.
        let logs = trusted_logs(req)?;
        let entry = signed
            .tlog_entries
            .first()
            .ok_or_else(|| Error::NotLogged {
                logs: logs.iter().map(|l| l.origin.clone()).collect(),
            })?;
        let logged = tlog::verify_entry(entry, &signed.envelope, key, &logs, req.now)?;
        check_rotation(req, &signed.hint, &logged)?;
    }
    let (stmt, manifest): (_, ReleaseManifest) =
        statement::parse(signed.envelope.payload.as_bytes(), RELEASE_MANIFEST_V1)?;
    if manifest.product != release.product {
        return Err(Error::ProductMismatch {
            expected: release.product.clone(),
            found: manifest.product,
        });
    }
    if manifest.version != release.version {
        return Err(Error::VersionMismatch {
            expected: release.version.clone(),
            found: manifest.version,
        });
    }
    statement::find_subject(&stmt, req.artifact).map_err(|_| Error::NotInManifest {
        product: manifest.product.clone(),
        version: manifest.version.clone(),
        sha256: req.artifact.sha256.map(|d| d.to_hex()).unwrap_or_default(),
    })?;
    Ok(format!(
        "signed manifest of {} {} lists the artifact among {} artifact(s)",
        manifest.product,
        manifest.version,
        manifest.artifacts.len()
    ))
}
