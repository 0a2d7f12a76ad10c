//! Access to the real Kubernetes control plane the integration tests run against
//! (tests/controlplane): a client per identity, unique namespaces, and waiting for conditions.
//!
//! The kubeconfig comes from `TEST_KUBECONFIG`, which `tests/scripts/with-controlplane.sh` and
//! `make dev-cluster` provide. When it is missing the tests fail instead of passing silently, so a
//! green run always means the provisioning paths met a real API server.

#![allow(dead_code)]

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use serde_json::json;

/// The environment variable naming the control plane's kubeconfig.
pub const KUBECONFIG_VAR: &str = "TEST_KUBECONFIG";

/// The field manager every write made on the backend's behalf uses, as the product will.
pub const MANAGER: &str = "causeway";

/// A label on every namespace the tests create, so a long-lived development plane can be swept.
pub const TEST_LABEL: &str = "causeway.dev/test";

/// The identities the control plane's kubeconfig has a context for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Identity {
    /// `system:masters`; bypasses RBAC. Only for set-up a real deployment would do by hand.
    Admin,
    /// Causeway's backend, holding exactly `charts/causeway/files/rbac.yaml`.
    Causeway,
    /// A developer in group `team-a`, with no permissions until a binding grants some.
    DeveloperA,
    /// A developer in group `team-b`, with no permissions until a binding grants some.
    DeveloperB,
}

impl Identity {
    pub fn context(self) -> &'static str {
        match self {
            Identity::Admin => "admin",
            Identity::Causeway => "causeway",
            Identity::DeveloperA => "developer-a",
            Identity::DeveloperB => "developer-b",
        }
    }

    /// The RBAC group the identity's token carries, for bindings that name a team.
    pub fn team_group(self) -> &'static str {
        match self {
            Identity::DeveloperA => "team-a",
            Identity::DeveloperB => "team-b",
            other => panic!("{other:?} belongs to no team"),
        }
    }
}

/// The control plane's kubeconfig; panics with the way to start one when it is not configured.
pub fn kubeconfig_path() -> PathBuf {
    match std::env::var_os(KUBECONFIG_VAR) {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => panic!(
            "{KUBECONFIG_VAR} is not set, so there is no Kubernetes control plane to test against. \
             Run the tests through `make test` or `tests/scripts/with-controlplane.sh cargo test`, \
             or start a plane with `make dev-cluster` and \
             `export {KUBECONFIG_VAR}=$PWD/var/dev-cluster/kubeconfig`."
        ),
    }
}

/// A client authenticated as `identity`.
pub async fn client(identity: Identity) -> Client {
    let path = kubeconfig_path();
    let kubeconfig = Kubeconfig::read_from(&path)
        .unwrap_or_else(|e| panic!("reading the kubeconfig {}: {e}", path.display()));
    let options = KubeConfigOptions {
        context: Some(identity.context().to_owned()),
        ..KubeConfigOptions::default()
    };
    let config = Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .unwrap_or_else(|e| panic!("context {} in {}: {e}", identity.context(), path.display()));
    Client::try_from(config).expect("building a Kubernetes client")
}

/// A name no other test (or earlier run against the same plane) uses: `prefix-` and eight hex
/// digits. Namespace names are DNS labels, so `prefix` must be short and lowercase.
pub fn unique_name(prefix: &str) -> String {
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let name = format!("{prefix}-{}", &suffix[..8]);
    assert!(name.len() <= 63, "{name} is too long for a namespace");
    name
}

/// The label that marks a namespace as Causeway's; the backend may create no namespace without it
/// (charts/causeway/files/confinement.yaml).
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "causeway");

/// Creates a uniquely named namespace as `client` (normally the backend), with the test label,
/// Causeway's managed-by label and any extra `labels`, and returns its name.
pub async fn create_namespace(client: &Client, prefix: &str, labels: &[(&str, &str)]) -> String {
    let name = unique_name(prefix);
    let mut label_map = serde_json::Map::new();
    label_map.insert(TEST_LABEL.to_owned(), json!("true"));
    label_map.insert(MANAGED_BY.0.to_owned(), json!(MANAGED_BY.1));
    for (key, value) in labels {
        label_map.insert((*key).to_owned(), json!(value));
    }
    let namespace = json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": { "name": name, "labels": label_map },
    });
    Api::<Namespace>::all(client.clone())
        .patch(
            &name,
            &PatchParams::apply(MANAGER),
            &Patch::Apply(namespace),
        )
        .await
        .unwrap_or_else(|e| panic!("creating namespace {name}: {e}"));
    name
}

/// The HTTP status the API server answered a failed request with; panics on success or on an error
/// that never reached the server, since either means the test is not checking what it claims.
pub fn status_code<T: std::fmt::Debug>(result: Result<T, kube::Error>) -> u16 {
    match result {
        Err(kube::Error::Api(status)) => status.code,
        Err(other) => panic!("expected an API error, got a client-side error: {other}"),
        Ok(value) => panic!("expected the API server to refuse, but it accepted: {value:?}"),
    }
}

/// The API server's message for a failed request (see [`status_code`] for what panics).
pub fn status_message<T: std::fmt::Debug>(result: Result<T, kube::Error>) -> (u16, String) {
    match result {
        Err(kube::Error::Api(status)) => (status.code, status.message),
        Err(other) => panic!("expected an API error, got a client-side error: {other}"),
        Ok(value) => panic!("expected the API server to refuse, but it accepted: {value:?}"),
    }
}

/// Polls `check` every 100 ms until it returns `Some`, and returns that value. Controllers and
/// the API server's informer-fed caches (RBAC, admission policies) act shortly after a write, not
/// during it, so tests state the end result and wait for it. Panics after `timeout`, naming `what`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until `condition` holds for the object `name` (see `kube::runtime::wait::conditions`).
pub async fn wait_for_condition<K>(
    api: Api<K>,
    name: &str,
    timeout: Duration,
    condition: impl kube::runtime::wait::Condition<K>,
) -> Option<K>
where
    K: kube::Resource + Clone + std::fmt::Debug + serde::de::DeserializeOwned + Send + 'static,
{
    tokio::time::timeout(
        timeout,
        kube::runtime::wait::await_condition(api, name, condition),
    )
    .await
    .unwrap_or_else(|_| panic!("timed out after {timeout:?} waiting for a condition on {name}"))
    .unwrap_or_else(|e| panic!("watching {name}: {e}"))
}

/// Deletes `namespace` as the cluster admin, without waiting; a test's clean-up, so a namespace
/// already gone is fine.
pub async fn remove_namespace(namespace: &str) {
    let admin = client(Identity::Admin).await;
    let _ = Api::<Namespace>::all(admin)
        .delete(namespace, &kube::api::DeleteParams::default())
        .await;
}
