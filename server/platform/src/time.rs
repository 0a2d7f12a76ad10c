//! Timestamps are stored as milliseconds since the Unix epoch: one integer type that SQLite and
//! PostgreSQL both index and compare the same way.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, now.
pub fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// `millis` as a UTC time a person reads, to the second (`2026-11-27 08:15:12 UTC`).
pub fn display(millis: i64) -> String {
    k8s_openapi::jiff::Timestamp::from_millisecond(millis)
        .map(|t| t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|_| millis.to_string())
}

/// `millis` as an RFC 3339 UTC timestamp (`2026-11-27T08:15:12.345Z`), as Backstage's APIs write
/// times.
pub fn iso(millis: i64) -> String {
    k8s_openapi::jiff::Timestamp::from_millisecond(millis)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| millis.to_string())
}
