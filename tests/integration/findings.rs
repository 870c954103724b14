//! Findings, round two: every way an outside tester lost data, orphaned a token or leaked a secret, one test per
//! finding — a failed command leaves no trace, server values are validated at the boundary, the user's edits
//! always win (compare-and-swap), no server token is ever orphaned, secrets stay secret.

use std::time::Duration;

use conda_connect::emulator::{DEMO_PASSWORD, DEMO_USER, EmulatorConfig, FaultKind};
use conda_connect::engine::Error;
use conda_connect::engine::journal::CrashPoint;
use conda_connect::engine::session::{CondarcRestore, Selection};

use crate::common::*;

const PASSWORD_LINE: &str = "alice-password\n";

async fn world() -> World {
    let world = World::with_config(EmulatorConfig {
        bulk_channels: 0,
        ..Default::default()
    })
    .await;
    world.set_domain().await;
    world
}

fn requests_to(world: &World, prefix: &str) -> usize {
    world
        .emu
        .log()
        .iter()
        .filter(|e| e.path.starts_with(prefix))
        .count()
}

// ------------------------------------------------------------------ 1. a failed command leaves no trace

#[tokio::test]
async fn usage_errors_are_found_before_any_change_or_request() {
    let world = world().await;
    world.write_condarc(USER_CONDARC);
    let before = world.files();
    let requests = world.emu.log().len();
    for args in [
        // --channel without --default-channel
        vec![
            "login",
            "--username",
            "alice",
            "--password-stdin",
            "--channel",
            "internal",
        ],
        // no --password-stdin
        vec!["login", "--username", "alice"],
        vec![
            "login",
            "--username",
            "alice",
            "--password-stdin",
            "--skip-channels",
            "--default-channel",
            "main",
        ],
        vec!["tokens", "revoke", ".."],
        vec!["tokens", "regenerate", "."],
    ] {
        let out = cli(world.home.path(), &args, Some(PASSWORD_LINE), &[]).await;
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            output_text(&out)
        );
    }
    assert_same_files(&world.files(), &before, "usage errors");
    assert_eq!(world.emu.log().len(), requests, "no request was made");
}

#[tokio::test]
async fn login_with_channels_is_one_transaction() {
    let world = world().await;
    world.write_condarc(USER_CONDARC);
    let before = world.user_files();
    // a channel the server does not list
    let out = cli_login(world.home.path(), &["--default-channel", "nope"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    assert!(
        output_text(&out).contains("no channel named \"nope\""),
        "{}",
        output_text(&out)
    );
    assert_same_files(
        &world.user_files(),
        &before,
        "unknown channel: files as before",
    );
    assert!(
        world.emu.tokens().is_empty(),
        "unknown channel: token revoked"
    );
    // the channel list fails after the token was created
    world.fault(
        "/api/account/channels",
        Some("GET"),
        FaultKind::Status { status: 500 },
    );
    let out = cli_login(world.home.path(), &["--default-channel", "main"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    assert_same_files(
        &world.user_files(),
        &before,
        "channel list 500: files as before",
    );
    assert!(
        world.emu.tokens().is_empty(),
        "channel list 500: token revoked"
    );
    assert!(!world.engine().status().unwrap().logged_in);
    // and with everything answering, both steps happen
    world.emu.clear_faults();
    let out = cli_login(
        world.home.path(),
        &["--default-channel", "main", "--channel", "internal"],
    )
    .await;
    assert!(out.status.success(), "{}", output_text(&out));
    let status = world.engine().status().unwrap();
    assert_eq!(status.default_channels, vec!["main".to_string()]);
    assert_eq!(
        status.channels,
        vec!["defaults".to_string(), "internal".into()]
    );
}

#[tokio::test]
async fn the_domain_cannot_change_under_a_sign_in() {
    let world = world().await;
    world.login().await;
    let other = World::with_config(EmulatorConfig {
        bulk_channels: 0,
        ..Default::default()
    })
    .await;
    let ini = world.ini();
    for args in [
        vec!["set-domain", other.emu.url.as_str()],
        vec![
            "login",
            "--username",
            "bob",
            "--password-stdin",
            "--domain",
            other.emu.url.as_str(),
        ],
    ] {
        let out = cli(world.home.path(), &args, Some("bob-password\n"), &[]).await;
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(
            output_text(&out).contains("sign out first"),
            "{}",
            output_text(&out)
        );
    }
    assert_eq!(
        world.ini(),
        ini,
        "the ini still points at the server of the token"
    );
    // the same domain again is fine
    let out = cli(
        world.home.path(),
        &["set-domain", &world.emu.url],
        None,
        &[],
    )
    .await;
    assert!(out.status.success(), "{}", output_text(&out));
}

// ------------------------------------------------------------------ 2. server values are validated at the boundary

#[tokio::test]
async fn hostile_token_values_never_reach_a_file() {
    for (body, what) in [
        (
            r#"{"id": "3f1c2a9e-0000-0000-0000-000000000001", "token": "abcdefgh\r\n[ssl]\nssl_verification = False"}"#,
            "a token with CR/LF",
        ),
        (
            r#"{"id": "..", "token": "abcdefgh12345678"}"#,
            "an id that is a dot segment",
        ),
        (
            r#"{"id": "3f1c2a9e-0000-0000-0000-000000000001", "token": "abc/def/ghi"}"#,
            "a token with slashes",
        ),
        (
            r#"{"id": "3f1c2a9e-0000-0000-0000-000000000001", "token": "\u001b[31mred\u001b[0m"}"#,
            "an escape sequence",
        ),
    ] {
        let world = world().await;
        world.write_condarc(USER_CONDARC);
        let before = world.user_files();
        world.fault(
            "/api/account/tokens",
            Some("POST"),
            FaultKind::Body {
                status: 200,
                content_type: "application/json".into(),
                body: body.into(),
            },
        );
        let err = world
            .engine()
            .login(DEMO_USER, DEMO_PASSWORD)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Malformed { .. }), "{what}: {err:?}");
        let text = err.to_string();
        assert!(
            !text.contains('\r') && !text.contains('\u{1b}'),
            "{what}: {text:?}"
        );
        assert_same_files(&world.user_files(), &before, what);
    }
}

#[tokio::test]
async fn hostile_channel_names_are_never_written() {
    let world = world().await;
    world.login().await;
    let page = serde_json::json!({
        "items": [
            {"name": "main", "privacy": "public"},
            {"name": "Bad Name", "privacy": "public"},
            {"name": "evil\tx", "privacy": "public"},
            {"name": "a=b", "privacy": "public"},
            {"name": "yes", "privacy": "public\u{1b}[2J"},
        ],
        "total_count": 5
    });
    world.fault(
        "/api/account/channels",
        Some("GET"),
        FaultKind::Body {
            status: 200,
            content_type: "application/json".into(),
            body: page.to_string(),
        },
    );
    let out = cli(world.home.path(), &["channels"], None, &[]).await;
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("main") && text.contains("yes"), "{text}");
    assert!(
        !text.contains("Bad Name") && !text.contains("evil") && !text.contains("a=b"),
        "{text}"
    );
    assert!(
        !text.contains('\u{1b}'),
        "no escape sequence reaches the terminal: {text:?}"
    );
    for bad in ["Bad Name", "evil\tx", "a=b", "UPPER"] {
        let err = world
            .engine()
            .select_channels(&[bad.to_string()], &[])
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("is not a valid channel name"),
            "{bad:?}: {err}"
        );
    }
    // `yes` is a valid name: written so that every YAML reader reads the string back
    world
        .engine()
        .select_channels(&["main".into()], &["yes".into()])
        .await
        .unwrap();
    let rc = world.condarc().unwrap();
    assert!(rc.contains("\"yes\""), "{rc}");
}

#[tokio::test]
async fn a_server_that_ignores_paging_is_stopped() {
    let world = world().await;
    world.login().await;
    let item = |i: usize| serde_json::json!({"name": format!("c{i}"), "privacy": "public"});
    // more items than asked for
    let oversized =
        serde_json::json!({"items": (0..1500).map(item).collect::<Vec<_>>(), "total_count": 1500});
    world.fault(
        "/api/account/channels",
        Some("GET"),
        FaultKind::Body {
            status: 200,
            content_type: "application/json".into(),
            body: oversized.to_string(),
        },
    );
    let err = world.engine().channels(false).await.unwrap_err();
    assert!(matches!(err, Error::Malformed { .. }), "{err:?}");
    // endless full pages with an absurd total
    world.emu.clear_faults();
    let endless = serde_json::json!({"items": (0..1000).map(item).collect::<Vec<_>>(), "total_count": 1u64 << 60});
    world.fault(
        "/api/account/channels",
        Some("GET"),
        FaultKind::Body {
            status: 200,
            content_type: "application/json".into(),
            body: endless.to_string(),
        },
    );
    let start = std::time::Instant::now();
    let asked_before = requests_to(&world, "/api/account/channels");
    let err = world
        .engine()
        .channels(false)
        .await
        .unwrap_err()
        .to_string();
    // the same full page again and again (a server that ignores `offset`): refused at the second page
    assert!(err.contains("same channels again"), "{err}");
    assert!(start.elapsed() < Duration::from_secs(60));
    assert_eq!(
        requests_to(&world, "/api/account/channels") - asked_before,
        2
    );
}

// ------------------------------------------------------------------ 3. the user's edits always win

#[tokio::test]
async fn an_edit_made_while_the_sign_in_waits_is_kept() {
    let world = world().await;
    world.write_condarc(USER_CONDARC);
    // every request takes 400 ms: the sign-in's four requests take 1.6 s
    world.emu.state.lock().unwrap().delay = Duration::from_millis(400);
    let engine = world.engine();
    let login = tokio::spawn(async move { engine.login(DEMO_USER, DEMO_PASSWORD).await });
    tokio::time::sleep(Duration::from_millis(600)).await;
    let edited = format!("{USER_CONDARC}auto_update_conda: false  # added while signing in\n");
    world.write_condarc(&edited);
    login.await.unwrap().unwrap();
    world.emu.state.lock().unwrap().delay = Duration::ZERO;
    let signed_in = world.condarc().unwrap();
    assert!(
        signed_in.contains("auto_update_conda: false  # added while signing in"),
        "{signed_in}"
    );
    assert!(signed_in.contains("channel_alias:"), "{signed_in}");
    let out = world.engine().logout().await.unwrap();
    assert_eq!(out.condarc, CondarcRestore::Exact);
    assert_eq!(
        world.condarc().unwrap(),
        edited,
        "the snapshot holds the edit"
    );
}

#[tokio::test]
async fn recovery_never_replays_over_edits_made_after_a_crash() {
    // the sign-in's journal is saved, the process dies before .condarc is written; the user then edits it
    let world = world().await;
    world.write_condarc(USER_CONDARC);
    let mut crashing = world.engine();
    // steps: journal (ServerPending), JWT stored, token created, Apply journal saved → stop there
    crashing.crash = Some(CrashPoint::at(4));
    let err = crashing.login(DEMO_USER, DEMO_PASSWORD).await.unwrap_err();
    assert!(matches!(err, Error::SimulatedCrash { .. }), "{err:?}");
    let edited = format!("{USER_CONDARC}pip_interop_enabled: true\n");
    world.write_condarc(&edited);
    world.engine().recover().await.unwrap();
    let text = world.condarc().unwrap();
    assert!(
        text.contains("pip_interop_enabled: true"),
        "the user's edit survives recovery: {text}"
    );
    assert!(
        text.contains("channel_alias:"),
        "and the sign-in is completed: {text}"
    );
    // sign-out: the key-only revert keeps the edit
    let out = world.engine().logout().await.unwrap();
    assert_eq!(out.condarc, CondarcRestore::KeysReverted);
    let after = world.condarc().unwrap();
    assert!(after.contains("pip_interop_enabled: true"), "{after}");
    assert!(!after.contains("channel_alias"), "{after}");
}

#[tokio::test]
async fn the_key_only_revert_restores_each_original_entry_exactly() {
    let world = world().await;
    let original = "# mine\nchannels: !!seq   # tagged\n  - conda-forge\ndefault_channels:\nchannel_alias: 1.0\nssl_verify: true\n";
    world.write_condarc(original);
    world.login().await;
    let signed_in = world.condarc().unwrap();
    world.write_condarc(&format!("{signed_in}envs_dirs: [/data/envs]\n"));
    let out = world.engine().logout().await.unwrap();
    assert_eq!(out.condarc, CondarcRestore::KeysReverted);
    let after = world.condarc().unwrap();
    for entry in [
        "channels: !!seq   # tagged\n  - conda-forge\n",
        "default_channels:\n",
        "channel_alias: 1.0\n",
    ] {
        assert!(after.contains(entry), "{entry:?} in\n{after}");
    }
    assert!(after.contains("envs_dirs: [/data/envs]"), "{after}");
    let map = conda_connect::engine::condarc::parse_strict(&after).unwrap();
    assert_eq!(
        map.get("default_channels"),
        Some(&yaml_serde::Value::Null),
        "null stays null"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn a_linked_condarc_keeps_its_link() {
    let world = world().await;
    let dotfiles = world.home.path().join("dotfiles");
    std::fs::create_dir(&dotfiles).unwrap();
    std::fs::write(dotfiles.join("condarc"), USER_CONDARC).unwrap();
    std::os::unix::fs::symlink("dotfiles/condarc", &world.paths.condarc).unwrap();
    let outcome = world.login().await;
    assert!(
        outcome.notes.iter().any(|n| n.contains("symbolic link")),
        "{:?}",
        outcome.notes
    );
    let link = std::fs::symlink_metadata(&world.paths.condarc).unwrap();
    assert!(
        link.file_type().is_symlink(),
        "still a link while signed in"
    );
    assert!(
        std::fs::read_to_string(dotfiles.join("condarc"))
            .unwrap()
            .contains("channel_alias")
    );
    world.engine().logout().await.unwrap();
    assert!(
        std::fs::symlink_metadata(&world.paths.condarc)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(
        std::fs::read_to_string(dotfiles.join("condarc")).unwrap(),
        USER_CONDARC
    );
    // a dangling link: signing in creates its target, signing out removes the target and keeps the link
    std::fs::remove_file(dotfiles.join("condarc")).unwrap();
    world.login().await;
    assert!(dotfiles.join("condarc").exists());
    let out = world.engine().logout().await.unwrap();
    assert_eq!(out.condarc, CondarcRestore::Removed);
    assert!(
        std::fs::symlink_metadata(&world.paths.condarc)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(!dotfiles.join("condarc").exists());
}

#[cfg(unix)]
#[tokio::test]
async fn read_only_files_are_refused_not_rewritten() {
    use std::os::unix::fs::PermissionsExt;
    let world = world().await;
    world.write_condarc(USER_CONDARC);
    std::fs::set_permissions(&world.paths.condarc, std::fs::Permissions::from_mode(0o444)).unwrap();
    let before = world.files();
    let requests = requests_to(&world, "/api/auth");
    let err = world
        .engine()
        .login(DEMO_USER, DEMO_PASSWORD)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("~/.condarc is read-only"), "{err}");
    assert_same_files(&world.files(), &before, "read-only .condarc");
    assert_eq!(
        requests_to(&world, "/api/auth"),
        requests,
        "refused before the password was sent"
    );
    assert_eq!(mode(&world.paths.condarc), 0o444);
    // the same for the ini
    std::fs::set_permissions(&world.paths.condarc, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::set_permissions(
        &world.paths.navigator_ini,
        std::fs::Permissions::from_mode(0o444),
    )
    .unwrap();
    let err = world
        .engine()
        .login(DEMO_USER, DEMO_PASSWORD)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("anaconda-navigator.ini is read-only"), "{err}");
    assert!(world.emu.tokens().is_empty());
}

#[cfg(unix)]
#[tokio::test]
async fn another_tools_token_files_are_put_back_with_their_modes() {
    use std::os::unix::fs::PermissionsExt;
    let world = world().await;
    let files = conda_connect::engine::token_files::token_file_paths(&world.paths, &world.emu.url);
    let theirs = &files[0];
    std::fs::create_dir_all(theirs.parent().unwrap()).unwrap();
    // another tool's sign-in to the same server: a live token of bob's
    let client =
        conda_connect::engine::client::ServerClient::new(&world.emu.url, &Default::default())
            .unwrap();
    let jwt = client.login("bob", "bob-password").await.unwrap().token;
    let other = client
        .create_token(
            &jwt,
            &conda_connect::engine::client::NewToken {
                name: "anaconda-client".into(),
                scopes: vec!["artifact:download".into()],
                expires_at: None,
            },
        )
        .await
        .unwrap()
        .token;
    std::fs::write(theirs, &other).unwrap();
    std::fs::set_permissions(theirs, std::fs::Permissions::from_mode(0o640)).unwrap();
    world.login().await;
    assert_eq!(
        mode(theirs),
        0o600,
        "0600 while it holds conda-connect's token"
    );
    assert_ne!(std::fs::read_to_string(theirs).unwrap(), other);
    world.engine().logout().await.unwrap();
    assert_eq!(std::fs::read_to_string(theirs).unwrap(), other);
    assert_eq!(mode(theirs), 0o640, "the mode it had");
    assert!(
        files[1..].iter().all(|p| !p.exists()),
        "the files conda-connect created are gone"
    );
}

// ------------------------------------------------------------------ 4. no server token is ever orphaned

#[tokio::test]
async fn a_failed_sign_in_whose_revocation_fails_is_retried_until_the_server_confirms() {
    let world = world().await;
    // an anchor on `channels` makes the local step fail after the token exists
    world.write_condarc("channels: &c [a]\nmirror_of_channels: *c\n");
    world.emu.inject(conda_connect::emulator::Fault {
        path_prefix: "/api/account/tokens/".into(),
        method: Some("DELETE".into()),
        kind: FaultKind::Status { status: 503 },
        times: Some(1),
    });
    let err = world
        .engine()
        .login(DEMO_USER, DEMO_PASSWORD)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidCondarc { .. }), "{err:?}");
    assert_eq!(world.emu.tokens().len(), 1, "the revocation failed once");
    assert_eq!(
        world.engine().pending_revocations().unwrap().len(),
        1,
        "and was recorded"
    );
    let mut engine = world.engine();
    engine.revoke_retry_after = Duration::ZERO;
    let msg = engine.recover().await.unwrap().unwrap_or_default();
    assert!(msg.contains("revoked"), "{msg}");
    assert!(world.emu.tokens().is_empty(), "no orphan token");
    assert!(engine.pending_revocations().unwrap().is_empty());
}

#[tokio::test]
async fn a_new_sign_in_never_drops_a_pending_revocation() {
    let world = world().await;
    world.login().await;
    let first = world.emu.tokens()[0].id.clone();
    world.fault(
        "/api/account/tokens/",
        Some("DELETE"),
        FaultKind::Status { status: 503 },
    );
    world.engine().logout().await.unwrap();
    // sign in again while the first revocation is pending (and still failing)
    world.login().await;
    world.engine().logout().await.unwrap();
    assert_eq!(
        world.engine().pending_revocations().unwrap().len(),
        2,
        "both kept"
    );
    world.emu.clear_faults();
    let mut engine = world.engine();
    engine.revoke_retry_after = Duration::ZERO;
    engine.recover().await.unwrap();
    assert!(
        world.emu.tokens().iter().all(|t| t.id != first),
        "the first token was revoked"
    );
    assert!(world.emu.tokens().is_empty());
}

#[tokio::test]
async fn a_401_on_a_deferred_revocation_waits_for_the_next_sign_in() {
    let world = World::with_config(EmulatorConfig {
        bulk_channels: 0,
        session_lifetime: Some(Duration::from_secs(5)),
        ..Default::default()
    })
    .await;
    world.set_domain().await;
    world.login().await;
    world.fault(
        "/api/account/tokens/",
        Some("DELETE"),
        FaultKind::Status { status: 503 },
    );
    world.engine().logout().await.unwrap();
    // a 401 while the session has not lapsed may be a hiccup: it is retried, not given up
    world.emu.clear_faults();
    world.fault(
        "/api/account/tokens/",
        Some("DELETE"),
        FaultKind::Status { status: 401 },
    );
    let mut engine = world.engine();
    engine.revoke_retry_after = Duration::ZERO;
    engine.recover().await.unwrap();
    assert!(
        !engine.pending_revocations().unwrap()[0].needs_sign_in,
        "retried while the session lasts"
    );
    // the session lapses and cannot be renewed (no realm): only a sign-in can revoke it now, and the user is told
    tokio::time::sleep(Duration::from_millis(5100)).await;
    let msg = engine.recover().await.unwrap().unwrap_or_default();
    assert!(msg.contains("only a new sign-in can revoke it"), "{msg}");
    assert!(msg.contains("logout --finish"), "{msg}");
    assert_eq!(
        engine.pending_revocations().unwrap().len(),
        1,
        "a 401 is not a revocation"
    );
    assert!(engine.pending_revocations().unwrap()[0].needs_sign_in);
    assert_eq!(world.emu.tokens().len(), 1);
    // the next sign-in finishes it with its fresh session
    world.emu.clear_faults();
    let outcome = world.login().await;
    assert!(
        outcome.notes.iter().any(|n| n.contains("were revoked")),
        "{:?}",
        outcome.notes
    );
    assert!(engine.pending_revocations().unwrap().is_empty());
    assert_eq!(
        world.emu.tokens().len(),
        1,
        "only the new sign-in's token is left"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn regenerating_the_sign_in_token_checks_the_files_before_asking_the_server() {
    use std::os::unix::fs::PermissionsExt;
    let world = world().await;
    let outcome = world.login().await;
    let token_before = world.emu.tokens()[0].token.clone();
    std::fs::set_permissions(
        &world.paths.navigator_ini,
        std::fs::Permissions::from_mode(0o444),
    )
    .unwrap();
    let err = world
        .engine()
        .regenerate_token(&outcome.token_id)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("read-only"), "{err}");
    assert_eq!(
        world.emu.tokens()[0].token,
        token_before,
        "the server was not asked"
    );
    std::fs::set_permissions(
        &world.paths.navigator_ini,
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    // a hyphen-less spelling of the sign-in id is the sign-in token: conda's files get the new value
    let spelled = outcome.token_id.replace('-', "").to_uppercase();
    let new = world.engine().regenerate_token(&spelled).await.unwrap();
    for path in conda_connect::engine::token_files::token_file_paths(&world.paths, &world.emu.url) {
        assert_eq!(std::fs::read_to_string(&path).unwrap(), new);
    }
    // and a braced spelling is refused for revocation like the plain one
    let braced = format!("{{{}}}", outcome.token_id);
    let err = world
        .engine()
        .revoke_token(&braced)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("Sign out"), "{err}");
    assert_eq!(world.emu.tokens().len(), 1);
}

// ------------------------------------------------------------------ 5. secrets stay secret

#[cfg(unix)]
#[tokio::test]
async fn the_ini_is_private_while_it_holds_the_token() {
    use std::os::unix::fs::PermissionsExt;
    let world = world().await;
    std::fs::set_permissions(
        &world.paths.navigator_ini,
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    world.login().await;
    assert_eq!(mode(&world.paths.navigator_ini), 0o600);
    world.engine().logout().await.unwrap();
    assert_eq!(
        mode(&world.paths.navigator_ini),
        0o644,
        "its own mode once the token is gone"
    );
}

#[tokio::test]
async fn a_refused_condarc_edit_logs_no_configuration_value() {
    let world = world().await;
    let condarc = "proxy_servers:\n  https: http://user:pr0xy-pa55word@proxy:8080\nchannels: &c [a]\nmirror_of_channels: *c\n";
    world.write_condarc(condarc);
    let out = cli_login(world.home.path(), &[]).await;
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    let log_path = world.paths.data_dir.join("conda-connect.log");
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(!log.contains("pr0xy-pa55word"), "{log}");
    assert!(!log.contains("alice-password"));
    #[cfg(unix)]
    assert_eq!(mode(&log_path), 0o600);
    assert!(world.emu.tokens().is_empty());
}

// ------------------------------------------------------------------ 6. smaller ones

#[tokio::test]
async fn a_hand_written_domain_with_a_trailing_slash_is_normalised() {
    let world = world().await;
    std::fs::write(
        &world.paths.navigator_ini,
        format!("[main]\nanaconda_server_api_url = '{}/'\n", world.emu.url),
    )
    .unwrap();
    world.login().await;
    let rc = world.condarc().unwrap();
    assert!(
        rc.contains(&format!("channel_alias: {}/api/repo\n", world.emu.url)),
        "{rc}"
    );
    assert!(
        world
            .token_files()
            .iter()
            .all(|p| !p.to_string_lossy().contains("%2F%2Fapi")),
        "{:?}",
        world.token_files()
    );
}

#[tokio::test]
async fn a_redirect_to_another_port_names_host_and_port() {
    let world = world().await;
    world.fault(
        "/api/auth/login",
        None,
        FaultKind::Redirect {
            location: "http://127.0.0.1:9/steal".into(),
        },
    );
    let err = world
        .engine()
        .login(DEMO_USER, DEMO_PASSWORD)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("(127.0.0.1:9)"), "{err}");
}

#[tokio::test]
async fn signing_out_of_a_conda_repo_cli_sign_in_says_what_happened() {
    let world = World::with_config(EmulatorConfig {
        bulk_channels: 0,
        ..Default::default()
    })
    .await;
    let config = world.paths.repo_cli_config.clone();
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(
        &config,
        format!(
            "default_site: corp\nsites:\n  corp:\n    url: {}/api\n",
            world.emu.url
        ),
    )
    .unwrap();
    let dir = &world.paths.repo_cli_token_dirs[0];
    std::fs::create_dir_all(dir).unwrap();
    let name = format!(
        "{}.token",
        conda_connect::engine::token_files::quote_plus(&format!("{}/api", world.emu.url))
    );
    std::fs::write(dir.join(name), "repo-cli-token-0123456789").unwrap();
    assert!(world.engine().status().unwrap().logged_in);
    let out = cli(world.home.path(), &["logout"], None, &[]).await;
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    assert!(!text.contains("will retry"), "nothing is retried: {text}");
    assert!(text.contains("not revoked on the server"), "{text}");
    assert!(!world.engine().status().unwrap().logged_in, "status agrees");
}

#[tokio::test]
async fn selection_rules_are_checked_before_anything_happens() {
    let world = world().await;
    let before = world.files();
    let requests = world.emu.log().len();
    let bad = Selection {
        default_channels: vec![],
        channels: vec!["internal".into()],
    };
    let err = world
        .engine()
        .login_with_channels(DEMO_USER, DEMO_PASSWORD, Some(&bad))
        .await
        .unwrap_err();
    assert_eq!(err, Error::NoDefaultChannel);
    assert_same_files(&world.files(), &before, "nothing touched");
    assert_eq!(world.emu.log().len(), requests);
}

#[tokio::test]
async fn sign_out_removes_the_servers_package_cache() {
    let world = world().await;
    world.login().await;
    world
        .engine()
        .select_channels(&["main".into()], &["internal".into()])
        .await
        .unwrap();
    world.engine().update_index().await.unwrap();
    let cache = world.paths.repodata_cache();
    let mut before = Vec::new();
    walk(&cache, &mut before);
    assert!(!before.is_empty(), "Update Index cached something");
    world.engine().logout().await.unwrap();
    let mut after = Vec::new();
    walk(&cache, &mut after);
    assert!(
        after.is_empty(),
        "private package names left behind: {after:?}"
    );
}

// ------------------------------------------------------------------ found by an outside attack

#[tokio::test]
async fn a_session_lost_from_the_secret_store_still_signs_out_cleanly() {
    let world = world().await;
    world.write_condarc(USER_CONDARC);
    let before = world.user_files();
    world.login().await;
    let first = world.emu.tokens()[0].id.clone();
    std::fs::remove_file(world.paths.secrets_file()).unwrap();
    let out = world.engine().logout().await.unwrap();
    assert!(!out.server_token_revoked);
    assert!(
        world.token_files().is_empty(),
        "conda-connect's token files are removed: {:?}",
        world.token_files()
    );
    let without_record =
        |files: Vec<(std::path::PathBuf, Vec<u8>)>| -> Vec<(std::path::PathBuf, Vec<u8>)> {
            files
                .into_iter()
                .filter(|(p, _)| !p.ends_with("pending_revocations.json"))
                .collect()
        };
    assert_same_files(
        &without_record(world.user_files()),
        &without_record(before),
        "files as before sign-in (and the pending revocation recorded)",
    );
    assert!(!world.engine().status().unwrap().logged_in);
    assert_eq!(world.engine().pending_revocations().unwrap().len(), 1);
    // the next sign-in of the same account finishes the revocation
    world.login().await;
    assert!(
        world.emu.tokens().iter().all(|t| t.id != first),
        "the first token was revoked"
    );
}

#[tokio::test]
async fn a_replayed_sign_out_never_takes_a_lost_session_for_a_revoked_token() {
    let world = world().await;
    world.login().await;
    let mut crashing = world.engine();
    crashing.crash = Some(CrashPoint::at(1));
    assert!(matches!(
        crashing.logout().await,
        Err(Error::SimulatedCrash { .. })
    ));
    std::fs::remove_file(world.paths.secrets_file()).unwrap();
    world.engine().recover().await.unwrap();
    assert!(!world.paths.journal_file().exists());
    assert_eq!(world.emu.tokens().len(), 1, "still live on the server");
    assert_eq!(
        world.engine().pending_revocations().unwrap().len(),
        1,
        "and recorded, not forgotten"
    );
    world.login().await;
    assert_eq!(
        world.emu.tokens().len(),
        1,
        "only the new sign-in's token is left"
    );
}

#[tokio::test]
async fn renewal_checks_the_servers_answer() {
    let world = world().await;
    world.login().await;
    world.fault(
        "/api/account/tokens/",
        Some("PUT"),
        FaultKind::Body {
            status: 200,
            content_type: "text/html".into(),
            body: "<html>proxy says hello</html>".into(),
        },
    );
    let err = world.engine().renew_sign_in_token().await.unwrap_err();
    assert!(matches!(err, Error::Malformed { .. }), "{err:?}");
    // a server that ignored reissue_token=false and issued a new value: conda's files get it
    world.emu.clear_faults();
    let new_value = "0123456789abcdef0123456789abcdef0123456789abcdef";
    world.fault(
        "/api/account/tokens/",
        Some("PUT"),
        FaultKind::Body {
            status: 200,
            content_type: "application/json".into(),
            body: format!(r#"{{"token": "{new_value}"}}"#),
        },
    );
    world.engine().renew_sign_in_token().await.unwrap();
    for path in conda_connect::engine::token_files::token_file_paths(&world.paths, &world.emu.url) {
        assert_eq!(std::fs::read_to_string(&path).unwrap(), new_value);
    }
    assert!(world.ini().unwrap().contains(new_value));
}

#[tokio::test]
async fn a_failed_login_with_domain_leaves_the_domain_as_it_was() {
    let world = world().await;
    let other = World::with_config(EmulatorConfig {
        bulk_channels: 0,
        ..Default::default()
    })
    .await;
    let ini = world.ini();
    let out = cli_login_as(
        world.home.path(),
        DEMO_USER,
        "wrong-password",
        &["--domain", &other.emu.url],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    assert_eq!(
        world.ini(),
        ini,
        "the domain is still the one before the command"
    );
}

#[tokio::test]
async fn a_domain_with_escape_sequences_never_reaches_the_terminal() {
    let world = world().await;
    std::fs::write(
        &world.paths.navigator_ini,
        "[main]\nanaconda_server_api_url = 'http://h\\x1b]0;pwned\\x07'\n",
    )
    .unwrap();
    let out = cli(world.home.path(), &["status"], None, &[]).await;
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(0), "status still runs: {text:?}");
    assert!(
        !text.contains('\u{1b}') && !text.contains('\u{7}'),
        "{text:?}"
    );
    // a value with control characters is not a domain: status says there is none
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("Not signed in (no domain set)\n"),
        "{text:?}"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn a_condarc_made_read_only_while_the_sign_in_waits_is_not_rewritten() {
    use std::os::unix::fs::PermissionsExt;
    let world = world().await;
    world.write_condarc(USER_CONDARC);
    world.emu.state.lock().unwrap().delay = Duration::from_millis(300);
    let engine = world.engine();
    let login = tokio::spawn(async move { engine.login(DEMO_USER, DEMO_PASSWORD).await });
    tokio::time::sleep(Duration::from_millis(450)).await;
    std::fs::set_permissions(&world.paths.condarc, std::fs::Permissions::from_mode(0o444)).unwrap();
    let err = login.await.unwrap().unwrap_err().to_string();
    world.emu.state.lock().unwrap().delay = Duration::ZERO;
    assert!(err.contains("read-only"), "{err}");
    assert_eq!(world.condarc().unwrap(), USER_CONDARC);
    assert!(world.emu.tokens().is_empty(), "the token was revoked");
    assert!(!world.engine().status().unwrap().logged_in);
}

#[tokio::test]
async fn signing_out_of_an_outside_sign_in_leaves_a_shared_folder_alone() {
    let world = world().await;
    let shared = tempfile::tempdir().unwrap();
    let data = shared.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let file = data.join(format!(
        "{}.token",
        conda_connect::engine::token_files::quote_plus(&format!("{}/api", world.emu.url))
    ));
    std::fs::write(&file, "someone-elses-token-0123456789").unwrap();
    let env = [("BINSTAR_CONFIG_DIR", shared.path().to_str().unwrap())];
    let out = cli(world.home.path(), &["logout"], None, &env).await;
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("left as it is"), "{text}");
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "someone-elses-token-0123456789"
    );
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn files_keep_their_owner_when_run_as_root() {
    use std::os::unix::fs::MetadataExt;
    let (uid, gid) = own_ids();
    // root gives the files to another user first; anyone else can only check that they stay theirs
    let owner = if uid == 0 {
        (1000, 1000)
    } else {
        eprintln!(
            "SKIPPED (partly): not root (uid {uid}), so the files cannot be given to another user; checking only \
             that a sign-in and sign-out leave them this user's"
        );
        (uid, gid)
    };
    let world = world().await;
    world.write_condarc(USER_CONDARC);
    for path in [&world.paths.condarc, &world.paths.navigator_ini] {
        std::os::unix::fs::chown(path, Some(owner.0), Some(owner.1)).unwrap();
    }
    world.login().await;
    world.engine().logout().await.unwrap();
    for path in [&world.paths.condarc, &world.paths.navigator_ini] {
        let meta = std::fs::metadata(path).unwrap();
        assert_eq!((meta.uid(), meta.gid()), owner, "{}", path.display());
    }
    assert_eq!(
        world.condarc().as_deref(),
        Some(USER_CONDARC),
        "signed out: the user's .condarc is back"
    );
}

/// This process's effective uid and gid: the owner of a file it creates.
#[cfg(target_os = "linux")]
fn own_ids() -> (u32, u32) {
    use std::os::unix::fs::MetadataExt;
    let probe = tempfile::NamedTempFile::new().unwrap();
    let meta = std::fs::metadata(probe.path()).unwrap();
    (meta.uid(), meta.gid())
}
