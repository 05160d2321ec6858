//! Letting a deleted resource go: the mapping is deleted (or, with Retain, left in Lambda)
//! before the finalizer is released. A bad spec never blocks this: nothing here validates it.

use kube::runtime::controller::Action as Requeue;
use kube::runtime::events::EventType;

use super::Pass;
use crate::api::{DeletionPolicy, ManagementPolicy};
use crate::controller::lanes::Lane;
use crate::controller::observe::{Lookup, Observer};
use crate::controller::{Error, Track};
use crate::lambda::{AccountRole, Connect, ErrorKind, LambdaError, LambdaPort, LaneKey};
use crate::plan::{self, DeletePlan, Observed, Owner, Region, SpecError, Verdict};

impl<C: Connect> Pass<'_, C> {
    /// Deletes the mapping (or not, with Retain) before the finalizer is released.
    pub(super) async fn cleanup(
        mut self,
        region: &Result<Region, SpecError>,
        account: &Result<Option<AccountRole>, Verdict>,
    ) -> Result<Requeue, Error> {
        // The recorded region when a mapping is recorded: deleting in the default region of the
        // moment would find nothing there, release the finalizer and orphan the mapping.
        let Ok(region) = region else {
            // Nothing recorded and no region to have created it in: nothing was ever created.
            return Ok(Requeue::await_change());
        };
        // The recorded account, likewise.
        let account = match account {
            Ok(account) => account.clone(),
            Err(why) => return self.cleanup_without_account(why).await,
        };
        let lane = self.ctx.lane(&LaneKey {
            account,
            region: region.name().to_string(),
        });
        let region = &lane.key;
        let policy = self.deletion_policy();
        let observed = match policy {
            DeletionPolicy::Retain => Observed::Nothing,
            DeletionPolicy::Delete => self.observe_for_delete(&lane).await?,
        };
        match plan::plan_delete(policy, &observed) {
            DeletePlan::Release { reason } => self.release(Some(&lane), reason).await,
            DeletePlan::Wait { uuid, state } => {
                if let Observed::Found { mapping, .. } = &observed {
                    self.report.record_mapping(region, mapping);
                    self.report.verdict(&Verdict::progressing(
                        "Deleting",
                        format!("waiting for Lambda: mapping {uuid} is {state}"),
                    ));
                    self.report.write(self.api).await?;
                }
                Err(Error::DeletionInProgress {
                    uuid,
                    state: format!("Lambda reports it {state}"),
                })
            }
            DeletePlan::Delete { uuid } => self.delete(&lane, uuid).await,
        }
    }

    /// What is left in Lambda to delete. Tags are not needed to delete; the adopt annotation
    /// only matters for live resources.
    async fn observe_for_delete(&mut self, lane: &Lane<C::Port>) -> Result<Observed, Error> {
        let owner = Owner::of(self.esm, &self.ctx.settings.cluster_name);
        let lookup = Lookup::new(self.esm, &owner);
        let status = self.report.status.clone();
        let observer = Observer::new(&lane.lambda, lane.cache.as_ref());
        match observer.observe_for_delete(&status, &lookup).await {
            Ok(observed) => Ok(observed),
            Err(e) if e.kind == ErrorKind::Busy => Err(Error::DeletionInProgress {
                uuid: status.uuid.unwrap_or_else(|| "(not recorded yet)".into()),
                state: "Lambda answered that it is busy; asking again shortly".into(),
            }),
            Err(e) => Err(self.deletion_blocked(e).await),
        }
    }

    /// The resource's account cannot be used (its binding is gone, no longer grants the
    /// namespace, or moved): with Retain, or when nothing was ever created, the resource just
    /// goes; with Delete, the mapping cannot be deleted, and the resource says so and stays.
    async fn cleanup_without_account(&mut self, why: &Verdict) -> Result<Requeue, Error> {
        let recorded = plan::account::recorded_account(self.esm.status.as_ref()).is_some();
        if self.deletion_policy() == DeletionPolicy::Retain || !recorded {
            return self
                .release(None, "released without any AWS call".into())
                .await;
        }
        let mapping = self
            .esm
            .status
            .as_ref()
            .and_then(|s| s.uuid.clone())
            .unwrap_or_else(|| "the mapping this resource was creating".into());
        let message = format!(
            "mapping {mapping} could not be deleted: {}. The resource is kept until this is fixed; or set deletionPolicy: Retain to release it and leave the mapping in AWS",
            why.message()
        );
        let transition = self.report.previous_reason() != Some("DeleteBlocked");
        self.report
            .verdict(&Verdict::stalled("DeleteBlocked", message.clone()));
        self.report.write(self.api).await?;
        if transition {
            self.publish(
                EventType::Warning,
                "DeleteBlocked",
                "Delete",
                message.clone(),
            )
            .await;
        }
        Err(Error::DeleteBlocked(message))
    }

    /// spec.deletionPolicy, except that an observed mapping is never deleted: it is someone
    /// else's to manage.
    fn deletion_policy(&self) -> DeletionPolicy {
        match self.esm.spec.management_policy {
            ManagementPolicy::Observe => DeletionPolicy::Retain,
            ManagementPolicy::Full => self.esm.spec.deletion_policy,
        }
    }

    /// Nothing (more) to delete: release the finalizer and forget the resource.
    async fn release(
        &mut self,
        lane: Option<&Lane<C::Port>>,
        reason: String,
    ) -> Result<Requeue, Error> {
        let recorded = self.esm.status.as_ref().and_then(|s| s.uuid.as_ref());
        let (event_reason, note) = match self.deletion_policy() {
            DeletionPolicy::Retain => (
                "Retained",
                format!(
                    "{reason}: {}",
                    recorded.map(String::as_str).unwrap_or("no mapping")
                ),
            ),
            DeletionPolicy::Delete => ("Deleted", reason),
        };
        self.publish(EventType::Normal, event_reason, "Delete", note)
            .await;
        self.ctx.forget_object(self.key);
        // A retained mapping lives on in Lambda: its changes must not trigger a resource that
        // is gone.
        if let (Some(cache), Some(uuid)) = (lane.and_then(|l| l.cache.as_ref()), recorded) {
            cache.unwatch(uuid);
        }
        Ok(Requeue::await_change())
    }

    async fn delete(&mut self, lane: &Lane<C::Port>, uuid: String) -> Result<Requeue, Error> {
        match lane.lambda.delete_mapping(&uuid).await {
            Ok(mapping) => {
                self.ctx.memory.reset(self.key, Track::Busy);
                if let Some(cache) = &lane.cache {
                    cache.unwatch(&uuid);
                }
                self.report.record_mapping(&lane.key, &mapping);
                self.report.verdict(&Verdict::progressing(
                    "Deleting",
                    format!("deleting mapping {uuid}"),
                ));
                self.report.write(self.api).await?;
                Err(Error::DeletionInProgress {
                    uuid,
                    state: "Lambda is deleting it".into(),
                })
            }
            // Already gone is success; the next pass sees Gone and releases.
            Err(e) if e.kind == ErrorKind::NotFound => Err(Error::DeletionInProgress {
                uuid,
                state: "it is already gone; the finalizer is released next".into(),
            }),
            Err(e) if e.kind == ErrorKind::Busy => Err(Error::DeletionInProgress {
                uuid,
                state: "Lambda answered that it is busy; asking again shortly".into(),
            }),
            Err(e) => Err(self.deletion_blocked(e).await),
        }
    }

    /// Lambda refused to let the mapping go: say why on the resource (it stays, with its
    /// finalizer, until the cause is fixed), and hand the error to the retry policy.
    async fn deletion_blocked(&mut self, e: LambdaError) -> Error {
        let message = format!(
            "cannot delete the mapping: {}: {}; the resource is kept until this succeeds (fix the cause, or set deletionPolicy: Retain to leave the mapping in Lambda)",
            e.operation, e.message
        );
        let verdict = match e.kind {
            ErrorKind::Retry => Verdict::progressing("DeleteRetrying", message),
            _ => Verdict::stalled("DeleteFailed", message),
        };
        self.report.verdict(&verdict);
        if let Err(write) = self.report.write(self.api).await {
            return write.into();
        }
        e.into()
    }
}
