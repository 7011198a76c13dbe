//! A [`TileStore`] on S3-compatible object storage, through Apache Arrow's `object_store`.
//!
//! Immutable files are created with a conditional write (`If-None-Match: *`, object_store's
//! `PutMode::Create`), so two writers can never overwrite each other's tiles: the second gets a
//! precondition failure, which [`TileStore::put_if_absent`] reports as `false`. A PUT that
//! returned is durable (S3's read-after-write consistency), which is what the sequencer's
//! write order needs.
//!
//! # Synchronous calls, from anywhere (issue 15)
//!
//! [`TileStore`] stays synchronous: the sequencer is pure, single-writer code that writes tiles
//! from scoped threads, and the CLI has no runtime. `object_store` is async, so the store owns
//! a small multi-thread tokio runtime and every request runs there, as a task spawned onto it;
//! the calling thread waits for the task's result on a plain channel. The caller's thread never
//! calls `block_on`, so a call works the same from a thread with no runtime, from a task on a
//! multi-thread or current-thread runtime (`custody serve`), and from `spawn_blocking`:
//! tokio panics on a `block_on` inside a runtime, and `block_in_place`, the usual way out,
//! panics on a current-thread runtime. The HTTP client's connection tasks live on the
//! store's runtime too, so they do not depend on the caller's runtime or on which of its
//! drivers (time, I/O) it enabled.
//!
//! Dropping the store shuts its runtime down in the background instead of waiting for it,
//! which tokio forbids inside an async context; no request is in flight by then, since each
//! call waits for its own.
//!
//! A call still blocks its thread for one S3 round trip. From async code, make it through
//! `tokio::task::spawn_blocking`, so that a current-thread runtime keeps serving meanwhile;
//! called directly from a task it is correct, only slower for everything else on that runtime.

use std::future::Future;
use std::sync::Arc;
use std::sync::mpsc;

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt as _, PutMode, PutOptions, PutPayload};
use tokio::runtime::{Handle, Runtime};

use crate::Error;
use crate::store::TileStore;

/// Largest object read: a full entry bundle of 256 entries of up to 64 KiB.
const MAX_OBJECT: u64 = 256 * (64 << 10) + 512;

/// A log's files under a prefix of a bucket.
#[derive(Debug)]
pub struct ObjectTileStore {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    /// Where requests run; a handle so that `&self` can spawn without touching `runtime`.
    handle: Handle,
    /// `None` only inside `drop`, which must consume it to shut it down without blocking.
    runtime: Option<Runtime>,
}

fn storage(op: &'static str, path: &str) -> impl FnOnce(object_store::Error) -> Error + use<> {
    let path = path.to_owned();
    move |e| Error::Storage {
        op,
        path,
        source: Box::new(e),
    }
}

impl ObjectTileStore {
    /// A store over any `object_store` backend, with files under `prefix` (may be empty).
    pub fn new(store: Arc<dyn ObjectStore>, prefix: &str) -> Result<Self, Error> {
        // Multi-thread, so that the sequencer's parallel tile writes run concurrently; two
        // workers are plenty for requests that spend their time waiting on the network.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("custody-s3")
            .enable_all()
            .build()
            .map_err(|source| Error::Io {
                op: "start runtime",
                path: std::path::PathBuf::new(),
                source,
            })?;
        Ok(Self {
            store,
            prefix: prefix.trim_matches('/').to_owned(),
            handle: runtime.handle().clone(),
            runtime: Some(runtime),
        })
    }

    /// The store for `s3://bucket[/prefix]`, with endpoint, region and credentials from the
    /// standard AWS environment variables (`AWS_ENDPOINT_URL`/`AWS_ENDPOINT`,
    /// `AWS_DEFAULT_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_ALLOW_HTTP`).
    pub fn from_s3_url(url: &str) -> Result<Self, Error> {
        Self::from_s3_url_with(url, &[])
    }

    /// As [`Self::from_s3_url`], with `vars` (AWS environment variable names and values)
    /// taking precedence over the process environment.
    pub fn from_s3_url_with(url: &str, vars: &[(&str, &str)]) -> Result<Self, Error> {
        let bad = || Error::BadStorePath {
            path: url.chars().take(200).collect(),
        };
        let rest = url.strip_prefix("s3://").ok_or_else(bad)?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(bad());
        }
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
        let env_endpoint = std::env::var("AWS_ENDPOINT_URL").ok();
        // AWS_ENDPOINT_URL is the SDKs' name for the endpoint; object_store reads only
        // AWS_ENDPOINT and AWS_ENDPOINT_URL_S3.
        let endpoint = vars
            .iter()
            .find(|(k, _)| *k == "AWS_ENDPOINT_URL")
            .map(|(_, v)| (*v).to_owned())
            .or(env_endpoint);
        if let Some(endpoint) = endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        for (key, value) in vars {
            if let Ok(k) = key.to_ascii_lowercase().parse::<AmazonS3ConfigKey>() {
                builder = builder.with_config(k, *value);
            }
        }
        let store = builder.build().map_err(storage("configure", url))?;
        Self::new(Arc::new(store), prefix)
    }

    fn object(&self, path: &str) -> Result<ObjectPath, Error> {
        let full = if self.prefix.is_empty() {
            path.to_owned()
        } else {
            format!("{}/{path}", self.prefix)
        };
        ObjectPath::parse(&full).map_err(|_| Error::BadStorePath { path: full })
    }

    /// Runs `request` on the store's runtime and waits for it without entering any runtime,
    /// so that it is safe on any thread (see the module documentation).
    fn run<T, F>(&self, op: &'static str, path: &str, request: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, Error>> + Send + 'static,
    {
        // Capacity 1: the task's one send never waits, even if the caller has gone.
        let (tx, rx) = mpsc::sync_channel(1);
        self.handle.spawn(async move {
            let _ = tx.send(request.await);
        });
        // The sender is dropped unsent only if the request panicked.
        rx.recv().map_err(|_| Error::StorageTaskLost {
            op,
            path: path.to_owned(),
        })?
    }
}

impl Drop for ObjectTileStore {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl TileStore for ObjectTileStore {
    fn get(&self, path: &str) -> Result<Option<Vec<u8>>, Error> {
        crate::store::check_path(path)?;
        let object = self.object(path)?;
        let store = Arc::clone(&self.store);
        let owned = path.to_owned();
        self.run("get", path, async move {
            let got = match store.get(&object).await {
                Ok(g) => g,
                Err(object_store::Error::NotFound { .. }) => return Ok(None),
                Err(e) => return Err(storage("get", &owned)(e)),
            };
            if got.meta.size > MAX_OBJECT {
                return Err(Error::ObjectTooLarge {
                    path: owned,
                    size: got.meta.size,
                    max: MAX_OBJECT,
                });
            }
            let bytes = got.bytes().await.map_err(storage("read", &owned))?;
            Ok(Some(bytes.to_vec()))
        })
    }

    fn put(&self, path: &str, data: &[u8]) -> Result<(), Error> {
        crate::store::check_path(path)?;
        let object = self.object(path)?;
        let store = Arc::clone(&self.store);
        let payload = PutPayload::from(data.to_vec());
        let failed = storage("put", path);
        self.run("put", path, async move {
            store
                .put(&object, payload)
                .await
                .map(|_| ())
                .map_err(failed)
        })
    }

    fn put_if_absent(&self, path: &str, data: &[u8]) -> Result<bool, Error> {
        crate::store::check_path(path)?;
        let object = self.object(path)?;
        let store = Arc::clone(&self.store);
        let opts = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        let payload = PutPayload::from(data.to_vec());
        let failed = storage("create", path);
        self.run("create", path, async move {
            match store.put_opts(&object, payload, opts).await {
                Ok(_) => Ok(true),
                Err(
                    object_store::Error::AlreadyExists { .. }
                    | object_store::Error::Precondition { .. },
                ) => Ok(false),
                Err(e) => Err(failed(e)),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::memory::InMemory;

    fn memory_store() -> ObjectTileStore {
        ObjectTileStore::new(Arc::new(InMemory::new()), "log").unwrap()
    }

    #[test]
    fn oversized_objects_are_refused() {
        let s = memory_store();
        let big = vec![0u8; usize::try_from(MAX_OBJECT).unwrap() + 1];
        s.put("tile/entries/000", &big).unwrap();
        assert!(matches!(
            s.get("tile/entries/000"),
            Err(Error::ObjectTooLarge { size, .. }) if size == MAX_OBJECT + 1
        ));
    }

    // Without moto_server: the in-memory backend still goes through the store's runtime, so
    // these show the calls never start or drop a runtime on the caller's thread.
    #[tokio::test(flavor = "current_thread")]
    async fn usable_and_droppable_inside_a_current_thread_runtime() {
        let s = memory_store();
        assert!(s.put_if_absent("tile/0/000", b"a").unwrap());
        assert!(!s.put_if_absent("tile/0/000", b"b").unwrap());
        assert_eq!(s.get("tile/0/000").unwrap().as_deref(), Some(&b"a"[..]));
        let s = Arc::new(s);
        let t = Arc::clone(&s);
        tokio::task::spawn_blocking(move || t.put("checkpoint", b"c").unwrap())
            .await
            .unwrap();
        let t = Arc::clone(&s);
        tokio::spawn(async move { assert!(t.get("checkpoint").unwrap().is_some()) })
            .await
            .unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn usable_and_droppable_inside_a_multi_thread_runtime() {
        let s = memory_store();
        s.put("checkpoint", b"c").unwrap();
        assert_eq!(s.get("checkpoint").unwrap().as_deref(), Some(&b"c"[..]));
    }
}
