//! From a verdict to kstatus conditions (pure).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

pub const READY: &str = "Ready";
pub const RECONCILING: &str = "Reconciling";
pub const STALLED: &str = "Stalled";

/// How the resource stands after a reconcile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The mapping exists, matches the spec and is in the wanted state.
    Ready { reason: String, message: String },
    /// Work is under way (creating, updating, waiting for Lambda, retrying).
    Progressing { reason: String, message: String },
    /// Cannot progress without a change by someone (spec, IAM, the function, another owner).
    Stalled { reason: String, message: String },
}

impl Verdict {
    pub fn ready(reason: &str, message: impl Into<String>) -> Self {
        Self::Ready {
            reason: reason.into(),
            message: message.into(),
        }
    }
    pub fn progressing(reason: &str, message: impl Into<String>) -> Self {
        Self::Progressing {
            reason: reason.into(),
            message: message.into(),
        }
    }
    pub fn stalled(reason: &str, message: impl Into<String>) -> Self {
        Self::Stalled {
            reason: reason.into(),
            message: message.into(),
        }
    }

    pub fn reason(&self) -> &str {
        match self {
            Self::Ready { reason, .. }
            | Self::Progressing { reason, .. }
            | Self::Stalled { reason, .. } => reason,
        }
    }

    pub fn message(&self) -> &str {
        match self {
            Self::Ready { message, .. }
            | Self::Progressing { message, .. }
            | Self::Stalled { message, .. } => message,
        }
    }

    pub fn is_ready(&self) -> bool {
        matches!(self, Self::Ready { .. })
    }
}

/// The Ready / Reconciling / Stalled conditions for a verdict. A condition keeps its
/// `lastTransitionTime` while its status does not change.
pub fn conditions(
    verdict: &Verdict,
    generation: Option<i64>,
    previous: &[Condition],
    now: &Time,
) -> Vec<Condition> {
    let (ready, reconciling, stalled) = match verdict {
        Verdict::Ready { .. } => ("True", "False", "False"),
        Verdict::Progressing { .. } => ("False", "True", "False"),
        Verdict::Stalled { .. } => ("False", "False", "True"),
    };
    let make = |type_: &str, status: &str| {
        let transition = previous
            .iter()
            .find(|c| c.type_ == type_ && c.status == status)
            .map(|c| c.last_transition_time.clone())
            .unwrap_or_else(|| now.clone());
        let (reason, message) = if status == "True" || type_ == READY {
            (verdict.reason().to_string(), verdict.message().to_string())
        } else {
            (format!("Not{type_}"), String::new())
        };
        Condition {
            type_: type_.to_string(),
            status: status.to_string(),
            reason,
            message,
            observed_generation: generation,
            last_transition_time: transition,
        }
    };
    vec![
        make(READY, ready),
        make(RECONCILING, reconciling),
        make(STALLED, stalled),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Time {
        Time(jiff::Timestamp::from_second(secs).unwrap())
    }

    #[test]
    fn exactly_one_condition_is_true_per_verdict() {
        for (verdict, true_type) in [
            (Verdict::ready("Enabled", "ok"), READY),
            (Verdict::progressing("Creating", "…"), RECONCILING),
            (Verdict::stalled("InvalidParameter", "bad"), STALLED),
        ] {
            let conds = conditions(&verdict, Some(3), &[], &at(10));
            let trues: Vec<_> = conds
                .iter()
                .filter(|c| c.status == "True")
                .map(|c| c.type_.as_str())
                .collect();
            assert_eq!(trues, [true_type]);
            assert!(conds.iter().all(|c| c.observed_generation == Some(3)));
            let ready = conds.iter().find(|c| c.type_ == READY).unwrap();
            assert_eq!(ready.reason, verdict.reason());
            assert_eq!(ready.message, verdict.message());
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
        let ready = |c: &[Condition], t: &str| {
            c.iter()
                .find(|x| x.type_ == t)
                .unwrap()
                .last_transition_time
                .clone()
        };
        assert_eq!(ready(&again, READY), at(10));
        assert_eq!(ready(&again, RECONCILING), at(10));
        let done = conditions(&Verdict::ready("Enabled", "c"), Some(1), &again, &at(30));
        assert_eq!(ready(&done, READY), at(30));
        assert_eq!(ready(&done, RECONCILING), at(30));
        assert_eq!(ready(&done, STALLED), at(10));
    }
}
