//! Raw HTTP against the control plane: error documents, hostile input, the key
//! value store data API, and `--config` resources merged into the store.

use cachalot_config::validate::Resources;
use cachalot_control::{ControlPlane, RecordingEdge, StoreLocation};
use std::sync::Arc;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

struct Reply {
    status: u16,
    head: String,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    }
}

async fn call(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut req =
        format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n", body.len());
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    // A server may answer before reading a body it refuses; ignore write errors past the head.
    let _ = s.write_all(body).await;
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out).await;
    let text = String::from_utf8_lossy(&out).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    Reply { status, head: head.to_owned(), body: body.to_owned() }
}

fn temp_dir() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("cachalot-http-{}", fastrand::u64(..)))
}

async fn serve(control: &ControlPlane) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let app = control.router();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

async fn start() -> (String, Arc<RecordingEdge>, std::path::PathBuf) {
    let dir = temp_dir();
    let edge = RecordingEdge::new();
    let control =
        ControlPlane::open(StoreLocation::Dir(dir.clone()), Resources::default(), Vec::new(), edge.clone(), None)
            .unwrap();
    (serve(&control).await, edge, dir)
}

fn error_code(body: &str) -> &str {
    body.split("<Code>").nth(1).and_then(|s| s.split("</Code>").next()).unwrap_or("")
}

#[tokio::test]
async fn hostile_and_malformed_requests_get_cloudfront_errors() {
    let (addr, _, dir) = start().await;
    let r = call(&addr, "POST", "/2020-05-31/cache-policy", &[], b"<CachePolicyConfig><Name>x</Name").await;
    assert_eq!((r.status, error_code(&r.body)), (400, "MalformedInput"), "{}", r.body);
    assert!(
        r.body.contains("<ErrorResponse") && r.body.contains("<Type>Sender</Type>") && r.body.contains("<RequestId>")
    );
    assert!(r.header("x-amzn-RequestId").is_some_and(|v| !v.is_empty()));

    let r = call(&addr, "POST", "/2020-05-31/cache-policy", &[], b"<Wrong/>").await;
    assert_eq!(error_code(&r.body), "MalformedInput");
    assert!(r.body.contains("CachePolicyConfig"), "names the expected root: {}", r.body);
    let r = call(&addr, "POST", "/2020-05-31/cache-policy", &[], b"").await;
    assert_eq!(error_code(&r.body), "MissingBody");
    let r = call(
        &addr,
        "POST",
        "/2020-05-31/cache-policy",
        &[],
        b"<CachePolicyConfig><MinTTL>lots</MinTTL></CachePolicyConfig>",
    )
    .await;
    assert_eq!(error_code(&r.body), "MalformedInput", "{}", r.body);
    let bomb = "<a>".repeat(5000);
    let r = call(&addr, "POST", "/2020-05-31/distribution", &[], bomb.as_bytes()).await;
    assert_eq!(r.status, 400);

    let r = call(&addr, "GET", "/2020-05-31/no-such-thing/at/all", &[], b"").await;
    assert_eq!((r.status, error_code(&r.body)), (404, "UnknownOperation"));
    let r = call(&addr, "GET", "/2020-05-31/field-level-encryption", &[], b"").await;
    assert_eq!(error_code(&r.body), "UnsupportedOperation");
    assert!(r.body.contains("ListFieldLevelEncryptionConfigs"), "{}", r.body);

    let huge = vec![b'x'; cachalot_control::MAX_BODY_BYTES + 1];
    let r = call(&addr, "POST", "/2020-05-31/distribution", &[], &huge).await;
    assert_eq!(r.status, 413, "{}", r.head);

    let r = call(
        &addr,
        "PUT",
        "/2020-05-31/cache-policy/658327ea-f89d-4fab-a63d-7e88639e58f6",
        &[("If-Match", "x")],
        b"<CachePolicyConfig/>",
    )
    .await;
    assert_eq!(error_code(&r.body), "IllegalUpdate");
    let r = call(&addr, "GET", "/2020-05-31/cache-policy/658327ea-f89d-4fab-a63d-7e88639e58f6/config", &[], b"").await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("<Name>Managed-CachingOptimized</Name>"), "{}", r.body);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn key_value_store_data_api() {
    let (addr, edge, dir) = start().await;
    let r = call(
        &addr,
        "POST",
        "/2020-05-31/key-value-store",
        &[],
        b"<CreateKeyValueStoreRequest xmlns=\"http://cloudfront.amazonaws.com/doc/2020-05-31/\"><Name>flags</Name></CreateKeyValueStoreRequest>",
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let arn = r.body.split("<ARN>").nth(1).unwrap().split("</ARN>").next().unwrap().to_owned();
    let base = format!("/key-value-stores/{}", arn.replace(':', "%3A").replace('/', "%2F"));

    let r = call(&addr, "GET", &base, &[("Host", "123456789012.localhost")], b"").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let etag = r.header("etag").unwrap();
    assert!(r.body.contains("\"ItemCount\":0"), "{}", r.body);

    let put = format!("{base}/keys/beta");
    let r = call(&addr, "PUT", &put, &[], br#"{"Value":"on"}"#).await;
    assert_eq!((r.status, r.header("x-amzn-ErrorType").as_deref()), (400, Some("ValidationException")));
    let r = call(&addr, "PUT", &put, &[("If-Match", "stale")], br#"{"Value":"on"}"#).await;
    assert_eq!((r.status, r.header("x-amzn-ErrorType").as_deref()), (409, Some("ConflictException")));
    let r = call(&addr, "PUT", &put, &[("If-Match", &etag)], br#"{"Value":"on"}"#).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let etag = r.header("etag").unwrap();
    assert_eq!(edge.latest().unwrap().key_value_stores["flags"].items["beta"], "on");

    let batch = br#"{"Puts":[{"Key":"a","Value":"1"},{"Key":"b","Value":"2"}],"Deletes":[{"Key":"beta"}]}"#;
    let r = call(&addr, "POST", &format!("{base}/keys"), &[("If-Match", &etag)], batch).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("\"ItemCount\":2"), "{}", r.body);
    let r = call(&addr, "GET", &format!("{base}/keys/a"), &[], b"").await;
    assert!(r.body.contains("\"Value\":\"1\""), "{}", r.body);
    let r = call(&addr, "GET", &format!("{base}/keys?MaxResults=1"), &[], b"").await;
    assert!(r.body.contains("\"NextToken\":\"a\""), "{}", r.body);
    let r = call(&addr, "GET", &format!("{base}/keys/beta"), &[], b"").await;
    assert_eq!(r.status, 404);
    let _ = std::fs::remove_dir_all(dir);
}

const CONFIG: &str = r#"{
  "CachePolicies": [{"Id": "11111111-2222-3333-4444-555555555555", "CachePolicyConfig": {
     "Name": "from-config", "MinTTL": 0, "DefaultTTL": 60, "MaxTTL": 600,
     "ParametersInCacheKeyAndForwardedToOrigin": {"EnableAcceptEncodingGzip": true,
       "HeadersConfig": {"HeaderBehavior": "none"}, "CookiesConfig": {"CookieBehavior": "none"},
       "QueryStringsConfig": {"QueryStringBehavior": "none"}}}}],
  "Distributions": [{"Id": "ECONFIGDIST001", "DomainName": "dconfig0000001.cloudfront.net", "DistributionConfig": {
     "CallerReference": "cfg", "Comment": "COMMENT", "Enabled": true,
     "Origins": {"Quantity": 1, "Items": [{"Id": "o", "DomainName": "example.com",
        "CustomOriginConfig": {"HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": "http-only"}}]},
     "DefaultCacheBehavior": {"TargetOriginId": "o", "ViewerProtocolPolicy": "allow-all",
        "CachePolicyId": "11111111-2222-3333-4444-555555555555"}}}]
}"#;

fn resources(comment: &str) -> Resources {
    let (file, diags) = cachalot_config::file::parse(&CONFIG.replace("COMMENT", comment));
    assert!(!diags.has_errors(), "{:?}", diags.items());
    Resources { distributions: file.distributions, cache_policies: file.cache_policies, ..Resources::default() }
}

#[tokio::test]
async fn config_resources_are_merged_and_win_for_their_ids() {
    let dir = temp_dir();
    let edge = RecordingEdge::new();
    {
        let control =
            ControlPlane::open(StoreLocation::Dir(dir.clone()), resources("first"), Vec::new(), edge.clone(), None)
                .unwrap();
        assert!(control.snapshot().distribution("ECONFIGDIST001").is_some());
        assert!(edge.latest().unwrap().distribution("ECONFIGDIST001").is_some());
    }
    let control =
        ControlPlane::open(StoreLocation::Dir(dir.clone()), resources("second"), Vec::new(), edge.clone(), None)
            .unwrap();
    let addr = serve(&control).await;
    let r = call(&addr, "GET", "/2020-05-31/distribution/ECONFIGDIST001", &[], b"").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("<Comment>second</Comment>") && r.body.contains("<Status>Deployed</Status>"), "{}", r.body);
    let r = call(&addr, "GET", "/2020-05-31/cache-policy?Type=custom", &[], b"").await;
    assert!(r.body.contains("<Name>from-config</Name>"), "{}", r.body);

    // A fleet store URL the client cannot use is refused at once, naming what is wrong.
    let fleet = ControlPlane::open(
        StoreLocation::Fleet(cachalot_control::FleetSettings {
            url: "postgres://db/cachalot?sslmode=sometimes".into(),
            node: cachalot_control::NodeInfo { id: "n".into(), ..Default::default() },
            state_dir: dir.join("node"),
        }),
        Resources::default(),
        Vec::new(),
        edge,
        None,
    );
    let message = fleet.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(message.contains("sslmode=sometimes"), "{message}");
    let _ = std::fs::remove_dir_all(dir);
}

/// CloudWatch on the admin listener: hostile or malformed calls get CloudWatch's errors in the
/// protocol they came in, never a 500 or a dropped connection.
#[tokio::test]
async fn cloudwatch_rejects_malformed_calls_with_its_own_errors() {
    let dir = temp_dir();
    let control = ControlPlane::open(
        StoreLocation::Dir(dir.clone()),
        Resources::default(),
        Vec::new(),
        RecordingEdge::new(),
        None,
    )
    .unwrap();
    let telemetry = Arc::new(cachalot_telemetry::Telemetry::new(Default::default()).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let app = control.cloudwatch_router(telemetry);
    tokio::spawn(async move { axum::serve(listener, app).await });

    let json = [
        ("x-amz-target", "GraniteServiceVersion20100801.GetMetricStatistics"),
        ("content-type", "application/x-amz-json-1.0"),
    ];
    let r = call(&addr, "POST", "/", &json, b"{not json").await;
    assert_eq!(
        (r.status, r.header("x-amzn-query-error")),
        (400, Some("SerializationException;Sender".into())),
        "{}",
        r.body
    );
    let r = call(&addr, "POST", "/", &json, br#"{"Namespace": "AWS/CloudFront", "MetricName": "Requests"}"#).await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("MissingRequiredParameterException") && r.body.contains("StartTime"), "{}", r.body);
    let r = call(&addr, "POST", "/", &json,
        br#"{"Namespace": "AWS/CloudFront", "MetricName": "Requests", "StartTime": 1e300, "EndTime": -1e300, "Period": 60, "Statistics": ["Sum"]}"#).await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = call(&addr, "POST", "/", &json,
        br#"{"Namespace": "AWS/CloudFront", "MetricName": "Requests", "StartTime": 0, "EndTime": 60, "Period": 60, "Statistics": ["Median"]}"#).await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("InvalidParameterValueException"), "{}", r.body);
    let r = call(&addr, "POST", "/", &[("x-amz-target", "GraniteServiceVersion20100801.PutMetricData")], b"{}").await;
    assert_eq!(r.header("x-amzn-query-error").as_deref(), Some("UnknownOperationException;Sender"));

    let form = [("content-type", "application/x-www-form-urlencoded")];
    let r = call(&addr, "POST", "/", &form, b"Action=GetMetricStatistics&StartTime=yesterday").await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("<Code>InvalidParameterValue</Code>") && r.body.contains("<ErrorResponse"), "{}", r.body);
    let r = call(&addr, "POST", "/", &form, b"%ff%fe=%&&=&Action").await;
    assert_eq!(r.status, 400, "{}", r.body);

    let cbor = [("smithy-protocol", "rpc-v2-cbor"), ("content-type", "application/cbor")];
    let path = "/service/GraniteServiceVersion20100801/operation/GetMetricStatistics";
    for body in [&b"\xff\xff\xff"[..], b"\x9f\x9f\x9f\x9f", b"\xa1\x60\xfb\x7f\xf8\x00\x00\x00\x00\x00\x00"] {
        let r = call(&addr, "POST", path, &cbor, body).await;
        assert_eq!(r.status, 400, "{body:?}: {}", r.body);
        assert_eq!(r.header("smithy-protocol").as_deref(), Some("rpc-v2-cbor"));
    }
    let data = [("x-amz-target", "GraniteServiceVersion20100801.GetMetricData")];
    let r = call(
        &addr,
        "POST",
        "/",
        &data,
        br#"{"StartTime": 0, "EndTime": 60, "MetricDataQueries": [{"Id": "e", "Expression": "SUM(METRICS())"}]}"#,
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("InvalidParameterValueException") && r.body.contains("MetricStat"), "{}", r.body);
    let r = call(&addr, "POST", "/", &data, br#"{"StartTime": 0, "EndTime": 60, "MetricDataQueries": []}"#).await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = call(
        &addr,
        "POST",
        "/",
        &form,
        b"Action=GetMetricData&StartTime=1970-01-01T00%3A00%3A00Z&EndTime=1970-01-01T00%3A02%3A00Z\
&MetricDataQueries.member.1.Id=r&MetricDataQueries.member.1.MetricStat.Metric.Namespace=AWS%2FCloudFront\
&MetricDataQueries.member.1.MetricStat.Metric.MetricName=Requests&MetricDataQueries.member.1.MetricStat.Period=60\
&MetricDataQueries.member.1.MetricStat.Stat=Sum",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("<MetricDataResults><member><Id>r</Id><Label>Requests</Label>"), "{}", r.body);
    let r =
        call(&addr, "POST", "/service/GraniteServiceVersion20100801/operation/PutMetricAlarm", &cbor, b"\xa0").await;
    assert_eq!(r.header("x-amzn-query-error").as_deref(), Some("UnknownOperationException;Sender"));
    std::fs::remove_dir_all(&dir).ok();
}
