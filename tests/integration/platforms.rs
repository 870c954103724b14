//! What differs per platform, end to end: a sign-in and sign-out in a home whose name has a space and non-ASCII
//! letters, with a CRLF `.condarc` (as Windows editors write it), the secrets in the platform's own store where it
//! always answers (Windows Credential Manager; the private file elsewhere, where a test machine may have no
//! keyring). The emulator runs in this process, so under Wine this is the whole product on Windows.

use std::path::{Path, PathBuf};
use std::time::Duration;

use conda_connect::emulator::{DEMO_PASSWORD, DEMO_USER, Emulator, EmulatorConfig};
use conda_connect::engine::Engine;
use conda_connect::engine::client::ClientConfig;
use conda_connect::engine::paths::Paths;
use conda_connect::engine::secrets::{SecretStore, SecretsMode};
use conda_connect::engine::session::CondarcRestore;

use crate::common::walk;

const CRLF_CONDARC: &str =
    "# written on Windows\r\nchannels:\r\n  - conda-forge\r\n  - defaults\r\nssl_verify: true\r\n";

/// The platform's store where it always answers (Windows), else the file.
fn secrets_mode() -> SecretsMode {
    if cfg!(windows) {
        SecretsMode::Auto
    } else {
        SecretsMode::File
    }
}

fn engine(paths: &Paths) -> Engine {
    let mut engine = Engine::new(paths.clone(), SecretStore::open(paths, secrets_mode()));
    engine.client_defaults = ClientConfig {
        timeout: Some(Duration::from_secs(5)),
        system_timeout: Some(Duration::from_secs(5)),
        ..Default::default()
    };
    engine
}

fn token_files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    walk(root, &mut out);
    out.retain(|p| {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        name.ends_with(".token") || name.ends_with(".jwt")
    });
    out
}

#[tokio::test]
async fn sign_in_and_out_in_a_home_with_spaces_and_accents() {
    let root = tempfile::tempdir().unwrap();
    let home = root.path().join("José Núñez");
    std::fs::create_dir(&home).unwrap();
    let paths = Paths::under_home(&home);
    let emu = Emulator::start(EmulatorConfig::default()).await.unwrap();
    std::fs::write(&paths.condarc, CRLF_CONDARC).unwrap();

    engine(&paths).set_domain(&emu.url, false).await.unwrap();
    let store = SecretStore::open(&paths, secrets_mode());
    if cfg!(windows) {
        assert_eq!(store.backend_name(), "keyring", "{:?}", store.warning);
    }
    let out = engine(&paths)
        .login(DEMO_USER, DEMO_PASSWORD)
        .await
        .unwrap();
    assert_eq!(out.username, "alice");
    assert_eq!(emu.tokens().len(), 1);
    let token = emu.tokens()[0].token.clone();

    // conda sees the token in every directory it and anaconda-client read, under the home
    let files = token_files(&home);
    assert_eq!(files.len(), paths.token_dirs.len() * 2, "{files:?}");
    for dir in &paths.token_dirs {
        assert!(dir.starts_with(&home), "{}", dir.display());
        let api = dir.join(format!(
            "{}.token",
            conda_connect::engine::token_files::quote_plus(&format!("{}/api", emu.url))
        ));
        assert_eq!(std::fs::read_to_string(&api).unwrap(), token);
    }
    // .condarc still parses and points conda at the server
    let signed_in = std::fs::read_to_string(&paths.condarc).unwrap();
    assert_eq!(
        signed_in.matches('\n').count(),
        signed_in.matches("\r\n").count(),
        "CRLF stays CRLF: {signed_in:?}"
    );
    assert!(signed_in.starts_with("# written on Windows\r\n"));
    let settings = conda_connect::engine::condarc::read_settings(&signed_in).unwrap();
    assert_eq!(
        settings.channel_alias.as_deref(),
        Some(format!("{}/api/repo", emu.url).as_str())
    );
    // secrets: in Credential Manager on Windows, so no file; the private file elsewhere
    assert_eq!(paths.secrets_file().exists(), !cfg!(windows));
    let secrets = store
        .get(&emu.url)
        .unwrap()
        .expect("the sign-in's secrets are stored");
    assert!(!secrets.jwt.is_empty());

    let out = engine(&paths).logout().await.unwrap();
    assert!(out.server_token_revoked);
    assert_eq!(out.condarc, CondarcRestore::Exact);
    assert_eq!(
        std::fs::read(&paths.condarc).unwrap(),
        CRLF_CONDARC.as_bytes()
    );
    assert!(token_files(&home).is_empty());
    assert!(emu.tokens().is_empty(), "server token revoked");
    assert!(!paths.secrets_file().exists());
    assert!(!paths.session_file().exists());
    assert!(!paths.journal_file().exists());
    assert_eq!(store.get(&emu.url).unwrap(), None);
}
