//! `GET /api/clip/:id/preview`: the JPEG preview of an unencrypted image clip (see
//! `service::preview`).

use super::clips::{begin, fail};
use super::{ApiError, Ctx, Req, Response};
use http::HeaderValue;

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
    let mut r = Response::new(jpeg.into());
    let h = r.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("image/jpeg"),
    );
    h.insert(http::header::CONTENT_LENGTH, HeaderValue::from(len));
    // The clip may expire or be deleted at any time: no shared or long-lived copies.
    h.insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=60"),
    );
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    Ok(r)
}
