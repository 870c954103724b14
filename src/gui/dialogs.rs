//! Opening the dialogs that are not part of the sign-in flow, and routing their messages: Tokens, Channels,
//! Diagnose, Connect, Preferences. Each remembers the control that opened it, so the focus goes back there when it
//! closes.

use iced::Task;

use crate::engine::Error;
use crate::engine::session::{Preferences, Selection};
use crate::gui::notices::Scope;
use crate::gui::screen::{add_channels, diagnose, preferences, tokens};
use crate::gui::style::Tone;
use crate::gui::{App, Dialog, MIN_SIZE, Message, ids};

impl App {
    /// Close the open dialog (its own Cancel or Done): the dialog that opened it, if any, comes back as it was.
    pub(crate) fn close(&mut self) -> Task<Message> {
        self.dialog = self.under.take();
        Task::none()
    }

    /// A click outside or the window's close request: never interrupts work in flight.
    pub(crate) fn close_dialog(&mut self) -> Task<Message> {
        if !self.dialog.as_ref().is_some_and(Dialog::is_busy) {
            return self.close();
        }
        Task::none()
    }

    /// Open `dialog` over Preferences, which waits under it with its unsaved edits (see [`App::close`]).
    pub(crate) fn open_over_preferences(&mut self, dialog: Dialog) {
        if matches!(self.dialog, Some(Dialog::Preferences(_))) {
            self.under = self.dialog.take();
        }
        self.dialog = Some(dialog);
    }

    pub(crate) fn open_tokens(&mut self) -> Task<Message> {
        if !self.own_session() || self.dialog.is_some() {
            return Task::none();
        }
        self.return_focus = Some(ids::tokens());
        let domain = self
            .status
            .as_ref()
            .and_then(|s| s.domain.clone())
            .unwrap_or_default();
        let (state, load) = tokens::State::new(&self.engine, domain);
        self.dialog = Some(Dialog::Tokens(state));
        load.map(Message::Tokens)
    }

    pub(crate) fn tokens(&mut self, message: tokens::Message) -> Task<Message> {
        let Some(Dialog::Tokens(state)) = &mut self.dialog else {
            return Task::none();
        };
        match state.update(message, &self.engine) {
            tokens::Action::None => Task::none(),
            tokens::Action::Run(task) => task.map(Message::Tokens),
            tokens::Action::Close => {
                self.dialog = None;
                self.refresh_status()
            }
            tokens::Action::SignOut => self.start_sign_out(),
        }
    }

    /// The Channels screen: "show hidden channels" is read in a task, then the picker opens and loads.
    pub(crate) fn open_channels(&mut self) -> Task<Message> {
        if !self.own_session() || self.dialog.is_some() {
            return Task::none();
        }
        self.return_focus = Some(ids::channels());
        let engine = self.engine.clone();
        Task::perform(
            async move { crate::gui::flow::show_hidden_channels(&engine) },
            Message::ChannelsScreen,
        )
    }

    pub(crate) fn channels_screen(&mut self, all: bool) -> Task<Message> {
        if self.dialog.is_some() {
            return Task::none();
        }
        let current = self
            .status
            .as_ref()
            .map(|s| Selection {
                default_channels: s.default_channels.clone(),
                channels: s.channels.clone(),
            })
            .unwrap_or_default();
        let mode = add_channels::Mode::Manage { current };
        let (mut state, load) = add_channels::State::with_mode(&self.engine, all, None, mode);
        state.servers = self.server_domains();
        self.dialog = Some(Dialog::AddChannels(state));
        load.map(Message::AddChannels)
    }

    /// Every signed-in server's domain, the primary first.
    pub(crate) fn server_domains(&self) -> Vec<String> {
        self.status
            .as_ref()
            .map(|s| {
                s.servers
                    .iter()
                    .map(|server| server.domain.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A secondary server's channels: after its sign-in (`manage` false), or the Channels screen for it.
    pub(crate) fn server_channels(&mut self, domain: String, manage: bool) -> Task<Message> {
        let current = self
            .status
            .as_ref()
            .and_then(|s| s.servers.iter().find(|server| server.domain == domain))
            .map(|server| Selection {
                default_channels: Vec::new(),
                channels: server.channels.clone(),
            })
            .unwrap_or_default();
        let mode = if manage {
            add_channels::Mode::Manage { current }
        } else {
            add_channels::Mode::SignIn
        };
        let (mut state, load) = add_channels::State::for_server(&self.engine, domain, mode);
        state.servers = self.server_domains();
        self.dialog = Some(Dialog::AddChannels(state));
        load.map(Message::AddChannels)
    }

    /// Diagnose: from Preferences it replaces that dialog; elsewhere only when none is open, and the focus goes back
    /// to the banner button that opened it (`opener`; none for Ctrl+D).
    pub(crate) fn open_diagnose(
        &mut self,
        opener: Option<iced::advanced::widget::Id>,
    ) -> Task<Message> {
        match &self.dialog {
            Some(Dialog::Preferences(_)) => {}
            Some(_) => return Task::none(),
            None => self.return_focus = opener,
        }
        let (state, run) = diagnose::State::open(&self.engine);
        self.open_over_preferences(Dialog::Diagnose(state));
        run.map(Message::Diagnose)
    }

    pub(crate) fn diagnose(&mut self, message: diagnose::Message) -> Task<Message> {
        let Some(Dialog::Diagnose(state)) = &mut self.dialog else {
            return Task::none();
        };
        match state.update(message, &self.engine) {
            diagnose::Action::None => Task::none(),
            diagnose::Action::Run(task) => task.map(Message::Diagnose),
            diagnose::Action::Close => self.close(),
        }
    }

    pub(crate) fn open_connect(&mut self) -> Task<Message> {
        if self.dialog.is_none() {
            self.return_focus = Some(ids::connect());
            self.dialog = Some(Dialog::Connect);
        }
        Task::none()
    }

    pub(crate) fn open_preferences(&mut self) -> Task<Message> {
        if self.dialog.is_some() {
            return Task::none();
        }
        self.return_focus = Some(ids::preferences());
        let engine = self.engine.clone();
        Task::perform(
            async move { engine.preferences() },
            Message::PreferencesLoaded,
        )
    }

    pub(crate) fn preferences_loaded(
        &mut self,
        result: Result<Preferences, Error>,
    ) -> Task<Message> {
        match result {
            Ok(prefs) => {
                let state = preferences::State::with_sign_in(
                    &prefs,
                    self.settings.theme,
                    self.own_session(),
                )
                .with_policy(&self.engine.policy);
                self.dialog = Some(Dialog::Preferences(state));
            }
            Err(error) => {
                let scope = Scope::of(self.signed_in());
                self.notices.push(error.to_string(), Tone::Danger, scope);
            }
        }
        Task::none()
    }

    pub(crate) fn preferences(&mut self, message: preferences::Message) -> Task<Message> {
        let Some(Dialog::Preferences(state)) = &mut self.dialog else {
            return Task::none();
        };
        match state.update(message, &self.engine) {
            preferences::Action::None => Task::none(),
            preferences::Action::Run(task) => task.map(Message::Preferences),
            preferences::Action::Cancel => self.close(),
            preferences::Action::SignOut => self.start_sign_out(),
            preferences::Action::Diagnose => self.open_diagnose(None),
            preferences::Action::Saved(_, theme) => {
                self.dialog = None;
                Task::batch([self.refresh_status(), self.save_theme(theme)])
            }
        }
    }

    /// A new theme: shown at once and saved under the configuration lock, like every write in the data folder (the
    /// lock's wait sleeps on the runtime's timer).
    fn save_theme(&mut self, theme: crate::gui::settings::ThemeChoice) -> Task<Message> {
        if theme == self.settings.theme {
            return Task::none();
        }
        self.settings.theme = theme;
        let (engine, settings) = (self.engine.clone(), self.settings.clone());
        Task::perform(
            async move { engine.locked(|| settings.save(&engine.paths)).await },
            Message::SettingsSaved,
        )
    }

    pub(crate) fn settings_saved(&mut self, result: Result<(), Error>) -> Task<Message> {
        if let Err(error) = result {
            let scope = Scope::of(self.signed_in());
            self.notices.push(error.to_string(), Tone::Danger, scope);
        }
        Task::none()
    }

    /// The window was resized: below the minimum it is made the minimum again (the view scrolls meanwhile).
    pub(crate) fn resized(&mut self, id: iced::window::Id, size: iced::Size) -> Task<Message> {
        self.window_size = size;
        if size.width < MIN_SIZE.width || size.height < MIN_SIZE.height {
            iced::window::resize(id, size.max(MIN_SIZE))
        } else {
            Task::none()
        }
    }
}
