//! A bound on players' reports per client address: a token bucket each, so that a flood
//! of reports (each may open a session) cannot fill the origin's session table or the
//! database. Reports are idempotent totals, so a player that is refused loses nothing
//! its next report will not carry.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Reports one client may send at once.
const BURST: f64 = 20.0;
/// Reports a client earns per second after that.
const PER_SECOND: f64 = 1.0;
/// Most client addresses followed; beyond, idle ones are forgotten first, and while all
/// are busy a new address is refused.
const MAX_CLIENTS: usize = 100_000;

/// One client's tokens, as of `seen`.
struct Bucket {
    tokens: f64,
    seen: Instant,
}

#[derive(Clone, Default)]
pub(crate) struct ReportLimiter {
    buckets: Arc<Mutex<HashMap<Option<IpAddr>, Bucket>>>,
}

impl ReportLimiter {
    /// Takes one report's token for `client` at `now`, or says how long to wait.
    pub(crate) fn take(&self, client: Option<IpAddr>, now: Instant) -> Result<(), Duration> {
        let Ok(mut buckets) = self.buckets.lock() else {
            return Ok(());
        };
        if !buckets.contains_key(&client) && buckets.len() >= MAX_CLIENTS {
            // A full bucket (idle long enough to refill) holds nothing worth keeping.
            let refill = Duration::from_secs_f64(BURST / PER_SECOND);
            buckets.retain(|_, b| now.duration_since(b.seen) < refill);
            if buckets.len() >= MAX_CLIENTS {
                return Err(Duration::from_secs(1));
            }
        }
        let b = buckets.entry(client).or_insert(Bucket {
            tokens: BURST,
            seen: now,
        });
        b.tokens = (b.tokens + now.duration_since(b.seen).as_secs_f64() * PER_SECOND).min(BURST);
        b.seen = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - b.tokens) / PER_SECOND))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_one_a_second_per_client() {
        let limiter = ReportLimiter::default();
        let t0 = Instant::now();
        let a = Some(IpAddr::from([192, 0, 2, 1]));
        let b = Some(IpAddr::from([192, 0, 2, 2]));
        for _ in 0..20 {
            assert_eq!(limiter.take(a, t0), Ok(()));
        }
        let wait = limiter.take(a, t0).unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        assert_eq!(
            limiter.take(b, t0),
            Ok(()),
            "another client has its own bucket"
        );
        assert_eq!(limiter.take(a, t0 + Duration::from_secs(1)), Ok(()));
        assert!(limiter.take(a, t0 + Duration::from_secs(1)).is_err());
    }
}
