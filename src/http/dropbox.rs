//! Drop-box routes: create a box, describe it (public, for the sender page), list its items
//! with long polling, delete an item, delete the box; the last three need the owner token in
//! `X-Qopy-Owner`. Sending into a box goes through the upload routes (`uploads.rs`). Unknown
//! boxes count against the failed-lookup budget, like unknown clips.

use super::{base_url, json, json_status, parse_json, ApiError, Ctx, Req, Response};
use crate::api;
use crate::model::{BoxId, ClipId, DropBox};
use crate::service::ServiceError;
use http::StatusCode;
use serde::Deserialize;
use serde_json::Value;
use std::time::Duration;

/// The header that carries a box's owner token.
pub const OWNER: &str = "x-qopy-owner";

/// Maps a service error; a missing box counts as a failed lookup.
fn fail(r: &Req, e: ServiceError) -> ApiError {
    if matches!(e, ServiceError::DropboxNotFound) {
        r.state.limits.record_failure(r.ip, false);
    }
    ApiError::from_service(e, Ctx::Dropbox)
}

/// The box the path names (refused while the address is blocked for failed lookups).
fn box_id(r: &Req) -> Result<BoxId, ApiError> {
    r.state.limits.check_not_blocked(r.ip, false)?;
    BoxId::parse(r.param(0)).ok_or_else(|| fail(r, ServiceError::DropboxNotFound))
}

/// The owner token sent, if any.
fn owner(r: &Req) -> Result<Option<String>, ApiError> {
    r.header_owned(OWNER)
}

/// A limit field: a positive integer, or absent.
fn limit(v: &Option<Value>, field: &str) -> Result<Option<u64>, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(n) if n >= 1 => Ok(Some(n)),
            _ => Err(ApiError::validation(format!(
                "{field} must be an integer of at least 1"
            ))),
        },
        _ => Err(ApiError::validation(format!(
            "{field} must be an integer of at least 1"
        ))),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateBody {
    public_key: Option<Value>,
    expiration: Option<Value>,
    max_bytes: Option<Value>,
    max_items: Option<Value>,
}

/// `POST /api/dropbox`.
pub async fn create(mut r: Req) -> Result<Response, ApiError> {
    let host = r.header_owned("host")?;
    let b: CreateBody = parse_json(&r.small_body().await?)?;
    let bad_key =
        |m: &str| ApiError::from_service(ServiceError::InvalidPublicKey(m.into()), Ctx::Dropbox);
    let public_key = match &b.public_key {
        Some(Value::String(s)) => {
            crate::v4::base64url_decode(s).ok_or_else(|| bad_key("not base64url"))?
        }
        None | Some(Value::Null) => return Err(bad_key("publicKey is required")),
        Some(_) => return Err(bad_key("publicKey must be a string")),
    };
    let expiration = match &b.expiration {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(ApiError::validation("expiration must be a string")),
    };
    let req = crate::service::DropboxRequest {
        public_key,
        expiration,
        max_bytes: limit(&b.max_bytes, "maxBytes")?,
        max_items: limit(&b.max_items, "maxItems")?,
    };
    let made = r
        .state
        .qopy
        .create_dropbox(req)
        .await
        .map_err(|e| ApiError::from_service(e, Ctx::Dropbox))?;
    let d = &made.dropbox;
    Ok(json_status(
        StatusCode::CREATED,
        &api::DropboxCreated {
            expires_at: d.expires_at,
            id: made.id.to_string(),
            max_bytes: d.max_bytes,
            max_items: d.max_items as u64,
            owner_token: made.owner_token,
            url: format!("{}/drop/{}", base_url(&r.state, host.as_deref()), made.id),
        },
    ))
}

fn info_body(id: BoxId, b: &DropBox) -> api::DropboxInfo {
    api::DropboxInfo {
        expires_at: b.expires_at,
        id: id.to_string(),
        items: b.items as u64,
        max_bytes: b.max_bytes,
        max_items: b.max_items as u64,
        public_key: crate::v4::base64url(&b.public_key),
        used_bytes: b.used_bytes,
    }
}

/// `GET /api/dropbox/{id}`.
pub async fn info(r: Req) -> Result<Response, ApiError> {
    let id = box_id(&r)?;
    let b = r
        .state
        .qopy
        .dropbox_info(id)
        .await
        .map_err(|e| fail(&r, e))?;
    Ok(json(&info_body(id, &b)))
}

fn no_content() -> Response {
    super::respond(StatusCode::NO_CONTENT, bytes::Bytes::new(), &[])
}

/// `DELETE /api/dropbox/{id}`.
pub async fn delete(r: Req) -> Result<Response, ApiError> {
    let id = box_id(&r)?;
    let owner = owner(&r)?;
    r.state
        .qopy
        .delete_dropbox(id, owner)
        .await
        .map_err(|e| fail(&r, e))?;
    Ok(no_content())
}

/// A whole-number query parameter, 0 when absent.
fn query_number(
    q: &std::collections::HashMap<String, String>,
    name: &str,
) -> Result<u64, ApiError> {
    match q.get(name) {
        None => Ok(0),
        Some(v) => v
            .parse()
            .map_err(|_| ApiError::validation(format!("{name} must be a non-negative integer"))),
    }
}

/// `GET /api/dropbox/{id}/items?after=SEQ&wait=SECONDS`.
pub async fn items(r: Req) -> Result<Response, ApiError> {
    let id = box_id(&r)?;
    let owner = owner(&r)?;
    let q = r.query();
    let after = query_number(&q, "after")?;
    let wait = Duration::from_secs(query_number(&q, "wait")?.min(25));
    let listed = r
        .state
        .qopy
        .drop_items(id, owner, after, wait)
        .await
        .map_err(|e| fail(&r, e))?;
    Ok(json(&api::DropItems {
        expires_at: listed.expires_at,
        items: listed
            .items
            .into_iter()
            .map(|i| api::DropItem {
                clip_id: i.clip.to_string(),
                created_at: i.created_at,
                seq: i.seq,
                size: i.size,
                wrapped_key: crate::v4::base64url(&i.wrapped_key),
            })
            .collect(),
        next: listed.next,
    }))
}

/// `DELETE /api/dropbox/{id}/items/{clipId}`.
pub async fn delete_item(r: Req) -> Result<Response, ApiError> {
    let id = box_id(&r)?;
    let owner = owner(&r)?;
    let clip = ClipId::parse(&r.param(1).to_ascii_uppercase())
        .map_err(|_| ApiError::from_service(ServiceError::DropItemNotFound, Ctx::Dropbox))?;
    r.state
        .qopy
        .delete_drop_item(id, owner, clip)
        .await
        .map_err(|e| fail(&r, e))?;
    Ok(no_content())
}

/// `GET /drop/{id}`: the app page (it reads the box from its path) for a well-formed ID in
/// any letter case.
pub async fn page(r: Req) -> Result<Response, ApiError> {
    if BoxId::parse(r.param(0)).is_none() {
        return Err(ApiError::not_found());
    }
    super::assets::page("index.html", r.header_owned("if-none-match")?)
}
