//! Preferences: Anaconda Server API domain (validated like Set Domain, with the trust dialog), Enable SSL
//! verification, SSL certificate path (must exist), Show hidden Anaconda Server channels, the single sign-on client
//! id (optional: the server's own otherwise), light/dark theme.
//! While signed in the domain is read-only ("Sign out to change the server"), so Apply never drops the other
//! changes. Esc with unsaved changes asks first; Esc in the trust question goes back to the form.

use iced::widget::{column, radio, row};
use iced::{Element, Task};

use crate::engine::session::Preferences;
use crate::engine::session::Trust;
use crate::engine::{Engine, Error, domain};
use crate::gui::screen::trust;
use crate::gui::settings::ThemeChoice;
use crate::gui::style;

/// The button that opens Diagnose.
pub const DIAGNOSE: &str = "Diagnose…";

#[derive(Debug, Clone)]
pub enum Message {
    Domain(String),
    SslVerification(bool),
    Certificate(String),
    /// "Browse…": the system's file chooser for the certificate path.
    BrowseCertificate,
    /// The file chosen (`None`: cancelled, or no chooser on this desktop).
    CertificateChosen(Option<std::path::PathBuf>),
    ShowHidden(bool),
    Netrc(bool),
    SsoClientId(String),
    Theme(ThemeChoice),
    Apply,
    Trust(trust::Message),
    Cancel,
    SignOutFirst,
    /// Diagnose: doctor's checks in their own dialog.
    Diagnose,
    /// Esc: close, or with unsaved changes ask first (a second Esc discards).
    Escape,
    Saved(Result<Preferences, Error>),
}

pub enum Action {
    None,
    Run(Task<Message>),
    Saved(Preferences, ThemeChoice),
    Cancel,
    SignOut,
    Diagnose,
}

#[derive(Debug, Clone)]
pub struct State {
    /// The organization's policy: what it fixes is read-only here.
    pub policy: crate::engine::policy::Policy,
    pub domain: String,
    pub ssl_verification: bool,
    pub certificate: String,
    pub show_hidden: bool,
    /// Sign-ins also sign in pip and uv (netrc).
    pub netrc: bool,
    pub sso_client_id: String,
    pub theme: ThemeChoice,
    pub error: Option<String>,
    pub busy: bool,
    /// The certificate of the new domain failed: the question before trusting it.
    pub trust: trust::Question,
    /// The domain cannot change while signed in.
    pub needs_sign_out: bool,
    /// Signed in: the domain field is read-only.
    pub signed_in: bool,
    /// The values as opened, to tell whether anything changed.
    initial: (Preferences, ThemeChoice),
    pub discard_armed: bool,
    /// The file chooser is open (Browse… waits for it).
    pub choosing: bool,
}

pub const BROWSE: &str = "Browse…";
pub const NETRC_LABEL: &str = "Also sign in pip and uv — writes ~/.netrc (from the next sign-in)";
pub const CHOOSING: &str = "Waiting for the file chooser… (or type the path)";
pub const NO_FILE_CHOOSER: &str =
    "No file chooser is available on this desktop: type the path of the CA bundle (.pem).";
pub const SSO_CLIENT_ID_LABEL: &str = "SSO client id (Optional)";
pub const SSO_CLIENT_ID_PLACEHOLDER: &str = "the server's own";
pub const SSO_CLIENT_ID_ID: &str = "preferences-sso-client-id";
pub const SIGN_OUT_TO_CHANGE: &str = "Sign out to change the server";
pub const DISCARD_HINT: &str = super::discard::HINT;

impl State {
    pub fn new(prefs: &Preferences, theme: ThemeChoice) -> Self {
        Self::with_sign_in(prefs, theme, false)
    }

    pub fn with_sign_in(prefs: &Preferences, theme: ThemeChoice, signed_in: bool) -> Self {
        let mut state = State {
            domain: prefs.domain.clone().unwrap_or_default(),
            ssl_verification: prefs.ssl_verification,
            certificate: prefs.ssl_certificate.clone().unwrap_or_default(),
            show_hidden: prefs.show_hidden_channels,
            netrc: prefs.netrc,
            sso_client_id: prefs.sso_client_id.clone().unwrap_or_default(),
            theme,
            error: None,
            busy: false,
            trust: trust::Question::default(),
            needs_sign_out: false,
            signed_in,
            initial: (prefs.clone(), theme),
            discard_armed: false,
            choosing: false,
            policy: Default::default(),
        };
        state.initial = (state.prefs(), theme);
        state
    }

    /// Under the organization's policy: the settings it fixes are shown as they are in force, read-only.
    pub fn with_policy(mut self, policy: &crate::engine::policy::Policy) -> Self {
        self.policy = policy.clone();
        self
    }

    /// The settings the policy fixes, in the words of this dialog.
    fn managed(&self) -> Vec<&'static str> {
        let p = &self.policy;
        let mut out = Vec::new();
        if p.domain.is_some() {
            out.push("domain");
        }
        if p.ssl_verify.is_some() {
            out.push("SSL verification");
        }
        if p.ca_bundle.is_some() {
            out.push("certificate");
        }
        if p.clients.is_some() {
            out.push("clients");
        }
        if p.sso_client_id.is_some() {
            out.push("SSO client id");
        }
        out
    }

    pub fn is_busy(&self) -> bool {
        self.busy
    }

    pub fn is_dirty(&self) -> bool {
        (self.prefs(), self.theme) != self.initial
    }

    pub fn escape(&self) -> Option<Message> {
        if self.trust.is_asked() {
            self.trust.cancel(Message::Trust)
        } else {
            (!self.busy).then_some(Message::Escape)
        }
    }

    /// Enter: Apply; in the trust question, Cancel.
    pub fn enter(&self) -> Option<Message> {
        if self.trust.is_asked() {
            self.trust.cancel(Message::Trust)
        } else {
            Some(Message::Apply)
        }
    }

    fn prefs(&self) -> Preferences {
        Preferences {
            domain: Some(self.domain.clone()).filter(|d| !d.trim().is_empty()),
            ssl_verification: self.ssl_verification,
            ssl_certificate: Some(self.certificate.clone()).filter(|c| !c.trim().is_empty()),
            show_hidden_channels: self.show_hidden,
            sso_client_id: Some(self.sso_client_id.trim().to_string()).filter(|c| !c.is_empty()),
            netrc: self.netrc,
        }
    }

    pub fn update(&mut self, message: Message, engine: &Engine) -> Action {
        if !matches!(message, Message::Escape) {
            self.discard_armed = false;
        }
        match message {
            Message::Escape => {
                if self.busy {
                    return Action::None;
                }
                if self.is_dirty() && !self.discard_armed {
                    self.discard_armed = true;
                    return Action::None;
                }
                return Action::Cancel;
            }
            Message::Domain(_) if self.signed_in => {}
            Message::Domain(value) => {
                self.domain = value;
                self.error = None;
                self.needs_sign_out = false;
            }
            Message::SslVerification(on) => self.ssl_verification = on,
            Message::Certificate(value) => {
                self.certificate = value;
                self.error = None;
            }
            Message::BrowseCertificate => {
                // pressing it again while a chooser is pending asks again: a chooser that never answers is no trap
                if !file_chooser_available() {
                    self.error = Some(NO_FILE_CHOOSER.into());
                    return Action::None;
                }
                self.choosing = true;
                self.error = None;
                return Action::Run(choose_certificate());
            }
            Message::CertificateChosen(chosen) => {
                self.choosing = false;
                if let Some(path) = chosen {
                    self.certificate = path.display().to_string();
                    self.error = None;
                }
            }
            Message::ShowHidden(on) => self.show_hidden = on,
            Message::Netrc(on) => self.netrc = on,
            Message::SsoClientId(value) => {
                self.sso_client_id = value;
                self.error = None;
            }
            Message::Theme(choice) => self.theme = choice,
            Message::Apply => return self.save(engine, Trust::No),
            Message::Trust(message) => match self.trust.answer(message) {
                trust::Outcome::None => {}
                trust::Outcome::Trusted(trust) => return self.save(engine, trust),
                trust::Outcome::Cancelled(sentence) => self.error = Some(sentence),
            },
            Message::Cancel => return Action::Cancel,
            Message::SignOutFirst => return Action::SignOut,
            Message::Diagnose if !self.busy => return Action::Diagnose,
            Message::Diagnose => {}
            Message::Saved(result) => {
                self.busy = false;
                match result {
                    Ok(prefs) => return Action::Saved(prefs, self.theme),
                    Err(error) if error.is_tls() => {
                        if let Ok(server) = domain::normalize_domain(&self.domain) {
                            let read = self.trust.ask(engine, &server, &error);
                            return Action::Run(read.map(Message::Trust));
                        }
                    }
                    Err(Error::AlreadyLoggedIn { domain, .. }) => {
                        self.needs_sign_out = true;
                        self.error = Some(format!(
                            "You are signed in to {domain}. Sign out before changing the Anaconda Server domain."
                        ));
                    }
                    Err(Error::Refused { reason }) if reason == "File not found." => {
                        self.error = Some(format!(
                            "SSL certificate path: {reason} Enter the path of an existing CA bundle (.pem), choose it with Browse…, or clear the field."
                        ));
                    }
                    Err(error) => {
                        self.error = Some(crate::gui::screen::set_domain::domain_error(&error))
                    }
                }
            }
        }
        Action::None
    }

    fn save(&mut self, engine: &Engine, trust: Trust) -> Action {
        if self.busy {
            return Action::None;
        }
        if !self.signed_in
            && let Some(hint) = crate::gui::screen::set_domain::scheme_hint(&self.domain)
        {
            self.error = Some(format!("Anaconda Server API domain: {hint}"));
            return Action::None;
        }
        self.busy = true;
        self.error = None;
        let engine = engine.clone();
        let prefs = self.prefs();
        Action::Run(Task::perform(
            async move { engine.save_preferences(&prefs, trust).await },
            Message::Saved,
        ))
    }

    pub fn view(&self) -> Element<'_, Message> {
        if let Some(question) = self.trust.view() {
            return question.map(Message::Trust);
        }
        let choice = |label: &'static str, value: ThemeChoice| {
            crate::gui::focus::toggle_ring(
                radio(label, value, Some(self.theme), Message::Theme)
                    .size(16)
                    .text_size(style::type_scale::BODY),
                Some(Message::Theme(value)),
            )
        };
        let themes = row![
            choice("Light", ThemeChoice::Light),
            choice("Dark", ThemeChoice::Dark)
        ]
        .spacing(20);
        let domain_input = style::input(crate::gui::screen::set_domain::PLACEHOLDER, &self.domain)
            .on_submit(Message::Apply)
            .padding(8);
        let policy = &self.policy;
        let domain: Element<'_, Message> = if let Some(locked) = &policy.domain {
            style::value_box(locked.as_str(), style::type_scale::BODY)
        } else if self.signed_in {
            // read-only while signed in (full-contrast text, not a greyed field): the server changes by signing out
            row![
                style::value_box(self.domain.as_str(), style::type_scale::BODY),
                style::small("Sign Out…", Some(Message::SignOutFirst)),
            ]
            .spacing(style::space_scale::S)
            .align_y(iced::Center)
            .into()
        } else {
            domain_input.on_input(Message::Domain).into()
        };
        let mut domain_field = column![style::field("Anaconda Server API domain", domain)]
            .spacing(style::space_scale::XS);
        if self.signed_in {
            domain_field = domain_field.push(style::muted(SIGN_OUT_TO_CHANGE));
        }
        let managed = self.managed();
        let ssl_check = match policy.ssl_verify {
            Some(on) => style::check_locked(on, "Enable SSL verification"),
            None => style::check(
                self.ssl_verification,
                Some("Enable SSL verification"),
                Message::SslVerification,
            ),
        };
        let certificate: Element<'_, Message> = match &policy.ca_bundle {
            Some(bundle) => style::value_box(bundle.display().to_string(), style::type_scale::BODY),
            None => row![
                style::input("/path/to/ca-bundle.pem", &self.certificate)
                    .on_input(Message::Certificate)
                    .on_submit(Message::Apply)
                    .padding(8),
                style::small(BROWSE, Some(Message::BrowseCertificate)),
            ]
            .spacing(style::space_scale::S)
            .align_y(iced::Center)
            .into(),
        };
        let netrc = match policy.configures(crate::engine::policy::Client::Netrc) {
            Some(on) => style::check_locked(on, NETRC_LABEL),
            None => style::check(self.netrc, Some(NETRC_LABEL), Message::Netrc),
        };
        let client_id: Element<'_, Message> = match &policy.sso_client_id {
            Some(id) => style::value_box(id.as_str(), style::type_scale::BODY),
            None => style::input(SSO_CLIENT_ID_PLACEHOLDER, &self.sso_client_id)
                .id(SSO_CLIENT_ID_ID)
                .on_input(Message::SsoClientId)
                .on_submit(Message::Apply)
                .padding(8)
                .into(),
        };
        let mut body = column![style::title("Preferences")].spacing(style::space_scale::M);
        if !managed.is_empty() {
            body = body.push(style::managed_note_for(
                &managed,
                policy.support_url.as_deref(),
            ));
        }
        body = body
            .push(domain_field)
            .push(ssl_check)
            .push(style::field("SSL certificate path (Optional)", certificate))
            .push(style::check(
                self.show_hidden,
                Some("Show hidden Anaconda Server channels"),
                Message::ShowHidden,
            ))
            .push(netrc)
            .push(style::field(SSO_CLIENT_ID_LABEL, client_id))
            .push(style::field("Theme", themes));
        let hint = self.discard_armed.then_some(DISCARD_HINT);
        body = body.push(style::message_slot(
            self.error.as_deref(),
            if self.busy {
                Some("Checking…")
            } else {
                self.choosing.then_some(CHOOSING)
            },
        ));
        let mut buttons = vec![style::secondary(
            DIAGNOSE,
            (!self.busy).then_some(Message::Diagnose),
        )];
        if self.needs_sign_out && !self.signed_in {
            buttons.push(style::secondary("Sign Out…", Some(Message::SignOutFirst)));
        }
        buttons.push(style::secondary(
            "Cancel",
            (!self.busy).then_some(Message::Cancel),
        ));
        buttons.push(style::primary(
            "Apply",
            (!self.busy).then_some(Message::Apply),
        ));
        body = body.push(style::button_row_noted(hint, buttons));
        style::card(body, 520.0)
    }
}

/// Whether a file chooser can open: on Linux and the BSDs it is the desktop portal, reached over the session bus
/// (none in a bare X session or over ssh, where asking would wait in vain); elsewhere the native dialog.
fn file_chooser_available() -> bool {
    if cfg!(all(unix, not(target_os = "macos"))) {
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some_and(|a| !a.is_empty())
            || std::env::var_os("XDG_RUNTIME_DIR")
                .is_some_and(|dir| std::path::Path::new(&dir).join("bus").exists())
    } else {
        true
    }
}

/// The system's file chooser for a CA bundle (the native dialog on Windows and macOS, the desktop portal on Linux).
fn choose_certificate() -> Task<Message> {
    Task::perform(
        async {
            rfd::AsyncFileDialog::new()
                .set_title("Choose the SSL certificate (CA bundle)")
                .add_filter("Certificates", &["pem", "crt", "cer"])
                .add_filter("All files", &["*"])
                .pick_file()
                .await
                .map(|file| file.path().to_path_buf())
        },
        Message::CertificateChosen,
    )
}
