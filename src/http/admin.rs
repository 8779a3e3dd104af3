//! The admin API: login check, statistics, the latest clips (with IDs shortened so the list
//! cannot be used to fetch or burn clips), system figures, and an on-demand sweep. The token
//! comes from the configuration; without one, every admin route answers 503. A wrong password
//! or bearer token, on any admin route, counts against one budget per address and one
//! server-wide; once it is used up, admin requests get 429 with `Retry-After`.

use super::{json, parse_json, ApiError, Ctx, Req, Response};
use crate::api;
use crate::service::ServiceError;
use crate::store::counter;
use crate::sweeper::{sweep, SweepKind};
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

fn pct(x: u64, total: u64) -> u64 {
    (x * 100 + total / 2).checked_div(total).unwrap_or(0)
}

/// `GET /api/admin/stats`.
pub async fn stats(r: Req) -> Result<Response, ApiError> {
    authorize(&r)?;
    let body = r
        .state
        .qopy
        .blocking(|q| {
            let s = &q.store;
            let get = |name| s.counter(name);
            let total = get(counter::TOTAL_CLIPS)?;
            let password = get(counter::PASSWORD)?;
            let quick = get(counter::QUICK_SHARE)?;
            let (hits, misses) = q.cache.stats();
            Ok(api::AdminStats {
                active_clips: s.clip_count() as u64,
                active_uploads: s.session_count() as u64,
                cache_hits: hits,
                cache_misses: misses,
                last_updated: q.now(),
                normal_clips: get(counter::NORMAL)?,
                one_time_clips: get(counter::ONE_TIME)?,
                password_clips: password,
                password_percentage: pct(password, total),
                quick_share_clips: quick,
                quick_share_percentage: pct(quick, total),
                stored_bytes: get(counter::STORED_BYTES)?,
                total_accesses: get(counter::TOTAL_ACCESSES)?,
                total_clips: total,
            })
        })
        .await
        .map_err(svc)?;
    Ok(json(&body))
}

/// `GET /api/admin/clips`: the 20 newest clips, IDs shortened.
pub async fn clips(r: Req) -> Result<Response, ApiError> {
    authorize(&r)?;
    let q = r.state.qopy.clone();
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
                out.push(api::AdminClip {
                    access_count: count,
                    clip_id: c.id.redacted(),
                    content_type: c.kind.as_str().into(),
                    created_at: c.created_at,
                    expiration_time: c.expires_at,
                    has_password: c.access.is_some(),
                    is_expired: now >= c.expires_at,
                    one_time: c.one_time,
                    quick_share: c.quick_share,
                    size: c.size,
                });
            }
            Ok(out)
        })
        .await
        .map_err(svc)?;
    Ok(json(&list))
}

/// `GET /api/admin/system`.
pub async fn system(r: Req) -> Result<Response, ApiError> {
    authorize(&r)?;
    let body = r
        .state
        .qopy
        .blocking(|q| {
            let last = q.store.counter(counter::LAST_SWEEP)?;
            Ok(api::AdminSystem {
                current_time: q.now(),
                database: "Connected".into(),
                database_bytes: q.store.size_on_disk(),
                environment: "production".into(),
                free_disk_bytes: q.blobs.free_space().ok(),
                last_cleanup: (last != 0).then_some(last),
                max_storage: q.config.max_storage,
                min_free_disk: q.config.min_free_disk,
                status: "OK".into(),
                sweeps: q.store.counter(counter::SWEEPS)?,
                uptime: q.started.elapsed().as_secs_f64(),
                version: super::health::VERSION.into(),
            })
        })
        .await
        .map_err(svc)?;
    Ok(json(&body))
}

/// `POST /api/admin/sweep`: runs a full sweep now and reports what it removed.
pub async fn sweep_now(r: Req) -> Result<Response, ApiError> {
    authorize(&r)?;
    let report = r
        .state
        .qopy
        .blocking(|q| Ok(sweep(q, SweepKind::Full)?))
        .await
        .map_err(svc)?;
    Ok(json(&api::SweepResponse {
        report: api::SweepReport {
            abandoned_sessions: report.abandoned_sessions,
            expired_clips: report.expired_clips,
            orphans: report.orphans,
        },
        success: true,
    }))
}
