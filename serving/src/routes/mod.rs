//! The route table and the OpenAPI document generated from it.
//!
//! Every route is registered through [`utoipa_axum`]'s `routes!`, which takes the path and
//! method from each handler's `#[utoipa::path]` attribute: the router and `/openapi.json`
//! come from the same declaration, so they cannot drift (a test also calls every documented
//! operation and checks the router serves it, and compares the document with the
//! checked-in `serving/openapi.json`).

pub mod api_keys;
pub mod auth;
pub mod data;
pub mod meta;
pub mod mfa;
pub mod tenants;

use std::sync::OnceLock;

use axum::extract::DefaultBodyLimit;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Verocta API",
        description = "Identity, tenants, API keys, uploads and transactions of Verocta, the spend-analytics platform. Errors are always `{\"error\": {\"code\", \"message\", \"details\"}}`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    modifiers(&SecuritySchemes),
    components(schemas(crate::error::ErrorBody)),
    tags(
        (name = "auth", description = "Registration, login, tokens, passwords"),
        (name = "mfa", description = "TOTP two-factor authentication"),
        (name = "tenants", description = "The caller and their tenants"),
        (name = "members", description = "Members, roles and invitations"),
        (name = "api-keys", description = "API keys for machines"),
        (name = "audit", description = "Audit log"),
        (name = "data", description = "Uploads and transactions"),
        (name = "meta", description = "Health, metrics and documentation"),
    )
)]
struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT or API key")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-Api-Key"))),
        );
    }
}

/// Every route, with its OpenAPI operation.
pub fn api_router(upload_limit_bytes: usize) -> OpenApiRouter<AppState> {
    let (schemas, paths, uploads) = routes!(data::upload, data::list_uploads);
    let uploads = (
        schemas,
        paths,
        uploads.layer(DefaultBodyLimit::max(upload_limit_bytes)),
    );
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(meta::healthz))
        .routes(routes!(meta::readyz))
        .routes(routes!(meta::metrics))
        .routes(routes!(meta::openapi_json))
        .routes(routes!(meta::docs))
        .routes(routes!(meta::docs_script))
        .routes(routes!(meta::docs_style))
        .routes(routes!(auth::register))
        .routes(routes!(auth::verify_email))
        .routes(routes!(auth::login))
        .routes(routes!(auth::refresh))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::switch_tenant))
        .routes(routes!(auth::change_password))
        .routes(routes!(auth::forgot_password))
        .routes(routes!(auth::reset_password))
        .routes(routes!(mfa::enroll))
        .routes(routes!(mfa::confirm))
        .routes(routes!(mfa::disable))
        .routes(routes!(mfa::regenerate_recovery_codes))
        .routes(routes!(tenants::me))
        .routes(routes!(tenants::list_tenants, tenants::create_tenant))
        .routes(routes!(tenants::get_tenant, tenants::update_tenant))
        .routes(routes!(data::list_transactions))
        .routes(routes!(tenants::list_members))
        .routes(routes!(tenants::update_member, tenants::remove_member))
        .routes(routes!(
            tenants::create_invitation,
            tenants::list_invitations
        ))
        .routes(routes!(tenants::revoke_invitation))
        .routes(routes!(tenants::accept_invitation))
        .routes(routes!(api_keys::create_api_key, api_keys::list_api_keys))
        .routes(routes!(api_keys::revoke_api_key))
        .routes(routes!(api_keys::list_audit))
        .routes(uploads)
        .routes(routes!(data::get_upload))
}

/// The OpenAPI 3.1 document of the API.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut document = api_router(0).into_openapi();
    document.info.version = env!("CARGO_PKG_VERSION").to_string();
    document
}

/// The OpenAPI document as pretty JSON with a trailing newline (built once).
pub fn openapi_json() -> Result<String, serde_json::Error> {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    if let Some(text) = DOCUMENT.get() {
        return Ok(text.clone());
    }
    let mut text = openapi().to_pretty_json()?;
    text.push('\n');
    Ok(DOCUMENT.get_or_init(|| text).clone())
}
