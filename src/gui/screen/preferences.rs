//! Preferences: Anaconda Server API domain (validated like Set Domain, with the trust dialog), Enable SSL
//! verification, SSL certificate path (must exist), Show hidden Anaconda Server channels, light/dark theme.
//! Changing the domain while signed in asks to sign out first.

use iced::widget::{checkbox, column, radio, row, space, text_input};
use iced::{Element, Length, Task};

use crate::engine::session::Preferences;
use crate::engine::{Engine, Error, domain};
use crate::gui::screen::trust;
use crate::gui::settings::ThemeChoice;
use crate::gui::style;

#[derive(Debug, Clone)]
pub enum Message {
    Domain(String),
    SslVerification(bool),
    Certificate(String),
    ShowHidden(bool),
    Theme(ThemeChoice),
    Apply,
    Trust,
    CancelTrust,
    Cancel,
    SignOutFirst,
    Saved(Result<Preferences, Error>),
}

pub enum Action {
    None,
    Run(Task<Message>),
    Saved(Preferences, ThemeChoice),
    Cancel,
    SignOut,
}

#[derive(Debug, Clone)]
pub struct State {
    pub domain: String,
    pub ssl_verification: bool,
    pub certificate: String,
    pub show_hidden: bool,
    pub theme: ThemeChoice,
    pub error: Option<String>,
    pub busy: bool,
    pub untrusted_host: Option<String>,
    /// The domain cannot change while signed in.
    pub needs_sign_out: bool,
}

impl State {
    pub fn new(prefs: &Preferences, theme: ThemeChoice) -> Self {
        State {
            domain: prefs.domain.clone().unwrap_or_default(),
            ssl_verification: prefs.ssl_verification,
            certificate: prefs.ssl_certificate.clone().unwrap_or_default(),
            show_hidden: prefs.show_hidden_channels,
            theme,
            error: None,
            busy: false,
            untrusted_host: None,
            needs_sign_out: false,
        }
    }

    fn prefs(&self) -> Preferences {
        Preferences {
            domain: Some(self.domain.clone()).filter(|d| !d.trim().is_empty()),
            ssl_verification: self.ssl_verification,
            ssl_certificate: Some(self.certificate.clone()).filter(|c| !c.trim().is_empty()),
            show_hidden_channels: self.show_hidden,
        }
    }

    pub fn update(&mut self, message: Message, engine: &Engine) -> Action {
        match message {
            Message::Domain(s) => {
                self.domain = s;
                self.error = None;
                self.needs_sign_out = false;
            }
            Message::SslVerification(on) => self.ssl_verification = on,
            Message::Certificate(s) => {
                self.certificate = s;
                self.error = None;
            }
            Message::ShowHidden(on) => self.show_hidden = on,
            Message::Theme(t) => self.theme = t,
            Message::Apply => return self.save(engine, false),
            Message::Trust => {
                self.untrusted_host = None;
                return self.save(engine, true);
            }
            Message::CancelTrust => {
                self.untrusted_host = None;
                self.error = Some(crate::engine::error::INVALID_API_URL.into());
            }
            Message::Cancel => return Action::Cancel,
            Message::SignOutFirst => return Action::SignOut,
            Message::Saved(result) => {
                self.busy = false;
                match result {
                    Ok(prefs) => return Action::Saved(prefs, self.theme),
                    Err(e) if e.is_tls() => {
                        self.untrusted_host = domain::normalize_domain(&self.domain)
                            .ok()
                            .map(|d| domain::netloc(&d));
                    }
                    Err(Error::AlreadyLoggedIn { domain, .. }) => {
                        self.needs_sign_out = true;
                        self.error = Some(format!(
                            "You are signed in to {domain}. Sign out before changing the Anaconda Server domain."
                        ));
                    }
                    Err(e) => self.error = Some(e.to_string()),
                }
            }
        }
        Action::None
    }

    fn save(&mut self, engine: &Engine, trust: bool) -> Action {
        if self.busy {
            return Action::None;
        }
        self.busy = true;
        self.error = None;
        let engine = engine.clone();
        let prefs = self.prefs();
        Action::Run(Task::perform(
            async move { engine.save_preferences(&prefs, trust).await },
            Message::Saved,
        ))
    }

    pub fn view(&self) -> Element<'_, Message> {
        if let Some(host) = &self.untrusted_host {
            return trust::view(host, Message::Trust, Message::CancelTrust);
        }
        let themes = row![
            radio(
                "Light",
                ThemeChoice::Light,
                Some(self.theme),
                Message::Theme
            )
            .size(16),
            radio("Dark", ThemeChoice::Dark, Some(self.theme), Message::Theme).size(16),
        ]
        .spacing(20);
        let mut body = column![
            style::title("Preferences"),
            style::field(
                "Anaconda Server API domain",
                text_input(crate::gui::screen::set_domain::PLACEHOLDER, &self.domain)
                    .on_input(Message::Domain)
                    .on_submit(Message::Apply)
                    .padding(8),
            ),
            checkbox(self.ssl_verification)
                .label("Enable SSL verification")
                .on_toggle(Message::SslVerification)
                .size(16),
            style::field(
                "SSL certificate path (Optional)",
                text_input("/path/to/ca-bundle.pem", &self.certificate)
                    .on_input(Message::Certificate)
                    .on_submit(Message::Apply)
                    .padding(8),
            ),
            checkbox(self.show_hidden)
                .label("Show hidden Anaconda Server channels")
                .on_toggle(Message::ShowHidden)
                .size(16),
            style::field("Theme", themes),
        ]
        .spacing(14);
        if let Some(e) = &self.error {
            body = body.push(style::error(e.as_str()));
        }
        if self.needs_sign_out {
            body = body.push(style::secondary("Sign Out…", Some(Message::SignOutFirst)));
        }
        if self.busy {
            body = body.push(style::muted("Checking…"));
        }
        body = body.push(
            row![
                space::horizontal().width(Length::Fill),
                style::secondary("Cancel", Some(Message::Cancel)),
                style::primary("Apply", (!self.busy).then_some(Message::Apply))
            ]
            .spacing(10),
        );
        style::card(body, 520.0)
    }
}
