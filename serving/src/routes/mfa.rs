//! `/v1/auth/mfa/totp/*`: TOTP enrolment, confirmation (which turns MFA on and issues
//! recovery codes), recovery-code regeneration and disabling.
//!
//! Enrolment stores an unconfirmed factor; login ignores it until a code proves the
//! authenticator app has the secret, so a half-finished enrolment can never lock a user out.
//! Turning MFA off or regenerating codes needs a current code, so a stolen access token alone
//! cannot remove the second factor.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ApiError;
use crate::audit::record;
use crate::caller::UserCaller;
use crate::crypto::{random_bytes, random_id};
use crate::db::now;
use crate::error::ErrorBody;
use crate::extract::ApiJson;
use crate::mfa::{self, TOTP_KIND};
use crate::routes::auth::require_password;
use crate::state::AppState;
use crate::totp;

/// A new TOTP secret to put in an authenticator app.
#[derive(Debug, Serialize, ToSchema)]
pub struct TotpEnrolment {
    /// The secret, base32 (for manual entry).
    pub secret: String,
    /// `otpauth://totp/…` URI (for a QR code).
    pub otpauth_uri: String,
}

/// A TOTP code from the app.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TotpCodeRequest {
    /// Six-digit code (or, where a recovery code is accepted, a recovery code).
    #[schema(min_length = 6, max_length = 64)]
    pub code: String,
}

/// `POST /v1/auth/mfa/totp/disable`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisableTotpRequest {
    /// The account password.
    pub password: String,
    /// A current TOTP code or a recovery code.
    pub code: String,
}

/// Recovery codes, each usable once instead of a TOTP code. Shown only now.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecoveryCodes {
    /// The codes.
    pub recovery_codes: Vec<String>,
}

fn already_enabled() -> ApiError {
    ApiError::Conflict("two-factor authentication is already on; disable it first".into())
}

/// Starts TOTP enrolment (replacing an unconfirmed one).
#[utoipa::path(post, path = "/v1/auth/mfa/totp/enroll", tag = "mfa",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Secret to add to the authenticator app; confirm with a code", body = TotpEnrolment),
        (status = 409, description = "MFA already on", body = ErrorBody),
    ))]
pub async fn enroll(
    State(state): State<AppState>,
    UserCaller(caller): UserCaller,
) -> Result<Json<TotpEnrolment>, ApiError> {
    let (user_id, _) = caller.user()?;
    if mfa::mfa_enabled(&state, user_id).await? {
        return Err(already_enabled());
    }
    let secret = random_bytes::<20>()?;
    let sealed = state.secret_box.seal(&secret)?;
    sqlx::query(
        "DELETE FROM mfa_factors WHERE user_id = $1 AND kind = $2 AND confirmed_at IS NULL",
    )
    .bind(user_id)
    .bind(TOTP_KIND)
    .execute(&state.database.pool)
    .await?;
    sqlx::query(
        "INSERT INTO mfa_factors (id, user_id, kind, secret_sealed, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(random_id("mfa_")?)
    .bind(user_id)
    .bind(TOTP_KIND)
    .bind(sealed)
    .bind(now())
    .execute(&state.database.pool)
    .await?;
    let (email,): (String,) = sqlx::query_as("SELECT email FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_one(&state.database.pool)
        .await?;
    record(
        &state.database,
        caller.audit("mfa.totp_enrolment_started").target(user_id),
    )
    .await;
    Ok(Json(TotpEnrolment {
        secret: totp::base32(&secret),
        otpauth_uri: totp::otpauth_uri(&secret, &email),
    }))
}

/// Confirms enrolment with a code: MFA is on from now and recovery codes are issued.
#[utoipa::path(post, path = "/v1/auth/mfa/totp/confirm", tag = "mfa", request_body = TotpCodeRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "MFA on; store the recovery codes", body = RecoveryCodes),
        (status = 400, description = "Wrong code, or no enrolment started", body = ErrorBody),
        (status = 409, description = "MFA already on", body = ErrorBody),
    ))]
pub async fn confirm(
    State(state): State<AppState>,
    UserCaller(caller): UserCaller,
    ApiJson(request): ApiJson<TotpCodeRequest>,
) -> Result<Json<RecoveryCodes>, ApiError> {
    let (user_id, _) = caller.user()?;
    let Some((factor_id, sealed, confirmed, last_used_step)) =
        mfa::totp_factor(&state, user_id).await?
    else {
        return Err(ApiError::bad_request(
            "start with POST /v1/auth/mfa/totp/enroll",
        ));
    };
    if confirmed {
        return Err(already_enabled());
    }
    if !mfa::accept_totp_code(&state, &factor_id, &sealed, last_used_step, &request.code).await? {
        record(
            &state.database,
            caller
                .audit("mfa.totp_confirm_failed")
                .failed()
                .target(user_id),
        )
        .await;
        return Err(ApiError::bad_request(
            "the code is wrong; check the app's clock",
        ));
    }
    sqlx::query("UPDATE mfa_factors SET confirmed_at = $1 WHERE id = $2")
        .bind(now())
        .bind(&factor_id)
        .execute(&state.database.pool)
        .await?;
    let recovery_codes = mfa::issue_recovery_codes(&state, user_id).await?;
    record(
        &state.database,
        caller.audit("mfa.totp_enabled").target(user_id),
    )
    .await;
    Ok(Json(RecoveryCodes { recovery_codes }))
}

/// Replaces the recovery codes (the old ones stop working).
#[utoipa::path(post, path = "/v1/auth/mfa/recovery-codes", tag = "mfa", request_body = TotpCodeRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "New recovery codes", body = RecoveryCodes),
        (status = 400, description = "MFA off, or wrong code", body = ErrorBody),
    ))]
pub async fn regenerate_recovery_codes(
    State(state): State<AppState>,
    UserCaller(caller): UserCaller,
    ApiJson(request): ApiJson<TotpCodeRequest>,
) -> Result<Json<RecoveryCodes>, ApiError> {
    let (user_id, _) = caller.user()?;
    if !mfa::mfa_enabled(&state, user_id).await? {
        return Err(ApiError::bad_request("two-factor authentication is off"));
    }
    if mfa::check_second_factor(&state, user_id, &request.code)
        .await?
        .is_none()
    {
        return Err(ApiError::bad_request(
            "the code is wrong or was already used",
        ));
    }
    let recovery_codes = mfa::issue_recovery_codes(&state, user_id).await?;
    record(
        &state.database,
        caller
            .audit("mfa.recovery_codes_regenerated")
            .target(user_id),
    )
    .await;
    Ok(Json(RecoveryCodes { recovery_codes }))
}

/// Turns MFA off; needs the password and a current code.
#[utoipa::path(post, path = "/v1/auth/mfa/totp/disable", tag = "mfa", request_body = DisableTotpRequest,
    security(("bearer" = [])),
    responses(
        (status = 204, description = "MFA off"),
        (status = 400, description = "MFA off already, or wrong code", body = ErrorBody),
        (status = 403, description = "`wrong_password`", body = ErrorBody),
    ))]
pub async fn disable(
    State(state): State<AppState>,
    UserCaller(caller): UserCaller,
    ApiJson(request): ApiJson<DisableTotpRequest>,
) -> Result<StatusCode, ApiError> {
    let (user_id, _) = caller.user()?;
    if !mfa::mfa_enabled(&state, user_id).await? {
        return Err(ApiError::bad_request(
            "two-factor authentication is already off",
        ));
    }
    require_password(&state, &caller, &request.password).await?;
    if mfa::check_second_factor(&state, user_id, &request.code)
        .await?
        .is_none()
    {
        return Err(ApiError::bad_request(
            "the code is wrong or was already used",
        ));
    }
    sqlx::query("DELETE FROM mfa_factors WHERE user_id = $1")
        .bind(user_id)
        .execute(&state.database.pool)
        .await?;
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(user_id)
        .execute(&state.database.pool)
        .await?;
    record(
        &state.database,
        caller.audit("mfa.totp_disabled").target(user_id),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}
