//! The catalog's test suite, run against both backends: embedded SQLite and a real PostgreSQL
//! (a throwaway cluster per test, from `scripts/postgres.sh`). Every case is written once, for
//! a [`Fixture`] that opens connections to one database.
//!
//! Advisories are real ones from the trimmed Go snapshot in `testdata/advisories/Go`:
//! GO-2020-0001 (gin) and GO-2020-0004 (nats-server).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support {
    pub mod postgres;
}

use std::path::{Path, PathBuf};

use custody_catalog::backend::{self, Backend};
use custody_catalog::{Catalog, Error, MonitorOptions, MonitorReport, NewRelease, monitor};
use custody_vuln::vex::{Assessed, Document};
use custody_vuln::{Ecosystem, PackageRef, SourceKind, Store};

/// One database, and a way to open connections to it.
trait Fixture {
    /// A catalog on the database (migrating it, the first time).
    fn open(&self) -> Catalog;
    /// A raw connection, to do what the catalog never would.
    fn raw(&self) -> Box<dyn Backend>;
}

struct SqliteFixture {
    tmp: tempfile::TempDir,
}

impl SqliteFixture {
    fn new() -> Self {
        Self {
            tmp: tempfile::tempdir().unwrap(),
        }
    }
    fn path(&self) -> PathBuf {
        self.tmp.path().join("catalog.sqlite")
    }
}

impl Fixture for SqliteFixture {
    fn open(&self) -> Catalog {
        Catalog::open(&self.path()).unwrap()
    }
    fn raw(&self) -> Box<dyn Backend> {
        Box::new(backend::Sqlite::open(&self.path()).unwrap())
    }
}

struct PostgresFixture {
    _cluster: support::postgres::Postgres,
    url: String,
}

impl PostgresFixture {
    fn new() -> Option<Self> {
        let cluster = support::postgres::Postgres::start()?;
        let url = cluster.database("custody");
        Some(Self {
            _cluster: cluster,
            url,
        })
    }
}

impl Fixture for PostgresFixture {
    fn open(&self) -> Catalog {
        Catalog::at(&self.url).unwrap()
    }
    fn raw(&self) -> Box<dyn Backend> {
        Box::new(backend::Postgres::connect(&self.url).unwrap())
    }
}

macro_rules! suite {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(#[test] fn $case() { super::$case(&super::SqliteFixture::new()); })*
        }
        mod postgres {
            $(#[test] fn $case() {
                if let Some(f) = super::PostgresFixture::new() { super::$case(&f); }
            })*
        }
    };
}

suite!(
    a_version_is_added_once,
    two_frontends_adding_one_version_at_once_add_it_once,
    only_releases_with_a_touched_package_are_rescanned,
    news_whose_publishing_failed_is_found_again,
    findings_known_at_release_are_not_news,
    a_vex_statement_stores_the_finding_but_keeps_it_out_of_the_news,
    a_schema_from_a_newer_build_is_refused,
    a_corrupt_row_is_an_error_not_a_panic,
    a_catalog_of_the_first_schema_is_migrated,
    tokens_are_kept_by_hash_and_revoked_once,
    the_audit_log_is_appended_in_order_by_every_frontend,
    webhook_events_are_queued_with_the_news_they_announce,
    registered_webhooks_keep_their_secret_until_removed,
    releases_and_components_are_listed,
    products_findings_and_licences_are_read_back,
);

// ---------------------------------------------------------------------------------------------

fn go(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/advisories/Go")
        .join(file)
}

/// An advisory database holding `files` of the Go snapshot, and the directory it imports from.
struct Advisories {
    tmp: tempfile::TempDir,
    store: Store,
}

impl Advisories {
    fn new(files: &[&str]) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        std::fs::create_dir_all(&src).unwrap();
        for f in files {
            std::fs::copy(go(f), src.join(f)).unwrap();
        }
        let mut store = Store::open(&tmp.path().join("db")).unwrap();
        store.import("Go", SourceKind::Osv, &src).unwrap();
        Self { tmp, store }
    }
    fn src(&self, file: &str) -> PathBuf {
        self.tmp.path().join("src").join(file)
    }
    /// Re-imports after `edit` changed a source file.
    fn edit(&mut self, file: &str, edit: impl FnOnce(String) -> String) {
        let path = self.src(file);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, edit(text)).unwrap();
        self.store
            .import("Go", SourceKind::Osv, &self.tmp.path().join("src"))
            .unwrap();
    }
    fn run(&self, catalog: &mut Catalog, now: &str) -> MonitorReport {
        self.run_with(catalog, now, &|_| Vec::new())
    }
    fn run_with(
        &self,
        catalog: &mut Catalog,
        now: &str,
        vex: &dyn Fn(&str) -> Vec<Document>,
    ) -> MonitorReport {
        let packs = custody_vuln::open_current(&self.tmp.path().join("db")).unwrap();
        monitor(catalog, &packs, &MonitorOptions { now, vex }).unwrap()
    }
}

fn gin() -> PackageRef {
    PackageRef::new(Ecosystem::Go, "github.com/gin-gonic/gin", "v1.5.0")
}

fn unrelated() -> PackageRef {
    PackageRef::new(Ecosystem::Go, "example.com/unrelated", "v1.0.0")
}

fn add(
    catalog: &mut Catalog,
    product: &str,
    version: &str,
    packages: &[PackageRef],
    known: &[Assessed],
) -> bool {
    catalog
        .add_release(
            &NewRelease {
                product,
                version,
                dir: Path::new("/site/releases/x"),
                sbom: Some("{}"),
                artifacts: &[format!("{product}-{version}.tgz")],
                packages,
                // Every package with a package URL is MIT here, so the licence's way into
                // the catalog and back out is seen.
                licenses: &packages
                    .iter()
                    .filter_map(|p| Some((p.purl.clone()?, "MIT".to_owned())))
                    .collect(),
                known,
            },
            "2026-01-01T00:00:00Z",
        )
        .unwrap()
}

// ---------------------------------------------------------------------------------------------

fn a_version_is_added_once(f: &dyn Fixture) {
    let mut catalog = f.open();
    assert!(catalog.is_empty().unwrap());
    assert!(add(&mut catalog, "web", "1.0.0", &[gin()], &[]));
    // Published versions are immutable: a second add changes nothing, whatever it carries.
    assert!(!add(&mut catalog, "web", "1.0.0", &[unrelated()], &[]));
    assert!(add(&mut catalog, "web", "1.1.0", &[gin()], &[]));
    assert_eq!(catalog.len().unwrap(), 2);
    // Another connection sees the same.
    let mut other = f.open();
    assert!(other.contains("web", "1.0.0").unwrap());
    assert!(!other.contains("web", "2.0.0").unwrap());
    assert!(!other.contains("api", "1.0.0").unwrap());
    assert_eq!(other.len().unwrap(), 2);
    // The first add's packages are the ones kept: the first run finds gin's advisory in both.
    let advisories = Advisories::new(&["GO-2020-0001.json"]);
    let report = advisories.run(&mut other, "2026-01-02T00:00:00Z");
    assert_eq!(report.releases, 2);
    assert_eq!(report.new.len(), 2);
    let news = &report.new[0];
    assert_eq!(news.release.artifacts, ["web-1.0.0.tgz"]);
    assert_eq!(news.release.dir, Path::new("/site/releases/x"));
}

fn two_frontends_adding_one_version_at_once_add_it_once(f: &dyn Fixture) {
    let mut catalogs: Vec<Catalog> = (0..4).map(|_| f.open()).collect();
    let barrier = std::sync::Barrier::new(catalogs.len());
    let added: usize = std::thread::scope(|s| {
        let handles: Vec<_> = catalogs
            .iter_mut()
            .map(|c| {
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    usize::from(add(c, "web", "1.0.0", &[gin(), unrelated()], &[]))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(added, 1, "exactly one frontend adds the version");
    let mut catalog = f.open();
    assert_eq!(catalog.len().unwrap(), 1);
    // And its packages once: the first run matches gin once.
    let advisories = Advisories::new(&["GO-2020-0001.json"]);
    let report = advisories.run(&mut catalog, "2026-01-02T00:00:00Z");
    assert_eq!(report.new.len(), 1);
    assert_eq!(report.new[0].findings.len(), 1);
}

fn only_releases_with_a_touched_package_are_rescanned(f: &dyn Fixture) {
    let mut advisories = Advisories::new(&["GO-2020-0001.json", "GO-2020-0004.json"]);
    let mut catalog = f.open();
    add(&mut catalog, "web", "1.0.0", &[gin(), unrelated()], &[]);
    add(&mut catalog, "tool", "1.0.0", &[unrelated()], &[]);

    let first = advisories.run(&mut catalog, "2026-01-02T00:00:00Z");
    assert!(first.first_run);
    assert_eq!(first.rescanned_releases, 2, "never scanned: both, whole");
    assert_eq!(first.new.len(), 1);
    assert_eq!(first.new[0].release.product, "web");
    assert_eq!(
        first.new[0]
            .first_seen
            .get("GO-2020-0001")
            .map(String::as_str),
        Some("2026-01-02T00:00:00Z")
    );
    assert_eq!(catalog.findings("web", "1.0.0").unwrap().len(), 1);

    // The nats-server advisory's file changes (a byte is enough: content hashes, not dates,
    // decide): neither release has that package.
    advisories.edit("GO-2020-0004.json", |t| format!("{t}\n"));
    let second = advisories.run(&mut catalog, "2026-01-03T00:00:00Z");
    assert_eq!(second.changed, ["GO-2020-0004"]);
    assert_eq!(second.rescanned_releases, 0);

    // The gin advisory is withdrawn: only "web" is looked at, and its finding is resolved.
    advisories.edit("GO-2020-0001.json", |t| {
        t.replacen('{', "{\"withdrawn\": \"2026-01-03T00:00:00Z\",", 1)
    });
    let third = advisories.run(&mut catalog, "2026-01-04T00:00:00Z");
    assert_eq!(third.rescanned_releases, 1);
    assert_eq!(third.resolved, 1);
    assert!(third.new.is_empty());
    assert!(catalog.findings("web", "1.0.0").unwrap().is_empty());
}

fn news_whose_publishing_failed_is_found_again(f: &dyn Fixture) {
    // Regression (issue 15 crash campaign): the monitor committed the findings before the
    // notices were written, so a run killed in between lost them for good.
    let advisories = Advisories::new(&["GO-2020-0001.json"]);
    let mut catalog = f.open();
    add(&mut catalog, "web", "1.0.0", &[gin()], &[]);
    let no_vex = |_: &str| Vec::new();
    let packs = custody_vuln::open_current(&advisories.tmp.path().join("db")).unwrap();
    let options = MonitorOptions {
        now: "2026-01-02T00:00:00Z",
        vex: &no_vex,
    };
    let failed = custody_catalog::monitor_then(&mut catalog, &packs, &options, |report| {
        assert_eq!(report.new.len(), 1);
        Err::<((), Vec<custody_catalog::NewDelivery>), _>("the notice could not be written")
    })
    .unwrap();
    assert!(failed.is_err());
    // Nothing of the failed run is visible, on this connection or another.
    assert!(f.open().findings("web", "1.0.0").unwrap().is_empty());
    let again = monitor(&mut catalog, &packs, &options).unwrap();
    assert!(again.first_run, "the failed run recorded nothing");
    assert_eq!(again.new.len(), 1, "the news is found again");
    let after = monitor(&mut catalog, &packs, &options).unwrap();
    assert!(after.new.is_empty());
}

fn findings_known_at_release_are_not_news(f: &dyn Fixture) {
    let advisories = Advisories::new(&["GO-2020-0001.json"]);
    let mut catalog = f.open();
    add(&mut catalog, "web", "1.0.0", &[gin()], &[]);
    let first = advisories.run(&mut catalog, "2026-01-02T00:00:00Z");
    let known = first.new[0].findings.clone();
    // The next release ships the same gin, and its gate saw the same finding.
    add(&mut catalog, "web", "1.1.0", &[gin()], &known);
    let second = advisories.run(&mut catalog, "2026-01-03T00:00:00Z");
    assert_eq!(
        second.rescanned_releases, 1,
        "the new release, never scanned"
    );
    assert!(second.new.is_empty(), "{:?}", second.new);
    let stored = catalog.findings("web", "1.1.0").unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].id, "GO-2020-0001");
    assert_eq!(stored[0].package, "github.com/gin-gonic/gin");
    assert_eq!(stored[0].version, "v1.5.0");
}

fn a_vex_statement_stores_the_finding_but_keeps_it_out_of_the_news(f: &dyn Fixture) {
    let advisories = Advisories::new(&["GO-2020-0001.json"]);
    let mut catalog = f.open();
    add(&mut catalog, "web", "1.0.0", &[gin()], &[]);
    add(&mut catalog, "api", "1.0.0", &[gin()], &[]);
    let doc = Document::from_json(
        br#"{"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.com/vex/web-1",
            "author": "Acme", "timestamp": "2026-01-01T00:00:00Z", "version": 1,
            "statements": [{"vulnerability": {"name": "GO-2020-0001"},
              "products": [{"@id": "web"}], "status": "not_affected",
              "justification": "vulnerable_code_not_in_execute_path"}]}"#,
    )
    .unwrap();
    let vex = move |product: &str| {
        if product == "web" {
            vec![doc.clone()]
        } else {
            Vec::new()
        }
    };
    let report = advisories.run_with(&mut catalog, "2026-01-02T00:00:00Z", &vex);
    assert_eq!(report.suppressed, 1);
    assert_eq!(report.new.len(), 1);
    assert_eq!(report.new[0].release.product, "api");
    let web = catalog.findings("web", "1.0.0").unwrap();
    assert_eq!(web.len(), 1);
    assert_eq!(web[0].vex.as_deref(), Some("not_affected"));
    assert_eq!(catalog.findings("api", "1.0.0").unwrap()[0].vex, None);
}

fn a_schema_from_a_newer_build_is_refused(f: &dyn Fixture) {
    let mut catalog = f.open();
    add(&mut catalog, "web", "1.0.0", &[gin()], &[]);
    drop(catalog);
    // Opening again is idempotent.
    assert_eq!(f.open().len().unwrap(), 1);
    let mut raw = f.raw();
    raw.batch("BEGIN").unwrap();
    raw.set_schema_version(99).unwrap();
    raw.batch("COMMIT").unwrap();
    let err = Catalog::with_backend(raw).unwrap_err();
    assert!(
        matches!(
            err,
            Error::SchemaTooNew {
                found: 99,
                supported: 5
            }
        ),
        "{err}"
    );
}

fn a_corrupt_row_is_an_error_not_a_panic(f: &dyn Fixture) {
    let advisories = Advisories::new(&["GO-2020-0001.json"]);
    let mut catalog = f.open();
    add(&mut catalog, "web", "1.0.0", &[gin()], &[]);
    f.raw()
        .batch("UPDATE releases SET artifacts = 'not a list'")
        .unwrap();
    let packs = custody_vuln::open_current(&advisories.tmp.path().join("db")).unwrap();
    let no_vex = |_: &str| Vec::new();
    let err = monitor(
        &mut catalog,
        &packs,
        &MonitorOptions {
            now: "2026-01-02T00:00:00Z",
            vex: &no_vex,
        },
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Corrupt {
                what: "artifact list",
                ..
            }
        ),
        "{err}"
    );
    // The failed run left nothing behind.
    assert!(catalog.findings("web", "1.0.0").unwrap().is_empty());
}

fn a_catalog_of_the_first_schema_is_migrated(f: &dyn Fixture) {
    let mut catalog = f.open();
    add(&mut catalog, "web", "1.0.0", &[gin()], &[]);
    drop(catalog);
    // What a build before the token tables left behind.
    let mut raw = f.raw();
    raw.batch("BEGIN").unwrap();
    raw.batch(
        "DROP TABLE tokens; DROP TABLE audit; DROP TABLE outbox; DROP TABLE webhooks;
         DROP INDEX findings_by_id; DROP INDEX releases_latest;
         ALTER TABLE packages DROP COLUMN license;
         ALTER TABLE findings DROP COLUMN severity; ALTER TABLE findings DROP COLUMN fixed;
         ALTER TABLE findings DROP COLUMN summary",
    )
    .unwrap();
    raw.set_schema_version(1).unwrap();
    raw.batch("COMMIT").unwrap();
    let mut catalog = f.open();
    assert_eq!(catalog.len().unwrap(), 1, "the releases are kept");
    assert!(catalog.tokens().unwrap().is_empty(), "the new tables exist");
    let components = catalog.components("web", "1.0.0").unwrap();
    assert_eq!(components[0].license, None, "the new columns exist");
    assert_eq!(f.raw().schema_version().unwrap(), 5);
}

fn token(id: &'static str, hash: &'static str) -> custody_catalog::NewToken<'static> {
    custody_catalog::NewToken {
        id,
        hash,
        product: Some("app"),
        scopes: &["publish", "read"],
        description: "ci for app",
        created: "2026-01-01T00:00:00Z",
        expires: Some("2026-04-01T00:00:00Z"),
    }
}

fn tokens_are_kept_by_hash_and_revoked_once(f: &dyn Fixture) {
    let mut catalog = f.open();
    catalog.add_token(&token("tok_a", "aa")).unwrap();
    catalog
        .add_token(&custody_catalog::NewToken {
            product: None,
            scopes: &["admin"],
            expires: None,
            ..token("tok_b", "bb")
        })
        .unwrap();
    // Hashes are unique: two tokens can never share a secret.
    assert!(catalog.add_token(&token("tok_c", "aa")).is_err());

    let a = catalog.token_by_hash("aa").unwrap().unwrap();
    assert_eq!(a.id, "tok_a");
    assert_eq!(a.product.as_deref(), Some("app"));
    assert_eq!(a.scopes, ["publish", "read"]);
    assert_eq!(a.expires.as_deref(), Some("2026-04-01T00:00:00Z"));
    assert_eq!(a.revoked, None);
    assert!(catalog.token_by_hash("cc").unwrap().is_none());
    let all = f.open().tokens().unwrap();
    assert_eq!(
        all.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(),
        ["tok_a", "tok_b"]
    );
    assert_eq!(all[1].product, None);

    assert!(
        catalog
            .revoke_token("tok_a", "2026-02-01T00:00:00Z")
            .unwrap()
    );
    assert!(
        catalog
            .revoke_token("tok_a", "2026-03-01T00:00:00Z")
            .unwrap()
    );
    assert!(
        !catalog
            .revoke_token("tok_x", "2026-03-01T00:00:00Z")
            .unwrap()
    );
    let a = catalog.token_by_hash("aa").unwrap().unwrap();
    assert_eq!(
        a.revoked.as_deref(),
        Some("2026-02-01T00:00:00Z"),
        "the first revocation holds"
    );
}

fn the_audit_log_is_appended_in_order_by_every_frontend(f: &dyn Fixture) {
    let record = |client: &'static str| custody_catalog::NewAuditRecord {
        time: "2026-01-01T00:00:00Z",
        token: Some("tok_a"),
        action: "publish",
        target: "app/1.0.0",
        client,
        outcome: "ok",
    };
    let mut catalogs: Vec<Catalog> = (0..4).map(|_| f.open()).collect();
    let seqs: Vec<i64> = std::thread::scope(|s| {
        let handles: Vec<_> = catalogs
            .iter_mut()
            .map(|c| {
                s.spawn(move || {
                    (0..10)
                        .map(|_| c.append_audit(&record("127.0.0.1")).unwrap())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let mut sorted = seqs.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), 40, "every append has its own position");

    let mut catalog = f.open();
    let refused = catalog
        .append_audit(&custody_catalog::NewAuditRecord {
            token: None,
            outcome: "refused: unknown token",
            ..record("10.0.0.7")
        })
        .unwrap();
    assert!(refused > sorted[39]);
    let first = catalog.audit_log(0, 25).unwrap();
    assert_eq!(first.len(), 25);
    assert!(first.windows(2).all(|w| w[0].seq < w[1].seq));
    let rest = catalog.audit_log(first[24].seq, 100).unwrap();
    assert_eq!(rest.len(), 16);
    let last = rest.last().unwrap();
    assert_eq!(last.seq, refused);
    assert_eq!(last.token, None);
    assert_eq!(last.client, "10.0.0.7");
    assert_eq!(last.outcome, "refused: unknown token");
}

fn webhook_events_are_queued_with_the_news_they_announce(f: &dyn Fixture) {
    let advisories = Advisories::new(&["GO-2020-0001.json"]);
    let mut catalog = f.open();
    add(&mut catalog, "web", "1.0.0", &[gin()], &[]);
    let packs = custody_vuln::open_current(&advisories.tmp.path().join("db")).unwrap();
    let no_vex = |_: &str| Vec::new();
    let options = MonitorOptions {
        now: "2026-01-02T00:00:00Z",
        vex: &no_vex,
    };
    let event = |id: &str| custody_catalog::NewDelivery {
        id: id.to_owned(),
        url: "https://hooks.example.com/custody".to_owned(),
        secret: custody_catalog::SecretRef::Env("HOOK_SECRET".to_owned()),
        body: format!(r#"{{"id": "{id}"}}"#),
    };
    // A run whose notices fail queues nothing; one that commits queues its events with it.
    let failed = custody_catalog::monitor_then(&mut catalog, &packs, &options, |_| {
        Err::<((), Vec<custody_catalog::NewDelivery>), _>("no notice")
    })
    .unwrap();
    assert!(failed.is_err());
    let now = "2026-01-02T00:00:00Z";
    assert!(catalog.due_deliveries(now, 10).unwrap().is_empty());
    custody_catalog::monitor_then(&mut catalog, &packs, &options, |report| {
        assert_eq!(report.new.len(), 1);
        Ok::<_, std::convert::Infallible>(((), vec![event("evt_1")]))
    })
    .unwrap()
    .unwrap();
    let due = f.open().due_deliveries(now, 10).unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].id, "evt_1");
    assert_eq!(due[0].attempts, 0);

    // A failed attempt waits for its retry time; an acknowledged one is done.
    catalog
        .delivery_failed("evt_1", "503", "2026-01-02T00:05:00Z")
        .unwrap();
    assert!(catalog.due_deliveries(now, 10).unwrap().is_empty());
    let later = catalog.due_deliveries("2026-01-02T00:05:00Z", 10).unwrap();
    assert_eq!(later[0].attempts, 1);
    catalog.delivered("evt_1", "2026-01-02T00:05:01Z").unwrap();
    // An event that can never be sent is kept and never due again.
    custody_catalog::monitor_then(&mut catalog, &packs, &options, |_| {
        Ok::<_, std::convert::Infallible>(((), vec![event("evt_2")]))
    })
    .unwrap()
    .unwrap();
    catalog
        .abandon_delivery("evt_2", "webhook removed")
        .unwrap();
    let kept = catalog.deliveries(10).unwrap();
    assert!(
        kept.iter()
            .any(|d| d.id == "evt_2" && d.last_error.as_deref() == Some("webhook removed"))
    );
    assert!(
        catalog
            .due_deliveries("2026-01-03T00:00:00Z", 10)
            .unwrap()
            .is_empty()
    );
}

fn registered_webhooks_keep_their_secret_until_removed(f: &dyn Fixture) {
    let mut catalog = f.open();
    let hook = custody_catalog::Webhook {
        id: "whk_1".into(),
        url: "https://hooks.example.com/a".into(),
        private_ok: false,
        created: "2026-01-01T00:00:00Z".into(),
    };
    catalog.add_webhook(&hook, "s3cret").unwrap();
    assert_eq!(f.open().webhooks().unwrap(), std::slice::from_ref(&hook));
    assert_eq!(
        catalog.webhook_secret("whk_1").unwrap(),
        Some(("s3cret".to_owned(), false))
    );
    assert!(
        catalog
            .remove_webhook("whk_1", "2026-01-02T00:00:00Z")
            .unwrap()
    );
    assert!(
        !catalog
            .remove_webhook("whk_1", "2026-01-03T00:00:00Z")
            .unwrap()
    );
    assert!(catalog.webhooks().unwrap().is_empty());
    assert_eq!(catalog.webhook_secret("whk_1").unwrap(), None);
}

fn releases_and_components_are_listed(f: &dyn Fixture) {
    let mut catalog = f.open();
    add(&mut catalog, "web", "1.0.0", &[gin(), unrelated()], &[]);
    add(&mut catalog, "tool", "2.0.0", &[unrelated()], &[]);
    let all = catalog.releases(None, 10).unwrap();
    assert_eq!(all.len(), 2);
    let web = catalog.releases(Some("web"), 10).unwrap();
    assert_eq!(web.len(), 1);
    assert_eq!(web[0].version, "1.0.0");
    assert_eq!(web[0].artifacts, ["web-1.0.0.tgz"]);
    assert!(catalog.releases(Some("none"), 10).unwrap().is_empty());
    assert_eq!(catalog.releases(None, 1).unwrap().len(), 1);
    let components = catalog.components("web", "1.0.0").unwrap();
    let names: Vec<&str> = components.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["example.com/unrelated", "github.com/gin-gonic/gin"]);
    assert_eq!(components[0].ecosystem, "Go");
    assert!(catalog.components("web", "9.9.9").unwrap().is_empty());
}

fn products_findings_and_licences_are_read_back(f: &dyn Fixture) {
    let advisories = Advisories::new(&["GO-2020-0001.json"]);
    let mut catalog = f.open();
    let gin = gin().with_purl("pkg:golang/github.com/gin-gonic/gin@v1.5.0");
    add(
        &mut catalog,
        "web",
        "1.0.0",
        &[gin.clone(), unrelated()],
        &[],
    );
    add(&mut catalog, "tool", "2.0.0", &[unrelated()], &[]);
    advisories.run(&mut catalog, "2026-01-02T00:00:00Z");
    // The next web release ships the same gin.
    add(&mut catalog, "web", "1.1.0", &[gin], &[]);
    advisories.run(&mut catalog, "2026-01-03T00:00:00Z");

    let components = catalog.components("web", "1.0.0").unwrap();
    let licences: Vec<Option<&str>> = components.iter().map(|c| c.license.as_deref()).collect();
    assert_eq!(licences, [None, Some("MIT")], "{components:?}");

    let findings = catalog.findings("web", "1.0.0").unwrap();
    assert_eq!(findings.len(), 1);
    let found = &findings[0];
    assert_eq!(found.ecosystem, "Go");
    assert_eq!(found.severity.as_deref(), Some("unscored"));
    assert_eq!(found.fixed.as_deref(), Some("1.6.0"));
    assert_eq!(
        found.summary.as_deref(),
        Some("Arbitrary log line injection in github.com/gin-gonic/gin")
    );
    assert_eq!(found.first_seen, "2026-01-02T00:00:00Z");

    let products = catalog.products().unwrap();
    type Listed<'a> = (&'a str, i64, &'a str, Vec<(&'a str, i64)>);
    let summary: Vec<Listed<'_>> = products
        .iter()
        .map(|p| {
            (
                p.product.as_str(),
                p.releases,
                p.latest.as_str(),
                p.open.iter().map(|(k, v)| (k.as_str(), *v)).collect(),
            )
        })
        .collect();
    // Both web releases were added at the same instant: the later row is the latest.
    assert_eq!(
        summary,
        [
            ("tool", 1, "2.0.0", vec![]),
            ("web", 2, "1.1.0", vec![("unscored", 1)]),
        ]
    );

    let history = catalog.release_findings("web", 10).unwrap();
    let versions: Vec<&str> = history.iter().map(|r| r.version.as_str()).collect();
    assert_eq!(versions, ["1.1.0", "1.0.0"]);
    assert_eq!(history[1].open.get("unscored"), Some(&1));
    assert_eq!(catalog.release_findings("web", 1).unwrap().len(), 1);
    assert!(catalog.release_findings("none", 10).unwrap().is_empty());

    let affected = catalog.affected_by("GO-2020-0001").unwrap();
    let hit: Vec<(&str, &str)> = affected
        .iter()
        .map(|a| (a.product.as_str(), a.version.as_str()))
        .collect();
    assert_eq!(hit, [("web", "1.1.0"), ("web", "1.0.0")]);
    assert_eq!(affected[0].package, "github.com/gin-gonic/gin");
    assert!(catalog.affected_by("GO-0000-0000").unwrap().is_empty());

    assert_eq!(catalog.sbom("web", "1.0.0").unwrap().as_deref(), Some("{}"));
    assert_eq!(catalog.sbom("web", "9.9.9").unwrap(), None);
}
