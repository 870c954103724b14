//! Login: Username, Password (masked), Sign In enabled only when both are filled; inline errors in Navigator's
//! words; a busy line while the request runs; Enter submits, Esc cancels.
//!
//! Single sign-on: when the dialog opens, the server is asked whether it has an identity provider; if it has,
//! **Sign in with SSO** sits beside the password form. Pressing it runs the engine's SSO sign-in as an abortable
//! task: the dialog waits for the browser, shows the address to open (with Copy) and Cancel, and a success ends
//! exactly like the password sign-in. An administrator can hide the password form wherever the server offers
//! single sign-on (`password_sign_in = False` in conda-connect's own ini section): the dialog then shows only
//! **Sign in with SSO** (the password form comes back for a server without it, the only way to sign in there).

use iced::widget::{column, space, text};
use iced::{Element, Task};

use crate::engine::session::{LoginOutcome, SignIn, SsoAuthenticated, SsoMethod, Trust};
use crate::engine::sso::{self, SsoOptions};
use crate::engine::{Engine, Error};
use crate::gui::screen::trust;
use crate::gui::style;

pub const TITLE: &str = "Sign in to access your repository";
pub const SIDE_TEXT: &str = "Sign in to configure conda to install packages from your Anaconda Server (previously Team Edition) instance.";
pub const USERNAME_ID: &str = "login-username";
pub const PASSWORD_ID: &str = "login-password";
pub const TOKEN_ID: &str = "login-token";
pub const USE_TOKEN: &str = "Use a token instead";
/// Room for the username, password and "Use a token instead" (the taller of the two forms).
const CREDENTIALS_HEIGHT: f32 = 172.0;
pub const USE_PASSWORD: &str = "Use a password instead";
pub const TOKEN_TEXT: &str = "Paste the token you were given (by an administrator, for a team or a CI job). It stays valid after you sign out: only its owner can revoke it.";
pub const SSO_BUTTON: &str = "Sign in with SSO";
pub const SSO_WAITING: &str = "Waiting for your browser…";
pub const SSO_OR: &str = "Or sign in through your organization's identity provider:";
pub const COPY_URL: &str = "Copy address";
pub const SSO_OPEN_TEXT: &str = "Open this address in your browser to sign in:";
pub const COPIED: &str = "Copied";
/// The address box keeps this height whatever the address's length, so Copy and Cancel never move.
const ADDRESS_HEIGHT: f32 = 96.0;
pub const SSO_CHECKING: &str = "Checking for single sign-on…";
pub const SSO_ONLY_TEXT: &str = "Your organization signs in through its identity provider.";
pub const NO_SSO_HERE: &str =
    "Your organization signs in with single sign-on, which this server does not offer.";
pub const CONFIRM_TITLE: &str = "Is this you?";
pub const CONFIRM_CONTINUE: &str = "Continue";
pub const NOT_CONFIRMED: &str = "The sign-in was not confirmed, so nothing was changed.";
/// The sentence that names the account the identity provider signed in.
pub fn confirm_text(account: &str) -> String {
    format!(
        "The identity provider signed in {account}. Continue only if this is your account: an address opened by \
         someone else signs in their account, not yours."
    )
}
/// Set (to anything) to never open the system browser: the dialog only shows the address (tests, remote desktops).
pub const NO_BROWSER_ENV: &str = "CONDA_CONNECT_NO_BROWSER";

/// Single sign-on in this dialog.
#[derive(Debug, Clone, Default)]
pub enum Sso {
    /// Asking the server whether it has an identity provider.
    #[default]
    Checking,
    /// The server has none: the password form only.
    Absent,
    /// The server has one: the SSO button is offered.
    Offered,
    /// Waiting for the browser; the handle aborts the sign-in (also when the dialog goes away).
    Waiting {
        /// "Open this URL to sign in: <url>", once the engine has it.
        prompt: Option<String>,
        handle: iced::task::Handle,
        /// Copy address was pressed (the dialog says "Copied").
        copied: bool,
    },
    /// The identity provider signed someone in: is it the right account? Nothing exists on the server yet.
    Confirm(Box<SsoAuthenticated>),
    /// Confirmed: the sign-in transaction runs.
    Completing,
}

#[derive(Debug, Clone)]
pub enum Message {
    Username(String),
    Password(String),
    /// Sign in with a token the user was given instead of a password (or back).
    UseToken(bool),
    Token(String),
    Submit,
    Trust(trust::Message),
    Cancel,
    /// Esc over the form: close, or with typed credentials ask first (a second Esc discards them).
    Escape,
    Finished(Result<LoginOutcome, Error>),
    /// Discovery answered: whether the server has single sign-on.
    SsoDiscovered(bool),
    /// The administrator's `password_sign_in` key, read from the ini off the UI thread.
    PasswordSignIn(bool),
    SsoStart,
    /// The sentence with the address to open in the browser.
    SsoPrompt(String),
    SsoCopy,
    SsoCancel,
    /// The identity provider's part is done: the account to confirm.
    SsoAuthenticated(Result<SsoAuthenticated, Error>),
    /// The person confirmed the account.
    SsoContinue,
    /// The person did not: the identity provider's session is ended.
    SsoDecline,
    /// The declined (or cancelled) sign-in's identity-provider session was ended, or this sentence says it was not.
    SsoDeclined(Option<String>),
    SsoFinished(Result<LoginOutcome, Error>),
}

pub enum Action {
    None,
    Run(Task<Message>),
    /// Signed in (`add_server`: to another server beside the primary).
    Done {
        outcome: LoginOutcome,
        add_server: bool,
    },
    Cancel,
}

#[derive(Debug, Clone)]
pub struct State {
    pub domain: String,
    pub username: String,
    pub password: String,
    /// Signing in with a token the user was given (the token field instead of username and password).
    pub use_token: bool,
    pub token: String,
    pub error: Option<String>,
    pub busy: bool,
    /// The server's certificate failed: the question before trusting it.
    pub trust: trust::Question,
    /// Shown in demo mode: the emulator's credentials.
    pub hint: Option<String>,
    pub sso: Sso,
    /// Single sign-on opens the system browser (else it only shows the address): off when
    /// [`NO_BROWSER_ENV`] is set.
    pub open_browser: bool,
    /// The administrator's choice: the password form next to single sign-on (else single sign-on only).
    pub password_sign_in: bool,
    /// The organization's `sign_in` policy (password, single sign-on or any way) and where to ask.
    pub sign_in_policy: Option<crate::engine::policy::SignInPolicy>,
    pub support: Option<String>,
    pub discard: super::discard::Guard,
    /// Signing in to another server beside the signed-in one (Connect → Add another server…).
    pub add_server: bool,
}

impl State {
    /// The sign-in request: another server comes with its domain (and a certificate trusted for it now).
    fn request(&self, pinned: Option<crate::engine::session::DomainChoice>) -> SignIn {
        SignIn {
            domain: pinned.or_else(|| {
                self.add_server
                    .then(|| crate::engine::session::DomainChoice {
                        domain: self.domain.clone(),
                        pinned: None,
                    })
            }),
            add_server: self.add_server,
            ..SignIn::default()
        }
    }

    pub fn new(domain: String, hint: Option<String>) -> Self {
        State {
            domain,
            username: String::new(),
            password: String::new(),
            use_token: false,
            token: String::new(),
            error: None,
            busy: false,
            trust: trust::Question::default(),
            hint,
            sso: Sso::Checking,
            open_browser: std::env::var_os(NO_BROWSER_ENV).is_none(),
            password_sign_in: true,
            sign_in_policy: None,
            support: None,
            discard: super::discard::Guard::default(),
            add_server: false,
        }
    }

    /// The password form is shown: always for a server without single sign-on, else unless the administrator
    /// hid it.
    pub fn shows_password_form(&self) -> bool {
        use crate::engine::policy::SignInPolicy;
        match self.sign_in_policy {
            Some(SignInPolicy::Sso) => false,
            Some(SignInPolicy::Password) => true,
            _ => self.password_sign_in || matches!(self.sso, Sso::Absent),
        }
    }

    /// A token one was given may be used instead (not where the organization names one way).
    fn offers_token(&self) -> bool {
        matches!(
            self.sign_in_policy,
            None | Some(crate::engine::policy::SignInPolicy::Any)
        )
    }

    /// The dialog for `domain` (`add_server`: another server beside the signed-in one) and its first tasks: focus
    /// the username, read the administrator's sign-in policy, and ask the server whether it has single sign-on.
    pub fn open(
        domain: String,
        hint: Option<String>,
        add_server: bool,
        engine: &Engine,
    ) -> (Self, Task<Message>) {
        let policy_engine = engine.clone();
        let policy = Task::perform(
            async move { policy_engine.password_sign_in().unwrap_or(true) },
            Message::PasswordSignIn,
        );
        let mut state = Self::new(domain.clone(), hint);
        state.add_server = add_server;
        state.sign_in_policy = engine.policy.sign_in;
        state.support = engine.policy.support_url.clone();
        // the organization signs in with a password only: no single sign-on to look for
        if !engine.policy.allows_sso() {
            state.sso = Sso::Absent;
            return (state, Task::batch([Self::focus(), policy]));
        }
        let engine = engine.clone();
        let probe = domain.clone();
        let discover = Task::perform(
            async move {
                let config = engine.client_config(&probe)?;
                sso::discover(&probe, &config).await
            },
            |found| {
                if let Err(error) = &found {
                    tracing::debug!(error = %error, "no single sign-on offered");
                }
                Message::SsoDiscovered(found.is_ok())
            },
        );
        (state, Task::batch([Self::focus(), policy, discover]))
    }

    pub fn focus() -> Task<Message> {
        iced::widget::operation::focus(USERNAME_ID)
    }

    pub fn is_busy(&self) -> bool {
        self.busy || self.sso_waiting()
    }

    /// Single sign-on is under way: waiting for the browser, asking to confirm the account, or completing.
    fn sso_waiting(&self) -> bool {
        matches!(
            self.sso,
            Sso::Waiting { .. } | Sso::Confirm(_) | Sso::Completing
        )
    }

    /// Esc: out of the trust question first, else close (never while signing in); while waiting for the
    /// browser, cancel the single sign-on.
    pub fn escape(&self) -> Option<Message> {
        if matches!(self.sso, Sso::Confirm(_)) {
            Some(Message::SsoDecline)
        } else if matches!(self.sso, Sso::Completing) {
            None
        } else if self.sso_waiting() {
            Some(Message::SsoCancel)
        } else if self.trust.is_asked() {
            self.trust.cancel(Message::Trust)
        } else {
            (!self.busy).then_some(Message::Escape)
        }
    }

    /// Typed credentials one Esc would throw away.
    pub fn is_dirty(&self) -> bool {
        !self.username.trim().is_empty()
            || !self.password.is_empty()
            || !self.token.trim().is_empty()
    }

    /// Enter: Sign In; in the trust question, Cancel; nothing while waiting for the browser.
    pub fn enter(&self) -> Option<Message> {
        if matches!(self.sso, Sso::Confirm(_)) {
            Some(Message::SsoContinue)
        } else if self.sso_waiting() {
            None
        } else if self.trust.is_asked() {
            self.trust.cancel(Message::Trust)
        } else if !self.shows_password_form() {
            matches!(self.sso, Sso::Offered).then_some(Message::SsoStart)
        } else {
            Some(Message::Submit)
        }
    }

    fn can_submit(&self) -> bool {
        self.shows_password_form()
            && !self.is_busy()
            && if self.use_token {
                !self.token.trim().is_empty()
            } else {
                !self.username.trim().is_empty() && !self.password.is_empty()
            }
    }

    pub fn update(&mut self, message: Message, engine: &Engine) -> Action {
        if !matches!(message, Message::Escape) {
            self.discard.disarm();
        }
        match message {
            Message::Escape => {
                if self.busy || !self.discard.escape(self.is_dirty()) {
                    Action::None
                } else {
                    Action::Cancel
                }
            }
            Message::Username(value) => {
                self.username = value;
                Action::None
            }
            Message::Password(value) => {
                self.password = value;
                Action::None
            }
            Message::UseToken(on) => {
                self.use_token = on;
                self.error = None;
                let field = if on { TOKEN_ID } else { USERNAME_ID };
                Action::Run(iced::widget::operation::focus(field))
            }
            Message::Token(value) => {
                self.token = value;
                Action::None
            }
            Message::Submit => self.sign_in(engine, Trust::No),
            Message::Trust(message) => match self.trust.answer(message) {
                trust::Outcome::None => Action::None,
                trust::Outcome::Trusted(trust) => self.sign_in(engine, trust),
                trust::Outcome::Cancelled(sentence) => {
                    self.error = Some(sentence);
                    Action::Run(Self::focus())
                }
            },
            Message::Cancel => Action::Cancel,
            Message::Finished(result) => self.finished(result, engine),
            Message::SsoDiscovered(found) => {
                if matches!(self.sso, Sso::Checking) {
                    self.sso = if found { Sso::Offered } else { Sso::Absent };
                    if !found && !self.password_sign_in {
                        // the password form appears only now: put the cursor in it
                        return Action::Run(Self::focus());
                    }
                    if found && !self.password_sign_in {
                        // the SSO-only dialog: its one action is focused, ring and all, as soon as it appears
                        return Action::Run(crate::gui::focus::initial());
                    }
                }
                Action::None
            }
            Message::PasswordSignIn(allowed) => {
                self.password_sign_in = allowed;
                Action::None
            }
            Message::SsoStart => self.sign_in_sso(engine),
            Message::SsoPrompt(prompt) => {
                if let Sso::Waiting { prompt: shown, .. } = &mut self.sso {
                    *shown = Some(prompt);
                }
                Action::None
            }
            Message::SsoCopy => match &mut self.sso {
                Sso::Waiting {
                    prompt: Some(prompt),
                    copied,
                    ..
                } => {
                    *copied = true;
                    Action::Run(iced::clipboard::write(sso_address(prompt).to_string()))
                }
                _ => Action::None,
            },
            Message::SsoCancel => {
                if let Sso::Waiting { handle, .. } = std::mem::replace(&mut self.sso, Sso::Offered)
                {
                    // dropping the sign-in closes its loopback listener: a late browser finds nothing
                    handle.abort();
                }
                Action::None
            }
            Message::SsoAuthenticated(result) => self.sso_authenticated(result, engine),
            Message::SsoContinue => {
                let Sso::Confirm(authenticated) = std::mem::replace(&mut self.sso, Sso::Completing)
                else {
                    return Action::None;
                };
                let engine = engine.clone();
                Action::Run(Task::perform(
                    async move { engine.sso_complete(*authenticated).await },
                    Message::SsoFinished,
                ))
            }
            Message::SsoDecline => {
                let Sso::Confirm(authenticated) = std::mem::replace(&mut self.sso, Sso::Offered)
                else {
                    return Action::None;
                };
                self.error = Some(NOT_CONFIRMED.into());
                Action::Run(abandon(engine, *authenticated))
            }
            Message::SsoDeclined(unended) => {
                // (it can come seconds later: it joins the "not confirmed" sentence, never a later error)
                if let Some(sentence) = unended {
                    match self.error.as_deref() {
                        Some(NOT_CONFIRMED) => {
                            self.error = Some(format!("{NOT_CONFIRMED} {sentence}"))
                        }
                        None => self.error = Some(sentence),
                        Some(_) => tracing::info!(sentence, "not shown over a later error"),
                    }
                }
                Action::None
            }
            Message::SsoFinished(result) => self.sso_finished(result),
        }
    }

    /// The password or token sign-in answered: done, a certificate to ask about, or an error in the form.
    fn finished(&mut self, result: Result<LoginOutcome, Error>, engine: &Engine) -> Action {
        self.busy = false;
        match result {
            Ok(outcome) => {
                self.password.clear();
                Action::Done {
                    outcome,
                    add_server: self.add_server,
                }
            }
            Err(error) if error.is_tls() => Action::Run(
                self.trust
                    .ask(engine, &self.domain, &error)
                    .map(Message::Trust),
            ),
            Err(error) => {
                self.error = Some(crate::gui::screen::set_domain::domain_error(&error));
                // as Navigator selects it: the next keystrokes replace the password
                self.password.clear();
                Action::Run(iced::widget::operation::focus(PASSWORD_ID))
            }
        }
    }

    /// The identity provider signed someone in: ask whether it is the right account (or end the session of a
    /// sign-in cancelled meanwhile).
    fn sso_authenticated(
        &mut self,
        result: Result<SsoAuthenticated, Error>,
        engine: &Engine,
    ) -> Action {
        if !matches!(self.sso, Sso::Waiting { .. }) {
            // cancelled meanwhile: the session it made is ended, not left open
            return match result {
                Ok(authenticated) => Action::Run(abandon(engine, authenticated)),
                Err(_) => Action::None,
            };
        }
        match result {
            Ok(authenticated) => {
                self.sso = Sso::Confirm(Box::new(authenticated));
                Action::None
            }
            Err(error) => {
                self.sso = Sso::Offered;
                tracing::info!(error = %error, "single sign-on failed");
                self.error = Some(crate::gui::screen::set_domain::domain_error(&error));
                Action::None
            }
        }
    }

    /// The single sign-on's transaction ended.
    fn sso_finished(&mut self, result: Result<LoginOutcome, Error>) -> Action {
        if !matches!(self.sso, Sso::Completing) {
            return Action::None;
        }
        self.sso = Sso::Offered;
        match result {
            Ok(outcome) => {
                self.password.clear();
                Action::Done {
                    outcome,
                    add_server: self.add_server,
                }
            }
            Err(error) => {
                tracing::info!(error = %error, "single sign-on failed");
                self.error = Some(crate::gui::screen::set_domain::domain_error(&error));
                Action::None
            }
        }
    }

    /// Single sign-on as one abortable task: the prompt first (as soon as the engine has the address), then the
    /// outcome.
    fn sign_in_sso(&mut self, engine: &Engine) -> Action {
        if !matches!(self.sso, Sso::Offered) || self.busy {
            return Action::None;
        }
        self.error = None;
        let engine = engine.clone();
        let open = self.open_browser;
        // the engine's sipper: its one progress is the address to show, its output the authenticated sign-in
        let sign_in = engine.sso_sign_in(
            SsoOptions::default(),
            SsoMethod::Browser { open },
            self.request(None),
        );
        let (task, handle) =
            Task::sip(sign_in, Message::SsoPrompt, Message::SsoAuthenticated).abortable();
        self.sso = Sso::Waiting {
            prompt: None,
            handle: handle.abort_on_drop(),
            copied: false,
        };
        Action::Run(task)
    }

    fn sign_in(&mut self, engine: &Engine, trust: Trust) -> Action {
        if !self.can_submit() {
            return Action::None;
        }
        self.busy = true;
        self.error = None;
        self.username = self.username.trim().to_lowercase();
        let engine = engine.clone();
        let (user, password, domain) = (
            self.username.clone(),
            self.password.clone(),
            self.domain.clone(),
        );
        let token = self.use_token.then(|| self.token.clone());
        let plain = self.request(None);
        let add_server = self.add_server;
        Action::Run(Task::perform(
            async move {
                // a certificate trusted now is written with the sign-in: nothing stays if it fails
                let request = match trust {
                    Trust::No => plain,
                    trust if add_server => SignIn {
                        domain: Some(engine.choose_other_domain(&domain, trust).await?),
                        ..plain
                    },
                    trust => SignIn {
                        domain: Some(engine.choose_domain(&domain, trust).await?),
                        ..plain
                    },
                };
                match token {
                    Some(token) => engine.login_with_token(&token, &request).await,
                    None => engine.login_with(&user, &password, &request).await,
                }
            },
            Message::Finished,
        ))
    }

    pub fn view(&self) -> Element<'_, Message> {
        if let Some(question) = self.trust.view() {
            return question.map(Message::Trust);
        }
        match &self.sso {
            Sso::Waiting { prompt, copied, .. } => {
                return self.view_waiting(prompt.as_deref(), *copied);
            }
            Sso::Confirm(authenticated) => return self.view_confirm(&authenticated.account()),
            Sso::Completing => return self.view_confirm(""),
            _ => {}
        }
        if !self.shows_password_form() {
            return self.view_sso_only();
        }
        let submit = self.can_submit().then_some(Message::Submit);
        let form = column![
            style::title(TITLE),
            style::muted(SIDE_TEXT),
            style::muted(format!("Anaconda Server: {}", self.domain)),
            match crate::engine::domain::plain_http_warning(&self.domain) {
                Some(warning) => text(warning)
                    .size(style::type_scale::SMALL)
                    .style(|t: &iced::Theme| text::Style {
                        color: Some(style::tokens(t).warning_text)
                    })
                    .into(),
                None => Element::from(space::vertical().height(0)),
            },
            self.credential_fields(),
            self.hint_banner(),
            style::message_slot(self.error.as_deref(), self.busy.then_some("Signing in…")),
            style::button_row_noted(
                self.discard.note(),
                [
                    style::secondary("Cancel", (!self.busy).then_some(Message::Cancel)),
                    style::primary("Sign In", submit)
                ]
            ),
        ]
        .spacing(style::space_scale::M);
        let form = if matches!(self.sso, Sso::Offered) {
            form.push(
                column![
                    style::muted(SSO_OR),
                    style::button_row([style::secondary(
                        SSO_BUTTON,
                        (!self.busy).then_some(Message::SsoStart)
                    )]),
                ]
                .spacing(style::space_scale::S),
            )
        } else {
            form
        };
        style::card(form, 480.0)
    }

    /// Username and password, or the token field (with the way to switch between them).
    /// The fields: username and password, or the token — in one fixed-height area, so that switching between them
    /// moves nothing below (Sign In stays under the pointer).
    fn credential_fields(&self) -> Element<'_, Message> {
        iced::widget::container(self.credential_inputs())
            .height(iced::Length::Fixed(CREDENTIALS_HEIGHT))
            .into()
    }

    fn credential_inputs(&self) -> Element<'_, Message> {
        if self.use_token {
            return column![
                style::muted(TOKEN_TEXT),
                style::field(
                    "Token:",
                    style::input("", &self.token)
                        .id(TOKEN_ID)
                        .secure(true)
                        .on_input(Message::Token)
                        .on_submit(Message::Submit)
                        .padding(8),
                ),
                style::small(
                    USE_PASSWORD,
                    (!self.busy).then_some(Message::UseToken(false))
                ),
            ]
            .spacing(style::space_scale::S)
            .into();
        }
        column![
            style::field(
                "Username:",
                style::input("", &self.username)
                    .id(USERNAME_ID)
                    .on_input(Message::Username)
                    .on_submit(Message::Submit)
                    .padding(8),
            ),
            style::field(
                "Password:",
                style::input("", &self.password)
                    .id(PASSWORD_ID)
                    .secure(true)
                    .on_input(Message::Password)
                    .on_submit(Message::Submit)
                    .padding(8),
            ),
            if self.offers_token() {
                style::small(USE_TOKEN, (!self.busy).then_some(Message::UseToken(true)))
            } else {
                space::vertical().height(0).into()
            },
        ]
        .spacing(style::space_scale::M)
        .into()
    }

    /// Single sign-on only (the administrator hid the password form): the SSO button is the default action.
    fn view_sso_only(&self) -> Element<'_, Message> {
        let offered = matches!(self.sso, Sso::Offered);
        // the organization requires single sign-on, and this server has none: nothing to press but Cancel
        let text = if matches!(self.sso, Sso::Absent) {
            NO_SSO_HERE
        } else {
            SSO_ONLY_TEXT
        };
        let form = column![
            style::title(TITLE),
            style::muted(SIDE_TEXT),
            style::muted(format!("Anaconda Server: {}", self.domain)),
            style::body(text),
            if self.sign_in_policy.is_some() {
                style::managed_note(self.support.as_deref())
            } else {
                space::vertical().height(0).into()
            },
            self.hint_banner(),
            style::message_slot(
                self.error.as_deref(),
                matches!(self.sso, Sso::Checking).then_some(SSO_CHECKING)
            ),
            style::button_row([
                style::secondary("Cancel", Some(Message::Cancel)),
                style::primary(SSO_BUTTON, offered.then_some(Message::SsoStart)),
            ]),
        ]
        .spacing(style::space_scale::M);
        style::card(form, 480.0)
    }

    /// Information, not a control: a banner, never something that looks like a field or a button.
    fn hint_banner(&self) -> Element<'_, Message> {
        match &self.hint {
            Some(hint) => style::banner(style::Tone::Info, hint.as_str(), vec![]),
            None => space::vertical().height(0).into(),
        }
    }

    /// The account the identity provider signed in, to confirm (`""` while the sign-in completes).
    fn view_confirm(&self, account: &str) -> Element<'_, Message> {
        let confirming = !account.is_empty();
        let content = column![
            style::title(CONFIRM_TITLE),
            style::muted(format!("Anaconda Server: {}", self.domain)),
            style::body(if confirming {
                confirm_text(account)
            } else {
                String::new()
            }),
            style::message_slot(None, (!confirming).then_some("Signing in…")),
            style::button_row([
                style::secondary("Cancel", confirming.then_some(Message::SsoDecline)),
                style::primary(CONFIRM_CONTINUE, confirming.then_some(Message::SsoContinue)),
            ]),
        ]
        .spacing(style::space_scale::M);
        style::card(content, 480.0)
    }

    fn view_waiting<'a>(&'a self, prompt: Option<&'a str>, copied: bool) -> Element<'a, Message> {
        // the address wraps inside a box of fixed height: however long, it stays in the dialog and the buttons stay put
        let address: Element<'a, Message> = match prompt {
            Some(prompt) => column![
                style::body(SSO_OPEN_TEXT),
                // scrolls when the address is longer than the box (Copy takes it whole)
                iced::widget::scrollable(style::value_box(
                    sso_address(prompt),
                    style::type_scale::SMALL
                ))
                .height(ADDRESS_HEIGHT),
            ]
            .spacing(style::space_scale::S)
            .into(),
            None => space::vertical()
                .height(ADDRESS_HEIGHT + style::type_scale::BODY * 1.3 + style::space_scale::S)
                .into(),
        };
        let waiting = column![
            style::title(TITLE),
            style::muted(format!("Anaconda Server: {}", self.domain)),
            style::heading(SSO_WAITING),
            address,
            style::message_slot(self.error.as_deref(), copied.then_some(COPIED)),
            style::button_row([
                style::secondary(COPY_URL, prompt.map(|_| Message::SsoCopy)),
                style::secondary("Cancel", Some(Message::SsoCancel)),
            ]),
        ]
        .spacing(style::space_scale::M);
        style::card(waiting, 480.0)
    }
}

/// End the identity provider's session of a sign-in the person did not confirm (or cancelled while it went on).
fn abandon(engine: &Engine, authenticated: SsoAuthenticated) -> Task<Message> {
    let engine = engine.clone();
    Task::perform(
        async move { engine.sso_abandon(authenticated).await },
        Message::SsoDeclined,
    )
}

/// The address in the engine's sentence ("Open this URL to sign in: <url>"): the last word.
pub fn sso_address(prompt: &str) -> &str {
    prompt.rsplit(' ').next().unwrap_or(prompt)
}
