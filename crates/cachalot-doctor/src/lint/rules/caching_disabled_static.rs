//! `caching-disabled-static`: caching disabled (MaxTTL 0) on a static or media behavior.

use super::Rule;
use crate::cause::Cause;
use crate::lint::{Context, Finding, RuleMeta, behavior_finding};
use cachalot_config::Severity;
use serde_json::json;

pub(super) const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "caching-disabled-static",
        title: "caching is disabled on a static or media behavior",
        why: "with MaxTTL 0 (Managed-CachingDisabled) every request goes to the origin and is not collapsed",
        cause: Some(Cause::CachingDisabled),
    },
    check,
};

fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for b in cx.behaviors() {
        let c = &b.behavior.cache;
        if !b.content.is_static_or_media() || c.max_ttl != 0 || c.forward_all_headers {
            continue;
        }
        out.push(behavior_finding(
            &RULE.meta,
            &b,
            Severity::Warning,
            ".CachePolicyId",
            format!("{} behavior {} does not cache (MaxTTL 0)", b.content.word(), b.behavior.path_pattern.as_str()),
            Cause::CachingDisabled.fix().to_owned(),
            Some(json!({
                "Command": "aws cloudfront update-distribution (edit this behavior)",
                "CachePolicyId": cachalot_config::managed::CACHING_OPTIMIZED
            })),
        ));
    }
}
