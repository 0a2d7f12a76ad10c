//! The REST API's wire format: the transfer objects every JSON answer (and request body) is made
//! of, one file per area. Handlers convert the domain's types into these (`From<&DomainType>`) and
//! never serialise a `causeway_platform` type directly, so the domain can change without changing
//! what clients receive, and the OpenAPI document (`openapi.rs`) describes exactly what is sent.
//!
//! Catalog entities are the exception in form only: their bodies are free-form JSON, spliced
//! from their stored text for speed (`catalog::render`), and documented here by [`catalog::Entity`].

pub mod approvals;
pub mod catalog;
pub mod error;
pub mod events;
pub mod fleet;
pub mod guardrails;
pub mod identity;
pub mod provision;
pub mod scaffolder;
pub mod scorecards;
pub mod tasks;
pub mod template_versions;
pub mod webhooks;

pub use error::ErrorEnvelope;

/// The transfer objects must keep the JSON the API served when it serialised the domain's types
/// directly (clients, and Backstage's catalog clients, depend on it): each is compared with the
/// domain type it is made from.
#[cfg(test)]
mod same_json {
    use std::collections::BTreeMap;

    use causeway_platform::provision::{self, plan, records};
    use causeway_platform::{audit, catalog, identity, tasks};
    use serde::Serialize;
    use serde_json::json;

    use super as wire;

    fn same(domain: &impl Serialize, dto: &impl Serialize) {
        assert_eq!(
            serde_json::to_value(domain).expect("domain"),
            serde_json::to_value(dto).expect("dto")
        );
    }

    #[test]
    fn identity() {
        for role in [identity::Role::Developer, identity::Role::PlatformAdmin] {
            for email in [None, Some("ada@example.com".to_owned())] {
                let principal = identity::Principal {
                    entity_ref: "user:default/ada".to_owned(),
                    display_name: "Ada".to_owned(),
                    email,
                    teams: vec![identity::Team {
                        entity_ref: "group:default/payments".to_owned(),
                        display_name: "Payments".to_owned(),
                    }],
                    role,
                };
                same(&principal, &wire::identity::Me::from(&principal));
            }
        }
        let token = identity::ApiToken {
            id: "t1".to_owned(),
            user_ref: "user:default/ada".to_owned(),
            name: "laptop".to_owned(),
            scopes: identity::Scopes::new([identity::Scope::Read, identity::Scope::Admin], "s")
                .expect("scopes"),
            created_at_millis: 1,
            expires_at_millis: 5,
            last_used_at_millis: Some(2),
            revoked_at_millis: None,
        };
        same(
            &json!({ "items": [token] }),
            &wire::identity::TokenList {
                items: vec![wire::identity::Token::from(&token)],
            },
        );
        let record = audit::AuditRecord {
            id: 7,
            at_millis: 3,
            actor: "user:default/ada".to_owned(),
            action: "token.create".to_owned(),
            target: "t1".to_owned(),
            outcome: "success".to_owned(),
            detail: json!({ "name": "laptop" }),
            request_id: Some("r".to_owned()),
        };
        same(
            &json!({ "items": [record] }),
            &wire::identity::AuditList {
                items: vec![wire::identity::AuditRecord::from(&record)],
            },
        );
    }

    #[test]
    fn catalog() {
        let location = catalog::locations::Location {
            id: "l1".to_owned(),
            kind: "file".to_owned(),
            target: "/srv/catalog-info.yaml".to_owned(),
            refreshed_at_millis: Some(1),
            last_error: Some("unreadable".to_owned()),
        };
        same(&location, &wire::catalog::Location::from(&location));
        let report = catalog::IngestReport {
            added: vec!["component:default/a".to_owned()],
            updated: vec![],
            unchanged: vec!["component:default/b".to_owned()],
            orphaned: vec![],
            warnings: vec!["a: owner missing".to_owned()],
            policies: vec![],
        };
        same(&report, &wire::catalog::IngestReport::from(&report));
        same(
            &json!({ "facets": { "kind": [{ "value": "component", "count": 3 }] } }),
            &wire::catalog::Facets {
                facets: BTreeMap::from([(
                    "kind".to_owned(),
                    vec![wire::catalog::FacetCount {
                        value: "component".to_owned(),
                        count: 3,
                    }],
                )]),
            },
        );
        same(
            &json!({ "nextCursor": "n" }),
            &wire::catalog::PageInfo {
                next_cursor: Some("n".to_owned()),
                prev_cursor: None,
            },
        );
    }

    fn plan() -> provision::Plan {
        provision::Plan {
            namespace: "payments-api-dev".to_owned(),
            environment: "dev".to_owned(),
            steps: vec![
                plan::Step::Create {
                    object: "Namespace/payments-api-dev".to_owned(),
                },
                plan::Step::Update {
                    object: "ResourceQuota/quota".to_owned(),
                    fields: vec![plan::FieldChange {
                        path: "spec.hard.pods".to_owned(),
                        live: json!("10"),
                        desired: json!("12"),
                    }],
                },
                plan::Step::Unchanged {
                    object: "LimitRange/limits".to_owned(),
                },
                plan::Step::Delete {
                    object: "Pipeline/delivery".to_owned(),
                },
                plan::Step::Conflict {
                    object: "Role/x".to_owned(),
                    message: "owned by kubectl".to_owned(),
                },
            ],
            pipeline_run: Some(json!({ "kind": "PipelineRun" })),
            policies: Vec::new(),
        }
    }

    #[test]
    fn provision() {
        let plan = plan();
        same(&plan, &wire::provision::Plan::from(&plan));
        let record = records::Record {
            namespace: "payments-api-dev".to_owned(),
            service: "component:default/payments-api".to_owned(),
            environment: "dev".to_owned(),
            target: "git:local".to_owned(),
            parameters: BTreeMap::from([("pods".to_owned(), "12".to_owned())]),
            request_id: "r".to_owned(),
            requested_by: "user:default/ada".to_owned(),
            status: records::Status::Committed,
            message: None,
            task_id: Some("t".to_owned()),
            created_at_millis: 1,
            updated_at_millis: 2,
            expires_at_millis: Some(3),
            reminded_at_millis: None,
        };
        same(&record, &wire::provision::Environment::from(&record));
        let drift = records::Drift {
            id: 1,
            namespace: "payments-api-dev".to_owned(),
            object: "ResourceQuota/quota".to_owned(),
            change: "modified".to_owned(),
            detail: json!(["spec.hard.pods"]),
            action: "restored".to_owned(),
            at_millis: 5,
        };
        for record in [None, Some(record)] {
            let status = provision::EnvironmentStatus {
                record,
                plan: plan.clone(),
                drift: vec![drift.clone()],
            };
            same(&status, &wire::provision::EnvironmentStatus::from(&status));
        }
    }

    #[test]
    fn tasks() {
        let step = tasks::Step {
            position: 0,
            name: "check".to_owned(),
            title: "Check".to_owned(),
            status: "completed".to_owned(),
            attempts: 1,
            started_at_millis: Some(1),
            finished_at_millis: Some(2),
            message: None,
        };
        for status in [
            tasks::TaskStatus::Open,
            tasks::TaskStatus::Processing,
            tasks::TaskStatus::Completed,
            tasks::TaskStatus::Failed,
            tasks::TaskStatus::Cancelled,
        ] {
            let task = tasks::Task {
                id: "t".to_owned(),
                kind: "provision.apply".to_owned(),
                title: "Provision".to_owned(),
                input: json!({ "service": "payments-api" }),
                requester: "user:default/ada".to_owned(),
                owner: Some("group:default/payments".to_owned()),
                status,
                attempts: 1,
                cancel_requested: false,
                error: None,
                output: Some(json!({ "namespace": "payments-api-dev" })),
                created_at_millis: 1,
                started_at_millis: None,
                finished_at_millis: None,
                steps: vec![step.clone()],
            };
            same(&task, &wire::tasks::Task::from(&task));
            same(
                &json!({ "status": task.status, "error": task.error }),
                &wire::tasks::TaskEnd {
                    status: task.status.into(),
                    error: task.error.clone(),
                },
            );
        }
        let event = tasks::Event {
            id: 3,
            task_id: "t".to_owned(),
            at_millis: 4,
            step: Some("check".to_owned()),
            level: "info".to_owned(),
            message: "checked".to_owned(),
            worker: None,
        };
        same(&event, &wire::tasks::TaskEvent::from(&event));
    }
}
