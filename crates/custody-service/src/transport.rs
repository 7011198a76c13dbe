//! HTTP, behind the one [`Transport`] trait the service asks for.
//!
//! Every request custody makes (an advisory download, a webhook delivery, a witness's
//! `add-checkpoint`, a TUF file, a log tile read over HTTP) goes through one agent configured in
//! one place ([`HttpTransport`]); what differs between them is only how long each may take and
//! how many bytes it may return, which the caller states per request as a [`Limits`].
//! [`MemoryTransport`] is the in-memory twin the tests run against.
//!
//! The format crates never open sockets: custody-tuf asks for a [`Fetcher`], custody-tlog for a
//! [`TileStore`] or a [`WitnessTransport`]; the adapters here give them one over a [`Transport`].

use std::collections::BTreeMap;
use std::io::{Read as _, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use custody_tlog::{TileStore, WitnessTransport};
use custody_tuf::{Fetcher, FileFetcher};

/// Connecting takes no longer than this anywhere: a host that does not answer is down.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long one request may take and how much it may return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The whole request, connection to last byte.
    pub timeout: Duration,
    /// The largest body accepted; more is refused, not truncated.
    pub max_bytes: u64,
    /// Connect only to public addresses: a name that resolves to loopback, a private range or a
    /// link-local address is refused when the connection is made, not only when it was
    /// checked before (a name can resolve elsewhere by then: DNS rebinding).
    pub public_only: bool,
}

impl Limits {
    /// A TUF file: long enough for a slow mirror, short enough that a server trickling bytes
    /// (the TUF slow-retrieval attack) cannot hold an update open indefinitely.
    pub const fn tuf(max_bytes: u64) -> Self {
        Self {
            timeout: Duration::from_secs(60),
            max_bytes,
            public_only: false,
        }
    }
    /// An advisory database download: osv.dev's largest per-ecosystem archive is well under
    /// 1 GiB, and a server sending more is refused rather than allowed to fill the disk.
    pub const DOWNLOAD: Self = Self {
        timeout: Duration::from_secs(600),
        max_bytes: 1 << 30,
        public_only: false,
    };
    /// A webhook delivery: the receiver's answer is read only for its status.
    pub const WEBHOOK: Self = Self {
        timeout: Duration::from_secs(15),
        max_bytes: 64 << 10,
        public_only: false,
    };
    /// A delivery to a webhook registered through the API, which may reach only public
    /// addresses ([`Limits::public_only`]).
    pub const PUBLIC_WEBHOOK: Self = Self {
        public_only: true,
        ..Self::WEBHOOK
    };
    /// A witness answers with a few signature lines, a size, or a short error; one that hangs
    /// must not hold the log's checkpoint back for long.
    pub const WITNESS: Self = Self {
        timeout: Duration::from_secs(20),
        max_bytes: 16 << 10,
        public_only: false,
    };
}

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The request could not be made, or the connection failed.
    #[error("{url}: {source}")]
    Request {
        /// The URL.
        url: String,
        /// What the client said.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The server answered with a status other than success (or the 404/403 that mean absent).
    #[error("{url}: HTTP status {status}")]
    Status {
        /// The URL.
        url: String,
        /// The status.
        status: u16,
    },
    /// The body is larger than the request's limit (declared or as sent).
    #[error("{url}: more than {limit} bytes")]
    TooLarge {
        /// The URL.
        url: String,
        /// The limit.
        limit: u64,
    },
    /// The body could not be written where the caller wanted it.
    #[error("{url}: storing the response: {source}")]
    Sink {
        /// The URL.
        url: String,
        /// What the OS said.
        source: std::io::Error,
    },
}

/// A server's answer to a POST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The HTTP status.
    pub status: u16,
    /// The body, at most the request's limit.
    pub body: Vec<u8>,
}

/// HTTP as the service needs it.
pub trait Transport: Send + Sync + std::fmt::Debug {
    /// Streams the body of `url` into `sink`; `None` when the server says it has no such file
    /// (404, or the 403 that static hosts such as S3 answer for a missing object).
    fn get(
        &self,
        url: &str,
        limits: Limits,
        sink: &mut dyn Write,
    ) -> Result<Option<u64>, TransportError>;

    /// The header `name` of `url` as a HEAD request finds it: `None` when the server says it
    /// has no such file, `Some(None)` when it serves the file without that header.
    fn header(
        &self,
        url: &str,
        name: &str,
        limits: Limits,
    ) -> Result<Option<Option<String>>, TransportError>;

    /// Posts `body` with `headers`; any status is an answer, not an error.
    fn post(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        limits: Limits,
    ) -> Result<Response, TransportError>;
}

/// The real transport: `ureq` agents, HTTPS through rustls; one that connects anywhere, and
/// one that refuses internal addresses at connection time ([`Limits::public_only`]).
#[derive(Debug, Clone)]
pub struct HttpTransport {
    agent: ureq::Agent,
    public: ureq::Agent,
}

/// Resolves as ureq does, then refuses a name with any internal address
/// ([`is_internal`]): the check happens on the addresses connected to.
#[derive(Debug, Default)]
struct PublicOnly(ureq::unversioned::resolver::DefaultResolver);

impl ureq::unversioned::resolver::Resolver for PublicOnly {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: ureq::unversioned::transport::NextTimeout,
    ) -> Result<ureq::unversioned::resolver::ResolvedSocketAddrs, ureq::Error> {
        let addrs = self.0.resolve(uri, config, timeout)?;
        if let Some(internal) = addrs.iter().find(|a| is_internal(a.ip())) {
            return Err(ureq::Error::Io(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!(
                    "{} resolves to {}, a loopback, private or link-local address, which \
                     this request may not reach",
                    uri.host().unwrap_or_default(),
                    internal.ip()
                ),
            )));
        }
        Ok(addrs)
    }
}

/// How every HTTP agent custody makes is configured: its user agent, a bounded connect, no
/// overall deadline (an upload or a download may be large), and statuses left to the caller,
/// for whom 404 and 403 may mean "no such file".
pub(crate) fn agent_config() -> ureq::config::Config {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(CONNECT_TIMEOUT))
        .user_agent(concat!("custody/", env!("CARGO_PKG_VERSION")))
        .build()
}

impl HttpTransport {
    /// The agent every request shares. Without ureq's gzip feature nothing is decompressed, so a
    /// byte limit applies to what the server actually sends.
    pub fn new() -> Self {
        let config = agent_config();
        Self {
            public: ureq::Agent::with_parts(
                config.clone(),
                ureq::unversioned::transport::DefaultConnector::new(),
                PublicOnly::default(),
            ),
            agent: ureq::Agent::new_with_config(config),
        }
    }

    fn agent(&self, limits: Limits) -> &ureq::Agent {
        if limits.public_only {
            &self.public
        } else {
            &self.agent
        }
    }
}

impl Default for HttpTransport {
    fn default() -> Self {
        Self::new()
    }
}

/// Whether a GET or HEAD answered with the file: `false` for "no such file" (404, or the 403
/// static hosts such as S3 answer for a missing object), an error for any other failure.
fn found(url: &str, status: u16) -> Result<bool, TransportError> {
    match status {
        404 | 403 => Ok(false),
        200..=299 => Ok(true),
        _ => Err(TransportError::Status {
            url: url.to_owned(),
            status,
        }),
    }
}

fn request_error(url: &str, e: ureq::Error) -> TransportError {
    TransportError::Request {
        url: url.to_owned(),
        source: Box::new(e),
    }
}

/// Copies at most `limit` bytes from `body` into `sink`, refusing a body that has more.
fn bounded_copy(
    url: &str,
    body: &mut dyn std::io::Read,
    limit: u64,
    sink: &mut dyn Write,
) -> Result<u64, TransportError> {
    let mut limited = body.take(limit.saturating_add(1));
    let mut buf = [0u8; 64 << 10];
    let mut total = 0u64;
    loop {
        let n = limited
            .read(&mut buf)
            .map_err(|e| TransportError::Request {
                url: url.to_owned(),
                source: Box::new(e),
            })?;
        if n == 0 {
            return Ok(total);
        }
        total += n as u64;
        if total > limit {
            return Err(TransportError::TooLarge {
                url: url.to_owned(),
                limit,
            });
        }
        sink.write_all(&buf[..n])
            .map_err(|source| TransportError::Sink {
                url: url.to_owned(),
                source,
            })?;
    }
}

impl Transport for HttpTransport {
    fn get(
        &self,
        url: &str,
        limits: Limits,
        sink: &mut dyn Write,
    ) -> Result<Option<u64>, TransportError> {
        let mut response = self
            .agent(limits)
            .get(url)
            .config()
            .timeout_global(Some(limits.timeout))
            .build()
            .call()
            .map_err(|e| request_error(url, e))?;
        if !found(url, response.status().as_u16())? {
            return Ok(None);
        }
        // A declared length over the limit is refused before any body is read; an undeclared
        // or lying one is caught by the bounded copy.
        let declared = response
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|n| n > limits.max_bytes) {
            return Err(TransportError::TooLarge {
                url: url.to_owned(),
                limit: limits.max_bytes,
            });
        }
        let mut reader = response.body_mut().as_reader();
        bounded_copy(url, &mut reader, limits.max_bytes, sink).map(Some)
    }

    fn header(
        &self,
        url: &str,
        name: &str,
        limits: Limits,
    ) -> Result<Option<Option<String>>, TransportError> {
        let response = self
            .agent(limits)
            .head(url)
            .config()
            .timeout_global(Some(limits.timeout))
            .build()
            .call()
            .map_err(|e| request_error(url, e))?;
        if !found(url, response.status().as_u16())? {
            return Ok(None);
        }
        Ok(Some(
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        ))
    }

    fn post(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        limits: Limits,
    ) -> Result<Response, TransportError> {
        let mut request = self
            .agent(limits)
            .post(url)
            .config()
            .timeout_global(Some(limits.timeout))
            .build();
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let mut response = request.send(body).map_err(|e| request_error(url, e))?;
        let status = response.status().as_u16();
        let mut bytes = Vec::new();
        let mut reader = response.body_mut().as_reader();
        bounded_copy(url, &mut reader, limits.max_bytes, &mut bytes)?;
        Ok(Response {
            status,
            body: bytes,
        })
    }
}

/// A POST the [`MemoryTransport`] received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posted {
    /// The URL.
    pub url: String,
    /// The headers, as given.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

/// Response headers, names in lower case.
type Headers = Vec<(String, String)>;

/// The in-memory twin: serves the files it was given, answers every POST with one status, and
/// records what was posted.
#[derive(Debug, Clone, Default)]
pub struct MemoryTransport {
    files: Arc<Mutex<BTreeMap<String, Vec<u8>>>>,
    headers: Arc<Mutex<BTreeMap<String, Headers>>>,
    posted: Arc<Mutex<Vec<Posted>>>,
    post_status: Arc<Mutex<Option<u16>>>,
}

impl MemoryTransport {
    /// An empty transport: every GET is absent, every POST answers 200.
    pub fn new() -> Self {
        Self::default()
    }
    /// Serves `body` at `url`, with no response headers.
    pub fn serve(&self, url: &str, body: impl Into<Vec<u8>>) {
        if let Ok(mut files) = self.files.lock() {
            files.insert(url.to_owned(), body.into());
        }
        if let Ok(mut headers) = self.headers.lock() {
            headers.remove(url);
        }
    }
    /// Serves `body` at `url` with these response headers.
    pub fn serve_with_headers(
        &self,
        url: &str,
        body: impl Into<Vec<u8>>,
        headers: &[(&str, &str)],
    ) {
        self.serve(url, body);
        if let Ok(mut all) = self.headers.lock() {
            all.insert(
                url.to_owned(),
                headers
                    .iter()
                    .map(|(k, v)| (k.to_ascii_lowercase(), (*v).to_owned()))
                    .collect(),
            );
        }
    }
    /// Answers every later POST with `status`.
    pub fn answer_posts_with(&self, status: u16) {
        if let Ok(mut s) = self.post_status.lock() {
            *s = Some(status);
        }
    }
    /// Every POST received so far.
    pub fn posted(&self) -> Vec<Posted> {
        self.posted.lock().map(|p| p.clone()).unwrap_or_default()
    }
}

impl Transport for MemoryTransport {
    fn get(
        &self,
        url: &str,
        limits: Limits,
        sink: &mut dyn Write,
    ) -> Result<Option<u64>, TransportError> {
        let body = self.files.lock().ok().and_then(|f| f.get(url).cloned());
        match body {
            None => Ok(None),
            Some(body) => bounded_copy(url, &mut body.as_slice(), limits.max_bytes, sink).map(Some),
        }
    }

    fn header(
        &self,
        url: &str,
        name: &str,
        _: Limits,
    ) -> Result<Option<Option<String>>, TransportError> {
        let served = self.files.lock().ok().is_some_and(|f| f.contains_key(url));
        if !served {
            return Ok(None);
        }
        let name = name.to_ascii_lowercase();
        Ok(Some(self.headers.lock().ok().and_then(|all| {
            all.get(url)
                .and_then(|h| h.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone()))
        })))
    }

    fn post(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        _: Limits,
    ) -> Result<Response, TransportError> {
        if let Ok(mut posted) = self.posted.lock() {
            posted.push(Posted {
                url: url.to_owned(),
                headers: headers
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
                body: body.to_vec(),
            });
        }
        let status = self.post_status.lock().ok().and_then(|s| *s).unwrap_or(200);
        Ok(Response {
            status,
            body: Vec::new(),
        })
    }
}

/// Whether `url` names something to fetch over the network rather than a local path.
pub fn is_http(url: &str) -> bool {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

/// The TUF client's [`Fetcher`]: HTTP(S) URLs through a [`Transport`], anything else (a
/// `file://` URL or a plain path) from the local disk, so one client reads a repository served
/// either way.
#[derive(Debug, Clone)]
pub struct UrlFetcher {
    transport: Arc<dyn Transport>,
}

impl UrlFetcher {
    /// A fetcher over `transport`.
    pub fn new(transport: Arc<dyn Transport>) -> Self {
        Self { transport }
    }
    /// A fetcher over the real HTTP transport.
    pub fn http() -> Self {
        Self::new(Arc::new(HttpTransport::new()))
    }
}

impl Fetcher for UrlFetcher {
    fn fetch(&self, url: &str, max_length: u64) -> custody_tuf::Result<Option<Vec<u8>>> {
        if !is_http(url) {
            return FileFetcher.fetch(url, max_length);
        }
        let mut bytes = Vec::new();
        match self.transport.get(url, Limits::tuf(max_length), &mut bytes) {
            Ok(Some(_)) => Ok(Some(bytes)),
            Ok(None) => Ok(None),
            Err(TransportError::TooLarge { url, limit }) => {
                Err(custody_tuf::Error::TooLarge { what: url, limit })
            }
            Err(e) => Err(custody_tuf::Error::Fetch {
                url: url.to_owned(),
                reason: match e {
                    TransportError::Status { status, .. } => format!("HTTP status {status}"),
                    other => other.to_string(),
                },
            }),
        }
    }
}

/// Largest file of a log read over HTTP: a full entry bundle of 256 entries of up to 64 KiB.
const MAX_LOG_FILE: u64 = 256 * (64 << 10) + 512;

/// A log served over HTTP (a site's `log/` URL), read as a [`TileStore`]; writes are refused.
#[derive(Debug, Clone)]
pub struct HttpLog {
    base: String,
    transport: Arc<dyn Transport>,
}

impl HttpLog {
    /// The log whose files are under `base` (`https://example.com/log`).
    pub fn new(base: &str, transport: Arc<dyn Transport>) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
            transport,
        }
    }
}

fn storage_error(
    op: &'static str,
    path: String,
    source: Box<dyn std::error::Error + Send + Sync>,
) -> custody_tlog::Error {
    custody_tlog::Error::Storage { op, path, source }
}

/// Why a write to a log read over HTTP fails.
#[derive(Debug, thiserror::Error)]
#[error("a log read over HTTP is read-only")]
struct ReadOnly;

impl TileStore for HttpLog {
    fn get(&self, path: &str) -> Result<Option<Vec<u8>>, custody_tlog::Error> {
        let url = format!("{}/{path}", self.base);
        let mut bytes = Vec::new();
        let limits = Limits::tuf(MAX_LOG_FILE);
        match self.transport.get(&url, limits, &mut bytes) {
            Ok(found) => Ok(found.map(|_| bytes)),
            Err(e) => Err(storage_error("GET", url, Box::new(e))),
        }
    }
    fn put(&self, path: &str, _: &[u8]) -> Result<(), custody_tlog::Error> {
        Err(storage_error("write", path.to_owned(), Box::new(ReadOnly)))
    }
    fn put_if_absent(&self, path: &str, _: &[u8]) -> Result<bool, custody_tlog::Error> {
        Err(storage_error("write", path.to_owned(), Box::new(ReadOnly)))
    }
}

/// A witness reached over HTTP: `POST <url>/add-checkpoint` (c2sp.org/tlog-witness).
#[derive(Debug)]
pub struct HttpWitness {
    url: String,
    transport: Arc<dyn Transport>,
}

impl HttpWitness {
    /// The witness at URL prefix `url`.
    pub fn new(url: &str, transport: Arc<dyn Transport>) -> Self {
        Self {
            url: format!("{}/add-checkpoint", url.trim_end_matches('/')),
            transport,
        }
    }
}

impl WitnessTransport for HttpWitness {
    fn add_checkpoint(
        &self,
        body: &[u8],
    ) -> Result<(u16, Vec<u8>), Box<dyn std::error::Error + Send + Sync>> {
        let response = self.transport.post(
            &self.url,
            &[("content-type", "text/plain; charset=utf-8")],
            body,
            Limits::WITNESS,
        )?;
        Ok((response.status, response.body))
    }
}

/// Whether `ip` is loopback, private, link-local (cloud metadata), shared, unspecified,
/// broadcast or multicast: nowhere a webhook from this server should go.
pub fn is_internal(ip: std::net::IpAddr) -> bool {
    use std::net::IpAddr;
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                // 0.0.0.0/8 ("this network") and 100.64.0.0/10 (carrier-grade NAT).
                || a == 0
                || (a == 100 && (64..128).contains(&b))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_internal(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                // fc00::/7 unique local, fe80::/10 link-local.
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
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
        let f = UrlFetcher::http();
        assert!(f.fetch(&format!("{base}/a"), 100).unwrap().is_none());
        assert!(f.fetch(&format!("{base}/b"), 100).unwrap().is_none());
        let err = f.fetch(&format!("{base}/c"), 100).unwrap_err();
        assert!(
            matches!(&err, custody_tuf::Error::Fetch { url, reason } if url.ends_with("/c") && reason.contains("500")),
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
        let f = UrlFetcher::http();
        let err = f.fetch(&format!("{base}/undeclared"), 1000).unwrap_err();
        assert!(
            matches!(err, custody_tuf::Error::TooLarge { limit: 1000, .. }),
            "{err}"
        );
        let err = f.fetch(&format!("{base}/declared"), 1000).unwrap_err();
        assert!(
            matches!(err, custody_tuf::Error::TooLarge { limit: 1000, .. }),
            "{err}"
        );
    }

    #[test]
    fn a_public_only_request_is_refused_where_the_name_leads_inside() {
        // What DNS rebinding does to a webhook that passed its check: at delivery the name
        // resolves to loopback. The connection itself must refuse it.
        let base = serve(vec![response("200 OK", b"", Some(0))]);
        let http = HttpTransport::new();
        let hook = format!("{base}/hook");
        let err = http
            .post(&hook, &[], b"{}", Limits::PUBLIC_WEBHOOK)
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("127.0.0.1") && text.contains("may not reach"),
            "{text}"
        );
        // The same request allowed inside (custody.toml's own webhooks) goes through.
        let ok = http.post(&hook, &[], b"{}", Limits::WEBHOOK).unwrap();
        assert_eq!(ok.status, 200);
    }

    #[test]
    fn posts_carry_headers_and_return_any_status() {
        let base = serve(vec![response("418 I'm a teapot", b"no", Some(2))]);
        let r = HttpTransport::new()
            .post(
                &format!("{base}/hook"),
                &[("x-test", "1")],
                b"{}",
                Limits::WEBHOOK,
            )
            .unwrap();
        assert_eq!((r.status, r.body.as_slice()), (418, b"no".as_slice()));
    }

    #[test]
    fn local_paths_go_to_the_file_fetcher() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("1.root.json"), b"{}").unwrap();
        let f = UrlFetcher::http();
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

    #[test]
    fn the_memory_twin_serves_limits_and_records() {
        let t = MemoryTransport::new();
        t.serve("https://x/a", b"abcdef".to_vec());
        let mut out = Vec::new();
        let limits = Limits::tuf(6);
        assert_eq!(t.get("https://x/a", limits, &mut out).unwrap(), Some(6));
        assert!(t.get("https://x/b", limits, &mut out).unwrap().is_none());
        let err = t.get("https://x/a", Limits::tuf(5), &mut Vec::new());
        assert!(matches!(
            err,
            Err(TransportError::TooLarge { limit: 5, .. })
        ));
        t.answer_posts_with(500);
        let r = t.post("https://x/h", &[("k", "v")], b"body", Limits::WEBHOOK);
        assert_eq!(r.unwrap().status, 500);
        assert_eq!(t.posted()[0].body, b"body");
    }
}
