//! Pull requests on Gitea, through its API with the integration's token: the upgrade's branch
//! proposed to the default branch, found again when an upgrade runs a second time, and followed
//! until it is merged or closed.

use serde_json::{Value, json};

use super::super::actions::{http_client, http_error};
use super::ChangeState;
use super::repository::Repository;
use crate::{Error, Result};

/// A pull request.
#[derive(Debug, Clone)]
pub(super) struct Change {
    pub number: i64,
    pub url: String,
    /// Whether this call opened it.
    pub created: bool,
}

/// The most pages of pull requests read when looking for a branch's (50 each).
const MAX_PAGES: u32 = 20;

impl Repository {
    fn api(&self) -> Result<String> {
        let integration = self
            .integration
            .as_ref()
            .ok_or_else(|| Error::invalid("git_integrations", "the host has no API"))?;
        Ok(format!(
            "{}/repos/{}/{}",
            integration.api(),
            self.owner,
            self.repo
        ))
    }

    async fn send(&self, request: reqwest::RequestBuilder, what: &str) -> Result<(u16, Value)> {
        let token = self.token()?;
        let response = request
            .header("Authorization", format!("token {token}"))
            .send()
            .await
            .map_err(|e| self.error(http_error(what, None, e.to_string())))?;
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        if status.is_server_error() {
            return Err(self.error(http_error(what, Some(status), body)));
        }
        Ok((
            status.as_u16(),
            serde_json::from_str(&body).unwrap_or(Value::String(body)),
        ))
    }

    /// The newest pull request from `branch`, in `state` (`open` or `all`).
    async fn find_change(&self, branch: &str, state: &str) -> Result<Option<Value>> {
        let client = http_client().map_err(|e| self.error(e))?;
        let api = self.api()?;
        for page in 1..=MAX_PAGES {
            let url = format!("{api}/pulls?state={state}&sort=newest&limit=50&page={page}");
            let (status, body) = self.send(client.get(&url), &format!("GET {url}")).await?;
            if status != 200 {
                return Err(self.error(http_error(
                    &format!("GET {url}"),
                    reqwest::StatusCode::from_u16(status).ok(),
                    body.to_string(),
                )));
            }
            let Some(pulls) = body.as_array().filter(|p| !p.is_empty()) else {
                return Ok(None);
            };
            if let Some(found) = pulls
                .iter()
                .find(|p| p.pointer("/head/ref").and_then(Value::as_str) == Some(branch))
            {
                return Ok(Some(found.clone()));
            }
        }
        Ok(None)
    }

    /// Opens a pull request from `branch` to `base`, or finds the one open already (its
    /// description brought up to date when `refresh`: the branch was pushed again).
    pub async fn open_change(
        &self,
        branch: &str,
        base: &str,
        title: &str,
        body: &str,
        refresh: bool,
    ) -> Result<Change> {
        let client = http_client().map_err(|e| self.error(e))?;
        let api = self.api()?;
        if let Some(existing) = self.find_change(branch, "open").await? {
            let change = read_change(&existing, false)?;
            if !refresh {
                return Ok(change);
            }
            let url = format!("{api}/pulls/{}", change.number);
            let (status, answer) = self
                .send(
                    json_body(client.patch(&url), &json!({ "body": body })),
                    &format!("PATCH {url}"),
                )
                .await?;
            if status != 201 && status != 200 {
                return Err(self.error(http_error(
                    &format!("PATCH {url}"),
                    reqwest::StatusCode::from_u16(status).ok(),
                    answer.to_string(),
                )));
            }
            return Ok(change);
        }
        let url = format!("{api}/pulls");
        let (status, answer) = self
            .send(
                json_body(
                    client.post(&url),
                    &json!({ "head": branch, "base": base, "title": title, "body": body }),
                ),
                &format!("POST {url}"),
            )
            .await?;
        match status {
            201 => read_change(&answer, true),
            // Opened by a concurrent attempt between the look and the create.
            409 => match self.find_change(branch, "open").await? {
                Some(existing) => read_change(&existing, false),
                None => Err(self.error(http_error(
                    &format!("POST {url}"),
                    reqwest::StatusCode::from_u16(status).ok(),
                    answer.to_string(),
                ))),
            },
            _ => Err(self.error(http_error(
                &format!("POST {url}"),
                reqwest::StatusCode::from_u16(status).ok(),
                answer.to_string(),
            ))),
        }
    }

    /// Where pull request `number` (or the newest from `branch`) stands.
    pub async fn change_state(&self, branch: &str, number: Option<i64>) -> Result<ChangeState> {
        let pull = match number {
            Some(number) => {
                let client = http_client().map_err(|e| self.error(e))?;
                let url = format!("{}/pulls/{number}", self.api()?);
                let (status, body) = self.send(client.get(&url), &format!("GET {url}")).await?;
                match status {
                    200 => body,
                    404 => {
                        return Err(Error::NotFound(format!(
                            "pull request {number} of {}/{}",
                            self.owner, self.repo
                        )));
                    }
                    _ => {
                        return Err(self.error(http_error(
                            &format!("GET {url}"),
                            reqwest::StatusCode::from_u16(status).ok(),
                            body.to_string(),
                        )));
                    }
                }
            }
            None => self.find_change(branch, "all").await?.ok_or_else(|| {
                Error::NotFound(format!(
                    "a pull request from {branch} in {}/{}",
                    self.owner, self.repo
                ))
            })?,
        };
        Ok(
            if pull.get("merged").and_then(Value::as_bool) == Some(true) {
                ChangeState::Merged
            } else if pull.get("state").and_then(Value::as_str) == Some("closed") {
                ChangeState::Closed
            } else {
                ChangeState::Open
            },
        )
    }
}

/// `request` with `body` as JSON (the HTTP client is built without its JSON feature).
fn json_body(request: reqwest::RequestBuilder, body: &Value) -> reqwest::RequestBuilder {
    request
        .header("Content-Type", "application/json")
        .body(body.to_string())
}

/// A pull request's number and page from Gitea's answer.
fn read_change(pull: &Value, created: bool) -> Result<Change> {
    let number = pull.get("number").and_then(Value::as_i64);
    let url = pull.get("html_url").and_then(Value::as_str);
    match (number, url) {
        (Some(number), Some(url)) => Ok(Change {
            number,
            url: url.to_owned(),
            created,
        }),
        _ => Err(Error::invalid(
            "git_integrations",
            format!("Gitea answered a pull request without a number or html_url: {pull}"),
        )),
    }
}
