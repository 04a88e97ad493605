//! How one logged request counts in the metrics: the single definition shared by the live
//! edge (Prometheus counters, CloudWatch series) and by log analysis, so a hit ratio
//! computed from a log file agrees with the edge's own numbers.
//!
//! Definitions (CloudFront's where it documents them, ours where it does not):
//!
//! - **Request**: every logged request, all methods, HTTP and HTTPS.
//! - **Bytes downloaded**: `sc-bytes` of `GET`, `HEAD` and `OPTIONS` requests.
//! - **Bytes uploaded**: `cs-bytes` of `POST` and `PUT` requests.
//! - **Status class**: from `sc-status`; `000` (no response sent) is its own class and is
//!   neither a 4xx nor a 5xx error.
//! - **Cacheable request** (CacheHitRate's denominator): method `GET`, `HEAD` or `OPTIONS`,
//!   and `x-edge-result-type` is `Hit`, `RefreshHit` or `Miss`, and the status is below 400
//!   (and not `000`). So `POST`/`PUT`/…, errors (`Error`, `LimitExceeded`,
//!   `CapacityExceeded`, any 4xx/5xx, viewer disconnects), `Redirect` and function- or
//!   Lambda-generated responses are not cacheable requests.
//! - **Cache hit** (CacheHitRate's numerator): a cacheable request whose
//!   `x-edge-result-type` is `Hit` or `RefreshHit`, or whose `x-edge-detailed-result-type`
//!   is `OriginShieldHit` (served by the shield tier: a hit for CloudFront as a whole).
//! - **Origin latency**: `time-to-first-byte` of requests served from the origin, i.e. whose
//!   `x-edge-response-result-type` (or `x-edge-result-type` when that field is absent) is
//!   `Miss` and whose detailed type is not `OriginShieldHit`.

use crate::format::{LogRecord, ResultType};
use std::time::Duration;

/// The status class of a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StatusClass {
    /// 100–199.
    Informational,
    /// 200–299.
    Success,
    /// 300–399.
    Redirection,
    /// 400–499.
    ClientError,
    /// 500–599.
    ServerError,
    /// `000` (no response) or out of range.
    None,
}

impl StatusClass {
    /// The class of `status`.
    pub fn of(status: Option<u16>) -> StatusClass {
        match status {
            Some(100..=199) => StatusClass::Informational,
            Some(200..=299) => StatusClass::Success,
            Some(300..=399) => StatusClass::Redirection,
            Some(400..=499) => StatusClass::ClientError,
            Some(500..=599) => StatusClass::ServerError,
            _ => StatusClass::None,
        }
    }

    /// The label used in metrics: `1xx` … `5xx`, `000`.
    pub fn label(self) -> &'static str {
        match self {
            StatusClass::Informational => "1xx",
            StatusClass::Success => "2xx",
            StatusClass::Redirection => "3xx",
            StatusClass::ClientError => "4xx",
            StatusClass::ServerError => "5xx",
            StatusClass::None => "000",
        }
    }

    /// All classes in label order.
    pub const ALL: [StatusClass; 6] = [
        StatusClass::Informational,
        StatusClass::Success,
        StatusClass::Redirection,
        StatusClass::ClientError,
        StatusClass::ServerError,
        StatusClass::None,
    ];
}

/// The statuses CloudWatch has a dedicated error-rate metric for.
pub const TRACKED_ERROR_STATUSES: [u16; 6] = [401, 403, 404, 502, 503, 504];

/// Whether the method's response bytes count as downloaded (`GET`, `HEAD`, `OPTIONS`).
pub fn is_download_method(method: &str) -> bool {
    matches!(method, "GET" | "HEAD" | "OPTIONS")
}

/// Whether the method's request bytes count as uploaded (`POST`, `PUT`).
pub fn is_upload_method(method: &str) -> bool {
    matches!(method, "POST" | "PUT")
}

/// Whether a request counts in CacheHitRate's denominator (see the module docs).
pub fn is_cacheable_request(method: &str, status: Option<u16>, result_type: &ResultType) -> bool {
    is_download_method(method)
        && matches!(*result_type, ResultType::Hit | ResultType::RefreshHit | ResultType::Miss)
        && matches!(status, Some(s) if s < 400)
}

/// Whether a cacheable request counts as a hit (see the module docs).
pub fn is_cache_hit(result_type: &ResultType, detailed: &ResultType) -> bool {
    matches!(*result_type, ResultType::Hit | ResultType::RefreshHit) || *detailed == ResultType::OriginShieldHit
}

/// How one request counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// Status class.
    pub status_class: StatusClass,
    /// The status when it is one of [`TRACKED_ERROR_STATUSES`].
    pub tracked_error: Option<u16>,
    /// Bytes downloaded (0 unless `GET`/`HEAD`/`OPTIONS`).
    pub bytes_downloaded: u64,
    /// Bytes uploaded (0 unless `POST`/`PUT`).
    pub bytes_uploaded: u64,
    /// Counts in CacheHitRate's denominator.
    pub cacheable: bool,
    /// Counts in CacheHitRate's numerator.
    pub hit: bool,
    /// First-byte latency when served from the origin.
    pub origin_latency: Option<Duration>,
}

impl Outcome {
    /// Classifies one record.
    pub fn of(r: &LogRecord) -> Outcome {
        let cacheable = is_cacheable_request(&r.method, r.status, &r.result_type);
        let served =
            if r.response_result_type == ResultType::Absent { &r.result_type } else { &r.response_result_type };
        let from_origin = *served == ResultType::Miss && r.detailed_result_type != ResultType::OriginShieldHit;
        Outcome {
            status_class: StatusClass::of(r.status),
            tracked_error: r.status.filter(|s| TRACKED_ERROR_STATUSES.contains(s)),
            bytes_downloaded: if is_download_method(&r.method) { r.sc_bytes } else { 0 },
            bytes_uploaded: if is_upload_method(&r.method) { r.cs_bytes } else { 0 },
            cacheable,
            hit: cacheable && is_cache_hit(&r.result_type, &r.detailed_result_type),
            origin_latency: if from_origin { r.time_to_first_byte } else { None },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(method: &str, status: Option<u16>, result: ResultType, detailed: ResultType) -> LogRecord {
        LogRecord {
            method: method.into(),
            status,
            response_result_type: result.clone(),
            result_type: result,
            detailed_result_type: detailed,
            sc_bytes: 100,
            cs_bytes: 10,
            time_to_first_byte: Some(Duration::from_millis(30)),
            ..LogRecord::default()
        }
    }

    #[test]
    fn cache_hit_rate_definition() {
        let hit = Outcome::of(&rec("GET", Some(200), ResultType::Hit, ResultType::Hit));
        assert!(hit.cacheable && hit.hit && hit.origin_latency.is_none());
        let refresh = Outcome::of(&rec("HEAD", Some(304), ResultType::RefreshHit, ResultType::RefreshHit));
        assert!(refresh.cacheable && refresh.hit);
        let shield = Outcome::of(&rec("GET", Some(200), ResultType::Miss, ResultType::OriginShieldHit));
        assert!(shield.cacheable && shield.hit && shield.origin_latency.is_none());
        let miss = Outcome::of(&rec("GET", Some(200), ResultType::Miss, ResultType::Miss));
        assert!(miss.cacheable && !miss.hit);
        assert_eq!(miss.origin_latency, Some(Duration::from_millis(30)));
        let post = Outcome::of(&rec("POST", Some(200), ResultType::Miss, ResultType::Miss));
        assert!(!post.cacheable && post.bytes_uploaded == 10 && post.bytes_downloaded == 0);
        let error = Outcome::of(&rec("GET", Some(404), ResultType::Error, ResultType::Error));
        assert!(!error.cacheable && error.tracked_error == Some(404));
        let cached_error = Outcome::of(&rec("GET", Some(503), ResultType::Hit, ResultType::Hit));
        assert!(!cached_error.cacheable && cached_error.status_class == StatusClass::ServerError);
        let redirect = Outcome::of(&rec("GET", Some(301), ResultType::Redirect, ResultType::Redirect));
        assert!(!redirect.cacheable);
        let function = Outcome::of(&rec(
            "GET",
            Some(200),
            ResultType::FunctionGeneratedResponse,
            ResultType::FunctionGeneratedResponse,
        ));
        assert!(!function.cacheable);
        let gone = Outcome::of(&rec("GET", None, ResultType::Error, ResultType::ClientHungUpRequest));
        assert!(!gone.cacheable && gone.status_class == StatusClass::None);
    }
}
