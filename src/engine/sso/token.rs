//! The realm's token endpoint: the authorization-code exchange (with the PKCE verifier), refresh, and the end of
//! the identity-provider session (revocation, else end-session). The OIDC access token is the session JWT.
//! Answers are read up to a cap; `error=` answers become the sentences of `messages`; a redirect is never
//! followed, so the code and the verifier reach the realm's token endpoint and nothing else.

use base64::Engine as _;
use serde::Deserialize;

use super::discovery::Realm;
use super::http::{MAX_SSO_BODY, Origin, location, read_body};
use super::messages::{NONCE_MISMATCH, SESSION_ENDED, idp_error, refused};
use super::pkce::same_secret;
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

/// Trade the code for tokens.
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
    if let Some(id_token) = &answer.id_token
        && !nonce_matches(id_token, nonce)
    {
        tracing::warn!("the ID token's nonce does not match this sign-in");
        return Err(refused(NONCE_MISMATCH));
    }
    tokens(answer, EXCHANGE)
}

/// A new access token (session JWT) from the refresh token. An expired or revoked refresh token is
/// [`SESSION_ENDED`].
pub async fn refresh(realm: &Realm, client_id: &str, refresh_token: &str) -> Result<LoginTokens> {
    let fields = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
        ("client_id", client_id),
    ];
    let ended = |code: &str, client_id: &str| match code {
        "invalid_grant" => refused(SESSION_ENDED),
        other => idp_error(other, client_id),
    };
    let answer = post(realm, &fields, client_id, REFRESH, ended).await?;
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
            let description = value.get("error_description").and_then(|d| d.as_str());
            tracing::info!(what, status = status.as_u16(), %error, ?description, "the identity provider refused");
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
        }),
        _ => {
            tracing::warn!(what, token_type = ?answer.token_type, "no usable access token in the answer");
            Err(Error::Malformed { what: what.into() })
        }
    }
}

/// The `nonce` claim of an ID token (its signature is not checked: the token came straight from the realm's
/// token endpoint over the same TLS as the code; the claim binds it to this sign-in).
fn nonce_matches(id_token: &str, nonce: &str) -> bool {
    let payload = id_token.split('.').nth(1).unwrap_or("");
    let Ok(bytes) =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('='))
    else {
        return false;
    };
    serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|v| {
            v.get("nonce")
                .and_then(|n| n.as_str())
                .map(|n| same_secret(n, nonce))
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonce_claim() {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let token = |claims: &str| format!("e30.{}.sig", b64.encode(claims));
        assert!(nonce_matches(&token(r#"{"nonce":"abc"}"#), "abc"));
        assert!(!nonce_matches(&token(r#"{"nonce":"abd"}"#), "abc"));
        assert!(!nonce_matches(&token(r#"{}"#), "abc"));
        assert!(!nonce_matches("garbage", "abc"));
    }
}
