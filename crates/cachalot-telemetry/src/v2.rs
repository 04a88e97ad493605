//! Standard logging (v2) records: the chosen fields, in the chosen order, in `json`, `plain`,
//! `w3c` or `parquet` — the bytes each delivery's files hold.
//!
//! - **Values** are written as the legacy file writes them ([`crate::format::encode_value`]:
//!   `-` when absent, CloudFront's percent-encoding), so a value never holds a tab, a space, a
//!   quote or a newline; with `,` or `;` as the delimiter those are percent-encoded too.
//! - **`json`**: one object per line, keys the field names, every value a string (as CloudFront's
//!   examples show: `"asn":"16509"`).
//! - **`plain`**: the values joined by the delimiter, no header. **`w3c`**: the same after
//!   `#Version: 1.0` and `#Fields: <names separated by spaces>`.
//! - **`parquet`**: records are spooled as `json` lines (so the sink's temporary files, sync
//!   flushes and crash salvage work unchanged) and turned into a parquet file when the file is
//!   published ([`write_parquet`]): one optional UTF-8 column per field, named as Athena's
//!   CloudFront tables name them (`cs(Host)` → `cs_host`), `-` stored as null, SNAPPY pages.
//!
//! Source: <https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/standard-logging.html>
//! (fields, formats, examples).

use crate::civil::{self, Civil};
use crate::format::{self, LogRecord};
use cachalot_config::logging::{OutputFormat, RecordField};
use std::io::{self, Write};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

/// What a v2 record holds beyond the legacy 33 fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordExtras {
    /// `origin-fbl`: from sending the origin request to its first byte.
    pub origin_fbl: Option<Duration>,
    /// `origin-lbl`: from sending the origin request to its last byte.
    pub origin_lbl: Option<Duration>,
    /// `asn`: the viewer's autonomous system.
    pub asn: Option<u32>,
    /// `c-country`: the viewer's ISO 3166-1 alpha-2 country.
    pub country: String,
    /// `connection-id`: the viewer connection's id.
    pub connection_id: String,
}

/// Everything one record's fields are read from.
#[derive(Debug, Clone, Copy)]
pub struct RecordView<'a> {
    /// The legacy fields.
    pub record: &'a LogRecord,
    /// The distribution.
    pub distribution_id: &'a str,
    /// The matched behavior's path pattern.
    pub behavior: &'a str,
    /// The v2-only values.
    pub extras: &'a RecordExtras,
}

/// The header lines a file of `format` starts with (only `w3c` has some).
pub fn header(format: OutputFormat, fields: &[RecordField]) -> Vec<u8> {
    if format != OutputFormat::W3c {
        return Vec::new();
    }
    let mut out = Vec::with_capacity(64 + fields.len() * 16);
    out.extend_from_slice(format::VERSION_LINE.as_bytes());
    out.extend_from_slice(b"\n#Fields:");
    for f in fields {
        out.push(b' ');
        out.extend_from_slice(f.name().as_bytes());
    }
    out.push(b'\n');
    out
}

/// Appends one record (`\n` included) as `format` writes it; `parquet` spools a `json` line.
pub fn write_record(
    out: &mut Vec<u8>,
    format: OutputFormat,
    fields: &[RecordField],
    delimiter: &str,
    v: &RecordView<'_>,
) {
    match format {
        OutputFormat::Json | OutputFormat::Parquet => {
            out.push(b'{');
            for (i, f) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.push(b'"');
                // Field names are ASCII without quotes or backslashes.
                out.extend_from_slice(f.name().as_bytes());
                out.extend_from_slice(b"\":\"");
                // Values are percent-encoded: no `"`, `\` or control byte is left to escape.
                write_value(out, *f, v);
                out.push(b'"');
            }
            out.push(b'}');
        }
        OutputFormat::Plain | OutputFormat::W3c => {
            let extra = match delimiter {
                "," => Some(b','),
                ";" => Some(b';'),
                _ => None,
            };
            for (i, f) in fields.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(delimiter.as_bytes());
                }
                let start = out.len();
                write_value(out, *f, v);
                if let Some(d) = extra
                    && out[start..].contains(&d)
                {
                    let value: Vec<u8> = out.split_off(start);
                    for b in value {
                        if b == d {
                            out.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
                        } else {
                            out.push(b);
                        }
                    }
                }
            }
        }
    }
    out.push(b'\n');
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Appends the value of `field` (`-` when absent).
fn write_value(out: &mut Vec<u8>, field: RecordField, v: &RecordView<'_>) {
    let r = v.record;
    match field {
        RecordField::Date => civil::push_date(out, &civil_of(r)),
        RecordField::Time => civil::push_time(out, &civil_of(r)),
        RecordField::EdgeLocation => format::encode_value(out, &r.edge_location),
        RecordField::ScBytes => format::push_u64(out, r.sc_bytes),
        RecordField::ClientIp => format::push_ip(out, r.client_ip),
        RecordField::Method => format::encode_value(out, &r.method),
        RecordField::Host => format::encode_value(out, &r.host),
        RecordField::UriStem => format::encode_value(out, &r.uri_stem),
        RecordField::Status => format::push_status(out, r.status),
        RecordField::Referer => format::encode_value(out, &r.referer),
        RecordField::UserAgent => format::encode_value(out, &r.user_agent),
        RecordField::UriQuery => format::encode_value(out, &r.query),
        RecordField::Cookie => format::encode_value(out, &r.cookie),
        RecordField::EdgeResultType => format::encode_value(out, format::result_text(&r.result_type)),
        RecordField::EdgeRequestId => format::encode_value(out, &r.request_id),
        RecordField::HostHeader => format::encode_value(out, &r.host_header),
        RecordField::Protocol => format::encode_value(out, &r.protocol),
        RecordField::CsBytes => format::push_u64(out, r.cs_bytes),
        RecordField::TimeTaken => format::push_seconds(out, r.time_taken),
        RecordField::ForwardedFor => format::encode_value(out, &r.forwarded_for),
        RecordField::SslProtocol => format::encode_value(out, &r.ssl_protocol),
        RecordField::SslCipher => format::encode_value(out, &r.ssl_cipher),
        RecordField::EdgeResponseResultType => format::encode_value(out, format::result_text(&r.response_result_type)),
        RecordField::ProtocolVersion => format::encode_value(out, &r.protocol_version),
        RecordField::FleStatus => format::encode_value(out, &r.fle_status),
        RecordField::FleEncryptedFields => format::push_opt_u64(out, r.fle_encrypted_fields),
        RecordField::ClientPort => format::push_opt_u64(out, r.client_port.map(u64::from)),
        RecordField::TimeToFirstByte => push_opt_seconds(out, r.time_to_first_byte),
        RecordField::EdgeDetailedResultType => format::encode_value(out, format::result_text(&r.detailed_result_type)),
        RecordField::ContentType => format::encode_value(out, &r.content_type),
        RecordField::ContentLength => format::push_opt_u64(out, r.content_length),
        RecordField::RangeStart => format::push_opt_u64(out, r.range_start),
        RecordField::RangeEnd => format::push_opt_u64(out, r.range_end),
        RecordField::TimestampMs => format::push_u64(out, millis_of(r)),
        RecordField::Timestamp => {
            // Seconds with milliseconds, as real-time logs write `timestamp`.
            let ms = millis_of(r);
            format::push_u64(out, ms / 1000);
            out.push(b'.');
            let frac = ms % 1000;
            out.extend_from_slice(&[
                b'0' + (frac / 100) as u8,
                b'0' + (frac / 10 % 10) as u8,
                b'0' + (frac % 10) as u8,
            ]);
        }
        RecordField::OriginFbl => push_opt_seconds(out, v.extras.origin_fbl),
        RecordField::OriginLbl => push_opt_seconds(out, v.extras.origin_lbl),
        RecordField::Asn => format::push_opt_u64(out, v.extras.asn.map(u64::from)),
        RecordField::Country => format::encode_value(out, &v.extras.country),
        RecordField::CacheBehaviorPathPattern => format::encode_value(out, v.behavior),
        RecordField::DistributionTenantId => out.push(b'-'),
        RecordField::ConnectionId => format::encode_value(out, &v.extras.connection_id),
        RecordField::DistributionId => format::encode_value(out, v.distribution_id),
    }
}

fn civil_of(r: &LogRecord) -> Civil {
    Civil::from_unix(civil::unix_seconds(r.timestamp))
}

fn millis_of(r: &LogRecord) -> u64 {
    r.timestamp.duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn push_opt_seconds(out: &mut Vec<u8>, d: Option<Duration>) {
    match d {
        Some(d) => format::push_seconds(out, d),
        None => out.push(b'-'),
    }
}

/// The parquet column for a `json` key: the field's column name, or the key made safe.
fn column_name(key: &str) -> String {
    match RecordField::from_name(key) {
        Some(f) => f.parquet_column(),
        None => key.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect(),
    }
}

/// Rows per parquet row group.
const ROW_GROUP: usize = 64 * 1024;

/// One spooled `json` line's (key, value) pairs in order, borrowed from the line (the writer
/// escapes nothing: names are plain ASCII and values percent-encoded).
struct Pairs<'a>(Vec<(&'a str, &'a str)>);

impl Pairs<'_> {
    /// The line's pairs, or `None` when it is not a JSON object of unescaped strings.
    fn parse(line: &[u8]) -> Option<Pairs<'_>> {
        serde_json::from_slice(line).ok()
    }
}

impl<'de> serde::Deserialize<'de> for Pairs<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Object;
        impl<'de> serde::de::Visitor<'de> for Object {
            type Value = Pairs<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object of strings")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Pairs<'de>, A::Error> {
                let mut pairs = Vec::with_capacity(map.size_hint().unwrap_or(40));
                while let Some(pair) = map.next_entry::<&'de str, &'de str>()? {
                    pairs.push(pair);
                }
                Ok(Pairs(pairs))
            }
        }
        deserializer.deserialize_map(Object)
    }
}

/// Writes spooled `json` lines as one parquet file into `out`; returns the rows written. The
/// columns are the first line's keys, in order; a line that is not a JSON object of unescaped
/// strings (a crash may cut the last one) is skipped. Values are slices of the lines' buffer,
/// not copies; lines are parsed one row group at a time.
pub fn write_parquet<W: Write + Send>(lines: &[bytes::Bytes], out: W) -> io::Result<u64> {
    use parquet::basic::{Compression, LogicalType, Repetition, Type as Physical};
    use parquet::data_type::{ByteArray, ByteArrayType};
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    use parquet::schema::types::Type;

    let keys: Vec<&str> =
        lines.iter().find_map(|l| Pairs::parse(l)).map(|p| p.0.iter().map(|(k, _)| *k).collect()).unwrap_or_default();
    let err = |e: parquet::errors::ParquetError| io::Error::other(e.to_string());
    let mut columns = Vec::with_capacity(keys.len());
    for key in &keys {
        let column = Type::primitive_type_builder(&column_name(key), Physical::BYTE_ARRAY)
            .with_repetition(Repetition::OPTIONAL)
            .with_logical_type(Some(LogicalType::String))
            .build()
            .map_err(err)?;
        columns.push(Arc::new(column));
    }
    let schema = Type::group_type_builder("cloudfront_access_log").with_fields(columns).build().map_err(err)?;
    let props = WriterProperties::builder().set_compression(Compression::SNAPPY).build();
    let mut writer = SerializedFileWriter::new(out, Arc::new(schema), Arc::new(props)).map_err(err)?;
    let mut written = 0u64;
    for chunk in lines.chunks(ROW_GROUP) {
        let rows: Vec<(&bytes::Bytes, Pairs<'_>)> = chunk.iter().filter_map(|l| Some((l, Pairs::parse(l)?))).collect();
        if rows.is_empty() {
            continue;
        }
        written += rows.len() as u64;
        let mut group = writer.next_row_group().map_err(err)?;
        let mut index = 0;
        let mut values = Vec::with_capacity(rows.len());
        let mut levels = Vec::with_capacity(rows.len());
        while let Some(mut column) = group.next_column().map_err(err)? {
            let key = keys.get(index).copied().unwrap_or("");
            values.clear();
            levels.clear();
            for (line, pairs) in &rows {
                // Every line of a file usually has the first line's keys in its order.
                let value = match pairs.0.get(index) {
                    Some((k, v)) if *k == key => Some(*v),
                    _ => pairs.0.iter().find(|(k, _)| *k == key).map(|(_, v)| *v),
                };
                match value {
                    Some(v) if v != "-" => {
                        values.push(ByteArray::from(line.slice_ref(v.as_bytes())));
                        levels.push(1i16);
                    }
                    _ => levels.push(0),
                }
            }
            index += 1;
            column.typed::<ByteArrayType>().write_batch(&values, Some(&levels), None).map_err(err)?;
            column.close().map_err(err)?;
        }
        group.close().map_err(err)?;
    }
    writer.close().map_err(err)?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::ResultType;
    use std::time::SystemTime;

    fn record() -> LogRecord {
        LogRecord {
            timestamp: SystemTime::UNIX_EPOCH + Duration::from_millis(1_731_620_046_814),
            edge_location: "SOF50-P2".into(),
            host_header: "d111111abcdef8.cloudfront.net".into(),
            cookie: "examplecookie=value".into(),
            query: "a=1,2;3".into(),
            result_type: ResultType::Hit,
            ..LogRecord::default()
        }
    }

    fn line(format: OutputFormat, fields: &[RecordField], delimiter: &str) -> String {
        let r = record();
        let extras =
            RecordExtras { asn: Some(16509), origin_fbl: Some(Duration::from_millis(251)), ..RecordExtras::default() };
        let v = RecordView { record: &r, distribution_id: "E1", behavior: "*", extras: &extras };
        let mut out = Vec::new();
        write_record(&mut out, format, fields, delimiter, &v);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn json_matches_the_documented_example() {
        // standard-logging.html, "Example access log sent to CloudWatch Logs".
        let fields = [
            RecordField::Date,
            RecordField::Time,
            RecordField::EdgeLocation,
            RecordField::Asn,
            RecordField::TimestampMs,
            RecordField::OriginFbl,
            RecordField::HostHeader,
            RecordField::Cookie,
        ];
        assert_eq!(
            line(OutputFormat::Json, &fields, "\t"),
            "{\"date\":\"2024-11-14\",\"time\":\"21:34:06\",\"x-edge-location\":\"SOF50-P2\",\"asn\":\"16509\",\
             \"timestamp(ms)\":\"1731620046814\",\"origin-fbl\":\"0.251\",\"x-host-header\":\"d111111abcdef8.cloudfront.net\",\
             \"cs(Cookie)\":\"examplecookie=value\"}\n"
        );
    }

    #[test]
    fn plain_and_w3c_use_the_delimiter_and_keep_it_out_of_values() {
        let fields =
            [RecordField::Date, RecordField::UriQuery, RecordField::OriginLbl, RecordField::CacheBehaviorPathPattern];
        assert_eq!(line(OutputFormat::Plain, &fields, "\t"), "2024-11-14\ta=1,2;3\t-\t*\n");
        assert_eq!(line(OutputFormat::Plain, &fields, ","), "2024-11-14,a=1%2C2;3,-,*\n");
        assert_eq!(line(OutputFormat::W3c, &fields, ";"), "2024-11-14;a=1,2%3B3;-;*\n");
        assert_eq!(
            String::from_utf8(header(OutputFormat::W3c, &fields)).unwrap(),
            "#Version: 1.0\n#Fields: date cs-uri-query origin-lbl cache-behavior-path-pattern\n"
        );
        assert!(header(OutputFormat::Plain, &fields).is_empty());
    }

    #[test]
    fn parquet_skips_a_cut_line() {
        let a = line(OutputFormat::Parquet, &[RecordField::Date, RecordField::OriginLbl], "\t");
        let lines =
            vec![bytes::Bytes::from(a.trim_end().to_owned()), bytes::Bytes::from_static(b"{\"date\":\"2024-11-")];
        let mut out = Vec::new();
        assert_eq!(write_parquet(&lines, &mut out).unwrap(), 1);
        assert_eq!(&out[..4], b"PAR1");
    }

    #[test]
    fn parquet_columns_follow_the_first_line_and_find_keys_out_of_order() {
        use parquet::file::reader::{FileReader, SerializedFileReader};
        let lines: Vec<bytes::Bytes> = [
            r#"{"date":"2024-11-14","cs(Host)":"-"}"#,
            r#"{"cs(Host)":"d1.cloudfront.net","date":"2024-11-15"}"#,
            r#"{"date":"2024-11-16"}"#,
        ]
        .into_iter()
        .map(|l| bytes::Bytes::from_static(l.as_bytes()))
        .collect();
        let mut out = Vec::new();
        assert_eq!(write_parquet(&lines, &mut out).unwrap(), 3);
        let reader = SerializedFileReader::new(bytes::Bytes::from(out)).unwrap();
        let rows: Vec<String> = reader.get_row_iter(None).unwrap().map(|r| r.unwrap().to_string()).collect();
        assert_eq!(
            rows,
            [
                r#"{date: "2024-11-14", cs_host: null}"#,
                r#"{date: "2024-11-15", cs_host: "d1.cloudfront.net"}"#,
                r#"{date: "2024-11-16", cs_host: null}"#,
            ]
        );
    }
}
