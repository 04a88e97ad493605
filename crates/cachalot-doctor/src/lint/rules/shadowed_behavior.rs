//! `shadowed-behavior`: a behavior no request can reach because an earlier path pattern
//! matches every path it matches. Uses CloudFront's pattern semantics (`*` matches `/`).

use super::Rule;
use crate::cause::Cause;
use crate::lint::{Context, Finding, RuleMeta, behavior_finding};
use cachalot_config::Severity;
use serde_json::json;

pub(super) const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "shadowed-behavior",
        title: "a behavior is unreachable: an earlier path pattern matches every path it matches",
        why: "behaviors are tried in order and the first match wins; `*` also matches `/`, so /images/* takes \
              /images/thumbs/a.jpg before a later /images/thumbs/* is ever tried",
        cause: Some(Cause::UnreachableBehavior),
    },
    check,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sym {
    Lit(u8),
    One,
    Any,
}

fn symbols(pattern: &str) -> Vec<Sym> {
    let normalized = if pattern == "*" || pattern.starts_with('/') || pattern.starts_with('*') {
        pattern.to_owned()
    } else {
        format!("/{pattern}")
    };
    let mut out = Vec::new();
    for b in normalized.bytes() {
        let s = match b {
            b'*' => Sym::Any,
            b'?' => Sym::One,
            other => Sym::Lit(other),
        };
        if s == Sym::Any && out.last() == Some(&Sym::Any) {
            continue;
        }
        out.push(s);
    }
    out
}

/// Whether every path `inner` matches is also matched by `outer`: `outer` is matched against
/// `inner`'s symbols, where a literal matches only itself, `?` matches a literal or `?`, and
/// `*` matches any run of symbols.
pub(crate) fn covers(outer: &str, inner: &str) -> bool {
    let a = symbols(outer);
    let b = symbols(inner);
    // dp[j]: a[..i] matches b[..j].
    let mut dp = vec![false; b.len() + 1];
    dp[0] = true;
    for sa in &a {
        let mut next = vec![false; b.len() + 1];
        match sa {
            Sym::Any => {
                let mut any = false;
                for j in 0..=b.len() {
                    any |= dp[j];
                    next[j] = any;
                }
            }
            _ => {
                for j in 1..=b.len() {
                    let ok = match (sa, b[j - 1]) {
                        (Sym::Lit(x), Sym::Lit(y)) => *x == y,
                        (Sym::One, Sym::Lit(_) | Sym::One) => true,
                        _ => false,
                    };
                    next[j] = dp[j - 1] && ok;
                }
            }
        }
        dp = next;
    }
    dp[b.len()]
}

fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let behaviors = cx.behaviors();
    for (k, b) in behaviors.iter().enumerate() {
        if b.behavior.is_default {
            continue;
        }
        let earlier =
            behaviors[..k].iter().filter(|e| e.distribution.id == b.distribution.id && !e.behavior.is_default);
        let Some(shadow) =
            earlier.into_iter().find(|e| covers(e.behavior.path_pattern.as_str(), b.behavior.path_pattern.as_str()))
        else {
            continue;
        };
        // The fix: the same list with the shadowed behavior moved before the one that hides it.
        let mut order: Vec<&str> = behaviors
            .iter()
            .filter(|e| e.distribution.id == b.distribution.id && !e.behavior.is_default)
            .map(|e| e.behavior.path_pattern.as_str())
            .collect();
        if let Some(from) = order.iter().position(|p| *p == b.behavior.path_pattern.as_str()) {
            let moved = order.remove(from);
            let to = order.iter().position(|p| *p == shadow.behavior.path_pattern.as_str()).unwrap_or(0);
            order.insert(to, moved);
        }
        out.push(behavior_finding(
            &RULE.meta,
            b,
            Severity::Warning,
            ".PathPattern",
            format!(
                "behavior {} is never used: {} (CacheBehaviors.Items[{}]) comes first and matches every path it matches",
                b.behavior.path_pattern.as_str(),
                shadow.behavior.path_pattern.as_str(),
                shadow.index
            ),
            format!(
                "move {} before {} in CacheBehaviors.Items, or delete it",
                b.behavior.path_pattern.as_str(),
                shadow.behavior.path_pattern.as_str()
            ),
            Some(json!({"CacheBehaviors": {"PathPatternOrder": order}})),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::covers;

    #[test]
    fn inclusion_follows_cloudfront_patterns() {
        assert!(covers("/images/*", "/images/thumbs/*"), "* matches /");
        assert!(covers("*", "/anything"));
        assert!(covers("*.jpg", "/images/*.jpg"));
        assert!(covers("/a?c", "/abc"));
        assert!(covers("images/*", "/images/x.png"), "leading slash optional");
        assert!(!covers("/images/*.jpg", "/images/*"));
        assert!(!covers("/images/thumbs/*", "/images/*"));
        assert!(!covers("/img/*", "/images/*"));
        assert!(!covers("/a?c", "/a*c"));
        assert!(!covers("*.jpg", "*.JPG"), "case-sensitive");
    }
}
