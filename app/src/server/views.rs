//! Pages rendered on the server only (see [`crate::model::Rendered`]).

pub mod approvals;
pub mod author;
pub mod create;
pub mod delivery;
pub mod environments;
pub mod fleet;
pub mod guardrails;
pub mod platform;
pub mod review;
pub mod tasks;
pub mod versions;
