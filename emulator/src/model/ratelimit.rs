//! The control-plane rate limiter: one token bucket shared by every API operation,
//! like Lambda's "15 requests/s for all other control-plane APIs combined" quota.

use std::time::Duration;

#[derive(Clone, Debug)]
pub(crate) struct TokenBucket {
    /// `None` = unlimited.
    rate: Option<u32>,
    tokens: f64,
    last_refill: Duration,
}

impl TokenBucket {
    /// A full bucket; its burst equals the per-second rate.
    pub(crate) fn new(rate: Option<u32>, now: Duration) -> Self {
        TokenBucket {
            rate,
            tokens: rate.map(f64::from).unwrap_or(0.0),
            last_refill: now,
        }
    }

    /// Takes one token; `false` means the call is throttled.
    pub(crate) fn try_take(&mut self, now: Duration) -> bool {
        let Some(rate) = self.rate else { return true };
        let rate = f64::from(rate);
        let elapsed = now.saturating_sub(self.last_refill).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(rate);
        self.last_refill = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refill() {
        let mut b = TokenBucket::new(Some(3), Duration::ZERO);
        assert!(b.try_take(Duration::ZERO));
        assert!(b.try_take(Duration::ZERO));
        assert!(b.try_take(Duration::ZERO));
        assert!(!b.try_take(Duration::ZERO));
        // One third of a second refills one token at 3/s.
        assert!(b.try_take(Duration::from_millis(334)));
        assert!(!b.try_take(Duration::from_millis(334)));
        // A long pause never exceeds the burst.
        let later = Duration::from_secs(100);
        for _ in 0..3 {
            assert!(b.try_take(later));
        }
        assert!(!b.try_take(later));
    }

    #[test]
    fn unlimited_never_throttles() {
        let mut b = TokenBucket::new(None, Duration::ZERO);
        for _ in 0..10_000 {
            assert!(b.try_take(Duration::ZERO));
        }
    }
}
