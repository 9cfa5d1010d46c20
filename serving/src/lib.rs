//! The Verocta HTTP API.
//!
//! One axum [`Router`] fronts everything users and dashboards call. It starts with the
//! operational surface — `/healthz` (the process is up) and `/readyz` (its dependencies
//! answer) — and the one error shape every route uses ([`error::ApiError`]): `{"error":
//! {"code", "message", "details"}}`, with 5xx bodies kept generic and the cause logged.
//! Identity, tenants and the read endpoints are added on top of this router; the API reaches
//! other crates only through their public traits, never their internals.

pub mod error;

use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

pub use error::ApiError;

/// The API router.
pub fn router() -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .fallback(|| async { ApiError::NotFound("no such route".into()) })
}

async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

async fn readyz() -> Json<Value> {
    // No dependencies yet: the API's own state store joins this check when it lands.
    Json(json!({ "status": "ready" }))
}

/// Serves the router on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router())
        .with_graceful_shutdown(shutdown)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    async fn call(path: &str) -> (StatusCode, Value) {
        let response = router()
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn health_and_readiness() {
        assert_eq!(
            call("/healthz").await,
            (StatusCode::OK, json!({"status": "ok"}))
        );
        assert_eq!(call("/readyz").await.0, StatusCode::OK);
    }

    #[tokio::test]
    async fn unknown_routes_use_the_error_shape() {
        let (status, body) = call("/nope").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["error"]["code"], "not_found");
        assert!(body["error"]["message"].is_string());
    }
}
