//! Domain normalisation (docs/design.md#10-domain-normalisation): what the user types into Set Domain becomes
//! the server root that every API path is joined onto.

use crate::engine::error::{Error, Result};
use url::Url;

/// Normalise a typed server address:
/// lower-case scheme and host, strip a **leading** `api.` host label only, strip the path from the first `/api`
/// segment on (a base path before it is kept), drop query and fragment, no trailing slash. A scheme (`http` or
/// `https`) is required; user info in the URL is refused.
pub fn normalize_domain(input: &str) -> Result<String> {
    let input = input.trim();
    let lower = input.to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        return Err(Error::InvalidDomain);
    }
    let url = Url::parse(input).map_err(|_| Error::InvalidDomain)?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::InvalidDomain);
    }
    let host = url
        .host_str()
        .ok_or(Error::InvalidDomain)?
        .to_ascii_lowercase();
    let host = match host.strip_prefix("api.") {
        Some(rest) if rest.contains('.') || rest.parse::<std::net::Ipv4Addr>().is_ok() => {
            rest.to_string()
        }
        Some(rest) if !rest.is_empty() && !host.starts_with('[') => rest.to_string(),
        _ => host,
    };
    if host.is_empty() {
        return Err(Error::InvalidDomain);
    }
    let mut base = Vec::new();
    for segment in url.path().split('/').filter(|s| !s.is_empty()) {
        if segment.eq_ignore_ascii_case("api") {
            break;
        }
        base.push(segment);
    }
    let mut out = format!("{}://{}", url.scheme(), host);
    if let Some(port) = url.port() {
        out.push_str(&format!(":{port}"));
    }
    for segment in base {
        out.push('/');
        out.push_str(segment);
    }
    Ok(out)
}

/// `host[:port]` of a normalised domain, as Navigator records trusted servers.
pub fn netloc(domain: &str) -> String {
    match Url::parse(domain) {
        Ok(url) => match (url.host_str(), url.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_string(),
            _ => domain.to_string(),
        },
        Err(_) => domain.to_string(),
    }
}

/// True when the domain's host is a loopback address (plain `http://` is accepted silently only there).
pub fn is_loopback(domain: &str) -> bool {
    match Url::parse(domain)
        .ok()
        .and_then(|u| u.host().map(|h| h.to_owned()))
    {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    }
}

/// A warning for a plain `http://` domain that is not on this machine: the password and tokens would cross the
/// network unencrypted. `None` for `https://` and for loopback.
pub fn plain_http_warning(domain: &str) -> Option<String> {
    (domain.starts_with("http://") && !is_loopback(domain)).then(|| {
        format!(
            "{domain} uses plain http: your password and tokens would travel unencrypted. Use https:// unless this \
             server is on a network you trust."
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decision_table() {
        let cases = [
            ("https://repo.example.com/api", "https://repo.example.com"),
            (
                "HTTPS://API.Repo.Example.com/api/system",
                "https://repo.example.com",
            ),
            ("http://10.0.0.5:8080/api/repo/", "http://10.0.0.5:8080"),
            ("https://myapi.example.com", "https://myapi.example.com"),
            (
                "https://host.example.com/sub/api",
                "https://host.example.com/sub",
            ),
            ("  https://repo.example.com/  ", "https://repo.example.com"),
            ("https://repo.example.com:443/", "https://repo.example.com"),
            (
                "http://127.0.0.1:8080/api/system?x=1#f",
                "http://127.0.0.1:8080",
            ),
            ("https://host/Sub/Path/", "https://host/Sub/Path"),
            ("https://host/apidocs", "https://host/apidocs"),
        ];
        for (input, want) in cases {
            assert_eq!(
                normalize_domain(input).as_deref(),
                Ok(want),
                "input {input:?}"
            );
        }
    }

    #[test]
    fn refusals() {
        for bad in [
            "repo.example.com",
            "ftp://x.org",
            "",
            "https://",
            "https://user:pw@host",
            "http//x",
        ] {
            assert_eq!(
                normalize_domain(bad),
                Err(Error::InvalidDomain),
                "input {bad:?}"
            );
        }
    }

    #[test]
    fn netloc_and_loopback() {
        assert_eq!(netloc("https://repo.example.com"), "repo.example.com");
        assert_eq!(netloc("http://127.0.0.1:8080/sub"), "127.0.0.1:8080");
        assert!(is_loopback("http://127.0.0.1:9"));
        assert!(is_loopback("http://localhost:9"));
        assert!(!is_loopback("http://10.0.0.5"));
    }
}

#[cfg(test)]
mod warning_tests {
    use super::*;

    #[test]
    fn plain_http_warns_except_on_loopback() {
        assert!(plain_http_warning("http://repo.example.com").is_some());
        assert!(plain_http_warning("http://10.0.0.5:8080").is_some());
        assert_eq!(plain_http_warning("https://repo.example.com"), None);
        assert_eq!(plain_http_warning("http://127.0.0.1:8080"), None);
        assert_eq!(plain_http_warning("http://localhost:8080"), None);
        assert_eq!(plain_http_warning("http://[::1]:8080"), None);
        assert_eq!(plain_http_warning("http://[::ffff:127.0.0.1]:8080"), None);
        assert!(plain_http_warning("http://[::ffff:10.0.0.5]:8080").is_some());
    }
}
