//! Connecting to PostgreSQL, over TLS when the URL asks for it.
//!
//! The URL is libpq's (`postgres://user:password@host/db?sslmode=...` or `host=... user=...`).
//! With `sslmode=require`, `verify-ca` or `verify-full` the connection is TLS, and always
//! verified: the server's certificate chain and name, against the PEM file that `sslrootcert`
//! names or, without one, the web PKI's roots (stricter than libpq's `require`, which checks
//! nothing without a root file). Without `sslmode`, or with `prefer` or `disable`, it is plain
//! TCP, as on loopback or a private network: custody never makes a TLS connection it does not
//! verify, and `prefer` would otherwise meet Debian's default cluster and its self-signed
//! certificate. rust-postgres reads neither `sslrootcert` nor the `verify-*` modes, so they are
//! taken out of the URL here.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use crate::error::BackendError;

/// A client connected to `url`.
pub(crate) fn connect(url: &str) -> Result<postgres::Client, BackendError> {
    let (url, root) = libpq_options(url);
    let mut config: postgres::Config = url.parse()?;
    if config.get_ssl_mode() == postgres::config::SslMode::Require {
        let tls = tokio_postgres_rustls::MakeRustlsConnect::new(client_config(root.as_deref())?);
        Ok(config.connect(tls)?)
    } else {
        config.ssl_mode(postgres::config::SslMode::Disable);
        Ok(config.connect(postgres::NoTls)?)
    }
}

/// `url` without the options rust-postgres does not read, and the `sslrootcert` it named.
fn libpq_options(url: &str) -> (String, Option<PathBuf>) {
    let mut root = None;
    let is_url = url.contains("://");
    let mut keep = |option: &str| -> Option<String> {
        let (key, value) = option.split_once('=')?;
        match (key.trim(), value.trim()) {
            ("sslrootcert", path) => {
                let path = path.trim_matches('\'');
                root = Some(PathBuf::from(if is_url {
                    percent_encoding::percent_decode_str(path)
                        .decode_utf8_lossy()
                        .into_owned()
                } else {
                    path.to_owned()
                }));
                None
            }
            ("sslmode", "verify-ca" | "verify-full" | "'verify-ca'" | "'verify-full'") => {
                Some(format!("{key}=require"))
            }
            _ => Some(option.to_owned()),
        }
    };
    let rebuilt = if is_url {
        match url.split_once('?') {
            Some((base, query)) => {
                let kept: Vec<String> = query.split('&').filter_map(&mut keep).collect();
                if kept.is_empty() {
                    base.to_owned()
                } else {
                    format!("{base}?{}", kept.join("&"))
                }
            }
            None => url.to_owned(),
        }
    } else {
        url.split_whitespace()
            .filter_map(&mut keep)
            .collect::<Vec<_>>()
            .join(" ")
    };
    (rebuilt, root)
}

/// TLS that verifies the server against `root` (a PEM file) or the web PKI's roots.
fn client_config(root: Option<&Path>) -> Result<rustls::ClientConfig, BackendError> {
    let mut roots = rustls::RootCertStore::empty();
    match root {
        Some(path) => {
            let certificates = CertificateDer::pem_file_iter(path)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|source| BackendError::RootCertificates {
                    path: path.to_owned(),
                    source,
                })?;
            let (added, _ignored) = roots.add_parsable_certificates(certificates);
            if added == 0 {
                return Err(BackendError::NoRootCertificate {
                    path: path.to_owned(),
                });
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libpq_options_rust_postgres_lacks_are_taken_out() {
        assert_eq!(
            libpq_options("postgres://u@db/c?sslmode=verify-full&sslrootcert=/etc/ca.pem"),
            (
                "postgres://u@db/c?sslmode=require".to_owned(),
                Some(PathBuf::from("/etc/ca.pem"))
            )
        );
        assert_eq!(
            libpq_options("postgres://u@db/c?sslrootcert=/ca.pem"),
            (
                "postgres://u@db/c".to_owned(),
                Some(PathBuf::from("/ca.pem"))
            )
        );
        assert_eq!(
            libpq_options("host=db user=u sslmode=verify-ca sslrootcert='/ca.pem'"),
            (
                "host=db user=u sslmode=require".to_owned(),
                Some(PathBuf::from("/ca.pem"))
            )
        );
        assert_eq!(
            libpq_options("postgres://u@db/c?sslrootcert=/etc/our%20ca.pem&sslmode=require"),
            (
                "postgres://u@db/c?sslmode=require".to_owned(),
                Some(PathBuf::from("/etc/our ca.pem"))
            )
        );
        assert_eq!(
            libpq_options("postgres://u:p@db:5432/c?sslmode=disable"),
            ("postgres://u:p@db:5432/c?sslmode=disable".to_owned(), None)
        );
    }

    #[test]
    fn a_root_file_without_certificates_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let empty = tmp.path().join("empty.pem");
        std::fs::write(&empty, "no certificate here\n").unwrap();
        assert!(matches!(
            client_config(Some(&empty)),
            Err(BackendError::NoRootCertificate { .. })
        ));
        let missing = tmp.path().join("missing.pem");
        assert!(matches!(
            client_config(Some(&missing)),
            Err(BackendError::RootCertificates { .. })
        ));
    }
}
