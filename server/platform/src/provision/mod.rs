//! The provisioning engine: a service's environment on Kubernetes, rendered from the catalog and
//! the platform team's configuration, checked against the guardrails, and applied with
//! server-side apply.
//!
//! `prepare` does everything that touches nothing (lookup, guardrails, rendering), so that every
//! door (REST, CLI, portal, tasks) can show the same answer before anything changes.

mod access;
pub mod admission;
pub mod apply;
pub mod approvals;
pub mod bundle;
mod cluster;
pub mod config;
pub mod delivery;
pub mod destroy;
pub mod drift;
pub mod expiry;
pub mod gitops;
pub mod guardrails;
pub mod kubeconfig;
pub mod naming;
pub mod observability;
pub mod ownership;
pub mod plan;
pub mod policies;
pub mod records;
pub mod tasks;

use std::collections::BTreeMap;
use std::sync::Arc;

use kube::Client;
use serde::Serialize;
use serde_json::Value;

use self::apply::{Applied, Change, Failure, apply_all};
use self::bundle::{Desired, Instance, render};
use self::cluster::{Clients, cluster_error, delete_namespace};
pub use self::cluster::{cluster_client, watch_client};
use self::config::{Cluster, Environment, ProvisionConfig, Target};
use self::gitops::Author;
use self::ownership::LiveNamespace;
use self::plan::{Step, leftovers, plan_one};
use self::records::{Drift, Record, Records, Status};
use crate::audit::AuditLog;
use crate::catalog::{Catalog, Problem, refs};
use crate::guardrails::Guardrails;
use crate::identity::Principal;
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
    /// Take over an existing namespace Causeway did not create (platform admins only; audited).
    pub adopt: bool,
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
    /// The request may adopt an existing namespace (see [`Request::adopt`]).
    pub adopt: bool,
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
    /// The policies' warnings and waived denials (a denied request has no plan).
    pub policies: Vec<crate::guardrails::Verdict>,
}

/// What the catalog says about a component.
struct Component {
    name: String,
    /// Its normalised entity reference.
    entity_ref: String,
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
    /// The platform configuration in force (clusters, environments, policies); it may be
    /// reloaded between two requests, so each request takes one snapshot.
    guardrails: Guardrails,
    catalog: Catalog,
    /// Resolves a requester's teams and role for the policies.
    directory: crate::identity::Directory,
    records: Records,
    audit: AuditLog,
    /// Who runs the drift reconciler among the replicas.
    leases: crate::leases::Leases,
    /// This process's name as a lease holder.
    replica: String,
    /// One client per cluster, so that its connections (and their TLS sessions) are reused
    /// across requests instead of opened for each.
    clients: Clients,
    /// Applies waiting for an approver, each bound to its plan.
    approvals: approvals::Table,
    /// Tells the configured webhooks about approvals.
    notifier: crate::notify::Notifier,
    /// The service's scorecard levels, which environment policies see.
    scorecards: crate::scorecards::Scorecards,
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
    /// An engine for the fixed configuration `config` with the starter policies (tests, tools).
    pub fn new(config: ProvisionConfig, platform: &Platform) -> Self {
        let guardrails = Guardrails::new(config, platform.store.clone(), platform.audit.clone());
        Self::with_guardrails(guardrails, platform)
    }

    /// An engine that follows the platform configuration of `guardrails`.
    pub fn with_guardrails(guardrails: Guardrails, platform: &Platform) -> Self {
        Self {
            catalog: platform.catalog.clone(),
            directory: platform.directory.clone(),
            records: Records::new(platform.store.clone()),
            audit: platform.audit.clone(),
            leases: crate::leases::Leases::new(platform.store.clone()),
            replica: uuid::Uuid::new_v4().to_string(),
            clients: Clients::default(),
            approvals: approvals::Table::new(platform.store.clone()),
            notifier: crate::notify::Notifier::new(),
            scorecards: crate::scorecards::Scorecards::new(
                platform.store.clone(),
                platform.catalog.clone(),
                guardrails.clone(),
                platform.delivery.clone(),
            ),
            guardrails,
        }
    }

    /// The environments provisioned so far.
    pub fn records(&self) -> &Records {
        &self.records
    }

    /// A snapshot of the provisioning configuration in force.
    pub fn config(&self) -> Arc<ProvisionConfig> {
        self.guardrails.provision()
    }

    /// The platform configuration and its policies.
    pub fn guardrails(&self) -> &Guardrails {
        &self.guardrails
    }

    /// Looks the service up, holds the request to the guardrails and renders its objects; every
    /// problem is reported at once, each naming its field.
    pub fn prepare(&self, request: &Request) -> Result<Prepared> {
        let mut problems = Vec::new();
        let config = self.config();
        let environment = config.environment(&request.environment);
        if environment.is_none() {
            let known: Vec<&str> = config
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
        let instance = Instance {
            namespace: naming::namespace(&component.name, &environment.name),
            service_ref: component.entity_ref,
            service: component.name,
            team: component.team,
            cost_centre: component.cost_centre,
            quota: asked.quota,
            availability: asked.availability,
            repository: component.repository,
            request_id: request.request_id.clone(),
        };
        let cluster = self.cluster_for(environment);
        let bundle = render(
            &instance,
            environment,
            cluster.as_ref().map(|c| c.dashboards).unwrap_or_default(),
            cluster.as_ref().and_then(|c| c.group_prefix.as_deref()),
        );
        Ok(Prepared {
            environment: environment.clone(),
            owner: component.owner.clone(),
            instance,
            bundle,
            adopt: request.adopt,
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
        if entity.kind() != "Component" {
            return Err(vec![problem(
                "service",
                format!(
                    "{entity_ref} is of kind {}; environments are for components",
                    entity.kind()
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
                entity_ref: entity_ref.to_string(),
                name: entity.name().to_lowercase(),
                owner,
                team: team_name,
                cost_centre,
                repository: delivery::repository(&annotations),
            })
        } else {
            Err(problems)
        }
    }

    /// What applying the request would change, object by object, once the policies allow it.
    pub async fn plan(&self, request: &Request) -> Result<Plan> {
        let prepared = self.prepare(request)?;
        let decision = self.check_policies(request, &prepared).await?;
        let mut plan = self.plan_prepared(&prepared).await?;
        plan.policies = decision.notices().cloned().collect();
        Ok(plan)
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
                        self.gitops_owner_of(prepared).await?,
                    )
                    .await?
            }
            Target::Cluster { .. } => {
                let client = self.client_for(&prepared.environment).await?;
                let live = self.live_namespace_of(&client, prepared).await?;
                let mut steps = Vec::new();
                for desired in &prepared.bundle {
                    steps.push(plan_one(&client, desired).await.map_err(cluster_error)?);
                }
                if let LiveNamespace::Foreign { reason, .. } = &live {
                    // Shown as it will be answered: refused, unless an admin adopts it.
                    let message = if prepared.adopt {
                        format!("adopted on apply: {reason}")
                    } else {
                        format!(
                            "not Causeway's ({reason}); an apply is refused unless a platform admin adopts it"
                        )
                    };
                    if let Some(first) = steps.first_mut() {
                        *first = Step::Conflict {
                            object: prepared.bundle[0].describe(),
                            message,
                        };
                    }
                } else {
                    // Leftovers are only Causeway's to remove in a namespace that is its own.
                    let stale = leftovers(&client, &prepared.bundle, namespace)
                        .await
                        .map_err(cluster_error)?;
                    steps.extend(stale.into_iter().map(|(resource, name)| Step::Delete {
                        object: format!("{}/{name}", resource.kind),
                    }));
                }
                steps
            }
        };
        Ok(Plan {
            pipeline_run: bundle::pipeline_run(&prepared.instance, "main"),
            namespace: namespace.clone(),
            environment: prepared.environment.name.clone(),
            steps,
            policies: Vec::new(),
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
        self.check_policies(request, &prepared).await?;
        let namespace = prepared.instance.namespace.clone();
        self.guard_namespace(&namespace, &self.service_ref(&request.service)?)
            .await?;
        let live = self.check_target(&prepared).await?;
        self.records
            .begin(&self.record_of(&prepared, request)?, None)
            .await?;
        let outcome = match &prepared.environment.target {
            Target::Gitops {
                repository,
                cluster,
            } => self.commit(&prepared, request, repository, cluster).await,
            Target::Cluster { .. } => {
                self.apply_to_cluster(&prepared, request, live.as_ref())
                    .await
            }
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
            .set_status(&namespace, status, message.as_deref(), None)
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
            task_id: None,
            created_at_millis: 0,
            updated_at_millis: 0,
            // Kept by `Records::begin` while an earlier expiry still runs.
            expires_at_millis: expiry::first_expiry(
                &prepared.environment,
                crate::time::now_millis(),
            ),
            reminded_at_millis: None,
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

    /// Checks the target before anything is recorded: a cluster's live namespace, or a GitOps
    /// directory, must be this service's (or, for a cluster, adopted by the request). Returns
    /// the live namespace for a cluster.
    pub(crate) async fn check_target(&self, prepared: &Prepared) -> Result<Option<LiveNamespace>> {
        match &prepared.environment.target {
            Target::Cluster { .. } => {
                let client = self.client_for(&prepared.environment).await?;
                Ok(Some(self.check_live(&client, prepared).await?))
            }
            Target::Gitops {
                repository,
                cluster,
            } => {
                gitops::Repository::new(repository.clone())
                    .check(
                        gitops::directory(cluster, &prepared.instance.namespace),
                        self.gitops_owner_of(prepared).await?,
                    )
                    .await?;
                Ok(None)
            }
        }
    }

    /// What the GitOps directory of `prepared` must hold to be its service's.
    async fn gitops_owner_of(&self, prepared: &Prepared) -> Result<gitops::Owner> {
        self.gitops_owner(
            &prepared.instance.namespace,
            &prepared.instance.service,
            &prepared.instance.service_ref,
        )
        .await
    }

    /// The live namespace of `prepared`, judged for its service.
    pub(crate) async fn live_namespace_of(
        &self,
        client: &Client,
        prepared: &Prepared,
    ) -> Result<LiveNamespace> {
        self.live_namespace(
            client,
            &prepared.instance.namespace,
            &prepared.instance.service,
            &prepared.instance.service_ref,
        )
        .await
    }

    /// The live namespace of `prepared`, refused when it is somebody else's and the request does
    /// not adopt it.
    pub(crate) async fn check_live(
        &self,
        client: &Client,
        prepared: &Prepared,
    ) -> Result<LiveNamespace> {
        let live = self.live_namespace_of(client, prepared).await?;
        if !prepared.adopt {
            live.require_ours(&prepared.instance.namespace, &prepared.instance.service_ref)?;
        }
        Ok(live)
    }

    async fn apply_to_cluster(
        &self,
        prepared: &Prepared,
        request: &Request,
        live: Option<&LiveNamespace>,
    ) -> Result<Report> {
        let client = self.client_for(&prepared.environment).await?;
        let adopting = matches!(live, Some(LiveNamespace::Foreign { .. }));
        if let (true, Some(live)) = (adopting, live) {
            self.audit_adoption(request, &prepared.instance.namespace, live)
                .await?;
        }
        let (applied, mut failed) = apply_all(&client, &prepared.bundle, adopting).await;
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
                self.gitops_owner_of(prepared).await?,
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
    /// The cluster an environment is applied to directly; none for a GitOps target, whose
    /// objects are rendered with the defaults.
    fn cluster_for(&self, environment: &Environment) -> Option<Cluster> {
        match &environment.target {
            Target::Cluster { name } => self.config().cluster(name).cloned(),
            Target::Gitops { .. } => None,
        }
    }
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
