//! Sign-in, Add Channels and sign-out against the emulator: every step and failure path, asserting exact files
//! and server state.

use conda_connect::emulator::{DEMO_PASSWORD, DEMO_USER, EmulatorConfig, FaultKind};
use conda_connect::engine::Error;
use conda_connect::engine::index::FetchStatus;
use conda_connect::engine::journal::CrashPoint;
use conda_connect::engine::session::{CondarcRestore, LoginSource};
use conda_connect::engine::snapshots::{SnapshotStore, user_key};
use conda_connect::engine::token_files::quote_plus;

use crate::common::*;

#[tokio::test]
async fn happy_path_exact_files_and_server_state() {
    let world = World::new().await;
    world.write_condarc(USER_CONDARC);
    world.set_domain().await;
    let ini_after_domain = world.ini().unwrap();
    assert_eq!(
        ini_after_domain,
        format!("[main]\nanaconda_server_api_url = '{}'\n", world.emu.url)
    );

    let out = world.login().await;
    assert_eq!(out.username, "alice");
    assert_eq!(out.remembered, None);
    let tokens = world.emu.tokens();
    assert_eq!(tokens.len(), 1, "exactly one server token");
    let token = &tokens[0];
    assert_eq!(token.id, out.token_id);
    assert!(token.name.starts_with("conda-connect-"), "{}", token.name);
    assert_eq!(
        token.scopes,
        [
            "channel:view",
            "channel:view-artifacts",
            "subchannel:view",
            "subchannel:view-artifacts",
            "artifact:download",
            "artifact:view"
        ]
    );
    let expiry =
        chrono::NaiveDate::parse_from_str(token.expires_at.as_deref().unwrap(), "%Y-%m-%d")
            .unwrap();
    // the product dates it in UTC (a local date can be a day off around midnight)
    assert_eq!((expiry - chrono::Utc::now().date_naive()).num_days(), 365);
    assert_eq!(token.token.len(), 48);

    // .condarc: minimal edits, everything else kept
    let alias = format!("{}/api/repo", world.emu.url);
    assert_eq!(
        world.condarc().unwrap(),
        format!(
            "# my conda settings\nchannels: []   # where packages come from\nssl_verify: true\n\nenvs_dirs:\n  - ~/envs   # big disk\nchannel_alias: {alias}\n"
        )
    );
    // byte-exact snapshot in Navigator's store
    let store = SnapshotStore::new(&world.paths.condarc_storage);
    assert_eq!(store.read("main").as_deref(), Some(USER_CONDARC));
    let key = user_key(
        "Anaconda Server",
        &world.emu.url,
        "3f1c2a9e-1111-2222-3333-444455556666",
    );
    assert_eq!(store.index().current.as_deref(), Some(key.as_str()));
    // ini keys in Navigator's encoding
    assert_eq!(
        world.ini().unwrap(),
        format!(
            "[main]\nanaconda_server_api_url = '{u}'\nlogged_api_url = '{u}'\nlogged_brand = Anaconda Server\nanaconda_server_token = '{tok}'\nanaconda_server_token_id = '{id}'\n",
            u = world.emu.url,
            tok = token.token,
            id = token.id
        )
    );
    // token files: every directory (Windows has no XDG directory: 2 of them there), bare token, 0600
    let files = world.token_files();
    assert_eq!(files.len(), if cfg!(windows) { 4 } else { 6 }, "{files:?}");
    for file in &files {
        assert_eq!(std::fs::read_to_string(file).unwrap(), token.token);
        #[cfg(unix)]
        assert_eq!(mode(file), 0o600);
    }
    assert!(
        world.paths.token_dirs[0]
            .join(format!(
                "{}.token",
                quote_plus(&format!("{}/api", world.emu.url))
            ))
            .exists()
    );
    // secrets: not in any user file but the fallback store, which is 0600
    #[cfg(unix)]
    assert_eq!(mode(&world.paths.secrets_file()), 0o600);
    let status = world.engine().status().unwrap();
    assert!(status.logged_in);
    assert_eq!(status.source, Some(LoginSource::CondaConnect));
    assert_eq!(status.channel_alias.as_deref(), Some(alias.as_str()));

    // Add Channels
    world
        .engine()
        .select_channels(&["main".into()], &["internal".into(), "team/sub".into()])
        .await
        .unwrap();
    let settings =
        conda_connect::engine::condarc::read_settings(&world.condarc().unwrap()).unwrap();
    assert_eq!(settings.default_channels, Some(vec!["main".to_string()]));
    assert_eq!(
        settings.channels,
        Some(vec![
            "defaults".into(),
            "internal".into(),
            "team/sub".into()
        ])
    );
    assert!(
        world
            .condarc()
            .unwrap()
            .starts_with("# my conda settings\n")
    );

    // sign out: byte-identical, nothing left anywhere
    let out = world.engine().logout().await.unwrap();
    assert!(out.server_token_revoked);
    assert_eq!(out.condarc, CondarcRestore::Exact);
    assert_eq!(world.condarc().unwrap(), USER_CONDARC);
    assert_eq!(world.ini().unwrap(), ini_after_domain);
    assert!(world.token_files().is_empty());
    assert!(world.emu.tokens().is_empty());
    assert!(!world.paths.secrets_file().exists());
    assert!(!world.paths.session_file().exists());
    assert!(!world.paths.journal_file().exists());
    assert_eq!(store.index().current, None);

    // next sign-in offers the remembered selection
    let again = world.login().await;
    let sel = again.remembered.expect("remembered selection");
    assert_eq!(sel.default_channels, vec!["main".to_string()]);
    assert_eq!(
        sel.channels,
        vec!["internal".to_string(), "team/sub".into()]
    );
    let list = world.engine().channels(false).await.unwrap();
    assert_eq!(list.preselected.default_channels, vec!["main".to_string()]);
    world.engine().logout().await.unwrap();
    assert_eq!(world.condarc().unwrap(), USER_CONDARC);
}

#[tokio::test]
async fn no_condarc_before_means_none_after() {
    let world = World::new().await;
    world.set_domain().await;
    world.login().await;
    assert_eq!(
        world.condarc().unwrap(),
        format!("channel_alias: {}/api/repo\nchannels: []\n", world.emu.url)
    );
    let out = world.engine().logout().await.unwrap();
    assert_eq!(out.condarc, CondarcRestore::Removed);
    assert_eq!(world.condarc(), None);
}

#[tokio::test]
async fn user_edits_while_signed_in_are_kept() {
    let world = World::new().await;
    world.write_condarc(USER_CONDARC);
    world.set_domain().await;
    world.login().await;
    world
        .engine()
        .select_channels(&["main".into()], &["internal".into()])
        .await
        .unwrap();
    let signed_in = world.condarc().unwrap();
    let edited = format!("{signed_in}auto_activate_base: false   # added while signed in\n");
    world.write_condarc(&edited);
    let out = world.engine().logout().await.unwrap();
    assert_eq!(out.condarc, CondarcRestore::KeysReverted);
    let after = world.condarc().unwrap();
    assert!(
        after.contains("auto_activate_base: false   # added while signed in\n"),
        "{after}"
    );
    assert!(after.starts_with("# my conda settings\n"), "{after}");
    let settings = conda_connect::engine::condarc::read_settings(&after).unwrap();
    assert_eq!(settings.channel_alias, None);
    assert_eq!(
        settings.channels,
        Some(vec!["conda-forge".into(), "defaults".into()])
    );
    assert_eq!(
        settings.default_channels,
        Some(vec!["old-main".into()]),
        "the user's own default_channels survive sign-out (Navigator deletes them)"
    );
    assert_eq!(
        settings.ssl_verify,
        Some(conda_connect::engine::condarc::CondaSsl::Bool(true))
    );
    // a copy of the signed-in version is kept
    let store = SnapshotStore::new(&world.paths.condarc_storage);
    let key = user_key(
        "Anaconda Server",
        &world.emu.url,
        "3f1c2a9e-1111-2222-3333-444455556666",
    );
    assert_eq!(store.read(&key).as_deref(), Some(edited.as_str()));
}

#[tokio::test]
async fn wrong_password_changes_nothing() {
    let world = World::new().await;
    world.write_condarc(USER_CONDARC);
    world.set_domain().await;
    let before = world.files();
    let err = world.engine().login(DEMO_USER, "nope").await.unwrap_err();
    assert_eq!(err, Error::InvalidCredentials);
    assert_eq!(err.to_string(), "Invalid Credentials!");
    assert_eq!(world.files(), before);
    assert!(world.emu.tokens().is_empty());
}

#[tokio::test]
async fn invalid_condarc_is_refused_before_the_server_is_touched() {
    let world = World::new().await;
    let broken = "channels: [conda-forge\nssl_verify: true\n";
    world.write_condarc(broken);
    world.set_domain().await;
    let before = world.files();
    let err = world
        .engine()
        .login(DEMO_USER, DEMO_PASSWORD)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidCondarc { .. }), "{err:?}");
    assert!(err.to_string().contains("it was left unchanged"), "{err}");
    assert_eq!(world.condarc().unwrap(), broken);
    assert_eq!(world.files(), before);
    assert!(world.emu.tokens().is_empty());
    assert!(
        world.emu.log().iter().all(|e| e.path != "/api/auth/login"),
        "no sign-in request was made"
    );
}

#[tokio::test]
async fn invalid_ini_is_refused() {
    let world = World::new().await;
    std::fs::create_dir_all(world.paths.navigator_ini.parent().unwrap()).unwrap();
    std::fs::write(&world.paths.navigator_ini, "[main\nbroken\n").unwrap();
    let err = world
        .engine()
        .set_domain(&world.emu.url, false)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidIni { .. }), "{err:?}");
    assert_eq!(world.ini().unwrap(), "[main\nbroken\n");
}

#[tokio::test]
async fn failure_after_token_creation_revokes_it_and_rolls_back() {
    let world = World::new().await;
    world.write_condarc(USER_CONDARC);
    world.set_domain().await;
    // make a token directory impossible to create: a file where the directory should be
    std::fs::write(world.home.path().join(".continuum"), "in the way").unwrap();
    let before = world.files();
    let err = world
        .engine()
        .login(DEMO_USER, DEMO_PASSWORD)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
    assert_eq!(world.files(), before, "every applied change rolled back");
    assert!(
        world.emu.tokens().is_empty(),
        "the created token was revoked"
    );
}

#[tokio::test]
async fn crash_at_every_journal_step_recovers() {
    // login, select-channels and logout each stopped at every step; the next command recovers, and the final
    // sign-out leaves exactly the files from before sign-in and no server token.
    let mut tried = 0;
    for phase in ["login", "select", "logout"] {
        for step in 1..=20 {
            let world = World::with_config(EmulatorConfig {
                bulk_channels: 0,
                ..Default::default()
            })
            .await;
            world.write_condarc(USER_CONDARC);
            world.set_domain().await;
            let before = world.user_files();
            let mut crashing = world.engine();
            crashing.crash = Some(CrashPoint::at(step));
            let result = match phase {
                "login" => crashing.login(DEMO_USER, DEMO_PASSWORD).await.map(|_| ()),
                "select" => {
                    world.login().await;
                    crashing
                        .select_channels(&["main".into()], &["internal".into()])
                        .await
                }
                _ => {
                    world.login().await;
                    crashing.logout().await.map(|_| ())
                }
            };
            if result.is_ok() {
                // fewer steps than `step`: this phase is exhausted
                let _ = world.engine().logout().await;
                break;
            }
            assert!(
                matches!(result, Err(Error::SimulatedCrash { .. })),
                "{phase} {step}: {result:?}"
            );
            tried += 1;
            let engine = world.engine();
            engine.recover().await.unwrap();
            assert!(
                !world.paths.journal_file().exists(),
                "{phase} {step}: journal cleared"
            );
            if engine.status().unwrap().logged_in {
                engine.logout().await.unwrap();
            }
            assert_eq!(
                world.user_files(),
                before,
                "{phase} {step}: files as before sign-in"
            );
            assert!(
                world.emu.tokens().is_empty(),
                "{phase} {step}: no live server token"
            );
        }
    }
    eprintln!("crash points tried and recovered: {tried}");
    assert!(tried >= 15, "only {tried} crash points");
}

#[tokio::test]
async fn offline_logout_completes_locally() {
    let world = World::new().await;
    world.write_condarc(USER_CONDARC);
    world.set_domain().await;
    world.login().await;
    world.fault(
        "/api/account/tokens",
        Some("DELETE"),
        FaultKind::Status { status: 503 },
    );
    let out = world.engine().logout().await.unwrap();
    assert!(!out.server_token_revoked);
    assert_eq!(world.condarc().unwrap(), USER_CONDARC);
    assert!(world.token_files().is_empty());
    assert_eq!(
        world.emu.tokens().len(),
        1,
        "the server still has it: the user was told"
    );
    assert_eq!(world.engine().pending_revocations().unwrap().len(), 1);
    // the next command retries once the server answers again
    world.emu.clear_faults();
    let mut engine = world.engine();
    engine.revoke_retry_after = std::time::Duration::ZERO;
    let msg = engine.recover().await.unwrap().unwrap();
    assert!(msg.contains("was revoked"), "{msg}");
    assert!(
        world.emu.tokens().is_empty(),
        "no orphan token left on the server"
    );
    assert!(engine.pending_revocations().unwrap().is_empty());
    assert!(
        !world.paths.secrets_file().exists(),
        "the kept session is gone too"
    );
}

#[tokio::test]
async fn add_channels_rules() {
    let world = World::new().await;
    world.set_domain().await;
    world.login().await;
    let engine = world.engine();
    assert_eq!(
        engine
            .select_channels(&[], &["internal".into()])
            .await
            .unwrap_err(),
        Error::NoDefaultChannel
    );
    assert_eq!(
        engine
            .select_channels(&["main".into()], &["nope".into()])
            .await
            .unwrap_err(),
        Error::UnknownChannel {
            name: "nope".into()
        }
    );
    assert_eq!(
        engine
            .select_channels(&["bob-private".into()], &[])
            .await
            .unwrap_err(),
        Error::UnknownChannel {
            name: "bob-private".into()
        }
    );
}

#[tokio::test]
async fn channel_listing_pages_past_1000() {
    let world = World::new().await;
    world.set_domain().await;
    world.login().await;
    let asked = |world: &World| {
        world
            .emu
            .log()
            .iter()
            .filter(|e| e.path == "/api/account/channels")
            .count()
    };
    let before = asked(&world);
    let list = world.engine().channels(false).await.unwrap();
    let names: Vec<String> = list.channels.iter().map(|c| c.full_name()).collect();
    assert!(names.len() > 1000, "{}", names.len());
    assert!(names.contains(&"pkgs-1199".to_string()));
    assert!(names.contains(&"team/sub".to_string()));
    assert!(names.contains(&"internal".to_string()));
    assert!(!names.contains(&"bob-private".to_string()));
    assert_eq!(asked(&world) - before, 2, "two pages");
    let main = list.channels.iter().find(|c| c.name == "main").unwrap();
    assert_eq!((main.mirror_count, main.privacy.as_str()), (1, "public"));
}

#[tokio::test]
async fn command_line_logins_are_detected() {
    let world = World::new().await;
    world.set_domain().await;
    let dir = &world.paths.token_dirs[0];
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join(format!(
            "{}.token",
            quote_plus(&format!("{}/api", world.emu.url))
        )),
        "abc",
    )
    .unwrap();
    let status = world.engine().status().unwrap();
    assert!(status.logged_in);
    assert_eq!(status.source, Some(LoginSource::TokenFile));
    let out = world.engine().logout().await.unwrap();
    assert_eq!(out.condarc, CondarcRestore::Untouched);
    assert!(world.token_files().is_empty());

    // conda-repo-cli: config + token, no domain set yet
    let world = World::new().await;
    std::fs::create_dir_all(world.paths.repo_cli_config.parent().unwrap()).unwrap();
    std::fs::write(
        &world.paths.repo_cli_config,
        format!(
            "default_site: corp\nsites:\n  corp:\n    url: {}/api\n",
            world.emu.url
        ),
    )
    .unwrap();
    let tdir = &world.paths.repo_cli_token_dirs[1];
    std::fs::create_dir_all(tdir).unwrap();
    std::fs::write(
        tdir.join(format!(
            "{}.token",
            quote_plus(&format!("{}/api", world.emu.url))
        )),
        "abc",
    )
    .unwrap();
    let status = world.engine().status().unwrap();
    assert!(status.logged_in);
    assert_eq!(status.source, Some(LoginSource::CondaRepoCli));
    assert_eq!(status.domain.as_deref(), Some(world.emu.url.as_str()));
}

#[tokio::test]
async fn set_domain_validation() {
    let world = World::new().await;
    let engine = world.engine();
    assert_eq!(
        engine.set_domain("not a url", false).await.unwrap_err(),
        Error::InvalidDomain
    );
    let typed = format!("{}/api/system", world.emu.url.replace("http://", "HTTP://"));
    assert_eq!(
        engine.set_domain(&typed, false).await.unwrap(),
        world.emu.url
    );
    world.fault("/api/system", None, FaultKind::Status { status: 404 });
    assert_eq!(
        engine.set_domain(&world.emu.url, false).await.unwrap_err(),
        Error::InvalidDomain
    );
    // nothing listens on port 9 of loopback
    let err = engine
        .set_domain("http://127.0.0.1:9", false)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unreachable { .. }), "{err:?}");
    // failed validations leave the stored domain as it was
    assert_eq!(
        world.ini().unwrap(),
        format!("[main]\nanaconda_server_api_url = '{}'\n", world.emu.url)
    );
}

#[tokio::test]
async fn update_index_reports_each_channel() {
    let world = World::new().await;
    world.set_domain().await;
    world.login().await;
    let engine = world.engine();
    engine
        .select_channels(&["main".into()], &["internal".into(), "team/sub".into()])
        .await
        .unwrap();
    let settings =
        conda_connect::engine::condarc::read_settings(&world.condarc().unwrap()).unwrap();
    let (domain, token) = engine.access_token().unwrap().unwrap();
    let client = engine.client(&domain).unwrap();
    let cache = world.paths.repodata_cache();
    // the engine's sipper: one progress per step (the start and each directory), then the report
    let mut run = sipper::Sipper::pin(conda_connect::engine::index::update_index(
        &client,
        &settings,
        Some(&token),
        &cache,
    ));
    let mut events = 0usize;
    while sipper::Sipper::sip(&mut run).await.is_some() {
        events += 1;
    }
    let report = run.await.unwrap();
    assert_eq!(report.channels.len(), 6);
    assert!(
        report.channels.iter().all(|c| c.status == FetchStatus::Ok),
        "{:?}",
        report.channels
    );
    assert_eq!(report.packages_total, 4 + 4 + 1 + 1 + 1);
    assert_eq!(events, 7);
    assert!(
        world
            .emu
            .log()
            .iter()
            .any(|l| l.path == "/api/repo/internal/noarch/repodata.json"
                && l.auth == "url-token"
                && l.status == 200)
    );
    let r2 = conda_connect::engine::index::update_index(&client, &settings, Some(&token), &cache)
        .await
        .unwrap();
    assert!(
        r2.channels.iter().all(|c| c.status == FetchStatus::Cached),
        "{:?}",
        r2.channels
    );
    assert_eq!(r2.packages_total, report.packages_total);
    // a 401 channel does not stop the others
    let r3 = conda_connect::engine::index::update_index(&client, &settings, Some("0000"), &cache)
        .await
        .unwrap();
    assert!(
        r3.channels
            .iter()
            .all(|c| c.status == FetchStatus::Unauthorized),
        "{:?}",
        r3.channels
    );
}

#[tokio::test]
async fn tls_failure_then_explicit_trust_for_that_host_only() {
    let world = World::new().await;
    let https = self_signed_https_front(world.emu.addr).await;
    let engine = world.engine();
    // verification is on by default: a self-signed certificate is a TLS error, and nothing is stored
    let err = engine.set_domain(&https, false).await.unwrap_err();
    assert!(err.is_tls(), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("Your SSL certificate is self-signed or broken"),
        "{err}"
    );
    assert_eq!(world.ini(), None);
    // explicit trust: recorded per host (netloc), Navigator-compatibly
    assert_eq!(engine.set_domain(&https, true).await.unwrap(), https);
    let netloc = https.trim_start_matches("https://");
    assert!(
        world
            .ini()
            .unwrap()
            .contains(&format!("[ssl]\ntrusted_servers = ['{netloc}']\n")),
        "{:?}",
        world.ini()
    );
    world.login().await;
    assert_eq!(world.emu.tokens().len(), 1);
    // a second self-signed host is not trusted by the first one's trust
    let other = self_signed_https_front(world.emu.addr).await;
    let client = engine.client(&other).unwrap();
    assert!(client.system().await.unwrap_err().is_tls());
    let out = world.engine().logout().await.unwrap();
    assert!(out.server_token_revoked);
    assert!(world.emu.tokens().is_empty());
}
