//! Values a server sends that end up in a file, a path, a terminal or the log are checked here, at the boundary,
//! against what a real Anaconda Server sends (charset and length). A value outside that shape is refused as a
//! malformed answer, so a hostile or broken server can never inject a line into the ini (a `\r` in a token), a
//! path segment (`..` as a token id), a key into `.condarc`, or an escape sequence into the terminal.

use std::borrow::Cow;

use crate::engine::error::{Error, Result};

/// Longest access token accepted (real ones are 40–64 characters).
const MAX_TOKEN: usize = 2048;
/// Longest session JWT accepted (an OIDC access token with many roles can be a few KB).
const MAX_JWT: usize = 16 * 1024;
const MAX_NAME: usize = 128;

fn malformed(what: &str) -> Error {
    Error::Malformed { what: what.into() }
}

/// `value` is `lengths` long and made of ASCII letters, digits and `extra` only; else a malformed answer (the log
/// says which `kind` of value it was and its length, never the value).
fn shaped(
    value: &str,
    lengths: std::ops::RangeInclusive<usize>,
    extra: &[u8],
    what: &str,
    kind: &'static str,
) -> Result<()> {
    let ok = lengths.contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || extra.contains(&b));
    if ok {
        Ok(())
    } else {
        tracing::warn!(
            what,
            kind,
            len = value.len(),
            "the server sent a value of an unexpected shape"
        );
        Err(malformed(what))
    }
}

/// An access token: letters, digits and `-` only — what conda's `/t/<token>/` URL pattern (`[a-zA-Z0-9-]*`)
/// can carry, so a token conda could not use is refused at once.
pub fn access_token(value: &str, what: &str) -> Result<()> {
    shaped(value, 8..=MAX_TOKEN, b"-", what, "access token")
}

/// A session JWT (or OIDC access token): base64url segments separated by dots.
pub(crate) fn session_jwt(value: &str, what: &str) -> Result<()> {
    shaped(value, 1..=MAX_JWT, b"-._~+/=", what, "session token")
}

/// A token id is a UUID; returns it in its canonical (hyphenated, lower-case) spelling, so that ids are
/// compared by value and never change the shape of a request path.
pub fn token_id(value: &str) -> Option<String> {
    uuid::Uuid::try_parse(value.trim())
        .ok()
        .map(|u| u.hyphenated().to_string())
}

/// A token id from the server (see [`token_id`]).
pub(crate) fn server_token_id(value: &str, what: &str) -> Result<String> {
    token_id(value).ok_or_else(|| {
        tracing::warn!(what, "the server sent a token id that is not a UUID");
        malformed(what)
    })
}

/// A user id or username: letters, digits and `._@+-`, at most 128 characters.
pub(crate) fn account_name(value: &str, what: &str) -> Result<()> {
    shaped(value, 1..=MAX_NAME, b"._@+-", what, "account name")
}

/// Anaconda Server's channel-name rule: `^[a-z][a-z0-9_-]*$`, and `parent/sub` for a subchannel.
pub(crate) fn is_channel_name(name: &str) -> bool {
    let part = |p: &str| {
        let mut bytes = p.bytes();
        p.len() <= MAX_NAME
            && bytes.next().is_some_and(|b| b.is_ascii_lowercase())
            && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    };
    match name.split_once('/') {
        Some((parent, sub)) => part(parent) && part(sub),
        None => part(name),
    }
}

/// Refuse a channel name conda-connect would not write.
pub(crate) fn check_channel_name(name: &str) -> Result<()> {
    if is_channel_name(name) {
        Ok(())
    } else {
        Err(Error::Refused {
            reason: format!(
                "\"{}\" is not a valid channel name (lower-case letters, digits, - and _, starting with a letter; \
                 parent/sub for a subchannel); it was not written.",
                printable(name)
            ),
        })
    }
}

/// True for a character a terminal must not receive raw: control characters (newlines, escape sequences, …),
/// bidirectional overrides and isolates (which reorder what follows them, "Trojan Source"), and invisible
/// formatting characters (zero-width spaces and joiners, the BOM, soft hyphens, tags) that make two different
/// texts look alike.
pub(crate) fn is_hidden_or_control(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFA0}'
            | '\u{FFF0}'..='\u{FFFB}'
            | '\u{E0000}'..='\u{E007F}')
}

/// `value` made safe for a terminal: control characters, bidirectional controls and invisible formatting
/// characters ([`is_hidden_or_control`]) shown as `\u{…}` escapes instead of being interpreted.
pub(crate) fn printable(value: &str) -> Cow<'_, str> {
    if !value.chars().any(is_hidden_or_control) {
        return Cow::Borrowed(value);
    }
    Cow::Owned(
        value
            .chars()
            .map(|c| {
                if is_hidden_or_control(c) {
                    c.escape_unicode().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bidi_and_invisible_characters_are_escaped() {
        assert_eq!(printable("ok name"), "ok name");
        assert_eq!(printable("a\u{202E}b"), "a\\u{202e}b");
        assert_eq!(printable("x\u{200B}y\u{2066}z"), "x\\u{200b}y\\u{2066}z");
        assert_eq!(printable("\u{1b}[2J"), "\\u{1b}[2J");
        assert_eq!(printable("café ✓"), "café ✓");
    }

    #[test]
    fn shapes() {
        access_token("0123456789abcdef0123456789abcdef", "t").unwrap();
        for bad in [
            "short",
            "abc\rdefghij",
            "abcdefgh/ij",
            "abcdefgh ij",
            "abcdefgh\u{1b}[31m",
        ] {
            assert!(access_token(bad, "t").is_err(), "{bad:?}");
        }
        assert!(access_token(&"a".repeat(MAX_TOKEN + 1), "t").is_err());
        session_jwt("eyJh.eyJz.sig-_", "j").unwrap();
        assert!(session_jwt("a\nb", "j").is_err());
        assert_eq!(
            token_id("{3F1C2A9E-1111-2222-3333-444455556666}").as_deref(),
            Some("3f1c2a9e-1111-2222-3333-444455556666")
        );
        assert_eq!(
            token_id("3f1c2a9e111122223333444455556666").as_deref(),
            Some("3f1c2a9e-1111-2222-3333-444455556666")
        );
        for bad in ["..", ".", "", "a/b", "3f1c2a9e-1111-2222-3333-44445555666g"] {
            assert_eq!(token_id(bad), None, "{bad:?}");
        }
        account_name("alice", "u").unwrap();
        assert!(account_name("al\nice", "u").is_err());
    }

    #[test]
    fn channel_names() {
        for ok in ["main", "a", "team/sub", "pkgs-0001", "my_chan"] {
            assert!(is_channel_name(ok), "{ok}");
        }
        for bad in [
            "", "Main", "1abc", "a b", "a\tb", "a=b", "a/b/c", "/a", "a/", "yes\n", "x.y",
        ] {
            assert!(!is_channel_name(bad), "{bad:?}");
        }
        assert_eq!(printable("ok"), "ok");
        assert_eq!(printable("a\u{1b}[31mb\n"), "a\\u{1b}[31mb\\u{a}");
    }
}
