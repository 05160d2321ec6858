//! Account bindings (`LambdaAccount`): which account each resource's mapping is in, and the
//! bindings' own reconcile (can the role be assumed, how many resources use it, a finalizer
//! while any does).
//!
//! The decision is [`crate::plan::account`]; this module feeds it the bindings and the
//! namespace's labels from two watch caches, so that resolving costs no request at all. A
//! resource a binding does not grant never gets a lane, so it costs no STS or Lambda call.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::api::{ListParams, Patch, PatchParams};
use kube::core::{PartialObjectMeta, Selector, SelectorExt};
use kube::runtime::controller::Action;
use kube::runtime::finalizer::{self, Event as Finalize};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{Controller, WatchStreamExt, watcher};
use kube::{Api, Client, Resource, ResourceExt};

use super::{Context, Error};
use crate::api::{EventSourceMapping, FIELD_MANAGER, LambdaAccount, LambdaAccountStatus};
use crate::lambda::{AccountRole, Connect};
use crate::plan::Verdict;
use crate::plan::account::{Account, BindingView, account_of};

/// The finalizer a binding keeps while resources use it.
pub const BINDING_FINALIZER: &str = "lambda.esm-controller.dev/in-use";

/// How often a binding's role is assumed again to refresh its Ready condition.
const ROLE_RECHECK: Duration = Duration::from_secs(300);

/// The bindings and namespaces as the watch caches see them.
pub struct Accounts {
    bindings: Store<LambdaAccount>,
    namespaces: Store<PartialObjectMeta<Namespace>>,
    /// Whether resources that no binding covers use the controller's own identity.
    own_identity_allowed: bool,
    /// Bumped when a binding's spec or a namespace's labels change, so that every resource
    /// resolves its account again.
    changed: tokio::sync::watch::Sender<u64>,
}

impl Default for Accounts {
    /// No binding at all: every resource uses the controller's own identity.
    fn default() -> Self {
        Self::fixed(Vec::new(), Vec::new(), true)
    }
}

impl Accounts {
    /// Accounts from fixed lists (tests, and a controller without bindings).
    pub fn fixed(
        bindings: Vec<LambdaAccount>,
        namespaces: Vec<(String, BTreeMap<String, String>)>,
        own_identity_allowed: bool,
    ) -> Self {
        let (binding_store, mut binding_writer) = reflector::store();
        for binding in bindings {
            binding_writer.apply_watcher_event(&watcher::Event::Apply(binding));
        }
        let (namespace_store, mut namespace_writer) = reflector::store();
        for (name, labels) in namespaces {
            let mut meta = PartialObjectMeta::<Namespace>::default();
            meta.metadata.name = Some(name);
            meta.metadata.labels = Some(labels);
            namespace_writer.apply_watcher_event(&watcher::Event::Apply(meta));
        }
        Self {
            bindings: binding_store,
            namespaces: namespace_store,
            own_identity_allowed,
            changed: tokio::sync::watch::Sender::new(0),
        }
    }

    /// The account a resource's mapping is managed with (`None`: the controller's own
    /// identity), or why it may not be reconciled.
    pub(crate) fn resolve(&self, esm: &EventSourceMapping) -> Result<Option<AccountRole>, Verdict> {
        let namespace = esm.namespace().unwrap_or_default();
        let labels = self.namespace_labels(&namespace);
        let bindings = self.bindings.state();
        let views: Vec<BindingView<'_>> = bindings
            .iter()
            .map(|b| BindingView {
                name: b.metadata.name.as_deref().unwrap_or_default(),
                selects: selects(b, &labels),
                default: b.spec.default,
                account_id: b.spec.account_id(),
            })
            .collect();
        let account = account_of(
            &namespace,
            esm.spec.account_ref.as_deref(),
            esm.status.as_ref(),
            &views,
            self.own_identity_allowed,
        )?;
        Ok(match account {
            Account::Own => None,
            Account::Binding(name) => bindings
                .iter()
                .find(|b| b.metadata.name.as_deref() == Some(name.as_str()))
                .map(|b| role_of(b)),
        })
    }

    fn namespace_labels(&self, namespace: &str) -> BTreeMap<String, String> {
        let mut labels = self
            .namespaces
            .get(&ObjectRef::new(namespace))
            .and_then(|ns| ns.metadata.labels.clone())
            .unwrap_or_default();
        // The API server sets this label on every namespace; a namespace the cache has not
        // seen yet still answers to its name.
        labels
            .entry("kubernetes.io/metadata.name".into())
            .or_insert_with(|| namespace.to_string());
        labels
    }

    /// A stream that yields each time every resource should resolve its account again.
    pub(crate) fn changes(&self) -> impl Stream<Item = ()> + Send + 'static {
        let rx = self.changed.subscribe();
        futures::stream::unfold(rx, |mut rx| async move {
            rx.changed().await.ok()?;
            Some(((), rx))
        })
    }
}

/// Whether a binding's namespace selector selects a namespace with these labels. An absent
/// selector selects nothing; one the API server let through but that cannot be parsed selects
/// nothing either.
fn selects(binding: &LambdaAccount, labels: &BTreeMap<String, String>) -> bool {
    let Some(selector) = &binding.spec.namespace_selector else {
        return false;
    };
    Selector::try_from(selector.clone()).is_ok_and(|s| s.matches(labels))
}

/// The lane's view of a binding.
fn role_of(binding: &LambdaAccount) -> AccountRole {
    AccountRole {
        binding: binding.name_any(),
        role_arn: binding.spec.role_arn.clone(),
        external_id: binding.spec.external_id.clone(),
        session_tags: binding.spec.session_tags.clone(),
        millirequests_per_second: binding
            .spec
            .requests_per_second
            .map(|rate| (rate * 1000.0).round() as u32),
    }
}

/// The watch caches of bindings and namespaces, and the binding controller. The returned
/// future runs the bindings' reconciles until `shutdown`; the namespaces' cache is filled by
/// the task this starts.
pub async fn watch_accounts(
    client: &Client,
    own_identity_allowed: bool,
) -> (Accounts, Controller<LambdaAccount>) {
    let (namespaces, mut namespace_writer) = reflector::store();
    let namespaces_before = namespaces.clone();
    let changed = tokio::sync::watch::Sender::new(0u64);
    let namespace_changes = changed.clone();
    let api: Api<PartialObjectMeta<Namespace>> = Api::all(client.clone());
    let namespace_watch = watcher(api, watcher::Config::default())
        .default_backoff()
        .try_for_each(move |event| {
            let relabelled = match &event {
                watcher::Event::Apply(ns) | watcher::Event::Delete(ns) => namespaces_before
                    .get(&ObjectRef::from_obj(ns))
                    .is_some_and(|old| old.metadata.labels != ns.metadata.labels),
                _ => false,
            };
            namespace_writer.apply_watcher_event(&event);
            if relabelled {
                namespace_changes.send_modify(|n| *n += 1);
            }
            futures::future::ready(Ok(()))
        });
    tokio::spawn(async move {
        if let Err(e) = namespace_watch.await {
            tracing::error!(error = %e, "the namespace watch ended");
        }
    });

    let (bindings, mut binding_writer) = reflector::store::<LambdaAccount>();
    let bindings_before = bindings.clone();
    let binding_changes = changed.clone();
    let api: Api<LambdaAccount> = Api::all(client.clone());
    let binding_events = watcher(api, watcher::Config::default().any_semantic())
        .default_backoff()
        .map_ok(move |event| {
            let respecced = match &event {
                watcher::Event::Apply(b) => bindings_before
                    .get(&ObjectRef::from_obj(b))
                    .is_none_or(|old| old.spec != b.spec),
                watcher::Event::Delete(_) => true,
                _ => false,
            };
            binding_writer.apply_watcher_event(&event);
            if respecced {
                binding_changes.send_modify(|n| *n += 1);
            }
            futures::stream::iter(match event {
                watcher::Event::Apply(b) | watcher::Event::InitApply(b) => vec![Ok(b)],
                _ => vec![],
            })
        })
        .try_flatten();
    // The watch runs in its own task, so that the cache fills now: the controller polls its
    // stream only once it runs, after this function returns, and waiting for the cache below
    // would otherwise always wait the whole timeout.
    let (events_tx, events_rx) = futures::channel::mpsc::unbounded();
    tokio::spawn(binding_events.for_each(move |event| {
        let _ = events_tx.unbounded_send(event);
        futures::future::ready(())
    }));
    let controller = Controller::for_stream(events_rx, bindings.clone());
    // Both caches must be filled before the first resource resolves its account.
    let _ = tokio::time::timeout(Duration::from_secs(30), async {
        let _ = bindings.wait_until_ready().await;
        let _ = namespaces.wait_until_ready().await;
    })
    .await;
    let accounts = Accounts {
        bindings,
        namespaces,
        own_identity_allowed,
        changed,
    };
    (accounts, controller)
}

/// Runs the bindings' reconciles until `shutdown`.
pub async fn run_bindings<C: Connect>(
    controller: Controller<LambdaAccount>,
    ctx: Arc<Context<C>>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    controller
        .graceful_shutdown_on(shutdown)
        .run(reconcile_binding, binding_error_policy, ctx)
        .for_each(|_| async {})
        .await;
}

/// One binding: keep its finalizer, check its role, count its users; when deleted, release it
/// only once no resource uses it.
pub async fn reconcile_binding<C: Connect>(
    binding: Arc<LambdaAccount>,
    ctx: Arc<Context<C>>,
) -> Result<Action, Error> {
    let api: Api<LambdaAccount> = Api::all(ctx.client.clone());
    finalizer::finalizer(&api, BINDING_FINALIZER, binding, |event| async {
        match event {
            Finalize::Apply(binding) => {
                let users = ctx.memory.binding_users(&binding.name_any());
                let role = ctx.lanes.connector().check_role(&role_of(&binding)).await;
                let ready = match &role {
                    Ok(()) => (
                        "True",
                        "Assumed",
                        format!("the controller can assume {}", binding.spec.role_arn),
                    ),
                    Err(sts) => (
                        "False",
                        "AssumeRoleFailed",
                        format!("cannot assume {}: {sts}", binding.spec.role_arn),
                    ),
                };
                if let Err(sts) = &role {
                    tracing::warn!(binding = binding.name_any(), error = %sts, "cannot assume the role of an account binding");
                }
                write_status(&api, &binding, users, ready).await?;
                Ok(Action::requeue(ROLE_RECHECK))
            }
            Finalize::Cleanup(binding) => {
                let users = users_in_cluster(&ctx.client, &binding.name_any()).await?;
                if users == 0 {
                    return Ok(Action::await_change());
                }
                let message = format!(
                    "deleting: still used by {users} EventSourceMapping(s); the binding goes once none does (delete them, with deletionPolicy Retain to keep their mappings)"
                );
                write_status(&api, &binding, users, ("False", "InUse", message)).await?;
                Err(Error::BindingInUse {
                    binding: binding.name_any(),
                    users,
                })
            }
        }
    })
    .await
    .map_err(|e| Error::Finalizer(Box::new(e)))
}

fn binding_error_policy<C: Connect>(
    binding: Arc<LambdaAccount>,
    error: &Error,
    _: Arc<Context<C>>,
) -> Action {
    if !matches!(error.root(), Error::BindingInUse { .. }) {
        tracing::warn!(binding = binding.name_any(), error = %error.root(), "account binding reconcile failed");
    }
    Action::requeue(Duration::from_secs(30))
}

/// How many resources record or name the binding, counted from the API server (not from
/// memory, which a restart empties): the last word before a binding's finalizer goes.
async fn users_in_cluster(client: &Client, name: &str) -> Result<usize, kube::Error> {
    let api: Api<EventSourceMapping> = Api::all(client.clone());
    let mut params = ListParams::default().limit(500);
    let mut users = 0;
    loop {
        let page = api.list(&params).await?;
        users += page
            .items
            .iter()
            .filter(|esm| {
                esm.spec.account_ref.as_deref() == Some(name)
                    || esm.status.as_ref().and_then(|s| s.account.as_deref()) == Some(name)
            })
            .count();
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => return Ok(users),
        }
    }
}

/// Writes the binding's status (server-side apply) when it changed.
async fn write_status(
    api: &Api<LambdaAccount>,
    binding: &LambdaAccount,
    users: usize,
    (status, reason, message): (&str, &str, String),
) -> Result<(), kube::Error> {
    let before = binding.status.clone().unwrap_or_default();
    let previous = before.conditions.iter().find(|c| c.type_ == "Ready");
    let transition = match previous {
        Some(c) if c.status == status => c.last_transition_time.clone(),
        _ => Time(jiff::Timestamp::now()),
    };
    let generation = binding.metadata.generation;
    let next = LambdaAccountStatus {
        account_id: binding.spec.account_id().map(str::to_string),
        resources: u32::try_from(users).unwrap_or(u32::MAX),
        observed_generation: generation,
        conditions: vec![Condition {
            type_: "Ready".into(),
            status: status.into(),
            reason: reason.into(),
            message,
            observed_generation: generation,
            last_transition_time: transition,
        }],
    };
    if next == before {
        return Ok(());
    }
    let body = serde_json::json!({
        "apiVersion": LambdaAccount::api_version(&()),
        "kind": LambdaAccount::kind(&()),
        "status": next,
    });
    let params = PatchParams::apply(FIELD_MANAGER).force();
    api.patch_status(&binding.name_any(), &params, &Patch::Apply(&body))
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{EventSourceMappingSpec, LambdaAccountSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

    fn binding(name: &str, team: &str, default: bool) -> LambdaAccount {
        let mut b = LambdaAccount::new(
            name,
            LambdaAccountSpec {
                role_arn: "arn:aws:iam::111111111111:role/esm".into(),
                namespace_selector: Some(LabelSelector {
                    match_labels: Some([("team".to_string(), team.to_string())].into()),
                    ..Default::default()
                }),
                default,
                requests_per_second: Some(2.5),
                ..Default::default()
            },
        );
        b.metadata.name = Some(name.into());
        b
    }

    fn resource(namespace: &str, account_ref: Option<&str>) -> EventSourceMapping {
        let mut esm = EventSourceMapping::new(
            "r",
            EventSourceMappingSpec {
                account_ref: account_ref.map(str::to_string),
                ..Default::default()
            },
        );
        esm.metadata.namespace = Some(namespace.into());
        esm
    }

    fn labels(team: &str) -> BTreeMap<String, String> {
        [("team".to_string(), team.to_string())].into()
    }

    #[test]
    fn a_namespace_gets_the_binding_its_labels_select_and_no_other() {
        let accounts = Accounts::fixed(
            vec![binding("a", "alpha", true), binding("b", "beta", false)],
            vec![
                ("ns-a".into(), labels("alpha")),
                ("ns-b".into(), labels("beta")),
            ],
            true,
        );
        let role = accounts.resolve(&resource("ns-a", None)).unwrap().unwrap();
        assert_eq!(role.binding, "a");
        assert_eq!(role.requests_per_second(), Some(2.5));
        assert_eq!(role.account_id(), "111111111111");
        // ns-b has no default: its own identity, unless it names its binding.
        assert_eq!(accounts.resolve(&resource("ns-b", None)), Ok(None));
        let named = accounts.resolve(&resource("ns-b", Some("b"))).unwrap();
        assert_eq!(named.map(|r| r.binding), Some("b".to_string()));
        // A tenant naming another tenant's binding is refused.
        let refused = accounts.resolve(&resource("ns-b", Some("a"))).unwrap_err();
        assert_eq!(refused.reason(), "AccountNotGranted");
    }

    #[test]
    fn selectors_select_by_name_and_an_absent_selector_selects_nothing() {
        let mut by_name = binding("n", "x", false);
        by_name.spec.namespace_selector = Some(LabelSelector {
            match_labels: Some(
                [(
                    "kubernetes.io/metadata.name".to_string(),
                    "ns-x".to_string(),
                )]
                .into(),
            ),
            ..Default::default()
        });
        let mut none = binding("none", "x", false);
        none.spec.namespace_selector = None;
        let mut all = binding("all", "x", false);
        all.spec.namespace_selector = Some(LabelSelector::default());
        let accounts = Accounts::fixed(vec![by_name, none, all], vec![], true);
        assert!(accounts.resolve(&resource("ns-x", Some("n"))).is_ok());
        assert!(accounts.resolve(&resource("ns-y", Some("n"))).is_err());
        assert!(accounts.resolve(&resource("ns-x", Some("none"))).is_err());
        assert!(accounts.resolve(&resource("anything", Some("all"))).is_ok());
    }
}
