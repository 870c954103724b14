//! The transaction journal. Before conda-connect changes any local file it writes the complete list of changes
//! (every file's new content, or its removal) to `journal.json` atomically; then applies them one by one; then
//! deletes the journal. A crash at any point leaves a journal that the next start of any command applies again
//! (every operation is idempotent), so a change is never left half-made. A sign-in whose server token exists but
//! whose local changes were not yet journaled is recorded as `ServerPending`; recovery revokes that token.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::engine::error::{Error, Result};
use crate::engine::files;

/// One local change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum FileOp {
    Write {
        path: PathBuf,
        content: String,
        mode: Option<u32>,
    },
    Remove {
        path: PathBuf,
    },
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
    pub fn path(&self) -> &Path {
        match self {
            FileOp::Write { path, .. } | FileOp::Remove { path } => path,
        }
    }
    /// Apply (idempotent).
    pub fn apply(&self) -> Result<()> {
        match self {
            FileOp::Write {
                path,
                content,
                mode,
            } => {
                if files::read_optional(path)?.as_deref() == Some(content.as_bytes()) {
                    return Ok(());
                }
                files::write_atomic(path, content.as_bytes(), *mode)
            }
            FileOp::Remove { path } => files::remove_if_exists(path).map(|_| ()),
        }
    }
}

/// What is in flight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "stage", rename_all = "snake_case")]
pub enum Stage {
    /// A sign-in is talking to the server; a token named `token_name` may exist there.
    ServerPending { domain: String, token_name: String },
    /// Local changes are being applied.
    Apply,
}

/// Work to do after the files, recorded so that recovery finishes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct After {
    /// Revoke this server token (sign-out, best effort).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoke: Option<RevokeToken>,
    /// Delete these secret-store accounts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub delete_secrets: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevokeToken {
    pub domain: String,
    pub token_id: String,
    /// Secret-store account holding the JWT to revoke with.
    pub account: String,
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
                Ok(j) => Ok(Some(j)),
                Err(e) => {
                    // An atomic write cannot leave a torn journal; an unreadable one came from elsewhere.
                    tracing::error!(error = %e, "the journal is unreadable");
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
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().and_then(|v| v.parse().ok());
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

    pub fn steps_taken(&self) -> usize {
        self.count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_round_trip_and_idempotent_ops() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal {
            operation: "login".into(),
            stage: Stage::Apply,
            ops: vec![
                FileOp::write(&dir.path().join("a"), "x", None),
                FileOp::remove(&dir.path().join("b")),
            ],
            after: After::default(),
        };
        let path = dir.path().join("journal.json");
        j.save(&path).unwrap();
        assert_eq!(Journal::load(&path).unwrap(), Some(j.clone()));
        for op in j.ops.iter().chain(j.ops.iter()) {
            op.apply().unwrap();
        }
        assert_eq!(std::fs::read_to_string(dir.path().join("a")).unwrap(), "x");
        Journal::clear(&path).unwrap();
        assert_eq!(Journal::load(&path).unwrap(), None);
        let mut c = CrashPoint::at(2);
        assert!(c.step().is_ok());
        assert_eq!(c.step(), Err(Error::SimulatedCrash { step: 2 }));
    }
}
