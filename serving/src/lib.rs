//! The Verocta HTTP API.
//!
//! One axum router fronts everything users, dashboards and machines call:
//! identity (`/v1/auth/*`: register, verify email, login with optional TOTP, refresh,
//! logout, password change and reset), tenants, members, roles and invitations, API keys,
//! the audit log, CSV uploads through the CSV connector, transactions with filters and
//! cursor pagination, and the operational surface (`/healthz`, `/readyz`, `/metrics`,
//! `/openapi.json`, `/docs`).
//!
//! Guarantees and why they hold:
//! - **Tenant isolation in one place**: every tenant-scoped handler takes the
//!   [`caller::Caller`] extractor, which resolves the tenant from the credential and refuses
//!   any other tenant in the path; handlers never take a tenant from the client.
//! - **One error shape** ([`ApiError`]): `{"error": {"code", "message", "details"}}` for
//!   every failure, including the ones produced by layers (405, 413, 408, 429); 5xx bodies
//!   are generic and the cause is logged, so no SQL or stack trace reaches a client.
//! - **State in SQL** ([`db`]): SQLite in the data directory by default, PostgreSQL when
//!   `DATABASE_URL` says so, migrated on every start; the same test suite runs on both.
//! - **Secrets**: passwords hashed with Argon2id, bearer tokens stored as hashes, TOTP seeds
//!   sealed with AES-256-GCM ([`crypto`]); keys from the environment or generated once in
//!   the data directory ([`keys`]).
//! - **Spec in sync**: `/openapi.json` (OpenAPI 3.1) is generated from the same declarations
//!   that build the router ([`routes`]).
//!
//! Transactions are read and written through the [`store::TransactionStore`] trait, so the
//! analytical stores (ClickHouse, Delta Lake) can replace the SQL-backed one without touching
//! the routes.

pub mod audit;
pub mod caller;
pub mod config;
pub mod crypto;
pub mod db;
pub mod email;
pub mod error;
pub mod extract;
pub mod keys;
pub mod limits;
pub mod metrics;
pub mod mfa;
pub mod middleware;
pub mod routes;
pub mod state;
pub mod store;
pub mod tokens;
pub mod totp;

use std::future::Future;
use std::net::SocketAddr;

use axum::Router;

pub use config::{PasswordHashing, ServeConfig, ServeError};
pub use error::ApiError;
pub use state::AppState;
pub use store::{SqlTransactionStore, TransactionStore};

/// Builds the state (opening and migrating the database, loading keys) and the complete
/// router with every layer. Tests call the router in-process; [`run`] serves it.
pub async fn build_app(config: &ServeConfig) -> Result<(Router, AppState), ServeError> {
    let state = AppState::new(config).await?;
    let router = app_router(&state, config)?;
    Ok((router, state))
}

/// The router for an existing state (used by [`build_app`], and by tests that build the
/// state themselves).
pub fn app_router(state: &AppState, config: &ServeConfig) -> Result<Router, ServeError> {
    let (router, _) = routes::api_router(config.upload_limit_bytes).split_for_parts();
    let router = router
        .fallback(|| async { ApiError::NotFound("no such route".into()) })
        .with_state(state.clone());
    middleware::apply(router, state, config)
}

/// Serves the API on `config.listen` until `shutdown` resolves, then finishes the requests
/// in flight.
pub async fn run(
    config: ServeConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let (router, state) = build_app(&config).await?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServeError::Listen {
            address: config.listen,
            source,
        })?;
    let address = listener.local_addr().unwrap_or(config.listen);
    tracing::info!(
        %address,
        backend = ?state.database.backend,
        dev_mode = config.dev_mode,
        "verocta API listening"
    );
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
    .map_err(|source| ServeError::Listen { address, source })?;
    state.database.pool.close().await;
    Ok(())
}
