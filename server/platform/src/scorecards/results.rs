//! The results table (`scorecard_results`): a row per entity and scorecard only when the result
//! changes, so the newest row is the current result and the rows before it the history.

use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::evaluate::{CheckResult, Scored};
use crate::{Result, Store};

/// One stored result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stored {
    pub entity: String,
    pub scorecard: String,
    pub seq: i64,
    /// `false` when the scorecard's filter left the entity out at that time.
    pub applies: bool,
    pub level: Option<String>,
    pub checks: Vec<CheckResult>,
    pub revision: String,
    pub evaluated_at_millis: i64,
}

impl Stored {
    /// Whether this row says the same as `scored` (`None`: not applicable).
    fn same_as(&self, scored: Option<&Scored>) -> bool {
        match scored {
            None => !self.applies,
            Some(scored) => {
                self.applies && self.level == scored.level && self.checks == scored.checks
            }
        }
    }
}

const COLUMNS: &str = "entity, scorecard, seq, status, level, checks, revision, evaluated_at";

fn stored(row: &AnyRow) -> Result<Stored> {
    let status: String = row.try_get("status")?;
    let checks: String = row.try_get("checks")?;
    Ok(Stored {
        entity: row.try_get("entity")?,
        scorecard: row.try_get("scorecard")?,
        seq: row.try_get("seq")?,
        applies: status == "scored",
        level: row.try_get("level")?,
        checks: serde_json::from_str(&checks).unwrap_or_default(),
        revision: row.try_get("revision")?,
        evaluated_at_millis: row.try_get("evaluated_at")?,
    })
}

/// The table.
#[derive(Debug, Clone)]
pub struct Results {
    store: Store,
}

impl Results {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// Records `scored` (`None`: the filter leaves the entity out) for `entity` and `scorecard`
    /// unless the newest row already says the same; `true` when a row was written. An entity
    /// never scored that is not in scope writes nothing.
    pub async fn record(
        &self,
        entity: &str,
        scorecard: &str,
        scored: Option<&Scored>,
        revision: &str,
        at_millis: i64,
    ) -> Result<bool> {
        let newest = self.history(entity, scorecard, 1).await?;
        let seq = match newest.first() {
            Some(row) if row.same_as(scored) => return Ok(false),
            Some(row) => row.seq + 1,
            None if scored.is_none() => return Ok(false),
            None => 1,
        };
        let (status, level, checks) = match scored {
            Some(scored) => (
                "scored",
                scored.level.clone(),
                serde_json::to_string(&scored.checks).unwrap_or_else(|_| "[]".to_owned()),
            ),
            None => ("not-applicable", None, "[]".to_owned()),
        };
        // Another replica recording the same change takes the same `seq`; the later insert
        // does nothing, so a change is recorded once.
        let written = sqlx::query(&format!(
            "INSERT INTO scorecard_results ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (entity, scorecard, seq) DO NOTHING"
        ))
        .bind(entity)
        .bind(scorecard)
        .bind(seq)
        .bind(status)
        .bind(level)
        .bind(checks)
        .bind(revision)
        .bind(at_millis)
        .execute(self.store.pool())
        .await?;
        Ok(written.rows_affected() > 0)
    }

    /// The newest `limit` results of `entity` for `scorecard`, newest first.
    pub async fn history(&self, entity: &str, scorecard: &str, limit: i64) -> Result<Vec<Stored>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM scorecard_results WHERE entity = $1 AND scorecard = $2 \
             ORDER BY seq DESC LIMIT $3"
        ))
        .bind(entity)
        .bind(scorecard)
        .bind(limit)
        .fetch_all(self.store.pool())
        .await?;
        rows.iter().map(stored).collect()
    }

    /// The newest `limit` results of `entity` for every scorecard, newest first.
    pub async fn of_entity(&self, entity: &str, limit: i64) -> Result<Vec<Stored>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM scorecard_results WHERE entity = $1 \
             ORDER BY evaluated_at DESC, seq DESC LIMIT $2"
        ))
        .bind(entity)
        .bind(limit)
        .fetch_all(self.store.pool())
        .await?;
        rows.iter().map(stored).collect()
    }
}
