//! The realm's token endpoint: the authorization-code exchange (with the PKCE verifier), refresh, and the end of
//! the identity-provider session (revocation, else end-session). The OIDC access token is the session JWT.
//! Answers are read up to a cap; `error=` answers become the sentences of `messages`; a redirect is never
//! followed, so the code and the verifier reach the realm's token endpoint and nothing else.

use serde::Deserialize;

use super::discovery::Realm;
use super::http::{MAX_SSO_BODY, Origin, location, read_body};
use super::id_token;
use super::messages::{idp_error, refused};
use crate::engine::client::LoginTokens;
use crate::engine::error::{Error, Result};

const EXCHANGE: &str = "the single sign-on token request";
const REFRESH: &str = "the single sign-on refresh";
const SIGN_OUT: &str = "the single sign-on sign-out";

#[derive(Deserialize)]
pub(super) struct TokenAnswer {
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    token_type: Option<String>,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    id_token: Option<String>,
}

/// Trade the code for tokens. The answer must carry an ID token that passes every check of [`id_token`] with
/// this sign-in's nonce; otherwise the session the realm just made is ended again and the sign-in refused.
pub async fn exchange(
    realm: &Realm,
    client_id: &str,
    code: &str,
    verifier: &str,
    redirect_uri: &str,
    nonce: &str,
) -> Result<LoginTokens> {
    let fields = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
        ("client_id", client_id),
        ("code_verifier", verifier),
    ];
    let answer = post(realm, &fields, client_id, EXCHANGE, idp_error).await?;
    verified(realm, client_id, answer, Some(nonce), EXCHANGE).await
}

/// The tokens of an answer to a request for `openid`: the ID token is required and checked (with `nonce` when
/// the request sent one). When it fails, the session the answer opened is ended, or the sentence says it could
/// not be.
pub(super) async fn verified(
    realm: &Realm,
    client_id: &str,
    answer: TokenAnswer,
    nonce: Option<&str>,
    what: &str,
) -> Result<LoginTokens> {
    let checked = match &answer.id_token {
        Some(id_token) => {
            id_token::validate(realm, id_token, id_token::Expected { client_id, nonce }).await
        }
        None => {
            tracing::warn!(
                what,
                "the answer carries no ID token although openid was asked for"
            );
            Err(refused(id_token::UNVERIFIED))
        }
    };
    let identity = match checked {
        Ok(identity) => identity,
        Err(error) => {
            let refresh = answer.refresh_token.clone().filter(|r| !r.is_empty());
            let Some(refresh) = refresh else {
                return Err(error);
            };
            return Err(match end_session(realm, client_id, &refresh).await {
                Ok(_) => error,
                Err(end_error) => {
                    tracing::info!(error = %end_error, "the refused sign-in's session could not be ended");
                    refused(format!(
                        "{error} The identity provider's session it opened could not be ended; it ends by itself \
                         when it expires."
                    ))
                }
            });
        }
    };
    let mut tokens = tokens(answer, what)?;
    tokens.identity = Some(identity).filter(|i| !i.is_empty());
    Ok(tokens)
}

/// A new access token (session JWT) from the refresh token. An expired or revoked refresh token is
/// [`Error::SessionEnded`].
pub async fn refresh(realm: &Realm, client_id: &str, refresh_token: &str) -> Result<LoginTokens> {
    let fields = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
        ("client_id", client_id),
    ];
    let ended = |code: &str, client_id: &str| match code {
        "invalid_grant" => Error::SessionEnded {
            domain: realm.domain.clone(),
        },
        other => idp_error(other, client_id),
    };
    let answer = post(realm, &fields, client_id, REFRESH, ended).await?;
    // a refreshed ID token, when the realm sends one, is checked like the first (it carries no new nonce)
    if let Some(id_token) = &answer.id_token {
        id_token::validate(
            realm,
            id_token,
            id_token::Expected {
                client_id,
                nonce: None,
            },
        )
        .await?;
    }
    let mut refreshed = tokens(answer, REFRESH)?;
    // Keycloak may omit a new refresh token; the old one stays valid then
    if refreshed.refresh_token.is_none() {
        refreshed.refresh_token = Some(refresh_token.to_string());
    }
    Ok(refreshed)
}

/// End the identity-provider session of this refresh token: RFC 7009 revocation when the realm offers it, else
/// Keycloak's end-session endpoint (a POST with the client id and the refresh token). `Ok(false)` when the
/// realm offers neither.
pub async fn end_session(realm: &Realm, client_id: &str, refresh_token: &str) -> Result<bool> {
    let (url, fields) = if let Some(url) = &realm.endpoints.revocation {
        (
            url,
            vec![
                ("token", refresh_token),
                ("token_type_hint", "refresh_token"),
                ("client_id", client_id),
            ],
        )
    } else if let Some(url) = &realm.endpoints.end_session {
        (
            url,
            vec![("client_id", client_id), ("refresh_token", refresh_token)],
        )
    } else {
        return Ok(false);
    };
    let resp = realm.http.post_form(url, &fields, SIGN_OUT).await?;
    if let Some(target) = location(&resp, url) {
        return Err(Error::Redirected {
            host: Origin::netloc(&target),
        });
    }
    let status = resp.status();
    if status.is_success() {
        return Ok(true);
    }
    // an already ended session is what sign-out wants
    if status.as_u16() == 400 {
        let body = read_body(resp, MAX_SSO_BODY, url, SIGN_OUT)
            .await
            .unwrap_or_default();
        let error = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string));
        if error.as_deref() == Some("invalid_grant") {
            return Ok(true);
        }
    }
    Err(Error::Http {
        status: status.as_u16(),
        what: SIGN_OUT.into(),
    })
}

/// POST to the token endpoint; an `error=` answer becomes `refusal(error, client_id)`.
async fn post(
    realm: &Realm,
    fields: &[(&str, &str)],
    client_id: &str,
    what: &str,
    refusal: impl Fn(&str, &str) -> Error,
) -> Result<TokenAnswer> {
    match call(realm, &realm.endpoints.token, fields, what).await? {
        Reply::Answer(answer) => Ok(answer),
        Reply::Refused(error) => Err(refusal(&error, client_id)),
    }
}

/// What an OAuth endpoint answered: its JSON, or the `error` code of a 4xx.
pub(super) enum Reply<T> {
    Answer(T),
    Refused(String),
}

/// POST a form to an endpoint of the realm and read its JSON answer (redirects refused, size capped).
pub(super) async fn call<T: serde::de::DeserializeOwned>(
    realm: &Realm,
    url: &url::Url,
    fields: &[(&str, &str)],
    what: &str,
) -> Result<Reply<T>> {
    let resp = realm.http.post_form(url, fields, what).await?;
    if let Some(target) = location(&resp, url) {
        tracing::warn!(what, host = %Origin::netloc(&target), "the endpoint redirected; not followed");
        return Err(Error::Redirected {
            host: Origin::netloc(&target),
        });
    }
    let status = resp.status();
    let body = read_body(resp, MAX_SSO_BODY, url, what).await?;
    let value: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
    let error = value
        .as_ref()
        .and_then(|v| v.get("error"))
        .and_then(|e| e.as_str())
        .map(str::to_string);
    match (value, error) {
        (Some(value), None) if status.is_success() => serde_json::from_value(value)
            .map(Reply::Answer)
            .map_err(|e| {
                tracing::warn!(what, error = %e, "unexpected answer");
                Error::Malformed { what: what.into() }
            }),
        (Some(value), Some(error)) if status.is_client_error() => {
            let description = value
                .get("error_description")
                .and_then(|d| d.as_str())
                .map(|d| crate::engine::server_values::printable(d).into_owned());
            let shown = crate::engine::server_values::printable(&error).into_owned();
            tracing::info!(what, status = status.as_u16(), error = %shown, ?description, "the identity provider refused");
            Ok(Reply::Refused(error))
        }
        _ if status.is_success() => {
            tracing::warn!(what, len = body.len(), "answer is not JSON");
            Err(Error::Malformed { what: what.into() })
        }
        _ => Err(Error::Http {
            status: status.as_u16(),
            what: what.into(),
        }),
    }
}

pub(super) fn tokens(answer: TokenAnswer, what: &str) -> Result<LoginTokens> {
    let bearer = answer
        .token_type
        .as_deref()
        .is_none_or(|t| t.eq_ignore_ascii_case("bearer"));
    match answer.access_token {
        Some(token) if !token.is_empty() && bearer => Ok(LoginTokens {
            token,
            refresh_token: answer.refresh_token.filter(|r| !r.is_empty()),
            identity: None,
        }),
        _ => {
            tracing::warn!(what, token_type = ?answer.token_type, "no usable access token in the answer");
            Err(Error::Malformed { what: what.into() })
        }
    }
}
