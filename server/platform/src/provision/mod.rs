//! The provisioning engine: a service's environment on Kubernetes, rendered from the catalog and
//! the platform team's configuration, checked against the guardrails, and applied with
//! server-side apply.
//!
//! `prepare` does everything that touches nothing (lookup, guardrails, rendering), so that every
//! door (REST, CLI, portal, tasks) can show the same answer before anything changes.

pub mod apply;
pub mod bundle;
pub mod config;
pub mod delivery;
pub mod destroy;
pub mod drift;
pub mod gitops;
pub mod guardrails;
pub mod naming;
pub mod observability;
pub mod plan;
pub mod records;
pub mod tasks;

use std::collections::BTreeMap;
use std::sync::Arc;

use kube::Client;
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde::Serialize;
use serde_json::Value;

use self::apply::{Applied, Change, Failure, apply_all};
use self::bundle::{Desired, Instance, render};
use self::config::{Cluster, Dashboards, Environment, ProvisionConfig, Target};
use self::gitops::Author;
use self::plan::{Step, leftovers, plan_one};
use self::records::{Drift, Record, Records, Status};
use crate::audit::AuditLog;
use crate::catalog::{Catalog, Problem, refs};
use crate::identity::{Principal, Role};
use crate::{Error, Platform, Result};

/// The annotation a component names its cost centre with.
pub const COST_CENTRE_ANNOTATION: &str = "causeway.dev/cost-centre";

/// A request for a service's environment.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// The component's reference (`payments-api`, `component:default/payments-api`).
    pub service: String,
    pub environment: String,
    /// Parameters (`cpu`, `memory`, `pods`) overriding the environment's defaults.
    pub set: BTreeMap<String, String>,
    /// Carried by every object, to trace it back to the request.
    pub request_id: String,
    /// Who asked: recorded with the environment, and the author of GitOps commits.
    pub requester: Requester,
}

/// The person (or tool) behind a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requester {
    /// Entity reference of the user, or a name such as `cli:<login>`.
    pub entity_ref: String,
    pub name: String,
    pub email: String,
}

impl Requester {
    /// A signed-in user as the author of what their request changes; a user without an email
    /// address gets one that says so rather than none, since git commits need one.
    pub fn of(principal: &Principal) -> Self {
        let (_, _, name) = refs::split(&principal.entity_ref);
        Self {
            entity_ref: principal.entity_ref.clone(),
            name: principal.display_name.clone(),
            email: principal
                .email
                .clone()
                .unwrap_or_else(|| format!("{name}@users.causeway.invalid")),
        }
    }
}

impl Default for Requester {
    fn default() -> Self {
        Self {
            entity_ref: "system".to_owned(),
            name: "Causeway".to_owned(),
            email: "causeway@localhost".to_owned(),
        }
    }
}

/// A checked and rendered request.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub environment: Environment,
    /// The owning group's entity reference.
    pub owner: String,
    pub instance: Instance,
    pub bundle: Vec<Desired>,
}

/// What an apply did.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub namespace: String,
    pub applied: Vec<Applied>,
    /// Objects of an earlier rendering that this one no longer has (`Kind/name`).
    pub deleted: Vec<String>,
    pub failed: Vec<Failure>,
    /// For a GitOps environment, the commit made (none when nothing changed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
}

/// What a destroy did.
#[derive(Debug, Clone, Serialize)]
pub struct Destroyed {
    pub namespace: String,
    /// For a GitOps environment, the commit that removed it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
}

/// An environment as Causeway knows it: its record, how the live objects compare with it, and
/// the drift seen lately.
#[derive(Debug, Clone, Serialize)]
pub struct EnvironmentStatus {
    /// `None` for an environment never provisioned (the plan then creates everything).
    pub record: Option<Record>,
    pub plan: Plan,
    pub drift: Vec<Drift>,
}

/// What an apply would do.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub namespace: String,
    pub environment: String,
    pub steps: Vec<Step>,
    /// The PipelineRun a push to the default branch would start, when the service has a
    /// repository (Causeway shows it; the CI system starts it).
    pub pipeline_run: Option<Value>,
}

/// How long one call to the API server may take before the operation fails.
const API_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// How long a destroy waits for the namespace to be gone.
const DESTROY_WAIT: std::time::Duration = std::time::Duration::from_secs(120);

/// What the catalog says about a component.
struct Component {
    name: String,
    /// The owning group's reference, and its name (the RBAC group of the team).
    owner: String,
    team: String,
    cost_centre: Option<String>,
    /// Its repository's clone URL, when its annotations give one.
    repository: Option<String>,
}

/// The engine; cheap to clone.
#[derive(Debug, Clone)]
pub struct Provisioner {
    config: Arc<ProvisionConfig>,
    catalog: Catalog,
    records: Records,
    audit: AuditLog,
    /// Who runs the drift reconciler among the replicas.
    leases: crate::leases::Leases,
    /// This process's name as a lease holder.
    replica: String,
    /// One client per cluster, so that its connections (and their TLS sessions) are reused
    /// across requests instead of opened for each.
    clients: Clients,
}

/// Clients by cluster name.
#[derive(Clone, Default)]
struct Clients(Arc<std::sync::Mutex<BTreeMap<String, Client>>>);

impl std::fmt::Debug for Clients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Clients")
    }
}

impl Clients {
    fn get(&self, cluster: &str) -> Option<Client> {
        let clients = self.0.lock().unwrap_or_else(|e| e.into_inner());
        clients.get(cluster).cloned()
    }

    fn keep(&self, cluster: &str, client: &Client) {
        let mut clients = self.0.lock().unwrap_or_else(|e| e.into_inner());
        clients.insert(cluster.to_owned(), client.clone());
    }
}

fn problem(field: &str, message: String) -> Problem {
    Problem::new("request", None, field, message)
}

/// A label value: at most 63 characters of `[A-Za-z0-9-_.]`, starting and ending alphanumeric.
fn is_label_value(text: &str) -> bool {
    text.len() <= 63
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && text
            .chars()
            .next()
            .is_none_or(|c| c.is_ascii_alphanumeric())
        && text
            .chars()
            .last()
            .is_none_or(|c| c.is_ascii_alphanumeric())
}

impl Provisioner {
    pub fn new(config: ProvisionConfig, platform: &Platform) -> Self {
        Self {
            config: Arc::new(config),
            catalog: platform.catalog.clone(),
            records: Records::new(platform.store.clone()),
            audit: platform.audit.clone(),
            leases: crate::leases::Leases::new(platform.store.clone()),
            replica: uuid::Uuid::new_v4().to_string(),
            clients: Clients::default(),
        }
    }

    /// Only platform admins and members of the service's owning team change its environments; an
    /// unknown service is left for [`Provisioner::prepare`] to report, field and rule included.
    pub fn authorize(&self, principal: &Principal, service: &str) -> Result<()> {
        if principal.role == Role::PlatformAdmin {
            return Ok(());
        }
        let Ok(entity_ref) = refs::parse(service, "component", "default") else {
            return Ok(());
        };
        let index = self.catalog.index();
        let Some(entity) = index.by_ref(&entity_ref) else {
            return Ok(());
        };
        let owners = index.owners(entity);
        if owners.iter().any(|o| principal.acts_for(o)) {
            Ok(())
        } else {
            Err(Error::Forbidden(format!(
                "{entity_ref} is owned by {}; only its team (or platform admins) may change its environments",
                if owners.is_empty() {
                    "nobody".to_owned()
                } else {
                    owners.join(", ")
                }
            )))
        }
    }

    /// The environments provisioned so far.
    pub fn records(&self) -> &Records {
        &self.records
    }

    pub fn config(&self) -> &ProvisionConfig {
        &self.config
    }

    /// Looks the service up, holds the request to the guardrails and renders its objects; every
    /// problem is reported at once, each naming its field.
    pub fn prepare(&self, request: &Request) -> Result<Prepared> {
        let mut problems = Vec::new();
        let environment = self.config.environment(&request.environment);
        if environment.is_none() {
            let known: Vec<&str> = self
                .config
                .environments
                .iter()
                .map(|e| e.name.as_str())
                .collect();
            problems.push(problem(
                "environment",
                format!(
                    "{:?} is not an environment; expected one of {}",
                    request.environment,
                    known.join(", ")
                ),
            ));
        }
        let component = match self.component(&request.service) {
            Ok(found) => Some(found),
            Err(mut found) => {
                problems.append(&mut found);
                None
            }
        };
        let (Some(environment), Some(component)) = (environment, component) else {
            return Err(Error::Rejected(problems));
        };
        let asked =
            guardrails::parameters(&environment.quota, &request.set).map_err(Error::Rejected)?;
        guardrails::check(
            &self.config,
            &environment.name,
            &component.owner,
            &asked.quota,
        )
        .map_err(Error::Rejected)?;
        let instance = Instance {
            namespace: naming::namespace(&component.name, &environment.name),
            service: component.name,
            team: component.team,
            cost_centre: component.cost_centre,
            quota: asked.quota,
            availability: asked.availability,
            repository: component.repository,
            request_id: request.request_id.clone(),
        };
        let bundle = render(&instance, environment, self.dashboards_for(environment));
        Ok(Prepared {
            environment: environment.clone(),
            owner: component.owner.clone(),
            instance,
            bundle,
        })
    }

    /// What the catalog says about the component `service`.
    fn component(&self, service: &str) -> Result<Component, Vec<Problem>> {
        let entity_ref = refs::parse(service, "component", "default")
            .map_err(|message| vec![problem("service", message)])?;
        let index = self.catalog.index();
        let Some(entity) = index.by_ref(&entity_ref) else {
            return Err(vec![problem(
                "service",
                format!("{entity_ref} is not in the catalog"),
            )]);
        };
        if entity.kind != "Component" {
            return Err(vec![problem(
                "service",
                format!(
                    "{entity_ref} is of kind {}; environments are for components",
                    entity.kind
                ),
            )]);
        }
        let mut problems = Vec::new();
        let owner = entity
            .edges
            .iter()
            .find(|e| e.kind() == "ownedBy")
            .map(|e| e.target.to_string())
            .unwrap_or_default();
        let (_, _, team_name) = refs::split(&owner);
        let team_name = naming::namespace(team_name, "")
            .trim_end_matches('-')
            .to_owned();
        if owner.is_empty() || team_name.is_empty() {
            problems.push(problem(
                "service",
                format!("{entity_ref} has no owner; its owning team gets access"),
            ));
        }
        let body = index.body_value(entity);
        let cost_centre = body
            .pointer(&format!(
                "/metadata/annotations/{}",
                COST_CENTRE_ANNOTATION.replace('/', "~1")
            ))
            .and_then(Value::as_str)
            .map(str::to_owned);
        if let Some(value) = cost_centre.as_deref().filter(|v| !is_label_value(v)) {
            problems.push(problem(
                &format!("metadata.annotations.{COST_CENTRE_ANNOTATION}"),
                format!("{value:?} cannot be a label value; expected at most 63 letters, digits, '-', '_' or '.'"),
            ));
        }
        let annotations = body
            .pointer("/metadata/annotations")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        if problems.is_empty() {
            Ok(Component {
                name: entity.name.to_lowercase(),
                owner,
                team: team_name,
                cost_centre,
                repository: delivery::repository(&annotations),
            })
        } else {
            Err(problems)
        }
    }

    /// What applying the request would change, object by object, without changing anything.
    pub async fn plan(&self, request: &Request) -> Result<Plan> {
        let prepared = self.prepare(request)?;
        self.plan_prepared(&prepared).await
    }

    async fn plan_prepared(&self, prepared: &Prepared) -> Result<Plan> {
        let namespace = &prepared.instance.namespace;
        let steps = match &prepared.environment.target {
            Target::Gitops {
                repository,
                cluster,
            } => {
                gitops::Repository::new(repository.clone())
                    .plan(
                        gitops::directory(cluster, namespace),
                        prepared.bundle.clone(),
                    )
                    .await?
            }
            Target::Cluster { .. } => {
                let client = self.client_for(&prepared.environment).await?;
                let mut steps = Vec::new();
                for desired in &prepared.bundle {
                    steps.push(plan_one(&client, desired).await.map_err(cluster_error)?);
                }
                let stale = leftovers(&client, &prepared.bundle, namespace)
                    .await
                    .map_err(cluster_error)?;
                steps.extend(stale.into_iter().map(|(resource, name)| Step::Delete {
                    object: format!("{}/{name}", resource.kind),
                }));
                steps
            }
        };
        Ok(Plan {
            pipeline_run: bundle::pipeline_run(&prepared.instance, "main"),
            namespace: namespace.clone(),
            environment: prepared.environment.name.clone(),
            steps,
        })
    }

    /// The environment's record, how the live objects compare with it, and its recent drift.
    pub async fn status(&self, request: &Request) -> Result<EnvironmentStatus> {
        let prepared = self.prepare(request)?;
        let namespace = prepared.instance.namespace.clone();
        let record = self.records.get(&namespace).await?;
        // Compared with what was last requested (not with the defaults), so that only drift shows.
        let prepared = match &record {
            Some(record) => self.prepare(&Request {
                set: record.parameters.clone(),
                request_id: record.request_id.clone(),
                ..request.clone()
            })?,
            None => prepared,
        };
        Ok(EnvironmentStatus {
            drift: self.records.drift(&namespace, 50).await?,
            plan: self.plan_prepared(&prepared).await?,
            record,
        })
    }

    /// Prepares the request, records it, applies its objects to the environment's cluster (or
    /// commits them to its repository) and removes what an earlier rendering created and this one
    /// no longer has.
    pub async fn apply(&self, request: &Request) -> Result<Report> {
        let prepared = self.prepare(request)?;
        let namespace = prepared.instance.namespace.clone();
        self.guard_namespace(&namespace, &self.service_ref(&request.service)?)
            .await?;
        self.records
            .begin(&self.record_of(&prepared, request)?)
            .await?;
        let outcome = match &prepared.environment.target {
            Target::Gitops {
                repository,
                cluster,
            } => self.commit(&prepared, request, repository, cluster).await,
            Target::Cluster { .. } => self.apply_to_cluster(&prepared).await,
        };
        let (status, message) = match &outcome {
            Ok(report) if report.failed.is_empty() => (
                if report.commit.is_some()
                    || matches!(prepared.environment.target, Target::Gitops { .. })
                {
                    Status::Committed
                } else {
                    Status::Ready
                },
                None,
            ),
            Ok(report) => (
                Status::Failed,
                Some(
                    report
                        .failed
                        .iter()
                        .map(|f| format!("{}: {}", f.object, f.message))
                        .collect::<Vec<_>>()
                        .join("; "),
                ),
            ),
            Err(error) => (Status::Failed, Some(error.to_string())),
        };
        self.records
            .set_status(&namespace, status, message.as_deref())
            .await?;
        outcome
    }

    /// What the environments table holds for `request` once it is accepted.
    fn record_of(&self, prepared: &Prepared, request: &Request) -> Result<Record> {
        Ok(Record {
            namespace: prepared.instance.namespace.clone(),
            service: self.service_ref(&request.service)?,
            environment: prepared.environment.name.clone(),
            target: target_name(&prepared.environment.target),
            parameters: request.set.clone(),
            request_id: request.request_id.clone(),
            requested_by: request.requester.entity_ref.clone(),
            status: Status::Applying,
            message: None,
            created_at_millis: 0,
            updated_at_millis: 0,
        })
    }

    /// Deletes the objects an earlier rendering created that `prepared` no longer has.
    async fn prune(
        &self,
        client: &Client,
        prepared: &Prepared,
    ) -> Result<(Vec<String>, Vec<Failure>)> {
        let namespace = &prepared.instance.namespace;
        let stale = leftovers(client, &prepared.bundle, namespace)
            .await
            .map_err(cluster_error)?;
        let mut deleted = Vec::new();
        let mut failed = Vec::new();
        for (resource, name) in stale {
            let api: kube::Api<kube::api::DynamicObject> =
                kube::Api::namespaced_with(client.clone(), namespace, &resource);
            let object = format!("{}/{name}", resource.kind);
            match api.delete(&name, &kube::api::DeleteParams::default()).await {
                Ok(_) => deleted.push(object),
                // Already gone (a resumed task deleting again) is what was wanted.
                Err(kube::Error::Api(e)) if e.code == 404 => deleted.push(object),
                Err(error) => failed.push(Failure {
                    object,
                    message: error.to_string(),
                    conflict: false,
                }),
            }
        }
        Ok((deleted, failed))
    }

    async fn apply_to_cluster(&self, prepared: &Prepared) -> Result<Report> {
        let client = self.client_for(&prepared.environment).await?;
        let (applied, mut failed) = apply_all(&client, &prepared.bundle).await;
        let namespace = prepared.instance.namespace.clone();
        let mut deleted = Vec::new();
        if failed.is_empty() {
            let (gone, not_gone) = self.prune(&client, prepared).await?;
            deleted = gone;
            failed = not_gone;
        }
        Ok(Report {
            namespace,
            applied,
            deleted,
            failed,
            commit: None,
        })
    }

    /// Commits the bundle to the environment's GitOps repository.
    async fn commit(
        &self,
        prepared: &Prepared,
        request: &Request,
        repository: &std::path::Path,
        cluster: &str,
    ) -> Result<Report> {
        let namespace = prepared.instance.namespace.clone();
        let message = format!(
            "Provision {} in {} ({namespace})\n\nRequested by {}.\nRequest-Id: {}\n",
            prepared.instance.service,
            prepared.environment.name,
            request.requester.entity_ref,
            request.request_id
        );
        let committed = gitops::Repository::new(repository.to_path_buf())
            .commit(
                gitops::directory(cluster, &namespace),
                prepared.bundle.clone(),
                author(&request.requester),
                message,
            )
            .await?;
        let mut applied = Vec::new();
        let mut deleted = Vec::new();
        for step in committed.steps {
            let (object, change) = match step {
                Step::Create { object } => (object, Change::Created),
                Step::Update { object, .. } => (object, Change::Updated),
                Step::Unchanged { object } => (object, Change::Unchanged),
                Step::Delete { object } | Step::Conflict { object, .. } => {
                    deleted.push(object);
                    continue;
                }
            };
            applied.push(Applied {
                object,
                change,
                resource_version: String::new(),
            });
        }
        Ok(Report {
            namespace,
            applied,
            deleted,
            failed: Vec::new(),
            commit: committed.commit,
        })
    }

    /// The normalised reference of the component `service`.
    pub(crate) fn service_ref(&self, service: &str) -> Result<String> {
        refs::parse(service, "component", "default")
            .map(|r| r.to_string())
            .map_err(|message| Error::invalid("service", message))
    }

    /// How the environment's cluster loads dashboards.
    fn dashboards_for(&self, environment: &Environment) -> Dashboards {
        match &environment.target {
            Target::Cluster { name } => self
                .config
                .cluster(name)
                .map(|c| c.dashboards)
                .unwrap_or_default(),
            Target::Gitops { .. } => Dashboards::default(),
        }
    }

    async fn client_for(&self, environment: &Environment) -> Result<Client> {
        match &environment.target {
            Target::Cluster { name } => {
                let cluster = self.config.cluster(name).ok_or_else(|| {
                    Error::invalid(
                        "environment",
                        format!(
                            "{} targets cluster {name:?}, which is not configured",
                            environment.name
                        ),
                    )
                })?;
                if let Some(client) = self.clients.get(name) {
                    return Ok(client);
                }
                let client = cluster_client(cluster).await?;
                self.clients.keep(name, &client);
                Ok(client)
            }
            Target::Gitops { repository, .. } => Err(Error::invalid(
                "environment",
                format!(
                    "{} is delivered through the git repository {}, not applied to a cluster",
                    environment.name,
                    repository.display()
                ),
            )),
        }
    }
}

/// Deletes `namespace` and waits until the API server has finished removing it.
async fn delete_namespace(client: Client, namespace: &str) -> Result<()> {
    let api = kube::Api::<k8s_openapi::api::core::v1::Namespace>::all(client);
    match api
        .delete(namespace, &kube::api::DeleteParams::default())
        .await
    {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 404 => return Ok(()),
        Err(other) => return Err(cluster_error(other)),
    }
    let started = std::time::Instant::now();
    while api
        .get_opt(namespace)
        .await
        .map_err(cluster_error)?
        .is_some()
    {
        if started.elapsed() > DESTROY_WAIT {
            return Err(Error::Cluster(format!(
                "{namespace} is still terminating after {} s",
                DESTROY_WAIT.as_secs()
            )));
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    Ok(())
}

/// The name a record gives an environment's target.
fn target_name(target: &Target) -> String {
    match target {
        Target::Cluster { name } => name.clone(),
        Target::Gitops { cluster, .. } => format!("git:{cluster}"),
    }
}

fn author(requester: &Requester) -> Author {
    Author {
        name: requester.name.clone(),
        email: requester.email.clone(),
    }
}

fn cluster_error(error: kube::Error) -> Error {
    Error::Cluster(match error {
        kube::Error::Api(e) => e.message,
        other => other.to_string(),
    })
}

/// The connection settings for `cluster`, from its kubeconfig and context or from the pod's
/// service account.
async fn cluster_config(cluster: &Cluster) -> Result<kube::Config> {
    let unavailable = |what: String| Error::Cluster(format!("{}: {what}", cluster.name));
    match &cluster.kubeconfig {
        Some(path) => {
            let file = Kubeconfig::read_from(path)
                .map_err(|e| unavailable(format!("cannot read {}: {e}", path.display())))?;
            let options = KubeConfigOptions {
                context: cluster.context.clone(),
                ..KubeConfigOptions::default()
            };
            kube::Config::from_custom_kubeconfig(file, &options)
                .await
                .map_err(|e| unavailable(e.to_string()))
        }
        None => kube::Config::incluster().map_err(|e| unavailable(e.to_string())),
    }
}

/// A client for provisioning calls to `cluster`.
pub async fn cluster_client(cluster: &Cluster) -> Result<Client> {
    let mut config = cluster_config(cluster).await?;
    // Provisioning calls are short; an API server that stops answering must fail the operation
    // (which is then reported and can be retried) rather than hang it.
    config.connect_timeout = Some(API_TIMEOUT);
    config.read_timeout = Some(API_TIMEOUT);
    config.write_timeout = Some(API_TIMEOUT);
    config.reset_reader_on_write = true;
    Client::try_from(config).map_err(|e| Error::Cluster(format!("{}: {e}", cluster.name)))
}

/// A client for the reconciler's watches on `cluster`. A watch is quiet for minutes at a time,
/// so it has no read timeout (the API server ends each watch itself after a few minutes).
pub async fn watch_client(cluster: &Cluster) -> Result<Client> {
    let mut config = cluster_config(cluster).await?;
    config.connect_timeout = Some(API_TIMEOUT);
    config.read_timeout = None;
    Client::try_from(config).map_err(|e| Error::Cluster(format!("{}: {e}", cluster.name)))
}
