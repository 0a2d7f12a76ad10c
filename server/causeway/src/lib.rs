//! The Causeway host: configuration, telemetry, the HTTP server (portal, REST API, health) and the
//! command line. Domain rules live in `causeway-platform`; this crate only adapts them.

pub mod cli;
pub mod config;
pub mod http;
pub mod oidc;
pub mod serve;
pub mod telemetry;
