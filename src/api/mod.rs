//! The HTTP API's contract: every JSON body the server answers or accepts, as serde types.
//! The handlers serialize these, the command-line client (`client::api`) sends and reads
//! these, and the OpenAPI document's schemas are generated from these (`utoipa`), so the three
//! cannot drift apart. Field names are the original's (camelCase, snake_case in the admin
//! clip list); fields are declared in alphabetical order, the order the server has always
//! written them in. Every field of an answer is required when read, except in `ClipInfo` and
//! `ErrorBody`, which the client also reads from the original server.
//!
//! The server accepts more than the request types say, as the original did: booleans also as
//! `"true"`/`"false"`/`"1"`/`"0"` and 1/0, sizes also as numeric strings (see
//! `http::uploads`).

mod dropbox;

pub use dropbox::{DropItem, DropItems, DropboxCreated, DropboxInfo, DropboxRequest};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Every error answer: `{"error", "message"}`, with extra fields for some errors.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct ErrorBody {
    /// Stable short code, e.g. `Upload incomplete`.
    #[schema(required = true)]
    pub error: String,
    /// Extra explanation (obsolete GET /api/file/{id}).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// Human-readable explanation.
    #[schema(required = true)]
    pub message: String,
    /// Complete: the chunk numbers not received.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing_chunks: Option<Vec<u32>>,
    /// The clip needs an access code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requires_access_code: Option<bool>,
}

/// `{"success": true, "message"}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct SuccessMessage {
    /// What was done.
    pub message: String,
    /// Always true.
    pub success: bool,
}

/// Body of `POST /api/upload/initiate`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InitiateRequest {
    /// `text` (the default) or `file`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^(text|file)$")]
    pub content_type: Option<String>,
    /// Send into this drop box (its ID): the item expires with the box (expiration is
    /// ignored), filesize is required, and quickShare, hasPassword, oneTime and maxDownloads
    /// are refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dropbox: Option<String>,
    /// An expiry name from GET /api/config, e.g. `1hr`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiration: Option<String>,
    /// Cleaned by the file-name rule: format characters removed, white space trimmed,
    /// control characters, U+2028/U+2029, / and \ made _; 1-255 characters once cleaned,
    /// not . or ..
    #[schema(min_length = 1, max_length = 255)]
    pub filename: String,
    /// Declared size in bytes (a numeric string is accepted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filesize: Option<u64>,
    /// The clip will need an access code (a loose boolean).
    #[serde(default)]
    pub has_password: bool,
    /// Text content even when contentType is file (a loose boolean).
    #[serde(default)]
    pub is_text_content: bool,
    /// How many downloads the clip allows, 1 to 1000 (a numeric string is accepted); null
    /// or absent for no limit. `oneTime` is the same as 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 1000)]
    pub max_downloads: Option<u32>,
    /// The content's MIME type.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 100)]
    pub mime_type: Option<String>,
    /// Deleted by its first download (a loose boolean); the same as `maxDownloads: 1`.
    #[serde(default)]
    pub one_time: bool,
    /// A 6-character ID and 5 minutes (a loose boolean).
    #[serde(default)]
    pub quick_share: bool,
    /// Chunk count; from filesize when absent, else 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_chunks: Option<u64>,
    /// The content key wrapped to the drop box's public key (base64url without padding,
    /// 94-300 bytes); required with dropbox, refused without.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wrapped_key: Option<String>,
}

/// Answer of `POST /api/upload/initiate`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InitiateResponse {
    /// Bytes per chunk.
    pub chunk_size: u64,
    /// Expiry if completed now, ms since the epoch.
    pub expires_at: u64,
    /// Deleted by its first download.
    pub one_time: bool,
    /// A Quick Share session.
    pub quick_share: bool,
    /// Always true.
    pub success: bool,
    /// Chunk count.
    pub total_chunks: u64,
    /// The session's ID (its only capability).
    #[schema(pattern = "^[0-9A-F]{16}$")]
    pub upload_id: String,
    /// `/api/upload/chunk/{uploadId}`.
    pub upload_url: String,
}

/// Answer of a chunk upload.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChunkResponse {
    /// The chunk stored.
    pub chunk_number: u64,
    /// Always true.
    pub received: bool,
    /// Always true.
    pub success: bool,
    /// Announced chunk count.
    pub total_chunks: u64,
    /// Distinct chunks received so far.
    pub uploaded_chunks: u64,
}

/// Body of `POST /api/upload/complete/{uploadId}`; empty is `{}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CompleteRequest {
    /// PBKDF2-HMAC-SHA512(code, pbkdf2Salt, 600000, 64) in hex; required when
    /// requiresAccessCode is true.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^[0-9a-f]{128}$")]
    pub access_code_hash: Option<String>,
    /// Text content (a loose boolean; informational).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_text_upload: Option<bool>,
    /// Legacy: the access-code hash, used only when none of the other fields is present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// The clip needs an access code (a loose boolean).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requires_access_code: Option<bool>,
}

/// Answer of `POST /api/upload/complete/{uploadId}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CompleteResponse {
    /// The clip's ID.
    #[schema(pattern = "^[A-Z0-9]{6}$|^[A-Z0-9]{10}$")]
    pub clip_id: String,
    /// ms since the epoch.
    pub expires_at: u64,
    /// The stored file name.
    pub filename: String,
    /// An access code is required.
    pub has_password: bool,
    /// Always true (the original's field).
    pub is_file: bool,
    /// Deleted by its first download.
    pub one_time: bool,
    /// A Quick Share clip.
    pub quick_share: bool,
    /// Bytes stored (sum of the chunks).
    pub size: u64,
    /// Always true.
    pub success: bool,
    /// Share link: `{base}/clip/{id}` or `{base}/file/{id}`.
    pub url: String,
}

/// One stored chunk of a session.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct StoredChunk {
    /// Its number.
    pub n: u32,
    /// Lowercase hex SHA-256 of its bytes.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub sha256: String,
    /// Its length.
    pub size: u64,
}

/// Answer of `GET /api/upload/{uploadId}/status`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UploadStatus {
    /// Bytes per chunk.
    pub chunk_size: u64,
    /// Each stored chunk's size and SHA-256, so a resuming client can check it is sending
    /// the same file.
    #[serde(default)]
    pub chunks: Vec<StoredChunk>,
    /// Lifetime the clip will get at completion, in ms.
    pub expiration: u64,
    /// Deleted by its first download.
    pub one_time: bool,
    /// Percent, 0-100.
    pub progress: u64,
    /// A Quick Share session.
    pub quick_share: bool,
    /// Chunk numbers received, ascending (for resume).
    pub received_chunks: Vec<u32>,
    /// `uploading` or `ready`.
    #[schema(pattern = "^(uploading|ready)$")]
    pub status: String,
    /// Always true.
    pub success: bool,
    /// Announced chunk count.
    pub total_chunks: u32,
    /// The session's ID.
    pub upload_id: String,
    /// Distinct chunks received.
    pub uploaded_chunks: u32,
}

/// Answer of `GET /api/clip/{id}/info`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct ClipInfo {
    /// The clip's ID.
    #[schema(pattern = "^[A-Z0-9]{6}$|^[A-Z0-9]{10}$")]
    pub clip_id: String,
    /// `text` or `file`.
    #[schema(pattern = "^(text|file)$")]
    pub content_type: String,
    /// Downloads that may still start; null when the clip has no download limit. Finished
    /// downloads count, and those in progress until their claim window ends unfinished.
    #[schema(required = true)]
    pub downloads_remaining: Option<u32>,
    /// End-to-end encrypted (false for plain `curl` uploads).
    pub encrypted: bool,
    /// ms since the epoch.
    pub expires_at: u64,
    /// An access code is required.
    pub has_password: bool,
    /// The download limit (1 for one-time clips); null for none.
    #[schema(required = true)]
    pub max_downloads: Option<u32>,
    /// Deleted by its first download (the download limit is 1).
    pub one_time: bool,
    /// A Quick Share clip.
    pub quick_share: bool,
    /// Always true.
    pub success: bool,
}

impl Default for ClipInfo {
    /// The original server does not say `encrypted`: everything it stores is.
    fn default() -> ClipInfo {
        ClipInfo {
            clip_id: String::new(),
            content_type: String::new(),
            downloads_remaining: None,
            encrypted: true,
            expires_at: 0,
            has_password: false,
            max_downloads: None,
            one_time: false,
            quick_share: false,
            success: false,
        }
    }
}

/// Answer of `GET|POST /api/clip/{id}`: where and what the content is.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClipDescriptor {
    /// `text` or `file`.
    #[schema(pattern = "^(text|file)$")]
    pub content_type: String,
    /// End-to-end encrypted.
    pub encrypted: bool,
    /// ms since the epoch.
    pub expires_at: u64,
    /// The stored file name.
    pub filename: String,
    /// Bytes.
    pub filesize: u64,
    /// Present (true) for text clips.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_text_file: Option<bool>,
    /// The content's MIME type.
    pub mime_type: String,
    /// Deleted by its first download.
    pub one_time: bool,
    /// `/api/file/{id}`: where to POST for the content.
    pub redirect_to: String,
    /// Always true.
    pub success: bool,
}

/// Body of `POST /api/clip/{id}` and `POST /api/file/{id}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccessCodeRequest {
    /// The access-code hash (128 lowercase hex) when the clip has one; may be omitted
    /// otherwise.
    pub access_code: Option<String>,
}

/// Answer of `GET /api/file/{id}/info`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FileInfo {
    /// The clip's ID.
    #[schema(pattern = "^[A-Z0-9]{6}$|^[A-Z0-9]{10}$")]
    pub clip_id: String,
    /// End-to-end encrypted.
    pub encrypted: bool,
    /// ms since the epoch.
    pub expires_at: u64,
    /// The stored file name.
    pub filename: String,
    /// Bytes.
    pub filesize: u64,
    /// An access code is required.
    pub has_password: bool,
    /// The content's MIME type.
    pub mime_type: String,
    /// Deleted by its first download.
    pub one_time: bool,
    /// Always true.
    pub success: bool,
}

/// Body of `POST /api/admin/auth`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct AdminAuthRequest {
    /// The admin token.
    #[schema(min_length = 1, max_length = 128)]
    pub password: String,
}

/// Answer of `GET /api/admin/stats`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdminStats {
    /// Clips stored now.
    pub active_clips: u64,
    /// Open upload sessions.
    pub active_uploads: u64,
    /// Metadata cache hits.
    pub cache_hits: u64,
    /// Metadata cache misses.
    pub cache_misses: u64,
    /// ms since the epoch.
    pub last_updated: u64,
    /// Other clips.
    pub normal_clips: u64,
    /// One-time clips.
    pub one_time_clips: u64,
    /// Clips with an access code.
    pub password_clips: u64,
    /// Percent of totalClips.
    pub password_percentage: u64,
    /// Quick Share clips.
    pub quick_share_clips: u64,
    /// Percent of totalClips.
    pub quick_share_percentage: u64,
    /// Bytes of stored content.
    pub stored_bytes: u64,
    /// Content downloads.
    pub total_accesses: u64,
    /// Clips ever created.
    pub total_clips: u64,
}

/// One clip of `GET /api/admin/clips`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct AdminClip {
    /// Downloads.
    pub access_count: u64,
    /// Shortened ID: it cannot be used to fetch the clip.
    pub clip_id: String,
    /// `text` or `file`.
    pub content_type: String,
    /// ms since the epoch.
    pub created_at: u64,
    /// ms since the epoch.
    pub expiration_time: u64,
    /// An access code is required.
    pub has_password: bool,
    /// Expired, not yet swept.
    pub is_expired: bool,
    /// Deleted by its first download.
    pub one_time: bool,
    /// A Quick Share clip.
    pub quick_share: bool,
    /// Bytes.
    pub size: u64,
}

/// Answer of `GET /api/admin/system`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdminSystem {
    /// ms since the epoch.
    pub current_time: u64,
    /// `Connected`.
    pub database: String,
    /// Size of the database on disk.
    pub database_bytes: u64,
    /// `production`.
    pub environment: String,
    /// Free bytes of the data directory's file system, when known.
    #[schema(required = true)]
    pub free_disk_bytes: Option<u64>,
    /// Last sweep, ms since the epoch; null before the first.
    #[schema(required = true)]
    pub last_cleanup: Option<u64>,
    /// Configured storage quota; null when unlimited.
    #[schema(required = true)]
    pub max_storage: Option<u64>,
    /// Configured free-disk reserve.
    pub min_free_disk: u64,
    /// `OK`.
    pub status: String,
    /// Sweeps run.
    pub sweeps: u64,
    /// Seconds since start.
    pub uptime: f64,
    /// The server's version.
    pub version: String,
}

/// What a sweep removed.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SweepReport {
    /// Abandoned upload sessions removed.
    pub abandoned_sessions: u64,
    /// Expired drop boxes removed, with their items.
    #[serde(default)]
    pub dropped_boxes: u64,
    /// Clips whose download claims' windows closed (a one-time clip is removed then).
    pub ended_claims: u64,
    /// Expired clips removed.
    pub expired_clips: u64,
    /// Unowned files and directories removed.
    pub orphans: u64,
}

/// Answer of `POST /api/admin/sweep`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct SweepResponse {
    /// What the sweep removed.
    pub report: SweepReport,
    /// Always true.
    pub success: bool,
}

/// Answer of `GET /health`: `OK` with figures, or `ERROR` (503) with what failed.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    /// Clips stored (when OK; null when the figures took too long).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<u64>)]
    pub clips: Option<Option<u64>>,
    /// `connected`, `disconnected` or `stalled`.
    pub database: String,
    /// What failed (when ERROR).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Free bytes of the data directory's file system (when OK).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<u64>)]
    pub free_disk_bytes: Option<Option<u64>>,
    /// `OK` or `ERROR`.
    pub status: String,
    /// Bytes of stored content (when OK).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<u64>)]
    pub stored_bytes: Option<Option<u64>>,
    /// RFC 3339.
    pub timestamp: String,
    /// Open upload sessions (when OK).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<u64>)]
    pub upload_sessions: Option<Option<u64>>,
    /// Seconds since start.
    pub uptime: f64,
    /// The server's version.
    pub version: String,
}

/// Answer of `GET /api/health`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct ApiHealth {
    /// `OK`.
    pub status: String,
    /// RFC 3339.
    pub timestamp: String,
    /// Seconds since start.
    pub uptime: f64,
    /// The server's version.
    pub version: String,
}

/// Answer of `GET /ping`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct Ping {
    /// Always true.
    pub pong: bool,
    /// RFC 3339.
    pub timestamp: String,
    /// Seconds since start.
    pub uptime: f64,
}

/// One expiry option.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct ExpiryOption {
    /// Lifetime in ms.
    pub ms: u64,
    /// Its name, e.g. `1hr`.
    pub name: String,
}

/// Answer of `GET /api/config`: what a client needs to know.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PublicConfig {
    /// Bytes per chunk.
    pub chunk_size: u64,
    /// The expiry name used when none is given.
    pub default_expiry: String,
    /// The lifetimes a clip may have.
    pub expiry_options: Vec<ExpiryOption>,
    /// Largest chunk count a session may announce.
    pub max_chunks: u64,
    /// Bytes.
    pub max_file_size: u64,
    /// Characters.
    pub max_text_chars: u64,
    /// Salt of client-side access-code hashing.
    pub pbkdf2_salt: String,
    /// Lifetime of Quick Share clips.
    pub quick_share_expiry_ms: u64,
}

/// Answer of `GET /api/tls`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TlsInfo {
    /// Whether this server speaks HTTPS itself (the `tls` key).
    pub enabled: bool,
    /// SHA-256 of the certificate (DER), uppercase hex pairs joined by `:`; null when off.
    #[schema(required = true)]
    pub fingerprint_sha256: Option<String>,
    /// `off`, `files` or `self-signed`.
    #[schema(pattern = "^(off|files|self-signed)$")]
    pub mode: String,
}

/// The schemas of the contract, for the OpenAPI document's components.
pub fn schemas() -> Vec<(
    &'static str,
    utoipa::openapi::RefOr<utoipa::openapi::Schema>,
)> {
    vec![
        ErrorBody::schema(),
        SuccessMessage::schema(),
        InitiateRequest::schema(),
        InitiateResponse::schema(),
        ChunkResponse::schema(),
        CompleteRequest::schema(),
        CompleteResponse::schema(),
        StoredChunk::schema(),
        UploadStatus::schema(),
        ClipInfo::schema(),
        ClipDescriptor::schema(),
        AccessCodeRequest::schema(),
        FileInfo::schema(),
        AdminAuthRequest::schema(),
        AdminStats::schema(),
        AdminClip::schema(),
        AdminSystem::schema(),
        SweepReport::schema(),
        SweepResponse::schema(),
        Health::schema(),
        ApiHealth::schema(),
        Ping::schema(),
        ExpiryOption::schema(),
        PublicConfig::schema(),
        TlsInfo::schema(),
        DropboxRequest::schema(),
        DropboxCreated::schema(),
        DropboxInfo::schema(),
        DropItem::schema(),
        DropItems::schema(),
    ]
}
