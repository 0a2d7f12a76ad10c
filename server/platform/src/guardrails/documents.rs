//! Platform configuration as documents: `apiVersion: causeway.dev/v1alpha1` with the kinds
//! `Settings`, `Cluster`, `Environment`, `Approval`, `Policy`, `Waiver` and `Scorecard`, read
//! from one or more files into the engine's configuration. Every problem names its file, line
//! and field, and all of them are reported at once.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::cel;
use super::policy::{KubernetesRule, Parameters, Policy, Severity, Subject};
use super::units::{parse_cpu, parse_duration, parse_memory};
use super::waivers::Waiver;
use crate::catalog::{Problem, refs};
use crate::provision::config::{
    ApprovalRule, Cluster, Dashboards, DriftPolicy, Environment, Expiry, Notifications,
    PodSecurity, ProvisionConfig, Quota, Target,
};

/// The one apiVersion of platform documents.
pub const API_VERSION: &str = "causeway.dev/v1alpha1";
/// The kinds, in the order a configuration is exported.
pub const KINDS: &[&str] = &[
    "Settings",
    "Cluster",
    "Environment",
    "Approval",
    "Policy",
    "Waiver",
    "Scorecard",
];

/// A file of documents: where it came from and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    pub name: String,
    pub text: String,
}

/// Everything the platform team configures.
#[derive(Debug, Clone)]
pub struct PlatformConfig {
    pub provision: ProvisionConfig,
    pub policies: Vec<CompiledPolicy>,
    /// Waivers written in the configuration (others are granted in the portal or API).
    pub waivers: Vec<Waiver>,
    /// The scorecards entities are scored against (`crate::scorecards`).
    pub scorecards: Vec<crate::scorecards::Scorecard>,
}

/// A policy with its expressions compiled.
#[derive(Debug, Clone)]
pub struct CompiledPolicy {
    pub policy: Policy,
    pub expression: cel::Expression,
    pub message: cel::Expression,
}

/// One document's head, read before its kind's spec.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Head {
    #[serde(rename = "apiVersion")]
    api_version: Option<String>,
    kind: Option<String>,
    metadata: Option<Metadata>,
    #[allow(dead_code)]
    spec: Option<serde::de::IgnoredAny>,
}

#[derive(Deserialize, Clone, Default)]
#[serde(deny_unknown_fields)]
struct Metadata {
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    #[allow(dead_code)]
    annotations: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Full<S> {
    #[allow(dead_code)]
    #[serde(rename = "apiVersion")]
    api_version: String,
    #[allow(dead_code)]
    kind: String,
    #[allow(dead_code)]
    metadata: serde::de::IgnoredAny,
    spec: S,
}

/// A number or a string, as YAML writes quantities (`cpu: 2`, `cpu: 1500m`).
#[derive(Deserialize, Clone)]
#[serde(untagged)]
enum Scalar {
    Number(f64),
    Text(String),
}

impl Scalar {
    fn text(&self) -> String {
        match self {
            Self::Number(n) => n.to_string(),
            Self::Text(t) => t.clone(),
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct SettingsSpec {
    dashboard_url: Option<String>,
    kubectl: Option<String>,
    #[serde(default)]
    notifications: Option<NotificationsSpec>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct NotificationsSpec {
    #[serde(default)]
    webhooks: Vec<String>,
    remind_before: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ClusterSpec {
    /// Absent: the pod's own service account (in-cluster).
    kubeconfig: Option<PathBuf>,
    context: Option<String>,
    #[serde(default)]
    dashboards: Dashboards,
    group_prefix: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct QuotaSpec {
    cpu: Scalar,
    memory: Scalar,
    pods: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ContainerSpec {
    cpu: Scalar,
    memory: Scalar,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct GitopsSpec {
    repository: PathBuf,
    cluster: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ExpirySpec {
    ttl: String,
    max: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct EnvironmentSpec {
    cluster: Option<String>,
    gitops: Option<GitopsSpec>,
    quota: QuotaSpec,
    container_default: Option<ContainerSpec>,
    pod_security: PodSecurity,
    #[serde(default)]
    protected: bool,
    #[serde(default)]
    viewers: Vec<String>,
    #[serde(default)]
    ingress_from: Vec<String>,
    #[serde(default)]
    drift: DriftPolicy,
    expiry: Option<ExpirySpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ApprovalSpec {
    environments: Vec<String>,
    approvers: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PolicySpec {
    applies_to: Vec<Subject>,
    #[serde(default)]
    severity: Severity,
    field: String,
    expression: String,
    message: String,
    fix: String,
    #[serde(default)]
    parameters: Parameters,
    kubernetes: Option<KubernetesRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct WaiverSpec {
    policy: String,
    service: String,
    reason: String,
    expires: String,
}

/// One document of a file: where it starts and its text.
struct Chunk<'a> {
    file: &'a str,
    /// Line of the document's first line in its file, from 1.
    first_line: usize,
    text: String,
}

impl Chunk<'_> {
    /// A problem at the line of `field` (its last key, searched in this document).
    fn problem(&self, field: &str, message: impl Into<String>) -> Problem {
        let line = self.line_of(field);
        Problem::new(&format!("{}:{line}", self.file), None, field, message)
    }

    /// The line `field`'s last key is written on, or the document's first line.
    fn line_of(&self, field: &str) -> usize {
        let mut from = 0;
        let mut found = None;
        // Walk the path's keys in order, each searched after the previous one's line, so that
        // `spec.quota.cpu` finds the `cpu:` under `quota:` rather than another `cpu:`.
        let lines: Vec<&str> = self.text.lines().collect();
        for key in field.split('.').filter(|k| !k.is_empty()) {
            let key = key.split('[').next().unwrap_or(key);
            let at = lines.iter().enumerate().skip(from).find(|(_, line)| {
                let trimmed = line.trim_start().trim_start_matches("- ");
                trimmed.starts_with(&format!("{key}:"))
                    || trimmed.starts_with(&format!("\"{key}\":"))
            });
            if let Some((index, _)) = at {
                found = Some(index);
                from = index + 1;
            }
        }
        self.first_line + found.unwrap_or(0)
    }

    fn spec<S: DeserializeOwned>(&self) -> Result<S, Problem> {
        serde_yaml_ng::from_str::<Full<S>>(&self.text)
            .map(|full| full.spec)
            .map_err(|error| self.yaml_problem(&error))
    }

    fn yaml_problem(&self, error: &serde_yaml_ng::Error) -> Problem {
        let line = error
            .location()
            .map_or(self.first_line, |l| self.first_line + l.line() - 1);
        let text = error.to_string();
        let text = text.split(" at line ").next().unwrap_or(&text).to_owned();
        // serde_yaml_ng prefixes the path of the offending value (`spec.quota: …`).
        let (field, message) = match text.split_once(": ") {
            Some((path, rest)) if !path.contains(' ') => (path.to_owned(), rest.to_owned()),
            _ => ("(document)".to_owned(), text.clone()),
        };
        Problem::new(&format!("{}:{line}", self.file), None, &field, message)
    }
}

/// The documents of `file` with their first lines; empty documents are skipped.
fn chunks(file: &File) -> Vec<Chunk<'_>> {
    let mut chunks = Vec::new();
    let mut current = String::new();
    let mut first_line = 1;
    for (index, line) in file.text.lines().enumerate() {
        if line == "---" || line.starts_with("--- ") || line == "..." {
            chunks.push(Chunk {
                file: &file.name,
                first_line,
                text: std::mem::take(&mut current),
            });
            first_line = index + 2;
            continue;
        }
        current.push_str(line);
        current.push('\n');
    }
    chunks.push(Chunk {
        file: &file.name,
        first_line,
        text: current,
    });
    chunks.retain(|c| {
        c.text
            .lines()
            .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
    });
    chunks
}

/// A document read up to its kind.
struct Document<'a> {
    chunk: Chunk<'a>,
    kind: String,
    name: String,
    description: String,
}

/// Reads `files` into a configuration, or every problem found.
pub fn load(files: &[File]) -> Result<PlatformConfig, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut documents = Vec::new();
    let mut seen = BTreeSet::new();
    for file in files {
        for chunk in chunks(file) {
            match head(&chunk) {
                Ok((kind, metadata)) => {
                    let name = metadata.name.clone().unwrap_or_default();
                    if !seen.insert((kind.clone(), name.clone())) {
                        problems.push(chunk.problem(
                            "metadata.name",
                            format!("{kind} {name:?} is defined twice; names are unique per kind"),
                        ));
                        continue;
                    }
                    documents.push(Document {
                        chunk,
                        kind,
                        name,
                        description: metadata.description.unwrap_or_default(),
                    });
                }
                Err(problem) => problems.push(problem),
            }
        }
    }
    let config = build(&documents, &mut problems);
    if problems.is_empty() {
        Ok(config)
    } else {
        Err(problems)
    }
}

fn head(chunk: &Chunk<'_>) -> Result<(String, Metadata), Problem> {
    let head: Head = serde_yaml_ng::from_str(&chunk.text).map_err(|e| chunk.yaml_problem(&e))?;
    if head.api_version.as_deref() != Some(API_VERSION) {
        return Err(chunk.problem(
            "apiVersion",
            format!(
                "is {:?}; expected {API_VERSION}",
                head.api_version.unwrap_or_default()
            ),
        ));
    }
    let kind = head.kind.unwrap_or_default();
    if !KINDS.contains(&kind.as_str()) {
        return Err(chunk.problem(
            "kind",
            format!(
                "{kind:?} is not a platform kind; expected one of {}",
                KINDS.join(", ")
            ),
        ));
    }
    let metadata = head.metadata.unwrap_or_default();
    let name = metadata.name.clone().unwrap_or_default();
    if !is_name(&name) {
        return Err(chunk.problem(
            "metadata.name",
            format!("{name:?} is not a name; expected 1 to 63 lowercase letters, digits or '-', starting with a letter"),
        ));
    }
    Ok((kind, metadata))
}

/// A DNS label starting with a letter: names end up in namespaces, labels and object names.
fn is_name(text: &str) -> bool {
    (1..=63).contains(&text.len())
        && text.starts_with(|c: char| c.is_ascii_lowercase())
        && !text.ends_with('-')
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn build(documents: &[Document<'_>], problems: &mut Vec<Problem>) -> PlatformConfig {
    let of = |kind: &'static str| documents.iter().filter(move |d| d.kind == kind);
    let defaults = ProvisionConfig::embedded(None, PathBuf::new());
    let mut provision = ProvisionConfig {
        clusters: Vec::new(),
        environments: Vec::new(),
        dashboard_url: defaults.dashboard_url,
        kubectl: defaults.kubectl,
        approvals: Vec::new(),
        notifications: defaults.notifications,
    };
    let settings: Vec<_> = of("Settings").collect();
    if settings.len() > 1 {
        problems.push(
            settings[1]
                .chunk
                .problem("kind", "Settings is given twice; at most one is allowed"),
        );
    }
    if let Some(document) = settings.first() {
        settings_into(document, &mut provision, problems);
    }
    for document in of("Cluster") {
        match document.chunk.spec::<ClusterSpec>() {
            Ok(spec) => provision.clusters.push(Cluster {
                name: document.name.clone(),
                kubeconfig: spec.kubeconfig,
                context: spec.context,
                dashboards: spec.dashboards,
                group_prefix: spec.group_prefix,
            }),
            Err(problem) => problems.push(problem),
        }
    }
    for document in of("Environment") {
        if let Some(environment) = environment(document, &provision, problems) {
            provision.environments.push(environment);
        }
    }
    if provision.environments.is_empty() && !documents.is_empty() {
        problems.push(Problem::new(
            documents[0].chunk.file,
            None,
            "kind",
            "no Environment is defined; a configuration needs at least one",
        ));
    }
    let environments: BTreeSet<&str> = provision
        .environments
        .iter()
        .map(|e| e.name.as_str())
        .collect();
    for document in of("Approval") {
        match document.chunk.spec::<ApprovalSpec>() {
            Ok(spec) => {
                check_environments(
                    document,
                    "spec.environments",
                    &spec.environments,
                    &environments,
                    problems,
                );
                let approvers = groups(document, "spec.approvers", &spec.approvers, problems);
                if approvers.is_empty() {
                    problems.push(
                        document
                            .chunk
                            .problem("spec.approvers", "is empty; name at least one group"),
                    );
                }
                provision.approvals.push(ApprovalRule {
                    name: document.name.clone(),
                    environments: spec.environments,
                    approvers,
                });
            }
            Err(problem) => problems.push(problem),
        }
    }
    let policies: Vec<CompiledPolicy> = of("Policy")
        .filter_map(|d| policy(d, &environments, problems))
        .collect();
    let ids: BTreeSet<&str> = policies.iter().map(|p| p.policy.id.as_str()).collect();
    let waivers = of("Waiver")
        .filter_map(|d| waiver(d, &ids, problems))
        .collect();
    let scorecards = of("Scorecard")
        .filter_map(|d| scorecard(d, problems))
        .collect();
    PlatformConfig {
        provision,
        policies,
        waivers,
        scorecards,
    }
}

/// A `Scorecard` document, checked by `crate::scorecards::definition`.
fn scorecard(
    document: &Document<'_>,
    problems: &mut Vec<Problem>,
) -> Option<crate::scorecards::Scorecard> {
    let spec = document.chunk.spec().map_err(|p| problems.push(p)).ok()?;
    crate::scorecards::definition::compile(
        &document.name,
        &document.description,
        spec,
        &mut |field, message| problems.push(document.chunk.problem(field, message)),
    )
}

fn settings_into(
    document: &Document<'_>,
    provision: &mut ProvisionConfig,
    problems: &mut Vec<Problem>,
) {
    let spec = match document.chunk.spec::<SettingsSpec>() {
        Ok(spec) => spec,
        Err(problem) => return problems.push(problem),
    };
    if let Some(url) = spec.dashboard_url {
        provision.dashboard_url = url;
    }
    if let Some(kubectl) = spec.kubectl {
        provision.kubectl = kubectl;
    }
    if let Some(notifications) = spec.notifications {
        for (index, hook) in notifications.webhooks.iter().enumerate() {
            if url::Url::parse(hook).map_or(true, |u| !matches!(u.scheme(), "http" | "https")) {
                problems.push(document.chunk.problem(
                    &format!("spec.notifications.webhooks[{index}]"),
                    format!("{hook:?} is not an http(s) URL"),
                ));
            }
        }
        let remind = notifications.remind_before.as_deref().map(|text| {
            parse_duration(text).unwrap_or_else(|| {
                problems.push(document.chunk.problem(
                    "spec.notifications.remindBefore",
                    format!("{text:?} is not a duration; expected e.g. 24h, 30m or 2d"),
                ));
                0
            })
        });
        provision.notifications = Notifications {
            webhooks: notifications.webhooks,
            remind_before_seconds: remind.unwrap_or(provision.notifications.remind_before_seconds),
        };
    }
}

fn environment(
    document: &Document<'_>,
    provision: &ProvisionConfig,
    problems: &mut Vec<Problem>,
) -> Option<Environment> {
    let spec = document
        .chunk
        .spec::<EnvironmentSpec>()
        .map_err(|p| problems.push(p))
        .ok()?;
    let chunk = &document.chunk;
    let target = match (spec.cluster, spec.gitops) {
        (Some(cluster), None) => {
            if provision.cluster(&cluster).is_none() {
                problems.push(chunk.problem(
                    "spec.cluster",
                    format!("{cluster:?} is not a Cluster of this configuration"),
                ));
            }
            Target::Cluster { name: cluster }
        }
        (None, Some(gitops)) => Target::Gitops {
            repository: gitops.repository,
            cluster: gitops.cluster,
        },
        _ => {
            problems.push(chunk.problem(
                "spec.cluster",
                "give exactly one of spec.cluster (a Cluster's name) or spec.gitops",
            ));
            return None;
        }
    };
    let cpu = |field: &str, value: &Scalar, problems: &mut Vec<Problem>| {
        parse_cpu(&value.text()).unwrap_or_else(|| {
            problems.push(chunk.problem(
                field,
                format!(
                    "{:?} is not a CPU quantity; expected e.g. 2 or 1500m",
                    value.text()
                ),
            ));
            0
        })
    };
    let memory = |field: &str, value: &Scalar, problems: &mut Vec<Problem>| {
        parse_memory(&value.text()).unwrap_or_else(|| {
            problems.push(chunk.problem(
                field,
                format!(
                    "{:?} is not a memory quantity; expected e.g. 512Mi or 4Gi",
                    value.text()
                ),
            ));
            0
        })
    };
    let quota = Quota {
        cpu_millis: cpu("spec.quota.cpu", &spec.quota.cpu, problems),
        memory_mib: memory("spec.quota.memory", &spec.quota.memory, problems),
        pods: spec.quota.pods,
    };
    let container_default = match &spec.container_default {
        Some(c) => (
            cpu("spec.containerDefault.cpu", &c.cpu, problems),
            memory("spec.containerDefault.memory", &c.memory, problems),
        ),
        None => (100, 128),
    };
    let expiry = spec.expiry.as_ref().and_then(|e| {
        let ttl = parse_duration(&e.ttl);
        let max = parse_duration(&e.max);
        if ttl.is_none() {
            problems.push(chunk.problem("spec.expiry.ttl", format!("{:?} is not a duration; expected e.g. 72h or 3d", e.ttl)));
        }
        if max.is_none() {
            problems.push(chunk.problem("spec.expiry.max", format!("{:?} is not a duration; expected e.g. 7d", e.max)));
        }
        let (ttl, max) = (ttl?, max?);
        if max < ttl {
            problems.push(chunk.problem("spec.expiry.max", "is shorter than spec.expiry.ttl; the longest extension cannot be below the time to live"));
        }
        if spec.protected {
            problems.push(chunk.problem("spec.expiry", "a protected environment cannot expire; remove spec.expiry or spec.protected"));
        }
        Some(Expiry {
            ttl_seconds: ttl,
            max_seconds: max,
        })
    });
    let viewers = groups(document, "spec.viewers", &spec.viewers, problems);
    Some(Environment {
        name: document.name.clone(),
        target,
        quota,
        container_default,
        pod_security: spec.pod_security,
        protected: spec.protected,
        viewers,
        ingress_from: spec.ingress_from,
        drift: spec.drift,
        expiry,
    })
}

/// Group references, normalised (`platform` → `group:default/platform`).
fn groups(
    document: &Document<'_>,
    field: &str,
    refs_: &[String],
    problems: &mut Vec<Problem>,
) -> Vec<String> {
    refs_
        .iter()
        .enumerate()
        .filter_map(
            |(index, text)| match refs::parse(text, "group", "default") {
                Ok(parsed) if parsed.starts_with("group:") => Some(parsed),
                Ok(parsed) => {
                    problems.push(document.chunk.problem(
                        &format!("{field}[{index}]"),
                        format!("{parsed} is not a group"),
                    ));
                    None
                }
                Err(message) => {
                    problems.push(
                        document
                            .chunk
                            .problem(&format!("{field}[{index}]"), message),
                    );
                    None
                }
            },
        )
        .collect()
}

fn check_environments(
    document: &Document<'_>,
    field: &str,
    names: &[String],
    known: &BTreeSet<&str>,
    problems: &mut Vec<Problem>,
) {
    for (index, name) in names.iter().enumerate() {
        if !known.contains(name.as_str()) {
            problems.push(document.chunk.problem(
                &format!("{field}[{index}]"),
                format!("{name:?} is not an Environment of this configuration"),
            ));
        }
    }
}

fn policy(
    document: &Document<'_>,
    environments: &BTreeSet<&str>,
    problems: &mut Vec<Problem>,
) -> Option<CompiledPolicy> {
    let spec = document
        .chunk
        .spec::<PolicySpec>()
        .map_err(|p| problems.push(p))
        .ok()?;
    let chunk = &document.chunk;
    let before = problems.len();
    if spec.applies_to.is_empty() {
        problems.push(chunk.problem(
            "spec.appliesTo",
            "is empty; expected environment, template and/or import",
        ));
    }
    if spec.field.trim().is_empty() {
        problems.push(chunk.problem(
            "spec.field",
            "is empty; name the form field the policy concerns (e.g. set.cpu)",
        ));
    }
    if spec.fix.trim().is_empty() {
        problems.push(chunk.problem("spec.fix", "is empty; say what a person can do to comply"));
    }
    let mut compile = |field: &str, source: &str| {
        cel::compile(source)
            .map_err(|reason| problems.push(chunk.problem(field, reason)))
            .ok()
    };
    let expression = compile("spec.expression", &spec.expression);
    let message = compile("spec.message", &spec.message);
    if let Some(rule) = &spec.kubernetes {
        compile("spec.kubernetes.expression", &rule.expression);
        compile("spec.kubernetes.message", &rule.message);
        if rule.resources.is_empty() {
            problems.push(chunk.problem(
                "spec.kubernetes.resources",
                "is empty; name the resources the rule governs",
            ));
        }
    }
    let named: Vec<String> = spec.parameters.environments.keys().cloned().collect();
    check_environments(
        document,
        "spec.parameters.environments",
        &named,
        environments,
        problems,
    );
    for team in spec.parameters.teams.keys() {
        if refs::parse(team, "group", "default").is_err() {
            problems.push(chunk.problem(
                "spec.parameters.teams",
                format!("{team:?} is not a group reference"),
            ));
        }
    }
    let (Some(expression), Some(message)) = (expression, message) else {
        return None;
    };
    if problems.len() > before {
        return None;
    }
    Some(CompiledPolicy {
        policy: Policy {
            id: document.name.clone(),
            description: document.description.clone(),
            applies_to: spec.applies_to,
            severity: spec.severity,
            field: spec.field,
            expression: spec.expression,
            message: spec.message,
            fix: spec.fix,
            parameters: spec.parameters,
            kubernetes: spec.kubernetes,
        },
        expression,
        message,
    })
}

fn waiver(
    document: &Document<'_>,
    policies: &BTreeSet<&str>,
    problems: &mut Vec<Problem>,
) -> Option<Waiver> {
    let spec = document
        .chunk
        .spec::<WaiverSpec>()
        .map_err(|p| problems.push(p))
        .ok()?;
    let chunk = &document.chunk;
    let before = problems.len();
    if !policies.contains(spec.policy.as_str()) {
        problems.push(chunk.problem(
            "spec.policy",
            format!("{:?} is not a Policy of this configuration", spec.policy),
        ));
    }
    let service = refs::parse(&spec.service, "component", "default")
        .map(|r| r.to_string())
        .map_err(|m| problems.push(chunk.problem("spec.service", m)))
        .ok();
    if spec.reason.trim().is_empty() {
        problems.push(chunk.problem("spec.reason", "is empty; a waiver says why"));
    }
    let expires = spec
        .expires
        .parse::<k8s_openapi::jiff::Timestamp>()
        .map(|t| t.as_millisecond())
        .map_err(|_| {
            problems.push(chunk.problem(
                "spec.expires",
                format!(
                    "{:?} is not an RFC 3339 time; expected e.g. 2027-01-31T00:00:00Z",
                    spec.expires
                ),
            ))
        })
        .ok();
    if problems.len() > before {
        return None;
    }
    Some(Waiver {
        id: format!("config:{}", document.name),
        policy: spec.policy,
        service: service?,
        reason: spec.reason,
        expires_at_millis: expires?,
        granted_by: "platform configuration".to_owned(),
        granted_at_millis: 0,
    })
}
