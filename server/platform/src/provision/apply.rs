//! Server-side apply of a rendered bundle: the namespace first, then everything else at once.

use futures::future::join_all;
use kube::Client;
use kube::api::{Patch, PatchParams};
use serde::Serialize;

use super::bundle::{Desired, MANAGER};
use super::ownership;
use super::plan::{diff, keeping_request_of};

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

/// Applies one object with field manager `causeway`, never forcing: a field another manager owns
/// is reported as a conflict naming both, not taken over, and an existing object Causeway did
/// not create is refused as a conflict.
pub async fn apply_one(client: &Client, desired: &Desired) -> Result<Applied, Failure> {
    apply_checked(client, desired, false).await
}

/// [`apply_one`] for a namespace a platform admin adopts: an existing object without Causeway's
/// labels is taken (still without forcing any field another manager owns).
pub async fn adopt_one(client: &Client, desired: &Desired) -> Result<Applied, Failure> {
    apply_checked(client, desired, true).await
}

async fn apply_checked(
    client: &Client,
    desired: &Desired,
    adopting: bool,
) -> Result<Applied, Failure> {
    let api = desired.api(client);
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
    let live = api.get_opt(&name).await.map_err(failure)?;
    if let Some(message) = live
        .as_ref()
        .filter(|_| !adopting)
        .and_then(|l| ownership::foreign_object(&l.metadata))
    {
        return Err(Failure {
            object: desired.describe(),
            message,
            conflict: true,
        });
    }
    if let Some(live) = &live {
        // A dry run with the live request id: if that changes nothing, the object is already as
        // desired and is not written (a new request id alone is no reason to write).
        let same_request = keeping_request_of(&desired.object, live);
        let dry = api
            .patch(
                &name,
                &PatchParams::apply(MANAGER).dry_run(),
                &Patch::Apply(&same_request),
            )
            .await
            .map_err(failure)?;
        let unchanged = diff(
            &serde_json::to_value(live).unwrap_or_default(),
            &serde_json::to_value(&dry).unwrap_or_default(),
        )
        .is_empty();
        if unchanged {
            return Ok(Applied {
                object: desired.describe(),
                change: Change::Unchanged,
                resource_version: live.metadata.resource_version.clone().unwrap_or_default(),
            });
        }
    }
    let after = api
        .patch(
            &name,
            &PatchParams::apply(MANAGER),
            &Patch::Apply(&desired.object),
        )
        .await
        .map_err(failure)?;
    let version = after.metadata.resource_version.unwrap_or_default();
    let change = match live.and_then(|l| l.metadata.resource_version) {
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

/// Applies a bundle: its first object (the namespace, adopted when `adopt_namespace`) before the
/// others, which go concurrently. Every object is attempted; the failures are returned with the
/// successes.
pub async fn apply_all(
    client: &Client,
    bundle: &[Desired],
    adopt_namespace: bool,
) -> (Vec<Applied>, Vec<Failure>) {
    let Some((namespace, rest)) = bundle.split_first() else {
        return (Vec::new(), Vec::new());
    };
    let mut applied = Vec::new();
    let mut failed = Vec::new();
    match apply_checked(client, namespace, adopt_namespace).await {
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
