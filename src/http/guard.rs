//! Cross-cutting request rules: the Host check against DNS rebinding (`hosts`: 421 for a
//! name the server is not known by), the origin check (same-origin only unless configured,
//! 403 for anything else, never 500), the security headers every response carries, and the
//! rate limits: per-address budgets for each kind of request (an IPv6 /64 counts as one
//! address), budgets of failed lookups and wrong access codes, and a budget of wrong admin
//! credentials, each per address and server-wide.

mod budget;
mod hosts;

pub use hosts::{is_loopback_host, AllowedHosts};

use budget::{FailureBudget, Refusal};

use super::{ApiError, Response};
use crate::config::{Config, Rate};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use http::{HeaderMap, HeaderName, HeaderValue};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

/// The Content-Security-Policy of pages: nothing from another origin, no inline code.
pub const PAGE_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; media-src 'self' blob:; \
object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The Content-Security-Policy of downloads: a sandbox in which nothing runs.
pub const DOWNLOAD_CSP: &str = "default-src 'none'; sandbox; frame-ancestors 'none'";

/// Adds the security headers (without overwriting a stricter one a handler set).
pub fn security_headers(h: &mut HeaderMap) {
    // One allocation for all of them rather than growing step by step.
    h.reserve(SECURITY_HEADER_COUNT + 1);
    let csp = if h.contains_key(http::header::CONTENT_DISPOSITION) {
        DOWNLOAD_CSP
    } else {
        PAGE_CSP
    };
    if !h.contains_key(http::header::CONTENT_SECURITY_POLICY) {
        h.insert(
            http::header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(csp),
        );
    }
    for (name, value) in SECURITY_HEADERS.iter() {
        h.entry(name).or_insert_with(|| value.clone());
    }
}

const SECURITY_HEADER_COUNT: usize = 10;

/// The security headers other than the CSP, parsed once (every response carries them).
static SECURITY_HEADERS: std::sync::LazyLock<[(HeaderName, HeaderValue); SECURITY_HEADER_COUNT]> =
    std::sync::LazyLock::new(|| {
        [
            ("referrer-policy", "no-referrer"),
            ("x-content-type-options", "nosniff"),
            ("x-frame-options", "DENY"),
            ("cross-origin-resource-policy", "same-origin"),
            ("origin-agent-cluster", "?1"),
            ("x-dns-prefetch-control", "off"),
            ("x-download-options", "noopen"),
            ("x-permitted-cross-domain-policies", "none"),
            ("x-xss-protection", "0"),
            (
                "permissions-policy",
                "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()",
            ),
        ]
        .map(|(k, v)| (HeaderName::from_static(k), HeaderValue::from_static(v)))
    });

/// Whether `Cross-Origin-Opener-Policy` applies to an answer: browsers honour it only on a
/// potentially trustworthy origin (HTTPS, or a loopback host over plain HTTP) and log a
/// console error for it anywhere else, e.g. on every page of a plain-HTTP LAN address.
/// `https` says the page is served over HTTPS: the server's own TLS, or a `public_url` of
/// `https://` (a TLS-terminating proxy in front). A proxy's `X-Forwarded-Proto: https` says
/// so too (a forged one only adds a header the browser ignores).
pub fn opener_policy_applies(https: bool, headers: &HeaderMap) -> bool {
    let text = |name| headers.get(name).and_then(|h| h.to_str().ok());
    https
        || text("x-forwarded-proto").is_some_and(|p| p.trim().eq_ignore_ascii_case("https"))
        || text(http::header::HOST.as_str()).is_some_and(is_loopback_host)
}

/// Adds `Cross-Origin-Opener-Policy: same-origin` (see [`opener_policy_applies`]).
pub fn opener_policy(h: &mut HeaderMap) {
    h.entry("cross-origin-opener-policy")
        .or_insert(HeaderValue::from_static("same-origin"));
}

/// The answer to a request whose `Host` is not one of the server's names (421, before any
/// other work).
pub fn misdirected() -> Response {
    ApiError::misdirected().into_response()
}

/// The origin decision for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OriginCheck {
    /// No `Origin`, or the request's own origin.
    SameOrigin,
    /// A configured extra origin: answer with CORS headers for it.
    Allowed(String),
    /// Anything else: 403.
    Forbidden,
}

/// Decides whether a request's `Origin` is allowed: its own origin (the Host it was sent
/// to, or `public_url`) always is, configured `cors_origins` are, nothing else is.
pub fn check_origin(config: &Config, headers: &HeaderMap) -> OriginCheck {
    let Some(origin) = headers.get(http::header::ORIGIN) else {
        return OriginCheck::SameOrigin;
    };
    let Ok(origin) = origin.to_str() else {
        return OriginCheck::Forbidden;
    };
    let origin = origin.trim_end_matches('/').to_ascii_lowercase();
    if let Some(host) = headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
    {
        let host = host.to_ascii_lowercase();
        if origin == format!("http://{host}") || origin == format!("https://{host}") {
            return OriginCheck::SameOrigin;
        }
    }
    if let Some(public) = &config.public_url {
        let public = public.to_ascii_lowercase();
        // public_url may carry a path; its origin is scheme://authority.
        let authority_end = public
            .find("://")
            .and_then(|i| public[i + 3..].find('/').map(|j| i + 3 + j))
            .unwrap_or(public.len());
        if origin == public[..authority_end] {
            return OriginCheck::SameOrigin;
        }
    }
    if config.cors_origins.contains(&origin) {
        return OriginCheck::Allowed(origin);
    }
    OriginCheck::Forbidden
}

/// Kinds of requests with their own per-address budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Upload initiation and one-shot uploads.
    Initiate,
    /// Chunk uploads.
    Chunk,
    /// Metadata lookups.
    Lookup,
    /// Content downloads.
    Download,
}

type Keyed = DefaultKeyedRateLimiter<IpAddr>;
/// All rate limiters of the server.
pub struct Limits {
    enabled: bool,
    initiate: Keyed,
    chunk: Keyed,
    lookup: Keyed,
    download: Keyed,
    /// Unknown clip IDs and wrong access codes.
    failed: FailureBudget,
    /// Wrong admin passwords and bearer tokens.
    admin: FailureBudget,
}

fn quota(r: Rate) -> Quota {
    let count = NonZeroU32::new(r.count.max(1)).unwrap_or(NonZeroU32::MIN);
    let period = (r.per / count.get()).max(Duration::from_nanos(1));
    Quota::with_period(period)
        .unwrap_or_else(|| Quota::per_second(count))
        .allow_burst(count)
}

/// The key of an address: IPv4 as is (also when IPv4-mapped), IPv6 cut to its /64.
pub fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::from([s[0], s[1], s[2], s[3], 0, 0, 0, 0])
            }
        },
    }
}

impl Limits {
    /// Limiters from the configuration.
    pub fn new(config: &Config) -> Limits {
        let l = &config.limits;
        Limits {
            enabled: config.rate_limits,
            initiate: RateLimiter::keyed(quota(l.initiate)),
            chunk: RateLimiter::keyed(quota(l.chunk)),
            lookup: RateLimiter::keyed(quota(l.lookup)),
            download: RateLimiter::keyed(quota(l.download)),
            failed: FailureBudget::new(l.failed_per_address, l.failed_global),
            // Admin guesses have a budget of their own, so that they cannot block Quick Share
            // lookups (nor those block the admin); its server-wide size is that of lookups.
            admin: FailureBudget::new(l.admin_auth, l.failed_global),
        }
    }

    /// Counts one request of a class against the address's budget.
    pub fn check(&self, class: Class, ip: IpAddr) -> Result<(), ApiError> {
        if !self.enabled {
            return Ok(());
        }
        let (limiter, error, message) = match class {
            Class::Initiate => (
                &self.initiate,
                "Too many uploads",
                "Upload rate limit exceeded. Please try again later.",
            ),
            Class::Chunk => (
                &self.chunk,
                "Too many requests",
                "Chunk rate limit exceeded. Please slow down.",
            ),
            Class::Lookup => (
                &self.lookup,
                "Too many retrieval requests",
                "Retrieval rate limit exceeded. Please try again later.",
            ),
            Class::Download => (
                &self.download,
                "Too many download requests",
                "Please try again in a minute",
            ),
        };
        limiter.check_key(&address_key(ip)).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            ApiError::too_many(error, message, wait.as_secs() + 1)
        })
    }

    /// A budget's refusal (when limits are on) as a 429, worded for one address or for
    /// everyone.
    fn refuse(
        &self,
        refusal: impl FnOnce() -> Option<Refusal>,
        error: &'static str,
        address: &str,
        everyone: &str,
    ) -> Result<(), ApiError> {
        if !self.enabled {
            return Ok(());
        }
        match refusal() {
            None => Ok(()),
            Some(Refusal::Address(d)) => {
                Err(ApiError::too_many(error, address, Refusal::retry_after(d)))
            }
            Some(Refusal::Everyone(d)) => {
                Err(ApiError::too_many(error, everyone, Refusal::retry_after(d)))
            }
        }
    }

    /// Refuses an address that has used up its failed-lookup budget, and (for guessable
    /// targets: Quick Share IDs and access codes) everyone while the server-wide budget is
    /// used up.
    pub fn check_not_blocked(&self, ip: IpAddr, guessable: bool) -> Result<(), ApiError> {
        self.refuse(
            || self.failed.refusal(ip, guessable),
            "Too many failed attempts",
            "You have been temporarily blocked due to excessive failed lookups. Please try again later.",
            "The server is refusing Quick Share lookups for a while because of many failed attempts. Please try again later.",
        )
    }

    /// Records a failed lookup or wrong access code from an address.
    pub fn record_failure(&self, ip: IpAddr, guessable: bool) {
        if self.enabled {
            self.failed.record(ip, guessable);
        }
    }

    /// Refuses every admin request (login or bearer token, right or wrong) from an address
    /// that has used up its budget of wrong admin credentials (`limit_admin_auth`), and from
    /// everyone while the server-wide budget is used up.
    pub fn check_admin_not_blocked(&self, ip: IpAddr) -> Result<(), ApiError> {
        self.refuse(
            || self.admin.refusal(ip, true),
            "Too many authentication attempts",
            "Please try again later.",
            "The server is refusing admin requests for a while because of many failed attempts. Please try again later.",
        )
    }

    /// Records a wrong admin password or bearer token from an address.
    pub fn record_admin_failure(&self, ip: IpAddr) {
        if self.enabled {
            self.admin.record(ip, true);
        }
    }

    /// Forgets addresses whose budgets are full again and blocks that have ended.
    pub fn prune(&self) {
        for l in [&self.initiate, &self.chunk, &self.lookup, &self.download] {
            l.retain_recent();
            l.shrink_to_fit();
        }
        self.failed.prune();
        self.admin.prune();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_addresses_share_their_slash_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        assert_ne!(address_key(a), address_key(c));
        let mapped: IpAddr = "::ffff:10.1.2.3".parse().unwrap();
        assert_eq!(address_key(mapped), "10.1.2.3".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn opener_policy_only_over_tls_or_on_loopback() {
        let mut h = HeaderMap::new();
        assert!(opener_policy_applies(true, &h));
        assert!(!opener_policy_applies(false, &h));
        h.insert("host", HeaderValue::from_static("192.168.1.20:8080"));
        assert!(opener_policy_applies(true, &h));
        assert!(!opener_policy_applies(false, &h));
        let mut proxied = h.clone();
        proxied.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        assert!(opener_policy_applies(false, &proxied));
        h.insert("host", HeaderValue::from_static("127.0.0.1:8080"));
        assert!(opener_policy_applies(false, &h));
        let mut r = HeaderMap::new();
        security_headers(&mut r);
        assert!(!r.contains_key("cross-origin-opener-policy"));
        opener_policy(&mut r);
        assert_eq!(r["cross-origin-opener-policy"], "same-origin");
    }

    #[test]
    fn origin_rules() {
        let mut cfg = Config::defaults();
        cfg.cors_origins = vec!["https://friend.example".into()];
        let mut h = HeaderMap::new();
        h.insert("host", HeaderValue::from_static("192.168.1.20:8080"));
        assert_eq!(check_origin(&cfg, &h), OriginCheck::SameOrigin);
        h.insert(
            "origin",
            HeaderValue::from_static("http://192.168.1.20:8080"),
        );
        assert_eq!(check_origin(&cfg, &h), OriginCheck::SameOrigin);
        h.insert("origin", HeaderValue::from_static("https://friend.example"));
        assert!(matches!(check_origin(&cfg, &h), OriginCheck::Allowed(_)));
        h.insert("origin", HeaderValue::from_static("https://evil.example"));
        assert_eq!(check_origin(&cfg, &h), OriginCheck::Forbidden);
        h.insert("origin", HeaderValue::from_static("null"));
        assert_eq!(check_origin(&cfg, &h), OriginCheck::Forbidden);
    }
}
