//! Configs where users keep them: CloudFormation templates (JSON or YAML, which `cdk synth`
//! also writes), `terraform show -json` output (plan or state) and Terraform `.tf` files. Each
//! reader turns the CloudFront resources it finds into the AWS CLI's JSON shapes (what
//! [`crate::input`] reads), with the line of the resource, and names in a note every value it
//! could not resolve (a parameter without a default, an import, a variable, an expression).

pub mod cloudformation;
pub mod hcl;
pub mod terraform;
pub mod yaml;

use serde_json::{Map, Value, json};

/// The CloudFront resource kinds the readers recognise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A distribution (`DistributionConfig`).
    Distribution,
    /// A cache policy (`CachePolicyConfig`).
    CachePolicy,
    /// An origin request policy (`OriginRequestPolicyConfig`).
    OriginRequestPolicy,
    /// A response headers policy (`ResponseHeadersPolicyConfig`).
    ResponseHeadersPolicy,
    /// A CloudFront Function.
    Function,
    /// An origin access control (`OriginAccessControlConfig`).
    OriginAccessControl,
}

/// One resource, in the AWS CLI's shape.
#[derive(Debug, Clone)]
pub struct Resource {
    /// What it is.
    pub kind: Kind,
    /// Where it is, in the file's own terms (`Resources.Site`, `aws_cloudfront_distribution.site`).
    pub path: String,
    /// 1-based line of the resource, when known.
    pub line: Option<usize>,
    /// The id other resources refer to it by (real, or derived from its name).
    pub id: String,
    /// The config (`DistributionConfig`, `CachePolicyConfig`, …); for a function, its
    /// `Name`, `Runtime` and `Code`.
    pub config: Value,
    /// The file it is in, when a reader reads several (a Terraform module's `.tf` files).
    pub file: Option<String>,
}

/// What a reader found.
#[derive(Debug, Default)]
pub struct Found {
    /// The CloudFront resources.
    pub resources: Vec<Resource>,
    /// What could not be resolved or was skipped, each naming where.
    pub notes: Vec<String>,
}

/// A value that cannot be resolved from the file alone: a placeholder that names it.
pub(crate) fn unresolved(what: &str) -> Value {
    Value::String(format!("<{what}>"))
}

/// Whether a value is such a placeholder.
pub(crate) fn is_unresolved(v: &Value) -> bool {
    v.as_str().is_some_and(|s| s.starts_with('<') && s.ends_with('>'))
}

/// `{"Quantity": n, "Items": [...]}`.
pub(crate) fn listed(items: Vec<Value>) -> Value {
    if items.is_empty() { json!({"Quantity": 0}) } else { json!({"Quantity": items.len(), "Items": items}) }
}

/// Fixes, after conversion, what the edge's validation would refuse although CloudFront takes
/// the template: placeholders where an id or a name must be well formed. Each is a note.
pub(crate) fn settle_placeholders(config: &mut Value, at: &str, notes: &mut Vec<String>) {
    let Some(cfg) = config.as_object_mut() else { return };
    if let Some(origins) = cfg.get_mut("Origins").and_then(|o| o.get_mut("Items")).and_then(Value::as_array_mut) {
        for (i, o) in origins.iter_mut().enumerate() {
            if o.get("DomainName").is_some_and(is_unresolved) {
                let id = o.get("Id").and_then(Value::as_str).unwrap_or("origin").to_owned();
                notes.push(format!(
                    "{at}: Origins[{i}].DomainName is not known from the file; the origin is taken as a server \
                     (what it serves is guessed from the path patterns alone)"
                ));
                o["DomainName"] = Value::from(format!("{}.unresolved.invalid", id.to_ascii_lowercase()));
            }
        }
    }
    if let Some(cert) = cfg.get_mut("ViewerCertificate").and_then(Value::as_object_mut)
        && cert.get("ACMCertificateArn").is_some_and(is_unresolved)
    {
        cert.insert(
            "ACMCertificateArn".into(),
            Value::from("arn:aws:acm:us-east-1:000000000000:certificate/00000000-0000-0000-0000-000000000000"),
        );
    }
    if let Some(d) = cfg.get_mut("DefaultCacheBehavior") {
        settle_behavior(d, at, notes);
    }
    if let Some(items) = cfg.get_mut("CacheBehaviors").and_then(|c| c.get_mut("Items")).and_then(Value::as_array_mut) {
        for b in items {
            settle_behavior(b, at, notes);
        }
    }
}

fn settle_behavior(b: &mut Value, at: &str, notes: &mut Vec<String>) {
    let pattern = b.get("PathPattern").and_then(Value::as_str).unwrap_or("*").to_owned();
    if let Some(list) = b.get_mut("FunctionAssociations").and_then(Value::as_object_mut) {
        let items = list.get("Items").and_then(Value::as_array).cloned().unwrap_or_default();
        let (keep, drop): (Vec<Value>, Vec<Value>) =
            items.into_iter().partition(|f| !f.get("FunctionARN").is_some_and(is_unresolved));
        for f in &drop {
            notes.push(format!(
                "{at}: behavior {pattern}: the function {} is not known from the file; its association is left out",
                f.get("FunctionARN").and_then(Value::as_str).unwrap_or("")
            ));
        }
        if !drop.is_empty() {
            *list = listed(keep).as_object().cloned().unwrap_or_default();
        }
    }
    let Some(obj) = b.as_object_mut() else { return };
    for field in ["OriginRequestPolicyId", "ResponseHeadersPolicyId", "FieldLevelEncryptionId", "RealtimeLogConfigArn"]
    {
        if obj.get(field).is_some_and(is_unresolved) {
            notes.push(format!(
                "{at}: behavior {pattern}: {field} {} is not known from the file; it does not change the cache key \
                 and is left out",
                obj.get(field).and_then(Value::as_str).unwrap_or("")
            ));
            obj.remove(field);
        }
    }
}

/// Drops `null`s from an object (absent attributes in Terraform's JSON, `AWS::NoValue`).
pub(crate) fn compact(map: Map<String, Value>) -> Value {
    Value::Object(map.into_iter().filter(|(_, v)| !v.is_null()).collect())
}
