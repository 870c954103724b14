//! Set Domain: the first step of the first sign-in (Navigator's texts). Validates the typed address against
//! `/api/system`; a certificate failure offers "Trust Server and Continue".

use iced::widget::column;
use iced::{Element, Task};

use crate::engine::session::Trust;
use crate::engine::{Engine, Error, domain};
use crate::gui::screen::trust;
use crate::gui::style;

pub const PRIMARY_TEXT: &str = "Looks like this is the first time you are logging into Anaconda Server (previously Team Edition). Please set your Anaconda Server domain.";
pub const SECONDARY_TEXT: &str =
    "You only need to set this domain once. You can always change this in your Preferences.";
pub const TITLE: &str = "Set your Anaconda Server domain";
/// Connect → Add another server…
pub const ADD_TITLE: &str = "Add another Anaconda Server";
pub const ADD_TEXT: &str = "Sign in to a second server, such as staging or another department's, beside the one you are signed in to. Its channels reach conda by their full address; the first server stays the primary one.";
pub const PLACEHOLDER: &str = "http(s)://example.com";
pub const INPUT_ID: &str = "set-domain-input";

#[derive(Debug, Clone)]
pub enum Message {
    Input(String),
    Submit,
    Trust(trust::Message),
    Cancel,
    /// Esc: close, or with a typed address ask first (a second Esc discards it).
    Escape,
    Validated(Result<String, Error>),
}

pub enum Action {
    None,
    Run(Task<Message>),
    /// The server answered: sign in to it (`adding`: beside the signed-in one).
    Done {
        domain: String,
        adding: bool,
    },
    Cancel,
}

#[derive(Debug, Clone, Default)]
pub struct State {
    pub input: String,
    pub error: Option<String>,
    pub busy: bool,
    /// The certificate of this host failed: the question before trusting it.
    pub trust: trust::Question,
    /// The address the dialog opened with: anything else typed is not thrown away by one Esc.
    pub initial: String,
    pub discard: super::discard::Guard,
    /// The organization fixed the domain: the field is read-only (`Some`, with the support address if any).
    pub managed: Option<Option<String>>,
    /// Another server beside the signed-in one (Connect → Add another server…): checked, not stored as the
    /// domain.
    pub adding: bool,
}

/// A domain error in words that say what is wrong and what to do.
pub fn domain_error(e: &Error) -> String {
    match e {
        Error::Unreachable { host } => {
            format!("Nothing answers at {host}. Check the address, and that you are online.")
        }
        Error::Timeout { host } => {
            format!("{host} did not answer in time. Check the address, and that you are online.")
        }
        other => other.to_string(),
    }
}

/// An address without `http://` or `https://`: say so before asking the server.
pub fn scheme_hint(input: &str) -> Option<String> {
    let input = input.trim();
    let lower = input.to_ascii_lowercase();
    (!input.is_empty() && !lower.starts_with("http://") && !lower.starts_with("https://")).then(
        || {
            format!(
                "Add http:// or https:// in front of the address, for example https://{}.",
                input.split("://").last().unwrap_or(input)
            )
        },
    )
}

impl State {
    pub fn is_busy(&self) -> bool {
        self.busy
    }

    /// Esc: out of the trust question first, else close (never while checking).
    pub fn escape(&self) -> Option<Message> {
        if self.trust.is_asked() {
            self.trust.cancel(Message::Trust)
        } else {
            (!self.busy).then_some(Message::Escape)
        }
    }

    /// Something typed that one Esc would throw away.
    pub fn is_dirty(&self) -> bool {
        self.input.trim() != self.initial.trim()
    }

    /// Enter: Set Domain; in the trust question, Cancel.
    pub fn enter(&self) -> Option<Message> {
        if self.trust.is_asked() {
            self.trust.cancel(Message::Trust)
        } else {
            Some(Message::Submit)
        }
    }

    pub fn new(preset: Option<String>) -> Self {
        let input = preset.unwrap_or_default();
        State {
            initial: input.clone(),
            input,
            ..Default::default()
        }
    }

    /// Set Domain under a policy that fixes the domain: the organization's server, read-only.
    pub fn for_policy(policy: &crate::engine::policy::Policy, preset: Option<String>) -> Self {
        match &policy.domain {
            Some(domain) => State {
                managed: Some(policy.support_url.clone()),
                ..State::new(Some(domain.clone()))
            },
            None => State::new(preset),
        }
    }

    pub fn focus() -> Task<Message> {
        iced::widget::operation::focus(INPUT_ID)
    }

    pub fn update(&mut self, message: Message, engine: &Engine) -> Action {
        if !matches!(message, Message::Escape) {
            self.discard.disarm();
        }
        match message {
            Message::Escape => {
                if self.busy || !self.discard.escape(self.is_dirty()) {
                    Action::None
                } else {
                    Action::Cancel
                }
            }
            Message::Input(value) => {
                self.input = value;
                self.error = None;
                Action::None
            }
            Message::Submit => self.validate(engine, Trust::No),
            Message::Trust(message) => match self.trust.answer(message) {
                trust::Outcome::None => Action::None,
                trust::Outcome::Trusted(trust) => self.validate(engine, trust),
                trust::Outcome::Cancelled(sentence) => {
                    self.error = Some(sentence);
                    // back in the form, ready to type another address
                    Action::Run(Self::focus())
                }
            },
            Message::Cancel => Action::Cancel,
            Message::Validated(result) => {
                self.busy = false;
                match result {
                    Ok(domain) => Action::Done {
                        domain,
                        adding: self.adding,
                    },
                    Err(error) if error.is_tls() => match domain::normalize_domain(&self.input) {
                        Ok(server) => {
                            Action::Run(self.trust.ask(engine, &server, &error).map(Message::Trust))
                        }
                        Err(_) => Action::None,
                    },
                    Err(error) => {
                        self.error = Some(domain_error(&error));
                        Action::None
                    }
                }
            }
        }
    }

    fn validate(&mut self, engine: &Engine, trust: Trust) -> Action {
        if self.busy || self.input.trim().is_empty() {
            return Action::None;
        }
        if let Some(hint) = scheme_hint(&self.input) {
            self.error = Some(hint);
            return Action::None;
        }
        self.busy = true;
        self.error = None;
        let engine = engine.clone();
        let input = self.input.clone();
        let adding = self.adding;
        Action::Run(Task::perform(
            async move {
                if adding {
                    engine
                        .choose_other_domain(&input, trust)
                        .await
                        .map(|choice| choice.domain)
                } else {
                    engine.set_domain(&input, trust).await
                }
            },
            Message::Validated,
        ))
    }

    pub fn view(&self) -> Element<'_, Message> {
        if let Some(question) = self.trust.view() {
            return question.map(Message::Trust);
        }
        let submit = (!self.busy && !self.input.trim().is_empty()).then_some(Message::Submit);
        let form: Element<'_, Message> = column![
            style::title(if self.adding { ADD_TITLE } else { TITLE }),
            style::body(if self.adding { ADD_TEXT } else { PRIMARY_TEXT }),
            style::muted(if self.adding {
                "Its address is checked here and kept with its sign-in; your primary server stays set in Preferences."
            } else {
                SECONDARY_TEXT
            }),
            style::field(
                "Anaconda Server Domain",
                style::input(PLACEHOLDER, &self.input)
                    .id(INPUT_ID)
                    .on_input_maybe(self.managed.is_none().then_some(Message::Input))
                    .on_submit(Message::Submit)
                    .padding(8),
            ),
            match &self.managed {
                Some(support) => style::managed_note(support.as_deref()),
                None => iced::widget::space::vertical().height(0).into(),
            },
            style::message_slot(
                self.error.as_deref(),
                self.busy.then_some("Checking the server…")
            ),
            style::button_row_noted(
                self.discard.note(),
                [
                    style::secondary("Cancel", (!self.busy).then_some(Message::Cancel)),
                    style::primary(
                        if self.adding {
                            "Continue"
                        } else {
                            "Set Domain"
                        },
                        submit
                    )
                ]
            ),
        ]
        .spacing(style::space_scale::M)
        .into();
        style::card(form, 520.0)
    }
}
