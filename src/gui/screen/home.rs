//! The main window body: the channels configured in `.condarc` (channel_alias, default_channels, channels) and
//! the package index — Update Index with a progress bar and per-channel status, then package counts and the
//! searchable package list ([`package_list`]).

use iced::widget::{column, container, progress_bar, row, scrollable, space, text};
use iced::{Element, Length, Task};

use super::package_list;
pub use super::package_list::SEARCH_ID;
use crate::engine::index::{ChannelReport, FetchStatus, IndexReport, Progress};
use crate::engine::session::Status;
use crate::engine::{Engine, Error};
use crate::gui::style;

#[derive(Debug, Clone)]
pub enum Message {
    UpdateIndex,
    /// Stop a running Update Index: what it fetched so far is kept in the cache, the list shown stays.
    Stop,
    Progress(Progress),
    Finished(Result<IndexReport, Error>),
    Packages(package_list::Message),
    /// Show or hide the per-channel lines of the last Update Index.
    ToggleDetails,
}

pub enum Action {
    None,
    Run(Task<Message>),
    /// Update Index finished with failed channel directories: the window finds out why (and runs `task`).
    Failed {
        channels: Vec<ChannelReport>,
        task: Task<Message>,
    },
}

pub const STOP: &str = "Stop";
/// The height of Update Index's state area: the summary line (with Details) and one line of error or note.
const RUN_STATE_HEIGHT: f32 = 56.0;
/// The per-channel lines' box: one height whatever it holds (it scrolls), so the list below never moves.
const DETAILS_HEIGHT: f32 = 120.0;
/// Update Index's tooltip while there is nothing to index (signed out, no channel in `.condarc`).
pub const NOTHING_TO_INDEX: &str = "Sign in first (Connect, Ctrl+K): no channel is configured yet";

/// There is something to index: signed in, or channels configured in `.condarc` (conda's public defaults are never
/// fetched for a signed-out user who configured nothing: an air-gapped site must not see them fail).
pub fn can_index(status: Option<&Status>) -> bool {
    status.is_some_and(|s| s.logged_in || !s.default_channels.is_empty() || !s.channels.is_empty())
}
pub const STOPPED: &str =
    "Update Index was stopped; the package list shown is the one from before.";

#[derive(Debug, Clone, Default)]
pub struct State {
    pub running: bool,
    pub total: usize,
    pub done: Vec<ChannelReport>,
    /// The report whose packages are shown (the last good one when the latest run failed).
    pub report: Option<IndexReport>,
    /// When that list was fetched (local time, `HH:MM`).
    pub report_time: Option<String>,
    /// The latest run failed and the list shown is an older one.
    pub kept_older: bool,
    pub error: Option<String>,
    pub packages: package_list::State,
    /// The per-channel lines are shown.
    pub details: bool,
    /// Aborts the running Update Index (dropping it ends the fetch).
    abort: Option<iced::task::Handle>,
}

pub const DETAILS: &str = "Details";
pub const HIDE_DETAILS: &str = "Hide details";
pub const NOT_SIGNED_IN: &str = "You are not signed in: Connect (Ctrl+K) signs you in to your organization's Anaconda Server, and Update Index then lists its packages here.";
pub const NO_INDEX_YET: &str = "Update Index (F5) lists the packages of your channels here.";

/// "The package list from 14:02 is shown: the last Update Index failed."
pub fn kept_words(time: &str) -> String {
    format!("Showing the package list from {time}: the last Update Index failed.")
}

impl State {
    /// Start Update Index: the engine's sipper runs as an abortable task, each finished channel directory a
    /// progress message.
    pub fn update_index(&mut self, engine: &Engine) -> Action {
        if self.running {
            return Action::None;
        }
        self.running = true;
        self.total = 0;
        self.done.clear();
        self.error = None;
        let (task, handle) =
            Task::sip(engine.update_index(), Message::Progress, Message::Finished).abortable();
        self.abort = Some(handle.abort_on_drop());
        Action::Run(task)
    }

    /// Signed out: a private server's package names are not shown any more (unless Update Index is running, which
    /// then fetches what the signed-out configuration names).
    pub fn forget_packages(&mut self) {
        if self.report.is_some() && !self.running {
            self.packages.clear();
            self.report = None;
            self.report_time = None;
            self.kept_older = false;
        }
    }

    pub fn update(&mut self, message: Message, engine: &Engine) -> Action {
        match message {
            Message::UpdateIndex => return self.update_index(engine),
            Message::Stop => self.stop(),
            Message::Progress(Progress::Started { total }) => self.total = total,
            Message::Progress(Progress::Done { report }) => {
                if self.running {
                    self.done.push(report)
                }
            }
            Message::Finished(Ok(report)) => return self.finished(report),
            Message::Finished(Err(error)) => {
                self.running = false;
                self.abort = None;
                self.kept_older = self.report.is_some();
                self.error = Some(error.to_string());
            }
            Message::ToggleDetails => self.details = !self.details,
            Message::Packages(message) => return packages_action(self.packages.update(message)),
        }
        Action::None
    }

    fn stop(&mut self) {
        if let Some(handle) = self.abort.take() {
            handle.abort();
        }
        if self.running {
            self.running = false;
            self.done.clear();
            self.error = Some(STOPPED.into());
        }
    }

    /// A finished run: its list replaces the shown one, unless it failed somewhere and a complete list is shown
    /// (that one stays, with its time). Failures are reported to the window, which finds out why.
    fn finished(&mut self, report: IndexReport) -> Action {
        self.running = false;
        self.abort = None;
        self.done = report.channels.clone();
        let failed: Vec<ChannelReport> = report
            .channels
            .iter()
            .filter(|c| c.failed())
            .cloned()
            .collect();
        let task = if !failed.is_empty() && self.report.is_some() {
            self.kept_older = true;
            Task::none()
        } else {
            self.kept_older = false;
            self.report_time = Some(chrono::Local::now().format("%H:%M").to_string());
            let action = self.packages.set_index(report.packages.clone());
            self.report = Some(report);
            match packages_action(action) {
                Action::Run(task) => task,
                _ => Task::none(),
            }
        };
        if failed.is_empty() {
            return Action::Run(task);
        }
        // the window diagnoses every failed directory: all of this run's, not only the ones it kept
        Action::Failed {
            channels: self.done.clone(),
            task,
        }
    }

    pub fn view<'a>(&'a self, status: Option<&'a Status>) -> Element<'a, Message> {
        row![channels_panel(status), self.packages_panel(status)]
            .spacing(16)
            .height(Length::Fill)
            .into()
    }

    fn packages_panel<'a>(&'a self, status: Option<&'a Status>) -> Element<'a, Message> {
        let possible = can_index(status);
        let button = style::shortcut_hint(
            style::primary_icon(
                style::Icon::Refresh,
                "Update Index",
                (!self.running && possible).then_some(Message::UpdateIndex),
            ),
            if possible { "F5" } else { NOTHING_TO_INDEX },
        );
        let mut col = column![
            row![
                style::heading("Packages"),
                space::horizontal().width(Length::Fill),
                button
            ]
            .align_y(iced::Center)
        ]
        .spacing(10);
        // one fixed area for the run's state (progress, or the summary and what went wrong): the list below never
        // moves when Update Index starts, streams or ends
        col = col.push(
            container(self.run_state())
                .height(Length::Fixed(RUN_STATE_HEIGHT))
                .width(Length::Fill)
                .clip(true),
        );
        // the per-channel lines stay open while a run streams into them (fixed height: nothing jumps)
        if self.details && (self.running || !self.done.is_empty()) {
            col = col.push(self.details_view());
        }
        // the list stays while Update Index runs: nothing jumps
        match &self.report {
            Some(_) => col = col.push(self.packages.view().map(Message::Packages)),
            None if !self.running => {
                let signed_in = status.is_some_and(|s| s.logged_in);
                col = col.push(style::muted(if signed_in {
                    NO_INDEX_YET
                } else {
                    NOT_SIGNED_IN
                }));
            }
            None => {}
        }
        container(col)
            .padding(16)
            .width(Length::FillPortion(3))
            .height(Length::Fill)
            .style(style::panel)
            .into()
    }

    /// Update Index's state: a running one's progress (and Stop), or the last one's summary with its error or the
    /// time of the list kept.
    fn run_state(&self) -> Element<'_, Message> {
        if self.running {
            let total = self.total.max(1) as f32;
            let words = if self.total == 0 {
                "Updating package index…".to_string()
            } else {
                format!(
                    "Updating package index… {} of {} channel directories",
                    self.done.len(),
                    self.total
                )
            };
            return column![
                progress_bar(0.0..=total, self.done.len() as f32).girth(8),
                row![
                    container(style::muted(words)).width(Length::Fill),
                    style::small(STOP, Some(Message::Stop)),
                ]
                .spacing(8)
                .align_y(iced::Center),
            ]
            .spacing(6)
            .into();
        }
        let mut state = column![].spacing(4);
        if !self.done.is_empty() {
            state = state.push(self.summary_line());
        }
        if let Some(error) = &self.error {
            state = state.push(style::error(error.as_str()));
        } else if self.kept_older
            && let Some(time) = &self.report_time
        {
            state = state.push(text(kept_words(time)).size(style::type_scale::SMALL).style(
                |t: &iced::Theme| text::Style {
                    color: Some(style::tokens(t).warning_text),
                },
            ));
        }
        state.into()
    }

    /// One line for the last Update Index: what it fetched, whether anything failed, and the way to the details.
    fn summary_line(&self) -> Element<'_, Message> {
        let failed = self.done.iter().filter(|c| c.failed()).count();
        let counts = match (&self.report, self.kept_older) {
            (Some(report), false) => format!(
                "{} packages from {} channel directories in {} ms",
                report.packages_total,
                report.channels.len(),
                report.elapsed_ms
            ),
            _ => format!("{} channel directories", self.done.len()),
        };
        let line = if failed == 0 {
            style::cell(format!("{counts} — all up to date"))
        } else {
            style::cell(format!("{counts} — {failed} failed")).style(style::error_text)
        };
        row![
            line.width(Length::Fill),
            style::small(
                if self.details { HIDE_DETAILS } else { DETAILS },
                Some(Message::ToggleDetails)
            ),
        ]
        .spacing(8)
        .align_y(iced::Center)
        .into()
    }

    /// Each channel directory's outcome.
    fn details_view(&self) -> Element<'_, Message> {
        let mut lines = column![].spacing(2);
        for r in &self.done {
            let count = if r.packages == 1 {
                "1 package".to_string()
            } else {
                format!("{} packages", r.packages)
            };
            let status = style::cell(format!(
                "{} / {} — {} ({count})",
                r.name,
                r.subdir,
                if r.empty_for_conda() {
                    EMPTY_PLATFORM.to_string()
                } else {
                    status_words(r.status)
                }
            ));
            lines = lines.push(if !r.failed() {
                status
            } else {
                status.style(style::error_text)
            });
        }
        container(scrollable(lines).width(Length::Fill))
            .padding(6)
            .width(Length::Fill)
            .height(Length::Fixed(DETAILS_HEIGHT))
            .style(style::boxed)
            .into()
    }
}

/// A client signed in, in words: who reads it and where its credential is.
pub fn consumer_words(consumer: &crate::engine::clients::Consumer) -> String {
    let place = match (consumer.store.as_str(), consumer.path.as_deref()) {
        ("token-files", _) => "token files".to_string(),
        ("keyring", _) => "the OS keyring".to_string(),
        (_, Some(path)) => path.to_string(),
        (store, None) => store.to_string(),
    };
    match consumer.name.as_str() {
        "conda" => format!("conda ({place})"),
        "rattler" => {
            let checked = if consumer.verified == Some(false) {
                ", not verified"
            } else {
                ""
            };
            format!("pixi, rattler-build ({place}{checked})")
        }
        "netrc" => format!("pip, uv ({place})"),
        other => format!("{other} ({place})"),
    }
}

/// A platform directory the server does not have: conda takes it as empty.
pub const EMPTY_PLATFORM: &str = "none for this platform";

/// A channel directory's fetch status in words.
pub fn status_words(status: FetchStatus) -> String {
    match status {
        FetchStatus::Unauthorized => "401, the server no longer accepts your token".into(),
        FetchStatus::Forbidden => "403, your account may not read this channel".into(),
        FetchStatus::NotFound => "404, not on the server (removed or renamed?)".into(),
        FetchStatus::Failed => "failed, the server could not be reached".into(),
        other => other.to_string(),
    }
}

fn packages_action(action: package_list::Action) -> Action {
    match action {
        package_list::Action::Run(task) => Action::Run(task.map(Message::Packages)),
        package_list::Action::None => Action::None,
    }
}

fn channels_panel(status: Option<&Status>) -> Element<'_, Message> {
    let mut col = column![
        style::heading("Channels"),
        style::muted("From your ~/.condarc")
    ]
    .spacing(8);
    match status {
        Some(status) => {
            col = col.push(style::label("channel_alias"));
            col = col.push(
                text(
                    status
                        .channel_alias
                        .clone()
                        .unwrap_or_else(|| "(conda's default)".into()),
                )
                .size(13),
            );
            col = col.push(style::label("default_channels"));
            col = col.push(list(
                &status.default_channels,
                "(conda's built-in defaults)",
            ));
            col = col.push(style::label("channels"));
            col = col.push(list(&status.channels, "(defaults)"));
            if !status.consumers.is_empty() {
                col = col.push(style::label("signed in for"));
                col = col.push(
                    column(
                        status
                            .consumers
                            .iter()
                            .map(|c| text(format!("• {}", consumer_words(c))).size(13).into()),
                    )
                    .spacing(2),
                );
            }
        }
        None => col = col.push(style::muted("Reading your configuration…")),
    }
    // the scrollbar lies over a margin the panel keeps: it never covers the text
    container(
        scrollable(container(col).padding(iced::Padding::ZERO.right(style::SCROLLBAR_ROOM)))
            .direction(style::overlay_scrollbar()),
    )
    .padding(16)
    .width(Length::FillPortion(1))
    .height(Length::Fill)
    .style(style::panel)
    .into()
}

fn list<'a>(items: &'a [String], empty: &'a str) -> Element<'a, Message> {
    if items.is_empty() {
        return style::muted(empty);
    }
    column(items.iter().map(|i| text(format!("• {i}")).size(13).into()))
        .spacing(2)
        .into()
}
