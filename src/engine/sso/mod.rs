//! Single sign-on through the server's Keycloak realm (OpenID Connect). It changes only how the session JWT is
//! obtained: the result is the same [`LoginTokens`] as the password sign-in (the OIDC access token is the session
//! JWT, with its refresh token), for the same sign-in transaction.
//!
//! The flow: [`discover`] the realm; [`PendingSignIn::start`] binds the loopback listener
//! (`http://127.0.0.1:<port>/callback`), makes the PKCE verifier, `state` and `nonce`, builds the authorization
//! URL and checks it once against the realm (so a refused client or redirect URI is reported at once instead of
//! after the wait); the caller shows or opens [`PendingSignIn::authorization_url`]; [`PendingSignIn::finish`]
//! waits for the browser, exchanges the code and answers the browser with a small page. Dropping the future of
//! `finish` cancels and closes the listener. [`sign_in`] does all of it with a caller-supplied browser function.
//! [`DeviceSignIn`] is the flow for machines without a browser (a code entered on another device).
//! [`refresh`] and [`end_session`] serve token management and sign-out.

pub mod browser;
mod device;
mod discovery;
mod http;
pub mod id_token;
mod loopback;
pub mod messages;
mod pkce;
mod token;

use std::time::Duration;

use url::Url;

pub use device::DeviceSignIn;
pub use discovery::{Endpoints, Realm, discover};
pub use token::{end_session, refresh};

use crate::engine::client::{ClientConfig, LoginTokens};
use crate::engine::error::Result;
use http::{Origin, location, read_body};
use loopback::{Answer, Loopback};
use messages::{
    BAD_CALLBACK, NO_CLIENT_ID, NO_CODE, OTHER_ISSUER, SUCCESS_PAGE, idp_error, refused,
    request_refused,
};

/// How long to wait for the browser by default.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(300);

/// The longest client id accepted (Keycloak's own limit is 255).
pub const MAX_CLIENT_ID: usize = 255;

/// A client id conda-connect will use: 1–255 characters, no whitespace or control characters (a typed one, and one
/// read from the ini, where anything else is ignored).
pub fn is_valid_client_id(id: &str) -> bool {
    (1..=MAX_CLIENT_ID).contains(&id.len())
        && !id.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// The settings of one single sign-on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SsoOptions {
    /// `--sso-client-id`, the Preferences field or the ini key; `None`: the client id of the server's own
    /// sign-in redirect.
    pub client_id: Option<String>,
    /// How long to wait for the browser ([`DEFAULT_WAIT`] when `None`).
    pub wait: Option<Duration>,
}

impl Realm {
    /// The client id a sign-in uses: the setting when given, else the server's.
    pub fn client_id(&self, setting: Option<&str>) -> Result<String> {
        match setting.map(str::trim).filter(|s| !s.is_empty()) {
            Some(id) => Ok(id.to_string()),
            None => self
                .server_client_id
                .clone()
                .ok_or_else(|| refused(NO_CLIENT_ID)),
        }
    }
}

/// A sign-in waiting for the browser.
pub struct PendingSignIn {
    realm: Realm,
    client_id: String,
    loopback: Loopback,
    state: String,
    nonce: String,
    verifier: String,
    url: Url,
    wait: Duration,
}

impl std::fmt::Debug for PendingSignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "PendingSignIn {{ realm: {:?}, client_id: {:?}, redirect_uri: {:?}, <secrets redacted> }}",
            self.realm.name,
            self.client_id,
            self.loopback.redirect_uri()
        )
    }
}

impl PendingSignIn {
    /// Bind the listener, make the secrets and the authorization URL, and check the URL against the realm.
    pub async fn start(realm: &Realm, options: &SsoOptions) -> Result<PendingSignIn> {
        let client_id = realm.client_id(options.client_id.as_deref())?;
        let loopback = Loopback::bind().await?;
        let verifier = pkce::random_value()?;
        let state = pkce::random_value()?;
        let nonce = pkce::random_value()?;
        let mut url = realm.endpoints.authorization.clone();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &client_id)
            .append_pair("redirect_uri", loopback.redirect_uri())
            .append_pair("scope", "openid")
            .append_pair("state", &state)
            .append_pair("nonce", &nonce)
            .append_pair("code_challenge", &pkce::s256_challenge(&verifier))
            .append_pair("code_challenge_method", "S256");
        let pending = PendingSignIn {
            realm: realm.clone(),
            client_id,
            loopback,
            state,
            nonce,
            verifier,
            url,
            wait: options.wait.unwrap_or(DEFAULT_WAIT),
        };
        pending.preflight().await?;
        Ok(pending)
    }

    /// The address to open in a browser (it carries no secret: only the PKCE challenge, `state` and `nonce`).
    pub fn authorization_url(&self) -> &str {
        self.url.as_str()
    }

    /// `http://127.0.0.1:<port>/callback`.
    pub fn redirect_uri(&self) -> &str {
        self.loopback.redirect_uri()
    }

    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The one line the command line prints before waiting (the URL last, for copying).
    pub fn prompt(&self) -> String {
        format!("Open this URL to sign in: {}", self.url)
    }

    /// Wait for the browser, exchange the code, answer the browser. The listener is closed on return.
    pub async fn finish(self) -> Result<LoginTokens> {
        let redirect_uri = self.loopback.redirect_uri().to_string();
        let callback = self.loopback.wait(&self.state, self.wait).await?;
        let result = match callback.answer.clone() {
            Answer::Code { code, .. } if code.is_empty() => Err(refused(NO_CODE)),
            Answer::Code { iss: Some(iss), .. }
                if self
                    .realm
                    .endpoints
                    .issuer
                    .as_deref()
                    .is_some_and(|issuer| issuer != iss) =>
            {
                tracing::warn!("the callback's issuer is not the realm's");
                Err(refused(OTHER_ISSUER))
            }
            Answer::Code { code, .. } => {
                token::exchange(
                    &self.realm,
                    &self.client_id,
                    &code,
                    &self.verifier,
                    &redirect_uri,
                    &self.nonce,
                )
                .await
            }
            Answer::Error { error } => {
                let shown = crate::engine::server_values::printable(&error).into_owned();
                tracing::warn!(error = %shown, "the identity provider answered with an error");
                Err(idp_error(&error, &self.client_id))
            }
            Answer::Malformed => Err(refused(BAD_CALLBACK)),
        };
        match &result {
            Ok(_) => callback.reply(true, SUCCESS_PAGE).await,
            Err(error) => callback.reply(false, &error.to_string()).await,
        }
        result
    }

    /// Ask the realm for the authorization URL once, as a browser would (no credentials, redirects not
    /// followed). Keycloak shows an error page (400) for an unknown client or a redirect URI it does not allow,
    /// and sends some refusals back to the redirect URI with `error=`; both are reported now. Anything else
    /// (the login page, a redirect to a federated provider) lets the sign-in go on.
    async fn preflight(&self) -> Result<()> {
        let what = "the single sign-on request";
        let resp = self.realm.http.get(&self.url, "text/html", what).await?;
        let status = resp.status();
        if let Some(target) = location(&resp, &self.url) {
            let ours = Url::parse(self.loopback.redirect_uri()).ok();
            let back = ours.is_some_and(|o| {
                Origin::of(&o) == Origin::of(&target) && o.path() == target.path()
            });
            if back && let Some((_, error)) = target.query_pairs().find(|(k, _)| k == "error") {
                let shown = crate::engine::server_values::printable(&error).into_owned();
                tracing::warn!(error = %shown, "the identity provider refused the sign-in request");
                return Err(idp_error(&error, &self.client_id));
            }
            return Ok(());
        }
        if status.as_u16() == 400 {
            let body = read_body(resp, 256 * 1024, &self.url, what)
                .await
                .unwrap_or_default();
            let text = String::from_utf8_lossy(&body).to_lowercase();
            tracing::warn!("the identity provider refused the sign-in request (400)");
            if text.contains("redirect_uri") {
                return Err(idp_error("invalid_redirect_uri", &self.client_id));
            }
            if text.contains("client not found") || text.contains("client_id") {
                return Err(idp_error("invalid_client", &self.client_id));
            }
            return Err(request_refused(&self.client_id));
        }
        Ok(())
    }
}

/// Discover, start, hand the authorization URL to `open_browser` (which shows it, opens a browser, or both),
/// and finish. The browser function is called once, before the wait.
pub async fn sign_in(
    domain: &str,
    config: &ClientConfig,
    options: &SsoOptions,
    open_browser: impl FnOnce(&str),
) -> Result<LoginTokens> {
    let realm = discover(domain, config).await?;
    let pending = PendingSignIn::start(&realm, options).await?;
    open_browser(pending.authorization_url());
    pending.finish().await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_send<T: Send>(_: &T) {}

    #[test]
    fn the_flows_can_run_on_any_runtime_thread() {
        // the window runs them as tasks: their futures must be Send (checked when this compiles)
        let config = ClientConfig::default();
        let options = SsoOptions::default();
        is_send(&sign_in("http://127.0.0.1:1", &config, &options, |_| {}));
        is_send(&discover("http://127.0.0.1:1", &config));
        let _waits = |p: PendingSignIn, d: DeviceSignIn| {
            is_send(&p.finish());
            is_send(&d.finish());
        };
    }
}
