//! Instants, stored as milliseconds since the Unix epoch and shown as Tallyfy does:
//! `YYYY-MM-DDTHH:MM:SS.sssZ` in UTC.

use std::time::{SystemTime, UNIX_EPOCH};

use time::{OffsetDateTime, macros::format_description};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    pub fn now() -> Self {
        let millis =
            SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
        Self(i64::try_from(millis).unwrap_or(i64::MAX))
    }

    pub fn from_millis(millis: i64) -> Self {
        Self(millis)
    }

    pub fn millis(self) -> i64 {
        self.0
    }

    /// The wire form. Out-of-range values (never produced by `now`) clamp to the epoch.
    pub fn to_rfc3339_millis(self) -> String {
        let format = format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
        );
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1_000_000)
            .ok()
            .and_then(|t| t.format(&format).ok())
            .unwrap_or_else(|| "1970-01-01T00:00:00.000Z".to_owned())
    }

    /// `now` plus a number of days, for expiries.
    pub fn plus_days(self, days: i64) -> Self {
        Self(self.0.saturating_add(days.saturating_mul(86_400_000)))
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_as_utc_with_milliseconds() {
        assert_eq!(Timestamp::from_millis(0).to_rfc3339_millis(), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            Timestamp::from_millis(1_718_030_400_123).to_rfc3339_millis(),
            "2024-06-10T14:40:00.123Z"
        );
    }
}
