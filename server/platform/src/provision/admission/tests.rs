use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{Value, json};

use super::super::bundle::{self, Desired, Instance};
use super::super::config::{Dashboards, ProvisionConfig, Quota};
use super::*;
use crate::guardrails::policy::{KubernetesRule, Parameters, ResourceRule, Severity, Subject};

const QUOTA_RULE: &str = "!has(object.spec.hard) || ['requests.cpu', 'requests.memory', 'pods'].all(k, \
    !(k in object.spec.hard) || !(k in params.data) || \
    !quantity(string(object.spec.hard[k])).isGreaterThan(quantity(params.data[k])))";
const QUOTA_MESSAGE: &str = "'ResourceQuota ' + object.metadata.name + ' exceeds the ceiling of the ' + \
    namespaceObject.metadata.labels['causeway.dev/environment'] + ' environment: ' + \
    ['requests.cpu', 'requests.memory', 'pods'].filter(k, k in object.spec.hard && k in params.data && \
    quantity(string(object.spec.hard[k])).isGreaterThan(quantity(params.data[k]))) \
    .map(k, k + ' ' + string(object.spec.hard[k]) + ' > ' + params.data[k]).join(', ')";

fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), json!(v)))
        .collect()
}

fn quota_policy() -> Policy {
    Policy {
        id: "quota-ceiling".to_owned(),
        description: String::new(),
        applies_to: vec![Subject::Environment],
        severity: Severity::Deny,
        field: "set.cpu".to_owned(),
        expression: "true".to_owned(),
        message: "''".to_owned(),
        fix: String::new(),
        parameters: Parameters {
            default: values(&[
                ("requests.cpu", "8"),
                ("requests.memory", "16Gi"),
                ("pods", "80"),
            ]),
            environments: BTreeMap::from([(
                "staging".to_owned(),
                values(&[("requests.cpu", "1")]),
            )]),
            teams: BTreeMap::from([(
                "group:default/payments".to_owned(),
                values(&[("pods", "10")]),
            )]),
        },
        kubernetes: Some(KubernetesRule {
            resources: vec![ResourceRule {
                api_groups: vec![String::new()],
                resources: vec!["resourcequotas".to_owned()],
                operations: Vec::new(),
            }],
            expression: QUOTA_RULE.to_owned(),
            message: QUOTA_MESSAGE.to_owned(),
        }),
    }
}

fn config() -> ProvisionConfig {
    ProvisionConfig::embedded(None, PathBuf::from("unused"))
}

/// The bundle provisioning renders for `team`'s service in `environment`.
fn bundle(environment: &str, team: &str, cpu_millis: u64) -> Vec<Desired> {
    let config = config();
    let environment = config
        .environment(environment)
        .expect("environment")
        .clone();
    let instance = Instance {
        service: "ledger".to_owned(),
        service_ref: "component:default/ledger".to_owned(),
        team: team.to_owned(),
        cost_centre: None,
        namespace: format!("ledger-{}", environment.name),
        quota: Quota {
            cpu_millis,
            memory_mib: 4096,
            pods: 20,
        },
        availability: 99.9,
        repository: None,
        request_id: "req-1".to_owned(),
    };
    bundle::render(&instance, &environment, Dashboards::Operator, None)
}

#[test]
fn renders_one_validation_per_enforced_policy_and_parameters_per_environment_and_team() {
    let mut warn_only = quota_policy();
    warn_only.id = "warn-only".to_owned();
    warn_only.severity = Severity::Warn;
    let rendered = render(&[quota_policy(), warn_only], &config()).expect("renders");
    let spec = rendered.policy.spec.expect("spec");
    let validations = spec.validations.expect("validations");
    assert_eq!(validations.len(), 1, "warn policies are not enforced");
    assert_eq!(
        validations[0].message_expression.as_deref(),
        Some(QUOTA_MESSAGE)
    );
    assert!(
        validations[0]
            .expression
            .ends_with(&format!("({QUOTA_RULE})"))
    );
    let names: Vec<&str> = rendered
        .parameters
        .iter()
        .filter_map(|p| p.metadata.name.as_deref())
        .collect();
    let expected: Vec<String> = config()
        .environments
        .iter()
        .flat_map(|e| {
            [
                format!("quota-ceiling.{}", e.name),
                format!("quota-ceiling.{}.payments", e.name),
            ]
        })
        .collect();
    assert_eq!(names, expected);
    assert_eq!(names[3], "quota-ceiling.staging.payments");
    let staging_payments = &rendered.parameters[3];
    let data = staging_payments.data.clone().expect("data");
    // The environment's value, then the team's, over the defaults.
    assert_eq!(data["requests.cpu"], "1");
    assert_eq!(data["pods"], "10");
    assert_eq!(data["requests.memory"], "16Gi");
    let annotations = rendered.parameters[0]
        .metadata
        .annotations
        .clone()
        .expect("annotations");
    assert_eq!(annotations[TEAMS_WITH_OWN_ANNOTATION], ",payments,");

    // Nothing to enforce: the placeholder, which holds nothing.
    let empty = render(&[], &config()).expect("renders");
    let validations = empty
        .policy
        .spec
        .and_then(|s| s.validations)
        .expect("validations");
    assert_eq!(validations[0].expression, "true");
    assert!(empty.parameters.is_empty());
}

#[test]
fn refuses_policies_that_cannot_become_admission_objects() {
    let mut bad = quota_policy();
    bad.id = "Quota Ceiling".to_owned();
    if let Some(rule) = bad.kubernetes.as_mut() {
        rule.expression = "object.spec.hard[".to_owned();
        rule.resources[0].resources = vec!["pods/exec".to_owned()];
    }
    let error = render(&[bad], &config()).expect_err("refused").to_string();
    assert!(error.contains("kubernetes.id"), "{error}");
    assert!(
        error.contains("kubernetes.expression: is not valid CEL"),
        "{error}"
    );
    assert!(error.contains("subresources are not supported"), "{error}");
}

#[test]
fn checks_a_bundle_with_the_parameters_and_message_the_api_server_uses() {
    let policies = [quota_policy()];
    assert_eq!(
        check_bundle(
            &policies,
            &bundle("dev", "team-a", 2000),
            "dev",
            "group:default/team-a"
        ),
        Vec::new()
    );
    let found = check_bundle(
        &policies,
        &bundle("staging", "team-a", 2000),
        "staging",
        "team-a",
    );
    assert_eq!(
        found,
        vec![Violation {
            policy: "quota-ceiling".to_owned(),
            severity: Severity::Deny,
            object: "ResourceQuota/causeway-quota".to_owned(),
            message:
                "ResourceQuota causeway-quota exceeds the ceiling of the staging environment: \
                      requests.cpu 2 > 1"
                    .to_owned(),
        }]
    );
    // The team's own values apply to its namespaces only.
    let payments = check_bundle(
        &policies,
        &bundle("dev", "payments", 2000),
        "dev",
        "group:default/payments",
    );
    assert_eq!(payments.len(), 1, "{payments:?}");
    assert!(
        payments[0].message.ends_with("pods 20 > 10"),
        "{payments:?}"
    );
}

#[test]
fn a_message_that_fails_falls_back_as_the_api_server_does() {
    let mut policy = quota_policy();
    if let Some(rule) = policy.kubernetes.as_mut() {
        rule.expression = "false".to_owned();
        rule.message = "object.missing.field".to_owned();
    }
    let found = check_bundle(&[policy], &bundle("dev", "team-a", 2000), "dev", "team-a");
    assert_eq!(
        found[0].message,
        "denied by the platform policy quota-ceiling"
    );
}
