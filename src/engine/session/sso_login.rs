//! Sign-in through the organization's identity provider (single sign-on): only the way the session JWT is obtained
//! differs from the password sign-in; everything after it is the same transaction ([`Engine::complete_login`]).
//! The configuration lock is not held while the user is in the browser (up to five minutes): the checks run before
//! the wait and again, under the lock, after it.

use crate::engine::client::LoginTokens;
use crate::engine::error::{Error, Result};
use crate::engine::sso::{self, DeviceSignIn, PendingSignIn, SsoOptions};

use super::login::domain_changed;
use super::{Engine, LoginOutcome, SignIn};

/// How the user proves who they are to the identity provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SsoMethod {
    /// The system browser on this machine (authorization code with PKCE on a loopback redirect); `open: false`
    /// only shows the address.
    Browser { open: bool },
    /// A code entered in a browser on another device (for machines without one).
    Device,
}

/// A single sign-on the identity provider has completed: the session is there, nothing local has changed, and no
/// server token exists yet. The user may see who signed in ([`SsoAuthenticated::account`]) and decide:
/// [`Engine::sso_complete`] goes on with the sign-in, [`Engine::sso_abandon`] ends the identity provider's session.
/// (A copied sign-in address completed by somebody else must not sign this user in silently.)
#[derive(Clone)]
pub struct SsoAuthenticated {
    domain: String,
    client_id: String,
    tokens: LoginTokens,
    request: SignIn,
}

impl std::fmt::Debug for SsoAuthenticated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "SsoAuthenticated {{ domain: {:?}, client_id: {:?}, account: {:?}, <tokens redacted> }}",
            self.domain,
            self.client_id,
            self.account()
        )
    }
}

impl SsoAuthenticated {
    /// The account the identity provider signed in (its ID token's `preferred_username`, else `email`, else
    /// `sub`), fit to show.
    pub fn account(&self) -> String {
        self.tokens
            .identity
            .as_deref()
            .map(|name| crate::engine::server_values::printable(name).into_owned())
            .unwrap_or_else(|| "an unnamed account".into())
    }

    pub fn domain(&self) -> &str {
        &self.domain
    }
}

impl Engine {
    /// Sign in through single sign-on and go on at once (no confirmation of the account).
    pub async fn login_sso(
        &self,
        options: &SsoOptions,
        method: SsoMethod,
        request: &SignIn,
        show: impl FnOnce(String) + Send,
    ) -> Result<LoginOutcome> {
        let authenticated = self
            .sso_authenticate(options, method, request, show)
            .await?;
        self.sso_complete(authenticated).await
    }

    /// The first half of a single sign-on: the identity provider's part. `show` receives the one sentence to
    /// show the user (the address to open, or the device code). The client id is `options.client_id`, else the
    /// ini's `sso_client_id`, else the server's. The configuration lock is not held during the wait; nothing is
    /// written.
    pub async fn sso_authenticate(
        &self,
        options: &SsoOptions,
        method: SsoMethod,
        request: &SignIn,
        show: impl FnOnce(String) + Send,
    ) -> Result<SsoAuthenticated> {
        self.authenticate(options, method, request, Prompt::Call(Box::new(show)))
            .await
    }

    /// [`Engine::sso_authenticate`] as a sipper for the window: its one progress is the sentence to show, its output
    /// the authenticated sign-in. It owns what it needs; dropping it (Cancel) ends the wait.
    pub fn sso_sign_in(
        &self,
        options: SsoOptions,
        method: SsoMethod,
        request: SignIn,
    ) -> impl sipper::Straw<SsoAuthenticated, String, crate::engine::Error> + Send + 'static {
        let engine = self.clone();
        sipper::sipper(move |prompts| async move {
            engine
                .authenticate(&options, method, &request, Prompt::Send(prompts))
                .await
        })
    }

    async fn authenticate(
        &self,
        options: &SsoOptions,
        method: SsoMethod,
        request: &SignIn,
        show: Prompt<'_>,
    ) -> Result<SsoAuthenticated> {
        request.check_selection()?;
        let domain = {
            let _lock = self.lock_async().await?;
            self.prepare_login(request).await?.0
        };
        let mut options = options.clone();
        self.policy_client_id(&mut options)?;
        if options.client_id.is_none() {
            options.client_id = self.ini()?.sso_client_id();
        }
        let config = self.sign_in_config(&domain, request.domain.as_ref())?;
        let realm = sso::discover(&domain, &config).await?;
        let client_id = realm.client_id(options.client_id.as_deref())?;
        let tokens = identity_provider_sign_in(&realm, &options, method, show).await?;
        Ok(SsoAuthenticated {
            domain,
            client_id,
            tokens,
            request: request.clone(),
        })
    }

    /// The second half: the same sign-in transaction as a password's. When it cannot go on (another process
    /// signed in meanwhile, the domain changed), the identity provider's session is ended too.
    pub async fn sso_complete(&self, authenticated: SsoAuthenticated) -> Result<LoginOutcome> {
        let SsoAuthenticated {
            domain,
            client_id,
            tokens,
            request,
        } = authenticated;
        let ready = async {
            let lock = self.lock_async().await?;
            Ok::<_, Error>((lock, self.prepare_login(&request).await?))
        }
        .await;
        let (_lock, (now, client)) = match ready {
            Ok(ready) => ready,
            Err(error) => {
                let unended = self
                    .abandon_session(&domain, &tokens, Some(&client_id))
                    .await;
                return Err(error.also(unended));
            }
        };
        if now != domain {
            let unended = self
                .abandon_session(&domain, &tokens, Some(&client_id))
                .await;
            return Err(domain_changed(&now).also(unended));
        }
        self.complete_login(&domain, &client, tokens, &request, Some(&client_id))
            .await
    }

    /// The user did not accept the account: end the identity provider's session; nothing else exists. The
    /// sentence for the user when the session could not be ended.
    pub async fn sso_abandon(&self, authenticated: SsoAuthenticated) -> Option<String> {
        self.abandon_session(
            &authenticated.domain,
            &authenticated.tokens,
            Some(&authenticated.client_id),
        )
        .await
    }

    /// The connection settings for a sign-in's domain: the certificate trusted with the command, else the stored
    /// trust.
    /// The organization's client id, when its policy names one: another one asked for is refused.
    pub(crate) fn policy_client_id(&self, options: &mut SsoOptions) -> Result<()> {
        if let Some(id) = &self.policy.sso_client_id {
            if options.client_id.as_ref().is_some_and(|asked| asked != id) {
                return Err(self.policy.managed("sso_client_id"));
            }
            options.client_id = Some(id.clone());
        }
        Ok(())
    }

    pub(crate) fn sign_in_config(
        &self,
        domain: &str,
        choice: Option<&super::DomainChoice>,
    ) -> Result<crate::engine::client::ClientConfig> {
        let mut config = self.client_config(domain)?;
        if let Some(pinned) = choice.and_then(|c| c.pinned.clone()) {
            config.pinned = Some(pinned);
        }
        Ok(config)
    }
}

/// Where the one sentence of a sign-in goes: a callback (the command line prints it), or a sipper's progress (the
/// window shows it).
pub(crate) enum Prompt<'a> {
    Call(Box<dyn FnOnce(String) + Send + 'a>),
    Send(sipper::Sender<String>),
}

impl Prompt<'_> {
    async fn show(self, line: String) {
        match self {
            Prompt::Call(show) => show(line),
            Prompt::Send(mut prompts) => prompts.send(line).await,
        }
    }
}

/// The identity provider's part of a sign-in: the browser on this machine (its address shown, and opened when
/// asked) or a code entered on another device. The redirect page of the browser is removed when this returns.
pub(crate) async fn identity_provider_sign_in(
    realm: &sso::Realm,
    options: &SsoOptions,
    method: SsoMethod,
    show: Prompt<'_>,
) -> Result<LoginTokens> {
    match method {
        SsoMethod::Browser { open } => {
            let pending = PendingSignIn::start(realm, options).await?;
            show.show(pending.prompt()).await;
            let _launched = if open {
                match sso::browser::open(pending.authorization_url()).await {
                    Ok(launched) => Some(launched),
                    Err(error) => {
                        tracing::warn!(error = %error, "the system browser could not be opened");
                        None
                    }
                }
            } else {
                None
            };
            pending.finish().await
        }
        SsoMethod::Device => {
            let device = DeviceSignIn::start(realm, options).await?;
            show.show(device.prompt()).await;
            device.finish().await
        }
    }
}
