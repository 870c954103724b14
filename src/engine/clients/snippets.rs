//! Copyable settings for pip and uv, for a channel the user names (the server's PyPI form of a channel is
//! `<domain>/api/repo/<channel>/simple`, Basic `<token>:x-auth-token`). Shown, never written: `status --snippets
//! CHANNEL`, the Tokens screen, and `conda-connect env --pypi-channel` for CI.

use super::rattler::X_AUTH_TOKEN;

/// The index URL of `channel`'s PyPI form, without credentials.
pub fn index_url(domain: &str, channel: &str) -> String {
    format!("{}/api/repo/{channel}/simple", domain.trim_end_matches('/'))
}

/// `PIP_INDEX_URL` with the token in its userinfo.
pub fn pip_index_url(domain: &str, token: &str, channel: &str) -> String {
    let (scheme, rest) = domain.split_once("://").unwrap_or(("https", domain));
    format!(
        "{scheme}://{token}:{X_AUTH_TOKEN}@{}/api/repo/{channel}/simple",
        rest.trim_end_matches('/')
    )
}

/// uv's index name for `channel`, and the upper-case part of its variables (`UV_INDEX_<NAME>_USERNAME`: name
/// upper-cased, every character that is not a letter or digit made `_`).
pub fn uv_index_name(channel: &str) -> (String, String) {
    let name: String = channel
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let variable = channel
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    (name, variable)
}

/// Every snippet for `channel`: `(label, text)` pairs, in the order shown.
pub fn for_channel(domain: &str, token: &str, channel: &str) -> Vec<(String, String)> {
    let (name, variable) = uv_index_name(channel);
    vec![
        (
            "pip".into(),
            format!("PIP_INDEX_URL={}", pip_index_url(domain, token, channel)),
        ),
        (
            "uv".into(),
            format!(
                "UV_INDEX_{variable}_USERNAME={token}\nUV_INDEX_{variable}_PASSWORD={X_AUTH_TOKEN}"
            ),
        ),
        (
            "uv (pyproject.toml)".into(),
            format!(
                "[[tool.uv.index]]\nname = \"{name}\"\nurl = \"{}\"",
                index_url(domain, channel)
            ),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippets_follow_pip_and_uv() {
        assert_eq!(
            pip_index_url("https://repo.example.com", "tok", "internal"),
            "https://tok:x-auth-token@repo.example.com/api/repo/internal/simple"
        );
        assert_eq!(
            uv_index_name("team/sub-x"),
            ("team-sub-x".into(), "TEAM_SUB_X".into())
        );
        let all = for_channel("http://127.0.0.1:8765", "tok", "internal");
        assert!(all[1].1.contains("UV_INDEX_INTERNAL_USERNAME=tok"));
        assert!(
            all[2]
                .1
                .contains("url = \"http://127.0.0.1:8765/api/repo/internal/simple\"")
        );
    }
}
