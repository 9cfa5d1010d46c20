//! Who is calling, for which tenant, with which role: tenant isolation in one place.
//!
//! [`Caller`] is the extractor every tenant-scoped route takes. It authenticates the request
//! (an access token in `Authorization: Bearer`, or an API key there or in `X-Api-Key`),
//! resolves the tenant the credential is scoped to and the role the caller holds *now* (read
//! from the database on every request, so logout, member removal and role changes act at
//! once), and refuses a `{tenant_id}` path parameter naming any other tenant with the same
//! 404 an unknown tenant gets. Handlers never take a tenant id from the client: they scope
//! every query with [`Caller::tenant_id`], and role checks are one call,
//! [`Caller::require`].

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use utoipa::ToSchema;
use verocta_schemas::TenantId;

use crate::ApiError;
use crate::audit::{AuditEvent, record};
use crate::crypto::token_hash;
use crate::db::now;
use crate::state::AppState;

/// Roles within a tenant, from most to least privileged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything, including managing owners and the tenant itself.
    Owner,
    /// Members, invitations, API keys and the audit log (not owners).
    Admin,
    /// Uploads and reads.
    Analyst,
    /// Reads only.
    Viewer,
}

impl Role {
    /// Stable code, as stored.
    pub const fn code(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Analyst => "analyst",
            Role::Viewer => "viewer",
        }
    }

    /// The role for a stored code.
    pub fn from_code(code: &str) -> Option<Self> {
        match code {
            "owner" => Some(Role::Owner),
            "admin" => Some(Role::Admin),
            "analyst" => Some(Role::Analyst),
            "viewer" => Some(Role::Viewer),
            _ => None,
        }
    }

    fn rank(self) -> u8 {
        match self {
            Role::Owner => 3,
            Role::Admin => 2,
            Role::Analyst => 1,
            Role::Viewer => 0,
        }
    }

    /// Whether this role includes everything `other` may do.
    pub fn at_least(self, other: Role) -> bool {
        self.rank() >= other.rank()
    }
}

/// The authenticated principal.
#[derive(Clone, Debug)]
pub enum Principal {
    /// A person, through an access token.
    User {
        /// User id.
        user_id: String,
        /// Session (refresh-token family) the token belongs to.
        session_id: String,
    },
    /// A machine, through an API key.
    ApiKey {
        /// Key id.
        key_id: String,
    },
}

/// An authenticated caller scoped to one tenant.
#[derive(Clone, Debug)]
pub struct Caller {
    /// Who.
    pub principal: Principal,
    /// The one tenant every query of this request is scoped to.
    pub tenant_id: TenantId,
    /// The caller's current role in that tenant.
    pub role: Role,
    /// The client's address, for the audit log.
    pub ip: String,
}

impl Caller {
    /// Fails with 403 unless the caller's role is at least `minimum`.
    pub fn require(&self, minimum: Role) -> Result<(), ApiError> {
        if self.role.at_least(minimum) {
            Ok(())
        } else {
            Err(ApiError::Forbidden {
                code: "insufficient_role",
                message: format!(
                    "this action needs the {} role or higher; you are {}",
                    minimum.code(),
                    self.role.code()
                ),
            })
        }
    }

    /// The user and session, or 403 for API keys on user-only routes.
    pub fn user(&self) -> Result<(&str, &str), ApiError> {
        match &self.principal {
            Principal::User {
                user_id,
                session_id,
            } => Ok((user_id, session_id)),
            Principal::ApiKey { .. } => Err(ApiError::Forbidden {
                code: "user_required",
                message: "this route needs a user's access token, not an API key".into(),
            }),
        }
    }

    /// `user:<id>` or `api_key:<id>`, as written in the audit log.
    pub fn actor(&self) -> String {
        match &self.principal {
            Principal::User { user_id, .. } => format!("user:{user_id}"),
            Principal::ApiKey { key_id } => format!("api_key:{key_id}"),
        }
    }

    /// An audit event by this caller in its tenant.
    pub fn audit(&self, action: &'static str) -> AuditEvent {
        AuditEvent::new(action)
            .tenant(self.tenant_id.as_str())
            .actor(self.actor())
            .ip(&self.ip)
    }
}

/// The client's IP address, as seen on the connection (`unknown` in in-process tests).
#[derive(Clone, Debug)]
pub struct ClientIp(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(client_ip(parts))
    }
}

/// The client IP of a request.
pub fn client_ip(parts: &Parts) -> ClientIp {
    parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map_or_else(
            || ClientIp("unknown".into()),
            |info| ClientIp(info.0.ip().to_string()),
        )
}

/// The credential a request presents.
pub enum Credential {
    /// A JWT access token.
    AccessToken(String),
    /// An API key.
    ApiKey(String),
}

/// Prefix of API keys.
pub const API_KEY_PREFIX: &str = "vk_";

/// Reads the credential from `Authorization: Bearer …` or `X-Api-Key`.
pub fn credential(headers: &HeaderMap) -> Result<Credential, ApiError> {
    let missing = || ApiError::unauthorized("send `Authorization: Bearer <token>` or `X-Api-Key`");
    let token = if let Some(value) = headers.get(axum::http::header::AUTHORIZATION) {
        let text = value.to_str().map_err(|_| missing())?;
        let (scheme, token) = text.split_once(' ').ok_or_else(missing)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(missing());
        }
        token.trim().to_string()
    } else if let Some(value) = headers.get("x-api-key") {
        value.to_str().map_err(|_| missing())?.trim().to_string()
    } else {
        return Err(missing());
    };
    if token.starts_with(API_KEY_PREFIX) {
        Ok(Credential::ApiKey(token))
    } else {
        Ok(Credential::AccessToken(token))
    }
}

/// Splits `vk_<20 hex>_<secret>` into the key id (`key_<20 hex>`).
pub fn api_key_id(key: &str) -> Option<String> {
    let rest = key.strip_prefix(API_KEY_PREFIX)?;
    let (hex, secret) = rest.split_once('_')?;
    let valid =
        hex.len() == 20 && hex.bytes().all(|byte| byte.is_ascii_hexdigit()) && !secret.is_empty();
    valid.then(|| format!("key_{hex}"))
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let ip = client_ip(parts).0;
        let (principal, tenant_id, role) = match credential(&parts.headers)? {
            Credential::AccessToken(token) => user_scope(state, &token).await?,
            Credential::ApiKey(key) => api_key_scope(state, &key, &ip).await?,
        };
        let path_params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::NotFound("no such route".into()))?;
        let other_tenant = path_params
            .iter()
            .any(|(name, value)| name == "tenant_id" && value != tenant_id.as_str());
        if other_tenant {
            return Err(ApiError::NotFound("no such tenant".into()));
        }
        tracing::Span::current().record("tenant_id", tenant_id.as_str());
        Ok(Caller {
            principal,
            tenant_id,
            role,
            ip,
        })
    }
}

async fn user_scope(
    state: &AppState,
    token: &str,
) -> Result<(Principal, TenantId, Role), ApiError> {
    let claims = state.signer.verify(token)?;
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT m.role FROM sessions s JOIN memberships m \
         ON m.user_id = s.user_id AND m.tenant_id = s.tenant_id \
         WHERE s.id = $1 AND s.user_id = $2 AND s.tenant_id = $3 AND s.revoked_at IS NULL",
    )
    .bind(&claims.sid)
    .bind(&claims.sub)
    .bind(&claims.tid)
    .fetch_optional(&state.database.pool)
    .await?;
    let revoked = || ApiError::Unauthorized {
        code: "session_revoked",
        message: "this session has ended; log in again".into(),
    };
    let (role,) = row.ok_or_else(revoked)?;
    let role = Role::from_code(&role).ok_or_else(|| ApiError::internal("unknown stored role"))?;
    let tenant_id = TenantId::new(claims.tid).map_err(|_| revoked())?;
    Ok((
        Principal::User {
            user_id: claims.sub,
            session_id: claims.sid,
        },
        tenant_id,
        role,
    ))
}

/// `tenant_id, role, key_hash, last_used_at, revoked_at` of an API key.
type ApiKeyRow = (String, String, String, Option<i64>, Option<i64>);

/// Seconds between two `api_key.used` audit events of one key.
const API_KEY_USE_AUDIT_SECONDS: i64 = 3600;

async fn api_key_scope(
    state: &AppState,
    key: &str,
    ip: &str,
) -> Result<(Principal, TenantId, Role), ApiError> {
    let invalid = || ApiError::Unauthorized {
        code: "invalid_api_key",
        message: "the API key is not valid or was revoked".into(),
    };
    let key_id = api_key_id(key).ok_or_else(invalid)?;
    let row: Option<ApiKeyRow> = sqlx::query_as(
        "SELECT tenant_id, role, key_hash, last_used_at, revoked_at FROM api_keys WHERE id = $1",
    )
    .bind(&key_id)
    .fetch_optional(&state.database.pool)
    .await?;
    let (tenant_id, role, key_hash, last_used_at, revoked_at) = row.ok_or_else(invalid)?;
    let matches: bool = token_hash(key).as_bytes().ct_eq(key_hash.as_bytes()).into();
    if !matches || revoked_at.is_some() {
        return Err(invalid());
    }
    let current_time = now();
    if last_used_at.is_none_or(|last| current_time - last >= API_KEY_USE_AUDIT_SECONDS) {
        sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
            .bind(current_time)
            .bind(&key_id)
            .execute(&state.database.pool)
            .await?;
        record(
            &state.database,
            AuditEvent::new("api_key.used")
                .tenant(&tenant_id)
                .actor(format!("api_key:{key_id}"))
                .target(&key_id)
                .ip(ip),
        )
        .await;
    }
    let role = Role::from_code(&role).ok_or_else(|| ApiError::internal("unknown stored role"))?;
    let tenant_id = TenantId::new(tenant_id).map_err(ApiError::internal)?;
    Ok((Principal::ApiKey { key_id }, tenant_id, role))
}

/// A caller authenticated as a user (access token only), whatever tenant the token is for.
/// Used by routes about the person rather than the tenant: MFA, password, accepting an
/// invitation, switching tenant.
pub struct UserCaller(pub Caller);

impl FromRequestParts<AppState> for UserCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        caller.user()?;
        Ok(UserCaller(caller))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered() {
        assert!(Role::Owner.at_least(Role::Admin));
        assert!(Role::Admin.at_least(Role::Admin));
        assert!(!Role::Analyst.at_least(Role::Admin));
        assert!(Role::Viewer.at_least(Role::Viewer));
        for role in [Role::Owner, Role::Admin, Role::Analyst, Role::Viewer] {
            assert_eq!(Role::from_code(role.code()), Some(role));
        }
    }

    #[test]
    fn api_key_ids_are_parsed_strictly() {
        assert_eq!(
            api_key_id("vk_0123456789abcdef0123_secret").as_deref(),
            Some("key_0123456789abcdef0123")
        );
        assert_eq!(api_key_id("vk_0123_secret"), None);
        assert_eq!(api_key_id("vk_0123456789abcdef0123_"), None);
        assert_eq!(api_key_id("vk_' OR 1=1 --"), None);
    }
}
