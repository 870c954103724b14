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

/// Where a channel name leads, as conda resolves it: a full URL as it is; a name whose leading path segments are a
/// `custom_channels` key under that key's URL (the longest key wins); any other name under `channel_alias`.
pub fn resolve_channel(settings: &CondaSettings, name: &str) -> ChannelSource {
    let url = if name.contains("://") {
        name.trim_end_matches('/').to_string()
    } else {
        let name = name.trim_matches('/');
        let known = custom_channels(settings);
        let custom = known
            .iter()
            .filter(|(key, _)| {
                let key = key.trim_matches('/');
                name == key || name.starts_with(&format!("{key}/"))
            })
            .max_by_key(|(key, _)| key.len());
        match custom {
            Some((_, base)) => format!("{}/{name}", base.trim_end_matches('/')),
            None => format!("{}/{name}", channel_alias(settings)),
        }
    };
    ChannelSource {
        name: name.to_string(),
        url,
    }
}

/// The names conda resolves outside `channel_alias`: `custom_channels`, overlaid (as conda does) with the
/// channels of `default_channels` (conda's built-in ones when it is not set) — a full URL there names a channel
/// by its path at its host, so `pkgs/main` is `https://repo.anaconda.com/pkgs/main`.
fn custom_channels(settings: &CondaSettings) -> Vec<(String, String)> {
    let mut out = settings.custom_channels.clone();
    let alias = format!("{}/", channel_alias(settings));
    let defaults: Vec<String> = match &settings.default_channels {
        Some(listed) if !listed.is_empty() => listed.clone(),
        _ => BUILTIN_DEFAULTS.iter().map(|u| u.to_string()).collect(),
    };
    for entry in defaults.iter().filter(|d| d.contains("://")) {
        let entry = entry.trim_end_matches('/');
        if entry.starts_with(&alias) {
            continue;
        }
        let Ok(url) = url::Url::parse(entry) else {
            continue;
        };
        let name = url.path().trim_matches('/').to_string();
        if name.is_empty() {
            continue;
        }
        let base = entry[..entry.len() - url.path().trim_end_matches('/').len()].to_string();
        out.retain(|(n, _)| *n != name);
        out.push((name, base));
    }
    out
}

/// The alias names resolve under (conda's default when none is set).
pub fn channel_alias(settings: &CondaSettings) -> String {
    settings
        .channel_alias
        .as_deref()
        .unwrap_or(DEFAULT_ALIAS)
        .trim_end_matches('/')
        .to_string()
}

/// The channels conda would use: `channels`, with `defaults` expanded to `default_channels` (or conda's built-in
/// defaults), names resolved by [`resolve_channel`].
pub(crate) fn configured_channels(settings: &CondaSettings) -> Vec<ChannelSource> {
    let resolve = |name: &str| resolve_channel(settings, name);
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
pub(crate) fn tokenized(url: &str, domain: &str, token: Option<&str>) -> String {
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

    #[test]
    fn custom_channels_take_their_names_away_from_the_alias() {
        let settings = CondaSettings {
            channel_alias: Some("http://h/api/repo".into()),
            custom_channels: vec![
                ("team".into(), "https://mirror.example/conda/".into()),
                ("team/deep".into(), "https://deep.example".into()),
            ],
            ..Default::default()
        };
        let url = |name: &str| resolve_channel(&settings, name).url;
        assert_eq!(url("team"), "https://mirror.example/conda/team");
        assert_eq!(url("team/sub"), "https://mirror.example/conda/team/sub");
        assert_eq!(url("team/deep/x"), "https://deep.example/team/deep/x");
        assert_eq!(url("teamwork"), "http://h/api/repo/teamwork");
        assert_eq!(url("internal"), "http://h/api/repo/internal");
        // conda's built-in defaults name pkgs/main and pkgs/r at repo.anaconda.com
        assert_eq!(url("pkgs/main"), "https://repo.anaconda.com/pkgs/main");
        let settings = CondaSettings {
            default_channels: Some(vec![
                "https://mirror.example/conda/forge".into(),
                "main".into(),
            ]),
            ..settings
        };
        assert_eq!(
            resolve_channel(&settings, "conda/forge").url,
            "https://mirror.example/conda/forge"
        );
        assert_eq!(
            resolve_channel(&settings, "pkgs/main").url,
            "http://h/api/repo/pkgs/main"
        );
    }
}
