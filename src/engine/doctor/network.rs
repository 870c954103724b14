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

/// The network checks; whether the server can be reached (the server and channel checks need it).
pub(crate) async fn checks(
    engine: &Engine,
    domain: &str,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
    deadline: Deadline,
) -> (Vec<Check>, bool) {
    let mut out = Vec::new();
    let Ok(url) = url::Url::parse(domain) else {
        out.push(Check::new(
            "domain",
            Group::Network,
            Status::Fail,
            format!("{domain} is not an address."),
        ));
        return (out, false);
    };
    let host = url.host_str().unwrap_or_default().to_string();
    let port = url.port_or_known_default().unwrap_or(443);
    let proxy = proxy_for(engine, &url, env);
    let (target_host, target_port) = match &proxy {
        Some(p) => {
            out.push(Check::new(
                "proxy",
                Group::Network,
                Status::Ok,
                format!(
                    "Requests to {host} go through the proxy {} (from {}).",
                    p.shown(),
                    p.source
                ),
            ));
            (
                p.url.host_str().unwrap_or_default().to_string(),
                p.url.port_or_known_default().unwrap_or(8080),
            )
        }
        None => {
            out.push(Check::new(
                "proxy",
                Group::Network,
                Status::Ok,
                format!("No proxy for {host}."),
            ));
            (host.clone(), port)
        }
    };
    // the name
    let literal = target_host.parse::<std::net::IpAddr>().is_ok()
        || target_host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok();
    if !literal {
        let lookup = tokio::time::timeout(
            deadline.step(),
            tokio::net::lookup_host((target_host.as_str(), target_port)),
        )
        .await
        .map(|found| found.map(|addresses| addresses.count()));
        match lookup {
            Ok(Ok(count)) if count > 0 => out.push(Check::new(
                "dns",
                Group::Network,
                Status::Ok,
                format!("{target_host} resolves."),
            )),
            _ => {
                out.push(
                    Check::new(
                        "dns",
                        Group::Network,
                        Status::Fail,
                        format!("{target_host} does not resolve."),
                    )
                    .fix("Check the address, your network or VPN, and your DNS settings."),
                );
                return (out, false);
            }
        }
    }
    // a connection
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
            out.push(Check::new(
                "connect",
                Group::Network,
                Status::Ok,
                format!(
                    "{target_host}:{target_port} answers ({} ms).",
                    started.elapsed().as_millis()
                ),
            ))
        }
        failed => {
            let why = match failed {
                Ok(Err(error)) => error.to_string(),
                _ => format!("no answer within {:.1} s", limit.as_secs_f32()),
            };
            let check = match &proxy {
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
            };
            out.push(check);
            return (out, false);
        }
    }
    if url.scheme() != "https" {
        out.push(if crate::engine::domain::is_loopback(domain) {
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
        });
        return (out, true);
    }
    let reachable = tls_check(engine, domain, &host, &mut out, deadline).await;
    (out, reachable)
}

async fn tls_check(
    engine: &Engine,
    domain: &str,
    host: &str,
    out: &mut Vec<Check>,
    deadline: Deadline,
) -> bool {
    let client = match engine.client(domain) {
        Ok(client) => client,
        Err(error) => {
            out.push(Check::new(
                "tls",
                Group::Network,
                Status::Fail,
                error.to_string(),
            ));
            return false;
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
            out.push(
                Check::new(
                    "tls",
                    Group::Network,
                    Status::Fail,
                    format!("The TLS handshake with {host} did not finish within {:.1} s.", limit.as_secs_f32()),
                )
                .fix("The server (or a proxy in front of it) is overloaded or not speaking TLS on this port."),
            );
            return false;
        }
    };
    // then a request with the real trust: a certificate that cannot be verified fails in the handshake, at once
    let answer = tokio::time::timeout(deadline.step(), client.system()).await;
    match answer {
        Ok(Err(Error::CertificateChanged {
            trusted, presented, ..
        })) => {
            out.push(
                Check::new(
                    "tls",
                    Group::Network,
                    Status::Fail,
                    format!(
                        "The certificate of {host} changed since you trusted it (trusted SHA-256 {trusted}, now \
                         {presented}); conda-connect does not trust it."
                    ),
                )
                .fix("If your administrator replaced it, compare the new fingerprint with theirs and trust it again (Set Domain)."),
            );
            false
        }
        Ok(Err(Error::Tls { .. })) => {
            // the reason, from the handshake itself
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
                .as_ref()
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
            out.push(
                Check::new(
                    "tls",
                    Group::Network,
                    Status::Fail,
                    format!("The certificate of {host} cannot be verified: {why} (SHA-256 {fingerprint})."),
                )
                .fix(fix),
            );
            false
        }
        // (a slow answer after a completed handshake is the server check's finding, not TLS's)
        Ok(Err(error @ Error::Unreachable { .. })) => {
            out.push(Check::new(
                "tls",
                Group::Network,
                Status::Fail,
                error.to_string(),
            ));
            false
        }
        // verified (the request went past the handshake), or another answer: the server check says what it is
        Err(_) | Ok(_) => {
            let pinned = engine.client_config(domain).ok().and_then(|c| c.pinned);
            let mut check = match (&presented, &pinned) {
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
            if let Some(cert) = &presented
                && let Ok(until) = chrono::NaiveDate::parse_from_str(&cert.not_after, "%Y-%m-%d")
            {
                let days = (until - chrono::Utc::now().date_naive()).num_days();
                if days < 30 {
                    check = Check::new(
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
            out.push(check);
            true
        }
    }
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
        source = current.source();
    }
    None
}
