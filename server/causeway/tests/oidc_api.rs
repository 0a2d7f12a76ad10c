//! OpenID Connect sign-in against a real Dex (`tests/scripts/with-dex.sh`, which exports
//! `DEX_ISSUER`, `DEX_CA_FILE`, `DEX_CLIENT_ID`, `DEX_CLIENT_SECRET(_FILE)`, `DEX_PASSWORD`,
//! `DEX_PASSWORD_HASH` and `DEX_GRPC_ADDR`, Dex's gRPC API, through which a test adds and deletes
//! people).
//! The browser's part is played by reqwest against Dex (its own login form, read from the page)
//! and by the in-process router for Causeway, whose public URL is the redirect URI Dex's client
//! allows (`http://127.0.0.1:3999/auth/oidc/callback`).
//!
//! Run: `tests/scripts/with-dex.sh cargo test -p causeway --test oidc_api`.

mod support;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use causeway_platform::identity::provider::{DISABLED_MESSAGE, RECHECK_ACTOR};
use causeway_platform::identity::{Standing, TokenCheck};
use serde_json::Value;
use sqlx::Row as _;
use support::dex_api::DexApi;
use support::{App, json_of};
use tower::ServiceExt as _;

const PUBLIC_URL: &str = "http://127.0.0.1:3999";

struct Dex {
    issuer: String,
    ca_file: String,
    client_id: String,
    secret: String,
    secret_file: String,
    password: String,
    password_hash: String,
}

fn dex() -> Dex {
    let var = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| {
            panic!("{name} is not set; run through tests/scripts/with-dex.sh (make test does)")
        })
    };
    Dex {
        issuer: var("DEX_ISSUER"),
        ca_file: var("DEX_CA_FILE"),
        client_id: var("DEX_CLIENT_ID"),
        secret: var("DEX_CLIENT_SECRET"),
        secret_file: var("DEX_CLIENT_SECRET_FILE"),
        password: var("DEX_PASSWORD"),
        password_hash: var("DEX_PASSWORD_HASH"),
    }
}

async fn oidc_app(dex: &Dex, extra: &[(&str, &str)]) -> App {
    let mut vars = vec![
        ("CAUSEWAY_AUTH_MODE", "oidc"),
        ("CAUSEWAY_PUBLIC_URL", PUBLIC_URL),
        ("CAUSEWAY_OIDC_ISSUER", dex.issuer.as_str()),
        ("CAUSEWAY_OIDC_CLIENT_ID", dex.client_id.as_str()),
        ("CAUSEWAY_OIDC_CLIENT_SECRET_FILE", dex.secret_file.as_str()),
        ("CAUSEWAY_OIDC_CA_FILE", dex.ca_file.as_str()),
        ("CAUSEWAY_OIDC_PROVIDER_NAME", "Dex"),
    ];
    vars.retain(|(k, _)| !extra.iter().any(|(e, _)| e == k));
    vars.extend_from_slice(extra);
    App::with_vars(
        vars.into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
    )
    .await
}

fn browser(dex: &Dex) -> reqwest::Client {
    let pem = std::fs::read(&dex.ca_file).expect("Dex's CA");
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).expect("PEM"))
        .build()
        .expect("client")
}

/// A request to Causeway's router with the given cookies.
async fn causeway(app: &App, uri: &str, cookies: &[&str]) -> axum::http::Response<Body> {
    let mut request = Request::get(uri);
    if !cookies.is_empty() {
        request = request.header(header::COOKIE, cookies.join("; "));
    }
    app.router
        .clone()
        .oneshot(request.body(Body::empty()).expect("request"))
        .await
        .expect("response")
}

fn location(response: &axum::http::Response<Body>) -> String {
    response
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .expect("a redirect")
        .to_owned()
}

/// The `name=value` of the cookie `name` the response sets.
fn set_cookie(response: &axum::http::Response<Body>, name: &str) -> Option<String> {
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .find(|pair| pair.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

/// The value of `name="…"` in an HTML tag.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let start = tag.find(&format!("{name}=\""))? + name.len() + 2;
    let end = tag[start..].find('"')? + start;
    Some(tag[start..end].replace("&amp;", "&"))
}

/// Follows Dex from the authorization URL through its login form as `email`, and returns the
/// callback address Dex sends the browser back to.
async fn sign_in_at_dex(dex: &Dex, authorize: &str, email: &str) -> String {
    let client = browser(dex);
    let origin = {
        let url = url::Url::parse(&dex.issuer).expect("issuer URL");
        url.origin().ascii_serialization()
    };
    let absolute = |location: &str| {
        if location.starts_with('/') {
            format!("{origin}{location}")
        } else {
            location.to_owned()
        }
    };
    // To the login form: Dex may redirect to its connector's page first.
    let mut url = authorize.to_owned();
    let (form_url, page) = loop {
        let response = client.get(&url).send().await.expect("Dex answers");
        if response.status().is_redirection() {
            url = absolute(
                response.headers()[header::LOCATION]
                    .to_str()
                    .expect("location"),
            );
            continue;
        }
        assert_eq!(response.status(), 200, "Dex's login page at {url}");
        break (url.clone(), response.text().await.expect("page"));
    };
    // Dex's own form: its action and the names of its fields, read from the page.
    let form_start = page.find("<form").expect("a form on Dex's login page");
    let form_tag = &page[form_start..form_start + page[form_start..].find('>').expect("tag")];
    let action = attribute(form_tag, "action").unwrap_or_else(|| form_url.clone());
    let action = url::Url::parse(&form_url)
        .expect("page URL")
        .join(&action)
        .expect("form action");
    let mut fields = Vec::new();
    for input in page[form_start..].split("<input").skip(1) {
        let tag = &input[..input.find('>').unwrap_or(input.len())];
        let Some(name) = attribute(tag, "name") else {
            continue;
        };
        let kind = attribute(tag, "type").unwrap_or_default();
        let value = match kind.as_str() {
            "password" => dex.password.clone(),
            "hidden" => attribute(tag, "value").unwrap_or_default(),
            _ => email.to_owned(),
        };
        fields.push((name, value));
    }
    assert!(
        fields.iter().any(|(_, v)| v == &dex.password),
        "no password field in {form_tag}"
    );
    let mut response = client
        .post(action)
        .form(&fields)
        .send()
        .await
        .expect("login posted");
    loop {
        assert!(
            response.status().is_redirection(),
            "Dex did not accept the login: {}",
            response.status()
        );
        let next = absolute(response.headers()[header::LOCATION].to_str().expect("loc"));
        if next.starts_with(PUBLIC_URL) {
            return next;
        }
        response = client.get(&next).send().await.expect("Dex answers");
    }
}

/// A whole sign-in as `email`: start, Dex, callback. Returns the callback's response and the
/// callback address (for replays).
async fn sign_in(
    app: &App,
    dex: &Dex,
    email: &str,
    next: &str,
) -> (axum::http::Response<Body>, String, String) {
    let start = causeway(app, &format!("/auth/oidc/start?next={next}"), &[]).await;
    assert_eq!(start.status(), StatusCode::SEE_OTHER, "start redirects");
    let binding = set_cookie(&start, "causeway_oidc").expect("binding cookie");
    let authorize = location(&start);
    assert!(authorize.starts_with(&dex.issuer), "{authorize}");
    for parameter in [
        "code_challenge=",
        "code_challenge_method=S256",
        "nonce=",
        "state=",
    ] {
        assert!(authorize.contains(parameter), "{parameter} in {authorize}");
    }
    let callback = sign_in_at_dex(dex, &authorize, email).await;
    let path = callback.trim_start_matches(PUBLIC_URL).to_owned();
    let response = causeway(app, &path, &[&binding]).await;
    (response, path, binding)
}

async fn me(app: &App, session: &str) -> (StatusCode, Value) {
    let response = causeway(app, "/api/me", &[session]).await;
    let status = response.status();
    (status, json_of(response).await)
}

async fn body_text(response: axum::http::Response<Body>) -> String {
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    String::from_utf8_lossy(&bytes).into_owned()
}

#[tokio::test]
async fn a_known_person_signs_in_through_dex_and_a_state_works_once() {
    let dex = dex();
    let app = oidc_app(&dex, &[]).await;

    // The sign-in page offers the provider, not the development form.
    let page = body_text(causeway(&app, "/sign-in?next=/catalog", &[]).await).await;
    assert!(
        page.contains("Sign in with Dex")
            && page.contains("/auth/oidc/start?next=%2Fcatalog")
            && !page.contains("dev-sign-in"),
        "{page}"
    );

    let (response, callback, binding) =
        sign_in(&app, &dex, "ada@example.com", "/catalog%3Fkind%3Dcomponent").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/catalog?kind=component");
    let session = set_cookie(&response, "causeway_session").expect("a session");
    let (status, me_body) = me(&app, &session).await;
    assert_eq!(status, StatusCode::OK, "{me_body}");
    assert_eq!(me_body["entity_ref"], "user:default/ada", "{me_body}");
    let teams = me_body.to_string();
    assert!(teams.contains("group:default/payments"), "{me_body}");

    // The same state again (a replayed callback) is refused: a state is used once.
    let replay = causeway(&app, &callback, &[&binding]).await;
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
    assert!(body_text(replay).await.contains("already used"));

    // A state Causeway never issued is refused.
    let forged = causeway(&app, "/auth/oidc/callback?code=x&state=forged", &[&binding]).await;
    assert_eq!(forged.status(), StatusCode::BAD_REQUEST);

    // Signing in again in the same browser gives a new session id and ends the old one.
    let start = causeway(&app, "/auth/oidc/start", &[&session]).await;
    let binding = set_cookie(&start, "causeway_oidc").expect("binding");
    let callback = sign_in_at_dex(&dex, &location(&start), "ada@example.com").await;
    let again = causeway(
        &app,
        callback.trim_start_matches(PUBLIC_URL),
        &[&binding, &session],
    )
    .await;
    let renewed = set_cookie(&again, "causeway_session").expect("a new session");
    assert_ne!(renewed, session);
    assert_eq!(me(&app, &session).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(me(&app, &renewed).await.0, StatusCode::OK);

    // A callback from another browser (without the binding cookie) is refused.
    let start = causeway(&app, "/auth/oidc/start", &[]).await;
    let callback = sign_in_at_dex(&dex, &location(&start), "ada@example.com").await;
    let elsewhere = causeway(&app, callback.trim_start_matches(PUBLIC_URL), &[]).await;
    assert_eq!(elsewhere.status(), StatusCode::BAD_REQUEST);
    assert!(body_text(elsewhere).await.contains("another browser"));

    // Every sign-in and refusal is audited.
    let audit = app
        .call("GET", "/api/audit?limit=100", &app.linus, None)
        .await;
    let audit = json_of(audit).await.to_string();
    assert!(
        audit.contains("\"method\":\"oidc\"") && audit.contains("another browser"),
        "{audit}"
    );
}

#[tokio::test]
async fn an_unknown_person_is_refused_or_admitted_without_teams() {
    let dex = dex();
    let app = oidc_app(&dex, &[]).await;
    let (response, _, _) = sign_in(&app, &dex, "mallory@example.com", "/").await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(set_cookie(&response, "causeway_session").is_none());
    let page = body_text(response).await;
    assert!(
        page.contains("mallory@example.com") && page.contains("Ask a platform admin"),
        "{page}"
    );

    let app = oidc_app(&dex, &[("CAUSEWAY_OIDC_UNKNOWN_USERS", "admit")]).await;
    let (response, _, _) = sign_in(&app, &dex, "mallory@example.com", "/").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let session = set_cookie(&response, "causeway_session").expect("a session");
    let (status, me_body) = me(&app, &session).await;
    assert_eq!(status, StatusCode::OK, "{me_body}");
    let user = me_body["entity_ref"].as_str().expect("user");
    assert!(user.starts_with("user:guest/mallory-"), "{me_body}");
    assert_eq!(me_body["teams"], serde_json::json!([]), "{me_body}");
    // A guest holds no API tokens: a token outlives the session and acts as a catalog User.
    let request = Request::post("/api/tokens")
        .header(header::COOKIE, &session)
        .header(header::ORIGIN, "http://127.0.0.1:3999")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(r#"{"name":"guest"}"#))
        .expect("request");
    let response = app.router.clone().oneshot(request).await.expect("response");
    let status = response.status();
    let body = json_of(response).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("not a user of the catalog")),
        "{body}"
    );
}

/// An ID token from Dex's password grant, for the validation checks.
async fn password_grant_token(dex: &Dex) -> String {
    let answer = browser(dex)
        .post(format!("{}/token", dex.issuer))
        .basic_auth(&dex.client_id, Some(&dex.secret))
        .form(&[
            ("grant_type", "password"),
            ("username", "ada@example.com"),
            ("password", dex.password.as_str()),
            ("scope", "openid email groups"),
        ])
        .send()
        .await
        .expect("token endpoint")
        .text()
        .await
        .expect("body");
    let answer: Value = serde_json::from_str(&answer).expect("JSON");
    answer["id_token"].as_str().expect("an ID token").to_owned()
}

#[tokio::test]
async fn tokens_for_another_audience_or_with_a_bad_signature_are_refused() {
    let dex = dex();
    let token = password_grant_token(&dex).await;

    // The same token, checked by a relying party whose client id is another: wrong audience.
    let other = oidc_app(&dex, &[("CAUSEWAY_OIDC_CLIENT_ID", "another-client")]).await;
    let relying = &other.state.oidc.as_ref().expect("oidc").relying;
    let error = relying
        .verify_id_token(&token, "n")
        .await
        .expect_err("another audience");
    assert!(
        error.to_string().to_lowercase().contains("audience"),
        "{error}"
    );

    // One byte of the signature changed.
    let app = oidc_app(&dex, &[]).await;
    let relying = &app.state.oidc.as_ref().expect("oidc").relying;
    let (rest, signature) = token.rsplit_once('.').expect("a JWT");
    let mut bytes = signature.as_bytes().to_vec();
    bytes[10] = if bytes[10] == b'A' { b'B' } else { b'A' };
    let forged = format!("{rest}.{}", String::from_utf8(bytes).expect("ascii"));
    let error = relying
        .verify_id_token(&forged, "n")
        .await
        .expect_err("bad signature");
    assert!(
        error.to_string().to_lowercase().contains("signature"),
        "{error}"
    );

    // The genuine token passes everything but the nonce, which a password grant does not carry.
    let error = relying
        .verify_id_token(&token, "n")
        .await
        .expect_err("no nonce");
    assert!(
        error.to_string().to_lowercase().contains("nonce"),
        "{error}"
    );
}

#[tokio::test]
async fn sign_in_attempts_are_rate_limited() {
    let dex = dex();
    let app = oidc_app(&dex, &[]).await;
    for attempt in 0..10 {
        let response = causeway(&app, "/auth/oidc/start", &[]).await;
        assert_eq!(
            response.status(),
            StatusCode::SEE_OTHER,
            "attempt {attempt}"
        );
    }
    let response = causeway(&app, "/auth/oidc/start", &[]).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = response.headers()[header::RETRY_AFTER]
        .to_str()
        .expect("text")
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&wait), "{wait}");
}

#[tokio::test]
async fn a_group_the_catalog_maps_by_annotation_adds_a_team_for_the_session() {
    let dex = dex();
    let app = oidc_app(&dex, &[]).await;
    // Dex puts grace in its group `checkout`; this Group maps it, the catalog's does only by name.
    let group = "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: release-managers\n  annotations:\n    causeway.dev/oidc-group: checkout\nspec:\n  type: team\n  children: []\n";
    let documents = causeway_platform::catalog::yaml::parse("oidc-test", group).expect("YAML");
    app.state
        .platform
        .catalog
        .ingest("oidc-test", documents, Default::default())
        .await
        .expect("ingest");
    let (response, _, _) = sign_in(&app, &dex, "grace@example.com", "/").await;
    let session = set_cookie(&response, "causeway_session").expect("a session");
    let (status, me_body) = me(&app, &session).await;
    assert_eq!(status, StatusCode::OK, "{me_body}");
    let teams: Vec<&str> = me_body["teams"]
        .as_array()
        .expect("teams")
        .iter()
        .filter_map(|t| t["entity_ref"].as_str())
        .collect();
    assert_eq!(
        teams,
        ["group:default/checkout", "group:default/release-managers"],
        "{me_body}"
    );
    // The token itself gave grace nothing else: with an API token she has only her catalog team.
    let (_, by_token) = {
        let response = app.call("GET", "/api/me", &app.grace, None).await;
        (response.status(), json_of(response).await)
    };
    assert_eq!(
        by_token["teams"].as_array().map(Vec::len),
        Some(1),
        "{by_token}"
    );
}

/// A person a test adds at Dex (gRPC API) and to the catalog, with a name no other test uses:
/// Dex keeps one refresh token per person and client, so a person another test signs in at the
/// same time would replace this test's token.
struct Person {
    name: String,
    email: String,
    user_ref: String,
}

fn person(name: &str) -> Person {
    let name = format!("{name}-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    Person {
        email: format!("{name}@example.com"),
        user_ref: format!("user:default/{name}"),
        name,
    }
}

/// Adds `people` to Dex's passwords (with the tests' password) and as catalog Users of payments.
async fn add_people(app: &App, api: &DexApi, dex: &Dex, people: &[&Person]) {
    let mut documents = String::new();
    for p in people {
        let created = api
            .create_password(&p.email, &p.name, &p.name, &dex.password_hash)
            .await
            .expect("CreatePassword");
        assert!(created, "{} was already at Dex", p.email);
        documents.push_str(&format!(
            "---\napiVersion: backstage.io/v1alpha1\nkind: User\nmetadata:\n  name: {}\nspec:\n  profile:\n    email: {}\n  memberOf: [payments]\n",
            p.name, p.email
        ));
    }
    let documents =
        causeway_platform::catalog::yaml::parse("recheck-test", &documents).expect("YAML");
    app.state
        .platform
        .catalog
        .ingest("recheck-test", documents, Default::default())
        .await
        .expect("ingest");
}

/// Signs `person` in through Dex and returns the session cookie and a new API token
/// (`Bearer …`) made with it, as the person would make one in the portal.
async fn sign_in_with_token(app: &App, dex: &Dex, person: &Person) -> (String, String) {
    let (response, _, _) = sign_in(app, dex, &person.email, "/").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{}", person.email);
    let session = set_cookie(&response, "causeway_session").expect("a session");
    let request = Request::post("/api/tokens")
        .header(header::COOKIE, &session)
        .header(header::ORIGIN, PUBLIC_URL)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(r#"{"name":"ci"}"#))
        .expect("request");
    let response = app.send(request).await;
    let status = response.status();
    let body = json_of(response).await;
    assert!(status.is_success(), "{status} {body}");
    let secret = body["secret"].as_str().expect("the secret");
    (session, format!("Bearer {secret}"))
}

/// A column of `user_ref`'s row in `oidc_accounts`, read from the test application's database.
async fn stored(app: &App, user_ref: &str, column: &str) -> Option<String> {
    use sqlx::Connection as _;
    let mut db = sqlx::SqliteConnection::connect(&format!("sqlite://{}/c.db", app.dir.display()))
        .await
        .expect("the test database");
    sqlx::query(&format!(
        "SELECT {column} FROM oidc_accounts WHERE user_ref = $1"
    ))
    .bind(user_ref)
    .fetch_optional(&mut db)
    .await
    .expect("query")
    .and_then(|row| row.try_get(column).expect("column"))
}

/// A relying party like the test application's, for a provider on a port where nothing listens.
fn unreachable_relying(dex: &Dex) -> causeway::oidc::Relying {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let issuer = format!("https://127.0.0.1:{port}/dex");
    let vars = [
        ("CAUSEWAY_AUTH_MODE", "oidc"),
        ("CAUSEWAY_PUBLIC_URL", PUBLIC_URL),
        ("CAUSEWAY_OIDC_ISSUER", issuer.as_str()),
        ("CAUSEWAY_OIDC_CLIENT_ID", dex.client_id.as_str()),
        ("CAUSEWAY_OIDC_CLIENT_SECRET_FILE", dex.secret_file.as_str()),
        ("CAUSEWAY_OIDC_CA_FILE", dex.ca_file.as_str()),
    ];
    let config =
        causeway::config::Config::load(vars.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())))
            .expect("config");
    causeway::oidc::Relying::new(&config.oidc, &config.public_url).expect("relying party")
}

#[tokio::test]
async fn a_person_the_provider_no_longer_admits_loses_sessions_and_tokens() {
    let dex = dex();
    let api = DexApi::from_env();
    // Rechecked when the last answer is older than a second.
    let app = oidc_app(&dex, &[("CAUSEWAY_OIDC_RECHECK_SECS", "1")]).await;
    let oidc = app.state.oidc.clone().expect("oidc");
    // Two people added at Dex for this test, who will leave it, and linus, one of Dex's static
    // people, whom no other test of this suite signs in (each sign-in replaces Dex's refresh token
    // for the person), who stays.
    let (gone, lazy) = (person("gone"), person("lazy"));
    let kept = Person {
        name: "linus".to_owned(),
        email: "linus@example.com".to_owned(),
        user_ref: "user:default/linus".to_owned(),
    };
    add_people(&app, &api, &dex, &[&gone, &lazy]).await;

    // Each signs in and makes an API token with the session. A recheck these requests may set off
    // comes within Dex's reuse interval of the sign-in, which Dex answers from its storage (see
    // support/dex_api.rs for why that matters).
    let mut signed_in = Vec::new();
    for p in [&gone, &lazy, &kept] {
        let (session, token) = sign_in_with_token(&app, &dex, p).await;
        let (status, body) = app.json("GET", "/api/me", &token, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["entity_ref"], p.user_ref.as_str());
        signed_in.push((session, token));
    }
    let [
        (gone_session, gone_token),
        (lazy_session, lazy_token),
        (kept_session, kept_token),
    ] = <[_; 3]>::try_from(signed_in).expect("three people");
    // The sign-in asked for offline_access, and the refresh token stays on the server.
    let kept_refresh = stored(&app, &kept.user_ref, "refresh_token")
        .await
        .expect("a refresh token from the sign-in");

    // Two of them leave the provider: their refresh tokens are revoked, their passwords deleted.
    for p in [&gone, &lazy] {
        let subject = stored(&app, &p.user_ref, "subject").await.expect("subject");
        assert!(
            api.revoke_refresh(&subject, &dex.client_id)
                .await
                .expect("RevokeRefresh")
        );
        assert!(api.delete_password(&p.email).await.expect("DeletePassword"));
    }
    // Past Dex's reuse interval (3 s), a refresh rotates the token.
    tokio::time::sleep(Duration::from_millis(3200)).await;

    // A provider that cannot be reached disables nobody.
    let report = oidc
        .accounts
        .check_due(&unreachable_relying(&dex))
        .await
        .expect("a pass");
    assert_eq!((report.disabled, report.unavailable), (0, 3), "{report:?}");
    for p in [&gone, &lazy, &kept] {
        assert_eq!(
            oidc.accounts.standing(&p.user_ref).await.expect("standing"),
            Standing::Admitted,
            "{}",
            p.name
        );
    }

    // Once the retry time has passed (the interval, here), using a token rechecks its person
    // first: Dex refuses lazy's refresh token, so the token is refused with the reason.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, body) = app.json("GET", "/api/me", &lazy_token, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"]["message"], DISABLED_MESSAGE, "{body}");

    // The background pass finds gone refused and linus admitted.
    let report = oidc
        .accounts
        .check_due(&oidc.relying)
        .await
        .expect("a pass");
    assert_eq!(
        (
            report.checked,
            report.admitted,
            report.disabled,
            report.unavailable
        ),
        (2, 1, 1, 0),
        "{report:?}"
    );
    for (token, session) in [(&gone_token, &gone_session), (&lazy_token, &lazy_session)] {
        let (status, body) = app.json("GET", "/api/me", token, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert_eq!(body["error"]["message"], DISABLED_MESSAGE, "{body}");
        // Their sessions have ended.
        assert_eq!(me(&app, session).await.0, StatusCode::UNAUTHORIZED);
    }
    // Everybody else goes on: the person the provider still admits, with a rotated refresh
    // token, and people who never signed in through it.
    assert_eq!(
        app.json("GET", "/api/me", &kept_token, None).await.0,
        StatusCode::OK
    );
    assert_eq!(me(&app, &kept_session).await.0, StatusCode::OK);
    assert_eq!(
        app.json("GET", "/api/me", &app.grace, None).await.0,
        StatusCode::OK
    );
    let rotated = stored(&app, &kept.user_ref, "refresh_token")
        .await
        .expect("a refresh token");
    assert_ne!(rotated, kept_refresh, "Dex rotates refresh tokens");

    // Each disablement is audited once, by the recheck, with what set it off; no refresh token
    // appears in the audit log.
    let records = app.state.platform.audit.recent(200).await.expect("audit");
    let disabled: Vec<(&str, &str, &str)> = records
        .iter()
        .filter(|r| r.action == "identity.disabled")
        .map(|r| {
            (
                r.actor.as_str(),
                r.target.as_str(),
                r.detail["trigger"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(disabled.len(), 2, "{disabled:?}");
    assert!(disabled.contains(&(RECHECK_ACTOR, lazy.user_ref.as_str(), "token")));
    assert!(disabled.contains(&(RECHECK_ACTOR, gone.user_ref.as_str(), "background")));
    let log = serde_json::to_string(&records).expect("JSON");
    assert!(!log.contains(&kept_refresh) && !log.contains(&rotated));

    // Back at the provider and signed in again: the mark is cleared and gone's earlier token is
    // live again. This is read from the domain rather than over HTTP, where a recheck falling
    // due would refresh a person Dex keeps in memory (see support/dex_api.rs).
    assert!(
        api.create_password(&gone.email, &gone.name, &gone.name, &dex.password_hash)
            .await
            .expect("CreatePassword")
    );
    let (response, _, _) = sign_in(&app, &dex, &gone.email, "/").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        oidc.accounts
            .standing(&gone.user_ref)
            .await
            .expect("standing"),
        Standing::Admitted
    );
    let check = app
        .state
        .platform
        .tokens
        .authenticate(gone_token.trim_start_matches("Bearer "))
        .await
        .expect("authenticate");
    assert!(matches!(check, TokenCheck::Live { .. }), "{check:?}");
    let records = app.state.platform.audit.recent(20).await.expect("audit");
    let sign_in_record = records
        .iter()
        .find(|r| r.action == "auth.sign-in" && r.target == gone.user_ref)
        .expect("the sign-in's record");
    assert!(
        sign_in_record.detail["cleared_disablement"].is_string(),
        "{:?}",
        sign_in_record.detail
    );

    // Dex serves the other suites too: gone leaves it again, with no refresh token left behind.
    let subject = stored(&app, &gone.user_ref, "subject")
        .await
        .expect("subject");
    api.revoke_refresh(&subject, &dex.client_id)
        .await
        .expect("RevokeRefresh");
    api.delete_password(&gone.email)
        .await
        .expect("DeletePassword");
}
