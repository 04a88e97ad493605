//! Response headers policies: CORS, security headers, custom and removed headers.

use cachalot_config::model::ResponseHeadersSettings;
use http::{HeaderMap, HeaderName, HeaderValue, Method};

const ALL_METHODS: &str = "GET, HEAD, OPTIONS, PUT, PATCH, POST, DELETE";

fn set(response: &mut HeaderMap, name: &str, value: &str, override_origin: bool) {
    let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value)) else { return };
    if override_origin || !response.contains_key(&n) {
        response.insert(n, v);
    }
}

/// Applies `policy` to a viewer response. `request` is the viewer's request headers.
pub fn apply(policy: &ResponseHeadersSettings, method: &Method, request: &HeaderMap, response: &mut HeaderMap) {
    for name in &policy.remove {
        response.remove(name.as_str());
    }
    if let Some(cors) = &policy.cors
        && let Some(origin) = request.get(http::header::ORIGIN).and_then(|v| v.to_str().ok())
    {
        let any = cors.allow_origins.iter().any(|o| o == "*");
        let allowed = any || cors.allow_origins.iter().any(|o| o.eq_ignore_ascii_case(origin));
        if allowed {
            let o = cors.origin_override;
            let value = if any && !cors.allow_credentials { "*" } else { origin };
            set(response, "access-control-allow-origin", value, o);
            if value != "*" {
                response.append(http::header::VARY, HeaderValue::from_static("Origin"));
            }
            if cors.allow_credentials {
                set(response, "access-control-allow-credentials", "true", o);
            }
            if !cors.expose_headers.is_empty() {
                set(response, "access-control-expose-headers", &cors.expose_headers.join(", "), o);
            }
            if *method == Method::OPTIONS && request.contains_key(http::header::ACCESS_CONTROL_REQUEST_METHOD) {
                let methods = if cors.allow_methods.iter().any(|m| m == "ALL") {
                    ALL_METHODS.to_owned()
                } else {
                    cors.allow_methods.join(", ")
                };
                set(response, "access-control-allow-methods", &methods, o);
                if !cors.allow_headers.is_empty() {
                    set(response, "access-control-allow-headers", &cors.allow_headers.join(", "), o);
                }
                if let Some(age) = cors.max_age_secs {
                    set(response, "access-control-max-age", &age.to_string(), o);
                }
            }
        }
    }
    for (name, value, override_origin) in &policy.set {
        set(response, name, value, *override_origin);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cachalot_config::model::CorsSettings;

    #[test]
    fn security_custom_remove_and_cors() {
        let policy = ResponseHeadersSettings {
            id: "p".into(),
            set: vec![
                ("X-Frame-Options".into(), "DENY".into(), false),
                ("Strict-Transport-Security".into(), "max-age=100".into(), true),
            ],
            remove: vec!["server".into()],
            cors: Some(CorsSettings {
                allow_origins: vec!["https://a.example".into()],
                allow_methods: vec!["GET".into(), "POST".into()],
                allow_headers: vec!["x-h".into()],
                max_age_secs: Some(600),
                ..Default::default()
            }),
            server_timing_sampling: None,
        };
        let mut req = HeaderMap::new();
        req.insert("origin", HeaderValue::from_static("https://a.example"));
        req.insert("access-control-request-method", HeaderValue::from_static("POST"));
        let mut resp = HeaderMap::new();
        resp.insert("x-frame-options", HeaderValue::from_static("SAMEORIGIN"));
        resp.insert("strict-transport-security", HeaderValue::from_static("max-age=1"));
        resp.insert("server", HeaderValue::from_static("nginx"));
        apply(&policy, &Method::OPTIONS, &req, &mut resp);
        assert_eq!(resp["x-frame-options"], "SAMEORIGIN", "not overridden");
        assert_eq!(resp["strict-transport-security"], "max-age=100", "overridden");
        assert!(!resp.contains_key("server"));
        assert_eq!(resp["access-control-allow-origin"], "https://a.example");
        assert_eq!(resp["access-control-allow-methods"], "GET, POST");
        assert_eq!(resp["access-control-max-age"], "600");
        let mut other = HeaderMap::new();
        other.insert("origin", HeaderValue::from_static("https://evil.example"));
        let mut resp2 = HeaderMap::new();
        apply(&policy, &Method::GET, &other, &mut resp2);
        assert!(!resp2.contains_key("access-control-allow-origin"));
    }
}
