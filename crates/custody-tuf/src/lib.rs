//! TUF 1.0 for custody: metadata types, the client workflow and a repository editor.
//!
//! The verification core ([`trusted::TrustedMetadata`]) is pure and takes the time from its
//! caller; [`updater::Updater`] drives it over small [`updater::Fetcher`] and
//! [`updater::Store`] traits. Nothing here opens a socket: the HTTP fetcher lives in the CLI.

pub mod error;
pub mod key;
pub mod metadata;
pub mod repo;
pub mod trusted;
pub mod updater;

pub use error::{Error, Result};
pub use key::Key;
pub use metadata::{
    DelegatedRole, Delegations, MetaFile, Metadata, Role, Root, Signature, Signed, Snapshot,
    SuccinctRoles, TargetFile, Targets, Timestamp,
};
pub use trusted::TrustedMetadata;
pub use updater::{Config, DirStore, Fetcher, FileFetcher, MemoryStore, Store, Updater};
