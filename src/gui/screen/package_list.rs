//! The package list of the main window: a search box over the index of the last Update Index and the matching
//! packages (name, version, channel). The index is loaded (memory-mapped) in the background when a report
//! arrives, not before; a keystroke searches the distinct names only; the list is virtualised — it lays out the
//! rows in view (plus a margin) between two spacers that stand for the rest, so a million rows cost what forty do.
//! The headings sort the table like the channel table's (Name, Version, Channel; again for descending): another
//! order is a permutation of the result's positions, computed off the UI thread.

use std::sync::Arc;

use iced::widget::{column, container, row, scrollable, space, text};
use iced::{Element, Length, Task};

use crate::engine::index::{LoadedIndex, Matches, PackageColumn, PackageIndex, sorted_positions};
use crate::gui::style;

pub const SEARCH_ID: &str = "package-search";
pub const LIST_ID: &str = "package-list";
/// Every row is this tall, so that a scroll offset maps to a row number.
pub const ROW_HEIGHT: f32 = 22.0;
/// Rows laid out beyond the visible ones, above and below.
const MARGIN: usize = 8;
/// Rows assumed visible until the list reports its size.
const DEFAULT_VISIBLE: usize = 30;

#[derive(Debug, Clone)]
pub enum Message {
    /// The index of Update Index `generation` is loaded (or could not be).
    Loaded(u64, Result<Arc<LoadedIndex>, String>),
    Search(String),
    Scrolled(scrollable::Viewport),
    /// A heading: sort by that column (again: the other direction).
    Sort(PackageColumn),
    /// The order asked for as request `generation` is ready.
    Sorted(u64, Arc<Vec<u32>>),
}

pub enum Action {
    None,
    Run(Task<Message>),
}

impl Action {
    /// This action's task and `other`'s.
    fn and(self, other: Action) -> Action {
        match (self, other) {
            (Action::None, other) | (other, Action::None) => other,
            (Action::Run(first), Action::Run(second)) => Action::Run(Task::batch([first, second])),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct State {
    generation: u64,
    loading: bool,
    loaded: Option<Arc<LoadedIndex>>,
    error: Option<String>,
    pub search: String,
    matches: Matches,
    first_row: usize,
    visible: usize,
    /// The column and whether descending; (Name, false) is the index's own order.
    pub sort: (PackageColumn, bool),
    /// Positions of `matches` in the display order, when it is not the index's own.
    order: Option<Arc<Vec<u32>>>,
    /// The latest order asked for: an older answer is dropped.
    order_generation: u64,
}

impl State {
    /// A new index from Update Index: load it off the UI thread.
    pub fn set_index(&mut self, index: PackageIndex) -> Action {
        self.generation += 1;
        self.loading = true;
        self.error = None;
        let generation = self.generation;
        let load = async move {
            tokio::task::spawn_blocking(move || index.load().map(Arc::new))
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| r.map_err(|e| e.to_string()))
        };
        Action::Run(Task::perform(load, move |r| Message::Loaded(generation, r)))
    }

    /// Forget the index (sign-out: its names belong to the server's private channels).
    pub fn clear(&mut self) {
        *self = State {
            generation: self.generation + 1,
            ..State::default()
        };
    }

    pub fn update(&mut self, message: Message) -> Action {
        match message {
            Message::Loaded(generation, result) if generation == self.generation => {
                self.loading = false;
                match result {
                    Ok(index) => {
                        self.loaded = Some(index);
                        return self.refresh();
                    }
                    Err(error) => {
                        tracing::warn!(error = %error, "package index could not be loaded");
                        self.loaded = None;
                        self.matches = Matches::default();
                        self.error = Some(
                            "The package index could not be read; run Update Index again.".into(),
                        );
                    }
                }
            }
            Message::Loaded(..) => {}
            Message::Search(value) => {
                self.search = value;
                return self.refresh().and(self.scroll_to_top());
            }
            Message::Sort(column) => {
                self.sort = if self.sort.0 == column {
                    (column, !self.sort.1)
                } else {
                    (column, false)
                };
                return self.reorder().and(self.scroll_to_top());
            }
            Message::Sorted(generation, order) => {
                if generation == self.order_generation {
                    self.order = Some(order);
                }
            }
            Message::Scrolled(viewport) => {
                self.first_row = (viewport.absolute_offset().y / ROW_HEIGHT).max(0.0) as usize;
                self.visible = (viewport.bounds().height / ROW_HEIGHT).ceil() as usize + 1;
            }
        }
        Action::None
    }

    /// Search again (a new text or a new index), then put the result in the chosen order.
    fn refresh(&mut self) -> Action {
        if let Some(index) = &self.loaded {
            self.matches = index.search(&self.search);
        }
        self.reorder()
    }

    /// The display order for the current result: none for the index's own order, else computed in the background.
    fn reorder(&mut self) -> Action {
        self.order_generation += 1;
        self.order = None;
        let Some(index) = self.loaded.clone() else {
            return Action::None;
        };
        if self.sort == (PackageColumn::Name, false) {
            return Action::None;
        }
        let (generation, matches, (column, descending)) =
            (self.order_generation, self.matches.clone(), self.sort);
        let sort = async move {
            tokio::task::spawn_blocking(move || {
                sorted_positions(&index, &matches, column, descending)
            })
            .await
        };
        Action::Run(Task::perform(sort, move |order| match order {
            Ok(order) => Message::Sorted(generation, Arc::new(order)),
            // only a panic in the sort gets here: generation 0 is never current, the index's order stays
            Err(error) => {
                tracing::error!(error = %error, "sorting the package list failed");
                Message::Sorted(0, Arc::default())
            }
        }))
    }

    /// Back to the first row (a new search or order).
    fn scroll_to_top(&mut self) -> Action {
        self.first_row = 0;
        Action::Run(iced::widget::operation::snap_to(
            LIST_ID,
            scrollable::RelativeOffset::START,
        ))
    }

    /// Whether the rows are shown in the chosen order yet (a big result takes a moment to sort).
    pub fn is_sorting(&self) -> bool {
        self.loaded.is_some() && self.sort != (PackageColumn::Name, false) && self.order.is_none()
    }

    /// The rows at display positions `window`, in the chosen order (the index's own while that is computed).
    fn rows_in_view<'a>(
        &self,
        index: &'a LoadedIndex,
        window: std::ops::Range<usize>,
    ) -> Vec<crate::engine::index::PackageRef<'a>> {
        match &self.order {
            Some(order) => window
                .filter_map(|position| order.get(position))
                .filter_map(|&row| {
                    let row = row as usize;
                    self.matches.rows(index, row..row + 1).pop()
                })
                .collect(),
            None => self.matches.rows(index, window),
        }
    }

    fn heading(&self, label: &'static str, column: PackageColumn) -> Element<'static, Message> {
        let (sorted, descending) = self.sort;
        style::sort_header(
            label,
            (sorted == column).then_some(descending),
            Message::Sort(column),
        )
    }

    /// Rows matching the search.
    pub fn matches(&self) -> usize {
        self.matches.len()
    }

    /// The range of matching rows that the view lays out.
    pub fn window(&self) -> std::ops::Range<usize> {
        let visible = if self.visible == 0 {
            DEFAULT_VISIBLE
        } else {
            self.visible
        };
        let start = self
            .first_row
            .saturating_sub(MARGIN)
            .min(self.matches.len());
        let end = (self.first_row + visible + MARGIN).min(self.matches.len());
        start..end
    }

    pub fn view(&self) -> Element<'_, Message> {
        let mut col = column![
            style::input("Search packages", &self.search)
                .id(SEARCH_ID)
                .on_input(Message::Search)
                .padding(8)
        ]
        .spacing(8);
        if let Some(error) = &self.error {
            return col.push(style::error(error.as_str())).into();
        }
        let Some(index) = &self.loaded else {
            if self.loading {
                col = col.push(style::muted("Loading the package index…"));
            }
            return col.into();
        };
        let total = self.matches.len();
        let window = self.window();
        let header = row![
            container(self.heading("Name", PackageColumn::Name)).width(Length::FillPortion(3)),
            container(self.heading("Version", PackageColumn::Version))
                .width(Length::FillPortion(2)),
            container(self.heading("Channel", PackageColumn::Channel))
                .width(Length::FillPortion(3)),
        ]
        .spacing(8)
        // the rows keep the scrollbar's room too: headings and columns stay aligned
        .padding(iced::Padding::from([0.0, 8.0]).right(8.0 + style::SCROLLBAR_ROOM));
        let mut rows = column![space::vertical().height(window.start as f32 * ROW_HEIGHT)];
        for p in self.rows_in_view(index, window.clone()) {
            rows = rows.push(
                container(
                    row![
                        text(p.name.to_string())
                            .size(13)
                            .width(Length::FillPortion(3)),
                        text(p.version.to_string())
                            .size(13)
                            .width(Length::FillPortion(2)),
                        text(format!("{} ({})", channel_label(p.channel), p.subdir))
                            .size(13)
                            .width(Length::FillPortion(3)),
                    ]
                    .spacing(8),
                )
                .padding([0, 8])
                .height(ROW_HEIGHT)
                .align_y(iced::Center),
            );
        }
        rows = rows.push(space::vertical().height((total - window.end) as f32 * ROW_HEIGHT));
        if total == 0 && !self.search.trim().is_empty() {
            // said where the rows would be, not only in the line under the table
            rows = rows.push(
                container(style::body(format!(
                    "No package matches “{}”.",
                    self.search.trim()
                )))
                .padding([16, 8]),
            );
        }
        col = col.push(
            container(
                column![
                    header,
                    scrollable(
                        container(rows.width(Length::Fill))
                            .padding(iced::Padding::ZERO.right(style::SCROLLBAR_ROOM))
                    )
                    .direction(style::overlay_scrollbar())
                    .id(LIST_ID)
                    .on_scroll(Message::Scrolled)
                    .height(Length::Fill)
                ]
                .spacing(4),
            )
            .padding([4, 0])
            .height(Length::Fill)
            .style(container::bordered_box),
        );
        let summary = if self.is_sorting() {
            format!("{total} packages: sorting…")
        } else if self.search.trim().is_empty() {
            format!("{total} packages ({} distinct names)", index.name_count())
        } else {
            format!(
                "{total} of {} packages match ({} names)",
                index.len(),
                self.matches.names()
            )
        };
        col.push(style::muted(summary)).into()
    }
}

/// A channel as the list shows it: a second server's channel (a full `…/api/repo/<name>` address) as
/// `<name> @ <host:port>`, so that each server's packages read as that server's.
pub fn channel_label(channel: &str) -> std::borrow::Cow<'_, str> {
    match channel
        .split_once("://")
        .and_then(|(_, rest)| rest.split_once("/api/repo/"))
    {
        Some((host, name)) => format!("{name} @ {host}").into(),
        None => channel.into(),
    }
}
