//! The background sweep: one task per region lists every mapping (one page per 100 mappings)
//! into the shared cache, every `interval`, or every `busy_interval` while our writes or busy
//! mappings are settling.

use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt};
use kube::runtime::reflector::ObjectRef;
use tokio::time::Instant;

use super::cache::MappingCache;
use super::{Context, StoredMapping};
use crate::api::EventSourceMapping;
use crate::lambda::{LambdaPort, ListFilter};

/// Starts the region's sweeper unless it runs already (list mode only).
pub fn ensure_sweeper<L: LambdaPort>(ctx: &Arc<Context<L>>, region: &str) {
    let Some(cache) = &ctx.cache else { return };
    // A zero interval means sweeps are driven by hand (tests).
    if !cache.interval.is_zero() && cache.claim_sweeper(region) {
        tokio::spawn(sweep_loop(ctx.clone(), region.to_string()));
    }
}

/// One complete sweep of a region into the cache, page by page; returns how many resources it
/// triggered. Each page is taken in as it arrives: a drift is acted on as soon as its page is
/// read, and only one page of typed mappings is held at a time.
pub async fn sweep_once<L: LambdaPort>(
    lambda: &L,
    cache: &MappingCache,
    region: &str,
) -> Result<usize, crate::lambda::LambdaError> {
    let filter = ListFilter::default();
    cache.begin_sweep(region, Instant::now());
    let mut triggered = 0;
    let mut marker: Option<String> = None;
    loop {
        let fetched = Instant::now();
        let page = lambda
            .list_mappings(region, &filter, marker.as_deref())
            .await?;
        triggered += cache.apply_page(region, fetched, page.mappings);
        match page.next_marker {
            // A repeated marker would loop forever; Lambda never sends one, but be safe.
            Some(next) if Some(&next) != marker.as_ref() => marker = Some(next),
            _ => break,
        }
    }
    Ok(triggered + cache.finish_sweep(region))
}

/// How long writes must have paused before a settling sweep runs: during a burst of creates
/// every request of the budget should go to the creates, and one sweep afterwards observes
/// them all.
const WRITE_QUIET: Duration = Duration::from_secs(1);

async fn sweep_loop<L: LambdaPort>(ctx: Arc<Context<L>>, region: String) {
    let Some(cache) = ctx.cache.clone() else {
        return;
    };
    tracing::info!(
        region,
        interval_s = cache.interval.as_secs(),
        "starting the mapping sweep"
    );
    let mut last_complete = Instant::now();
    loop {
        // Hold the sweep while writes are flowing, but never longer than the regular interval
        // beyond the last complete sweep (drift elsewhere must still be seen).
        while cache
            .since_last_write(&region)
            .is_some_and(|since| since < WRITE_QUIET)
            && last_complete.elapsed() < cache.interval
        {
            tokio::time::sleep(WRITE_QUIET / 4).await;
        }
        let started = Instant::now();
        match sweep_once(&ctx.lambda, &cache, &region).await {
            Ok(triggered) => {
                last_complete = started;
                // A sweep is a wave of allocation (every page's mappings, the reconciles it
                // triggers); give the free pages back once it is over.
                crate::telemetry::memory::release_free();
                tracing::debug!(
                    region,
                    triggered,
                    took_ms = started.elapsed().as_millis() as u64,
                    "swept"
                );
            }
            Err(e) => {
                cache.sweep_failed(&region);
                tracing::warn!(
                    region,
                    error = %e,
                    retry_in_s = cache.interval.as_secs(),
                    "the List sweep of this region failed: changes made in Lambda there go unseen until a sweep succeeds"
                )
            }
        }
        let interval = if cache.settling(&region) {
            cache.busy_interval
        } else {
            cache.interval
        };
        let wake = cache.wake_sweepers.notified();
        tokio::select! {
            _ = tokio::time::sleep_until(started + interval) => {}
            // A write arrived while idle: switch to the busy interval.
            _ = wake, if interval > cache.busy_interval => {
                tokio::time::sleep(cache.busy_interval).await;
            }
        }
    }
}

/// The resources to reconcile because a sweep saw their mapping change; only those in
/// `namespace` when the controller watches one namespace.
pub fn triggers(
    cache: &MappingCache,
    namespace: Option<String>,
) -> impl Stream<Item = ObjectRef<StoredMapping>> + Send + 'static {
    futures::stream::unfold(cache.subscribe(), |mut rx| async move {
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
