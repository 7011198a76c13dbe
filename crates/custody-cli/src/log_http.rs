//! The transparency log's HTTP: a log read over HTTP ([`HttpLog`]) and a witness's
//! `add-checkpoint` endpoint ([`HttpWitness`]), for custody-tlog, which opens no sockets.

use std::io::Read as _;
use std::time::Duration;

use custody_tlog::{Error as TlogError, TileStore, WitnessTransport};
use custody_tuf::Fetcher as _;

use crate::http::{CONNECT_TIMEOUT, HttpFetcher};

/// Largest file of a log read over HTTP: a full entry bundle of 256 entries of up to 64 KiB.
const MAX_LOG_FILE: u64 = 256 * (64 << 10) + 512;

/// A log served over HTTP (a site's `log/` URL), read as a [`TileStore`]; writes are refused.
#[derive(Debug, Clone)]
pub struct HttpLog {
    base: String,
    http: HttpFetcher,
}

impl HttpLog {
    /// The log whose files are under `base` (`https://example.com/log`).
    pub fn new(base: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
            http: HttpFetcher::new(),
        }
    }
}

fn storage_error(op: &'static str, path: String, e: impl std::fmt::Display) -> TlogError {
    TlogError::Storage {
        op,
        path,
        source: e.to_string().into(),
    }
}

impl TileStore for HttpLog {
    fn get(&self, path: &str) -> Result<Option<Vec<u8>>, TlogError> {
        let url = format!("{}/{path}", self.base);
        self.http
            .fetch(&url, MAX_LOG_FILE)
            .map_err(|e| storage_error("GET", url, e))
    }
    fn put(&self, path: &str, _: &[u8]) -> Result<(), TlogError> {
        Err(storage_error(
            "write",
            path.to_owned(),
            "a log read over HTTP is read-only",
        ))
    }
    fn put_if_absent(&self, path: &str, _: &[u8]) -> Result<bool, TlogError> {
        Err(storage_error(
            "write",
            path.to_owned(),
            "a log read over HTTP is read-only",
        ))
    }
}

/// A witness reached over HTTP: `POST <url>/add-checkpoint` (c2sp.org/tlog-witness).
#[derive(Debug)]
pub struct HttpWitness {
    url: String,
    agent: ureq::Agent,
}

/// A witness answers with a few signature lines, or a size, or a short error.
const MAX_WITNESS_RESPONSE: u64 = 16 << 10;

impl HttpWitness {
    /// The witness at URL prefix `url`.
    pub fn new(url: &str) -> Self {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(CONNECT_TIMEOUT))
            // A witness that hangs must not hold the log's checkpoint back for long.
            .timeout_global(Some(Duration::from_secs(20)))
            .user_agent(concat!("custody-log/", env!("CARGO_PKG_VERSION")))
            .build();
        Self {
            url: format!("{}/add-checkpoint", url.trim_end_matches('/')),
            agent: ureq::Agent::new_with_config(config),
        }
    }
}

impl WitnessTransport for HttpWitness {
    fn add_checkpoint(
        &self,
        body: &[u8],
    ) -> Result<(u16, Vec<u8>), Box<dyn std::error::Error + Send + Sync>> {
        let mut response = self
            .agent
            .post(&self.url)
            .header("content-type", "text/plain; charset=utf-8")
            .send(body)?;
        let status = response.status().as_u16();
        let mut bytes = Vec::new();
        response
            .body_mut()
            .as_reader()
            .take(MAX_WITNESS_RESPONSE + 1)
            .read_to_end(&mut bytes)?;
        Ok((status, bytes))
    }
}
