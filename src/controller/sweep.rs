//! The background sweep: one task per region lists every mapping (one page per 100 mappings)
//! into the shared cache, every `interval`, or every `busy_interval` while our writes or busy
//! mappings are settling.

use std::sync::Arc;
use std::time::Duration;

use futures::Stream;
use kube::runtime::reflector::ObjectRef;
use tokio::time::Instant;

use super::Context;
use super::cache::MappingCache;
use crate::api::EventSourceMapping;
use crate::lambda::{LambdaPort, ListFilter, list_all};

/// Starts the region's sweeper unless it runs already (list mode only).
pub fn ensure_sweeper<L: LambdaPort>(ctx: &Arc<Context<L>>, region: &str) {
    let Some(cache) = &ctx.cache else { return };
    // A zero interval means sweeps are driven by hand (tests).
    if !cache.interval.is_zero() && cache.claim_sweeper(region) {
        tokio::spawn(sweep_loop(ctx.clone(), region.to_string()));
    }
}

/// One complete sweep of a region into the cache; returns how many resources it triggered.
pub async fn sweep_once<L: LambdaPort>(
    lambda: &L,
    cache: &MappingCache,
    region: &str,
) -> Result<usize, crate::lambda::LambdaError> {
    let started = Instant::now();
    let mappings = list_all(lambda, region, &ListFilter::default()).await?;
    Ok(cache.apply_sweep(region, started, mappings))
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
        match list_all(&ctx.lambda, &region, &ListFilter::default()).await {
            Ok(mappings) => {
                let count = mappings.len();
                let triggered = cache.apply_sweep(&region, started, mappings);
                last_complete = started;
                tracing::debug!(
                    region,
                    mappings = count,
                    triggered,
                    took_ms = started.elapsed().as_millis() as u64,
                    "swept"
                );
            }
            Err(e) => {
                tracing::warn!(region, error = %e, "mapping sweep failed; retrying at the next interval")
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

/// The resources to reconcile because a sweep saw their mapping change.
pub fn triggers(
    cache: &MappingCache,
) -> impl Stream<Item = ObjectRef<EventSourceMapping>> + Send + 'static {
    futures::stream::unfold(cache.subscribe(), |mut rx| async move {
        rx.recv().await.map(|object| (object, rx))
    })
}
