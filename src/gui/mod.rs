//! The desktop app (iced). A thin top level: it owns the engine handle and the screens, routes messages, runs the
//! sign-in flow (Connect → Set Domain → Login → Add Channels → Update Index) and the health check. Every network
//! and file operation runs as a `Task`, so the window keeps repainting.

pub mod screen;
pub mod settings;
pub mod style;

use std::time::Duration;

use iced::keyboard::{self, key};
use iced::widget::{button, column, container, row, space, text};
use iced::{Element, Font, Length, Subscription, Task, Theme};

use crate::engine::session::Status;
use crate::engine::tokens::Expiry;
use crate::engine::{Engine, Error};
use screen::{add_channels, connect, home, login, preferences, set_domain, sign_out, tokens};
use settings::{AppSettings, ThemeChoice};

pub const APP_NAME: &str = "conda-connect";
pub const FONT_REGULAR: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
pub const FONT_BOLD: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf");
pub const FONT_ITALIC: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Oblique.ttf");
pub const DEFAULT_FONT: Font = Font::with_name("DejaVu Sans");
/// The app icon as 64×64 RGBA (generated from assets/icons/conda-connect.svg).
const ICON_RGBA: &[u8] = include_bytes!("../../assets/icons/conda-connect-64.rgba");
pub const HEALTH_INTERVAL: Duration = Duration::from_secs(10);

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

/// The open dialog, if any.
#[derive(Debug)]
pub enum Dialog {
    Connect,
    SetDomain(set_domain::State),
    Login(login::State),
    AddChannels(add_channels::State),
    Preferences(preferences::State),
    SignOut(sign_out::State),
    Tokens(tokens::State),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    Unknown,
    Healthy,
    Unreachable,
    /// Reachable again after an outage (banner until dismissed).
    Restored,
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
    OpenConnect,
    OpenTokens,
    /// The sign-in token's expiry, checked after each status load while signed in.
    SignInExpiry(Result<Expiry, Error>),
    RenewSignInToken,
    Renewed(Result<String, Error>),
    OpenPreferences,
    CloseDialog,
    StatusLoaded(Result<Status, Error>),
    HealthTick,
    HealthChecked(bool),
    DismissBanner,
    DismissNotice,
    Escape,
    /// Enter outside a text field: the open dialog's default button.
    Enter,
    FocusNext(bool),
}

pub struct App {
    pub engine: Engine,
    pub config: Config,
    pub status: Option<Status>,
    pub status_error: Option<String>,
    pub home: home::State,
    pub dialog: Option<Dialog>,
    pub health: Health,
    pub notice: Option<String>,
    pub settings: AppSettings,
    /// The sign-in token expires soon (or has): the main window offers renewal.
    pub sign_in_expiry: Option<Expiry>,
}

impl App {
    pub fn new(config: Config) -> (Self, Task<Message>) {
        let settings = AppSettings::load(&config.engine.paths);
        let app = App {
            engine: config.engine.clone(),
            config,
            status: None,
            status_error: None,
            home: home::State::default(),
            dialog: None,
            health: Health::Unknown,
            notice: None,
            settings,
            sign_in_expiry: None,
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

    pub fn title(&self) -> String {
        match &self.status {
            Some(s) if s.logged_in => format!(
                "{APP_NAME} — connected to {}",
                s.domain.as_deref().unwrap_or("Anaconda Server")
            ),
            _ => APP_NAME.to_string(),
        }
    }

    pub fn theme(&self) -> Theme {
        match self.settings.theme {
            ThemeChoice::Light => Theme::Light,
            ThemeChoice::Dark => Theme::Dark,
        }
    }

    fn signed_in(&self) -> bool {
        self.status.as_ref().is_some_and(|s| s.logged_in)
    }

    fn refresh_status(&self) -> Task<Message> {
        let engine = self.engine.clone();
        Task::perform(async move { engine.status() }, Message::StatusLoaded)
    }

    fn run_index(&mut self) -> Task<Message> {
        match self.home.update_index(&self.engine) {
            home::Action::Run(t) => t.map(Message::Home),
            home::Action::None => Task::none(),
        }
    }

    /// Connect → Sign In: Set Domain first when no domain is stored, else Login.
    fn start_sign_in(&mut self) -> Task<Message> {
        let domain = self.engine.preferences().ok().and_then(|p| p.domain);
        match domain {
            Some(domain) => {
                self.dialog = Some(Dialog::Login(login::State::new(
                    domain,
                    self.config.login_hint.clone(),
                )));
                login::State::focus().map(Message::Login)
            }
            None => {
                self.dialog = Some(Dialog::SetDomain(set_domain::State::new(
                    self.config.preset_domain.clone(),
                )));
                set_domain::State::focus().map(Message::SetDomain)
            }
        }
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

    pub fn update(&mut self, message: Message) -> Task<Message> {
        match message {
            Message::StatusLoaded(Ok(status)) => {
                let own_session =
                    status.source == Some(crate::engine::session::LoginSource::CondaConnect);
                self.status = Some(status);
                self.status_error = None;
                if !self.signed_in() {
                    self.health = Health::Unknown;
                    self.sign_in_expiry = None;
                    return Task::none();
                }
                if own_session {
                    let engine = self.engine.clone();
                    return Task::perform(
                        async move { engine.sign_in_token_expiry().await },
                        Message::SignInExpiry,
                    );
                }
                Task::none()
            }
            Message::SignInExpiry(result) => {
                self.sign_in_expiry = match result {
                    Ok(e @ (Expiry::Soon(_) | Expiry::Expired)) => Some(e),
                    Ok(_) => None,
                    Err(e) => {
                        tracing::warn!(error = %e, "could not read the sign-in token's expiry");
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
                        self.notice = Some(format!(
                            "conda's sign-in token was renewed; it now expires on {until}."
                        ));
                    }
                    Err(e) => self.notice = Some(e.to_string()),
                }
                Task::none()
            }
            Message::OpenTokens => {
                let domain = self
                    .status
                    .as_ref()
                    .and_then(|s| s.domain.clone())
                    .unwrap_or_default();
                let (state, load) = tokens::State::new(&self.engine, domain);
                self.dialog = Some(Dialog::Tokens(state));
                load.map(Message::Tokens)
            }
            Message::Tokens(m) => {
                let Some(Dialog::Tokens(state)) = &mut self.dialog else {
                    return Task::none();
                };
                match state.update(m, &self.engine) {
                    tokens::Action::None => Task::none(),
                    tokens::Action::Run(t) => t.map(Message::Tokens),
                    tokens::Action::Close => {
                        self.dialog = None;
                        self.refresh_status()
                    }
                    tokens::Action::SignOut => self.start_sign_out(),
                }
            }
            Message::StatusLoaded(Err(e)) => {
                self.status_error = Some(e.to_string());
                Task::none()
            }
            Message::OpenConnect => {
                self.dialog = Some(Dialog::Connect);
                Task::none()
            }
            Message::OpenPreferences => match self.engine.preferences() {
                Ok(p) => {
                    self.dialog = Some(Dialog::Preferences(preferences::State::new(
                        &p,
                        self.settings.theme,
                    )));
                    Task::none()
                }
                Err(e) => {
                    self.notice = Some(e.to_string());
                    Task::none()
                }
            },
            Message::CloseDialog | Message::Escape => {
                // Esc never interrupts work in flight.
                let busy = match &self.dialog {
                    Some(Dialog::Login(s)) => s.busy,
                    Some(Dialog::SetDomain(s)) => s.busy,
                    Some(Dialog::AddChannels(s)) => s.saving,
                    Some(Dialog::SignOut(s)) => s.busy,
                    Some(Dialog::Preferences(s)) => s.busy,
                    Some(Dialog::Tokens(s)) => s.busy,
                    _ => false,
                };
                if !busy {
                    self.dialog = None;
                }
                Task::none()
            }
            Message::Enter => match &self.dialog {
                Some(Dialog::Connect) => {
                    let m = if self.signed_in() {
                        connect::Message::SignOut
                    } else {
                        connect::Message::SignIn
                    };
                    self.update(Message::Connect(m))
                }
                Some(Dialog::SignOut(_)) => {
                    self.update(Message::SignOut(sign_out::Message::Confirm))
                }
                Some(Dialog::SetDomain(s)) if s.untrusted_host.is_some() => {
                    self.update(Message::SetDomain(set_domain::Message::Trust))
                }
                Some(Dialog::Login(s)) if s.untrusted_host.is_some() => {
                    self.update(Message::Login(login::Message::Trust))
                }
                Some(Dialog::Preferences(s)) if s.untrusted_host.is_some() => {
                    self.update(Message::Preferences(preferences::Message::Trust))
                }
                Some(Dialog::AddChannels(_)) => {
                    self.update(Message::AddChannels(add_channels::Message::Submit))
                }
                _ => Task::none(),
            },
            Message::FocusNext(forward) => {
                if forward {
                    iced::widget::operation::focus_next()
                } else {
                    iced::widget::operation::focus_previous()
                }
            }
            Message::DismissBanner => {
                if self.health == Health::Restored {
                    self.health = Health::Healthy;
                }
                Task::none()
            }
            Message::DismissNotice => {
                self.notice = None;
                Task::none()
            }
            Message::HealthTick => match self.status.as_ref().and_then(|s| s.domain.clone()) {
                Some(domain) if self.signed_in() => {
                    let engine = self.engine.clone();
                    Task::perform(
                        async move { engine.healthy(&domain).await },
                        Message::HealthChecked,
                    )
                }
                _ => Task::none(),
            },
            Message::HealthChecked(ok) => {
                self.health = match (self.health, ok) {
                    (Health::Unreachable, true) => Health::Restored,
                    (Health::Restored, true) => Health::Restored,
                    (_, true) => Health::Healthy,
                    (_, false) => Health::Unreachable,
                };
                Task::none()
            }
            Message::Home(m) => match self.home.update(m, &self.engine) {
                home::Action::Run(t) => t.map(Message::Home),
                home::Action::None => Task::none(),
            },
            Message::Connect(m) => match connect::update(m) {
                connect::Action::SignIn => self.start_sign_in(),
                connect::Action::SignOut => self.start_sign_out(),
                connect::Action::Close => {
                    self.dialog = None;
                    Task::none()
                }
            },
            Message::SetDomain(m) => {
                let Some(Dialog::SetDomain(state)) = &mut self.dialog else {
                    return Task::none();
                };
                match state.update(m, &self.engine) {
                    set_domain::Action::None => Task::none(),
                    set_domain::Action::Run(t) => t.map(Message::SetDomain),
                    set_domain::Action::Cancel => {
                        self.dialog = None;
                        Task::none()
                    }
                    set_domain::Action::Done(domain) => {
                        self.dialog = Some(Dialog::Login(login::State::new(
                            domain,
                            self.config.login_hint.clone(),
                        )));
                        Task::batch([
                            login::State::focus().map(Message::Login),
                            self.refresh_status(),
                        ])
                    }
                }
            }
            Message::Login(m) => {
                let Some(Dialog::Login(state)) = &mut self.dialog else {
                    return Task::none();
                };
                match state.update(m, &self.engine) {
                    login::Action::None => Task::none(),
                    login::Action::Run(t) => t.map(Message::Login),
                    login::Action::Cancel => {
                        self.dialog = None;
                        Task::none()
                    }
                    login::Action::Done(outcome) => {
                        let all = self
                            .engine
                            .preferences()
                            .map(|p| p.show_hidden_channels)
                            .unwrap_or(false);
                        let (state, load) =
                            add_channels::State::new(&self.engine, all, outcome.remembered.clone());
                        self.dialog = Some(Dialog::AddChannels(state));
                        self.health = Health::Healthy;
                        Task::batch([load.map(Message::AddChannels), self.refresh_status()])
                    }
                }
            }
            Message::AddChannels(m) => {
                let Some(Dialog::AddChannels(state)) = &mut self.dialog else {
                    return Task::none();
                };
                match state.update(m, &self.engine) {
                    add_channels::Action::None => Task::none(),
                    add_channels::Action::Run(t) => t.map(Message::AddChannels),
                    add_channels::Action::Done { .. } => {
                        self.dialog = None;
                        // as Navigator: Update Index after sign-in
                        let index = self.run_index();
                        Task::batch([self.refresh_status(), index])
                    }
                }
            }
            Message::Preferences(m) => {
                let Some(Dialog::Preferences(state)) = &mut self.dialog else {
                    return Task::none();
                };
                match state.update(m, &self.engine) {
                    preferences::Action::None => Task::none(),
                    preferences::Action::Run(t) => t.map(Message::Preferences),
                    preferences::Action::Cancel => {
                        self.dialog = None;
                        Task::none()
                    }
                    preferences::Action::SignOut => self.start_sign_out(),
                    preferences::Action::Saved(_, theme) => {
                        self.dialog = None;
                        if theme != self.settings.theme {
                            self.settings.theme = theme;
                            // under the config lock, like every write in the data directory
                            let saved = self
                                .engine
                                .lock()
                                .and_then(|_lock| self.settings.save(&self.engine.paths));
                            if let Err(e) = saved {
                                self.notice = Some(e.to_string());
                            }
                        }
                        self.refresh_status()
                    }
                }
            }
            Message::SignOut(m) => {
                let Some(Dialog::SignOut(state)) = &mut self.dialog else {
                    return Task::none();
                };
                match state.update(m, &self.engine) {
                    sign_out::Action::None => Task::none(),
                    sign_out::Action::Run(t) => t.map(Message::SignOut),
                    sign_out::Action::Cancel => {
                        self.dialog = None;
                        Task::none()
                    }
                    sign_out::Action::Done(outcome) => {
                        self.dialog = None;
                        self.notice = Some(sign_out::summary(&outcome));
                        self.health = Health::Unknown;
                        // as Navigator: Update Index after sign-out
                        let index = self.run_index();
                        Task::batch([self.refresh_status(), index])
                    }
                }
            }
        }
    }

    pub fn subscription(&self) -> Subscription<Message> {
        let keys = keyboard::listen().filter_map(|event| match event {
            keyboard::Event::KeyPressed {
                key: keyboard::Key::Named(key::Named::Escape),
                ..
            } => Some(Message::Escape),
            keyboard::Event::KeyPressed {
                key: keyboard::Key::Named(key::Named::Enter),
                ..
            } => Some(Message::Enter),
            keyboard::Event::KeyPressed {
                key: keyboard::Key::Named(key::Named::Tab),
                modifiers,
                ..
            } => Some(Message::FocusNext(!modifiers.shift())),
            _ => None,
        });
        if self.signed_in() {
            Subscription::batch([
                keys,
                iced::time::every(HEALTH_INTERVAL).map(|_| Message::HealthTick),
            ])
        } else {
            keys
        }
    }

    /// The status line of the header.
    pub fn status_line(&self) -> String {
        match &self.status {
            Some(s) if s.logged_in => {
                let who = s
                    .username
                    .clone()
                    .map(|u| format!(" as {u}"))
                    .unwrap_or_default();
                match self.health {
                    Health::Unreachable => format!("Partially connected to Anaconda Server{who}"),
                    _ => format!("Connected to Anaconda Server{who}"),
                }
            }
            Some(_) => "Not connected".into(),
            None => "Reading your configuration…".into(),
        }
    }

    pub fn view(&self) -> Element<'_, Message> {
        let own_session = self.status.as_ref().is_some_and(|s| {
            s.logged_in && s.source == Some(crate::engine::session::LoginSource::CondaConnect)
        });
        let mut buttons = row![].spacing(10);
        if own_session {
            buttons = buttons.push(style::secondary("Tokens", Some(Message::OpenTokens)));
        }
        buttons = buttons
            .push(style::secondary(
                "Preferences",
                Some(Message::OpenPreferences),
            ))
            .push(style::primary("Connect", Some(Message::OpenConnect)));
        let header = container(
            row![
                text(APP_NAME).size(20).font(style::BOLD),
                text(self.status_line()).size(14),
                space::horizontal().width(Length::Fill),
                buttons,
            ]
            .spacing(16)
            .align_y(iced::Center),
        )
        .padding([12, 16])
        .style(container::rounded_box);
        let mut page = column![header].spacing(12);
        if let Some(note) = &self.config.note {
            page = page.push(style::muted(note.as_str()));
        }
        match self.health {
            Health::Unreachable => {
                page = page.push(banner(
                    "Anaconda Server cannot be reached. Some actions may not work as expected until connection is restored.",
                    None,
                    true,
                ))
            }
            Health::Restored => page = page.push(banner("Connection to Anaconda Server restored.", Some(Message::DismissBanner), false)),
            _ => {}
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
            page = page.push(
                container(
                    row![
                        text(message).size(14).width(Length::Fill),
                        style::primary("Renew for a year", Some(Message::RenewSignInToken))
                    ]
                    .spacing(12)
                    .align_y(iced::Center),
                )
                .padding([8, 12])
                .width(Length::Fill)
                .style(container::warning),
            );
        }
        if let Some(n) = &self.notice {
            page = page.push(banner(n, Some(Message::DismissNotice), false));
        }
        if let Some(e) = &self.status_error {
            page = page.push(banner(e, None, true));
        }
        page = page.push(self.home.view(self.status.as_ref()).map(Message::Home));
        let base = container(page)
            .padding(16)
            .width(Length::Fill)
            .height(Length::Fill);
        let dialog: Option<Element<'_, Message>> = match &self.dialog {
            None => None,
            Some(Dialog::Connect) => {
                Some(connect::view(self.status.as_ref()).map(Message::Connect))
            }
            Some(Dialog::SetDomain(s)) => Some(s.view().map(Message::SetDomain)),
            Some(Dialog::Login(s)) => Some(s.view().map(Message::Login)),
            Some(Dialog::AddChannels(s)) => Some(s.view().map(Message::AddChannels)),
            Some(Dialog::Preferences(s)) => Some(s.view().map(Message::Preferences)),
            Some(Dialog::SignOut(s)) => Some(s.view().map(Message::SignOut)),
            Some(Dialog::Tokens(s)) => Some(s.view().map(Message::Tokens)),
        };
        match dialog {
            Some(d) => style::modal(base, d, Message::CloseDialog),
            None => base.into(),
        }
    }
}

fn banner<'a>(message: &'a str, dismiss: Option<Message>, danger: bool) -> Element<'a, Message> {
    let mut content = row![text(message).size(14).width(Length::Fill)]
        .spacing(12)
        .align_y(iced::Center);
    if let Some(m) = dismiss {
        content = content.push(
            button(text("Close").size(13))
                .style(button::text)
                .on_press(m),
        );
    }
    container(content)
        .padding([8, 12])
        .width(Length::Fill)
        .style(if danger {
            container::danger
        } else {
            container::success
        })
        .into()
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
        .font(FONT_ITALIC)
        .default_font(DEFAULT_FONT)
        .window(iced::window::Settings {
            size: iced::Size::new(1040.0, 700.0),
            min_size: Some(iced::Size::new(860.0, 560.0)),
            icon: iced::window::icon::from_rgba(ICON_RGBA.to_vec(), 64, 64).ok(),
            ..iced::window::Settings::default()
        })
}

/// Open the window (blocks until it is closed).
pub fn run(config: Config) -> Result<(), Error> {
    application(config).run().map_err(|e| {
        tracing::error!(error = %e, "the window could not be opened");
        Error::Refused {
            reason: format!("The desktop app could not open its window ({e})."),
        }
    })
}
