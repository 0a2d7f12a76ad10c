//! Access to the database. One pool type ([`sqlx::AnyPool`]) serves both engines so that every
//! query is written once; the engine-specific parts are the migrations and the connection set-up.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::AnyPool;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;

use crate::{Error, Result};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../../migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../../migrations/postgres");

/// The database engine behind a [`Store`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    /// The engine a database URL names, or an error naming the rule.
    pub fn from_url(url: &str) -> Result<Self> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres)
        } else {
            Err(Error::invalid(
                "database_url",
                "expected a URL starting with sqlite:// or postgres://",
            ))
        }
    }
}

/// A handle on the database, cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    engine: Engine,
}

impl Store {
    /// Prepares a pool for `url` without connecting: the first query connects. A server can then
    /// start, report itself unready and recover when the database comes back, instead of exiting.
    ///
    /// For SQLite the file and its directory are created when missing.
    pub fn connect_lazy(url: &str) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let engine = Engine::from_url(url)?;
        let url = match engine {
            Engine::Sqlite => prepare_sqlite_url(url)?,
            Engine::Postgres => url.to_owned(),
        };
        let options = AnyConnectOptions::from_str(&url)
            .map_err(|e| Error::invalid("database_url", format!("is not a valid URL: {e}")))?;
        let pool = AnyPoolOptions::new()
            .max_connections(match engine {
                // SQLite serialises writers anyway; a small pool avoids "database is locked".
                Engine::Sqlite => 4,
                Engine::Postgres => 16,
            })
            .acquire_timeout(Duration::from_secs(5))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if engine == Engine::Sqlite {
                        // WAL lets readers proceed while a writer commits; foreign keys are off by
                        // default in SQLite and the schema relies on them.
                        sqlx::query("PRAGMA journal_mode = WAL")
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("PRAGMA foreign_keys = ON")
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("PRAGMA busy_timeout = 5000")
                            .execute(&mut *conn)
                            .await?;
                        // The log is copied back into the database once it holds 64 MiB rather
                        // than SQLite's 4 MiB: a page written by several transactions in between
                        // is copied once. Batches of delivery events, whose keys land on pages
                        // all over their indexes, were written in about a quarter less time.
                        sqlx::query("PRAGMA wal_autocheckpoint = 16384")
                            .execute(&mut *conn)
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect_lazy_with(options);
        Ok(Self { pool, engine })
    }

    /// Connects to `url` and applies every pending migration.
    pub async fn open(url: &str) -> Result<Self> {
        let store = Self::connect_lazy(url)?;
        store.migrate().await?;
        Ok(store)
    }

    /// Applies every pending migration for this engine.
    pub async fn migrate(&self) -> Result<()> {
        let migrator = match self.engine {
            Engine::Sqlite => &SQLITE_MIGRATIONS,
            Engine::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&self.pool).await?;
        Ok(())
    }

    /// Checks that the database answers, within `timeout`.
    pub async fn ping(&self, timeout: Duration) -> Result<()> {
        let query = sqlx::query("SELECT 1").execute(&self.pool);
        match tokio::time::timeout(timeout, query).await {
            Ok(result) => result.map(|_| ()).map_err(Error::from),
            Err(_) => Err(Error::Database(sqlx::Error::PoolTimedOut)),
        }
    }

    /// The engine behind this store.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// The pool, for the modules of this crate.
    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Closes every connection; used at shutdown so SQLite checkpoints its WAL.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Adds `mode=rwc` so SQLite creates the file, and creates its directory.
fn prepare_sqlite_url(url: &str) -> Result<String> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or_default();
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path.is_empty() {
        return Err(Error::invalid(
            "database_url",
            "a sqlite:// URL needs a file path, for example sqlite://var/causeway.db",
        ));
    }
    let dir = Path::new(path)
        .parent()
        .filter(|d| !d.as_os_str().is_empty());
    if let Some(dir) = dir.filter(|_| path != ":memory:") {
        std::fs::create_dir_all(dir).map_err(|e| {
            Error::invalid(
                "database_url",
                format!("cannot create directory {}: {e}", dir.display()),
            )
        })?;
    }
    let mut query = query.to_owned();
    if !query.split('&').any(|kv| kv.starts_with("mode=")) {
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str("mode=rwc");
    }
    Ok(format!("sqlite://{path}?{query}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_is_taken_from_the_scheme() {
        assert_eq!(Engine::from_url("sqlite://x.db").ok(), Some(Engine::Sqlite));
        assert_eq!(
            Engine::from_url("postgres://h/db").ok(),
            Some(Engine::Postgres)
        );
        assert_eq!(
            Engine::from_url("postgresql://h/db").ok(),
            Some(Engine::Postgres)
        );
        let err = Engine::from_url("mysql://h/db")
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("database_url: expected a URL starting with sqlite:// or postgres://")
        );
    }

    #[test]
    fn sqlite_urls_get_create_mode() {
        let dir = std::env::temp_dir().join(format!("cw-{}", uuid::Uuid::new_v4()));
        let url = format!("sqlite://{}/sub/c.db", dir.display());
        let prepared = prepare_sqlite_url(&url).ok();
        assert_eq!(prepared, Some(format!("{url}?mode=rwc")));
        assert!(dir.join("sub").is_dir());
        let kept = prepare_sqlite_url("sqlite://:memory:?mode=memory").ok();
        assert_eq!(kept.as_deref(), Some("sqlite://:memory:?mode=memory"));
        assert!(prepare_sqlite_url("sqlite://").is_err());
        let _ = std::fs::remove_dir_all(dir);
    }
}
