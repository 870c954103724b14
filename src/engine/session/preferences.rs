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

impl Engine {
    /// Validate a typed domain (`/api/system`) and store it as `anaconda_server_api_url`. A certificate failure
    /// is returned as [`Error::Tls`] unless `trust` is given: then the host is recorded in `[ssl] trusted_servers`
    /// and checked again without verification.
    pub async fn set_domain(&self, input: &str, trust: bool) -> Result<String> {
        let domain = normalize_domain(input)?;
        self.refuse_domain_change_while_signed_in(&domain)?;
        self.validate_domain(&domain, trust).await?;
        let _lock = self.lock()?;
        self.refuse_domain_change_while_signed_in(&domain)?;
        self.check_writable(&[self.paths.navigator_ini.as_path()])?;
        let mut ini = self.ini()?;
        ini.migrate_old_names();
        ini.set_api_url(Some(&domain));
        if trust {
            ini.add_trusted_server(&domain::netloc(&domain));
        }
        if let Some(text) = ini.changed_text() {
            files::write_atomic(&self.paths.navigator_ini, text.as_bytes(), None)?;
        }
        Ok(domain)
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

    async fn validate_domain(&self, domain: &str, trust: bool) -> Result<()> {
        match self.client(domain)?.system().await {
            Ok(_) => Ok(()),
            Err(Error::Tls { .. }) if trust => {
                let mut config = self.client_defaults.clone();
                config.trusted = true;
                ServerClient::new(domain, &config)?
                    .system()
                    .await
                    .map(|_| ())
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
        })
    }

    /// Whether the window offers the password form next to single sign-on (the administrator's
    /// `password_sign_in` key; see [`crate::engine::navigator_ini::NavigatorIni::password_sign_in`]).
    pub fn password_sign_in(&self) -> Result<bool> {
        Ok(self.ini()?.password_sign_in())
    }

    /// Save preferences. A new domain is validated like Set Domain (with `trust` for a certificate the user
    /// accepted); a certificate path must exist. Changing the domain while signed in is refused.
    pub async fn save_preferences(&self, prefs: &Preferences, trust: bool) -> Result<Preferences> {
        let current = self.preferences()?;
        let mut domain = current.domain.clone();
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
                self.validate_domain(&normalized, trust).await?;
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
        let _lock = self.lock()?;
        self.check_writable(&[self.paths.navigator_ini.as_path()])?;
        let mut ini = self.ini()?;
        ini.migrate_old_names();
        if trust && let Some(server) = &domain {
            ini.add_trusted_server(&domain::netloc(server));
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
        if let Some(text) = ini.changed_text() {
            files::write_atomic(&self.paths.navigator_ini, text.as_bytes(), None)?;
        }
        self.preferences()
    }

    /// Remember the single sign-on client id for this machine (`None` clears it), in conda-connect's own ini section.
    pub fn save_sso_client_id(&self, id: Option<&str>) -> Result<()> {
        let id = checked_client_id(id)?;
        let id = id.as_deref();
        let _lock = self.lock()?;
        self.check_writable(&[self.paths.navigator_ini.as_path()])?;
        let mut ini = self.ini()?;
        ini.set_sso_client_id(id);
        if let Some(text) = ini.changed_text() {
            files::write_atomic(&self.paths.navigator_ini, text.as_bytes(), None)?;
        }
        Ok(())
    }

    /// The ini's bytes now (to undo a domain change that was part of a command that failed).
    pub fn ini_snapshot(&self) -> Result<Option<Vec<u8>>> {
        files::read_optional(&self.paths.navigator_ini)
    }

    /// Put the ini back to `previous` if it still is `expected_now` (nobody changed it since): a `login --domain`
    /// that fails leaves the domain as it was.
    pub fn restore_ini(&self, expected_now: Option<&[u8]>, previous: Option<&[u8]>) -> Result<()> {
        let _lock = self.lock()?;
        if files::read_optional(&self.paths.navigator_ini)?.as_deref() != expected_now {
            return Ok(());
        }
        match previous {
            Some(bytes) => files::write_atomic(&self.paths.navigator_ini, bytes, None),
            None => files::remove_if_exists(&self.paths.navigator_ini).map(|_| ()),
        }
    }
}
