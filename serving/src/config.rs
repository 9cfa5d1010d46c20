//! Configuration of the API server and the errors that stop it from starting.
//!
//! [`ServeConfig`] is plain data: the binary fills it from flags and the environment
//! ([`ServeConfig::from_env`]), tests fill it directly. Secrets (the JWT signing key, the key
//! for secrets at rest, the database password inside `DATABASE_URL`) come from the
//! environment or from key files the server generates in the data directory, never from files
//! in git.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Everything the API server needs to start. Its `Debug` form redacts the secrets and the
/// database URL (which may hold a password), so the configuration can be logged.
#[derive(Clone)]
pub struct ServeConfig {
    /// Data directory: the SQLite database (when `database_url` is `None`), generated key
    /// files and upload scratch space live here. Created if missing.
    pub data_dir: PathBuf,
    /// Address to listen on, e.g. `127.0.0.1:8080`.
    pub listen: SocketAddr,
    /// `postgres://…` to keep the API's state in PostgreSQL, `sqlite://…` for another SQLite
    /// file; `None` uses `DATA_DIR/verocta.db`. Read from `DATABASE_URL` by
    /// [`ServeConfig::from_env`].
    pub database_url: Option<String>,
    /// Development and test mode: registration marks the email verified at once, so scripts
    /// can register and log in directly, and the key for secrets at rest may be generated in
    /// the data directory. Never enable it for real users.
    pub dev_mode: bool,
    /// Origins allowed to call the API from a browser (CORS), e.g. `https://app.verocta.ai`.
    /// Empty: no cross-origin access.
    pub cors_origins: Vec<String>,
    /// JWT signing secret (at least 32 bytes). `None`: `VEROCTA_JWT_SECRET` was not set, so
    /// a secret is generated once and kept in `DATA_DIR/jwt-secret` (mode 0600).
    pub jwt_secret: Option<String>,
    /// Previous JWT secrets still accepted for verification during a rotation.
    pub previous_jwt_secrets: Vec<String>,
    /// Key for secrets at rest (base64 of 32 bytes, AES-256-GCM). `None`: generated in
    /// `DATA_DIR/secret-key` in dev mode, an error otherwise.
    pub secret_key: Option<String>,
    /// Previous keys for secrets at rest, still used to decrypt during a rotation.
    pub previous_secret_keys: Vec<String>,
    /// Requests per minute per user, API key or (unauthenticated) IP address; 0 disables
    /// the limit (benchmarks only).
    pub rate_limit_per_minute: u32,
    /// Time allowed for a request, uploads excepted.
    pub request_timeout: Duration,
    /// Time allowed for an upload.
    pub upload_timeout: Duration,
    /// Largest request body outside uploads, in bytes.
    pub body_limit_bytes: usize,
    /// Largest upload, in bytes.
    pub upload_limit_bytes: usize,
    /// Largest number of pooled database connections.
    pub max_database_connections: u32,
    /// Password hashing cost. [`PasswordHashing::Standard`] everywhere but in tests.
    pub password_hashing: PasswordHashing,
    /// More Prometheus text appended to `/metrics`: the pipeline's components when the API
    /// runs inside `verocta up`. The API knows nothing of what it renders.
    pub extra_metrics: Option<crate::metrics::MetricsSource>,
}

impl std::fmt::Debug for ServeConfig {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redacted = |present: bool| if present { "<redacted>" } else { "<none>" };
        formatter
            .debug_struct("ServeConfig")
            .field("data_dir", &self.data_dir)
            .field("listen", &self.listen)
            .field("database_url", &redacted(self.database_url.is_some()))
            .field("dev_mode", &self.dev_mode)
            .field("cors_origins", &self.cors_origins)
            .field("jwt_secret", &redacted(self.jwt_secret.is_some()))
            .field("previous_jwt_secrets", &self.previous_jwt_secrets.len())
            .field("secret_key", &redacted(self.secret_key.is_some()))
            .field("previous_secret_keys", &self.previous_secret_keys.len())
            .field("rate_limit_per_minute", &self.rate_limit_per_minute)
            .field("request_timeout", &self.request_timeout)
            .field("upload_timeout", &self.upload_timeout)
            .field("body_limit_bytes", &self.body_limit_bytes)
            .field("upload_limit_bytes", &self.upload_limit_bytes)
            .field("max_database_connections", &self.max_database_connections)
            .field("password_hashing", &self.password_hashing)
            .field("extra_metrics", &self.extra_metrics.is_some())
            .finish()
    }
}

/// Argon2id parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PasswordHashing {
    /// OWASP's recommendation: 19 MiB of memory, 2 iterations, 1 lane.
    Standard,
    /// A cheap setting so unoptimised test builds hash quickly. Never in production.
    FastForTests,
}

/// Requests per minute allowed by default.
pub const DEFAULT_RATE_LIMIT_PER_MINUTE: u32 = 1_000;

impl ServeConfig {
    /// A configuration with the defaults: SQLite in `data_dir`, no CORS origins, generated
    /// keys, production mode.
    pub fn new(data_dir: impl Into<PathBuf>, listen: SocketAddr) -> Self {
        ServeConfig {
            data_dir: data_dir.into(),
            listen,
            database_url: None,
            dev_mode: false,
            cors_origins: Vec::new(),
            jwt_secret: None,
            previous_jwt_secrets: Vec::new(),
            secret_key: None,
            previous_secret_keys: Vec::new(),
            rate_limit_per_minute: DEFAULT_RATE_LIMIT_PER_MINUTE,
            request_timeout: Duration::from_secs(30),
            upload_timeout: Duration::from_secs(300),
            body_limit_bytes: 64 * 1024,
            upload_limit_bytes: 50 * 1024 * 1024,
            max_database_connections: 16,
            password_hashing: PasswordHashing::Standard,
            extra_metrics: None,
        }
    }

    /// [`ServeConfig::new`] plus what the environment says: `DATABASE_URL`,
    /// `VEROCTA_JWT_SECRET`, `VEROCTA_JWT_SECRET_PREVIOUS` (comma-separated),
    /// `VEROCTA_SECRET_KEY`, `VEROCTA_SECRET_KEY_PREVIOUS` (comma-separated) and
    /// `VEROCTA_CORS_ORIGINS` (comma-separated).
    pub fn from_env(data_dir: impl Into<PathBuf>, listen: SocketAddr) -> Self {
        let variable = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let list = |name: &str| {
            variable(name)
                .map(|value| {
                    value
                        .split(',')
                        .map(|item| item.trim().to_string())
                        .filter(|item| !item.is_empty())
                        .collect()
                })
                .unwrap_or_default()
        };
        ServeConfig {
            database_url: variable("DATABASE_URL"),
            jwt_secret: variable("VEROCTA_JWT_SECRET"),
            previous_jwt_secrets: list("VEROCTA_JWT_SECRET_PREVIOUS"),
            secret_key: variable("VEROCTA_SECRET_KEY"),
            previous_secret_keys: list("VEROCTA_SECRET_KEY_PREVIOUS"),
            cors_origins: list("VEROCTA_CORS_ORIGINS"),
            ..ServeConfig::new(data_dir, listen)
        }
    }
}

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The configuration is wrong; the message says what to change.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The data directory or a key file could not be read or written.
    #[error("{what} ({path}): {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating-system error.
        source: std::io::Error,
    },
    /// The database could not be reached or opened.
    #[error("cannot connect to the database: {0}")]
    Database(#[source] sqlx::Error),
    /// Applying migrations failed.
    #[error("cannot migrate the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Binding the listen address or serving failed.
    #[error("cannot serve on {address}: {source}")]
    Listen {
        /// The address.
        address: SocketAddr,
        /// The operating-system error.
        source: std::io::Error,
    },
    /// A failure that is a bug or an environment problem (random source, crypto setup).
    #[error("internal error: {0}")]
    Internal(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_secrets() {
        let mut config = ServeConfig::new("/data", "127.0.0.1:1".parse().unwrap());
        config.jwt_secret = Some("super-secret-signing-key-0123456789".into());
        config.database_url = Some("postgres://verocta:hunter2@db/verocta".into());
        let text = format!("{config:?}");
        assert!(
            !text.contains("super-secret") && !text.contains("hunter2"),
            "{text}"
        );
    }
}
