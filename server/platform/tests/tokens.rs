//! API tokens' scopes, expiry, last use and their users leaving the catalog, on SQLite and on
//! PostgreSQL (`support/engines.rs`).

#[macro_use]
#[path = "support/engines.rs"]
mod engines;

use std::time::Duration;

use causeway_platform::catalog::{IngestOptions, yaml};
use causeway_platform::identity::{
    Issuer, Principal, Role, Scope, TokenCheck, TokenGrant, TokenRequest,
};
use causeway_platform::{Error, Platform, Settings, Store};
use sqlx::AnyPool;

const ORG: &str = r#"
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: { name: platform }
spec: { type: team, children: [] }
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: { name: payments }
spec: { type: team, children: [] }
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata: { name: linus }
spec: { memberOf: [platform] }
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata: { name: ada }
spec: { memberOf: [payments] }
"#;

const DAY: i64 = 86_400_000;

/// One replica's services over `store` (each has its own caches).
fn replica(store: &Store) -> Platform {
    Platform::new(
        store.clone(),
        &Settings {
            admin_teams: vec!["platform".to_owned()],
            session_ttl: Duration::from_secs(60),
        },
    )
    .expect("platform")
}

async fn seeded(store: Store) -> Platform {
    let platform = replica(&store);
    platform.load().await.expect("load");
    let documents = yaml::parse("org.yaml", ORG).expect("valid YAML");
    platform
        .catalog
        .ingest("test:org", documents, IngestOptions::default())
        .await
        .expect("import");
    platform
}

fn request(scopes: Option<&[&str]>, days: Option<i64>) -> TokenRequest {
    TokenRequest {
        name: "t".to_owned(),
        scopes: scopes.map(|s| s.iter().map(|s| (*s).to_owned()).collect()),
        expires_in_days: days,
    }
}

async fn live(platform: &Platform, secret: &str) -> (Principal, TokenGrant) {
    match platform.tokens.authenticate(secret).await.expect("auth") {
        TokenCheck::Live { principal, grant } => (principal, grant),
        other => panic!("expected a live token, got {other:?}"),
    }
}

async fn scopes_are_bounded_by_the_person_and_the_issuing_token(store: Store) {
    let platform = seeded(store).await;
    let tokens = &platform.tokens;
    let linus = platform
        .directory
        .principal("user:default/linus")
        .await
        .unwrap();
    let ada = platform
        .directory
        .principal("user:default/ada")
        .await
        .unwrap();

    // A session creates what its user may hold: `write` by default, `admin` for an admin only.
    let made = tokens
        .issue(&ada, Issuer::Session, &request(None, None))
        .await
        .expect("default");
    assert_eq!(made.token.scopes.to_stored(), "write");
    let err = tokens
        .issue(&ada, Issuer::Session, &request(Some(&["admin"]), None))
        .await
        .expect_err("admin for a developer");
    assert!(matches!(err, Error::Forbidden(_)), "{err}");
    assert!(
        err.to_string()
            .contains("scopes: `admin` is only for platform admins")
    );
    let err = tokens
        .issue(
            &ada,
            Issuer::Session,
            &request(Some(&["read", "owner"]), None),
        )
        .await
        .expect_err("unknown scope");
    assert_eq!(
        err.to_string(),
        "scopes[1]: \"owner\" is not a scope; expected read, write or admin"
    );
    let admin = tokens
        .issue(&linus, Issuer::Session, &request(Some(&["admin"]), None))
        .await
        .expect("admin for an admin");

    // The operator's default is the broadest the user may hold.
    let operator = tokens.create("user:default/linus", "ci").await.unwrap();
    assert_eq!(operator.token.scopes.broadest(), Some(Scope::Admin));
    let operator = tokens.create("user:default/ada", "ci").await.unwrap();
    assert_eq!(operator.token.scopes.broadest(), Some(Scope::Write));

    // An admin token acts as a platform admin; a write token of the same person does not.
    let (principal, admin_grant) = live(&platform, &admin.secret).await;
    assert_eq!(principal.role, Role::PlatformAdmin);
    let write = tokens
        .issue(&linus, Issuer::Session, &request(Some(&["write"]), None))
        .await
        .unwrap();
    let (as_write, write_grant) = live(&platform, &write.secret).await;
    assert_eq!(as_write.role, Role::Developer);
    assert!(write_grant.scopes.allows_changes());

    // A token creates nothing broader than itself.
    let err = tokens
        .issue(
            &as_write,
            Issuer::Token(&write_grant),
            &request(Some(&["admin"]), None),
        )
        .await
        .expect_err("admin from a write token");
    assert!(matches!(err, Error::Forbidden(_)), "{err}");
    let read = tokens
        .issue(&ada, Issuer::Session, &request(Some(&["read"]), None))
        .await
        .unwrap();
    let (as_read, read_grant) = live(&platform, &read.secret).await;
    assert!(!read_grant.scopes.allows_changes());
    let err = tokens
        .issue(
            &as_read,
            Issuer::Token(&read_grant),
            &request(Some(&["write"]), None),
        )
        .await
        .expect_err("write from a read token");
    assert!(
        err.to_string().contains(
            "cannot create a token broader than itself; this token's broadest scope is `read`"
        ),
        "{err}"
    );
    let narrower = tokens
        .issue(&as_read, Issuer::Token(&read_grant), &request(None, None))
        .await
        .expect("a read token's default is read");
    assert_eq!(narrower.token.scopes.to_stored(), "read");
    tokens
        .issue(
            &principal,
            Issuer::Token(&admin_grant),
            &request(Some(&["admin"]), Some(30)),
        )
        .await
        .expect("an admin token may create an admin token");
}

async fn expiry_has_a_default_a_maximum_and_never_outlives_the_issuer(store: Store) {
    let platform = seeded(store).await;
    let tokens = &platform.tokens;
    let ada = platform
        .directory
        .principal("user:default/ada")
        .await
        .unwrap();
    let now = causeway_platform::time::now_millis();

    let default = tokens
        .issue(&ada, Issuer::Session, &request(None, None))
        .await
        .unwrap();
    let lifetime = default.token.expires_at_millis - default.token.created_at_millis;
    assert_eq!(lifetime, 90 * DAY);
    let err = tokens
        .issue(&ada, Issuer::Session, &request(None, Some(366)))
        .await
        .expect_err("beyond the maximum");
    assert_eq!(
        err.to_string(),
        "expiresInDays: must be between 1 and 365 days (the server's token_max_days)"
    );
    tokens.set_max_days(30);
    assert!(
        tokens
            .issue(&ada, Issuer::Session, &request(None, Some(31)))
            .await
            .is_err()
    );
    let capped = tokens
        .issue(&ada, Issuer::Session, &request(None, None))
        .await
        .unwrap();
    assert_eq!(
        capped.token.expires_at_millis - capped.token.created_at_millis,
        30 * DAY,
        "the default never exceeds the maximum"
    );
    tokens.set_max_days(365);

    let short = tokens
        .issue(&ada, Issuer::Session, &request(None, Some(10)))
        .await
        .unwrap();
    let (as_short, grant) = live(&platform, &short.secret).await;
    let err = tokens
        .issue(&as_short, Issuer::Token(&grant), &request(None, Some(11)))
        .await
        .expect_err("outliving the issuer");
    assert!(
        err.to_string()
            .contains("expiresInDays: a token cannot create a token that outlives itself"),
        "{err}"
    );
    let child = tokens
        .issue(&as_short, Issuer::Token(&grant), &request(None, None))
        .await
        .expect("the default is cut to the issuer's expiry");
    assert_eq!(child.token.expires_at_millis, grant.expires_at_millis);
    assert!(child.token.expires_at_millis < now + 11 * DAY);
}

async fn expired_tokens_stop_working(store: Store, database: AnyPool) {
    let platform = seeded(store.clone()).await;
    let made = platform
        .tokens
        .create("user:default/ada", "old")
        .await
        .unwrap();
    sqlx::query("UPDATE api_tokens SET expires_at = $1 WHERE id = $2")
        .bind(causeway_platform::time::now_millis() - 1)
        .bind(&made.token.id)
        .execute(&database)
        .await
        .unwrap();
    assert!(matches!(
        platform.tokens.authenticate(&made.secret).await.unwrap(),
        TokenCheck::Expired { .. }
    ));
    let listed = platform
        .tokens
        .list(Some("user:default/ada"))
        .await
        .unwrap();
    assert_eq!(
        listed[0].last_used_at_millis, None,
        "an expired use is not a use"
    );
}

async fn last_use_is_written_at_most_once_a_minute(store: Store, database: AnyPool) {
    let platform = seeded(store.clone()).await;
    let made = platform
        .tokens
        .create("user:default/ada", "ci")
        .await
        .unwrap();
    let last_used = |database: AnyPool, id: String| async move {
        let row: (Option<i64>,) =
            sqlx::query_as("SELECT last_used_at FROM api_tokens WHERE id = $1")
                .bind(id)
                .fetch_one(&database)
                .await
                .unwrap();
        row.0
    };
    live(&platform, &made.secret).await;
    let first = last_used(database.clone(), made.token.id.clone())
        .await
        .expect("recorded");
    // Another replica (its own cache) within the minute reads but does not write.
    tokio::time::sleep(Duration::from_millis(5)).await;
    live(&replica(&store), &made.secret).await;
    assert_eq!(
        last_used(database.clone(), made.token.id.clone()).await,
        Some(first)
    );
    // A minute later, a use is written again.
    sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
        .bind(first - 61_000)
        .bind(&made.token.id)
        .execute(&database)
        .await
        .unwrap();
    live(&replica(&store), &made.secret).await;
    assert!(last_used(database.clone(), made.token.id.clone()).await > Some(first - 61_000));
}

async fn tokens_stop_when_their_user_leaves_the_catalog(store: Store, database: AnyPool) {
    let platform = seeded(store.clone()).await;
    let made = platform
        .tokens
        .create("user:default/ada", "ci")
        .await
        .unwrap();
    // Used (and cached) before the user leaves.
    live(&platform, &made.secret).await;
    let (uid,): (String,) = sqlx::query_as("SELECT uid FROM entities WHERE entity_ref = $1")
        .bind("user:default/ada")
        .fetch_one(&database)
        .await
        .unwrap();
    platform.catalog.delete_by_uid(&uid).await.expect("delete");
    assert_eq!(
        platform.tokens.authenticate(&made.secret).await.unwrap(),
        TokenCheck::Unknown,
        "this replica, with the token cached"
    );
    assert_eq!(
        replica(&store)
            .tokens
            .authenticate(&made.secret)
            .await
            .unwrap(),
        TokenCheck::Unknown,
        "another replica"
    );
}

/// Declares each test `name(store, database)` once per engine; `database` is a second pool on
/// the same database, for the changes no door makes (a token aged past its expiry or last use).
macro_rules! with_database {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::run(crate::engines::sqlite_url(), super::$name).await;
            }
            #[tokio::test]
            async fn postgres() {
                super::run(crate::engines::postgres_url().await, super::$name).await;
            }
        }
    )*};
}

async fn run<F, Fut>(url: String, test: F)
where
    F: FnOnce(Store, AnyPool) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let store = Store::open(&url).await.expect("open the store");
    sqlx::any::install_default_drivers();
    let database = AnyPool::connect(&url.replace("sqlite://", "sqlite:"))
        .await
        .expect("a second pool");
    test(store, database).await;
}

on_both_engines!(
    scopes_are_bounded_by_the_person_and_the_issuing_token,
    expiry_has_a_default_a_maximum_and_never_outlives_the_issuer,
);
with_database!(
    expired_tokens_stop_working,
    last_use_is_written_at_most_once_a_minute,
    tokens_stop_when_their_user_leaves_the_catalog,
);
