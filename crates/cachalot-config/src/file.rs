//! The `--config` file: node settings plus CloudFront resources in the AWS CLI's JSON shapes.
//!
//! **API boundary.** The top-level keys are Cachalot's own (`Pops`, `Admin`,
//! `Metrics`, `State`, `Buckets`, `AccessKeys`, …); every resource inside uses exactly the
//! shape the AWS CLI prints, and the envelopes the CLI prints
//! (`{"ETag", "DistributionConfig"}`, `{"CachePolicy": {...}}`) are accepted as
//! they are so output can be pasted unchanged. Parsing is pure: the binary reads
//! files (config, function code, key value store data) and passes text in.

use crate::diag::Diagnostics;
use crate::validate::DistributionResource;
use crate::wire;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Default POP id when none is configured.
pub const DEFAULT_POP_ID: &str = "LOCAL50-C1";
/// Default POP listener.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Default admin listener.
pub const DEFAULT_ADMIN: &str = "127.0.0.1:9400";
/// Default state folder.
pub const DEFAULT_STATE: &str = "./.cachalot";
/// Default memory tier size per POP (256 MiB).
pub const DEFAULT_CACHE_BYTES: u64 = 256 * 1024 * 1024;

/// One POP: a listener with its own cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PopConfig {
    /// POP code sent in `x-amz-cf-pop`, e.g. `LHR50-C1`.
    pub id: String,
    /// Plain HTTP listener (`None`: HTTPS only).
    pub listen: Option<String>,
    /// Region; POPs sharing one share a regional edge cache.
    pub region: String,
    /// Memory tier size in bytes.
    pub cache_bytes: u64,
    /// Disk tier behind the memory tier (`DiskCacheSize`, `DiskCachePath`).
    pub disk: Option<DiskCache>,
    /// HTTPS listener, with certificate and key files (PEM).
    pub tls: Option<TlsListener>,
}

/// A disk tier: its size and, when given, its folder (else `<state>/cache/<id>/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskCache {
    /// Bytes of cache files at most.
    pub bytes: u64,
    /// Folder, relative to the config file (`DiskCachePath`).
    pub path: Option<String>,
}

/// A regional edge cache this node hosts for its fleet (`RegionalCaches`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionalCacheConfig {
    /// The region whose POPs send their misses here.
    pub region: String,
    /// Listener other nodes' POPs reach it on.
    pub listen: String,
    /// Memory tier size in bytes.
    pub cache_bytes: u64,
    /// Disk tier behind the memory tier (`DiskCacheSize`, `DiskCachePath`).
    pub disk: Option<DiskCache>,
}

/// An HTTPS listener of a POP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsListener {
    /// Address.
    pub listen: String,
    /// PEM certificate chain file.
    pub certificate_file: String,
    /// PEM private key file.
    pub private_key_file: String,
}

/// A SigV4 access key accepted by the admin API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKey {
    /// Access key id.
    pub access_key_id: String,
    /// Secret.
    pub secret_access_key: String,
}

/// A function declared in the file; its code is read from `code_file` by the binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionEntry {
    /// Name (referenced by `arn:aws:cloudfront::<account>:function/<Name>`).
    pub name: String,
    /// Runtime.
    pub runtime: String,
    /// Comment.
    pub comment: String,
    /// Path of the JavaScript file, relative to the config file.
    pub code_file: Option<String>,
    /// Inline code.
    pub code: Option<String>,
    /// Associated key value store names.
    pub key_value_stores: Vec<String>,
}

/// A key value store declared in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValueStoreEntry {
    /// Name.
    pub name: String,
    /// JSON data file (`{"data":[{"key","value"}]}` as CloudFront imports, or a flat object).
    pub data_file: Option<String>,
    /// Inline items.
    pub items: BTreeMap<String, String>,
}

/// A parsed config file.
#[derive(Debug, Clone, Default)]
pub struct ConfigFile {
    /// This node's id in a fleet (`Node.Id`; default: the host name).
    pub node_id: Option<String>,
    /// POPs (empty: the default POP).
    pub pops: Vec<PopConfig>,
    /// Regional edge caches this node hosts for the fleet.
    pub regional_caches: Vec<RegionalCacheConfig>,
    /// Admin listener.
    pub admin: Option<String>,
    /// A listener of its own for `/metrics`, `/dashboard` and `/healthz` (else they are on the admin listener).
    pub metrics: Option<String>,
    /// State folder.
    pub state: Option<String>,
    /// Bucket name → local folder.
    pub buckets: BTreeMap<String, String>,
    /// Origin host name → `host:port` to connect to instead (for running a
    /// production config against local servers).
    pub origin_addresses: BTreeMap<String, String>,
    /// Access keys for SigV4 on the admin API.
    pub access_keys: Vec<AccessKey>,
    /// Distributions.
    pub distributions: Vec<DistributionResource>,
    /// Custom cache policies.
    pub cache_policies: Vec<wire::CachePolicy>,
    /// Custom origin request policies.
    pub origin_request_policies: Vec<wire::OriginRequestPolicy>,
    /// Custom response headers policies.
    pub response_headers_policies: Vec<wire::ResponseHeadersPolicy>,
    /// Functions.
    pub functions: Vec<FunctionEntry>,
    /// Key value stores.
    pub key_value_stores: Vec<KeyValueStoreEntry>,
    /// Standard logging (v2): `DeliverySources`, `DeliveryDestinations`, `Deliveries`.
    pub log_deliveries: crate::logging::LogDeliveries,
    /// Buckets of `Buckets` marked `"Private": true`: served only to requests an origin
    /// access control signed.
    pub private_buckets: std::collections::BTreeSet<String>,
    /// Public keys for signed URLs and cookies.
    pub public_keys: Vec<wire::PublicKey>,
    /// Key groups.
    pub key_groups: Vec<wire::KeyGroup>,
    /// Origin access controls.
    pub origin_access_controls: Vec<wire::OriginAccessControl>,
    /// MaxMind-format database for geo restriction and `CloudFront-Viewer-*` headers.
    pub geo_ip_database: Option<String>,
    /// What the edge does with a behavior asking for a protection it does not enforce.
    pub unenforced_protections: UnenforcedProtections,
}

/// The node's choice for behaviors that ask for a protection the edge does not enforce
/// (AWS WAF, Lambda@Edge, field-level encryption).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum UnenforcedProtections {
    /// Refuse: such requests answer 403 and a config file with one does not load.
    #[default]
    Refuse,
    /// Serve them anyway, as if the protection were not configured (each is printed at start).
    Serve,
}

const TOP_LEVEL: &[&str] = &[
    "Node",
    "Pops",
    "RegionalCaches",
    "Admin",
    "Metrics",
    "State",
    "Buckets",
    "OriginAddresses",
    "AccessKeys",
    "Distributions",
    "CachePolicies",
    "OriginRequestPolicies",
    "ResponseHeadersPolicies",
    "Functions",
    "KeyValueStores",
    "DeliverySources",
    "DeliveryDestinations",
    "Deliveries",
    "PublicKeys",
    "KeyGroups",
    "OriginAccessControls",
    "GeoIpDatabase",
    "UnenforcedProtections",
];

/// Parses a config file. Returns the file (possibly partial) and every problem found.
pub fn parse(text: &str) -> (ConfigFile, Diagnostics) {
    let mut diags = Diagnostics::new();
    let mut out = ConfigFile::default();
    let root: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            diags
                .error("invalid-json", format!("line {}, column {}", e.line(), e.column()), e.to_string())
                .hint("the config file is JSON; check for a missing comma, quote or brace near that position");
            return (out, diags);
        }
    };
    let Value::Object(root) = root else {
        diags
            .error("invalid-config", "$", "the config file must be a JSON object")
            .hint(format!("top-level keys: {}", TOP_LEVEL.join(", ")));
        return (out, diags);
    };
    for key in root.keys() {
        if !TOP_LEVEL.contains(&key.as_str()) {
            let hint = match suggest(key, TOP_LEVEL) {
                Some(s) => format!("did you mean \"{s}\"?"),
                None => format!("top-level keys: {}", TOP_LEVEL.join(", ")),
            };
            diags.error("unknown-field", format!("$.{key}"), format!("unknown top-level key \"{key}\"")).hint(hint);
        }
    }
    out.admin = string_at(&root, "Admin", &mut diags);
    out.metrics = string_at(&root, "Metrics", &mut diags);
    out.state = string_at(&root, "State", &mut diags);
    (out.buckets, out.private_buckets) = buckets_at(&root, &mut diags);
    out.geo_ip_database = string_at(&root, "GeoIpDatabase", &mut diags);
    out.unenforced_protections = match string_at(&root, "UnenforcedProtections", &mut diags).as_deref() {
        None | Some("refuse") => UnenforcedProtections::Refuse,
        Some("serve") => UnenforcedProtections::Serve,
        Some(other) => {
            diags.error("invalid-config", "$.UnenforcedProtections", format!("unknown choice \"{other}\"")).hint(
                "\"refuse\" (the default: such behaviors are not served) or \"serve\" (served as if unprotected)",
            );
            UnenforcedProtections::Refuse
        }
    };
    for (i, item) in array_at(&root, "PublicKeys", &mut diags).iter().enumerate() {
        let item = unwrap_envelope(item, "PublicKey");
        let path = format!("$.PublicKeys[{i}].PublicKeyConfig");
        if let Some(cfg) = typed::<wire::PublicKeyConfig>(item.get("PublicKeyConfig"), &path, &mut diags) {
            let id = item
                .get("Id")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .unwrap_or_else(|| public_key_id_from(&cfg.name));
            out.public_keys.push(wire::PublicKey { id, public_key_config: cfg });
        }
    }
    for (i, item) in array_at(&root, "KeyGroups", &mut diags).iter().enumerate() {
        let item = unwrap_envelope(item, "KeyGroup");
        let path = format!("$.KeyGroups[{i}].KeyGroupConfig");
        if let Some(cfg) = typed::<wire::KeyGroupConfig>(item.get("KeyGroupConfig"), &path, &mut diags) {
            let id = item
                .get("Id")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .unwrap_or_else(|| uuid_from(&format!("key-group:{}", cfg.name)));
            out.key_groups.push(wire::KeyGroup { id, key_group_config: cfg });
        }
    }
    for (i, item) in array_at(&root, "OriginAccessControls", &mut diags).iter().enumerate() {
        let item = unwrap_envelope(item, "OriginAccessControl");
        let path = format!("$.OriginAccessControls[{i}].OriginAccessControlConfig");
        if let Some(cfg) =
            typed::<wire::OriginAccessControlConfig>(item.get("OriginAccessControlConfig"), &path, &mut diags)
        {
            let id = item
                .get("Id")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .unwrap_or_else(|| distribution_id_from(&format!("oac:{}", cfg.name)));
            out.origin_access_controls.push(wire::OriginAccessControl { id, origin_access_control_config: cfg });
        }
    }
    out.origin_addresses = string_map_at(&root, "OriginAddresses", &mut diags);
    for (i, item) in array_at(&root, "Pops", &mut diags).iter().enumerate() {
        if let Some(p) = pop(item, &format!("$.Pops[{i}]"), &mut diags) {
            out.pops.push(p);
        }
    }
    if let Some(node) = root.get("Node") {
        match node.get("Id").and_then(Value::as_str) {
            Some(id) if valid_node_id(id) => out.node_id = Some(id.to_owned()),
            _ => {
                diags
                    .error(
                        "invalid-config",
                        "$.Node.Id",
                        "a node needs an Id: letters, digits, `-`, `_` and `.`, at most 64",
                    )
                    .hint("for example {\"Node\": {\"Id\": \"node-a\"}}; without Node the host name is used");
            }
        }
    }
    for (i, item) in array_at(&root, "RegionalCaches", &mut diags).iter().enumerate() {
        let path = format!("$.RegionalCaches[{i}]");
        let region = item.get("Region").and_then(Value::as_str).filter(|r| !r.is_empty());
        let listen = item.get("Listen").and_then(Value::as_str).filter(|l| !l.is_empty());
        let (Some(region), Some(listen)) = (region, listen) else {
            diags
                .error("invalid-config", path, "a regional cache needs a Region and a Listen address")
                .hint("for example {\"Region\": \"eu-west-2\", \"Listen\": \"127.0.0.1:8100\"}");
            continue;
        };
        let cache_bytes = size_at(item, "CacheSize", &path, &mut diags).unwrap_or(DEFAULT_CACHE_BYTES);
        let disk = disk_at(item, &path, &mut diags);
        if out.regional_caches.iter().any(|r: &RegionalCacheConfig| r.region == region) {
            diags.error(
                "invalid-config",
                format!("{path}.Region"),
                format!("this node hosts {region}'s regional cache twice"),
            );
            continue;
        }
        out.regional_caches.push(RegionalCacheConfig {
            region: region.to_owned(),
            listen: listen.to_owned(),
            cache_bytes,
            disk,
        });
    }
    let mut pop_ids = std::collections::HashSet::new();
    for (i, p) in out.pops.iter().enumerate() {
        if !pop_ids.insert(p.id.clone()) {
            diags.error("duplicate-pop", format!("$.Pops[{i}].Id"), format!("POP id {} is used twice", p.id));
        }
    }
    for (i, item) in array_at(&root, "AccessKeys", &mut diags).iter().enumerate() {
        let path = format!("$.AccessKeys[{i}]");
        let id = item.get("AccessKeyId").and_then(Value::as_str);
        let secret = item.get("SecretAccessKey").and_then(Value::as_str);
        match (id, secret) {
            (Some(id), Some(secret)) if !id.is_empty() && !secret.is_empty() => {
                out.access_keys.push(AccessKey { access_key_id: id.to_owned(), secret_access_key: secret.to_owned() })
            }
            _ => {
                diags.error("invalid-config", path, "an access key needs AccessKeyId and SecretAccessKey strings");
            }
        }
    }
    for (i, item) in array_at(&root, "Distributions", &mut diags).iter().enumerate() {
        if let Some(d) = distribution_entry(item, i, &mut diags) {
            out.distributions.push(d);
        }
    }
    for (i, item) in array_at(&root, "CachePolicies", &mut diags).iter().enumerate() {
        let item = unwrap_envelope(item, "CachePolicy");
        let path = format!("$.CachePolicies[{i}]");
        if let Some(cfg) = typed::<wire::CachePolicyConfig>(
            item.get("CachePolicyConfig"),
            &format!("{path}.CachePolicyConfig"),
            &mut diags,
        ) {
            let id = item.get("Id").and_then(Value::as_str).map(str::to_owned).unwrap_or_else(|| uuid_from(&cfg.name));
            out.cache_policies.push(wire::CachePolicy { id, cache_policy_config: cfg });
        }
    }
    for (i, item) in array_at(&root, "OriginRequestPolicies", &mut diags).iter().enumerate() {
        let item = unwrap_envelope(item, "OriginRequestPolicy");
        let path = format!("$.OriginRequestPolicies[{i}].OriginRequestPolicyConfig");
        if let Some(cfg) =
            typed::<wire::OriginRequestPolicyConfig>(item.get("OriginRequestPolicyConfig"), &path, &mut diags)
        {
            let id = item.get("Id").and_then(Value::as_str).map(str::to_owned).unwrap_or_else(|| uuid_from(&cfg.name));
            out.origin_request_policies.push(wire::OriginRequestPolicy { id, origin_request_policy_config: cfg });
        }
    }
    for (i, item) in array_at(&root, "ResponseHeadersPolicies", &mut diags).iter().enumerate() {
        let item = unwrap_envelope(item, "ResponseHeadersPolicy");
        let path = format!("$.ResponseHeadersPolicies[{i}].ResponseHeadersPolicyConfig");
        if let Some(cfg) =
            typed::<wire::ResponseHeadersPolicyConfig>(item.get("ResponseHeadersPolicyConfig"), &path, &mut diags)
        {
            let id = item.get("Id").and_then(Value::as_str).map(str::to_owned).unwrap_or_else(|| uuid_from(&cfg.name));
            out.response_headers_policies.push(wire::ResponseHeadersPolicy { id, response_headers_policy_config: cfg });
        }
    }
    for (i, item) in array_at(&root, "Functions", &mut diags).iter().enumerate() {
        if let Some(f) = function_entry(item, &format!("$.Functions[{i}]"), &mut diags) {
            out.functions.push(f);
        }
    }
    for (i, item) in array_at(&root, "KeyValueStores", &mut diags).iter().enumerate() {
        let path = format!("$.KeyValueStores[{i}]");
        let Some(name) = item.get("Name").and_then(Value::as_str) else {
            diags.error("invalid-config", format!("{path}.Name"), "a key value store needs a Name");
            continue;
        };
        let data_file = item.get("DataFile").and_then(Value::as_str).map(str::to_owned);
        let items = match item.get("Items") {
            Some(v) => parse_kvs_data(v, &format!("{path}.Items"), &mut diags),
            None => BTreeMap::new(),
        };
        out.key_value_stores.push(KeyValueStoreEntry { name: name.to_owned(), data_file, items });
    }
    out.log_deliveries = log_deliveries(&root, &mut diags);
    (out, diags)
}

/// `DeliverySources`, `DeliveryDestinations` and `Deliveries`: each in the shape the `logs` API
/// takes (or `aws logs get-delivery-*` prints, envelope included), checked as the API checks them.
fn log_deliveries(root: &Map<String, Value>, diags: &mut Diagnostics) -> crate::logging::LogDeliveries {
    use crate::logging::{self as lg, DeliveryDestination, DeliverySource};
    let mut out = lg::LogDeliveries::default();
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    for (i, item) in array_at(root, "DeliverySources", diags).iter().enumerate() {
        let item = unwrap_envelope(item, "deliverySource");
        let path = format!("$.DeliverySources[{i}]");
        let name = text(item, "name").unwrap_or_default();
        if let Err(e) = lg::check_name("a delivery source name", &name) {
            diags.error("invalid-log-delivery", format!("{path}.name"), e);
            continue;
        }
        let arn = text(item, "resourceArn")
            .or_else(|| item.get("resourceArns").and_then(|a| a.get(0)).and_then(Value::as_str).map(str::to_owned));
        let Some(arn) = arn.filter(|a| lg::distribution_arn(a).is_some()) else {
            diags
                .error(
                    "invalid-log-delivery",
                    format!("{path}.resourceArn"),
                    "a delivery source needs the ARN of a distribution",
                )
                .hint("arn:aws:cloudfront::123456789012:distribution/<Id>");
            continue;
        };
        let log_type = text(item, "logType").unwrap_or_else(|| lg::LOG_TYPE.to_owned());
        if log_type != lg::LOG_TYPE {
            diags.error(
                "invalid-log-delivery",
                format!("{path}.logType"),
                format!("CloudFront's log type is ACCESS_LOGS, not {log_type}"),
            );
            continue;
        }
        if out.sources.iter().any(|s| s.name == name) {
            diags.error(
                "invalid-log-delivery",
                format!("{path}.name"),
                format!("delivery source {name} is declared twice"),
            );
            continue;
        }
        if let Some(other) = out.sources.iter().find(|s| s.resource_arn == arn) {
            diags
                .error(
                    "invalid-log-delivery",
                    format!("{path}.resourceArn"),
                    format!("distribution {arn} already has delivery source {}", other.name),
                )
                .hint("a distribution has one delivery source; give it several deliveries instead");
            continue;
        }
        out.sources.push(DeliverySource { name, resource_arn: arn, log_type, tags: string_tags(item) });
    }
    for (i, item) in array_at(root, "DeliveryDestinations", diags).iter().enumerate() {
        let item = unwrap_envelope(item, "deliveryDestination");
        let path = format!("$.DeliveryDestinations[{i}]");
        let name = text(item, "name").unwrap_or_default();
        if let Err(e) = lg::check_name("a delivery destination name", &name) {
            diags.error("invalid-log-delivery", format!("{path}.name"), e);
            continue;
        }
        let format = text(item, "outputFormat");
        if let Some(f) = &format
            && lg::OutputFormat::parse(f).is_none()
        {
            diags
                .error(
                    "invalid-log-delivery",
                    format!("{path}.outputFormat"),
                    format!("output format {f} is not one CloudFront writes to S3"),
                )
                .hint("json, plain, w3c or parquet");
            continue;
        }
        let arn = item.pointer("/deliveryDestinationConfiguration/destinationResourceArn").and_then(Value::as_str);
        let Some(arn) = arn.filter(|a| lg::s3_arn(a).is_some()) else {
            diags
                .error(
                    "invalid-log-delivery",
                    format!("{path}.deliveryDestinationConfiguration.destinationResourceArn"),
                    "a delivery destination needs the ARN of an S3 bucket (Cachalot delivers to S3 only)",
                )
                .hint("arn:aws:s3:::<bucket>[/<prefix>], with the bucket mapped to a folder under Buckets");
            continue;
        };
        if out.destinations.iter().any(|d| d.name == name) {
            diags.error(
                "invalid-log-delivery",
                format!("{path}.name"),
                format!("delivery destination {name} is declared twice"),
            );
            continue;
        }
        out.destinations.push(DeliveryDestination {
            name,
            output_format: format,
            destination_resource_arn: arn.to_owned(),
            tags: string_tags(item),
        });
    }
    for (i, item) in array_at(root, "Deliveries", diags).iter().enumerate() {
        let item = unwrap_envelope(item, "delivery");
        let path = format!("$.Deliveries[{i}]");
        let source = text(item, "deliverySourceName").unwrap_or_default();
        if !out.sources.iter().any(|s| s.name == source) {
            diags
                .error(
                    "invalid-log-delivery",
                    format!("{path}.deliverySourceName"),
                    format!("no delivery source named \"{source}\" in DeliverySources"),
                )
                .hint("declare the source under DeliverySources");
            continue;
        }
        let destination_arn = text(item, "deliveryDestinationArn");
        let destination_name = destination_arn
            .as_deref()
            .and_then(lg::destination_name_of)
            .map(str::to_owned)
            .or_else(|| text(item, "deliveryDestinationName"));
        let Some(destination) =
            destination_name.as_deref().and_then(|n| out.destinations.iter().find(|d| d.name == n)).cloned()
        else {
            diags
                .error(
                    "invalid-log-delivery",
                    format!("{path}.deliveryDestinationArn"),
                    "the delivery destination is not one of DeliveryDestinations",
                )
                .hint("name it by deliveryDestinationArn (arn:aws:logs:us-east-1:<account>:delivery-destination:<name>) or deliveryDestinationName");
            continue;
        };
        let destination_arn = destination_arn.unwrap_or_else(|| {
            format!("arn:aws:logs:us-east-1:123456789012:delivery-destination:{}", destination.name)
        });
        let fields: Option<Vec<String>> = item
            .get("recordFields")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect());
        if let Some(f) = &fields
            && let Err(e) = lg::check_record_fields(f)
        {
            diags
                .error("invalid-log-delivery", format!("{path}.recordFields"), e)
                .hint("`aws logs describe-configuration-templates --service cloudfront` lists the allowed fields");
            continue;
        }
        let delimiter = text(item, "fieldDelimiter").filter(|d| !d.is_empty());
        if let Some(d) = &delimiter
            && let Err(e) = lg::check_delimiter(d)
        {
            diags.error("invalid-log-delivery", format!("{path}.fieldDelimiter"), e);
            continue;
        }
        let s3 = item.get("s3DeliveryConfiguration");
        let suffix = s3.and_then(|c| text(c, "suffixPath"));
        if let Some(p) = &suffix
            && let Err(e) = lg::check_suffix_path(p)
        {
            diags.error("invalid-log-delivery", format!("{path}.s3DeliveryConfiguration.suffixPath"), e);
            continue;
        }
        let hive = s3.and_then(|c| c.get("enableHiveCompatiblePath")).and_then(Value::as_bool);
        if out.deliveries.iter().any(|d| {
            d.delivery_source_name == source
                && lg::destination_name_of(&d.delivery_destination_arn) == Some(destination.name.as_str())
        }) {
            diags.error("invalid-log-delivery", path, format!("{source} already delivers to {}", destination.name));
            continue;
        }
        let id = text(item, "id")
            .filter(|id| !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric()));
        let id = id.unwrap_or_else(|| base32_from(&format!("delivery:{source}:{}", destination.name), 16));
        let (_, prefix) = lg::s3_arn(&destination.destination_resource_arn).unwrap_or_default();
        out.deliveries.push(lg::new_delivery(
            id,
            &source,
            &destination_arn,
            prefix,
            fields,
            delimiter,
            suffix,
            hive,
            string_tags(item),
        ));
    }
    out
}

/// The `tags` object of an item, string values only.
fn string_tags(item: &Value) -> BTreeMap<String, String> {
    item.get("tags")
        .and_then(Value::as_object)
        .map(|m| m.iter().filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned()))).collect())
        .unwrap_or_default()
}

/// Reads key value store data: CloudFront's import format `{"data": [{"key", "value"}]}`
/// or a flat `{"key": "value"}` object.
pub fn parse_kvs_data(v: &Value, path: &str, diags: &mut Diagnostics) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Some(Value::Array(items)) = v.get("data") {
        for (i, item) in items.iter().enumerate() {
            match (item.get("key").and_then(Value::as_str), item.get("value")) {
                (Some(k), Some(Value::String(s))) => {
                    out.insert(k.to_owned(), s.clone());
                }
                (Some(k), Some(other)) => {
                    out.insert(k.to_owned(), other.to_string());
                }
                _ => {
                    diags.error("invalid-config", format!("{path}.data[{i}]"), "each item needs \"key\" and \"value\"");
                }
            }
        }
    } else if let Value::Object(map) = v {
        for (k, val) in map {
            out.insert(
                k.clone(),
                match val {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                },
            );
        }
    } else {
        diags.error(
            "invalid-config",
            path.to_owned(),
            "expected {\"data\": [{\"key\": ..., \"value\": ...}]} or an object of keys to values",
        );
    }
    out
}

fn unwrap_envelope<'a>(item: &'a Value, name: &str) -> &'a Value {
    item.get(name).filter(|v| v.is_object()).unwrap_or(item)
}

fn distribution_entry(item: &Value, i: usize, diags: &mut Diagnostics) -> Option<DistributionResource> {
    // Accept `get-distribution` output (`{"Distribution": {...}}`) and
    // `get-distribution-config` output (`{"ETag", "DistributionConfig"}`) as well.
    let item = unwrap_envelope(item, "Distribution");
    let path = format!("$.Distributions[{i}]");
    let Some(cfg_value) = item.get("DistributionConfig") else {
        diags
            .error("invalid-config", path, "a distribution needs a DistributionConfig")
            .hint("paste the output of `aws cloudfront get-distribution-config --id <id>` here");
        return None;
    };
    let config: wire::DistributionConfig = typed(Some(cfg_value), &format!("{path}.DistributionConfig"), diags)?;
    let seed =
        if config.caller_reference.is_empty() { format!("distribution-{i}") } else { config.caller_reference.clone() };
    let id = item.get("Id").and_then(Value::as_str).map(str::to_owned).unwrap_or_else(|| distribution_id_from(&seed));
    let domain_name =
        item.get("DomainName").and_then(Value::as_str).map(str::to_owned).unwrap_or_else(|| domain_name_from(&seed));
    Some(DistributionResource { id, domain_name, config })
}

fn function_entry(item: &Value, path: &str, diags: &mut Diagnostics) -> Option<FunctionEntry> {
    let name = item.get("Name").and_then(Value::as_str);
    let Some(name) = name.filter(|n| {
        !n.is_empty() && n.len() <= 64 && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    }) else {
        diags.error(
            "invalid-config",
            format!("{path}.Name"),
            "a function needs a Name of 1 to 64 letters, digits, - or _",
        );
        return None;
    };
    let cfg = item.get("FunctionConfig");
    let runtime = cfg.and_then(|c| c.get("Runtime")).and_then(Value::as_str).unwrap_or("cloudfront-js-2.0");
    if runtime != "cloudfront-js-1.0" && runtime != "cloudfront-js-2.0" {
        diags
            .error(
                "InvalidArgument",
                format!("{path}.FunctionConfig.Runtime"),
                format!("unknown runtime \"{runtime}\""),
            )
            .hint("expected cloudfront-js-1.0 or cloudfront-js-2.0");
    }
    let comment = cfg.and_then(|c| c.get("Comment")).and_then(Value::as_str).unwrap_or("").to_owned();
    let mut key_value_stores = Vec::new();
    if let Some(items) = cfg.and_then(|c| c.pointer("/KeyValueStoreAssociations/Items")).and_then(Value::as_array) {
        for a in items {
            if let Some(arn) = a.get("KeyValueStoreARN").and_then(Value::as_str) {
                key_value_stores.push(arn.rsplit('/').next().unwrap_or(arn).to_owned());
            }
        }
    }
    if let Some(names) = item.get("KeyValueStores").and_then(Value::as_array) {
        key_value_stores.extend(names.iter().filter_map(Value::as_str).map(str::to_owned));
    }
    let code_file = item.get("CodeFile").and_then(Value::as_str).map(str::to_owned);
    let code = item.get("Code").and_then(Value::as_str).map(str::to_owned);
    if code_file.is_none() && code.is_none() {
        diags.error("invalid-config", path.to_owned(), "a function needs CodeFile (a path to its .js file) or Code");
        return None;
    }
    Some(FunctionEntry {
        name: name.to_owned(),
        runtime: runtime.to_owned(),
        comment,
        code_file,
        code,
        key_value_stores,
    })
}

fn pop(item: &Value, path: &str, diags: &mut Diagnostics) -> Option<PopConfig> {
    let Value::Object(map) = item else {
        diags.error("invalid-config", path.to_owned(), "a POP is an object {\"Id\", \"Listen\", \"Region\"}");
        return None;
    };
    const KEYS: &[&str] = &[
        "Id",
        "Listen",
        "Region",
        "CacheSize",
        "DiskCacheSize",
        "DiskCachePath",
        "TlsListen",
        "Certificate",
        "PrivateKey",
    ];
    for k in map.keys() {
        if !KEYS.contains(&k.as_str()) {
            diags
                .error("unknown-field", format!("{path}.{k}"), format!("unknown POP field \"{k}\""))
                .hint(format!("POP fields: {}", KEYS.join(", ")));
        }
    }
    let id = match map.get("Id").and_then(Value::as_str) {
        Some(id) if !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') => id.to_owned(),
        _ => {
            diags.error(
                "invalid-config",
                format!("{path}.Id"),
                "a POP needs an Id such as \"LHR50-C1\" (letters, digits and -)",
            );
            return None;
        }
    };
    let listen = map.get("Listen").and_then(Value::as_str).map(str::to_owned);
    let region =
        map.get("Region").and_then(Value::as_str).map(str::to_owned).unwrap_or_else(|| region_for_pop(&id).to_owned());
    let cache_bytes = size_at(item, "CacheSize", path, diags).unwrap_or(DEFAULT_CACHE_BYTES);
    let disk = disk_at(item, path, diags);
    let tls = match (map.get("TlsListen"), map.get("Certificate"), map.get("PrivateKey")) {
        (None, None, None) => None,
        (Some(Value::String(l)), Some(Value::String(c)), Some(Value::String(k))) => {
            Some(TlsListener { listen: l.clone(), certificate_file: c.clone(), private_key_file: k.clone() })
        }
        _ => {
            diags
                .error(
                    "invalid-config",
                    path.to_owned(),
                    "an HTTPS listener needs TlsListen, Certificate and PrivateKey together",
                )
                .hint("Certificate and PrivateKey are PEM files");
            None
        }
    };
    if listen.is_none() && tls.is_none() {
        diags.error("invalid-config", format!("{path}.Listen"), "a POP needs Listen (HTTP) or TlsListen (HTTPS)");
        return None;
    }
    Some(PopConfig { id, listen, region, cache_bytes, disk, tls })
}

/// `DiskCacheSize` and `DiskCachePath` of a POP or regional cache: a disk tier when the size
/// is above zero.
fn disk_at(item: &Value, path: &str, diags: &mut Diagnostics) -> Option<DiskCache> {
    let bytes = size_at(item, "DiskCacheSize", path, diags);
    let folder = match item.get("DiskCachePath") {
        None => None,
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(other) => {
            diags
                .error("invalid-config", format!("{path}.DiskCachePath"), format!("expected a folder, found {other}"))
                .hint("a path such as \"/var/cache/cachalot/LHR50-C1\" (relative paths are from the config file)");
            None
        }
    };
    match (bytes, folder) {
        (Some(0) | None, None) => None,
        (Some(0) | None, Some(_)) => {
            diags
                .error("invalid-config", format!("{path}.DiskCachePath"), "DiskCachePath without a DiskCacheSize")
                .hint("add \"DiskCacheSize\": \"20GiB\" (the disk tier's size) or remove DiskCachePath");
            None
        }
        (Some(bytes), path) => Some(DiskCache { bytes, path }),
    }
}

/// A node id: what `Node.Id` accepts.
pub fn valid_node_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// The size at `item[key]`, reporting an unreadable one.
fn size_at(item: &Value, key: &str, path: &str, diags: &mut Diagnostics) -> Option<u64> {
    let v = item.get(key)?;
    let size = parse_size(v);
    if size.is_none() {
        diags
            .error("invalid-config", format!("{path}.{key}"), format!("cannot read {v} as a size"))
            .hint("use bytes (268435456) or a string such as \"256MiB\" or \"2GB\"");
    }
    size
}

/// Parses `268435456`, `"256MiB"`, `"2GB"`, `"512k"`.
pub fn parse_size(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => {
            let s = s.trim();
            let split = s.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(s.len());
            let (num, unit) = s.split_at(split);
            let num: f64 = num.parse().ok()?;
            let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
                "" | "b" => 1.0,
                "k" | "kb" => 1e3,
                "kib" => 1024.0,
                "m" | "mb" => 1e6,
                "mib" => 1024.0 * 1024.0,
                "g" | "gb" => 1e9,
                "gib" => 1024.0 * 1024.0 * 1024.0,
                _ => return None,
            };
            (num >= 0.0).then_some((num * mult) as u64)
        }
        _ => None,
    }
}

/// A plausible AWS region for a POP code's airport (used when `Region` is not given).
pub fn region_for_pop(id: &str) -> &'static str {
    let airport = id.get(..3).unwrap_or("").to_ascii_uppercase();
    match airport.as_str() {
        "LHR" | "MAN" | "EDI" => "eu-west-2",
        "DUB" => "eu-west-1",
        "FRA" | "MUC" | "TXL" | "BER" | "HAM" | "DUS" => "eu-central-1",
        "CDG" | "MRS" => "eu-west-3",
        "ARN" | "HEL" | "CPH" | "OSL" => "eu-north-1",
        "MXP" | "FCO" => "eu-south-1",
        "SFO" | "SJC" | "LAX" => "us-west-1",
        "SEA" | "PDX" => "us-west-2",
        "ORD" | "CMH" | "DFW" | "DEN" => "us-east-2",
        "NRT" | "HND" | "KIX" => "ap-northeast-1",
        "ICN" => "ap-northeast-2",
        "SIN" => "ap-southeast-1",
        "SYD" | "MEL" => "ap-southeast-2",
        "BOM" | "DEL" | "MAA" | "BLR" => "ap-south-1",
        "GRU" | "GIG" => "sa-east-1",
        "YUL" | "YYZ" => "ca-central-1",
        _ => "us-east-1",
    }
}

fn string_at(root: &Map<String, Value>, key: &str, diags: &mut Diagnostics) -> Option<String> {
    match root.get(key) {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => {
            diags.error("invalid-config", format!("$.{key}"), format!("{key} must be a string, found {}", kind(other)));
            None
        }
    }
}

/// `Buckets`: a bucket name to a folder (`"site"`), or to `{"Folder": "site", "Private": true}`.
fn buckets_at(
    root: &Map<String, Value>,
    diags: &mut Diagnostics,
) -> (BTreeMap<String, String>, std::collections::BTreeSet<String>) {
    let mut folders = BTreeMap::new();
    let mut private = std::collections::BTreeSet::new();
    let Some(value) = root.get("Buckets") else { return (folders, private) };
    let Value::Object(map) = value else {
        diags.error("invalid-config", "$.Buckets", format!("Buckets must be an object, found {}", kind(value)));
        return (folders, private);
    };
    for (bucket, v) in map {
        match v {
            Value::String(dir) => {
                folders.insert(bucket.clone(), dir.clone());
            }
            Value::Object(o) => {
                for k in o.keys().filter(|k| *k != "Folder" && *k != "Private") {
                    diags
                        .error(
                            "unknown-field",
                            format!("$.Buckets.{bucket}.{k}"),
                            format!("unknown bucket field \"{k}\""),
                        )
                        .hint("a bucket is \"folder\" or {\"Folder\": \"folder\", \"Private\": true}");
                }
                match (o.get("Folder"), o.get("Private")) {
                    (Some(Value::String(dir)), p @ (None | Some(Value::Bool(_)))) => {
                        folders.insert(bucket.clone(), dir.clone());
                        if p == Some(&Value::Bool(true)) {
                            private.insert(bucket.clone());
                        }
                    }
                    _ => {
                        diags
                            .error(
                                "invalid-config",
                                format!("$.Buckets.{bucket}"),
                                "a bucket needs a Folder string and an optional Private boolean",
                            )
                            .hint("for example {\"Folder\": \"site\", \"Private\": true}");
                    }
                }
            }
            other => {
                diags.error(
                    "invalid-config",
                    format!("$.Buckets.{bucket}"),
                    format!("expected a folder or an object, found {}", kind(other)),
                );
            }
        }
    }
    (folders, private)
}

fn string_map_at(root: &Map<String, Value>, key: &str, diags: &mut Diagnostics) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    match root.get(key) {
        None => {}
        Some(Value::Object(m)) => {
            for (k, v) in m {
                match v {
                    Value::String(s) => {
                        out.insert(k.clone(), s.clone());
                    }
                    other => {
                        diags.error(
                            "invalid-config",
                            format!("$.{key}.{k}"),
                            format!("expected a string, found {}", kind(other)),
                        );
                    }
                }
            }
        }
        Some(other) => {
            diags.error(
                "invalid-config",
                format!("$.{key}"),
                format!("{key} must be an object, found {}", kind(other)),
            );
        }
    }
    out
}

fn array_at<'a>(root: &'a Map<String, Value>, key: &str, diags: &mut Diagnostics) -> &'a [Value] {
    match root.get(key) {
        None => &[],
        Some(Value::Array(a)) => a,
        Some(other) => {
            diags.error("invalid-config", format!("$.{key}"), format!("{key} must be a list, found {}", kind(other)));
            &[]
        }
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Deserializes `value` as `T`, reporting the first type error with its path and
/// every unknown field as a warning.
pub fn typed<T: DeserializeOwned>(value: Option<&Value>, path: &str, diags: &mut Diagnostics) -> Option<T> {
    let Some(value) = value else {
        diags.error("invalid-config", path.to_owned(), "missing");
        return None;
    };
    let mut unknown = Vec::new();
    let mut record = |p: serde_ignored::Path<'_>| unknown.push(p.to_string());
    let de = serde_ignored::Deserializer::new(value, &mut record);
    let result: Result<T, _> = serde_path_to_error::deserialize(de);
    for u in unknown {
        diags
            .warning(
                "unknown-field",
                join_path(path, &u),
                format!("unknown field \"{}\" is ignored", u.rsplit('.').next().unwrap_or(&u)),
            )
            .hint(
                "check the spelling against the AWS CLI's output; fields newer than Cachalot are kept but not acted on",
            );
    }
    match result {
        Ok(v) => Some(v),
        Err(e) => {
            let at = e.path().to_string();
            let inner = e.into_inner().to_string();
            let hint = if inner.contains("missing field") {
                "add the field; the AWS CLI's get-* output always includes it"
            } else {
                "compare with the AWS CLI's JSON for this resource"
            };
            diags.error("invalid-config", join_path(path, if at == "." { "" } else { &at }), inner).hint(hint);
            None
        }
    }
}

fn join_path(base: &str, rel: &str) -> String {
    if rel.is_empty() || rel == "?" {
        base.to_owned()
    } else if rel.starts_with('[') {
        format!("{base}{rel}")
    } else {
        format!("{base}.{rel}")
    }
}

/// The closest candidate within edit distance 2, for "did you mean" hints.
pub fn suggest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (edit_distance(&word.to_ascii_lowercase(), &c.to_ascii_lowercase()), *c))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// FNV-1a, for ids derived deterministically from names.
pub fn fnv1a(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in data {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

const BASE32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

fn base32_from(seed: &str, len: usize) -> String {
    let mut h = fnv1a(seed.as_bytes());
    let mut h2 = fnv1a(format!("{seed}#").as_bytes());
    (0..len)
        .map(|_| {
            let c = BASE32[(h & 31) as usize] as char;
            h = (h >> 5) | (h2 << 59);
            h2 >>= 5;
            c
        })
        .collect()
}

/// A distribution id (`E` + 13 characters) derived from a seed.
pub fn distribution_id_from(seed: &str) -> String {
    format!("E{}", base32_from(seed, 13))
}

/// A `dxxxxxxxxxxxxx.cloudfront.net` domain derived from a seed.
pub fn domain_name_from(seed: &str) -> String {
    format!("d{}.cloudfront.net", base32_from(&format!("domain:{seed}"), 13).to_ascii_lowercase())
}

/// A public key id (`K` + 13 characters, like CloudFront's) derived from a seed.
pub fn public_key_id_from(seed: &str) -> String {
    format!("K{}", base32_from(&format!("public-key:{seed}"), 13))
}

/// A UUID-shaped policy id derived from a name.
pub fn uuid_from(seed: &str) -> String {
    let a = fnv1a(seed.as_bytes());
    let b = fnv1a(format!("{seed}/uuid").as_bytes());
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size(&Value::from(10)), Some(10));
        assert_eq!(parse_size(&Value::from("256MiB")), Some(256 * 1024 * 1024));
        assert_eq!(parse_size(&Value::from("2GB")), Some(2_000_000_000));
        assert_eq!(parse_size(&Value::from("lots")), None);
    }

    #[test]
    fn disk_caches_parse_with_their_folders() {
        let (f, d) = parse(
            r#"{"Pops": [{"Id": "LHR50-C1", "Listen": "127.0.0.1:1", "CacheSize": "8MiB", "DiskCacheSize": "2GiB"},
                         {"Id": "FRA50-C1", "Listen": "127.0.0.1:2", "DiskCacheSize": "1GiB", "DiskCachePath": "/c/fra"},
                         {"Id": "CDG50-C1", "Listen": "127.0.0.1:3"}],
                "RegionalCaches": [{"Region": "eu-west-2", "Listen": "127.0.0.1:4", "DiskCacheSize": 1000}]}"#,
        );
        assert!(!d.has_errors(), "{:?}", d.items());
        assert_eq!(f.pops[0].disk, Some(DiskCache { bytes: 2 << 30, path: None }));
        assert_eq!(f.pops[0].cache_bytes, 8 << 20);
        assert_eq!(f.pops[1].disk, Some(DiskCache { bytes: 1 << 30, path: Some("/c/fra".into()) }));
        assert_eq!(f.pops[2].disk, None);
        assert_eq!(f.regional_caches[0].disk, Some(DiskCache { bytes: 1000, path: None }));
        let (_, d) = parse(
            r#"{"Pops": [{"Id": "A", "Listen": "x", "DiskCacheSize": "lots"}, {"Id": "B", "Listen": "y", "DiskCachePath": "/c"}]}"#,
        );
        let paths: Vec<&str> = d.items().iter().map(|i| i.path.as_str()).collect();
        assert_eq!(paths, ["$.Pops[0].DiskCacheSize", "$.Pops[1].DiskCachePath"]);
    }

    #[test]
    fn ids_are_stable_and_shaped() {
        let id = distribution_id_from("ref-1");
        assert_eq!(id, distribution_id_from("ref-1"));
        assert_eq!(id.len(), 14);
        assert!(domain_name_from("ref-1").ends_with(".cloudfront.net"));
        assert_eq!(uuid_from("x").len(), 36);
    }

    #[test]
    fn syntax_error_names_the_position() {
        let (_, d) = parse("{\n  \"Pops\": [}\n");
        assert!(d.has_errors());
        assert!(d.items()[0].path.starts_with("line 2"), "{:?}", d.items());
    }

    #[test]
    fn unknown_top_level_key_suggests_the_right_one() {
        let (_, d) = parse(r#"{"Distribution": []}"#);
        assert_eq!(d.items()[0].hint.as_deref(), Some("did you mean \"Distributions\"?"));
    }
}
