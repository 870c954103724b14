//! The desktop app (iced). A thin top level: it owns the engine handle and the screens, routes messages, runs the
//! sign-in flow (Connect → Set Domain → Login → Add Channels → Update Index), the Channels screen and the health
//! check. Every network and file operation runs as a `Task`, so the window keeps repainting; each dialog says
//! itself whether it is busy and what Enter and Esc mean.

pub mod dialog;
mod dialogs;
mod flow;
pub mod focus;
mod frame;
pub mod notices;
pub mod refused;
pub mod screen;
pub mod settings;
pub mod style;
pub mod window;

use std::time::Duration;

use iced::keyboard::{self, key};
use iced::{Font, Subscription, Task, Theme};

use crate::engine::health::Connection;
use crate::engine::index_diagnosis::Failure;
pub use crate::engine::index_diagnosis::IndexProblem;
use crate::engine::session::{LoginSource, Preferences, Selection, Status};
use crate::engine::tokens::Expiry;
use crate::engine::{Engine, Error};
pub use dialog::Dialog;
pub use notices::{Notice, Notices, Scope};
use screen::{
    add_channels, connect, diagnose, home, login, preferences, set_domain, sign_out, tokens,
};
use settings::AppSettings;
pub use window::{application, run, window_settings};

pub const APP_NAME: &str = "conda-connect";
/// The window's app id (Wayland) and WM_CLASS (X11): matches `StartupWMClass` in packaging/conda-connect.desktop.
pub const APP_ID: &str = "conda-connect";
pub const FONT_REGULAR: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
pub const FONT_BOLD: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf");
/// The icons (a 6 KB subset of Lucide; see `assets/fonts/README.md`).
pub const FONT_ICONS: &[u8] = include_bytes!("../../assets/fonts/lucide-subset.ttf");
pub const FONT_ITALIC: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Oblique.ttf");
pub const DEFAULT_FONT: Font = Font::with_name("DejaVu Sans");
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

/// A banner for a server token that only a new sign-in can revoke (its session ended before the revocation): it
/// stays until that sign-in (in the window, or `conda-connect logout --finish`) revoked it.
pub fn unrevoked_words(domain: &str, expires: Option<&str>) -> String {
    let until = expires.map(|d| format!(" until {d}")).unwrap_or_default();
    format!(
        "A server token on {domain} is still valid{until}: your session ended before it could be revoked. Sign in to \
         {domain} once more to revoke it (or run conda-connect logout --finish)."
    )
}
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

impl Health {
    /// The health after a connection check: *restored* once after an outage, else what the check found.
    pub fn after(self, found: Connection) -> Health {
        match (self, found) {
            (Health::Unreachable | Health::Restored, Connection::Healthy) => Health::Restored,
            (_, Connection::Healthy) => Health::Healthy,
            (_, Connection::Unreachable) => Health::Unreachable,
            (_, Connection::TokenRejected) => Health::TokenRejected,
            (_, Connection::Untrusted) => Health::Untrusted,
            (_, Connection::CertificateChanged) => Health::CertificateChanged,
        }
    }
}

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
    /// The Diagnose… button of the health banner (the server cannot be reached, its certificate, its token).
    pub fn health_diagnose() -> Id {
        Id::new("banner-health-diagnose")
    }
    /// The Diagnose… button of the banner of a failed Update Index.
    pub fn index_diagnose() -> Id {
        Id::new("banner-index-diagnose")
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
    /// Diagnose from a banner's button, which gets the focus back when it closes.
    OpenDiagnoseFrom(iced::advanced::widget::Id),
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
    /// The status after a sign-out: then Update Index (or the notice that conda's defaults are not fetched).
    StatusAfterSignOut(Result<Status, Error>),
    HealthTick,
    HealthChecked(Connection),
    /// Each secondary server's connection.
    ServersChecked(Vec<(String, Connection)>),
    /// A secondary server was made the primary one (its domain).
    Promoted(Result<String, Error>),
    /// A secondary server was signed in: the status with it, then its channels.
    SecondarySignedIn(String, Result<Status, Error>),
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
    /// Success notices older than [`notices::NOTICE_LIFETIME`] leave.
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
    /// The dialog that opened the one shown (Preferences under Diagnose or Sign Out…): it comes back, with its
    /// unsaved edits, when that one is closed.
    under: Option<Dialog>,
    pub health: Health,
    /// Each secondary server's last connection check (several servers at once).
    pub server_health: Vec<(String, Connection)>,
    pub notices: Notices,
    pub index_problem: Option<IndexProblem>,
    pub settings: AppSettings,
    /// The sign-in token expires soon (or has): the main window offers renewal.
    pub sign_in_expiry: Option<Expiry>,
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
            under: None,
            health: Health::Unknown,
            notices: Notices::default(),
            index_problem: None,
            server_health: Vec::new(),
            settings,
            sign_in_expiry: None,
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

    /// The top level as a table: one call per message.
    fn handle(&mut self, message: Message) -> Task<Message> {
        match message {
            Message::StatusLoaded(result) => self.status_loaded(result),
            Message::StatusAfterSignOut(result) => self.status_after_sign_out(result),
            Message::CheckForChanges => self.check_for_changes(),
            Message::Stamped(stamp) => self.stamped(stamp),
            Message::SignInExpiry(result) => self.sign_in_expiry_read(result),
            Message::RenewSignInToken => self.renew_sign_in_token(),
            Message::Renewed(result) => self.renewed(result),
            Message::HealthTick => self.health_tick(),
            Message::HealthChecked(found) => self.health_checked(found),
            Message::ServersChecked(found) => self.servers_checked(found),
            Message::Promoted(result) => self.promoted(result),
            Message::SecondarySignedIn(domain, status) => self.secondary_signed_in(domain, status),
            Message::DismissBanner => self.dismiss_banner(),
            Message::UpdateIndex => self.update_index(),
            Message::Home(message) => self.home(message),
            Message::IndexDiagnosed(failures) => self.index_diagnosed(failures),
            Message::OpenConnect => self.open_connect(),
            Message::Connect(message) => self.connect(message),
            Message::SignInDomain(domain) => self.sign_in_domain(domain),
            Message::ReviewCertificate => self.review_certificate(),
            Message::SetDomain(message) => self.set_domain(message),
            Message::Login(message) => self.login(message),
            Message::PickChannels(remembered, all) => self.pick_channels(remembered, all),
            Message::AddChannels(message) => self.add_channels(message),
            Message::SignOut(message) => self.sign_out(message),
            Message::SignInAgain => self.sign_in_again(),
            Message::SignedOutToSignIn(result) => self.signed_out_to_sign_in(result),
            Message::OpenTokens => self.open_tokens(),
            Message::Tokens(message) => self.tokens(message),
            Message::OpenChannels => self.open_channels(),
            Message::ChannelsScreen(all) => self.channels_screen(all),
            Message::OpenDiagnose => self.open_diagnose(None),
            Message::OpenDiagnoseFrom(opener) => self.open_diagnose(Some(opener)),
            Message::Diagnose(message) => self.diagnose(message),
            Message::OpenPreferences => self.open_preferences(),
            Message::PreferencesLoaded(result) => self.preferences_loaded(result),
            Message::Preferences(message) => self.preferences(message),
            Message::SettingsSaved(result) => self.settings_saved(result),
            Message::CloseDialog => self.close_dialog(),
            Message::Escape => match self.dialog.as_ref().and_then(Dialog::escape) {
                Some(message) => self.handle(message),
                None => Task::none(),
            },
            Message::Enter => match self.dialog.as_ref().and_then(|d| d.enter(self.signed_in())) {
                Some(message) => self.handle(message),
                None => Task::none(),
            },
            Message::DismissNotice(index) => {
                self.notices.dismiss(index);
                Task::none()
            }
            Message::ExpireNotices => {
                self.notices.expire();
                Task::none()
            }
            Message::FocusSearch => iced::widget::operation::focus(home::SEARCH_ID),
            Message::Quit => iced::exit(),
            Message::Resized(id, size) => self.resized(id, size),
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
        if self.notices.any_expiring() {
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
}
