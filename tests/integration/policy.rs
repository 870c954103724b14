//! The organization's policy: a file (`CONDA_CONNECT_POLICY_FILE`, as `/etc/conda-connect/policy.json` would be),
//! Group Policy's registry keys under Wine, and the ADMX template — each key's effect on the command line and on
//! the window, precedence, and a broken policy refused with one sentence.

use std::path::{Path, PathBuf};

use crate::common::*;
use conda_connect::engine::policy::{self, Policy};

/// A policy file in the test's HOME, and the environment that points at it.
fn policy_file(world: &World, json: &str) -> PathBuf {
    let path = world.home.path().join("policy.json");
    std::fs::write(&path, json).unwrap();
    // as an administrator leaves it (whatever this process's umask): writable by its owner only
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    path
}

async fn run(
    world: &World,
    policy: &Path,
    args: &[&str],
    stdin: Option<&str>,
) -> std::process::Output {
    let policy = policy.to_str().unwrap().to_string();
    cli(
        world.home.path(),
        args,
        stdin,
        &[("CONDA_CONNECT_POLICY_FILE", policy.as_str())],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_domain_cannot_be_changed_and_status_shows_the_policy() {
    let world = World::new().await;
    let file = policy_file(
        &world,
        &format!(
            r#"{{"domain": "{}", "support_url": "https://help.example.com/conda"}}"#,
            world.emu.url
        ),
    );
    let out = run(
        &world,
        &file,
        &["set-domain", "https://elsewhere.example.com"],
        None,
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    let text = output_text(&out);
    assert!(
        text.contains("This setting is managed by your organization (domain)"),
        "{text}"
    );
    assert!(text.contains("https://help.example.com/conda"), "{text}");
    assert!(world.ini().is_none(), "nothing written");
    // the organization's own server is fine, and status reports the policy with its source
    let out = run(&world, &file, &["set-domain", &world.emu.url], None).await;
    assert!(out.status.success(), "{}", output_text(&out));
    let out = run(&world, &file, &["status", "--json"], None).await;
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        status["policy"]["settings"]["domain"],
        world.emu.url.as_str()
    );
    assert_eq!(
        status["policy"]["sources"][0],
        file.display().to_string().as_str()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_sign_on_only_makes_a_password_a_usage_error() {
    let world = World::new().await;
    world.set_domain().await;
    let file = policy_file(&world, r#"{"sign_in": "sso"}"#);
    let before = world.user_files();
    let out = run(
        &world,
        &file,
        &["login", "--username", "alice", "--password-stdin"],
        Some("alice-password\n"),
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", output_text(&out));
    assert!(
        output_text(&out).contains("single sign-on"),
        "{}",
        output_text(&out)
    );
    assert_same_files(&before, &world.user_files(), "a refused sign-in method");
    assert!(world.emu.tokens().is_empty());
    // and a password-only policy refuses --sso the same way
    let file = policy_file(&world, r#"{"sign_in": "password"}"#);
    let out = run(&world, &file, &["login", "--sso", "--no-browser"], None).await;
    assert_eq!(out.status.code(), Some(2), "{}", output_text(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_policy_stops_everything_with_one_sentence() {
    let world = World::new().await;
    for (json, words) in [
        (
            r#"{"domian": "https://x.example"}"#,
            "domian: it is not a policy setting",
        ),
        (r#"{"token_lifetime_days": 999}"#, "token_lifetime_days"),
        ("not json", "not valid JSON"),
        (r#"["domain"]"#, "one JSON object"),
    ] {
        let file = policy_file(&world, json);
        let out = run(&world, &file, &["set-domain", &world.emu.url], None).await;
        assert_eq!(out.status.code(), Some(1), "{json}: {}", output_text(&out));
        let text = output_text(&out);
        assert!(text.contains(&file.display().to_string()), "{text}");
        assert!(text.contains(words), "{json}: {text}");
        assert!(text.contains("Nothing was changed"), "{text}");
        assert_eq!(text.lines().count(), 1, "one sentence: {text}");
        assert!(world.ini().is_none(), "fail closed: nothing written");
    }
    // the desktop app (no command) refuses too: where no window can open, the sentence still reaches stderr (on a
    // Linux desktop: Windows and macOS would open the refusal window itself)
    #[cfg(all(unix, not(target_os = "macos")))]
    {
        let file = policy_file(&world, r#"{"domian": "https://x.example"}"#);
        // a display that does not answer: the refusal's window cannot open either
        let out = cli(
            world.home.path(),
            &[],
            None,
            &[
                ("CONDA_CONNECT_POLICY_FILE", file.to_str().unwrap()),
                ("DISPLAY", ":987"),
            ],
        )
        .await;
        assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
        assert!(
            output_text(&out).contains("domian: it is not a policy setting"),
            "{}",
            output_text(&out)
        );
        assert!(world.ini().is_none(), "fail closed: nothing written");
    }
    // an unreadable policy is not "no policy"; one other users could change is refused
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let file = policy_file(&world, r#"{"sign_in": "sso"}"#);
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).unwrap();
        let out = run(&world, &file, &["status"], None).await;
        assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
        assert!(output_text(&out).contains("other users can change it (mode 666)"));
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let out = run(&world, &file, &["status"], None).await;
        assert!(out.status.success(), "{}", output_text(&out));
    }
    #[cfg(unix)]
    {
        let file = policy_file(&world, r#"{"sign_in": "sso"}"#);
        std::fs::create_dir_all(world.home.path().join("dir-policy")).unwrap();
        let out = run(
            &world,
            &world.home.path().join("dir-policy"),
            &["status"],
            None,
        )
        .await;
        assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
        assert!(output_text(&out).contains("not a file"));
        drop(file);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preselected_channels_are_applied_and_locked_channels_cannot_change() {
    let world = World::new().await;
    let file = policy_file(
        &world,
        &format!(
            r#"{{"domain": "{}", "default_channels": ["main"], "channels": ["internal"], "lock_channels": true,
                "clients": ["conda"], "token_lifetime_days": 30}}"#,
            world.emu.url
        ),
    );
    // no domain set and no channel option: the policy gives both
    let out = run(
        &world,
        &file,
        &["login", "--username", "alice", "--password-stdin"],
        Some("alice-password\n"),
    )
    .await;
    assert!(out.status.success(), "{}", output_text(&out));
    let condarc = world.condarc().unwrap();
    assert!(
        condarc.contains("- main") && condarc.contains("- internal"),
        "{condarc}"
    );
    // clients: conda only — no rattler credential was written
    assert!(!world.home.path().join(".rattler/credentials.json").exists());
    // the sign-in's token lives at most the policy's 30 days
    let tokens = world.emu.tokens();
    let expires = tokens[0].expires_at.clone().unwrap();
    let limit = (chrono::Utc::now().date_naive() + chrono::Duration::days(30))
        .format("%Y-%m-%d")
        .to_string();
    assert!(expires.as_str() <= limit.as_str(), "{expires} > {limit}");
    let out = run(
        &world,
        &file,
        &["select-channels", "--default-channel", "r"],
        None,
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    assert!(output_text(&out).contains("managed by your organization (channels)"));
    let out = run(
        &world,
        &file,
        &[
            "tokens",
            "create",
            "--name",
            "ci",
            "--expires",
            &(chrono::Utc::now().date_naive() + chrono::Duration::days(200))
                .format("%Y-%m-%d")
                .to_string(),
        ],
        None,
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    assert!(output_text(&out).contains("token_lifetime_days"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_trust_question_where_the_organization_forbids_it() {
    let world = World::with_config(conda_connect::emulator::EmulatorConfig {
        tls: true,
        ..Default::default()
    })
    .await;
    let file = policy_file(&world, r#"{"allow_untrusted_certificates": false}"#);
    let out = run(
        &world,
        &file,
        &["set-domain", &world.emu.url, "--trust-server"],
        None,
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    let text = output_text(&out);
    assert!(text.contains("does not allow trusting it"), "{text}");
    assert!(text.contains("install its issuer"), "{text}");
    assert!(
        world
            .ini()
            .is_none_or(|ini| !ini.contains("trusted_servers"))
    );
}

/// The ADMX template's value names are exactly the keys the code reads, and every string and presentation it names
/// is in the ADML; both are well-formed policy definitions.
#[test]
fn the_group_policy_template_matches_the_code() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/windows");
    let admx = std::fs::read_to_string(root.join("conda-connect.admx")).unwrap();
    let adml = std::fs::read_to_string(root.join("en-US/conda-connect.adml")).unwrap();
    let admx = roxmltree::Document::parse(&admx).unwrap();
    let adml = roxmltree::Document::parse(&adml).unwrap();
    let ns = "http://schemas.microsoft.com/GroupPolicy/2006/07/PolicyDefinitions";
    assert_eq!(admx.root_element().tag_name().name(), "policyDefinitions");
    assert_eq!(admx.root_element().tag_name().namespace(), Some(ns));
    assert_eq!(
        adml.root_element().tag_name().name(),
        "policyDefinitionResources"
    );
    let mut names: Vec<&str> = admx
        .descendants()
        .filter(|n| {
            matches!(
                n.tag_name().name(),
                "policy" | "text" | "enum" | "decimal" | "boolean"
            )
        })
        .filter_map(|n| n.attribute("valueName"))
        .collect();
    names.sort();
    names.dedup();
    let mut keys: Vec<&str> = policy::KEYS
        .iter()
        .copied()
        .filter(|k| *k != "version")
        .collect();
    keys.sort();
    assert_eq!(names, keys);
    for policy_node in admx
        .descendants()
        .filter(|n| n.tag_name().name() == "policy")
    {
        assert_eq!(
            policy_node.attribute("key"),
            Some(r"Software\Policies\conda-connect"),
            "{:?}",
            policy_node.attribute("name")
        );
    }
    let strings: Vec<&str> = adml
        .descendants()
        .filter(|n| n.tag_name().name() == "string")
        .filter_map(|n| n.attribute("id"))
        .collect();
    let presentations: Vec<&str> = adml
        .descendants()
        .filter(|n| n.tag_name().name() == "presentation")
        .filter_map(|n| n.attribute("id"))
        .collect();
    for node in admx.descendants() {
        for attr in node.attributes() {
            let value = attr.value();
            if let Some(id) = value
                .strip_prefix("$(string.")
                .and_then(|v| v.strip_suffix(')'))
            {
                assert!(strings.contains(&id), "string {id} missing from the ADML");
            }
            if let Some(id) = value
                .strip_prefix("$(presentation.")
                .and_then(|v| v.strip_suffix(')'))
            {
                assert!(
                    presentations.contains(&id),
                    "presentation {id} missing from the ADML"
                );
            }
        }
    }
    // the example macOS profile holds only keys the code reads
    let profile = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("packaging/macos/conda-connect-policy.mobileconfig"),
    )
    .unwrap();
    let doc = roxmltree::Document::parse_with_options(
        &profile,
        roxmltree::ParsingOptions {
            allow_dtd: true,
            ..Default::default()
        },
    )
    .unwrap();
    let settings: Vec<&str> = doc
        .descendants()
        .filter(|n| n.tag_name().name() == "key")
        .filter_map(|n| n.text())
        .filter(|k| !k.starts_with("Payload"))
        .collect();
    assert!(settings.len() >= 5);
    for key in settings {
        assert!(policy::KEYS.contains(&key), "{key} is not a policy key");
    }
}

/// Group Policy's keys, written with `reg add` (under Wine): the machine key wins over the user key, and the policy
/// reaches the command line.
#[cfg(windows)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_registry_policy_is_read_with_machine_before_user() {
    let world = World::new().await;
    let key = format!(
        r"SOFTWARE\Policies\conda-connect-test-{}",
        std::process::id()
    );
    let reg = |args: &[&str]| {
        let status = std::process::Command::new("reg")
            .args(args)
            .status()
            .expect("reg");
        assert!(status.success(), "reg {args:?}");
    };
    reg(&[
        "add",
        &format!(r"HKLM\{key}"),
        "/v",
        "domain",
        "/t",
        "REG_SZ",
        "/d",
        "https://machine.example.com",
        "/f",
    ]);
    reg(&[
        "add",
        &format!(r"HKCU\{key}"),
        "/v",
        "domain",
        "/t",
        "REG_SZ",
        "/d",
        "https://user.example.com",
        "/f",
    ]);
    reg(&[
        "add",
        &format!(r"HKCU\{key}"),
        "/v",
        "sign_in",
        "/t",
        "REG_SZ",
        "/d",
        "sso",
        "/f",
    ]);
    reg(&[
        "add",
        &format!(r"HKCU\{key}"),
        "/v",
        "allow_untrusted_certificates",
        "/t",
        "REG_DWORD",
        "/d",
        "0",
        "/f",
    ]);
    let out = cli(
        world.home.path(),
        &["status", "--json"],
        None,
        &[("CONDA_CONNECT_POLICY_REGISTRY_KEY", key.as_str())],
    )
    .await;
    let _ = std::process::Command::new("reg")
        .args(["delete", &format!(r"HKLM\{key}"), "/f"])
        .status();
    let _ = std::process::Command::new("reg")
        .args(["delete", &format!(r"HKCU\{key}"), "/f"])
        .status();
    assert!(out.status.success(), "{}", output_text(&out));
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let settings = &status["policy"]["settings"];
    assert_eq!(settings["domain"], "https://machine.example.com");
    assert_eq!(settings["sign_in"], "sso");
    assert_eq!(settings["allow_untrusted_certificates"], false);
    assert_eq!(
        status["policy"]["sources"][0],
        format!(r"HKLM\{key}").as_str()
    );
    assert_eq!(
        status["policy"]["sources"][1],
        format!(r"HKCU\{key}").as_str()
    );
}

#[test]
fn an_empty_policy_file_list_is_no_policy() {
    assert!(Policy::from_layers(&[]).unwrap().is_empty());
}

/// doctor names the policy in force and its source, and a broken one as a failure (it still checks the rest).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_shows_the_policy_and_its_source() {
    let world = World::new().await;
    let file = policy_file(
        &world,
        r#"{"sign_in": "sso", "support_url": "https://help.example.com"}"#,
    );
    let out = run(&world, &file, &["doctor", "--json"], None).await;
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let check = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "policy")
        .expect("a policy check")
        .clone();
    assert_eq!(check["status"], "ok");
    let message = check["message"].as_str().unwrap();
    assert!(message.contains(&file.display().to_string()) && message.contains("sign_in"));
    assert!(message.contains("https://help.example.com"), "{message}");
    let broken = policy_file(&world, r#"{"sign_in": "kerberos"}"#);
    let out = run(&world, &broken, &["doctor", "--json"], None).await;
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let checks = report["checks"].as_array().unwrap();
    assert!(
        checks
            .iter()
            .any(|c| c["id"] == "policy" && c["status"] == "fail")
    );
    assert!(checks.len() > 3, "the other checks ran too");
}

/// The remaining keys' effects on the command line and the engine: the SSO client id, the CA bundle, locked SSL
/// verification.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_id_ca_bundle_and_ssl_verification_are_enforced() {
    let world = World::new().await;
    world.set_domain().await;
    // another client id than the organization's
    let file = policy_file(&world, r#"{"sso_client_id": "corp-cli"}"#);
    let out = run(
        &world,
        &file,
        &["login", "--sso", "--no-browser", "--sso-client-id", "mine"],
        None,
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    assert!(output_text(&out).contains("managed by your organization (sso_client_id)"));
    // the organization's CA bundle is used for every connection: one that is not there is an error, never "no
    // verification"
    let missing = world.home.path().join("corp-ca.pem");
    let file = policy_file(
        &world,
        &format!(r#"{{"ca_bundle": {:?}}}"#, missing.to_str().unwrap()),
    );
    let out = run(&world, &file, &["set-domain", &world.emu.url], None).await;
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    assert!(
        output_text(&out).contains("ca_bundle"),
        "{}",
        output_text(&out)
    );
    // SSL verification locked on: Preferences cannot turn it off
    let mut engine = world.engine();
    engine.policy = std::sync::Arc::new(crate::policy::from_json(r#"{"ssl_verify": true}"#));
    let mut prefs = engine.preferences().unwrap();
    assert!(prefs.ssl_verification);
    prefs.ssl_verification = false;
    let error = engine
        .save_preferences(&prefs, conda_connect::engine::session::Trust::No)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("(ssl_verify)"), "{error}");
    // a policy cannot turn verification off
    let file = policy_file(&world, r#"{"ssl_verify": false}"#);
    let out = run(&world, &file, &["status"], None).await;
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    assert!(output_text(&out).contains("always verifies certificates"));
}

/// A policy from JSON, as `/etc/conda-connect/policy.json` holds it.
pub fn from_json(json: &str) -> Policy {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policy.json");
    std::fs::write(&path, json).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let layer = policy::sources::read_file(&path).unwrap().unwrap();
    Policy::from_layers(&[layer]).unwrap()
}
