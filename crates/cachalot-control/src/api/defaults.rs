//! The members CloudFront fills in when a request leaves them out, so that every response
//! carries them as CloudFront's does and a script reading `DefaultTTL` or
//! `ConnectionAttempts` finds a value, not nothing.
//!
//! The values are the ones CloudFront documents as defaults and returns in
//! `get-distribution-config` output (the AWS CLI's documented `create-distribution` example
//! shows them: <https://docs.aws.amazon.com/cli/latest/reference/cloudfront/create-distribution.html>;
//! origin timeouts: <https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_CustomOriginConfig.html>).
//! Legacy TTLs follow the rule the validator applies (`DefaultTTL` is one day or `MinTTL`
//! when larger, `MaxTTL` one year or `DefaultTTL` when larger), so filling them never changes
//! what the edge does. Filling is idempotent: members already present are kept.

use serde_json::{Map, Value, json};

/// One day.
const DAY: i64 = 86_400;
/// One year.
const YEAR: i64 = 31_536_000;

/// Fills the defaults of a `DistributionConfig` document.
pub(super) fn distribution_config(config: &mut Value) {
    let Value::Object(map) = config else { return };
    let top = [
        ("Aliases", json!({"Quantity": 0})),
        ("DefaultRootObject", json!("")),
        ("OriginGroups", json!({"Quantity": 0})),
        ("CacheBehaviors", json!({"Quantity": 0})),
        ("CustomErrorResponses", json!({"Quantity": 0})),
        ("Comment", json!("")),
        ("Logging", json!({"Enabled": false, "IncludeCookies": false, "Bucket": "", "Prefix": ""})),
        ("PriceClass", json!("PriceClass_All")),
        (
            "ViewerCertificate",
            json!({"CloudFrontDefaultCertificate": true, "SSLSupportMethod": "vip",
                   "MinimumProtocolVersion": "TLSv1", "CertificateSource": "cloudfront"}),
        ),
        ("Restrictions", json!({"GeoRestriction": {"RestrictionType": "none", "Quantity": 0}})),
        ("WebACLId", json!("")),
        ("HttpVersion", json!("http2")),
        ("IsIPV6Enabled", json!(true)),
        ("ContinuousDeploymentPolicyId", json!("")),
        ("Staging", json!(false)),
    ];
    fill(map, top);
    for origin in items_mut(map.get_mut("Origins")) {
        self::origin(origin);
    }
    if let Some(b) = map.get_mut("DefaultCacheBehavior").and_then(Value::as_object_mut) {
        behavior(b);
    }
    for b in items_mut(map.get_mut("CacheBehaviors")) {
        behavior(b);
    }
}

fn origin(o: &mut Map<String, Value>) {
    fill(
        o,
        [
            ("OriginPath", json!("")),
            ("CustomHeaders", json!({"Quantity": 0})),
            ("ConnectionAttempts", json!(3)),
            ("ConnectionTimeout", json!(10)),
            ("OriginShield", json!({"Enabled": false})),
            ("OriginAccessControlId", json!("")),
        ],
    );
    if let Some(s3) = o.get_mut("S3OriginConfig").and_then(Value::as_object_mut) {
        fill(s3, [("OriginReadTimeout", json!(30))]);
    }
    if let Some(custom) = o.get_mut("CustomOriginConfig").and_then(Value::as_object_mut) {
        fill(custom, [("OriginReadTimeout", json!(30)), ("OriginKeepaliveTimeout", json!(5))]);
    }
}

fn behavior(b: &mut Map<String, Value>) {
    let get_head = || json!({"Quantity": 2, "Items": ["HEAD", "GET"]});
    fill(
        b,
        [
            ("TrustedSigners", json!({"Enabled": false, "Quantity": 0})),
            ("TrustedKeyGroups", json!({"Enabled": false, "Quantity": 0})),
            ("AllowedMethods", json!({"Quantity": 2, "Items": ["HEAD", "GET"], "CachedMethods": get_head()})),
            ("SmoothStreaming", json!(false)),
            ("Compress", json!(false)),
            ("LambdaFunctionAssociations", json!({"Quantity": 0})),
            ("FunctionAssociations", json!({"Quantity": 0})),
            ("FieldLevelEncryptionId", json!("")),
            ("GrpcConfig", json!({"Enabled": false})),
        ],
    );
    if let Some(methods) = b.get_mut("AllowedMethods").and_then(Value::as_object_mut) {
        fill(methods, [("CachedMethods", get_head())]);
    }
    // TTLs belong to legacy settings only: with a cache policy they are the policy's.
    let Some(Value::Object(forwarded)) = b.get_mut("ForwardedValues") else { return };
    fill(forwarded, [("Headers", json!({"Quantity": 0})), ("QueryStringCacheKeys", json!({"Quantity": 0}))]);
    let min = integer(b.get("MinTTL")).unwrap_or(0);
    let default = integer(b.get("DefaultTTL")).unwrap_or(if min > DAY { min } else { DAY });
    let max = integer(b.get("MaxTTL")).unwrap_or(if default > YEAR { default } else { YEAR });
    fill(b, [("MinTTL", json!(min)), ("DefaultTTL", json!(default)), ("MaxTTL", json!(max))]);
}

/// Fills the defaults of a `CachePolicyConfig` document (its TTLs, by the rule above).
pub(super) fn cache_policy_config(config: &mut Value) {
    let Value::Object(map) = config else { return };
    let min = integer(map.get("MinTTL")).unwrap_or(0);
    let default = integer(map.get("DefaultTTL")).unwrap_or(if min > DAY { min } else { DAY });
    let max = integer(map.get("MaxTTL")).unwrap_or(if default > YEAR { default } else { YEAR });
    fill(map, [("DefaultTTL", json!(default)), ("MaxTTL", json!(max))]);
    if let Some(Value::Object(params)) = map.get_mut("ParametersInCacheKeyAndForwardedToOrigin") {
        fill(params, [("EnableAcceptEncodingBrotli", json!(false))]);
    }
}

fn fill<const N: usize>(map: &mut Map<String, Value>, defaults: [(&str, Value); N]) {
    for (k, v) in defaults {
        map.entry(k).or_insert(v);
    }
}

/// The objects of a `{Quantity, Items}` list.
fn items_mut(list: Option<&mut Value>) -> impl Iterator<Item = &mut Map<String, Value>> {
    list.and_then(|l| l.get_mut("Items"))
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object_mut)
}

/// A member that is an integer (or integer text, as documents converted from XML may hold).
fn integer(v: Option<&Value>) -> Option<i64> {
    v.and_then(|v| v.as_i64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_ttls_follow_min_ttl_and_filling_twice_changes_nothing() {
        let mut config = json!({
            "Origins": {"Quantity": 1, "Items": [{"Id": "o", "DomainName": "example.com",
                "CustomOriginConfig": {"HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": "http-only"}}]},
            "DefaultCacheBehavior": {"TargetOriginId": "o", "MinTTL": "172800",
                "ForwardedValues": {"QueryString": false, "Cookies": {"Forward": "none"}}},
            "CacheBehaviors": {"Quantity": 1, "Items": [{"PathPattern": "/a/*", "TargetOriginId": "o",
                "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6",
                "AllowedMethods": {"Quantity": 3, "Items": ["GET", "HEAD", "OPTIONS"]}}]}
        });
        distribution_config(&mut config);
        let d = &config["DefaultCacheBehavior"];
        assert_eq!((&d["DefaultTTL"], &d["MaxTTL"]), (&json!(172_800), &json!(YEAR)));
        assert_eq!(d["ForwardedValues"]["Headers"], json!({"Quantity": 0}));
        let b = &config["CacheBehaviors"]["Items"][0];
        assert!(b.get("DefaultTTL").is_none(), "a cache policy's behavior has no TTLs of its own");
        assert_eq!(b["AllowedMethods"]["CachedMethods"]["Items"], json!(["HEAD", "GET"]));
        assert_eq!(b["AllowedMethods"]["Quantity"], 3);
        let o = &config["Origins"]["Items"][0];
        assert_eq!((&o["ConnectionAttempts"], &o["CustomOriginConfig"]["OriginReadTimeout"]), (&json!(3), &json!(30)));
        let once = config.clone();
        distribution_config(&mut config);
        assert_eq!(config, once);
    }
}
