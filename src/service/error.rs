//! The errors of the use cases: one enum, which the HTTP layer maps, variant by variant, to a
//! status and a stable body (`http::error`).

use crate::blobs::BlobError;
use crate::store::StoreError;

/// Errors of the use cases. The HTTP layer maps each to a status and a stable body.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The request is malformed; the message says which field and why.
    #[error("validation failed: {0}")]
    Validation(String),
    /// No such upload session.
    #[error("upload session not found")]
    UploadNotFound,
    /// The chunk number is not below the session's chunk count.
    #[error("chunk number must be less than {0}")]
    ChunkOutOfRange(u32),
    /// A different chunk with this number was stored before.
    #[error("a different chunk was already uploaded under this number")]
    ChunkConflict,
    /// The chunk body is missing or empty.
    #[error("no chunk data")]
    NoChunk,
    /// The chunk body is larger than allowed.
    #[error("chunk larger than {0} bytes")]
    ChunkTooLarge(u64),
    /// Chunks are missing at completion.
    #[error("upload incomplete")]
    Incomplete(Vec<u32>),
    /// The upload is larger than allowed.
    #[error("content larger than {0} bytes")]
    TooLarge(u64),
    /// No such clip, or it has expired.
    #[error("clip not found")]
    NotFound,
    /// The clip exists but its stored bytes are missing.
    #[error("stored content missing")]
    ContentMissing,
    /// A one-time clip was consumed by a concurrent download.
    #[error("one-time clip already consumed")]
    Consumed,
    /// The clip needs an access code and none was given.
    #[error("access code required")]
    AccessCodeRequired,
    /// The access code is wrong or malformed.
    #[error("access denied")]
    AccessDenied,
    /// The disk reserve or the storage quota would be crossed.
    #[error("insufficient storage: {0}")]
    InsufficientStorage(String),
    /// The client went away mid-body.
    #[error("upload interrupted")]
    Interrupted,
    /// The clip has no preview (encrypted, one-time, or not an image); the message says why.
    #[error("no preview: {0}")]
    NoPreview(String),
    /// The image is refused by the decoding limits or cannot be decoded.
    #[error("image refused: {0}")]
    ImageRefused(String),
    /// The admin API is not configured.
    #[error("admin API disabled")]
    AdminDisabled,
    /// Wrong admin token.
    #[error("admin authentication failed")]
    AdminDenied,
    /// A drop box's public key is not a valid P-256 point; the message says why.
    #[error("invalid public key: {0}")]
    InvalidPublicKey(String),
    /// The wrapped key of an item is missing, malformed, or given without a drop box.
    #[error("invalid wrapped key: {0}")]
    InvalidWrappedKey(String),
    /// An upload option a drop-box item may not have; the message says which.
    #[error("not allowed in a drop box: {0}")]
    NotAllowedInDropbox(String),
    /// No such drop box (or it was swept after expiring).
    #[error("drop box not found")]
    DropboxNotFound,
    /// The drop box has expired and is not swept yet.
    #[error("drop box expired")]
    DropboxExpired,
    /// The drop box holds its most items (arrived and reserved); the limit.
    #[error("drop box full ({0} items)")]
    DropboxFull(u32),
    /// The item would pass the drop box's byte limit; the bytes still free.
    #[error("drop box too large ({0} bytes free)")]
    DropboxTooLarge(u64),
    /// The drop box has no item with that clip.
    #[error("drop-box item not found")]
    DropItemNotFound,
    /// The owner token is missing or wrong.
    #[error("owner token required")]
    OwnerRequired,
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Blob I/O failed.
    #[error("storage failure: {0}")]
    Blob(BlobError),
    /// The object store that holds the content cannot be reached or failed; the request may
    /// succeed later, and nothing was half-made.
    #[error("{0}")]
    StoreUnavailable(String),
    /// A background task failed.
    #[error("internal task failure: {0}")]
    Task(String),
}

impl From<BlobError> for ServiceError {
    fn from(e: BlobError) -> Self {
        match e {
            BlobError::TooLarge(n) => ServiceError::ChunkTooLarge(n),
            BlobError::Interrupted => ServiceError::Interrupted,
            BlobError::NoSpace => {
                ServiceError::InsufficientStorage("the disk is full; try again later".into())
            }
            BlobError::Unavailable(m) => ServiceError::StoreUnavailable(m),
            e => ServiceError::Blob(e),
        }
    }
}

impl ServiceError {
    /// Whether the database has failed for good (sled latches an I/O error or corruption, so
    /// every later write fails too): the process should stop and be restarted.
    pub fn is_fatal(&self) -> bool {
        matches!(self, ServiceError::Store(e) if e.is_fatal())
    }
}

impl From<tokio::task::JoinError> for ServiceError {
    fn from(e: tokio::task::JoinError) -> Self {
        ServiceError::Task(e.to_string())
    }
}
