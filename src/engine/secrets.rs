//! Where the session secrets live (docs/design.md#8-secrets): the JWT, its refresh token and the access token go to the
//! platform's own store through the `keyring` crate — Windows Credential Manager, the macOS Keychain, Secret Service
//! on Linux. When no store answers — a headless machine, a locked or absent service — or `CONDA_CONNECT_SECRETS=file`
//! is set, they go to a private file in the app's data directory and the user is told so in one line.
//!
//! On Unix the file is 0600. On Windows it lives under `%LOCALAPPDATA%`, whose inherited ACL (from the profile
//! folder) grants full control to the user, SYSTEM and the Administrators group only, so no other standard user
//! can read it; conda-connect sets no ACL of its own.
//!
//! Windows limits a credential to 2,560 bytes (1,280 UTF-16 characters); a sign-in that also keeps another tool's
//! token files is larger, so an entry longer than [`PART_LEN`] is stored as numbered parts under one index entry.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::engine::error::{Error, Result};
use crate::engine::files;
use crate::engine::paths::Paths;

const SERVICE: &str = "conda-connect";
/// The longest value stored in one keyring entry, in UTF-8 bytes (never fewer than its UTF-16 units, so a part
/// takes at most 2,000 of the 2,560 bytes Windows allows).
const PART_LEN: usize = 1000;
/// At most this many parts: a bound on what a corrupt index entry can make us read.
const MAX_PARTS: usize = 64;

/// The index entry of a value stored in parts. Each write uses the other generation's part names, so the old
/// parts stay whole until the index switches to the new ones.
#[derive(Clone, Copy, Serialize, Deserialize)]
struct Parts {
    parts: usize,
    generation: u8,
}

fn part_account(account: &str, generation: u8, part: usize) -> String {
    format!("{account} #{generation}.{part}")
}

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
    /// Other clients' credentials as they were before sign-in (rattler's `credentials.json` or keyring entry, the
    /// netrc file), by where they are (`file:<path>`, `keyring:<service>/<account>`); `content: None` = absent.
    /// They may hold other hosts' secrets, so they are kept here, not in the session record.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub previous_clients: BTreeMap<String, PreviousEntry>,
}

/// A client's credential store as it was before sign-in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviousEntry {
    pub content: Option<String>,
    pub mode: Option<u32>,
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
            .chain(
                self.previous_clients
                    .values()
                    .filter_map(|f| f.content.as_ref()),
            )
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
fn off_runtime<T: Send + 'static>(task: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::spawn(task)
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
                tracing::info!(%reason, "OS keyring unavailable; using the private secrets file");
                SecretStore {
                    backend: file,
                    warning: Some(format!(
                        "No OS keyring is available, so your session secrets are kept in {} ({}).",
                        paths.display(&paths.secrets_file()),
                        FILE_PROTECTION
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

    /// Whether secrets go to the OS keyring (then rattler's credential goes there too).
    pub fn keyring_available(&self) -> bool {
        matches!(self.backend, Backend::Keyring(_))
    }

    /// The store's name for messages: "keyring" or "file".
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
                    let Some(json) = read_entry(&store, &account)? else {
                        return Ok(None);
                    };
                    let json = match serde_json::from_str::<Parts>(&json) {
                        Ok(Parts { parts, generation }) if (1..=MAX_PARTS).contains(&parts) => {
                            let mut joined = String::new();
                            for part in 1..=parts {
                                joined.push_str(
                                    &read_entry(&store, &part_account(&account, generation, part))?
                                        .ok_or_else(unreadable)?,
                                );
                            }
                            joined
                        }
                        Ok(_) => return Err(unreadable()),
                        Err(_) => json,
                    };
                    serde_json::from_str(&json)
                        .map(Some)
                        .map_err(|_| unreadable())
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
                    let old = stored_parts(&store, &account)?;
                    if json.len() <= PART_LEN {
                        write_entry(&store, &account, &json)?;
                    } else {
                        // The new parts under the other generation's names first, the index last: until the
                        // index is written, the old value (whole or in parts) is what a reader gets.
                        let generation = match old {
                            Some(Parts { generation: 1, .. }) => 2,
                            _ => 1,
                        };
                        let chunks = split_at_chars(&json, PART_LEN);
                        if chunks.len() > MAX_PARTS {
                            return Err(Error::Secrets {
                                detail: "the session secrets are too large for the OS keyring"
                                    .into(),
                            });
                        }
                        for (i, chunk) in chunks.iter().enumerate() {
                            write_entry(&store, &part_account(&account, generation, i + 1), chunk)?;
                        }
                        let index = serde_json::to_string(&Parts {
                            parts: chunks.len(),
                            generation,
                        })
                        .expect("index serialises");
                        write_entry(&store, &account, &index)?;
                    }
                    // the old value's parts are no longer referenced
                    if let Some(old) = old {
                        delete_parts(&store, &account, old)?;
                    }
                    Ok(())
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
                    let old = stored_parts(&store, &account)?;
                    // The index first: once it is gone, no reader sees a partial value.
                    delete_entry(&store, &account)?;
                    if let Some(old) = old {
                        delete_parts(&store, &account, old)?;
                    }
                    Ok(())
                })
            }
        }
    }
}

/// Another program's keyring entries (rattler's), raw: no parts, no JSON of conda-connect's.
impl crate::engine::journal::Keyring for SecretStore {
    fn read_entry(&self, service: &str, account: &str) -> Result<Option<String>> {
        let Backend::Keyring(store) = &self.backend else {
            return Err(Error::Secrets {
                detail: "no OS keyring is available".into(),
            });
        };
        let (store, service, account) = (store.clone(), service.to_string(), account.to_string());
        off_runtime(move || {
            let entry = store
                .build(&service, &account, None)
                .map_err(keyring_error)?;
            match entry.get_password() {
                Ok(value) => Ok(Some(value)),
                Err(keyring_core::Error::NoEntry) => Ok(None),
                Err(error) => Err(keyring_error(error)),
            }
        })
    }

    fn write_entry(&self, service: &str, account: &str, value: Option<&str>) -> Result<()> {
        let Backend::Keyring(store) = &self.backend else {
            return Err(Error::Secrets {
                detail: "no OS keyring is available".into(),
            });
        };
        if let Some(value) = value {
            crate::engine::redact::register(value);
        }
        let (store, service, account) = (store.clone(), service.to_string(), account.to_string());
        let value = value.map(str::to_string);
        off_runtime(move || {
            let entry = store
                .build(&service, &account, None)
                .map_err(keyring_error)?;
            match value {
                Some(value) => entry.set_password(&value).map_err(keyring_error),
                None => match entry.delete_credential() {
                    Ok(()) | Err(keyring_core::Error::NoEntry) => Ok(()),
                    Err(error) => Err(keyring_error(error)),
                },
            }
        })
    }
}

/// How the fallback file is protected, for the notice.
#[cfg(unix)]
const FILE_PROTECTION: &str = "readable only by you";
#[cfg(windows)]
const FILE_PROTECTION: &str =
    "in your user profile, which only you and the computer's administrators can read";
#[cfg(not(any(unix, windows)))]
const FILE_PROTECTION: &str = "in your user data folder";

fn unreadable() -> Error {
    Error::Secrets {
        detail: "the stored entry is not readable".into(),
    }
}

fn read_entry(store: &Arc<keyring_core::CredentialStore>, account: &str) -> Result<Option<String>> {
    let entry = store.build(SERVICE, account, None).map_err(keyring_error)?;
    match entry.get_password() {
        Ok(value) => Ok(Some(value)),
        Err(keyring_core::Error::NoEntry) => Ok(None),
        Err(error) => Err(keyring_error(error)),
    }
}

fn write_entry(
    store: &Arc<keyring_core::CredentialStore>,
    account: &str,
    value: &str,
) -> Result<()> {
    let entry = store.build(SERVICE, account, None).map_err(keyring_error)?;
    entry.set_password(value).map_err(keyring_error)
}

fn delete_entry(store: &Arc<keyring_core::CredentialStore>, account: &str) -> Result<()> {
    let entry = store.build(SERVICE, account, None).map_err(keyring_error)?;
    match entry.delete_credential() {
        Ok(()) | Err(keyring_core::Error::NoEntry) => Ok(()),
        Err(error) => Err(keyring_error(error)),
    }
}

/// The index of the value stored for `account`, when it is stored in parts.
fn stored_parts(
    store: &Arc<keyring_core::CredentialStore>,
    account: &str,
) -> Result<Option<Parts>> {
    Ok(read_entry(store, account)?
        .and_then(|json| serde_json::from_str::<Parts>(&json).ok())
        .map(|p| Parts {
            parts: p.parts.min(MAX_PARTS),
            ..p
        }))
}

fn delete_parts(
    store: &Arc<keyring_core::CredentialStore>,
    account: &str,
    old: Parts,
) -> Result<()> {
    for part in 1..=old.parts {
        delete_entry(store, &part_account(account, old.generation, part))?;
    }
    Ok(())
}

/// `text` in pieces of at most `len` bytes, cut only at character boundaries.
fn split_at_chars(text: &str, len: usize) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let mut cut = len.min(rest.len());
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        let (piece, tail) = rest.split_at(cut);
        pieces.push(piece);
        rest = tail;
    }
    pieces
}

fn keyring_error(error: keyring_core::Error) -> Error {
    tracing::warn!(error = %error, "keyring operation failed");
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

/// The platform's store, set up once per process by the `keyring` crate, if it answers.
fn probe_keyring() -> std::result::Result<Arc<keyring_core::CredentialStore>, String> {
    #[cfg(all(unix, not(target_os = "macos")))]
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none()
        && std::env::var_os("XDG_RUNTIME_DIR").is_none()
    {
        return Err("no D-Bus session".into());
    }
    keyring::Entry::store_status()
        .as_ref()
        .map_err(|e| e.to_string())?;
    let store = keyring_core::get_default_store().ok_or("no default keyring store")?;
    // A connected store can still be locked or broken: read a sentinel entry; NoEntry means healthy.
    let entry = store
        .build(SERVICE, "probe", None)
        .map_err(|e| e.to_string())?;
    match entry.get_password() {
        Ok(_) | Err(keyring_core::Error::NoEntry) => Ok(store),
        Err(error) => Err(error.to_string()),
    }
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

    fn entry_value(store: &Arc<keyring_core::CredentialStore>, account: &str) -> Option<String> {
        read_entry(store, account).unwrap()
    }

    fn large(tag: char) -> SessionSecrets {
        let mut large = sample();
        large.previous_token_files.insert(
            "C:\\Users\\José Núñez\\AppData\\Local\\ContinuumIO\\binstar\\x.jwt".into(),
            PreviousFile {
                content: "é".repeat(1500) + &tag.to_string().repeat(3000),
                mode: None,
            },
        );
        large
    }

    fn index_of(store: &Arc<keyring_core::CredentialStore>) -> Parts {
        serde_json::from_str::<Parts>(&entry_value(store, "https://h").unwrap()).unwrap()
    }

    fn no_parts_left(store: &Arc<keyring_core::CredentialStore>, generation: u8, parts: usize) {
        for part in 1..=parts {
            assert_eq!(
                entry_value(store, &part_account("https://h", generation, part)),
                None,
                "generation {generation} part {part}"
            );
        }
    }

    /// Windows Credential Manager refuses a value over 1,280 UTF-16 characters; a sign-in that keeps another
    /// tool's JWT file is larger. It goes in parts no longer than PART_LEN, and shrinking or deleting it leaves
    /// no part behind.
    #[test]
    fn a_large_value_is_stored_in_parts_and_cleaned_up() {
        let mock: Arc<keyring_core::CredentialStore> = keyring_core::mock::Store::new().unwrap();
        let store = SecretStore::with_keyring(mock.clone());
        store.set("https://h", &large('a')).unwrap();
        assert_eq!(store.get("https://h").unwrap(), Some(large('a')));
        let first = index_of(&mock);
        assert!(first.parts >= 5, "{} parts", first.parts);
        for part in 1..=first.parts {
            let value =
                entry_value(&mock, &part_account("https://h", first.generation, part)).unwrap();
            assert!(value.encode_utf16().count() * 2 <= 2560, "part {part}");
        }

        // a new large value goes under the other generation; the old parts are removed
        store.set("https://h", &large('b')).unwrap();
        assert_eq!(store.get("https://h").unwrap(), Some(large('b')));
        let second = index_of(&mock);
        assert_ne!(second.generation, first.generation);
        no_parts_left(&mock, first.generation, first.parts);

        // smaller again: stored whole, no part of either generation left
        store.set("https://h", &sample()).unwrap();
        assert_eq!(store.get("https://h").unwrap(), Some(sample()));
        no_parts_left(&mock, second.generation, second.parts);

        store.set("https://h", &large('c')).unwrap();
        let third = index_of(&mock);
        store.delete("https://h").unwrap();
        assert_eq!(store.get("https://h").unwrap(), None);
        no_parts_left(&mock, third.generation, third.parts);
    }

    /// A write stopped before its index entry (a crash, a keyring refusing the last call) leaves the old value
    /// whole: the new parts sit under the other generation's names, which nothing reads yet.
    #[test]
    fn a_write_stopped_before_its_index_leaves_the_old_value() {
        let mock: Arc<keyring_core::CredentialStore> = keyring_core::mock::Store::new().unwrap();
        let store = SecretStore::with_keyring(mock.clone());
        store.set("https://h", &large('a')).unwrap();
        let old = index_of(&mock);
        let other = if old.generation == 1 { 2 } else { 1 };
        let json = serde_json::to_string(&large('b')).unwrap();
        for (i, chunk) in split_at_chars(&json, PART_LEN).iter().enumerate() {
            write_entry(&mock, &part_account("https://h", other, i + 1), chunk).unwrap();
        }
        assert_eq!(store.get("https://h").unwrap(), Some(large('a')));
        // the next write completes and its parts replace the stray ones
        store.set("https://h", &large('c')).unwrap();
        assert_eq!(store.get("https://h").unwrap(), Some(large('c')));
    }

    #[test]
    fn a_broken_index_or_missing_part_is_refused_not_guessed() {
        let mock: Arc<keyring_core::CredentialStore> = keyring_core::mock::Store::new().unwrap();
        let store = SecretStore::with_keyring(mock.clone());
        write_entry(&mock, "https://h", r#"{"parts":100000,"generation":1}"#).unwrap();
        assert!(store.get("https://h").is_err());
        write_entry(&mock, "https://h", r#"{"parts":2,"generation":1}"#).unwrap();
        write_entry(&mock, &part_account("https://h", 1, 1), "{\"jwt\":").unwrap();
        assert!(store.get("https://h").is_err());
        store.delete("https://h").unwrap();
        assert_eq!(entry_value(&mock, &part_account("https://h", 1, 1)), None);
    }

    #[test]
    fn split_keeps_characters_whole() {
        let text = "aé".repeat(700);
        let pieces = split_at_chars(&text, 1000);
        assert!(pieces.iter().all(|p| p.len() <= 1000));
        assert_eq!(pieces.concat(), text);
        assert!(split_at_chars("", 1000).is_empty());
    }

    /// The real platform store: on Windows (and under Wine) the Credential Manager always answers, so `open`
    /// picks it, and a sign-in's secrets survive a new store instance (what a restart sees).
    #[cfg(windows)]
    #[test]
    fn windows_uses_the_credential_manager() {
        let home = tempfile::tempdir().unwrap();
        let paths = Paths::under_home(home.path());
        let store = SecretStore::open(&paths, SecretsMode::Auto);
        assert_eq!(store.backend_name(), "keyring", "{:?}", store.warning);
        assert_eq!(store.warning, None);
        let account = format!("https://test-{}.invalid", uuid::Uuid::new_v4());
        let mut large = sample();
        large.jwt = "j".repeat(3000);
        store.set(&account, &large).unwrap();
        let again = SecretStore::open(&paths, SecretsMode::Auto);
        assert_eq!(again.get(&account).unwrap(), Some(large));
        again.delete(&account).unwrap();
        assert_eq!(store.get(&account).unwrap(), None);
        assert!(!paths.secrets_file().exists());
    }
}
