//! Nothing lost, nothing leaked: the real binary killed (SIGKILL) at every journal step and at random moments,
//! server faults at every request, secret hygiene over a whole CLI session, file modes, and the lock between
//! processes. Each promise is an assertion that fails when the promise is broken.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use conda_connect::emulator::{DEMO_PASSWORD, DEMO_USER, EmulatorConfig, FaultKind};
use conda_connect::engine::index::FetchStatus;
use conda_connect::engine::journal::PAUSE_MARKER;
use conda_connect::engine::lock::ConfigLock;

use crate::common::*;

/// A world signed out, with a domain set and the user's `.condarc` in place; returns the files to come back to.
async fn prepared() -> (World, Vec<(std::path::PathBuf, Vec<u8>)>) {
    let world = World::with_config(EmulatorConfig {
        bulk_channels: 0,
        ..Default::default()
    })
    .await;
    world.write_condarc(USER_CONDARC);
    world.set_domain().await;
    let before = world.user_files();
    (world, before)
}

/// Start the binary paused at journal step `step`; SIGKILL it there. `Ok(false)` when the command finished
/// before reaching that step (no more steps in this phase).
pub(crate) async fn kill_at_step(
    world: &World,
    args: &[&str],
    stdin: Option<&str>,
    step: usize,
) -> bool {
    let mut cmd = cli_command(
        world.home.path(),
        args,
        &[("CONDA_CONNECT_PAUSE_AT", &step.to_string())],
    );
    let stdin = stdin.map(str::to_string);
    tokio::task::spawn_blocking(move || {
        use std::io::Write;
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = spawn_binary(&mut cmd);
        if let Some(input) = stdin {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .unwrap();
        }
        drop(child.stdin.take());
        let stderr = BufReader::new(child.stderr.take().unwrap());
        for line in stderr.lines() {
            if line.unwrap_or_default().starts_with(PAUSE_MARKER) {
                child.kill().unwrap(); // SIGKILL
                child.wait().unwrap();
                return true;
            }
        }
        let status = child.wait().unwrap();
        assert!(status.success(), "the command failed before step {step}");
        false
    })
    .await
    .unwrap()
}

/// After a kill: the next command recovers; signing out then leaves exactly the files from before sign-in, no
/// token file and no live server token.
async fn assert_recovers(world: &World, before: &[(std::path::PathBuf, Vec<u8>)], what: &str) {
    let status = cli(world.home.path(), &["status", "--json"], None, &[]).await;
    assert!(status.status.success(), "{what}: {}", output_text(&status));
    assert!(
        !world.paths.journal_file().exists(),
        "{what}: journal finished"
    );
    let s: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    if s["logged_in"] == true {
        let output = cli(world.home.path(), &["logout"], None, &[]).await;
        assert!(output.status.success(), "{what}: {}", output_text(&output));
    }
    assert_same_files(
        &world.user_files(),
        before,
        &format!("{what}: files as before sign-in"),
    );
    assert!(world.token_files().is_empty(), "{what}: no token file");
    assert!(
        world.emu.tokens().is_empty(),
        "{what}: no live server token"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_every_journal_step_of_the_real_binary() {
    // with netrc: every client's store is a journal step too (rattler's credentials.json, the netrc file)
    let login = [
        "login",
        "--username",
        DEMO_USER,
        "--password-stdin",
        "--skip-channels",
        "--netrc",
    ];
    let password = format!("{DEMO_PASSWORD}\n");
    let mut killed = 0;
    for phase in ["login", "select-channels", "logout"] {
        let mut finished = false;
        for step in 1..=40 {
            let (world, _) = prepared().await;
            // the choice of netrc is remembered in the ini: made before, so sign-out's files equal these
            let mut ini = world.ini().unwrap();
            ini.push_str("\n[conda_connect]\nnetrc = True\n");
            std::fs::write(&world.paths.navigator_ini, ini).unwrap();
            let before = world.user_files();
            if phase != "login" {
                let with_netrc = conda_connect::engine::session::SignIn {
                    netrc: Some(true),
                    ..Default::default()
                };
                world
                    .engine()
                    .login_with(DEMO_USER, DEMO_PASSWORD, &with_netrc)
                    .await
                    .unwrap();
            }
            let reached = match phase {
                "login" => kill_at_step(&world, &login, Some(&password), step).await,
                "select-channels" => {
                    kill_at_step(
                        &world,
                        &[
                            "select-channels",
                            "--default-channel",
                            "main",
                            "--channel",
                            "internal",
                        ],
                        None,
                        step,
                    )
                    .await
                }
                _ => kill_at_step(&world, &["logout"], None, step).await,
            };
            if !reached {
                assert_recovers(&world, &before, &format!("{phase} (completed)")).await;
                finished = true;
                break;
            }
            killed += 1;
            assert_recovers(&world, &before, &format!("{phase}, SIGKILL at step {step}")).await;
        }
        assert!(
            finished,
            "{phase}: every journal step was reached and killed"
        );
    }
    eprintln!("SIGKILL at journal steps: {killed} kill points, {killed} recovered");
    assert!(killed >= 15, "only {killed} kill points");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_moments_of_a_slowed_sign_in() {
    let mut killed = 0;
    for i in 0..30u64 {
        let (world, before) = prepared().await;
        world.emu.state.lock().unwrap().delay = Duration::from_millis(15);
        let args = [
            "login",
            "--username",
            DEMO_USER,
            "--password-stdin",
            "--default-channel",
            "main",
        ];
        let mut cmd = cli_command(world.home.path(), &args, &[]);
        // deterministic "random" moments spread over the whole command
        let after = Duration::from_millis((i * 7919) % 200 + 3);
        let finished = tokio::task::spawn_blocking(move || {
            use std::io::Write;
            cmd.stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            let mut child = spawn_binary(&mut cmd);
            child
                .stdin
                .take()
                .unwrap()
                .write_all(format!("{DEMO_PASSWORD}\n").as_bytes())
                .unwrap();
            let start = Instant::now();
            while start.elapsed() < after {
                if child.try_wait().unwrap().is_some() {
                    return true;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            child.kill().unwrap();
            child.wait().unwrap();
            false
        })
        .await
        .unwrap();
        world.emu.state.lock().unwrap().delay = Duration::ZERO;
        if !finished {
            killed += 1;
        }
        assert_recovers(&world, &before, &format!("killed after {after:?}")).await;
    }
    eprintln!("SIGKILL at random moments: {killed} kills, {killed} recovered");
    assert!(killed >= 15, "{killed}");
}

fn faults(other_host: &str) -> Vec<(&'static str, FaultKind)> {
    let body = |status: u16, content_type: &str, body: &str| FaultKind::Body {
        status,
        content_type: content_type.into(),
        body: body.into(),
    };
    vec![
        ("500", FaultKind::Status { status: 500 }),
        ("502", FaultKind::Status { status: 502 }),
        ("503", FaultKind::Status { status: 503 }),
        ("401 mid-flow", FaultKind::Status { status: 401 }),
        ("403", FaultKind::Status { status: 403 }),
        ("404", FaultKind::Status { status: 404 }),
        ("429", FaultKind::Status { status: 429 }),
        ("malformed JSON", FaultKind::Malformed),
        ("empty body", body(200, "application/json", "")),
        (
            "HTML page",
            body(200, "text/html", "<html><body>Maintenance</body></html>"),
        ),
        ("hung response", FaultKind::Delay { ms: 1600 }),
        ("dropped connection", FaultKind::Drop),
        (
            "redirect to another host",
            FaultKind::Redirect {
                location: format!("{other_host}/steal"),
            },
        ),
        (
            "huge body",
            FaultKind::Huge {
                bytes: 20 * 1024 * 1024,
            },
        ),
    ]
}

/// Every secret the server handed out, and the password.
fn secrets_of(world: &World) -> Vec<String> {
    let st = world.emu.state.lock().unwrap();
    let mut out: Vec<String> = st.tokens.iter().map(|t| t.token.clone()).collect();
    out.extend(st.sessions.keys().cloned());
    out.extend(st.refresh_tokens.iter().cloned());
    out.push(DEMO_PASSWORD.to_string());
    out
}

fn assert_clean_message(world: &World, msg: &str, cell: &str) {
    assert!(
        !msg.is_empty() && !msg.contains('\n'),
        "{cell}: one line: {msg:?}"
    );
    for secret in secrets_of(world) {
        assert!(!msg.contains(&secret), "{cell}: the message leaks a secret");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_matrix_every_request_of_every_step() {
    let other = conda_connect::emulator::Emulator::start(EmulatorConfig {
        bulk_channels: 0,
        ..Default::default()
    })
    .await
    .unwrap();
    let requests: [(&str, &str, Option<&str>); 9] = [
        ("login", "/api/system", None),
        ("login", "/api/auth/login", None),
        ("login", "/api/account", Some("GET")),
        ("login", "/api/account/tokens", Some("POST")),
        // the probe of rattler's token form: any answer leaves a working sign-in (the form unverified)
        ("login-probe", "/api/account/channels", None),
        ("login-probe", "/api/repo", Some("HEAD")),
        ("select-channels", "/api/account/channels", None),
        ("update-index", "/api/repo", None),
        ("logout", "/api/account/tokens", Some("DELETE")),
    ];
    let mut cells = 0;
    for (step, prefix, method) in requests {
        for (name, kind) in faults(&other.url) {
            let cell = format!("{step} {method:?} {prefix} × {name}");
            let (world, before) = prepared().await;
            let mut engine = world.engine();
            engine.client_defaults.timeout = Some(Duration::from_millis(800));
            engine.client_defaults.system_timeout = Some(Duration::from_millis(800));
            if step != "login" && step != "login-probe" {
                engine.login(DEMO_USER, DEMO_PASSWORD).await.unwrap();
                engine
                    .select_channels(&["main".into()], &["internal".into()])
                    .await
                    .unwrap();
            }
            let signed_in_files = world.user_files();
            let every_file = world.files();
            world.fault(prefix, method, kind);
            match step {
                "login" => {
                    let err = engine.login(DEMO_USER, DEMO_PASSWORD).await.unwrap_err();
                    assert_clean_message(&world, &err.to_string(), &cell);
                    assert_same_files(
                        &world.user_files(),
                        &before,
                        &format!("{cell}: no partial local state"),
                    );
                    // nor anywhere else under HOME: Navigator's snapshot store and the caches included
                    assert_same_files(
                        &world.files(),
                        &every_file,
                        &format!("{cell}: nothing under HOME changed"),
                    );
                    assert!(world.emu.tokens().is_empty(), "{cell}: no orphan token");
                }
                "login-probe" => {
                    engine.login(DEMO_USER, DEMO_PASSWORD).await.unwrap();
                    let status = engine.status().unwrap();
                    let rattler = status.consumers.iter().find(|c| c.name == "rattler");
                    assert!(rattler.is_some(), "{cell}: rattler signed in: {status:?}");
                    world.emu.clear_faults();
                    engine.logout().await.unwrap();
                    assert_same_files(
                        &world.user_files(),
                        &before,
                        &format!("{cell}: signed out, files as before"),
                    );
                    assert!(world.emu.tokens().is_empty(), "{cell}: no orphan token");
                }
                "select-channels" => {
                    let err = engine
                        .select_channels(&["r".into()], &[])
                        .await
                        .unwrap_err();
                    assert_clean_message(&world, &err.to_string(), &cell);
                    assert_same_files(
                        &world.user_files(),
                        &signed_in_files,
                        &format!("{cell}: nothing changed"),
                    );
                    assert_eq!(
                        world.emu.tokens().len(),
                        1,
                        "{cell}: only the sign-in token"
                    );
                }
                "update-index" => {
                    let report = engine.update_index().await.unwrap();
                    assert!(
                        report.channels.iter().all(|c| c.status != FetchStatus::Ok),
                        "{cell}: {:?}",
                        report.channels
                    );
                    assert_eq!(report.channels.len(), 4, "{cell}: every channel reported");
                    assert_same_files(
                        &world.user_files(),
                        &signed_in_files,
                        &format!("{cell}: nothing changed"),
                    );
                }
                _ if name == "404" => {
                    // the server answers that the token does not exist: that is a completed revocation
                    let out = engine.logout().await.unwrap();
                    assert!(out.server_token_revoked, "{cell}");
                    assert!(engine.pending_revocations().unwrap().is_empty(), "{cell}");
                    assert_same_files(
                        &world.user_files(),
                        &before,
                        &format!("{cell}: local sign-out complete"),
                    );
                }
                _ => {
                    let out = engine.logout().await.unwrap();
                    assert!(!out.server_token_revoked, "{cell}: the user is told");
                    assert_eq!(
                        world.condarc().as_deref(),
                        Some(USER_CONDARC),
                        "{cell}: .condarc restored"
                    );
                    assert!(world.token_files().is_empty(), "{cell}: token files gone");
                    assert_eq!(
                        engine.pending_revocations().unwrap().len(),
                        1,
                        "{cell}: revocation kept for later"
                    );
                    world.emu.clear_faults();
                    engine.revoke_retry_after = Duration::ZERO;
                    engine.recover().await.unwrap();
                    assert!(
                        world.emu.tokens().is_empty(),
                        "{cell}: revoked on retry: no orphan token"
                    );
                    assert_same_files(
                        &world.user_files(),
                        &before,
                        &format!("{cell}: local sign-out complete"),
                    );
                }
            }
            assert!(
                !world.paths.journal_file().exists(),
                "{cell}: no journal left"
            );
            cells += 1;
        }
    }
    assert!(
        other.log().is_empty(),
        "no request (so no credential) ever reached the other host: {:?}",
        other.log()
    );
    eprintln!(
        "fault matrix: {} faults × {} requests = {cells} cells, all clean",
        faults("").len(),
        requests.len()
    );
    assert!(cells >= 12 * 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_in_any_output_log_or_status() {
    let world = World::new().await;
    let home = world.home.path();
    let debug = [("CONDA_CONNECT_LOG", "conda_connect=debug")];
    let mut outputs: Vec<String> = Vec::new();
    macro_rules! run {
        ($o:expr) => {{
            let o = $o;
            outputs.push(output_text(&o));
            o
        }};
    }
    run!(cli(home, &["set-domain", &world.emu.url], None, &[]).await);
    run!(cli_login_as(home, DEMO_USER, "wrong-password", &[], &debug).await);
    let output = run!(
        cli_login_as(
            home,
            DEMO_USER,
            DEMO_PASSWORD,
            &["--default-channel", "main", "--channel", "internal"],
            &debug
        )
        .await
    );
    assert!(output.status.success(), "{}", output_text(&output));
    for args in [
        &["status", "--json"][..],
        &["status"],
        &["channels", "--json"],
        &["update-index", "--json"],
        &["tokens", "list", "--json"],
        &["tokens", "scopes"],
        &["tokens", "create", "--name", "x", "--scope", "nope"],
        &["tokens", "create", "--name", "x", "--expires", "2099-01-01"],
    ] {
        run!(cli(home, args, None, &debug).await);
    }
    // tokens printed on purpose (create, regenerate) are the only exception: their stdout is not collected
    let created = cli(home, &["tokens", "create", "--name", "ci"], None, &debug).await;
    assert!(created.status.success());
    outputs.push(String::from_utf8_lossy(&created.stderr).into_owned());
    // faults produce error messages too
    world.fault("/api/account/channels", None, FaultKind::Malformed);
    run!(cli(home, &["channels"], None, &debug).await);
    world.fault("/api/repo", None, FaultKind::Status { status: 401 });
    run!(cli(home, &["update-index"], None, &debug).await);
    world.emu.clear_faults();
    world.fault("/api/account/tokens", Some("DELETE"), FaultKind::Drop);
    run!(cli(home, &["logout"], None, &debug).await);
    world.emu.clear_faults();
    let log =
        std::fs::read_to_string(world.paths.data_dir.join("conda-connect.log")).unwrap_or_default();
    outputs.push(log);
    let all = outputs.join("\n");
    assert!(
        all.contains("Invalid Credentials!"),
        "the outputs were collected"
    );
    let secrets = secrets_of(&world);
    assert!(secrets.len() >= 5, "{}", secrets.len());
    for secret in &secrets {
        assert!(
            !all.contains(secret.as_str()),
            "a secret appears in the outputs or the log"
        );
    }
    eprintln!(
        "secret hygiene: {} secrets checked against {} bytes of output and log",
        secrets.len(),
        all.len()
    );
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_files_and_directories() {
    let world = World::new().await;
    world.set_domain().await;
    world.login().await;
    world.engine().logout().await.unwrap(); // leaves a pending nothing; sign in again for the modes
    world.login().await;
    for file in world.token_files() {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
    for file in [world.paths.secrets_file(), world.paths.session_file()] {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
    for dir in world.paths.token_dirs.iter().chain([&world.paths.data_dir]) {
        assert_eq!(mode(dir), 0o700, "{}", dir.display());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_never_interleave() {
    let (world, _) = prepared().await;
    world.login().await;
    let signed_in = world.user_files();
    // another process (here: this test) holds the lock: the CLI waits, then refuses without touching anything
    let held = ConfigLock::acquire(&world.paths.lock_file(), Duration::ZERO).unwrap();
    let output = cli(
        world.home.path(),
        &["select-channels", "--default-channel", "main"],
        None,
        &[("CONDA_CONNECT_LOCK_WAIT_MS", "300")],
    )
    .await;
    assert_eq!(output.status.code(), Some(1));
    assert!(
        output_text(&output).contains("Another conda-connect is changing your configuration"),
        "{}",
        output_text(&output)
    );
    assert_same_files(
        &world.user_files(),
        &signed_in,
        "lock refusal changes nothing",
    );
    drop(held);
    // two at once: both succeed, one after the other; the file is one of the two complete results
    let home = world.home.path().to_path_buf();
    let first = cli(
        &home,
        &[
            "select-channels",
            "--default-channel",
            "main",
            "--channel",
            "internal",
        ],
        None,
        &[],
    );
    let second = cli(
        &home,
        &[
            "select-channels",
            "--default-channel",
            "r",
            "--channel",
            "team/sub",
        ],
        None,
        &[],
    );
    let (first, second) = tokio::join!(first, second);
    assert!(
        first.status.success() && second.status.success(),
        "{}\n{}",
        output_text(&first),
        output_text(&second)
    );
    let settings =
        conda_connect::engine::condarc::read_settings(&world.condarc().unwrap()).unwrap();
    let pair = (
        settings.default_channels.unwrap(),
        settings.channels.unwrap(),
    );
    assert!(
        pair == (
            vec!["main".to_string()],
            vec!["defaults".into(), "internal".into()]
        ) || pair
            == (
                vec!["r".to_string()],
                vec!["defaults".into(), "team/sub".into()]
            ),
        "{pair:?}"
    );
    assert!(!world.paths.journal_file().exists());
}
