//! `GET /api/history/class-N.gz`: a class's history file as stored (gzip, which the app
//! decompresses itself), with `ETag`, `Last-Modified` and `304` on `If-None-Match`.

use alleycat_ingest::objects;
use axum::{
    extract::{Path, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Router,
};

use super::error::ApiError;
use crate::AppState;

/// The history route.
pub fn routes() -> Router<AppState> {
    Router::new().route("/history/{file}", get(history))
}

fn class_of(file: &str) -> Option<u8> {
    let id: i64 = file.strip_prefix("class-")?.strip_suffix(".gz")?.parse().ok()?;
    alleycat_domain::Class::checked_id(id)
}

async fn history(
    State(state): State<AppState>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let class = class_of(&file).ok_or_else(|| {
        ApiError::NotFound(format!(
            "There is no history file {file:?}; they are class-1.gz to class-6.gz."
        ))
    })?;
    let Some(history) = objects::history_file(state.store().as_ref(), class).await? else {
        return Err(ApiError::NotFound(format!(
            "Class {class} has no history yet: nobody has finished a race in it."
        )));
    };
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == history.etag || tag.trim() == "*"));
    let mut response = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, "application/gzip")], history.bytes).into_response()
    };
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(v) = HeaderValue::from_str(&history.etag) {
        h.insert(header::ETAG, v);
    }
    let modified = chrono::DateTime::from_timestamp_millis(history.last_modified_ms)
        .map(|t| t.format("%a, %d %b %Y %H:%M:%S GMT").to_string());
    if let Some(v) = modified.and_then(|m| HeaderValue::from_str(&m).ok()) {
        h.insert(header::LAST_MODIFIED, v);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_the_six_class_files_are_history_files() {
        assert_eq!(super::class_of("class-3.gz"), Some(3));
        for bad in ["class-0.gz", "class-7.gz", "class-3", "../class-3.gz", "class-x.gz"] {
            assert_eq!(super::class_of(bad), None, "{bad}");
        }
    }
}
