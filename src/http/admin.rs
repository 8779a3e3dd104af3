//! The admin API: login check, statistics, the latest clips (with IDs shortened so the list
//! cannot be used to fetch or burn clips), system figures, and an on-demand sweep. The token
//! comes from the configuration; without one, every admin route answers 503. A wrong password
//! or bearer token, on any admin route, counts against one budget per address and one
//! server-wide; once it is used up, admin requests get 429 with `Retry-After`.

use super::{ok_json, parse_json, ApiError, Ctx, Response, State};
use crate::service::ServiceError;
use crate::service::SweepKind;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{json, Value};
use std::net::IpAddr;

fn svc(e: ServiceError) -> ApiError {
    ApiError::from_service(e, Ctx::Admin)
}

/// Checks `Authorization: Bearer <token>`: refused while the address (or the server) is
/// blocked for wrong admin credentials; a wrong token counts as one. A request without an
/// `Authorization` header guesses nothing and is not counted.
fn authorize(state: &State, ip: IpAddr, auth: Option<String>) -> Result<(), ApiError> {
    state.limits.check_admin_not_blocked(ip)?;
    let token = auth
        .as_deref()
        .and_then(|a| a.strip_prefix("Bearer "))
        .unwrap_or("");
    state.qopy.check_admin(token).map_err(|e| {
        if matches!(e, ServiceError::AdminDenied) && auth.is_some() {
            state.limits.record_admin_failure(ip);
        }
        svc(e)
    })
}

#[derive(Deserialize)]
struct AuthBody {
    password: Option<Value>,
}

/// `POST /api/admin/auth` with `{password}`. A wrong password counts against the admin budget.
pub async fn auth(state: State, ip: IpAddr, body: Bytes) -> Result<Response, ApiError> {
    state.limits.check_admin_not_blocked(ip)?;
    let b: AuthBody = parse_json(&body)?;
    let password = match b.password {
        Some(Value::String(p)) if !p.is_empty() && p.chars().count() <= 128 => p,
        _ => return Err(ApiError::validation("password must be 1-128 characters")),
    };
    state.qopy.check_admin(&password).map_err(|e| match e {
        ServiceError::AdminDenied => {
            state.limits.record_admin_failure(ip);
            ApiError::new(
                http::StatusCode::UNAUTHORIZED,
                "Authentication failed",
                "Invalid admin password",
            )
        }
        e => svc(e),
    })?;
    Ok(ok_json(
        json!({ "success": true, "message": "Authentication successful" }),
    ))
}

/// `GET /api/admin/stats`.
pub async fn stats(state: State, ip: IpAddr, auth: Option<String>) -> Result<Response, ApiError> {
    authorize(&state, ip, auth)?;
    let body = state.qopy.blocking(|q| q.stats()).await.map_err(svc)?;
    Ok(ok_json(json!(body)))
}

/// `GET /api/admin/clips`: the 20 newest clips, IDs shortened.
pub async fn clips(state: State, ip: IpAddr, auth: Option<String>) -> Result<Response, ApiError> {
    authorize(&state, ip, auth)?;
    let q = state.qopy.clone();
    let list = q.blocking(|q| q.recent_clips(20)).await.map_err(svc)?;
    Ok(ok_json(json!(list)))
}

/// `GET /api/admin/system`.
pub async fn system(state: State, ip: IpAddr, auth: Option<String>) -> Result<Response, ApiError> {
    authorize(&state, ip, auth)?;
    let s = state.qopy.blocking(|q| q.system()).await.map_err(svc)?;
    Ok(ok_json(json!({
        "status": "OK",
        "version": super::health::VERSION,
        "environment": "production",
        "database": "Connected",
        "lastCleanup": s.last_sweep,
        "sweeps": s.sweeps,
        "currentTime": s.current_time,
        "uptime": s.uptime,
        "databaseBytes": s.database_bytes,
        "freeDiskBytes": s.free_disk_bytes,
        "minFreeDisk": s.min_free_disk,
        "maxStorage": s.max_storage,
    })))
}

/// `POST /api/admin/sweep`: runs a full sweep now and reports what it removed.
pub async fn sweep_now(
    state: State,
    ip: IpAddr,
    auth: Option<String>,
) -> Result<Response, ApiError> {
    authorize(&state, ip, auth)?;
    let report = state
        .qopy
        .blocking(|q| Ok(q.sweep(SweepKind::Full)?))
        .await
        .map_err(svc)?;
    Ok(ok_json(json!({ "success": true, "report": report })))
}
