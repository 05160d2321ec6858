//! Which AWS account a resource's mapping is in (pure), and whether its namespace may use it.
//!
//! Accounts are granted by LambdaAccount bindings, which a cluster admin creates: a binding
//! selects namespaces, and only resources in those namespaces may use it. A resource names a
//! binding in `spec.accountRef`, or gets its namespace's default binding, or else the
//! controller's own identity (unless the controller is told to refuse it).
//!
//! Like the region (see [`super::region`]), the account is recorded in status with the create
//! intent, and a recorded mapping stays in its account for good: looking it up in another
//! account would find nothing and create a duplicate there. A new default binding does not
//! move existing mappings; a binding that is gone, no longer selects the namespace, or whose
//! role now belongs to another account stalls the resource instead. Every refusal is decided
//! here, before any lane exists, so that a refused resource costs no STS or Lambda call.

use super::Verdict;
use crate::api::EventSourceMappingStatus;

/// A binding as the resolution sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct BindingView<'a> {
    pub name: &'a str,
    /// Whether its namespace selector selects the resource's namespace.
    pub selects: bool,
    pub default: bool,
    /// The account ID in its role ARN.
    pub account_id: Option<&'a str>,
}

/// The identity a resource's mapping is managed with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Account {
    /// The controller's own AWS identity.
    Own,
    /// The role of this binding.
    Binding(String),
}

/// The account status records for the mapping: `None` when status records neither a mapping
/// nor a create in flight; `Some(None)` when they were made with the controller's own identity
/// (this is also every mapping recorded before bindings existed).
pub(crate) fn recorded_account(status: Option<&EventSourceMappingStatus>) -> Option<Option<&str>> {
    let status = status?;
    if status.uuid.is_none() && status.create_requested_at.is_none() {
        return None;
    }
    Some(status.account.as_deref())
}

/// Which account to reconcile the resource in, or why it may not be reconciled at all.
pub(crate) fn account_of(
    namespace: &str,
    account_ref: Option<&str>,
    status: Option<&EventSourceMappingStatus>,
    bindings: &[BindingView<'_>],
    own_identity_allowed: bool,
) -> Result<Account, Verdict> {
    let Some(recorded) = recorded_account(status) else {
        return account_for_new(namespace, account_ref, bindings, own_identity_allowed);
    };
    let mapping = match status.and_then(|s| s.uuid.as_deref()) {
        Some(uuid) => format!("mapping {uuid}"),
        None => "the mapping this resource was creating".to_string(),
    };
    if let Some(asked) = account_ref.filter(|asked| Some(*asked) != recorded) {
        let there = match recorded {
            Some(name) => format!("the account of LambdaAccount {name} (status.account)"),
            None => "the controller's own account".to_string(),
        };
        return Err(Verdict::stalled(
            "AccountChanged",
            format!(
                "spec.accountRef is {asked}, but {mapping} is in {there} and a mapping cannot move between accounts; nothing was changed. Set spec.accountRef back, or delete this EventSourceMapping and create it again with the new accountRef"
            ),
        ));
    }
    let Some(name) = recorded else {
        return own(namespace, own_identity_allowed, &mapping);
    };
    let binding = usable(namespace, name, bindings)?;
    let recorded_id = status.and_then(|s| s.account_id.as_deref());
    if let (Some(recorded_id), Some(now)) = (recorded_id, binding.account_id)
        && recorded_id != now
    {
        return Err(Verdict::stalled(
            "AccountMoved",
            format!(
                "{mapping} is in AWS account {recorded_id}, but LambdaAccount {name}'s role is now in account {now}; nothing was sent to either account. Point the binding's roleArn back to account {recorded_id}, or delete this EventSourceMapping with deletionPolicy Retain and manage the mapping elsewhere"
            ),
        ));
    }
    Ok(Account::Binding(name.to_string()))
}

/// The account of a resource with nothing recorded.
fn account_for_new(
    namespace: &str,
    account_ref: Option<&str>,
    bindings: &[BindingView<'_>],
    own_identity_allowed: bool,
) -> Result<Account, Verdict> {
    if let Some(name) = account_ref {
        return usable(namespace, name, bindings).map(|b| Account::Binding(b.name.to_string()));
    }
    let mut defaults: Vec<&str> = bindings
        .iter()
        .filter(|b| b.selects && b.default)
        .map(|b| b.name)
        .collect();
    defaults.sort_unstable();
    match defaults.as_slice() {
        [] => own(namespace, own_identity_allowed, "a new mapping"),
        [only] => Ok(Account::Binding(only.to_string())),
        several => Err(Verdict::stalled(
            "AccountConflict",
            format!(
                "LambdaAccounts {} are all default for namespace {namespace}; nothing is created until exactly one is (set spec.default: false on the others, or set spec.accountRef on this resource)",
                several.join(" and ")
            ),
        )),
    }
}

/// The binding named `name`, if it exists and selects the namespace.
fn usable<'b>(
    namespace: &str,
    name: &str,
    bindings: &'b [BindingView<'b>],
) -> Result<&'b BindingView<'b>, Verdict> {
    match bindings.iter().find(|b| b.name == name) {
        None => Err(Verdict::stalled(
            "AccountNotFound",
            format!(
                "LambdaAccount {name} does not exist; no AWS call was made. A cluster admin creates account bindings (kubectl get lambdaaccounts)"
            ),
        )),
        Some(binding) if !binding.selects => Err(Verdict::stalled(
            "AccountNotGranted",
            format!(
                "LambdaAccount {name} does not select namespace {namespace} (its spec.namespaceSelector); no AWS call was made. Ask a cluster admin to grant this namespace the account"
            ),
        )),
        Some(binding) => Ok(binding),
    }
}

fn own(namespace: &str, allowed: bool, what: &str) -> Result<Account, Verdict> {
    if allowed {
        return Ok(Account::Own);
    }
    Err(Verdict::stalled(
        "NoAccount",
        format!(
            "{what} would use the controller's own AWS identity, which this controller refuses (--require-account-binding); no AWS call was made. Set spec.accountRef to a LambdaAccount that selects namespace {namespace}, or ask a cluster admin for a default one"
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding<'a>(name: &'a str, selects: bool, default: bool) -> BindingView<'a> {
        BindingView {
            name,
            selects,
            default,
            account_id: Some("111111111111"),
        }
    }

    fn recorded(account: Option<&str>, account_id: Option<&str>) -> EventSourceMappingStatus {
        EventSourceMappingStatus {
            uuid: Some("u-1".into()),
            account: account.map(str::to_string),
            account_id: account_id.map(str::to_string),
            ..Default::default()
        }
    }

    fn reason(result: Result<Account, Verdict>) -> String {
        match result {
            Ok(account) => format!("{account:?}"),
            Err(verdict) => verdict.reason().to_string(),
        }
    }

    /// One case: what the resource asks, which bindings exist (by name), whether the own
    /// identity is allowed, and the outcome.
    type Case<'a> = (&'a str, Option<&'a str>, &'a [&'a str], bool, &'a str);

    #[test]
    fn a_new_resource_follows_its_ref_then_its_one_default_then_the_own_identity() {
        let all = [
            binding("team", true, false),
            binding("dflt", true, true),
            binding("dflt2", true, true),
            binding("other", false, true),
        ];
        let cases: &[Case] = &[
            (
                "ref granted",
                Some("team"),
                &["team"],
                true,
                "Binding(\"team\")",
            ),
            (
                "ref wins over default",
                Some("team"),
                &["team", "dflt"],
                true,
                "Binding(\"team\")",
            ),
            (
                "ref missing",
                Some("nope"),
                &["team"],
                true,
                "AccountNotFound",
            ),
            (
                "ref not granted",
                Some("other"),
                &["other"],
                true,
                "AccountNotGranted",
            ),
            (
                "one default",
                None,
                &["team", "dflt"],
                true,
                "Binding(\"dflt\")",
            ),
            (
                "default of another namespace",
                None,
                &["other"],
                true,
                "Own",
            ),
            ("no binding", None, &[], true, "Own"),
            ("own refused", None, &["team"], false, "NoAccount"),
            (
                "default even when own refused",
                None,
                &["dflt"],
                false,
                "Binding(\"dflt\")",
            ),
            (
                "two defaults",
                None,
                &["dflt", "dflt2"],
                true,
                "AccountConflict",
            ),
        ];
        for (case, account_ref, names, own, want) in cases {
            let bindings: Vec<BindingView> = all
                .iter()
                .filter(|b| names.contains(&b.name))
                .cloned()
                .collect();
            let got = reason(account_of("ns", *account_ref, None, &bindings, *own));
            assert_eq!(&got, want, "{case}");
        }
    }

    #[test]
    fn two_defaults_are_named_in_the_stall() {
        let bindings = [binding("zeta", true, true), binding("alpha", true, true)];
        let verdict = account_of("team-a", None, None, &bindings, true).unwrap_err();
        assert!(
            verdict.message().contains("alpha and zeta"),
            "{}",
            verdict.message()
        );
        assert!(
            verdict.message().contains("team-a"),
            "{}",
            verdict.message()
        );
    }

    #[test]
    fn a_recorded_mapping_stays_in_its_account_whatever_the_defaults_say() {
        let default = binding("dflt", true, true);
        // Created with the own identity before a default binding appeared: stays there.
        let own = recorded(None, None);
        let got = account_of("ns", None, Some(&own), std::slice::from_ref(&default), true);
        assert_eq!(got, Ok(Account::Own));
        // Created in a binding that is no longer the default: stays there.
        let team = recorded(Some("team"), Some("111111111111"));
        let bindings = [binding("team", true, false), default];
        assert_eq!(
            account_of("ns", None, Some(&team), &bindings, true),
            Ok(Account::Binding("team".into()))
        );
        // A create in flight is recorded too.
        let in_flight = EventSourceMappingStatus {
            create_requested_at: Some("2026-01-01T00:00:00Z".into()),
            account: Some("team".into()),
            ..Default::default()
        };
        assert_eq!(
            account_of("ns", None, Some(&in_flight), &bindings, true),
            Ok(Account::Binding("team".into()))
        );
    }

    #[test]
    fn a_recorded_binding_that_cannot_be_used_stalls_without_a_call() {
        let team = recorded(Some("team"), Some("111111111111"));
        let cases: &[(&str, &[BindingView], &str)] = &[
            ("deleted", &[], "AccountNotFound"),
            (
                "no longer selects",
                &[binding("team", false, false)],
                "AccountNotGranted",
            ),
            (
                "role moved to another account",
                &[BindingView {
                    account_id: Some("222222222222"),
                    ..binding("team", true, false)
                }],
                "AccountMoved",
            ),
        ];
        for (case, bindings, want) in cases {
            assert_eq!(
                reason(account_of("ns", None, Some(&team), bindings, true)),
                *want,
                "{case}"
            );
        }
        // The own identity, refused after the mapping was made with it.
        let own = recorded(None, None);
        assert_eq!(
            reason(account_of("ns", None, Some(&own), &[], false)),
            "NoAccount"
        );
    }

    #[test]
    fn an_account_ref_that_disagrees_with_the_recorded_account_stalls() {
        let team = recorded(Some("team"), None);
        let bindings = [binding("team", true, false), binding("other", true, false)];
        let verdict = account_of("ns", Some("other"), Some(&team), &bindings, true).unwrap_err();
        assert_eq!(verdict.reason(), "AccountChanged");
        assert!(verdict.message().contains("u-1"), "{}", verdict.message());
        let own = recorded(None, None);
        assert_eq!(
            reason(account_of("ns", Some("team"), Some(&own), &bindings, true)),
            "AccountChanged"
        );
        assert_eq!(
            reason(account_of("ns", Some("team"), Some(&team), &bindings, true)),
            "Binding(\"team\")"
        );
    }
}
