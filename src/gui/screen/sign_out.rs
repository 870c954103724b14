//! Sign Out: a confirmation that names what will be restored, then the engine's result.

use iced::widget::column;
use iced::{Element, Task};

use crate::engine::session::LogoutOutcome;
use crate::engine::{Engine, Error};
use crate::gui::style;

#[derive(Debug, Clone)]
pub enum Message {
    Confirm,
    Cancel,
    Finished(Result<LogoutOutcome, Error>),
}

pub enum Action {
    None,
    Run(Task<Message>),
    Done(LogoutOutcome),
    Cancel,
}

#[derive(Debug, Clone)]
pub struct State {
    pub domain: String,
    pub busy: bool,
    pub error: Option<String>,
    /// A secondary server: only its channels, token files and credentials go.
    pub secondary: bool,
}

impl State {
    pub fn new(domain: String) -> Self {
        State {
            domain,
            busy: false,
            error: None,
            secondary: false,
        }
    }

    /// Signing out of a secondary server.
    pub fn secondary(domain: String) -> Self {
        State {
            secondary: true,
            ..State::new(domain)
        }
    }

    pub fn is_busy(&self) -> bool {
        self.busy
    }

    pub fn escape(&self) -> Option<Message> {
        (!self.busy).then_some(Message::Cancel)
    }

    /// Enter presses only the focused button: signing out is destructive, so the dialog has no default button and
    /// opens with the focus on Cancel (a hurried Enter, Enter does not sign out).
    pub fn enter(&self) -> Option<Message> {
        None
    }

    pub fn update(&mut self, message: Message, engine: &Engine) -> Action {
        match message {
            Message::Confirm => {
                if self.busy {
                    return Action::None;
                }
                self.busy = true;
                self.error = None;
                let engine = engine.clone();
                let domain = self.domain.clone();
                Action::Run(Task::perform(
                    async move { engine.logout_server(&domain).await },
                    Message::Finished,
                ))
            }
            Message::Cancel => Action::Cancel,
            Message::Finished(Ok(outcome)) => {
                self.busy = false;
                Action::Done(outcome)
            }
            Message::Finished(Err(error)) => {
                self.busy = false;
                self.error = Some(error.to_string());
                Action::None
            }
        }
    }

    pub fn view(&self) -> Element<'_, Message> {
        let body = column![
            style::title("Sign out of Anaconda Server?"),
            style::body(format!("Signing out of {} will:", self.domain)),
            style::body("• revoke conda's access token on the server,"),
            if self.secondary {
                style::body("• take this server's channels and custom_channels entries out of ~/.condarc, keeping your other changes and the other server's,")
            } else {
                style::body("• put back the ~/.condarc keys signing in set (channel_alias, channels, default_channels), keeping your other changes,")
            },
            if self.secondary {
                style::body("• remove this server's token files and stored credentials.")
            } else {
                style::body("• clear the sign-in from anaconda-navigator.ini, and remove conda's token files and the stored credentials.")
            },
            style::message_slot(self.error.as_deref(), self.busy.then_some("Signing out…")),
            style::button_row([
                style::secondary("Cancel", (!self.busy).then_some(Message::Cancel)),
                style::danger("Sign Out", (!self.busy).then_some(Message::Confirm))
            ]),
        ]
        .spacing(style::space_scale::S + 2.0);
        style::card(body, 560.0)
    }
}

/// One sentence for the main window after sign-out.
pub fn summary(outcome: &LogoutOutcome) -> String {
    use crate::engine::session::CondarcRestore::*;
    let condarc = match outcome.condarc {
        Exact => "~/.condarc was restored exactly as it was.",
        Removed => "~/.condarc was removed again (it did not exist before you signed in).",
        KeysReverted => {
            "channel_alias, channels and default_channels were reverted in ~/.condarc; your other changes were kept."
        }
        Untouched => "~/.condarc was left as it is.",
        EntriesRemoved => {
            "This server's channels and custom_channels entries were taken out of ~/.condarc; everything else was kept."
        }
    };
    let mut text = format!("Signed out of {}. {condarc}", outcome.domain);
    match &outcome.unrevoked {
        Some(unrevoked) if unrevoked.needs_sign_in => text.push_str(&format!(
            " The server token could not be revoked because your session had ended; it stays valid{} until you \
             sign in to {} once more, which revokes it.",
            unrevoked
                .expires
                .as_deref()
                .map(|d| format!(" (until {d} at most)"))
                .unwrap_or_default(),
            unrevoked.domain
        )),
        Some(_) => text.push_str(
            " The server token could not be revoked now; conda-connect will retry the next time it starts.",
        ),
        None => {}
    }
    for note in &outcome.notes {
        text.push(' ');
        text.push_str(note);
    }
    text
}
