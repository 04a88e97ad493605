//! Validated, resolved configuration: what the edge and the doctor act on.
//!
//! Built from [`crate::wire`] by [`crate::validate`]. Policy references are
//! resolved (managed policies included), legacy `ForwardedValues` are turned
//! into the same key and forwarding rules a cache policy produces, defaults are
//! applied and names are normalised, so nothing downstream looks at wire shapes.

use crate::compiled::{HostTable, PathPattern};
use std::collections::HashMap;
use std::sync::Arc;

/// Everything the data plane serves, published as one immutable unit.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// Distributions in the order given.
    pub distributions: Vec<Arc<Distribution>>,
    /// Host → index into `distributions`.
    pub hosts: HostTable,
    /// CloudFront Functions by name (the stage the edge runs: LIVE).
    pub functions: HashMap<String, Arc<FunctionCode>>,
    /// Key value stores by name.
    pub key_value_stores: HashMap<String, Arc<KeyValueStore>>,
    /// Standard logging (v2): what each delivery writes, and where.
    pub log_deliveries: Vec<crate::logging::LogDelivery>,
    /// Public keys for signed URLs and cookies, by id.
    pub public_keys: HashMap<String, Arc<PublicKey>>,
}

impl Snapshot {
    /// The distribution serving `host`.
    pub fn distribution_for_host(&self, host: &str) -> Option<&Arc<Distribution>> {
        self.hosts.lookup(host).and_then(|i| self.distributions.get(i))
    }

    /// A distribution by id.
    pub fn distribution(&self, id: &str) -> Option<&Arc<Distribution>> {
        self.distributions.iter().find(|d| d.id == id)
    }
}

/// A CloudFront Function's code as the edge runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionCode {
    /// Function name.
    pub name: String,
    /// `cloudfront-js-1.0` or `cloudfront-js-2.0`.
    pub runtime: String,
    /// JavaScript source.
    pub code: String,
    /// Names of associated key value stores.
    pub key_value_stores: Vec<String>,
}

/// A key value store's contents.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyValueStore {
    /// Store name.
    pub name: String,
    /// Store id (used in `cf.kvs(id)`).
    pub id: String,
    /// Keys and values.
    pub items: HashMap<String, String>,
}

/// A distribution ready to serve.
#[derive(Debug)]
pub struct Distribution {
    /// `E…` id.
    pub id: String,
    /// `dXXXX.cloudfront.net`.
    pub domain_name: String,
    /// Alternate domain names.
    pub aliases: Vec<String>,
    /// Disabled distributions answer 403.
    pub enabled: bool,
    /// Object served for `/`.
    pub default_root_object: Option<String>,
    /// Origins; behaviors refer to them by index.
    pub origins: Vec<Arc<Origin>>,
    /// Failover groups.
    pub origin_groups: Vec<OriginGroup>,
    /// Ordered behaviors, the default one last.
    pub behaviors: Vec<Arc<Behavior>>,
    /// Custom error responses by origin status.
    pub custom_error_responses: HashMap<u16, CustomErrorResponse>,
    /// Standard logging, when enabled.
    pub logging: Option<Logging>,
    /// Viewer HTTP versions offered.
    pub http_version: HttpVersion,
    /// Header that carries cache tags from the origin.
    pub cache_tag_header: Option<String>,
    /// `Restrictions.GeoRestriction`, when it restricts.
    pub geo_restriction: Option<GeoRestriction>,
    /// Protections the distribution asks for that the edge does not enforce (`WebACLId`).
    pub unenforced: Vec<Unenforced>,
}

impl Distribution {
    /// The first behavior whose path pattern matches (the default when none does).
    pub fn behavior_for(&self, path: &str) -> &Arc<Behavior> {
        self.behaviors
            .iter()
            .find(|b| b.path_pattern.matches(path))
            .unwrap_or_else(|| self.behaviors.last().expect("a distribution always has its default behavior"))
    }
}

/// Viewer HTTP versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HttpVersion {
    /// `http1.1`.
    Http1_1,
    /// `http2` (the API default).
    #[default]
    Http2,
    /// `http3`.
    Http3,
    /// `http2and3`.
    Http2And3,
}

/// Standard log settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logging {
    /// Bucket name (the part before `.s3…amazonaws.com`).
    pub bucket: String,
    /// Key prefix, ending in `/` when non-empty.
    pub prefix: String,
    /// Log the Cookie header.
    pub include_cookies: bool,
}

/// A custom error response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomErrorResponse {
    /// Origin status.
    pub error_code: u16,
    /// Page served instead.
    pub response_page_path: Option<String>,
    /// Status the viewer gets.
    pub response_code: Option<u16>,
    /// Seconds the error is cached (`None`: CloudFront's default of 10).
    pub error_caching_min_ttl: Option<u64>,
}

/// Where a behavior sends misses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// An origin, by index.
    Origin(usize),
    /// An origin group, by index.
    Group(usize),
}

/// An origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// Id.
    pub id: String,
    /// Host name, also the `Host` sent unless the viewer's is forwarded.
    pub domain_name: String,
    /// Prefix added to request paths (`""` or `/a/b`).
    pub origin_path: String,
    /// Headers added to every origin request, overwriting viewer values.
    pub custom_headers: Vec<(String, String)>,
    /// S3 bucket or custom HTTP server.
    pub kind: OriginKind,
    /// Connect attempts (1–3).
    pub connection_attempts: u32,
    /// Seconds per connect attempt.
    pub connection_timeout_secs: u32,
    /// Seconds to first byte and between reads.
    pub read_timeout_secs: u32,
    /// Seconds an idle connection is kept.
    pub keepalive_timeout_secs: u32,
    /// Seconds for the whole response, if bounded.
    pub response_completion_timeout_secs: Option<u32>,
    /// Origin Shield region, when enabled.
    pub shield_region: Option<String>,
    /// The origin access control that signs requests to this origin.
    pub access_control: Option<OriginAccess>,
}

/// How an origin access control signs origin requests (`SigningBehavior`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signing {
    /// `never`: requests go unsigned.
    Never,
    /// `always`: every request is signed, replacing a viewer's `Authorization`.
    Always,
    /// `no-override`: signed unless the viewer sent `Authorization`, which is passed on instead.
    NoOverride,
}

/// An origin access control as an origin uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginAccess {
    /// The control's id.
    pub id: String,
    /// When requests are signed.
    pub signing: Signing,
    /// `s3`, `mediastore`, `mediapackagev2` or `lambda` (the SigV4 service signed for).
    pub origin_type: String,
}

/// What kind of origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OriginKind {
    /// An S3 REST endpoint; served from the folder mapped to the bucket.
    S3 {
        /// Bucket name.
        bucket: String,
    },
    /// An HTTP(S) server.
    Custom {
        /// Port for HTTP.
        http_port: u16,
        /// Port for HTTPS.
        https_port: u16,
        /// Which protocol to use toward the origin.
        protocol: OriginProtocolPolicy,
    },
}

/// `OriginProtocolPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OriginProtocolPolicy {
    /// Always HTTP.
    HttpOnly,
    /// Same as the viewer.
    MatchViewer,
    /// Always HTTPS.
    HttpsOnly,
}

/// An origin group (primary, secondary).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginGroup {
    /// Id.
    pub id: String,
    /// Primary origin index.
    pub primary: usize,
    /// Secondary origin index.
    pub secondary: usize,
    /// Statuses that fail over.
    pub failover_statuses: Vec<u16>,
}

/// `ViewerProtocolPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewerProtocolPolicy {
    /// HTTP and HTTPS.
    AllowAll,
    /// HTTP redirected to HTTPS.
    RedirectToHttps,
    /// HTTP refused.
    HttpsOnly,
}

/// A set of HTTP methods, as CloudFront's fixed 2/3/7 sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MethodSet(u8);

impl MethodSet {
    /// GET and HEAD.
    pub const GET_HEAD: MethodSet = MethodSet(0b0000_0011);
    /// GET, HEAD and OPTIONS.
    pub const GET_HEAD_OPTIONS: MethodSet = MethodSet(0b0000_0111);
    /// All seven.
    pub const ALL: MethodSet = MethodSet(0b0111_1111);

    fn bit(method: &str) -> Option<u8> {
        Some(match method {
            "GET" => 1,
            "HEAD" => 2,
            "OPTIONS" => 4,
            "PUT" => 8,
            "PATCH" => 16,
            "POST" => 32,
            "DELETE" => 64,
            _ => return None,
        })
    }

    /// Builds a set from method names; unknown names are returned as errors.
    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Self, String> {
        let mut bits = 0;
        for n in names {
            bits |= Self::bit(n).ok_or_else(|| n.to_owned())?;
        }
        Ok(MethodSet(bits))
    }

    /// Whether the set contains `method`.
    pub fn contains(self, method: &str) -> bool {
        Self::bit(method).is_some_and(|b| self.0 & b != 0)
    }

    /// Number of methods.
    pub fn len(self) -> u32 {
        self.0.count_ones()
    }

    /// True when empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// A cache behavior, with its policies resolved.
#[derive(Debug)]
pub struct Behavior {
    /// `*` for the default behavior.
    pub path_pattern: PathPattern,
    /// True for the default behavior.
    pub is_default: bool,
    /// Where misses go.
    pub target: Target,
    /// HTTP/HTTPS handling.
    pub viewer_protocol_policy: ViewerProtocolPolicy,
    /// Methods accepted.
    pub allowed_methods: MethodSet,
    /// Methods whose responses are cached.
    pub cached_methods: MethodSet,
    /// Edge compression.
    pub compress: bool,
    /// Cache key and TTLs.
    pub cache: Arc<CacheSettings>,
    /// What reaches the origin beyond the key.
    pub origin_request: Arc<OriginRequestSettings>,
    /// Response headers policy, if any.
    pub response_headers: Option<Arc<ResponseHeadersSettings>>,
    /// Viewer-request function name.
    pub viewer_request_function: Option<String>,
    /// Viewer-response function name.
    pub viewer_response_function: Option<String>,
    /// Cache policy id (absent for legacy behaviors).
    pub cache_policy_id: Option<String>,
    /// Origin request policy id.
    pub origin_request_policy_id: Option<String>,
    /// Signed URLs or cookies required: the keys trusted (`TrustedKeyGroups`, `TrustedSigners`).
    pub trusted: Option<Arc<TrustedKeys>>,
    /// Protections the behavior asks for that the edge does not enforce.
    pub unenforced: Vec<Unenforced>,
}

/// A protection a configuration asks for that the edge does not enforce. Whether such
/// a behavior is served is the node's choice (`UnenforcedProtections`), never silent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unenforced {
    /// The field asking for it, e.g. `WebACLId` or `LambdaFunctionAssociations`.
    pub field: &'static str,
    /// What it asks for, in words.
    pub what: String,
}

/// An algorithm of a public key CloudFront accepts for signed URLs and cookies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlgorithm {
    /// RSA 2048; `key` is the PKCS#1 `RSAPublicKey` DER.
    Rsa2048,
    /// ECDSA on P-256; `key` is the SEC1 point.
    EcdsaP256,
}

/// A public key ready to verify signatures with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    /// Key id, the `Key-Pair-Id` of signed URLs.
    pub id: String,
    /// Name.
    pub name: String,
    /// Algorithm.
    pub algorithm: KeyAlgorithm,
    /// Key material (see [`KeyAlgorithm`]).
    pub key: Vec<u8>,
}

/// The keys whose signatures a behavior accepts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedKeys {
    /// By key id.
    pub keys: HashMap<String, Arc<PublicKey>>,
    /// Key groups (ids) they came from; empty for legacy trusted signers.
    pub key_groups: Vec<String>,
}

/// `Restrictions.GeoRestriction` of a distribution that restricts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeoRestriction {
    /// `whitelist`: only `countries` are served; `blacklist`: they are refused.
    pub allow_listed: bool,
    /// ISO 3166-1 alpha-2 codes, upper case.
    pub countries: Vec<String>,
}

impl GeoRestriction {
    /// Whether a viewer in `country` (`None`: not known) is served.
    pub fn allows(&self, country: Option<&str>) -> bool {
        let listed = country.is_some_and(|c| self.countries.iter().any(|l| l.eq_ignore_ascii_case(c)));
        listed == self.allow_listed
    }
}

/// Which names of one kind (query strings, cookies, headers) a rule selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameRule {
    /// Nothing.
    None,
    /// Only these names.
    Only(Vec<String>),
    /// Everything but these names.
    AllExcept(Vec<String>),
    /// Everything.
    All,
}

impl NameRule {
    /// Whether `name` is selected, comparing with `eq`.
    pub fn selects_with(&self, name: &str, eq: impl Fn(&str, &str) -> bool) -> bool {
        match self {
            NameRule::None => false,
            NameRule::All => true,
            NameRule::Only(names) => names.iter().any(|n| eq(n, name)),
            NameRule::AllExcept(names) => !names.iter().any(|n| eq(n, name)),
        }
    }

    /// True for [`NameRule::None`].
    pub fn is_none(&self) -> bool {
        matches!(self, NameRule::None)
    }

    /// What is forwarded when a cache policy keys `key` and an origin request
    /// policy forwards `orp` (§2.6): the union, except that two block lists give
    /// everything but the union of the blocked names.
    pub fn forward_union(key: &NameRule, orp: &NameRule) -> NameRule {
        use NameRule::*;
        match (key, orp) {
            (All, _) | (_, All) => All,
            (None, x) | (x, None) => x.clone(),
            (Only(a), Only(b)) => Only(merge(a, b)),
            (AllExcept(a), AllExcept(b)) => AllExcept(merge(a, b)),
            (Only(allow), AllExcept(block)) | (AllExcept(block), Only(allow)) => {
                AllExcept(block.iter().filter(|n| !allow.contains(n)).cloned().collect())
            }
        }
    }
}

fn merge(a: &[String], b: &[String]) -> Vec<String> {
    let mut out = a.to_vec();
    for n in b {
        if !out.contains(n) {
            out.push(n.clone());
        }
    }
    out
}

/// Cookie names may carry `*`/`?` wildcards in legacy whitelists.
pub fn cookie_name_matches(pattern: &str, name: &str) -> bool {
    if pattern.contains(['*', '?']) {
        // Cookie names never contain '/', so the path matcher's rules apply unchanged.
        PathPattern::new(&format!("/{pattern}")).matches(&format!("/{name}"))
    } else {
        pattern == name
    }
}

/// The cache key definition and TTLs of a behavior.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheSettings {
    /// Seconds.
    pub min_ttl: u64,
    /// Seconds.
    pub default_ttl: u64,
    /// Seconds; 0 stores nothing.
    pub max_ttl: u64,
    /// Query strings in the key (names case-sensitive).
    pub query_strings: NameRule,
    /// Headers in the key (names lower-cased; values case-sensitive). Only `None` or `Only`.
    pub headers: NameRule,
    /// Cookies in the key (names case-sensitive).
    pub cookies: NameRule,
    /// `Accept-Encoding: gzip` normalised into the key.
    pub accept_encoding_gzip: bool,
    /// `Accept-Encoding: br` normalised into the key.
    pub accept_encoding_brotli: bool,
    /// Legacy `ForwardedValues` with `Headers: ["*"]`: forward everything, cache nothing.
    pub forward_all_headers: bool,
    /// Legacy: query strings forwarded even when not keyed.
    pub legacy_forward_query: NameRule,
}

impl CacheSettings {
    /// A key of the distribution and the path alone: no query string, header or cookie keyed,
    /// no `Accept-Encoding` normalisation, nothing forwarded. Other settings start from it with
    /// struct update syntax, so each names only what it changes.
    pub const fn path_only(min_ttl: u64, default_ttl: u64, max_ttl: u64) -> Self {
        Self {
            min_ttl,
            default_ttl,
            max_ttl,
            query_strings: NameRule::None,
            headers: NameRule::None,
            cookies: NameRule::None,
            accept_encoding_gzip: false,
            accept_encoding_brotli: false,
            forward_all_headers: false,
            legacy_forward_query: NameRule::None,
        }
    }

    /// True when caching is disabled (MaxTTL 0 or legacy forward-all-headers).
    pub fn caching_disabled(&self) -> bool {
        self.max_ttl == 0 || self.forward_all_headers
    }

    /// True when `Accept-Encoding` is explicitly a keyed header (disables edge compression).
    pub fn keys_accept_encoding_header(&self) -> bool {
        self.headers.selects_with("accept-encoding", |a, b| a.eq_ignore_ascii_case(b))
            && !matches!(self.headers, NameRule::All)
    }
}

/// Header forwarding of an origin request policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderForwarding {
    /// Only keyed headers.
    None,
    /// These (lower-case) names.
    Only(Vec<String>),
    /// All viewer headers except these (lower-case) names.
    AllExcept(Vec<String>),
    /// All viewer headers.
    AllViewer,
    /// All viewer headers plus these CloudFront-generated ones.
    AllViewerAndCloudFront(Vec<String>),
}

/// What reaches the origin beyond the cache key (from an origin request policy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginRequestSettings {
    /// Headers forwarded.
    pub headers: HeaderForwarding,
    /// Cookies forwarded.
    pub cookies: NameRule,
    /// Query strings forwarded.
    pub query_strings: NameRule,
}

impl OriginRequestSettings {
    /// Forwards nothing beyond the key.
    pub fn none() -> Self {
        Self { headers: HeaderForwarding::None, cookies: NameRule::None, query_strings: NameRule::None }
    }
}

/// A response headers policy ready to apply.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ResponseHeadersSettings {
    /// Policy id.
    pub id: String,
    /// Headers to set: (name, value, override origin's).
    pub set: Vec<(String, String, bool)>,
    /// Header names (lower-case) to remove.
    pub remove: Vec<String>,
    /// CORS rules.
    pub cors: Option<CorsSettings>,
    /// `Server-Timing` sampling rate in percent, when enabled.
    pub server_timing_sampling: Option<f64>,
}

/// CORS rules of a response headers policy.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CorsSettings {
    /// Allowed origins (`*` allowed).
    pub allow_origins: Vec<String>,
    /// Allowed headers.
    pub allow_headers: Vec<String>,
    /// Allowed methods.
    pub allow_methods: Vec<String>,
    /// Allow credentials.
    pub allow_credentials: bool,
    /// Exposed headers.
    pub expose_headers: Vec<String>,
    /// Max age in seconds.
    pub max_age_secs: Option<i64>,
    /// Replace the origin's CORS headers.
    pub origin_override: bool,
}
