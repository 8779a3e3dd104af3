//! `GET /api/clip/:id/preview`: the JPEG preview of an unencrypted image clip (see
//! `service::preview`).

use super::clips::{begin, fail};
use super::{respond, ApiError, Ctx, Req, Response, NOSNIFF};
use http::header::{CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderValue, StatusCode};

/// `GET /api/clip/:id/preview`. Never consumes.
pub async fn preview(r: Req) -> Result<Response, ApiError> {
    let id = begin(&r)?;
    let jpeg = r
        .state
        .qopy
        .preview(id)
        .await
        .map_err(|e| fail(&r.state, r.ip, &id, e, Ctx::Clip))?;
    let len = jpeg.len();
    let mut resp = respond(
        StatusCode::OK,
        jpeg,
        // The clip may expire or be deleted at any time: no shared or long-lived copies.
        &[
            (CONTENT_TYPE, "image/jpeg"),
            (CACHE_CONTROL, "private, max-age=60"),
            (NOSNIFF, "nosniff"),
        ],
    );
    resp.headers_mut()
        .insert(CONTENT_LENGTH, HeaderValue::from(len));
    Ok(resp)
}
