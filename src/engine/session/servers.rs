//! Several servers at once (docs/design.md, "Several servers"): one *primary* server owns what Navigator knows
//! (`channel_alias`, `default_channels`, the ini, the per-user snapshot; its record is `session.json`), and any
//! number of *secondary* ones each contribute channels as full URLs plus one `custom_channels` entry per channel,
//! so that conda puts that server's token after `/api/repo`:
//!
//! ```yaml
//! channels:
//!   - defaults
//!   - https://b.example/api/repo/ml
//! custom_channels:
//!   ml: https://b.example/api/repo
//! ```
//!
//! The secondaries' records live in `servers.json` (0600, no secret), together with `.condarc` as it was before the
//! first of the signed-in servers arrived (the *base*) and the md5 of `.condarc` as conda-connect last wrote it: the
//! sign-out that leaves no server puts the base back byte for byte when nobody else has touched the file since.
//! Otherwise each server's sign-out takes back only its own list items and entries.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::engine::condarc::{self, KeyEdit};
use crate::engine::error::{Error, Result};
use crate::engine::files;
use crate::engine::journal::FileOp;
use crate::engine::snapshots::{MAIN_KEY, SnapshotStore};

use super::{Engine, SessionRecord};

/// The secondaries and what their sign-outs need (`<data dir>/servers.json`). Exists while one is signed in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerList {
    /// `.condarc` before the first of the signed-in servers changed it (`None`: there was none).
    pub base: Option<String>,
    /// md5 of `.condarc` as conda-connect last wrote it, for any server.
    pub condarc_written_md5: String,
    pub secondaries: Vec<SecondaryRecord>,
}

/// One secondary server's sign-in: the fields of a sign-in record that apply to it (its `.condarc` and ini fields
/// are unused), and the channels it contributes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecondaryRecord {
    #[serde(flatten)]
    pub session: SessionRecord,
    /// The channel names selected on this server (written as full URLs with a `custom_channels` entry each).
    #[serde(default)]
    pub channels: Vec<String>,
}

/// A server's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Primary,
    Secondary,
}

/// One signed-in server, for `status`, the window and the command line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServerStatus {
    pub domain: String,
    pub username: String,
    /// `password`, `sso` or `token`.
    pub auth: String,
    pub role: Role,
    /// The channels this server contributes: the primary's `default_channels` and `channels` names; a
    /// secondary's names (conda reaches them as `<domain>/api/repo/<name>`).
    pub channels: Vec<String>,
    pub default_channels: Vec<String>,
    pub token_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_expires: Option<String>,
}

/// The md5 that stands for "no `.condarc`".
const ABSENT: &str = "absent";

/// The md5 of `.condarc` as conda-connect last wrote it, once it writes `new` over `current`: `new`'s when the
/// file was as conda-connect had left it (`recorded`), else empty for good. Someone else changed the file, so no
/// later sign-out may put a whole earlier copy back (that would throw their change away).
pub(crate) fn written_md5(recorded: &str, current: Option<&str>, new: Option<&str>) -> String {
    if md5_of(current) == recorded {
        md5_of(new)
    } else {
        String::new()
    }
}

/// The md5 of a `.condarc` text, or [`ABSENT`].
pub(crate) fn md5_of(text: Option<&str>) -> String {
    text.map(|t| super::md5_hex(t.as_bytes()))
        .unwrap_or_else(|| ABSENT.into())
}

/// The base URL a secondary's channels live under (`custom_channels` value).
pub fn repo_base(domain: &str) -> String {
    format!("{}/api/repo", domain.trim_end_matches('/'))
}

/// A secondary's channel as conda is given it: the full URL.
pub fn channel_url(domain: &str, name: &str) -> String {
    format!("{}/{name}", repo_base(domain))
}

/// How a sign-in record says it was made.
pub(crate) fn auth_of(record: &SessionRecord) -> &'static str {
    if record.given_token {
        "token"
    } else if record.sso_client_id.is_some() {
        "sso"
    } else {
        "password"
    }
}

impl SecondaryRecord {
    pub fn urls(&self) -> Vec<String> {
        self.channels
            .iter()
            .map(|n| channel_url(&self.session.domain, n))
            .collect()
    }

    pub fn status(&self) -> ServerStatus {
        ServerStatus {
            domain: self.session.domain.clone(),
            username: self.session.username.clone(),
            auth: auth_of(&self.session).into(),
            role: Role::Secondary,
            channels: self.channels.clone(),
            default_channels: Vec::new(),
            token_id: self.session.token_id.clone(),
            token_expires: self.session.token_expires.clone(),
        }
    }
}

impl ServerList {
    /// Every channel URL the secondaries contribute (kept by the primary's own changes of `channels`).
    pub fn urls(&self) -> Vec<String> {
        self.secondaries.iter().flat_map(|s| s.urls()).collect()
    }

    /// Every secondary's URLs except `domain`'s.
    pub fn urls_except(&self, domain: &str) -> Vec<String> {
        self.secondaries
            .iter()
            .filter(|s| s.session.domain != domain)
            .flat_map(|s| s.urls())
            .collect()
    }

    pub fn find(&self, domain: &str) -> Option<&SecondaryRecord> {
        self.secondaries.iter().find(|s| s.session.domain == domain)
    }

    fn base_map(&self) -> yaml_serde::Mapping {
        self.base
            .as_deref()
            .and_then(|t| condarc::parse_strict(t).ok())
            .unwrap_or_default()
    }

    /// Whether the base had `key` (a key conda-connect created goes again when nothing of it is left).
    pub fn base_has(&self, key: &str) -> bool {
        self.base_map()
            .contains_key(yaml_serde::Value::String(key.into()))
    }
}

/// The `.condarc` edits that add a secondary's channels (`channels` items and `custom_channels` entries).
pub(crate) fn add_channel_edits(domain: &str, names: &[String]) -> Vec<(&'static str, KeyEdit)> {
    if names.is_empty() {
        return Vec::new();
    }
    vec![
        (
            "channels",
            KeyEdit::AddItems {
                items: names.iter().map(|n| channel_url(domain, n)).collect(),
                if_absent: vec!["defaults".into()],
            },
        ),
        (
            "custom_channels",
            KeyEdit::SetEntries(
                names
                    .iter()
                    .map(|n| (n.clone(), repo_base(domain)))
                    .collect(),
            ),
        ),
    ]
}

/// The `.condarc` edits that take a secondary's channels out again. `drop_channels`: the key goes when only
/// `defaults` is left (it was created for this); `drop_custom`: `custom_channels` goes when empty.
pub(crate) fn remove_channel_edits(
    domain: &str,
    names: &[String],
    drop_channels: bool,
    drop_custom: bool,
) -> Vec<(&'static str, KeyEdit)> {
    if names.is_empty() {
        return Vec::new();
    }
    vec![
        (
            "channels",
            KeyEdit::RemoveItems {
                items: names.iter().map(|n| channel_url(domain, n)).collect(),
                drop_if_left: drop_channels.then(|| vec!["defaults".to_string()]),
            },
        ),
        (
            "custom_channels",
            KeyEdit::RemoveEntries {
                entries: names
                    .iter()
                    .map(|n| (n.clone(), repo_base(domain)))
                    .collect::<BTreeMap<_, _>>(),
                drop_if_empty: drop_custom,
            },
        ),
    ]
}

impl Engine {
    /// The secondaries' list (`None` when no secondary is signed in).
    pub fn server_list(&self) -> Result<Option<ServerList>> {
        let path = self.paths.servers_file();
        match files::read_optional(&path)? {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|_| Error::Refused {
                    // without it, the second servers' tokens cannot be revoked from here: say so before the
                    // way out
                    reason: format!(
                        "{} is unreadable, so conda-connect cannot tell which other servers you are signed in to; \
                         revoke their conda-connect tokens in each server's web interface (Tokens), then move it away \
                         to continue.",
                        path.display()
                    ),
                }),
        }
    }

    /// Every signed-in server, the primary first.
    pub fn servers(&self) -> Result<Vec<ServerStatus>> {
        let mut out = Vec::new();
        if let Some(record) = self.session()? {
            let selection = super::Selection::from_settings(self.condarc_settings());
            out.push(ServerStatus {
                domain: record.domain.clone(),
                username: record.username.clone(),
                auth: auth_of(&record).into(),
                role: Role::Primary,
                channels: selection.channels,
                default_channels: selection.default_channels,
                token_id: record.token_id.clone(),
                token_expires: record.token_expires.clone(),
            });
        }
        if let Some(list) = self.server_list()? {
            out.extend(list.secondaries.iter().map(SecondaryRecord::status));
        }
        Ok(out)
    }

    /// The journal operation that writes `list`, or removes the file when no secondary is left.
    pub(crate) fn server_list_op(&self, list: &ServerList) -> FileOp {
        let path = self.paths.servers_file();
        if list.secondaries.is_empty() {
            return FileOp::remove(&path);
        }
        let json = serde_json::to_string_pretty(list).expect("the server list serialises");
        FileOp::write(&path, &json, Some(0o600))
    }

    /// A new list for the first secondary: its base is `.condarc` before any server changed it — the primary's
    /// snapshot when one is signed in, else the file as it is now.
    pub(crate) fn start_server_list(
        &self,
        primary: Option<&SessionRecord>,
        current: Option<&str>,
    ) -> ServerList {
        let base = match primary {
            Some(record) if record.condarc_existed => {
                SnapshotStore::new(&self.paths.condarc_storage).read(MAIN_KEY)
            }
            Some(_) => None,
            None => current.map(str::to_string),
        };
        // the file as conda-connect last left it: the primary's record says; with no primary, as it is now
        let condarc_written_md5 = match primary {
            Some(record) => record.condarc_written_md5.clone(),
            None => md5_of(current),
        };
        ServerList {
            base,
            condarc_written_md5,
            secondaries: Vec::new(),
        }
    }

    /// Refuse a channel that another signed-in server already gives conda under the same name: conda resolves a
    /// name in one place only (a `custom_channels` entry wins over `channel_alias`), so one of them would be lost.
    pub(crate) fn check_channel_names(&self, domain: &str, names: &[String]) -> Result<()> {
        let mut taken: Vec<(String, String)> = Vec::new();
        if let Some(record) = self.session()?
            && record.domain != domain
        {
            let selection = super::Selection::from_settings(self.condarc_settings());
            taken.extend(
                selection
                    .names()
                    .into_iter()
                    .filter(|n| !n.contains("://"))
                    .map(|n| (n, record.domain.clone())),
            );
        }
        if let Some(list) = self.server_list()? {
            for other in list
                .secondaries
                .iter()
                .filter(|s| s.session.domain != domain)
            {
                taken.extend(
                    other
                        .channels
                        .iter()
                        .map(|n| (n.clone(), other.session.domain.clone())),
                );
            }
        }
        // a secondary's entry would replace one the user wrote: theirs is refused, never overwritten
        let primary_domain = self.session()?.map(|r| r.domain);
        if primary_domain.as_deref() != Some(domain) {
            let own = repo_base(domain);
            for (name, url) in self.condarc_settings().custom_channels {
                if names.contains(&name) && url.trim_end_matches('/') != own {
                    return Err(Error::Refused {
                        reason: format!(
                            "Your ~/.condarc already sends the channel {name} to {url} (custom_channels); remove \
                             that entry or choose another channel."
                        ),
                    });
                }
            }
        }
        for name in names {
            if let Some((_, other)) = taken.iter().find(|(n, _)| n == name) {
                return Err(Error::Refused {
                    reason: format!(
                        "The channel {name} is offered by both {domain} and {other}; conda can reach only one \
                         channel of that name, so choose it on one server."
                    ),
                });
            }
        }
        Ok(())
    }

    /// The host (no port) another signed-in server already holds rattler's and netrc's one entry for, with that
    /// server.
    pub(crate) fn host_taken_by(&self, domain: &str) -> Result<Option<String>> {
        let host = crate::engine::clients::rattler::host_of(domain);
        let mut others: Vec<String> = Vec::new();
        if let Some(record) = self.session()? {
            others.push(record.domain);
        }
        if let Some(list) = self.server_list()? {
            others.extend(list.secondaries.iter().map(|s| s.session.domain.clone()));
        }
        Ok(others
            .into_iter()
            .filter(|o| o != domain)
            .find(|o| host.is_some() && crate::engine::clients::rattler::host_of(o) == host))
    }
}
