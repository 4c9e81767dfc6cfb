//! Rate limiting as Tallyfy does it: a budget of requests per minute per token (per
//! client address for requests without one), `X-RateLimit-Limit` and
//! `X-RateLimit-Remaining` on every answer, and 429 with `Retry-After` past the budget.
//!
//! The budget is a token bucket: it refills continuously at `limit / 60` per second, so a
//! client is never locked out for a whole minute after a burst. State is per instance.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use roster_core::token::TokenHash;

use crate::{ApiError, AppState};

/// Keys idle this long have refilled completely and can be forgotten.
const IDLE: Duration = Duration::from_secs(120);

pub struct RateLimiter {
    per_minute: u32,
    buckets: Mutex<HashMap<[u8; 32], Bucket>>,
}

struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// What one request is allowed.
pub struct Decision {
    pub allowed: bool,
    pub remaining: u32,
    /// Seconds until one more request would be allowed (when refused).
    pub retry_after: u64,
}

impl RateLimiter {
    /// `per_minute == 0` turns limiting off.
    pub fn new(per_minute: u32) -> Self {
        Self { per_minute, buckets: Mutex::new(HashMap::new()) }
    }

    pub fn per_minute(&self) -> u32 {
        self.per_minute
    }

    pub fn check(&self, key: [u8; 32], now: Instant) -> Decision {
        let capacity = f64::from(self.per_minute);
        let per_second = capacity / 60.0;
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if buckets.len() > 100_000 {
            buckets.retain(|_, b| now.duration_since(b.updated) < IDLE);
        }
        let bucket = buckets.entry(key).or_insert(Bucket { tokens: capacity, updated: now });
        let elapsed = now.duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * per_second).min(capacity);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Decision { allowed: true, remaining: bucket.tokens as u32, retry_after: 0 }
        } else {
            let wait = ((1.0 - bucket.tokens) / per_second).ceil().max(1.0);
            Decision { allowed: false, remaining: 0, retry_after: wait as u64 }
        }
    }
}

/// Who a request counts against: its bearer token (hashed), else its peer address.
fn key(request: &Request) -> [u8; 32] {
    let credential = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.trim().is_empty())
        .map(str::to_owned)
        .or_else(|| {
            request
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(addr)| format!("ip:{}", addr.ip()))
        })
        .unwrap_or_else(|| "ip:unknown".to_owned());
    *TokenHash::of(&credential).as_bytes()
}

pub async fn rate_limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let limiter = &state.limiter;
    if limiter.per_minute() == 0 {
        return next.run(request).await;
    }
    let decision = limiter.check(key(&request), Instant::now());
    let mut response = if decision.allowed {
        next.run(request).await
    } else {
        ApiError::rate_limited(decision.retry_after).into_response()
    };
    let headers = response.headers_mut();
    headers.insert("x-ratelimit-limit", HeaderValue::from(limiter.per_minute()));
    headers.insert("x-ratelimit-remaining", HeaderValue::from(decision.remaining));
    debug_assert!(decision.allowed || response.status() == StatusCode::TOO_MANY_REQUESTS);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_uses_the_budget_then_it_refills() {
        let limiter = RateLimiter::new(60);
        let start = Instant::now();
        for expected in (0..60).rev() {
            let d = limiter.check([1; 32], start);
            assert!(d.allowed);
            assert_eq!(d.remaining, expected);
        }
        let refused = limiter.check([1; 32], start);
        assert!(!refused.allowed);
        assert_eq!(refused.retry_after, 1);
        // Another key has its own budget.
        assert!(limiter.check([2; 32], start).allowed);
        // One token a second comes back.
        assert!(limiter.check([1; 32], start + Duration::from_secs(1)).allowed);
        assert!(!limiter.check([1; 32], start + Duration::from_secs(1)).allowed);
    }
}
