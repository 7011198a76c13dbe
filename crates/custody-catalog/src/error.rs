//! The crate's one error type.

use std::path::PathBuf;

/// What can go wrong with the catalog or a monitor run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The catalog file could not be opened or created.
    #[error("{path}: cannot open the catalog: {source}")]
    Open {
        /// The catalog file.
        path: PathBuf,
        /// SQLite's account.
        #[source]
        source: rusqlite::Error,
    },
    /// A catalog query failed.
    #[error("catalog {what}: {source}")]
    Sql {
        /// What was being done.
        what: &'static str,
        /// SQLite's account.
        #[source]
        source: rusqlite::Error,
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

/// `map_err` helper naming the query.
pub(crate) fn sql(what: &'static str) -> impl FnOnce(rusqlite::Error) -> Error {
    move |source| Error::Sql { what, source }
}
