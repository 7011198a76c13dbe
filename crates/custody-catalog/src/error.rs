//! The crate's one error type.

use std::path::PathBuf;

/// What can go wrong with the catalog or a monitor run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The catalog could not be opened, created or brought up to date.
    #[error("{location}: cannot open the catalog: {source}")]
    Open {
        /// The catalog file, or its database URL without the password.
        location: String,
        /// The database's account.
        #[source]
        source: BackendError,
    },
    /// The writer lock on a PostgreSQL catalog could not be taken or held.
    #[error("cannot take the writer lock: {source}")]
    WriterLock {
        /// The database URL without the password.
        location: String,
        /// The database's account.
        #[source]
        source: BackendError,
    },
    /// A catalog query failed.
    #[error("catalog {what}: {source}")]
    Query {
        /// What was being done.
        what: &'static str,
        /// The database's account.
        #[source]
        source: BackendError,
    },
    /// A stored value was not of the kind the catalog writes there.
    #[error("catalog {what} is corrupt: column {index} is not {expected}")]
    Column {
        /// Which data.
        what: &'static str,
        /// The column's position in the query.
        index: usize,
        /// What it should have held.
        expected: &'static str,
    },
    /// The catalog was written by a newer build.
    #[error("catalog schema version {found}, this build knows up to {supported}")]
    SchemaTooNew {
        /// The version in the file.
        found: i64,
        /// The newest this build reads.
        supported: i64,
    },
    /// A stored row did not decode.
    #[error("catalog {what} is corrupt: {source}")]
    Corrupt {
        /// Which data.
        what: &'static str,
        /// The decoder's account.
        #[source]
        source: serde_json::Error,
    },
    /// The advisory database could not be read.
    #[error(transparent)]
    Advisories(#[from] custody_vuln::Error),
}

/// What a database driver said.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackendError {
    /// SQLite's account.
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL's account.
    #[error(transparent)]
    Postgres(#[from] postgres::Error),
    /// The `sslrootcert` file could not be read as PEM.
    #[error("sslrootcert {}: {source}", path.display())]
    RootCertificates {
        /// The file.
        path: PathBuf,
        /// Why.
        source: rustls::pki_types::pem::Error,
    },
    /// The `sslrootcert` file holds no certificate rustls can use.
    #[error("sslrootcert {}: no X.509 certificate in it", path.display())]
    NoRootCertificate {
        /// The file.
        path: PathBuf,
    },
    /// TLS could not be set up.
    #[error("TLS: {0}")]
    Tls(#[from] rustls::Error),
    /// A column of a type the catalog never writes.
    #[error("column {index} has type {found}, which the catalog does not use")]
    ColumnType {
        /// The column's position.
        index: usize,
        /// The type the database reported.
        found: String,
    },
}
