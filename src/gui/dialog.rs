//! The open dialog. Each one answers for itself — whether it is busy, what Esc and Enter mean, how it looks — and
//! this enum only routes to it.

use iced::Element;

use crate::engine::session::Status;
use crate::gui::Message;
use crate::gui::screen::{add_channels, connect, login, preferences, set_domain, sign_out, tokens};

#[derive(Debug)]
pub enum Dialog {
    Connect,
    SetDomain(set_domain::State),
    Login(login::State),
    /// The channel picker: after sign-in, or the Channels screen.
    AddChannels(add_channels::State),
    Preferences(preferences::State),
    SignOut(sign_out::State),
    Tokens(tokens::State),
}

impl Dialog {
    /// Work in flight: the dialog cannot be closed now.
    pub fn is_busy(&self) -> bool {
        match self {
            Dialog::Connect => false,
            Dialog::SetDomain(s) => s.is_busy(),
            Dialog::Login(s) => s.is_busy(),
            Dialog::AddChannels(s) => s.is_busy(),
            Dialog::Preferences(s) => s.is_busy(),
            Dialog::SignOut(s) => s.is_busy(),
            Dialog::Tokens(s) => s.is_busy(),
        }
    }

    /// What Esc does (one level back, or close), if anything.
    pub fn escape(&self) -> Option<Message> {
        match self {
            Dialog::Connect => Some(Message::Connect(connect::Message::Close)),
            Dialog::SetDomain(s) => s.escape().map(Message::SetDomain),
            Dialog::Login(s) => s.escape().map(Message::Login),
            Dialog::AddChannels(s) => s.escape().map(Message::AddChannels),
            Dialog::Preferences(s) => s.escape().map(Message::Preferences),
            Dialog::SignOut(s) => s.escape().map(Message::SignOut),
            Dialog::Tokens(s) => s.escape().map(Message::Tokens),
        }
    }

    /// What Enter does outside a text field: the default button, if any.
    pub fn enter(&self, signed_in: bool) -> Option<Message> {
        match self {
            Dialog::Connect => Some(Message::Connect(connect::enter(signed_in))),
            Dialog::SetDomain(s) => s.enter().map(Message::SetDomain),
            Dialog::Login(s) => s.enter().map(Message::Login),
            Dialog::AddChannels(s) => s.enter().map(Message::AddChannels),
            Dialog::Preferences(s) => s.enter().map(Message::Preferences),
            Dialog::SignOut(s) => s.enter().map(Message::SignOut),
            Dialog::Tokens(s) => s.enter().map(Message::Tokens),
        }
    }

    pub fn view<'a>(&'a self, status: Option<&'a Status>) -> Element<'a, Message> {
        match self {
            Dialog::Connect => connect::view(status).map(Message::Connect),
            Dialog::SetDomain(s) => s.view().map(Message::SetDomain),
            Dialog::Login(s) => s.view().map(Message::Login),
            Dialog::AddChannels(s) => s.view().map(Message::AddChannels),
            Dialog::Preferences(s) => s.view().map(Message::Preferences),
            Dialog::SignOut(s) => s.view().map(Message::SignOut),
            Dialog::Tokens(s) => s.view().map(Message::Tokens),
        }
    }
}
