//! API tests through the complete router (every layer) with `oneshot`, each run twice: on
//! SQLite in a temporary directory and on a fresh PostgreSQL database (see `common`).

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{Account, PASSWORD, TestApp, assert_error, defaults, quickbooks_csv, tokens};
use serde_json::{Value, json};
use verocta_serving::ServeConfig;

fn dev_mode(config: &mut ServeConfig) {
    config.dev_mode = true;
}

fn decode_base32(text: &str) -> Vec<u8> {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut buffer, mut bits, mut output) = (0u32, 0, Vec::new());
    for byte in text.bytes() {
        let value = alphabet.iter().position(|a| *a == byte).expect("base32") as u32;
        buffer = (buffer << 5) | value;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            output.push((buffer >> bits) as u8);
        }
    }
    output
}

fn now() -> i64 {
    verocta_serving::db::now()
}

/// The core contract: register → verify → login → me → tenant.
mod identity {
    use super::*;

    async fn register_verify_login_contract(app: TestApp) {
        let register = app
            .post(
                "/v1/auth/register",
                None,
                json!({ "email": "Ann@Example.com", "password": PASSWORD, "company": "Acme" }),
            )
            .await;
        assert_eq!(register.status, StatusCode::CREATED);
        let keys: Vec<&String> = register.body.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["tenant_id", "user_id"]);
        let login_body = json!({ "email": "ann@example.com", "password": PASSWORD });
        let unverified = app.post("/v1/auth/login", None, login_body.clone()).await;
        assert_error(&unverified, StatusCode::FORBIDDEN, "email_not_verified");
        let token = app.emailed_token("ann@example.com", "Confirm").await;
        let bad = app
            .post(
                "/v1/auth/verify-email",
                None,
                json!({ "token": "vet_nope" }),
            )
            .await;
        assert_error(&bad, StatusCode::BAD_REQUEST, "bad_request");
        let verified = app
            .post("/v1/auth/verify-email", None, json!({ "token": token }))
            .await;
        assert_eq!(verified.status, StatusCode::NO_CONTENT);
        let again = app
            .post("/v1/auth/verify-email", None, json!({ "token": token }))
            .await;
        assert_eq!(
            again.status,
            StatusCode::BAD_REQUEST,
            "tokens are single-use"
        );

        let login = app.post("/v1/auth/login", None, login_body).await;
        assert_eq!(login.status, StatusCode::OK, "{}", login.text);
        let mut fields: Vec<&String> = login.body.as_object().unwrap().keys().collect();
        fields.sort();
        assert_eq!(
            fields,
            ["access_token", "expires_in", "refresh_token", "token_type"]
        );
        assert_eq!(login.body["expires_in"], 900);
        assert_eq!(login.body["token_type"], "Bearer");
        let (access, _) = tokens(&login);

        let me = app.get("/v1/me", &access).await;
        assert_eq!(me.status, StatusCode::OK);
        assert_eq!(me.body["user_id"], register.body["user_id"]);
        assert_eq!(me.body["tenant_id"], register.body["tenant_id"]);
        assert_eq!(me.body["role"], "owner");
        assert_eq!(me.body["email"], "ann@example.com");
        assert_eq!(me.body["email_verified"], true);
        assert_eq!(me.body["tenants"][0]["name"], "Acme");

        let tenant_id = register.body["tenant_id"].as_str().unwrap();
        let tenant = app.get(&format!("/v1/tenants/{tenant_id}"), &access).await;
        assert_eq!(tenant.status, StatusCode::OK);
        assert_eq!(tenant.body["tenant_id"], tenant_id);
        assert_eq!(tenant.body["name"], "Acme");
        let renamed = app
            .call(
                Method::PATCH,
                &format!("/v1/tenants/{tenant_id}"),
                Some(&access),
                Some(json!({ "name": "Acme EU" })),
            )
            .await;
        assert_eq!(renamed.body["name"], "Acme EU");
    }

    async fn dev_mode_skips_email_verification(app: TestApp) {
        let register = app
            .post(
                "/v1/auth/register",
                None,
                json!({ "email": "dev@example.com", "password": PASSWORD, "company": "Dev" }),
            )
            .await;
        assert_eq!(register.status, StatusCode::CREATED);
        app.login("dev@example.com").await;
    }

    async fn registration_validates_input(app: TestApp) {
        app.register("taken@example.com", "Taken").await;
        let duplicate = app
            .post(
                "/v1/auth/register",
                None,
                json!({ "email": "TAKEN@example.com", "password": PASSWORD, "company": "X" }),
            )
            .await;
        assert_error(&duplicate, StatusCode::CONFLICT, "conflict");
        for body in [
            json!({ "email": "not-an-email", "password": PASSWORD, "company": "X" }),
            json!({ "email": "a@example.com", "password": "short", "company": "X" }),
            json!({ "email": "a@example.com", "password": PASSWORD, "company": "" }),
            json!({ "email": "a@example.com", "password": PASSWORD }),
            json!({ "email": "a@example.com", "password": PASSWORD, "company": "X", "admin": true }),
            json!({ "email": "a@example.com", "password": PASSWORD, "company": "X\u{0}" }),
            json!(["not", "an", "object"]),
        ] {
            let reply = app.post("/v1/auth/register", None, body.clone()).await;
            assert_error(&reply, StatusCode::BAD_REQUEST, "bad_request");
        }
        let malformed = app
            .send(
                Request::post("/v1/auth/register")
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from("{\"email\": "))
                    .unwrap(),
            )
            .await;
        assert_error(&malformed, StatusCode::BAD_REQUEST, "bad_request");
        let wrong_type = app
            .send(
                Request::post("/v1/auth/register")
                    .header(header::CONTENT_TYPE, "text/plain")
                    .body(Body::from("{}"))
                    .unwrap(),
            )
            .await;
        assert_error(
            &wrong_type,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        );
        let huge = json!({ "email": "a@example.com", "password": PASSWORD, "company": "x".repeat(100 * 1024) });
        let oversized = app.post("/v1/auth/register", None, huge).await;
        assert_error(
            &oversized,
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        );
    }

    async fn login_failures_are_uniform_and_throttled(app: TestApp) {
        app.register("victim@example.com", "Victim").await;
        let wrong = app
            .post(
                "/v1/auth/login",
                None,
                json!({ "email": "victim@example.com", "password": "wrong password!" }),
            )
            .await;
        assert_error(&wrong, StatusCode::UNAUTHORIZED, "invalid_credentials");
        let unknown = app
            .post(
                "/v1/auth/login",
                None,
                json!({ "email": "nobody@example.com", "password": "wrong password!" }),
            )
            .await;
        assert_error(&unknown, StatusCode::UNAUTHORIZED, "invalid_credentials");
        assert_eq!(
            wrong.body["error"]["message"],
            unknown.body["error"]["message"]
        );
        for _ in 0..4 {
            app.post(
                "/v1/auth/login",
                None,
                json!({ "email": "victim@example.com", "password": "guess guess" }),
            )
            .await;
        }
        let locked = app
            .post(
                "/v1/auth/login",
                None,
                json!({ "email": "victim@example.com", "password": PASSWORD }),
            )
            .await;
        assert_error(&locked, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
        let retry_after: u64 = locked.headers[header::RETRY_AFTER]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=30).contains(&retry_after));
        let (count,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM audit_log WHERE action = 'login.failed'")
                .fetch_one(&app.state.database.pool)
                .await
                .unwrap();
        assert!(count >= 5);
    }

    async fn passwords_change_and_reset(app: TestApp) {
        let account = app.account("pat").await;
        let (other_session, _) = app.login(&account.email).await;
        let wrong = app
            .post(
                "/v1/auth/password/change",
                Some(&account.access),
                json!({ "current_password": "nope nope nope", "new_password": "a new password 1" }),
            )
            .await;
        assert_error(&wrong, StatusCode::FORBIDDEN, "wrong_password");
        let changed = app
            .post(
                "/v1/auth/password/change",
                Some(&account.access),
                json!({ "current_password": PASSWORD, "new_password": "a new password 1" }),
            )
            .await;
        assert_eq!(changed.status, StatusCode::NO_CONTENT);
        assert_eq!(
            app.get("/v1/me", &account.access).await.status,
            StatusCode::OK,
            "own session kept"
        );
        assert_error(
            &app.get("/v1/me", &other_session).await,
            StatusCode::UNAUTHORIZED,
            "session_revoked",
        );

        let unknown = app
            .post(
                "/v1/auth/password/forgot",
                None,
                json!({ "email": "ghost@example.com" }),
            )
            .await;
        assert_eq!(unknown.status, StatusCode::ACCEPTED);
        let forgot = app
            .post(
                "/v1/auth/password/forgot",
                None,
                json!({ "email": account.email }),
            )
            .await;
        assert_eq!(forgot.status, StatusCode::ACCEPTED);
        let token = app.emailed_token(&account.email, "Reset").await;
        let reset = app
            .post(
                "/v1/auth/password/reset",
                None,
                json!({ "token": token, "new_password": "the third password" }),
            )
            .await;
        assert_eq!(reset.status, StatusCode::NO_CONTENT, "{}", reset.text);
        let reused = app
            .post(
                "/v1/auth/password/reset",
                None,
                json!({ "token": token, "new_password": "the fourth password" }),
            )
            .await;
        assert_eq!(reused.status, StatusCode::BAD_REQUEST);
        assert_error(
            &app.get("/v1/me", &account.access).await,
            StatusCode::UNAUTHORIZED,
            "session_revoked",
        );
        let login = app
            .post(
                "/v1/auth/login",
                None,
                json!({ "email": account.email, "password": "the third password" }),
            )
            .await;
        assert_eq!(login.status, StatusCode::OK);
    }

    backend_tests!(defaults =>
        register_verify_login_contract,
        registration_validates_input,
        login_failures_are_uniform_and_throttled,
        passwords_change_and_reset,
    );

    mod dev {
        use super::*;
        backend_tests!(dev_mode => dev_mode_skips_email_verification);
    }
}

/// Access tokens, refresh rotation, reuse detection and logout.
mod tokens_and_sessions {
    use super::*;
    use verocta_serving::keys::JwtSecrets;
    use verocta_serving::tokens::{AccessClaims, TokenSigner};

    fn claims_of(app: &TestApp, token: &str) -> AccessClaims {
        app.state.signer.verify(token).expect("valid token")
    }

    async fn bad_access_tokens_are_refused(app: TestApp) {
        let account = app.account("tok").await;
        let claims = claims_of(&app, &account.access);
        let path = "/v1/me";
        assert_error(
            &app.call(Method::GET, path, None, None).await,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        );
        assert_error(
            &app.get(path, "garbage").await,
            StatusCode::UNAUTHORIZED,
            "invalid_token",
        );
        let basic = app
            .send(
                Request::get(path)
                    .header(header::AUTHORIZATION, "Basic YTpi")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_error(&basic, StatusCode::UNAUTHORIZED, "unauthorized");

        let expired = app
            .state
            .signer
            .sign(&AccessClaims {
                iat: now() - 3600,
                exp: now() - 60,
                ..claims.clone()
            })
            .unwrap();
        assert_error(
            &app.get(path, &expired).await,
            StatusCode::UNAUTHORIZED,
            "token_expired",
        );

        let mut parts: Vec<String> = account.access.split('.').map(String::from).collect();
        let mut payload: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
        payload["tid"] = json!("someone-else");
        parts[1] = URL_SAFE_NO_PAD.encode(payload.to_string());
        let tampered = parts.join(".");
        assert_error(
            &app.get(path, &tampered).await,
            StatusCode::UNAUTHORIZED,
            "invalid_token",
        );

        let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        let unsigned = format!(
            "{none_header}.{}.",
            URL_SAFE_NO_PAD.encode(serde_json::to_string(&claims).unwrap())
        );
        assert_error(
            &app.get(path, &unsigned).await,
            StatusCode::UNAUTHORIZED,
            "invalid_token",
        );
        let hs512_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS512","typ":"JWT"}"#);
        let other_alg = format!("{hs512_header}.{}.{}", parts[1], parts[2]);
        assert_error(
            &app.get(path, &other_alg).await,
            StatusCode::UNAUTHORIZED,
            "invalid_token",
        );

        let other_key = TokenSigner::new(&JwtSecrets {
            current: vec![42; 32],
            previous: vec![],
        });
        let forged = other_key.sign(&claims).unwrap();
        assert_error(
            &app.get(path, &forged).await,
            StatusCode::UNAUTHORIZED,
            "invalid_token",
        );

        assert_error(
            &app.get(path, &account.refresh).await,
            StatusCode::UNAUTHORIZED,
            "invalid_token",
        );
        assert_eq!(app.get(path, &account.access).await.status, StatusCode::OK);
    }

    async fn refresh_rotates_and_reuse_revokes_the_family(app: TestApp) {
        let account = app.account("rot").await;
        let first = app
            .post(
                "/v1/auth/refresh",
                None,
                json!({ "refresh_token": account.refresh }),
            )
            .await;
        assert_eq!(first.status, StatusCode::OK, "{}", first.text);
        assert_eq!(first.body["token_type"], "Bearer");
        assert_eq!(first.body["expires_in"], 900);
        let (access_2, refresh_2) = tokens(&first);
        assert_ne!(refresh_2, account.refresh);
        assert_eq!(app.get("/v1/me", &access_2).await.status, StatusCode::OK);

        let reused = app
            .post(
                "/v1/auth/refresh",
                None,
                json!({ "refresh_token": account.refresh }),
            )
            .await;
        assert_error(&reused, StatusCode::UNAUTHORIZED, "refresh_token_reused");
        let after = app
            .post(
                "/v1/auth/refresh",
                None,
                json!({ "refresh_token": refresh_2 }),
            )
            .await;
        assert_error(&after, StatusCode::UNAUTHORIZED, "invalid_refresh_token");
        assert_error(
            &app.get("/v1/me", &access_2).await,
            StatusCode::UNAUTHORIZED,
            "session_revoked",
        );
        assert_error(
            &app.get("/v1/me", &account.access).await,
            StatusCode::UNAUTHORIZED,
            "session_revoked",
        );
        let unknown = app
            .post(
                "/v1/auth/refresh",
                None,
                json!({ "refresh_token": "vrt_unknown" }),
            )
            .await;
        assert_error(&unknown, StatusCode::UNAUTHORIZED, "invalid_refresh_token");
        // Other sessions of the same user are untouched.
        let (fresh, _) = app.login(&account.email).await;
        assert_eq!(app.get("/v1/me", &fresh).await.status, StatusCode::OK);
        let (count,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM audit_log WHERE action = 'refresh_token.reused'")
                .fetch_one(&app.state.database.pool)
                .await
                .unwrap();
        assert_eq!(count, 1);
    }

    async fn logout_revokes_access_and_refresh(app: TestApp) {
        let account = app.account("bye").await;
        let logout = app
            .call(Method::POST, "/v1/auth/logout", Some(&account.access), None)
            .await;
        assert_eq!(logout.status, StatusCode::NO_CONTENT, "{}", logout.text);
        assert_error(
            &app.get("/v1/me", &account.access).await,
            StatusCode::UNAUTHORIZED,
            "session_revoked",
        );
        let refresh = app
            .post(
                "/v1/auth/refresh",
                None,
                json!({ "refresh_token": account.refresh }),
            )
            .await;
        assert_error(&refresh, StatusCode::UNAUTHORIZED, "invalid_refresh_token");
        let again = app
            .call(Method::POST, "/v1/auth/logout", Some(&account.access), None)
            .await;
        assert_eq!(again.status, StatusCode::UNAUTHORIZED);
    }

    backend_tests!(defaults =>
        bad_access_tokens_are_refused,
        refresh_rotates_and_reuse_revokes_the_family,
        logout_revokes_access_and_refresh,
    );
}

/// TOTP enrolment, login with and without codes, recovery codes, disabling.
mod mfa {
    use super::*;
    use verocta_serving::totp::{STEP_SECONDS, code_at};

    async fn totp_enrolment_and_login(app: TestApp) {
        let account = app.account("mfa").await;
        let early = app
            .post(
                "/v1/auth/mfa/totp/confirm",
                Some(&account.access),
                json!({ "code": "123456" }),
            )
            .await;
        assert_error(&early, StatusCode::BAD_REQUEST, "bad_request");
        let enrol = app
            .call(
                Method::POST,
                "/v1/auth/mfa/totp/enroll",
                Some(&account.access),
                None,
            )
            .await;
        assert_eq!(enrol.status, StatusCode::OK, "{}", enrol.text);
        let uri = enrol.body["otpauth_uri"].as_str().unwrap();
        assert!(
            uri.starts_with("otpauth://totp/Verocta:mfa@example.com?secret="),
            "{uri}"
        );
        let secret = decode_base32(enrol.body["secret"].as_str().unwrap());
        let (sealed,): (String,) = sqlx::query_as("SELECT secret_sealed FROM mfa_factors")
            .fetch_one(&app.state.database.pool)
            .await
            .unwrap();
        assert!(
            !sealed.contains(enrol.body["secret"].as_str().unwrap()),
            "the seed is sealed at rest"
        );
        // Still no MFA until confirmed.
        app.login(&account.email).await;

        let wrong = app
            .post(
                "/v1/auth/mfa/totp/confirm",
                Some(&account.access),
                json!({ "code": "000000" }),
            )
            .await;
        assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
        let confirm = app
            .post(
                "/v1/auth/mfa/totp/confirm",
                Some(&account.access),
                json!({ "code": code_at(&secret, now()) }),
            )
            .await;
        assert_eq!(confirm.status, StatusCode::OK, "{}", confirm.text);
        let recovery: Vec<String> =
            serde_json::from_value(confirm.body["recovery_codes"].clone()).unwrap();
        assert_eq!(recovery.len(), 10);
        assert_eq!(
            app.get("/v1/me", &account.access).await.body["mfa_enabled"],
            true
        );
        let twice = app
            .call(
                Method::POST,
                "/v1/auth/mfa/totp/enroll",
                Some(&account.access),
                None,
            )
            .await;
        assert_error(&twice, StatusCode::CONFLICT, "conflict");

        let login = |totp: Option<String>| {
            let app = app.clone();
            let email = account.email.clone();
            async move {
                let mut body = json!({ "email": email, "password": PASSWORD });
                if let Some(code) = totp {
                    body["totp"] = json!(code);
                }
                app.post("/v1/auth/login", None, body).await
            }
        };
        assert_error(&login(None).await, StatusCode::UNAUTHORIZED, "mfa_required");
        assert_error(
            &login(Some("000000".into())).await,
            StatusCode::UNAUTHORIZED,
            "invalid_mfa_code",
        );
        // The confirmation code's step is spent; the next step's code works once.
        let next_code = code_at(&secret, now() + STEP_SECONDS);
        assert_eq!(login(Some(next_code.clone())).await.status, StatusCode::OK);
        assert_error(
            &login(Some(next_code)).await,
            StatusCode::UNAUTHORIZED,
            "invalid_mfa_code",
        );
        assert_eq!(
            login(Some(recovery[0].to_uppercase())).await.status,
            StatusCode::OK
        );
        assert_error(
            &login(Some(recovery[0].clone())).await,
            StatusCode::UNAUTHORIZED,
            "invalid_mfa_code",
        );
        let wrong_password = app
            .post(
                "/v1/auth/login",
                None,
                json!({ "email": account.email, "password": "wrong wrong", "totp": recovery[1] }),
            )
            .await;
        assert_error(
            &wrong_password,
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
        );

        let regenerated = app
            .post(
                "/v1/auth/mfa/recovery-codes",
                Some(&account.access),
                json!({ "code": recovery[2] }),
            )
            .await;
        assert_eq!(regenerated.status, StatusCode::OK, "{}", regenerated.text);
        let fresh: Vec<String> =
            serde_json::from_value(regenerated.body["recovery_codes"].clone()).unwrap();
        assert_error(
            &login(Some(recovery[3].clone())).await,
            StatusCode::UNAUTHORIZED,
            "invalid_mfa_code",
        );

        let bad_disable = app
            .post(
                "/v1/auth/mfa/totp/disable",
                Some(&account.access),
                json!({ "password": "wrong wrong", "code": fresh[0] }),
            )
            .await;
        assert_error(&bad_disable, StatusCode::FORBIDDEN, "wrong_password");
        let disable = app
            .post(
                "/v1/auth/mfa/totp/disable",
                Some(&account.access),
                json!({ "password": PASSWORD, "code": fresh[0] }),
            )
            .await;
        assert_eq!(disable.status, StatusCode::NO_CONTENT, "{}", disable.text);
        assert_eq!(login(None).await.status, StatusCode::OK);
        let audit = app.get("/v1/audit?limit=500", &account.access).await;
        let actions: Vec<&str> = audit.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        for expected in [
            "mfa.totp_enabled",
            "mfa.totp_disabled",
            "mfa.recovery_codes_regenerated",
        ] {
            assert!(actions.contains(&expected), "{expected} in {actions:?}");
        }
    }

    backend_tests!(defaults => totp_enrolment_and_login);
}

/// Tenants, members, roles and invitations.
mod tenancy {
    use super::*;

    async fn invitations_members_and_roles(app: TestApp) {
        let owner = app.account("owner").await;
        let bob = app.account("bob").await;
        let carol = app.account("carol").await;

        // An invitation for bob cannot be accepted by carol.
        let invited = app
            .post(
                "/v1/invitations",
                Some(&owner.access),
                json!({ "email": bob.email, "role": "analyst" }),
            )
            .await;
        assert_eq!(invited.status, StatusCode::CREATED);
        let token = invited.body["token"].as_str().unwrap();
        let stolen = app
            .post(
                "/v1/invitations/accept",
                Some(&carol.access),
                json!({ "token": token }),
            )
            .await;
        assert_error(&stolen, StatusCode::FORBIDDEN, "forbidden");
        let pending = app.get("/v1/invitations", &owner.access).await;
        assert_eq!(pending.body["items"].as_array().unwrap().len(), 1);
        assert!(
            pending.body["items"][0].get("token").is_none(),
            "tokens are shown once"
        );
        let accepted = app
            .post(
                "/v1/invitations/accept",
                Some(&bob.access),
                json!({ "token": token }),
            )
            .await;
        assert_eq!(accepted.status, StatusCode::OK);
        assert_eq!(accepted.body["tenant_id"], owner.tenant_id.as_str());
        let twice = app
            .post(
                "/v1/invitations/accept",
                Some(&bob.access),
                json!({ "token": token }),
            )
            .await;
        assert_eq!(twice.status, StatusCode::BAD_REQUEST);

        // Bob belongs to two tenants now; tokens are scoped to one.
        let tenants = app.get("/v1/tenants", &bob.access).await;
        assert_eq!(tenants.body.as_array().unwrap().len(), 2);
        let not_member = app
            .post(
                "/v1/auth/switch-tenant",
                Some(&bob.access),
                json!({ "tenant_id": carol.tenant_id }),
            )
            .await;
        assert_error(&not_member, StatusCode::FORBIDDEN, "no_tenant");
        let switched = app
            .post(
                "/v1/auth/switch-tenant",
                Some(&bob.access),
                json!({ "tenant_id": owner.tenant_id }),
            )
            .await;
        let (bob_in_owner, _) = tokens(&switched);
        let me = app.get("/v1/me", &bob_in_owner).await;
        assert_eq!(me.body["tenant_id"], owner.tenant_id.as_str());
        assert_eq!(me.body["role"], "analyst");
        let login_scoped = app
            .post(
                "/v1/auth/login",
                None,
                json!({ "email": bob.email, "password": PASSWORD, "tenant_id": owner.tenant_id }),
            )
            .await;
        assert_eq!(
            app.get("/v1/me", &tokens(&login_scoped).0).await.body["role"],
            "analyst"
        );

        // Analysts cannot manage members, invite, or create keys.
        let members_path = format!("/v1/members/{}", carol.user_id);
        for (method, path, body) in [
            (
                Method::POST,
                "/v1/invitations",
                Some(json!({ "email": "x@example.com", "role": "viewer" })),
            ),
            (Method::GET, "/v1/invitations", None),
            (
                Method::POST,
                "/v1/api-keys",
                Some(json!({ "name": "k", "role": "viewer" })),
            ),
            (Method::GET, "/v1/audit", None),
            (
                Method::PATCH,
                members_path.as_str(),
                Some(json!({ "role": "viewer" })),
            ),
            (
                Method::PATCH,
                &format!("/v1/tenants/{}", owner.tenant_id),
                Some(json!({ "name": "Mine" })),
            ),
        ] {
            let reply = app
                .call(method.clone(), path, Some(&bob_in_owner), body)
                .await;
            assert_error(&reply, StatusCode::FORBIDDEN, "insufficient_role");
        }
        let members = app.get("/v1/members", &bob_in_owner).await;
        assert_eq!(members.body["items"].as_array().unwrap().len(), 2);

        // Role changes take effect at once, on existing tokens.
        let bob_path = format!("/v1/members/{}", bob.user_id);
        let demoted = app
            .call(
                Method::PATCH,
                &bob_path,
                Some(&owner.access),
                Some(json!({ "role": "viewer" })),
            )
            .await;
        assert_eq!(demoted.status, StatusCode::OK, "{}", demoted.text);
        assert_eq!(demoted.body["role"], "viewer");
        let upload = app
            .upload(&bob_in_owner, "q.csv", &quickbooks_csv(), &[])
            .await;
        assert_error(&upload, StatusCode::FORBIDDEN, "insufficient_role");
        let bad_role = app
            .call(
                Method::PATCH,
                &bob_path,
                Some(&owner.access),
                Some(json!({ "role": "god" })),
            )
            .await;
        assert_error(&bad_role, StatusCode::BAD_REQUEST, "bad_request");

        // Admins cannot touch owners; the last owner stays.
        app.call(
            Method::PATCH,
            &bob_path,
            Some(&owner.access),
            Some(json!({ "role": "admin" })),
        )
        .await;
        let owner_path = format!("/v1/members/{}", owner.user_id);
        let coup = app
            .call(
                Method::PATCH,
                &owner_path,
                Some(&bob_in_owner),
                Some(json!({ "role": "viewer" })),
            )
            .await;
        assert_error(&coup, StatusCode::FORBIDDEN, "insufficient_role");
        let self_promote = app
            .call(
                Method::PATCH,
                &bob_path,
                Some(&bob_in_owner),
                Some(json!({ "role": "owner" })),
            )
            .await;
        assert_error(&self_promote, StatusCode::FORBIDDEN, "insufficient_role");
        let owner_invite = app
            .post(
                "/v1/invitations",
                Some(&bob_in_owner),
                json!({ "email": "o@example.com", "role": "owner" }),
            )
            .await;
        assert_error(&owner_invite, StatusCode::FORBIDDEN, "insufficient_role");
        let last_owner = app
            .call(
                Method::PATCH,
                &owner_path,
                Some(&owner.access),
                Some(json!({ "role": "admin" })),
            )
            .await;
        assert_error(&last_owner, StatusCode::CONFLICT, "conflict");
        let leave = app
            .call(Method::DELETE, &owner_path, Some(&owner.access), None)
            .await;
        assert_error(&leave, StatusCode::CONFLICT, "conflict");

        // Removal ends the member's sessions in that tenant only.
        let removed = app
            .call(Method::DELETE, &bob_path, Some(&owner.access), None)
            .await;
        assert_eq!(removed.status, StatusCode::NO_CONTENT);
        assert_error(
            &app.get("/v1/me", &bob_in_owner).await,
            StatusCode::UNAUTHORIZED,
            "session_revoked",
        );
        assert_eq!(app.get("/v1/me", &bob.access).await.status, StatusCode::OK);
        let gone = app
            .call(Method::DELETE, &bob_path, Some(&owner.access), None)
            .await;
        assert_error(&gone, StatusCode::NOT_FOUND, "not_found");

        // Invitations can be revoked; new tenants can be created.
        let invitation = app
            .post(
                "/v1/invitations",
                Some(&owner.access),
                json!({ "email": "dan@example.com", "role": "viewer" }),
            )
            .await;
        let invitation_path = format!(
            "/v1/invitations/{}",
            invitation.body["invitation_id"].as_str().unwrap()
        );
        assert_eq!(
            app.call(Method::DELETE, &invitation_path, Some(&owner.access), None)
                .await
                .status,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            app.call(Method::DELETE, &invitation_path, Some(&owner.access), None)
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        let created = app
            .post(
                "/v1/tenants",
                Some(&owner.access),
                json!({ "name": "Second Co" }),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED);
        assert_eq!(created.body["role"], "owner");
        let first_page = app.get("/v1/audit?limit=2", &owner.access).await;
        assert_eq!(first_page.body["items"].as_array().unwrap().len(), 2);
        let cursor = first_page.body["next_cursor"].as_str().unwrap();
        let second_page = app
            .get(&format!("/v1/audit?limit=2&cursor={cursor}"), &owner.access)
            .await;
        assert!(
            second_page.body["items"][0]["id"].as_i64().unwrap()
                < first_page.body["items"][1]["id"].as_i64().unwrap()
        );
        let audit = app.get("/v1/audit?limit=500", &owner.access).await;
        let actions: Vec<&str> = audit.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        for expected in [
            "member.role_changed",
            "member.removed",
            "invitation.created",
            "invitation.accepted",
            "invitation.revoked",
        ] {
            assert!(actions.contains(&expected), "{expected} in {actions:?}");
        }
    }

    backend_tests!(defaults => invitations_members_and_roles);
}

/// API keys: create, use, role limits, revoke, audit.
mod api_keys {
    use super::*;

    async fn api_keys_create_use_revoke(app: TestApp) {
        let owner = app.account("keys").await;
        let created = app
            .post(
                "/v1/api-keys",
                Some(&owner.access),
                json!({ "name": "warehouse loader", "role": "viewer" }),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
        let key = created.body["key"].as_str().unwrap().to_string();
        assert!(key.starts_with("vk_"));
        let key_id = created.body["id"].as_str().unwrap().to_string();
        let owner_key = app
            .post(
                "/v1/api-keys",
                Some(&owner.access),
                json!({ "name": "k", "role": "owner" }),
            )
            .await;
        assert_error(&owner_key, StatusCode::BAD_REQUEST, "bad_request");

        let me = app.get("/v1/me", &key).await;
        assert_eq!(me.status, StatusCode::OK, "{}", me.text);
        assert_eq!(me.body["api_key_id"], key_id.as_str());
        assert_eq!(me.body["role"], "viewer");
        let header_form = app
            .send(
                Request::get(format!("/v1/tenants/{}/transactions", owner.tenant_id))
                    .header("x-api-key", &key)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(header_form.status, StatusCode::OK, "{}", header_form.text);
        let upload = app.upload(&key, "q.csv", &quickbooks_csv(), &[]).await;
        assert_error(&upload, StatusCode::FORBIDDEN, "insufficient_role");
        let mint = app
            .post(
                "/v1/api-keys",
                Some(&key),
                json!({ "name": "more", "role": "viewer" }),
            )
            .await;
        assert_error(&mint, StatusCode::FORBIDDEN, "user_required");
        let logout = app
            .call(Method::POST, "/v1/auth/logout", Some(&key), None)
            .await;
        assert_error(&logout, StatusCode::FORBIDDEN, "user_required");

        let listed = app.get("/v1/api-keys", &owner.access).await;
        assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);
        assert!(listed.body["items"][0].get("key").is_none());
        assert!(listed.body["items"][0]["last_used_at"].is_string());
        let (hash,): (String,) = sqlx::query_as("SELECT key_hash FROM api_keys")
            .fetch_one(&app.state.database.pool)
            .await
            .unwrap();
        assert!(!hash.contains(&key[3..20]), "keys are stored hashed");

        let mut wrong_secret = key.clone();
        wrong_secret.push('x');
        assert_error(
            &app.get("/v1/me", &wrong_secret).await,
            StatusCode::UNAUTHORIZED,
            "invalid_api_key",
        );
        let revoked = app
            .call(
                Method::DELETE,
                &format!("/v1/api-keys/{key_id}"),
                Some(&owner.access),
                None,
            )
            .await;
        assert_eq!(revoked.status, StatusCode::NO_CONTENT);
        assert_error(
            &app.get("/v1/me", &key).await,
            StatusCode::UNAUTHORIZED,
            "invalid_api_key",
        );
        let again = app
            .call(
                Method::DELETE,
                &format!("/v1/api-keys/{key_id}"),
                Some(&owner.access),
                None,
            )
            .await;
        assert_error(&again, StatusCode::NOT_FOUND, "not_found");

        let analyst_key = app
            .post(
                "/v1/api-keys",
                Some(&owner.access),
                json!({ "name": "uploader", "role": "analyst" }),
            )
            .await;
        let analyst_key = analyst_key.body["key"].as_str().unwrap().to_string();
        let upload = app
            .upload(&analyst_key, "q.csv", &quickbooks_csv(), &[])
            .await;
        assert_eq!(upload.status, StatusCode::CREATED, "{}", upload.text);

        let audit = app.get("/v1/audit?limit=500", &owner.access).await;
        let actions: Vec<&str> = audit.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        for expected in [
            "api_key.created",
            "api_key.used",
            "api_key.revoked",
            "upload.imported",
        ] {
            assert!(actions.contains(&expected), "{expected} in {actions:?}");
        }
    }

    backend_tests!(defaults => api_keys_create_use_revoke);
}

/// Uploads through the CSV connector and the transactions read endpoint.
mod data {
    use super::*;

    async fn list_all(app: &TestApp, account: &Account, query: &str) -> Vec<Value> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut path = format!(
                "/v1/tenants/{}/transactions?limit=7{query}",
                account.tenant_id
            );
            if let Some(cursor) = &cursor {
                path.push_str(&format!("&cursor={cursor}"));
            }
            let page = app.get(&path, &account.access).await;
            assert_eq!(page.status, StatusCode::OK, "{}", page.text);
            items.extend(page.body["items"].as_array().unwrap().iter().cloned());
            match page.body["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_string()),
                None => return items,
            }
        }
    }

    async fn upload_then_read_with_filters_and_pagination(app: TestApp) {
        let account = app.account("books").await;
        let first = app
            .upload(
                &account.access,
                "quickbooks.csv",
                &quickbooks_csv(),
                &[("currency", "USD")],
            )
            .await;
        assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
        assert_eq!(first.body["file"], "quickbooks.csv");
        assert_eq!(first.body["format"], "quickbooks-report");
        assert_eq!(first.body["rows_read"], 20);
        assert_eq!(first.body["transactions"], 20);
        assert_eq!(first.body["rejected_count"], 0);
        assert_eq!(first.body["totals"][0]["spend"], "8982.85");
        assert_eq!(first.body["inserted"], 20);
        assert_eq!(first.body["duplicates"], 0);
        let again = app
            .upload(&account.access, "quickbooks.csv", &quickbooks_csv(), &[])
            .await;
        assert_eq!(again.body["inserted"], 0, "{}", again.text);
        assert_eq!(again.body["duplicates"], 20);

        let all = list_all(&app, &account, "").await;
        assert_eq!(all.len(), 20);
        let keys: Vec<(String, String)> = all
            .iter()
            .map(|t| {
                (
                    t["booked_date"].as_str().unwrap().to_string(),
                    t["transaction_id"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let mut sorted = keys.clone();
        sorted.sort_by(|a, b| b.cmp(a));
        assert_eq!(keys, sorted, "booked_date desc, transaction_id desc");
        let mut unique = keys.clone();
        unique.dedup();
        assert_eq!(unique.len(), 20, "no duplicates across pages");
        assert!(
            all.iter()
                .all(|t| t["tenant_id"] == account.tenant_id.as_str())
        );
        assert_eq!(all[0]["source"]["name"], "quickbooks.csv");

        let january = list_all(&app, &account, "&from=2024-01-01&to=2024-01-31").await;
        assert!(!january.is_empty() && january.len() < 20);
        assert!(
            january
                .iter()
                .all(|t| t["booked_date"].as_str().unwrap().starts_with("2024-01"))
        );
        let big = list_all(&app, &account, "&min_amount=150").await;
        assert!(big.iter().all(|t| {
            t["amount"]["amount"]
                .as_str()
                .unwrap()
                .parse::<f64>()
                .unwrap()
                >= 150.0
        }));
        let band = list_all(&app, &account, "&min_amount=100.00&max_amount=200").await;
        assert!(band.iter().all(|t| {
            let amount: f64 = t["amount"]["amount"].as_str().unwrap().parse().unwrap();
            (100.0..=200.0).contains(&amount)
        }));
        assert!(big.len() + list_all(&app, &account, "&max_amount=149.9999").await.len() == 20);
        let vendor = all[0]["vendor"].as_str().unwrap().to_string();
        let by_vendor = list_all(
            &app,
            &account,
            &format!("&vendor={}", vendor.to_uppercase().replace(' ', "%20")),
        )
        .await;
        assert!(!by_vendor.is_empty() && by_vendor.iter().all(|t| t["vendor"] == vendor.as_str()));
        let category = all[0]["category"].as_str().unwrap().to_string();
        let by_category = list_all(&app, &account, &format!("&category={category}")).await;
        assert!(
            !by_category.is_empty()
                && by_category
                    .iter()
                    .all(|t| t["category"] == category.as_str())
        );
        assert_eq!(list_all(&app, &account, "&class=spend").await.len(), 20);
        assert_eq!(list_all(&app, &account, "&class=credit").await.len(), 0);

        for bad in [
            "from=2024-13-01",
            "to=yesterday",
            "class=refund",
            "category=snacks",
            "min_amount=-5",
            "max_amount=1e9",
            "limit=0",
            "limit=501",
            "limit=x",
            "cursor=abc",
            "colour=red",
        ] {
            let reply = app
                .get(
                    &format!("/v1/tenants/{}/transactions?{bad}", account.tenant_id),
                    &account.access,
                )
                .await;
            assert_error(&reply, StatusCode::BAD_REQUEST, "bad_request");
        }

        let uploads = app.get("/v1/uploads", &account.access).await;
        assert_eq!(uploads.body["items"].as_array().unwrap().len(), 2);
        let upload_id = first.body["upload_id"].as_str().unwrap();
        let one = app
            .get(&format!("/v1/uploads/{upload_id}"), &account.access)
            .await;
        assert_eq!(one.body["rows_read"], 20);
    }

    async fn uploads_report_bad_files_and_requests(app: TestApp) {
        let account = app.account("bad").await;
        let empty = app.upload(&account.access, "empty.csv", b"", &[]).await;
        assert_error(&empty, StatusCode::UNPROCESSABLE_ENTITY, "unprocessable");
        assert!(
            empty.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("empty.csv")
        );
        assert!(
            !empty.text.contains("uploads/"),
            "no server paths: {}",
            empty.text
        );
        let no_header = app
            .upload(&account.access, "junk.csv", b"hello,world\nfoo,bar\n", &[])
            .await;
        assert_error(
            &no_header,
            StatusCode::UNPROCESSABLE_ENTITY,
            "unprocessable",
        );
        let bad_format = app
            .upload(
                &account.access,
                "q.csv",
                &quickbooks_csv(),
                &[("format", "excel")],
            )
            .await;
        assert_error(&bad_format, StatusCode::BAD_REQUEST, "bad_request");
        let bad_order = app
            .upload(
                &account.access,
                "q.csv",
                &quickbooks_csv(),
                &[("date_order", "sideways")],
            )
            .await;
        assert_error(&bad_order, StatusCode::BAD_REQUEST, "bad_request");
        let unknown_field = app
            .upload(
                &account.access,
                "q.csv",
                &quickbooks_csv(),
                &[("colour", "red")],
            )
            .await;
        assert_error(&unknown_field, StatusCode::BAD_REQUEST, "bad_request");
        let json_body = app
            .post("/v1/uploads", Some(&account.access), json!({ "file": "x" }))
            .await;
        assert_error(
            &json_body,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        );
        let boundary = "b";
        let no_file = app
            .send(
                Request::post("/v1/uploads")
                    .header(header::AUTHORIZATION, format!("Bearer {}", account.access))
                    .header(header::CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}"))
                    .body(Body::from(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"format\"\r\n\r\nauto\r\n--{boundary}--\r\n")))
                    .unwrap(),
            )
            .await;
        assert_error(&no_file, StatusCode::BAD_REQUEST, "bad_request");
        // Larger than the default 64 KB body limit is fine for uploads.
        let mut big = quickbooks_csv();
        let rows: Vec<u8> = big.split(|b| *b == b'\n').nth(1).unwrap().to_vec();
        while big.len() < 200 * 1024 {
            big.push(b'\n');
            big.extend_from_slice(&rows);
        }
        let large = app.upload(&account.access, "big.csv", &big, &[]).await;
        assert_eq!(large.status, StatusCode::CREATED, "{}", large.text);
    }

    backend_tests!(defaults => upload_then_read_with_filters_and_pagination, uploads_report_bad_files_and_requests);

    async fn uploads_over_the_limit_are_refused(app: TestApp) {
        let account = app.account("huge").await;
        let content = vec![b'a'; 300 * 1024];
        let reply = app.upload(&account.access, "huge.csv", &content, &[]).await;
        assert_error(&reply, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    }

    fn small_uploads(config: &mut ServeConfig) {
        config.upload_limit_bytes = 256 * 1024;
    }

    mod limited {
        use super::*;
        backend_tests!(small_uploads => uploads_over_the_limit_are_refused);
    }
}

/// Every route, tried against another tenant's objects.
mod isolation {
    use super::*;

    async fn no_route_reaches_another_tenant(app: TestApp) {
        let alice = app.account("alice").await;
        let mallory = app.account("mallory").await;
        let alice_upload = app
            .upload(&alice.access, "quickbooks.csv", &quickbooks_csv(), &[])
            .await;
        let upload_id = alice_upload.body["upload_id"].as_str().unwrap().to_string();
        let alice_key = app
            .post(
                "/v1/api-keys",
                Some(&alice.access),
                json!({ "name": "a", "role": "admin" }),
            )
            .await;
        let alice_key_id = alice_key.body["id"].as_str().unwrap().to_string();
        let alice_key_secret = alice_key.body["key"].as_str().unwrap().to_string();
        let invitation = app
            .post(
                "/v1/invitations",
                Some(&alice.access),
                json!({ "email": "new@example.com", "role": "viewer" }),
            )
            .await;
        let invitation_id = invitation.body["invitation_id"]
            .as_str()
            .unwrap()
            .to_string();
        let mallory_key = app
            .post(
                "/v1/api-keys",
                Some(&mallory.access),
                json!({ "name": "m", "role": "admin" }),
            )
            .await;
        let mallory_key = mallory_key.body["key"].as_str().unwrap().to_string();

        let a = &alice.tenant_id;
        let attempts: Vec<(Method, String, Option<Value>)> = vec![
            (Method::GET, format!("/v1/tenants/{a}"), None),
            (
                Method::PATCH,
                format!("/v1/tenants/{a}"),
                Some(json!({ "name": "pwned" })),
            ),
            (Method::GET, format!("/v1/tenants/{a}/transactions"), None),
            (
                Method::PATCH,
                format!("/v1/members/{}", alice.user_id),
                Some(json!({ "role": "viewer" })),
            ),
            (
                Method::DELETE,
                format!("/v1/members/{}", alice.user_id),
                None,
            ),
            (
                Method::DELETE,
                format!("/v1/invitations/{invitation_id}"),
                None,
            ),
            (Method::DELETE, format!("/v1/api-keys/{alice_key_id}"), None),
            (Method::GET, format!("/v1/uploads/{upload_id}"), None),
        ];
        for credential in [&mallory.access, &mallory_key] {
            for (method, path, body) in &attempts {
                let reply = app
                    .call(method.clone(), path, Some(credential), body.clone())
                    .await;
                if credential.starts_with("vk_") && path.starts_with("/v1/api-keys/") {
                    // Keys never manage keys: refused before any lookup.
                    assert_error(&reply, StatusCode::FORBIDDEN, "user_required");
                } else {
                    assert_error(&reply, StatusCode::NOT_FOUND, "not_found");
                }
            }
            let switch = app
                .post(
                    "/v1/auth/switch-tenant",
                    Some(&mallory.access),
                    json!({ "tenant_id": a }),
                )
                .await;
            assert_error(&switch, StatusCode::FORBIDDEN, "no_tenant");
            let login = app
                .post(
                    "/v1/auth/login",
                    None,
                    json!({ "email": mallory.email, "password": PASSWORD, "tenant_id": a }),
                )
                .await;
            assert_error(&login, StatusCode::FORBIDDEN, "no_tenant");
            let own = app
                .get(
                    &format!("/v1/tenants/{}/transactions", mallory.tenant_id),
                    credential,
                )
                .await;
            assert_eq!(
                own.body["items"].as_array().unwrap().len(),
                0,
                "{}",
                own.text
            );
            let members = app.get("/v1/members", credential).await;
            assert!(!members.text.contains(&alice.user_id));
            let audit = app.get("/v1/audit?limit=500", credential).await;
            assert_eq!(audit.status, StatusCode::OK);
            assert!(!audit.text.contains(&alice.user_id), "{}", audit.text);
            assert!(
                !app.get("/v1/uploads", credential)
                    .await
                    .text
                    .contains(&upload_id)
            );
            assert!(
                !app.get("/v1/invitations", credential)
                    .await
                    .text
                    .contains(&invitation_id)
            );
        }
        let keys = app.get("/v1/api-keys", &mallory.access).await;
        assert!(!keys.text.contains(&alice_key_id));
        // Alice's own key cannot be pointed at Mallory's tenant either.
        let crossed = app
            .get(
                &format!("/v1/tenants/{}", mallory.tenant_id),
                &alice_key_secret,
            )
            .await;
        assert_error(&crossed, StatusCode::NOT_FOUND, "not_found");
        // Nothing of Alice's changed.
        let tenant = app.get(&format!("/v1/tenants/{a}"), &alice.access).await;
        assert_eq!(tenant.body["name"], "alice Ltd");
        assert_eq!(
            app.get("/v1/api-keys", &alice.access).await.body["items"][0]["revoked_at"],
            Value::Null
        );
        assert_eq!(
            app.get("/v1/invitations", &alice.access).await.body["items"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            app.get("/v1/members", &alice.access).await.body["items"][0]["role"],
            "owner"
        );
    }

    backend_tests!(defaults => no_route_reaches_another_tenant);
}

/// Hostile strings in every string parameter: always a clean 4xx or an ordinary result.
mod injection {
    use super::*;

    const HOSTILE: &[&str] = &[
        "' OR '1'='1",
        "'; DROP TABLE users; --",
        "\" OR \"\"=\"",
        "1; SELECT pg_sleep(5)",
        "%' OR 1=1 --",
        "\\'; DELETE FROM tenants; --",
        "$1",
        "?",
        "\u{202e}gnp.exe",
        "ünïcødé ✓",
    ];

    fn encode(text: &str) -> String {
        text.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    }

    async fn sql_metacharacters_in_every_string_parameter(app: TestApp) {
        let account = app.account("inj").await;
        let token = account.access.as_str();
        let upload = app.upload(token, "q.csv", &quickbooks_csv(), &[]).await;
        assert_eq!(upload.status, StatusCode::CREATED);
        for hostile in HOSTILE {
            let h = json!(hostile);
            let email_like = json!(format!("{hostile}@example.com"));
            let bodies: Vec<(&str, Value)> = vec![
                (
                    "/v1/auth/register",
                    json!({ "email": h, "password": PASSWORD, "company": h }),
                ),
                (
                    "/v1/auth/register",
                    json!({ "email": email_like, "password": PASSWORD, "company": h }),
                ),
                (
                    "/v1/auth/login",
                    json!({ "email": h, "password": h, "totp": h, "tenant_id": h }),
                ),
                ("/v1/auth/refresh", json!({ "refresh_token": h })),
                ("/v1/auth/verify-email", json!({ "token": h })),
                ("/v1/auth/password/forgot", json!({ "email": h })),
                (
                    "/v1/auth/password/reset",
                    json!({ "token": h, "new_password": format!("{hostile}{hostile}xxxxxxxxxx") }),
                ),
            ];
            for (path, body) in bodies {
                let reply = app.post(path, None, body).await;
                assert!(
                    reply.status.is_client_error() || reply.status.is_success(),
                    "{path}: {}",
                    reply.text
                );
                assert!(!reply.text.to_lowercase().contains("sql"), "{}", reply.text);
            }
            let authenticated: Vec<(Method, String, Option<Value>)> = vec![
                (
                    Method::POST,
                    "/v1/auth/switch-tenant".into(),
                    Some(json!({ "tenant_id": h })),
                ),
                (
                    Method::POST,
                    "/v1/auth/password/change".into(),
                    Some(json!({ "current_password": h, "new_password": h })),
                ),
                (
                    Method::POST,
                    "/v1/auth/mfa/totp/confirm".into(),
                    Some(json!({ "code": h })),
                ),
                (
                    Method::POST,
                    "/v1/tenants".into(),
                    Some(json!({ "name": h })),
                ),
                (
                    Method::PATCH,
                    format!("/v1/tenants/{}", account.tenant_id),
                    Some(json!({ "name": h })),
                ),
                (
                    Method::GET,
                    format!("/v1/tenants/{}", encode(hostile)),
                    None,
                ),
                (
                    Method::GET,
                    format!("/v1/tenants/{}/transactions", encode(hostile)),
                    None,
                ),
                (
                    Method::PATCH,
                    format!("/v1/members/{}", encode(hostile)),
                    Some(json!({ "role": h })),
                ),
                (
                    Method::DELETE,
                    format!("/v1/members/{}", encode(hostile)),
                    None,
                ),
                (
                    Method::POST,
                    "/v1/invitations".into(),
                    Some(json!({ "email": h, "role": "viewer" })),
                ),
                (
                    Method::POST,
                    "/v1/invitations".into(),
                    Some(json!({ "email": email_like, "role": "viewer" })),
                ),
                (
                    Method::DELETE,
                    format!("/v1/invitations/{}", encode(hostile)),
                    None,
                ),
                (
                    Method::POST,
                    "/v1/invitations/accept".into(),
                    Some(json!({ "token": h })),
                ),
                (
                    Method::POST,
                    "/v1/api-keys".into(),
                    Some(json!({ "name": h, "role": "viewer" })),
                ),
                (
                    Method::DELETE,
                    format!("/v1/api-keys/{}", encode(hostile)),
                    None,
                ),
                (
                    Method::GET,
                    format!("/v1/uploads/{}", encode(hostile)),
                    None,
                ),
                (
                    Method::GET,
                    format!("/v1/audit?cursor={}", encode(hostile)),
                    None,
                ),
            ];
            for (method, path, body) in authenticated {
                let reply = app.call(method, &path, Some(token), body).await;
                assert!(
                    reply.status.is_client_error() || reply.status.is_success(),
                    "{path}: {}",
                    reply.text
                );
            }
            for parameter in [
                "from",
                "to",
                "class",
                "category",
                "vendor",
                "min_amount",
                "max_amount",
                "cursor",
                "limit",
            ] {
                let path = format!(
                    "/v1/tenants/{}/transactions?{parameter}={}",
                    account.tenant_id,
                    encode(hostile)
                );
                let reply = app.get(&path, token).await;
                assert!(
                    reply.status == StatusCode::OK || reply.status == StatusCode::BAD_REQUEST,
                    "{path}: {}",
                    reply.text
                );
                if reply.status == StatusCode::OK {
                    assert_eq!(reply.body["items"].as_array().unwrap().len(), 0, "{path}");
                }
            }
            let hostile_header = app
                .get("/v1/me", &format!("vk_{}", hostile.replace(' ', "")))
                .await;
            assert_eq!(hostile_header.status, StatusCode::UNAUTHORIZED);
            for field in ["format", "currency", "date_order", "amount_sign", "decimal"] {
                let reply = app
                    .upload(
                        token,
                        &format!("{hostile}.csv"),
                        &quickbooks_csv(),
                        &[(field, hostile)],
                    )
                    .await;
                assert!(reply.status.is_client_error(), "{field}: {}", reply.text);
            }
        }
        let named = app
            .upload(
                token,
                "'; DROP TABLE transactions; --.csv",
                &quickbooks_csv(),
                &[],
            )
            .await;
        assert_eq!(named.status, StatusCode::CREATED, "{}", named.text);
        // Everything still works and nothing leaked into other rows.
        let all = app
            .get(
                &format!("/v1/tenants/{}/transactions?limit=500", account.tenant_id),
                token,
            )
            .await;
        assert_eq!(all.body["items"].as_array().unwrap().len(), 20);
        let (users,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users")
            .fetch_one(&app.state.database.pool)
            .await
            .unwrap();
        assert!(users >= 1);
        app.login(&account.email).await;
        let nul = app
            .get(
                &format!(
                    "/v1/tenants/{}/transactions?vendor=a%00b",
                    account.tenant_id
                ),
                token,
            )
            .await;
        assert_error(&nul, StatusCode::BAD_REQUEST, "bad_request");
    }

    backend_tests!(defaults => sql_metacharacters_in_every_string_parameter);
}

/// Rate limits, security headers, CORS, error shapes, metrics, health, migrations.
mod platform {
    use super::*;

    async fn rate_limit_per_user_and_per_ip(app: TestApp) {
        let account = app.account("busy").await;
        let other = app.account("calm").await;
        let mut limited = None;
        // Windows are fixed minutes: a window boundary during the loop restarts the count,
        // so the limit is hit after 1,000 to 2,000 requests (exact counting is unit-tested).
        for attempt in 0..2_100 {
            let reply = app.get("/v1/me", &account.access).await;
            if reply.status == StatusCode::TOO_MANY_REQUESTS {
                limited = Some((attempt, reply));
                break;
            }
            assert_eq!(reply.status, StatusCode::OK);
        }
        let (attempt, reply) = limited.expect("the limit applies");
        // The account's own login and registration requests count against the IP, not the user.
        assert!((1_000..=2_000).contains(&attempt), "{attempt}");
        assert_error(&reply, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
        let retry_after: u64 = reply.headers[header::RETRY_AFTER]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&retry_after));
        assert_eq!(
            app.get("/v1/me", &other.access).await.status,
            StatusCode::OK,
            "other users are not limited"
        );
        let healthz = app.call(Method::GET, "/healthz", None, None).await;
        assert_eq!(healthz.status, StatusCode::OK);
        let mut unauthenticated_limited = false;
        for _ in 0..2_100 {
            let reply = app.call(Method::GET, "/openapi.json", None, None).await;
            if reply.status == StatusCode::TOO_MANY_REQUESTS {
                unauthenticated_limited = true;
                break;
            }
        }
        assert!(
            unauthenticated_limited,
            "unauthenticated requests are limited per IP"
        );
    }

    async fn security_headers_and_uniform_errors(app: TestApp) {
        let account = app.account("hdr").await;
        for reply in [
            app.call(Method::GET, "/healthz", None, None).await,
            app.call(Method::GET, "/nope", None, None).await,
            app.get("/v1/me", "bad").await,
            app.get("/v1/me", &account.access).await,
        ] {
            let headers = &reply.headers;
            assert_eq!(headers["x-content-type-options"], "nosniff");
            assert!(
                headers["strict-transport-security"]
                    .to_str()
                    .unwrap()
                    .contains("max-age=")
            );
            assert!(
                headers["content-security-policy"]
                    .to_str()
                    .unwrap()
                    .contains("frame-ancestors 'none'")
            );
            assert_eq!(headers["referrer-policy"], "no-referrer");
            assert_eq!(headers["x-frame-options"], "DENY");
            assert!(
                headers.get("access-control-allow-origin").is_none(),
                "no CORS without an allow-list"
            );
        }
        assert_error(
            &app.call(Method::GET, "/nope", None, None).await,
            StatusCode::NOT_FOUND,
            "not_found",
        );
        let not_allowed = app
            .call(Method::DELETE, "/v1/me", Some(&account.access), None)
            .await;
        assert_error(
            &not_allowed,
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        );
        let get_login = app.call(Method::GET, "/v1/auth/login", None, None).await;
        assert_error(
            &get_login,
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        );
        let oversized = app
            .post(
                "/v1/tenants",
                Some(&account.access),
                json!({ "name": "n".repeat(70_000) }),
            )
            .await;
        assert_error(
            &oversized,
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        );
        let docs = app.call(Method::GET, "/docs", None, None).await;
        assert_eq!(docs.status, StatusCode::OK);
        assert!(docs.text.contains("/docs/app.js"));
        assert_eq!(
            app.call(Method::GET, "/docs/app.js", None, None)
                .await
                .status,
            StatusCode::OK
        );
        assert_eq!(
            app.call(Method::GET, "/docs/app.css", None, None)
                .await
                .status,
            StatusCode::OK
        );
        let ready = app.call(Method::GET, "/readyz", None, None).await;
        assert_eq!(ready.body["status"], "ready");
    }

    async fn metrics_use_route_templates(app: TestApp) {
        let account = app.account("met").await;
        app.get(
            &format!("/v1/tenants/{}", account.tenant_id),
            &account.access,
        )
        .await;
        app.get(&format!("/v1/tenants/{}", account.tenant_id), "bad")
            .await;
        app.call(Method::GET, "/nope", None, None).await;
        let metrics = app.call(Method::GET, "/metrics", None, None).await;
        assert_eq!(metrics.status, StatusCode::OK);
        assert!(
            metrics.headers[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/plain")
        );
        let text = metrics.text;
        assert!(text.contains(r#"verocta_http_requests_total{route="/v1/tenants/{tenant_id}",method="GET",status="200"} 1"#), "{text}");
        assert!(text.contains(r#"verocta_http_requests_total{route="/v1/tenants/{tenant_id}",method="GET",status="401"} 1"#));
        assert!(text.contains(r#"route="unmatched""#));
        assert!(text.contains("verocta_http_request_duration_seconds_bucket{route=\"/v1/auth/login\",method=\"POST\",le=\"+Inf\"}"));
        assert!(
            !text.contains(&account.tenant_id),
            "no tenant ids in labels"
        );
    }

    async fn migrations_are_idempotent(app: TestApp) {
        app.state
            .database
            .migrate()
            .await
            .expect("second run is a no-op");
        app.state
            .database
            .migrate()
            .await
            .expect("third run is a no-op");
        let (versions,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM _sqlx_migrations")
            .fetch_one(&app.state.database.pool)
            .await
            .unwrap();
        assert_eq!(versions, 1);
        app.account("after").await;
    }

    backend_tests!(defaults =>
        rate_limit_per_user_and_per_ip,
        security_headers_and_uniform_errors,
        metrics_use_route_templates,
        migrations_are_idempotent,
    );

    fn with_cors(config: &mut ServeConfig) {
        config.cors_origins = vec!["https://app.verocta.ai".into()];
    }

    async fn cors_allows_listed_origins_only(app: TestApp) {
        let preflight = |origin: &'static str| {
            Request::builder()
                .method(Method::OPTIONS)
                .uri("/v1/me")
                .header(header::ORIGIN, origin)
                .header(header::ACCESS_CONTROL_REQUEST_METHOD, "GET")
                .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "authorization")
                .body(Body::empty())
                .unwrap()
        };
        let allowed = app.send(preflight("https://app.verocta.ai")).await;
        assert_eq!(
            allowed.headers["access-control-allow-origin"],
            "https://app.verocta.ai"
        );
        let refused = app.send(preflight("https://evil.example")).await;
        assert!(refused.headers.get("access-control-allow-origin").is_none());
    }

    mod cors {
        use super::*;
        backend_tests!(with_cors => cors_allows_listed_origins_only);
    }
}

/// The OpenAPI document: generated from the router, served, checked in, complete.
mod openapi {
    use super::*;

    const OPENAPI_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");

    /// Every operation the router serves. Adding a route means adding it here, to the
    /// checked-in `openapi.json` (UPDATE_OPENAPI=1) and to docs/api.md.
    const OPERATIONS: &[(&str, &str)] = &[
        ("get", "/healthz"),
        ("get", "/readyz"),
        ("get", "/metrics"),
        ("get", "/openapi.json"),
        ("get", "/docs"),
        ("get", "/docs/app.js"),
        ("get", "/docs/app.css"),
        ("post", "/v1/auth/register"),
        ("post", "/v1/auth/verify-email"),
        ("post", "/v1/auth/login"),
        ("post", "/v1/auth/refresh"),
        ("post", "/v1/auth/logout"),
        ("post", "/v1/auth/switch-tenant"),
        ("post", "/v1/auth/password/change"),
        ("post", "/v1/auth/password/forgot"),
        ("post", "/v1/auth/password/reset"),
        ("post", "/v1/auth/mfa/totp/enroll"),
        ("post", "/v1/auth/mfa/totp/confirm"),
        ("post", "/v1/auth/mfa/totp/disable"),
        ("post", "/v1/auth/mfa/recovery-codes"),
        ("get", "/v1/me"),
        ("get", "/v1/tenants"),
        ("post", "/v1/tenants"),
        ("get", "/v1/tenants/{tenant_id}"),
        ("patch", "/v1/tenants/{tenant_id}"),
        ("get", "/v1/tenants/{tenant_id}/transactions"),
        ("get", "/v1/members"),
        ("patch", "/v1/members/{user_id}"),
        ("delete", "/v1/members/{user_id}"),
        ("get", "/v1/invitations"),
        ("post", "/v1/invitations"),
        ("delete", "/v1/invitations/{invitation_id}"),
        ("post", "/v1/invitations/accept"),
        ("get", "/v1/api-keys"),
        ("post", "/v1/api-keys"),
        ("delete", "/v1/api-keys/{key_id}"),
        ("get", "/v1/audit"),
        ("get", "/v1/uploads"),
        ("post", "/v1/uploads"),
        ("get", "/v1/uploads/{upload_id}"),
    ];

    fn document() -> Value {
        serde_json::from_str(&verocta_serving::routes::openapi_json().unwrap()).unwrap()
    }

    fn documented_operations(document: &Value) -> Vec<(String, String)> {
        let mut operations: Vec<(String, String)> = document["paths"]
            .as_object()
            .unwrap()
            .iter()
            .flat_map(|(path, item)| {
                item.as_object()
                    .unwrap()
                    .keys()
                    .map(move |method| (method.clone(), path.clone()))
            })
            .collect();
        operations.sort();
        operations
    }

    #[test]
    fn the_checked_in_document_is_current() {
        let generated = verocta_serving::routes::openapi_json().unwrap();
        if std::env::var("UPDATE_OPENAPI").is_ok_and(|value| value == "1") {
            std::fs::write(OPENAPI_FILE, &generated).unwrap();
        }
        let checked_in = std::fs::read_to_string(OPENAPI_FILE).unwrap_or_default();
        assert!(
            checked_in == generated,
            "serving/openapi.json is stale: run `UPDATE_OPENAPI=1 cargo test -p verocta-serving --test api openapi` and commit it"
        );
        let document = document();
        assert_eq!(document["openapi"], "3.1.0");
        assert!(document["components"]["securitySchemes"]["bearer"].is_object());
    }

    #[test]
    fn the_document_lists_exactly_the_operations() {
        let mut expected: Vec<(String, String)> = OPERATIONS
            .iter()
            .map(|(method, path)| (method.to_string(), path.to_string()))
            .collect();
        expected.sort();
        assert_eq!(documented_operations(&document()), expected);
    }

    async fn the_router_serves_every_documented_operation(app: TestApp) {
        let served = app.call(Method::GET, "/openapi.json", None, None).await;
        assert_eq!(served.status, StatusCode::OK);
        assert_eq!(served.body, document());
        for (method, path) in documented_operations(&served.body) {
            let concrete = path
                .replace("{tenant_id}", "tn_x")
                .replace("{user_id}", "usr_x")
                .replace("{invitation_id}", "inv_x")
                .replace("{key_id}", "key_x")
                .replace("{upload_id}", "upl_x");
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let reply = app.call(method.clone(), &concrete, None, None).await;
            assert_ne!(
                reply.status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}"
            );
            assert!(
                reply.body["error"]["message"] != "no such route",
                "{method} {path} is documented but not served"
            );
            assert!(
                !reply.status.is_server_error(),
                "{method} {path}: {}",
                reply.text
            );
        }
        // And the converse for a route that does not exist.
        let missing = app.call(Method::GET, "/v1/nothing-here", None, None).await;
        assert_eq!(missing.body["error"]["message"], "no such route");
    }

    backend_tests!(defaults => the_router_serves_every_documented_operation);
}
