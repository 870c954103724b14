//! Which form of the token the server accepts from rattler, proved at sign-in rather than assumed: on a channel the
//! new token can read and an anonymous request cannot, the documented Basic form (`<token>:x-auth-token`) is tried,
//! then rattler's `CondaToken` form (`/t/<token>` in front of the whole path). The first the server accepts is
//! written; when no channel allows the proof (every readable channel is public, or none answers), Basic is written
//! and `status` says it was not verified (docs/design.md#19-every-client-at-the-desk). Requests go to the server's
//! own host only, `HEAD` of `noarch/repodata.json`, a few seconds in all.

use std::time::Duration;

use reqwest::{Method, StatusCode};

use super::rattler::{Form, X_AUTH_TOKEN};
use crate::engine::client::{Auth, ChannelInfo, ServerClient};

/// At most this many channels are tried.
const TRIES: usize = 3;
/// The whole probe, all requests together.
const BUDGET: Duration = Duration::from_secs(10);

/// What the probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probed {
    pub form: Form,
    /// The server accepted this form on a channel an anonymous request could not read.
    pub verified: bool,
}

/// Probe with `token`, trying `preferred` channels first (the ones being selected), then the token's private and
/// authenticated channels.
pub async fn probe(client: &ServerClient, token: &str, preferred: &[String]) -> Probed {
    let unverified = Probed {
        form: Form::BasicHttp,
        verified: false,
    };
    match tokio::time::timeout(BUDGET, find(client, token, preferred)).await {
        Ok(Some(found)) => found,
        Ok(None) => {
            tracing::info!(
                "no channel proved the token form for rattler; Basic is written unverified"
            );
            unverified
        }
        Err(_) => {
            tracing::info!("the token form probe took too long; Basic is written unverified");
            unverified
        }
    }
}

async fn find(client: &ServerClient, token: &str, preferred: &[String]) -> Option<Probed> {
    let listed: Vec<ChannelInfo> = client
        .first_channels(Auth::Token(token), 100)
        .await
        .unwrap_or_default();
    let mut candidates: Vec<String> = preferred.to_vec();
    candidates.extend(
        listed
            .iter()
            .filter(|c| c.privacy != "public")
            .map(ChannelInfo::full_name),
    );
    candidates.dedup();
    let mut tried = 0;
    for channel in candidates {
        if !crate::engine::server_values::is_channel_name(&channel) || tried == TRIES {
            continue;
        }
        tried += 1;
        let path = format!("/api/repo/{channel}/noarch/repodata.json");
        // only a channel an anonymous request cannot read proves anything
        match status(client, &path, None).await {
            Some(StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) => {}
            _ => continue,
        }
        if status(client, &path, Some(Credential::Basic(token)))
            .await
            .is_some_and(|s| s.is_success())
        {
            return Some(Probed {
                form: Form::BasicHttp,
                verified: true,
            });
        }
        if status(client, &path, Some(Credential::RootToken(token)))
            .await
            .is_some_and(|s| s.is_success())
        {
            return Some(Probed {
                form: Form::CondaToken,
                verified: true,
            });
        }
    }
    None
}

enum Credential<'a> {
    Basic(&'a str),
    RootToken(&'a str),
}

/// The status of a `HEAD` of `path` under the domain, sent as rattler would send it.
async fn status(
    client: &ServerClient,
    path: &str,
    credential: Option<Credential<'_>>,
) -> Option<StatusCode> {
    let domain = url::Url::parse(client.domain()).ok()?;
    let url = match &credential {
        Some(Credential::RootToken(token)) => {
            let mut root = domain.clone();
            root.set_path(&format!(
                "/t/{token}{}{path}",
                domain.path().trim_end_matches('/')
            ));
            root
        }
        _ => {
            let mut url = domain.clone();
            url.set_path(&format!("{}{path}", domain.path().trim_end_matches('/')));
            url
        }
    };
    let mut request = client
        .http()
        .request(Method::HEAD, url)
        .timeout(Duration::from_secs(5));
    if let Some(Credential::Basic(token)) = credential {
        request = request.basic_auth(token, Some(X_AUTH_TOKEN));
    }
    match request.send().await {
        Ok(response) => Some(response.status()),
        Err(error) => {
            tracing::info!(error = %crate::engine::client::redact(&error.to_string()), "a token form probe failed");
            None
        }
    }
}
