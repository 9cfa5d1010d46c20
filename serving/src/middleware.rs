//! The layers around every route: tracing, metrics, CORS, security headers, uniform JSON
//! errors, rate limiting, timeouts and body limits.
//!
//! Order, outermost first, and why:
//! 1. trace — one span per request (`method`, `route`, later `tenant_id`), so every log line
//!    of the request carries them;
//! 2. metrics — counts every answer, including the ones produced by the layers below;
//! 3. CORS — answers preflights for allowed origins only (an empty allow-list adds no CORS
//!    headers, so browsers refuse cross-origin calls);
//! 4. security headers — on every response, errors included;
//! 5. uniform errors — rewrites any non-JSON error produced below (axum's 405, a 413 from a
//!    body limit) into the API's error shape;
//! 6. rate limit — before any work is done for the request;
//! 7. timeout — bounds the handler; uploads get their own, longer bound;
//! 8. body limit — 64 KB by default; the upload route raises its own.

use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::{Next, from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::ApiError;
use crate::caller::{Credential, api_key_id, credential};
use crate::config::{ServeConfig, ServeError};
use crate::db::now;
use crate::state::AppState;

/// The path of the upload route, which gets the larger body limit and timeout.
pub const UPLOAD_ROUTE: &str = "/v1/uploads";

/// Routes that are never rate limited (probes must not be starved).
const UNLIMITED_ROUTES: &[&str] = &["/healthz", "/readyz"];

/// Content-Security-Policy: nothing from elsewhere, no framing; the docs page loads its own
/// script and style sheet from this origin.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Wraps the router in every layer (see the module documentation for the order).
pub fn apply(router: Router, state: &AppState, config: &ServeConfig) -> Result<Router, ServeError> {
    let router = router
        .layer(axum::extract::DefaultBodyLimit::max(
            config.body_limit_bytes,
        ))
        .layer(from_fn_with_state(state.clone(), timeout))
        .layer(from_fn_with_state(state.clone(), rate_limit))
        .layer(from_fn(uniform_errors));
    let router = security_headers(router);
    let router = match cors(config)? {
        Some(cors) => router.layer(cors),
        None => router,
    };
    Ok(router
        .layer(from_fn_with_state(state.clone(), track_metrics))
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request| {
                let route = request
                    .extensions()
                    .get::<MatchedPath>()
                    .map_or("unmatched", MatchedPath::as_str);
                tracing::info_span!(
                    "request",
                    method = %request.method(),
                    route,
                    tenant_id = tracing::field::Empty,
                )
            }),
        ))
}

fn security_headers(router: Router) -> Router {
    let headers: [(HeaderName, &'static str); 7] = [
        (
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=63072000; includeSubDomains",
        ),
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::CACHE_CONTROL, "no-store"),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
    ];
    headers.into_iter().fold(router, |router, (name, value)| {
        router.layer(SetResponseHeaderLayer::if_not_present(
            name,
            HeaderValue::from_static(value),
        ))
    })
}

fn cors(config: &ServeConfig) -> Result<Option<CorsLayer>, ServeError> {
    if config.cors_origins.is_empty() {
        return Ok(None);
    }
    let origins = config
        .cors_origins
        .iter()
        .map(|origin| {
            HeaderValue::from_str(origin).map_err(|_| {
                ServeError::Config(format!(
                    "CORS origin `{origin}` is not a valid header value"
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                HeaderName::from_static("x-api-key"),
            ])
            .max_age(Duration::from_secs(600)),
    ))
}

fn route_of(request: &Request) -> Option<String> {
    request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_string())
}

async fn track_metrics(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = route_of(&request).unwrap_or_else(|| "unmatched".into());
    let method = request.method().clone();
    let response = next.run(request).await;
    state.metrics.observe(
        &route,
        method.as_str(),
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// Who a request counts against: the user or API key it claims, else its IP address.
fn rate_limit_key(state: &AppState, request: &Request) -> String {
    let by_ip = || {
        let ip = request
            .extensions()
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map_or_else(|| "unknown".to_string(), |info| info.0.ip().to_string());
        format!("ip:{ip}")
    };
    match credential(request.headers()) {
        Ok(Credential::AccessToken(token)) => state
            .signer
            .verify(&token)
            .map_or_else(|_| by_ip(), |claims| format!("user:{}", claims.sub)),
        Ok(Credential::ApiKey(key)) => {
            api_key_id(&key).map_or_else(by_ip, |id| format!("key:{id}"))
        }
        Err(_) => by_ip(),
    }
}

async fn rate_limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let exempt = route_of(&request).is_some_and(|route| UNLIMITED_ROUTES.contains(&route.as_str()));
    if !exempt {
        let key = rate_limit_key(&state, &request);
        if let Err(retry_after_seconds) = state.rate_limiter.check(&key, now()) {
            tracing::warn!(key, "rate limited");
            return ApiError::TooManyRequests {
                message: "more than the allowed requests per minute; slow down".into(),
                retry_after_seconds,
            }
            .into_response();
        }
    }
    next.run(request).await
}

async fn timeout(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let limit = if route_of(&request).as_deref() == Some(UPLOAD_ROUTE) {
        state.settings.upload_timeout
    } else {
        state.settings.request_timeout
    };
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::RequestTimeout(format!(
            "the request took longer than {} seconds",
            limit.as_secs()
        ))
        .into_response(),
    }
}

fn is_json_response(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"))
}

/// Rewrites error responses that are not in the API's JSON shape.
async fn uniform_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if status.as_u16() < 400 || is_json_response(&response) {
        return response;
    }
    let (code, message) = match status {
        StatusCode::NOT_FOUND => ("not_found", "no such route"),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            "this route does not accept that method",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "the request body is too large"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            ("unsupported_media_type", "unsupported content type")
        }
        StatusCode::REQUEST_TIMEOUT => ("request_timeout", "the request took too long"),
        status if status.is_server_error() => ("internal", "something went wrong on our side"),
        _ => ("bad_request", "the request is invalid"),
    };
    let (mut parts, _) = response.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let body =
        serde_json::json!({ "error": { "code": code, "message": message, "details": null } });
    Response::from_parts(parts, Body::from(body.to_string()))
}
