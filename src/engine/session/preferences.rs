//! Set Domain and Preferences: the Anaconda Server domain and the connection settings, in Navigator's ini keys.
//! The domain cannot change while signed in (the token belongs to the server it was made on).

use crate::engine::client::ServerClient;
use crate::engine::domain::{self, normalize_domain};
use crate::engine::error::{Error, Result};
use crate::engine::files;
use crate::engine::sso;

use super::Engine;

/// The preferences the app shows (Navigator's names in the ini).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preferences {
    pub domain: Option<String>,
    pub ssl_verification: bool,
    pub ssl_certificate: Option<String>,
    pub show_hidden_channels: bool,
    /// The single sign-on client id for this machine (conda-connect's own ini section); `None`: the server's.
    pub sso_client_id: Option<String>,
    /// Sign-ins also sign in pip and uv, through `~/.netrc` (conda-connect's own ini section).
    pub netrc: bool,
}

/// A client id as typed: trimmed, empty = none; refused unless [`sso::is_valid_client_id`].
pub fn checked_client_id(typed: Option<&str>) -> Result<Option<String>> {
    let Some(id) = typed.map(str::trim).filter(|i| !i.is_empty()) else {
        return Ok(None);
    };
    if !sso::is_valid_client_id(id) {
        return Err(Error::Refused {
            reason: format!(
                "SSO client id: use at most {} characters, without spaces or control characters.",
                sso::MAX_CLIENT_ID
            ),
        });
    }
    Ok(Some(id.to_string()))
}

/// Whether a certificate that cannot be verified may be trusted (docs/design.md#9-tls-trust-per-host).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Trust {
    /// Verify as usual.
    #[default]
    No,
    /// The user looked at this certificate (its SHA-256 fingerprint) and trusts it: it is pinned, and a different
    /// one presented meanwhile is refused.
    Certificate(String),
    /// `--trust-server`: trust the certificate the server presents now (its fingerprint is told to the user).
    Presented,
}

impl From<bool> for Trust {
    fn from(trust: bool) -> Trust {
        if trust { Trust::Presented } else { Trust::No }
    }
}

/// A domain to sign in to, validated, with the certificate pinned for it when the user trusted one. Set Domain
/// writes it at once; `login --domain` writes it with the sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainChoice {
    pub domain: String,
    /// The SHA-256 fingerprint of a trusted certificate.
    pub pinned: Option<String>,
}

impl Engine {
    /// Validate a typed domain (`/api/system`) and store it as `anaconda_server_api_url`. A certificate failure
    /// is returned as [`Error::Tls`] (or [`Error::CertificateChanged`]) unless the user trusts it: then the
    /// certificate is pinned for that host (`[ssl] trusted_servers` and conda-connect's `pinned_certificates`).
    pub async fn set_domain(&self, input: &str, trust: impl Into<Trust>) -> Result<String> {
        let choice = self.choose_domain(input, trust.into()).await?;
        self.store_domain(&choice).await
    }

    /// Write a validated domain (and its pinned certificate) into the ini.
    pub async fn store_domain(&self, choice: &DomainChoice) -> Result<String> {
        self.policy.check_domain(&choice.domain)?;
        let _lock = self.lock_async().await?;
        self.refuse_domain_change_while_signed_in(&choice.domain)?;
        self.check_writable(&[self.paths.navigator_ini.as_path()])?;
        let mut ini = self.ini()?;
        ini.migrate_old_names();
        choice.write_to(&mut ini);
        if let Some(text) = ini.changed_text() {
            files::write_atomic(&self.paths.navigator_ini, text.as_bytes(), None)?;
        }
        Ok(choice.domain.clone())
    }

    /// Normalise and validate a typed domain, pinning a trusted certificate, without writing anything.
    pub async fn choose_domain(&self, input: &str, trust: Trust) -> Result<DomainChoice> {
        let domain = normalize_domain(input)?;
        self.policy.check_domain(&domain)?;
        self.refuse_domain_change_while_signed_in(&domain)?;
        let pinned = self.validate_domain(&domain, trust).await?;
        Ok(DomainChoice { domain, pinned })
    }

    /// [`Engine::choose_domain`] for another server beside the signed-in one (`login --add-server`): the
    /// configured domain stays, so signing in does not change it.
    pub async fn choose_other_domain(&self, input: &str, trust: Trust) -> Result<DomainChoice> {
        let domain = normalize_domain(input)?;
        if self.policy.domain.is_some() {
            self.policy.check_domain(&domain)?;
        }
        let pinned = self.validate_domain(&domain, trust).await?;
        Ok(DomainChoice { domain, pinned })
    }

    /// The policy forbids trusting a certificate that cannot be verified: one sentence naming its issuer.
    pub async fn untrusted_refusal(&self, domain: &str) -> Error {
        let issuer = self.server_certificate(domain).await.ok().map(|c| c.issuer);
        Error::Refused {
            reason: self
                .policy
                .untrusted_refusal(&domain::netloc(domain), issuer.as_deref()),
        }
    }

    /// The preferences the organization's policy fixes cannot be changed here either.
    fn check_managed_preferences(&self, prefs: &Preferences, current: &Preferences) -> Result<()> {
        let policy = &self.policy;
        if let (Some(_), Some(typed)) = (&policy.domain, prefs.domain.as_deref())
            && !typed.trim().is_empty()
            && Some(typed.trim()) != current.domain.as_deref()
        {
            policy.check_domain(typed)?;
        }
        if policy.ssl_verify == Some(true) && !prefs.ssl_verification && current.ssl_verification {
            return Err(policy.managed("ssl_verify"));
        }
        if policy.ca_bundle.is_some() && prefs.ssl_certificate != current.ssl_certificate {
            return Err(policy.managed("ca_bundle"));
        }
        if policy.sso_client_id.is_some() && prefs.sso_client_id != current.sso_client_id {
            return Err(policy.managed("sso_client_id"));
        }
        if policy.clients.is_some() && prefs.netrc != current.netrc {
            return Err(policy.managed("clients"));
        }
        Ok(())
    }

    /// The domain cannot change under an active sign-in: the ini would point at one server and the token at
    /// another. The same refusal as in Preferences.
    fn refuse_domain_change_while_signed_in(&self, domain: &str) -> Result<()> {
        match self.session()? {
            Some(session) if session.domain != domain => Err(Error::AlreadyLoggedIn {
                domain: session.domain,
                username: session.username,
            }),
            _ => Ok(()),
        }
    }

    /// `/api/system` answers as an Anaconda Server. With trust, a certificate that cannot be verified is pinned:
    /// the fingerprint to store.
    async fn validate_domain(&self, domain: &str, trust: Trust) -> Result<Option<String>> {
        match self.client(domain)?.system().await {
            Ok(_) => Ok(None),
            // the organization allows no trust question: the refusal names the CA to install
            Err(Error::Tls { .. } | Error::CertificateChanged { .. })
                if trust != Trust::No && !self.policy.allows_trusting() =>
            {
                Err(self.untrusted_refusal(domain).await)
            }
            Err(Error::Tls { .. } | Error::CertificateChanged { .. }) if trust != Trust::No => {
                let presented = self.server_certificate(domain).await?.sha256;
                if let Trust::Certificate(shown) = &trust
                    && crate::engine::certificate::normalize_fingerprint(shown).as_deref()
                        != Some(presented.as_str())
                {
                    return Err(Error::Refused {
                        reason: format!(
                            "The certificate of {} changed while you were looking at it; look at it again before \
                             trusting it.",
                            domain::netloc(domain)
                        ),
                    });
                }
                let mut config = self.client_defaults.clone();
                config.proxies = self.client_config(domain)?.proxies;
                config.pinned = Some(presented.clone());
                ServerClient::new(domain, &config)?.system().await?;
                Ok(Some(presented))
            }
            Err(error) => Err(error),
        }
    }

    pub fn preferences(&self) -> Result<Preferences> {
        let ini = self.ini()?;
        Ok(Preferences {
            domain: ini.api_url(),
            ssl_verification: ini.ssl_verification(),
            ssl_certificate: ini.ssl_certificate(),
            show_hidden_channels: ini.show_hidden_channels(),
            sso_client_id: ini.sso_client_id(),
            netrc: ini.netrc(),
        })
    }

    /// Whether the window offers the password form next to single sign-on (the administrator's
    /// `password_sign_in` key; see [`crate::engine::navigator_ini::NavigatorIni::password_sign_in`]).
    pub fn password_sign_in(&self) -> Result<bool> {
        Ok(self.ini()?.password_sign_in())
    }

    /// Save preferences. A new domain is validated like Set Domain (with `trust` for a certificate the user
    /// accepted); a certificate path must exist. Changing the domain while signed in is refused.
    pub async fn save_preferences(
        &self,
        prefs: &Preferences,
        trust: impl Into<Trust>,
    ) -> Result<Preferences> {
        let current = self.preferences()?;
        self.check_managed_preferences(prefs, &current)?;
        let mut domain = current.domain.clone();
        let mut pinned = None;
        if let Some(typed) = prefs
            .domain
            .as_deref()
            .map(str::trim)
            .filter(|d| !d.is_empty())
            // the stored domain, shown unchanged, is not normalised again (normalising is not idempotent for
            // `api.api.…` hosts: one leading `api.` label is stripped each time)
            .filter(|d| Some(*d) != current.domain.as_deref())
        {
            let normalized = normalize_domain(typed)?;
            if Some(&normalized) != current.domain.as_ref() {
                self.refuse_domain_change_while_signed_in(&normalized)?;
                pinned = self.validate_domain(&normalized, trust.into()).await?;
            }
            domain = Some(normalized);
        }
        let cert = prefs
            .ssl_certificate
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty());
        if let Some(cert_path) = cert
            && prefs.ssl_verification
            && !std::path::Path::new(cert_path).is_file()
        {
            return Err(Error::Refused {
                reason: "File not found.".into(),
            });
        }
        let client_id = checked_client_id(prefs.sso_client_id.as_deref())?;
        let _lock = self.lock_async().await?;
        self.check_writable(&[self.paths.navigator_ini.as_path()])?;
        let mut ini = self.ini()?;
        ini.migrate_old_names();
        if let (Some(fingerprint), Some(server)) = (&pinned, &domain) {
            ini.pin_certificate(&domain::netloc(server), fingerprint);
        }
        if domain != current.domain {
            ini.set_api_url(domain.as_deref());
        }
        if prefs.ssl_verification != current.ssl_verification {
            ini.set_ssl_verification(prefs.ssl_verification);
        }
        if cert.map(str::to_string) != current.ssl_certificate {
            ini.set_ssl_certificate(cert);
        }
        if prefs.show_hidden_channels != current.show_hidden_channels {
            ini.set_show_hidden_channels(prefs.show_hidden_channels);
        }
        if client_id != current.sso_client_id {
            ini.set_sso_client_id(client_id.as_deref());
        }
        if prefs.netrc != current.netrc {
            ini.set_netrc(prefs.netrc);
        }
        if let Some(text) = ini.changed_text() {
            files::write_atomic(&self.paths.navigator_ini, text.as_bytes(), None)?;
        }
        self.preferences()
    }

    /// Remember the single sign-on client id for this machine (`None` clears it), in conda-connect's own ini section.
    pub async fn save_sso_client_id(&self, id: Option<&str>) -> Result<()> {
        if self.policy.sso_client_id.is_some() {
            return Err(self.policy.managed("sso_client_id"));
        }
        let id = checked_client_id(id)?;
        let id = id.as_deref();
        let _lock = self.lock_async().await?;
        self.check_writable(&[self.paths.navigator_ini.as_path()])?;
        let mut ini = self.ini()?;
        ini.set_sso_client_id(id);
        if let Some(text) = ini.changed_text() {
            files::write_atomic(&self.paths.navigator_ini, text.as_bytes(), None)?;
        }
        Ok(())
    }
}

impl DomainChoice {
    /// Write the domain, and the pinned certificate, into the ini.
    pub(crate) fn write_to(&self, ini: &mut crate::engine::navigator_ini::NavigatorIni) {
        ini.set_api_url(Some(&self.domain));
        if let Some(fingerprint) = &self.pinned {
            ini.pin_certificate(&domain::netloc(&self.domain), fingerprint);
        }
    }
}
