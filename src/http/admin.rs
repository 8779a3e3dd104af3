//! The admin API: login check, statistics, the latest clips (with IDs shortened so the list
//! cannot be used to fetch or burn clips), system figures, and an on-demand sweep. The token
//! comes from the configuration; without one, every admin route answers 503. A wrong password
//! or bearer token, on any admin route, counts against one budget per address and one
//! server-wide; once it is used up, admin requests get 429 with `Retry-After`.

use super::{json, parse_json, ApiError, Ctx, Req, Response};
use crate::api;
use crate::service::ServiceError;
use crate::service::SweepKind;
use serde::Deserialize;
use serde_json::Value;

fn svc(e: ServiceError) -> ApiError {
    ApiError::from_service(e, Ctx::Admin)
}

/// Checks `Authorization: Bearer <token>` (the route table has refused the request while
/// the address, or the server, is blocked for wrong admin credentials); a wrong token counts
/// as one. A request without an `Authorization` header guesses nothing and is not counted.
fn authorize(r: &Req) -> Result<(), ApiError> {
    let auth = r.header("authorization")?;
    let token = auth.and_then(|a| a.strip_prefix("Bearer ")).unwrap_or("");
    r.state.qopy.check_admin(token).map_err(|e| {
        if matches!(e, ServiceError::AdminDenied) && auth.is_some() {
            r.state.limits.record_admin_failure(r.ip);
        }
        svc(e)
    })
}

#[derive(Deserialize)]
struct AuthBody {
    password: Option<Value>,
}

/// `POST /api/admin/auth` with `{password}`. A wrong password counts against the admin budget.
pub async fn auth(mut r: Req) -> Result<Response, ApiError> {
    let b: AuthBody = parse_json(&r.small_body().await?)?;
    let password = match b.password {
        Some(Value::String(p)) if !p.is_empty() && p.chars().count() <= 128 => p,
        _ => return Err(ApiError::validation("password must be 1-128 characters")),
    };
    r.state.qopy.check_admin(&password).map_err(|e| match e {
        ServiceError::AdminDenied => {
            r.state.limits.record_admin_failure(r.ip);
            ApiError::admin_login_failed()
        }
        e => svc(e),
    })?;
    Ok(json(&api::SuccessMessage {
        message: "Authentication successful".into(),
        success: true,
    }))
}

/// `GET /api/admin/stats`.
pub async fn stats(r: Req) -> Result<Response, ApiError> {
    authorize(&r)?;
    let body = r.state.qopy.blocking(|q| q.stats()).await.map_err(svc)?;
    Ok(json(&body))
}

/// `GET /api/admin/clips`: the 20 newest clips, IDs shortened.
pub async fn clips(r: Req) -> Result<Response, ApiError> {
    authorize(&r)?;
    let list = r
        .state
        .qopy
        .blocking(|q| q.recent_clips(20))
        .await
        .map_err(svc)?;
    Ok(json(&list))
}

/// `GET /api/admin/system`.
pub async fn system(r: Req) -> Result<Response, ApiError> {
    authorize(&r)?;
    let s = r.state.qopy.blocking(|q| q.system()).await.map_err(svc)?;
    Ok(json(&api::AdminSystem {
        current_time: s.current_time,
        database: "Connected".into(),
        database_bytes: s.database_bytes,
        environment: "production".into(),
        free_disk_bytes: s.free_disk_bytes,
        last_cleanup: s.last_sweep,
        max_storage: s.max_storage,
        min_free_disk: s.min_free_disk,
        status: "OK".into(),
        sweeps: s.sweeps,
        uptime: s.uptime,
        version: super::health::VERSION.into(),
    }))
}

/// `POST /api/admin/sweep`: runs a full sweep now and reports what it removed.
pub async fn sweep_now(r: Req) -> Result<Response, ApiError> {
    authorize(&r)?;
    let report = r
        .state
        .qopy
        .blocking(|q| Ok(q.sweep(SweepKind::Full)?))
        .await
        .map_err(svc)?;
    Ok(json(&api::SweepResponse {
        report: api::SweepReport {
            abandoned_sessions: report.abandoned_sessions,
            ended_claims: report.ended_claims,
            dropped_boxes: report.dropped_boxes,
            expired_clips: report.expired_clips,
            orphans: report.orphans,
        },
        success: true,
    }))
}
