//! The window that opens instead of the app when it must not start: the organization's policy cannot be read or
//! is not valid, and nothing may proceed without the policy that is meant to apply. Someone who starts the app from
//! a menu never sees stderr, so the one sentence (which names the file or registry key and what is wrong with it)
//! is shown here, with Copy for the help desk and Close (Enter or Esc).

use iced::widget::{column, container, row};
use iced::{Element, Length, Task, keyboard};

use crate::gui::{focus, style};

/// The window's heading.
pub const TITLE: &str = "conda-connect cannot start";
/// What the person can do about it.
pub const ADVICE: &str = "Your organization manages conda-connect on this computer: send the message above to your IT help desk.";
/// The window's size: the sentence (three lines) and its advice; a longer one can be read by resizing.
pub const SIZE: iced::Size = iced::Size::new(620.0, 240.0);

#[derive(Debug, Clone)]
pub struct State {
    sentence: String,
    copied: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Copy,
    Close,
}

impl State {
    pub fn new(sentence: impl Into<String>) -> (State, Task<Message>) {
        let state = State {
            sentence: sentence.into(),
            copied: false,
        };
        (state, focus::default_action())
    }

    pub fn title(&self) -> String {
        TITLE.to_string()
    }

    pub fn copied(&self) -> bool {
        self.copied
    }

    pub fn update(&mut self, message: Message) -> Task<Message> {
        match message {
            Message::Copy => {
                self.copied = true;
                iced::clipboard::write(self.sentence.clone())
            }
            Message::Close => iced::exit(),
        }
    }

    /// Enter closes (Close is the default button), as Esc does.
    pub fn key(key: &keyboard::Key, _modifiers: keyboard::Modifiers) -> Option<Message> {
        match key {
            keyboard::Key::Named(keyboard::key::Named::Enter) => Some(Message::Close),
            _ => None,
        }
    }

    pub fn view(&self) -> Element<'_, Message> {
        let body = column![
            style::title(TITLE),
            style::error(self.sentence.as_str()),
            style::muted(ADVICE),
            container(style::button_row([
                style::copy_button(self.copied, Some(Message::Copy), false),
                style::primary("Close", Some(Message::Close)),
            ]))
            .width(Length::Fill)
            .align_right(Length::Fill),
        ]
        .spacing(style::space_scale::M);
        let page = container(row![body].padding(style::space_scale::L))
            .width(Length::Fill)
            .height(Length::Fill)
            .style(style::page);
        focus::scope(page, Some(Message::Close), State::key)
    }
}

/// Open the window (blocks until it is closed).
pub fn run(sentence: &str) -> Result<(), crate::engine::Error> {
    let sentence = sentence.to_string();
    crate::gui::window::open(|| {
        iced::application(
            move || State::new(sentence.clone()),
            State::update,
            State::view,
        )
        .title(State::title)
        .font(crate::gui::FONT_REGULAR)
        .font(crate::gui::FONT_BOLD)
        .font(crate::gui::FONT_ICONS)
        .default_font(crate::gui::DEFAULT_FONT)
        .window(iced::window::Settings {
            size: SIZE,
            min_size: Some(SIZE),
            ..crate::gui::window::window_settings()
        })
        .run()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enter_closes_other_keys_do_nothing() {
        let enter = keyboard::Key::Named(keyboard::key::Named::Enter);
        assert_eq!(
            State::key(&enter, keyboard::Modifiers::empty()),
            Some(Message::Close)
        );
        let a = keyboard::Key::Character("a".into());
        assert_eq!(State::key(&a, keyboard::Modifiers::empty()), None);
    }
}
