//! The platform team's policies enforced by kube-apiserver: policies with a Kubernetes rule are
//! compiled into the admission policy `causeway-policies` and its parameter ConfigMaps
//! (`render.rs`), kept reconciled on each cluster ([`reconcile`]), and evaluated in Causeway over a
//! rendered bundle with the same parameters and messages ([`check_bundle`], `check.rs`), so that
//! a developer who changes an object with `kubectl` is refused with the message the portal shows.
//!
//! Causeway writes only the one admission policy and binding the chart installs
//! (`charts/causeway/files/policies.yaml`): admission policies do not apply to admission objects,
//! so the backend's ClusterRole names them, and it can neither create others nor touch the policy
//! that confines the backend itself (`confinement.yaml`).

mod check;
pub mod quantity;
mod render;
#[cfg(test)]
mod tests;

use k8s_openapi::api::admissionregistration::v1::{
    ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding,
};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, Preconditions};
use kube::{Client, Resource};
use serde::Serialize;

pub use check::{Violation, check_bundle};
pub use render::{Rendered, enforced, render, team_label};

use super::bundle::{MANAGED_BY, MANAGER};
use super::cluster::cluster_error;
use super::config::ProvisionConfig;
use crate::guardrails::policy::Policy;
use crate::{Error, Result};

/// The name of the admission policy and of its binding (`policies.yaml`).
pub const POLICY: &str = "causeway-policies";
/// The namespace of the parameter ConfigMaps: Causeway's, so the backend may write there, and
/// bound to no team, so no developer can loosen a policy by editing its parameters.
pub const PARAMETERS_NAMESPACE: &str = "causeway-policies";
/// On each parameter ConfigMap: the policy it is for.
pub const POLICY_LABEL: &str = "causeway.dev/policy";
/// On a policy's ConfigMap for an environment: the teams that have ConfigMaps of their own.
pub const TEAMS_WITH_OWN_ANNOTATION: &str = "causeway.dev/teams-with-own-parameters";

/// What one reconcile changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Reconciled {
    /// The number of policies the API server now enforces.
    pub enforced: usize,
    pub policy_updated: bool,
    pub binding_updated: bool,
    /// The parameter ConfigMaps written (created or changed) and removed.
    pub parameters_written: Vec<String>,
    pub parameters_removed: Vec<String>,
}

fn is_causeways(labels: Option<&std::collections::BTreeMap<String, String>>) -> bool {
    labels.and_then(|l| l.get(MANAGED_BY.0)).map(String::as_str) == Some(MANAGED_BY.1)
}

/// Makes the cluster enforce exactly `policies`' Kubernetes rules for `config`'s environments:
/// the parameters first, then the policy and binding, then the parameters no policy uses any
/// more, so that no moment holds a namespace to a validation without its values. Only objects
/// carrying Causeway's managed-by label, checked live, are changed or removed. Called at start-up
/// and whenever the platform configuration changes; repeating it changes nothing.
pub async fn reconcile(
    client: &Client,
    policies: &[Policy],
    config: &ProvisionConfig,
) -> Result<Reconciled> {
    let rendered = render(policies, config)?;
    let mut done = Reconciled {
        enforced: enforced(policies).count(),
        ..Reconciled::default()
    };
    ensure_namespace(client, &rendered.namespace).await?;
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), PARAMETERS_NAMESPACE);
    for parameters in &rendered.parameters {
        let name = parameters.metadata.name.clone().unwrap_or_default();
        let live = config_maps.get_opt(&name).await.map_err(cluster_error)?;
        if let Some(live) = &live
            && !is_causeways(live.metadata.labels.as_ref())
        {
            return Err(Error::Conflict(format!(
                "ConfigMap {PARAMETERS_NAMESPACE}/{name} is not Causeway's; not changed"
            )));
        }
        let after = config_maps
            .patch(
                &name,
                &PatchParams::apply(MANAGER),
                &Patch::Apply(parameters),
            )
            .await
            .map_err(cluster_error)?;
        if live.and_then(|l| l.metadata.resource_version) != after.metadata.resource_version {
            done.parameters_written.push(name);
        }
    }
    done.policy_updated = update_fixed::<ValidatingAdmissionPolicy>(client, |live| {
        live.spec = rendered.policy.spec.clone();
    })
    .await?;
    done.binding_updated = update_fixed::<ValidatingAdmissionPolicyBinding>(client, |live| {
        live.spec = rendered.binding.spec.clone();
    })
    .await?;
    let wanted: std::collections::BTreeSet<&str> = rendered
        .parameters
        .iter()
        .filter_map(|p| p.metadata.name.as_deref())
        .collect();
    let selector = format!("{}={},{POLICY_LABEL}", MANAGED_BY.0, MANAGED_BY.1);
    let listed = config_maps
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(cluster_error)?;
    for stale in listed.items {
        let name = stale.metadata.name.clone().unwrap_or_default();
        if wanted.contains(name.as_str()) || !is_causeways(stale.metadata.labels.as_ref()) {
            continue;
        }
        // Only the object that was checked: one replaced since is left for the next reconcile.
        let params = DeleteParams {
            preconditions: Some(Preconditions {
                uid: stale.metadata.uid.clone(),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        match config_maps.delete(&name, &params).await {
            Ok(_) => done.parameters_removed.push(name),
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(other) => return Err(cluster_error(other)),
        }
    }
    Ok(done)
}

/// Creates the parameters' namespace, labelled as Causeway's, unless it is there; one that is
/// there without the label is someone else's and is refused.
async fn ensure_namespace(client: &Client, namespace: &Namespace) -> Result<()> {
    let api: Api<Namespace> = Api::all(client.clone());
    match api
        .get_opt(PARAMETERS_NAMESPACE)
        .await
        .map_err(cluster_error)?
    {
        Some(live) if is_causeways(live.metadata.labels.as_ref()) => Ok(()),
        Some(_) => Err(Error::Conflict(format!(
            "namespace {PARAMETERS_NAMESPACE} is not Causeway's; its policies' parameters cannot \
             be written there"
        ))),
        None => api
            .patch(
                PARAMETERS_NAMESPACE,
                &PatchParams::apply(MANAGER),
                &Patch::Apply(namespace),
            )
            .await
            .map(|_| ())
            .map_err(cluster_error),
    }
}

/// Rewrites the chart's object named [`POLICY`] of kind `K` with `change`, if that changes it.
/// The object is read live and must carry Causeway's label; a dry run tells whether the change,
/// once the API server has defaulted it, differs from what is stored. Written with `update`
/// (the only verb the backend holds on it), retried when someone else wrote in between.
async fn update_fixed<K>(client: &Client, change: impl Fn(&mut K)) -> Result<bool>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::ClusterResourceScope>
        + Clone
        + std::fmt::Debug
        + Serialize
        + serde::de::DeserializeOwned,
{
    let api: Api<K> = Api::all(client.clone());
    for _ in 0..3 {
        let Some(live) = api.get_opt(POLICY).await.map_err(cluster_error)? else {
            return Err(Error::NotFound(format!(
                "the {} {POLICY} (install charts/causeway/files/policies.yaml; the Helm chart does)",
                K::kind(&())
            )));
        };
        if !is_causeways(live.meta().labels.as_ref()) {
            return Err(Error::Conflict(format!(
                "the {} {POLICY} does not carry Causeway's label; not changed",
                K::kind(&())
            )));
        }
        let mut wanted = live.clone();
        change(&mut wanted);
        let dry_run = PostParams {
            dry_run: true,
            ..PostParams::default()
        };
        let spec = |object: &K| {
            let mut value = serde_json::to_value(object).unwrap_or_default();
            value.get_mut("spec").map(serde_json::Value::take)
        };
        let result = match api.replace(POLICY, &dry_run, &wanted).await {
            Ok(after) if spec(&after) == spec(&live) => return Ok(false),
            Ok(_) => api.replace(POLICY, &PostParams::default(), &wanted).await,
            Err(error) => Err(error),
        };
        match result {
            Ok(_) => return Ok(true),
            Err(kube::Error::Api(e)) if e.code == 409 => continue,
            Err(other) => return Err(cluster_error(other)),
        }
    }
    Err(Error::Conflict(format!(
        "the {} {POLICY} kept changing while it was being updated",
        K::kind(&())
    )))
}
