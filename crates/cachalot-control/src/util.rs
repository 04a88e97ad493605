//! Small helpers: clock, timestamps (with the `time` crate), generated ids.

use std::time::{SystemTime, UNIX_EPOCH};
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::parsing::Parsed;
use time::{Date, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// `2024-05-01T12:00:00.123Z`, the ISO 8601 form CloudFront's XML uses.
pub(crate) fn iso8601(ms: i64) -> String {
    let at =
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    at.format(format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"))
        .unwrap_or_default()
}

/// [`iso8601`] without a fraction when it is zero (`2024-05-01T12:00:00Z`), as CloudWatch writes timestamps.
pub(crate) fn iso8601_seconds(ms: i64) -> String {
    iso8601(ms).replace(".000Z", "Z")
}

/// Parses an ISO 8601 timestamp as the AWS query protocol sends it (`2024-05-01T12:00:00Z`,
/// optional seconds and fraction, `Z` or `±HH:MM`; a bare date is midnight UTC) into epoch seconds.
pub(crate) fn parse_iso8601(s: &str) -> Option<f64> {
    const FORMAT: &[BorrowedFormatItem<'_>] = format_description!(
        version = 2,
        "[year]-[month]-[day][optional [[first [T][t][ ]][hour]:[minute][optional [:[second][optional [.[subsecond]]]]]\
         [optional [[first [Z][z][[offset_hour sign:mandatory][optional [:]][offset_minute]]]]]]]"
    );
    let mut parsed = Parsed::new();
    if !parsed.parse_items(s.trim().as_bytes(), FORMAT).ok()?.is_empty() {
        return None;
    }
    let date = Date::from_calendar_date(parsed.year()?, parsed.month()?, parsed.day()?.get()).ok()?;
    let time = Time::from_hms_nano(
        parsed.hour_24().unwrap_or(0),
        parsed.minute().unwrap_or(0),
        parsed.second().unwrap_or(0),
        parsed.subsecond().unwrap_or(0),
    )
    .ok()?;
    let offset_hours = parsed.offset_hour().unwrap_or(0);
    let offset_minutes = parsed.offset_minute_signed().unwrap_or(0);
    let offset = UtcOffset::from_hms(offset_hours, offset_minutes, 0).ok()?;
    let at = PrimitiveDateTime::new(date, time).assume_offset(offset);
    Some(at.unix_timestamp() as f64 + f64::from(at.nanosecond()) / 1e9)
}

/// A query-string component decoded: `+` is a space, `%XX` a byte, invalid UTF-8 replaced.
pub(crate) fn form_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().into_owned()
}

const UPPER_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// `len` random upper-case letters and digits.
pub(crate) fn random_upper(len: usize) -> String {
    (0..len).map(|_| UPPER_ALNUM[fastrand::usize(..UPPER_ALNUM.len())] as char).collect()
}

/// A distribution id: `E` + 13 upper-case alphanumerics.
pub(crate) fn distribution_id() -> String {
    format!("E{}", random_upper(13))
}

/// A `dxxxxxxxxxxxxx.cloudfront.net` domain name.
pub(crate) fn domain_name() -> String {
    const LOWER: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let s: String = (0..13).map(|_| LOWER[fastrand::usize(..LOWER.len())] as char).collect();
    format!("d{s}.cloudfront.net")
}

/// An invalidation id: `I` + 13 upper-case alphanumerics (CloudFront's ids look like `I2J0I21PCUYOIK`).
pub(crate) fn invalidation_id() -> String {
    format!("I{}", random_upper(13))
}

/// An ETag: `E` + 13 upper-case alphanumerics, like CloudFront's.
pub(crate) fn etag() -> String {
    format!("E{}", random_upper(13))
}

/// A random UUID (version 4 layout).
pub(crate) fn uuid() -> String {
    let a = fastrand::u64(..);
    let b = fastrand::u64(..);
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0x0fff,
        ((b >> 48) & 0x3fff) | 0x8000,
        b & 0xffff_ffff_ffff
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_format_and_parse() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(1_714_564_800_123), "2024-05-01T12:00:00.123Z");
        assert_eq!(parse_iso8601("2024-05-01 14:00:00.25+0200"), Some(1_714_564_800.25));
        assert_eq!(parse_iso8601("2024-05-01T12:00:00Z"), Some(1_714_564_800.0));
        assert_eq!(parse_iso8601("2024-05-01T12:00:00.5Z"), Some(1_714_564_800.5));
        assert_eq!(parse_iso8601("2024-05-01T14:00:00+02:00"), Some(1_714_564_800.0));
        assert_eq!(parse_iso8601("2024-05-01T12:00Z"), Some(1_714_564_800.0));
        assert_eq!(parse_iso8601("2024-05-01"), Some(1_714_521_600.0));
        for bad in ["", "2024", "2024-13-01T00:00:00Z", "2024-05-01T25:00:00Z", "2024-05-01T12:00:00+2", "x024-05-01"] {
            assert_eq!(parse_iso8601(bad), None, "{bad}");
        }
    }

    #[test]
    fn ids_have_cloudfront_shapes() {
        let id = distribution_id();
        assert!(id.len() == 14 && id.starts_with('E'));
        assert!(id[1..].bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()));
        let d = domain_name();
        assert!(d.starts_with('d') && d.ends_with(".cloudfront.net") && d.len() == "d.cloudfront.net".len() + 13);
        assert_eq!(uuid().len(), 36);
    }
}
