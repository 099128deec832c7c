//! Timestamps as the sensor writes them: RFC 3339 in UTC, from Unix
//! nanoseconds. The one formatter behind alerts, exchange records, the
//! inventory and syslog messages.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Unix nanoseconds as RFC 3339 (empty when out of range).
pub fn rfc3339(unix_ns: i128) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(unix_ns)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

/// Milliseconds since the Unix epoch of an RFC 3339 time (OCSF's
/// `timestamp_t`); None when it does not parse.
pub fn unix_ms(rfc3339: &str) -> Option<i64> {
    let t = OffsetDateTime::parse(rfc3339, &Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

/// Now, on the wall clock.
pub fn now_unix_ns() -> i128 {
    OffsetDateTime::now_utc().unix_timestamp_nanos()
}

#[cfg(test)]
mod tests {
    use super::rfc3339;

    #[test]
    fn formats_and_refuses_out_of_range() {
        assert_eq!(rfc3339(1_700_000_000_000_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(1_700_000_000_500_000_000), "2023-11-14T22:13:20.5Z");
        assert_eq!(rfc3339(i128::MAX), "");
        assert_eq!(
            super::unix_ms("2023-11-14T22:13:20.5Z"),
            Some(1_700_000_000_500)
        );
        assert_eq!(super::unix_ms(""), None);
    }
}
