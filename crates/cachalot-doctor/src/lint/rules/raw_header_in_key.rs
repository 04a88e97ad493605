//! `raw-header-in-key`: a high-cardinality header keyed without a normalising function.

use super::{HEADER_PTR, Rule, listed};
use crate::cause::Cause;
use crate::lint::{BehaviorRef, Context, Finding, RuleMeta, behavior_finding, cache_policy_fix, set_at};
use cachalot_config::Severity;
use cachalot_config::model::NameRule;
use serde_json::json;

pub(super) const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "raw-header-in-key",
        title: "a high-cardinality header is in the cache key without a viewer-request function normalising it",
        why: "every distinct value is a separate cached object: raw Accept differs between browser builds, \
              User-Agent between every browser version, Authorization between every user",
        cause: Some(Cause::AcceptOverKeyed),
    },
    check,
};

/// Headers whose raw values vary far more than the responses do.
const HIGH_CARDINALITY: &[&str] = &[
    "accept",
    "accept-language",
    "user-agent",
    "authorization",
    "referer",
    "x-forwarded-for",
    "cloudfront-viewer-address",
    "x-request-id",
    "x-amzn-trace-id",
    "if-none-match",
    "if-modified-since",
];

/// Whether the behavior's viewer-request function normalises `header`: its code mentions it.
/// A function whose code is not known is given the benefit of the doubt.
fn normalised(cx: &Context<'_>, b: &BehaviorRef<'_>, header: &str) -> bool {
    let Some(name) = &b.behavior.viewer_request_function else { return false };
    match cx.inputs.function_code.get(name) {
        Some(code) => code.to_ascii_lowercase().contains(header),
        None => true,
    }
}

fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for b in cx.behaviors() {
        let cache = &b.behavior.cache;
        let NameRule::Only(names) = &cache.headers else { continue };
        if cache.caching_disabled() {
            continue;
        }
        for name in names {
            if !HIGH_CARDINALITY.contains(&name.as_str()) || normalised(cx, &b, name) {
                continue;
            }
            // Authorization is how private content is keyed; it is a problem on shared static content.
            if name == "authorization" && !b.content.is_static_or_media() {
                continue;
            }
            let cause = if name.starts_with("accept") { Cause::AcceptOverKeyed } else { Cause::HeadersInKey };
            let rest: Vec<String> = names.iter().filter(|n| *n != name).cloned().collect();
            let legacy = b.behavior.cache_policy_id.is_none();
            let fix = if legacy {
                let mut fv = cx.wire_behavior(&b).and_then(|w| serde_json::to_value(&w.forwarded_values).ok());
                if let Some(v) = fv.as_mut() {
                    set_at(v, "/Headers", listed(&rest));
                }
                fv.map(|v| json!({"ForwardedValues": v}))
            } else {
                let headers = if rest.is_empty() {
                    json!({"HeaderBehavior": "none"})
                } else {
                    json!({"HeaderBehavior": "whitelist", "Headers": listed(&rest)})
                };
                cache_policy_fix(cx, &b, |cfg| set_at(cfg, HEADER_PTR, headers))
            };
            let words = if cause == Cause::AcceptOverKeyed {
                format!("{} (or remove {name} from the key headers if the response does not vary by it)", cause.fix())
            } else {
                cause.fix().to_owned()
            };
            let mut f = behavior_finding(
                &RULE.meta,
                &b,
                Severity::Warning,
                if legacy { ".ForwardedValues.Headers" } else { ".CachePolicyId" },
                format!(
                    "behavior {} keys the raw {name} header and no viewer-request function normalises it",
                    b.behavior.path_pattern.as_str()
                ),
                words,
                fix,
            );
            f.cause = Some(cause);
            out.push(f);
        }
    }
}
