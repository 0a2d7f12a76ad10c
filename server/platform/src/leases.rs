//! Named leases in the database, so that work which must run in one replica at a time (the drift
//! reconciler) is done by whichever replica holds the lease, and taken over by another when that
//! one stops renewing it.

use std::time::Duration;

use crate::time::now_millis;
use crate::{Result, Store};

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
    /// lease runs. One statement on both engines: the upsert only overwrites a row that is this
    /// holder's or has expired.
    pub async fn hold(&self, name: &str, holder: &str, length: Duration) -> Result<bool> {
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
        Ok(done.rows_affected() == 1)
    }

    /// Gives the lease up, so another holder need not wait for it to expire.
    pub async fn release(&self, name: &str, holder: &str) -> Result<()> {
        sqlx::query("DELETE FROM leases WHERE name = $1 AND holder = $2")
            .bind(name)
            .bind(holder)
            .execute(self.store.pool())
            .await?;
        Ok(())
    }
}
