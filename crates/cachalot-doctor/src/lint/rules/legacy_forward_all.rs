//! `legacy-forward-all`: legacy ForwardedValues forwarding every header, or everything.

use super::Rule;
use crate::cause::Cause;
use crate::lint::{Context, Finding, RuleMeta, behavior_finding, caches_nothing_by_design};
use cachalot_config::Severity;
use serde_json::json;

pub(super) const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "legacy-forward-all",
        title: "legacy ForwardedValues forwards every header (Headers: [\"*\"]) or every query string and cookie",
        why: "forwarding all headers disables caching altogether; forwarding all query strings and all cookies \
              keys the cache on both, so almost every request is a miss",
        cause: Some(Cause::CachingDisabled),
    },
    check,
};

fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for b in cx.behaviors() {
        let Some(fv) = cx.wire_behavior(&b).and_then(|w| w.forwarded_values.as_ref()) else { continue };
        if caches_nothing_by_design(&b).is_some() {
            continue;
        }
        let all_headers = fv.headers.as_ref().is_some_and(|h| h.items.iter().any(|n| n == "*"));
        let all_query = fv.query_string && fv.query_string_cache_keys.as_ref().is_none_or(|k| k.items.is_empty());
        let all_cookies = fv.cookies.forward == "all";
        let managed = json!({
            "Command": "aws cloudfront update-distribution (edit this behavior)",
            "CachePolicyId": cachalot_config::managed::CACHING_OPTIMIZED,
            "OriginRequestPolicyId": "216adef6-5c7f-47e4-b989-5492eafa07d3",
            "ForwardedValues": null, "MinTTL": null, "DefaultTTL": null, "MaxTTL": null
        });
        if all_headers {
            out.push(behavior_finding(
                &RULE.meta,
                &b,
                Severity::Warning,
                ".ForwardedValues.Headers",
                format!(
                    "behavior {} forwards every header (legacy Headers: [\"*\"]), so nothing is cached",
                    b.behavior.path_pattern.as_str()
                ),
                "replace ForwardedValues with a cache policy (Managed-CachingOptimized) and an origin request \
                 policy (Managed-AllViewer) so the origin still gets the headers without them being keyed"
                    .to_owned(),
                Some(managed),
            ));
        } else if all_query && all_cookies {
            let mut f = behavior_finding(
                &RULE.meta,
                &b,
                Severity::Warning,
                ".ForwardedValues",
                format!(
                    "behavior {} forwards and keys every query string and every cookie (legacy ForwardedValues)",
                    b.behavior.path_pattern.as_str()
                ),
                "key only what changes the response: a cache policy with the needed query strings and cookies, \
                 and an origin request policy for what the origin needs but the key does not"
                    .to_owned(),
                Some(managed),
            );
            f.cause = Some(Cause::CookiesInKey);
            out.push(f);
        }
    }
}
