//! Static analysis of a configuration for settings that hurt the cache hit ratio.
//!
//! Each rule lives in its own file under [`rules`] with a stable id, the cause it belongs
//! to, a message, a why and a fix (concrete JSON in the AWS CLI's shape where possible).
//! Findings reuse the config crate's [`Diagnostic`] shape (severity, code = rule id, JSON
//! path, message, hint = the fix in words) and add the file, the cause, the why and the
//! fix JSON.

pub mod report;
pub mod rules;
pub mod usage;

use crate::cause::Cause;
use crate::input::{Inputs, Source};
use cachalot_config::model::{Behavior, Distribution, OriginKind, Snapshot, Target};
use cachalot_config::{Diagnostic, Severity};
use serde::Serialize;
use serde_json::Value;

/// A rule's fixed description.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RuleMeta {
    /// Stable kebab-case id.
    pub id: &'static str,
    /// What it checks, one line.
    pub title: &'static str,
    /// Why it matters.
    pub why: &'static str,
    /// The cause its findings belong to by default.
    pub cause: Option<Cause>,
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// Severity, rule id (`code`), JSON path, message and the fix in words (`hint`).
    #[serde(flatten)]
    pub diagnostic: Diagnostic,
    /// The file the path is in.
    pub file: String,
    /// 1-based line of the resource in the file, for templates and Terraform.
    pub line: Option<usize>,
    /// The cause it belongs to, when one applies.
    pub cause: Option<Cause>,
    /// Why it matters.
    pub why: String,
    /// The fix as JSON in the AWS CLI's shape, when one can be given.
    pub fix: Option<Value>,
    /// The distribution, when the finding is about one.
    pub distribution: Option<String>,
    /// The behavior's path pattern, when the finding is about one.
    pub behavior: Option<String>,
}

impl Finding {
    /// The rule id.
    pub fn rule(&self) -> &str {
        &self.diagnostic.code
    }
}

/// What the rules look at.
pub struct Context<'a> {
    /// Everything read.
    pub inputs: &'a Inputs,
    /// The validated model.
    pub snapshot: &'a Snapshot,
    /// Key-parameter usage from `--logs`, when given.
    pub usage: Option<&'a usage::KeyUsage>,
}

/// One behavior with everything a rule needs to report on it.
pub struct BehaviorRef<'a> {
    /// The distribution.
    pub distribution: &'a Distribution,
    /// Index of the distribution in the inputs.
    pub distribution_index: usize,
    /// The behavior.
    pub behavior: &'a Behavior,
    /// Index among the distribution's behaviors (default last).
    pub index: usize,
    /// Where the behavior's JSON is.
    pub source: Source,
    /// What its paths serve.
    pub content: Content,
}

/// What a behavior serves, guessed from its path pattern and origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Content {
    /// Images, video, audio.
    Media,
    /// CSS, JavaScript, fonts, downloads.
    Static,
    /// Anything else (pages, APIs).
    Dynamic,
}

impl Content {
    /// True for media and static content.
    pub fn is_static_or_media(self) -> bool {
        matches!(self, Content::Media | Content::Static)
    }

    /// The word used in messages.
    pub fn word(self) -> &'static str {
        match self {
            Content::Media => "media",
            Content::Static => "static",
            Content::Dynamic => "dynamic",
        }
    }
}

const MEDIA_EXT: &[&str] = &[
    "jpg", "jpeg", "png", "gif", "webp", "avif", "svg", "ico", "bmp", "tif", "tiff", "heic", "mp4", "m4v", "webm",
    "mov", "m3u8", "mpd", "ts", "m4s", "mp3", "m4a", "aac", "ogg", "wav", "flac",
];
const STATIC_EXT: &[&str] = &[
    "css", "js", "mjs", "map", "woff", "woff2", "ttf", "otf", "eot", "pdf", "zip", "gz", "wasm", "txt", "xml", "json",
];
const MEDIA_DIRS: &[&str] =
    &["images", "image", "img", "imgs", "media", "video", "videos", "photos", "thumbnails", "thumbs", "audio", "hls"];
const STATIC_DIRS: &[&str] = &[
    "static",
    "assets",
    "css",
    "js",
    "fonts",
    "dist",
    "build",
    "_next",
    "public",
    "downloads",
    "files",
    "uploads",
    "wp-content",
    "wp-includes",
    "cdn",
    "scripts",
    "styles",
];

/// Guesses what a path pattern serves.
pub fn content_of(pattern: &str) -> Option<Content> {
    let lower = pattern.to_ascii_lowercase();
    let last = lower.rsplit('/').next().unwrap_or("");
    if let Some((_, ext)) = last.rsplit_once('.') {
        let ext = ext.trim_end_matches('*');
        if MEDIA_EXT.contains(&ext) {
            return Some(Content::Media);
        }
        if STATIC_EXT.contains(&ext) {
            return Some(Content::Static);
        }
    }
    for segment in lower.split('/') {
        let segment = segment.trim_end_matches('*');
        if MEDIA_DIRS.contains(&segment) {
            return Some(Content::Media);
        }
        if STATIC_DIRS.contains(&segment) {
            return Some(Content::Static);
        }
    }
    None
}

/// What a behavior serves: its path pattern, else its origin. An S3 bucket (REST or website
/// endpoint, the latter being a custom origin) serves files, unless a Lambda@Edge function
/// runs on the origin request: then the function renders the response (server-side
/// rendering in front of a bucket of assets).
pub fn behavior_content(
    d: &Distribution,
    b: &Behavior,
    wire: Option<&cachalot_config::wire::CacheBehavior>,
) -> Content {
    if let Some(c) = content_of(b.path_pattern.as_str()) {
        return c;
    }
    let rendered = wire.and_then(|w| w.lambda_function_associations.as_ref()).is_some_and(|l| {
        l.get("Items").and_then(Value::as_array).is_some_and(|items| {
            items.iter().any(|i| i.get("EventType").and_then(Value::as_str) == Some("origin-request"))
        })
    });
    if rendered {
        return Content::Dynamic;
    }
    let origin = behavior_origin(d, b);
    match origin.map(|o| &o.kind) {
        Some(OriginKind::S3 { .. }) => Content::Static,
        _ if origin.is_some_and(|o| is_s3_website(&o.domain_name)) => Content::Static,
        _ => Content::Dynamic,
    }
}

/// The origin a behavior's requests go to first.
pub fn behavior_origin<'d>(d: &'d Distribution, b: &Behavior) -> Option<&'d cachalot_config::model::Origin> {
    match b.target {
        Target::Origin(i) => d.origins.get(i).map(|o| &**o),
        Target::Group(g) => d.origin_groups.get(g).and_then(|g| d.origins.get(g.primary)).map(|o| &**o),
    }
}

/// An S3 static website endpoint (`<bucket>.s3-website-<region>.amazonaws.com` or
/// `<bucket>.s3-website.<region>.amazonaws.com`), which CloudFront reaches as a custom origin.
pub fn is_s3_website(domain: &str) -> bool {
    let lower = domain.to_ascii_lowercase();
    lower.contains(".s3-website") && (lower.ends_with(".amazonaws.com") || lower.ends_with(".amazonaws.com.cn"))
}

/// Path segments of behaviors that serve APIs or WebSockets, which are not meant to be cached.
const API_SEGMENTS: &[&str] = &[
    "api",
    "apis",
    "graphql",
    "gql",
    "rpc",
    "trpc",
    "ws",
    "wss",
    "websocket",
    "websockets",
    "socket",
    "socket.io",
    "sockjs",
    "cable",
    "hub",
    "signalr",
];

/// Why a behavior is not meant to cache anything, when it is not: it keeps nothing (MaxTTL 0),
/// or it serves an API or WebSocket (by its path pattern or its origin: API Gateway, Lambda
/// function URLs, AppSync). Forwarding everything there is the intent, not a fault.
pub fn caches_nothing_by_design(b: &BehaviorRef<'_>) -> Option<&'static str> {
    if b.content.is_static_or_media() {
        return None;
    }
    if b.behavior.cache.max_ttl == 0 {
        return Some("MaxTTL 0");
    }
    let lower = b.behavior.path_pattern.as_str().to_ascii_lowercase();
    if lower.split(['/', '.', '-', '_']).any(|s| API_SEGMENTS.contains(&s.trim_end_matches('*'))) {
        return Some("an API or WebSocket path");
    }
    let origin = behavior_origin(b.distribution, b.behavior).map(|o| o.domain_name.to_ascii_lowercase());
    if origin.is_some_and(|o| {
        o.contains(".execute-api.")
            || o.contains(".lambda-url.")
            || o.contains(".appsync-api.")
            || o.starts_with("api.")
    }) {
        return Some("an API origin");
    }
    None
}

impl<'a> Context<'a> {
    /// Every behavior of every distribution, with its source.
    pub fn behaviors(&self) -> Vec<BehaviorRef<'a>> {
        let mut out = Vec::new();
        for d in &self.snapshot.distributions {
            let Some(di) = self.inputs.distribution_index(&d.id) else { continue };
            let base = &self.inputs.distribution_sources[di];
            for (index, b) in d.behaviors.iter().enumerate() {
                if self.inputs.is_unresolved(&d.id, (!b.is_default).then_some(index)) {
                    continue; // Its cache policy is unknown: a note says so.
                }
                let path = if b.is_default {
                    format!("{}.DefaultCacheBehavior", base.path)
                } else {
                    format!("{}.CacheBehaviors.Items[{index}]", base.path)
                };
                let cfg = &self.inputs.resources.distributions[di].config;
                let wire = if b.is_default {
                    Some(&cfg.default_cache_behavior)
                } else {
                    cfg.cache_behaviors.as_ref().and_then(|l| l.items.get(index))
                };
                out.push(BehaviorRef {
                    distribution: d,
                    distribution_index: di,
                    behavior: b,
                    index,
                    source: Source { file: base.file.clone(), path, line: base.line },
                    content: behavior_content(d, b, wire),
                });
            }
        }
        out
    }

    /// The behaviors serving static files or media that cache at all: where keying or TTL
    /// mistakes cost hits.
    pub fn cached_static_behaviors(&self) -> Vec<BehaviorRef<'a>> {
        let mut all = self.behaviors();
        all.retain(|b| b.content.is_static_or_media() && !b.behavior.cache.caching_disabled());
        all
    }

    /// The wire behavior of `b`.
    pub fn wire_behavior(&self, b: &BehaviorRef<'_>) -> Option<&'a cachalot_config::wire::CacheBehavior> {
        let cfg = &self.inputs.resources.distributions.get(b.distribution_index)?.config;
        if b.behavior.is_default {
            Some(&cfg.default_cache_behavior)
        } else {
            cfg.cache_behaviors.as_ref()?.items.get(b.index)
        }
    }
}

/// Builds a finding about a behavior.
pub fn behavior_finding(
    meta: &RuleMeta,
    b: &BehaviorRef<'_>,
    severity: Severity,
    path_suffix: &str,
    message: String,
    fix_words: String,
    fix: Option<Value>,
) -> Finding {
    Finding {
        diagnostic: Diagnostic {
            severity,
            code: meta.id.to_owned(),
            path: format!("{}{path_suffix}", b.source.path),
            message,
            hint: Some(fix_words),
        },
        file: b.source.file.clone(),
        line: b.source.line,
        cause: meta.cause,
        why: meta.why.to_owned(),
        fix,
        distribution: Some(b.distribution.id.clone()),
        behavior: Some(b.behavior.path_pattern.as_str().to_owned()),
    }
}

/// Runs every rule; findings are ordered by file, path and rule.
pub fn lint(cx: &Context<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    for rule in rules::ALL {
        (rule.check)(cx, &mut out);
    }
    // One finding per cause and behavior: the first rule (in `rules::ALL` order, the most
    // specific first) speaks for the setting; a broader rule on the same cause adds nothing.
    // A behavior no request reaches (`shadowed-behavior`): what its settings would do is moot.
    let unreachable: std::collections::HashSet<(String, Option<String>, Option<String>)> = out
        .iter()
        .filter(|f| f.rule() == "shadowed-behavior")
        .map(|f| (f.file.clone(), f.distribution.clone(), f.behavior.clone()))
        .collect();
    out.retain(|f| {
        f.rule() == "shadowed-behavior"
            || !unreachable.contains(&(f.file.clone(), f.distribution.clone(), f.behavior.clone()))
    });
    let mut seen = std::collections::HashSet::new();
    out.retain(|f| match (&f.behavior, f.cause) {
        (Some(behavior), Some(cause)) => seen.insert((f.file.clone(), f.distribution.clone(), behavior.clone(), cause)),
        _ => true,
    });
    out.sort_by(|a, b| {
        (a.file.as_str(), a.diagnostic.path.as_str(), a.rule()).cmp(&(
            b.file.as_str(),
            b.diagnostic.path.as_str(),
            b.rule(),
        ))
    });
    out
}

/// The fix for a behavior's cache policy: the policy's config with `edit` applied, in the
/// shape `aws cloudfront update-cache-policy --cache-policy-config` takes; for a managed
/// policy (which cannot be edited), switching the behavior to `Managed-CachingOptimized`,
/// the managed policy that keys nothing but the URL and normalises compression.
pub fn cache_policy_fix(cx: &Context<'_>, b: &BehaviorRef<'_>, edit: impl FnOnce(&mut Value)) -> Option<Value> {
    let id = b.behavior.cache_policy_id.as_deref()?;
    if let Some((policy, _)) = cx.inputs.cache_policy(id) {
        let mut cfg = serde_json::to_value(&policy.cache_policy_config).ok()?;
        edit(&mut cfg);
        return Some(serde_json::json!({
            "Command": format!("aws cloudfront update-cache-policy --id {id} --if-match <ETag>"),
            "Id": id,
            "CachePolicyConfig": cfg,
        }));
    }
    Some(serde_json::json!({
        "Command": "aws cloudfront update-distribution (edit this behavior)",
        "CachePolicyId": cachalot_config::managed::CACHING_OPTIMIZED,
    }))
}

/// The fix for one key parameter of `b`, with the finding's path suffix: for a legacy
/// behavior its `ForwardedValues` with `edit_forwarded` applied (suffix
/// `.ForwardedValues.<field>`), otherwise [`cache_policy_fix`] with `edit_policy`.
pub fn key_parameter_fix(
    cx: &Context<'_>,
    b: &BehaviorRef<'_>,
    field: &str,
    edit_forwarded: impl FnOnce(&mut Value),
    edit_policy: impl FnOnce(&mut Value),
) -> (String, Option<Value>) {
    if b.behavior.cache_policy_id.is_some() {
        return (".CachePolicyId".to_owned(), cache_policy_fix(cx, b, edit_policy));
    }
    let mut forwarded = cx.wire_behavior(b).and_then(|w| serde_json::to_value(&w.forwarded_values).ok());
    if let Some(v) = forwarded.as_mut() {
        edit_forwarded(v);
    }
    (format!(".ForwardedValues.{field}"), forwarded.map(|v| serde_json::json!({"ForwardedValues": v})))
}

/// Sets `value` at a `/`-separated pointer, creating objects on the way.
pub fn set_at(root: &mut Value, pointer: &str, value: Value) {
    let mut cur = root;
    let parts: Vec<&str> = pointer.trim_start_matches('/').split('/').collect();
    for (i, part) in parts.iter().enumerate() {
        if !cur.is_object() {
            *cur = Value::Object(serde_json::Map::new());
        }
        let Value::Object(map) = cur else { return };
        if i + 1 == parts.len() {
            map.insert((*part).to_owned(), value);
            return;
        }
        cur = map.entry((*part).to_owned()).or_insert_with(|| Value::Object(serde_json::Map::new()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_guesses() {
        assert_eq!(content_of("/images/*"), Some(Content::Media));
        assert_eq!(content_of("*.jpg"), Some(Content::Media));
        assert_eq!(content_of("/static/*"), Some(Content::Static));
        assert_eq!(content_of("*.css"), Some(Content::Static));
        assert_eq!(content_of("/api/*"), None);
        assert_eq!(content_of("*"), None);
    }

    #[test]
    fn set_at_creates_the_path() {
        let mut v = serde_json::json!({"a": {"b": 1}});
        set_at(&mut v, "/a/c/d", Value::from(2));
        assert_eq!(v, serde_json::json!({"a": {"b": 1, "c": {"d": 2}}}));
    }
}
