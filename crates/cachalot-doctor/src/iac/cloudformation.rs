//! CloudFormation templates (JSON, or YAML read by [`super::yaml`]) and `cdk synth` output:
//! `AWS::CloudFront::Distribution`, `CachePolicy`, `OriginRequestPolicy`,
//! `ResponseHeadersPolicy` and `Function` resources, their properties turned into the AWS CLI's
//! shapes (<https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-cloudfront-distribution.html>).
//!
//! Intrinsic functions are evaluated where the template alone decides them: `Ref` to a
//! parameter's `Default`, to pseudo parameters (`AWS::Region` is taken as `us-east-1`), to the
//! template's own buckets, policies and functions; `Fn::GetAtt` of a bucket's domain names or a
//! function's ARN; `Fn::Sub`, `Fn::Join`, `Fn::Select`, `Fn::Split`, `Fn::FindInMap`, and
//! `Fn::If` on conditions built from parameter defaults. Anything else (`Fn::ImportValue`, a
//! parameter without a default, another resource's attribute) is left unresolved and named in
//! a note.

use super::{Found, Kind, Resource, compact, is_unresolved, listed, settle_placeholders, unresolved};
use cachalot_config::file;
use serde_json::{Map, Value, json};

/// Whether a JSON document is a CloudFormation template.
pub fn is_template(root: &Value) -> bool {
    root.get("Resources").and_then(Value::as_object).is_some_and(|r| {
        root.get("AWSTemplateFormatVersion").is_some()
            || r.values().any(|v| v.get("Type").and_then(Value::as_str).is_some_and(|t| t.starts_with("AWS::")))
    })
}

/// Reads a template; `line_of` gives the line of a resource by logical id.
pub fn read(root: &Value, line_of: &dyn Fn(&str) -> Option<usize>) -> Found {
    let mut found = Found::default();
    let Some(resources) = root.get("Resources").and_then(Value::as_object) else { return found };
    let cx = Template { root, resources };
    for (logical, res) in resources {
        let ty = res.get("Type").and_then(Value::as_str).unwrap_or("");
        let (kind, config_key) = match ty {
            "AWS::CloudFront::Distribution" => (Kind::Distribution, "DistributionConfig"),
            "AWS::CloudFront::CachePolicy" => (Kind::CachePolicy, "CachePolicyConfig"),
            "AWS::CloudFront::OriginRequestPolicy" => (Kind::OriginRequestPolicy, "OriginRequestPolicyConfig"),
            "AWS::CloudFront::ResponseHeadersPolicy" => (Kind::ResponseHeadersPolicy, "ResponseHeadersPolicyConfig"),
            "AWS::CloudFront::Function" => (Kind::Function, ""),
            "AWS::CloudFront::OriginAccessControl" => (Kind::OriginAccessControl, "OriginAccessControlConfig"),
            _ => continue,
        };
        let at = format!("Resources.{logical}");
        if let Some(cond) = res.get("Condition").and_then(Value::as_str)
            && cx.condition(cond, &mut Vec::new()) == Some(false)
        {
            found.notes.push(format!("{at}: condition {cond} is false with the parameters' defaults; skipped"));
            continue;
        }
        let mut notes = Vec::new();
        let props = res.get("Properties").cloned().unwrap_or(Value::Null);
        let props = cx.resolve(&props, &format!("{at}.Properties"), &mut notes).unwrap_or(Value::Null);
        let line = line_of(logical);
        let resource = match kind {
            Kind::Function => {
                let name = props.get("Name").filter(|v| !is_unresolved(v)).and_then(Value::as_str);
                let name = name.map_or_else(|| logical.clone(), str::to_owned);
                let runtime =
                    props.pointer("/FunctionConfig/Runtime").and_then(Value::as_str).unwrap_or("cloudfront-js-1.0");
                let code = props.get("FunctionCode").filter(|v| !is_unresolved(v)).and_then(Value::as_str);
                if code.is_none() {
                    notes.push(format!(
                        "{at}.Properties.FunctionCode: the code is not in the template; it is not examined"
                    ));
                }
                Resource {
                    kind,
                    path: format!("{at}.Properties.FunctionCode"),
                    line,
                    id: name.clone(),
                    config: json!({"Name": name, "Runtime": runtime, "Code": code}),
                    file: None,
                }
            }
            _ => {
                let config = props.get(config_key).cloned().unwrap_or(Value::Null);
                let path = format!("{at}.Properties.{config_key}");
                let mut config = to_cli_shape(config, config_key);
                if kind == Kind::Distribution {
                    if let Some(m) = config.as_object_mut() {
                        m.entry("CallerReference").or_insert_with(|| Value::from(logical.clone()));
                        m.entry("Comment").or_insert_with(|| Value::from(""));
                    }
                    settle_placeholders(&mut config, &path, &mut notes);
                }
                Resource { kind, path, line, id: cx.id_of(logical, ty), config, file: None }
            }
        };
        found.notes.extend(notes);
        found.resources.push(resource);
    }
    found
}

struct Template<'a> {
    root: &'a Value,
    resources: &'a Map<String, Value>,
}

const REGION: &str = "us-east-1";

impl Template<'_> {
    fn id_of(&self, logical: &str, ty: &str) -> String {
        match ty {
            "AWS::CloudFront::Distribution" => file::distribution_id_from(logical),
            _ => file::uuid_from(&format!("cloudformation:{logical}")),
        }
    }

    fn bucket_name(&self, logical: &str, notes: &mut Vec<String>) -> String {
        let name = self.resources.get(logical).and_then(|r| r.pointer("/Properties/BucketName"));
        match name.and_then(|n| self.resolve(n, logical, notes)) {
            Some(Value::String(s)) if !s.starts_with('<') => s,
            _ => logical.to_ascii_lowercase(),
        }
    }

    fn function_arn(&self, logical: &str, notes: &mut Vec<String>) -> Value {
        let name = self.resources.get(logical).and_then(|r| r.pointer("/Properties/Name"));
        let name = match name.and_then(|n| self.resolve(n, logical, notes)) {
            Some(Value::String(s)) if !s.starts_with('<') => s,
            _ => logical.to_owned(),
        };
        Value::from(format!("arn:aws:cloudfront::000000000000:function/{name}"))
    }

    fn reference(&self, name: &str, at: &str, notes: &mut Vec<String>) -> Option<Value> {
        match name {
            "AWS::NoValue" => return None,
            "AWS::Region" => return Some(Value::from(REGION)),
            "AWS::AccountId" => return Some(Value::from("000000000000")),
            "AWS::Partition" => return Some(Value::from("aws")),
            "AWS::URLSuffix" => return Some(Value::from("amazonaws.com")),
            "AWS::StackName" => return Some(Value::from("stack")),
            _ => {}
        }
        if let Some(p) = self.root.get("Parameters").and_then(|p| p.get(name)) {
            return Some(match p.get("Default") {
                Some(d) => d.clone(),
                None => {
                    notes
                        .push(format!("{at}: parameter {name} has no Default; pass a template with one to resolve it"));
                    unresolved(&format!("!Ref {name}"))
                }
            });
        }
        if let Some(r) = self.resources.get(name) {
            let ty = r.get("Type").and_then(Value::as_str).unwrap_or("");
            return Some(match ty {
                "AWS::S3::Bucket" => Value::from(self.bucket_name(name, notes)),
                "AWS::CloudFront::Function" => self.function_arn(name, notes),
                t if t.starts_with("AWS::CloudFront::") => Value::from(self.id_of(name, t)),
                _ => {
                    notes.push(format!("{at}: !Ref {name} ({ty}) is not known from the template"));
                    unresolved(&format!("!Ref {name}"))
                }
            });
        }
        notes.push(format!("{at}: !Ref {name} names nothing in the template"));
        Some(unresolved(&format!("!Ref {name}")))
    }

    fn get_att(&self, logical: &str, attr: &str, at: &str, notes: &mut Vec<String>) -> Value {
        let ty = self.resources.get(logical).and_then(|r| r.get("Type")).and_then(Value::as_str).unwrap_or("");
        match (ty, attr) {
            ("AWS::S3::Bucket", "DomainName") => {
                Value::from(format!("{}.s3.amazonaws.com", self.bucket_name(logical, notes)))
            }
            ("AWS::S3::Bucket", "RegionalDomainName") => {
                Value::from(format!("{}.s3.{REGION}.amazonaws.com", self.bucket_name(logical, notes)))
            }
            ("AWS::S3::Bucket", "DualStackDomainName") => {
                Value::from(format!("{}.s3.dualstack.{REGION}.amazonaws.com", self.bucket_name(logical, notes)))
            }
            ("AWS::S3::Bucket", "WebsiteURL") => {
                Value::from(format!("http://{}.s3-website-{REGION}.amazonaws.com", self.bucket_name(logical, notes)))
            }
            ("AWS::CloudFront::Function", "FunctionARN" | "FunctionMetadata.FunctionARN") => {
                self.function_arn(logical, notes)
            }
            (t, "Id") if t.starts_with("AWS::CloudFront::") => Value::from(self.id_of(logical, t)),
            _ => {
                notes.push(format!("{at}: !GetAtt {logical}.{attr} is not known from the template"));
                unresolved(&format!("!GetAtt {logical}.{attr}"))
            }
        }
    }

    fn condition(&self, name: &str, notes: &mut Vec<String>) -> Option<bool> {
        let c = self.root.get("Conditions")?.get(name)?;
        self.truth(c, notes)
    }

    fn truth(&self, c: &Value, notes: &mut Vec<String>) -> Option<bool> {
        let (f, args) = c.as_object().and_then(|m| m.iter().next())?;
        let list = args.as_array();
        match f.as_str() {
            "Condition" => self.condition(args.as_str()?, notes),
            "Fn::Not" => Some(!self.truth(list?.first()?, notes)?),
            "Fn::And" => list?.iter().map(|x| self.truth(x, notes)).try_fold(true, |a, b| Some(a && b?)),
            "Fn::Or" => list?.iter().map(|x| self.truth(x, notes)).try_fold(false, |a, b| Some(a || b?)),
            "Fn::Equals" => {
                let l = list?;
                let a = self.resolve(l.first()?, "", notes)?;
                let b = self.resolve(l.get(1)?, "", notes)?;
                if is_unresolved(&a) || is_unresolved(&b) {
                    return None;
                }
                Some(scalar_text(&a) == scalar_text(&b))
            }
            _ => None,
        }
    }

    /// Evaluates intrinsic functions; `None` is `AWS::NoValue` (the key is dropped).
    fn resolve(&self, v: &Value, at: &str, notes: &mut Vec<String>) -> Option<Value> {
        match v {
            Value::Array(items) => {
                Some(Value::Array(items.iter().filter_map(|i| self.resolve(i, at, notes)).collect()))
            }
            Value::Object(m) if m.len() == 1 => {
                let (k, arg) = m.iter().next()?;
                let short = k.trim_start_matches("Fn::");
                match k.as_str() {
                    "Ref" => match arg.as_str() {
                        Some(name) => self.reference(name, at, notes),
                        None => Some(unresolved("!Ref")),
                    },
                    "Fn::GetAtt" => {
                        let (a, b) = match arg {
                            Value::Array(p) => (
                                p.first().and_then(Value::as_str).unwrap_or("").to_owned(),
                                p.get(1).and_then(Value::as_str).unwrap_or("").to_owned(),
                            ),
                            Value::String(s) => {
                                let (a, b) = s.split_once('.').unwrap_or((s, ""));
                                (a.to_owned(), b.to_owned())
                            }
                            _ => (String::new(), String::new()),
                        };
                        Some(self.get_att(&a, &b, at, notes))
                    }
                    "Fn::Sub" => Some(self.sub(arg, at, notes)),
                    "Fn::Join" => {
                        let l = arg.as_array()?;
                        let sep = l.first().and_then(Value::as_str).unwrap_or("");
                        let parts = self.resolve(l.get(1)?, at, notes)?;
                        let parts = parts.as_array()?;
                        if parts.iter().any(is_unresolved) {
                            return Some(unresolved("!Join"));
                        }
                        Some(Value::from(parts.iter().map(scalar_text).collect::<Vec<_>>().join(sep)))
                    }
                    "Fn::Select" => {
                        let l = arg.as_array()?;
                        let i = self.resolve(l.first()?, at, notes)?;
                        let i = scalar_text(&i).parse::<usize>().ok()?;
                        let list = self.resolve(l.get(1)?, at, notes)?;
                        Some(list.as_array().and_then(|a| a.get(i)).cloned().unwrap_or_else(|| unresolved("!Select")))
                    }
                    "Fn::Split" => {
                        let l = arg.as_array()?;
                        let sep = l.first().and_then(Value::as_str).unwrap_or(",");
                        let s = self.resolve(l.get(1)?, at, notes)?;
                        if is_unresolved(&s) {
                            return Some(unresolved("!Split"));
                        }
                        Some(Value::Array(scalar_text(&s).split(sep).map(Value::from).collect()))
                    }
                    "Fn::FindInMap" => {
                        let l = arg.as_array()?;
                        let keys: Vec<String> =
                            l.iter().filter_map(|x| self.resolve(x, at, notes)).map(|x| scalar_text(&x)).collect();
                        let found = keys
                            .get(..3)
                            .and_then(|k| self.root.get("Mappings")?.get(&k[0])?.get(&k[1])?.get(&k[2]).cloned());
                        Some(found.unwrap_or_else(|| {
                            notes
                                .push(format!("{at}: !FindInMap {} is not in the template's Mappings", keys.join(" ")));
                            unresolved("!FindInMap")
                        }))
                    }
                    "Fn::If" => {
                        let l = arg.as_array()?;
                        let name = l.first().and_then(Value::as_str).unwrap_or("");
                        match self.condition(name, notes) {
                            Some(true) => self.resolve(l.get(1)?, at, notes),
                            Some(false) => self.resolve(l.get(2)?, at, notes),
                            None => {
                                notes.push(format!(
                                    "{at}: condition {name} cannot be decided from the template; its first branch is read"
                                ));
                                self.resolve(l.get(1)?, at, notes)
                            }
                        }
                    }
                    "Fn::Base64" => self.resolve(arg, at, notes),
                    k if k.starts_with("Fn::") => {
                        let what = match arg.as_str() {
                            Some(a) => format!("!{short} {a}"),
                            None => format!("!{short}"),
                        };
                        notes.push(format!("{at}: {what} is not known from the template"));
                        Some(unresolved(&what))
                    }
                    _ => self.resolve_map(m, at, notes),
                }
            }
            Value::Object(m) => self.resolve_map(m, at, notes),
            other => Some(other.clone()),
        }
    }

    fn resolve_map(&self, m: &Map<String, Value>, at: &str, notes: &mut Vec<String>) -> Option<Value> {
        let mut out = Map::new();
        for (k, v) in m {
            if let Some(v) = self.resolve(v, &format!("{at}.{k}"), notes) {
                out.insert(k.clone(), v);
            }
        }
        Some(Value::Object(out))
    }

    fn sub(&self, arg: &Value, at: &str, notes: &mut Vec<String>) -> Value {
        let (text, vars) = match arg {
            Value::String(s) => (s.as_str(), None),
            Value::Array(l) => (l.first().and_then(Value::as_str).unwrap_or(""), l.get(1).and_then(Value::as_object)),
            _ => return unresolved("!Sub"),
        };
        let mut out = String::new();
        let mut rest = text;
        while let Some(i) = rest.find("${") {
            out.push_str(&rest[..i]);
            let after = &rest[i + 2..];
            let Some(end) = after.find('}') else {
                out.push_str(&rest[i..]);
                rest = "";
                break;
            };
            let name = &after[..end];
            rest = &after[end + 1..];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str("${");
                out.push_str(literal);
                out.push('}');
                continue;
            }
            let value = match vars.and_then(|v| v.get(name)) {
                Some(v) => self.resolve(v, at, notes),
                None => match name.split_once('.') {
                    Some((a, b)) if !name.starts_with("AWS::") => Some(self.get_att(a, b, at, notes)),
                    _ => self.reference(name, at, notes),
                },
            };
            match value {
                Some(v) if !is_unresolved(&v) => out.push_str(&scalar_text(&v)),
                _ => return unresolved(&format!("!Sub {text}")),
            }
        }
        out.push_str(rest);
        Value::from(out)
    }
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Property names CloudFormation spells differently from the AWS CLI.
fn cli_name(name: &str) -> &str {
    match name {
        "OriginCustomHeaders" => "CustomHeaders",
        "OriginSSLProtocols" => "OriginSslProtocols",
        "AcmCertificateArn" => "ACMCertificateArn",
        "IamCertificateId" => "IAMCertificateId",
        "SslSupportMethod" => "SSLSupportMethod",
        "IPV6Enabled" => "IsIPV6Enabled",
        other => other,
    }
}

/// CloudFormation's shapes (plain lists) to the AWS CLI's (`Quantity`/`Items`).
fn to_cli_shape(v: Value, key: &str) -> Value {
    match v {
        Value::Object(m) => {
            let mut out = Map::new();
            let mut cached_methods = None;
            for (k, v) in m {
                let k = cli_name(&k).to_owned();
                match (k.as_str(), v) {
                    ("CachedMethods", Value::Array(items)) => cached_methods = Some(listed(items)),
                    ("TrustedKeyGroups" | "TrustedSigners", Value::Array(items)) => {
                        let mut l = listed(items);
                        l["Enabled"] = Value::Bool(l["Quantity"] != 0);
                        out.insert(k, l);
                    }
                    ("Locations", Value::Array(items)) => {
                        out.insert("Quantity".into(), Value::from(items.len()));
                        if !items.is_empty() {
                            out.insert("Items".into(), Value::Array(items));
                        }
                    }
                    ("Items", Value::Array(items)) => {
                        out.insert(k, Value::Array(items.into_iter().map(|i| to_cli_shape(i, "Items")).collect()));
                    }
                    (_, Value::Array(items)) => {
                        let items = items.into_iter().map(|i| to_cli_shape(i, &k)).collect();
                        out.insert(k, listed(items));
                    }
                    (_, v) => {
                        let v = to_cli_shape(v, &k);
                        out.insert(k, v);
                    }
                }
            }
            if out.contains_key("Items") && !out.contains_key("Quantity") {
                let n = out["Items"].as_array().map_or(0, Vec::len);
                out.insert("Quantity".into(), Value::from(n));
            }
            if let Some(cm) = cached_methods
                && let Some(am) = out.get_mut("AllowedMethods").and_then(Value::as_object_mut)
            {
                am.insert("CachedMethods".into(), cm);
            }
            if key == "Logging" {
                out.entry("Enabled").or_insert(Value::Bool(true));
                out.entry("IncludeCookies").or_insert(Value::Bool(false));
                out.entry("Prefix").or_insert(Value::from(""));
            }
            compact(out)
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_become_quantity_and_items_and_references_resolve() {
        let t = json!({
            "Parameters": {"Stage": {"Type": "String", "Default": "prod"}, "Cert": {"Type": "String"}},
            "Conditions": {"IsProd": {"Fn::Equals": [{"Ref": "Stage"}, "prod"]}},
            "Resources": {
                "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": {"Fn::Sub": "site-${Stage}"}}},
                "Policy": {"Type": "AWS::CloudFront::CachePolicy", "Properties": {"CachePolicyConfig": {"Name": "p",
                    "MinTTL": 0, "DefaultTTL": 86400, "MaxTTL": 31536000,
                    "ParametersInCacheKeyAndForwardedToOrigin": {"EnableAcceptEncodingGzip": true,
                        "HeadersConfig": {"HeaderBehavior": "whitelist", "Headers": ["Origin"]},
                        "CookiesConfig": {"CookieBehavior": "none"}, "QueryStringsConfig": {"QueryStringBehavior": "none"}}}}},
                "Site": {"Type": "AWS::CloudFront::Distribution", "Properties": {"DistributionConfig": {
                    "Enabled": true, "Aliases": {"Fn::If": ["IsProd", ["www.example.com"], {"Ref": "AWS::NoValue"}]},
                    "ViewerCertificate": {"AcmCertificateArn": {"Ref": "Cert"}, "SslSupportMethod": "sni-only"},
                    "Origins": [{"Id": "s3", "DomainName": {"Fn::GetAtt": ["Bucket", "RegionalDomainName"]},
                        "S3OriginConfig": {"OriginAccessIdentity": ""}}],
                    "DefaultCacheBehavior": {"TargetOriginId": "s3", "ViewerProtocolPolicy": "redirect-to-https",
                        "CachePolicyId": {"Ref": "Policy"}, "AllowedMethods": ["GET", "HEAD"], "CachedMethods": ["GET", "HEAD"],
                        "OriginRequestPolicyId": {"Fn::ImportValue": "shared-orp"}}}}}
            }
        });
        let found = read(&t, &|_| Some(7));
        let dist = found.resources.iter().find(|r| r.kind == Kind::Distribution).unwrap();
        let policy = found.resources.iter().find(|r| r.kind == Kind::CachePolicy).unwrap();
        let c = &dist.config;
        assert_eq!(c["Origins"]["Items"][0]["DomainName"], "site-prod.s3.us-east-1.amazonaws.com");
        assert_eq!(c["Aliases"], json!({"Quantity": 1, "Items": ["www.example.com"]}));
        assert_eq!(c["DefaultCacheBehavior"]["CachePolicyId"], Value::from(policy.id.clone()));
        assert_eq!(c["DefaultCacheBehavior"]["AllowedMethods"]["CachedMethods"]["Quantity"], 2);
        assert!(c["DefaultCacheBehavior"].get("OriginRequestPolicyId").is_none());
        assert_eq!(
            policy.config["ParametersInCacheKeyAndForwardedToOrigin"]["HeadersConfig"]["Headers"]["Quantity"],
            1
        );
        assert!(found.notes.iter().any(|n| n.contains("parameter Cert has no Default")), "{:?}", found.notes);
        assert!(
            found.notes.iter().any(|n| n.contains("OriginRequestPolicyId <!ImportValue shared-orp>")),
            "{:?}",
            found.notes
        );
        assert_eq!(dist.line, Some(7));
    }
}
