//! Budgets of failures (unknown clip IDs and wrong access codes; wrong admin credentials), per
//! address and server-wide. Unlike the request budgets, a failure budget is only drawn on by
//! failures, and the failure that uses it up blocks the address (or, server-wide, everyone)
//! until the budget has room again: a budget of N lets exactly N failures through.

use super::{address_key, quota};
use crate::config::Rate;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::{StateInformationMiddleware, StateSnapshot};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, RateLimiter};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Failure budgets report how much is left, so an address is blocked by the failure that
/// uses the budget up (a budget of N lets exactly N failures through, not N + 1).
type Counting = DefaultKeyedRateLimiter<IpAddr, StateInformationMiddleware>;
type CountingDirect = DefaultDirectRateLimiter<StateInformationMiddleware>;

/// How long to block after recording one failure: `None` while budget is left.
fn block_after(
    r: Result<StateSnapshot, governor::NotUntil<<DefaultClock as Clock>::Instant>>,
    now: <DefaultClock as Clock>::Instant,
) -> Option<Duration> {
    match r {
        Ok(s) if s.remaining_burst_capacity() == 0 => Some(s.quota().replenish_interval()),
        Ok(_) => None,
        Err(nu) => Some(nu.wait_time_from(now)),
    }
}

/// A budget of failures, per address and server-wide: the failure that uses a budget up
/// blocks the address (or, server-wide, everyone) until the budget has room again.
pub(super) struct FailureBudget {
    per_address: Counting,
    global: CountingDirect,
    blocked: Mutex<HashMap<IpAddr, Instant>>,
    global_blocked_until: Mutex<Option<Instant>>,
}

/// Why a request is refused by a [`FailureBudget`], and for how long.
pub(super) enum Refusal {
    /// The address used up its own budget.
    Address(Duration),
    /// All addresses together used up the server-wide budget.
    Everyone(Duration),
}

impl Refusal {
    /// The `Retry-After` seconds for a wait.
    pub(super) fn retry_after(d: Duration) -> u64 {
        d.as_secs() + 1
    }
}

impl FailureBudget {
    pub(super) fn new(per_address: Rate, global: Rate) -> FailureBudget {
        FailureBudget {
            per_address: RateLimiter::keyed(quota(per_address))
                .with_middleware::<StateInformationMiddleware>(),
            global: RateLimiter::direct(quota(global))
                .with_middleware::<StateInformationMiddleware>(),
            blocked: Mutex::new(HashMap::new()),
            global_blocked_until: Mutex::new(None),
        }
    }

    /// Whether `ip` is refused now: by its own block, or (with `global`) by the server-wide one.
    pub(super) fn refusal(&self, ip: IpAddr, global: bool) -> Option<Refusal> {
        let now = Instant::now();
        if let Some(until) = self.blocked.lock().get(&address_key(ip)) {
            if *until > now {
                return Some(Refusal::Address(*until - now));
            }
        }
        if global {
            if let Some(until) = *self.global_blocked_until.lock() {
                if until > now {
                    return Some(Refusal::Everyone(until - now));
                }
            }
        }
        None
    }

    /// Counts one failure of `ip` against its budget and (with `global`) the server-wide one.
    pub(super) fn record(&self, ip: IpAddr, global: bool) {
        let now = DefaultClock::default().now();
        let key = address_key(ip);
        if let Some(wait) = block_after(self.per_address.check_key(&key), now) {
            self.blocked.lock().insert(key, Instant::now() + wait);
        }
        if global {
            if let Some(wait) = block_after(self.global.check(), now) {
                *self.global_blocked_until.lock() = Some(Instant::now() + wait);
            }
        }
    }

    /// Forgets addresses whose budgets are full again and blocks that have ended.
    pub(super) fn prune(&self) {
        self.per_address.retain_recent();
        self.per_address.shrink_to_fit();
        let now = Instant::now();
        self.blocked.lock().retain(|_, until| *until > now);
    }
}
