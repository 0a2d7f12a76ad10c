//! What Causeway may touch in a cluster. A record in its own database proves nothing about the
//! cluster: a namespace of the same name may have been made by someone else before Causeway ever
//! saw the service, or replaced since. So before every write or delete the live namespace is
//! read, and it must either not exist or carry Causeway's managed-by label, this service's label
//! and this service's reference. Anything else is somebody else's, and only a platform admin's
//! explicit adoption (audited) brings it under Causeway.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Client;
use serde_json::json;

use super::bundle::{MANAGED_BY, SERVICE_LABEL, SERVICE_REF_ANNOTATION};
use super::{Provisioner, Request, cluster_error, gitops};
use crate::audit::{Entry, Outcome};
use crate::{Error, Result};

/// Why an existing object is not Causeway's, or `None` when it carries the managed-by label.
/// Objects inside a namespace that passed [`Provisioner::live_namespace`] need no more than
/// this: the namespace already proved whose they are.
pub fn foreign_object(meta: &ObjectMeta) -> Option<String> {
    let label = meta.labels.as_ref().and_then(|l| l.get(MANAGED_BY.0));
    (label.map(String::as_str) != Some(MANAGED_BY.1)).then(|| {
        format!(
            "it exists and was not created by Causeway (no {}={} label); Causeway changes only what it created",
            MANAGED_BY.0, MANAGED_BY.1
        )
    })
}

/// Why the existing namespace is not `service`'s environment, or `None` when it is. `recorded`
/// says Causeway's records hold this namespace for this service: only then is a namespace made
/// before the reference annotation existed accepted on its labels alone.
pub fn foreign_namespace(
    meta: &ObjectMeta,
    service: &str,
    service_ref: &str,
    recorded: bool,
) -> Option<String> {
    if let Some(reason) = foreign_object(meta) {
        return Some(reason);
    }
    let label = meta.labels.as_ref().and_then(|l| l.get(SERVICE_LABEL));
    if label.map(String::as_str) != Some(service) {
        return Some(format!(
            "its {SERVICE_LABEL} label is {}, not {service}",
            label.map_or_else(|| "missing".to_owned(), |l| format!("{l:?}"))
        ));
    }
    let annotation = meta
        .annotations
        .as_ref()
        .and_then(|a| a.get(SERVICE_REF_ANNOTATION));
    match annotation {
        Some(owner) if owner != service_ref => Some(format!("it belongs to {owner}")),
        None if !recorded => Some(format!(
            "it has no {SERVICE_REF_ANNOTATION} annotation and Causeway has no record of it"
        )),
        _ => None,
    }
}

/// An environment's namespace as the cluster has it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveNamespace {
    Absent,
    /// Causeway's, for this service; its uid makes a delete refuse a namespace replaced since.
    Ours {
        uid: String,
    },
    /// Somebody else's: why, and its labels (what an adoption records).
    Foreign {
        reason: String,
        labels: BTreeMap<String, String>,
    },
}

impl LiveNamespace {
    /// Refuses a foreign namespace with a conflict that says why and what would resolve it.
    pub fn require_ours(&self, namespace: &str, service_ref: &str) -> Result<Option<String>> {
        match self {
            Self::Absent => Ok(None),
            Self::Ours { uid } => Ok(Some(uid.clone())),
            Self::Foreign { reason, .. } => Err(Error::Conflict(format!(
                "namespace {namespace} exists and is not Causeway's environment of {service_ref}: \
                 {reason}. Causeway neither changes nor deletes it; a platform admin may adopt it \
                 (apply with adopt: true)"
            ))),
        }
    }
}

impl Provisioner {
    /// Reads `namespace` from the cluster and judges whose it is.
    pub async fn live_namespace(
        &self,
        client: &Client,
        namespace: &str,
        service: &str,
        service_ref: &str,
    ) -> Result<LiveNamespace> {
        let api = kube::Api::<Namespace>::all(client.clone());
        let Some(live) = api.get_opt(namespace).await.map_err(cluster_error)? else {
            return Ok(LiveNamespace::Absent);
        };
        let recorded = self
            .records
            .get(namespace)
            .await?
            .is_some_and(|r| r.service == service_ref);
        Ok(
            match foreign_namespace(&live.metadata, service, service_ref, recorded) {
                Some(reason) => LiveNamespace::Foreign {
                    reason,
                    labels: live.metadata.labels.clone().unwrap_or_default(),
                },
                None => LiveNamespace::Ours {
                    uid: live.metadata.uid.clone().unwrap_or_default(),
                },
            },
        )
    }

    /// What a GitOps directory must hold to be `service`'s: its marks, and whether Causeway's
    /// records hold `namespace` for it.
    pub(crate) async fn gitops_owner(
        &self,
        namespace: &str,
        service: &str,
        service_ref: &str,
    ) -> Result<gitops::Owner> {
        let recorded = self
            .records
            .get(namespace)
            .await?
            .is_some_and(|r| r.service == service_ref);
        Ok(gitops::Owner {
            service: service.to_owned(),
            service_ref: service_ref.to_owned(),
            recorded,
        })
    }

    /// Records that `request` adopted a namespace Causeway did not create: who, which
    /// namespace, and what it carried before.
    pub(crate) async fn audit_adoption(
        &self,
        request: &Request,
        namespace: &str,
        live: &LiveNamespace,
    ) -> Result<()> {
        let LiveNamespace::Foreign { reason, labels } = live else {
            return Ok(());
        };
        self.audit
            .record(Entry {
                actor: &request.requester.entity_ref,
                action: "provision.adopt",
                target: namespace,
                outcome: Outcome::Success,
                detail: json!({
                    "service": request.service,
                    "environment": request.environment,
                    "was": reason,
                    "labels": labels,
                }),
                request_id: Some(&request.request_id),
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(labels: &[(&str, &str)], annotations: &[(&str, &str)]) -> ObjectMeta {
        let map = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        ObjectMeta {
            labels: Some(map(labels)),
            annotations: Some(map(annotations)),
            ..ObjectMeta::default()
        }
    }

    const REF: &str = "component:default/billing";

    #[test]
    fn a_namespace_is_ours_only_with_every_mark_of_this_service() {
        let ours = meta(
            &[(MANAGED_BY.0, MANAGED_BY.1), (SERVICE_LABEL, "billing")],
            &[(SERVICE_REF_ANNOTATION, REF)],
        );
        assert_eq!(foreign_namespace(&ours, "billing", REF, false), None);

        let unlabelled = meta(&[("team", "finance")], &[]);
        let reason = foreign_namespace(&unlabelled, "billing", REF, true).expect("foreign");
        assert!(reason.contains("not created by Causeway"), "{reason}");

        let other_service = meta(
            &[(MANAGED_BY.0, MANAGED_BY.1), (SERVICE_LABEL, "payments")],
            &[],
        );
        assert!(foreign_namespace(&other_service, "billing", REF, true).is_some());

        // Same name in another catalog namespace: the labels match, the reference does not.
        let twin = meta(
            &[(MANAGED_BY.0, MANAGED_BY.1), (SERVICE_LABEL, "billing")],
            &[(SERVICE_REF_ANNOTATION, "component:finance/billing")],
        );
        let reason = foreign_namespace(&twin, "billing", REF, true).expect("foreign");
        assert!(reason.contains("component:finance/billing"), "{reason}");

        // Made before the annotation existed: accepted only when the records agree.
        let older = meta(
            &[(MANAGED_BY.0, MANAGED_BY.1), (SERVICE_LABEL, "billing")],
            &[],
        );
        assert_eq!(foreign_namespace(&older, "billing", REF, true), None);
        assert!(foreign_namespace(&older, "billing", REF, false).is_some());
    }
}
