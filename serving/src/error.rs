//! The API's one error type and its JSON shape.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// Every error a route can return. User mistakes carry their message to the client;
/// internal failures are logged and answered with a generic body.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed or invalid (400).
    #[error("{message}")]
    BadRequest {
        /// What is wrong.
        message: String,
        /// Field-level details, if any.
        details: Option<Value>,
    },
    /// Nothing at that path or id (404).
    #[error("{0}")]
    NotFound(String),
    /// An internal failure (500). The cause is logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::BadRequest { .. } => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.parts();
        let (message, details) = match &self {
            ApiError::Internal(cause) => {
                tracing::error!(%cause, "internal error");
                ("something went wrong on our side".to_string(), None)
            }
            ApiError::BadRequest { message, details } => (message.clone(), details.clone()),
            other => (other.to_string(), None),
        };
        let body = json!({ "error": { "code": code, "message": message, "details": details } });
        (status, Json(body)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use http_body_util::BodyExt;

    #[tokio::test]
    async fn internal_errors_hide_their_cause() {
        let response = ApiError::Internal("db password wrong at 10.0.0.1".into()).into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert!(!text.contains("10.0.0.1"));
        assert!(text.contains("\"code\":\"internal\""));
    }
}
