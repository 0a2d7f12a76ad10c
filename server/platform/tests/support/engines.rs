//! Both database engines for suites that run every test unchanged on SQLite and on PostgreSQL.
//!
//! PostgreSQL comes from `TEST_POSTGRES_URL` (a server the test may create databases on; `make
//! test` starts a private one). Without it the PostgreSQL half fails rather than being skipped.

#![allow(dead_code)]

use causeway_platform::Store;
use sqlx::Connection as _;

/// A store on a fresh SQLite file.
pub async fn sqlite() -> Store {
    Store::open(&sqlite_url()).await.expect("open SQLite")
}

/// The address of a fresh SQLite file, for suites that also reach the database directly.
pub fn sqlite_url() -> String {
    let dir = std::env::temp_dir().join(format!("causeway-store-{}", uuid::Uuid::new_v4()));
    format!("sqlite://{}/causeway.db", dir.display())
}

/// A store on a fresh PostgreSQL database.
pub async fn postgres() -> Store {
    Store::open(&postgres_url().await)
        .await
        .expect("open PostgreSQL")
}

/// The address of a fresh PostgreSQL database, for suites that also reach it directly.
pub async fn postgres_url() -> String {
    let base = std::env::var("TEST_POSTGRES_URL").unwrap_or_else(|_| {
        panic!("TEST_POSTGRES_URL is not set: run `make test`, or start a server with `tests/scripts/postgres.sh up DIR` and export the URL it prints")
    });
    // A fresh database per test keeps the tests independent and lets them run in parallel.
    let name = format!("cw_{}", uuid::Uuid::new_v4().simple());
    sqlx::any::install_default_drivers();
    let mut admin = sqlx::AnyConnection::connect(&base)
        .await
        .expect("connect to TEST_POSTGRES_URL");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .expect("create database");
    let (prefix, _) = base.rsplit_once('/').expect("URL with a database");
    format!("{prefix}/{name}")
}

/// Declares each test `name(store)` once per engine, as `name::sqlite` and `name::postgres`.
macro_rules! on_both_engines {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$name(crate::engines::sqlite().await).await;
            }
            #[tokio::test]
            async fn postgres() {
                super::$name(crate::engines::postgres().await).await;
            }
        }
    )*};
}
