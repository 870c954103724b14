//! Interop with a real conda 24.7.1 (installed from PyPI by scripts/install-real-conda.sh): after `conda-connect login`, plain
//! `conda` resolves and installs a package from a private channel through the token conda-connect stored
//! (`/api/repo/t/<token>/…` in the emulator's log); after `conda-connect logout` it can no longer, and
//! `conda config --show` prints exactly what it printed before sign-in.
//!
//! Needs `CONDA_CONNECT_REAL_CONDA=<path to conda>` (`scripts/test.sh` installs it with scripts/install-real-conda.sh
//! and also sets `CONDA_CONNECT_REQUIRE_REAL_CONDA=1`, so CI fails rather than skips when conda is missing).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::retry_if_killed;
use conda_connect::emulator::{DEMO_PASSWORD, DEMO_USER, Emulator, EmulatorConfig};

fn real_conda() -> Option<PathBuf> {
    match std::env::var_os("CONDA_CONNECT_REAL_CONDA") {
        Some(path) => Some(PathBuf::from(path)),
        None => {
            assert!(
                std::env::var("CONDA_CONNECT_REQUIRE_REAL_CONDA").as_deref() != Ok("1"),
                "CONDA_CONNECT_REAL_CONDA is not set but CONDA_CONNECT_REQUIRE_REAL_CONDA=1"
            );
            eprintln!(
                "real conda not configured (CONDA_CONNECT_REAL_CONDA); skipping the interop test"
            );
            None
        }
    }
}

struct Env {
    home: PathBuf,
    root: PathBuf,
}

impl Env {
    /// A HOME (`<dir>/home`, created) and conda's package cache under `dir`.
    fn under(dir: &Path) -> Env {
        let env = Env {
            home: dir.join("home"),
            root: dir.to_path_buf(),
        };
        std::fs::create_dir_all(&env.home).unwrap();
        env
    }

    fn apply(&self, cmd: &mut Command) {
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &self.home)
            .env("CONDARC", self.home.join(".condarc"))
            .env("CONDA_PKGS_DIRS", self.root.join("pkgs-cache"))
            .env("CONDA_LOCAL_REPODATA_TTL", "0")
            .env("CONDA_CONNECT_SECRETS", "file")
            .env("NO_PROXY", "*");
    }
}

async fn run(env: &Env, program: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(program);
    cmd.args(args);
    env.apply(&mut cmd);
    let stdin = stdin.map(str::to_string);
    tokio::task::spawn_blocking(move || {
        use std::io::Write;
        use std::process::Stdio;
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn");
        if let Some(input) = stdin {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .unwrap();
        }
        drop(child.stdin.take());
        child.wait_with_output().expect("wait")
    })
    .await
    .unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// What every interop test starts from: real conda, a HOME, a private channel `internal` holding a real package
/// (`hello-private`, built by tests/support/make_channel.py), and the emulator serving it.
struct Interop {
    conda: PathBuf,
    env: Env,
    root: tempfile::TempDir,
    emu: Emulator,
}

async fn interop(sso: bool) -> Option<Interop> {
    let conda = real_conda()?;
    let python = conda
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("clvenv/bin/python");
    let root = tempfile::tempdir().unwrap();
    let env = Env::under(root.path());
    let pkgs = root.path().join("channels");
    let made = Command::new(&python)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/support/make_channel.py"
        ))
        .arg(&pkgs)
        .arg("internal")
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", text(&made));
    let emu = Emulator::start(EmulatorConfig {
        packages_dir: Some(pkgs),
        bulk_channels: 0,
        sso,
        ..Default::default()
    })
    .await
    .unwrap();
    Some(Interop {
        conda,
        env,
        root,
        emu,
    })
}

fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_conda-connect"))
}

/// `conda-connect <args>` in `env`, which must succeed.
async fn conda_connect(env: &Env, args: &[&str], stdin: Option<&str>) -> Output {
    let output = run(env, bin(), args, stdin).await;
    assert!(output.status.success(), "{args:?}: {}", text(&output));
    output
}

/// `set-domain <url>`, then a password sign-in as the demo user with `channels` (e.g. `--default-channel main`).
async fn password_sign_in(env: &Env, url: &str, channels: &[&str]) {
    conda_connect(env, &["set-domain", url], None).await;
    let mut args = vec!["login", "--username", DEMO_USER, "--password-stdin"];
    args.extend_from_slice(channels);
    conda_connect(env, &args, Some(&format!("{DEMO_PASSWORD}\n"))).await;
}

/// Plain conda installs `hello-private` into `prefix` (from the private channel `internal`).
async fn install_hello_private(env: &Env, conda: &Path, prefix: &Path) {
    let create = run(
        env,
        conda,
        &[
            "create",
            "-y",
            "-p",
            prefix.to_str().unwrap(),
            "hello-private",
        ],
        None,
    )
    .await;
    assert!(create.status.success(), "{}", text(&create));
    assert_eq!(
        std::fs::read_to_string(prefix.join("share/hello-private/hello.txt")).unwrap(),
        "hello from a private channel\n"
    );
}

/// A token sign-in: plain conda installs from the private channel with the token the user was given; sign-out
/// leaves the token active on the server (it is not conda-connect's) and the user's files as they were.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_conda_installs_through_a_token_you_were_given() {
    let Some(Interop {
        conda,
        env,
        root,
        emu,
    }) = interop(false).await
    else {
        return;
    };
    let token = emu
        .state
        .lock()
        .unwrap()
        .give_token(&conda_connect::emulator::state::GivenToken {
            channel: Some("internal".into()),
            ..Default::default()
        });
    std::fs::write(env.home.join(".condarc"), "auto_update_conda: false\n").unwrap();
    conda_connect(&env, &["set-domain", &emu.url], None).await;
    conda_connect(
        &env,
        &["login", "--token-stdin", "--default-channel", "internal"],
        Some(&format!("{token}\n")),
    )
    .await;
    install_hello_private(&env, &conda, &root.path().join("env")).await;
    conda_connect(&env, &["logout"], None).await;
    assert!(
        emu.tokens().iter().any(|t| t.token == token),
        "still active"
    );
    assert_eq!(
        std::fs::read_to_string(env.home.join(".condarc")).unwrap(),
        "auto_update_conda: false\n"
    );
}

/// CI: with nothing but the variables `env` printed (HOME read-only), real conda installs a private package and
/// py-rattler fetches the private channel.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_conda_and_py_rattler_work_with_only_the_printed_variables() {
    use std::os::unix::fs::PermissionsExt;
    let Some(Interop {
        conda,
        env,
        root,
        emu,
    }) = interop(false).await
    else {
        return;
    };
    let token = emu
        .state
        .lock()
        .unwrap()
        .give_token(&conda_connect::emulator::state::GivenToken::default());
    std::fs::set_permissions(&env.home, std::fs::Permissions::from_mode(0o555)).unwrap();
    let mut cmd = Command::new(bin());
    cmd.args([
        "env",
        "--token-stdin",
        "--domain",
        &emu.url,
        "--default-channel",
        "main",
        "--channel",
        "internal",
    ]);
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &env.home)
        .env("NO_PROXY", "*")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let output = {
        use std::io::Write;
        let mut child = cmd.spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{token}\n").as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    assert!(output.status.success(), "{}", text(&output));
    let vars: Vec<(String, String)> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches('\'').to_string()))
        .collect();
    assert_eq!(vars.len(), 3, "{vars:?}");
    let prefix = root.path().join("ci-env");
    let mut create = Command::new(&conda);
    create
        .args([
            "create",
            "-y",
            "-p",
            prefix.to_str().unwrap(),
            "hello-private",
        ])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &env.home)
        .env("CONDA_PKGS_DIRS", root.path().join("ci-pkgs"))
        .env("NO_PROXY", "*")
        .envs(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let created = create.output().unwrap();
    std::fs::set_permissions(&env.home, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert!(created.status.success(), "{}", text(&created));
    assert!(prefix.join("share/hello-private/hello.txt").exists());
    // py-rattler, when installed: the RATTLER_AUTH_FILE variable alone
    if let Some(clients) = std::env::var_os("CONDA_CONNECT_CLIENTS") {
        // (once fetched it leaves at once: py-rattler's native threads have crashed in the interpreter's shutdown)
        let script = "import asyncio, os, sys\nfrom rattler import Channel, Subdir, fetch_repo_data\n\
            from rattler.networking import Client\nasyncio.run(fetch_repo_data(channels=[Channel(sys.argv[1])], \
            platforms=[Subdir('noarch')], cache_path=sys.argv[2], callback=None, client=Client.default_client()))\n\
            sys.stdout.flush()\nos._exit(0)\n";
        let fetch = || {
            Command::new(PathBuf::from(&clients).join("python"))
                .args([
                    "-c",
                    script,
                    &format!("{}/api/repo/internal", emu.url),
                    root.path().join("rattler-cache").to_str().unwrap(),
                ])
                .env_clear()
                .env("HOME", {
                    let empty = root.path().join("empty-home");
                    std::fs::create_dir_all(&empty).unwrap();
                    empty
                })
                .env("NO_PROXY", "*")
                .envs(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .output()
                .unwrap()
        };
        let fetched = retry_if_killed(fetch);
        assert!(fetched.status.success(), "py-rattler: {}", text(&fetched));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_conda_uses_the_token_and_loses_it_at_logout() {
    let Some(Interop {
        conda,
        env,
        root,
        emu,
    }) = interop(false).await
    else {
        return;
    };
    let original = "# interop test\nauto_update_conda: false\nchannels:\n  - defaults\n";
    std::fs::write(env.home.join(".condarc"), original).unwrap();
    let show = [
        "config",
        "--show",
        "channel_alias",
        "channels",
        "default_channels",
    ];
    let config_before = run(&env, &conda, &show, None).await;
    assert!(config_before.status.success(), "{}", text(&config_before));

    let bin = bin();
    password_sign_in(
        &env,
        &emu.url,
        &["--default-channel", "main", "--channel", "internal"],
    )
    .await;

    // plain conda reaches the private channel through the token files
    let search = run(&env, &conda, &["search", "--json", "hello-private"], None).await;
    assert!(search.status.success(), "{}", text(&search));
    let found: serde_json::Value = serde_json::from_slice(&search.stdout).unwrap();
    assert_eq!(found["hello-private"][0]["version"], "1.0.0", "{found}");
    install_hello_private(&env, &conda, &root.path().join("env")).await;
    let log = emu.log();
    let via_token = |path: &str| {
        log.iter()
            .any(|l| l.path == path && l.auth == "url-token" && l.status == 200)
    };
    assert!(
        via_token("/api/repo/internal/noarch/repodata.json"),
        "{log:?}"
    );
    assert!(
        via_token("/api/repo/internal/noarch/hello-private-1.0.0-0.tar.bz2"),
        "{log:?}"
    );

    // regenerate conda's sign-in token: conda keeps working with the new value, the old one is refused
    let list = run(&env, bin, &["tokens", "list", "--json"], None).await;
    assert!(list.status.success(), "{}", text(&list));
    let list: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    let sign_in_id = list
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["sign_in_token"] == true)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let old_token = emu.tokens()[0].token.clone();
    let output = run(&env, bin, &["tokens", "regenerate", &sign_in_id], None).await;
    assert!(output.status.success(), "{}", text(&output));
    let new_token = String::from_utf8_lossy(&output.stdout).trim().to_string();
    assert_eq!(emu.tokens()[0].token, new_token);
    let search = run(&env, &conda, &["search", "--json", "hello-private"], None).await;
    assert!(
        search.status.success(),
        "conda works with the regenerated token: {}",
        text(&search)
    );
    let with_token = |t: &str| format!("{}/api/repo/t/{t}/internal", emu.url);
    let channel_search = |t: String| {
        let url = with_token(&t);
        let env = &env;
        let conda = conda.clone();
        async move {
            run(
                env,
                &conda,
                &[
                    "search",
                    "--json",
                    "--override-channels",
                    "-c",
                    &url,
                    "hello-private",
                ],
                None,
            )
            .await
        }
    };
    assert!(
        !channel_search(old_token).await.status.success(),
        "the old value is refused"
    );
    // a token created for a channel URL works until it is revoked
    let output = run(
        &env,
        bin,
        &[
            "tokens",
            "create",
            "--name",
            "interop",
            "--scope",
            "artifact:download",
            "--scope",
            "channel:view-artifacts",
        ],
        None,
    )
    .await;
    assert!(output.status.success(), "{}", text(&output));
    let created = String::from_utf8_lossy(&output.stdout).trim().to_string();
    let created_id = emu
        .tokens()
        .iter()
        .find(|t| t.token == created)
        .unwrap()
        .id
        .clone();
    let ok = channel_search(created.clone()).await;
    assert!(ok.status.success(), "{}", text(&ok));
    let output = run(&env, bin, &["tokens", "revoke", &created_id], None).await;
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        !channel_search(created).await.status.success(),
        "conda loses access with the revoked token"
    );

    let output = run(&env, bin, &["logout"], None).await;
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(
        std::fs::read_to_string(env.home.join(".condarc")).unwrap(),
        original
    );
    assert!(emu.tokens().is_empty());

    // without the token the private channel is closed to conda
    let url = format!("{}/api/repo/internal", emu.url);
    let denied = run(
        &env,
        &conda,
        &[
            "search",
            "--json",
            "--override-channels",
            "-c",
            &url,
            "hello-private",
        ],
        None,
    )
    .await;
    assert!(!denied.status.success(), "{}", text(&denied));
    assert!(
        emu.log()
            .iter()
            .any(|l| l.path == "/api/repo/internal/noarch/repodata.json"
                && l.auth == "none"
                && l.status == 401),
        "{:?}",
        emu.log()
    );
    let config_after = run(&env, &conda, &show, None).await;
    assert_eq!(
        String::from_utf8_lossy(&config_after.stdout),
        String::from_utf8_lossy(&config_before.stdout)
    );
}

/// Every `.condarc` shape conda-connect writes reads back in real conda (whose YAML reader is ruamel's) exactly as
/// conda-connect's own verification parser reads it: names that some YAML reader would take for a boolean, null
/// or number are quoted, CRLF and BOM files stay readable, restored entries mean what they meant.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_conda_reads_back_every_condarc_shape_the_app_writes() {
    use conda_connect::engine::condarc::{self, KeyEdit};
    let Some(conda) = real_conda() else { return };
    let dir = tempfile::tempdir().unwrap();
    let env = Env::under(dir.path());
    let alias = "http://127.0.0.1:8765/api/repo";
    let tricky: Vec<String> = [
        "yes", "no", "on", "off", "y", "n", "true", "false", "null", "nan", "inf", "none", "main",
        "x-1", "team/yes", "e10",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let signed_in =
        condarc::apply_edits(crate::common::USER_CONDARC, &condarc::login_edits(alias)).unwrap();
    let mut shapes = vec![
        signed_in.clone(),
        condarc::apply_edits(&signed_in, &condarc::channel_edits(&tricky, &tricky)).unwrap(),
        condarc::apply_edits(
            "\u{feff}# windows\r\nchannels: [a, b]\r\nssl_verify: true\r\n",
            &condarc::channel_edits(&["on".into(), "main".into()], &["off".into()]),
        )
        .unwrap(),
    ];
    // the key-only revert of an original with a null, a tagged list and an odd scalar
    let original = "channels: !!seq\n  - conda-forge\ndefault_channels:\nchannel_alias: https://conda.example.com\n";
    let edits: Vec<(&str, KeyEdit)> = condarc::OWNED_KEYS
        .iter()
        .map(|k| {
            (
                *k,
                KeyEdit::Restore {
                    entry: condarc::entry_text(original, k),
                    value: None,
                },
            )
        })
        .collect();
    shapes.push(condarc::apply_edits(&format!("{signed_in}always_yes: true\n"), &edits).unwrap());
    for (i, shape) in shapes.iter().enumerate() {
        std::fs::write(env.home.join(".condarc"), shape).unwrap();
        let out = run(
            &env,
            &conda,
            &[
                "config",
                "--json",
                "--show",
                "channels",
                "default_channels",
                "channel_alias",
            ],
            None,
        )
        .await;
        assert!(out.status.success(), "shape {i}: {}", text(&out));
        let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let ours = condarc::read_settings(shape).unwrap();
        if let Some(channels) = &ours.channels {
            assert_eq!(
                shown["channels"],
                serde_json::json!(channels),
                "shape {i}:\n{shape}"
            );
        }
        // conda shows default_channels and channel_alias as Channel objects
        if let Some(defaults) = ours.default_channels.as_ref().filter(|d| !d.is_empty()) {
            let names: Vec<&str> = shown["default_channels"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["name"].as_str().unwrap_or_default())
                .collect();
            assert_eq!(&names, defaults, "shape {i}:\n{shape}");
        }
        if let Some(alias) = &ours.channel_alias {
            let c = &shown["channel_alias"];
            let url = format!(
                "{}://{}",
                c["scheme"].as_str().unwrap_or_default(),
                c["location"].as_str().unwrap_or_default()
            );
            assert_eq!(url, alias.trim_end_matches('/'), "shape {i}:\n{shape}");
        }
    }
}

/// After a single sign-on from the command line (`login --sso --no-browser`, its one printed address followed by a
/// browser), plain conda installs a package from a private channel; after sign-out it cannot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_conda_installs_after_a_single_sign_on() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    use std::sync::{Arc, Mutex};
    let Some(Interop {
        conda,
        env,
        root,
        emu,
    }) = interop(true).await
    else {
        return;
    };
    let bin = bin();
    conda_connect(&env, &["set-domain", &emu.url], None).await;
    // the sign-in: the command prints the address, a browser (reqwest) signs in on the realm's page
    let mut cmd = Command::new(bin);
    cmd.args([
        "login",
        "--sso",
        "--no-browser",
        "--default-channel",
        "main",
        "--channel",
        "internal",
    ]);
    env.apply(&mut cmd);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let url = tokio::task::spawn_blocking(move || {
        let mut lines = BufReader::new(stderr).lines();
        let line = lines.next().unwrap().unwrap();
        assert!(line.starts_with("Open this URL to sign in: "), "{line}");
        line.rsplit(' ').next().unwrap().to_string()
    })
    .await
    .unwrap();
    let seen = Arc::new(Mutex::new(crate::sso::Seen::default()));
    crate::sso::browse(url, crate::sso::Act::SignIn, seen).await;
    let status = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    assert!(status.status.success(), "{}", text(&status));
    let st = run(&env, bin, &["status", "--json"], None).await;
    let st: serde_json::Value = serde_json::from_slice(&st.stdout).unwrap();
    assert_eq!(st["auth"], "sso");
    // plain conda installs from the private channel
    install_hello_private(&env, &conda, &root.path().join("env")).await;
    conda_connect(&env, &["logout"], None).await;
    assert!(emu.tokens().is_empty(), "the server token was revoked");
    let search = run(&env, &conda, &["search", "--json", "hello-private"], None).await;
    assert!(
        !search.status.success(),
        "conda no longer reaches the private channel"
    );
}

/// doctor reads conda's configuration from the same places, in the same order, with the same merge, as conda:
/// `conda config --show` and conda's own `Channel` resolution agree with what doctor reports, across the root
/// (`$CONDA_ROOT`), `$XDG_CONFIG_HOME`, the user's file, an environment's `condarc.d`, `$CONDARC` and `CONDA_*`.
#[tokio::test]
async fn doctor_reads_conda_configuration_as_real_conda_does() {
    let Some(conda) = real_conda() else { return };
    let root = tempfile::tempdir().unwrap();
    let at = |p: &str| root.path().join(p);
    for dir in ["home", "root", "prefix/condarc.d", "xdg/conda"] {
        std::fs::create_dir_all(at(dir)).unwrap();
    }
    std::fs::write(
        at("home/.condarc"),
        "channel_alias: https://a.example/api/repo\nchannels: [h1, defaults]\ndefault_channels: [d1]\n",
    )
    .unwrap();
    std::fs::write(
        at("root/.condarc"),
        "channels: [r1]\ncustom_channels:\n  team: https://mirror.example/conda\n",
    )
    .unwrap();
    std::fs::write(
        at("prefix/condarc.d/z.yml"),
        "channels: [p1, h1]\ndefault_channels: [d2, https://mirror.example/conda/forge]\n",
    )
    .unwrap();
    // not a name conda reads from a folder
    std::fs::write(at("prefix/condarc.d/notes.txt"), "channels: [ignored]\n").unwrap();
    std::fs::write(
        at("extra.yml"),
        "channel_alias: https://b.example/api/repo/\n",
    )
    .unwrap();
    std::fs::write(at("xdg/conda/condarc"), "default_channels: [x1]\n").unwrap();
    let vars: Vec<(String, String)> = vec![
        ("CONDA_ROOT".into(), at("root").display().to_string()),
        ("CONDA_PREFIX".into(), at("prefix").display().to_string()),
        ("CONDARC".into(), at("extra.yml").display().to_string()),
        ("XDG_CONFIG_HOME".into(), at("xdg").display().to_string()),
        ("CONDA_CHANNELS".into(), "e1,e2".into()),
    ];
    let home = at("home");
    let command = |program: &Path| {
        let mut cmd = Command::new(program);
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &home)
            .env("NO_PROXY", "*");
        for (k, v) in &vars {
            cmd.env(k, v);
        }
        cmd
    };
    // conda's view
    let shown = command(&conda)
        .args([
            "config",
            "--show",
            "channel_alias",
            "channels",
            "default_channels",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(shown.status.success(), "{}", text(&shown));
    let shown: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    let url_of = |c: &serde_json::Value| {
        let base = format!(
            "{}://{}",
            c["scheme"].as_str().unwrap(),
            c["location"].as_str().unwrap()
        );
        match c["name"].as_str().unwrap() {
            "" => base,
            name => format!("{base}/{name}"),
        }
    };
    let names = [
        "h1",
        "team",
        "team/sub",
        "pkgs/main",
        "conda/forge",
        "d1",
        "e1",
    ];
    let python = conda
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("clvenv/bin/python");
    let shim = conda.parent().unwrap().parent().unwrap().join("clshim");
    let resolved = command(&python)
        .env("PYTHONPATH", &shim)
        .args([
            "-c",
            "import json, sys\nfrom conda.base.context import context, reset_context\nfrom conda.models.channel import Channel\n\
             reset_context()\n\
             print(json.dumps({'files': [str(p) for p in context._search_path], \
             'resolved': {n: Channel(n).base_url for n in sys.argv[1:]}}))",
        ])
        .args(names)
        .output()
        .unwrap();
    assert!(resolved.status.success(), "{}", text(&resolved));
    let resolved: serde_json::Value = serde_json::from_slice(&resolved.stdout).unwrap();

    // doctor's sources, with the same environment
    use conda_connect::engine::doctor::sources;
    let env = |name: &str| {
        vars.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .or_else(|| (name == "PATH").then(|| std::env::var("PATH").unwrap_or_default()))
    };
    let found = sources::sources(&home, &env);
    let files: Vec<String> = found
        .iter()
        .filter(|s| s.name != "env")
        .map(|s| s.name.clone())
        .collect();
    let conda_files: Vec<String> = resolved["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        files, conda_files,
        "the files conda reads, in conda's order"
    );
    let effective = sources::effective(&found);
    assert_eq!(
        effective.channel_alias.as_deref(),
        Some(url_of(&shown["channel_alias"]).as_str())
    );
    let conda_channels: Vec<String> = shown["channels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    assert_eq!(effective.channels, conda_channels);
    let settings = effective.settings();
    let ours: Vec<String> = effective
        .default_channels
        .iter()
        .map(|d| conda_connect::engine::index::resolve_channel(&settings, d).url)
        .collect();
    let theirs: Vec<String> = shown["default_channels"]
        .as_array()
        .unwrap()
        .iter()
        .map(url_of)
        .collect();
    assert_eq!(ours, theirs, "default_channels");
    for name in names {
        assert_eq!(
            conda_connect::engine::index::resolve_channel(&settings, name).url,
            resolved["resolved"][name].as_str().unwrap(),
            "{name} resolves where conda resolves it"
        );
    }
    // and doctor says so
    let mut doctor = command(bin());
    doctor
        .args(["doctor", "--json"])
        .env("CONDA_CONNECT_SECRETS", "file");
    let report = doctor.output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&report.stdout).unwrap();
    let message = |id: &str| {
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap()["message"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(
        message("channel-alias"),
        format!(
            "channel_alias is {} (from {}).",
            url_of(&shown["channel_alias"]),
            at("extra.yml").display()
        )
    );
    assert_eq!(
        message("channels"),
        format!("channels: {}.", conda_channels.join(", "))
    );
}

/// The emulator's seeded packages are real: plain conda installs one from the demo server's `main`.
#[tokio::test]
async fn real_conda_installs_a_seeded_package_of_the_emulator() {
    let Some(Interop {
        conda,
        env,
        root,
        emu,
    }) = interop(false).await
    else {
        return;
    };
    password_sign_in(&env, &emu.url, &["--default-channel", "main"]).await;
    let prefix = root.path().join("docs-env");
    let create = run(
        &env,
        &conda,
        &["create", "-y", "-p", prefix.to_str().unwrap(), "numpy-docs"],
        None,
    )
    .await;
    assert!(create.status.success(), "{}", text(&create));
    assert!(prefix.join("share/numpy-docs/README").is_file());
    conda_connect(&env, &["doctor"], None).await;
}

/// Several servers at once: a primary (127.0.0.1) and a secondary server (`localhost`), each with a private
/// channel; plain conda installs a package from each into one environment, each request carrying its own
/// server's token after `/api/repo`. Signing out of the secondary leaves the primary working; signing out of
/// both leaves `.condarc` byte for byte as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_conda_installs_from_two_servers_into_one_environment() {
    let Some(Interop {
        conda,
        env,
        root,
        emu,
    }) = interop(false).await
    else {
        return;
    };
    let python = conda
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("clvenv/bin/python");
    let pkgs = root.path().join("channels-b");
    let made = Command::new(&python)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/support/make_channel.py"
        ))
        .arg(&pkgs)
        .arg("alice")
        .arg("hello-staging")
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", text(&made));
    let other = Emulator::start(EmulatorConfig {
        packages_dir: Some(pkgs),
        bulk_channels: 0,
        ..Default::default()
    })
    .await
    .unwrap();
    let other_url = other.url.replace("127.0.0.1", "localhost");
    let original = "# two servers\nauto_update_conda: false\n";
    std::fs::write(env.home.join(".condarc"), original).unwrap();

    password_sign_in(
        &env,
        &emu.url,
        &["--default-channel", "main", "--channel", "internal"],
    )
    .await;
    conda_connect(
        &env,
        &[
            "login",
            "--username",
            DEMO_USER,
            "--password-stdin",
            "--domain",
            &other_url,
            "--add-server",
            "--channel",
            "alice",
        ],
        Some(&format!("{DEMO_PASSWORD}\n")),
    )
    .await;
    let prefix = root.path().join("both");
    let create = run(
        &env,
        &conda,
        &[
            "create",
            "-y",
            "-p",
            prefix.to_str().unwrap(),
            "hello-private",
            "hello-staging",
        ],
        None,
    )
    .await;
    assert!(create.status.success(), "{}", text(&create));
    assert!(prefix.join("share/hello-private/hello.txt").is_file());
    assert!(prefix.join("share/hello-staging/hello.txt").is_file());
    let via_token = |log: &[conda_connect::emulator::LogEntry], path: &str| {
        log.iter()
            .any(|l| l.path == path && l.auth == "url-token" && l.status == 200)
    };
    assert!(via_token(
        &emu.log(),
        "/api/repo/internal/noarch/hello-private-1.0.0-0.tar.bz2"
    ));
    assert!(
        via_token(
            &other.log(),
            "/api/repo/alice/noarch/hello-staging-1.0.0-0.tar.bz2"
        ),
        "{:?}",
        other.log()
    );

    // the secondary signs out: its channel is gone, the primary still installs
    conda_connect(&env, &["logout", "--domain", &other_url], None).await;
    let search = run(&env, &conda, &["search", "--json", "hello-staging"], None).await;
    assert!(!search.status.success(), "{}", text(&search));
    let again = root.path().join("again");
    let create = run(
        &env,
        &conda,
        &[
            "create",
            "-y",
            "-p",
            again.to_str().unwrap(),
            "hello-private",
        ],
        None,
    )
    .await;
    assert!(create.status.success(), "{}", text(&create));
    conda_connect(&env, &["logout"], None).await;
    assert_eq!(
        std::fs::read_to_string(env.home.join(".condarc")).unwrap(),
        original
    );
}
