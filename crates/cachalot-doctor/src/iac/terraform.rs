//! Terraform: the JSON `terraform show -json` prints for a plan or a state
//! (<https://developer.hashicorp.com/terraform/internals/json-format>), read into the AWS CLI's
//! shapes. Resources `aws_cloudfront_distribution`, `aws_cloudfront_cache_policy`,
//! `aws_cloudfront_origin_request_policy`, `aws_cloudfront_response_headers_policy` and
//! `aws_cloudfront_function`, with the provider's attribute names
//! (<https://registry.terraform.io/providers/hashicorp/aws/latest/docs/resources/cloudfront_distribution>);
//! nested blocks are lists of objects.
//!
//! A state holds real ids. In a plan, an id CloudFront has not assigned yet is unknown; a
//! behavior naming a policy or function of the same plan is linked through the plan's
//! `configuration` (the expression's `references`), in the root module.

use super::{Found, Kind, Resource, compact, listed};
use cachalot_config::file;
use serde_json::{Map, Value, json};
use std::collections::HashMap;

/// Whether a JSON document is `terraform show -json` output.
pub fn is_show_json(root: &Value) -> bool {
    root.get("format_version").is_some()
        && (root.get("values").is_some()
            || root.get("planned_values").is_some()
            || root.get("terraform_version").is_some())
}

/// A resource as Terraform's JSON gives it: address, type, attribute values.
#[derive(Debug, Clone)]
pub struct TfResource {
    /// `aws_cloudfront_distribution.site` (with module path and index when any).
    pub address: String,
    /// `aws_cloudfront_distribution`.
    pub kind: String,
    /// Local name (`site`).
    pub name: String,
    /// Attribute values; blocks are lists of objects.
    pub values: Value,
    /// The configuration's expressions (references), when known.
    pub expressions: Option<Value>,
    /// 1-based line.
    pub line: Option<usize>,
}

fn collect(module: &Value, out: &mut Vec<TfResource>, text: &str) {
    for r in module.get("resources").and_then(Value::as_array).into_iter().flatten() {
        if r.get("mode").and_then(Value::as_str).is_some_and(|m| m != "managed") {
            continue;
        }
        let address = r.get("address").and_then(Value::as_str).unwrap_or("").to_owned();
        out.push(TfResource {
            line: line_of_address(text, &address),
            kind: r.get("type").and_then(Value::as_str).unwrap_or("").to_owned(),
            name: r.get("name").and_then(Value::as_str).unwrap_or("").to_owned(),
            values: r.get("values").cloned().unwrap_or(Value::Null),
            expressions: None,
            address,
        });
    }
    for child in module.get("child_modules").and_then(Value::as_array).into_iter().flatten() {
        collect(child, out, text);
    }
}

fn line_of_address(text: &str, address: &str) -> Option<usize> {
    let needle = serde_json::to_string(address).ok()?;
    let mut from = 0;
    while let Some(i) = text[from..].find(&needle) {
        let at = from + i;
        let before = text[..at].trim_end();
        if before.ends_with(':') && before[..before.len() - 1].trim_end().ends_with("\"address\"") {
            return Some(text[..at].matches('\n').count() + 1);
        }
        from = at + needle.len();
    }
    None
}

/// Reads `terraform show -json` output.
pub fn read_show_json(root: &Value, text: &str) -> Found {
    let mut resources = Vec::new();
    let plan = root.get("planned_values").is_some();
    if let Some(m) = root.pointer("/planned_values/root_module").or_else(|| root.pointer("/values/root_module")) {
        collect(m, &mut resources, text);
    }
    let mut exprs: HashMap<String, Value> = HashMap::new();
    for r in root.pointer("/configuration/root_module/resources").and_then(Value::as_array).into_iter().flatten() {
        if let (Some(a), Some(e)) = (r.get("address").and_then(Value::as_str), r.get("expressions")) {
            exprs.insert(a.to_owned(), e.clone());
        }
    }
    for r in &mut resources {
        // `aws_x.y[0]` and `aws_x.y["k"]` share the configuration of `aws_x.y`.
        let base = r.address.split('[').next().unwrap_or(&r.address);
        r.expressions = exprs.get(base).cloned();
    }
    read_resources(resources, if plan { "known after apply" } else { "not in the state" })
}

/// Ids by address, as references resolve them.
struct Refs {
    ids: HashMap<String, String>,
    function_arns: HashMap<String, String>,
}

impl Refs {
    /// The id an expression's references point at (`aws_cloudfront_cache_policy.x.id`).
    fn resolve(&self, expr: Option<&Value>) -> Option<String> {
        let refs = expr?.get("references")?.as_array()?;
        for r in refs.iter().filter_map(Value::as_str) {
            let base = r.trim_end_matches(".id").trim_end_matches(".arn");
            if let Some(arn) = self.function_arns.get(base) {
                return Some(arn.clone());
            }
            if let Some(id) = self.ids.get(base) {
                return Some(id.clone());
            }
        }
        None
    }
}

/// Turns Terraform resources (values, and expressions when known) into the AWS CLI's shapes.
pub fn read_resources(resources: Vec<TfResource>, unknown_word: &str) -> Found {
    let mut found = Found::default();
    let mut refs = Refs { ids: HashMap::new(), function_arns: HashMap::new() };
    let id_of = |r: &TfResource| -> String {
        match r.values.get("id").and_then(Value::as_str).filter(|s| !s.is_empty()) {
            Some(id) => id.to_owned(),
            None if r.kind == "aws_cloudfront_distribution" => file::distribution_id_from(&r.address),
            None => file::uuid_from(&format!("terraform:{}", r.address)),
        }
    };
    for r in &resources {
        let base = r.address.split('[').next().unwrap_or(&r.address).to_owned();
        if r.kind == "aws_cloudfront_function" {
            let name = r.values.get("name").and_then(Value::as_str).unwrap_or(&r.name);
            let arn = r
                .values
                .get("arn")
                .and_then(Value::as_str)
                .map_or_else(|| format!("arn:aws:cloudfront::000000000000:function/{name}"), str::to_owned);
            refs.function_arns.insert(base.clone(), arn.clone());
            refs.function_arns.insert(r.address.clone(), arn);
        } else {
            refs.ids.insert(base, id_of(r));
            refs.ids.insert(r.address.clone(), id_of(r));
        }
    }
    for r in &resources {
        let v = &r.values;
        let at = r.address.clone();
        let (kind, config) = match r.kind.as_str() {
            "aws_cloudfront_distribution" => (
                Kind::Distribution,
                distribution(v, r.expressions.as_ref(), &refs, &at, unknown_word, &mut found.notes),
            ),
            "aws_cloudfront_cache_policy" => (Kind::CachePolicy, cache_policy(v)),
            "aws_cloudfront_origin_request_policy" => (Kind::OriginRequestPolicy, origin_request_policy(v)),
            "aws_cloudfront_response_headers_policy" => {
                (Kind::ResponseHeadersPolicy, json!({"Name": str_of(v, "name").unwrap_or(&r.name)}))
            }
            "aws_cloudfront_function" => {
                let code = str_of(v, "code");
                if code.is_none() {
                    let place = r.line.map_or(at.clone(), |l| format!("{at} (line {l})"));
                    found.notes.push(format!("{place}: the function's code is {unknown_word}; it is not examined"));
                }
                (
                    Kind::Function,
                    json!({"Name": str_of(v, "name").unwrap_or(&r.name), "Runtime": str_of(v, "runtime").unwrap_or("cloudfront-js-1.0"), "Code": code}),
                )
            }
            _ => continue,
        };
        found.resources.push(Resource { kind, path: at, line: r.line, id: id_of(r), config, file: None });
    }
    found
}

fn str_of<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// The first object of a block list.
fn block<'a>(v: &'a Value, k: &str) -> Option<&'a Value> {
    match v.get(k)? {
        Value::Array(a) => a.first(),
        o @ Value::Object(_) => Some(o),
        _ => None,
    }
}

fn blocks<'a>(v: &'a Value, k: &str) -> Vec<&'a Value> {
    match v.get(k) {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(o @ Value::Object(_)) => vec![o],
        _ => Vec::new(),
    }
}

fn strings(v: &Value, k: &str) -> Vec<Value> {
    v.get(k).and_then(Value::as_array).map(|a| a.iter().filter(|x| !x.is_null()).cloned().collect()).unwrap_or_default()
}

fn copy(out: &mut Map<String, Value>, v: &Value, from: &str, to: &str) {
    if let Some(x) = v.get(from).filter(|x| !x.is_null() && x.as_str() != Some("")) {
        out.insert(to.to_owned(), x.clone());
    }
}

fn distribution(
    v: &Value,
    exprs: Option<&Value>,
    refs: &Refs,
    at: &str,
    unknown_word: &str,
    notes: &mut Vec<String>,
) -> Value {
    let mut d = Map::new();
    d.insert("CallerReference".into(), Value::from(str_of(v, "caller_reference").unwrap_or(at)));
    d.insert("Comment".into(), Value::from(str_of(v, "comment").unwrap_or("")));
    d.insert("Enabled".into(), v.get("enabled").cloned().unwrap_or(Value::Bool(true)));
    d.insert("Aliases".into(), listed(strings(v, "aliases")));
    copy(&mut d, v, "default_root_object", "DefaultRootObject");
    copy(&mut d, v, "price_class", "PriceClass");
    copy(&mut d, v, "http_version", "HttpVersion");
    copy(&mut d, v, "is_ipv6_enabled", "IsIPV6Enabled");
    copy(&mut d, v, "web_acl_id", "WebACLId");
    copy(&mut d, v, "staging", "Staging");
    let origins: Vec<Value> = blocks(v, "origin").into_iter().map(origin).collect();
    d.insert("Origins".into(), listed(origins));
    let groups: Vec<Value> = blocks(v, "origin_group")
        .into_iter()
        .map(|g| {
            let codes: Vec<Value> = block(g, "failover_criteria").map(|f| strings(f, "status_codes")).unwrap_or_default();
            let members: Vec<Value> = blocks(g, "member").into_iter().map(|m| json!({"OriginId": m.get("origin_id")})).collect();
            json!({"Id": g.get("origin_id"), "FailoverCriteria": {"StatusCodes": listed(codes)}, "Members": listed(members)})
        })
        .collect();
    if !groups.is_empty() {
        d.insert("OriginGroups".into(), listed(groups));
    }
    let default_expr = exprs.and_then(|e| block(e, "default_cache_behavior"));
    if let Some(b) = block(v, "default_cache_behavior") {
        d.insert(
            "DefaultCacheBehavior".into(),
            behavior(b, default_expr, refs, &format!("{at}.default_cache_behavior"), unknown_word, notes),
        );
    }
    let ordered_exprs: Vec<&Value> = exprs.map(|e| blocks(e, "ordered_cache_behavior")).unwrap_or_default();
    let ordered: Vec<Value> = blocks(v, "ordered_cache_behavior")
        .into_iter()
        .enumerate()
        .map(|(i, b)| {
            behavior(
                b,
                ordered_exprs.get(i).copied(),
                refs,
                &format!("{at}.ordered_cache_behavior[{i}]"),
                unknown_word,
                notes,
            )
        })
        .collect();
    d.insert("CacheBehaviors".into(), listed(ordered));
    let errors: Vec<Value> = blocks(v, "custom_error_response")
        .into_iter()
        .map(|e| {
            let mut m = Map::new();
            copy(&mut m, e, "error_code", "ErrorCode");
            copy(&mut m, e, "response_page_path", "ResponsePagePath");
            if let Some(c) = e.get("response_code").filter(|c| !c.is_null() && c.as_i64() != Some(0)) {
                m.insert("ResponseCode".into(), Value::from(c.to_string().trim_matches('"').to_owned()));
            }
            copy(&mut m, e, "error_caching_min_ttl", "ErrorCachingMinTTL");
            Value::Object(m)
        })
        .collect();
    d.insert("CustomErrorResponses".into(), listed(errors));
    if let Some(l) = block(v, "logging_config") {
        d.insert(
            "Logging".into(),
            json!({"Enabled": true, "Bucket": str_of(l, "bucket").unwrap_or(""), "IncludeCookies": l.get("include_cookies").and_then(Value::as_bool).unwrap_or(false), "Prefix": str_of(l, "prefix").unwrap_or("")}),
        );
    }
    if let Some(c) = block(v, "viewer_certificate") {
        let mut m = Map::new();
        copy(&mut m, c, "cloudfront_default_certificate", "CloudFrontDefaultCertificate");
        copy(&mut m, c, "acm_certificate_arn", "ACMCertificateArn");
        copy(&mut m, c, "iam_certificate_id", "IAMCertificateId");
        copy(&mut m, c, "ssl_support_method", "SSLSupportMethod");
        copy(&mut m, c, "minimum_protocol_version", "MinimumProtocolVersion");
        d.insert("ViewerCertificate".into(), Value::Object(m));
    }
    if let Some(g) = block(v, "restrictions").and_then(|r| block(r, "geo_restriction")) {
        let items = strings(g, "locations");
        let mut geo =
            json!({"RestrictionType": str_of(g, "restriction_type").unwrap_or("none"), "Quantity": items.len()});
        if !items.is_empty() {
            geo["Items"] = Value::Array(items);
        }
        d.insert("Restrictions".into(), json!({"GeoRestriction": geo}));
    }
    Value::Object(d)
}

fn origin(o: &Value) -> Value {
    let mut m = Map::new();
    copy(&mut m, o, "origin_id", "Id");
    copy(&mut m, o, "domain_name", "DomainName");
    if !m.contains_key("DomainName") {
        // Not known (a note says why): a name that reads as a server, so validation goes on.
        let id = str_of(o, "origin_id").unwrap_or("origin").to_ascii_lowercase();
        m.insert("DomainName".into(), Value::from(format!("{id}.unresolved.invalid")));
    }
    copy(&mut m, o, "origin_path", "OriginPath");
    copy(&mut m, o, "connection_attempts", "ConnectionAttempts");
    copy(&mut m, o, "connection_timeout", "ConnectionTimeout");
    copy(&mut m, o, "origin_access_control_id", "OriginAccessControlId");
    let headers: Vec<Value> = blocks(o, "custom_header")
        .into_iter()
        .map(|h| json!({"HeaderName": h.get("name"), "HeaderValue": h.get("value")}))
        .collect();
    m.insert("CustomHeaders".into(), listed(headers));
    if let Some(s3) = block(o, "s3_origin_config") {
        m.insert(
            "S3OriginConfig".into(),
            json!({"OriginAccessIdentity": str_of(s3, "origin_access_identity").unwrap_or("")}),
        );
    }
    if let Some(c) = block(o, "custom_origin_config") {
        let mut cm = Map::new();
        copy(&mut cm, c, "http_port", "HTTPPort");
        copy(&mut cm, c, "https_port", "HTTPSPort");
        copy(&mut cm, c, "origin_protocol_policy", "OriginProtocolPolicy");
        cm.insert("OriginSslProtocols".into(), listed(strings(c, "origin_ssl_protocols")));
        copy(&mut cm, c, "origin_read_timeout", "OriginReadTimeout");
        copy(&mut cm, c, "origin_keepalive_timeout", "OriginKeepaliveTimeout");
        m.insert("CustomOriginConfig".into(), Value::Object(cm));
    }
    if let Some(s) = block(o, "origin_shield") {
        let mut sm = Map::new();
        copy(&mut sm, s, "enabled", "Enabled");
        copy(&mut sm, s, "origin_shield_region", "OriginShieldRegion");
        m.insert("OriginShield".into(), Value::Object(sm));
    }
    Value::Object(m)
}

fn behavior(
    b: &Value,
    expr: Option<&Value>,
    refs: &Refs,
    at: &str,
    unknown_word: &str,
    notes: &mut Vec<String>,
) -> Value {
    let mut m = Map::new();
    copy(&mut m, b, "path_pattern", "PathPattern");
    copy(&mut m, b, "target_origin_id", "TargetOriginId");
    copy(&mut m, b, "viewer_protocol_policy", "ViewerProtocolPolicy");
    let allowed = strings(b, "allowed_methods");
    if !allowed.is_empty() {
        let mut am = listed(allowed);
        am["CachedMethods"] = listed(strings(b, "cached_methods"));
        m.insert("AllowedMethods".into(), am);
    }
    copy(&mut m, b, "compress", "Compress");
    copy(&mut m, b, "smooth_streaming", "SmoothStreaming");
    copy(&mut m, b, "field_level_encryption_id", "FieldLevelEncryptionId");
    copy(&mut m, b, "realtime_log_config_arn", "RealtimeLogConfigArn");
    let pattern = str_of(b, "path_pattern").unwrap_or("*");
    let fv = block(b, "forwarded_values");
    for (attr, field, what) in [
        ("cache_policy_id", "CachePolicyId", "cache policy"),
        ("origin_request_policy_id", "OriginRequestPolicyId", "origin request policy"),
        ("response_headers_policy_id", "ResponseHeadersPolicyId", "response headers policy"),
    ] {
        let id = str_of(b, attr).map(str::to_owned).or_else(|| refs.resolve(expr.and_then(|e| e.get(attr))));
        match id {
            Some(id) => {
                m.insert(field.into(), Value::from(id));
            }
            None if attr == "cache_policy_id" && fv.is_none() => {
                notes.push(format!("{at}: behavior {pattern}: the {what} id is {unknown_word}"));
                m.insert(field.into(), Value::from(format!("({unknown_word})")));
            }
            None => {}
        }
    }
    if let Some(fv) = fv {
        let cookies = block(fv, "cookies");
        let mut c = json!({"Forward": cookies.and_then(|c| str_of(c, "forward")).unwrap_or("none")});
        if let Some(names) = cookies.map(|c| strings(c, "whitelisted_names")).filter(|n| !n.is_empty()) {
            c["WhitelistedNames"] = listed(names);
        }
        m.insert(
            "ForwardedValues".into(),
            json!({
                "QueryString": fv.get("query_string").and_then(Value::as_bool).unwrap_or(false),
                "Cookies": c,
                "Headers": listed(strings(fv, "headers")),
                "QueryStringCacheKeys": listed(strings(fv, "query_string_cache_keys")),
            }),
        );
        copy(&mut m, b, "min_ttl", "MinTTL");
        copy(&mut m, b, "default_ttl", "DefaultTTL");
        copy(&mut m, b, "max_ttl", "MaxTTL");
    }
    let fexprs: Vec<&Value> = expr.map(|e| blocks(e, "function_association")).unwrap_or_default();
    let mut functions = Vec::new();
    for (i, f) in blocks(b, "function_association").into_iter().enumerate() {
        let arn = str_of(f, "function_arn")
            .map(str::to_owned)
            .or_else(|| refs.resolve(fexprs.get(i).and_then(|e| e.get("function_arn"))));
        match arn {
            Some(arn) => functions.push(json!({"EventType": f.get("event_type"), "FunctionARN": arn})),
            None => notes.push(format!(
                "{at}: behavior {pattern}: the ARN of function_association[{i}] is {unknown_word}; the association is left out"
            )),
        }
    }
    m.insert("FunctionAssociations".into(), listed(functions));
    let lambdas: Vec<Value> = blocks(b, "lambda_function_association")
        .into_iter()
        .map(|l| json!({"EventType": l.get("event_type"), "LambdaFunctionARN": str_of(l, "lambda_arn").unwrap_or("(unknown)"), "IncludeBody": l.get("include_body").and_then(Value::as_bool).unwrap_or(false)}))
        .collect();
    m.insert("LambdaFunctionAssociations".into(), listed(lambdas));
    let groups = strings(b, "trusted_key_groups");
    if !groups.is_empty() {
        let mut g = listed(groups);
        g["Enabled"] = Value::Bool(true);
        m.insert("TrustedKeyGroups".into(), g);
    }
    let signers = strings(b, "trusted_signers");
    if !signers.is_empty() {
        let mut g = listed(signers);
        g["Enabled"] = Value::Bool(true);
        m.insert("TrustedSigners".into(), g);
    }
    compact(m)
}

fn names_config(c: Option<&Value>, behavior_key: &str, list_key: &str, out_behavior: &str, out_list: &str) -> Value {
    let mut m = Map::new();
    m.insert(out_behavior.into(), Value::from(c.and_then(|c| str_of(c, behavior_key)).unwrap_or("none")));
    let items: Vec<Value> = c.and_then(|c| block(c, list_key)).map(|l| strings(l, "items")).unwrap_or_default();
    if !items.is_empty() {
        m.insert(out_list.into(), listed(items));
    }
    Value::Object(m)
}

fn cache_policy(v: &Value) -> Value {
    let p = block(v, "parameters_in_cache_key_and_forwarded_to_origin");
    let mut m = Map::new();
    m.insert("Name".into(), Value::from(str_of(v, "name").unwrap_or("policy")));
    copy(&mut m, v, "comment", "Comment");
    m.insert("MinTTL".into(), v.get("min_ttl").cloned().unwrap_or(Value::from(0)));
    copy(&mut m, v, "default_ttl", "DefaultTTL");
    copy(&mut m, v, "max_ttl", "MaxTTL");
    m.insert(
        "ParametersInCacheKeyAndForwardedToOrigin".into(),
        json!({
            "EnableAcceptEncodingGzip": p.and_then(|p| p.get("enable_accept_encoding_gzip")).and_then(Value::as_bool).unwrap_or(false),
            "EnableAcceptEncodingBrotli": p.and_then(|p| p.get("enable_accept_encoding_brotli")).and_then(Value::as_bool).unwrap_or(false),
            "HeadersConfig": names_config(p.and_then(|p| block(p, "headers_config")), "header_behavior", "headers", "HeaderBehavior", "Headers"),
            "CookiesConfig": names_config(p.and_then(|p| block(p, "cookies_config")), "cookie_behavior", "cookies", "CookieBehavior", "Cookies"),
            "QueryStringsConfig": names_config(p.and_then(|p| block(p, "query_strings_config")), "query_string_behavior", "query_strings", "QueryStringBehavior", "QueryStrings"),
        }),
    );
    Value::Object(m)
}

fn origin_request_policy(v: &Value) -> Value {
    json!({
        "Name": str_of(v, "name").unwrap_or("policy"),
        "Comment": str_of(v, "comment").unwrap_or(""),
        "HeadersConfig": names_config(block(v, "headers_config"), "header_behavior", "headers", "HeaderBehavior", "Headers"),
        "CookiesConfig": names_config(block(v, "cookies_config"), "cookie_behavior", "cookies", "CookieBehavior", "Cookies"),
        "QueryStringsConfig": names_config(block(v, "query_strings_config"), "query_string_behavior", "query_strings", "QueryStringBehavior", "QueryStrings"),
    })
}
