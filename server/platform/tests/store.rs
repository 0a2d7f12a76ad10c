//! The store suite: every test runs unchanged on SQLite and on PostgreSQL (`support/engines.rs`).

#[macro_use]
#[path = "support/engines.rs"]
mod engines;

use std::time::Duration;

use causeway_platform::audit::{Entry, Outcome};
use causeway_platform::catalog::{IngestOptions, yaml};
use causeway_platform::identity::Role;
use causeway_platform::{Error, Platform, Settings, Store, org};

const ORG: &str = r#"
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: { name: platform }
spec: { type: team, children: [], profile: { displayName: Platform team } }
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: { name: Payments }
spec: { type: team, children: [], members: [bob] }
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata: { name: Ada }
spec:
  profile: { displayName: Ada Okafor, email: ada@example.com }
  memberOf: [payments, group:default/platform, ghosts]
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata: { name: bob }
spec: { profile: { displayName: Bob }, memberOf: [] }
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: { name: payments-api, description: Card payments }
spec: { type: service, lifecycle: production, owner: payments }
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: { name: other }
spec: { type: service, lifecycle: production, owner: group:default/someone-else }
"#;

fn settings(ttl: Duration) -> Settings {
    Settings {
        admin_teams: vec!["platform".to_owned()],
        session_ttl: ttl,
    }
}

async fn open_platform(store: Store, ttl: Duration) -> Platform {
    let platform = Platform::new(store, &settings(ttl)).expect("platform");
    platform.load().await.expect("load");
    platform
}

async fn seeded(store: Store, ttl: Duration) -> Platform {
    let platform = open_platform(store, ttl).await;
    let documents = yaml::parse("org.yaml", ORG).expect("valid YAML");
    platform
        .catalog
        .ingest("test:org", documents, IngestOptions::default())
        .await
        .expect("import");
    platform
}

on_both_engines!(
    migrations_are_idempotent,
    import_builds_users_teams_and_memberships,
    invalid_import_stores_nothing,
    directory_resolves_principals_and_roles,
    sessions_expire_and_end,
    tokens_authenticate_until_revoked,
    audit_log_appends_in_order,
    owned_entities_follow_team_membership,
    catalog_replicas_converge,
    catalog_orphans_and_deletes,
    leases_have_one_holder_at_a_time,
);

// The loader needs the address as well as the store, to damage rows behind the catalog's back.
mod catalog_loads_in_batches_and_skips_what_no_longer_validates {
    #[tokio::test]
    async fn sqlite() {
        super::catalog_loads_in_batches_and_skips_what_no_longer_validates(
            crate::engines::sqlite_url(),
        )
        .await;
    }
    #[tokio::test]
    async fn postgres() {
        super::catalog_loads_in_batches_and_skips_what_no_longer_validates(
            crate::engines::postgres_url().await,
        )
        .await;
    }
}

async fn catalog_loads_in_batches_and_skips_what_no_longer_validates(url: String) {
    use sqlx::Connection as _;
    let store = Store::open(&url).await.expect("open");
    let ttl = Duration::from_secs(60);
    let platform = seeded(store.clone(), ttl).await;
    // More entities than one batch of the loader, so that batches follow one another.
    let text: String = (0..5000)
        .map(|i| {
            format!(
                "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {{ name: c-{i:04} }}\nspec: {{ type: service, lifecycle: production, owner: payments }}\n---\n"
            )
        })
        .collect();
    platform
        .catalog
        .ingest(
            "test:many",
            yaml::parse("many.yaml", &text).expect("yaml"),
            IngestOptions::default(),
        )
        .await
        .expect("ingest");
    // Two rows a newer release no longer accepts: one is not JSON, one is not an entity.
    sqlx::any::install_default_drivers();
    let mut db = sqlx::AnyConnection::connect(&url).await.expect("connect");
    for (body, name) in [
        ("not json", "c-0042"),
        (r#"{"kind":"Component"}"#, "c-4321"),
    ] {
        sqlx::query(&format!(
            "UPDATE entities SET body = '{body}' WHERE entity_ref = 'component:default/{name}'"
        ))
        .execute(&mut db)
        .await
        .expect("damage a row");
    }

    let reloaded = open_platform(store, ttl).await;
    let index = reloaded.catalog.index();
    assert_eq!(
        index.len(),
        6 + 5000 - 2,
        "every row but the two damaged ones"
    );
    for skipped in ["component:default/c-0042", "component:default/c-4321"] {
        assert!(index.by_ref(skipped).is_none(), "{skipped} is skipped");
    }
    let last = index
        .by_ref("component:default/c-4999")
        .expect("the last row");
    assert_eq!(index.owners(last), ["group:default/payments"]);
    let payments = index.by_ref("group:default/payments").expect("the team");
    let owned = index
        .relations(payments)
        .into_iter()
        .filter(|r| r.kind == "ownerOf")
        .count();
    assert_eq!(owned, 1 + 5000 - 2, "relations are built across batches");
    assert_eq!(index.matching("spec.owner", "payments").len(), 1 + 5000 - 2);
}

async fn migrations_are_idempotent(store: Store) {
    store
        .migrate()
        .await
        .expect("second run applies nothing and succeeds");
    store.ping(Duration::from_secs(2)).await.expect("ping");
}

async fn import_builds_users_teams_and_memberships(store: Store) {
    let platform = open_platform(store.clone(), Duration::from_secs(60)).await;
    let documents = yaml::parse("org.yaml", ORG).expect("yaml");
    let report = platform
        .catalog
        .ingest("test:org", documents, IngestOptions::default())
        .await
        .expect("import");
    assert_eq!(report.added.len(), 6);
    assert_eq!(report.warnings.len(), 2, "{:?}", report.warnings);
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.contains("group:default/ghosts, which does not exist")),
        "{:?}",
        report.warnings
    );
    let ada = platform
        .directory
        .find_user("ada", "user")
        .await
        .expect("ada");
    assert_eq!(ada.teams.len(), 2, "ada in payments and platform");
    let bob = platform
        .directory
        .find_user("bob", "user")
        .await
        .expect("bob");
    assert!(
        bob.is_member_of("group:default/payments"),
        "membership declared by the group's members"
    );

    // A second import of the same text changes nothing.
    let documents = yaml::parse("org.yaml", ORG).expect("yaml");
    let again = platform
        .catalog
        .ingest("test:org", documents, IngestOptions::default())
        .await
        .expect("re-import");
    assert_eq!(
        (
            again.added.len(),
            again.updated.len(),
            again.unchanged.len()
        ),
        (0, 0, 6)
    );

    // A fresh process loads the same catalog from the database.
    let reloaded = open_platform(store, Duration::from_secs(60)).await;
    assert_eq!(reloaded.catalog.index().len(), 6);
    assert_eq!(reloaded.directory.users().await.expect("users").len(), 2);
}

async fn invalid_import_stores_nothing(store: Store) {
    let platform = open_platform(store, Duration::from_secs(60)).await;
    let text = format!(
        "{ORG}\n---\napiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {{ title: nameless }}\nspec: {{ type: service, lifecycle: x, owner: y }}\n"
    );
    let documents = yaml::parse("bad.yaml", &text).expect("yaml");
    let err = platform
        .catalog
        .ingest("test:bad", documents, IngestOptions::default())
        .await
        .expect_err("invalid");
    let Error::Rejected(problems) = err else {
        panic!("expected a rejection")
    };
    assert_eq!(problems.len(), 1);
    assert_eq!(
        problems[0].to_string(),
        "test:bad: document 7: metadata.name: is required"
    );
    assert!(
        platform.directory.users().await.expect("users").is_empty(),
        "nothing stored"
    );
    assert!(platform.catalog.index().is_empty());

    let problems = yaml::parse("broken.yaml", "kind: [unclosed").expect_err("bad YAML");
    assert!(
        problems[0]
            .to_string()
            .starts_with("broken.yaml: document 1: (yaml): is not valid YAML at line"),
        "{}",
        problems[0]
    );
}

async fn directory_resolves_principals_and_roles(store: Store) {
    let platform = seeded(store, Duration::from_secs(60)).await;
    let ada = platform
        .directory
        .find_user("ADA", "user")
        .await
        .expect("ada");
    assert_eq!(ada.entity_ref, "user:default/ada");
    assert_eq!(ada.display_name, "Ada Okafor");
    assert_eq!(ada.email.as_deref(), Some("ada@example.com"));
    assert_eq!(ada.role, Role::PlatformAdmin);
    let teams: Vec<_> = ada.teams.iter().map(|t| t.entity_ref.as_str()).collect();
    assert_eq!(teams, ["group:default/payments", "group:default/platform"]);
    let bob = platform
        .directory
        .find_user("user:default/bob", "user")
        .await
        .expect("bob");
    assert_eq!(bob.role, Role::Developer);
    assert!(bob.is_member_of("group:default/payments"));

    assert!(matches!(
        platform.directory.find_user("nobody", "user").await,
        Err(Error::NotFound(_))
    ));
    let err = platform
        .directory
        .find_user("group:payments", "user")
        .await
        .expect_err("a group");
    assert_eq!(
        err.to_string(),
        "user: \"group:payments\" refers to a group, expected a user"
    );
    assert!(matches!(
        platform.directory.find_user("a/b/c", "user").await,
        Err(Error::InvalidInput { .. })
    ));
}

async fn sessions_expire_and_end(store: Store) {
    let platform = seeded(store.clone(), Duration::from_secs(60)).await;
    let session = platform
        .sessions
        .create("user:default/ada")
        .await
        .expect("create");
    assert_eq!(
        platform
            .sessions
            .user_of(&session.secret)
            .await
            .expect("lookup")
            .as_deref(),
        Some("user:default/ada")
    );
    assert_eq!(
        platform.sessions.user_of("forged").await.expect("lookup"),
        None
    );
    platform.sessions.end(&session.secret).await.expect("end");
    assert_eq!(
        platform
            .sessions
            .user_of(&session.secret)
            .await
            .expect("lookup"),
        None
    );

    let expiring = open_platform(store, Duration::ZERO).await;
    let session = expiring
        .sessions
        .create("user:default/bob")
        .await
        .expect("create");
    assert_eq!(
        expiring
            .sessions
            .user_of(&session.secret)
            .await
            .expect("lookup"),
        None,
        "expired at once"
    );
    assert_eq!(expiring.sessions.purge_expired().await.expect("purge"), 1);
}

async fn tokens_authenticate_until_revoked(store: Store) {
    let platform = seeded(store, Duration::from_secs(60)).await;
    let created = platform
        .tokens
        .create("user:default/bob", "ci")
        .await
        .expect("create");
    assert!(created.secret.starts_with("cwt_"));
    assert_eq!(
        platform
            .tokens
            .authenticate(&created.secret)
            .await
            .expect("auth")
            .user_ref(),
        Some("user:default/bob")
    );
    assert_eq!(
        platform
            .tokens
            .authenticate("cwt_forged")
            .await
            .expect("auth")
            .user_ref(),
        None
    );
    assert_eq!(
        platform
            .tokens
            .authenticate("not-a-token")
            .await
            .expect("auth")
            .user_ref(),
        None
    );
    let listed = platform
        .tokens
        .list(Some("user:default/bob"))
        .await
        .expect("list");
    assert_eq!(listed.len(), 1);
    assert!(listed[0].last_used_at_millis.is_some(), "use is recorded");
    assert!(
        platform
            .tokens
            .list(Some("user:default/ada"))
            .await
            .expect("list")
            .is_empty()
    );

    let revoked = platform
        .tokens
        .revoke(&created.token.id)
        .await
        .expect("revoke");
    assert!(revoked.revoked_at_millis.is_some());
    assert_eq!(
        platform
            .tokens
            .authenticate(&created.secret)
            .await
            .expect("auth")
            .user_ref(),
        None
    );
    platform
        .tokens
        .revoke(&created.token.id)
        .await
        .expect("revoking twice is fine");
    assert!(matches!(
        platform.tokens.revoke("no-such-id").await,
        Err(Error::NotFound(_))
    ));

    assert!(matches!(
        platform.tokens.create("user:default/nobody", "x").await,
        Err(Error::NotFound(_))
    ));
    let err = platform
        .tokens
        .create("user:default/bob", "  ")
        .await
        .expect_err("empty name");
    assert_eq!(err.to_string(), "name: must be 1 to 100 characters");
}

async fn audit_log_appends_in_order(store: Store) {
    let platform = seeded(store, Duration::from_secs(60)).await;
    for (i, outcome) in [Outcome::Success, Outcome::Denied, Outcome::Failed]
        .into_iter()
        .enumerate()
    {
        platform
            .audit
            .record(Entry {
                actor: "user:default/ada",
                action: "test.action",
                target: &format!("target-{i}"),
                outcome,
                detail: serde_json::json!({ "i": i }),
                request_id: Some("req-1"),
            })
            .await
            .expect("record");
    }
    let records = platform.audit.recent(2).await.expect("recent");
    assert_eq!(records.len(), 2);
    assert_eq!(
        (records[0].target.as_str(), records[0].outcome.as_str()),
        ("target-2", "failed")
    );
    assert_eq!(
        (records[1].target.as_str(), records[1].outcome.as_str()),
        ("target-1", "denied")
    );
    assert_eq!(records[0].detail, serde_json::json!({ "i": 2 }));
    assert_eq!(records[0].request_id.as_deref(), Some("req-1"));
}

async fn owned_entities_follow_team_membership(store: Store) {
    let platform = seeded(store, Duration::from_secs(60)).await;
    let ada = platform
        .directory
        .find_user("ada", "user")
        .await
        .expect("ada");
    let teams: Vec<String> = ada.teams.iter().map(|t| t.entity_ref.clone()).collect();
    let owned = org::owned_by(&platform.catalog, &teams);
    let refs: Vec<_> = owned.iter().map(|e| e.entity_ref.as_str()).collect();
    assert_eq!(refs, ["component:default/payments-api"]);
    assert_eq!(owned[0].description.as_deref(), Some("Card payments"));
    assert!(org::owned_by(&platform.catalog, &[]).is_empty());
}

async fn catalog_replicas_converge(store: Store) {
    // Two processes over one database: a write through one is seen by the other after its next
    // staleness check, and a check with nothing new reloads nothing.
    let first = seeded(store.clone(), Duration::from_secs(60)).await;
    let second = open_platform(store, Duration::from_secs(60)).await;
    assert!(
        !second.catalog.refresh_if_stale().await.expect("check"),
        "already current"
    );
    let text = "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: { name: late }\nspec: { type: service, lifecycle: production, owner: payments }\n";
    first
        .catalog
        .ingest(
            "test:late",
            yaml::parse("late.yaml", text).expect("yaml"),
            IngestOptions::default(),
        )
        .await
        .expect("ingest");
    assert!(
        second
            .catalog
            .index()
            .by_ref("component:default/late")
            .is_none()
    );
    assert!(
        second.catalog.refresh_if_stale().await.expect("check"),
        "the other replica's write is noticed"
    );
    assert!(
        second
            .catalog
            .index()
            .by_ref("component:default/late")
            .is_some()
    );
    assert!(
        !first.catalog.refresh_if_stale().await.expect("check"),
        "its own write does not force a reload"
    );
}

async fn catalog_orphans_and_deletes(store: Store) {
    let platform = seeded(store.clone(), Duration::from_secs(60)).await;
    // Re-ingesting the location without bob marks him an orphan instead of deleting him.
    let without_bob: String = ORG
        .split("---")
        .filter(|d| !d.contains("name: bob"))
        .collect::<Vec<_>>()
        .join("---");
    let options = IngestOptions {
        replace: true,
        dry_run: false,
    };
    let report = platform
        .catalog
        .ingest(
            "test:org",
            yaml::parse("org.yaml", &without_bob).expect("yaml"),
            options,
        )
        .await
        .expect("ingest");
    assert_eq!(report.orphaned, ["user:default/bob"]);
    let (bob, bob_body) = {
        let index = platform.catalog.index();
        let entity = index.by_ref("user:default/bob").expect("still there");
        (entity.clone(), index.body(entity).into_owned())
    };
    assert!(
        bob_body.contains("\"backstage.io/orphan\":\"true\""),
        "{bob_body}"
    );
    // Deleting removes the entity, its identity row and its relations.
    platform
        .catalog
        .delete_by_uid(&bob.uid.to_string())
        .await
        .expect("delete");
    assert!(
        platform
            .catalog
            .index()
            .by_ref("user:default/bob")
            .is_none()
    );
    assert!(matches!(
        platform.directory.find_user("bob", "user").await,
        Err(Error::NotFound(_))
    ));
    // The group still lists bob in its own spec, so that relation stays (a dangling reference).
    let payments = platform
        .catalog
        .index()
        .by_ref("group:default/payments")
        .cloned()
        .expect("group");
    let dangling: Vec<String> = platform
        .catalog
        .index()
        .dangling_from(&payments)
        .iter()
        .map(|e| e.target.to_string())
        .collect();
    assert_eq!(dangling, ["user:default/bob"]);
    let reloaded = open_platform(store, Duration::from_secs(60)).await;
    assert!(
        reloaded
            .catalog
            .index()
            .by_ref("user:default/bob")
            .is_none(),
        "the delete is durable"
    );
}

async fn leases_have_one_holder_at_a_time(store: Store) {
    use causeway_platform::leases::Leases;
    store.migrate().await.expect("migrate");
    let leases = Leases::new(store);
    let short = Duration::from_millis(300);
    assert!(leases.hold("job", "a", short).await.expect("a takes it"));
    assert!(!leases.hold("job", "b", short).await.expect("b waits"));
    assert!(leases.hold("job", "a", short).await.expect("a renews it"));
    assert!(
        leases
            .hold("other", "b", short)
            .await
            .expect("another lease is free")
    );
    tokio::time::sleep(short + Duration::from_millis(100)).await;
    assert!(
        leases
            .hold("job", "b", short)
            .await
            .expect("expired: b takes over")
    );
    assert!(!leases.hold("job", "a", short).await.expect("a lost it"));
    leases.release("job", "b").await.expect("release");
    assert!(
        leases
            .hold("job", "a", short)
            .await
            .expect("released: a takes it at once")
    );
}
