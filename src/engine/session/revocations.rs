//! Server tokens that could not be revoked yet (the server was unreachable at sign-out, a sign-in failed and its
//! token could not be deleted, the session had expired). Each is recorded — with the JWT to revoke it with, in
//! the secret store — before the path that needed it goes on, and the record is dropped only when the server
//! confirms the revocation. Later commands retry within a short time budget; a record whose session the server
//! no longer accepts waits for the next sign-in to the same server, whose fresh session finishes it.

use serde::{Deserialize, Serialize};

use crate::engine::error::{Error, Result};
use crate::engine::files;
use crate::engine::secrets::SessionSecrets;

use super::Engine;

/// A server token still to revoke. Its JWT waits in the secret store under [`PendingRevocation::account`].
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
    /// Unix seconds of the last attempt.
    pub last_attempt: i64,
    /// The server no longer accepts the recorded session: the next sign-in to `domain` finishes it.
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
}

enum Attempt {
    Revoked,
    NeedsSignIn,
    Failed,
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

    /// Record a revocation to finish later, with the JWT to do it with (an empty JWT: only a new sign-in can).
    pub(crate) fn defer_revocation(
        &self,
        domain: &str,
        token_name: &str,
        token_id: Option<&str>,
        user_id: Option<&str>,
        jwt: &str,
    ) -> Result<()> {
        let pending = PendingRevocation {
            domain: domain.to_string(),
            token_id: token_id.map(str::to_string),
            token_name: if token_id.is_some() {
                String::new()
            } else {
                token_name.to_string()
            },
            user_id: user_id.map(str::to_string),
            last_attempt: chrono::Utc::now().timestamp(),
            needs_sign_in: jwt.is_empty(),
        };
        if !jwt.is_empty() {
            let keep = SessionSecrets {
                jwt: jwt.to_string(),
                ..Default::default()
            };
            self.secrets.set(&pending.account(), &keep)?;
        }
        let mut list = self.pending_revocations()?;
        list.retain(|p| !p.same_token(&pending));
        list.push(pending);
        self.save_pending(&list)
    }

    async fn attempt(&self, pending: &PendingRevocation, jwt: &str) -> Attempt {
        let client = match self.client(&pending.domain) {
            Ok(client) => client,
            Err(_) => return Attempt::Failed,
        };
        match self
            .revoke_now(
                &client,
                jwt,
                &pending.token_name,
                pending.token_id.as_deref(),
            )
            .await
        {
            Ok(()) => Attempt::Revoked,
            // a 401/403 is not a revocation: the session expired (or belongs to someone else)
            Err(Error::Unauthorized { .. } | Error::NotLoggedIn) => Attempt::NeedsSignIn,
            Err(error) => {
                tracing::info!(error = %error, "token revocation still pending");
                Attempt::Failed
            }
        }
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
        let attempts = list.iter().map(|p| async move {
            if !due(p) {
                return None;
            }
            let jwt = self.secrets.get(&p.account()).ok().flatten().map(|s| s.jwt);
            Some(match jwt {
                Some(jwt) => self.attempt(p, &jwt).await,
                None => Attempt::NeedsSignIn,
            })
        });
        let outcomes =
            tokio::time::timeout(self.revoke_budget, futures_util::future::join_all(attempts))
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
                    expired.push(p.domain.clone());
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
        if !expired.is_empty() {
            expired.dedup();
            sentences.push(format!(
                "A token left on {} could not be revoked because its session has expired; signing in to that server \
                 again will finish the cleanup.",
                expired.join(", ")
            ));
        }
        (!sentences.is_empty()).then(|| sentences.join(" "))
    }

    /// After a sign-in to `domain` as `user_id`: revoke that account's pending tokens on the same server with the
    /// fresh session. Returns sentences for the user.
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
        let attempts = list.iter().map(|p| async move {
            if mine(p) {
                Some(self.attempt(p, jwt).await)
            } else {
                None
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
        let mut done = 0;
        for (p, outcome) in list.into_iter().zip(outcomes) {
            match outcome {
                Some(Attempt::Revoked) => {
                    let _ = self.secrets.delete(&p.account());
                    done += 1;
                }
                _ => keep.push(p),
            }
        }
        if let Err(error) = self.save_pending(&keep) {
            tracing::error!(error = %error, "could not update the pending revocations");
        }
        if done == 0 {
            Vec::new()
        } else {
            vec![format!(
                "{done} token(s) left on {domain} by an earlier session were revoked."
            )]
        }
    }
}
