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

    /// One attempt to take or renew the lease. `Ok(true)`: we hold it now.
    pub async fn try_acquire(&self) -> Result<bool, kube::Error> {
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
                Ok(_) => Ok(true),
                Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
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
            return Ok(false);
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
            Ok(_) => Ok(true),
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Waits until this replica holds the lease.
    pub async fn acquire(&self) {
        loop {
            match self.try_acquire().await {
                Ok(true) => {
                    tracing::info!(
                        lease = self.settings.name,
                        identity = self.settings.identity,
                        "acquired leadership"
                    );
                    return;
                }
                Ok(false) => tracing::debug!("another replica holds the lease"),
                Err(e) => tracing::warn!(error = %e, "cannot read or take the lease"),
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
                Ok(true) => last_renewal = std::time::Instant::now(),
                Ok(false) => return "another replica took the lease".into(),
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
