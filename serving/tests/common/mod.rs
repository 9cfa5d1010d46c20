//! Test harness: one API per test, on SQLite in a temporary directory or on a fresh
//! PostgreSQL database, driven in-process through the router with `oneshot`.
//!
//! PostgreSQL: `VEROCTA_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`)
//! names a server where each test creates `verocta_test_<random>` and drops it afterwards.
//! When the server cannot be reached the PostgreSQL variants fail, unless
//! `VEROCTA_SKIP_POSTGRES=1` is set.

#![allow(dead_code)]

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use sqlx::Connection;
use tower::ServiceExt;
use verocta_serving::{AppState, PasswordHashing, ServeConfig, build_app};

/// Default admin URL of the test PostgreSQL server.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
/// A password every test account uses.
pub const PASSWORD: &str = "correct horse battery";

/// One API under test.
#[derive(Clone)]
pub struct TestApp {
    /// The complete router with every layer.
    pub router: Router,
    /// Its state (database, signer…), for tests that look behind the API.
    pub state: AppState,
    /// The configuration it was built from.
    pub config: ServeConfig,
    _data_dir: Arc<tempfile::TempDir>,
}

/// A response, decoded.
pub struct Reply {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// JSON body (`Value::Null` when empty or not JSON).
    pub body: Value,
    /// Raw body text.
    pub text: String,
}

/// A registered, verified, logged-in user with their own tenant.
#[derive(Clone, Debug)]
pub struct Account {
    /// Email.
    pub email: String,
    /// User id.
    pub user_id: String,
    /// Their own tenant.
    pub tenant_id: String,
    /// Access token.
    pub access: String,
    /// Refresh token.
    pub refresh: String,
}

fn test_config(data_dir: &std::path::Path) -> ServeConfig {
    let mut config = ServeConfig::new(data_dir, "127.0.0.1:0".parse().expect("address"));
    config.secret_key = Some("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".into());
    config.password_hashing = PasswordHashing::FastForTests;
    config.max_database_connections = 4;
    config
}

/// Runs `test` against an API on SQLite.
pub async fn run_sqlite<F, Fut>(configure: fn(&mut ServeConfig), test: F)
where
    F: FnOnce(TestApp) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let data_dir = tempfile::tempdir().expect("tempdir");
    let mut config = test_config(data_dir.path());
    configure(&mut config);
    let app = start(config, data_dir).await;
    test(app).await;
}

/// Runs `test` against an API on a fresh PostgreSQL database, dropped afterwards.
pub async fn run_postgres<F, Fut>(configure: fn(&mut ServeConfig), test: F)
where
    F: FnOnce(TestApp) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    if std::env::var("VEROCTA_SKIP_POSTGRES").is_ok_and(|value| value == "1") {
        eprintln!("VEROCTA_SKIP_POSTGRES=1: skipping the PostgreSQL variant");
        return;
    }
    sqlx::any::install_default_drivers();
    let admin_url = std::env::var("VEROCTA_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_string());
    let database = format!(
        "verocta_test_{}",
        verocta_serving::crypto::hex(
            &verocta_serving::crypto::random_bytes::<8>().expect("random")
        )
    );
    let mut admin = sqlx::AnyConnection::connect(&admin_url).await.unwrap_or_else(|error| {
        panic!("PostgreSQL at {admin_url} is unreachable ({error}); start it or set VEROCTA_SKIP_POSTGRES=1")
    });
    sqlx::query(&format!("CREATE DATABASE {database}"))
        .execute(&mut admin)
        .await
        .expect("create test database");
    let data_dir = tempfile::tempdir().expect("tempdir");
    let mut config = test_config(data_dir.path());
    config.database_url = Some(database_url(&admin_url, &database));
    configure(&mut config);
    let app = start(config, data_dir).await;
    let pool = app.state.database.pool.clone();
    let outcome = tokio::spawn(test(app)).await;
    pool.close().await;
    let dropped = sqlx::query(&format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
        .execute(&mut admin)
        .await;
    if let Err(error) = dropped {
        eprintln!("cannot drop {database}: {error}");
    }
    if let Err(error) = outcome {
        std::panic::resume_unwind(error.into_panic());
    }
}

/// The admin URL with its database name replaced.
fn database_url(admin_url: &str, database: &str) -> String {
    let (base, query) = admin_url
        .split_once('?')
        .map_or((admin_url, None), |(b, q)| (b, Some(q)));
    let authority_end = base.find("://").map_or(0, |index| index + 3);
    let base = match base[authority_end..].find('/') {
        Some(slash) => &base[..authority_end + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{database}?{query}"),
        None => format!("{base}/{database}"),
    }
}

async fn start(config: ServeConfig, data_dir: tempfile::TempDir) -> TestApp {
    let (router, state) = build_app(&config).await.expect("build app");
    TestApp {
        router,
        state,
        config,
        _data_dir: Arc::new(data_dir),
    }
}

/// Generates a SQLite and a PostgreSQL test for each async test function.
#[macro_export]
macro_rules! backend_tests {
    ($configure:expr => $($name:ident),* $(,)?) => {
        mod sqlite {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    $crate::common::run_sqlite($configure, super::$name).await;
                }
            )*
        }
        mod postgres {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    $crate::common::run_postgres($configure, super::$name).await;
                }
            )*
        }
    };
}

/// Leaves the test configuration as it is.
pub fn defaults(_: &mut ServeConfig) {}

impl TestApp {
    /// Sends a request built by the caller.
    pub async fn send(&self, request: Request<Body>) -> Reply {
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let text = String::from_utf8_lossy(&bytes).to_string();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
            text,
        }
    }

    /// Sends `method path` with an optional bearer token and JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut builder = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let request = match body {
            Some(body) => builder
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string())),
            None => builder.body(Body::empty()),
        }
        .expect("request");
        self.send(request).await
    }

    /// GET with a token.
    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.call(Method::GET, path, Some(token), None).await
    }

    /// POST JSON with an optional token.
    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.call(Method::POST, path, token, Some(body)).await
    }

    /// The body of the newest outbox email to `recipient` whose subject starts with `subject`.
    pub async fn last_email(&self, recipient: &str, subject: &str) -> String {
        let (body,): (String,) = sqlx::query_as(
            "SELECT body FROM outbox WHERE recipient = $1 AND subject LIKE $2 \
             ORDER BY created_at DESC, id DESC LIMIT 1",
        )
        .bind(recipient)
        .bind(format!("{subject}%"))
        .fetch_one(&self.state.database.pool)
        .await
        .expect("an email in the outbox");
        body
    }

    /// The token quoted in the newest email to `recipient` with that subject.
    pub async fn emailed_token(&self, recipient: &str, subject: &str) -> String {
        let body = self.last_email(recipient, subject).await;
        let start = body.find("\"token\": \"").expect("token in email") + 10;
        body[start..]
            .split('"')
            .next()
            .expect("token end")
            .to_string()
    }

    /// Registers (and verifies, outside dev mode) a user, without logging in.
    pub async fn register(&self, email: &str, company: &str) -> (String, String) {
        let reply = self
            .post(
                "/v1/auth/register",
                None,
                json!({ "email": email, "password": PASSWORD, "company": company }),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
        if !self.config.dev_mode {
            let token = self.emailed_token(email, "Confirm").await;
            let verified = self
                .post("/v1/auth/verify-email", None, json!({ "token": token }))
                .await;
            assert_eq!(verified.status, StatusCode::NO_CONTENT, "{}", verified.text);
        }
        (
            reply.body["user_id"].as_str().expect("user_id").to_string(),
            reply.body["tenant_id"]
                .as_str()
                .expect("tenant_id")
                .to_string(),
        )
    }

    /// Logs in; panics unless 200.
    pub async fn login(&self, email: &str) -> (String, String) {
        let reply = self
            .post(
                "/v1/auth/login",
                None,
                json!({ "email": email, "password": PASSWORD }),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        tokens(&reply)
    }

    /// Registers, verifies and logs in a new user with their own tenant.
    pub async fn account(&self, name: &str) -> Account {
        let email = format!("{name}@example.com");
        let (user_id, tenant_id) = self.register(&email, &format!("{name} Ltd")).await;
        let (access, refresh) = self.login(&email).await;
        Account {
            email,
            user_id,
            tenant_id,
            access,
            refresh,
        }
    }

    /// Invites `member` into `owner`'s tenant with `role` and returns `member`'s tokens for
    /// that tenant.
    pub async fn join(&self, owner: &Account, member: &Account, role: &str) -> String {
        let invited = self
            .post(
                "/v1/invitations",
                Some(&owner.access),
                json!({ "email": member.email, "role": role }),
            )
            .await;
        assert_eq!(invited.status, StatusCode::CREATED, "{}", invited.text);
        let token = invited.body["token"].as_str().expect("token").to_string();
        let accepted = self
            .post(
                "/v1/invitations/accept",
                Some(&member.access),
                json!({ "token": token }),
            )
            .await;
        assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.text);
        let switched = self
            .post(
                "/v1/auth/switch-tenant",
                Some(&member.access),
                json!({ "tenant_id": owner.tenant_id }),
            )
            .await;
        assert_eq!(switched.status, StatusCode::OK, "{}", switched.text);
        tokens(&switched).0
    }

    /// Uploads a file as multipart with extra text fields.
    pub async fn upload(
        &self,
        token: &str,
        file_name: &str,
        content: &[u8],
        fields: &[(&str, &str)],
    ) -> Reply {
        let boundary = "verocta-test-boundary";
        let mut body = Vec::new();
        for (name, value) in fields {
            body.extend_from_slice(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                    .as_bytes(),
            );
        }
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: text/csv\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(content);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let request = Request::post("/v1/uploads")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(
                header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(Body::from(body))
            .expect("request");
        self.send(request).await
    }
}

/// The (access, refresh) tokens of a token-pair reply.
pub fn tokens(reply: &Reply) -> (String, String) {
    (
        reply.body["access_token"]
            .as_str()
            .expect("access_token")
            .to_string(),
        reply.body["refresh_token"]
            .as_str()
            .expect("refresh_token")
            .to_string(),
    )
}

/// The real QuickBooks sample of the old product.
pub fn quickbooks_csv() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/data/veroctaai/quickbooks.csv"
    ))
    .expect("shared/data/veroctaai/quickbooks.csv beside the checkout")
}

/// Asserts the error shape and code.
pub fn assert_error(reply: &Reply, status: StatusCode, code: &str) {
    assert_eq!(reply.status, status, "{}", reply.text);
    assert_eq!(reply.body["error"]["code"], code, "{}", reply.text);
    assert!(reply.body["error"]["message"].is_string(), "{}", reply.text);
}
