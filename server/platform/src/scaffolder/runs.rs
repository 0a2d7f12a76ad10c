//! The state of template runs between steps (`scaffolder_runs`): step outputs, the workspace and
//! what the run created, saved after every finished step under the task's lease, and the run's
//! secrets, kept apart from the task's input and removed when the run ends.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sqlx::Row;

use super::workspace::Workspace;
use crate::tasks::lease::Fence;
use crate::time::now_millis;
use crate::{Result, Store};

/// Something a run created outside its workspace, which clean-up reverses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Created {
    /// The action that created it, which knows how to reverse it.
    #[serde(default)]
    pub action: String,
    /// `repository`, `location` or `environment`.
    pub kind: String,
    /// The repository's path, the location's id, the environment's namespace.
    pub id: String,
    #[serde(default)]
    pub detail: Value,
}

/// What the finished steps left.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RunState {
    /// `steps.<id>.output` so far.
    pub steps: Map<String, Value>,
    #[serde(with = "packed")]
    pub workspace: Workspace,
    #[serde(default)]
    pub created: Vec<Created>,
}

/// The runs' table; cheap to clone.
#[derive(Debug, Clone)]
pub struct Runs {
    store: Store,
}

impl Runs {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// Records a new run's empty state and its secrets.
    pub async fn create(
        &self,
        task_id: &str,
        template_ref: &str,
        version: &str,
        secrets: &Map<String, Value>,
    ) -> Result<()> {
        let state = serde_json::to_string(&RunState::default()).unwrap_or_default();
        let secrets = (!secrets.is_empty()).then(|| Value::Object(secrets.clone()).to_string());
        sqlx::query(
            "INSERT INTO scaffolder_runs (task_id, template_ref, template_version, state, secrets, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(task_id)
        .bind(template_ref)
        .bind(version)
        .bind(state)
        .bind(secrets)
        .bind(now_millis())
        .execute(self.store.pool())
        .await?;
        Ok(())
    }

    /// The state and secrets of a run, or `None` before it was recorded.
    pub async fn load(&self, task_id: &str) -> Result<Option<(RunState, Map<String, Value>)>> {
        let row = sqlx::query("SELECT state, secrets FROM scaffolder_runs WHERE task_id = $1")
            .bind(task_id)
            .fetch_optional(self.store.pool())
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let state: String = row.try_get("state")?;
        let secrets: Option<String> = row.try_get("secrets")?;
        let state: RunState = serde_json::from_str(&state).map_err(|e| {
            crate::Error::invalid(
                "state",
                format!("the run's saved state cannot be read: {e}"),
            )
        })?;
        let secrets = secrets
            .and_then(|s| serde_json::from_str::<Map<String, Value>>(&s).ok())
            .unwrap_or_default();
        Ok(Some((state, secrets)))
    }

    /// What a run created so far (for clean-up), without its workspace.
    pub async fn created(&self, task_id: &str) -> Result<Vec<Created>> {
        Ok(self
            .load(task_id)
            .await?
            .map(|(state, _)| state.created)
            .unwrap_or_default())
    }

    /// Saves the state a finished step left; `false` when the lease was lost (nothing written).
    pub async fn save(&self, task_id: &str, state: &RunState, fence: &Fence) -> Result<bool> {
        let text = serde_json::to_string(state).unwrap_or_default();
        let sql = format!(
            "UPDATE scaffolder_runs SET state = $1, updated_at = $2 WHERE task_id = $3 AND {}",
            Fence::condition(4)
        );
        let query = sqlx::query(&sql)
            .bind(text)
            .bind(now_millis())
            .bind(task_id);
        let done = fence.bind(query).execute(self.store.pool()).await?;
        Ok(done.rows_affected() == 1)
    }

    /// Gives a run (being retried) its secrets again.
    pub async fn set_secrets(&self, task_id: &str, secrets: &Map<String, Value>) -> Result<()> {
        let secrets = (!secrets.is_empty()).then(|| Value::Object(secrets.clone()).to_string());
        sqlx::query("UPDATE scaffolder_runs SET secrets = $1 WHERE task_id = $2")
            .bind(secrets)
            .bind(task_id)
            .execute(self.store.pool())
            .await?;
        Ok(())
    }

    /// Removes a run's secrets: called when it ends.
    pub async fn forget_secrets(&self, task_id: &str) -> Result<()> {
        sqlx::query("UPDATE scaffolder_runs SET secrets = NULL WHERE task_id = $1")
            .bind(task_id)
            .execute(self.store.pool())
            .await?;
        Ok(())
    }
}

mod packed {
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    use super::Workspace;

    pub fn serialize<S: Serializer>(workspace: &Workspace, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(workspace.to_bytes()))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Workspace, D::Error> {
        let text = String::deserialize(d)?;
        if text.is_empty() {
            return Ok(Workspace::default());
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(serde::de::Error::custom)?;
        Workspace::from_bytes(&bytes).map_err(serde::de::Error::custom)
    }
}
