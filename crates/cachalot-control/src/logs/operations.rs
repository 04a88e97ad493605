//! Each `logs` operation on the control-plane state: the checks botocore's model and the
//! CloudWatch Logs documentation give (required members, lengths, patterns, enums, what exists,
//! what is in use, quotas), then one state change, persisted and published like every other.
//!
//! Messages follow AWS's (`1 validation error detected: …`, `Requested Delivery Source does not
//! exist in this account.`, `This ResourceId has already been used in another Delivery Source in
//! this account` — the last from CloudFront's "Troubleshoot" section of
//! <https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/standard-logging.html>).

use super::LogsError;
use crate::control::Inner;
use crate::state::{ACCOUNT_ID, State, Subject};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use cachalot_config::logging::{
    self as lg, ALLOWED_DELIMITERS, ALLOWED_FORMATS, API_FORMATS, DEFAULT_FIELDS, Delivery, DeliveryDestination,
    DeliverySource, LOG_TYPE, RecordField, SUFFIX_VARIABLES,
};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// The region in every `logs` ARN: CloudFront's v2 logging is configured in us-east-1.
const REGION: &str = "us-east-1";

/// Cachalot's quotas per kind of resource (AWS's are per account and adjustable).
pub(crate) const MAX_SOURCES: usize = 150;
/// See [`MAX_SOURCES`].
pub(crate) const MAX_DESTINATIONS: usize = 150;
/// See [`MAX_SOURCES`].
pub(crate) const MAX_DELIVERIES: usize = 150;

type Answer = Result<Value, LogsError>;

/// Runs `operation` with `input`.
pub(crate) fn answer(control: &Inner, operation: &str, input: &Value) -> Answer {
    let input = Input(input.as_object().cloned().unwrap_or_default());
    match operation {
        "PutDeliverySource" => put_delivery_source(control, &input),
        "GetDeliverySource" => {
            let name = input.name("name", "name")?;
            control
                .read(|s| s.delivery_sources.get(&name).map(|d| json!({"deliverySource": source_json(d)})))
                .ok_or_else(source_missing)
        }
        "DescribeDeliverySources" => {
            let arns = input.strings("resourceArns", 1, 20)?;
            let page = Page::of(&input)?;
            Ok(control.read(|s| {
                let items: Vec<(String, Value)> = s
                    .delivery_sources
                    .values()
                    .filter(|d| arns.as_ref().is_none_or(|a| a.contains(&d.resource_arn)))
                    .map(|d| (d.name.clone(), source_json(d)))
                    .collect();
                page.answer("deliverySources", items)
            }))
        }
        "DeleteDeliverySource" => {
            let name = input.name("name", "name")?;
            change(control, |state, txn| {
                if !state.delivery_sources.contains_key(&name) {
                    return Err(source_missing());
                }
                if let Some(d) = state.deliveries.values().find(|d| d.delivery_source_name == name) {
                    return Err(LogsError::conflict(format!(
                        "Delivery Source {name} is in use by Delivery {}; delete the delivery first.",
                        d.id
                    )));
                }
                txn.delete_delivery_source(&name);
                Ok(json!({}))
            })
        }
        "PutDeliveryDestination" => put_delivery_destination(control, &input),
        "GetDeliveryDestination" => {
            let name = input.name("name", "name")?;
            control
                .read(|s| {
                    s.delivery_destinations.get(&name).map(|d| json!({"deliveryDestination": destination_json(d)}))
                })
                .ok_or_else(destination_missing)
        }
        "DescribeDeliveryDestinations" => {
            let names = input.strings("names", 1, 20)?;
            let page = Page::of(&input)?;
            Ok(control.read(|s| {
                let items = s
                    .delivery_destinations
                    .values()
                    .filter(|d| names.as_ref().is_none_or(|n| n.contains(&d.name)))
                    .map(|d| (d.name.clone(), destination_json(d)))
                    .collect();
                page.answer("deliveryDestinations", items)
            }))
        }
        "DeleteDeliveryDestination" => {
            let name = input.name("name", "name")?;
            change(control, |state, txn| {
                if !state.delivery_destinations.contains_key(&name) {
                    return Err(destination_missing());
                }
                let arn = destination_arn(&name);
                if let Some(d) = state.deliveries.values().find(|d| d.delivery_destination_arn == arn) {
                    return Err(LogsError::conflict(format!(
                        "Delivery Destination {name} is in use by Delivery {}; delete the delivery first.",
                        d.id
                    )));
                }
                txn.delete_delivery_destination(&name);
                Ok(json!({}))
            })
        }
        "CreateDelivery" => create_delivery(control, &input),
        "GetDelivery" => {
            let id = input.delivery_id()?;
            control
                .read(|s| s.deliveries.get(&id).map(|d| json!({"delivery": delivery_json(d)})))
                .ok_or_else(delivery_missing)
        }
        "DescribeDeliveries" => {
            let sources = input.strings("deliverySourceNames", 1, 20)?;
            let page = Page::of(&input)?;
            Ok(control.read(|s| {
                let items = s
                    .deliveries
                    .values()
                    .filter(|d| sources.as_ref().is_none_or(|n| n.contains(&d.delivery_source_name)))
                    .map(|d| (d.id.clone(), delivery_json(d)))
                    .collect();
                page.answer("deliveries", items)
            }))
        }
        "UpdateDeliveryConfiguration" => update_delivery(control, &input),
        "DeleteDelivery" => {
            let id = input.delivery_id()?;
            change(control, |state, txn| {
                if !state.deliveries.contains_key(&id) {
                    return Err(delivery_missing());
                }
                txn.delete_delivery(&id);
                Ok(json!({}))
            })
        }
        "DescribeConfigurationTemplates" => describe_templates(&input),
        other => Err(LogsError {
            kind: "UnknownOperationException",
            message: format!(
                "Cachalot serves the delivery operations of CloudWatch Logs that CloudFront's standard logging (v2) uses, not {other}"
            ),
        }),
    }
}

/// Applies a change made by `f` (which sees the state before it) in one durable transaction.
fn change(control: &Inner, f: impl FnOnce(&State, &mut crate::state::Txn) -> Answer) -> Answer {
    control
        .mutate(Subject::None, |txn| {
            let before = txn.state.clone();
            f(&before, txn).map_err(LogsError::into_api)
        })
        .map_err(LogsError::from)
}

fn put_delivery_source(control: &Inner, input: &Input) -> Answer {
    let name = input.name("name", "name")?;
    let resource_arn = input.required_str("resourceArn")?;
    let log_type = input.required_str("logType")?;
    input.length("logType", &log_type, 1, 255)?;
    if !log_type.chars().all(|c| c.is_alphanumeric() || c == '_') {
        return Err(pattern_error("logType", &log_type, "[\\w]*"));
    }
    let tags = input.tags()?;
    if input.0.contains_key("deliverySourceConfiguration") {
        return Err(LogsError::validation("CloudFront's ACCESS_LOGS take no deliverySourceConfiguration."));
    }
    let Some(service) = lg::arn_service(&resource_arn) else {
        return Err(LogsError::validation(format!("resourceArn {resource_arn} is not an ARN")));
    };
    if service != "cloudfront" {
        return Err(LogsError::not_found(format!(
            "Cannot access provided service. Cachalot's delivery sources are CloudFront distributions, not {service} resources."
        )));
    }
    let Some((_, distribution_id)) = lg::distribution_arn(&resource_arn) else {
        return Err(LogsError::validation(format!(
            "resourceArn {resource_arn} is not a distribution's ARN (arn:aws:cloudfront::<account>:distribution/<Id>)"
        )));
    };
    if log_type != LOG_TYPE {
        return Err(LogsError::validation(format!(
            "This service is not allowed for this LogSource: CloudFront's log type is {LOG_TYPE}, not {log_type}."
        )));
    }
    let distribution_id = distribution_id.to_owned();
    change(control, |state, txn| {
        if !state.distributions.contains_key(&distribution_id) {
            return Err(LogsError::not_found(format!("The distribution {distribution_id} does not exist.")));
        }
        match state.delivery_sources.get(&name) {
            Some(existing) => {
                if !tags.is_empty() {
                    return Err(LogsError::conflict(
                        "Tags can only be provided when a resource is being created, not updated.",
                    ));
                }
                if existing.resource_arn != resource_arn {
                    return Err(LogsError::conflict(
                        "Update to existing Delivery Source with new ResourceId is not allowed. Please create a new Delivery Source instead.",
                    ));
                }
            }
            None => {
                if state.delivery_sources.values().any(|s| s.resource_arn == resource_arn) {
                    return Err(LogsError::conflict(
                        "This ResourceId has already been used in another Delivery Source in this account",
                    ));
                }
                if state.delivery_sources.len() >= MAX_SOURCES {
                    return Err(LogsError::quota(format!(
                        "This account has {MAX_SOURCES} delivery sources, the most Cachalot keeps; delete one first."
                    )));
                }
            }
        }
        let tags = state.delivery_sources.get(&name).map_or(tags, |s| s.tags.clone());
        let source =
            DeliverySource { name: name.clone(), resource_arn: resource_arn.clone(), log_type: log_type.clone(), tags };
        txn.put_delivery_source(source.clone());
        Ok(json!({"deliverySource": source_json(&source)}))
    })
}

fn put_delivery_destination(control: &Inner, input: &Input) -> Answer {
    let name = input.name("name", "name")?;
    let format = input.optional_str("outputFormat")?;
    if let Some(f) = &format
        && !API_FORMATS.contains(&f.as_str())
    {
        return Err(LogsError::validation(format!(
            "1 validation error detected: Value '{f}' at 'outputFormat' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
            API_FORMATS.join(", ")
        )));
    }
    if let Some(f) = &format
        && lg::OutputFormat::parse(f).is_none()
    {
        let allowed: Vec<&str> = ALLOWED_FORMATS.iter().map(|f| f.as_str()).collect();
        return Err(LogsError::validation(format!(
            "Output format {f} is not supported for CloudFront's ACCESS_LOGS to S3; use one of {}.",
            allowed.join(", ")
        )));
    }
    let tags = input.tags()?;
    if input.0.contains_key("roleArn") {
        return Err(LogsError::validation("roleArn is supported only for X-Ray trace delivery destinations."));
    }
    let destination_type = input.optional_str("deliveryDestinationType")?;
    if let Some(t) = &destination_type
        && !["S3", "CWL", "FH", "XRAY"].contains(&t.as_str())
    {
        return Err(LogsError::validation(format!(
            "1 validation error detected: Value '{t}' at 'deliveryDestinationType' failed to satisfy constraint: Member must satisfy enum value set: [S3, CWL, FH, XRAY]"
        )));
    }
    let Some(Value::Object(configuration)) = input.0.get("deliveryDestinationConfiguration") else {
        return Err(LogsError::validation(
            "deliveryDestinationConfiguration is required for CloudWatch Logs, Amazon S3 and Firehose delivery destinations.",
        ));
    };
    let Some(arn) = configuration.get("destinationResourceArn").and_then(Value::as_str) else {
        return Err(missing("deliveryDestinationConfiguration.destinationResourceArn"));
    };
    match lg::arn_service(arn) {
        Some("s3") => {}
        Some(service @ ("logs" | "firehose")) => {
            return Err(LogsError::validation(format!(
                "Cachalot delivers CloudFront's access logs to S3 buckets only, not to {service} (destinationResourceArn {arn})."
            )));
        }
        _ => {
            return Err(LogsError::validation(format!("destinationResourceArn {arn} is not a valid destination ARN.")));
        }
    }
    if lg::s3_arn(arn).is_none() {
        return Err(LogsError::validation(format!(
            "destinationResourceArn {arn} is not an S3 bucket's ARN (arn:aws:s3:::<bucket>[/<prefix>])."
        )));
    }
    if destination_type.as_deref().is_some_and(|t| t != "S3") {
        return Err(LogsError::validation("deliveryDestinationType does not match the destination resource (S3)."));
    }
    let arn = arn.to_owned();
    change(control, |state, txn| {
        match state.delivery_destinations.get(&name) {
            Some(existing) => {
                if !tags.is_empty() {
                    return Err(LogsError::conflict(
                        "Tags can only be provided when a resource is being created, not updated.",
                    ));
                }
                if existing.output_format != format {
                    return Err(LogsError::validation(
                        "Update to existing Delivery Destination with new Output Format is not allowed. Please create a new Delivery Destination instead.",
                    ));
                }
            }
            None if state.delivery_destinations.len() >= MAX_DESTINATIONS => {
                return Err(LogsError::quota(format!(
                    "This account has {MAX_DESTINATIONS} delivery destinations, the most Cachalot keeps; delete one first."
                )));
            }
            None => {}
        }
        let tags = state.delivery_destinations.get(&name).map_or(tags, |d| d.tags.clone());
        let destination = DeliveryDestination {
            name: name.clone(),
            output_format: format.clone(),
            destination_resource_arn: arn.clone(),
            tags,
        };
        txn.put_delivery_destination(destination.clone());
        Ok(json!({"deliveryDestination": destination_json(&destination)}))
    })
}

/// The checked `recordFields`, `fieldDelimiter` and `s3DeliveryConfiguration` of a request.
struct Settings {
    fields: Option<Vec<String>>,
    delimiter: Option<String>,
    suffix: Option<String>,
    hive: Option<bool>,
}

fn settings(input: &Input) -> Result<Settings, LogsError> {
    let fields = input.strings("recordFields", 0, 128)?;
    if let Some(f) = &fields {
        for name in f {
            input.length("recordFields.member", name, 1, 64)?;
        }
        lg::check_record_fields(f).map_err(LogsError::validation)?;
    }
    let delimiter = input.optional_str("fieldDelimiter")?;
    if let Some(d) = &delimiter {
        input.length("fieldDelimiter", d, 0, 5)?;
        if !d.is_empty() {
            lg::check_delimiter(d).map_err(LogsError::validation)?;
        }
    }
    let (suffix, hive) = match input.0.get("s3DeliveryConfiguration") {
        None | Some(Value::Null) => (None, None),
        Some(Value::Object(c)) => {
            let suffix = match c.get("suffixPath") {
                None | Some(Value::Null) => None,
                Some(Value::String(p)) => {
                    lg::check_suffix_path(p).map_err(LogsError::validation)?;
                    Some(p.clone())
                }
                Some(_) => return Err(LogsError::validation("s3DeliveryConfiguration.suffixPath must be a string")),
            };
            let hive = match c.get("enableHiveCompatiblePath") {
                None | Some(Value::Null) => None,
                Some(Value::Bool(b)) => Some(*b),
                Some(_) => {
                    return Err(LogsError::validation(
                        "s3DeliveryConfiguration.enableHiveCompatiblePath must be a boolean",
                    ));
                }
            };
            (suffix, hive)
        }
        Some(_) => return Err(LogsError::validation("s3DeliveryConfiguration must be an object")),
    };
    Ok(Settings { fields, delimiter, suffix, hive })
}

fn create_delivery(control: &Inner, input: &Input) -> Answer {
    let source_name = input.name("deliverySourceName", "deliverySourceName")?;
    let destination = input.required_str("deliveryDestinationArn")?;
    let tags = input.tags()?;
    let settings = settings(input)?;
    change(control, |state, txn| {
        if !state.delivery_sources.contains_key(&source_name) {
            return Err(source_missing());
        }
        let target = lg::destination_name_of(&destination)
            .filter(|n| destination_arn(n) == destination)
            .and_then(|n| state.delivery_destinations.get(n))
            .cloned();
        let Some(target) = target else { return Err(destination_missing()) };
        if let Some(d) = state.deliveries.values().find(|d| d.delivery_source_name == source_name) {
            if d.delivery_destination_arn == destination {
                return Err(LogsError::conflict("The specified Delivery already exists"));
            }
            // Every destination Cachalot keeps is an S3 bucket.
            return Err(LogsError::conflict(format!(
                "Delivery already exists for this Delivery Source with the same Delivery Destination Type (S3): {}.",
                d.id
            )));
        }
        if state.deliveries.len() >= MAX_DELIVERIES {
            return Err(LogsError::quota(format!(
                "This account has {MAX_DELIVERIES} deliveries, the most Cachalot keeps; delete one first."
            )));
        }
        let (_, prefix) = lg::s3_arn(&target.destination_resource_arn).unwrap_or_default();
        let id = loop {
            let id = delivery_id();
            if !state.deliveries.contains_key(&id) {
                break id;
            }
        };
        let delivery = lg::new_delivery(
            id,
            &source_name,
            &destination,
            prefix,
            settings.fields,
            settings.delimiter,
            settings.suffix,
            settings.hive,
            tags,
        );
        txn.put_delivery(delivery.clone());
        Ok(json!({"delivery": delivery_json(&delivery)}))
    })
}

fn update_delivery(control: &Inner, input: &Input) -> Answer {
    let id = input.delivery_id()?;
    let settings = settings(input)?;
    change(control, |state, txn| {
        let Some(current) = state.deliveries.get(&id) else { return Err(delivery_missing()) };
        let mut delivery = (**current).clone();
        if let Some(fields) = settings.fields.filter(|f| !f.is_empty()) {
            delivery.record_fields = fields;
        }
        if let Some(d) = settings.delimiter.filter(|d| !d.is_empty()) {
            delivery.field_delimiter = d;
        }
        if let Some(s) = settings.suffix {
            delivery.suffix_path = s;
        }
        if let Some(h) = settings.hive {
            delivery.enable_hive_compatible_path = h;
        }
        txn.put_delivery(delivery);
        Ok(json!({}))
    })
}

fn describe_templates(input: &Input) -> Answer {
    let service = input.optional_str("service")?;
    let log_types = input.strings("logTypes", 1, 10)?;
    let resource_types = input.strings("resourceTypes", 1, 10)?;
    let destination_types = input.strings("deliveryDestinationTypes", 1, 4)?;
    let page = Page::of(input)?;
    let matches = service.as_deref().is_none_or(|s| s == "cloudfront")
        && log_types.as_ref().is_none_or(|t| t.iter().any(|t| t == LOG_TYPE))
        && resource_types.as_ref().is_none_or(|t| t.iter().any(|t| t == "DISTRIBUTION"))
        && destination_types.as_ref().is_none_or(|t| t.iter().any(|t| t == "S3"));
    let mut items = Vec::new();
    if matches {
        let fields: Vec<Value> =
            RecordField::ALL.iter().map(|f| json!({"name": f.name(), "mandatory": false})).collect();
        let defaults: Vec<&str> = DEFAULT_FIELDS.iter().map(|f| f.name()).collect();
        let formats: Vec<&str> = ALLOWED_FORMATS.iter().map(|f| f.as_str()).collect();
        let variables: Vec<&str> = SUFFIX_VARIABLES.iter().map(|(v, _)| *v).collect();
        items.push((
            "cloudfront/ACCESS_LOGS/DISTRIBUTION/S3".to_owned(),
            json!({
                "service": "cloudfront",
                "logType": LOG_TYPE,
                "resourceType": "DISTRIBUTION",
                "deliveryDestinationType": "S3",
                "defaultDeliveryConfigValues": {
                    "recordFields": defaults,
                    "fieldDelimiter": lg::DEFAULT_DELIMITER,
                    "s3DeliveryConfiguration": {"suffixPath": lg::DEFAULT_SUFFIX, "enableHiveCompatiblePath": false},
                },
                "allowedFields": fields,
                "allowedOutputFormats": formats,
                "allowedActionForAllowVendedLogsDeliveryForResource": "cloudfront:AllowVendedLogsDeliveryForResource",
                "allowedFieldDelimiters": ALLOWED_DELIMITERS,
                "allowedSuffixPathFields": variables,
            }),
        ));
    }
    Ok(page.answer("configurationTemplates", items))
}

fn source_json(s: &DeliverySource) -> Value {
    let mut v = json!({
        "name": s.name,
        "arn": format!("arn:aws:logs:{REGION}:{ACCOUNT_ID}:delivery-source:{}", s.name),
        "resourceArns": [s.resource_arn],
        "service": "cloudfront",
        "logType": s.log_type,
    });
    if !s.tags.is_empty() {
        v["tags"] = json!(s.tags);
    }
    v
}

fn destination_arn(name: &str) -> String {
    format!("arn:aws:logs:{REGION}:{ACCOUNT_ID}:delivery-destination:{name}")
}

fn destination_json(d: &DeliveryDestination) -> Value {
    let mut v = json!({
        "name": d.name,
        "arn": destination_arn(&d.name),
        "deliveryDestinationType": "S3",
        "deliveryDestinationConfiguration": {"destinationResourceArn": d.destination_resource_arn},
    });
    if let Some(f) = &d.output_format {
        v["outputFormat"] = json!(f);
    }
    if !d.tags.is_empty() {
        v["tags"] = json!(d.tags);
    }
    v
}

fn delivery_json(d: &Delivery) -> Value {
    let mut v = json!({
        "id": d.id,
        "arn": format!("arn:aws:logs:{REGION}:{ACCOUNT_ID}:delivery:{}", d.id),
        "deliverySourceName": d.delivery_source_name,
        "deliveryDestinationArn": d.delivery_destination_arn,
        "deliveryDestinationType": "S3",
        "recordFields": d.record_fields,
        "fieldDelimiter": d.field_delimiter,
        "s3DeliveryConfiguration": {"enableHiveCompatiblePath": d.enable_hive_compatible_path},
    });
    // Under a destination prefix a delivery has no suffix path unless one was given.
    if !d.suffix_path.is_empty() {
        v["s3DeliveryConfiguration"]["suffixPath"] = json!(d.suffix_path);
    }
    if !d.tags.is_empty() {
        v["tags"] = json!(d.tags);
    }
    v
}

/// A delivery id: 16 letters and digits, as AWS's look (`OPmOpLahVzhx1234`).
fn delivery_id() -> String {
    const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..16).map(|_| char::from(ALNUM[fastrand::usize(..ALNUM.len())])).collect()
}

fn source_missing() -> LogsError {
    LogsError::not_found("Requested Delivery Source does not exist in this account.")
}

fn destination_missing() -> LogsError {
    LogsError::not_found("Requested Delivery Destination does not exist in this account.")
}

fn delivery_missing() -> LogsError {
    LogsError::not_found("Requested Delivery does not exist in this account.")
}

fn missing(member: &str) -> LogsError {
    LogsError::validation(format!(
        "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
    ))
}

fn pattern_error(member: &str, value: &str, pattern: &str) -> LogsError {
    LogsError::validation(format!(
        "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: Member must satisfy regular expression pattern: {pattern}"
    ))
}

/// A request's members, read with the model's constraints.
struct Input(Map<String, Value>);

impl Input {
    fn optional_str(&self, member: &str) -> Result<Option<String>, LogsError> {
        match self.0.get(member) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(LogsError::validation(format!("{member} must be a string"))),
        }
    }

    fn required_str(&self, member: &str) -> Result<String, LogsError> {
        self.optional_str(member)?.ok_or_else(|| missing(member))
    }

    fn length(&self, member: &str, value: &str, min: usize, max: usize) -> Result<(), LogsError> {
        let n = value.chars().count();
        if n < min {
            return Err(LogsError::validation(format!(
                "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: Member must have length greater than or equal to {min}"
            )));
        }
        if n > max {
            return Err(LogsError::validation(format!(
                "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: Member must have length less than or equal to {max}"
            )));
        }
        Ok(())
    }

    /// A source or destination name: 1 to 60 of `[\w-]`.
    fn name(&self, member: &str, label: &str) -> Result<String, LogsError> {
        let name = self.required_str(member)?;
        self.length(label, &name, 1, 60)?;
        if !name.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-') {
            return Err(pattern_error(label, &name, "[\\w-]*"));
        }
        Ok(name)
    }

    fn delivery_id(&self) -> Result<String, LogsError> {
        let id = self.required_str("id")?;
        self.length("id", &id, 1, 64)?;
        if !id.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(pattern_error("id", &id, "^[0-9A-Za-z]+$"));
        }
        Ok(id)
    }

    /// A list of strings with `min..=max` members, when present.
    fn strings(&self, member: &str, min: usize, max: usize) -> Result<Option<Vec<String>>, LogsError> {
        let items = match self.0.get(member) {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::Array(items)) => items,
            Some(_) => return Err(LogsError::validation(format!("{member} must be a list"))),
        };
        if items.len() < min || items.len() > max {
            return Err(LogsError::validation(format!(
                "1 validation error detected: Value at '{member}' failed to satisfy constraint: Member must have length between {min} and {max}"
            )));
        }
        items
            .iter()
            .map(|v| {
                v.as_str().map(str::to_owned).ok_or_else(|| LogsError::validation(format!("{member} holds strings")))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// `tags`: at most 50, keys 1–128 and values up to 256 characters.
    fn tags(&self) -> Result<BTreeMap<String, String>, LogsError> {
        let map = match self.0.get("tags") {
            None | Some(Value::Null) => return Ok(BTreeMap::new()),
            Some(Value::Object(m)) => m,
            Some(_) => return Err(LogsError::validation("tags must be a map of strings")),
        };
        if map.is_empty() || map.len() > 50 {
            return Err(LogsError::validation(
                "1 validation error detected: Value at 'tags' failed to satisfy constraint: Member must have length between 1 and 50",
            ));
        }
        let mut out = BTreeMap::new();
        for (k, v) in map {
            let Some(v) = v.as_str() else { return Err(LogsError::validation("tags must be a map of strings")) };
            self.length("tags.key", k, 1, 128)?;
            self.length("tags.value", v, 0, 256)?;
            out.insert(k.clone(), v.to_owned());
        }
        Ok(out)
    }
}

/// `limit` (1–50, default 50) and `nextToken` of a Describe call.
struct Page {
    limit: usize,
    after: Option<String>,
}

impl Page {
    fn of(input: &Input) -> Result<Page, LogsError> {
        let limit = match input.0.get("limit") {
            None | Some(Value::Null) => 50,
            Some(v) => match v.as_u64() {
                Some(n @ 1..=50) => n as usize,
                _ => {
                    return Err(LogsError::validation(format!(
                        "1 validation error detected: Value '{v}' at 'limit' failed to satisfy constraint: Member must have value between 1 and 50"
                    )));
                }
            },
        };
        let after = match input.optional_str("nextToken")? {
            None => None,
            Some(t) => {
                let key = B64.decode(t.as_bytes()).ok().and_then(|b| String::from_utf8(b).ok());
                Some(key.ok_or_else(|| LogsError::validation("The nextToken is not valid."))?)
            }
        };
        Ok(Page { limit, after })
    }

    /// One page of `items` (sorted by key) under `member`, with a `nextToken` when more follow.
    fn answer(&self, member: &str, items: Vec<(String, Value)>) -> Value {
        let rest: Vec<(String, Value)> =
            items.into_iter().filter(|(k, _)| self.after.as_ref().is_none_or(|a| k > a)).collect();
        let more = rest.len() > self.limit;
        let page: Vec<(String, Value)> = rest.into_iter().take(self.limit).collect();
        let mut out = json!({ member: page.iter().map(|(_, v)| v.clone()).collect::<Vec<_>>() });
        if more && let Some((last, _)) = page.last() {
            out["nextToken"] = json!(B64.encode(last.as_bytes()));
        }
        out
    }
}
