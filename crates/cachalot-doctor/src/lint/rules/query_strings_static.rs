//! `query-strings-in-static-key`: all query strings keyed on a static or media behavior.

use super::{QUERY_PTR, Rule};
use crate::cause::Cause;
use crate::lint::{Context, Finding, RuleMeta, behavior_finding, key_parameter_fix, set_at};
use cachalot_config::Severity;
use cachalot_config::model::NameRule;
use serde_json::json;

pub(super) const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "query-strings-in-static-key",
        title: "every query string is in the cache key of a static or media behavior",
        why: "hero.jpg, hero.jpg?v=1 and hero.jpg?utm_source=x become three cached objects; analytics and \
              cache-busting parameters multiply them endlessly and each one is a miss",
        cause: Some(Cause::QueryStringsInKey),
    },
    check,
};

fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for b in cx.cached_static_behaviors() {
        let which = match &b.behavior.cache.query_strings {
            NameRule::All => "all",
            NameRule::AllExcept(_) => "allExcept",
            _ => continue,
        };
        let legacy = b.behavior.cache_policy_id.is_none();
        let (suffix, fix) = key_parameter_fix(
            cx,
            &b,
            "QueryString",
            |forwarded| {
                set_at(forwarded, "/QueryString", json!(false));
                if let Some(m) = forwarded.as_object_mut() {
                    m.remove("QueryStringCacheKeys");
                }
            },
            |policy| set_at(policy, QUERY_PTR, json!({"QueryStringBehavior": "none"})),
        );
        let message = format!(
            "{} behavior {} keys {which} query strings{}",
            b.content.word(),
            b.behavior.path_pattern.as_str(),
            if legacy { " (legacy ForwardedValues)" } else { "" }
        );
        out.push(behavior_finding(
            &RULE.meta,
            &b,
            Severity::Warning,
            &suffix,
            message,
            Cause::QueryStringsInKey.fix().to_owned(),
            fix,
        ));
    }
}
