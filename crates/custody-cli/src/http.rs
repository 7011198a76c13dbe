//! The TUF client's transport: HTTP(S) through `ureq`, and local directories through
//! [`FileFetcher`], behind the one [`Fetcher`] trait the updater asks for.
//!
//! It lives in the CLI because custody's format crates never open sockets.

use std::io::Read as _;
use std::time::Duration;

use custody_tuf::{Error, Fetcher, FileFetcher};

/// Long enough for a slow mirror, short enough that a server trickling bytes (the TUF
/// slow-retrieval attack) cannot hold an update open indefinitely.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Fetches over HTTP and HTTPS.
#[derive(Debug, Clone)]
pub struct HttpFetcher {
    agent: ureq::Agent,
}

impl HttpFetcher {
    /// An agent with bounded timeouts. Without ureq's gzip feature nothing is decompressed,
    /// so the byte limit applies to what the server actually sends.
    pub fn new() -> Self {
        let config = ureq::Agent::config_builder()
            // Statuses are mapped below: 404 and 403 mean "no such file", not a failure.
            .http_status_as_error(false)
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_global(Some(REQUEST_TIMEOUT))
            .user_agent(concat!("custody-tuf-client/", env!("CARGO_PKG_VERSION")))
            .build();
        Self {
            agent: ureq::Agent::new_with_config(config),
        }
    }
}

impl Default for HttpFetcher {
    fn default() -> Self {
        Self::new()
    }
}

fn fetch_error(url: &str, reason: impl Into<String>) -> Error {
    Error::Fetch {
        url: url.to_string(),
        reason: reason.into(),
    }
}

fn too_large(url: &str, limit: u64) -> Error {
    Error::TooLarge {
        what: url.to_string(),
        limit,
    }
}

impl Fetcher for HttpFetcher {
    fn fetch(&self, url: &str, max_length: u64) -> custody_tuf::Result<Option<Vec<u8>>> {
        let mut response = self
            .agent
            .get(url)
            .call()
            .map_err(|e| fetch_error(url, e.to_string()))?;
        let status = response.status();
        // python-tuf treats 403 like 404: static hosts such as S3 answer 403 for a missing
        // object, and the root walk must stop there rather than fail.
        if status == 404 || status == 403 {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(fetch_error(url, format!("HTTP status {status}")));
        }
        // A declared length over the limit is refused before any body is read; an undeclared
        // or lying one is caught by the bounded read below.
        let declared = response
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|n| n > max_length) {
            return Err(too_large(url, max_length));
        }
        let mut bytes = Vec::new();
        response
            .body_mut()
            .as_reader()
            .take(max_length.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(|e| fetch_error(url, e.to_string()))?;
        if bytes.len() as u64 > max_length {
            return Err(too_large(url, max_length));
        }
        Ok(Some(bytes))
    }
}

/// Chooses the transport per URL, so a repository can be served over HTTP or read from a
/// directory (`file://` URL or plain path) with the same client.
#[derive(Debug, Clone, Default)]
pub struct UrlFetcher {
    http: HttpFetcher,
}

impl UrlFetcher {
    /// A fetcher for any supported URL.
    pub fn new() -> Self {
        Self::default()
    }
}

/// Whether `url` names something to fetch over the network rather than a local path.
pub fn is_http(url: &str) -> bool {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

impl Fetcher for UrlFetcher {
    fn fetch(&self, url: &str, max_length: u64) -> custody_tuf::Result<Option<Vec<u8>>> {
        if is_http(url) {
            self.http.fetch(url, max_length)
        } else {
            FileFetcher.fetch(url, max_length)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::io::{BufRead as _, BufReader, Write as _};
    use std::net::TcpListener;

    use super::*;

    /// Serve one response per connection on a local port, `count` times.
    fn serve(responses: Vec<Vec<u8>>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for response in responses {
                let (stream, _) = listener.accept().unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                let mut stream = stream;
                // The client may hang up early (endless data); that is the point.
                let _ = stream.write_all(&response);
            }
        });
        format!("http://{addr}")
    }

    fn response(status: &str, body: &[u8], length: Option<usize>) -> Vec<u8> {
        let mut out = format!("HTTP/1.1 {status}\r\nConnection: close\r\n").into_bytes();
        if let Some(n) = length {
            out.extend_from_slice(format!("Content-Length: {n}\r\n").as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn missing_and_forbidden_are_absent_other_statuses_fail() {
        let base = serve(vec![
            response("404 Not Found", b"", Some(0)),
            response("403 Forbidden", b"", Some(0)),
            response("500 Internal Server Error", b"", Some(0)),
            response("200 OK", b"hello", Some(5)),
        ]);
        let f = HttpFetcher::new();
        assert!(f.fetch(&format!("{base}/a"), 100).unwrap().is_none());
        assert!(f.fetch(&format!("{base}/b"), 100).unwrap().is_none());
        let err = f.fetch(&format!("{base}/c"), 100).unwrap_err();
        assert!(
            matches!(&err, Error::Fetch { url, reason } if url.ends_with("/c") && reason.contains("500")),
            "{err}"
        );
        assert_eq!(f.fetch(&format!("{base}/d"), 5).unwrap().unwrap(), b"hello");
    }

    #[test]
    fn endless_data_is_cut_off_at_the_limit() {
        let endless = vec![b'x'; 1 << 20];
        let base = serve(vec![
            response("200 OK", &endless, None),
            response("200 OK", &endless, Some(endless.len())),
        ]);
        let f = HttpFetcher::new();
        let err = f.fetch(&format!("{base}/undeclared"), 1000).unwrap_err();
        assert!(matches!(err, Error::TooLarge { limit: 1000, .. }), "{err}");
        let err = f.fetch(&format!("{base}/declared"), 1000).unwrap_err();
        assert!(matches!(err, Error::TooLarge { limit: 1000, .. }), "{err}");
    }

    #[test]
    fn local_paths_go_to_the_file_fetcher() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("1.root.json"), b"{}").unwrap();
        let f = UrlFetcher::new();
        let base = dir.path().display().to_string();
        assert_eq!(
            f.fetch(&format!("{base}/1.root.json"), 10)
                .unwrap()
                .unwrap(),
            b"{}"
        );
        assert!(
            f.fetch(&format!("file://{base}/2.root.json"), 10)
                .unwrap()
                .is_none()
        );
        assert!(is_http("HTTPS://example.com/x"));
        assert!(!is_http("./repo/metadata"));
    }
}
