//! Email: one-time tokens sent by email (verification, password reset) and the outbox.
//!
//! Until notifications land, "sending" an email appends it to the `outbox` table (and logs
//! the recipient and subject, never the body, which holds a bearer token). A mail relay — or
//! an operator in development — reads the outbox. Tokens are 256-bit random values stored as
//! hashes, expire, and are consumed atomically, so each works once.

use crate::ApiError;
use crate::crypto::{random_id, random_token, token_hash};
use crate::db::{Database, now};

/// Purpose of an email-verification token.
pub const VERIFY_EMAIL: &str = "verify_email";
/// Purpose of a password-reset token.
pub const RESET_PASSWORD: &str = "reset_password";
/// Lifetime of a verification token: 2 days.
pub const VERIFY_EMAIL_SECONDS: i64 = 2 * 24 * 3600;
/// Lifetime of a reset token: 1 hour.
pub const RESET_PASSWORD_SECONDS: i64 = 3600;

/// Queues an email in the outbox.
pub async fn queue_email(
    database: &Database,
    recipient: &str,
    subject: &str,
    body: &str,
) -> Result<(), ApiError> {
    sqlx::query(
        "INSERT INTO outbox (id, recipient, subject, body, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(random_id("msg_")?)
    .bind(recipient)
    .bind(subject)
    .bind(body)
    .bind(now())
    .execute(&database.pool)
    .await?;
    tracing::info!(recipient, subject, "email queued in the outbox");
    Ok(())
}

/// Creates a one-time token for `user_id` and `purpose`, valid `lifetime_seconds`.
pub async fn create_token(
    database: &Database,
    user_id: &str,
    purpose: &str,
    lifetime_seconds: i64,
) -> Result<String, ApiError> {
    let token = random_token("vet_")?;
    let created_at = now();
    sqlx::query(
        "INSERT INTO one_time_tokens (token_hash, user_id, purpose, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(token_hash(&token))
    .bind(user_id)
    .bind(purpose)
    .bind(created_at)
    .bind(created_at + lifetime_seconds)
    .execute(&database.pool)
    .await?;
    Ok(token)
}

/// Consumes a one-time token; the user it was for, or `None` if unknown, used or expired.
pub async fn consume_token(
    database: &Database,
    token: &str,
    purpose: &str,
) -> Result<Option<String>, ApiError> {
    let hash = token_hash(token);
    let current_time = now();
    let result = sqlx::query(
        "UPDATE one_time_tokens SET used_at = $1 \
         WHERE token_hash = $2 AND purpose = $3 AND used_at IS NULL AND expires_at > $1",
    )
    .bind(current_time)
    .bind(&hash)
    .bind(purpose)
    .execute(&database.pool)
    .await?;
    if result.rows_affected() != 1 {
        return Ok(None);
    }
    let row: Option<(String,)> =
        sqlx::query_as("SELECT user_id FROM one_time_tokens WHERE token_hash = $1")
            .bind(&hash)
            .fetch_optional(&database.pool)
            .await?;
    Ok(row.map(|(user_id,)| user_id))
}
