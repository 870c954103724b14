//! Discovery: does this Anaconda Server sign in through a Keycloak realm, and where are the realm's endpoints?
//! `GET <domain>/api/auth/authorize` (not followed) answers a redirect into `/auth/realms/<realm>/…` (newer
//! servers may answer 200 `{"redirect_url": …}` instead); the realm's OpenID configuration names the endpoints.
//! Anything else means the server has no single sign-on. Endpoints on a host that is neither the server nor the
//! realm are refused (required ones) or ignored (optional ones): credentials go to those two hosts only.

use serde::Deserialize;
use url::Url;

use super::http::{MAX_SSO_BODY, Origin, SsoHttp, location, read_body};
use super::messages::{foreign_endpoint, leaves_https};
use crate::engine::client::ClientConfig;
use crate::engine::error::{Error, Result};

/// A Keycloak realm the server signs in through.
#[derive(Debug, Clone)]
pub struct Realm {
    /// The Anaconda Server domain it was discovered from.
    pub domain: String,
    /// The realm's name (`/auth/realms/<name>`).
    pub name: String,
    /// `<scheme>://<host>/auth/realms/<name>`.
    pub base: Url,
    /// The `client_id` of the server's own sign-in redirect: the default client id.
    pub server_client_id: Option<String>,
    pub endpoints: Endpoints,
    pub(super) http: SsoHttp,
}

/// The realm's endpoints (from its `.well-known/openid-configuration`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    pub issuer: Option<String>,
    pub authorization: Url,
    pub token: Url,
    pub device_authorization: Option<Url>,
    pub end_session: Option<Url>,
    pub revocation: Option<Url>,
    /// The realm's signing keys (JWKS): every ID token's signature is checked against them.
    pub jwks: Option<Url>,
    /// `id_token_signing_alg_values_supported`: an ID token signed otherwise is refused (OIDC's default, when
    /// the document names none, is RS256).
    pub id_token_algs: Vec<String>,
}

#[derive(Deserialize)]
struct Configuration {
    #[serde(default)]
    issuer: Option<String>,
    #[serde(default)]
    authorization_endpoint: Option<String>,
    #[serde(default)]
    token_endpoint: Option<String>,
    #[serde(default)]
    device_authorization_endpoint: Option<String>,
    #[serde(default)]
    end_session_endpoint: Option<String>,
    #[serde(default)]
    revocation_endpoint: Option<String>,
    #[serde(default)]
    jwks_uri: Option<String>,
    #[serde(default)]
    id_token_signing_alg_values_supported: Vec<serde_json::Value>,
}

const CHECK: &str = "the single sign-on check (/api/auth/authorize)";
const CONFIGURATION: &str = "the identity provider's configuration";

/// Find the server's realm; [`Error::NoSso`] when it has none.
pub async fn discover(domain: &str, config: &ClientConfig) -> Result<Realm> {
    let domain = domain.trim_end_matches('/');
    let domain_url = Url::parse(domain).map_err(|_| Error::InvalidDomain)?;
    let http = SsoHttp::new(&domain_url, config)?;
    let authorize =
        Url::parse(&format!("{domain}/api/auth/authorize")).map_err(|_| Error::InvalidDomain)?;
    let resp = http.get(&authorize, "application/json", CHECK).await?;
    let status = resp.status();
    let target = if let Some(target) = location(&resp, &authorize) {
        target
    } else if status.is_success() {
        let body = read_body(resp, 64 * 1024, &authorize, CHECK).await?;
        #[derive(Deserialize)]
        struct Redirect {
            redirect_url: String,
        }
        match serde_json::from_slice::<Redirect>(&body)
            .ok()
            .and_then(|r| authorize.join(&r.redirect_url).ok())
        {
            Some(target) => target,
            None => return Err(no_sso(status.as_u16())),
        }
    } else if status.is_server_error() {
        return Err(Error::Http {
            status: status.as_u16(),
            what: CHECK.into(),
        });
    } else {
        return Err(no_sso(status.as_u16()));
    };
    let Some((name, base)) = realm_of(&target) else {
        tracing::info!(
            path = target.path(),
            "the sign-in redirect is not a Keycloak realm"
        );
        return Err(no_sso(status.as_u16()));
    };
    if domain_url.scheme() == "https" && base.scheme() != "https" {
        return Err(leaves_https(&Origin::netloc(&base)));
    }
    let server_client_id = target
        .query_pairs()
        .find(|(k, _)| k == "client_id")
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty() && v.len() <= 200 && v.chars().all(|c| c.is_ascii_graphic()));
    let endpoints = configuration(&http, &domain_url, &base).await?;
    tracing::info!(realm = %name, client_id = ?server_client_id, "single sign-on realm found");
    Ok(Realm {
        domain: domain.to_string(),
        name,
        base,
        server_client_id,
        endpoints,
        http,
    })
}

fn no_sso(status: u16) -> Error {
    tracing::info!(status, "the server offers no single sign-on");
    Error::NoSso
}

/// `(<realm>, <origin>/auth/realms/<realm>)` of a URL inside a realm. Keycloak 17 and later serve realms without
/// the `/auth` prefix, so `/realms/<realm>/…` counts too.
fn realm_of(target: &Url) -> Option<(String, Url)> {
    if !matches!(target.scheme(), "http" | "https") || !target.username().is_empty() {
        return None;
    }
    let segments: Vec<&str> = target.path_segments()?.collect();
    let at = match segments.as_slice() {
        ["auth", "realms", ..] => 2,
        ["realms", ..] => 1,
        _ => return None,
    };
    let name = *segments.get(at)?;
    // something below the realm (the authorization endpoint), not the realm root itself
    if name.is_empty() || segments.len() <= at + 1 {
        return None;
    }
    let mut base = target.clone();
    base.set_query(None);
    base.set_fragment(None);
    base.set_path(&segments[..=at].join("/"));
    let name = percent_encoding::percent_decode_str(name)
        .decode_utf8()
        .ok()?
        .into_owned();
    Some((name, base))
}

async fn configuration(http: &SsoHttp, domain: &Url, base: &Url) -> Result<Endpoints> {
    let url = Url::parse(&format!(
        "{}/.well-known/openid-configuration",
        base.as_str().trim_end_matches('/')
    ))
    .map_err(|_| Error::Malformed {
        what: CONFIGURATION.into(),
    })?;
    let resp = http.get(&url, "application/json", CONFIGURATION).await?;
    if let Some(target) = location(&resp, &url) {
        return Err(Error::Redirected {
            host: Origin::netloc(&target),
        });
    }
    if !resp.status().is_success() {
        return Err(Error::Http {
            status: resp.status().as_u16(),
            what: CONFIGURATION.into(),
        });
    }
    let body = read_body(resp, MAX_SSO_BODY, &url, CONFIGURATION).await?;
    let doc: Configuration = serde_json::from_slice(&body).map_err(|e| {
        tracing::warn!(error = %e, "the OpenID configuration is not JSON");
        Error::Malformed {
            what: CONFIGURATION.into(),
        }
    })?;
    let allowed = [Origin::of(domain), Origin::of(base)];
    let endpoint = |field: &str, value: Option<String>| -> Result<Option<Url>> {
        let Some(value) = value else { return Ok(None) };
        let url = Url::parse(&value).map_err(|_| {
            tracing::warn!(
                field,
                "an endpoint of the OpenID configuration is not a URL"
            );
            Error::Malformed {
                what: CONFIGURATION.into(),
            }
        })?;
        if Origin::of(&url).is_some_and(|o| allowed.contains(&Some(o))) && url.username().is_empty()
        {
            Ok(Some(url))
        } else {
            tracing::warn!(field, host = %Origin::netloc(&url), "endpoint on a foreign host");
            Err(foreign_endpoint(&Origin::netloc(&url)))
        }
    };
    let required = |field: &str, value: Option<String>| -> Result<Url> {
        endpoint(field, value)?.ok_or_else(|| {
            tracing::warn!(field, "missing from the OpenID configuration");
            Error::Malformed {
                what: CONFIGURATION.into(),
            }
        })
    };
    // optional endpoints on a foreign host are left unused rather than failing the sign-in
    let optional = |field: &str, value: Option<String>| endpoint(field, value).unwrap_or(None);
    Ok(Endpoints {
        authorization: required("authorization_endpoint", doc.authorization_endpoint)?,
        token: required("token_endpoint", doc.token_endpoint)?,
        device_authorization: optional(
            "device_authorization_endpoint",
            doc.device_authorization_endpoint,
        ),
        end_session: optional("end_session_endpoint", doc.end_session_endpoint),
        revocation: optional("revocation_endpoint", doc.revocation_endpoint),
        jwks: endpoint("jwks_uri", doc.jwks_uri)?,
        id_token_algs: doc
            .id_token_signing_alg_values_supported
            .iter()
            .filter_map(|v| v.as_str())
            .filter(|a| a.len() <= 16 && a.chars().all(|c| c.is_ascii_alphanumeric()))
            .map(str::to_string)
            .collect(),
        issuer: doc.issuer,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn realm(address: &str) -> Option<(String, String)> {
        realm_of(&Url::parse(address).unwrap()).map(|(n, b)| (n, b.to_string()))
    }

    #[test]
    fn realm_paths() {
        assert_eq!(
            realm("https://kc.example/auth/realms/corp/protocol/openid-connect/auth?client_id=x"),
            Some(("corp".into(), "https://kc.example/auth/realms/corp".into()))
        );
        assert_eq!(
            realm("https://kc.example:8443/realms/my%20realm/protocol/x"),
            Some((
                "my realm".into(),
                "https://kc.example:8443/realms/my%20realm".into()
            ))
        );
        assert_eq!(realm("https://kc.example/auth/realms/corp"), None);
        assert_eq!(realm("https://kc.example/auth/realms//x"), None);
        assert_eq!(
            realm("https://kc.example/login?next=/auth/realms/x/y"),
            None
        );
        assert_eq!(realm("ftp://kc.example/auth/realms/x/y"), None);
        assert_eq!(realm("https://u:p@kc.example/auth/realms/x/y"), None);
    }
}
