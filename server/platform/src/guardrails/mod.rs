//! The guardrails the platform team writes: platform configuration as code (clusters,
//! environments, policies, approvals, waivers), and the policies evaluated against every request.

pub mod policy;
