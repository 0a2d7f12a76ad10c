//! A small time-bounded cache for credentials and principals. Authenticating every request against
//! the database cost more than most catalog queries; caching for a few seconds removes that cost
//! while bounding how long a change made on another replica (a revoked token, a new team) can go
//! unnoticed here. Changes made through this process invalidate the cache at once.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a cached answer is trusted.
pub const TTL: Duration = Duration::from_secs(10);
/// Entries kept before the cache starts over (a bound on memory, not a tuning knob).
const MAX_ENTRIES: usize = 10_000;

#[derive(Debug)]
pub struct TtlCache<V> {
    entries: Mutex<HashMap<String, (Instant, V)>>,
}

impl<V> Default for TtlCache<V> {
    fn default() -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
        }
    }
}

impl<V: Clone> TtlCache<V> {
    /// The cached value for `key`, if it is younger than [`TTL`].
    pub fn get(&self, key: &str) -> Option<V> {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match entries.get(key) {
            Some((at, value)) if at.elapsed() < TTL => Some(value.clone()),
            Some(_) => {
                entries.remove(key);
                None
            }
            None => None,
        }
    }

    pub fn put(&self, key: String, value: V) {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(key, (Instant::now(), value));
    }

    pub fn remove(&self, key: &str) {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(key);
    }

    pub fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
    }
}
