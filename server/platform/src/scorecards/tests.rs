//! Scorecard documents → problems naming their fields, and hand-made facts → levels and checks.

use std::path::PathBuf;

use serde_json::{Value, json};

use super::evaluate::{FILTER_CHECK, rank, score};
use crate::guardrails::cel::Scope;
use crate::guardrails::{File, default_files, documents, export};
use crate::provision::config::ProvisionConfig;

fn embedded() -> Vec<File> {
    default_files(&ProvisionConfig::embedded(
        None,
        PathBuf::from("var/gitops"),
    ))
}

/// The embedded default with `text` added as one more file.
fn with(text: &str) -> Vec<File> {
    let mut files = embedded();
    files.push(File {
        name: "scorecards.yaml".to_owned(),
        text: text.to_owned(),
    });
    files
}

const TIERS: &str = "apiVersion: causeway.dev/v1alpha1
kind: Scorecard
metadata:
  name: tiers
  description: Hand-made tiers.
spec:
  filter: entity.kind == 'Component'
  levels:
    - name: bronze
      checks:
        - name: owned
          expression: owner != null
          fix: Set spec.owner.
    - name: silver
      checks:
        - name: on-call
          expression: onCall != null
          fix: Add causeway.dev/on-call.
        - name: fast
          expression: dora.leadTimeP50Hours <= 24
          fix: Ship faster.
    - name: gold
      checks:
        - name: dashboard
          expression: provisioning.hasDashboard
          fix: Request an environment.
";

fn facts(owner: bool, on_call: bool, lead: Value, dashboard: bool) -> Value {
    json!({
        "entity": {"kind": "Component", "ref": "component:default/payments-api",
                   "metadata": {"name": "payments-api", "annotations": {}}, "spec": {}},
        "owner": if owner { json!({"ref": "group:default/payments", "name": "payments", "inCatalog": true}) } else { Value::Null },
        "onCall": if on_call { json!("payments-rota") } else { Value::Null },
        "runbook": null,
        "provisioning": {"environments": [], "hasPipeline": false, "hasDashboard": dashboard, "driftFree": true},
        "dora": {"deployments": 0, "deploymentsPerWeek": null, "leadTimeP50Hours": lead,
                 "changeFailRate": null, "recoveryTimeP50Hours": null},
        "now": "2026-12-07T00:00:00Z",
    })
}

fn tiers() -> super::Scorecard {
    documents::load(&with(TIERS))
        .expect("valid")
        .scorecards
        .into_iter()
        .find(|s| s.name == "tiers")
        .expect("tiers")
}

#[test]
fn the_embedded_default_has_a_scorecard_that_exports_and_loads_again() {
    let config = documents::load(&embedded()).expect("valid");
    let names: Vec<_> = config.scorecards.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["operational-maturity"]);
    assert_eq!(
        config.scorecards[0].level_names(),
        ["bronze", "silver", "gold"]
    );
    let exported = export::export(&config);
    assert!(exported.contains("kind: Scorecard"), "{exported}");
    let again = documents::load(&[File {
        name: "export.yaml".to_owned(),
        text: exported,
    }])
    .expect("the export loads");
    let spec =
        |c: &documents::PlatformConfig| serde_json::to_value(c.scorecards[0].spec()).expect("json");
    assert_eq!(spec(&again), spec(&config));
}

#[test]
fn invalid_scorecards_name_every_field() {
    let broken = "apiVersion: causeway.dev/v1alpha1
kind: Scorecard
metadata:
  name: broken
spec:
  filter: entity.kind ==
  levels:
    - name: Bronze
      checks:
        - name: owned
          expression: owner != null
          fix: ''
    - name: silver
      checks: []
    - name: gold
      checks:
        - name: owned
          expression: onCall !=
          fix: Add it.
";
    let problems = documents::load(&with(broken)).expect_err("invalid");
    let fields: Vec<(&str, &str)> = problems
        .iter()
        .map(|p| (p.field.as_str(), p.message.as_str()))
        .collect();
    let has = |field: &str, words: &str| {
        assert!(
            fields.iter().any(|(f, m)| *f == field && m.contains(words)),
            "no problem on {field} saying {words:?}: {fields:?}"
        );
    };
    has("spec.filter", "is not valid CEL");
    has("spec.levels[0].name", "\"Bronze\" is not a name");
    has("spec.levels[0].checks[0].fix", "is empty");
    has("spec.levels[1].checks", "at least one check");
    has("spec.levels[2].checks[0].name", "defined twice");
    has("spec.levels[2].checks[0].expression", "is not valid CEL");
    // Each problem names its file and the line of its field.
    let filter = problems
        .iter()
        .find(|p| p.field == "spec.filter")
        .expect("filter");
    assert!(
        filter.source.starts_with("scorecards.yaml:6"),
        "{}",
        filter.source
    );

    let unknown = "apiVersion: causeway.dev/v1alpha1
kind: Scorecard
metadata:
  name: unknown
spec:
  levels:
    - name: bronze
      checks:
        - name: owned
          expresion: owner != null
          fix: Set it.
";
    let problems = documents::load(&with(unknown)).expect_err("invalid");
    assert!(
        problems
            .iter()
            .any(|p| p.message.contains("unknown field `expresion`")),
        "{problems:?}"
    );
    let empty = "apiVersion: causeway.dev/v1alpha1
kind: Scorecard
metadata:
  name: empty
spec:
  levels: []
";
    let problems = documents::load(&with(empty)).expect_err("invalid");
    assert_eq!(problems[0].field, "spec.levels", "{problems:?}");
}

#[test]
fn a_level_is_reached_when_it_and_every_lower_level_pass() {
    let tiers = tiers();
    let levels = tiers.level_names();
    let level = |input: Value| score(&tiers, &Scope::new(&input)).expect("applies").level;
    assert_eq!(level(facts(false, true, json!(2.0), true)), None);
    assert_eq!(
        level(facts(true, false, json!(2.0), true)).as_deref(),
        Some("bronze")
    );
    assert_eq!(
        level(facts(true, true, json!(2.0), false)).as_deref(),
        Some("silver")
    );
    assert_eq!(
        level(facts(true, true, json!(2.0), true)).as_deref(),
        Some("gold")
    );
    // Gold's check passing does not lift a component whose silver fails.
    let scored =
        score(&tiers, &Scope::new(&facts(true, false, json!(30.5), true))).expect("applies");
    assert_eq!(scored.level.as_deref(), Some("bronze"));
    let failing: Vec<_> = scored
        .failing()
        .map(|c| (c.name.as_str(), c.level.as_str(), c.fix.as_str()))
        .collect();
    assert_eq!(
        failing,
        [
            ("on-call", "silver", "Add causeway.dev/on-call."),
            ("fast", "silver", "Ship faster.")
        ]
    );
    assert_eq!(rank(&levels, scored.level.as_deref()), 1);
    assert_eq!(rank(&levels, None), 0);
    assert_eq!(rank(&levels, Some("gold")), 3);
}

#[test]
fn the_filter_selects_entities() {
    let tiers = tiers();
    let mut input = facts(true, true, json!(1), true);
    input["entity"]["kind"] = json!("Group");
    assert!(score(&tiers, &Scope::new(&input)).is_none());
}

#[test]
fn a_check_that_cannot_be_evaluated_fails_with_its_reason() {
    let tiers = tiers();
    // No lead time (null) compared with a number: an error, so the check fails, not passes.
    let scored =
        score(&tiers, &Scope::new(&facts(true, true, Value::Null, true))).expect("applies");
    assert_eq!(scored.level.as_deref(), Some("bronze"));
    let fast = scored
        .checks
        .iter()
        .find(|c| c.name == "fast")
        .expect("fast");
    assert!(!fast.passed);
    assert!(
        fast.error.starts_with("could not be evaluated: "),
        "{}",
        fast.error
    );
    // A check that returns something else than true or false fails the same way.
    let text = TIERS.replace("provisioning.hasDashboard", "size(entity.ref)");
    let config = documents::load(&with(&text)).expect("valid");
    let odd = config
        .scorecards
        .iter()
        .find(|s| s.name == "tiers")
        .expect("tiers");
    let scored = score(odd, &Scope::new(&facts(true, true, json!(1), true))).expect("applies");
    assert_eq!(scored.level.as_deref(), Some("silver"));
    let dashboard = scored
        .checks
        .iter()
        .find(|c| c.name == "dashboard")
        .expect("check");
    assert!(
        dashboard.error.contains("true or false"),
        "{}",
        dashboard.error
    );
    // A filter that cannot be evaluated applies, and fails the lowest level with its reason.
    let text = TIERS.replace(
        "entity.kind == 'Component'",
        "entity.missing.kind == 'Component'",
    );
    let config = documents::load(&with(&text)).expect("valid");
    let broken = config
        .scorecards
        .iter()
        .find(|s| s.name == "tiers")
        .expect("tiers");
    let scored = score(broken, &Scope::new(&facts(true, true, json!(1), true))).expect("applies");
    assert_eq!(scored.level, None);
    let filter = &scored.checks[0];
    assert_eq!((filter.name.as_str(), filter.passed), (FILTER_CHECK, false));
    assert!(
        filter.error.contains("filter could not be evaluated"),
        "{}",
        filter.error
    );
}

#[test]
fn the_starter_scorecard_over_hand_made_facts() {
    let config = documents::load(&embedded()).expect("valid");
    let starter = &config.scorecards[0];
    let mut input = facts(true, true, json!(20.0), true);
    input["entity"]["metadata"]["description"] = json!("Takes payments.");
    input["runbook"] = json!("https://runbooks.example.com/payments");
    input["provisioning"] = json!({
        "environments": [{"name": "dev", "namespace": "payments-api-dev", "status": "ready", "driftFree": true}],
        "hasPipeline": true, "hasDashboard": true, "driftFree": true,
    });
    input["dora"] = json!({"deployments": 20, "deploymentsPerWeek": 1.5556, "leadTimeP50Hours": 20.0,
                           "changeFailRate": 0.1, "recoveryTimeP50Hours": null});
    let scored = score(starter, &Scope::new(&input)).expect("applies");
    assert_eq!(
        scored.level.as_deref(),
        Some("gold"),
        "{:?}",
        scored.failing().collect::<Vec<_>>()
    );
    input["dora"]["changeFailRate"] = json!(0.5);
    input["provisioning"]["driftFree"] = json!(false);
    let scored = score(starter, &Scope::new(&input)).expect("applies");
    assert_eq!(scored.level.as_deref(), Some("silver"));
    let failing: Vec<_> = scored.failing().map(|c| c.name.as_str()).collect();
    assert_eq!(failing, ["drift-free", "change-fail-rate"]);
    // Whole numbers read as ints and fractions as doubles compare with either literal.
    input["dora"]["deploymentsPerWeek"] = json!(1);
    let scored = score(starter, &Scope::new(&input)).expect("applies");
    let weekly = scored
        .checks
        .iter()
        .find(|c| c.name == "deploys-weekly")
        .expect("check");
    assert!(weekly.passed, "{weekly:?}");
}
