//! `~/.netrc` (`%USERPROFILE%\_netrc` on Windows) for pip and uv (and every other netrc reader: requests, curl,
//! git, conda's own Basic auth), opt in: one block `machine <host> login <token> password x-auth-token` — Anaconda
//! Server's documented Basic form — added at sign-in and taken out at sign-out (docs/design.md#19-every-client-at-
//! the-desk). The edit is minimal: every other byte and comment stays; a host that already has a `machine` entry is
//! refused (netrc allows one per host, and it is someone else's); a file this parser cannot read is refused, never
//! rewritten.

use std::path::{Path, PathBuf};

use crate::engine::error::{Error, Result};
use crate::engine::paths::Paths;

/// The netrc file pip, uv and requests read for this home.
pub fn netrc_file(paths: &Paths) -> PathBuf {
    let name = if cfg!(windows) { "_netrc" } else { ".netrc" };
    paths.home.join(name)
}

/// conda-connect's block for `host`.
pub fn block(host: &str, token: &str) -> String {
    format!(
        "machine {host}\n  login {token}\n  password {}\n",
        super::rattler::X_AUTH_TOKEN
    )
}

fn unreadable(path: &Path, why: &str) -> Error {
    Error::Refused {
        reason: format!(
            "{} cannot be read as a netrc file ({why}), so conda-connect leaves it unchanged.",
            path.display()
        ),
    }
}

/// The `machine` names of a netrc text, as Python's `netrc` module reads it: whitespace-separated tokens,
/// `#` comment lines, `machine`/`default` entries with `login`/`password`/`account` values, and `macdef` bodies
/// that run to the next empty line.
pub fn machines(path: &Path, text: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut lines = text.lines().peekable();
    let mut pending: Option<&str> = None;
    while let Some(line) = lines.next() {
        if line.trim_start().starts_with('#') {
            continue;
        }
        let mut tokens = line.split_whitespace();
        while let Some(token) = tokens.next() {
            match pending.take() {
                Some("machine") => out.push(token.to_string()),
                Some(_) => {}
                None => match token {
                    "machine" | "login" | "password" | "account" => pending = Some(token),
                    "default" => {}
                    "macdef" => {
                        // the macro's name, then its body up to an empty line
                        if tokens.next().is_none() {
                            return Err(unreadable(path, "a macdef without a name"));
                        }
                        while lines.peek().is_some_and(|l| !l.trim().is_empty()) {
                            lines.next();
                        }
                        break;
                    }
                    _ => return Err(unreadable(path, "an unexpected word")),
                },
            }
        }
    }
    if pending.is_some() {
        return Err(unreadable(path, "it ends in the middle of an entry"));
    }
    Ok(out)
}

/// What sign-in adds to `text`: a separating newline where needed, then the block (an empty line first, so that
/// a `macdef` at the end of the file cannot swallow it).
pub fn addition(text: &str, block: &str) -> String {
    let mut added = String::new();
    if !text.is_empty() {
        if !text.ends_with('\n') {
            added.push('\n');
        }
        added.push('\n');
    }
    added.push_str(block);
    added
}

/// `text` with conda-connect's block for `host` added. A `machine` entry for the host is refused.
pub fn with_block(path: &Path, text: Option<&str>, host: &str, block: &str) -> Result<String> {
    let text = text.unwrap_or("");
    if machines(path, text)?
        .iter()
        .any(|m| m.eq_ignore_ascii_case(host))
    {
        return Err(Error::Refused {
            reason: format!(
                "{} already has an entry for {host}, so conda-connect does not add its own: remove that entry, or \
                 sign in without pip and uv.",
                path.display()
            ),
        });
    }
    Ok(format!("{text}{}", addition(text, block)))
}

/// `text` without conda-connect's block and the empty line sign-in put before it: `None` when the block is not
/// there (someone changed or removed it: it is no longer conda-connect's to remove). Sign-out puts back the exact
/// bytes from before sign-in when nobody touched the file; this is for a file that was edited meanwhile.
pub fn without_block(text: &str, block: &str) -> Option<String> {
    let at = text.rfind(block)?;
    let head = &text[..at];
    let head = match head.strip_suffix('\n') {
        Some(shorter) if shorter.ends_with('\n') => shorter,
        _ => head,
    };
    Some(format!("{head}{}", &text[at + block.len()..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATH: &str = "/home/u/.netrc";

    #[test]
    fn a_block_is_added_and_removed_byte_for_byte() {
        let path = Path::new(PATH);
        let block = block("repo.example.com", "tok-123");
        for before in [
            "",
            "machine a.example login u password p\n",
            "# my hosts\nmachine a.example\n  login u\n  password p",
            "default login anonymous password me@\n",
        ] {
            let after = with_block(path, Some(before), "repo.example.com", &block).unwrap();
            assert!(after.starts_with(before), "{after:?}");
            let hosts = machines(path, &after).unwrap();
            assert!(hosts.contains(&"repo.example.com".to_string()), "{hosts:?}");
            let expected = if before.is_empty() || before.ends_with('\n') {
                before.to_string()
            } else {
                format!("{before}\n")
            };
            assert_eq!(without_block(&after, &block), Some(expected), "{before:?}");
        }
    }

    #[test]
    fn a_macro_at_the_end_cannot_swallow_the_block() {
        let path = Path::new(PATH);
        let before = "machine a login u password p\nmacdef init\ncd /pub\n";
        let after = with_block(path, Some(before), "h", &block("h", "t")).unwrap();
        assert_eq!(machines(path, &after).unwrap(), ["a", "h"]);
    }

    #[test]
    fn an_existing_entry_or_an_unreadable_file_is_refused() {
        let path = Path::new(PATH);
        let err = with_block(
            path,
            Some("machine REPO.example.com login x password y\n"),
            "repo.example.com",
            "b",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("already has an entry for repo.example.com"),
            "{err}"
        );
        for bad in ["machine", "login u password", "frobnicate x\n"] {
            assert!(with_block(path, Some(bad), "h", "b").is_err(), "{bad:?}");
        }
        assert_eq!(
            without_block("machine x login a password b\n", "machine h\n"),
            None
        );
    }
}
