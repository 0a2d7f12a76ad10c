//! Pages rendered on the server only (see [`crate::model::Rendered`]).

pub mod environments;
pub mod platform;
pub mod tasks;
