//! The clients at the desk besides conda: rattler (pixi, rattler-build, py-rattler) through its credential store,
//! pip and uv through netrc (opt in), and the snippets for the rest. One sign-in writes each client's credential
//! and one sign-out takes it back, with the guarantees of the sign-in transaction (docs/design.md#19-every-client-
//! at-the-desk): journaled, crash-safe, compare-and-swap, exact undo, nothing of the user's lost, no secret in a
//! readable file.

pub mod netrc;
pub mod probe;
pub mod rattler;
pub mod snippets;

use serde::{Deserialize, Serialize};

/// One client conda-connect signed in besides conda, as the session record keeps it (no secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientRecord {
    /// `rattler` or `netrc`.
    pub name: String,
    /// `keyring` or `file`.
    pub store: String,
    /// The file (for a file store).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<std::path::PathBuf>,
    /// The key the entry is under (the server's host).
    pub host: String,
    /// rattler's form (`BasicHTTP` or `CondaToken`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub form: Option<String>,
    /// The server was seen to accept that form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified: Option<bool>,
    /// md5 of the file as sign-in wrote it (unchanged at sign-out: put back byte for byte).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub written_md5: Option<String>,
    /// conda-connect created the file (it did not exist, or held only entries of other servers conda-connect
    /// created it for): a sign-out that leaves it empty removes it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub created_file: bool,
}

/// A client as `status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Consumer {
    pub name: String,
    pub store: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub form: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verified: Option<bool>,
}

impl Consumer {
    /// conda itself: the token files.
    pub fn conda() -> Consumer {
        Consumer {
            name: "conda".into(),
            store: "token-files".into(),
            path: None,
            form: None,
            verified: None,
        }
    }

    pub fn of(record: &ClientRecord) -> Consumer {
        Consumer {
            name: record.name.clone(),
            store: record.store.clone(),
            path: record.path.as_ref().map(|p| p.display().to_string()),
            form: record.form.clone(),
            verified: record.verified,
        }
    }
}
