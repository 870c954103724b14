//! Sign-out: revoke the server token and put everything back — `.condarc` byte for byte when the user did not
//! touch it, else only conda-connect's keys, each restored to its exact original text; the ini's sign-in keys and
//! its mode; the token files conda-connect wrote (another tool's earlier token files are put back, with their
//! modes; a file someone else changed since is left alone, and the user is told).

use crate::engine::condarc::{self, KeyEdit, OWNED_KEYS};
use crate::engine::error::{Error, Result};
use crate::engine::files;
use crate::engine::journal::{After, FileOp, Journal, Merge, RevokeToken, Stage, md5_hex};
use crate::engine::secrets::SessionSecrets;
use crate::engine::snapshots::{MAIN_KEY, SnapshotStore};
use crate::engine::token_files;

use super::login::{INI_LOGIN_KEYS, owned_edits};
use super::{CondarcRestore, Engine, LogoutOutcome, OnFailure, SessionRecord};

impl Engine {
    /// Sign out: restore `.condarc`, clear the ini keys, remove (or put back) the token files and secrets, then
    /// revoke the server token — retried by later commands until the server confirms it.
    pub async fn logout(&self) -> Result<LogoutOutcome> {
        self.sign_out(true).await
    }

    /// Sign out after the server refused the token (revoked or expired there, the window's *Sign in again*): the
    /// same local undo, and nothing to revoke — so no revocation is promised or retried. The token is checked once
    /// more first; a server that accepts it after all gets an ordinary sign-out.
    pub async fn logout_refused_token(&self) -> Result<LogoutOutcome> {
        if self.check_connection().await != crate::engine::health::Connection::TokenRejected {
            return self.logout().await;
        }
        self.sign_out(false).await
    }

    async fn sign_out(&self, revoke: bool) -> Result<LogoutOutcome> {
        let mut crash = self.crash.clone();
        let _lock = self.lock_async().await?;
        self.recover_locked().await?;
        let Some(record) = self.session()? else {
            return self.logout_detected();
        };
        let secrets = self.secrets.get(&record.domain)?.unwrap_or_default();
        let mut targets = vec![
            self.paths.condarc.as_path(),
            self.paths.navigator_ini.as_path(),
        ];
        let token_paths = token_files::token_file_paths(&self.paths, &record.domain);
        targets.extend(
            token_paths
                .iter()
                .filter(|p| p.exists())
                .map(|p| p.as_path()),
        );
        let client_files = self.client_files_to_check(&record);
        targets.extend(client_files.iter().map(|p| p.as_path()));
        self.check_writable(&targets)?;
        let current = self.read_condarc_settled()?;
        let store = SnapshotStore::new(&self.paths.condarc_storage);
        let mut index = store.index();
        let mut ops = Vec::new();
        // keep a copy of the signed-in version (and the selection for next time)
        if let Some(text) = &current {
            ops.extend(store.plan_save(&mut index, &record.user_key, text));
        }
        index.current = None;
        ops.push(store.plan_index(&index));
        let mut list = self.server_list()?;
        let restore = self.plan_condarc_restore(
            &record,
            current.as_deref(),
            &store,
            list.as_mut(),
            &mut ops,
        )?;
        self.plan_ini_restore(&record, &mut ops)?;
        let mut notes = self
            .plan_token_file_restore(&record, &secrets, &mut ops)
            .await?;
        notes.extend(self.plan_clients_restore(&record, &secrets, &mut ops)?);
        ops.push(FileOp::remove(&self.paths.session_file()));
        // a token the user was given is not conda-connect's to revoke: its owner decides
        if record.given_token {
            notes.push(given_token_note(&record.domain));
        }
        if !revoke && !record.given_token {
            notes.push(format!(
                "{} no longer accepted the token, so there was nothing to revoke.",
                record.domain
            ));
        }
        let after = sign_out_after(&record, revoke);
        let journal = Journal {
            operation: "sign-out".into(),
            stage: Stage::Apply,
            ops,
            after,
        };
        let done = self.commit(journal, &mut crash, OnFailure::Undo).await?;
        notes.extend(done.notes);
        notes.extend(self.condarc_link_note());
        // the cache holds private channels' package names
        if let Err(error) =
            crate::engine::index::remove_server_cache(&self.paths.repodata_cache(), &record.domain)
        {
            tracing::warn!(error = %error, "the server's repodata cache could not be removed");
        }
        Ok(LogoutOutcome {
            domain: record.domain,
            server_token_revoked: done.revoked,
            unrevoked: done.unrevoked,
            condarc: restore,
            notes,
        })
    }

    /// `.condarc` back to its pre-sign-in state, as a compare-and-swap whose merge is the key-only revert. While
    /// secondary servers are signed in (`list`), their channels stay and the file is never put back whole.
    fn plan_condarc_restore(
        &self,
        record: &SessionRecord,
        current: Option<&str>,
        store: &SnapshotStore,
        list: Option<&mut super::ServerList>,
        ops: &mut Vec<FileOp>,
    ) -> Result<CondarcRestore> {
        let mut revert = revert_edits(record);
        let extras = list.as_ref().map(|l| l.urls()).unwrap_or_default();
        {
            let mut borrowed: Vec<(&str, KeyEdit)> = revert
                .iter()
                .map(|(k, e)| (k.as_str(), e.clone()))
                .collect();
            super::secondary::keep_secondaries(&mut borrowed, &extras);
            revert = owned_edits(&borrowed);
        }
        let edits: Vec<(&str, KeyEdit)> = revert
            .iter()
            .map(|(k, e)| (k.as_str(), e.clone()))
            .collect();
        let merge = Some(Merge::Condarc(revert.clone()));
        let Some(current) = current else {
            // the user deleted it while signed in: nothing of ours is left in it
            return Ok(CondarcRestore::KeysReverted);
        };
        let untouched = md5_hex(current.as_bytes()) == record.condarc_written_md5 && list.is_none();
        let (target, restore) = match (untouched, record.condarc_existed, store.read(MAIN_KEY)) {
            (true, true, Some(original)) => (Some(original), CondarcRestore::Exact),
            (true, false, _) => (None, CondarcRestore::Removed),
            _ => (
                Some(
                    condarc::apply_edits(current, &edits)
                        .map_err(|detail| self.invalid_condarc(detail))?,
                ),
                CondarcRestore::KeysReverted,
            ),
        };
        if let Some(list) = list {
            list.condarc_written_md5 = super::servers::written_md5(
                &list.condarc_written_md5,
                Some(current),
                target.as_deref(),
            );
            ops.push(self.server_list_op(list));
        }
        ops.push(FileOp::swap(
            &self.paths.condarc,
            Some(current.as_bytes()),
            target.as_deref(),
            None,
            merge,
        ));
        Ok(restore)
    }

    /// The ini's sign-in keys cleared (or removed where they were absent), and its mode put back.
    fn plan_ini_restore(&self, record: &SessionRecord, ops: &mut Vec<FileOp>) -> Result<()> {
        let bytes = files::read_optional(&self.paths.navigator_ini)?;
        let mut ini = self.ini()?;
        for key in INI_LOGIN_KEYS {
            match record.ini_before.get(key).cloned().flatten() {
                None => ini.remove_key(key),
                Some(_) => ini.set_none(key),
            }
        }
        // 0600 while it held the token; afterwards what it had (a new file keeps 0600)
        let mode = record.ini_mode_before.or(Some(0o600));
        let text = ini.changed_text().or_else(|| {
            bytes
                .as_deref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
        });
        if let Some(text) = text {
            ops.push(FileOp::swap(
                &self.paths.navigator_ini,
                bytes.as_deref(),
                Some(&text),
                mode,
                Some(Merge::Ini(ini.changes())),
            ));
        }
        Ok(())
    }

    /// Token files conda-connect wrote: removed, or put back as they were before sign-in — but only when what
    /// they held still belongs to a sign-in that exists: a token the server no longer accepts (another user's
    /// conda-connect sharing the folder has signed out and revoked it since) is removed instead, never brought
    /// back. A file that no longer holds conda-connect's token belongs to someone else now (another sign-in,
    /// another user sharing the folder) and is left alone. Returns sentences about those.
    pub(super) async fn plan_token_file_restore(
        &self,
        record: &SessionRecord,
        secrets: &SessionSecrets,
        ops: &mut Vec<FileOp>,
    ) -> Result<Vec<String>> {
        let mut notes = Vec::new();
        // the token conda-connect wrote: from the secret store, or — when the store lost the session — from the
        // ini, which names it next to this sign-in's token id
        let from_ini = self.ini().ok().and_then(|ini| {
            (ini.token_id()
                .and_then(|id| crate::engine::server_values::token_id(&id))
                == crate::engine::server_values::token_id(&record.token_id))
            .then(|| ini.token())
            .flatten()
        });
        let ours = secrets.access_token.as_deref().or(from_ini.as_deref());
        let mut alive: std::collections::BTreeMap<String, bool> = std::collections::BTreeMap::new();
        for path in token_files::token_file_paths(&self.paths, &record.domain) {
            let Some(current) = files::read_optional(&path)? else {
                continue;
            };
            if ours.is_none_or(|token| current != token.as_bytes()) {
                notes.push(format!(
                    "{} holds a token conda-connect did not write; it was left as it is.",
                    self.paths.display(&path)
                ));
                continue;
            }
            let mut previous = secrets
                .previous_token_files
                .get(&path.display().to_string());
            if let Some(before) = previous {
                let live = match alive.get(&before.content) {
                    Some(live) => *live,
                    None => {
                        let live = self
                            .token_still_valid(&record.domain, before.content.trim())
                            .await;
                        alive.insert(before.content.clone(), live);
                        live
                    }
                };
                if !live {
                    notes.push(format!(
                        "{} held a token before sign-in that {} no longer accepts; it was removed instead of put \
                         back.",
                        self.paths.display(&path),
                        record.domain
                    ));
                    previous = None;
                }
            }
            ops.push(FileOp::swap(
                &path,
                Some(&current),
                previous.map(|p| p.content.as_str()),
                previous.and_then(|p| p.mode),
                None,
            ));
        }
        Ok(notes)
    }

    /// Whether the server still accepts `token` (`/api/account/token-info`). Only a refusal (401/403) counts as
    /// dead: when the server cannot be asked, the token is taken as valid (putting back what was there is the
    /// cautious choice).
    async fn token_still_valid(&self, domain: &str, token: &str) -> bool {
        if crate::engine::server_values::access_token(token, "a token file").is_err() {
            return true;
        }
        let Ok(client) = self.client(domain) else {
            return true;
        };
        let asked =
            tokio::time::timeout(std::time::Duration::from_secs(5), client.token_info(token)).await;
        !matches!(asked, Ok(Err(Error::Unauthorized { .. })))
    }

    /// Sign-out of a sign-in conda-connect did not make (token file / conda-repo-cli): remove the token files for
    /// the domain (and conda-repo-cli's) and clear the ini keys. The server token cannot be revoked (conda-connect
    /// does not know its id), which the outcome says.
    fn logout_detected(&self) -> Result<LogoutOutcome> {
        let status = self.status()?;
        let (domain, source) = match (status.logged_in, status.domain, status.source) {
            (true, Some(domain), Some(source)) => (domain, source),
            _ => return Err(Error::NotLoggedIn),
        };
        let mut paths = token_files::removal_paths(&self.paths, &domain);
        if source == super::LoginSource::CondaRepoCli {
            paths.extend(token_files::repo_cli_token_paths(&self.paths));
        }
        // a token folder outside the home directory (a shared BINSTAR_CONFIG_DIR) may hold another user's
        // sign-in: conda-connect did not make this one, so it does not remove files there
        let (existing, shared): (Vec<_>, Vec<_>) = paths
            .into_iter()
            .filter(|p| p.exists())
            .partition(|p| p.starts_with(&self.paths.home));
        let mut targets: Vec<&std::path::Path> = existing.iter().map(|p| p.as_path()).collect();
        targets.push(self.paths.navigator_ini.as_path());
        self.check_writable(&targets)?;
        for path in &existing {
            files::remove_if_exists(path)?;
        }
        let mut notes: Vec<String> = shared
            .iter()
            .map(|p| {
                format!(
                    "{} is in a folder outside your home directory that other users may share; it was left as it is.",
                    p.display()
                )
            })
            .collect();
        let mut ini = self.ini()?;
        if ini.logged_api_url().is_some() || ini.token().is_some() {
            ini.set_logged_out();
            if let Some(text) = ini.changed_text() {
                files::write_atomic(&self.paths.navigator_ini, text.as_bytes(), None)?;
            }
        }
        Ok(LogoutOutcome {
            domain,
            server_token_revoked: false,
            unrevoked: None,
            condarc: CondarcRestore::Untouched,
            notes: {
                notes.push(
                    "The token was created outside conda-connect, so it was removed from this computer but not \
                     revoked on the server; revoke it in the server's web interface if it should stop working."
                        .into(),
                );
                notes
            },
        })
    }
}

/// The key-only revert: every key conda-connect owns back to its exact original entry (or removed).
fn revert_edits(record: &SessionRecord) -> Vec<(String, KeyEdit)> {
    let edits: Vec<(&str, KeyEdit)> = OWNED_KEYS
        .iter()
        .map(|k| {
            let value = record.pre_login.get(*k).cloned().flatten();
            let edit = match value {
                // a record of an older version: the value is all there is
                Some(value) if record.pre_login_entries.is_empty() => KeyEdit::Set(value),
                value => KeyEdit::Restore {
                    entry: record.pre_login_entries.get(*k).cloned(),
                    value,
                },
            };
            (*k, edit)
        })
        .collect();
    owned_edits(&edits)
}

/// What a sign-out does once its files are back: revoke the server token (unless it was given to the user, or
/// `revoke` is off), and forget the sign-in's secrets. The same for a primary and a secondary server.
pub(super) fn sign_out_after(record: &SessionRecord, revoke: bool) -> After {
    After {
        revoke: (revoke && !record.given_token).then(|| RevokeToken {
            domain: record.domain.clone(),
            token_id: record.token_id.clone(),
            user_id: Some(record.user_id.clone()),
            account: record.domain.clone(),
            sso_client_id: record.sso_client_id.clone(),
            expires: record.token_expires.clone(),
        }),
        delete_secrets: vec![record.domain.clone()],
        ..After::default()
    }
}

/// The sentence a sign-out of a given token adds: it is not conda-connect's to revoke.
pub(super) fn given_token_note(domain: &str) -> String {
    format!("The token stays valid on {domain}; ask its owner to revoke it if it leaked.")
}
