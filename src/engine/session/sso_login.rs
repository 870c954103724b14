//! Sign-in through the organisation's identity provider (single sign-on): only the way the session JWT is obtained
//! differs from the password sign-in; everything after it is the same transaction ([`Engine::complete_login`]).
//! The configuration lock is not held while the user is in the browser (up to five minutes): the checks run before
//! the wait and again, under the lock, after it.

use crate::engine::error::{Error, Result};
use crate::engine::sso::{self, DeviceSignIn, PendingSignIn, SsoOptions};

use super::{Engine, LoginOutcome, Selection};

/// How the user proves who they are to the identity provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SsoMethod {
    /// The system browser on this machine (authorization code with PKCE on a loopback redirect); `open: false`
    /// only shows the address.
    Browser { open: bool },
    /// A code entered in a browser on another device (for machines without one).
    Device,
}

impl Engine {
    /// Sign in through single sign-on. `show` receives the one sentence to show the user (the address to open, or
    /// the device code). The client id is `options.client_id`, else the ini's `sso_client_id`, else the server's.
    pub async fn login_sso(
        &self,
        options: &SsoOptions,
        method: SsoMethod,
        selection: Option<&Selection>,
        show: impl FnOnce(String) + Send,
    ) -> Result<LoginOutcome> {
        if let Some(selection) = selection {
            selection.check()?;
        }
        let domain = {
            let _lock = self.lock()?;
            self.prepare_login().await?.0
        };
        let mut options = options.clone();
        if options.client_id.is_none() {
            options.client_id = self.ini()?.sso_client_id();
        }
        let config = self.client_config(&domain)?;
        let realm = sso::discover(&domain, &config).await?;
        let client_id = realm.client_id(options.client_id.as_deref())?;
        let tokens = match method {
            SsoMethod::Browser { open } => {
                let pending = PendingSignIn::start(&realm, &options).await?;
                show(pending.prompt());
                if open && let Err(error) = sso::open_system_browser(pending.authorization_url()) {
                    tracing::warn!(error = %error, "the system browser could not be opened");
                }
                pending.finish().await?
            }
            SsoMethod::Device => {
                let device = DeviceSignIn::start(&realm, &options).await?;
                show(device.prompt());
                device.finish().await?
            }
        };
        let _lock = self.lock()?;
        let (now, client) = self.prepare_login().await?;
        if now != domain {
            return Err(Error::Refused {
                reason: format!(
                    "The Anaconda Server domain changed to {now} during the single sign-on; sign in again."
                ),
            });
        }
        let refresh = tokens.refresh_token.clone();
        let result = self
            .complete_login(&domain, &client, tokens, selection, Some(&client_id))
            .await;
        if result.is_err()
            && let Some(refresh) = refresh
        {
            // nothing of the sign-in remains: neither does the identity provider's session
            self.end_sso_session(&domain, &client_id, &refresh).await;
        }
        result
    }

    /// After signing out of a single sign-on: end the identity provider's session too (best effort, a few
    /// seconds at most; the server token is what matters and it is revoked already).
    pub(crate) async fn end_sso_session(&self, domain: &str, client_id: &str, refresh_token: &str) {
        let ended = async {
            let realm = sso::discover(domain, &self.client_config(domain)?).await?;
            sso::end_session(&realm, client_id, refresh_token).await
        };
        match tokio::time::timeout(std::time::Duration::from_secs(5), ended).await {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => {
                tracing::info!(error = %error, "the single sign-on session was not ended")
            }
            Err(_) => tracing::info!("ending the single sign-on session took too long"),
        }
    }
}
