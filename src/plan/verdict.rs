//! From a verdict to kstatus conditions (pure).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

pub(crate) const READY: &str = "Ready";
pub(crate) const RECONCILING: &str = "Reconciling";
pub(crate) const STALLED: &str = "Stalled";

/// How the resource stands after a reconcile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The mapping exists, matches the spec and is in the wanted state.
    Ready { reason: String, message: String },
    /// Work is under way (creating, updating, waiting for Lambda, retrying).
    Progressing { reason: String, message: String },
    /// Cannot progress without a change by someone (spec, IAM, the function, another owner).
    Stalled { reason: String, message: String },
}

impl Verdict {
    pub(crate) fn ready(reason: &str, message: impl Into<String>) -> Self {
        Self::Ready {
            reason: reason.into(),
            message: message.into(),
        }
    }
    pub(crate) fn progressing(reason: &str, message: impl Into<String>) -> Self {
        Self::Progressing {
            reason: reason.into(),
            message: message.into(),
        }
    }
    pub(crate) fn stalled(reason: &str, message: impl Into<String>) -> Self {
        Self::Stalled {
            reason: reason.into(),
            message: message.into(),
        }
    }

    pub(crate) fn reason(&self) -> &str {
        match self {
            Self::Ready { reason, .. }
            | Self::Progressing { reason, .. }
            | Self::Stalled { reason, .. } => reason,
        }
    }

    pub(crate) fn message(&self) -> &str {
        match self {
            Self::Ready { message, .. }
            | Self::Progressing { message, .. }
            | Self::Stalled { message, .. } => message,
        }
    }

    pub(crate) fn is_ready(&self) -> bool {
        matches!(self, Self::Ready { .. })
    }
}

/// The conditions for a verdict: `Ready` always (True or False), and `Reconciling` or
/// `Stalled` only while True. Those two are "abnormal-true" conditions in kstatus terms, so
/// absence means False; Flux's own controllers drop them the same way. Every resource's status
/// is stored in etcd and in the controller's watch cache, and two False conditions per resource
/// would be a third of it. A condition keeps its `lastTransitionTime` while its status does not
/// change.
pub(crate) fn conditions(
    verdict: &Verdict,
    generation: Option<i64>,
    previous: &[Condition],
    now: &Time,
) -> Vec<Condition> {
    let make = |type_: &str, status: &str| {
        let transition = previous
            .iter()
            .find(|c| c.type_ == type_ && c.status == status)
            .map(|c| c.last_transition_time.clone())
            .unwrap_or_else(|| now.clone());
        Condition {
            type_: type_.to_string(),
            status: status.to_string(),
            reason: verdict.reason().to_string(),
            message: verdict.message().to_string(),
            observed_generation: generation,
            last_transition_time: transition,
        }
    };
    match verdict {
        Verdict::Ready { .. } => vec![make(READY, "True")],
        Verdict::Progressing { .. } => vec![make(READY, "False"), make(RECONCILING, "True")],
        Verdict::Stalled { .. } => vec![make(READY, "False"), make(STALLED, "True")],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Time {
        Time(jiff::Timestamp::from_second(secs).unwrap())
    }

    #[test]
    fn ready_always_and_only_the_true_abnormal_condition() {
        for (verdict, types) in [
            (Verdict::ready("Enabled", "ok"), vec![(READY, "True")]),
            (
                Verdict::progressing("Creating", "…"),
                vec![(READY, "False"), (RECONCILING, "True")],
            ),
            (
                Verdict::stalled("InvalidParameter", "bad"),
                vec![(READY, "False"), (STALLED, "True")],
            ),
        ] {
            let conds = conditions(&verdict, Some(3), &[], &at(10));
            let got: Vec<_> = conds
                .iter()
                .map(|c| (c.type_.as_str(), c.status.as_str()))
                .collect();
            assert_eq!(got, types);
            assert!(conds.iter().all(|c| c.observed_generation == Some(3)));
            assert!(conds.iter().all(|c| c.reason == verdict.reason()));
            assert!(conds.iter().all(|c| c.message == verdict.message()));
        }
    }

    #[test]
    fn transition_time_moves_only_when_status_changes() {
        let first = conditions(
            &Verdict::progressing("Creating", "a"),
            Some(1),
            &[],
            &at(10),
        );
        let again = conditions(
            &Verdict::progressing("Waiting", "b"),
            Some(1),
            &first,
            &at(20),
        );
        let since = |c: &[Condition], t: &str| {
            c.iter()
                .find(|x| x.type_ == t)
                .unwrap()
                .last_transition_time
                .clone()
        };
        assert_eq!(since(&again, READY), at(10));
        assert_eq!(since(&again, RECONCILING), at(10));
        let done = conditions(&Verdict::ready("Enabled", "c"), Some(1), &again, &at(30));
        assert_eq!(since(&done, READY), at(30));
        assert!(done.iter().all(|c| c.type_ != RECONCILING));
        let stalled = conditions(&Verdict::stalled("Conflict", "d"), Some(1), &done, &at(40));
        assert_eq!(since(&stalled, READY), at(40));
        assert_eq!(since(&stalled, STALLED), at(40));
    }
}
