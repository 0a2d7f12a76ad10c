//! What the portal shows of the platform team's guardrails: a policy's verdict next to the field
//! it concerns, the configuration's revisions, the policies and waivers in force, and the policy
//! test bench.

use serde::{Deserialize, Serialize};

/// One policy's verdict as a person reads it: what it found and what to do about it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerdictView {
    pub policy: String,
    pub description: String,
    /// `deny` or `warn`.
    pub severity: String,
    /// The form field it concerns (`set.cpu`, `environment`).
    pub field: String,
    /// `allowed`, `denied`, `warned`, `waived` or `not applicable`.
    pub outcome: String,
    /// Why it failed; empty when it held.
    pub message: String,
    pub fix: String,
    /// The waiver that set a denial aside: its id, who granted it, until when and why.
    pub waiver: Option<String>,
}

/// A revision of the platform configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevisionView {
    pub hash: String,
    /// The first twelve characters of the hash, as people quote it.
    pub short_hash: String,
    pub source: String,
    pub loaded_at: String,
}

/// One problem of a refused configuration read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigProblemView {
    /// `file:line`, or the file alone when the line is unknown.
    pub at: String,
    pub field: String,
    pub message: String,
}

/// Why the newest read of the configuration was refused (the last good revision keeps serving).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusedView {
    pub short_hash: String,
    pub source: String,
    pub at: String,
    pub problems: Vec<ConfigProblemView>,
}

/// A policy of the active configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyRow {
    pub id: String,
    pub description: String,
    pub severity: String,
    pub field: String,
    /// What it is asked about, joined (`environment, template`).
    pub applies_to: String,
    pub fix: String,
    /// Whether a `ValidatingAdmissionPolicy` enforces it in the clusters too.
    pub in_cluster: bool,
}

/// A waiver in force.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaiverRow {
    pub id: String,
    pub policy: String,
    pub service: String,
    pub reason: String,
    pub expires_at: String,
    pub granted_by: String,
    /// Granted in the portal or API, so it can be revoked there; a waiver written in the
    /// configuration goes when its document does.
    pub revocable: bool,
}

/// The waiver form as it was sent, with what was wrong with it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaiverForm {
    pub policy: String,
    pub service: String,
    pub reason: String,
    pub expires: String,
    /// The field the problem concerns (`policy`, `service`, `reason`, `expires`), or empty.
    pub error_field: String,
    pub error: Option<String>,
}

/// The guardrails part of the platform page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuardrailsView {
    pub is_admin: bool,
    pub active: RevisionView,
    /// Newest first.
    pub history: Vec<RevisionView>,
    /// For platform admins only.
    pub refused: Option<RefusedView>,
    /// What the last "Reload now" did, as the redirect after it says.
    pub reloaded: Option<String>,
    pub policies: Vec<PolicyRow>,
    pub waivers: Vec<WaiverRow>,
    pub waiver_form: WaiverForm,
}

/// The policy test bench: the request as chosen, and every policy's verdict on it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyBenchView {
    pub service: String,
    pub environment: String,
    pub requester: String,
    /// The parameter fields, with the values chosen.
    pub fields: Vec<super::ParamField>,
    /// The components and environments to choose from.
    pub services: Vec<String>,
    pub environments: Vec<String>,
    /// Problems with the request itself, by field (`service`, `requester`, `set.cpu`…).
    pub errors: Vec<(String, String)>,
    /// Present once the request was evaluated.
    pub result: Option<BenchResult>,
}

/// What the policies concluded on the test bench's request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BenchResult {
    pub allowed: bool,
    pub verdicts: Vec<VerdictView>,
    /// The input the policies saw, as indented JSON.
    pub input: String,
}
