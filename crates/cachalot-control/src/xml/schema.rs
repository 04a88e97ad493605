//! The CloudFront service model, reduced to what the XML converter needs.
//!
//! `cloudfront-2020-05-31.json` is generated from botocore's
//! `cloudfront/2020-05-31/service-2.json` by [`compact_model`]; a test
//! re-derives it from the model when botocore is installed, so it cannot drift.
//! It keeps, per shape: a structure's body members in model order (member
//! name, target shape, XML element name when it differs), a list's item shape
//! and item element name, or a scalar's type; and every operation's name,
//! method, URI and success status.

use serde_json::Value;
use std::collections::HashMap;
use std::sync::OnceLock;

const COMPACT: &str = include_str!("cloudfront-2020-05-31.json");

/// A scalar type of the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scalar {
    /// Text (also enums).
    String,
    /// `integer` / `long`.
    Integer,
    /// `double` / `float`.
    Float,
    /// `true` / `false`.
    Boolean,
    /// ISO 8601 text.
    Timestamp,
    /// Base64 text in XML.
    Blob,
}

/// One member of a structure.
#[derive(Debug, Clone)]
pub(crate) struct Member {
    /// Name in JSON (the AWS CLI's key).
    pub(crate) name: String,
    /// Element name in XML.
    pub(crate) xml_name: String,
    /// Target shape.
    pub(crate) target: String,
}

/// A shape.
#[derive(Debug, Clone)]
pub(crate) enum Shape {
    /// Members in model order.
    Structure(Vec<Member>),
    /// Item shape and the element name of each item.
    List { item: String, item_name: String },
    /// A scalar.
    Scalar(Scalar),
}

/// One operation of the model.
#[derive(Debug, Clone)]
pub(crate) struct Operation {
    /// e.g. `CreateCachePolicy`.
    pub(crate) name: String,
    /// HTTP method.
    pub(crate) method: String,
    /// URI template.
    pub(crate) uri: String,
}

/// The loaded model.
#[derive(Debug)]
pub(crate) struct Schema {
    shapes: HashMap<String, Shape>,
    operations: Vec<Operation>,
    errors: HashMap<String, u16>,
}

impl Schema {
    /// The CloudFront model, parsed once.
    pub(crate) fn cloudfront() -> &'static Schema {
        static SCHEMA: OnceLock<Schema> = OnceLock::new();
        SCHEMA.get_or_init(|| Schema::parse(COMPACT))
    }

    /// A shape by name.
    pub(crate) fn shape(&self, name: &str) -> Option<&Shape> {
        self.shapes.get(name)
    }

    /// Every operation of the model.
    pub(crate) fn operations(&self) -> &[Operation] {
        &self.operations
    }

    /// The HTTP status the model gives an error code.
    pub(crate) fn error_status(&self, code: &str) -> Option<u16> {
        self.errors.get(code).copied()
    }

    fn parse(text: &str) -> Schema {
        // The file is generated and checked by tests; a malformed one is a build defect.
        let root: Value = serde_json::from_str(text).expect("embedded schema is valid JSON");
        let mut shapes = HashMap::new();
        if let Some(Value::Object(map)) = root.get("shapes") {
            for (name, v) in map {
                if let Some(shape) = parse_shape(v) {
                    shapes.insert(name.clone(), shape);
                }
            }
        }
        let mut operations = Vec::new();
        if let Some(Value::Array(ops)) = root.get("operations") {
            for op in ops {
                let field = |i: usize| op.get(i).and_then(Value::as_str).unwrap_or_default().to_owned();
                operations.push(Operation { name: field(0), method: field(1), uri: field(2) });
            }
        }
        let errors = root
            .get("errors")
            .and_then(Value::as_object)
            .map(|m| m.iter().filter_map(|(k, v)| Some((k.clone(), u16::try_from(v.as_u64()?).ok()?))).collect())
            .unwrap_or_default();
        Schema { shapes, operations, errors }
    }
}

fn parse_shape(v: &Value) -> Option<Shape> {
    match v {
        Value::String(t) => Some(Shape::Scalar(match t.as_str() {
            "integer" | "long" => Scalar::Integer,
            "double" | "float" => Scalar::Float,
            "boolean" => Scalar::Boolean,
            "timestamp" => Scalar::Timestamp,
            "blob" => Scalar::Blob,
            _ => Scalar::String,
        })),
        Value::Object(o) => {
            if let Some(Value::Array(l)) = o.get("l") {
                let s = |i: usize| l.get(i).and_then(Value::as_str).unwrap_or("member").to_owned();
                return Some(Shape::List { item: s(0), item_name: s(1) });
            }
            let members = o.get("m").and_then(Value::as_array)?;
            Some(Shape::Structure(
                members
                    .iter()
                    .filter_map(|m| {
                        let m = m.as_array()?;
                        let name = m.first()?.as_str()?.to_owned();
                        let target = m.get(1)?.as_str()?.to_owned();
                        let xml_name =
                            m.get(2).and_then(Value::as_str).map(str::to_owned).unwrap_or_else(|| name.clone());
                        Some(Member { name, xml_name, target })
                    })
                    .collect(),
            ))
        }
        _ => None,
    }
}

#[cfg(test)]
/// Reduces botocore's `service-2.json` to the compact form embedded here.
/// Members bound to headers, the URI or the query string are left out: they
/// never appear in an XML body.
pub(crate) fn compact_model(model: &Value) -> Value {
    let mut shapes: Vec<(String, Value)> = Vec::new();
    let mut errors: Vec<(String, Value)> = Vec::new();
    if let Some(Value::Object(map)) = model.get("shapes") {
        for (name, s) in map {
            if s.get("exception").and_then(Value::as_bool) == Some(true) {
                let err = s.get("error");
                let code = err.and_then(|e| e.get("code")).and_then(Value::as_str).unwrap_or(name);
                let status = err.and_then(|e| e.get("httpStatusCode")).and_then(Value::as_u64).unwrap_or(400);
                errors.push((code.to_owned(), Value::from(status)));
            }
            let ty = s.get("type").and_then(Value::as_str).unwrap_or("string");
            let compact = match ty {
                "structure" => {
                    let mut members = Vec::new();
                    if let Some(Value::Object(ms)) = s.get("members") {
                        for (m, spec) in ms {
                            if spec.get("location").is_some() {
                                continue;
                            }
                            let target = spec.get("shape").and_then(Value::as_str).unwrap_or("string");
                            let mut entry = vec![Value::from(m.as_str()), Value::from(target)];
                            if let Some(loc) = spec.get("locationName").and_then(Value::as_str)
                                && loc != m
                            {
                                entry.push(Value::from(loc));
                            }
                            members.push(Value::Array(entry));
                        }
                    }
                    let mut o = serde_json::Map::new();
                    o.insert("m".into(), Value::Array(members));
                    Value::Object(o)
                }
                "list" => {
                    let member = s.get("member");
                    let item = member.and_then(|m| m.get("shape")).and_then(Value::as_str).unwrap_or("string");
                    let item_name =
                        member.and_then(|m| m.get("locationName")).and_then(Value::as_str).unwrap_or("member");
                    let mut o = serde_json::Map::new();
                    o.insert("l".into(), Value::Array(vec![Value::from(item), Value::from(item_name)]));
                    Value::Object(o)
                }
                other => Value::from(other),
            };
            shapes.push((name.clone(), compact));
        }
    }
    shapes.sort_by(|a, b| a.0.cmp(&b.0));
    let mut operations: Vec<Value> = Vec::new();
    if let Some(Value::Object(ops)) = model.get("operations") {
        for (name, op) in ops {
            let http = op.get("http");
            let get = |k: &str| http.and_then(|h| h.get(k)).and_then(Value::as_str).unwrap_or("").to_owned();
            operations.push(Value::Array(vec![
                Value::from(name.as_str()),
                Value::from(get("method")),
                Value::from(get("requestUri")),
            ]));
        }
    }
    operations.sort_by(|a, b| a[0].as_str().cmp(&b[0].as_str()));
    errors.sort_by(|a, b| a.0.cmp(&b.0));
    let mut root = serde_json::Map::new();
    root.insert("errors".into(), Value::Object(errors.into_iter().collect()));
    root.insert("operations".into(), Value::Array(operations));
    root.insert("shapes".into(), Value::Object(shapes.into_iter().collect()));
    Value::Object(root)
}

#[cfg(test)]
/// Writes the compact model one shape (and one operation) per line, for readable diffs.
pub(crate) fn render_compact(compact: &Value) -> String {
    let errors = compact.get("errors").cloned().unwrap_or_default();
    let mut out = format!("{{\n\"errors\": {errors},\n\"operations\": [\n");
    let ops = compact.get("operations").and_then(Value::as_array).cloned().unwrap_or_default();
    for (i, op) in ops.iter().enumerate() {
        out.push_str(&op.to_string());
        out.push_str(if i + 1 < ops.len() { ",\n" } else { "\n" });
    }
    out.push_str("],\n\"shapes\": {\n");
    let shapes = compact.get("shapes").and_then(Value::as_object).cloned().unwrap_or_default();
    let n = shapes.len();
    for (i, (name, s)) in shapes.iter().enumerate() {
        out.push_str(&format!("{}: {}", Value::from(name.as_str()), s));
        out.push_str(if i + 1 < n { ",\n" } else { "\n" });
    }
    out.push_str("}\n}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read as _;
    use std::path::PathBuf;

    /// botocore's data folder: `$BOTOCORE_DATA_DIR`, the venv of `$CACHALOT_AWS_VENV`, or
    /// the venv the AWS CLI test creates (botocore pinned in `requirements-test.txt`).
    pub(crate) fn botocore_data() -> Option<PathBuf> {
        let mut candidates: Vec<PathBuf> = Vec::new();
        if let Ok(d) = std::env::var("BOTOCORE_DATA_DIR") {
            candidates.push(d.into());
        }
        let mut bases = Vec::new();
        if let Some(venv) = std::env::var_os("CACHALOT_AWS_VENV") {
            bases.push(PathBuf::from(venv).join("lib"));
        }
        bases.push(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/aws-venv/lib"));
        for base in bases {
            if let Ok(entries) = std::fs::read_dir(&base) {
                for e in entries.flatten() {
                    candidates.push(e.path().join("site-packages/botocore/data"));
                }
            }
        }
        candidates.into_iter().find(|p| p.join("cloudfront/2020-05-31/service-2.json.gz").is_file())
    }

    #[test]
    fn embedded_model_matches_botocore() {
        let Some(data) = botocore_data() else {
            println!("SKIPPED: botocore is not installed; the embedded model was not compared with it");
            return;
        };
        let file = std::fs::File::open(data.join("cloudfront/2020-05-31/service-2.json.gz")).unwrap();
        let mut text = String::new();
        flate2::read::GzDecoder::new(file).read_to_string(&mut text).unwrap();
        let model: Value = serde_json::from_str(&text).unwrap();
        let derived = compact_model(&model);
        let embedded: Value = serde_json::from_str(COMPACT).unwrap();
        if derived != embedded {
            let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/xml/cloudfront-2020-05-31.json");
            if std::env::var_os("UPDATE_SERVICE_MODEL").is_some() {
                std::fs::write(&path, render_compact(&derived)).unwrap();
            }
            panic!(
                "{} differs from botocore's model at {}; rerun with UPDATE_SERVICE_MODEL=1",
                path.display(),
                data.display()
            );
        }
    }

    #[test]
    fn compat_doc_lists_every_operation() {
        let doc_path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/compat/api.md");
        let doc = std::fs::read_to_string(&doc_path).unwrap();
        let missing: Vec<&str> = Schema::cloudfront()
            .operations()
            .iter()
            .map(|o| o.name.as_str())
            .filter(|name| {
                !doc.lines().any(|l| {
                    l.starts_with('|')
                        && l.split('|').nth(1).is_some_and(|c| c.trim().trim_matches('`') == *name)
                        && ["supported", "partial", "not yet"].iter().any(|s| l.contains(s))
                })
            })
            .collect();
        assert!(
            missing.is_empty(),
            "{} lacks a row (supported / partial / not yet) for: {missing:?}",
            doc_path.display()
        );
    }

    #[test]
    fn every_operation_and_list_is_loaded() {
        let s = Schema::cloudfront();
        assert!(s.operations().len() > 100);
        assert!(matches!(s.shape("AliasList"), Some(Shape::List { item_name, .. }) if item_name == "CNAME"));
        assert_eq!(s.error_status("NoSuchDistribution"), Some(404));
    }
}
