//! The Anaconda Server REST client (anaconda-server-api.md §1): discovery, login, account, tokens, scopes and the
//! channel list. reqwest over rustls; TLS verification is on unless the user trusted this host (D3); a custom CA
//! bundle is added to the platform roots; proxies come from the environment and `.condarc proxy_servers`.
//! Credentials: the JWT as `Authorization: Bearer`, the access token as `X-Auth`. A redirect to another host is
//! not followed, so no credential ever leaves the configured server. Every failure becomes an [`Error`] that
//! says in words what happened; URLs, bodies and reqwest's own text go to the log only.

use std::path::PathBuf;
use std::sync::Once;
use std::time::Duration;

use reqwest::{Method, RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::engine::error::{Error, Result};

pub const SYSTEM_TIMEOUT: Duration = Duration::from_secs(5);
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// The largest API answer read (channel pages of 1000 items are well below it).
pub const MAX_API_BODY: usize = 16 * 1024 * 1024;
/// Channels are listed 1000 a page, as Navigator does.
pub const PAGE_SIZE: usize = 1000;

/// The scopes of the sign-in token (the and Navigator's set).
pub const SIGN_IN_SCOPES: [&str; 6] = [
    "channel:view",
    "channel:view-artifacts",
    "subchannel:view",
    "subchannel:view-artifacts",
    "artifact:download",
    "artifact:view",
];

/// How to reach one server.
#[derive(Debug, Clone, Default)]
pub struct ClientConfig {
    /// Skip certificate verification for this host only (the user's explicit trust).
    pub trusted: bool,
    /// Extra CA certificates (PEM bundle), e.g. conda's `ssl_verify: /path/ca.pem` or the app preference.
    pub ca_bundle: Option<PathBuf>,
    /// `(scheme, proxy url)` from `.condarc proxy_servers`.
    pub proxies: Vec<(String, String)>,
    /// Override the 60 s request timeout (tests).
    pub timeout: Option<Duration>,
    /// Override the 5 s `/api/system` timeout (tests).
    pub system_timeout: Option<Duration>,
}

/// Credentials for one request.
#[derive(Clone, Copy)]
pub enum Auth<'a> {
    None,
    Jwt(&'a str),
    Token(&'a str),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemInfo {
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub service_name: Option<String>,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub ok: Option<serde_json::Value>,
}

impl SystemInfo {
    /// Navigator's and conda-repo-cli's acceptance rules combined.
    pub fn is_anaconda_server(&self) -> bool {
        self.service_name.as_deref() == Some("repo")
            || self.status.as_deref() == Some("ok")
            || self.ok.as_ref().and_then(|v| v.as_i64()) == Some(1)
    }
}

#[derive(Clone, PartialEq, Eq, Deserialize)]
pub struct LoginTokens {
    pub token: String,
    #[serde(default)]
    pub refresh_token: Option<String>,
}

impl std::fmt::Debug for LoginTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LoginTokens { <redacted> }")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub user_id: String,
    pub username: String,
    #[serde(default)]
    pub default_channel_name: Option<String>,
    #[serde(default)]
    pub roles: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    #[serde(default)]
    pub expires_at: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
}

/// One token as the server lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenItem {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub expires_at: Option<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewToken {
    pub name: String,
    pub scopes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

#[derive(Clone, PartialEq, Eq, Deserialize)]
pub struct CreatedToken {
    pub id: String,
    pub token: String,
}

impl std::fmt::Debug for CreatedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CreatedToken {{ id: {:?}, token: <redacted> }}", self.id)
    }
}

/// One channel of the Add Channels list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelInfo {
    pub name: String,
    #[serde(default)]
    pub parent: Option<String>,
    #[serde(default)]
    pub mirror_count: u64,
    #[serde(default)]
    pub privacy: String,
    #[serde(default)]
    pub owners: Vec<String>,
}

impl ChannelInfo {
    /// `parent/name` for a subchannel, else `name` — the name conda uses.
    pub fn full_name(&self) -> String {
        match &self.parent {
            Some(p) if !p.is_empty() => format!("{p}/{}", self.name),
            _ => self.name.clone(),
        }
    }
}

#[derive(Deserialize)]
struct Page<T> {
    items: Vec<T>,
    #[serde(default)]
    total_count: Option<usize>,
}

/// A client bound to one server domain.
#[derive(Debug, Clone)]
pub struct ServerClient {
    domain: String,
    host: String,
    http: reqwest::Client,
    system_timeout: Duration,
}

/// rustls needs one process-wide crypto provider; ring keeps the build free of cmake.
pub fn ensure_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

impl ServerClient {
    pub fn new(domain: &str, config: &ClientConfig) -> Result<Self> {
        ensure_crypto_provider();
        let parsed = url::Url::parse(domain).map_err(|_| Error::InvalidDomain)?;
        let host = crate::engine::domain::netloc(domain);
        let origin = (
            parsed.scheme().to_string(),
            parsed.host_str().map(str::to_string),
            parsed.port_or_known_default(),
        );
        let policy = reqwest::redirect::Policy::custom(move |attempt| {
            let u = attempt.url();
            let same = (
                u.scheme().to_string(),
                u.host_str().map(str::to_string),
                u.port_or_known_default(),
            ) == origin;
            if same && attempt.previous().len() < 5 {
                attempt.follow()
            } else {
                attempt.stop()
            }
        });
        let mut builder = reqwest::Client::builder()
            .redirect(policy)
            .timeout(config.timeout.unwrap_or(DEFAULT_TIMEOUT))
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("conda-connect/", env!("CARGO_PKG_VERSION")));
        if config.trusted {
            builder = builder.tls_danger_accept_invalid_certs(true);
        }
        if let Some(path) = &config.ca_bundle {
            let pem = std::fs::read(path).map_err(|e| Error::io(path, &e))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                tracing::warn!(error = %e, "CA bundle unreadable");
                Error::Refused {
                    reason: format!(
                        "The SSL certificate file {} is not a PEM bundle.",
                        path.display()
                    ),
                }
            })?;
            builder = builder.tls_certs_merge(certs);
        }
        for (scheme, proxy_url) in &config.proxies {
            let proxy = match scheme.as_str() {
                "http" => reqwest::Proxy::http(proxy_url),
                "https" => reqwest::Proxy::https(proxy_url),
                _ => continue,
            };
            match proxy {
                Ok(p) => builder = builder.proxy(p),
                Err(e) => {
                    tracing::warn!(error = %e, %scheme, "ignoring an unusable proxy_servers entry")
                }
            }
        }
        let http = builder.build().map_err(|e| {
            tracing::error!(error = %e, "HTTP client could not be built");
            Error::Refused {
                reason: "The HTTP client could not be set up; see the log.".into(),
            }
        })?;
        Ok(ServerClient {
            domain: domain.trim_end_matches('/').to_string(),
            host,
            http,
            system_timeout: config.system_timeout.unwrap_or(SYSTEM_TIMEOUT),
        })
    }

    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The underlying HTTP client (shared by the index fetcher).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    fn request(&self, method: Method, path: &str, auth: Auth<'_>) -> RequestBuilder {
        let url = format!("{}{}", self.domain, path);
        let rb = self
            .http
            .request(method, url)
            .header("Accept", "application/json");
        match auth {
            Auth::None => rb,
            Auth::Jwt(jwt) => rb.bearer_auth(jwt),
            Auth::Token(token) => rb.header("X-Auth", token),
        }
    }

    async fn send(&self, rb: RequestBuilder, what: &str) -> Result<reqwest::Response> {
        let resp = rb.send().await.map_err(|e| self.classify(&e, what))?;
        let status = resp.status();
        tracing::debug!(what, status = status.as_u16(), "server answered");
        if status.is_success() {
            return Ok(resp);
        }
        if status.is_redirection() {
            let target = resp
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .and_then(|l| url::Url::parse(l).ok())
                .and_then(|u| u.host_str().map(str::to_string))
                .unwrap_or_else(|| "another host".into());
            tracing::warn!(what, %target, "refused to follow a redirect to another host");
            return Err(Error::Redirected { host: target });
        }
        Err(match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                Error::Unauthorized { what: what.into() }
            }
            s => Error::Http {
                status: s.as_u16(),
                what: what.into(),
            },
        })
    }

    async fn json<T: DeserializeOwned>(
        &self,
        mut resp: reqwest::Response,
        what: &str,
    ) -> Result<T> {
        // API answers are small; a hostile or broken server must not exhaust memory
        if resp
            .content_length()
            .is_some_and(|n| n > MAX_API_BODY as u64)
        {
            tracing::warn!(what, len = ?resp.content_length(), "response body too large");
            return Err(Error::Malformed { what: what.into() });
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| self.classify(&e, what))? {
            if bytes.len() + chunk.len() > MAX_API_BODY {
                tracing::warn!(what, "response body too large");
                return Err(Error::Malformed { what: what.into() });
            }
            bytes.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&bytes).map_err(|e| {
            tracing::warn!(what, error = %e, len = bytes.len(), "malformed response body");
            Error::Malformed { what: what.into() }
        })
    }

    /// Turn a transport error into words. Never includes the URL (it may carry a token).
    pub fn classify(&self, err: &reqwest::Error, what: &str) -> Error {
        tracing::warn!(what, host = %self.host, error = %redact(&format!("{err:?}")), "request failed");
        classify_transport(err, &self.host)
    }

    /// `GET /api/system`: is there an Anaconda Server at this domain?
    pub async fn system(&self) -> Result<SystemInfo> {
        let what = "the server check (/api/system)";
        let rb = self
            .request(Method::GET, "/api/system", Auth::None)
            .timeout(self.system_timeout);
        let resp = match self.send(rb, what).await {
            Ok(r) => r,
            Err(
                e @ (Error::Tls { .. }
                | Error::Unreachable { .. }
                | Error::Timeout { .. }
                | Error::Redirected { .. }),
            ) => {
                return Err(e);
            }
            Err(_) => return Err(Error::InvalidDomain),
        };
        let info: SystemInfo = self
            .json(resp, what)
            .await
            .map_err(|_| Error::InvalidDomain)?;
        if info.is_anaconda_server() {
            Ok(info)
        } else {
            Err(Error::InvalidDomain)
        }
    }

    /// Health check: any 2xx within 5 s.
    pub async fn healthy(&self) -> bool {
        let rb = self
            .request(Method::GET, "/api/system", Auth::None)
            .timeout(self.system_timeout);
        matches!(rb.send().await, Ok(r) if r.status().is_success())
    }

    /// `POST /api/auth/login` (username lower-cased, as Navigator does).
    pub async fn login(&self, username: &str, password: &str) -> Result<LoginTokens> {
        let what = "the sign-in";
        let body = serde_json::json!({ "username": username.to_lowercase(), "password": password });
        let rb = self
            .request(Method::POST, "/api/auth/login", Auth::None)
            .json(&body);
        let resp = self.send(rb, what).await.map_err(|e| match e {
            Error::Unauthorized { .. } => Error::InvalidCredentials,
            other => other,
        })?;
        let tokens: LoginTokens = self.json(resp, what).await?;
        if tokens.token.is_empty() {
            return Err(Error::Malformed { what: what.into() });
        }
        Ok(tokens)
    }

    pub async fn account(&self, auth: Auth<'_>) -> Result<Account> {
        let what = "the account request (/api/account)";
        let resp = self
            .send(self.request(Method::GET, "/api/account", auth), what)
            .await?;
        self.json(resp, what).await
    }

    pub async fn token_info(&self, access_token: &str) -> Result<TokenInfo> {
        let what = "the token check (/api/account/token-info)";
        let resp = self
            .send(
                self.request(
                    Method::GET,
                    "/api/account/token-info",
                    Auth::Token(access_token),
                ),
                what,
            )
            .await?;
        if resp.status() == StatusCode::NO_CONTENT {
            return Ok(TokenInfo {
                expires_at: None,
                kind: None,
            });
        }
        self.json(resp, what).await
    }

    pub async fn list_tokens(&self, jwt: &str) -> Result<Vec<TokenItem>> {
        let what = "the token list (/api/account/tokens)";
        let resp = self
            .send(
                self.request(Method::GET, "/api/account/tokens", Auth::Jwt(jwt)),
                what,
            )
            .await?;
        if resp.status() == StatusCode::NO_CONTENT {
            return Ok(Vec::new());
        }
        let page: Page<TokenItem> = self.json(resp, what).await?;
        Ok(page.items)
    }

    pub async fn create_token(&self, jwt: &str, new: &NewToken) -> Result<CreatedToken> {
        let what = "the token creation (/api/account/tokens)";
        let rb = self
            .request(Method::POST, "/api/account/tokens", Auth::Jwt(jwt))
            .json(new);
        let resp = self.send(rb, what).await?;
        let created: CreatedToken = self.json(resp, what).await?;
        if created.token.is_empty() || created.id.is_empty() {
            return Err(Error::Malformed { what: what.into() });
        }
        Ok(created)
    }

    /// `PUT /api/account/tokens/<id>`: a new value for the same token.
    pub async fn reissue_token(&self, jwt: &str, id: &str) -> Result<String> {
        let what = "the token regeneration";
        let path = format!("/api/account/tokens/{}", path_segment(id));
        let rb = self
            .request(Method::PUT, &path, Auth::Jwt(jwt))
            .json(&serde_json::json!({}));
        let resp = self.send(rb, what).await?;
        #[derive(Deserialize)]
        struct Reissued {
            token: Option<String>,
        }
        let r: Reissued = self.json(resp, what).await?;
        r.token
            .filter(|t| !t.is_empty())
            .ok_or(Error::Malformed { what: what.into() })
    }

    /// `PUT /api/account/tokens/<id>?reissue_token=false` with a new expiry: same value, later expiry.
    pub async fn update_token_expiry(&self, jwt: &str, id: &str, expires_at: &str) -> Result<()> {
        let what = "the token renewal";
        let path = format!(
            "/api/account/tokens/{}?reissue_token=false",
            path_segment(id)
        );
        let rb = self
            .request(Method::PUT, &path, Auth::Jwt(jwt))
            .json(&serde_json::json!({ "expires_at": expires_at }));
        self.send(rb, what).await.map(|_| ())
    }

    /// `DELETE /api/account/tokens/<id>`; `Ok(false)` when the server does not know the token (already gone).
    pub async fn delete_token(&self, jwt: &str, id: &str) -> Result<bool> {
        let what = "the token revocation";
        let path = format!("/api/account/tokens/{}", path_segment(id));
        match self
            .send(self.request(Method::DELETE, &path, Auth::Jwt(jwt)), what)
            .await
        {
            // 204 is the API's answer; another 2xx counts only with a JSON body (an HTML page from a proxy does not)
            Ok(resp) if resp.status() == StatusCode::NO_CONTENT => Ok(true),
            Ok(resp) => self
                .json::<serde_json::Value>(resp, what)
                .await
                .map(|_| true),
            Err(Error::Http { status: 404, .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    pub async fn scopes(&self, jwt: &str) -> Result<Vec<String>> {
        let what = "the scope list (/api/account/scopes)";
        let resp = self
            .send(
                self.request(Method::GET, "/api/account/scopes", Auth::Jwt(jwt)),
                what,
            )
            .await?;
        let v: serde_json::Value = self.json(resp, what).await?;
        let list = v.get("scopes").unwrap_or(&v);
        match list {
            serde_json::Value::Array(items) => Ok(items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_string))
                .collect()),
            serde_json::Value::String(s) => Ok(s
                .split([',', ' '])
                .filter(|p| !p.is_empty())
                .map(str::to_string)
                .collect()),
            _ => Err(Error::Malformed { what: what.into() }),
        }
    }

    /// Every channel, 1000 a page: the user's (`/api/account/channels`) or, with `all`, every channel the server
    /// shows (`/api/channels`, "Show hidden Anaconda Server channels"). Subchannels included.
    pub async fn channels(&self, auth: Auth<'_>, all: bool) -> Result<Vec<ChannelInfo>> {
        let what = "the channel list";
        let path = if all {
            "/api/channels"
        } else {
            "/api/account/channels"
        };
        let mut out = Vec::new();
        let mut offset = 0usize;
        loop {
            let rb = self.request(Method::GET, path, auth).query(&[
                ("offset", offset.to_string()),
                ("limit", PAGE_SIZE.to_string()),
                ("sort", "name,updated_at".to_string()),
                ("include_subchannels", "true".to_string()),
            ]);
            let resp = self.send(rb, what).await?;
            let page: Page<ChannelInfo> = self.json(resp, what).await?;
            let got = page.items.len();
            out.extend(page.items);
            offset += PAGE_SIZE;
            let total = page.total_count.unwrap_or(out.len());
            if got == 0 || offset >= total {
                break;
            }
        }
        Ok(out)
    }
}

/// Map a transport error to a user-facing [`Error`].
pub fn classify_transport(err: &reqwest::Error, host: &str) -> Error {
    if err.is_timeout() {
        return Error::Timeout { host: host.into() };
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if e.downcast_ref::<rustls::Error>().is_some() {
            return Error::Tls { host: host.into() };
        }
        let text = e.to_string().to_lowercase();
        if text.contains("certificate")
            || text.contains("invalidcertificate")
            || text.contains("unknownissuer")
        {
            return Error::Tls { host: host.into() };
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::TimedOut
        {
            return Error::Timeout { host: host.into() };
        }
        source = e.source();
    }
    if err.is_decode() {
        return Error::Malformed {
            what: format!("a request to {host}"),
        };
    }
    Error::Unreachable { host: host.into() }
}

/// Percent-encode one path segment.
fn path_segment(s: &str) -> String {
    const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(s, SEGMENT).to_string()
}

/// Mask `/t/<token>/` in a URL or message before it is logged.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("/t/") {
        out.push_str(&rest[..i + 3]);
        let after = &rest[i + 3..];
        let end = after.find(['/', '"', ' ', '?', ')']).unwrap_or(after.len());
        out.push_str("<token>");
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction() {
        assert_eq!(
            redact("GET http://h/api/repo/t/abc123/main/noarch/repodata.json"),
            "GET http://h/api/repo/t/<token>/main/noarch/repodata.json"
        );
        assert_eq!(redact("no token here"), "no token here");
    }

    #[test]
    fn system_acceptance() {
        let ok = |j: serde_json::Value| {
            serde_json::from_value::<SystemInfo>(j)
                .unwrap()
                .is_anaconda_server()
        };
        assert!(ok(serde_json::json!({"service_name": "repo"})));
        assert!(ok(serde_json::json!({"status": "ok"})));
        assert!(ok(serde_json::json!({"ok": 1})));
        assert!(!ok(serde_json::json!({"status": "bad"})));
    }
}
