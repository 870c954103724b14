//! The main window's frame: the header (name, status line, the buttons that open dialogs, with their shortcuts), the
//! banners (health, Update Index's cause, channels, expiry, a token only a new sign-in can revoke), the home screen, the notices over it, the open dialog
//! over everything, and scrolling when the window is smaller than the layout is made for.

use iced::widget::{column, container, row, space, text};
use iced::{Element, Length};

use crate::engine::health::Connection;
use crate::engine::tokens::Expiry;
use crate::gui::style::{self, Icon, Tone};
use crate::gui::{
    APP_NAME, App, CHOOSE_CHANNELS, DIAGNOSE, Health, IndexProblem, MIN_SIZE, Message, NO_CHANNELS,
    SIGN_IN_AGAIN, TOKEN_REJECTED, focus, ids,
};

impl App {
    /// The status line of the header.
    pub fn status_line(&self) -> String {
        match &self.status {
            Some(status) if status.logged_in => {
                let who = status
                    .username
                    .clone()
                    .map(|u| format!(" as {u}"))
                    .unwrap_or_default();
                match self.health {
                    Health::Unreachable | Health::Untrusted | Health::CertificateChanged => {
                        format!("Partially connected to Anaconda Server{who}")
                    }
                    Health::TokenRejected => format!("Signed in{who}, but the token is refused"),
                    _ => format!("Connected to Anaconda Server{who}"),
                }
            }
            Some(_) => "Not connected".into(),
            None => "Reading your configuration…".into(),
        }
    }

    fn header(&self) -> Element<'_, Message> {
        let own = self.own_session();
        let mut buttons = row![].spacing(style::space_scale::S);
        if own {
            buttons = buttons
                .push(style::shortcut_hint(
                    style::header_action(
                        Icon::Channels,
                        "Channels",
                        Some(Message::OpenChannels),
                        ids::channels(),
                        false,
                    ),
                    "Ctrl+L",
                ))
                .push(style::shortcut_hint(
                    style::header_action(
                        Icon::Tokens,
                        "Tokens",
                        Some(Message::OpenTokens),
                        ids::tokens(),
                        false,
                    ),
                    "Ctrl+T",
                ));
        }
        buttons = buttons
            .push(style::shortcut_hint(
                style::header_action(
                    Icon::Preferences,
                    "Preferences",
                    Some(Message::OpenPreferences),
                    ids::preferences(),
                    false,
                ),
                "Ctrl+,",
            ))
            .push(style::shortcut_hint(
                style::header_action(
                    Icon::Connect,
                    "Connect",
                    Some(Message::OpenConnect),
                    ids::connect(),
                    true,
                ),
                "Ctrl+K",
            ));
        container(
            row![
                column![
                    text(APP_NAME)
                        .size(style::type_scale::APP)
                        .font(style::BOLD),
                    style::muted(self.status_line()),
                ]
                .spacing(2),
                space::horizontal().width(Length::Fill),
                buttons,
            ]
            .spacing(style::space_scale::L)
            .align_y(iced::Center),
        )
        .padding([style::space_scale::S + 2.0, style::space_scale::L])
        .style(style::panel)
        .into()
    }

    fn banners(&self) -> Vec<Element<'_, Message>> {
        let mut out = Vec::new();
        match self.health {
            Health::Unreachable => out.push(style::banner(
                Tone::Danger,
                match self.server_domains().as_slice() {
                    // several servers: the banner names the one with the problem
                    [primary, _, ..] => format!(
                        "{primary} (your primary server) cannot be reached. Some actions may not work as expected \
                         until connection is restored."
                    ),
                    _ => "Anaconda Server cannot be reached. Some actions may not work as expected until connection \
                          is restored."
                        .to_string(),
                },
                vec![diagnose_button(ids::health_diagnose())],
            )),
            Health::Untrusted => out.push(style::banner(
                Tone::Danger,
                "The server's certificate can no longer be verified. Check the SSL settings in Preferences.",
                vec![
                    diagnose_button(ids::health_diagnose()),
                    style::secondary("Preferences", Some(Message::OpenPreferences)),
                ],
            )),
            Health::CertificateChanged => out.push(style::banner(
                Tone::Danger,
                "The server presents another certificate than the one you trusted, so conda-connect refuses it. If \
                 your administrator replaced it, compare its fingerprint with theirs and trust it again in Set Domain.",
                vec![style::secondary("Set Domain", Some(Message::ReviewCertificate))],
            )),
            Health::TokenRejected => out.push(style::banner(
                Tone::Danger,
                TOKEN_REJECTED,
                vec![
                    diagnose_button(ids::health_diagnose()),
                    style::primary(SIGN_IN_AGAIN, Some(Message::SignInAgain)),
                ],
            )),
            Health::Restored => out.push(style::banner(
                Tone::Success,
                "Connection to Anaconda Server restored.",
                vec![style::secondary("Close", Some(Message::DismissBanner))],
            )),
            Health::Unknown | Health::Healthy => {}
        }
        // a second server's problem names that server; the primary's banners above stay as they are
        let signed_in: Vec<String> = self.server_domains();
        for (domain, found) in &self.server_health {
            if !signed_in.contains(domain) {
                continue;
            }
            let sentence = match found {
                Connection::Healthy => continue,
                Connection::Unreachable => format!(
                    "{domain} (your second server) cannot be reached: its channels are left out until it answers."
                ),
                Connection::Untrusted | Connection::CertificateChanged => format!(
                    "The certificate of {domain} (your second server) can no longer be verified: its channels are \
                     left out."
                ),
                Connection::TokenRejected => format!(
                    "{domain} (your second server) no longer accepts your sign-in: sign out of it and sign in again \
                     (Connect)."
                ),
            };
            out.push(style::banner(
                Tone::Danger,
                sentence,
                vec![style::secondary("Connect", Some(Message::OpenConnect))],
            ));
        }
        if let Some(problem) = &self.index_problem
            && self.health != Health::TokenRejected
        {
            let actions = match problem {
                IndexProblem::TokenRejected => {
                    vec![style::primary(SIGN_IN_AGAIN, Some(Message::SignInAgain))]
                }
                IndexProblem::Missing(_) => {
                    vec![style::primary(CHOOSE_CHANNELS, Some(Message::OpenChannels))]
                }
                IndexProblem::Untrusted(_) => {
                    vec![style::secondary(
                        "Preferences",
                        Some(Message::OpenPreferences),
                    )]
                }
                IndexProblem::Offline(_) => {
                    vec![style::secondary("Update Index", Some(Message::UpdateIndex))]
                }
                IndexProblem::NoAccess(_) => {
                    vec![style::secondary(
                        CHOOSE_CHANNELS,
                        Some(Message::OpenChannels),
                    )]
                }
                IndexProblem::Other(_) => vec![],
            };
            let mut actions = actions;
            actions.push(diagnose_button(ids::index_diagnose()));
            out.push(style::banner(Tone::Danger, problem.text(), actions));
        }
        if self.no_channel_chosen() {
            out.push(style::banner(
                Tone::Warning,
                NO_CHANNELS,
                vec![style::primary(CHOOSE_CHANNELS, Some(Message::OpenChannels))],
            ));
        }
        if let Some(expiry) = self.sign_in_expiry {
            out.push(self.expiry_banner(expiry));
        }
        // a token only a new sign-in can revoke stays in sight until it is revoked (one banner per server)
        let mut named: Vec<&str> = Vec::new();
        for unrevoked in self
            .status
            .iter()
            .flat_map(|s| &s.pending_revocations)
            .filter(|p| p.needs_sign_in)
        {
            if named.contains(&unrevoked.domain.as_str()) {
                continue;
            }
            named.push(&unrevoked.domain);
            out.push(style::banner(
                Tone::Warning,
                crate::gui::unrevoked_words(&unrevoked.domain, unrevoked.expires.as_deref()),
                vec![style::secondary("Connect", Some(Message::OpenConnect))],
            ));
        }
        if let Some(error) = &self.status_error {
            out.push(style::banner(Tone::Danger, error.as_str(), vec![]));
        }
        out
    }

    /// The sign-in token expires soon or has expired: conda-connect's own token can be renewed; a token the user
    /// was given is its owner's to replace (conda-connect never manages it).
    fn expiry_banner(&self, expiry: Expiry) -> Element<'_, Message> {
        let given = self
            .status
            .as_ref()
            .is_some_and(|status| status.auth.as_deref() == Some("token"));
        let when = match expiry {
            Expiry::Expired => "has expired: conda can no longer reach the server".to_string(),
            Expiry::Soon(0) => "expires today".to_string(),
            Expiry::Soon(days) => format!("expires in {days} days"),
            _ => String::new(),
        };
        if given {
            return style::banner(
                Tone::Warning,
                format!("The token you were given {when}. Ask its owner for a new one."),
                vec![],
            );
        }
        style::banner(
            Tone::Warning,
            format!("conda's sign-in token {when}."),
            vec![style::primary(
                "Renew for a year",
                Some(Message::RenewSignInToken),
            )],
        )
    }

    pub fn view(&self) -> Element<'_, Message> {
        let mut page = column![self.header()].spacing(style::space_scale::M);
        if let Some(note) = &self.config.note {
            page = page.push(style::muted(note.as_str()));
        }
        for b in self.banners() {
            page = page.push(b);
        }
        page = page.push(self.home.view(self.status.as_ref()).map(Message::Home));
        let page = container(page)
            .padding(style::space_scale::L)
            .width(Length::Fill)
            .height(Length::Fill)
            .style(style::page);
        let base: Element<'_, Message> = if self.notices.is_empty() {
            page.into()
        } else {
            iced::widget::stack![page, self.notices.view(Message::DismissNotice)].into()
        };
        let signed_in = self.signed_in();
        let (content, escape): (Element<'_, Message>, Option<Message>) = match &self.dialog {
            None => (base, None),
            Some(domain) => (
                style::modal(base, domain.view(self.status.as_ref())),
                Some(Message::Escape),
            ),
        };
        // smaller than the layout is made for (a window manager that ignores the minimum size): it scrolls, and
        // nothing is squeezed out of sight
        let content = if self.window_size.width < MIN_SIZE.width
            || self.window_size.height < MIN_SIZE.height
        {
            iced::widget::scrollable(
                container(content)
                    .width(Length::Fixed(MIN_SIZE.width))
                    .height(Length::Fixed(MIN_SIZE.height)),
            )
            .direction(iced::widget::scrollable::Direction::Both {
                vertical: iced::widget::scrollable::Scrollbar::default(),
                horizontal: iced::widget::scrollable::Scrollbar::default(),
            })
            .into()
        } else {
            content
        };
        let dialog_open = self.dialog.is_some();
        focus::scope(content, escape, move |key, modifiers| {
            App::shortcut(dialog_open, signed_in, key, modifiers)
        })
    }
}

/// A banner's Diagnose… button: the focus comes back to it when Diagnose closes.
fn diagnose_button<'a>(id: iced::advanced::widget::Id) -> Element<'a, Message> {
    style::secondary_with_id(DIAGNOSE, Some(Message::OpenDiagnoseFrom(id.clone())), id)
}
