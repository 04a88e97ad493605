//! Terraform `.tf` files (one module: the `.tf` files of one folder), read for their literal
//! values with `hcl-edit`. A resource's attributes become the values `terraform show -json`
//! would give ([`super::terraform::read_resources`] does the rest); nested blocks become lists of
//! objects. Resolved: literals, `var.x` with a `default`, `local.x` when literal, string
//! templates of those. A reference to another CloudFront resource of the module
//! (`aws_cloudfront_cache_policy.x.id`) links them. Anything else (a variable without a default,
//! a function call, a conditional, a `dynamic` block, a data source) is named in a note.

use super::Found;
use super::terraform::{TfResource, read_resources};
use hcl_edit::Span;
use hcl_edit::expr::{Expression, ObjectKey};
use hcl_edit::structure::{Block, Body};
use hcl_edit::template::Element;
use serde_json::{Map, Value, json};
use std::collections::HashMap;

/// A `.tf` file that does not parse.
#[derive(Debug, Clone)]
pub struct HclError {
    /// The file.
    pub file: String,
    /// What the parser said (with line and column).
    pub message: String,
}

enum Resolved {
    Value(Value),
    Reference(String),
    Unresolved(String),
}

struct Module {
    variables: HashMap<String, Value>,
    locals: HashMap<String, Value>,
    /// `aws_s3_bucket` local name → bucket name, so an origin's domain is known to be a bucket.
    buckets: HashMap<String, String>,
}

/// Reads the `.tf` files of one module: `(file name, text)`.
pub fn read_module(files: &[(String, String)]) -> Result<Found, Vec<HclError>> {
    let mut bodies = Vec::new();
    let mut errors = Vec::new();
    for (name, text) in files {
        match hcl_edit::parser::parse_body(text) {
            Ok(b) => bodies.push((name.as_str(), text.as_str(), b)),
            Err(e) => errors.push(HclError { file: name.clone(), message: e.to_string() }),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut module = Module { variables: HashMap::new(), locals: HashMap::new(), buckets: HashMap::new() };
    for (_, _, body) in &bodies {
        for b in body.iter().filter_map(|s| s.as_block()) {
            match (b.ident.as_str(), labels(b).first()) {
                ("variable", Some(name)) => {
                    if let Some(Resolved::Value(v)) = attr(&b.body, "default").map(|e| module.eval(e)) {
                        module.variables.insert(name.clone(), v);
                    }
                }
                ("locals", None) => {
                    for a in b.body.iter().filter_map(|s| s.as_attribute()) {
                        if let Resolved::Value(v) = module.eval(&a.value) {
                            module.locals.insert(a.key.as_str().to_owned(), v);
                        }
                    }
                }
                _ => {}
            }
        }
    }
    for (_, _, body) in &bodies {
        for b in body.iter().filter_map(|s| s.as_block()) {
            let l = labels(b);
            if b.ident.as_str() == "resource"
                && l.first().is_some_and(|k| k == "aws_s3_bucket")
                && let Some(local) = l.get(1)
                && let Some(Resolved::Value(Value::String(name))) = attr(&b.body, "bucket").map(|e| module.eval(e))
            {
                module.buckets.insert(local.clone(), name);
            }
        }
    }
    let mut notes = Vec::new();
    let mut resources = Vec::new();
    let mut file_of: HashMap<String, String> = HashMap::new();
    for (name, text, body) in &bodies {
        for b in body.iter().filter_map(|s| s.as_block()) {
            let l = labels(b);
            let (Some(kind), Some(local)) = (l.first(), l.get(1)) else { continue };
            if b.ident.as_str() != "resource" || !kind.starts_with("aws_cloudfront_") {
                continue;
            }
            let address = format!("{kind}.{local}");
            let line = b.span().map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
            let (values, expressions) =
                module.body(&b.body, &format!("{name}:{}: {address}", line.unwrap_or(0)), &mut notes);
            resources.push(TfResource {
                address: address.clone(),
                kind: kind.clone(),
                name: local.clone(),
                values,
                expressions: Some(expressions),
                line,
            });
            file_of.insert(format!("{kind}.{local}"), (*name).to_owned());
        }
    }
    let mut found = read_resources(resources, "not a literal in the .tf files");
    for n in &mut found.notes {
        if let Some(file) = file_of.iter().find(|(address, _)| n.starts_with(address.as_str())).map(|(_, f)| f) {
            *n = format!("{file}: {n}");
        }
    }
    found.notes.splice(0..0, notes);
    for r in &mut found.resources {
        r.file = file_of.get(&r.path).cloned();
    }
    Ok(found)
}

fn labels(b: &Block) -> Vec<String> {
    b.labels
        .iter()
        .map(|l| match l {
            hcl_edit::structure::BlockLabel::Ident(i) => i.as_str().to_owned(),
            hcl_edit::structure::BlockLabel::String(s) => s.value().clone(),
        })
        .collect()
}

fn attr<'a>(body: &'a Body, key: &str) -> Option<&'a Expression> {
    body.iter().filter_map(|s| s.as_attribute()).find(|a| a.key.as_str() == key).map(|a| &a.value)
}

const META: &[&str] = &["count", "for_each", "depends_on", "lifecycle", "provider", "provisioner", "tags", "tags_all"];

impl Module {
    /// A block body as Terraform's JSON values, and the references of its attributes.
    fn body(&self, body: &Body, at: &str, notes: &mut Vec<String>) -> (Value, Value) {
        let mut values = Map::new();
        let mut exprs = Map::new();
        for s in body.iter() {
            if let Some(a) = s.as_attribute() {
                let key = a.key.as_str();
                if META.contains(&key) {
                    continue;
                }
                match self.eval(&a.value) {
                    Resolved::Value(v) => {
                        values.insert(key.to_owned(), v);
                    }
                    Resolved::Reference(r) => {
                        exprs.insert(key.to_owned(), json!({"references": [r]}));
                    }
                    Resolved::Unresolved(what) => {
                        notes.push(format!("{at}: {key} = {what} cannot be resolved from the .tf files"));
                    }
                }
            } else if let Some(b) = s.as_block() {
                let ident = b.ident.as_str();
                if META.contains(&ident) {
                    continue;
                }
                if ident == "dynamic" {
                    notes.push(format!(
                        "{at}: dynamic \"{}\" blocks are generated from other values and are not read",
                        labels(b).first().cloned().unwrap_or_default()
                    ));
                    continue;
                }
                let (v, e) = self.body(&b.body, &format!("{at}.{ident}"), notes);
                push(&mut values, ident, v);
                push(&mut exprs, ident, e);
            }
        }
        (Value::Object(values), Value::Object(exprs))
    }

    fn eval(&self, e: &Expression) -> Resolved {
        match e {
            Expression::Null(_) => Resolved::Value(Value::Null),
            Expression::Bool(b) => Resolved::Value(Value::Bool(*b.value())),
            Expression::Number(n) => {
                let text = n.value().to_string();
                Resolved::Value(
                    text.parse::<i64>()
                        .map(Value::from)
                        .or_else(|_| text.parse::<f64>().map(Value::from))
                        .unwrap_or(Value::String(text)),
                )
            }
            Expression::String(s) => Resolved::Value(Value::String(s.value().clone())),
            Expression::Array(a) => {
                let mut out = Vec::new();
                for item in a.iter() {
                    match self.eval(item) {
                        Resolved::Value(v) => out.push(v),
                        Resolved::Reference(r) => return Resolved::Unresolved(r),
                        u @ Resolved::Unresolved(_) => return u,
                    }
                }
                Resolved::Value(Value::Array(out))
            }
            Expression::Object(o) => {
                let mut out = Map::new();
                for (k, v) in o.iter() {
                    let key = match k {
                        ObjectKey::Ident(i) => i.as_str().to_owned(),
                        ObjectKey::Expression(e) => match self.eval(e) {
                            Resolved::Value(Value::String(s)) => s,
                            _ => return Resolved::Unresolved("an object key expression".into()),
                        },
                    };
                    match self.eval(v.expr()) {
                        Resolved::Value(v) => {
                            out.insert(key, v);
                        }
                        Resolved::Reference(r) => return Resolved::Unresolved(r),
                        u @ Resolved::Unresolved(_) => return u,
                    }
                }
                Resolved::Value(Value::Object(out))
            }
            Expression::StringTemplate(t) => {
                let mut out = String::new();
                for el in t.iter() {
                    match el {
                        Element::Literal(l) => out.push_str(l),
                        Element::Interpolation(i) => match self.eval(&i.expr) {
                            Resolved::Value(Value::String(s)) => out.push_str(&s),
                            Resolved::Value(v @ (Value::Number(_) | Value::Bool(_))) => out.push_str(&v.to_string()),
                            Resolved::Reference(r) => return Resolved::Unresolved(format!("\"${{{r}}}\"")),
                            Resolved::Unresolved(u) => return Resolved::Unresolved(format!("a template using {u}")),
                            Resolved::Value(_) => return Resolved::Unresolved("a template".into()),
                        },
                        Element::Directive(_) => return Resolved::Unresolved("a template directive".into()),
                    }
                }
                Resolved::Value(Value::String(out))
            }
            Expression::Parenthesis(p) => self.eval(p.inner()),
            Expression::Traversal(t) => {
                let mut parts = Vec::new();
                if let Expression::Variable(v) = &t.expr {
                    parts.push(v.as_str().to_owned());
                }
                for op in &t.operators {
                    match op.value() {
                        hcl_edit::expr::TraversalOperator::GetAttr(a) => parts.push(a.as_str().to_owned()),
                        _ => parts.push("[…]".to_owned()),
                    }
                }
                let path = parts.join(".");
                match parts.first().map(String::as_str) {
                    Some("var") => match parts.get(1).and_then(|n| self.variables.get(n)) {
                        Some(v) if parts.len() == 2 => Resolved::Value(v.clone()),
                        _ => Resolved::Unresolved(format!(
                            "{path} (a variable without a default: pass terraform show -json)"
                        )),
                    },
                    Some("local") => match parts.get(1).and_then(|n| self.locals.get(n)) {
                        Some(v) if parts.len() == 2 => Resolved::Value(v.clone()),
                        _ => Resolved::Unresolved(path),
                    },
                    Some("aws_s3_bucket") => {
                        let bucket = parts.get(1).and_then(|n| self.buckets.get(n));
                        match (bucket, parts.get(2).map(String::as_str)) {
                            (Some(b), Some("bucket_regional_domain_name")) => {
                                Resolved::Value(Value::from(format!("{b}.s3.us-east-1.amazonaws.com")))
                            }
                            (Some(b), Some("bucket_domain_name")) => {
                                Resolved::Value(Value::from(format!("{b}.s3.amazonaws.com")))
                            }
                            (Some(b), Some("website_endpoint")) => {
                                Resolved::Value(Value::from(format!("{b}.s3-website-us-east-1.amazonaws.com")))
                            }
                            (Some(b), Some("id" | "bucket")) => Resolved::Value(Value::from(b.clone())),
                            _ => Resolved::Unresolved(path),
                        }
                    }
                    Some(kind) if kind.starts_with("aws_cloudfront_") && parts.len() >= 2 => Resolved::Reference(path),
                    _ => Resolved::Unresolved(path),
                }
            }
            Expression::Variable(v) => Resolved::Unresolved(v.as_str().to_owned()),
            Expression::FuncCall(f) => Resolved::Unresolved(format!("{}(…)", f.name.name.as_str())),
            Expression::Conditional(_) => Resolved::Unresolved("a conditional".into()),
            Expression::ForExpr(_) => Resolved::Unresolved("a for expression".into()),
            _ => Resolved::Unresolved("an expression".into()),
        }
    }
}

fn push(map: &mut Map<String, Value>, key: &str, v: Value) {
    match map.entry(key.to_owned()).or_insert_with(|| Value::Array(Vec::new())) {
        Value::Array(a) => a.push(v),
        other => *other = Value::Array(vec![v]),
    }
}
