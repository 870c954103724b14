//! Headless UI tests with iced_test's simulator: the real app (its `update`, `view` and the engine tasks it
//! returns) against the emulator, clicking and typing as a person would, asserting what the window shows and
//! the files and server state after.

use futures_util::StreamExt;
use iced::Settings;
use iced::Task;
use iced_test::runtime::Action;
use iced_test::selector::id;
use iced_test::simulator::Simulator;

use conda_connect::gui::screen::{add_channels, login, set_domain};
use conda_connect::gui::{self, App, Config, Message};

use crate::common::*;

struct Harness {
    world: World,
    app: App,
}

impl Harness {
    async fn new() -> Harness {
        Self::with_world(World::new().await).await
    }

    async fn with_world(world: World) -> Harness {
        let config = Config {
            engine: world.engine(),
            preset_domain: Some(world.emu.url.clone()),
            login_hint: None,
            note: None,
        };
        let (app, boot) = App::new(config);
        let mut h = Harness { world, app };
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
            ],
            default_font: gui::DEFAULT_FONT,
            ..Settings::default()
        };
        Simulator::with_size(settings, (1040.0, 700.0), self.app.view())
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
            "10 packages from 4 channel directories in {elapsed} ms"
        )),
        "counts"
    );
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
    // Esc closes the dialog
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
    assert!(
        h.shows("Invalid API url. Check the url is valid and corresponds to the api endpoint.")
    );
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
    h.click("Add Channels").await;
    assert!(h.shows(conda_connect::engine::error::NO_DEFAULT_CHANNEL));
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
    assert!(h.shows("File not found."));
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
    assert_eq!(h.app.theme(), iced::Theme::Dark);
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
    h.send(Message::Preferences(
        gui::screen::preferences::Message::Domain("https://other.example.com".into()),
    ))
    .await;
    h.click("Apply").await;
    assert!(h.shows(&format!(
        "You are signed in to {}. Sign out before changing the Anaconda Server domain.",
        h.world.emu.url
    )));
    h.click("Sign Out…").await;
    assert!(h.shows("Sign out of Anaconda Server?"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_banner_and_partial_connection() {
    let mut h = Harness::new().await;
    h.sign_in().await;
    h.click("Skip").await;
    h.world.fault(
        "/api/system",
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
    assert!(h.shows("team/sub / noarch — ok (1 package)"));
    h.world.fault(
        "/api/repo/team/sub",
        None,
        conda_connect::emulator::FaultKind::Status { status: 401 },
    );
    h.click("Update Index").await;
    assert!(h.shows("team/sub / noarch — 401 (0 packages)"));
    assert!(h.shows("main / noarch — cached (4 packages)"));
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
    h.click("Done").await;
    assert!(!h.shows(&created.token), "not shown again");
    assert!(
        h.shows(&format!("{in_30} (in 30 days)")),
        "expiring soon is highlighted"
    );

    // regenerate the new token (confirmation first)
    h.send(Message::Tokens(tokens::Message::AskRegenerate(
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
    h.click("Done").await;

    // revoke it
    h.send(Message::Tokens(tokens::Message::AskRevoke(
        created.id.clone(),
    )))
    .await;
    assert!(h.shows("Revoke \u{201c}ci-pipeline\u{201d}?"));
    h.click("Revoke").await;
    assert!(h.world.emu.tokens().iter().all(|t| t.id != created.id));
    assert!(!h.shows("ci-pipeline"));

    // the sign-in token is not revoked from here: sign out instead
    let sign_in_id = h.world.emu.tokens()[0].id.clone();
    h.send(Message::Tokens(tokens::Message::AskRevoke(sign_in_id)))
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
