//! The admin API: login check, statistics, the latest clips (with IDs shortened so the list
//! cannot be used to fetch or burn clips), system figures, and an on-demand sweep. The token
//! comes from the configuration; without one, every admin route answers 503. A wrong password
//! or bearer token, on any admin route, counts against one budget per address and one
//! server-wide; once it is used up, admin requests get 429 with `Retry-After`.

use super::{ok_json, parse_json, ApiError, Ctx, Response, State};
use crate::service::ServiceError;
use crate::store::counter;
use crate::sweeper::{sweep, SweepKind};
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

fn pct(x: u64, total: u64) -> u64 {
    (x * 100 + total / 2).checked_div(total).unwrap_or(0)
}

/// `GET /api/admin/stats`.
pub async fn stats(state: State, ip: IpAddr, auth: Option<String>) -> Result<Response, ApiError> {
    authorize(&state, ip, auth)?;
    let body = state
        .qopy
        .blocking(|q| {
            let s = &q.store;
            let get = |name| s.counter(name);
            let total = get(counter::TOTAL_CLIPS)?;
            let password = get(counter::PASSWORD)?;
            let quick = get(counter::QUICK_SHARE)?;
            let (hits, misses) = q.cache.stats();
            Ok(json!({
                "totalClips": total,
                "activeClips": s.clip_count(),
                "totalAccesses": get(counter::TOTAL_ACCESSES)?,
                "passwordClips": password,
                "passwordPercentage": pct(password, total),
                "quickShareClips": quick,
                "quickSharePercentage": pct(quick, total),
                "oneTimeClips": get(counter::ONE_TIME)?,
                "normalClips": get(counter::NORMAL)?,
                "activeUploads": s.session_count(),
                "storedBytes": get(counter::STORED_BYTES)?,
                "cacheHits": hits,
                "cacheMisses": misses,
                "lastUpdated": q.now(),
            }))
        })
        .await
        .map_err(svc)?;
    Ok(ok_json(body))
}

/// `GET /api/admin/clips`: the 20 newest clips, IDs shortened.
pub async fn clips(state: State, ip: IpAddr, auth: Option<String>) -> Result<Response, ApiError> {
    authorize(&state, ip, auth)?;
    let q = state.qopy.clone();
    let list = q
        .blocking(|q| {
            let mut all = Vec::new();
            for c in q.store.all_clips() {
                all.push(c?);
            }
            all.sort_by_key(|c| std::cmp::Reverse(c.created_at));
            all.truncate(20);
            let now = q.now();
            let mut out = Vec::new();
            for c in all {
                let (count, _) = q.store.access_of(&c.id)?;
                out.push(json!({
                    "clip_id": c.id.redacted(),
                    "created_at": c.created_at,
                    "expiration_time": c.expires_at,
                    "is_expired": now >= c.expires_at,
                    "access_count": count,
                    "has_password": c.access.is_some(),
                    "one_time": c.one_time,
                    "quick_share": c.quick_share,
                    "content_type": c.kind.as_str(),
                    "size": c.size,
                }));
            }
            Ok(out)
        })
        .await
        .map_err(svc)?;
    Ok(ok_json(Value::Array(list)))
}

/// `GET /api/admin/system`.
pub async fn system(state: State, ip: IpAddr, auth: Option<String>) -> Result<Response, ApiError> {
    authorize(&state, ip, auth)?;
    let body = state
        .qopy
        .blocking(|q| {
            let last = q.store.counter(counter::LAST_SWEEP)?;
            Ok(json!({
                "status": "OK",
                "version": super::health::VERSION,
                "environment": "production",
                "database": "Connected",
                "lastCleanup": if last == 0 { Value::Null } else { json!(last) },
                "sweeps": q.store.counter(counter::SWEEPS)?,
                "currentTime": q.now(),
                "uptime": q.started.elapsed().as_secs_f64(),
                "databaseBytes": q.store.size_on_disk(),
                "freeDiskBytes": q.blobs.free_space().ok(),
                "minFreeDisk": q.config.min_free_disk,
                "maxStorage": q.config.max_storage,
            }))
        })
        .await
        .map_err(svc)?;
    Ok(ok_json(body))
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
        .blocking(|q| Ok(sweep(q, SweepKind::Full)?))
        .await
        .map_err(svc)?;
    Ok(ok_json(json!({ "success": true, "report": report })))
}
