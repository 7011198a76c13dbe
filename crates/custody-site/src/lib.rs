//! The release site on disk, `custody.toml`, and the release and verify workflows over files.
//!
//! Design: this is the I/O edge around the pure crates. `custody-attest` builds and checks
//! documents from bytes; this crate reads config and git, copies and hashes artifacts, writes
//! the site durably (temp file, fsync, rename) and immutably (a version directory appears whole,
//! once), and reads verification inputs with size limits.
//!
//! ```no_run
//! use custody_site::site::Site;
//! let site = Site::new("site");
//! let policy = site.policy()?;
//! println!("{} trusted key(s)", policy.keys.len());
//! # Ok::<(), custody_site::Error>(())
//! ```

pub mod cache;
pub mod config;
mod error;
pub mod fs;
pub mod git;
pub mod log;
pub mod site;
pub mod tuf;
pub mod verify;

pub use error::Error;
