//! The background sweep: one task per lane lists every mapping (one page per 100 mappings)
//! into the lane's cache, every `interval`, or every `busy_interval` while our writes or busy
//! mappings are settling. The lane registry ([`super::lanes`]) starts and stops it.

use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt};
use kube::runtime::reflector::ObjectRef;
use tokio::time::Instant;

use super::StoredMapping;
use super::cache::{MappingCache, Triggers};
use super::lanes::Lane;
use crate::api::EventSourceMapping;
use crate::lambda::{LambdaPort, ListFilter};

/// Runs the task `start` makes, and starts a new one whenever it panics or ends (a sweeper
/// never ends by itself), after a short pause that grows with the restarts in a row. Each
/// restart is logged at error level: it is a bug, and the operator should hear of it.
pub async fn supervise<F, T>(what: String, mut start: F)
where
    F: FnMut() -> T,
    T: std::future::Future<Output = ()> + Send + 'static,
{
    let mut restarts: u32 = 0;
    loop {
        let began = Instant::now();
        let task = tokio::spawn(start());
        // Stopping the supervisor (shutdown aborts it) stops the task with it.
        let _stop_with_me = AbortOnDrop(task.abort_handle());
        let outcome = task.await;
        // A task that ran for a good while before failing starts its count again.
        if began.elapsed() > RESTART_FORGIVEN_AFTER {
            restarts = 0;
        }
        restarts = restarts.saturating_add(1);
        let pause = retry_delay(restarts, RESTART_PAUSE_MAX, jitter());
        match outcome {
            Err(e) if e.is_panic() => tracing::error!(
                task = what,
                restarts,
                restart_in_ms = pause.as_millis() as u64,
                "task panicked; restarting it"
            ),
            _ => tracing::error!(
                task = what,
                restarts,
                restart_in_ms = pause.as_millis() as u64,
                "task ended unexpectedly; restarting it"
            ),
        }
        tokio::time::sleep(pause).await;
    }
}

struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The longest wait before a failed sweep is tried again.
const RETRY_MAX: Duration = Duration::from_secs(60);

/// The longest pause before a crashed task is started again.
const RESTART_PAUSE_MAX: Duration = Duration::from_secs(30);
/// A task that ran this long before it failed is restarted at once, as if it had never failed.
const RESTART_FORGIVEN_AFTER: Duration = Duration::from_secs(300);

/// The wait before the `failures`-th retry in a row (from 1): 1 s, 2 s, 4 s … capped at `max`,
/// then cut by `jitter` (in [0, 1)) to somewhere in its upper half, so that the regions' (and
/// replicas') retries after a shared outage spread out.
fn retry_delay(failures: u32, max: Duration, jitter: f64) -> Duration {
    let exp = Duration::from_secs(1).saturating_mul(1u32 << failures.saturating_sub(1).min(16));
    let capped = exp.min(max);
    capped / 2 + capped.mul_f64(jitter.clamp(0.0, 1.0) / 2.0)
}

/// A cheap fraction in [0, 1) from the clock: enough to spread retries, no dependency needed.
fn jitter() -> f64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    f64::from(nanos % 1_000_000) / 1_000_000.0
}

/// One complete sweep of a lane into the cache, page by page, as fast as the budget allows;
/// returns how many resources it triggered.
pub async fn sweep_once<L: LambdaPort>(
    lambda: &L,
    cache: &MappingCache,
) -> Result<usize, crate::lambda::LambdaError> {
    Ok(sweep(lambda, cache, None).await?.triggered)
}

/// What a sweep did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Swept {
    pages: usize,
    triggered: usize,
}

/// One complete sweep of a lane into the cache, page by page. Each page is taken in as it
/// arrives: a drift is acted on as soon as its page is read, and only one page of typed mappings
/// is held at a time. With a `pace` (pages per second) the pages are spread evenly, so that the
/// lane's sweep costs a steady trickle of the account's quota rather than bursts.
async fn sweep<L: LambdaPort>(
    lambda: &L,
    cache: &MappingCache,
    pace: Option<f64>,
) -> Result<Swept, crate::lambda::LambdaError> {
    let filter = ListFilter::default();
    let started = Instant::now();
    cache.begin_sweep(started);
    let mut swept = Swept::default();
    let mut marker: Option<String> = None;
    loop {
        if let Some(pace) = pace {
            let due = started + Duration::from_secs_f64(swept.pages as f64 / pace);
            tokio::time::sleep_until(due).await;
        }
        let fetched = Instant::now();
        let page = lambda.list_mappings(&filter, marker.as_deref()).await?;
        swept.pages += 1;
        swept.triggered += cache.apply_page(fetched, page.mappings);
        match page.next_marker {
            // A repeated marker would loop forever; Lambda never sends one, but be safe.
            Some(next) if Some(&next) != marker.as_ref() => marker = Some(next),
            _ => break,
        }
    }
    swept.triggered += cache.finish_sweep();
    Ok(swept)
}

/// How long writes must have paused before a settling sweep runs: during a burst of creates
/// the budget should go to the creates, and one sweep afterwards observes them all.
const WRITE_QUIET: Duration = Duration::from_millis(500);

/// During a long burst of writes a sweep still runs after this rest (or after a rest as long as
/// the last sweep took, if longer), its pages taking the budget's small read share: drift
/// elsewhere is still seen, and the mappings created so far turn Ready while the burst goes on
/// instead of all at its end (where each costs the API server a read and a status write, a
/// wave that 1,000 resources take seconds to get through).
const BURST_REST: Duration = Duration::from_secs(25);

/// Whether a due sweep may start: once writes have paused, or while they flow, once it has
/// rested `rest` since the last sweep ended.
fn may_sweep(since_last_write: Option<Duration>, rested: Duration, rest: Duration) -> bool {
    since_last_write.is_none_or(|since| since >= WRITE_QUIET) || rested >= rest
}

/// The rest a sweep that took `took` earns during a burst of writes: [`BURST_REST`], or as long
/// as it took (a sweep of 10,000 mappings at the read share takes over a minute), but never
/// longer than the regular interval.
fn rest_after(took: Duration, interval: Duration) -> Duration {
    BURST_REST.max(took).min(interval)
}

/// Sweeps the lane for ever (the registry aborts it at shutdown).
pub(super) async fn sweep_loop<P: LambdaPort>(lane: Arc<Lane<P>>) {
    let Some(cache) = &lane.cache else {
        return;
    };
    let region = lane.key.to_string();
    tracing::info!(
        region,
        pages_per_second = cache.settings.pages_per_second,
        longest_interval_s = cache.settings.interval.as_secs(),
        "starting the mapping sweep"
    );
    let mut rested_from = Instant::now();
    let mut rest = rest_after(Duration::ZERO, cache.settings.interval);
    loop {
        while !may_sweep(cache.since_last_write(), rested_from.elapsed(), rest) {
            tokio::time::sleep(WRITE_QUIET / 4).await;
        }
        let started = Instant::now();
        // Settling writes want their confirmation at once; otherwise the sweep keeps its pace.
        let pace = cache
            .settings
            .pages_per_second
            .filter(|_| !cache.settling());
        let outcome = sweep(&lane.lambda, cache, pace).await;
        // Created before the settling check below: a write landing between that check and the
        // wait would otherwise be missed, and its resource would wait a full interval. (A
        // `Notified` receives `notify_waiters` from the moment it exists; writes made during
        // the sweep are still pending and keep the region settling.)
        let wake = cache.wake_sweeper.notified();
        rested_from = Instant::now();
        rest = rest_after(started.elapsed(), cache.settings.interval);
        let interval = match outcome {
            Ok(Swept { pages, triggered }) => {
                // A sweep is a wave of allocation (every page's mappings, the reconciles it
                // triggers); give the free pages back once it is over.
                crate::telemetry::memory::release_free();
                tracing::debug!(
                    region,
                    pages,
                    triggered,
                    took_ms = started.elapsed().as_millis() as u64,
                    "swept"
                );
                if cache.settling() {
                    cache.settings.busy_interval
                } else {
                    cache.settings.cadence(pages)
                }
            }
            Err(e) => {
                // Retried soon: a failed page must not leave the region unswept for a whole
                // interval, nor send every waiting reconcile to Lambda with a Get.
                let failures = cache.sweep_failed();
                let retry = retry_delay(failures, cache.settings.interval.min(RETRY_MAX), jitter());
                tracing::warn!(
                    region,
                    error = %e,
                    failures,
                    retry_in_ms = retry.as_millis() as u64,
                    "the List sweep of this region failed: changes made in Lambda there go unseen until a sweep succeeds"
                );
                // From when it failed, not when it started: a sweep that failed after a long
                // run of pages still waits its retry delay.
                rested_from.saturating_duration_since(started) + retry
            }
        };
        tokio::select! {
            _ = tokio::time::sleep_until(started + interval) => {}
            // A write arrived while idle: switch to the busy interval.
            _ = wake, if interval > cache.settings.busy_interval => {
                tokio::time::sleep(cache.settings.busy_interval).await;
            }
        }
    }
}

/// The resources to reconcile because a sweep saw their mapping change; only those in
/// `namespace` when the controller watches one namespace.
pub fn triggers(
    triggers: &Triggers,
    namespace: Option<String>,
) -> impl Stream<Item = ObjectRef<StoredMapping>> + Send + 'static {
    futures::stream::unfold(triggers.subscribe(), |mut rx| async move {
        rx.recv().await.map(|object| (object, rx))
    })
    .filter_map(move |object| {
        let ours = namespace.is_none() || object.namespace == namespace;
        futures::future::ready(ours.then(|| stored_ref(object)))
    })
}

fn stored_ref(object: ObjectRef<EventSourceMapping>) -> ObjectRef<StoredMapping> {
    let stored = ObjectRef::new(&object.name);
    match object.namespace {
        Some(ns) => stored.within(&ns),
        None => stored,
    }
}

#[cfg(test)]
mod tests {
    use super::super::cache::SweepSettings;
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn a_burst_of_writes_holds_the_sweep_only_for_a_rest() {
        let writing = Some(Duration::from_millis(100));
        // (last write, rested, rest) -> may sweep
        let cases = [
            (None, S(0), S(25), true),
            (Some(S(1)), S(0), S(25), true),
            (writing, S(0), S(25), false),
            (writing, S(24), S(25), false),
            (writing, S(25), S(25), true),
        ];
        for (since_last_write, rested, rest, expected) in cases {
            assert_eq!(
                may_sweep(since_last_write, rested, rest),
                expected,
                "{since_last_write:?} {rested:?} {rest:?}"
            );
        }
    }

    #[test]
    fn a_long_sweep_earns_a_longer_rest_up_to_the_interval() {
        assert_eq!(rest_after(S(3), S(60)), BURST_REST);
        assert_eq!(rest_after(S(45), S(60)), S(45));
        assert_eq!(rest_after(S(100), S(60)), S(60));
        assert_eq!(rest_after(S(100), S(300)), S(100));
        assert_eq!(rest_after(S(0), S(10)), S(10), "a short interval wins");
    }

    #[test]
    fn a_failed_sweep_is_retried_within_seconds_with_jitter_up_to_the_interval() {
        let interval = S(60);
        // (failures in a row, jitter) -> delay
        let cases = [
            (1, 0.0, Duration::from_millis(500)),
            (1, 0.999_999, Duration::from_secs(1)),
            (2, 0.0, S(1)),
            (3, 0.5, S(3)),
            (6, 0.0, S(16)),
            (7, 0.0, S(30)),
            (40, 0.0, S(30)),
            (40, 0.999_999, S(60)),
        ];
        for (failures, jitter, want) in cases {
            let got = retry_delay(failures, interval, jitter);
            assert!(
                got.abs_diff(want) < Duration::from_millis(1),
                "failures {failures}, jitter {jitter}: {got:?}, expected {want:?}"
            );
        }
        assert!(
            retry_delay(1, interval, 0.9) < interval / 10,
            "the first retry comes long before the interval"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_sweeper_that_panics_or_ends_is_started_again() {
        use std::sync::atomic::{AtomicU32, Ordering};
        let starts = Arc::new(AtomicU32::new(0));
        let counted = starts.clone();
        let supervisor = tokio::spawn(supervise("test task".into(), move || {
            let n = counted.fetch_add(1, Ordering::SeqCst) + 1;
            async move {
                match n {
                    1 => panic!("the first run panics"),
                    2 => {} // the second ends
                    _ => std::future::pending::<()>().await,
                }
            }
        }));
        tokio::time::sleep(S(120)).await;
        assert_eq!(
            starts.load(Ordering::SeqCst),
            3,
            "restarted after the panic and after the end, then left running"
        );
        assert!(!supervisor.is_finished(), "the supervisor never gives up");
        supervisor.abort();
    }

    #[test]
    fn a_lane_with_fewer_pages_is_swept_sooner() {
        let paced = SweepSettings {
            interval: S(3600),
            busy_interval: S(2),
            pages_per_second: Some(1.0),
        };
        // (pages, cadence): P / pace, at least the busy interval, at most the ceiling.
        let cases = [
            (0, S(2)),
            (1, S(2)),
            (2, S(2)),
            (10, S(10)),
            (100, S(100)),
            (10_000, S(3600)),
        ];
        for (pages, want) in cases {
            assert_eq!(paced.cadence(pages), want, "{pages} pages");
        }
        let faster = SweepSettings {
            pages_per_second: Some(4.0),
            ..paced
        };
        assert_eq!(faster.cadence(100), S(25));
        let fixed = SweepSettings {
            pages_per_second: None,
            interval: S(60),
            ..paced
        };
        assert_eq!(fixed.cadence(1), S(60), "without a pace, the interval");
        assert_eq!(fixed.cadence(1000), S(60));
    }

    /// A lane of `pages` pages of one mapping each (the page marker is the page number).
    struct Pages(u32, std::sync::Mutex<Vec<Instant>>);

    fn unused<T>() -> Result<T, crate::lambda::LambdaError> {
        unreachable!("a sweep only lists")
    }

    impl LambdaPort for Pages {
        async fn create_mapping(
            &self,
            _: &crate::lambda::MappingFields,
        ) -> Result<crate::lambda::ObservedMapping, crate::lambda::LambdaError> {
            unused()
        }
        async fn get_mapping(
            &self,
            _: &str,
        ) -> Result<crate::lambda::ObservedMapping, crate::lambda::LambdaError> {
            unused()
        }
        async fn update_mapping(
            &self,
            _: &str,
            _: &crate::lambda::MappingFields,
        ) -> Result<crate::lambda::ObservedMapping, crate::lambda::LambdaError> {
            unused()
        }
        async fn delete_mapping(
            &self,
            _: &str,
        ) -> Result<crate::lambda::ObservedMapping, crate::lambda::LambdaError> {
            unused()
        }
        async fn list_mappings(
            &self,
            _: &ListFilter,
            marker: Option<&str>,
        ) -> Result<crate::lambda::MappingPage, crate::lambda::LambdaError> {
            crate::sync::lock(&self.1).push(Instant::now());
            let page: u32 = marker.map_or(0, |m| m.parse().unwrap());
            let next = page + 1;
            Ok(crate::lambda::MappingPage {
                mappings: vec![
                    serde_json::from_value(
                        serde_json::json!({"UUID": format!("m-{page}"), "State": "Enabled"}),
                    )
                    .unwrap(),
                ],
                next_marker: (next < self.0).then(|| next.to_string()),
            })
        }
        async fn tag_resource(
            &self,
            _: &str,
            _: &std::collections::BTreeMap<String, String>,
        ) -> Result<(), crate::lambda::LambdaError> {
            unused()
        }
        async fn untag_resource(
            &self,
            _: &str,
            _: &[String],
        ) -> Result<(), crate::lambda::LambdaError> {
            unused()
        }
        async fn list_tags(
            &self,
            _: &str,
        ) -> Result<std::collections::BTreeMap<String, String>, crate::lambda::LambdaError>
        {
            unused()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_paced_sweep_spreads_its_pages_and_the_next_follows_its_cadence() {
        let settings = SweepSettings {
            interval: S(3600),
            busy_interval: S(2),
            pages_per_second: Some(1.0),
        };
        let lane = Arc::new(Lane {
            key: Arc::new(crate::lambda::LaneKey::region("r")),
            built: Instant::now(),
            lambda: Pages(5, Default::default()),
            cache: Some(MappingCache::new(settings, Arc::default())),
        });
        let start = Instant::now();
        let task = tokio::spawn(sweep_loop(lane.clone()));
        tokio::time::sleep(Duration::from_millis(12_500)).await;
        task.abort();
        let at: Vec<f64> = crate::sync::lock(&lane.lambda.1)
            .iter()
            .map(|t| (*t - start).as_secs_f64())
            .collect();
        // Five pages a second apart, and the next sweep of five pages 5 s after the first began.
        let want = [
            0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0,
        ];
        assert_eq!(at.len(), want.len(), "{at:?}");
        for (got, want) in at.iter().zip(want) {
            assert!((got - want).abs() < 0.01, "pages at {at:?}");
        }
    }
}
