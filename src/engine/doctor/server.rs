//! The server's side: `/api/system` (an Anaconda Server, its version), the stored token as the server sees it
//! (`token-info`: valid, expiring within 30 days, expired, revoked), and the sign-in session apart from the token —
//! a session that merely lapsed is renewed when needed and does not stop conda.

use crate::engine::Engine;
use crate::engine::error::Error;
use crate::engine::session::jwt_expiry;

use super::credentials::Context;
use super::{Check, Deadline, Group, Status, shown_token};

/// Days before its expiry from which a token is reported.
const EXPIRY_WARNING_DAYS: i64 = 30;

pub(crate) async fn checks(
    engine: &Engine,
    domain: &str,
    context: &Context,
    deadline: Deadline,
) -> Vec<Check> {
    let mut out = Vec::new();
    let client = match engine.client(domain) {
        Ok(client) => client,
        Err(error) => {
            out.push(Check::new(
                "server",
                Group::Server,
                Status::Fail,
                error.to_string(),
            ));
            return out;
        }
    };
    // /api/system and token-info at once: a slow server costs one time limit, not two
    let limit = deadline.step();
    let token = context.token.clone();
    let (system, token_info) = tokio::join!(tokio::time::timeout(limit, client.system()), async {
        match &token {
            Some(token) => Some(tokio::time::timeout(limit, client.token_info(token)).await),
            None => None,
        }
    });
    match system {
        Ok(Ok(info)) => out.push(Check::new(
            "server",
            Group::Server,
            Status::Ok,
            format!(
                "{domain} is an Anaconda Server{} (status {}).",
                info.version
                    .as_deref()
                    .map(|v| format!(" {v}"))
                    .unwrap_or_default(),
                info.status.as_deref().unwrap_or("ok")
            ),
        )),
        Ok(Err(Error::InvalidDomain)) => out.push(
            Check::new(
                "server",
                Group::Server,
                Status::Fail,
                format!("{domain} answers, but not as an Anaconda Server (/api/system)."),
            )
            .fix("Check the domain: it is the address you open in a browser to reach the server."),
        ),
        Ok(Err(error)) => out.push(Check::new(
            "server",
            Group::Server,
            Status::Fail,
            words(&error),
        )),
        Err(_) => out.push(
            Check::new(
                "server",
                Group::Server,
                Status::Fail,
                format!(
                    "{domain} did not answer /api/system within {:.1} s.",
                    limit.as_secs_f32()
                ),
            )
            .fix("The server is overloaded or down: try again later, or tell your administrator."),
        ),
    }
    let (Some(token), Some(record)) = (&context.token, &context.record) else {
        return out;
    };
    let shown = shown_token(token);
    let expiry_from_record = record.token_expires.clone();
    match token_info.expect("asked when there is a token") {
        Ok(Ok(info)) => {
            let expires = info.expires_at.clone().or(expiry_from_record);
            out.push(valid_token(&shown, expires.as_deref(), record.given_token));
        }
        Ok(Err(Error::Unauthorized { .. })) => {
            let expired_on = expiry_from_record.filter(|date| date_passed(date));
            out.push(match (expired_on, record.given_token) {
                (Some(date), false) => Check::new(
                    "token",
                    Group::Server,
                    Status::Fail,
                    format!("The token ({shown}) expired on {date}: the server refuses it, so conda sees only public channels."),
                )
                .fix("Sign out and sign in again."),
                (Some(date), true) => Check::new(
                    "token",
                    Group::Server,
                    Status::Fail,
                    format!("The token you were given ({shown}) expired on {date}: the server refuses it."),
                )
                .fix("Ask for a new token, then sign in with it."),
                (None, false) => Check::new(
                    "token",
                    Group::Server,
                    Status::Fail,
                    format!(
                        "The server refuses the token ({shown}): it was revoked or removed on the server (it was not \
                         due to expire), so conda sees only public channels."
                    ),
                )
                .fix("Sign out and sign in again: a new token is made."),
                (None, true) => Check::new(
                    "token",
                    Group::Server,
                    Status::Fail,
                    format!("The server refuses the token you were given ({shown}): it was revoked or removed."),
                )
                .fix("Ask whoever gave it for a new one, then sign in with it."),
            });
        }
        Ok(Err(error)) => out.push(Check::new(
            "token",
            Group::Server,
            Status::Fail,
            words(&error),
        )),
        Err(_) => out.push(Check::new(
            "token",
            Group::Server,
            Status::Fail,
            format!(
                "The token check did not answer within {:.1} s.",
                limit.as_secs_f32()
            ),
        )),
    }
    if !record.given_token {
        out.push(session_check(engine, domain, record.sso_client_id.is_some(), deadline).await);
    }
    out
}

/// Whether a lapsed session of this sign-in can be renewed: a single sign-on through its realm; a password
/// sign-in only on a server that signs in through a realm with a client of its own (as the engine renews it).
/// `None`: the server could not be asked in time.
async fn realm_renews(
    engine: &Engine,
    domain: &str,
    sso: bool,
    deadline: Deadline,
) -> Option<bool> {
    if sso {
        return Some(true);
    }
    let config = engine.client_config(domain).ok()?;
    match tokio::time::timeout(
        deadline.step(),
        crate::engine::sso::discover(domain, &config),
    )
    .await
    {
        Ok(Ok(realm)) => Some(realm.server_client_id.is_some()),
        Ok(Err(Error::NoSso)) => Some(false),
        _ => None,
    }
}

fn valid_token(shown: &str, expires: Option<&str>, given: bool) -> Check {
    let whose = if given {
        "The token you were given"
    } else {
        "The token"
    };
    let days = expires.and_then(days_until);
    match (expires, days) {
        (Some(date), Some(days)) if days < EXPIRY_WARNING_DAYS => Check::new(
            "token",
            Group::Server,
            Status::Warn,
            format!("{whose} ({shown}) is valid but expires on {date}, in {days} days."),
        )
        .fix(if given {
            "Ask for a new token before then."
        } else {
            "Renew it: conda-connect tokens renew (or Renew in the window)."
        }),
        (Some(date), _) => Check::new(
            "token",
            Group::Server,
            Status::Ok,
            format!("{whose} ({shown}) is valid until {date}."),
        ),
        (None, _) => Check::new(
            "token",
            Group::Server,
            Status::Ok,
            format!("{whose} ({shown}) is valid and does not expire."),
        ),
    }
}

/// The session (used to manage tokens and to sign out) apart from the token conda uses.
async fn session_check(engine: &Engine, domain: &str, sso: bool, deadline: Deadline) -> Check {
    let secrets = match engine.secrets.get(domain) {
        Ok(Some(secrets)) => secrets,
        Ok(None) => {
            return Check::new(
                "session",
                Group::Server,
                Status::Warn,
                "The sign-in session is not in the secret store: conda works, but signing out cannot revoke the token.",
            )
            .fix("After you sign out, sign in to this server once more: that revokes the token.");
        }
        Err(error) => return Check::new("session", Group::Server, Status::Warn, error.to_string()),
    };
    let now = chrono::Utc::now().timestamp();
    match jwt_expiry(&secrets.jwt) {
        Some(exp) if exp <= now => {
            let refreshable = secrets.refresh_token.as_deref().is_some_and(|r| {
                // a refresh token that says it has lapsed cannot renew anything
                jwt_expiry(r).is_none_or(|exp| exp > now)
            });
            let renewable = match refreshable {
                true => realm_renews(engine, domain, sso, deadline).await,
                false => Some(false),
            };
            let Some(renewable) = renewable else {
                return Check::new(
                    "session",
                    Group::Server,
                    Status::Ok,
                    "The sign-in session lapsed (as sessions do after minutes); the server did not say in time whether \
                     it can be renewed. conda uses the token and is not affected.",
                );
            };
            if renewable {
                Check::new(
                    "session",
                    Group::Server,
                    Status::Ok,
                    format!(
                        "The sign-in session lapsed (as sessions do after minutes){}; it is renewed when needed. conda \
                         uses the token and is not affected.",
                        if sso { " at the identity provider" } else { "" }
                    ),
                )
            } else {
                Check::new(
                    "session",
                    Group::Server,
                    Status::Warn,
                    "The sign-in session ended and cannot be renewed: conda keeps working with the token, but signing \
                     out needs a sign-in to revoke it.",
                )
                .fix(
                    "When you sign out, run `conda-connect logout --finish`: it signs in just long enough to revoke \
                     the token.",
                )
            }
        }
        _ => Check::new(
            "session",
            Group::Server,
            Status::Ok,
            "The sign-in session is current.",
        ),
    }
}

fn days_until(date: &str) -> Option<i64> {
    let day = chrono::NaiveDate::parse_from_str(date.get(..10)?, "%Y-%m-%d").ok()?;
    Some((day - chrono::Utc::now().date_naive()).num_days())
}

fn date_passed(date: &str) -> bool {
    days_until(date).is_some_and(|days| days < 0)
}

/// An error in doctor's words: doctor writes no log, so it never points at one.
fn words(error: &Error) -> String {
    match error {
        Error::Malformed { what } => {
            format!("The server's answer to {what} is not what an Anaconda Server sends.")
        }
        other => other.to_string(),
    }
}
