//! The engine's error type: every variant renders as one sentence a person can act on (Navigator's wording where
//! it has one). Details for developers go to the log (`tracing`) where the error is created, never into the
//! message, and no variant carries a token or a password. `Clone` so that results can travel in GUI messages.

use std::fmt;

/// Navigator's message for a domain that is malformed or does not answer like an Anaconda Server.
pub const INVALID_API_URL: &str =
    "Invalid API url. Check the url is valid and corresponds to the api endpoint.";
/// Navigator's message for a 401 at login.
pub const INVALID_CREDENTIALS: &str = "Invalid Credentials!";
/// Navigator's message when no default channel was ticked in Add Channels.
pub const NO_DEFAULT_CHANNEL: &str =
    "At least one channel should be added to default_channels! Please add...";
/// Navigator's message for a TLS failure at login.
pub const SSL_FAILED: &str = "Your SSL certificate is self-signed or broken and cannot be validated. Please change \
the certificate or set \u{201c}ssl_verify:false\u{201d} in your .condarc configuration file.";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The domain is malformed, or the server there is not an Anaconda Server.
    InvalidDomain,
    /// The server's certificate could not be verified (the GUI offers "Trust Server and Continue").
    Tls { host: String },
    /// The server presented another certificate than the one the user trusted for it.
    CertificateChanged {
        host: String,
        trusted: String,
        presented: String,
    },
    /// The server could not be reached (refused, DNS, reset, dropped connection).
    Unreachable { host: String },
    /// The server did not answer in time.
    Timeout { host: String },
    /// 401 at login.
    InvalidCredentials,
    /// The stored session or token is no longer accepted (401/403 after login).
    Unauthorized { what: String },
    /// Any other HTTP status.
    Http { status: u16, what: String },
    /// The server answered, but not with what the API promises.
    Malformed { what: String },
    /// The server redirected to another host; credentials are never sent there.
    Redirected { host: String },
    /// No Anaconda Server domain has been set yet.
    NoDomain,
    /// The command needs a signed-in session.
    NotLoggedIn,
    /// A sign-in exists already.
    AlreadyLoggedIn { domain: String, username: String },
    /// Add Channels without any default channel.
    NoDefaultChannel,
    /// A channel name the server does not list.
    UnknownChannel { name: String },
    /// A scope the server does not offer.
    UnknownScope { name: String },
    /// An expiry date in the past or more than a year ahead, or not a date.
    InvalidExpiry { value: String },
    /// `.condarc` (or another YAML file) cannot be parsed: it is left untouched.
    InvalidCondarc { path: String, detail: String },
    /// `anaconda-navigator.ini` cannot be parsed: it is left untouched.
    InvalidIni { path: String, detail: String },
    /// A file could not be read or written.
    Io { path: String, detail: String },
    /// Another conda-connect process holds the configuration lock.
    Locked,
    /// The secret store failed.
    Secrets { detail: String },
    /// A precondition stated in words (used sparingly).
    Refused { reason: String },
    /// The server has no single sign-on realm.
    NoSso,
    /// The session (JWT) has lapsed and cannot be renewed: no refresh token, or the identity provider no longer
    /// accepts it. Only a new sign-in gives a new session.
    SessionEnded { domain: String },
    /// A change failed half-way and could not be finished or undone now; its journal stays, and the next
    /// command finishes it (the reason says which way).
    Unfinished { reason: String },
    /// The organization's policy fixes this setting.
    Managed {
        setting: String,
        support: Option<String>,
    },
    /// The organization's policy cannot be read or holds a wrong value: nothing proceeds (fail closed).
    InvalidPolicy {
        source: String,
        key: String,
        detail: String,
    },
    /// A test hook stopped the transaction here (simulated crash).
    SimulatedCrash { step: usize },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidDomain => f.write_str(INVALID_API_URL),
            Error::Tls { .. } => f.write_str(SSL_FAILED),
            Error::CertificateChanged {
                host,
                trusted,
                presented,
            } => write!(
                f,
                "The certificate of {host} is not the one you trusted (trusted SHA-256 {trusted}, now {presented}), \
                 so conda-connect refuses it. If your administrator replaced the certificate, compare the new \
                 fingerprint with theirs and trust it again."
            ),
            Error::Unreachable { host } => write!(f, "Anaconda Server at {host} cannot be reached."),
            Error::Timeout { host } => write!(f, "Anaconda Server at {host} did not answer in time."),
            Error::InvalidCredentials => f.write_str(INVALID_CREDENTIALS),
            Error::Unauthorized { what } => {
                write!(f, "The server no longer accepts this sign-in ({what}); please sign in again.")
            }
            Error::Http { status, what } => {
                let reason = reqwest::StatusCode::from_u16(*status)
                    .ok()
                    .and_then(|s| s.canonical_reason())
                    .unwrap_or("error");
                write!(f, "The server answered {status} {reason} to {what}.")
            }
            Error::Malformed { what } => write!(
                f,
                "The server sent an answer to {what} that is not what an Anaconda Server sends; see the log for details."
            ),
            Error::Redirected { host } => write!(
                f,
                "The server redirected to another host ({host}); conda-connect does not send credentials there."
            ),
            Error::NoDomain => f.write_str(
                "The Anaconda Server API domain is not specified! Please, set it first (conda-connect set-domain URL).",
            ),
            Error::NotLoggedIn => f.write_str("You are not signed in to an Anaconda Server."),
            Error::AlreadyLoggedIn { domain, username } => {
                write!(f, "Already signed in to {domain} as {username}; sign out first.")
            }
            Error::NoDefaultChannel => f.write_str(NO_DEFAULT_CHANNEL),
            Error::UnknownChannel { name } => write!(f, "The server has no channel named \"{name}\" for you."),
            Error::UnknownScope { name } => {
                write!(f, "The server does not offer the scope \"{name}\"; see `conda-connect tokens scopes`.")
            }
            Error::InvalidExpiry { value } => write!(
                f,
                "\"{value}\" is not a valid expiry: use a date (YYYY-MM-DD) after today and at most one year ahead."
            ),
            Error::InvalidCondarc { path, detail } => {
                write!(f, "{path} is not valid YAML ({detail}); it was left unchanged.")
            }
            Error::InvalidIni { path, detail } => {
                write!(f, "{path} is not a valid ini file ({detail}); it was left unchanged.")
            }
            Error::Io { path, detail } => write!(f, "Could not access {path}: {detail}."),
            Error::Locked => f.write_str(
                "Another conda-connect is changing your configuration right now; try again in a moment.",
            ),
            Error::Secrets { detail } => write!(f, "The secret store failed: {detail}."),
            Error::Refused { reason } | Error::Unfinished { reason } => f.write_str(reason),
            Error::Managed { setting, support } => {
                write!(f, "This setting is managed by your organization ({setting}).")?;
                match support {
                    Some(url) => write!(f, " Ask {url} if it needs to change."),
                    None => f.write_str(" Ask your administrator if it needs to change."),
                }
            }
            Error::InvalidPolicy { source, key, detail } if key.is_empty() => write!(
                f,
                "Your organization's policy in {source} is not usable: {detail}. Nothing was changed; tell your administrator."
            ),
            Error::InvalidPolicy { source, key, detail } => write!(
                f,
                "Your organization's policy in {source} is not usable: {key}: {detail}. Nothing was changed; tell your administrator."
            ),
            Error::NoSso => f.write_str(crate::engine::sso::messages::NO_SSO),
            Error::SessionEnded { domain } => write!(f, "Your session with {domain} has ended; sign in again."),
            Error::SimulatedCrash { step } => write!(f, "Stopped at journal step {step} (test hook)."),
        }
    }
}

impl std::error::Error for Error {}

impl Error {
    /// An I/O error on a path, with the OS reason in words.
    pub fn io(path: &std::path::Path, err: &std::io::Error) -> Self {
        tracing::warn!(path = %path.display(), error = %err, "file operation failed");
        Error::Io {
            path: path.display().to_string(),
            detail: io_reason(err),
        }
    }

    /// True for errors where the GUI should offer "Trust Server and Continue".
    pub fn is_tls(&self) -> bool {
        matches!(self, Error::Tls { .. } | Error::CertificateChanged { .. })
    }

    /// This error followed by one more sentence for the user (what the failure also left behind, such as an
    /// identity-provider session that could not be ended). A sentence-bearing error keeps its kind; any other
    /// becomes a refusal saying both (a certificate question too: the sentence matters more than the question,
    /// which the next sign-in asks again). Only the test hook's crash stays as it is, the sentence in the log.
    pub fn also(self, sentence: Option<String>) -> Error {
        let Some(sentence) = sentence else {
            return self;
        };
        match self {
            Error::Refused { reason } => Error::Refused {
                reason: format!("{reason} {sentence}"),
            },
            Error::Unfinished { reason } => Error::Unfinished {
                reason: format!("{reason} {sentence}"),
            },
            crash @ Error::SimulatedCrash { .. } => {
                tracing::warn!(sentence, "not said with a simulated crash");
                crash
            }
            other => Error::Refused {
                reason: format!("{other} {sentence}"),
            },
        }
    }
}

fn io_reason(err: &std::io::Error) -> String {
    use std::io::ErrorKind::*;
    match err.kind() {
        NotFound => "it does not exist".into(),
        PermissionDenied => "permission denied".into(),
        _ => {
            let text = err.to_string();
            // std's Display appends " (os error N)"; keep the words only.
            match text.find(" (os error") {
                Some(index) => text[..index].to_lowercase(),
                None => text.to_lowercase(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_further_sentence_follows_the_error_and_keeps_what_the_window_asks_about() {
        let more = || Some("It ends by itself.".to_string());
        let refused = Error::Refused {
            reason: "Not confirmed.".into(),
        };
        assert_eq!(refused.clone().also(None), refused);
        assert_eq!(
            refused.also(more()).to_string(),
            "Not confirmed. It ends by itself."
        );
        let already = Error::AlreadyLoggedIn {
            domain: "https://a.example".into(),
            username: "alice".into(),
        };
        assert_eq!(
            already.also(more()),
            Error::Refused {
                reason: "Already signed in to https://a.example as alice; sign out first. It ends by itself."
                    .into()
            }
        );
        let crash = Error::SimulatedCrash { step: 3 };
        assert_eq!(
            crash.clone().also(more()),
            crash,
            "the test hook's crash stays"
        );
        assert!(
            matches!(Error::Tls { host: "a.example".into() }.also(more()), Error::Refused { reason } if reason.ends_with(" It ends by itself.")),
            "a certificate question is said with it"
        );
        let unfinished = Error::Unfinished {
            reason: "Half.".into(),
        };
        assert!(
            matches!(unfinished.also(more()), Error::Unfinished { reason } if reason == "Half. It ends by itself.")
        );
    }
}
