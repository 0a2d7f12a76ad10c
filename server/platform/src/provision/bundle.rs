//! The desired state of one service's environment: the namespace and its baseline, as typed
//! Kubernetes objects.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    ConfigMap, LimitRange, LimitRangeItem, LimitRangeSpec, Namespace, ResourceQuota,
    ResourceQuotaSpec, ServiceAccount,
};
use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicySpec,
};
use k8s_openapi::api::rbac::v1::{RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use kube::Resource;
use kube::api::{ApiResource, DynamicObject};

use super::config::{Dashboards, Environment, Quota};
use super::{delivery, observability};

/// The version of the rules below; every object carries it, so an object rendered by older rules
/// can be told apart.
pub const BLUEPRINT_VERSION: &str = "1";
/// The field manager of every write.
pub const MANAGER: &str = "causeway";
/// The ClusterRole a service's CI identity is bound to in its namespaces (chart's rbac.yaml).
pub const DEPLOYER_ROLE: &str = "causeway-deployer";

/// Labels every object carries.
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "causeway");
pub const SERVICE_LABEL: &str = "causeway.dev/service";
pub const TEAM_LABEL: &str = "causeway.dev/team";
pub const ENVIRONMENT_LABEL: &str = "causeway.dev/environment";
pub const COST_CENTRE_LABEL: &str = "causeway.dev/cost-centre";
pub const REQUEST_ANNOTATION: &str = "causeway.dev/request-id";
/// On the namespace: the full reference of the component it belongs to. Labels cannot hold a
/// reference, and two components of one name in different catalog namespaces share the
/// `causeway.dev/service` label.
pub const SERVICE_REF_ANNOTATION: &str = "causeway.dev/service-ref";
pub const BLUEPRINT_ANNOTATION: &str = "causeway.dev/blueprint-version";

/// One service in one environment: what the bundle is rendered for.
#[derive(Debug, Clone)]
pub struct Instance {
    /// The component's name.
    pub service: String,
    /// The component's normalised entity reference.
    pub service_ref: String,
    /// The owning team's group name (the name part of its reference).
    pub team: String,
    pub cost_centre: Option<String>,
    pub namespace: String,
    pub quota: Quota,
    /// The availability objective, in percent, the alert rules are derived from.
    pub availability: f64,
    /// The clone URL of the component's repository; without one there is no pipeline.
    pub repository: Option<String>,
    pub request_id: String,
}

/// One object to apply, in the form the API takes it.
#[derive(Debug, Clone)]
pub struct Desired {
    pub resource: ApiResource,
    pub object: DynamicObject,
}

impl Desired {
    fn of<K>(object: &K) -> Self
    where
        K: Resource<DynamicType = ()> + serde::Serialize,
    {
        let resource = ApiResource::erase::<K>(&());
        let value = serde_json::to_value(object).unwrap_or_default();
        let mut object: DynamicObject =
            serde_json::from_value(value).unwrap_or_else(|_| DynamicObject::new("", &resource));
        object.types = Some(kube::api::TypeMeta {
            api_version: resource.api_version.clone(),
            kind: resource.kind.clone(),
        });
        Self { resource, object }
    }

    /// A custom resource (`group/version`, kind, plural) with `spec`, in `instance`'s namespace.
    fn custom(
        (group, version, kind, plural): Crd,
        metadata: ObjectMeta,
        spec: &impl serde::Serialize,
    ) -> Self {
        let resource = ApiResource::from_gvk_with_plural(
            &kube::api::GroupVersionKind::gvk(group, version, kind),
            plural,
        );
        let mut object = DynamicObject::new("", &resource);
        object.metadata = metadata;
        object.data = serde_json::json!({ "spec": spec });
        Self { resource, object }
    }

    /// The API to read and write this object through (namespaced or cluster-wide).
    pub fn api(&self, client: &kube::Client) -> kube::Api<DynamicObject> {
        match self.object.metadata.namespace.as_deref() {
            Some(namespace) => {
                kube::Api::namespaced_with(client.clone(), namespace, &self.resource)
            }
            None => kube::Api::all_with(client.clone(), &self.resource),
        }
    }

    /// `Kind/name` for reports.
    pub fn describe(&self) -> String {
        format!(
            "{}/{}",
            self.resource.kind,
            self.object.metadata.name.as_deref().unwrap_or("")
        )
    }
}

/// The custom resources a bundle may hold: group, version, kind, plural.
type Crd = (&'static str, &'static str, &'static str, &'static str);
const TEKTON_TASK: Crd = ("tekton.dev", "v1", "Task", "tasks");
const TEKTON_PIPELINE: Crd = ("tekton.dev", "v1", "Pipeline", "pipelines");
const GRAFANA_DASHBOARD: Crd = (
    "grafana.integreatly.org",
    "v1beta1",
    "GrafanaDashboard",
    "grafanadashboards",
);
const SERVICE_MONITOR: Crd = (
    "monitoring.coreos.com",
    "v1",
    "ServiceMonitor",
    "servicemonitors",
);
const PROMETHEUS_RULE: Crd = (
    "monitoring.coreos.com",
    "v1",
    "PrometheusRule",
    "prometheusrules",
);

/// Every kind any version of the blueprint has created (group, version, kind, plural), with the
/// blueprint version that first rendered it. The list only grows: a kind that a later blueprint,
/// a changed cluster setting (the dashboard's form) or a changed component (no repository, no
/// pipeline) stops rendering stays here, so that prune still finds and removes what an earlier
/// rendering left, and the reconciler still watches it.
const CREATED_KINDS: &[(&str, Crd)] = &[
    ("1", ("", "v1", "Namespace", "namespaces")),
    ("1", ("", "v1", "ResourceQuota", "resourcequotas")),
    ("1", ("", "v1", "LimitRange", "limitranges")),
    (
        "1",
        (
            "rbac.authorization.k8s.io",
            "v1",
            "RoleBinding",
            "rolebindings",
        ),
    ),
    ("1", ("", "v1", "ServiceAccount", "serviceaccounts")),
    (
        "1",
        (
            "networking.k8s.io",
            "v1",
            "NetworkPolicy",
            "networkpolicies",
        ),
    ),
    ("1", ("", "v1", "ConfigMap", "configmaps")),
    ("1", TEKTON_TASK),
    ("1", TEKTON_PIPELINE),
    ("1", GRAFANA_DASHBOARD),
    ("1", SERVICE_MONITOR),
    ("1", PROMETHEUS_RULE),
];

/// Every kind of object Causeway has ever created (see `CREATED_KINDS`): what the reconciler
/// watches and what prune looks through.
pub fn kinds() -> Vec<ApiResource> {
    CREATED_KINDS
        .iter()
        .map(|(_, (group, version, kind, plural))| {
            ApiResource::from_gvk_with_plural(
                &kube::api::GroupVersionKind::gvk(group, version, kind),
                plural,
            )
        })
        .collect()
}

fn labels(s: &Instance, environment: &Environment) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::from([
        (MANAGED_BY.0.to_owned(), MANAGED_BY.1.to_owned()),
        (SERVICE_LABEL.to_owned(), s.service.clone()),
        (TEAM_LABEL.to_owned(), s.team.clone()),
        (ENVIRONMENT_LABEL.to_owned(), environment.name.clone()),
    ]);
    if let Some(cost_centre) = &s.cost_centre {
        labels.insert(COST_CENTRE_LABEL.to_owned(), cost_centre.clone());
    }
    labels
}

fn meta(s: &Instance, environment: &Environment, name: &str, namespaced: bool) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: namespaced.then(|| s.namespace.clone()),
        labels: Some(labels(s, environment)),
        annotations: Some(BTreeMap::from([
            (REQUEST_ANNOTATION.to_owned(), s.request_id.clone()),
            (
                BLUEPRINT_ANNOTATION.to_owned(),
                BLUEPRINT_VERSION.to_owned(),
            ),
        ])),
        ..ObjectMeta::default()
    }
}

fn quantity(text: String) -> Quantity {
    Quantity(text)
}

/// Millicores as the API server writes them back (`2`, not `2000m`), so that what is applied
/// reads the same as what is stored.
fn cpu(millis: u64) -> Quantity {
    if millis.is_multiple_of(1000) {
        quantity((millis / 1000).to_string())
    } else {
        quantity(format!("{millis}m"))
    }
}

/// MiB in the API server's canonical form (`4Gi`, not `4096Mi`).
fn memory(mib: u64) -> Quantity {
    if mib.is_multiple_of(1024) {
        quantity(format!("{}Gi", mib / 1024))
    } else {
        quantity(format!("{mib}Mi"))
    }
}

/// The label Grafana's dashboard sidecar looks for on ConfigMaps.
pub const SIDECAR_LABEL: (&str, &str) = ("grafana_dashboard", "1");

/// Every object of the environment, the namespace first; the dashboard in the form the target
/// cluster's Grafana loads. With `group_prefix` (the target cluster's, see
/// [`Cluster`](super::config::Cluster)) the team's and viewers' bindings also name each group with
/// that prefix, the name the API server gives the group of a person signed in through OpenID
/// Connect.
pub fn render(
    s: &Instance,
    environment: &Environment,
    dashboards: Dashboards,
    group_prefix: Option<&str>,
) -> Vec<Desired> {
    let mut objects = Vec::new();

    let mut namespace_meta = meta(s, environment, &s.namespace, false);
    let level = environment.pod_security.as_str();
    if let Some(labels) = namespace_meta.labels.as_mut() {
        for mode in ["enforce", "audit", "warn"] {
            labels.insert(
                format!("pod-security.kubernetes.io/{mode}"),
                level.to_owned(),
            );
        }
    }
    if let Some(annotations) = namespace_meta.annotations.as_mut() {
        annotations.insert(SERVICE_REF_ANNOTATION.to_owned(), s.service_ref.clone());
    }
    objects.push(Desired::of(&Namespace {
        metadata: namespace_meta,
        ..Namespace::default()
    }));

    objects.push(Desired::of(&ResourceQuota {
        metadata: meta(s, environment, "causeway-quota", true),
        spec: Some(ResourceQuotaSpec {
            hard: Some(BTreeMap::from([
                ("requests.cpu".to_owned(), cpu(s.quota.cpu_millis)),
                ("requests.memory".to_owned(), memory(s.quota.memory_mib)),
                ("pods".to_owned(), quantity(s.quota.pods.to_string())),
            ])),
            ..ResourceQuotaSpec::default()
        }),
        ..ResourceQuota::default()
    }));

    let (default_cpu, default_memory) = environment.container_default;
    let defaults = BTreeMap::from([
        ("cpu".to_owned(), cpu(default_cpu)),
        ("memory".to_owned(), memory(default_memory)),
    ]);
    objects.push(Desired::of(&LimitRange {
        metadata: meta(s, environment, "causeway-defaults", true),
        spec: Some(LimitRangeSpec {
            limits: vec![LimitRangeItem {
                type_: "Container".to_owned(),
                default: Some(defaults.clone()),
                default_request: Some(defaults),
                ..LimitRangeItem::default()
            }],
        }),
    }));

    let binding = |name: &str, role: &str, subjects: Vec<Subject>| RoleBinding {
        metadata: meta(s, environment, name, true),
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".to_owned(),
            kind: "ClusterRole".to_owned(),
            name: role.to_owned(),
        },
        subjects: Some(subjects),
    };
    let group = |name: String| Subject {
        api_group: Some("rbac.authorization.k8s.io".to_owned()),
        kind: "Group".to_owned(),
        name,
        namespace: None,
    };
    // A group as the cluster's own identities carry it and, when the cluster maps an OpenID
    // Connect provider's groups with a prefix, as people signed in through the provider carry it.
    let groups = |name: &str| {
        let mut subjects = vec![group(name.to_owned())];
        if let Some(prefix) = group_prefix {
            subjects.push(group(format!("{prefix}{name}")));
        }
        subjects
    };
    objects.push(Desired::of(&binding("team-edit", "edit", groups(&s.team))));
    if !environment.viewers.is_empty() {
        let viewers = environment.viewers.iter().flat_map(|v| groups(v)).collect();
        objects.push(Desired::of(&binding("viewers-view", "view", viewers)));
    }

    objects.push(Desired::of(&ServiceAccount {
        metadata: meta(s, environment, "ci-deployer", true),
        ..ServiceAccount::default()
    }));
    objects.push(Desired::of(&binding(
        "ci-deployer",
        DEPLOYER_ROLE,
        vec![Subject {
            api_group: None,
            kind: "ServiceAccount".to_owned(),
            name: "ci-deployer".to_owned(),
            namespace: Some(s.namespace.clone()),
        }],
    )));

    let policy = |name: &str, from: Vec<NetworkPolicyPeer>| NetworkPolicy {
        metadata: meta(s, environment, name, true),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector::default()),
            policy_types: Some(vec!["Ingress".to_owned()]),
            ingress: (!from.is_empty()).then(|| {
                vec![NetworkPolicyIngressRule {
                    from: Some(from),
                    ports: None,
                }]
            }),
            ..NetworkPolicySpec::default()
        }),
    };
    objects.push(Desired::of(&policy("default-deny-ingress", Vec::new())));
    objects.push(Desired::of(&policy(
        "allow-same-namespace",
        vec![NetworkPolicyPeer {
            pod_selector: Some(LabelSelector::default()),
            ..NetworkPolicyPeer::default()
        }],
    )));
    for source in &environment.ingress_from {
        objects.push(Desired::of(&policy(
            &format!("allow-from-{source}"),
            vec![NetworkPolicyPeer {
                namespace_selector: Some(LabelSelector {
                    match_labels: Some(BTreeMap::from([(
                        "kubernetes.io/metadata.name".to_owned(),
                        source.clone(),
                    )])),
                    ..LabelSelector::default()
                }),
                ..NetworkPolicyPeer::default()
            }],
        )));
    }
    if s.repository.is_some() {
        for (name, spec) in delivery::tasks() {
            objects.push(Desired::custom(
                TEKTON_TASK,
                meta(s, environment, &name, true),
                &spec,
            ));
        }
        objects.push(Desired::custom(
            TEKTON_PIPELINE,
            meta(s, environment, "delivery", true),
            &delivery::pipeline(),
        ));
    }
    let dashboard = observability::dashboard(&s.service, &s.namespace);
    let dashboard_name = format!("{}-red", s.service);
    match dashboards {
        Dashboards::Operator => objects.push(Desired::custom(
            GRAFANA_DASHBOARD,
            meta(s, environment, &dashboard_name, true),
            &dashboard,
        )),
        Dashboards::ConfigMap => {
            let mut metadata = meta(s, environment, &dashboard_name, true);
            if let Some(labels) = metadata.labels.as_mut() {
                labels.insert(SIDECAR_LABEL.0.to_owned(), SIDECAR_LABEL.1.to_owned());
            }
            objects.push(Desired::of(&ConfigMap {
                metadata,
                data: Some(BTreeMap::from([(
                    format!("{dashboard_name}.json"),
                    dashboard.json,
                )])),
                ..ConfigMap::default()
            }));
        }
    }
    objects.push(Desired::custom(
        SERVICE_MONITOR,
        meta(s, environment, &s.service, true),
        &observability::service_monitor(&s.service),
    ));
    objects.push(Desired::custom(
        PROMETHEUS_RULE,
        meta(s, environment, &format!("{}-slo", s.service), true),
        &observability::rules(&s.service, &s.namespace, s.availability),
    ));
    objects
}

/// The PipelineRun a change to `revision` would start, when the service has a pipeline.
pub fn pipeline_run(s: &Instance, revision: &str) -> Option<serde_json::Value> {
    let repository = s.repository.clone()?;
    Some(delivery::run(
        &delivery::Source {
            image: format!("registry.local/{}/{}:{revision}", s.team, s.service),
            repository,
            namespace: s.namespace.clone(),
            service: s.service.clone(),
        },
        revision,
    ))
}
