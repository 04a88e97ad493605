//! `cookies-in-static-key`: cookies keyed on a static or media behavior.

use super::{COOKIE_PTR, Rule};
use crate::cause::Cause;
use crate::lint::{Context, Finding, RuleMeta, behavior_finding, cache_policy_fix, set_at};
use cachalot_config::Severity;
use cachalot_config::model::NameRule;
use serde_json::json;

pub(super) const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "cookies-in-static-key",
        title: "cookies are in the cache key of a static or media behavior",
        why: "the cache splits per cookie value — per logged-in user, per session, per A/B bucket — so \
              static files become effectively uncacheable; cookies also stop request collapsing",
        cause: Some(Cause::CookiesInKey),
    },
    check,
};

fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for b in cx.behaviors() {
        let cache = &b.behavior.cache;
        if !b.content.is_static_or_media() || cache.caching_disabled() {
            continue;
        }
        let which = match &cache.cookies {
            NameRule::None => continue,
            NameRule::All => "all cookies".to_owned(),
            NameRule::AllExcept(names) => format!("all cookies but {}", names.join(", ")),
            NameRule::Only(names) => format!("the cookies {}", names.join(", ")),
        };
        let legacy = b.behavior.cache_policy_id.is_none();
        let (suffix, fix) = if legacy {
            let mut fv = cx.wire_behavior(&b).and_then(|w| serde_json::to_value(&w.forwarded_values).ok());
            if let Some(v) = fv.as_mut() {
                set_at(v, "/Cookies", json!({"Forward": "none"}));
            }
            (".ForwardedValues.Cookies", fv.map(|v| json!({"ForwardedValues": v})))
        } else {
            let fix = cache_policy_fix(
                cx,
                &b,
                |cfg| set_at(cfg, COOKIE_PTR, json!({"CookieBehavior": "none"})),
                cachalot_config::managed::CACHING_OPTIMIZED,
            );
            (".CachePolicyId", fix)
        };
        out.push(behavior_finding(
            &RULE.meta,
            &b,
            Severity::Warning,
            suffix,
            format!("{} behavior {} keys {which}", b.content.word(), b.behavior.path_pattern.as_str()),
            Cause::CookiesInKey.fix().to_owned(),
            fix,
        ));
    }
}
