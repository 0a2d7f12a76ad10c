//! Drift against the real control plane: changes made outside Causeway to the objects of a ready
//! environment are found by the reconciler's watches, recorded in the drift and audit logs, and
//! put back (or only reported, per environment); a destroy is never undone.

#[path = "support/kube.rs"]
mod cluster;
#[path = "support/testbed.rs"]
mod testbed;

use std::time::{Duration, Instant};

use causeway_platform::provision::Request;
use causeway_platform::provision::config::{Dashboards, DriftPolicy};
use causeway_platform::provision::drift::RECONCILER;
use causeway_platform::provision::records::Status;
use cluster::{Identity, client, eventually, unique_name};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, ResourceQuota};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde_json::json;
use testbed::{engine_and_platform, team_a_service};

fn request(service: &str, environment: &str) -> Request {
    Request {
        service: service.to_owned(),
        environment: environment.to_owned(),
        request_id: format!("req-{environment}"),
        ..Request::default()
    }
}

/// Takes the quota's pod count with another field manager, as `kubectl apply --force-conflicts`
/// or a hand edit would.
async fn hand_edit_quota(namespace: &str, pods: &str) {
    let quotas = Api::<ResourceQuota>::namespaced(client(Identity::Admin).await, namespace);
    quotas
        .patch(
            "causeway-quota",
            &PatchParams::apply("kubectl-hand-edit").force(),
            &Patch::Apply(json!({
                "apiVersion": "v1", "kind": "ResourceQuota",
                "metadata": { "name": "causeway-quota" },
                "spec": { "hard": { "pods": pods } },
            })),
        )
        .await
        .expect("hand edit");
}

async fn quota_pods(namespace: &str) -> String {
    Api::<ResourceQuota>::namespaced(client(Identity::Admin).await, namespace)
        .get("causeway-quota")
        .await
        .expect("quota")
        .spec
        .and_then(|s| s.hard)
        .and_then(|h| h.get("pods").map(|q| q.0.clone()))
        .unwrap_or_default()
}

#[tokio::test]
async fn drift_is_restored_within_seconds_or_only_reported_and_always_recorded() {
    let service = unique_name("drift");
    let (engine, platform) = engine_and_platform(&team_a_service(&service), |config| {
        // The sidecar form of the dashboard, applied for real here.
        config.clusters[0].dashboards = Dashboards::ConfigMap;
        for environment in &mut config.environments {
            environment.drift = if environment.name == "staging" {
                DriftPolicy::Report
            } else {
                DriftPolicy::Restore
            };
        }
    })
    .await;
    let dev = engine.apply(&request(&service, "dev")).await.expect("dev");
    let staging = engine
        .apply(&request(&service, "staging"))
        .await
        .expect("staging");
    assert!(dev.failed.is_empty() && staging.failed.is_empty());
    let record = engine
        .records()
        .get(&dev.namespace)
        .await
        .expect("read")
        .expect("recorded");
    assert_eq!(record.status, Status::Ready);

    let dashboard = Api::<ConfigMap>::namespaced(client(Identity::Admin).await, &dev.namespace)
        .get(&format!("{service}-red"))
        .await
        .expect("dashboard ConfigMap");
    assert_eq!(
        dashboard.metadata.labels.unwrap_or_default()["grafana_dashboard"],
        "1"
    );
    let model: serde_json::Value =
        serde_json::from_str(&dashboard.data.unwrap_or_default()[&format!("{service}-red.json")])
            .expect("dashboard JSON");
    assert_eq!(model["panels"].as_array().map(Vec::len), Some(3));

    let _reconciler = engine.spawn_reconciler();
    // Let the watches list what exists before anything changes.
    tokio::time::sleep(Duration::from_secs(1)).await;

    // 1. Restore: a quota edited by another field manager.
    hand_edit_quota(&dev.namespace, "99").await;
    let started = Instant::now();
    eventually(
        "the quota to be restored",
        Duration::from_secs(15),
        || async { (quota_pods(&dev.namespace).await == "20").then_some(()) },
    )
    .await;
    println!("quota restored after {:?}", started.elapsed());

    // 2. Restore: a NetworkPolicy deleted.
    let policies = Api::<NetworkPolicy>::namespaced(client(Identity::Admin).await, &dev.namespace);
    policies
        .delete("allow-same-namespace", &DeleteParams::default())
        .await
        .expect("delete");
    let started = Instant::now();
    eventually(
        "the policy to be restored",
        Duration::from_secs(15),
        || async {
            policies
                .get_opt("allow-same-namespace")
                .await
                .ok()
                .flatten()
        },
    )
    .await;
    println!("policy restored after {:?}", started.elapsed());

    let drift = eventually(
        "both drifts to be recorded",
        Duration::from_secs(5),
        || async {
            let drift = engine
                .records()
                .drift(&dev.namespace, 10)
                .await
                .expect("drift");
            (drift.len() >= 2).then_some(drift)
        },
    )
    .await;
    let quota = drift
        .iter()
        .find(|d| d.object == "ResourceQuota/causeway-quota")
        .expect("quota drift");
    assert_eq!(quota.change, "conflict", "{quota:?}");
    assert!(
        quota.detail.to_string().contains("kubectl-hand-edit"),
        "{quota:?}"
    );
    assert_eq!(quota.action, "restored");
    let policy = drift
        .iter()
        .find(|d| d.object == "NetworkPolicy/allow-same-namespace")
        .expect("policy drift");
    assert_eq!(
        (policy.change.as_str(), policy.action.as_str()),
        ("deleted", "restored")
    );
    let audit = platform.audit.recent(50).await.expect("audit");
    let audited: Vec<_> = audit
        .iter()
        .filter(|r| r.action == "provision.drift" && r.target == dev.namespace)
        .collect();
    assert!(audited.len() >= 2, "{audited:?}");
    assert!(audited.iter().all(|r| r.actor == RECONCILER));

    // 3. Report only: the edit stays, and is recorded once however many events follow.
    hand_edit_quota(&staging.namespace, "77").await;
    let reported = eventually(
        "the staging drift to be reported",
        Duration::from_secs(15),
        || async {
            let drift = engine
                .records()
                .drift(&staging.namespace, 10)
                .await
                .expect("drift");
            (!drift.is_empty()).then_some(drift)
        },
    )
    .await;
    assert_eq!(reported[0].action, "reported");
    // Another event in the namespace (an unrelated label on the namespace) triggers a new pass.
    Api::<Namespace>::all(client(Identity::Admin).await)
        .patch(
            &staging.namespace,
            &PatchParams::apply("someone-else"),
            &Patch::Apply(json!({
                "apiVersion": "v1", "kind": "Namespace",
                "metadata": { "name": staging.namespace, "labels": { "touched": "yes" } },
            })),
        )
        .await
        .expect("touch");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        quota_pods(&staging.namespace).await,
        "77",
        "reported, not restored"
    );
    let drift = engine
        .records()
        .drift(&staging.namespace, 10)
        .await
        .expect("drift");
    assert_eq!(drift.len(), 1, "reported once: {drift:?}");

    // 4. A destroy is not undone by the reconciler.
    let gone = engine
        .destroy(&request(&service, "dev"))
        .await
        .expect("destroy");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let namespaces = Api::<Namespace>::all(client(Identity::Admin).await);
    assert!(
        namespaces
            .get_opt(&gone.namespace)
            .await
            .expect("get")
            .is_none()
    );
    assert!(
        engine
            .records()
            .get(&gone.namespace)
            .await
            .expect("read")
            .is_none()
    );
    engine
        .destroy(&request(&service, "staging"))
        .await
        .expect("destroy staging");
}

#[tokio::test]
async fn two_replicas_restore_and_record_each_drift_once() {
    let service = unique_name("lead");
    let (first, platform) = engine_and_platform(&team_a_service(&service), |_| {}).await;
    // A second replica: the same database and configuration, its own process identity.
    let second =
        causeway_platform::provision::Provisioner::new((*first.config()).clone(), &platform);
    let dev = first.apply(&request(&service, "dev")).await.expect("dev");
    let _one = first.spawn_reconciler();
    let _two = second.spawn_reconciler();
    tokio::time::sleep(Duration::from_secs(1)).await;

    hand_edit_quota(&dev.namespace, "99").await;
    eventually(
        "the quota to be restored",
        Duration::from_secs(15),
        || async { (quota_pods(&dev.namespace).await == "20").then_some(()) },
    )
    .await;
    // Both replicas saw the change; only the lease holder acted on it.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let drift = first
        .records()
        .drift(&dev.namespace, 10)
        .await
        .expect("drift");
    assert_eq!(drift.len(), 1, "restored and recorded once: {drift:?}");
    first
        .destroy(&request(&service, "dev"))
        .await
        .expect("destroy");
}
