//! "SSL Verification Failed!" — shown inside Set Domain, Login and Preferences when the server's certificate
//! cannot be verified. Trust is given per host and only on this explicit click: the default (Enter, Esc, the
//! highlighted button) is Cancel.

use iced::Element;
use iced::widget::column;

use crate::gui::style;

pub const TITLE: &str = "SSL Verification Failed!";
pub const TEXT: &str = "It looks like this server is using an SSL certificate which we cannot verify. Do you want to trust this server anyway?";
pub const TRUST: &str = "Trust Server and Continue";

/// What the dialog says after Cancel: nothing was stored, and why.
pub fn cancelled(host: &str) -> String {
    format!("The certificate of {host} was not trusted, so nothing was changed.")
}

pub fn view<'a, M: Clone + 'a>(host: &'a str, on_trust: M, on_cancel: M) -> Element<'a, M> {
    style::card(
        column![
            style::title(TITLE),
            style::body(TEXT),
            style::muted(format!("Server: {host}")),
            style::button_row([
                style::secondary(TRUST, Some(on_trust)),
                style::primary("Cancel", Some(on_cancel)),
            ]),
        ]
        .spacing(style::space_scale::L),
        480.0,
    )
}
