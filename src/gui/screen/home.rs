//! The main window body: the channels configured in `.condarc` (channel_alias, default_channels, channels) and
//! the package index — Update Index with a progress bar and per-channel status, then package counts and the
//! searchable package list ([`package_list`]).

use iced::widget::{column, container, progress_bar, row, scrollable, space, text};
use iced::{Element, Length, Task};

use super::package_list;
pub use super::package_list::SEARCH_ID;
use crate::engine::index::{ChannelReport, IndexReport, Progress};
use crate::engine::session::Status;
use crate::engine::{Engine, Error};
use crate::gui::style;

#[derive(Debug, Clone)]
pub enum Message {
    UpdateIndex,
    Progress(Progress),
    Finished(Result<IndexReport, Error>),
    Packages(package_list::Message),
}

pub enum Action {
    None,
    Run(Task<Message>),
}

#[derive(Debug, Clone, Default)]
pub struct State {
    pub running: bool,
    pub total: usize,
    pub done: Vec<ChannelReport>,
    pub report: Option<IndexReport>,
    pub error: Option<String>,
    pub packages: package_list::State,
}

impl State {
    /// Start Update Index (the engine's concurrent fetch), streaming progress into messages.
    pub fn update_index(&mut self, engine: &Engine) -> Action {
        if self.running {
            return Action::None;
        }
        self.running = true;
        self.total = 0;
        self.done.clear();
        self.error = None;
        let engine = engine.clone();
        // progress through iced's sipper: the engine's callback feeds an unbounded channel (never drops a
        // report), drained into the sipper while the fetch runs
        let sipper = iced::task::sipper(move |mut sender| async move {
            use iced::futures::StreamExt;
            let (tx, mut rx) = iced::futures::channel::mpsc::unbounded();
            let run = async move {
                engine
                    .update_index(move |p| {
                        let _ = tx.unbounded_send(p);
                    })
                    .await
            };
            let forward = async move {
                while let Some(progress) = rx.next().await {
                    sender.send(progress).await;
                }
            };
            iced::futures::future::join(run, forward).await.0
        });
        Action::Run(Task::sip(sipper, Message::Progress, Message::Finished))
    }

    pub fn update(&mut self, message: Message, engine: &Engine) -> Action {
        match message {
            Message::UpdateIndex => return self.update_index(engine),
            Message::Progress(Progress::Started { total }) => self.total = total,
            Message::Progress(Progress::Done { report }) => {
                if self.running {
                    self.done.push(report)
                }
            }
            Message::Finished(Ok(report)) => {
                self.running = false;
                self.done = report.channels.clone();
                let action = self.packages.set_index(report.packages.clone());
                self.report = Some(report);
                return packages_action(action);
            }
            Message::Finished(Err(error)) => {
                self.running = false;
                self.error = Some(error.to_string());
            }
            Message::Packages(message) => return packages_action(self.packages.update(message)),
        }
        Action::None
    }

    pub fn view<'a>(&'a self, status: Option<&'a Status>) -> Element<'a, Message> {
        row![channels_panel(status), self.packages_panel()]
            .spacing(16)
            .height(Length::Fill)
            .into()
    }

    fn packages_panel(&self) -> Element<'_, Message> {
        let button = style::primary_icon(
            style::Icon::Refresh,
            "Update Index",
            (!self.running).then_some(Message::UpdateIndex),
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
        if self.running {
            let total = self.total.max(1) as f32;
            col = col.push(progress_bar(0.0..=total, self.done.len() as f32).girth(8));
            col = col.push(style::muted(format!(
                "Updating package index… {} of {} channel directories",
                self.done.len(),
                self.total
            )));
        }
        if let Some(error) = &self.error {
            col = col.push(style::error(error.as_str()));
        }
        if !self.done.is_empty() {
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
                        status_words(&r.status)
                    }
                ));
                lines = lines.push(if !r.failed() {
                    status
                } else {
                    status.style(style::error_text)
                });
            }
            col = col.push(
                container(scrollable(lines).width(Length::Fill))
                    .padding(6)
                    .width(Length::Fill)
                    .max_height(150.0)
                    .style(style::boxed),
            );
        }
        match &self.report {
            Some(report) if !self.running => {
                col = col.push(style::muted(format!(
                    "{} packages from {} channel directories in {} ms",
                    report.packages_total,
                    report.channels.len(),
                    report.elapsed_ms
                )));
                col = col.push(self.packages.view().map(Message::Packages));
            }
            None if !self.running => {
                col = col.push(style::muted(
                    "Run Update Index to fetch the package lists of your channels.",
                ));
            }
            _ => {}
        }
        container(col)
            .padding(16)
            .width(Length::FillPortion(3))
            .height(Length::Fill)
            .style(style::panel)
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
pub fn status_words(status: &str) -> String {
    match status {
        "401" => "401, the server no longer accepts your token".into(),
        "403" => "403, your account may not read this channel".into(),
        "404" => "404, not on the server (removed or renamed?)".into(),
        "failed" => "failed, the server could not be reached".into(),
        other => other.into(),
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
    container(scrollable(col))
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
