use std::collections::{BTreeMap, BTreeSet};

use causeway_platform::delivery::{Payload, Status};

use super::{DAY, SERVICES, generate, service_ref};

/// 2026-12-07, a Monday.
const TODAY: i64 = 20_794;

#[test]
fn the_history_is_the_same_on_every_run_and_its_ids_are_unique() {
    assert_eq!(super::date(TODAY), "2026-12-07");
    let events = generate(TODAY, 90);
    assert_eq!(events, generate(TODAY, 90));
    let ids: BTreeSet<&str> = events.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids.len(), events.len(), "an id is used twice");
    // Tomorrow's run generates today's events and repeats every other day's unchanged (the
    // ledger's open incident aside, whose resolution comes once a newer one opens).
    let tomorrow = generate(TODAY + 1, 90);
    let by_id: BTreeMap<&str, _> = tomorrow.iter().map(|e| (e.id.as_str(), e)).collect();
    for event in &events {
        if let Some(again) = by_id.get(event.id.as_str()) {
            assert_eq!(*again, event);
        }
    }
}

#[test]
fn every_deployment_ships_commits_authored_before_it_and_nothing_lies_ahead() {
    let events = generate(TODAY, 90);
    let (start, end) = ((TODAY - 90) * DAY, TODAY * DAY);
    for event in &events {
        if let Payload::Deployment(d) = &event.payload {
            assert!(!d.commits.is_empty(), "{}", event.id);
            assert!(d.pipeline_run.is_some(), "{}", event.id);
            for commit in &d.commits {
                assert!(
                    commit.authored_at.is_some_and(|at| at < d.started_at),
                    "{}",
                    event.id
                );
                assert_eq!(commit.sha.len(), 40);
            }
            assert!(
                d.started_at >= start - DAY && d.finished_at < end + DAY,
                "{}",
                event.id
            );
        }
    }
}

/// Production deployments, failed ones (by status or by an incident) and open incidents.
fn profile(service: &str) -> (usize, usize, usize) {
    let events = generate(TODAY, 90);
    let service = service_ref(service);
    let mine = events.iter().filter(|e| e.service == service);
    let (mut deployments, mut failed, mut causes, mut open) =
        (0, 0, BTreeSet::new(), BTreeMap::new());
    for event in mine {
        match &event.payload {
            Payload::Deployment(d) if d.environment == "prod" => {
                deployments += 1;
                failed += usize::from(d.status != Status::Succeeded);
            }
            Payload::Incident(i) => {
                causes.insert(i.caused_by.clone());
                let resolved = open.entry(i.incident.clone()).or_insert(false);
                *resolved |= i.resolved_at.is_some();
            }
            _ => {}
        }
    }
    let open = open.values().filter(|resolved| !**resolved).count();
    (deployments, failed + causes.len(), open)
}

#[test]
fn the_three_components_deliver_differently() {
    for service in SERVICES {
        assert!(
            generate(TODAY, 90)
                .iter()
                .any(|e| e.service == service_ref(service))
        );
    }
    let (deployments, failed, open) = profile("payments-api");
    assert!(deployments > 150, "several a day: {deployments}");
    assert!(failed * 10 < deployments, "{failed} of {deployments}");
    assert_eq!(open, 0);
    let (deployments, failed, open) = profile("checkout-web");
    assert!(
        (13..=24).contains(&deployments),
        "weekly with hotfixes: {deployments}"
    );
    assert!(
        failed * 5 >= deployments,
        "a high fail rate: {failed} of {deployments}"
    );
    assert_eq!(open, 0);
    let (_, failed, open) = profile("ledger");
    assert!(failed >= 5, "{failed}");
    assert_eq!(open, 1, "the newest incident is open");
}
