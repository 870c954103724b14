//! The window, third pass: focus that is always visible and goes where a person expects, nothing discarded without
//! a question, nothing that moves under the pointer — in a headless window whose state lives on between steps.

use iced::keyboard::key;

use crate::common::*;
use crate::live::Live;

/// Tab until the focused control says `text` (at most `limit` times).
async fn tab_to(live: &mut Live, text: &str, limit: usize) {
    for _ in 0..limit {
        live.key(key::Named::Tab).await;
        if live.focused().is_some_and(|f| f.says(text)) {
            return;
        }
    }
    panic!("Tab never reached {text:?} (focus on {:?})", live.focused());
}

async fn signed_in_world() -> World {
    let world = World::new().await;
    world.set_domain().await;
    world.login().await;
    world
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dialog_opens_with_the_focus_inside_and_gives_it_back_when_it_closes() {
    let mut live = Live::new(World::new().await).await;
    tab_to(&mut live, "Connect", 12).await;
    live.key(key::Named::Enter).await;
    assert!(live.shows("Connect to Anaconda"));
    let focused = live.focused().expect("a focused control in the dialog");
    assert!(focused.says("Sign In"), "the default button: {focused:?}");
    live.key(key::Named::Escape).await;
    assert!(!live.shows("Connect to Anaconda"));
    assert!(
        live.focused().is_some_and(|f| f.says("Connect")),
        "back on its opener: {:?}",
        live.focused()
    );

    // a dialog with fields: its first field
    live.command(",").await;
    assert!(live.shows("Preferences") && live.app.dialog.is_some());
    let focused = live.focused().expect("focus in Preferences");
    assert!(focused.input, "the first field: {focused:?}");
    live.key(key::Named::Escape).await;
    assert!(live.app.dialog.is_none());
    assert!(
        live.focused().is_some_and(|f| f.says("Preferences")),
        "{:?}",
        live.focused()
    );

    // the sign-in flow: Connect → Set Domain (its field) → Login (its first field)
    live.command("k").await;
    live.key(key::Named::Enter).await;
    assert!(live.shows(conda_connect::gui::screen::set_domain::TITLE));
    assert!(live.focused().is_some_and(|f| f.input));
    live.key(key::Named::Enter).await;
    assert!(live.shows(conda_connect::gui::screen::login::TITLE));
    assert!(
        live.focused().is_some_and(|f| f.input),
        "{:?}",
        live.focused()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diagnose_from_a_banner_gives_the_focus_back_to_its_button() {
    let mut live = Live::new(signed_in_world().await).await;
    // the server no longer takes the token: the health banner, with Diagnose…
    live.world.emu.state.lock().unwrap().tokens.clear();
    live.send(conda_connect::gui::Message::HealthTick).await;
    assert!(live.shows(conda_connect::gui::TOKEN_REJECTED));
    tab_to(&mut live, conda_connect::gui::DIAGNOSE, 30).await;
    live.key(key::Named::Enter).await;
    assert!(
        matches!(
            live.app.dialog,
            Some(conda_connect::gui::Dialog::Diagnose(_))
        ),
        "Diagnose opened"
    );
    live.key(key::Named::Escape).await;
    assert!(live.app.dialog.is_none());
    assert!(
        live.focused()
            .is_some_and(|f| f.says(conda_connect::gui::DIAGNOSE)),
        "back on the banner's button: {:?}",
        live.focused()
    );
    // Ctrl+D opened it from no control: closing it leaves the focus where it was, and nothing breaks
    live.command("d").await;
    assert!(live.app.dialog.is_some());
    live.key(key::Named::Escape).await;
    assert!(live.app.dialog.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dialog_without_a_field_opens_on_its_default_button() {
    let mut live = Live::new(signed_in_world().await).await;
    live.command("k").await;
    assert!(
        live.focused().is_some_and(|f| f.says("Sign Out")),
        "{:?}",
        live.focused()
    );
    live.key(key::Named::Enter).await;
    assert!(live.shows("Sign out of Anaconda Server?"));
    // signing out is destructive: no default button, the focus on Cancel, so Enter, Enter does not sign out
    assert!(
        live.focused().is_some_and(|f| f.says("Cancel")),
        "{:?}",
        live.focused()
    );
    live.key(key::Named::Enter).await;
    assert!(live.app.dialog.is_none(), "Enter pressed Cancel");
    assert!(live.app.status.as_ref().is_some_and(|s| s.logged_in));
    assert!(
        live.focused().is_some_and(|f| f.says("Connect")),
        "{:?}",
        live.focused()
    );
    // Tab to Sign Out, then Enter signs out
    live.command("k").await;
    live.key(key::Named::Enter).await;
    live.key(key::Named::Tab).await;
    assert!(live.focused().is_some_and(|f| f.says("Sign Out")));
    live.key(key::Named::Enter).await;
    assert!(live.app.status.as_ref().is_some_and(|s| !s.logged_in));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_focused_control_is_scrolled_into_view_in_the_channel_table() {
    let mut live = Live::new(signed_in_world().await).await;
    live.command("l").await;
    assert!(live.app.dialog.is_some(), "the Channels screen opened");
    let mut scrolled = false;
    for step in 0..80 {
        live.key(key::Named::Tab).await;
        assert!(
            live.focus_is_in_view(),
            "step {step}: the focus left the visible area ({:?})",
            live.focused()
        );
        scrolled |= live.focused().is_some_and(|f| f.bounds.y > 700.0);
    }
    assert!(scrolled, "the walk went past the first screenful of rows");
    // and back up with Shift+Tab
    for step in 0..40 {
        live.shift_tab().await;
        assert!(live.focus_is_in_view(), "back, step {step}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_domain_asks_before_esc_throws_a_typed_address_away() {
    use conda_connect::gui::screen::{discard, set_domain};
    let mut live = Live::new(World::new().await).await;
    live.command("k").await;
    live.key(key::Named::Enter).await;
    assert!(live.shows(set_domain::TITLE));
    // the address as it was offered: one Esc closes
    live.key(key::Named::Escape).await;
    assert!(live.app.dialog.is_none());
    live.command("k").await;
    live.key(key::Named::Enter).await;
    live.type_text("/extra").await;
    live.key(key::Named::Escape).await;
    assert!(live.shows(set_domain::TITLE), "typed: the first Esc asks");
    assert!(live.shows(discard::HINT));
    live.type_text("x").await;
    assert!(
        !live.shows(discard::HINT),
        "an edit takes the question back"
    );
    live.key(key::Named::Escape).await;
    live.key(key::Named::Escape).await;
    assert!(live.app.dialog.is_none(), "the second Esc discards");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_channel_table_keeps_its_columns_with_or_without_a_scrollbar() {
    use conda_connect::gui::screen::add_channels;
    let mut live = Live::new(signed_in_world().await).await;
    live.command("l").await;
    let privacy = live.bounds_of("Privacy").expect("the Privacy heading");
    live.send(conda_connect::gui::Message::AddChannels(
        add_channels::Message::Filter("internal".into()),
    ))
    .await;
    assert!(live.shows("internal"));
    assert_eq!(
        live.bounds_of("Privacy"),
        Some(privacy),
        "one row, no scrollbar: same columns"
    );
    live.send(conda_connect::gui::Message::AddChannels(
        add_channels::Message::Filter("no-such-channel".into()),
    ))
    .await;
    assert!(live.shows("No channel matches “no-such-channel”: change or clear the filter."));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_smallest_size_the_package_list_shows_eight_rows() {
    use conda_connect::gui::{self, Message};
    let world = World::new().await;
    world.set_domain().await;
    world.login().await;
    world
        .engine()
        .select_channels(&["main".into()], &["internal".into(), "team/sub".into()])
        .await
        .unwrap();
    let mut live = Live::with_size(world, gui::MIN_SIZE).await;
    live.send(Message::UpdateIndex).await;
    assert!(live.shows("python"), "the index is listed");
    let rows = live.rows_in_view_with("python");
    assert!(
        rows >= 8,
        "{rows} rows of packages in view at {:?}",
        gui::MIN_SIZE
    );
    // with a failed Update Index: its banner, and the kept list with its time
    live.world.fault(
        "/api/repo/team/sub",
        None,
        conda_connect::emulator::FaultKind::Status { status: 404 },
    );
    live.send(Message::UpdateIndex).await;
    assert!(live.app.index_problem.is_some(), "the banner is there");
    let rows = live.rows_in_view_with("python");
    assert!(rows >= 8, "{rows} rows in view with a banner");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn below_the_minimum_size_nothing_is_squeezed_away() {
    use conda_connect::gui::{self, Message};
    let small = iced::Size::new(640.0, 420.0);
    let mut live = Live::with_size(World::new().await, small).await;
    live.send(Message::Resized(iced::window::Id::unique(), small))
        .await;
    // laid out at the minimum size, inside a scrolled area: every header button keeps its full label
    for label in ["Preferences", "Connect"] {
        let bounds = live
            .bounds_of(label)
            .unwrap_or_else(|| panic!("{label} is gone"));
        assert!(bounds.width > 20.0, "{label} squeezed: {bounds:?}");
        assert!(
            bounds.x + bounds.width <= gui::MIN_SIZE.width,
            "{label} outside the layout: {bounds:?}"
        );
    }
    let connect = live.bounds_of("Connect").unwrap();
    assert!(
        connect.x + connect.width > small.width,
        "laid out at the minimum width (reached by scrolling), not squeezed into the window: {connect:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buttons_and_fields_share_one_height() {
    use conda_connect::gui::style::{CONTROL_HEIGHT, SMALL_CONTROL_HEIGHT};
    let mut live = Live::new(World::new().await).await;
    for open in [",", "k"] {
        live.command(open).await;
        if open == "k" {
            live.key(key::Named::Enter).await; // Set Domain: a field beside two buttons
        }
        let controls = live.controls();
        assert!(controls.iter().any(|(_, input)| *input), "a field is there");
        for (bounds, input) in controls {
            let ok = (bounds.height - CONTROL_HEIGHT).abs() < 0.5
                || (!input && (bounds.height - SMALL_CONTROL_HEIGHT).abs() < 0.5)
                || (!input && bounds.height < SMALL_CONTROL_HEIGHT); // check boxes and radio buttons
            assert!(
                ok,
                "a control of another height: {bounds:?} (input: {input})"
            );
        }
        live.key(key::Named::Escape).await;
    }
}

/// The SSO-only dialog: its one action carries the focus ring as soon as discovery shows it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sso_only_dialog_shows_its_focus_at_once() {
    let world = crate::sso::sso_world().await;
    let dir = world.home.path().join(".anaconda/navigator");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("anaconda-navigator.ini"),
        "[conda_connect]\npassword_sign_in = False\n",
    )
    .unwrap();
    let mut live = Live::new(world).await;
    live.command("k").await;
    live.key(key::Named::Enter).await;
    live.key(key::Named::Enter).await;
    let sso = conda_connect::gui::screen::login::SSO_BUTTON;
    assert!(live.shows(sso), "the SSO-only dialog");
    assert!(
        live.focused().is_some_and(|f| f.says(sso)),
        "{:?}",
        live.focused()
    );
}

/// Diagnose… and Sign Out… open over Preferences; closing them brings Preferences back with its unsaved edits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preferences_come_back_with_their_edits_after_diagnose_or_sign_out() {
    use conda_connect::gui::screen::{diagnose, preferences, sign_out};
    use conda_connect::gui::{Dialog, Message};
    let mut live = Live::new(signed_in_world().await).await;
    let ticked = |live: &Live| match &live.app.dialog {
        Some(Dialog::Preferences(state)) => Some(state.show_hidden),
        _ => None,
    };
    live.command(",").await;
    live.send(Message::Preferences(preferences::Message::ShowHidden(true)))
        .await;
    assert_eq!(ticked(&live), Some(true));
    live.send(Message::OpenDiagnose).await;
    assert!(matches!(live.app.dialog, Some(Dialog::Diagnose(_))));
    live.send(Message::Diagnose(diagnose::Message::Close)).await;
    assert_eq!(
        ticked(&live),
        Some(true),
        "Preferences came back with the tick"
    );
    assert!(live.focused().is_some(), "and the focus is in it");
    live.send(Message::Preferences(preferences::Message::SignOutFirst))
        .await;
    assert!(live.shows("Sign out of Anaconda Server?"));
    live.key(key::Named::Escape).await;
    assert_eq!(ticked(&live), Some(true), "after Sign Out… → Esc too");
    // a sign-out that happens leaves no Preferences behind
    live.send(Message::Preferences(preferences::Message::SignOutFirst))
        .await;
    live.send(Message::SignOut(sign_out::Message::Confirm))
        .await;
    assert!(live.app.dialog.is_none());
    assert!(live.app.status.as_ref().is_some_and(|s| !s.logged_in));
}

/// Each view of the Tokens dialog opens with a visible focus: the one-time token, its "not copied" question (on
/// the safe answer), and the list after leaving it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_view_of_the_tokens_dialog_has_the_focus() {
    use conda_connect::gui::screen::tokens;
    use conda_connect::gui::{Dialog, Message};
    let mut live = Live::new(signed_in_world().await).await;
    live.command("t").await;
    live.send(Message::Tokens(tokens::Message::New)).await;
    live.type_text("ci").await;
    live.send(Message::Tokens(tokens::Message::Create)).await;
    assert!(live.shows(tokens::NOT_SHOWN_AGAIN));
    assert!(live.focused().is_some(), "the one-time view has the focus");
    live.key(key::Named::Escape).await;
    assert!(live.shows(tokens::NOT_COPIED));
    assert!(
        live.focused().is_some_and(|f| f.says(tokens::STAY)),
        "the safe answer: {:?}",
        live.focused()
    );
    live.send(Message::Tokens(tokens::Message::LeaveUncopied))
        .await;
    assert!(matches!(live.app.dialog, Some(Dialog::Tokens(_))));
    assert!(
        live.focused().is_some_and(|f| f.says("New token")),
        "{:?}",
        live.focused()
    );
}

/// The first run points at Connect: it has the focus ring before any key is pressed, and Update Index, with
/// nothing to index, is off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_run_points_at_connect() {
    let mut live = Live::new(World::new().await).await;
    assert!(
        live.focused().is_some_and(|f| f.says("Connect")),
        "{:?}",
        live.focused()
    );
    live.key(key::Named::F5).await;
    assert!(!live.app.home.running, "nothing to index before sign-in");
    assert!(live.app.index_problem.is_none());
}

/// Switching the Login dialog to a token and back moves nothing below the fields: Sign In and Cancel stay put.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_login_buttons_stay_put_when_switching_to_a_token() {
    use conda_connect::gui::Message;
    use conda_connect::gui::screen::login;
    let world = World::new().await;
    world.set_domain().await;
    let mut live = Live::new(world).await;
    live.command("k").await;
    live.key(key::Named::Enter).await;
    assert!(live.shows(login::TITLE));
    let before = (live.bounds_of("Sign In"), live.bounds_of("Cancel"));
    assert!(before.0.is_some() && before.1.is_some());
    live.send(Message::Login(login::Message::UseToken(true)))
        .await;
    assert!(live.shows(login::USE_PASSWORD));
    assert_eq!(
        (live.bounds_of("Sign In"), live.bounds_of("Cancel")),
        before
    );
    live.send(Message::Login(login::Message::UseToken(false)))
        .await;
    assert_eq!(
        (live.bounds_of("Sign In"), live.bounds_of("Cancel")),
        before
    );
}

/// The package list does not move when Update Index starts, streams and ends (with the per-channel lines open).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_package_list_stays_put_while_update_index_runs() {
    use conda_connect::gui::Message;
    use conda_connect::gui::screen::home;
    let world = signed_in_world().await;
    world
        .engine()
        .select_channels(&["main".to_string()], &[])
        .await
        .unwrap();
    let mut live = Live::new(world).await;
    live.send(Message::UpdateIndex).await;
    live.send(Message::Home(home::Message::ToggleDetails)).await;
    let list = live.bounds_of("numpy").expect("the package list");
    let run = live.app.update(Message::UpdateIndex);
    assert!(live.app.home.running);
    assert_eq!(live.bounds_of("numpy"), Some(list), "when it starts");
    live.settle(run).await;
    assert!(!live.app.home.running);
    assert_eq!(live.bounds_of("numpy"), Some(list), "when it ends");
}
