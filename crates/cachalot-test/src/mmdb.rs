//! A small writer of MaxMind DB files (format 2.0, IPv4, 24-bit records), so tests build
//! the location databases they need instead of shipping GeoLite2.
//!
//! Format: <https://maxmind.github.io/MaxMind-DB/>. A binary search tree over the
//! address bits (each node two 3-byte records: a node number, `node_count` for "no
//! data", or `node_count + 16 + offset` into the data section), 16 zero bytes, the data
//! section, then `\xAB\xCD\xEFMaxMind.com` and the metadata map.

use serde_json::Value;
use std::net::Ipv4Addr;

#[derive(Clone, Copy)]
enum Child {
    Empty,
    Node(usize),
    Data(usize),
}

/// Builds an IPv4 database: each entry is a network (`addr`/`prefix`) and its record,
/// e.g. `{"country": {"iso_code": "DE", "names": {"en": "Germany"}}}`.
pub fn ipv4_database(database_type: &str, entries: &[(Ipv4Addr, u8, Value)]) -> Vec<u8> {
    let mut nodes: Vec<[Child; 2]> = vec![[Child::Empty, Child::Empty]];
    let mut data = Vec::new();
    let mut offsets = Vec::new();
    for (addr, prefix, record) in entries {
        offsets.push(data.len());
        encode(record, &mut data);
        let bits = u32::from(*addr);
        let mut node = 0;
        for depth in 0..*prefix {
            let bit = ((bits >> (31 - depth)) & 1) as usize;
            if depth + 1 == *prefix {
                nodes[node][bit] = Child::Data(offsets.len() - 1);
            } else {
                node = match nodes[node][bit] {
                    Child::Node(n) => n,
                    _ => {
                        nodes.push([Child::Empty, Child::Empty]);
                        nodes[node][bit] = Child::Node(nodes.len() - 1);
                        nodes.len() - 1
                    }
                };
            }
        }
    }
    let node_count = nodes.len();
    let mut out = Vec::new();
    for node in &nodes {
        for child in node {
            let value = match *child {
                Child::Empty => node_count,
                Child::Node(n) => n,
                Child::Data(d) => node_count + 16 + offsets[d],
            };
            out.extend_from_slice(&(value as u32).to_be_bytes()[1..]);
        }
    }
    out.extend_from_slice(&[0; 16]);
    out.extend_from_slice(&data);
    out.extend_from_slice(b"\xAB\xCD\xEFMaxMind.com");
    let metadata = serde_json::json!({
        "node_count": {"uint32": node_count},
        "record_size": {"uint16": 24},
        "ip_version": {"uint16": 4},
        "database_type": database_type,
        "languages": ["en"],
        "binary_format_major_version": {"uint16": 2},
        "binary_format_minor_version": {"uint16": 0},
        "build_epoch": {"uint64": 1_700_000_000u64},
        "description": {"en": "Cachalot test database"},
    });
    encode(&metadata, &mut out);
    out
}

fn control(out: &mut Vec<u8>, kind: u8, size: usize) {
    let extended = kind > 7;
    let head = if extended { 0 } else { kind << 5 };
    let (size_bits, extra): (u8, Vec<u8>) = match size {
        0..=28 => (size as u8, vec![]),
        29..=284 => (29, vec![(size - 29) as u8]),
        285..=65_820 => (30, ((size - 285) as u16).to_be_bytes().to_vec()),
        _ => (31, ((size - 65_821) as u32).to_be_bytes()[1..].to_vec()),
    };
    out.push(head | size_bits);
    if extended {
        out.push(kind - 7);
    }
    out.extend_from_slice(&extra);
}

/// Encodes a JSON value in the MaxMind data format. Numbers are doubles unless written
/// `{"uint16": n}`, `{"uint32": n}` or `{"uint64": n}`.
fn encode(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::String(s) => {
            control(out, 2, s.len());
            out.extend_from_slice(s.as_bytes());
        }
        Value::Number(n) => {
            control(out, 3, 8);
            out.extend_from_slice(&n.as_f64().unwrap_or(0.0).to_be_bytes());
        }
        Value::Bool(b) => control(out, 14, usize::from(*b)),
        Value::Array(items) => {
            control(out, 11, items.len());
            for item in items {
                encode(item, out);
            }
        }
        Value::Object(map) => {
            if map.len() == 1 {
                let (k, n) = map.iter().next().map(|(k, n)| (k.as_str(), n.as_u64().unwrap_or(0))).unwrap_or(("", 0));
                let width = match k {
                    "uint16" => Some((5, 2)),
                    "uint32" => Some((6, 4)),
                    "uint64" => Some((9, 8)),
                    _ => None,
                };
                if let Some((kind, bytes)) = width {
                    let be = n.to_be_bytes();
                    let trimmed: Vec<u8> = be[8 - bytes..].iter().copied().skip_while(|b| *b == 0).collect();
                    control(out, kind, trimmed.len());
                    out.extend_from_slice(&trimmed);
                    return;
                }
            }
            control(out, 7, map.len());
            for (k, item) in map {
                encode(&Value::String(k.clone()), out);
                encode(item, out);
            }
        }
        Value::Null => control(out, 4, 0),
    }
}
