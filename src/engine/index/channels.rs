//! Which repodata Update Index fetches: the channels conda would use (with `defaults` and `channel_alias`
//! resolved), the platform subdirectory, and the access-token URL form conda uses.

use crate::engine::condarc::CondaSettings;

const DEFAULT_ALIAS: &str = "https://conda.anaconda.org";
const BUILTIN_DEFAULTS: [&str; 2] = [
    "https://repo.anaconda.com/pkgs/main",
    "https://repo.anaconda.com/pkgs/r",
];

/// conda's name for this machine's platform.
pub fn platform_subdir() -> &'static str {
    match (std::env::consts::OS, std::env::consts::ARCH) {
        ("linux", "x86_64") => "linux-64",
        ("linux", "aarch64") => "linux-aarch64",
        ("linux", "powerpc64") => "linux-ppc64le",
        ("macos", "x86_64") => "osx-64",
        ("macos", "aarch64") => "osx-arm64",
        ("windows", "x86_64") => "win-64",
        ("windows", "aarch64") => "win-arm64",
        _ => "linux-64",
    }
}

/// One configured channel: its name as configured and its base URL (no token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelSource {
    pub name: String,
    pub url: String,
}

/// The channels conda would use: `channels`, with `defaults` expanded to `default_channels` (or conda's built-in
/// defaults), names resolved through `channel_alias`.
pub fn configured_channels(settings: &CondaSettings) -> Vec<ChannelSource> {
    let alias = settings
        .channel_alias
        .clone()
        .unwrap_or_else(|| DEFAULT_ALIAS.into());
    let alias = alias.trim_end_matches('/');
    let resolve = |name: &str| -> ChannelSource {
        let url = if name.contains("://") {
            name.trim_end_matches('/').to_string()
        } else {
            format!("{alias}/{name}")
        };
        ChannelSource {
            name: name.to_string(),
            url,
        }
    };
    let channels = match &settings.channels {
        Some(listed) if !listed.is_empty() => listed.clone(),
        _ => vec!["defaults".into()],
    };
    let mut out: Vec<ChannelSource> = Vec::new();
    for name in channels {
        if name == "defaults" {
            match &settings.default_channels {
                Some(defaults) if !defaults.is_empty() => {
                    out.extend(defaults.iter().map(|n| resolve(n)))
                }
                _ => out.extend(BUILTIN_DEFAULTS.iter().map(|u| resolve(u))),
            }
        } else {
            out.push(resolve(&name));
        }
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|c| seen.insert(c.url.clone()));
    out
}

/// Insert the token the way conda does for URLs under `<domain>/api/repo`.
pub fn tokenized(url: &str, domain: &str, token: Option<&str>) -> String {
    let prefix = format!("{domain}/api/repo/");
    match (token, url.strip_prefix(&prefix)) {
        (Some(token), Some(rest)) if !rest.starts_with("t/") => format!("{prefix}t/{token}/{rest}"),
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_resolve_like_conda() {
        let settings = CondaSettings {
            channel_alias: Some("http://h/api/repo".into()),
            channels: Some(vec![
                "defaults".into(),
                "internal".into(),
                "https://other/x".into(),
            ]),
            default_channels: Some(vec!["main".into()]),
            ..Default::default()
        };
        let urls: Vec<String> = configured_channels(&settings)
            .into_iter()
            .map(|c| c.url)
            .collect();
        assert_eq!(
            urls,
            vec![
                "http://h/api/repo/main",
                "http://h/api/repo/internal",
                "https://other/x"
            ]
        );
        assert_eq!(
            tokenized(
                "http://h/api/repo/main/noarch/repodata.json",
                "http://h",
                Some("abc")
            ),
            "http://h/api/repo/t/abc/main/noarch/repodata.json"
        );
        assert_eq!(
            tokenized(
                "https://other/x/noarch/repodata.json",
                "http://h",
                Some("abc")
            ),
            "https://other/x/noarch/repodata.json"
        );
    }
}
