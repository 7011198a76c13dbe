//! The catalog over TLS to a real PostgreSQL serving a certificate from a throwaway CA
//! (`scripts/postgres.sh` with `PG_TLS=1`): verified when the URL asks for TLS, refused when
//! the certificate does not chain to the root it names, and never plain when TLS is required.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support {
    pub mod postgres;
}

use std::path::Path;

use custody_catalog::backend::{self, Backend, Value};
use custody_catalog::{Catalog, WriterLock};

/// Whether the connection is TLS, as the server sees it.
fn over_tls(connection: &mut dyn Backend) -> bool {
    let rows = connection
        .query(
            "SELECT count(*) FROM pg_stat_ssl WHERE pid = pg_backend_pid() AND ssl",
            &[],
        )
        .unwrap();
    rows == [vec![Value::Int(1)]]
}

/// The error and its sources, as the CLI prints them.
fn chain(err: &dyn std::error::Error) -> String {
    let mut parts = vec![err.to_string()];
    let mut next = err.source();
    while let Some(e) = next {
        parts.push(e.to_string());
        next = e.source();
    }
    parts.join(": ")
}

fn with_tls(url: &str, mode: &str, root: Option<&Path>) -> String {
    match root {
        Some(root) => format!("{url}?sslmode={mode}&sslrootcert={}", root.display()),
        None => format!("{url}?sslmode={mode}"),
    }
}

#[test]
fn a_catalog_asked_for_tls_gets_it_verified() {
    let Some(cluster) = support::postgres::Postgres::start_tls() else {
        return;
    };
    let url = cluster.database("custody");
    let (ca, _) = cluster.ca();
    for mode in ["require", "verify-ca", "verify-full"] {
        let tls = with_tls(&url, mode, Some(&ca));
        let mut connection = backend::Postgres::connect(&tls).unwrap();
        assert!(over_tls(&mut connection), "sslmode={mode} is TLS");
        Catalog::at(&tls).unwrap();
        let lock = WriterLock::take(&tls, "releases.example.com/log", &mut || {
            panic!("nobody holds it")
        })
        .unwrap();
        assert!(lock.is_held());
    }
    // Not asked: plain, as on loopback.
    let mut plain = backend::Postgres::connect(&url).unwrap();
    assert!(!over_tls(&mut plain));
}

#[test]
fn a_certificate_that_does_not_chain_to_the_named_root_is_refused() {
    let Some(cluster) = support::postgres::Postgres::start_tls() else {
        return;
    };
    let url = cluster.database("custody");
    let (_, other) = cluster.ca();
    for root in [Some(other.as_path()), None] {
        // Another CA, or (no root named) the web PKI's roots: neither issued the certificate.
        let err = Catalog::at(&with_tls(&url, "verify-full", root)).unwrap_err();
        let message = chain(&err);
        assert!(
            message.contains("TLS handshake") && message.contains("UnknownIssuer"),
            "{message}"
        );
    }
}

#[test]
fn a_server_without_tls_is_refused_when_tls_is_required() {
    let Some(cluster) = support::postgres::Postgres::start() else {
        return;
    };
    let url = cluster.database("custody");
    let err = backend::Postgres::connect(&with_tls(&url, "require", None)).unwrap_err();
    assert!(err.to_string().contains("TLS"), "{err}");
}

#[test]
fn a_root_file_that_is_not_pem_is_named_in_the_error() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("ca.pem");
    std::fs::write(&root, "not a certificate\n").unwrap();
    let (url, _) = support::postgres::unreachable();
    let err = backend::Postgres::connect(&with_tls(&url, "verify-full", Some(&root))).unwrap_err();
    assert!(
        matches!(err, backend::BackendError::NoRootCertificate { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("ca.pem"), "{err}");
}
