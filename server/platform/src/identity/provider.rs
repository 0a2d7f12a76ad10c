//! A person's standing with the identity provider after they signed in through it: the rule that
//! decides when the provider no longer admits them, and what follows.
//!
//! The rule, in full:
//!
//! - Every OpenID Connect sign-in records the person (`oidc_accounts`, one row per person) with
//!   the provider's refresh token, and clears any earlier disablement: the provider has just
//!   admitted them.
//! - While rechecks are on (`oidc_recheck_secs` > 0), the host asks the provider again — the
//!   refresh_token grant — once the last answer is older than the interval: in a background pass,
//!   and when one of the person's sessions or API tokens is used.
//! - The person is disabled when the provider refuses the refresh token with an OAuth error about
//!   the grant: a 4xx answer with `error` (`invalid_grant`, or `invalid_request` as Dex says it),
//!   except the errors that describe Causeway's client or a passing condition (`invalid_client`,
//!   `unauthorized_client`, `unsupported_grant_type`, `invalid_scope`, `temporarily_unavailable`,
//!   `server_error`, and the statuses 408 and 429), which would otherwise disable everybody at
//!   once for a configuration mistake.
//! - Some providers answer a refusal with a server error: Dex answers 500 `invalid_request` when
//!   the person is gone from its connector (its local passwords, LDAP, an upstream provider). Such
//!   an answer counts only when the provider proves it is otherwise well: asked at once with a
//!   refresh token that cannot exist, it must answer with a refusal (its token endpoint and its
//!   storage work), and the person's token, asked once more, must be refused again.
//! - Anything else — no answer, a timeout, a TLS failure, a 5xx without that proof, an answer
//!   that is not OAuth's — is not a disablement: the last state is kept and a warning logged, so
//!   that a provider that is down does not lock everybody out.
//! - A disabled person's sessions end, their API tokens are refused (401, [`DISABLED_MESSAGE`]),
//!   and `identity.disabled` is audited. Signing in through the provider again clears the mark.
//! - An admitted refresh stores the rotated refresh token, and the groups of the refreshed ID
//!   token replace the teams the person's sessions were given at sign-in (the catalog's mapping
//!   by annotation, as at sign-in).
//!
//! The HTTP call to the provider is the host's ([`RefreshGrant`]); what its answer means is
//! decided here.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use sqlx::Row;

use super::Directory;
use super::cache::TtlCache;
use super::oidc_store::OidcSessions;
use super::sessions::Sessions;
use super::tokens::{Tokens, random_secret};
use crate::audit::{AuditLog, Entry, Outcome};
use crate::catalog::Catalog;
use crate::time::now_millis;
use crate::{Platform, Result, Store};

/// What a disabled person's API tokens and sessions are told.
pub const DISABLED_MESSAGE: &str =
    "the identity provider no longer admits this person; sign in again";

/// The actor of the audit records rechecks write.
pub const RECHECK_ACTOR: &str = "system:oidc-recheck";

/// After a recheck was claimed (and perhaps found the provider unreachable), the least time
/// before the next try; shorter when the interval itself is.
const RETRY_MILLIS: i64 = 60_000;

/// How many people one background pass rechecks at most; the next pass takes the rest.
const PASS_LIMIT: i64 = 500;

/// A pass stops after this many answers in a row that were no answer: the provider is down, and
/// asking about everybody else would only wait for its timeouts. The next pass tries again.
const PASS_GIVE_UP_AFTER: usize = 3;

/// A refresh token: kept out of `Debug` output and logs, since it is a credential.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshSecret(String);

impl RefreshSecret {
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    /// The token itself, to send to the provider or store.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for RefreshSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RefreshSecret(…)")
    }
}

/// What the provider answered a refresh_token grant, as the host read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshAnswer {
    /// New tokens. `refresh_token` is the rotated one, if the provider rotates; `subject` and
    /// `groups` come from the refreshed ID token (verified by the host), if it sent one.
    Admitted {
        refresh_token: Option<RefreshSecret>,
        subject: Option<String>,
        groups: Option<Vec<String>>,
    },
    /// An OAuth error answer (RFC 6749, section 5.2): its HTTP status, `error` and
    /// `error_description`.
    Refused {
        status: u16,
        error: String,
        description: Option<String>,
    },
    /// No OAuth answer: the provider could not be reached, timed out, or answered something else.
    Unavailable(String),
}

/// The provider's token endpoint, as the host calls it.
pub trait RefreshGrant: Send + Sync {
    /// The refresh_token grant with `refresh_token`.
    fn refresh(&self, refresh_token: &str) -> impl Future<Output = RefreshAnswer> + Send;
}

/// A person's standing, as far as Causeway knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// Never signed in through the provider (tokens the operator made, the development sign-in).
    Untracked,
    /// Admitted at the last sign-in or recheck, or not rechecked (no refresh token, rechecks off,
    /// another issuer).
    Admitted,
    /// The provider refused them at this time, for this reason.
    Disabled { at_millis: i64, reason: String },
}

impl Standing {
    pub fn is_disabled(&self) -> bool {
        matches!(self, Standing::Disabled { .. })
    }
}

/// What made a recheck happen, for the audit record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    Background,
    Token,
    Session,
}

impl Trigger {
    fn as_str(self) -> &'static str {
        match self {
            Trigger::Background => "background",
            Trigger::Token => "token",
            Trigger::Session => "session",
        }
    }
}

/// What a background pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PassReport {
    /// People the provider was asked about.
    pub checked: usize,
    pub admitted: usize,
    pub disabled: usize,
    /// Answers that were no answer; those people keep their last standing.
    pub unavailable: usize,
}

/// Whether an OAuth error answer refuses the person's grant (see the module's rule), rather than
/// Causeway's client or the moment.
pub fn is_refusal(status: u16, error: &str) -> bool {
    (400..500).contains(&status)
        && !matches!(status, 408 | 429)
        && !matches!(
            error,
            "invalid_client"
                | "unauthorized_client"
                | "unsupported_grant_type"
                | "invalid_scope"
                | "temporarily_unavailable"
                | "server_error"
        )
}

/// The provider's answer, judged.
#[derive(Debug)]
enum Verdict {
    Admitted {
        refresh_token: Option<RefreshSecret>,
        subject: Option<String>,
        groups: Option<Vec<String>>,
    },
    Refused(String),
    Unavailable(String),
}

fn describe(status: u16, error: &str, description: Option<&str>) -> String {
    match description.filter(|d| !d.is_empty()) {
        Some(d) => format!("{error}: {d} (HTTP {status})"),
        None => format!("{error} (HTTP {status})"),
    }
}

/// Asks the provider about `token` and judges the answer by the module's rule, with the proof a
/// server error needs before it counts as a refusal.
async fn judge(provider: &impl RefreshGrant, token: &str) -> Verdict {
    let (status, error, description) = match provider.refresh(token).await {
        RefreshAnswer::Admitted {
            refresh_token,
            subject,
            groups,
        } => {
            return Verdict::Admitted {
                refresh_token,
                subject,
                groups,
            };
        }
        RefreshAnswer::Unavailable(why) => return Verdict::Unavailable(why),
        RefreshAnswer::Refused {
            status,
            error,
            description,
        } => (status, error, description),
    };
    let reason = describe(status, &error, description.as_deref());
    if is_refusal(status, &error) {
        return Verdict::Refused(reason);
    }
    if status < 500 {
        return Verdict::Unavailable(format!(
            "the provider answered {reason}, which is about Causeway's client or the moment, not this person"
        ));
    }
    // A server error with an OAuth error: a refusal only if the provider is otherwise well.
    let probe = format!("causeway-recheck-probe-{}", random_secret());
    match provider.refresh(&probe).await {
        RefreshAnswer::Refused { status, error, .. } if is_refusal(status, &error) => {}
        _ => {
            return Verdict::Unavailable(format!(
                "the provider answered {reason}, and did not refuse a refresh token that cannot exist either, so it is not well"
            ));
        }
    }
    match provider.refresh(token).await {
        RefreshAnswer::Refused { status, error, .. }
            if status >= 500 || is_refusal(status, &error) =>
        {
            Verdict::Refused(reason)
        }
        RefreshAnswer::Refused {
            status,
            error,
            description,
        } => Verdict::Unavailable(format!(
            "the provider answered {reason}, then {}",
            describe(status, &error, description.as_deref())
        )),
        RefreshAnswer::Admitted {
            refresh_token,
            subject,
            groups,
        } => Verdict::Admitted {
            refresh_token,
            subject,
            groups,
        },
        RefreshAnswer::Unavailable(why) => Verdict::Unavailable(why),
    }
}

/// How a recheck went.
#[derive(Debug)]
enum Rechecked {
    /// Another request or replica claimed it first.
    Claimed,
    /// The provider gave no answer that counts; the last standing holds.
    Unanswered,
    /// The provider answered, and this is the standing that follows.
    Answered(Standing),
}

/// A row of `oidc_accounts`.
#[derive(Debug, Clone)]
struct Account {
    issuer: String,
    subject: String,
    refresh_token: Option<RefreshSecret>,
    checked_at: i64,
    attempt_at: i64,
    disabled: Option<(i64, String)>,
}

/// People who signed in through the provider, and their rechecks.
#[derive(Debug, Clone)]
pub struct ProviderAccounts {
    store: Store,
    audit: AuditLog,
    sessions: Sessions,
    oidc_sessions: OidcSessions,
    tokens: Tokens,
    directory: Directory,
    catalog: Catalog,
    /// The configured issuer: rows of another (an earlier configuration) are not rechecked,
    /// since its refresh tokens mean nothing to this provider and would disable everybody.
    issuer: String,
    /// `oidc_recheck_secs`; zero turns rechecks off.
    interval: Duration,
    /// User reference → row (or none), for a few seconds, so that a request whose person is not
    /// due costs no query; see [`super::cache`].
    cache: Arc<TtlCache<Option<Account>>>,
}

impl ProviderAccounts {
    /// The accounts of `issuer`'s people, rechecked every `interval` (zero: never). The sessions
    /// OpenID Connect sign-ins made are in `oidc_sessions`, which the host builds.
    pub fn new(
        platform: &Platform,
        oidc_sessions: OidcSessions,
        issuer: impl Into<String>,
        interval: Duration,
    ) -> Self {
        Self {
            store: platform.store.clone(),
            audit: platform.audit.clone(),
            sessions: platform.sessions.clone(),
            oidc_sessions,
            tokens: platform.tokens.clone(),
            directory: platform.directory.clone(),
            catalog: platform.catalog.clone(),
            issuer: issuer.into(),
            interval,
            cache: Arc::default(),
        }
    }

    /// How often a person is rechecked; zero when rechecks are off.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    fn interval_millis(&self) -> i64 {
        i64::try_from(self.interval.as_millis()).unwrap_or(i64::MAX)
    }

    /// Records a sign-in of `user_ref` (the ID token's `subject`) through the provider, with its
    /// refresh token when it sent one, and clears any disablement: the provider just admitted
    /// them. Returns the reason of the disablement it cleared, if there was one.
    pub async fn remember(
        &self,
        user_ref: &str,
        subject: &str,
        refresh_token: Option<&RefreshSecret>,
    ) -> Result<Option<String>> {
        let previous = self.read(user_ref).await?;
        let now = now_millis();
        sqlx::query(
            "INSERT INTO oidc_accounts (user_ref, issuer, subject, refresh_token, signed_in_at, \
             checked_at, attempt_at, disabled_at, reason) VALUES ($1, $2, $3, $4, $5, $5, $5, NULL, NULL) \
             ON CONFLICT (user_ref) DO UPDATE SET issuer = excluded.issuer, subject = excluded.subject, \
             refresh_token = excluded.refresh_token, signed_in_at = excluded.signed_in_at, \
             checked_at = excluded.checked_at, attempt_at = excluded.attempt_at, disabled_at = NULL, \
             reason = NULL",
        )
        .bind(user_ref)
        .bind(&self.issuer)
        .bind(subject)
        .bind(refresh_token.map(RefreshSecret::expose))
        .bind(now)
        .execute(self.store.pool())
        .await?;
        self.cache.remove(user_ref);
        // Tokens remember whether their person is disabled for a few seconds; this one no longer is.
        self.tokens.forget_cached();
        Ok(previous.and_then(|a| a.disabled).map(|(_, reason)| reason))
    }

    /// `user_ref`'s standing as last recorded, without asking the provider.
    pub async fn standing(&self, user_ref: &str) -> Result<Standing> {
        Ok(standing_of(self.read(user_ref).await?.as_ref()))
    }

    /// Whether `user_ref` is due for a recheck now; read from a short-lived cache, so that asking
    /// on every request costs no query.
    pub async fn is_due(&self, user_ref: &str) -> Result<bool> {
        Ok(self
            .read(user_ref)
            .await?
            .is_some_and(|account| self.due(&account, now_millis())))
    }

    async fn read(&self, user_ref: &str) -> Result<Option<Account>> {
        if let Some(account) = self.cache.get(user_ref) {
            return Ok(account);
        }
        let row = sqlx::query(
            "SELECT issuer, subject, refresh_token, checked_at, attempt_at, disabled_at, reason \
             FROM oidc_accounts WHERE user_ref = $1",
        )
        .bind(user_ref)
        .fetch_optional(self.store.pool())
        .await?;
        let account = match row {
            Some(row) => {
                let disabled_at: Option<i64> = row.try_get("disabled_at")?;
                let reason: Option<String> = row.try_get("reason")?;
                Some(Account {
                    issuer: row.try_get("issuer")?,
                    subject: row.try_get("subject")?,
                    refresh_token: row
                        .try_get::<Option<String>, _>("refresh_token")?
                        .map(RefreshSecret),
                    checked_at: row.try_get("checked_at")?,
                    attempt_at: row.try_get("attempt_at")?,
                    disabled: disabled_at.map(|at| (at, reason.unwrap_or_default())),
                })
            }
            None => None,
        };
        self.cache.put(user_ref.to_owned(), account.clone());
        Ok(account)
    }

    /// Whether `account` should be asked about now: rechecks are on, it has a refresh token of
    /// this issuer, the last answer is older than the interval and nobody claimed a recheck
    /// within the retry time.
    fn due(&self, account: &Account, now: i64) -> bool {
        let interval = self.interval_millis();
        !self.interval.is_zero()
            && account.disabled.is_none()
            && account.refresh_token.is_some()
            && account.issuer == self.issuer
            && account.checked_at <= now.saturating_sub(interval)
            && account.attempt_at <= now.saturating_sub(RETRY_MILLIS.min(interval))
    }

    /// Rechecks `user_ref` with `provider` if it is due (see the module's rule) and returns the
    /// standing that follows; a person who is not due, or whose recheck another request or
    /// replica has claimed, keeps the last standing. `request_id` goes into the audit record.
    pub async fn check_if_due(
        &self,
        user_ref: &str,
        provider: &impl RefreshGrant,
        trigger: Trigger,
        request_id: Option<&str>,
    ) -> Result<Standing> {
        let account = self.read(user_ref).await?;
        match account {
            Some(account) if self.due(&account, now_millis()) => {
                match self
                    .recheck(user_ref, &account, provider, trigger, request_id)
                    .await?
                {
                    Rechecked::Answered(standing) => Ok(standing),
                    Rechecked::Claimed | Rechecked::Unanswered => self.standing(user_ref).await,
                }
            }
            other => Ok(standing_of(other.as_ref())),
        }
    }

    /// One background pass: everybody due, oldest answer first, at most a few hundred.
    pub async fn check_due(&self, provider: &impl RefreshGrant) -> Result<PassReport> {
        let mut report = PassReport::default();
        if self.interval.is_zero() {
            return Ok(report);
        }
        let now = now_millis();
        let interval = self.interval_millis();
        let rows = sqlx::query(
            "SELECT user_ref FROM oidc_accounts WHERE issuer = $1 AND refresh_token IS NOT NULL \
             AND disabled_at IS NULL AND checked_at <= $2 AND attempt_at <= $3 \
             ORDER BY checked_at, user_ref LIMIT $4",
        )
        .bind(&self.issuer)
        .bind(now.saturating_sub(interval))
        .bind(now.saturating_sub(RETRY_MILLIS.min(interval)))
        .bind(PASS_LIMIT)
        .fetch_all(self.store.pool())
        .await?;
        let mut unanswered_in_a_row = 0;
        for row in rows {
            if unanswered_in_a_row >= PASS_GIVE_UP_AFTER {
                tracing::warn!(
                    "the identity provider gave no answer to {PASS_GIVE_UP_AFTER} rechecks in a row; the others wait for the next pass"
                );
                break;
            }
            let user_ref: String = row.try_get("user_ref")?;
            // Read afresh: the cached row may be older than another replica's claim.
            self.cache.remove(&user_ref);
            let Some(account) = self.read(&user_ref).await? else {
                continue;
            };
            if !self.due(&account, now_millis()) {
                continue;
            }
            match self
                .recheck(&user_ref, &account, provider, Trigger::Background, None)
                .await?
            {
                Rechecked::Claimed => continue,
                Rechecked::Unanswered => {
                    report.unavailable += 1;
                    unanswered_in_a_row += 1;
                }
                Rechecked::Answered(standing) => {
                    unanswered_in_a_row = 0;
                    if standing.is_disabled() {
                        report.disabled += 1;
                    } else {
                        report.admitted += 1;
                    }
                }
            }
            report.checked += 1;
        }
        Ok(report)
    }

    /// Claims `account`'s recheck, asks the provider and records the verdict.
    async fn recheck(
        &self,
        user_ref: &str,
        account: &Account,
        provider: &impl RefreshGrant,
        trigger: Trigger,
        request_id: Option<&str>,
    ) -> Result<Rechecked> {
        let Some(token) = &account.refresh_token else {
            return Ok(Rechecked::Unanswered);
        };
        let claimed = sqlx::query(
            "UPDATE oidc_accounts SET attempt_at = $1 \
             WHERE user_ref = $2 AND attempt_at = $3 AND disabled_at IS NULL",
        )
        .bind(now_millis())
        .bind(user_ref)
        .bind(account.attempt_at)
        .execute(self.store.pool())
        .await?
        .rows_affected();
        self.cache.remove(user_ref);
        if claimed != 1 {
            return Ok(Rechecked::Claimed);
        }
        match judge(provider, token.expose()).await {
            Verdict::Admitted {
                refresh_token,
                subject,
                groups,
            } => {
                if subject.as_deref().is_some_and(|s| s != account.subject) {
                    tracing::warn!(
                        user = user_ref,
                        "the identity provider's refreshed ID token names another subject; keeping the last standing"
                    );
                    return Ok(Rechecked::Unanswered);
                }
                self.admitted(user_ref, token, refresh_token.as_ref(), groups.as_deref())
                    .await?;
                Ok(Rechecked::Answered(Standing::Admitted))
            }
            Verdict::Refused(reason) => self
                .disable(user_ref, account, token, &reason, trigger, request_id)
                .await
                .map(Rechecked::Answered),
            Verdict::Unavailable(why) => {
                tracing::warn!(
                    user = user_ref,
                    reason = %why,
                    "could not recheck a person with the identity provider; keeping their last standing"
                );
                Ok(Rechecked::Unanswered)
            }
        }
    }

    /// Records an admitted recheck: the rotated refresh token (only over the token that was
    /// used, so a sign-in in the meantime wins), and the teams the refreshed groups map to.
    async fn admitted(
        &self,
        user_ref: &str,
        used: &RefreshSecret,
        rotated: Option<&RefreshSecret>,
        groups: Option<&[String]>,
    ) -> Result<()> {
        let now = now_millis();
        let query = match rotated {
            Some(new) => sqlx::query(
                "UPDATE oidc_accounts SET refresh_token = $1, checked_at = $2 \
                 WHERE user_ref = $3 AND refresh_token = $4",
            )
            .bind(new.expose()),
            None => sqlx::query(
                "UPDATE oidc_accounts SET checked_at = $1 WHERE user_ref = $2 AND refresh_token = $3",
            ),
        };
        query
            .bind(now)
            .bind(user_ref)
            .bind(used.expose())
            .execute(self.store.pool())
            .await?;
        self.cache.remove(user_ref);
        if let Some(groups) = groups {
            let teams = self.directory.teams_for_groups(&self.catalog, groups);
            self.oidc_sessions.set_teams_of(user_ref, &teams).await?;
        }
        Ok(())
    }

    /// Disables `user_ref` (only over the token that was refused: a person who signed in again
    /// in the meantime stays admitted), ends their sessions and audits `identity.disabled`.
    async fn disable(
        &self,
        user_ref: &str,
        account: &Account,
        refused: &RefreshSecret,
        reason: &str,
        trigger: Trigger,
        request_id: Option<&str>,
    ) -> Result<Standing> {
        let now = now_millis();
        let marked = sqlx::query(
            "UPDATE oidc_accounts SET disabled_at = $1, reason = $2, checked_at = $1 \
             WHERE user_ref = $3 AND refresh_token = $4 AND disabled_at IS NULL",
        )
        .bind(now)
        .bind(reason)
        .bind(user_ref)
        .bind(refused.expose())
        .execute(self.store.pool())
        .await?
        .rows_affected();
        self.cache.remove(user_ref);
        if marked != 1 {
            return self.standing(user_ref).await;
        }
        self.tokens.forget_cached();
        let sessions = self.sessions.end_all_of(user_ref).await?;
        let provider_sessions = self.oidc_sessions.end_all_of(user_ref).await?;
        tracing::warn!(
            user = user_ref,
            %reason,
            sessions_ended = sessions.max(provider_sessions),
            "the identity provider no longer admits this person: their sessions ended and their API tokens are refused until they sign in again"
        );
        self.audit
            .record(Entry {
                actor: RECHECK_ACTOR,
                action: "identity.disabled",
                target: user_ref,
                outcome: Outcome::Success,
                detail: json!({
                    "issuer": account.issuer,
                    "subject": account.subject,
                    "reason": reason,
                    "trigger": trigger.as_str(),
                    "sessions_ended": sessions.max(provider_sessions),
                }),
                request_id,
            })
            .await?;
        Ok(Standing::Disabled {
            at_millis: now,
            reason: reason.to_owned(),
        })
    }
}

fn standing_of(account: Option<&Account>) -> Standing {
    match account {
        None => Standing::Untracked,
        Some(Account {
            disabled: Some((at, reason)),
            ..
        }) => Standing::Disabled {
            at_millis: *at,
            reason: reason.clone(),
        },
        Some(_) => Standing::Admitted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Answers in order, and records what it was asked.
    struct Scripted {
        answers: Mutex<Vec<RefreshAnswer>>,
        asked: Mutex<Vec<String>>,
    }

    impl Scripted {
        fn new(answers: Vec<RefreshAnswer>) -> Self {
            Self {
                answers: Mutex::new(answers),
                asked: Mutex::new(Vec::new()),
            }
        }
    }

    impl RefreshGrant for Scripted {
        fn refresh(&self, refresh_token: &str) -> impl Future<Output = RefreshAnswer> + Send {
            self.asked.lock().unwrap().push(refresh_token.to_owned());
            let answer = self.answers.lock().unwrap().remove(0);
            async move { answer }
        }
    }

    fn refused(status: u16, error: &str) -> RefreshAnswer {
        RefreshAnswer::Refused {
            status,
            error: error.to_owned(),
            description: None,
        }
    }

    fn admitted() -> RefreshAnswer {
        RefreshAnswer::Admitted {
            refresh_token: None,
            subject: None,
            groups: None,
        }
    }

    #[test]
    fn only_errors_about_the_grant_refuse_the_person() {
        assert!(is_refusal(400, "invalid_grant"));
        assert!(is_refusal(400, "invalid_request"));
        assert!(is_refusal(403, "access_denied"));
        for (status, error) in [
            (401, "invalid_client"),
            (400, "unauthorized_client"),
            (400, "unsupported_grant_type"),
            (400, "invalid_scope"),
            (429, "invalid_grant"),
            (408, "invalid_grant"),
            (503, "temporarily_unavailable"),
            (500, "invalid_grant"),
        ] {
            assert!(!is_refusal(status, error), "{status} {error}");
        }
    }

    #[tokio::test]
    async fn a_server_error_counts_only_when_the_provider_proves_it_is_well() {
        // Dex's answer for a person gone from its connector, with the proof: refused.
        let dex = Scripted::new(vec![
            refused(500, "invalid_request"),
            refused(400, "invalid_request"),
            refused(500, "invalid_request"),
        ]);
        assert!(matches!(judge(&dex, "t").await, Verdict::Refused(_)));
        let asked = dex.asked.lock().unwrap().clone();
        assert_eq!(asked.len(), 3);
        assert_eq!((asked[0].as_str(), asked[2].as_str()), ("t", "t"));
        assert!(asked[1].starts_with("causeway-recheck-probe-"), "{asked:?}");

        // A provider whose storage is down fails the probe too: nobody is disabled.
        let down = Scripted::new(vec![
            refused(500, "invalid_request"),
            refused(500, "invalid_request"),
        ]);
        assert!(matches!(judge(&down, "t").await, Verdict::Unavailable(_)));

        // A passing failure: the second ask admits.
        let blip = Scripted::new(vec![
            refused(500, "server_error"),
            refused(400, "invalid_grant"),
            admitted(),
        ]);
        assert!(matches!(judge(&blip, "t").await, Verdict::Admitted { .. }));

        // Plain answers need no proof.
        for (answer, refused_person) in [
            (refused(400, "invalid_grant"), true),
            (refused(401, "invalid_client"), false),
            (
                RefreshAnswer::Unavailable("connection refused".into()),
                false,
            ),
            (refused(502, "bad gateway"), false),
        ] {
            let provider = Scripted::new(vec![answer, refused(503, "x")]);
            let verdict = judge(&provider, "t").await;
            assert_eq!(
                matches!(verdict, Verdict::Refused(_)),
                refused_person,
                "{verdict:?}"
            );
        }
    }

    #[test]
    fn refresh_tokens_are_not_printed() {
        let secret = RefreshSecret::new("Cg1zZWNyZXQ");
        assert!(!format!("{secret:?}").contains("Cg1zZWNyZXQ"));
    }
}
