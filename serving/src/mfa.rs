//! Second factors: TOTP (RFC 6238) and one-time recovery codes.
//!
//! Factors live in `mfa_factors`, one row per user and kind, with the secret sealed by
//! [`crate::crypto::SecretBox`]. A factor counts once confirmed (the user proved the app
//! works by entering a code). `kind` is a column rather than a TOTP-specific table so SMS can
//! join as a backup factor when notifications land, without a migration of existing rows.
//! Recovery codes are stored as SHA-256 hashes and consumed atomically, so each works once.

use crate::ApiError;
use crate::crypto::{random_bytes, token_hash};
use crate::db::now;
use crate::state::AppState;
use crate::totp;

/// Number of recovery codes issued at once.
pub const RECOVERY_CODE_COUNT: usize = 10;
/// Kind code of TOTP factors.
pub const TOTP_KIND: &str = "totp";

/// Which second factor a login used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecondFactor {
    /// A TOTP code.
    Totp,
    /// A recovery code (now spent).
    RecoveryCode,
}

/// The user's TOTP factor: (id, sealed secret, confirmed, last used step).
pub async fn totp_factor(
    state: &AppState,
    user_id: &str,
) -> Result<Option<(String, String, bool, Option<i64>)>, ApiError> {
    let row: Option<(String, String, Option<i64>, Option<i64>)> = sqlx::query_as(
        "SELECT id, secret_sealed, confirmed_at, last_used_step FROM mfa_factors \
         WHERE user_id = $1 AND kind = $2",
    )
    .bind(user_id)
    .bind(TOTP_KIND)
    .fetch_optional(&state.database.pool)
    .await?;
    Ok(row.map(|(id, sealed, confirmed_at, last_used_step)| {
        (id, sealed, confirmed_at.is_some(), last_used_step)
    }))
}

/// Whether the user has a confirmed second factor (so login needs one).
pub async fn mfa_enabled(state: &AppState, user_id: &str) -> Result<bool, ApiError> {
    Ok(totp_factor(state, user_id)
        .await?
        .is_some_and(|(_, _, confirmed, _)| confirmed))
}

/// Checks a TOTP code against a factor and records its step, so it cannot be replayed.
pub async fn accept_totp_code(
    state: &AppState,
    factor_id: &str,
    sealed_secret: &str,
    last_used_step: Option<i64>,
    code: &str,
) -> Result<bool, ApiError> {
    let secret = state.secret_box.open(sealed_secret)?;
    let Some(step) = totp::verify(&secret, code, now(), last_used_step) else {
        return Ok(false);
    };
    let result = sqlx::query(
        "UPDATE mfa_factors SET last_used_step = $1 \
         WHERE id = $2 AND (last_used_step IS NULL OR last_used_step < $1)",
    )
    .bind(step)
    .bind(factor_id)
    .execute(&state.database.pool)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Checks a second factor at login: a TOTP code, or else an unused recovery code.
pub async fn check_second_factor(
    state: &AppState,
    user_id: &str,
    code: &str,
) -> Result<Option<SecondFactor>, ApiError> {
    let totp_accepted = match totp_factor(state, user_id).await? {
        Some((factor_id, sealed, true, last_used_step)) => {
            accept_totp_code(state, &factor_id, &sealed, last_used_step, code).await?
        }
        _ => false,
    };
    if totp_accepted {
        return Ok(Some(SecondFactor::Totp));
    }
    let result = sqlx::query(
        "UPDATE recovery_codes SET used_at = $1 \
         WHERE code_hash = $2 AND user_id = $3 AND used_at IS NULL",
    )
    .bind(now())
    .bind(token_hash(&normalise_recovery_code(code)))
    .bind(user_id)
    .execute(&state.database.pool)
    .await?;
    Ok((result.rows_affected() == 1).then_some(SecondFactor::RecoveryCode))
}

/// Recovery codes are compared without dashes, spaces or case.
fn normalise_recovery_code(code: &str) -> String {
    code.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Replaces the user's recovery codes with fresh ones and returns them (shown once).
pub async fn issue_recovery_codes(
    state: &AppState,
    user_id: &str,
) -> Result<Vec<String>, ApiError> {
    let mut codes = Vec::with_capacity(RECOVERY_CODE_COUNT);
    let mut transaction = state.database.pool.begin().await?;
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *transaction)
        .await?;
    for _ in 0..RECOVERY_CODE_COUNT {
        let text = totp::base32(&random_bytes::<7>()?).to_lowercase();
        let code = format!("{}-{}", &text[..5], &text[5..10]);
        sqlx::query("INSERT INTO recovery_codes (code_hash, user_id) VALUES ($1, $2)")
            .bind(token_hash(&normalise_recovery_code(&code)))
            .bind(user_id)
            .execute(&mut *transaction)
            .await?;
        codes.push(code);
    }
    transaction.commit().await?;
    Ok(codes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_codes_compare_loosely() {
        assert_eq!(normalise_recovery_code(" AbCde-12345 "), "abcde12345");
    }
}
