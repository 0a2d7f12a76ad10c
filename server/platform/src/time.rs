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

/// The end of the UTC day `date` (`2027-01-31`) names, in milliseconds since the epoch: a waiver
/// "until 31 January" holds through that whole day. `None` when `date` is not such a day.
pub fn end_of_day(date: &str) -> Option<i64> {
    let day: k8s_openapi::jiff::civil::Date = date.trim().parse().ok()?;
    let next = day.tomorrow().ok()?;
    next.to_zoned(k8s_openapi::jiff::tz::TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp().as_millisecond())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_day_ends_at_the_next_midnight_utc() {
        assert_eq!(super::end_of_day("1970-01-01"), Some(86_400_000));
        assert_eq!(super::end_of_day(" 2027-01-31 "), Some(1_801_440_000_000));
        assert_eq!(super::end_of_day("2027-02-30"), None);
        assert_eq!(super::end_of_day("tomorrow"), None);
    }
}
