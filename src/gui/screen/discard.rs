//! Esc never throws typed input away without a word: the first Esc over unsaved input arms the guard and the dialog
//! says so on its button row (a place of its own, never hidden behind an error); a second Esc discards. Any edit
//! disarms it. A click on Cancel is explicit and closes at once.

pub const HINT: &str = "Unsaved changes: press Esc again to discard them.";

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Guard {
    armed: bool,
}

impl Guard {
    /// Esc over input that is `dirty`: whether the dialog may close now (else the guard is armed).
    pub fn escape(&mut self, dirty: bool) -> bool {
        if dirty && !self.armed {
            self.armed = true;
            false
        } else {
            true
        }
    }

    /// An edit (or any other action): a later Esc asks again.
    pub fn disarm(&mut self) {
        self.armed = false;
    }

    /// The sentence for the button row while armed.
    pub fn note(&self) -> Option<&'static str> {
        self.armed.then_some(HINT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_escape_over_dirty_input_asks_the_second_closes() {
        let mut guard = Guard::default();
        assert!(guard.escape(false), "nothing typed: close at once");
        assert!(!guard.escape(true));
        assert_eq!(guard.note(), Some(HINT));
        assert!(guard.escape(true));
        guard.disarm();
        assert!(!guard.escape(true), "an edit in between: ask again");
    }
}
