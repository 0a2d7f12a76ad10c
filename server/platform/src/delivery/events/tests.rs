//! Reading events in Causeway's forms: one event in either form reads the same, and every bad
//! field of a batch is named.

use serde_json::json;

use super::*;
use crate::Error;

fn fields_of(error: Error) -> Vec<String> {
    match error {
        Error::Rejected(problems) => problems.into_iter().map(|p| p.field).collect(),
        other => panic!("expected Rejected, got {other}"),
    }
}

#[test]
fn a_cloud_event_and_its_plain_form_read_the_same() {
    let cloud = json!({
        "specversion": "1.0", "id": "d-1", "source": "ci", "type": "dev.cdevents.service.deployed.0.2.0",
        "time": "2026-12-01T10:05:00Z",
        "data": {"service": "payments-api", "environment": "prod", "version": "1.2.0",
                 "status": "succeeded", "startedAt": "2026-12-01T10:00:00Z",
                 "commits": ["ABCDEF1", {"sha": "1234567", "authoredAt": "2026-11-30T09:00:00Z"}]}
    });
    let plain = json!({
        "kind": "deployment", "id": "d-1", "source": "ci", "service": "component:default/payments-api",
        "environment": "prod", "version": "1.2.0", "status": "succeeded",
        "startedAt": "2026-12-01T10:00:00Z", "finishedAt": "2026-12-01T10:05:00Z",
        "commits": ["abcdef1", {"sha": "1234567", "authoredAt": "2026-11-30T09:00:00Z"}]
    });
    let cloud = parse(&cloud).expect("cloud event");
    assert_eq!(cloud, parse(&plain).expect("plain event"));
    assert_eq!(cloud[0].service, "component:default/payments-api");
}

#[test]
fn every_bad_field_is_named() {
    let batch = json!([
        {"kind": "deployment", "id": "", "service": "payments-api", "environment": "Prod",
         "status": "done", "startedAt": "yesterday", "finishedAt": "2026-12-01T10:00:00Z",
         "commits": ["xyz"]},
        {"specversion": "0.3", "id": "e", "source": "s", "type": "com.example.other", "data": {}},
        {"kind": "incident", "id": "i", "service": "payments-api", "incident": "INC-1",
         "openedAt": "2026-12-01T10:00:00Z", "resolvedAt": "2026-12-01T09:00:00Z"},
    ]);
    let fields = fields_of(parse(&batch).expect_err("refused"));
    assert_eq!(
        fields,
        [
            "[0].id",
            "[0].environment",
            "[0].version",
            "[0].status",
            "[0].startedAt",
            "[0].commits[0]",
            "[1].specversion",
            "[1].type",
            "[2].resolvedAt",
            "[2].severity",
        ]
    );
}

#[test]
fn a_control_character_is_refused_where_it_is() {
    let event = json!({
        "kind": "change", "id": "push\u{0}1", "service": "payments-api",
        "sha": "abcdef1", "authoredAt": "2026-12-01T10:00:00Z",
    });
    assert_eq!(fields_of(parse(&event).expect_err("refused")), ["id"]);
}
