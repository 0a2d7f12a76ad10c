//! Validation tables.
