//! "SSL Verification Failed!" — shown inside Set Domain, Login and Preferences when the server's certificate
//! cannot be verified. Trust is given per host and only on this explicit click: the default (Enter, Esc, the
//! highlighted button) is Cancel.

use iced::widget::{column, container, row, text};
use iced::{Element, Font, Length, Task};

use crate::engine::certificate::CertificateInfo;
use crate::engine::{Engine, Error};
use crate::gui::style;

pub const TITLE: &str = "SSL Verification Failed!";
pub const TEXT: &str = "It looks like this server is using an SSL certificate which we cannot verify. Do you want to trust this server anyway?";
pub const TRUST: &str = "Trust Server and Continue";

/// What the dialog says after Cancel: nothing was stored, and why.
pub fn cancelled(host: &str) -> String {
    format!("The certificate of {host} was not trusted, so nothing was changed.")
}

/// Read the certificate `domain` presents (a handshake only), to show it in the question.
pub fn fetch<M: Send + 'static>(
    engine: &Engine,
    domain: String,
    to: impl Fn(Result<CertificateInfo, Error>) -> M + Send + 'static,
) -> Task<M> {
    let engine = engine.clone();
    Task::perform(async move { engine.server_certificate(&domain).await }, to)
}

/// The certificate as read, or why it could not be (`None` while reading).
pub type Certificate = Option<Result<CertificateInfo, String>>;

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
                row![
                    text("SHA-256")
                        .size(style::type_scale::SMALL)
                        .font(style::BOLD)
                        .width(Length::Fixed(84.0)),
                    // 32 byte pairs in two lines of 16: a fingerprint has no place to wrap
                    column(fingerprint_lines(&certificate.sha256).into_iter().map(|l| {
                        text(l)
                            .size(12)
                            .font(Font::MONOSPACE)
                            .width(Length::Fill)
                            .into()
                    }))
                ]
                .spacing(style::space_scale::S),
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

pub fn view<'a, M: Clone + 'a>(
    host: &'a str,
    certificate: &'a Certificate,
    on_trust: M,
    on_cancel: M,
) -> Element<'a, M> {
    style::card(
        column![
            style::title(TITLE),
            style::body(TEXT),
            style::muted(format!("Server: {host}")),
            details(certificate),
            style::button_row([
                style::secondary(TRUST, Some(on_trust)),
                style::primary("Cancel", Some(on_cancel)),
            ]),
        ]
        .spacing(style::space_scale::L),
        560.0,
    )
}
