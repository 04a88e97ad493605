//! CloudFront's resource shapes exactly as the AWS CLI prints them.
//!
//! **API boundary.** These types are the compatibility surface: what
//! `aws cloudfront get-distribution-config` / `get-cache-policy` print, what the
//! config file holds and what the control-plane API stores. Field names follow
//! the botocore service model (`cloudfront/2020-05-31`). Scalars are read
//! leniently (numbers and booleans may be text) so documents converted from
//! REST-XML deserialize with the same types. Fields Cachalot does not act on are
//! kept as opaque JSON so nothing a user wrote is lost on a round trip.

use crate::lenient;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// CloudFront's list wrapper: `{"Quantity": n, "Items": [...]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Listed<T> {
    /// Declared number of items; must equal `items.len()`.
    #[serde(deserialize_with = "lenient::int")]
    pub quantity: i64,
    /// The items (absent when empty).
    #[serde(default = "Vec::new", skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<T>,
}

impl<T> Default for Listed<T> {
    fn default() -> Self {
        Self { quantity: 0, items: Vec::new() }
    }
}

impl<T> Listed<T> {
    /// A list whose quantity matches its items.
    pub fn of(items: Vec<T>) -> Self {
        Self { quantity: items.len() as i64, items }
    }
}

/// A list of integers (`StatusCodes`), whose items may be text in XML-derived documents.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IntListed {
    /// Declared number of items.
    #[serde(deserialize_with = "lenient::int")]
    pub quantity: i64,
    /// The items.
    #[serde(default, deserialize_with = "lenient::int_list", skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<i64>,
}

// ---------------------------------------------------------------------------
// Cache policies and origin request policies
// ---------------------------------------------------------------------------

/// `CachePolicyConfig`: the cache key and TTLs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CachePolicyConfig {
    /// Free text, at most 128 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Unique name.
    pub name: String,
    /// Seconds; defaults to 86,400 (or MinTTL when larger).
    #[serde(
        rename = "DefaultTTL",
        default,
        deserialize_with = "lenient::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub default_ttl: Option<i64>,
    /// Seconds; defaults to 31,536,000 (or DefaultTTL when larger).
    #[serde(
        rename = "MaxTTL",
        default,
        deserialize_with = "lenient::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_ttl: Option<i64>,
    /// Seconds; required.
    #[serde(rename = "MinTTL", deserialize_with = "lenient::int")]
    pub min_ttl: i64,
    /// What goes into the cache key (and is therefore forwarded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters_in_cache_key_and_forwarded_to_origin: Option<ParametersInCacheKey>,
}

/// `ParametersInCacheKeyAndForwardedToOrigin`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ParametersInCacheKey {
    /// Normalise `Accept-Encoding: gzip` into the key.
    #[serde(deserialize_with = "lenient::boolean")]
    pub enable_accept_encoding_gzip: bool,
    /// Normalise `Accept-Encoding: br` into the key.
    #[serde(default, deserialize_with = "lenient::opt_bool", skip_serializing_if = "Option::is_none")]
    pub enable_accept_encoding_brotli: Option<bool>,
    /// Header names in the key.
    pub headers_config: HeadersConfig,
    /// Cookies in the key.
    pub cookies_config: CookiesConfig,
    /// Query strings in the key.
    pub query_strings_config: QueryStringsConfig,
}

/// `HeadersConfig` of a cache policy or origin request policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HeadersConfig {
    /// `none` | `whitelist` (cache policy); also `allViewer`,
    /// `allViewerAndWhitelistCloudFront`, `allExcept` (origin request policy).
    pub header_behavior: String,
    /// Header names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<Listed<String>>,
}

/// `CookiesConfig` of a cache policy or origin request policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CookiesConfig {
    /// `none` | `whitelist` | `allExcept` | `all`.
    pub cookie_behavior: String,
    /// Cookie names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cookies: Option<Listed<String>>,
}

/// `QueryStringsConfig` of a cache policy or origin request policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct QueryStringsConfig {
    /// `none` | `whitelist` | `allExcept` | `all`.
    pub query_string_behavior: String,
    /// Query string names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_strings: Option<Listed<String>>,
}

/// `OriginRequestPolicyConfig`: what is forwarded to the origin without being keyed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OriginRequestPolicyConfig {
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Unique name.
    pub name: String,
    /// Headers forwarded.
    pub headers_config: HeadersConfig,
    /// Cookies forwarded.
    pub cookies_config: CookiesConfig,
    /// Query strings forwarded.
    pub query_strings_config: QueryStringsConfig,
}

// ---------------------------------------------------------------------------
// Response headers policies
// ---------------------------------------------------------------------------

/// `ResponseHeadersPolicyConfig`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResponseHeadersPolicyConfig {
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Unique name.
    pub name: String,
    /// CORS headers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cors_config: Option<CorsConfig>,
    /// Security headers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_headers_config: Option<SecurityHeadersConfig>,
    /// `Server-Timing`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_timing_headers_config: Option<ServerTimingHeadersConfig>,
    /// Custom headers added to responses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_headers_config: Option<Listed<CustomResponseHeader>>,
    /// Headers removed from responses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remove_headers_config: Option<Listed<RemoveHeader>>,
}

/// `ResponseHeadersPolicyCorsConfig`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CorsConfig {
    /// Allowed origins (`*` allowed).
    pub access_control_allow_origins: Listed<String>,
    /// Allowed request headers.
    pub access_control_allow_headers: Listed<String>,
    /// Allowed methods (`GET`, …, or `ALL`).
    pub access_control_allow_methods: Listed<String>,
    /// `Access-Control-Allow-Credentials`.
    #[serde(deserialize_with = "lenient::boolean")]
    pub access_control_allow_credentials: bool,
    /// `Access-Control-Expose-Headers`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_control_expose_headers: Option<Listed<String>>,
    /// `Access-Control-Max-Age`.
    #[serde(default, deserialize_with = "lenient::opt_int", skip_serializing_if = "Option::is_none")]
    pub access_control_max_age_sec: Option<i64>,
    /// Replace CORS headers the origin sent.
    #[serde(deserialize_with = "lenient::boolean")]
    pub origin_override: bool,
}

/// `ResponseHeadersPolicySecurityHeadersConfig`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SecurityHeadersConfig {
    /// `X-XSS-Protection`.
    #[serde(rename = "XSSProtection", default, skip_serializing_if = "Option::is_none")]
    pub xss_protection: Option<XssProtection>,
    /// `X-Frame-Options`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame_options: Option<FrameOptions>,
    /// `Referrer-Policy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referrer_policy: Option<ReferrerPolicy>,
    /// `Content-Security-Policy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_security_policy: Option<ContentSecurityPolicy>,
    /// `X-Content-Type-Options: nosniff`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type_options: Option<OverrideOnly>,
    /// `Strict-Transport-Security`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict_transport_security: Option<StrictTransportSecurity>,
}

/// `ResponseHeadersPolicyXSSProtection`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct XssProtection {
    /// Replace the origin's header.
    #[serde(deserialize_with = "lenient::boolean")]
    pub r#override: bool,
    /// `1` when true, `0` when false.
    #[serde(deserialize_with = "lenient::boolean")]
    pub protection: bool,
    /// `mode=block`.
    #[serde(default, deserialize_with = "lenient::opt_bool", skip_serializing_if = "Option::is_none")]
    pub mode_block: Option<bool>,
    /// `report=<uri>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_uri: Option<String>,
}

/// `ResponseHeadersPolicyFrameOptions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FrameOptions {
    /// Replace the origin's header.
    #[serde(deserialize_with = "lenient::boolean")]
    pub r#override: bool,
    /// `DENY` | `SAMEORIGIN`.
    pub frame_option: String,
}

/// `ResponseHeadersPolicyReferrerPolicy`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReferrerPolicy {
    /// Replace the origin's header.
    #[serde(deserialize_with = "lenient::boolean")]
    pub r#override: bool,
    /// The policy value.
    pub referrer_policy: String,
}

/// `ResponseHeadersPolicyContentSecurityPolicy`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContentSecurityPolicy {
    /// Replace the origin's header.
    #[serde(deserialize_with = "lenient::boolean")]
    pub r#override: bool,
    /// The policy value.
    pub content_security_policy: String,
}

/// A security header with only an `Override` flag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OverrideOnly {
    /// Replace the origin's header.
    #[serde(deserialize_with = "lenient::boolean")]
    pub r#override: bool,
}

/// `ResponseHeadersPolicyStrictTransportSecurity`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StrictTransportSecurity {
    /// Replace the origin's header.
    #[serde(deserialize_with = "lenient::boolean")]
    pub r#override: bool,
    /// `includeSubDomains`.
    #[serde(default, deserialize_with = "lenient::opt_bool", skip_serializing_if = "Option::is_none")]
    pub include_subdomains: Option<bool>,
    /// `preload`.
    #[serde(default, deserialize_with = "lenient::opt_bool", skip_serializing_if = "Option::is_none")]
    pub preload: Option<bool>,
    /// `max-age`.
    #[serde(deserialize_with = "lenient::int")]
    pub access_control_max_age_sec: i64,
}

/// `ResponseHeadersPolicyServerTimingHeadersConfig`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ServerTimingHeadersConfig {
    /// Emit `Server-Timing`.
    #[serde(deserialize_with = "lenient::boolean")]
    pub enabled: bool,
    /// Percentage of requests, 0–100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sampling_rate: Option<Value>,
}

/// `ResponseHeadersPolicyCustomHeader`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CustomResponseHeader {
    /// Header name.
    pub header: String,
    /// Header value.
    pub value: String,
    /// Replace the origin's header.
    #[serde(deserialize_with = "lenient::boolean")]
    pub r#override: bool,
}

/// `ResponseHeadersPolicyRemoveHeader`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RemoveHeader {
    /// Header name.
    pub header: String,
}

// ---------------------------------------------------------------------------
// Distributions
// ---------------------------------------------------------------------------

/// `DistributionConfig`, as printed by `aws cloudfront get-distribution-config`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DistributionConfig {
    /// Unique reference chosen by the creator.
    pub caller_reference: String,
    /// Alternate domain names (CNAMEs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aliases: Option<Listed<String>>,
    /// Object returned for `/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_root_object: Option<String>,
    /// Origins (at least one).
    pub origins: Listed<Origin>,
    /// Failover pairs of origins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin_groups: Option<Listed<OriginGroup>>,
    /// The behavior for `*`.
    pub default_cache_behavior: CacheBehavior,
    /// Ordered path-pattern behaviors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_behaviors: Option<Listed<CacheBehavior>>,
    /// Custom error pages and error caching TTLs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_error_responses: Option<Listed<CustomErrorResponse>>,
    /// Free text (required, may be empty).
    #[serde(default)]
    pub comment: String,
    /// Standard access logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logging: Option<Logging>,
    /// `PriceClass_100` | `PriceClass_200` | `PriceClass_All` | `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_class: Option<String>,
    /// Whether the distribution serves requests.
    #[serde(deserialize_with = "lenient::boolean")]
    pub enabled: bool,
    /// Viewer certificate (kept, not acted on: POP listeners carry their own certificates).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub viewer_certificate: Option<Value>,
    /// Geo restriction (kept, not yet acted on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restrictions: Option<Value>,
    /// WAF web ACL (kept, not acted on).
    #[serde(rename = "WebACLId", default, skip_serializing_if = "Option::is_none")]
    pub web_acl_id: Option<String>,
    /// `http1.1` | `http2` | `http3` | `http2and3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_version: Option<String>,
    /// IPv6 (kept, not acted on).
    #[serde(
        rename = "IsIPV6Enabled",
        default,
        deserialize_with = "lenient::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub is_ipv6_enabled: Option<bool>,
    /// Continuous deployment (kept, not acted on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continuous_deployment_policy_id: Option<String>,
    /// Staging distribution flag (kept, not acted on).
    #[serde(default, deserialize_with = "lenient::opt_bool", skip_serializing_if = "Option::is_none")]
    pub staging: Option<bool>,
    /// Anycast IP list (kept, not acted on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anycast_ip_list_id: Option<String>,
    /// Multi-tenant settings (kept, not acted on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_config: Option<Value>,
    /// `direct` | `tenant-only` (kept, not acted on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_mode: Option<String>,
    /// Viewer mTLS (kept, not acted on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub viewer_mtls_config: Option<Value>,
    /// Connection function (kept, not acted on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_function_association: Option<Value>,
    /// Cache tags for tag invalidation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_tag_config: Option<CacheTagConfig>,
}

/// `CacheTagConfig`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CacheTagConfig {
    /// Origin response header carrying comma-separated tags.
    pub header_name: String,
}

/// `Origin`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Origin {
    /// Unique within the distribution.
    pub id: String,
    /// Host name (and, for custom origins, where Cachalot connects).
    pub domain_name: String,
    /// Prefix added to the request path, `/a/b` form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin_path: Option<String>,
    /// Headers added to every origin request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_headers: Option<Listed<OriginCustomHeader>>,
    /// Present for S3 REST origins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_origin_config: Option<S3OriginConfig>,
    /// Present for custom (HTTP) origins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_origin_config: Option<CustomOriginConfig>,
    /// VPC origin (kept, not acted on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_origin_config: Option<Value>,
    /// TCP connect attempts, 1–3 (default 3).
    #[serde(default, deserialize_with = "lenient::opt_int", skip_serializing_if = "Option::is_none")]
    pub connection_attempts: Option<i64>,
    /// Seconds per connect attempt, 1–10 (default 10).
    #[serde(default, deserialize_with = "lenient::opt_int", skip_serializing_if = "Option::is_none")]
    pub connection_timeout: Option<i64>,
    /// Seconds for the whole response (default unlimited).
    #[serde(default, deserialize_with = "lenient::opt_int", skip_serializing_if = "Option::is_none")]
    pub response_completion_timeout: Option<i64>,
    /// Origin Shield.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin_shield: Option<OriginShield>,
    /// Origin access control (kept, not acted on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin_access_control_id: Option<String>,
}

/// `OriginCustomHeader`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OriginCustomHeader {
    /// Header name.
    pub header_name: String,
    /// Header value.
    pub header_value: String,
}

/// `S3OriginConfig`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct S3OriginConfig {
    /// `origin-access-identity/cloudfront/ID` or empty.
    #[serde(default)]
    pub origin_access_identity: String,
    /// Seconds.
    #[serde(default, deserialize_with = "lenient::opt_int", skip_serializing_if = "Option::is_none")]
    pub origin_read_timeout: Option<i64>,
}

/// `CustomOriginConfig`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CustomOriginConfig {
    /// Port for HTTP.
    #[serde(rename = "HTTPPort", deserialize_with = "lenient::int")]
    pub http_port: i64,
    /// Port for HTTPS.
    #[serde(rename = "HTTPSPort", deserialize_with = "lenient::int")]
    pub https_port: i64,
    /// `http-only` | `match-viewer` | `https-only`.
    pub origin_protocol_policy: String,
    /// Minimum TLS versions offered to the origin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin_ssl_protocols: Option<Listed<String>>,
    /// Seconds to first byte and between packets (default 30).
    #[serde(default, deserialize_with = "lenient::opt_int", skip_serializing_if = "Option::is_none")]
    pub origin_read_timeout: Option<i64>,
    /// Seconds an idle pooled connection stays open (default 5).
    #[serde(default, deserialize_with = "lenient::opt_int", skip_serializing_if = "Option::is_none")]
    pub origin_keepalive_timeout: Option<i64>,
    /// `ipv4` | `ipv6` | `dualstack`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address_type: Option<String>,
    /// Origin mTLS (kept, not acted on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin_mtls_config: Option<Value>,
}

/// `OriginShield`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OriginShield {
    /// Whether misses funnel through the shield.
    #[serde(deserialize_with = "lenient::boolean")]
    pub enabled: bool,
    /// Region code, e.g. `us-east-1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin_shield_region: Option<String>,
}

/// `OriginGroup`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OriginGroup {
    /// Referenced by behaviors' `TargetOriginId`.
    pub id: String,
    /// Statuses that trigger failover.
    pub failover_criteria: FailoverCriteria,
    /// Exactly two members: primary then secondary.
    pub members: Listed<OriginGroupMember>,
    /// `default` | `media-quality-based`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selection_criteria: Option<String>,
}

/// `OriginGroupFailoverCriteria`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FailoverCriteria {
    /// HTTP statuses.
    pub status_codes: IntListed,
}

/// `OriginGroupMember`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OriginGroupMember {
    /// An origin's `Id`.
    pub origin_id: String,
}

/// `CacheBehavior` / `DefaultCacheBehavior` (the default has no `PathPattern`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CacheBehavior {
    /// Path pattern (absent on the default behavior).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_pattern: Option<String>,
    /// Origin or origin group id.
    pub target_origin_id: String,
    /// Signed URLs (kept, not acted on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trusted_signers: Option<Value>,
    /// Signed URLs (kept, not acted on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trusted_key_groups: Option<Value>,
    /// `allow-all` | `https-only` | `redirect-to-https`.
    pub viewer_protocol_policy: String,
    /// Allowed methods (default GET, HEAD) with the cached subset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_methods: Option<AllowedMethods>,
    /// Smooth streaming (kept, not acted on).
    #[serde(default, deserialize_with = "lenient::opt_bool", skip_serializing_if = "Option::is_none")]
    pub smooth_streaming: Option<bool>,
    /// Edge compression.
    #[serde(default, deserialize_with = "lenient::opt_bool", skip_serializing_if = "Option::is_none")]
    pub compress: Option<bool>,
    /// Lambda@Edge (kept, not run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lambda_function_associations: Option<Value>,
    /// CloudFront Functions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function_associations: Option<Listed<FunctionAssociation>>,
    /// Field-level encryption (kept, not acted on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_level_encryption_id: Option<String>,
    /// Real-time logs (kept, not acted on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realtime_log_config_arn: Option<String>,
    /// Cache policy id (managed or custom).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_policy_id: Option<String>,
    /// Origin request policy id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin_request_policy_id: Option<String>,
    /// Response headers policy id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_headers_policy_id: Option<String>,
    /// gRPC (kept, not acted on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc_config: Option<Value>,
    /// Legacy cache settings (instead of a cache policy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forwarded_values: Option<ForwardedValues>,
    /// Legacy TTL.
    #[serde(
        rename = "MinTTL",
        default,
        deserialize_with = "lenient::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub min_ttl: Option<i64>,
    /// Legacy TTL.
    #[serde(
        rename = "DefaultTTL",
        default,
        deserialize_with = "lenient::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub default_ttl: Option<i64>,
    /// Legacy TTL.
    #[serde(
        rename = "MaxTTL",
        default,
        deserialize_with = "lenient::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_ttl: Option<i64>,
}

/// `AllowedMethods` with nested `CachedMethods`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AllowedMethods {
    /// Declared number of methods.
    #[serde(deserialize_with = "lenient::int")]
    pub quantity: i64,
    /// Methods.
    #[serde(default)]
    pub items: Vec<String>,
    /// The cached subset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_methods: Option<Listed<String>>,
}

/// `FunctionAssociation`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FunctionAssociation {
    /// `arn:aws:cloudfront::<account>:function/<Name>`.
    #[serde(rename = "FunctionARN")]
    pub function_arn: String,
    /// `viewer-request` | `viewer-response`.
    pub event_type: String,
}

/// Legacy `ForwardedValues`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ForwardedValues {
    /// Forward (and key) query strings.
    #[serde(deserialize_with = "lenient::boolean")]
    pub query_string: bool,
    /// Cookie forwarding.
    pub cookies: CookiePreference,
    /// Header names forwarded and keyed (`*` = all, nothing cached).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<Listed<String>>,
    /// Query string names keyed (all are forwarded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_string_cache_keys: Option<Listed<String>>,
}

/// Legacy `CookiePreference`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CookiePreference {
    /// `none` | `whitelist` | `all`.
    pub forward: String,
    /// Cookie names (wildcards `*` and `?` allowed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub whitelisted_names: Option<Listed<String>>,
}

/// `CustomErrorResponse`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CustomErrorResponse {
    /// Origin status this applies to.
    #[serde(deserialize_with = "lenient::int")]
    pub error_code: i64,
    /// Page served instead, fetched through the matching behavior.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_page_path: Option<String>,
    /// Status sent to the viewer (a string in the API).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "opt_string_or_int")]
    pub response_code: Option<String>,
    /// Seconds this error is cached.
    #[serde(
        rename = "ErrorCachingMinTTL",
        default,
        deserialize_with = "lenient::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub error_caching_min_ttl: Option<i64>,
}

fn opt_string_or_int<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = Value::deserialize(d)?;
    match v {
        Value::String(s) => Ok(Some(s)),
        Value::Number(n) => Ok(Some(n.to_string())),
        Value::Null => Ok(None),
        other => Err(serde::de::Error::custom(format!("expected a status code, found {other}"))),
    }
}

/// `LoggingConfig`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Logging {
    /// Write standard logs.
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub enabled: bool,
    /// Log the Cookie header.
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub include_cookies: bool,
    /// `<bucket>.s3.amazonaws.com`, mapped to a folder through `Buckets`.
    #[serde(default)]
    pub bucket: String,
    /// Key prefix.
    #[serde(default)]
    pub prefix: String,
}

// ---------------------------------------------------------------------------
// Envelopes used by the AWS CLI's output and the config file
// ---------------------------------------------------------------------------

/// `{"Id", "CachePolicyConfig"}`: a cache policy as stored or as printed by `get-cache-policy`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CachePolicy {
    /// Policy id (a UUID for CloudFront's own).
    pub id: String,
    /// The configuration.
    pub cache_policy_config: CachePolicyConfig,
}

/// `{"Id", "OriginRequestPolicyConfig"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OriginRequestPolicy {
    /// Policy id.
    pub id: String,
    /// The configuration.
    pub origin_request_policy_config: OriginRequestPolicyConfig,
}

/// `{"Id", "ResponseHeadersPolicyConfig"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResponseHeadersPolicy {
    /// Policy id.
    pub id: String,
    /// The configuration.
    pub response_headers_policy_config: ResponseHeadersPolicyConfig,
}

// ---------------------------------------------------------------------------
// Private content: public keys, key groups, origin access
// ---------------------------------------------------------------------------

/// `PublicKeyConfig`: a public key for signed URLs and signed cookies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PublicKeyConfig {
    /// Unique reference chosen by the creator.
    pub caller_reference: String,
    /// Name, unique in the account.
    pub name: String,
    /// The key in PEM (`-----BEGIN PUBLIC KEY-----`): RSA 2048 or ECDSA P-256.
    pub encoded_key: String,
    /// Free text, at most 128 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// `{"Id", "PublicKeyConfig"}`: a public key as stored or as printed by `get-public-key`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PublicKey {
    /// Key id (`K…`), the `Key-Pair-Id` of signed URLs.
    pub id: String,
    /// The configuration.
    pub public_key_config: PublicKeyConfig,
}

/// `KeyGroupConfig`: the public keys a behavior trusts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyGroupConfig {
    /// Name, unique in the account.
    pub name: String,
    /// Public key ids (1 to 5).
    #[serde(default)]
    pub items: Vec<String>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// `{"Id", "KeyGroupConfig"}`: a key group as stored or as printed by `get-key-group`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyGroup {
    /// Key group id (a UUID), named in `TrustedKeyGroups`.
    pub id: String,
    /// The configuration.
    pub key_group_config: KeyGroupConfig,
}

/// `OriginAccessControlConfig`: how the edge signs requests to an origin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OriginAccessControlConfig {
    /// Name, unique in the account.
    pub name: String,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `sigv4`.
    pub signing_protocol: String,
    /// `never` | `always` | `no-override`.
    pub signing_behavior: String,
    /// `s3` | `mediastore` | `mediapackagev2` | `lambda`.
    pub origin_access_control_origin_type: String,
}

/// `{"Id", "OriginAccessControlConfig"}`: as printed by `get-origin-access-control`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OriginAccessControl {
    /// Id (`E…`), named by an origin's `OriginAccessControlId`.
    pub id: String,
    /// The configuration.
    pub origin_access_control_config: OriginAccessControlConfig,
}
