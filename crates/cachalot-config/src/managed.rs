//! CloudFront's managed policies, by their real ids and API names.
//!
//! Listed by `ListCachePolicies?Type=managed` (and the origin request /
//! response headers equivalents), immutable, and resolvable from any behavior.

use crate::wire::{
    CachePolicy, CachePolicyConfig, CookiesConfig, CorsConfig, FrameOptions, HeadersConfig, Listed,
    OriginRequestPolicy, OriginRequestPolicyConfig, OverrideOnly, ParametersInCacheKey, QueryStringsConfig,
    ReferrerPolicy, ResponseHeadersPolicy, ResponseHeadersPolicyConfig, SecurityHeadersConfig, StrictTransportSecurity,
    XssProtection,
};

/// Id of `Managed-CachingOptimized`, the policy `serve --origin` uses.
pub const CACHING_OPTIMIZED: &str = "658327ea-f89d-4fab-a63d-7e88639e58f6";
/// Id of `Managed-CachingDisabled`.
pub const CACHING_DISABLED: &str = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad";

struct ManagedCache {
    id: &'static str,
    name: &'static str,
    comment: &'static str,
    ttls: (i64, i64, i64),
    headers: &'static [&'static str],
    cookies: &'static str,
    query: (&'static str, &'static [&'static str]),
    gzip_br: (bool, bool),
}

const CACHE: &[ManagedCache] = &[
    ManagedCache {
        id: CACHING_OPTIMIZED,
        name: "Managed-CachingOptimized",
        comment: "Policy with caching enabled. Supports Gzip and Brotli compression.",
        ttls: (1, 86400, 31536000),
        headers: &[],
        cookies: "none",
        query: ("none", &[]),
        gzip_br: (true, true),
    },
    ManagedCache {
        id: "b2884449-e4de-46a7-ac36-70bc7f1ddd6d",
        name: "Managed-CachingOptimizedForUncompressedObjects",
        comment: "Default policy when compression is disabled",
        ttls: (1, 86400, 31536000),
        headers: &[],
        cookies: "none",
        query: ("none", &[]),
        gzip_br: (false, false),
    },
    ManagedCache {
        id: CACHING_DISABLED,
        name: "Managed-CachingDisabled",
        comment: "Policy with caching disabled",
        ttls: (0, 0, 0),
        headers: &[],
        cookies: "none",
        query: ("none", &[]),
        gzip_br: (false, false),
    },
    ManagedCache {
        id: "08627262-05a9-4f76-9ded-b50ca2e3a84f",
        name: "Managed-Elemental-MediaPackage",
        comment: "Policy for Elemental MediaPackage Origin",
        ttls: (0, 86400, 31536000),
        headers: &["origin"],
        cookies: "none",
        query: ("whitelist", &["aws.manifestfilter", "end", "m", "start"]),
        gzip_br: (true, false),
    },
    ManagedCache {
        id: "2e54312d-136d-493c-8eb9-b001f22f67d2",
        name: "Managed-Amplify",
        comment: "Policy for Amplify Origin",
        ttls: (2, 2, 600),
        headers: &["Authorization", "CloudFront-Viewer-Country", "Host"],
        cookies: "all",
        query: ("all", &[]),
        gzip_br: (true, true),
    },
    ManagedCache {
        id: "83da9c7e-98b4-4e11-a168-04f0df8e2c65",
        name: "UseOriginCacheControlHeaders",
        comment: "Policy for origins that return Cache-Control headers. Query strings are not included in the cache key.",
        ttls: (0, 0, 31536000),
        headers: &["host", "origin", "x-http-method", "x-http-method-override", "x-method-override"],
        cookies: "all",
        query: ("none", &[]),
        gzip_br: (true, true),
    },
    ManagedCache {
        id: "4cc15a8a-d715-48a4-82b8-cc0b614638fe",
        name: "UseOriginCacheControlHeaders-QueryStrings",
        comment: "Policy for origins that return Cache-Control headers and serve different content based on values present in the query string.",
        ttls: (0, 0, 31536000),
        headers: &["host", "origin", "x-http-method", "x-http-method-override", "x-method-override"],
        cookies: "all",
        query: ("all", &[]),
        gzip_br: (true, true),
    },
    ManagedCache {
        id: "4d1d2f1d-3a71-49ad-9e08-7ea5d843a556",
        name: "Managed-Amplify-Default",
        comment: "Default policy for Amplify Hosting",
        ttls: (0, 0, 31536000),
        headers: &["Accept", "Authorization", "CloudFront-Viewer-Country", "Host"],
        cookies: "all",
        query: ("all", &[]),
        gzip_br: (true, true),
    },
    ManagedCache {
        id: "a6bad946-36c3-4c33-aa98-362c74a7fb13",
        name: "Managed-Amplify-DefaultNoCookies",
        comment: "Default policy without cookies for Amplify Hosting",
        ttls: (0, 0, 31536000),
        headers: &["Accept", "Authorization", "CloudFront-Viewer-Country", "Host"],
        cookies: "none",
        query: ("all", &[]),
        gzip_br: (true, true),
    },
    ManagedCache {
        id: "1c6db51a-a33f-469a-8245-dae26771f530",
        name: "Managed-Amplify-ImageOptimization",
        comment: "Image optimization policy for Amplify Hosting",
        ttls: (0, 0, 31536000),
        headers: &["Accept", "Authorization", "Host"],
        cookies: "none",
        query: ("all", &[]),
        gzip_br: (true, true),
    },
    ManagedCache {
        id: "7e5fad67-ee98-4ad0-b05a-394999eefc1a",
        name: "Managed-Amplify-StaticContent",
        comment: "Static content policy for Amplify Hosting",
        ttls: (0, 0, 31536000),
        headers: &["Authorization", "Host"],
        cookies: "none",
        query: ("none", &[]),
        gzip_br: (true, true),
    },
];

fn names(items: &[&str]) -> Option<Listed<String>> {
    if items.is_empty() { None } else { Some(Listed::of(items.iter().map(|s| (*s).to_owned()).collect())) }
}

/// Every managed cache policy.
pub fn cache_policies() -> Vec<CachePolicy> {
    CACHE
        .iter()
        .map(|m| CachePolicy {
            id: m.id.to_owned(),
            cache_policy_config: CachePolicyConfig {
                comment: Some(m.comment.to_owned()),
                name: m.name.to_owned(),
                min_ttl: m.ttls.0,
                default_ttl: Some(m.ttls.1),
                max_ttl: Some(m.ttls.2),
                parameters_in_cache_key_and_forwarded_to_origin: Some(ParametersInCacheKey {
                    enable_accept_encoding_gzip: m.gzip_br.0,
                    enable_accept_encoding_brotli: Some(m.gzip_br.1),
                    headers_config: HeadersConfig {
                        header_behavior: if m.headers.is_empty() { "none" } else { "whitelist" }.to_owned(),
                        headers: names(m.headers),
                    },
                    cookies_config: CookiesConfig { cookie_behavior: m.cookies.to_owned(), cookies: None },
                    query_strings_config: QueryStringsConfig {
                        query_string_behavior: m.query.0.to_owned(),
                        query_strings: names(m.query.1),
                    },
                }),
            },
        })
        .collect()
}

struct ManagedOrp {
    id: &'static str,
    name: &'static str,
    comment: &'static str,
    headers: (&'static str, &'static [&'static str]),
    cookies: &'static str,
    query: &'static str,
}

const CLOUDFRONT_VIEWER_HEADERS: &[&str] = &[
    "CloudFront-Forwarded-Proto",
    "CloudFront-Is-Android-Viewer",
    "CloudFront-Is-Desktop-Viewer",
    "CloudFront-Is-IOS-Viewer",
    "CloudFront-Is-Mobile-Viewer",
    "CloudFront-Is-SmartTV-Viewer",
    "CloudFront-Is-Tablet-Viewer",
    "CloudFront-Viewer-Address",
    "CloudFront-Viewer-ASN",
    "CloudFront-Viewer-City",
    "CloudFront-Viewer-Country",
    "CloudFront-Viewer-Country-Name",
    "CloudFront-Viewer-Country-Region",
    "CloudFront-Viewer-Country-Region-Name",
    "CloudFront-Viewer-Http-Version",
    "CloudFront-Viewer-Latitude",
    "CloudFront-Viewer-Longitude",
    "CloudFront-Viewer-Metro-Code",
    "CloudFront-Viewer-Postal-Code",
    "CloudFront-Viewer-Time-Zone",
    "CloudFront-Viewer-TLS",
];

const ORP: &[ManagedOrp] = &[
    ManagedOrp {
        id: "216adef6-5c7f-47e4-b989-5492eafa07d3",
        name: "Managed-AllViewer",
        comment: "Policy to forward all parameters in viewer requests",
        headers: ("allViewer", &[]),
        cookies: "all",
        query: "all",
    },
    ManagedOrp {
        id: "33f36d7e-f396-46d9-90e0-52428a34d9dc",
        name: "Managed-AllViewerAndCloudFrontHeaders-2022-06",
        comment: "Policy to forward all parameters in viewer requests and all CloudFront headers",
        headers: ("allViewerAndWhitelistCloudFront", CLOUDFRONT_VIEWER_HEADERS),
        cookies: "all",
        query: "all",
    },
    ManagedOrp {
        id: "b689b0a8-53d0-40ab-baf2-68738e2966ac",
        name: "Managed-AllViewerExceptHostHeader",
        comment: "Policy to forward all parameters in viewer requests except for the Host header",
        headers: ("allExcept", &["host"]),
        cookies: "all",
        query: "all",
    },
    ManagedOrp {
        id: "59781a5b-3903-41f3-afcb-af62929ccde1",
        name: "Managed-CORS-CustomOrigin",
        comment: "Policy for Custom Origin with CORS",
        headers: ("whitelist", &["origin"]),
        cookies: "none",
        query: "none",
    },
    ManagedOrp {
        id: "88a5eaf4-2fd4-4709-b370-b4c650ea3fcf",
        name: "Managed-CORS-S3Origin",
        comment: "Policy for S3 origin with CORS",
        headers: ("whitelist", &["origin", "access-control-request-headers", "access-control-request-method"]),
        cookies: "none",
        query: "none",
    },
    ManagedOrp {
        id: "775133bc-15f2-49f9-abea-afb2e0bf67d2",
        name: "Managed-Elemental-MediaTailor-PersonalizedManifests",
        comment: "Policy for Elemental MediaTailor Personalized Manifests",
        headers: (
            "whitelist",
            &[
                "origin",
                "access-control-request-headers",
                "x-forwarded-for",
                "access-control-request-method",
                "user-agent",
            ],
        ),
        cookies: "none",
        query: "all",
    },
    ManagedOrp {
        id: "acba4595-bd28-49b8-b9fe-13317c0390fa",
        name: "Managed-UserAgentRefererHeaders",
        comment: "Policy to forward user-agent and referer headers to origin",
        headers: ("whitelist", &["user-agent", "referer"]),
        cookies: "none",
        query: "none",
    },
    ManagedOrp {
        id: "bf0718e1-ba1e-49d1-88b1-f726733018ae",
        name: "Managed-HostHeaderOnly",
        comment: "Policy to forward only the Host header",
        headers: ("whitelist", &["host"]),
        cookies: "none",
        query: "none",
    },
];

/// Every managed origin request policy.
pub fn origin_request_policies() -> Vec<OriginRequestPolicy> {
    ORP.iter()
        .map(|m| OriginRequestPolicy {
            id: m.id.to_owned(),
            origin_request_policy_config: OriginRequestPolicyConfig {
                comment: Some(m.comment.to_owned()),
                name: m.name.to_owned(),
                headers_config: HeadersConfig { header_behavior: m.headers.0.to_owned(), headers: names(m.headers.1) },
                cookies_config: CookiesConfig { cookie_behavior: m.cookies.to_owned(), cookies: None },
                query_strings_config: QueryStringsConfig {
                    query_string_behavior: m.query.to_owned(),
                    query_strings: None,
                },
            },
        })
        .collect()
}

/// Id of `Managed-SecurityHeadersPolicy`.
pub const SECURITY_HEADERS_POLICY: &str = "67f7725c-6f97-4210-82d7-5512b31e9d03";

const RHP: &[(&str, &str, &str, Option<bool>, bool)] = &[
    // (id, name, comment, CORS: None | Some(preflight), security headers)
    (
        "60669652-455b-4ae9-85a4-c4c02393f86c",
        "Managed-SimpleCORS",
        "Allows all origins for simple CORS requests",
        Some(false),
        false,
    ),
    (
        "5cc3b908-e619-4b99-88e5-2cf7f45965bd",
        "Managed-CORS-With-Preflight",
        "Allows all origins for CORS requests, including preflight requests",
        Some(true),
        false,
    ),
    (
        SECURITY_HEADERS_POLICY,
        "Managed-SecurityHeadersPolicy",
        "Adds a set of security headers to every response",
        None,
        true,
    ),
    (
        "e61eb60c-9c35-4d20-a928-2b84e02af89c",
        "Managed-CORS-and-SecurityHeadersPolicy",
        "Allows all origins for simple CORS requests and adds security headers",
        Some(false),
        true,
    ),
    (
        "eaab4381-ed33-4a86-88ca-d9558dc6cd63",
        "Managed-CORS-with-preflight-and-SecurityHeadersPolicy",
        "Allows all origins for CORS requests, including preflight requests, and adds security headers",
        Some(true),
        true,
    ),
];

fn list(items: &[&str]) -> Listed<String> {
    Listed::of(items.iter().map(|s| (*s).to_owned()).collect())
}

/// Every managed response headers policy.
pub fn response_headers_policies() -> Vec<ResponseHeadersPolicy> {
    RHP.iter()
        .map(|(id, name, comment, cors, security)| ResponseHeadersPolicy {
            id: (*id).to_owned(),
            response_headers_policy_config: ResponseHeadersPolicyConfig {
                comment: Some((*comment).to_owned()),
                name: (*name).to_owned(),
                cors_config: cors.map(|preflight| CorsConfig {
                    access_control_allow_origins: list(&["*"]),
                    access_control_allow_headers: list(&["*"]),
                    access_control_allow_methods: if preflight {
                        list(&["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"])
                    } else {
                        list(&["ALL"])
                    },
                    access_control_allow_credentials: false,
                    access_control_expose_headers: preflight.then(|| list(&["*"])),
                    access_control_max_age_sec: None,
                    origin_override: false,
                }),
                security_headers_config: security.then(|| SecurityHeadersConfig {
                    xss_protection: Some(XssProtection {
                        r#override: false,
                        protection: true,
                        mode_block: Some(true),
                        report_uri: None,
                    }),
                    frame_options: Some(FrameOptions { r#override: false, frame_option: "SAMEORIGIN".into() }),
                    referrer_policy: Some(ReferrerPolicy {
                        r#override: false,
                        referrer_policy: "strict-origin-when-cross-origin".into(),
                    }),
                    content_security_policy: None,
                    content_type_options: Some(OverrideOnly { r#override: true }),
                    strict_transport_security: Some(StrictTransportSecurity {
                        r#override: false,
                        include_subdomains: None,
                        preload: None,
                        access_control_max_age_sec: 31_536_000,
                    }),
                }),
                server_timing_headers_config: None,
                custom_headers_config: None,
                remove_headers_config: None,
            },
        })
        .collect()
}

/// True when `id` names a managed cache, origin request or response headers policy.
pub fn is_managed(id: &str) -> bool {
    CACHE.iter().any(|m| m.id == id) || ORP.iter().any(|m| m.id == id) || RHP.iter().any(|m| m.0 == id)
}
