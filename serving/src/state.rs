//! The state every handler shares: database, token signer, sealing keys, the transaction
//! store, limiters and metrics. Cheap to clone (everything is behind `Arc` or is a pool).

use std::path::PathBuf;
use std::sync::Arc;

use crate::config::{PasswordHashing, ServeConfig, ServeError};
use crate::crypto::SecretBox;
use crate::db::Database;
use crate::limits::{LoginThrottle, RateLimiter};
use crate::metrics::Metrics;
use crate::store::{SqlTransactionStore, TransactionStore};
use crate::tokens::TokenSigner;

/// Settings handlers read at request time.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Dev mode: registrations are verified at once.
    pub dev_mode: bool,
    /// Argon2 cost.
    pub password_hashing: PasswordHashing,
    /// Where uploads are spooled while the connector reads them.
    pub upload_dir: PathBuf,
    /// Largest upload in bytes.
    pub upload_limit_bytes: usize,
    /// Time allowed for a request, uploads excepted.
    pub request_timeout: std::time::Duration,
    /// Time allowed for an upload.
    pub upload_timeout: std::time::Duration,
    /// A hash of a random password, verified against when a login names an unknown email so
    /// that unknown and known emails take the same time.
    pub dummy_password_hash: String,
}

/// Shared application state.
#[derive(Clone)]
pub struct AppState {
    /// The API's database.
    pub database: Database,
    /// Signs and verifies access tokens.
    pub signer: TokenSigner,
    /// Seals secrets at rest.
    pub secret_box: SecretBox,
    /// Where transactions are read and written.
    pub transactions: Arc<dyn TransactionStore>,
    /// Requests per minute per caller.
    pub rate_limiter: Arc<RateLimiter>,
    /// Failed-login bookkeeping.
    pub login_throttle: Arc<LoginThrottle>,
    /// Request metrics.
    pub metrics: Arc<Metrics>,
    /// Request-time settings.
    pub settings: Arc<Settings>,
}

impl AppState {
    /// Opens the database (migrating it), loads keys and builds the state.
    pub async fn new(config: &ServeConfig) -> Result<Self, ServeError> {
        std::fs::create_dir_all(&config.data_dir).map_err(|source| ServeError::Io {
            what: "cannot create the data directory",
            path: config.data_dir.clone(),
            source,
        })?;
        let upload_dir = config.data_dir.join("uploads");
        std::fs::create_dir_all(&upload_dir).map_err(|source| ServeError::Io {
            what: "cannot create the upload directory",
            path: upload_dir.clone(),
            source,
        })?;
        let signer = TokenSigner::new(&crate::keys::jwt_secrets(config)?);
        let secret_box = crate::keys::secret_box(config)?;
        let database = Database::open(
            config.database_url.as_deref(),
            &config.data_dir,
            config.max_database_connections,
        )
        .await?;
        let dummy_password = crate::crypto::random_token("")
            .map_err(|error| ServeError::Internal(error.to_string()))?;
        let dummy_password_hash =
            crate::crypto::hash_password(&dummy_password, config.password_hashing)
                .map_err(|error| ServeError::Internal(error.to_string()))?;
        Ok(AppState {
            transactions: Arc::new(SqlTransactionStore::new(database.clone())),
            database,
            signer,
            secret_box,
            rate_limiter: Arc::new(RateLimiter::new(config.rate_limit_per_minute)),
            login_throttle: Arc::new(LoginThrottle::default()),
            metrics: Arc::new(Metrics::with_extra(config.extra_metrics.clone())),
            settings: Arc::new(Settings {
                dev_mode: config.dev_mode,
                password_hashing: config.password_hashing,
                upload_dir,
                upload_limit_bytes: config.upload_limit_bytes,
                request_timeout: config.request_timeout,
                upload_timeout: config.upload_timeout,
                dummy_password_hash,
            }),
        })
    }
}
