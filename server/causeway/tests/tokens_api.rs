//! API tokens through the REST API: scopes held where the caller is resolved, expiry, last use,
//! and tokens created by tokens. The support application's tokens are the command line's (the
//! broadest each person may hold: `admin` for linus, `write` for ada and grace).

use axum::http::StatusCode;
use serde_json::{Value, json};

mod support;

use support::App;

/// Creates a token with `auth` and returns its `Authorization` value and its JSON.
async fn create(app: &App, auth: &str, body: Value) -> (String, Value) {
    let (status, created) = app.json("POST", "/api/tokens", auth, Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let secret = created["secret"].as_str().expect("secret").to_owned();
    (format!("Bearer {secret}"), created["token"].clone())
}

#[tokio::test]
async fn a_read_token_reads_only_and_creates_nothing_broader() {
    let app = App::new().await;
    let (read, token) = create(
        &app,
        &app.ada,
        json!({ "name": "dashboards", "scopes": ["read"], "expiresInDays": 7 }),
    )
    .await;
    assert_eq!(token["scopes"], json!(["read"]));
    let lifetime =
        token["expires_at_millis"].as_i64().unwrap() - token["created_at_millis"].as_i64().unwrap();
    assert_eq!(lifetime, 7 * 86_400_000);

    let (status, me) = app.json("GET", "/api/me", &read, None).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    let (status, body) = app
        .json(
            "POST",
            "/api/tokens",
            &read,
            Some(json!({ "name": "x", "scopes": ["read"] })),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("allow only GET and HEAD"),
        "{body}"
    );

    // Listed with its scopes, expiry and (throttled) last use.
    let (status, list) = app.json("GET", "/api/tokens", &app.ada, None).await;
    assert_eq!(status, StatusCode::OK);
    let listed = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "dashboards")
        .expect("listed");
    assert_eq!(listed["scopes"], json!(["read"]));
    assert!(listed["last_used_at_millis"].as_i64().is_some(), "{listed}");
    assert!(listed.get("secret").is_none());
}

#[tokio::test]
async fn scopes_and_expiry_are_held_to_the_person_and_the_creating_token() {
    let app = App::new().await;
    // A developer cannot hold `admin`.
    let (status, body) = app
        .json(
            "POST",
            "/api/tokens",
            &app.ada,
            Some(json!({ "name": "x", "scopes": ["admin"] })),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("scopes: `admin` is only for platform admins")
    );
    // Unknown scopes and lifetimes name their field.
    let (status, body) = app
        .json(
            "POST",
            "/api/tokens",
            &app.ada,
            Some(json!({ "name": "x", "scopes": ["all"] })),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("scopes[0]"),
        "{body}"
    );
    let (status, body) = app
        .json(
            "POST",
            "/api/tokens",
            &app.ada,
            Some(json!({ "name": "x", "expiresInDays": 400 })),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expiresInDays: must be between 1 and 365"),
        "{body}"
    );
    // The command line's token lasts 90 days, so it cannot make one of 100.
    let (status, body) = app
        .json(
            "POST",
            "/api/tokens",
            &app.ada,
            Some(json!({ "name": "x", "expiresInDays": 100 })),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("outlives itself"),
        "{body}"
    );

    // A platform admin's write token acts without admin rights; an admin one with them.
    let (write, token) = create(
        &app,
        &app.linus,
        json!({ "name": "w", "scopes": ["write"] }),
    )
    .await;
    assert_eq!(token["scopes"], json!(["write"]));
    let (status, _) = app.json("GET", "/api/audit", &write, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, me) = app.json("GET", "/api/me", &write, None).await;
    assert_eq!(me["role"], "developer");
    let (status, body) = app
        .json(
            "POST",
            "/api/tokens",
            &write,
            Some(json!({ "name": "x", "scopes": ["admin"] })),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (admin, token) = create(
        &app,
        &app.linus,
        json!({ "name": "a", "scopes": ["admin"], "expiresInDays": 30 }),
    )
    .await;
    assert_eq!(token["scopes"], json!(["admin"]));
    let (status, _) = app.json("GET", "/api/audit", &admin, None).await;
    assert_eq!(status, StatusCode::OK);
    // Created by a 30-day token without a lifetime: cut to the creator's expiry.
    let (_, child) = create(&app, &admin, json!({ "name": "c" })).await;
    assert_eq!(
        child["scopes"],
        json!(["write"]),
        "a token's default is write at most"
    );
    assert_eq!(child["expires_at_millis"], token["expires_at_millis"]);
}

#[tokio::test]
async fn tokens_stop_when_their_user_leaves_the_catalog() {
    let app = App::new().await;
    let (status, ada) = app
        .json(
            "GET",
            "/api/catalog/entities/by-name/user/default/ada",
            &app.linus,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{ada}");
    let uid = ada["metadata"]["uid"].as_str().expect("uid");
    let (status, body) = app
        .json(
            "DELETE",
            &format!("/api/catalog/entities/by-uid/{uid}"),
            &app.linus,
            None,
        )
        .await;
    assert!(status.is_success(), "{status} {body}");
    let (status, body) = app.json("GET", "/api/me", &app.ada, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no longer in the catalog"),
        "{body}"
    );
}
