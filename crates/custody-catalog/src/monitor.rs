//! Re-scanning shipped releases after the advisory database changed.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use crate::Error;
use crate::access::NewDelivery;
use crate::backend::Param;
use crate::catalog::{
    Catalog, FindingKey, ReleaseInfo, finding_facts, finding_key, int, package, release_info, text,
};
use custody_vuln::vex::{self, Assessed, Document};
use custody_vuln::{Ecosystem, Finding, MatchOptions, PackageRef, Packs};

/// What a run needs besides the catalog and the advisories.
pub struct MonitorOptions<'a> {
    /// The time of this run (RFC 3339), recorded as first-seen.
    pub now: &'a str,
    /// The supplier's VEX documents about a product, by product name.
    pub vex: &'a dyn Fn(&str) -> Vec<Document>,
}

impl std::fmt::Debug for MonitorOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MonitorOptions")
            .field("now", &self.now)
            .finish_non_exhaustive()
    }
}

/// New findings in one release.
#[derive(Debug, Clone)]
pub struct ReleaseNews {
    /// The release.
    pub release: ReleaseInfo,
    /// Findings new since the last run that no VEX statement suppresses, with the statement
    /// that applies, if any (`affected`, `under_investigation`).
    pub findings: Vec<Assessed>,
    /// When each finding's advisory, in its current content, was first seen (by id).
    pub first_seen: BTreeMap<String, String>,
}

/// What one run found.
#[derive(Debug, Clone, Default)]
pub struct MonitorReport {
    /// No earlier run had recorded the advisories: everything counts as changed.
    pub first_run: bool,
    /// Advisories new since the last run.
    pub added: Vec<String>,
    /// Advisories whose content changed.
    pub changed: Vec<String>,
    /// Advisories gone.
    pub removed: Vec<String>,
    /// Packages (ecosystem, name) a changed advisory names.
    pub touched_packages: usize,
    /// Releases in the catalog.
    pub releases: usize,
    /// Releases looked at: those never scanned, and those containing a touched package.
    pub rescanned_releases: usize,
    /// Distinct (package, version) pairs matched.
    pub matched_packages: usize,
    /// Per release, its new unsuppressed findings; releases with none are left out.
    pub new: Vec<ReleaseNews>,
    /// New findings a VEX statement suppresses: stored, not reported.
    pub suppressed: usize,
    /// Findings stored earlier that no longer match (fixed advisories, withdrawn ones).
    pub resolved: usize,
}

type PackageKey = (String, String, String);

/// One run: see the crate docs.
pub fn monitor(
    catalog: &mut Catalog,
    packs: &Packs,
    options: &MonitorOptions<'_>,
) -> Result<MonitorReport, Error> {
    match monitor_then(catalog, packs, options, |_| {
        Ok::<((), Vec<NewDelivery>), std::convert::Infallible>(((), Vec::new()))
    })? {
        Ok((report, ())) => Ok(report),
        Err(never) => match never {},
    }
}

/// [`monitor()`], with `publish` run on the report before the catalog records it as seen: the
/// news reaches its readers at least once, since a run that is killed (or whose `publish` fails)
/// before the commit leaves the catalog as it was, and the next run finds the same news.
/// The webhook events `publish` returns go into the outbox in the same transaction as the
/// findings they announce, so a relay sends them (after the commit) exactly when the news is
/// recorded: never lost, never invented.
/// `publish`'s error is the inner one; the catalog is then left unchanged.
pub fn monitor_then<T, E>(
    catalog: &mut Catalog,
    packs: &Packs,
    options: &MonitorOptions<'_>,
    publish: impl FnOnce(&MonitorReport) -> Result<(T, Vec<NewDelivery>), E>,
) -> Result<Result<(MonitorReport, T), E>, Error> {
    let current = packs.stamps()?;
    let previous = catalog.advisory_state()?;
    let mut report = MonitorReport {
        first_run: previous.is_empty(),
        releases: catalog.len()?,
        ..MonitorReport::default()
    };
    let mut touched: BTreeSet<(Ecosystem, String)> = BTreeSet::new();
    for (id, now) in &current {
        match previous.get(id) {
            Some(before) if before.digest == now.digest => continue,
            Some(before) => {
                report.changed.push(id.clone());
                touched.extend(before.packages.iter().cloned());
            }
            None => report.added.push(id.clone()),
        }
        touched.extend(now.packages.iter().cloned());
    }
    for (id, before) in &previous {
        if !current.contains_key(id) {
            report.removed.push(id.clone());
            touched.extend(before.packages.iter().cloned());
        }
    }
    report.touched_packages = touched.len();

    let mut tx = catalog.begin()?;

    // Which releases to look at, and which of their packages.
    let mut releases: BTreeMap<i64, ReleaseInfo> = BTreeMap::new();
    let mut wanted: BTreeMap<i64, Vec<PackageRef>> = BTreeMap::new();
    let mut whole: HashSet<i64> = HashSet::new();
    for r in tx.query(
        "listing unscanned releases",
        "SELECT id, product, version, dir, artifacts FROM releases WHERE scanned = 0",
        &[],
    )? {
        let r = release_info(&r, 0)?;
        whole.insert(r.id);
        releases.insert(r.id, r);
    }
    for id in &whole {
        let list = wanted.entry(*id).or_default();
        for row in tx.query(
            "reading packages",
            "SELECT ecosystem, name, version, purl FROM packages WHERE release = $1",
            &[Param::Int(*id)],
        )? {
            list.push(package(&row, 0)?);
        }
    }
    for (eco, key) in &touched {
        for row in tx.query(
            "finding releases with a touched package",
            "SELECT p.ecosystem, p.name, p.version, p.purl,
                    r.id, r.product, r.version, r.dir, r.artifacts
             FROM packages p JOIN releases r ON r.id = p.release
             WHERE r.scanned = 1 AND p.ecosystem = $1 AND p.key = $2",
            &[eco.as_str().into(), key.into()],
        )? {
            let p = package(&row, 0)?;
            let info = release_info(&row, 4)?;
            wanted.entry(info.id).or_default().push(p);
            releases.entry(info.id).or_insert(info);
        }
    }
    report.rescanned_releases = releases.len();

    // Match each distinct (package, version) once.
    let mut keys: BTreeMap<Ecosystem, BTreeSet<String>> = BTreeMap::new();
    for p in wanted.values().flatten() {
        keys.entry(p.ecosystem.clone())
            .or_default()
            .insert(p.ecosystem.normalise_name(&p.name));
    }
    let index = packs.index_for_keys(keys.iter().map(|(e, n)| (e.clone(), n)))?;
    let opts = MatchOptions::default();
    let mut matched: HashMap<PackageKey, Vec<Finding>> = HashMap::new();
    for p in wanted.values().flatten() {
        let k = (
            p.ecosystem.as_str().to_owned(),
            p.ecosystem.normalise_name(&p.name),
            p.version.clone(),
        );
        matched
            .entry(k)
            .or_insert_with(|| index.match_package(p, &opts));
    }
    report.matched_packages = matched.len();

    // First-seen per advisory content.
    let mut first_seen: HashMap<&str, String> = HashMap::new();
    for id in report.added.iter().chain(&report.changed) {
        let Some(stamp) = current.get(id) else {
            continue;
        };
        let seen = tx.query(
            "reading first-seen times",
            "SELECT first_seen FROM advisory_versions WHERE id = $1 AND digest = $2",
            &[id.into(), (&stamp.digest).into()],
        )?;
        let seen = match seen.first() {
            Some(row) => text(row, 0, "first-seen time")?,
            None => {
                tx.execute(
                    "recording first-seen times",
                    "INSERT INTO advisory_versions (id, digest, first_seen) VALUES ($1, $2, $3)",
                    &[id.into(), (&stamp.digest).into(), options.now.into()],
                )?;
                options.now.to_owned()
            }
        };
        first_seen.insert(id.as_str(), seen);
    }

    // Compare with what each release already had.
    let mut vex_cache: HashMap<String, Vec<Document>> = HashMap::new();
    {
        let finding = |row: &crate::backend::Row, at: usize| -> Result<FindingKey, Error> {
            const WHAT: &str = "finding";
            Ok((
                text(row, at, WHAT)?,
                text(row, at + 1, WHAT)?,
                text(row, at + 2, WHAT)?,
                text(row, at + 3, WHAT)?,
            ))
        };
        // The stored findings of every touched package, for all releases in one pass per
        // package: one indexed range each, where a query per release would seek thousands
        // of times.
        let mut stored_touched: HashMap<i64, HashSet<FindingKey>> = HashMap::new();
        for (eco, key) in &touched {
            for row in tx.query(
                "reading findings",
                "SELECT release, id, ecosystem, key, version FROM findings
                 WHERE ecosystem = $1 AND key = $2",
                &[eco.as_str().into(), key.into()],
            )? {
                let release = int(&row, 0, "finding")?;
                if !whole.contains(&release) {
                    stored_touched
                        .entry(release)
                        .or_default()
                        .insert(finding(&row, 1)?);
                }
            }
        }
        for (id, info) in &releases {
            let packages = wanted.get(id).map(Vec::as_slice).unwrap_or_default();
            let scope: HashSet<PackageKey> = packages
                .iter()
                .map(|p| {
                    (
                        p.ecosystem.as_str().to_owned(),
                        p.ecosystem.normalise_name(&p.name),
                        p.version.clone(),
                    )
                })
                .collect();
            let mut findings: Vec<Finding> = Vec::new();
            let mut seen_pkg = HashSet::new();
            for p in packages {
                let k = (
                    p.ecosystem.as_str().to_owned(),
                    p.ecosystem.normalise_name(&p.name),
                    p.version.clone(),
                );
                if !seen_pkg.insert(k.clone()) {
                    continue;
                }
                if let Some(found) = matched.get(&k) {
                    findings.extend(found.iter().map(|f| {
                        let mut f = f.clone();
                        // The release's own spelling, so purl-scoped VEX statements apply.
                        f.package = p.clone();
                        f
                    }));
                }
            }
            let mut stored: HashSet<FindingKey> = HashSet::new();
            if whole.contains(id) {
                for row in tx.query(
                    "reading findings",
                    "SELECT id, ecosystem, key, version FROM findings WHERE release = $1",
                    &[Param::Int(*id)],
                )? {
                    stored.insert(finding(&row, 0)?);
                }
            } else if let Some(found) = stored_touched.remove(id) {
                // Only the touched packages were matched, so only their findings can change.
                stored = found;
            }
            let docs = vex_cache
                .entry(info.product.clone())
                .or_insert_with(|| (options.vex)(&info.product));
            let assessed = vex::apply(findings, docs, Some(&info.product));
            let mut now_keys = HashSet::new();
            let mut news = Vec::new();
            for a in assessed {
                let key = finding_key(&a.finding);
                now_keys.insert(key.clone());
                let [severity, fixed, summary] = finding_facts(&a.finding);
                if stored.contains(&key) {
                    // Not news, but its advisory changed: what the catalog shows of it follows.
                    tx.execute(
                        "updating findings",
                        "UPDATE findings SET severity = $6, fixed = $7, summary = $8
                         WHERE release = $1 AND id = $2 AND ecosystem = $3 AND key = $4
                           AND version = $5",
                        &[
                            Param::Int(*id),
                            (&key.0).into(),
                            (&key.1).into(),
                            (&key.2).into(),
                            (&key.3).into(),
                            severity.into(),
                            fixed.into(),
                            summary.into(),
                        ],
                    )?;
                    continue;
                }
                tx.execute(
                    "recording findings",
                    "INSERT INTO findings
                       (release, id, ecosystem, key, version, vex, first_seen, severity, fixed,
                        summary)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                     ON CONFLICT (release, ecosystem, key, version, id)
                     DO UPDATE SET vex = excluded.vex, first_seen = excluded.first_seen,
                       severity = excluded.severity, fixed = excluded.fixed,
                       summary = excluded.summary",
                    &[
                        Param::Int(*id),
                        (&key.0).into(),
                        (&key.1).into(),
                        (&key.2).into(),
                        (&key.3).into(),
                        a.vex.as_ref().map(|v| v.status.as_str()).into(),
                        options.now.into(),
                        severity.into(),
                        fixed.into(),
                        summary.into(),
                    ],
                )?;
                if a.is_suppressed() {
                    report.suppressed += 1;
                } else {
                    news.push(a);
                }
            }
            for key in stored.iter().filter(|k| {
                scope.contains(&(k.1.clone(), k.2.clone(), k.3.clone())) && !now_keys.contains(*k)
            }) {
                tx.execute(
                    "dropping resolved findings",
                    "DELETE FROM findings
                     WHERE release = $1 AND id = $2 AND ecosystem = $3 AND key = $4
                       AND version = $5",
                    &[
                        Param::Int(*id),
                        (&key.0).into(),
                        (&key.1).into(),
                        (&key.2).into(),
                        (&key.3).into(),
                    ],
                )?;
                report.resolved += 1;
            }
            if !news.is_empty() {
                let first_seen = news
                    .iter()
                    .flat_map(|a| a.finding.advisories.iter())
                    .filter_map(|adv| {
                        Some((adv.id.clone(), first_seen.get(adv.id.as_str())?.clone()))
                    })
                    .collect();
                news.sort_by(|a, b| a.finding.id.cmp(&b.finding.id));
                report.new.push(ReleaseNews {
                    release: info.clone(),
                    findings: news,
                    first_seen,
                });
            }
        }
    }

    // Record what was seen, for the next run.
    for id in &whole {
        tx.execute(
            "marking releases scanned",
            "UPDATE releases SET scanned = 1 WHERE id = $1",
            &[Param::Int(*id)],
        )?;
    }
    for id in report.added.iter().chain(&report.changed) {
        let Some(stamp) = current.get(id) else {
            continue;
        };
        let packages: Vec<(&str, &str)> = stamp
            .packages
            .iter()
            .map(|(e, k)| (e.as_str(), k.as_str()))
            .collect();
        let packages = serde_json::to_string(&packages).map_err(|source| Error::Corrupt {
            what: "advisory package list",
            source,
        })?;
        tx.execute(
            "recording advisory state",
            "INSERT INTO advisories (id, digest, packages) VALUES ($1, $2, $3)
             ON CONFLICT (id) DO UPDATE SET digest = excluded.digest, packages = excluded.packages",
            &[id.into(), (&stamp.digest).into(), (&packages).into()],
        )?;
    }
    for id in &report.removed {
        tx.execute(
            "recording advisory state",
            "DELETE FROM advisories WHERE id = $1",
            &[id.into()],
        )?;
    }
    let published = match publish(&report) {
        Ok((t, deliveries)) => {
            tx.enqueue(&deliveries, options.now)?;
            t
        }
        // Dropping the transaction rolls it back.
        Err(e) => return Ok(Err(e)),
    };
    tx.commit()?;
    Ok(Ok((report, published)))
}
