//! Standard logging (v2): CloudFront's `ACCESS_LOGS` template and the three CloudWatch Logs
//! resources that configure it (delivery source, delivery destination, delivery), shared by the
//! control plane's `logs` API, the `--config` file and the edge's writers.
//!
//! **Owns**
//! - the record-field vocabulary ([`RecordField`]): the 33 legacy fields, then the fields only
//!   v2 offers, each with its parquet column name;
//! - the template values: output formats, default fields, delimiters, suffix-path variables
//!   ([`ALLOWED_FORMATS`], [`DEFAULT_FIELDS`], [`ALLOWED_DELIMITERS`], [`SUFFIX_VARIABLES`]);
//! - the resources in the shapes `aws logs get-delivery-*` prints ([`DeliverySource`],
//!   [`DeliveryDestination`], [`Delivery`]) and their checks (lengths, patterns, vocabularies);
//! - [`resolve`]: the deliveries the edge writes, one [`LogDelivery`] per delivery whose source is
//!   a distribution and whose destination is an S3 bucket;
//! - [`expand_suffix`] and [`object_folder`]: the S3 key of a file (prefix, suffix path with its
//!   variables, Hive-compatible `name=value` segments), the time passed in.
//!
//! Sources: "Configure standard logging (v2)"
//! (<https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/standard-logging.html>:
//! default fields, v2-only fields, formats, partitioning variables, Hive-compatible names, the
//! `AWSLogs/{account-id}/CloudFront/` default), botocore's `logs` service model (lengths and
//! patterns) and CloudWatch Logs' `S3DeliveryConfiguration`
//! (<https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_S3DeliveryConfiguration.html>).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

macro_rules! record_fields {
    ($($variant:ident => $name:literal,)*) => {
        /// One field a v2 delivery can write, in CloudFront's template order.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum RecordField {
            $(#[doc = concat!("`", $name, "`")] $variant,)*
        }

        impl RecordField {
            /// Every field, the 33 legacy ones first (in the legacy file's order).
            pub const ALL: &'static [RecordField] = &[$(RecordField::$variant,)*];

            /// The field's name as `recordFields` and the `#Fields:` line spell it.
            pub fn name(self) -> &'static str {
                match self { $(RecordField::$variant => $name,)* }
            }
        }
    };
}

/// Calls `$callback! { NAME => "spelling", … }` with the 33 fields of the legacy standard log,
/// in the legacy file's order, followed by whatever else the caller passes: the one list of
/// their spellings. The v2 field vocabulary ([`RecordField`]) and the legacy log's columns
/// (`cachalot-telemetry`) are both declared from it.
#[macro_export]
macro_rules! for_legacy_log_fields {
    ($callback:ident $(, $($extra:tt)*)?) => {
        $callback! {
            Date => "date",
            Time => "time",
            EdgeLocation => "x-edge-location",
            ScBytes => "sc-bytes",
            ClientIp => "c-ip",
            Method => "cs-method",
            Host => "cs(Host)",
            UriStem => "cs-uri-stem",
            Status => "sc-status",
            Referer => "cs(Referer)",
            UserAgent => "cs(User-Agent)",
            UriQuery => "cs-uri-query",
            Cookie => "cs(Cookie)",
            EdgeResultType => "x-edge-result-type",
            EdgeRequestId => "x-edge-request-id",
            HostHeader => "x-host-header",
            Protocol => "cs-protocol",
            CsBytes => "cs-bytes",
            TimeTaken => "time-taken",
            ForwardedFor => "x-forwarded-for",
            SslProtocol => "ssl-protocol",
            SslCipher => "ssl-cipher",
            EdgeResponseResultType => "x-edge-response-result-type",
            ProtocolVersion => "cs-protocol-version",
            FleStatus => "fle-status",
            FleEncryptedFields => "fle-encrypted-fields",
            ClientPort => "c-port",
            TimeToFirstByte => "time-to-first-byte",
            EdgeDetailedResultType => "x-edge-detailed-result-type",
            ContentType => "sc-content-type",
            ContentLength => "sc-content-len",
            RangeStart => "sc-range-start",
            RangeEnd => "sc-range-end",
            $($($extra)*)?
        }
    };
}

for_legacy_log_fields!(
    record_fields,
    TimestampMs => "timestamp(ms)",
    OriginFbl => "origin-fbl",
    OriginLbl => "origin-lbl",
    Asn => "asn",
    Country => "c-country",
    CacheBehaviorPathPattern => "cache-behavior-path-pattern",
    DistributionTenantId => "distribution-tenant-id",
    ConnectionId => "connection-id",
    Timestamp => "timestamp",
    DistributionId => "DistributionId",
);

impl RecordField {
    /// The field named `name`. `distributionid` is accepted for `DistributionId`, as the suffix
    /// path accepts both spellings.
    pub fn from_name(name: &str) -> Option<RecordField> {
        if name == "distributionid" {
            return Some(RecordField::DistributionId);
        }
        RecordField::ALL.iter().copied().find(|f| f.name() == name)
    }

    /// Only standard logging v2 offers it (the legacy file has the first 33).
    pub fn v2_only(self) -> bool {
        (self as usize) >= 33
    }

    /// The column name in a parquet file: lowercase, `-` as `_`, `cs(Host)` as `cs_host`,
    /// `timestamp(ms)` as `timestamp_ms` — the names Athena's CloudFront parquet tables use.
    pub fn parquet_column(self) -> String {
        let mut out = String::with_capacity(self.name().len());
        for c in self.name().chars() {
            match c {
                '-' | '(' => out.push('_'),
                ')' => {}
                c => out.push(c.to_ascii_lowercase()),
            }
        }
        out
    }
}

/// The fields a delivery writes when `recordFields` is not given: the legacy 33, then
/// `c-country` and `cache-behavior-path-pattern` (what CreateDelivery answers on AWS).
pub const DEFAULT_FIELDS: &[RecordField] = &[
    RecordField::Date,
    RecordField::Time,
    RecordField::EdgeLocation,
    RecordField::ScBytes,
    RecordField::ClientIp,
    RecordField::Method,
    RecordField::Host,
    RecordField::UriStem,
    RecordField::Status,
    RecordField::Referer,
    RecordField::UserAgent,
    RecordField::UriQuery,
    RecordField::Cookie,
    RecordField::EdgeResultType,
    RecordField::EdgeRequestId,
    RecordField::HostHeader,
    RecordField::Protocol,
    RecordField::CsBytes,
    RecordField::TimeTaken,
    RecordField::ForwardedFor,
    RecordField::SslProtocol,
    RecordField::SslCipher,
    RecordField::EdgeResponseResultType,
    RecordField::ProtocolVersion,
    RecordField::FleStatus,
    RecordField::FleEncryptedFields,
    RecordField::ClientPort,
    RecordField::TimeToFirstByte,
    RecordField::EdgeDetailedResultType,
    RecordField::ContentType,
    RecordField::ContentLength,
    RecordField::RangeStart,
    RecordField::RangeEnd,
    RecordField::Country,
    RecordField::CacheBehaviorPathPattern,
];

/// A delivery destination's `outputFormat`, as far as CloudFront's S3 deliveries go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OutputFormat {
    /// One JSON object per line, every value a string.
    Json,
    /// Values joined by the delimiter, no header.
    Plain,
    /// `#Version` and `#Fields` header lines, then values joined by the delimiter.
    W3c,
    /// Apache Parquet, one string column per field.
    Parquet,
}

impl OutputFormat {
    /// The API's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            OutputFormat::Json => "json",
            OutputFormat::Plain => "plain",
            OutputFormat::W3c => "w3c",
            OutputFormat::Parquet => "parquet",
        }
    }

    /// The format spelled `s` (the API's enum, except `raw`, which CloudFront's S3 template lacks).
    pub fn parse(s: &str) -> Option<OutputFormat> {
        ALLOWED_FORMATS.iter().copied().find(|f| f.as_str() == s)
    }

    /// The format written when a destination names none.
    pub const DEFAULT: OutputFormat = OutputFormat::Plain;
}

/// The output formats of CloudFront's template for S3 destinations.
pub const ALLOWED_FORMATS: &[OutputFormat] =
    &[OutputFormat::Json, OutputFormat::Plain, OutputFormat::W3c, OutputFormat::Parquet];

/// Every value botocore's `OutputFormat` enum takes (for the API's enum error).
pub const API_FORMATS: &[&str] = &["json", "plain", "w3c", "raw", "parquet"];

/// The delimiter written when a delivery names none.
pub const DEFAULT_DELIMITER: &str = "\t";

/// The field delimiters a delivery may choose.
pub const ALLOWED_DELIMITERS: &[&str] = &["\t", " ", ",", "|", ";"];

/// The suffix path of a delivery to a bucket without a prefix when none is given.
pub const DEFAULT_SUFFIX: &str = "AWSLogs/{account-id}/CloudFront/";

/// The variables a suffix path may hold, with their Hive-compatible names.
pub const SUFFIX_VARIABLES: &[(&str, &str)] = &[
    ("{DistributionId}", "DistributionId"),
    ("{distributionid}", "distributionid"),
    ("{yyyy}", "year"),
    ("{MM}", "month"),
    ("{dd}", "day"),
    ("{HH}", "hour"),
    ("{accountid}", "accountid"),
    ("{account-id}", "aws-account-id"),
];

/// The `logType` of CloudFront's access logs.
pub const LOG_TYPE: &str = "ACCESS_LOGS";

/// A delivery source: the distribution whose access logs are delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliverySource {
    /// Unique among sources.
    pub name: String,
    /// `arn:aws:cloudfront::<account>:distribution/<Id>`.
    pub resource_arn: String,
    /// `ACCESS_LOGS`.
    pub log_type: String,
    /// Tags given at creation.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

/// A delivery destination: where files go, and in which format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryDestination {
    /// Unique among destinations.
    pub name: String,
    /// `json`, `plain`, `w3c` or `parquet`; `None` when the request named none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_format: Option<String>,
    /// `arn:aws:s3:::<bucket>[/<prefix>]`.
    pub destination_resource_arn: String,
    /// Tags given at creation.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

/// A delivery: one source to one destination, with the fields, delimiter and S3 path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    /// Letters and digits.
    pub id: String,
    /// The source's name.
    pub delivery_source_name: String,
    /// `arn:aws:logs:<region>:<account>:delivery-destination:<name>`.
    pub delivery_destination_arn: String,
    /// The fields, in order.
    pub record_fields: Vec<String>,
    /// Between values in `plain` and `w3c`.
    pub field_delimiter: String,
    /// The S3 suffix path.
    pub suffix_path: String,
    /// `name=value` path segments.
    pub enable_hive_compatible_path: bool,
    /// Tags given at creation.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

/// The three kinds of resource, as stored or read from the config file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogDeliveries {
    /// Delivery sources.
    pub sources: Vec<DeliverySource>,
    /// Delivery destinations.
    pub destinations: Vec<DeliveryDestination>,
    /// Deliveries.
    pub deliveries: Vec<Delivery>,
}

/// One delivery as the edge writes it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LogDelivery {
    /// The delivery's id.
    pub id: String,
    /// The distribution logged.
    pub distribution_id: String,
    /// The account in the distribution's ARN (for `{accountid}` and `{account-id}`).
    pub account_id: String,
    /// The destination bucket.
    pub bucket: String,
    /// The key prefix the destination ARN names after the bucket (no leading or trailing `/`).
    pub prefix: String,
    /// How records are written.
    pub format: OutputFormat,
    /// The fields, in order.
    pub fields: Vec<RecordField>,
    /// Between values (`plain`, `w3c`).
    pub delimiter: String,
    /// The suffix path with its variables.
    pub suffix_path: String,
    /// Hive-compatible path segments.
    pub hive: bool,
    /// The distribution's `Logging.IncludeCookies` (a setting of the distribution, for every delivery).
    pub include_cookies: bool,
}

/// A delivery with CloudFront's defaults filled in where the request left a setting out: the
/// default fields, a tab, and the suffix path [`default_suffix`] gives for the destination's prefix.
pub fn new_delivery(
    id: String,
    source_name: &str,
    destination_arn: &str,
    destination_prefix: &str,
    record_fields: Option<Vec<String>>,
    field_delimiter: Option<String>,
    suffix_path: Option<String>,
    hive: Option<bool>,
    tags: BTreeMap<String, String>,
) -> Delivery {
    Delivery {
        id,
        delivery_source_name: source_name.to_owned(),
        delivery_destination_arn: destination_arn.to_owned(),
        record_fields: record_fields
            .filter(|f| !f.is_empty())
            .unwrap_or_else(|| DEFAULT_FIELDS.iter().map(|f| f.name().to_owned()).collect()),
        field_delimiter: field_delimiter.filter(|d| !d.is_empty()).unwrap_or_else(|| DEFAULT_DELIMITER.to_owned()),
        suffix_path: suffix_path.unwrap_or_else(|| default_suffix(destination_prefix).to_owned()),
        enable_hive_compatible_path: hive.unwrap_or(false),
        tags,
    }
}

/// Checks a source or destination name: 1 to 60 of letters, digits, `_` and `-`.
pub fn check_name(what: &str, name: &str) -> Result<(), String> {
    if name.is_empty() || name.chars().count() > 60 {
        return Err(format!("{what} must be 1 to 60 characters long, got {}", name.chars().count()));
    }
    if !name.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-') {
        return Err(format!("{what} '{name}' may hold only letters, digits, '_' and '-' (pattern [\\w-]*)"));
    }
    Ok(())
}

/// `(account, distribution id)` of `arn:aws:cloudfront::<account>:distribution/<Id>`.
pub fn distribution_arn(arn: &str) -> Option<(&str, &str)> {
    let rest = arn.strip_prefix("arn:")?;
    let mut parts = rest.splitn(5, ':');
    let _partition = parts.next()?;
    let service = parts.next()?;
    let _region = parts.next()?;
    let account = parts.next()?;
    let resource = parts.next()?;
    let id = resource.strip_prefix("distribution/")?;
    (service == "cloudfront" && !id.is_empty() && !id.contains('/')).then_some((account, id))
}

/// The service an ARN names (`cloudfront`, `s3`, `logs`, `firehose`, …).
pub fn arn_service(arn: &str) -> Option<&str> {
    arn.strip_prefix("arn:")?.split(':').nth(1).filter(|s| !s.is_empty())
}

/// `(bucket, prefix)` of `arn:aws:s3:::<bucket>[/<prefix>]`; the prefix loses its outer `/`.
pub fn s3_arn(arn: &str) -> Option<(&str, &str)> {
    let rest = arn.strip_prefix("arn:")?;
    let mut parts = rest.splitn(5, ':');
    let _partition = parts.next()?;
    let service = parts.next()?;
    let region = parts.next()?;
    let account = parts.next()?;
    let resource = parts.next()?;
    if service != "s3" || !region.is_empty() || !account.is_empty() {
        return None;
    }
    let (bucket, prefix) = resource.split_once('/').unwrap_or((resource, ""));
    let valid = (3..=63).contains(&bucket.len())
        && bucket.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    valid.then_some((bucket, prefix.trim_matches('/')))
}

/// The destination name at the end of `arn:aws:logs:<region>:<account>:delivery-destination:<name>`.
pub fn destination_name_of(arn: &str) -> Option<&str> {
    let rest = arn.strip_prefix("arn:")?;
    let (_, name) = rest.rsplit_once(":delivery-destination:")?;
    (!name.is_empty()).then_some(name)
}

/// Checks `recordFields`: at most 128 names of CloudFront's template, none twice.
pub fn check_record_fields(names: &[String]) -> Result<Vec<RecordField>, String> {
    if names.len() > 128 {
        return Err(format!("recordFields holds {} names; at most 128 are allowed", names.len()));
    }
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let Some(field) = RecordField::from_name(name) else {
            return Err(format!(
                "'{name}' is not a field of CloudFront's ACCESS_LOGS; DescribeConfigurationTemplates lists the allowed fields"
            ));
        };
        if out.contains(&field) {
            return Err(format!("recordFields names '{name}' twice"));
        }
        out.push(field);
    }
    Ok(out)
}

/// Checks `fieldDelimiter` against the template's delimiters.
pub fn check_delimiter(delimiter: &str) -> Result<(), String> {
    if ALLOWED_DELIMITERS.contains(&delimiter) {
        return Ok(());
    }
    let allowed: Vec<String> = ALLOWED_DELIMITERS.iter().map(|d| format!("{d:?}")).collect();
    Err(format!("fieldDelimiter {delimiter:?} is not allowed; use one of {}", allowed.join(", ")))
}

/// Checks a suffix path: 1 to 256 characters, every `{…}` one of [`SUFFIX_VARIABLES`].
pub fn check_suffix_path(path: &str) -> Result<(), String> {
    if path.is_empty() || path.chars().count() > 256 {
        return Err("suffixPath must be 1 to 256 characters long".to_owned());
    }
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            return Err(format!("suffixPath '{path}' opens a variable it does not close"));
        };
        let var = &rest[open..open + close + 1];
        if !SUFFIX_VARIABLES.iter().any(|(v, _)| *v == var) {
            let known: Vec<&str> = SUFFIX_VARIABLES.iter().map(|(v, _)| *v).collect();
            return Err(format!("suffixPath variable {var} is not supported; use {}", known.join(", ")));
        }
        rest = &rest[open + close + 1..];
    }
    if rest.contains('}') {
        return Err(format!("suffixPath '{path}' closes a variable it did not open"));
    }
    Ok(())
}

/// The suffix path of a delivery to `destination_prefix` when the request gives none: the
/// `AWSLogs/{account-id}/CloudFront/` CloudFront adds under a bucket without a prefix, nothing
/// under a prefix.
pub fn default_suffix(destination_prefix: &str) -> &'static str {
    if destination_prefix.is_empty() { DEFAULT_SUFFIX } else { "" }
}

/// The UTC hour a file covers, for the suffix path's date variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hour {
    /// Year.
    pub year: i64,
    /// Month 1–12.
    pub month: u32,
    /// Day 1–31.
    pub day: u32,
    /// Hour 0–23.
    pub hour: u32,
}

/// `suffix` with its variables replaced for `hour` (`name=value` segments when `hive`).
pub fn expand_suffix(suffix: &str, hive: bool, distribution_id: &str, account_id: &str, hour: Hour) -> String {
    let mut out = String::with_capacity(suffix.len() + 32);
    let mut rest = suffix;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}').map_or(rest.len(), |c| open + c + 1);
        let var = &rest[open..close];
        let value = match var {
            "{DistributionId}" | "{distributionid}" => distribution_id.to_owned(),
            "{yyyy}" => format!("{:04}", hour.year),
            "{MM}" => format!("{:02}", hour.month),
            "{dd}" => format!("{:02}", hour.day),
            "{HH}" => format!("{:02}", hour.hour),
            "{accountid}" | "{account-id}" => account_id.to_owned(),
            other => {
                // Checked paths hold only known variables; anything else stays as written.
                out.push_str(other);
                rest = &rest[close..];
                continue;
            }
        };
        match SUFFIX_VARIABLES.iter().find(|(v, _)| *v == var) {
            Some((_, name)) if hive => {
                out.push_str(name);
                out.push('=');
                out.push_str(&value);
            }
            _ => out.push_str(&value),
        }
        rest = &rest[close..];
    }
    out.push_str(rest);
    out
}

/// The folders of a file's key under its bucket: the destination prefix, then the expanded suffix
/// path, split at `/` with empty, `.` and `..` segments dropped so the key stays inside the bucket.
pub fn object_folder(delivery: &LogDelivery, hour: Hour) -> Vec<String> {
    let suffix =
        expand_suffix(&delivery.suffix_path, delivery.hive, &delivery.distribution_id, &delivery.account_id, hour);
    delivery
        .prefix
        .split('/')
        .chain(suffix.split('/'))
        .filter(|s| !s.is_empty() && *s != "." && *s != "..")
        .map(str::to_owned)
        .collect()
}

/// The deliveries the edge writes: each delivery whose source names a distribution of
/// `include_cookies` (distribution id → `Logging.IncludeCookies`) and whose destination is an S3
/// bucket. Deliveries whose distribution is gone are left out (CloudFront stops logging them).
pub fn resolve(all: &LogDeliveries, include_cookies: &BTreeMap<String, bool>) -> Vec<LogDelivery> {
    let mut out = Vec::new();
    for d in &all.deliveries {
        let Some(source) = all.sources.iter().find(|s| s.name == d.delivery_source_name) else { continue };
        let Some((account, distribution_id)) = distribution_arn(&source.resource_arn) else { continue };
        let Some(&cookies) = include_cookies.get(distribution_id) else { continue };
        let Some(name) = destination_name_of(&d.delivery_destination_arn) else { continue };
        let Some(destination) = all.destinations.iter().find(|x| x.name == name) else { continue };
        let Some((bucket, prefix)) = s3_arn(&destination.destination_resource_arn) else { continue };
        let format = match destination.output_format.as_deref() {
            None => OutputFormat::DEFAULT,
            Some(f) => match OutputFormat::parse(f) {
                Some(f) => f,
                None => continue,
            },
        };
        let Ok(fields) = check_record_fields(&d.record_fields) else { continue };
        out.push(LogDelivery {
            id: d.id.clone(),
            distribution_id: distribution_id.to_owned(),
            account_id: account.to_owned(),
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
            format,
            fields: if fields.is_empty() { DEFAULT_FIELDS.to_vec() } else { fields },
            delimiter: if d.field_delimiter.is_empty() {
                DEFAULT_DELIMITER.to_owned()
            } else {
                d.field_delimiter.clone()
            },
            suffix_path: d.suffix_path.clone(),
            hive: d.enable_hive_compatible_path,
            include_cookies: cookies,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Hour = Hour { year: 2025, month: 2, day: 16, hour: 9 };

    #[test]
    fn the_first_33_fields_are_the_legacy_file_in_order_and_names_round_trip() {
        assert_eq!(RecordField::ALL.iter().filter(|f| !f.v2_only()).count(), 33);
        for f in RecordField::ALL {
            assert_eq!(RecordField::from_name(f.name()), Some(*f));
        }
        assert_eq!(RecordField::from_name("distributionid"), Some(RecordField::DistributionId));
        assert_eq!(RecordField::from_name("Date"), None);
        assert_eq!(DEFAULT_FIELDS.len(), 35);
    }

    #[test]
    fn parquet_columns_are_athenas_names() {
        assert_eq!(RecordField::Host.parquet_column(), "cs_host");
        assert_eq!(RecordField::UserAgent.parquet_column(), "cs_user_agent");
        assert_eq!(RecordField::TimestampMs.parquet_column(), "timestamp_ms");
        assert_eq!(RecordField::EdgeLocation.parquet_column(), "x_edge_location");
        assert_eq!(RecordField::DistributionId.parquet_column(), "distributionid");
    }

    #[test]
    fn suffix_paths_expand_as_the_documentation_shows() {
        // standard-logging.html, "Partitioning" and "Hive-compatible file name format".
        let plain =
            expand_suffix("/cloudfront/{DistributionId}/data/{yyyy}/{MM}/{dd}/{HH}/logs", false, "E1", "1", HOUR);
        assert_eq!(plain, "/cloudfront/E1/data/2025/02/16/09/logs");
        let hive = expand_suffix("/cloudfront/{DistributionId}/data/{yyyy}/{MM}/{dd}/{HH}/logs", true, "E1", "1", HOUR);
        assert_eq!(hive, "/cloudfront/DistributionId=E1/data/year=2025/month=02/day=16/hour=09/logs");
        assert_eq!(expand_suffix(DEFAULT_SUFFIX, true, "E1", "123", HOUR), "AWSLogs/aws-account-id=123/CloudFront/");
        assert_eq!(expand_suffix("a/{accountid}", true, "E1", "123", HOUR), "a/accountid=123");
    }

    #[test]
    fn suffix_paths_are_checked() {
        assert!(check_suffix_path("AWSLogs/{account-id}/CloudFront/{DistributionId}/{yyyy}").is_ok());
        assert!(check_suffix_path("{minute}").unwrap_err().contains("{minute}"));
        assert!(check_suffix_path("{yyyy").is_err());
        assert!(check_suffix_path("").is_err());
    }

    #[test]
    fn arns_are_read() {
        assert_eq!(
            distribution_arn("arn:aws:cloudfront::123456789012:distribution/E1ABC"),
            Some(("123456789012", "E1ABC"))
        );
        assert_eq!(distribution_arn("arn:aws:s3:::bucket"), None);
        assert_eq!(s3_arn("arn:aws:s3:::my-logs/Prefix/a/"), Some(("my-logs", "Prefix/a")));
        assert_eq!(s3_arn("arn:aws:s3:::my-logs"), Some(("my-logs", "")));
        assert_eq!(s3_arn("arn:aws:s3:::UPPER"), None);
        assert_eq!(destination_name_of("arn:aws:logs:us-east-1:1:delivery-destination:dest-1"), Some("dest-1"));
        assert_eq!(arn_service("arn:aws:firehose:us-east-1:1:deliverystream/x"), Some("firehose"));
    }

    #[test]
    fn keys_stay_inside_the_bucket() {
        let d = LogDelivery {
            id: "x".into(),
            distribution_id: "E1".into(),
            account_id: "1".into(),
            bucket: "b".into(),
            prefix: "p".into(),
            format: OutputFormat::Json,
            fields: DEFAULT_FIELDS.to_vec(),
            delimiter: "\t".into(),
            suffix_path: "../../{yyyy}/./x/".into(),
            hive: false,
            include_cookies: false,
        };
        assert_eq!(object_folder(&d, HOUR), ["p", "2025", "x"]);
    }
}
