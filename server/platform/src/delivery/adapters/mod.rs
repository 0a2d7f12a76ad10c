//! The senders a real organisation already has, read in their own payloads and recorded through
//! [`super::Delivery::ingest`] like any event of `POST /api/events`, so that the same rules (who
//! may post for which service, idempotency by source and id, audit) hold for all of them:
//!
//! - [`tekton`]: PipelineRuns of the `delivery` Pipeline Causeway provisions, watched in the
//!   namespaces Causeway manages, recorded by the platform itself as deployments;
//! - [`alertmanager`]: Alertmanager's webhook, whose burn-rate alerts from the PrometheusRule
//!   Causeway provisions open and close incidents;
//! - [`push`]: Gitea's and GitHub's push webhooks, whose commits are changes of the components
//!   built from that repository.

pub mod alertmanager;
pub mod push;
pub mod tekton;

use crate::identity::{Principal, Role};

/// What an adapter recorded from one payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Received {
    /// Events recorded now.
    pub accepted: usize,
    /// Events recorded before (the same source and id), which changed nothing.
    pub duplicates: usize,
    /// Items of the payload that are not Causeway's to record (another alert, a repository no
    /// component is built from); they are not errors.
    pub skipped: usize,
}

/// The principal a sender that proves itself without a person's token acts as: the platform
/// itself, under a `system:` actor the audit log names.
pub fn system_principal(actor: &str) -> Principal {
    Principal {
        entity_ref: actor.to_owned(),
        display_name: "Causeway".to_owned(),
        email: None,
        teams: Vec::new(),
        role: Role::PlatformAdmin,
    }
}
