//! A provisioning engine for the integration tests: its own SQLite catalog and the control plane
//! of `TEST_KUBECONFIG` (see `kube.rs`), reached as the backend.

#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use causeway_platform::catalog::{IngestOptions, yaml};
use causeway_platform::provision::Provisioner;
use causeway_platform::provision::config::ProvisionConfig;
use causeway_platform::{Platform, Settings, Store};

use crate::cluster::{Identity, kubeconfig_path};

/// An engine over a fresh catalog of `catalog` (YAML documents), with the embedded configuration
/// (changed by `adjust`) pointed at the control plane as Causeway's backend identity.
pub async fn engine_with_catalog(
    catalog: &str,
    adjust: impl FnOnce(&mut ProvisionConfig),
) -> Provisioner {
    engine_and_platform(catalog, adjust).await.0
}

/// [`engine_with_catalog`], and the platform under it (for its audit log).
pub async fn engine_and_platform(
    catalog: &str,
    adjust: impl FnOnce(&mut ProvisionConfig),
) -> (Provisioner, Platform) {
    let platform = platform_with_catalog(catalog).await;
    let mut config = ProvisionConfig::embedded(
        Some((
            kubeconfig_path(),
            Some(Identity::Causeway.context().to_owned()),
        )),
        PathBuf::from("unused"),
    );
    adjust(&mut config);
    (Provisioner::new(config, &platform), platform)
}

/// A platform over a fresh SQLite database holding `catalog` (YAML documents).
pub async fn platform_with_catalog(catalog: &str) -> Platform {
    let dir = std::env::temp_dir().join(format!("causeway-provision-{}", uuid::Uuid::new_v4()));
    platform_in(&dir, catalog).await
}

/// [`platform_with_catalog`] with its database at `dir/causeway.db`, for a test that must reach
/// the database as another process would.
pub async fn platform_in(dir: &std::path::Path, catalog: &str) -> Platform {
    let store = Store::open(&format!("sqlite://{}/causeway.db", dir.display()))
        .await
        .expect("store");
    store.migrate().await.expect("migrate");
    let platform = Platform::new(
        store,
        &Settings {
            admin_teams: Vec::new(),
            session_ttl: Duration::from_secs(60),
        },
    )
    .expect("platform");
    platform.load().await.expect("load");
    platform
        .catalog
        .ingest(
            "test",
            yaml::parse("test", catalog).expect("yaml"),
            IngestOptions::default(),
        )
        .await
        .expect("ingest");
    platform
}

/// A catalog of `team-a` (the control plane's developer group), its component `service` with a
/// cost centre and a repository, and an API.
pub fn team_a_service(service: &str) -> String {
    format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: team-a\nspec:\n  type: team\n  children: []\n---\n\
         apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {service}\n  annotations:\n    causeway.dev/cost-centre: cc-4711\n    causeway.dev/on-call: team-a-primary\n    github.com/project-slug: example/{service}\n\
         spec:\n  type: service\n  lifecycle: production\n  owner: team-a\n---\n\
         apiVersion: backstage.io/v1alpha1\nkind: API\nmetadata:\n  name: {service}-api\nspec:\n  type: openapi\n  lifecycle: production\n  owner: team-a\n  definition: openapi\n"
    )
}
