//! Access tokens (JWT) and refresh-token families.
//!
//! - Access tokens are HS256 JWTs valid for [`ACCESS_TOKEN_SECONDS`], carrying the user
//!   (`sub`), the tenant (`tid`), the role at issue time (`role`) and the session (`sid`).
//!   Only HS256 is accepted, so `alg: none` and algorithm-confusion tokens fail; expiry is
//!   checked without leeway. Every request also checks that the session is live and reads the
//!   current role (see [`crate::caller`]), so logout, member removal and role changes act at
//!   once rather than after the token expires.
//! - Refresh tokens are opaque 256-bit values stored as SHA-256 hashes, valid for
//!   [`REFRESH_TOKEN_SECONDS`]. All refresh tokens of one login form a family (the session).
//!   Each use rotates: the presented token is marked used and a new one issued. Presenting a
//!   token that was already used means it was copied, so the whole family is revoked (theft
//!   detection); the legitimate user logs in again.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::ApiError;
use crate::crypto::{random_id, random_token, token_hash};
use crate::db::{Database, now};
use crate::keys::JwtSecrets;

/// Lifetime of an access token: 15 minutes.
pub const ACCESS_TOKEN_SECONDS: i64 = 15 * 60;
/// Lifetime of a refresh token: 7 days.
pub const REFRESH_TOKEN_SECONDS: i64 = 7 * 24 * 60 * 60;
/// Prefix of refresh tokens, so leaked ones are recognisable.
pub const REFRESH_TOKEN_PREFIX: &str = "vrt_";

/// The claims of an access token.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessClaims {
    /// User id.
    pub sub: String,
    /// Tenant the token is scoped to.
    pub tid: String,
    /// Role in that tenant when the token was issued.
    pub role: String,
    /// Session (refresh-token family) id.
    pub sid: String,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Expires at (Unix seconds).
    pub exp: i64,
}

/// Signs and verifies access tokens.
#[derive(Clone)]
pub struct TokenSigner {
    encoding: EncodingKey,
    decoding: Vec<DecodingKey>,
    validation: Validation,
}

impl TokenSigner {
    /// A signer for the given secrets.
    pub fn new(secrets: &JwtSecrets) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        TokenSigner {
            encoding: EncodingKey::from_secret(&secrets.current),
            decoding: std::iter::once(&secrets.current)
                .chain(&secrets.previous)
                .map(|secret| DecodingKey::from_secret(secret))
                .collect(),
            validation,
        }
    }

    /// Signs claims into a compact JWT.
    pub fn sign(&self, claims: &AccessClaims) -> Result<String, ApiError> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .map_err(ApiError::internal)
    }

    /// Verifies a JWT: signature by a known secret, HS256 only, not expired.
    pub fn verify(&self, token: &str) -> Result<AccessClaims, ApiError> {
        let mut last_error = None;
        for key in &self.decoding {
            match jsonwebtoken::decode::<AccessClaims>(token, key, &self.validation) {
                Ok(data) => return Ok(data.claims),
                Err(error) => last_error = Some(error),
            }
        }
        let expired = last_error.is_some_and(|error| {
            matches!(
                error.kind(),
                jsonwebtoken::errors::ErrorKind::ExpiredSignature
            )
        });
        Err(ApiError::Unauthorized {
            code: if expired {
                "token_expired"
            } else {
                "invalid_token"
            },
            message: if expired {
                "the access token has expired; refresh it".into()
            } else {
                "the access token is not valid".into()
            },
        })
    }
}

/// What login, refresh and tenant switching return.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenPair {
    /// JWT for `Authorization: Bearer`, valid `expires_in` seconds.
    pub access_token: String,
    /// Opaque token for `POST /v1/auth/refresh`, valid 7 days, single use.
    pub refresh_token: String,
    /// Seconds until the access token expires (900).
    pub expires_in: i64,
    /// Always `Bearer`.
    pub token_type: String,
}

/// Starts a new session (refresh-token family) for a user in a tenant and issues its tokens.
pub async fn start_session(
    database: &Database,
    signer: &TokenSigner,
    user_id: &str,
    tenant_id: &str,
    role: &str,
) -> Result<(String, TokenPair), ApiError> {
    let session_id = random_id("ses_")?;
    sqlx::query(
        "INSERT INTO sessions (id, user_id, tenant_id, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(&session_id)
    .bind(user_id)
    .bind(tenant_id)
    .bind(now())
    .execute(&database.pool)
    .await?;
    let pair = issue_pair(database, signer, &session_id, user_id, tenant_id, role).await?;
    Ok((session_id, pair))
}

async fn issue_pair(
    database: &Database,
    signer: &TokenSigner,
    session_id: &str,
    user_id: &str,
    tenant_id: &str,
    role: &str,
) -> Result<TokenPair, ApiError> {
    let issued_at = now();
    let refresh_token = random_token(REFRESH_TOKEN_PREFIX)?;
    sqlx::query(
        "INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(token_hash(&refresh_token))
    .bind(session_id)
    .bind(issued_at)
    .bind(issued_at + REFRESH_TOKEN_SECONDS)
    .execute(&database.pool)
    .await?;
    let access_token = signer.sign(&AccessClaims {
        sub: user_id.to_string(),
        tid: tenant_id.to_string(),
        role: role.to_string(),
        sid: session_id.to_string(),
        iat: issued_at,
        exp: issued_at + ACCESS_TOKEN_SECONDS,
    })?;
    Ok(TokenPair {
        access_token,
        refresh_token,
        expires_in: ACCESS_TOKEN_SECONDS,
        token_type: "Bearer".into(),
    })
}

/// The outcome of presenting a refresh token.
pub enum RefreshOutcome {
    /// Rotated: the new pair, with the session's user and tenant.
    Rotated {
        /// The new tokens.
        pair: TokenPair,
        /// The user.
        user_id: String,
        /// The tenant.
        tenant_id: String,
    },
    /// The token had already been used: its family is now revoked.
    Reused {
        /// The user whose family was revoked.
        user_id: String,
        /// The revoked session.
        session_id: String,
    },
    /// Unknown, expired, or of a revoked family.
    Invalid,
}

/// `session_id, expires_at, used_at, user_id, tenant_id, revoked_at` of a refresh token.
type RefreshRow = (String, i64, Option<i64>, String, String, Option<i64>);

/// Rotates a refresh token (see the module documentation for the reuse rule).
pub async fn refresh(
    database: &Database,
    signer: &TokenSigner,
    refresh_token: &str,
) -> Result<RefreshOutcome, ApiError> {
    let row: Option<RefreshRow> = sqlx::query_as(
        "SELECT r.session_id, r.expires_at, r.used_at, s.user_id, s.tenant_id, s.revoked_at \
         FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id WHERE r.token_hash = $1",
    )
    .bind(token_hash(refresh_token))
    .fetch_optional(&database.pool)
    .await?;
    let Some((session_id, expires_at, used_at, user_id, tenant_id, revoked_at)) = row else {
        return Ok(RefreshOutcome::Invalid);
    };
    if revoked_at.is_some() || expires_at <= now() {
        return Ok(RefreshOutcome::Invalid);
    }
    if used_at.is_some() || !mark_used(database, refresh_token).await? {
        revoke_session(database, &session_id, "refresh_token_reuse").await?;
        return Ok(RefreshOutcome::Reused {
            user_id,
            session_id,
        });
    }
    let role: Option<(String,)> =
        sqlx::query_as("SELECT role FROM memberships WHERE tenant_id = $1 AND user_id = $2")
            .bind(&tenant_id)
            .bind(&user_id)
            .fetch_optional(&database.pool)
            .await?;
    let Some((role,)) = role else {
        revoke_session(database, &session_id, "membership_removed").await?;
        return Ok(RefreshOutcome::Invalid);
    };
    let pair = issue_pair(database, signer, &session_id, &user_id, &tenant_id, &role).await?;
    Ok(RefreshOutcome::Rotated {
        pair,
        user_id,
        tenant_id,
    })
}

/// Marks a refresh token used; false when another request used it first.
async fn mark_used(database: &Database, refresh_token: &str) -> Result<bool, ApiError> {
    let result = sqlx::query(
        "UPDATE refresh_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL",
    )
    .bind(now())
    .bind(token_hash(refresh_token))
    .execute(&database.pool)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Revokes one session: its access tokens stop working and its refresh tokens are refused.
pub async fn revoke_session(
    database: &Database,
    session_id: &str,
    reason: &str,
) -> Result<(), ApiError> {
    sqlx::query(
        "UPDATE sessions SET revoked_at = $1, revoked_reason = $2 WHERE id = $3 AND revoked_at IS NULL",
    )
    .bind(now())
    .bind(reason)
    .bind(session_id)
    .execute(&database.pool)
    .await?;
    Ok(())
}

/// Revokes every session of a user, optionally keeping one (the caller's own).
pub async fn revoke_user_sessions(
    database: &Database,
    user_id: &str,
    keep_session_id: Option<&str>,
    reason: &str,
) -> Result<(), ApiError> {
    sqlx::query(
        "UPDATE sessions SET revoked_at = $1, revoked_reason = $2 \
         WHERE user_id = $3 AND revoked_at IS NULL AND id <> $4",
    )
    .bind(now())
    .bind(reason)
    .bind(user_id)
    .bind(keep_session_id.unwrap_or(""))
    .execute(&database.pool)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer(secret: &[u8]) -> TokenSigner {
        TokenSigner::new(&JwtSecrets {
            current: secret.to_vec(),
            previous: Vec::new(),
        })
    }

    fn claims(exp_offset: i64) -> AccessClaims {
        AccessClaims {
            sub: "usr_1".into(),
            tid: "tn_1".into(),
            role: "owner".into(),
            sid: "ses_1".into(),
            iat: now(),
            exp: now() + exp_offset,
        }
    }

    #[test]
    fn tokens_verify_with_their_key_only() {
        let good = signer(&[7; 32]);
        let token = good.sign(&claims(60)).unwrap();
        assert_eq!(good.verify(&token).unwrap(), claims(60));
        assert!(signer(&[8; 32]).verify(&token).is_err());
        let expired = good.sign(&claims(-1)).unwrap();
        let error = good.verify(&expired).unwrap_err();
        assert!(matches!(
            error,
            ApiError::Unauthorized {
                code: "token_expired",
                ..
            }
        ));
    }

    #[test]
    fn previous_secrets_still_verify() {
        let old = signer(&[1; 32]);
        let token = old.sign(&claims(60)).unwrap();
        let rotated = TokenSigner::new(&JwtSecrets {
            current: vec![2; 32],
            previous: vec![vec![1; 32]],
        });
        assert!(rotated.verify(&token).is_ok());
    }
}
