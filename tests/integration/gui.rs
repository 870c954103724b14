//! Headless UI tests with iced_test's simulator: the real app (its `update`, `view` and the engine tasks it
//! returns) against the emulator, clicking and typing as a person would, asserting what the window shows and
//! the files and server state after.

use futures_util::StreamExt;
use iced::keyboard::{self, key};
use iced::{Event, Point, Rectangle, Settings, Size, Task};
use iced_test::runtime::Action;
use iced_test::selector::id;
use iced_test::simulator::{self, Simulator};

use conda_connect::gui::screen::{add_channels, home, login, preferences, set_domain, trust};
use conda_connect::gui::{self, App, Config, Message, style};

use crate::common::*;

struct Harness {
    world: World,
    app: App,
    size: Size,
}

/// A key press with modifiers (iced_test's helpers press keys without any).
fn key_press(k: keyboard::Key, modifiers: keyboard::Modifiers) -> Event {
    Event::Keyboard(keyboard::Event::KeyPressed {
        key: k.clone(),
        modified_key: k,
        physical_key: keyboard::key::Physical::Unidentified(
            keyboard::key::NativeCode::Unidentified,
        ),
        location: keyboard::Location::Standard,
        modifiers,
        repeat: false,
        text: None,
    })
}

fn tab(ui: &mut Simulator<'_, Message>, times: usize) {
    for _ in 0..times {
        ui.tap_key(key::Named::Tab);
    }
}

fn shift_tab(ui: &mut Simulator<'_, Message>) {
    ui.simulate([key_press(
        keyboard::Key::Named(key::Named::Tab),
        keyboard::Modifiers::SHIFT,
    )]);
}

impl Harness {
    async fn new() -> Harness {
        Self::with_world(World::new().await).await
    }

    async fn with_world(world: World) -> Harness {
        Self::with_policy(world, Default::default()).await
    }

    /// The window on a managed desk: the organization's `policy` in force.
    async fn with_policy(world: World, policy: conda_connect::engine::policy::Policy) -> Harness {
        let mut engine = world.engine();
        engine.policy = std::sync::Arc::new(policy);
        let config = Config {
            engine,
            preset_domain: Some(world.emu.url.clone()),
            login_hint: None,
            note: None,
        };
        let (app, boot) = App::new(config);
        let mut h = Harness {
            world,
            app,
            size: gui::DEFAULT_SIZE,
        };
        h.settle(boot).await;
        h
    }

    /// Run a task and every task its messages produce, to completion.
    async fn settle(&mut self, task: Task<Message>) {
        let mut queue = vec![task];
        while let Some(task) = queue.pop() {
            let Some(mut stream) = iced_test::runtime::task::into_stream(task) else {
                continue;
            };
            while let Some(action) = stream.next().await {
                if let Action::Output(message) = action {
                    queue.push(self.app.update(message));
                }
            }
        }
    }

    async fn send(&mut self, message: Message) {
        let task = self.app.update(message);
        self.settle(task).await;
    }

    fn simulator(&self) -> Simulator<'_, Message> {
        let settings = Settings {
            fonts: vec![
                gui::FONT_REGULAR.into(),
                gui::FONT_BOLD.into(),
                gui::FONT_ITALIC.into(),
                gui::FONT_ICONS.into(),
            ],
            default_font: gui::DEFAULT_FONT,
            ..Settings::default()
        };
        Simulator::with_size(settings, self.size, self.app.view())
    }

    /// Interact with the window, then feed the produced messages to the app.
    async fn interact(&mut self, f: impl FnOnce(&mut Simulator<'_, Message>)) {
        let messages: Vec<Message> = {
            let mut ui = self.simulator();
            f(&mut ui);
            ui.into_messages().collect()
        };
        for m in messages {
            self.send(m).await;
        }
    }

    async fn click(&mut self, text: &'static str) {
        self.interact(|ui| {
            ui.click(text)
                .unwrap_or_else(|e| panic!("click {text:?}: {e:?}"));
        })
        .await;
    }

    async fn click_owned(&mut self, text: &str) {
        let text = text.to_string();
        self.interact(move |ui| {
            ui.click(text.clone())
                .unwrap_or_else(|e| panic!("click {text:?}: {e:?}"));
        })
        .await;
    }

    async fn type_into(&mut self, input_id: &'static str, value: &str) {
        let value = value.to_string();
        self.interact(move |ui| {
            ui.click(id(input_id))
                .unwrap_or_else(|e| panic!("focus {input_id}: {e:?}"));
            ui.typewrite(&value);
        })
        .await;
    }

    fn shows(&self, text: &str) -> bool {
        self.simulator().find(text.to_string()).is_ok()
    }

    /// Where a text is drawn (its layout bounds).
    fn bounds_of(&self, text: &str) -> Rectangle {
        self.simulator()
            .find(text.to_string())
            .unwrap_or_else(|e| panic!("find {text:?}: {e:?}"))
            .bounds()
    }

    /// A text is drawn whole: not squeezed to nothing, not clipped, inside the window.
    fn fully_visible(&self, text: &str) -> bool {
        let target = self
            .simulator()
            .find(text.to_string())
            .unwrap_or_else(|e| panic!("find {text:?}: {e:?}"));
        let b = target.bounds();
        b.width > 1.0
            && b.height > 1.0
            && target.visible_bounds().is_some_and(|v| {
                (v.width - b.width).abs() < 0.5 && (v.height - b.height).abs() < 0.5
            })
            && b.x >= 0.0
            && b.y >= 0.0
            && b.x + b.width <= self.size.width
            && b.y + b.height <= self.size.height
    }

    /// Messages a list of keyboard/mouse steps produces in one window (focus kept between the steps).
    async fn keys(&mut self, f: impl FnOnce(&mut Simulator<'_, Message>)) {
        self.interact(f).await;
    }

    async fn sign_in(&mut self) {
        self.click("Connect").await;
        self.click("Sign In").await;
        if self.shows(set_domain::TITLE) {
            self.click("Set Domain").await;
        }
        self.type_into(login::USERNAME_ID, "alice").await;
        self.type_into(login::PASSWORD_ID, "alice-password").await;
        self.click("Sign In").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_add_channels_update_index_and_sign_out() {
    let w = World::new().await;
    w.write_condarc(USER_CONDARC);
    let mut h = Harness::with_world(w).await;
    assert!(h.shows("Not connected"));

    h.click("Connect").await;
    assert!(h.shows("Connect to Anaconda"));
    assert!(h.shows("REPOSITORIES"));
    h.click("Sign In").await;
    // first sign-in: Set Domain, with Navigator's texts and the emulator's address pre-filled
    assert!(h.shows(set_domain::PRIMARY_TEXT));
    assert!(h.shows(&h.world.emu.url.clone()));
    h.click("Set Domain").await;
    assert!(h.shows(login::TITLE));
    h.type_into(login::USERNAME_ID, "Alice").await;
    h.type_into(login::PASSWORD_ID, "alice-password").await;
    h.click("Sign In").await;

    // Add Channels follows, with the server's list
    assert!(h.shows(add_channels::TITLE), "Add Channels shown");
    assert!(h.shows("Connected to Anaconda Server as alice"));
    assert!(h.shows("internal"));
    assert_eq!(h.world.emu.tokens().len(), 1);
    h.type_into(add_channels::FILTER_ID, "inter").await;
    assert!(h.shows("1 of 1206 channels shown · 0 default channel(s), 0 channel(s) ticked"));
    // tick boxes (rows have no text of their own to click by)
    h.send(Message::AddChannels(add_channels::Message::ToggleDefault(
        "main".into(),
        true,
    )))
    .await;
    h.send(Message::AddChannels(add_channels::Message::ToggleChannel(
        "internal".into(),
        true,
    )))
    .await;
    h.click("Add Channels").await;

    // the dialog closed, the index ran automatically, the files are exact
    assert!(!h.shows(add_channels::TITLE));
    let rc = h.world.condarc().unwrap();
    let s = conda_connect::engine::condarc::read_settings(&rc).unwrap();
    assert_eq!(s.default_channels, Some(vec!["main".to_string()]));
    assert_eq!(
        s.channels,
        Some(vec!["defaults".to_string(), "internal".into()])
    );
    assert!(rc.starts_with("# my conda settings\n"));
    assert!(
        h.shows("corp-utils"),
        "package list shows the private channel's packages"
    );
    let elapsed = h.app.home.report.as_ref().unwrap().elapsed_ms;
    assert!(
        h.shows(&format!(
            "10 packages from 4 channel directories in {elapsed} ms — all up to date"
        )),
        "counts"
    );
    // the headings sort the package table (the index's own order is by name)
    let y = |h: &Harness, text: &str| h.bounds_of(text).y;
    assert!(y(&h, "3.12.4") < y(&h, "2.32.3"), "python before requests");
    h.click("Version").await;
    assert!(h.shows("Version ▲"));
    assert!(y(&h, "0.9.2") < y(&h, "1.4.0") && y(&h, "1.4.0") < y(&h, "2.32.3"));
    assert!(
        y(&h, "2.32.3") < y(&h, "3.12.4"),
        "by version: 2.32.3 before 3.12.4"
    );
    h.click("Version ▲").await;
    assert!(h.shows("Version ▼"));
    assert!(y(&h, "3.12.4") < y(&h, "1.4.0") && y(&h, "1.4.0") < y(&h, "0.9.2"));
    h.click("Channel").await;
    h.click("Channel ▲").await;
    assert!(
        y(&h, "main (noarch)") < y(&h, "internal (noarch)"),
        "channel descending"
    );
    h.click("Name").await;
    assert!(h.shows("Name ▲") && y(&h, "0.9.2") < y(&h, "1.4.0"));
    h.type_into(gui::screen::home::SEARCH_ID, "zzz").await;
    assert!(h.shows("No package matches “zzz”."));
    h.interact(|ui| {
        ui.click(id(gui::screen::home::SEARCH_ID)).unwrap();
        for _ in 0..3 {
            ui.tap_key(key::Named::Backspace);
        }
    })
    .await;
    h.type_into(gui::screen::home::SEARCH_ID, "numpy").await;
    assert!(h.shows("numpy-docs"));
    assert!(!h.shows("corp-utils"), "search narrows the list");

    // sign out
    h.click("Connect").await;
    assert!(h.shows("connected as alice"));
    h.click("Sign Out").await;
    assert!(h.shows("Sign out of Anaconda Server?"));
    h.click("Sign Out").await;
    assert!(h.shows("Not connected"));
    assert!(h.shows(&format!(
        "Signed out of {}. ~/.condarc was restored exactly as it was.",
        h.world.emu.url
    )));
    assert_eq!(h.world.condarc().unwrap(), USER_CONDARC);
    assert!(h.world.emu.tokens().is_empty());
    assert!(h.world.token_files().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_button_and_inline_errors() {
    let mut h = Harness::new().await;
    h.click("Connect").await;
    h.click("Sign In").await;
    h.click("Set Domain").await;
    // Sign In is disabled until both fields are filled
    h.click("Sign In").await;
    assert!(
        matches!(h.app.dialog, Some(gui::Dialog::Login(ref s)) if !s.busy && s.error.is_none())
    );
    h.type_into(login::USERNAME_ID, "alice").await;
    h.click("Sign In").await;
    assert!(matches!(h.app.dialog, Some(gui::Dialog::Login(ref s)) if !s.busy));
    h.type_into(login::PASSWORD_ID, "wrong").await;
    h.click("Sign In").await;
    assert!(h.shows("Invalid Credentials!"));
    assert!(h.world.emu.tokens().is_empty());
    // the server fails: one sentence, still in the dialog
    h.world.fault(
        "/api/auth/login",
        None,
        conda_connect::emulator::FaultKind::Status { status: 500 },
    );
    h.type_into(login::PASSWORD_ID, "alice-password").await;
    h.click("Sign In").await;
    assert!(h.shows("The server answered 500 Internal Server Error to the sign-in."));
    // Esc over typed credentials asks first; the second closes the dialog
    h.send(Message::Escape).await;
    assert!(h.app.dialog.is_some());
    assert!(h.shows(gui::screen::discard::HINT));
    h.send(Message::Escape).await;
    assert!(h.app.dialog.is_none());
    assert_eq!(h.world.condarc(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_domain_errors_and_the_trust_dialog() {
    let world = World::new().await;
    let https = self_signed_https_front(world.emu.addr).await;
    let mut h = Harness::with_world(world).await;
    h.click("Connect").await;
    h.click("Sign In").await;
    h.interact(|ui| {
        ui.click(id(set_domain::INPUT_ID)).unwrap();
    })
    .await;
    // replace the preset with something invalid
    h.send(Message::SetDomain(set_domain::Message::Input(
        "repo.example.com".into(),
    )))
    .await;
    h.click("Set Domain").await;
    assert!(h.shows(
        "Add http:// or https:// in front of the address, for example https://repo.example.com."
    ));
    // nothing answers: say so, not "invalid url"
    h.send(Message::SetDomain(set_domain::Message::Input(
        "http://127.0.0.1:1".into(),
    )))
    .await;
    h.click("Set Domain").await;
    assert!(h.shows("Nothing answers at 127.0.0.1:1. Check the address, and that you are online."));
    // a server that is not Anaconda Server keeps Navigator's words
    h.send(Message::SetDomain(set_domain::Message::Input(format!(
        "{}/not-here",
        h.world.emu.url
    ))))
    .await;
    h.click("Set Domain").await;
    assert!(h.shows(conda_connect::engine::error::INVALID_API_URL));
    // a self-signed server: the trust dialog, then the Login dialog
    h.send(Message::SetDomain(set_domain::Message::Input(
        https.clone(),
    )))
    .await;
    h.click("Set Domain").await;
    assert!(h.shows("SSL Verification Failed!"));
    assert!(h.shows(gui::screen::trust::TEXT));
    assert_eq!(h.world.ini(), None, "nothing stored before consent");
    h.click(gui::screen::trust::TRUST).await;
    assert!(h.shows(login::TITLE));
    let netloc = https.trim_start_matches("https://").to_string();
    assert!(
        h.world
            .ini()
            .unwrap()
            .contains(&format!("trusted_servers = ['{netloc}']"))
    );
    h.type_into(login::USERNAME_ID, "alice").await;
    h.type_into(login::PASSWORD_ID, "alice-password").await;
    h.click("Sign In").await;
    assert!(h.shows(add_channels::TITLE));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_channels_rules_sorting_and_skip() {
    let mut h = Harness::new().await;
    h.sign_in().await;
    assert!(h.shows(add_channels::TITLE));
    let before = h.bounds_of("Add Channels");
    h.click("Add Channels").await;
    assert!(h.shows(conda_connect::engine::error::NO_DEFAULT_CHANNEL));
    // neither the error nor filtering (one page, no pager) moves the buttons
    h.type_into(add_channels::FILTER_ID, "main").await;
    assert_eq!(h.bounds_of("Add Channels"), before, "Add Channels moved");
    h.send(Message::AddChannels(add_channels::Message::Filter(
        String::new(),
    )))
    .await;
    // sorted by Mirror first (mirrors on top), then by a click on Name
    let first = |h: &Harness| match &h.app.dialog {
        Some(gui::Dialog::AddChannels(s)) => s.visible()[0].name.clone(),
        _ => panic!("no dialog"),
    };
    assert_eq!(first(&h), "main");
    h.click("Name").await;
    assert_eq!(first(&h), "alice");
    h.click("Name ▲").await;
    assert_eq!(first(&h), "team/sub");
    h.click("Skip").await;
    assert!(h.app.dialog.is_none());
    let s = conda_connect::engine::condarc::read_settings(&h.world.condarc().unwrap()).unwrap();
    assert_eq!(s.channels, Some(vec![]), "Skip changes nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preferences_validate_and_ask_to_sign_out_before_a_domain_change() {
    let mut h = Harness::new().await;
    h.click("Preferences").await;
    assert!(h.shows("Enable SSL verification"));
    h.send(Message::Preferences(
        gui::screen::preferences::Message::Certificate("/nope/ca.pem".into()),
    ))
    .await;
    h.click("Apply").await;
    assert!(h.shows(
        "SSL certificate path: File not found. Enter the path of an existing CA bundle (.pem), choose it with Browse…, or clear the field."
    ));
    h.send(Message::Preferences(
        gui::screen::preferences::Message::Certificate(String::new()),
    ))
    .await;
    h.send(Message::Preferences(
        gui::screen::preferences::Message::Domain(h.world.emu.url.clone()),
    ))
    .await;
    h.send(Message::Preferences(
        gui::screen::preferences::Message::ShowHidden(true),
    ))
    .await;
    h.send(Message::Preferences(
        gui::screen::preferences::Message::Theme(gui::settings::ThemeChoice::Dark),
    ))
    .await;
    h.click("Apply").await;
    assert!(h.app.dialog.is_none());
    assert_eq!(
        h.app.theme(),
        gui::style::theme(gui::settings::ThemeChoice::Dark)
    );
    let ini = h.world.ini().unwrap();
    assert!(
        ini.contains(&format!("anaconda_server_api_url = '{}'", h.world.emu.url)),
        "{ini}"
    );
    assert!(
        ini.contains("anaconda_server_show_hidden_channels = True"),
        "{ini}"
    );

    h.sign_in().await;
    h.click("Skip").await;
    h.click("Preferences").await;
    // signed in: the domain is read-only, and the other changes still apply
    assert!(h.shows(preferences::SIGN_OUT_TO_CHANGE));
    h.send(Message::Preferences(
        gui::screen::preferences::Message::Domain("https://other.example.com".into()),
    ))
    .await;
    assert!(
        h.shows(&h.world.emu.url.clone()),
        "typing does not change it"
    );
    h.send(Message::Preferences(
        gui::screen::preferences::Message::Theme(gui::settings::ThemeChoice::Light),
    ))
    .await;
    h.click("Apply").await;
    assert!(h.app.dialog.is_none(), "Apply is not refused");
    assert_eq!(
        h.app.theme(),
        gui::style::theme(gui::settings::ThemeChoice::Light)
    );
    h.click("Preferences").await;
    h.click("Sign Out…").await;
    assert!(h.shows("Sign out of Anaconda Server?"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_banner_and_partial_connection() {
    let mut h = Harness::new().await;
    h.sign_in().await;
    h.click("Skip").await;
    h.world.fault(
        "/api/",
        None,
        conda_connect::emulator::FaultKind::Status { status: 503 },
    );
    h.send(Message::HealthTick).await;
    assert!(h.shows("Partially connected to Anaconda Server as alice"));
    assert!(h.shows(
        "Anaconda Server cannot be reached. Some actions may not work as expected until connection is restored."
    ));
    h.world.emu.clear_faults();
    h.send(Message::HealthTick).await;
    assert!(h.shows("Connection to Anaconda Server restored."));
    assert!(h.shows("Connected to Anaconda Server as alice"));
    h.click("Close").await;
    assert!(!h.shows("Connection to Anaconda Server restored."));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_index_reports_failed_channels_in_the_window() {
    let mut h = Harness::new().await;
    h.sign_in().await;
    h.send(Message::AddChannels(add_channels::Message::ToggleDefault(
        "main".into(),
        true,
    )))
    .await;
    h.send(Message::AddChannels(add_channels::Message::ToggleChannel(
        "team/sub".into(),
        true,
    )))
    .await;
    h.click("Add Channels").await;
    // one summary line; the per-channel lines on demand
    assert!(!h.shows("team/sub / noarch — ok (1 package)"));
    h.click(home::DETAILS).await;
    assert!(h.shows("team/sub / noarch — ok (1 package)"));
    assert!(h.shows("main / noarch — ok (4 packages)"));
    let good = h.app.home.report_time.clone().unwrap();
    h.world.fault(
        "/api/repo/team/sub",
        None,
        conda_connect::emulator::FaultKind::Status { status: 401 },
    );
    h.click("Update Index").await;
    assert!(
        h.shows("team/sub / noarch — 401, the server no longer accepts your token (0 packages)")
    );
    assert!(h.shows("main / noarch — cached (4 packages)"));
    assert!(h.shows("4 channel directories — 2 failed"));
    // the last good list stays, and says from when
    assert!(h.shows(&home::kept_words(&good)));
    assert!(
        h.shows("team-tools"),
        "the package of the failed channel is still listed"
    );
    // the token itself still works (only this channel refuses): no sign-in banner
    assert!(!h.shows(gui::SIGN_IN_AGAIN));

    // the server cannot be reached: the cause and the fix, once, not a wall of red lines alone
    h.world.emu.clear_faults();
    h.world
        .fault("/api/", None, conda_connect::emulator::FaultKind::Drop);
    h.click("Update Index").await;
    let host = h.world.emu.url.trim_start_matches("http://").to_string();
    assert!(h.shows(&format!(
        "Update Index failed: {host} cannot be reached — are you offline? Check your network or VPN, then Update Index again."
    )));

    // the token was revoked on the server: say so, with the button to sign in again
    h.world.emu.clear_faults();
    h.world.emu.state.lock().unwrap().tokens.clear();
    h.click("Update Index").await;
    assert!(h.shows(gui::TOKEN_REJECTED));
    assert!(h.shows(gui::SIGN_IN_AGAIN));
    // Sign in again signs in again: no sign-out question, no revocation promised for a refused token
    h.click(gui::SIGN_IN_AGAIN).await;
    assert!(!h.shows("Sign out of Anaconda Server?"));
    assert!(h.shows(login::TITLE), "the sign-in opens at once");
    assert!(!h.app.status.as_ref().unwrap().logged_in);
    let summary = h.app.notices.last().unwrap().text.clone();
    assert!(
        summary.contains("no longer accepted the token, so there was nothing to revoke"),
        "{summary}"
    );
    assert!(!summary.contains("retry"), "{summary}");
    assert!(h.app.engine.pending_revocations().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_screen_create_reveal_regenerate_revoke() {
    use gui::screen::tokens;
    let mut h = Harness::new().await;
    assert!(!h.shows("Tokens"), "no Tokens button before sign-in");
    h.sign_in().await;
    h.click("Skip").await;
    h.click("Tokens").await;
    assert!(h.shows(tokens::TITLE));
    let sign_in_name = h.world.emu.tokens()[0].name.clone();
    assert!(h.shows(&format!("{sign_in_name} (conda's sign-in token)")));

    // new token: name, default scopes, one-year expiry; Create is disabled without a name
    h.click("New token").await;
    assert!(h.shows("New token"));
    h.click("Create token").await;
    assert_eq!(h.world.emu.tokens().len(), 1);
    h.type_into(tokens::NAME_ID, "ci-pipeline").await;
    h.click("30 days").await;
    h.click("Create token").await;
    assert!(h.shows("Token \u{201c}ci-pipeline\u{201d} created"));
    assert!(h.shows(tokens::NOT_SHOWN_AGAIN));
    let created = h
        .world
        .emu
        .tokens()
        .into_iter()
        .find(|t| t.name == "ci-pipeline")
        .unwrap();
    let in_30 = (conda_connect::engine::tokens::today() + chrono::Duration::days(30))
        .format("%Y-%m-%d")
        .to_string();
    assert_eq!(created.expires_at.as_deref(), Some(in_30.as_str()));
    assert!(h.shows(&created.token), "the value is revealed once");
    assert!(h.shows(&format!(
        "conda config --add channels {}/api/repo/t/{}/main",
        h.world.emu.url, created.token
    )));
    assert!(h.shows(&format!(
        "pip install --index-url http://{}:x-auth-token@{}/api/repo/main/simple <package>",
        created.token,
        h.world.emu.url.trim_start_matches("http://")
    )));
    h.click("Copy").await;
    assert!(h.shows(tokens::COPIED), "Copy says it copied");
    h.click("Done").await;
    assert!(!h.shows(&created.token), "not shown again");
    assert!(
        h.shows(&format!("{in_30} (in 30 days)")),
        "expiring soon is highlighted"
    );

    // regenerate the new token (confirmation first)
    h.send(Message::Tokens(tokens::Message::Ask(
        tokens::Change::Regenerate,
        created.id.clone(),
    )))
    .await;
    assert!(h.shows("Regenerate \u{201c}ci-pipeline\u{201d}?"));
    h.click("Regenerate").await;
    let regenerated = h
        .world
        .emu
        .tokens()
        .into_iter()
        .find(|t| t.id == created.id)
        .unwrap()
        .token;
    assert_ne!(regenerated, created.token);
    assert!(h.shows(&regenerated));
    // not copied: leaving asks first, in the place of Done (which does not move)
    let done = h.bounds_of("Done");
    h.click("Done").await;
    assert!(h.shows(tokens::NOT_COPIED));
    assert!(h.shows(&regenerated), "still shown while asking");
    assert_eq!(
        h.bounds_of(tokens::STAY).y,
        done.y,
        "the question sits on Done's row"
    );
    h.send(Message::Escape).await;
    assert!(!h.shows(tokens::NOT_COPIED), "Esc: back to the token");
    assert!(h.shows(&regenerated));
    h.click("Done").await;
    h.click(tokens::LEAVE).await;
    assert!(!h.shows(&regenerated), "left without copying, as chosen");
    // the Copy button keeps its width when it says Copied
    h.send(Message::Tokens(tokens::Message::Ask(
        tokens::Change::Regenerate,
        created.id.clone(),
    )))
    .await;
    h.click("Regenerate").await;
    let value = h
        .world
        .emu
        .tokens()
        .into_iter()
        .find(|t| t.id == created.id)
        .unwrap()
        .token;
    let beside = h.bounds_of(&value);
    h.send(Message::Tokens(tokens::Message::Copy(value.clone())))
        .await;
    assert!(h.shows(tokens::COPIED));
    assert_eq!(
        h.bounds_of(&value),
        beside,
        "the value beside Copy keeps its width"
    );
    h.click("Done").await;
    assert!(!h.shows(tokens::NOT_COPIED), "copied: Done leaves at once");

    // revoke it
    h.send(Message::Tokens(tokens::Message::Ask(
        tokens::Change::Revoke,
        created.id.clone(),
    )))
    .await;
    assert!(h.shows("Revoke \u{201c}ci-pipeline\u{201d}?"));
    // Esc goes back one level (to the list), not out of the dialog
    h.send(Message::Escape).await;
    assert!(h.shows(tokens::TITLE));
    let new_token = h.bounds_of("New token");
    h.send(Message::Tokens(tokens::Message::Ask(
        tokens::Change::Revoke,
        created.id.clone(),
    )))
    .await;
    h.click("Revoke").await;
    assert!(h.world.emu.tokens().iter().all(|t| t.id != created.id));
    assert!(
        h.shows("Token \u{201c}ci-pipeline\u{201d} revoked."),
        "a confirmation"
    );
    assert_eq!(
        h.bounds_of("New token"),
        new_token,
        "the confirmation moves no button"
    );
    assert!(!h.shows("ci-pipeline"), "gone from the list");

    // the sign-in token is not revoked from here: sign out instead
    let sign_in_id = h.world.emu.tokens()[0].id.clone();
    h.send(Message::Tokens(tokens::Message::Ask(
        tokens::Change::Revoke,
        sign_in_id,
    )))
    .await;
    assert!(h.shows("This is the token conda uses"));
    h.click("Sign Out…").await;
    assert!(h.shows("Sign out of Anaconda Server?"));
    assert_eq!(h.world.emu.tokens().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_token_expiring_soon_is_renewed_in_one_click() {
    let mut h = Harness::new().await;
    h.sign_in().await;
    h.click("Skip").await;
    assert!(h.app.sign_in_expiry.is_none());
    let in_12 = (conda_connect::engine::tokens::today() + chrono::Duration::days(12))
        .format("%Y-%m-%d")
        .to_string();
    h.world.emu.state.lock().unwrap().tokens[0].expires_at = Some(in_12);
    let task = h.app.update(Message::StatusLoaded(h.app.engine.status()));
    h.settle(task).await;
    assert!(h.shows("conda's sign-in token expires in 12 days."));
    let value = h.world.emu.tokens()[0].token.clone();
    h.click("Renew for a year").await;
    let in_365 = (conda_connect::engine::tokens::today() + chrono::Duration::days(365))
        .format("%Y-%m-%d")
        .to_string();
    assert!(h.shows(&format!(
        "conda's sign-in token was renewed; it now expires on {in_365}."
    )));
    assert!(!h.shows("conda's sign-in token expires in 12 days."));
    assert_eq!(h.world.emu.tokens()[0].expires_at, Some(in_365));
    assert_eq!(
        h.world.emu.tokens()[0].token,
        value,
        "same value: conda's files stay valid"
    );
}

// ------------------------------------------------------------------------------------------------ traps

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channels_screen_is_reachable_any_time_and_applies_through_the_engine() {
    let mut h = Harness::new().await;
    h.sign_in().await;
    // the picker after sign-in is skipped: the window says no channel is chosen, with a button
    h.click("Skip").await;
    assert!(h.shows(gui::NO_CHANNELS));
    h.click(gui::CHOOSE_CHANNELS).await;
    assert!(h.shows(add_channels::MANAGE_TITLE));
    assert!(h.shows("In your ~/.condarc now — default_channels: (none) · channels: (none)"));
    h.send(Message::AddChannels(add_channels::Message::ToggleDefault(
        "main".into(),
        true,
    )))
    .await;
    h.send(Message::AddChannels(add_channels::Message::ToggleChannel(
        "internal".into(),
        true,
    )))
    .await;
    h.click("Apply").await;
    assert!(h.app.dialog.is_none());
    let s = conda_connect::engine::condarc::read_settings(&h.world.condarc().unwrap()).unwrap();
    assert_eq!(s.default_channels, Some(vec!["main".to_string()]));
    assert_eq!(
        s.channels,
        Some(vec!["defaults".to_string(), "internal".into()])
    );
    assert!(h.shows(
        "Channels saved to ~/.condarc — default_channels: main; channels: defaults, internal."
    ));
    assert!(
        !h.shows(gui::NO_CHANNELS),
        "the warning leaves once channels are chosen"
    );
    assert!(
        h.shows("corp-utils"),
        "Update Index ran with the new channels"
    );

    // reachable again from the header: the current selection is ticked; untick to remove
    h.click("Channels").await;
    assert!(
        h.shows("In your ~/.condarc now — default_channels: main · channels: defaults, internal")
    );
    match &h.app.dialog {
        Some(gui::Dialog::AddChannels(s)) => {
            assert_eq!(s.selection().default_channels, vec!["main".to_string()]);
            assert_eq!(s.selection().channels, vec!["internal".to_string()]);
        }
        other => panic!("{other:?}"),
    }
    h.send(Message::AddChannels(add_channels::Message::ToggleChannel(
        "internal".into(),
        false,
    )))
    .await;
    h.click("Apply").await;
    let s = conda_connect::engine::condarc::read_settings(&h.world.condarc().unwrap()).unwrap();
    assert_eq!(s.channels, Some(vec!["defaults".to_string()]));

    // Cancel changes nothing
    h.click("Channels").await;
    h.send(Message::AddChannels(add_channels::Message::ToggleChannel(
        "internal".into(),
        true,
    )))
    .await;
    let before = h.world.condarc();
    h.click("Cancel").await;
    assert!(h.app.dialog.is_none());
    assert_eq!(h.world.condarc(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_picker_pages_through_every_channel_without_a_filter() {
    let mut h = Harness::new().await;
    h.sign_in().await;
    assert!(h.shows(&format!(
        "1–{} of 1206 channels shown · 0 default channel(s), 0 channel(s) ticked",
        add_channels::MAX_ROWS
    )));
    for _ in 0..(1206 / add_channels::MAX_ROWS) {
        h.click("Next").await;
    }
    let last_first = (1206 / add_channels::MAX_ROWS) * add_channels::MAX_ROWS + 1;
    assert!(h.shows(&format!(
        "{last_first}–1206 of 1206 channels shown · 0 default channel(s), 0 channel(s) ticked"
    )));
    h.click("Previous").await;
    assert!(h.shows(&format!(
        "{}–{} of 1206 channels shown · 0 default channel(s), 0 channel(s) ticked",
        last_first - add_channels::MAX_ROWS,
        last_first - 1
    )));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_click_outside_a_dialog_never_discards_what_was_typed() {
    let mut h = Harness::new().await;
    h.click("Preferences").await;
    h.send(Message::Preferences(preferences::Message::Theme(
        gui::settings::ThemeChoice::Dark,
    )))
    .await;
    h.interact(|ui| {
        ui.point_at(Point::new(8.0, 690.0));
        ui.simulate(simulator::click());
    })
    .await;
    match &h.app.dialog {
        Some(gui::Dialog::Preferences(s)) => {
            assert_eq!(
                s.theme,
                gui::settings::ThemeChoice::Dark,
                "the choice is kept"
            )
        }
        other => panic!("the dialog closed: {other:?}"),
    }
    // Esc with unsaved changes asks first; a second Esc discards
    h.send(Message::Escape).await;
    assert!(h.shows(preferences::DISCARD_HINT));
    assert!(h.app.dialog.is_some());
    h.send(Message::Escape).await;
    assert!(h.app.dialog.is_none());
    // unchanged: one Esc closes
    h.click("Preferences").await;
    h.send(Message::Escape).await;
    assert!(h.app.dialog.is_none());

    // the channel picker after sign-in: a click outside keeps the ticks
    h.sign_in().await;
    h.send(Message::AddChannels(add_channels::Message::ToggleDefault(
        "main".into(),
        true,
    )))
    .await;
    h.interact(|ui| {
        ui.point_at(Point::new(8.0, 690.0));
        ui.simulate(simulator::click());
    })
    .await;
    h.send(Message::Escape).await;
    assert!(h.shows(add_channels::DISCARD_HINT));
    h.click("Add Channels").await;
    let s = conda_connect::engine::condarc::read_settings(&h.world.condarc().unwrap()).unwrap();
    assert_eq!(s.default_channels, Some(vec!["main".to_string()]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dialog_buttons_stay_put_when_an_error_appears_or_clears() {
    let mut h = Harness::new().await;
    h.click("Connect").await;
    h.click("Sign In").await;
    let before = h.bounds_of("Set Domain");
    h.send(Message::SetDomain(set_domain::Message::Input(
        "http://127.0.0.1:1".into(),
    )))
    .await;
    h.click("Set Domain").await;
    assert!(h.shows("Nothing answers at 127.0.0.1:1. Check the address, and that you are online."));
    assert_eq!(h.bounds_of("Set Domain"), before, "Set Domain moved");
    h.send(Message::SetDomain(set_domain::Message::Input(
        h.world.emu.url.clone(),
    )))
    .await;
    assert_eq!(h.bounds_of("Set Domain"), before, "Set Domain moved back");
    h.click("Set Domain").await;

    h.type_into(login::USERNAME_ID, "alice").await;
    h.type_into(login::PASSWORD_ID, "wrong").await;
    let before = h.bounds_of("Sign In");
    h.click("Sign In").await;
    assert!(h.shows("Invalid Credentials!"));
    assert_eq!(h.bounds_of("Sign In"), before, "Sign In moved");
    // typed credentials: the first Esc asks, beside the buttons (which stay put), the second discards
    h.send(Message::Escape).await;
    assert!(h.shows(gui::screen::discard::HINT));
    assert!(
        h.shows("Invalid Credentials!"),
        "the error stays beside the question"
    );
    assert_eq!(
        h.bounds_of("Sign In"),
        before,
        "Sign In moved with the question"
    );
    h.send(Message::Escape).await;
    assert!(h.app.dialog.is_none());
    h.click("Preferences").await;
    let before = h.bounds_of("Apply");
    h.send(Message::Preferences(preferences::Message::Certificate(
        "/nope/ca.pem".into(),
    )))
    .await;
    h.click("Apply").await;
    assert!(h.shows(
        "SSL certificate path: File not found. Enter the path of an existing CA bundle (.pem), choose it with Browse…, or clear the field."
    ));
    assert_eq!(h.bounds_of("Apply"), before, "Apply moved");
    // Esc with the error shown: the unsaved-changes question has its own place, the error stays
    h.send(Message::Escape).await;
    assert!(h.shows(preferences::DISCARD_HINT));
    assert!(h.shows(
        "SSL certificate path: File not found. Enter the path of an existing CA bundle (.pem), choose it with Browse…, or clear the field."
    ));
    assert_eq!(
        h.bounds_of("Apply"),
        before,
        "Apply moved with the question"
    );
    h.send(Message::Escape).await;
    assert!(h.app.dialog.is_none(), "the second Esc discards");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notices_leave_with_their_state() {
    let mut h = Harness::new().await;
    h.sign_in().await;
    h.click("Skip").await;
    h.click("Connect").await;
    h.click("Sign Out").await;
    h.click("Sign Out").await;
    let signed_out = format!(
        "Signed out of {}. ~/.condarc was removed again (it did not exist before you signed in). {}",
        h.world.emu.url,
        gui::CONDA_DEFAULTS
    );
    assert!(
        h.shows(&signed_out),
        "one notice: what happened and what conda uses"
    );
    assert!(
        h.app.home.report.is_none(),
        "no Update Index against conda's public defaults"
    );
    h.sign_in().await;
    assert!(
        !h.shows(&signed_out),
        "the signed-out notice left with the signed-out state"
    );
}

// ------------------------------------------------------------------------------------------------ keyboard

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyboard_only_sign_in_and_channel_choice() {
    let mut h = Harness::new().await;
    // main window: Tab reaches the header buttons (Preferences, Connect); Enter presses the focused one
    h.keys(|ui| {
        tab(ui, 2);
        ui.tap_key(key::Named::Enter);
    })
    .await;
    assert!(h.shows("Connect to Anaconda"));
    // Connect: Enter is the card's Sign In
    h.keys(|ui| {
        ui.tap_key(key::Named::Enter);
    })
    .await;
    assert!(h.shows(set_domain::TITLE));
    // Set Domain: the preset domain, Enter
    h.keys(|ui| {
        ui.tap_key(key::Named::Enter);
    })
    .await;
    assert!(h.shows(login::TITLE));
    // Login: Tab into Username, type, Tab to Password, type, Enter
    h.keys(|ui| {
        tab(ui, 1);
        ui.typewrite("alice");
        tab(ui, 1);
        ui.typewrite("alice-password");
        ui.tap_key(key::Named::Enter);
    })
    .await;
    assert!(h.shows(add_channels::TITLE));
    // the picker: filter, then Tab to the first row's default_channels box, Space ticks, Enter = Add Channels
    h.keys(|ui| {
        tab(ui, 1);
        ui.typewrite("main");
    })
    .await;
    let first = match &h.app.dialog {
        Some(gui::Dialog::AddChannels(s)) => s.visible()[0].name.clone(),
        other => panic!("{other:?}"),
    };
    h.keys(|ui| {
        // filter, four sortable headings, then the row's first box
        tab(ui, 6);
        ui.tap_key(key::Named::Space);
        ui.tap_key(key::Named::Enter);
    })
    .await;
    assert!(h.app.dialog.is_none(), "Enter saved the choice");
    let s = conda_connect::engine::condarc::read_settings(&h.world.condarc().unwrap()).unwrap();
    assert_eq!(s.default_channels, Some(vec![first]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tab_cycles_through_every_control_with_a_visible_ring() {
    let mut h = Harness::new().await;
    h.sign_in().await;
    h.click("Skip").await;
    // header: Channels, Tokens, Preferences, Connect (then the banner's button and Update Index)
    for (n, expected) in [
        (1, "Channels"),
        (2, "Tokens"),
        (3, "Preferences"),
        (4, "Connect"),
    ] {
        let messages: Vec<Message> = {
            let mut ui = h.simulator();
            tab(&mut ui, n);
            ui.tap_key(key::Named::Space);
            ui.into_messages().collect()
        };
        let got = format!("{messages:?}");
        assert!(
            got.contains(&format!("Open{expected}")),
            "Tab ×{n} then Space: {got}"
        );
    }
    // Shift-Tab from nothing wraps to the last control; Tab from the last wraps to the first
    let messages: Vec<Message> = {
        let mut ui = h.simulator();
        shift_tab(&mut ui);
        tab(&mut ui, 2);
        ui.tap_key(key::Named::Enter);
        ui.into_messages().collect()
    };
    assert!(
        format!("{messages:?}").contains("OpenTokens"),
        "{messages:?}"
    );

    // the ring is visible: the window looks different once a control has the focus
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("before.png");
    let theme = h.app.theme();
    let mut ui = h.simulator();
    assert!(ui.snapshot(&theme).unwrap().matches_image(&png).unwrap());
    tab(&mut ui, 1);
    assert!(
        !ui.snapshot(&theme).unwrap().matches_image(&png).unwrap(),
        "no visible focus ring"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escape_works_from_a_focused_field_and_asks_before_discarding_what_was_typed() {
    let mut h = Harness::new().await;
    h.click("Connect").await;
    h.click("Sign In").await;
    h.click("Set Domain").await;
    h.keys(|ui| {
        ui.click(id(login::USERNAME_ID)).unwrap();
        ui.typewrite("al");
        ui.tap_key(key::Named::Escape);
    })
    .await;
    assert!(h.app.dialog.is_some(), "typed input: Esc asks first");
    assert!(h.shows(gui::screen::discard::HINT));
    h.keys(|ui| {
        ui.click(id(login::USERNAME_ID)).unwrap();
        ui.tap_key(key::Named::Escape);
    })
    .await;
    assert!(
        h.app.dialog.is_none(),
        "the second Esc, from the field, discards"
    );
    // with nothing typed one Esc closes
    h.click("Connect").await;
    h.click("Sign In").await;
    h.keys(|ui| {
        ui.click(id(login::USERNAME_ID)).unwrap();
        ui.tap_key(key::Named::Escape);
    })
    .await;
    assert!(h.app.dialog.is_none());
    // under a dialog the window takes no keys: Tab stays inside the dialog
    h.click("Connect").await;
    let messages: Vec<Message> = {
        let mut ui = h.simulator();
        tab(&mut ui, 2);
        ui.tap_key(key::Named::Enter);
        ui.into_messages().collect()
    };
    let got = format!("{messages:?}");
    assert!(got.contains("Connect(SignIn)"), "{got}");
    assert!(!got.contains("OpenPreferences"), "{got}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_shortcuts() {
    let mut h = Harness::new().await;
    let ctrl = |c: &str| {
        key_press(
            keyboard::Key::Character(c.into()),
            keyboard::Modifiers::CTRL,
        )
    };
    h.keys(|ui| {
        ui.simulate([ctrl("k")]);
    })
    .await;
    assert!(h.shows("Connect to Anaconda"));
    h.send(Message::Escape).await;
    h.keys(|ui| {
        ui.simulate([ctrl(",")]);
    })
    .await;
    assert!(h.shows("Enable SSL verification"));
    h.send(Message::Escape).await;
    h.sign_in().await;
    h.click("Skip").await;
    h.keys(|ui| {
        ui.simulate([ctrl("l")]);
    })
    .await;
    assert!(h.shows(add_channels::MANAGE_TITLE));
    h.send(Message::Escape).await;
    h.keys(|ui| {
        ui.simulate([ctrl("t")]);
    })
    .await;
    assert!(h.shows(gui::screen::tokens::TITLE));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_trust_question_defaults_to_cancel() {
    let world = World::new().await;
    let https = self_signed_https_front(world.emu.addr).await;
    let mut h = Harness::with_world(world).await;
    h.click("Connect").await;
    h.click("Sign In").await;
    h.send(Message::SetDomain(set_domain::Message::Input(
        https.clone(),
    )))
    .await;
    h.click("Set Domain").await;
    assert!(h.shows(trust::TITLE));
    // the certificate, to compare with what the administrator published (a handshake only: nothing stored)
    assert!(h.shows("CN=rcgen self signed cert"), "subject and issuer");
    let fingerprint = match &h.app.dialog {
        Some(gui::Dialog::SetDomain(s)) => {
            s.trust
                .state()
                .unwrap()
                .certificate
                .clone()
                .unwrap()
                .unwrap()
                .sha256
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(fingerprint.len(), 32 * 3 - 1, "{fingerprint}");
    let lines = trust::fingerprint_lines(&fingerprint);
    assert_eq!(lines.join(":"), fingerprint);
    assert!(lines.iter().all(|l| h.shows(l)), "{lines:?}");
    // Enter outside a field: Cancel, not Trust
    h.keys(|ui| {
        ui.tap_key(key::Named::Enter);
    })
    .await;
    let netloc = https.trim_start_matches("https://").to_string();
    assert!(h.shows(&trust::cancelled(&netloc)));
    assert!(!h.shows(conda_connect::engine::error::INVALID_API_URL));
    assert_eq!(h.world.ini(), None, "nothing trusted, nothing stored");
    // Esc in the question goes back to the form, not out of the dialog
    h.click("Set Domain").await;
    h.send(Message::Escape).await;
    assert!(h.shows(set_domain::TITLE));
}

/// Trusting pins the certificate shown; when the server later presents another one, the window does not go on
/// silently: the question comes back, saying the certificate changed and showing the one trusted before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_certificate_asks_again_and_shows_both() {
    let world = World::new().await;
    let front = SwappableTlsFront::start(world.emu.addr).await;
    let mut h = Harness::with_world(world).await;
    h.click("Connect").await;
    h.click("Sign In").await;
    h.send(Message::SetDomain(set_domain::Message::Input(
        front.url.clone(),
    )))
    .await;
    h.click("Set Domain").await;
    assert!(h.shows(trust::TITLE));
    let first = match &h.app.dialog {
        Some(gui::Dialog::SetDomain(s)) => {
            s.trust
                .state()
                .unwrap()
                .certificate
                .clone()
                .unwrap()
                .unwrap()
                .sha256
        }
        other => panic!("{other:?}"),
    };
    h.click(trust::TRUST).await;
    assert!(h.world.ini().unwrap().contains(&first), "pinned");
    // the server's certificate changes
    front.swap();
    h.send(Message::ReviewCertificate).await;
    h.send(Message::SetDomain(set_domain::Message::Input(
        front.url.clone(),
    )))
    .await;
    h.click("Set Domain").await;
    assert!(h.shows(trust::CHANGED_TITLE));
    let lines = trust::fingerprint_lines(&first);
    assert!(
        lines.iter().all(|l| h.shows(l)),
        "the one trusted before is shown"
    );
    h.send(Message::Escape).await;
    assert!(
        h.world.ini().unwrap().contains(&first),
        "nothing changed on Cancel"
    );
    h.click("Set Domain").await;
    h.click(trust::TRUST).await;
    assert!(
        !h.world.ini().unwrap().contains(&first),
        "the new one replaced it"
    );
}

/// A sign-in or sign-out made on the command line while the window is open shows in the window at the next look
/// (every few seconds, and when the window gets the focus), without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_window_notices_a_sign_in_and_out_made_on_the_command_line() {
    let world = World::new().await;
    world.set_domain().await;
    let mut h = Harness::with_world(world).await;
    assert!(h.shows("Not connected"));
    h.send(Message::CheckForChanges).await;
    assert!(
        h.shows("Not connected"),
        "nothing changed, nothing reloaded"
    );
    let out = cli(
        h.world.home.path(),
        &[
            "login",
            "--username",
            "alice",
            "--password-stdin",
            "--skip-channels",
        ],
        Some("alice-password\n"),
        &[],
    )
    .await;
    assert!(out.status.success(), "{}", output_text(&out));
    h.send(Message::CheckForChanges).await;
    assert!(!h.shows("Not connected"), "the window shows the sign-in");
    assert!(h.app.status.as_ref().unwrap().logged_in);
    let out = cli(h.world.home.path(), &["logout"], None, &[]).await;
    assert!(out.status.success(), "{}", output_text(&out));
    h.send(Message::CheckForChanges).await;
    assert!(h.shows("Not connected"), "and the sign-out");
}

/// Every client at the desk, from the window: the Preferences checkbox turns netrc on for the next sign-ins, and
/// after the sign-in the main window says which clients are signed in and where their credentials are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_window_signs_in_pip_and_uv_when_asked_and_says_which_clients_are_signed_in() {
    let mut h = Harness::new().await;
    h.send(Message::OpenPreferences).await;
    assert!(h.shows(preferences::NETRC_LABEL));
    h.click(preferences::NETRC_LABEL).await;
    h.click("Apply").await;
    assert!(
        h.world.ini().unwrap().contains("netrc = True"),
        "remembered"
    );
    h.sign_in().await;
    h.click("Skip").await;
    assert!(h.shows("• conda (token files)"));
    assert!(h.shows(&format!(
        "• pixi, rattler-build ({})",
        conda_connect::engine::clients::rattler::credentials_file(&h.world.paths).display()
    )));
    let netrc = conda_connect::engine::clients::netrc::netrc_file(&h.world.paths);
    assert!(h.shows(&format!("• pip, uv ({})", netrc.display())));
    assert!(
        std::fs::read_to_string(&netrc)
            .unwrap()
            .contains("machine 127.0.0.1")
    );
}

/// A token someone was given signs in from the window too: *Use a token instead* shows one masked field; the
/// window says it is a token sign-in, and sign-out leaves the token valid on the server (it is not ours).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_you_were_given_signs_in_from_the_window() {
    use conda_connect::emulator::state::GivenToken;
    let mut h = Harness::new().await;
    let token = h.world.emu.state.lock().unwrap().give_token(&GivenToken {
        channel: Some("internal".into()),
        ..Default::default()
    });
    h.click("Connect").await;
    h.click("Sign In").await;
    h.click("Set Domain").await;
    h.click(login::USE_TOKEN).await;
    assert!(h.shows(login::TOKEN_TEXT));
    // a mistyped token: one sentence, nothing changed
    h.type_into(login::TOKEN_ID, "not-the-token-0000").await;
    h.click("Sign In").await;
    assert!(h.shows(&format!(
        "This token is not accepted by {}: it is expired, revoked or mistyped.",
        h.world.emu.url
    )));
    let typed = match &mut h.app.dialog {
        Some(gui::Dialog::Login(s)) => {
            s.token.clear();
            s.token.clone()
        }
        other => panic!("{other:?}"),
    };
    assert!(typed.is_empty());
    h.type_into(login::TOKEN_ID, &token).await;
    h.click("Sign In").await;
    assert!(
        h.shows(add_channels::TITLE),
        "then Add Channels, as after a password"
    );
    h.click("Skip").await;
    assert_eq!(
        h.app.status.as_ref().unwrap().auth.as_deref(),
        Some("token")
    );
    assert_eq!(
        h.world.emu.tokens().len(),
        1,
        "no token of conda-connect's own was made"
    );
    // it expires soon: the window says whom to ask and offers no renewal (the token is its owner's)
    let in_5 = (conda_connect::engine::tokens::today() + chrono::Duration::days(5))
        .format("%Y-%m-%d")
        .to_string();
    h.world.emu.state.lock().unwrap().tokens[0].expires_at = Some(in_5);
    let task = h.app.update(Message::StatusLoaded(h.app.engine.status()));
    h.settle(task).await;
    assert!(h.shows("The token you were given expires in 5 days. Ask its owner for a new one."));
    assert!(!h.shows("Renew for a year"));
    assert!(!h.shows("conda's sign-in token expires in 5 days."));
    h.world.engine().logout().await.unwrap();
    assert_eq!(h.world.emu.tokens().len(), 1, "the given token stays valid");
}

#[test]
fn a_broken_policy_gets_a_window_of_its_own_with_its_sentence() {
    use gui::refused;
    let sentence = "The policy in /etc/conda-connect/policy.json cannot be used (domian: it is not a policy \
                    setting). Nothing was changed.";
    let (mut state, _) = refused::State::new(sentence);
    let settings = Settings {
        fonts: vec![
            gui::FONT_REGULAR.into(),
            gui::FONT_BOLD.into(),
            gui::FONT_ICONS.into(),
        ],
        default_font: gui::DEFAULT_FONT,
        ..Settings::default()
    };
    let messages: Vec<refused::Message> = {
        let mut ui = Simulator::with_size(settings.clone(), refused::SIZE, state.view());
        assert!(ui.find(refused::TITLE).is_ok());
        assert!(
            ui.find(sentence).is_ok(),
            "the whole sentence, file and key"
        );
        assert!(ui.find(refused::ADVICE).is_ok());
        ui.click("Copy").unwrap();
        ui.click("Close").unwrap();
        ui.into_messages().collect()
    };
    assert_eq!(messages, [refused::Message::Copy, refused::Message::Close]);
    let _ = state.update(refused::Message::Copy);
    assert!(state.copied());
    // the keyboard alone: Esc closes, and so does Enter (Close is the default button)
    let messages: Vec<refused::Message> = {
        let mut ui = Simulator::with_size(settings.clone(), refused::SIZE, state.view());
        ui.tap_key(keyboard::Key::Named(key::Named::Escape));
        ui.tap_key(keyboard::Key::Named(key::Named::Enter));
        ui.into_messages().collect()
    };
    assert_eq!(messages, [refused::Message::Close, refused::Message::Close]);
    // Copied ✓ in place of Copy: the sentence is all there is to copy
    let mut ui = Simulator::with_size(settings, refused::SIZE, state.view());
    assert!(ui.find(style::COPIED).is_ok());
}

#[test]
fn the_window_shortcuts_quit_close_and_open_what_their_tooltips_say() {
    let ctrl = keyboard::Modifiers::CTRL;
    let none = keyboard::Modifiers::empty();
    let char_key = |c: &str| keyboard::Key::Character(c.into());
    let shortcut = |dialog: bool, signed_in: bool, key: keyboard::Key, modifiers| {
        App::shortcut(dialog, signed_in, &key, modifiers).map(|m| format!("{m:?}"))
    };
    // Ctrl+Q quits from anywhere; Ctrl+W closes the dialog on top (as Esc does), else the window
    for dialog in [false, true] {
        assert_eq!(
            shortcut(dialog, true, char_key("q"), ctrl).as_deref(),
            Some("Quit")
        );
    }
    assert_eq!(
        shortcut(true, true, char_key("w"), ctrl).as_deref(),
        Some("Escape")
    );
    assert_eq!(
        shortcut(false, true, char_key("w"), ctrl).as_deref(),
        Some("Quit")
    );
    // with a dialog open only Enter is the window's (the dialog's default button); the header's keys are not
    assert_eq!(
        shortcut(true, true, keyboard::Key::Named(key::Named::Enter), none).as_deref(),
        Some("Enter")
    );
    assert_eq!(shortcut(true, true, char_key("k"), ctrl), None);
    assert_eq!(
        shortcut(true, true, keyboard::Key::Named(key::Named::F5), none),
        None
    );
    // the header: Connect, Preferences, Update Index, search and Diagnose always; Channels and Tokens signed in
    for (key, want) in [
        ("k", "OpenConnect"),
        (",", "OpenPreferences"),
        ("r", "UpdateIndex"),
        ("f", "FocusSearch"),
        ("d", "OpenDiagnose"),
    ] {
        assert_eq!(
            shortcut(false, false, char_key(key), ctrl).as_deref(),
            Some(want)
        );
    }
    assert_eq!(shortcut(false, false, char_key("l"), ctrl), None);
    assert_eq!(shortcut(false, false, char_key("t"), ctrl), None);
    assert_eq!(
        shortcut(false, true, char_key("l"), ctrl).as_deref(),
        Some("OpenChannels")
    );
    assert_eq!(
        shortcut(false, true, char_key("t"), ctrl).as_deref(),
        Some("OpenTokens")
    );
    assert_eq!(
        shortcut(false, false, keyboard::Key::Named(key::Named::F5), none).as_deref(),
        Some("UpdateIndex")
    );
    assert_eq!(
        shortcut(false, true, char_key("k"), none),
        None,
        "a letter alone types"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_title_names_the_server_and_empty_states_say_what_to_do() {
    let mut h = Harness::new().await;
    assert_eq!(h.app.title(), gui::APP_NAME);
    assert!(
        h.shows(home::NOT_SIGNED_IN),
        "the first run says what to do"
    );
    h.sign_in().await;
    h.click("Skip").await;
    let netloc = h.world.emu.url.trim_start_matches("http://").to_string();
    assert_eq!(
        h.app.title(),
        format!("{} — signed in to {netloc}", gui::APP_NAME)
    );
    assert!(
        h.shows(home::NO_INDEX_YET),
        "signed in, nothing fetched yet: says how to fetch"
    );
}

// ------------------------------------------------------------------------------------------------ health, window

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_health_check_notices_a_revoked_token() {
    let mut h = Harness::new().await;
    h.sign_in().await;
    h.click("Skip").await;
    h.send(Message::HealthTick).await;
    assert!(h.shows("Connected to Anaconda Server as alice"));
    h.world.emu.state.lock().unwrap().tokens.clear();
    h.send(Message::HealthTick).await;
    assert!(h.shows(gui::TOKEN_REJECTED));
    assert!(
        !h.shows("Connected to Anaconda Server as alice"),
        "no false Connected"
    );
    assert!(h.shows("Signed in as alice, but the token is refused"));

    // the same at start: a new window checks the token at once
    let config = Config {
        engine: h.world.engine(),
        preset_domain: None,
        login_hint: None,
        note: None,
    };
    let (app, boot) = App::new(config);
    h.app = app;
    h.settle(boot).await;
    assert!(h.shows(gui::TOKEN_REJECTED));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_layout_fits_the_minimum_window() {
    let mut h = Harness::new().await;
    h.size = gui::MIN_SIZE;
    assert_eq!(gui::window_settings().min_size, Some(gui::MIN_SIZE));
    h.sign_in().await;
    for label in ["Add Channels", "Skip", "Next"] {
        assert!(h.fully_visible(label), "{label} is cut off");
    }
    h.click("Skip").await;
    for label in [
        "Channels",
        "Tokens",
        "Preferences",
        "Connect",
        "Update Index",
        gui::CHOOSE_CHANNELS,
    ] {
        assert!(h.fully_visible(label), "{label} is cut off");
    }
    // the tallest dialog: Preferences while signed in (the read-only domain and its note)
    h.click("Preferences").await;
    for label in [preferences::SSO_CLIENT_ID_LABEL, "Theme", "Apply"] {
        assert!(h.fully_visible(label), "{label} is cut off");
    }
    h.click("Cancel").await;
    h.click("Tokens").await;
    assert!(h.fully_visible("New token"));
    h.click("New token").await;
    assert!(h.fully_visible("Create token"));
}

#[test]
fn the_window_class_matches_the_desktop_file() {
    let desktop = include_str!("../../packaging/conda-connect.desktop");
    assert!(desktop.contains(&format!("StartupWMClass={}\n", gui::APP_ID)));
    #[cfg(target_os = "linux")]
    assert_eq!(
        gui::window_settings().platform_specific.application_id,
        gui::APP_ID
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tab_skips_disabled_buttons() {
    let mut h = Harness::new().await;
    h.click("Connect").await;
    h.click("Sign In").await;
    h.click("Set Domain").await;
    // Username, Password, Use a token instead, Cancel — Sign In is disabled while the fields are empty — then
    // around to Username
    let messages: Vec<Message> = {
        let mut ui = h.simulator();
        tab(&mut ui, 5);
        ui.typewrite("x");
        ui.into_messages().collect()
    };
    let got = format!("{messages:?}");
    assert!(got.contains("Login(Username(\"x\"))"), "{got}");
}

/// The SSO button's task is driven by hand, so the window can be checked while it waits for the browser.
async fn next_sso_output(
    stream: &mut (impl futures_util::Stream<Item = Action<Message>> + Unpin),
) -> Option<Message> {
    loop {
        let action = tokio::time::timeout(std::time::Duration::from_secs(30), stream.next())
            .await
            .expect("the single sign-on task answered in time")?;
        if let Action::Output(message) = action {
            return Some(message);
        }
    }
}

fn sso_state(h: &mut Harness) -> &mut login::State {
    match &mut h.app.dialog {
        Some(gui::Dialog::Login(s)) => s,
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_sign_on_from_the_login_dialog_cancel_then_sign_in() {
    use crate::sso::{Act, Seen, browse, sso_world};
    use std::sync::{Arc, Mutex};

    let mut h = Harness::with_world(sso_world().await).await;
    h.click("Connect").await;
    h.click("Sign In").await;
    h.click("Set Domain").await;
    assert!(h.shows(login::SSO_BUTTON), "the realm was discovered");
    sso_state(&mut h).open_browser = false;
    // keyboard: Username, Password, Use a token instead, Cancel (Sign In is disabled while empty), then the SSO
    // button
    let messages: Vec<Message> = {
        let mut ui = h.simulator();
        tab(&mut ui, 5);
        ui.tap_key(key::Named::Space);
        ui.into_messages().collect()
    };
    assert!(format!("{messages:?}").contains("SsoStart"), "{messages:?}");

    // first: start, see the address, Cancel — the task ends and the loopback listener is gone
    let task = h.app.update(Message::Login(login::Message::SsoStart));
    assert!(h.shows(login::SSO_WAITING));
    assert!(h.app.dialog.as_ref().unwrap().is_busy());
    let mut stream = Box::pin(iced_test::runtime::task::into_stream(task).unwrap());
    let prompt = next_sso_output(&mut stream).await.unwrap();
    let task = h.app.update(prompt);
    h.settle(task).await;
    let Some(prompt) = (match &sso_state(&mut h).sso {
        login::Sso::Waiting { prompt, .. } => prompt.clone(),
        other => panic!("{other:?}"),
    }) else {
        panic!("no address shown")
    };
    assert!(prompt.starts_with("Open this URL to sign in: "), "{prompt}");
    let address = login::sso_address(&prompt).to_string();
    assert!(h.shows(login::SSO_OPEN_TEXT) && h.shows(&address));
    assert!(h.shows(login::COPY_URL));
    // a long address wraps inside the dialog, and the buttons sit where they would for a short one
    assert!(h.fully_visible(login::COPY_URL) && h.fully_visible("Cancel"));
    let cancel_at = h.bounds_of("Cancel");
    h.click(login::COPY_URL).await;
    assert!(h.shows(login::COPIED), "Copy says it copied");
    assert_eq!(h.bounds_of("Cancel"), cancel_at, "Cancel did not move");
    let redirect_uri = url::Url::parse(&address)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "redirect_uri")
        .unwrap()
        .1
        .into_owned();
    h.click("Cancel").await;
    assert!(h.shows(login::SSO_BUTTON) && h.shows(login::TITLE));
    assert!(next_sso_output(&mut stream).await.is_none(), "aborted");
    drop(stream);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(
        reqwest::Client::builder()
            .no_proxy()
            .build()
            .unwrap()
            .get(format!("{redirect_uri}?code=x&state=y"))
            .send()
            .await
            .is_err(),
        "the listener closed with the cancel"
    );
    assert!(h.world.emu.tokens().is_empty());

    // then: sign in through the realm, as a browser would from the address the dialog shows
    let task = h.app.update(Message::Login(login::Message::SsoStart));
    let mut stream = Box::pin(iced_test::runtime::task::into_stream(task).unwrap());
    let seen = Arc::new(Mutex::new(Seen::default()));
    while let Some(message) = next_sso_output(&mut stream).await {
        let browse_to = match &message {
            Message::Login(login::Message::SsoPrompt(p)) => Some(login::sso_address(p).to_string()),
            _ => None,
        };
        let task = h.app.update(message);
        h.settle(task).await;
        if let Some(address) = browse_to {
            assert!(h.shows(login::SSO_WAITING) && h.shows(&address));
            tokio::spawn(browse(address, Act::SignIn, seen.clone()));
        }
    }
    // the account the identity provider signed in is shown before anything happens on the server
    assert!(h.shows(login::CONFIRM_TITLE));
    assert!(h.shows(&login::confirm_text("alice")));
    assert!(
        h.world.emu.tokens().is_empty(),
        "nothing created before the confirmation"
    );
    h.click(login::CONFIRM_CONTINUE).await;
    // the rest as after a password sign-in: Add Channels, connected, one server token and its files
    assert!(h.shows(add_channels::TITLE), "Add Channels shown");
    assert!(h.shows("Connected to Anaconda Server as alice"));
    assert_eq!(h.world.emu.tokens().len(), 1);
    assert!(!h.world.token_files().is_empty());
    let status = h.world.engine().status().unwrap();
    assert_eq!(status.auth.as_deref(), Some("sso"));
    assert_eq!(seen.lock().unwrap().page.as_ref().map(|p| p.0), Some(200));
    h.click("Skip").await;
    assert!(h.app.dialog.is_none());
}

/// Single sign-on from the open Login dialog, a test browser signing in as alice, up to the account question.
async fn sso_up_to_the_account_question(h: &mut Harness) {
    use crate::sso::{Act, Seen, browse};
    use std::sync::{Arc, Mutex};

    let task = h.app.update(Message::Login(login::Message::SsoStart));
    let mut stream = Box::pin(iced_test::runtime::task::into_stream(task).unwrap());
    let seen = Arc::new(Mutex::new(Seen::default()));
    while let Some(message) = next_sso_output(&mut stream).await {
        let browse_to = match &message {
            Message::Login(login::Message::SsoPrompt(p)) => Some(login::sso_address(p).to_string()),
            _ => None,
        };
        let task = h.app.update(message);
        h.settle(task).await;
        if let Some(address) = browse_to {
            tokio::spawn(browse(address, Act::SignIn, seen.clone()));
        }
    }
    assert!(h.shows(&login::confirm_text("alice")));
}

/// The account the identity provider signed in is confirmed before anything happens on the server: Esc says
/// no, nothing is created, and the identity provider's session is ended — or the dialog says it could not be.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_sign_on_the_person_does_not_confirm_leaves_nothing() {
    use crate::sso::sso_world;

    let mut h = Harness::with_world(sso_world().await).await;
    h.click("Connect").await;
    h.click("Sign In").await;
    h.click("Set Domain").await;
    sso_state(&mut h).open_browser = false;
    let before = h.world.user_files();
    sso_up_to_the_account_question(&mut h).await;
    h.send(Message::Escape).await;
    assert!(h.shows(login::NOT_CONFIRMED), "said, in the dialog");
    assert!(h.shows(login::SSO_BUTTON), "and the dialog is ready again");
    assert!(h.world.emu.tokens().is_empty());
    assert_same_files(&h.world.user_files(), &before, "nothing changed");
    let sessions = h
        .world
        .emu
        .state
        .lock()
        .unwrap()
        .sso
        .as_ref()
        .unwrap()
        .sessions
        .len();
    assert_eq!(sessions, 0, "the identity provider's session was ended");

    // a realm that cannot end the session: the dialog says so after its first sentence
    for tail in ["revoke", "logout"] {
        h.world.fault(
            &format!("/auth/realms/conda/protocol/openid-connect/{tail}"),
            Some("POST"),
            conda_connect::emulator::FaultKind::Status { status: 503 },
        );
    }
    sso_up_to_the_account_question(&mut h).await;
    h.send(Message::Escape).await;
    let said = sso_state(&mut h).error.clone().unwrap_or_default();
    assert!(said.starts_with(login::NOT_CONFIRMED), "{said}");
    assert!(
        said.contains("The identity provider's session could not be ended ("),
        "{said}"
    );
    assert!(h.shows(&said), "shown in the dialog");
    assert!(h.world.emu.tokens().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_single_sign_on_shows_no_sso_button() {
    let mut h = Harness::new().await;
    h.click("Connect").await;
    h.click("Sign In").await;
    h.click("Set Domain").await;
    assert!(h.shows(login::TITLE));
    assert!(matches!(sso_state(&mut h).sso, login::Sso::Absent));
    assert!(!h.shows(login::SSO_BUTTON));
    assert!(!h.shows(login::SSO_OR));
}

/// The administrator's `password_sign_in = False`: where the server offers single sign-on the dialog shows only
/// Sign in with SSO (the default action: Enter starts it); a server without it still gets the password form.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_administrator_can_hide_the_password_form_behind_single_sign_on() {
    let policy = "[conda_connect]\npassword_sign_in = False\n";
    let mut h = Harness::with_world(crate::sso::sso_world().await).await;
    let ini = h.world.home.path().join(".anaconda/navigator");
    std::fs::create_dir_all(&ini).unwrap();
    std::fs::write(ini.join("anaconda-navigator.ini"), policy).unwrap();
    h.click("Connect").await;
    h.click("Sign In").await;
    h.click("Set Domain").await;
    assert!(h.shows(login::SSO_ONLY_TEXT) && h.shows(login::SSO_BUTTON));
    assert!(!h.shows("Username:") && !h.shows("Password:") && !h.shows("Sign In"));
    assert!(matches!(
        sso_state(&mut h).enter(),
        Some(login::Message::SsoStart)
    ));
    sso_state(&mut h).open_browser = false;
    // keyboard only: Cancel, then the SSO button; Space starts it
    let messages: Vec<Message> = {
        let mut ui = h.simulator();
        tab(&mut ui, 2);
        ui.tap_key(key::Named::Space);
        ui.into_messages().collect()
    };
    assert!(format!("{messages:?}").contains("SsoStart"), "{messages:?}");
    let _task = h.app.update(Message::Login(login::Message::SsoStart));
    assert!(h.shows(login::SSO_WAITING));
    h.click("Cancel").await;
    assert!(h.shows(login::SSO_ONLY_TEXT), "back to the SSO-only dialog");
    h.click("Cancel").await;
    assert!(h.app.dialog.is_none());
    assert!(h.world.emu.tokens().is_empty());
    let ini = h.world.ini().unwrap();
    assert!(ini.contains("password_sign_in = False"), "{ini}");

    // a server without single sign-on: the password form is the only way in, so it is shown
    let mut h = Harness::new().await;
    let dir = h.world.home.path().join(".anaconda/navigator");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("anaconda-navigator.ini"), policy).unwrap();
    h.click("Connect").await;
    h.click("Sign In").await;
    h.click("Set Domain").await;
    assert!(matches!(sso_state(&mut h).sso, login::Sso::Absent));
    assert!(h.shows("Username:") && !h.shows(login::SSO_ONLY_TEXT));
    h.type_into(login::USERNAME_ID, "alice").await;
    h.type_into(login::PASSWORD_ID, "alice-password").await;
    h.click("Sign In").await;
    assert!(h.shows("Connected to Anaconda Server as alice"));
}

/// Preferences: the single sign-on client id is stored in conda-connect's own ini section, cleared by emptying
/// the field, and refused (nothing written) when it holds a space.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preferences_keep_the_single_sign_on_client_id() {
    let mut h = Harness::new().await;
    h.click("Preferences").await;
    assert!(h.shows(preferences::SSO_CLIENT_ID_LABEL));
    h.type_into(preferences::SSO_CLIENT_ID_ID, "conda cli")
        .await;
    h.click("Apply").await;
    assert!(
        h.shows("SSO client id: use at most 255 characters, without spaces or control characters."),
        "refused"
    );
    assert!(h.world.ini().is_none(), "nothing written");
    h.send(Message::Preferences(preferences::Message::SsoClientId(
        " conda-cli ".into(),
    )))
    .await;
    h.click("Apply").await;
    assert!(h.app.dialog.is_none());
    let ini = h.world.ini().unwrap();
    assert!(
        ini.contains("[conda_connect]") && ini.contains("sso_client_id = 'conda-cli'"),
        "{ini}"
    );
    assert_eq!(
        h.world
            .engine()
            .preferences()
            .unwrap()
            .sso_client_id
            .as_deref(),
        Some("conda-cli")
    );
    h.click("Preferences").await;
    assert!(h.shows("conda-cli"), "shown when opened again");
    h.send(Message::Preferences(preferences::Message::SsoClientId(
        String::new(),
    )))
    .await;
    h.click("Apply").await;
    let ini = h.world.ini().unwrap();
    assert!(!ini.contains("sso_client_id"), "{ini}");
}

/// Preferences: "Browse…" beside the certificate path asks for the system's file chooser (keyboard too), and the
/// file chosen fills the field and is saved by Apply; a cancelled chooser changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_certificate_path_can_be_chosen_with_a_file_chooser() {
    let mut h = Harness::new().await;
    h.click("Preferences").await;
    assert!(h.fully_visible(preferences::BROWSE));
    // the click asks for the chooser (its task, the real dialog, is not run here)
    let messages: Vec<Message> = {
        let mut ui = h.simulator();
        ui.click(preferences::BROWSE).unwrap();
        ui.into_messages().collect()
    };
    assert!(
        format!("{messages:?}").contains("BrowseCertificate"),
        "{messages:?}"
    );
    // no desktop portal in the test's environment: the dialog says so instead of waiting in vain
    if cfg!(all(unix, not(target_os = "macos")))
        && std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none()
        && std::env::var_os("XDG_RUNTIME_DIR").is_none()
    {
        h.send(Message::Preferences(
            preferences::Message::BrowseCertificate,
        ))
        .await;
        assert!(h.shows(preferences::NO_FILE_CHOOSER));
    }
    h.send(Message::Preferences(
        preferences::Message::CertificateChosen(None),
    ))
    .await;
    assert!(!h.app.dialog.as_ref().unwrap().is_busy());
    assert!(!h.shows(preferences::CHOOSING));
    let bundle = h.world.home.path().join("corp ca.pem");
    std::fs::write(&bundle, "-----BEGIN CERTIFICATE-----\n").unwrap();
    h.send(Message::Preferences(
        preferences::Message::CertificateChosen(Some(bundle.clone())),
    ))
    .await;
    assert!(h.shows(&bundle.display().to_string()));
    h.click("Apply").await;
    assert!(h.app.dialog.is_none());
    assert_eq!(
        h.world.engine().preferences().unwrap().ssl_certificate,
        Some(bundle.display().to_string())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diagnose_from_preferences_from_a_failed_update_index_and_by_keyboard() {
    use gui::screen::diagnose;
    let mut h = Harness::new().await;
    h.sign_in().await;
    h.send(Message::AddChannels(add_channels::Message::ToggleDefault(
        "main".into(),
        true,
    )))
    .await;
    h.send(Message::AddChannels(add_channels::Message::ToggleChannel(
        "internal".into(),
        true,
    )))
    .await;
    h.click("Add Channels").await;

    // from Preferences: the checks, and nothing wrong
    h.click("Preferences").await;
    h.click(preferences::DIAGNOSE).await;
    assert!(h.shows(diagnose::TITLE));
    assert!(h.shows(diagnose::NO_PROBLEM), "a healthy sign-in passes");
    assert!(h.shows("main resolves on your server; its repodata answers."));
    assert!(h.fully_visible(diagnose::COPY));
    h.keys(|ui| {
        ui.tap_key(key::Named::Escape);
    })
    .await;
    assert!(!h.shows(diagnose::TITLE), "Esc closes it");
    // back to Preferences, which opened it; Esc again closes that
    assert!(matches!(h.app.dialog, Some(gui::Dialog::Preferences(_))));
    h.keys(|ui| {
        ui.tap_key(key::Named::Escape);
    })
    .await;
    assert!(h.app.dialog.is_none());

    // a channel removed on the server: the banner offers Diagnose, which names it with the fix
    h.world
        .emu
        .state
        .lock()
        .unwrap()
        .channels
        .retain(|c| c.name != "internal");
    h.click("Update Index").await;
    assert!(h.shows(
        "Update Index: the server has no channel internal (removed or renamed?). Choose your channels again."
    ));
    h.click(gui::DIAGNOSE).await;
    assert!(h.shows(diagnose::TITLE));
    let first = "1 problem. First: The server has no channel internal (404): it was removed or renamed, and conda fails on it.";
    assert!(h.shows(first), "the first problem at the top");
    assert!(h.shows(
        "→ Choose your channels again (conda-connect select-channels, or Add Channels); conda-connect channels lists them."
    ));
    // Enter copies the report (no secret in it)
    let report = h.app_diagnose_report();
    let token = h.world.emu.tokens()[0].token.clone();
    assert!(!report.contains(&token));
    assert!(report.contains(&format!("({}…)", &token[..4])));
    h.keys(|ui| {
        ui.tap_key(key::Named::Enter);
    })
    .await;
    assert!(h.shows(diagnose::COPIED));
    h.click("Run again").await;
    assert!(h.shows(first), "run again: the same finding");
    assert!(
        !h.shows(diagnose::COPIED),
        "a new run is not the copied report"
    );
    h.send(Message::Escape).await;
    assert!(!h.shows(diagnose::TITLE));

    // Ctrl+D opens it from the main window
    h.keys(|ui| {
        ui.simulate([key_press(
            keyboard::Key::Character("d".into()),
            keyboard::Modifiers::COMMAND,
        )]);
    })
    .await;
    assert!(h.shows(diagnose::TITLE));
}

impl Harness {
    /// The text Copy report puts on the clipboard.
    fn app_diagnose_report(&self) -> String {
        match &self.app.dialog {
            Some(gui::Dialog::Diagnose(state)) => state.report.as_ref().unwrap().text(),
            _ => panic!("Diagnose is not open"),
        }
    }
}

/// Update Index can be stopped from the window: the run ends at once (its task is aborted, no report arrives later),
/// the list shown before stays, and a new run works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_update_index_can_be_stopped() {
    let mut h = Harness::new().await;
    h.sign_in().await;
    h.send(Message::AddChannels(add_channels::Message::ToggleDefault(
        "main".into(),
        true,
    )))
    .await;
    h.click("Add Channels").await;
    let before = h.app.home.report.as_ref().map(|r| r.packages_total);
    assert!(before.is_some_and(|n| n > 0), "a first list: {before:?}");
    h.world.fault(
        "/api/repo/",
        None,
        conda_connect::emulator::FaultKind::Delay { ms: 30_000 },
    );
    // start it, but do not wait for it
    let run = h.app.update(Message::UpdateIndex);
    assert!(h.app.home.running);
    assert!(h.shows(home::STOP));
    let started = std::time::Instant::now();
    h.click(home::STOP).await;
    assert!(!h.app.home.running);
    assert!(h.shows(home::STOPPED));
    // the aborted task ends without a report (it would take 30 s otherwise)
    h.settle(run).await;
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert!(!h.app.home.running);
    assert_eq!(h.app.home.report.as_ref().map(|r| r.packages_total), before);
    h.world.emu.clear_faults();
    h.click("Update Index").await;
    assert!(!h.shows(home::STOPPED));
    assert_eq!(h.app.home.report.as_ref().map(|r| r.packages_total), before);
}

/// Skipping the picker at sign-in with no channel chosen fetches nothing (conda's public defaults are not the
/// server's): the banner says to choose channels, and no "offline" banner appears.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skipping_the_channels_at_sign_in_fetches_nothing() {
    let mut h = Harness::new().await;
    h.sign_in().await;
    // (the sign-in's own probe of rattler's credential form reads one private channel: not Update Index)
    let repodata = |h: &Harness| {
        h.world
            .emu
            .log()
            .iter()
            .filter(|l| l.path.contains("repodata"))
            .map(|l| l.path.clone())
            .collect::<Vec<_>>()
    };
    let before = repodata(&h);
    h.click("Skip").await;
    assert!(h.app.dialog.is_none());
    assert!(!h.app.home.running && h.app.home.report.is_none());
    assert!(h.app.index_problem.is_none());
    assert!(h.shows(gui::NO_CHANNELS));
    assert_eq!(repodata(&h), before, "no repodata was fetched");
}

/// A policy from a JSON object, as `/etc/conda-connect/policy.json` would hold it.
fn policy(json: &str) -> conda_connect::engine::policy::Policy {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policy.json");
    std::fs::write(&path, json).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let layer = conda_connect::engine::policy::sources::read_file(&path)
        .unwrap()
        .unwrap();
    conda_connect::engine::policy::Policy::from_layers(&[layer]).unwrap()
}

/// On a managed desk the window shows what the organization fixed, read-only with a lock and where to ask: the
/// domain in Set Domain and Preferences, single sign-on only in the Login dialog (a server without it: a sentence,
/// no password form), and the locked channels in the picker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_managed_desk_shows_what_the_organization_fixed() {
    let world = World::new().await;
    let url = world.emu.url.clone();
    let managed = policy(&format!(
        r#"{{"domain": "{url}", "sign_in": "sso", "support_url": "https://help.example.com",
            "default_channels": ["main"], "lock_channels": true}}"#
    ));
    let mut h = Harness::with_policy(world, managed).await;
    let note = format!("{} — ask https://help.example.com", style::MANAGED);
    h.click("Connect").await;
    h.click("Sign In").await;
    assert!(h.shows(set_domain::TITLE));
    assert!(
        h.shows(&url) && h.shows(&note),
        "the domain, read-only, with the lock note"
    );
    // typing goes nowhere: the field has no input handler
    h.type_into(set_domain::INPUT_ID, "https://elsewhere.example.com")
        .await;
    assert!(!h.shows("https://elsewhere.example.com"));
    h.click("Set Domain").await;
    // single sign-on only, and this server has none: a sentence, no password form
    assert!(
        h.shows(login::NO_SSO_HERE),
        "the organization's way is not offered here"
    );
    assert!(!h.shows("Password:") && !h.shows(login::USE_TOKEN));
    assert!(h.shows(&note));
    h.click("Cancel").await;
    // Preferences: the domain is shown as a value, and the note names it
    h.click("Preferences").await;
    assert!(
        matches!(h.app.dialog, Some(gui::Dialog::Preferences(_))),
        "{:?}",
        h.app.dialog.as_ref().map(std::mem::discriminant)
    );
    assert!(h.shows(&format!(
        "{}: domain — ask https://help.example.com",
        style::MANAGED
    )));
}

/// The organization allows no trust question: Set Domain with a self-signed server ends in a refusal naming the
/// issuer to install, with Close only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn where_trusting_is_forbidden_the_question_is_a_refusal() {
    let world = World::with_config(conda_connect::emulator::EmulatorConfig {
        tls: true,
        ..Default::default()
    })
    .await;
    let forbidding = policy(r#"{"allow_untrusted_certificates": false}"#);
    let refusal = forbidding.untrusted_refusal(
        &conda_connect::engine::domain::netloc(&world.emu.url),
        Some("CN=rcgen self signed cert"),
    );
    let mut h = Harness::with_policy(world, forbidding).await;
    h.click("Connect").await;
    h.click("Sign In").await;
    h.click("Set Domain").await;
    assert!(h.shows(trust::FORBIDDEN_TITLE));
    assert!(!h.shows(trust::TRUST), "no way to trust it");
    assert!(h.shows(&refusal), "{refusal}");
    h.click("Close").await;
    assert!(h.shows(set_domain::TITLE), "back in Set Domain");
    assert!(
        h.world
            .ini()
            .is_none_or(|ini| !ini.contains("trusted_servers"))
    );
}

/// Locked channels: the picker ticks the organization's, the boxes do not change, and the note says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locked_channels_are_ticked_and_stay_ticked() {
    let world = World::new().await;
    let managed = policy(
        r#"{"default_channels": ["main"], "channels": ["internal"], "lock_channels": true}"#,
    );
    let mut h = Harness::with_policy(world, managed).await;
    h.sign_in().await;
    let Some(gui::Dialog::AddChannels(state)) = &h.app.dialog else {
        panic!("the picker");
    };
    assert!(state.locked());
    assert_eq!(state.selection().default_channels, ["main"]);
    assert_eq!(state.selection().channels, ["internal"]);
    assert!(h.shows(&format!("{} — ask your administrator", style::MANAGED)));
    h.send(Message::AddChannels(add_channels::Message::ToggleDefault(
        "r".into(),
        true,
    )))
    .await;
    let Some(gui::Dialog::AddChannels(state)) = &h.app.dialog else {
        panic!("the picker");
    };
    assert_eq!(state.selection().default_channels, ["main"], "unchanged");
    h.click("Add Channels").await;
    let condarc = h.world.condarc().unwrap();
    assert!(
        condarc.contains("- main") && condarc.contains("- internal"),
        "{condarc}"
    );
}

/// `update_index_after_sign_in = false`: the channels are saved, and no package index is fetched right after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_organization_can_turn_the_update_index_after_sign_in_off() {
    let world = World::new().await;
    let mut h =
        Harness::with_policy(world, policy(r#"{"update_index_after_sign_in": false}"#)).await;
    h.sign_in().await;
    h.send(Message::AddChannels(add_channels::Message::ToggleDefault(
        "main".into(),
        true,
    )))
    .await;
    let before = h.world.emu.log().len();
    h.click("Add Channels").await;
    assert!(h.app.dialog.is_none());
    assert!(h.world.condarc().unwrap().contains("- main"));
    assert!(!h.app.home.running && h.app.home.report.is_none());
    assert!(
        !h.world.emu.log()[before..]
            .iter()
            .any(|l| l.path.contains("repodata")),
        "no Update Index"
    );
}

/// Several servers at once in the window: Connect lists the signed-in servers (the primary first) with a Sign Out
/// each, *Add another server…* signs in to a second server beside the first, and signing out of that one leaves the
/// primary signed in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_lists_the_servers_adds_another_and_signs_out_of_one() {
    let mut h = Harness::with_world(
        World::with_config(conda_connect::emulator::EmulatorConfig {
            bulk_channels: 0,
            ..Default::default()
        })
        .await,
    )
    .await;
    let other = conda_connect::emulator::Emulator::start(conda_connect::emulator::EmulatorConfig {
        bulk_channels: 0,
        ..Default::default()
    })
    .await
    .unwrap();
    let other_url = other.url.replace("127.0.0.1", "localhost");
    h.sign_in().await;
    h.click("Skip").await;
    h.click("Connect").await;
    let primary = h.world.emu.url.clone();
    assert!(h.shows(&primary));
    assert!(h.shows("primary server · channel_alias and Navigator"));
    h.click("Add another server…").await;
    assert!(h.shows(set_domain::ADD_TITLE));
    h.type_into(set_domain::INPUT_ID, &other_url).await;
    h.click("Continue").await;
    assert!(h.shows(login::TITLE), "the sign-in for the second server");
    h.type_into(login::USERNAME_ID, "alice").await;
    h.type_into(login::PASSWORD_ID, "alice-password").await;
    h.click("Sign In").await;
    // its own channel picker follows: its channels only, no default channels
    assert!(h.shows(add_channels::TITLE));
    assert!(h.shows(&format!(
        "Channels of {other_url}, your second server. Tick the ones conda should use: they go into ~/.condarc by \
         their full address, next to your primary server's."
    )));
    assert!(!h.shows("Add to default_channels"));
    h.send(Message::AddChannels(add_channels::Message::ToggleChannel(
        "alice".into(),
        true,
    )))
    .await;
    h.click("Add Channels").await;
    assert!(!h.shows(add_channels::TITLE));
    let settings =
        conda_connect::engine::condarc::read_settings(&h.world.condarc().unwrap()).unwrap();
    assert_eq!(
        settings.custom_channels,
        vec![("alice".to_string(), format!("{other_url}/api/repo"))]
    );
    assert!(
        settings
            .channels
            .unwrap_or_default()
            .contains(&format!("{other_url}/api/repo/alice"))
    );
    assert_eq!(other.tokens().len(), 1);
    // the Channels screen offers each server: the primary's first, the second a click away
    h.send(Message::OpenChannels).await;
    assert!(h.shows(add_channels::MANAGE_TITLE));
    assert!(h.shows("Server:") && h.shows(&other_url));
    h.click_owned(&other_url).await;
    assert!(h.shows(&format!(
        "Channels of {other_url}, your second server. Tick the ones conda should use: they go into ~/.condarc by \
         their full address, next to your primary server's."
    )));
    h.click("Cancel").await;
    // a second server that stops answering gets a banner that names it
    h.send(Message::ServersChecked(vec![(
        other_url.clone(),
        conda_connect::engine::health::Connection::Unreachable,
    )]))
    .await;
    assert!(h.shows(&format!(
        "{other_url} (your second server) cannot be reached: its channels are left out until it answers."
    )));
    // the configured domain is still the primary's
    assert_eq!(
        h.world.engine().preferences().unwrap().domain.as_deref(),
        Some(primary.as_str())
    );
    h.click("Connect").await;
    assert!(h.shows(&other_url));
    assert!(h.shows("secondary server · channels by full address"));
    // Make Primary swaps the two; a second Make Primary swaps them back
    h.click("Make Primary").await;
    assert_eq!(
        h.world.engine().status().unwrap().domain.as_deref(),
        Some(other_url.as_str())
    );
    assert!(h.shows(&format!(
        "{other_url} is now your primary server: channel_alias points at it, and Navigator sees its sign-in."
    )));
    h.click("Connect").await;
    h.click("Make Primary").await;
    assert_eq!(
        h.world.engine().status().unwrap().domain.as_deref(),
        Some(primary.as_str())
    );
    h.click("Connect").await;
    // each server has its own Sign Out: the second one's (the primary's comes first, so it is sent by message)
    assert!(h.shows("Sign Out"));
    h.send(Message::Connect(
        conda_connect::gui::screen::connect::Message::SignOutOf(other_url.clone()),
    ))
    .await;
    assert!(h.shows("Sign out of Anaconda Server?"));
    assert!(h.shows(&format!("Signing out of {other_url} will:")));
    h.send(Message::SignOut(
        conda_connect::gui::screen::sign_out::Message::Confirm,
    ))
    .await;
    assert!(other.tokens().is_empty());
    assert_eq!(h.world.emu.tokens().len(), 1, "the primary stays signed in");
    let status = h.world.engine().status().unwrap();
    assert_eq!(status.servers.len(), 1);
    assert!(status.logged_in);
}

/// A server token only a new sign-in can revoke (its session ended before the sign-out could revoke it) stays in
/// sight: a banner names the server, until when the token is valid and the way out; a sign-in in the window revokes
/// it, and the banner goes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_only_a_sign_in_can_revoke_stays_in_sight_until_a_sign_in_revokes_it() {
    let world = World::new().await;
    world.set_domain().await;
    world.login().await;
    let stranded = world.emu.tokens()[0].id.clone();
    // a sign-out that could not revoke, recorded as needing a sign-in (what a session that ended leaves)
    world.fault(
        "/api/account/tokens",
        Some("DELETE"),
        conda_connect::emulator::FaultKind::Status { status: 503 },
    );
    let out = world.engine().logout().await.unwrap();
    assert!(out.unrevoked.is_some());
    world.emu.clear_faults();
    let pending = world.paths.data_dir.join("pending_revocations.json");
    let mut list: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&pending).unwrap()).unwrap();
    list[0]["needs_sign_in"] = serde_json::Value::Bool(true);
    let expires = list[0]["expires"].as_str().map(str::to_string);
    std::fs::write(&pending, serde_json::to_vec_pretty(&list).unwrap()).unwrap();

    let mut h = Harness::with_world(world).await;
    let domain = h.world.emu.url.clone();
    let banner = gui::unrevoked_words(&domain, expires.as_deref());
    assert!(expires.is_some(), "the sign-in's token has an expiry date");
    assert!(h.shows(&banner), "the banner names the server and the date");
    assert!(h.fully_visible(&banner));
    assert_eq!(h.world.emu.tokens().len(), 1, "still valid on the server");

    h.sign_in().await;
    assert!(h.shows(add_channels::TITLE));
    h.click("Skip").await;
    assert!(
        h.world.emu.tokens().iter().all(|t| t.id != stranded),
        "the sign-in revoked it"
    );
    assert!(!h.shows(&banner), "and the banner went with it");
}
