//! `conda-connect doctor` names the one broken link, with its fix, for each broken set-up a user meets — and a
//! healthy sign-in passes every check; it changes nothing and never prints a secret. `update-index` exits 1 and
//! names the cause per failed channel.

use std::path::Path;

use conda_connect::emulator::{DEMO_PASSWORD, DEMO_USER, EmulatorConfig};
use serde_json::Value;

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

/// Signed in with `main` as the default channel and `internal` as a channel.
async fn signed_in() -> World {
    let world = world().await;
    let login = cli_login(
        world.home.path(),
        &["--default-channel", "main", "--channel", "internal"],
    )
    .await;
    assert!(login.status.success(), "{}", output_text(&login));
    world
}

fn token(world: &World) -> String {
    world.emu.tokens()[0].token.clone()
}

struct Found {
    report: Value,
    code: Option<i32>,
    text: String,
}

impl Found {
    #[track_caller]
    fn check(&self, id: &str) -> &Value {
        self.report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap_or_else(|| panic!("no check {id}: {}", self.text))
    }

    #[track_caller]
    fn status(&self, id: &str) -> String {
        self.check(id)["status"].as_str().unwrap().to_string()
    }

    #[track_caller]
    fn message(&self, id: &str) -> String {
        self.check(id)["message"].as_str().unwrap().to_string()
    }

    #[track_caller]
    fn fix(&self, id: &str) -> String {
        self.check(id)["fix"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The checks that did not pass (id, status).
    fn problems(&self) -> Vec<(String, String)> {
        self.report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["status"] != "ok")
            .map(|c| {
                (
                    c["id"].as_str().unwrap().into(),
                    c["status"].as_str().unwrap().into(),
                )
            })
            .collect()
    }
}

/// doctor as JSON and as text; both must agree on the exit code and hold none of `secrets`.
async fn doctor(home: &Path, args: &[&str], env: &[(&str, &str)], secrets: &[&str]) -> Found {
    let mut json_args = vec!["doctor", "--json"];
    json_args.extend_from_slice(args);
    let json = cli(home, &json_args, None, env).await;
    let mut text_args = vec!["doctor"];
    text_args.extend_from_slice(args);
    let text = cli(home, &text_args, None, env).await;
    assert_eq!(
        json.status.code(),
        text.status.code(),
        "{}",
        output_text(&text)
    );
    let all = format!("{}{}", output_text(&json), output_text(&text));
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        assert!(
            !all.contains(secret),
            "a secret in doctor's output:\n{}",
            output_text(&text)
        );
    }
    let report: Value = serde_json::from_slice(&json.stdout)
        .unwrap_or_else(|_| panic!("not JSON: {}", output_text(&json)));
    assert_eq!(report["ok"], json.status.success());
    Found {
        report,
        code: text.status.code(),
        text: output_text(&text),
    }
}

#[tokio::test]
async fn a_healthy_sign_in_passes_every_check_and_doctor_changes_nothing() {
    let world = signed_in().await;
    let before = files_with_times(world.home.path());
    let found = doctor(
        world.home.path(),
        &[],
        &[],
        &[&token(&world), DEMO_PASSWORD],
    )
    .await;
    assert_eq!(found.code, Some(0), "{}", found.text);
    assert_eq!(
        found.problems(),
        Vec::<(String, String)>::new(),
        "{}",
        found.text
    );
    for id in [
        "condarc-sources",
        "channel-alias",
        "channels",
        "default_channels",
        "token-file",
        "rattler",
        "proxy",
        "connect",
        "tls",
        "server",
        "token",
        "session",
        "channel:main",
        "channel:internal",
        "download",
    ] {
        assert_eq!(found.status(id), "ok", "{id}: {}", found.text);
    }
    assert!(
        found
            .message("token")
            .contains(&format!("({}…)", &token(&world)[..4]))
    );
    assert!(found.message("server").contains("is an Anaconda Server"));
    assert!(
        found.text.ends_with("No problem found.\n"),
        "{}",
        found.text
    );
    // read-only: not a byte nor a modification time changed, no file added (no log either)
    assert_eq!(files_with_times(world.home.path()), before);
}

/// Every file under `dir` with its bytes and modification time.
fn files_with_times(dir: &Path) -> Vec<(std::path::PathBuf, Vec<u8>, std::time::SystemTime)> {
    let mut files = Vec::new();
    walk(dir, &mut files);
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            let time = std::fs::metadata(&p).unwrap().modified().unwrap();
            (p, bytes, time)
        })
        .collect()
}

#[tokio::test]
async fn a_revoked_token_is_told_apart_from_an_expired_one() {
    let world = signed_in().await;
    let secret = token(&world);
    world.emu.state.lock().unwrap().tokens.clear();
    let found = doctor(world.home.path(), &[], &[], &[&secret]).await;
    assert_eq!(found.code, Some(1));
    assert_eq!(found.status("token"), "fail");
    assert!(found.message("token").contains("revoked"), "{}", found.text);
    assert!(
        found.fix("token").contains("sign in again"),
        "{}",
        found.text
    );
    // the channels then answer 401, and the summary names the token first
    assert_eq!(found.status("channel:main"), "fail");
    assert!(
        found
            .text
            .contains("First problem: token The server refuses the token"),
        "{}",
        found.text
    );

    let world = signed_in().await;
    let secret = token(&world);
    let yesterday = (chrono::Utc::now() - chrono::Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    world.emu.state.lock().unwrap().tokens[0].expires_at = Some(yesterday.clone());
    let record = world.paths.data_dir.join("session.json");
    let mut session: Value = serde_json::from_slice(&std::fs::read(&record).unwrap()).unwrap();
    session["token_expires"] = yesterday.clone().into();
    std::fs::write(&record, serde_json::to_vec(&session).unwrap()).unwrap();
    let found = doctor(world.home.path(), &[], &[], &[&secret]).await;
    assert_eq!(found.status("token"), "fail");
    assert!(
        found
            .message("token")
            .contains(&format!("expired on {yesterday}")),
        "{}",
        found.text
    );
}

#[tokio::test]
async fn a_token_expiring_soon_is_a_warning_with_the_renewal() {
    let world = signed_in().await;
    let soon = (chrono::Utc::now() + chrono::Duration::days(10))
        .format("%Y-%m-%d")
        .to_string();
    world.emu.state.lock().unwrap().tokens[0].expires_at = Some(soon.clone());
    let found = doctor(world.home.path(), &[], &[], &[&token(&world)]).await;
    assert_eq!(
        found.code,
        Some(0),
        "a warning is not a failure: {}",
        found.text
    );
    assert_eq!(found.status("token"), "warn");
    assert!(found.message("token").contains(&soon));
    assert!(found.fix("token").contains("conda-connect tokens renew"));
}

#[tokio::test]
async fn token_files_changed_by_hand_or_readable_by_others_are_named() {
    let world = signed_in().await;
    let secret = token(&world);
    let files = world.token_files();
    let conda_file = files
        .iter()
        .find(|p| p.parent().unwrap().ends_with("binstar"))
        .expect("conda's token file")
        .clone();
    std::fs::write(&conda_file, "0123456789abcdef").unwrap();
    let found = doctor(world.home.path(), &[], &[], &[&secret, "0123456789abcdef"]).await;
    assert_eq!(found.code, Some(1));
    assert_eq!(found.status("token-file"), "fail");
    assert!(
        found
            .message("token-file")
            .contains("holds a different token")
    );
    std::fs::write(&conda_file, &secret).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&conda_file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let found = doctor(world.home.path(), &[], &[], &[&secret]).await;
        assert_eq!(found.code, Some(1));
        assert_eq!(found.status("token-file-mode"), "fail");
        assert!(found.message("token-file-mode").contains("mode 0644"));
        assert!(found.fix("token-file-mode").starts_with("chmod 600 "));
    }
}

#[tokio::test]
async fn configuration_that_overrides_the_alias_is_named_with_its_source() {
    let world = signed_in().await;
    let secret = token(&world);
    // an environment's own .condarc
    let prefix = tempfile::tempdir().unwrap();
    std::fs::write(
        prefix.path().join(".condarc"),
        "channel_alias: https://elsewhere.example/conda\n",
    )
    .unwrap();
    let prefix_str = prefix.path().display().to_string();
    let found = doctor(
        world.home.path(),
        &[],
        &[("CONDA_PREFIX", &prefix_str)],
        &[&secret],
    )
    .await;
    assert_eq!(found.code, Some(1));
    assert_eq!(found.status("channel-alias"), "fail");
    let message = found.message("channel-alias");
    assert!(
        message.contains("https://elsewhere.example/conda"),
        "{message}"
    );
    let prefix_condarc = prefix.path().join(".condarc").display().to_string();
    assert!(message.contains(&prefix_condarc), "{message}");
    assert!(
        found
            .fix("channel-alias")
            .contains("Remove channel_alias from")
    );
    assert!(found.message("condarc-sources").contains(&prefix_str));
    // a variable
    let found = doctor(
        world.home.path(),
        &[],
        &[("CONDA_CHANNEL_ALIAS", "https://env.example/conda")],
        &[&secret],
    )
    .await;
    assert_eq!(found.status("channel-alias"), "fail");
    assert!(
        found
            .message("channel-alias")
            .contains("CONDA_* environment variables")
    );
    // channel_settings with an auth handler, add_anaconda_token: false
    let condarc_d = prefix.path().join("condarc.d");
    std::fs::create_dir_all(&condarc_d).unwrap();
    std::fs::write(
        condarc_d.join("auth.yml"),
        format!(
            "channel_settings:\n  - channel: {}/*\n    auth: anaconda-auth\nadd_anaconda_token: false\n",
            world.emu.url
        ),
    )
    .unwrap();
    std::fs::remove_file(prefix.path().join(".condarc")).unwrap();
    let found = doctor(
        world.home.path(),
        &[],
        &[("CONDA_PREFIX", &prefix_str)],
        &[&secret],
    )
    .await;
    assert_eq!(found.status("channel-settings"), "fail", "{}", found.text);
    assert!(found.message("channel-settings").contains("anaconda-auth"));
    assert_eq!(found.status("add-anaconda-token"), "fail");
    assert_eq!(found.status("channel-alias"), "ok", "{}", found.text);
}

#[tokio::test]
async fn missing_and_private_channels_are_told_apart() {
    let world = signed_in().await;
    let secret = token(&world);
    // a configured channel removed on the server
    world
        .emu
        .state
        .lock()
        .unwrap()
        .channels
        .retain(|c| c.name != "internal");
    let found = doctor(
        world.home.path(),
        &[
            "--channel",
            "internal",
            "--channel",
            "bob-private",
            "--channel",
            "main",
        ],
        &[],
        &[&secret],
    )
    .await;
    assert_eq!(found.code, Some(1));
    assert_eq!(found.status("channel:internal"), "fail");
    assert!(
        found
            .message("channel:internal")
            .contains("has no channel internal (404)")
    );
    assert!(
        found
            .fix("channel:internal")
            .contains("Choose your channels again")
    );
    assert_eq!(found.status("channel:bob-private"), "fail");
    assert!(
        found
            .message("channel:bob-private")
            .contains("bob-private is private and alice is not a member"),
        "{}",
        found.text
    );
    assert!(
        found
            .fix("channel:bob-private")
            .contains("Ask the owner of bob-private")
    );
    assert_eq!(found.status("channel:main"), "ok");
    assert_eq!(found.status("download"), "ok");
}

#[tokio::test]
async fn the_server_down_and_an_unreachable_proxy_are_network_failures() {
    let world = signed_in().await;
    let secret = token(&world);
    // a proxy with a password that must never be printed, on a port where nothing listens
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy_port = closed.local_addr().unwrap().port();
    drop(closed);
    let proxy = format!("http://proxyuser:pr0xy-s3cret@127.0.0.1:{proxy_port}");
    let found = doctor(
        world.home.path(),
        &[],
        &[("HTTP_PROXY", &proxy), ("NO_PROXY", "")],
        &[&secret, "pr0xy-s3cret"],
    )
    .await;
    assert_eq!(found.code, Some(1));
    assert!(
        found
            .message("proxy")
            .contains(&format!("http://proxyuser@127.0.0.1:{proxy_port}"))
    );
    assert!(found.message("proxy").contains("HTTP_PROXY"));
    assert_eq!(found.status("connect"), "fail");
    assert!(
        found.message("connect").contains("The proxy"),
        "{}",
        found.text
    );
    assert!(found.fix("connect").contains("NO_PROXY"));

    // the server goes away
    let World {
        home,
        paths: _,
        emu,
    } = world;
    drop(emu);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let found = doctor(home.path(), &[], &[], &[&secret]).await;
    assert_eq!(found.code, Some(1));
    assert_eq!(found.status("connect"), "fail");
    assert!(
        found
            .message("connect")
            .contains("Nothing answers at 127.0.0.1:"),
        "{}",
        found.text
    );
    assert!(found.fix("connect").contains("VPN"));
    assert_eq!(found.status("channel:main"), "fail");
    assert!(
        found.text.contains("First problem: connect"),
        "{}",
        found.text
    );
}

#[tokio::test]
async fn an_untrusted_self_signed_server_and_a_changed_certificate_are_named() {
    // the ini names an HTTPS server nobody trusted (as Navigator may have left it)
    let world = world().await;
    let front = SwappableTlsFront::start(world.emu.addr).await;
    std::fs::create_dir_all(world.paths.navigator_ini.parent().unwrap()).unwrap();
    std::fs::write(
        &world.paths.navigator_ini,
        format!("[main]\nanaconda_server_api_url = '{}'\n", front.url),
    )
    .unwrap();
    let found = doctor(world.home.path(), &[], &[], &[]).await;
    eprintln!("{}", found.text);
    assert_eq!(found.code, Some(1));
    assert_eq!(found.status("tls"), "fail");
    assert!(
        found.message("tls").contains("cannot be verified"),
        "{}",
        found.text
    );
    assert!(found.message("tls").contains("SHA-256"), "{}", found.text);
    assert!(found.fix("tls").contains("ssl_verify"), "{}", found.text);

    // trusted and signed in, then the certificate changes
    let world = World::with_config(EmulatorConfig {
        bulk_channels: 0,
        ..Default::default()
    })
    .await;
    let front = SwappableTlsFront::start(world.emu.addr).await;
    let home = world.home.path();
    let trusted = cli(
        home,
        &["set-domain", &front.url, "--trust-server"],
        None,
        &[],
    )
    .await;
    assert!(trusted.status.success(), "{}", output_text(&trusted));
    let login = cli_login(home, &["--default-channel", "main"]).await;
    assert!(login.status.success(), "{}", output_text(&login));
    let secret = token(&world);
    let found = doctor(home, &[], &[], &[&secret]).await;
    assert_eq!(
        found.status("tls"),
        "warn",
        "pinned: trusted on consent: {}",
        found.text
    );
    assert_eq!(found.code, Some(0), "{}", found.text);
    front.swap();
    let found = doctor(home, &[], &[], &[&secret]).await;
    eprintln!("{}", found.text);
    assert_eq!(found.code, Some(1));
    assert_eq!(found.status("tls"), "fail");
    assert!(
        found
            .message("tls")
            .contains("changed since you trusted it"),
        "{}",
        found.text
    );
}

/// A certificate issued by a CA this computer does not trust (a company's TLS inspection) names that CA and the
/// fix; with the CA in `ssl_verify` it is valid; an expired one and one for another host are told apart.
#[tokio::test]
async fn a_missing_ca_an_expired_certificate_and_another_host_are_told_apart() {
    let world = world().await;
    let home = world.home.path();
    let front = SwappableTlsFront::start(world.emu.addr).await;
    let ca = TestCa::new("Example Corp Inspection CA");
    front.serve(ca.acceptor(&["127.0.0.1"], false));
    std::fs::create_dir_all(world.paths.navigator_ini.parent().unwrap()).unwrap();
    std::fs::write(
        &world.paths.navigator_ini,
        format!("[main]\nanaconda_server_api_url = '{}'\n", front.url),
    )
    .unwrap();
    let found = doctor(home, &[], &[], &[]).await;
    assert_eq!(found.status("tls"), "fail", "{}", found.text);
    assert!(
        found.message("tls").contains(
            "it is issued by CN=Example Corp Inspection CA, which this computer does not trust"
        ),
        "{}",
        found.text
    );
    assert!(
        found
            .fix("tls")
            .starts_with("Ask your administrator for the CA certificate of CN=Example Corp Inspection CA and set ssl_verify: <that .pem>"),
        "{}",
        found.text
    );

    // Under Wine the Windows verifier cannot be given a CA bundle (the chain engine with an exclusive root that it
    // asks crypt32 for is refused, and the HTTP client cannot be built): the rest runs where that works
    if cfg!(windows) {
        return;
    }
    // the fix it names works: the CA's certificate in ssl_verify
    let bundle = home.join("corp-ca.pem");
    std::fs::write(&bundle, ca.pem()).unwrap();
    world.write_condarc(&format!(
        "ssl_verify: {}\n",
        bundle.display().to_string().replace('\\', "/")
    ));
    let found = doctor(home, &[], &[], &[]).await;
    assert_eq!(found.status("tls"), "ok", "{}", found.text);
    assert!(
        found
            .message("tls")
            .contains("is valid (issuer CN=Example Corp Inspection CA, expires "),
        "{}",
        found.text
    );

    // the same CA, a certificate that expired
    front.serve(ca.acceptor(&["127.0.0.1"], true));
    let found = doctor(home, &[], &[], &[]).await;
    assert_eq!(found.status("tls"), "fail", "{}", found.text);
    assert!(
        found
            .message("tls")
            .contains("cannot be verified: it has expired"),
        "{}",
        found.text
    );
    assert!(
        found.fix("tls").contains("must be replaced"),
        "{}",
        found.text
    );

    // and one issued for another host
    front.serve(ca.acceptor(&["server.example"], false));
    let found = doctor(home, &[], &[], &[]).await;
    assert_eq!(found.status("tls"), "fail", "{}", found.text);
    assert!(
        found
            .message("tls")
            .contains("cannot be verified: it is not issued for 127.0.0.1"),
        "{}",
        found.text
    );
    assert!(
        found
            .fix("tls")
            .contains("Use the address the certificate is issued for"),
        "{}",
        found.text
    );
}

#[tokio::test]
async fn update_index_exits_1_and_names_the_cause_per_channel() {
    let world = signed_in().await;
    let home = world.home.path();
    let healthy = cli(home, &["update-index"], None, &[]).await;
    assert!(healthy.status.success(), "{}", output_text(&healthy));
    // one channel gone
    world
        .emu
        .state
        .lock()
        .unwrap()
        .channels
        .retain(|c| c.name != "internal");
    let gone = cli(home, &["update-index"], None, &[]).await;
    assert_eq!(gone.status.code(), Some(1), "{}", output_text(&gone));
    let stderr = String::from_utf8_lossy(&gone.stderr);
    assert!(
        stderr.contains("internal (noarch): the server has no such channel"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("main ("),
        "only the failed channel is named: {stderr}"
    );
    assert!(stderr.contains("conda-connect doctor"), "{stderr}");
    // --json stays what it was, and the exit code says it too
    let json = cli(home, &["update-index", "--json"], None, &[]).await;
    assert_eq!(json.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&json.stdout).unwrap();
    let internal = report["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "internal")
        .unwrap();
    assert_eq!(internal["status"], "404");
    assert!(report.get("packages_total").is_some());
    // the server down: every channel, offline
    let World {
        home,
        paths: _,
        emu,
    } = world;
    drop(emu);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let down = cli(home.path(), &["update-index"], None, &[]).await;
    assert_eq!(down.status.code(), Some(1), "{}", output_text(&down));
    let stderr = String::from_utf8_lossy(&down.stderr);
    for channel in ["main", "internal"] {
        assert!(
            stderr.contains(&format!("{channel} (noarch): 127.0.0.1:"))
                && stderr.contains("are you offline?"),
            "{stderr}"
        );
    }
}

/// What an outside tester found (each now a test): hostile files and answers neither stall doctor nor leak through
/// it, and a slow server is not mistaken for a TLS failure.
#[cfg(unix)]
#[tokio::test]
async fn fifos_and_endless_files_do_not_stall_doctor() {
    let world = signed_in().await;
    let secret = token(&world);
    let binstar = world.home.path().join(".config/binstar");
    let host = world.emu.url.trim_start_matches("http://");
    let fifo = binstar.join(format!(
        "http%3A%2F%2F{}%2Fextra.token",
        host.replace(':', "%3A")
    ));
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    std::os::unix::fs::symlink("/dev/zero", binstar.join("http%3A%2F%2F127.0.0.1.token")).unwrap();
    // a FIFO as SSL_CERT_FILE would block every TLS connection: refused in a sentence
    let cert_fifo = world.home.path().join("cert.fifo");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&cert_fifo)
            .status()
            .unwrap()
            .success()
    );
    let cert_fifo = cert_fifo.display().to_string();
    let started = std::time::Instant::now();
    let found = doctor(
        world.home.path(),
        &[],
        &[("SSL_CERT_FILE", &cert_fifo)],
        &[&secret],
    )
    .await;
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "bounded"
    );
    assert!(
        found.text.contains("extra.token also matches"),
        "{}",
        found.text
    );
    assert!(
        found
            .text
            .contains("is not a regular file: conda may fail on it"),
        "{}",
        found.text
    );
    let environment: Vec<&Value> = found.report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["id"] == "environment")
        .collect();
    assert!(
        environment.iter().any(|c| c["message"]
            .as_str()
            .unwrap()
            .contains("is not a regular file")),
        "{}",
        found.text
    );
    assert_eq!(found.code, Some(1));
}

#[tokio::test]
async fn secrets_in_channel_urls_and_addresses_are_never_printed() {
    let world = signed_in().await;
    let secret = token(&world);
    let rc = world.condarc().unwrap();
    let with_token = rc.replace(
        "  - internal",
        &format!(
            "  - {}/api/repo/t/{secret}/internal\n  - https://user:chanpassw0rd@mirror.invalid/x",
            world.emu.url
        ),
    );
    assert_ne!(rc, with_token, "{rc}");
    world.write_condarc(&with_token);
    let found = doctor(world.home.path(), &[], &[], &[&secret, "chanpassw0rd"]).await;
    assert_eq!(found.status("condarc-token"), "warn", "{}", found.text);
    assert!(
        found
            .text
            .contains(&format!("/t/{}…/internal", &secret[..4])),
        "{}",
        found.text
    );
    let given = doctor(
        world.home.path(),
        &[
            "--channel",
            "http://u:chpw12345@127.0.0.1:9/x",
            "--channel",
            "main",
        ],
        &[],
        &[&secret, "chpw12345"],
    )
    .await;
    assert!(
        given.text.contains("http://u@127.0.0.1:9/x"),
        "{}",
        given.text
    );
    // usage errors, before anything runs
    for bad in ["", "../x", "main/../internal"] {
        let refused = cli(world.home.path(), &["doctor", "--channel", bad], None, &[]).await;
        assert_eq!(
            refused.status.code(),
            Some(2),
            "{bad:?}: {}",
            output_text(&refused)
        );
    }
}

#[tokio::test]
async fn a_server_cannot_forge_lines_of_the_report_or_pass_a_web_page_for_repodata() {
    let world = signed_in().await;
    let secret = token(&world);
    world.fault(
        "/api/account/token-info",
        None,
        conda_connect::emulator::FaultKind::Body {
            status: 200,
            content_type: "application/json".into(),
            body: "{\"expires_at\": \"2099-01-01\\n\\nNo problem found.\\u001b[2J\"}".into(),
        },
    );
    world.fault(
        "/api/repo/main/noarch/repodata.json",
        None,
        conda_connect::emulator::FaultKind::Body {
            status: 200,
            content_type: "text/html".into(),
            body: "<html><body>Sign in to Corp SSO</body></html>".into(),
        },
    );
    let found = doctor(world.home.path(), &[], &[], &[&secret]).await;
    assert_eq!(found.code, Some(1));
    let forged = found
        .text
        .lines()
        .filter(|l| l.trim() == "No problem found.")
        .count();
    assert_eq!(forged, 0, "{}", found.text);
    assert!(!found.text.contains('\u{1b}'));
    assert_eq!(found.status("channel:main"), "fail");
    assert!(
        found.message("channel:main").contains("an HTML page"),
        "{}",
        found.text
    );
}

#[tokio::test]
async fn a_slow_server_is_bounded_and_not_called_a_tls_failure() {
    let world = World::with_config(EmulatorConfig {
        bulk_channels: 0,
        tls: true,
        ..Default::default()
    })
    .await;
    let home = world.home.path();
    let trusted = cli(
        home,
        &["set-domain", &world.emu.url, "--trust-server"],
        None,
        &[],
    )
    .await;
    assert!(trusted.status.success(), "{}", output_text(&trusted));
    let login = cli_login(home, &["--default-channel", "main"]).await;
    assert!(login.status.success(), "{}", output_text(&login));
    let secret = token(&world);
    // the emulator's own TLS: doctor passes (its probe connection does not hold up the handshakes of others)
    let found = doctor(home, &[], &[], &[&secret]).await;
    assert_eq!(found.code, Some(0), "{}", found.text);
    // every answer held back far longer than doctor waits
    world.fault(
        "/",
        None,
        conda_connect::emulator::FaultKind::Delay { ms: 20_000 },
    );
    let started = std::time::Instant::now();
    let found = doctor(home, &["--channel", "main"], &[], &[&secret]).await;
    let took = started.elapsed();
    // two runs (JSON and text), each within its budget
    assert!(took < std::time::Duration::from_secs(16), "{took:?}");
    assert_ne!(found.status("tls"), "fail", "{}", found.text);
    assert_eq!(found.status("server"), "fail");
    assert!(
        found
            .message("server")
            .contains("did not answer /api/system"),
        "{}",
        found.text
    );
}

#[tokio::test]
async fn a_lapsed_session_is_told_apart_from_a_refused_token() {
    // sessions that live three seconds, as a realm's access tokens live minutes
    for realm in [true, false] {
        let world = World::with_config(EmulatorConfig {
            bulk_channels: 0,
            sso: realm,
            session_lifetime: Some(std::time::Duration::from_secs(3)),
            ..Default::default()
        })
        .await;
        world.set_domain().await;
        // in this process: a sign-in well within the session's three seconds, even on a loaded machine
        let sign_in = conda_connect::engine::session::SignIn {
            selection: Some(conda_connect::engine::session::Selection {
                default_channels: vec!["main".into()],
                channels: Vec::new(),
            }),
            ..Default::default()
        };
        world
            .engine()
            .login_with(DEMO_USER, DEMO_PASSWORD, &sign_in)
            .await
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(4100)).await;
        let found = doctor(
            world.home.path(),
            &[],
            &[],
            &[&token(&world), DEMO_PASSWORD],
        )
        .await;
        // conda's token is fine either way: the lapsed session is not the cause of anything conda sees
        assert_eq!(found.status("token"), "ok", "realm {realm}: {}", found.text);
        assert_eq!(found.code, Some(0), "realm {realm}: {}", found.text);
        if realm {
            // a refresh token renews it when needed
            assert_eq!(found.status("session"), "ok", "{}", found.text);
            assert!(
                found.message("session").contains("lapsed"),
                "{}",
                found.text
            );
        } else {
            // nothing can renew it: sign-out will need a sign-in to revoke, and doctor says so now
            assert_eq!(found.status("session"), "warn", "{}", found.text);
            assert!(
                found.message("session").contains("cannot be renewed"),
                "{}",
                found.text
            );
            assert!(
                found.fix("session").contains("logout --finish"),
                "{}",
                found.text
            );
        }
        // a revoked token is another thing: the token check fails and names it
        world.emu.state.lock().unwrap().tokens.clear();
        let found = doctor(world.home.path(), &[], &[], &[DEMO_PASSWORD]).await;
        assert_eq!(
            found.status("token"),
            "fail",
            "realm {realm}: {}",
            found.text
        );
        assert_eq!(found.code, Some(1));
    }
}
