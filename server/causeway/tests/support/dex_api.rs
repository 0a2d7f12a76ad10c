//! A small client for the test provider's gRPC API (`DEX_GRPC_ADDR`, set by
//! `tests/scripts/with-dex.sh`): people added and deleted at run time, which Dex's static
//! passwords cannot be.
//!
//! gRPC here is plain HTTP/2 (prior knowledge, no TLS: Dex listens on loopback only) with reqwest:
//! a `POST /api.Dex/<Method>` whose body is one length-prefixed message (a flag byte, 0 for
//! uncompressed, then the length as a big-endian u32) and whose answer is one such message. The
//! messages are the few of Dex's `api.proto` (module `github.com/dexidp/dex/api/v2`, the version
//! Dex's go.mod requires) the tests need, written by hand with prost's derive rather than
//! generated, so the suites need neither protoc nor a gRPC stack.
//!
//! A failed call comes back as the headers `grpc-status` (not 0) and `grpc-message` with no body
//! ("trailers only"), which is how Dex's server answers an error before any message; reqwest does
//! not read HTTP trailers, so a success is recognised by its message.
//!
//! A person added here must never have a refresh token refreshed while they exist at Dex beyond
//! Dex's reuse interval (3 s after it was issued or last rotated): Dex then asks its password
//! connector whether the person still exists while it holds its in-memory storage's lock
//! (`storage: memory`, `UpdateRefreshToken`), the connector reads the password through the same
//! lock, and the whole server hangs. Static passwords are read without that lock. To take a person
//! away from Causeway, revoke their refresh token ([`DexApi::revoke_refresh`], which Dex then
//! refuses with a 400 without asking the connector) as well as deleting their password.

use prost::Message;

/// `api.Password`.
#[derive(Clone, PartialEq, Message)]
pub struct Password {
    #[prost(string, tag = "1")]
    pub email: String,
    /// A bcrypt hash (cost 10 or more); Dex accepts no plain passwords.
    #[prost(bytes = "vec", tag = "2")]
    pub hash: Vec<u8>,
    #[prost(string, tag = "3")]
    pub username: String,
    /// The person's id in Dex's password store; the ID token's `sub` encodes it with the
    /// connector's id.
    #[prost(string, tag = "4")]
    pub user_id: String,
}

/// `api.CreatePasswordReq`.
#[derive(Clone, PartialEq, Message)]
pub struct CreatePasswordReq {
    #[prost(message, optional, tag = "1")]
    pub password: Option<Password>,
}

/// `api.CreatePasswordResp`.
#[derive(Clone, PartialEq, Message)]
pub struct CreatePasswordResp {
    #[prost(bool, tag = "1")]
    pub already_exists: bool,
}

/// `api.DeletePasswordReq`.
#[derive(Clone, PartialEq, Message)]
pub struct DeletePasswordReq {
    #[prost(string, tag = "1")]
    pub email: String,
}

/// `api.DeletePasswordResp`.
#[derive(Clone, PartialEq, Message)]
pub struct DeletePasswordResp {
    #[prost(bool, tag = "1")]
    pub not_found: bool,
}

/// `api.RevokeRefreshReq`.
#[derive(Clone, PartialEq, Message)]
pub struct RevokeRefreshReq {
    /// The ID token's `sub`.
    #[prost(string, tag = "1")]
    pub user_id: String,
    #[prost(string, tag = "2")]
    pub client_id: String,
}

/// `api.RevokeRefreshResp`.
#[derive(Clone, PartialEq, Message)]
pub struct RevokeRefreshResp {
    #[prost(bool, tag = "1")]
    pub not_found: bool,
}

/// Dex's gRPC API at `DEX_GRPC_ADDR`.
pub struct DexApi {
    base: String,
    client: reqwest::Client,
}

impl DexApi {
    /// The API of the Dex `tests/scripts/with-dex.sh` started.
    pub fn from_env() -> Self {
        let addr = std::env::var("DEX_GRPC_ADDR").unwrap_or_else(|_| {
            panic!(
                "DEX_GRPC_ADDR is not set; run through tests/scripts/with-dex.sh (make test does)"
            )
        });
        Self::new(&addr)
    }

    /// The API at `addr` (`host:port`).
    pub fn new(addr: &str) -> Self {
        Self {
            base: format!("http://{addr}"),
            client: reqwest::Client::builder()
                .http2_prior_knowledge()
                .timeout(std::time::Duration::from_secs(10))
                .build()
                .expect("an HTTP/2 client"),
        }
    }

    /// Adds a person who signs in with Dex's local passwords as `email` and the password whose
    /// bcrypt hash is `hash` (`DEX_PASSWORD_HASH` for `DEX_PASSWORD`). `Ok(false)` when a person
    /// with this email already exists.
    pub async fn create_password(
        &self,
        email: &str,
        username: &str,
        user_id: &str,
        hash: &str,
    ) -> Result<bool, String> {
        let answer: CreatePasswordResp = self
            .call(
                "CreatePassword",
                &CreatePasswordReq {
                    password: Some(Password {
                        email: email.to_owned(),
                        hash: hash.as_bytes().to_vec(),
                        username: username.to_owned(),
                        user_id: user_id.to_owned(),
                    }),
                },
            )
            .await?;
        Ok(!answer.already_exists)
    }

    /// Deletes the person with `email` from Dex's passwords, so that they cannot sign in again;
    /// `Ok(false)` when there was none. Revoke their refresh token too (see the module's notes).
    pub async fn delete_password(&self, email: &str) -> Result<bool, String> {
        let answer: DeletePasswordResp = self
            .call(
                "DeletePassword",
                &DeletePasswordReq {
                    email: email.to_owned(),
                },
            )
            .await?;
        Ok(!answer.not_found)
    }

    /// Revokes the refresh token Dex holds for the person whose ID tokens carry `subject` and the
    /// client `client_id` (Dex keeps one per person and client); `Ok(false)` when there was none.
    pub async fn revoke_refresh(&self, subject: &str, client_id: &str) -> Result<bool, String> {
        let answer: RevokeRefreshResp = self
            .call(
                "RevokeRefresh",
                &RevokeRefreshReq {
                    user_id: subject.to_owned(),
                    client_id: client_id.to_owned(),
                },
            )
            .await?;
        Ok(!answer.not_found)
    }

    /// One unary call of `api.Dex/<method>`.
    async fn call<Resp: Message + Default>(
        &self,
        method: &str,
        request: &impl Message,
    ) -> Result<Resp, String> {
        let message = request.encode_to_vec();
        let mut body = Vec::with_capacity(5 + message.len());
        body.push(0);
        body.extend_from_slice(
            &u32::try_from(message.len())
                .map_err(|_| "message too large".to_owned())?
                .to_be_bytes(),
        );
        body.extend_from_slice(&message);
        let response = self
            .client
            .post(format!("{}/api.Dex/{method}", self.base))
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .body(body)
            .send()
            .await
            .map_err(|e| format!("{method}: no answer from Dex's gRPC API: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("{method}: HTTP {}", response.status()));
        }
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        if let Some(status) = header("grpc-status").filter(|s| s != "0") {
            let message = header("grpc-message").unwrap_or_default();
            return Err(format!("{method}: gRPC status {status}: {message}"));
        }
        let bytes = response
            .bytes()
            .await
            .map_err(|e| format!("{method}: reading the answer: {e}"))?;
        if bytes.len() < 5 {
            return Err(format!(
                "{method}: no message in the answer (the status, if any, was in its trailers)"
            ));
        }
        if bytes[0] != 0 {
            return Err(format!(
                "{method}: a compressed answer, which was not asked for"
            ));
        }
        let length = u32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]) as usize;
        let message = bytes
            .get(5..5 + length)
            .ok_or_else(|| format!("{method}: the answer is shorter than its length prefix"))?;
        Resp::decode(message).map_err(|e| format!("{method}: not its answer message: {e}"))
    }
}
