//! Server-side apply of a rendered bundle: the namespace first, then everything else at once.

use futures::future::join_all;
use kube::Client;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde::Serialize;

use super::bundle::{Desired, MANAGER};

/// What applying one object did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    Created,
    Updated,
    Unchanged,
}

/// The result for one object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Applied {
    /// `Kind/name`.
    pub object: String,
    pub change: Change,
    pub resource_version: String,
}

/// Why an object could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    pub object: String,
    /// For a conflict, the fields and the managers that own them, as the API server names them.
    pub message: String,
    pub conflict: bool,
}

fn api(client: &Client, desired: &Desired) -> Api<DynamicObject> {
    match desired.object.metadata.namespace.as_deref() {
        Some(namespace) => Api::namespaced_with(client.clone(), namespace, &desired.resource),
        None => Api::all_with(client.clone(), &desired.resource),
    }
}

/// Applies one object with field manager `causeway`, never forcing: a field another manager owns
/// is reported as a conflict naming both, not taken over.
pub async fn apply_one(client: &Client, desired: &Desired) -> Result<Applied, Failure> {
    let api = api(client, desired);
    let name = desired.object.metadata.name.clone().unwrap_or_default();
    let failure = |error: kube::Error| {
        let conflict = matches!(&error, kube::Error::Api(e) if e.code == 409);
        Failure {
            object: desired.describe(),
            message: match &error {
                kube::Error::Api(e) => e.message.clone(),
                other => other.to_string(),
            },
            conflict,
        }
    };
    let before = api
        .get_opt(&name)
        .await
        .map_err(failure)?
        .and_then(|o| o.metadata.resource_version);
    let after = api
        .patch(
            &name,
            &PatchParams::apply(MANAGER),
            &Patch::Apply(&desired.object),
        )
        .await
        .map_err(failure)?;
    let version = after.metadata.resource_version.unwrap_or_default();
    let change = match before {
        None => Change::Created,
        Some(before) if before == version => Change::Unchanged,
        Some(_) => Change::Updated,
    };
    Ok(Applied {
        object: desired.describe(),
        change,
        resource_version: version,
    })
}

/// Applies a bundle: its first object (the namespace) before the others, which go concurrently.
/// Every object is attempted; the failures are returned with the successes.
pub async fn apply_all(client: &Client, bundle: &[Desired]) -> (Vec<Applied>, Vec<Failure>) {
    let Some((namespace, rest)) = bundle.split_first() else {
        return (Vec::new(), Vec::new());
    };
    let mut applied = Vec::new();
    let mut failed = Vec::new();
    match apply_one(client, namespace).await {
        Ok(done) => applied.push(done),
        Err(failure) => return (applied, vec![failure]),
    }
    for result in join_all(rest.iter().map(|d| apply_one(client, d))).await {
        match result {
            Ok(done) => applied.push(done),
            Err(failure) => failed.push(failure),
        }
    }
    (applied, failed)
}
