//! Recovery at the start of every command: finish or undo whatever a crashed process left in the journal, sweep
//! this HOME's temp files, and retry pending token revocations (within a short time budget). Replaying a journal
//! never overwrites an edit the user made since the crash: user files are compare-and-swap operations.

use crate::engine::client::ServerClient;
use crate::engine::error::{Error, Result};
use crate::engine::files;
use crate::engine::journal::{Journal, Stage};

use super::Engine;

impl Engine {
    /// Finish or undo whatever a crashed process left in the journal. Call at the start of every command.
    /// Returns a sentence for the user when something was recovered.
    pub async fn recover(&self) -> Result<Option<String>> {
        let _lock = self.lock()?;
        self.recover_locked().await
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
            } => {
                let jwt = self.secrets.get(domain)?.map(|s| s.jwt);
                let mut revoked = false;
                if let Some(jwt) = &jwt {
                    let client = self.client(domain)?;
                    match self
                        .revoke_now(&client, jwt, token_name, token_id.as_deref())
                        .await
                    {
                        Ok(()) => revoked = true,
                        Err(error) => {
                            tracing::warn!(error = %error, "could not revoke the interrupted sign-in's token yet");
                            // never dropped: recorded with its JWT, retried by later commands
                            self.defer_revocation(
                                domain,
                                token_name,
                                token_id.as_deref(),
                                user_id.as_deref(),
                                jwt,
                            )?;
                        }
                    }
                }
                self.secrets.delete(domain)?;
                Journal::clear(&path)?;
                Ok(if revoked || jwt.is_none() {
                    "An interrupted sign-in was rolled back.".into()
                } else {
                    format!(
                        "An interrupted sign-in was rolled back; its token on {domain} could not be revoked yet and \
                         will be retried."
                    )
                })
            }
            Stage::Apply => {
                for op in &journal.ops {
                    op.apply()?;
                }
                let after = self.run_after(&journal).await;
                if !after.complete {
                    return Ok(format!(
                        "An interrupted {} was completed, except the server token's revocation, which will be retried.",
                        journal.operation
                    ));
                }
                Journal::clear(&path)?;
                let mut msg = format!("An interrupted {} was completed.", journal.operation);
                if journal.after.revoke.is_some() && !after.revoked {
                    msg.push_str(" The server token could not be revoked yet; it will be retried.");
                }
                Ok(msg)
            }
        }
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

    /// Post-file work of a journal. A revocation that fails is recorded (with its JWT) before the session's
    /// secrets are deleted, and retried later; once the revocation is done or recorded, the journal says so (so a
    /// replay does not mistake secrets deleted afterwards for a lost session). When the session's JWT cannot be
    /// read, or not even the record can be made, the work is incomplete and the journal stays for the next
    /// command.
    pub(crate) async fn run_after(&self, journal: &Journal) -> AfterOutcome {
        let after = &journal.after;
        let mut revoked = true;
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
                return AfterOutcome {
                    revoked: false,
                    complete: false,
                };
            }
        }
        if let Some(revoke) = &after.revoke {
            let outcome = match self.secrets.get(&revoke.account) {
                Err(error) => {
                    tracing::warn!(error = %error, "the session's secrets cannot be read now; the revocation waits");
                    return AfterOutcome {
                        revoked: false,
                        complete: false,
                    };
                }
                // the store lost the session (secrets are only deleted below, after this step was recorded):
                // only a new sign-in can revoke the token
                Ok(None) => Err((Error::NotLoggedIn, String::new())),
                Ok(Some(secrets)) => match self.client(&revoke.domain) {
                    Ok(client) => client
                        .delete_token(&secrets.jwt, &revoke.token_id)
                        .await
                        .map(|_| ())
                        .map_err(|e| (e, secrets.jwt)),
                    Err(error) => Err((error, secrets.jwt)),
                },
            };
            if let Err((error, jwt)) = outcome {
                tracing::warn!(error = %error, "server token not revoked");
                revoked = false;
                if let Err(error) = self.defer_revocation(
                    &revoke.domain,
                    "",
                    Some(&revoke.token_id),
                    revoke.user_id.as_deref(),
                    &jwt,
                ) {
                    tracing::error!(error = %error, "could not record the pending revocation; keeping the session secrets");
                    return AfterOutcome {
                        revoked: false,
                        complete: false,
                    };
                }
            }
            let mut progressed = journal.clone();
            progressed.after.revoke = None;
            if let Err(error) = progressed.save(&self.paths.journal_file()) {
                tracing::error!(error = %error, "could not record the revocation's progress");
                return AfterOutcome {
                    revoked,
                    complete: false,
                };
            }
        }
        for account in &after.delete_secrets {
            if let Err(error) = self.secrets.delete(account) {
                tracing::warn!(error = %error, "could not delete session secrets");
            }
        }
        AfterOutcome {
            revoked,
            complete: true,
        }
    }
}

/// What the post-file work of a journal achieved.
pub(crate) struct AfterOutcome {
    /// The server token (if any) was revoked.
    pub revoked: bool,
    /// Everything was done or recorded; the journal can go.
    pub complete: bool,
}
