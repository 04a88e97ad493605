//! Writer ↔ parser: every record survives write → parse unchanged, and no input makes the
//! parser panic (the same property the fuzz target checks, here in the normal test suite).

use cachalot_telemetry::format::{self, LogRecord, ResultType};
use cachalot_telemetry::parse::{self, FieldMap, LogReader};
use proptest::prelude::*;
use std::net::IpAddr;
use std::time::{Duration, SystemTime};

fn result_type() -> impl Strategy<Value = ResultType> {
    prop_oneof![
        Just(ResultType::Absent),
        Just(ResultType::Hit),
        Just(ResultType::RefreshHit),
        Just(ResultType::Miss),
        Just(ResultType::Error),
        Just(ResultType::Redirect),
        Just(ResultType::OriginShieldHit),
        Just(ResultType::FunctionGeneratedResponse),
        Just(ResultType::ClientHungUpRequest),
        "X[A-Za-z -~]{0,12}".prop_map(|s| ResultType::Other(s.into())),
    ]
}

fn millis() -> impl Strategy<Value = Duration> {
    (0u64..10_000_000_000).prop_map(Duration::from_millis)
}

prop_compose! {
    fn text_fields()(
        edge_location in any::<String>(),
        method in any::<String>(),
        host in any::<String>(),
        uri_stem in any::<String>(),
        referer in any::<String>(),
        user_agent in any::<String>(),
        query in any::<String>(),
        cookie in any::<String>(),
        request_id in any::<String>(),
        host_header in any::<String>(),
        protocol in any::<String>(),
        forwarded_for in any::<String>(),
        ssl_protocol in any::<String>(),
        ssl_cipher in any::<String>(),
        protocol_version in any::<String>(),
        fle_status in any::<String>(),
        content_type in any::<String>(),
    ) -> [String; 17] {
        [edge_location, method, host, uri_stem, referer, user_agent, query, cookie, request_id, host_header,
         protocol, forwarded_for, ssl_protocol, ssl_cipher, protocol_version, fle_status, content_type]
    }
}

prop_compose! {
    fn record()(
        secs in 0u64..253_402_300_800,
        text in text_fields(),
        sc_bytes in any::<u64>(),
        cs_bytes in any::<u64>(),
        client_ip in proptest::option::of(any::<IpAddr>()),
        status in proptest::option::of(1u16..),
        results in (result_type(), result_type(), result_type()),
        time_taken in millis(),
        ttfb in proptest::option::of(millis()),
        numbers in (
            proptest::option::of(any::<u64>()),
            proptest::option::of(any::<u16>()),
            proptest::option::of(any::<u64>()),
            proptest::option::of(any::<u64>()),
            proptest::option::of(any::<u64>()),
        ),
    ) -> LogRecord {
        let [edge_location, method, host, uri_stem, referer, user_agent, query, cookie, request_id, host_header,
             protocol, forwarded_for, ssl_protocol, ssl_cipher, protocol_version, fle_status, content_type] = text;
        LogRecord {
            timestamp: SystemTime::UNIX_EPOCH + Duration::from_secs(secs),
            edge_location, sc_bytes, client_ip, method, host, uri_stem, status, referer, user_agent, query, cookie,
            result_type: results.0,
            request_id, host_header, protocol, cs_bytes, time_taken, forwarded_for, ssl_protocol, ssl_cipher,
            response_result_type: results.1,
            protocol_version, fle_status,
            fle_encrypted_fields: numbers.0,
            client_port: numbers.1,
            time_to_first_byte: ttfb,
            detailed_result_type: results.2,
            content_type,
            content_length: numbers.2,
            range_start: numbers.3,
            range_end: numbers.4,
        }
    }
}

fn drain(reader: impl Iterator<Item = Result<LogRecord, parse::ParseError>>) -> (usize, usize) {
    reader.fold((0, 0), |(ok, err), r| if r.is_ok() { (ok + 1, err) } else { (ok, err + 1) })
}

proptest! {
    #[test]
    fn write_then_parse_is_identity(records in proptest::collection::vec(record(), 1..8)) {
        let mut file = Vec::new();
        format::write_header(&mut file);
        for r in &records {
            let mut line = Vec::new();
            format::write_record(&mut line, r);
            // One line, 33 columns, printable ASCII only.
            prop_assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1);
            prop_assert_eq!(line.iter().filter(|&&b| b == b'\t').count(), 32);
            prop_assert!(line.iter().all(|&b| b == b'\t' || b == b'\n' || (33..127).contains(&b)));
            file.extend_from_slice(&line);
        }
        let parsed: Vec<LogRecord> = LogReader::new(file.as_slice(), "prop")
            .collect::<Result<_, _>>()
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(parsed, records);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096), gzip_magic in any::<bool>()) {
        let mut input = if gzip_magic { vec![0x1f, 0x8b] } else { Vec::new() };
        input.extend_from_slice(&bytes);
        let (ok, err) = drain(LogReader::new(input.as_slice(), "fuzz"));
        prop_assert!(ok + err <= input.len() + 1);
    }

    #[test]
    fn arbitrary_lines_never_panic(line in "[-0-9a-zA-Z%:. \t#/=\u{80}-\u{10ffff}]{0,400}") {
        match parse::parse_record(&line) {
            Ok(r) => prop_assert_ne!(r.status, Some(0)),
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
        let with_header = format!("#Fields: date time sc-status c-ip time-taken cs-uri-stem\n{line}\n");
        let (ok, err) = drain(LogReader::new(with_header.as_bytes(), "fuzz"));
        prop_assert!(ok + err <= 1);
        if let Ok(l) = parse::parse_line(&line, &FieldMap::standard()) {
            for f in format::Field::ALL {
                let _ = l.text(f);
            }
        }
    }

    #[test]
    fn corrupting_one_field_gives_an_error_or_a_record(r in record(), column in 0usize..33, junk in "[^\t\n]{0,20}") {
        let line = format::record_line(&r);
        let mut cols: Vec<&str> = line.trim_end_matches('\n').split('\t').collect();
        cols[column] = &junk;
        let corrupted = cols.join("\t");
        match parse::parse_record(&corrupted) {
            Ok(_) => {}
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }
}

#[test]
fn real_cloudfront_sample_lines_parse() {
    // Shapes seen in AWS's documentation and in public CloudFront log samples.
    let text = "#Version: 1.0\r\n#Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id x-host-header cs-protocol cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher x-edge-response-result-type cs-protocol-version fle-status fle-encrypted-fields c-port time-to-first-byte x-edge-detailed-result-type sc-content-type sc-content-len sc-range-start sc-range-end\r\n\
2019-12-13\t22:36:27\tSEA19-C1\t900\t192.0.2.200\tGET\td111111abcdef8.cloudfront.net\t/favicon.ico\t502\thttp://www.example.com/\tMozilla/5.0%20(Windows%20NT%2010.0;%20Win64;%20x64)%20AppleWebKit/537.36%20(KHTML,%20like%20Gecko)%20Chrome/78.0.3904.108%20Safari/537.36\t-\t-\tError\t1pkpNfBQ39sYMnjjUQjmH2w1wdJnbHYTbag21o_3OfcQgPzdL2RSSQ==\twww.example.com\thttp\t675\t0.102\t-\t-\t-\tError\tHTTP/1.1\t-\t-\t25260\t0.102\tOriginDnsError\ttext/html\t507\t-\t-\r\n\
2019-12-13\t22:36:26\tSEA19-C1\t911\t2001:db8:3c4d:15::1a2f:1a2b\tGET\td111111abcdef8.cloudfront.net\t/\t502\t-\tcurl/7.55.1\t-\t-\tError\tkBkDzGnceVtWHqSCqBUqtA_cEs2T3tFUBbnBNkB9El_uVRhHgcZfcw==\twww.example.com\thttps\t72\t0.121\t-\tTLSv1.2\tECDHE-RSA-AES128-GCM-SHA256\tError\tHTTP/2.0\t-\t-\t40684\t0.121\tOriginDnsError\ttext/html\t507\t-\t-\t\r\n";
    let records: Vec<LogRecord> = LogReader::new(text.as_bytes(), "sample").collect::<Result<_, _>>().unwrap();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0].detailed_result_type, ResultType::OriginDnsError);
    assert_eq!(records[1].client_ip, Some("2001:db8:3c4d:15::1a2f:1a2b".parse().unwrap()));
    assert_eq!(records[1].ssl_cipher, "ECDHE-RSA-AES128-GCM-SHA256");
    assert!(records[0].user_agent.starts_with("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit"));
}
