//! The package list of the main window: a search box over the index of the last Update Index and the matching
//! packages (name, version, channel). The index is loaded (memory-mapped) in the background when a report
//! arrives, not before; a keystroke searches the distinct names only; the list is virtualised — it lays out the
//! rows in view (plus a margin) between two spacers that stand for the rest, so a million rows cost what forty do.

use std::sync::Arc;

use iced::widget::{column, container, row, scrollable, space, text, text_input};
use iced::{Element, Length, Task};

use crate::engine::index::{LoadedIndex, Matches, PackageIndex};
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
}

pub enum Action {
    None,
    Run(Task<Message>),
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
                        self.refresh();
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
                self.refresh();
                self.first_row = 0;
                return Action::Run(iced::widget::operation::snap_to(
                    LIST_ID,
                    scrollable::RelativeOffset::START,
                ));
            }
            Message::Scrolled(viewport) => {
                self.first_row = (viewport.absolute_offset().y / ROW_HEIGHT).max(0.0) as usize;
                self.visible = (viewport.bounds().height / ROW_HEIGHT).ceil() as usize + 1;
            }
        }
        Action::None
    }

    fn refresh(&mut self) {
        if let Some(index) = &self.loaded {
            self.matches = index.search(&self.search);
        }
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
            text_input("Search packages", &self.search)
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
            text("Name")
                .size(13)
                .font(style::BOLD)
                .width(Length::FillPortion(3)),
            text("Version")
                .size(13)
                .font(style::BOLD)
                .width(Length::FillPortion(2)),
            text("Channel")
                .size(13)
                .font(style::BOLD)
                .width(Length::FillPortion(3)),
        ]
        .spacing(8)
        .padding([0, 8]);
        let mut rows = column![space::vertical().height(window.start as f32 * ROW_HEIGHT)];
        for p in self.matches.rows(index, window.clone()) {
            rows = rows.push(
                container(
                    row![
                        text(p.name.to_string())
                            .size(13)
                            .width(Length::FillPortion(3)),
                        text(p.version.to_string())
                            .size(13)
                            .width(Length::FillPortion(2)),
                        text(format!("{} ({})", p.channel, p.subdir))
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
        col = col.push(
            container(
                column![
                    header,
                    scrollable(rows.width(Length::Fill))
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
        let summary = if self.search.trim().is_empty() {
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
