//! The log format is an API boundary: these snapshots pin the exact bytes written.

use cachalot_telemetry::format::{self, LogRecord, ResultType};
use std::time::{Duration, SystemTime};

fn at(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
}

fn hit() -> LogRecord {
    LogRecord {
        timestamp: at(1_575_493_351), // 2019-12-04 21:02:31
        edge_location: "LAX1".into(),
        sc_bytes: 392,
        client_ip: Some("192.0.2.100".parse().unwrap()),
        method: "GET".into(),
        host: "d111111abcdef8.cloudfront.net".into(),
        uri_stem: "/index.html".into(),
        status: Some(200),
        user_agent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64)".into(),
        result_type: ResultType::Hit,
        request_id: "SOX4xwn4XV6Q4rgb7XiVGOHms_BGlTAC4KyHmureZmBNrjGdRLiNIQ==".into(),
        host_header: "d111111abcdef8.cloudfront.net".into(),
        protocol: "https".into(),
        cs_bytes: 23,
        time_taken: Duration::from_millis(1),
        ssl_protocol: "TLSv1.2".into(),
        ssl_cipher: "ECDHE-RSA-AES128-GCM-SHA256".into(),
        response_result_type: ResultType::Hit,
        protocol_version: "HTTP/2.0".into(),
        client_port: Some(11040),
        time_to_first_byte: Some(Duration::from_millis(1)),
        detailed_result_type: ResultType::Hit,
        content_type: "text/html".into(),
        content_length: Some(78),
        ..LogRecord::default()
    }
}

fn origin_dns_error() -> LogRecord {
    LogRecord {
        timestamp: at(1_575_493_352),
        edge_location: "LAX1".into(),
        sc_bytes: 467,
        client_ip: Some("2001:db8:85a3::8a2e:370:7334".parse().unwrap()),
        method: "GET".into(),
        host: "d111111abcdef8.cloudfront.net".into(),
        uri_stem: "/a path/with%20encoded/caf\u{e9}.html".into(),
        status: Some(502),
        referer: "https://www.example.com/?q=\"quoted\"&x=<tag>".into(),
        user_agent: "curl/7.68.0".into(),
        query: "utm_source=news letter&list[]=1|2&h=#frag&t=~'`^{}\\".into(),
        cookie: "session-id=abc; theme=dark".into(),
        result_type: ResultType::Error,
        request_id: "bfX7sVrMQZfyDAtmGTFVCJpgSiy1n5rVDA5ov7j9XN-wT7A3x6W_QA==".into(),
        host_header: "www.example.com".into(),
        protocol: "http".into(),
        cs_bytes: 82,
        time_taken: Duration::from_micros(82_400),
        forwarded_for: "203.0.113.7, 10.0.0.1".into(),
        response_result_type: ResultType::Error,
        protocol_version: "HTTP/1.1".into(),
        client_port: Some(59_002),
        time_to_first_byte: Some(Duration::from_millis(80)),
        detailed_result_type: ResultType::OriginDnsError,
        content_type: "text/html".into(),
        content_length: Some(507),
        ..LogRecord::default()
    }
}

fn viewer_gone_mid_range() -> LogRecord {
    LogRecord {
        timestamp: at(1_575_496_799), // the hour's last second
        edge_location: "FRA56-P5".into(),
        sc_bytes: 1_048_920,
        client_ip: Some("198.51.100.9".parse().unwrap()),
        method: "GET".into(),
        host: "d111111abcdef8.cloudfront.net".into(),
        uri_stem: "/video/intro.mp4".into(),
        status: None,
        user_agent: "VLC/3.0.18 LibVLC/3.0.18".into(),
        query: "-".into(),
        result_type: ResultType::Error,
        request_id: "k3vC9z8w0Tn3Q1cB2yRaLSIpY7VQyQnIR3lFqWxoHcU9N7LZ8VvQvA==".into(),
        host_header: "media.example.com".into(),
        protocol: "https".into(),
        cs_bytes: 311,
        time_taken: Duration::from_millis(12_345),
        ssl_protocol: "TLSv1.3".into(),
        ssl_cipher: "TLS_AES_128_GCM_SHA256".into(),
        response_result_type: ResultType::Hit,
        protocol_version: "HTTP/3.0".into(),
        fle_status: "Processed".into(),
        fle_encrypted_fields: Some(2),
        client_port: Some(443),
        time_to_first_byte: None,
        detailed_result_type: ResultType::ClientCommError,
        content_type: "video/mp4".into(),
        content_length: Some(1_048_576),
        range_start: Some(0),
        range_end: Some(1_048_575),
        ..LogRecord::default()
    }
}

#[test]
fn log_file_bytes() {
    let mut out = Vec::new();
    format::write_header(&mut out);
    for r in [hit(), origin_dns_error(), viewer_gone_mid_range()] {
        format::write_record(&mut out, &r);
    }
    let text = String::from_utf8(out).unwrap();
    // Tabs shown as `→` so the snapshot reads well; every line has 33 columns.
    for line in text.lines().skip(2) {
        assert_eq!(line.split('\t').count(), 33, "{line}");
    }
    insta::assert_snapshot!(text.replace('\t', "→"));
}

#[test]
fn default_record_is_all_dashes_and_000() {
    let line = format::record_line(&LogRecord::default());
    insta::assert_snapshot!(line.replace('\t', "→"));
}
