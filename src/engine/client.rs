//! The Anaconda Server REST client (the calls are described in docs/server-api.md): discovery, login, account,
//! tokens, scopes and the channel list. reqwest over rustls; TLS verification is on unless the user explicitly
//! trusted this host (docs/design.md#9-tls-trust-per-host); a custom CA
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
use crate::engine::{redact, server_values};

pub const SYSTEM_TIMEOUT: Duration = Duration::from_secs(5);
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// The largest API answer read (channel pages of 1000 items are well below it).
pub const MAX_API_BODY: usize = 16 * 1024 * 1024;
/// Channels are listed 1000 a page, as Navigator does.
pub const PAGE_SIZE: usize = 1000;
/// The most tokens the token list reads (an account with more is told to clean up instead).
pub const MAX_TOKENS: usize = 10_000;
/// A server that never ends its channel list is stopped after this many pages …
pub const MAX_CHANNEL_PAGES: usize = 100;
/// … or this long.
pub const CHANNEL_LIST_TIME: Duration = Duration::from_secs(120);

/// The scopes of the sign-in token: Navigator's set, enough for conda to list and download from every channel the
/// user can read, and nothing more (docs/server-api.md#44-access-tokens-apiaccounttokens).
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
    /// The user's explicit trust for this host: its certificate's SHA-256 fingerprint. Only that certificate is
    /// accepted (docs/design.md#9-tls-trust-per-host).
    pub pinned: Option<String>,
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
    /// The account an identity provider vouched for in its validated ID token (single sign-on only).
    #[serde(skip)]
    pub identity: Option<String>,
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
            Some(parent) if !parent.is_empty() => format!("{parent}/{}", self.name),
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
    /// The certificate the user trusted for this host, if any.
    pinned: Option<String>,
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
            let url = attempt.url();
            let same = (
                url.scheme().to_string(),
                url.host_str().map(str::to_string),
                url.port_or_known_default(),
            ) == origin;
            if same && attempt.previous().len() < 5 {
                attempt.follow()
            } else {
                attempt.stop()
            }
        });
        let http = http_client(config, config.pinned.as_deref(), policy)?;
        Ok(ServerClient {
            domain: domain.trim_end_matches('/').to_string(),
            host,
            http,
            system_timeout: config.system_timeout.unwrap_or(SYSTEM_TIMEOUT),
            pinned: config.pinned.clone(),
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
            // (a relative address is resolved against the request's)
            let location = resp
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .and_then(|l| resp.url().join(l).ok());
            // the same host still redirecting after the policy's five hops: a loop, not another host
            if location
                .as_ref()
                .is_some_and(|url| crate::engine::domain::netloc(url.as_str()) == self.host)
            {
                tracing::warn!(what, "the server keeps redirecting to itself");
                return Err(Error::Http {
                    status: status.as_u16(),
                    what: what.into(),
                });
            }
            // host:port, so that another port of the same address is named as such
            let target = location
                .and_then(|url| {
                    let host = url.host_str()?.to_string();
                    Some(match url.port() {
                        Some(port) => format!("{host}:{port}"),
                        None => host,
                    })
                })
                .map(|t| crate::engine::server_values::printable(&t).into_owned())
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
        serde_json::from_slice(&bytes).map_err(|error| {
            tracing::warn!(what, error = %error, len = bytes.len(), "malformed response body");
            Error::Malformed { what: what.into() }
        })
    }

    /// Turn a transport error into words. Never includes the URL (it may carry a token).
    pub fn classify(&self, err: &reqwest::Error, what: &str) -> Error {
        tracing::warn!(what, host = %self.host, error = %redact(&format!("{err:?}")), "request failed");
        self.pin_changed(classify_transport(err, &self.host))
    }

    /// A certificate failure on a pinned host is a changed certificate: say so, with both fingerprints.
    pub fn pin_changed(&self, error: Error) -> Error {
        match (&error, &self.pinned) {
            (Error::Tls { host }, Some(trusted)) => {
                match crate::engine::certificate::presented_instead_of(trusted) {
                    Some(presented) => Error::CertificateChanged {
                        host: host.clone(),
                        trusted: trusted.clone(),
                        presented,
                    },
                    None => error,
                }
            }
            _ => error,
        }
    }

    /// `GET /api/system`: is there an Anaconda Server at this domain?
    pub async fn system(&self) -> Result<SystemInfo> {
        let what = "the server check (/api/system)";
        let rb = self
            .request(Method::GET, "/api/system", Auth::None)
            .timeout(self.system_timeout);
        let resp = match self.send(rb, what).await {
            Ok(response) => response,
            Err(
                error @ (Error::Tls { .. }
                | Error::CertificateChanged { .. }
                | Error::Unreachable { .. }
                | Error::Timeout { .. }
                | Error::Redirected { .. }),
            ) => {
                return Err(error);
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
        matches!(rb.send().await, Ok(response) if response.status().is_success())
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
        server_values::session_jwt(&tokens.token, what)?;
        if let Some(refresh) = &tokens.refresh_token {
            server_values::session_jwt(refresh, what)?;
        }
        redact::register(&tokens.token);
        if let Some(refresh) = &tokens.refresh_token {
            redact::register(refresh);
        }
        Ok(tokens)
    }

    pub async fn account(&self, auth: Auth<'_>) -> Result<Account> {
        let what = "the account request (/api/account)";
        let resp = self
            .send(self.request(Method::GET, "/api/account", auth), what)
            .await?;
        let account: Account = self.json(resp, what).await?;
        server_values::account_name(&account.username, what)?;
        server_values::account_name(&account.user_id, what)?;
        Ok(account)
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

    /// The account's tokens, page by page (`limit`/`offset`; a server that sends everything at once is fine).
    /// At most [`MAX_TOKENS`]: more is refused in a sentence rather than read without end, and a server that sends
    /// a page it sent already (it ignores `offset`) is refused too.
    pub async fn list_tokens(&self, jwt: &str) -> Result<Vec<TokenItem>> {
        let what = "the token list (/api/account/tokens)";
        let mut items: Vec<TokenItem> = Vec::new();
        let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
        let mut skipped = 0usize;
        let mut offset = 0usize;
        loop {
            let rb = self
                .request(Method::GET, "/api/account/tokens", Auth::Jwt(jwt))
                .query(&[
                    ("offset", offset.to_string()),
                    ("limit", PAGE_SIZE.to_string()),
                ]);
            let resp = self.send(rb, what).await?;
            if resp.status() == StatusCode::NO_CONTENT {
                break;
            }
            let page: Page<TokenItem> = self.json(resp, what).await?;
            let got = page.items.len();
            if page.items.iter().any(|t| seen.contains(&t.id)) {
                tracing::warn!(offset, "the server sent tokens it had sent already");
                return Err(Error::Refused {
                    reason: "The server sent the same tokens again on the next page of its token list (it ignores \
                             the page offset); conda-connect stopped reading it."
                        .into(),
                });
            }
            seen.extend(page.items.iter().map(|t| t.id.clone()));
            for mut token in page.items {
                match server_values::token_id(&token.id) {
                    Some(id) => {
                        token.id = id;
                        items.push(token);
                    }
                    None => skipped += 1,
                }
            }
            if items.len() > MAX_TOKENS {
                tracing::warn!(count = items.len(), "the token list is too long");
                return Err(Error::Refused {
                    reason: format!(
                        "Your account has more than {MAX_TOKENS} tokens, more than conda-connect lists; revoke the \
                         ones you no longer need in the server's web interface."
                    ),
                });
            }
            offset += got.max(PAGE_SIZE);
            let total = page.total_count.unwrap_or(0);
            if got < PAGE_SIZE || offset >= total {
                break;
            }
        }
        if skipped > 0 {
            tracing::warn!(skipped, "tokens with an id that is not a UUID were ignored");
        }
        Ok(items)
    }

    pub async fn create_token(&self, jwt: &str, new: &NewToken) -> Result<CreatedToken> {
        let what = "the token creation (/api/account/tokens)";
        let rb = self
            .request(Method::POST, "/api/account/tokens", Auth::Jwt(jwt))
            .json(new);
        let resp = self.send(rb, what).await?;
        let mut created: CreatedToken = self.json(resp, what).await?;
        server_values::access_token(&created.token, what)?;
        redact::register(&created.token);
        created.id = server_values::server_token_id(&created.id, what)?;
        Ok(created)
    }

    /// `PUT /api/account/tokens/<id>`: a new value for the same token.
    pub async fn reissue_token(&self, jwt: &str, id: &str) -> Result<String> {
        let what = "the token regeneration";
        let path = token_path(id)?;
        let rb = self
            .request(Method::PUT, &path, Auth::Jwt(jwt))
            .json(&serde_json::json!({}));
        let resp = self.send(rb, what).await?;
        #[derive(Deserialize)]
        struct Reissued {
            token: Option<String>,
        }
        let reissued: Reissued = self.json(resp, what).await?;
        let token = reissued
            .token
            .ok_or(Error::Malformed { what: what.into() })?;
        server_values::access_token(&token, what)?;
        redact::register(&token);
        Ok(token)
    }

    /// `PUT /api/account/tokens/<id>?reissue_token=false` with a new expiry: same value, later expiry. The answer
    /// must be the API's (204, or JSON); a server that ignored `reissue_token=false` and issued a new value returns
    /// it here, so that the caller can roll forward to it.
    pub async fn update_token_expiry(
        &self,
        jwt: &str,
        id: &str,
        expires_at: &str,
    ) -> Result<Option<String>> {
        let what = "the token renewal";
        let path = format!("{}?reissue_token=false", token_path(id)?);
        let rb = self
            .request(Method::PUT, &path, Auth::Jwt(jwt))
            .json(&serde_json::json!({ "expires_at": expires_at }));
        let resp = self.send(rb, what).await?;
        if resp.status() == StatusCode::NO_CONTENT {
            return Ok(None);
        }
        let answer: serde_json::Value = self.json(resp, what).await?;
        match answer.get("token") {
            Some(serde_json::Value::String(token)) => {
                server_values::access_token(token, what)?;
                redact::register(token);
                Ok(Some(token.clone()))
            }
            None | Some(serde_json::Value::Null) if answer.is_object() => Ok(None),
            _ => Err(Error::Malformed { what: what.into() }),
        }
    }

    /// `DELETE /api/account/tokens/<id>`; `Ok(false)` when the server does not know the token (already gone).
    pub async fn delete_token(&self, jwt: &str, id: &str) -> Result<bool> {
        let what = "the token revocation";
        let path = token_path(id)?;
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
            Err(error) => Err(error),
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
    /// The first `limit` channels of the account (one request; for a probe that needs a few, not all).
    pub async fn first_channels(&self, auth: Auth<'_>, limit: usize) -> Result<Vec<ChannelInfo>> {
        let what = "the channel list";
        let rb = self
            .request(Method::GET, "/api/account/channels", auth)
            .query(&[
                ("offset", "0".to_string()),
                ("limit", limit.min(PAGE_SIZE).to_string()),
                ("include_subchannels", "true".to_string()),
            ]);
        let resp = self.send(rb, what).await?;
        let page: Page<ChannelInfo> = self.json(resp, what).await?;
        Ok(page
            .items
            .into_iter()
            .take(limit)
            .filter(|c| server_values::is_channel_name(&c.full_name()))
            .collect())
    }

    pub async fn channels(&self, auth: Auth<'_>, all: bool) -> Result<Vec<ChannelInfo>> {
        let what = "the channel list";
        let path = if all {
            "/api/channels"
        } else {
            "/api/account/channels"
        };
        let mut out: Vec<ChannelInfo> = Vec::new();
        let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
        let mut offset = 0usize;
        let deadline = std::time::Instant::now() + CHANNEL_LIST_TIME;
        for _page in 0..MAX_CHANNEL_PAGES {
            if std::time::Instant::now() > deadline {
                tracing::warn!(pages = _page, "the channel list took too long");
                return Err(Error::Refused {
                    reason: format!(
                        "The server's channel list did not finish within {} seconds.",
                        CHANNEL_LIST_TIME.as_secs()
                    ),
                });
            }
            let rb = self.request(Method::GET, path, auth).query(&[
                ("offset", offset.to_string()),
                ("limit", PAGE_SIZE.to_string()),
                ("sort", "name,updated_at".to_string()),
                ("include_subchannels", "true".to_string()),
            ]);
            let resp = self.send(rb, what).await?;
            let page: Page<ChannelInfo> = self.json(resp, what).await?;
            let got = page.items.len();
            if got > PAGE_SIZE {
                tracing::warn!(got, "the server ignores the page size");
                return Err(Error::Malformed { what: what.into() });
            }
            // a server that ignores `offset` sends the first page again and again: refused, not looped over
            if page.items.iter().any(|c| seen.contains(&c.full_name())) {
                tracing::warn!(offset, "the server sent channels it had sent already");
                return Err(Error::Refused {
                    reason: "The server sent the same channels again on the next page of its channel list (it \
                             ignores the page offset); conda-connect stopped reading it."
                        .into(),
                });
            }
            seen.extend(page.items.iter().map(ChannelInfo::full_name));
            out.extend(
                page.items
                    .into_iter()
                    .filter(|c| server_values::is_channel_name(&c.full_name())),
            );
            offset += PAGE_SIZE;
            let total = page.total_count.unwrap_or(0);
            if got < PAGE_SIZE || offset >= total {
                return Ok(out);
            }
        }
        tracing::warn!(pages = MAX_CHANNEL_PAGES, "the channel list does not end");
        Err(Error::Refused {
            reason: format!(
                "The server's channel list does not end (more than {} channels); conda-connect stopped reading it.",
                MAX_CHANNEL_PAGES * PAGE_SIZE
            ),
        })
    }
}

/// The HTTP client every request to a server (and its sign-on realm) goes through: timeouts, the user's trust for
/// this host (`trusting`), CA bundle and proxies (honouring NO_PROXY), and the given redirect policy.
/// The largest certificate bundle read (the system's is about 200 KB).
const MAX_CERTIFICATE_FILE: u64 = 32 * 1024 * 1024;

/// A PEM file's bytes: a regular file of a sane size (a FIFO would block, a device never end).
fn read_certificate_file(path: &std::path::Path) -> Result<Vec<u8>> {
    let refuse = |why: &str| Error::Refused {
        reason: format!("The SSL certificate file {} {why}.", path.display()),
    };
    match std::fs::metadata(path) {
        Ok(meta) if !meta.is_file() => return Err(refuse("is not a regular file")),
        Ok(meta) if meta.len() > MAX_CERTIFICATE_FILE => {
            return Err(refuse("is too large to be a certificate bundle"));
        }
        _ => {}
    }
    std::fs::read(path).map_err(|e| Error::io(path, &e))
}

/// `SSL_CERT_FILE` is read by the system's trust store on every TLS connection: one that names a FIFO or a device
/// would block or never end, so it is refused in a sentence first.
fn check_ssl_cert_file() -> Result<()> {
    let Some(file) = std::env::var_os("SSL_CERT_FILE").filter(|v| !v.is_empty()) else {
        return Ok(());
    };
    let path = std::path::Path::new(&file);
    match std::fs::metadata(path) {
        Ok(meta) if !meta.is_file() || meta.len() > MAX_CERTIFICATE_FILE => Err(Error::Refused {
            reason: format!(
                "SSL_CERT_FILE names {}, which is not a certificate bundle file: unset it or point it to one.",
                path.display()
            ),
        }),
        _ => Ok(()),
    }
}

pub(crate) fn http_client(
    config: &ClientConfig,
    pinned: Option<&str>,
    redirect: reqwest::redirect::Policy,
) -> Result<reqwest::Client> {
    ensure_crypto_provider();
    check_ssl_cert_file()?;
    let mut builder = reqwest::Client::builder()
        .redirect(redirect)
        .timeout(config.timeout.unwrap_or(DEFAULT_TIMEOUT))
        .connect_timeout(Duration::from_secs(10))
        .user_agent(concat!("conda-connect/", env!("CARGO_PKG_VERSION")));
    if let Some(fingerprint) = pinned {
        // the trusted certificate and nothing else (a CA bundle does not apply to a pinned server)
        builder = builder
            .tls_backend_preconfigured(crate::engine::certificate::pinned_tls_config(fingerprint)?);
    } else if let Some(path) = &config.ca_bundle {
        let pem = read_certificate_file(path)?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|error| {
            tracing::warn!(error = %error, "CA bundle unreadable");
            Error::Refused {
                reason: format!(
                    "The SSL certificate file {} is not a PEM bundle.",
                    path.display()
                ),
            }
        })?;
        builder = builder.tls_certs_merge(certs);
    }
    // `.condarc proxy_servers` honour NO_PROXY / no_proxy (and a `no_proxy` entry of proxy_servers), like the
    // proxies from the environment: a proxy (and its credentials) never sees requests meant for those hosts.
    let no_proxy_list = config
        .proxies
        .iter()
        .find(|(scheme, _)| scheme == "no_proxy")
        .map(|(_, list)| list.clone())
        .into_iter()
        .chain(
            ["NO_PROXY", "no_proxy"]
                .iter()
                .filter_map(|v| std::env::var(v).ok()),
        )
        .filter(|l| !l.trim().is_empty())
        .collect::<Vec<_>>()
        .join(",");
    for (scheme, proxy_url) in &config.proxies {
        let proxy = match scheme.as_str() {
            "http" => reqwest::Proxy::http(proxy_url),
            "https" => reqwest::Proxy::https(proxy_url),
            _ => continue,
        };
        match proxy {
            Ok(proxy) => {
                builder =
                    builder.proxy(proxy.no_proxy(reqwest::NoProxy::from_string(&no_proxy_list)))
            }
            Err(error) => {
                tracing::warn!(error = %error, %scheme, "ignoring an unusable proxy_servers entry")
            }
        }
    }
    builder.build().map_err(|error| {
        tracing::error!(error = %error, "HTTP client could not be built");
        Error::Refused {
            reason: "The HTTP client could not be set up; see the log.".into(),
        }
    })
}

/// Map a transport error to a user-facing [`Error`].
pub fn classify_transport(err: &reqwest::Error, host: &str) -> Error {
    if err.is_timeout() {
        return Error::Timeout { host: host.into() };
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(error) = source {
        if error.downcast_ref::<rustls::Error>().is_some() {
            return Error::Tls { host: host.into() };
        }
        let text = error.to_string().to_lowercase();
        if text.contains("certificate")
            || text.contains("invalidcertificate")
            || text.contains("unknownissuer")
        {
            return Error::Tls { host: host.into() };
        }
        if let Some(io) = error.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::TimedOut
        {
            return Error::Timeout { host: host.into() };
        }
        source = error.source();
    }
    if err.is_decode() {
        return Error::Malformed {
            what: format!("a request to {host}"),
        };
    }
    Error::Unreachable { host: host.into() }
}

/// `/api/account/tokens/<id>` for a token id, which must be a UUID: an id can never change the endpoint (`..`,
/// `.`, `/` and the like are refused before any request is made).
fn token_path(id: &str) -> Result<String> {
    let id = server_values::token_id(id).ok_or_else(|| Error::Refused {
        reason: format!(
            "\"{}\" is not a token id (token ids look like 3f1c2a9e-1111-2222-3333-444455556666).",
            server_values::printable(id)
        ),
    })?;
    Ok(format!("/api/account/tokens/{id}"))
}

/// Mask secrets in a URL or message before it is logged (see [`crate::engine::redact`]).
pub fn redact(text: &str) -> String {
    redact::scrub(text)
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
    fn token_ids_never_change_the_endpoint() {
        for bad in ["..", ".", "", "a/b", "../../system", "%2e%2e"] {
            assert!(token_path(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            token_path("{3F1C2A9E-1111-2222-3333-444455556666}").unwrap(),
            "/api/account/tokens/3f1c2a9e-1111-2222-3333-444455556666"
        );
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
