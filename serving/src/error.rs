//! The API's one error type and its JSON shape.
//!
//! Every failure a client can see is an [`ApiError`] rendered as
//! `{"error": {"code", "message", "details"}}`. The variants split the caller's mistakes
//! (bad input, missing credentials, wrong role, too many requests), whose messages are safe to
//! show and say what to fix, from internal failures ([`ApiError::Internal`]), whose cause is
//! logged and replaced by a generic message: no SQL, file path or stack trace ever reaches a
//! response body.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

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
    /// No valid credentials, or credentials that do not match (401). `code` tells the
    /// client why (`unauthorized`, `invalid_credentials`, `mfa_required`, …).
    #[error("{message}")]
    Unauthorized {
        /// Machine-readable reason.
        code: &'static str,
        /// Human-readable reason.
        message: String,
    },
    /// Authenticated but not allowed (403): wrong role, unverified email, API key on a
    /// user-only route.
    #[error("{message}")]
    Forbidden {
        /// Machine-readable reason.
        code: &'static str,
        /// Human-readable reason.
        message: String,
    },
    /// Nothing at that path or id, or an object of another tenant (404).
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with the current state (409), e.g. an email already registered.
    #[error("{0}")]
    Conflict(String),
    /// The body is larger than the route accepts (413).
    #[error("{0}")]
    PayloadTooLarge(String),
    /// The body is not of a media type the route accepts (415).
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// Well-formed but semantically unusable input, such as a CSV file that cannot be read
    /// (422).
    #[error("{message}")]
    Unprocessable {
        /// What is wrong and how to fix it.
        message: String,
        /// Details, if any.
        details: Option<Value>,
    },
    /// The request took longer than the route allows (408).
    #[error("{0}")]
    RequestTimeout(String),
    /// Too many requests (429); the client may retry after `retry_after_seconds`.
    #[error("{message}")]
    TooManyRequests {
        /// What was limited.
        message: String,
        /// Seconds until a retry can succeed.
        retry_after_seconds: u64,
    },
    /// An internal failure (500). The cause is logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
}

/// The JSON body of every error response (documentation of the shape for OpenAPI).
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// The inside of [`ErrorBody`].
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Machine-readable code, e.g. `bad_request`, `unauthorized`, `forbidden`.
    pub code: String,
    /// Human-readable message saying what went wrong and how to fix it.
    pub message: String,
    /// Extra structured information, or null.
    #[schema(value_type = Object, nullable)]
    pub details: Option<Value>,
}

impl ApiError {
    /// A 400 with a message and no details.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            message: message.into(),
            details: None,
        }
    }

    /// A 401 with the generic `unauthorized` code.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        ApiError::Unauthorized {
            code: "unauthorized",
            message: message.into(),
        }
    }

    /// A 403 with the generic `forbidden` code.
    pub fn forbidden(message: impl Into<String>) -> Self {
        ApiError::Forbidden {
            code: "forbidden",
            message: message.into(),
        }
    }

    /// An internal failure from any displayable cause.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        ApiError::Internal(cause.to_string())
    }

    /// The HTTP status and the machine-readable code.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::BadRequest { .. } => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::Unauthorized { code, .. } => (StatusCode::UNAUTHORIZED, code),
            ApiError::Forbidden { code, .. } => (StatusCode::FORBIDDEN, code),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            ApiError::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            ApiError::Unprocessable { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "unprocessable"),
            ApiError::RequestTimeout(_) => (StatusCode::REQUEST_TIMEOUT, "request_timeout"),
            ApiError::TooManyRequests { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        ApiError::Internal(format!("database: {error}"))
    }
}

impl From<crate::crypto::CryptoError> for ApiError {
    fn from(error: crate::crypto::CryptoError) -> Self {
        ApiError::Internal(error.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let (message, details) = match &self {
            ApiError::Internal(cause) => {
                tracing::error!(%cause, "internal error");
                ("something went wrong on our side".to_string(), None)
            }
            ApiError::BadRequest { message, details }
            | ApiError::Unprocessable { message, details } => (message.clone(), details.clone()),
            other => (other.to_string(), None),
        };
        let body = json!({ "error": { "code": code, "message": message, "details": details } });
        let mut response = (status, Json(body)).into_response();
        if let ApiError::TooManyRequests {
            retry_after_seconds,
            ..
        } = self
        {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(retry_after_seconds.max(1)),
            );
        }
        response
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

    #[tokio::test]
    async fn rate_limits_carry_retry_after() {
        let response = ApiError::TooManyRequests {
            message: "slow down".into(),
            retry_after_seconds: 7,
        }
        .into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "7");
    }
}
