//! The Connect popup: the Anaconda Server card with Sign In / Sign Out and "connected as <user>"; once signed in,
//! every signed-in server (the primary first) with its own Sign Out, and *Add another server…*.

use iced::widget::{column, container, row, space, text};
use iced::{Element, Length};

use crate::engine::session::{Role, ServerStatus, Status};
use crate::gui::style;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    SignIn,
    SignOut,
    /// Sign out of this secondary server.
    SignOutOf(String),
    /// This secondary server's channels.
    ChannelsOf(String),
    /// Make this secondary server the primary one.
    Promote(String),
    AddServer,
    Close,
}

pub enum Action {
    SignIn,
    SignOut,
    SignOutOf(String),
    ChannelsOf(String),
    Promote(String),
    AddServer,
    Close,
}

pub fn update(message: Message) -> Action {
    match message {
        Message::SignIn => Action::SignIn,
        Message::SignOut => Action::SignOut,
        Message::SignOutOf(domain) => Action::SignOutOf(domain),
        Message::ChannelsOf(domain) => Action::ChannelsOf(domain),
        Message::Promote(domain) => Action::Promote(domain),
        Message::AddServer => Action::AddServer,
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
    let servers = status.map(|s| s.servers.as_slice()).unwrap_or_default();
    if !servers.is_empty() {
        return signed_in_view(servers);
    }
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
        column![header(), style::heading("REPOSITORIES"), server_card,]
            .spacing(style::space_scale::L),
        520.0,
    )
}

/// Signed in: one row per server, the primary first, each with its own Sign Out; then *Add another server…*.
fn signed_in_view(servers: &[ServerStatus]) -> Element<'_, Message> {
    let mut list = column![].spacing(style::space_scale::S);
    for server in servers {
        let (role, sign_out) = match server.role {
            Role::Primary => (
                "primary server · channel_alias and Navigator",
                Message::SignOut,
            ),
            Role::Secondary => (
                "secondary server · channels by full address",
                Message::SignOutOf(server.domain.clone()),
            ),
        };
        let channels = if server.channels.is_empty() && server.default_channels.is_empty() {
            "no channels chosen yet".to_string()
        } else {
            let mut names = server.default_channels.clone();
            names.extend(server.channels.iter().cloned());
            format!("channels: {}", names.join(", "))
        };
        list = list.push(
            container(
                row![
                    column![
                        text(server.domain.as_str()).font(style::BOLD),
                        style::body(format!("connected as {}", server.username)),
                        style::muted(role),
                        style::muted(channels),
                    ]
                    .spacing(style::space_scale::XS)
                    .width(Length::Fill),
                    // the primary's is the card's default button (Enter), as with one server
                    if server.role == Role::Primary {
                        style::primary("Sign Out", Some(sign_out))
                    } else {
                        row![
                            style::secondary(
                                "Make Primary",
                                Some(Message::Promote(server.domain.clone()))
                            ),
                            style::secondary(
                                "Channels…",
                                Some(Message::ChannelsOf(server.domain.clone()))
                            ),
                            style::secondary("Sign Out", Some(sign_out)),
                        ]
                        .spacing(style::space_scale::S)
                        .into()
                    },
                ]
                .spacing(style::space_scale::M)
                .align_y(iced::Center),
            )
            .padding(style::space_scale::L)
            .style(style::boxed),
        );
    }
    style::card(
        column![
            header(),
            style::heading("REPOSITORIES"),
            list,
            row![
                space::horizontal().width(Length::Fill),
                style::secondary("Add another server…", Some(Message::AddServer)),
            ],
        ]
        .spacing(style::space_scale::L),
        680.0,
    )
}

/// The popup's title row, with Close.
fn header<'a>() -> Element<'a, Message> {
    row![
        style::title("Connect to Anaconda"),
        space::horizontal().width(Length::Fill),
        style::secondary("Close", Some(Message::Close))
    ]
    .align_y(iced::Center)
    .into()
}
