//! Named leases in the database, so that work which must run in one replica at a time (the drift
//! reconciler) is done by whichever replica holds the lease, and taken over by another when that
//! one stops renewing it. A process that is stopping gives up what it holds ([`Leases::resign`]),
//! so that another replica takes over at its next attempt instead of when the lease expires.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::time::now_millis;
use crate::{Result, Store};

/// The leases this process holds, as (name, holder): what [`Leases::resign`] gives up. Kept for
/// the whole process because the holders (the drift reconciler, say) have their own `Leases`.
static HELD: Mutex<BTreeSet<(String, String)>> = Mutex::new(BTreeSet::new());

/// Set once this process has resigned: it takes and renews no lease any more.
static RESIGNED: AtomicBool = AtomicBool::new(false);

fn held() -> std::sync::MutexGuard<'static, BTreeSet<(String, String)>> {
    HELD.lock().unwrap_or_else(|e| e.into_inner())
}

/// The leases table.
#[derive(Debug, Clone)]
pub struct Leases {
    store: Store,
}

impl Leases {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// Takes or renews the lease `name` for `holder` for `length`; `false` while another holder's
    /// lease runs, and always once this process has resigned. One statement on both engines: the
    /// upsert only overwrites a row that is this holder's or has expired.
    pub async fn hold(&self, name: &str, holder: &str, length: Duration) -> Result<bool> {
        if RESIGNED.load(Ordering::SeqCst) {
            return Ok(false);
        }
        let now = now_millis();
        let until = now + i64::try_from(length.as_millis()).unwrap_or(i64::MAX / 2);
        let done = sqlx::query(
            "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
             WHERE leases.holder = excluded.holder OR leases.expires_at < $4",
        )
        .bind(name)
        .bind(holder)
        .bind(until)
        .bind(now)
        .execute(self.store.pool())
        .await?;
        let key = (name.to_owned(), holder.to_owned());
        if done.rows_affected() != 1 {
            held().remove(&key);
            return Ok(false);
        }
        held().insert(key);
        // A resignation that ran while this statement did may have missed it: give it up here.
        if RESIGNED.load(Ordering::SeqCst) {
            self.release(name, holder).await?;
            return Ok(false);
        }
        Ok(true)
    }

    /// Gives the lease up, so another holder need not wait for it to expire.
    pub async fn release(&self, name: &str, holder: &str) -> Result<()> {
        sqlx::query("DELETE FROM leases WHERE name = $1 AND holder = $2")
            .bind(name)
            .bind(holder)
            .execute(self.store.pool())
            .await?;
        held().remove(&(name.to_owned(), holder.to_owned()));
        Ok(())
    }

    /// For a process that is stopping: gives up every lease it holds and takes none from then
    /// on, so that other replicas take them at their next attempt. Returns the names given up.
    pub async fn resign(&self) -> Result<Vec<String>> {
        RESIGNED.store(true, Ordering::SeqCst);
        let leases: Vec<(String, String)> = held().iter().cloned().collect();
        let mut released = Vec::with_capacity(leases.len());
        for (name, holder) in leases {
            self.release(&name, &holder).await?;
            released.push(name);
        }
        Ok(released)
    }
}
