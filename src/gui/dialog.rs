//! The open dialog. Each one answers for itself — whether it is busy, what Esc and Enter mean, how it looks — and
//! this enum only routes to it.

use iced::Element;

use crate::engine::session::Status;
use crate::gui::Message;
use crate::gui::screen::{
    add_channels, connect, diagnose, login, preferences, set_domain, sign_out, tokens,
};

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
    Diagnose(diagnose::State),
}

impl Dialog {
    /// Work in flight: the dialog cannot be closed now.
    pub fn is_busy(&self) -> bool {
        match self {
            Dialog::Connect => false,
            Dialog::SetDomain(state) => state.is_busy(),
            Dialog::Login(state) => state.is_busy(),
            Dialog::AddChannels(state) => state.is_busy(),
            Dialog::Preferences(state) => state.is_busy(),
            Dialog::SignOut(state) => state.is_busy(),
            Dialog::Tokens(state) => state.is_busy(),
            Dialog::Diagnose(state) => state.is_busy(),
        }
    }

    /// What Esc does (one level back, or close), if anything.
    pub fn escape(&self) -> Option<Message> {
        match self {
            Dialog::Connect => Some(Message::Connect(connect::Message::Close)),
            Dialog::SetDomain(state) => state.escape().map(Message::SetDomain),
            Dialog::Login(state) => state.escape().map(Message::Login),
            Dialog::AddChannels(state) => state.escape().map(Message::AddChannels),
            Dialog::Preferences(state) => state.escape().map(Message::Preferences),
            Dialog::SignOut(state) => state.escape().map(Message::SignOut),
            Dialog::Tokens(state) => state.escape().map(Message::Tokens),
            Dialog::Diagnose(state) => state.escape().map(Message::Diagnose),
        }
    }

    /// What Enter does outside a text field: the default button, if any.
    pub fn enter(&self, signed_in: bool) -> Option<Message> {
        match self {
            Dialog::Connect => Some(Message::Connect(connect::enter(signed_in))),
            Dialog::SetDomain(state) => state.enter().map(Message::SetDomain),
            Dialog::Login(state) => state.enter().map(Message::Login),
            Dialog::AddChannels(state) => state.enter().map(Message::AddChannels),
            Dialog::Preferences(state) => state.enter().map(Message::Preferences),
            Dialog::SignOut(state) => state.enter().map(Message::SignOut),
            Dialog::Tokens(state) => state.enter().map(Message::Tokens),
            Dialog::Diagnose(state) => state.enter().map(Message::Diagnose),
        }
    }

    pub fn view<'a>(&'a self, status: Option<&'a Status>) -> Element<'a, Message> {
        match self {
            Dialog::Connect => connect::view(status).map(Message::Connect),
            Dialog::SetDomain(state) => state.view().map(Message::SetDomain),
            Dialog::Login(state) => state.view().map(Message::Login),
            Dialog::AddChannels(state) => state.view().map(Message::AddChannels),
            Dialog::Preferences(state) => state.view().map(Message::Preferences),
            Dialog::SignOut(state) => state.view().map(Message::SignOut),
            Dialog::Tokens(state) => state.view().map(Message::Tokens),
            Dialog::Diagnose(state) => state.view().map(Message::Diagnose),
        }
    }
}
