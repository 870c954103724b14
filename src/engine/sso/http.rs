//! HTTP for single sign-on: the same TLS trust, CA bundle, proxies and timeouts as the server client, but no
//! redirect is ever followed (discovery reads the redirect itself, and a token endpoint that redirects elsewhere
//! must not receive the code or the verifier). Answers are read up to a size cap; failures become one sentence.

use reqwest::StatusCode;
use url::Url;

use crate::engine::client::{ClientConfig, classify_transport, redact};
use crate::engine::error::{Error, Result};

/// The largest identity-provider answer read (configuration documents and token answers are a few KiB; tokens
/// with many groups can reach tens of KiB).
pub const MAX_SSO_BODY: usize = 1024 * 1024;

/// Scheme, host and port: the unit of "the same server".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    scheme: String,
    host: String,
    port: u16,
}

impl Origin {
    pub fn of(url: &Url) -> Option<Origin> {
        Some(Origin {
            scheme: url.scheme().to_ascii_lowercase(),
            host: url.host_str()?.to_ascii_lowercase(),
            port: url.port_or_known_default()?,
        })
    }

    /// `host[:port]` for messages (the port only when it is not the scheme's default).
    pub fn netloc(url: &Url) -> String {
        match (url.host_str(), url.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_string(),
            _ => "another host".into(),
        }
    }

    pub fn same_host(&self, other: &Origin) -> bool {
        self.host == other.host
    }
}

/// Two clients built from one [`ClientConfig`]: `trusting` accepts the pinned certificate and exists only when the
/// user trusted the server; it is used for the server's own host and never for another.
#[derive(Debug, Clone)]
pub struct SsoHttp {
    verified: reqwest::Client,
    trusting: Option<reqwest::Client>,
    trusted_host: Origin,
}

impl SsoHttp {
    pub fn new(domain: &Url, config: &ClientConfig) -> Result<SsoHttp> {
        let trusted_host = Origin::of(domain).ok_or(Error::InvalidDomain)?;
        let verified = build(config, None)?;
        let trusting = match &config.pinned {
            Some(fingerprint) => Some(build(config, Some(fingerprint))?),
            None => None,
        };
        Ok(SsoHttp {
            verified,
            trusting,
            trusted_host,
        })
    }

    fn client_for(&self, url: &Url) -> &reqwest::Client {
        match (&self.trusting, Origin::of(url)) {
            (Some(trusting), Some(origin)) if origin.same_host(&self.trusted_host) => trusting,
            _ => &self.verified,
        }
    }

    /// A GET without credentials.
    pub async fn get(&self, url: &Url, accept: &str, what: &str) -> Result<reqwest::Response> {
        let rb = self
            .client_for(url)
            .get(url.clone())
            .header("Accept", accept);
        self.send(rb, url, what).await
    }

    /// A form POST (`application/x-www-form-urlencoded`).
    pub async fn post_form(
        &self,
        url: &Url,
        fields: &[(&str, &str)],
        what: &str,
    ) -> Result<reqwest::Response> {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let rb = self
            .client_for(url)
            .post(url.clone())
            .header("Accept", "application/json")
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body);
        self.send(rb, url, what).await
    }

    async fn send(
        &self,
        rb: reqwest::RequestBuilder,
        url: &Url,
        what: &str,
    ) -> Result<reqwest::Response> {
        let resp = rb.send().await.map_err(|e| transport(&e, url, what))?;
        tracing::debug!(
            what,
            status = resp.status().as_u16(),
            "identity provider answered"
        );
        Ok(resp)
    }
}

/// Read a body up to `limit` bytes; a longer one is refused as malformed.
pub async fn read_body(
    mut resp: reqwest::Response,
    limit: usize,
    url: &Url,
    what: &str,
) -> Result<Vec<u8>> {
    if resp.content_length().is_some_and(|n| n > limit as u64) {
        tracing::warn!(what, len = ?resp.content_length(), "answer too large");
        return Err(Error::Malformed { what: what.into() });
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| transport(&e, url, what))? {
        if bytes.len() + chunk.len() > limit {
            tracing::warn!(what, "answer too large");
            return Err(Error::Malformed { what: what.into() });
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// The `Location` of a redirect, resolved against the request URL.
pub fn location(resp: &reqwest::Response, base: &Url) -> Option<Url> {
    let status = resp.status();
    if !status.is_redirection() || status == StatusCode::NOT_MODIFIED {
        return None;
    }
    let text = resp.headers().get("location")?.to_str().ok()?;
    base.join(text).ok()
}

fn transport(err: &reqwest::Error, url: &Url, what: &str) -> Error {
    let host = Origin::netloc(url);
    // reqwest's own text includes the URL, whose query may carry a code: the log gets the causes only
    tracing::warn!(what, %host, causes = %causes(err), timeout = err.is_timeout(), "request failed");
    let error = classify_transport(err, &host);
    if !url.path().contains("/realms/") {
        return error;
    }
    // a request to the realm: the sentence names the identity provider, not the Anaconda Server
    match error {
        Error::Unreachable { host } => Error::Refused {
            reason: format!("The identity provider at {host} cannot be reached."),
        },
        Error::Timeout { host } => Error::Refused {
            reason: format!("The identity provider at {host} did not answer in time."),
        },
        Error::Tls { host } => Error::Refused {
            reason: format!(
                "The identity provider's certificate at {host} cannot be verified; ask your administrator for \
                 the certificate authority to add (Preferences, or ssl_verify in .condarc)."
            ),
        },
        other => other,
    }
}

/// The chain of causes below a reqwest error (without the request URL).
fn causes(err: &reqwest::Error) -> String {
    let mut text = Vec::new();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push(redact(&cause.to_string()));
        source = cause.source();
    }
    text.join("; ")
}

fn build(config: &ClientConfig, pinned: Option<&str>) -> Result<reqwest::Client> {
    // the same client setup as the API's, but a sign-on request never follows a redirect
    crate::engine::client::http_client(config, pinned, reqwest::redirect::Policy::none())
}
