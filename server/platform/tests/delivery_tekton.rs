//! Tekton PipelineRuns recorded as deployments, on the real control plane (tests/controlplane,
//! which installs Tekton's CRDs with `status` as a subresource). No Tekton controller runs there,
//! so the test creates each run and writes its status through the status subresource as the
//! controller does. The watcher runs as Causeway's backend, holding only the chart's RBAC: a
//! finished run of the `delivery` Pipeline in a namespace Causeway manages is a deployment of its
//! revision; one in a namespace that is not Causeway's, one still running, and one of another
//! Pipeline are not; a run is recorded once however often it is seen.

#[path = "support/kube.rs"]
mod cluster;
#[path = "support/delivery_bed.rs"]
mod delivery_bed;

use std::time::Duration;

use causeway_platform::delivery::adapters::tekton::{Seen, pipeline_runs};
use causeway_platform::{Platform, Store};
use cluster::{Identity, client, eventually, remove_namespace, status_code, unique_name};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use sqlx::{AnyPool, Row};

const CATALOG: &str = "apiVersion: backstage.io/v1alpha1
kind: Group
metadata: { name: team-a }
spec: { type: team, children: [] }
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: { name: payments-api }
spec: { type: service, lifecycle: production, owner: team-a }
";

const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

async fn platform() -> (Platform, AnyPool) {
    let dir = std::env::temp_dir().join(format!("causeway-tekton-{}", uuid::Uuid::new_v4()));
    let url = format!("sqlite://{}/causeway.db", dir.display());
    let store = Store::open(&url).await.expect("open the store");
    let platform = delivery_bed::platform_with(store, CATALOG).await;
    sqlx::any::install_default_drivers();
    let database = AnyPool::connect(&url.replace("sqlite://", "sqlite:"))
        .await
        .expect("a second pool");
    (platform, database)
}

/// A namespace as Causeway provisions an environment (made by the backend), or, with
/// `managed: false`, one an administrator made with the same service labels.
async fn namespace(environment: &str, managed: bool) -> String {
    let name = unique_name(&format!("pay-{environment}"));
    let mut labels = json!({
        cluster::TEST_LABEL: "true",
        "causeway.dev/service": "payments-api",
        "causeway.dev/environment": environment,
    });
    let mut annotations = json!({});
    let identity = if managed {
        labels[cluster::MANAGED_BY.0] = json!(cluster::MANAGED_BY.1);
        annotations["causeway.dev/service-ref"] = json!("component:default/payments-api");
        Identity::Causeway
    } else {
        Identity::Admin
    };
    let object = json!({
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": { "name": name, "labels": labels, "annotations": annotations },
    });
    Api::<Namespace>::all(client(identity).await)
        .patch(
            &name,
            &PatchParams::apply(cluster::MANAGER),
            &Patch::Apply(object),
        )
        .await
        .unwrap_or_else(|e| panic!("creating namespace {name}: {e}"));
    name
}

/// Starts a run of `pipeline` at `revision` in `namespace` as someone allowed to (Tekton's
/// triggers, a developer) and, unless `succeeded` is `None`, finishes it through the status
/// subresource as Tekton's controller does. Returns the run's uid.
async fn run(namespace: &str, pipeline: &str, revision: &str, succeeded: Option<&str>) -> String {
    let admin = client(Identity::Admin).await;
    let api: Api<DynamicObject> = Api::namespaced_with(admin, namespace, &pipeline_runs());
    let mut object = DynamicObject::new("", &pipeline_runs());
    object.metadata.generate_name = Some(format!("{pipeline}-"));
    object.data = json!({
        "spec": {
            "pipelineRef": { "name": pipeline },
            "params": [
                { "name": "repository", "value": "https://git.example.org/payments/payments-api.git" },
                { "name": "revision", "value": revision },
                { "name": "image", "value": "registry.local/team-a/payments-api:1" },
                { "name": "service", "value": "payments-api" },
            ],
        },
    });
    let created = api
        .create(&PostParams::default(), &object)
        .await
        .expect("create the PipelineRun");
    let name = created.metadata.name.clone().expect("a generated name");
    let status = match succeeded {
        None => json!({
            "startTime": "2026-12-01T10:00:00Z",
            "conditions": [{ "type": "Succeeded", "status": "Unknown", "reason": "Running",
                             "lastTransitionTime": "2026-12-01T10:00:00Z" }],
        }),
        Some(status) => json!({
            "startTime": "2026-12-01T10:00:00Z",
            "completionTime": "2026-12-01T10:07:30Z",
            "conditions": [{ "type": "Succeeded", "status": status,
                             "reason": if status == "True" { "Succeeded" } else { "Failed" },
                             "lastTransitionTime": "2026-12-01T10:07:30Z" }],
        }),
    };
    api.patch_status(
        &name,
        &PatchParams::default(),
        &Patch::Merge(json!({ "status": status })),
    )
    .await
    .expect("set the status through the status subresource");
    created.metadata.uid.expect("a uid")
}

async fn deployments(database: &AnyPool) -> Vec<Value> {
    let rows = sqlx::query(
        "SELECT d.id, d.environment, d.version, d.status, d.started_at, d.finished_at, \
         d.pipeline_run, (SELECT COUNT(*) FROM delivery_deployment_commits c \
         WHERE c.service = d.service AND c.deployment = d.id) AS commits \
         FROM delivery_deployments d ORDER BY d.status DESC",
    )
    .fetch_all(database)
    .await
    .expect("read deployments");
    rows.iter()
        .map(|row| {
            json!({
                "id": row.get::<String, _>(0), "environment": row.get::<String, _>(1),
                "version": row.get::<String, _>(2), "status": row.get::<String, _>(3),
                "minutes": (row.get::<i64, _>(5) - row.get::<i64, _>(4)) as f64 / 60_000.0,
                "pipelineRun": row.get::<Option<String>, _>(6), "commits": row.get::<i64, _>(7),
            })
        })
        .collect()
}

#[tokio::test]
async fn finished_delivery_runs_in_causeways_namespaces_are_deployments() {
    let (platform, database) = platform().await;
    let ours = namespace("prod", true).await;
    let foreign = namespace("prod", false).await;
    let backend = client(Identity::Causeway).await;

    // The backend reads runs and never writes them.
    let as_backend: Api<DynamicObject> =
        Api::namespaced_with(backend.clone(), &ours, &pipeline_runs());
    let mut attempt = DynamicObject::new("by-the-backend", &pipeline_runs());
    attempt.data = json!({ "spec": { "pipelineRef": { "name": "delivery" } } });
    assert_eq!(
        status_code(as_backend.create(&PostParams::default(), &attempt).await),
        403
    );

    let delivery = platform.delivery.clone();
    let watcher_client = backend.clone();
    let watch = tokio::spawn(async move {
        delivery
            .watch_pipeline_runs(watcher_client, "controlplane")
            .await
    });

    // Not deployments: a run in a namespace that is not Causeway's, a run still going, a run
    // of another Pipeline.
    run(&foreign, "delivery", SHA, Some("True")).await;
    run(&ours, "delivery", SHA, None).await;
    run(&ours, "nightly-tests", SHA, Some("True")).await;
    // Deployments: a successful run of a commit, a failed run of a branch.
    let succeeded = run(&ours, "delivery", SHA, Some("True")).await;
    let failed = run(&ours, "delivery", "main", Some("False")).await;

    let recorded = eventually("both runs recorded", Duration::from_secs(30), || async {
        let found = deployments(&database).await;
        (found.len() >= 2).then_some(found)
    })
    .await;
    let run_of = |uid: &str| recorded.iter().find(|d| d["id"] == uid).cloned();
    let success = run_of(&succeeded).expect("the successful run");
    assert_eq!(success["environment"], "prod");
    assert_eq!(success["version"], SHA);
    assert_eq!(success["status"], "succeeded");
    assert_eq!(success["minutes"], 7.5);
    assert_eq!(success["commits"], 1, "the commit it built");
    assert!(
        success["pipelineRun"]
            .as_str()
            .is_some_and(|r| r.starts_with(&format!("{ours}/delivery-"))),
        "{success}"
    );
    let failure = run_of(&failed).expect("the failed run");
    assert_eq!(failure["status"], "failed");
    assert_eq!(failure["version"], "main");
    assert_eq!(failure["commits"], 0, "a branch names no commit");
    assert_eq!(recorded.len(), 2, "nothing else: {recorded:?}");

    // Recorded by the platform itself, through the audited ingestion.
    let actors: Vec<String> =
        sqlx::query("SELECT actor FROM audit_log WHERE action = 'delivery.events'")
            .fetch_all(&database)
            .await
            .expect("read the audit log")
            .iter()
            .map(|row| row.get(0))
            .collect();
    assert_eq!(actors, ["system:tekton", "system:tekton"]);

    // Seen again (a restart, another replica, a later status update), a run is known.
    let again = Api::<DynamicObject>::namespaced_with(backend.clone(), &ours, &pipeline_runs())
        .list(&Default::default())
        .await
        .expect("list runs as the backend");
    let object = again
        .items
        .iter()
        .find(|o| o.metadata.uid.as_deref() == Some(succeeded.as_str()))
        .expect("the run");
    assert_eq!(
        platform
            .delivery
            .pipeline_run(&backend, object)
            .await
            .unwrap(),
        Seen::Known
    );
    watch.abort();
    remove_namespace(&ours).await;
    remove_namespace(&foreign).await;
}
