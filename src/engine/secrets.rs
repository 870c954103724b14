//! Where the session secrets live (docs/design.md#8-secrets): the JWT, its refresh token and the access token go to the OS
//! keyring (Secret Service on Linux, through keyring-core's store crates). When no keyring answers — a headless
//! machine, a locked or absent service — or `CONDA_CONNECT_SECRETS=file` is set, they go to a 0600 file in the
//! app's data directory and the user is told so in one line.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::engine::error::{Error, Result};
use crate::engine::files;
use crate::engine::paths::Paths;

const SERVICE: &str = "conda-connect";

/// The secrets of one sign-in.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionSecrets {
    pub jwt: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    /// Token files that existed before sign-in (another tool's sign-in to the same server), by path: put back
    /// byte for byte, with their modes, at sign-out.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub previous_token_files: BTreeMap<String, PreviousFile>,
}

/// A file as it was before conda-connect replaced it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviousFile {
    pub content: String,
    pub mode: Option<u32>,
}

impl SessionSecrets {
    /// Scrub every value of these secrets from the log from now on.
    pub fn register_for_redaction(&self) {
        crate::engine::redact::register(&self.jwt);
        for value in self
            .refresh_token
            .iter()
            .chain(self.access_token.iter())
            .chain(self.previous_token_files.values().map(|f| &f.content))
        {
            crate::engine::redact::register(value);
        }
    }
}

impl fmt::Debug for SessionSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionSecrets { <redacted> }")
    }
}

/// Which store to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretsMode {
    /// The OS keyring when it answers, else the file.
    Auto,
    /// Always the 0600 file.
    File,
}

impl SecretsMode {
    /// From `CONDA_CONNECT_SECRETS` (`file` forces the file).
    pub fn from_env() -> Self {
        match std::env::var("CONDA_CONNECT_SECRETS").as_deref() {
            Ok("file") => SecretsMode::File,
            _ => SecretsMode::Auto,
        }
    }
}

#[derive(Clone)]
enum Backend {
    Keyring(Arc<keyring_core::CredentialStore>),
    File(PathBuf),
}

/// The secret store in use.
#[derive(Clone)]
pub struct SecretStore {
    backend: Backend,
    /// Set when the keyring was wanted but could not be used.
    pub warning: Option<String>,
}

impl fmt::Debug for SecretStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretStore({})", self.backend_name())
    }
}

/// Run keyring calls on a plain thread: the Secret Service store drives its own async runtime, which must not
/// nest inside the caller's.
fn off_runtime<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::spawn(f)
        .join()
        .expect("keyring thread panicked")
}

impl SecretStore {
    /// Open the store for `paths`, probing the OS keyring in `Auto` mode.
    pub fn open(paths: &Paths, mode: SecretsMode) -> Self {
        let file = Backend::File(paths.secrets_file());
        if mode == SecretsMode::File {
            return SecretStore {
                backend: file,
                warning: None,
            };
        }
        match off_runtime(probe_keyring) {
            Ok(store) => SecretStore {
                backend: Backend::Keyring(store),
                warning: None,
            },
            Err(reason) => {
                tracing::info!(%reason, "OS keyring unavailable; using the 0600 secrets file");
                SecretStore {
                    backend: file,
                    warning: Some(format!(
                        "No OS keyring is available, so your session secrets are kept in {} (readable only by you).",
                        paths.display(&paths.secrets_file())
                    )),
                }
            }
        }
    }

    /// A store over an injected keyring (tests use keyring-core's mock store).
    pub fn with_keyring(store: Arc<keyring_core::CredentialStore>) -> Self {
        SecretStore {
            backend: Backend::Keyring(store),
            warning: None,
        }
    }

    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Keyring(_) => "keyring",
            Backend::File(_) => "file",
        }
    }

    pub fn get(&self, account: &str) -> Result<Option<SessionSecrets>> {
        let found = self.get_unregistered(account)?;
        if let Some(secrets) = &found {
            secrets.register_for_redaction();
        }
        Ok(found)
    }

    fn get_unregistered(&self, account: &str) -> Result<Option<SessionSecrets>> {
        match &self.backend {
            Backend::File(path) => Ok(read_file(path)?.remove(account)),
            Backend::Keyring(store) => {
                let store = store.clone();
                let account = account.to_string();
                off_runtime(move || {
                    let entry = store
                        .build(SERVICE, &account, None)
                        .map_err(keyring_error)?;
                    match entry.get_password() {
                        Ok(json) => {
                            serde_json::from_str(&json)
                                .map(Some)
                                .map_err(|_| Error::Secrets {
                                    detail: "the stored entry is not readable".into(),
                                })
                        }
                        Err(keyring_core::Error::NoEntry) => Ok(None),
                        Err(e) => Err(keyring_error(e)),
                    }
                })
            }
        }
    }

    pub fn set(&self, account: &str, secrets: &SessionSecrets) -> Result<()> {
        secrets.register_for_redaction();
        let json = serde_json::to_string(secrets).expect("secrets serialise");
        match &self.backend {
            Backend::File(path) => {
                let mut all = read_file(path)?;
                all.insert(account.to_string(), secrets.clone());
                write_file(path, &all)
            }
            Backend::Keyring(store) => {
                let store = store.clone();
                let account = account.to_string();
                off_runtime(move || {
                    let entry = store
                        .build(SERVICE, &account, None)
                        .map_err(keyring_error)?;
                    entry.set_password(&json).map_err(keyring_error)
                })
            }
        }
    }

    pub fn delete(&self, account: &str) -> Result<()> {
        match &self.backend {
            Backend::File(path) => {
                let mut all = read_file(path)?;
                if all.remove(account).is_some() {
                    if all.is_empty() {
                        files::remove_if_exists(path)?;
                    } else {
                        write_file(path, &all)?;
                    }
                }
                Ok(())
            }
            Backend::Keyring(store) => {
                let store = store.clone();
                let account = account.to_string();
                off_runtime(move || {
                    let entry = store
                        .build(SERVICE, &account, None)
                        .map_err(keyring_error)?;
                    match entry.delete_credential() {
                        Ok(()) | Err(keyring_core::Error::NoEntry) => Ok(()),
                        Err(e) => Err(keyring_error(e)),
                    }
                })
            }
        }
    }
}

fn keyring_error(e: keyring_core::Error) -> Error {
    tracing::warn!(error = %e, "keyring operation failed");
    Error::Secrets {
        detail: "the OS keyring refused the operation".into(),
    }
}

fn read_file(path: &std::path::Path) -> Result<BTreeMap<String, SessionSecrets>> {
    match files::read_optional(path)? {
        None => Ok(BTreeMap::new()),
        Some(bytes) => serde_json::from_slice(&bytes).map_err(|_| Error::Secrets {
            detail: format!("{} is not readable", path.display()),
        }),
    }
}

fn write_file(path: &std::path::Path, all: &BTreeMap<String, SessionSecrets>) -> Result<()> {
    let json = serde_json::to_vec_pretty(all).expect("secrets serialise");
    files::write_atomic(path, &json, Some(0o600))
}

#[cfg(any(target_os = "linux", target_os = "freebsd"))]
fn probe_keyring() -> std::result::Result<Arc<keyring_core::CredentialStore>, String> {
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none()
        && std::env::var_os("XDG_RUNTIME_DIR").is_none()
    {
        return Err("no D-Bus session".into());
    }
    let store: Arc<keyring_core::CredentialStore> =
        zbus_secret_service_keyring_store::Store::new().map_err(|e| e.to_string())?;
    // A connected store can still be locked or broken: read a sentinel entry; NoEntry means healthy.
    let entry = store
        .build(SERVICE, "probe", None)
        .map_err(|e| e.to_string())?;
    match entry.get_password() {
        Ok(_) | Err(keyring_core::Error::NoEntry) => Ok(store),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(not(any(target_os = "linux", target_os = "freebsd")))]
fn probe_keyring() -> std::result::Result<Arc<keyring_core::CredentialStore>, String> {
    Err("no keyring store is built in for this platform".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> SessionSecrets {
        SessionSecrets {
            jwt: "j".into(),
            refresh_token: Some("r".into()),
            access_token: Some("a".into()),
            ..Default::default()
        }
    }

    #[test]
    fn file_backend_is_private_and_round_trips() {
        let home = tempfile::tempdir().unwrap();
        let paths = Paths::under_home(home.path());
        let store = SecretStore::open(&paths, SecretsMode::File);
        assert_eq!(store.backend_name(), "file");
        store.set("https://h", &sample()).unwrap();
        assert_eq!(store.get("https://h").unwrap(), Some(sample()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(paths.secrets_file())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        store.delete("https://h").unwrap();
        assert_eq!(store.get("https://h").unwrap(), None);
        assert!(!paths.secrets_file().exists());
        assert_eq!(format!("{:?}", sample()), "SessionSecrets { <redacted> }");
    }

    #[test]
    fn keyring_backend_with_mock_store() {
        let store = SecretStore::with_keyring(keyring_core::mock::Store::new().unwrap());
        store.set("https://h", &sample()).unwrap();
        assert_eq!(store.get("https://h").unwrap(), Some(sample()));
        store.delete("https://h").unwrap();
        assert_eq!(store.get("https://h").unwrap(), None);
        store.delete("https://h").unwrap();
    }
}
