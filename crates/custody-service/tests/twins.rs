//! The service run end to end on its in-memory twins: keys in memory (`MemoryKeys`), HTTP that
//! records what is posted (`MemoryTransport`), a stopped clock (`FixedClock`) and recorded
//! events (`Recorded`). A project is set up, a release passes the gate, an advisory import then
//! makes the monitor tell the customer (a signed notice, an HMAC-signed webhook event), and the
//! next release of the same vulnerable lockfile is refused before anything is written.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use custody_service::Error;
use custody_service::advisories::{ImportFrom, import};
use custody_service::env::{FixedClock, MemoryKeys, Recorded};
use custody_service::monitor::{MonitorEnv, MonitorRequest, hmac_signature};
use custody_service::project::InitRequest;
use custody_service::release::{ReleaseEnv, ReleaseRequest};
use custody_service::transport::{MemoryTransport, Transport};
use custody_site::config::Loaded;

/// smallvec 0.6.13: RUSTSEC-2021-0003 (critical) in the crates.io snapshot.
const LOCK: &str = r#"version = 3

[[package]]
name = "app"
version = "0.1.0"
dependencies = ["smallvec"]

[[package]]
name = "smallvec"
version = "0.6.13"
source = "registry+https://github.com/rust-lang/crates.io-index"
"#;

const HOOK: &str = "https://hooks.example/custody";

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}: {out:?}");
}

fn advisories(ecosystem: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/advisories")
        .join(ecosystem)
}

#[test]
fn release_gate_monitor_and_webhooks_on_the_twins() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("project");
    std::fs::create_dir_all(dir.join("dist")).unwrap();
    git(&dir, &["init", "-q"]);
    git(&dir, &["config", "user.email", "t@example.com"]);
    git(&dir, &["config", "user.name", "t"]);
    std::fs::write(dir.join("Cargo.lock"), LOCK).unwrap();
    std::fs::write(dir.join("dist/app.tar.gz"), b"app bytes").unwrap();
    git(&dir, &["add", "."]);
    git(&dir, &["commit", "-qm", "app"]);

    let keys = MemoryKeys::new();
    let clock = FixedClock(jiff::Timestamp::now());
    let events = Recorded::default();
    custody_service::project::init(&dir, &InitRequest::default(), &keys, &clock, &events).unwrap();
    // The webhook's secret is named, never written, in custody.toml.
    let config = dir.join("custody.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "\n[[monitor.webhooks]]\nurl = \"{HOOK}\"\nsecret_env = \"HOOK_SECRET\"\n"
    ));
    std::fs::write(&config, text).unwrap();
    let loaded = Loaded::from_dir(&dir).unwrap();

    // Only Go advisories at first: nothing names smallvec, so the gate lets 1.0.0 out.
    let transport = MemoryTransport::new();
    let db = loaded.vulndb_dir();
    import(
        &db,
        &ImportFrom::Path(advisories("Go")),
        None,
        &transport,
        &events,
    )
    .unwrap();
    let release = |version: &str| ReleaseRequest {
        product: "app".into(),
        version: version.into(),
        artifacts: vec![dir.join("dist/app.tar.gz")],
        allow_dirty: true,
        sbom: Some(dir.join("Cargo.lock")),
        skip_scan: None,
        source: None,
        insecure_shared_key: false,
    };
    let release_env = ReleaseEnv {
        keys: &keys,
        transport: Arc::new(transport.clone()) as Arc<dyn Transport>,
        clock: &clock,
        events: &events,
        catalog: None,
    };
    let released =
        custody_service::release::release(&loaded, &release("1.0.0"), &release_env).unwrap();
    assert_eq!(released.release.artifacts.len(), 1);
    assert!(released.scan.as_ref().is_some_and(|s| s.scanned));
    assert!(
        released
            .release
            .dir
            .join("app.tar.gz.sigstore.json")
            .is_file()
    );

    // The crates.io advisories arrive: the monitor finds smallvec in the shipped 1.0.0.
    import(
        &db,
        &ImportFrom::Path(advisories("crates.io")),
        None,
        &transport,
        &events,
    )
    .unwrap();
    let secrets: BTreeMap<String, Vec<u8>> =
        BTreeMap::from([("HOOK_SECRET".to_owned(), b"hook secret".to_vec())]);
    let shared: Arc<dyn Transport> = Arc::new(transport.clone());
    let monitor_env = MonitorEnv {
        keys: &keys,
        transport: &shared,
        secrets: &secrets,
        clock: &clock,
        events: &events,
    };
    // The receiver is down at first: the event waits in the outbox.
    transport.answer_posts_with(503);
    let monitored =
        custody_service::monitor::run(&loaded, &MonitorRequest::default(), monitor_env).unwrap();
    assert!(!monitored.ok);
    assert_eq!(monitored.webhooks.len(), 1);
    assert!(!monitored.webhooks[0].ok);
    assert!(
        monitored
            .new_findings
            .iter()
            .any(|f| f.id == "RUSTSEC-2021-0003" && f.version == "1.0.0"),
        "{:?}",
        monitored.new_findings
    );
    assert_eq!(monitored.notices.len(), 1);
    let notice = &monitored.notices[0];
    assert!(notice.is_file());
    assert!(
        PathBuf::from(format!("{}.sigstore.json", notice.display())).is_file(),
        "the notice is signed"
    );

    // One event posted, its signature the HMAC of exactly the body sent.
    let posted = transport.posted();
    assert_eq!(posted.len(), 1);
    assert_eq!(posted[0].url, HOOK);
    let signature = posted[0]
        .headers
        .iter()
        .find(|(k, _)| k == "X-Custody-Signature")
        .map(|(_, v)| v.clone())
        .unwrap();
    assert_eq!(signature, hmac_signature(b"hook secret", &posted[0].body));
    assert_ne!(
        signature,
        hmac_signature(b"another secret", &posted[0].body)
    );
    let event: serde_json::Value = serde_json::from_slice(&posted[0].body).unwrap();
    assert_eq!(event["version"], "1.0.0");
    let delivery = |p: &custody_service::transport::Posted| {
        p.headers
            .iter()
            .find(|(k, _)| k == "X-Custody-Delivery")
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    assert_eq!(delivery(&posted[0]), event["id"].as_str().unwrap());

    // Nothing changed since: nothing new, and the failed event is not due again yet.
    let again =
        custody_service::monitor::run(&loaded, &MonitorRequest::default(), monitor_env).unwrap();
    assert!(again.new_findings.is_empty());
    assert!(again.webhooks.is_empty());
    assert_eq!(transport.posted().len(), 1);

    // Half a minute later, with the receiver back: the same event, with the same id, once.
    transport.answer_posts_with(200);
    let later = FixedClock(clock.0 + jiff::SignedDuration::from_secs(31));
    let later_env = MonitorEnv {
        clock: &later,
        ..monitor_env
    };
    let retried =
        custody_service::monitor::run(&loaded, &MonitorRequest::default(), later_env).unwrap();
    assert!(retried.ok);
    assert!(retried.new_findings.is_empty());
    let posted = transport.posted();
    assert_eq!(posted.len(), 2);
    assert_eq!(delivery(&posted[1]), delivery(&posted[0]));
    assert_eq!(posted[1].body, posted[0].body);
    let done =
        custody_service::monitor::run(&loaded, &MonitorRequest::default(), later_env).unwrap();
    assert!(done.webhooks.is_empty());
    assert_eq!(transport.posted().len(), 2);

    // The same lockfile again: the gate refuses 1.1.0 before anything is written.
    let err =
        custody_service::release::release(&loaded, &release("1.1.0"), &release_env).unwrap_err();
    match &err {
        Error::GateRefused { blocking, .. } => assert!(
            blocking
                .iter()
                .any(|b| b.assessed.finding.id == "RUSTSEC-2021-0003"),
            "{err}"
        ),
        other => panic!("expected the gate to refuse, got {other}"),
    }
    assert_eq!(err.kind(), custody_service::ErrorKind::Refused);
    assert!(!loaded.site_dir().join("releases/app/1.1.0").exists());

    // The dirty tree was allowed, and said so.
    assert!(
        events
            .warnings()
            .iter()
            .any(|w| w.contains("uncommitted changes")),
        "{:?}",
        events.warnings()
    );
}

/// Refusals that come before anything is written, on the twins.
#[test]
fn bad_requests_are_refused_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("project");
    std::fs::create_dir_all(&dir).unwrap();
    git(&dir, &["init", "-q"]);
    let keys = MemoryKeys::new();
    let clock = FixedClock(jiff::Timestamp::now());
    let events = Recorded::default();
    custody_service::project::init(&dir, &InitRequest::default(), &keys, &clock, &events).unwrap();
    let loaded = Loaded::from_dir(&dir).unwrap();

    // No TUF repository yet: refresh says so; an impossible root threshold creates nothing.
    let err = custody_service::repo::refresh(&loaded, false, &keys, &clock).unwrap_err();
    assert!(matches!(err, Error::NoRepository { .. }), "{err}");
    let repo_init = |root_keys, threshold| {
        custody_service::repo::init(
            &loaded,
            root_keys,
            threshold,
            custody_crypto::KeyAlgorithm::Ed25519,
            &keys,
            &clock,
        )
    };
    let err = repo_init(2, 3).unwrap_err();
    assert!(
        matches!(
            err,
            Error::RootThreshold {
                threshold: 3,
                keys: 2
            }
        ),
        "{err}"
    );
    assert!(!loaded.tuf_dir().exists());
    repo_init(1, 1).unwrap();
    let err = repo_init(1, 1).unwrap_err();
    assert!(matches!(err, Error::RepositoryExists { .. }), "{err}");
    assert_eq!(err.kind(), custody_service::ErrorKind::Input);

    // A digest that is not one, and a log directory that does not exist.
    let err = custody_service::log::parse_digest("sha256:xyz").unwrap_err();
    assert!(matches!(err, Error::BadDigest { .. }), "{err}");
    let missing = tmp.path().join("no-such-log");
    let witness = custody_tlog::NoteSigner::generate(
        "witness.example",
        custody_tlog::SignatureType::CosignatureV1,
    )
    .unwrap();
    let verifier = custody_service::log::parse_vkey(
        &std::fs::read_to_string(loaded.site_dir().join("log/vkey")).unwrap(),
        "vkey",
    )
    .unwrap();
    let err = custody_service::log::cosign(
        missing.to_str().unwrap(),
        &verifier,
        &witness,
        &tmp.path().join("state"),
        &(Arc::new(MemoryTransport::new()) as Arc<dyn Transport>),
        &clock,
    )
    .unwrap_err();
    assert!(matches!(err, Error::NotALogDirectory { .. }), "{err}");
    // Before any release the log has no checkpoint to read: said, not an empty answer.
    let err = custody_service::log::LogReader::open(&loaded).unwrap_err();
    assert!(matches!(err, Error::LogFileMissing { .. }), "{err}");
}
