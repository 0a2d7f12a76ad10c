//! The provisioning API's transfer objects: plans, environment records, drift.

use std::collections::BTreeMap;

use causeway_platform::provision::{self, plan, records};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// The body of every provisioning call.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// The component, e.g. `payments-api` or `component:default/payments-api`.
    pub service: String,
    /// The environment (`dev`, `staging`, `prod` and the ephemeral `preview` by default).
    pub environment: String,
    /// Parameters overriding the environment's defaults: `cpu`, `memory`, `pods`, `availability`.
    #[serde(default)]
    pub set: BTreeMap<String, String>,
    /// Apply only: take over an existing namespace that Causeway did not create. Platform admins
    /// only; the adoption is audited.
    #[serde(default)]
    pub adopt: bool,
}

/// What an apply would change.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Plan {
    pub namespace: String,
    pub environment: String,
    pub steps: Vec<PlanStep>,
    /// The PipelineRun a push to the default branch would start, when the service has a
    /// repository (`null` otherwise).
    #[schema(value_type = Option<Object>)]
    pub pipeline_run: Option<Value>,
    /// The policies' warnings and waived denials; a denied request answers 403 instead.
    pub policies: Vec<super::guardrails::PolicyVerdict>,
}

/// What would happen to one object (`Kind/name`).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum PlanStep {
    Create {
        object: String,
    },
    Update {
        object: String,
        fields: Vec<FieldChange>,
    },
    Unchanged {
        object: String,
    },
    Delete {
        object: String,
    },
    /// Another field manager owns a field the bundle sets; the message names both.
    Conflict {
        object: String,
        message: String,
    },
}

/// One field that would change: its dotted path and both values (`null` when absent).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct FieldChange {
    pub path: String,
    pub live: Value,
    pub desired: Value,
}

impl From<&plan::Step> for PlanStep {
    fn from(step: &plan::Step) -> Self {
        match step {
            plan::Step::Create { object } => Self::Create {
                object: object.clone(),
            },
            plan::Step::Update { object, fields } => Self::Update {
                object: object.clone(),
                fields: fields
                    .iter()
                    .map(|f| FieldChange {
                        path: f.path.clone(),
                        live: f.live.clone(),
                        desired: f.desired.clone(),
                    })
                    .collect(),
            },
            plan::Step::Unchanged { object } => Self::Unchanged {
                object: object.clone(),
            },
            plan::Step::Delete { object } => Self::Delete {
                object: object.clone(),
            },
            plan::Step::Conflict { object, message } => Self::Conflict {
                object: object.clone(),
                message: message.clone(),
            },
        }
    }
}

impl From<&provision::Plan> for Plan {
    fn from(plan: &provision::Plan) -> Self {
        Self {
            namespace: plan.namespace.clone(),
            environment: plan.environment.clone(),
            steps: plan.steps.iter().map(PlanStep::from).collect(),
            pipeline_run: plan.pipeline_run.clone(),
            policies: plan.policies.iter().map(Into::into).collect(),
        }
    }
}

/// Where an environment is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum EnvironmentState {
    /// A change is being applied.
    Applying,
    /// Applied completely; kept as recorded.
    Ready,
    /// The last apply left some objects unapplied (see `message`).
    Failed,
    /// Written to the GitOps repository.
    Committed,
    /// Being removed.
    Destroying,
}

impl From<records::Status> for EnvironmentState {
    fn from(status: records::Status) -> Self {
        match status {
            records::Status::Applying => Self::Applying,
            records::Status::Ready => Self::Ready,
            records::Status::Failed => Self::Failed,
            records::Status::Committed => Self::Committed,
            records::Status::Destroying => Self::Destroying,
        }
    }
}

/// One provisioned environment, as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Environment {
    pub namespace: String,
    /// The component's entity reference.
    pub service: String,
    pub environment: String,
    /// The cluster's name, or `git:<cluster>` for a GitOps target.
    pub target: String,
    pub parameters: BTreeMap<String, String>,
    /// The request that last changed it.
    pub request_id: String,
    pub requested_by: String,
    pub status: EnvironmentState,
    pub message: Option<String>,
    /// The task that last took the record, when a task did.
    pub task_id: Option<String>,
    pub created_at_millis: i64,
    pub updated_at_millis: i64,
    /// When the reaper destroys it (`null` for an environment that does not expire).
    pub expires_at_millis: Option<i64>,
    /// When its team was reminded of the current expiry (`null` until then).
    pub reminded_at_millis: Option<i64>,
}

impl From<&records::Record> for Environment {
    fn from(record: &records::Record) -> Self {
        Self {
            namespace: record.namespace.clone(),
            service: record.service.clone(),
            environment: record.environment.clone(),
            target: record.target.clone(),
            parameters: record.parameters.clone(),
            request_id: record.request_id.clone(),
            requested_by: record.requested_by.clone(),
            status: record.status.into(),
            message: record.message.clone(),
            task_id: record.task_id.clone(),
            created_at_millis: record.created_at_millis,
            updated_at_millis: record.updated_at_millis,
            expires_at_millis: record.expires_at_millis,
            reminded_at_millis: record.reminded_at_millis,
        }
    }
}

/// A difference between an environment and its record, found by the reconciler.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Drift {
    pub id: i64,
    pub namespace: String,
    /// `Kind/name`.
    pub object: String,
    /// `modified`, `deleted` or `conflict`.
    pub change: String,
    /// The fields that differed, or the API server's message.
    pub detail: Value,
    /// `restored`, `reported` or `failed`.
    pub action: String,
    pub at_millis: i64,
}

impl From<&records::Drift> for Drift {
    fn from(drift: &records::Drift) -> Self {
        Self {
            id: drift.id,
            namespace: drift.namespace.clone(),
            object: drift.object.clone(),
            change: drift.change.clone(),
            detail: drift.detail.clone(),
            action: drift.action.clone(),
            at_millis: drift.at_millis,
        }
    }
}

/// An environment as Causeway knows it: its record (`null` if never provisioned), how the live
/// objects compare with it, and the newest drift.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct EnvironmentStatus {
    pub record: Option<Environment>,
    pub plan: Plan,
    pub drift: Vec<Drift>,
}

impl From<&provision::EnvironmentStatus> for EnvironmentStatus {
    fn from(status: &provision::EnvironmentStatus) -> Self {
        Self {
            record: status.record.as_ref().map(Environment::from),
            plan: Plan::from(&status.plan),
            drift: status.drift.iter().map(Drift::from).collect(),
        }
    }
}

/// The body of an extension: how long from now an ephemeral environment should live.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Extend {
    /// The component, e.g. `payments-api` or `component:default/payments-api`.
    pub service: String,
    /// An environment with an expiry (`preview` by default).
    pub environment: String,
    /// The new time to live, in seconds from now: at least 1, at most the environment's maximum
    /// (7 days for `preview` by default), and not before the current expiry. The environment's
    /// time to live when absent.
    #[serde(default)]
    #[schema(minimum = 1)]
    pub ttl_seconds: Option<u64>,
}

/// A kubeconfig (YAML), the answer of `GET /api/provision/kubeconfig`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(value_type = String)]
pub struct Kubeconfig(pub String);
