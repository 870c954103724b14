//! One sign-in for every client at the desk: rattler's credential (pixi, rattler-build, py-rattler) and, opt in,
//! netrc for pip and uv — written with the sign-in, taken back by the sign-out, byte for byte when nobody touched
//! the files, and never an entry someone else owns. Real py-rattler, pip and uv prove it (`scripts/install-
//! clients.sh`; skipped unless `CONDA_CONNECT_CLIENTS` names their venv's bin directory, and required in CI with
//! `CONDA_CONNECT_REQUIRE_CLIENTS=1`).

use std::path::PathBuf;

use conda_connect::emulator::{DEMO_PASSWORD, DEMO_USER, EmulatorConfig};
use conda_connect::engine::clients::{netrc, rattler};

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

fn credentials(world: &World) -> PathBuf {
    rattler::credentials_file(&world.paths)
}

fn netrc_path(world: &World) -> PathBuf {
    netrc::netrc_file(&world.paths)
}

async fn login_cli(world: &World, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["--skip-channels"];
    args.extend_from_slice(extra);
    cli_login(world.home.path(), &args).await
}

fn token(world: &World) -> String {
    world.emu.tokens()[0].token.clone()
}

/// The token-form probes the server saw: (how the credential came, status).
fn probes(world: &World) -> Vec<(String, u16)> {
    world
        .emu
        .log()
        .into_iter()
        .filter(|e| e.method == "HEAD" && e.path.ends_with("/noarch/repodata.json"))
        .map(|e| (e.auth, e.status))
        .collect()
}

#[tokio::test]
async fn rattlers_credential_is_written_verified_and_taken_back_exactly() {
    let world = world().await;
    let path = credentials(&world);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    // another host's entry, and this host with another tool's value, in rattler's own layout
    let before = r#"{
  "127.0.0.1": {"CondaToken": "someone-elses-token"},
  "prefix.dev": {"BearerToken": "pfx_abc"}
}
"#;
    std::fs::write(&path, before).unwrap();
    let out = login_cli(&world, &[]).await;
    assert!(out.status.success(), "{}", output_text(&out));
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(
        written["127.0.0.1"],
        serde_json::json!({"BasicHTTP": {"username": token(&world), "password": "x-auth-token"}})
    );
    assert_eq!(
        written["prefix.dev"],
        serde_json::json!({"BearerToken": "pfx_abc"})
    );
    #[cfg(unix)]
    assert_eq!(mode(&path), 0o600);
    // the form was proved on a private channel: anonymous refused, Basic accepted
    let status = cli(world.home.path(), &["status", "--json"], None, &[]).await;
    let json: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    let consumers = json["consumers"].as_array().unwrap();
    assert_eq!(
        consumers[0],
        serde_json::json!({"name": "conda", "store": "token-files"})
    );
    assert_eq!(consumers[1]["name"], "rattler");
    assert_eq!(consumers[1]["store"], "file");
    assert_eq!(consumers[1]["form"], "BasicHTTP");
    assert_eq!(consumers[1]["verified"], true);
    let probes = probes(&world);
    assert!(probes.contains(&("none".into(), 401)), "{probes:?}");
    assert!(probes.contains(&("basic".into(), 200)), "{probes:?}");
    let out = cli(world.home.path(), &["logout"], None, &[]).await;
    assert!(out.status.success(), "{}", output_text(&out));
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        before,
        "byte-identical"
    );
}

#[tokio::test]
async fn a_credentials_file_that_is_gone_before_stays_gone_after() {
    let world = world().await;
    let before = world.user_files();
    assert!(login_cli(&world, &[]).await.status.success());
    assert!(credentials(&world).exists());
    assert!(
        cli(world.home.path(), &["logout"], None, &[])
            .await
            .status
            .success()
    );
    assert!(!credentials(&world).exists());
    assert_same_files(
        &world.user_files(),
        &before,
        "no credentials.json, no netrc left",
    );
}

#[tokio::test]
async fn an_entry_someone_else_changed_is_left_alone() {
    let world = world().await;
    assert!(login_cli(&world, &[]).await.status.success());
    let path = credentials(&world);
    // pixi auth login replaced the entry meanwhile
    std::fs::write(&path, r#"{"127.0.0.1":{"BearerToken":"pixi-login"}}"#).unwrap();
    let out = cli(world.home.path(), &["logout"], None, &[]).await;
    assert!(out.status.success(), "{}", output_text(&out));
    assert!(
        output_text(&out).contains("did not write"),
        "{}",
        output_text(&out)
    );
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        r#"{"127.0.0.1":{"BearerToken":"pixi-login"}}"#
    );
}

#[tokio::test]
async fn an_unparseable_credentials_file_or_netrc_entry_is_refused_before_the_server_is_asked() {
    for (file, content, args) in [
        ("credentials", b"{not json".as_slice(), vec![]),
        (
            "netrc",
            b"machine 127.0.0.1 login me password mine\n".as_slice(),
            vec!["--netrc"],
        ),
        ("netrc", b"frobnicate\n".as_slice(), vec!["--netrc"]),
        // a Latin-1 password: not read lossily (a rewrite would change its bytes)
        (
            "netrc",
            b"machine git.example.com login me password caf\xe9\n".as_slice(),
            vec!["--netrc"],
        ),
        ("credentials", b"{\"h\": \"\xff\"}".as_slice(), vec![]),
    ] {
        let world = world().await;
        let path = if file == "netrc" {
            netrc_path(&world)
        } else {
            credentials(&world)
        };
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, content).unwrap();
        let before = world.user_files();
        let out = login_cli(&world, &args).await;
        assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
        assert!(
            output_text(&out).contains("leaves it unchanged")
                || output_text(&out).contains("left unchanged")
                || output_text(&out).contains("already has an entry"),
            "{}",
            output_text(&out)
        );
        assert_same_files(&world.user_files(), &before, "nothing changed");
        assert!(
            !world.emu.log().iter().any(|e| e.path == "/api/auth/login"),
            "refused before the password went to the server"
        );
    }
}

#[tokio::test]
async fn netrc_is_opt_in_minimal_remembered_and_taken_back() {
    let world = world().await;
    let path = netrc_path(&world);
    let before = "# work\nmachine git.example.com\n  login me\n  password secret\n";
    std::fs::write(&path, before).unwrap();
    // not asked for: untouched
    assert!(login_cli(&world, &[]).await.status.success());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), before);
    assert!(
        cli(world.home.path(), &["logout"], None, &[])
            .await
            .status
            .success()
    );
    // asked for: one block added, every other byte kept, 0600, remembered in the ini
    let out = login_cli(&world, &["--netrc"]).await;
    assert!(out.status.success(), "{}", output_text(&out));
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with(before), "{text}");
    assert!(
        text.ends_with(&netrc::block("127.0.0.1", &token(&world))),
        "{text}"
    );
    #[cfg(unix)]
    assert_eq!(mode(&path), 0o600);
    assert!(world.ini().unwrap().contains("netrc = True"));
    let status = cli(world.home.path(), &["status", "--json"], None, &[]).await;
    let json: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert!(
        json["consumers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == "netrc")
    );
    assert!(
        cli(world.home.path(), &["logout"], None, &[])
            .await
            .status
            .success()
    );
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        before,
        "byte-identical"
    );
    // the next sign-in remembers the choice
    assert!(login_cli(&world, &[]).await.status.success());
    assert!(
        std::fs::read_to_string(&path)
            .unwrap()
            .contains("machine 127.0.0.1")
    );
    // an edit of the user's meanwhile is kept; only conda-connect's block goes
    let mut edited = std::fs::read_to_string(&path).unwrap();
    edited.push_str("\nmachine pypi.example.org login u password p\n");
    std::fs::write(&path, &edited).unwrap();
    assert!(
        cli(world.home.path(), &["logout"], None, &[])
            .await
            .status
            .success()
    );
    let after = std::fs::read_to_string(&path).unwrap();
    assert!(!after.contains("127.0.0.1"), "{after}");
    assert!(
        after.contains("machine pypi.example.org") && after.contains("git.example.com"),
        "{after}"
    );
}

#[tokio::test]
async fn a_regenerated_sign_in_token_reaches_every_client() {
    let world = world().await;
    assert!(login_cli(&world, &["--netrc"]).await.status.success());
    let old = token(&world);
    let id = world.emu.tokens()[0].id.clone();
    let out = cli(world.home.path(), &["tokens", "regenerate", &id], None, &[]).await;
    assert!(out.status.success(), "{}", output_text(&out));
    let new = token(&world);
    assert_ne!(old, new);
    let creds = std::fs::read_to_string(credentials(&world)).unwrap();
    assert!(
        creds.contains(&new) && !creds.contains(&old),
        "rattler has the new value"
    );
    let net = std::fs::read_to_string(netrc_path(&world)).unwrap();
    assert!(
        net.contains(&new) && !net.contains(&old),
        "netrc has the new value"
    );
    assert!(
        cli(world.home.path(), &["logout"], None, &[])
            .await
            .status
            .success()
    );
    assert!(!credentials(&world).exists() && !netrc_path(&world).exists());
}

#[tokio::test]
async fn snippets_for_pip_and_uv_name_the_channel() {
    let world = world().await;
    assert!(login_cli(&world, &[]).await.status.success());
    let out = cli(
        world.home.path(),
        &["status", "--snippets", "internal"],
        None,
        &[],
    )
    .await;
    assert!(out.status.success(), "{}", output_text(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let host = world.emu.url.trim_start_matches("http://");
    assert!(
        text.contains(&format!(
            "PIP_INDEX_URL=http://{}:x-auth-token@{host}/api/repo/internal/simple",
            token(&world)
        )),
        "{text}"
    );
    assert!(text.contains("UV_INDEX_INTERNAL_USERNAME="), "{text}");
    let bad = cli(
        world.home.path(),
        &["status", "--snippets", "Not A Channel"],
        None,
        &[],
    )
    .await;
    assert_eq!(bad.status.code(), Some(1));
}

/// The real clients' bin directory, or `None` (skipped) when not installed.
#[cfg(unix)]
fn real_clients() -> Option<PathBuf> {
    match std::env::var_os("CONDA_CONNECT_CLIENTS") {
        Some(dir) => Some(PathBuf::from(dir)),
        None => {
            assert!(
                std::env::var_os("CONDA_CONNECT_REQUIRE_CLIENTS").is_none(),
                "CONDA_CONNECT_REQUIRE_CLIENTS is set but CONDA_CONNECT_CLIENTS is not"
            );
            eprintln!("real clients not installed (scripts/install-clients.sh); skipping");
            None
        }
    }
}

/// Run a real client with HOME = the test's home and nothing of the caller's credentials.
#[cfg(unix)]
fn run_client(
    bin: &std::path::Path,
    home: &std::path::Path,
    program: &str,
    args: &[&str],
) -> std::process::Output {
    std::process::Command::new(bin.join(program))
        .args(args)
        .env_clear()
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .env("HOME", home)
        .env("NO_PROXY", "*")
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
        .env("UV_NO_CONFIG", "1")
        .output()
        .expect("run a real client")
}

/// py-rattler fetches a channel's noarch repodata; once it has, it leaves at once (`os._exit`), without the
/// interpreter's shutdown, in which its native threads have crashed on a loaded CI machine.
#[cfg(unix)]
const FETCH: &str = r#"
import asyncio, os, sys
from rattler import Channel, Subdir, fetch_repo_data
from rattler.networking import Client

async def main(url, cache):
    await fetch_repo_data(channels=[Channel(url)], platforms=[Subdir("noarch")], cache_path=cache,
                          callback=None, client=Client.default_client())
    print("fetched")
    sys.stdout.flush()
    os._exit(0)

asyncio.run(main(sys.argv[1], sys.argv[2]))
"#;

/// Real py-rattler fetching `channel` into `cache` with what it finds under `home` (tried again when it crashes).
#[cfg(unix)]
fn rattler_fetch(
    bin: &std::path::Path,
    home: &std::path::Path,
    channel: &str,
    cache: &std::path::Path,
) -> std::process::Output {
    retry_if_killed(|| {
        run_client(
            bin,
            home,
            "python",
            &["-c", FETCH, channel, cache.to_str().unwrap()],
        )
    })
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn py_rattler_reads_the_private_channel_after_login_and_is_refused_after_logout() {
    let Some(bin) = real_clients() else { return };
    let world = world().await;
    assert!(login_cli(&world, &[]).await.status.success());
    let channel = format!("{}/api/repo/internal", world.emu.url);
    let home = world.home.path().to_path_buf();
    let fetch = |cache: &str| rattler_fetch(&bin, &home, &channel, &home.join(cache));
    let signed_in = fetch("rattler-cache-1");
    assert!(
        signed_in.status.success(),
        "py-rattler with the credential conda-connect wrote: {}",
        output_text(&signed_in)
    );
    let reads: Vec<_> = world
        .emu
        .log()
        .into_iter()
        .filter(|e| e.path.starts_with("/api/repo/internal/noarch/"))
        .map(|e| (e.method, e.path, e.auth, e.status))
        .collect();
    assert!(
        reads.iter().any(|(_, path, auth, status)| auth == "basic"
            && path.ends_with("repodata.json")
            && *status == 200),
        "{reads:?}"
    );
    assert!(
        cli(world.home.path(), &["logout"], None, &[])
            .await
            .status
            .success()
    );
    let signed_out = fetch("rattler-cache-2");
    assert!(
        !signed_out.status.success(),
        "refused after logout: {}",
        output_text(&signed_out)
    );
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pip_and_uv_install_a_private_package_through_netrc_and_not_after_logout() {
    let Some(bin) = real_clients() else { return };
    let world = world().await;
    assert!(login_cli(&world, &["--netrc"]).await.status.success());
    let index = format!("{}/api/repo/internal/simple", world.emu.url);
    let home = world.home.path().to_path_buf();
    let pip = |target: &str| {
        let target = home.join(target);
        run_client(
            &bin,
            &home,
            "python",
            &[
                "-m",
                "pip",
                "install",
                "--no-cache-dir",
                "--index-url",
                &index,
                "--trusted-host",
                "127.0.0.1",
                "--target",
                target.to_str().unwrap(),
                "corp-pyutils",
            ],
        )
    };
    let uv = |target: &str| {
        let target = home.join(target);
        run_client(
            &bin,
            &home,
            "uv",
            &[
                "pip",
                "install",
                "--no-cache",
                "--index-url",
                &index,
                "--target",
                target.to_str().unwrap(),
                "--python",
                bin.join("python").to_str().unwrap(),
                "corp-pyutils",
            ],
        )
    };
    let installed = pip("pip-target");
    assert!(
        installed.status.success(),
        "pip: {}",
        output_text(&installed)
    );
    assert!(home.join("pip-target/corp_pyutils/__init__.py").exists());
    let installed = uv("uv-target");
    assert!(
        installed.status.success(),
        "uv: {}",
        output_text(&installed)
    );
    assert!(home.join("uv-target/corp_pyutils/__init__.py").exists());
    assert!(
        cli(world.home.path(), &["logout"], None, &[])
            .await
            .status
            .success()
    );
    assert!(
        !pip("pip-after").status.success(),
        "pip is refused after logout"
    );
    assert!(
        !uv("uv-after").status.success(),
        "uv is refused after logout"
    );
    assert!(!home.join("pip-after/corp_pyutils").exists());
}

/// With an OS keyring, rattler's credential goes into it (service `rattler`, account = the host, the entry's JSON
/// as the value) — on Windows the real Credential Manager (target `127.0.0.1.rattler`, as rattler reads it),
/// elsewhere keyring-core's mock store — and an entry that was there before comes back at sign-out.
#[tokio::test]
async fn with_a_keyring_rattlers_credential_goes_there_and_comes_back_out() {
    use conda_connect::engine::journal::Keyring;
    use conda_connect::engine::secrets::{SecretStore, SecretsMode};
    let world = world().await;
    let store = if cfg!(windows) {
        SecretStore::open(&world.paths, SecretsMode::Auto)
    } else {
        SecretStore::with_keyring(keyring_core::mock::Store::new().unwrap())
    };
    assert!(store.keyring_available(), "a keyring answers here");
    let mut engine = conda_connect::engine::Engine::new(world.paths.clone(), store.clone());
    engine.client_defaults = world.engine().client_defaults;
    let earlier = r#"{"CondaToken":"an-earlier-pixi-login"}"#;
    store
        .write_entry(rattler::SERVICE, "127.0.0.1", Some(earlier))
        .unwrap();
    engine.login(DEMO_USER, DEMO_PASSWORD).await.unwrap();
    let token = token(&world);
    let written = store
        .read_entry(rattler::SERVICE, "127.0.0.1")
        .unwrap()
        .unwrap();
    let written: serde_json::Value = serde_json::from_str(&written).unwrap();
    assert_eq!(written, rattler::entry(rattler::Form::BasicHttp, &token));
    assert!(
        !credentials(&world).exists(),
        "not the file when the keyring answers"
    );
    let consumer = engine
        .status()
        .unwrap()
        .consumers
        .into_iter()
        .find(|c| c.name == "rattler")
        .unwrap();
    assert_eq!(consumer.store, "keyring");
    engine.logout().await.unwrap();
    assert_eq!(
        store
            .read_entry(rattler::SERVICE, "127.0.0.1")
            .unwrap()
            .as_deref(),
        Some(earlier),
        "the earlier entry is back"
    );
    store
        .write_entry(rattler::SERVICE, "127.0.0.1", None)
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_reads_tokens_from_the_path_gets_rattlers_conda_token_form() {
    let world = world().await;
    // this server's repository ignores Basic: only `/t/<token>/` in front of the path works there
    world.emu.state.lock().unwrap().basic_refused_on_repo = true;
    let out = login_cli(&world, &[]).await;
    assert!(out.status.success(), "{}", output_text(&out));
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(credentials(&world)).unwrap()).unwrap();
    assert_eq!(
        written["127.0.0.1"],
        serde_json::json!({"CondaToken": token(&world)})
    );
    let status = cli(world.home.path(), &["status", "--json"], None, &[]).await;
    let json: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(json["consumers"][1]["form"], "CondaToken");
    assert_eq!(json["consumers"][1]["verified"], true);
    let probes = probes(&world);
    assert!(
        probes.contains(&("basic-ignored".into(), 401)),
        "{probes:?}"
    );
    assert!(probes.contains(&("url-token".into(), 200)), "{probes:?}");
    // what real rattler does with that entry: the token at the root of the path, and the server answers
    #[cfg(unix)]
    if let Some(bin) = real_clients() {
        let channel = format!("{}/api/repo/internal", world.emu.url);
        let cache = world.home.path().join("rattler-cache");
        let fetched = rattler_fetch(&bin, world.home.path(), &channel, &cache);
        assert!(fetched.status.success(), "{}", output_text(&fetched));
        let reads: Vec<_> = world
            .emu
            .log()
            .into_iter()
            .filter(|e| e.method == "GET" && e.path == "/api/repo/internal/noarch/repodata.json")
            .map(|e| (e.auth, e.status))
            .collect();
        assert!(
            reads.contains(&("url-token".into(), 200)),
            "py-rattler sent /t/<token>/ at the root: {reads:?}"
        );
    }
}

#[tokio::test]
async fn where_no_private_channel_can_prove_it_basic_is_written_and_said_unverified() {
    let world = world().await;
    for channel in &mut world.emu.state.lock().unwrap().channels {
        channel.privacy = "public".into();
    }
    let out = login_cli(&world, &[]).await;
    assert!(out.status.success(), "{}", output_text(&out));
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(credentials(&world)).unwrap()).unwrap();
    assert_eq!(
        written["127.0.0.1"],
        serde_json::json!({"BasicHTTP": {"username": token(&world), "password": "x-auth-token"}})
    );
    let status = cli(world.home.path(), &["status", "--json"], None, &[]).await;
    let json: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(json["consumers"][1]["form"], "BasicHTTP");
    assert_eq!(json["consumers"][1]["verified"], false);
    let text = output_text(&cli(world.home.path(), &["status"], None, &[]).await);
    assert!(
        text.contains("not verified: no private channel allowed the check"),
        "{text}"
    );
}

#[tokio::test]
async fn a_credential_rattler_reads_first_is_named_at_sign_in_and_by_doctor() {
    let world = world().await;
    let home = world.home.path();
    // RATTLER_AUTH_FILE, and pixi's override file in its user configuration: both read before conda-connect's entry
    let auth_file = home.join("team-auth.json");
    std::fs::write(&auth_file, "{}\n").unwrap();
    let pixi = home.join(".pixi");
    std::fs::create_dir_all(&pixi).unwrap();
    std::fs::write(
        pixi.join("config.toml"),
        "authentication-override-file = \"/srv/pixi-auth.json\"\n",
    )
    .unwrap();
    let auth_file_text = auth_file.to_str().unwrap().to_string();
    let env = [("RATTLER_AUTH_FILE", auth_file_text.as_str())];
    let out = cli_login_as(home, DEMO_USER, DEMO_PASSWORD, &["--skip-channels"], &env).await;
    assert!(out.status.success(), "{}", output_text(&out));
    let text = output_text(&out);
    assert!(
        text.contains(&format!("RATTLER_AUTH_FILE names {auth_file_text}")),
        "{text}"
    );
    assert!(
        text.contains("sets pixi's authentication-override-file"),
        "{text}"
    );
    // neither file was touched; conda-connect's own entry is where it always goes
    assert_eq!(std::fs::read_to_string(&auth_file).unwrap(), "{}\n");
    assert!(credentials(&world).exists());
    let doctor = cli(home, &["doctor", "--json"], None, &env).await;
    let report: serde_json::Value = serde_json::from_slice(&doctor.stdout).unwrap();
    let shadowed: Vec<&serde_json::Value> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["id"] == "rattler-shadowed")
        .collect();
    assert_eq!(shadowed.len(), 2, "{report:#}");
    assert!(shadowed.iter().all(|c| c["status"] == "warn"));
}

#[tokio::test]
async fn a_client_file_that_became_latin_1_is_left_as_it_is_at_sign_out() {
    let world = world().await;
    assert!(login_cli(&world, &["--netrc"]).await.status.success());
    // another tool appends a Latin-1 password to both files while signed in
    let mut edited = Vec::new();
    for path in [netrc_path(&world), credentials(&world)] {
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.extend_from_slice(b"\n# caf\xe9\n");
        std::fs::write(&path, &bytes).unwrap();
        edited.push((path, bytes));
    }
    let out = cli(world.home.path(), &["logout"], None, &[]).await;
    assert!(out.status.success(), "{}", output_text(&out));
    for (path, bytes) in edited {
        assert_eq!(
            std::fs::read(&path).unwrap(),
            bytes,
            "{} not rewritten from a lossy reading",
            path.display()
        );
        assert!(
            output_text(&out).contains("is not UTF-8 text any more; it was left as it is"),
            "{}",
            output_text(&out)
        );
    }
}
