//! `conda-connect doctor`: read-only checks of the whole chain from conda's configuration to a package download,
//! each with a stable id, a status, one sentence and — for a failure — what to do (docs/design.md#21-doctor).
//! Nothing is changed, no token is ever printed (at most its first four characters and `…`), and every check that
//! goes over the network has a short time limit, so doctor answers within a couple of seconds even when nothing
//! answers it.

mod channels;
mod credentials;
mod network;
mod server;
pub mod sources;

use std::time::Duration;

use serde::Serialize;

use crate::engine::Engine;

/// How long one network check may take.
pub(crate) const LIMIT: Duration = Duration::from_millis(1500);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warn,
    Fail,
    Skipped,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Group {
    Config,
    Credentials,
    Network,
    Server,
    Channels,
}

impl Group {
    pub fn title(self) -> &'static str {
        match self {
            Group::Config => "Configuration",
            Group::Credentials => "Credentials",
            Group::Network => "Network",
            Group::Server => "Server",
            Group::Channels => "Channels",
        }
    }
}

/// One check's finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub id: String,
    pub group: Group,
    pub status: Status,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    pub(crate) fn new(id: &str, group: Group, status: Status, message: impl Into<String>) -> Check {
        Check {
            id: id.into(),
            group,
            status,
            message: message.into(),
            fix: None,
        }
    }

    pub(crate) fn fix(mut self, fix: impl Into<String>) -> Check {
        self.fix = Some(fix.into());
        self
    }
}

/// Everything doctor found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub ok: bool,
    pub checks: Vec<Check>,
}

impl Report {
    fn of(checks: Vec<Check>) -> Report {
        Report {
            ok: !checks.iter().any(|c| c.status == Status::Fail),
            checks,
        }
    }

    /// The first failure (named again at the end, with its fix).
    pub fn first_failure(&self) -> Option<&Check> {
        self.checks.iter().find(|c| c.status == Status::Fail)
    }

    /// The report as text for a support ticket (no secret: the checks never hold one).
    pub fn text(&self) -> String {
        let mut out = String::new();
        let mut group = None;
        for check in &self.checks {
            if group != Some(check.group) {
                group = Some(check.group);
                out.push_str(&format!("{}\n", check.group.title()));
            }
            let mark = match check.status {
                Status::Ok => "ok  ",
                Status::Warn => "WARN",
                Status::Fail => "FAIL",
                Status::Skipped => "skip",
            };
            out.push_str(&format!("  {mark} {:<18} {}\n", check.id, check.message));
            if let Some(fix) = &check.fix {
                out.push_str(&format!("       {:<18} → {fix}\n", ""));
            }
        }
        match self.first_failure() {
            Some(first) => out.push_str(&format!(
                "\nFirst problem: {} {}{}\n",
                first.id,
                first.message,
                first
                    .fix
                    .as_ref()
                    .map(|f| format!(" Fix: {f}"))
                    .unwrap_or_default()
            )),
            None => out.push_str("\nNo problem found.\n"),
        }
        out
    }
}

/// A token as doctor shows it: its first four characters and `…`.
pub fn shown_token(token: &str) -> String {
    let head: String = token.chars().take(4).collect();
    format!("{head}…")
}

/// What to check.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Check these channels (names or URLs) instead of the configured ones.
    pub channels: Vec<String>,
}

impl Engine {
    /// Run every check (read-only).
    pub async fn doctor(&self, options: &Options) -> Report {
        let env = |name: &str| std::env::var(name).ok();
        let mut checks = Vec::new();
        let context = credentials::Context::read(self);
        checks.extend(credentials::config_checks(self, &context, &env));
        checks.extend(credentials::credential_checks(self, &context, &env));
        let reachable = match &context.domain {
            Some(domain) => {
                let (found, reachable) = network::checks(self, domain, &env).await;
                checks.extend(found);
                reachable
            }
            None => {
                checks.push(
                    Check::new(
                        "server",
                        Group::Server,
                        Status::Skipped,
                        "No Anaconda Server domain is set.",
                    )
                    .fix("Set it with `conda-connect set-domain URL` (or Connect in the window)."),
                );
                false
            }
        };
        match &context.domain {
            Some(domain) if reachable => {
                checks.extend(server::checks(self, domain, &context).await)
            }
            Some(_) => checks.push(Check::new(
                "server",
                Group::Server,
                Status::Skipped,
                "Not checked: the server cannot be reached (see Network).",
            )),
            None => {}
        }
        checks.extend(channels::checks(self, &context, options, reachable).await);
        Report::of(checks)
    }
}
