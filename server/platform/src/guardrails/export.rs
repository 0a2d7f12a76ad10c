//! The configuration written back as documents, so that a team can start from what runs today
//! (`causeway platform export`). Loading the export gives the same configuration.

use serde_json::{Map, Value, json};

use super::documents::{API_VERSION, PlatformConfig};
use super::units::{format_cpu, format_duration, format_memory};
use crate::provision::config::{ProvisionConfig, Target};

/// Every document of `config`, in [`super::documents::KINDS`] order, as one YAML text.
pub fn export(config: &PlatformConfig) -> String {
    let mut documents = provision_documents(&config.provision);
    for compiled in &config.policies {
        let policy = &compiled.policy;
        let mut spec = json!({
            "appliesTo": policy.applies_to,
            "severity": policy.severity,
            "field": policy.field,
            "expression": policy.expression,
            "message": policy.message,
            "fix": policy.fix,
        });
        let parameters = &policy.parameters;
        if !(parameters.default.is_empty()
            && parameters.environments.is_empty()
            && parameters.teams.is_empty())
        {
            spec["parameters"] = serde_json::to_value(parameters).unwrap_or_default();
        }
        if let Some(rule) = &policy.kubernetes {
            spec["kubernetes"] = serde_json::to_value(rule).unwrap_or_default();
        }
        documents.push(document(
            "Policy",
            &policy.id,
            Some(&policy.description),
            spec,
        ));
    }
    for waiver in config
        .waivers
        .iter()
        .filter(|w| w.id.starts_with("config:"))
    {
        documents.push(document(
            "Waiver",
            waiver.id.trim_start_matches("config:"),
            None,
            json!({
                "policy": waiver.policy,
                "service": waiver.service,
                "reason": waiver.reason,
                "expires": crate::time::iso(waiver.expires_at_millis),
            }),
        ));
    }
    for scorecard in &config.scorecards {
        documents.push(document(
            "Scorecard",
            &scorecard.name,
            Some(&scorecard.description),
            serde_json::to_value(scorecard.spec()).unwrap_or_default(),
        ));
    }
    documents
        .iter()
        .map(|d| serde_yaml_ng::to_string(d).unwrap_or_default())
        .collect::<Vec<_>>()
        .join("---\n")
}

/// The documents for clusters, environments, approvals and settings.
pub fn provision_documents(provision: &ProvisionConfig) -> Vec<Value> {
    let mut documents = vec![document(
        "Settings",
        "platform",
        None,
        json!({
            "dashboardUrl": provision.dashboard_url,
            "kubectl": provision.kubectl,
            "notifications": {
                "webhooks": provision.notifications.webhooks,
                "remindBefore": format_duration(provision.notifications.remind_before_seconds),
            },
        }),
    )];
    for cluster in &provision.clusters {
        let mut spec = Map::new();
        if let Some(path) = &cluster.kubeconfig {
            spec.insert("kubeconfig".to_owned(), json!(path));
        }
        if let Some(context) = &cluster.context {
            spec.insert("context".to_owned(), json!(context));
        }
        spec.insert("dashboards".to_owned(), json!(cluster.dashboards));
        if let Some(prefix) = &cluster.group_prefix {
            spec.insert("groupPrefix".to_owned(), json!(prefix));
        }
        documents.push(document(
            "Cluster",
            &cluster.name,
            None,
            Value::Object(spec),
        ));
    }
    for environment in &provision.environments {
        let mut spec = Map::new();
        match &environment.target {
            Target::Cluster { name } => {
                spec.insert("cluster".to_owned(), json!(name));
            }
            Target::Gitops {
                repository,
                cluster,
            } => {
                spec.insert(
                    "gitops".to_owned(),
                    json!({"repository": repository, "cluster": cluster}),
                );
            }
        }
        spec.insert(
            "quota".to_owned(),
            json!({
                "cpu": format_cpu(environment.quota.cpu_millis),
                "memory": format_memory(environment.quota.memory_mib),
                "pods": environment.quota.pods,
            }),
        );
        spec.insert(
            "containerDefault".to_owned(),
            json!({
                "cpu": format_cpu(environment.container_default.0),
                "memory": format_memory(environment.container_default.1),
            }),
        );
        spec.insert("podSecurity".to_owned(), json!(environment.pod_security));
        spec.insert("protected".to_owned(), json!(environment.protected));
        spec.insert("viewers".to_owned(), json!(environment.viewers));
        spec.insert("ingressFrom".to_owned(), json!(environment.ingress_from));
        spec.insert("drift".to_owned(), json!(environment.drift));
        if let Some(expiry) = environment.expiry {
            spec.insert(
                "expiry".to_owned(),
                json!({
                    "ttl": format_duration(expiry.ttl_seconds),
                    "max": format_duration(expiry.max_seconds),
                }),
            );
        }
        documents.push(document(
            "Environment",
            &environment.name,
            None,
            Value::Object(spec),
        ));
    }
    for rule in &provision.approvals {
        documents.push(document(
            "Approval",
            &rule.name,
            None,
            json!({"environments": rule.environments, "approvers": rule.approvers}),
        ));
    }
    documents
}

fn document(kind: &str, name: &str, description: Option<&str>, spec: Value) -> Value {
    let mut metadata = json!({ "name": name });
    if let Some(description) = description.filter(|d| !d.is_empty()) {
        metadata["description"] = json!(description);
    }
    json!({
        "apiVersion": API_VERSION,
        "kind": kind,
        "metadata": metadata,
        "spec": spec,
    })
}
