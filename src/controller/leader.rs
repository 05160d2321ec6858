//! Leader election on a `coordination.k8s.io/v1` Lease, so that two replicas never both write
//! to AWS. A replica reconciles only while it holds the lease and stops the process as soon as
//! it cannot prove it still does.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client};

#[derive(Clone, Debug)]
pub struct LeaseSettings {
    pub namespace: String,
    pub name: String,
    /// This replica's identity (the pod name).
    pub identity: String,
    /// How long a lease stays valid without renewal.
    pub duration: Duration,
    /// How often the holder renews.
    pub renew_every: Duration,
}

impl LeaseSettings {
    pub fn new(namespace: String, name: String, identity: String) -> Self {
        Self {
            namespace,
            name,
            identity,
            duration: Duration::from_secs(15),
            renew_every: Duration::from_secs(5),
        }
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
}

impl Elector {
    pub fn new(client: Client, settings: LeaseSettings) -> Self {
        Self {
            api: Api::namespaced(client, &settings.namespace),
            settings,
        }
    }

    /// One attempt to take or renew the lease.
    pub(crate) async fn try_acquire(&self) -> Result<Attempt, kube::Error> {
        let s = &self.settings;
        let now = jiff::Timestamp::now();
        let duration_secs = s.duration.as_secs() as i32;
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
            match self.try_acquire().await {
                Ok(Attempt::Held) => {
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
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }

    /// Renews the lease until it is lost; returns why. The caller must stop writing at once.
    pub async fn hold(&self) -> String {
        let mut last_renewal = std::time::Instant::now();
        loop {
            tokio::time::sleep(self.settings.renew_every).await;
            match self.try_acquire().await {
                Ok(Attempt::Held) => last_renewal = std::time::Instant::now(),
                Ok(Attempt::Standby {
                    holder: Some(holder),
                }) => {
                    return format!("{holder} took the lease");
                }
                Ok(Attempt::Standby { holder: None }) => {
                    return "another replica took the lease".into();
                }
                Err(e) => {
                    // Stop before the lease could have expired in someone else's eyes.
                    if last_renewal.elapsed() + self.settings.renew_every >= self.settings.duration
                    {
                        return format!("could not renew the lease in time: {e}");
                    }
                    tracing::warn!(error = %e, "lease renewal failed; retrying");
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
        let service = tower::service_fn(move |req: http::Request<kube::client::Body>| async move {
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
                write_status
            };
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
        });
        Client::new(service, "esm-system")
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
}
