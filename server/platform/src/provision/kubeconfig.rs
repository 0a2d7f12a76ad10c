//! The `kubectl` configuration a developer downloads for one of their team's environments: the
//! environment's cluster (its API server and CA, as Causeway reaches it), the environment's
//! namespace, and credentials from the organisation's OpenID Connect provider through kubectl's
//! `oidc-login` plugin, so that kubectl acts as the person — through the RoleBindings Causeway
//! made for their team — and never with Causeway's own identity.

use base64::Engine as _;
use serde_json::json;

use super::config::Target;
use super::{Provisioner, Request};
use crate::identity::Principal;
use crate::{Error, Result};

/// The provider kubectl signs in with (the one the cluster's API server trusts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login {
    pub issuer: String,
    pub client_id: String,
}

impl Provisioner {
    /// The kubeconfig of `request`'s environment for `principal`: members of the owning team and
    /// platform admins. Refused (400, naming the field) for an environment delivered through
    /// GitOps (no cluster to point at) and when Causeway has no provider to hand kubectl.
    pub async fn kubeconfig_for(
        &self,
        principal: &Principal,
        request: &Request,
        login: Option<&Login>,
    ) -> Result<String> {
        self.authorize(principal, &request.service)?;
        let prepared = self.prepare(request)?;
        let Some(login) = login else {
            return Err(Error::invalid(
                "auth_mode",
                "kubectl signs in with the organisation's OpenID Connect provider; this Causeway is not configured with one (auth_mode = \"oidc\")",
            ));
        };
        let Target::Cluster { name } = &prepared.environment.target else {
            return Err(Error::invalid(
                "environment",
                format!(
                    "{} is delivered through a GitOps repository; its cluster is not one Causeway reaches",
                    prepared.environment.name
                ),
            ));
        };
        let config = self.config();
        let cluster = config.cluster(name).ok_or_else(|| {
            Error::invalid("environment", format!("cluster {name} is not configured"))
        })?;
        let connection = super::cluster::cluster_config(cluster).await?;
        let namespace = &prepared.instance.namespace;
        let mut cluster_entry =
            json!({ "server": connection.cluster_url.to_string().trim_end_matches('/') });
        if let Some(certificates) = &connection.root_cert {
            let pem: String = certificates.iter().map(|der| pem(der)).collect();
            cluster_entry["certificate-authority-data"] =
                json!(base64::engine::general_purpose::STANDARD.encode(pem));
        }
        let user = format!("{}@{}", principal.entity_ref, name);
        let context = format!("{namespace}@{name}");
        let document = json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{ "name": name, "cluster": cluster_entry }],
            "users": [{
                "name": user,
                "user": {
                    "exec": {
                        "apiVersion": "client.authentication.k8s.io/v1",
                        // The oidc-login plugin (kubelogin) signs the person in with the
                        // provider in a browser and hands kubectl their ID token.
                        "command": "kubectl",
                        "args": [
                            "oidc-login",
                            "get-token",
                            format!("--oidc-issuer-url={}", login.issuer),
                            format!("--oidc-client-id={}", login.client_id),
                            "--oidc-extra-scope=email",
                            "--oidc-extra-scope=groups",
                        ],
                        "interactiveMode": "IfAvailable",
                    }
                }
            }],
            "contexts": [{
                "name": context,
                "context": { "cluster": name, "namespace": namespace, "user": user }
            }],
            "current-context": context,
        });
        serde_yaml_ng::to_string(&document)
            .map_err(|e| Error::invalid("kubeconfig", format!("cannot be written: {e}")))
    }
}

/// A DER certificate as PEM.
fn pem(der: &[u8]) -> String {
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|chunk| std::str::from_utf8(chunk).unwrap_or_default())
        .collect();
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    )
}
