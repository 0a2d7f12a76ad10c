//! The platform team's policies enforced by the real API server with the message Causeway gives:
//! the starter policies (the README's "Policies in the cluster") are reconciled into the
//! `causeway-policies` admission policy as the backend, then a developer who writes a workload with
//! their own credentials, an operator who raises a quota and the backend's own apply are each
//! refused with exactly the message `check_bundle` gives for the same object.
//!
//! The admission policy is one object per cluster, so everything that changes it runs in this one
//! test, over an environment of its own name: no other test's namespaces are held to it, and it
//! ends by reconciling an empty set of policies.

#[path = "support/kube.rs"]
mod cluster;
#[path = "support/testbed.rs"]
mod testbed;

use std::future::Future;
use std::time::Duration;

use causeway_platform::guardrails::policy::{
    KubernetesRule, Parameters, Policy, Severity, Subject,
};
use causeway_platform::provision::Request;
use causeway_platform::provision::admission::{self, POLICY, check_bundle};
use causeway_platform::provision::bundle::Desired;
use causeway_platform::provision::config::ProvisionConfig;
use cluster::{Identity, client, eventually, remove_namespace, unique_name};
use k8s_openapi::api::admissionregistration::v1::ValidatingAdmissionPolicy;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ResourceQuota;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams, PostParams};
use serde::Deserialize;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(60);

/// The starter policies the README documents.
const STARTER: &str = include_str!("admission-policies.yaml");

#[derive(Deserialize)]
struct Document {
    metadata: Metadata,
    spec: Spec,
}

#[derive(Deserialize)]
struct Metadata {
    name: String,
    description: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Spec {
    applies_to: Vec<Subject>,
    severity: Severity,
    field: String,
    expression: String,
    message: String,
    fix: String,
    #[serde(default)]
    parameters: Parameters,
    kubernetes: Option<KubernetesRule>,
}

/// The starter documents as policies (the configuration loader reads the same shape).
fn starter() -> Vec<Policy> {
    serde_yaml_ng::Deserializer::from_str(STARTER)
        .map(|document| {
            let document = Document::deserialize(document).expect("a policy document");
            Policy {
                id: document.metadata.name,
                description: document.metadata.description,
                applies_to: document.spec.applies_to,
                severity: document.spec.severity,
                field: document.spec.field,
                expression: document.spec.expression,
                message: document.spec.message,
                fix: document.spec.fix,
                parameters: document.spec.parameters,
                kubernetes: document.spec.kubernetes,
            }
        })
        .collect()
}

fn deployment(namespace: &str, name: &str, labels: Value) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": { "name": name, "namespace": namespace, "labels": labels },
        "spec": {
            "selector": { "matchLabels": { "app": "web" } },
            "template": {
                "metadata": { "labels": { "app": "web" } },
                "spec": { "containers": [{ "name": "web", "image": "registry.example/web:1" }] },
            },
        },
    })
}

fn desired<K: kube::Resource<DynamicType = ()>>(object: &Value) -> Desired {
    Desired {
        resource: ApiResource::erase::<K>(&()),
        object: serde_json::from_value::<DynamicObject>(object.clone()).expect("object"),
    }
}

/// Repeats `attempt` until the API server refuses it with exactly `causeway` as the policy's
/// message, and panics with both messages if it never does. RBAC bindings, the admission policy
/// and its parameters reach the API server's caches shortly after they are written, so the first
/// answers may still be an RBAC refusal, an acceptance, or the policy as it was before.
async fn refused_with<T, F, Fut>(what: &str, causeway: &str, mut attempt: F)
where
    T: std::fmt::Debug,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, kube::Error>>,
{
    let expected = format!(
        "ValidatingAdmissionPolicy '{POLICY}' with binding '{POLICY}' denied request: {causeway}"
    );
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let message = match attempt().await {
            Err(kube::Error::Api(status)) => status.message,
            other => format!("{other:?}"),
        };
        if message.ends_with(&expected) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: the API server said {message:?}; Causeway says {causeway:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_api_server_refuses_with_the_message_causeway_gives() {
    let service = unique_name("adm");
    let environment = unique_name("env");
    let team = "group:default/team-a";
    // An environment of this test's own, with the embedded development defaults; the policies are
    // reconciled for it alone, so no other test's namespaces are held to them.
    let adjust = |config: &mut ProvisionConfig| {
        let mut own = config.environment("dev").expect("dev").clone();
        own.name = environment.clone();
        config.environments.push(own);
        config.approvals.clear();
    };
    let (engine, _) =
        testbed::engine_and_platform(&testbed::team_a_service(&service), adjust).await;
    let mut config = (*engine.config()).clone();
    config.environments.retain(|e| e.name == environment);
    let backend = client(Identity::Causeway).await;
    let mut policies = starter();

    let done = admission::reconcile(&backend, &policies, &config)
        .await
        .expect("the backend reconciles the policies");
    assert_eq!(done.enforced, 2);
    assert_eq!(done.parameters_written.len(), 2, "{done:?}");
    let again = admission::reconcile(&backend, &policies, &config)
        .await
        .expect("reconciles again");
    assert!(
        !again.policy_updated && !again.binding_updated && again.parameters_written.is_empty(),
        "a second reconcile changes nothing: {again:?}"
    );
    // kube-apiserver type-checks the expressions against the resources' schemas.
    let policies_api = Api::<ValidatingAdmissionPolicy>::all(client(Identity::Admin).await);
    let warnings = eventually("the policy's type check", WAIT, || {
        let api = policies_api.clone();
        async move {
            let live = api.get(POLICY).await.ok()?;
            let status = live.status?;
            (status.observed_generation? == live.metadata.generation?)
                .then(|| status.type_checking.and_then(|t| t.expression_warnings))
        }
    })
    .await;
    assert!(
        warnings.unwrap_or_default().is_empty(),
        "type-check warnings"
    );

    // Causeway's environment is within the starter ceilings and carries its labels.
    let request = Request {
        service: service.clone(),
        environment: environment.clone(),
        request_id: format!("req-{}", uuid::Uuid::new_v4()),
        ..Request::default()
    };
    let prepared = engine.prepare(&request).expect("prepared");
    assert_eq!(
        check_bundle(&policies, &prepared.bundle, &environment, team),
        Vec::new()
    );
    let report = engine.apply(&request).await.expect("applied");
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    let namespace = report.namespace.clone();

    // A developer of the team writes a Deployment without the ownership labels, with their own
    // credentials: the `edit` role Causeway bound lets them reach admission, and the policy refuses.
    let developer = client(Identity::DeveloperA).await;
    let deployments = Api::<Deployment>::namespaced(developer.clone(), &namespace);
    let unlabelled = deployment(&namespace, "web-unlabelled", json!({ "app": "web" }));
    let dry_run = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    let causeway = check_bundle(
        &policies,
        &[
            prepared.bundle[0].clone(),
            desired::<Deployment>(&unlabelled),
        ],
        &environment,
        team,
    );
    assert_eq!(causeway.len(), 1, "{causeway:?}");
    assert_eq!(causeway[0].policy, "workloads-carry-ownership-labels");
    let labels_message = causeway[0].message.clone();
    assert_eq!(
        labels_message,
        format!(
            "Deployment web-unlabelled must carry the labels causeway.dev/team=team-a and \
             causeway.dev/service={service}, as its namespace does"
        )
    );
    refused_with("the developer's Deployment", &labels_message, || {
        let object: Deployment = serde_json::from_value(unlabelled.clone()).expect("deployment");
        let deployments = deployments.clone();
        let dry_run = dry_run.clone();
        async move { deployments.create(&dry_run, &object).await }
    })
    .await;

    // Labelled as its namespace is, it is stored; taking a label away again is refused the same way.
    let labels =
        json!({ "app": "web", "causeway.dev/team": "team-a", "causeway.dev/service": service });
    let labelled: Deployment =
        serde_json::from_value(deployment(&namespace, "web", labels)).expect("deployment");
    deployments
        .create(&PostParams::default(), &labelled)
        .await
        .expect("a labelled Deployment is allowed");
    let unlabel =
        Patch::Merge(json!({ "metadata": { "labels": { "causeway.dev/service": null } } }));
    let patch_dry_run = PatchParams {
        dry_run: true,
        ..PatchParams::default()
    };
    let label_message = labels_message.replace("web-unlabelled", "web");
    refused_with("taking a label away", &label_message, || {
        deployments.patch("web", &patch_dry_run, &unlabel)
    })
    .await;

    // The platform team lowers team-a's CPU ceiling: only the parameters change.
    let quota_policy = policies
        .iter_mut()
        .find(|p| p.id == "quota-within-environment-ceiling")
        .expect("starter quota policy");
    quota_policy.parameters.teams.insert(
        team.to_owned(),
        [("requests.cpu".to_owned(), json!("1"))]
            .into_iter()
            .collect(),
    );
    let done = admission::reconcile(&backend, &policies, &config)
        .await
        .expect("reconciles the new parameters");
    assert!(!done.policy_updated, "{done:?}");
    assert_eq!(done.parameters_written.len(), 2, "{done:?}");
    let causeway = check_bundle(&policies, &prepared.bundle, &environment, team);
    assert_eq!(causeway.len(), 1, "{causeway:?}");
    assert_eq!(
        causeway[0].message,
        format!(
            "ResourceQuota causeway-quota exceeds the ceiling of the {environment} environment: \
             requests.cpu 2 > 1"
        )
    );

    // An operator with cluster-admin rights (a system:masters user, whom admission policies hold
    // as well) rewrites the quota: refused with Causeway's message.
    let quotas = Api::<ResourceQuota>::namespaced(client(Identity::Admin).await, &namespace);
    let raise = Patch::Merge(json!({ "spec": { "hard": { "requests.cpu": "2" } } }));
    refused_with("the operator's quota", &causeway[0].message, || {
        quotas.patch("causeway-quota", &patch_dry_run, &raise)
    })
    .await;
    // So is the backend's own apply of the same bundle: the API server holds Causeway to its own
    // policies too.
    let report = engine.apply(&request).await.expect("apply ran");
    let failure = report
        .failed
        .iter()
        .find(|f| f.object == "ResourceQuota/causeway-quota")
        .expect("the quota is refused");
    assert!(
        failure.message.ends_with(&causeway[0].message),
        "{failure:?}"
    );

    // No policies any more: the placeholder allows everything, and the parameters are gone.
    let done = admission::reconcile(&backend, &[], &config)
        .await
        .expect("reconciles to nothing");
    assert!(done.policy_updated, "{done:?}");
    assert_eq!(done.parameters_removed.len(), 3, "{done:?}");
    eventually(
        "the developer's Deployment to be allowed again",
        WAIT,
        || {
            let deployments = deployments.clone();
            let object: Deployment =
                serde_json::from_value(unlabelled.clone()).expect("deployment");
            let dry_run = dry_run.clone();
            async move { deployments.create(&dry_run, &object).await.ok() }
        },
    )
    .await;
    remove_namespace(&namespace).await;
}
