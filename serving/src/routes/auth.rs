//! `/v1/auth/*`: registration, email verification, login (with MFA), refresh, logout,
//! password change and reset, switching tenant.
//!
//! Login answers the same `invalid_credentials` whether the email is unknown or the password
//! wrong, and hashes against a dummy hash for unknown emails so timing does not tell them
//! apart either. Failures feed the login throttle ([`crate::limits::LoginThrottle`]).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ApiError;
use crate::audit::{AuditEvent, record};
use crate::caller::{Caller, ClientIp, Role, UserCaller};
use crate::crypto::{self, random_id};
use crate::db::{is_unique_violation, now};
use crate::email::{self, RESET_PASSWORD, VERIFY_EMAIL};
use crate::error::ErrorBody;
use crate::extract::{ApiJson, valid_email, valid_name, valid_password};
use crate::mfa::{self, SecondFactor};
use crate::state::AppState;
use crate::tokens::{self, RefreshOutcome, TokenPair};

/// `POST /v1/auth/register`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// Email address; also the login name.
    #[schema(
        format = "email",
        max_length = 254,
        pattern = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
    )]
    pub email: String,
    /// Password, 10 to 256 characters.
    #[schema(min_length = 10, max_length = 256)]
    pub password: String,
    /// Company name: the new tenant the user will own.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1f]*\S[^\x00-\x1f]*$"
    )]
    pub company: String,
}

/// The new user and the tenant they own.
#[derive(Debug, Serialize, ToSchema)]
pub struct RegisterResponse {
    /// The user's id.
    pub user_id: String,
    /// The new tenant's id.
    pub tenant_id: String,
}

/// `POST /v1/auth/login`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Email address.
    pub email: String,
    /// Password.
    pub password: String,
    /// TOTP code or recovery code; required once MFA is enabled.
    #[serde(default)]
    pub totp: Option<String>,
    /// Tenant to scope the tokens to; defaults to the user's first tenant.
    #[serde(default)]
    pub tenant_id: Option<String>,
}

/// `POST /v1/auth/refresh`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// The refresh token from the last login or refresh.
    pub refresh_token: String,
}

/// A one-time token from an email.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailTokenRequest {
    /// The token.
    pub token: String,
}

/// `POST /v1/auth/password/forgot`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForgotPasswordRequest {
    /// The account's email.
    #[schema(
        format = "email",
        max_length = 254,
        pattern = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
    )]
    pub email: String,
}

/// `POST /v1/auth/password/reset`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetPasswordRequest {
    /// The token from the reset email.
    pub token: String,
    /// The new password, 10 to 256 characters.
    #[schema(min_length = 10, max_length = 256)]
    pub new_password: String,
}

/// `POST /v1/auth/password/change`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    /// The current password.
    pub current_password: String,
    /// The new password, 10 to 256 characters.
    #[schema(min_length = 10, max_length = 256)]
    pub new_password: String,
}

/// `POST /v1/auth/switch-tenant`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SwitchTenantRequest {
    /// A tenant the user is a member of.
    pub tenant_id: String,
}

/// Hashes a password off the async runtime (Argon2 is deliberately slow).
pub async fn hash_password(state: &AppState, password: &str) -> Result<String, ApiError> {
    let password = password.to_string();
    let hashing = state.settings.password_hashing;
    tokio::task::spawn_blocking(move || crypto::hash_password(&password, hashing))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::from)
}

/// Verifies a password off the async runtime.
pub async fn verify_password(password: &str, hash: &str) -> Result<bool, ApiError> {
    let (password, hash) = (password.to_string(), hash.to_string());
    tokio::task::spawn_blocking(move || crypto::verify_password(&password, &hash))
        .await
        .map_err(ApiError::internal)
}

/// Registers a user and the tenant (company) they own.
#[utoipa::path(post, path = "/v1/auth/register", tag = "auth", request_body = RegisterRequest,
    responses(
        (status = 201, description = "Registered; in production mode the email must be verified before login", body = RegisterResponse),
        (status = 400, description = "Invalid email, password or company", body = ErrorBody),
        (status = 409, description = "Email already registered", body = ErrorBody),
    ))]
pub async fn register(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(request): ApiJson<RegisterRequest>,
) -> Result<(StatusCode, Json<RegisterResponse>), ApiError> {
    let email = valid_email(&request.email)?;
    valid_password(&request.password, "password")?;
    let company = valid_name(&request.company, "company")?;
    let password_hash = hash_password(&state, &request.password).await?;
    let user_id = random_id("usr_")?;
    let tenant_id = random_id("tn_")?;
    let created_at = now();
    let verified_at = state.settings.dev_mode.then_some(created_at);
    let mut transaction = state.database.pool.begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO users (id, email, password_hash, email_verified_at, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&user_id)
    .bind(&email)
    .bind(&password_hash)
    .bind(verified_at)
    .bind(created_at)
    .execute(&mut *transaction)
    .await;
    match inserted {
        Err(error) if is_unique_violation(&error) => {
            return Err(ApiError::Conflict(
                "an account with this email already exists; log in or reset the password".into(),
            ));
        }
        other => other?,
    };
    sqlx::query("INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3)")
        .bind(&tenant_id)
        .bind(&company)
        .bind(created_at)
        .execute(&mut *transaction)
        .await?;
    sqlx::query(
        "INSERT INTO memberships (tenant_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(&tenant_id)
    .bind(&user_id)
    .bind(Role::Owner.code())
    .bind(created_at)
    .execute(&mut *transaction)
    .await?;
    transaction.commit().await?;
    if verified_at.is_none() {
        send_verification(&state, &user_id, &email).await?;
    }
    record(
        &state.database,
        AuditEvent::new("user.registered")
            .tenant(&tenant_id)
            .actor(format!("user:{user_id}"))
            .target(&user_id)
            .ip(&ip),
    )
    .await;
    Ok((
        StatusCode::CREATED,
        Json(RegisterResponse { user_id, tenant_id }),
    ))
}

async fn send_verification(state: &AppState, user_id: &str, email: &str) -> Result<(), ApiError> {
    let token = email::create_token(
        &state.database,
        user_id,
        VERIFY_EMAIL,
        email::VERIFY_EMAIL_SECONDS,
    )
    .await?;
    let body = format!(
        "Confirm your email for Verocta: POST /v1/auth/verify-email with {{\"token\": \"{token}\"}}"
    );
    email::queue_email(&state.database, email, "Confirm your email", &body).await
}

/// Confirms an email address with the token sent to it.
#[utoipa::path(post, path = "/v1/auth/verify-email", tag = "auth", request_body = EmailTokenRequest,
    responses(
        (status = 204, description = "Email verified"),
        (status = 400, description = "Unknown, used or expired token", body = ErrorBody),
    ))]
pub async fn verify_email(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<EmailTokenRequest>,
) -> Result<StatusCode, ApiError> {
    let user_id = email::consume_token(&state.database, &request.token, VERIFY_EMAIL)
        .await?
        .ok_or_else(|| {
            ApiError::bad_request("the verification token is invalid, used or expired")
        })?;
    sqlx::query(
        "UPDATE users SET email_verified_at = $1 WHERE id = $2 AND email_verified_at IS NULL",
    )
    .bind(now())
    .bind(&user_id)
    .execute(&state.database.pool)
    .await?;
    record(
        &state.database,
        AuditEvent::new("user.email_verified")
            .actor(format!("user:{user_id}"))
            .target(&user_id),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

fn invalid_credentials() -> ApiError {
    ApiError::Unauthorized {
        code: "invalid_credentials",
        message: "the email or password is wrong".into(),
    }
}

/// Logs in: a 15-minute access token and a 7-day single-use refresh token.
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in", body = TokenPair),
        (status = 400, description = "Malformed request", body = ErrorBody),
        (status = 401, description = "`invalid_credentials`, `mfa_required` or `invalid_mfa_code`", body = ErrorBody),
        (status = 403, description = "`email_not_verified` or `no_tenant`", body = ErrorBody),
        (status = 429, description = "Too many failed logins; see Retry-After", body = ErrorBody),
    ))]
pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(request): ApiJson<LoginRequest>,
) -> Result<Json<TokenPair>, ApiError> {
    let email = request.email.trim().to_lowercase();
    state
        .login_throttle
        .check(&email, &ip, now())
        .map_err(|retry_after_seconds| ApiError::TooManyRequests {
            message: "too many failed logins; wait before trying again".into(),
            retry_after_seconds,
        })?;
    let user: Option<(String, String, Option<i64>)> =
        sqlx::query_as("SELECT id, password_hash, email_verified_at FROM users WHERE email = $1")
            .bind(&email)
            .fetch_optional(&state.database.pool)
            .await?;
    let hash = user.as_ref().map_or(
        state.settings.dummy_password_hash.as_str(),
        |(_, hash, _)| hash,
    );
    let password_matches = verify_password(&request.password, hash).await?;
    let Some((user_id, _, verified_at)) = user.filter(|_| password_matches) else {
        return Err(login_failed(&state, &email, &ip, None, "invalid_credentials").await);
    };
    if verified_at.is_none() && !state.settings.dev_mode {
        return Err(ApiError::Forbidden {
            code: "email_not_verified",
            message: "verify your email first: follow the link in the email we sent".into(),
        });
    }
    let second_factor =
        second_factor(&state, &email, &ip, &user_id, request.totp.as_deref()).await?;
    let (tenant_id, role) = login_tenant(&state, &user_id, request.tenant_id.as_deref()).await?;
    let (session_id, pair) =
        tokens::start_session(&state.database, &state.signer, &user_id, &tenant_id, &role).await?;
    state.login_throttle.success(&email);
    let mut event = AuditEvent::new("login.succeeded")
        .tenant(&tenant_id)
        .actor(format!("user:{user_id}"))
        .target(&session_id)
        .ip(&ip);
    if let Some(factor) = second_factor {
        event = event.details(serde_json::json!({ "second_factor": match factor {
            SecondFactor::Totp => "totp",
            SecondFactor::RecoveryCode => "recovery_code",
        }}));
    }
    record(&state.database, event).await;
    Ok(Json(pair))
}

/// Records a failed login and returns the error for it.
async fn login_failed(
    state: &AppState,
    email: &str,
    ip: &str,
    user_id: Option<&str>,
    code: &'static str,
) -> ApiError {
    state.login_throttle.failure(email, ip, now());
    let mut event = AuditEvent::new("login.failed")
        .failed()
        .ip(ip)
        .details(serde_json::json!({ "reason": code }));
    if let Some(user_id) = user_id {
        event = event.actor(format!("user:{user_id}")).target(user_id);
    }
    record(&state.database, event).await;
    if code == "invalid_mfa_code" {
        ApiError::Unauthorized {
            code,
            message: "the TOTP or recovery code is wrong or was already used".into(),
        }
    } else {
        invalid_credentials()
    }
}

async fn second_factor(
    state: &AppState,
    email: &str,
    ip: &str,
    user_id: &str,
    code: Option<&str>,
) -> Result<Option<SecondFactor>, ApiError> {
    if !mfa::mfa_enabled(state, user_id).await? {
        return Ok(None);
    }
    let Some(code) = code.filter(|code| !code.trim().is_empty()) else {
        return Err(ApiError::Unauthorized {
            code: "mfa_required",
            message: "this account uses two-factor authentication: send `totp` with a code from the app or a recovery code".into(),
        });
    };
    match mfa::check_second_factor(state, user_id, code).await? {
        Some(factor) => Ok(Some(factor)),
        None => Err(login_failed(state, email, ip, Some(user_id), "invalid_mfa_code").await),
    }
}

/// The tenant a login is scoped to and the user's role there.
async fn login_tenant(
    state: &AppState,
    user_id: &str,
    requested: Option<&str>,
) -> Result<(String, String), ApiError> {
    let row: Option<(String, String)> = match requested {
        Some(tenant_id) => {
            sqlx::query_as("SELECT tenant_id, role FROM memberships WHERE user_id = $1 AND tenant_id = $2")
                .bind(user_id)
                .bind(tenant_id)
                .fetch_optional(&state.database.pool)
                .await?
        }
        None => {
            sqlx::query_as(
                "SELECT tenant_id, role FROM memberships WHERE user_id = $1 ORDER BY created_at, tenant_id LIMIT 1",
            )
            .bind(user_id)
            .fetch_optional(&state.database.pool)
            .await?
        }
    };
    row.ok_or_else(|| ApiError::Forbidden {
        code: "no_tenant",
        message: "you are not a member of that tenant (or of any tenant)".into(),
    })
}

/// Exchanges a refresh token for a new pair; reusing a spent token revokes its family.
#[utoipa::path(post, path = "/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses(
        (status = 200, description = "New token pair; the presented refresh token is spent", body = TokenPair),
        (status = 401, description = "`invalid_refresh_token` or `refresh_token_reused` (the session is revoked)", body = ErrorBody),
    ))]
pub async fn refresh(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(request): ApiJson<RefreshRequest>,
) -> Result<Json<TokenPair>, ApiError> {
    match tokens::refresh(&state.database, &state.signer, &request.refresh_token).await? {
        RefreshOutcome::Rotated { pair, .. } => Ok(Json(pair)),
        RefreshOutcome::Reused {
            user_id,
            session_id,
        } => {
            record(
                &state.database,
                AuditEvent::new("refresh_token.reused")
                    .failed()
                    .actor(format!("user:{user_id}"))
                    .target(&session_id)
                    .ip(&ip)
                    .details(serde_json::json!({ "action": "session revoked" })),
            )
            .await;
            Err(ApiError::Unauthorized {
                code: "refresh_token_reused",
                message:
                    "this refresh token was already used; the session is revoked, log in again"
                        .into(),
            })
        }
        RefreshOutcome::Invalid => Err(ApiError::Unauthorized {
            code: "invalid_refresh_token",
            message: "the refresh token is invalid, expired or revoked".into(),
        }),
    }
}

/// Ends the caller's session: its access and refresh tokens stop working.
#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Logged out"),
        (status = 401, description = "No valid access token", body = ErrorBody),
    ))]
pub async fn logout(
    State(state): State<AppState>,
    UserCaller(caller): UserCaller,
) -> Result<StatusCode, ApiError> {
    let (_, session_id) = caller.user()?;
    tokens::revoke_session(&state.database, session_id, "logout").await?;
    record(&state.database, caller.audit("logout").target(session_id)).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Issues tokens scoped to another tenant the user belongs to.
#[utoipa::path(post, path = "/v1/auth/switch-tenant", tag = "auth", request_body = SwitchTenantRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Tokens for the other tenant", body = TokenPair),
        (status = 403, description = "Not a member of that tenant", body = ErrorBody),
    ))]
pub async fn switch_tenant(
    State(state): State<AppState>,
    UserCaller(caller): UserCaller,
    ApiJson(request): ApiJson<SwitchTenantRequest>,
) -> Result<Json<TokenPair>, ApiError> {
    let (user_id, _) = caller.user()?;
    let (tenant_id, role) = login_tenant(&state, user_id, Some(&request.tenant_id)).await?;
    let (_, pair) =
        tokens::start_session(&state.database, &state.signer, user_id, &tenant_id, &role).await?;
    record(
        &state.database,
        AuditEvent::new("tenant.switched")
            .tenant(&tenant_id)
            .actor(caller.actor())
            .ip(&caller.ip),
    )
    .await;
    Ok(Json(pair))
}

/// Changes the caller's password; every other session is revoked.
#[utoipa::path(post, path = "/v1/auth/password/change", tag = "auth", request_body = ChangePasswordRequest,
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Changed"),
        (status = 400, description = "New password too short or long", body = ErrorBody),
        (status = 403, description = "`wrong_password`", body = ErrorBody),
    ))]
pub async fn change_password(
    State(state): State<AppState>,
    UserCaller(caller): UserCaller,
    ApiJson(request): ApiJson<ChangePasswordRequest>,
) -> Result<StatusCode, ApiError> {
    let (user_id, session_id) = caller.user()?;
    valid_password(&request.new_password, "new_password")?;
    require_password(&state, &caller, &request.current_password).await?;
    set_password(&state, user_id, &request.new_password).await?;
    tokens::revoke_user_sessions(
        &state.database,
        user_id,
        Some(session_id),
        "password_changed",
    )
    .await?;
    record(
        &state.database,
        caller.audit("password.changed").target(user_id),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

/// Fails with 403 `wrong_password` unless `password` is the caller's password.
pub async fn require_password(
    state: &AppState,
    caller: &Caller,
    password: &str,
) -> Result<(), ApiError> {
    let (user_id, _) = caller.user()?;
    let (hash,): (String,) = sqlx::query_as("SELECT password_hash FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_one(&state.database.pool)
        .await?;
    if verify_password(password, &hash).await? {
        Ok(())
    } else {
        record(
            &state.database,
            caller
                .audit("password.check_failed")
                .failed()
                .target(user_id),
        )
        .await;
        Err(ApiError::Forbidden {
            code: "wrong_password",
            message: "the current password is wrong".into(),
        })
    }
}

async fn set_password(state: &AppState, user_id: &str, password: &str) -> Result<(), ApiError> {
    let hash = hash_password(state, password).await?;
    sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
        .bind(hash)
        .bind(user_id)
        .execute(&state.database.pool)
        .await?;
    Ok(())
}

/// Sends a password-reset email if the account exists; always 202, so it reveals nothing.
#[utoipa::path(post, path = "/v1/auth/password/forgot", tag = "auth", request_body = ForgotPasswordRequest,
    responses(
        (status = 202, description = "If the account exists, a reset email is on its way"),
        (status = 400, description = "Malformed request", body = ErrorBody),
    ))]
pub async fn forgot_password(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(request): ApiJson<ForgotPasswordRequest>,
) -> Result<StatusCode, ApiError> {
    let email = valid_email(&request.email)?;
    let user: Option<(String,)> = sqlx::query_as("SELECT id FROM users WHERE email = $1")
        .bind(&email)
        .fetch_optional(&state.database.pool)
        .await?;
    if let Some((user_id,)) = user {
        let token = email::create_token(
            &state.database,
            &user_id,
            RESET_PASSWORD,
            email::RESET_PASSWORD_SECONDS,
        )
        .await?;
        let body = format!(
            "Reset your Verocta password: POST /v1/auth/password/reset with {{\"token\": \"{token}\", \"new_password\": \"…\"}}"
        );
        email::queue_email(&state.database, &email, "Reset your password", &body).await?;
        record(
            &state.database,
            AuditEvent::new("password.reset_requested")
                .target(&user_id)
                .ip(&ip),
        )
        .await;
    }
    Ok(StatusCode::ACCEPTED)
}

/// Sets a new password with the token from the reset email; every session is revoked.
#[utoipa::path(post, path = "/v1/auth/password/reset", tag = "auth", request_body = ResetPasswordRequest,
    responses(
        (status = 204, description = "Password reset"),
        (status = 400, description = "Invalid token or password", body = ErrorBody),
    ))]
pub async fn reset_password(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(request): ApiJson<ResetPasswordRequest>,
) -> Result<StatusCode, ApiError> {
    valid_password(&request.new_password, "new_password")?;
    let user_id = email::consume_token(&state.database, &request.token, RESET_PASSWORD)
        .await?
        .ok_or_else(|| ApiError::bad_request("the reset token is invalid, used or expired"))?;
    set_password(&state, &user_id, &request.new_password).await?;
    tokens::revoke_user_sessions(&state.database, &user_id, None, "password_reset").await?;
    record(
        &state.database,
        AuditEvent::new("password.reset")
            .actor(format!("user:{user_id}"))
            .target(&user_id)
            .ip(&ip),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}
