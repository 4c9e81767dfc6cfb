//! Instants, stored as milliseconds since the Unix epoch and shown as Tallyfy does:
//! `YYYY-MM-DDTHH:MM:SS.sssZ` in UTC.

use time::OffsetDateTime;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    pub const fn from_millis(millis: i64) -> Self {
        Self(millis)
    }

    pub fn millis(self) -> i64 {
        self.0
    }

    /// The wire form. Out-of-range values (never produced by `now`) clamp to the epoch.
    pub fn to_rfc3339_millis(self) -> String {
        String::from_utf8_lossy(&self.wire_bytes()).into_owned()
    }

    /// `YYYY-MM-DDTHH:MM:SS.sssZ` written digit by digit: `time`'s general formatter
    /// cost 2,000 instructions a timestamp under callgrind, and a page of groups shows 30.
    fn wire_bytes(self) -> [u8; 24] {
        let epoch = *b"1970-01-01T00:00:00.000Z";
        let Ok(t) = OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1_000_000)
        else {
            return epoch;
        };
        let Ok(year) = u16::try_from(t.year()) else { return epoch };
        if year > 9999 {
            return epoch;
        }
        let mut out = epoch;
        let mut put = |at: usize, value: u16, width: usize| {
            let mut value = value;
            for i in (at..at + width).rev() {
                out[i] = b'0' + (value % 10) as u8;
                value /= 10;
            }
        };
        put(0, year, 4);
        put(5, u16::from(u8::from(t.month())), 2);
        put(8, u16::from(t.day()), 2);
        put(11, u16::from(t.hour()), 2);
        put(14, u16::from(t.minute()), 2);
        put(17, u16::from(t.second()), 2);
        put(20, t.millisecond(), 3);
        out
    }

    /// Reads a UTC instant as the wire writes it, `YYYY-MM-DDTHH:MM:SS[.sss]Z` (fewer
    /// or no fraction digits accepted); `None` for anything else.
    pub fn parse_utc(raw: &str) -> Option<Self> {
        let raw = raw.strip_suffix('Z').or_else(|| raw.strip_suffix('z'))?;
        let (date, clock) = raw.split_once(['T', 't'])?;
        let mut date_parts = date.splitn(3, '-');
        let year: i32 = date_parts.next()?.parse().ok()?;
        let month: u8 = date_parts.next()?.parse().ok()?;
        let day: u8 = date_parts.next()?.parse().ok()?;
        let (hms, fraction) = match clock.split_once('.') {
            Some((hms, fraction)) => (hms, fraction),
            None => (clock, ""),
        };
        let mut clock_parts = hms.splitn(3, ':');
        let hour: u8 = clock_parts.next()?.parse().ok()?;
        let minute: u8 = clock_parts.next()?.parse().ok()?;
        let second: u8 = clock_parts.next()?.parse().ok()?;
        if fraction.len() > 9 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let millis: u16 = format!("{fraction:0<3}").get(..3)?.parse().ok()?;
        let date =
            time::Date::from_calendar_date(year, time::Month::try_from(month).ok()?, day).ok()?;
        let at = date.with_hms_milli(hour, minute, second, millis).ok()?.assume_utc();
        i64::try_from(at.unix_timestamp_nanos() / 1_000_000).ok().map(Self)
    }

    /// `now` plus a number of days, for expiries.
    pub fn plus_days(self, days: i64) -> Self {
        Self(self.0.saturating_add(days.saturating_mul(86_400_000)))
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let bytes = self.wire_bytes();
        s.serialize_str(std::str::from_utf8(&bytes).unwrap_or("1970-01-01T00:00:00.000Z"))
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
        assert_eq!(Timestamp::from_millis(-1).to_rfc3339_millis(), "1969-12-31T23:59:59.999Z");
        assert_eq!(
            Timestamp::from_millis(253_402_300_799_999).to_rfc3339_millis(),
            "9999-12-31T23:59:59.999Z"
        );
        // Beyond year 9999 (never produced by `now`): the epoch.
        assert_eq!(
            Timestamp::from_millis(253_402_300_800_000).to_rfc3339_millis(),
            "1970-01-01T00:00:00.000Z"
        );
        assert_eq!(
            Timestamp::from_millis(i64::MAX).to_rfc3339_millis(),
            "1970-01-01T00:00:00.000Z"
        );
    }

    #[test]
    fn parses_what_it_writes_and_nothing_looser() {
        let at = Timestamp::from_millis(1_718_030_400_123);
        assert_eq!(Timestamp::parse_utc(&at.to_rfc3339_millis()), Some(at));
        assert_eq!(
            Timestamp::parse_utc("2024-06-10T14:40:00Z"),
            Some(Timestamp::from_millis(1_718_030_400_000))
        );
        for bad in ["2024-06-10", "2024-06-10T14:40:00", "2024-13-10T14:40:00Z", "x", ""] {
            assert_eq!(Timestamp::parse_utc(bad), None, "{bad}");
        }
    }

    #[test]
    fn serializes_as_the_wire_form() {
        let json = serde_json::to_string(&Timestamp::from_millis(1_718_030_400_123));
        assert_eq!(json.ok().as_deref(), Some("\"2024-06-10T14:40:00.123Z\""));
    }
}
