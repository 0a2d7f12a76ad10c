//! What the delivery and scorecard suites share: a platform over a fresh store with a small
//! catalog loaded, and the people who post events.

#![allow(dead_code)]

use std::time::Duration;

use causeway_platform::catalog::{IngestOptions, yaml};
use causeway_platform::identity::{Principal, Role, Team};
use causeway_platform::{Platform, Settings, Store};

/// A platform over `store` whose catalog holds `catalog` (YAML documents); `group:default/admins`
/// is the platform team.
pub async fn platform_with(store: Store, catalog: &str) -> Platform {
    let platform = Platform::new(
        store,
        &Settings {
            admin_teams: vec!["group:default/admins".to_owned()],
            session_ttl: Duration::from_secs(60),
        },
    )
    .expect("platform");
    platform.load().await.expect("load");
    ingest(&platform, catalog).await;
    platform
}

/// Adds (or replaces) `catalog`'s entities in the platform's catalog.
pub async fn ingest(platform: &Platform, catalog: &str) {
    platform
        .catalog
        .ingest(
            "test",
            yaml::parse("test", catalog).expect("yaml"),
            IngestOptions::default(),
        )
        .await
        .expect("ingest");
}

/// Ada, a developer in `team`.
pub fn member_of(team: &str) -> Principal {
    Principal {
        entity_ref: "user:default/ada".to_owned(),
        display_name: "Ada".to_owned(),
        email: None,
        teams: vec![Team {
            entity_ref: format!("group:default/{team}"),
            display_name: team.to_owned(),
        }],
        role: Role::Developer,
    }
}

/// A platform admin in no team.
pub fn admin() -> Principal {
    Principal {
        entity_ref: "user:default/root".to_owned(),
        display_name: "Root".to_owned(),
        email: None,
        teams: vec![],
        role: Role::PlatformAdmin,
    }
}
