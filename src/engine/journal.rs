//! The transaction journal. Before conda-connect changes any local file it writes the complete list of changes
//! (every file's new content, or its removal) to `journal.json` atomically; then applies them one by one; then
//! deletes the journal. A crash at any point leaves a journal that the next start of any command applies again
//! (every operation is idempotent), so a change is never left half-made. A sign-in whose server token exists but
//! whose local changes were not yet journaled is recorded as `ServerPending`; recovery revokes that token.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::engine::condarc::{self, KeyEdit};
use crate::engine::error::{Error, Result};
use crate::engine::files;
use crate::engine::ini_file::IniEdit;
use crate::engine::navigator_ini::NavigatorIni;

/// One local change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum FileOp {
    /// Replace a file conda-connect owns. `mode` sets the permission bits exactly (`None`: keep the current ones).
    Write {
        path: PathBuf,
        content: String,
        mode: Option<u32>,
    },
    Remove {
        path: PathBuf,
    },
    /// Compare-and-swap on a file someone else may change at the same moment (`.condarc`, the ini, a token file).
    /// `expect` is the md5 of the content the change was planned from (`None`: the file was absent); `content`
    /// the planned result (`None`: remove it). At apply time: the result already there → nothing to do; the
    /// planned-from content there → write the result; anything else means the file was changed meanwhile (by the
    /// user, or after a crash, before recovery): then `merge` re-applies the same key-level change to what is
    /// there now, and without a `merge` the file is left alone (it is no longer ours to change).
    Swap {
        path: PathBuf,
        expect: Option<String>,
        content: Option<String>,
        mode: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        merge: Option<Merge>,
    },
    /// Compare-and-swap on an entry of the OS keyring that another program reads (rattler's credential for a
    /// host): `expect` is the md5 of the value the change was planned from (`None`: absent), `content` the new
    /// value (`None`: delete it). A value that is neither is someone else's now and is left alone.
    Credential {
        service: String,
        account: String,
        expect: Option<String>,
        content: Option<String>,
    },
}

/// The keyring entries a journal changes, reached through the engine's secret store (the same store rattler
/// reads: the OS keyring).
pub trait Keyring {
    fn read_entry(&self, service: &str, account: &str) -> Result<Option<String>>;
    /// Set (`Some`) or delete (`None`) an entry.
    fn write_entry(&self, service: &str, account: &str, value: Option<&str>) -> Result<()>;
}

/// No keyring: a journal with keyring entries cannot be applied (said in one sentence).
pub struct NoKeyring;

impl Keyring for NoKeyring {
    fn read_entry(&self, _service: &str, _account: &str) -> Result<Option<String>> {
        Err(no_keyring())
    }
    fn write_entry(&self, _service: &str, _account: &str, _value: Option<&str>) -> Result<()> {
        Err(no_keyring())
    }
}

fn no_keyring() -> Error {
    Error::Secrets {
        detail: "the OS keyring is not available to finish a change recorded with it".into(),
    }
}

/// The key-level form of a change, re-applied to a file that changed since the change was planned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "format", content = "edits", rename_all = "snake_case")]
pub enum Merge {
    Condarc(Vec<(String, KeyEdit)>),
    Ini(Vec<IniEdit>),
    /// rattler's `credentials.json`: set `key` to `value` (or remove it) — only while the key holds `only_if`
    /// when that is given (sign-out takes back only its own entry).
    JsonEntry {
        key: String,
        value: Option<serde_json::Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        only_if: Option<serde_json::Value>,
        /// conda-connect created the file: when no entry is left, it goes.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        remove_if_empty: bool,
    },
    /// netrc: add conda-connect's block for `host` (refused when the host has an entry already).
    NetrcAdd {
        host: String,
        block: String,
    },
    /// netrc: take conda-connect's block out, if it is still there.
    NetrcRemove {
        block: String,
    },
    /// netrc: conda-connect's block with a new token, if the old block is still there.
    NetrcReplace {
        old: String,
        new: String,
    },
}

/// What applying a [`FileOp`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The planned content is in place (or was already).
    Done,
    /// The file had changed meanwhile; the change was re-applied to its current content.
    Merged,
    /// The file had changed meanwhile and is no longer conda-connect's to change: left as it is.
    LeftAlone,
}

pub fn md5_hex(bytes: &[u8]) -> String {
    format!("{:x}", md5::compute(bytes))
}

impl FileOp {
    pub fn write(path: &Path, content: &str, mode: Option<u32>) -> Self {
        FileOp::Write {
            path: path.to_path_buf(),
            content: content.to_string(),
            mode,
        }
    }
    pub fn remove(path: &Path) -> Self {
        FileOp::Remove {
            path: path.to_path_buf(),
        }
    }
    /// A compare-and-swap of `path` from `before` (its content when planned) to `after`.
    pub fn swap(
        path: &Path,
        before: Option<&[u8]>,
        after: Option<&str>,
        mode: Option<u32>,
        merge: Option<Merge>,
    ) -> Self {
        FileOp::Swap {
            path: path.to_path_buf(),
            expect: before.map(md5_hex),
            content: after.map(str::to_string),
            mode,
            merge,
        }
    }
    /// The file the operation changes (a keyring entry has none: `<keyring>`).
    pub fn path(&self) -> &Path {
        match self {
            FileOp::Write { path, .. } | FileOp::Remove { path } | FileOp::Swap { path, .. } => {
                path
            }
            FileOp::Credential { .. } => Path::new("<keyring>"),
        }
    }

    /// What is there now: the file's bytes, or the keyring entry's value.
    pub fn current(&self, keyring: &dyn Keyring) -> Result<Option<Vec<u8>>> {
        match self {
            FileOp::Credential {
                service, account, ..
            } => Ok(keyring
                .read_entry(service, account)?
                .map(String::into_bytes)),
            other => files::read_optional(other.path()),
        }
    }

    /// The operation that puts back `before` (content and mode) if what is there is still `after` — the inverse
    /// of this operation once applied.
    pub fn inverse(
        &self,
        before: Option<&[u8]>,
        after: Option<&[u8]>,
        mode: Option<u32>,
    ) -> FileOp {
        let before_text = before.map(|bytes| String::from_utf8_lossy(bytes).into_owned());
        match self {
            FileOp::Credential {
                service, account, ..
            } => FileOp::Credential {
                service: service.clone(),
                account: account.clone(),
                expect: after.map(md5_hex),
                content: before_text,
            },
            other => FileOp::swap(other.path(), after, before_text.as_deref(), mode, None),
        }
    }

    /// Apply (idempotent). A keyring entry needs the keyring: see [`FileOp::apply_with`].
    pub fn apply(&self) -> Result<Applied> {
        self.apply_with(&NoKeyring)
    }

    /// Apply (idempotent), with the keyring for keyring entries.
    pub fn apply_with(&self, keyring: &dyn Keyring) -> Result<Applied> {
        match self {
            FileOp::Credential {
                service,
                account,
                expect,
                content,
            } => {
                let current = keyring.read_entry(service, account)?;
                if current.as_deref() == content.as_deref() {
                    return Ok(Applied::Done);
                }
                if current.as_deref().map(|c| md5_hex(c.as_bytes())).as_deref() != expect.as_deref()
                {
                    tracing::warn!(%service, "a keyring entry changed by someone else meanwhile; left as it is");
                    return Ok(Applied::LeftAlone);
                }
                keyring.write_entry(service, account, content.as_deref())?;
                Ok(Applied::Done)
            }
            FileOp::Write {
                path,
                content,
                mode,
            } => {
                put(path, content.as_bytes(), *mode)?;
                Ok(Applied::Done)
            }
            FileOp::Remove { path } => files::remove_if_exists(path).map(|_| Applied::Done),
            FileOp::Swap {
                path,
                expect,
                content,
                mode,
                merge,
            } => {
                // the user may be rewriting the file right now: a few rounds of read → decide → swap
                for _ in 0..5 {
                    if let Some(outcome) = swap_once(
                        path,
                        expect.as_deref(),
                        content.as_deref(),
                        *mode,
                        merge.as_ref(),
                    )? {
                        return Ok(outcome);
                    }
                }
                Err(Error::Io {
                    path: path.display().to_string(),
                    detail: "it keeps changing while conda-connect edits it; try again in a moment"
                        .into(),
                })
            }
        }
    }
}

/// One round of a [`FileOp::Swap`]; `None` when the file changed between reading and renaming (try again).
fn swap_once(
    path: &Path,
    expect: Option<&str>,
    content: Option<&str>,
    mode: Option<u32>,
    merge: Option<&Merge>,
) -> Result<Option<Applied>> {
    // a user file may be half-written by `conda config` at this very moment; a token file is written atomically
    let current = if merge.is_some() {
        files::read_settled(path)?
    } else {
        files::read_optional(path)?
    };
    if current.as_deref() == content.map(str::as_bytes) {
        if let (Some(bits), Some(_)) = (mode, content)
            && files::mode_of(path) != Some(bits)
        {
            refuse_read_only(path)?;
            files::set_mode(path, bits)?;
        }
        return Ok(Some(Applied::Done));
    }
    // a file the user made read-only is never rewritten, whenever that happened
    refuse_read_only(path)?;
    let unchanged = |now: Option<&[u8]>| now == current.as_deref();
    let (target, outcome) = if current.as_deref().map(md5_hex).as_deref() == expect {
        (content.map(str::to_string), Applied::Done)
    } else {
        let Some(merge) = merge else {
            tracing::warn!(path = %path.display(), "changed by someone else meanwhile; left as it is");
            return Ok(Some(Applied::LeftAlone));
        };
        let text = match &current {
            Some(bytes) => std::str::from_utf8(bytes).map_err(|_| Error::Refused {
                reason: format!(
                    "{} is not UTF-8 text; it was left unchanged.",
                    path.display()
                ),
            })?,
            None => "",
        };
        let merged = merge.apply_to(path, text)?;
        tracing::info!(path = %path.display(), "changed meanwhile; the change is re-applied to its current content");
        if merged.as_bytes() == text.as_bytes() && current.is_some() {
            return Ok(Some(Applied::Merged));
        }
        if matches!(
            merge,
            Merge::JsonEntry {
                remove_if_empty: true,
                ..
            }
        ) && crate::engine::clients::rattler::is_empty(&merged)
        {
            (None, Applied::Merged)
        } else {
            (Some(merged), Applied::Merged)
        }
    };
    let swapped = match target {
        Some(text) => {
            let bits = mode.or_else(|| files::mode_of(path));
            files::write_atomic_if(path, text.as_bytes(), bits, unchanged)?
        }
        None => {
            if !unchanged(files::read_optional(path)?.as_deref()) {
                false
            } else {
                files::remove_if_exists(path)?;
                true
            }
        }
    };
    Ok(swapped.then_some(outcome))
}

fn refuse_read_only(path: &Path) -> Result<()> {
    if files::is_read_only(path) {
        return Err(Error::Refused {
            reason: format!(
                "{} is read-only, so conda-connect leaves it unchanged; make it writable (chmod u+w) and try again.",
                path.display()
            ),
        });
    }
    Ok(())
}

/// Write `content` unless it is there already (then only the mode is made exact).
fn put(path: &Path, content: &[u8], mode: Option<u32>) -> Result<()> {
    if files::read_optional(path)?.as_deref() == Some(content) {
        if let Some(bits) = mode
            && files::mode_of(path) != Some(bits)
        {
            files::set_mode(path, bits)?;
        }
        return Ok(());
    }
    files::write_atomic(path, content, mode)
}

impl Merge {
    fn apply_to(&self, path: &Path, text: &str) -> Result<String> {
        match self {
            Merge::JsonEntry {
                key,
                value,
                only_if,
                ..
            } => {
                let current = crate::engine::clients::rattler::entry_in(path, Some(text), key)?;
                if only_if.is_some() && current != *only_if {
                    // the entry is someone else's now
                    return Ok(text.to_string());
                }
                crate::engine::clients::rattler::with_entry(path, Some(text), key, value.as_ref())
            }
            Merge::NetrcAdd { host, block } => {
                crate::engine::clients::netrc::with_block(path, Some(text), host, block)
            }
            Merge::NetrcRemove { block } => {
                Ok(crate::engine::clients::netrc::without_block(text, block)
                    .unwrap_or_else(|| text.to_string()))
            }
            Merge::NetrcReplace { old, new } => Ok(text.replacen(old.as_str(), new, 1)),
            Merge::Condarc(edits) => {
                let edits: Vec<(&str, KeyEdit)> =
                    edits.iter().map(|(k, e)| (k.as_str(), e.clone())).collect();
                condarc::apply_edits(text, &edits).map_err(|detail| Error::InvalidCondarc {
                    path: path.display().to_string(),
                    detail,
                })
            }
            Merge::Ini(edits) => {
                let mut ini = NavigatorIni::from_text(path, Some(text.to_string()))?;
                ini.apply(edits);
                Ok(ini.changed_text().unwrap_or_else(|| text.to_string()))
            }
        }
    }
}

/// What is in flight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "stage", rename_all = "snake_case")]
pub enum Stage {
    /// A sign-in is talking to the server; a token named `token_name` may exist there (with id `token_id` once
    /// the server answered). Its JWT is in the secret store under `domain`.
    ServerPending {
        domain: String,
        token_name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token_id: Option<String>,
        /// The account the token belongs to.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user_id: Option<String>,
        /// A single sign-on: the client the session was issued to (it renews and ends through it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sso_client_id: Option<String>,
    },
    /// Local changes are being applied.
    Apply,
}

/// Work to do after the files, recorded so that recovery finishes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct After {
    /// Revoke this server token (sign-out, best effort).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoke: Option<RevokeToken>,
    /// The revocation above could not be done and was recorded for later (the pending revocations): a replay of
    /// this journal says what it needs, as the command it interrupted would have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deferred: Option<RevokeToken>,
    /// Delete these secret-store accounts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub delete_secrets: Vec<String>,
    /// Store this new access token in the session's secrets (a regenerated sign-in token: the server already
    /// issued it, so it must reach the secret store too, even after a crash).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_access_token: Option<StoreToken>,
    /// The journal to go back to when this one is done (the undo of a failed sign-in returns to the sign-in's
    /// `ServerPending` record, so that its server token is revoked only once every file is back).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub then: Option<Box<Journal>>,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreToken {
    /// Secret-store account of the session.
    pub account: String,
    pub token: String,
}

impl std::fmt::Debug for StoreToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "StoreToken {{ account: {:?}, token: <redacted> }}",
            self.account
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevokeToken {
    pub domain: String,
    pub token_id: String,
    /// The account the token belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// Secret-store account holding the JWT to revoke with.
    pub account: String,
    /// The single sign-on client the session was issued to (it renews through that client); `None`: the
    /// server's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sso_client_id: Option<String>,
    /// The token's expiry date, for the sentence that says how long an unrevoked token stays valid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journal {
    /// `login`, `select-channels`, `logout`, … (for the log).
    pub operation: String,
    #[serde(flatten)]
    pub stage: Stage,
    #[serde(default)]
    pub ops: Vec<FileOp>,
    #[serde(default)]
    pub after: After,
}

impl Journal {
    pub fn load(path: &Path) -> Result<Option<Journal>> {
        match files::read_optional(path)? {
            None => Ok(None),
            Some(bytes) => match serde_json::from_slice(&bytes) {
                Ok(journal) => Ok(Some(journal)),
                Err(error) => {
                    // An atomic write cannot leave a torn journal; an unreadable one came from elsewhere.
                    tracing::error!(error = %error, "the journal is unreadable");
                    Err(Error::Refused {
                        reason: format!(
                            "The conda-connect journal {} is unreadable; move it away to continue.",
                            path.display()
                        ),
                    })
                }
            },
        }
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        let json = serde_json::to_vec_pretty(self).expect("journal serialises");
        files::write_atomic(path, &json, Some(0o600))
    }

    pub fn clear(path: &Path) -> Result<()> {
        files::remove_if_exists(path).map(|_| ())
    }
}

/// Counts journal steps so that tests can stop a transaction at step N, as a crash would. In the binary,
/// `CONDA_CONNECT_CRASH_AT=N` aborts the process there, and `CONDA_CONNECT_PAUSE_AT=N` announces the step on
/// stderr and waits forever, so that a test can SIGKILL it at exactly that point.
#[derive(Debug, Clone, Default)]
pub struct CrashPoint {
    pub at: Option<usize>,
    pub abort_process: bool,
    pub pause: bool,
    count: usize,
}

/// What the binary prints before it waits at a pause point.
pub const PAUSE_MARKER: &str = "conda-connect: paused at journal step";

impl CrashPoint {
    /// The crash point the test hooks ask for (debug builds only: a release build never stops half-way).
    pub fn from_env() -> Self {
        #[cfg(debug_assertions)]
        {
            let var = |name: &str| crate::engine::hooks::var(name).and_then(|v| v.parse().ok());
            match (var("CONDA_CONNECT_PAUSE_AT"), var("CONDA_CONNECT_CRASH_AT")) {
                (Some(at), _) => CrashPoint {
                    at: Some(at),
                    abort_process: false,
                    pause: true,
                    count: 0,
                },
                (None, at) => CrashPoint {
                    at,
                    abort_process: true,
                    pause: false,
                    count: 0,
                },
            }
        }
        #[cfg(not(debug_assertions))]
        CrashPoint::default()
    }

    pub fn at(step: usize) -> Self {
        CrashPoint {
            at: Some(step),
            abort_process: false,
            pause: false,
            count: 0,
        }
    }

    /// Called after every durable step.
    pub fn step(&mut self) -> Result<()> {
        self.count += 1;
        if self.at == Some(self.count) {
            if self.pause {
                eprintln!("{PAUSE_MARKER} {}", self.count);
                loop {
                    std::thread::sleep(std::time::Duration::from_secs(3600));
                }
            }
            if self.abort_process {
                eprintln!("conda-connect: test crash at journal step {}", self.count);
                std::process::abort();
            }
            return Err(Error::SimulatedCrash { step: self.count });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_round_trip_and_idempotent_ops() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal {
            operation: "login".into(),
            stage: Stage::Apply,
            ops: vec![
                FileOp::write(&dir.path().join("a"), "x", None),
                FileOp::remove(&dir.path().join("b")),
            ],
            after: After::default(),
        };
        let path = dir.path().join("journal.json");
        journal.save(&path).unwrap();
        assert_eq!(Journal::load(&path).unwrap(), Some(journal.clone()));
        for op in journal.ops.iter().chain(journal.ops.iter()) {
            assert_eq!(op.apply().unwrap(), Applied::Done);
        }
        assert_eq!(std::fs::read_to_string(dir.path().join("a")).unwrap(), "x");
        Journal::clear(&path).unwrap();
        assert_eq!(Journal::load(&path).unwrap(), None);
        let mut crash = CrashPoint::at(2);
        assert!(crash.step().is_ok());
        assert_eq!(crash.step(), Err(Error::SimulatedCrash { step: 2 }));
    }

    #[test]
    fn swap_writes_merges_or_leaves_alone() {
        let dir = tempfile::tempdir().unwrap();
        let rc = dir.path().join(".condarc");
        let before = "a: 1\n";
        std::fs::write(&rc, before).unwrap();
        let edits = condarc::login_edits("http://h/api/repo");
        let planned = condarc::apply_edits(before, &edits).unwrap();
        let merge = Merge::Condarc(
            edits
                .iter()
                .map(|(k, e)| (k.to_string(), e.clone()))
                .collect(),
        );
        let op = FileOp::swap(
            &rc,
            Some(before.as_bytes()),
            Some(&planned),
            None,
            Some(merge),
        );
        // the user edits the file after the change was planned: the edit survives, the change is made
        std::fs::write(&rc, "a: 1\nb: 2\n").unwrap();
        assert_eq!(op.apply().unwrap(), Applied::Merged);
        let text = std::fs::read_to_string(&rc).unwrap();
        assert!(
            text.starts_with("a: 1\nb: 2\n") && text.contains("channel_alias: http://h/api/repo"),
            "{text}"
        );
        assert_eq!(
            op.apply().unwrap(),
            Applied::Merged,
            "replaying is harmless"
        );
        assert_eq!(std::fs::read_to_string(&rc).unwrap(), text);
        // without a merge a changed file is not ours any more
        let token = dir.path().join("x.token");
        std::fs::write(&token, "mine").unwrap();
        let op = FileOp::swap(&token, Some(b"mine"), None, None, None);
        std::fs::write(&token, "someone else's").unwrap();
        assert_eq!(op.apply().unwrap(), Applied::LeftAlone);
        assert_eq!(std::fs::read_to_string(&token).unwrap(), "someone else's");
        std::fs::write(&token, "mine").unwrap();
        assert_eq!(op.apply().unwrap(), Applied::Done);
        assert!(!token.exists());
        assert_eq!(op.apply().unwrap(), Applied::Done);
    }

    #[cfg(unix)]
    #[test]
    fn modes_are_exact() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, "x").unwrap();
        files::set_mode(&path, 0o644).unwrap();
        FileOp::write(&path, "x", Some(0o600)).apply().unwrap();
        assert_eq!(
            files::mode_of(&path),
            Some(0o600),
            "same content, mode still made exact"
        );
        FileOp::write(&path, "y", Some(0o640)).apply().unwrap();
        assert_eq!(files::mode_of(&path), Some(0o640));
    }
}
