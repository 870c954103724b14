//! Login: Username, Password (masked), Sign In enabled only when both are filled; inline errors in Navigator's
//! words; a busy line while the request runs; Enter submits, Esc cancels.

use iced::widget::{column, space, text, text_input};
use iced::{Element, Task};

use crate::engine::session::LoginOutcome;
use crate::engine::{Engine, Error, domain};
use crate::gui::screen::trust;
use crate::gui::style;

pub const TITLE: &str = "Sign in to access your repository";
pub const SIDE_TEXT: &str = "Sign in to configure conda to install packages from your Anaconda Server (previously Team Edition) instance.";
pub const USERNAME_ID: &str = "login-username";
pub const PASSWORD_ID: &str = "login-password";

#[derive(Debug, Clone)]
pub enum Message {
    Username(String),
    Password(String),
    Submit,
    Trust,
    CancelTrust,
    CertificateRead(Result<crate::engine::certificate::CertificateInfo, Error>),
    Cancel,
    Finished(Result<LoginOutcome, Error>),
}

pub enum Action {
    None,
    Run(Task<Message>),
    Done(LoginOutcome),
    Cancel,
}

#[derive(Debug, Clone)]
pub struct State {
    pub domain: String,
    pub username: String,
    pub password: String,
    pub error: Option<String>,
    pub busy: bool,
    pub untrusted_host: Option<String>,
    /// The certificate shown in the trust question.
    pub server_certificate: trust::Certificate,
    /// Shown in demo mode: the emulator's credentials.
    pub hint: Option<String>,
}

impl State {
    pub fn new(domain: String, hint: Option<String>) -> Self {
        State {
            domain,
            username: String::new(),
            password: String::new(),
            error: None,
            busy: false,
            untrusted_host: None,
            server_certificate: None,
            hint,
        }
    }

    pub fn focus() -> Task<Message> {
        iced::widget::operation::focus(USERNAME_ID)
    }

    pub fn is_busy(&self) -> bool {
        self.busy
    }

    /// Esc: out of the trust question first, else close (never while signing in).
    pub fn escape(&self) -> Option<Message> {
        if self.untrusted_host.is_some() {
            Some(Message::CancelTrust)
        } else {
            (!self.busy).then_some(Message::Cancel)
        }
    }

    /// Enter: Sign In; in the trust question, Cancel.
    pub fn enter(&self) -> Option<Message> {
        if self.untrusted_host.is_some() {
            Some(Message::CancelTrust)
        } else {
            Some(Message::Submit)
        }
    }

    fn can_submit(&self) -> bool {
        !self.busy && !self.username.trim().is_empty() && !self.password.is_empty()
    }

    pub fn update(&mut self, message: Message, engine: &Engine) -> Action {
        match message {
            Message::Username(s) => {
                self.username = s;
                Action::None
            }
            Message::Password(s) => {
                self.password = s;
                Action::None
            }
            Message::Submit => self.sign_in(engine, false),
            Message::Trust => {
                self.untrusted_host = None;
                self.sign_in(engine, true)
            }
            Message::CancelTrust => {
                if let Some(host) = self.untrusted_host.take() {
                    self.error = Some(trust::cancelled(&host));
                }
                Action::Run(Self::focus())
            }
            Message::Cancel => Action::Cancel,
            Message::CertificateRead(result) => {
                self.server_certificate = Some(result.map_err(|e| e.to_string()));
                Action::None
            }
            Message::Finished(result) => {
                self.busy = false;
                match result {
                    Ok(outcome) => {
                        self.password.clear();
                        Action::Done(outcome)
                    }
                    Err(e) if e.is_tls() => {
                        self.untrusted_host = Some(domain::netloc(&self.domain));
                        self.server_certificate = None;
                        Action::Run(trust::fetch(
                            engine,
                            self.domain.clone(),
                            Message::CertificateRead,
                        ))
                    }
                    Err(e) => {
                        self.error = Some(crate::gui::screen::set_domain::domain_error(&e));
                        // as Navigator selects it: the next keystrokes replace the password
                        self.password.clear();
                        Action::Run(iced::widget::operation::focus(PASSWORD_ID))
                    }
                }
            }
        }
    }

    fn sign_in(&mut self, engine: &Engine, trust: bool) -> Action {
        if !self.can_submit() {
            return Action::None;
        }
        self.busy = true;
        self.error = None;
        self.username = self.username.trim().to_lowercase();
        let engine = engine.clone();
        let (user, password, domain) = (
            self.username.clone(),
            self.password.clone(),
            self.domain.clone(),
        );
        Action::Run(Task::perform(
            async move {
                if trust {
                    engine.set_domain(&domain, true).await?;
                }
                engine.login(&user, &password).await
            },
            Message::Finished,
        ))
    }

    pub fn view(&self) -> Element<'_, Message> {
        if let Some(host) = &self.untrusted_host {
            return trust::view(
                host,
                &self.server_certificate,
                Message::Trust,
                Message::CancelTrust,
            );
        }
        // information, not a control: a banner, never something that looks like a field or a button
        let hint: Element<'_, Message> = match &self.hint {
            Some(hint) => style::banner(style::Tone::Info, hint.as_str(), vec![]),
            None => space::vertical().height(0).into(),
        };
        let submit = self.can_submit().then_some(Message::Submit);
        let form = column![
            style::title(TITLE),
            style::muted(SIDE_TEXT),
            style::muted(format!("Anaconda Server: {}", self.domain)),
            match crate::engine::domain::plain_http_warning(&self.domain) {
                Some(w) => text(w)
                    .size(style::type_scale::SMALL)
                    .style(|t: &iced::Theme| text::Style {
                        color: Some(style::tokens(t).warning_text)
                    })
                    .into(),
                None => Element::from(space::vertical().height(0)),
            },
            style::field(
                "Username:",
                text_input("", &self.username)
                    .id(USERNAME_ID)
                    .on_input(Message::Username)
                    .on_submit(Message::Submit)
                    .padding(8),
            ),
            style::field(
                "Password:",
                text_input("", &self.password)
                    .id(PASSWORD_ID)
                    .secure(true)
                    .on_input(Message::Password)
                    .on_submit(Message::Submit)
                    .padding(8),
            ),
            hint,
            style::message_slot(self.error.as_deref(), self.busy.then_some("Signing in…")),
            style::button_row([
                style::secondary("Cancel", (!self.busy).then_some(Message::Cancel)),
                style::primary("Sign In", submit)
            ]),
        ]
        .spacing(style::space_scale::M);
        style::card(form, 480.0)
    }
}
