//! A fresh database per test, seeded with two organizations and a member of each role.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use roster_api::{ApiConfig, AppState};
use roster_core::model::NewUser;
use roster_core::token::TokenSecret;
use roster_core::{Email, OrgId, Role, Store, UserId};
use serde_json::Value;
use tower::ServiceExt;

pub struct Seeded {
    pub id: UserId,
    pub token: String,
}

/// The storage backends every behavioural test runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

tokio::task_local! {
    /// The backend the running test asked for (see `roster_test!`).
    pub static BACKEND: Backend;
}

/// Declares one test body that runs once per backend, as `name::sqlite` and
/// `name::postgres`.
macro_rules! roster_test {
    ($(#[$meta:meta])* async fn $name:ident() $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            $(#[$meta])*
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                crate::harness::BACKEND.scope(crate::harness::Backend::Sqlite, async $body).await
            }

            $(#[$meta])*
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                crate::harness::BACKEND.scope(crate::harness::Backend::Postgres, async $body).await
            }
        }
    };
}

/// Where a test's data lives; dropped with the test.
enum Storage {
    Sqlite(tempfile::TempDir),
    Postgres { admin_url: String, schema: String },
}

const POSTGRES_URL_VAR: &str = "ROSTER_TEST_POSTGRES_URL";

/// A store on the current backend, in storage of its own.
async fn open_store() -> (Arc<dyn Store>, Storage) {
    match BACKEND.try_with(|b| *b).unwrap_or(Backend::Sqlite) {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("tempdir");
            let store = roster_sqlite::SqliteStore::open(&dir.path().join("roster.db"))
                .expect("open store");
            (Arc::new(store), Storage::Sqlite(dir))
        }
        Backend::Postgres => {
            // Never skipped: a missing server is a failure, with the way to get one.
            let admin_url = std::env::var(POSTGRES_URL_VAR).unwrap_or_else(|_| {
                panic!(
                    "{POSTGRES_URL_VAR} is not set: run the suite with scripts/test (see README)"
                )
            });
            let schema = format!("t_{}", roster_core::GroupId::generate().expect("random"));
            admin_execute(&admin_url, &format!("CREATE SCHEMA {schema}")).await;
            let url = format!("{admin_url}?options=-csearch_path%3D{schema}");
            let options = roster_postgres::PoolOptions { size: 4, ..Default::default() };
            let store = roster_postgres::PgStore::connect(&url, &options).await.expect("connect");
            (Arc::new(store), Storage::Postgres { admin_url, schema })
        }
    }
}

async fn admin_execute(url: &str, sql: &str) {
    let (client, connection) =
        tokio_postgres::connect(url, tokio_postgres::NoTls).await.expect("connect");
    let driver = tokio::spawn(connection);
    client.batch_execute(sql).await.expect("admin statement");
    drop(client);
    let _ = driver.await;
}

pub struct TestApp {
    pub router: Router,
    pub store: Arc<dyn Store>,
    pub org: OrgId,
    pub admin: Seeded,
    pub standard: Seeded,
    pub light: Seeded,
    pub other_org: OrgId,
    pub other_admin: Seeded,
    storage: Storage,
}

pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

impl TestResponse {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub async fn seed_member(store: &dyn Store, org: &OrgId, email: &str, role: Role) -> Seeded {
    let member = store
        .add_member(
            org,
            &NewUser {
                email: Email::parse(email).expect("test email"),
                first_name: "First".into(),
                last_name: email.split('@').next().unwrap_or_default().into(),
                role,
            },
        )
        .await
        .expect("add member");
    Seeded { id: member.user.id, token: issue_token(store, org, member.user.id).await }
}

pub async fn issue_token(store: &dyn Store, org: &OrgId, user: UserId) -> String {
    let secret = TokenSecret::generate().expect("token");
    store.create_token(org, user, &secret.hash(), None).await.expect("create token");
    secret.expose().to_owned()
}

impl TestApp {
    pub async fn new() -> Self {
        Self::with_config(ApiConfig::default()).await
    }

    pub async fn with_config(config: ApiConfig) -> Self {
        // Server-side errors show in a failing test's output.
        let _ = tracing_subscriber::fmt()
            .with_test_writer()
            .with_max_level(tracing::Level::WARN)
            .try_init();
        let (store, storage) = open_store().await;
        let org = store.create_org("Acme").await.expect("org").id;
        let other_org = store.create_org("Other").await.expect("org").id;
        let admin = seed_member(store.as_ref(), &org, "admin@acme.test", Role::Admin).await;
        let standard =
            seed_member(store.as_ref(), &org, "standard@acme.test", Role::Standard).await;
        let light = seed_member(store.as_ref(), &org, "light@acme.test", Role::Light).await;
        let other_admin =
            seed_member(store.as_ref(), &other_org, "admin@other.test", Role::Admin).await;
        let router = roster_api::router(AppState::new(Arc::clone(&store), config));
        Self { router, store, org, admin, standard, light, other_org, other_admin, storage }
    }

    /// Another instance on the same database (its own store and connections, as another
    /// process would have), with the default configuration.
    pub async fn second_instance(&self) -> (Router, Arc<dyn Store>) {
        let store: Arc<dyn Store> = match &self.storage {
            Storage::Sqlite(dir) => Arc::new(
                roster_sqlite::SqliteStore::open(&dir.path().join("roster.db")).expect("open"),
            ),
            Storage::Postgres { admin_url, schema } => {
                let url = format!("{admin_url}?options=-csearch_path%3D{schema}");
                let options = roster_postgres::PoolOptions { size: 4, ..Default::default() };
                Arc::new(roster_postgres::PgStore::connect(&url, &options).await.expect("connect"))
            }
        };
        (roster_api::router(AppState::new(Arc::clone(&store), ApiConfig::default())), store)
    }

    /// Drops the groups table behind the store's back, to provoke storage faults.
    pub async fn break_groups_table(&self) {
        match &self.storage {
            Storage::Sqlite(dir) => {
                let conn = rusqlite::Connection::open(dir.path().join("roster.db")).expect("open");
                conn.execute_batch(
                    "PRAGMA foreign_keys = OFF; DROP TABLE group_members; DROP TABLE group_guests; DROP TABLE groups;",
                )
                .expect("drop");
            }
            Storage::Postgres { admin_url, schema } => {
                admin_execute(admin_url, &format!("DROP TABLE {schema}.groups CASCADE")).await;
            }
        }
    }

    /// `/organizations/{org}` followed by `rest`.
    pub fn org_path(&self, rest: &str) -> String {
        format!("/organizations/{}{rest}", self.org)
    }

    pub async fn send(&self, request: Request<Body>) -> TestResponse {
        let response = self.router.clone().oneshot(request).await.expect("infallible router");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.expect("body").to_bytes();
        TestResponse { status, headers, text: String::from_utf8_lossy(&bytes).into_owned() }
    }

    /// A request as Tallyfy's clients make it: bearer token, `X-Tallyfy-Client`, JSON.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<&str>,
    ) -> TestResponse {
        self.send(request(method, path, Some(token), body)).await
    }

    pub async fn get(&self, path: &str, token: &str) -> TestResponse {
        self.call(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: &Value) -> TestResponse {
        self.call(Method::POST, path, token, Some(&body.to_string())).await
    }

    pub async fn put(&self, path: &str, token: &str, body: &Value) -> TestResponse {
        self.call(Method::PUT, path, token, Some(&body.to_string())).await
    }

    pub async fn delete(&self, path: &str, token: &str) -> TestResponse {
        self.call(Method::DELETE, path, token, None).await
    }

    /// Creates a group as the admin and returns its JSON.
    pub async fn create_group(&self, body: Value) -> Value {
        let response = self.post(&self.org_path("/groups"), &self.admin.token, &body).await;
        assert_eq!(response.status, StatusCode::CREATED, "{}", response.text);
        response.json()["data"].clone()
    }

    pub async fn group_count(&self) -> u64 {
        let response = self.get(&self.org_path("/groups"), &self.admin.token).await;
        assert_eq!(response.status, StatusCode::OK);
        response.json()["meta"]["pagination"]["total"].as_u64().expect("total")
    }
}

pub fn request(
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> Request<Body> {
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "roster.test")
        .header("accept", "application/json")
        .header("x-tallyfy-client", "APIClient");
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    if body.is_some() {
        builder = builder.header("content-type", "application/json");
    }
    builder.body(Body::from(body.unwrap_or_default().to_owned())).expect("request")
}

/// Asserts Tallyfy's timestamp form, `YYYY-MM-DDTHH:MM:SS.sssZ`.
pub fn assert_timestamp(value: &Value) {
    let text = value.as_str().unwrap_or_else(|| panic!("not a string: {value}"));
    let bytes = text.as_bytes();
    let shape_ok = bytes.len() == 24
        && text.ends_with('Z')
        && bytes.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            10 => *b == b'T',
            13 | 16 => *b == b':',
            19 => *b == b'.',
            23 => *b == b'Z',
            _ => b.is_ascii_digit(),
        });
    assert!(shape_ok, "bad timestamp {text:?}");
}

/// Asserts a 32-lowercase-hex id and returns it.
pub fn assert_hex_id(value: &Value) -> String {
    let id = value.as_str().unwrap_or_else(|| panic!("not a string: {value}"));
    assert!(
        id.len() == 32 && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "bad id {id:?}"
    );
    id.to_owned()
}
