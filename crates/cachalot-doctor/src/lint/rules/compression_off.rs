//! `compression-off`: edge compression off on a behavior that serves text.

use super::Rule;
use crate::cause::Cause;
use crate::lint::{Content, Context, Finding, RuleMeta, behavior_finding, cache_policy_fix, set_at};
use cachalot_config::Severity;
use serde_json::json;

pub(super) const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "compression-off",
        title: "edge compression is off for a behavior that serves text",
        why: "CSS, JavaScript, HTML and JSON shrink 3-10x with gzip or brotli; without Compress (or without the \
              cache policy's gzip/brotli flags) every viewer downloads them whole",
        cause: Some(Cause::CompressionOff),
    },
    check,
};

fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for b in cx.behaviors() {
        let c = &b.behavior.cache;
        // Images and video are already compressed; caching off means CloudFront never compresses.
        // Accept-Encoding keyed raw turns compression off too: `accept-encoding-in-key-headers`
        // reports that one setting, with the fix for both.
        if b.content == Content::Media || c.caching_disabled() || c.keys_accept_encoding_header() {
            continue;
        }
        let flags = c.accept_encoding_gzip || c.accept_encoding_brotli;
        if b.behavior.compress && flags {
            continue;
        }
        let (message, fix) = if !b.behavior.compress {
            (
                format!("behavior {} has Compress false", b.behavior.path_pattern.as_str()),
                Some(json!({"Command": "aws cloudfront update-distribution (edit this behavior)", "Compress": true})),
            )
        } else {
            (
                format!(
                    "behavior {} compresses, but its cache policy enables neither gzip nor brotli",
                    b.behavior.path_pattern.as_str()
                ),
                cache_policy_fix(cx, &b, |cfg| {
                    set_at(cfg, "/ParametersInCacheKeyAndForwardedToOrigin/EnableAcceptEncodingGzip", json!(true));
                    set_at(cfg, "/ParametersInCacheKeyAndForwardedToOrigin/EnableAcceptEncodingBrotli", json!(true));
                }),
            )
        };
        let severity = if b.content == Content::Static { Severity::Warning } else { Severity::Note };
        out.push(behavior_finding(
            &RULE.meta,
            &b,
            severity,
            ".Compress",
            message,
            Cause::CompressionOff.fix().to_owned(),
            fix,
        ));
    }
}
