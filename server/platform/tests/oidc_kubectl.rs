//! The same identity in kubectl: a developer signed in to the test identity provider (Dex,
//! tests/oidc) reaches the control plane's API server with the provider's ID token, and can change
//! their own team's namespace — through the RoleBindings Causeway created — but not another
//! team's.
//!
//! The API server trusts Dex when the control plane is started inside `tests/scripts/with-dex.sh`
//! (tests/controlplane/controlplane.sh: user `oidc:EMAIL`, groups `oidc:GROUP`), and the cluster's
//! `groupPrefix` makes Causeway bind the team's group under that prefix as well.

#[path = "support/kube.rs"]
mod cluster;
#[path = "support/testbed.rs"]
mod testbed;

use std::time::Duration;

use causeway_platform::provision::{Provisioner, Request};
use cluster::{Identity, client, eventually, kubeconfig_path, status_message, unique_name};
use k8s_openapi::api::authentication::v1::SelfSubjectReview;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::rbac::v1::RoleBinding;
use kube::api::{Api, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use serde_json::{Value, json};
use testbed::engine_with_catalog;

/// The prefix the control plane's AuthenticationConfiguration puts before Dex's users and groups.
const PREFIX: &str = "oidc:";

/// What the test needs from `tests/scripts/with-dex.sh`.
struct Dex {
    issuer: String,
    ca_pem: Vec<u8>,
    client_id: String,
    client_secret: String,
    password: String,
}

fn var(name: &str) -> String {
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => value,
        _ => panic!(
            "{name} is not set, so there is no identity provider to sign in with. Run the tests \
             through `make test`, or through `tests/scripts/with-dex.sh \
             tests/scripts/with-controlplane.sh cargo test -p causeway-platform --test \
             oidc_kubectl` (Dex outside the control plane, so that its API server trusts Dex)."
        ),
    }
}

fn dex() -> Dex {
    let ca_file = var("DEX_CA_FILE");
    Dex {
        issuer: var("DEX_ISSUER"),
        ca_pem: std::fs::read(&ca_file).unwrap_or_else(|e| panic!("reading {ca_file}: {e}")),
        client_id: var("DEX_CLIENT_ID"),
        client_secret: var("DEX_CLIENT_SECRET"),
        password: var("DEX_PASSWORD"),
    }
}

/// An ID token for `email`, from Dex's password grant over HTTPS verified against the test CA.
async fn id_token(dex: &Dex, email: &str) -> String {
    let ca = reqwest::Certificate::from_pem(&dex.ca_pem).expect("the test CA's PEM");
    let http = reqwest::Client::builder()
        .add_root_certificate(ca)
        .build()
        .expect("an HTTP client");
    let answer = http
        .post(format!("{}/token", dex.issuer))
        .basic_auth(&dex.client_id, Some(&dex.client_secret))
        .form(&[
            ("grant_type", "password"),
            ("username", email),
            ("password", dex.password.as_str()),
            ("scope", "openid email profile groups"),
        ])
        .send()
        .await
        .expect("Dex's token endpoint answers");
    let status = answer.status();
    let body = answer.text().await.expect("the token response");
    assert!(
        status.is_success(),
        "the password grant for {email}: {status} {body}"
    );
    let body: Value = serde_json::from_str(&body).expect("a JSON token response");
    body["id_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no id_token in {body}"))
        .to_owned()
}

/// A client of the control plane that presents `token` as its bearer token, as kubectl does for a
/// person signed in through OpenID Connect; the server and its CA are the kubeconfig's.
async fn client_with_token(token: &str) -> Client {
    let path = kubeconfig_path();
    let mut kubeconfig = Kubeconfig::read_from(&path)
        .unwrap_or_else(|e| panic!("reading the kubeconfig {}: {e}", path.display()));
    let person: kube::config::NamedAuthInfo = serde_json::from_value(json!({
        "name": "oidc-person",
        "user": { "token": token },
    }))
    .expect("a user entry");
    let context: kube::config::NamedContext = serde_json::from_value(json!({
        "name": "oidc-person",
        "context": { "cluster": "causeway-test", "user": "oidc-person" },
    }))
    .expect("a context entry");
    kubeconfig.auth_infos.push(person);
    kubeconfig.contexts.push(context);
    let options = KubeConfigOptions {
        context: Some("oidc-person".to_owned()),
        ..KubeConfigOptions::default()
    };
    let config = Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .expect("a client configuration");
    Client::try_from(config).expect("a Kubernetes client")
}

/// Who the API server takes the client for. The JWT authenticator loads Dex's discovery document
/// and keys in the background after the API server starts, so the first requests may still be
/// refused as unauthenticated; this waits until the token is accepted.
async fn who_am_i(client: &Client) -> (String, Vec<String>) {
    let reviews = Api::<SelfSubjectReview>::all(client.clone());
    eventually(
        "the API server to accept Dex's ID token",
        Duration::from_secs(30),
        || async {
            let review = reviews
                .create(&PostParams::default(), &SelfSubjectReview::default())
                .await
                .ok()?;
            let user = review.status?.user_info?;
            Some((user.username?, user.groups.unwrap_or_default()))
        },
    )
    .await
}

/// A catalog of the teams `payments` and `checkout` (the demo organisation's, which Dex's users
/// belong to) and one component of each.
fn catalog(payments_service: &str, checkout_service: &str) -> String {
    let group = |name: &str| {
        format!(
            "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: {name}\n\
             spec:\n  type: team\n  children: []\n"
        )
    };
    let component = |name: &str, owner: &str| {
        format!(
            "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\n\
             spec:\n  type: service\n  lifecycle: production\n  owner: {owner}\n"
        )
    };
    [
        group("payments"),
        group("checkout"),
        component(payments_service, "payments"),
        component(checkout_service, "checkout"),
    ]
    .join("---\n")
}

async fn provision(engine: &Provisioner, service: &str) -> String {
    let report = engine
        .apply(&Request {
            service: service.to_owned(),
            environment: "dev".to_owned(),
            request_id: "req-oidc".to_owned(),
            ..Request::default()
        })
        .await
        .expect("applied");
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    report.namespace
}

fn config_map(name: &str) -> ConfigMap {
    serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": { "name": name },
        "data": { "written-by": "a developer signed in through Dex" },
    }))
    .expect("a ConfigMap")
}

#[tokio::test]
async fn a_developer_signed_in_through_dex_changes_their_teams_namespace_and_no_other() {
    let dex = dex();
    let payments_service = unique_name("pay");
    let checkout_service = unique_name("chk");
    let engine = engine_with_catalog(&catalog(&payments_service, &checkout_service), |config| {
        for cluster in &mut config.clusters {
            cluster.group_prefix = Some(PREFIX.to_owned());
        }
    })
    .await;
    let payments = provision(&engine, &payments_service).await;
    let checkout = provision(&engine, &checkout_service).await;

    // Causeway bound the team both as the cluster's own identities name it and as the API server
    // names it for people signed in through Dex.
    let backend = client(Identity::Causeway).await;
    let binding = Api::<RoleBinding>::namespaced(backend, &payments)
        .get("team-edit")
        .await
        .expect("the team's binding");
    let subjects: Vec<String> = binding
        .subjects
        .unwrap_or_default()
        .into_iter()
        .map(|s| format!("{}/{}", s.kind, s.name))
        .collect();
    assert_eq!(subjects, ["Group/payments", "Group/oidc:payments"]);

    let ada = client_with_token(&id_token(&dex, "ada@example.com").await).await;
    let (user, groups) = who_am_i(&ada).await;
    assert_eq!(user, "oidc:ada@example.com");
    assert!(groups.iter().any(|g| g == "oidc:payments"), "{groups:?}");

    // Her own team's namespace: the write is accepted and the object is there.
    let own = Api::<ConfigMap>::namespaced(ada.clone(), &payments);
    own.create(&PostParams::default(), &config_map("from-dex"))
        .await
        .expect("ada may write in her team's namespace");
    let stored = own.get("from-dex").await.expect("and read it back");
    assert_eq!(
        stored.data.unwrap_or_default()["written-by"],
        "a developer signed in through Dex"
    );

    // Another team's namespace: the API server refuses her by name.
    let (status, message) = status_message(
        Api::<ConfigMap>::namespaced(ada.clone(), &checkout)
            .create(&PostParams::default(), &config_map("from-dex"))
            .await,
    );
    assert_eq!(status, 403, "{message}");
    assert!(message.contains("oidc:ada@example.com"), "{message}");

    // A person the catalog does not know, in no team Causeway bound, gets nowhere.
    let mallory = client_with_token(&id_token(&dex, "mallory@example.com").await).await;
    let (status, message) = status_message(
        Api::<ConfigMap>::namespaced(mallory, &payments)
            .create(&PostParams::default(), &config_map("from-mallory"))
            .await,
    );
    assert_eq!(status, 403, "{message}");

    cluster::remove_namespace(&payments).await;
    cluster::remove_namespace(&checkout).await;
}

fn person(name: &str, team: &str) -> causeway_platform::identity::Principal {
    causeway_platform::identity::Principal {
        entity_ref: format!("user:default/{name}"),
        display_name: name.to_owned(),
        email: Some(format!("{name}@example.com")),
        teams: vec![causeway_platform::identity::Team {
            entity_ref: format!("group:default/{team}"),
            display_name: team.to_owned(),
        }],
        role: causeway_platform::identity::Role::Developer,
    }
}

/// The kubeconfig Causeway hands a developer for their team's environment points at the
/// environment's cluster (its server and CA) and namespace and signs in through the provider;
/// with the ID token it would fetch in its place, kubectl writes in that namespace. Another
/// team's developer gets no kubeconfig for it.
#[tokio::test]
async fn the_kubeconfig_a_developer_downloads_reaches_their_namespace_as_themselves() {
    let dex = dex();
    let payments_service = unique_name("kcf");
    let checkout_service = unique_name("kco");
    let engine = engine_with_catalog(&catalog(&payments_service, &checkout_service), |config| {
        for cluster in &mut config.clusters {
            cluster.group_prefix = Some(PREFIX.to_owned());
        }
    })
    .await;
    let namespace = provision(&engine, &payments_service).await;
    let request = Request {
        service: payments_service.clone(),
        environment: "dev".to_owned(),
        ..Request::default()
    };
    let login = causeway_platform::provision::kubeconfig::Login {
        issuer: dex.issuer.clone(),
        client_id: dex.client_id.clone(),
    };
    let refused = engine
        .kubeconfig_for(&person("grace", "checkout"), &request, Some(&login))
        .await;
    assert!(
        matches!(refused, Err(causeway_platform::Error::Forbidden(_))),
        "{refused:?}"
    );
    let text = engine
        .kubeconfig_for(&person("ada", "payments"), &request, Some(&login))
        .await
        .expect("ada's kubeconfig");
    let mut kubeconfig = Kubeconfig::from_yaml(&text).expect("a kubeconfig");
    let context = kubeconfig.contexts[0].context.clone().expect("a context");
    assert_eq!(context.namespace.as_deref(), Some(namespace.as_str()));
    let exec = kubeconfig.auth_infos[0]
        .auth_info
        .as_ref()
        .and_then(|a| a.exec.clone())
        .expect("an exec plugin");
    let args = exec.args.unwrap_or_default();
    assert!(
        args.contains(&format!("--oidc-issuer-url={}", dex.issuer)),
        "{args:?}"
    );
    assert!(
        args.contains(&format!("--oidc-client-id={}", dex.client_id)),
        "{args:?}"
    );

    // In place of the plugin (which opens a browser), the ID token it would hand kubectl.
    let token = id_token(&dex, "ada@example.com").await;
    let user: kube::config::AuthInfo =
        serde_json::from_value(json!({ "token": token })).expect("a user");
    kubeconfig.auth_infos[0].auth_info = Some(user);
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("the downloaded kubeconfig's cluster and CA");
    assert_eq!(config.default_namespace, namespace);
    let ada = Client::try_from(config).expect("a client");
    who_am_i(&ada).await;
    Api::<ConfigMap>::default_namespaced(ada)
        .create(&PostParams::default(), &config_map("via-kubeconfig"))
        .await
        .expect("ada writes in her namespace through the downloaded kubeconfig");
}
