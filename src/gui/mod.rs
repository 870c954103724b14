//! The desktop app (iced). A thin top level: it owns the engine handle and the screens, routes messages, runs the
//! sign-in flow (Connect → Set Domain → Login → Add Channels → Update Index), the Channels screen and the health
//! check. Every network and file operation runs as a `Task`, so the window keeps repainting; each dialog says
//! itself whether it is busy and what Enter and Esc mean.

pub mod dialog;
pub mod focus;
pub mod screen;
pub mod settings;
pub mod style;

use std::time::Duration;

use iced::keyboard::{self, key};
use iced::widget::{column, container, row, space, text};
use iced::{Element, Font, Length, Subscription, Task, Theme};

use crate::engine::health::Connection;
use crate::engine::index_diagnosis::{Cause, Failure};
use crate::engine::session::{LoginSource, Preferences, Selection, Status};
use crate::engine::tokens::Expiry;
use crate::engine::{Engine, Error};
use crate::gui::style::Icon;
pub use dialog::Dialog;
use screen::{
    add_channels, connect, diagnose, home, login, preferences, set_domain, sign_out, tokens,
};
use settings::AppSettings;
use style::Tone;

pub const APP_NAME: &str = "conda-connect";
/// The window's app id (Wayland) and WM_CLASS (X11): matches `StartupWMClass` in packaging/conda-connect.desktop.
pub const APP_ID: &str = "conda-connect";
pub const FONT_REGULAR: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
pub const FONT_BOLD: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf");
/// The icons (a 6 KB subset of Lucide; see `assets/fonts/README.md`).
pub const FONT_ICONS: &[u8] = include_bytes!("../../assets/fonts/lucide-subset.ttf");
pub const FONT_ITALIC: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Oblique.ttf");
pub const DEFAULT_FONT: Font = Font::with_name("DejaVu Sans");
/// The app icon as 64×64 RGBA (generated from assets/icons/conda-connect.svg).
const ICON_RGBA: &[u8] = include_bytes!("../../assets/icons/conda-connect-64.rgba");
pub const HEALTH_INTERVAL: Duration = Duration::from_secs(10);
/// How often the window looks whether the command line changed the sign-in (a few file stats).
pub const CHANGE_INTERVAL: Duration = Duration::from_secs(3);
/// The smallest window the layout is made for (header, both panels, every dialog).
pub const MIN_SIZE: iced::Size = iced::Size::new(900.0, 620.0);
pub const DEFAULT_SIZE: iced::Size = iced::Size::new(1040.0, 700.0);

pub const NO_CHANNELS: &str =
    "You are signed in, but no channel is chosen: conda cannot install from the server yet.";
pub const CHOOSE_CHANNELS: &str = "Choose channels…";
pub const TOKEN_REJECTED: &str = "The server no longer accepts conda's token (revoked or expired). Sign in again to get a new one.";
pub const SIGN_IN_AGAIN: &str = "Sign in again…";
/// Opens Diagnose from a banner.
pub const DIAGNOSE: &str = "Diagnose…";
pub const CONDA_DEFAULTS: &str = "No channels are configured in ~/.condarc: conda will use its built-in defaults (repo.anaconda.com) — no Update Index was run.";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    Unknown,
    Healthy,
    Unreachable,
    /// Reachable again after an outage (banner until dismissed).
    Restored,
    /// The server answers but refuses the token.
    TokenRejected,
    /// The certificate is no longer trusted.
    Untrusted,
    /// The server presents another certificate than the one the user trusted.
    CertificateChanged,
}

/// When a notice leaves on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Only while signed in (gone after sign-out).
    SignedIn,
    /// Only while signed out (gone after the next sign-in).
    SignedOut,
}

/// A message in the main window that belongs to a state and leaves with it (or when dismissed). Notices stack in
/// a fixed corner over the window, so nothing moves when one comes or goes; a success leaves by itself after
/// [`NOTICE_LIFETIME`], a problem stays until it is closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub text: String,
    pub tone: Tone,
    pub scope: Scope,
    pub shown_at: std::time::Instant,
}

impl Notice {
    /// It leaves by itself (a success or a piece of information, not a problem).
    pub fn expires(&self) -> bool {
        matches!(self.tone, Tone::Success | Tone::Info)
    }
}

/// How long a success notice stays.
pub const NOTICE_LIFETIME: Duration = Duration::from_secs(8);
/// The width of the notices' corner.
const NOTICE_WIDTH: f32 = 460.0;
/// At most this many notices at once (the oldest leaves first).
const MAX_NOTICES: usize = 3;

/// The ids of the controls that open dialogs: the focus returns to them when the dialog closes.
pub mod ids {
    use iced::advanced::widget::Id;

    pub fn connect() -> Id {
        Id::new("header-connect")
    }
    pub fn channels() -> Id {
        Id::new("header-channels")
    }
    pub fn tokens() -> Id {
        Id::new("header-tokens")
    }
    pub fn preferences() -> Id {
        Id::new("header-preferences")
    }
}

/// Why Update Index failed, in one banner: the cause that matters most among the failed channel directories
/// ([`Engine::diagnose_index`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexProblem {
    Offline(String),
    Untrusted(String),
    TokenRejected,
    /// Channels the server does not have (404).
    Missing(Vec<String>),
    /// Channels the account may not read (403).
    NoAccess(Vec<String>),
    /// Anything else: the first failure's own words.
    Other(String),
}

impl IndexProblem {
    /// The banner for these failures: a refused token first, then the certificate, then offline, then the
    /// channels that are gone or closed, then anything else.
    pub fn from_failures(failures: &[Failure]) -> Option<IndexProblem> {
        let names = |wanted: fn(&Cause) -> bool| -> Vec<String> {
            failures
                .iter()
                .filter(|f| wanted(&f.cause))
                .map(|f| f.channel.clone())
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect()
        };
        let first =
            |wanted: fn(&Cause) -> Option<String>| failures.iter().find_map(|f| wanted(&f.cause));
        if failures.iter().any(|f| f.cause == Cause::TokenRefused) {
            return Some(IndexProblem::TokenRejected);
        }
        if let Some(host) = first(|c| match c {
            Cause::Certificate(host) => Some(host.clone()),
            _ => None,
        }) {
            return Some(IndexProblem::Untrusted(host));
        }
        if let Some(host) = first(|c| match c {
            Cause::Offline(host) => Some(host.clone()),
            _ => None,
        }) {
            return Some(IndexProblem::Offline(host));
        }
        let missing = names(|c| *c == Cause::ChannelGone);
        if !missing.is_empty() {
            return Some(IndexProblem::Missing(missing));
        }
        let closed = names(|c| *c == Cause::NoAccess);
        if !closed.is_empty() {
            return Some(IndexProblem::NoAccess(closed));
        }
        failures.first().map(|f| IndexProblem::Other(f.line()))
    }

    pub fn text(&self) -> String {
        match self {
            IndexProblem::Offline(host) => format!(
                "Update Index failed: {host} cannot be reached — are you offline? Check your network or VPN, then Update Index again."
            ),
            IndexProblem::Untrusted(host) => format!(
                "Update Index failed: the certificate of {host} cannot be verified. Check the SSL settings in Preferences."
            ),
            IndexProblem::TokenRejected => {
                "Update Index failed: the server no longer accepts your token — sign in again."
                    .into()
            }
            IndexProblem::Missing(names) => format!(
                "Update Index: the server has no channel {} (removed or renamed?). Choose your channels again.",
                names.join(", ")
            ),
            IndexProblem::NoAccess(names) => format!(
                "Update Index: your account may not read {} — ask the channel's owner for access, or choose your channels again.",
                names.join(", ")
            ),
            IndexProblem::Other(line) => format!("Update Index failed: {line}"),
        }
    }
}

#[derive(Debug, Clone)]
pub enum Message {
    Home(home::Message),
    Connect(connect::Message),
    SetDomain(set_domain::Message),
    Login(login::Message),
    AddChannels(add_channels::Message),
    Preferences(preferences::Message),
    SignOut(sign_out::Message),
    Tokens(tokens::Message),
    Diagnose(diagnose::Message),
    /// Diagnose: doctor's checks (from Preferences, a failed health check or Update Index, or Ctrl+D).
    OpenDiagnose,
    OpenConnect,
    OpenTokens,
    OpenChannels,
    /// The Channels screen, once "show hidden channels" is read.
    ChannelsScreen(bool),
    /// The sign-in token's expiry, checked after each status load while signed in.
    SignInExpiry(Result<Expiry, Error>),
    RenewSignInToken,
    Renewed(Result<String, Error>),
    OpenPreferences,
    PreferencesLoaded(Result<Preferences, Error>),
    /// Connect → Sign In, once the stored domain is read.
    SignInDomain(Option<String>),
    /// After sign-in: the Add Channels dialog, once "show hidden channels" is read.
    PickChannels(Option<Selection>, bool),
    SettingsSaved(Result<(), Error>),
    CloseDialog,
    StatusLoaded(Result<Status, Error>),
    HealthTick,
    HealthChecked(Connection),
    /// Look whether another process (the command line) changed the sign-in or conda's configuration.
    CheckForChanges,
    /// The files' fingerprint now ([`Engine::state_stamp`]).
    Stamped(u64),
    /// After a failed Update Index: each failed channel directory and why.
    IndexDiagnosed(Vec<Failure>),
    /// Sign out (nothing to revoke), then open the sign-in: the token was refused.
    SignInAgain,
    SignedOutToSignIn(Result<crate::engine::session::LogoutOutcome, Error>),
    /// The certificate changed: Set Domain for the current server, which shows it and asks again.
    ReviewCertificate,
    DismissBanner,
    /// Close the notice at this position.
    DismissNotice(usize),
    /// Success notices older than [`NOTICE_LIFETIME`] leave.
    ExpireNotices,
    Escape,
    /// Enter outside a text field: the open dialog's default button.
    Enter,
    UpdateIndex,
    FocusSearch,
    /// Ctrl+Q (or Ctrl+W with no dialog open): close the window. Work in flight is journaled, so nothing is lost.
    Quit,
    /// The window was resized: below the minimum it is made the minimum again (and scrolls meanwhile).
    Resized(iced::window::Id, iced::Size),
}

pub struct App {
    pub engine: Engine,
    pub config: Config,
    pub status: Option<Status>,
    pub status_error: Option<String>,
    pub home: home::State,
    pub dialog: Option<Dialog>,
    pub health: Health,
    pub notices: Vec<Notice>,
    pub index_problem: Option<IndexProblem>,
    pub settings: AppSettings,
    /// The sign-in token expires soon (or has): the main window offers renewal.
    pub sign_in_expiry: Option<Expiry>,
    /// After the next status load: run Update Index if channels are configured (after sign-out).
    index_after_status: bool,
    /// After the next sign-out: start the sign-in again.
    sign_in_after_sign_out: bool,
    /// The fingerprint of the sign-in's files when the status was last loaded.
    stamp: Option<u64>,
    /// The control that opened the dialog: it gets the focus back when the dialog closes.
    return_focus: Option<iced::advanced::widget::Id>,
    /// *Sign in again* is signing out first.
    signing_in_again: bool,
    /// The control the focus went back to when a dialog closed: focused again after the next status load.
    refocus_after_status: Option<iced::advanced::widget::Id>,
    /// The window's size, as last reported.
    pub window_size: iced::Size,
}

/// How the app starts.
#[derive(Debug, Clone)]
pub struct Config {
    pub engine: Engine,
    /// Domain to pre-fill in Set Domain (demo: the emulator's URL).
    pub preset_domain: Option<String>,
    /// A line shown in the Login dialog (demo: the emulator's credentials).
    pub login_hint: Option<String>,
    /// A line shown under the header (demo: where its files live).
    pub note: Option<String>,
}

impl App {
    pub fn new(config: Config) -> (Self, Task<Message>) {
        // one small file, read once before the first frame so the window opens in the chosen theme
        let settings = AppSettings::load(&config.engine.paths);
        let app = App {
            engine: config.engine.clone(),
            config,
            status: None,
            status_error: None,
            home: home::State::default(),
            dialog: None,
            health: Health::Unknown,
            notices: Vec::new(),
            index_problem: None,
            settings,
            sign_in_expiry: None,
            index_after_status: false,
            sign_in_after_sign_out: false,
            stamp: None,
            return_focus: None,
            signing_in_again: false,
            refocus_after_status: None,
            window_size: DEFAULT_SIZE,
        };
        let engine = app.engine.clone();
        let boot = Task::perform(
            async move {
                if let Some(msg) = engine.recover().await? {
                    tracing::info!(%msg, "recovered at start");
                }
                engine.status()
            },
            Message::StatusLoaded,
        );
        (app, boot)
    }

    /// "conda-connect — signed in to <host>" while signed in.
    pub fn title(&self) -> String {
        match &self.status {
            Some(status) if status.logged_in => format!(
                "{APP_NAME} — signed in to {}",
                status
                    .domain
                    .as_deref()
                    .map(crate::engine::domain::netloc)
                    .unwrap_or_else(|| "Anaconda Server".into())
            ),
            _ => APP_NAME.to_string(),
        }
    }

    pub fn theme(&self) -> Theme {
        style::theme(self.settings.theme)
    }

    fn signed_in(&self) -> bool {
        self.status.as_ref().is_some_and(|s| s.logged_in)
    }

    /// Signed in by conda-connect itself (channels and tokens are managed here).
    fn own_session(&self) -> bool {
        self.status
            .as_ref()
            .is_some_and(|s| s.logged_in && s.source == Some(LoginSource::CondaConnect))
    }

    /// Signed in, but `.condarc` names no channel to install from.
    pub fn no_channel_chosen(&self) -> bool {
        self.own_session()
            && self.status.as_ref().is_some_and(|s| {
                s.default_channels.is_empty() && s.channels.iter().all(|c| c == "defaults")
            })
    }

    fn refresh_status(&self) -> Task<Message> {
        let engine = self.engine.clone();
        Task::perform(async move { engine.status() }, Message::StatusLoaded)
    }

    fn run_index(&mut self) -> Task<Message> {
        self.index_problem = None;
        match self.home.update_index(&self.engine) {
            home::Action::Run(task) => task.map(Message::Home),
            home::Action::None => Task::none(),
        }
    }

    fn set_notice(&mut self, text: impl Into<String>, tone: Tone, scope: Scope) {
        let text = text.into();
        self.notices.retain(|n| n.text != text);
        self.notices.push(Notice {
            text,
            tone,
            scope,
            shown_at: std::time::Instant::now(),
        });
        if self.notices.len() > MAX_NOTICES {
            self.notices.remove(0);
        }
    }

    /// Connect → Sign In: Set Domain first when no domain is stored, else Login (the ini is read in a task).
    fn start_sign_in(&mut self) -> Task<Message> {
        let engine = self.engine.clone();
        Task::perform(
            async move { engine.preferences().ok().and_then(|p| p.domain) },
            Message::SignInDomain,
        )
    }

    /// After a sign-out: its summary, the signed-out state, Update Index (as Navigator), and the sign-in when that
    /// was asked for.
    fn signed_out(&mut self, outcome: crate::engine::session::LogoutOutcome) -> Task<Message> {
        self.set_notice(sign_out::summary(&outcome), Tone::Success, Scope::SignedOut);
        self.health = Health::Unknown;
        self.sign_in_expiry = None;
        self.index_problem = None;
        // as Navigator: Update Index after sign-out — unless nothing is configured any more
        self.index_after_status = true;
        let mut tasks = vec![self.refresh_status()];
        if std::mem::take(&mut self.sign_in_after_sign_out) {
            tasks.push(self.start_sign_in());
        }
        Task::batch(tasks)
    }

    fn start_sign_out(&mut self) -> Task<Message> {
        let domain = self
            .status
            .as_ref()
            .and_then(|s| s.domain.clone())
            .unwrap_or_default();
        self.dialog = Some(Dialog::SignOut(sign_out::State::new(domain)));
        Task::none()
    }

    /// The Channels screen: "show hidden channels" is read in a task, then the picker opens and loads.
    fn open_channels(&mut self) -> Task<Message> {
        if !self.own_session() || self.dialog.is_some() {
            return Task::none();
        }
        let engine = self.engine.clone();
        Task::perform(
            async move {
                engine
                    .preferences()
                    .map(|p| p.show_hidden_channels)
                    .unwrap_or(false)
            },
            Message::ChannelsScreen,
        )
    }

    /// Route `message`; when a dialog opened (or another took its place) the focus goes to its first field or default
    /// button, and when the last one closed it goes back to the control that opened it.
    pub fn update(&mut self, message: Message) -> Task<Message> {
        let before = self.dialog.as_ref().map(std::mem::discriminant);
        let task = self.handle(message);
        let after = self.dialog.as_ref().map(std::mem::discriminant);
        if before == after {
            return task;
        }
        let focus = match after {
            Some(_) => focus::initial(),
            None => match self.return_focus.take() {
                Some(id) => {
                    // the header may change with the status that follows (a sign-out removes buttons): once more then
                    self.refocus_after_status = Some(id.clone());
                    focus::focus_on(id)
                }
                None => Task::none(),
            },
        };
        Task::batch([task, focus])
    }

    fn handle(&mut self, message: Message) -> Task<Message> {
        match message {
            Message::StatusLoaded(Ok(status)) => {
                let was_signed_in = self.signed_in();
                self.stamp = Some(self.engine.state_stamp());
                let own_session = status.source == Some(LoginSource::CondaConnect);
                self.status = Some(status);
                self.status_error = None;
                // notices belong to a state and leave with it
                let scope = if self.signed_in() {
                    Scope::SignedIn
                } else {
                    Scope::SignedOut
                };
                self.notices.retain(|n| n.scope == scope);
                let mut tasks = Vec::new();
                if std::mem::take(&mut self.index_after_status) {
                    let configured = self
                        .status
                        .as_ref()
                        .is_some_and(|s| !s.default_channels.is_empty() || !s.channels.is_empty());
                    if configured || self.signed_in() {
                        tasks.push(self.run_index());
                    } else {
                        // an air-gapped site must not see conda's public defaults fetched (and failing)
                        self.home = home::State::default();
                        self.index_problem = None;
                        let text = match self.notices.pop() {
                            Some(notice) => format!("{} {CONDA_DEFAULTS}", notice.text),
                            None => CONDA_DEFAULTS.to_string(),
                        };
                        self.set_notice(text, Tone::Success, Scope::SignedOut);
                    }
                }
                if !self.signed_in() {
                    self.health = Health::Unknown;
                    self.sign_in_expiry = None;
                    // the server's problems leave with the sign-in (a signed-out Update Index keeps its own)
                    if was_signed_in {
                        self.index_problem = None;
                    }
                    // a private server's package names are not shown once signed out
                    if self.home.report.is_some() && !self.home.running {
                        self.home.packages.clear();
                        self.home.report = None;
                        self.home.report_time = None;
                        self.home.kept_older = false;
                    }
                } else {
                    if self.health == Health::Unknown {
                        // at start: check the token at once rather than after the first interval
                        let engine = self.engine.clone();
                        tasks.push(Task::perform(
                            async move { engine.check_connection().await },
                            Message::HealthChecked,
                        ));
                    }
                    if own_session {
                        let engine = self.engine.clone();
                        tasks.push(Task::perform(
                            async move { engine.sign_in_token_expiry().await },
                            Message::SignInExpiry,
                        ));
                    }
                }
                if let Some(id) = self.refocus_after_status.take()
                    && self.dialog.is_none()
                {
                    tasks.push(focus::focus_on(id));
                }
                Task::batch(tasks)
            }
            Message::CheckForChanges => {
                let engine = self.engine.clone();
                Task::perform(async move { engine.state_stamp() }, Message::Stamped)
            }
            Message::Stamped(stamp) => {
                // the first look records; a difference means someone changed the files: load the status again
                match self.stamp.replace(stamp) {
                    Some(before) if before != stamp => self.refresh_status(),
                    _ => Task::none(),
                }
            }
            Message::StatusLoaded(Err(error)) => {
                self.status_error = Some(error.to_string());
                Task::none()
            }
            Message::SignInExpiry(result) => {
                self.sign_in_expiry = match result {
                    Ok(expiry @ (Expiry::Soon(_) | Expiry::Expired)) => Some(expiry),
                    Ok(_) => None,
                    Err(error) => {
                        tracing::warn!(error = %error, "could not read the sign-in token's expiry");
                        None
                    }
                };
                Task::none()
            }
            Message::RenewSignInToken => {
                let engine = self.engine.clone();
                Task::perform(
                    async move { engine.renew_sign_in_token().await },
                    Message::Renewed,
                )
            }
            Message::Renewed(result) => {
                match result {
                    Ok(until) => {
                        self.sign_in_expiry = None;
                        self.set_notice(
                            format!(
                                "conda's sign-in token was renewed; it now expires on {until}."
                            ),
                            Tone::Success,
                            Scope::SignedIn,
                        );
                    }
                    Err(error) => self.set_notice(error.to_string(), Tone::Danger, Scope::SignedIn),
                }
                Task::none()
            }
            Message::OpenTokens => {
                if !self.own_session() || self.dialog.is_some() {
                    return Task::none();
                }
                self.return_focus = Some(ids::tokens());
                let domain = self
                    .status
                    .as_ref()
                    .and_then(|s| s.domain.clone())
                    .unwrap_or_default();
                let (state, load) = tokens::State::new(&self.engine, domain);
                self.dialog = Some(Dialog::Tokens(state));
                load.map(Message::Tokens)
            }
            Message::OpenChannels => {
                if self.dialog.is_none() {
                    self.return_focus = Some(ids::channels());
                }
                self.open_channels()
            }
            Message::ChannelsScreen(all) => {
                if self.dialog.is_some() {
                    return Task::none();
                }
                let current = self
                    .status
                    .as_ref()
                    .map(|s| Selection {
                        default_channels: s.default_channels.clone(),
                        channels: s.channels.clone(),
                    })
                    .unwrap_or_default();
                let (state, load) = add_channels::State::with_mode(
                    &self.engine,
                    all,
                    None,
                    add_channels::Mode::Manage { current },
                );
                self.dialog = Some(Dialog::AddChannels(state));
                load.map(Message::AddChannels)
            }
            Message::Tokens(message) => {
                let Some(Dialog::Tokens(state)) = &mut self.dialog else {
                    return Task::none();
                };
                match state.update(message, &self.engine) {
                    tokens::Action::None => Task::none(),
                    tokens::Action::Run(task) => task.map(Message::Tokens),
                    tokens::Action::Close => {
                        self.dialog = None;
                        self.refresh_status()
                    }
                    tokens::Action::SignOut => self.start_sign_out(),
                }
            }
            Message::OpenDiagnose => {
                // from Preferences it replaces that dialog; elsewhere only when none is open
                if self
                    .dialog
                    .as_ref()
                    .is_some_and(|d| !matches!(d, Dialog::Preferences(_)))
                {
                    return Task::none();
                }
                if self.dialog.is_none() {
                    self.return_focus = None;
                }
                let (state, run) = diagnose::State::open(&self.engine);
                self.dialog = Some(Dialog::Diagnose(state));
                run.map(Message::Diagnose)
            }
            Message::Diagnose(message) => {
                let Some(Dialog::Diagnose(state)) = &mut self.dialog else {
                    return Task::none();
                };
                match state.update(message, &self.engine) {
                    diagnose::Action::None => Task::none(),
                    diagnose::Action::Run(task) => task.map(Message::Diagnose),
                    diagnose::Action::Close => {
                        self.dialog = None;
                        Task::none()
                    }
                }
            }
            Message::OpenConnect => {
                if self.dialog.is_none() {
                    self.return_focus = Some(ids::connect());
                    self.dialog = Some(Dialog::Connect);
                }
                Task::none()
            }
            Message::OpenPreferences => {
                if self.dialog.is_some() {
                    return Task::none();
                }
                self.return_focus = Some(ids::preferences());
                let engine = self.engine.clone();
                Task::perform(
                    async move { engine.preferences() },
                    Message::PreferencesLoaded,
                )
            }
            Message::PreferencesLoaded(result) => {
                match result {
                    Ok(prefs) => {
                        self.dialog = Some(Dialog::Preferences(preferences::State::with_sign_in(
                            &prefs,
                            self.settings.theme,
                            self.own_session(),
                        )))
                    }
                    Err(error) => self.set_notice(
                        error.to_string(),
                        Tone::Danger,
                        if self.signed_in() {
                            Scope::SignedIn
                        } else {
                            Scope::SignedOut
                        },
                    ),
                }
                Task::none()
            }
            Message::SignInDomain(domain) => match domain {
                Some(domain) => {
                    let (state, open) =
                        login::State::open(domain, self.config.login_hint.clone(), &self.engine);
                    self.dialog = Some(Dialog::Login(state));
                    open.map(Message::Login)
                }
                None => {
                    self.dialog = Some(Dialog::SetDomain(set_domain::State::new(
                        self.config.preset_domain.clone(),
                    )));
                    set_domain::State::focus().map(Message::SetDomain)
                }
            },
            Message::ReviewCertificate => {
                let domain = self.status.as_ref().and_then(|s| s.domain.clone());
                self.dialog = Some(Dialog::SetDomain(set_domain::State::new(domain)));
                set_domain::State::focus().map(Message::SetDomain)
            }
            Message::PickChannels(remembered, all) => {
                let (state, load) = add_channels::State::new(&self.engine, all, remembered);
                self.dialog = Some(Dialog::AddChannels(state));
                load.map(Message::AddChannels)
            }
            Message::SettingsSaved(result) => {
                if let Err(error) = result {
                    let scope = if self.signed_in() {
                        Scope::SignedIn
                    } else {
                        Scope::SignedOut
                    };
                    self.set_notice(error.to_string(), Tone::Danger, scope);
                }
                Task::none()
            }
            Message::CloseDialog => {
                // never interrupts work in flight
                if !self.dialog.as_ref().is_some_and(Dialog::is_busy) {
                    self.dialog = None;
                }
                Task::none()
            }
            Message::Escape => match self.dialog.as_ref().and_then(Dialog::escape) {
                Some(message) => self.handle(message),
                None => Task::none(),
            },
            Message::Enter => match self.dialog.as_ref().and_then(|d| d.enter(self.signed_in())) {
                Some(message) => self.handle(message),
                None => Task::none(),
            },
            Message::UpdateIndex => {
                if self.dialog.is_some() {
                    return Task::none();
                }
                self.run_index()
            }
            Message::FocusSearch => iced::widget::operation::focus(home::SEARCH_ID),
            Message::Quit => iced::exit(),
            Message::Resized(id, size) => {
                self.window_size = size;
                if size.width < MIN_SIZE.width || size.height < MIN_SIZE.height {
                    iced::window::resize(id, size.max(MIN_SIZE))
                } else {
                    Task::none()
                }
            }
            Message::DismissBanner => {
                if self.health == Health::Restored {
                    self.health = Health::Healthy;
                }
                Task::none()
            }
            Message::DismissNotice(index) => {
                if index < self.notices.len() {
                    self.notices.remove(index);
                }
                Task::none()
            }
            Message::ExpireNotices => {
                self.notices
                    .retain(|n| !n.expires() || n.shown_at.elapsed() < NOTICE_LIFETIME);
                Task::none()
            }
            Message::HealthTick => {
                if !self.signed_in() {
                    return Task::none();
                }
                let engine = self.engine.clone();
                Task::perform(
                    async move { engine.check_connection().await },
                    Message::HealthChecked,
                )
            }
            Message::HealthChecked(found) => {
                if !self.signed_in() {
                    return Task::none();
                }
                self.health = match (self.health, found) {
                    (Health::Unreachable | Health::Restored, Connection::Healthy) => {
                        Health::Restored
                    }
                    (_, Connection::Healthy) => Health::Healthy,
                    (_, Connection::Unreachable) => Health::Unreachable,
                    (_, Connection::TokenRejected) => Health::TokenRejected,
                    (_, Connection::Untrusted) => Health::Untrusted,
                    (_, Connection::CertificateChanged) => Health::CertificateChanged,
                };
                Task::none()
            }
            Message::IndexDiagnosed(failures) => {
                self.index_problem = IndexProblem::from_failures(&failures);
                if self.index_problem == Some(IndexProblem::TokenRejected) {
                    self.health = Health::TokenRejected;
                }
                Task::none()
            }
            // the token was refused: sign out at once (nothing to revoke) and open the sign-in
            Message::SignInAgain => {
                if self.dialog.is_some() || self.signing_in_again {
                    return Task::none();
                }
                self.signing_in_again = true;
                let engine = self.engine.clone();
                Task::perform(
                    async move { engine.logout_refused_token().await },
                    Message::SignedOutToSignIn,
                )
            }
            Message::SignedOutToSignIn(result) => {
                self.signing_in_again = false;
                match result {
                    Ok(outcome) => {
                        self.sign_in_after_sign_out = true;
                        self.signed_out(outcome)
                    }
                    Err(error) => {
                        self.set_notice(error.to_string(), Tone::Danger, Scope::SignedIn);
                        Task::none()
                    }
                }
            }
            Message::Home(message) => {
                // a finished Update Index with failures: find out why, to say so with the fix
                let failed = match &message {
                    // signed in or not: conda's public defaults unreachable get the same banner as the server
                    home::Message::Finished(Ok(report))
                        if report.channels.iter().any(|c| c.failed()) =>
                    {
                        Some(report.channels.clone())
                    }
                    _ => None,
                };
                let task = match self.home.update(message, &self.engine) {
                    home::Action::Run(task) => task.map(Message::Home),
                    home::Action::None => Task::none(),
                };
                match failed {
                    Some(channels) => {
                        let engine = self.engine.clone();
                        Task::batch([
                            task,
                            Task::perform(
                                async move { engine.diagnose_index(&channels).await },
                                Message::IndexDiagnosed,
                            ),
                        ])
                    }
                    None => task,
                }
            }
            Message::Connect(message) => match connect::update(message) {
                connect::Action::SignIn => self.start_sign_in(),
                connect::Action::SignOut => self.start_sign_out(),
                connect::Action::Close => {
                    self.dialog = None;
                    Task::none()
                }
            },
            Message::SetDomain(message) => {
                let Some(Dialog::SetDomain(state)) = &mut self.dialog else {
                    return Task::none();
                };
                match state.update(message, &self.engine) {
                    set_domain::Action::None => Task::none(),
                    set_domain::Action::Run(task) => task.map(Message::SetDomain),
                    set_domain::Action::Cancel => {
                        self.dialog = None;
                        Task::none()
                    }
                    set_domain::Action::Done(domain) => {
                        let (state, open) = login::State::open(
                            domain,
                            self.config.login_hint.clone(),
                            &self.engine,
                        );
                        self.dialog = Some(Dialog::Login(state));
                        Task::batch([open.map(Message::Login), self.refresh_status()])
                    }
                }
            }
            Message::Login(message) => {
                let Some(Dialog::Login(state)) = &mut self.dialog else {
                    return Task::none();
                };
                match state.update(message, &self.engine) {
                    login::Action::None => Task::none(),
                    login::Action::Run(task) => task.map(Message::Login),
                    login::Action::Cancel => {
                        self.dialog = None;
                        Task::none()
                    }
                    login::Action::Done(outcome) => {
                        self.health = Health::Healthy;
                        // the signed-out notices leave with the signed-out state
                        self.notices.clear();
                        self.index_problem = None;
                        let engine = self.engine.clone();
                        let remembered = outcome.remembered.clone();
                        Task::batch([
                            Task::perform(
                                async move {
                                    engine
                                        .preferences()
                                        .map(|p| p.show_hidden_channels)
                                        .unwrap_or(false)
                                },
                                move |all| Message::PickChannels(remembered.clone(), all),
                            ),
                            self.refresh_status(),
                        ])
                    }
                }
            }
            Message::AddChannels(message) => {
                let Some(Dialog::AddChannels(state)) = &mut self.dialog else {
                    return Task::none();
                };
                let manage = matches!(state.mode, add_channels::Mode::Manage { .. });
                match state.update(message, &self.engine) {
                    add_channels::Action::None => Task::none(),
                    add_channels::Action::Run(task) => task.map(Message::AddChannels),
                    add_channels::Action::Done { saved } => {
                        self.dialog = None;
                        match saved {
                            Some(sel) => {
                                let list = |v: &[String]| {
                                    if v.is_empty() {
                                        "(none)".to_string()
                                    } else {
                                        v.join(", ")
                                    }
                                };
                                let mut channels = vec!["defaults".to_string()];
                                channels.extend(sel.channels.iter().cloned());
                                self.set_notice(
                                    format!(
                                        "Channels saved to ~/.condarc — default_channels: {}; channels: {}.",
                                        list(&sel.default_channels),
                                        list(&channels)
                                    ),
                                    Tone::Success,
                                    Scope::SignedIn,
                                );
                                // as Navigator: Update Index after the channels change
                                let index = self.run_index();
                                Task::batch([self.refresh_status(), index])
                            }
                            None if manage => Task::none(),
                            // skipped at sign-in: Update Index as Navigator does
                            None => {
                                let index = self.run_index();
                                Task::batch([self.refresh_status(), index])
                            }
                        }
                    }
                }
            }
            Message::Preferences(message) => {
                let Some(Dialog::Preferences(state)) = &mut self.dialog else {
                    return Task::none();
                };
                match state.update(message, &self.engine) {
                    preferences::Action::None => Task::none(),
                    preferences::Action::Run(task) => task.map(Message::Preferences),
                    preferences::Action::Cancel => {
                        self.dialog = None;
                        Task::none()
                    }
                    preferences::Action::SignOut => self.start_sign_out(),
                    preferences::Action::Diagnose => self.handle(Message::OpenDiagnose),
                    preferences::Action::Saved(_, theme) => {
                        self.dialog = None;
                        let mut tasks = vec![self.refresh_status()];
                        if theme != self.settings.theme {
                            self.settings.theme = theme;
                            let (engine, settings) = (self.engine.clone(), self.settings.clone());
                            // under the config lock, like every write in the data directory; the lock may wait,
                            // so never on the UI thread
                            tasks.push(Task::perform(
                                async move {
                                    tokio::task::spawn_blocking(move || {
                                        engine.lock().and_then(|_lock| settings.save(&engine.paths))
                                    })
                                    .await
                                    .unwrap_or_else(|e| {
                                        Err(Error::Refused {
                                            reason: format!(
                                                "The settings could not be saved ({e})."
                                            ),
                                        })
                                    })
                                },
                                Message::SettingsSaved,
                            ));
                        }
                        Task::batch(tasks)
                    }
                }
            }
            Message::SignOut(message) => {
                let Some(Dialog::SignOut(state)) = &mut self.dialog else {
                    return Task::none();
                };
                match state.update(message, &self.engine) {
                    sign_out::Action::None => Task::none(),
                    sign_out::Action::Run(task) => task.map(Message::SignOut),
                    sign_out::Action::Cancel => {
                        self.dialog = None;
                        self.sign_in_after_sign_out = false;
                        Task::none()
                    }
                    sign_out::Action::Done(outcome) => {
                        self.dialog = None;
                        self.signed_out(outcome)
                    }
                }
            }
        }
    }

    pub fn subscription(&self) -> Subscription<Message> {
        // the command line may sign in or out while the window is open: look every few seconds and on focus
        let changes = Subscription::batch([
            iced::time::every(CHANGE_INTERVAL).map(|_| Message::CheckForChanges),
            iced::event::listen_with(|event, _, id| match event {
                iced::Event::Window(iced::window::Event::Focused) => Some(Message::CheckForChanges),
                iced::Event::Window(iced::window::Event::Resized(size)) => {
                    Some(Message::Resized(id, size))
                }
                _ => None,
            }),
        ]);
        let mut all = vec![changes];
        if self.signed_in() {
            all.push(iced::time::every(HEALTH_INTERVAL).map(|_| Message::HealthTick));
        }
        if self.notices.iter().any(Notice::expires) {
            all.push(iced::time::every(Duration::from_secs(1)).map(|_| Message::ExpireNotices));
        }
        Subscription::batch(all)
    }

    /// The header's keyboard shortcuts (when no dialog is open), and Enter for the open dialog.
    pub fn shortcut(
        dialog_open: bool,
        signed_in: bool,
        key: &keyboard::Key,
        modifiers: keyboard::Modifiers,
    ) -> Option<Message> {
        // Ctrl+Q quits from anywhere; Ctrl+W closes the top dialog (as Esc does), or the window
        if modifiers.command() {
            match key.as_ref() {
                keyboard::Key::Character("q") => return Some(Message::Quit),
                keyboard::Key::Character("w") if dialog_open => return Some(Message::Escape),
                keyboard::Key::Character("w") => return Some(Message::Quit),
                _ => {}
            }
        }
        if dialog_open {
            return match key {
                keyboard::Key::Named(key::Named::Enter) if modifiers.is_empty() => {
                    Some(Message::Enter)
                }
                _ => None,
            };
        }
        if key == &keyboard::Key::Named(key::Named::F5) {
            return Some(Message::UpdateIndex);
        }
        if !modifiers.command() {
            return None;
        }
        match key.as_ref() {
            keyboard::Key::Character("k") => Some(Message::OpenConnect),
            keyboard::Key::Character(",") => Some(Message::OpenPreferences),
            keyboard::Key::Character("l") if signed_in => Some(Message::OpenChannels),
            keyboard::Key::Character("t") if signed_in => Some(Message::OpenTokens),
            keyboard::Key::Character("r") => Some(Message::UpdateIndex),
            keyboard::Key::Character("f") => Some(Message::FocusSearch),
            keyboard::Key::Character("d") => Some(Message::OpenDiagnose),
            _ => None,
        }
    }

    /// The status line of the header.
    pub fn status_line(&self) -> String {
        match &self.status {
            Some(status) if status.logged_in => {
                let who = status
                    .username
                    .clone()
                    .map(|u| format!(" as {u}"))
                    .unwrap_or_default();
                match self.health {
                    Health::Unreachable | Health::Untrusted | Health::CertificateChanged => {
                        format!("Partially connected to Anaconda Server{who}")
                    }
                    Health::TokenRejected => format!("Signed in{who}, but the token is refused"),
                    _ => format!("Connected to Anaconda Server{who}"),
                }
            }
            Some(_) => "Not connected".into(),
            None => "Reading your configuration…".into(),
        }
    }

    fn header(&self) -> Element<'_, Message> {
        let own = self.own_session();
        let mut buttons = row![].spacing(style::space_scale::S);
        if own {
            buttons = buttons
                .push(style::shortcut_hint(
                    style::header_action(
                        Icon::Channels,
                        "Channels",
                        Some(Message::OpenChannels),
                        ids::channels(),
                        false,
                    ),
                    "Ctrl+L",
                ))
                .push(style::shortcut_hint(
                    style::header_action(
                        Icon::Tokens,
                        "Tokens",
                        Some(Message::OpenTokens),
                        ids::tokens(),
                        false,
                    ),
                    "Ctrl+T",
                ));
        }
        buttons = buttons
            .push(style::shortcut_hint(
                style::header_action(
                    Icon::Preferences,
                    "Preferences",
                    Some(Message::OpenPreferences),
                    ids::preferences(),
                    false,
                ),
                "Ctrl+,",
            ))
            .push(style::shortcut_hint(
                style::header_action(
                    Icon::Connect,
                    "Connect",
                    Some(Message::OpenConnect),
                    ids::connect(),
                    true,
                ),
                "Ctrl+K",
            ));
        container(
            row![
                column![
                    text(APP_NAME)
                        .size(style::type_scale::APP)
                        .font(style::BOLD),
                    style::muted(self.status_line()),
                ]
                .spacing(2),
                space::horizontal().width(Length::Fill),
                buttons,
            ]
            .spacing(style::space_scale::L)
            .align_y(iced::Center),
        )
        .padding([style::space_scale::S + 2.0, style::space_scale::L])
        .style(style::panel)
        .into()
    }

    fn banners(&self) -> Vec<Element<'_, Message>> {
        let mut out = Vec::new();
        match self.health {
            Health::Unreachable => out.push(style::banner(
                Tone::Danger,
                "Anaconda Server cannot be reached. Some actions may not work as expected until connection is restored.",
                vec![style::secondary(DIAGNOSE, Some(Message::OpenDiagnose))],
            )),
            Health::Untrusted => out.push(style::banner(
                Tone::Danger,
                "The server's certificate can no longer be verified. Check the SSL settings in Preferences.",
                vec![
                    style::secondary(DIAGNOSE, Some(Message::OpenDiagnose)),
                    style::secondary("Preferences", Some(Message::OpenPreferences)),
                ],
            )),
            Health::CertificateChanged => out.push(style::banner(
                Tone::Danger,
                "The server presents another certificate than the one you trusted, so conda-connect refuses it. If \
                 your administrator replaced it, compare its fingerprint with theirs and trust it again in Set Domain.",
                vec![style::secondary("Set Domain", Some(Message::ReviewCertificate))],
            )),
            Health::TokenRejected => out.push(style::banner(
                Tone::Danger,
                TOKEN_REJECTED,
                vec![
                    style::secondary(DIAGNOSE, Some(Message::OpenDiagnose)),
                    style::primary(SIGN_IN_AGAIN, Some(Message::SignInAgain)),
                ],
            )),
            Health::Restored => out.push(style::banner(
                Tone::Success,
                "Connection to Anaconda Server restored.",
                vec![style::secondary("Close", Some(Message::DismissBanner))],
            )),
            Health::Unknown | Health::Healthy => {}
        }
        if let Some(problem) = &self.index_problem
            && self.health != Health::TokenRejected
        {
            let actions = match problem {
                IndexProblem::TokenRejected => {
                    vec![style::primary(SIGN_IN_AGAIN, Some(Message::SignInAgain))]
                }
                IndexProblem::Missing(_) => {
                    vec![style::primary(CHOOSE_CHANNELS, Some(Message::OpenChannels))]
                }
                IndexProblem::Untrusted(_) => {
                    vec![style::secondary(
                        "Preferences",
                        Some(Message::OpenPreferences),
                    )]
                }
                IndexProblem::Offline(_) => {
                    vec![style::secondary("Update Index", Some(Message::UpdateIndex))]
                }
                IndexProblem::NoAccess(_) => {
                    vec![style::secondary(
                        CHOOSE_CHANNELS,
                        Some(Message::OpenChannels),
                    )]
                }
                IndexProblem::Other(_) => vec![],
            };
            let mut actions = actions;
            actions.push(style::secondary(DIAGNOSE, Some(Message::OpenDiagnose)));
            out.push(style::banner(Tone::Danger, problem.text(), actions));
        }
        if self.no_channel_chosen() {
            out.push(style::banner(
                Tone::Warning,
                NO_CHANNELS,
                vec![style::primary(CHOOSE_CHANNELS, Some(Message::OpenChannels))],
            ));
        }
        if let Some(expiry) = self.sign_in_expiry {
            let message = match expiry {
                Expiry::Expired => {
                    "conda's sign-in token has expired: conda can no longer reach the server."
                        .to_string()
                }
                Expiry::Soon(0) => "conda's sign-in token expires today.".to_string(),
                Expiry::Soon(days) => format!("conda's sign-in token expires in {days} days."),
                _ => String::new(),
            };
            out.push(style::banner(
                Tone::Warning,
                message,
                vec![style::primary(
                    "Renew for a year",
                    Some(Message::RenewSignInToken),
                )],
            ));
        }
        if let Some(error) = &self.status_error {
            out.push(style::banner(Tone::Danger, error.as_str(), vec![]));
        }
        out
    }

    /// The notices, stacked in the bottom right corner over the window (newest last).
    fn notice_stack(&self) -> Element<'_, Message> {
        let toasts = self.notices.iter().enumerate().map(|(index, notice)| {
            style::toast(
                notice.tone,
                notice.text.as_str(),
                style::secondary("Close", Some(Message::DismissNotice(index))),
            )
        });
        container(
            iced::widget::column(toasts)
                .spacing(style::space_scale::S)
                .width(Length::Fixed(NOTICE_WIDTH)),
        )
        .padding(style::space_scale::L)
        .width(Length::Fill)
        .height(Length::Fill)
        .align_right(Length::Fill)
        .align_bottom(Length::Fill)
        .into()
    }

    pub fn view(&self) -> Element<'_, Message> {
        let mut page = column![self.header()].spacing(style::space_scale::M);
        if let Some(note) = &self.config.note {
            page = page.push(style::muted(note.as_str()));
        }
        for b in self.banners() {
            page = page.push(b);
        }
        page = page.push(self.home.view(self.status.as_ref()).map(Message::Home));
        let page = container(page)
            .padding(style::space_scale::L)
            .width(Length::Fill)
            .height(Length::Fill)
            .style(style::page);
        let base: Element<'_, Message> = if self.notices.is_empty() {
            page.into()
        } else {
            iced::widget::stack![page, self.notice_stack()].into()
        };
        let signed_in = self.signed_in();
        let (content, escape): (Element<'_, Message>, Option<Message>) = match &self.dialog {
            None => (base, None),
            Some(domain) => (
                style::modal(base, domain.view(self.status.as_ref())),
                Some(Message::Escape),
            ),
        };
        // smaller than the layout is made for (a window manager that ignores the minimum size): it scrolls, and
        // nothing is squeezed out of sight
        let content = if self.window_size.width < MIN_SIZE.width
            || self.window_size.height < MIN_SIZE.height
        {
            iced::widget::scrollable(
                container(content)
                    .width(Length::Fixed(MIN_SIZE.width))
                    .height(Length::Fixed(MIN_SIZE.height)),
            )
            .direction(iced::widget::scrollable::Direction::Both {
                vertical: iced::widget::scrollable::Scrollbar::default(),
                horizontal: iced::widget::scrollable::Scrollbar::default(),
            })
            .into()
        } else {
            content
        };
        let dialog_open = self.dialog.is_some();
        focus::scope(content, escape, move |key, modifiers| {
            App::shortcut(dialog_open, signed_in, key, modifiers)
        })
    }
}

/// The iced application, shared by `main` and the tests.
pub fn application(
    config: Config,
) -> iced::Application<impl iced::Program<State = App, Message = Message, Theme = Theme>> {
    iced::application(move || App::new(config.clone()), App::update, App::view)
        .title(App::title)
        .subscription(App::subscription)
        .theme(App::theme)
        .font(FONT_REGULAR)
        .font(FONT_BOLD)
        .font(FONT_ICONS)
        .font(FONT_ITALIC)
        .default_font(DEFAULT_FONT)
        .window(window_settings())
}

/// The main window: its size limits, icon and app id.
pub fn window_settings() -> iced::window::Settings {
    iced::window::Settings {
        size: DEFAULT_SIZE,
        min_size: Some(MIN_SIZE),
        icon: iced::window::icon::from_rgba(ICON_RGBA.to_vec(), 64, 64).ok(),
        #[cfg(any(target_os = "linux", target_os = "freebsd"))]
        platform_specific: iced::window::settings::PlatformSpecific {
            application_id: APP_ID.into(),
            ..Default::default()
        },
        ..iced::window::Settings::default()
    }
}

/// Open the window (blocks until it is closed).
///
/// The toolkit panics when the display named by `DISPLAY`/`WAYLAND_DISPLAY` cannot be reached (no X server, a stale
/// variable over ssh); that case becomes one sentence instead of a backtrace. Any other panic is a bug and goes on
/// unwinding with the usual report.
pub fn run(config: Config) -> Result<(), Error> {
    let outcome = without_event_loop_panic_report(|| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| application(config).run()))
    });
    match outcome {
        Ok(result) => result.map_err(|e| {
            tracing::error!(error = %e, "the window could not be opened");
            Error::Refused {
                reason: format!("The desktop app could not open its window ({e})."),
            }
        }),
        Err(payload) if is_event_loop_failure(payload.as_ref()) => {
            tracing::error!(
                detail = panic_text(payload.as_ref()),
                "the display could not be reached"
            );
            Err(Error::Refused {
                reason: "The desktop app could not reach the graphical session (check DISPLAY or WAYLAND_DISPLAY); \
                         every action is also available on the command line: conda-connect --help."
                    .into(),
            })
        }
        Err(payload) => std::panic::resume_unwind(payload),
    }
}

/// The text a panic carried, when it was a string.
fn panic_text(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("")
}

/// The toolkit's panic when it cannot create its event loop (iced_winit: "Create event loop: …").
fn is_event_loop_failure(payload: &(dyn std::any::Any + Send)) -> bool {
    panic_text(payload).starts_with("Create event loop")
}

/// Run `f` with the default panic report silenced for the event-loop failure only (it is reported as an error).
fn without_event_loop_panic_report<T>(f: impl FnOnce() -> T) -> T {
    let previous = std::sync::Arc::new(std::panic::take_hook());
    let chained = previous.clone();
    std::panic::set_hook(Box::new(move |info| {
        if !is_event_loop_failure(info.payload()) {
            chained(info);
        }
    }));
    let value = f();
    let _ = std::panic::take_hook();
    if let Ok(previous) = std::sync::Arc::try_unwrap(previous) {
        std::panic::set_hook(previous);
    }
    value
}
