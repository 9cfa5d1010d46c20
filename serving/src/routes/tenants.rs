//! `/v1/me`, `/v1/tenants*`, `/v1/members*` and `/v1/invitations*`: who I am, my tenants,
//! the members of the current tenant, their roles, and invitations.
//!
//! Rules beyond the role ranks: only owners grant, change or remove the owner role; a tenant
//! always keeps at least one owner; removing a member ends their sessions in that tenant.
//! Invitations are accepted by the user whose email they name, from any of their sessions.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ApiError;
use crate::audit::record;
use crate::caller::{Caller, Role, UserCaller};
use crate::crypto::{random_id, random_token, token_hash};
use crate::db::{is_unique_violation, now, rfc3339};
use crate::error::ErrorBody;
use crate::extract::{ApiJson, ApiPath, valid_email, valid_name};
use crate::mfa;
use crate::state::AppState;

/// A tenant the user belongs to.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantMembership {
    /// Tenant id.
    pub tenant_id: String,
    /// Company name.
    pub name: String,
    /// The user's role there.
    pub role: Role,
}

/// The caller.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    /// User id; null for API keys.
    pub user_id: Option<String>,
    /// Email; null for API keys.
    pub email: Option<String>,
    /// Whether the email is verified.
    pub email_verified: bool,
    /// Whether login needs a second factor.
    pub mfa_enabled: bool,
    /// API key id, when the caller is one.
    pub api_key_id: Option<String>,
    /// The tenant this credential is scoped to.
    pub tenant_id: String,
    /// The caller's role there.
    pub role: Role,
    /// Every tenant the user belongs to (empty for API keys).
    pub tenants: Vec<TenantMembership>,
}

/// A tenant.
#[derive(Debug, Serialize, ToSchema)]
pub struct Tenant {
    /// Tenant id.
    pub tenant_id: String,
    /// Company name.
    pub name: String,
    /// Creation time (RFC 3339).
    pub created_at: String,
    /// The caller's role.
    pub role: Role,
}

/// `POST /v1/tenants` and `PATCH /v1/tenants/{tenant_id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantRequest {
    /// Company name.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1f]*\S[^\x00-\x1f]*$"
    )]
    pub name: String,
}

/// A member of the current tenant.
#[derive(Debug, Serialize, ToSchema)]
pub struct Member {
    /// User id.
    pub user_id: String,
    /// Email.
    pub email: String,
    /// Role.
    pub role: Role,
    /// When they joined (RFC 3339).
    pub joined_at: String,
}

/// A list of members.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberList {
    /// The members, oldest first.
    pub items: Vec<Member>,
}

/// `PATCH /v1/members/{user_id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleRequest {
    /// The new role.
    pub role: Role,
}

/// `POST /v1/invitations`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvitationRequest {
    /// Who to invite.
    #[schema(
        format = "email",
        max_length = 254,
        pattern = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
    )]
    pub email: String,
    /// The role they will have.
    pub role: Role,
}

/// An invitation.
#[derive(Debug, Serialize, ToSchema)]
pub struct Invitation {
    /// Invitation id.
    pub invitation_id: String,
    /// Invited email.
    pub email: String,
    /// Role on acceptance.
    pub role: Role,
    /// Expiry (RFC 3339).
    pub expires_at: String,
    /// The acceptance token: only in the creation response (it is also emailed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// Pending invitations.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationList {
    /// The invitations.
    pub items: Vec<Invitation>,
}

/// `POST /v1/invitations/accept`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptInvitationRequest {
    /// The token from the invitation.
    pub token: String,
}

/// What accepting joined.
#[derive(Debug, Serialize, ToSchema)]
pub struct AcceptedInvitation {
    /// The tenant joined; use `POST /v1/auth/switch-tenant` to work in it.
    pub tenant_id: String,
    /// The role there.
    pub role: Role,
}

/// Lifetime of an invitation: 7 days.
pub const INVITATION_SECONDS: i64 = 7 * 24 * 3600;

fn stored_role(code: &str) -> Result<Role, ApiError> {
    Role::from_code(code).ok_or_else(|| ApiError::internal(format!("unknown stored role {code}")))
}

async fn user_tenants(state: &AppState, user_id: &str) -> Result<Vec<TenantMembership>, ApiError> {
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT t.id, t.name, m.role FROM memberships m JOIN tenants t ON t.id = m.tenant_id \
         WHERE m.user_id = $1 ORDER BY m.created_at, t.id",
    )
    .bind(user_id)
    .fetch_all(&state.database.pool)
    .await?;
    rows.into_iter()
        .map(|(tenant_id, name, role)| {
            Ok(TenantMembership {
                tenant_id,
                name,
                role: stored_role(&role)?,
            })
        })
        .collect()
}

/// The caller: user, tenant, role, MFA state, and all their tenants.
#[utoipa::path(get, path = "/v1/me", tag = "tenants",
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The caller", body = Me),
        (status = 401, description = "No valid credential", body = ErrorBody),
    ))]
pub async fn me(State(state): State<AppState>, caller: Caller) -> Result<Json<Me>, ApiError> {
    let Ok((user_id, _)) = caller.user() else {
        let crate::caller::Principal::ApiKey { key_id } = &caller.principal else {
            return Err(ApiError::internal("caller is neither user nor key"));
        };
        return Ok(Json(Me {
            user_id: None,
            email: None,
            email_verified: false,
            mfa_enabled: false,
            api_key_id: Some(key_id.clone()),
            tenant_id: caller.tenant_id.to_string(),
            role: caller.role,
            tenants: Vec::new(),
        }));
    };
    let (email, verified_at): (String, Option<i64>) =
        sqlx::query_as("SELECT email, email_verified_at FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_one(&state.database.pool)
            .await?;
    Ok(Json(Me {
        user_id: Some(user_id.to_string()),
        email: Some(email),
        email_verified: verified_at.is_some(),
        mfa_enabled: mfa::mfa_enabled(&state, user_id).await?,
        api_key_id: None,
        tenant_id: caller.tenant_id.to_string(),
        role: caller.role,
        tenants: user_tenants(&state, user_id).await?,
    }))
}

/// The tenants the user belongs to.
#[utoipa::path(get, path = "/v1/tenants", tag = "tenants",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The user's tenants", body = [TenantMembership]),
        (status = 401, description = "No valid access token", body = ErrorBody),
    ))]
pub async fn list_tenants(
    State(state): State<AppState>,
    UserCaller(caller): UserCaller,
) -> Result<Json<Vec<TenantMembership>>, ApiError> {
    let (user_id, _) = caller.user()?;
    Ok(Json(user_tenants(&state, user_id).await?))
}

/// Creates another tenant owned by the caller.
#[utoipa::path(post, path = "/v1/tenants", tag = "tenants", request_body = TenantRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created; switch to it with /v1/auth/switch-tenant", body = TenantMembership),
        (status = 400, description = "Invalid name", body = ErrorBody),
    ))]
pub async fn create_tenant(
    State(state): State<AppState>,
    UserCaller(caller): UserCaller,
    ApiJson(request): ApiJson<TenantRequest>,
) -> Result<(StatusCode, Json<TenantMembership>), ApiError> {
    let (user_id, _) = caller.user()?;
    let name = valid_name(&request.name, "name")?;
    let tenant_id = random_id("tn_")?;
    let created_at = now();
    let mut transaction = state.database.pool.begin().await?;
    sqlx::query("INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3)")
        .bind(&tenant_id)
        .bind(&name)
        .bind(created_at)
        .execute(&mut *transaction)
        .await?;
    sqlx::query(
        "INSERT INTO memberships (tenant_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(&tenant_id)
    .bind(user_id)
    .bind(Role::Owner.code())
    .bind(created_at)
    .execute(&mut *transaction)
    .await?;
    transaction.commit().await?;
    record(
        &state.database,
        crate::audit::AuditEvent::new("tenant.created")
            .tenant(&tenant_id)
            .actor(caller.actor())
            .ip(&caller.ip),
    )
    .await;
    Ok((
        StatusCode::CREATED,
        Json(TenantMembership {
            tenant_id,
            name,
            role: Role::Owner,
        }),
    ))
}

/// One tenant: only the tenant the credential is scoped to (any other is 404).
#[utoipa::path(get, path = "/v1/tenants/{tenant_id}", tag = "tenants",
    params(("tenant_id" = String, Path, description = "Tenant id")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The tenant", body = Tenant),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 404, description = "Not the caller's tenant", body = ErrorBody),
    ))]
pub async fn get_tenant(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Tenant>, ApiError> {
    let (name, created_at): (String, i64) =
        sqlx::query_as("SELECT name, created_at FROM tenants WHERE id = $1")
            .bind(caller.tenant_id.as_str())
            .fetch_one(&state.database.pool)
            .await?;
    Ok(Json(Tenant {
        tenant_id: caller.tenant_id.to_string(),
        name,
        created_at: rfc3339(created_at),
        role: caller.role,
    }))
}

/// Renames the tenant (owners and admins).
#[utoipa::path(patch, path = "/v1/tenants/{tenant_id}", tag = "tenants", request_body = TenantRequest,
    params(("tenant_id" = String, Path, description = "Tenant id")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "Renamed", body = Tenant),
        (status = 403, description = "Role too low", body = ErrorBody),
        (status = 404, description = "Not the caller's tenant", body = ErrorBody),
    ))]
pub async fn update_tenant(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<TenantRequest>,
) -> Result<Json<Tenant>, ApiError> {
    caller.require(Role::Admin)?;
    let name = valid_name(&request.name, "name")?;
    sqlx::query("UPDATE tenants SET name = $1 WHERE id = $2")
        .bind(&name)
        .bind(caller.tenant_id.as_str())
        .execute(&state.database.pool)
        .await?;
    record(&state.database, caller.audit("tenant.renamed")).await;
    get_tenant(State(state), caller).await
}

/// The members of the current tenant.
#[utoipa::path(get, path = "/v1/members", tag = "members",
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "Members", body = MemberList),
        (status = 401, description = "No valid credential", body = ErrorBody),
    ))]
pub async fn list_members(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<MemberList>, ApiError> {
    let rows: Vec<(String, String, String, i64)> = sqlx::query_as(
        "SELECT u.id, u.email, m.role, m.created_at FROM memberships m JOIN users u ON u.id = m.user_id \
         WHERE m.tenant_id = $1 ORDER BY m.created_at, u.id",
    )
    .bind(caller.tenant_id.as_str())
    .fetch_all(&state.database.pool)
    .await?;
    let items = rows
        .into_iter()
        .map(|(user_id, email, role, joined_at)| {
            Ok(Member {
                user_id,
                email,
                role: stored_role(&role)?,
                joined_at: rfc3339(joined_at),
            })
        })
        .collect::<Result<_, ApiError>>()?;
    Ok(Json(MemberList { items }))
}

async fn member_role(state: &AppState, caller: &Caller, user_id: &str) -> Result<Role, ApiError> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT role FROM memberships WHERE tenant_id = $1 AND user_id = $2")
            .bind(caller.tenant_id.as_str())
            .bind(user_id)
            .fetch_optional(&state.database.pool)
            .await?;
    let (role,) = row.ok_or_else(|| ApiError::NotFound("no such member".into()))?;
    stored_role(&role)
}

async fn owner_count(state: &AppState, caller: &Caller) -> Result<i64, ApiError> {
    let (count,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM memberships WHERE tenant_id = $1 AND role = $2")
            .bind(caller.tenant_id.as_str())
            .bind(Role::Owner.code())
            .fetch_one(&state.database.pool)
            .await?;
    Ok(count)
}

/// Owners alone touch the owner role; a tenant keeps at least one owner.
async fn check_member_change(
    state: &AppState,
    caller: &Caller,
    current: Role,
    new: Option<Role>,
) -> Result<(), ApiError> {
    caller.require(Role::Admin)?;
    if (current == Role::Owner || new == Some(Role::Owner)) && caller.role != Role::Owner {
        return Err(ApiError::Forbidden {
            code: "insufficient_role",
            message: "only owners can grant, change or remove the owner role".into(),
        });
    }
    if current == Role::Owner && new != Some(Role::Owner) && owner_count(state, caller).await? <= 1
    {
        return Err(ApiError::Conflict(
            "a tenant needs at least one owner; make someone else owner first".into(),
        ));
    }
    Ok(())
}

/// Changes a member's role (owners and admins; owner role by owners only).
#[utoipa::path(patch, path = "/v1/members/{user_id}", tag = "members", request_body = RoleRequest,
    params(("user_id" = String, Path, description = "Member's user id")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "Updated", body = Member),
        (status = 403, description = "Role too low", body = ErrorBody),
        (status = 404, description = "No such member in this tenant", body = ErrorBody),
        (status = 409, description = "Would leave no owner", body = ErrorBody),
    ))]
pub async fn update_member(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(user_id): ApiPath<String>,
    ApiJson(request): ApiJson<RoleRequest>,
) -> Result<Json<Member>, ApiError> {
    caller.require(Role::Admin)?;
    let current = member_role(&state, &caller, &user_id).await?;
    check_member_change(&state, &caller, current, Some(request.role)).await?;
    sqlx::query("UPDATE memberships SET role = $1 WHERE tenant_id = $2 AND user_id = $3")
        .bind(request.role.code())
        .bind(caller.tenant_id.as_str())
        .bind(&user_id)
        .execute(&state.database.pool)
        .await?;
    record(
        &state.database,
        caller
            .audit("member.role_changed")
            .target(&user_id)
            .details(serde_json::json!({ "from": current.code(), "to": request.role.code() })),
    )
    .await;
    let (email, joined_at): (String, i64) = sqlx::query_as(
        "SELECT u.email, m.created_at FROM memberships m JOIN users u ON u.id = m.user_id \
         WHERE m.tenant_id = $1 AND m.user_id = $2",
    )
    .bind(caller.tenant_id.as_str())
    .bind(&user_id)
    .fetch_one(&state.database.pool)
    .await?;
    Ok(Json(Member {
        user_id,
        email,
        role: request.role,
        joined_at: rfc3339(joined_at),
    }))
}

/// Removes a member; their sessions in this tenant end.
#[utoipa::path(delete, path = "/v1/members/{user_id}", tag = "members",
    params(("user_id" = String, Path, description = "Member's user id")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 204, description = "Removed"),
        (status = 403, description = "Role too low", body = ErrorBody),
        (status = 404, description = "No such member in this tenant", body = ErrorBody),
        (status = 409, description = "Would leave no owner", body = ErrorBody),
    ))]
pub async fn remove_member(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(user_id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Admin)?;
    let current = member_role(&state, &caller, &user_id).await?;
    check_member_change(&state, &caller, current, None).await?;
    sqlx::query("DELETE FROM memberships WHERE tenant_id = $1 AND user_id = $2")
        .bind(caller.tenant_id.as_str())
        .bind(&user_id)
        .execute(&state.database.pool)
        .await?;
    sqlx::query(
        "UPDATE sessions SET revoked_at = $1, revoked_reason = 'membership_removed' \
         WHERE tenant_id = $2 AND user_id = $3 AND revoked_at IS NULL",
    )
    .bind(now())
    .bind(caller.tenant_id.as_str())
    .bind(&user_id)
    .execute(&state.database.pool)
    .await?;
    record(
        &state.database,
        caller.audit("member.removed").target(&user_id),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

/// Invites someone by email (owners and admins; owner invitations by owners only).
#[utoipa::path(post, path = "/v1/invitations", tag = "members", request_body = InvitationRequest,
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 201, description = "Invited; the token is emailed and returned once", body = Invitation),
        (status = 400, description = "Invalid email", body = ErrorBody),
        (status = 403, description = "Role too low", body = ErrorBody),
    ))]
pub async fn create_invitation(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<InvitationRequest>,
) -> Result<(StatusCode, Json<Invitation>), ApiError> {
    caller.require(Role::Admin)?;
    if request.role == Role::Owner {
        caller.require(Role::Owner)?;
    }
    let email = valid_email(&request.email)?;
    let invitation_id = random_id("inv_")?;
    let token = random_token("vin_")?;
    let created_at = now();
    sqlx::query(
        "INSERT INTO invitations (id, tenant_id, email, role, token_hash, invited_by, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&invitation_id)
    .bind(caller.tenant_id.as_str())
    .bind(&email)
    .bind(request.role.code())
    .bind(token_hash(&token))
    .bind(caller.actor())
    .bind(created_at)
    .bind(created_at + INVITATION_SECONDS)
    .execute(&state.database.pool)
    .await?;
    let body = format!(
        "You are invited to a Verocta workspace: log in or register, then POST /v1/invitations/accept with {{\"token\": \"{token}\"}}"
    );
    crate::email::queue_email(&state.database, &email, "Your Verocta invitation", &body).await?;
    record(
        &state.database,
        caller
            .audit("invitation.created")
            .target(&invitation_id)
            .details(serde_json::json!({ "email": email, "role": request.role.code() })),
    )
    .await;
    Ok((
        StatusCode::CREATED,
        Json(Invitation {
            invitation_id,
            email,
            role: request.role,
            expires_at: rfc3339(created_at + INVITATION_SECONDS),
            token: Some(token),
        }),
    ))
}

/// Pending invitations of the current tenant (owners and admins).
#[utoipa::path(get, path = "/v1/invitations", tag = "members",
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "Pending invitations", body = InvitationList),
        (status = 403, description = "Role too low", body = ErrorBody),
    ))]
pub async fn list_invitations(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<InvitationList>, ApiError> {
    caller.require(Role::Admin)?;
    let rows: Vec<(String, String, String, i64)> = sqlx::query_as(
        "SELECT id, email, role, expires_at FROM invitations \
         WHERE tenant_id = $1 AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > $2 \
         ORDER BY created_at, id",
    )
    .bind(caller.tenant_id.as_str())
    .bind(now())
    .fetch_all(&state.database.pool)
    .await?;
    let items = rows
        .into_iter()
        .map(|(invitation_id, email, role, expires_at)| {
            Ok(Invitation {
                invitation_id,
                email,
                role: stored_role(&role)?,
                expires_at: rfc3339(expires_at),
                token: None,
            })
        })
        .collect::<Result<_, ApiError>>()?;
    Ok(Json(InvitationList { items }))
}

/// Revokes a pending invitation (owners and admins).
#[utoipa::path(delete, path = "/v1/invitations/{invitation_id}", tag = "members",
    params(("invitation_id" = String, Path, description = "Invitation id")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 204, description = "Revoked"),
        (status = 403, description = "Role too low", body = ErrorBody),
        (status = 404, description = "No such pending invitation in this tenant", body = ErrorBody),
    ))]
pub async fn revoke_invitation(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(invitation_id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Admin)?;
    let result = sqlx::query(
        "UPDATE invitations SET revoked_at = $1 \
         WHERE id = $2 AND tenant_id = $3 AND accepted_at IS NULL AND revoked_at IS NULL",
    )
    .bind(now())
    .bind(&invitation_id)
    .bind(caller.tenant_id.as_str())
    .execute(&state.database.pool)
    .await?;
    if result.rows_affected() != 1 {
        return Err(ApiError::NotFound("no such pending invitation".into()));
    }
    record(
        &state.database,
        caller.audit("invitation.revoked").target(&invitation_id),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

/// `id, tenant_id, email, role, expires_at, accepted_at, revoked_at` of an invitation.
type InvitationRow = (
    String,
    String,
    String,
    String,
    i64,
    Option<i64>,
    Option<i64>,
);

/// Accepts an invitation addressed to the caller's email.
#[utoipa::path(post, path = "/v1/invitations/accept", tag = "members", request_body = AcceptInvitationRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Joined", body = AcceptedInvitation),
        (status = 400, description = "Invalid, used, revoked or expired token", body = ErrorBody),
        (status = 403, description = "The invitation is for another email", body = ErrorBody),
        (status = 409, description = "Already a member", body = ErrorBody),
    ))]
pub async fn accept_invitation(
    State(state): State<AppState>,
    UserCaller(caller): UserCaller,
    ApiJson(request): ApiJson<AcceptInvitationRequest>,
) -> Result<Json<AcceptedInvitation>, ApiError> {
    let (user_id, _) = caller.user()?;
    let invalid = || ApiError::bad_request("the invitation is invalid, used, revoked or expired");
    let row: Option<InvitationRow> = sqlx::query_as(
        "SELECT id, tenant_id, email, role, expires_at, accepted_at, revoked_at FROM invitations WHERE token_hash = $1",
    )
    .bind(token_hash(&request.token))
    .fetch_optional(&state.database.pool)
    .await?;
    let (invitation_id, tenant_id, email, role, expires_at, accepted_at, revoked_at) =
        row.ok_or_else(invalid)?;
    if accepted_at.is_some() || revoked_at.is_some() || expires_at <= now() {
        return Err(invalid());
    }
    let (user_email,): (String,) = sqlx::query_as("SELECT email FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_one(&state.database.pool)
        .await?;
    if user_email != email {
        return Err(ApiError::forbidden(
            "this invitation is for another email address",
        ));
    }
    let role = stored_role(&role)?;
    join_tenant(&state, &invitation_id, &tenant_id, user_id, role).await?;
    record(
        &state.database,
        crate::audit::AuditEvent::new("invitation.accepted")
            .tenant(&tenant_id)
            .actor(caller.actor())
            .target(&invitation_id)
            .ip(&caller.ip),
    )
    .await;
    Ok(Json(AcceptedInvitation { tenant_id, role }))
}

async fn join_tenant(
    state: &AppState,
    invitation_id: &str,
    tenant_id: &str,
    user_id: &str,
    role: Role,
) -> Result<(), ApiError> {
    let mut transaction = state.database.pool.begin().await?;
    let accepted = sqlx::query(
        "UPDATE invitations SET accepted_at = $1 WHERE id = $2 AND accepted_at IS NULL",
    )
    .bind(now())
    .bind(invitation_id)
    .execute(&mut *transaction)
    .await?;
    if accepted.rows_affected() != 1 {
        return Err(ApiError::bad_request("the invitation was already used"));
    }
    let inserted = sqlx::query(
        "INSERT INTO memberships (tenant_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(tenant_id)
    .bind(user_id)
    .bind(role.code())
    .bind(now())
    .execute(&mut *transaction)
    .await;
    match inserted {
        Err(error) if is_unique_violation(&error) => {
            return Err(ApiError::Conflict(
                "you are already a member of this tenant".into(),
            ));
        }
        other => other?,
    };
    transaction.commit().await?;
    Ok(())
}
