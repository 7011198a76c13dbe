//! `[log] store`: the site's log written to an S3-compatible bucket (feature `s3`), against a
//! real server on loopback (moto's `moto_server`, from PyPI `moto[server]`); without the
//! feature, a clear error saying how to rebuild.
//!
//! The server is started on a free port and stopped by the test. Without `moto_server` on
//! PATH (or `MOTO_SERVER`) the S3 test is skipped, except under CI, where it fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use custody_site::Error;
use custody_site::log::open_store;

/// The error opening `store` for a site in a fresh directory.
fn open_err(store: &str) -> Error {
    let site = tempfile::tempdir().unwrap();
    match open_store(site.path(), &site.path().join(".staging"), Some(store), &[]) {
        Ok(_) => panic!("{store} opened"),
        Err(e) => e,
    }
}

#[test]
fn other_schemes_are_refused() {
    let err = open_err("gs://bucket/log");
    assert!(matches!(err, Error::BadLogStore { .. }), "{err}");
    assert!(err.to_string().contains("s3://bucket/prefix"), "{err}");
}

#[cfg(not(feature = "s3"))]
#[test]
fn s3_store_without_the_feature_says_how_to_rebuild() {
    let err = open_err("s3://bucket/log");
    assert!(matches!(err, Error::LogStoreNeedsS3 { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains(
            "this custody was built without S3 support; rebuild with `cargo build --features s3`"
        ),
        "{msg}"
    );
}

#[cfg(feature = "s3")]
#[path = "../../custody-tlog/tests/support/moto.rs"]
mod moto;

#[cfg(feature = "s3")]
mod s3 {
    use custody_crypto::{KeyAlgorithm, Signer as _, SigningKey};
    use custody_site::config::{CONFIG_FILE, Loaded};
    use custody_site::log::{LOG_DIR, Log, Record, VKEY_FILE, note_verifier, open_store};
    use custody_tlog::TileStore as _;
    use custody_tlog::s3::ObjectTileStore;

    use super::moto::{request, start_moto};

    #[test]
    fn configured_s3_store_holds_the_log() {
        let Some(moto) = start_moto() else { return };
        let head = request(moto.port, "PUT", "/custody-site").unwrap();
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        let endpoint = format!("http://127.0.0.1:{}", moto.port);
        let env = [
            ("AWS_ENDPOINT_URL", endpoint.as_str()),
            ("AWS_ALLOW_HTTP", "true"),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
        ];

        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(CONFIG_FILE),
            "[log]\norigin = 'example.com/log'\nkey = 'k'\nstate = 'state'\n\
             store = 's3://custody-site/prod/log'\n",
        )
        .unwrap();
        let loaded = Loaded::from_dir(dir.path()).unwrap();
        let key: std::sync::Arc<dyn custody_crypto::Signer> =
            std::sync::Arc::new(SigningKey::generate(KeyAlgorithm::Ed25519).unwrap());
        let origin = loaded.config.log.origin.clone();
        let open = || {
            let store = open_store(
                &loaded.site_dir(),
                &loaded.log_staging_dir(),
                loaded.config.log.store.as_deref(),
                &env,
            )
            .unwrap();
            Log::open(store, &loaded.log_state_dir(), &origin, key.clone()).unwrap()
        };

        let mut log = open();
        let records: Vec<Record> = (0..3u8)
            .map(|i| Record {
                body: format!("entry {i}").into_bytes(),
                artifact: Some([i; 32]),
            })
            .collect();
        let entries = log.record(&records).unwrap();
        assert_eq!(entries.len(), 3);
        assert_eq!(log.lookup(&[1; 32]), &[1]);
        drop(log);

        // The bucket holds the whole log, vkey included; the site directory none of it.
        let bucket = ObjectTileStore::from_s3_url_with("s3://custody-site/prod/log", &env).unwrap();
        let checkpoint = String::from_utf8(bucket.get("checkpoint").unwrap().unwrap()).unwrap();
        assert!(
            checkpoint.starts_with("example.com/log\n3\n"),
            "{checkpoint}"
        );
        assert!(bucket.get("tile/0/000.p/3").unwrap().is_some());
        assert!(bucket.get("tile/entries/000.p/3").unwrap().is_some());
        let vkey = note_verifier(&origin, key.public_key())
            .unwrap()
            .to_vkey_string();
        assert_eq!(
            bucket.get(VKEY_FILE).unwrap().unwrap(),
            format!("{vkey}\n").into_bytes()
        );
        assert!(!loaded.site_dir().join(LOG_DIR).join("checkpoint").exists());

        // Reopened from the bucket, the log carries on where it stopped and proves from there.
        let mut log = open();
        assert_eq!(log.size(), 3);
        log.record(&records[..1]).unwrap();
        assert_eq!(log.size(), 4);
        log.sequencer().prove(2).unwrap();
        let checkpoint = String::from_utf8(bucket.get("checkpoint").unwrap().unwrap()).unwrap();
        assert!(
            checkpoint.starts_with("example.com/log\n4\n"),
            "{checkpoint}"
        );
    }
}
