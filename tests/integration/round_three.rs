//! Trust, round three: a changed certificate is never trusted silently, `login --domain` leaves the domain as it was
//! when it is interrupted, the sign-in address never appears on a command line, idle connections cannot starve
//! the loopback listener, and the identity provider's failures name the identity provider (also in the log, with
//! its text escaped).

use std::time::Duration;

use conda_connect::emulator::{DEMO_PASSWORD, DEMO_USER, EmulatorConfig, FaultKind};

use crate::common::*;

async fn plain_world(sso: bool) -> World {
    World::with_config(EmulatorConfig {
        bulk_channels: 0,
        sso,
        ..Default::default()
    })
    .await
}

fn pins(world: &World) -> Vec<String> {
    world
        .ini()
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("pinned_certificates"))
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn a_trusted_certificate_is_pinned_and_a_changed_one_is_refused_until_trusted_again() {
    let world = plain_world(false).await;
    let front = SwappableTlsFront::start(world.emu.addr).await;
    let home = world.home.path();
    let refused = cli(home, &["set-domain", &front.url], None, &[]).await;
    assert_eq!(refused.status.code(), Some(1), "{}", output_text(&refused));
    assert!(output_text(&refused).contains("self-signed or broken"));
    let trusted = cli(
        home,
        &["set-domain", &front.url, "--trust-server"],
        None,
        &[],
    )
    .await;
    assert!(trusted.status.success(), "{}", output_text(&trusted));
    let said = output_text(&trusted);
    let fingerprint = said
        .split("SHA-256 fingerprint ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the fingerprint is told")
        .to_string();
    assert_eq!(fingerprint.len(), 95, "{fingerprint}");
    assert!(pins(&world)[0].contains(&fingerprint), "{:?}", pins(&world));
    // Navigator's list still names the host
    assert!(
        world
            .ini()
            .unwrap()
            .contains("trusted_servers = ['127.0.0.1:")
    );
    let login = cli_login(home, &["--skip-channels"]).await;
    assert!(login.status.success(), "{}", output_text(&login));
    assert!(
        cli(home, &["tokens", "list"], None, &[])
            .await
            .status
            .success()
    );
    // the server now presents another certificate: refused, with both fingerprints
    front.swap();
    let changed = cli(home, &["tokens", "list"], None, &[]).await;
    assert_eq!(changed.status.code(), Some(1), "{}", output_text(&changed));
    let text = output_text(&changed);
    assert!(text.contains("is not the one you trusted"), "{text}");
    assert!(
        text.contains(&fingerprint),
        "the trusted fingerprint is named: {text}"
    );
    assert!(
        text.contains("--trust-server"),
        "the command line says how: {text}"
    );
    let index = cli(home, &["update-index", "--json"], None, &[]).await;
    assert!(!String::from_utf8_lossy(&index.stdout).contains("\"status\": \"ok\""));
    // trusting it again (the same domain while signed in is allowed) pins the new one
    let again = cli(
        home,
        &["set-domain", &front.url, "--trust-server"],
        None,
        &[],
    )
    .await;
    assert!(again.status.success(), "{}", output_text(&again));
    assert!(
        !pins(&world)[0].contains(&fingerprint),
        "the new certificate is pinned"
    );
    assert_eq!(pins(&world).len(), 1);
    assert!(
        cli(home, &["tokens", "list"], None, &[])
            .await
            .status
            .success()
    );
    assert!(cli(home, &["logout"], None, &[]).await.status.success());
    assert!(world.emu.tokens().is_empty());
}

#[tokio::test]
async fn a_host_navigator_trusts_without_a_pin_asks_the_question_again() {
    let world = plain_world(false).await;
    let front = SwappableTlsFront::start(world.emu.addr).await;
    let netloc = front.url.trim_start_matches("https://").to_string();
    std::fs::create_dir_all(world.paths.navigator_ini.parent().unwrap()).unwrap();
    std::fs::write(
        &world.paths.navigator_ini,
        format!(
            "[main]\nanaconda_server_api_url = '{}'\n\n[ssl]\ntrusted_servers = ['{netloc}']\n",
            front.url
        ),
    )
    .unwrap();
    let engine = world.engine();
    let err = engine
        .client(&front.url)
        .unwrap()
        .system()
        .await
        .unwrap_err();
    assert!(err.is_tls(), "{err}");
    let status = cli(world.home.path(), &["set-domain", &front.url], None, &[]).await;
    assert_eq!(status.status.code(), Some(1), "{}", output_text(&status));
}

#[tokio::test]
async fn the_window_pins_exactly_the_certificate_it_showed() {
    use conda_connect::engine::session::Trust;
    let world = plain_world(false).await;
    let front = SwappableTlsFront::start(world.emu.addr).await;
    let engine = world.engine();
    let shown = engine.server_certificate(&front.url).await.unwrap();
    // the certificate changes while the person reads the dialog: not trusted
    front.swap();
    let err = engine
        .set_domain(&front.url, Trust::Certificate(shown.sha256.clone()))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("changed while you were looking"),
        "{err}"
    );
    assert_eq!(world.ini(), None, "nothing stored");
    let shown = engine.server_certificate(&front.url).await.unwrap();
    engine
        .set_domain(&front.url, Trust::Certificate(shown.sha256.clone()))
        .await
        .unwrap();
    assert!(pins(&world)[0].contains(&shown.sha256));
}

/// Start `conda-connect` with `args`, wait until stderr shows `marker`, then send `signal` (Unix).
#[cfg(unix)]
async fn interrupt_when(
    world: &World,
    args: &[&str],
    stdin: Option<&str>,
    marker: &'static str,
    signal: i32,
) {
    use std::io::{BufRead, BufReader, Write};
    use std::process::Stdio;
    let mut cmd = cli_command(world.home.path(), args, &[]);
    let stdin = stdin.map(str::to_string);
    tokio::task::spawn_blocking(move || {
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
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        if !marker.is_empty() {
            let mut line = String::new();
            while stderr.read_line(&mut line).unwrap_or(0) > 0 && !line.contains(marker) {
                line.clear();
            }
        } else {
            std::thread::sleep(Duration::from_millis(700));
        }
        // SAFETY: kill(2) on the child's own pid
        unsafe {
            libc::kill(child.id() as i32, signal);
        }
        child.wait().unwrap();
    })
    .await
    .unwrap();
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_login_with_a_domain_leaves_the_domain_as_it_was() {
    for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGKILL] {
        // during the single sign-on's wait for the browser
        let world = plain_world(true).await;
        let before = world.user_files();
        interrupt_when(
            &world,
            &["login", "--domain", &world.emu.url, "--sso", "--no-browser"],
            None,
            "Open this URL to sign in",
            signal,
        )
        .await;
        assert_same_files(
            &world.user_files(),
            &before,
            "interrupted during the browser wait",
        );
        assert_eq!(world.ini(), None, "signal {signal}: no domain written");
        // during a slow password check
        let world = plain_world(false).await;
        world.fault("/api/auth/login", None, FaultKind::Delay { ms: 5000 });
        let before = world.user_files();
        interrupt_when(
            &world,
            &[
                "login",
                "--domain",
                &world.emu.url,
                "--username",
                DEMO_USER,
                "--password-stdin",
            ],
            Some(&format!("{DEMO_PASSWORD}\n")),
            "",
            signal,
        )
        .await;
        assert_same_files(
            &world.user_files(),
            &before,
            "interrupted during the password check",
        );
        assert!(world.emu.tokens().is_empty());
    }
    // and a sign-in that completes writes the domain with it
    let world = plain_world(false).await;
    let out = cli(
        world.home.path(),
        &[
            "login",
            "--domain",
            &world.emu.url,
            "--username",
            DEMO_USER,
            "--password-stdin",
            "--skip-channels",
        ],
        Some(&format!("{DEMO_PASSWORD}\n")),
        &[],
    )
    .await;
    assert!(out.status.success(), "{}", output_text(&out));
    assert!(
        world
            .ini()
            .unwrap()
            .contains(&format!("anaconda_server_api_url = '{}'", world.emu.url))
    );
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sign_in_address_never_appears_on_a_command_line() {
    use std::os::unix::fs::PermissionsExt;
    let world = plain_world(true).await;
    world.set_domain().await;
    let bin = tempfile::tempdir().unwrap();
    let record = bin.path().join("argv");
    let fake = bin.path().join("xdg-open");
    std::fs::write(
        &fake,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > '{}'\n",
            record.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:/usr/bin:/bin", bin.path().display());
    let mut child = cli_command(world.home.path(), &["login", "--sso"], &[("PATH", &path)])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut argv = String::new();
    for _ in 0..200 {
        if let Ok(text) = std::fs::read_to_string(&record)
            && !text.is_empty()
        {
            argv = text;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let page = std::path::PathBuf::from(argv.trim());
    let html = std::fs::read_to_string(&page).unwrap_or_default();
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        !argv.contains("state=") && !argv.contains("http"),
        "argv: {argv}"
    );
    assert!(
        html.contains("state=") && html.contains("openid-connect/auth"),
        "{html}"
    );
    assert_eq!(mode(&page), 0o600);
    assert_eq!(mode(page.parent().unwrap()) & 0o777, 0o700);
}

#[tokio::test]
async fn many_idle_connections_do_not_keep_the_browser_out() {
    use conda_connect::engine::sso::{self, PendingSignIn, SsoOptions};
    let world = plain_world(true).await;
    let config = conda_connect::engine::client::ClientConfig::default();
    let realm = sso::discover(&world.emu.url, &config).await.unwrap();
    let pending = PendingSignIn::start(
        &realm,
        &SsoOptions {
            client_id: None,
            wait: Some(Duration::from_secs(20)),
        },
    )
    .await
    .unwrap();
    let url = pending.authorization_url().to_string();
    let addr = url::Url::parse(pending.redirect_uri())
        .unwrap()
        .socket_addrs(|| None)
        .unwrap()[0];
    let finish = tokio::spawn(pending.finish());
    // someone on this machine opens 64 connections and sends nothing
    let mut idle = Vec::new();
    for _ in 0..64 {
        idle.push(tokio::net::TcpStream::connect(addr).await.unwrap());
    }
    let started = std::time::Instant::now();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(crate::sso::Seen::default()));
    crate::sso::browse(url, crate::sso::Act::SignIn, seen).await;
    let tokens = finish.await.unwrap().unwrap();
    assert!(!tokens.token.is_empty());
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    drop(idle);
}

#[tokio::test]
async fn an_unreachable_identity_provider_is_named_as_such() {
    let world = plain_world(true).await;
    world.fault(
        "/api/auth/authorize",
        None,
        FaultKind::Redirect {
            location:
                "http://127.0.0.1:1/auth/realms/conda/protocol/openid-connect/auth?client_id=x"
                    .into(),
        },
    );
    let config = conda_connect::engine::client::ClientConfig::default();
    let err = conda_connect::engine::sso::discover(&world.emu.url, &config)
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "The identity provider at 127.0.0.1:1 cannot be reached."
    );
}

#[tokio::test]
async fn the_identity_providers_text_is_escaped_in_the_log() {
    let world = plain_world(true).await;
    world.set_domain().await;
    world.fault(
        "/auth/realms/conda/protocol/openid-connect/token",
        Some("POST"),
        FaultKind::Body {
            status: 400,
            content_type: "application/json".into(),
            body: r#"{"error":"weird\u001b[31m","error_description":"bad\u001b]0;owned\u0007\u202etxt"}"#.into(),
        },
    );
    let out = cli(
        world.home.path(),
        &["login", "--sso", "--device"],
        None,
        &[("CONDA_CONNECT_LOG", "conda_connect=debug")],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    let text = output_text(&out);
    assert!(
        !text.contains('\u{1b}') && !text.contains('\u{7}') && !text.contains('\u{202e}'),
        "{text:?}"
    );
    assert!(text.contains("\\u{1b}"), "escaped, not dropped: {text}");
}

#[tokio::test]
async fn status_works_when_the_lock_cannot_be_taken() {
    let world = plain_world(false).await;
    world.set_domain().await;
    world.login().await;
    // the lock file cannot be created (a folder sits where it goes): the command that only reads still answers
    std::fs::remove_file(world.paths.lock_file()).ok();
    std::fs::create_dir_all(world.paths.lock_file()).unwrap();
    let out = cli(world.home.path(), &["status", "--json"], None, &[]).await;
    assert!(out.status.success(), "{}", output_text(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["logged_in"], true);
    // a command that changes something says why it cannot
    let logout = cli(world.home.path(), &["logout"], None, &[]).await;
    assert_eq!(logout.status.code(), Some(1));
}

#[tokio::test]
async fn a_token_list_that_repeats_its_pages_is_refused() {
    let world = plain_world(false).await;
    world.set_domain().await;
    world.login().await;
    let item = |i: usize| serde_json::json!({"id": format!("00000000-0000-4000-8000-{i:012}"), "name": format!("t{i}"), "scopes": []});
    let page = serde_json::json!({"items": (0..1000).map(item).collect::<Vec<_>>(), "total_count": 50_000});
    world.fault(
        "/api/account/tokens",
        Some("GET"),
        FaultKind::Body {
            status: 200,
            content_type: "application/json".into(),
            body: page.to_string(),
        },
    );
    let err = world.engine().tokens().await.unwrap_err().to_string();
    assert!(err.contains("same tokens again"), "{err}");
}
