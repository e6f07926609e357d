//! Headers every response carries, and the checks on every form a browser posts.

use axum::body::Body;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::header::{self, HeaderValue};
use http::{Method, StatusCode};

/// The Content-Security-Policy: our own scripts and styles only, never inline, no
/// framing, forms posting only here.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

/// Sets the security headers on every response, and refuses a cross-site form before any
/// handler runs.
pub async fn guard(request: Request, next: Next) -> Response {
    if request.method() != Method::GET
        && request.method() != Method::HEAD
        && is_cross_site(&request)
    {
        tracing::info!(method = %request.method(), "refused a cross-site form");
        return (StatusCode::FORBIDDEN, "跨站请求已被拒绝。").into_response();
    }
    let is_asset = request.uri().path().starts_with("/assets/");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in [
        ("content-security-policy", CONTENT_SECURITY_POLICY),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        // Links carry no personal data; other sites get no referrer at all.
        ("referrer-policy", "same-origin"),
        ("cross-origin-opener-policy", "same-origin"),
        (
            "permissions-policy",
            "camera=(), microphone=(), geolocation=()",
        ),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if !is_asset {
        // Pages hold personal data: never kept by the browser or a proxy.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// Whether a browser says the request came from another site. `Sec-Fetch-Site` decides
/// when the browser sends it (every current one does): only `same-origin` and `none` (typed
/// by the person) pass. Without it, an `Origin` must name this request's `Host`; a `null`
/// origin (a sandboxed frame, a `data:` page) is refused.
fn is_cross_site(request: &Request<Body>) -> bool {
    let headers = request.headers();
    if let Some(site) = headers.get("sec-fetch-site") {
        return !matches!(site.to_str(), Ok("same-origin" | "none"));
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| request.uri().authority().map(http::uri::Authority::as_str));
    let origin_host = origin.split_once("://").map(|(_, rest)| rest);
    origin == "null" || host.is_none() || origin_host != host
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(headers: &[(&str, &str)], cross: bool) {
        let mut request = Request::builder().method(Method::POST).uri("/signin");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(Body::empty()).expect("request");
        assert_eq!(is_cross_site(&request), cross, "{headers:?}");
    }

    #[test]
    fn cross_site_forms_are_recognised() {
        check(&[("host", "127.0.0.1:50051")], false);
        check(&[("host", "a:1"), ("origin", "http://a:1")], false);
        check(&[("host", "a:1"), ("origin", "http://evil:1")], true);
        check(&[("host", "a:1"), ("origin", "null")], true);
        check(&[("sec-fetch-site", "cross-site")], true);
        check(&[("sec-fetch-site", "same-site")], true);
        check(
            &[
                ("sec-fetch-site", "same-origin"),
                ("host", "a:1"),
                ("origin", "http://a:1"),
            ],
            false,
        );
    }
}
