//! CloudWatch `GetMetricStatistics` semantics over the per-minute series.

use cachalot_telemetry::{Datapoint, LogRecord, Metrics, MetricsConfig, Query, ResultType, Statistic, StatisticsError};
use std::time::{Duration, SystemTime};

/// 2024-03-01T10:00:00Z.
const T0: u64 = 1_709_287_200;

fn at(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
}

fn req(secs: u64, method: &str, result: ResultType, status: u16, ttfb_ms: u64) -> LogRecord {
    LogRecord {
        timestamp: at(secs),
        edge_location: "LHR50-C1".into(),
        method: method.into(),
        status: Some(status),
        sc_bytes: 100,
        cs_bytes: 1000,
        result_type: result.clone(),
        response_result_type: result.clone(),
        detailed_result_type: result,
        time_to_first_byte: Some(Duration::from_millis(ttfb_ms)),
        ..LogRecord::default()
    }
}

/// Minute 0: 8 hits, a miss (100 ms), a 404. Minute 1: two misses (200, 300 ms), a 503, a
/// POST miss (400 ms). Minute 2: nothing. Minute 3: one hit.
fn metrics() -> Metrics {
    let m = Metrics::new(MetricsConfig::default());
    let observe = |r: LogRecord| m.observe("E1", "*", &r);
    for i in 0..8 {
        observe(req(T0 + i, "GET", ResultType::Hit, 200, 2));
    }
    observe(req(T0 + 10, "GET", ResultType::Miss, 200, 100));
    observe(req(T0 + 59, "GET", ResultType::Error, 404, 1));
    observe(req(T0 + 60, "GET", ResultType::Miss, 200, 200));
    observe(req(T0 + 70, "HEAD", ResultType::Miss, 200, 300));
    observe(req(T0 + 80, "GET", ResultType::Error, 503, 1));
    observe(req(T0 + 119, "POST", ResultType::Miss, 200, 400));
    observe(req(T0 + 185, "GET", ResultType::Hit, 200, 2));
    m
}

fn query<'a>(metric: &'a str, period: u32, stats: &'a [Statistic], ext: &'a [&'a str]) -> Query<'a> {
    Query {
        distribution_id: "E1",
        metric,
        start: at(T0),
        end: at(T0 + 600),
        period_seconds: period,
        statistics: stats,
        extended_statistics: ext,
    }
}

const ALL: [Statistic; 5] =
    [Statistic::SampleCount, Statistic::Average, Statistic::Sum, Statistic::Minimum, Statistic::Maximum];

fn approx(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-9)
}

#[test]
fn requests_per_minute_and_per_period() {
    let m = metrics();
    let per_minute = m.statistics(&query("Requests", 60, &[Statistic::Sum], &[])).unwrap();
    let sums: Vec<(SystemTime, Option<f64>)> = per_minute.iter().map(|p| (p.timestamp, p.sum)).collect();
    assert_eq!(sums, vec![(at(T0), Some(10.0)), (at(T0 + 60), Some(4.0)), (at(T0 + 180), Some(1.0))]);
    assert!(per_minute.iter().all(|p| p.unit == "None" && p.average.is_none()));

    let five = m.statistics(&query("Requests", 300, &ALL, &[])).unwrap();
    assert_eq!(five.len(), 1);
    let p = &five[0];
    assert_eq!(p.timestamp, at(T0));
    assert!(approx(p.sum, 15.0) && approx(p.sample_count, 3.0) && approx(p.average, 5.0));
    assert!(approx(p.minimum, 1.0) && approx(p.maximum, 10.0));
}

#[test]
fn rates_average_the_minute_values() {
    let m = metrics();
    let one = |metric: &str, period: u32| -> Vec<Datapoint> {
        m.statistics(&query(metric, period, &[Statistic::Average], &[])).unwrap()
    };
    // Minute 0: 1 error in 10 (10 %); minute 1: 1 in 4 (25 %); minute 3: 0 in 1.
    let total = one("TotalErrorRate", 120);
    assert_eq!(total.len(), 2);
    assert!(approx(total[0].average, 17.5), "{total:?}");
    assert!(approx(total[1].average, 0.0));
    assert_eq!(total[0].unit, "Percent");
    assert!(approx(one("4xxErrorRate", 60)[0].average, 10.0));
    assert!(approx(one("404ErrorRate", 60)[0].average, 10.0));
    assert!(approx(one("5xxErrorRate", 60)[1].average, 25.0));
    assert!(approx(one("503ErrorRate", 60)[1].average, 25.0));
    assert!(approx(one("401ErrorRate", 60)[0].average, 0.0));
    // CacheHitRate: minute 0 has 9 cacheable (8 hits); minute 1 has 2 cacheable GET/HEAD
    // misses (the 503 and the POST are not cacheable); minute 3 one hit.
    let chr = one("CacheHitRate", 60);
    assert_eq!(chr.len(), 3);
    assert!(approx(chr[0].average, 800.0 / 9.0));
    assert!(approx(chr[1].average, 0.0));
    assert!(approx(chr[2].average, 100.0));
}

#[test]
fn bytes_follow_the_method_rules() {
    let m = metrics();
    let sum = |metric: &str| m.statistics(&query(metric, 600, &[Statistic::Sum], &[])).unwrap()[0].sum;
    // Every GET/HEAD sends 100 bytes (14 of 15 requests); the POST uploads 1000.
    assert!(approx(sum("BytesDownloaded"), 1400.0));
    assert!(approx(sum("BytesUploaded"), 1000.0));
}

#[test]
fn origin_latency_percentiles_are_over_requests() {
    let m = metrics();
    let basic = m.statistics(&query("OriginLatency", 300, &ALL, &[])).unwrap();
    let p = &basic[0];
    // Misses only: 100, 200, 300, 400 ms.
    assert!(approx(p.sample_count, 4.0) && approx(p.sum, 1000.0) && approx(p.average, 250.0));
    assert!(approx(p.minimum, 100.0) && approx(p.maximum, 400.0));
    assert_eq!(p.unit, "Milliseconds");
    let ext = m.statistics(&query("OriginLatency", 300, &[], &["p50", "p99.9", "p0.0", "p100"])).unwrap();
    let e: Vec<(&str, f64)> = ext[0].extended.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(e.len(), 4);
    assert_eq!(e[0].0, "p50");
    assert!((e[0].1 - 200.0).abs() / 200.0 < 0.02, "{e:?}");
    assert_eq!(e[1], ("p99.9", 400.0));
    assert_eq!(e[2], ("p0.0", 100.0));
    assert_eq!(e[3], ("p100", 400.0));
    assert!(ext[0].sum.is_none());
}

#[test]
fn invalid_queries_get_cloudwatch_errors() {
    let m = metrics();
    let code = |q: Query<'_>| m.statistics(&q).unwrap_err().code();
    assert_eq!(code(query("Requests", 30, &[Statistic::Sum], &[])), "InvalidParameterValue");
    assert_eq!(code(query("Requests", 0, &[Statistic::Sum], &[])), "InvalidParameterValue");
    assert_eq!(code(query("Requests", 60, &[Statistic::Sum], &["p99"])), "InvalidParameterCombination");
    assert_eq!(code(query("Requests", 60, &[], &[])), "MissingParameter");
    assert_eq!(code(query("Requests", 60, &[], &["p101"])), "InvalidParameterValue");
    assert_eq!(code(query("Requests", 60, &[], &["tm99"])), "InvalidParameterValue");
    let backwards = Query { start: at(T0 + 600), end: at(T0), ..query("Requests", 60, &[Statistic::Sum], &[]) };
    assert_eq!(code(backwards), "InvalidParameterValue");
    let huge = Query { end: at(T0 + 2 * 86_400), ..query("Requests", 60, &[Statistic::Sum], &[]) };
    let err = m.statistics(&huge).unwrap_err();
    assert!(matches!(err, StatisticsError::InvalidParameterCombination(_)), "{err}");
    // Unknown metrics and distributions simply have no data.
    assert!(m.statistics(&query("NoSuchMetric", 60, &[Statistic::Sum], &[])).unwrap().is_empty());
    let other = Query { distribution_id: "E404", ..query("Requests", 60, &[Statistic::Sum], &[]) };
    assert!(m.statistics(&other).unwrap().is_empty());
}

#[test]
fn old_minutes_are_evicted_after_the_retention() {
    let m = Metrics::new(MetricsConfig::default());
    m.observe("E1", "*", &req(T0, "GET", ResultType::Hit, 200, 1));
    let later = T0 + 27 * 3600;
    m.observe("E1", "*", &req(later, "GET", ResultType::Hit, 200, 1));
    m.observe("E1", "*", &req(later + 120, "GET", ResultType::Hit, 200, 1));
    let old = Query { start: at(T0), end: at(T0 + 60), ..query("Requests", 60, &[Statistic::Sum], &[]) };
    assert!(m.statistics(&old).unwrap().is_empty());
    let recent = Query { start: at(later), end: at(later + 180), ..query("Requests", 60, &[Statistic::Sum], &[]) };
    assert_eq!(m.statistics(&recent).unwrap().len(), 2);
    // A day-old minute is still there (24 h is the minimum retention).
    let m = Metrics::new(MetricsConfig::default());
    m.observe("E1", "*", &req(T0, "GET", ResultType::Hit, 200, 1));
    m.observe("E1", "*", &req(T0 + 24 * 3600, "GET", ResultType::Hit, 200, 1));
    assert_eq!(m.statistics(&old).unwrap().len(), 1);
}

#[test]
fn concurrent_observations_all_count() {
    let m = Metrics::new(MetricsConfig::default());
    std::thread::scope(|s| {
        for t in 0..8u64 {
            let m = &m;
            s.spawn(move || {
                for i in 0..10_000u64 {
                    // Threads walk through ten minutes at different speeds.
                    let secs = T0 + (i * (t + 1) * 600 / 80_000);
                    m.observe(if i % 2 == 0 { "E1" } else { "E2" }, "*", &req(secs, "GET", ResultType::Hit, 200, 1));
                }
            });
        }
    });
    let total: f64 = ["E1", "E2"]
        .iter()
        .map(|d| {
            let q = Query { distribution_id: d, ..query("Requests", 600, &[Statistic::Sum], &[]) };
            m.statistics(&q).unwrap().iter().filter_map(|p| p.sum).sum::<f64>()
        })
        .sum();
    assert_eq!(total, 80_000.0);
    let minutes: u64 = m.minutes("E1", at(T0), at(T0 + 600)).iter().map(|s| s.requests).sum();
    assert_eq!(minutes, 40_000);
    assert_eq!(m.distributions(), vec!["E1".to_owned(), "E2".to_owned()]);
}
