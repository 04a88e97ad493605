//! Range requests (§6.4) and `Vary` filtering of responses (§6.1).

/// What to send for a `Range` request on an object of known length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeDecision {
    /// The whole object with 200 (no range, an invalid one, or a multi-range out of order).
    Full,
    /// These inclusive byte ranges with 206.
    Partial(Vec<(u64, u64)>),
    /// 416 Range Not Satisfiable.
    Unsatisfiable,
}

/// Decides a `Range` header against an object of `len` bytes.
pub fn decide(header: &str, len: u64) -> RangeDecision {
    let Some(spec) = header.trim().strip_prefix("bytes=") else { return RangeDecision::Full };
    let mut ranges = Vec::new();
    let mut unsatisfiable = 0;
    for part in spec.split(',') {
        let part = part.trim();
        let Some((a, b)) = part.split_once('-') else { return RangeDecision::Full };
        let (a, b) = (a.trim(), b.trim());
        let range = match (a.is_empty(), b.is_empty()) {
            (true, true) => return RangeDecision::Full,
            (true, false) => {
                let Ok(n) = b.parse::<u64>() else { return RangeDecision::Full };
                if n == 0 {
                    unsatisfiable += 1;
                    continue;
                }
                (len.saturating_sub(n), len.saturating_sub(1))
            }
            (false, _) => {
                let Ok(start) = a.parse::<u64>() else { return RangeDecision::Full };
                let end = if b.is_empty() {
                    len.saturating_sub(1)
                } else {
                    match b.parse::<u64>() {
                        Ok(e) if e >= start => e.min(len.saturating_sub(1)),
                        _ => return RangeDecision::Full,
                    }
                };
                if start >= len {
                    unsatisfiable += 1;
                    continue;
                }
                (start, end)
            }
        };
        ranges.push(range);
    }
    if ranges.is_empty() {
        return if unsatisfiable > 0 && len > 0 { RangeDecision::Unsatisfiable } else { RangeDecision::Full };
    }
    // CloudFront serves the whole object when ranges are out of order or overlap.
    if ranges.windows(2).any(|w| w[1].0 <= w[0].1) {
        return RangeDecision::Full;
    }
    RangeDecision::Partial(ranges)
}

/// Filters a `Vary` value to what CloudFront keeps: `Accept-Encoding`, `Cookie`, and
/// the names for which `kept` is true (headers it keys or forwards). `None` when nothing remains.
pub fn filter_vary(value: &str, kept: impl Fn(&str) -> bool) -> Option<String> {
    let names: Vec<&str> = value
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .filter(|n| {
            n.eq_ignore_ascii_case("accept-encoding")
                || n.eq_ignore_ascii_case("cookie")
                || *n == "*"
                || kept(&n.to_ascii_lowercase())
        })
        .collect();
    (!names.is_empty()).then(|| names.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(decide("bytes=0-9", 100), RangeDecision::Partial(vec![(0, 9)]));
        assert_eq!(decide("bytes=90-", 100), RangeDecision::Partial(vec![(90, 99)]));
        assert_eq!(decide("bytes=-10", 100), RangeDecision::Partial(vec![(90, 99)]));
        assert_eq!(decide("bytes=95-200", 100), RangeDecision::Partial(vec![(95, 99)]));
        assert_eq!(decide("bytes=0-1,5-9", 100), RangeDecision::Partial(vec![(0, 1), (5, 9)]));
        assert_eq!(decide("bytes=5-9,0-1", 100), RangeDecision::Full, "out of order");
        assert_eq!(decide("bytes=0-5,3-9", 100), RangeDecision::Full, "overlapping");
        assert_eq!(decide("bytes=200-300", 100), RangeDecision::Unsatisfiable);
        assert_eq!(decide("bytes=9-1", 100), RangeDecision::Full, "invalid");
        assert_eq!(decide("items=0-1", 100), RangeDecision::Full);
        assert_eq!(decide("bytes=abc", 100), RangeDecision::Full);
    }

    #[test]
    fn vary() {
        assert_eq!(
            filter_vary("Accept-Encoding, User-Agent, Origin", |n| n == "origin").as_deref(),
            Some("Accept-Encoding, Origin")
        );
        assert_eq!(filter_vary("User-Agent", |_| false), None);
    }
}
