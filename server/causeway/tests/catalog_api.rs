//! The catalog REST API through the real router, against the semantics of Backstage's catalog
//! backend: filters, fields, ordering, cursors, facets, by-refs, validation, import, locations.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use tower::ServiceExt as _;

mod support;

use support::{App, json_of, text_of};

fn names(items: &Value) -> Vec<String> {
    items
        .as_array()
        .expect("array")
        .iter()
        .map(|e| {
            e["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn filters_follow_backstage_semantics() {
    let app = App::new().await;
    let (status, body) = app
        .get("/api/catalog/entities/by-query?filter=kind=component&limit=100")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["totalItems"], 6);

    // Case-insensitive keys and values; comma = AND.
    let (_, body) = app
        .get("/api/catalog/entities/by-query?filter=KIND=Component,spec.lifecycle=EXPERIMENTAL")
        .await;
    assert_eq!(names(&body["items"]), ["fraud-scoring"]);
    // Repeated filter = OR.
    let (_, body) = app
        .get("/api/catalog/entities/by-query?filter=kind=api&filter=kind=system")
        .await;
    assert_eq!(body["totalItems"], 2);
    // The same key twice inside one filter = either value.
    let (_, body) = app
        .get("/api/catalog/entities/by-query?filter=kind=api,kind=resource")
        .await;
    assert_eq!(body["totalItems"], 2);
    // Existence, tags, relations and annotation keys containing slashes.
    let (_, body) = app
        .get("/api/catalog/entities/by-query?filter=metadata.tags.pci")
        .await;
    assert_eq!(names(&body["items"]), ["payments-api"]);
    let (_, body) = app
        .get("/api/catalog/entities/by-query?filter=metadata.tags=java")
        .await;
    assert_eq!(names(&body["items"]), ["payments-api"]);
    let (_, body) = app.get("/api/catalog/entities/by-query?filter=metadata.annotations.github.com/project-slug=example-retail/payments-api").await;
    assert_eq!(names(&body["items"]), ["payments-api"]);
    let (_, body) = app.get("/api/catalog/entities/by-query?filter=kind=component,relations.ownedby=group:default/checkout&limit=10").await;
    assert_eq!(body["totalItems"], 2);
    let (_, body) = app.get("/api/catalog/entities/by-query?filter=kind=user,relations.memberof=group:default/payments").await;
    let mut members = names(&body["items"]);
    members.sort();
    assert_eq!(members, ["ada", "linus"]);
    // Reverse relations are filterable too.
    let (_, body) = app
        .get("/api/catalog/entities/by-query?filter=relations.ownerof=component:default/basket")
        .await;
    assert_eq!(names(&body["items"]), ["checkout"]);
    let (_, body) = app
        .get("/api/catalog/entities/by-query?filter=kind=nothing")
        .await;
    assert_eq!(body["totalItems"], 0);
}

#[tokio::test]
async fn fields_order_full_text_and_cursors() {
    let app = App::new().await;
    let (_, body) = app.get("/api/catalog/entities/by-query?filter=kind=component&fields=metadata.name,kind&orderField=metadata.name,desc&limit=2").await;
    assert_eq!(
        body["items"][0],
        json!({ "metadata": { "name": "payments-api" }, "kind": "Component" })
    );
    assert_eq!(names(&body["items"]), ["payments-api", "ledger"]);
    assert_eq!(body["totalItems"], 6);
    let next = body["pageInfo"]["nextCursor"]
        .as_str()
        .expect("next cursor")
        .to_owned();
    assert!(body["pageInfo"].get("prevCursor").is_none());

    // The cursor carries the query; filters passed alongside are ignored, as in Backstage.
    let (_, page2) = app.get(&format!("/api/catalog/entities/by-query?cursor={next}&limit=2&filter=kind=api&fields=metadata.name")).await;
    assert_eq!(names(&page2["items"]), ["fraud-scoring", "checkout-web"]);
    let prev = page2["pageInfo"]["prevCursor"]
        .as_str()
        .expect("prev cursor")
        .to_owned();
    let (_, again) = app
        .get(&format!(
            "/api/catalog/entities/by-query?cursor={prev}&limit=2&fields=metadata.name"
        ))
        .await;
    assert_eq!(names(&again["items"]), ["payments-api", "ledger"]);
    let (_, page3) = app
        .get(&format!(
            "/api/catalog/entities/by-query?cursor={}&limit=2&fields=metadata.name",
            page2["pageInfo"]["nextCursor"].as_str().expect("next")
        ))
        .await;
    assert_eq!(names(&page3["items"]), ["causeway", "basket"]);
    assert!(page3["pageInfo"].get("nextCursor").is_none(), "last page");

    let (_, body) = app.get("/api/catalog/entities/by-query?fullTextFilterTerm=LEDGER&fullTextFilterFields=metadata.name").await;
    assert_eq!(names(&body["items"]), ["ledger"]);
    let (_, body) = app
        .get("/api/catalog/entities/by-query?fullTextFilterTerm=money&filter=kind=component")
        .await;
    assert_eq!(
        names(&body["items"]),
        ["ledger"],
        "matches the description when no fields are named"
    );

    let (status, body) = app
        .get("/api/catalog/entities/by-query?cursor=garbage")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["name"], "InputError");
    assert!(
        body["error"]["message"]
            .as_str()
            .expect("message")
            .starts_with("cursor:")
    );
    // A cursor is only encoded JSON: one written by hand is held to the rules of `orderField`.
    let forged = causeway_platform::catalog::query::Cursor {
        query: causeway_platform::catalog::query::Query {
            order: (0..50)
                .map(|i| causeway_platform::catalog::query::Order {
                    field: format!("spec.field{i}"),
                    ascending: true,
                })
                .collect(),
            ..Default::default()
        },
        offset: 0,
    }
    .encode();
    let (status, body) = app
        .get(&format!("/api/catalog/entities/by-query?cursor={forged}"))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"]["message"]
            .as_str()
            .expect("message")
            .starts_with("cursor: its orderField: at most 5 sort fields"),
        "{body}"
    );
    let (status, body) = app.get("/api/catalog/entities/by-query?limit=-1").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"]["message"]
            .as_str()
            .expect("message")
            .starts_with("limit:")
    );
    let (status, _) = app
        .get("/api/catalog/entities/by-query?orderField=metadata.name,sideways")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn single_entities_and_references() {
    let app = App::new().await;
    let (status, entity) = app
        .get("/api/catalog/entities/by-name/Component/default/Payments-API")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(entity["metadata"]["name"], "payments-api");
    let uid = entity["metadata"]["uid"].as_str().expect("uid").to_owned();
    assert!(entity["metadata"]["etag"].is_string());
    assert_eq!(entity["metadata"]["generation"], 1);
    let relations = entity["relations"].as_array().expect("relations");
    assert!(relations.contains(&json!({ "type": "ownedBy", "targetRef": "group:default/payments", "target": { "kind": "group", "namespace": "default", "name": "payments" } })));
    assert!(
        relations
            .iter()
            .any(|r| r["type"] == "apiConsumedBy" || r["type"] == "providesApi")
    );

    let (status, body) = app
        .get("/api/catalog/entities/by-name/component/default/nope")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["name"], "NotFoundError");
    assert_eq!(body["response"]["statusCode"], 404);

    let (status, by_uid) = app
        .get(&format!("/api/catalog/entities/by-uid/{uid}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(by_uid["metadata"]["name"], "payments-api");

    let refs = json!({ "entityRefs": ["component:default/ledger", "component:default/missing", "api:payments-rest"], "fields": ["metadata.name"] });
    let response = app
        .call(
            "POST",
            "/api/catalog/entities/by-refs",
            &app.ada,
            Some(refs),
        )
        .await;
    assert_eq!(
        json_of(response).await,
        json!({ "items": [{ "metadata": { "name": "ledger" } }, null, { "metadata": { "name": "payments-rest" } }] })
    );

    // Deleting needs ownership: grace (checkout) may not delete a payments component; ada may.
    let grace = format!(
        "Bearer {}",
        app.state
            .platform
            .tokens
            .create("user:default/grace", "t")
            .await
            .expect("token")
            .secret
    );
    let response = app
        .call(
            "DELETE",
            &format!("/api/catalog/entities/by-uid/{uid}"),
            &grace,
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = app
        .call(
            "DELETE",
            &format!("/api/catalog/entities/by-uid/{uid}"),
            &app.ada,
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let (status, _) = app
        .get(&format!("/api/catalog/entities/by-uid/{uid}"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let response = app
        .call(
            "DELETE",
            &format!("/api/catalog/entities/by-uid/{uid}"),
            &app.ada,
            None,
        )
        .await;
    assert_eq!(
        response.status(),
        StatusCode::NO_CONTENT,
        "deleting again is still 204"
    );
}

#[tokio::test]
async fn facets_count_within_the_filter() {
    let app = App::new().await;
    let (status, body) = app
        .get("/api/catalog/entity-facets?facet=kind&facet=spec.lifecycle")
        .await;
    assert_eq!(status, StatusCode::OK);
    let kinds = body["facets"]["kind"].as_array().expect("kind facet");
    assert_eq!(
        kinds[0],
        json!({ "value": "Component", "count": 6 }),
        "original case, most frequent first"
    );
    assert!(
        body["facets"]["spec.lifecycle"]
            .as_array()
            .expect("lifecycle")
            .contains(&json!({ "value": "experimental", "count": 1 }))
    );
    let (_, body) = app
        .get("/api/catalog/entity-facets?facet=spec.type&filter=kind=component,spec.owner=payments")
        .await;
    assert_eq!(
        body["facets"]["spec.type"],
        json!([{ "value": "service", "count": 3 }])
    );
    let (status, body) = app.get("/api/catalog/entity-facets").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"]["message"]
            .as_str()
            .expect("message")
            .starts_with("facet:")
    );
}

#[tokio::test]
async fn validate_entity_lists_every_error() {
    let app = App::new().await;
    let good = json!({ "location": "url:x", "entity": { "apiVersion": "backstage.io/v1alpha1", "kind": "Component", "metadata": { "name": "ok" }, "spec": { "type": "service", "lifecycle": "production", "owner": "team-a" } } });
    let response = app
        .call("POST", "/api/catalog/validate-entity", &app.ada, Some(good))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let bad = json!({ "location": "url:x", "entity": { "apiVersion": "backstage.io/v1alpha1", "kind": "Component", "metadata": { "name": "bad name", "tags": ["Go 1.15"] }, "spec": { "type": "service" } } });
    let response = app
        .call("POST", "/api/catalog/validate-entity", &app.ada, Some(bad))
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body = json_of(response).await;
    let messages: Vec<&str> = body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e["message"].as_str().unwrap_or_default())
        .collect();
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("metadata.name: \"bad name\" is not valid; expected")),
        "{messages:?}"
    );
    assert!(
        messages.iter().any(|m| m.starts_with("metadata.tags.0:")),
        "{messages:?}"
    );
    assert!(
        messages.contains(&"spec.lifecycle: is required for kind Component"),
        "{messages:?}"
    );
    assert!(
        messages.contains(&"spec.owner: is required for kind Component"),
        "{messages:?}"
    );
}

const NEW_SERVICE: &str = "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: search\nspec:\n  type: service\n  lifecycle: production\n  owner: group:default/payments\n  dependsOn: [resource:default/search-index]\n";

#[tokio::test]
async fn import_is_all_or_nothing() {
    let app = App::new().await;
    let invalid = format!(
        "{NEW_SERVICE}---\napiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: -broken-\nspec: {{}}\n"
    );
    let (status, body) = app.post_text("/api/catalog/import", &invalid).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let message = body["error"]["message"].as_str().expect("message");
    assert!(
        message.contains("upload: document 2: metadata.name"),
        "{message}"
    );
    assert!(
        message.contains("upload: document 2: spec.type: is required"),
        "{message}"
    );
    let (status, _) = app
        .get("/api/catalog/entities/by-name/component/default/search")
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "the valid first document was not stored either"
    );

    let (status, body) = app
        .post_text("/api/catalog/import?dryRun=true", NEW_SERVICE)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["added"], json!(["component:default/search"]));
    assert_eq!(
        app.get("/api/catalog/entities/by-name/component/default/search")
            .await
            .0,
        StatusCode::NOT_FOUND,
        "dry run"
    );

    let (status, body) = app.post_text("/api/catalog/import", NEW_SERVICE).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        body["warnings"],
        json!([
            "component:default/search: dependsOn refers to resource:default/search-index, which does not exist"
        ])
    );
    let (_, entity) = app
        .get("/api/catalog/entities/by-name/component/default/search")
        .await;
    assert_eq!(entity["metadata"]["generation"], 1);
    let etag = entity["metadata"]["etag"].clone();
    let (_, again) = app.post_text("/api/catalog/import", NEW_SERVICE).await;
    assert_eq!(again["unchanged"], json!(["component:default/search"]));
    let (_, same) = app
        .get("/api/catalog/entities/by-name/component/default/search")
        .await;
    assert_eq!(
        same["metadata"]["etag"], etag,
        "an unchanged entity is not rewritten"
    );
    let changed = NEW_SERVICE.replace("lifecycle: production", "lifecycle: deprecated");
    app.post_text("/api/catalog/import", &changed).await;
    let (_, updated) = app
        .get("/api/catalog/entities/by-name/component/default/search")
        .await;
    assert_eq!(updated["metadata"]["generation"], 2);
    assert_ne!(updated["metadata"]["etag"], etag);

    // Names are unique per kind and namespace, ignoring case, also within one upload.
    let duplicate = format!(
        "{NEW_SERVICE}---\n{}",
        NEW_SERVICE.replace("name: search", "name: SEARCH")
    );
    let (status, body) = app.post_text("/api/catalog/import", &duplicate).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"]["message"]
            .as_str()
            .expect("message")
            .contains("appears more than once")
    );

    // An entity provided by another source cannot be overwritten by an upload.
    let taken = NEW_SERVICE.replace("name: search", "name: ledger");
    let (status, body) = app.post_text("/api/catalog/import", &taken).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"]["name"], "ConflictError");

    let (status, body) = app.post_text("/api/catalog/import", "kind: a: b").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let message = body["error"]["message"].as_str().expect("message");
    assert!(
        message.contains("upload: document 1: (yaml): is not valid YAML at line 1, column 8"),
        "{message}"
    );
    let (status, _) = app
        .post_text("/api/catalog/import", &"#".repeat(300_000))
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn file_locations_are_registered_refreshed_and_orphaned() {
    let app = App::new().await;
    std::fs::create_dir_all(&app.dir).expect("dir");
    let root = app.dir.join("catalog-info.yaml");
    let other = app.dir.join("more.yaml");
    std::fs::write(&root, format!("{NEW_SERVICE}---\napiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata:\n  name: more\nspec:\n  targets: [./more.yaml]\n")).expect("write");
    std::fs::write(
        &other,
        NEW_SERVICE
            .replace("name: search", "name: search-ui")
            .replace("type: service", "type: website"),
    )
    .expect("write");
    let target = root.display().to_string();

    let dry = json!({ "type": "file", "target": target });
    let response = app
        .call(
            "POST",
            "/api/catalog/locations?dryRun=true",
            &app.linus,
            Some(dry.clone()),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body = json_of(response).await;
    assert_eq!(body["exists"], false);
    assert_eq!(
        app.get("/api/catalog/entities/by-name/component/default/search")
            .await
            .0,
        StatusCode::NOT_FOUND
    );

    let response = app
        .call(
            "POST",
            "/api/catalog/locations",
            &app.linus,
            Some(dry.clone()),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body = json_of(response).await;
    let id = body["location"]["id"].as_str().expect("id").to_owned();
    assert_eq!(body["location"]["type"], "file");
    assert_eq!(
        body["entities"].as_array().expect("entities").len(),
        0,
        "as in Backstage, only a dry run lists the entities"
    );
    let (_, found) = app
        .get(&format!(
            "/api/catalog/entities/by-query?filter=metadata.annotations.backstage.io/managed-by-origin-location={}",
            url::form_urlencoded::byte_serialize(format!("file:{target}").as_bytes()).collect::<String>()
        ))
        .await;
    assert_eq!(
        found["totalItems"], 3,
        "component, location and the followed file's component"
    );
    let (_, entity) = app
        .get("/api/catalog/entities/by-name/component/default/search-ui")
        .await;
    assert_eq!(
        entity["metadata"]["annotations"]["backstage.io/managed-by-origin-location"],
        format!("file:{target}")
    );
    let response = app
        .call("POST", "/api/catalog/locations", &app.linus, Some(dry))
        .await;
    assert_eq!(response.status(), StatusCode::CONFLICT);

    let (_, list) = app.get("/api/catalog/locations").await;
    assert!(
        list.as_array()
            .expect("list")
            .iter()
            .any(|l| l["data"]["id"] == id.as_str())
    );

    // The file loses search-ui: after a refresh it is an orphan, and search was not rewritten.
    let (_, before) = app
        .get("/api/catalog/entities/by-name/component/default/search")
        .await;
    std::fs::write(&other, "# emptied\n").expect("write");
    // A refresh is for the entity's owners (search is payments', grace is in checkout) and admins.
    let grace = app
        .state
        .platform
        .tokens
        .create("user:default/grace", "t")
        .await
        .expect("token")
        .secret;
    let refresh = json!({ "entityRef": "component:default/search" });
    let response = app
        .call(
            "POST",
            "/api/catalog/refresh",
            &format!("Bearer {grace}"),
            Some(refresh.clone()),
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = app
        .call("POST", "/api/catalog/refresh", &app.ada, Some(refresh))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let request = response.headers()["x-request-id"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let audit = app.state.platform.audit.recent(10).await.expect("audit");
    let refreshes: Vec<_> = audit
        .iter()
        .filter(|r| r.action == "catalog.refresh")
        .map(|r| {
            (
                r.actor.as_str(),
                r.target.as_str(),
                r.outcome.as_str(),
                r.request_id.is_some(),
            )
        })
        .collect();
    assert_eq!(
        refreshes,
        [
            (
                "user:default/ada",
                "component:default/search",
                "success",
                true
            ),
            (
                "user:default/grace",
                "component:default/search",
                "denied",
                true
            ),
        ]
    );
    assert_eq!(
        audit[0].request_id.as_deref(),
        Some(request.as_str()),
        "{audit:?}"
    );
    let (_, orphan) = app
        .get("/api/catalog/entities/by-name/component/default/search-ui")
        .await;
    assert_eq!(
        orphan["metadata"]["annotations"]["backstage.io/orphan"],
        "true"
    );
    let (_, after) = app
        .get("/api/catalog/entities/by-name/component/default/search")
        .await;
    assert_eq!(after["metadata"]["etag"], before["metadata"]["etag"]);

    // Only platform admins unregister; unregistering deletes what the location provided.
    let response = app
        .call(
            "DELETE",
            &format!("/api/catalog/locations/{id}"),
            &app.ada,
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = app
        .call(
            "DELETE",
            &format!("/api/catalog/locations/{id}"),
            &app.linus,
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.get("/api/catalog/entities/by-name/component/default/search")
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get(&format!("/api/catalog/locations/{id}")).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn url_locations_outside_the_allow_list_are_refused_without_a_request() {
    let app = App::new().await;
    // 192.0.2.1 is TEST-NET-1: a request there would hang, so a quick answer proves none was made.
    let started = std::time::Instant::now();
    let body = json!({ "type": "url", "target": "http://192.0.2.1/catalog-info.yaml" });
    let response = app
        .call("POST", "/api/catalog/locations", &app.linus, Some(body))
        .await;
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let message = json_of(response).await["error"]["message"]
        .as_str()
        .expect("message")
        .to_owned();
    assert!(
        message.contains("host \"192.0.2.1\" is not in catalog_allowed_hosts"),
        "{message}"
    );
    let body = json!({ "type": "ftp", "target": "x" });
    let response = app
        .call("POST", "/api/catalog/locations", &app.linus, Some(body))
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn legacy_list_pages_with_link_headers() {
    let app = App::new().await;
    let response = app
        .call(
            "GET",
            "/api/catalog/entities?filter=kind=component&limit=4&fields=metadata.name",
            &app.ada,
            None,
        )
        .await;
    let link = response
        .headers()
        .get(header::LINK)
        .expect("link header")
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(link.contains("rel=\"next\""));
    assert_eq!(json_of(response).await.as_array().expect("array").len(), 4);
    let after = link
        .split("after=")
        .nth(1)
        .and_then(|s| s.split('&').next())
        .expect("after")
        .to_owned();
    let (_, rest) = app
        .get(&format!("/api/catalog/entities?after={after}&limit=4"))
        .await;
    assert_eq!(rest.as_array().expect("array").len(), 2);
    let (_, all) = app.get("/api/catalog/entities").await;
    assert_eq!(all.as_array().expect("array").len(), 15);
    let response = app
        .call("GET", "/api/catalog/entities", "Bearer cwt_nope", None)
        .await;
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "reads need a session or a token"
    );
}

#[tokio::test]
async fn a_large_legacy_list_is_streamed_with_the_same_bytes() {
    let app = App::new().await;
    // More components than one buffer holds, so that the list is streamed in chunks.
    let text: String = (0..2_500)
        .map(|i| {
            format!(
                "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {{ name: bulk-{i:04}, description: \"number {i}\" }}\nspec: {{ type: service, lifecycle: production, owner: payments }}\n---\n"
            )
        })
        .collect();
    let documents = causeway_platform::catalog::yaml::parse("bulk.yaml", &text).expect("YAML");
    app.state
        .platform
        .catalog
        .ingest("test:bulk", documents, Default::default())
        .await
        .expect("ingest");
    for (list, page) in [
        (
            "/api/catalog/entities?filter=kind=component",
            "/api/catalog/entities/by-query?filter=kind=component&limit=10000",
        ),
        (
            "/api/catalog/entities?filter=kind=component&fields=metadata.name,relations",
            "/api/catalog/entities/by-query?filter=kind=component&limit=10000&fields=metadata.name,relations",
        ),
    ] {
        let streamed = text_of(app.call("GET", list, &app.ada, None).await).await;
        // by-query renders its items into one buffer: the same entities in the same order.
        let whole = text_of(app.call("GET", page, &app.ada, None).await).await;
        let items = whole
            .strip_prefix("{\"items\":")
            .and_then(|rest| rest.split(",\"totalItems\":").next())
            .expect("by-query's items");
        assert_eq!(streamed, items, "{list}");
        let parsed: Value = serde_json::from_str(&streamed).expect("JSON");
        assert_eq!(parsed.as_array().expect("array").len(), 2_500 + 6);
    }
}

#[tokio::test]
async fn openapi_document_describes_the_routes() {
    let app = App::new().await;
    let (status, doc) = app.get("/api/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().expect("version").starts_with("3."));
    for path in [
        "/api/catalog/entities/by-query",
        "/api/catalog/entity-facets",
        "/api/catalog/locations",
        "/api/catalog/import",
        "/api/me",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} is documented");
    }
    assert!(doc["components"]["schemas"].get("ErrorEnvelope").is_some());

    // Every answer is documented as a named transfer object (never a bare JSON value), every
    // error in the envelope, and every parameter where it is really read.
    let mut operation_ids = std::collections::BTreeSet::new();
    let mut linked = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            let at = format!("{} {path}", method.to_uppercase());
            let id = operation["operationId"].as_str().expect("operationId");
            assert!(
                operation_ids.insert(id.to_owned()),
                "{at}: operationId {id} is unique"
            );
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                let name = parameter["name"].as_str().expect("name");
                if parameter["in"] == "path" {
                    assert!(
                        path.contains(&format!("{{{name}}}")),
                        "{at}: {name} is not in the path"
                    );
                }
            }
            let responses = operation["responses"].as_object().expect("responses");
            assert!(responses.contains_key("401"), "{at} documents 401");
            for (status, response) in responses {
                for (media_type, content) in response["content"].as_object().into_iter().flatten() {
                    let schema = &content["schema"];
                    let named = schema.get("$ref").or_else(|| schema["items"].get("$ref"));
                    assert!(named.is_some(), "{at} {status} {media_type}: {schema}");
                    // validate-entity's 400 is Backstage's `{errors}` or the envelope.
                    let envelope = if path.ends_with("/validate-entity") && status == "400" {
                        "#/components/schemas/ValidateEntityError"
                    } else {
                        "#/components/schemas/ErrorEnvelope"
                    };
                    if !status.starts_with('2') {
                        assert_eq!(media_type, "application/json", "{at} {status}");
                        assert_eq!(named.expect("ref"), envelope, "{at} {status}");
                    }
                }
                for link in response["links"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(_, l)| l)
                {
                    linked.push(
                        link["operationId"]
                            .as_str()
                            .expect("link operationId")
                            .to_owned(),
                    );
                }
            }
        }
    }
    for id in linked {
        assert!(operation_ids.contains(&id), "link to {id}");
    }
    let events = &doc["paths"]["/api/tasks/{id}/events"]["get"]["responses"]["200"]["content"];
    assert!(events.get("text/event-stream").is_some(), "{events}");
    let import = &doc["paths"]["/api/catalog/import"]["post"]["requestBody"]["content"];
    assert!(import.get("application/yaml").is_some(), "{import}");
}

/// Runs the git command line to build a fixture repository (Causeway itself reads it with a git
/// library).
fn git(dir: &std::path::Path, args: &[&str]) {
    let status = std::process::Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=Fixture",
            "-c",
            "user.email=fixture@example.com",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .status()
        .expect("git runs");
    assert!(status.success(), "git {args:?}");
}

#[tokio::test]
async fn git_locations_read_a_branch_and_follow_locations() {
    let app = App::new().await;
    let repo = app.dir.join("repo");
    std::fs::create_dir_all(repo.join("teams")).expect("dir");
    git(&repo, &["init", "-q"]);
    std::fs::write(repo.join("catalog-info.yaml"), format!("{NEW_SERVICE}---\napiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata:\n  name: teams\nspec:\n  targets: [./teams/search-ui.yaml]\n")).expect("write");
    std::fs::write(
        repo.join("teams/search-ui.yaml"),
        NEW_SERVICE.replace("name: search", "name: search-ui"),
    )
    .expect("write");
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "catalog"]);
    git(&repo, &["branch", "release"]);

    let target = format!("{}#main:catalog-info.yaml", repo.display());
    let response = app
        .call(
            "POST",
            "/api/catalog/locations",
            &app.linus,
            Some(json!({ "type": "git", "target": target })),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let (_, found) = app
        .get(&format!(
            "/api/catalog/entities/by-query?filter=metadata.annotations.backstage.io/managed-by-origin-location={}",
            url::form_urlencoded::byte_serialize(format!("git:{target}").as_bytes()).collect::<String>()
        ))
        .await;
    assert_eq!(found["totalItems"], 3, "{found}");
    let (_, entity) = app
        .get("/api/catalog/entities/by-name/component/default/search-ui")
        .await;
    assert_eq!(
        entity["metadata"]["annotations"]["backstage.io/managed-by-origin-location"],
        format!("git:{target}")
    );

    // A new commit on the branch drops search-ui; a refresh reads the branch again.
    std::fs::remove_file(repo.join("teams/search-ui.yaml")).expect("remove");
    std::fs::write(repo.join("catalog-info.yaml"), NEW_SERVICE).expect("write");
    git(&repo, &["commit", "-q", "-am", "drop search-ui"]);
    let response = app
        .call(
            "POST",
            "/api/catalog/refresh",
            &app.ada,
            Some(json!({ "entityRef": "component:default/search" })),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let (_, orphan) = app
        .get("/api/catalog/entities/by-name/component/default/search-ui")
        .await;
    assert_eq!(
        orphan["metadata"]["annotations"]["backstage.io/orphan"],
        "true"
    );

    let missing = json!({ "type": "git", "target": format!("{}#no-such-branch", repo.display()) });
    let response = app
        .call(
            "POST",
            "/api/catalog/locations?dryRun=true",
            &app.linus,
            Some(missing),
        )
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let missing_file =
        json!({ "type": "git", "target": format!("{}#release:nope.yaml", repo.display()) });
    let response = app
        .call(
            "POST",
            "/api/catalog/locations?dryRun=true",
            &app.linus,
            Some(missing_file),
        )
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(
        json_of(response).await["error"]["message"]
            .as_str()
            .expect("message")
            .contains("no file \"nope.yaml\" on the branch")
    );
    let remote = json!({ "type": "git", "target": "https://git.elsewhere.example/repo.git" });
    let response = app
        .call("POST", "/api/catalog/locations", &app.linus, Some(remote))
        .await;
    assert_eq!(
        response.status(),
        StatusCode::BAD_REQUEST,
        "hosts outside the allow-list are refused"
    );
}

#[tokio::test]
async fn developers_only_change_what_their_teams_own() {
    let app = App::new().await;
    let grace = format!(
        "Bearer {}",
        app.state
            .platform
            .tokens
            .create("user:default/grace", "t")
            .await
            .expect("token")
            .secret
    );
    let as_grace = |text: &str| {
        let request = Request::post("/api/catalog/import")
            .header(header::AUTHORIZATION, &grace)
            .body(Body::from(text.to_owned()))
            .expect("request");
        app.router.clone().oneshot(request)
    };
    // Ada (payments) stores a payments service; grace (checkout) may neither take it over...
    assert_eq!(
        app.post_text("/api/catalog/import", NEW_SERVICE).await.0,
        StatusCode::CREATED
    );
    let takeover = NEW_SERVICE.replace(
        "owner: group:default/payments",
        "owner: group:default/checkout",
    );
    let response = as_grace(&takeover).await.expect("response");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let message = json_of(response).await["error"]["message"]
        .as_str()
        .expect("message")
        .to_owned();
    assert!(
        message.contains("component:default/search is owned by group:default/payments"),
        "{message}"
    );
    // ...nor register something in another team's name...
    let response = as_grace(&NEW_SERVICE.replace("name: search", "name: other"))
        .await
        .expect("response");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    // ...nor create users or groups, which grant membership and roles.
    let user = "apiVersion: backstage.io/v1alpha1\nkind: User\nmetadata: { name: mallory }\nspec: { memberOf: [group:default/platform] }\n";
    let response = as_grace(user).await.expect("response");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(
        app.state
            .platform
            .directory
            .find_user("mallory", "user")
            .await
            .is_err()
    );
    // Her own team's entities are hers to register.
    assert_eq!(
        as_grace(&takeover.replace("name: search", "name: search-checkout"))
            .await
            .expect("response")
            .status(),
        StatusCode::CREATED
    );
    // Entities without an owner would be nobody's to change afterwards: admins only.
    let location = "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata: { name: mine }\nspec: { targets: [./other.yaml] }\n";
    let template = "apiVersion: scaffolder.backstage.io/v1beta3\nkind: Template\nmetadata: { name: starter }\nspec: { type: service, steps: [] }\n";
    for unowned in [location, template] {
        let response = as_grace(unowned).await.expect("response");
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{unowned}");
        let message = json_of(response).await["error"]["message"]
            .as_str()
            .expect("message")
            .to_owned();
        assert!(
            message.contains("spec.owner is missing") && message.contains("platform admins"),
            "{message}"
        );
    }
    assert_eq!(
        as_grace(&template.replace("spec: {", "spec: { owner: group:default/checkout,"))
            .await
            .expect("response")
            .status(),
        StatusCode::CREATED
    );

    // Locations are read by the server: only platform admins register them.
    let response = app
        .call(
            "POST",
            "/api/catalog/locations",
            &app.ada,
            Some(json!({ "type": "file", "target": "/etc/hostname" })),
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn hostile_parameters_are_bounded() {
    let app = App::new().await;
    let response = app
        .call(
            "POST",
            "/api/catalog/locations?dryRun=true",
            &app.linus,
            Some(json!({ "type": "file", "target": "/dev/zero" })),
        )
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(
        json_of(response).await["error"]["message"]
            .as_str()
            .expect("message")
            .contains("is not a regular file")
    );
    let orders: String = (0..6).map(|i| format!("&orderField=f{i},asc")).collect();
    let (status, body) = app
        .get(&format!("/api/catalog/entities/by-query?limit=1{orders}"))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"]["message"]
            .as_str()
            .expect("message")
            .starts_with("orderField:")
    );
    let facets: String = (0..21).map(|i| format!("&facet=f{i}")).collect();
    let (status, _) = app
        .get(&format!("/api/catalog/entity-facets?x=1{facets}"))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = app
        .get("/api/catalog/entities?offset=18446744073709551615&limit=1")
        .await;
    assert_eq!((status, body), (StatusCode::OK, json!([])));
    let (status, body) = app
        .get("/api/catalog/entities/by-query?offset=18446744073709551615&limit=5")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["items"], json!([]));
}

#[tokio::test]
async fn registering_one_location_twice_at_once_is_a_conflict_not_an_error() {
    let app = App::new().await;
    std::fs::create_dir_all(&app.dir).expect("dir");
    let file = app.dir.join("catalog-info.yaml");
    std::fs::write(&file, NEW_SERVICE).expect("write");
    let body = json!({ "type": "file", "target": file.display().to_string() });
    let (first, second) = tokio::join!(
        app.call(
            "POST",
            "/api/catalog/locations",
            &app.linus,
            Some(body.clone())
        ),
        app.call("POST", "/api/catalog/locations", &app.linus, Some(body)),
    );
    let mut statuses = [first.status(), second.status()];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::CREATED, StatusCode::CONFLICT]);
    let (_, list) = app.get("/api/catalog/locations").await;
    assert_eq!(list.as_array().expect("list").len(), 1);
}

/// Every import is audited once, in one shape, however it ended: stored (`success`, with what
/// changed), refused by a rule (`denied`), or invalid (`failed`), each with the number of
/// documents; a dry run records nothing.
#[tokio::test]
async fn imports_are_audited_once_in_one_shape() {
    let app = App::new().await;
    let component = |name: &str, owner: &str| {
        format!(
            "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\nspec:\n  type: service\n  lifecycle: experimental\n  owner: {owner}\n"
        )
    };
    let import = |auth: String, text: String, uri: &'static str| {
        let app = &app;
        async move {
            let response = app.call_text("POST", uri, &auth, &text).await;
            response.status()
        }
    };
    assert_eq!(
        import(
            app.ada.clone(),
            component("audited", "payments"),
            "/api/catalog/import"
        )
        .await,
        StatusCode::CREATED
    );
    assert_eq!(
        import(
            app.grace.clone(),
            component("sneaky", "payments"),
            "/api/catalog/import"
        )
        .await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        import(
            app.ada.clone(),
            "kind: Component\n".to_owned(),
            "/api/catalog/import"
        )
        .await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        import(
            app.ada.clone(),
            component("dry", "payments"),
            "/api/catalog/import?dryRun=true"
        )
        .await,
        StatusCode::OK
    );
    let records: Vec<_> = app
        .state
        .platform
        .audit
        .recent(50)
        .await
        .expect("audit")
        .into_iter()
        .filter(|r| r.action == "catalog.import")
        .collect();
    let seen: Vec<(&str, &str)> = records
        .iter()
        .map(|r| (r.actor.as_str(), r.outcome.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            ("user:default/ada", "failed"),
            ("user:default/grace", "denied"),
            ("user:default/ada", "success")
        ],
        "{records:#?}"
    );
    for record in &records {
        assert_eq!(record.target, "upload");
        assert_eq!(record.detail["documents"], 1, "{record:?}");
    }
    assert_eq!(records[2].detail["added"], 1);
    assert!(
        records[1].detail["error"]
            .as_str()
            .is_some_and(|e| e.contains("not allowed"))
    );
}
