//! Time sources. The model measures everything (state transitions, the rate limiter,
//! `LastModified`) against one clock, so a test can drive it with [`ManualClock`].

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A clock that only moves when a test calls [`ManualClock::advance`].
///
/// It starts at the wall-clock time of its creation (so `LastModified` and the
/// "StartingPositionTimestamp must not be in the future" rule look realistic) and then
/// stands still.
#[derive(Clone, Debug)]
pub struct ManualClock {
    inner: Arc<ManualInner>,
}

#[derive(Debug)]
struct ManualInner {
    start_wall: SystemTime,
    offset: Mutex<Duration>,
}

impl ManualClock {
    pub fn new() -> Self {
        ManualClock {
            inner: Arc::new(ManualInner {
                start_wall: SystemTime::now(),
                offset: Mutex::new(Duration::ZERO),
            }),
        }
    }

    /// Move time forward by `d`. Mappings settle lazily on the next model access.
    pub fn advance(&self, d: Duration) {
        *self.inner.offset.lock().unwrap_or_else(|e| e.into_inner()) += d;
    }

    /// The emulated wall-clock time.
    pub fn now(&self) -> SystemTime {
        self.inner.start_wall + self.elapsed()
    }

    /// How far the clock has been advanced since it was created.
    pub fn elapsed(&self) -> Duration {
        *self.inner.offset.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

/// The model's clock: real time or a [`ManualClock`].
#[derive(Clone, Debug)]
pub(crate) enum Clock {
    Real {
        start: Instant,
        start_wall: SystemTime,
    },
    Manual(ManualClock),
}

impl Clock {
    pub(crate) fn real() -> Self {
        Clock::Real {
            start: Instant::now(),
            start_wall: SystemTime::now(),
        }
    }

    /// Time since the model started; all scheduling uses this monotonic value.
    pub(crate) fn elapsed(&self) -> Duration {
        match self {
            Clock::Real { start, .. } => start.elapsed(),
            Clock::Manual(m) => m.elapsed(),
        }
    }

    fn start_wall(&self) -> SystemTime {
        match self {
            Clock::Real { start_wall, .. } => *start_wall,
            Clock::Manual(m) => m.inner.start_wall,
        }
    }

    /// Wall-clock milliseconds since the Unix epoch at model time `at`.
    pub(crate) fn epoch_millis_at(&self, at: Duration) -> u64 {
        let wall = self.start_wall() + at;
        wall.duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }
}
