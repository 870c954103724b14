//! "SSL Verification Failed!" — the one trust question, shown inside Set Domain, Login and Preferences when the
//! server's certificate cannot be verified, or is not the one the user trusted before. A component with its own
//! State, Message, update and view (as iced's todos example composes its tasks): the screen that hosts it keeps a
//! [`Question`] (asked or not), maps its messages, and acts on its [`Outcome`] — retry with the trust given, or show
//! the sentence of a refusal.
//!
//! The certificate is read first (a handshake only) and shown; trust is given per host, only on the explicit
//! click, and only for the certificate shown — its SHA-256 fingerprint is pinned, so a certificate that changes
//! while the person reads is refused. The default (Enter, Esc, the highlighted button) is Cancel.

use iced::widget::{column, container, row, text};
use iced::{Element, Font, Length, Task};

use crate::engine::certificate::CertificateInfo;
use crate::engine::session::Trust;
use crate::engine::{Engine, Error, domain};
use crate::gui::style;

pub const TITLE: &str = "SSL Verification Failed!";
pub const TEXT: &str = "It looks like this server is using an SSL certificate which we cannot verify. Do you want to trust this server anyway?";
pub const CHANGED_TITLE: &str = "The server's certificate has changed";
pub const CHANGED_TEXT: &str = "This server presents another certificate than the one you trusted. Trust the new one only if your administrator confirms that it was replaced and its fingerprint matches.";
pub const TRUST: &str = "Trust Server and Continue";

/// What the dialog says after Cancel: nothing was stored, and why.
pub fn cancelled(host: &str) -> String {
    format!("The certificate of {host} was not trusted, so nothing was changed.")
}

/// The certificate as read, or why it could not be (`None` while reading).
pub type Certificate = Option<Result<CertificateInfo, String>>;

#[derive(Debug, Clone)]
pub enum Message {
    CertificateRead(Result<CertificateInfo, Error>),
    Trust,
    Cancel,
}

/// What the host screen does next.
pub enum Outcome {
    None,
    /// The person trusts the certificate shown: retry with this trust.
    Trusted(Trust),
    /// The person declined: show this sentence in the form.
    Cancelled(String),
}

/// The trust question a screen may be asking: nothing, or the question for one server. A screen holds one, asks
/// it on a certificate failure, routes [`Message`]s to [`Question::answer`] and shows [`Question::view`] instead of
/// its form while it is asked.
#[derive(Debug, Clone, Default)]
pub struct Question(Option<State>);

impl Question {
    /// Ask about `domain` after `error` (a certificate failure): the certificate is read to be shown.
    pub fn ask(&mut self, engine: &Engine, domain: &str, error: &Error) -> Task<Message> {
        let (state, read) = State::ask(engine, domain, error);
        self.0 = Some(state);
        read
    }

    /// The person's answer: a trust to retry with, or a refusal to show; either way the question is over.
    pub fn answer(&mut self, message: Message) -> Outcome {
        let Some(state) = self.0.as_mut() else {
            return Outcome::None;
        };
        let outcome = state.update(message);
        if !matches!(outcome, Outcome::None) {
            self.0 = None;
        }
        outcome
    }

    pub fn is_asked(&self) -> bool {
        self.0.is_some()
    }

    /// The question as it is asked (the host screen's tests read the certificate shown).
    pub fn state(&self) -> Option<&State> {
        self.0.as_ref()
    }

    /// While it is asked, Esc and Enter mean Cancel (the default): the host maps it with `wrap`.
    pub fn cancel<M>(&self, wrap: impl FnOnce(Message) -> M) -> Option<M> {
        self.is_asked().then(|| wrap(Message::Cancel))
    }

    /// The question, shown in place of the host's form while it is asked.
    pub fn view(&self) -> Option<Element<'_, Message>> {
        self.0.as_ref().map(State::view)
    }
}

/// The question, for one server.
#[derive(Debug, Clone)]
pub struct State {
    pub host: String,
    pub certificate: Certificate,
    /// The fingerprint trusted before, when the certificate changed since.
    pub previously_trusted: Option<String>,
    /// The organization does not allow trusting it: the question becomes this refusal (its policy, to name the CA
    /// once the certificate is read, and where to ask).
    pub forbidden: Option<crate::engine::policy::Policy>,
}

pub const FORBIDDEN_TITLE: &str = "This server's certificate is not trusted";

impl State {
    /// Ask about `domain` after `error` (a certificate failure): read its certificate to show it.
    pub fn ask(engine: &Engine, domain: &str, error: &Error) -> (State, Task<Message>) {
        let previously_trusted = match error {
            Error::CertificateChanged { trusted, .. } => Some(trusted.clone()),
            _ => None,
        };
        let state = State {
            host: domain::netloc(domain),
            certificate: None,
            previously_trusted,
            forbidden: (!engine.policy.allows_trusting()).then(|| (*engine.policy).clone()),
        };
        let engine = engine.clone();
        let domain = domain.to_string();
        let read = Task::perform(
            async move { engine.server_certificate(&domain).await },
            Message::CertificateRead,
        );
        (state, read)
    }

    pub fn update(&mut self, message: Message) -> Outcome {
        match message {
            Message::CertificateRead(result) => {
                self.certificate = Some(result.map_err(|e| e.to_string()));
                Outcome::None
            }
            // only a certificate that was shown can be trusted, and only where the organization allows it
            Message::Trust if self.forbidden.is_some() => Outcome::None,
            Message::Trust => match &self.certificate {
                Some(Ok(certificate)) => {
                    Outcome::Trusted(Trust::Certificate(certificate.sha256.clone()))
                }
                _ => Outcome::None,
            },
            Message::Cancel => Outcome::Cancelled(cancelled(&self.host)),
        }
    }

    pub fn view(&self) -> Element<'_, Message> {
        if let Some(policy) = &self.forbidden {
            return self.refusal_view(policy);
        }
        let (title, body) = match &self.previously_trusted {
            Some(_) => (CHANGED_TITLE, CHANGED_TEXT),
            None => (TITLE, TEXT),
        };
        let can_trust = matches!(self.certificate, Some(Ok(_)));
        let mut content = column![
            style::title(title),
            style::body(body),
            style::muted(format!("Server: {}", self.host)),
        ]
        .spacing(style::space_scale::L);
        if let Some(before) = &self.previously_trusted {
            content = content.push(fingerprint_block("Trusted before", before));
        }
        content = content
            .push(details(&self.certificate))
            .push(style::button_row([
                style::secondary(TRUST, can_trust.then_some(Message::Trust)),
                style::primary("Cancel", Some(Message::Cancel)),
            ]));
        style::card(content, 560.0)
    }
}

impl State {
    /// The organization allows no trust here: say so, name the CA to install (from the certificate read), and
    /// offer only Close.
    fn refusal_view<'a>(
        &'a self,
        policy: &'a crate::engine::policy::Policy,
    ) -> Element<'a, Message> {
        let issuer = match &self.certificate {
            Some(Ok(certificate)) => Some(certificate.issuer.as_str()),
            _ => None,
        };
        let content = column![
            style::title(FORBIDDEN_TITLE),
            style::body(policy.untrusted_refusal(&self.host, issuer)),
            details(&self.certificate),
            style::managed_note(policy.support_url.as_deref()),
            style::button_row([style::primary("Close", Some(Message::Cancel))]),
        ]
        .spacing(style::space_scale::L);
        style::card(content, 560.0)
    }
}

fn fingerprint_block<'a, M: 'a>(label: &'static str, sha256: &str) -> Element<'a, M> {
    row![
        text(label)
            .size(style::type_scale::SMALL)
            .font(style::BOLD)
            .width(Length::Fixed(84.0)),
        // 32 byte pairs in two lines of 16: a fingerprint has no place to wrap
        column(fingerprint_lines(sha256).into_iter().map(|l| {
            text(l)
                .size(12)
                .font(Font::MONOSPACE)
                .width(Length::Fill)
                .into()
        }))
    ]
    .spacing(style::space_scale::S)
    .into()
}

fn details<'a, M: 'a>(certificate: &'a Certificate) -> Element<'a, M> {
    let line = |label: &'static str, value: String| {
        row![
            text(label)
                .size(style::type_scale::SMALL)
                .font(style::BOLD)
                .width(Length::Fixed(84.0)),
            text(value)
                .size(style::type_scale::SMALL)
                .width(Length::Fill)
        ]
        .spacing(style::space_scale::S)
    };
    match certificate {
        None => style::muted("Reading the server's certificate…"),
        Some(Err(error)) => style::muted(format!("The certificate could not be read: {error}")),
        Some(Ok(certificate)) => container(
            column![
                line("Subject", certificate.subject.clone()),
                line("Issuer", certificate.issuer.clone()),
                line(
                    "Valid",
                    format!("{} to {}", certificate.not_before, certificate.not_after)
                ),
                fingerprint_block("SHA-256", &certificate.sha256),
            ]
            .spacing(style::space_scale::XS),
        )
        .padding(style::space_scale::S)
        .width(Length::Fill)
        .style(style::boxed)
        .into(),
    }
}

/// A fingerprint split in lines of 16 byte pairs.
pub fn fingerprint_lines(sha256: &str) -> Vec<String> {
    let pairs: Vec<&str> = sha256.split(':').collect();
    pairs.chunks(16).map(|c| c.join(":")).collect()
}
