//! Server tokens that could not be revoked yet (the server was unreachable at sign-out, a sign-in failed and its
//! token could not be deleted, the session had lapsed for good). Each is recorded — with the session to revoke it
//! with (JWT and refresh token, in the secret store) — before the path that needed it goes on, and the record is
//! dropped only when the server confirms the revocation. Later commands retry within a short time budget,
//! renewing the session first ([`super::renewal`]); a record whose session cannot be renewed any more waits for a
//! sign-in to the same server as the same account: the next `login`, or `logout --finish`, which signs in just
//! long enough to revoke (docs/design.md#17-the-session-lifecycle).

use serde::{Deserialize, Serialize};

use crate::engine::error::{Error, Result};
use crate::engine::files;
use crate::engine::secrets::SessionSecrets;

use super::Engine;
use super::renewal::{StoredSession, jwt_lapsed};

/// A server token still to revoke. Its session waits in the secret store under [`PendingRevocation::account`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingRevocation {
    pub domain: String,
    /// The token's id, when the server told it.
    #[serde(default)]
    pub token_id: Option<String>,
    /// The token's unique name (a sign-in interrupted before the server answered with the id).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub token_name: String,
    /// The account that owns the token (only its own sessions can revoke it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The single sign-on client the kept session was issued to (`None`: the server's own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sso_client_id: Option<String>,
    /// The token's expiry date, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// Unix seconds of the last attempt.
    pub last_attempt: i64,
    /// No kept session can revoke it any more: a sign-in to `domain` as its owner finishes it (`login`, or
    /// `logout --finish`).
    #[serde(default)]
    pub needs_sign_in: bool,
}

impl PendingRevocation {
    pub fn account(&self) -> String {
        let which = self.token_id.as_deref().unwrap_or(&self.token_name);
        format!("pending-revocation|{}|{which}", self.domain)
    }

    fn same_token(&self, other: &PendingRevocation) -> bool {
        self.domain == other.domain
            && self.token_id == other.token_id
            && self.token_name == other.token_name
    }

    fn session(&self) -> StoredSession {
        StoredSession {
            domain: self.domain.clone(),
            account: self.account(),
            sso_client_id: self.sso_client_id.clone(),
        }
    }
}

/// What became of one revocation attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Attempt {
    /// The server confirmed (or no longer knows the token).
    Revoked,
    /// The session cannot be renewed: only a new sign-in can revoke the token.
    NeedsSignIn,
    /// The server could not be asked now (unreachable, slow, an error); a later attempt may succeed.
    Failed,
}

/// A token that could not be revoked, as the user is told about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unrevoked {
    pub domain: String,
    pub token_id: Option<String>,
    pub expires: Option<String>,
    /// Only a sign-in can revoke it (`conda-connect logout --finish`).
    pub needs_sign_in: bool,
}

impl Unrevoked {
    /// The sentence that says what it means and what to do.
    pub fn sentence(&self) -> String {
        if self.needs_sign_in {
            let until = self
                .expires
                .as_deref()
                .map(|d| format!(" until {d}"))
                .unwrap_or_default();
            format!(
                "The server token could not be revoked: your session with {} has ended, and only a new sign-in can \
                 revoke it. Until then it stays valid{until}, and anyone who has a copy can download from your \
                 channels. Run `conda-connect logout --finish` to sign in just long enough to revoke it.",
                self.domain
            )
        } else {
            format!(
                "The server token could not be revoked now because {} did not answer; conda-connect will retry the \
                 next time it runs (`conda-connect status` shows it until then).",
                self.domain
            )
        }
    }
}

/// A token to record for a later revocation.
pub(crate) struct Deferred<'a> {
    pub domain: &'a str,
    pub token_name: &'a str,
    pub token_id: Option<&'a str>,
    pub user_id: Option<&'a str>,
    pub sso_client_id: Option<&'a str>,
    pub expires: Option<&'a str>,
}

impl Engine {
    fn pending_file(&self) -> std::path::PathBuf {
        self.paths.data_dir.join("pending_revocations.json")
    }

    /// Token revocations still to do. An unreadable record is an error, never an empty list: a later save must
    /// not drop what it holds.
    pub fn pending_revocations(&self) -> Result<Vec<PendingRevocation>> {
        match files::read_optional(&self.pending_file())? {
            None => Ok(Vec::new()),
            Some(bytes) => serde_json::from_slice(&bytes).map_err(|error| {
                tracing::error!(error = %error, "the pending revocations file is unreadable");
                Error::Refused {
                    reason: format!(
                        "{} is unreadable; move it away to continue.",
                        self.paths.display(&self.pending_file())
                    ),
                }
            }),
        }
    }

    fn save_pending(&self, list: &[PendingRevocation]) -> Result<()> {
        if list.is_empty() {
            files::remove_if_exists(&self.pending_file()).map(|_| ())
        } else {
            let json = serde_json::to_vec_pretty(list).expect("pending revocations serialise");
            files::write_atomic(&self.pending_file(), &json, Some(0o600))
        }
    }

    /// Record a revocation to finish later, with the session to do it with. Without a session that can still
    /// work (none, or a lapsed JWT without a refresh token) only a sign-in can finish it, and the record says so.
    /// Returns whether it needs a sign-in.
    pub(crate) fn defer_revocation(
        &self,
        token: Deferred<'_>,
        session: Option<&SessionSecrets>,
    ) -> Result<bool> {
        let usable = session
            .filter(|s| !s.jwt.is_empty() && (!jwt_lapsed(&s.jwt) || s.refresh_token.is_some()));
        let pending = PendingRevocation {
            domain: token.domain.to_string(),
            token_id: token.token_id.map(str::to_string),
            token_name: if token.token_id.is_some() {
                String::new()
            } else {
                token.token_name.to_string()
            },
            user_id: token.user_id.map(str::to_string),
            sso_client_id: token.sso_client_id.map(str::to_string),
            expires: token.expires.map(str::to_string),
            last_attempt: chrono::Utc::now().timestamp(),
            needs_sign_in: usable.is_none(),
        };
        match usable {
            Some(secrets) => {
                let keep = SessionSecrets {
                    jwt: secrets.jwt.clone(),
                    refresh_token: secrets.refresh_token.clone(),
                    ..Default::default()
                };
                self.secrets.set(&pending.account(), &keep)?;
            }
            None => {
                let _ = self.secrets.delete(&pending.account());
            }
        }
        let needs_sign_in = pending.needs_sign_in;
        let mut list = self.pending_revocations()?;
        list.retain(|p| !p.same_token(&pending));
        list.push(pending);
        self.save_pending(&list)?;
        Ok(needs_sign_in)
    }

    /// Revoke a token with a stored session (renewed when it has lapsed), within `limit`.
    pub(crate) async fn revoke_with_session(
        &self,
        session: &StoredSession,
        token_name: &str,
        token_id: Option<&str>,
        limit: std::time::Duration,
    ) -> Attempt {
        let attempt = async {
            let client = self.client(&session.domain)?;
            self.with_session(session, |jwt| {
                let client = client.clone();
                async move { self.revoke_now(&client, &jwt, token_name, token_id).await }
            })
            .await
        };
        match tokio::time::timeout(limit, attempt).await {
            Ok(Ok(())) => Attempt::Revoked,
            Ok(Err(Error::SessionEnded { .. } | Error::NotLoggedIn)) => Attempt::NeedsSignIn,
            // refused although the session had not lapsed: a later attempt may work while it lasts
            Ok(Err(Error::Unauthorized { .. })) => {
                let lapsed = self
                    .secrets
                    .get(&session.account)
                    .ok()
                    .flatten()
                    .is_none_or(|s| jwt_lapsed(&s.jwt) && s.refresh_token.is_none());
                if lapsed {
                    Attempt::NeedsSignIn
                } else {
                    Attempt::Failed
                }
            }
            Ok(Err(error)) => {
                tracing::info!(error = %error, "token revocation still pending");
                Attempt::Failed
            }
            Err(_) => {
                tracing::info!("the token revocation did not finish in time");
                Attempt::Failed
            }
        }
    }

    /// After a revocation: end the identity provider's session of the kept refresh token (best effort). A
    /// sentence when it could not be ended.
    pub(crate) async fn end_kept_session(
        &self,
        session: &StoredSession,
        refresh_token: Option<&str>,
    ) -> Option<String> {
        let refresh = self
            .secrets
            .get(&session.account)
            .ok()
            .flatten()
            .and_then(|s| s.refresh_token)
            .or(refresh_token.map(str::to_string))?;
        self.end_idp_session_or_say(
            &session.domain,
            session.sso_client_id.as_deref(),
            &refresh,
            "after a revocation",
        )
        .await
    }

    /// Retry the due pending revocations, all at once and within [`Engine::revoke_budget`], so that a server that
    /// never answers delays the user's command by about a second at most. Returns a sentence for the user.
    pub(crate) async fn retry_revocations(&self) -> Option<String> {
        let list = match self.pending_revocations() {
            Ok(list) if list.is_empty() => return None,
            Ok(list) => list,
            Err(error) => return Some(error.to_string()),
        };
        let now = chrono::Utc::now().timestamp();
        let retry_after = self.revoke_retry_after.as_secs() as i64;
        // a last attempt "in the future" (the clock was changed) counts as due
        let due = |p: &PendingRevocation| {
            !p.needs_sign_in && (now - p.last_attempt >= retry_after || p.last_attempt > now)
        };
        let budget = self.revoke_budget;
        let attempts = list.iter().map(|p| async move {
            if !due(p) {
                return None;
            }
            let attempt = self
                .revoke_with_session(&p.session(), &p.token_name, p.token_id.as_deref(), budget)
                .await;
            if attempt == Attempt::Revoked {
                let _ = self.end_kept_session(&p.session(), None).await;
            }
            Some(attempt)
        });
        let outcomes = tokio::time::timeout(budget, futures_util::future::join_all(attempts))
            .await
            .unwrap_or_else(|_| {
                tracing::info!("pending revocations did not finish within the budget");
                list.iter()
                    .map(|p| due(p).then_some(Attempt::Failed))
                    .collect()
            });
        let mut keep = Vec::new();
        let mut revoked = Vec::new();
        let mut expired = Vec::new();
        for (mut p, outcome) in list.into_iter().zip(outcomes) {
            match outcome {
                None => keep.push(p),
                Some(Attempt::Revoked) => {
                    let _ = self.secrets.delete(&p.account());
                    revoked.push(p.domain);
                }
                Some(Attempt::NeedsSignIn) => {
                    p.needs_sign_in = true;
                    p.last_attempt = now;
                    let _ = self.secrets.delete(&p.account());
                    expired.push(Unrevoked {
                        domain: p.domain.clone(),
                        token_id: p.token_id.clone(),
                        expires: p.expires.clone(),
                        needs_sign_in: true,
                    });
                    keep.push(p);
                }
                Some(Attempt::Failed) => {
                    p.last_attempt = now;
                    keep.push(p);
                }
            }
        }
        if let Err(error) = self.save_pending(&keep) {
            tracing::error!(error = %error, "could not update the pending revocations");
        }
        let mut sentences = Vec::new();
        if !revoked.is_empty() {
            revoked.dedup();
            sentences.push(format!(
                "The server token left by an earlier sign-out from {} was revoked.",
                revoked.join(", ")
            ));
        }
        if let Some(first) = expired.first() {
            sentences.push(first.sentence());
        }
        (!sentences.is_empty()).then(|| sentences.join(" "))
    }

    /// After a sign-in to `domain` as `user_id`: revoke that account's pending tokens on the same server with the
    /// fresh session. Returns sentences for the user, and how many remain for that account.
    pub(crate) async fn finish_revocations_with(
        &self,
        domain: &str,
        user_id: &str,
        jwt: &str,
    ) -> Vec<String> {
        let Ok(list) = self.pending_revocations() else {
            return Vec::new();
        };
        let mine =
            |p: &PendingRevocation| p.domain == domain && p.user_id.as_deref() == Some(user_id);
        if !list.iter().any(mine) {
            return Vec::new();
        }
        let client = match self.client(domain) {
            Ok(client) => client,
            Err(_) => return Vec::new(),
        };
        let attempts = list.iter().map(|p| {
            let client = client.clone();
            async move {
                if !mine(p) {
                    return None;
                }
                match self
                    .revoke_now(&client, jwt, &p.token_name, p.token_id.as_deref())
                    .await
                {
                    Ok(()) => Some(Attempt::Revoked),
                    Err(error) => {
                        tracing::info!(error = %error, "a pending token could not be revoked with the new session");
                        Some(Attempt::Failed)
                    }
                }
            }
        });
        let Ok(outcomes) = tokio::time::timeout(
            self.revoke_budget * 3,
            futures_util::future::join_all(attempts),
        )
        .await
        else {
            return Vec::new();
        };
        let mut keep = Vec::new();
        let mut done = Vec::new();
        for (p, outcome) in list.into_iter().zip(outcomes) {
            match outcome {
                Some(Attempt::Revoked) => done.push(p),
                _ => keep.push(p),
            }
        }
        if let Err(error) = self.save_pending(&keep) {
            tracing::error!(error = %error, "could not update the pending revocations");
            return Vec::new();
        }
        for p in &done {
            // a kept session of the revoked token ends with it
            let _ = self.end_kept_session(&p.session(), None).await;
            let _ = self.secrets.delete(&p.account());
        }
        if done.is_empty() {
            Vec::new()
        } else {
            vec![format!(
                "{} token(s) left on {domain} by an earlier session were revoked.",
                done.len()
            )]
        }
    }
}
