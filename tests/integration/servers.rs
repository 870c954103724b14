//! Several servers at once: a primary and a secondary server (two emulators on different host names,
//! `127.0.0.1` and `localhost`), each signed out on its own, in every order, with the exact `.condarc` asserted
//! and byte-identical files once everything is signed out.

use conda_connect::emulator::{DEMO_PASSWORD, DEMO_USER, Emulator, EmulatorConfig};
use conda_connect::engine::Error;
use conda_connect::engine::journal::CrashPoint;
use conda_connect::engine::session::{Role, Selection, SignIn};

use crate::common::*;

/// A world (its emulator is the primary, at 127.0.0.1) and a second emulator reached as `localhost`.
struct Two {
    world: World,
    other: Emulator,
    other_url: String,
}

async fn two() -> Two {
    let world = World::with_config(EmulatorConfig {
        bulk_channels: 0,
        ..Default::default()
    })
    .await;
    let other = Emulator::start(EmulatorConfig {
        bulk_channels: 0,
        ..Default::default()
    })
    .await
    .unwrap();
    let other_url = other.url.replace("127.0.0.1", "localhost");
    Two {
        world,
        other,
        other_url,
    }
}

impl Two {
    /// Sign in to the primary with `main` / `internal`.
    async fn primary(&self) {
        self.world.set_domain().await;
        self.world
            .engine()
            .login_with_channels(
                DEMO_USER,
                DEMO_PASSWORD,
                Some(&Selection {
                    default_channels: vec!["main".into()],
                    channels: vec!["internal".into()],
                }),
            )
            .await
            .unwrap();
    }

    /// Sign in to the second server beside it, with `channels`.
    async fn secondary(&self, channels: &[&str]) -> conda_connect::engine::Result<()> {
        let engine = self.world.engine();
        let choice = engine
            .choose_other_domain(&self.other_url, false.into())
            .await?;
        let request = SignIn {
            domain: Some(choice),
            selection: Some(Selection {
                default_channels: Vec::new(),
                channels: channels.iter().map(|c| c.to_string()).collect(),
            }),
            add_server: true,
            ..SignIn::default()
        };
        engine
            .login_with(DEMO_USER, DEMO_PASSWORD, &request)
            .await
            .map(|_| ())
    }
}

const PRIMARY_RC: &str = "# my conda settings\nchannels:\n  - defaults\n  - internal\n  - OTHER/api/repo/alice\nssl_verify: true\n\nenvs_dirs:\n  - ~/envs   # big disk\nchannel_alias: PRIMARY/api/repo\ndefault_channels:\n- main\ncustom_channels:\n  alice: OTHER/api/repo\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secondary_server_adds_full_urls_and_custom_channels_and_takes_them_back() {
    let two = two().await;
    two.world.write_condarc(
        "# my conda settings\nchannels:\n  - conda-forge\nssl_verify: true\n\nenvs_dirs:\n  - ~/envs   # big disk\n",
    );
    two.world.set_domain().await;
    let before = two.world.user_files();
    two.primary().await;
    let primary_only = two.world.condarc().unwrap();
    two.secondary(&["alice"]).await.unwrap();
    let rc = two.world.condarc().unwrap();
    let expected = PRIMARY_RC
        .replace("PRIMARY", &two.world.emu.url)
        .replace("OTHER", &two.other_url);
    assert_eq!(rc, expected);
    // conda's token file for each server; the secondary's token is the one its server issued
    let other_token = two.other.tokens();
    assert_eq!(other_token.len(), 1);
    assert_eq!(two.world.emu.tokens().len(), 1);
    let files = two.world.token_files();
    assert!(files.len() >= 2, "{files:?}");
    // status lists both, the primary first, and keeps the top-level keys for the primary
    let status = two.world.engine().status().unwrap();
    assert_eq!(status.domain.as_deref(), Some(two.world.emu.url.as_str()));
    assert_eq!(status.servers.len(), 2);
    assert_eq!(status.servers[0].role, Role::Primary);
    assert_eq!(status.servers[1].role, Role::Secondary);
    assert_eq!(status.servers[1].domain, two.other_url);
    assert_eq!(status.servers[1].channels, vec!["alice".to_string()]);

    // the secondary signs out: the primary's file is back as it was, its server token revoked
    two.world
        .engine()
        .logout_server(&two.other_url)
        .await
        .unwrap();
    assert_eq!(two.world.condarc().unwrap(), primary_only);
    assert!(two.other.tokens().is_empty());
    assert_eq!(two.world.emu.tokens().len(), 1);
    assert!(!two.world.paths.servers_file().exists());
    two.world.engine().logout().await.unwrap();
    assert_same_files(&two.world.user_files(), &before, "after both sign-outs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_primary_signs_out_first_and_promoting_keeps_every_guarantee() {
    for promote in [false, true] {
        let two = two().await;
        two.world.write_condarc(USER_CONDARC);
        let before = two.world.user_files();
        two.primary().await;
        two.secondary(&["alice"]).await.unwrap();
        two.world.engine().logout().await.unwrap();
        // the primary's keys are back; the secondary's channel stays, reachable
        let rc = two.world.condarc().unwrap();
        let settings = conda_connect::engine::condarc::read_settings(&rc).unwrap();
        assert_eq!(settings.channel_alias, None);
        assert_eq!(
            settings.default_channels,
            Some(vec!["old-main".to_string()])
        );
        assert_eq!(
            settings.channels,
            Some(vec![
                "conda-forge".to_string(),
                "defaults".into(),
                format!("{}/api/repo/alice", two.other_url)
            ])
        );
        assert_eq!(
            settings.custom_channels,
            vec![("alice".to_string(), format!("{}/api/repo", two.other_url))]
        );
        assert!(two.world.emu.tokens().is_empty());
        let engine = two.world.engine();
        if promote {
            engine.promote(&two.other_url).await.unwrap();
            let rc = two.world.condarc().unwrap();
            let settings = conda_connect::engine::condarc::read_settings(&rc).unwrap();
            assert_eq!(
                settings.channel_alias,
                Some(format!("{}/api/repo", two.other_url))
            );
            assert_eq!(settings.channels, Some(vec!["alice".to_string()]));
            assert!(settings.custom_channels.is_empty(), "{rc}");
            assert_eq!(settings.default_channels, None);
            let status = engine.status().unwrap();
            assert_eq!(status.domain.as_deref(), Some(two.other_url.as_str()));
            assert_eq!(status.servers.len(), 1);
            assert!(two.world.ini().unwrap().contains(&two.other_url));
            engine.logout().await.unwrap();
        } else {
            engine.logout_server(&two.other_url).await.unwrap();
        }
        assert!(two.other.tokens().is_empty());
        // the ini keeps the domain that was set before; everything else byte for byte
        let after: Vec<_> = two
            .world
            .user_files()
            .into_iter()
            .filter(|(p, _)| *p != two.world.paths.navigator_ini)
            .collect();
        let expected: Vec<_> = before
            .iter()
            .filter(|(p, _)| *p != two.world.paths.navigator_ini)
            .cloned()
            .collect();
        assert_same_files(&after, &expected, &format!("promote {promote}"));
        assert_eq!(two.world.condarc().unwrap(), USER_CONDARC);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promoting_beside_a_primary_swaps_them_and_keeps_every_channel() {
    let two = two().await;
    two.world.write_condarc(USER_CONDARC);
    two.world.set_domain().await;
    let before = two.world.user_files();
    two.primary().await;
    two.secondary(&["alice"]).await.unwrap();
    let engine = two.world.engine();
    engine.promote(&two.other_url).await.unwrap();
    let rc = two.world.condarc().unwrap();
    let settings = conda_connect::engine::condarc::read_settings(&rc).unwrap();
    let (a, b) = (two.world.emu.url.clone(), two.other_url.clone());
    assert_eq!(settings.channel_alias, Some(format!("{b}/api/repo")));
    assert_eq!(settings.default_channels, None);
    assert_eq!(
        settings.channels,
        Some(vec![
            "alice".to_string(),
            format!("{a}/api/repo/main"),
            format!("{a}/api/repo/internal")
        ])
    );
    assert_eq!(
        settings.custom_channels,
        vec![
            ("internal".to_string(), format!("{a}/api/repo")),
            ("main".to_string(), format!("{a}/api/repo")),
        ]
    );
    let status = engine.status().unwrap();
    assert_eq!(status.domain.as_deref(), Some(b.as_str()));
    assert_eq!(status.servers[1].domain, a);
    assert_eq!(status.servers[1].role, Role::Secondary);
    assert_eq!(
        status.servers[1].channels,
        vec!["main".to_string(), "internal".into()]
    );
    assert!(two.world.ini().unwrap().contains(&b));
    // both tokens live; each server signs out on its own, and the files are those from before
    assert_eq!(two.world.emu.tokens().len(), 1);
    assert_eq!(two.other.tokens().len(), 1);
    engine.logout_server(&a).await.unwrap();
    assert!(two.world.emu.tokens().is_empty());
    engine.logout().await.unwrap();
    assert!(two.other.tokens().is_empty());
    assert_eq!(two.world.condarc().unwrap(), USER_CONDARC);
    // the ini keeps the promoted server as the configured domain (promoting chose it); all else as before
    let without_ini = |files: Vec<(std::path::PathBuf, Vec<u8>)>| -> Vec<_> {
        files
            .into_iter()
            .filter(|(p, _)| *p != two.world.paths.navigator_ini)
            .collect()
    };
    assert_same_files(
        &without_ini(two.world.user_files()),
        &without_ini(before),
        "after the swap and both sign-outs",
    );
    assert_eq!(
        engine.preferences().unwrap().domain.as_deref(),
        Some(b.as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_name_two_servers_offer_is_refused_naming_both() {
    let two = two().await;
    two.primary().await;
    let rc = two.world.condarc();
    let error = two.secondary(&["internal"]).await.unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("internal")
            && text.contains(&two.world.emu.url)
            && text.contains(&two.other_url),
        "{text}"
    );
    assert_eq!(two.world.condarc(), rc);
    assert!(two.other.tokens().is_empty(), "refused before any token");
    // and the other way round: the primary cannot take a name the secondary gives
    two.secondary(&["alice"]).await.unwrap();
    let error = two
        .world
        .engine()
        .select_channels(&["main".into()], &["alice".into()])
        .await
        .unwrap_err();
    assert!(error.to_string().contains("alice"), "{error}");
    // the secondary's channels change on their own
    two.world
        .engine()
        .select_server_channels(&two.other_url, &["team".into()])
        .await
        .unwrap();
    let settings =
        conda_connect::engine::condarc::read_settings(&two.world.condarc().unwrap()).unwrap();
    assert_eq!(
        settings.channels,
        Some(vec![
            "defaults".to_string(),
            "internal".into(),
            format!("{}/api/repo/team", two.other_url)
        ])
    );
    assert_eq!(
        settings.custom_channels,
        vec![("team".to_string(), format!("{}/api/repo", two.other_url))]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_host_on_another_port_gets_no_second_rattler_credential() {
    let two = two().await;
    two.primary().await;
    let engine = two.world.engine();
    // the second emulator on the same host name: rattler and netrc keep one entry per host
    let choice = engine
        .choose_other_domain(&two.other.url, false.into())
        .await
        .unwrap();
    let outcome = engine
        .login_with(
            DEMO_USER,
            DEMO_PASSWORD,
            &SignIn {
                domain: Some(choice),
                add_server: true,
                ..SignIn::default()
            },
        )
        .await
        .unwrap();
    assert!(
        outcome
            .notes
            .iter()
            .any(|n| n.contains("127.0.0.1") && n.contains(&two.world.emu.url)),
        "{:?}",
        outcome.notes
    );
    let credentials =
        std::fs::read_to_string(two.world.home.path().join(".rattler/credentials.json"))
            .unwrap_or_default();
    let primary_token = two.world.emu.tokens();
    assert_eq!(primary_token.len(), 1);
    assert!(
        credentials.contains(&primary_token[0].token),
        "the primary's rattler credential stays"
    );
    engine.logout_all().await.unwrap();
    assert!(two.world.emu.tokens().is_empty() && two.other.tokens().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_names_the_servers_and_signs_out_one_or_all() {
    let two = two().await;
    let home = two.world.home.path();
    two.world.write_condarc(USER_CONDARC);
    let before = two.world.user_files();
    let url = two.world.emu.url.clone();
    let out = cli_login(home, &["--domain", &url, "--default-channel", "main"]).await;
    assert!(out.status.success(), "{}", output_text(&out));
    // a second plain sign-in is refused as before; --add-server signs in beside it
    let out = cli_login(home, &["--domain", &two.other_url, "--channel", "alice"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", output_text(&out));
    let out = cli_login(
        home,
        &[
            "--domain",
            &two.other_url,
            "--add-server",
            "--channel",
            "alice",
        ],
    )
    .await;
    assert!(out.status.success(), "{}", output_text(&out));
    let out = cli(home, &["status", "--json"], None, &[]).await;
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["domain"], url.as_str());
    assert_eq!(status["servers"][0]["role"], "primary");
    assert_eq!(status["servers"][1]["domain"], two.other_url.as_str());
    assert_eq!(status["servers"][1]["role"], "secondary");
    assert_eq!(status["servers"][1]["auth"], "password");
    assert_eq!(status["servers"][1]["channels"][0], "alice");
    // Update Index fetches from both servers, each with its own token, and reports per server
    let out = cli(home, &["update-index", "--json"], None, &[]).await;
    assert!(out.status.success(), "{}", output_text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let server_of = |name: &str| {
        report["channels"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"].as_str().unwrap().ends_with(name))
            .map(|c| c["server"].clone())
    };
    assert_eq!(server_of("/alice"), Some(serde_json::json!(two.other_url)));
    assert_eq!(server_of("main"), Some(serde_json::json!(url)));
    assert!(
        two.other
            .log()
            .iter()
            .any(|l| l.path.starts_with("/api/repo/alice/")
                && l.auth == "url-token"
                && l.status == 200)
    );
    let out = cli(home, &["update-index"], None, &[]).await;
    let text = output_text(&out);
    assert!(text.contains(&format!("{}:", two.other_url)), "{text}");
    // doctor checks each server: the secondary's private channel with its own token, its token files
    let out = cli(home, &["doctor", "--json"], None, &[]).await;
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], true, "{}", output_text(&out));
    let alice = format!("channel:{}/api/repo/alice", two.other_url);
    assert!(
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == alice.as_str() && c["status"] == "ok"),
        "{report}"
    );
    // a plain sign-out must name the server
    let out = cli(home, &["logout"], None, &[]).await;
    assert_eq!(out.status.code(), Some(2));
    let text = output_text(&out);
    assert!(
        text.contains(&url) && text.contains(&two.other_url),
        "{text}"
    );
    let out = cli(home, &["logout", "--domain", &two.other_url], None, &[]).await;
    assert!(out.status.success(), "{}", output_text(&out));
    assert!(two.other.tokens().is_empty());
    // one server left: a plain sign-out again
    let out = cli(home, &["logout"], None, &[]).await;
    assert!(out.status.success(), "{}", output_text(&out));
    let after: Vec<_> = two
        .world
        .user_files()
        .into_iter()
        .filter(|(p, _)| *p != two.world.paths.navigator_ini)
        .collect();
    assert_same_files(&after, &before, "after the sign-outs");
    // --all signs out of both
    let out = cli_login(home, &["--default-channel", "main"]).await;
    assert!(out.status.success(), "{}", output_text(&out));
    let out = cli_login(
        home,
        &[
            "--domain",
            &two.other_url,
            "--add-server",
            "--channel",
            "alice",
        ],
    )
    .await;
    assert!(out.status.success(), "{}", output_text(&out));
    let out = cli(home, &["logout", "--all"], None, &[]).await;
    assert!(out.status.success(), "{}", output_text(&out));
    assert!(two.world.emu.tokens().is_empty() && two.other.tokens().is_empty());
    assert_eq!(two.world.condarc().unwrap(), USER_CONDARC);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_equivalent_at_every_step_of_every_multi_server_transition_recovers() {
    // adding, changing and removing a secondary, promoting it and the last sign-out, each stopped at every
    // journal step; the next command recovers, and signing everything out leaves the files from before
    let mut tried = 0;
    for phase in ["add", "select", "remove", "promote", "swap", "last"] {
        for step in 1..=20 {
            let two = two().await;
            two.world.write_condarc(USER_CONDARC);
            two.world.set_domain().await;
            let before = two.world.user_files();
            two.primary().await;
            if phase != "add" {
                two.secondary(&["alice"]).await.unwrap();
            }
            if phase == "promote" || phase == "last" {
                two.world.engine().logout().await.unwrap();
            }
            let mut crashing = two.world.engine();
            crashing.crash = Some(CrashPoint::at(step));
            let result = match phase {
                "add" => {
                    let choice = crashing
                        .choose_other_domain(&two.other_url, false.into())
                        .await
                        .unwrap();
                    crashing
                        .login_with(
                            DEMO_USER,
                            DEMO_PASSWORD,
                            &SignIn {
                                domain: Some(choice),
                                selection: Some(Selection {
                                    default_channels: Vec::new(),
                                    channels: vec!["alice".into()],
                                }),
                                add_server: true,
                                ..SignIn::default()
                            },
                        )
                        .await
                        .map(|_| ())
                }
                "select" => {
                    crashing
                        .select_server_channels(&two.other_url, &["team".into()])
                        .await
                }
                "promote" | "swap" => crashing.promote(&two.other_url).await,
                _ => crashing.logout_server(&two.other_url).await.map(|_| ()),
            };
            let engine = two.world.engine();
            if result.is_ok() {
                engine.logout_all().await.unwrap();
                break;
            }
            assert!(
                matches!(result, Err(Error::SimulatedCrash { .. })),
                "{phase} {step}: {result:?}"
            );
            tried += 1;
            engine.recover().await.unwrap();
            assert!(
                !two.world.paths.journal_file().exists(),
                "{phase} {step}: journal cleared"
            );
            engine.logout_all().await.unwrap();
            assert_eq!(
                two.world.condarc().as_deref(),
                Some(USER_CONDARC),
                "{phase} {step}: .condarc as before"
            );
            let after: Vec<_> = two
                .world
                .user_files()
                .into_iter()
                .filter(|(p, _)| *p != two.world.paths.navigator_ini)
                .collect();
            let expected: Vec<_> = before
                .iter()
                .filter(|(p, _)| *p != two.world.paths.navigator_ini)
                .cloned()
                .collect();
            assert_same_files(&after, &expected, &format!("{phase} {step}"));
            assert!(
                two.world.emu.tokens().is_empty() && two.other.tokens().is_empty(),
                "{phase} {step}: no live server token"
            );
        }
    }
    eprintln!("crash points tried and recovered: {tried}");
    assert!(tried >= 20, "only {tried} crash points");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_of_the_real_binary_at_every_step_of_adding_removing_and_promoting() {
    let password = format!("{DEMO_PASSWORD}\n");
    let mut killed = 0;
    for phase in ["add", "remove", "promote", "swap"] {
        let mut finished = false;
        for step in 1..=40 {
            let two = two().await;
            two.world.write_condarc(USER_CONDARC);
            two.world.set_domain().await;
            let before = two.world.user_files();
            two.primary().await;
            if phase != "add" {
                two.secondary(&["alice"]).await.unwrap();
            }
            if phase == "promote" {
                two.world.engine().logout().await.unwrap();
            }
            let add = [
                "login",
                "--username",
                DEMO_USER,
                "--password-stdin",
                "--domain",
                &two.other_url,
                "--add-server",
                "--channel",
                "alice",
            ];
            let remove = ["logout", "--domain", &two.other_url];
            let promote = ["promote", "--domain", &two.other_url];
            let reached = match phase {
                "add" => crate::safety::kill_at_step(&two.world, &add, Some(&password), step).await,
                "remove" => crate::safety::kill_at_step(&two.world, &remove, None, step).await,
                _ => crate::safety::kill_at_step(&two.world, &promote, None, step).await,
            };
            killed += usize::from(reached);
            // the next command recovers; signing out of everything leaves the files from before
            let out = cli(two.world.home.path(), &["logout", "--all"], None, &[]).await;
            assert!(
                out.status.success(),
                "{phase} {step}: {}",
                output_text(&out)
            );
            assert!(!two.world.paths.journal_file().exists(), "{phase} {step}");
            assert_eq!(
                two.world.condarc().as_deref(),
                Some(USER_CONDARC),
                "{phase} {step}"
            );
            let after: Vec<_> = two
                .world
                .user_files()
                .into_iter()
                .filter(|(p, _)| *p != two.world.paths.navigator_ini)
                .collect();
            let expected: Vec<_> = before
                .iter()
                .filter(|(p, _)| *p != two.world.paths.navigator_ini)
                .cloned()
                .collect();
            assert_same_files(
                &after,
                &expected,
                &format!("{phase}, SIGKILL at step {step}"),
            );
            assert!(
                two.world.emu.tokens().is_empty() && two.other.tokens().is_empty(),
                "{phase} {step}: no live server token"
            );
            if !reached {
                finished = true;
                break;
            }
        }
        assert!(
            finished,
            "{phase}: every journal step was reached and killed"
        );
    }
    eprintln!("SIGKILL at multi-server journal steps: {killed} kill points, {killed} recovered");
    assert!(killed >= 12, "only {killed} kill points");
}

/// The outside tester's findings on several servers: an edit the user makes while signed in survives every later
/// rewrite and the last sign-out (with one server too), and a `custom_channels` entry of the user's is never
/// replaced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_made_while_signed_in_survives_later_rewrites_and_the_last_sign_out() {
    // one server: Add Channels after the edit, then sign-out
    let two = self::two().await;
    two.world.write_condarc("channels:\n  - conda-forge\n");
    two.primary().await;
    let mut rc = two.world.condarc().unwrap();
    rc.push_str("ssl_verify: false\n");
    two.world.write_condarc(&rc);
    two.world
        .engine()
        .select_channels(&["main".into()], &[])
        .await
        .unwrap();
    two.world.engine().logout().await.unwrap();
    let settings =
        conda_connect::engine::condarc::read_settings(&two.world.condarc().unwrap()).unwrap();
    assert_eq!(
        settings.ssl_verify,
        Some(conda_connect::engine::condarc::CondaSsl::Bool(false)),
        "the user's line survives: {:?}",
        two.world.condarc()
    );
    assert_eq!(settings.channels, Some(vec!["conda-forge".to_string()]));

    // two servers, in both orders: the edit made between them survives
    for primary_first in [true, false] {
        let two = self::two().await;
        two.world.write_condarc("channels:\n  - conda-forge\n");
        two.primary().await;
        two.secondary(&["alice"]).await.unwrap();
        let mut rc = two.world.condarc().unwrap();
        rc.push_str("ssl_verify: false   # mine\n");
        two.world.write_condarc(&rc);
        let engine = two.world.engine();
        if primary_first {
            engine.logout().await.unwrap();
            engine.logout_server(&two.other_url).await.unwrap();
        } else {
            let out = engine.logout_server(&two.other_url).await.unwrap();
            assert_eq!(
                out.condarc,
                conda_connect::engine::session::CondarcRestore::EntriesRemoved
            );
            engine.logout().await.unwrap();
        }
        let rc = two.world.condarc().unwrap();
        assert!(rc.contains("ssl_verify: false   # mine"), "{rc}");
        let settings = conda_connect::engine::condarc::read_settings(&rc).unwrap();
        assert_eq!(settings.channels, Some(vec!["conda-forge".to_string()]));
        assert!(settings.custom_channels.is_empty(), "{rc}");
        assert_eq!(settings.channel_alias, None);
        assert!(two.world.emu.tokens().is_empty() && two.other.tokens().is_empty());
    }

    // a custom_channels entry of the user's for the same name is refused, never overwritten
    let two = self::two().await;
    let mine = "custom_channels:\n  alice: https://mirror.example.com/conda\n";
    two.world.write_condarc(mine);
    two.primary().await;
    let error = two.secondary(&["alice"]).await.unwrap_err().to_string();
    assert!(
        error.contains("alice") && error.contains("https://mirror.example.com/conda"),
        "{error}"
    );
    assert!(two.other.tokens().is_empty());
    two.world.engine().logout().await.unwrap();
    assert_eq!(two.world.condarc().unwrap(), mine);
}
