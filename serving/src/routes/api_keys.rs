//! `/v1/api-keys*`: keys for machines and data teams, and `/v1/audit`.
//!
//! A key is `vk_<20 hex id>_<256-bit secret>`: the id locates the row, the whole key is
//! stored only as a SHA-256 hash and compared in constant time. Keys belong to one tenant,
//! carry a role no higher than admin (and never above their creator's), are shown once at
//! creation and can be revoked. Only users (not other keys) manage keys, so a leaked key
//! cannot mint more.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::ApiError;
use crate::audit::record;
use crate::caller::{API_KEY_PREFIX, Caller, Role};
use crate::crypto::{hex, random_bytes, random_token, token_hash};
use crate::db::{now, rfc3339};
use crate::error::ErrorBody;
use crate::extract::{ApiJson, ApiPath, ApiQuery, valid_name};
use crate::state::AppState;

/// `POST /v1/api-keys`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKeyRequest {
    /// What the key is for.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1f]*\S[^\x00-\x1f]*$"
    )]
    pub name: String,
    /// Its role: admin, analyst or viewer.
    pub role: Role,
}

/// An API key (without its secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKey {
    /// Key id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Creation time (RFC 3339).
    pub created_at: String,
    /// Last use (RFC 3339, at most hourly precision), if any.
    pub last_used_at: Option<String>,
    /// Revocation time, if revoked.
    pub revoked_at: Option<String>,
    /// The key itself: only in the creation response.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// The tenant's keys.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyList {
    /// Keys, newest first.
    pub items: Vec<ApiKey>,
}

/// Creates a key (owners and admins, users only); the key is shown once.
#[utoipa::path(post, path = "/v1/api-keys", tag = "api-keys", request_body = CreateApiKeyRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created; store `key` now", body = ApiKey),
        (status = 400, description = "Invalid name or role", body = ErrorBody),
        (status = 403, description = "Role too low, or called with an API key", body = ErrorBody),
    ))]
pub async fn create_api_key(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<CreateApiKeyRequest>,
) -> Result<(StatusCode, Json<ApiKey>), ApiError> {
    caller.user()?;
    caller.require(Role::Admin)?;
    if request.role == Role::Owner {
        return Err(ApiError::bad_request(
            "API keys can be admin, analyst or viewer",
        ));
    }
    let name = valid_name(&request.name, "name")?;
    let id_hex = hex(&random_bytes::<10>()?);
    let key = random_token(&format!("{API_KEY_PREFIX}{id_hex}_"))?;
    let id = format!("key_{id_hex}");
    let created_at = now();
    sqlx::query(
        "INSERT INTO api_keys (id, tenant_id, name, role, key_hash, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&id)
    .bind(caller.tenant_id.as_str())
    .bind(&name)
    .bind(request.role.code())
    .bind(token_hash(&key))
    .bind(caller.actor())
    .bind(created_at)
    .execute(&state.database.pool)
    .await?;
    record(
        &state.database,
        caller
            .audit("api_key.created")
            .target(&id)
            .details(serde_json::json!({ "role": request.role.code(), "name": name })),
    )
    .await;
    Ok((
        StatusCode::CREATED,
        Json(ApiKey {
            id,
            name,
            role: request.role,
            created_at: rfc3339(created_at),
            last_used_at: None,
            revoked_at: None,
            key: Some(key),
        }),
    ))
}

/// `id, name, role, created_at, last_used_at, revoked_at` of a key.
type ApiKeyRow = (String, String, String, i64, Option<i64>, Option<i64>);

/// The tenant's keys (owners and admins).
#[utoipa::path(get, path = "/v1/api-keys", tag = "api-keys",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Keys", body = ApiKeyList),
        (status = 403, description = "Role too low, or called with an API key", body = ErrorBody),
    ))]
pub async fn list_api_keys(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<ApiKeyList>, ApiError> {
    caller.user()?;
    caller.require(Role::Admin)?;
    let rows: Vec<ApiKeyRow> = sqlx::query_as(
        "SELECT id, name, role, created_at, last_used_at, revoked_at FROM api_keys \
         WHERE tenant_id = $1 ORDER BY created_at DESC, id",
    )
    .bind(caller.tenant_id.as_str())
    .fetch_all(&state.database.pool)
    .await?;
    let items = rows
        .into_iter()
        .map(|(id, name, role, created_at, last_used_at, revoked_at)| {
            Ok(ApiKey {
                id,
                name,
                role: Role::from_code(&role)
                    .ok_or_else(|| ApiError::internal("unknown stored role"))?,
                created_at: rfc3339(created_at),
                last_used_at: last_used_at.map(rfc3339),
                revoked_at: revoked_at.map(rfc3339),
                key: None,
            })
        })
        .collect::<Result<_, ApiError>>()?;
    Ok(Json(ApiKeyList { items }))
}

/// Revokes a key at once (owners and admins).
#[utoipa::path(delete, path = "/v1/api-keys/{key_id}", tag = "api-keys",
    params(("key_id" = String, Path, description = "Key id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Revoked"),
        (status = 403, description = "Role too low, or called with an API key", body = ErrorBody),
        (status = 404, description = "No such active key in this tenant", body = ErrorBody),
    ))]
pub async fn revoke_api_key(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(key_id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    caller.user()?;
    caller.require(Role::Admin)?;
    let result = sqlx::query(
        "UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND tenant_id = $3 AND revoked_at IS NULL",
    )
    .bind(now())
    .bind(&key_id)
    .bind(caller.tenant_id.as_str())
    .execute(&state.database.pool)
    .await?;
    if result.rows_affected() != 1 {
        return Err(ApiError::NotFound("no such active API key".into()));
    }
    record(
        &state.database,
        caller.audit("api_key.revoked").target(&key_id),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

/// Paging of the audit log.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Events per page, 1 to 500 (default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    #[param(pattern = "^[1-9][0-9]{0,17}$")]
    pub cursor: Option<String>,
}

/// One audit event.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntry {
    /// Sequence number.
    pub id: i64,
    /// What happened, e.g. `login.succeeded`, `member.role_changed`.
    pub action: String,
    /// `user:<id>` or `api_key:<id>`.
    pub actor: Option<String>,
    /// What it was done to.
    pub target: Option<String>,
    /// `success` or `failure`.
    pub outcome: String,
    /// Client address.
    pub ip: Option<String>,
    /// Details.
    #[schema(value_type = Object, nullable)]
    pub details: Option<serde_json::Value>,
    /// When (RFC 3339).
    pub created_at: String,
}

/// A page of audit events.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    /// Events, newest first.
    pub items: Vec<AuditEntry>,
    /// Cursor of the next page, if any.
    pub next_cursor: Option<String>,
}

type AuditRow = (
    i64,
    String,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
    i64,
);

/// The tenant's audit log, newest first (owners and admins).
#[utoipa::path(get, path = "/v1/audit", tag = "audit", params(AuditQuery),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "Events", body = AuditPage),
        (status = 400, description = "Invalid limit or cursor", body = ErrorBody),
        (status = 403, description = "Role too low", body = ErrorBody),
    ))]
pub async fn list_audit(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> Result<Json<AuditPage>, ApiError> {
    caller.require(Role::Admin)?;
    let limit = page_limit(query.limit)?;
    let before = match &query.cursor {
        Some(cursor) => cursor
            .parse::<i64>()
            .ok()
            .filter(|id| *id > 0)
            .ok_or_else(|| ApiError::bad_request("`cursor` is not a cursor from this endpoint"))?,
        None => i64::MAX,
    };
    let rows: Vec<AuditRow> = sqlx::query_as(
        "SELECT id, action, actor, target, outcome, ip, details, created_at FROM audit_log \
         WHERE tenant_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
    )
    .bind(caller.tenant_id.as_str())
    .bind(before)
    .bind(i64::from(limit) + 1)
    .fetch_all(&state.database.pool)
    .await?;
    let has_more = rows.len() > limit as usize;
    let items: Vec<AuditEntry> = rows
        .into_iter()
        .take(limit as usize)
        .map(
            |(id, action, actor, target, outcome, ip, details, created_at)| AuditEntry {
                id,
                action,
                actor,
                target,
                outcome,
                ip,
                details: details.and_then(|text| serde_json::from_str(&text).ok()),
                created_at: rfc3339(created_at),
            },
        )
        .collect();
    let next_cursor = if has_more {
        items.last().map(|last| last.id.to_string())
    } else {
        None
    };
    Ok(Json(AuditPage { items, next_cursor }))
}

/// Largest page size of list endpoints.
pub const MAX_PAGE_SIZE: u32 = 500;
/// Default page size.
pub const DEFAULT_PAGE_SIZE: u32 = 100;

/// Checks a `limit` parameter.
pub fn page_limit(limit: Option<u32>) -> Result<u32, ApiError> {
    let limit = limit.unwrap_or(DEFAULT_PAGE_SIZE);
    if (1..=MAX_PAGE_SIZE).contains(&limit) {
        Ok(limit)
    } else {
        Err(ApiError::bad_request(format!(
            "`limit` must be between 1 and {MAX_PAGE_SIZE}"
        )))
    }
}
