//! The drop-box part of the contract: creating a box, its public description, and the
//! owner's listing of items. Binary values (the public key, wrapped keys) are base64url
//! without padding.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Body of `POST /api/dropbox`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DropboxRequest {
    /// An expiry name from GET /api/config, e.g. `1hr`; the default expiry when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiration: Option<String>,
    /// Most bytes the box may hold, at least 1; dropbox_max_bytes when absent or larger.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1)]
    pub max_bytes: Option<u64>,
    /// Most items the box may hold at once, at least 1; dropbox_max_items when absent or
    /// larger.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1)]
    pub max_items: Option<u64>,
    /// The receiver's P-256 public key, uncompressed (65 bytes), base64url without padding.
    #[schema(pattern = "^[A-Za-z0-9_-]{87}$")]
    pub public_key: String,
}

/// Answer of `POST /api/dropbox` (201).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DropboxCreated {
    /// ms since the epoch.
    pub expires_at: u64,
    /// The box's ID: 8 characters of Crockford base32.
    #[schema(pattern = "^[0-9A-HJKMNP-TV-Z]{8}$")]
    pub id: String,
    /// Most bytes the box holds.
    pub max_bytes: u64,
    /// Most items the box holds at once.
    pub max_items: u64,
    /// The owner token (64 hex characters), given once: send it as X-Qopy-Owner to list and
    /// delete.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub owner_token: String,
    /// The sender page: `{base}/drop/{id}`.
    pub url: String,
}

/// Answer of `GET /api/dropbox/{id}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DropboxInfo {
    /// ms since the epoch.
    pub expires_at: u64,
    /// The box's ID.
    #[schema(pattern = "^[0-9A-HJKMNP-TV-Z]{8}$")]
    pub id: String,
    /// Items that arrived and are still there.
    pub items: u64,
    /// Most bytes the box holds.
    pub max_bytes: u64,
    /// Most items the box holds at once.
    pub max_items: u64,
    /// The receiver's public key, base64url without padding.
    pub public_key: String,
    /// Bytes of the arrived items and of the uploads in progress into the box.
    pub used_bytes: u64,
}

/// One item of a box.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DropItem {
    /// The clip holding the item (download it with POST /api/file/{clipId}).
    #[schema(pattern = "^[A-Z0-9]{10}$")]
    pub clip_id: String,
    /// ms since the epoch when it arrived.
    pub created_at: u64,
    /// Its number in the box, from 1, in the order items arrived.
    pub seq: u64,
    /// Bytes stored.
    pub size: u64,
    /// The content key wrapped to the box's public key, base64url without padding.
    pub wrapped_key: String,
}

/// Answer of `GET /api/dropbox/{id}/items`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DropItems {
    /// ms since the epoch when the box expires.
    pub expires_at: u64,
    /// The items after `after`, in order, at most 200.
    pub items: Vec<DropItem>,
    /// The seq of the last item listed, or `after` when none: the next request's `after`.
    pub next: u64,
}
