//! Recovery at the start of every command: finish or undo whatever a crashed process left in the journal, sweep
//! this HOME's temp files, and retry pending token revocations (within a short time budget). Replaying a journal
//! never overwrites an edit the user made since the crash: user files are compare-and-swap operations.

use crate::engine::client::ServerClient;
use crate::engine::error::{Error, Result};
use crate::engine::files;
use crate::engine::journal::{Journal, RevokeToken, Stage};

use super::Engine;
use super::renewal::StoredSession;
use super::revocations::{Attempt, Deferred, Unrevoked};

impl Engine {
    /// Finish or undo whatever a crashed process left in the journal. Call at the start of every command.
    /// Returns a sentence for the user when something was recovered.
    pub async fn recover(&self) -> Result<Option<String>> {
        let _lock = self.lock_async().await?;
        self.recover_locked().await
    }

    /// Whether recovery has anything to do: an interrupted change (a journal). Pending revocations are retried
    /// when they can be; they never block a command that only reads.
    pub fn recovery_due(&self) -> bool {
        self.paths.journal_file().exists()
    }

    pub(crate) async fn recover_locked(&self) -> Result<Option<String>> {
        let paths = &self.paths;
        let ini_dir = paths
            .navigator_ini
            .parent()
            .map(|d| d.to_path_buf())
            .unwrap_or_else(|| paths.home.clone());
        let condarc_dir = files::resolve_links(&paths.condarc)
            .ok()
            .and_then(|t| t.parent().map(|d| d.to_path_buf()))
            .unwrap_or_else(|| paths.home.clone());
        let dirs = [
            paths.home.clone(),
            condarc_dir,
            ini_dir,
            paths.condarc_storage.clone(),
            paths.data_dir.clone(),
        ];
        files::sweep_temp_files(
            dirs.iter()
                .chain(paths.token_dirs.iter())
                .map(|d| d.as_path()),
        );
        let mut messages: Vec<String> = self.retry_revocations().await.into_iter().collect();
        let path = self.paths.journal_file();
        if let Some(journal) = Journal::load(&path)? {
            tracing::warn!(operation = %journal.operation, "recovering an interrupted transaction");
            messages.push(self.replay(journal).await?);
        }
        Ok((!messages.is_empty()).then(|| messages.join(" ")))
    }

    async fn replay(&self, journal: Journal) -> Result<String> {
        let path = self.paths.journal_file();
        match &journal.stage {
            Stage::ServerPending {
                domain,
                token_name,
                token_id,
                user_id,
                sso_client_id,
            } => {
                let secrets = self.secrets.get(domain)?.filter(|s| !s.jwt.is_empty());
                let session = StoredSession {
                    domain: domain.clone(),
                    account: domain.clone(),
                    sso_client_id: sso_client_id.clone(),
                };
                let mut sentence = "An interrupted sign-in was rolled back.".to_string();
                if let Some(kept) = &secrets {
                    let attempt = self
                        .revoke_with_session(
                            &session,
                            token_name,
                            token_id.as_deref(),
                            std::time::Duration::from_secs(15),
                        )
                        .await;
                    if attempt == Attempt::Revoked {
                        if let Some(note) = self
                            .end_kept_session(&session, kept.refresh_token.as_deref())
                            .await
                        {
                            sentence.push(' ');
                            sentence.push_str(&note);
                        }
                    } else {
                        tracing::warn!("could not revoke the interrupted sign-in's token yet");
                        // never dropped: recorded with its session, retried by later commands
                        let renewed = self.secrets.get(domain)?;
                        let kept = match attempt {
                            Attempt::Failed => renewed.as_ref().or(Some(kept)),
                            _ => None,
                        };
                        let needs_sign_in = self.defer_revocation(
                            Deferred {
                                domain,
                                token_name,
                                token_id: token_id.as_deref(),
                                user_id: user_id.as_deref(),
                                sso_client_id: sso_client_id.as_deref(),
                                expires: None,
                            },
                            kept,
                        )?;
                        sentence = format!(
                            "An interrupted sign-in was rolled back. {}",
                            Unrevoked {
                                domain: domain.clone(),
                                token_id: token_id.clone(),
                                expires: None,
                                needs_sign_in,
                            }
                            .sentence()
                        );
                    }
                }
                self.secrets.delete(domain)?;
                Journal::clear(&path)?;
                Ok(sentence)
            }
            Stage::Apply => {
                for op in &journal.ops {
                    op.apply_with(&self.secrets)?;
                }
                let after = self.run_after(&journal).await;
                if !after.complete {
                    return Ok(format!(
                        "An interrupted {} was completed, except the server token's revocation, which will be retried.",
                        journal.operation
                    ));
                }
                if let Some(next) = &journal.after.then {
                    // an undone sign-in goes back to its server-side record: its token is revoked now
                    next.save(&path)?;
                    let done = format!("An interrupted {} was completed.", journal.operation);
                    let rest = Box::pin(self.replay((**next).clone())).await?;
                    return Ok(format!("{done} {rest}"));
                }
                Journal::clear(&path)?;
                let mut msg = format!("An interrupted {} was completed.", journal.operation);
                if journal.after.revoke.is_some() && !after.revoked {
                    // what was recorded says whether a retry can succeed, or only a new sign-in can revoke it
                    let unrevoked = after
                        .unrevoked
                        .as_ref()
                        .map(Unrevoked::sentence)
                        .unwrap_or_else(|| {
                            "The server token could not be revoked yet; it will be retried."
                                .to_string()
                        });
                    msg.push(' ');
                    msg.push_str(&unrevoked);
                } else if let Some(deferred) = &journal.after.deferred {
                    // the command had recorded its revocation before it stopped: say what it needs now, as the
                    // command itself would have
                    if let Some(sentence) = self.recorded_revocation(deferred) {
                        msg.push(' ');
                        msg.push_str(&sentence);
                    }
                }
                for note in &after.notes {
                    msg.push(' ');
                    msg.push_str(note);
                }
                Ok(msg)
            }
        }
    }

    /// The sentence for a revocation this journal recorded for later, while it is still pending (none once it was
    /// done, or when the record is unreadable: `status` says so).
    fn recorded_revocation(&self, deferred: &RevokeToken) -> Option<String> {
        self.pending_revocations()
            .unwrap_or_default()
            .into_iter()
            .find(|pending| {
                pending.domain == deferred.domain
                    && pending.token_id.as_deref() == Some(deferred.token_id.as_str())
            })
            .map(|pending| {
                Unrevoked {
                    domain: pending.domain,
                    token_id: pending.token_id,
                    expires: pending.expires,
                    needs_sign_in: pending.needs_sign_in,
                }
                .sentence()
            })
    }

    /// Revoke the token of a sign-in that did not complete: by id when the server told it, else every token of
    /// its unique name. `Ok` only when the server confirmed (or no longer knows the token).
    pub(crate) async fn revoke_now(
        &self,
        client: &ServerClient,
        jwt: &str,
        token_name: &str,
        token_id: Option<&str>,
    ) -> Result<()> {
        if jwt.is_empty() {
            return Err(Error::NotLoggedIn);
        }
        match token_id {
            Some(id) => client.delete_token(jwt, id).await.map(|_| ()),
            None => {
                for token in client
                    .list_tokens(jwt)
                    .await?
                    .iter()
                    .filter(|t| t.name == token_name)
                {
                    client.delete_token(jwt, &token.id).await?;
                }
                Ok(())
            }
        }
    }

    /// Post-file work of a journal. A revocation renews a lapsed session first; one that fails is recorded (with
    /// the session to retry with) before the session's secrets are deleted, and the identity provider's session
    /// ends only after the server token is revoked (it is what a retry renews the session with). Once the
    /// revocation is done or recorded, the journal says so (so a replay does not mistake secrets deleted
    /// afterwards for a lost session). When the session's secrets cannot be read, or not even the record can be
    /// made, the work is incomplete and the journal stays for the next command.
    pub(crate) async fn run_after(&self, journal: &Journal) -> AfterOutcome {
        let after = &journal.after;
        let mut outcome = AfterOutcome {
            revoked: true,
            complete: true,
            unrevoked: None,
            notes: Vec::new(),
        };
        if let Some(store) = &after.store_access_token {
            let stored = self.secrets.get(&store.account).and_then(|found| {
                let mut secrets = found.unwrap_or_default();
                if secrets.access_token.as_deref() == Some(store.token.as_str()) {
                    return Ok(());
                }
                secrets.access_token = Some(store.token.clone());
                self.secrets.set(&store.account, &secrets)
            });
            if let Err(error) = stored {
                tracing::error!(error = %error, "the new access token could not be stored yet");
                return AfterOutcome::incomplete();
            }
        }
        if let Some(revoke) = &after.revoke {
            let secrets = match self.secrets.get(&revoke.account) {
                Err(error) => {
                    tracing::warn!(error = %error, "the session's secrets cannot be read now; the revocation waits");
                    return AfterOutcome::incomplete();
                }
                Ok(found) => found.filter(|s| !s.jwt.is_empty()),
            };
            let session = StoredSession {
                domain: revoke.domain.clone(),
                account: revoke.account.clone(),
                sso_client_id: revoke.sso_client_id.clone(),
            };
            // the store lost the session (secrets are only deleted below, after this step was recorded): only a new
            // sign-in can revoke the token
            let attempt = match &secrets {
                None => Attempt::NeedsSignIn,
                Some(_) => {
                    self.revoke_with_session(&session, "", Some(&revoke.token_id), REVOKE_LIMIT)
                        .await
                }
            };
            // the secrets as the attempt left them (a renewal replaced the JWT and the refresh token)
            let secrets = match &secrets {
                Some(_) => self.secrets.get(&revoke.account).ok().flatten(),
                None => None,
            };
            if attempt == Attempt::Revoked {
                if let Some(note) = self
                    .end_kept_session(
                        &session,
                        secrets.as_ref().and_then(|s| s.refresh_token.as_deref()),
                    )
                    .await
                {
                    outcome.notes.push(note);
                }
            } else {
                outcome.revoked = false;
                let kept = match attempt {
                    Attempt::Failed => secrets.as_ref(),
                    _ => None,
                };
                let deferred = self.defer_revocation(
                    Deferred {
                        domain: &revoke.domain,
                        token_name: "",
                        token_id: Some(&revoke.token_id),
                        user_id: revoke.user_id.as_deref(),
                        sso_client_id: revoke.sso_client_id.as_deref(),
                        expires: revoke.expires.as_deref(),
                    },
                    kept,
                );
                match deferred {
                    Ok(needs_sign_in) => {
                        outcome.unrevoked = Some(Unrevoked {
                            domain: revoke.domain.clone(),
                            token_id: Some(revoke.token_id.clone()),
                            expires: revoke.expires.clone(),
                            needs_sign_in,
                        })
                    }
                    Err(error) => {
                        tracing::error!(error = %error, "could not record the pending revocation; keeping the session secrets");
                        return AfterOutcome::incomplete();
                    }
                }
            }
            let mut progressed = journal.clone();
            let done = progressed.after.revoke.take();
            if !outcome.revoked {
                progressed.after.deferred = done;
            }
            if let Err(error) = progressed.save(&self.paths.journal_file()) {
                tracing::error!(error = %error, "could not record the revocation's progress");
                outcome.complete = false;
                return outcome;
            }
        }
        for account in &after.delete_secrets {
            if let Err(error) = self.secrets.delete(account) {
                tracing::warn!(error = %error, "could not delete session secrets");
            }
        }
        outcome
    }
}

/// The longest a sign-out waits for its revocation (renewal included) before recording it for later.
const REVOKE_LIMIT: std::time::Duration = std::time::Duration::from_secs(15);

/// What the post-file work of a journal achieved.
pub(crate) struct AfterOutcome {
    /// The server token (if any) was revoked.
    pub revoked: bool,
    /// Everything was done or recorded; the journal can go.
    pub complete: bool,
    /// The token that could not be revoked, recorded for later.
    pub unrevoked: Option<Unrevoked>,
    /// Sentences for the user (the identity provider's session could not be ended, …).
    pub notes: Vec<String>,
}

impl AfterOutcome {
    fn incomplete() -> AfterOutcome {
        AfterOutcome {
            revoked: false,
            complete: false,
            unrevoked: None,
            notes: Vec::new(),
        }
    }
}
