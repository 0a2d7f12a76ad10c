//! The fleet page's view model: a template's services, the versions they are on and their
//! upgrades, as people read them.

use serde::{Deserialize, Serialize};

/// One version of the template and how many services are on it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FleetVersionRow {
    pub version: String,
    pub short: String,
    pub services: usize,
    /// When it was first seen, or empty for a version used before versions were kept.
    pub created_at: String,
    pub newest: bool,
}

/// One service created from the template.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FleetServiceRow {
    pub service: String,
    pub href: String,
    pub title: String,
    pub owner: String,
    pub version_short: String,
    pub on_newest: bool,
    /// The upgrade to the newest version: its status, or empty when none was asked for.
    pub status: String,
    pub change_url: Option<String>,
    pub branch: Option<String>,
    pub conflicts: Vec<String>,
    pub notes: Vec<String>,
    pub message: Option<String>,
    pub task_href: Option<String>,
    /// Whether the viewer may upgrade this service (its team, or a platform admin).
    pub can_upgrade: bool,
}

/// `/create/templates/{namespace}/{name}/fleet`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FleetView {
    pub template: String,
    pub title: String,
    pub wizard_href: String,
    pub versions_href: String,
    pub newest: String,
    pub newest_short: String,
    pub versions: Vec<FleetVersionRow>,
    pub services: Vec<FleetServiceRow>,
    /// Services per upgrade status.
    pub counts: Vec<(String, usize)>,
    /// Whether the viewer may upgrade the whole fleet (platform admins).
    pub can_upgrade_all: bool,
    /// How many services are behind the newest version without a change request.
    pub behind: usize,
    /// Parameters the newest version adds with no default: the upgrade forms ask for them.
    pub asks: Vec<FleetAsk>,
}

/// A parameter an upgrade asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FleetAsk {
    pub name: String,
    pub title: String,
    /// Its JSON Schema type: the form's text is read as a number or a boolean when it says so.
    pub kind: String,
    pub description: Option<String>,
}
