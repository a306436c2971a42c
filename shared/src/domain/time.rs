//! Time on the wire and in storage: RFC 3339 UTC with milliseconds and a `Z`, epoch millis stored.

use time::{Duration, OffsetDateTime, format_description::FormatItem, macros::format_description};

const RFC3339_MILLIS: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");

/// `2026-11-22T10:00:00.123Z`.
pub fn rfc3339(at: OffsetDateTime) -> String {
    at.to_offset(time::UtcOffset::UTC)
        .format(RFC3339_MILLIS)
        .unwrap_or_else(|_| String::from("1970-01-01T00:00:00.000Z"))
}

pub fn to_millis(at: OffsetDateTime) -> i64 {
    (at.unix_timestamp_nanos() / 1_000_000) as i64
}

pub fn from_millis(ms: i64) -> OffsetDateTime {
    OffsetDateTime::UNIX_EPOCH + Duration::milliseconds(ms)
}

/// Whole seconds from `now` until `until`, rounded up and at least 1: what `Retry-After` carries.
pub fn seconds_until(now: OffsetDateTime, until: OffsetDateTime) -> u64 {
    let ms = (until - now).whole_milliseconds().max(0) as u64;
    ms.div_ceil(1000).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc_with_millis() {
        assert_eq!(
            rfc3339(from_millis(1_795_000_000_123)),
            "2026-11-18T11:06:40.123Z"
        );
    }

    #[test]
    fn retry_after_rounds_up() {
        let now = from_millis(0);
        assert_eq!(seconds_until(now, from_millis(59_001)), 60);
        assert_eq!(seconds_until(now, from_millis(0)), 1);
    }
}
