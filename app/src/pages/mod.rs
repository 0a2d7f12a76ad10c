//! One module per page.

pub mod catalog;
pub mod create;
pub mod delivery;
pub mod entity;
pub mod environments;
pub mod home;
pub mod import;
pub mod not_found;
pub mod platform;
pub mod scorecard;
pub mod sign_in;
pub mod tasks;
