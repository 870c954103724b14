//! Set Domain: the first step of the first sign-in (Navigator's texts). Validates the typed address against
//! `/api/system`; a certificate failure offers "Trust Server and Continue".

use iced::widget::{column, row, space, text, text_input};
use iced::{Element, Length, Task};

use crate::engine::{Engine, Error, domain};
use crate::gui::screen::trust;
use crate::gui::style;

pub const PRIMARY_TEXT: &str = "Looks like this is the first time you are logging into Anaconda Server (previously Team Edition). Please set your Anaconda Server domain.";
pub const SECONDARY_TEXT: &str =
    "You only need to set this domain once. You can always change this in your Preferences.";
pub const TITLE: &str = "Set your Anaconda Server domain";
pub const PLACEHOLDER: &str = "http(s)://example.com";
pub const INPUT_ID: &str = "set-domain-input";

#[derive(Debug, Clone)]
pub enum Message {
    Input(String),
    Submit,
    Trust,
    CancelTrust,
    Cancel,
    Validated(Result<String, Error>),
}

pub enum Action {
    None,
    Run(Task<Message>),
    Done(String),
    Cancel,
}

#[derive(Debug, Clone, Default)]
pub struct State {
    pub input: String,
    pub error: Option<String>,
    pub busy: bool,
    /// The certificate of this host failed: ask before trusting it.
    pub untrusted_host: Option<String>,
}

impl State {
    pub fn new(preset: Option<String>) -> Self {
        State {
            input: preset.unwrap_or_default(),
            ..Default::default()
        }
    }

    pub fn focus() -> Task<Message> {
        iced::widget::operation::focus(INPUT_ID)
    }

    pub fn update(&mut self, message: Message, engine: &Engine) -> Action {
        match message {
            Message::Input(s) => {
                self.input = s;
                self.error = None;
                Action::None
            }
            Message::Submit => self.validate(engine, false),
            Message::Trust => {
                self.untrusted_host = None;
                self.validate(engine, true)
            }
            Message::CancelTrust => {
                self.untrusted_host = None;
                self.error = Some(crate::engine::error::INVALID_API_URL.into());
                Action::None
            }
            Message::Cancel => Action::Cancel,
            Message::Validated(result) => {
                self.busy = false;
                match result {
                    Ok(domain) => Action::Done(domain),
                    Err(e) if e.is_tls() => {
                        self.untrusted_host = domain::normalize_domain(&self.input)
                            .ok()
                            .map(|d| domain::netloc(&d));
                        Action::None
                    }
                    Err(e) => {
                        self.error = Some(e.to_string());
                        Action::None
                    }
                }
            }
        }
    }

    fn validate(&mut self, engine: &Engine, trust: bool) -> Action {
        if self.busy || self.input.trim().is_empty() {
            return Action::None;
        }
        self.busy = true;
        self.error = None;
        let engine = engine.clone();
        let input = self.input.clone();
        Action::Run(Task::perform(
            async move { engine.set_domain(&input, trust).await },
            Message::Validated,
        ))
    }

    pub fn view(&self) -> Element<'_, Message> {
        if let Some(host) = &self.untrusted_host {
            return trust::view(host, Message::Trust, Message::CancelTrust);
        }
        let submit = (!self.busy && !self.input.trim().is_empty()).then_some(Message::Submit);
        let mut form = column![
            style::title(TITLE),
            text(PRIMARY_TEXT).size(14),
            style::muted(SECONDARY_TEXT),
            style::field(
                "Anaconda Server Domain",
                text_input(PLACEHOLDER, &self.input)
                    .id(INPUT_ID)
                    .on_input(Message::Input)
                    .on_submit(Message::Submit)
                    .padding(8),
            ),
        ]
        .spacing(14);
        if let Some(e) = &self.error {
            form = form.push(style::error(e.as_str()));
        }
        if self.busy {
            form = form.push(style::muted("Checking the server…"));
        }
        form = form.push(
            row![
                space::horizontal().width(Length::Fill),
                style::secondary("Cancel", Some(Message::Cancel)),
                style::primary("Set Domain", submit)
            ]
            .spacing(10),
        );
        style::card(form, 520.0)
    }
}
