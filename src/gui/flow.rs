//! The sign-in flow and the state that follows it, as the window's top level runs them: the status after each change
//! (and what it implies: the health check, the expiry warning, forgetting a private server's packages), Connect →
//! Set Domain → Login → Add Channels → Update Index, sign-out and *Sign in again*. Each step that waits on another
//! is an explicit chain of tasks (a message that carries what comes next), never a flag read later.

use iced::Task;

use crate::engine::health::Connection;
use crate::engine::index_diagnosis::Failure;
use crate::engine::session::{LoginSource, LogoutOutcome, Selection, Status};
use crate::engine::tokens::Expiry;
use crate::engine::{Engine, Error};
use crate::gui::notices::Scope;
use crate::gui::screen::{add_channels, connect, home, login, set_domain, sign_out};
use crate::gui::style::Tone;
use crate::gui::{App, CONDA_DEFAULTS, Dialog, Health, IndexProblem, Message};

impl App {
    pub(crate) fn refresh_status(&self) -> Task<Message> {
        let engine = self.engine.clone();
        Task::perform(async move { engine.status() }, Message::StatusLoaded)
    }

    /// A new status: notices of the other state leave, and what the state implies follows.
    pub(crate) fn status_loaded(&mut self, result: Result<Status, Error>) -> Task<Message> {
        let status = match result {
            Ok(status) => status,
            Err(error) => {
                self.status_error = Some(error.to_string());
                return Task::none();
            }
        };
        let was_signed_in = self.signed_in();
        let first = self.status.is_none();
        self.stamp = Some(self.engine.state_stamp());
        let own_session = status.source == Some(LoginSource::CondaConnect);
        self.status = Some(status);
        self.status_error = None;
        self.notices.keep(Scope::of(self.signed_in()));
        let mut tasks = Vec::new();
        if self.signed_in() {
            tasks.extend(self.signed_in_checks(own_session));
        } else {
            self.health = Health::Unknown;
            self.sign_in_expiry = None;
            // the server's problems leave with the sign-in (a signed-out Update Index keeps its own)
            if was_signed_in {
                self.index_problem = None;
            }
            // a private server's package names are not shown once signed out
            self.home.forget_packages();
        }
        if let Some(id) = self.refocus_after_status.take()
            && self.dialog.is_none()
        {
            tasks.push(crate::gui::focus::focus_on(id));
        }
        // the first run points at Connect: it carries the focus ring before any Tab
        if first && !self.signed_in() && self.dialog.is_none() {
            tasks.push(crate::gui::focus::focus_on(crate::gui::ids::connect()));
        }
        Task::batch(tasks)
    }

    /// Signed in: check the token at once (at start, rather than after the first interval), and its expiry.
    fn signed_in_checks(&self, own_session: bool) -> Vec<Task<Message>> {
        let mut tasks = Vec::new();
        if self.health == Health::Unknown {
            let engine = self.engine.clone();
            tasks.push(Task::perform(
                async move { engine.check_connection().await },
                Message::HealthChecked,
            ));
            tasks.push(self.servers_check());
        }
        if own_session {
            let engine = self.engine.clone();
            tasks.push(Task::perform(
                async move { engine.sign_in_token_expiry().await },
                Message::SignInExpiry,
            ));
        }
        tasks
    }

    /// The status after a sign-out, then Update Index as Navigator does — unless nothing is configured any more:
    /// an air-gapped site must not see conda's public defaults fetched (and failing).
    pub(crate) fn status_after_sign_out(&mut self, result: Result<Status, Error>) -> Task<Message> {
        let loaded = self.status_loaded(result);
        let configured = self.signed_in()
            || self
                .status
                .as_ref()
                .is_some_and(|s| !s.default_channels.is_empty() || !s.channels.is_empty());
        if configured {
            let index = self.run_index();
            return Task::batch([loaded, index]);
        }
        self.home = home::State::default();
        self.index_problem = None;
        let text = match self.notices.take_last() {
            Some(notice) => format!("{} {CONDA_DEFAULTS}", notice.text),
            None => CONDA_DEFAULTS.to_string(),
        };
        self.notices.push(text, Tone::Success, Scope::SignedOut);
        loaded
    }

    pub(crate) fn check_for_changes(&self) -> Task<Message> {
        let engine = self.engine.clone();
        Task::perform(async move { engine.state_stamp() }, Message::Stamped)
    }

    /// The first look records; a difference means someone changed the files: load the status again.
    pub(crate) fn stamped(&mut self, stamp: u64) -> Task<Message> {
        match self.stamp.replace(stamp) {
            Some(before) if before != stamp => self.refresh_status(),
            _ => Task::none(),
        }
    }

    pub(crate) fn sign_in_expiry_read(&mut self, result: Result<Expiry, Error>) -> Task<Message> {
        self.sign_in_expiry = match result {
            Ok(expiry @ (Expiry::Soon(_) | Expiry::Expired)) => Some(expiry),
            Ok(_) => None,
            Err(error) => {
                tracing::warn!(error = %error, "could not read the sign-in token's expiry");
                None
            }
        };
        Task::none()
    }

    pub(crate) fn renew_sign_in_token(&self) -> Task<Message> {
        let engine = self.engine.clone();
        Task::perform(
            async move { engine.renew_sign_in_token().await },
            Message::Renewed,
        )
    }

    pub(crate) fn renewed(&mut self, result: Result<String, Error>) -> Task<Message> {
        match result {
            Ok(until) => {
                self.sign_in_expiry = None;
                self.notices.push(
                    format!("conda's sign-in token was renewed; it now expires on {until}."),
                    Tone::Success,
                    Scope::SignedIn,
                );
            }
            Err(error) => self
                .notices
                .push(error.to_string(), Tone::Danger, Scope::SignedIn),
        }
        Task::none()
    }

    pub(crate) fn health_tick(&self) -> Task<Message> {
        if !self.signed_in() {
            return Task::none();
        }
        let engine = self.engine.clone();
        Task::batch([
            Task::perform(
                async move { engine.check_connection().await },
                Message::HealthChecked,
            ),
            self.servers_check(),
        ])
    }

    /// Each secondary server's connection (its own banner when it has a problem).
    pub(crate) fn servers_check(&self) -> Task<Message> {
        if self.server_domains().len() < 2 {
            return Task::none();
        }
        let engine = self.engine.clone();
        Task::perform(
            async move { engine.check_servers().await },
            Message::ServersChecked,
        )
    }

    pub(crate) fn servers_checked(&mut self, found: Vec<(String, Connection)>) -> Task<Message> {
        self.server_health = found;
        Task::none()
    }

    pub(crate) fn health_checked(&mut self, found: Connection) -> Task<Message> {
        if self.signed_in() {
            self.health = self.health.after(found);
        }
        Task::none()
    }

    pub(crate) fn dismiss_banner(&mut self) -> Task<Message> {
        if self.health == Health::Restored {
            self.health = Health::Healthy;
        }
        Task::none()
    }

    // ------------------------------------------------------------------------------------------ Update Index

    pub(crate) fn run_index(&mut self) -> Task<Message> {
        self.index_problem = None;
        let action = self.home.update_index(&self.engine);
        self.home_action(action)
    }

    /// The main window's Update Index (F5, Ctrl+R): not while a dialog is open, nor with nothing to index.
    pub(crate) fn update_index(&mut self) -> Task<Message> {
        if self.dialog.is_some() || !home::can_index(self.status.as_ref()) {
            return Task::none();
        }
        self.run_index()
    }

    pub(crate) fn home(&mut self, message: home::Message) -> Task<Message> {
        let action = self.home.update(message, &self.engine);
        self.home_action(action)
    }

    /// What the home screen reports: work to run, or an Update Index with failed channels, whose cause the engine
    /// then finds (signed in or not: conda's public defaults unreachable get the same banner as the server).
    fn home_action(&mut self, action: home::Action) -> Task<Message> {
        match action {
            home::Action::None => Task::none(),
            home::Action::Run(task) => task.map(Message::Home),
            home::Action::Failed { channels, task } => {
                let engine = self.engine.clone();
                Task::batch([
                    task.map(Message::Home),
                    Task::perform(
                        async move { engine.diagnose_index(&channels).await },
                        Message::IndexDiagnosed,
                    ),
                ])
            }
        }
    }

    pub(crate) fn index_diagnosed(&mut self, failures: Vec<Failure>) -> Task<Message> {
        self.index_problem = IndexProblem::from_failures(&failures);
        if self.index_problem == Some(IndexProblem::TokenRejected) {
            self.health = Health::TokenRejected;
        }
        Task::none()
    }

    // ------------------------------------------------------------------------------------------ sign-in

    /// Connect → Sign In: Set Domain first when no domain is stored, else Login (the ini is read in a task).
    pub(crate) fn start_sign_in(&self) -> Task<Message> {
        let engine = self.engine.clone();
        Task::perform(
            async move { engine.preferences().ok().and_then(|p| p.domain) },
            Message::SignInDomain,
        )
    }

    pub(crate) fn connect(&mut self, message: connect::Message) -> Task<Message> {
        match connect::update(message) {
            connect::Action::SignIn => self.start_sign_in(),
            connect::Action::SignOut => self.start_sign_out(),
            connect::Action::ChannelsOf(domain) => self.server_channels(domain, true),
            connect::Action::Promote(domain) => {
                let engine = self.engine.clone();
                Task::perform(
                    async move { engine.promote(&domain).await.map(|()| domain) },
                    Message::Promoted,
                )
            }
            connect::Action::SignOutOf(domain) => {
                self.open_over_preferences(Dialog::SignOut(sign_out::State::secondary(domain)));
                Task::none()
            }
            connect::Action::AddServer => {
                self.dialog = Some(Dialog::SetDomain(set_domain::State {
                    adding: true,
                    ..set_domain::State::new(None)
                }));
                set_domain::State::focus().map(Message::SetDomain)
            }
            connect::Action::Close => self.close(),
        }
    }

    pub(crate) fn sign_in_domain(&mut self, domain: Option<String>) -> Task<Message> {
        match domain {
            Some(domain) => self.open_login(domain, false),
            None => {
                let state = set_domain::State::for_policy(
                    &self.engine.policy,
                    self.config.preset_domain.clone(),
                );
                self.dialog = Some(Dialog::SetDomain(state));
                set_domain::State::focus().map(Message::SetDomain)
            }
        }
    }

    /// The Login dialog for `domain` (`add_server`: another server beside the signed-in one).
    fn open_login(&mut self, domain: String, add_server: bool) -> Task<Message> {
        let hint = self.config.login_hint.clone();
        let (state, open) = login::State::open(domain, hint, add_server, &self.engine);
        self.dialog = Some(Dialog::Login(state));
        open.map(Message::Login)
    }

    /// The certificate changed: Set Domain for the current server, which shows it and asks again.
    pub(crate) fn review_certificate(&mut self) -> Task<Message> {
        let domain = self.status.as_ref().and_then(|s| s.domain.clone());
        self.dialog = Some(Dialog::SetDomain(set_domain::State::for_policy(
            &self.engine.policy,
            domain,
        )));
        set_domain::State::focus().map(Message::SetDomain)
    }

    pub(crate) fn set_domain(&mut self, message: set_domain::Message) -> Task<Message> {
        let Some(Dialog::SetDomain(state)) = &mut self.dialog else {
            return Task::none();
        };
        match state.update(message, &self.engine) {
            set_domain::Action::None => Task::none(),
            set_domain::Action::Run(task) => task.map(Message::SetDomain),
            set_domain::Action::Cancel => self.close(),
            set_domain::Action::Done { domain, adding } => {
                let open = self.open_login(domain, adding);
                Task::batch([open, self.refresh_status()])
            }
        }
    }

    pub(crate) fn login(&mut self, message: login::Message) -> Task<Message> {
        let Some(Dialog::Login(state)) = &mut self.dialog else {
            return Task::none();
        };
        match state.update(message, &self.engine) {
            login::Action::None => Task::none(),
            login::Action::Run(task) => task.map(Message::Login),
            login::Action::Cancel => self.close(),
            login::Action::Done {
                outcome,
                add_server: true,
            } => {
                // another server beside the primary: its own channels next (channels only)
                self.dialog = None;
                let domain = outcome.domain.clone();
                let engine = self.engine.clone();
                let status = Task::perform(async move { engine.status() }, move |status| {
                    Message::SecondarySignedIn(domain.clone(), status)
                });
                Task::batch([status, self.refresh_status()])
            }
            login::Action::Done { outcome, .. } => {
                self.health = Health::Healthy;
                // the signed-out notices leave with the signed-out state
                self.notices.clear();
                self.index_problem = None;
                let remembered = outcome.remembered.clone();
                let engine = self.engine.clone();
                let pick =
                    Task::perform(async move { show_hidden_channels(&engine) }, move |all| {
                        Message::PickChannels(remembered.clone(), all)
                    });
                Task::batch([pick, self.refresh_status()])
            }
        }
    }

    /// After sign-in: the Add Channels dialog.
    pub(crate) fn pick_channels(
        &mut self,
        remembered: Option<Selection>,
        all: bool,
    ) -> Task<Message> {
        let (state, load) = add_channels::State::new(&self.engine, all, remembered);
        self.dialog = Some(Dialog::AddChannels(state));
        load.map(Message::AddChannels)
    }

    /// A secondary server was made the primary one (or could not be): a notice, and the status again.
    pub(crate) fn promoted(&mut self, result: Result<String, Error>) -> Task<Message> {
        match result {
            Ok(domain) => self.notices.push(
                format!(
                    "{domain} is now your primary server: channel_alias points at it, and Navigator sees its sign-in."
                ),
                Tone::Success,
                Scope::SignedIn,
            ),
            Err(error) => self
                .notices
                .push(error.to_string(), Tone::Danger, Scope::SignedIn),
        }
        self.refresh_status()
    }

    /// After a secondary server's sign-in: the status (with the new server), then the picker for its channels.
    pub(crate) fn secondary_signed_in(
        &mut self,
        domain: String,
        status: Result<crate::engine::session::Status, Error>,
    ) -> Task<Message> {
        if let Ok(status) = status {
            self.status = Some(status);
        }
        self.server_channels(domain, false)
    }

    pub(crate) fn add_channels(&mut self, message: add_channels::Message) -> Task<Message> {
        let Some(Dialog::AddChannels(state)) = &mut self.dialog else {
            return Task::none();
        };
        match state.update(message, &self.engine) {
            add_channels::Action::None => Task::none(),
            add_channels::Action::Run(task) => task.map(Message::AddChannels),
            add_channels::Action::Switch(domain) => {
                self.dialog = None;
                let primary = self.server_domains().first() == Some(&domain)
                    && self.status.as_ref().is_some_and(|s| s.logged_in);
                if primary {
                    self.channels_screen(false)
                } else {
                    self.server_channels(domain, true)
                }
            }
            add_channels::Action::Done {
                saved,
                manage,
                server: Some(domain),
            } => {
                self.dialog = None;
                if let Some(selection) = &saved {
                    self.notices.push(
                        format!(
                            "Channels of {domain} saved to ~/.condarc: {}.",
                            if selection.channels.is_empty() {
                                "(none)".to_string()
                            } else {
                                selection.channels.join(", ")
                            }
                        ),
                        Tone::Success,
                        Scope::SignedIn,
                    );
                }
                if saved.is_none() && manage {
                    return self.refresh_status();
                }
                let index = self.run_index();
                Task::batch([self.refresh_status(), index])
            }
            add_channels::Action::Done {
                saved,
                manage,
                server: None,
            } => {
                self.dialog = None;
                if let Some(selection) = &saved {
                    self.notices
                        .push(saved_words(selection), Tone::Success, Scope::SignedIn);
                }
                // Cancel on the Channels screen changes nothing; skipping the picker at sign-in with no channel
                // chosen leaves nothing of the server's to index (the banner says to choose channels)
                if saved.is_none() && (manage || self.no_channel_chosen()) {
                    return self.refresh_status();
                }
                // the organization may turn the Update Index after sign-in off
                if !manage && self.engine.policy.update_index_after_sign_in == Some(false) {
                    return self.refresh_status();
                }
                // as Navigator: Update Index after the channels change, or after skipping them at sign-in
                let index = self.run_index();
                Task::batch([self.refresh_status(), index])
            }
        }
    }

    // ------------------------------------------------------------------------------------------ sign-out

    pub(crate) fn start_sign_out(&mut self) -> Task<Message> {
        let domain = self
            .status
            .as_ref()
            .and_then(|s| s.domain.clone())
            .unwrap_or_default();
        self.open_over_preferences(Dialog::SignOut(sign_out::State::new(domain)));
        Task::none()
    }

    pub(crate) fn sign_out(&mut self, message: sign_out::Message) -> Task<Message> {
        let Some(Dialog::SignOut(state)) = &mut self.dialog else {
            return Task::none();
        };
        match state.update(message, &self.engine) {
            sign_out::Action::None => Task::none(),
            sign_out::Action::Run(task) => task.map(Message::SignOut),
            sign_out::Action::Cancel => self.close(),
            sign_out::Action::Done(outcome) => {
                self.dialog = None;
                self.under = None;
                self.signed_out(outcome, false)
            }
        }
    }

    /// After a sign-out: its summary, the signed-out state and Update Index (a chain: the status first), and the
    /// sign-in when `then_sign_in`.
    fn signed_out(&mut self, outcome: LogoutOutcome, then_sign_in: bool) -> Task<Message> {
        self.notices
            .push(sign_out::summary(&outcome), Tone::Success, Scope::SignedOut);
        self.health = Health::Unknown;
        self.server_health.clear();
        self.sign_in_expiry = None;
        self.index_problem = None;
        let engine = self.engine.clone();
        let status = Task::perform(async move { engine.status() }, Message::StatusAfterSignOut);
        if then_sign_in {
            return Task::batch([status, self.start_sign_in()]);
        }
        status
    }

    /// The token was refused: sign out at once (nothing to revoke), then open the sign-in.
    pub(crate) fn sign_in_again(&mut self) -> Task<Message> {
        if self.dialog.is_some() || self.signing_in_again {
            return Task::none();
        }
        self.signing_in_again = true;
        let engine = self.engine.clone();
        Task::perform(
            async move { engine.logout_refused_token().await },
            Message::SignedOutToSignIn,
        )
    }

    pub(crate) fn signed_out_to_sign_in(
        &mut self,
        result: Result<LogoutOutcome, Error>,
    ) -> Task<Message> {
        self.signing_in_again = false;
        match result {
            Ok(outcome) => self.signed_out(outcome, true),
            Err(error) => {
                self.notices
                    .push(error.to_string(), Tone::Danger, Scope::SignedIn);
                Task::none()
            }
        }
    }
}

/// Whether the picker lists hidden channels too (a preference; false when it cannot be read).
pub(crate) fn show_hidden_channels(engine: &Engine) -> bool {
    engine
        .preferences()
        .map(|p| p.show_hidden_channels)
        .unwrap_or(false)
}

/// "Channels saved to ~/.condarc — default_channels: main; channels: defaults, internal."
fn saved_words(selection: &Selection) -> String {
    let list = |v: &[String]| {
        if v.is_empty() {
            "(none)".to_string()
        } else {
            v.join(", ")
        }
    };
    let mut channels = vec!["defaults".to_string()];
    channels.extend(selection.channels.iter().cloned());
    format!(
        "Channels saved to ~/.condarc — default_channels: {}; channels: {}.",
        list(&selection.default_channels),
        list(&channels)
    )
}
