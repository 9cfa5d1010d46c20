//! The audit log of security-relevant events: logins and their failures, refresh-token reuse,
//! MFA changes, password changes, member and role changes, invitations, API keys created,
//! revoked and used, uploads.
//!
//! Writing an event never fails the request that caused it (a failed write is logged as an
//! error instead): the action already happened, and refusing it afterwards would not undo
//! it. Events are append-only; owners and admins read their tenant's events through
//! `GET /v1/audit`. Events without a tenant (a failed login for an unknown email) are kept
//! for operators and not shown to any tenant.

use serde_json::Value;

use crate::db::{Database, now};

/// One event, built fluently and written with [`record`].
#[derive(Clone, Debug, Default)]
pub struct AuditEvent {
    action: &'static str,
    tenant_id: Option<String>,
    actor: Option<String>,
    target: Option<String>,
    outcome: &'static str,
    ip: Option<String>,
    details: Option<Value>,
}

impl AuditEvent {
    /// An event with `action` such as `login.succeeded`, outcome `success`.
    pub fn new(action: &'static str) -> Self {
        AuditEvent {
            action,
            outcome: "success",
            ..AuditEvent::default()
        }
    }

    /// The tenant the event belongs to.
    pub fn tenant(mut self, tenant_id: &str) -> Self {
        self.tenant_id = Some(tenant_id.to_string());
        self
    }

    /// Who acted: `user:<id>` or `api_key:<id>`.
    pub fn actor(mut self, actor: impl Into<String>) -> Self {
        self.actor = Some(actor.into());
        self
    }

    /// What was acted on (a user, key or invitation id).
    pub fn target(mut self, target: &str) -> Self {
        self.target = Some(target.to_string());
        self
    }

    /// Marks the event as a failure (a refused login, a reused token).
    pub fn failed(mut self) -> Self {
        self.outcome = "failure";
        self
    }

    /// The client address.
    pub fn ip(mut self, ip: &str) -> Self {
        self.ip = Some(ip.to_string());
        self
    }

    /// Structured details.
    pub fn details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }
}

/// Appends an event; failures are logged, not returned (see the module documentation).
pub async fn record(database: &Database, event: AuditEvent) {
    let result = sqlx::query(
        "INSERT INTO audit_log (tenant_id, actor, action, target, outcome, ip, details, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&event.tenant_id)
    .bind(&event.actor)
    .bind(event.action)
    .bind(&event.target)
    .bind(event.outcome)
    .bind(&event.ip)
    .bind(event.details.as_ref().map(Value::to_string))
    .bind(now())
    .execute(&database.pool)
    .await;
    tracing::info!(
        action = event.action,
        outcome = event.outcome,
        tenant_id = event.tenant_id.as_deref(),
        actor = event.actor.as_deref(),
        target = event.target.as_deref(),
        "audit"
    );
    if let Err(error) = result {
        tracing::error!(%error, action = event.action, "cannot write audit event");
    }
}
