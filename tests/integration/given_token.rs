//! A token you were given: `login --token-stdin` / `--token-file` (never in argv) signs in with the same local
//! transaction as a password — the same files but the ini's token id — without a server token of its own, so
//! sign-out never revokes it; and `env` sets a CI job up in a private folder without writing anything under HOME.

use std::path::Path;

use conda_connect::emulator::state::GivenToken;
use conda_connect::emulator::{DEMO_USER, EmulatorConfig, FaultKind};

use crate::common::*;

async fn world() -> World {
    let world = World::with_config(EmulatorConfig {
        bulk_channels: 0,
        ..Default::default()
    })
    .await;
    world.set_domain().await;
    world
}

fn give(world: &World, kind: GivenToken) -> String {
    world.emu.state.lock().unwrap().give_token(&kind)
}

async fn token_login(world: &World, token: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["login", "--token-stdin"];
    args.extend_from_slice(extra);
    cli(world.home.path(), &args, Some(&format!("{token}\n")), &[]).await
}

/// Every file under `home` (relative path → bytes), with `secrets` replaced by a placeholder, the session record
/// and conda-connect's secrets left out: what two sign-ins of different kinds must have in common.
fn comparable(home: &Path, secrets: &[String]) -> Vec<(String, String)> {
    let mut files = Vec::new();
    walk(home, &mut files);
    let mut out: Vec<(String, String)> = files
        .iter()
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            !["session.json", "secrets.json", "conda-connect.log", "lock"].contains(&name.as_ref())
                && !p.to_string_lossy().contains("condarc_storage")
        })
        .map(|p| {
            let mut text = String::from_utf8_lossy(&std::fs::read(p).unwrap()).into_owned();
            for secret in secrets {
                text = text.replace(secret, "<token>");
            }
            let mut name = p.strip_prefix(home).unwrap().display().to_string();
            for secret in secrets {
                name = name.replace(
                    &conda_connect::engine::token_files::quote_plus(secret),
                    "<server>",
                );
            }
            (name, text)
        })
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn a_given_token_gives_the_files_of_a_password_sign_in_but_the_token_id() {
    let password = world().await;
    assert!(
        cli_login(password.home.path(), &["--default-channel", "main"])
            .await
            .status
            .success()
    );
    let given = world().await;
    let token = give(&given, GivenToken::default());
    let out = token_login(&given, &token, &["--default-channel", "main"]).await;
    assert!(out.status.success(), "{}", output_text(&out));
    assert!(output_text(&out).contains("with the token you were given"));
    let secrets_of = |w: &World| -> Vec<String> {
        w.emu
            .tokens()
            .into_iter()
            .map(|t| t.token)
            .chain([w.emu.url.clone()])
            .collect()
    };
    let mut a = comparable(password.home.path(), &secrets_of(&password));
    let mut b = comparable(given.home.path(), &secrets_of(&given));
    let id_line = |files: &mut Vec<(String, String)>| {
        for (_, text) in files.iter_mut() {
            *text = text
                .lines()
                .filter(|l| !l.starts_with("anaconda_server_token_id"))
                .collect::<Vec<_>>()
                .join("\n");
        }
    };
    let token_id = |w: &World| {
        w.ini()
            .unwrap()
            .lines()
            .find(|l| l.starts_with("anaconda_server_token_id"))
            .unwrap()
            .to_string()
    };
    assert_eq!(token_id(&given), "anaconda_server_token_id = None");
    assert_ne!(token_id(&password), "anaconda_server_token_id = None");
    id_line(&mut a);
    id_line(&mut b);
    assert_eq!(a, b, "the same files with the same content");
    let status = cli(given.home.path(), &["status", "--json"], None, &[]).await;
    let json: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(json["auth"], "token");
    assert_eq!(
        json["username"], DEMO_USER,
        "the account, read with the token"
    );
}

#[tokio::test]
async fn sign_out_never_revokes_a_token_it_did_not_create() {
    let world = world().await;
    let before = world.user_files();
    let token = give(&world, GivenToken::default());
    assert!(token_login(&world, &token, &[]).await.status.success());
    let out = cli(world.home.path(), &["logout"], None, &[]).await;
    assert!(out.status.success(), "{}", output_text(&out));
    assert!(
        output_text(&out).contains("The token stays valid on"),
        "{}",
        output_text(&out)
    );
    assert!(
        world.emu.tokens().iter().any(|t| t.token == token),
        "still active"
    );
    assert!(
        !world.emu.log().iter().any(|e| e.method == "DELETE"),
        "no revocation was even asked for"
    );
    assert_same_files(&world.user_files(), &before, "byte-identical");
    // and with the server gone: a complete local sign-out, nothing pending
    assert!(token_login(&world, &token, &[]).await.status.success());
    world.fault("/", None, FaultKind::Drop);
    let out = cli(world.home.path(), &["logout"], None, &[]).await;
    assert!(out.status.success(), "{}", output_text(&out));
    assert!(world.engine().pending_revocations().unwrap().is_empty());
    world.emu.clear_faults();
    assert_same_files(&world.user_files(), &before, "byte-identical offline too");
}

#[tokio::test]
async fn a_wrong_expired_or_revoked_token_changes_nothing_and_says_so_in_one_sentence() {
    let world = world().await;
    let expired = give(
        &world,
        GivenToken {
            expired: true,
            ..Default::default()
        },
    );
    let revoked = give(&world, GivenToken::default());
    world
        .emu
        .state
        .lock()
        .unwrap()
        .tokens
        .retain(|t| t.token != revoked);
    let before = world.user_files();
    let tokens_before = world.emu.tokens().len();
    for token in [
        "mistyped0123456789abcdef",
        expired.as_str(),
        revoked.as_str(),
    ] {
        let out = token_login(&world, token, &[]).await;
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(
            String::from_utf8_lossy(&out.stderr).trim(),
            format!(
                "conda-connect: This token is not accepted by {}: it is expired, revoked or mistyped.",
                world.emu.url
            )
        );
        assert_same_files(&world.user_files(), &before, "nothing changed");
    }
    assert_eq!(
        world.emu.tokens().len(),
        tokens_before,
        "nothing created on the server"
    );
    // not a token at all: said before any request
    let out = token_login(&world, "not a token at all", &[]).await;
    assert!(
        output_text(&out).contains("not an Anaconda Server token"),
        "{}",
        output_text(&out)
    );
}

#[tokio::test]
async fn a_token_is_never_taken_from_the_command_line() {
    let world = world().await;
    for args in [
        vec!["login", "--token", "abcdef0123456789"],
        vec![
            "login",
            "--username",
            "alice",
            "--password",
            "alice-password",
        ],
        vec![
            "env",
            "--domain",
            "http://127.0.0.1:1",
            "--token",
            "abcdef0123456789",
        ],
        vec!["login", "--token-stdin", "--username", "alice"],
    ] {
        let out = cli(world.home.path(), &args, None, &[]).await;
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            output_text(&out)
        );
        assert!(
            !output_text(&out).contains("abcdef0123456789"),
            "the value is not repeated"
        );
    }
    assert!(
        world.emu.log().iter().all(|e| e.path == "/api/system"),
        "no request but the domain check"
    );
}

#[tokio::test]
async fn a_token_file_a_resource_token_and_a_hidden_account_work_and_manage_nothing() {
    let world = world().await;
    let token = give(
        &world,
        GivenToken {
            channel: Some("internal".into()),
            hide_account: true,
            ..Default::default()
        },
    );
    let file = world.home.path().join("ci-token.txt");
    std::fs::write(&file, format!("{token}\n")).unwrap();
    let out = cli(
        world.home.path(),
        &[
            "login",
            "--token-file",
            file.to_str().unwrap(),
            "--default-channel",
            "internal",
        ],
        None,
        &[],
    )
    .await;
    assert!(out.status.success(), "{}", output_text(&out));
    let status = world.engine().status().unwrap();
    let expected = conda_connect::engine::session::synthetic_id(&token);
    assert_eq!(status.username.as_deref(), Some(expected.as_str()));
    // a channel the resource token does not reach is refused, with nothing changed
    let out = cli(
        world.home.path(),
        &["select-channels", "--default-channel", "team"],
        None,
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    // token management needs a session of the user's own
    let out = cli(world.home.path(), &["tokens", "list"], None, &[]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        output_text(&out).contains("Token management needs a password or single sign-on sign-in"),
        "{}",
        output_text(&out)
    );
    // the expiry is the token's own
    let expiry = world.engine().sign_in_token_expiry().await.unwrap();
    assert!(
        matches!(expiry, conda_connect::engine::tokens::Expiry::Later(_)),
        "{expiry:?}"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn the_token_never_reaches_argv_a_log_or_a_readable_file() {
    let world = world().await;
    let token = give(&world, GivenToken::default());
    let out = cli(
        world.home.path(),
        &["login", "--token-stdin", "--netrc"],
        Some(&format!("{token}\n")),
        &[("CONDA_CONNECT_LOG", "conda_connect=debug")],
    )
    .await;
    assert!(out.status.success(), "{}", output_text(&out));
    assert!(
        !output_text(&out).contains(&token),
        "not in the output or the debug log"
    );
    let mut files = Vec::new();
    walk(world.home.path(), &mut files);
    let mut holding = 0;
    for file in files {
        if std::fs::read(&file)
            .unwrap()
            .windows(token.len())
            .any(|w| w == token.as_bytes())
        {
            holding += 1;
            assert_eq!(mode(&file), 0o600, "{} holds the token", file.display());
        }
    }
    assert!(holding >= 4, "token files, ini, rattler, netrc");
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_every_step_of_a_token_sign_in_recovers() {
    use std::io::{BufRead, BufReader, Write};
    use std::process::Stdio;
    let mut finished = false;
    for step in 1..=30 {
        let world = world().await;
        let before = world.user_files();
        let token = give(&world, GivenToken::default());
        let mut cmd = cli_command(
            world.home.path(),
            &["login", "--token-stdin", "--default-channel", "main"],
            &[("CONDA_CONNECT_PAUSE_AT", &step.to_string())],
        );
        let killed = tokio::task::spawn_blocking(move || {
            cmd.stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::piped());
            let mut child = spawn_binary(&mut cmd);
            child
                .stdin
                .take()
                .unwrap()
                .write_all(format!("{token}\n").as_bytes())
                .unwrap();
            let stderr = BufReader::new(child.stderr.take().unwrap());
            for line in stderr.lines() {
                if line
                    .unwrap_or_default()
                    .starts_with(conda_connect::engine::journal::PAUSE_MARKER)
                {
                    child.kill().unwrap();
                    child.wait().unwrap();
                    return true;
                }
            }
            assert!(child.wait().unwrap().success());
            false
        })
        .await
        .unwrap();
        let status = cli(world.home.path(), &["status", "--json"], None, &[]).await;
        assert!(status.status.success());
        assert!(
            !world.paths.journal_file().exists(),
            "step {step}: recovered"
        );
        let json: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
        if json["logged_in"] == true {
            assert!(
                cli(world.home.path(), &["logout"], None, &[])
                    .await
                    .status
                    .success()
            );
        }
        assert_same_files(&world.user_files(), &before, &format!("step {step}"));
        assert_eq!(
            world.emu.tokens().len(),
            1,
            "step {step}: the given token untouched"
        );
        if !killed {
            finished = true;
            break;
        }
    }
    assert!(finished, "every step was reached");
}

#[cfg(unix)]
fn exports(stdout: &str) -> Vec<(String, String)> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches('\'').to_string()))
        .collect()
}

#[cfg(unix)]
#[tokio::test]
async fn env_writes_a_private_folder_and_nothing_under_home() {
    use std::os::unix::fs::PermissionsExt;
    let world = world().await;
    let token = give(&world, GivenToken::default());
    let before = world.files();
    std::fs::set_permissions(world.home.path(), std::fs::Permissions::from_mode(0o555)).unwrap();
    let out = cli(
        world.home.path(),
        &[
            "env",
            "--token-stdin",
            "--domain",
            &world.emu.url,
            "--default-channel",
            "main",
            "--channel",
            "internal",
            "--pypi-channel",
            "internal",
        ],
        Some(&format!("{token}\n")),
        &[],
    )
    .await;
    std::fs::set_permissions(world.home.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    assert_same_files(&world.files(), &before, "nothing written under HOME");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let vars = exports(&stdout);
    let names: Vec<&str> = vars.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "CONDARC",
            "BINSTAR_CONFIG_DIR",
            "RATTLER_AUTH_FILE",
            "PIP_INDEX_URL",
            "UV_INDEX",
            "UV_INDEX_INTERNAL_USERNAME",
            "UV_INDEX_INTERNAL_PASSWORD"
        ]
    );
    for line in stdout.lines().filter(|l| l.contains(&token)) {
        assert!(
            line.starts_with("export PIP_INDEX_URL=")
                || line.starts_with("export UV_INDEX_INTERNAL_USERNAME="),
            "the token only where it must be: {line}"
        );
    }
    assert!(!String::from_utf8_lossy(&out.stderr).contains(&token));
    let dir = std::path::PathBuf::from(&vars[1].1);
    assert_eq!(mode(&dir) & 0o777, 0o700);
    let condarc = std::fs::read_to_string(&vars[0].1).unwrap();
    assert!(
        condarc.contains(&format!("channel_alias: {}/api/repo", world.emu.url)),
        "{condarc}"
    );
    assert!(condarc.contains("default_channels:"), "{condarc}");
    let mut files = Vec::new();
    walk(&dir, &mut files);
    for file in &files {
        assert_eq!(mode(file), 0o600, "{}", file.display());
    }
    assert!(
        files
            .iter()
            .any(|f| f.to_string_lossy().ends_with("%2Fapi%2Frepo.token"))
    );
    let clean = cli(
        world.home.path(),
        &["env", "--clean", dir.to_str().unwrap()],
        None,
        &[],
    )
    .await;
    assert!(clean.status.success(), "{}", output_text(&clean));
    assert!(!dir.exists());
    // a folder env did not make is never removed
    let other = tempfile::tempdir().unwrap();
    let refused = cli(
        world.home.path(),
        &["env", "--clean", other.path().to_str().unwrap()],
        None,
        &[],
    )
    .await;
    assert_eq!(refused.status.code(), Some(1));
    assert!(other.path().exists());
}

#[tokio::test]
async fn env_for_github_masks_the_token_first_and_fills_github_env() {
    let world = world().await;
    let token = give(&world, GivenToken::default());
    let github_env = world.home.path().join("github_env");
    std::fs::write(&github_env, "EARLIER=1\n").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("ci");
    let out = cli(
        world.home.path(),
        &[
            "env",
            "--token-stdin",
            "--domain",
            &world.emu.url,
            "--shell",
            "github",
            "--dir",
            target.to_str().unwrap(),
            "--pypi-channel",
            "internal",
        ],
        Some(&format!("{token}\n")),
        &[("GITHUB_ENV", github_env.to_str().unwrap())],
    )
    .await;
    assert!(out.status.success(), "{}", output_text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        stdout.lines().next(),
        Some(format!("::add-mask::{token}").as_str()),
        "masked first"
    );
    assert_eq!(stdout.lines().count(), 1, "nothing else on stdout");
    let written = std::fs::read_to_string(&github_env).unwrap();
    assert!(
        written.starts_with("EARLIER=1\nCONDARC="),
        "appended: {written}"
    );
    assert!(written.contains(&format!("BINSTAR_CONFIG_DIR={}", target.display())));
    // a wrong token: nothing written, one sentence
    let out = cli(
        world.home.path(),
        &[
            "env",
            "--token-stdin",
            "--domain",
            &world.emu.url,
            "--shell",
            "github",
        ],
        Some("mistyped0123456789abcdef\n"),
        &[("GITHUB_ENV", github_env.to_str().unwrap())],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(output_text(&out).contains("is not accepted by"));
    assert_eq!(std::fs::read_to_string(&github_env).unwrap(), written);
}
