//! The operations, independent of the wire: each takes its input as JSON (however it arrived)
//! and answers with a [`Node`] tree, from the telemetry registry's numbers.

use super::protocol::{CwError, Node};
use cachalot_telemetry::{Datapoint, Query, Statistic, StatisticsError, Telemetry};
use serde_json::Value;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The CloudWatch operations served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Operation {
    /// Statistics of one metric (the seed's `aws cloudwatch get-metric-statistics`).
    GetMetricStatistics,
    /// A batch of `MetricStat` queries (what Grafana's CloudWatch data source calls).
    GetMetricData,
    /// The metrics there are (dimension pickers in dashboards).
    ListMetrics,
}

impl Operation {
    pub(super) const ALL: [Operation; 3] =
        [Operation::GetMetricStatistics, Operation::GetMetricData, Operation::ListMetrics];

    /// The operation's name in the service model.
    pub(super) fn name(self) -> &'static str {
        match self {
            Operation::GetMetricStatistics => "GetMetricStatistics",
            Operation::GetMetricData => "GetMetricData",
            Operation::ListMetrics => "ListMetrics",
        }
    }

    pub(super) fn from_name(name: &str) -> Option<Operation> {
        Operation::ALL.into_iter().find(|o| o.name() == name)
    }
}

/// Where the numbers come from: this node's registry and, in a fleet, the other nodes'
/// minutes in the store (so every node answers with the fleet's sums).
pub(super) struct Source<'a> {
    pub(super) telemetry: &'a Telemetry,
    pub(super) fleet: Option<&'a crate::fleet::Fleet>,
}

impl Source<'_> {
    /// Statistics over this node's minutes and the fleet's.
    fn statistics(&self, query: &Query<'_>) -> Result<Vec<Datapoint>, StatisticsError> {
        let remote = match self.fleet {
            Some(fleet) if !query.distribution_id.is_empty() => {
                let minute = |t: SystemTime| t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64 / 60);
                fleet.remote_minutes(query.distribution_id, minute(query.start), minute(query.end) + 1).unwrap_or_else(
                    |e| {
                        tracing::warn!("CloudWatch answers with this node's numbers only: {e}");
                        Vec::new()
                    },
                )
            }
            _ => Vec::new(),
        };
        self.telemetry.metrics().statistics_with(query, &remote)
    }

    /// Distributions with numbers on this node or any other.
    fn distributions(&self) -> Vec<String> {
        let mut ids = self.telemetry.metrics().distributions();
        if let Some(fleet) = self.fleet {
            ids.extend(fleet.remote_distributions().unwrap_or_default());
            ids.sort();
            ids.dedup();
        }
        ids
    }
}

/// Answers `operation` on `input`.
pub(super) fn answer(telemetry: &Source<'_>, operation: Operation, input: &Value) -> Result<Node, CwError> {
    match operation {
        Operation::GetMetricStatistics => get_metric_statistics(telemetry, input),
        Operation::GetMetricData => get_metric_data(telemetry, input),
        Operation::ListMetrics => Ok(list_metrics(telemetry, input)),
    }
}

/// `GetMetricStatistics`: `Label` and one `Datapoints` member per period with data.
fn get_metric_statistics(telemetry: &Source<'_>, input: &Value) -> Result<Node, CwError> {
    Ok(statistics_node(metric_statistics(telemetry, &input_from_json(input)?)?))
}

fn statistics_node(out: Output) -> Node {
    let datapoints = out
        .datapoints
        .iter()
        .map(|p| {
            let mut members = vec![("Timestamp", Node::Time(epoch_secs(p.timestamp)))];
            members.extend(values(p).into_iter().filter_map(|(name, v)| v.map(|v| (name, Node::Num(v)))));
            members.push(("Unit", Node::Str(p.unit.to_owned())));
            if !p.extended.is_empty() {
                let extended = p.extended.iter().map(|(k, v)| (k.clone(), Node::Num(*v))).collect();
                members.push(("ExtendedStatistics", Node::Map(extended)));
            }
            Node::Struct(members)
        })
        .collect();
    Node::Struct(vec![("Label", Node::Str(out.label)), ("Datapoints", Node::List(datapoints))])
}

fn from_statistics(e: StatisticsError) -> CwError {
    let code = match e {
        StatisticsError::InvalidParameterValue(_) => "InvalidParameterValue",
        StatisticsError::InvalidParameterCombination(_) => "InvalidParameterCombination",
        StatisticsError::MissingParameter(_) => "MissingParameter",
    };
    CwError::new(code, e.to_string())
}

/// A `GetMetricStatistics` call, whatever the protocol.
#[derive(Debug, Default)]
struct Input {
    namespace: Option<String>,
    metric: Option<String>,
    dimensions: Vec<(String, String)>,
    start: Option<f64>,
    end: Option<f64>,
    period: Option<i64>,
    statistics: Vec<String>,
    extended: Vec<String>,
    unit: Option<String>,
}

/// The datapoints of one metric.
struct Output {
    label: String,
    datapoints: Vec<Datapoint>,
}

fn metric_statistics(telemetry: &Source<'_>, input: &Input) -> Result<Output, CwError> {
    let namespace = input.namespace.as_deref().ok_or_else(|| CwError::missing("Namespace"))?;
    let metric = input.metric.as_deref().ok_or_else(|| CwError::missing("MetricName"))?;
    let start = input.start.ok_or_else(|| CwError::missing("StartTime"))?;
    let end = input.end.ok_or_else(|| CwError::missing("EndTime"))?;
    let period = input.period.ok_or_else(|| CwError::missing("Period"))?;
    if period < 1 {
        return Err(CwError::new("InvalidParameterValue", "The parameter Period must be greater than 0."));
    }
    let mut statistics = Vec::new();
    for (i, s) in input.statistics.iter().enumerate() {
        statistics.push(Statistic::from_name(s).ok_or_else(|| {
            CwError::new(
                "InvalidParameterValue",
                format!(
                    "The parameter Statistics.member.{} must be a value in the set [ Maximum, Minimum, Sum, SampleCount, Average ].",
                    i + 1
                ),
            )
        })?);
    }
    let extended: Vec<&str> = input.extended.iter().map(String::as_str).collect();
    let label = metric.to_owned();
    let mut distribution = None;
    let mut global = false;
    let mut other_dimension = false;
    for (name, value) in &input.dimensions {
        match name.as_str() {
            "DistributionId" => distribution = Some(value.as_str()),
            "Region" => global = value == "Global",
            _ => other_dimension = true,
        }
    }
    let query = Query {
        distribution_id: distribution.unwrap_or(""),
        metric,
        start: epoch(start),
        end: epoch(end),
        period_seconds: u32::try_from(period).unwrap_or(u32::MAX),
        statistics: &statistics,
        extended_statistics: &extended,
    };
    // Parameters are checked even when the dimensions match nothing, as CloudWatch does.
    let datapoints = telemetry.statistics(&query).map_err(from_statistics)?;
    let matches = namespace == "AWS/CloudFront" && distribution.is_some() && global && !other_dimension;
    let unit_matches = |p: &Datapoint| input.unit.as_deref().is_none_or(|u| u == p.unit);
    let datapoints = if matches { datapoints.into_iter().filter(unit_matches).collect() } else { Vec::new() };
    Ok(Output { label, datapoints })
}

fn epoch(secs: f64) -> SystemTime {
    if secs >= 0.0 {
        UNIX_EPOCH + Duration::from_secs_f64(secs.min(1e12))
    } else {
        UNIX_EPOCH - Duration::from_secs_f64((-secs).min(1e12))
    }
}

fn epoch_secs(t: SystemTime) -> f64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

fn timestamp_value(v: &Value, name: &str) -> Result<f64, CwError> {
    match v {
        Value::Number(n) => n.as_f64().ok_or_else(|| CwError::new("InvalidParameterValue", format!("bad {name}"))),
        Value::String(s) => crate::util::parse_iso8601(s)
            .or_else(|| s.parse().ok())
            .ok_or_else(|| CwError::new("InvalidParameterValue", format!("The parameter {name} is not a timestamp."))),
        _ => Err(CwError::new("InvalidParameterValue", format!("The parameter {name} is not a timestamp."))),
    }
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array).into_iter().flatten().filter_map(|s| s.as_str().map(str::to_owned)).collect()
}

fn input_from_json(v: &Value) -> Result<Input, CwError> {
    let text = |name: &str| v.get(name).and_then(Value::as_str).map(str::to_owned);
    let dimensions = v
        .get("Dimensions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|d| d.is_object())
        .map(|d| {
            let field = |f: &str| d.get(f).and_then(Value::as_str).unwrap_or_default().to_owned();
            (field("Name"), field("Value"))
        })
        .collect();
    Ok(Input {
        namespace: text("Namespace"),
        metric: text("MetricName"),
        dimensions,
        start: v.get("StartTime").map(|t| timestamp_value(t, "StartTime")).transpose()?,
        end: v.get("EndTime").map(|t| timestamp_value(t, "EndTime")).transpose()?,
        period: match v.get("Period") {
            None => None,
            Some(p) => Some(
                number(p)
                    .filter(|n| n.fract() == 0.0 && n.abs() < 1e15)
                    .map(|n| n as i64)
                    .ok_or_else(|| CwError::new("InvalidParameterValue", "The parameter Period must be an integer."))?,
            ),
        },
        statistics: strings(v.get("Statistics")),
        extended: strings(v.get("ExtendedStatistics")),
        unit: text("Unit"),
    })
}

fn number(v: &Value) -> Option<f64> {
    v.as_f64().or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

/// The statistics of a datapoint, in CloudWatch's member order.
fn values(p: &Datapoint) -> [(&'static str, Option<f64>); 5] {
    [
        ("SampleCount", p.sample_count),
        ("Average", p.average),
        ("Sum", p.sum),
        ("Minimum", p.minimum),
        ("Maximum", p.maximum),
    ]
}

/// `ListMetrics`: every CloudFront metric of every distribution with traffic, filtered by
/// `Namespace`, `MetricName` and `Dimensions` (a filter without `Value` matches any value).
fn list_metrics(telemetry: &Source<'_>, v: &Value) -> Node {
    let text = |name: &str| v.get(name).and_then(Value::as_str);
    let namespace_ok = text("Namespace").is_none_or(|n| n == "AWS/CloudFront");
    let filters: Vec<(String, Option<String>)> = v
        .get("Dimensions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|d| {
            let name = d.get("Name").and_then(Value::as_str).unwrap_or_default().to_owned();
            (name, d.get("Value").and_then(Value::as_str).map(str::to_owned))
        })
        .collect();
    let mut metrics = Vec::new();
    let names = cachalot_telemetry::CloudWatchMetric::ALL
        .iter()
        .map(|m| m.name())
        .chain(std::iter::once("OriginLatency".to_owned()));
    let names: Vec<String> = names.collect();
    for id in telemetry.distributions() {
        let dims = [("DistributionId", id.as_str()), ("Region", "Global")];
        let matches = filters
            .iter()
            .all(|(n, val)| dims.iter().any(|(dn, dv)| dn == n && val.as_deref().is_none_or(|v| v == *dv)));
        if !namespace_ok || !matches {
            continue;
        }
        for name in names.iter().filter(|n| text("MetricName").is_none_or(|m| m == n.as_str())) {
            let dimensions = dims
                .iter()
                .map(|(n, v)| {
                    Node::Struct(vec![("Name", Node::Str((*n).to_owned())), ("Value", Node::Str((*v).to_owned()))])
                })
                .collect();
            metrics.push(Node::Struct(vec![
                ("Namespace", Node::Str("AWS/CloudFront".to_owned())),
                ("MetricName", Node::Str(name.clone())),
                ("Dimensions", Node::List(dimensions)),
            ]));
        }
    }
    Node::Struct(vec![("Metrics", Node::List(metrics))])
}

/// `GetMetricData` with `MetricStat` queries (metric math expressions are refused).
fn get_metric_data(telemetry: &Source<'_>, v: &Value) -> Result<Node, CwError> {
    let start = v.get("StartTime").ok_or_else(|| CwError::missing("StartTime"))?;
    let end = v.get("EndTime").ok_or_else(|| CwError::missing("EndTime"))?;
    let (start, end) = (timestamp_value(start, "StartTime")?, timestamp_value(end, "EndTime")?);
    let queries =
        v.get("MetricDataQueries").and_then(Value::as_array).ok_or_else(|| CwError::missing("MetricDataQueries"))?;
    if queries.is_empty() || queries.len() > 500 {
        return Err(CwError::new("InvalidParameterValue", "MetricDataQueries must hold 1 to 500 queries."));
    }
    let ascending = v.get("ScanBy").and_then(Value::as_str) == Some("TimestampAscending");
    let mut results = Vec::new();
    for (i, q) in queries.iter().enumerate() {
        let at = format!("MetricDataQueries.member.{}", i + 1);
        let id = q.get("Id").and_then(Value::as_str).ok_or_else(|| CwError::missing(&format!("{at}.Id")))?;
        if q.get("Expression").is_some_and(|e| !e.is_null()) {
            return Err(CwError::new(
                "InvalidParameterValue",
                format!("{at}: metric math expressions are not supported by Cachalot; use MetricStat"),
            ));
        }
        let stat = q.get("MetricStat").ok_or_else(|| CwError::missing(&format!("{at}.MetricStat")))?;
        let metric = &stat["Metric"];
        let name = stat
            .get("Stat")
            .and_then(Value::as_str)
            .ok_or_else(|| CwError::missing(&format!("{at}.MetricStat.Stat")))?;
        let (statistics, extended) = if Statistic::from_name(name).is_some() {
            (vec![name.to_owned()], Vec::new())
        } else {
            (Vec::new(), vec![name.to_owned()])
        };
        let input = Input {
            namespace: metric.get("Namespace").and_then(Value::as_str).map(str::to_owned),
            metric: metric.get("MetricName").and_then(Value::as_str).map(str::to_owned),
            dimensions: metric
                .get("Dimensions")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|d| {
                    let field = |f: &str| d.get(f).and_then(Value::as_str).unwrap_or_default().to_owned();
                    (field("Name"), field("Value"))
                })
                .collect(),
            start: Some(start),
            end: Some(end),
            period: stat.get("Period").and_then(number).map(|p| p as i64),
            statistics,
            extended,
            unit: stat.get("Unit").and_then(Value::as_str).map(str::to_owned),
        };
        let out = metric_statistics(telemetry, &input)?;
        let mut points: Vec<(f64, f64)> = out
            .datapoints
            .iter()
            .filter_map(|p| {
                let value = values(p).iter().find_map(|(_, v)| *v).or_else(|| p.extended.first().map(|e| e.1))?;
                Some((epoch_secs(p.timestamp), value))
            })
            .collect();
        points.sort_by(|a, b| if ascending { a.0.total_cmp(&b.0) } else { b.0.total_cmp(&a.0) });
        if q.get("ReturnData").is_some_and(|r| r == &Value::Bool(false) || r == "false") {
            continue;
        }
        let label = q.get("Label").and_then(Value::as_str).map_or(out.label, str::to_owned);
        results.push(Node::Struct(vec![
            ("Id", Node::Str(id.to_owned())),
            ("Label", Node::Str(label)),
            ("Timestamps", Node::List(points.iter().map(|p| Node::Time(p.0)).collect())),
            ("Values", Node::List(points.iter().map(|p| Node::Num(p.1)).collect())),
            ("StatusCode", Node::Str("Complete".to_owned())),
        ]));
    }
    Ok(Node::Struct(vec![("MetricDataResults", Node::List(results)), ("Messages", Node::List(Vec::new()))]))
}

#[cfg(test)]
mod tests {
    use super::super::protocol::{Protocol, read, render};
    use super::*;
    use serde_json::json;

    fn form_input(body: &[u8]) -> Result<Input, CwError> {
        let (operation, v) = read(Protocol::Query, None, body)?;
        assert_eq!(operation, Operation::GetMetricStatistics);
        input_from_json(&v)
    }

    #[test]
    fn form_input_is_read_with_members_in_order() {
        let body = b"Action=GetMetricStatistics&Version=2010-08-01&Namespace=AWS%2FCloudFront&MetricName=CacheHitRate\
&Dimensions.member.2.Name=Region&Dimensions.member.2.Value=Global\
&Dimensions.member.1.Name=DistributionId&Dimensions.member.1.Value=E1\
&StartTime=2024-05-01T12%3A00%3A00Z&EndTime=2024-05-01T13%3A00%3A00Z&Period=3600&Statistics.member.1=Average";
        let input = form_input(body).unwrap();
        assert_eq!(input.namespace.as_deref(), Some("AWS/CloudFront"));
        assert_eq!(input.dimensions, vec![("DistributionId".into(), "E1".into()), ("Region".into(), "Global".into())]);
        assert_eq!((input.start, input.end, input.period), (Some(1_714_564_800.0), Some(1_714_568_400.0), Some(3600)));
        assert_eq!(input.statistics, vec!["Average".to_owned()]);
        assert_eq!(form_input(b"Action=DescribeAlarms").unwrap_err().code, "InvalidAction");
        assert_eq!(form_input(b"Namespace=x").unwrap_err().code, "MissingParameter");
        assert_eq!(form_input(b"Action=GetMetricStatistics&Period=abc").unwrap_err().code, "InvalidParameterValue");
    }

    #[test]
    fn cbor_input_reads_tagged_timestamps() {
        use ciborium::Value as C;
        let t = |s: &str| C::Text(s.into());
        let v = C::Map(vec![
            (t("MetricName"), t("Requests")),
            (t("StartTime"), C::Tag(1, Box::new(C::Float(1_714_564_800.0)))),
            (t("EndTime"), C::Tag(1, Box::new(C::Integer(1_714_568_400.into())))),
            (t("Period"), C::Integer(60.into())),
            (t("Statistics"), C::Array(vec![t("Sum")])),
        ]);
        let mut body = Vec::new();
        ciborium::into_writer(&v, &mut body).unwrap();
        let (_, v) = read(Protocol::Cbor, Some("GetMetricStatistics"), &body).unwrap();
        let input = input_from_json(&v).unwrap();
        assert_eq!((input.start, input.end, input.period), (Some(1_714_564_800.0), Some(1_714_568_400.0), Some(60)));
        assert_eq!(input.metric.as_deref(), Some("Requests"));
    }

    #[test]
    fn outputs_carry_every_statistic_asked_for() {
        let out = Output {
            label: "OriginLatency".into(),
            datapoints: vec![Datapoint {
                timestamp: UNIX_EPOCH + Duration::from_secs(1_714_564_800),
                unit: "Milliseconds",
                sample_count: None,
                average: None,
                sum: Some(3.0),
                minimum: None,
                maximum: None,
                extended: vec![("p99".into(), 12.5)],
            }],
        };
        let node = statistics_node(out);
        let op = Operation::GetMetricStatistics;
        let xml = String::from_utf8(render(Protocol::Query, Some(op), &node, "rid")).unwrap();
        assert!(xml.contains("<Timestamp>2024-05-01T12:00:00Z</Timestamp>"), "{xml}");
        assert!(xml.contains("<Sum>3</Sum>") && xml.contains("<entry><key>p99</key><value>12.5</value></entry>"));
        let j: Value = serde_json::from_slice(&render(Protocol::Json, Some(op), &node, "rid")).unwrap();
        assert_eq!(j["Datapoints"][0]["Timestamp"], json!(1_714_564_800.0));
        assert_eq!(j["Datapoints"][0]["ExtendedStatistics"]["p99"], json!(12.5));
        let cbor = render(Protocol::Cbor, Some(op), &node, "rid");
        let (_, c) = read(Protocol::Cbor, Some("GetMetricStatistics"), &cbor).unwrap();
        assert_eq!(
            c,
            json!({"Label": "OriginLatency", "Datapoints": [{
            "Timestamp": 1_714_564_800.0, "Sum": 3.0, "Unit": "Milliseconds", "ExtendedStatistics": {"p99": 12.5}}]})
        );
    }
}
