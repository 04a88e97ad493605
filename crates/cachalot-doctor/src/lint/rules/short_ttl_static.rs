//! `short-ttl-static`: TTLs too short for static or media content.

use super::Rule;
use crate::cause::Cause;
use crate::lint::{Context, Finding, RuleMeta, behavior_finding, cache_policy_fix, set_at};
use cachalot_config::Severity;
use serde_json::json;

pub(super) const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "short-ttl-static",
        title: "DefaultTTL or MaxTTL is under a day on a static or media behavior",
        why: "objects expire before the next viewer arrives, especially on low-traffic POPs; a low MaxTTL also \
              cuts an origin's max-age=31536000 down to it",
        cause: Some(Cause::TtlTooShort),
    },
    check,
};

/// One day: below this, static objects churn on most POPs.
const DAY: u64 = 86_400;

fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for b in cx.cached_static_behaviors() {
        let c = &b.behavior.cache;
        if c.default_ttl >= DAY && c.max_ttl >= DAY {
            continue;
        }
        let legacy = b.behavior.cache_policy_id.is_none();
        let (min, default, max) = (c.min_ttl, c.default_ttl.max(DAY), c.max_ttl.max(31_536_000));
        let fix = if legacy {
            Some(json!({"MinTTL": min, "DefaultTTL": default, "MaxTTL": max}))
        } else {
            cache_policy_fix(cx, &b, |cfg| {
                set_at(cfg, "/DefaultTTL", json!(default));
                set_at(cfg, "/MaxTTL", json!(max));
            })
        };
        out.push(behavior_finding(
            &RULE.meta,
            &b,
            Severity::Warning,
            if legacy { ".DefaultTTL" } else { ".CachePolicyId" },
            format!(
                "{} behavior {} has DefaultTTL {} s and MaxTTL {} s",
                b.content.word(),
                b.behavior.path_pattern.as_str(),
                c.default_ttl,
                c.max_ttl
            ),
            Cause::TtlTooShort.fix().to_owned(),
            fix,
        ));
    }
}
