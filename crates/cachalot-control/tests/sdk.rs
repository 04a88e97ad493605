//! The AWS SDK for Rust (`aws-sdk-cloudfront`) against an in-process control plane.

use aws_sdk_cloudfront::Client;
use aws_sdk_cloudfront::config::{BehaviorVersion, Region};
use aws_sdk_cloudfront::error::ProvideErrorMetadata;
use aws_sdk_cloudfront::operation::create_distribution::builders::CreateDistributionFluentBuilder;
use aws_sdk_cloudfront::operation::create_function::builders::CreateFunctionFluentBuilder;
use aws_sdk_cloudfront::operation::create_invalidation::builders::CreateInvalidationFluentBuilder;
use aws_sdk_cloudfront::primitives::Blob;
use aws_sdk_cloudfront::types::*;
use cachalot_config::file::AccessKey;
use cachalot_config::validate::Resources;
use cachalot_control::{
    ControlPlane, FunctionTestError, FunctionTestRequest, FunctionTestResult, FunctionTester, RecordingEdge,
    StoreLocation,
};
use std::sync::Arc;
use std::time::Duration;

const CACHING_OPTIMIZED: &str = "658327ea-f89d-4fab-a63d-7e88639e58f6";

struct Env {
    client: Client,
    edge: Arc<RecordingEdge>,
    control: ControlPlane,
    url: String,
    dir: std::path::PathBuf,
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn client(url: &str, key: &str, secret: &str) -> Client {
    let creds = aws_credential_types::Credentials::new(key, secret, None, None, "test");
    let conf = aws_sdk_cloudfront::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(creds)
        .endpoint_url(url)
        .retry_config(aws_sdk_cloudfront::config::retry::RetryConfig::disabled())
        .build();
    Client::from_conf(conf)
}

async fn serve(control: &ControlPlane) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = control.router();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

async fn start_with(keys: Vec<AccessKey>, tester: Option<Arc<dyn FunctionTester>>, resources: Resources) -> Env {
    let dir = std::env::temp_dir().join(format!("cachalot-sdk-{}", fastrand::u64(..)));
    let edge = RecordingEdge::new();
    let control = ControlPlane::open(StoreLocation::Dir(dir.clone()), resources, keys, edge.clone(), tester).unwrap();
    let url = serve(&control).await;
    Env { client: client(&url, "test", "test"), edge, control, url, dir }
}

async fn start() -> Env {
    start_with(Vec::new(), None, Resources::default()).await
}

fn code<E: ProvideErrorMetadata, R>(e: aws_sdk_cloudfront::error::SdkError<E, R>) -> String {
    e.code().unwrap_or("<no code>").to_owned()
}

fn cache_policy_config(name: &str, min_ttl: i64, default_ttl: i64) -> CachePolicyConfig {
    CachePolicyConfig::builder()
        .name(name)
        .min_ttl(min_ttl)
        .default_ttl(default_ttl)
        .max_ttl(31_536_000)
        .parameters_in_cache_key_and_forwarded_to_origin(
            ParametersInCacheKeyAndForwardedToOrigin::builder()
                .enable_accept_encoding_gzip(true)
                .enable_accept_encoding_brotli(true)
                .headers_config(
                    CachePolicyHeadersConfig::builder()
                        .header_behavior(CachePolicyHeaderBehavior::None)
                        .build()
                        .unwrap(),
                )
                .cookies_config(
                    CachePolicyCookiesConfig::builder()
                        .cookie_behavior(CachePolicyCookieBehavior::None)
                        .build()
                        .unwrap(),
                )
                .query_strings_config(
                    CachePolicyQueryStringsConfig::builder()
                        .query_string_behavior(CachePolicyQueryStringBehavior::None)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .build()
        .unwrap()
}

fn distribution_config(caller: &str, policy: &str, function_arn: Option<&str>) -> DistributionConfig {
    let mut behavior = DefaultCacheBehavior::builder()
        .target_origin_id("web")
        .viewer_protocol_policy(ViewerProtocolPolicy::AllowAll)
        .cache_policy_id(policy);
    if let Some(arn) = function_arn {
        behavior = behavior.function_associations(
            FunctionAssociations::builder()
                .quantity(1)
                .items(
                    FunctionAssociation::builder()
                        .function_arn(arn)
                        .event_type(EventType::ViewerRequest)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        );
    }
    DistributionConfig::builder()
        .caller_reference(caller)
        .comment("test")
        .enabled(true)
        .origins(
            Origins::builder()
                .quantity(1)
                .items(
                    Origin::builder()
                        .id("web")
                        .domain_name("origin.example.com")
                        .custom_origin_config(
                            CustomOriginConfig::builder()
                                .http_port(80)
                                .https_port(443)
                                .origin_protocol_policy(OriginProtocolPolicy::HttpOnly)
                                .build()
                                .unwrap(),
                        )
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .default_cache_behavior(behavior.build().unwrap())
        .build()
        .unwrap()
}

/// `CreateDistribution` of an enabled distribution (see [`distribution_config`]), ready to send.
fn create_distribution(
    c: &Client,
    caller: &str,
    policy: &str,
    function_arn: Option<&str>,
) -> CreateDistributionFluentBuilder {
    c.create_distribution().distribution_config(distribution_config(caller, policy, function_arn))
}

/// `CreateInvalidation` of `paths` on distribution `id`, ready to send.
fn create_invalidation(c: &Client, id: &str, caller: &str, paths: &[&str]) -> CreateInvalidationFluentBuilder {
    let mut p = Paths::builder().quantity(paths.len() as i32);
    for path in paths {
        p = p.items(*path);
    }
    let batch = InvalidationBatch::builder().caller_reference(caller).paths(p.build().unwrap()).build().unwrap();
    c.create_invalidation().distribution_id(id).invalidation_batch(batch)
}

/// `CreateFunction` of `code`, ready to send.
fn create_function(c: &Client, name: &str, config: FunctionConfig, code: &str) -> CreateFunctionFluentBuilder {
    c.create_function().name(name).function_config(config).function_code(Blob::new(code))
}

/// Asks for `status` until it is `wanted`, at most 100 times, `pause` apart; the last answer.
async fn poll_status(wanted: &str, pause: Duration, mut status: impl AsyncFnMut() -> String) -> String {
    let mut last = String::new();
    for _ in 0..100 {
        last = status().await;
        if last == wanted {
            break;
        }
        tokio::time::sleep(pause).await;
    }
    last
}

#[tokio::test]
async fn cache_policies_lifecycle_and_errors() {
    let env = start().await;
    let c = &env.client;
    let created =
        c.create_cache_policy().cache_policy_config(cache_policy_config("static", 1, 86400)).send().await.unwrap();
    let policy = created.cache_policy().unwrap();
    let id = policy.id().to_owned();
    assert!(created.location().unwrap().ends_with(&id));
    let etag = created.e_tag().unwrap().to_owned();

    let got = c.get_cache_policy().id(&id).send().await.unwrap();
    assert_eq!(got.e_tag(), Some(etag.as_str()));
    let cfg = got.cache_policy().unwrap().cache_policy_config().unwrap();
    assert_eq!((cfg.name(), cfg.min_ttl(), cfg.default_ttl()), ("static", 1, Some(86400)));
    let config_only = c.get_cache_policy_config().id(&id).send().await.unwrap();
    assert_eq!(config_only.cache_policy_config().unwrap().name(), "static");

    // If-Match: missing, stale, current.
    let e = c.update_cache_policy().id(&id).cache_policy_config(cache_policy_config("static", 2, 60)).send().await;
    assert_eq!(code(e.unwrap_err()), "InvalidIfMatchVersion");
    let e = c
        .update_cache_policy()
        .id(&id)
        .if_match("ESTALE")
        .cache_policy_config(cache_policy_config("static", 2, 60))
        .send()
        .await;
    assert_eq!(code(e.unwrap_err()), "PreconditionFailed");
    let updated = c
        .update_cache_policy()
        .id(&id)
        .if_match(&etag)
        .cache_policy_config(cache_policy_config("static", 2, 60))
        .send()
        .await
        .unwrap();
    assert_ne!(updated.e_tag(), Some(etag.as_str()));

    // Validation through cachalot-config, and the name rule.
    let e = c.create_cache_policy().cache_policy_config(cache_policy_config("bad-ttl", 100, 10)).send().await;
    assert_eq!(code(e.unwrap_err()), "InvalidArgument");
    let e = c.create_cache_policy().cache_policy_config(cache_policy_config("static", 1, 86400)).send().await;
    assert_eq!(code(e.unwrap_err()), "CachePolicyAlreadyExists");

    // Managed policies: listed, readable, immutable.
    let managed = c.list_cache_policies().r#type(CachePolicyType::Managed).send().await.unwrap();
    let items = managed.cache_policy_list().unwrap().items();
    assert!(items.iter().any(|s| s.cache_policy().unwrap().id() == CACHING_OPTIMIZED));
    let custom = c.list_cache_policies().r#type(CachePolicyType::Custom).send().await.unwrap();
    assert_eq!(custom.cache_policy_list().unwrap().quantity(), 1);
    let e = c.delete_cache_policy().id(CACHING_OPTIMIZED).if_match("x").send().await;
    assert_eq!(code(e.unwrap_err()), "IllegalDelete");
    let e = c.get_cache_policy().id("nope").send().await;
    assert_eq!(code(e.unwrap_err()), "NoSuchCachePolicy");

    let etag = updated.e_tag().unwrap();
    c.delete_cache_policy().id(&id).if_match(etag).send().await.unwrap();
    assert_eq!(code(c.get_cache_policy().id(&id).send().await.unwrap_err()), "NoSuchCachePolicy");
}

#[tokio::test]
async fn origin_request_and_response_headers_policies() {
    let env = start().await;
    let c = &env.client;
    let orp = OriginRequestPolicyConfig::builder()
        .name("forward-lang")
        .headers_config(
            OriginRequestPolicyHeadersConfig::builder()
                .header_behavior(OriginRequestPolicyHeaderBehavior::Whitelist)
                .headers(Headers::builder().quantity(1).items("accept-language").build().unwrap())
                .build()
                .unwrap(),
        )
        .cookies_config(
            OriginRequestPolicyCookiesConfig::builder()
                .cookie_behavior(OriginRequestPolicyCookieBehavior::None)
                .build()
                .unwrap(),
        )
        .query_strings_config(
            OriginRequestPolicyQueryStringsConfig::builder()
                .query_string_behavior(OriginRequestPolicyQueryStringBehavior::All)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let created = c.create_origin_request_policy().origin_request_policy_config(orp).send().await.unwrap();
    let id = created.origin_request_policy().unwrap().id().to_owned();
    let got = c.get_origin_request_policy().id(&id).send().await.unwrap();
    let headers =
        got.origin_request_policy().unwrap().origin_request_policy_config().unwrap().headers_config().unwrap();
    assert_eq!(headers.headers().unwrap().items(), ["accept-language"]);
    let list = c.list_origin_request_policies().send().await.unwrap();
    assert!(
        list.origin_request_policy_list()
            .unwrap()
            .items()
            .iter()
            .any(|s| s.origin_request_policy().unwrap().id() == id)
    );
    c.delete_origin_request_policy().id(&id).if_match(created.e_tag().unwrap()).send().await.unwrap();

    let rhp = ResponseHeadersPolicyConfig::builder()
        .name("custom-header")
        .custom_headers_config(
            ResponseHeadersPolicyCustomHeadersConfig::builder()
                .quantity(1)
                .items(
                    ResponseHeadersPolicyCustomHeader::builder()
                        .header("x-served-by")
                        .value("cachalot")
                        .r#override(true)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let created = c.create_response_headers_policy().response_headers_policy_config(rhp).send().await.unwrap();
    let id = created.response_headers_policy().unwrap().id().to_owned();
    let cfg = c.get_response_headers_policy_config().id(&id).send().await.unwrap();
    assert_eq!(cfg.response_headers_policy_config().unwrap().name(), "custom-header");
    c.delete_response_headers_policy().id(&id).if_match(created.e_tag().unwrap()).send().await.unwrap();
    let e = c.get_response_headers_policy().id(&id).send().await;
    assert_eq!(code(e.unwrap_err()), "NoSuchResponseHeadersPolicy");
}

#[tokio::test]
async fn distributions_lifecycle_publish_and_errors() {
    let env = start().await;
    env.control.set_deploy_delay(Duration::from_millis(200));
    let c = &env.client;
    let policy = c.create_cache_policy().cache_policy_config(cache_policy_config("p", 1, 60)).send().await.unwrap();
    let policy_id = policy.cache_policy().unwrap().id().to_owned();

    let created = create_distribution(c, "ref-1", &policy_id, None).send().await.unwrap();
    let d = created.distribution().unwrap();
    let id = d.id().to_owned();
    assert!(
        id.starts_with('E') && id.len() == 14 && id[1..].bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    );
    assert!(d.domain_name().starts_with('d') && d.domain_name().ends_with(".cloudfront.net"));
    assert_eq!(d.status(), "InProgress");
    assert!(created.location().unwrap().ends_with(&id));
    // The edge has it at once.
    let snapshot = env.edge.latest().unwrap();
    assert!(snapshot.distribution(&id).is_some());
    assert!(env.control.snapshot().distribution(&id).is_some());
    // InProgress → Deployed.
    let status = poll_status("Deployed", Duration::from_millis(50), async || {
        c.get_distribution().id(&id).send().await.unwrap().distribution().unwrap().status().to_owned()
    })
    .await;
    assert_eq!(status, "Deployed");

    // CallerReference reuse.
    let e = create_distribution(c, "ref-1", &policy_id, None).send().await;
    assert_eq!(code(e.unwrap_err()), "DistributionAlreadyExists");
    // Quantity/Items mismatch.
    let mut bad = distribution_config("ref-2", &policy_id, None);
    bad.origins = Some(Origins::builder().quantity(2).set_items(Some(bad.origins.unwrap().items)).build().unwrap());
    let e = c.create_distribution().distribution_config(bad).send().await;
    assert_eq!(code(e.unwrap_err()), "InconsistentQuantities");
    // References are checked.
    let e = create_distribution(c, "ref-3", "no-such-policy", None).send().await;
    assert_eq!(code(e.unwrap_err()), "NoSuchCachePolicy");
    let e = c.delete_cache_policy().id(&policy_id).if_match(policy.e_tag().unwrap()).send().await;
    assert_eq!(code(e.unwrap_err()), "CachePolicyInUse");

    // Listings.
    let by_policy = c.list_distributions_by_cache_policy_id().cache_policy_id(&policy_id).send().await.unwrap();
    assert_eq!(by_policy.distribution_id_list().unwrap().items(), std::slice::from_ref(&id));
    let c2 = create_distribution(c, "ref-4", CACHING_OPTIMIZED, None).send().await.unwrap();
    let list = c.list_distributions().max_items(1).send().await.unwrap();
    let dl = list.distribution_list().unwrap();
    assert!(dl.is_truncated());
    let next = c.list_distributions().marker(dl.next_marker().unwrap()).send().await.unwrap();
    let mut all: Vec<String> = dl.items().iter().map(|s| s.id().to_owned()).collect();
    all.extend(next.distribution_list().unwrap().items().iter().map(|s| s.id().to_owned()));
    all.sort();
    let mut expected = vec![id.clone(), c2.distribution().unwrap().id().to_owned()];
    expected.sort();
    assert_eq!(all, expected);

    // Delete needs a disabled distribution and the current ETag.
    let cfg = c.get_distribution_config().id(&id).send().await.unwrap();
    let etag = cfg.e_tag().unwrap().to_owned();
    assert_eq!(
        code(c.delete_distribution().id(&id).if_match(&etag).send().await.unwrap_err()),
        "DistributionNotDisabled"
    );
    let mut disabled = cfg.distribution_config().unwrap().clone();
    disabled.enabled = false;
    let e = c.update_distribution().id(&id).if_match("ESTALE").distribution_config(disabled.clone()).send().await;
    assert_eq!(code(e.unwrap_err()), "PreconditionFailed");
    let updated = c.update_distribution().id(&id).if_match(&etag).distribution_config(disabled).send().await.unwrap();
    assert!(!env.edge.latest().unwrap().distribution(&id).unwrap().enabled);
    c.delete_distribution().id(&id).if_match(updated.e_tag().unwrap()).send().await.unwrap();
    assert_eq!(code(c.get_distribution().id(&id).send().await.unwrap_err()), "NoSuchDistribution");
    assert!(env.edge.latest().unwrap().distribution(&id).is_none());
}

#[tokio::test]
async fn invalidations_purge_complete_and_are_idempotent() {
    let env = start().await;
    let c = &env.client;
    let d = create_distribution(c, "inv", CACHING_OPTIMIZED, None).send().await.unwrap();
    let id = d.distribution().unwrap().id().to_owned();

    let inv = create_invalidation(c, &id, "r1", &["/a.jpg", "/images/*"]).send().await.unwrap();
    let inv_id = inv.invalidation().unwrap().id().to_owned();
    assert_eq!(inv.invalidation().unwrap().status(), "InProgress");
    assert!(inv.location().unwrap().ends_with(&inv_id));
    assert_eq!(env.edge.invalidations(), vec![(id.clone(), vec!["/a.jpg".to_owned(), "/images/*".to_owned()])]);
    let got = c.get_invalidation().distribution_id(&id).id(&inv_id).send().await.unwrap();
    assert_eq!(got.invalidation().unwrap().status(), "Completed");

    // Same CallerReference: same paths → the same invalidation; other paths → an error.
    let again = create_invalidation(c, &id, "r1", &["/a.jpg", "/images/*"]).send().await.unwrap();
    assert_eq!(again.invalidation().unwrap().id(), inv_id);
    let e = create_invalidation(c, &id, "r1", &["/b.jpg"]).send().await;
    assert_eq!(code(e.unwrap_err()), "InvalidationBatchAlreadyExists");

    let list = c.list_invalidations().distribution_id(&id).send().await.unwrap();
    assert_eq!(list.invalidation_list().unwrap().quantity(), 1);
    let e = c.get_invalidation().distribution_id(&id).id("INOPE").send().await;
    assert_eq!(code(e.unwrap_err()), "NoSuchInvalidation");
    let e = create_invalidation(c, "ENOPE", "x", &["/a"]).send().await;
    assert_eq!(code(e.unwrap_err()), "NoSuchDistribution");

    // Limits.
    let stars: Vec<String> = (0..16).map(|i| format!("/d{i}/*")).collect();
    let refs: Vec<&str> = stars.iter().map(String::as_str).collect();
    let e = create_invalidation(c, &id, "big", &refs).send().await;
    assert_eq!(code(e.unwrap_err()), "BatchTooLarge");
    env.edge.set_failing(true);
    let pending = create_invalidation(c, &id, "p1", &refs[..15]).send().await.unwrap();
    let pending_id = pending.invalidation().unwrap().id().to_owned();
    let e = create_invalidation(c, &id, "p2", &["/x*"]).send().await;
    assert_eq!(code(e.unwrap_err()), "TooManyInvalidationsInProgress");
    let d = c.get_distribution().id(&id).send().await.unwrap();
    assert_eq!(d.distribution().unwrap().in_progress_invalidation_batches(), 1);
    // Once the edge is back, the retry completes it.
    env.edge.set_failing(false);
    let status = poll_status("Completed", Duration::from_millis(100), async || {
        let got = c.get_invalidation().distribution_id(&id).id(&pending_id).send().await.unwrap();
        got.invalidation().unwrap().status().to_owned()
    })
    .await;
    assert_eq!(status, "Completed");
}

struct EchoTester;

impl FunctionTester for EchoTester {
    fn test(&self, request: &FunctionTestRequest) -> Result<FunctionTestResult, FunctionTestError> {
        if request.event_object.is_empty() {
            return Err(FunctionTestError::InvalidEvent("empty event".into()));
        }
        Ok(FunctionTestResult {
            compute_utilization: "12".into(),
            execution_logs: vec![format!("ran {}", request.name)],
            error_message: String::new(),
            output: String::from_utf8_lossy(&request.event_object).into_owned(),
        })
    }
}

#[tokio::test]
async fn functions_stages_publish_associate_and_test() {
    let env = start_with(Vec::new(), Some(Arc::new(EchoTester)), Resources::default()).await;
    let c = &env.client;
    let cfg = FunctionConfig::builder().comment("").runtime(FunctionRuntime::CloudfrontJs20).build().unwrap();
    let code_v1 = "function handler(event) { return event.request; }";
    let created = create_function(c, "rewrite", cfg.clone(), code_v1).send().await.unwrap();
    let arn = created.function_summary().unwrap().function_metadata().unwrap().function_arn().to_owned();
    let etag = created.e_tag().unwrap().to_owned();
    assert_eq!(
        code(create_function(c, "rewrite", cfg.clone(), code_v1).send().await.unwrap_err()),
        "FunctionAlreadyExists"
    );
    let big = "x".repeat(10 * 1024 + 1);
    let e = create_function(c, "big", cfg.clone(), &big).send().await;
    assert_eq!(code(e.unwrap_err()), "FunctionSizeLimitExceeded");

    // Only LIVE functions can be associated.
    let e = create_distribution(c, "f1", CACHING_OPTIMIZED, Some(&arn)).send().await;
    assert_eq!(code(e.unwrap_err()), "InvalidFunctionAssociation");

    let code_v2 = "function handler(event) { event.request.uri = '/v2'; return event.request; }";
    let updated = c
        .update_function()
        .name("rewrite")
        .if_match(&etag)
        .function_config(cfg.clone())
        .function_code(Blob::new(code_v2))
        .send()
        .await
        .unwrap();
    let etag = updated.e_tag().unwrap().to_owned();
    let described = c.describe_function().name("rewrite").send().await.unwrap();
    assert_eq!(described.e_tag(), Some(etag.as_str()));
    assert_eq!(described.function_summary().unwrap().status(), Some("UNPUBLISHED"));
    let e = c.describe_function().name("rewrite").stage(FunctionStage::Live).send().await;
    assert_eq!(code(e.unwrap_err()), "NoSuchFunctionExists");
    c.publish_function().name("rewrite").if_match(&etag).send().await.unwrap();
    let live = c.get_function().name("rewrite").stage(FunctionStage::Live).send().await.unwrap();
    assert_eq!(live.function_code().unwrap().as_ref(), code_v2.as_bytes());
    assert_eq!(env.edge.latest().unwrap().functions["rewrite"].code, code_v2);

    let d = create_distribution(c, "f2", CACHING_OPTIMIZED, Some(&arn)).send().await.unwrap();
    let did = d.distribution().unwrap().id().to_owned();
    let snapshot = env.edge.latest().unwrap();
    let behavior = snapshot.distribution(&did).unwrap().behaviors.last().unwrap().clone();
    assert_eq!(behavior.viewer_request_function.as_deref(), Some("rewrite"));
    let e = c.delete_function().name("rewrite").if_match(&etag).send().await;
    assert_eq!(code(e.unwrap_err()), "FunctionInUse");

    let listed = c.list_functions().stage(FunctionStage::Live).send().await.unwrap();
    assert_eq!(listed.function_list().unwrap().quantity(), 1);

    let event = br#"{"version":"1.0","context":{"eventType":"viewer-request"},"viewer":{"ip":"1.2.3.4"},"request":{"method":"GET","uri":"/","querystring":{},"headers":{},"cookies":{}}}"#;
    let tested = c
        .test_function()
        .name("rewrite")
        .if_match(&etag)
        .event_object(Blob::new(event.as_slice()))
        .send()
        .await
        .unwrap();
    let result = tested.test_result().unwrap();
    assert_eq!(result.compute_utilization(), Some("12"));
    assert_eq!(result.function_execution_logs(), ["ran rewrite"]);
    assert_eq!(result.function_output().map(str::as_bytes), Some(event.as_slice()));
}

#[tokio::test]
async fn test_function_without_a_runtime_is_unsupported() {
    let env = start().await;
    let c = &env.client;
    let cfg = FunctionConfig::builder().comment("").runtime(FunctionRuntime::CloudfrontJs10).build().unwrap();
    let created = create_function(c, "f", cfg, "function handler(e){return e.request}").send().await.unwrap();
    let e = c.test_function().name("f").if_match(created.e_tag().unwrap()).event_object(Blob::new("{}")).send().await;
    assert_eq!(code(e.unwrap_err()), "UnsupportedOperation");
}

#[tokio::test]
async fn key_value_stores_and_monitoring_subscriptions() {
    let env = start().await;
    let c = &env.client;
    let kvs = c.create_key_value_store().name("flags").comment("feature flags").send().await.unwrap();
    let store = kvs.key_value_store().unwrap();
    assert_eq!(store.status(), Some("READY"));
    let etag = kvs.e_tag().unwrap().to_owned();
    let described = c.describe_key_value_store().name("flags").send().await.unwrap();
    assert_eq!(described.key_value_store().unwrap().comment(), "feature flags");
    let updated = c.update_key_value_store().name("flags").comment("v2").if_match(&etag).send().await.unwrap();
    assert_eq!(c.list_key_value_stores().send().await.unwrap().key_value_store_list().unwrap().quantity(), 1);
    assert!(env.edge.latest().unwrap().key_value_stores.contains_key("flags"));
    assert_eq!(
        code(c.delete_key_value_store().name("flags").if_match(&etag).send().await.unwrap_err()),
        "PreconditionFailed"
    );
    c.delete_key_value_store().name("flags").if_match(updated.e_tag().unwrap()).send().await.unwrap();
    assert_eq!(code(c.describe_key_value_store().name("flags").send().await.unwrap_err()), "EntityNotFound");

    let d = create_distribution(c, "m", CACHING_OPTIMIZED, None).send().await.unwrap();
    let id = d.distribution().unwrap().id().to_owned();
    assert_eq!(
        code(c.get_monitoring_subscription().distribution_id(&id).send().await.unwrap_err()),
        "NoSuchMonitoringSubscription"
    );
    let sub = MonitoringSubscription::builder()
        .realtime_metrics_subscription_config(
            RealtimeMetricsSubscriptionConfig::builder()
                .realtime_metrics_subscription_status(RealtimeMetricsSubscriptionStatus::Enabled)
                .build()
                .unwrap(),
        )
        .build();
    c.create_monitoring_subscription().distribution_id(&id).monitoring_subscription(sub.clone()).send().await.unwrap();
    let e = c.create_monitoring_subscription().distribution_id(&id).monitoring_subscription(sub).send().await;
    assert_eq!(code(e.unwrap_err()), "MonitoringSubscriptionAlreadyExists");
    let got = c.get_monitoring_subscription().distribution_id(&id).send().await.unwrap();
    let status = got
        .monitoring_subscription()
        .unwrap()
        .realtime_metrics_subscription_config()
        .unwrap()
        .realtime_metrics_subscription_status();
    assert_eq!(status, &RealtimeMetricsSubscriptionStatus::Enabled);
    c.delete_monitoring_subscription().distribution_id(&id).send().await.unwrap();
    assert_eq!(
        code(c.get_monitoring_subscription().distribution_id(&id).send().await.unwrap_err()),
        "NoSuchMonitoringSubscription"
    );

    // Tags, and CreateDistributionWithTags.
    let tagged = c
        .create_distribution_with_tags()
        .distribution_config_with_tags(
            DistributionConfigWithTags::builder()
                .distribution_config(distribution_config("t", CACHING_OPTIMIZED, None))
                .tags(Tags::builder().items(Tag::builder().key("team").value("web").build().unwrap()).build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    let arn = tagged.distribution().unwrap().arn().to_owned();
    let tags = c.list_tags_for_resource().resource(&arn).send().await.unwrap();
    assert_eq!(tags.tags().unwrap().items()[0].key(), "team");
    c.untag_resource().resource(&arn).tag_keys(TagKeys::builder().items("team").build()).send().await.unwrap();
    assert!(c.list_tags_for_resource().resource(&arn).send().await.unwrap().tags().unwrap().items().is_empty());
}

#[tokio::test]
async fn unimplemented_operations_say_so() {
    let env = start().await;
    let e = env.client.list_field_level_encryption_configs().send().await;
    let err = e.unwrap_err();
    assert_eq!(code(err), "UnsupportedOperation");
    // Key groups are implemented: the SDK reads an empty list.
    let groups = env.client.list_key_groups().send().await.unwrap();
    assert_eq!(groups.key_group_list().map(|l| l.quantity()), Some(0));
}

#[tokio::test]
async fn sigv4_is_verified_when_access_keys_are_configured() {
    let key = AccessKey { access_key_id: "AKIDCACHALOT".into(), secret_access_key: "s3cret".into() };
    let env = start_with(vec![key], None, Resources::default()).await;
    assert!(!env.control.is_open());
    let good = client(&env.url, "AKIDCACHALOT", "s3cret");
    good.list_distributions().send().await.unwrap();
    let created =
        good.create_cache_policy().cache_policy_config(cache_policy_config("signed", 1, 60)).send().await.unwrap();
    assert!(created.cache_policy().is_some());
    let wrong_secret = client(&env.url, "AKIDCACHALOT", "wrong");
    assert_eq!(code(wrong_secret.list_distributions().send().await.unwrap_err()), "SignatureDoesNotMatch");
    let unknown = client(&env.url, "AKIDOTHER", "s3cret");
    assert_eq!(code(unknown.list_distributions().send().await.unwrap_err()), "InvalidClientTokenId");
}

/// An account holds at most 500 distributions; the next CreateDistribution is refused with
/// `TooManyDistributions` (<https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cloudfront-limits.html>).
#[tokio::test]
async fn the_distributions_quota_is_enforced() {
    let distributions: Vec<String> = (0..500)
        .map(|i| {
            format!(
                r#"{{"Id": "EQUOTA{i:08}", "DomainName": "dquota{i:08}.cloudfront.net", "DistributionConfig": {{
                    "CallerReference": "quota-{i}", "Comment": "", "Enabled": true,
                    "Origins": {{"Quantity": 1, "Items": [{{"Id": "o", "DomainName": "example.com",
                        "CustomOriginConfig": {{"HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": "http-only"}}}}]}},
                    "DefaultCacheBehavior": {{"TargetOriginId": "o", "ViewerProtocolPolicy": "allow-all",
                        "CachePolicyId": "{CACHING_OPTIMIZED}"}}}}}}"#
            )
        })
        .collect();
    let (file, diags) = cachalot_config::file::parse(&format!(r#"{{"Distributions": [{}]}}"#, distributions.join(",")));
    assert!(!diags.has_errors(), "{:?}", diags.items());
    let env =
        start_with(Vec::new(), None, Resources { distributions: file.distributions, ..Resources::default() }).await;
    let e = create_distribution(&env.client, "one-too-many", CACHING_OPTIMIZED, None).send().await;
    assert_eq!(code(e.unwrap_err()), "TooManyDistributions");
    let listed = env.client.list_distributions().max_items(1000).send().await.unwrap();
    assert_eq!(listed.distribution_list().unwrap().quantity(), 500);
}

#[tokio::test]
async fn functions_that_cannot_run_are_refused() {
    let env = start().await;
    let c = &env.client;
    let cfg = |runtime| FunctionConfig::builder().comment("").runtime(runtime).build().unwrap();
    let create = |name: &str, runtime, code: &str| create_function(c, name, cfg(runtime), code).send();
    for (runtime, code, expected) in [
        (FunctionRuntime::CloudfrontJs20, "function handler(event) {\n  var = 1;\n}", "(function.js:2:"),
        (FunctionRuntime::CloudfrontJs10, "async function handler(event) { return event.request; }", "`async`"),
        (FunctionRuntime::CloudfrontJs20, "import fs from 'fs';\nfunction handler(e) { return e.request; }", "'fs'"),
    ] {
        let e = create("bad", runtime, code).await.unwrap_err();
        let message = e.message().unwrap_or_default().to_owned();
        assert_eq!(self::code(e), "InvalidArgument");
        assert!(message.contains(expected), "{message}");
    }
    // AWS's own shape of function with module imports is accepted, and a later update is checked too.
    let ok =
        "import crypto from 'crypto';\nimport cf from 'cloudfront';\nasync function handler(e) { return e.request; }";
    let created = create("ok", FunctionRuntime::CloudfrontJs20, ok).await.unwrap();
    let e = c
        .update_function()
        .name("ok")
        .if_match(created.e_tag().unwrap())
        .function_config(cfg(FunctionRuntime::CloudfrontJs10))
        .function_code(Blob::new(ok))
        .send()
        .await
        .unwrap_err();
    assert_eq!(self::code(e), "InvalidArgument");
}
