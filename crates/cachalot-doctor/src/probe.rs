//! The diagnostic guide's procedure, automated: which requests to send and what the
//! responses mean.
//!
//! [`plan`] lists the requests: the same request repeated, then one cache-key dimension at a
//! time (junk query string, cookie, two equivalent `Accept` values, two equivalent
//! `Accept-Encoding` values, two browsers' `User-Agent`, two `Accept-Language` values), each as
//! *first value, first value again, second value*. Every request asks for CloudFront's
//! `Server-Timing` (`Pragma: server-timing`).
//! [`interpret`] reads the recorded responses (`x-cache`, `age`, `x-amz-cf-pop`,
//! `Cache-Control`, `ETag`, `Last-Modified`, `Server-Timing`) and names each cause found with
//! its evidence and the policy change that fixes it. Sending the requests is the caller's job,
//! so this is tested on recorded responses.
//!
//! An object that never hits although its response is cacheable either sits on a behavior
//! that does not cache, or its cache key changes on every request (a viewer-request function
//! adding a random value). CloudFront documents that dynamic requests "do not flow through
//! regional edge caches, but go directly to the origin"
//! (<https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/HowCloudFrontWorks.html>):
//! a miss whose `Server-Timing` names a regional edge cache or Origin Shield as the upstream
//! layer took the caching path, so its key must have changed; no `Server-Timing` at all, or
//! another upstream layer (`EDGE`, `Origin`), is read as caching disabled.

use crate::cause::Cause;
use cachalot_policy::parse::CacheControl;
use serde::Serialize;
use serde_json::{Value, json};
use std::fmt::Write as _;

/// The two image `Accept` values of the diagnostic guide: browsers that pick the same format.
pub const ACCEPT_A: &str = "image/avif,image/webp,image/apng,*/*;q=0.8";
/// See [`ACCEPT_A`].
pub const ACCEPT_B: &str = "image/avif,image/webp,*/*";
/// Two `Accept-Encoding` values that CloudFront's normalisation puts in one bucket (`br,gzip`).
pub const ENCODING_A: &str = "gzip, deflate, br";
/// See [`ENCODING_A`].
pub const ENCODING_B: &str = "br, gzip, deflate";
/// Two browsers' `User-Agent` values.
pub const AGENT_A: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";
/// See [`AGENT_A`].
pub const AGENT_B: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) \
                           Version/17.4.1 Safari/605.1.15";
/// Two `Accept-Language` values.
pub const LANGUAGE_A: &str = "en-US,en;q=0.9";
/// See [`LANGUAGE_A`].
pub const LANGUAGE_B: &str = "en-GB,en;q=0.8";
/// Sent with every request: asks CloudFront for its `Server-Timing` metrics.
pub const PRAGMA: (&str, &str) = ("Pragma", "server-timing");

/// A `max-age` below this is reported as too short for cacheable content.
pub const SHORT_TTL_SECS: u64 = 3600;

/// What one request tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Dimension {
    /// The same request again.
    Repeat,
    /// A junk query string.
    QueryString,
    /// A junk cookie.
    Cookie,
    /// Two equivalent `Accept` values.
    Accept,
    /// Two equivalent `Accept-Encoding` values.
    AcceptEncoding,
    /// Two browsers' `User-Agent` values.
    UserAgent,
    /// Two `Accept-Language` values.
    AcceptLanguage,
}

impl Dimension {
    fn word(self) -> &'static str {
        match self {
            Dimension::Repeat => "repeat",
            Dimension::QueryString => "query",
            Dimension::Cookie => "cookie",
            Dimension::Accept => "accept",
            Dimension::AcceptEncoding => "accept-encoding",
            Dimension::UserAgent => "user-agent",
            Dimension::AcceptLanguage => "accept-language",
        }
    }
}

/// One request to send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProbeRequest {
    /// What it tests.
    pub dimension: Dimension,
    /// 0 for the first value, 1 for the first value again, 2 for the second value
    /// (for [`Dimension::Repeat`], the repetition number).
    pub variant: usize,
    /// `name=value` to append to the URL's query string.
    pub extra_query: Option<String>,
    /// Request headers (the user's, with this dimension's value in place).
    pub headers: Vec<(String, String)>,
}

impl ProbeRequest {
    /// A short label such as `query b` or `repeat 2`.
    pub fn label(&self) -> String {
        match self.dimension {
            Dimension::Repeat => format!("repeat {}", self.variant + 1),
            d => format!("{} {}", d.word(), ["a", "a again", "b"].get(self.variant).copied().unwrap_or("?")),
        }
    }
}

/// The requests to send: `count` repeats, then each dimension as a, a again, b.
/// `nonce` makes the junk values unique to this run so they start cold.
pub fn plan(count: usize, user_headers: &[(String, String)], nonce: &str) -> Vec<ProbeRequest> {
    let mut user: Vec<(String, String)> =
        user_headers.iter().filter(|(n, _)| !n.eq_ignore_ascii_case(PRAGMA.0)).cloned().collect();
    user.push((PRAGMA.0.to_owned(), PRAGMA.1.to_owned()));
    let user_headers = user.as_slice();
    let with = |name: &str, value: &str| {
        let mut h: Vec<(String, String)> =
            user_headers.iter().filter(|(n, _)| !n.eq_ignore_ascii_case(name)).cloned().collect();
        h.push((name.to_owned(), value.to_owned()));
        h
    };
    let mut out: Vec<ProbeRequest> = (0..count.max(2))
        .map(|i| ProbeRequest {
            dimension: Dimension::Repeat,
            variant: i,
            extra_query: None,
            headers: user_headers.to_vec(),
        })
        .collect();
    for (variant, v) in ["a", "a", "b"].iter().enumerate() {
        out.push(ProbeRequest {
            dimension: Dimension::QueryString,
            variant,
            extra_query: Some(format!("cachalot-probe={nonce}{v}")),
            headers: user_headers.to_vec(),
        });
    }
    let cookie_of = |v: &str| {
        let existing = user_headers.iter().find(|(n, _)| n.eq_ignore_ascii_case("cookie")).map(|(_, c)| c.as_str());
        match existing {
            Some(c) => format!("{c}; cachalot_probe={nonce}{v}"),
            None => format!("cachalot_probe={nonce}{v}"),
        }
    };
    for (variant, v) in ["a", "a", "b"].iter().enumerate() {
        out.push(ProbeRequest {
            dimension: Dimension::Cookie,
            variant,
            extra_query: None,
            headers: with("Cookie", &cookie_of(v)),
        });
    }
    for (variant, v) in [ACCEPT_A, ACCEPT_A, ACCEPT_B].iter().enumerate() {
        out.push(ProbeRequest { dimension: Dimension::Accept, variant, extra_query: None, headers: with("Accept", v) });
    }
    for (variant, v) in [ENCODING_A, ENCODING_A, ENCODING_B].iter().enumerate() {
        out.push(ProbeRequest {
            dimension: Dimension::AcceptEncoding,
            variant,
            extra_query: None,
            headers: with("Accept-Encoding", v),
        });
    }
    for (variant, v) in [AGENT_A, AGENT_A, AGENT_B].iter().enumerate() {
        out.push(ProbeRequest {
            dimension: Dimension::UserAgent,
            variant,
            extra_query: None,
            headers: with("User-Agent", v),
        });
    }
    for (variant, v) in [LANGUAGE_A, LANGUAGE_A, LANGUAGE_B].iter().enumerate() {
        out.push(ProbeRequest {
            dimension: Dimension::AcceptLanguage,
            variant,
            extra_query: None,
            headers: with("Accept-Language", v),
        });
    }
    out
}

/// A recorded response (header names in any case).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Observed {
    /// HTTP status.
    pub status: u16,
    /// Response headers.
    pub headers: Vec<(String, String)>,
}

impl Observed {
    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The `x-cache` word: `Hit`, `Miss`, `RefreshHit`, `Error`, …
    pub fn cache_result(&self) -> Option<&str> {
        let v = self.header("x-cache")?;
        Some(v.split_whitespace().next().unwrap_or(v))
    }

    fn is_hit(&self) -> bool {
        matches!(self.cache_result(), Some(r) if r.eq_ignore_ascii_case("hit") || r.eq_ignore_ascii_case("refreshhit"))
    }

    fn is_miss(&self) -> bool {
        matches!(self.cache_result(), Some(r) if r.eq_ignore_ascii_case("miss"))
    }

    fn pop(&self) -> Option<&str> {
        self.header("x-amz-cf-pop")
    }

    /// `Server-Timing` names a regional edge cache or Origin Shield as the layer that went to
    /// the origin: the request took the caching path.
    fn upstream_is_a_cache(&self) -> bool {
        self.header("server-timing").is_some_and(|t| {
            t.split(',').any(|m| {
                let m = m.trim();
                m.starts_with("cdn-upstream-layer") && (m.contains("\"REC\"") || m.contains("Origin Shield"))
            })
        })
    }

    fn cache_control(&self) -> CacheControl {
        CacheControl::parse(
            self.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case("cache-control")).map(|(_, v)| v.as_str()),
        )
    }
}

/// One response as shown in evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evidence {
    /// 1-based request number.
    pub request: usize,
    /// The request's label.
    pub label: String,
    /// HTTP status.
    pub status: u16,
    /// `x-cache`.
    pub x_cache: Option<String>,
    /// `age`.
    pub age: Option<String>,
    /// `x-amz-cf-pop`.
    pub pop: Option<String>,
    /// `cache-control`.
    pub cache_control: Option<String>,
    /// `vary`.
    pub vary: Option<String>,
    /// `server-timing`.
    pub server_timing: Option<String>,
}

/// A cause found, with its evidence and fix.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProbeFinding {
    /// The cause.
    pub cause: Cause,
    /// False for cold POPs (expected).
    pub fault: bool,
    /// What was seen, in plain words.
    pub message: String,
    /// The responses that show it.
    pub evidence: Vec<Evidence>,
    /// The fix in plain words.
    pub fix: String,
    /// The policy change, as JSON in the AWS CLI's shape.
    pub fix_json: Value,
}

/// The result of a probe.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The URL probed.
    pub url: String,
    /// Every exchange, in order.
    pub requests: Vec<Evidence>,
    /// Causes found.
    pub findings: Vec<ProbeFinding>,
    /// What could not be tested and why.
    pub notes: Vec<String>,
    /// `Cache-Control`, `ETag`, `Last-Modified` of the first response.
    pub validators: Validators,
    /// No fault found.
    pub healthy: bool,
}

/// The caching headers of the object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Validators {
    /// `Cache-Control`.
    pub cache_control: Option<String>,
    /// `ETag`.
    pub etag: Option<String>,
    /// `Last-Modified`.
    pub last_modified: Option<String>,
}

/// Why the target cannot be diagnosed (not a cache fault).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// What happened.
    pub message: String,
    /// What to do.
    pub hint: String,
}

fn evidence(i: usize, req: &ProbeRequest, r: &Observed) -> Evidence {
    let h = |n: &str| r.header(n).map(str::to_owned);
    Evidence {
        request: i + 1,
        label: req.label(),
        status: r.status,
        x_cache: h("x-cache"),
        age: h("age"),
        pop: h("x-amz-cf-pop"),
        cache_control: h("cache-control"),
        vary: h("vary"),
        server_timing: h("server-timing"),
    }
}

fn policy_fix(params: Value) -> Value {
    json!({
        "Command": "aws cloudfront update-cache-policy --id <cache-policy-id> --if-match <ETag>",
        "CachePolicyConfig": {"ParametersInCacheKeyAndForwardedToOrigin": params}
    })
}

/// The CloudFront Function that normalises `Accept` for images (the guide's fix).
pub const NORMALIZE_ACCEPT_FUNCTION: &str = "function handler(event) { var h = event.request.headers; \
var a = h.accept ? h.accept.value : ''; \
h.accept = { value: a.indexOf('image/avif') >= 0 ? 'image/avif' : a.indexOf('image/webp') >= 0 ? 'image/webp' : 'image/jpeg' }; \
return event.request; }";

/// The fix of a cause as JSON in the AWS CLI's shape.
pub fn fix_json(cause: Cause) -> Value {
    match cause {
        Cause::QueryStringsInKey => policy_fix(json!({"QueryStringsConfig": {"QueryStringBehavior": "none"}})),
        Cause::CookiesInKey => policy_fix(json!({"CookiesConfig": {"CookieBehavior": "none"}})),
        Cause::AcceptOverKeyed | Cause::HeadersInKey => json!({
            "Command": "aws cloudfront create-function --name normalize-accept --function-config Comment=,Runtime=cloudfront-js-2.0 --function-code fileb://normalize-accept.js",
            "FunctionCode": NORMALIZE_ACCEPT_FUNCTION,
            "FunctionAssociations": {"Quantity": 1, "Items": [{
                "EventType": "viewer-request",
                "FunctionARN": "arn:aws:cloudfront::<account-id>:function/normalize-accept"
            }]}
        }),
        Cause::AcceptEncodingKeyed => policy_fix(json!({
            "EnableAcceptEncodingGzip": true,
            "EnableAcceptEncodingBrotli": true,
            "HeadersConfig": {"HeaderBehavior": "none"}
        })),
        Cause::TtlTooShort | Cause::Uncacheable => json!({
            "OriginResponseHeaders": {"Cache-Control": "public, max-age=31536000, immutable"},
            "Command": "aws cloudfront update-cache-policy --id <cache-policy-id> --if-match <ETag>",
            "CachePolicyConfig": {"MinTTL": 1, "DefaultTTL": 86400, "MaxTTL": 31536000}
        }),
        Cause::CachingDisabled => json!({
            "Command": "aws cloudfront update-distribution (edit the behavior serving this path)",
            "CachePolicyId": cachalot_config::managed::CACHING_OPTIMIZED
        }),
        Cause::ColdPop => json!({
            "Command": "aws cloudfront update-distribution (edit the origin)",
            "Origins": {"Items": [{"OriginShield": {"Enabled": true, "OriginShieldRegion": "<region nearest the origin>"}}]}
        }),
        Cause::CompressionOff => json!({"Compress": true}),
        Cause::KeyChangesPerRequest => json!({
            "Command": "aws cloudfront update-cache-policy --id <cache-policy-id> --if-match <ETag>",
            "CachePolicyConfig": {"ParametersInCacheKeyAndForwardedToOrigin": {
                "QueryStringsConfig": {"QueryStringBehavior": "whitelist", "QueryStrings": {"Quantity": 1, "Items": ["<the parameters that change the response>"]}}
            }},
            "ViewerRequestFunction": "remove the per-request value (Math.random(), Date.now()) the function writes into the request"
        }),
        Cause::UnreachableBehavior | Cause::InvalidationChurn => json!({}),
    }
}

fn finding(cause: Cause, message: String, evidence: Vec<Evidence>) -> ProbeFinding {
    ProbeFinding {
        cause,
        fault: cause.is_fault(),
        message,
        evidence,
        fix: cause.fix().to_owned(),
        fix_json: fix_json(cause),
    }
}

/// Reads the responses to [`plan`]'s requests (`responses[i]` answers `plan[i]`).
pub fn interpret(url: &str, plan: &[ProbeRequest], responses: &[Observed]) -> Result<Report, Problem> {
    let n = plan.len().min(responses.len());
    let (plan, responses) = (&plan[..n], &responses[..n]);
    let Some(first) = responses.first() else {
        return Err(Problem { message: format!("{url}: no response"), hint: "check the URL".into() });
    };
    if (300..400).contains(&first.status) {
        let to = first.header("location").unwrap_or("(no Location header)");
        return Err(Problem {
            message: format!("{url} redirects ({} to {to}); a redirect says nothing about caching", first.status),
            hint: format!("probe the final URL instead: cachalot probe '{to}'"),
        });
    }
    if first.status >= 400 {
        return Err(Problem {
            message: format!(
                "{url} answered {} ({}); an error response says nothing about how the object caches",
                first.status,
                first.header("x-cache").unwrap_or("no x-cache header")
            ),
            hint: "probe a URL that exists and returns 200".into(),
        });
    }
    if responses.iter().all(|r| r.header("x-cache").is_none()) {
        return Err(Problem {
            message: format!("{url} sends no x-cache header: it is not served by CloudFront or Cachalot"),
            hint: "probe the CloudFront (dXXXX.cloudfront.net) or Cachalot URL of the object".into(),
        });
    }
    let requests: Vec<Evidence> = plan.iter().zip(responses).enumerate().map(|(i, (p, r))| evidence(i, p, r)).collect();
    let ev = |i: usize| requests[i].clone();
    let mut findings = Vec::new();
    let mut notes = Vec::new();

    // 1. The same request repeated: does the object cache at all on one POP?
    let repeats: Vec<usize> = (0..n).filter(|&i| plan[i].dimension == Dimension::Repeat).collect();
    let same_pop = |a: usize, b: usize| responses[a].pop().is_some() && responses[a].pop() == responses[b].pop();
    let repeat_hit = repeats.iter().skip(1).find(|&&j| {
        responses[j].is_hit()
            && repeats.iter().take_while(|&&i| i < j).any(|&i| same_pop(i, j) || responses[i].pop().is_none())
    });
    let cc = first.cache_control();
    let validators = Validators {
        cache_control: first.header("cache-control").map(str::to_owned),
        etag: first.header("etag").map(str::to_owned),
        last_modified: first.header("last-modified").map(str::to_owned),
    };
    let caches = repeat_hit.is_some();
    let forbids = cc.no_store || cc.no_cache || cc.private;
    let header_ttl = cc.s_maxage.or(cc.max_age);
    if let Some(&j) = repeat_hit {
        if responses[repeats[0]].is_miss() {
            findings.push(finding(
                Cause::ColdPop,
                format!(
                    "the first request missed and request {} hit on the same POP ({}): the object was simply cold there",
                    j + 1,
                    responses[j].pop().unwrap_or("unknown")
                ),
                vec![ev(repeats[0]), ev(j)],
            ));
        }
    } else {
        let pops: Vec<Option<&str>> = repeats.iter().map(|&i| responses[i].pop()).collect();
        let all_different = pops.len() > 1 && pops.iter().enumerate().all(|(i, p)| pops[..i].iter().all(|q| q != p));
        if all_different && pops.iter().all(Option::is_some) {
            notes.push(format!(
                "every repeated request reached a different POP ({}); caches are per POP, so these misses say nothing — \
                 probe again from one network or with a larger --count",
                pops.iter().flatten().copied().collect::<Vec<_>>().join(", ")
            ));
            if repeats.iter().all(|&i| responses[i].is_miss()) {
                findings.push(finding(
                    Cause::ColdPop,
                    "each request reached a different POP and missed there: expected for a distributed cache".into(),
                    repeats.iter().map(|&i| ev(i)).collect(),
                ));
            }
        } else if forbids || header_ttl == Some(0) {
            findings.push(finding(
                Cause::Uncacheable,
                format!(
                    "repeated requests on the same POP all missed and the origin sends Cache-Control: {} — \
                     with MinTTL 0 CloudFront does not keep the object",
                    validators.cache_control.as_deref().unwrap_or("")
                ),
                repeats.iter().map(|&i| ev(i)).collect(),
            ));
        } else if let Some(&i) = repeats.iter().find(|&&i| responses[i].upstream_is_a_cache()) {
            findings.push(finding(
                Cause::KeyChangesPerRequest,
                format!(
                    "repeated requests on the same POP all missed although the response is cacheable (Cache-Control: \
                     {}), and request {} went through the caching tiers (Server-Timing: {}): the behavior caches, so the \
                     cache key must change on every request (a viewer-request function adding a random value)",
                    validators.cache_control.as_deref().unwrap_or("none"),
                    i + 1,
                    responses[i].header("server-timing").unwrap_or("")
                ),
                repeats.iter().map(|&i| ev(i)).collect(),
            ));
        } else {
            findings.push(finding(
                Cause::CachingDisabled,
                format!(
                    "repeated requests on the same POP all missed although the response is cacheable (Cache-Control: {}): \
                     the behavior does not cache (MaxTTL 0, CachingDisabled, or every header forwarded){}",
                    validators.cache_control.as_deref().unwrap_or("none"),
                    if responses.iter().any(|r| r.header("server-timing").is_some()) {
                        ""
                    } else {
                        "; no Server-Timing came back, so a cache key that changes on every request cannot be ruled out"
                    }
                ),
                repeats.iter().map(|&i| ev(i)).collect(),
            ));
        }
    }

    // 2. Short TTLs: a small max-age, RefreshHit, or a hit that turned back into a miss.
    let refresh: Vec<usize> =
        (0..n).filter(|&i| responses[i].cache_result().is_some_and(|r| r.eq_ignore_ascii_case("refreshhit"))).collect();
    let expired_in_probe =
        repeats.windows(2).find(|w| responses[w[0]].is_hit() && responses[w[1]].is_miss() && same_pop(w[0], w[1]));
    if caches {
        let short = header_ttl.filter(|t| *t > 0 && *t < SHORT_TTL_SECS);
        if short.is_some() || !refresh.is_empty() || expired_in_probe.is_some() {
            let mut why = Vec::new();
            if let Some(t) = short {
                why.push(format!("the origin sends max-age {t} s (under {SHORT_TTL_SECS} s)"));
            }
            if !refresh.is_empty() {
                why.push(format!("{} RefreshHit response(s): the object expired and was revalidated", refresh.len()));
            }
            if let Some(w) = expired_in_probe {
                why.push(format!(
                    "request {} hit but request {} missed on the same POP seconds later",
                    w[0] + 1,
                    w[1] + 1
                ));
            }
            let mut evidence_rows: Vec<Evidence> = vec![ev(0)];
            evidence_rows.extend(refresh.iter().map(|&i| ev(i)));
            if let Some(w) = expired_in_probe {
                evidence_rows.extend([ev(w[0]), ev(w[1])]);
            }
            evidence_rows.dedup_by_key(|e| e.request);
            findings.push(finding(Cause::TtlTooShort, why.join("; "), evidence_rows));
        }
    }

    // 3. One key dimension at a time.
    let dims = [
        (Dimension::QueryString, Cause::QueryStringsInKey, "two junk query strings"),
        (Dimension::Cookie, Cause::CookiesInKey, "two junk cookie values"),
        (Dimension::Accept, Cause::AcceptOverKeyed, "two equivalent image Accept values"),
        (
            Dimension::AcceptEncoding,
            Cause::AcceptEncodingKeyed,
            "two Accept-Encoding values CloudFront normalises alike",
        ),
        (Dimension::UserAgent, Cause::HeadersInKey, "two browsers' User-Agent values"),
        (Dimension::AcceptLanguage, Cause::HeadersInKey, "two Accept-Language values"),
    ];
    for (dim, cause, what) in dims {
        let idx: Vec<usize> = (0..n).filter(|&i| plan[i].dimension == dim).collect();
        let [a1, a2, b] = idx[..] else { continue };
        if !caches {
            notes.push(format!("{}: not tested, the object does not cache on repeat", dim.word()));
            continue;
        }
        let (r1, r2, rb) = (&responses[a1], &responses[a2], &responses[b]);
        if r1.is_hit() && rb.is_hit() {
            continue; // Both values served from the object already cached: not keyed.
        }
        if !same_pop(a2, b) {
            notes.push(format!(
                "{}: inconclusive, the requests reached different POPs ({} and {})",
                dim.word(),
                r2.pop().unwrap_or("?"),
                rb.pop().unwrap_or("?")
            ));
            continue;
        }
        if !r2.is_hit() {
            notes.push(format!("{}: inconclusive, the first value did not hit on repeat", dim.word()));
            continue;
        }
        if rb.is_miss() {
            findings.push(finding(
                cause,
                format!(
                    "{what} were stored as two objects: request {} hit, then request {} with the second value missed on the same POP",
                    a2 + 1,
                    b + 1
                ),
                vec![ev(a1), ev(a2), ev(b)],
            ));
        }
    }
    let healthy = !findings.iter().any(|f| f.fault);
    Ok(Report { url: url.to_owned(), requests, findings, notes, validators, healthy })
}

/// The report as aligned plain text.
pub fn text(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "probe {} ({} requests)", report.url, report.requests.len());
    let _ = writeln!(out);
    let rows: Vec<[String; 6]> = report
        .requests
        .iter()
        .map(|e| {
            let d = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
            [e.request.to_string(), e.label.clone(), e.status.to_string(), d(&e.x_cache), d(&e.age), d(&e.pop)]
        })
        .collect();
    let head = ["#", "REQUEST", "STATUS", "X-CACHE", "AGE", "POP"];
    let mut w = head.map(str::len);
    for r in &rows {
        for (x, c) in w.iter_mut().zip(r) {
            *x = (*x).max(c.len());
        }
    }
    let fmt = |cells: [&str; 6]| {
        let mut s = String::new();
        for (c, width) in cells.iter().zip(w) {
            let _ = write!(s, "{c:<width$}  ");
        }
        s.trim_end().to_owned()
    };
    let _ = writeln!(out, "{}", fmt(head));
    for r in &rows {
        let _ = writeln!(out, "{}", fmt([&r[0], &r[1], &r[2], &r[3], &r[4], &r[5]]));
    }
    let v = &report.validators;
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "cache-control: {}   etag: {}   last-modified: {}",
        v.cache_control.as_deref().unwrap_or("-"),
        v.etag.as_deref().unwrap_or("-"),
        v.last_modified.as_deref().unwrap_or("-")
    );
    for f in &report.findings {
        let _ = writeln!(out);
        let kind = if f.fault { "fault" } else { "note" };
        let _ = writeln!(out, "{} ({kind}): {}", f.cause.id(), f.cause.summary());
        let _ = writeln!(out, "  seen:  {}", f.message);
        for e in &f.evidence {
            let _ = writeln!(
                out,
                "         #{} {}: {} age {} pop {}",
                e.request,
                e.label,
                e.x_cache.as_deref().unwrap_or("no x-cache"),
                e.age.as_deref().unwrap_or("-"),
                e.pop.as_deref().unwrap_or("-")
            );
        }
        let _ = writeln!(out, "  fix:   {}", f.fix);
        let _ = writeln!(out, "  fix JSON: {}", serde_json::to_string(&f.fix_json).unwrap_or_default());
    }
    for note in &report.notes {
        let _ = writeln!(out, "note: {note}");
    }
    let faults = report.findings.iter().filter(|f| f.fault).count();
    let _ = writeln!(out);
    if faults == 0 {
        let _ = writeln!(out, "Healthy: no fault found.");
    } else {
        let _ = writeln!(out, "{faults} fault{} found.", if faults == 1 { "" } else { "s" });
    }
    out
}

/// A small model of a CloudFront POP for tests and the fake CDN: keys requests by the
/// dimensions `keyed` names, answers with `x-cache`, `age` and `x-amz-cf-pop`, and with
/// `Server-Timing` when asked (`Pragma: server-timing`) on requests that take the caching
/// path (through a regional edge cache).
#[derive(Debug, Clone, Default)]
pub struct FakeCdn {
    /// Which request parts are in the key: `query`, `cookie`, `accept`, `accept-encoding`,
    /// `user-agent`, `accept-language`.
    pub keyed: Vec<&'static str>,
    /// `Cache-Control` sent by the "origin".
    pub cache_control: String,
    /// The behavior does not cache at all.
    pub caching_disabled: bool,
    /// A per-request value lands in the key (a viewer-request function adding a random query).
    pub random_key: bool,
    /// POP id.
    pub pop: String,
    stored: std::collections::HashMap<String, u64>,
}

impl FakeCdn {
    /// A POP keying `keyed`, with the origin sending `cache_control`.
    pub fn new(keyed: &[&'static str], cache_control: &str) -> FakeCdn {
        FakeCdn {
            keyed: keyed.to_vec(),
            cache_control: cache_control.to_owned(),
            pop: "LHR50-C1".into(),
            ..FakeCdn::default()
        }
    }

    /// The fake CDN for a cause (a healthy one for `None` and for [`Cause::ColdPop`]).
    pub fn for_cause(cause: Option<Cause>) -> FakeCdn {
        let healthy = "public, max-age=86400";
        match cause {
            Some(Cause::QueryStringsInKey) => FakeCdn::new(&["query"], healthy),
            Some(Cause::CookiesInKey) => FakeCdn::new(&["cookie"], healthy),
            Some(Cause::AcceptOverKeyed) => FakeCdn::new(&["accept"], healthy),
            Some(Cause::AcceptEncodingKeyed) => FakeCdn::new(&["accept-encoding"], healthy),
            Some(Cause::TtlTooShort) => FakeCdn::new(&[], "public, max-age=60"),
            Some(Cause::CachingDisabled) => FakeCdn { caching_disabled: true, ..FakeCdn::new(&[], healthy) },
            Some(Cause::HeadersInKey) => FakeCdn::new(&["user-agent"], healthy),
            Some(Cause::Uncacheable) => FakeCdn { caching_disabled: true, ..FakeCdn::new(&[], "private, max-age=600") },
            Some(Cause::KeyChangesPerRequest) => FakeCdn { random_key: true, ..FakeCdn::new(&["query"], healthy) },
            _ => FakeCdn::new(&[], healthy),
        }
    }

    /// Answers one request at `now_secs`.
    pub fn respond(
        &mut self,
        path: &str,
        query: Option<&str>,
        headers: &[(String, String)],
        now_secs: u64,
    ) -> Observed {
        let h = |n: &str| headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(n)).map_or("", |(_, v)| v.as_str());
        let mut key = path.to_owned();
        for k in &self.keyed {
            key.push('\u{1f}');
            key.push_str(match *k {
                "query" => query.unwrap_or(""),
                "cookie" => h("cookie"),
                "accept" => h("accept"),
                "accept-encoding" => h("accept-encoding"),
                "user-agent" => h("user-agent"),
                "accept-language" => h("accept-language"),
                _ => "",
            });
        }
        if self.random_key {
            key.push_str(&format!("\u{1f}cb={}", self.stored.len()));
        }
        let ttl = CacheControl::parse([self.cache_control.as_str()]).max_age.unwrap_or(86400);
        let (result, age) = match self.stored.get(&key) {
            Some(&at) if !self.caching_disabled && now_secs < at + ttl => ("Hit", now_secs - at),
            _ => {
                if !self.caching_disabled {
                    self.stored.insert(key, now_secs);
                }
                ("Miss", 0)
            }
        };
        let mut headers = vec![
            ("content-type".to_owned(), "image/jpeg".to_owned()),
            ("cache-control".to_owned(), self.cache_control.clone()),
            ("etag".to_owned(), "\"abc123\"".to_owned()),
            ("x-cache".to_owned(), format!("{result} from cloudfront")),
            ("x-amz-cf-pop".to_owned(), self.pop.clone()),
            ("via".to_owned(), "1.1 0123456789abcdef0123456789abcdef.cloudfront.net (CloudFront)".to_owned()),
        ];
        if age > 0 {
            headers.push(("age".to_owned(), age.to_string()));
        }
        // A behavior that does not cache sends requests straight to the origin (no tiers).
        if !self.caching_disabled && h("pragma").contains("server-timing") {
            let timing = if result == "Hit" {
                format!("cdn-hit-layer;desc=\"EDGE\",cdn-cache-hit,cdn-pop;desc=\"{}\"", self.pop)
            } else {
                format!(
                    "cdn-upstream-layer;desc=\"REC\",cdn-upstream-fbl;dur=40,cdn-cache-miss,cdn-pop;desc=\"{}\"",
                    self.pop
                )
            };
            headers.push(("server-timing".to_owned(), timing));
        }
        Observed { status: 200, headers }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(cdn: &mut FakeCdn) -> Report {
        let plan = plan(3, &[], "n1");
        let responses: Vec<Observed> = plan
            .iter()
            .enumerate()
            .map(|(i, p)| cdn.respond("/images/hero.jpg", p.extra_query.as_deref(), &p.headers, 1000 + i as u64))
            .collect();
        interpret("https://d1.cloudfront.net/images/hero.jpg", &plan, &responses).unwrap()
    }

    fn causes(r: &Report) -> Vec<Cause> {
        r.findings.iter().map(|f| f.cause).collect()
    }

    #[test]
    fn each_fake_cause_is_named_and_nothing_else() {
        for cause in [
            Cause::QueryStringsInKey,
            Cause::CookiesInKey,
            Cause::AcceptOverKeyed,
            Cause::AcceptEncodingKeyed,
            Cause::TtlTooShort,
            Cause::HeadersInKey,
        ] {
            let r = run(&mut FakeCdn::for_cause(Some(cause)));
            assert_eq!(causes(&r), vec![Cause::ColdPop, cause], "{cause}: {}", text(&r));
            assert!(!r.healthy);
        }
        let r = run(&mut FakeCdn::for_cause(Some(Cause::ColdPop)));
        assert_eq!(causes(&r), vec![Cause::ColdPop]);
        assert!(r.healthy);
        let r = run(&mut FakeCdn::for_cause(Some(Cause::CachingDisabled)));
        assert_eq!(causes(&r), vec![Cause::CachingDisabled]);
    }

    /// An object that never hits: a key changing on every request went through the caching
    /// tiers (Server-Timing says so); a behavior that does not cache did not.
    #[test]
    fn a_changing_key_is_told_from_caching_disabled() {
        let r = run(&mut FakeCdn::for_cause(Some(Cause::KeyChangesPerRequest)));
        assert_eq!(causes(&r), vec![Cause::KeyChangesPerRequest], "{}", text(&r));
        let r = run(&mut FakeCdn::for_cause(Some(Cause::CachingDisabled)));
        assert_eq!(causes(&r), vec![Cause::CachingDisabled], "{}", text(&r));
    }

    /// A keyed User-Agent (or Accept-Language) is varied like the other dimensions.
    #[test]
    fn a_keyed_user_agent_or_language_is_found() {
        let r = run(&mut FakeCdn::new(&["user-agent"], "public, max-age=86400"));
        assert_eq!(causes(&r), vec![Cause::ColdPop, Cause::HeadersInKey], "{}", text(&r));
        assert!(r.findings[1].message.contains("User-Agent"), "{}", r.findings[1].message);
        let r = run(&mut FakeCdn::new(&["accept-language"], "public, max-age=86400"));
        assert_eq!(causes(&r), vec![Cause::ColdPop, Cause::HeadersInKey], "{}", text(&r));
        let plan = plan(2, &[], "n");
        assert!(plan.iter().all(|p| p.headers.iter().any(|(n, v)| n == "Pragma" && v == "server-timing")));
    }

    /// `analyze` calls an origin's `no-store` `uncacheable`; so does `probe` (one vocabulary).
    #[test]
    fn no_store_and_private_are_reported_as_uncacheable() {
        for cc in ["no-store", "private, max-age=600", "no-cache", "max-age=0"] {
            let r = run(&mut FakeCdn { caching_disabled: true, ..FakeCdn::new(&[], cc) });
            assert_eq!(causes(&r), vec![Cause::Uncacheable], "{cc}");
        }
    }

    #[test]
    fn redirects_errors_and_foreign_servers_are_problems_not_faults() {
        let plan = plan(2, &[], "n");
        let redirect = Observed { status: 301, headers: vec![("Location".into(), "https://x/".into())] };
        assert!(interpret("u", &plan, &[redirect]).unwrap_err().hint.contains("https://x/"));
        let missing = Observed { status: 404, headers: vec![("x-cache".into(), "Error from cloudfront".into())] };
        assert!(interpret("u", &plan, &[missing]).is_err());
        let plain = Observed { status: 200, headers: vec![] };
        assert!(interpret("u", &plan, &[plain.clone(), plain]).unwrap_err().message.contains("x-cache"));
        assert!(interpret("u", &plan, &[]).is_err());
    }

    #[test]
    fn different_pops_are_inconclusive_not_faults() {
        let plan = plan(3, &[], "n");
        let responses: Vec<Observed> = (0..plan.len())
            .map(|i| Observed {
                status: 200,
                headers: vec![
                    ("x-cache".into(), "Miss from cloudfront".into()),
                    ("x-amz-cf-pop".into(), format!("POP{i}")),
                ],
            })
            .collect();
        let r = interpret("u", &plan, &responses).unwrap();
        assert!(r.healthy, "{}", text(&r));
        assert!(r.notes[0].contains("different POP"));
    }
}
