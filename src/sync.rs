//! One way to take a lock.

use std::sync::{Mutex, MutexGuard};

/// Locks a mutex, going on with the data if a thread panicked while holding it. Every value
/// behind these locks is left consistent between statements (no lock is held across a step that
/// can leave it half-changed), so the data is still good, and a panic in one reconcile must not
/// take the controller's shared state down with it.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
