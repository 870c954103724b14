//! The Connect popup: the Anaconda Server card with Sign In / Sign Out and "connected as <user>".
//! One repository login at a time, as in Navigator.

use iced::widget::{column, container, row, space, text};
use iced::{Element, Length};

use crate::engine::session::Status;
use crate::gui::style;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    SignIn,
    SignOut,
    Close,
}

pub enum Action {
    SignIn,
    SignOut,
    Close,
}

pub fn update(message: Message) -> Action {
    match message {
        Message::SignIn => Action::SignIn,
        Message::SignOut => Action::SignOut,
        Message::Close => Action::Close,
    }
}

/// Enter: the card's button.
pub fn enter(signed_in: bool) -> Message {
    if signed_in {
        Message::SignOut
    } else {
        Message::SignIn
    }
}

pub fn view(status: Option<&Status>) -> Element<'_, Message> {
    let signed_in = status.is_some_and(|s| s.logged_in);
    let who = match status {
        Some(session) if session.logged_in => match (&session.username, &session.domain) {
            (Some(username), _) => format!("connected as {username}"),
            (None, Some(domain)) => format!("connected to {domain}"),
            _ => "connected".into(),
        },
        _ => "Sign in to install packages from your organization's server.".into(),
    };
    let action = if signed_in {
        style::primary("Sign Out", Some(Message::SignOut))
    } else {
        style::primary("Sign In", Some(Message::SignIn))
    };
    let server_card = container(
        row![
            column![
                text("Anaconda Server")
                    .size(style::type_scale::HEADING)
                    .font(style::BOLD),
                style::muted("Package Security Manager (on-prem), previously Team Edition"),
                style::body(who),
            ]
            .spacing(style::space_scale::XS)
            .width(Length::Fill),
            action,
        ]
        .spacing(style::space_scale::M)
        .align_y(iced::Center),
    )
    .padding(style::space_scale::L)
    .style(style::boxed);
    style::card(
        column![
            row![
                style::title("Connect to Anaconda"),
                space::horizontal().width(Length::Fill),
                style::secondary("Close", Some(Message::Close))
            ]
            .align_y(iced::Center),
            style::heading("REPOSITORIES"),
            server_card,
        ]
        .spacing(style::space_scale::L),
        520.0,
    )
}
