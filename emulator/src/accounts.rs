//! One emulated Lambda per account: the HTTP face serves each call from the account of the
//! caller's access key (see [`crate::sts::Sts::resolve`]), within the one region the process
//! emulates.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use crate::model::Model;

/// The per-account models. The default account's is the model the server was started with;
/// the others are made on first use from its configuration ([`Model::for_account`]), so each
/// account has its own functions, event sources, mappings, counts, faults and rate limit.
pub(crate) struct Accounts {
    default_account: String,
    default: Model,
    others: Mutex<BTreeMap<String, Model>>,
}

impl Accounts {
    pub(crate) fn new(default: Model) -> Accounts {
        Accounts {
            default_account: default.config().account,
            default,
            others: Mutex::new(BTreeMap::new()),
        }
    }

    fn others(&self) -> MutexGuard<'_, BTreeMap<String, Model>> {
        self.others.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn default_account(&self) -> &str {
        &self.default_account
    }

    /// The account's model, made if it is the account's first use.
    pub(crate) fn model(&self, account: &str) -> Model {
        if account == self.default_account {
            return self.default.clone();
        }
        self.others()
            .entry(account.to_owned())
            .or_insert_with(|| self.default.for_account(account))
            .clone()
    }

    /// The account's model if it has one (a read must not make accounts up).
    pub(crate) fn existing(&self, account: &str) -> Option<Model> {
        if account == self.default_account {
            return Some(self.default.clone());
        }
        self.others().get(account).cloned()
    }

    /// Every account's model, the default account first, then by account id.
    pub(crate) fn all(&self) -> Vec<(String, Model)> {
        let mut all = vec![(self.default_account.clone(), self.default.clone())];
        all.extend(
            self.others()
                .iter()
                .map(|(account, model)| (account.clone(), model.clone())),
        );
        all
    }

    /// The model that holds the mapping with this UUID.
    pub(crate) fn owner_of(&self, uuid: &str) -> Option<Model> {
        self.all()
            .into_iter()
            .map(|(_, model)| model)
            .find(|model| model.contains_mapping(uuid))
    }
}
