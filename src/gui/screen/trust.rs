//! "SSL Verification Failed!" — shown inside Set Domain, Login and Preferences when the server's certificate
//! cannot be verified. Trust is given per host and only on this explicit click.

use iced::widget::{column, row, space, text};
use iced::{Element, Length};

use crate::gui::style;

pub const TITLE: &str = "SSL Verification Failed!";
pub const TEXT: &str = "It looks like this server is using an SSL certificate which we cannot verify. Do you want to trust this server anyway?";
pub const TRUST: &str = "Trust Server and Continue";

pub fn view<'a, M: Clone + 'a>(host: &'a str, on_trust: M, on_cancel: M) -> Element<'a, M> {
    style::card(
        column![
            style::title(TITLE),
            text(TEXT).size(14),
            style::muted(format!("Server: {host}")),
            row![
                space::horizontal().width(Length::Fill),
                style::secondary("Cancel", Some(on_cancel)),
                style::primary(TRUST, Some(on_trust))
            ]
            .spacing(10),
        ]
        .spacing(16),
        480.0,
    )
}
