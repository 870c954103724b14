//! Sessions lapse: the session JWT is a Keycloak access token, valid for minutes (Keycloak's default is five). A
//! server token made at sign-in lives a year, so everything that needs the session later — sign-out's revocation,
//! token management, a pending revocation's retry — first renews a lapsed session with its refresh token
//! (docs/design.md#17-the-session-lifecycle): through the realm with the sign-in's own client id for a single
//! sign-on, through the server's own client for a password sign-in on a server that signs in through a realm.
//! When no renewal is possible the caller learns [`Error::SessionEnded`]: only a new sign-in helps then, and the
//! user is told so instead of being promised a retry that cannot succeed.

use std::future::Future;

use crate::engine::client::LoginTokens;
use crate::engine::error::{Error, Result};
use crate::engine::secrets::SessionSecrets;
use crate::engine::sso;

use super::Engine;

/// A session JWT whose `exp` is this close is renewed before use (a refusal of one that lapses in flight is
/// renewed anyway).
const EXPIRY_MARGIN_SECS: i64 = 2;

/// Where a stored session lives and how it renews itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoredSession {
    pub domain: String,
    /// The secret-store account holding its [`SessionSecrets`].
    pub account: String,
    /// The single sign-on client it was issued to; `None`: the server's own client (a password sign-in).
    pub sso_client_id: Option<String>,
}

/// The `exp` claim of a JWT (its signature is not checked: this only decides whether to renew it first).
pub fn jwt_expiry(jwt: &str) -> Option<i64> {
    use base64::Engine as _;
    let payload = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()?
        .get("exp")?
        .as_i64()
}

/// True when the JWT says it has expired (or is about to); a JWT without `exp` is taken as valid.
pub fn jwt_lapsed(jwt: &str) -> bool {
    jwt_expiry(jwt).is_some_and(|exp| exp - EXPIRY_MARGIN_SECS <= chrono::Utc::now().timestamp())
}

impl Engine {
    /// New session tokens from a refresh token. [`Error::SessionEnded`] when there is none, when the server signs
    /// in without a realm, or when the realm no longer accepts it; a network failure is returned as such (the
    /// renewal may work later).
    pub(crate) async fn renew_tokens(
        &self,
        domain: &str,
        refresh_token: Option<&str>,
        sso_client_id: Option<&str>,
    ) -> Result<LoginTokens> {
        let ended = || Error::SessionEnded {
            domain: domain.to_string(),
        };
        let Some(refresh_token) = refresh_token.filter(|r| !r.is_empty()) else {
            return Err(ended());
        };
        let realm = match sso::discover(domain, &self.client_config(domain)?).await {
            Ok(realm) => realm,
            Err(Error::NoSso) => return Err(ended()),
            Err(error) => return Err(error),
        };
        let client_id = match sso_client_id {
            Some(id) => id.to_string(),
            None => realm.server_client_id.clone().ok_or_else(ended)?,
        };
        let tokens = sso::refresh(&realm, &client_id, refresh_token).await?;
        tracing::info!(%domain, "the lapsed session was renewed");
        Ok(tokens)
    }

    /// Renew the stored session and keep the new tokens in the secret store; the renewed secrets.
    async fn renew_stored(
        &self,
        session: &StoredSession,
        mut secrets: SessionSecrets,
    ) -> Result<SessionSecrets> {
        let tokens = self
            .renew_tokens(
                &session.domain,
                secrets.refresh_token.as_deref(),
                session.sso_client_id.as_deref(),
            )
            .await?;
        crate::engine::server_values::session_jwt(&tokens.token, "the session renewal")?;
        secrets.jwt = tokens.token;
        if tokens.refresh_token.is_some() {
            secrets.refresh_token = tokens.refresh_token;
        }
        self.secrets.set(&session.account, &secrets)?;
        Ok(secrets)
    }

    /// Run `call` with a session JWT the server accepts: the stored one, renewed first when it says it has
    /// lapsed, and renewed once more when the server refuses it anyway. [`Error::NotLoggedIn`] when the secret
    /// store holds no session, [`Error::SessionEnded`] when it cannot be renewed.
    pub(crate) async fn with_session<T, F, Fut>(
        &self,
        session: &StoredSession,
        call: F,
    ) -> Result<T>
    where
        F: Fn(String) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let mut secrets = self
            .secrets
            .get(&session.account)?
            .filter(|s| !s.jwt.is_empty())
            .ok_or(Error::NotLoggedIn)?;
        if jwt_lapsed(&secrets.jwt) {
            secrets = self.renew_stored(session, secrets).await?;
        }
        match call(secrets.jwt.clone()).await {
            Err(refused @ Error::Unauthorized { .. }) => {
                tracing::info!("the server refused the session; renewing it once");
                let lapsed = jwt_lapsed(&secrets.jwt);
                match self.renew_stored(session, secrets).await {
                    Ok(secrets) => call(secrets.jwt).await,
                    // a session that has not lapsed yet was refused for another reason (a proxy, a hiccup): the
                    // refusal is the answer, and a later attempt may still work
                    Err(Error::SessionEnded { .. }) if !lapsed => Err(refused),
                    Err(error) => Err(error),
                }
            }
            other => other,
        }
    }

    /// The active sign-in's session, as [`StoredSession`].
    pub(crate) fn active_session(&self) -> Result<(super::SessionRecord, StoredSession)> {
        let record = self.session()?.ok_or(Error::NotLoggedIn)?;
        let session = StoredSession {
            domain: record.domain.clone(),
            account: record.domain.clone(),
            sso_client_id: record.sso_client_id.clone(),
        };
        Ok((record, session))
    }

    /// End the identity provider's session of a refresh token (bounded), for a path that goes on either way:
    /// `None` when it ended, was over already, or never existed (a server without a realm), else the sentence that
    /// tells the user it was not (`what` names the path in the log).
    pub(crate) async fn end_idp_session_or_say(
        &self,
        domain: &str,
        sso_client_id: Option<&str>,
        refresh_token: &str,
        what: &'static str,
    ) -> Option<String> {
        let ended = async {
            let realm = match sso::discover(domain, &self.client_config(domain)?).await {
                Ok(realm) => realm,
                // no realm: the session was the server's own and ends with its lifetime
                Err(Error::NoSso) => return Ok(()),
                Err(error) => return Err(error),
            };
            let client_id = match sso_client_id {
                Some(id) => id.to_string(),
                None => realm
                    .server_client_id
                    .clone()
                    .ok_or_else(|| Error::Refused {
                        reason: "the identity provider did not name this server's client".into(),
                    })?,
            };
            match sso::end_session(&realm, &client_id, refresh_token).await? {
                true => Ok(()),
                false => Err(Error::Refused {
                    reason: "the identity provider offers no way to end it".into(),
                }),
            }
        };
        let error = match tokio::time::timeout(std::time::Duration::from_secs(5), ended).await {
            Ok(result) => result.err()?,
            Err(_) => Error::Timeout {
                host: "the identity provider".into(),
            },
        };
        tracing::info!(error = %error, what, "the identity provider's session was not ended");
        Some(format!(
            "The identity provider's session could not be ended ({}); it ends by itself when it expires.",
            why_not_ended(&error)
        ))
    }
}

/// Why a session was not ended, as a phrase (the error's own sentence can carry advice meant for another case).
fn why_not_ended(error: &Error) -> String {
    match error {
        Error::Refused { reason } => reason.clone(),
        Error::Unreachable { host } => format!("{host} cannot be reached"),
        Error::Timeout { host } => format!("{host} did not answer in time"),
        Error::Tls { host } | Error::CertificateChanged { host, .. } => {
            format!("the certificate of {host} is not trusted")
        }
        Error::Http { status, .. } => format!("the identity provider answered {status}"),
        Error::Redirected { host } => format!("the identity provider redirected to {host}"),
        _ => "see the log".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    #[test]
    fn expiry_is_read_from_the_payload() {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let jwt = |claims: &str| format!("e30.{}.sig", b64.encode(claims));
        let now = chrono::Utc::now().timestamp();
        assert!(jwt_lapsed(&jwt(&format!(r#"{{"exp":{}}}"#, now - 1))));
        assert!(jwt_lapsed(&jwt(&format!(r#"{{"exp":{}}}"#, now + 1))));
        assert!(!jwt_lapsed(&jwt(&format!(r#"{{"exp":{}}}"#, now + 600))));
        assert!(!jwt_lapsed(&jwt("{}")), "no exp: used as it is");
        assert!(!jwt_lapsed("not-a-jwt"));
        assert_eq!(jwt_expiry(&jwt(r#"{"exp":42}"#)), Some(42));
    }
}
