//! rattler's credentials — what pixi, rattler-build and py-rattler send to a server (docs/design.md#19-every-client-
//! at-the-desk). rattler looks a host up in `$RATTLER_AUTH_FILE`, then the OS keyring (service `rattler`, account =
//! the host, value = the JSON of one entry), then `~/.rattler/credentials.json` (one JSON object, host → entry),
//! then netrc; the first hit wins, and the key is the URL's host alone (no scheme, no port, no path).
//!
//! conda-connect writes one entry for the server's host at sign-in — into the keyring when the OS keyring answers,
//! else merged into `credentials.json` (every other host kept, 0600, atomically) — and removes it at sign-out only
//! if it still holds conda-connect's value, putting back an entry that was there before. It never writes a wildcard
//! key, `$RATTLER_AUTH_FILE` or pixi's `authentication-override-file`; it reports them when they would be read
//! first. A `credentials.json` that does not parse is refused, never rewritten (rattler itself fails on it).

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::engine::error::{Error, Result};
use crate::engine::paths::Paths;

/// The keyring service rattler reads.
pub const SERVICE: &str = "rattler";
/// The password of Anaconda Server's documented Basic form (`<token>:x-auth-token`).
pub const X_AUTH_TOKEN: &str = "x-auth-token";

/// How rattler sends the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Form {
    /// `Authorization: Basic base64(<token>:x-auth-token)` on every request to the host.
    #[serde(rename = "BasicHTTP")]
    BasicHttp,
    /// `/t/<token>` put in front of the whole path (`https://host/t/<token>/api/repo/…`).
    CondaToken,
}

impl Form {
    pub fn name(self) -> &'static str {
        match self {
            Form::BasicHttp => "BasicHTTP",
            Form::CondaToken => "CondaToken",
        }
    }
}

/// The entry for `token` in `form`, as rattler (serde's external tagging) reads it.
pub fn entry(form: Form, token: &str) -> Value {
    match form {
        Form::BasicHttp => {
            serde_json::json!({"BasicHTTP": {"username": token, "password": X_AUTH_TOKEN}})
        }
        Form::CondaToken => serde_json::json!({"CondaToken": token}),
    }
}

/// The key rattler looks a server up by: its host, lower-cased, without port (`None` for an address without a
/// host).
pub fn host_of(domain: &str) -> Option<String> {
    let url = url::Url::parse(domain).ok()?;
    url.host_str().map(|h| h.to_ascii_lowercase())
}

/// `~/.rattler/credentials.json` (`%USERPROFILE%\.rattler\credentials.json` on Windows).
pub fn credentials_file(paths: &Paths) -> PathBuf {
    paths.home.join(".rattler").join("credentials.json")
}

fn refused(path: &Path, why: &str) -> Error {
    Error::Refused {
        reason: format!(
            "{} is not a valid rattler credentials file ({why}), so conda-connect leaves it unchanged; pixi and \
             rattler cannot read it either. Fix or move it away and sign in again.",
            path.display()
        ),
    }
}

/// The host → entry object of a `credentials.json`; an empty file is empty. Anything else (not JSON, not an
/// object) is refused with a sentence.
pub fn parse(path: &Path, text: &str) -> Result<Map<String, Value>> {
    if text.trim().is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(refused(path, "not a JSON object")),
        Err(_) => Err(refused(path, "not JSON")),
    }
}

/// The file with `host`'s entry set to `value` (or removed), every other host kept. Written compact, with sorted
/// keys, as rattler writes it.
pub fn with_entry(
    path: &Path,
    text: Option<&str>,
    host: &str,
    value: Option<&Value>,
) -> Result<String> {
    let mut map = parse(path, text.unwrap_or(""))?;
    match value {
        Some(value) => {
            map.insert(host.to_string(), value.clone());
        }
        None => {
            map.remove(host);
        }
    }
    Ok(serde_json::to_string(&Value::Object(map)).expect("a JSON object serialises"))
}

/// The entry `host` has in a `credentials.json` text, if any.
pub fn entry_in(path: &Path, text: Option<&str>, host: &str) -> Result<Option<Value>> {
    Ok(parse(path, text.unwrap_or(""))?.get(host).cloned())
}

/// Where rattler would look before the entry conda-connect writes, and find something: sentences for the user.
/// `env` reads the environment; `stored_in_file` says whether conda-connect's entry goes to the file (then a
/// keyring entry would shadow it, but without a keyring there is none to read).
pub fn shadowing(paths: &Paths, host: &str, env: &dyn Fn(&str) -> Option<String>) -> Vec<String> {
    let mut notes = Vec::new();
    if let Some(file) = env("RATTLER_AUTH_FILE").filter(|f| !f.is_empty()) {
        notes.push(format!(
            "RATTLER_AUTH_FILE names {file}: pixi and rattler read it before the credential conda-connect stored \
             for {host}, and conda-connect does not change it."
        ));
    }
    for config in pixi_configs(paths, env) {
        if std::fs::read_to_string(&config).is_ok_and(|t| {
            t.lines()
                .any(|l| l.trim_start().starts_with("authentication-override-file"))
        }) {
            notes.push(format!(
                "{} sets pixi's authentication-override-file: pixi reads that file before the credential \
                 conda-connect stored for {host}, and conda-connect does not change it.",
                config.display()
            ));
        }
    }
    notes
}

/// pixi's configuration files, in the order pixi reads them.
fn pixi_configs(paths: &Paths, env: &dyn Fn(&str) -> Option<String>) -> Vec<PathBuf> {
    let mut out = vec![
        PathBuf::from("/etc/pixi/config.toml"),
        paths.home.join(".config").join("pixi").join("config.toml"),
    ];
    if let Some(xdg) = env("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        out.push(PathBuf::from(xdg).join("pixi").join("config.toml"));
    }
    out.push(paths.home.join(".pixi").join("config.toml"));
    if let Some(pixi_home) = env("PIXI_HOME").filter(|v| !v.is_empty()) {
        out.push(PathBuf::from(pixi_home).join("config.toml"));
    }
    out
}

/// A credentials file with no entry left (`{}`).
pub fn is_empty(text: &str) -> bool {
    serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(text)
        .is_ok_and(|m| m.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_have_rattlers_shapes() {
        assert_eq!(
            entry(Form::BasicHttp, "tok").to_string(),
            r#"{"BasicHTTP":{"password":"x-auth-token","username":"tok"}}"#
        );
        assert_eq!(
            entry(Form::CondaToken, "tok").to_string(),
            r#"{"CondaToken":"tok"}"#
        );
        assert_eq!(
            host_of("https://Repo.Example.com:8443/sub").as_deref(),
            Some("repo.example.com")
        );
        assert_eq!(
            host_of("http://127.0.0.1:8765").as_deref(),
            Some("127.0.0.1")
        );
    }

    #[test]
    fn other_hosts_are_kept_and_bad_files_refused() {
        let path = Path::new("/x/credentials.json");
        let before = r#"{"other.example":{"CondaToken":"theirs"},"*.corp":{"BearerToken":"b"}}"#;
        let value = entry(Form::BasicHttp, "mine");
        let after = with_entry(path, Some(before), "repo.example.com", Some(&value)).unwrap();
        let map = parse(path, &after).unwrap();
        assert_eq!(map.len(), 3);
        assert_eq!(
            map["other.example"],
            serde_json::json!({"CondaToken": "theirs"})
        );
        assert_eq!(
            entry_in(path, Some(&after), "repo.example.com").unwrap(),
            Some(value)
        );
        let removed = with_entry(path, Some(&after), "repo.example.com", None).unwrap();
        assert_eq!(parse(path, &removed).unwrap().len(), 2);
        assert_eq!(with_entry(path, None, "h", None).unwrap(), "{}");
        for bad in ["[1]", "{", "\"x\"", "{\"a\": }"] {
            let err = with_entry(path, Some(bad), "h", None)
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("not a valid rattler credentials file"),
                "{err}"
            );
        }
        assert!(parse(path, "  \n").unwrap().is_empty());
    }
}
