//! Proof that the test control plane is a real Kubernetes API server with the controllers and
//! CustomResourceDefinitions Causeway provisions against, and that the backend's ClusterRole
//! (charts/causeway/files/rbac.yaml) allows what provisioning needs and no more.
//!
//! Every provisioning step runs as the backend's own identity, never as an administrator. The
//! plane comes from `TEST_KUBECONFIG`; see `support/kube.rs`.

#[path = "support/kube.rs"]
mod cluster;

use std::collections::BTreeMap;
use std::time::Duration;

use cluster::{
    Identity, MANAGER, client, create_namespace, eventually, status_code, status_message,
};
use k8s_openapi::api::admissionregistration::v1::{
    ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding,
};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, ResourceQuota, Secret};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch,
    PatchParams, PostParams,
};
use kube::runtime::wait::conditions;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(60);

fn apply() -> PatchParams {
    PatchParams::apply(MANAGER)
}

/// A RoleBinding granting `cluster_role` to a team's group, as the backend writes them.
fn team_binding(namespace: &str, cluster_role: &str, group: &str) -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": { "name": format!("team-{cluster_role}"), "namespace": namespace },
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": cluster_role,
        },
        "subjects": [{ "apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": group }],
    })
}

fn dynamic_api(
    client: &kube::Client,
    namespace: &str,
    (group, version, kind, plural): (&str, &str, &str, &str),
) -> Api<DynamicObject> {
    let resource =
        ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural);
    Api::namespaced_with(client.clone(), namespace, &resource)
}

const TEKTON_PIPELINE: (&str, &str, &str, &str) = ("tekton.dev", "v1", "Pipeline", "pipelines");
const GRAFANA_DASHBOARD: (&str, &str, &str, &str) = (
    "grafana.integreatly.org",
    "v1beta1",
    "GrafanaDashboard",
    "grafanadashboards",
);
const SERVICE_MONITOR: (&str, &str, &str, &str) = (
    "monitoring.coreos.com",
    "v1",
    "ServiceMonitor",
    "servicemonitors",
);
const PROMETHEUS_RULE: (&str, &str, &str, &str) = (
    "monitoring.coreos.com",
    "v1",
    "PrometheusRule",
    "prometheusrules",
);

#[tokio::test]
async fn server_side_apply_creates_and_updates_a_config_map_owned_by_the_backend() {
    let backend = client(Identity::Causeway).await;
    let namespace = create_namespace(&backend, "t-ssa", &[]).await;
    let config_maps: Api<ConfigMap> = Api::namespaced(backend.clone(), &namespace);
    let desired = |data: Value| {
        json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": { "name": "team-settings" },
            "data": data,
        })
    };

    let created = config_maps
        .patch(
            "team-settings",
            &apply(),
            &Patch::Apply(desired(json!({"tier": "bronze", "owner": "team-a"}))),
        )
        .await
        .expect("server-side apply creates the ConfigMap");
    assert_eq!(
        created
            .data
            .as_ref()
            .and_then(|d| d.get("tier"))
            .map(String::as_str),
        Some("bronze")
    );

    // Leaving `owner` out of the next apply removes it: the backend's manager owns that field.
    let updated = config_maps
        .patch(
            "team-settings",
            &apply(),
            &Patch::Apply(desired(json!({"tier": "gold"}))),
        )
        .await
        .expect("server-side apply updates the ConfigMap");
    let data = updated.data.clone().unwrap_or_default();
    assert_eq!(
        data,
        BTreeMap::from([("tier".to_owned(), "gold".to_owned())])
    );
    assert_ne!(
        created.metadata.resource_version,
        updated.metadata.resource_version
    );

    let managers: Vec<(String, String)> = updated
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .map(|entry| {
            (
                entry.manager.unwrap_or_default(),
                entry.operation.unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        managers,
        vec![(MANAGER.to_owned(), "Apply".to_owned())],
        "managedFields must name the backend's field manager as the only owner"
    );
}

#[tokio::test]
async fn an_invalid_resource_quota_quantity_is_rejected() {
    let backend = client(Identity::Causeway).await;
    let namespace = create_namespace(&backend, "t-quota-invalid", &[]).await;
    let quotas: Api<ResourceQuota> = Api::namespaced(backend, &namespace);

    let negative = json!({
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": { "name": "compute" },
        "spec": { "hard": { "limits.cpu": "-2", "limits.memory": "8Gi" } },
    });
    let (code, message) = status_message(
        quotas
            .patch("compute", &apply(), &Patch::Apply(negative))
            .await,
    );
    assert_eq!(code, 422, "{message}");
    assert!(message.contains("spec.hard[limits.cpu]"), "{message}");

    // Nothing was stored.
    assert!(quotas.get_opt("compute").await.unwrap().is_none());
}

#[tokio::test]
async fn developers_are_denied_other_teams_namespaces_and_allowed_their_own_after_binding_edit() {
    let backend = client(Identity::Causeway).await;
    let developer_a = client(Identity::DeveloperA).await;
    let developer_b = client(Identity::DeveloperB).await;
    let team_a = create_namespace(&backend, "t-team-a", &[("causeway.dev/team", "team-a")]).await;
    let team_b = create_namespace(&backend, "t-team-b", &[("causeway.dev/team", "team-b")]).await;

    // No binding yet: a developer can do nothing in either namespace.
    let a_in_a: Api<ConfigMap> = Api::namespaced(developer_a.clone(), &team_a);
    assert_eq!(status_code(a_in_a.list(&ListParams::default()).await), 403);

    // The backend binds each team to the built-in `edit` role in its own namespace. That role's
    // rules exist only because kube-controller-manager's aggregation controller filled them in.
    for (namespace, group) in [(&team_a, "team-a"), (&team_b, "team-b")] {
        Api::<RoleBinding>::namespaced(backend.clone(), namespace)
            .patch(
                "team-edit",
                &apply(),
                &Patch::Apply(team_binding(namespace, "edit", group)),
            )
            .await
            .unwrap_or_else(|e| panic!("the backend binds {group} to edit in {namespace}: {e}"));
    }

    let settings = ConfigMap {
        metadata: kube::api::ObjectMeta {
            name: Some("deploy-notes".to_owned()),
            ..Default::default()
        },
        data: Some(BTreeMap::from([("note".to_owned(), "hello".to_owned())])),
        ..Default::default()
    };
    // RBAC decisions come from an informer cache, so the new binding takes effect shortly after.
    eventually(
        "developer-a to be allowed in team-a's namespace",
        WAIT,
        || {
            let api = a_in_a.clone();
            let settings = settings.clone();
            async move { api.create(&PostParams::default(), &settings).await.ok() }
        },
    )
    .await;
    assert!(a_in_a.list(&ListParams::default()).await.is_ok());

    let a_in_b: Api<ConfigMap> = Api::namespaced(developer_a, &team_b);
    assert_eq!(status_code(a_in_b.list(&ListParams::default()).await), 403);
    assert_eq!(
        status_code(a_in_b.create(&PostParams::default(), &settings).await),
        403
    );

    let b_in_b: Api<ConfigMap> = Api::namespaced(developer_b.clone(), &team_b);
    eventually(
        "developer-b to be allowed in team-b's namespace",
        WAIT,
        || {
            let api = b_in_b.clone();
            async move { api.list(&ListParams::default()).await.ok() }
        },
    )
    .await;
    let b_in_a: Api<ConfigMap> = Api::namespaced(developer_b, &team_a);
    assert_eq!(status_code(b_in_a.get("deploy-notes").await), 403);
}

#[tokio::test]
async fn the_backend_cannot_grant_admin_or_escalate_or_touch_workloads_and_secrets() {
    let backend = client(Identity::Causeway).await;
    let namespace = create_namespace(&backend, "t-narrow", &[]).await;

    // `bind` is granted on `edit` and `view` only; `admin` would let a team rewrite its own RBAC.
    let (code, message) = status_message(
        Api::<RoleBinding>::namespaced(backend.clone(), &namespace)
            .patch(
                "team-admin",
                &apply(),
                &Patch::Apply(team_binding(&namespace, "admin", "team-a")),
            )
            .await,
    );
    assert_eq!(code, 403, "{message}");

    // The backend writes no Roles at all: its ClusterRole grants none, so no Role can carry
    // permissions it does not hold.
    let roles: Api<Role> = Api::namespaced(backend.clone(), &namespace);
    let (code, message) = status_message(
        roles
            .patch(
                "read-settings",
                &apply(),
                &Patch::Apply(json!({
                    "apiVersion": "rbac.authorization.k8s.io/v1",
                    "kind": "Role",
                    "metadata": { "name": "read-settings" },
                    "rules": [{ "apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"] }],
                })),
            )
            .await,
    );
    assert_eq!(code, 403, "{message}");

    let secrets: Api<Secret> = Api::namespaced(backend.clone(), &namespace);
    assert_eq!(status_code(secrets.list(&ListParams::default()).await), 403);
    let pods: Api<Pod> = Api::namespaced(backend, &namespace);
    assert_eq!(status_code(pods.list(&ListParams::default()).await), 403);
}

#[tokio::test]
async fn deleting_a_namespace_completes() {
    let backend = client(Identity::Causeway).await;
    let name = create_namespace(&backend, "t-delete", &[]).await;
    let config_maps: Api<ConfigMap> = Api::namespaced(backend.clone(), &name);
    config_maps
        .patch(
            "leftover",
            &apply(),
            &Patch::Apply(json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": { "name": "leftover" }, "data": { "k": "v" },
            })),
        )
        .await
        .expect("a ConfigMap in the namespace");

    let namespaces: Api<Namespace> = Api::all(backend);
    let uid = namespaces
        .get(&name)
        .await
        .unwrap()
        .metadata
        .uid
        .expect("a stored namespace has a uid");
    namespaces
        .delete(&name, &DeleteParams::default())
        .await
        .expect("the backend may delete namespaces");
    // Only the namespace controller empties the namespace and removes its `kubernetes` finalizer;
    // without it the namespace would stay Terminating forever.
    cluster::wait_for_condition(
        namespaces.clone(),
        &name,
        WAIT,
        conditions::is_deleted(&uid),
    )
    .await;
    assert!(namespaces.get_opt(&name).await.unwrap().is_none());
}

#[tokio::test]
async fn tekton_and_observability_resources_are_accepted_and_schema_violations_rejected() {
    let backend = client(Identity::Causeway).await;
    let namespace = create_namespace(&backend, "t-crds", &[]).await;

    let pipelines = dynamic_api(&backend, &namespace, TEKTON_PIPELINE);
    let pipeline = pipelines
        .patch(
            "build-and-deploy",
            &apply(),
            &Patch::Apply(json!({
                "apiVersion": "tekton.dev/v1",
                "kind": "Pipeline",
                "metadata": { "name": "build-and-deploy" },
                "spec": {
                    "params": [{ "name": "revision", "type": "string" }],
                    "tasks": [{
                        "name": "build",
                        "taskRef": { "name": "buildah" },
                        "params": [{ "name": "revision", "value": "$(params.revision)" }],
                    }],
                },
            })),
        )
        .await
        .expect("a tekton.dev/v1 Pipeline is accepted");
    assert_eq!(pipeline.data["spec"]["tasks"][0]["name"], "build");

    let dashboards = dynamic_api(&backend, &namespace, GRAFANA_DASHBOARD);
    let dashboard = |name: &str, spec: Value| {
        json!({
            "apiVersion": "grafana.integreatly.org/v1beta1",
            "kind": "GrafanaDashboard",
            "metadata": { "name": name },
            "spec": spec,
        })
    };
    dashboards
        .patch(
            "service-overview",
            &apply(),
            &Patch::Apply(dashboard(
                "service-overview",
                json!({
                    "instanceSelector": { "matchLabels": { "dashboards": "grafana" } },
                    "resyncPeriod": "10m",
                    "json": "{\"title\": \"Service overview\", \"panels\": []}",
                }),
            )),
        )
        .await
        .expect("a valid GrafanaDashboard is accepted");

    // The CRD's OpenAPI schema requires `instanceSelector` and constrains `resyncPeriod` to a
    // duration; both are checked by the API server, before anything is stored.
    let (code, message) = status_message(
        dashboards
            .patch(
                "broken-dashboard",
                &apply(),
                &Patch::Apply(dashboard(
                    "broken-dashboard",
                    json!({ "resyncPeriod": "every ten minutes", "json": "{}" }),
                )),
            )
            .await,
    );
    assert_eq!(code, 422, "{message}");
    assert!(message.contains("spec.resyncPeriod"), "{message}");
    assert!(message.contains("spec.instanceSelector"), "{message}");
    // Its CEL rules are enforced as well: a folder may be named only one way.
    let (code, message) = status_message(
        dashboards
            .patch(
                "two-folders",
                &apply(),
                &Patch::Apply(dashboard(
                    "two-folders",
                    json!({
                        "instanceSelector": { "matchLabels": { "dashboards": "grafana" } },
                        "folder": "Team A",
                        "folderUID": "team-a",
                        "json": "{}",
                    }),
                )),
            )
            .await,
    );
    assert_eq!(code, 422, "{message}");
    assert!(message.contains("folder field cannot be set"), "{message}");

    dynamic_api(&backend, &namespace, SERVICE_MONITOR)
        .patch(
            "service",
            &apply(),
            &Patch::Apply(json!({
                "apiVersion": "monitoring.coreos.com/v1",
                "kind": "ServiceMonitor",
                "metadata": { "name": "service" },
                "spec": {
                    "selector": { "matchLabels": { "app.kubernetes.io/name": "service" } },
                    "endpoints": [{ "port": "http", "path": "/metrics", "interval": "30s" }],
                },
            })),
        )
        .await
        .expect("a ServiceMonitor is accepted");
    dynamic_api(&backend, &namespace, PROMETHEUS_RULE)
        .patch(
            "service-alerts",
            &apply(),
            &Patch::Apply(json!({
                "apiVersion": "monitoring.coreos.com/v1",
                "kind": "PrometheusRule",
                "metadata": { "name": "service-alerts" },
                "spec": { "groups": [{ "name": "service", "rules": [{
                    "alert": "ServiceDown",
                    "expr": "up{job=\"service\"} == 0",
                    "for": "5m",
                }] }] },
            })),
        )
        .await
        .expect("a PrometheusRule is accepted");
}

#[tokio::test]
async fn a_validating_admission_policy_rejects_host_network_pods_in_a_dry_run() {
    let backend = client(Identity::Causeway).await;
    // The backend may write no admission policy but its own (rbac.yaml), so the cluster's
    // administrator installs this one.
    let admin = client(Identity::Admin).await;
    let namespace = create_namespace(&backend, "t-vap", &[]).await;
    // Policies are cluster-wide; a unique name and a binding selecting only this namespace keep
    // concurrent tests (and other runs on a shared plane) out of each other's way.
    let policy_name = cluster::unique_name("causeway-test-no-host-network");

    let policies: Api<ValidatingAdmissionPolicy> = Api::all(admin.clone());
    policies
        .patch(
            &policy_name,
            &apply(),
            &Patch::Apply(json!({
                "apiVersion": "admissionregistration.k8s.io/v1",
                "kind": "ValidatingAdmissionPolicy",
                "metadata": { "name": policy_name },
                "spec": {
                    "failurePolicy": "Fail",
                    "matchConstraints": { "resourceRules": [{
                        "apiGroups": [""], "apiVersions": ["v1"],
                        "operations": ["CREATE", "UPDATE"], "resources": ["pods"],
                    }] },
                    "validations": [{
                        "expression": "!has(object.spec.hostNetwork) || !object.spec.hostNetwork",
                        "message": "hostNetwork is forbidden on this platform",
                    }],
                },
            })),
        )
        .await
        .expect("the admin writes admission policies");
    let bindings: Api<ValidatingAdmissionPolicyBinding> = Api::all(admin);
    bindings
        .patch(
            &policy_name,
            &apply(),
            &Patch::Apply(json!({
                "apiVersion": "admissionregistration.k8s.io/v1",
                "kind": "ValidatingAdmissionPolicyBinding",
                "metadata": { "name": policy_name },
                "spec": {
                    "policyName": policy_name,
                    "validationActions": ["Deny"],
                    "matchResources": { "namespaceSelector": { "matchLabels": {
                        "kubernetes.io/metadata.name": namespace,
                    } } },
                },
            })),
        )
        .await
        .expect("the admin writes admission policy bindings");

    // A developer of the team tries to start Pods (the backend itself may not create Pods).
    Api::<RoleBinding>::namespaced(backend.clone(), &namespace)
        .patch(
            "team-edit",
            &apply(),
            &Patch::Apply(team_binding(&namespace, "edit", "team-a")),
        )
        .await
        .expect("binding team-a to edit");
    let pods: Api<Pod> = Api::namespaced(client(Identity::DeveloperA).await, &namespace);
    let pod = |host_network: bool| -> Pod {
        serde_json::from_value(json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": { "name": "web" },
            "spec": {
                "hostNetwork": host_network,
                "containers": [{ "name": "web", "image": "registry.example/web:1.0" }],
            },
        }))
        .unwrap()
    };
    let dry_run = PostParams {
        dry_run: true,
        ..PostParams::default()
    };

    // An ordinary Pod passes admission once the binding and the namespace's `default`
    // ServiceAccount (made by the controller manager) exist: the rejection below is the policy's.
    eventually(
        "an ordinary Pod to pass admission in a dry run",
        WAIT,
        || {
            let pods = pods.clone();
            let pod = pod(false);
            let dry_run = dry_run.clone();
            async move { pods.create(&dry_run, &pod).await.ok() }
        },
    )
    .await;

    // The API server picks the policy up from an informer, so the first attempts may still pass.
    let (code, message) = eventually("the policy to reject a hostNetwork Pod", WAIT, || {
        let pods = pods.clone();
        let pod = pod(true);
        let dry_run = dry_run.clone();
        async move {
            match pods.create(&dry_run, &pod).await {
                Err(kube::Error::Api(status)) => Some((status.code, status.message)),
                Err(other) => panic!("dry-run create failed on the client side: {other}"),
                Ok(_) => None,
            }
        }
    })
    .await;
    assert_eq!(code, 422, "{message}");
    assert!(
        message.contains("hostNetwork is forbidden on this platform")
            && message.contains(&policy_name),
        "{message}"
    );
    // A dry run stores nothing.
    assert!(pods.get_opt("web").await.unwrap().is_none());

    bindings
        .delete(&policy_name, &DeleteParams::default())
        .await
        .expect("removing the binding");
    policies
        .delete(&policy_name, &DeleteParams::default())
        .await
        .expect("removing the policy");
}

#[tokio::test]
async fn the_resource_quota_controller_fills_in_status_used_and_the_quota_is_enforced() {
    let backend = client(Identity::Causeway).await;
    let namespace = create_namespace(&backend, "t-quota-used", &[]).await;
    let config_maps: Api<ConfigMap> = Api::namespaced(backend.clone(), &namespace);
    // The controller manager publishes `kube-root-ca.crt` into every new namespace. Waiting for it
    // keeps that write from racing the quota's first count, which would leave it uncounted until
    // the controller's next full recount.
    eventually("the root CA ConfigMap in the new namespace", WAIT, || {
        let config_maps = config_maps.clone();
        async move { config_maps.get_opt("kube-root-ca.crt").await.ok()? }
    })
    .await;
    let quotas: Api<ResourceQuota> = Api::namespaced(backend.clone(), &namespace);
    quotas
        .patch(
            "objects",
            &apply(),
            &Patch::Apply(json!({
                "apiVersion": "v1",
                "kind": "ResourceQuota",
                "metadata": { "name": "objects" },
                "spec": { "hard": { "configmaps": "3", "pods": "5" } },
            })),
        )
        .await
        .expect("the backend sets quotas");

    // Only the controller computes `status.used`; until it has, the API server enforces nothing.
    let used = eventually("the quota controller to fill in status.used", WAIT, || {
        let quotas = quotas.clone();
        async move { quotas.get("objects").await.ok()?.status?.used }
    })
    .await;
    assert_eq!(used.get("pods").map(|q| q.0.as_str()), Some("0"));
    assert_eq!(used.get("configmaps").map(|q| q.0.as_str()), Some("1"));

    // From now on every create is charged as it is admitted: two more ConfigMaps fit, a third does
    // not.
    let config_map = |name: &str| json!({ "apiVersion": "v1", "kind": "ConfigMap", "metadata": { "name": name } });
    let mut created = 0;
    let refusal = loop {
        let name = format!("settings-{created}");
        match config_maps
            .patch(&name, &apply(), &Patch::Apply(config_map(&name)))
            .await
        {
            Ok(_) => created += 1,
            Err(kube::Error::Api(status)) => break (status.code, status.message),
            Err(other) => panic!("creating {name}: {other}"),
        }
        assert!(created <= 3, "the quota of 3 ConfigMaps was not enforced");
    };
    assert_eq!(refusal.0, 403, "{}", refusal.1);
    assert!(
        refusal.1.contains("exceeded quota: objects"),
        "{}",
        refusal.1
    );
    assert_eq!(created, 2, "{}", refusal.1);
    let used = quotas
        .get("objects")
        .await
        .unwrap()
        .status
        .unwrap()
        .used
        .unwrap();
    assert_eq!(used.get("configmaps").map(|q| q.0.as_str()), Some("3"));
}
