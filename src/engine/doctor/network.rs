//! The way to the server: the proxy conda would use (named without its password), the host's name, a TCP
//! connection, and TLS — the chain, the expiry and the host name, a missing CA named with the fix, a certificate
//! that changed since it was trusted refused. Each step within [`super::LIMIT`] and the run's [`super::BUDGET`].

use std::time::Instant;

use crate::engine::Engine;
use crate::engine::error::Error;

use super::{Check, Deadline, Group, Status};

/// The proxy for a URL, as conda would choose it: `.condarc`'s `proxy_servers`, else the environment's, unless
/// `NO_PROXY` (or `proxy_servers`' `no_proxy`) names the host.
pub(crate) struct Proxy {
    pub url: url::Url,
    pub source: String,
}

impl Proxy {
    /// `scheme://[user@]host:port`, never the password.
    pub fn shown(&self) -> String {
        let mut shown = self.url.clone();
        let _ = shown.set_password(None);
        shown.as_str().trim_end_matches('/').to_string()
    }
}

pub(crate) fn proxy_for(
    engine: &Engine,
    domain: &url::Url,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
) -> Option<Proxy> {
    let host = domain.host_str()?.to_ascii_lowercase();
    let settings = engine.condarc_settings();
    let from_condarc = |key: &str| {
        settings
            .proxy_servers
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    };
    let no_proxy: Vec<String> = from_condarc("no_proxy")
        .into_iter()
        .chain(env("NO_PROXY"))
        .chain(env("no_proxy"))
        .flat_map(|l| {
            l.split(',')
                .map(|s| s.trim().to_ascii_lowercase())
                .collect::<Vec<_>>()
        })
        .filter(|s| !s.is_empty())
        .collect();
    let excluded = no_proxy.iter().any(|entry| {
        entry == "*"
            || host == *entry
            || host.ends_with(&format!(".{}", entry.trim_start_matches('.')))
    });
    if excluded {
        return None;
    }
    let scheme = domain.scheme();
    let (value, source) = match from_condarc(scheme) {
        Some(v) => (v, "proxy_servers in .condarc".to_string()),
        None => {
            let names: &[&str] = if scheme == "https" {
                &["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]
            } else {
                &["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"]
            };
            names
                .iter()
                .find_map(|n| env(n).filter(|v| !v.is_empty()).map(|v| (v, n.to_string())))?
        }
    };
    let text = if value.contains("://") {
        value
    } else {
        format!("http://{value}")
    };
    url::Url::parse(&text).ok().map(|url| Proxy { url, source })
}

/// Where connections to the server go: the proxy, or the server itself.
struct Route {
    proxy: Option<Proxy>,
    host: String,
    port: u16,
}

/// The network checks, in order, stopping at the first that fails; whether the server can be reached (the server
/// and channel checks need it).
pub(crate) async fn checks(
    engine: &Engine,
    domain: &str,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
    deadline: Deadline,
) -> (Vec<Check>, bool) {
    let Ok(url) = url::Url::parse(domain) else {
        let check = Check::new(
            "domain",
            Group::Network,
            Status::Fail,
            format!("{domain} is not an address."),
        );
        return (vec![check], false);
    };
    let host = url.host_str().unwrap_or_default().to_string();
    let port = url.port_or_known_default().unwrap_or(443);
    let (route, proxy) = route(engine, &url, &host, port, env);
    let mut out = vec![proxy];
    let failed = |out: &Vec<Check>| out.last().is_some_and(|c| c.status == Status::Fail);
    if let Some(dns) = dns_check(&route, deadline).await {
        out.push(dns);
        if failed(&out) {
            return (out, false);
        }
    }
    out.push(connect_check(&route, &host, port, deadline).await);
    if failed(&out) {
        return (out, false);
    }
    if url.scheme() != "https" {
        out.push(plain_http_check(domain, &host));
        return (out, true);
    }
    out.push(tls_check(engine, domain, &host, deadline).await);
    let reachable = !failed(&out);
    (out, reachable)
}

/// The proxy conda would use for the server, if any, as a check that names it.
fn route(
    engine: &Engine,
    url: &url::Url,
    host: &str,
    port: u16,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
) -> (Route, Check) {
    match proxy_for(engine, url, env) {
        Some(p) => {
            let check = Check::new(
                "proxy",
                Group::Network,
                Status::Ok,
                format!(
                    "Requests to {host} go through the proxy {} (from {}).",
                    p.shown(),
                    p.source
                ),
            );
            let route = Route {
                host: p.url.host_str().unwrap_or_default().to_string(),
                port: p.url.port_or_known_default().unwrap_or(8080),
                proxy: Some(p),
            };
            (route, check)
        }
        None => {
            let check = Check::new(
                "proxy",
                Group::Network,
                Status::Ok,
                format!("No proxy for {host}."),
            );
            let route = Route {
                proxy: None,
                host: host.to_string(),
                port,
            };
            (route, check)
        }
    }
}

/// The name resolves (no check for an IP address).
async fn dns_check(route: &Route, deadline: Deadline) -> Option<Check> {
    let target_host = &route.host;
    let literal = target_host.parse::<std::net::IpAddr>().is_ok()
        || target_host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok();
    if literal {
        return None;
    }
    let lookup = tokio::time::timeout(
        deadline.step(),
        tokio::net::lookup_host((target_host.as_str(), route.port)),
    )
    .await
    .map(|found| found.map(|addresses| addresses.count()));
    Some(match lookup {
        Ok(Ok(count)) if count > 0 => Check::new(
            "dns",
            Group::Network,
            Status::Ok,
            format!("{target_host} resolves."),
        ),
        _ => Check::new(
            "dns",
            Group::Network,
            Status::Fail,
            format!("{target_host} does not resolve."),
        )
        .fix("Check the address, your network or VPN, and your DNS settings."),
    })
}

/// A TCP connection to the server or its proxy (`host:port` is the server's, for the message).
async fn connect_check(route: &Route, host: &str, port: u16, deadline: Deadline) -> Check {
    let (target_host, target_port) = (&route.host, route.port);
    let started = Instant::now();
    let limit = deadline.step();
    let connected = tokio::time::timeout(
        limit,
        tokio::net::TcpStream::connect((target_host.trim_matches(['[', ']']), target_port)),
    )
    .await;
    match connected {
        // the probe connection is closed at once (a server that handshakes one client at a time would wait on it)
        Ok(Ok(stream)) => {
            drop(stream);
            Check::new(
                "connect",
                Group::Network,
                Status::Ok,
                format!(
                    "{target_host}:{target_port} answers ({} ms).",
                    started.elapsed().as_millis()
                ),
            )
        }
        failed => {
            let why = match failed {
                Ok(Err(error)) => error.to_string(),
                _ => format!("no answer within {:.1} s", limit.as_secs_f32()),
            };
            match &route.proxy {
                Some(p) => Check::new(
                    "connect",
                    Group::Network,
                    Status::Fail,
                    format!(
                        "The proxy {} (from {}) cannot be reached ({why}).",
                        p.shown(),
                        p.source
                    ),
                )
                .fix("Check the proxy setting, or set NO_PROXY for this server."),
                None => Check::new(
                    "connect",
                    Group::Network,
                    Status::Fail,
                    format!("Nothing answers at {host}:{port} ({why})."),
                )
                .fix("Check that the server is up and that you are online (VPN)."),
            }
        }
    }
}

/// A server reached over plain HTTP: fine on this computer, a warning anywhere else.
fn plain_http_check(domain: &str, host: &str) -> Check {
    if crate::engine::domain::is_loopback(domain) {
        Check::new(
            "tls",
            Group::Network,
            Status::Ok,
            format!("{host} is this computer: plain HTTP does not leave it."),
        )
    } else {
        Check::new(
            "tls",
            Group::Network,
            Status::Warn,
            format!("{host} is reached over plain HTTP: the token travels unencrypted."),
        )
        .fix("Ask your administrator for the server's https:// address, and set that domain.")
    }
}

/// TLS: the handshake completes, then the certificate is verified with the real trust (or matches the one the user
/// trusted). A failed check means the server cannot be reached.
async fn tls_check(engine: &Engine, domain: &str, host: &str, deadline: Deadline) -> Check {
    let client = match engine.client(domain) {
        Ok(client) => client,
        Err(error) => {
            return Check::new("tls", Group::Network, Status::Fail, error.to_string());
        }
    };
    // the handshake alone (any certificate accepted, only to read it): does TLS complete at all?
    let limit = deadline.step();
    let presented = match tokio::time::timeout(limit, engine.server_certificate(domain)).await {
        Ok(Ok(cert)) => Some(cert),
        Ok(Err(error)) => {
            tracing::debug!(error = %error, "doctor: the certificate could not be read");
            None
        }
        Err(_) => {
            return Check::new(
                "tls",
                Group::Network,
                Status::Fail,
                format!("The TLS handshake with {host} did not finish within {:.1} s.", limit.as_secs_f32()),
            )
            .fix("The server (or a proxy in front of it) is overloaded or not speaking TLS on this port.");
        }
    };
    // then a request with the real trust: a certificate that cannot be verified fails in the handshake, at once
    let answer = tokio::time::timeout(deadline.step(), client.system()).await;
    match answer {
        Ok(Err(Error::CertificateChanged {
            trusted, presented, ..
        })) => Check::new(
            "tls",
            Group::Network,
            Status::Fail,
            format!(
                "The certificate of {host} changed since you trusted it (trusted SHA-256 {trusted}, now \
                 {presented}); conda-connect does not trust it."
            ),
        )
        .fix("If your administrator replaced it, compare the new fingerprint with theirs and trust it again (Set Domain)."),
        Ok(Err(Error::Tls { .. })) => {
            unverified_check(&client, domain, host, presented.as_ref()).await
        }
        // (a slow answer after a completed handshake is the server check's finding, not TLS's)
        Ok(Err(error @ Error::Unreachable { .. })) => {
            Check::new("tls", Group::Network, Status::Fail, error.to_string())
        }
        // verified (the request went past the handshake), or another answer: the server check says what it is
        Err(_) | Ok(_) => verified_check(engine, domain, host, presented.as_ref()),
    }
}

/// A certificate that cannot be verified: why (from the handshake itself), and what to do about it.
async fn unverified_check(
    client: &crate::engine::client::ServerClient,
    domain: &str,
    host: &str,
    presented: Option<&crate::engine::certificate::CertificateInfo>,
) -> Check {
    let reason = match client
        .http()
        .get(format!("{domain}/api/system"))
        .send()
        .await
    {
        Err(error) => certificate_reason(&error),
        Ok(_) => None,
    };
    let (issuer, subject, fingerprint) = presented
        .map(|c| (c.issuer.clone(), c.subject.clone(), c.sha256.clone()))
        .unwrap_or_else(|| ("an unknown issuer".into(), String::new(), String::new()));
    let why = match reason {
        Some(CertificateProblem::Expired) => "it has expired".to_string(),
        Some(CertificateProblem::NotYetValid) => {
            "it is not valid yet (is this computer's clock right?)".into()
        }
        Some(CertificateProblem::OtherName) => format!("it is not issued for {host}"),
        Some(CertificateProblem::Revoked) => "it was revoked".into(),
        _ if issuer == subject => {
            format!("it is self-signed ({issuer}), which this computer does not trust")
        }
        _ => format!("it is issued by {issuer}, which this computer does not trust"),
    };
    let fix = match reason {
        Some(CertificateProblem::Expired | CertificateProblem::Revoked) => {
            "Tell your administrator: the server's certificate must be replaced.".to_string()
        }
        Some(CertificateProblem::NotYetValid) => "Set this computer's date and time right.".into(),
        Some(CertificateProblem::OtherName) => format!(
            "Use the address the certificate is issued for, or tell your administrator that {host} is not in it."
        ),
        _ if issuer == subject => "Compare the fingerprint with your administrator's, then trust it (Set Domain), or \
            set ssl_verify: <the server's .pem> in ~/.condarc (or the SSL certificate path in Preferences)."
            .into(),
        _ => format!(
            "Ask your administrator for the CA certificate of {issuer} and set ssl_verify: <that .pem> in \
             ~/.condarc (or the SSL certificate path in Preferences)."
        ),
    };
    Check::new(
        "tls",
        Group::Network,
        Status::Fail,
        format!("The certificate of {host} cannot be verified: {why} (SHA-256 {fingerprint})."),
    )
    .fix(fix)
}

/// A certificate that is trusted: verified, or pinned on the user's consent; a warning when it expires soon.
fn verified_check(
    engine: &Engine,
    domain: &str,
    host: &str,
    presented: Option<&crate::engine::certificate::CertificateInfo>,
) -> Check {
    let pinned = engine.client_config(domain).ok().and_then(|c| c.pinned);
    let check = match (presented, &pinned) {
        (Some(cert), Some(_)) => Check::new(
            "tls",
            Group::Network,
            Status::Warn,
            format!(
                "The certificate of {host} is trusted on your consent, not verified (pinned SHA-256 {}).",
                cert.sha256
            ),
        ),
        (Some(cert), None) => Check::new(
            "tls",
            Group::Network,
            Status::Ok,
            format!(
                "The certificate of {host} is valid (issuer {}, expires {}).",
                cert.issuer, cert.not_after
            ),
        ),
        _ => Check::new(
            "tls",
            Group::Network,
            Status::Ok,
            format!("The certificate of {host} is valid."),
        ),
    };
    if let Some(cert) = presented
        && let Ok(until) = chrono::NaiveDate::parse_from_str(&cert.not_after, "%Y-%m-%d")
    {
        let days = (until - chrono::Utc::now().date_naive()).num_days();
        if days < 30 {
            return Check::new(
                "tls",
                Group::Network,
                Status::Warn,
                format!(
                    "The certificate of {host} expires in {days} days ({}).",
                    cert.not_after
                ),
            )
            .fix("Tell your administrator: the server's certificate must be renewed.");
        }
    }
    check
}

/// What the TLS handshake held against a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CertificateProblem {
    Expired,
    NotYetValid,
    OtherName,
    Revoked,
    UnknownIssuer,
}

fn certificate_reason(error: &reqwest::Error) -> Option<CertificateProblem> {
    use rustls::CertificateError as E;
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = source {
        if let Some(rustls::Error::InvalidCertificate(problem)) =
            current.downcast_ref::<rustls::Error>()
        {
            return Some(match problem {
                E::Expired | E::ExpiredContext { .. } => CertificateProblem::Expired,
                E::NotValidYet | E::NotValidYetContext { .. } => CertificateProblem::NotYetValid,
                E::NotValidForName | E::NotValidForNameContext { .. } => {
                    CertificateProblem::OtherName
                }
                E::Revoked => CertificateProblem::Revoked,
                _ => CertificateProblem::UnknownIssuer,
            });
        }
        // an io::Error's `source()` skips the error it wraps (rustls's, in hyper's connection error): look inside
        source = match current.downcast_ref::<std::io::Error>() {
            Some(io) => io
                .get_ref()
                .map(|inner| inner as &(dyn std::error::Error + 'static)),
            None => current.source(),
        };
    }
    None
}
