//! The fleet page's view model from the domain's fleet (`Scaffolder::fleet`).

use causeway_platform::identity::{Principal, Role};
use causeway_platform::scaffolder::fleet::{Fleet, short};

use crate::model::fleet::{FleetAsk, FleetServiceRow, FleetVersionRow, FleetView};
use crate::model::ref_path;

/// The view of `fleet` for `principal`: who may upgrade what follows the domain's rule (the
/// owning team for its services, platform admins for any), which `start_upgrades` checks again.
pub fn view(fleet: &Fleet, title: &str, principal: &Principal) -> FleetView {
    let admin = principal.role == Role::PlatformAdmin;
    let newest = fleet.newest.clone().unwrap_or_default();
    let (namespace, name) = {
        let (_, namespace, name) = causeway_platform::catalog::refs::split(&fleet.template);
        (namespace.to_owned(), name.to_owned())
    };
    let base = format!("/create/templates/{namespace}/{name}");
    let services: Vec<FleetServiceRow> = fleet
        .services
        .iter()
        .map(|s| {
            let upgrade = s.upgrade.as_ref();
            FleetServiceRow {
                service: s.service.clone(),
                href: ref_path(&s.service),
                title: s.title.clone(),
                owner: s.owner.clone().unwrap_or_default(),
                version_short: short(&s.version).to_owned(),
                on_newest: s.version == newest,
                status: upgrade
                    .map(|u| u.status.as_str().to_owned())
                    .unwrap_or_default(),
                change_url: upgrade.and_then(|u| u.change_url.clone()),
                branch: upgrade.and_then(|u| u.branch.clone()),
                conflicts: upgrade.map(|u| u.conflicts.clone()).unwrap_or_default(),
                notes: upgrade.map(|u| u.notes.clone()).unwrap_or_default(),
                message: upgrade.and_then(|u| u.message.clone()),
                task_href: upgrade
                    .and_then(|u| u.task_id.as_ref().map(|id| format!("/tasks/{id}"))),
                can_upgrade: admin || s.owner.as_deref().is_some_and(|o| principal.acts_for(o)),
            }
        })
        .collect();
    let behind = services
        .iter()
        .filter(|s| {
            !s.on_newest
                && !matches!(
                    s.status.as_str(),
                    "open" | "conflict" | "current" | "merged" | "pending"
                )
        })
        .count();
    FleetView {
        template: fleet.template.clone(),
        title: title.to_owned(),
        wizard_href: base.clone(),
        versions_href: format!("{base}/versions"),
        newest_short: short(&newest).to_owned(),
        newest: newest.clone(),
        versions: fleet
            .versions
            .iter()
            .map(|v| FleetVersionRow {
                version: v.version.clone(),
                short: short(&v.version).to_owned(),
                services: v.services,
                created_at: v
                    .created_at_millis
                    .map(causeway_platform::time::iso)
                    .unwrap_or_default(),
                newest: v.version == newest,
            })
            .collect(),
        services,
        counts: fleet
            .upgrades
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect(),
        can_upgrade_all: admin,
        behind,
        asks: fleet
            .asks
            .iter()
            .map(|a| FleetAsk {
                name: a.name.clone(),
                title: a.title.clone(),
                kind: a.kind.clone(),
                description: a.description.clone(),
            })
            .collect(),
    }
}
