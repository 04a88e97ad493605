//! `cookies-in-static-key`: cookies keyed on a static or media behavior.

use super::{COOKIE_PTR, Rule};
use crate::cause::Cause;
use crate::lint::{Context, Finding, RuleMeta, behavior_finding, key_parameter_fix, set_at};
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
    for b in cx.cached_static_behaviors() {
        let which = match &b.behavior.cache.cookies {
            NameRule::None => continue,
            NameRule::All => "all cookies".to_owned(),
            NameRule::AllExcept(names) => format!("all cookies but {}", names.join(", ")),
            NameRule::Only(names) => format!("the cookies {}", names.join(", ")),
        };
        let (suffix, fix) = key_parameter_fix(
            cx,
            &b,
            "Cookies",
            |forwarded| set_at(forwarded, "/Cookies", json!({"Forward": "none"})),
            |policy| set_at(policy, COOKIE_PTR, json!({"CookieBehavior": "none"})),
        );
        out.push(behavior_finding(
            &RULE.meta,
            &b,
            Severity::Warning,
            &suffix,
            format!("{} behavior {} keys {which}", b.content.word(), b.behavior.path_pattern.as_str()),
            Cause::CookiesInKey.fix().to_owned(),
            fix,
        ));
    }
}
