//! The OpenID Connect relying party: the provider's discovery document and signing keys, the
//! authorization request (code flow with PKCE, `state` and `nonce`), the code exchange and the ID
//! token's validation (signature, issuer, audience, expiry, nonce), and the refresh_token grant
//! with which a signed-in person is rechecked (what its answer means is decided in
//! `causeway_platform::identity::provider`).
//!
//! The discovery document is read on first use rather than at start-up, so a provider that is
//! briefly down does not stop Causeway from starting (the rest of the portal, and API tokens, keep
//! working); a failed read is tried again by the next sign-in.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use causeway_platform::identity::RefreshSecret;
use causeway_platform::identity::oidc::SignInClaims;
use causeway_platform::identity::provider::{RefreshAnswer, RefreshGrant};
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthenticationFlow, CoreClaimName, CoreClaimType, CoreClient,
    CoreClientAuthMethod, CoreGenderClaim, CoreGrantType, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm, CoreJwsSigningAlgorithm,
    CoreResponseMode, CoreResponseType, CoreSubjectIdentifierType,
};
use openidconnect::{
    AdditionalClaims, AdditionalProviderMetadata, AuthorizationCode, ClaimsVerificationError,
    ClientId, ClientSecret, CsrfToken, IdToken, IssuerUrl, JsonWebKeySet, Nonce,
    OAuth2TokenResponse as _, PkceCodeChallenge, PkceCodeVerifier, ProviderMetadata, RedirectUrl,
    Scope, SignatureVerificationError, TokenResponse as _,
};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;
use url::Url;

use crate::config::oidc::OidcSettings;

/// The least time between two reads of the provider's signing keys for a token signed with a key
/// not yet known: a rotation is picked up at once, but a stream of forged tokens with made-up key
/// ids cannot make Causeway hammer the provider.
const JWKS_REFRESH_INTERVAL: Duration = Duration::from_secs(60);
/// Requests to the provider that take longer fail rather than hold a sign-in open.
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(10);

/// The discovery document's RP-initiated logout endpoint, which the core metadata leaves out.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LogoutMetadata {
    pub end_session_endpoint: Option<Url>,
}
impl AdditionalProviderMetadata for LogoutMetadata {}

type Metadata = ProviderMetadata<
    LogoutMetadata,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

/// Every claim beyond the standard ones, so that the configured groups and user claims can be
/// read whatever they are called.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct OtherClaims {
    #[serde(flatten)]
    pub claims: HashMap<String, serde_json::Value>,
}
impl AdditionalClaims for OtherClaims {}

type GroupsIdToken = IdToken<
    OtherClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

/// A sign-in the relying party failed; the message is for logs and the refusal page, and never
/// holds a secret.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("the identity provider could not be reached or answered wrongly: {0}")]
    Provider(String),
    #[error("the identity provider refused the authorization code: {0}")]
    Exchange(String),
    #[error("the ID token was refused: {0}")]
    Token(String),
}

/// A validated sign-in: the claims matching reads, the raw ID token (for logout hints) and the
/// refresh token, when the provider sent one (for rechecks; never logged).
#[derive(Debug, Clone)]
pub struct Verified {
    pub claims: SignInClaims,
    pub id_token: String,
    pub refresh_token: Option<RefreshSecret>,
}

/// What `/auth/oidc/start` needs to remember and where it sends the browser.
#[derive(Debug)]
pub struct Authorization {
    pub url: Url,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

struct Discovered {
    metadata: Metadata,
    keys_read_at: Instant,
}

/// The relying party for the configured provider.
pub struct Relying {
    settings: OidcSettings,
    redirect: RedirectUrl,
    http: reqwest::Client,
    discovered: Mutex<Option<Discovered>>,
}

impl std::fmt::Debug for Relying {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relying")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Relying {
    /// The relying party for checked settings, which sends people back to
    /// `<public_url>/auth/oidc/callback`. The HTTP client trusts the configured CA (else the
    /// public roots) and follows no redirects: the discovery document, keys and token endpoint are
    /// read exactly where the issuer says, and a redirect cannot move a client secret elsewhere.
    pub fn new(settings: &OidcSettings, public_url: &Url) -> Result<Self, String> {
        let redirect = public_url
            .join("/auth/oidc/callback")
            .map_err(|e| format!("public_url: {e}"))?;
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(PROVIDER_TIMEOUT);
        if let Some(pem) = settings.ca_pem() {
            builder = builder.tls_built_in_root_certs(false);
            for cert in reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| format!("oidc_ca_file: {e}"))?
            {
                builder = builder.add_root_certificate(cert);
            }
        }
        Ok(Self {
            settings: settings.clone(),
            redirect: RedirectUrl::from_url(redirect),
            http: builder
                .build()
                .map_err(|e| format!("oidc_ca_file: cannot build the HTTP client: {e}"))?,
            discovered: Mutex::new(None),
        })
    }

    /// The provider's name for the sign-in page.
    pub fn provider_name(&self) -> &str {
        &self.settings.provider_name
    }

    /// The redirect URI registered with the provider.
    pub fn redirect_uri(&self) -> &str {
        self.redirect.as_str()
    }

    /// The provider's metadata, read on first use.
    async fn metadata(&self) -> Result<Metadata, OidcError> {
        let mut discovered = self.discovered.lock().await;
        if let Some(d) = discovered.as_ref() {
            return Ok(d.metadata.clone());
        }
        let issuer = self
            .settings
            .issuer
            .as_ref()
            .map(|u| u.as_str().trim_end_matches('/').to_owned())
            .unwrap_or_default();
        let issuer = IssuerUrl::new(issuer).map_err(|e| OidcError::Provider(e.to_string()))?;
        // The library checks that the document's `issuer` is the configured one.
        let metadata = Metadata::discover_async(issuer, &self.http)
            .await
            .map_err(|e| OidcError::Provider(error_chain(&e)))?;
        *discovered = Some(Discovered {
            metadata: metadata.clone(),
            keys_read_at: Instant::now(),
        });
        Ok(metadata)
    }

    /// Reads the signing keys again, unless they were read less than a minute ago; whether they
    /// were.
    async fn refresh_keys(&self) -> Result<bool, OidcError> {
        let mut discovered = self.discovered.lock().await;
        let Some(d) = discovered.as_mut() else {
            return Ok(false);
        };
        if d.keys_read_at.elapsed() < JWKS_REFRESH_INTERVAL {
            return Ok(false);
        }
        d.keys_read_at = Instant::now();
        let keys = JsonWebKeySet::fetch_async(d.metadata.jwks_uri(), &self.http)
            .await
            .map_err(|e| OidcError::Provider(error_chain(&e)))?;
        d.metadata = d.metadata.clone().set_jwks(keys);
        tracing::info!("read the identity provider's signing keys again for an unknown key id");
        Ok(true)
    }

    fn client(&self, metadata: Metadata) -> ClientLike {
        CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.settings.client_id.clone()),
            self.settings
                .client_secret()
                .map(|s| ClientSecret::new(s.to_owned())),
        )
        .set_redirect_uri(self.redirect.clone())
    }

    /// The authorization request for a new sign-in, with fresh `state`, `nonce` and PKCE verifier.
    pub async fn authorize(&self) -> Result<Authorization, OidcError> {
        let client = self.client(self.metadata().await?);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for scope in self
            .settings
            .requested_scopes()
            .into_iter()
            .filter(|s| s != "openid")
        {
            request = request.add_scope(Scope::new(scope));
        }
        let (url, state, nonce) = request.url();
        Ok(Authorization {
            url,
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        })
    }

    /// Exchanges an authorization code for tokens and validates the ID token against `nonce`.
    pub async fn exchange(
        &self,
        code: &str,
        pkce_verifier: &str,
        nonce: &str,
    ) -> Result<Verified, OidcError> {
        let client = self.client(self.metadata().await?);
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| OidcError::Provider(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
            .request_async(&self.http)
            .await
            .map_err(|e| OidcError::Exchange(error_chain(&e)))?;
        let id_token = response
            .id_token()
            .ok_or_else(|| OidcError::Token("the provider sent no ID token".to_owned()))?
            .to_string();
        let mut verified = self.verify_id_token(&id_token, nonce).await?;
        verified.refresh_token = response
            .refresh_token()
            .map(|t| RefreshSecret::new(t.secret().clone()));
        Ok(verified)
    }

    /// Validates an ID token: signature (reading the keys again once for an unknown key id),
    /// issuer, audience (this client), expiry and `nonce`.
    pub async fn verify_id_token(&self, raw: &str, nonce: &str) -> Result<Verified, OidcError> {
        self.verify(raw, Some(nonce)).await
    }

    /// [`Relying::verify_id_token`], without a nonce for an ID token from a refresh, which
    /// answers no authorization request of Causeway's.
    async fn verify(&self, raw: &str, nonce: Option<&str>) -> Result<Verified, OidcError> {
        let token: GroupsIdToken = raw
            .parse()
            .map_err(|e: serde_json::Error| OidcError::Token(format!("not a JWT: {e}")))?;
        let nonce = nonce.map(|n| Nonce::new(n.to_owned()));
        let mut refreshed = false;
        loop {
            let client = self.client(self.metadata().await?);
            let verifier = client.id_token_verifier();
            let checked = match &nonce {
                Some(nonce) => token.claims(&verifier, nonce),
                None => token.claims(&verifier, |_: Option<&Nonce>| Ok(())),
            };
            match checked {
                Ok(claims) => {
                    return Ok(Verified {
                        claims: self.sign_in_claims(claims),
                        id_token: raw.to_owned(),
                        refresh_token: None,
                    });
                }
                Err(ClaimsVerificationError::SignatureVerification(
                    SignatureVerificationError::NoMatchingKey,
                )) if !refreshed => {
                    refreshed = true;
                    if !self.refresh_keys().await? {
                        return Err(OidcError::Token(
                            "it is signed with a key the provider does not publish".to_owned(),
                        ));
                    }
                }
                Err(e) => return Err(OidcError::Token(error_chain(&e))),
            }
        }
    }

    fn sign_in_claims(
        &self,
        claims: &openidconnect::IdTokenClaims<OtherClaims, CoreGenderClaim>,
    ) -> SignInClaims {
        let other = &claims.additional_claims().claims;
        let groups = match other.get(&self.settings.groups_claim) {
            Some(serde_json::Value::Array(items)) => items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            Some(serde_json::Value::String(one)) => vec![one.clone()],
            _ => Vec::new(),
        };
        let user_claim_value = match self.settings.user_claim.as_str() {
            "email" => None,
            "sub" => Some(claims.subject().as_str().to_owned()),
            "preferred_username" => claims.preferred_username().map(|u| u.as_str().to_owned()),
            other_claim => other
                .get(other_claim)
                .and_then(|v| v.as_str())
                .map(str::to_owned),
        };
        SignInClaims {
            issuer: claims.issuer().as_str().to_owned(),
            subject: claims.subject().as_str().to_owned(),
            email: claims.email().map(|e| e.as_str().to_owned()),
            email_verified: claims.email_verified(),
            name: claims
                .name()
                .and_then(|n| n.get(None))
                .map(|n| n.as_str().to_owned()),
            user_claim_value,
            groups,
        }
    }

    /// Where to send the browser after ending the Causeway session: the provider's
    /// `end_session_endpoint` with the hint and the return address, when it has one.
    pub async fn end_session_url(&self, id_token: Option<&str>, back_to: &Url) -> Option<Url> {
        let metadata = match self.metadata().await {
            Ok(m) => m,
            Err(error) => {
                tracing::warn!(%error, "no RP-initiated logout: the discovery document is unavailable");
                return None;
            }
        };
        let endpoint = metadata
            .additional_metadata()
            .end_session_endpoint
            .as_ref()?;
        Some(logout_url(
            endpoint,
            id_token,
            &self.settings.client_id,
            back_to,
        ))
    }

    /// Whether the provider offers RP-initiated logout (then ID tokens are kept as hints).
    pub async fn has_end_session(&self) -> bool {
        self.metadata()
            .await
            .is_ok_and(|m| m.additional_metadata().end_session_endpoint.is_some())
    }
}

impl RefreshGrant for Relying {
    /// The refresh_token grant at the provider's token endpoint, with the client's credentials as
    /// the code exchange sends them (HTTP Basic). The call is made here rather than through the
    /// `openidconnect` client because the rule needs the answer's HTTP status, which the client
    /// does not keep. Errors name no token.
    async fn refresh(&self, refresh_token: &str) -> RefreshAnswer {
        match self.try_refresh(refresh_token).await {
            Ok(answer) => answer,
            Err(error) => RefreshAnswer::Unavailable(error.to_string()),
        }
    }
}

impl Relying {
    async fn try_refresh(&self, refresh_token: &str) -> Result<RefreshAnswer, OidcError> {
        let metadata = self.metadata().await?;
        let endpoint = metadata.token_endpoint().ok_or_else(|| {
            OidcError::Provider("the discovery document names no token endpoint".to_owned())
        })?;
        // RFC 6749, section 2.3.1: both parts are form-encoded before they are joined.
        let encode =
            |text: &str| url::form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>();
        let response = self
            .http
            .post(endpoint.url().clone())
            .basic_auth(
                encode(&self.settings.client_id),
                Some(encode(self.settings.client_secret().unwrap_or_default())),
            )
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
            ])
            .send()
            .await
            .map_err(|e| OidcError::Provider(error_chain(&e)))?;
        let status = response.status().as_u16();
        let body = response
            .bytes()
            .await
            .map_err(|e| OidcError::Provider(error_chain(&e)))?;
        let json: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
        let text = |v: &serde_json::Value, key: &str| {
            v.get(key).and_then(|s| s.as_str()).map(str::to_owned)
        };
        if !(200..300).contains(&status) {
            return Ok(match json.as_ref().and_then(|v| text(v, "error")) {
                Some(error) => RefreshAnswer::Refused {
                    status,
                    error,
                    description: json.as_ref().and_then(|v| text(v, "error_description")),
                },
                None => RefreshAnswer::Unavailable(format!(
                    "the token endpoint answered HTTP {status} without an OAuth error"
                )),
            });
        }
        let Some(json) = json else {
            return Ok(RefreshAnswer::Unavailable(format!(
                "the token endpoint answered HTTP {status} without JSON"
            )));
        };
        let (subject, groups) = match text(&json, "id_token") {
            Some(raw) => {
                let verified = self.verify(&raw, None).await?;
                (Some(verified.claims.subject), Some(verified.claims.groups))
            }
            None => (None, None),
        };
        Ok(RefreshAnswer::Admitted {
            refresh_token: text(&json, "refresh_token").map(RefreshSecret::new),
            subject,
            groups,
        })
    }
}

/// The client type the metadata makes.
type ClientLike = openidconnect::Client<
    openidconnect::EmptyAdditionalClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    openidconnect::core::CoreAuthPrompt,
    openidconnect::StandardErrorResponse<openidconnect::core::CoreErrorResponseType>,
    openidconnect::core::CoreTokenResponse,
    openidconnect::core::CoreTokenIntrospectionResponse,
    openidconnect::core::CoreRevocableToken,
    openidconnect::core::CoreRevocationErrorResponse,
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

/// An error with its causes, which is where the library puts the useful part.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The RP-initiated logout request (OpenID Connect RP-Initiated Logout 1.0, section 2): the
/// provider's `end_session_endpoint`, keeping any query it already has, with the ID token as
/// `id_token_hint` when one was kept, the client's id, and where to come back to.
fn logout_url(endpoint: &Url, id_token: Option<&str>, client_id: &str, back_to: &Url) -> Url {
    let mut url = endpoint.clone();
    {
        let mut query = url.query_pairs_mut();
        if let Some(hint) = id_token {
            query.append_pair("id_token_hint", hint);
        }
        query
            .append_pair("client_id", client_id)
            .append_pair("post_logout_redirect_uri", back_to.as_str());
    }
    url
}

#[cfg(test)]
mod logout_tests {
    use super::*;

    // Dex, the provider the suites run against, publishes no `end_session_endpoint`, so the
    // request a provider that has one receives is checked here, against the specification.
    #[test]
    fn the_logout_request_carries_the_hint_the_client_and_the_way_back() {
        let endpoint = Url::parse("https://id.example/logout?tenant=acme").expect("url");
        let back = Url::parse("https://causeway.example/sign-in?error=signed-out").expect("url");
        let url = logout_url(&endpoint, Some("eyJ.hint.sig"), "causeway", &back);
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        assert_eq!(url.path(), "/logout");
        assert_eq!(
            pairs,
            [
                ("tenant".to_owned(), "acme".to_owned()),
                ("id_token_hint".to_owned(), "eyJ.hint.sig".to_owned()),
                ("client_id".to_owned(), "causeway".to_owned()),
                ("post_logout_redirect_uri".to_owned(), back.to_string()),
            ]
        );
        let without = logout_url(&endpoint, None, "causeway", &back);
        assert!(!without.query_pairs().any(|(k, _)| k == "id_token_hint"));
    }
}
