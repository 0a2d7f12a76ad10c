//! What applying a bundle would change, computed by the API server itself: every object is sent
//! as a server-side-apply dry run and the answer is compared with what is live.

use std::collections::BTreeSet;

use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, ListParams, Patch, PatchParams};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::bundle::{
    self, Desired, ENVIRONMENT_LABEL, MANAGED_BY, MANAGER, REQUEST_ANNOTATION, SERVICE_LABEL,
};
use super::ownership;

/// `desired` with the request id `live` carries. An object keeps the id of the request that last
/// changed it, so comparing with it is what tells a real change from a new request for the same
/// state (which must write nothing).
pub fn keeping_request_of(desired: &DynamicObject, live: &DynamicObject) -> DynamicObject {
    let mut object = desired.clone();
    let previous = live
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(REQUEST_ANNOTATION));
    if let (Some(previous), Some(annotations)) = (previous, object.metadata.annotations.as_mut()) {
        annotations.insert(REQUEST_ANNOTATION.to_owned(), previous.clone());
    }
    object
}

/// One field that would change: its path and both values (`null` when absent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChange {
    pub path: String,
    pub live: Value,
    pub desired: Value,
}

/// What would happen to one object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Step {
    Create {
        object: String,
    },
    Update {
        object: String,
        fields: Vec<FieldChange>,
    },
    Unchanged {
        object: String,
    },
    Delete {
        object: String,
    },
    /// Another field manager owns a field the bundle sets; the API server's message names both.
    Conflict {
        object: String,
        message: String,
    },
}

impl Step {
    /// The object the step is about (`Kind/name`).
    pub fn object(&self) -> &str {
        match self {
            Self::Create { object }
            | Self::Update { object, .. }
            | Self::Unchanged { object }
            | Self::Delete { object }
            | Self::Conflict { object, .. } => object,
        }
    }
}

/// Fields that the API server maintains and that say nothing about the desired state.
const VOLATILE: &[&str] = &[
    "metadata.managedFields",
    "metadata.resourceVersion",
    "metadata.generation",
    "metadata.uid",
    "metadata.creationTimestamp",
    "status",
];

/// The differences between `live` and `desired`, as dotted paths.
pub fn diff(live: &Value, desired: &Value) -> Vec<FieldChange> {
    let mut changes = Vec::new();
    walk("", live, desired, &mut changes);
    changes
}

fn walk(path: &str, live: &Value, desired: &Value, out: &mut Vec<FieldChange>) {
    if VOLATILE.contains(&path) {
        return;
    }
    match (live, desired) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for key in keys {
                let child = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                walk(
                    &child,
                    a.get(key).unwrap_or(&Value::Null),
                    b.get(key).unwrap_or(&Value::Null),
                    out,
                );
            }
        }
        (a, b) if a != b => out.push(FieldChange {
            path: path.to_owned(),
            live: a.clone(),
            desired: b.clone(),
        }),
        _ => {}
    }
}

/// The step for one object.
pub async fn plan_one(client: &Client, desired: &Desired) -> Result<Step, kube::Error> {
    let api = desired.api(client);
    let name = desired.object.metadata.name.clone().unwrap_or_default();
    let object = desired.describe();
    let Some(live) = api.get_opt(&name).await? else {
        return Ok(Step::Create { object });
    };
    if let Some(message) = ownership::foreign_object(&live.metadata) {
        return Ok(Step::Conflict { object, message });
    }
    let params = PatchParams::apply(MANAGER).dry_run();
    let same_request = keeping_request_of(&desired.object, &live);
    let after = match api
        .patch(&name, &params, &Patch::Apply(&same_request))
        .await
    {
        Ok(after) => after,
        Err(kube::Error::Api(e)) if e.code == 409 => {
            return Ok(Step::Conflict {
                object,
                message: e.message,
            });
        }
        Err(other) => return Err(other),
    };
    let fields = diff(
        &serde_json::to_value(&live).unwrap_or_default(),
        &serde_json::to_value(&after).unwrap_or_default(),
    );
    Ok(if fields.is_empty() {
        Step::Unchanged { object }
    } else {
        Step::Update { object, fields }
    })
}

/// Objects in the bundle's namespace, of every kind Causeway has ever created, that carry its
/// managed-by, service and environment labels but are no longer rendered, with the resource to
/// delete them through: an apply removes them. Looking through every kind, not only those still
/// rendered, is what finds a pipeline after its component lost its repository, or the other
/// form of a dashboard after the cluster switched forms.
pub async fn leftovers(
    client: &Client,
    bundle: &[Desired],
    namespace: &str,
) -> Result<Vec<(ApiResource, String)>, kube::Error> {
    let Some(first) = bundle.first() else {
        return Ok(Vec::new());
    };
    let labels = first.object.metadata.labels.clone().unwrap_or_default();
    let mut selector = vec![format!("{}={}", MANAGED_BY.0, MANAGED_BY.1)];
    for key in [SERVICE_LABEL, ENVIRONMENT_LABEL] {
        let Some(value) = labels.get(key) else {
            // Without both labels the selector would reach other services' objects.
            return Ok(Vec::new());
        };
        selector.push(format!("{key}={value}"));
    }
    let selector = selector.join(",");
    let kinds: Vec<ApiResource> = bundle::kinds()
        .into_iter()
        .filter(|k| k.kind != "Namespace")
        .collect();
    // One list per kind, all at once: this runs after every apply.
    let lists = futures::future::join_all(kinds.iter().map(|resource| {
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, resource);
        let params = ListParams::default().labels(&selector);
        async move { api.list(&params).await }
    }))
    .await;
    let mut found = Vec::new();
    for (resource, listed) in kinds.into_iter().zip(lists) {
        let listed = match listed {
            Ok(listed) => listed,
            // A custom resource this cluster does not serve has nothing left over.
            Err(kube::Error::Api(e)) if e.code == 404 => continue,
            Err(other) => return Err(other),
        };
        for live in listed {
            let name = live.metadata.name.clone().unwrap_or_default();
            let wanted = bundle.iter().any(|d| {
                d.resource.kind == resource.kind
                    && d.resource.group == resource.group
                    && d.object.metadata.name.as_deref() == Some(name.as_str())
            });
            if !wanted {
                found.push((resource.clone(), name));
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn diffs_name_each_changed_field_and_skip_what_the_server_maintains() {
        let live = json!({
            "metadata": { "name": "q", "resourceVersion": "5", "labels": { "a": "1" } },
            "spec": { "hard": { "pods": "10", "requests.cpu": "2" } },
            "status": { "used": { "pods": "3" } },
        });
        let desired = json!({
            "metadata": { "name": "q", "resourceVersion": "6", "labels": { "a": "1", "b": "2" } },
            "spec": { "hard": { "pods": "12", "requests.cpu": "2" } },
        });
        let changes = diff(&live, &desired);
        let paths: Vec<&str> = changes.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(paths, ["metadata.labels.b", "spec.hard.pods"]);
        assert_eq!(changes[1].live, json!("10"));
        assert_eq!(changes[1].desired, json!("12"));
    }
}
