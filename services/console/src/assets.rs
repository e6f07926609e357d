//! The console's own stylesheet and the vendored htmx, compiled into the binary.

use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};

/// Each asset's path under `/assets/`, its content type and its bytes. Names carry a
/// version, so a browser may keep them for a day.
const ASSETS: [(&str, &str, &[u8]); 4] = [
    (
        "console.css",
        "text/css; charset=utf-8",
        include_bytes!("../assets/console.css"),
    ),
    (
        "console.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/console.js"),
    ),
    (
        "vendor/htmx-2.0.11.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/vendor/htmx-2.0.11.min.js"),
    ),
    (
        "vendor/htmx-LICENSE.txt",
        "text/plain; charset=utf-8",
        include_bytes!("../assets/vendor/htmx-LICENSE.txt"),
    ),
];

/// `GET /assets/{*path}`.
pub async fn serve(Path(path): Path<String>) -> Response {
    let Some((_, content_type, bytes)) = ASSETS.iter().find(|(name, _, _)| *name == path) else {
        return (StatusCode::NOT_FOUND, "未找到").into_response();
    };
    (
        [
            (CONTENT_TYPE, *content_type),
            (CACHE_CONTROL, "public, max-age=86400"),
        ],
        *bytes,
    )
        .into_response()
}
