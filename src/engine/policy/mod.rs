//! The policy an organization pushes to every desk: a few settings an administrator fixes centrally (the server, how
//! people sign in, certificates, channels, which clients are configured, token lifetime, support contact). Read from
//! the platform's own place ([`sources`]) — Group Policy's registry keys on Windows, managed preferences on macOS,
//! `/etc/conda-connect/policy.json` everywhere (or the file `CONDA_CONNECT_POLICY_FILE` names) — and enforced by the
//! engine, so that the window and the command line refuse the same things with the same words.
//!
//! Fail closed: a policy that cannot be read or has an unknown key or a wrong value is an error naming the source
//! and the key, and nothing proceeds — a broken policy never becomes no policy.

pub mod sources;

use std::path::PathBuf;

use serde::Serialize;

use crate::engine::domain;
use crate::engine::error::{Error, Result};

/// How people may sign in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SignInPolicy {
    /// Username and password only.
    Password,
    /// Single sign-on only.
    Sso,
    /// Every way, a token one was given included (the default).
    Any,
}

/// A client conda-connect configures at sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Client {
    Conda,
    Rattler,
    Netrc,
}

/// The policy in force. Every key is optional; an absent key leaves the user free.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Policy {
    /// The server, normalized; the user cannot choose another.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sign_in: Option<SignInPolicy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sso_client_id: Option<String>,
    /// Certificate verification is locked on: Preferences cannot turn it off (only `true` is accepted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssl_verify: Option<bool>,
    /// The CA bundle every connection verifies with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_bundle: Option<PathBuf>,
    /// `false`: the trust question becomes a refusal naming the CA to install.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_untrusted_certificates: Option<bool>,
    /// Preselected in the picker and applied by `login` without channel options.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_channels: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channels: Option<Vec<String>>,
    /// The channels above are the only choice: the picker and `select-channels` cannot change them.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub lock_channels: bool,
    /// Which clients a sign-in configures (conda always).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clients: Option<Vec<Client>>,
    /// The access token a sign-in creates lives at most this many days.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_lifetime_days: Option<u32>,
    /// The window runs Update Index after a sign-in (default: yes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update_index_after_sign_in: Option<bool>,
    /// Where people ask for help: shown in errors about managed settings and in doctor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub support_url: Option<String>,
    /// Where each key came from (`key → source`), for `status` and doctor.
    #[serde(skip)]
    pub origin: Vec<(String, String)>,
}

/// Every key a policy may hold, as the sources spell them (checked against the ADMX template by a test).
pub const KEYS: [&str; 14] = [
    "domain",
    "sign_in",
    "sso_client_id",
    "ssl_verify",
    "ca_bundle",
    "allow_untrusted_certificates",
    "default_channels",
    "channels",
    "lock_channels",
    "clients",
    "token_lifetime_days",
    "update_index_after_sign_in",
    "support_url",
    "version",
];

/// The most days an access token may live (the server's limit too).
pub const MAX_TOKEN_DAYS: u32 = 365;

/// One value as a source gives it, before it is checked.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Text(String),
    Number(i64),
    Flag(bool),
    List(Vec<String>),
}

impl Value {
    fn kind(&self) -> &'static str {
        match self {
            Value::Text(_) => "text",
            Value::Number(_) => "a number",
            Value::Flag(_) => "true or false",
            Value::List(_) => "a list",
        }
    }
}

/// The keys one source sets, named for error messages ("/etc/conda-connect/policy.json", "HKLM\\…").
#[derive(Debug, Clone, Default)]
pub struct Layer {
    pub source: String,
    pub values: Vec<(String, Value)>,
}

fn invalid(source: &str, key: &str, detail: impl Into<String>) -> Error {
    Error::InvalidPolicy {
        source: source.to_string(),
        key: key.to_string(),
        detail: detail.into(),
    }
}

impl Policy {
    /// The policy in force on this machine, from every source in precedence order. An error names the source and
    /// the key.
    pub fn load() -> Result<Policy> {
        Policy::from_layers(&sources::read_all()?)
    }

    /// Merge `layers`, the first (highest precedence) source of a key winning, and check every value.
    pub fn from_layers(layers: &[Layer]) -> Result<Policy> {
        let mut policy = Policy::default();
        let mut seen: Vec<&str> = Vec::new();
        for layer in layers {
            for (key, value) in &layer.values {
                let key = key.as_str();
                if !KEYS.contains(&key) {
                    return Err(invalid(&layer.source, key, "it is not a policy setting"));
                }
                if seen.contains(&key) {
                    continue;
                }
                seen.push(key);
                policy.set(&layer.source, key, value)?;
                policy.origin.push((key.to_string(), layer.source.clone()));
            }
        }
        policy.check_whole(layers)?;
        Ok(policy)
    }

    fn set(&mut self, source: &str, key: &str, value: &Value) -> Result<()> {
        let text = || match value {
            Value::Text(t) if !t.trim().is_empty() && !t.chars().any(char::is_control) => {
                Ok(t.trim().to_string())
            }
            _ => Err(invalid(
                source,
                key,
                format!("it must be text, not {}", value.kind()),
            )),
        };
        let flag = || match value {
            Value::Flag(b) => Ok(*b),
            // registry DWORDs and "true"/"false" strings from a profile
            Value::Number(0) => Ok(false),
            Value::Number(1) => Ok(true),
            Value::Text(t) if t.eq_ignore_ascii_case("true") => Ok(true),
            Value::Text(t) if t.eq_ignore_ascii_case("false") => Ok(false),
            _ => Err(invalid(source, key, "it must be true or false")),
        };
        let list = || match value {
            Value::List(items) => Ok(items.clone()),
            // a registry string or a profile string: comma-separated
            Value::Text(t) => Ok(t
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()),
            _ => Err(invalid(source, key, "it must be a list of names")),
        };
        match key {
            "version" => match value {
                Value::Number(1) => {}
                Value::Text(t) if t == "1" => {}
                _ => {
                    return Err(invalid(
                        source,
                        key,
                        "this version of conda-connect reads version 1",
                    ));
                }
            },
            "domain" => {
                let normalized = domain::normalize_domain(&text()?)
                    .map_err(|_| invalid(source, key, "it is not a server address (https://…)"))?;
                self.domain = Some(normalized);
            }
            "sign_in" => {
                self.sign_in = Some(match text()?.to_ascii_lowercase().as_str() {
                    "password" => SignInPolicy::Password,
                    "sso" => SignInPolicy::Sso,
                    "any" => SignInPolicy::Any,
                    _ => return Err(invalid(source, key, "it must be password, sso or any")),
                })
            }
            "sso_client_id" => {
                let id = text()?;
                if id.len() > 200 || id.chars().any(char::is_whitespace) {
                    return Err(invalid(source, key, "it is not a client id"));
                }
                self.sso_client_id = Some(id);
            }
            // conda-connect always verifies certificates; the policy can only lock that (and name a CA bundle)
            "ssl_verify" => {
                if !flag()? {
                    return Err(invalid(
                        source,
                        key,
                        "conda-connect always verifies certificates; set ca_bundle for a private CA instead",
                    ));
                }
                self.ssl_verify = Some(true);
            }
            "ca_bundle" => {
                let path = PathBuf::from(text()?);
                if !path.is_absolute() {
                    return Err(invalid(source, key, "it must be an absolute path"));
                }
                self.ca_bundle = Some(path);
            }
            "allow_untrusted_certificates" => self.allow_untrusted_certificates = Some(flag()?),
            "default_channels" | "channels" => {
                let names = list()?;
                for name in &names {
                    if !crate::engine::server_values::is_channel_name(name) {
                        return Err(invalid(
                            source,
                            key,
                            format!("{name:?} is not a channel name"),
                        ));
                    }
                }
                if key == "channels" {
                    self.channels = Some(names);
                } else {
                    self.default_channels = Some(names);
                }
            }
            "lock_channels" => self.lock_channels = flag()?,
            "clients" => self.clients = Some(clients(source, &list()?)?),
            "token_lifetime_days" => self.token_lifetime_days = Some(token_days(source, value)?),
            "update_index_after_sign_in" => self.update_index_after_sign_in = Some(flag()?),
            "support_url" => {
                let url = text()?;
                if !(url.starts_with("https://")
                    || url.starts_with("http://")
                    || url.starts_with("mailto:"))
                {
                    return Err(invalid(
                        source,
                        key,
                        "it must be an https:// or mailto: address",
                    ));
                }
                self.support_url = Some(url);
            }
            _ => unreachable!("checked against KEYS"),
        }
        Ok(())
    }

    /// Rules across keys.
    fn check_whole(&self, layers: &[Layer]) -> Result<()> {
        let source_of = |key: &str| {
            self.origin
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, s)| s.clone())
                .or_else(|| layers.first().map(|l| l.source.clone()))
                .unwrap_or_default()
        };
        if let Some(clients) = &self.clients
            && !clients.contains(&Client::Conda)
        {
            return Err(invalid(
                &source_of("clients"),
                "clients",
                "it must include conda",
            ));
        }
        if self.lock_channels && self.default_channels.as_ref().is_none_or(Vec::is_empty) {
            return Err(invalid(
                &source_of("lock_channels"),
                "lock_channels",
                "locked channels need at least one default_channels entry",
            ));
        }
        Ok(())
    }

    /// No key is set: nothing is managed.
    pub fn is_empty(&self) -> bool {
        self.origin.is_empty()
    }

    /// Where the policy comes from, one source per line, in precedence order.
    pub fn sources(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (_, source) in &self.origin {
            if !out.contains(source) {
                out.push(source.clone());
            }
        }
        out
    }

    /// The refusal for a managed `setting`: one sentence, with where to ask.
    pub fn managed(&self, setting: &str) -> Error {
        Error::Managed {
            setting: setting.to_string(),
            support: self.support_url.clone(),
        }
    }

    /// `domain` may be used: no domain is locked, or it is the locked one.
    pub fn check_domain(&self, wanted: &str) -> Result<()> {
        match &self.domain {
            Some(locked) if domain::normalize_domain(wanted).ok().as_deref() != Some(locked) => {
                Err(self.managed("domain"))
            }
            _ => Ok(()),
        }
    }

    /// May the user trust a certificate that cannot be verified?
    pub fn allows_trusting(&self) -> bool {
        self.allow_untrusted_certificates != Some(false)
    }

    pub fn allows_password(&self) -> bool {
        matches!(
            self.sign_in,
            None | Some(SignInPolicy::Any | SignInPolicy::Password)
        )
    }

    pub fn allows_sso(&self) -> bool {
        matches!(
            self.sign_in,
            None | Some(SignInPolicy::Any | SignInPolicy::Sso)
        )
    }

    /// A token one was given: only when every way is allowed.
    pub fn allows_given_token(&self) -> bool {
        matches!(self.sign_in, None | Some(SignInPolicy::Any))
    }

    /// Does a sign-in configure `client`? (`None`: the user's own choice decides.)
    pub fn configures(&self, client: Client) -> Option<bool> {
        self.clients.as_ref().map(|c| c.contains(&client))
    }

    /// The channel selection the policy gives, if any.
    pub fn selection(&self) -> Option<crate::engine::session::Selection> {
        let default_channels = self.default_channels.clone()?;
        Some(crate::engine::session::Selection {
            default_channels,
            channels: self.channels.clone().unwrap_or_default(),
        })
    }

    /// The sign-in's token lifetime in days: the policy's, at most a year.
    pub fn token_days(&self) -> u32 {
        self.token_lifetime_days
            .unwrap_or(MAX_TOKEN_DAYS)
            .min(MAX_TOKEN_DAYS)
    }

    /// The refusal that replaces the trust question: the certificate's issuer to install, and where to ask.
    pub fn untrusted_refusal(&self, host: &str, issuer: Option<&str>) -> String {
        let ca = issuer
            .map(|i| format!("its issuer, {i}"))
            .unwrap_or_else(|| "the certificate authority that issued it".into());
        let ask = self
            .support_url
            .as_deref()
            .map(|url| format!(" Ask {url}."))
            .unwrap_or_default();
        format!(
            "The certificate of {host} cannot be verified, and your organization does not allow trusting it here: \
             install {ca} on this computer (or set ca_bundle in the policy), then try again.{ask}"
        )
    }
}

/// `clients`: conda, rattler or netrc, each once, in a fixed order.
fn clients(source: &str, names: &[String]) -> Result<Vec<Client>> {
    let mut clients = Vec::new();
    for name in names {
        clients.push(match name.to_ascii_lowercase().as_str() {
            "conda" => Client::Conda,
            "rattler" => Client::Rattler,
            "netrc" => Client::Netrc,
            _ => {
                return Err(invalid(
                    source,
                    "clients",
                    format!("{name:?} is not conda, rattler or netrc"),
                ));
            }
        });
    }
    clients.sort();
    clients.dedup();
    Ok(clients)
}

/// `token_lifetime_days`: a whole number of days, 1 to [`MAX_TOKEN_DAYS`].
fn token_days(source: &str, value: &Value) -> Result<u32> {
    let days = match value {
        Value::Number(n) => *n,
        Value::Text(t) => t.trim().parse().unwrap_or(-1),
        _ => -1,
    };
    if !(1..=i64::from(MAX_TOKEN_DAYS)).contains(&days) {
        return Err(invalid(
            source,
            "token_lifetime_days",
            format!("it must be a number of days from 1 to {MAX_TOKEN_DAYS}"),
        ));
    }
    Ok(days as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(source: &str, values: &[(&str, Value)]) -> Layer {
        Layer {
            source: source.into(),
            values: values
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        }
    }

    #[test]
    fn the_first_source_of_a_key_wins() {
        let policy = Policy::from_layers(&[
            layer(
                "machine",
                &[("domain", Value::Text("https://a.example".into()))],
            ),
            layer(
                "user",
                &[
                    ("domain", Value::Text("https://b.example".into())),
                    ("sign_in", Value::Text("sso".into())),
                ],
            ),
        ])
        .unwrap();
        assert_eq!(policy.domain.as_deref(), Some("https://a.example"));
        assert_eq!(policy.sign_in, Some(SignInPolicy::Sso));
        assert_eq!(policy.sources(), ["machine", "user"]);
        assert!(policy.check_domain("https://a.example/").is_ok());
        assert!(policy.check_domain("https://b.example").is_err());
    }

    #[test]
    fn a_broken_policy_names_its_source_and_key() {
        let cases = [
            ("colour", Value::Text("red".into()), "not a policy setting"),
            (
                "sign_in",
                Value::Text("kerberos".into()),
                "password, sso or any",
            ),
            ("token_lifetime_days", Value::Number(400), "from 1 to 365"),
            ("ssl_verify", Value::Text("maybe".into()), "true or false"),
            ("ca_bundle", Value::Text("relative.pem".into()), "absolute"),
            (
                "channels",
                Value::List(vec!["../x".into()]),
                "not a channel name",
            ),
            ("clients", Value::Text("rattler".into()), "include conda"),
            (
                "domain",
                Value::Text("not a url at all".into()),
                "server address",
            ),
            (
                "support_url",
                Value::Text("javascript:x".into()),
                "https://",
            ),
        ];
        for (key, value, words) in cases {
            let error =
                Policy::from_layers(&[layer("/etc/conda-connect/policy.json", &[(key, value)])])
                    .unwrap_err()
                    .to_string();
            assert!(error.contains("/etc/conda-connect/policy.json"), "{error}");
            assert!(error.contains(key), "{error}");
            assert!(error.contains(words), "{key}: {error}");
        }
    }

    #[test]
    fn registry_values_read_as_the_right_types() {
        let policy = Policy::from_layers(&[layer(
            "HKLM",
            &[
                ("allow_untrusted_certificates", Value::Number(0)),
                ("default_channels", Value::Text("main, r".into())),
                ("clients", Value::List(vec!["conda".into(), "netrc".into()])),
                ("token_lifetime_days", Value::Number(90)),
            ],
        )])
        .unwrap();
        assert!(!policy.allows_trusting());
        assert_eq!(
            policy.default_channels,
            Some(vec!["main".to_string(), "r".to_string()])
        );
        assert_eq!(policy.configures(Client::Rattler), Some(false));
        assert_eq!(policy.configures(Client::Netrc), Some(true));
        assert_eq!(policy.token_days(), 90);
        assert!(Policy::default().allows_trusting() && Policy::default().is_empty());
    }
}
