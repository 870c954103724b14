//! The sign-in session as one transaction: server side first (validate the domain → log in → account → create
//! the access token), then every local change through the journal: the byte-exact `.condarc` snapshot, the
//! minimal `.condarc` edits, Navigator's ini keys, conda's token files and conda-connect's session record.
//! Add Channels, token regeneration and sign-out go through the same journal. Any failure after the server token
//! exists revokes it (or records the revocation until the server confirms it); a crash is completed at the next
//! start of any command ([`Engine::recover`]). See `docs/design.md` for the whole design.
//!
//! One file per operation: [`login`], [`channels`], [`logout`], [`recovery`], [`revocations`],
//! [`preferences`], [`status`]; this file holds the shared types and the [`Engine`] itself.

mod channels;
mod clients;
mod finish;
mod login;
mod logout;
mod preferences;
mod promote;
mod recovery;
mod renewal;
mod revocations;
mod secondary;
mod servers;
mod sso_login;
mod status;
mod token_login;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use crate::engine::client::ChannelInfo;
use crate::engine::client::{ClientConfig, ServerClient};
use crate::engine::condarc::{self, CondaSettings, CondaValue};
use crate::engine::domain;
use crate::engine::error::{Error, Result};
use crate::engine::files;
use crate::engine::journal::{After, Applied, CrashPoint, FileOp, Journal, Keyring, Stage};
use crate::engine::lock::ConfigLock;
use crate::engine::navigator_ini::NavigatorIni;
use crate::engine::paths::Paths;
use crate::engine::secrets::{SecretStore, SessionSecrets};
pub use channels::check_selection;
pub use finish::FinishOutcome;
pub use login::SignIn;
pub use preferences::{DomainChoice, Preferences, Trust, checked_client_id};
pub(crate) use renewal::StoredSession;
pub use renewal::{jwt_expiry, jwt_lapsed};
pub use revocations::{PendingRevocation, Unrevoked};
pub use servers::{Role, SecondaryRecord, ServerList, ServerStatus, channel_url, repo_base};
pub use sso_login::{SsoAuthenticated, SsoMethod};
pub use token_login::{GivenToken, checked_token, synthetic_id, validate_given_token};

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
    /// conda-connect's keys as they were before sign-in (`None` = absent), as values.
    pub pre_login: BTreeMap<String, Option<CondaValue>>,
    /// The same keys as the exact text of their entries (absent = the key was not there), so that sign-out puts
    /// back `default_channels:` (null), `1.0`, tags and nested values exactly. Empty in records of older versions.
    #[serde(default)]
    pub pre_login_entries: BTreeMap<String, String>,
    /// md5 of `~/.condarc` as conda-connect last wrote it: equal at sign-out = the user did not touch it.
    pub condarc_written_md5: String,
    /// The ini's sign-in keys before sign-in (raw values; `None` = absent).
    pub ini_before: BTreeMap<String, Option<String>>,
    /// The ini's permission bits before sign-in (it is 0600 while it holds the token); `None` = it did not exist.
    #[serde(default)]
    pub ini_mode_before: Option<u32>,
    /// Navigator's per-user snapshot key.
    pub user_key: String,
    /// Set for a single sign-on: the identity provider's client id (sign-out ends that session too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sso_client_id: Option<String>,
    /// The sign-in token's expiry date (`YYYY-MM-DD`), as asked for at its creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_expires: Option<String>,
    /// The clients signed in besides conda (rattler, netrc), and where their credentials are.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clients: Vec<crate::engine::clients::ClientRecord>,
    /// Signed in with a token the user was given: it is not conda-connect's, so sign-out does not revoke it and
    /// token management is refused.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub given_token: bool,
}

/// A channel selection (Add Channels).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Selection {
    pub default_channels: Vec<String>,
    pub channels: Vec<String>,
}

impl Selection {
    /// Every channel named, default channels first (the probe of rattler's credential form tries them in order).
    pub fn names(&self) -> Vec<String> {
        self.default_channels
            .iter()
            .chain(&self.channels)
            .cloned()
            .collect()
    }

    /// The selection a `.condarc` holds (`defaults` is implied in `channels`, so it is left out).
    pub fn from_settings(settings: CondaSettings) -> Selection {
        Selection {
            default_channels: settings.default_channels.unwrap_or_default(),
            channels: settings
                .channels
                .unwrap_or_default()
                .into_iter()
                .filter(|c| c != "defaults")
                .collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.default_channels.is_empty() && self.channels.is_empty()
    }

    /// Refuse what can never be applied, before anything happens: no default channel, or a name conda-connect
    /// would not write.
    pub fn check(&self) -> Result<()> {
        if self.default_channels.is_empty() {
            return Err(Error::NoDefaultChannel);
        }
        for name in self.default_channels.iter().chain(&self.channels) {
            crate::engine::server_values::check_channel_name(name)?;
        }
        Ok(())
    }
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
    /// `password` or `sso` for a sign-in conda-connect made.
    pub auth: Option<String>,
    pub secrets_backend: String,
    /// Server tokens of earlier sessions not revoked yet (shown until they are).
    pub pending_revocations: Vec<Unrevoked>,
    /// Each client signed in, and where its credential lives (conda first).
    pub consumers: Vec<crate::engine::clients::Consumer>,
    /// Every server conda-connect signed in to, the primary first (several servers at once).
    pub servers: Vec<ServerStatus>,
    /// The organization's policy in force, and where it comes from (absent when there is none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<PolicyInForce>,
}

/// The policy in force, for `status` and doctor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyInForce {
    /// Its sources, highest precedence first.
    pub sources: Vec<String>,
    pub settings: crate::engine::policy::Policy,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginOutcome {
    pub domain: String,
    pub username: String,
    pub token_id: String,
    /// This user's selection from an earlier sign-in on this server, to pre-check.
    pub remembered: Option<Selection>,
    /// The selection applied in the same transaction (`login` with channel options).
    pub applied: Option<Selection>,
    /// Sentences about what else happened (a linked `.condarc` edited at its target, a pending revocation
    /// finished, …).
    pub notes: Vec<String>,
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
    /// A secondary server's channel items and `custom_channels` entries were taken out; everything else kept.
    EntriesRemoved,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutOutcome {
    pub domain: String,
    pub server_token_revoked: bool,
    /// The server token, when it could not be revoked now: retried later, or (when the session has ended) left
    /// for `logout --finish`. `None` when it was revoked, and for a sign-in made outside conda-connect, whose
    /// token conda-connect cannot revoke.
    pub unrevoked: Option<Unrevoked>,
    pub condarc: CondarcRestore,
    /// Sentences about what else happened (token files left alone because someone else changed them, …).
    pub notes: Vec<String>,
}

/// The channel list for Add Channels, with what to pre-check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelList {
    pub channels: Vec<ChannelInfo>,
    pub preselected: Selection,
}

/// What to do when a journaled change fails half-way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OnFailure {
    /// Put back every file already changed and drop the journal (nothing happened).
    Undo,
    /// Put back every file already changed and go back to this journal (a sign-in's `ServerPending` record, so
    /// that the server token it names is never without a record, even if the process dies right after).
    UndoTo(Box<Journal>),
    /// Keep the journal: the change must happen (the server already made it), so recovery completes it.
    Complete,
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
    /// The most time pending revocations may add to a command.
    pub revoke_budget: Duration,
    /// The organization's policy in force ([`crate::engine::policy`]); empty when none is pushed.
    pub policy: std::sync::Arc<crate::engine::policy::Policy>,
}

/// Apply one operation; the operation that puts the file (or keyring entry) back (`None` when nothing was
/// changed). The inverse is a compare-and-swap against what was written, so an undo replayed later never
/// overwrites a change made since.
fn apply_recording_undo(op: &FileOp, keyring: &dyn Keyring) -> Result<Option<FileOp>> {
    let before = op.current(keyring)?;
    let mode = files::mode_of(op.path());
    if op.apply_with(keyring)? == Applied::LeftAlone {
        return Ok(None);
    }
    let after = op.current(keyring)?;
    if after == before && files::mode_of(op.path()) == mode {
        return Ok(None);
    }
    Ok(Some(op.inverse(before.as_deref(), after.as_deref(), mode)))
}

/// Today's date as the server counts it (UTC), for token names and expiry dates.
pub fn today() -> chrono::NaiveDate {
    chrono::Utc::now().date_naive()
}

pub(crate) fn md5_hex(bytes: &[u8]) -> String {
    crate::engine::journal::md5_hex(bytes)
}

impl Engine {
    pub fn new(paths: Paths, secrets: SecretStore) -> Self {
        files::set_temp_owner(&paths.data_dir);
        Engine {
            paths,
            secrets,
            client_defaults: ClientConfig::default(),
            crash: None,
            lock_wait: Duration::from_secs(10),
            revoke_retry_after: Duration::from_secs(60),
            revoke_budget: Duration::from_millis(1200),
            policy: Default::default(),
        }
    }

    /// Where the policy's `key` comes from (for messages).
    pub fn policy_source(&self, key: &str) -> String {
        self.policy
            .origin
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, source)| source.clone())
            .unwrap_or_else(|| "the policy".into())
    }

    /// Take the configuration lock of this HOME and of every existing token folder (two users may share one
    /// `BINSTAR_CONFIG_DIR`), waiting up to the engine's
    /// lock wait. The wait sleeps on the runtime's timer instead of blocking one of its threads (the window runs its
    /// work on a small runtime).
    pub(crate) async fn lock_async(&self) -> Result<ConfigLock> {
        let start = std::time::Instant::now();
        loop {
            let attempt = ConfigLock::acquire(&self.paths.lock_file(), Duration::ZERO)
                .and_then(|lock| lock.with_dirs(&self.paths.token_dirs, Duration::ZERO));
            match attempt {
                Err(Error::Locked) if start.elapsed() < self.lock_wait => {
                    tokio::time::sleep(Duration::from_millis(25)).await
                }
                other => return other,
            }
        }
    }

    /// Run `write` under the configuration lock (for writes in the data folder that are not the engine's, such as
    /// the window's settings file).
    pub async fn locked<T>(&self, write: impl FnOnce() -> Result<T>) -> Result<T> {
        let _lock = self.lock_async().await?;
        write()
    }

    fn step(&self, crash: &mut Option<CrashPoint>) -> Result<()> {
        match crash {
            Some(point) => point.step(),
            None => Ok(()),
        }
    }

    fn condarc_display(&self) -> String {
        self.paths.display(&self.paths.condarc)
    }

    pub(crate) fn invalid_condarc(&self, detail: String) -> Error {
        Error::InvalidCondarc {
            path: self.condarc_display(),
            detail,
        }
    }

    /// Read `~/.condarc` as text, refusing what cannot be parsed.
    pub(crate) fn read_condarc(&self) -> Result<Option<String>> {
        self.parse_condarc(files::read_optional(&self.paths.condarc)?)
    }

    /// [`Engine::read_condarc`] for planning a change: a read that a concurrent `conda config` (truncate, then
    /// write) cannot catch half-written.
    pub(crate) fn read_condarc_settled(&self) -> Result<Option<String>> {
        self.parse_condarc(files::read_settled(&self.paths.condarc)?)
    }

    fn parse_condarc(&self, bytes: Option<Vec<u8>>) -> Result<Option<String>> {
        let Some(bytes) = bytes else {
            return Ok(None);
        };
        let text = String::from_utf8(bytes)
            .map_err(|_| self.invalid_condarc("it is not UTF-8 text".into()))?;
        condarc::parse_strict(&text).map_err(|detail| self.invalid_condarc(detail))?;
        Ok(Some(text))
    }

    /// conda's settings from `~/.condarc`; an absent or unreadable file reads as conda's defaults.
    pub(crate) fn condarc_settings(&self) -> CondaSettings {
        match self.read_condarc() {
            Ok(Some(text)) => condarc::read_settings(&text).unwrap_or_default(),
            _ => CondaSettings::default(),
        }
    }

    pub(crate) fn ini(&self) -> Result<NavigatorIni> {
        NavigatorIni::load(&self.paths.navigator_ini)
    }

    /// A sentence when `~/.condarc` is a symbolic link (its target is edited and the link kept).
    pub(crate) fn condarc_link_note(&self) -> Option<String> {
        files::is_link(&self.paths.condarc).then(|| {
            let target = files::resolve_links(&self.paths.condarc)
                .map(|t| t.display().to_string())
                .unwrap_or_default();
            format!(
                "{} is a symbolic link: its target {target} was edited and the link kept.",
                self.condarc_display()
            )
        })
    }

    /// Refuse before anything happens when a file conda-connect must change is read-only (or in a read-only
    /// folder, or not a regular file).
    pub(crate) fn check_writable(&self, paths: &[&Path]) -> Result<()> {
        for path in paths {
            files::check_writable(path, &self.paths.display(path))?;
        }
        Ok(())
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

    /// The active sign-in and its secrets, or [`Error::NotLoggedIn`].
    pub(crate) fn signed_in(&self) -> Result<(SessionRecord, SessionSecrets)> {
        let record = self.session()?.ok_or(Error::NotLoggedIn)?;
        let secrets = self
            .secrets
            .get(&record.domain)?
            .ok_or(Error::NotLoggedIn)?;
        Ok((record, secrets))
    }

    /// A client for `domain` with the user's trust, CA bundle and proxies.
    pub fn client(&self, domain: &str) -> Result<ServerClient> {
        ServerClient::new(domain, &self.client_config(domain)?)
    }

    /// The connection settings for `domain`: the user's trust for that host, CA bundle and proxies.
    pub fn client_config(&self, domain: &str) -> Result<ClientConfig> {
        let mut config = self.client_defaults.clone();
        let ini = self.ini().ok();
        // trusted by the user: that host, with the certificate whose fingerprint was pinned (a host Navigator
        // trusts without a pin asks the question again)
        let netloc = domain::netloc(domain);
        config.pinned = ini
            .as_ref()
            .filter(|i| i.trusted_servers().contains(&netloc))
            .and_then(|i| i.pinned_certificate(&netloc));
        if let Some(ini) = &ini
            && ini.ssl_verification()
            && let Some(cert) = ini.ssl_certificate()
            && Path::new(&cert).is_file()
        {
            config.ca_bundle = Some(cert.into());
        }
        let settings = self.condarc_settings();
        if config.ca_bundle.is_none()
            && let Some(condarc::CondaSsl::CaBundle(path)) = settings.ssl_verify
            && Path::new(&path).is_file()
        {
            config.ca_bundle = Some(path.into());
        }
        config.proxies = settings.proxy_servers;
        // the organization's CA bundle wins over the user's (a missing one is an error, never "no verification")
        if let Some(bundle) = &self.policy.ca_bundle {
            if !bundle.is_file() {
                return Err(Error::InvalidPolicy {
                    source: self.policy_source("ca_bundle"),
                    key: "ca_bundle".into(),
                    detail: format!("{} is not a file", bundle.display()),
                });
            }
            config.ca_bundle = Some(bundle.clone());
        }
        Ok(config)
    }

    /// Save the journal, apply its operations, run its post-work. On a failure half-way, [`OnFailure::Undo`]
    /// puts every file back as it was (content and mode) and drops the journal; [`OnFailure::Complete`] keeps
    /// the journal so that the next command completes it. The undo is journaled itself before it starts, so a
    /// failure during the undo (a disk that keeps failing) leaves a journal the next command finishes
    /// ([`Error::Unfinished`]). Returns what the after-work achieved (the server token's revocation, if any).
    pub(crate) async fn commit(
        &self,
        journal: Journal,
        crash: &mut Option<CrashPoint>,
        on_failure: OnFailure,
    ) -> Result<recovery::AfterOutcome> {
        let path = self.paths.journal_file();
        journal.save(&path)?;
        self.step(crash)?;
        let mut undo: Vec<FileOp> = Vec::new();
        for op in &journal.ops {
            match apply_recording_undo(op, &self.secrets) {
                Ok(Some(inverse)) => undo.push(inverse),
                Ok(None) => {}
                Err(error) => return Err(self.undo_commit(&journal, undo, on_failure, error)),
            }
            self.step(crash)?;
        }
        let after = self.run_after(&journal).await;
        self.step(crash)?;
        if after.complete
            && let Err(error) = Journal::clear(&path)
        {
            // every change is made; replaying the journal at the next start is harmless
            tracing::warn!(error = %error, "the finished journal could not be removed; the next start replays it");
        }
        Ok(after)
    }

    /// A journaled change failed at an operation: complete it later, or undo what was applied, journaling the
    /// undo first. Returns the error to report.
    fn undo_commit(
        &self,
        journal: &Journal,
        undo: Vec<FileOp>,
        on_failure: OnFailure,
        error: Error,
    ) -> Error {
        let path = self.paths.journal_file();
        let then = match on_failure {
            OnFailure::Complete => {
                tracing::error!(error = %error, operation = %journal.operation, "a local change failed; it stays journaled");
                return Error::Unfinished {
                    reason: format!(
                        "{error} The {} is recorded and will be completed the next time conda-connect runs.",
                        journal.operation
                    ),
                };
            }
            OnFailure::Undo => None,
            OnFailure::UndoTo(previous) => Some(previous),
        };
        tracing::error!(error = %error, operation = %journal.operation, "a local change failed; rolling back");
        let rollback = Journal {
            operation: format!("undo of the {}", journal.operation),
            stage: Stage::Apply,
            ops: undo.into_iter().rev().collect(),
            after: After {
                then,
                ..After::default()
            },
        };
        if let Err(save_error) = rollback.save(&path) {
            // not even the undo can be recorded: the change stays journaled, and is completed by the next start
            tracing::error!(error = %save_error, "the undo could not be journaled");
            return Error::Unfinished {
                reason: format!(
                    "{error} It could not be undone either; the {} is recorded and will be completed the next time \
                     conda-connect runs.",
                    journal.operation
                ),
            };
        }
        for op in &rollback.ops {
            if let Err(undo_error) = op.apply_with(&self.secrets) {
                tracing::error!(error = %undo_error, path = %op.path().display(), "could not roll back");
                return Error::Unfinished {
                    reason: format!(
                        "{error} The {} could not be undone completely yet; the next time conda-connect runs it \
                         will be.",
                        journal.operation
                    ),
                };
            }
        }
        let finished = match &rollback.after.then {
            Some(previous) => previous.save(&path),
            None => Journal::clear(&path),
        };
        if let Err(finish_error) = finished {
            // the undo journal stays; replaying it is harmless
            tracing::warn!(error = %finish_error, "the undo's journal could not be replaced");
        }
        error
    }
}
