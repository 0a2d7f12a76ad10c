//! Policy benchmark, run by `make bench-policies` (release build):
//!
//! 1. evaluating 50 policies for one environment request, the way every plan and apply does
//!    (the request's input turned into CEL values once, then each policy's expression, its
//!    parameters resolved for the environment and team, and the message of each that fails):
//!    p50, p99 and max over `RUNS` requests;
//! 2. reading and compiling a configuration of 1,000 policies (YAML parsed, every document
//!    checked, every CEL expression compiled), as a reload does: the median and worst of
//!    `LOADS` loads.
//!
//! The 50 and the 1,000 policies are the embedded starter policies repeated under new names, so
//! they are the expressions a platform team starts from.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use causeway_platform::guardrails::{self, File, Lookup, Subject, documents, evaluate};
use causeway_platform::provision::config::ProvisionConfig;
use serde_json::json;

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The embedded environments and `count` policies made from the starter ones.
fn files(count: usize) -> Vec<File> {
    let provision = ProvisionConfig::embedded(None, PathBuf::from("var/gitops"));
    let mut files = guardrails::default_files(&provision);
    let starters: Vec<&str> = guardrails::DEFAULT_POLICIES
        .split("\n---\n")
        .filter(|d| d.contains("kind: Policy"))
        .collect();
    let mut text = String::new();
    for index in 0..count {
        let starter = starters[index % starters.len()];
        let name = starter
            .lines()
            .find_map(|l| l.trim().strip_prefix("name: "))
            .unwrap_or("policy");
        text.push_str(&starter.replacen(
            &format!("name: {name}"),
            &format!("name: {name}-{index}"),
            1,
        ));
        text.push_str("\n---\n");
    }
    files.retain(|f| !f.name.ends_with("policies.yaml"));
    files.push(File {
        name: "policies.yaml".to_owned(),
        text,
    });
    files
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn millis(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let runs = env_number("RUNS", 20_000);
    let loads = env_number("LOADS", 10);
    let config = documents::load(&files(50)).expect("50 policies load");
    assert_eq!(config.policies.len(), 50);
    let environments: Vec<serde_json::Value> = (0..20)
        .map(|i| {
            json!({"service": format!("component:default/s{i}"), "environment": "dev",
                   "ephemeral": i % 4 == 0, "cpuMillis": 1000, "memoryMib": 1024, "pods": 4})
        })
        .collect();
    let input = json!({
        "subject": "environment",
        "now": "2026-12-07T10:00:00Z",
        "service": {
            "ref": "component:default/payments-api",
            "apiVersion": "backstage.io/v1alpha1",
            "kind": "Component",
            "metadata": {"name": "payments-api", "annotations": {"causeway.dev/on-call": "pager"},
                          "labels": {}, "tags": ["java", "pci"]},
            "spec": {"type": "service", "lifecycle": "production", "owner": "payments"},
        },
        "owner": {"ref": "group:default/payments", "name": "payments", "entity": {}},
        "requester": {"ref": "user:default/ada", "name": "Ada", "email": "ada@example.com",
                       "role": "developer", "teams": ["group:default/payments"]},
        "environment": {"name": "staging", "protected": false, "ephemeral": false,
                         "podSecurity": "restricted",
                         "quota": {"cpuMillis": 4000, "memoryMib": 8192, "pods": 40}},
        "request": {"cpuMillis": 4000, "memoryMib": 8192, "pods": 40, "availability": 99.9,
                     "set": {}, "namespace": "payments-api-staging"},
        "team": {"ref": "group:default/payments", "environments": environments,
                  "totals": {"cpuMillis": 20000, "memoryMib": 20480, "pods": 80}},
    });
    let lookup = Lookup {
        environment: Some("staging"),
        team: Some("group:default/payments"),
        service: Some("component:default/payments-api"),
        now_millis: 0,
    };
    let mut samples = Vec::with_capacity(runs);
    let mut denied = 0;
    for _ in 0..runs {
        let started = Instant::now();
        let decision =
            evaluate::evaluate(&config.policies, Subject::Environment, &input, lookup, &[]);
        samples.push(started.elapsed());
        denied += usize::from(!decision.allowed());
    }
    samples.sort();
    println!("## Evaluating 50 policies for one environment request ({runs} requests)");
    println!();
    println!("| p50 | p99 | max | verdicts that failed per request |");
    println!("|---|---|---|---|");
    let decision = evaluate::evaluate(&config.policies, Subject::Environment, &input, lookup, &[]);
    let failing = decision
        .verdicts
        .iter()
        .filter(|v| {
            !matches!(
                v.outcome,
                evaluate::Outcome::Allowed | evaluate::Outcome::NotApplicable
            )
        })
        .count();
    println!(
        "| {} | {} | {} | {failing} |",
        millis(percentile(&samples, 0.50)),
        millis(percentile(&samples, 0.99)),
        millis(*samples.last().expect("samples"))
    );
    assert!(
        denied == 0 || denied == runs,
        "the same request always gets the same answer"
    );
    println!();

    let thousand = files(1000);
    let bytes: usize = thousand.iter().map(|f| f.text.len()).sum();
    let mut times = Vec::with_capacity(loads);
    for _ in 0..loads {
        let started = Instant::now();
        let loaded = documents::load(&thousand).expect("1000 policies load");
        times.push(started.elapsed());
        assert_eq!(loaded.policies.len(), 1000);
    }
    times.sort();
    println!(
        "## Reading and compiling 1,000 policies ({} KiB of YAML, {loads} loads)",
        bytes / 1024
    );
    println!();
    println!("| median | worst |");
    println!("|---|---|");
    println!(
        "| {} | {} |",
        millis(percentile(&times, 0.5)),
        millis(*times.last().expect("times"))
    );
}
