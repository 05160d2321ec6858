//! One AWS request budget per region, shared by every reconcile and the sweep: a token bucket
//! that serves writes before reads (yet never starves reads entirely), halves its rate on
//! throttling (429) and pauses for `Retry-After`, then creeps back to the configured rate.
//!
//! Lambda allows 15 control-plane requests per second per account and region for all non-invoke
//! calls together (semantics §7.1), shared with every other tool in the account; the default
//! budget stays well below that.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::{Call, Connect, LambdaError, LaneKey};

/// How long reads stay behind a throttled write beyond its Retry-After: enough for the write's
/// resource to come back from its (jittered, about one second) backoff.
const WRITE_RETRY_WINDOW: Duration = Duration::from_secs(3);

/// The share of the rate reads keep while writes wait: at Lambda's 15 requests/s, one read a
/// second. Strict write priority would stop the sweep for the whole of a long burst of creates
/// (10,000 of them take 11 minutes): no drift would be seen anywhere, and no new mapping could
/// be seen to settle, so none would turn Ready before the last one was created.
const READ_SHARE: f64 = 1.0 / 15.0;

/// Whether a call changes Lambda (served first) or only reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallKind {
    Write,
    Read,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    refilled: Instant,
    /// Current rate (requests/s): the configured rate, lowered after throttling.
    rate: f64,
    paused_until: Option<Instant>,
    /// After a throttled write, reads wait until then, so the write's retry (which sits in its
    /// resource's backoff, not in this queue) finds a token instead of the sweep taking it.
    reads_held_until: Option<Instant>,
    /// When the last read got its token (see [`READ_SHARE`]).
    last_read: Option<Instant>,
}

/// A token bucket with write priority.
#[derive(Debug)]
pub struct Budget {
    base_rate: f64,
    burst: f64,
    bucket: Mutex<Bucket>,
    waiting_writes: AtomicUsize,
    /// Reads whose share is due (see [`READ_SHARE`]); writes leave them the next token.
    due_reads: AtomicUsize,
}

impl Budget {
    /// The slowest rate (requests/s): below it a single reconcile would wait for many seconds.
    pub const MIN_RATE: f64 = 0.1;
    /// The smallest burst: a bucket that never holds a whole token would never send anything.
    pub const MIN_BURST: f64 = 1.0;

    /// `rate` requests per second on average, at most `burst` at once. The command line refuses
    /// values below the minimums; here they are raised to them, so a bucket always drains.
    pub(crate) fn new(rate: f64, burst: f64) -> Self {
        let rate = rate.max(Self::MIN_RATE);
        let burst = burst.max(Self::MIN_BURST);
        Self {
            base_rate: rate,
            burst,
            bucket: Mutex::new(Bucket {
                tokens: burst,
                refilled: Instant::now(),
                rate,
                paused_until: None,
                reads_held_until: None,
                last_read: None,
            }),
            waiting_writes: AtomicUsize::new(0),
            due_reads: AtomicUsize::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Bucket> {
        crate::sync::lock(&self.bucket)
    }

    /// Waits for a token. Reads wait while any write is waiting, unless no read has had a token
    /// for `1 / (rate × READ_SHARE)` seconds.
    pub(crate) async fn acquire(&self, kind: CallKind) {
        // Counted while waiting, and uncounted however the wait ends: a write whose future is
        // dropped (shutdown, a cancelled reconcile) must not hold reads back for ever, nor a
        // dropped read writes.
        struct Waiting<'a>(&'a AtomicUsize);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        fn waiting(count: &AtomicUsize) -> Waiting<'_> {
            count.fetch_add(1, Ordering::SeqCst);
            Waiting(count)
        }
        let _write = (kind == CallKind::Write).then(|| waiting(&self.waiting_writes));
        let mut due_read = None;
        loop {
            let wait = {
                let mut b = self.lock();
                let now = Instant::now();
                let elapsed = now.duration_since(b.refilled).as_secs_f64();
                b.tokens = (b.tokens + elapsed * b.rate).min(self.burst);
                b.refilled = now;
                let mut paused = b.paused_until.filter(|until| *until > now);
                let reads_held = b.reads_held_until.filter(|until| *until > now);
                // The token this call needs to leave in the bucket for others.
                let mut keep = 0.0;
                match kind {
                    CallKind::Read => {
                        paused = paused.max(reads_held);
                        let due = b.last_read.is_none_or(|at| {
                            now.duration_since(at).as_secs_f64() * b.rate * READ_SHARE >= 1.0
                        });
                        if due && paused.is_none() {
                            // Its turn: waiting writes leave it the next token.
                            due_read.get_or_insert_with(|| waiting(&self.due_reads));
                        } else {
                            // Another read took the share (or reads are held): back in line.
                            due_read = None;
                            if self.waiting_writes.load(Ordering::SeqCst) > 0 {
                                keep = f64::INFINITY;
                            }
                        }
                    }
                    CallKind::Write => {
                        if reads_held.is_none() && self.due_reads.load(Ordering::SeqCst) > 0 {
                            keep = 1.0;
                        }
                    }
                }
                if paused.is_none() && b.tokens >= 1.0 + keep {
                    b.tokens -= 1.0;
                    if kind == CallKind::Read {
                        b.last_read = Some(now);
                    }
                    return;
                }
                match paused {
                    Some(until) => until - now,
                    // Behind writes: look again when the next token is in, or within a
                    // second at slow rates, in case the writes have stopped meanwhile.
                    None if keep.is_infinite() => Duration::from_secs_f64((1.0 / b.rate).min(1.0)),
                    None => Duration::from_secs_f64(
                        ((1.0 + keep - b.tokens).max(0.0) / b.rate).max(0.001),
                    ),
                }
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// Lambda answered 429: halve the rate (down to a tenth of the configured one) and pause
    /// for its Retry-After. A throttled write also holds reads back a little longer than that,
    /// so that its retry goes first.
    pub(crate) fn throttled(&self, kind: CallKind, retry_after: Option<Duration>) {
        let mut b = self.lock();
        b.rate = (b.rate / 2.0).max(self.base_rate / 10.0);
        b.tokens = b.tokens.min(0.0);
        let now = Instant::now();
        let after = retry_after.unwrap_or(Duration::ZERO);
        if !after.is_zero() {
            b.paused_until = Some(now + after);
        }
        if kind == CallKind::Write {
            b.reads_held_until = Some(now + after + WRITE_RETRY_WINDOW);
        }
    }

    /// A call went through: recover the rate by 5 % of the configured one.
    pub(crate) fn succeeded(&self) {
        let mut b = self.lock();
        if b.rate < self.base_rate {
            b.rate = (b.rate + self.base_rate * 0.05).min(self.base_rate);
        }
    }

    pub fn current_rate(&self) -> f64 {
        self.lock().rate
    }
}

/// A lane's [`LambdaPort`] that spends from the lane's [`Budget`] before every call.
pub struct Budgeted<L> {
    inner: L,
    budget: Arc<Budget>,
}

impl<L> Budgeted<L> {
    pub fn new(inner: L, budget: Arc<Budget>) -> Self {
        Self { inner, budget }
    }

    pub fn budget(&self) -> &Arc<Budget> {
        &self.budget
    }

    async fn around<T>(
        &self,
        call: Call,
        inner: impl std::future::Future<Output = Result<T, LambdaError>>,
    ) -> Result<T, LambdaError> {
        let budget = &self.budget;
        budget.acquire(call.kind).await;
        let result = inner.await;
        match &result {
            Err(e) if e.is_throttled() => budget.throttled(call.kind, e.retry_after),
            _ => budget.succeeded(),
        }
        result
    }
}

/// Connects every lane through a budget of its own: Lambda's quota is per account and region.
pub struct Budgeting<C> {
    inner: C,
    rate: f64,
    burst: f64,
}

impl<C> Budgeting<C> {
    pub fn new(inner: C, rate: f64, burst: f64) -> Self {
        Self { inner, rate, burst }
    }
}

impl<C: Connect> Connect for Budgeting<C> {
    type Port = Budgeted<C::Port>;

    fn connect(&self, lane: &LaneKey) -> Self::Port {
        // A binding's own budget replaces the controller's, with a burst of one second's worth.
        let (rate, burst) = match lane.account.as_ref().and_then(|a| a.requests_per_second()) {
            Some(rate) => (rate, rate.max(Budget::MIN_BURST)),
            None => (self.rate, self.burst),
        };
        let budget = Arc::new(Budget::new(rate, burst));
        Budgeted::new(self.inner.connect(lane), budget)
    }

    fn check_role(
        &self,
        role: &super::AccountRole,
    ) -> impl std::future::Future<Output = Result<(), String>> + Send {
        self.inner.check_role(role)
    }
}

decorate_lambda_port!(Budgeted);

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn spends_at_the_configured_rate_after_the_burst() {
        let budget = Budget::new(10.0, 5.0);
        let start = Instant::now();
        for _ in 0..25 {
            budget.acquire(CallKind::Read).await;
        }
        // 5 from the burst, then 20 at 10/s.
        let took = start.elapsed().as_secs_f64();
        assert!((1.95..=2.1).contains(&took), "took {took}s");
    }

    #[tokio::test(start_paused = true)]
    async fn writes_are_served_before_waiting_reads() {
        let budget = Arc::new(Budget::new(1.0, 1.0));
        budget.acquire(CallKind::Read).await; // bucket now empty
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for i in 0..3 {
            let (b, o) = (budget.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                b.acquire(CallKind::Read).await;
                o.lock().unwrap().push(format!("read{i}"));
            }));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (b, o) = (budget.clone(), order.clone());
        tasks.push(tokio::spawn(async move {
            b.acquire(CallKind::Write).await;
            o.lock().unwrap().push("write".into());
        }));
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(
            order.lock().unwrap()[0],
            "write",
            "{:?}",
            order.lock().unwrap()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn reads_keep_a_small_share_under_a_flood_of_writes() {
        let budget = Arc::new(Budget::new(15.0, 1.0));
        let reads = Arc::new(AtomicUsize::new(0));
        let writes = Arc::new(AtomicUsize::new(0));
        // A task that spends from the budget for ever, counting its calls.
        let spender = |kind: CallKind, count: &Arc<AtomicUsize>| {
            let (budget, count) = (budget.clone(), count.clone());
            tokio::spawn(async move {
                loop {
                    budget.acquire(kind).await;
                    count.fetch_add(1, Ordering::SeqCst);
                }
            })
        };
        // More writers than the rate can serve, so a write is always waiting; and two readers
        // (a sweep and a reconcile's Get) sharing the one read a second.
        let mut tasks: Vec<_> = (0..30).map(|_| spender(CallKind::Write, &writes)).collect();
        tasks.extend((0..2).map(|_| spender(CallKind::Read, &reads)));
        tokio::time::sleep(Duration::from_secs(20)).await;
        for t in &tasks {
            t.abort();
        }
        let (reads, writes) = (reads.load(Ordering::SeqCst), writes.load(Ordering::SeqCst));
        // 20 s at 15/s: about 300 tokens, one a second for reads.
        assert!((18..=22).contains(&reads), "reads {reads}, writes {writes}");
        assert!(
            (270..=290).contains(&writes),
            "reads {reads}, writes {writes}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn reads_stay_behind_a_throttled_write_until_it_retried() {
        let budget = Arc::new(Budget::new(10.0, 10.0));
        budget.throttled(CallKind::Write, Some(Duration::from_secs(1)));
        let start = Instant::now();
        // The write's retry arrives after its own backoff and gets a token...
        tokio::time::sleep(Duration::from_millis(1500)).await;
        budget.acquire(CallKind::Write).await;
        assert!(start.elapsed() < Duration::from_secs(2));
        // ...while a read waits out Retry-After plus the retry window.
        budget.acquire(CallKind::Read).await;
        assert!(
            start.elapsed() >= Duration::from_secs(4),
            "{:?}",
            start.elapsed()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn throttling_halves_the_rate_pauses_and_recovers() {
        let budget = Budget::new(10.0, 1.0);
        budget.throttled(CallKind::Read, Some(Duration::from_secs(3)));
        assert_eq!(budget.current_rate(), 5.0);
        let start = Instant::now();
        budget.acquire(CallKind::Write).await;
        assert!(
            start.elapsed() >= Duration::from_secs(3),
            "Retry-After honoured"
        );
        for _ in 0..5 {
            budget.throttled(CallKind::Read, None);
        }
        assert_eq!(budget.current_rate(), 1.0, "never below a tenth");
        for _ in 0..100 {
            budget.succeeded();
        }
        assert_eq!(budget.current_rate(), 10.0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_cancelled_write_does_not_hold_reads_back() {
        let budget = Budget::new(1.0, 1.0);
        budget.acquire(CallKind::Write).await; // the only token
        // A write starts waiting, then is dropped (its reconcile was cancelled).
        let waiting =
            tokio::time::timeout(Duration::from_millis(10), budget.acquire(CallKind::Write));
        assert!(waiting.await.is_err());
        tokio::time::timeout(Duration::from_secs(2), budget.acquire(CallKind::Read))
            .await
            .expect("the read gets the next token");
    }
}
