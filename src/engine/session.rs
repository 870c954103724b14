//! The sign-in session as one transaction (decision D6): server side first (validate domain → log in → account →
//! create the access token), then every local change through the journal: the byte-exact `.condarc` snapshot,
//! the minimal `.condarc` edits, Navigator's ini keys, conda's token files and conda-connect's session record.
//! Add Channels and sign-out go through the same journal. Any failure after the server token exists revokes it;
//! a crash is completed at the next start of any command ([`Engine::recover`]).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::engine::client::{
    Auth, ChannelInfo, ClientConfig, NewToken, SIGN_IN_SCOPES, ServerClient,
};
use crate::engine::condarc::{self, CondaValue, KeyEdit, OWNED_KEYS};
use crate::engine::domain::{self, normalize_domain};
use crate::engine::error::{Error, Result};
use crate::engine::files;
use crate::engine::journal::{After, CrashPoint, FileOp, Journal, RevokeToken, Stage};
use crate::engine::lock::ConfigLock;
use crate::engine::navigator_ini::{BRAND, NavigatorIni};
use crate::engine::paths::Paths;
use crate::engine::secrets::{SecretStore, SessionSecrets};
use crate::engine::snapshots::{self, MAIN_KEY, SnapshotStore};
use crate::engine::token_files;

/// The ini keys a sign-in sets and sign-out clears.
const INI_LOGIN_KEYS: [&str; 4] = [
    "logged_api_url",
    "logged_brand",
    "anaconda_server_token",
    "anaconda_server_token_id",
];

/// conda-connect's record of the active sign-in (`<data dir>/session.json`, 0600). Holds no secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub domain: String,
    pub username: String,
    pub user_id: String,
    pub token_id: String,
    pub token_name: String,
    pub logged_in_at: String,
    /// Whether `~/.condarc` existed before sign-in.
    pub condarc_existed: bool,
    /// conda-connect's keys as they were before sign-in (`None` = absent).
    pub pre_login: BTreeMap<String, Option<CondaValue>>,
    /// md5 of `~/.condarc` as conda-connect last wrote it: equal at sign-out = the user did not touch it.
    pub condarc_written_md5: String,
    /// The ini's sign-in keys before sign-in (raw values; `None` = absent).
    pub ini_before: BTreeMap<String, Option<String>>,
    /// Navigator's per-user snapshot key.
    pub user_key: String,
}

/// A channel selection (Add Channels).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Selection {
    pub default_channels: Vec<String>,
    pub channels: Vec<String>,
}

/// How the user is signed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LoginSource {
    /// By conda-connect (or a Navigator-compatible session it owns).
    CondaConnect,
    /// A token file for the domain exists (Navigator or anaconda-client).
    TokenFile,
    /// A conda-repo-cli login.
    CondaRepoCli,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Status {
    pub logged_in: bool,
    pub domain: Option<String>,
    pub username: Option<String>,
    pub token_id: Option<String>,
    pub channel_alias: Option<String>,
    pub channels: Vec<String>,
    pub default_channels: Vec<String>,
    pub source: Option<LoginSource>,
    pub secrets_backend: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginOutcome {
    pub domain: String,
    pub username: String,
    pub token_id: String,
    /// This user's selection from an earlier sign-in on this server, to pre-check.
    pub remembered: Option<Selection>,
}

/// What sign-out did with `~/.condarc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CondarcRestore {
    /// Restored byte for byte.
    Exact,
    /// It did not exist before sign-in and was removed again.
    Removed,
    /// The user changed it meanwhile: only conda-connect's keys were reverted; a copy of the signed-in version
    /// was kept in the snapshot store.
    KeysReverted,
    /// Nothing to restore (a command-line sign-in conda-connect did not make).
    Untouched,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutOutcome {
    pub domain: String,
    pub server_token_revoked: bool,
    pub condarc: CondarcRestore,
}

/// The channel list for Add Channels, with what to pre-check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelList {
    pub channels: Vec<ChannelInfo>,
    pub preselected: Selection,
}

/// The engine: one per process (GUI or CLI), cheap to clone.
#[derive(Debug, Clone)]
pub struct Engine {
    pub paths: Paths,
    pub secrets: SecretStore,
    /// Timeouts etc. for every server client (tests shorten them).
    pub client_defaults: ClientConfig,
    /// Test hook: stop at journal step N.
    pub crash: Option<CrashPoint>,
    pub lock_wait: Duration,
    /// How long to wait before retrying a server-token revocation that failed (sign-out while offline).
    pub revoke_retry_after: Duration,
}

fn md5_hex(bytes: &[u8]) -> String {
    format!("{:x}", md5::compute(bytes))
}

fn today() -> chrono::NaiveDate {
    chrono::Local::now().date_naive()
}

impl Engine {
    pub fn new(paths: Paths, secrets: SecretStore) -> Self {
        Engine {
            paths,
            secrets,
            client_defaults: ClientConfig::default(),
            crash: None,
            lock_wait: Duration::from_secs(10),
            revoke_retry_after: Duration::from_secs(60),
        }
    }

    pub(crate) fn lock(&self) -> Result<ConfigLock> {
        ConfigLock::acquire(&self.paths.lock_file(), self.lock_wait)
    }

    fn step(&self, crash: &mut Option<CrashPoint>) -> Result<()> {
        match crash {
            Some(c) => c.step(),
            None => Ok(()),
        }
    }

    fn condarc_display(&self) -> String {
        self.paths.display(&self.paths.condarc)
    }

    /// Read `~/.condarc` as text, refusing what cannot be parsed.
    fn read_condarc(&self) -> Result<Option<String>> {
        let Some(bytes) = files::read_optional(&self.paths.condarc)? else {
            return Ok(None);
        };
        let text = String::from_utf8(bytes).map_err(|_| Error::InvalidCondarc {
            path: self.condarc_display(),
            detail: "it is not UTF-8 text".into(),
        })?;
        condarc::parse_strict(&text).map_err(|detail| Error::InvalidCondarc {
            path: self.condarc_display(),
            detail,
        })?;
        Ok(Some(text))
    }

    fn ini(&self) -> Result<NavigatorIni> {
        NavigatorIni::load(&self.paths.navigator_ini)
    }

    pub fn session(&self) -> Result<Option<SessionRecord>> {
        match files::read_optional(&self.paths.session_file())? {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|_| Error::Refused {
                    reason: format!(
                        "{} is unreadable; move it away to continue.",
                        self.paths.session_file().display()
                    ),
                }),
        }
    }

    /// A client for `domain` with the user's trust, CA bundle and proxies.
    pub fn client(&self, domain: &str) -> Result<ServerClient> {
        let mut config = self.client_defaults.clone();
        let ini = self.ini().ok();
        config.trusted = ini
            .as_ref()
            .is_some_and(|i| i.trusted_servers().contains(&domain::netloc(domain)));
        if let Some(ini) = &ini
            && ini.ssl_verification()
            && let Some(cert) = ini.ssl_certificate()
            && std::path::Path::new(&cert).is_file()
        {
            config.ca_bundle = Some(cert.into());
        }
        if let Ok(Some(text)) = self.read_condarc() {
            let settings = condarc::read_settings(&text).unwrap_or_default();
            if config.ca_bundle.is_none()
                && let Some(condarc::CondaSsl::CaBundle(path)) = settings.ssl_verify
                && std::path::Path::new(&path).is_file()
            {
                config.ca_bundle = Some(path.into());
            }
            config.proxies = settings.proxy_servers;
        }
        ServerClient::new(domain, &config)
    }

    // ---------------------------------------------------------------- recovery

    /// Finish or undo whatever a crashed process left in the journal. Call at the start of every command.
    /// Returns a sentence for the user when something was recovered.
    pub async fn recover(&self) -> Result<Option<String>> {
        let _lock = self.lock()?;
        self.recover_locked().await
    }

    pub(crate) async fn recover_locked(&self) -> Result<Option<String>> {
        let p = &self.paths;
        let ini_dir = p
            .navigator_ini
            .parent()
            .map(|d| d.to_path_buf())
            .unwrap_or_else(|| p.home.clone());
        let dirs = [
            p.home.clone(),
            ini_dir,
            p.condarc_storage.clone(),
            p.data_dir.clone(),
        ];
        files::sweep_temp_files(dirs.iter().chain(p.token_dirs.iter()).map(|d| d.as_path()));
        let retried = self.retry_revocations().await;
        let path = self.paths.journal_file();
        let Some(journal) = Journal::load(&path)? else {
            return Ok(retried);
        };
        tracing::warn!(operation = %journal.operation, "recovering an interrupted transaction");
        match &journal.stage {
            Stage::ServerPending { domain, token_name } => {
                let secrets = self.secrets.get(domain)?;
                if let Some(s) = &secrets {
                    let client = self.client(domain)?;
                    match client.list_tokens(&s.jwt).await {
                        Ok(tokens) => {
                            for t in tokens.iter().filter(|t| &t.name == token_name) {
                                client.delete_token(&s.jwt, &t.id).await?;
                            }
                        }
                        Err(Error::Unauthorized { .. }) => {}
                        Err(e) => {
                            tracing::warn!(error = %e, "could not revoke the interrupted sign-in's token yet");
                            return Ok(Some(format!(
                                "An interrupted sign-in left a token on {domain} that could not be revoked yet; it will be retried."
                            )));
                        }
                    }
                }
                self.secrets.delete(domain)?;
                Journal::clear(&path)?;
                Ok(Some("An interrupted sign-in was rolled back.".into()))
            }
            Stage::Apply => {
                for op in &journal.ops {
                    op.apply()?;
                }
                let revoked = self.run_after(&journal.after).await;
                Journal::clear(&path)?;
                let mut msg = format!("An interrupted {} was completed.", journal.operation);
                if journal.after.revoke.is_some() && !revoked {
                    msg.push_str(" The server token could not be revoked.");
                }
                Ok(Some(msg))
            }
        }
    }

    /// Post-file work of a journal; returns whether the server token (if any) was revoked.
    async fn run_after(&self, after: &After) -> bool {
        let mut revoked = true;
        if let Some(r) = &after.revoke {
            revoked = self
                .revoke_with_secrets(&r.domain, &r.account, &r.token_id)
                .await;
            if !revoked {
                self.defer_revocation(r);
            }
        }
        for account in &after.delete_secrets {
            if let Err(e) = self.secrets.delete(account) {
                tracing::warn!(error = %e, "could not delete session secrets");
            }
        }
        revoked
    }

    async fn revoke_with_secrets(&self, domain: &str, account: &str, token_id: &str) -> bool {
        let Ok(Some(s)) = self.secrets.get(account) else {
            return false;
        };
        let Ok(client) = self.client(domain) else {
            return false;
        };
        match client.delete_token(&s.jwt, token_id).await {
            Ok(_) => true,
            Err(e) => {
                tracing::warn!(error = %e, "server token not revoked");
                false
            }
        }
    }

    /// Save the journal, apply its operations (rolling back on a real error), run its post-work.
    pub(crate) async fn commit(
        &self,
        journal: Journal,
        crash: &mut Option<CrashPoint>,
    ) -> Result<bool> {
        let path = self.paths.journal_file();
        journal.save(&path)?;
        self.step(crash)?;
        let mut undo: Vec<FileOp> = Vec::new();
        for op in &journal.ops {
            let applied = files::read_optional(op.path()).and_then(|before| {
                op.apply()?;
                Ok(match before {
                    Some(bytes) => FileOp::Write {
                        path: op.path().to_path_buf(),
                        content: String::from_utf8_lossy(&bytes).into_owned(),
                        mode: None,
                    },
                    None => FileOp::remove(op.path()),
                })
            });
            match applied {
                Ok(before) => undo.push(before),
                Err(e) => {
                    tracing::error!(error = %e, "a local change failed; rolling back");
                    for u in undo.iter().rev() {
                        let _ = u.apply();
                    }
                    Journal::clear(&path)?;
                    return Err(e);
                }
            }
            self.step(crash)?;
        }
        let revoked = self.run_after(&journal.after).await;
        self.step(crash)?;
        Journal::clear(&path)?;
        Ok(revoked)
    }

    // ---------------------------------------------------------------- set domain

    /// Validate a typed domain (`/api/system`) and store it as `anaconda_server_api_url`. A certificate failure
    /// is returned as [`Error::Tls`] unless `trust` is given: then the host is recorded in `[ssl] trusted_servers`
    /// and checked again without verification.
    pub async fn set_domain(&self, input: &str, trust: bool) -> Result<String> {
        let domain = normalize_domain(input)?;
        self.validate_domain(&domain, trust).await?;
        let _lock = self.lock()?;
        let mut ini = self.ini()?;
        ini.migrate_old_names();
        ini.set_api_url(Some(&domain));
        if trust {
            ini.add_trusted_server(&domain::netloc(&domain));
        }
        if let Some(text) = ini.changed_text() {
            files::write_atomic(&self.paths.navigator_ini, text.as_bytes(), None)?;
        }
        Ok(domain)
    }

    async fn validate_domain(&self, domain: &str, trust: bool) -> Result<()> {
        match self.client(domain)?.system().await {
            Ok(_) => Ok(()),
            Err(Error::Tls { .. }) if trust => {
                let mut config = self.client_defaults.clone();
                config.trusted = true;
                ServerClient::new(domain, &config)?
                    .system()
                    .await
                    .map(|_| ())
            }
            Err(e) => Err(e),
        }
    }

    // ---------------------------------------------------------------- login

    /// Sign in: server side first, then all local changes as one journaled transaction.
    pub async fn login(&self, username: &str, password: &str) -> Result<LoginOutcome> {
        let mut crash = self.crash.clone();
        let _lock = self.lock()?;
        self.recover_locked().await?;
        if let Some(s) = self.session()? {
            return Err(Error::AlreadyLoggedIn {
                domain: s.domain,
                username: s.username,
            });
        }
        let ini = self.ini()?;
        let domain = ini.api_url().ok_or(Error::NoDomain)?;
        // Refuse unparseable local files before anything happens on the server.
        let condarc_before = self.read_condarc()?;
        let client = self.client(&domain)?;
        client.system().await?;
        let tokens = client.login(username, password).await?;
        let account = client.account(Auth::Jwt(&tokens.token)).await?;
        let token_name = format!(
            "conda-connect-{}-{}",
            today().format("%Y-%m-%d"),
            uuid::Uuid::new_v4()
        );
        let mut secrets = SessionSecrets {
            jwt: tokens.token.clone(),
            refresh_token: tokens.refresh_token.clone(),
            access_token: None,
        };
        // The journal first: from here on, a crash is cleaned up by recovery (the JWT in the secret store, and
        // a token that may get created under `token_name`).
        let pending = Journal {
            operation: "sign-in".into(),
            stage: Stage::ServerPending {
                domain: domain.clone(),
                token_name: token_name.clone(),
            },
            ops: Vec::new(),
            after: After::default(),
        };
        pending.save(&self.paths.journal_file())?;
        self.step(&mut crash)?;
        self.secrets.set(&domain, &secrets)?;
        self.step(&mut crash)?;
        let new_token = NewToken {
            name: token_name.clone(),
            scopes: SIGN_IN_SCOPES.iter().map(|s| s.to_string()).collect(),
            expires_at: Some(
                (today() + chrono::Duration::days(365))
                    .format("%Y-%m-%d")
                    .to_string(),
            ),
        };
        let created = match client.create_token(&tokens.token, &new_token).await {
            Ok(c) => c,
            Err(e) => {
                // The request may have reached the server: remove any token of that name.
                if let Ok(list) = client.list_tokens(&tokens.token).await {
                    for t in list.iter().filter(|t| t.name == token_name) {
                        let _ = client.delete_token(&tokens.token, &t.id).await;
                    }
                }
                self.abort_login(&domain)?;
                return Err(e);
            }
        };
        self.step(&mut crash)?;
        let result = async {
            secrets.access_token = Some(created.token.clone());
            self.secrets.set(&domain, &secrets)?;
            let journal = self.plan_login(
                &domain,
                &account,
                &created,
                &token_name,
                condarc_before,
                ini,
            )?;
            self.commit(journal, &mut crash).await
        }
        .await;
        match result {
            Ok(_) => {}
            Err(e @ Error::SimulatedCrash { .. }) => return Err(e),
            Err(e) => {
                if let Err(revoke) = client.delete_token(&tokens.token, &created.id).await {
                    tracing::error!(error = %revoke, "could not revoke the token of a failed sign-in");
                }
                self.abort_login(&domain)?;
                return Err(e);
            }
        }
        let store = SnapshotStore::new(&self.paths.condarc_storage);
        let user_key = snapshots::user_key(BRAND, &domain, &account.user_id);
        let remembered = store
            .read(&user_key)
            .and_then(|t| condarc::read_settings(&t).ok())
            .and_then(|s| {
                let sel = Selection {
                    default_channels: s.default_channels.unwrap_or_default(),
                    channels: s
                        .channels
                        .unwrap_or_default()
                        .into_iter()
                        .filter(|c| c != "defaults")
                        .collect(),
                };
                (!sel.default_channels.is_empty() || !sel.channels.is_empty()).then_some(sel)
            });
        Ok(LoginOutcome {
            domain,
            username: account.username,
            token_id: created.id,
            remembered,
        })
    }

    fn abort_login(&self, domain: &str) -> Result<()> {
        self.secrets.delete(domain)?;
        Journal::clear(&self.paths.journal_file())
    }

    fn plan_login(
        &self,
        domain: &str,
        account: &crate::engine::client::Account,
        created: &crate::engine::client::CreatedToken,
        token_name: &str,
        condarc_before: Option<String>,
        mut ini: NavigatorIni,
    ) -> Result<Journal> {
        let store = SnapshotStore::new(&self.paths.condarc_storage);
        let user_key = snapshots::user_key(BRAND, domain, &account.user_id);
        let before_text = condarc_before.clone().unwrap_or_default();
        let before_map =
            condarc::parse_strict(&before_text).map_err(|detail| Error::InvalidCondarc {
                path: self.condarc_display(),
                detail,
            })?;
        let new_condarc = condarc::apply_edits(
            &before_text,
            &condarc::login_edits(&format!("{domain}/api/repo")),
        )
        .map_err(|detail| Error::InvalidCondarc {
            path: self.condarc_display(),
            detail,
        })?;
        let mut ops = Vec::new();
        let mut index = store.index();
        match &condarc_before {
            Some(text) => ops.extend(store.plan_save(&mut index, MAIN_KEY, text)),
            None => ops.extend(store.plan_forget(&mut index, MAIN_KEY)),
        }
        index.current = Some(user_key.clone());
        ops.push(store.plan_index(&index));
        let ini_before = INI_LOGIN_KEYS
            .iter()
            .map(|k| (k.to_string(), ini_raw(&ini, k)))
            .collect();
        ini.migrate_old_names();
        ini.set_logged_in(domain, &created.token, &created.id);
        if let Some(text) = ini.changed_text() {
            ops.push(FileOp::write(&self.paths.navigator_ini, &text, None));
        }
        for path in token_files::token_file_paths(&self.paths, domain) {
            ops.push(FileOp::write(&path, &created.token, Some(0o600)));
        }
        let record = SessionRecord {
            domain: domain.to_string(),
            username: account.username.clone(),
            user_id: account.user_id.clone(),
            token_id: created.id.clone(),
            token_name: token_name.to_string(),
            logged_in_at: chrono::Utc::now().to_rfc3339(),
            condarc_existed: condarc_before.is_some(),
            pre_login: OWNED_KEYS
                .iter()
                .map(|k| (k.to_string(), condarc::key_value(&before_map, k)))
                .collect(),
            condarc_written_md5: md5_hex(new_condarc.as_bytes()),
            ini_before,
            user_key,
        };
        ops.push(self.record_op(&record));
        ops.push(FileOp::write(&self.paths.condarc, &new_condarc, None));
        Ok(Journal {
            operation: "sign-in".into(),
            stage: Stage::Apply,
            ops,
            after: After::default(),
        })
    }

    fn record_op(&self, record: &SessionRecord) -> FileOp {
        let json = serde_json::to_string_pretty(record).expect("record serialises");
        FileOp::write(&self.paths.session_file(), &json, Some(0o600))
    }

    // ---------------------------------------------------------------- channels

    /// The active sign-in and its secrets, or [`Error::NotLoggedIn`].
    pub(crate) fn signed_in(&self) -> Result<(SessionRecord, SessionSecrets)> {
        let record = self.session()?.ok_or(Error::NotLoggedIn)?;
        let secrets = self
            .secrets
            .get(&record.domain)?
            .ok_or(Error::NotLoggedIn)?;
        Ok((record, secrets))
    }

    /// The server's channels (the user's, or all with `all`), and what to pre-check: the current `.condarc`
    /// selection, else this user's remembered one.
    pub async fn channels(&self, all: bool) -> Result<ChannelList> {
        let (record, secrets) = self.signed_in()?;
        let client = self.client(&record.domain)?;
        let token = secrets.access_token.as_deref().unwrap_or_default();
        let channels = client.channels(Auth::Token(token), all).await?;
        let current = self
            .read_condarc()?
            .and_then(|t| condarc::read_settings(&t).ok())
            .unwrap_or_default();
        let mut preselected = Selection {
            default_channels: current.default_channels.unwrap_or_default(),
            channels: current
                .channels
                .unwrap_or_default()
                .into_iter()
                .filter(|c| c != "defaults")
                .collect(),
        };
        if preselected.default_channels.is_empty() && preselected.channels.is_empty() {
            let store = SnapshotStore::new(&self.paths.condarc_storage);
            if let Some(s) = store
                .read(&record.user_key)
                .and_then(|t| condarc::read_settings(&t).ok())
            {
                preselected = Selection {
                    default_channels: s.default_channels.unwrap_or_default(),
                    channels: s
                        .channels
                        .unwrap_or_default()
                        .into_iter()
                        .filter(|c| c != "defaults")
                        .collect(),
                };
            }
        }
        Ok(ChannelList {
            channels,
            preselected,
        })
    }

    /// Add Channels: `default_channels` = the chosen defaults, `channels` = [defaults, chosen…] (D1.2). Names are
    /// checked against the server's list (the hidden-channel list included).
    pub async fn select_channels(&self, defaults: &[String], channels: &[String]) -> Result<()> {
        if defaults.is_empty() {
            return Err(Error::NoDefaultChannel);
        }
        let mut crash = self.crash.clone();
        let _lock = self.lock()?;
        self.recover_locked().await?;
        let (mut record, secrets) = self.signed_in()?;
        let client = self.client(&record.domain)?;
        let token = secrets.access_token.as_deref().unwrap_or_default();
        let mut known: Vec<String> = client
            .channels(Auth::Token(token), false)
            .await?
            .iter()
            .map(|c| c.full_name())
            .collect();
        if defaults.iter().chain(channels).any(|n| !known.contains(n)) {
            known.extend(
                client
                    .channels(Auth::Token(token), true)
                    .await?
                    .iter()
                    .map(|c| c.full_name()),
            );
        }
        if let Some(unknown) = defaults.iter().chain(channels).find(|n| !known.contains(n)) {
            return Err(Error::UnknownChannel {
                name: unknown.clone(),
            });
        }
        let current = self.read_condarc()?.unwrap_or_default();
        let new = condarc::apply_edits(&current, &condarc::channel_edits(defaults, channels))
            .map_err(|detail| Error::InvalidCondarc {
                path: self.condarc_display(),
                detail,
            })?;
        let store = SnapshotStore::new(&self.paths.condarc_storage);
        let mut index = store.index();
        let mut ops = store.plan_save(&mut index, &record.user_key, &new);
        ops.push(store.plan_index(&index));
        record.condarc_written_md5 = md5_hex(new.as_bytes());
        ops.push(self.record_op(&record));
        ops.push(FileOp::write(&self.paths.condarc, &new, None));
        let journal = Journal {
            operation: "channel selection".into(),
            stage: Stage::Apply,
            ops,
            after: After::default(),
        };
        self.commit(journal, &mut crash).await.map(|_| ())
    }

    // ---------------------------------------------------------------- logout

    /// Sign out: revoke the server token (best effort), restore `.condarc` (D1.5), clear the ini keys (D2.3),
    /// remove the token files and secrets.
    pub async fn logout(&self) -> Result<LogoutOutcome> {
        let mut crash = self.crash.clone();
        let _lock = self.lock()?;
        self.recover_locked().await?;
        let Some(record) = self.session()? else {
            return self.logout_detected();
        };
        let current = self.read_condarc()?;
        let store = SnapshotStore::new(&self.paths.condarc_storage);
        let mut index = store.index();
        let mut ops = Vec::new();
        // keep a copy of the signed-in version (and the selection for next time)
        if let Some(text) = &current {
            ops.extend(store.plan_save(&mut index, &record.user_key, text));
        }
        index.current = None;
        ops.push(store.plan_index(&index));
        let untouched = current.as_deref().map(|t| md5_hex(t.as_bytes()))
            == Some(record.condarc_written_md5.clone());
        let restore = if untouched {
            match (record.condarc_existed, store.read(MAIN_KEY)) {
                (true, Some(original)) => {
                    ops.push(FileOp::write(&self.paths.condarc, &original, None));
                    CondarcRestore::Exact
                }
                (false, _) => {
                    ops.push(FileOp::remove(&self.paths.condarc));
                    CondarcRestore::Removed
                }
                (true, None) => self.plan_revert(&record, current.as_deref(), &mut ops)?,
            }
        } else {
            self.plan_revert(&record, current.as_deref(), &mut ops)?
        };
        let mut ini = self.ini()?;
        for key in INI_LOGIN_KEYS {
            match record.ini_before.get(key).cloned().flatten() {
                None => ini.remove_key(key),
                Some(_) => ini.set_none(key),
            }
        }
        if let Some(text) = ini.changed_text() {
            ops.push(FileOp::write(&self.paths.navigator_ini, &text, None));
        }
        for path in token_files::removal_paths(&self.paths, &record.domain) {
            if path.exists() {
                ops.push(FileOp::remove(&path));
            }
        }
        ops.push(FileOp::remove(&self.paths.session_file()));
        let after = After {
            revoke: Some(RevokeToken {
                domain: record.domain.clone(),
                token_id: record.token_id.clone(),
                account: record.domain.clone(),
            }),
            delete_secrets: vec![record.domain.clone()],
        };
        let journal = Journal {
            operation: "sign-out".into(),
            stage: Stage::Apply,
            ops,
            after,
        };
        let revoked = self.commit(journal, &mut crash).await?;
        Ok(LogoutOutcome {
            domain: record.domain,
            server_token_revoked: revoked,
            condarc: restore,
        })
    }

    fn plan_revert(
        &self,
        record: &SessionRecord,
        current: Option<&str>,
        ops: &mut Vec<FileOp>,
    ) -> Result<CondarcRestore> {
        let Some(current) = current else {
            return Ok(CondarcRestore::KeysReverted);
        };
        let edits: Vec<(&str, KeyEdit)> = OWNED_KEYS
            .iter()
            .map(|k| match record.pre_login.get(*k).cloned().flatten() {
                Some(v) => (*k, KeyEdit::Set(v)),
                None => (*k, KeyEdit::Remove),
            })
            .collect();
        let reverted =
            condarc::apply_edits(current, &edits).map_err(|detail| Error::InvalidCondarc {
                path: self.condarc_display(),
                detail,
            })?;
        ops.push(FileOp::write(&self.paths.condarc, &reverted, None));
        Ok(CondarcRestore::KeysReverted)
    }

    /// Sign-out of a sign-in conda-connect did not make (token file / conda-repo-cli): remove the token files
    /// for the domain and clear the ini keys. The server token cannot be revoked (its id is unknown).
    fn logout_detected(&self) -> Result<LogoutOutcome> {
        let status = self.status()?;
        let domain = match (status.logged_in, status.domain) {
            (true, Some(d)) => d,
            _ => return Err(Error::NotLoggedIn),
        };
        for path in token_files::removal_paths(&self.paths, &domain) {
            files::remove_if_exists(&path)?;
        }
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
            condarc: CondarcRestore::Untouched,
        })
    }

    // ---------------------------------------------------------------- status

    pub fn status(&self) -> Result<Status> {
        let settings = match self.read_condarc() {
            Ok(Some(t)) => condarc::read_settings(&t).unwrap_or_default(),
            _ => Default::default(),
        };
        let mut status = Status {
            logged_in: false,
            domain: None,
            username: None,
            token_id: None,
            channel_alias: settings.channel_alias,
            channels: settings.channels.unwrap_or_default(),
            default_channels: settings.default_channels.unwrap_or_default(),
            source: None,
            secrets_backend: self.secrets.backend_name().into(),
        };
        if let Some(record) = self.session()? {
            status.logged_in = true;
            status.domain = Some(record.domain);
            status.username = Some(record.username);
            status.token_id = Some(record.token_id);
            status.source = Some(LoginSource::CondaConnect);
            return Ok(status);
        }
        let ini = self.ini().ok();
        let api_url = ini.as_ref().and_then(|i| i.api_url());
        if let Some(domain) = &api_url
            && token_files::find_token_for(&self.paths, domain).is_some()
        {
            status.logged_in = true;
            status.domain = Some(domain.clone());
            status.source = Some(LoginSource::TokenFile);
        } else if api_url.is_none()
            && let Some((domain, _)) = token_files::find_repo_cli_login(&self.paths)
        {
            status.logged_in = true;
            status.domain = Some(domain);
            status.source = Some(LoginSource::CondaRepoCli);
        } else {
            status.domain = api_url;
        }
        Ok(status)
    }

    /// The access token of the active sign-in (for the index fetcher).
    pub fn access_token(&self) -> Result<Option<(String, String)>> {
        if let Some(record) = self.session()? {
            let token = self
                .secrets
                .get(&record.domain)?
                .and_then(|s| s.access_token);
            return Ok(token.map(|t| (record.domain, t)));
        }
        let status = self.status()?;
        if let (true, Some(domain)) = (status.logged_in, status.domain) {
            return Ok(token_files::find_token_for(&self.paths, &domain)
                .or_else(|| token_files::find_repo_cli_login(&self.paths).map(|(_, t)| t))
                .map(|t| (domain, t)));
        }
        Ok(None)
    }
}

fn ini_raw(ini: &NavigatorIni, key: &str) -> Option<String> {
    ini.raw(key)
}

/// The preferences the app shows (Navigator's names in the ini).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preferences {
    pub domain: Option<String>,
    pub ssl_verification: bool,
    pub ssl_certificate: Option<String>,
    pub show_hidden_channels: bool,
}

impl Engine {
    /// Update Index over the configured channels, with the active sign-in's token.
    pub async fn update_index(
        &self,
        progress: impl Fn(crate::engine::index::Progress) + Send + Sync,
    ) -> Result<crate::engine::index::IndexReport> {
        let settings = match self.read_condarc()? {
            Some(t) => condarc::read_settings(&t).unwrap_or_default(),
            None => Default::default(),
        };
        let signed_in = self.access_token()?;
        let domain = signed_in
            .as_ref()
            .map(|(d, _)| d.clone())
            .or(self.status()?.domain);
        let client = match &domain {
            Some(d) => self.client(d)?,
            None => ServerClient::new("http://127.0.0.1", &self.client_defaults)?,
        };
        let token = signed_in.as_ref().map(|(_, t)| t.as_str());
        crate::engine::index::update_index(
            &client,
            &settings,
            token,
            &self.paths.repodata_cache(),
            progress,
        )
        .await
    }

    /// `GET /api/system` answered with a 2xx within 5 s.
    pub async fn healthy(&self, domain: &str) -> bool {
        match self.client(domain) {
            Ok(c) => c.healthy().await,
            Err(_) => false,
        }
    }

    pub fn preferences(&self) -> Result<Preferences> {
        let ini = self.ini()?;
        Ok(Preferences {
            domain: ini.api_url(),
            ssl_verification: ini.ssl_verification(),
            ssl_certificate: ini.ssl_certificate(),
            show_hidden_channels: ini.show_hidden_channels(),
        })
    }

    /// Save preferences. A new domain is validated like Set Domain (with `trust` for a certificate the user
    /// accepted); a certificate path must exist. Changing the domain while signed in is refused.
    pub async fn save_preferences(&self, prefs: &Preferences, trust: bool) -> Result<Preferences> {
        let current = self.preferences()?;
        let mut domain = current.domain.clone();
        if let Some(typed) = prefs
            .domain
            .as_deref()
            .map(str::trim)
            .filter(|d| !d.is_empty())
            // the stored domain, shown unchanged, is not normalised again (normalising is not idempotent for
            // `api.api.…` hosts: one leading `api.` label is stripped each time)
            .filter(|d| Some(*d) != current.domain.as_deref())
        {
            let normalized = normalize_domain(typed)?;
            if Some(&normalized) != current.domain.as_ref() {
                if let Some(s) = self.session()? {
                    return Err(Error::AlreadyLoggedIn {
                        domain: s.domain,
                        username: s.username,
                    });
                }
                self.validate_domain(&normalized, trust).await?;
            }
            domain = Some(normalized);
        }
        let cert = prefs
            .ssl_certificate
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty());
        if let Some(c) = cert
            && prefs.ssl_verification
            && !std::path::Path::new(c).is_file()
        {
            return Err(Error::Refused {
                reason: "File not found.".into(),
            });
        }
        let _lock = self.lock()?;
        let mut ini = self.ini()?;
        ini.migrate_old_names();
        if trust && let Some(d) = &domain {
            ini.add_trusted_server(&domain::netloc(d));
        }
        if domain != current.domain {
            ini.set_api_url(domain.as_deref());
        }
        if prefs.ssl_verification != current.ssl_verification {
            ini.set_ssl_verification(prefs.ssl_verification);
        }
        if cert.map(str::to_string) != current.ssl_certificate {
            ini.set_ssl_certificate(cert);
        }
        if prefs.show_hidden_channels != current.show_hidden_channels {
            ini.set_show_hidden_channels(prefs.show_hidden_channels);
        }
        if let Some(text) = ini.changed_text() {
            files::write_atomic(&self.paths.navigator_ini, text.as_bytes(), None)?;
        }
        self.preferences()
    }
}

/// A server token that sign-out could not revoke (the server was unreachable): retried later, so that no token
/// is left behind on the server. Its JWT waits in the secret store under [`PendingRevocation::account`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingRevocation {
    pub domain: String,
    pub token_id: String,
    /// Unix seconds of the last attempt.
    pub last_attempt: i64,
}

impl PendingRevocation {
    pub fn account(&self) -> String {
        format!("pending-revocation|{}|{}", self.domain, self.token_id)
    }
}

impl Engine {
    fn pending_file(&self) -> std::path::PathBuf {
        self.paths.data_dir.join("pending_revocations.json")
    }

    /// Token revocations still to do.
    pub fn pending_revocations(&self) -> Vec<PendingRevocation> {
        std::fs::read(self.pending_file())
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    fn save_pending(&self, list: &[PendingRevocation]) {
        let result = if list.is_empty() {
            files::remove_if_exists(&self.pending_file()).map(|_| ())
        } else {
            let json = serde_json::to_vec_pretty(list).expect("pending revocations serialise");
            files::write_atomic(&self.pending_file(), &json, Some(0o600))
        };
        if let Err(e) = result {
            tracing::error!(error = %e, "could not record pending token revocations");
        }
    }

    /// Keep what is needed to revoke `r` later: its JWT under a separate account, and an entry in the list.
    fn defer_revocation(&self, r: &RevokeToken) {
        let Ok(Some(secrets)) = self.secrets.get(&r.account) else {
            return;
        };
        let pending = PendingRevocation {
            domain: r.domain.clone(),
            token_id: r.token_id.clone(),
            last_attempt: chrono::Utc::now().timestamp(),
        };
        let keep = SessionSecrets {
            jwt: secrets.jwt,
            refresh_token: None,
            access_token: None,
        };
        if let Err(e) = self.secrets.set(&pending.account(), &keep) {
            tracing::error!(error = %e, "could not keep the session for a later revocation");
            return;
        }
        let mut list = self.pending_revocations();
        list.retain(|p| p.token_id != pending.token_id);
        list.push(pending);
        self.save_pending(&list);
    }

    /// Retry pending revocations (at most once per `revoke_retry_after`). Returns a sentence when one succeeded.
    async fn retry_revocations(&self) -> Option<String> {
        let list = self.pending_revocations();
        if list.is_empty() {
            return None;
        }
        let now = chrono::Utc::now().timestamp();
        let mut keep = Vec::new();
        let mut done = Vec::new();
        for mut p in list {
            if now - p.last_attempt < self.revoke_retry_after.as_secs() as i64 {
                keep.push(p);
                continue;
            }
            let account = p.account();
            let Ok(Some(s)) = self.secrets.get(&account) else {
                continue;
            };
            // a short timeout: this runs before the user's command
            let mut quick = self.clone();
            quick.client_defaults.timeout = Some(
                self.client_defaults
                    .system_timeout
                    .unwrap_or(crate::engine::client::SYSTEM_TIMEOUT),
            );
            let outcome = match quick.client(&p.domain) {
                Ok(c) => c.delete_token(&s.jwt, &p.token_id).await,
                Err(e) => Err(e),
            };
            match outcome {
                // revoked now, or the server no longer knows it / no longer accepts the session: nothing more to do
                Ok(_) | Err(Error::Unauthorized { .. }) => {
                    let _ = self.secrets.delete(&account);
                    done.push(p.domain.clone());
                }
                Err(e) => {
                    tracing::info!(error = %e, "token revocation still pending");
                    p.last_attempt = now;
                    keep.push(p);
                }
            }
        }
        self.save_pending(&keep);
        (!done.is_empty()).then(|| {
            format!(
                "The server token left by an earlier sign-out from {} was revoked.",
                done.join(", ")
            )
        })
    }
}
