//! Publishing for a pipeline: the server's side of `custody release --publish`.
//!
//! A pipeline uploads each file under its SHA-256 ([`receive_upload`]): the bytes stream to a
//! temporary file beside the uploads, hashed as they arrive, and only a file whose digest is
//! the one it was sent under is kept, under that digest. A truncated or corrupted upload keeps
//! nothing, and sending the same file again is a no-op, so an interrupted pipeline just retries.
//! Then [`publish`] names the uploads, the SBOM and the source the pipeline built from, and the
//! server hashes, gates, signs, logs and adds TUF targets as `custody release` does, under the
//! project's writer lock. Publishing a version again with the same artifacts answers with the
//! release as it is (a retry after a lost answer); with other artifacts it is refused.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use custody_attest::release::SourceState;
use custody_crypto::{Algorithms, digest_reader};
use custody_site::config::Loaded;
use custody_site::site::{Published, Site, check_name};

use crate::Error;
use crate::release::{ReleaseEnv, ReleaseRequest, Released};

/// How long an upload waits for a release that names it. Uploads are not removed when a
/// release takes them: another release (a retry, or a version with the same bytes) may be
/// about to name the same content.
pub const UPLOAD_LIFETIME: std::time::Duration = std::time::Duration::from_secs(24 * 60 * 60);

/// Where a product's uploads wait for their release.
pub fn uploads_dir(loaded: &Loaded, product: &str) -> PathBuf {
    loaded.base.join(UPLOADS_DIR).join(product)
}

/// Where uploads wait, one directory a product, under the project.
const UPLOADS_DIR: &str = ".custody/uploads";

/// What [`receive_upload`] kept.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, serde::Serialize)]
pub struct Uploaded {
    /// The digest it is kept under.
    pub sha256: String,
    /// Its size.
    pub size: u64,
    /// `false` when it was there already.
    pub fresh: bool,
}

/// Copies what it reads to `out`, remembering whether reading (the client) or writing (the
/// disk) failed.
struct Tee<R, W> {
    from: R,
    out: W,
    read: u64,
    read_failed: bool,
}

impl<R: Read, W: Write> Read for Tee<R, W> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self
            .from
            .read(buf)
            .inspect_err(|_| self.read_failed = true)?;
        self.out.write_all(&buf[..n])?;
        self.read += n as u64;
        Ok(n)
    }
}

/// Receives an upload of `product` sent under `sha256`, at most `limit` bytes.
pub fn receive_upload(
    loaded: &Loaded,
    product: &str,
    sha256: &str,
    body: impl Read,
    limit: u64,
) -> Result<Uploaded, Error> {
    check_name("product", product).map_err(Error::input)?;
    let expected = crate::log::parse_digest(sha256)?.to_string();
    let dir = uploads_dir(loaded, product);
    let kept = dir.join(&expected);
    if let Ok(meta) = std::fs::metadata(&kept) {
        // Sent again: it lives another day from now (see `UPLOAD_LIFETIME`).
        if let Ok(f) = std::fs::File::options().append(true).open(&kept) {
            let _ = f.set_modified(std::time::SystemTime::now());
        }
        return Ok(Uploaded {
            sha256: expected,
            size: meta.len(),
            fresh: false,
        });
    }
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Io { path, source }
    };
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    let temp = tempfile::NamedTempFile::new_in(&dir).map_err(io(&dir))?;
    let digests = {
        let mut tee = Tee {
            from: body.take(limit.saturating_add(1)),
            out: std::io::BufWriter::new(temp.as_file()),
            read: 0,
            read_failed: false,
        };
        let digests = match digest_reader(&mut tee, Algorithms::Sha256) {
            Ok(d) => d,
            // The client stopped sending (it hung up, or stalled past the server's timeout).
            Err(e) if tee.read_failed => {
                return Err(Error::UploadInterrupted {
                    received: tee.read,
                    reason: e.to_string(),
                });
            }
            Err(e) => return Err(io(temp.path())(e)),
        };
        // Durable before it is acknowledged.
        tee.out
            .into_inner()
            .map_err(|e| io(temp.path())(e.into_error()))?
            .sync_all()
            .map_err(io(temp.path()))?;
        digests
    };
    if digests.size > limit {
        return Err(Error::UploadTooLarge { limit });
    }
    let actual = digests.sha256.map(|d| d.to_string()).unwrap_or_default();
    if actual != expected {
        return Err(Error::UploadDigest {
            expected,
            actual,
            size: digests.size,
        });
    }
    temp.persist(&kept).map_err(|e| io(&kept)(e.error))?;
    Ok(Uploaded {
        sha256: expected,
        size: digests.size,
        fresh: true,
    })
}

/// A file of the release, by the name it is published under and the digest it was uploaded
/// under.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Named {
    /// Its file name.
    pub name: String,
    /// Its SHA-256, hex.
    pub sha256: String,
}

/// A release a pipeline asks the server to publish.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishRequest {
    /// The artifacts.
    pub artifacts: Vec<Named>,
    /// The SBOM or lockfile the gate scans and the release carries; its name tells its format
    /// (`Cargo.lock`, `sbom.cdx.json`...).
    #[serde(default)]
    pub sbom: Option<Named>,
    /// The source the artifacts were built from.
    pub source: SourceState,
    /// Publish although the source tree had uncommitted changes.
    #[serde(default)]
    pub allow_dirty: bool,
    /// Publish without scanning, recording this reason.
    #[serde(default)]
    pub skip_scan: Option<String>,
}

/// What [`publish`] did.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, serde::Serialize)]
pub struct PublishOutcome {
    /// `false` when the same release was published already (a retry).
    pub fresh: bool,
    /// The release.
    #[serde(flatten)]
    pub release: Published,
    /// TUF targets added (empty for a retry or without a repository).
    pub tuf_targets: Vec<String>,
    /// Set when the product's releases need approvals: signed and logged, the release waits
    /// for them off the site.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub awaiting_approval: Option<crate::release::AwaitingApproval>,
}

/// Publishes `product` `version` from uploads, committed by `committer` together with the
/// other publishes it has queued.
pub fn publish(
    loaded: &Loaded,
    (product, version): (&str, &str),
    request: &PublishRequest,
    env: &ReleaseEnv<'_>,
    committer: &crate::commit::Committer,
) -> Result<PublishOutcome, Error> {
    check_name("product", product).map_err(Error::input)?;
    check_name("version", version).map_err(Error::input)?;
    let site = Site::new(loaded.site_dir());
    if site.release_dir(product, version).exists() {
        return already(&site, product, version, &request.artifacts);
    }
    let uploads = uploads_dir(loaded, product);
    let staged = |n: &Named| -> Result<PathBuf, Error> {
        check_name("artifact", &n.name).map_err(Error::input)?;
        let digest = crate::log::parse_digest(&n.sha256)?.to_string();
        let path = uploads.join(&digest);
        if !path.is_file() {
            return Err(Error::UploadMissing {
                product: product.to_owned(),
                name: n.name.clone(),
                sha256: digest,
            });
        }
        Ok(path)
    };
    let files: Vec<(PathBuf, &Named)> = request
        .artifacts
        .iter()
        .chain(&request.sbom)
        .map(|n| Ok((staged(n)?, n)))
        .collect::<Result<_, Error>>()?;

    // Each file under its own name, as the release copies and names it: hard links into a
    // directory of this request's own.
    let work = tempfile::Builder::new()
        .prefix(".publish-")
        .tempdir_in(&uploads)
        .map_err(|source| Error::Io {
            path: uploads.clone(),
            source,
        })?;
    let mut named = Vec::new();
    for (from, n) in &files {
        let to = work.path().join(&n.name);
        std::fs::hard_link(from, &to)
            .or_else(|_| std::fs::copy(from, &to).map(|_| ()))
            .map_err(|source| Error::Io {
                path: to.clone(),
                source,
            })?;
        named.push(to);
    }
    let sbom = request
        .sbom
        .as_ref()
        .map(|_| named[request.artifacts.len()].clone());
    named.truncate(request.artifacts.len());
    let released = crate::release::prepare(
        loaded,
        &ReleaseRequest {
            product: product.to_owned(),
            version: version.to_owned(),
            artifacts: named,
            allow_dirty: request.allow_dirty,
            // The server checked its keys' duties once, when it unlocked them at start.
            insecure_shared_key: true,
            sbom,
            skip_scan: request.skip_scan.clone(),
            source: Some(request.source.clone()),
        },
        env,
    )
    .and_then(|prepared| committer.commit(loaded, prepared, env));
    let Released {
        release,
        tuf_targets,
        awaiting_approval,
        ..
    } = match released {
        Ok(r) => r,
        // Published by a concurrent request between the check above and the lock.
        Err(Error::Site(e)) if matches!(*e, custody_site::Error::AlreadyPublished { .. }) => {
            return already(&site, product, version, &request.artifacts);
        }
        Err(e) => return Err(e),
    };
    sweep(loaded);
    Ok(PublishOutcome {
        fresh: true,
        release,
        tuf_targets,
        awaiting_approval,
    })
}

/// The answer for a version already published: itself when it has these artifacts.
fn already(
    site: &Site,
    product: &str,
    version: &str,
    artifacts: &[Named],
) -> Result<PublishOutcome, Error> {
    let existing = custody_site::site::published_release(site, product, version)?;
    let mut have: Vec<(&str, &str)> = existing
        .artifacts
        .iter()
        .map(|a| (a.name.as_str(), a.sha256.as_str()))
        .collect();
    let mut want: Vec<(&str, &str)> = artifacts
        .iter()
        .map(|a| (a.name.as_str(), a.sha256.as_str()))
        .collect();
    have.sort_unstable();
    want.sort_unstable();
    if have != want {
        return Err(Error::PublishedDifferently {
            product: product.to_owned(),
            version: version.to_owned(),
        });
    }
    Ok(PublishOutcome {
        fresh: false,
        release: existing,
        tuf_targets: Vec::new(),
        awaiting_approval: None,
    })
}

/// The client side: what `custody release --publish URL` sends.
#[derive(Debug, Clone)]
pub struct Submission {
    /// The product.
    pub product: String,
    /// The version.
    pub version: String,
    /// The artifacts.
    pub artifacts: Vec<PathBuf>,
    /// A lockfile, SBOM or project directory; a directory is read here and sent as CycloneDX.
    pub sbom: Option<PathBuf>,
    /// The source the artifacts were built from.
    pub source: SourceState,
    /// Publish although the tree had uncommitted changes.
    pub allow_dirty: bool,
    /// Publish without scanning, recording this reason.
    pub skip_scan: Option<String>,
}

/// The source of the tree at `dir`, as a pipeline reports it to the server: a project's
/// configured repository URL and outputs when `dir` is one, else what git says.
pub fn tree_source(dir: &Path) -> Result<SourceState, Error> {
    match custody_site::config::Loaded::from_dir(dir) {
        Ok(loaded) => crate::release::project_source(&loaded),
        Err(_) => custody_site::git::source_state(dir, None, &[]).map_err(Error::input),
    }
}

/// What the server answered.
#[derive(Debug, serde::Deserialize, serde::Serialize)]
pub struct Submitted {
    /// `false` when the server had this release already (a retry).
    pub fresh: bool,
    /// The release as the server published it.
    #[serde(flatten)]
    pub release: serde_json::Value,
}

fn server_error(url: &str, status: u16, body: &str) -> Error {
    #[derive(serde::Deserialize)]
    struct Body {
        error: String,
    }
    let reason = serde_json::from_str::<Body>(body).map_or_else(|_| body.to_owned(), |b| b.error);
    Error::ServerRefused {
        url: url.to_owned(),
        status,
        reason,
    }
}

/// A custody server's API, as a pipeline or an approver reaches it with a token.
pub struct Server {
    agent: ureq::Agent,
    base: String,
    auth: String,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the token.
        f.debug_struct("Server")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// The API of the server at `url` (`https://releases.example.com`), called with `token`.
    pub fn new(url: &str, token: &str) -> Self {
        Self {
            agent: ureq::Agent::new_with_config(crate::transport::agent_config()),
            base: url.trim_end_matches('/').to_owned(),
            auth: format!("Bearer {token}"),
        }
    }

    /// `GET path`: the JSON answered, as a `T`.
    pub fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, Error> {
        let url = format!("{}{path}", self.base);
        let res = self
            .agent
            .get(&url)
            .header("Authorization", &self.auth)
            .call();
        Self::answer(&url, res).map(|(_, json)| json)
    }

    /// `POST path` with a JSON `body`: the status and the JSON answered, as a `T`.
    pub fn post<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &[u8],
    ) -> Result<(u16, T), Error> {
        let url = format!("{}{path}", self.base);
        let res = self
            .agent
            .post(&url)
            .header("Authorization", &self.auth)
            .header("Content-Type", "application/json")
            .send(body);
        Self::answer(&url, res)
    }

    /// `PUT path` with `size` bytes streamed from `body`, answered with a 2xx.
    fn put(&self, path: &str, size: u64, body: &mut dyn std::io::Read) -> Result<(), Error> {
        let url = format!("{}{path}", self.base);
        let res = self
            .agent
            .put(&url)
            .header("Authorization", &self.auth)
            .header("Content-Length", &size.to_string())
            .send(ureq::SendBody::from_reader(body));
        Self::accepted(&url, res).map(|_| ())
    }

    fn answer<T: serde::de::DeserializeOwned>(
        url: &str,
        res: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<(u16, T), Error> {
        let mut res = Self::accepted(url, res)?;
        let body = res.body_mut().read_to_string().unwrap_or_default();
        let json = serde_json::from_str(&body).map_err(|source| Error::RequestJson {
            what: "the server's answer",
            source,
        })?;
        Ok((res.status().as_u16(), json))
    }

    /// The response, if the server was reached and answered with a 2xx; else why not.
    fn accepted(
        url: &str,
        res: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<ureq::http::Response<ureq::Body>, Error> {
        let mut res = res.map_err(|source| Error::ServerUnreachable {
            url: url.to_owned(),
            reason: source.to_string(),
        })?;
        let status = res.status().as_u16();
        if !(200..300).contains(&status) {
            let body = res.body_mut().read_to_string().unwrap_or_default();
            return Err(server_error(url, status, &body));
        }
        Ok(res)
    }
}

/// Uploads every file of `submission` (each streamed, under its SHA-256) and asks the server
/// to publish them; retrying after a failure is safe.
pub fn submit(
    server: &Server,
    submission: &Submission,
    clock: &dyn crate::env::Clock,
    events: &dyn crate::env::Events,
) -> Result<Submitted, Error> {
    let product = &submission.product;
    // A directory is read here: the server sees the files it is sent, not this tree.
    // Kept until the uploads are done: removing it removes the rendered SBOM.
    let _rendered;
    let sbom = match &submission.sbom {
        Some(path) if path.is_dir() => {
            let graph = crate::inputs::read_sbom(path)?;
            let text = crate::inputs::render_sbom(
                &graph,
                crate::inputs::SbomFormat::CycloneDx(custody_sbom::CycloneDxVersion::V1_6),
                clock.now(),
            );
            let file = tempfile::Builder::new()
                .prefix("custody-sbom-")
                .tempdir()
                .map_err(|source| Error::Io {
                    path: std::env::temp_dir(),
                    source,
                })?;
            let path = file.path().join("sbom.cdx.json");
            std::fs::write(&path, text).map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?;
            _rendered = file;
            Some(path)
        }
        other => other.clone(),
    };
    let mut files = Vec::new();
    for path in submission.artifacts.iter().chain(&sbom) {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| Error::NotUtf8 { path: path.clone() })?;
        let size = std::fs::metadata(path)
            .map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?
            .len();
        events.progress(&format!("uploading {name} ({size} bytes)"));
        files.push((name.to_owned(), path));
    }
    let upload = |(name, path): &(String, &PathBuf)| {
        upload(server, product, path).map(|sha256| Named {
            name: name.clone(),
            sha256,
        })
    };
    let mut named = in_parallel(&files, UPLOADS_AT_ONCE, upload)?;
    let sbom = sbom.as_ref().and_then(|_| named.pop());
    let request = serde_json::json!({
        "artifacts": named,
        "sbom": sbom,
        "source": submission.source,
        "allow_dirty": submission.allow_dirty,
        "skip_scan": submission.skip_scan,
    });
    events.progress(&format!("publishing {product} {}", submission.version));
    let path = format!("/api/v1/releases/{product}/{}", submission.version);
    let (status, release): (u16, serde_json::Value) =
        server.post(&path, request.to_string().as_bytes())?;
    Ok(Submitted {
        fresh: status == 201,
        release,
    })
}

/// How many files of a release are uploaded at once: each upload waits for the server to make
/// it durable, so one after another a release's uploads cost a flush each in turn.
const UPLOADS_AT_ONCE: usize = 4;

/// `work` on each of `items`, at most `at_once` at a time; the answers in `items`' order, or
/// the first error.
fn in_parallel<T: Sync, R: Send>(
    items: &[T],
    at_once: usize,
    work: impl Fn(&T) -> Result<R, Error> + Sync,
) -> Result<Vec<R>, Error> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let done: Vec<std::sync::Mutex<Option<Result<R, Error>>>> =
        items.iter().map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..at_once.clamp(1, items.len().max(1)) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let (Some(item), Some(slot)) = (items.get(i), done.get(i)) else {
                        break;
                    };
                    let answer = work(item);
                    let failed = answer.is_err();
                    if let Ok(mut slot) = slot.lock() {
                        *slot = Some(answer);
                    }
                    if failed {
                        // The others stop taking new work: the first error is the answer.
                        next.store(items.len(), std::sync::atomic::Ordering::Relaxed);
                    }
                }
            });
        }
    });
    let mut answers = Vec::with_capacity(items.len());
    for slot in done {
        match slot
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
        {
            Some(answer) => answers.push(answer?),
            // Never started: items start in order, so one before this failed, and its error
            // has been returned above.
            None => continue,
        }
    }
    Ok(answers)
}

/// Uploads `path` to `product`'s uploads on `server`, under its SHA-256; that digest, in hex.
fn upload(server: &Server, product: &str, path: &Path) -> Result<String, Error> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    // Read twice: the digest names the upload, so it is known before the bytes are sent.
    let mut file = std::fs::File::open(path).map_err(io)?;
    let digests = digest_reader(&mut file, Algorithms::Sha256).map_err(io)?;
    let sha256 = digests.sha256.map(|d| d.to_string()).unwrap_or_default();
    let mut file = std::fs::File::open(path).map_err(io)?;
    let path = format!("/api/v1/releases/{product}/uploads/{sha256}");
    server.put(&path, digests.size, &mut file)?;
    Ok(sha256)
}

/// How often a process looks for stale uploads: the directory holds a day of them, and
/// listing it after every release would cost each release more as the day goes on.
const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(10 * 60);

/// Removes uploads no release has named for [`UPLOAD_LIFETIME`], and work directories a killed
/// publish left behind, of every product; at most once per [`SWEEP_EVERY`] in a process.
fn sweep(loaded: &Loaded) {
    use std::sync::atomic::{AtomicU64, Ordering};
    // Seconds since the epoch of this process's last sweep (0: none yet).
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let last = LAST.load(Ordering::Relaxed);
    if last != 0 && now.saturating_sub(last) < SWEEP_EVERY.as_secs() {
        return;
    }
    if LAST
        .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
        .is_err()
    {
        // Another request is sweeping.
        return;
    }
    let Ok(products) = std::fs::read_dir(loaded.base.join(UPLOADS_DIR)) else {
        return;
    };
    for product in products.flatten() {
        sweep_dir(&product.path());
    }
}

fn sweep_dir(uploads: &Path) {
    let Ok(entries) = std::fs::read_dir(uploads) else {
        return;
    };
    for entry in entries.flatten() {
        let stale = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > UPLOAD_LIFETIME);
        if stale {
            let path = entry.path();
            // Best effort: what cannot be removed now is tried again after the next release.
            let _ = if path.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn parallel_work_keeps_its_order_and_its_bound() {
        let running = AtomicUsize::new(0);
        let most = AtomicUsize::new(0);
        let items: Vec<usize> = (0..20).collect();
        let answers = in_parallel(&items, 4, |i| {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now, Ordering::SeqCst);
            std::thread::sleep(std::time::Duration::from_millis(5));
            running.fetch_sub(1, Ordering::SeqCst);
            Ok(i * 10)
        })
        .unwrap();
        assert_eq!(answers, (0..20).map(|i| i * 10).collect::<Vec<_>>());
        let most = most.load(Ordering::SeqCst);
        assert!(
            (2..=4).contains(&most),
            "at most 4 at once, and some at once: {most}"
        );
    }

    #[test]
    fn parallel_work_answers_with_the_first_failure_and_starts_no_more() {
        let started = AtomicUsize::new(0);
        let items: Vec<usize> = (0..50).collect();
        let err = in_parallel(&items, 2, |&i| {
            started.fetch_add(1, Ordering::SeqCst);
            if i == 3 {
                return Err(Error::NotUtf8 {
                    path: PathBuf::from(format!("file-{i}")),
                });
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
            Ok(i)
        })
        .unwrap_err();
        assert!(matches!(&err, Error::NotUtf8 { path } if path == Path::new("file-3")));
        assert!(
            started.load(Ordering::SeqCst) < 50,
            "work stops after a failure"
        );
        assert!(
            in_parallel(&[] as &[usize], 4, |&i| Ok(i))
                .unwrap()
                .is_empty()
        );
    }
}
