//! The mapping state machine (semantics doc §4).
//!
//! Transitions are scheduled, not timed by a background task: each mapping may carry one
//! [`Pending`] step, and every model access first "settles" all steps that are due according
//! to the model clock. That keeps the model deterministic under a [`super::ManualClock`].

use std::time::Duration;

/// The seven documented `State` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EsmState {
    Creating,
    Enabling,
    Enabled,
    Disabling,
    Disabled,
    Updating,
    Deleting,
}

impl EsmState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            EsmState::Creating => "Creating",
            EsmState::Enabling => "Enabling",
            EsmState::Enabled => "Enabled",
            EsmState::Disabling => "Disabling",
            EsmState::Disabled => "Disabled",
            EsmState::Updating => "Updating",
            EsmState::Deleting => "Deleting",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "Creating" => EsmState::Creating,
            "Enabling" => EsmState::Enabling,
            "Enabled" => EsmState::Enabled,
            "Disabling" => EsmState::Disabling,
            "Disabled" => EsmState::Disabled,
            "Updating" => EsmState::Updating,
            "Deleting" => EsmState::Deleting,
            _ => return None,
        })
    }

    /// Transitional states: Update and Delete answer `ResourceInUseException` in them.
    pub(crate) fn is_busy(self) -> bool {
        !matches!(self, EsmState::Enabled | EsmState::Disabled)
    }

    pub(crate) fn stable(enabled: bool) -> Self {
        if enabled {
            EsmState::Enabled
        } else {
            EsmState::Disabled
        }
    }
}

/// What happens when a pending step comes due.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Enter this (stable) state.
    Become(EsmState),
    /// The mapping disappears (end of `Deleting`).
    Vanish,
}

/// A scheduled transition: at model time `due`, `outcome` takes effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Pending {
    pub due: Duration,
    pub outcome: Outcome,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in [
            EsmState::Creating,
            EsmState::Enabling,
            EsmState::Enabled,
            EsmState::Disabling,
            EsmState::Disabled,
            EsmState::Updating,
            EsmState::Deleting,
        ] {
            assert_eq!(EsmState::parse(s.as_str()), Some(s));
        }
        assert_eq!(EsmState::parse("Broken"), None);
    }

    #[test]
    fn only_enabled_and_disabled_are_stable() {
        assert!(!EsmState::Enabled.is_busy());
        assert!(!EsmState::Disabled.is_busy());
        for s in [
            EsmState::Creating,
            EsmState::Enabling,
            EsmState::Disabling,
            EsmState::Updating,
            EsmState::Deleting,
        ] {
            assert!(s.is_busy());
        }
    }
}
