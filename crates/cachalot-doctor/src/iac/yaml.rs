//! YAML documents read into JSON values, as CloudFormation reads its YAML templates: the
//! short-form intrinsic functions (`!Ref X`, `!GetAtt A.B`, `!Sub …`, `!If [...]`, …) become their
//! long forms (`{"Ref": "X"}`, `{"Fn::GetAtt": ["A", "B"]}`, …), so the rest of the reader sees
//! one shape. The line of every mapping key is kept, by JSON pointer, so findings can name it.

use saphyr_parser::{Event, Parser, ScalarStyle, Tag};
use serde_json::{Map, Number, Value};
use std::collections::HashMap;

/// A YAML document as JSON, with the line (1-based) of each mapping key by JSON pointer.
#[derive(Debug, Default)]
pub struct Document {
    /// The document's value.
    pub value: Value,
    /// Line of each mapping key, by JSON pointer (`/Resources/Site`).
    pub lines: HashMap<String, usize>,
}

/// A YAML syntax error: where and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

enum Frame {
    Seq(Vec<Value>, Option<String>),
    Map(Map<String, Value>, Option<String>, Option<String>),
}

/// Reads the first document of `text`.
pub fn parse(text: &str) -> Result<Document, YamlError> {
    let mut doc = Document::default();
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, Value> = HashMap::new();
    let mut anchor_of: Vec<usize> = Vec::new();
    let mut result: Option<Value> = None;
    let mut path: Vec<String> = Vec::new();
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| YamlError {
            line: e.marker().line(),
            column: e.marker().col() + 1,
            message: e.info().to_owned(),
        })?;
        let value = match event {
            Event::Scalar(text, style, anchor, tag) => {
                let v = tagged(scalar(&text, style, tag.as_deref()), tag.as_deref());
                if anchor > 0 {
                    anchors.insert(anchor, v.clone());
                }
                v
            }
            Event::Alias(id) => anchors.get(&id).cloned().unwrap_or(Value::Null),
            Event::SequenceStart(anchor, tag) => {
                anchor_of.push(anchor);
                stack.push(Frame::Seq(Vec::new(), short_form(tag.as_deref())));
                continue;
            }
            Event::MappingStart(anchor, tag) => {
                anchor_of.push(anchor);
                stack.push(Frame::Map(Map::new(), None, short_form(tag.as_deref())));
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let anchor = anchor_of.pop().unwrap_or(0);
                let v = match stack.pop() {
                    Some(Frame::Seq(items, tag)) => wrap(Value::Array(items), tag),
                    Some(Frame::Map(map, _, tag)) => wrap(Value::Object(map), tag),
                    None => Value::Null,
                };
                if anchor > 0 {
                    anchors.insert(anchor, v.clone());
                }
                v
            }
            Event::DocumentEnd | Event::StreamEnd => break,
            _ => continue,
        };
        match stack.last_mut() {
            None => {
                result = Some(value);
                break;
            }
            Some(Frame::Seq(items, _)) => items.push(value),
            Some(Frame::Map(map, key, _)) => match key.take() {
                None => {
                    let k = match &value {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    path.push(k.replace('~', "~0").replace('/', "~1"));
                    doc.lines.insert(format!("/{}", path.join("/")), span.start.line());
                    *key = Some(k);
                    continue;
                }
                Some(k) => {
                    map.insert(k, value);
                    path.pop();
                }
            },
        }
    }
    doc.value = result.unwrap_or(Value::Null);
    Ok(doc)
}

/// The long form of a CloudFormation short-form tag (`!Ref` → `Ref`, `!Sub` → `Fn::Sub`).
fn short_form(tag: Option<&Tag>) -> Option<String> {
    let tag = tag?;
    if tag.handle != "!" {
        return None;
    }
    Some(match tag.suffix.as_str() {
        "Ref" => "Ref".to_owned(),
        "Condition" => "Condition".to_owned(),
        other => format!("Fn::{other}"),
    })
}

fn wrap(v: Value, tag: Option<String>) -> Value {
    match tag {
        Some(name) => {
            let mut m = Map::new();
            m.insert(name, v);
            Value::Object(m)
        }
        None => v,
    }
}

fn tagged(v: Value, tag: Option<&Tag>) -> Value {
    match short_form(tag) {
        // `!GetAtt A.B` is `Fn::GetAtt: [A, B]`.
        Some(name) if name == "Fn::GetAtt" => match v {
            Value::String(s) => match s.split_once('.') {
                Some((a, b)) => wrap(Value::Array(vec![Value::from(a), Value::from(b)]), Some(name)),
                None => wrap(Value::String(s), Some(name)),
            },
            other => wrap(other, Some(name)),
        },
        other => wrap(v, other),
    }
}

/// A scalar with YAML 1.2's core schema: plain `true`, `null`, numbers; anything quoted or
/// tagged is a string.
fn scalar(text: &str, style: ScalarStyle, tag: Option<&Tag>) -> Value {
    if style != ScalarStyle::Plain || tag.is_some_and(|t| t.handle == "!" || t.suffix == "str") {
        return Value::String(text.to_owned());
    }
    match text {
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        "null" | "Null" | "NULL" | "~" | "" => return Value::Null,
        _ => {}
    }
    if let Ok(i) = text.parse::<i64>() {
        return Value::Number(i.into());
    }
    if text.contains(['.', 'e', 'E'])
        && let Some(n) = text.parse::<f64>().ok().and_then(Number::from_f64)
    {
        return Value::Number(n);
    }
    Value::String(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_forms_become_long_forms_and_lines_are_kept() {
        let doc = parse(
            "Resources:\n  Site:\n    Type: AWS::CloudFront::Distribution\n    Properties:\n      A: !Ref Bucket\n      B: !GetAtt Bucket.RegionalDomainName\n      C: !If [IsProd, 1, !Ref AWS::NoValue]\n      D: !Sub\n        - '${X}.example.com'\n        - X: y\n      E: \"01\"\n",
        )
        .unwrap();
        let p = &doc.value["Resources"]["Site"]["Properties"];
        assert_eq!(p["A"], serde_json::json!({"Ref": "Bucket"}));
        assert_eq!(p["B"], serde_json::json!({"Fn::GetAtt": ["Bucket", "RegionalDomainName"]}));
        assert_eq!(p["C"], serde_json::json!({"Fn::If": ["IsProd", 1, {"Ref": "AWS::NoValue"}]}));
        assert_eq!(p["D"], serde_json::json!({"Fn::Sub": ["${X}.example.com", {"X": "y"}]}));
        assert_eq!(p["E"], serde_json::json!("01"));
        assert_eq!(doc.lines.get("/Resources/Site"), Some(&2));
        assert_eq!(doc.lines.get("/Resources/Site/Properties/D"), Some(&8));
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let e = parse("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(e.line >= 1, "{e:?}");
    }
}
