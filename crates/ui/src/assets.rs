//! The script and stylesheet, compiled into the binary and served from `/assets/` with a year's
//! cache: their URLs carry a hash of their content, so a new build is fetched at once.

use std::hash::{Hash as _, Hasher as _};
use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");

/// A hash of both files, as the assets' cache key.
static VERSION: LazyLock<String> = LazyLock::new(|| {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (APP_JS, APP_CSS).hash(&mut hasher);
    format!("{:016x}", hasher.finish())
});

/// The script's URL.
pub(crate) fn js_path() -> String {
    format!("/assets/app.js?v={}", *VERSION)
}

/// The stylesheet's URL.
pub(crate) fn css_path() -> String {
    format!("/assets/app.css?v={}", *VERSION)
}

/// GET /assets/{file}.
pub(crate) async fn serve(Path(file): Path<String>) -> Response {
    let (body, content_type) = match file.as_str() {
        "app.js" => (APP_JS, "text/javascript; charset=utf-8"),
        "app.css" => (APP_CSS, "text/css; charset=utf-8"),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "public, max-age=31536000, immutable")], body)
        .into_response()
}
