//! custody-service: the operations custody performs, written once and used by both adapters,
//! the `custody` CLI and `custody serve`.
//!
//! # Design
//! - An adapter parses its input, calls one function here per command or route, and prints or
//!   responds; it holds no domain logic. Release ([`release::release`]), the release gate
//!   ([`gate::check`]), scanning ([`scan::scan_sbom`]), advisory import and status
//!   ([`advisories`]) and monitoring ([`monitor::run`]) live here.
//! - The world is reached only through small traits: [`transport::Transport`] for HTTP,
//!   [`env::KeySource`] for signing keys, [`env::Secrets`] for webhook secrets,
//!   [`env::Clock`] for the time and [`env::Events`] for progress. Each has a real backend and
//!   an in-memory twin ([`transport::MemoryTransport`], [`env::FixedClock`],
//!   [`env::Recorded`]) that the tests use.
//! - One error enum, [`Error`]; [`Error::kind`] is the one place that says what kind of
//!   failure each is, for exit codes and HTTP statuses alike.
//!
//! # Example
//! The gate refuses a release whose lockfile pins a vulnerable package, before anything is
//! signed:
//! ```
//! use custody_service::advisories::{ImportFrom, import};
//! use custody_service::env::{FixedClock, Silent};
//! use custody_service::gate::{GateRequest, check};
//! use custody_service::transport::MemoryTransport;
//! use custody_service::Error;
//!
//! let tmp = tempfile::tempdir()?;
//! let osv = tmp.path().join("osv");
//! std::fs::create_dir_all(&osv)?;
//! std::fs::write(osv.join("RUSTSEC-2021-0003.json"), r#"{"id": "RUSTSEC-2021-0003",
//!   "affected": [{"package": {"ecosystem": "crates.io", "name": "smallvec"},
//!   "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "1.6.1"}]}]}]}"#)?;
//! let db = tmp.path().join("db");
//! import(&db, &ImportFrom::Path(osv), None, &MemoryTransport::new(), &Silent)?;
//!
//! let lock = tmp.path().join("Cargo.lock");
//! std::fs::write(&lock, "version = 3\n\n[[package]]\nname = \"smallvec\"\nversion = \"1.6.0\"\n\
//!     source = \"registry+https://github.com/rust-lang/crates.io-index\"\n")?;
//! let sbom = custody_service::inputs::read_sbom(&lock)?;
//! let request = GateRequest {
//!     product: "app", version: "1.0.0", sbom: &sbom,
//!     fail_on: custody_vuln::report::FailOn::High,
//!     db: &db, vex_dir: &tmp.path().join("vex"), skip_scan: None,
//! };
//! let clock = FixedClock("2026-12-01T00:00:00Z".parse()?);
//! let err = check(&request, &clock, &Silent).unwrap_err();
//! assert!(matches!(&err, Error::GateRefused { blocking, .. } if blocking.len() == 1));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod access;
pub mod advisories;
pub mod approval;
pub mod commit;
pub mod dashboard;
pub mod doctor;
pub mod env;
mod error;
pub mod evidence;
pub mod gate;
pub mod inputs;
pub mod key_events;
pub mod keys;
pub mod log;
pub mod monitor;
pub mod pool;
pub mod project;
pub mod publish;
pub mod rebuild;
pub mod release;
pub mod repo;
pub mod scan;
pub mod sequence;
pub mod transport;
pub mod update;
pub mod vex;
pub mod webhooks;

pub use error::{Error, ErrorKind};
