//! `unvaried-key-parameter`: a whitelisted query string or cookie that no logged request
//! varies (needs `--logs`).

use super::{COOKIE_PTR, QUERY_PTR, Rule, listed};
use crate::cause::Cause;
use crate::lint::usage::Kind;
use crate::lint::{Context, Finding, RuleMeta, behavior_finding, cache_policy_fix, set_at};
use cachalot_config::Severity;
use cachalot_config::model::NameRule;
use serde_json::json;

pub(super) const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "unvaried-key-parameter",
        title: "a whitelisted query string or cookie never varies in the logged requests",
        why: "a key parameter that never changes does not select a different response; it only makes every \
              cached object depend on it (a later stray value splits the cache) and is forwarded for nothing",
        cause: Some(Cause::QueryStringsInKey),
    },
    check,
};

fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let Some(usage) = cx.usage else { return };
    for b in cx.behaviors() {
        let requests = usage.requests(&b.distribution.id, b.index);
        if requests == 0 {
            continue;
        }
        let c = &b.behavior.cache;
        for (kind, rule) in [(Kind::Query, &c.query_strings), (Kind::Cookie, &c.cookies)] {
            let NameRule::Only(names) = rule else { continue };
            // Logs written without IncludeCookies carry no cookies: silence is not evidence.
            if kind == Kind::Cookie && names.iter().all(|n| usage.present(&b.distribution.id, b.index, kind, n) == 0) {
                continue;
            }
            let unvaried: Vec<&String> =
                names.iter().filter(|n| usage.distinct(&b.distribution.id, b.index, kind, n) <= 1).collect();
            if unvaried.is_empty() {
                continue;
            }
            let rest: Vec<String> = names.iter().filter(|n| !unvaried.contains(n)).cloned().collect();
            let (cause, word, ptr, behavior_key, list_key) = match kind {
                Kind::Query => {
                    (Cause::QueryStringsInKey, "query string", QUERY_PTR, "QueryStringBehavior", "QueryStrings")
                }
                Kind::Cookie => (Cause::CookiesInKey, "cookie", COOKIE_PTR, "CookieBehavior", "Cookies"),
            };
            let value = if rest.is_empty() {
                json!({ behavior_key: "none" })
            } else {
                json!({ behavior_key: "whitelist", list_key: listed(&rest) })
            };
            let fix = cache_policy_fix(cx, &b, |cfg| set_at(cfg, ptr, value));
            for name in unvaried {
                let seen = usage.present(&b.distribution.id, b.index, kind, name);
                let mut f = behavior_finding(
                    &RULE.meta,
                    &b,
                    Severity::Note,
                    ".CachePolicyId",
                    format!(
                        "behavior {} keys the {word} {name}, which takes at most one value in {requests} logged requests ({seen} carry it)",
                        b.behavior.path_pattern.as_str()
                    ),
                    format!(
                        "remove {name} from the cache key; forward it with the origin request policy if the origin reads it"
                    ),
                    fix.clone(),
                );
                f.cause = Some(cause);
                out.push(f);
            }
        }
    }
}
