//! Sign-in with a code on another device (RFC 8628), for machines without a browser: the realm hands out a user
//! code and a verification address to show; conda-connect polls the token endpoint at the given interval until
//! the person confirms, honouring `slow_down`, and stops at `expired_token`, a denial, or the code's lifetime.

use std::time::Duration;

use serde::Deserialize;
use tokio::time::Instant;

use super::SsoOptions;
use super::discovery::Realm;
use super::messages::{DEVICE_EXPIRED, NO_DEVICE_FLOW, device_error, refused};
use super::token::{Reply, TokenAnswer, call, verified};
use crate::engine::client::LoginTokens;
use crate::engine::error::{Error, Result};

const START: &str = "the single sign-on device request";
const POLL: &str = "the single sign-on device token request";
/// Longest code lifetime honoured (a realm answering more is cut to this).
const MAX_LIFETIME: Duration = Duration::from_secs(30 * 60);
/// Polling interval when the realm names none (RFC 8628), and the bounds kept whatever it names.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
const MIN_INTERVAL: Duration = Duration::from_secs(1);
const MAX_INTERVAL: Duration = Duration::from_secs(60);
const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);

#[derive(Deserialize)]
struct DeviceAnswer {
    device_code: String,
    user_code: String,
    verification_uri: String,
    #[serde(default)]
    verification_uri_complete: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
    #[serde(default)]
    interval: Option<u64>,
}

/// A device sign-in waiting for the person to confirm the code.
pub struct DeviceSignIn {
    realm: Realm,
    client_id: String,
    device_code: String,
    user_code: String,
    verification_uri: String,
    verification_uri_complete: Option<String>,
    interval: Duration,
    lifetime: Duration,
}

impl std::fmt::Debug for DeviceSignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "DeviceSignIn {{ realm: {:?}, client_id: {:?}, user_code: {:?}, device_code: <redacted> }}",
            self.realm.name, self.client_id, self.user_code
        )
    }
}

impl DeviceSignIn {
    /// Ask the realm for a user code. [`NO_DEVICE_FLOW`] when the realm does not offer it.
    pub async fn start(realm: &Realm, options: &SsoOptions) -> Result<DeviceSignIn> {
        let client_id = realm.client_id(options.client_id.as_deref())?;
        let Some(url) = realm.endpoints.device_authorization.clone() else {
            return Err(refused(NO_DEVICE_FLOW));
        };
        let fields = [("client_id", client_id.as_str()), ("scope", "openid")];
        let answer: DeviceAnswer = match call(realm, &url, &fields, START).await? {
            Reply::Answer(a) => a,
            Reply::Refused(error) => return Err(device_error(&error, &client_id)),
        };
        let shown =
            |s: &str| !s.is_empty() && s.len() <= 2048 && s.chars().all(|c| c.is_ascii_graphic());
        let web = |s: &str| {
            shown(s) && url::Url::parse(s).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
        };
        if answer.device_code.is_empty()
            || !shown(&answer.user_code)
            || answer.user_code.len() > 64
            || !web(&answer.verification_uri)
            || answer
                .verification_uri_complete
                .as_deref()
                .is_some_and(|u| !web(u))
        {
            tracing::warn!("unusable device authorization answer");
            return Err(Error::Malformed { what: START.into() });
        }
        Ok(DeviceSignIn {
            realm: realm.clone(),
            client_id,
            device_code: answer.device_code,
            user_code: answer.user_code,
            verification_uri: answer.verification_uri,
            verification_uri_complete: answer.verification_uri_complete,
            interval: answer
                .interval
                .map(Duration::from_secs)
                .unwrap_or(DEFAULT_INTERVAL)
                .clamp(MIN_INTERVAL, MAX_INTERVAL),
            lifetime: Duration::from_secs(answer.expires_in.unwrap_or(600)).min(MAX_LIFETIME),
        })
    }

    /// The code the person enters.
    pub fn user_code(&self) -> &str {
        &self.user_code
    }

    /// Where the person enters it.
    pub fn verification_uri(&self) -> &str {
        &self.verification_uri
    }

    /// The address with the code filled in, when the realm gives one.
    pub fn verification_uri_complete(&self) -> Option<&str> {
        self.verification_uri_complete.as_deref()
    }

    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The line the command line prints before polling; the complete address last when the realm gives one.
    pub fn prompt(&self) -> String {
        let mut line = format!(
            "Go to {} and enter the code {}",
            self.verification_uri, self.user_code
        );
        if let Some(complete) = &self.verification_uri_complete {
            line.push_str(&format!(" (or open {complete})"));
        }
        line
    }

    /// Poll until the person confirms (or denies, or the code expires). Dropping the future stops polling.
    pub async fn finish(self) -> Result<LoginTokens> {
        // the realm decides when the code expires (`expired_token`); this deadline only bounds the polling, one
        // interval later so that the realm's answer is heard
        let deadline = Instant::now() + self.lifetime + self.interval;
        let mut interval = self.interval;
        let fields = [
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("device_code", self.device_code.as_str()),
            ("client_id", self.client_id.as_str()),
        ];
        loop {
            if Instant::now() + interval > deadline {
                tokio::time::sleep_until(deadline).await;
                return Err(refused(DEVICE_EXPIRED));
            }
            tokio::time::sleep(interval).await;
            let reply: Reply<TokenAnswer> =
                call(&self.realm, &self.realm.endpoints.token, &fields, POLL).await?;
            match reply {
                Reply::Answer(answer) => {
                    return verified(&self.realm, &self.client_id, answer, None, POLL).await;
                }
                Reply::Refused(error) => match error.as_str() {
                    "authorization_pending" => {}
                    "slow_down" => {
                        interval = (interval + SLOW_DOWN_STEP).min(MAX_INTERVAL);
                        tracing::info!(?interval, "the identity provider asked to poll slower");
                    }
                    "expired_token" => return Err(refused(DEVICE_EXPIRED)),
                    other => return Err(device_error(other, &self.client_id)),
                },
            }
        }
    }
}
