//! A throwaway PostgreSQL cluster for one test, through `scripts/postgres.sh` (which .ci/run's
//! Debian `postgresql` provides the binaries for). Stopped when dropped, on success or panic.
//! Shared by every crate whose tests need PostgreSQL (`#[path]`-included).

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Postgres {
    dir: tempfile::TempDir,
    /// The cluster's maintenance database, `postgres://postgres@127.0.0.1:PORT/postgres`.
    pub url: String,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/postgres.sh")
}

impl Postgres {
    /// A new cluster, or `None` (the test is skipped, saying why) when PostgreSQL is not
    /// installed, except under CI, where it must be: there a missing server fails the test.
    pub fn start() -> Option<Self> {
        Self::start_with(false)
    }

    /// [`Postgres::start`], serving TLS too: its CA is [`Postgres::ca`].
    #[allow(dead_code)] // not every test that includes this file needs it
    pub fn start_tls() -> Option<Self> {
        Self::start_with(true)
    }

    /// The CA of a cluster from [`Postgres::start_tls`], and an unrelated one.
    #[allow(dead_code)] // not every test that includes this file needs it
    pub fn ca(&self) -> (PathBuf, PathBuf) {
        (
            self.dir.path().join("ca.pem"),
            self.dir.path().join("other-ca.pem"),
        )
    }

    fn start_with(tls: bool) -> Option<Self> {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let out = Command::new("bash")
            .env("PG_TLS", if tls { "1" } else { "0" })
            .arg(script())
            .arg("start")
            .arg(dir.path())
            .output()
            .expect("bash runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.code() == Some(127) {
            assert!(
                std::env::var_os("CI").is_none(),
                "PostgreSQL is missing and CI must have it: {stderr}"
            );
            eprintln!("skipped: {stderr}");
            return None;
        }
        assert!(out.status.success(), "scripts/postgres.sh start: {stderr}");
        let url = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        Some(Self { dir, url })
    }

    /// A new, empty database in the cluster; its URL.
    pub fn database(&self, name: &str) -> String {
        let mut admin = custody_catalog::backend::Postgres::connect(&self.url)
            .expect("the cluster accepts connections");
        custody_catalog::Backend::batch(&mut admin, &format!("CREATE DATABASE {name}"))
            .expect("CREATE DATABASE");
        let base = self
            .url
            .rsplit_once('/')
            .map_or(self.url.as_str(), |(b, _)| b);
        format!("{base}/{name}")
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(script())
            .arg("stop")
            .arg(self.dir.path())
            .status();
    }
}

/// A database URL (with a password) on a loopback port nothing listens on, and that port.
#[allow(dead_code)] // not every test that includes this file needs it
pub fn unreachable() -> (String, u16) {
    // Bound, then closed when the listener drops.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port();
    (
        format!("postgres://custody:s3cret@127.0.0.1:{port}/custody"),
        port,
    )
}
