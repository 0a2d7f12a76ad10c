//! The backend confined by the API server itself: with its own token, each way a compromised
//! backend could widen its reach is refused, by the admission policy of
//! `charts/causeway/files/confinement.yaml` or, for the admission objects that policies cannot
//! guard, by the names its ClusterRole (`rbac.yaml`) lists.
//!
//! The control plane waits for the policy to be enforced before it reports ready
//! (`tests/controlplane/controlplane.sh`), so a refusal here is never a race won by chance.

#[path = "support/kube.rs"]
mod cluster;

use cluster::{Identity, MANAGER, client, create_namespace, remove_namespace, status_message};
use k8s_openapi::api::admissionregistration::v1::{
    ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding,
};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, RoleBinding};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

/// The confinement policy's name, as the API server quotes it in a refusal.
const CONFINEMENT: &str = "causeway-backend-confinement";
/// The backend's own user, as a ServiceAccount subject.
const BACKEND: (&str, &str) = ("causeway-system", "causeway");

fn apply() -> PatchParams {
    PatchParams::apply(MANAGER)
}

fn binding(namespace: &str, role: &str, subject: Value) -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": { "name": "widen", "namespace": namespace },
        "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role },
        "subjects": [subject],
    })
}

fn backend_subject() -> Value {
    json!({ "kind": "ServiceAccount", "name": BACKEND.1, "namespace": BACKEND.0 })
}

/// Asserts that the API server refused with 403 and that the refusal names `by` (the policy, or
/// the RBAC verb that was missing), and returns the message.
fn refused<T: std::fmt::Debug>(result: Result<T, kube::Error>, by: &str) -> String {
    let (code, message) = status_message(result);
    assert_eq!(code, 403, "{message}");
    assert!(message.contains(by), "refused, but not by {by}: {message}");
    message
}

#[tokio::test]
async fn the_backend_cannot_bind_roles_in_kube_system_or_to_itself() {
    let backend = client(Identity::Causeway).await;
    let in_kube_system = Api::<RoleBinding>::namespaced(backend.clone(), "kube-system");
    for role in ["edit", "view", "causeway-deployer"] {
        refused(
            in_kube_system
                .patch(
                    "widen",
                    &apply(),
                    &Patch::Apply(binding("kube-system", role, backend_subject())),
                )
                .await,
            CONFINEMENT,
        );
    }
    // cluster-admin is refused before admission: the backend may not bind it anywhere.
    refused(
        in_kube_system
            .patch(
                "widen",
                &apply(),
                &Patch::Apply(binding("kube-system", "cluster-admin", backend_subject())),
            )
            .await,
        "attempting to grant RBAC permissions not currently held",
    );

    // Even in its own namespaces, the backend binds teams and the namespace's ServiceAccounts,
    // never itself or a system group that includes it.
    let namespace = create_namespace(&backend, "t-confine-rb", &[]).await;
    let own = Api::<RoleBinding>::namespaced(backend.clone(), &namespace);
    let system_group = json!({
        "apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:serviceaccounts",
    });
    let user = json!({
        "apiGroup": "rbac.authorization.k8s.io", "kind": "User",
        "name": "system:serviceaccount:causeway-system:causeway",
    });
    for subject in [backend_subject(), system_group, user] {
        let message = refused(
            own.patch(
                "widen",
                &apply(),
                &Patch::Apply(binding(&namespace, "edit", subject)),
            )
            .await,
            CONFINEMENT,
        );
        assert!(message.contains("binds only the ClusterRoles"), "{message}");
    }
    // What provisioning binds is still allowed.
    let team =
        json!({ "apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "team-a" });
    own.patch(
        "widen",
        &apply(),
        &Patch::Apply(binding(&namespace, "edit", team)),
    )
    .await
    .expect("a team's edit binding in Causeway's namespace");

    // No ClusterRoleBinding at all: RBAC grants none.
    let cluster_binding = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": { "name": "causeway-widen" },
        "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit" },
        "subjects": [backend_subject()],
    });
    refused(
        Api::<ClusterRoleBinding>::all(backend)
            .patch("causeway-widen", &apply(), &Patch::Apply(cluster_binding))
            .await,
        "cannot patch resource",
    );
    remove_namespace(&namespace).await;
}

#[tokio::test]
async fn the_backend_writes_config_maps_only_in_causeways_namespaces() {
    let backend = client(Identity::Causeway).await;
    let config_map = |name: &str| -> ConfigMap {
        serde_json::from_value(json!({ "metadata": { "name": name }, "data": { "k": "v" } }))
            .expect("config map")
    };
    for namespace in ["kube-system", "default"] {
        let message = refused(
            Api::<ConfigMap>::namespaced(backend.clone(), namespace)
                .create(&PostParams::default(), &config_map("widen"))
                .await,
            CONFINEMENT,
        );
        assert!(
            message.contains("app.kubernetes.io/managed-by=causeway"),
            "{message}"
        );
    }
    // An administrator's namespace, not labelled as Causeway's: refused as well.
    let admin = client(Identity::Admin).await;
    let foreign = cluster::unique_name("t-foreign");
    Api::<Namespace>::all(admin)
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({ "metadata": { "name": foreign } })).expect("ns"),
        )
        .await
        .expect("the admin's namespace");
    refused(
        Api::<ConfigMap>::namespaced(backend.clone(), &foreign)
            .create(&PostParams::default(), &config_map("widen"))
            .await,
        CONFINEMENT,
    );
    // In Causeway's own namespace the same write goes through.
    let own = create_namespace(&backend, "t-confine-cm", &[]).await;
    Api::<ConfigMap>::namespaced(backend, &own)
        .create(&PostParams::default(), &config_map("settings"))
        .await
        .expect("a ConfigMap in Causeway's namespace");
    remove_namespace(&foreign).await;
    remove_namespace(&own).await;
}

#[tokio::test]
async fn the_backend_deletes_and_labels_only_what_it_may() {
    let backend = client(Identity::Causeway).await;
    let admin = client(Identity::Admin).await;
    let namespaces = Api::<Namespace>::all(backend.clone());

    let foreign = cluster::unique_name("t-foreign");
    Api::<Namespace>::all(admin.clone())
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({ "metadata": { "name": foreign } })).expect("ns"),
        )
        .await
        .expect("the admin's namespace");
    let message = refused(
        namespaces.delete(&foreign, &DeleteParams::default()).await,
        CONFINEMENT,
    );
    assert!(
        message.contains("deletes only namespaces labelled"),
        "{message}"
    );
    assert!(
        Api::<Namespace>::all(admin)
            .get(&foreign)
            .await
            .expect("still there")
            .metadata
            .deletion_timestamp
            .is_none()
    );

    // A namespace without the label cannot be created, and Kubernetes' own namespaces cannot be
    // made Causeway's (which would open them to everything above).
    let unlabelled = json!({
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": { "name": cluster::unique_name("t-unlabelled") },
    });
    let name = unlabelled["metadata"]["name"].as_str().unwrap_or_default();
    refused(
        namespaces
            .patch(name, &apply(), &Patch::Apply(&unlabelled))
            .await,
        CONFINEMENT,
    );
    for reserved in ["kube-system", "default", BACKEND.0] {
        let labelled = json!({
            "apiVersion": "v1", "kind": "Namespace",
            "metadata": {
                "name": reserved,
                "labels": { "app.kubernetes.io/managed-by": "causeway" },
            },
        });
        refused(
            namespaces
                .patch(reserved, &apply(), &Patch::Apply(&labelled))
                .await,
            CONFINEMENT,
        );
    }
    // Its own namespaces it deletes.
    let own = create_namespace(&backend, "t-confine-ns", &[]).await;
    namespaces
        .delete(&own, &DeleteParams::default())
        .await
        .expect("the backend deletes its own namespace");
    remove_namespace(&foreign).await;
}

#[tokio::test]
async fn the_backend_cannot_change_or_remove_its_confinement() {
    let backend = client(Identity::Causeway).await;
    let policies = Api::<ValidatingAdmissionPolicy>::all(backend.clone());
    let bindings = Api::<ValidatingAdmissionPolicyBinding>::all(backend.clone());

    refused(
        policies.delete(CONFINEMENT, &DeleteParams::default()).await,
        "cannot delete resource",
    );
    refused(
        bindings.delete(CONFINEMENT, &DeleteParams::default()).await,
        "cannot delete resource",
    );
    // Switching the binding to audit only, or emptying the policy, are both writes it lacks.
    let audit_only = json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": { "name": CONFINEMENT },
        "spec": { "policyName": CONFINEMENT, "validationActions": ["Audit"] },
    });
    refused(
        bindings
            .patch(CONFINEMENT, &apply().force(), &Patch::Apply(&audit_only))
            .await,
        "cannot patch resource",
    );
    let mut live = Api::<ValidatingAdmissionPolicy>::all(client(Identity::Admin).await)
        .get(CONFINEMENT)
        .await
        .expect("the confinement is installed");
    if let Some(spec) = live.spec.as_mut() {
        spec.validations = Some(Vec::new());
    }
    refused(
        policies
            .replace(CONFINEMENT, &PostParams::default(), &live)
            .await,
        "cannot update resource",
    );
    // Nor can it add a policy or binding of its own (which could only deny more, but is no
    // business of the backend's).
    let mut other = live.clone();
    other.metadata = kube::api::ObjectMeta {
        name: Some("causeway-other".to_owned()),
        ..Default::default()
    };
    refused(
        policies.create(&PostParams::default(), &other).await,
        "cannot create resource",
    );
}
