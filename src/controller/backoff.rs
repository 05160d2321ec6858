//! Per-object requeue delays: exponential with jitter for failures, a short capped ramp while
//! Lambda is busy. kube-runtime does not track per-object failures (kube-rs#1916), so we do.

use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Track {
    /// AWS or Kubernetes failures: 1 s, 2 s, 4 s … up to `max_error`.
    Error,
    /// Waiting for a transitional Lambda state: 2 s, 4 s … up to `max_busy`.
    Busy,
    /// Lambda throttled the call: 1 s, 2 s … up to 10 s, with jitter. Throttling is not the
    /// resource's fault and the shared budget already slows every call down, so the per-object
    /// delay stays short.
    Throttle,
}

impl Track {
    /// Its place in a resource's attempts (see [`super::memory`]).
    pub fn index(self) -> usize {
        match self {
            Track::Error => 0,
            Track::Busy => 1,
            Track::Throttle => 2,
        }
    }
}

/// The delay policy. The attempts it counts are part of each resource's record in
/// [`super::memory::Memory`].
#[derive(Debug)]
pub struct Backoff {
    pub max_error: Duration,
    pub max_busy: Duration,
}

impl Backoff {
    pub fn new(max_error: Duration, max_busy: Duration) -> Self {
        Self {
            max_error,
            max_busy,
        }
    }

    /// The delay before the `attempt`-th try in a row (from 1) on this track; `seed` spreads
    /// the jitter of different resources.
    pub fn delay(&self, track: Track, attempt: u32, seed: u64) -> Duration {
        let (base, max) = match track {
            Track::Error => (Duration::from_secs(1), self.max_error),
            Track::Busy => (Duration::from_secs(2), self.max_busy),
            Track::Throttle => (Duration::from_secs(1), Duration::from_secs(10)),
        };
        let exp = base.saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        let capped = exp.min(max);
        match track {
            // Full jitter in [capped/2, capped]: spreads retries of many objects after a
            // throttling burst.
            Track::Error | Track::Throttle => {
                capped / 2 + capped.mul_f64(jitter(seed, attempt) / 2.0)
            }
            Track::Busy => capped,
        }
    }
}

/// A cheap pseudo-random fraction in [0, 1) from the object's key, the attempt and the clock.
fn jitter(seed: u64, attempt: u32) -> f64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let mut h: u64 = 0xcbf29ce484222325 ^ u64::from(nanos) ^ (u64::from(attempt) << 32);
    for b in seed.to_le_bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100000001b3);
    }
    (h >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::super::memory::{Memory, ObjectKey};
    use super::*;

    /// The attempts live in the per-resource memory; these tests drive them through it.
    struct Attempts(Memory);

    impl Attempts {
        fn next(&self, key: &str, track: Track) -> Duration {
            self.0.next_delay(ObjectKey::new("ns", key), track)
        }
        fn reset(&self, key: &str, track: Track) {
            self.0.reset(ObjectKey::new("ns", key), track)
        }
        fn forget(&self, key: &str) {
            self.0.forget(ObjectKey::new("ns", key))
        }
    }

    fn attempts(max_error: Duration, max_busy: Duration) -> Attempts {
        Attempts(Memory::new(
            Backoff::new(max_error, max_busy),
            Default::default(),
        ))
    }

    #[test]
    fn error_delays_grow_with_jitter_and_are_capped() {
        let b = attempts(Duration::from_secs(60), Duration::from_secs(15));
        let mut last_cap = Duration::ZERO;
        for attempt in 1..=10u32 {
            let d = b.next("ns/a", Track::Error);
            let cap = Duration::from_secs(1 << (attempt - 1)).min(Duration::from_secs(60));
            assert!(
                d >= cap / 2 && d <= cap,
                "attempt {attempt}: {d:?} not in [{:?}, {cap:?}]",
                cap / 2
            );
            assert!(cap >= last_cap);
            last_cap = cap;
        }
        b.reset("ns/a", Track::Error);
        assert!(b.next("ns/a", Track::Error) <= Duration::from_secs(1));
    }

    #[test]
    fn throttle_delays_stay_short() {
        let b = attempts(Duration::from_secs(300), Duration::from_secs(15));
        for _ in 0..20 {
            assert!(b.next("t", Track::Throttle) <= Duration::from_secs(10));
        }
    }

    #[test]
    fn busy_delays_ramp_to_a_cap_and_tracks_are_separate() {
        let b = attempts(Duration::from_secs(60), Duration::from_secs(15));
        let delays: Vec<u64> = (0..6).map(|_| b.next("x", Track::Busy).as_secs()).collect();
        assert_eq!(delays, [2, 4, 8, 15, 15, 15]);
        assert!(b.next("x", Track::Error) <= Duration::from_secs(1));
        assert_eq!(b.next("y", Track::Busy), Duration::from_secs(2));
        b.next("x", Track::Throttle);
        b.forget("x");
        assert_eq!(b.next("x", Track::Busy), Duration::from_secs(2));
        assert!(b.next("x", Track::Throttle) <= Duration::from_secs(1));
        assert!(b.next("x", Track::Error) <= Duration::from_secs(1));
        assert_eq!(
            b.next("y", Track::Busy),
            Duration::from_secs(4),
            "y is kept"
        );
    }
}
