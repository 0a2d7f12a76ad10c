//! Provisioning never touches what it does not own, checked on the real control plane: a
//! namespace Causeway did not create is neither taken over nor deleted (unless a platform admin
//! adopts it), prune finds every kind an earlier rendering left, and a destroy that does not get
//! as far as taking the environment leaves its record as it was.

#[path = "support/kube.rs"]
mod cluster;
#[path = "support/testbed.rs"]
mod testbed;

use std::time::Duration;

use causeway_platform::Error;
use causeway_platform::catalog::{IngestOptions, yaml};
use causeway_platform::provision::plan::Step;
use causeway_platform::provision::records::Status;
use causeway_platform::provision::{Provisioner, Request};
use causeway_platform::tasks::TaskStatus;
use causeway_platform::tasks::runner::{Runner, Settings};
use cluster::{Identity, client, remove_namespace as remove, unique_name};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::api::rbac::v1::RoleBinding;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::discovery::ApiResource;
use serde_json::json;
use testbed::{engine_and_platform, team_a_service};

fn request(service: &str, environment: &str) -> Request {
    Request {
        service: service.to_owned(),
        environment: environment.to_owned(),
        request_id: format!("req-{}", uuid::Uuid::new_v4()),
        ..Request::default()
    }
}

/// An administrator's namespace with a ConfigMap in it, as a cluster has before Causeway.
async fn foreign_namespace(name: &str) {
    let admin = client(Identity::Admin).await;
    Api::<Namespace>::all(admin.clone())
        .create(
            &PostParams::default(),
            &serde_json::from_value(
                json!({ "metadata": { "name": name, "labels": { "team": "finance" } } }),
            )
            .expect("namespace"),
        )
        .await
        .expect("the admin creates the namespace");
    Api::<ConfigMap>::namespaced(admin, name)
        .create(
            &PostParams::default(),
            &serde_json::from_value(
                json!({ "metadata": { "name": "ledger-settings" }, "data": { "rate": "7" } }),
            )
            .expect("config map"),
        )
        .await
        .expect("the admin's ConfigMap");
}

async fn still_there(namespace: &str) {
    let admin = client(Identity::Admin).await;
    let live = Api::<Namespace>::all(admin.clone())
        .get_opt(namespace)
        .await
        .expect("get")
        .expect("the namespace is still there");
    assert!(live.metadata.deletion_timestamp.is_none());
    assert!(
        Api::<ConfigMap>::namespaced(admin, namespace)
            .get_opt("ledger-settings")
            .await
            .expect("get")
            .is_some(),
        "the admin's ConfigMap is still there"
    );
}

#[tokio::test]
async fn a_namespace_causeway_did_not_create_is_neither_changed_nor_deleted() {
    let service = unique_name("billing");
    let namespace = format!("{service}-dev");
    foreign_namespace(&namespace).await;
    let (engine, platform) = engine_and_platform(&team_a_service(&service), |_| {}).await;

    // Destroy, with no record of the namespace: refused, and nothing is deleted.
    let refused = engine
        .destroy(&request(&service, "dev"))
        .await
        .expect_err("destroy is refused");
    assert!(
        matches!(&refused, Error::Conflict(m) if m.contains("not created by Causeway")),
        "{refused:?}"
    );
    let refused = engine
        .submit_destroy(&platform.tasks, &request(&service, "dev"))
        .await
        .expect_err("a destroy task is refused too");
    assert!(matches!(refused, Error::Conflict(_)), "{refused:?}");
    still_there(&namespace).await;

    // Apply: refused before anything is written or recorded.
    let refused = engine
        .apply(&request(&service, "dev"))
        .await
        .expect_err("apply is refused");
    assert!(matches!(refused, Error::Conflict(_)), "{refused:?}");
    let refused = engine
        .submit_apply(&platform.tasks, &request(&service, "dev"))
        .await
        .expect_err("an apply task is refused too");
    assert!(matches!(refused, Error::Conflict(_)), "{refused:?}");
    let admin = client(Identity::Admin).await;
    let bindings = Api::<RoleBinding>::namespaced(admin.clone(), &namespace)
        .list(&ListParams::default())
        .await
        .expect("list");
    assert!(bindings.items.is_empty(), "no RoleBinding was written");
    assert!(
        engine
            .records()
            .get(&namespace)
            .await
            .expect("get")
            .is_none()
    );
    // The plan says so, on the namespace.
    let plan = engine.plan(&request(&service, "dev")).await.expect("plan");
    assert!(
        matches!(&plan.steps[0], Step::Conflict { message, .. } if message.contains("not Causeway's")),
        "{:?}",
        plan.steps[0]
    );

    // Adopted by an explicit request (REST and the command line let only platform admins ask):
    // labelled, audited, and the admin's objects are left alone.
    let adopted = engine
        .apply(&Request {
            adopt: true,
            ..request(&service, "dev")
        })
        .await
        .expect("adopted");
    assert!(adopted.failed.is_empty(), "{:?}", adopted.failed);
    let live = Api::<Namespace>::all(admin.clone())
        .get(&namespace)
        .await
        .expect("get");
    let labels = live.metadata.labels.unwrap_or_default();
    assert_eq!(labels["app.kubernetes.io/managed-by"], "causeway");
    assert_eq!(labels["team"], "finance");
    still_there(&namespace).await;
    let audit = platform.audit.recent(10).await.expect("audit");
    assert!(
        audit
            .iter()
            .any(|r| r.action == "provision.adopt" && r.target == namespace),
        "{audit:?}"
    );
    remove(&namespace).await;
}

#[tokio::test]
async fn a_namespace_replaced_by_someone_else_is_not_deleted() {
    let service = unique_name("svc");
    let (engine, _) = engine_and_platform(&team_a_service(&service), |_| {}).await;
    let namespace = engine
        .apply(&request(&service, "dev"))
        .await
        .expect("apply")
        .namespace;
    // Someone deletes it and makes one of their own under the same name; the record remains.
    let admin = client(Identity::Admin).await;
    let namespaces = Api::<Namespace>::all(admin.clone());
    namespaces
        .delete(&namespace, &DeleteParams::default())
        .await
        .expect("delete");
    cluster::eventually("the namespace is gone", Duration::from_secs(60), || {
        let namespaces = namespaces.clone();
        let namespace = namespace.clone();
        async move {
            namespaces
                .get_opt(&namespace)
                .await
                .ok()
                .flatten()
                .is_none()
                .then_some(())
        }
    })
    .await;
    foreign_namespace(&namespace).await;
    let refused = engine
        .destroy(&request(&service, "dev"))
        .await
        .expect_err("destroy is refused");
    assert!(matches!(refused, Error::Conflict(_)), "{refused:?}");
    let refused = engine
        .apply(&request(&service, "dev"))
        .await
        .expect_err("apply is refused");
    assert!(matches!(refused, Error::Conflict(_)), "{refused:?}");
    still_there(&namespace).await;
    remove(&namespace).await;
}

fn crd(group: &str, version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &kube::api::GroupVersionKind::gvk(group, version, kind),
        plural,
    )
}

async fn exists(resource: &ApiResource, namespace: &str, name: &str) -> bool {
    let backend = client(Identity::Causeway).await;
    Api::<DynamicObject>::namespaced_with(backend, namespace, resource)
        .get_opt(name)
        .await
        .expect("get")
        .is_some()
}

#[tokio::test]
async fn prune_removes_kinds_no_longer_rendered() {
    let service = unique_name("svc");
    let (engine, platform) = engine_and_platform(&team_a_service(&service), |_| {}).await;
    let namespace = engine
        .apply(&request(&service, "dev"))
        .await
        .expect("apply")
        .namespace;
    let pipeline = crd("tekton.dev", "v1", "Pipeline", "pipelines");
    let dashboard = crd(
        "grafana.integreatly.org",
        "v1beta1",
        "GrafanaDashboard",
        "grafanadashboards",
    );
    assert!(exists(&pipeline, &namespace, "delivery").await);
    let dashboard_name = format!("{service}-red");
    assert!(exists(&dashboard, &namespace, &dashboard_name).await);

    // The component loses its repository: no pipeline is rendered any more.
    let without_repository = team_a_service(&service).replace(
        &format!("    github.com/project-slug: example/{service}\n"),
        "",
    );
    platform
        .catalog
        .ingest(
            "test",
            yaml::parse("test", &without_repository).expect("yaml"),
            IngestOptions::default(),
        )
        .await
        .expect("ingest");
    // And the cluster's Grafana now loads dashboards from ConfigMaps.
    let switched = Provisioner::new(
        {
            let mut config = (*engine.config()).clone();
            for cluster in &mut config.clusters {
                cluster.dashboards = causeway_platform::provision::config::Dashboards::ConfigMap;
            }
            config
        },
        &platform,
    );
    let plan = switched
        .plan(&request(&service, "dev"))
        .await
        .expect("plan");
    for gone in [
        "Pipeline/delivery".to_owned(),
        format!("GrafanaDashboard/{dashboard_name}"),
    ] {
        assert!(
            plan.steps.contains(&Step::Delete {
                object: gone.clone()
            }),
            "{gone} in {:?}",
            plan.steps
        );
    }
    let applied = switched
        .apply(&request(&service, "dev"))
        .await
        .expect("apply");
    assert!(applied.failed.is_empty(), "{:?}", applied.failed);
    assert!(!exists(&pipeline, &namespace, "delivery").await);
    assert!(!exists(&dashboard, &namespace, &dashboard_name).await);
    remove(&namespace).await;
}

/// Asserts that task `id` ended `status` and left the environment in `namespace` `ready`.
async fn ended_leaving_ready(
    platform: &causeway_platform::Platform,
    engine: &Provisioner,
    id: &str,
    status: TaskStatus,
    namespace: &str,
) {
    let ended = platform.tasks.get(id).await.expect("get").expect("task");
    assert_eq!(ended.status, status);
    let record = engine
        .records()
        .get(namespace)
        .await
        .expect("get")
        .expect("record");
    assert_eq!(record.status, Status::Ready, "{record:?}");
}

#[tokio::test]
async fn a_destroy_stopped_before_it_took_the_environment_leaves_it_ready() {
    let service = unique_name("svc");
    let (engine, platform) = engine_and_platform(&team_a_service(&service), |_| {}).await;
    let namespace = engine
        .apply(&request(&service, "dev"))
        .await
        .expect("apply")
        .namespace;
    let runner = Runner::new(
        platform.tasks.clone(),
        engine.task_handlers(),
        "test-worker".to_owned(),
        Settings::default(),
    );

    // Cancelled before its first step.
    let task = engine
        .submit_destroy(&platform.tasks, &request(&service, "dev"))
        .await
        .expect("submitted");
    platform
        .tasks
        .cancel(&task.id, "user:default/ada")
        .await
        .expect("cancel");
    runner.drain().await.expect("drain");
    ended_leaving_ready(
        &platform,
        &engine,
        &task.id,
        TaskStatus::Cancelled,
        &namespace,
    )
    .await;

    // Failed at its check: the namespace lost Causeway's label after the destroy was accepted.
    let task = engine
        .submit_destroy(&platform.tasks, &request(&service, "dev"))
        .await
        .expect("submitted");
    let admin = client(Identity::Admin).await;
    Api::<Namespace>::all(admin)
        .patch(
            &namespace,
            &PatchParams::default(),
            &Patch::Merge(json!({ "metadata": { "labels": { "app.kubernetes.io/managed-by": "someone-else" } } })),
        )
        .await
        .expect("relabel");
    runner.drain().await.expect("drain");
    ended_leaving_ready(&platform, &engine, &task.id, TaskStatus::Failed, &namespace).await;
    remove(&namespace).await;
}
