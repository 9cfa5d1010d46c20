//! Request extractors that answer bad input in the API's one error shape, and the input
//! validation shared by the routes.
//!
//! axum's own `Json`, `Query` and `Path` reject with plain-text bodies; these wrappers turn
//! every rejection into an [`ApiError`]: wrong media type 415, body over the limit 413,
//! malformed JSON or unknown/missing fields 400. They also refuse NUL characters in any
//! string, which PostgreSQL cannot store and no legitimate client sends, so hostile input is
//! a 400 rather than a database error.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::ApiError;

/// A JSON body of type `T`.
pub struct ApiJson<T>(pub T);

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media_type| {
            let media_type = media_type.trim().to_ascii_lowercase();
            media_type == "application/json"
                || (media_type.starts_with("application/") && media_type.ends_with("+json"))
        })
}

fn contains_nul(value: &Value) -> bool {
    match value {
        Value::String(text) => text.contains('\0'),
        Value::Array(items) => items.iter().any(contains_nul),
        Value::Object(map) => map
            .iter()
            .any(|(key, item)| key.contains('\0') || contains_nul(item)),
        _ => false,
    }
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(request.headers()) {
            return Err(ApiError::UnsupportedMediaType(
                "send the body as JSON with `Content-Type: application/json`".into(),
            ));
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::PayloadTooLarge("the request body is too large".into())
                } else {
                    ApiError::bad_request("cannot read the request body")
                }
            })?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Parses a JSON body into `T`, with the uniform errors.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|error| ApiError::BadRequest {
        message: "the body is not valid JSON".into(),
        details: Some(serde_json::json!({ "line": error.line(), "column": error.column() })),
    })?;
    if contains_nul(&value) {
        return Err(ApiError::bad_request(
            "strings must not contain NUL characters",
        ));
    }
    serde_json::from_value(value).map_err(|error| ApiError::BadRequest {
        message: format!("the body does not match the expected shape: {error}"),
        details: None,
    })
}

/// Query parameters of type `T`.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default();
        if query.to_ascii_lowercase().contains("%00") {
            return Err(ApiError::bad_request(
                "query parameters must not contain NUL characters",
            ));
        }
        serde_urlencoded_from_str(query).map(ApiQuery)
    }
}

fn serde_urlencoded_from_str<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    axum::extract::Query::<T>::try_from_uri(
        &format!("/?{query}")
            .parse()
            .map_err(|_| ApiError::bad_request("the query string is malformed"))?,
    )
    .map(|axum::extract::Query(value)| value)
    .map_err(|rejection| ApiError::BadRequest {
        message: format!("invalid query parameters: {}", rejection.body_text()),
        details: None,
    })
}

/// Path parameters of type `T`.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let axum::extract::Path(value) = axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::NotFound("no such object".into()))?;
        Ok(ApiPath(value))
    }
}

/// Longest email address accepted (RFC 5321).
pub const MAX_EMAIL_LENGTH: usize = 254;
/// Shortest password accepted.
pub const MIN_PASSWORD_LENGTH: usize = 10;
/// Longest password accepted (Argon2 cost grows with length).
pub const MAX_PASSWORD_LENGTH: usize = 256;
/// Longest name (company, API key) accepted.
pub const MAX_NAME_LENGTH: usize = 200;

/// Normalises and checks an email address (lowercased, trimmed).
pub fn valid_email(email: &str) -> Result<String, ApiError> {
    let email = email.trim().to_lowercase();
    let well_formed = email.len() <= MAX_EMAIL_LENGTH
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
        });
    if well_formed {
        Ok(email)
    } else {
        Err(ApiError::BadRequest {
            message: "`email` is not a valid email address".into(),
            details: Some(serde_json::json!({ "field": "email" })),
        })
    }
}

/// Checks a new password's length.
pub fn valid_password(password: &str, field: &str) -> Result<(), ApiError> {
    let length = password.chars().count();
    if (MIN_PASSWORD_LENGTH..=MAX_PASSWORD_LENGTH).contains(&length) {
        Ok(())
    } else {
        Err(ApiError::BadRequest {
            message: format!(
                "`{field}` must be {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters"
            ),
            details: Some(serde_json::json!({ "field": field })),
        })
    }
}

/// Trims and checks a display name.
pub fn valid_name(name: &str, field: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty()
        || name.chars().count() > MAX_NAME_LENGTH
        || name.chars().any(char::is_control)
    {
        return Err(ApiError::BadRequest {
            message: format!(
                "`{field}` must be 1 to {MAX_NAME_LENGTH} characters without control characters"
            ),
            details: Some(serde_json::json!({ "field": field })),
        });
    }
    Ok(name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(valid_email(" Ann@Example.COM ").unwrap(), "ann@example.com");
        for bad in [
            "", "ann", "ann@", "@x.io", "a b@x.io", "ann@x", "a@b@c.io", "a@x.io\0",
        ] {
            assert!(valid_email(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn nul_characters_are_refused_anywhere() {
        assert!(parse_json::<Value>(br#"{"a":["x\u0000"]}"#).is_err());
        assert!(parse_json::<Value>(br#"{"a\u0000":1}"#).is_err());
        assert!(parse_json::<Value>(br#"{"a":"x"}"#).is_ok());
        assert!(parse_json::<Value>(b"{not json").is_err());
    }
}
