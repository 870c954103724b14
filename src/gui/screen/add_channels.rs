//! The channel picker: the server's channels in a table — Name (parent/name for subchannels), Mirror (read-only),
//! Privacy, Owners, Add to default_channels, Add to channels — pre-checked from `.condarc` and the remembered
//! selection, sortable, filterable and paged (servers have thousands of channels), with Navigator's "at least one
//! default channel" rule. Two modes: "Select channels to be used" right after sign-in (Skip / Add Channels), and
//! the Channels screen, reachable any time while signed in (Cancel / Apply), which shows what `.condarc` holds now.
//! Both save through the engine's channel transaction.

use iced::widget::{column, container, row, scrollable, table, text};
use iced::{Element, Length, Task};

use crate::engine::session::{ChannelList, Selection};
use crate::engine::{Engine, Error};
use crate::gui::style;

pub const TITLE: &str = "Select channels to be used";
pub const MANAGE_TITLE: &str = "Channels";
pub const NO_CHANNELS: &str =
    "The server lists no channel you can read. Ask your administrator for access.";
pub const FILTER_ID: &str = "add-channels-filter";
/// Rows drawn per page; Previous / Next reach the rest without typing a filter.
pub const MAX_ROWS: usize = 200;
pub const DISCARD_HINT: &str = super::discard::HINT;

/// Why the picker is open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Right after sign-in (Navigator's dialog): Skip / Add Channels.
    SignIn,
    /// The Channels screen: what `.condarc` holds now, Cancel / Apply.
    Manage { current: Selection },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortColumn {
    Name,
    Mirror,
    Privacy,
    Owners,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub name: String,
    pub mirror: bool,
    pub privacy: String,
    pub owners: String,
    pub default_channel: bool,
    pub channel: bool,
}

#[derive(Debug, Clone)]
pub enum Message {
    Loaded(Result<ChannelList, Error>),
    Filter(String),
    Sort(SortColumn),
    ToggleDefault(String, bool),
    ToggleChannel(String, bool),
    Page(usize),
    Skip,
    /// Esc: close, or, with unsaved ticks, ask first (a second Esc discards).
    Escape,
    Submit,
    Saved(Result<(), Error>),
    /// Show another signed-in server's channels (several servers at once).
    Server(String),
}

pub enum Action {
    None,
    Run(Task<Message>),
    /// Channels saved (or skipped / cancelled): the flow continues.
    Done {
        saved: Option<Selection>,
        /// It was the Channels screen (not the picker after sign-in): nothing else follows a Cancel.
        manage: bool,
        /// A second server's channels (`None`: the primary's).
        server: Option<String>,
    },
    /// Show this server's channels instead (nothing was changed here).
    Switch(String),
}

#[derive(Debug, Clone)]
pub struct State {
    pub loading: bool,
    pub saving: bool,
    pub error: Option<String>,
    pub rows: Vec<Row>,
    pub filter: String,
    pub sort: (SortColumn, bool),
    /// Checked names that are not in the server's list (kept, shown as a note).
    pub remembered: Option<Selection>,
    pub mode: Mode,
    /// The ticks as loaded, to tell whether anything changed.
    pub loaded: Selection,
    pub page: usize,
    /// The first Esc with unsaved changes arms this; the second discards.
    pub discard_armed: bool,
    /// The organization's policy: its channels are preselected, and cannot be changed when it locks them.
    pub policy: crate::engine::policy::Policy,
    /// A secondary server's channels (several servers at once): channels only, no default channels; they go into
    /// `.condarc` by their full address.
    pub server: Option<String>,
    /// Every signed-in server, the primary first: with more than one, the screen offers each (grouped by server).
    pub servers: Vec<String>,
}

impl State {
    /// The organization locked the channels: the ticks cannot change (they are the primary server's).
    pub fn locked(&self) -> bool {
        self.policy.lock_channels && self.server.is_none()
    }

    /// The picker for a secondary server's channels (`mode`: after its sign-in, or the Channels screen).
    pub fn for_server(engine: &Engine, domain: String, mode: Mode) -> (Self, Task<Message>) {
        let (mut state, _) = Self::with_mode(engine, false, None, mode);
        state.server = Some(domain.clone());
        let engine = engine.clone();
        (
            state,
            Task::perform(
                async move { engine.server_channels(&domain, false).await },
                Message::Loaded,
            ),
        )
    }

    /// The Channels screen, reachable any time while signed in (not the picker after sign-in).
    fn manages(&self) -> bool {
        matches!(self.mode, Mode::Manage { .. })
    }

    /// Start loading the list; `remembered` pre-checks this user's earlier choice.
    pub fn new(engine: &Engine, all: bool, remembered: Option<Selection>) -> (Self, Task<Message>) {
        Self::with_mode(engine, all, remembered, Mode::SignIn)
    }

    pub fn with_mode(
        engine: &Engine,
        all: bool,
        remembered: Option<Selection>,
        mode: Mode,
    ) -> (Self, Task<Message>) {
        let engine = engine.clone();
        let state = State {
            loading: true,
            saving: false,
            error: None,
            rows: Vec::new(),
            filter: String::new(),
            sort: (SortColumn::Mirror, true),
            remembered,
            mode,
            loaded: Selection::default(),
            page: 0,
            discard_armed: false,
            policy: (*engine.policy).clone(),
            server: None,
            servers: Vec::new(),
        };
        (
            state,
            Task::perform(async move { engine.channels(all).await }, Message::Loaded),
        )
    }

    pub fn visible(&self) -> Vec<&Row> {
        let needle = self.filter.trim().to_lowercase();
        let mut rows: Vec<&Row> = self
            .rows
            .iter()
            .filter(|r| {
                needle.is_empty()
                    || r.name.to_lowercase().contains(&needle)
                    || r.owners.to_lowercase().contains(&needle)
            })
            .collect();
        let (col, desc) = self.sort;
        rows.sort_by(|a, b| {
            let ord = match col {
                SortColumn::Name => a.name.cmp(&b.name),
                SortColumn::Mirror => a.mirror.cmp(&b.mirror).then_with(|| b.name.cmp(&a.name)),
                SortColumn::Privacy => a.privacy.cmp(&b.privacy).then_with(|| a.name.cmp(&b.name)),
                SortColumn::Owners => a.owners.cmp(&b.owners).then_with(|| a.name.cmp(&b.name)),
            };
            if desc { ord.reverse() } else { ord }
        });
        rows
    }

    pub fn selection(&self) -> Selection {
        let mut rows: Vec<&Row> = self.rows.iter().collect();
        rows.sort_by(|a, b| a.name.cmp(&b.name));
        Selection {
            default_channels: rows
                .iter()
                .filter(|r| r.default_channel)
                .map(|r| r.name.clone())
                .collect(),
            channels: rows
                .iter()
                .filter(|r| r.channel)
                .map(|r| r.name.clone())
                .collect(),
        }
    }

    pub fn is_busy(&self) -> bool {
        self.saving
    }

    /// Unsaved ticks.
    pub fn is_dirty(&self) -> bool {
        !self.loading && self.selection() != self.loaded
    }

    /// What Esc means here.
    pub fn escape(&self) -> Option<Message> {
        (!self.saving).then_some(Message::Escape)
    }

    /// What Enter means here (the default button).
    pub fn enter(&self) -> Option<Message> {
        Some(Message::Submit)
    }

    pub fn title(&self) -> &'static str {
        match self.mode {
            Mode::SignIn => TITLE,
            Mode::Manage { .. } => MANAGE_TITLE,
        }
    }

    pub fn update(&mut self, message: Message, engine: &Engine) -> Action {
        if !matches!(message, Message::Escape) {
            self.discard_armed = false;
        }
        match message {
            Message::Loaded(Ok(list)) => self.loaded(list),
            Message::Loaded(Err(error)) => {
                self.loading = false;
                self.error = Some(error.to_string());
                Action::None
            }
            Message::Filter(value) => {
                self.filter = value;
                self.page = 0;
                Action::None
            }
            Message::Page(page) => {
                self.page = page.min(self.pages().saturating_sub(1));
                Action::None
            }
            Message::Sort(col) => {
                self.sort = if self.sort.0 == col {
                    (col, !self.sort.1)
                } else {
                    (col, col == SortColumn::Mirror)
                };
                Action::None
            }
            Message::ToggleDefault(..) | Message::ToggleChannel(..) if self.locked() => {
                Action::None
            }
            Message::ToggleDefault(name, on) => {
                if let Some(row) = self.rows.iter_mut().find(|row| row.name == name) {
                    row.default_channel = on;
                }
                self.error = None;
                Action::None
            }
            Message::ToggleChannel(name, on) => {
                if let Some(row) = self.rows.iter_mut().find(|row| row.name == name) {
                    row.channel = on;
                }
                Action::None
            }
            Message::Skip => self.done(None),
            Message::Escape => {
                if self.saving {
                    Action::None
                } else if self.is_dirty() && !self.discard_armed {
                    self.discard_armed = true;
                    Action::None
                } else {
                    self.done(None)
                }
            }
            Message::Submit => self.submit(engine),
            Message::Saved(Ok(())) => {
                self.saving = false;
                self.done(Some(self.loaded.clone()))
            }
            Message::Server(domain)
                if Some(domain.as_str())
                    == self
                        .server
                        .as_deref()
                        .or(self.servers.first().map(String::as_str)) =>
            {
                Action::None
            }
            Message::Server(domain) => {
                if self.saving || self.is_dirty() && !self.discard_armed {
                    // unsaved ticks: the same question as Esc
                    self.discard_armed = !self.saving;
                    return Action::None;
                }
                Action::Switch(domain)
            }
            Message::Saved(Err(error)) => {
                self.saving = false;
                self.error = Some(error.to_string());
                // not saved: the ticks are still unsaved changes
                self.loaded = Selection::default();
                Action::None
            }
        }
    }

    /// The server's channel list arrived: the rows, ticked as the organization, the server or the last choice say.
    fn loaded(&mut self, list: ChannelList) -> Action {
        self.loading = false;
        let from_policy = self
            .policy
            .selection()
            .filter(|_| self.server.is_none() && (self.locked() || !self.manages()));
        let pre = if let Some(policy) = from_policy {
            // the organization's channels: preselected at sign-in, the only choice when locked
            policy
        } else if list.preselected.default_channels.is_empty()
            && list.preselected.channels.is_empty()
        {
            self.remembered.clone().unwrap_or_default()
        } else {
            list.preselected.clone()
        };
        self.rows = list
            .channels
            .iter()
            .map(|c| {
                let name = c.full_name();
                Row {
                    mirror: c.mirror_count > 0,
                    privacy: c.privacy.clone(),
                    owners: c
                        .owners
                        .iter()
                        .filter(|o| !o.is_empty())
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", "),
                    default_channel: pre.default_channels.contains(&name),
                    channel: pre.channels.contains(&name),
                    name,
                }
            })
            .collect();
        self.loaded = self.selection();
        Action::Run(iced::widget::operation::focus(FILTER_ID))
    }

    /// Save the ticks: the primary's channels (a default channel required), or a second server's.
    fn submit(&mut self, engine: &Engine) -> Action {
        if self.saving || self.loading {
            return Action::None;
        }
        let sel = self.selection();
        if sel.default_channels.is_empty() && self.server.is_none() {
            self.error = Some(crate::engine::error::NO_DEFAULT_CHANNEL.into());
            return Action::None;
        }
        self.saving = true;
        self.error = None;
        self.loaded = sel.clone();
        let engine = engine.clone();
        let server = self.server.clone();
        Action::Run(Task::perform(
            async move {
                match server {
                    Some(domain) => engine.select_server_channels(&domain, &sel.channels).await,
                    None => {
                        engine
                            .select_channels(&sel.default_channels, &sel.channels)
                            .await
                    }
                }
            },
            Message::Saved,
        ))
    }

    /// The flow goes on: `saved` (or nothing saved), from this dialog's mode and server.
    fn done(&self, saved: Option<Selection>) -> Action {
        Action::Done {
            saved,
            manage: self.manages(),
            server: self.server.clone(),
        }
    }

    fn pages(&self) -> usize {
        self.visible().len().div_ceil(MAX_ROWS).max(1)
    }

    fn header(&self, label: &'static str, col: SortColumn) -> Element<'static, Message> {
        let (sorted, descending) = self.sort;
        style::sort_header(
            label,
            (sorted == col).then_some(descending),
            Message::Sort(col),
        )
    }

    /// With several servers signed in: one server's channels at a time, the others a click away.
    fn server_row(&self) -> Option<Element<'_, Message>> {
        if self.servers.len() < 2 {
            return None;
        }
        let current = self
            .server
            .as_deref()
            .or(self.servers.first().map(String::as_str));
        let mut picker = row![style::muted("Server:")]
            .spacing(style::space_scale::S)
            .align_y(iced::Center);
        for domain in &self.servers {
            // the one shown is filled (pressing it again changes nothing), the others plain
            picker = picker.push(if Some(domain.as_str()) == current {
                style::primary(domain.as_str(), Some(Message::Server(domain.clone())))
            } else {
                style::secondary(domain.as_str(), Some(Message::Server(domain.clone())))
            });
        }
        Some(picker.into())
    }

    pub fn view(&self) -> Element<'_, Message> {
        let mut body = column![style::title(self.title())].spacing(style::space_scale::M);
        if let Some(picker) = self.server_row() {
            body = body.push(picker);
        }
        if let Some(domain) = &self.server {
            body = body.push(style::body(format!(
                "Channels of {domain}, your second server. Tick the ones conda should use: they go into \
                 ~/.condarc by their full address, next to your primary server's."
            )));
        } else if let Mode::Manage { current } = &self.mode {
            let list = |v: &[String]| {
                if v.is_empty() {
                    "(none)".to_string()
                } else {
                    v.join(", ")
                }
            };
            body = body.push(style::body(format!(
                "In your ~/.condarc now — default_channels: {} · channels: {}",
                list(&current.default_channels),
                list(&current.channels)
            )));
            body = body.push(style::muted(
                "Tick the channels conda should use, untick those to remove, then Apply.",
            ));
        }
        if self.locked() {
            body = body.push(style::managed_note(self.policy.support_url.as_deref()));
        }
        body = body.push(
            style::input("Filter channels by name or owner", &self.filter)
                .id(FILTER_ID)
                .on_input(Message::Filter)
                .padding(8),
        );
        if self.loading {
            body = body.push(
                container(style::muted("Loading the server's channels…")).height(TABLE_HEIGHT),
            );
        } else {
            let visible = self.visible();
            let pages = self.pages();
            let page = self.page.min(pages - 1);
            let first = page * MAX_ROWS;
            let shown: Vec<Row> = visible
                .iter()
                .skip(first)
                .take(MAX_ROWS)
                .map(|r| (*r).clone())
                .collect();
            let count = shown.len();
            let locked = self.locked();
            // fixed widths: columns stay put while filtering
            let mut columns = vec![
                table::column(
                    style::head_cell(self.header("Name", SortColumn::Name)),
                    |r: Row| style::body_cell(style::cell(r.name)),
                )
                .width(Length::FillPortion(3)),
                table::column(
                    style::head_cell(self.header("Mirror", SortColumn::Mirror)),
                    |r: Row| {
                        // read-only: words, not a checkbox that looks ticked and clickable
                        style::body_cell(style::cell(if r.mirror { "mirror" } else { "—" }))
                    },
                )
                .width(Length::Fixed(84.0)),
                table::column(
                    style::head_cell(self.header("Privacy", SortColumn::Privacy)),
                    |r: Row| style::body_cell(style::cell(r.privacy)),
                )
                .width(Length::Fixed(112.0)),
                table::column(
                    style::head_cell(self.header("Owners", SortColumn::Owners)),
                    |r: Row| style::body_cell(style::cell(r.owners)),
                )
                .width(Length::FillPortion(2)),
                table::column(
                    style::head_cell(style::plain_heading("Add to default_channels")),
                    move |r: Row| {
                        let name = r.name.clone();
                        style::body_cell(if locked {
                            style::check_locked(r.default_channel, "")
                        } else {
                            style::check(r.default_channel, None, move |on| {
                                Message::ToggleDefault(name.clone(), on)
                            })
                        })
                    },
                )
                .width(Length::Fixed(196.0)),
                table::column(
                    style::head_cell(style::plain_heading("Add to channels")),
                    move |r: Row| {
                        let name = r.name.clone();
                        style::body_cell(if locked {
                            style::check_locked(r.channel, "")
                        } else {
                            style::check(r.channel, None, move |on| {
                                Message::ToggleChannel(name.clone(), on)
                            })
                        })
                    },
                )
                .width(Length::Fixed(128.0)),
            ];
            if self.server.is_some() {
                // a second server gives channels only
                columns.remove(4);
            }
            if count == 0 {
                // an empty result says why, where the rows would be (the dialog keeps its size)
                let why = if self.filter.trim().is_empty() {
                    NO_CHANNELS.to_string()
                } else {
                    format!(
                        "No channel matches “{}”: change or clear the filter.",
                        self.filter.trim()
                    )
                };
                body = body.push(
                    container(style::body(why))
                        .padding(16)
                        .width(Length::Fill)
                        .height(TABLE_HEIGHT)
                        .style(style::boxed),
                );
            }
            if count > 0 {
                body = body.push(
                    container(
                        // the scrollbar lies over a margin the table always keeps: the columns never change width
                        scrollable(
                            container(style::headed_table(
                                table(columns, shown)
                                    .padding_x(style::TABLE_PADDING_X)
                                    .padding_y(style::TABLE_PADDING_Y)
                                    .width(Length::Fill),
                            ))
                            .padding(iced::Padding::ZERO.right(style::SCROLLBAR_ROOM)),
                        )
                        .direction(style::overlay_scrollbar())
                        .height(TABLE_HEIGHT),
                    )
                    .style(style::boxed),
                );
            }
            let sel = self.selection();
            let range = if count == 0 {
                format!("0 of {} channels shown", self.rows.len())
            } else if pages == 1 {
                format!("{count} of {} channels shown", self.rows.len())
            } else {
                format!(
                    "{}–{} of {} channels shown",
                    first + 1,
                    first + count,
                    visible.len()
                )
            };
            let note = if self.server.is_some() {
                format!("{range} · {} channel(s) ticked", sel.channels.len())
            } else {
                format!(
                    "{range} · {} default channel(s), {} channel(s) ticked",
                    sel.default_channels.len(),
                    sel.channels.len()
                )
            };
            let mut line = row![
                text(note)
                    .size(style::type_scale::SMALL)
                    .style(style::muted_text)
                    .width(Length::Fill)
            ]
            .spacing(8)
            .align_y(iced::Center);
            // the same height with or without the pager, so the dialog never changes size while filtering
            line = line.height(Length::Fixed(30.0));
            if pages > 1 {
                line = line
                    .push(style::small(
                        "Previous",
                        (page > 0).then(|| Message::Page(page - 1)),
                    ))
                    .push(style::small(
                        "Next",
                        (page + 1 < pages).then(|| Message::Page(page + 1)),
                    ));
            }
            body = body.push(line);
        }
        // the message line is always reserved, so the table and buttons never move under the pointer
        let busy = self.saving.then_some("Saving your channels…");
        let hint = self.discard_armed.then_some(DISCARD_HINT);
        body = body.push(style::message_slot(self.error.as_deref(), busy));
        let submit = (!self.loading && !self.saving).then_some(Message::Submit);
        body = body.push(match self.mode {
            Mode::SignIn => style::button_row_noted(
                hint,
                [
                    style::secondary("Skip", Some(Message::Skip)),
                    style::primary("Add Channels", submit),
                ],
            ),
            Mode::Manage { .. } => style::button_row_noted(
                hint,
                [
                    style::secondary("Cancel", (!self.saving).then_some(Message::Skip)),
                    style::primary("Apply", submit),
                ],
            ),
        });
        style::card(body, 860.0)
    }
}

/// The table's height: room for ~9 rows, and the dialog still fits the smallest window.
const TABLE_HEIGHT: f32 = 270.0;
