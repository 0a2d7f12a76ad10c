//! What the environment and task pages show, as the server functions return it.

use serde::{Deserialize, Serialize};

/// A component's environments.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EnvironmentsView {
    pub service_ref: String,
    pub service_name: String,
    /// The component's catalog page.
    pub entity_href: String,
    /// Whether the signed-in user may request, change or destroy them.
    pub can_change: bool,
    pub environments: Vec<EnvironmentCard>,
}

/// One environment of a component.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EnvironmentCard {
    pub name: String,
    pub protected: bool,
    /// `cluster local` or `git repository var/gitops`.
    pub target: String,
    pub namespace: String,
    /// The form's fields, filled with the last request's values (or the defaults).
    pub fields: Vec<ParamField>,
    /// `None` when it was never provisioned.
    pub record: Option<RecordView>,
    pub objects: Vec<ObjectRow>,
    pub drift: Vec<DriftRow>,
    pub links: Vec<super::LinkView>,
    /// A command to look at it with.
    pub kubectl: Option<String>,
    /// Where the person downloads a kubeconfig that signs them in as themselves.
    pub kubeconfig: Option<String>,
    /// Why the live state could not be read, if it could not.
    pub error: Option<String>,
    /// For an environment that expires: how long it lives, and when this one goes.
    pub expiry: Option<ExpiryView>,
    /// Its latest approval, for an environment that needs one.
    pub approval: Option<super::ApprovalView>,
}

/// The lifetime of an ephemeral environment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpiryView {
    /// The configured time to live and the furthest extension, as people read them (`3 d`).
    pub ttl: String,
    pub max: String,
    /// The same in whole hours, for the extension form (at least 1).
    pub ttl_hours: u64,
    pub max_hours: u64,
    /// When a provisioned one is destroyed, and how long until then (`2 d 3 h`, `expired`).
    pub expires_at: Option<String>,
    pub expires_in: Option<String>,
    /// When its team was reminded, once it was.
    pub reminded_at: Option<String>,
}

/// One form field of a parameter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParamField {
    pub name: String,
    pub help: String,
    pub value: String,
    pub default: String,
    /// What is wrong with the value, as the server found it.
    pub error: Option<String>,
    /// The platform team's policies that refuse the value, each with its message and fix.
    #[serde(default)]
    pub denials: Vec<super::VerdictView>,
}

/// What is recorded about an environment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordView {
    pub status: String,
    pub message: Option<String>,
    pub requested_by: String,
    pub request_id: String,
    pub updated_at: String,
    pub parameters: Vec<(String, String)>,
}

/// One object of an environment and how it compares with the record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRow {
    pub object: String,
    /// `in sync`, `missing`, `differs`, `conflict` or `left over`.
    pub state: String,
}

/// One drift event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriftRow {
    pub at: String,
    pub object: String,
    pub change: String,
    pub action: String,
}

/// What applying a request would do, or why it cannot be applied.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PlanView {
    pub service_ref: String,
    pub service_name: String,
    pub environment: String,
    pub namespace: String,
    pub environments_href: String,
    pub fields: Vec<ParamField>,
    /// Problems that belong to no single field.
    pub errors: Vec<String>,
    /// Policy denials about no parameter: the environment itself (shown by its heading) or
    /// another part of the request (shown at the top of the form).
    #[serde(default)]
    pub denials: Vec<super::VerdictView>,
    /// Policy warnings and waived denials: shown, not blocking.
    #[serde(default)]
    pub notices: Vec<super::VerdictView>,
    pub steps: Vec<PlanStep>,
    pub can_change: bool,
    /// For an environment that needs an approval, the groups who give it: applying then stops at
    /// a pending approval bound to this plan.
    pub approvers: Option<String>,
}

impl PlanView {
    /// Whether the request may be applied as it is.
    pub fn ok(&self) -> bool {
        self.errors.is_empty()
            && self.denials.is_empty()
            && self
                .fields
                .iter()
                .all(|f| f.error.is_none() && f.denials.is_empty())
    }
}

/// One object of a plan.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanStep {
    /// `create`, `update`, `unchanged`, `delete` or `conflict`.
    pub action: String,
    pub object: String,
    /// Changed fields: path, live value, desired value (JSON).
    pub fields: Vec<(String, String, String)>,
    pub message: Option<String>,
}

/// A task as its page shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskView {
    pub id: String,
    pub title: String,
    pub kind: String,
    pub status: String,
    pub requester: String,
    pub owner: Option<String>,
    pub created_at: String,
    /// Milliseconds from start to end (or to now while it runs).
    pub elapsed_ms: Option<i64>,
    pub attempts: i64,
    pub error: Option<String>,
    pub cancel_requested: bool,
    pub steps: Vec<StepRow>,
    /// The environments page of the service it provisions, when it does.
    pub environments_href: Option<String>,
    /// What a template run produced, once it has completed.
    pub output: Option<super::TaskOutputView>,
}

impl TaskView {
    /// Whether nothing will change any more.
    pub fn is_final(&self) -> bool {
        matches!(self.status.as_str(), "completed" | "failed" | "cancelled")
    }
}

/// One step of a task.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepRow {
    pub name: String,
    pub title: String,
    pub status: String,
    pub attempts: i64,
    pub elapsed_ms: Option<i64>,
    pub message: Option<String>,
}

/// One line of a task's log.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRow {
    pub id: i64,
    pub at: String,
    pub step: Option<String>,
    pub level: String,
    pub message: String,
}

/// A task's page: the task and its log after a given event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskPageView {
    pub task: TaskView,
    pub events: Vec<EventRow>,
    pub can_cancel: bool,
}

/// The tasks list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TasksView {
    pub scope: String,
    pub status: String,
    pub is_admin: bool,
    pub tasks: Vec<TaskView>,
}

/// One environment in the platform overview.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverviewRow {
    pub namespace: String,
    pub service_ref: String,
    pub environments_href: String,
    pub team: String,
    pub environment: String,
    pub target: String,
    pub status: String,
    pub drift: usize,
    pub age: String,
    pub requested_by: String,
}

/// The platform overview: every environment for platform admins, the viewer's teams' for
/// everyone else.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverviewView {
    /// Whether the rows are every environment (a platform admin's view).
    pub every: bool,
    pub rows: Vec<OverviewRow>,
    pub teams: Vec<String>,
    pub targets: Vec<String>,
    pub environments: Vec<String>,
    pub team: String,
    pub target: String,
    pub environment: String,
}
