//! The main window's notices: messages that belong to a state (signed in or signed out) and leave with it, or when
//! closed. They stack in a fixed corner over the window, so nothing moves when one comes or goes; a success leaves
//! by itself after [`NOTICE_LIFETIME`], a problem stays until it is closed.

use std::time::{Duration, Instant};

use iced::widget::container;
use iced::{Element, Length};

use crate::gui::style::{self, Tone};

/// When a notice leaves on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Only while signed in (gone after sign-out).
    SignedIn,
    /// Only while signed out (gone after the next sign-in).
    SignedOut,
}

impl Scope {
    pub fn of(signed_in: bool) -> Scope {
        if signed_in {
            Scope::SignedIn
        } else {
            Scope::SignedOut
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub text: String,
    pub tone: Tone,
    pub scope: Scope,
    pub shown_at: Instant,
}

impl Notice {
    /// It leaves by itself (a success or a piece of information, not a problem).
    pub fn expires(&self) -> bool {
        matches!(self.tone, Tone::Success | Tone::Info)
    }
}

/// How long a success notice stays.
pub const NOTICE_LIFETIME: Duration = Duration::from_secs(8);
/// The width of the notices' corner.
const NOTICE_WIDTH: f32 = 460.0;
/// At most this many notices at once (the oldest leaves first).
const MAX_NOTICES: usize = 3;

/// The notices shown now, oldest first.
#[derive(Debug, Clone, Default)]
pub struct Notices(Vec<Notice>);

impl Notices {
    /// Show `text` (once: the same text shown again moves to the end).
    pub fn push(&mut self, text: impl Into<String>, tone: Tone, scope: Scope) {
        let text = text.into();
        self.0.retain(|n| n.text != text);
        self.0.push(Notice {
            text,
            tone,
            scope,
            shown_at: Instant::now(),
        });
        if self.0.len() > MAX_NOTICES {
            self.0.remove(0);
        }
    }

    /// The state changed: only the notices of `scope` stay.
    pub fn keep(&mut self, scope: Scope) {
        self.0.retain(|n| n.scope == scope);
    }

    pub fn clear(&mut self) {
        self.0.clear();
    }

    /// Remove and return the newest notice.
    pub fn take_last(&mut self) -> Option<Notice> {
        self.0.pop()
    }

    pub fn last(&self) -> Option<&Notice> {
        self.0.last()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Notice> {
        self.0.iter()
    }

    /// Close the notice at `index` (a stale index does nothing).
    pub fn dismiss(&mut self, index: usize) {
        if index < self.0.len() {
            self.0.remove(index);
        }
    }

    /// Successes older than [`NOTICE_LIFETIME`] leave.
    pub fn expire(&mut self) {
        self.0
            .retain(|n| !n.expires() || n.shown_at.elapsed() < NOTICE_LIFETIME);
    }

    /// Some notice will leave by itself (the window then ticks once a second).
    pub fn any_expiring(&self) -> bool {
        self.0.iter().any(Notice::expires)
    }

    /// The notices, stacked in the bottom right corner over the window (newest last).
    pub fn view<'a, M: Clone + 'a>(&'a self, close: impl Fn(usize) -> M) -> Element<'a, M> {
        let toasts = self.0.iter().enumerate().map(|(index, notice)| {
            style::toast(
                notice.tone,
                notice.text.as_str(),
                style::secondary("Close", Some(close(index))),
            )
        });
        container(
            iced::widget::column(toasts)
                .spacing(style::space_scale::S)
                .width(Length::Fixed(NOTICE_WIDTH)),
        )
        .padding(style::space_scale::L)
        .width(Length::Fill)
        .height(Length::Fill)
        .align_right(Length::Fill)
        .align_bottom(Length::Fill)
        .into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pretend the notice at `index` was shown `ago`.
    fn shown(notices: &mut Notices, index: usize, ago: Duration) {
        notices.0[index].shown_at = Instant::now() - ago;
    }

    #[test]
    fn successes_leave_by_themselves_problems_stay() {
        let mut notices = Notices::default();
        notices.push("Saved.", Tone::Success, Scope::SignedIn);
        notices.push("Could not reach the server.", Tone::Danger, Scope::SignedIn);
        notices.push("Signed in.", Tone::Info, Scope::SignedIn);
        assert!(notices.any_expiring());
        // younger than the lifetime: everything stays
        notices.expire();
        assert_eq!(notices.iter().count(), 3);
        shown(&mut notices, 0, NOTICE_LIFETIME + Duration::from_millis(10));
        shown(&mut notices, 1, NOTICE_LIFETIME * 10);
        notices.expire();
        let left: Vec<&str> = notices.iter().map(|n| n.text.as_str()).collect();
        assert_eq!(left, ["Could not reach the server.", "Signed in."]);
        shown(&mut notices, 1, NOTICE_LIFETIME * 2);
        notices.expire();
        assert_eq!(notices.iter().count(), 1, "the error stays until closed");
        assert!(!notices.any_expiring(), "nothing left to tick for");
        notices.dismiss(5);
        assert_eq!(notices.iter().count(), 1, "a stale index closes nothing");
        notices.dismiss(0);
        assert!(notices.is_empty());
    }

    #[test]
    fn at_most_three_the_same_text_once_newest_last() {
        let mut notices = Notices::default();
        for text in ["a", "b", "c", "a", "d"] {
            notices.push(text, Tone::Danger, Scope::SignedOut);
        }
        let shown: Vec<&str> = notices.iter().map(|n| n.text.as_str()).collect();
        assert_eq!(shown, ["c", "a", "d"]);
        notices.push("e", Tone::Success, Scope::SignedIn);
        notices.keep(Scope::SignedIn);
        assert_eq!(notices.last().map(|n| n.text.as_str()), Some("e"));
        assert_eq!(notices.iter().count(), 1);
    }
}
