//! Scorecards on SQLite and on PostgreSQL: results recorded only when they change (so the history
//! stays small), facts read from the catalog, the environments table and the delivery events,
//! a team's results, the admin-only evaluation, and a policy that asks for a level before `prod`.

#[path = "support/engines.rs"]
#[macro_use]
mod engines;
#[path = "support/delivery_bed.rs"]
mod delivery_bed;

use std::collections::BTreeMap;
use std::path::PathBuf;

use causeway_platform::guardrails::{self, File, Guardrails};
use causeway_platform::identity::{Principal, Role};
use causeway_platform::provision::config::ProvisionConfig;
use causeway_platform::provision::records::{Record, Records, Status};
use causeway_platform::provision::{Provisioner, Request, Requester};
use causeway_platform::{Error, Platform, Store};

on_both_engines!(
    results_are_recorded_only_when_they_change,
    provisioning_facts_come_from_the_environments_table,
    only_platform_admins_start_an_evaluation,
    a_policy_asks_for_gold_before_prod,
);

const GROUPS: &str = "apiVersion: backstage.io/v1alpha1
kind: Group
metadata: { name: payments }
spec: { type: team, children: [] }
";

/// payments-api with what bronze and part of silver ask for; `on_call` adds the rota.
fn component(on_call: bool) -> String {
    let annotation = if on_call {
        "\n    causeway.dev/on-call: payments-rota"
    } else {
        ""
    };
    format!(
        "apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: payments-api
  description: Takes payments.
  annotations:
    github.com/project-slug: example/payments-api{annotation}
  links:
    - url: https://runbooks.example.com/payments-api
      title: Runbook
spec: {{ type: service, lifecycle: production, owner: payments }}
"
    )
}

async fn platform(store: Store) -> Platform {
    delivery_bed::platform_with(store, &format!("{GROUPS}---\n{}", component(false))).await
}

async fn catalog(platform: &Platform, on_call: bool) {
    delivery_bed::ingest(platform, &format!("{GROUPS}---\n{}", component(on_call))).await;
}

const SERVICE: &str = "component:default/payments-api";

async fn results_are_recorded_only_when_they_change(store: Store) {
    let platform = platform(store).await;
    let scorecards = &platform.scorecards;
    let pass = scorecards.evaluate_all().await.expect("pass");
    // The starter scorecard applies to components only: the group is left out.
    assert_eq!((pass.entities, pass.changed), (1, 1));
    let again = scorecards.evaluate_all().await.expect("pass");
    assert_eq!(again.changed, 0, "the same result is not recorded twice");
    let results = scorecards
        .for_entity("payments-api")
        .await
        .expect("results");
    let result = &results.results[0];
    assert_eq!(result.scorecard, "operational-maturity");
    // Owned and described; no on-call rota and nothing provisioned.
    assert_eq!(result.level.as_deref(), Some("bronze"));
    assert_eq!(result.rank, 1);
    let on_call = result
        .checks
        .iter()
        .find(|c| c.name == "on-call")
        .expect("check");
    assert!(!on_call.passed);
    assert!(
        on_call.fix.contains("causeway.dev/on-call"),
        "{}",
        on_call.fix
    );
    assert_eq!(result.history.len(), 1);

    // The team adds its rota: one new row, and the history shows both.
    catalog(&platform, true).await;
    let pass = scorecards.evaluate_all().await.expect("pass");
    assert_eq!(pass.changed, 1);
    assert_eq!(scorecards.evaluate_all().await.expect("pass").changed, 0);
    let team = scorecards.for_team("payments").await.expect("team");
    assert_eq!(team.team, "group:default/payments");
    assert_eq!(team.entities.len(), 1);
    let history = &team.entities[0].results[0].history;
    assert_eq!(history.len(), 2, "{history:?}");
    assert!(history[0].seq > history[1].seq, "newest first");
    assert!(history[1].failing.contains(&"on-call".to_owned()));
    assert!(!history[0].failing.contains(&"on-call".to_owned()));
    let rows = scorecards
        .results()
        .history(SERVICE, "operational-maturity", 100)
        .await
        .expect("rows");
    assert_eq!(rows.len(), 2);

    // Unknown entities and teams are named.
    assert!(matches!(
        scorecards.for_entity("nobody").await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        scorecards.for_team("group:default/nobody").await,
        Err(Error::NotFound(_))
    ));
}

async fn provisioning_facts_come_from_the_environments_table(store: Store) {
    let platform = platform(store.clone()).await;
    catalog(&platform, true).await;
    let records = Records::new(store);
    let record = Record {
        namespace: "payments-api-dev".to_owned(),
        service: SERVICE.to_owned(),
        environment: "dev".to_owned(),
        target: "local".to_owned(),
        parameters: BTreeMap::new(),
        request_id: "r1".to_owned(),
        requested_by: "user:default/ada".to_owned(),
        status: Status::Applying,
        message: None,
        task_id: None,
        created_at_millis: 0,
        updated_at_millis: 0,
        expires_at_millis: None,
        reminded_at_millis: None,
    };
    records.begin(&record, None).await.expect("begin");
    // Still applying: neither pipeline nor dashboard is in place.
    let level = |platform: &Platform| {
        let scorecards = platform.scorecards.clone();
        async move {
            let results = scorecards.for_entity(SERVICE).await.expect("results");
            let result = results.results[0].clone();
            let failing: Vec<String> = result
                .checks
                .iter()
                .filter(|c| !c.passed)
                .map(|c| c.name.clone())
                .collect();
            (result.level, failing)
        }
    };
    let (reached, failing) = level(&platform).await;
    assert_eq!(reached.as_deref(), Some("bronze"));
    assert!(failing.contains(&"pipeline".to_owned()), "{failing:?}");
    records
        .set_status("payments-api-dev", Status::Ready, None, None)
        .await
        .expect("ready");
    let (reached, failing) = level(&platform).await;
    assert_eq!(reached.as_deref(), Some("silver"), "{failing:?}");
    assert!(!failing.contains(&"drift-free".to_owned()), "{failing:?}");
    // Drift reported after the last apply, and left standing, fails drift-free; drift the
    // reconciler restored does not.
    records
        .drifted(
            "payments-api-dev",
            "Deployment/payments-api",
            "modified",
            &serde_json::json!({}),
            "restored",
        )
        .await
        .expect("drift");
    assert!(!level(&platform).await.1.contains(&"drift-free".to_owned()));
    records
        .drifted(
            "payments-api-dev",
            "ConfigMap/payments-api",
            "modified",
            &serde_json::json!({}),
            "reported",
        )
        .await
        .expect("drift");
    assert!(level(&platform).await.1.contains(&"drift-free".to_owned()));
}

fn person(role: Role) -> Principal {
    Principal {
        entity_ref: "user:default/ada".to_owned(),
        display_name: "Ada".to_owned(),
        email: None,
        teams: Vec::new(),
        role,
    }
}

async fn only_platform_admins_start_an_evaluation(store: Store) {
    let platform = platform(store).await;
    let refused = platform
        .scorecards
        .evaluate_by(&person(Role::Developer), None)
        .await;
    assert!(matches!(refused, Err(Error::Forbidden(_))), "{refused:?}");
    let pass = platform
        .scorecards
        .evaluate_by(&person(Role::PlatformAdmin), Some("payments-api"))
        .await
        .expect("pass");
    assert_eq!((pass.entities, pass.changed), (1, 1));
    let bad = platform
        .scorecards
        .evaluate_by(&person(Role::PlatformAdmin), Some("kind:"))
        .await;
    assert!(
        matches!(&bad, Err(Error::InvalidInput { field, .. }) if field == "entity"),
        "{bad:?}"
    );
}

/// A scorecard whose gold asks for an on-call rota, and the policy that asks for gold before
/// `prod`, with the failing checks' fixes in its message.
const GOLD_BEFORE_PROD: &str = "apiVersion: causeway.dev/v1alpha1
kind: Scorecard
metadata:
  name: readiness
spec:
  filter: entity.kind == 'Component'
  levels:
    - name: bronze
      checks:
        - { name: owned, expression: 'owner != null', fix: Set spec.owner. }
    - name: silver
      checks:
        - { name: runbook, expression: 'runbook != null', fix: Link a runbook. }
    - name: gold
      checks:
        - name: on-call
          expression: onCall != null
          fix: Add the annotation causeway.dev/on-call.
---
apiVersion: causeway.dev/v1alpha1
kind: Policy
metadata:
  name: gold-before-prod
  description: Only gold components get a prod environment.
spec:
  appliesTo: [environment]
  field: environment
  expression: >-
    environment.name != 'prod' || ('readiness' in scorecards
    && 'gold' in scorecards.readiness.reached)
  message: >-
    'prod needs level gold of readiness; ' + service.metadata.name + ' is at '
    + (scorecards.readiness.level == null ? 'no level' : scorecards.readiness.level)
    + ': ' + scorecards.readiness.failing.map(f, f.check + ' (' + f.fix + ')').join(', ')
  fix: Reach gold on the readiness scorecard (see the component's Scorecard tab).
";

async fn a_policy_asks_for_gold_before_prod(store: Store) {
    let platform = platform(store).await;
    let provision = ProvisionConfig::embedded(None, PathBuf::from("var/gitops"));
    let mut files = guardrails::default_files(&provision);
    files.retain(|f| f.name.ends_with("platform.yaml"));
    files.push(File {
        name: "gold.yaml".to_owned(),
        text: GOLD_BEFORE_PROD.to_owned(),
    });
    let guardrails = Guardrails::from_files(&files).expect("valid");
    let provisioner = Provisioner::with_guardrails(guardrails, &platform);
    let request = |environment: &str| Request {
        service: "payments-api".to_owned(),
        environment: environment.to_owned(),
        set: BTreeMap::new(),
        request_id: "r1".to_owned(),
        requester: Requester {
            entity_ref: "user:default/ada".to_owned(),
            name: "ada".to_owned(),
            email: "ada@example.com".to_owned(),
        },
        adopt: false,
    };
    let check = |environment: &'static str| {
        let provisioner = provisioner.clone();
        let request = request(environment);
        async move {
            let prepared = provisioner.prepare(&request).expect("prepared");
            provisioner.check_policies(&request, &prepared).await
        }
    };
    // Silver: dev is fine, prod is refused with the failing check and its fix.
    check("dev").await.expect("dev is allowed below gold");
    let Err(Error::PolicyDenied(denials)) = check("prod").await else {
        panic!("prod should be refused below gold");
    };
    assert_eq!(denials.len(), 1, "{denials:?}");
    let denial = &denials[0];
    assert_eq!(denial.policy, "gold-before-prod");
    assert_eq!(
        denial.message,
        "prod needs level gold of readiness; payments-api is at silver: \
         on-call (Add the annotation causeway.dev/on-call.)"
    );
    assert!(denial.fix.contains("Scorecard tab"), "{}", denial.fix);
    // With its rota the component is gold, and prod is allowed.
    catalog(&platform, true).await;
    check("prod").await.expect("gold reaches prod");
}
