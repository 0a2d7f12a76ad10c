//! The provisioning engine against the real control plane, as Causeway's backend identity with
//! only its ClusterRole (charts/causeway/files/rbac.yaml): a service's environment applied object
//! by object, re-applied without a write, refused with clear errors when the request is wrong, and
//! never taking over a field another manager owns.

#[path = "support/kube.rs"]
mod cluster;
#[path = "support/testbed.rs"]
mod testbed;

use std::collections::BTreeMap;

use causeway_platform::Error;
use causeway_platform::provision::apply::Change;
use causeway_platform::provision::config::ProvisionConfig;
use causeway_platform::provision::plan::Step;
use causeway_platform::provision::{Provisioner, Request};
use cluster::{Identity, client, status_code, unique_name};
use k8s_openapi::api::core::v1::{LimitRange, Namespace, Pod, ResourceQuota, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::RoleBinding;
use kube::api::{Api, ListParams, Patch, PatchParams};
use serde_json::json;
use testbed::{engine_with_catalog, team_a_service};

/// A catalog holding one component of `team-a` (the control plane's developer group) and an
/// engine with the embedded configuration pointed at the plane as the backend.
async fn engine(service: &str) -> Provisioner {
    engine_with(service, |_| {}).await
}

/// [`engine`] with the configuration changed by `adjust`.
async fn engine_with(service: &str, adjust: impl FnOnce(&mut ProvisionConfig)) -> Provisioner {
    let catalog = team_a_service(service);
    engine_with_catalog(&catalog, adjust).await
}

fn request(service: &str, environment: &str, set: &[(&str, &str)]) -> Request {
    Request {
        service: service.to_owned(),
        environment: environment.to_owned(),
        set: set
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<BTreeMap<_, _>>(),
        request_id: "req-1".to_owned(),
        ..Request::default()
    }
}

async fn remove(namespace: &str) {
    cluster::remove_namespace(namespace).await;
}

#[tokio::test]
async fn an_environment_is_applied_object_by_object_and_reapplied_without_a_write() {
    let service = unique_name("svc");
    let engine = engine(&service).await;
    let report = engine
        .apply(&request(
            &service,
            "dev",
            &[("cpu", "1500m"), ("pods", "12")],
        ))
        .await
        .expect("applied");
    let namespace = report.namespace.clone();
    assert_eq!(namespace, format!("{service}-dev"));
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert!(
        report.applied.iter().all(|a| a.change == Change::Created),
        "{:?}",
        report.applied
    );

    let backend = client(Identity::Causeway).await;
    let ns = Api::<Namespace>::all(backend.clone())
        .get(&namespace)
        .await
        .expect("namespace");
    let labels = ns.metadata.labels.clone().unwrap_or_default();
    for (key, value) in [
        ("app.kubernetes.io/managed-by", "causeway"),
        ("causeway.dev/service", service.as_str()),
        ("causeway.dev/team", "team-a"),
        ("causeway.dev/environment", "dev"),
        ("causeway.dev/cost-centre", "cc-4711"),
        ("pod-security.kubernetes.io/enforce", "baseline"),
    ] {
        assert_eq!(labels.get(key).map(String::as_str), Some(value), "{key}");
    }
    let annotations = ns.metadata.annotations.clone().unwrap_or_default();
    assert_eq!(
        annotations
            .get("causeway.dev/request-id")
            .map(String::as_str),
        Some("req-1")
    );
    assert!(annotations.contains_key("causeway.dev/blueprint-version"));

    let quota = Api::<ResourceQuota>::namespaced(backend.clone(), &namespace)
        .get("causeway-quota")
        .await
        .expect("quota");
    let hard = quota.spec.and_then(|s| s.hard).unwrap_or_default();
    assert_eq!(hard["requests.cpu"].0, "1500m");
    assert_eq!(hard["pods"].0, "12");
    assert_eq!(hard["requests.memory"].0, "4Gi");
    let limits = Api::<LimitRange>::namespaced(backend.clone(), &namespace)
        .get("causeway-defaults")
        .await
        .expect("limit range");
    assert_eq!(limits.spec.expect("spec").limits[0].type_, "Container");
    let bindings = Api::<RoleBinding>::namespaced(backend.clone(), &namespace);
    let team = bindings.get("team-edit").await.expect("team binding");
    assert_eq!(team.role_ref.name, "edit");
    assert_eq!(team.subjects.expect("subjects")[0].name, "team-a");
    assert_eq!(
        bindings.get("ci-deployer").await.expect("ci").role_ref.name,
        "causeway-deployer"
    );
    Api::<ServiceAccount>::namespaced(backend.clone(), &namespace)
        .get("ci-deployer")
        .await
        .expect("ci service account");
    let policies: Vec<String> = Api::<NetworkPolicy>::namespaced(backend.clone(), &namespace)
        .list(&ListParams::default())
        .await
        .expect("policies")
        .into_iter()
        .filter_map(|p| p.metadata.name)
        .collect();
    for name in [
        "default-deny-ingress",
        "allow-same-namespace",
        "allow-from-ingress-nginx",
        "allow-from-monitoring",
    ] {
        assert!(policies.iter().any(|p| p == name), "{name} in {policies:?}");
    }

    // The owning team can work in the namespace; another team cannot.
    let team_a = client(Identity::DeveloperA).await;
    Api::<Pod>::namespaced(team_a, &namespace)
        .list(&ListParams::default())
        .await
        .expect("team-a lists pods");
    let team_b = client(Identity::DeveloperB).await;
    assert_eq!(
        status_code(
            Api::<Pod>::namespaced(team_b, &namespace)
                .list(&ListParams::default())
                .await
        ),
        403
    );

    // Applying the same request again writes nothing: each object's resourceVersion right before
    // the apply is the one after it (`Unchanged`). Versions from the first apply are not compared,
    // because the quota controller writes the quota's status in between.
    // A new request for the same state (its own request id) writes nothing either.
    let mut same = request(&service, "dev", &[("cpu", "1500m"), ("pods", "12")]);
    same.request_id = "req-2".to_owned();
    let again = engine.apply(&same).await.expect("re-applied");
    assert!(again.failed.is_empty(), "{:?}", again.failed);
    assert_eq!(again.applied.len(), report.applied.len());
    for applied in &again.applied {
        assert_eq!(applied.change, Change::Unchanged, "{}", applied.object);
    }

    // A changed parameter updates only what depends on it.
    let mut more_pods = request(&service, "dev", &[("cpu", "1500m"), ("pods", "13")]);
    more_pods.request_id = "req-3".to_owned();
    let changed = engine.apply(&more_pods).await.expect("changed");
    let updated: Vec<&str> = changed
        .applied
        .iter()
        .filter(|a| a.change == Change::Updated)
        .map(|a| a.object.as_str())
        .collect();
    assert_eq!(updated, ["ResourceQuota/causeway-quota"]);
    let quota = Api::<ResourceQuota>::namespaced(client(Identity::Causeway).await, &namespace)
        .get("causeway-quota")
        .await
        .expect("quota");
    let annotations = quota.metadata.annotations.unwrap_or_default();
    assert_eq!(
        annotations
            .get("causeway.dev/request-id")
            .map(String::as_str),
        Some("req-3"),
        "the request that last changed the object"
    );
    let limits = Api::<LimitRange>::namespaced(client(Identity::Causeway).await, &namespace)
        .get("causeway-defaults")
        .await
        .expect("limits");
    assert_eq!(
        limits
            .metadata
            .annotations
            .unwrap_or_default()
            .get("causeway.dev/request-id")
            .map(String::as_str),
        Some("req-1"),
        "untouched objects keep the request that created them"
    );
    remove(&namespace).await;
}

#[tokio::test]
async fn a_field_another_manager_owns_is_reported_not_taken_over() {
    let service = unique_name("svc");
    let engine = engine(&service).await;
    let report = engine
        .apply(&request(&service, "dev", &[]))
        .await
        .expect("applied");
    let namespace = report.namespace;
    // Someone else takes the quota's pod count with their own field manager.
    let admin = client(Identity::Admin).await;
    let quotas = Api::<ResourceQuota>::namespaced(admin, &namespace);
    quotas
        .patch(
            "causeway-quota",
            &PatchParams::apply("kubectl-hand-edit").force(),
            &Patch::Apply(json!({
                "apiVersion": "v1", "kind": "ResourceQuota",
                "metadata": { "name": "causeway-quota" },
                "spec": { "hard": { "pods": "99" } },
            })),
        )
        .await
        .expect("hand edit");
    let again = engine
        .apply(&request(&service, "dev", &[]))
        .await
        .expect("reported");
    assert_eq!(again.failed.len(), 1, "{:?}", again.failed);
    let failure = &again.failed[0];
    assert_eq!(failure.object, "ResourceQuota/causeway-quota");
    assert!(failure.conflict);
    assert!(
        failure.message.contains("kubectl-hand-edit"),
        "{}",
        failure.message
    );
    let hard = quotas
        .get("causeway-quota")
        .await
        .expect("quota")
        .spec
        .and_then(|s| s.hard)
        .unwrap_or_default();
    assert_eq!(hard["pods"].0, "99", "the other manager's value stays");
    remove(&namespace).await;
}

#[tokio::test]
async fn wrong_requests_are_refused_naming_the_field_and_create_nothing() {
    let service = unique_name("svc");
    let engine = engine(&service).await;
    let problems = |result: Result<_, Error>| match result {
        Err(Error::Rejected(problems)) => {
            problems.iter().map(ToString::to_string).collect::<Vec<_>>()
        }
        Err(other) => panic!("expected a rejection, got {other}"),
        Ok(report) => panic!("expected a rejection, got {report:?}"),
    };
    // The ceilings are the platform team's policies: a denial names the policy, field and limit.
    let above = match engine
        .apply(&request(&service, "dev", &[("cpu", "64")]))
        .await
    {
        Err(Error::PolicyDenied(verdicts)) => verdicts,
        other => panic!("expected a policy denial, got {other:?}"),
    };
    assert!(
        above.iter().any(|v| v.policy == "ceiling-cpu"
            && v.field == "set.cpu"
            && v.message.contains("64000m")
            && v.message.contains("ceiling of 8000m")),
        "{above:?}"
    );
    let unknown_env = problems(engine.apply(&request(&service, "qa", &[])).await);
    assert!(
        unknown_env.iter().any(|p| p.contains("environment")
            && p.contains("\"qa\"")
            && p.contains("dev, staging, prod, preview")),
        "{unknown_env:?}"
    );
    let unknown_service = problems(engine.apply(&request("no-such-service", "dev", &[])).await);
    assert!(
        unknown_service
            .iter()
            .any(|p| p.contains("service") && p.contains("component:default/no-such-service")),
        "{unknown_service:?}"
    );
    let not_component = problems(
        engine
            .apply(&request(&format!("api:{service}-api"), "dev", &[]))
            .await,
    );
    assert!(
        not_component.iter().any(|p| p.contains("is of kind API")),
        "{not_component:?}"
    );
    let bad_parameter = problems(
        engine
            .apply(&request(&service, "dev", &[("gpus", "1")]))
            .await,
    );
    assert!(
        bad_parameter.iter().any(|p| p.contains("set.gpus")),
        "{bad_parameter:?}"
    );
    let admin = client(Identity::Admin).await;
    assert!(
        Api::<Namespace>::all(admin)
            .get_opt(&format!("{service}-dev"))
            .await
            .expect("lookup")
            .is_none(),
        "nothing was created"
    );
}

#[tokio::test]
async fn a_plan_shows_what_would_change_and_an_apply_removes_what_is_no_longer_rendered() {
    let service = unique_name("svc");
    let with_viewers = engine_with(&service, |config| {
        for environment in &mut config.environments {
            environment.viewers = vec!["auditors".to_owned()];
        }
    })
    .await;
    let first = with_viewers
        .plan(&request(&service, "dev", &[]))
        .await
        .expect("plan");
    assert!(
        first.steps.iter().all(|s| matches!(s, Step::Create { .. })),
        "{:?}",
        first.steps
    );
    assert!(first.steps.contains(&Step::Create {
        object: "RoleBinding/viewers-view".to_owned()
    }));
    let report = with_viewers
        .apply(&request(&service, "dev", &[]))
        .await
        .expect("apply");
    let namespace = report.namespace;

    // The same configuration with the viewers gone and more pods.
    let without = engine(&service).await;
    let plan = without
        .plan(&request(&service, "dev", &[("pods", "25")]))
        .await
        .expect("plan");
    let update = plan
        .steps
        .iter()
        .find_map(|s| match s {
            Step::Update { object, fields } if object == "ResourceQuota/causeway-quota" => {
                Some(fields.clone())
            }
            _ => None,
        })
        .expect("the quota would change");
    assert_eq!(update.len(), 1, "{update:?}");
    assert_eq!(update[0].path, "spec.hard.pods");
    assert_eq!(update[0].live, json!("20"));
    assert_eq!(update[0].desired, json!("25"));
    assert!(
        plan.steps.contains(&Step::Delete {
            object: "RoleBinding/viewers-view".to_owned()
        }),
        "{:?}",
        plan.steps
    );
    assert!(plan.steps.contains(&Step::Unchanged {
        object: "LimitRange/causeway-defaults".to_owned()
    }));
    // Planning changed nothing.
    let backend = client(Identity::Causeway).await;
    let bindings = Api::<RoleBinding>::namespaced(backend, &namespace);
    assert!(
        bindings
            .get_opt("viewers-view")
            .await
            .expect("get")
            .is_some()
    );

    let applied = without
        .apply(&request(&service, "dev", &[("pods", "25")]))
        .await
        .expect("apply");
    assert_eq!(applied.deleted, ["RoleBinding/viewers-view"]);
    assert!(
        bindings
            .get_opt("viewers-view")
            .await
            .expect("get")
            .is_none()
    );
    remove(&namespace).await;
}

#[tokio::test]
async fn destroy_removes_the_environment_and_refuses_protected_ones() {
    let service = unique_name("svc");
    let engine = engine(&service).await;
    let namespace = engine
        .apply(&request(&service, "dev", &[]))
        .await
        .expect("apply")
        .namespace;
    let gone = engine
        .destroy(&request(&service, "dev", &[]))
        .await
        .expect("destroyed");
    assert_eq!(gone.namespace, namespace);
    let admin = client(Identity::Admin).await;
    assert!(
        Api::<Namespace>::all(admin.clone())
            .get_opt(&namespace)
            .await
            .expect("lookup")
            .is_none(),
        "the namespace is gone when destroy returns"
    );
    match engine.destroy(&request(&service, "prod", &[])).await {
        Err(Error::Forbidden(message)) => assert!(message.contains("protected"), "{message}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn pipelines_and_observability_come_with_the_environment() {
    use kube::api::{ApiResource, DynamicObject, GroupVersionKind};

    let service = unique_name("svc");
    let engine = engine(&service).await;
    let plan = engine
        .plan(&request(&service, "staging", &[("availability", "99.5")]))
        .await
        .expect("plan");
    let run = plan.pipeline_run.expect("a pipeline run is shown");
    assert_eq!(
        run["spec"]["params"][0]["value"],
        format!("https://github.com/example/{service}.git")
    );
    let report = engine
        .apply(&request(&service, "staging", &[("availability", "99.5")]))
        .await
        .expect("applied");
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    let namespace = report.namespace;
    let backend = client(Identity::Causeway).await;
    let custom = |group: &str, version: &str, kind: &str, plural: &str| {
        let resource =
            ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural);
        Api::<DynamicObject>::namespaced_with(backend.clone(), &namespace, &resource)
    };
    let tasks: Vec<String> = custom("tekton.dev", "v1", "Task", "tasks")
        .list(&ListParams::default())
        .await
        .expect("tasks")
        .into_iter()
        .filter_map(|t| t.metadata.name)
        .collect();
    for name in ["clone", "test", "build", "deploy"] {
        assert!(tasks.iter().any(|t| t == name), "{name} in {tasks:?}");
    }
    let pipeline = custom("tekton.dev", "v1", "Pipeline", "pipelines")
        .get("delivery")
        .await
        .expect("pipeline");
    let order: Vec<(&str, Option<&str>)> = pipeline.data["spec"]["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap_or_default(),
                t["runAfter"][0].as_str(),
            )
        })
        .collect();
    assert_eq!(
        order,
        [
            ("clone", None),
            ("test", Some("clone")),
            ("build", Some("test")),
            ("deploy", Some("build"))
        ]
    );
    let rule = custom(
        "monitoring.coreos.com",
        "v1",
        "PrometheusRule",
        "prometheusrules",
    )
    .get(&format!("{service}-slo"))
    .await
    .expect("rule");
    let page = &rule.data["spec"]["groups"][1]["rules"][0];
    // 14.4 times the 0.5% error budget of a 99.5% objective.
    assert!(
        page["expr"].as_str().expect("expr").contains("> 0.072 "),
        "{page}"
    );
    custom(
        "monitoring.coreos.com",
        "v1",
        "ServiceMonitor",
        "servicemonitors",
    )
    .get(&service)
    .await
    .expect("service monitor");
    let dashboard = custom(
        "grafana.integreatly.org",
        "v1beta1",
        "GrafanaDashboard",
        "grafanadashboards",
    )
    .get(&format!("{service}-red"))
    .await
    .expect("dashboard");
    let model: serde_json::Value =
        serde_json::from_str(dashboard.data["spec"]["json"].as_str().expect("json"))
            .expect("model");
    assert_eq!(model["panels"].as_array().expect("panels").len(), 3);
    remove(&namespace).await;
}

#[tokio::test]
async fn twenty_concurrent_requests_converge_without_duplicates() {
    // Ten services, each requested twice at the same time: twenty applies in flight at once.
    let services: Vec<String> = (0..10).map(|_| unique_name("par")).collect();
    let mut catalog = String::from(
        "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: team-a\nspec:\n  type: team\n  children: []\n",
    );
    for service in &services {
        catalog.push_str(&format!(
            "---\napiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {service}\nspec:\n  type: service\n  lifecycle: production\n  owner: team-a\n"
        ));
    }
    let engine = engine_with_catalog(&catalog, |_| {}).await;
    let requests: Vec<Request> = services
        .iter()
        .flat_map(|s| [request(s, "dev", &[]), request(s, "dev", &[])])
        .collect();
    let reports = futures::future::join_all(requests.iter().map(|r| engine.apply(r))).await;
    let backend = client(Identity::Causeway).await;
    for report in reports {
        let report = report.expect("applied");
        assert!(report.failed.is_empty(), "{:?}", report.failed);
    }
    for service in &services {
        let namespace = format!("{service}-dev");
        let quotas = Api::<ResourceQuota>::namespaced(backend.clone(), &namespace)
            .list(&ListParams::default())
            .await
            .expect("quotas");
        assert_eq!(quotas.items.len(), 1, "one quota in {namespace}");
        let policies = Api::<NetworkPolicy>::namespaced(backend.clone(), &namespace)
            .list(&ListParams::default())
            .await
            .expect("policies");
        assert_eq!(policies.items.len(), 4, "four policies in {namespace}");
        let plan = engine
            .plan(&request(service, "dev", &[]))
            .await
            .expect("plan");
        assert!(
            plan.steps
                .iter()
                .all(|s| matches!(s, Step::Unchanged { .. })),
            "{namespace} converged: {:?}",
            plan.steps
        );
    }
    for service in &services {
        remove(&format!("{service}-dev")).await;
    }
}

#[tokio::test]
async fn a_namespace_belongs_to_the_first_service_recorded_in_it() {
    // `payments-api` in the default catalog namespace and in `other` map to one Kubernetes
    // namespace; the second may neither apply into it nor destroy it.
    let service = unique_name("svc");
    let catalog = format!(
        "{}---\napiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {service}\n  namespace: other\nspec:\n  type: service\n  lifecycle: production\n  owner: group:default/team-a\n",
        testbed::team_a_service(&service)
    );
    let engine = engine_with_catalog(&catalog, |_| {}).await;
    let first = engine
        .apply(&request(&service, "dev", &[]))
        .await
        .expect("the first applies");
    let other = format!("component:other/{service}");
    let refused = engine
        .apply(&request(&other, "dev", &[]))
        .await
        .expect_err("the second is refused");
    assert!(
        matches!(&refused, Error::Conflict(m) if m.contains(&first.namespace)),
        "{refused:?}"
    );
    let refused = engine
        .destroy(&request(&other, "dev", &[]))
        .await
        .expect_err("and cannot destroy it");
    assert!(matches!(refused, Error::Conflict(_)), "{refused:?}");
    let namespaces = Api::<Namespace>::all(client(Identity::Admin).await);
    assert!(
        namespaces
            .get_opt(&first.namespace)
            .await
            .expect("get")
            .is_some()
    );
    remove(&first.namespace).await;
}
