//! The scheduled evaluation: every entity scored every [`EVERY`], and soon after the platform
//! configuration's revision changes. One replica at a time scores, through the `scorecards`
//! lease; the others skip that pass (a result is recorded once in any case, see `results.rs`).

use std::time::Duration;

use super::Scorecards;
use crate::leases::Leases;
use crate::store::Store;

/// How often every entity is scored.
pub const EVERY: Duration = Duration::from_secs(600);
/// How often the revision in force is compared with the one last scored.
const LOOK: Duration = Duration::from_secs(30);
/// The lease's name, and how long a pass may hold it.
const LEASE: &str = "scorecards";
const LEASE_LENGTH: Duration = Duration::from_secs(900);

impl Scorecards {
    /// Scores every entity now, then every `every` and whenever the revision changes, until the
    /// process ends. Call it once the store is migrated and the catalog loaded.
    pub fn spawn_schedule(&self, store: Store, every: Duration) -> tokio::task::JoinHandle<()> {
        let scorecards = self.clone();
        let leases = Leases::new(store);
        let holder = uuid::Uuid::new_v4().to_string();
        tokio::spawn(async move {
            let mut scored: Option<(String, tokio::time::Instant)> = None;
            loop {
                let revision = scorecards.guardrails.current().hash.clone();
                let due = scored
                    .as_ref()
                    .is_none_or(|(hash, at)| *hash != revision || at.elapsed() >= every);
                if due {
                    match leases.hold(LEASE, &holder, LEASE_LENGTH).await {
                        Ok(true) => {
                            match scorecards.evaluate_all().await {
                                Ok(pass) => tracing::info!(
                                    entities = pass.entities,
                                    changed = pass.changed,
                                    %revision,
                                    "scorecards evaluated"
                                ),
                                Err(error) => {
                                    tracing::warn!(%error, "scorecards could not be evaluated")
                                }
                            }
                            let _ = leases.release(LEASE, &holder).await;
                        }
                        // Another replica is scoring.
                        Ok(false) => {}
                        Err(error) => tracing::warn!(%error, "the scorecards lease is unavailable"),
                    }
                    scored = Some((revision, tokio::time::Instant::now()));
                }
                tokio::time::sleep(LOOK).await;
            }
        })
    }
}
