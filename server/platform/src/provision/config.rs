//! Where environments go and what every environment gets: clusters, environments with their
//! default quotas and Pod Security level, and the hard ceilings requests are held to.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// A Kubernetes cluster Causeway provisions into.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cluster {
    pub name: String,
    /// Kubeconfig file and context; `None` means the pod's own service account (in-cluster).
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    /// How dashboards are delivered to the cluster's Grafana.
    #[serde(default)]
    pub dashboards: Dashboards,
    /// The prefix the cluster's API server puts before the groups of people who sign in with an
    /// OpenID Connect provider's tokens (its `claimMappings.groups.prefix`, e.g. `oidc:`). When
    /// set, a team's RoleBindings name both the team's group and the prefixed one, so the team
    /// reaches its namespaces with the provider's tokens as well as with the cluster's own
    /// identities.
    #[serde(default)]
    pub group_prefix: Option<String>,
}

/// How a cluster's Grafana finds dashboards.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dashboards {
    /// A `GrafanaDashboard` resource for the Grafana operator.
    #[default]
    Operator,
    /// A ConfigMap labelled `grafana_dashboard: "1"`, which Grafana's dashboard sidecar loads.
    ConfigMap,
}

/// What the reconciler does when an environment no longer matches its record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DriftPolicy {
    /// Puts the recorded state back and records what it found.
    #[default]
    Restore,
    /// Only records what it found; a person decides.
    Report,
}

/// Where an environment's objects go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "type")]
pub enum Target {
    /// Applied to the named cluster.
    Cluster { name: String },
    /// Committed to the git repository at `repository`, under `clusters/<cluster>/`, for a GitOps
    /// controller in that cluster to apply.
    Gitops {
        repository: PathBuf,
        cluster: String,
    },
}

/// Pod Security Standards level enforced on an environment's namespaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PodSecurity {
    Privileged,
    Baseline,
    Restricted,
}

impl PodSecurity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Privileged => "privileged",
            Self::Baseline => "baseline",
            Self::Restricted => "restricted",
        }
    }
}

/// A namespace's resource budget (Kubernetes quantities).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quota {
    /// Total CPU requests, in millicores.
    pub cpu_millis: u64,
    /// Total memory requests, in MiB.
    pub memory_mib: u64,
    pub pods: u64,
}

/// An environment every service can have.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Environment {
    pub name: String,
    pub target: Target,
    pub quota: Quota,
    /// Default request and limit per container, in millicores and MiB.
    pub container_default: (u64, u64),
    pub pod_security: PodSecurity,
    /// Protected environments cannot be destroyed through Causeway.
    pub protected: bool,
    /// Groups given `view` in every namespace of this environment.
    pub viewers: Vec<String>,
    /// Namespaces whose pods may reach services here (ingress controller, monitoring).
    pub ingress_from: Vec<String>,
    /// Whether drift is put right or only reported.
    #[serde(default)]
    pub drift: DriftPolicy,
    /// How long an environment lives before it is destroyed; `None` for environments that stay.
    #[serde(default)]
    pub expiry: Option<Expiry>,
}

/// The lifetime of an ephemeral environment (a `preview`, say).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expiry {
    /// Time to live from the first apply (or the last extension), in seconds.
    pub ttl_seconds: u64,
    /// How far ahead of now the owning team may extend it, in seconds.
    pub max_seconds: u64,
}

/// Applies to the environments named here stop at a pending approval that holds the exact plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalRule {
    pub name: String,
    pub environments: Vec<String>,
    /// Group references whose members may decide; a requester never approves their own request.
    pub approvers: Vec<String>,
}

/// Where Causeway tells people about approvals and expiring environments.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notifications {
    /// URLs that receive a JSON `POST` for each notification.
    pub webhooks: Vec<String>,
    /// How long before an environment expires its team is reminded, in seconds.
    pub remind_before_seconds: u64,
}

/// Clusters, environments, approvals and notifications: the provisioning part of the platform
/// configuration (`guardrails::documents` reads it from the platform team's documents).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvisionConfig {
    pub clusters: Vec<Cluster>,
    pub environments: Vec<Environment>,
    /// Where an environment's dashboard is, with `{namespace}` for its namespace.
    pub dashboard_url: String,
    /// A command that shows an environment's objects, with `{namespace}` and `{context}`.
    pub kubectl: String,
    /// Which environments need an approval, and who gives it.
    #[serde(default)]
    pub approvals: Vec<ApprovalRule>,
    #[serde(default)]
    pub notifications: Notifications,
}

impl ProvisionConfig {
    /// `pattern` with `{namespace}` and `{context}` filled in.
    pub fn link(&self, pattern: &str, namespace: &str, environment: &Environment) -> String {
        let context = match &environment.target {
            Target::Cluster { name } => self
                .cluster(name)
                .and_then(|c| c.context.clone())
                .unwrap_or_else(|| name.clone()),
            Target::Gitops { cluster, .. } => cluster.clone(),
        };
        pattern
            .replace("{namespace}", namespace)
            .replace("{context}", &context)
    }
}

impl ProvisionConfig {
    /// The configuration used when none is given: with a kubeconfig, one cluster `local` from it
    /// (context `causeway` when the file has one, else its current context) serving `dev`,
    /// `staging`, `prod` and the ephemeral `preview`; without one, all four committed to the
    /// repository at `gitops`.
    pub fn embedded(kubeconfig: Option<(PathBuf, Option<String>)>, gitops: PathBuf) -> Self {
        let (clusters, target) = match kubeconfig {
            Some((path, context)) => (
                vec![Cluster {
                    name: "local".to_owned(),
                    kubeconfig: Some(path),
                    context,
                    dashboards: Dashboards::Operator,
                    group_prefix: None,
                }],
                Target::Cluster {
                    name: "local".to_owned(),
                },
            ),
            None => (
                Vec::new(),
                Target::Gitops {
                    repository: gitops,
                    cluster: "local".to_owned(),
                },
            ),
        };
        // Production drift is reported rather than undone: a change there may be an emergency
        // fix that a person must look at before Causeway puts the recorded state back.
        let environment = |name: &str, quota: Quota, pod_security, protected: bool| Environment {
            name: name.to_owned(),
            target: target.clone(),
            quota,
            container_default: (100, 128),
            pod_security,
            protected,
            viewers: Vec::new(),
            ingress_from: vec!["ingress-nginx".to_owned(), "monitoring".to_owned()],
            drift: if protected {
                DriftPolicy::Report
            } else {
                DriftPolicy::Restore
            },
            expiry: None,
        };
        let quota = |cpu_millis, memory_mib, pods| Quota {
            cpu_millis,
            memory_mib,
            pods,
        };
        let environments = vec![
            environment("dev", quota(2000, 4096, 20), PodSecurity::Baseline, false),
            environment(
                "staging",
                quota(4000, 8192, 40),
                PodSecurity::Restricted,
                false,
            ),
            environment(
                "prod",
                quota(8000, 16384, 80),
                PodSecurity::Restricted,
                true,
            ),
            // Ephemeral environments for reviewing a change: they go away on their own three days
            // after their first apply unless the team extends them, by at most a week at a time.
            Environment {
                expiry: Some(Expiry {
                    ttl_seconds: 72 * 3600,
                    max_seconds: 7 * 24 * 3600,
                }),
                ..environment(
                    "preview",
                    quota(2000, 4096, 20),
                    PodSecurity::Baseline,
                    false,
                )
            },
        ];
        Self {
            clusters,
            environments,
            // The Grafana that the monitoring stack of a development cluster usually exposes.
            dashboard_url: "http://127.0.0.1:3001/d/causeway-{namespace}".to_owned(),
            kubectl: "kubectl --context {context} -n {namespace} get all,resourcequota,limitrange,networkpolicy,rolebinding".to_owned(),
            // Production changes wait for the platform team, whose admins run the clusters.
            approvals: vec![ApprovalRule {
                name: "production".to_owned(),
                environments: vec!["prod".to_owned()],
                approvers: vec!["group:default/platform".to_owned()],
            }],
            notifications: Notifications {
                webhooks: Vec::new(),
                remind_before_seconds: 24 * 3600,
            },
        }
    }

    /// [`ProvisionConfig::embedded`] for the kubeconfig at `path`, if any: its context `causeway`
    /// when it has one, else its current context.
    pub fn for_kubeconfig(path: Option<PathBuf>, gitops: PathBuf) -> Self {
        let cluster = path.map(|path| {
            let context = kube::config::Kubeconfig::read_from(&path)
                .ok()
                .filter(|file| file.contexts.iter().any(|c| c.name == "causeway"))
                .map(|_| "causeway".to_owned());
            (path, context)
        });
        Self::embedded(cluster, gitops)
    }

    /// The environment named `name`.
    pub fn environment(&self, name: &str) -> Option<&Environment> {
        self.environments.iter().find(|e| e.name == name)
    }

    /// The approval rule that covers `environment`, if any.
    pub fn approval_for(&self, environment: &str) -> Option<&ApprovalRule> {
        self.approvals
            .iter()
            .find(|rule| rule.environments.iter().any(|e| e == environment))
    }

    /// The cluster named `name`.
    pub fn cluster(&self, name: &str) -> Option<&Cluster> {
        self.clusters.iter().find(|c| c.name == name)
    }
}
