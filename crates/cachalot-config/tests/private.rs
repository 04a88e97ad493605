//! Private content in the config file: public keys, key groups, trusted key groups and
//! signers, origin access controls, geo restriction, private buckets and the protections
//! the edge does not enforce, each problem reported with CloudFront's error code and path.

use cachalot_config::validate::{Paths, Resources, build_snapshot};
use cachalot_config::{Severity, file};

const KEY: &str = "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAt+endGtmM941Lhn3pqXv\nSKsHEJRCKDw1E30HfHP9YhcbMpR78neJfZNB2uj2j93pZ8pjeRXzYzrtKEUhVdua\nUDgtAbBWVfh4tH+US/L0k9H4KCEncouOV8owcDUiiY1vpDcs48SGY1yxMWjk2m5+\nX2Fx4fhFDcXfRH3T5/nC56TZe1qXaOxi3oggjMxohsYdoHNjkYQ1L0/gHyJ3mVE5\nsQK9yQaFvvttHNGBqewuPILTJAKZe27ISEpWNIKydgrrqW5AF7oRPmiadKOk/PFd\n2p+LzOFyKa8q5ZUEI6aEddj8KlcpRRp9hOsTqz36JKNAMYJHnhKXq8Cv2yUxZD6s\nMQIDAQAB\n-----END PUBLIC KEY-----\n";

fn load(
    extra_top: &str,
    behavior_extra: &str,
    distribution_extra: &str,
) -> (cachalot_config::Snapshot, Vec<(String, String, Severity)>) {
    let text = format!(
        r#"{{
  "PublicKeys": [{{"Id": "K1KEY", "PublicKeyConfig": {{"CallerReference": "r", "Name": "k", "EncodedKey": {key}}}}}],
  "Distributions": [{{"Id": "E1", "DomainName": "d1.cloudfront.net", "DistributionConfig": {{
    "CallerReference": "c", "Comment": "", "Enabled": true {distribution_extra},
    "Origins": {{"Quantity": 1, "Items": [{{"Id": "s3", "DomainName": "site.s3.amazonaws.com",
                 "S3OriginConfig": {{"OriginAccessIdentity": ""}} {origin_extra}}}]}},
    "DefaultCacheBehavior": {{"TargetOriginId": "s3", "ViewerProtocolPolicy": "allow-all",
      "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6" {behavior_extra}}}}}}}]
  {extra_top}
}}"#,
        key = serde_json::to_string(KEY).unwrap(),
        origin_extra =
            if extra_top.contains("OriginAccessControls") { r#", "OriginAccessControlId": "E2OAC""# } else { "" },
    );
    let (f, diags) = file::parse(&text);
    assert!(!diags.has_errors(), "{diags:?}");
    let resources = Resources {
        distributions: f.distributions,
        public_keys: f.public_keys,
        key_groups: f.key_groups,
        origin_access_controls: f.origin_access_controls,
        ..Resources::default()
    };
    let (snapshot, diags) = build_snapshot(&resources, &Paths::config_file());
    let found = diags.items().iter().map(|d| (d.code.clone(), d.path.clone(), d.severity)).collect();
    (snapshot, found)
}

fn errors(found: &[(String, String, Severity)]) -> Vec<(&str, &str)> {
    found.iter().filter(|d| d.2 == Severity::Error).map(|d| (d.0.as_str(), d.1.as_str())).collect()
}

#[test]
fn trusted_key_groups_resolve_to_their_keys() {
    let (s, found) = load(
        r#", "KeyGroups": [{"Id": "g1", "KeyGroupConfig": {"Name": "g", "Items": ["K1KEY"]}}]"#,
        r#", "TrustedKeyGroups": {"Enabled": true, "Quantity": 1, "Items": ["g1"]}"#,
        "",
    );
    assert!(errors(&found).is_empty(), "{found:?}");
    let trusted = s.distributions[0].behaviors[0].trusted.clone().unwrap();
    assert!(trusted.keys.contains_key("K1KEY"));
    assert_eq!(trusted.key_groups, vec!["g1".to_owned()]);
    assert!(s.public_keys.contains_key("K1KEY"));
}

#[test]
fn legacy_trusted_signers_trust_the_accounts_keys() {
    let (s, found) = load("", r#", "TrustedSigners": {"Enabled": true, "Quantity": 1, "Items": ["self"]}"#, "");
    assert!(errors(&found).is_empty(), "{found:?}");
    assert!(s.distributions[0].behaviors[0].trusted.as_ref().unwrap().keys.contains_key("K1KEY"));
    let (_, found) = load("", r#", "TrustedSigners": {"Enabled": true, "Quantity": 1, "Items": ["someone"]}"#, "");
    assert_eq!(errors(&found)[0].0, "TrustedSignerDoesNotExist");
}

#[test]
fn key_group_and_trust_problems_carry_cloudfront_codes() {
    let (s, found) = load(
        r#", "KeyGroups": [{"Id": "g1", "KeyGroupConfig": {"Name": "g", "Items": ["K1KEY", "KMISSING", "K3", "K4", "K5", "K6"]}}]"#,
        r#", "TrustedKeyGroups": {"Enabled": true, "Quantity": 1, "Items": ["g1"]}"#,
        "",
    );
    let e = errors(&found);
    assert!(e.contains(&("TooManyPublicKeysInKeyGroup", "$.KeyGroups[0].KeyGroupConfig.Items")), "{e:?}");
    assert!(e.contains(&("NoSuchPublicKey", "$.KeyGroups[0].KeyGroupConfig.Items[1]")), "{e:?}");
    assert!(
        e.iter().any(|(c, p)| *c == "TrustedKeyGroupDoesNotExist" && p.ends_with("TrustedKeyGroups.Items[0]")),
        "{e:?}"
    );
    assert!(s.distributions.is_empty(), "a behavior trusting a broken group is not served");
}

#[test]
fn origin_access_controls_and_geo_restrictions() {
    let (s, found) = load(
        r#", "OriginAccessControls": [{"Id": "E2OAC", "OriginAccessControlConfig": {"Name": "o", "SigningProtocol": "sigv4", "SigningBehavior": "no-override", "OriginAccessControlOriginType": "s3"}}]"#,
        "",
        r#", "Restrictions": {"GeoRestriction": {"RestrictionType": "whitelist", "Quantity": 2, "Items": ["DE", "FR"]}}"#,
    );
    assert!(errors(&found).is_empty(), "{found:?}");
    let d = &s.distributions[0];
    let oac = d.origins[0].access_control.as_ref().unwrap();
    assert_eq!(oac.signing, cachalot_config::model::Signing::NoOverride);
    let geo = d.geo_restriction.as_ref().unwrap();
    assert!(geo.allows(Some("FR")) && !geo.allows(Some("US")) && !geo.allows(None));
    let (_, found) = load(
        "",
        "",
        r#", "Restrictions": {"GeoRestriction": {"RestrictionType": "blacklist", "Quantity": 1, "Items": ["germany"]}}"#,
    );
    assert_eq!(
        errors(&found),
        vec![("InvalidArgument", "$.Distributions[0].DistributionConfig.Restrictions.GeoRestriction.Items[0]")]
    );
}

#[test]
fn unenforced_protections_are_recorded_and_warned() {
    let (s, found) = load(
        "",
        r#", "LambdaFunctionAssociations": {"Quantity": 1, "Items": [{"LambdaFunctionARN": "arn:aws:lambda:us-east-1:123456789012:function:auth:1", "EventType": "viewer-request"}]}"#,
        r#", "WebACLId": "arn:aws:wafv2:us-east-1:123456789012:global/webacl/w/1""#,
    );
    assert!(errors(&found).is_empty(), "{found:?}");
    assert_eq!(found.iter().filter(|d| d.0 == "unenforced-protection").count(), 2, "{found:?}");
    let d = &s.distributions[0];
    assert_eq!(d.unenforced[0].field, "WebACLId");
    assert_eq!(d.behaviors[0].unenforced[0].field, "LambdaFunctionAssociations");
}

#[test]
fn node_settings_for_private_content_parse() {
    let (f, diags) = file::parse(
        r#"{"Buckets": {"site": {"Folder": "www", "Private": true}, "logs": "logs"},
            "GeoIpDatabase": "GeoLite2-Country.mmdb", "UnenforcedProtections": "serve"}"#,
    );
    assert!(!diags.has_errors(), "{diags:?}");
    assert_eq!(f.buckets.get("site").map(String::as_str), Some("www"));
    assert!(f.private_buckets.contains("site") && !f.private_buckets.contains("logs"));
    assert_eq!(f.geo_ip_database.as_deref(), Some("GeoLite2-Country.mmdb"));
    assert_eq!(f.unenforced_protections, file::UnenforcedProtections::Serve);
    let (_, diags) = file::parse(r#"{"Buckets": {"site": {"Folder": 3}}, "UnenforcedProtections": "maybe"}"#);
    let paths: Vec<&str> = diags.items().iter().map(|d| d.path.as_str()).collect();
    assert_eq!(paths, vec!["$.Buckets.site", "$.UnenforcedProtections"]);
}
