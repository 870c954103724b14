//! Sign-in: the server side first, then every local change as one journaled transaction (docs/design.md, "The
//! sign-in transaction"). With a channel selection, the selection is part of the same transaction: when it
//! cannot be applied, the whole sign-in is rolled back.

use std::collections::BTreeMap;

use crate::engine::client::{
    Account, Auth, CreatedToken, LoginTokens, NewToken, SIGN_IN_SCOPES, ServerClient,
};
use crate::engine::condarc::{self, KeyEdit};
use crate::engine::error::{Error, Result};
use crate::engine::files;
use crate::engine::journal::{After, CrashPoint, FileOp, Journal, Merge, Stage};
use crate::engine::navigator_ini::{BRAND, NavigatorIni};
use crate::engine::secrets::{PreviousFile, SessionSecrets};
use crate::engine::snapshots::{self, MAIN_KEY, SnapshotStore};
use crate::engine::token_files;

use super::revocations::Deferred;
use super::{
    DomainChoice, Engine, LoginOutcome, OnFailure, Selection, SessionRecord, md5_hex, today,
};

/// The ini keys a sign-in sets and sign-out clears.
pub(crate) const INI_LOGIN_KEYS: [&str; 4] = crate::engine::navigator_ini::LOGIN_KEYS;

/// What a sign-in does besides signing in: another domain (written with the sign-in, so that a failed or
/// interrupted sign-in leaves the configured one as it was), and channels applied in the same transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignIn {
    pub domain: Option<DomainChoice>,
    pub selection: Option<Selection>,
    /// Also write netrc for pip and uv (`login --netrc`; remembered in the ini); `None`: as the ini says.
    pub netrc: Option<bool>,
    /// Sign in to another server beside the ones signed in (`login --add-server`): it becomes a secondary server.
    /// With nothing signed in, the sign-in is the primary one as usual.
    pub add_server: bool,
}

/// A sign-in whose journal says a server token may exist: what the later steps need of the earlier ones.
struct PendingSignIn {
    account: Account,
    /// The name the access token is created under (recovery revokes by it).
    token_name: String,
    /// The access token's expiry date (YYYY-MM-DD).
    expires: String,
    /// The journal as saved before the token's creation (a failed commit is undone back to it).
    journal: Journal,
    secrets: SessionSecrets,
}

impl PendingSignIn {
    /// The journal's stage while the server token is not settled (`token_id` once it was created).
    fn stage(&self, domain: &str, token_id: Option<String>, sso_client_id: Option<&str>) -> Stage {
        server_pending(
            domain,
            &self.token_name,
            &self.account,
            token_id,
            sso_client_id,
        )
    }
}

fn server_pending(
    domain: &str,
    token_name: &str,
    account: &Account,
    token_id: Option<String>,
    sso_client_id: Option<&str>,
) -> Stage {
    Stage::ServerPending {
        domain: domain.to_string(),
        token_name: token_name.to_string(),
        token_id,
        user_id: Some(account.user_id.clone()),
        sso_client_id: sso_client_id.map(str::to_string),
    }
}

impl Engine {
    /// Sign in with a password: server side first, then all local changes as one journaled transaction.
    pub async fn login(&self, username: &str, password: &str) -> Result<LoginOutcome> {
        self.login_with(username, password, &SignIn::default())
            .await
    }

    /// Sign in and, when `selection` is given, apply it in the same transaction: if the channels cannot be
    /// applied (an unknown name, the channel list failing), nothing of the sign-in remains.
    pub async fn login_with_channels(
        &self,
        username: &str,
        password: &str,
        selection: Option<&Selection>,
    ) -> Result<LoginOutcome> {
        let request = SignIn {
            selection: selection.cloned(),
            ..SignIn::default()
        };
        self.login_with(username, password, &request).await
    }

    /// Sign in with a password as `request` says. The configuration lock is not held while the server checks the
    /// password (a directory behind it can be slow): the checks run before and again, under the lock, after.
    pub async fn login_with(
        &self,
        username: &str,
        password: &str,
        request: &SignIn,
    ) -> Result<LoginOutcome> {
        crate::engine::redact::register(password);
        request.check_selection()?;
        let (domain, client) = {
            let _lock = self.lock_async().await?;
            self.prepare_login(request).await?
        };
        let tokens = client.login(username, password).await?;
        let ready = async {
            let lock = self.lock_async().await?;
            Ok::<_, Error>((lock, self.prepare_login(request).await?))
        }
        .await;
        let (_lock, (now, client)) = match ready {
            Ok(ready) => ready,
            Err(error) => {
                let unended = self.abandon_session(&domain, &tokens, None).await;
                return Err(error.also(unended));
            }
        };
        if now != domain {
            let unended = self.abandon_session(&domain, &tokens, None).await;
            return Err(domain_changed(&now).also(unended));
        }
        self.complete_login(&domain, &client, tokens, request, None)
            .await
    }

    /// Checks before any request: not signed in yet, a domain set (or given), every local file readable and
    /// writable, the server there. Returns the domain and its client. The caller holds the lock.
    pub(crate) async fn prepare_login(&self, request: &SignIn) -> Result<(String, ServerClient)> {
        let choice = request.domain.as_ref();
        self.recover_locked().await?;
        if self.adds_server(request)? {
            return self.prepare_secondary_login(request).await;
        }
        // `--add-server` with nothing signed in is an ordinary sign-in, with its rules
        if let Some(selection) = request.selection.as_ref().filter(|_| request.add_server) {
            selection.check()?;
        }
        if let Some(session) = self.session()? {
            return Err(Error::AlreadyLoggedIn {
                domain: session.domain,
                username: session.username,
            });
        }
        let ini = self.ini()?;
        // the organization's server when none is set; another one is refused
        let domain = match choice {
            Some(choice) => choice.domain.clone(),
            None => ini
                .api_url()
                .or_else(|| self.policy.domain.clone())
                .ok_or(Error::NoDomain)?,
        };
        self.policy.check_domain(&domain)?;
        if self
            .server_list()?
            .is_some_and(|l| l.find(&domain).is_some())
        {
            return Err(super::secondary::already_signed_in(&domain));
        }
        self.read_condarc()?;
        let mut targets = vec![
            self.paths.condarc.as_path(),
            self.paths.navigator_ini.as_path(),
        ];
        let token_paths = token_files::token_file_paths(&self.paths, &domain);
        targets.extend(token_paths.iter().map(|p| p.as_path()));
        self.check_writable(&targets)?;
        self.check_clients(&domain, self.netrc_wanted(request.netrc))?;
        let client = self.sign_in_client(&domain, choice)?;
        client.system().await?;
        Ok((domain, client))
    }

    /// The client for a sign-in: with the certificate the user just trusted when the domain comes with the
    /// command, else the stored trust.
    pub(crate) fn sign_in_client(
        &self,
        domain: &str,
        choice: Option<&DomainChoice>,
    ) -> Result<ServerClient> {
        ServerClient::new(domain, &self.sign_in_config(domain, choice)?)
    }

    /// A session obtained for a sign-in that does not go on (another process signed in meanwhile, the domain
    /// changed, a step failed before any server token): its identity-provider session is ended, not left open.
    /// The sentence for the user when it could not be ended (the caller adds it to its error with
    /// [`Error::also`]).
    pub(crate) async fn abandon_session(
        &self,
        domain: &str,
        tokens: &LoginTokens,
        sso_client_id: Option<&str>,
    ) -> Option<String> {
        let refresh = tokens.refresh_token.as_deref()?;
        self.end_idp_session_or_say(domain, sso_client_id, refresh, "an abandoned sign-in")
            .await
    }

    /// Everything after the session JWT exists (from a password or from single sign-on): the account, the access
    /// token, the channel check, and the local transaction. The caller holds the lock.
    pub(crate) async fn complete_login(
        &self,
        domain: &str,
        client: &ServerClient,
        tokens: LoginTokens,
        request: &SignIn,
        sso_client_id: Option<&str>,
    ) -> Result<LoginOutcome> {
        let mut crash = self.crash.clone();
        if let Err(error) = crate::engine::server_values::session_jwt(&tokens.token, "the sign-in")
        {
            let unended = self.abandon_session(domain, &tokens, sso_client_id).await;
            return Err(error.also(unended));
        }
        crate::engine::redact::register(&tokens.token);
        if let Some(refresh) = &tokens.refresh_token {
            crate::engine::redact::register(refresh);
        }
        let mut pending = self
            .begin_sign_in(domain, client, &tokens, sso_client_id, &mut crash)
            .await?;
        let created = self
            .create_sign_in_token(domain, client, &tokens, &pending, sso_client_id)
            .await?;
        // The revocation intent by id, before anything else can fail.
        pending.journal.stage = pending.stage(domain, Some(created.id.clone()), sso_client_id);
        let journaled = pending.journal.save(&self.paths.journal_file());
        self.step(&mut crash)?;
        let result = async {
            journaled?;
            self.apply_sign_in(
                domain,
                client,
                request,
                &created,
                &mut pending,
                sso_client_id,
                &mut crash,
            )
            .await
        }
        .await;
        let (applied, client_notes) = match result {
            Ok(done) => done,
            // the journal stays and the next start finishes (or undoes, then revokes): nothing to settle now
            Err(error @ (Error::SimulatedCrash { .. } | Error::Unfinished { .. })) => {
                return Err(error);
            }
            Err(error) => {
                tracing::error!(error = %error, "sign-in failed after the server token was created; undoing it");
                let unended = self
                    .settle_server_pending(
                        client,
                        domain,
                        &pending.token_name,
                        Some(&created.id),
                        &pending.account,
                        sso_client_id,
                    )
                    .await?;
                return Err(error.also(unended));
            }
        };
        let account = pending.account;
        let mut notes: Vec<String> = self.condarc_link_note().into_iter().collect();
        notes.extend(client_notes);
        notes.extend(
            self.finish_revocations_with(domain, &account.user_id, &tokens.token)
                .await,
        );
        Ok(LoginOutcome {
            domain: domain.to_string(),
            username: account.username.clone(),
            token_id: created.id,
            remembered: if self.adds_server(request)? {
                None
            } else {
                self.remembered_selection(domain, &account.user_id)
            },
            applied,
            notes,
        })
    }

    /// The sign-in's first steps: the account, then the journal, then the session in the secret store. From here
    /// on, a crash is cleaned up by recovery (the JWT in the secret store, and a token that may get created under
    /// the journaled name). A failure ends the identity provider's session: no server token exists yet.
    async fn begin_sign_in(
        &self,
        domain: &str,
        client: &ServerClient,
        tokens: &LoginTokens,
        sso_client_id: Option<&str>,
        crash: &mut Option<CrashPoint>,
    ) -> Result<PendingSignIn> {
        let account = match client.account(Auth::Jwt(&tokens.token)).await {
            Ok(account) => account,
            Err(error) => {
                let unended = self.abandon_session(domain, tokens, sso_client_id).await;
                return Err(error.also(unended));
            }
        };
        let token_name = format!(
            "conda-connect-{}-{}",
            today().format("%Y-%m-%d"),
            uuid::Uuid::new_v4()
        );
        let secrets = SessionSecrets {
            jwt: tokens.token.clone(),
            refresh_token: tokens.refresh_token.clone(),
            ..Default::default()
        };
        let journal = Journal {
            operation: "sign-in".into(),
            stage: server_pending(domain, &token_name, &account, None, sso_client_id),
            ops: Vec::new(),
            after: After::default(),
        };
        let pending = PendingSignIn {
            account,
            token_name,
            expires: (today() + chrono::Duration::days(i64::from(self.policy.token_days())))
                .format("%Y-%m-%d")
                .to_string(),
            journal,
            secrets,
        };
        if let Err(error) = pending.journal.save(&self.paths.journal_file()) {
            let unended = self.abandon_session(domain, tokens, sso_client_id).await;
            return Err(error.also(unended));
        }
        self.step(crash)?;
        if let Err(error) = self.secrets.set(domain, &pending.secrets) {
            let unended = self.abandon_session(domain, tokens, sso_client_id).await;
            crate::engine::journal::Journal::clear(&self.paths.journal_file())
                .map_err(|cleared| cleared.also(unended.clone()))?;
            return Err(error.also(unended));
        }
        self.step(crash)?;
        Ok(pending)
    }

    /// The sign-in's access token on the server. A failed request may still have reached the server: any token
    /// of that name is removed before the error is returned.
    async fn create_sign_in_token(
        &self,
        domain: &str,
        client: &ServerClient,
        tokens: &LoginTokens,
        pending: &PendingSignIn,
        sso_client_id: Option<&str>,
    ) -> Result<CreatedToken> {
        let new_token = NewToken {
            name: pending.token_name.clone(),
            scopes: SIGN_IN_SCOPES.iter().map(|s| s.to_string()).collect(),
            expires_at: Some(pending.expires.clone()),
        };
        match client.create_token(&tokens.token, &new_token).await {
            Ok(created) => Ok(created),
            Err(error) => {
                let unended = self
                    .settle_server_pending(
                        client,
                        domain,
                        &pending.token_name,
                        None,
                        &pending.account,
                        sso_client_id,
                    )
                    .await?;
                Err(error.also(unended))
            }
        }
    }

    /// The local side, once the server token exists: the selection checked on the server, the clients planned,
    /// the secrets stored, and the sign-in's changes committed as one transaction (undone back to the pending
    /// journal when it fails). Returns the selection applied and the clients' notes.
    #[allow(clippy::too_many_arguments)]
    async fn apply_sign_in(
        &self,
        domain: &str,
        client: &ServerClient,
        request: &SignIn,
        created: &CreatedToken,
        pending: &mut PendingSignIn,
        sso_client_id: Option<&str>,
        crash: &mut Option<CrashPoint>,
    ) -> Result<(Option<Selection>, Vec<String>)> {
        let selection = request.selection.as_ref();
        let applied = match selection {
            Some(selection) => {
                self.check_selection_on_server(client, &created.token, selection)
                    .await?;
                Some(selection.clone())
            }
            None => None,
        };
        let previous = self.previous_token_files(domain)?;
        let secrets = &mut pending.secrets;
        secrets.access_token = Some(created.token.clone());
        secrets.previous_token_files = previous;
        let preferred = selection.map(Selection::names).unwrap_or_default();
        let clients = self
            .plan_clients(
                domain,
                client,
                &created.token,
                &preferred,
                self.netrc_wanted(request.netrc),
                secrets,
            )
            .await?;
        self.secrets.set(domain, secrets)?;
        let plan = LoginPlan {
            domain,
            account: &pending.account,
            created,
            token_name: &pending.token_name,
            expires: &pending.expires,
            selection: applied.as_ref(),
            choice: request.domain.as_ref(),
            netrc: request.netrc,
            sso_client_id,
            given: false,
            secondary: self.adds_server(request)?,
        };
        let journal = self.plan_login(&plan, clients.ops, clients.records)?;
        self.commit(
            journal,
            crash,
            OnFailure::UndoTo(Box::new(pending.journal.clone())),
        )
        .await?;
        Ok((applied, clients.notes))
    }

    /// This user's selection from an earlier sign-in on this server (Navigator's per-user snapshot).
    pub(crate) fn remembered_selection(&self, domain: &str, user_id: &str) -> Option<Selection> {
        let store = SnapshotStore::new(&self.paths.condarc_storage);
        let user_key = snapshots::user_key(BRAND, domain, user_id);
        store
            .read(&user_key)
            .and_then(|t| condarc::read_settings(&t).ok())
            .map(Selection::from_settings)
            .filter(|s| !s.is_empty())
    }

    /// The token files a sign-in is about to replace, as they are now (another tool's sign-in).
    pub(crate) fn previous_token_files(
        &self,
        domain: &str,
    ) -> Result<BTreeMap<String, PreviousFile>> {
        let mut out = BTreeMap::new();
        for path in token_files::token_file_paths(&self.paths, domain) {
            if let Some(bytes) = files::read_optional(&path)? {
                out.insert(
                    path.display().to_string(),
                    PreviousFile {
                        content: String::from_utf8_lossy(&bytes).into_owned(),
                        mode: files::mode_of(&path),
                    },
                );
            }
        }
        Ok(out)
    }

    /// After the server token exists and the sign-in failed: revoke it now, or record the revocation so that a
    /// later command finishes it; then forget the sign-in and end its identity-provider session once the token
    /// is revoked. When not even the record can be made, the journal stays and recovery tries again. Returns the
    /// sentence for the user when the identity provider's session could not be ended.
    pub(crate) async fn settle_server_pending(
        &self,
        client: &ServerClient,
        domain: &str,
        token_name: &str,
        token_id: Option<&str>,
        account: &Account,
        sso_client_id: Option<&str>,
    ) -> Result<Option<String>> {
        let kept = self.secrets.get(domain)?.unwrap_or_default();
        let revoked = self
            .revoke_now(client, &kept.jwt, token_name, token_id)
            .await;
        let mut unended = None;
        match revoked {
            Ok(()) => {
                if let Some(refresh) = &kept.refresh_token {
                    unended = self
                        .end_idp_session_or_say(domain, sso_client_id, refresh, "a failed sign-in")
                        .await;
                }
            }
            Err(error) => {
                tracing::warn!(error = %error, "the token of a failed sign-in could not be revoked yet");
                self.defer_revocation(
                    Deferred {
                        domain,
                        token_name,
                        token_id,
                        user_id: Some(&account.user_id),
                        sso_client_id,
                        expires: None,
                    },
                    Some(&kept),
                )?;
            }
        }
        let said = |error: Error| error.also(unended.clone());
        self.secrets.delete(domain).map_err(said)?;
        Journal::clear(&self.paths.journal_file()).map_err(said)?;
        Ok(unended)
    }

    pub(crate) fn plan_login(
        &self,
        plan: &LoginPlan<'_>,
        client_ops: Vec<FileOp>,
        clients: Vec<crate::engine::clients::ClientRecord>,
    ) -> Result<Journal> {
        let LoginPlan {
            domain,
            account,
            created,
            token_name,
            expires,
            selection,
            choice,
            netrc,
            sso_client_id,
            given,
            secondary,
        } = *plan;
        if secondary {
            return self.plan_secondary_login(plan, client_ops, clients);
        }
        // Read the user's files now, after the server round trips: an edit made meanwhile is in the snapshot
        // and kept. An edit in the few milliseconds until they are written is merged (FileOp::Swap).
        let condarc_before = self.read_condarc_settled()?;
        let before_text = condarc_before.clone().unwrap_or_default();
        let before_map =
            condarc::parse_strict(&before_text).map_err(|detail| self.invalid_condarc(detail))?;
        let mut edits = condarc::login_edits(&format!("{domain}/api/repo"));
        if let Some(selection) = selection {
            edits.extend(condarc::channel_edits(
                &selection.default_channels,
                &selection.channels,
            ));
        }
        // secondary servers signed in already keep their channels; the base is `.condarc` before all of them
        let mut list = self.server_list()?;
        let extras = list.as_ref().map(|l| l.urls()).unwrap_or_default();
        if let Some(selection) = selection {
            self.check_channel_names(domain, &selection.names())?;
        }
        super::secondary::keep_secondaries(&mut edits, &extras);
        let new_condarc = condarc::apply_edits(&before_text, &edits)
            .map_err(|detail| self.invalid_condarc(detail))?;
        let store = SnapshotStore::new(&self.paths.condarc_storage);
        let user_key = snapshots::user_key(BRAND, domain, &account.user_id);
        let mut ops = Vec::new();
        let mut index = store.index();
        let base = match &list {
            Some(list) => list.base.clone(),
            None => condarc_before.clone(),
        };
        match &base {
            Some(text) => ops.extend(store.plan_save(&mut index, MAIN_KEY, text)),
            None => ops.extend(store.plan_forget(&mut index, MAIN_KEY)),
        }
        if selection.is_some() {
            ops.extend(store.plan_save(&mut index, &user_key, &new_condarc));
        }
        index.current = Some(user_key.clone());
        ops.push(store.plan_index(&index));
        // the ini: Navigator's keys, 0600 while it holds the token
        let ini_bytes = files::read_optional(&self.paths.navigator_ini)?;
        let mut ini = self.ini()?;
        let ini_before = INI_LOGIN_KEYS
            .iter()
            .map(|k| (k.to_string(), ini.raw(k)))
            .collect();
        ini.migrate_old_names();
        if let Some(choice) = choice {
            choice.write_to(&mut ini);
        }
        if let Some(on) = netrc {
            ini.set_netrc(on);
        }
        ini.set_logged_in(domain, &created.token, &created.id);
        ops.extend(self.ini_op(ini_bytes.as_deref(), &ini, Some(0o600)));
        for path in token_files::token_file_paths(&self.paths, domain) {
            ops.push(FileOp::write(&path, &created.token, Some(0o600)));
        }
        ops.extend(client_ops);
        let (pre_login, pre_login_entries) =
            super::secondary::pre_login_without(&before_text, &before_map, &extras);
        let record = SessionRecord {
            domain: domain.to_string(),
            username: account.username.clone(),
            user_id: account.user_id.clone(),
            token_id: created.id.clone(),
            token_name: token_name.to_string(),
            logged_in_at: chrono::Utc::now().to_rfc3339(),
            condarc_existed: base.is_some(),
            pre_login,
            pre_login_entries,
            // with secondaries signed in, the whole file goes back only if nobody changed it since the base
            condarc_written_md5: match &list {
                Some(list) => super::servers::written_md5(
                    &list.condarc_written_md5,
                    condarc_before.as_deref(),
                    Some(&new_condarc),
                ),
                None => md5_hex(new_condarc.as_bytes()),
            },
            ini_before,
            ini_mode_before: files::mode_of(&self.paths.navigator_ini),
            user_key,
            sso_client_id: sso_client_id.map(str::to_string),
            token_expires: Some(expires.to_string()).filter(|e| !e.is_empty()),
            clients,
            given_token: given,
        };
        ops.push(self.record_op(&record));
        if let Some(list) = &mut list {
            list.condarc_written_md5 = record.condarc_written_md5.clone();
            ops.push(self.server_list_op(list));
        }
        ops.push(self.condarc_op(condarc_before.as_deref(), &new_condarc, &edits));
        Ok(Journal {
            operation: "sign-in".into(),
            stage: Stage::Apply,
            ops,
            after: After::default(),
        })
    }

    pub(crate) fn record_op(&self, record: &SessionRecord) -> FileOp {
        let json = serde_json::to_string_pretty(record).expect("record serialises");
        FileOp::write(&self.paths.session_file(), &json, Some(0o600))
    }

    /// Navigator's ini as `ini` changed it (`None` when nothing changed), over `before`; a merge re-applies just
    /// those keys over an ini edited meanwhile.
    pub(crate) fn ini_op(
        &self,
        before: Option<&[u8]>,
        ini: &NavigatorIni,
        mode: Option<u32>,
    ) -> Option<FileOp> {
        let text = ini.changed_text()?;
        Some(FileOp::swap(
            &self.paths.navigator_ini,
            before,
            Some(&text),
            mode,
            Some(Merge::Ini(ini.changes())),
        ))
    }

    /// `.condarc` from `before` to `after` by `edits`, which a merge re-applies over a file edited meanwhile.
    pub(crate) fn condarc_op(
        &self,
        before: Option<&str>,
        after: &str,
        edits: &[(&str, KeyEdit)],
    ) -> FileOp {
        FileOp::swap(
            &self.paths.condarc,
            before.map(str::as_bytes),
            Some(after),
            None,
            Some(Merge::Condarc(owned_edits(edits))),
        )
    }
}

/// Everything a sign-in's local transaction is planned from.
#[derive(Clone, Copy)]
pub(crate) struct LoginPlan<'a> {
    pub domain: &'a str,
    pub account: &'a Account,
    pub created: &'a CreatedToken,
    pub token_name: &'a str,
    /// The token's expiry (`YYYY-MM-DD`; empty when unknown).
    pub expires: &'a str,
    pub selection: Option<&'a Selection>,
    pub choice: Option<&'a DomainChoice>,
    pub netrc: Option<bool>,
    pub sso_client_id: Option<&'a str>,
    /// A token the user was given (not conda-connect's: never revoked by it).
    pub given: bool,
    /// A secondary server's sign-in ([`SignIn::add_server`]).
    pub secondary: bool,
}

/// Another process changed the domain while this sign-in waited.
pub(crate) fn domain_changed(now: &str) -> Error {
    Error::Refused {
        reason: format!(
            "The Anaconda Server domain changed to {now} during the sign-in; sign in again."
        ),
    }
}

/// Key edits in their journaled form.
pub(crate) fn owned_edits(edits: &[(&str, KeyEdit)]) -> Vec<(String, KeyEdit)> {
    edits
        .iter()
        .map(|(k, e)| (k.to_string(), e.clone()))
        .collect()
}
