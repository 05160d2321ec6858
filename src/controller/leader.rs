//! Leader election on a `coordination.k8s.io/v1` Lease, so that two replicas never both write
//! to AWS. A replica reconciles only while it holds the lease and stops the process as soon as
//! it cannot prove it still does.
//!
//! The timing follows client-go: the holder renews every retry period and gives up when it has
//! not renewed within the renew deadline, which is shorter than the lease duration a standby
//! waits before it takes over. The difference is the margin that keeps the two apart.
//!
//! [`Leadership`] is the local half of that rule. Renewal timers fire late after a process was
//! paused (SIGSTOP, a long GC-like stall, a frozen VM), so the renewal loop cannot be trusted to
//! notice in time. Instead every Lambda call ([`crate::lambda::Guarded`]) and every Kubernetes
//! write ([`WriteFence`]) asks the guard first, and the guard answers from this process's own
//! monotonic clock: the last renewal that succeeded, counted from when it was *sent*, plus the
//! renew deadline, must still be ahead of now.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client};
use tokio::time::Instant;

/// How long leadership lasts and how it is kept. The defaults are client-go's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaseTiming {
    /// How long a lease stays valid without renewal: what a standby waits before taking over.
    pub duration: Duration,
    /// How long the holder keeps writing without a successful renewal. Shorter than
    /// `duration`, so that the holder has stopped before any standby may start.
    pub renew_deadline: Duration,
    /// How often the holder renews (and retries a failed renewal), and how often a standby
    /// tries to take the lease.
    pub retry_period: Duration,
}

impl Default for LeaseTiming {
    fn default() -> Self {
        Self {
            duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }
}

impl LeaseTiming {
    /// Refuses timings under which two replicas could both write, or the holder could never
    /// renew in time.
    pub fn new(
        duration: Duration,
        renew_deadline: Duration,
        retry_period: Duration,
    ) -> Result<Self, String> {
        if duration.is_zero() || duration.subsec_nanos() != 0 {
            // The Lease stores whole seconds; rounding would change what standbys wait for.
            return Err(format!(
                "the lease duration must be a whole number of seconds, got {duration:?}"
            ));
        }
        if renew_deadline >= duration {
            return Err(format!(
                "the renew deadline ({renew_deadline:?}) must be shorter than the lease duration \
                 ({duration:?}): a leader must stop writing before a standby may take over"
            ));
        }
        if retry_period.is_zero() || retry_period >= renew_deadline {
            return Err(format!(
                "the retry period ({retry_period:?}) must be above zero and shorter than the \
                 renew deadline ({renew_deadline:?}), so that a failed renewal is retried in time"
            ));
        }
        Ok(Self {
            duration,
            renew_deadline,
            retry_period,
        })
    }
}

#[derive(Clone, Debug)]
pub struct LeaseSettings {
    pub namespace: String,
    pub name: String,
    /// This replica's identity (the pod name).
    pub identity: String,
    pub timing: LeaseTiming,
}

impl LeaseSettings {
    pub fn new(namespace: String, name: String, identity: String) -> Self {
        Self {
            namespace,
            name,
            identity,
            timing: LeaseTiming::default(),
        }
    }

    pub fn with_timing(self, timing: LeaseTiming) -> Self {
        Self { timing, ..self }
    }
}

/// Why a call was refused: this replica cannot show that it still leads.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not the leader: {0}")]
pub struct NotLeader(pub &'static str);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Standing {
    /// Not (yet) elected: nothing may be written.
    Waiting,
    /// Elected; writes are allowed strictly before this instant.
    Until(Instant),
    /// Leadership was lost (or given up); it never comes back in this process.
    Lost,
    /// Leader election is off: the operator runs a single replica.
    Unconditional,
}

/// Whether this process may act as the leader right now, decided locally on the monotonic
/// clock (see the module documentation). Shared by the elector, which extends it on each
/// renewal, and by everything that writes.
#[derive(Debug)]
pub struct Leadership {
    renew_deadline: Duration,
    standing: Mutex<Standing>,
}

impl Leadership {
    /// Not the leader until [`Leadership::renewed`] says otherwise.
    pub fn elected(renew_deadline: Duration) -> Self {
        Self {
            renew_deadline,
            standing: Mutex::new(Standing::Waiting),
        }
    }

    /// Without leader election every check passes.
    pub fn unconditional() -> Self {
        Self {
            renew_deadline: Duration::ZERO,
            standing: Mutex::new(Standing::Unconditional),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Standing> {
        crate::sync::lock(&self.standing)
    }

    /// A write to the Lease that was sent at `sent` succeeded. Counting from when it was sent,
    /// not from when the answer came, keeps us inside the window a standby measures from the
    /// `renewTime` stamped into that write.
    pub fn renewed(&self, sent: Instant) {
        let mut standing = self.lock();
        let until = sent + self.renew_deadline;
        *standing = match *standing {
            Standing::Waiting => Standing::Until(until),
            Standing::Until(before) => Standing::Until(before.max(until)),
            other => other,
        };
    }

    /// Leadership is over for this process: refuse everything from now on.
    pub fn lose(&self) {
        let mut standing = self.lock();
        if *standing != Standing::Unconditional {
            *standing = Standing::Lost;
        }
    }

    /// Until when this process may act as the leader (`None`: not now, or not elected at all).
    pub fn valid_until(&self) -> Option<Instant> {
        match *self.lock() {
            Standing::Until(until) => Some(until),
            _ => None,
        }
    }

    /// Whether this process may act as the leader at `now`.
    pub fn check_at(&self, now: Instant) -> Result<(), NotLeader> {
        match *self.lock() {
            Standing::Unconditional => Ok(()),
            Standing::Until(until) if now < until => Ok(()),
            Standing::Until(_) => Err(NotLeader(
                "the lease was not renewed within the renew deadline",
            )),
            Standing::Waiting => Err(NotLeader("the lease has not been acquired")),
            Standing::Lost => Err(NotLeader("leadership was lost")),
        }
    }

    /// Whether this process may act as the leader now. Call it right before every write.
    pub fn check(&self) -> Result<(), NotLeader> {
        self.check_at(Instant::now())
    }
}

/// A layer for the controller's Kubernetes client that refuses every write (anything but GET,
/// HEAD and OPTIONS) while [`Leadership`] is not current, so that a paused leader that wakes up
/// cannot overwrite the status, finalizers or Events its successor wrote. Reads pass: watches
/// and caches do no harm and keep a standby warm.
#[derive(Clone)]
pub struct WriteFence {
    leadership: Arc<Leadership>,
}

impl WriteFence {
    pub fn new(leadership: Arc<Leadership>) -> Self {
        Self { leadership }
    }
}

impl<S> tower::Layer<S> for WriteFence {
    type Service = WriteFenced<S>;

    fn layer(&self, inner: S) -> WriteFenced<S> {
        WriteFenced {
            inner,
            leadership: self.leadership.clone(),
        }
    }
}

#[derive(Clone)]
pub struct WriteFenced<S> {
    inner: S,
    leadership: Arc<Leadership>,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl<S, B> tower::Service<http::Request<B>> for WriteFenced<S>
where
    S: tower::Service<http::Request<B>>,
    S::Response: Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let reads = [http::Method::GET, http::Method::HEAD, http::Method::OPTIONS];
        if !reads.contains(request.method())
            && let Err(not_leader) = self.leadership.check()
        {
            return Box::pin(std::future::ready(Err(not_leader.into())));
        }
        let response = self.inner.call(request);
        Box::pin(async move { response.await.map_err(Into::into) })
    }
}

/// The outcome of one attempt to take or renew the lease.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attempt {
    /// This replica holds the lease now.
    Held,
    /// Another replica holds it: its identity when the lease names one, `None` when we lost a
    /// race for it (a conflicting write) and do not know the winner.
    Standby { holder: Option<String> },
}

pub struct Elector {
    api: Api<Lease>,
    settings: LeaseSettings,
    leadership: Arc<Leadership>,
}

impl Elector {
    /// `client` must not be fenced by this elector's own [`Leadership`]: renewing is the one
    /// write that has to go through while leadership is not (yet) current.
    pub fn new(client: Client, settings: LeaseSettings) -> Self {
        Self {
            api: Api::namespaced(client, &settings.namespace),
            leadership: Arc::new(Leadership::elected(settings.timing.renew_deadline)),
            settings,
        }
    }

    /// The guard this elector keeps current while it holds the lease.
    pub fn leadership(&self) -> Arc<Leadership> {
        self.leadership.clone()
    }

    /// One attempt to take or renew the lease.
    pub(crate) async fn try_acquire(&self) -> Result<Attempt, kube::Error> {
        let s = &self.settings;
        let now = jiff::Timestamp::now();
        let duration_secs = s.timing.duration.as_secs() as i32;
        let Some(mut lease) = self.api.get_opt(&s.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(s.name.clone()),
                    ..Default::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(s.identity.clone()),
                    lease_duration_seconds: Some(duration_secs),
                    acquire_time: Some(MicroTime(now)),
                    renew_time: Some(MicroTime(now)),
                    lease_transitions: Some(0),
                    ..Default::default()
                }),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(Attempt::Held),
                Err(kube::Error::Api(e)) if e.code == 409 => Ok(Attempt::Standby { holder: None }),
                Err(e) => Err(e),
            };
        };
        let spec = lease.spec.get_or_insert_with(Default::default);
        let ours = spec.holder_identity.as_deref() == Some(s.identity.as_str());
        let expired = match (&spec.renew_time, spec.lease_duration_seconds) {
            (Some(MicroTime(renewed)), Some(secs)) => {
                now.as_millisecond() > renewed.as_millisecond() + i64::from(secs) * 1000
            }
            _ => true,
        };
        if !ours && !expired && spec.holder_identity.is_some() {
            return Ok(Attempt::Standby {
                holder: spec.holder_identity.clone(),
            });
        }
        if !ours {
            spec.holder_identity = Some(s.identity.clone());
            spec.acquire_time = Some(MicroTime(now));
            spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
        }
        spec.lease_duration_seconds = Some(duration_secs);
        spec.renew_time = Some(MicroTime(now));
        // The resourceVersion from our read makes this a compare-and-swap.
        match self
            .api
            .replace(&s.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => Ok(Attempt::Held),
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(Attempt::Standby { holder: None }),
            Err(e) => Err(e),
        }
    }

    /// Waits until this replica holds the lease. A standby says so once at info, and again only
    /// when another replica takes over the lease, not on every attempt.
    pub async fn acquire(&self) {
        let s = &self.settings;
        let lease = format!("{}/{}", s.namespace, s.name);
        let mut standby = StandbyReport::default();
        loop {
            let sent = Instant::now();
            match self.try_acquire().await {
                Ok(Attempt::Held) => {
                    self.leadership.renewed(sent);
                    tracing::info!(
                        lease,
                        identity = s.identity,
                        "acquired leadership: lease {lease} is held by {}; reconciling",
                        s.identity
                    );
                    return;
                }
                Ok(Attempt::Standby { holder }) => {
                    if standby.is_news(holder.as_deref()) {
                        let holder = holder.as_deref().unwrap_or("another replica");
                        tracing::info!(
                            lease,
                            holder,
                            identity = s.identity,
                            "standing by: lease {lease} held by {holder}"
                        );
                    } else {
                        tracing::debug!(lease, holder, "another replica holds the lease");
                    }
                }
                Err(e) => tracing::warn!(lease, error = %e, "cannot read or take the lease"),
            }
            tokio::time::sleep(s.timing.retry_period).await;
        }
    }

    /// Renews the lease until it is lost; returns why. By then [`Leadership`] refuses every
    /// write already, and the caller must stop.
    pub async fn hold(&self) -> String {
        let reason = self.renew_until_lost().await;
        self.leadership.lose();
        reason
    }

    async fn renew_until_lost(&self) -> String {
        let timing = self.settings.timing;
        loop {
            let Some(deadline) = self.leadership.valid_until() else {
                return "the lease is not held".into();
            };
            // Wake up at the deadline at the latest, to stop as soon as the guard does.
            tokio::time::sleep_until((Instant::now() + timing.retry_period).min(deadline)).await;
            let sent = Instant::now();
            if sent >= deadline {
                // Also the way out after this process was paused past the deadline: the timer
                // fires late, but the clock has moved on.
                return format!(
                    "the lease was not renewed within the renew deadline ({}s)",
                    timing.renew_deadline.as_secs_f64()
                );
            }
            match tokio::time::timeout_at(deadline, self.try_acquire()).await {
                Ok(Ok(Attempt::Held)) => self.leadership.renewed(sent),
                Ok(Ok(Attempt::Standby {
                    holder: Some(holder),
                })) => return format!("{holder} took the lease"),
                Ok(Ok(Attempt::Standby { holder: None })) => {
                    return "another replica took the lease".into();
                }
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "lease renewal failed; retrying until the renew deadline");
                }
                Err(_) => {
                    return format!(
                        "the lease renewal did not complete within the renew deadline ({}s)",
                        timing.renew_deadline.as_secs_f64()
                    );
                }
            }
        }
    }

    /// Gives the lease up on shutdown, so a standby replica takes over without waiting.
    pub async fn release(&self) {
        if let Ok(Some(mut lease)) = self.api.get_opt(&self.settings.name).await
            && let Some(spec) = lease.spec.as_mut()
            && spec.holder_identity.as_deref() == Some(self.settings.identity.as_str())
        {
            spec.holder_identity = None;
            spec.renew_time = None;
            let _ = self
                .api
                .replace(&self.settings.name, &PostParams::default(), &lease)
                .await;
        }
    }
}

/// Decides which standby attempts are worth an info line: the first, and any that finds a new
/// holder. A lost race names no holder, so it has nothing new to say.
#[derive(Default)]
struct StandbyReport {
    /// `None` until the first report; then the holder it named, if it knew one.
    reported: Option<Option<String>>,
}

impl StandbyReport {
    fn is_news(&mut self, holder: Option<&str>) -> bool {
        let news = match (&self.reported, holder) {
            (None, _) => true,
            (Some(before), Some(now)) => before.as_deref() != Some(now),
            (Some(_), None) => false,
        };
        if news {
            self.reported = Some(holder.map(str::to_string));
        }
        news
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn a_standby_reports_the_first_wait_and_each_new_holder_only() {
        let mut report = StandbyReport::default();
        let said: Vec<bool> = [
            Some("pod-a"), // starts waiting
            Some("pod-a"), // the same holder renewing: nothing new
            None,          // lost a race, winner unknown: nothing new
            Some("pod-b"), // another replica took over
            Some("pod-b"),
        ]
        .into_iter()
        .map(|holder| report.is_news(holder))
        .collect();
        assert_eq!(said, [true, false, false, true, false]);

        // A standby whose first attempt lost a race still says that it waits.
        let mut report = StandbyReport::default();
        assert!(report.is_news(None));
        assert!(!report.is_news(None));
        assert!(report.is_news(Some("pod-a")));
    }

    /// A Lease API with one stored lease, held by `holder` and renewed `age_secs` ago; a write
    /// (taking or renewing it) gets `write_status`.
    fn lease_api(holder: &'static str, age_secs: i64, write_status: u16) -> Client {
        let (client, _) = lease_api_switchable(holder, age_secs, write_status);
        client
    }

    /// [`lease_api`] whose write status the test can change later, and which counts the writes
    /// it receives. A write status of 0 means the write is never answered (a stalled API server).
    fn lease_api_switchable(
        holder: &'static str,
        age_secs: i64,
        write_status: u16,
    ) -> (Client, Arc<WriteBehaviour>) {
        let behaviour = Arc::new(WriteBehaviour {
            status: AtomicU16::new(write_status),
            writes: AtomicUsize::new(0),
        });
        let shared = behaviour.clone();
        let service = tower::service_fn(move |req: http::Request<kube::client::Body>| {
            let behaviour = shared.clone();
            async move {
                let renewed = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(age_secs);
                let lease = serde_json::json!({
                    "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": "esm-controller", "namespace": "esm-system", "resourceVersion": "1"},
                    "spec": {"holderIdentity": holder, "leaseDurationSeconds": 15,
                             "renewTime": MicroTime(renewed)},
                });
                let status = if req.method() == http::Method::GET {
                    200
                } else {
                    behaviour.writes.fetch_add(1, Ordering::SeqCst);
                    behaviour.status.load(Ordering::SeqCst)
                };
                if status == 0 {
                    std::future::pending::<()>().await;
                }
                let body = if status == 409 {
                    serde_json::json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                    "reason": "Conflict", "code": 409, "message": "the object has been modified"})
                } else {
                    lease
                };
                Ok::<_, std::convert::Infallible>(
                    http::Response::builder()
                        .status(status)
                        .header("content-type", "application/json")
                        .body(kube::client::Body::from(serde_json::to_vec(&body).unwrap()))
                        .unwrap(),
                )
            }
        });
        (Client::new(service, "esm-system"), behaviour)
    }

    struct WriteBehaviour {
        status: AtomicU16,
        writes: AtomicUsize,
    }

    async fn attempt(holder: &'static str, age_secs: i64, write_status: u16) -> Attempt {
        let elector = Elector::new(
            lease_api(holder, age_secs, write_status),
            LeaseSettings::new("esm-system".into(), "esm-controller".into(), "pod-b".into()),
        );
        elector.try_acquire().await.unwrap()
    }

    #[tokio::test]
    async fn an_attempt_names_the_holder_when_it_knows_it() {
        // Held by another replica and fresh: we wait, and know for whom.
        assert_eq!(
            attempt("pod-a", 1, 200).await,
            Attempt::Standby {
                holder: Some("pod-a".into())
            }
        );
        // Expired: we take it over.
        assert_eq!(attempt("pod-a", 60, 200).await, Attempt::Held);
        // Expired, but another standby wrote first: we lost, and do not know to whom.
        assert_eq!(
            attempt("pod-a", 60, 409).await,
            Attempt::Standby { holder: None }
        );
        // Ours: renewed.
        assert_eq!(attempt("pod-b", 1, 200).await, Attempt::Held);
    }

    // ---- the local lease check -----------------------------------------------------------

    const DEADLINE: Duration = Duration::from_secs(10);

    #[test]
    fn leadership_is_current_until_the_renew_deadline_counted_from_when_the_renewal_was_sent() {
        let leadership = Leadership::elected(DEADLINE);
        let sent = Instant::now();
        assert_eq!(
            leadership.check_at(sent),
            Err(NotLeader("the lease has not been acquired"))
        );
        // The answer may come much later; the window still starts when the write left.
        leadership.renewed(sent);
        let last_moment = sent + DEADLINE - Duration::from_millis(1);
        assert_eq!(leadership.check_at(last_moment), Ok(()));
        assert_eq!(
            leadership.check_at(sent + DEADLINE),
            Err(NotLeader(
                "the lease was not renewed within the renew deadline"
            ))
        );
        // A process that was frozen long past the deadline wakes up refused.
        assert!(
            leadership
                .check_at(sent + Duration::from_secs(3600))
                .is_err()
        );
    }

    #[test]
    fn renewals_only_extend_leadership_and_a_loss_is_final() {
        let leadership = Leadership::elected(DEADLINE);
        let t0 = Instant::now();
        leadership.renewed(t0 + Duration::from_secs(5));
        // An older renewal answered late does not shorten the window.
        leadership.renewed(t0);
        assert_eq!(
            leadership.valid_until(),
            Some(t0 + Duration::from_secs(5) + DEADLINE)
        );
        leadership.lose();
        assert_eq!(
            leadership.check_at(t0),
            Err(NotLeader("leadership was lost"))
        );
        leadership.renewed(t0 + Duration::from_secs(6));
        assert!(leadership.check_at(t0 + Duration::from_secs(6)).is_err());
        assert_eq!(leadership.valid_until(), None);
    }

    #[test]
    fn without_leader_election_every_check_passes() {
        let leadership = Leadership::unconditional();
        leadership.lose();
        assert_eq!(
            leadership.check_at(Instant::now() + Duration::from_secs(86_400)),
            Ok(())
        );
    }

    #[test]
    fn lease_timings_that_could_let_two_replicas_write_are_refused() {
        let s = Duration::from_secs;
        let ms = Duration::from_millis;
        assert_eq!(
            LeaseTiming::new(s(15), s(10), s(2)),
            Ok(LeaseTiming::default())
        );
        for (duration, deadline, retry, says) in [
            (s(10), s(10), s(2), "shorter than the lease duration"),
            (s(10), s(12), s(2), "shorter than the lease duration"),
            (s(15), s(10), s(10), "shorter than the"),
            (s(15), s(10), s(0), "above zero"),
            (ms(15_500), s(10), s(2), "whole number of seconds"),
            (s(0), s(0), s(0), "whole number of seconds"),
        ] {
            let err = LeaseTiming::new(duration, deadline, retry)
                .expect_err(&format!("{duration:?}/{deadline:?}/{retry:?} was accepted"));
            assert!(err.contains(says), "{err}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_write_fence_lets_reads_through_and_writes_only_while_leading() {
        use tower::ServiceExt;

        let leadership = Arc::new(Leadership::elected(DEADLINE));
        let passed = Arc::new(AtomicUsize::new(0));
        let counter = passed.clone();
        let api = tower::service_fn(move |_req: http::Request<String>| {
            counter.fetch_add(1, Ordering::SeqCst);
            async { Ok::<_, std::convert::Infallible>(http::Response::new(String::new())) }
        });
        let fenced = tower::Layer::layer(&WriteFence::new(leadership.clone()), api);
        let request = |method: http::Method| {
            http::Request::builder()
                .method(method)
                .uri("/apis/lambda.esm-controller.dev/v1alpha1/namespaces/a/eventsourcemappings/x/status")
                .body(String::new())
                .unwrap()
        };
        let send = |method| fenced.clone().oneshot(request(method));

        // A standby (or a replica before its first renewal) reads, but cannot write.
        assert!(send(http::Method::GET).await.is_ok());
        for write in [
            http::Method::PATCH,
            http::Method::PUT,
            http::Method::POST,
            http::Method::DELETE,
        ] {
            let err = send(write.clone()).await.expect_err(write.as_str());
            assert!(err.to_string().contains("not the leader"), "{err}");
        }
        assert_eq!(passed.load(Ordering::SeqCst), 1);

        leadership.renewed(Instant::now());
        assert!(send(http::Method::PATCH).await.is_ok());
        assert_eq!(passed.load(Ordering::SeqCst), 2);

        tokio::time::advance(DEADLINE).await;
        assert!(send(http::Method::PATCH).await.is_err());
        assert!(send(http::Method::GET).await.is_ok());
        assert_eq!(passed.load(Ordering::SeqCst), 3);
    }

    // ---- the renewal loop --------------------------------------------------------------------

    /// `hold()`, failing instead of hanging if it never returns (virtual time: the hour passes
    /// at once when nothing else can run).
    async fn hold_or_fail(elector: &Elector) -> String {
        tokio::time::timeout(Duration::from_secs(3600), elector.hold())
            .await
            .expect("hold() kept the leadership for an hour")
    }

    fn elector(client: Client) -> Elector {
        Elector::new(
            client,
            LeaseSettings::new("esm-system".into(), "esm-controller".into(), "pod-b".into()),
        )
    }

    #[tokio::test(start_paused = true)]
    async fn a_leader_whose_renewals_fail_stops_and_is_refused() {
        let (client, api) = lease_api_switchable("pod-b", 1, 200);
        let elector = elector(client);
        elector.acquire().await;
        let leadership = elector.leadership();
        assert_eq!(leadership.check(), Ok(()));
        api.status.store(500, Ordering::SeqCst);
        let reason = hold_or_fail(&elector).await;
        assert!(reason.contains("renew deadline"), "{reason}");
        assert!(
            api.writes.load(Ordering::SeqCst) > 2,
            "renewals were retried"
        );
        assert_eq!(leadership.check(), Err(NotLeader("leadership was lost")));
    }

    #[tokio::test(start_paused = true)]
    async fn a_renewal_the_api_server_never_answers_does_not_hold_the_leader_forever() {
        let (client, api) = lease_api_switchable("pod-b", 1, 200);
        let elector = elector(client);
        elector.acquire().await;
        api.status.store(0, Ordering::SeqCst);
        let reason = hold_or_fail(&elector).await;
        assert!(reason.contains("renew deadline"), "{reason}");
        assert!(elector.leadership().check().is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn a_leader_woken_after_its_renew_deadline_stops_without_renewing() {
        let (client, api) = lease_api_switchable("pod-b", 1, 200);
        let elector = elector(client);
        elector.acquire().await;
        let writes_before = api.writes.load(Ordering::SeqCst);
        // Frozen (SIGSTOP) past the deadline: the clock moved on, no task ran.
        tokio::time::advance(DEADLINE + Duration::from_secs(1)).await;
        assert!(elector.leadership().check().is_err());
        // Even though the lease could still be renewed, the renewal loop gives up at once
        // rather than trusting a renewal sent after the deadline.
        let reason = hold_or_fail(&elector).await;
        assert!(reason.contains("renew deadline"), "{reason}");
        assert_eq!(api.writes.load(Ordering::SeqCst), writes_before);
    }

    #[tokio::test(start_paused = true)]
    async fn a_leader_whose_lease_was_taken_stops() {
        let (client, _) = lease_api_switchable("pod-b", 1, 200);
        let elector = elector(client);
        elector.acquire().await;
        // Another replica took the lease: our compare-and-swap conflicts.
        let (other, _) = lease_api_switchable("pod-a", 1, 200);
        let taken = Elector {
            api: Api::namespaced(other, "esm-system"),
            settings: elector.settings.clone(),
            leadership: elector.leadership(),
        };
        let reason = hold_or_fail(&taken).await;
        assert_eq!(reason, "pod-a took the lease");
        assert!(elector.leadership().check().is_err());
    }
}
