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
/// How long the whole run may take: what has not answered by then is reported as not checked.
pub(crate) const BUDGET: Duration = Duration::from_secs(5);

/// The end of the run's time budget, shared by every check.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline(std::time::Instant);

impl Deadline {
    fn start() -> Deadline {
        Deadline(std::time::Instant::now() + BUDGET)
    }

    /// The time one step may take now: [`LIMIT`], or what is left of the budget when that is less.
    pub fn step(self) -> Duration {
        self.left().min(LIMIT)
    }

    /// What is left of the budget.
    pub fn left(self) -> Duration {
        self.0.saturating_duration_since(std::time::Instant::now())
    }
}

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
    pub(crate) fn title(self) -> &'static str {
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
    /// A finding. Its words are made safe here, once, whatever they quote (a server's answer, a file's value, a
    /// channel URL): no secret ([`safe_words`]) and no control or invisible character.
    pub(crate) fn new(id: &str, group: Group, status: Status, message: impl Into<String>) -> Check {
        Check {
            id: safe_words(id),
            group,
            status,
            message: safe_words(&message.into()),
            fix: None,
        }
    }

    pub(crate) fn fix(mut self, fix: impl Into<String>) -> Check {
        self.fix = Some(safe_words(&fix.into()));
        self
    }
}

/// `text` as doctor may show it: a `/t/<token>/` URL segment shortened to the token's first four characters, a
/// password in a URL (`user:password@`) dropped, every secret this process knows masked, and control, bidirectional
/// and invisible characters escaped (a newline from a server cannot start a line of the report).
pub(crate) fn safe_words(text: &str) -> String {
    let text = shorten_url_tokens(text);
    let text = drop_url_passwords(&text);
    let text = crate::engine::redact::scrub_known(&text);
    crate::engine::server_values::printable(&text).into_owned()
}

/// `…/t/<token>/…` → `…/t/abcd…/…`.
fn shorten_url_tokens(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("/t/") {
        out.push_str(&rest[..at + 3]);
        let after = &rest[at + 3..];
        let end = after
            .find(|c: char| {
                c == '/' || c == '"' || c == '\'' || c.is_whitespace() || c == '?' || c == ')'
            })
            .unwrap_or(after.len());
        out.push_str(&shown_token(&after[..end]));
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// `scheme://user:password@host` → `scheme://user@host`.
fn drop_url_passwords(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        out.push_str(&rest[..at + 3]);
        let after = &rest[at + 3..];
        let authority_end = after
            .find(|c: char| c == '/' || c.is_whitespace() || c == '"' || c == ')')
            .unwrap_or(after.len());
        let authority = &after[..authority_end];
        match authority.rfind('@') {
            Some(at_sign) => {
                let userinfo = &authority[..at_sign];
                let user = userinfo.split(':').next().unwrap_or_default();
                out.push_str(user);
                out.push_str(&authority[at_sign..]);
            }
            None => out.push_str(authority),
        }
        rest = &after[authority_end..];
    }
    out.push_str(rest);
    out
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
    pub(crate) fn first_failure(&self) -> Option<&Check> {
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
pub(crate) fn shown_token(token: &str) -> String {
    let head: String = token.chars().take(4).collect();
    format!("{head}…")
}

/// What to check.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Check these channels (names or URLs) instead of the configured ones.
    pub channels: Vec<String>,
}

impl Options {
    /// A channel to check must be a channel name (`a`, `a/b`) or an http(s) URL: no empty name, no `.` or `..`
    /// segment (the token would be sent to another path of the server).
    pub fn check(&self) -> crate::engine::error::Result<()> {
        for channel in &self.channels {
            let url = channel.starts_with("http://") || channel.starts_with("https://");
            let path = if url {
                channel.splitn(4, '/').nth(3).unwrap_or_default()
            } else {
                channel.as_str()
            };
            let bad_segment = path.split('/').any(|s| s == "." || s == "..");
            let bad_name = !url
                && (channel.is_empty()
                    || channel.starts_with('/')
                    || channel.contains("://")
                    || channel.chars().any(|c| c.is_whitespace() || c.is_control()));
            if bad_segment || bad_name {
                return Err(crate::engine::error::Error::Refused {
                    reason: format!(
                        "\"{}\" is not a channel name or URL.",
                        crate::engine::server_values::printable(channel)
                    ),
                });
            }
        }
        Ok(())
    }
}

impl Engine {
    /// Run every check (read-only), within [`BUDGET`].
    pub async fn doctor(&self, options: &Options) -> Report {
        let env = |name: &str| std::env::var(name).ok();
        let deadline = Deadline::start();
        let mut checks = Vec::new();
        checks.extend(policy_check(self));
        let context = credentials::Context::read(self);
        checks.extend(credentials::config_checks(self, &context, &env));
        checks.extend(credentials::credential_checks(self, &context, &env));
        let reachable = match &context.domain {
            Some(domain) => {
                let (found, reachable) = network::checks(self, domain, &env, deadline).await;
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
                checks.extend(server::checks(self, domain, &context, deadline).await)
            }
            Some(_) => checks.push(Check::new(
                "server",
                Group::Server,
                Status::Skipped,
                "Not checked: the server cannot be reached (see Network).",
            )),
            None => {}
        }
        checks.extend(channels::checks(self, &context, options, reachable, deadline).await);
        Report::of(checks)
    }
}

/// The organization's policy: the one in force and where it comes from, or why it cannot be used (doctor reads it
/// itself, so that a broken policy is a finding rather than a reason to check nothing).
fn policy_check(engine: &Engine) -> Option<Check> {
    let policy = if engine.policy.is_empty() {
        match crate::engine::policy::Policy::load() {
            Ok(policy) => policy,
            Err(error) => {
                return Some(
                    Check::new("policy", Group::Config, Status::Fail, error.to_string())
                        .fix("Ask your administrator to correct the policy; until then conda-connect refuses to change anything."),
                );
            }
        }
    } else {
        (*engine.policy).clone()
    };
    if policy.is_empty() {
        return None;
    }
    let keys: Vec<&str> = policy.origin.iter().map(|(k, _)| k.as_str()).collect();
    let mut message = format!(
        "Your organization's policy is in force ({}): {}.",
        policy.sources().join(", "),
        keys.join(", ")
    );
    if let Some(url) = &policy.support_url {
        message.push_str(&format!(" Help: {url}."));
    }
    Some(Check::new("policy", Group::Config, Status::Ok, message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_hold_no_secret_and_no_line_break() {
        assert_eq!(
            safe_words("http://h/api/repo/t/abcdefghijkl/main and https://u:pw@m.example/x"),
            "http://h/api/repo/t/abcd…/main and https://u@m.example/x"
        );
        assert_eq!(
            safe_words("a\nNo problem found."),
            "a\\u{a}No problem found."
        );
        assert!(!safe_words("x \u{202e}y").contains('\u{202e}'));
    }

    #[test]
    fn channel_options_are_names_or_urls() {
        let check = |c: &str| {
            Options {
                channels: vec![c.into()],
            }
            .check()
            .is_ok()
        };
        assert!(check("main") && check("team/sub") && check("https://h/api/repo/x"));
        assert!(
            !check("")
                && !check("../x")
                && !check("main/../internal")
                && !check("https://h/a/../b")
        );
        assert!(!check("/abs") && !check("a b"));
    }
}
