//! The use cases AWS documents for CloudFront Functions, run through the API on both runtimes.

mod common;

use cachalot_functions::{Body, OriginOverride, Request, Runtime, ViewerRequestOutcome};
use common::{BOTH, compile, compile_with, request, response_event, store};

fn continued(outcome: ViewerRequestOutcome) -> (Request, Option<OriginOverride>) {
    match outcome {
        ViewerRequestOutcome::Continue { request, origin } => (request, origin),
        ViewerRequestOutcome::Respond(r) => {
            panic!("expected the request to continue, got a {} response", r.status_code)
        }
    }
}

#[test]
fn accept_is_normalised_to_three_values() {
    for runtime in BOTH {
        let f = compile("normalize-accept.js", runtime);
        let accept = |value: &str| {
            let event = request("GET", "/cat.jpg", &[("accept", value)]);
            let (req, _) = continued(f.viewer_request(&event).unwrap().outcome);
            req.headers.get("accept").unwrap().to_owned()
        };
        // Chrome and Firefox send different lists that must land on the same cache entry.
        assert_eq!(accept("image/avif,image/webp,image/apng,*/*;q=0.8"), "image/avif");
        assert_eq!(accept("image/avif,image/webp,*/*"), "image/avif");
        assert_eq!(accept("image/webp,*/*"), "image/webp");
        assert_eq!(accept("image/avif;q=0,image/webp"), "image/webp");
        assert_eq!(accept("*/*"), "image/jpeg");
        let event = request("GET", "/cat.jpg", &[]);
        let (req, _) = continued(f.viewer_request(&event).unwrap().outcome);
        assert_eq!(req.headers.get("accept"), Some("image/jpeg"), "{runtime}");
    }
}

#[test]
fn query_strings_are_sorted_and_filtered() {
    for runtime in BOTH {
        let f = compile("sort-query-strings.js", runtime);
        let event = request("GET", "/search?q=fish&b=2&utm_source=mail&a=1&b=1&gclid=xyz", &[]);
        let (req, _) = continued(f.viewer_request(&event).unwrap().outcome);
        assert_eq!(req.query_string(), "a=1&b=1&b=2&q=fish", "{runtime}");
        assert_eq!(req.target(), "/search?a=1&b=1&b=2&q=fish");
        // The same parameters in another order give the same request.
        let other = request("GET", "/search?b=1&a=1&q=fish&b=2", &[]);
        let (req2, _) = continued(f.viewer_request(&other).unwrap().outcome);
        assert_eq!(req2.target(), req.target());
    }
}

#[test]
fn security_headers_are_added_to_responses() {
    for runtime in BOTH {
        let f = compile("security-headers.js", runtime);
        let event = response_event("/", 200, &[("content-type", "text/html"), ("Set-Cookie", "id=1; Secure")]);
        let inv = f.viewer_response(&event).unwrap();
        let r = inv.outcome;
        assert_eq!(r.status_code, 200);
        assert_eq!(r.headers.get("x-frame-options"), Some("DENY"), "{runtime}");
        assert!(r.headers.get("strict-transport-security").unwrap().starts_with("max-age="));
        assert_eq!(r.headers.get("content-type"), Some("text/html"));
        assert_eq!(r.cookies.to_set_cookie_headers(), ["id=1; Secure"]);
        assert!(r.body.is_none(), "the original body is kept");
        assert!(inv.compute_utilization <= 100);
    }
}

#[test]
fn viewers_are_redirected_by_country() {
    for runtime in BOTH {
        let f = compile("redirect-by-country.js", runtime);
        let event = request("GET", "/shop", &[("cloudfront-viewer-country", "DE")]);
        match f.viewer_request(&event).unwrap().outcome {
            ViewerRequestOutcome::Respond(r) => {
                assert_eq!(r.status_code, 302);
                assert_eq!(r.status_description.as_deref(), Some("Found"));
                assert_eq!(r.headers.get("location"), Some("https://www.example.de/shop"), "{runtime}");
            }
            other => panic!("expected a redirect, got {other:?}"),
        }
        let event = request("GET", "/shop", &[("cloudfront-viewer-country", "FR")]);
        let (req, _) = continued(f.viewer_request(&event).unwrap().outcome);
        assert_eq!(req.uri, "/shop");
    }
}

#[test]
fn single_page_app_urls_are_rewritten() {
    for runtime in BOTH {
        let f = compile("spa-rewrite.js", runtime);
        for (target, expected) in [
            ("/", "/index.html"),
            ("/docs/", "/docs/index.html"),
            ("/account/settings", "/index.html"),
            ("/assets/app.3f2a.js", "/assets/app.3f2a.js"),
        ] {
            let (req, _) = continued(f.viewer_request(&request("GET", target, &[])).unwrap().outcome);
            assert_eq!(req.uri, expected, "{runtime} {target}");
        }
    }
}

#[test]
fn the_viewer_ip_is_passed_on() {
    for runtime in BOTH {
        let f = compile("true-client-ip.js", runtime);
        let (req, _) = continued(f.viewer_request(&request("GET", "/", &[])).unwrap().outcome);
        assert_eq!(req.headers.get("true-client-ip"), Some("198.51.100.7"), "{runtime}");
    }
}

#[test]
fn key_value_store_entries_drive_redirects() {
    let kvs = store("redirects", &[("/old-page", "https://www.example.com/new-page")]);
    let f = compile_with("kvs-redirect.js", Runtime::Js2, vec![kvs]);
    let inv = f.viewer_request(&request("GET", "/old-page", &[])).unwrap();
    match inv.outcome {
        ViewerRequestOutcome::Respond(r) => {
            assert_eq!(r.status_code, 301);
            assert_eq!(r.headers.get("location"), Some("https://www.example.com/new-page"));
        }
        other => panic!("expected a redirect, got {other:?}"),
    }
    assert_eq!(inv.logs, ["redirecting /old-page to https://www.example.com/new-page"]);
    // A missing key makes get() throw; the function catches it and passes the request on.
    let (req, _) = continued(f.viewer_request(&request("GET", "/other", &[])).unwrap().outcome);
    assert_eq!(req.uri, "/other");
}

#[test]
fn signed_urls_are_checked_with_hmac() {
    // HMAC-SHA256("change-me", "/private/a.pdf:4102444800"), computed independently.
    let token = "600ea89eeec2107244386c23c9e316456794aedae5f10c04cfa7c5a9cc84429a";
    for runtime in BOTH {
        let f = compile("signed-url.js", runtime);
        let valid = request("GET", &format!("/private/a.pdf?expires=4102444800&token={token}&v=1"), &[]);
        let (req, _) = continued(f.viewer_request(&valid).unwrap().outcome);
        assert_eq!(req.target(), "/private/a.pdf?v=1", "{runtime}");
        let forged = request("GET", "/private/a.pdf?expires=4102444800&token=00", &[]);
        match f.viewer_request(&forged).unwrap().outcome {
            ViewerRequestOutcome::Respond(r) => {
                assert_eq!(r.status_code, 403);
                assert_eq!(r.body, Some(Body::Text("invalid or expired token".into())));
            }
            other => panic!("expected 403, got {other:?}"),
        }
        let (req, _) = continued(f.viewer_request(&request("GET", "/public/a.pdf", &[])).unwrap().outcome);
        assert_eq!(req.uri, "/public/a.pdf", "{runtime}");
    }
}

#[test]
fn origin_helpers_return_their_effect_as_data() {
    let f = compile("origin-by-path.js", Runtime::Js2);
    let (_, origin) = continued(f.viewer_request(&request("GET", "/api/users", &[])).unwrap().outcome);
    assert_eq!(origin.unwrap().selected_origin_id.as_deref(), Some("api"));
    let (_, origin) = continued(f.viewer_request(&request("GET", "/media/a.png", &[])).unwrap().outcome);
    let update = origin.unwrap().update.unwrap();
    assert_eq!(update.domain_name.as_deref(), Some("media-bucket.s3.us-east-1.amazonaws.com"));
    assert_eq!(update.origin_access_control_config.unwrap().origin_type.as_deref(), Some("s3"));
    assert_eq!(update.timeouts.unwrap().read_timeout, Some(30));
    assert_eq!(update.custom_headers, Some(Default::default()));
    // Nothing requested, nothing returned — and nothing carried over from the previous request.
    let (_, origin) = continued(f.viewer_request(&request("GET", "/index.html", &[])).unwrap().outcome);
    assert!(origin.is_none());
}

/// An HS256 token for `claims`, signed with `secret` (written here, independently of the engine).
fn jwt(claims: &str, secret: &str) -> String {
    use base64::Engine as _;
    use hmac::Mac as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let signed = format!("{}.{}", b64.encode(r#"{"alg":"HS256","typ":"JWT"}"#), b64.encode(claims));
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(signed.as_bytes());
    format!("{signed}.{}", b64.encode(mac.finalize().into_bytes()))
}

#[test]
fn tokens_are_verified_with_imported_crypto_and_a_key_value_store_secret() {
    // `import crypto from 'crypto'` with `import cf from 'cloudfront'`, as AWS's kvs-jwt-verify
    // example does (its README shows it running under cloudfront-js-2.0).
    let kvs = store("secrets", &[("jwt.secret", "s3cret")]);
    let f = compile_with("jwt-verify.js", Runtime::Js2, vec![kvs]);
    let valid = jwt(r#"{"sub":"1234","exp":4102444800}"#, "s3cret");
    let (req, _) =
        continued(f.viewer_request(&request("GET", &format!("/video.mp4?jwt={valid}&q=1"), &[])).unwrap().outcome);
    assert_eq!(req.target(), "/video.mp4?q=1", "the token is removed");

    let refused = |target: String, log: &str| {
        let inv = f.viewer_request(&request("GET", &target, &[])).unwrap();
        match inv.outcome {
            ViewerRequestOutcome::Respond(r) => assert_eq!(r.status_code, 401, "{target}"),
            other => panic!("{target}: expected 401, got {other:?}"),
        }
        assert_eq!(inv.logs.join(""), log, "{target}");
    };
    refused(format!("/video.mp4?jwt={}", jwt(r#"{"sub":"1234"}"#, "wrong")), "rejected: bad signature");
    refused(format!("/video.mp4?jwt={}", jwt(r#"{"exp":1000}"#, "s3cret")), "rejected: expired");
    refused("/video.mp4?jwt=a.b".into(), "rejected: the token has 2 parts");
    refused("/video.mp4".into(), "");
}
