//! Request rate limiting and login throttling, in memory.
//!
//! - [`RateLimiter`]: at most N requests per minute per key (a user, an API key, or the
//!   client IP for unauthenticated requests), counted in fixed one-minute windows. Over the
//!   limit the API answers 429 with `Retry-After` set to the end of the window.
//! - [`LoginThrottle`]: failed logins per email and per IP. After
//!   [`FREE_FAILURES_PER_EMAIL`] failures an email is locked for a delay that doubles with
//!   each further failure (30 s up to 15 min); an IP gets [`FREE_FAILURES_PER_IP`] failures
//!   per 15 minutes across all emails. A success clears the email's count.
//!
//! The state is per process: behind several API processes each enforces its own limit. The
//! maps are pruned when they grow, so memory stays bounded under key-spraying.

use std::collections::HashMap;
use std::sync::Mutex;

/// Length of a rate-limit window.
const WINDOW_SECONDS: i64 = 60;
/// Entries kept before expired ones are pruned.
const PRUNE_THRESHOLD: usize = 100_000;

/// Fixed-window request counter per key.
#[derive(Debug)]
pub struct RateLimiter {
    per_minute: u32,
    windows: Mutex<HashMap<String, (i64, u32)>>,
}

impl RateLimiter {
    /// A limiter allowing `per_minute` requests per key; 0 disables it.
    pub fn new(per_minute: u32) -> Self {
        RateLimiter {
            per_minute,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts a request for `key` at Unix time `now`; `Err(seconds)` when over the limit.
    pub fn check(&self, key: &str, now: i64) -> Result<(), u64> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let window_start = now - now.rem_euclid(WINDOW_SECONDS);
        let mut windows = self
            .windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if windows.len() > PRUNE_THRESHOLD {
            windows.retain(|_, (start, _)| *start == window_start);
        }
        let entry = windows.entry(key.to_string()).or_insert((window_start, 0));
        if entry.0 != window_start {
            *entry = (window_start, 0);
        }
        if entry.1 >= self.per_minute {
            let retry_after = window_start + WINDOW_SECONDS - now;
            return Err(u64::try_from(retry_after).unwrap_or(1).max(1));
        }
        entry.1 += 1;
        Ok(())
    }
}

/// Failures allowed per email before delays start.
pub const FREE_FAILURES_PER_EMAIL: u32 = 5;
/// Failures allowed per IP per [`IP_WINDOW_SECONDS`].
pub const FREE_FAILURES_PER_IP: u32 = 50;
const IP_WINDOW_SECONDS: i64 = 15 * 60;
const FIRST_DELAY_SECONDS: i64 = 30;
const MAX_DELAY_SECONDS: i64 = 15 * 60;

#[derive(Clone, Copy, Debug, Default)]
struct Failures {
    count: u32,
    first_at: i64,
    locked_until: i64,
}

/// Failed-login bookkeeping per email and per IP.
#[derive(Debug, Default)]
pub struct LoginThrottle {
    by_email: Mutex<HashMap<String, Failures>>,
    by_ip: Mutex<HashMap<String, Failures>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl LoginThrottle {
    /// `Err(seconds)` when a login for `email` from `ip` must wait.
    pub fn check(&self, email: &str, ip: &str, now: i64) -> Result<(), u64> {
        let wait_email = lock(&self.by_email)
            .get(email)
            .map_or(0, |failures| failures.locked_until - now);
        let wait_ip = lock(&self.by_ip).get(ip).map_or(0, |failures| {
            let in_window = now - failures.first_at < IP_WINDOW_SECONDS;
            if in_window && failures.count >= FREE_FAILURES_PER_IP {
                failures.first_at + IP_WINDOW_SECONDS - now
            } else {
                0
            }
        });
        let wait = wait_email.max(wait_ip);
        if wait > 0 {
            Err(u64::try_from(wait).unwrap_or(1))
        } else {
            Ok(())
        }
    }

    /// Records a failed login.
    pub fn failure(&self, email: &str, ip: &str, now: i64) {
        {
            let mut by_email = lock(&self.by_email);
            prune(&mut by_email, now);
            let failures = by_email.entry(email.to_string()).or_default();
            failures.count += 1;
            if failures.count >= FREE_FAILURES_PER_EMAIL {
                let doublings = (failures.count - FREE_FAILURES_PER_EMAIL).min(10);
                let delay = (FIRST_DELAY_SECONDS << doublings).min(MAX_DELAY_SECONDS);
                failures.locked_until = now + delay;
            }
        }
        let mut by_ip = lock(&self.by_ip);
        prune(&mut by_ip, now);
        let failures = by_ip.entry(ip.to_string()).or_default();
        if now - failures.first_at >= IP_WINDOW_SECONDS {
            *failures = Failures {
                count: 0,
                first_at: now,
                locked_until: 0,
            };
        }
        failures.count += 1;
    }

    /// Clears an email's failures after a successful login.
    pub fn success(&self, email: &str) {
        lock(&self.by_email).remove(email);
    }
}

fn prune(map: &mut HashMap<String, Failures>, now: i64) {
    if map.len() > PRUNE_THRESHOLD {
        map.retain(|_, failures| {
            failures.locked_until > now || now - failures.first_at < IP_WINDOW_SECONDS
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_counts_per_window_and_key() {
        let limiter = RateLimiter::new(3);
        for _ in 0..3 {
            assert!(limiter.check("a", 120).is_ok());
        }
        assert_eq!(limiter.check("a", 130), Err(50));
        assert!(limiter.check("b", 130).is_ok());
        assert!(limiter.check("a", 180).is_ok());
        assert!(RateLimiter::new(0).check("a", 0).is_ok());
    }

    #[test]
    fn login_failures_lock_with_growing_delays() {
        let throttle = LoginThrottle::default();
        for _ in 0..FREE_FAILURES_PER_EMAIL - 1 {
            throttle.failure("a@x.io", "1.1.1.1", 1000);
        }
        assert!(throttle.check("a@x.io", "1.1.1.1", 1000).is_ok());
        throttle.failure("a@x.io", "1.1.1.1", 1000);
        assert_eq!(throttle.check("a@x.io", "2.2.2.2", 1000), Err(30));
        throttle.failure("a@x.io", "1.1.1.1", 1000);
        assert_eq!(throttle.check("a@x.io", "2.2.2.2", 1000), Err(60));
        assert!(throttle.check("b@x.io", "2.2.2.2", 1000).is_ok());
        throttle.success("a@x.io");
        assert!(throttle.check("a@x.io", "2.2.2.2", 1000).is_ok());
    }
}
