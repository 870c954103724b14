//! Why Update Index failed, per channel directory, in the words the window and the command line both use: offline,
//! certificate, token refused, channel gone, no access, too large. A 401, 403 or 404 says it by itself; a fetch that
//! got no answer is explained by one connection check of the server (for the server's own channels) — the same
//! check as the health banner.

use crate::engine::Engine;
use crate::engine::domain;
use crate::engine::health::Connection;
use crate::engine::index::{ChannelReport, FetchStatus};

/// The cause of one failed channel directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cause {
    /// Nothing answers at this host (offline, VPN, server down).
    Offline(String),
    /// The host's certificate cannot be verified (or changed since it was trusted).
    Certificate(String),
    /// The server no longer accepts the token.
    TokenRefused,
    /// The server refuses the token for this channel only (401), while it accepts it otherwise.
    RefusedHere,
    /// The server has no such channel (404): removed or renamed.
    ChannelGone,
    /// The account (or the token) may not read the channel (403).
    NoAccess,
    /// The repodata is larger than the limit.
    TooLarge(String),
    /// Something else, said in the fetch's own words.
    Other(String),
}

impl Cause {
    /// One sentence, for a person.
    pub fn text(&self) -> String {
        match self {
            Cause::Offline(host) => {
                format!("{host} cannot be reached — are you offline? Check your network or VPN.")
            }
            Cause::Certificate(host) => format!(
                "the certificate of {host} cannot be verified — check the SSL settings in Preferences."
            ),
            Cause::TokenRefused => {
                "the server no longer accepts your token — sign in again.".into()
            }
            Cause::RefusedHere => {
                "the server refuses your token for this channel (401) — ask its owner for access."
                    .into()
            }
            Cause::ChannelGone => {
                "the server has no such channel (removed or renamed?) — choose your channels again."
                    .into()
            }
            Cause::NoAccess => {
                "your account may not read this channel — ask its owner for access.".into()
            }
            Cause::TooLarge(status) => format!("its repodata is {status}."),
            Cause::Other(note) => format!("{note}."),
        }
    }
}

/// One failed channel directory and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub channel: String,
    pub subdir: String,
    pub cause: Cause,
}

impl Failure {
    /// `channel (subdir): cause`.
    pub fn line(&self) -> String {
        format!("{} ({}): {}", self.channel, self.subdir, self.cause.text())
    }
}

impl Engine {
    /// The failed channel directories of an Update Index (its `channels`), each with its cause. Checks the
    /// connection to the server once when one of its channels got no answer.
    pub(crate) async fn diagnose_index(&self, channels: &[ChannelReport]) -> Vec<Failure> {
        let failed: Vec<_> = channels.iter().filter(|c| c.failed()).collect();
        if failed.is_empty() {
            return Vec::new();
        }
        let server = self.status().ok().and_then(|s| s.domain);
        let on_server = |url: &str| {
            server
                .as_deref()
                .is_some_and(|d| url.starts_with(&format!("{}/", d.trim_end_matches('/'))))
        };
        let needs_check = failed.iter().any(|c| {
            matches!(c.status, FetchStatus::Failed | FetchStatus::Unauthorized) && on_server(&c.url)
        });
        let connection = if needs_check && self.access_token().ok().flatten().is_some() {
            Some(self.check_connection().await)
        } else if needs_check {
            // not signed in: the server answers or it does not
            let healthy = match &server {
                Some(domain) => self.healthy(domain).await,
                None => false,
            };
            Some(if healthy {
                Connection::Healthy
            } else {
                Connection::Unreachable
            })
        } else {
            None
        };
        failed
            .into_iter()
            .map(|c| {
                let host = domain::netloc(&c.url);
                let cause = match c.status {
                    // a dead token, or a refusal for this channel only: the token check tells
                    FetchStatus::Unauthorized if !on_server(&c.url) => Cause::Other(
                        "it asks for credentials conda-connect does not hold (401)".into(),
                    ),
                    FetchStatus::Unauthorized if connection == Some(Connection::TokenRejected) => {
                        Cause::TokenRefused
                    }
                    FetchStatus::Unauthorized => Cause::RefusedHere,
                    FetchStatus::Forbidden => Cause::NoAccess,
                    FetchStatus::NotFound => Cause::ChannelGone,
                    status @ FetchStatus::TooLarge(_) => Cause::TooLarge(status.to_string()),
                    _ if on_server(&c.url) => match connection {
                        Some(Connection::Unreachable) => Cause::Offline(host),
                        Some(Connection::Untrusted | Connection::CertificateChanged) => {
                            Cause::Certificate(host)
                        }
                        Some(Connection::TokenRejected) => Cause::TokenRefused,
                        // the server answers: this one transfer broke off (or the answer was unreadable)
                        _ => match c.note.as_deref() {
                            Some(note) if note.contains("could not be reached") || note.contains("in time") => {
                                Cause::Other(
                                    "the transfer broke off, though the server answers — try Update Index again"
                                        .into(),
                                )
                            }
                            Some(note) => Cause::Other(note.to_string()),
                            None => Cause::Other("the fetch failed".into()),
                        },
                    },
                    // another host: its own answer says it
                    _ => match c.note.as_deref() {
                        Some(note)
                            if note.contains("could not be reached")
                                || note.contains("in time") =>
                        {
                            Cause::Offline(host)
                        }
                        Some(note) if note.contains("certificate") => Cause::Certificate(host),
                        Some(note) => Cause::Other(note.to_string()),
                        None => Cause::Other("the fetch failed".into()),
                    },
                };
                Failure {
                    channel: c.name.clone(),
                    subdir: c.subdir.clone(),
                    cause,
                }
            })
            .collect()
    }
}

/// Why Update Index failed, in one banner: the cause that matters most among the failed channel directories
/// ([`Engine::diagnose_index`]); the window shows it as a banner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexProblem {
    Offline(String),
    Untrusted(String),
    TokenRejected,
    /// Channels the server does not have (404).
    Missing(Vec<String>),
    /// Channels the account may not read (403).
    NoAccess(Vec<String>),
    /// Anything else: the first failure's own words.
    Other(String),
}

impl IndexProblem {
    /// The banner for these failures: a refused token first, then the certificate, then offline, then the
    /// channels that are gone or closed, then anything else.
    pub(crate) fn from_failures(failures: &[Failure]) -> Option<IndexProblem> {
        let names = |wanted: fn(&Cause) -> bool| -> Vec<String> {
            failures
                .iter()
                .filter(|f| wanted(&f.cause))
                .map(|f| f.channel.clone())
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect()
        };
        let first =
            |wanted: fn(&Cause) -> Option<String>| failures.iter().find_map(|f| wanted(&f.cause));
        if failures.iter().any(|f| f.cause == Cause::TokenRefused) {
            return Some(IndexProblem::TokenRejected);
        }
        if let Some(host) = first(|c| match c {
            Cause::Certificate(host) => Some(host.clone()),
            _ => None,
        }) {
            return Some(IndexProblem::Untrusted(host));
        }
        if let Some(host) = first(|c| match c {
            Cause::Offline(host) => Some(host.clone()),
            _ => None,
        }) {
            return Some(IndexProblem::Offline(host));
        }
        let missing = names(|c| *c == Cause::ChannelGone);
        if !missing.is_empty() {
            return Some(IndexProblem::Missing(missing));
        }
        let closed = names(|c| *c == Cause::NoAccess);
        if !closed.is_empty() {
            return Some(IndexProblem::NoAccess(closed));
        }
        failures.first().map(|f| IndexProblem::Other(f.line()))
    }

    pub fn text(&self) -> String {
        match self {
            IndexProblem::Offline(host) => format!(
                "Update Index failed: {host} cannot be reached — are you offline? Check your network or VPN, then Update Index again."
            ),
            IndexProblem::Untrusted(host) => format!(
                "Update Index failed: the certificate of {host} cannot be verified. Check the SSL settings in Preferences."
            ),
            IndexProblem::TokenRejected => {
                "Update Index failed: the server no longer accepts your token — sign in again."
                    .into()
            }
            IndexProblem::Missing(names) => format!(
                "Update Index: the server has no channel {} (removed or renamed?). Choose your channels again.",
                names.join(", ")
            ),
            IndexProblem::NoAccess(names) => format!(
                "Update Index: your account may not read {} — ask the channel's owner for access, or choose your channels again.",
                names.join(", ")
            ),
            IndexProblem::Other(line) => format!("Update Index failed: {line}"),
        }
    }
}
