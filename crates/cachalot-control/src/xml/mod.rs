//! REST-XML ↔ JSON, driven by the service model.
//!
//! **API boundary.** One converter for every shape: request bodies are parsed
//! into a small element tree and turned into the AWS CLI's JSON shape
//! (`Items` children become arrays, numbers and booleans get their JSON types)
//! by walking the model from the body's shape; responses go the other way,
//! emitting members in model order with each list item named as the model
//! names it (`<CNAME>`, `<Origin>`, `<Path>`…). The typed
//! `cachalot_config::wire` structs then deserialize the JSON.
//!
//! Parsing never panics: depth, element count and body size are bounded, and
//! every syntax error becomes an [`XmlError`] with a readable message.

pub(crate) mod schema;

use quick_xml::Reader;
use quick_xml::events::Event;
use schema::{Scalar, Schema, Shape};
use serde_json::{Map, Value};
use std::fmt::Write as _;

/// The namespace CloudFront puts on document roots.
pub(crate) const NAMESPACE: &str = "http://cloudfront.amazonaws.com/doc/2020-05-31/";

const MAX_DEPTH: usize = 64;
const MAX_ELEMENTS: usize = 100_000;

/// Why a body could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct XmlError(pub(crate) String);

/// A parsed element: name, text and children.
#[derive(Debug, Default)]
struct Element {
    name: String,
    text: String,
    children: Vec<Element>,
}

/// Parses `body` (whose root must be `root`) as model shape `shape`.
pub(crate) fn parse(body: &[u8], root: &str, shape: &str) -> Result<Value, XmlError> {
    let tree = parse_tree(body)?;
    if tree.name != root {
        return Err(XmlError(format!("expected the root element <{root}>, found <{}>", tree.name)));
    }
    Ok(element_to_json(&tree, Some(shape), Schema::cloudfront()))
}

fn parse_tree(body: &[u8]) -> Result<Element, XmlError> {
    let text = std::str::from_utf8(body).map_err(|e| XmlError(format!("the body is not UTF-8: {e}")))?;
    if text.trim().is_empty() {
        return Err(XmlError("the request body is empty; an XML document is required".into()));
    }
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut count = 0usize;
    loop {
        let at = reader.buffer_position();
        let event = reader.read_event().map_err(|e| XmlError(format!("malformed XML at byte {at}: {e}")))?;
        match event {
            Event::Start(_) | Event::Empty(_) if root.is_some() => {
                return Err(XmlError("content after the document's root element".into()));
            }
            Event::Start(e) => {
                count += 1;
                if stack.len() >= MAX_DEPTH || count > MAX_ELEMENTS {
                    return Err(XmlError("the document is nested too deeply or has too many elements".into()));
                }
                stack.push(Element { name: local_name(e.local_name().as_ref())?, ..Element::default() });
            }
            Event::Empty(e) => {
                count += 1;
                let el = Element { name: local_name(e.local_name().as_ref())?, ..Element::default() };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => root = Some(el),
                }
            }
            Event::End(_) => {
                // quick-xml checks that end names match their start.
                let Some(el) = stack.pop() else {
                    return Err(XmlError("unexpected closing tag".into()));
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => root = Some(el),
                }
            }
            Event::Text(t) => {
                let s = t.decode().map_err(|e| XmlError(format!("bad text: {e}")))?;
                push_text(&mut stack, &s)?;
            }
            Event::CData(t) => {
                let s = t.decode().map_err(|e| XmlError(format!("bad CDATA: {e}")))?;
                push_text(&mut stack, &s)?;
            }
            Event::GeneralRef(r) => {
                let resolved = if r.is_char_ref() {
                    match r.resolve_char_ref() {
                        Ok(Some(c)) => c.to_string(),
                        _ => return Err(XmlError("invalid character reference".into())),
                    }
                } else {
                    let name = r.decode().map_err(|e| XmlError(format!("bad entity: {e}")))?;
                    match quick_xml::escape::resolve_predefined_entity(&name) {
                        Some(s) => s.to_owned(),
                        None => return Err(XmlError(format!("unknown entity &{name};"))),
                    }
                };
                push_text(&mut stack, &resolved)?;
            }
            Event::DocType(_) => return Err(XmlError("DOCTYPE declarations are not accepted".into())),
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(XmlError(format!("the document ends inside <{}>", stack.last().map_or("", |e| e.name.as_str()))));
    }
    root.ok_or_else(|| XmlError("the document has no root element".into()))
}

fn push_text(stack: &mut [Element], s: &str) -> Result<(), XmlError> {
    match stack.last_mut() {
        Some(el) => {
            el.text.push_str(s);
            Ok(())
        }
        None if s.trim().is_empty() => Ok(()),
        None => Err(XmlError("text outside the root element".into())),
    }
}

fn local_name(raw: &[u8]) -> Result<String, XmlError> {
    String::from_utf8(raw.to_vec()).map_err(|_| XmlError("an element name is not UTF-8".into()))
}

fn element_to_json(el: &Element, shape: Option<&str>, schema: &Schema) -> Value {
    match shape.and_then(|s| schema.shape(s)) {
        Some(Shape::Structure(members)) => {
            let mut out = Map::new();
            for child in &el.children {
                let member = members.iter().find(|m| m.xml_name == child.name);
                let key = member.map_or(child.name.as_str(), |m| m.name.as_str());
                let v = element_to_json(child, member.map(|m| m.target.as_str()), schema);
                out.insert(key.to_owned(), v);
            }
            Value::Object(out)
        }
        Some(Shape::List { item, .. }) => {
            Value::Array(el.children.iter().map(|c| element_to_json(c, Some(item), schema)).collect())
        }
        Some(Shape::Scalar(kind)) => scalar_to_json(*kind, &el.text),
        None => generic_to_json(el),
    }
}

fn scalar_to_json(kind: Scalar, text: &str) -> Value {
    let trimmed = text.trim();
    match kind {
        Scalar::Integer => trimmed.parse::<i64>().map(Value::from).unwrap_or_else(|_| Value::from(text)),
        Scalar::Float => trimmed
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .unwrap_or_else(|| Value::from(text)),
        Scalar::Boolean => match trimmed {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => Value::from(text),
        },
        Scalar::Blob => Value::from(trimmed),
        Scalar::String | Scalar::Timestamp => Value::from(text),
    }
}

/// Elements the model does not know: children become an object, text a string.
fn generic_to_json(el: &Element) -> Value {
    if el.children.is_empty() {
        return Value::from(el.text.as_str());
    }
    let mut out = Map::new();
    for c in &el.children {
        out.insert(c.name.clone(), generic_to_json(c));
    }
    Value::Object(out)
}

/// Renders `value` (JSON of model shape `shape`) as an XML document with root `root`.
pub(crate) fn render(root: &str, shape: &str, value: &Value) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = write!(out, "<{root} xmlns=\"{NAMESPACE}\">");
    write_content(&mut out, Some(shape), value, Schema::cloudfront());
    let _ = write!(out, "</{root}>");
    out
}

fn write_element(out: &mut String, name: &str, shape: Option<&str>, value: &Value, schema: &Schema) {
    if value.is_null() {
        return;
    }
    let _ = write!(out, "<{name}>");
    write_content(out, shape, value, schema);
    let _ = write!(out, "</{name}>");
}

fn write_content(out: &mut String, shape: Option<&str>, value: &Value, schema: &Schema) {
    match (shape.and_then(|s| schema.shape(s)), value) {
        (Some(Shape::Structure(members)), Value::Object(map)) => {
            for m in members {
                if let Some(v) = map.get(&m.name) {
                    write_element(out, &m.xml_name, Some(&m.target), v, schema);
                }
            }
        }
        (Some(Shape::List { item, item_name }), Value::Array(items)) => {
            for v in items {
                write_element(out, item_name, Some(item), v, schema);
            }
        }
        (_, Value::Object(map)) => {
            for (k, v) in map {
                write_element(out, k, None, v, schema);
            }
        }
        (_, Value::Array(items)) => {
            for v in items {
                write_element(out, "member", None, v, schema);
            }
        }
        (_, Value::String(s)) => out.push_str(&quick_xml::escape::escape(s.as_str())),
        (_, Value::Bool(b)) => out.push_str(if *b { "true" } else { "false" }),
        (_, Value::Number(n)) => {
            let _ = write!(out, "{n}");
        }
        (_, Value::Null) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const POLICY: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<CachePolicyConfig xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/">
  <Comment>a &amp; b</Comment><Name>static</Name><DefaultTTL>86400</DefaultTTL><MaxTTL>31536000</MaxTTL><MinTTL>1</MinTTL>
  <ParametersInCacheKeyAndForwardedToOrigin>
    <EnableAcceptEncodingGzip>true</EnableAcceptEncodingGzip>
    <HeadersConfig><HeaderBehavior>whitelist</HeaderBehavior>
      <Headers><Quantity>1</Quantity><Items><Name>Accept</Name></Items></Headers></HeadersConfig>
    <CookiesConfig><CookieBehavior>none</CookieBehavior></CookiesConfig>
    <QueryStringsConfig><QueryStringBehavior>none</QueryStringBehavior></QueryStringsConfig>
  </ParametersInCacheKeyAndForwardedToOrigin>
</CachePolicyConfig>"#;

    #[test]
    fn cache_policy_reads_with_json_types_and_lists() {
        let v = parse(POLICY.as_bytes(), "CachePolicyConfig", "CachePolicyConfig").unwrap();
        assert_eq!(v["Comment"], "a & b");
        assert_eq!(v["MinTTL"], 1);
        let p = &v["ParametersInCacheKeyAndForwardedToOrigin"];
        assert_eq!(p["EnableAcceptEncodingGzip"], true);
        assert_eq!(p["HeadersConfig"]["Headers"]["Items"], json!(["Accept"]));
    }

    #[test]
    fn round_trip_names_list_items_from_the_model() {
        let v = json!({"Quantity": 2, "Items": ["a.example.com", "b.example.com"]});
        let xml = render("Aliases", "Aliases", &v);
        assert!(xml.contains("<Items><CNAME>a.example.com</CNAME><CNAME>b.example.com</CNAME></Items>"), "{xml}");
        assert_eq!(parse(xml.as_bytes(), "Aliases", "Aliases").unwrap(), v);
    }

    #[test]
    fn hostile_documents_are_errors_not_panics() {
        for bad in [
            "",
            "<",
            "<a><b></a>",
            "<a>&bogus;</a>",
            "<!DOCTYPE a [<!ENTITY x \"y\">]><a/>",
            "<a/><b/>",
            "text",
            "<a>&#xFFFFFFFF;</a>",
        ] {
            assert!(parse(bad.as_bytes(), "a", "CachePolicyConfig").is_err(), "accepted {bad:?}");
        }
        let deep = "<a>".repeat(1000) + &"</a>".repeat(1000);
        assert!(parse(deep.as_bytes(), "a", "CachePolicyConfig").is_err());
        assert!(parse(&[0xff, 0xfe], "a", "CachePolicyConfig").is_err());
    }

    #[test]
    fn wrong_root_is_named() {
        let err = parse(b"<Foo/>", "CachePolicyConfig", "CachePolicyConfig").unwrap_err();
        assert!(err.0.contains("<CachePolicyConfig>") && err.0.contains("<Foo>"), "{err:?}");
    }
}
