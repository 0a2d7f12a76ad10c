//! A template's fleet: every service created from it, the version each is on, and upgrading them
//! to a newer version as reviewed changes. One service or many, an upgrade is a durable task
//! (`task.rs`, kind `scaffolder.upgrade`) with one step per service, paced by the configured
//! rate, resumed at its first unfinished service by another worker after a crash, and audited per
//! service; each service's outcome is kept in `records.rs`. The merge itself is the upgrade
//! engine's (`super::upgrade`). `changes.rs` follows the change requests until they merge.

pub mod changes;
pub mod records;
mod task;

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};

use self::records::{UpgradeRecord, UpgradeRecords, UpgradeState};
use super::Scaffolder;
use super::actions::{SOURCE_TEMPLATE, TEMPLATE_ANSWERS, TEMPLATE_VERSION};
use crate::audit::{Entry, Outcome};
use crate::identity::{Principal, Role};
use crate::tasks::{NewTask, Task};
use crate::{Error, Result};

pub use self::task::UPGRADE;

/// The least time between the starts of two services in an upgrade task, unless configured
/// (`upgrade_pace_ms`): at most ten services a second reach the git server, whatever the size of
/// the fleet.
pub const DEFAULT_PACE: std::time::Duration = std::time::Duration::from_millis(100);

/// One service of a fleet.
#[derive(Debug, Clone, Serialize)]
pub struct FleetService {
    /// The service's entity reference.
    pub service: String,
    pub title: String,
    /// Its owning team, when it has one.
    pub owner: Option<String>,
    /// The template version it is on: its descriptor's, or the version a merged upgrade moved it
    /// to while the catalog has not read the merged descriptor yet.
    pub version: String,
    /// Its upgrade to the newest version, when one was asked for.
    pub upgrade: Option<UpgradeRecord>,
}

/// How many services are on one version.
#[derive(Debug, Clone, Serialize)]
pub struct VersionCount {
    pub version: String,
    pub services: usize,
    /// When the version was first seen, when Causeway has it.
    pub created_at_millis: Option<i64>,
}

/// A template's fleet.
#[derive(Debug, Clone, Serialize)]
pub struct Fleet {
    pub template: String,
    /// The version upgrades move services to by default: the template as the catalog holds it
    /// now, or the most recently stored version when the catalog no longer holds it.
    pub newest: Option<String>,
    /// Every version with its number of services, newest first; versions no service is on are
    /// listed with zero.
    pub versions: Vec<VersionCount>,
    pub services: Vec<FleetService>,
    /// The number of services per upgrade state (to the newest version).
    pub upgrades: BTreeMap<String, usize>,
    /// Parameters the newest version requires that the versions its services are on did not
    /// have and that have no default: an upgrade asks for their values.
    pub asks: Vec<NewParameter>,
}

/// A parameter a newer version requires with no default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewParameter {
    pub name: String,
    pub title: String,
    /// Its JSON Schema type (`string` when it has none).
    pub kind: String,
    pub description: Option<String>,
}

/// Which services an upgrade covers.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// The version to move them to; the newest when empty.
    pub to_version: Option<String>,
    /// These services only (entity references); every service of the template when empty.
    pub services: Vec<String>,
    /// Only services owned by this team.
    pub owner: Option<String>,
    /// Only services on this version.
    pub from_version: Option<String>,
    /// Answers to parameters the new version adds (see [`Fleet::asks`]); a service's recorded
    /// answers are kept as they are.
    pub values: serde_json::Map<String, Value>,
}

impl Scaffolder {
    /// The fleet of `template_ref`, for anyone signed in (the catalog shows the same).
    pub async fn fleet(&self, template_ref: &str) -> Result<Fleet> {
        let template_ref = normalise(template_ref)?;
        let versions = self.versions()?.list(&template_ref).await?;
        // The version upgrades move to by default is the template as the catalog holds it now
        // (what new runs use); a version published from the authoring page, or one the template
        // went back to, is a target only when asked for by name.
        // A template the catalog holds but that cannot run here has no current version; its
        // fleet is still shown.
        let current = match self.catalog_template(&template_ref) {
            Ok(template) => super::version_of(&template).await.ok(),
            Err(Error::NotFound(what))
                if versions.is_empty() && self.fleet_services(&template_ref).is_empty() =>
            {
                return Err(Error::NotFound(what));
            }
            Err(_) => None,
        };
        let newest = current
            .filter(|c| versions.iter().any(|v| &v.version == c))
            .or_else(|| versions.first().map(|v| v.version.clone()));
        let records = self.upgrades()?.of_template(&template_ref).await?;
        let mut services = Vec::new();
        for (service, title, owner, annotated) in self.fleet_services(&template_ref) {
            let merged = records.iter().find(|r| {
                r.service == service
                    && r.status == UpgradeState::Merged
                    && r.from_version == annotated
            });
            let version = merged.map_or(annotated, |r| r.to_version.clone());
            let upgrade = newest.as_ref().and_then(|newest| {
                records
                    .iter()
                    .find(|r| r.service == service && &r.to_version == newest)
                    .cloned()
            });
            services.push(FleetService {
                service,
                title,
                owner,
                version,
                upgrade,
            });
        }
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for service in &services {
            *counts.entry(service.version.clone()).or_default() += 1;
        }
        let mut listed: Vec<VersionCount> = versions
            .iter()
            .map(|v| VersionCount {
                version: v.version.clone(),
                services: counts.remove(&v.version).unwrap_or(0),
                created_at_millis: Some(v.created_at_millis),
            })
            .collect();
        // Versions services are on that Causeway never stored (made before versions were kept).
        listed.extend(counts.into_iter().map(|(version, services)| VersionCount {
            version,
            services,
            created_at_millis: None,
        }));
        let mut upgrades: BTreeMap<String, usize> = BTreeMap::new();
        for service in &services {
            if let Some(upgrade) = &service.upgrade {
                *upgrades
                    .entry(upgrade.status.as_str().to_owned())
                    .or_default() += 1;
            }
        }
        let mut asks = Vec::new();
        if let Some(newest) = &newest {
            let behind: std::collections::BTreeSet<&String> = services
                .iter()
                .map(|s| &s.version)
                .filter(|v| *v != newest)
                .collect();
            for from in behind {
                for parameter in self.new_parameters(&template_ref, from, newest).await? {
                    if !asks.iter().any(|a: &NewParameter| a.name == parameter.name) {
                        asks.push(parameter);
                    }
                }
            }
        }
        Ok(Fleet {
            template: template_ref,
            newest,
            versions: listed,
            services,
            upgrades,
            asks,
        })
    }

    /// Starts upgrading the services `selection` picks to its version, as one task. Platform
    /// admins upgrade any services; anyone else names the services, each owned by one of their
    /// teams. Services already upgraded to that version (a change request exists, or nothing
    /// needed changing) are left out; none left is a 409.
    pub async fn start_upgrades(
        &self,
        principal: &Principal,
        template_ref: &str,
        selection: &Selection,
        request_id: Option<&str>,
    ) -> Result<Task> {
        let services = self.services()?;
        let template_ref = normalise(template_ref)?;
        let admin = principal.role == Role::PlatformAdmin;
        if !admin && selection.services.is_empty() {
            return Err(Error::Forbidden(
                "services: only platform admins upgrade a whole fleet; name the services of your teams"
                    .to_owned(),
            ));
        }
        let fleet = self.fleet(&template_ref).await?;
        let to_version = match &selection.to_version {
            Some(version) if !version.is_empty() => {
                if !fleet
                    .versions
                    .iter()
                    .any(|v| &v.version == version && v.created_at_millis.is_some())
                {
                    return Err(Error::invalid(
                        "to_version",
                        format!("{version:?} is not a stored version of {template_ref}"),
                    ));
                }
                version.clone()
            }
            _ => fleet.newest.clone().ok_or_else(|| {
                Error::invalid(
                    "to_version",
                    format!("{template_ref} has no stored version to upgrade to"),
                )
            })?,
        };
        let wanted: Vec<String> = selection
            .services
            .iter()
            .map(|s| crate::catalog::refs::parse(s, "component", "default"))
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| Error::invalid("services", e.to_string()))?;
        for service in &wanted {
            let Some(found) = fleet.services.iter().find(|s| &s.service == service) else {
                return Err(Error::invalid(
                    "services",
                    format!("{service} was not created from {template_ref}"),
                ));
            };
            if !admin
                && !found
                    .owner
                    .as_deref()
                    .is_some_and(|o| principal.acts_for(o))
            {
                return Err(Error::Forbidden(format!(
                    "{service} is owned by {}; only its team (or platform admins) may upgrade it",
                    found.owner.as_deref().unwrap_or("nobody")
                )));
            }
        }
        let picked: Vec<&FleetService> = fleet
            .services
            .iter()
            .filter(|s| wanted.is_empty() || wanted.contains(&s.service))
            .filter(|s| {
                selection
                    .owner
                    .as_ref()
                    .is_none_or(|o| s.owner.as_ref() == Some(o))
            })
            .filter(|s| {
                selection
                    .from_version
                    .as_ref()
                    .is_none_or(|v| &s.version == v)
            })
            .filter(|s| s.version != to_version)
            .collect();
        let mut chosen = Vec::new();
        let upgrades = self.upgrades()?;
        for service in picked {
            let settled = upgrades
                .get(&service.service, &to_version)
                .await?
                .is_some_and(|r| r.status.settled());
            if !settled {
                chosen.push(service);
            }
        }
        if chosen.is_empty() {
            return Err(Error::Conflict(format!(
                "no service of the selection needs upgrading to {to_version}: each is on it or has its change request"
            )));
        }
        let steps = chosen
            .iter()
            .map(|s| {
                (
                    format!("upgrade {}", s.service),
                    format!("Upgrade {}", s.title),
                )
            })
            .collect();
        let task = services
            .tasks
            .create(NewTask {
                kind: UPGRADE.to_owned(),
                title: format!(
                    "Upgrade {} service{} of {template_ref} to {}",
                    chosen.len(),
                    if chosen.len() == 1 { "" } else { "s" },
                    short(&to_version)
                ),
                input: json!({
                    "template": template_ref,
                    "to_version": to_version,
                    "values": selection.values,
                    "services": chosen.iter().map(|s| json!({ "service": s.service, "from_version": s.version })).collect::<Vec<_>>(),
                }),
                requester: principal.entity_ref.clone(),
                owner: None,
                subject: Some(format!("upgrade:{template_ref}@{to_version}")),
                steps,
            })
            .await?;
        for service in &chosen {
            upgrades
                .ask(
                    &service.service,
                    &template_ref,
                    &service.version,
                    &to_version,
                    &task.id,
                    &principal.entity_ref,
                )
                .await?;
        }
        services
            .audit
            .record(Entry {
                actor: &principal.entity_ref,
                action: "scaffolder.upgrade-start",
                target: &template_ref,
                outcome: Outcome::Success,
                detail: json!({ "task": task.id, "to_version": to_version, "services": chosen.len() }),
                request_id,
            })
            .await?;
        Ok(task)
    }

    /// The upgrade records.
    pub fn upgrades(&self) -> Result<&UpgradeRecords> {
        Ok(&self.services()?.upgrades)
    }

    /// The parameters version `to` of `template_ref` requires that version `from` did not
    /// declare and that have no default; none when either version is not stored.
    pub async fn new_parameters(
        &self,
        template_ref: &str,
        from: &str,
        to: &str,
    ) -> Result<Vec<NewParameter>> {
        let versions = self.versions()?;
        let (Some(from), Some(to)) = (
            versions.get(template_ref, from).await?,
            versions.get(template_ref, to).await?,
        ) else {
            return Ok(Vec::new());
        };
        let before: Vec<String> = declared(&from.entity)
            .into_iter()
            .map(|(n, _, _)| n)
            .collect();
        Ok(declared(&to.entity)
            .into_iter()
            .filter(|(name, schema, required)| {
                *required && schema.get("default").is_none() && !before.contains(name)
            })
            .map(|(name, schema, _)| NewParameter {
                title: schema
                    .get("title")
                    .and_then(Value::as_str)
                    .unwrap_or(&name)
                    .to_owned(),
                kind: schema
                    .get("type")
                    .and_then(Value::as_str)
                    .unwrap_or("string")
                    .to_owned(),
                description: schema
                    .get("description")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                name,
            })
            .collect())
    }

    /// The services created from `template_ref`: reference, title, owner and the version their
    /// descriptor records.
    fn fleet_services(&self, template_ref: &str) -> Vec<(String, String, Option<String>, String)> {
        let Some(catalog) = &self.catalog else {
            return Vec::new();
        };
        let index = catalog.index();
        let key = format!("metadata.annotations.{SOURCE_TEMPLATE}");
        let mut found: Vec<_> = index
            .matching(&key, template_ref)
            .iter()
            .filter_map(|id| index.get(id))
            .map(|stored| {
                let body = index.body_value(stored);
                let title = body
                    .pointer("/metadata/title")
                    .and_then(Value::as_str)
                    .unwrap_or(stored.name())
                    .to_owned();
                let version = annotation(&body, TEMPLATE_VERSION).unwrap_or_default();
                (
                    stored.entity_ref().to_owned(),
                    title,
                    index.owners(stored).into_iter().next(),
                    version,
                )
            })
            .collect();
        found.sort();
        found
    }
}

/// Every parameter a template entity's pages declare at their top level: name, schema, and
/// whether its page requires it.
fn declared(entity: &Value) -> Vec<(String, Value, bool)> {
    let pages = match entity.pointer("/spec/parameters") {
        Some(Value::Array(pages)) => pages.clone(),
        Some(page @ Value::Object(_)) => vec![page.clone()],
        _ => Vec::new(),
    };
    pages
        .iter()
        .flat_map(|page| {
            let required: Vec<&str> = page
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            page.get("properties")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .map(|(name, schema)| {
                    (
                        name.clone(),
                        schema.clone(),
                        required.contains(&name.as_str()),
                    )
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// An annotation of an entity body.
pub(crate) fn annotation(entity: &Value, name: &str) -> Option<String> {
    entity
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(name))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// The answers a service was created with, as its descriptor records them.
pub(crate) fn answers(entity: &Value) -> Value {
    annotation(entity, TEMPLATE_ANSWERS)
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_else(|| json!({}))
}

fn normalise(template_ref: &str) -> Result<String> {
    crate::catalog::refs::parse(template_ref, "template", "default")
        .map_err(|e| Error::invalid("template", e.to_string()))
}

/// The first characters of a version, as people read it.
pub fn short(version: &str) -> &str {
    let hex = version.strip_prefix("sha256:").unwrap_or(version);
    &hex[..hex.len().min(12)]
}
