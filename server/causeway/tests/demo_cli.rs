//! `causeway demo delivery` as a real process over a fresh SQLite database holding the demo
//! organisation: it records a history through the delivery domain, audited as the platform, a
//! second run records nothing new, and the DORA measures read it back.

use std::process::Output;
use std::time::Duration;

use causeway_platform::delivery::dora::Query;
use causeway_platform::{Platform, Store};
use sqlx::{Connection as _, Row};

struct Env {
    dir: std::path::PathBuf,
}

impl Env {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("causeway-demo-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        Self { dir }
    }

    fn database_url(&self) -> String {
        format!("sqlite://{}/causeway.db", self.dir.display())
    }

    fn run(&self, args: &[&str]) -> Output {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_causeway"));
        for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("CAUSEWAY_")) {
            command.env_remove(key);
        }
        command
            .env("CAUSEWAY_DATABASE_URL", self.database_url())
            .env("CAUSEWAY_LOG_FORMAT", "json")
            .args(args)
            .output()
            .expect("run causeway")
    }

    /// Runs a command that must succeed; its standard output.
    fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The two counts of `Recorded N delivery events (M already recorded) …`.
fn counts(stdout: &str) -> (usize, usize) {
    let number = |text: &str| -> usize {
        text.split_whitespace()
            .next()
            .and_then(|n| n.trim_start_matches('(').parse().ok())
            .unwrap_or_else(|| panic!("no count in {stdout:?}"))
    };
    let rest = stdout
        .strip_prefix("Recorded ")
        .unwrap_or_else(|| panic!("{stdout:?}"));
    let (_, already) = rest
        .split_once("events (")
        .unwrap_or_else(|| panic!("{stdout:?}"));
    (number(rest), number(already))
}

#[tokio::test]
async fn the_demo_delivery_history_is_recorded_once_and_measured() {
    let env = Env::new();
    env.ok(&["migrate"]);
    env.ok(&["seed"]);
    let organisation = concat!(env!("CARGO_MANIFEST_DIR"), "/demo/organisation");
    env.ok(&["catalog", "import", organisation]);

    let first = env.ok(&["demo", "delivery"]);
    let (recorded, already) = counts(&first);
    assert_eq!(already, 0, "{first}");
    assert!((500..2000).contains(&recorded), "{first}");
    let again = env.ok(&["demo", "delivery"]);
    assert_eq!(counts(&again), (0, recorded), "{again}");

    let store = Store::connect_lazy(&env.database_url()).expect("store");
    let platform = Platform::new(
        store.clone(),
        &causeway_platform::Settings {
            admin_teams: Vec::new(),
            session_ttl: Duration::from_secs(60),
        },
    )
    .expect("platform");
    platform.load().await.expect("load");
    let mut db = sqlx::SqliteConnection::connect(&env.database_url())
        .await
        .expect("database");

    let stored: i64 = sqlx::query("SELECT COUNT(*) AS n FROM delivery_events WHERE source = $1")
        .bind("urn:causeway:demo")
        .fetch_one(&mut db)
        .await
        .expect("count")
        .get("n");
    assert_eq!(stored as usize, recorded);
    let audited: Vec<String> = sqlx::query(
        "SELECT detail FROM audit_log WHERE actor = 'system:demo' AND action = 'delivery.events' \
         ORDER BY id",
    )
    .fetch_all(&mut db)
    .await
    .expect("audit")
    .iter()
    .map(|row| row.get("detail"))
    .collect();
    assert!(audited.len() >= 2, "{audited:?}");
    assert!(
        audited.last().is_some_and(|d| d.contains("\"accepted\":0")),
        "{audited:?}"
    );

    for (service, low, high) in [("payments-api", 150, 400), ("checkout-web", 13, 30)] {
        let dora = platform
            .delivery
            .dora(&Query {
                service: Some(service.to_owned()),
                team: None,
                from: None,
                to: None,
            })
            .await
            .expect("dora");
        let deployments = dora.summary.deployments;
        assert!(
            (low..=high).contains(&deployments),
            "{service}: {deployments}"
        );
        assert!(dora.summary.lead_time.count > 0, "{service}");
    }
    let open: i64 = sqlx::query(
        "SELECT COUNT(*) AS n FROM delivery_incidents WHERE service = $1 AND resolved_at IS NULL",
    )
    .bind("component:default/ledger")
    .fetch_one(&mut db)
    .await
    .expect("incidents")
    .get("n");
    assert_eq!(open, 1, "the ledger's newest incident is open");
    store.close().await;
}
