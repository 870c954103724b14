//! Diagnose: `conda-connect doctor` in the window — the same read-only checks as a list, one icon per check (ok,
//! warning, failure, not checked), the fix under each problem, the first problem named at the top; *Copy report*
//! copies the text report (it holds no secret: tokens appear as their first four characters) for a support ticket.

use iced::widget::{column, container, row, scrollable, text};
use iced::{Element, Length, Task};

use crate::engine::Engine;
use crate::engine::doctor::{Check, Options, Report, Status};
use crate::gui::style::{self, Icon, Tone};

pub const TITLE: &str = "Diagnose";
pub const INTRO: &str = "Read-only checks of everything conda needs to reach your server's channels. Nothing is changed.";
pub const COPY: &str = "Copy report";
pub const COPIED: &str =
    "Copied — paste it into your support ticket. It holds no password and no whole token.";
pub const RUNNING: &str = "Checking…";
pub const NO_PROBLEM: &str = "No problem found.";

#[derive(Debug, Clone)]
pub enum Message {
    Finished(Report),
    Again,
    Copy,
    Close,
}

pub enum Action {
    None,
    Run(Task<Message>),
    Close,
}

#[derive(Debug, Clone, Default)]
pub struct State {
    pub report: Option<Report>,
    pub running: bool,
    pub copied: bool,
}

impl State {
    /// The dialog, with its first run started.
    pub fn open(engine: &Engine) -> (State, Task<Message>) {
        let mut state = State::default();
        let task = state.run(engine);
        (state, task)
    }

    fn run(&mut self, engine: &Engine) -> Task<Message> {
        self.running = true;
        self.copied = false;
        let engine = engine.clone();
        Task::perform(
            async move { engine.doctor(&Options::default()).await },
            Message::Finished,
        )
    }

    /// Closing while the checks run is fine: they change nothing, and their answer is dropped.
    pub fn is_busy(&self) -> bool {
        false
    }

    pub fn escape(&self) -> Option<Message> {
        Some(Message::Close)
    }

    /// Enter: Copy report once there is one.
    pub fn enter(&self) -> Option<Message> {
        self.report.is_some().then_some(Message::Copy)
    }

    pub fn update(&mut self, message: Message, engine: &Engine) -> Action {
        match message {
            Message::Finished(report) => {
                self.running = false;
                self.report = Some(report);
                Action::None
            }
            Message::Again if !self.running => Action::Run(self.run(engine)),
            Message::Again => Action::None,
            Message::Copy => match &self.report {
                Some(report) => {
                    self.copied = true;
                    Action::Run(iced::clipboard::write(report.text()))
                }
                None => Action::None,
            },
            Message::Close => Action::Close,
        }
    }

    /// The line at the top: checking, no problem, or the first problem.
    pub fn summary(&self) -> (Tone, String) {
        match (&self.report, self.running) {
            (_, true) => (Tone::Info, RUNNING.into()),
            (Some(report), false) => match report.first_failure() {
                Some(first) => {
                    let failures = report
                        .checks
                        .iter()
                        .filter(|c| c.status == Status::Fail)
                        .count();
                    let count = if failures == 1 {
                        "1 problem".to_string()
                    } else {
                        format!("{failures} problems")
                    };
                    (Tone::Danger, format!("{count}. First: {}", first.message))
                }
                None => (Tone::Success, NO_PROBLEM.into()),
            },
            (None, false) => (Tone::Info, RUNNING.into()),
        }
    }

    pub fn view(&self) -> Element<'_, Message> {
        let (tone, summary) = self.summary();
        let mut list = column![].spacing(style::space_scale::S);
        if let Some(report) = &self.report {
            let mut group = None;
            for check in &report.checks {
                if group != Some(check.group) {
                    group = Some(check.group);
                    list = list.push(style::heading(check.group.title()));
                }
                list = list.push(check_row(check));
            }
        }
        let body = column![
            style::title(TITLE),
            style::muted(INTRO),
            style::banner::<Message>(tone, summary, vec![]),
            container(scrollable(list).width(Length::Fill))
                .height(Length::Fixed(300.0))
                .width(Length::Fill),
            style::message_slot(None, self.copied.then_some(COPIED)),
            style::button_row([
                style::secondary("Run again", (!self.running).then_some(Message::Again)),
                style::secondary("Close", Some(Message::Close)),
                style::primary_icon(
                    Icon::Copy,
                    COPY,
                    self.report.as_ref().map(|_| Message::Copy)
                ),
            ]),
        ]
        .spacing(style::space_scale::M);
        style::card(body, 760.0)
    }
}

/// One check: its icon, its sentence, and under a problem what to do.
fn check_row(check: &Check) -> Element<'_, Message> {
    let tone = match check.status {
        Status::Ok => Tone::Success,
        Status::Warn => Tone::Warning,
        Status::Fail => Tone::Danger,
        Status::Skipped => Tone::Info,
    };
    let mut words = column![text(check.message.as_str()).size(style::type_scale::BODY)].spacing(2);
    if let Some(fix) = &check.fix {
        words = words.push(style::muted(format!("→ {fix}")));
    }
    row![style::tone_icon_text(tone), words.width(Length::Fill)]
        .spacing(style::space_scale::S)
        .into()
}
