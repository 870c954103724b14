//! A secondary server's sign-in, channels and sign-out, and promoting one to primary (the model is in
//! [`super::servers`]). Each is one journaled transaction, like the primary's: the server side of a sign-in is
//! the primary's own code; only the local plan differs.

use crate::engine::client::ServerClient;
use crate::engine::condarc::{self, KeyEdit, OWNED_KEYS};
use crate::engine::error::{Error, Result};
use crate::engine::files;
use crate::engine::journal::{After, FileOp, Journal, Stage};
use crate::engine::token_files;

use super::login::{LoginPlan, SignIn};
use super::servers::{ServerList, add_channel_edits, remove_channel_edits};
use super::{CondarcRestore, Engine, LogoutOutcome, OnFailure, SecondaryRecord, SessionRecord};

/// The secondaries' channel URLs kept in a `channels` the primary sets (its sign-in, Add Channels, sign-out).
pub(crate) fn keep_secondaries(edits: &mut [(&str, KeyEdit)], urls: &[String]) {
    if urls.is_empty() {
        return;
    }
    for (key, edit) in edits.iter_mut() {
        if *key != "channels" {
            continue;
        }
        let mut list = match edit {
            KeyEdit::Set(condarc::CondaValue::List(items)) => items.clone(),
            KeyEdit::Restore {
                value: Some(condarc::CondaValue::List(items)),
                ..
            } => items.clone(),
            _ => vec!["defaults".to_string()],
        };
        list.retain(|i| !urls.contains(i));
        list.extend(urls.iter().cloned());
        *edit = KeyEdit::Set(condarc::CondaValue::List(list));
    }
}

/// The primary's keys as they are before its sign-in (values, and the exact entries to put back), without the
/// secondaries' `urls`: a `channels` that held some is recorded by value only.
pub(crate) fn pre_login_without(
    text: &str,
    map: &yaml_serde::Mapping,
    urls: &[String],
) -> (
    std::collections::BTreeMap<String, Option<condarc::CondaValue>>,
    std::collections::BTreeMap<String, String>,
) {
    let mut values = std::collections::BTreeMap::new();
    let mut entries = std::collections::BTreeMap::new();
    for key in OWNED_KEYS {
        let value = condarc::key_value(map, key);
        let value = match value {
            Some(condarc::CondaValue::List(items))
                if key == "channels" && items.iter().any(|i| urls.contains(i)) =>
            {
                Some(condarc::CondaValue::List(
                    items.into_iter().filter(|i| !urls.contains(i)).collect(),
                ))
            }
            value => {
                if let Some(entry) = condarc::entry_text(text, key) {
                    entries.insert(key.to_string(), entry);
                }
                value
            }
        };
        values.insert(key.to_string(), value);
    }
    (values, entries)
}

/// "You are already signed in to <domain>."
pub(crate) fn already_signed_in(domain: &str) -> Error {
    Error::Refused {
        reason: format!("You are already signed in to {domain}."),
    }
}

pub(crate) fn not_signed_in_to(domain: &str) -> Error {
    Error::Refused {
        reason: format!("You are not signed in to {domain}."),
    }
}

impl SignIn {
    /// The channel options' own rules, before anything happens: a primary sign-in needs a default channel; a
    /// secondary server gives channels only.
    pub(crate) fn check_selection(&self) -> Result<()> {
        match &self.selection {
            Some(selection) if self.add_server => {
                if !selection.default_channels.is_empty() {
                    return Err(secondary_defaults());
                }
                for name in &selection.channels {
                    crate::engine::server_values::check_channel_name(name)?;
                }
                Ok(())
            }
            Some(selection) => selection.check(),
            None => Ok(()),
        }
    }
}

fn secondary_defaults() -> Error {
    Error::Refused {
        reason: "Default channels come from the primary server; choose channels only for another server.".into(),
    }
}

impl Engine {
    /// Whether this sign-in makes a secondary server: `--add-server` while a server is signed in.
    pub(crate) fn adds_server(&self, request: &SignIn) -> Result<bool> {
        Ok(request.add_server && (self.session()?.is_some() || self.server_list()?.is_some()))
    }

    /// The checks before a secondary's sign-in (the caller holds the lock): a domain named, not one signed in
    /// already, not against the organization's locked server, its files writable, the server there.
    pub(crate) async fn prepare_secondary_login(
        &self,
        request: &SignIn,
    ) -> Result<(String, ServerClient)> {
        let choice = request.domain.as_ref().ok_or_else(|| Error::Refused {
            reason: "Name the other server to sign in to (--domain URL).".into(),
        })?;
        let domain = choice.domain.clone();
        // an organization that names its server does not let another one be added beside it
        if self.policy.domain.is_some() {
            self.policy.check_domain(&domain)?;
        }
        let primary = self.session()?;
        let list = self.server_list()?;
        if primary.as_ref().is_some_and(|p| p.domain == domain)
            || list.as_ref().is_some_and(|l| l.find(&domain).is_some())
        {
            return Err(already_signed_in(&domain));
        }
        if let Some(selection) = &request.selection {
            if !selection.default_channels.is_empty() {
                return Err(secondary_defaults());
            }
            self.check_channel_names(&domain, &selection.channels)?;
        }
        self.read_condarc()?;
        let servers_file = self.paths.servers_file();
        let mut targets = vec![
            self.paths.condarc.as_path(),
            servers_file.as_path(),
            self.paths.navigator_ini.as_path(),
        ];
        let token_paths = token_files::token_file_paths(&self.paths, &domain);
        targets.extend(token_paths.iter().map(|p| p.as_path()));
        self.check_writable(&targets)?;
        self.check_clients(&domain, self.netrc_wanted(request.netrc))?;
        let client = self.sign_in_client(&domain, Some(choice))?;
        client.system().await?;
        Ok((domain, client))
    }

    /// The local side of a secondary's sign-in: its token files, the other clients, its channels in `.condarc`,
    /// a certificate the user trusted for it, and its record in the server list.
    pub(crate) fn plan_secondary_login(
        &self,
        plan: &LoginPlan<'_>,
        client_ops: Vec<FileOp>,
        clients: Vec<crate::engine::clients::ClientRecord>,
    ) -> Result<Journal> {
        let domain = plan.domain;
        let primary = self.session()?;
        let current = self.read_condarc_settled()?;
        let mut list = match self.server_list()? {
            Some(list) => list,
            None => self.start_server_list(primary.as_ref(), current.as_deref()),
        };
        let names = plan
            .selection
            .map(|s| s.channels.clone())
            .unwrap_or_default();
        let mut ops = Vec::new();
        for path in token_files::token_file_paths(&self.paths, domain) {
            ops.push(FileOp::write(&path, &plan.created.token, Some(0o600)));
        }
        ops.extend(client_ops);
        if let Some(choice) = plan.choice
            && let Some(fingerprint) = &choice.pinned
        {
            let bytes = files::read_optional(&self.paths.navigator_ini)?;
            let mut ini = self.ini()?;
            ini.pin_certificate(&crate::engine::domain::netloc(domain), fingerprint);
            ops.extend(self.ini_op(bytes.as_deref(), &ini, None));
        }
        let session = SessionRecord {
            domain: domain.to_string(),
            username: plan.account.username.clone(),
            user_id: plan.account.user_id.clone(),
            token_id: plan.created.id.clone(),
            token_name: plan.token_name.to_string(),
            logged_in_at: chrono::Utc::now().to_rfc3339(),
            condarc_existed: current.is_some(),
            pre_login: Default::default(),
            pre_login_entries: Default::default(),
            condarc_written_md5: String::new(),
            ini_before: Default::default(),
            ini_mode_before: None,
            user_key: String::new(),
            sso_client_id: plan.sso_client_id.map(str::to_string),
            token_expires: Some(plan.expires.to_string()).filter(|e| !e.is_empty()),
            clients,
            given_token: plan.given,
        };
        list.secondaries.push(SecondaryRecord {
            session,
            channels: names.clone(),
        });
        let edits = add_channel_edits(domain, &names);
        self.plan_condarc_change(current.as_deref(), &edits, primary, &mut list, &mut ops)?;
        ops.push(self.server_list_op(&list));
        Ok(Journal {
            operation: "sign-in".into(),
            stage: Stage::Apply,
            ops,
            after: After::default(),
        })
    }

    /// A `.condarc` change made while several servers are signed in: the swap (merged over an edit made
    /// meanwhile), and the md5 of what conda-connect wrote in the primary's record and in `list`. No change when
    /// `edits` change nothing.
    pub(crate) fn plan_condarc_change(
        &self,
        current: Option<&str>,
        edits: &[(&str, KeyEdit)],
        primary: Option<SessionRecord>,
        list: &mut ServerList,
        ops: &mut Vec<FileOp>,
    ) -> Result<()> {
        let text = current.unwrap_or_default();
        let new =
            condarc::apply_edits(text, edits).map_err(|detail| self.invalid_condarc(detail))?;
        if current.is_some() && new == text || current.is_none() && edits.is_empty() {
            return Ok(());
        }
        list.condarc_written_md5 =
            super::servers::written_md5(&list.condarc_written_md5, current, Some(&new));
        if let Some(mut record) = primary {
            record.condarc_written_md5 =
                super::servers::written_md5(&record.condarc_written_md5, current, Some(&new));
            ops.push(self.record_op(&record));
        }
        ops.push(self.condarc_op(current, &new, edits));
        Ok(())
    }

    /// A secondary server's channel list for the window's picker (its own token), with its channels pre-checked.
    pub async fn server_channels(&self, domain: &str, all: bool) -> Result<super::ChannelList> {
        let list = self
            .server_list()?
            .ok_or_else(|| not_signed_in_to(domain))?;
        let record = list.find(domain).ok_or_else(|| not_signed_in_to(domain))?;
        let secrets = self.secrets.get(domain)?.unwrap_or_default();
        let token = secrets.access_token.as_deref().unwrap_or_default();
        let channels = self
            .client(domain)?
            .channels(crate::engine::client::Auth::Token(token), all)
            .await?;
        Ok(super::ChannelList {
            channels,
            preselected: super::Selection {
                default_channels: Vec::new(),
                channels: record.channels.clone(),
            },
        })
    }

    /// A secondary's channels: `channels` replaces its selection (items and `custom_channels` entries added and
    /// taken out; the user's and the other servers' stay). Names are checked against the naming rule, the other
    /// servers' channels and this server's list.
    pub async fn select_server_channels(&self, domain: &str, channels: &[String]) -> Result<()> {
        for name in channels {
            crate::engine::server_values::check_channel_name(name)?;
        }
        let mut crash = self.crash.clone();
        let _lock = self.lock_async().await?;
        self.recover_locked().await?;
        let (mut list, record) = self.signed_in_secondary(domain)?;
        self.check_channel_names(domain, channels)?;
        self.check_writable(&[self.paths.condarc.as_path()])?;
        let secrets = self.secrets.get(domain)?.unwrap_or_default();
        let token = secrets.access_token.as_deref().unwrap_or_default();
        let client = self.client(domain)?;
        let selection = super::Selection {
            default_channels: Vec::new(),
            channels: channels.to_vec(),
        };
        self.check_selection_on_server(&client, token, &selection)
            .await?;
        let added: Vec<String> = channels
            .iter()
            .filter(|c| !record.channels.contains(c))
            .cloned()
            .collect();
        let removed: Vec<String> = record
            .channels
            .iter()
            .filter(|c| !channels.contains(c))
            .cloned()
            .collect();
        let primary = self.session()?;
        let mut edits = remove_channel_edits(domain, &removed, false, false);
        edits.extend(add_channel_edits(domain, &added));
        let current = self.read_condarc_settled()?;
        for entry in list
            .secondaries
            .iter_mut()
            .filter(|s| s.session.domain == domain)
        {
            entry.channels = channels.to_vec();
        }
        let mut ops = Vec::new();
        self.plan_condarc_change(current.as_deref(), &edits, primary, &mut list, &mut ops)?;
        ops.push(self.server_list_op(&list));
        let journal = Journal {
            operation: "channel selection".into(),
            stage: Stage::Apply,
            ops,
            after: After::default(),
        };
        self.commit(journal, &mut crash, OnFailure::Undo)
            .await
            .map(|_| ())
    }

    /// The server list and `domain`'s record in it, or "You are not signed in to <domain>."
    pub(crate) fn signed_in_secondary(
        &self,
        domain: &str,
    ) -> Result<(ServerList, SecondaryRecord)> {
        let list = self
            .server_list()?
            .ok_or_else(|| not_signed_in_to(domain))?;
        let record = list
            .find(domain)
            .cloned()
            .ok_or_else(|| not_signed_in_to(domain))?;
        Ok((list, record))
    }

    /// Sign out of one server: the primary's sign-out for the primary, else the secondary's.
    pub async fn logout_server(&self, domain: &str) -> Result<LogoutOutcome> {
        let domain = crate::engine::domain::normalize_domain(domain).unwrap_or(domain.to_string());
        if self.session()?.is_some_and(|r| r.domain == domain) {
            return self.logout().await;
        }
        self.sign_out_secondary(&domain).await
    }

    /// Sign out of every server, the secondaries first (so that the last sign-out can put `.condarc` back byte for
    /// byte). Stops at the first failure.
    pub async fn logout_all(&self) -> Result<Vec<LogoutOutcome>> {
        let mut out = Vec::new();
        if let Some(list) = self.server_list()? {
            for record in &list.secondaries {
                out.push(self.sign_out_secondary(&record.session.domain).await?);
            }
        }
        if self.session()?.is_some() {
            out.push(self.logout().await?);
        }
        Ok(out)
    }

    async fn sign_out_secondary(&self, domain: &str) -> Result<LogoutOutcome> {
        let mut crash = self.crash.clone();
        let _lock = self.lock_async().await?;
        self.recover_locked().await?;
        let (mut list, record) = self.signed_in_secondary(domain)?;
        let session = &record.session;
        let secrets = self.secrets.get(domain)?.unwrap_or_default();
        let mut targets = vec![self.paths.condarc.as_path()];
        let token_paths = token_files::token_file_paths(&self.paths, domain);
        targets.extend(
            token_paths
                .iter()
                .filter(|p| p.exists())
                .map(|p| p.as_path()),
        );
        let client_files = self.client_files_to_check(session);
        targets.extend(client_files.iter().map(|p| p.as_path()));
        self.check_writable(&targets)?;
        let primary = self.session()?;
        let current = self.read_condarc_settled()?;
        list.secondaries.retain(|s| s.session.domain != domain);
        let mut ops = Vec::new();
        let restore =
            self.plan_secondary_condarc(&record, current.as_deref(), primary, &mut list, &mut ops)?;
        let mut notes = self
            .plan_token_file_restore(session, &secrets, &mut ops)
            .await?;
        notes.extend(self.plan_clients_restore(session, &secrets, &mut ops)?);
        ops.push(self.server_list_op(&list));
        if session.given_token {
            notes.push(super::logout::given_token_note(domain));
        }
        let after = super::logout::sign_out_after(session, true);
        let journal = Journal {
            operation: "sign-out".into(),
            stage: Stage::Apply,
            ops,
            after,
        };
        let done = self.commit(journal, &mut crash, OnFailure::Undo).await?;
        notes.extend(done.notes);
        if let Err(error) =
            crate::engine::index::remove_server_cache(&self.paths.repodata_cache(), domain)
        {
            tracing::warn!(error = %error, "the server's repodata cache could not be removed");
        }
        Ok(LogoutOutcome {
            domain: domain.to_string(),
            server_token_revoked: done.revoked,
            unrevoked: done.unrevoked,
            condarc: restore,
            notes,
        })
    }

    /// A secondary's share of `.condarc` taken out. The last server's sign-out puts the base back byte for byte
    /// when nobody else changed the file since conda-connect last wrote it.
    fn plan_secondary_condarc(
        &self,
        record: &SecondaryRecord,
        current: Option<&str>,
        primary: Option<SessionRecord>,
        list: &mut ServerList,
        ops: &mut Vec<FileOp>,
    ) -> Result<CondarcRestore> {
        let last = primary.is_none() && list.secondaries.is_empty();
        let untouched = super::servers::md5_of(current) == list.condarc_written_md5;
        if last && untouched {
            ops.push(FileOp::swap(
                &self.paths.condarc,
                current.map(str::as_bytes),
                list.base.as_deref(),
                None,
                None,
            ));
            return Ok(match list.base {
                Some(_) => CondarcRestore::Exact,
                None => CondarcRestore::Removed,
            });
        }
        let Some(text) = current else {
            return Ok(CondarcRestore::KeysReverted);
        };
        let edits = remove_channel_edits(
            &record.session.domain,
            &record.channels,
            primary.is_none() && !list.base_has("channels"),
            !list.base_has("custom_channels"),
        );
        self.plan_condarc_change(Some(text), &edits, primary, list, ops)?;
        Ok(if record.channels.is_empty() {
            CondarcRestore::Untouched
        } else {
            CondarcRestore::EntriesRemoved
        })
    }
}
