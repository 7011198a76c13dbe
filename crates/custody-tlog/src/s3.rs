//! A [`TileStore`] on S3-compatible object storage, through Apache Arrow's `object_store`.
//!
//! Immutable files are created with a conditional write (`If-None-Match: *`, object_store's
//! `PutMode::Create`), so two writers can never overwrite each other's tiles: the second gets a
//! precondition failure, which [`TileStore::put_if_absent`] reports as `false`. A PUT that
//! returned is durable (S3's read-after-write consistency), which is what the sequencer's
//! write order needs.

use std::sync::Arc;

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt as _, PutMode, PutOptions, PutPayload};

use crate::Error;
use crate::store::TileStore;

/// Largest object read: a full entry bundle of 256 entries of up to 64 KiB.
const MAX_OBJECT: u64 = 256 * (64 << 10) + 512;

/// A log's files under a prefix of a bucket.
#[derive(Debug)]
pub struct ObjectTileStore {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    runtime: tokio::runtime::Runtime,
}

fn storage(op: &'static str, path: &str) -> impl FnOnce(object_store::Error) -> Error {
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
        // Its own small runtime: callers (the sequencer, the CLI) are synchronous, and the
        // sequencer writes tiles from several threads at once, which a multi-thread runtime
        // allows.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
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
            runtime,
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
}

impl TileStore for ObjectTileStore {
    fn get(&self, path: &str) -> Result<Option<Vec<u8>>, Error> {
        crate::store::check_path(path)?;
        let object = self.object(path)?;
        self.runtime.block_on(async {
            let got = match self.store.get(&object).await {
                Ok(g) => g,
                Err(object_store::Error::NotFound { .. }) => return Ok(None),
                Err(e) => return Err(storage("get", path)(e)),
            };
            if got.meta.size > MAX_OBJECT {
                return Err(Error::Storage {
                    op: "get",
                    path: path.to_owned(),
                    source: format!(
                        "{} bytes is over the {MAX_OBJECT}-byte limit",
                        got.meta.size
                    )
                    .into(),
                });
            }
            let bytes = got.bytes().await.map_err(storage("read", path))?;
            Ok(Some(bytes.to_vec()))
        })
    }

    fn put(&self, path: &str, data: &[u8]) -> Result<(), Error> {
        crate::store::check_path(path)?;
        let object = self.object(path)?;
        let payload = PutPayload::from(data.to_vec());
        self.runtime
            .block_on(self.store.put(&object, payload))
            .map(|_| ())
            .map_err(storage("put", path))
    }

    fn put_if_absent(&self, path: &str, data: &[u8]) -> Result<bool, Error> {
        crate::store::check_path(path)?;
        let object = self.object(path)?;
        let opts = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        let payload = PutPayload::from(data.to_vec());
        match self
            .runtime
            .block_on(self.store.put_opts(&object, payload, opts))
        {
            Ok(_) => Ok(true),
            Err(
                object_store::Error::AlreadyExists { .. }
                | object_store::Error::Precondition { .. },
            ) => Ok(false),
            Err(e) => Err(storage("create", path)(e)),
        }
    }
}
