//! The only module that knows object_store: the connection to the S3-compatible bucket of
//! `blob_store = "s3"` (Garage, MinIO, Ceph RGW, AWS S3), shared by the blob store and the
//! database snapshots. Addressing is path-style (as Garage wants), credentials come from
//! `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`, and every name Qopy uses sits under the
//! configured `s3_prefix`. Requests are retried by object_store where that is safe (connection
//! failures, 5xx, timeouts), for a bounded time, so a store that is down turns into
//! [`S3Error::Unavailable`] within seconds instead of hanging a request.

use crate::config::Config;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjectPath;
use object_store::{
    BackoffConfig, ClientOptions, GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutPayload,
    RetryConfig,
};
use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Errors of the object store.
#[derive(Debug, thiserror::Error)]
pub enum S3Error {
    /// The object does not exist.
    #[error("object not found")]
    NotFound,
    /// The store could not be reached, failed (5xx) or was too slow, even after retries; the
    /// request may succeed later.
    #[error("the object store is unavailable: {0}")]
    Unavailable(String),
    /// The configuration cannot make a client (missing credentials, bad endpoint).
    #[error("object store configuration: {0}")]
    Config(String),
}

impl S3Error {
    /// The error of a read of one object: "not found" is about that object.
    fn from_store(e: object_store::Error) -> S3Error {
        match e {
            object_store::Error::NotFound { .. } => S3Error::NotFound,
            e => S3Error::Unavailable(e.to_string()),
        }
    }

    /// The error of a write or listing: "not found" there means the bucket is missing (a
    /// wrong `s3_bucket`), which no object-level answer should hide.
    fn from_bucket(e: object_store::Error) -> S3Error {
        match e {
            object_store::Error::NotFound { .. } => {
                S3Error::Unavailable("the bucket does not exist (check s3_bucket)".into())
            }
            e => S3Error::Unavailable(e.to_string()),
        }
    }
}

/// Result of object store operations.
pub type Result<T> = std::result::Result<T, S3Error>;

/// How long one request (a chunk's PUT, a listing) may take before it counts as failed:
/// long enough for a 64 MiB chunk over a slow link to a remote store. Streamed reads have
/// no such limit (see [`STREAM_IDLE`]).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Retries of one operation, and the time after which no further retry is started.
const MAX_RETRIES: usize = 3;
const RETRY_TIMEOUT: Duration = Duration::from_secs(20);

fn stalled() -> String {
    format!("the store sent nothing for {} s", STREAM_IDLE.as_secs())
}

/// One object listed under a prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// Its name below the prefix that was listed (no leading slash).
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// When it was last written.
    pub modified: SystemTime,
}

/// How long a streamed read may wait for the store's next bytes (or its answer's head).
/// Measured only while the reader wants bytes, so a slow client never trips it.
const STREAM_IDLE: Duration = Duration::from_secs(30);

/// The bucket (and key prefix) Qopy keeps its objects in.
#[derive(Debug, Clone)]
pub struct Bucket {
    store: Arc<AmazonS3>,
    /// The same bucket without a time limit on whole requests, for streamed reads: a
    /// download to a slow client may take an object minutes to pass on; [`STREAM_IDLE`]
    /// bounds the waits for the store instead.
    streams: Arc<AmazonS3>,
    prefix: String,
}

/// Where a bucket is and how to sign for it. Its `Debug` leaves the secret out.
#[derive(Clone)]
pub struct BucketConfig {
    /// `scheme://host[:port]`.
    pub endpoint: String,
    /// The bucket's name.
    pub bucket: String,
    /// The region signed for.
    pub region: String,
    /// Key prefix, empty or without leading and trailing slashes.
    pub prefix: String,
    /// Access key ID.
    pub key_id: String,
    /// Secret access key.
    pub secret: String,
}

impl std::fmt::Debug for BucketConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BucketConfig")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("prefix", &self.prefix)
            .field("key_id", &self.key_id)
            .field("secret", &"(hidden)")
            .finish()
    }
}

impl BucketConfig {
    /// The bucket of a configuration with `blob_store = "s3"`, with the credentials from
    /// `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`.
    pub fn from_config(config: &Config) -> Result<BucketConfig> {
        let need = |v: &Option<String>, key: &str| {
            v.clone()
                .ok_or_else(|| S3Error::Config(format!("`{key}` is required with blob_store = s3")))
        };
        let env = |var: &str| {
            std::env::var(var)
                .ok()
                .filter(|v| !v.is_empty())
                .ok_or_else(|| S3Error::Config(format!("{var} must be set with blob_store = s3")))
        };
        Ok(BucketConfig {
            endpoint: need(&config.s3_endpoint, "s3_endpoint")?,
            bucket: need(&config.s3_bucket, "s3_bucket")?,
            region: config.s3_region.clone(),
            prefix: config.s3_prefix.clone(),
            key_id: env("AWS_ACCESS_KEY_ID")?,
            secret: env("AWS_SECRET_ACCESS_KEY")?,
        })
    }
}

impl Bucket {
    /// A client of the bucket. Makes no request.
    pub fn open(c: &BucketConfig) -> Result<Bucket> {
        let retry = RetryConfig {
            backoff: BackoffConfig {
                init_backoff: Duration::from_millis(100),
                max_backoff: Duration::from_secs(2),
                base: 2.0,
            },
            max_retries: MAX_RETRIES,
            retry_timeout: RETRY_TIMEOUT,
        };
        let options = ClientOptions::new()
            .with_allow_http(true)
            .with_connect_timeout(CONNECT_TIMEOUT);
        let build = |options: ClientOptions| {
            AmazonS3Builder::new()
                .with_endpoint(&c.endpoint)
                .with_bucket_name(&c.bucket)
                .with_region(&c.region)
                .with_access_key_id(&c.key_id)
                .with_secret_access_key(&c.secret)
                .with_virtual_hosted_style_request(false)
                .with_retry(retry.clone())
                .with_client_options(options)
                .build()
                .map(Arc::new)
                .map_err(|e| S3Error::Config(e.to_string()))
        };
        Ok(Bucket {
            store: build(options.clone().with_timeout(REQUEST_TIMEOUT))?,
            streams: build(options.with_timeout_disabled())?,
            prefix: c.prefix.clone(),
        })
    }

    /// The full key of `name` (which is below the prefix).
    fn key(&self, name: &str) -> ObjectPath {
        if self.prefix.is_empty() {
            ObjectPath::from(name)
        } else {
            ObjectPath::from(format!("{}/{name}", self.prefix))
        }
    }

    /// Checks that the bucket answers to these credentials (one listing request).
    pub async fn check(&self) -> Result<()> {
        let prefix = self.key("blobs");
        self.store
            .list_with_delimiter(Some(&prefix))
            .await
            .map(|_| ())
            .map_err(S3Error::from_bucket)
    }

    /// Stores `data` as `name`; returns once the store has acknowledged it.
    pub async fn put(&self, name: &str, data: Bytes) -> Result<()> {
        self.store
            .put(&self.key(name), PutPayload::from_bytes(data))
            .await
            .map(|_| ())
            .map_err(S3Error::from_bucket)
    }

    /// The whole object `name`.
    pub async fn get(&self, name: &str) -> Result<Bytes> {
        let r = self
            .store
            .get(&self.key(name))
            .await
            .map_err(S3Error::from_store)?;
        r.bytes().await.map_err(S3Error::from_store)
    }

    /// Bytes `range` of object `name`.
    pub async fn get_range(&self, name: &str, range: Range<u64>) -> Result<Bytes> {
        self.store
            .get_range(&self.key(name), range)
            .await
            .map_err(S3Error::from_store)
    }

    /// Bytes `range` of object `name` as a stream of pieces, so a large object is never
    /// held whole.
    pub async fn stream_range(
        &self,
        name: &str,
        range: Range<u64>,
    ) -> Result<impl Stream<Item = Result<Bytes>> + Send + 'static> {
        let options = GetOptions {
            range: Some(GetRange::Bounded(range)),
            ..Default::default()
        };
        let key = self.key(name);
        let head = self.streams.get_opts(&key, options);
        let r = match tokio::time::timeout(STREAM_IDLE, head).await {
            Ok(r) => r.map_err(S3Error::from_store)?,
            Err(_) => return Err(S3Error::Unavailable(stalled())),
        };
        let pieces = r.into_stream();
        Ok(futures_util::stream::unfold(
            Some(pieces),
            |pieces| async move {
                let mut pieces = pieces?;
                match tokio::time::timeout(STREAM_IDLE, pieces.next()).await {
                    Ok(Some(piece)) => Some((piece.map_err(S3Error::from_store), Some(pieces))),
                    Ok(None) => None,
                    // One error, then the end: the reader's answer is cut short.
                    Err(_) => Some((Err(S3Error::Unavailable(stalled())), None)),
                }
            },
        ))
    }

    /// Deletes object `name`; a missing object is not an error.
    pub async fn delete(&self, name: &str) -> Result<()> {
        match self.store.delete(&self.key(name)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(S3Error::from_store(e)),
        }
    }

    /// Deletes the objects `names` (batched by the store where it can).
    pub async fn delete_all(&self, names: Vec<String>) -> Result<()> {
        if names.is_empty() {
            return Ok(());
        }
        let keys: Vec<_> = names.iter().map(|n| Ok(self.key(n))).collect();
        let keys = futures_util::stream::iter(keys).boxed();
        let mut results = self.store.delete_stream(keys);
        while let Some(r) = results.next().await {
            match r {
                Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(S3Error::from_store(e)),
            }
        }
        Ok(())
    }

    /// Every object whose name starts with `dir/`, with names relative to `dir/`.
    pub async fn list(&self, dir: &str) -> Result<Vec<Listed>> {
        let prefix = self.key(dir);
        let strip = format!("{prefix}/");
        let mut out = Vec::new();
        let mut listing = self.store.list(Some(&prefix));
        while let Some(meta) = listing.next().await {
            let meta = meta.map_err(S3Error::from_bucket)?;
            let full = meta.location.to_string();
            let Some(name) = full.strip_prefix(&strip) else {
                continue;
            };
            out.push(Listed {
                name: name.to_string(),
                size: meta.size,
                modified: SystemTime::from(meta.last_modified),
            });
        }
        Ok(out)
    }
}
