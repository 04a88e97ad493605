//! Wire → model: checks every rule CloudFront enforces and reports every problem at once.
//!
//! Diagnostic codes are CloudFront's API error codes where one exists, so the
//! control plane can answer with the code the AWS CLI expects.

use crate::compiled::{HostTable, PathPattern};
use crate::diag::{Diagnostic, Diagnostics};
use crate::managed;
use crate::model::{
    Behavior, CacheSettings, CorsSettings, CustomErrorResponse, Distribution, FunctionCode, GeoRestriction,
    HeaderForwarding, HttpVersion, KeyValueStore, Logging, MethodSet, NameRule, Origin, OriginAccess, OriginGroup,
    OriginKind, OriginProtocolPolicy, OriginRequestSettings, PublicKey, ResponseHeadersSettings, Signing, Snapshot,
    Target, TrustedKeys, Unenforced, ViewerProtocolPolicy,
};
use crate::wire;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// A distribution as stored: its identity plus the config the user wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct DistributionResource {
    /// `E…` id.
    pub id: String,
    /// `dXXXX.cloudfront.net`.
    pub domain_name: String,
    /// The configuration.
    pub config: wire::DistributionConfig,
}

/// Every CloudFront resource the edge needs, in wire form.
#[derive(Debug, Clone, Default)]
pub struct Resources {
    /// Distributions.
    pub distributions: Vec<DistributionResource>,
    /// Custom cache policies (managed ones are built in).
    pub cache_policies: Vec<wire::CachePolicy>,
    /// Custom origin request policies.
    pub origin_request_policies: Vec<wire::OriginRequestPolicy>,
    /// Custom response headers policies.
    pub response_headers_policies: Vec<wire::ResponseHeadersPolicy>,
    /// Functions (LIVE stage).
    pub functions: Vec<FunctionCode>,
    /// Key value stores.
    pub key_value_stores: Vec<KeyValueStore>,
    /// Standard logging (v2): delivery sources, destinations and deliveries.
    pub log_deliveries: crate::logging::LogDeliveries,
    /// Public keys for signed URLs and cookies.
    pub public_keys: Vec<wire::PublicKey>,
    /// Key groups (sets of public keys) that behaviors trust.
    pub key_groups: Vec<wire::KeyGroup>,
    /// Origin access controls (how origin requests are signed).
    pub origin_access_controls: Vec<wire::OriginAccessControl>,
}

/// The kinds of resource in a [`Resources`] value that validation reports on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceKind {
    /// A distribution.
    Distribution,
    /// A custom cache policy.
    CachePolicy,
    /// A custom origin request policy.
    OriginRequestPolicy,
    /// A custom response headers policy.
    ResponseHeadersPolicy,
    /// A public key.
    PublicKey,
    /// A key group.
    KeyGroup,
    /// An origin access control.
    OriginAccessControl,
}

impl ResourceKind {
    /// The member holding the resource's configuration, where its diagnostics' paths start
    /// (`DistributionConfig`, `CachePolicyConfig`, …).
    pub fn config_root(self) -> &'static str {
        match self {
            ResourceKind::Distribution => "DistributionConfig",
            ResourceKind::CachePolicy => "CachePolicyConfig",
            ResourceKind::OriginRequestPolicy => "OriginRequestPolicyConfig",
            ResourceKind::ResponseHeadersPolicy => "ResponseHeadersPolicyConfig",
            ResourceKind::PublicKey => "PublicKeyConfig",
            ResourceKind::KeyGroup => "KeyGroupConfig",
            ResourceKind::OriginAccessControl => "OriginAccessControlConfig",
        }
    }
}

/// One resource of a [`Resources`] value: its kind and its position in that kind's list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ResourceRef {
    /// Which list.
    pub kind: ResourceKind,
    /// Position in the list.
    pub index: usize,
}

/// A diagnostic about one resource. Its `path` starts at the resource: the config member
/// (`DistributionConfig.Origins.Items[0].DomainName`) or a member beside it (`DomainName`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceDiagnostic {
    /// The resource at fault.
    pub resource: ResourceRef,
    /// What is wrong, located inside the resource.
    pub diagnostic: Diagnostic,
}

/// JSON paths at which each kind of resource lives, for diagnostics.
#[derive(Debug, Clone)]
pub struct Paths {
    /// Prefix for distribution `i`'s config, e.g. `$.Distributions[{i}].DistributionConfig`.
    pub distribution: fn(usize) -> String,
    /// Prefix for cache policy `i`'s config.
    pub cache_policy: fn(usize) -> String,
    /// Prefix for origin request policy `i`'s config.
    pub origin_request_policy: fn(usize) -> String,
    /// Prefix for response headers policy `i`'s config.
    pub response_headers_policy: fn(usize) -> String,
}

impl Paths {
    /// Paths inside a config file.
    pub fn config_file() -> Self {
        Self {
            distribution: |i| format!("$.Distributions[{i}].DistributionConfig"),
            cache_policy: |i| format!("$.CachePolicies[{i}].CachePolicyConfig"),
            origin_request_policy: |i| format!("$.OriginRequestPolicies[{i}].OriginRequestPolicyConfig"),
            response_headers_policy: |i| format!("$.ResponseHeadersPolicies[{i}].ResponseHeadersPolicyConfig"),
        }
    }

    /// The full path of `relative` (a [`ResourceDiagnostic`] path) inside resource `at`.
    pub fn place(&self, at: ResourceRef, relative: &str) -> String {
        let prefix = match at.kind {
            ResourceKind::Distribution => (self.distribution)(at.index),
            ResourceKind::CachePolicy => (self.cache_policy)(at.index),
            ResourceKind::OriginRequestPolicy => (self.origin_request_policy)(at.index),
            ResourceKind::ResponseHeadersPolicy => (self.response_headers_policy)(at.index),
            ResourceKind::PublicKey => format!("$.PublicKeys[{}].PublicKeyConfig", at.index),
            ResourceKind::KeyGroup => format!("$.KeyGroups[{}].KeyGroupConfig", at.index),
            ResourceKind::OriginAccessControl => {
                format!("$.OriginAccessControls[{}].OriginAccessControlConfig", at.index)
            }
        };
        let root = at.kind.config_root();
        match relative.strip_prefix(root) {
            Some(rest) => format!("{prefix}{rest}"),
            // A member beside the config (a distribution's DomainName).
            None => {
                let outer = prefix.strip_suffix(&format!(".{root}")).unwrap_or(&prefix);
                format!("{outer}.{relative}")
            }
        }
    }
}

/// Builds the snapshot the edge serves. Invalid resources are left out and
/// reported; the caller decides whether errors are fatal.
pub fn build_snapshot(resources: &Resources, paths: &Paths) -> (Snapshot, Diagnostics) {
    let (snapshot, found) = check(resources);
    let mut diags = Diagnostics::new();
    diags.extend(
        found.into_iter().map(|f| Diagnostic { path: paths.place(f.resource, &f.diagnostic.path), ..f.diagnostic }),
    );
    (snapshot, diags)
}

/// Validates every resource and builds the snapshot of the valid ones. Each diagnostic names
/// the resource it is about, with a path inside that resource, in the order found.
pub fn check(resources: &Resources) -> (Snapshot, Vec<ResourceDiagnostic>) {
    let mut found = Vec::new();
    let policies = PolicyIndex::check(resources, &mut found);
    let functions: HashMap<String, Arc<FunctionCode>> =
        resources.functions.iter().map(|f| (f.name.clone(), Arc::new(f.clone()))).collect();
    let private = Private::check(resources, &mut found);

    let mut distributions = Vec::new();
    // Every domain name and alias, by the distribution that claimed it first: a later
    // distribution naming one is the one at fault, whether or not it has other problems.
    let mut seen_hosts: HashMap<String, String> = HashMap::new();
    for (i, res) in resources.distributions.iter().enumerate() {
        let mut diags = Diagnostics::new();
        let path = ResourceKind::Distribution.config_root();
        let aliases = res.config.aliases.as_ref().map_or(&[][..], |a| &a.items[..]);
        let mut duplicate = false;
        for (j, host) in std::iter::once(&res.domain_name).chain(aliases).enumerate() {
            let key = host.to_ascii_lowercase();
            let Some(other) = seen_hosts.get(&key) else {
                seen_hosts.insert(key, res.id.clone());
                continue;
            };
            // DomainName sits beside DistributionConfig, not inside it.
            let at = if j == 0 { "DomainName".to_owned() } else { format!("{path}.Aliases.Items[{}]", j - 1) };
            let message = if *other == res.id {
                format!("{host} is listed twice")
            } else {
                format!("{host} is already used by distribution {other}")
            };
            diags
                .error("CNAMEAlreadyExists", at, message)
                .hint("each domain name and alias may belong to one distribution only");
            duplicate = true;
        }
        if let Some(d) = distribution(res, &policies, &functions, &private, path, &mut diags)
            && !duplicate
        {
            distributions.push(Arc::new(d));
        }
        let resource = ResourceRef { kind: ResourceKind::Distribution, index: i };
        found.extend(diags.into_vec().into_iter().map(|diagnostic| ResourceDiagnostic { resource, diagnostic }));
    }
    let hosts = HostTable::new(distributions.iter().enumerate().map(|(i, d)| {
        let mut names: Vec<&str> = vec![d.domain_name.as_str()];
        names.extend(d.aliases.iter().map(String::as_str));
        (i, names)
    }));
    let key_value_stores = resources.key_value_stores.iter().map(|k| (k.name.clone(), Arc::new(k.clone()))).collect();
    let include_cookies = resources
        .distributions
        .iter()
        .map(|d| (d.id.clone(), d.config.logging.as_ref().is_some_and(|l| l.include_cookies)))
        .collect();
    let log_deliveries = crate::logging::resolve(&resources.log_deliveries, &include_cookies);
    let public_keys = private.keys;
    (Snapshot { distributions, hosts, functions, key_value_stores, public_keys, log_deliveries }, found)
}

/// Public keys, key groups and origin access controls, validated and indexed by id.
pub struct Private {
    keys: HashMap<String, Arc<PublicKey>>,
    groups: HashMap<String, Vec<Arc<PublicKey>>>,
    access_controls: HashMap<String, OriginAccess>,
}

/// Keys one key group may hold (CloudFront's quota).
pub const MAX_KEYS_PER_KEY_GROUP: usize = 5;

impl Private {
    fn check(resources: &Resources, found: &mut Vec<ResourceDiagnostic>) -> Self {
        let mut report = |kind: ResourceKind, index: usize, diags: Diagnostics| {
            let resource = ResourceRef { kind, index };
            found.extend(diags.into_vec().into_iter().map(|diagnostic| ResourceDiagnostic { resource, diagnostic }));
        };
        let mut keys = HashMap::new();
        for (i, k) in resources.public_keys.iter().enumerate() {
            let mut diags = Diagnostics::new();
            if let Some(key) = public_key(k, ResourceKind::PublicKey.config_root(), &mut diags) {
                keys.insert(k.id.clone(), Arc::new(key));
            }
            report(ResourceKind::PublicKey, i, diags);
        }
        let mut groups = HashMap::new();
        for (i, g) in resources.key_groups.iter().enumerate() {
            let mut diags = Diagnostics::new();
            if let Some(members) =
                key_group(&g.key_group_config, &keys, ResourceKind::KeyGroup.config_root(), &mut diags)
            {
                groups.insert(g.id.clone(), members);
            }
            report(ResourceKind::KeyGroup, i, diags);
        }
        let mut access_controls = HashMap::new();
        for (i, o) in resources.origin_access_controls.iter().enumerate() {
            let mut diags = Diagnostics::new();
            let root = ResourceKind::OriginAccessControl.config_root();
            if let Some(signing) = origin_access_control(&o.origin_access_control_config, root, &mut diags) {
                access_controls.insert(
                    o.id.clone(),
                    OriginAccess {
                        id: o.id.clone(),
                        signing,
                        origin_type: o.origin_access_control_config.origin_access_control_origin_type.clone(),
                    },
                );
            }
            report(ResourceKind::OriginAccessControl, i, diags);
        }
        Private { keys, groups, access_controls }
    }
}

/// Validates a public key: a name and an RSA 2048 or ECDSA P-256 key in PEM.
pub fn public_key(k: &wire::PublicKey, path: &str, diags: &mut Diagnostics) -> Option<PublicKey> {
    let cfg = &k.public_key_config;
    if cfg.name.is_empty() || cfg.name.len() > 128 {
        diags.error("InvalidArgument", format!("{path}.Name"), "Name must be 1 to 128 characters");
    }
    if cfg.comment.as_deref().is_some_and(|c| c.len() > 128) {
        diags.error("InvalidArgument", format!("{path}.Comment"), "Comment is longer than 128 characters");
    }
    if cfg.caller_reference.is_empty() {
        diags.error("InvalidArgument", format!("{path}.CallerReference"), "CallerReference must not be empty");
    }
    match crate::keys::parse_public_key(&cfg.encoded_key) {
        Ok((algorithm, key)) => Some(PublicKey { id: k.id.clone(), name: cfg.name.clone(), algorithm, key }),
        Err(e) => {
            diags
                .error("InvalidArgument", format!("{path}.EncodedKey"), e)
                .hint("generate one with `openssl genrsa -out private_key.pem 2048` and upload `openssl rsa -pubout -in private_key.pem`");
            None
        }
    }
}

/// Validates a key group against the public keys that exist; returns its keys.
pub fn key_group(
    cfg: &wire::KeyGroupConfig,
    keys: &HashMap<String, Arc<PublicKey>>,
    path: &str,
    diags: &mut Diagnostics,
) -> Option<Vec<Arc<PublicKey>>> {
    let before = diags.has_errors();
    if cfg.name.is_empty() || cfg.name.len() > 128 {
        diags.error("InvalidArgument", format!("{path}.Name"), "Name must be 1 to 128 characters");
    }
    if cfg.items.is_empty() {
        diags.error("InvalidArgument", format!("{path}.Items"), "a key group needs at least one public key");
    }
    if cfg.items.len() > MAX_KEYS_PER_KEY_GROUP {
        diags
            .error(
                "TooManyPublicKeysInKeyGroup",
                format!("{path}.Items"),
                format!("{} public keys; a key group holds at most {MAX_KEYS_PER_KEY_GROUP}", cfg.items.len()),
            )
            .hint("split the keys over several key groups and trust them all in the behavior");
    }
    let mut members = Vec::new();
    for (i, id) in cfg.items.iter().enumerate() {
        match keys.get(id) {
            Some(k) => members.push(k.clone()),
            None => {
                diags
                    .error("NoSuchPublicKey", format!("{path}.Items[{i}]"), format!("no public key with id \"{id}\""))
                    .hint("create the key first (create-public-key, or PublicKeys in the config file)");
            }
        }
    }
    (before || !diags.has_errors()).then_some(members)
}

/// Validates an origin access control; returns its signing behavior.
pub fn origin_access_control(
    cfg: &wire::OriginAccessControlConfig,
    path: &str,
    diags: &mut Diagnostics,
) -> Option<Signing> {
    let before = diags.has_errors();
    if cfg.name.is_empty() || cfg.name.len() > 64 {
        diags.error("InvalidArgument", format!("{path}.Name"), "Name must be 1 to 64 characters");
    }
    if cfg.signing_protocol != "sigv4" {
        diags.error(
            "InvalidArgument",
            format!("{path}.SigningProtocol"),
            format!("unknown SigningProtocol \"{}\"; the only one is sigv4", cfg.signing_protocol),
        );
    }
    let signing = match cfg.signing_behavior.as_str() {
        "never" => Signing::Never,
        "always" => Signing::Always,
        "no-override" => Signing::NoOverride,
        other => {
            diags
                .error(
                    "InvalidArgument",
                    format!("{path}.SigningBehavior"),
                    format!("unknown SigningBehavior \"{other}\""),
                )
                .hint("expected never, always or no-override");
            Signing::Never
        }
    };
    let origin_type = cfg.origin_access_control_origin_type.as_str();
    if !["s3", "mediastore", "mediapackagev2", "lambda"].contains(&origin_type) {
        diags
            .error(
                "InvalidArgument",
                format!("{path}.OriginAccessControlOriginType"),
                format!("unknown OriginAccessControlOriginType \"{origin_type}\""),
            )
            .hint("expected s3, mediastore, mediapackagev2 or lambda");
    }
    (before || !diags.has_errors()).then_some(signing)
}

/// Resolved policies by id, managed ones included.
pub struct PolicyIndex {
    cache: HashMap<String, Arc<CacheSettings>>,
    origin_request: HashMap<String, Arc<OriginRequestSettings>>,
    response_headers: HashMap<String, Arc<ResponseHeadersSettings>>,
}

impl PolicyIndex {
    /// Validates and indexes every policy in `resources` plus the managed ones.
    pub fn build(resources: &Resources, paths: &Paths, diags: &mut Diagnostics) -> Self {
        let mut found = Vec::new();
        let index = Self::check(resources, &mut found);
        diags.extend(
            found.into_iter().map(|f| Diagnostic { path: paths.place(f.resource, &f.diagnostic.path), ..f.diagnostic }),
        );
        index
    }

    /// [`PolicyIndex::build`] with each diagnostic naming its policy.
    fn check(resources: &Resources, found: &mut Vec<ResourceDiagnostic>) -> Self {
        let mut report = |kind: ResourceKind, index: usize, diags: Diagnostics| {
            let resource = ResourceRef { kind, index };
            found.extend(diags.into_vec().into_iter().map(|diagnostic| ResourceDiagnostic { resource, diagnostic }));
        };
        let mut cache = HashMap::new();
        for p in managed::cache_policies() {
            if let Some(s) = cache_policy(&p.cache_policy_config, "managed", &mut Diagnostics::new()) {
                cache.insert(p.id, Arc::new(s));
            }
        }
        for (i, p) in resources.cache_policies.iter().enumerate() {
            let kind = ResourceKind::CachePolicy;
            let mut diags = Diagnostics::new();
            if let Some(s) = cache_policy(&p.cache_policy_config, kind.config_root(), &mut diags) {
                cache.insert(p.id.clone(), Arc::new(s));
            }
            report(kind, i, diags);
        }
        let mut origin_request = HashMap::new();
        for p in managed::origin_request_policies() {
            if let Some(s) = origin_request_policy(&p.origin_request_policy_config, "managed", &mut Diagnostics::new())
            {
                origin_request.insert(p.id, Arc::new(s));
            }
        }
        for (i, p) in resources.origin_request_policies.iter().enumerate() {
            let kind = ResourceKind::OriginRequestPolicy;
            let mut diags = Diagnostics::new();
            if let Some(s) = origin_request_policy(&p.origin_request_policy_config, kind.config_root(), &mut diags) {
                origin_request.insert(p.id.clone(), Arc::new(s));
            }
            report(kind, i, diags);
        }
        let mut response_headers = HashMap::new();
        for p in managed::response_headers_policies() {
            if let Some(s) =
                response_headers_policy(&p.id, &p.response_headers_policy_config, "managed", &mut Diagnostics::new())
            {
                response_headers.insert(p.id, Arc::new(s));
            }
        }
        for (i, p) in resources.response_headers_policies.iter().enumerate() {
            let kind = ResourceKind::ResponseHeadersPolicy;
            let mut diags = Diagnostics::new();
            if let Some(s) =
                response_headers_policy(&p.id, &p.response_headers_policy_config, kind.config_root(), &mut diags)
            {
                response_headers.insert(p.id.clone(), Arc::new(s));
            }
            report(kind, i, diags);
        }
        Self { cache, origin_request, response_headers }
    }
}

// ---------------------------------------------------------------------------
// Policies
// ---------------------------------------------------------------------------

const MAX_NAMES_PER_LIST: usize = 10;

fn check_quantity<T>(list: &wire::Listed<T>, path: &str, diags: &mut Diagnostics) {
    if list.quantity != list.items.len() as i64 {
        diags
            .error(
                "InconsistentQuantities",
                format!("{path}.Quantity"),
                format!("Quantity is {} but Items has {} entries", list.quantity, list.items.len()),
            )
            .hint("set Quantity to the number of Items");
    }
}

fn names_of(list: Option<&wire::Listed<String>>, path: &str, diags: &mut Diagnostics) -> Vec<String> {
    let Some(list) = list else { return Vec::new() };
    check_quantity(list, path, diags);
    for (i, n) in list.items.iter().enumerate() {
        if n.is_empty() {
            diags.error("InvalidArgument", format!("{path}.Items[{i}]"), "empty name");
        }
    }
    list.items.clone()
}

/// Resolves a name-list behavior (`none|whitelist|allExcept|all`) into a rule.
fn name_rule(
    behavior: &str,
    list: Option<&wire::Listed<String>>,
    allowed: &[&str],
    path: &str,
    list_field: &str,
    too_many_code: &str,
    diags: &mut Diagnostics,
) -> Option<NameRule> {
    // The list is the behavior field's sibling: `…CookiesConfig.CookieBehavior` → `…CookiesConfig.Cookies`.
    let list_path = match path.rsplit_once('.') {
        Some((parent, _)) => format!("{parent}.{list_field}"),
        None => list_field.to_owned(),
    };
    let names = names_of(list, &list_path, diags);
    if names.len() > MAX_NAMES_PER_LIST {
        diags
            .error(
                too_many_code,
                list_path.clone(),
                format!("{} names given; the quota is {MAX_NAMES_PER_LIST}", names.len()),
            )
            .hint("key or forward only the names the origin really varies on");
    }
    let behavior_field = path.rsplit('.').next().unwrap_or(path);
    let rule = match behavior {
        "none" => NameRule::None,
        "all" => NameRule::All,
        "whitelist" => NameRule::Only(names.clone()),
        "allExcept" => NameRule::AllExcept(names.clone()),
        other => {
            diags
                .error("InvalidArgument", path.to_owned(), format!("unknown behavior \"{other}\" in {behavior_field}"))
                .hint(format!("expected one of: {}", allowed.join(", ")));
            return None;
        }
    };
    if !allowed.contains(&behavior) {
        diags
            .error("InvalidArgument", path.to_owned(), format!("\"{behavior}\" is not allowed here"))
            .hint(format!("expected one of: {}", allowed.join(", ")));
        return None;
    }
    match (&rule, names.is_empty()) {
        (NameRule::Only(_) | NameRule::AllExcept(_), true) => {
            diags
                .error("InvalidArgument", list_path, format!("\"{behavior}\" needs at least one name"))
                .hint("list the names, or use \"none\"");
        }
        (NameRule::None | NameRule::All, false) => {
            diags.warning("ignored-names", list_path, format!("names are ignored when the behavior is \"{behavior}\""));
        }
        _ => {}
    }
    Some(rule)
}

/// Validates a cache policy config into key and TTL settings.
pub fn cache_policy(cfg: &wire::CachePolicyConfig, path: &str, diags: &mut Diagnostics) -> Option<CacheSettings> {
    let before = diags.has_errors();
    let mut failed = false;
    if cfg.name.is_empty() || cfg.name.len() > 128 {
        diags.error("InvalidArgument", format!("{path}.Name"), "Name must be 1 to 128 characters");
    }
    if cfg.comment.as_deref().is_some_and(|c| c.len() > 128) {
        diags.error("InvalidArgument", format!("{path}.Comment"), "Comment is longer than 128 characters");
    }
    let (min, default, max) = ttls(cfg.min_ttl, cfg.default_ttl, cfg.max_ttl, path, "InvalidArgument", diags)?;
    let Some(params) = &cfg.parameters_in_cache_key_and_forwarded_to_origin else {
        diags
            .error("InvalidArgument", format!("{path}.ParametersInCacheKeyAndForwardedToOrigin"), "missing")
            .hint("give EnableAcceptEncodingGzip, HeadersConfig, CookiesConfig and QueryStringsConfig");
        return None;
    };
    let p = format!("{path}.ParametersInCacheKeyAndForwardedToOrigin");
    let headers = name_rule(
        &params.headers_config.header_behavior,
        params.headers_config.headers.as_ref(),
        &["none", "whitelist"],
        &format!("{p}.HeadersConfig.HeaderBehavior"),
        "Headers",
        "TooManyHeadersInCachePolicy",
        diags,
    );
    let cookies = name_rule(
        &params.cookies_config.cookie_behavior,
        params.cookies_config.cookies.as_ref(),
        &["none", "whitelist", "allExcept", "all"],
        &format!("{p}.CookiesConfig.CookieBehavior"),
        "Cookies",
        "TooManyCookiesInCachePolicy",
        diags,
    );
    let query = name_rule(
        &params.query_strings_config.query_string_behavior,
        params.query_strings_config.query_strings.as_ref(),
        &["none", "whitelist", "allExcept", "all"],
        &format!("{p}.QueryStringsConfig.QueryStringBehavior"),
        "QueryStrings",
        "TooManyQueryStringsInCachePolicy",
        diags,
    );
    let (Some(headers), Some(cookies), Some(query)) = (headers, cookies, query) else {
        return None;
    };
    let headers = lower_rule(headers);
    let gzip = params.enable_accept_encoding_gzip;
    let brotli = params.enable_accept_encoding_brotli.unwrap_or(false);
    if max == 0 {
        // CloudFront rejects keyed values on a policy that caches nothing.
        for (what, keyed) in [
            ("HeadersConfig", !headers.is_none()),
            ("CookiesConfig", !cookies.is_none()),
            ("QueryStringsConfig", !query.is_none()),
            ("EnableAcceptEncodingGzip", gzip),
            ("EnableAcceptEncodingBrotli", brotli),
        ] {
            if keyed {
                failed = true;
                diags
                    .error("InvalidArgument", format!("{p}.{what}"), format!("{what} is invalid for a policy with caching disabled (MaxTTL 0)"))
                    .hint("with MaxTTL 0 nothing is cached, so nothing may be keyed; use an origin request policy to forward values");
            }
        }
    }
    if let NameRule::Only(names) = &headers
        && names.iter().any(|n| n == "accept-encoding")
    {
        diags
            .warning(
                "accept-encoding-keyed",
                format!("{p}.HeadersConfig.Headers"),
                "Accept-Encoding keyed as a raw header disables edge compression",
            )
            .hint("set EnableAcceptEncodingGzip / EnableAcceptEncodingBrotli instead");
    }
    if failed || (!before && diags.has_errors()) {
        return None;
    }
    Some(CacheSettings {
        min_ttl: min,
        default_ttl: default,
        max_ttl: max,
        query_strings: query,
        headers,
        cookies,
        accept_encoding_gzip: gzip,
        accept_encoding_brotli: brotli,
        forward_all_headers: false,
        legacy_forward_query: NameRule::None,
    })
}

/// Applies CloudFront's TTL defaults and checks their order.
fn ttls(
    min: i64,
    default: Option<i64>,
    max: Option<i64>,
    path: &str,
    order_code: &str,
    diags: &mut Diagnostics,
) -> Option<(u64, u64, u64)> {
    const DAY: i64 = 86_400;
    const YEAR: i64 = 31_536_000;
    let mut ok = true;
    for (name, v) in [("MinTTL", Some(min)), ("DefaultTTL", default), ("MaxTTL", max)] {
        if let Some(v) = v {
            if v < 0 {
                diags.error("InvalidArgument", format!("{path}.{name}"), format!("{name} must not be negative"));
                ok = false;
            } else if v > 100 * 365 * DAY {
                diags.error("InvalidArgument", format!("{path}.{name}"), format!("{name} is longer than 100 years"));
                ok = false;
            }
        }
    }
    if !ok {
        return None;
    }
    let default = default.unwrap_or(if min > DAY { min } else { DAY });
    let max = max.unwrap_or(if default > YEAR { default } else { YEAR });
    if !(min <= default && default <= max) {
        diags
            .error(
                order_code,
                path.to_owned(),
                format!("TTLs must satisfy MinTTL ≤ DefaultTTL ≤ MaxTTL (got {min} / {default} / {max})"),
            )
            .hint("raise MaxTTL or lower MinTTL so the three are in order");
        return None;
    }
    Some((min as u64, default as u64, max as u64))
}

fn lower_rule(rule: NameRule) -> NameRule {
    let lower = |v: Vec<String>| v.into_iter().map(|s| s.to_ascii_lowercase()).collect();
    match rule {
        NameRule::Only(v) => NameRule::Only(lower(v)),
        NameRule::AllExcept(v) => NameRule::AllExcept(lower(v)),
        other => other,
    }
}

/// Validates an origin request policy config.
pub fn origin_request_policy(
    cfg: &wire::OriginRequestPolicyConfig,
    path: &str,
    diags: &mut Diagnostics,
) -> Option<OriginRequestSettings> {
    let before = diags.has_errors();
    if cfg.name.is_empty() || cfg.name.len() > 128 {
        diags.error("InvalidArgument", format!("{path}.Name"), "Name must be 1 to 128 characters");
    }
    let hpath = format!("{path}.HeadersConfig");
    let names = names_of(cfg.headers_config.headers.as_ref(), &format!("{hpath}.Headers"), diags);
    let lower: Vec<String> = names.iter().map(|n| n.to_ascii_lowercase()).collect();
    if lower.len() > MAX_NAMES_PER_LIST {
        diags.error(
            "TooManyHeadersInOriginRequestPolicy",
            format!("{hpath}.Headers"),
            format!("{} headers; the quota is {MAX_NAMES_PER_LIST}", lower.len()),
        );
    }
    let headers = match cfg.headers_config.header_behavior.as_str() {
        "none" => HeaderForwarding::None,
        "whitelist" => {
            if lower.iter().any(|n| n == "authorization") {
                diags
                    .error(
                        "InvalidArgument",
                        format!("{hpath}.Headers"),
                        "Authorization cannot be forwarded by an origin request policy whitelist",
                    )
                    .hint("put Authorization in the cache policy's key, or use the allViewer header behavior");
            }
            HeaderForwarding::Only(lower)
        }
        "allExcept" => HeaderForwarding::AllExcept(lower),
        "allViewer" => HeaderForwarding::AllViewer,
        "allViewerAndWhitelistCloudFront" => {
            for (i, n) in lower.iter().enumerate() {
                if !n.starts_with("cloudfront-") {
                    diags.error(
                        "InvalidArgument",
                        format!("{hpath}.Headers.Items[{i}]"),
                        format!("{n} is not a CloudFront header; allViewerAndWhitelistCloudFront lists only CloudFront-* headers"),
                    );
                }
            }
            HeaderForwarding::AllViewerAndCloudFront(lower)
        }
        other => {
            diags
                .error(
                    "InvalidArgument",
                    format!("{hpath}.HeaderBehavior"),
                    format!("unknown header behavior \"{other}\""),
                )
                .hint("expected one of: none, whitelist, allViewer, allViewerAndWhitelistCloudFront, allExcept");
            return None;
        }
    };
    let cookies = name_rule(
        &cfg.cookies_config.cookie_behavior,
        cfg.cookies_config.cookies.as_ref(),
        &["none", "whitelist", "all", "allExcept"],
        &format!("{path}.CookiesConfig.CookieBehavior"),
        "Cookies",
        "TooManyCookiesInOriginRequestPolicy",
        diags,
    )?;
    let query = name_rule(
        &cfg.query_strings_config.query_string_behavior,
        cfg.query_strings_config.query_strings.as_ref(),
        &["none", "whitelist", "all", "allExcept"],
        &format!("{path}.QueryStringsConfig.QueryStringBehavior"),
        "QueryStrings",
        "TooManyQueryStringsInOriginRequestPolicy",
        diags,
    )?;
    if !before && diags.has_errors() {
        return None;
    }
    Some(OriginRequestSettings { headers, cookies, query_strings: query })
}

/// Validates a response headers policy config.
pub fn response_headers_policy(
    id: &str,
    cfg: &wire::ResponseHeadersPolicyConfig,
    path: &str,
    diags: &mut Diagnostics,
) -> Option<ResponseHeadersSettings> {
    let before = diags.has_errors();
    if cfg.name.is_empty() || cfg.name.len() > 128 {
        diags.error("InvalidArgument", format!("{path}.Name"), "Name must be 1 to 128 characters");
    }
    let mut out = ResponseHeadersSettings { id: id.to_owned(), ..Default::default() };
    if let Some(sec) = &cfg.security_headers_config {
        if let Some(x) = &sec.xss_protection {
            let mut v = if x.protection { "1".to_owned() } else { "0".to_owned() };
            if x.protection && x.mode_block == Some(true) {
                v.push_str("; mode=block");
            }
            if let Some(uri) = x.report_uri.as_deref().filter(|u| !u.is_empty()) {
                if x.mode_block == Some(true) {
                    diags.error(
                        "InvalidArgument",
                        format!("{path}.SecurityHeadersConfig.XSSProtection"),
                        "ModeBlock and ReportUri cannot both be set",
                    );
                }
                v.push_str(&format!("; report={uri}"));
            }
            out.set.push(("X-XSS-Protection".into(), v, x.r#override));
        }
        if let Some(f) = &sec.frame_options {
            if f.frame_option != "DENY" && f.frame_option != "SAMEORIGIN" {
                diags.error(
                    "InvalidArgument",
                    format!("{path}.SecurityHeadersConfig.FrameOptions.FrameOption"),
                    "FrameOption must be DENY or SAMEORIGIN",
                );
            }
            out.set.push(("X-Frame-Options".into(), f.frame_option.clone(), f.r#override));
        }
        if let Some(r) = &sec.referrer_policy {
            out.set.push(("Referrer-Policy".into(), r.referrer_policy.clone(), r.r#override));
        }
        if let Some(c) = &sec.content_security_policy {
            out.set.push(("Content-Security-Policy".into(), c.content_security_policy.clone(), c.r#override));
        }
        if let Some(c) = &sec.content_type_options {
            out.set.push(("X-Content-Type-Options".into(), "nosniff".into(), c.r#override));
        }
        if let Some(h) = &sec.strict_transport_security {
            let mut v = format!("max-age={}", h.access_control_max_age_sec);
            if h.include_subdomains == Some(true) {
                v.push_str("; includeSubDomains");
            }
            if h.preload == Some(true) {
                v.push_str("; preload");
            }
            out.set.push(("Strict-Transport-Security".into(), v, h.r#override));
        }
    }
    if let Some(custom) = &cfg.custom_headers_config {
        check_quantity(custom, &format!("{path}.CustomHeadersConfig"), diags);
        for h in &custom.items {
            out.set.push((h.header.clone(), h.value.clone(), h.r#override));
        }
    }
    if let Some(remove) = &cfg.remove_headers_config {
        check_quantity(remove, &format!("{path}.RemoveHeadersConfig"), diags);
        out.remove = remove.items.iter().map(|h| h.header.to_ascii_lowercase()).collect();
    }
    if let Some(cors) = &cfg.cors_config {
        let p = format!("{path}.CorsConfig");
        check_quantity(&cors.access_control_allow_origins, &format!("{p}.AccessControlAllowOrigins"), diags);
        check_quantity(&cors.access_control_allow_headers, &format!("{p}.AccessControlAllowHeaders"), diags);
        check_quantity(&cors.access_control_allow_methods, &format!("{p}.AccessControlAllowMethods"), diags);
        out.cors = Some(CorsSettings {
            allow_origins: cors.access_control_allow_origins.items.clone(),
            allow_headers: cors.access_control_allow_headers.items.clone(),
            allow_methods: cors.access_control_allow_methods.items.clone(),
            allow_credentials: cors.access_control_allow_credentials,
            expose_headers: cors.access_control_expose_headers.as_ref().map(|l| l.items.clone()).unwrap_or_default(),
            max_age_secs: cors.access_control_max_age_sec,
            origin_override: cors.origin_override,
        });
    }
    if let Some(st) = &cfg.server_timing_headers_config
        && st.enabled
    {
        let rate = match &st.sampling_rate {
            Some(serde_json::Value::Number(n)) => n.as_f64(),
            Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
            None => Some(0.0),
            _ => None,
        };
        match rate {
            Some(r) if (0.0..=100.0).contains(&r) => out.server_timing_sampling = Some(r),
            _ => {
                diags.error(
                    "InvalidArgument",
                    format!("{path}.ServerTimingHeadersConfig.SamplingRate"),
                    "SamplingRate must be a number from 0 to 100",
                );
            }
        }
    }
    if !before && diags.has_errors() {
        return None;
    }
    Some(out)
}

// ---------------------------------------------------------------------------
// Distributions
// ---------------------------------------------------------------------------

const FORBIDDEN_ORIGIN_HEADERS: &[&str] = &[
    "cache-control",
    "connection",
    "content-length",
    "cookie",
    "host",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "if-range",
    "if-unmodified-since",
    "max-forwards",
    "pragma",
    "proxy-authorization",
    "proxy-connection",
    "range",
    "request-range",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "via",
    "x-real-ip",
];

/// The bucket name of an S3 REST or website endpoint host name.
pub fn s3_bucket_of(domain: &str) -> Option<&str> {
    let lower = domain.to_ascii_lowercase();
    for marker in [".s3.", ".s3-"] {
        if let Some(i) = lower.find(marker)
            && (lower.ends_with(".amazonaws.com") || lower.ends_with(".amazonaws.com.cn"))
        {
            return Some(&domain[..i]);
        }
    }
    None
}

fn distribution(
    res: &DistributionResource,
    policies: &PolicyIndex,
    functions: &HashMap<String, Arc<FunctionCode>>,
    private: &Private,
    path: &str,
    diags: &mut Diagnostics,
) -> Option<Distribution> {
    let errors_before = diags.items().iter().filter(|d| d.severity == crate::diag::Severity::Error).count();
    let cfg = &res.config;
    if cfg.caller_reference.is_empty() {
        diags.error("InvalidArgument", format!("{path}.CallerReference"), "CallerReference must not be empty");
    }

    let aliases = match &cfg.aliases {
        Some(list) => {
            check_quantity(list, &format!("{path}.Aliases"), diags);
            list.items.clone()
        }
        None => Vec::new(),
    };

    if let Some(root) = &cfg.default_root_object
        && (root.starts_with('/') || root.len() > 255)
    {
        diags
            .error(
                "InvalidDefaultRootObject",
                format!("{path}.DefaultRootObject"),
                "DefaultRootObject must be an object name without a leading /, at most 255 characters",
            )
            .hint("write \"index.html\", not \"/index.html\"");
    }

    // Origins.
    let opath = format!("{path}.Origins");
    check_quantity(&cfg.origins, &opath, diags);
    if cfg.origins.items.is_empty() {
        diags.error("InvalidArgument", opath.clone(), "a distribution needs at least one origin");
    }
    let mut origins = Vec::new();
    let mut origin_index: HashMap<&str, usize> = HashMap::new();
    for (i, o) in cfg.origins.items.iter().enumerate() {
        let p = format!("{opath}.Items[{i}]");
        if origin_index.insert(o.id.as_str(), i).is_some() {
            diags.error("InvalidArgument", format!("{p}.Id"), format!("origin id \"{}\" is used twice", o.id));
        }
        origins.push(Arc::new(origin(o, &private.access_controls, &p, diags)));
    }

    // Origin groups.
    let mut groups = Vec::new();
    let mut group_index: HashMap<&str, usize> = HashMap::new();
    if let Some(list) = &cfg.origin_groups {
        let gpath = format!("{path}.OriginGroups");
        check_quantity(list, &gpath, diags);
        for (i, g) in list.items.iter().enumerate() {
            let p = format!("{gpath}.Items[{i}]");
            if origin_index.contains_key(g.id.as_str()) || group_index.insert(g.id.as_str(), i).is_some() {
                diags.error(
                    "InvalidArgument",
                    format!("{p}.Id"),
                    format!("origin group id \"{}\" is already used", g.id),
                );
            }
            check_quantity(&g.members, &format!("{p}.Members"), diags);
            if g.members.items.len() != 2 {
                diags.error("InvalidArgument", format!("{p}.Members"), "an origin group has exactly two members");
            }
            let member = |k: usize, diags: &mut Diagnostics| -> usize {
                let id = g.members.items.get(k).map(|m| m.origin_id.as_str()).unwrap_or("");
                match origin_index.get(id) {
                    Some(ix) => *ix,
                    None => {
                        diags.error(
                            "NoSuchOrigin",
                            format!("{p}.Members.Items[{k}].OriginId"),
                            format!("no origin with id \"{id}\""),
                        );
                        0
                    }
                }
            };
            let primary = member(0, diags);
            let secondary = member(1, diags);
            let codes = &g.failover_criteria.status_codes;
            if codes.quantity != codes.items.len() as i64 {
                diags.error(
                    "InconsistentQuantities",
                    format!("{p}.FailoverCriteria.StatusCodes.Quantity"),
                    "Quantity does not match Items",
                );
            }
            let mut statuses = Vec::new();
            for (k, c) in codes.items.iter().enumerate() {
                if [400, 403, 404, 416, 500, 502, 503, 504].contains(c) {
                    statuses.push(*c as u16);
                } else {
                    diags
                        .error(
                            "InvalidArgument",
                            format!("{p}.FailoverCriteria.StatusCodes.Items[{k}]"),
                            format!("{c} cannot trigger failover"),
                        )
                        .hint("allowed: 400, 403, 404, 416, 500, 502, 503, 504");
                }
            }
            groups.push(OriginGroup { id: g.id.clone(), primary, secondary, failover_statuses: statuses });
        }
    }

    // Behaviors.
    let mut behaviors = Vec::new();
    let ctx = BehaviorCtx {
        policies,
        functions,
        private,
        origin_index: &origin_index,
        group_index: &group_index,
        origins: &origins,
    };
    if let Some(list) = &cfg.cache_behaviors {
        let bpath = format!("{path}.CacheBehaviors");
        check_quantity(list, &bpath, diags);
        let mut patterns = HashSet::new();
        for (i, b) in list.items.iter().enumerate() {
            let p = format!("{bpath}.Items[{i}]");
            match &b.path_pattern {
                None => {
                    diags.error("InvalidArgument", format!("{p}.PathPattern"), "PathPattern is required");
                }
                Some(pattern) => {
                    check_path_pattern(pattern, &format!("{p}.PathPattern"), diags);
                    let norm = pattern.trim_start_matches('/');
                    if !patterns.insert(norm.to_owned()) {
                        diags.error(
                            "InvalidArgument",
                            format!("{p}.PathPattern"),
                            format!("path pattern \"{pattern}\" is used twice"),
                        );
                    }
                }
            }
            if let Some(beh) = behavior(b, false, &ctx, &p, diags) {
                behaviors.push(Arc::new(beh));
            }
        }
    }
    let dpath = format!("{path}.DefaultCacheBehavior");
    if cfg.default_cache_behavior.path_pattern.is_some() {
        diags.warning(
            "ignored-field",
            format!("{dpath}.PathPattern"),
            "the default behavior always matches *; PathPattern is ignored",
        );
    }
    let default = behavior(&cfg.default_cache_behavior, true, &ctx, &dpath, diags);
    behaviors.extend(default.map(Arc::new));

    // Custom error responses.
    let mut custom_error_responses = HashMap::new();
    if let Some(list) = &cfg.custom_error_responses {
        let epath = format!("{path}.CustomErrorResponses");
        check_quantity(list, &epath, diags);
        for (i, e) in list.items.iter().enumerate() {
            let p = format!("{epath}.Items[{i}]");
            const ERROR_CODES: &[i64] = &[400, 403, 404, 405, 414, 416, 500, 501, 502, 503, 504];
            if !ERROR_CODES.contains(&e.error_code) {
                diags
                    .error(
                        "InvalidErrorCode",
                        format!("{p}.ErrorCode"),
                        format!("{} is not a supported error code", e.error_code),
                    )
                    .hint("allowed: 400, 403, 404, 405, 414, 416, 500, 501, 502, 503, 504");
                continue;
            }
            let response_code = match e.response_code.as_deref().filter(|s| !s.is_empty()) {
                None => None,
                Some(s) => match s.parse::<u16>() {
                    Ok(c) if c == 200 || [400, 403, 404, 405, 414, 416, 500, 501, 502, 503, 504].contains(&c) => {
                        Some(c)
                    }
                    _ => {
                        diags.error(
                            "InvalidResponseCode",
                            format!("{p}.ResponseCode"),
                            format!("\"{s}\" is not an allowed response code"),
                        );
                        None
                    }
                },
            };
            let page = e.response_page_path.clone().filter(|s| !s.is_empty());
            if let Some(pp) = &page
                && !pp.starts_with('/')
            {
                diags.error(
                    "InvalidRelativePath",
                    format!("{p}.ResponsePagePath"),
                    "ResponsePagePath must start with /",
                );
            }
            // An invalid ResponseCode is reported above; only a missing one breaks the pair.
            let response_code_given = e.response_code.as_deref().is_some_and(|s| !s.is_empty());
            if page.is_some() != response_code_given {
                diags
                    .error("InvalidArgument", p.clone(), "ResponsePagePath and ResponseCode must be given together")
                    .hint("set both to replace the error page, or neither to only set ErrorCachingMinTTL");
            }
            if e.error_caching_min_ttl.is_some_and(|t| t < 0) {
                diags.error("InvalidArgument", format!("{p}.ErrorCachingMinTTL"), "must not be negative");
            }
            custom_error_responses.insert(
                e.error_code as u16,
                CustomErrorResponse {
                    error_code: e.error_code as u16,
                    response_page_path: page,
                    response_code,
                    error_caching_min_ttl: e.error_caching_min_ttl.map(|t| t.max(0) as u64),
                },
            );
        }
    }

    let logging = match &cfg.logging {
        Some(l) if l.enabled => match s3_bucket_of(&l.bucket) {
            Some(bucket) => Some(Logging {
                bucket: bucket.to_owned(),
                prefix: if l.prefix.is_empty() || l.prefix.ends_with('/') {
                    l.prefix.clone()
                } else {
                    format!("{}/", l.prefix)
                },
                include_cookies: l.include_cookies,
            }),
            None => {
                diags
                    .error(
                        "InvalidArgument",
                        format!("{path}.Logging.Bucket"),
                        format!("\"{}\" is not an S3 bucket domain", l.bucket),
                    )
                    .hint("write it as <bucket>.s3.amazonaws.com and map <bucket> to a folder under Buckets");
                None
            }
        },
        _ => None,
    };

    let http_version = match cfg.http_version.as_deref() {
        None | Some("http2") => HttpVersion::Http2,
        Some("http1.1") => HttpVersion::Http1_1,
        Some("http3") => HttpVersion::Http3,
        Some("http2and3") => HttpVersion::Http2And3,
        Some(other) => {
            diags
                .error("InvalidArgument", format!("{path}.HttpVersion"), format!("unknown HttpVersion \"{other}\""))
                .hint("expected http1.1, http2, http3 or http2and3");
            HttpVersion::Http2
        }
    };
    if let Some(pc) = cfg.price_class.as_deref()
        && !["PriceClass_100", "PriceClass_200", "PriceClass_All", "None"].contains(&pc)
    {
        diags.error("InvalidArgument", format!("{path}.PriceClass"), format!("unknown PriceClass \"{pc}\""));
    }
    viewer_certificate(cfg.viewer_certificate.as_ref(), !aliases.is_empty(), path, diags);
    if cfg.continuous_deployment_policy_id.as_deref().is_some_and(|s| !s.is_empty()) {
        diags.warning(
            "not-supported",
            format!("{path}.ContinuousDeploymentPolicyId"),
            "ContinuousDeploymentPolicyId is kept but not acted on by Cachalot",
        );
    }
    let geo_restriction =
        cfg.restrictions.as_ref().and_then(|r| geo_restriction(r, &format!("{path}.Restrictions"), diags));
    let mut unenforced = Vec::new();
    if let Some(acl) = cfg.web_acl_id.as_deref().filter(|s| !s.is_empty()) {
        unenforced.push(Unenforced { field: "WebACLId", what: format!("AWS WAF web ACL {acl}") });
        diags
            .warning(
                "unenforced-protection",
                format!("{path}.WebACLId"),
                format!("the edge does not run the AWS WAF web ACL {acl}"),
            )
            .hint("requests are refused unless the node config sets \"UnenforcedProtections\": \"serve\"");
    }

    let errors_after = diags.items().iter().filter(|d| d.severity == crate::diag::Severity::Error).count();
    if errors_after > errors_before || behaviors.last().is_none_or(|b| !b.is_default) {
        return None;
    }
    Some(Distribution {
        id: res.id.clone(),
        domain_name: res.domain_name.clone(),
        aliases,
        enabled: cfg.enabled,
        default_root_object: cfg.default_root_object.clone().filter(|s| !s.is_empty()),
        origins,
        origin_groups: groups,
        behaviors,
        custom_error_responses,
        logging,
        http_version,
        cache_tag_header: cfg.cache_tag_config.as_ref().map(|c| c.header_name.to_ascii_lowercase()),
        geo_restriction,
        unenforced,
    })
}

/// The certificate rules CloudFront applies to `ViewerCertificate`
/// (<https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_ViewerCertificate.html>):
/// aliases need a certificate of their own, an ACM certificate must be in us-east-1, and
/// SSLv3 is refused with SNI.
fn viewer_certificate(cert: Option<&serde_json::Value>, has_aliases: bool, path: &str, diags: &mut Diagnostics) {
    let text =
        |name: &str| cert.and_then(|c| c.get(name)).and_then(serde_json::Value::as_str).filter(|s| !s.is_empty());
    let default_certificate = cert
        .and_then(|c| c.get("CloudFrontDefaultCertificate"))
        .is_none_or(|v| v.as_bool().or_else(|| v.as_str().map(|s| s == "true")).unwrap_or(false));
    let acm = text("ACMCertificateArn");
    let own_certificate = acm.is_some() || text("IAMCertificateId").is_some();
    let vpath = format!("{path}.ViewerCertificate");
    if has_aliases && !own_certificate {
        diags
            .error(
                "InvalidViewerCertificate",
                vpath.clone(),
                "a distribution with Aliases needs a certificate covering them; the default certificate covers only *.cloudfront.net",
            )
            .hint("set ACMCertificateArn to a us-east-1 certificate for every alias, with SSLSupportMethod sni-only");
    }
    if own_certificate && cert.and_then(|c| c.get("CloudFrontDefaultCertificate")).is_some() && default_certificate {
        diags
            .error(
                "InvalidViewerCertificate",
                format!("{vpath}.CloudFrontDefaultCertificate"),
                "CloudFrontDefaultCertificate cannot be true together with a certificate of your own",
            )
            .hint("remove CloudFrontDefaultCertificate or set it to false");
    }
    if let Some(arn) = acm {
        match acm_region(arn) {
            Some("us-east-1") => {}
            Some(region) => {
                diags
                    .error(
                        "InvalidViewerCertificate",
                        format!("{vpath}.ACMCertificateArn"),
                        format!("the certificate is in {region}; CloudFront uses ACM certificates from us-east-1 only"),
                    )
                    .hint("request or import the certificate in US East (N. Virginia), us-east-1");
            }
            None => {
                diags
                    .error(
                        "InvalidViewerCertificate",
                        format!("{vpath}.ACMCertificateArn"),
                        format!("\"{arn}\" is not an ACM certificate ARN"),
                    )
                    .hint("write arn:aws:acm:us-east-1:<account>:certificate/<id>");
            }
        }
    }
    if own_certificate
        && text("MinimumProtocolVersion") == Some("SSLv3")
        && text("SSLSupportMethod") == Some("sni-only")
    {
        diags
            .error(
                "InvalidMinimumProtocolVersion",
                format!("{vpath}.MinimumProtocolVersion"),
                "SSLv3 is not accepted with SSLSupportMethod sni-only; SNI needs TLSv1 or later",
            )
            .hint("choose a TLS security policy such as TLSv1.2_2021");
    }
}

/// The region of `arn:aws:acm:<region>:<account>:certificate/<id>`.
fn acm_region(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    let (arn_, partition, service, region, account, resource) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let ok = arn_ == "arn"
        && partition.starts_with("aws")
        && service == "acm"
        && !region.is_empty()
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && resource.strip_prefix("certificate/").is_some_and(|id| !id.is_empty());
    ok.then_some(region)
}

/// Checks CloudFront's API makes on a distribution that a config file is exempt from: a
/// config file may address origins by IP (`serve --origin http://127.0.0.1:8000`, local
/// servers), the API refuses an IP address as an origin's domain name.
pub fn distribution_request(cfg: &wire::DistributionConfig, path: &str, diags: &mut Diagnostics) {
    for (i, o) in cfg.origins.items.iter().enumerate() {
        let host = o.domain_name.trim_start_matches('[').trim_end_matches(']');
        if host.parse::<std::net::IpAddr>().is_ok() {
            diags
                .error(
                    "InvalidArgument",
                    format!("{path}.Origins.Items[{i}].DomainName"),
                    "The parameter origin name cannot be an IP address.",
                )
                .hint("use a host name: localhost, or a name the node config's OriginAddresses maps to the address");
        }
    }
}

/// `Restrictions.GeoRestriction`: `none`, or a `whitelist` / `blacklist` of ISO 3166-1
/// alpha-2 country codes (<https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/georestrictions.html>).
fn geo_restriction(v: &serde_json::Value, path: &str, diags: &mut Diagnostics) -> Option<GeoRestriction> {
    let g = v.get("GeoRestriction")?;
    let gp = format!("{path}.GeoRestriction");
    let kind = g.get("RestrictionType").and_then(|t| t.as_str()).unwrap_or("none");
    let items: Vec<String> = match g.pointer("/Items") {
        Some(serde_json::Value::Array(items)) => items.iter().filter_map(|i| i.as_str()).map(str::to_owned).collect(),
        _ => Vec::new(),
    };
    let quantity =
        g.get("Quantity").and_then(|q| q.as_i64().or_else(|| q.as_str().and_then(|s| s.trim().parse().ok())));
    if quantity.is_some_and(|q| q != items.len() as i64) {
        diags.error("InconsistentQuantities", format!("{gp}.Quantity"), "Quantity does not match Items");
    }
    for (i, c) in items.iter().enumerate() {
        if c.len() != 2 || !c.bytes().all(|b| b.is_ascii_uppercase()) {
            diags
                .error("InvalidArgument", format!("{gp}.Items[{i}]"), format!("\"{c}\" is not a country code"))
                .hint("use ISO 3166-1 alpha-2 codes in upper case, such as US or DE");
        }
    }
    match kind {
        "none" => {
            if !items.is_empty() {
                diags.error("InvalidArgument", format!("{gp}.Items"), "RestrictionType none takes no locations");
            }
            None
        }
        "whitelist" | "blacklist" => {
            if items.is_empty() {
                diags.error("InvalidArgument", format!("{gp}.Items"), format!("a {kind} needs at least one country"));
            }
            Some(GeoRestriction { allow_listed: kind == "whitelist", countries: items })
        }
        other => {
            diags
                .error(
                    "InvalidArgument",
                    format!("{gp}.RestrictionType"),
                    format!("unknown RestrictionType \"{other}\""),
                )
                .hint("expected none, whitelist or blacklist");
            None
        }
    }
}

fn check_path_pattern(pattern: &str, path: &str, diags: &mut Diagnostics) {
    if pattern.is_empty() || pattern.len() > 255 {
        diags.error("InvalidArgument", path.to_owned(), "PathPattern must be 1 to 255 characters");
    }
    if let Some(bad) = pattern.chars().find(|c| !(c.is_ascii_alphanumeric() || "_-.*$/~\"'@:+&?".contains(*c))) {
        diags
            .error("InvalidArgument", path.to_owned(), format!("PathPattern contains '{bad}'"))
            .hint("allowed: A-Z a-z 0-9 _ - . * $ / ~ \" ' @ : + & and ? as a wildcard");
    }
}

fn origin(o: &wire::Origin, oacs: &HashMap<String, OriginAccess>, p: &str, diags: &mut Diagnostics) -> Origin {
    if o.id.is_empty() {
        diags.error("InvalidArgument", format!("{p}.Id"), "origin Id must not be empty");
    }
    if o.domain_name.is_empty() {
        diags.error("InvalidOrigin", format!("{p}.DomainName"), "origin DomainName must not be empty");
    }
    let origin_path = o.origin_path.clone().unwrap_or_default();
    if !origin_path.is_empty() && (!origin_path.starts_with('/') || origin_path.ends_with('/')) {
        diags
            .error("InvalidArgument", format!("{p}.OriginPath"), "OriginPath must start with / and must not end with /")
            .hint("write \"/production\", not \"production/\"");
    }
    let mut custom_headers = Vec::new();
    if let Some(list) = &o.custom_headers {
        check_quantity(list, &format!("{p}.CustomHeaders"), diags);
        if list.items.len() > 10 {
            diags.error(
                "TooManyOriginCustomHeaders",
                format!("{p}.CustomHeaders"),
                "at most 10 custom headers per origin",
            );
        }
        for (i, h) in list.items.iter().enumerate() {
            let lower = h.header_name.to_ascii_lowercase();
            if FORBIDDEN_ORIGIN_HEADERS.contains(&lower.as_str())
                || lower.starts_with("x-amz-")
                || lower.starts_with("x-edge-")
            {
                diags.error(
                    "InvalidArgument",
                    format!("{p}.CustomHeaders.Items[{i}].HeaderName"),
                    format!("{} cannot be set as an origin custom header", h.header_name),
                );
            }
            custom_headers.push((h.header_name.clone(), h.header_value.clone()));
        }
    }
    let attempts = o.connection_attempts.unwrap_or(3);
    if !(1..=3).contains(&attempts) {
        diags.error("InvalidArgument", format!("{p}.ConnectionAttempts"), "ConnectionAttempts must be 1 to 3");
    }
    let connect = o.connection_timeout.unwrap_or(10);
    if !(1..=10).contains(&connect) {
        diags.error("InvalidArgument", format!("{p}.ConnectionTimeout"), "ConnectionTimeout must be 1 to 10 seconds");
    }
    let (kind, read, keepalive) = match (&o.s3_origin_config, &o.custom_origin_config) {
        (Some(_), Some(_)) => {
            diags.error(
                "InvalidOrigin",
                p.to_owned(),
                "an origin has either S3OriginConfig or CustomOriginConfig, not both",
            );
            (OriginKind::S3 { bucket: String::new() }, 30, 5)
        }
        (Some(s3), None) => {
            let bucket = match s3_bucket_of(&o.domain_name) {
                Some(b) => b.to_owned(),
                None => {
                    diags
                        .error("InvalidOrigin", format!("{p}.DomainName"), format!("\"{}\" is not an S3 bucket endpoint", o.domain_name))
                        .hint("S3 origins are <bucket>.s3.amazonaws.com or <bucket>.s3.<region>.amazonaws.com; use CustomOriginConfig for other servers");
                    String::new()
                }
            };
            (OriginKind::S3 { bucket }, s3.origin_read_timeout.unwrap_or(30), 5)
        }
        (None, Some(c)) => {
            let protocol = match c.origin_protocol_policy.as_str() {
                "http-only" => OriginProtocolPolicy::HttpOnly,
                "match-viewer" => OriginProtocolPolicy::MatchViewer,
                "https-only" => OriginProtocolPolicy::HttpsOnly,
                other => {
                    diags
                        .error(
                            "InvalidArgument",
                            format!("{p}.CustomOriginConfig.OriginProtocolPolicy"),
                            format!("unknown OriginProtocolPolicy \"{other}\""),
                        )
                        .hint("expected http-only, match-viewer or https-only");
                    OriginProtocolPolicy::HttpOnly
                }
            };
            for (name, port) in [("HTTPPort", c.http_port), ("HTTPSPort", c.https_port)] {
                if !(1..=65535).contains(&port) {
                    diags.error(
                        "InvalidArgument",
                        format!("{p}.CustomOriginConfig.{name}"),
                        format!("{port} is not a port number"),
                    );
                }
            }
            if let Some(list) = &c.origin_ssl_protocols {
                check_quantity(list, &format!("{p}.CustomOriginConfig.OriginSslProtocols"), diags);
            }
            (
                OriginKind::Custom {
                    http_port: c.http_port.clamp(1, 65535) as u16,
                    https_port: c.https_port.clamp(1, 65535) as u16,
                    protocol,
                },
                c.origin_read_timeout.unwrap_or(30),
                c.origin_keepalive_timeout.unwrap_or(5),
            )
        }
        (None, None) => match s3_bucket_of(&o.domain_name) {
            Some(bucket) => (OriginKind::S3 { bucket: bucket.to_owned() }, 30, 5),
            None => {
                diags
                    .error(
                        "InvalidOrigin",
                        p.to_owned(),
                        "the origin has neither S3OriginConfig nor CustomOriginConfig",
                    )
                    .hint("add CustomOriginConfig {HTTPPort, HTTPSPort, OriginProtocolPolicy} for an HTTP server");
                (OriginKind::Custom { http_port: 80, https_port: 443, protocol: OriginProtocolPolicy::HttpOnly }, 30, 5)
            }
        },
    };
    if !(1..=120).contains(&read) {
        diags.error(
            "InvalidOriginReadTimeout",
            format!("{p}.OriginReadTimeout"),
            "OriginReadTimeout must be 1 to 120 seconds",
        );
    }
    if !(1..=120).contains(&keepalive) {
        diags.error(
            "InvalidOriginKeepaliveTimeout",
            format!("{p}.OriginKeepaliveTimeout"),
            "OriginKeepaliveTimeout must be 1 to 120 seconds",
        );
    }
    let completion = o.response_completion_timeout.filter(|t| *t > 0);
    if completion.is_some_and(|t| t < read) {
        diags.error(
            "InvalidArgument",
            format!("{p}.ResponseCompletionTimeout"),
            "ResponseCompletionTimeout must be at least OriginReadTimeout",
        );
    }
    let shield_region = match &o.origin_shield {
        Some(s) if s.enabled => match s.origin_shield_region.as_deref() {
            Some(r) if is_region(r) => Some(r.to_owned()),
            other => {
                diags
                    .error(
                        "InvalidArgument",
                        format!("{p}.OriginShield.OriginShieldRegion"),
                        format!("\"{}\" is not a region code", other.unwrap_or("")),
                    )
                    .hint("use a region such as us-east-1 or eu-west-2");
                None
            }
        },
        _ => None,
    };
    let access_control = match o.origin_access_control_id.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(id) => match oacs.get(id) {
            Some(oac) => Some(oac.clone()),
            None => {
                diags
                    .error(
                        "NoSuchOriginAccessControl",
                        format!("{p}.OriginAccessControlId"),
                        format!("no origin access control with id \"{id}\""),
                    )
                    .hint("create it first (create-origin-access-control, or OriginAccessControls in the config file)");
                None
            }
        },
    };
    Origin {
        id: o.id.clone(),
        domain_name: o.domain_name.clone(),
        origin_path,
        custom_headers,
        access_control,
        kind,
        connection_attempts: attempts.clamp(1, 3) as u32,
        connection_timeout_secs: connect.clamp(1, 10) as u32,
        read_timeout_secs: read.clamp(1, 120) as u32,
        keepalive_timeout_secs: keepalive.clamp(1, 120) as u32,
        response_completion_timeout_secs: completion.map(|t| t.clamp(1, 86_400) as u32),
        shield_region,
    }
}

/// `[a-z]{2}-[a-z]+-\d`.
fn is_region(r: &str) -> bool {
    let parts: Vec<&str> = r.split('-').collect();
    parts.len() == 3
        && parts[0].len() == 2
        && parts[0].bytes().all(|b| b.is_ascii_lowercase())
        && !parts[1].is_empty()
        && parts[1].bytes().all(|b| b.is_ascii_lowercase())
        && !parts[2].is_empty()
        && parts[2].bytes().all(|b| b.is_ascii_digit())
}

struct BehaviorCtx<'a> {
    policies: &'a PolicyIndex,
    functions: &'a HashMap<String, Arc<FunctionCode>>,
    private: &'a Private,
    origin_index: &'a HashMap<&'a str, usize>,
    group_index: &'a HashMap<&'a str, usize>,
    origins: &'a [Arc<Origin>],
}

/// The function name in `arn:aws:cloudfront::<account>:function/<Name>`.
pub fn function_name_from_arn(arn: &str) -> Option<&str> {
    let rest = arn.strip_prefix("arn:aws:cloudfront::")?;
    let (_, name) = rest.split_once(":function/")?;
    (!name.is_empty()).then_some(name)
}

fn behavior(
    b: &wire::CacheBehavior,
    is_default: bool,
    ctx: &BehaviorCtx<'_>,
    p: &str,
    diags: &mut Diagnostics,
) -> Option<Behavior> {
    let before = diags.items().len();
    let target = if let Some(i) = ctx.origin_index.get(b.target_origin_id.as_str()) {
        Target::Origin(*i)
    } else if let Some(i) = ctx.group_index.get(b.target_origin_id.as_str()) {
        Target::Group(*i)
    } else {
        diags
            .error(
                "NoSuchOrigin",
                format!("{p}.TargetOriginId"),
                format!("no origin or origin group with id \"{}\"", b.target_origin_id),
            )
            .hint("TargetOriginId must name an Origins item's Id or an OriginGroups item's Id");
        Target::Origin(0)
    };
    let viewer_protocol_policy = match b.viewer_protocol_policy.as_str() {
        "allow-all" => ViewerProtocolPolicy::AllowAll,
        "redirect-to-https" => ViewerProtocolPolicy::RedirectToHttps,
        "https-only" => ViewerProtocolPolicy::HttpsOnly,
        other => {
            diags
                .error(
                    "InvalidArgument",
                    format!("{p}.ViewerProtocolPolicy"),
                    format!("unknown ViewerProtocolPolicy \"{other}\""),
                )
                .hint("expected allow-all, redirect-to-https or https-only");
            ViewerProtocolPolicy::AllowAll
        }
    };
    let (allowed_methods, cached_methods) = methods(b.allowed_methods.as_ref(), p, diags);

    let cache = match (&b.cache_policy_id, &b.forwarded_values) {
        (Some(_), Some(_)) => {
            diags
                .error(
                    "InvalidArgument",
                    p.to_owned(),
                    "a behavior has either CachePolicyId or ForwardedValues, not both",
                )
                .hint("remove ForwardedValues and the behavior's MinTTL/DefaultTTL/MaxTTL when you use a cache policy");
            None
        }
        (Some(id), None) => {
            for (name, v) in [("MinTTL", b.min_ttl), ("DefaultTTL", b.default_ttl), ("MaxTTL", b.max_ttl)] {
                if v.is_some() {
                    diags
                        .error(
                            "InvalidArgument",
                            format!("{p}.{name}"),
                            format!("{name} on a behavior cannot be combined with CachePolicyId"),
                        )
                        .hint("set TTLs in the cache policy");
                }
            }
            match ctx.policies.cache.get(id) {
                Some(c) => Some(c.clone()),
                None => {
                    diags
                        .error("NoSuchCachePolicy", format!("{p}.CachePolicyId"), format!("no cache policy with id \"{id}\""))
                        .hint("use a managed policy id (e.g. 658327ea-f89d-4fab-a63d-7e88639e58f6 for CachingOptimized) or add the policy under CachePolicies");
                    None
                }
            }
        }
        (None, Some(fv)) => {
            let s3 = matches!(target, Target::Origin(i) if ctx.origins.get(i).is_some_and(|o| matches!(o.kind, OriginKind::S3 { .. })));
            legacy_cache(fv, b, p, s3, diags).map(Arc::new)
        }
        (None, None) => {
            diags
                .error(
                    "InvalidArgument",
                    p.to_owned(),
                    "the behavior needs a CachePolicyId (or legacy ForwardedValues)",
                )
                .hint("add \"CachePolicyId\": \"658327ea-f89d-4fab-a63d-7e88639e58f6\" (Managed-CachingOptimized)");
            None
        }
    };
    let origin_request = match &b.origin_request_policy_id {
        Some(id) if !id.is_empty() => {
            if b.cache_policy_id.is_none() {
                diags.error(
                    "InvalidArgument",
                    format!("{p}.OriginRequestPolicyId"),
                    "an origin request policy needs a cache policy on the same behavior",
                );
            }
            match ctx.policies.origin_request.get(id) {
                Some(o) => o.clone(),
                None => {
                    diags.error(
                        "NoSuchOriginRequestPolicy",
                        format!("{p}.OriginRequestPolicyId"),
                        format!("no origin request policy with id \"{id}\""),
                    );
                    Arc::new(OriginRequestSettings::none())
                }
            }
        }
        _ => Arc::new(OriginRequestSettings::none()),
    };
    let response_headers = match &b.response_headers_policy_id {
        Some(id) if !id.is_empty() => match ctx.policies.response_headers.get(id) {
            Some(r) => Some(r.clone()),
            None => {
                diags.error(
                    "NoSuchResponseHeadersPolicy",
                    format!("{p}.ResponseHeadersPolicyId"),
                    format!("no response headers policy with id \"{id}\""),
                );
                None
            }
        },
        _ => None,
    };
    if let (Some(cache), Target::Origin(i), Some(_)) = (&cache, target, &b.cache_policy_id)
        && let Some(o) = ctx.origins.get(i)
        && matches!(o.kind, OriginKind::S3 { .. })
        && cache.headers.selects_with("host", |a, b| a == b)
        && !matches!(cache.headers, NameRule::All)
    {
        diags.error(
            "InvalidHeadersForS3Origin",
            format!("{p}.CachePolicyId"),
            "Host cannot be in the cache key of a behavior whose origin is S3",
        );
    }

    let mut viewer_request_function = None;
    let mut viewer_response_function = None;
    if let Some(list) = &b.function_associations {
        let fpath = format!("{p}.FunctionAssociations");
        check_quantity(list, &fpath, diags);
        for (i, f) in list.items.iter().enumerate() {
            let ip = format!("{fpath}.Items[{i}]");
            let Some(name) = function_name_from_arn(&f.function_arn) else {
                diags
                    .error(
                        "InvalidFunctionAssociation",
                        format!("{ip}.FunctionARN"),
                        format!("\"{}\" is not a function ARN", f.function_arn),
                    )
                    .hint("write arn:aws:cloudfront::<account>:function/<Name>");
                continue;
            };
            if !ctx.functions.contains_key(name) {
                diags
                    .error(
                        "InvalidFunctionAssociation",
                        format!("{ip}.FunctionARN"),
                        format!("no published function named \"{name}\""),
                    )
                    .hint("add it under Functions (or create and publish it through the API)");
            }
            let slot = match f.event_type.as_str() {
                "viewer-request" => &mut viewer_request_function,
                "viewer-response" => &mut viewer_response_function,
                other => {
                    diags.error(
                        "InvalidFunctionAssociation",
                        format!("{ip}.EventType"),
                        format!("CloudFront Functions run on viewer-request or viewer-response, not {other}"),
                    );
                    continue;
                }
            };
            if slot.replace(name.to_owned()).is_some() {
                diags.error(
                    "InvalidFunctionAssociation",
                    format!("{ip}.EventType"),
                    format!("two functions for {}", f.event_type),
                );
            }
        }
    }
    let mut unenforced = Vec::new();
    if let Some(lambda) = &b.lambda_function_associations
        && lambda
            .get("Quantity")
            .and_then(|q| q.as_i64().or_else(|| q.as_str().and_then(|s| s.parse().ok())))
            .unwrap_or(0)
            > 0
    {
        unenforced.push(Unenforced {
            field: "LambdaFunctionAssociations",
            what: "Lambda@Edge functions (they may authorise requests)".to_owned(),
        });
    }
    if let Some(fle) = b.field_level_encryption_id.as_deref().filter(|s| !s.is_empty()) {
        unenforced.push(Unenforced { field: "FieldLevelEncryptionId", what: format!("field-level encryption {fle}") });
    }
    for u in &unenforced {
        diags
            .warning(
                "unenforced-protection",
                format!("{p}.{}", u.field),
                format!("the edge does not enforce {}", u.what),
            )
            .hint("requests are refused unless the node config sets \"UnenforcedProtections\": \"serve\"");
    }
    let trusted = trusted_keys(b, ctx.private, p, diags);

    let cache = cache?;
    if diags.items()[before..].iter().any(|d| d.severity == crate::diag::Severity::Error) {
        return None;
    }
    Some(Behavior {
        path_pattern: PathPattern::new(if is_default { "*" } else { b.path_pattern.as_deref().unwrap_or("*") }),
        is_default,
        target,
        viewer_protocol_policy,
        allowed_methods,
        cached_methods,
        compress: b.compress.unwrap_or(false),
        cache,
        origin_request,
        response_headers,
        viewer_request_function,
        viewer_response_function,
        cache_policy_id: b.cache_policy_id.clone(),
        origin_request_policy_id: b.origin_request_policy_id.clone().filter(|s| !s.is_empty()),
        trusted,
        unenforced,
    })
}

/// The keys a behavior trusts: its `TrustedKeyGroups`, or legacy `TrustedSigners`
/// (<https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-trusted-signers.html>).
/// An AWS account's CloudFront key pairs are, on Cachalot, the account's public keys: a
/// trusted signer (`self` or the account's number) trusts every public key.
fn trusted_keys(
    b: &wire::CacheBehavior,
    private: &Private,
    p: &str,
    diags: &mut Diagnostics,
) -> Option<Arc<TrustedKeys>> {
    let enabled = |v: &serde_json::Value| {
        v.get("Enabled").is_some_and(|e| e.as_bool().unwrap_or_else(|| e.as_str() == Some("true")))
    };
    let items = |v: &serde_json::Value| -> Vec<String> {
        v.get("Items")
            .and_then(|i| i.as_array())
            .map(|a| a.iter().filter_map(|x| x.as_str()).map(str::to_owned).collect())
            .unwrap_or_default()
    };
    let mut trusted = TrustedKeys::default();
    let mut required = false;
    if let Some(groups) = b.trusted_key_groups.as_ref().filter(|g| enabled(g)) {
        required = true;
        let ids = items(groups);
        if ids.is_empty() {
            diags.error(
                "InvalidArgument",
                format!("{p}.TrustedKeyGroups"),
                "TrustedKeyGroups is enabled but names no key group",
            );
        }
        for (i, id) in ids.iter().enumerate() {
            match private.groups.get(id) {
                Some(keys) => {
                    trusted.key_groups.push(id.clone());
                    for k in keys {
                        trusted.keys.insert(k.id.clone(), k.clone());
                    }
                }
                None => {
                    diags
                        .error(
                            "TrustedKeyGroupDoesNotExist",
                            format!("{p}.TrustedKeyGroups.Items[{i}]"),
                            format!("no key group with id \"{id}\""),
                        )
                        .hint("create it first (create-key-group, or KeyGroups in the config file)");
                }
            }
        }
    }
    if let Some(signers) = b.trusted_signers.as_ref().filter(|s| enabled(s)) {
        required = true;
        for (i, account) in items(signers).iter().enumerate() {
            if account == "self" || (account.len() == 12 && account.bytes().all(|c| c.is_ascii_digit())) {
                for k in private.keys.values() {
                    trusted.keys.insert(k.id.clone(), k.clone());
                }
            } else {
                diags.error(
                    "TrustedSignerDoesNotExist",
                    format!("{p}.TrustedSigners.Items[{i}]"),
                    format!("\"{account}\" is not an AWS account number or self"),
                );
            }
        }
    }
    required.then(|| Arc::new(trusted))
}

fn methods(allowed: Option<&wire::AllowedMethods>, p: &str, diags: &mut Diagnostics) -> (MethodSet, MethodSet) {
    let Some(a) = allowed else { return (MethodSet::GET_HEAD, MethodSet::GET_HEAD) };
    let ap = format!("{p}.AllowedMethods");
    if a.quantity != a.items.len() as i64 {
        diags.error(
            "InconsistentQuantities",
            format!("{ap}.Quantity"),
            format!("Quantity is {} but Items has {} entries", a.quantity, a.items.len()),
        );
    }
    let valid = [MethodSet::GET_HEAD, MethodSet::GET_HEAD_OPTIONS, MethodSet::ALL];
    let set = match MethodSet::from_names(a.items.iter().map(String::as_str)) {
        Ok(s) if valid.contains(&s) => s,
        Ok(_) => {
            diags
                .error(
                    "InvalidArgument",
                    format!("{ap}.Items"),
                    "AllowedMethods must be one of CloudFront's three sets",
                )
                .hint("[GET, HEAD], [GET, HEAD, OPTIONS] or [GET, HEAD, OPTIONS, PUT, PATCH, POST, DELETE]");
            MethodSet::GET_HEAD
        }
        Err(bad) => {
            diags.error("InvalidArgument", format!("{ap}.Items"), format!("unknown method \"{bad}\""));
            MethodSet::GET_HEAD
        }
    };
    let cached = match &a.cached_methods {
        None => MethodSet::GET_HEAD,
        Some(c) => {
            check_quantity(c, &format!("{ap}.CachedMethods"), diags);
            match MethodSet::from_names(c.items.iter().map(String::as_str)) {
                Ok(s) if s == MethodSet::GET_HEAD || s == MethodSet::GET_HEAD_OPTIONS => {
                    if s == MethodSet::GET_HEAD_OPTIONS && !set.contains("OPTIONS") {
                        diags.error(
                            "InvalidArgument",
                            format!("{ap}.CachedMethods"),
                            "OPTIONS is cached but not allowed",
                        );
                    }
                    s
                }
                _ => {
                    diags.error(
                        "InvalidArgument",
                        format!("{ap}.CachedMethods.Items"),
                        "CachedMethods must be [GET, HEAD] or [GET, HEAD, OPTIONS]",
                    );
                    MethodSet::GET_HEAD
                }
            }
        }
    };
    (set, cached)
}

/// Legacy `ForwardedValues` → the same key/forward rules a cache policy yields (§2.7).
///
/// For an S3 origin (`s3`), `Host` is not keyed: CloudFront accepts it in the list but does not
/// cache on it for S3 origins
/// (<https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/header-caching.html>).
fn legacy_cache(
    fv: &wire::ForwardedValues,
    b: &wire::CacheBehavior,
    p: &str,
    s3: bool,
    diags: &mut Diagnostics,
) -> Option<CacheSettings> {
    let fp = format!("{p}.ForwardedValues");
    let min = b.min_ttl.unwrap_or(0);
    let (min, default, max) = ttls(min, b.default_ttl, b.max_ttl, p, "InvalidTTLOrder", diags)?;
    let keys = names_of(fv.query_string_cache_keys.as_ref(), &format!("{fp}.QueryStringCacheKeys"), diags);
    let (query_key, query_forward) = match (fv.query_string, keys.is_empty()) {
        (false, _) => (NameRule::None, NameRule::None),
        (true, true) => (NameRule::All, NameRule::All),
        (true, false) => (NameRule::Only(keys), NameRule::All),
    };
    let cookies = match fv.cookies.forward.as_str() {
        "none" => NameRule::None,
        "all" => NameRule::All,
        "whitelist" => {
            let names =
                names_of(fv.cookies.whitelisted_names.as_ref(), &format!("{fp}.Cookies.WhitelistedNames"), diags);
            if names.is_empty() {
                diags.error(
                    "InvalidForwardCookies",
                    format!("{fp}.Cookies.WhitelistedNames"),
                    "whitelist needs at least one cookie name",
                );
            }
            NameRule::Only(names)
        }
        other => {
            diags
                .error(
                    "InvalidForwardCookies",
                    format!("{fp}.Cookies.Forward"),
                    format!("unknown cookie forwarding \"{other}\""),
                )
                .hint("expected none, whitelist or all");
            return None;
        }
    };
    let mut headers = names_of(fv.headers.as_ref(), &format!("{fp}.Headers"), diags);
    let forward_all_headers = headers.iter().any(|h| h == "*");
    if s3 && headers.iter().any(|h| h.eq_ignore_ascii_case("host")) {
        headers.retain(|h| !h.eq_ignore_ascii_case("host"));
        diags.note(
            "host-not-keyed-for-s3",
            format!("{fp}.Headers"),
            "Host is not part of the cache key: for an S3 origin CloudFront neither caches on Host nor forwards it",
        );
    }
    if forward_all_headers && min != 0 {
        diags
            .error(
                "InvalidTTLOrder",
                format!("{p}.MinTTL"),
                "MinTTL must be 0 when all headers are forwarded (Headers: [\"*\"])",
            )
            .hint("forwarding every header disables caching; forward only the headers the origin needs");
    }
    let headers = if forward_all_headers || headers.is_empty() {
        NameRule::None
    } else {
        NameRule::Only(headers.iter().map(|h| h.to_ascii_lowercase()).collect())
    };
    Some(CacheSettings {
        min_ttl: min,
        default_ttl: default,
        max_ttl: max,
        query_strings: query_key,
        headers,
        cookies,
        // Legacy settings normalise Accept-Encoding to gzip only.
        accept_encoding_gzip: true,
        accept_encoding_brotli: false,
        forward_all_headers,
        legacy_forward_query: query_forward,
    })
}
