//! The release site over HTTP, with cache headers that say what is immutable.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse as _, Response};
use tower::ServiceExt as _;
use tower_http::services::ServeDir;

pub use custody_site::cache::{IMMUTABLE, REVALIDATE, SHORT, cache_control};

async fn set_cache_control(req: Request, next: Next) -> Response {
    let path = req.uri().path().trim_start_matches('/').to_owned();
    let mut res = next.run(req).await;
    if res.status().is_success() || res.status() == axum::http::StatusCode::NOT_MODIFIED {
        res.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static(cache_control(&path)),
        );
    }
    res
}

/// Serves the directory `dir` read-only (no listings; `index.html` for directories).
///
/// Small files (log tiles, checkpoints, TUF metadata, bundles: nearly every request a site
/// gets) are answered from memory, checked against the file's size and modification time on
/// every request, so a replaced checkpoint is served at once. `ServeDir` opens, stats and
/// reads through tokio's blocking pool, three thread hand-offs per request, which held the
/// server to a quarter of nginx's rate; a stat and a read of a page-cached file inline cost
/// less than one hand-off. Large files, range requests and anything unusual go to `ServeDir`,
/// which streams.
pub fn router(dir: PathBuf) -> Router {
    let site = Site {
        fallback: ServeDir::new(&dir).append_index_html_on_directories(true),
        dir: Arc::new(dir),
        cache: Arc::new(Mutex::new(Cache::default())),
    };
    Router::new()
        .fallback(serve_file)
        .with_state(site)
        .layer(middleware::from_fn(set_cache_control))
}

/// Files up to this size are kept in memory.
const SMALL_FILE: u64 = 256 * 1024;
/// The memory cache's bound; it starts over when full.
const CACHE_BYTES: usize = 64 * 1024 * 1024;

#[derive(Clone)]
struct Site {
    dir: Arc<PathBuf>,
    cache: Arc<Mutex<Cache>>,
    fallback: ServeDir,
}

#[derive(Default)]
struct Cache {
    files: HashMap<PathBuf, Cached>,
    bytes: usize,
}

#[derive(Clone)]
struct Cached {
    len: u64,
    modified: SystemTime,
    body: Bytes,
    content_type: HeaderValue,
    last_modified: HeaderValue,
}

async fn serve_file(State(site): State<Site>, req: Request) -> Response {
    if let Some(res) = site.small_file(&req) {
        return res;
    }
    match site.fallback.clone().oneshot(req).await {
        Ok(res) => res.into_response(),
        Err(never) => match never {},
    }
}

impl Site {
    /// The answer for a plain GET or HEAD of a small regular file; `None` leaves the request
    /// to `ServeDir`.
    fn small_file(&self, req: &Request) -> Option<Response> {
        let head = match *req.method() {
            Method::GET => false,
            Method::HEAD => true,
            _ => return None,
        };
        if req.headers().contains_key(header::RANGE) {
            return None;
        }
        let path = self.file_path(req.uri().path())?;
        let meta = std::fs::metadata(&path).ok()?;
        if !meta.is_file() || meta.len() > SMALL_FILE {
            return None;
        }
        let modified = meta.modified().ok()?;
        let hit = self.cache.lock().ok().and_then(|cache| {
            cache
                .files
                .get(&path)
                .filter(|c| c.len == meta.len() && c.modified == modified)
                .cloned()
        });
        let file = match hit {
            Some(c) => c,
            None => {
                let body = Bytes::from(std::fs::read(&path).ok()?);
                // Written between the stat and the read: let ServeDir answer this one.
                if body.len() as u64 != meta.len() {
                    return None;
                }
                let cached = Cached {
                    len: meta.len(),
                    modified,
                    content_type: HeaderValue::from_str(
                        mime_guess::from_path(&path)
                            .first_or_octet_stream()
                            .as_ref(),
                    )
                    .ok()?,
                    last_modified: HeaderValue::from_str(&httpdate::fmt_http_date(modified))
                        .ok()?,
                    body,
                };
                if let Ok(mut cache) = self.cache.lock() {
                    if cache.bytes + cached.body.len() > CACHE_BYTES {
                        cache.files.clear();
                        cache.bytes = 0;
                    }
                    cache.bytes += cached.body.len();
                    if let Some(old) = cache.files.insert(path, cached.clone()) {
                        cache.bytes -= old.body.len();
                    }
                }
                cached
            }
        };
        let not_modified = req
            .headers()
            .get(header::IF_MODIFIED_SINCE)
            .and_then(|v| httpdate::parse_http_date(v.to_str().ok()?).ok())
            // HTTP dates have whole seconds.
            .is_some_and(|since| since + Duration::from_secs(1) > file.modified);
        let mut res = if not_modified {
            Response::builder().status(StatusCode::NOT_MODIFIED)
        } else {
            Response::builder()
                .header(header::CONTENT_TYPE, file.content_type)
                .header(header::CONTENT_LENGTH, file.len)
        }
        .header(header::LAST_MODIFIED, file.last_modified);
        if let Some(headers) = res.headers_mut() {
            headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        }
        let body = if head || not_modified {
            Body::empty()
        } else {
            Body::from(file.body)
        };
        res.body(body).ok()
    }

    /// The file a URL path names, when every segment is a plain name (no `.`, `..`, empty
    /// segment, backslash or percent-escape: those go to `ServeDir`, which decodes and
    /// refuses them).
    fn file_path(&self, url_path: &str) -> Option<PathBuf> {
        let rel = url_path.strip_prefix('/')?;
        if rel.is_empty() || rel.contains(['%', '\\', '\0']) {
            return None;
        }
        let mut path = self.dir.as_ref().clone();
        for segment in rel.split('/') {
            if segment.is_empty() || segment == "." || segment == ".." {
                return None;
            }
            path.push(segment);
        }
        Some(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(router: &Router, path: &str, headers: &[(header::HeaderName, &str)]) -> Response {
        request(router, Method::GET, path, headers)
    }

    fn request(
        router: &Router,
        method: Method,
        path: &str,
        headers: &[(header::HeaderName, &str)],
    ) -> Response {
        let mut req = Request::builder().method(method).uri(path);
        for (name, value) in headers {
            req = req.header(name, *value);
        }
        let req = req.body(Body::empty()).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(router.clone().oneshot(req)).unwrap()
    }

    fn body(res: Response) -> Vec<u8> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(axum::body::to_bytes(res.into_body(), usize::MAX))
            .unwrap()
            .to_vec()
    }

    #[test]
    fn a_replaced_file_is_served_new_at_once() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("log")).unwrap();
        let checkpoint = tmp.path().join("log/checkpoint");
        std::fs::write(&checkpoint, "size 1\n").unwrap();
        let router = router(tmp.path().to_owned());
        let res = get(&router, "/log/checkpoint", &[]);
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()[header::CACHE_CONTROL], REVALIDATE);
        assert_eq!(body(res), b"size 1\n");
        // Replaced as the log replaces it: a new file renamed over the old.
        let next = tmp.path().join("log/.checkpoint.new");
        std::fs::write(&next, "size 22\n").unwrap();
        std::fs::rename(&next, &checkpoint).unwrap();
        assert_eq!(body(get(&router, "/log/checkpoint", &[])), b"size 22\n");
    }

    #[test]
    fn revalidation_range_and_head_are_answered() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("tuf/metadata")).unwrap();
        std::fs::write(tmp.path().join("tuf/metadata/timestamp.json"), "{\"v\": 1}").unwrap();
        let router = router(tmp.path().to_owned());
        let path = "/tuf/metadata/timestamp.json";
        let res = get(&router, path, &[]);
        assert_eq!(res.headers()[header::CONTENT_TYPE], "application/json");
        let last_modified = res.headers()[header::LAST_MODIFIED]
            .to_str()
            .unwrap()
            .to_owned();
        let res = get(
            &router,
            path,
            &[(header::IF_MODIFIED_SINCE, &last_modified)],
        );
        assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(res.headers()[header::CACHE_CONTROL], REVALIDATE);
        assert!(body(res).is_empty());
        let res = get(&router, path, &[(header::RANGE, "bytes=1-4")]);
        assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(body(res), b"\"v\":");
        let res = request(&router, Method::HEAD, path, &[]);
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()[header::CONTENT_LENGTH], "8");
        assert!(body(res).is_empty());
    }

    #[test]
    fn nothing_outside_the_site_is_served() {
        let tmp = tempfile::tempdir().unwrap();
        let site = tmp.path().join("site");
        std::fs::create_dir_all(&site).unwrap();
        std::fs::write(tmp.path().join("secret"), "key").unwrap();
        std::fs::write(site.join("ok"), "ok").unwrap();
        let router = router(site);
        assert_eq!(body(get(&router, "/ok", &[])), b"ok");
        for path in [
            "/../secret",
            "/%2e%2e/secret",
            "/./../secret",
            "/ok/../../secret",
        ] {
            let res = get(&router, path, &[]);
            assert!(res.status().is_client_error(), "{path}: {}", res.status());
        }
        assert_eq!(
            get(&router, "/missing", &[]).status(),
            StatusCode::NOT_FOUND
        );
    }
}
