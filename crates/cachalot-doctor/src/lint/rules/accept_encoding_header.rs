//! `accept-encoding-in-key-headers`: Accept-Encoding listed as a key header.

use super::{HEADER_PTR, Rule, listed};
use crate::cause::Cause;
use crate::lint::{Context, Finding, RuleMeta, behavior_finding, cache_policy_fix, set_at};
use cachalot_config::Severity;
use cachalot_config::model::NameRule;
use serde_json::json;

pub(super) const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "accept-encoding-in-key-headers",
        title: "Accept-Encoding is a key header instead of the gzip/brotli normalisation flags",
        why: "raw Accept-Encoding values (gzip, deflate, br / br, gzip / gzip, deflate, br, zstd) each get their own \
              object, and CloudFront turns edge compression off when Accept-Encoding is an explicit key header",
        cause: Some(Cause::AcceptEncodingKeyed),
    },
    check,
};

fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for b in cx.behaviors() {
        let cache = &b.behavior.cache;
        if cache.caching_disabled() || !cache.keys_accept_encoding_header() || b.behavior.cache_policy_id.is_none() {
            continue;
        }
        let NameRule::Only(names) = &cache.headers else { continue };
        let rest: Vec<String> = names.iter().filter(|n| *n != "accept-encoding").cloned().collect();
        let headers = if rest.is_empty() {
            json!({"HeaderBehavior": "none"})
        } else {
            json!({"HeaderBehavior": "whitelist", "Headers": listed(&rest)})
        };
        let fix = cache_policy_fix(cx, &b, |cfg| {
            set_at(cfg, HEADER_PTR, headers);
            set_at(cfg, "/ParametersInCacheKeyAndForwardedToOrigin/EnableAcceptEncodingGzip", json!(true));
            set_at(cfg, "/ParametersInCacheKeyAndForwardedToOrigin/EnableAcceptEncodingBrotli", json!(true));
        });
        out.push(behavior_finding(
            &RULE.meta,
            &b,
            Severity::Warning,
            ".CachePolicyId",
            format!("behavior {} lists Accept-Encoding as a key header", b.behavior.path_pattern.as_str()),
            Cause::AcceptEncodingKeyed.fix().to_owned(),
            fix,
        ));
    }
}
