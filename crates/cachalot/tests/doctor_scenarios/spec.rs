//! The scenarios as data (`scenarios.json`) and the edge configs built from them: one
//! distribution per scenario (its default behavior is the scenario's), logging to
//! `logs/<name>/`, all behind one test origin, on two POPs of one region.

use serde_json::{Value, json};

/// The two POPs (one region, so they share a regional edge cache as CloudFront's do).
pub(crate) const POPS: [&str; 2] = ["FRA56-P5", "FRA60-P1"];
pub(crate) const REGION: &str = "eu-central-1";

/// What viewers put in the query string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum QueryTraffic {
    None,
    /// Analytics and cache-busting parameters on some requests.
    Busting,
    /// `w` in three widths.
    Width,
    /// `v` with a new timestamp on every request.
    Timestamp,
}

#[derive(Debug, Clone)]
pub(crate) struct Traffic {
    pub(crate) query: QueryTraffic,
    pub(crate) objects: u64,
    /// Requests per second.
    pub(crate) rate: f64,
    pub(crate) invalidate_at_half: bool,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Expect {
    pub(crate) probe: Option<String>,
    pub(crate) analyze: Option<String>,
    pub(crate) analyze_config: Option<String>,
    /// Names one of which the finding must mention (the varying parameter or header).
    pub(crate) names: Vec<String>,
    /// Why logs alone cannot name the fault's own cause (`analyze` then names this limit's verdict).
    pub(crate) analyze_limit: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct Scenario {
    pub(crate) name: String,
    pub(crate) prefix: String,
    pub(crate) fault: bool,
    /// The cache policy: a managed policy name, or overrides of the custom policy.
    pub(crate) managed: Option<String>,
    pub(crate) policy: Value,
    pub(crate) function: Option<String>,
    pub(crate) origin: Value,
    pub(crate) traffic: Traffic,
    pub(crate) expect: Expect,
    /// The change whose gain replay must predict (`None`: nothing to fix).
    pub(crate) fix: Option<Value>,
}

impl Scenario {
    pub(crate) fn content_type(&self) -> &str {
        self.origin["content_type"].as_str().unwrap_or("image/jpeg")
    }

    pub(crate) fn extension(&self) -> &'static str {
        match self.content_type() {
            "image/png" => "png",
            "image/webp" => "webp",
            "image/gif" => "gif",
            "image/avif" => "avif",
            "text/css" => "css",
            "application/javascript" => "js",
            "application/json" => "json",
            "text/html" => "html",
            _ => "jpg",
        }
    }

    pub(crate) fn object_stem(&self) -> &'static str {
        match self.content_type() {
            "application/json" => "item-",
            "text/html" => "page-",
            t if t.starts_with("image/") => "photo-",
            _ => "asset-",
        }
    }

    pub(crate) fn domain(&self, index: usize) -> String {
        format!("d{index:02}scenario0{:0>4}.cloudfront.net", self.prefix)
    }

    pub(crate) fn distribution_id(index: usize) -> String {
        format!("ESCENARIO{index:02}EXMPL")
    }
}

fn names(v: &Value) -> Vec<String> {
    v.as_array().map(|a| a.iter().filter_map(|n| n.as_str().map(str::to_owned)).collect()).unwrap_or_default()
}

/// Reads `scenarios.json`.
pub(crate) fn load() -> Vec<Scenario> {
    let text = include_str!("scenarios.json");
    let v: Value = serde_json::from_str(text).expect("scenarios.json is JSON");
    v["scenarios"]
        .as_array()
        .expect("a scenarios list")
        .iter()
        .map(|s| {
            let t = &s["traffic"];
            Scenario {
                name: s["name"].as_str().expect("name").to_owned(),
                prefix: s["prefix"].as_str().expect("prefix").to_owned(),
                fault: s["kind"] == "fault",
                managed: s["managed"].as_str().map(str::to_owned),
                policy: s.get("policy").cloned().unwrap_or_else(|| json!({})),
                function: s["function"].as_str().map(str::to_owned),
                origin: s["origin"].clone(),
                traffic: Traffic {
                    query: match t["query"].as_str() {
                        Some("busting") => QueryTraffic::Busting,
                        Some("width") => QueryTraffic::Width,
                        Some("timestamp") => QueryTraffic::Timestamp,
                        _ => QueryTraffic::None,
                    },
                    objects: t["objects"].as_u64().unwrap_or(6),
                    rate: t["rate"].as_f64().unwrap_or(6.0),
                    invalidate_at_half: t["invalidate_at_half"].as_bool().unwrap_or(false),
                },
                expect: Expect {
                    probe: s["expect"]["probe"].as_str().map(str::to_owned),
                    analyze: s["expect"]["analyze"].as_str().map(str::to_owned),
                    analyze_config: s["expect"]["analyze_config"].as_str().map(str::to_owned),
                    names: names(&s["expect"]["names"]),
                    analyze_limit: s["expect"]["analyze_limit"].as_str().map(str::to_owned),
                },
                fix: s.get("fix").cloned(),
            }
        })
        .collect()
}

/// The viewer-request functions scenarios can name.
pub(crate) const FUNCTIONS: [(&str, &str); 1] = [(
    "random-query",
    "function handler(event) {\n    var request = event.request;\n    // A per-request cache buster added at the edge.\n    request.querystring.cb = { value: String(Math.random()).slice(2) };\n    return request;\n}\n",
)];

fn managed_id(name: &str) -> &'static str {
    match name {
        "CachingDisabled" => "4135ea2d-6df8-44a3-9df3-4b5a84be39ad",
        _ => "658327ea-f89d-4fab-a63d-7e88639e58f6",
    }
}

fn listed(v: &Value) -> Value {
    let items = names(v);
    if items.is_empty() { json!({"Quantity": 0}) } else { json!({"Quantity": items.len(), "Items": items}) }
}

/// The custom cache policy of `p` (overrides of: no query strings, cookies or headers keyed,
/// MinTTL 0, DefaultTTL one day, MaxTTL one year, gzip and brotli normalised).
fn cache_policy(id: &str, name: &str, p: &Value) -> Value {
    let query = p["query"].as_str().unwrap_or("none");
    let cookies = p["cookies"].as_str().unwrap_or("none");
    let headers = names(&p["headers"]);
    let mut q = json!({"QueryStringBehavior": query});
    if query == "whitelist" || query == "allExcept" {
        q["QueryStrings"] = listed(&p["query_names"]);
    }
    let h = if headers.is_empty() {
        json!({"HeaderBehavior": "none"})
    } else {
        json!({"HeaderBehavior": "whitelist", "Headers": listed(&p["headers"])})
    };
    json!({"Id": id, "CachePolicyConfig": {
        "Name": name, "Comment": "",
        "MinTTL": p["min"].as_u64().unwrap_or(0),
        "DefaultTTL": p["default"].as_u64().unwrap_or(86_400),
        "MaxTTL": p["max"].as_u64().unwrap_or(31_536_000),
        "ParametersInCacheKeyAndForwardedToOrigin": {
            "EnableAcceptEncodingGzip": p["gzip"].as_bool().unwrap_or(true),
            "EnableAcceptEncodingBrotli": p["brotli"].as_bool().unwrap_or(true),
            "HeadersConfig": h,
            "CookiesConfig": {"CookieBehavior": cookies},
            "QueryStringsConfig": q
        }
    }})
}

/// Merges `over` into `base` (objects key by key).
fn merged(base: &Value, over: &Value) -> Value {
    let mut out = base.clone();
    if let (Some(o), Some(b)) = (over.as_object(), out.as_object_mut()) {
        for (k, v) in o {
            b.insert(k.clone(), v.clone());
        }
    }
    out
}

/// Which config to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Variant {
    /// The scenarios as specified (the faults in place).
    AsSpecified,
    /// Every scenario's `fix` applied.
    Fixed,
}

/// The node config: two POPs listening on `pops`, the admin listener, logs to `logs_folder`.
pub(crate) fn node_config(
    scenarios: &[Scenario],
    variant: Variant,
    pops: [u16; 2],
    admin: u16,
    origin_port: u16,
    logs_folder: &str,
) -> Value {
    let mut policies = Vec::new();
    let mut distributions = Vec::new();
    let mut functions: Vec<Value> = Vec::new();
    for (i, s) in scenarios.iter().enumerate() {
        let fix = if variant == Variant::Fixed { s.fix.clone().unwrap_or_else(|| json!({})) } else { json!({}) };
        let managed = match fix.get("managed") {
            Some(m) => m.as_str().map(str::to_owned),
            None if fix.get("policy").is_some() => None,
            None => s.managed.clone(),
        };
        let policy_id = match &managed {
            Some(m) => managed_id(m).to_owned(),
            None => {
                let id = format!("00000000-0000-4000-8000-{:012}", i + 1);
                let p = merged(&s.policy, fix.get("policy").unwrap_or(&json!({})));
                policies.push(cache_policy(&id, &s.name, &p));
                id
            }
        };
        let function = match fix.get("function") {
            Some(f) => f.as_str().map(str::to_owned),
            None => s.function.clone(),
        };
        let mut behavior = json!({
            "TargetOriginId": "origin", "ViewerProtocolPolicy": "allow-all", "Compress": true,
            "CachePolicyId": policy_id
        });
        if let Some(f) = &function {
            behavior["FunctionAssociations"] = json!({"Quantity": 1, "Items": [{
                "EventType": "viewer-request", "FunctionARN": format!("arn:aws:cloudfront::123456789012:function/{f}")
            }]});
            if !functions.iter().any(|x| x["Name"] == f.as_str()) {
                functions.push(json!({
                    "Name": f, "FunctionConfig": {"Runtime": "cloudfront-js-2.0", "Comment": ""},
                    "CodeFile": format!("functions/{f}.js")
                }));
            }
        }
        distributions.push(json!({
            "Id": Scenario::distribution_id(i),
            "DomainName": s.domain(i),
            "DistributionConfig": {
                "CallerReference": s.name, "Comment": s.name, "Enabled": true,
                "Logging": {"Enabled": true, "IncludeCookies": true, "Bucket": "logs.s3.amazonaws.com", "Prefix": format!("{}/", s.name)},
                "Origins": {"Quantity": 1, "Items": [{
                    "Id": "origin", "DomainName": "127.0.0.1",
                    "CustomOriginConfig": {"HTTPPort": origin_port, "HTTPSPort": 443, "OriginProtocolPolicy": "http-only"}
                }]},
                "DefaultCacheBehavior": behavior
            }
        }));
    }
    json!({
        "Pops": [
            {"Id": POPS[0], "Listen": format!("127.0.0.1:{}", pops[0]), "Region": REGION},
            {"Id": POPS[1], "Listen": format!("127.0.0.1:{}", pops[1]), "Region": REGION}
        ],
        "Admin": format!("127.0.0.1:{admin}"),
        "Buckets": {"logs": logs_folder},
        "CachePolicies": policies,
        "Functions": functions,
        "Distributions": distributions
    })
}
