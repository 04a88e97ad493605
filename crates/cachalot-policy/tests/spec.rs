//! CloudFront's rules as data: every file under `tests/spec/` holds cases, each citing the
//! section of `cloudfront-semantics.md` it checks. A case gives a cache policy (a managed id or
//! a `CachePolicyConfig` as the AWS CLI prints it), an optional origin request policy, viewer
//! requests and an origin response, and expects:
//!
//! - `same_key` / `different_key`: pairs of requests (by name) whose cache keys must be equal
//!   or differ;
//! - `ttl` (seconds) or `not_stored` (the `NotStoredReason`, e.g. `CachingDisabled`) for the
//!   response at `now`;
//! - `forwarded` / `not_forwarded`: viewer header names (lower-case) that reach the origin or
//!   must not.
//!
//! The harness calls exactly the functions the edge calls (`cache_key`, `ttl::storage`,
//! `forward::forwards_header`).

use cachalot_config::diag::Diagnostics;
use cachalot_config::model::{CacheSettings, OriginRequestSettings};
use cachalot_config::{managed, validate, wire};
use cachalot_policy::ViewerRequest;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

fn cache_settings(case: &Value, at: &str) -> CacheSettings {
    let mut diags = Diagnostics::new();
    let config: wire::CachePolicyConfig = match &case["cache_policy"] {
        Value::String(id) => {
            managed::cache_policies()
                .into_iter()
                .find(|p| &p.id == id)
                .unwrap_or_else(|| panic!("{at}: no managed cache policy {id}"))
                .cache_policy_config
        }
        v => serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("{at}: cache_policy: {e}")),
    };
    validate::cache_policy(&config, "$", &mut diags).unwrap_or_else(|| panic!("{at}: invalid cache policy: {diags:?}"))
}

fn origin_request_settings(case: &Value, at: &str) -> OriginRequestSettings {
    let mut diags = Diagnostics::new();
    let config: wire::OriginRequestPolicyConfig = match &case["origin_request_policy"] {
        Value::Null => serde_json::from_value(serde_json::json!({
            "Name": "none", "HeadersConfig": {"HeaderBehavior": "none"},
            "CookiesConfig": {"CookieBehavior": "none"}, "QueryStringsConfig": {"QueryStringBehavior": "none"}
        }))
        .unwrap(),
        Value::String(id) => {
            managed::origin_request_policies()
                .into_iter()
                .find(|p| &p.id == id)
                .unwrap_or_else(|| panic!("{at}: no managed origin request policy {id}"))
                .origin_request_policy_config
        }
        v => serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("{at}: origin_request_policy: {e}")),
    };
    validate::origin_request_policy(&config, "$", &mut diags)
        .unwrap_or_else(|| panic!("{at}: invalid origin request policy: {diags:?}"))
}

fn header_map(v: &Value) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in v.as_object().into_iter().flatten() {
        let values = match value {
            Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
            other => vec![other.as_str().unwrap_or_default()],
        };
        for value in values {
            map.append(HeaderName::from_bytes(name.as_bytes()).unwrap(), HeaderValue::from_str(value).unwrap());
        }
    }
    map
}

struct Req {
    method: Method,
    path: String,
    query: Option<String>,
    headers: HeaderMap,
}

impl Req {
    fn from(v: &Value) -> Req {
        Req {
            method: v["method"].as_str().unwrap_or("GET").parse().unwrap(),
            path: v["path"].as_str().unwrap_or("/").to_owned(),
            query: v["query"].as_str().map(str::to_owned),
            headers: header_map(&v["headers"]),
        }
    }

    fn view(&self) -> ViewerRequest<'_> {
        ViewerRequest::new(&self.method, &self.path, self.query.as_deref(), &self.headers)
    }
}

fn run_case(case: &Value, at: &str) -> usize {
    let cache = cache_settings(case, at);
    let orp = origin_request_settings(case, at);
    let requests: BTreeMap<String, Req> =
        case["requests"].as_object().into_iter().flatten().map(|(name, v)| (name.clone(), Req::from(v))).collect();
    let key = |name: &str| {
        let r = requests.get(name).unwrap_or_else(|| panic!("{at}: no request named {name}"));
        cachalot_policy::cache_key("E1SPEC", &cache, &r.view()).0.as_str().to_owned()
    };
    let mut checks = 0;
    for (field, equal) in [("same_key", true), ("different_key", false)] {
        for pair in case["expect"][field].as_array().into_iter().flatten() {
            let (a, b) = (pair[0].as_str().unwrap(), pair[1].as_str().unwrap());
            assert_eq!(key(a) == key(b), equal, "{at}: {field} {a} / {b}: {} vs {}", key(a), key(b));
            checks += 1;
        }
    }
    let response = &case["response"];
    if !response.is_null() {
        let status = response["status"].as_u64().unwrap_or(200) as u16;
        let headers = header_map(&response["headers"]);
        let now = case["now"].as_u64().unwrap_or(1_700_000_000);
        let storage = cachalot_policy::ttl::storage(&cache, &orp, status, &headers, now, None);
        if let Some(ttl) = case["expect"]["ttl"].as_u64() {
            assert_eq!(storage.ttl, Some(ttl), "{at}: ttl ({storage:?})");
            checks += 1;
        }
        if let Some(reason) = case["expect"]["not_stored"].as_str() {
            assert_eq!(storage.ttl, None, "{at}: expected not stored ({storage:?})");
            assert_eq!(format!("{:?}", storage.not_stored.unwrap()), reason, "{at}");
            checks += 1;
        }
        if let Some(collapsible) = case["expect"]["collapsible"].as_bool() {
            assert_eq!(storage.collapsible, collapsible, "{at}: collapsible ({storage:?})");
            checks += 1;
        }
    }
    for (field, present) in [("forwarded", true), ("not_forwarded", false)] {
        for name in case["expect"][field].as_array().into_iter().flatten() {
            let name = name.as_str().unwrap();
            let forwards = cachalot_policy::forward::forwards_header(&cache, &orp, name);
            assert_eq!(forwards, present, "{at}: {field} {name}");
            checks += 1;
        }
    }
    checks
}

#[test]
fn spec_cases_hold() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/spec");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let (mut cases, mut checks) = (0, 0);
    for file in files.iter().filter(|f| f.extension().is_some_and(|e| e == "json")) {
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for (i, case) in doc.as_array().unwrap().iter().enumerate() {
            let section =
                case["section"].as_str().unwrap_or_else(|| panic!("{}[{i}] cites no section", file.display()));
            let at = format!("{}[{i}] {section} {}", file.file_name().unwrap().to_string_lossy(), case["title"]);
            let n = run_case(case, &at);
            assert!(n > 0, "{at}: the case checks nothing");
            cases += 1;
            checks += n;
        }
    }
    assert!(cases >= 20, "only {cases} spec cases found");
    println!("{cases} spec cases, {checks} checks");
}
