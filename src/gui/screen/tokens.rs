//! Tokens: the user's access tokens with their expiry (expired and expiring-within-30-days highlighted),
//! **New token** (name, scopes grouped as the server lists them, expiry capped at one year), a one-time reveal
//! with **Copy** and usage snippets, **Regenerate** and **Revoke** with confirmation. Revoking conda's own
//! sign-in token is not offered: signing out does that and restores the configuration.

use std::collections::{BTreeMap, BTreeSet};

use chrono::Duration;
use iced::widget::{column, container, row, scrollable, space, table, text};
use iced::{Element, Length, Task};

use crate::engine::client::CreatedToken;
use crate::engine::tokens::{self, Expiry, TokenView};
use crate::engine::{Engine, Error};
use crate::gui::style;

pub const TITLE: &str = "Access tokens";
pub const NAME_ID: &str = "token-name";
pub const NOT_SHOWN_AGAIN: &str = "Copy this token now: it cannot be shown again once you leave this view. Anyone with it has its scopes.";
pub const NOT_COPIED: &str =
    "You have not copied this token, and it cannot be shown again: leave anyway?";
pub const STAY: &str = "Back to the token";
pub const LEAVE: &str = "Leave without copying";
pub const NO_TOKENS: &str = "You have no tokens on this server yet. New token makes one — for a CI job, a script or another tool.";

#[derive(Debug, Clone)]
pub enum Message {
    Loaded(Result<(Vec<TokenView>, Vec<String>), Error>),
    New,
    Name(String),
    ToggleScope(String, bool),
    Expires(String),
    ExpiresIn(i64),
    Create,
    Created(Result<CreatedToken, Error>),
    /// Ask before regenerating or revoking a token (by id).
    Ask(Change, String),
    /// The confirmation's button.
    Confirm,
    /// Leave the token's one-time view although it was not copied (the question's answer).
    LeaveUncopied,
    /// Back to the token from that question.
    Stay,
    /// Regenerate answers with the new value, Revoke with none.
    Changed(Change, Result<Option<String>, Error>),
    SnippetChannel(String),
    Copy(String),
    Back,
    Close,
    SignOutInstead,
}

pub enum Action {
    None,
    Run(Task<Message>),
    Close,
    SignOut,
}

/// The two changes to an existing token, which share one confirm → run → result flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Regenerate,
    Revoke,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewForm {
    pub name: String,
    pub scopes: BTreeSet<String>,
    pub expires: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum View {
    List,
    New(NewForm),
    /// A token value shown once.
    Reveal {
        heading: String,
        token: String,
        /// It (or a snippet holding it) was copied.
        copied: bool,
        /// Leaving without a copy was asked for: the question is shown.
        leaving: bool,
    },
    Confirm(Change, TokenView),
}

#[derive(Debug, Clone)]
pub struct State {
    pub domain: String,
    pub loading: bool,
    pub busy: bool,
    pub tokens: Vec<TokenView>,
    pub scopes: Vec<String>,
    pub view: View,
    pub error: Option<String>,
    pub snippet_channel: String,
    /// The value last copied (its button says "Copied").
    pub copied: Option<String>,
    /// A confirmation in the list ("Token … revoked.").
    pub notice: Option<String>,
}

fn load(engine: &Engine) -> Task<Message> {
    let engine = engine.clone();
    Task::perform(
        async move {
            let list = engine.tokens().await?;
            let scopes = engine.token_scopes().await?;
            Ok((list, scopes))
        },
        Message::Loaded,
    )
}

fn date_in(days: i64) -> String {
    (tokens::today() + Duration::days(days))
        .format("%Y-%m-%d")
        .to_string()
}

impl State {
    pub fn new(engine: &Engine, domain: String) -> (Self, Task<Message>) {
        let state = State {
            domain,
            loading: true,
            busy: false,
            tokens: Vec::new(),
            scopes: Vec::new(),
            view: View::List,
            error: None,
            snippet_channel: "main".into(),
            copied: None,
            notice: None,
        };
        (state, load(engine))
    }

    pub fn is_busy(&self) -> bool {
        self.busy
    }

    /// Esc goes back one level: from a form or confirmation to the list, from the list out.
    pub fn escape(&self) -> Option<Message> {
        if self.busy {
            None
        } else if self.view == View::List {
            Some(Message::Close)
        } else if matches!(self.view, View::Reveal { leaving: true, .. }) {
            Some(Message::Stay)
        } else {
            Some(Message::Back)
        }
    }

    /// Enter: Create in the form, Done after a reveal (back to the token in the not-copied question); a destructive
    /// confirmation needs its own button.
    pub fn enter(&self) -> Option<Message> {
        match self.view {
            View::New(_) => Some(Message::Create),
            View::Reveal { leaving: true, .. } => Some(Message::Stay),
            View::Reveal { .. } => Some(Message::Back),
            _ => None,
        }
    }

    fn token(&self, id: &str) -> Option<TokenView> {
        self.tokens.iter().find(|t| t.id == id).cloned()
    }

    /// Handle `message`; when the view changed (list, new, one-time token, its question, a confirmation), the focus
    /// goes to the new view's first field or default button, as when a dialog opens.
    pub fn update(&mut self, message: Message, engine: &Engine) -> Action {
        let before = self.view_key();
        let action = self.handle(message, engine);
        if self.view_key() == before {
            return action;
        }
        // the "not copied" question: its safe answer, Back to the token
        let focus = if self.view_key().1 {
            crate::gui::focus::default_action()
        } else {
            crate::gui::focus::initial()
        };
        match action {
            Action::Run(task) => Action::Run(Task::batch([task, focus])),
            Action::None => Action::Run(focus),
            other => other,
        }
    }

    /// Which view is shown (and whether the one-time view asks before leaving).
    fn view_key(&self) -> (std::mem::Discriminant<View>, bool) {
        let asking = matches!(self.view, View::Reveal { leaving: true, .. });
        (std::mem::discriminant(&self.view), asking)
    }

    fn handle(&mut self, message: Message, engine: &Engine) -> Action {
        match message {
            Message::Loaded(result) => {
                let first = self.loading && self.tokens.is_empty();
                self.loading = false;
                match result {
                    Ok((list, scopes)) => {
                        self.tokens = list;
                        self.scopes = scopes;
                    }
                    Err(error) => self.error = Some(error.to_string()),
                }
                // the list is there: the focus goes to New token, enabled only now
                if first && self.view == View::List {
                    return Action::Run(crate::gui::focus::focus_on(
                        crate::gui::focus::default_button(),
                    ));
                }
            }
            Message::New => {
                self.error = None;
                self.notice = None;
                self.view = View::New(NewForm {
                    name: String::new(),
                    scopes: crate::engine::client::SIGN_IN_SCOPES
                        .iter()
                        .map(|s| s.to_string())
                        .filter(|s| self.scopes.contains(s))
                        .collect(),
                    expires: date_in(tokens::MAX_DAYS),
                });
                return Action::Run(iced::widget::operation::focus(NAME_ID));
            }
            Message::Name(value) => {
                if let View::New(form) = &mut self.view {
                    form.name = value;
                }
            }
            Message::ToggleScope(scope, on) => {
                if let View::New(form) = &mut self.view {
                    if on {
                        form.scopes.insert(scope);
                    } else {
                        form.scopes.remove(&scope);
                    }
                }
            }
            // a new expiry: an error about the old one goes
            Message::Expires(value) => {
                if let View::New(form) = &mut self.view {
                    form.expires = value;
                    self.error = None;
                }
            }
            Message::ExpiresIn(days) => {
                if let View::New(form) = &mut self.view {
                    form.expires = date_in(days);
                    self.error = None;
                }
            }
            Message::Ask(change, id) => {
                if let Some(token) = self.token(&id) {
                    self.error = None;
                    self.notice = None;
                    self.view = View::Confirm(change, token);
                }
            }
            Message::Create => return self.create(engine),
            Message::Created(result) => return self.created(result, engine),
            Message::Confirm => return self.confirm(engine),
            Message::Changed(change, result) => return self.changed(change, result, engine),
            Message::SnippetChannel(value) => self.snippet_channel = value,
            Message::Copy(value) => {
                if let View::Reveal { token, copied, .. } = &mut self.view
                    && value.contains(token.as_str())
                {
                    *copied = true;
                }
                self.copied = Some(value.clone());
                return Action::Run(iced::clipboard::write(value));
            }
            // a token that was never copied is gone once the view is left: ask first
            Message::Back if matches!(self.view, View::Reveal { copied: false, .. }) => {
                if let View::Reveal { leaving, .. } = &mut self.view {
                    *leaving = true;
                }
            }
            Message::Stay => {
                if let View::Reveal { leaving, .. } = &mut self.view {
                    *leaving = false;
                }
            }
            Message::Back | Message::LeaveUncopied => {
                if !self.busy {
                    self.view = View::List;
                    self.error = None;
                    self.copied = None;
                }
            }
            Message::Close => return Action::Close,
            Message::SignOutInstead => return Action::SignOut,
        }
        Action::None
    }

    /// Create: the expiry checked first, then the server makes the token.
    fn create(&mut self, engine: &Engine) -> Action {
        let View::New(form) = &self.view else {
            return Action::None;
        };
        if self.busy {
            return Action::None;
        }
        if let Err(error) = tokens::validate_expiry(&form.expires) {
            self.error = Some(error.to_string());
            return Action::None;
        }
        self.busy = true;
        self.error = None;
        let engine = engine.clone();
        let (name, scopes, expires) = (
            form.name.clone(),
            form.scopes.iter().cloned().collect::<Vec<_>>(),
            form.expires.clone(),
        );
        Action::Run(Task::perform(
            async move { engine.create_token(&name, &scopes, Some(&expires)).await },
            Message::Created,
        ))
    }

    /// The server made the token: the one-time view shows it, and the list reloads under it.
    fn created(&mut self, result: Result<CreatedToken, Error>, engine: &Engine) -> Action {
        self.busy = false;
        match result {
            Ok(created) => {
                let name = match &self.view {
                    View::New(form) => form.name.trim().to_string(),
                    _ => created.id.clone(),
                };
                self.view = View::Reveal {
                    heading: format!("Token \u{201c}{name}\u{201d} created"),
                    token: created.token,
                    copied: false,
                    leaving: false,
                };
                return Action::Run(load(engine));
            }
            Err(error) => self.error = Some(error.to_string()),
        }
        Action::None
    }

    /// Regenerate or revoke, once confirmed (never the sign-in token's revocation: signing out does that).
    fn confirm(&mut self, engine: &Engine) -> Action {
        let View::Confirm(change, token) = &self.view else {
            return Action::None;
        };
        if self.busy || (*change == Change::Revoke && token.sign_in_token) {
            return Action::None;
        }
        self.busy = true;
        let (engine, id, change) = (engine.clone(), token.id.clone(), *change);
        Action::Run(Task::perform(
            async move {
                match change {
                    Change::Regenerate => engine.regenerate_token(&id).await.map(Some),
                    Change::Revoke => engine.revoke_token(&id).await.map(|()| None),
                }
            },
            move |r| Message::Changed(change, r),
        ))
    }

    /// The server regenerated (the one-time view shows the new value) or revoked a token.
    fn changed(
        &mut self,
        change: Change,
        result: Result<Option<String>, Error>,
        engine: &Engine,
    ) -> Action {
        self.busy = false;
        let name = match &self.view {
            View::Confirm(_, t) => t.name.clone(),
            _ => String::new(),
        };
        match (change, result) {
            (Change::Regenerate, Ok(Some(token))) => {
                self.view = View::Reveal {
                    heading: format!("Token \u{201c}{name}\u{201d} regenerated"),
                    token,
                    copied: false,
                    leaving: false,
                };
                return Action::Run(load(engine));
            }
            (_, Ok(_)) => {
                self.view = View::List;
                self.loading = true;
                self.notice = Some(format!("Token \u{201c}{name}\u{201d} revoked."));
                return Action::Run(load(engine));
            }
            (_, Err(error)) => self.error = Some(error.to_string()),
        }
        Action::None
    }

    pub fn view(&self) -> Element<'_, Message> {
        let body: Element<'_, Message> = match &self.view {
            View::List => self.list_view(),
            View::New(form) => self.new_view(form),
            View::Reveal {
                heading,
                token,
                leaving,
                ..
            } => self.reveal_view(heading, token, *leaving),
            View::Confirm(change, token) => self.confirm_view(*change, token),
        };
        // the list's confirmation ("Token … revoked.") shares the message line: nothing moves when it appears
        let notice = matches!(self.view, View::List)
            .then_some(self.notice.as_deref())
            .flatten();
        let col = column![body, style::message_slot(self.error.as_deref(), notice)]
            .spacing(style::space_scale::S);
        style::card(col, 880.0)
    }

    fn confirm_view<'a>(&'a self, change: Change, t: &'a TokenView) -> Element<'a, Message> {
        let go = (!self.busy).then_some(Message::Confirm);
        let (heading, body, action) = match change {
            Change::Regenerate => (
                format!("Regenerate \u{201c}{}\u{201d}?", t.name),
                if t.sign_in_token {
                    "This is conda's sign-in token: it gets a new value, and conda-connect updates conda's token files so \
                     conda keeps working. The old value stops working at once."
                } else {
                    "The token gets a new value; the old value stops working at once, everywhere it is used."
                }
                .to_string(),
                style::primary("Regenerate", go),
            ),
            Change::Revoke if t.sign_in_token => (
                "This is the token conda uses".to_string(),
                "Revoking it would cut conda off from the server. Sign out instead: it revokes the token and restores \
                 your conda configuration."
                    .to_string(),
                style::primary("Sign Out…", Some(Message::SignOutInstead)),
            ),
            Change::Revoke => (
                format!("Revoke \u{201c}{}\u{201d}?", t.name),
                "Anything that uses this token loses access to the server at once. This cannot be undone.".to_string(),
                style::danger("Revoke", go),
            ),
        };
        column![
            style::title(heading),
            style::body(body),
            style::button_row([style::secondary("Cancel", Some(Message::Back)), action]),
        ]
        .spacing(style::space_scale::M + 2.0)
        .into()
    }

    fn list_view(&self) -> Element<'_, Message> {
        let mut col = column![
            row![
                style::title(TITLE),
                space::horizontal().width(Length::Fill),
                style::secondary("Close", Some(Message::Close))
            ]
            .align_y(iced::Center),
            style::muted(format!(
                "Tokens on {}. Each token is shown only once, when it is created or regenerated.",
                self.domain
            )),
        ]
        .spacing(12);
        if self.loading {
            col = col.push(
                container(style::muted("Loading your tokens…")).height(Length::Fixed(TABLE_HEIGHT)),
            );
        } else if self.tokens.is_empty() && self.error.is_none() {
            col = col.push(container(style::muted(NO_TOKENS)).height(Length::Fixed(TABLE_HEIGHT)));
        } else {
            let columns = [
                table::column(
                    style::head_cell(style::plain_heading("Name")),
                    |t: TokenView| {
                        let label = if t.sign_in_token {
                            format!("{} (conda's sign-in token)", t.name)
                        } else {
                            t.name
                        };
                        style::body_cell(text(label).size(13).wrapping(text::Wrapping::WordOrGlyph))
                    },
                )
                .width(Length::FillPortion(4)),
                table::column(
                    style::head_cell(style::plain_heading("Created")),
                    |t: TokenView| {
                        style::body_cell(
                            text(
                                t.created
                                    .as_deref()
                                    .map(|c| c.get(..10).unwrap_or(c).to_string())
                                    .unwrap_or_default(),
                            )
                            .size(13),
                        )
                    },
                ),
                table::column(
                    style::head_cell(style::plain_heading("Expires")),
                    |t: TokenView| style::body_cell(expiry_cell(&t)),
                ),
                table::column(
                    style::head_cell(style::plain_heading("Scopes")),
                    |t: TokenView| style::body_cell(text(t.scopes.len()).size(13)),
                ),
                table::column(style::head_cell(text("")), |t: TokenView| {
                    style::body_cell(
                        row![
                            style::small(
                                "Regenerate",
                                Some(Message::Ask(Change::Regenerate, t.id.clone()))
                            ),
                            style::small_danger(
                                "Revoke",
                                Some(Message::Ask(Change::Revoke, t.id.clone()))
                            ),
                        ]
                        .spacing(6),
                    )
                }),
            ];
            col = col.push(
                container(
                    scrollable(
                        container(style::headed_table(
                            table(columns, self.tokens.clone())
                                .padding_x(style::TABLE_PADDING_X)
                                .padding_y(style::TABLE_PADDING_Y)
                                .width(Length::Fill),
                        ))
                        .padding(iced::Padding::ZERO.right(style::SCROLLBAR_ROOM)),
                    )
                    .direction(style::overlay_scrollbar())
                    .height(Length::Fixed(TABLE_HEIGHT)),
                )
                .style(style::boxed),
            );
        }
        col = col.push(style::button_row([style::primary(
            "New token",
            (!self.loading).then_some(Message::New),
        )]));
        col.into()
    }

    fn new_view<'a>(&'a self, form: &'a NewForm) -> Element<'a, Message> {
        // scopes grouped as the server names them: `<group>:<action>`
        let mut groups: BTreeMap<String, Vec<&String>> = BTreeMap::new();
        for s in &self.scopes {
            groups
                .entry(s.split(':').next().unwrap_or(s).to_string())
                .or_default()
                .push(s);
        }
        let mut grid = row![].spacing(24);
        for (group, scopes) in groups {
            let mut group_column = column![text(group).size(13).font(style::BOLD)].spacing(4);
            for s in scopes {
                let name = s.clone();
                group_column = group_column.push(style::check(
                    form.scopes.contains(s),
                    Some(s.as_str()),
                    move |on| Message::ToggleScope(name.clone(), on),
                ));
            }
            grid = grid.push(group_column);
        }
        let can_create = !self.busy && !form.name.trim().is_empty() && !form.scopes.is_empty();
        column![
            style::title("New token"),
            style::field(
                "Name",
                style::input("e.g. ci-pipeline", &form.name)
                    .id(NAME_ID)
                    .on_input(Message::Name)
                    .on_submit(Message::Create)
                    .padding(8)
            ),
            style::field(
                "Scopes",
                scrollable(grid).direction(scrollable::Direction::Horizontal(
                    scrollable::Scrollbar::default()
                ))
            ),
            style::field(
                "Expires (YYYY-MM-DD, at most one year from today)",
                row![
                    style::input("YYYY-MM-DD", &form.expires)
                        .on_input(Message::Expires)
                        .on_submit(Message::Create)
                        .padding(8)
                        .width(160),
                    style::small("30 days", Some(Message::ExpiresIn(30))),
                    style::small("90 days", Some(Message::ExpiresIn(90))),
                    style::small("1 year", Some(Message::ExpiresIn(tokens::MAX_DAYS))),
                ]
                .spacing(8)
                .align_y(iced::Center)
            ),
            style::message_slot(None, self.busy.then_some("Creating…")),
            style::button_row([
                style::secondary("Cancel", Some(Message::Back)),
                style::primary("Create token", can_create.then_some(Message::Create))
            ]),
        ]
        .spacing(14)
        .into()
    }

    fn reveal_view<'a>(
        &'a self,
        heading: &'a str,
        token: &'a str,
        leaving: bool,
    ) -> Element<'a, Message> {
        let channel = if self.snippet_channel.trim().is_empty() {
            "main"
        } else {
            self.snippet_channel.trim()
        };
        let usage = tokens::usage(&self.domain, token, channel);
        let snippet = |label: &'static str, value: String| -> Element<'a, Message> {
            column![
                text(label).size(13).font(style::BOLD),
                row![
                    style::value_box(value.clone(), style::type_scale::SMALL),
                    style::copy_button(
                        self.copied.as_deref() == Some(value.as_str()),
                        Some(Message::Copy(value.clone())),
                        false
                    ),
                ]
                .spacing(8)
                .align_y(iced::Center),
            ]
            .spacing(4)
            .into()
        };
        column![
            style::title(heading),
            style::banner(style::Tone::Warning, NOT_SHOWN_AGAIN, vec![]),
            row![
                style::value_box(token, style::type_scale::BODY + 1.0),
                style::copy_button(
                    self.copied.as_deref() == Some(token),
                    Some(Message::Copy(token.to_string())),
                    true
                ),
            ]
            .spacing(8)
            .align_y(iced::Center),
            style::heading("How to use it"),
            style::field(
                "Channel",
                style::input("main", &self.snippet_channel)
                    .on_input(Message::SnippetChannel)
                    .width(240)
            ),
            snippet("conda channel URL", usage.channel_url),
            snippet("Add it to conda", usage.conda_config),
            snippet("pip (basic auth: <token>:x-auth-token)", usage.pip),
            snippet("uv (environment variables)", usage.uv),
            // the question takes the place of Done, on a row of the same height: nothing moves
            if leaving {
                style::button_row_noted(
                    Some(NOT_COPIED),
                    [
                        style::danger(LEAVE, Some(Message::LeaveUncopied)),
                        style::primary(STAY, Some(Message::Stay)),
                    ],
                )
            } else {
                style::button_row_noted(None, [style::primary("Done", Some(Message::Back))])
            },
        ]
        .spacing(12)
        .into()
    }
}

fn expiry_cell(t: &TokenView) -> Element<'static, Message> {
    let date = t
        .expires
        .as_deref()
        .map(|e| e.get(..10).unwrap_or(e).to_string())
        .unwrap_or_else(|| "never".into());
    match t.expiry {
        Expiry::Expired => text(format!("{date} (expired)"))
            .size(13)
            .style(style::error_text)
            .into(),
        Expiry::Soon(days) => text(format!("{date} (in {days} days)"))
            .size(13)
            .font(style::BOLD)
            .into(),
        _ => text(date).size(13).into(),
    }
}

pub const COPIED: &str = style::COPIED;

/// The list's height, with or without tokens (the dialog keeps its size).
const TABLE_HEIGHT: f32 = 300.0;
