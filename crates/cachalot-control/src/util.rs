//! Small helpers: clock, timestamps, generated ids.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Days since 1970-01-01 → (year, month, day) (proleptic Gregorian; Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// (year, month, day) → days since 1970-01-01.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `2024-05-01T12:00:00.123Z`, the ISO 8601 form CloudFront's XML uses.
pub(crate) fn iso8601(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        sod / 3600,
        (sod % 3600) / 60,
        sod % 60,
        ms.rem_euclid(1000)
    )
}

/// [`iso8601`] without a fraction when it is zero (`2024-05-01T12:00:00Z`), as CloudWatch writes timestamps.
pub(crate) fn iso8601_seconds(ms: i64) -> String {
    iso8601(ms).replace(".000Z", "Z")
}

/// Parses SigV4's `20240501T120000Z` into seconds since the epoch.
pub(crate) fn parse_amz_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> { s.get(r)?.parse().ok() };
    let (y, mo, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (h, mi, se) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    Some(days_from_civil(y, mo as u32, d as u32) * 86_400 + h * 3600 + mi * 60 + se)
}

/// Parses an ISO 8601 timestamp as the AWS query protocol sends it (`2024-05-01T12:00:00Z`,
/// optional fraction, `Z` or `±HH:MM`; a bare date is midnight UTC) into epoch seconds.
pub(crate) fn parse_iso8601(s: &str) -> Option<f64> {
    let s = s.trim();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        if t.bytes().all(|b| b.is_ascii_digit()) { t.parse().ok() } else { None }
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if s.get(4..5)? != "-" || s.get(7..8)? != "-" || !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    let days = days_from_civil(y, mo as u32, d as u32);
    if s.len() == 10 {
        return Some((days * 86_400) as f64);
    }
    if !matches!(s.get(10..11)?, "T" | "t" | " ") || s.get(13..14)? != ":" {
        return None;
    }
    let (h, mi) = (num(11..13)?, num(14..16)?);
    let (se, mut rest) = if s.get(16..17) == Some(":") { (num(17..19)?, s.get(19..)?) } else { (0, s.get(16..)?) };
    let mut fraction = 0.0;
    if let Some(f) = rest.strip_prefix('.') {
        let digits = f.bytes().take_while(u8::is_ascii_digit).count();
        fraction = format!("0.{}", f.get(..digits)?).parse().ok()?;
        rest = f.get(digits..)?;
    }
    let offset = match rest {
        "" | "Z" | "z" => 0,
        _ => {
            let sign = match rest.get(..1)? {
                "+" => 1,
                "-" => -1,
                _ => return None,
            };
            let hm = rest.get(1..)?.replace(':', "");
            if hm.len() != 4 || !hm.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            sign * (hm[..2].parse::<i64>().ok()? * 3600 + hm[2..].parse::<i64>().ok()? * 60)
        }
    };
    if h > 23 || mi > 59 || se > 60 {
        return None;
    }
    Some((days * 86_400 + h * 3600 + mi * 60 + se - offset) as f64 + fraction)
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
        assert_eq!(parse_amz_date("20240501T120000Z"), Some(1_714_564_800));
        assert_eq!(parse_amz_date("2024-05-01"), None);
        assert_eq!(parse_amz_date("20241301T120000Z"), None);
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
