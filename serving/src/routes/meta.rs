//! Operational routes: `/healthz`, `/readyz`, `/metrics`, `/openapi.json` and the `/docs`
//! page (static files compiled into the binary; no assets are fetched from anywhere).

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::ApiError;
use crate::error::ErrorBody;
use crate::state::AppState;

/// Liveness or readiness.
#[derive(Debug, Serialize, ToSchema)]
pub struct Status {
    /// `ok` or `ready`.
    pub status: String,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "meta",
    responses((status = 200, description = "Up", body = Status)))]
pub async fn healthz() -> Json<Status> {
    Json(Status {
        status: "ok".into(),
    })
}

/// The process and its database answer.
#[utoipa::path(get, path = "/readyz", tag = "meta",
    responses(
        (status = 200, description = "Ready", body = Status),
        (status = 503, description = "The database does not answer", body = ErrorBody),
    ))]
pub async fn readyz(State(state): State<AppState>) -> Response {
    if state.database.ping().await {
        Json(Status {
            status: "ready".into(),
        })
        .into_response()
    } else {
        let body = serde_json::json!({ "error": {
            "code": "not_ready", "message": "the database does not answer", "details": null
        }});
        (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
    }
}

/// Request counters and latency histograms (Prometheus text format).
#[utoipa::path(get, path = "/metrics", tag = "meta",
    responses((status = 200, description = "Prometheus text exposition format 0.0.4", body = String, content_type = "text/plain")))]
pub async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

/// This API's OpenAPI 3.1 document.
#[utoipa::path(get, path = "/openapi.json", tag = "meta",
    responses((status = 200, description = "OpenAPI 3.1 document", body = Object)))]
pub async fn openapi_json() -> Result<Response, ApiError> {
    let text = crate::routes::openapi_json().map_err(ApiError::internal)?;
    Ok(([(header::CONTENT_TYPE, "application/json")], text).into_response())
}

/// Human-readable documentation generated from `/openapi.json`.
#[utoipa::path(get, path = "/docs", tag = "meta",
    responses((status = 200, description = "HTML page", body = String, content_type = "text/html")))]
pub async fn docs() -> Response {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        include_str!("../../static/docs.html"),
    )
        .into_response()
}

/// Script of the docs page.
#[utoipa::path(get, path = "/docs/app.js", tag = "meta",
    responses((status = 200, description = "JavaScript", body = String, content_type = "text/javascript")))]
pub async fn docs_script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("../../static/docs.js"),
    )
        .into_response()
}

/// Style sheet of the docs page.
#[utoipa::path(get, path = "/docs/app.css", tag = "meta",
    responses((status = 200, description = "CSS", body = String, content_type = "text/css")))]
pub async fn docs_style() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("../../static/docs.css"),
    )
        .into_response()
}
