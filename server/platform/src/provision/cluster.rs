//! Connections to the clusters environments live in: one cached client per cluster, built from
//! its kubeconfig or from the pod's service account, with timeouts that make an unresponsive API
//! server fail the operation instead of hanging it.

use std::collections::BTreeMap;
use std::sync::Arc;

use kube::Client;
use kube::api::{DeleteParams, Preconditions};
use kube::config::{KubeConfigOptions, Kubeconfig};

use super::Provisioner;
use super::config::{Cluster, Environment, Target};
use crate::{Error, Result};

/// How long one call to the API server may take before the operation fails.
const API_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// How long a destroy waits for the namespace to be gone.
const DESTROY_WAIT: std::time::Duration = std::time::Duration::from_secs(120);

/// Clients by cluster: its name, kubeconfig and context, so that a reloaded platform
/// configuration that points a cluster elsewhere gets a new client rather than the old one.
#[derive(Clone, Default)]
pub(super) struct Clients(Arc<std::sync::Mutex<BTreeMap<String, Client>>>);

impl std::fmt::Debug for Clients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Clients")
    }
}

impl Clients {
    pub(super) fn get(&self, cluster: &str) -> Option<Client> {
        let clients = self.0.lock().unwrap_or_else(|e| e.into_inner());
        clients.get(cluster).cloned()
    }

    pub(super) fn keep(&self, cluster: &str, client: &Client) {
        let mut clients = self.0.lock().unwrap_or_else(|e| e.into_inner());
        clients.insert(cluster.to_owned(), client.clone());
    }
}

impl Provisioner {
    /// The cached client for the environment's cluster (made on first use).
    pub(super) async fn client_for(&self, environment: &Environment) -> Result<Client> {
        match &environment.target {
            Target::Cluster { name } => {
                let config = self.config();
                let cluster = config.cluster(name).ok_or_else(|| {
                    Error::invalid(
                        "environment",
                        format!(
                            "{} targets cluster {name:?}, which is not configured",
                            environment.name
                        ),
                    )
                })?;
                let key = format!(
                    "{name}\u{0}{}\u{0}{}",
                    cluster
                        .kubeconfig
                        .as_ref()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default(),
                    cluster.context.as_deref().unwrap_or_default()
                );
                if let Some(client) = self.clients.get(&key) {
                    return Ok(client);
                }
                let client = cluster_client(cluster).await?;
                self.clients.keep(&key, &client);
                Ok(client)
            }
            Target::Gitops { repository, .. } => Err(Error::invalid(
                "environment",
                format!(
                    "{} is delivered through the git repository {}, not applied to a cluster",
                    environment.name,
                    repository.display()
                ),
            )),
        }
    }
}

/// Deletes `namespace` (only the one whose uid is `uid`, when given: a namespace deleted and made
/// again by someone else since it was checked is refused) and waits until the API server has
/// finished removing it.
pub(super) async fn delete_namespace(
    client: Client,
    namespace: &str,
    uid: Option<&str>,
) -> Result<()> {
    let api = kube::Api::<k8s_openapi::api::core::v1::Namespace>::all(client);
    let params = DeleteParams {
        preconditions: uid.map(|uid| Preconditions {
            uid: Some(uid.to_owned()),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    match api.delete(namespace, &params).await {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 404 => return Ok(()),
        Err(kube::Error::Api(e)) if e.code == 409 => {
            return Err(Error::Conflict(format!(
                "namespace {namespace} was replaced since it was checked; not deleted: {}",
                e.message
            )));
        }
        Err(other) => return Err(cluster_error(other)),
    }
    let started = std::time::Instant::now();
    while api
        .get_opt(namespace)
        .await
        .map_err(cluster_error)?
        .is_some()
    {
        if started.elapsed() > DESTROY_WAIT {
            return Err(Error::Cluster(format!(
                "{namespace} is still terminating after {} s",
                DESTROY_WAIT.as_secs()
            )));
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    Ok(())
}

/// The connection settings for `cluster`, from its kubeconfig and context or from the pod's
/// service account.
pub(super) async fn cluster_config(cluster: &Cluster) -> Result<kube::Config> {
    let unavailable = |what: String| Error::Cluster(format!("{}: {what}", cluster.name));
    match &cluster.kubeconfig {
        Some(path) => {
            let file = Kubeconfig::read_from(path)
                .map_err(|e| unavailable(format!("cannot read {}: {e}", path.display())))?;
            let options = KubeConfigOptions {
                context: cluster.context.clone(),
                ..KubeConfigOptions::default()
            };
            kube::Config::from_custom_kubeconfig(file, &options)
                .await
                .map_err(|e| unavailable(e.to_string()))
        }
        None => kube::Config::incluster().map_err(|e| unavailable(e.to_string())),
    }
}

/// A client for provisioning calls to `cluster`.
pub async fn cluster_client(cluster: &Cluster) -> Result<Client> {
    let mut config = cluster_config(cluster).await?;
    // Provisioning calls are short; an API server that stops answering must fail the operation
    // (which is then reported and can be retried) rather than hang it.
    config.connect_timeout = Some(API_TIMEOUT);
    config.read_timeout = Some(API_TIMEOUT);
    config.write_timeout = Some(API_TIMEOUT);
    config.reset_reader_on_write = true;
    Client::try_from(config).map_err(|e| Error::Cluster(format!("{}: {e}", cluster.name)))
}

/// A client for the reconciler's watches on `cluster`. A watch is quiet for minutes at a time,
/// so it has no read timeout (the API server ends each watch itself after a few minutes).
pub async fn watch_client(cluster: &Cluster) -> Result<Client> {
    let mut config = cluster_config(cluster).await?;
    config.connect_timeout = Some(API_TIMEOUT);
    config.read_timeout = None;
    Client::try_from(config).map_err(|e| Error::Cluster(format!("{}: {e}", cluster.name)))
}

pub(super) fn cluster_error(error: kube::Error) -> Error {
    Error::Cluster(match error {
        kube::Error::Api(e) => e.message,
        other => other.to_string(),
    })
}
