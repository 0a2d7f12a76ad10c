//! The guardrails as the portal shows them: the starter policies' real verdicts placed next to
//! the fields they name and rendered with their fixes, the plan's warnings, and the platform
//! page as a developer and as a platform admin see it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use causeway_platform::guardrails::{Guardrails, Lookup, Subject, Verdict, evaluate};
use causeway_platform::identity::{Principal, Role};
use causeway_platform::provision::config::ProvisionConfig;
use serde_json::{Value, json};

use super::*;
use crate::model::PlanView;
use crate::server::render_html;
use crate::server::views::environments::Plan;
use crate::server::views::guardrails::Guardrails as GuardrailsPage;

fn guardrails() -> Guardrails {
    Guardrails::fixed(ProvisionConfig::embedded(None, PathBuf::from("var/gitops")))
}

/// An environment request as the provisioning engine describes it to policies.
fn input(environment: &str, cpu_millis: u64, lifecycle: &str, annotations: Value) -> Value {
    json!({
        "subject": "environment",
        "service": {
            "ref": "component:default/payments-api",
            "metadata": { "name": "payments-api", "annotations": annotations },
            "spec": { "lifecycle": lifecycle, "owner": "payments" },
        },
        "owner": { "ref": "group:default/payments", "name": "payments" },
        "requester": { "ref": "user:default/ada", "teams": ["group:default/payments"], "role": "developer" },
        "environment": { "name": environment, "ephemeral": false, "protected": environment == "prod" },
        "request": { "cpuMillis": cpu_millis, "memoryMib": 1024, "pods": 4, "availability": 99.9 },
        "team": {
            "ref": "group:default/payments",
            "environments": [],
            "totals": { "cpuMillis": 0, "memoryMib": 0, "pods": 0 },
        },
    })
}

/// The starter policies' verdicts on `input`.
fn decide(environment: &str, input: &Value) -> Vec<Verdict> {
    evaluate::evaluate(
        &guardrails().current().config.policies,
        Subject::Environment,
        input,
        Lookup {
            environment: Some(environment),
            team: Some("group:default/payments"),
            service: Some("component:default/payments-api"),
            now_millis: 0,
        },
        &[],
    )
    .verdicts
}

/// The plan page of `environment` with the form as typed.
fn plan(environment: &str, typed: &[(&str, &str)]) -> PlanView {
    let config = guardrails().provision();
    let values: BTreeMap<String, String> = typed
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    PlanView {
        service_ref: "component:default/payments-api".to_owned(),
        service_name: "payments-api".to_owned(),
        environment: environment.to_owned(),
        fields: crate::server::environments::fields(
            config.environment(environment).expect("an environment"),
            &values,
        ),
        can_change: true,
        ..PlanView::default()
    }
}

fn denials(verdicts: Vec<Verdict>) -> Vec<Verdict> {
    verdicts
        .into_iter()
        .filter(|v| v.outcome == causeway_platform::guardrails::Outcome::Denied)
        .collect()
}

#[test]
fn a_denial_sits_next_to_the_field_it_names_with_its_fix_and_the_value_typed() {
    let denied = denials(decide("dev", &input("dev", 9000, "production", json!({}))));
    assert_eq!(
        denied.iter().map(|d| d.policy.as_str()).collect::<Vec<_>>(),
        ["ceiling-cpu"]
    );
    let mut page = plan("dev", &[("cpu", "9")]);
    refuse(
        &mut page,
        causeway_platform::Error::PolicyDenied(denied.clone()),
    );
    let cpu = page.fields.iter().find(|f| f.name == "cpu").expect("cpu");
    assert_eq!(cpu.value, "9", "the value typed is kept");
    assert_eq!(cpu.denials.len(), 1);
    assert!(page.denials.is_empty(), "{:?}", page.denials);
    assert!(!page.ok());

    let html = render_html(leptos::view! { <Plan plan=page /> });
    let input = html
        .split("<input")
        .find(|i| i.contains(r#"id="dev-cpu""#))
        .expect("the cpu input");
    assert!(input.contains(r#"aria-invalid="true""#), "{input}");
    assert!(
        input.contains(r#"aria-describedby="dev-cpu-help dev-cpu-error""#),
        "{input}"
    );
    assert!(input.contains(r#"value="9""#), "{input}");
    let error = html
        .split(r#"id="dev-cpu-error""#)
        .nth(1)
        .expect("the cpu error")
        .split("</div>")
        .next()
        .unwrap_or_default();
    assert!(
        error.contains("9000m of CPU is above the ceiling of 8000m for dev"),
        "{error}"
    );
    assert!(
        error.contains("Ask for less CPU, or ask the platform team for a waiver."),
        "{error}"
    );
    assert!(
        !html.contains(r#"data-testid="apply-form""#),
        "nothing to apply"
    );
    // Other fields stay valid.
    assert!(!html.contains(r#"id="dev-memory-error""#));
}

#[test]
fn a_denial_about_the_environment_describes_its_heading_and_others_go_on_top() {
    let mut denied = denials(decide(
        "prod",
        &input("prod", 1000, "experimental", json!({})),
    ));
    assert!(
        denied.iter().any(|d| d.policy == "production-readiness"),
        "{denied:#?}"
    );
    // A policy about a field no form has (written by the platform team, say about a label).
    let mut other = denied[0].clone();
    other.policy = "labels".to_owned();
    other.field = "service.metadata.labels".to_owned();
    other.message = "the service has no tier label".to_owned();
    denied.push(other);
    let mut page = plan("prod", &[]);
    refuse(&mut page, causeway_platform::Error::PolicyDenied(denied));
    assert!(page.fields.iter().all(|f| f.denials.is_empty()));

    let html = render_html(leptos::view! { <Plan plan=page /> });
    assert!(
        html.contains(r#"<h1 aria-describedby="prod-environment-error">"#),
        "{html}"
    );
    let environment = html
        .split(r#"data-testid="environment-denials""#)
        .nth(1)
        .expect("the environment's denials");
    assert!(environment.contains(r#"data-policy="production-readiness""#));
    let top = html
        .split(r#"data-testid="request-denials""#)
        .nth(1)
        .expect("the other denials");
    assert!(top.contains("service.metadata.labels"), "{top}");
    assert!(top.contains("the service has no tier label"), "{top}");
}

#[test]
fn warnings_show_on_the_plan_without_blocking() {
    let verdicts = decide("staging", &input("staging", 1000, "production", json!({})));
    let warned: Vec<Verdict> = verdicts
        .into_iter()
        .filter(|v| v.outcome == causeway_platform::guardrails::Outcome::Warned)
        .collect();
    assert!(
        warned.iter().any(|v| v.policy == "cost-centre"),
        "{warned:#?}"
    );
    let mut page = plan("staging", &[]);
    page.notices = notices(&warned);
    assert!(page.ok(), "a warning does not block");
    let html = render_html(leptos::view! { <Plan plan=page /> });
    assert!(html.contains(r#"data-testid="policy-notices""#));
    assert!(html.contains(r#"data-policy="cost-centre" data-outcome="warned""#));
    assert!(
        html.contains(r#"data-testid="apply-form""#),
        "still applicable"
    );
}

#[test]
fn other_errors_keep_their_form_places() {
    let mut page = plan("dev", &[("pods", "lots")]);
    refuse(
        &mut page,
        causeway_platform::Error::Rejected(vec![causeway_platform::catalog::Problem::new(
            "request",
            None,
            "set.pods",
            "\"lots\" is not valid; expected number of pods",
        )]),
    );
    let pods = page.fields.iter().find(|f| f.name == "pods").expect("pods");
    assert!(pods.error.as_deref().is_some_and(|e| e.contains("lots")));
    assert!(pods.denials.is_empty());
}

#[test]
fn a_denial_crosses_the_portal_boundary_with_its_field_message_and_fix() {
    let denied = denials(decide("dev", &input("dev", 9000, "production", json!({}))));
    let message = denial_message(&denied);
    assert!(message.starts_with(DENIED));
    assert!(
        message.contains(
            "set.cpu: 9000m of CPU is above the ceiling of 8000m for dev (fix: Ask for less CPU"
        ),
        "{message}"
    );
    assert!(message.ends_with("[ceiling-cpu]"), "{message}");
}

fn person(role: Role) -> Principal {
    Principal {
        entity_ref: "user:default/someone".to_owned(),
        display_name: "Someone".to_owned(),
        email: None,
        teams: Vec::new(),
        role,
    }
}

fn platform_page(role: Role) -> String {
    let view =
        futures::executor::block_on(overview(&guardrails(), &person(role), &BTreeMap::new()))
            .expect("the overview");
    assert_eq!(view.active.short_hash.len(), 12);
    assert_eq!(view.active.source, "embedded default");
    assert_eq!(view.history.len(), 1);
    assert!(view.policies.iter().any(|p| p.id == "ceiling-cpu"
        && p.field == "set.cpu"
        && p.applies_to == "environment"
        && !p.fix.is_empty()));
    render_html(leptos::view! { <GuardrailsPage view /> })
}

#[test]
fn the_platform_page_shows_the_revision_and_policies_to_everyone_and_the_controls_to_admins() {
    let developer = platform_page(Role::Developer);
    assert!(developer.contains(r#"data-testid="active-revision""#));
    assert!(developer.contains(r#"data-policy="ceiling-cpu""#));
    assert!(developer.contains(r#"data-testid="no-waivers""#));
    for admin_only in ["reload-form", "bench-link", "waiver-form"] {
        assert!(
            !developer.contains(&format!(r#"data-testid="{admin_only}""#)),
            "{admin_only}"
        );
    }

    let admin = platform_page(Role::PlatformAdmin);
    for admin_only in ["reload-form", "bench-link", "waiver-form"] {
        assert!(
            admin.contains(&format!(r#"data-testid="{admin_only}""#)),
            "{admin_only}"
        );
    }
}

#[test]
fn a_refused_grant_comes_back_next_to_its_field_with_the_values_sent() {
    let params: BTreeMap<String, String> = [
        ("w.policy", "ceiling-cpu"),
        ("w.service", "component:default/payments-api"),
        ("w.reason", "load test"),
        ("w.expires", "2000-01-01"),
        (
            "werr",
            "expires: is in the past; a waiver expires later than now",
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let view = futures::executor::block_on(overview(
        &guardrails(),
        &person(Role::PlatformAdmin),
        &params,
    ))
    .expect("the overview");
    assert_eq!(view.waiver_form.error_field, "expires");
    let html = render_html(leptos::view! { <GuardrailsPage view /> });
    let input = html
        .split("<input")
        .find(|i| i.contains(r#"id="waiver-expires""#))
        .expect("the expiry input");
    assert!(input.contains(r#"aria-invalid="true""#), "{input}");
    assert!(input.contains(r#"value="2000-01-01""#), "{input}");
    assert!(html.contains(r#"id="waiver-expires-error""#));
    assert!(html.contains(r#"value="load test""#));
}
