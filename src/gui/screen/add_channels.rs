//! Add Channels: the server's channels in a table — Name (parent/name for subchannels), Mirror (read-only),
//! Privacy, Owners, Add to default_channels, Add to channels — pre-checked from `.condarc` and the remembered
//! selection, sortable, filterable (servers have thousands of channels), with Skip and Add Channels and
//! Navigator's "at least one default channel" rule.

use iced::widget::{
    button, checkbox, column, container, row, scrollable, space, table, text, text_input,
};
use iced::{Element, Length, Task};

use crate::engine::session::{ChannelList, Selection};
use crate::engine::{Engine, Error};
use crate::gui::style;

pub const TITLE: &str = "Select channels to be used";
pub const FILTER_ID: &str = "add-channels-filter";
/// Rows drawn at once; the filter narrows the rest.
pub const MAX_ROWS: usize = 250;

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
    Skip,
    Submit,
    Saved(Result<(), Error>),
}

pub enum Action {
    None,
    Run(Task<Message>),
    /// Channels saved (or skipped): the flow continues.
    Done {
        changed: bool,
    },
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
}

impl State {
    /// Start loading the list; `remembered` pre-checks this user's earlier choice.
    pub fn new(engine: &Engine, all: bool, remembered: Option<Selection>) -> (Self, Task<Message>) {
        let engine = engine.clone();
        let state = State {
            loading: true,
            saving: false,
            error: None,
            rows: Vec::new(),
            filter: String::new(),
            sort: (SortColumn::Mirror, true),
            remembered,
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

    pub fn update(&mut self, message: Message, engine: &Engine) -> Action {
        match message {
            Message::Loaded(Ok(list)) => {
                self.loading = false;
                let pre = if list.preselected.default_channels.is_empty()
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
                Action::Run(iced::widget::operation::focus(FILTER_ID))
            }
            Message::Loaded(Err(e)) => {
                self.loading = false;
                self.error = Some(e.to_string());
                Action::None
            }
            Message::Filter(s) => {
                self.filter = s;
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
            Message::ToggleDefault(name, on) => {
                if let Some(r) = self.rows.iter_mut().find(|r| r.name == name) {
                    r.default_channel = on;
                }
                self.error = None;
                Action::None
            }
            Message::ToggleChannel(name, on) => {
                if let Some(r) = self.rows.iter_mut().find(|r| r.name == name) {
                    r.channel = on;
                }
                Action::None
            }
            Message::Skip => Action::Done { changed: false },
            Message::Submit => {
                if self.saving || self.loading {
                    return Action::None;
                }
                let sel = self.selection();
                if sel.default_channels.is_empty() {
                    self.error = Some(crate::engine::error::NO_DEFAULT_CHANNEL.into());
                    return Action::None;
                }
                self.saving = true;
                self.error = None;
                let engine = engine.clone();
                Action::Run(Task::perform(
                    async move {
                        engine
                            .select_channels(&sel.default_channels, &sel.channels)
                            .await
                    },
                    Message::Saved,
                ))
            }
            Message::Saved(Ok(())) => {
                self.saving = false;
                Action::Done { changed: true }
            }
            Message::Saved(Err(e)) => {
                self.saving = false;
                self.error = Some(e.to_string());
                Action::None
            }
        }
    }

    fn header(&self, label: &'static str, col: SortColumn) -> Element<'static, Message> {
        let arrow = match self.sort {
            (c, true) if c == col => " ▼",
            (c, false) if c == col => " ▲",
            _ => "",
        };
        button(text(format!("{label}{arrow}")).size(13).font(style::BOLD))
            .padding(0)
            .style(button::text)
            .on_press(Message::Sort(col))
            .into()
    }

    pub fn view(&self) -> Element<'_, Message> {
        let mut body = column![
            style::title(TITLE),
            text_input("Filter channels by name or owner", &self.filter)
                .id(FILTER_ID)
                .on_input(Message::Filter)
                .padding(8),
        ]
        .spacing(12);
        if self.loading {
            body = body.push(style::muted("Loading the server's channels…"));
        } else {
            let visible = self.visible();
            let shown: Vec<Row> = visible
                .iter()
                .take(MAX_ROWS)
                .map(|r| (*r).clone())
                .collect();
            let columns = [
                table::column(self.header("Name", SortColumn::Name), |r: Row| {
                    text(r.name).size(13)
                })
                .width(Length::FillPortion(3)),
                table::column(self.header("Mirror", SortColumn::Mirror), |r: Row| {
                    checkbox(r.mirror).size(14)
                }),
                table::column(self.header("Privacy", SortColumn::Privacy), |r: Row| {
                    text(r.privacy).size(13)
                }),
                table::column(self.header("Owners", SortColumn::Owners), |r: Row| {
                    text(r.owners).size(13)
                })
                .width(Length::FillPortion(2)),
                table::column(
                    text("Add to default_channels").size(13).font(style::BOLD),
                    |r: Row| {
                        let name = r.name.clone();
                        checkbox(r.default_channel)
                            .size(14)
                            .on_toggle(move |on| Message::ToggleDefault(name.clone(), on))
                    },
                ),
                table::column(
                    text("Add to channels").size(13).font(style::BOLD),
                    |r: Row| {
                        let name = r.name.clone();
                        checkbox(r.channel)
                            .size(14)
                            .on_toggle(move |on| Message::ToggleChannel(name.clone(), on))
                    },
                ),
            ];
            body = body.push(
                container(
                    scrollable(
                        table(columns, shown)
                            .padding_x(8)
                            .padding_y(4)
                            .width(Length::Fill),
                    )
                    .spacing(4)
                    .height(Length::Fixed(300.0)),
                )
                .style(container::bordered_box),
            );
            let sel = self.selection();
            let mut note = format!(
                "{} of {} channels shown · {} default channel(s), {} channel(s) ticked",
                visible.len().min(MAX_ROWS),
                self.rows.len(),
                sel.default_channels.len(),
                sel.channels.len()
            );
            if visible.len() > MAX_ROWS {
                note.push_str(" · type to narrow the list");
            }
            body = body.push(style::muted(note));
        }
        // one line always reserved for the message, so the table never moves under the pointer
        body = body.push(match (&self.error, self.saving) {
            (Some(e), _) => style::error(e.as_str()),
            (None, true) => style::muted("Saving your channels…"),
            (None, false) => style::muted(" "),
        });
        let submit = (!self.loading && !self.saving).then_some(Message::Submit);
        body = body.push(
            row![
                space::horizontal().width(Length::Fill),
                style::secondary("Skip", Some(Message::Skip)),
                style::primary("Add Channels", submit)
            ]
            .spacing(10),
        );
        style::card(body, 820.0)
    }
}
