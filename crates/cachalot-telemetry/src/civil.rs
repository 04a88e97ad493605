//! UTC calendar arithmetic for log dates, file names and minute buckets.
//!
//! Hand-written (days ↔ civil date, after Howard Hinnant's algorithms) because
//! the parser converts a date per line and must stay allocation- and
//! dependency-free on that path.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch (negative before 1970), whole seconds.
pub(crate) fn unix_seconds(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => {
            let d = e.duration();
            // Round toward negative infinity so a time just before the epoch is second -1.
            let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
            if d.subsec_nanos() > 0 { -secs.saturating_add(1) } else { -secs }
        }
    }
}

/// The `SystemTime` for whole Unix seconds.
pub(crate) fn from_unix_seconds(secs: i64) -> SystemTime {
    if secs >= 0 {
        UNIX_EPOCH + Duration::from_secs(secs.unsigned_abs())
    } else {
        UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs())
    }
}

/// Days since 1970-01-01 for a proleptic Gregorian date.
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Proleptic Gregorian date for days since 1970-01-01.
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    // The ranges below are guaranteed by the algorithm (d in 1..=31, m in 1..=12).
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A broken-down UTC time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Civil {
    pub(crate) year: i64,
    pub(crate) month: u32,
    pub(crate) day: u32,
    pub(crate) hour: u32,
    pub(crate) minute: u32,
    pub(crate) second: u32,
}

impl Civil {
    pub(crate) fn from_unix(secs: i64) -> Civil {
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400) as u32;
        let (year, month, day) = civil_from_days(days);
        Civil { year, month, day, hour: rem / 3600, minute: rem / 60 % 60, second: rem % 60 }
    }
}

/// Appends `YYYY-MM-DD` (years outside 0..=9999 are clamped: they cannot occur on a live edge).
pub(crate) fn push_date(out: &mut Vec<u8>, c: &Civil) {
    let y = c.year.clamp(0, 9999) as u32;
    push_digits(out, y, 4);
    out.push(b'-');
    push_digits(out, c.month, 2);
    out.push(b'-');
    push_digits(out, c.day, 2);
}

/// Appends `HH:MM:SS`.
pub(crate) fn push_time(out: &mut Vec<u8>, c: &Civil) {
    push_digits(out, c.hour, 2);
    out.push(b':');
    push_digits(out, c.minute, 2);
    out.push(b':');
    push_digits(out, c.second, 2);
}

fn push_digits(out: &mut Vec<u8>, mut v: u32, width: usize) {
    let mut tmp = [b'0'; 10];
    for slot in tmp[..width].iter_mut().rev() {
        *slot = b'0' + (v % 10) as u8;
        v /= 10;
    }
    out.extend_from_slice(&tmp[..width]);
}

fn fixed_digits(s: &[u8]) -> Option<u32> {
    let mut v = 0u32;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(b - b'0');
    }
    Some(v)
}

/// Parses `YYYY-MM-DD` into days since the epoch.
pub(crate) fn parse_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let y = fixed_digits(&b[0..4])?;
    let m = fixed_digits(&b[5..7])?;
    let d = fixed_digits(&b[8..10])?;
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(i64::from(y), m) {
        return None;
    }
    Some(days_from_civil(i64::from(y), m, d))
}

/// Parses `HH:MM:SS` into seconds of the day (a leap second `60` is accepted).
pub(crate) fn parse_time(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 8 || b[2] != b':' || b[5] != b':' {
        return None;
    }
    let h = fixed_digits(&b[0..2])?;
    let m = fixed_digits(&b[3..5])?;
    let sec = fixed_digits(&b[6..8])?;
    if h > 23 || m > 59 || sec > 60 {
        return None;
    }
    Some(i64::from(h * 3600 + m * 60 + sec))
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trips_across_eras() {
        for days in [-719_468i64, -1, 0, 1, 10_957, 19_000, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
    }

    #[test]
    fn known_dates() {
        assert_eq!(days_from_civil(2019, 11, 14), 18_214);
        assert_eq!(parse_date("2019-11-14"), Some(18_214));
        assert_eq!(parse_date("2019-02-29"), None);
        assert_eq!(parse_date("2020-02-29"), Some(days_from_civil(2020, 2, 29)));
        assert_eq!(parse_time("20:01:02"), Some(72_062));
        assert_eq!(parse_time("24:00:00"), None);
        let c = Civil::from_unix(1_573_761_662);
        let mut out = Vec::new();
        push_date(&mut out, &c);
        out.push(b' ');
        push_time(&mut out, &c);
        assert_eq!(String::from_utf8(out).unwrap(), "2019-11-14 20:01:02");
    }

    #[test]
    fn negative_times_round_down() {
        let t = UNIX_EPOCH - Duration::from_millis(1);
        assert_eq!(unix_seconds(t), -1);
        assert_eq!(unix_seconds(from_unix_seconds(-5)), -5);
        assert_eq!(Civil::from_unix(-1).hour, 23);
    }
}
