//! Per-object requeue delays: exponential with jitter for failures, a short capped ramp while
//! Lambda is busy. kube-runtime does not track per-object failures (kube-rs#1916), so we do.

use std::collections::HashMap;
use std::sync::Mutex;
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
    const ALL: [Track; 3] = [Track::Error, Track::Busy, Track::Throttle];
}

#[derive(Debug)]
pub struct Backoff {
    attempts: Mutex<HashMap<(String, Track), u32>>,
    pub max_error: Duration,
    pub max_busy: Duration,
}

impl Backoff {
    pub fn new(max_error: Duration, max_busy: Duration) -> Self {
        Self {
            attempts: Mutex::default(),
            max_error,
            max_busy,
        }
    }

    /// The next delay for this object on this track, counting the attempt.
    pub fn next(&self, key: &str, track: Track) -> Duration {
        let mut attempts = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        let n = attempts.entry((key.to_string(), track)).or_insert(0);
        *n = n.saturating_add(1);
        let (base, max) = match track {
            Track::Error => (Duration::from_secs(1), self.max_error),
            Track::Busy => (Duration::from_secs(2), self.max_busy),
            Track::Throttle => (Duration::from_secs(1), Duration::from_secs(10)),
        };
        let exp = base.saturating_mul(1u32 << (*n - 1).min(16));
        let capped = exp.min(max);
        match track {
            // Full jitter in [capped/2, capped]: spreads retries of many objects after a
            // throttling burst.
            Track::Error | Track::Throttle => capped / 2 + capped.mul_f64(jitter(key, *n) / 2.0),
            Track::Busy => capped,
        }
    }

    /// Forget the object's attempts on a track (after progress).
    pub fn reset(&self, key: &str, track: Track) {
        let mut attempts = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        attempts.remove(&(key.to_string(), track));
    }

    /// Whether any attempts are counted for the object.
    pub fn knows(&self, key: &str) -> bool {
        let attempts = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        Track::ALL
            .iter()
            .any(|track| attempts.contains_key(&(key.to_string(), *track)))
    }

    /// Forget everything about the object (it is gone): one lookup per track, not a scan of
    /// every object's attempts.
    pub fn forget(&self, key: &str) {
        let mut attempts = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        for track in Track::ALL {
            attempts.remove(&(key.to_string(), track));
        }
    }
}

/// A cheap pseudo-random fraction in [0, 1) from the object key, the attempt and the clock.
fn jitter(key: &str, attempt: u32) -> f64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let mut h: u64 = 0xcbf29ce484222325 ^ u64::from(nanos) ^ (u64::from(attempt) << 32);
    for b in key.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100000001b3);
    }
    (h >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_delays_grow_with_jitter_and_are_capped() {
        let b = Backoff::new(Duration::from_secs(60), Duration::from_secs(15));
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
        let b = Backoff::new(Duration::from_secs(300), Duration::from_secs(15));
        for _ in 0..20 {
            assert!(b.next("t", Track::Throttle) <= Duration::from_secs(10));
        }
    }

    #[test]
    fn busy_delays_ramp_to_a_cap_and_tracks_are_separate() {
        let b = Backoff::new(Duration::from_secs(60), Duration::from_secs(15));
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
