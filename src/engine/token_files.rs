//! The files conda reads its tokens from (docs/design.md#7-condas-token-files): `quote_plus(<url>).token` holding the bare
//! token (no newline), mode 0600, in every directory a conda version reads — so plain `conda install` reaches
//! private channels. Also how an existing command-line login (conda-repo-cli or these files) is detected.

use std::path::{Path, PathBuf};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

use crate::engine::paths::Paths;

/// A small text file's content, or `None` (absent, unreadable, not a regular file, not UTF-8).
fn read_text(path: &Path) -> Option<String> {
    crate::engine::files::read_optional(path)
        .ok()
        .flatten()
        .and_then(|b| String::from_utf8(b).ok())
}

/// Python's `urllib.parse.quote_plus` (safe: letters, digits, `_.-~`; space → `+`).
pub fn quote_plus(text: &str) -> String {
    const SET: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'_')
        .remove(b'.')
        .remove(b'-')
        .remove(b'~')
        .remove(b' ');
    utf8_percent_encode(text, SET).to_string().replace(' ', "+")
}

/// Inverse of [`quote_plus`].
pub fn unquote_plus(text: &str) -> String {
    percent_decode_str(&text.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

/// The URLs a sign-in writes a token file for: `<domain>/api` and `<domain>/api/repo`.
pub fn token_urls(domain: &str) -> [String; 2] {
    [format!("{domain}/api"), format!("{domain}/api/repo")]
}

/// Every token file a sign-in writes, in every directory.
pub fn token_file_paths(paths: &Paths, domain: &str) -> Vec<PathBuf> {
    let names: Vec<String> = token_urls(domain)
        .iter()
        .map(|u| format!("{}.token", quote_plus(u)))
        .collect();
    paths
        .token_dirs
        .iter()
        .flat_map(|d| names.iter().map(move |n| d.join(n)))
        .collect()
}

/// Every file sign-out removes: `.token` and `.jwt` names for the domain, `jwt_<domain>`, `…/api` and
/// `…/api/repo` (Navigator's set, so a Navigator sign-in is cleaned up too).
pub fn removal_paths(paths: &Paths, domain: &str) -> Vec<PathBuf> {
    let [api, repo] = token_urls(domain);
    let stems = [domain.to_string(), format!("jwt_{domain}"), api, repo];
    let mut out = Vec::new();
    for dir in &paths.token_dirs {
        for stem in &stems {
            for ext in ["token", "jwt"] {
                out.push(dir.join(format!("{}.{ext}", quote_plus(stem))));
            }
        }
    }
    out
}

/// `(url, token)` for every `*.token` file in `dir`.
pub fn read_token_dir(dir: &Path) -> Vec<(String, String)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<(String, String)> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let stem = name.strip_suffix(".token")?;
            let token = read_text(&e.path())?;
            let token = token.trim().to_string();
            (!token.is_empty()).then(|| (unquote_plus(stem), token))
        })
        .collect();
    out.sort();
    out
}

/// A token for `domain` already on disk in a directory conda reads (a Navigator or command-line sign-in).
/// Matching is by URL prefix at a path boundary — not a substring match as Navigator does, which would take a
/// token for `https://repo.example.com.evil` for one of `https://repo.example.com`
/// (docs/design.md#74-sign-ins-made-elsewhere).
pub fn find_token_for(paths: &Paths, domain: &str) -> Option<String> {
    paths.token_dirs.iter().find_map(|dir| {
        read_token_dir(dir).into_iter().find_map(|(url, token)| {
            let url = url.trim_end_matches('/');
            let rest = url.strip_prefix(domain)?;
            (rest.is_empty() || rest.starts_with('/')).then_some(token)
        })
    })
}

/// The token files of conda-repo-cli's default site (those that exist), for signing out of it.
pub fn repo_cli_token_paths(paths: &Paths) -> Vec<PathBuf> {
    let Some(url) = repo_cli_site_url(paths) else {
        return Vec::new();
    };
    let name = format!("{}.token", quote_plus(&url));
    paths
        .repo_cli_token_dirs
        .iter()
        .map(|dir| dir.join(&name))
        .filter(|p| p.is_file())
        .collect()
}

fn repo_cli_site_url(paths: &Paths) -> Option<String> {
    let text = read_text(&paths.repo_cli_config)?;
    let value: yaml_serde::Value = yaml_serde::from_str(&text).ok()?;
    let site = value.get("default_site")?.as_str()?;
    Some(
        value
            .get("sites")?
            .get(site)?
            .get("url")?
            .as_str()?
            .trim_end_matches('/')
            .to_string(),
    )
}

/// A conda-repo-cli sign-in: its config names a default site whose URL has a token file.
/// Returns `(domain, token)`; the domain is `scheme://netloc` of the site URL, as Navigator derives it.
pub fn find_repo_cli_login(paths: &Paths) -> Option<(String, String)> {
    let url = repo_cli_site_url(paths)?;
    let parsed = url::Url::parse(&url).ok()?;
    let domain = format!("{}://{}", parsed.scheme(), parsed.host_str()?)
        + &parsed.port().map(|p| format!(":{p}")).unwrap_or_default();
    let name = format!("{}.token", quote_plus(&url));
    paths
        .repo_cli_token_dirs
        .iter()
        .chain(paths.token_dirs.iter())
        .find_map(|dir| {
            let token = read_text(&dir.join(&name))?;
            let token = token.trim().to_string();
            (!token.is_empty()).then(|| (domain.clone(), token))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_plus_matches_python() {
        assert_eq!(
            quote_plus("https://repo.example.com/api"),
            "https%3A%2F%2Frepo.example.com%2Fapi"
        );
        assert_eq!(
            quote_plus("http://127.0.0.1:8765/api/repo"),
            "http%3A%2F%2F127.0.0.1%3A8765%2Fapi%2Frepo"
        );
        assert_eq!(quote_plus("jwt_a b~c"), "jwt_a+b~c");
        assert_eq!(
            unquote_plus(&quote_plus("https://h:1/x y")),
            "https://h:1/x y"
        );
    }

    #[test]
    fn paths_cover_every_dir() {
        // the Linux layout on any OS (the Windows and macOS ones are checked in `paths`)
        let paths = Paths::for_platform(
            crate::engine::paths::Platform::Linux,
            Path::new("/home/u"),
            &|_| None,
        );
        let files = token_file_paths(&paths, "https://repo.example.com");
        assert_eq!(files.len(), 6);
        assert!(files.contains(&PathBuf::from(
            "/home/u/.config/binstar/https%3A%2F%2Frepo.example.com%2Fapi.token"
        )));
        assert!(files.contains(&PathBuf::from(
            "/home/u/.continuum/anaconda-client/tokens/https%3A%2F%2Frepo.example.com%2Fapi%2Frepo.token"
        )));
        assert_eq!(removal_paths(&paths, "https://repo.example.com").len(), 24);
    }

    #[test]
    fn detection_is_prefix_at_boundary() {
        let home = tempfile::tempdir().unwrap();
        let paths = Paths::under_home(home.path());
        let dir = &paths.token_dirs[0];
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(
            dir.join(format!(
                "{}.token",
                quote_plus("https://repo.example.com.evil/api")
            )),
            "x",
        )
        .unwrap();
        assert_eq!(find_token_for(&paths, "https://repo.example.com"), None);
        std::fs::write(
            dir.join(format!(
                "{}.token",
                quote_plus("https://repo.example.com/api")
            )),
            "tok",
        )
        .unwrap();
        assert_eq!(
            find_token_for(&paths, "https://repo.example.com").as_deref(),
            Some("tok")
        );
    }

    #[test]
    fn repo_cli_login() {
        let home = tempfile::tempdir().unwrap();
        let paths = Paths::under_home(home.path());
        std::fs::create_dir_all(paths.repo_cli_config.parent().unwrap()).unwrap();
        std::fs::write(
            &paths.repo_cli_config,
            "default_site: corp\nsites:\n  corp:\n    url: http://127.0.0.1:9000/api\n",
        )
        .unwrap();
        assert_eq!(find_repo_cli_login(&paths), None);
        let dir = &paths.repo_cli_token_dirs[1];
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(
            dir.join(format!("{}.token", quote_plus("http://127.0.0.1:9000/api"))),
            "abc",
        )
        .unwrap();
        assert_eq!(
            find_repo_cli_login(&paths),
            Some(("http://127.0.0.1:9000".into(), "abc".into()))
        );
    }
}
