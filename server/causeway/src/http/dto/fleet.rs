//! The fleet API's transfer objects: a template's services, the versions they are on, and their
//! upgrades.

use causeway_platform::scaffolder::fleet;
use causeway_platform::scaffolder::fleet::records;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// How many services are on one version of the template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FleetVersion {
    pub version: String,
    pub services: usize,
    /// When Causeway first saw the version (RFC 3339); absent for a version used before
    /// versions were kept.
    pub created_at: Option<String>,
}

/// A service's upgrade to a version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Upgrade {
    pub from_version: String,
    pub to_version: String,
    /// `pending`, `current`, `open`, `conflict`, `failed`, `merged` or `closed`.
    pub status: String,
    /// The branch the change is on.
    pub branch: Option<String>,
    /// The change request (a Gitea pull request); absent for the embedded `local` host, whose
    /// changes are branches.
    pub change_url: Option<String>,
    /// Files with conflicts marked in them.
    pub conflicts: Vec<String>,
    /// What else the upgrade found (files the team deleted that stay deleted, …).
    pub notes: Vec<String>,
    /// Why a failed upgrade failed.
    pub message: Option<String>,
    /// The task that made the change.
    pub task_id: Option<String>,
    pub requested_by: String,
    pub updated_at: String,
}

impl From<&records::UpgradeRecord> for Upgrade {
    fn from(record: &records::UpgradeRecord) -> Self {
        Self {
            from_version: record.from_version.clone(),
            to_version: record.to_version.clone(),
            status: record.status.as_str().to_owned(),
            branch: record.branch.clone(),
            change_url: record.change_url.clone(),
            conflicts: record.conflicts.clone(),
            notes: record.notes.clone(),
            message: record.message.clone(),
            task_id: record.task_id.clone(),
            requested_by: record.requested_by.clone(),
            updated_at: causeway_platform::time::iso(record.updated_at_millis),
        }
    }
}

/// One service created from the template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FleetService {
    pub service: String,
    pub title: String,
    pub owner: Option<String>,
    /// The version it is on.
    pub version: String,
    /// Its upgrade to the newest version, when one was asked for.
    pub upgrade: Option<Upgrade>,
}

/// A template's fleet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Fleet {
    pub template: String,
    /// The newest stored version: upgrades move services there unless told otherwise.
    pub newest: Option<String>,
    /// Newest first.
    pub versions: Vec<FleetVersion>,
    pub services: Vec<FleetService>,
    /// Services per upgrade status (to the newest version).
    pub upgrades: std::collections::BTreeMap<String, usize>,
    /// Parameters the newest version requires, without a default, that the services' versions
    /// did not have: give their values in the upgrade's `values`.
    pub asks: Vec<FleetParameter>,
}

/// A parameter an upgrade asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FleetParameter {
    pub name: String,
    pub title: String,
    /// Its JSON Schema type.
    #[serde(rename = "type")]
    pub kind: String,
    pub description: Option<String>,
}

impl From<&fleet::Fleet> for Fleet {
    fn from(fleet: &fleet::Fleet) -> Self {
        Self {
            template: fleet.template.clone(),
            newest: fleet.newest.clone(),
            versions: fleet
                .versions
                .iter()
                .map(|v| FleetVersion {
                    version: v.version.clone(),
                    services: v.services,
                    created_at: v.created_at_millis.map(causeway_platform::time::iso),
                })
                .collect(),
            services: fleet
                .services
                .iter()
                .map(|s| FleetService {
                    service: s.service.clone(),
                    title: s.title.clone(),
                    owner: s.owner.clone(),
                    version: s.version.clone(),
                    upgrade: s.upgrade.as_ref().map(Upgrade::from),
                })
                .collect(),
            upgrades: fleet.upgrades.clone(),
            asks: fleet
                .asks
                .iter()
                .map(|a| FleetParameter {
                    name: a.name.clone(),
                    title: a.title.clone(),
                    kind: a.kind.clone(),
                    description: a.description.clone(),
                })
                .collect(),
        }
    }
}

/// Which services to upgrade, and to what.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpgradeRequest {
    /// The version to move them to; the newest stored version when absent.
    #[serde(default)]
    pub to_version: Option<String>,
    /// These services (entity references); every service of the template when absent or empty
    /// (platform admins only).
    #[serde(default)]
    pub services: Vec<String>,
    /// Only services owned by this team (an entity reference).
    #[serde(default)]
    pub owner: Option<String>,
    /// Only services on this version.
    #[serde(default)]
    pub from_version: Option<String>,
    /// Answers to parameters the new version adds with no default (the fleet's `asks`); each
    /// service's recorded answers are kept.
    #[serde(default)]
    pub values: serde_json::Map<String, serde_json::Value>,
}

impl From<UpgradeRequest> for fleet::Selection {
    fn from(request: UpgradeRequest) -> Self {
        Self {
            to_version: request.to_version,
            services: request.services,
            owner: request.owner,
            from_version: request.from_version,
            values: request.values,
        }
    }
}

/// How many change requests a refresh found merged or closed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FleetRefresh {
    pub changed: usize,
}
