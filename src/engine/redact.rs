//! Secrets never reach the log. Every secret the process handles (the password, session JWTs, refresh and access
//! tokens, token-file contents) is registered here as soon as it is known; the log writer scrubs every registered
//! value — whatever its shape, `/` and all — and every `/t/<token>/` URL segment from each line before it is
//! written. Code also avoids logging values in the first place; this is the net under that rule.

use std::io::Write;
use std::sync::{Mutex, RwLock};

static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// What a scrubbed secret is replaced with.
pub const MASK: &str = "<redacted>";

/// Remember `secret` so that it is scrubbed from everything logged from now on. Very short values are ignored
/// (they would mask ordinary words).
pub fn register(secret: &str) {
    if secret.len() < 6 {
        return;
    }
    if let Ok(mut list) = SECRETS.write()
        && !list.iter().any(|s| s == secret)
    {
        list.push(secret.to_string());
        // longest first, so that a secret containing another is masked whole
        list.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }
}

/// `text` without any registered secret and without the token of any `/t/<token>/` URL segment.
pub fn scrub(text: &str) -> String {
    mask_url_tokens(&scrub_known(text))
}

/// `text` without any registered secret (URL token segments are left to the caller).
pub fn scrub_known(text: &str) -> String {
    let mut out = text.to_string();
    if let Ok(list) = SECRETS.read() {
        for secret in list.iter() {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), MASK);
            }
        }
    }
    out
}

/// Mask `/t/<token>` in URLs: everything after `/t/` up to the next `/`, quote, blank or end.
fn mask_url_tokens(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(index) = rest.find("/t/") {
        out.push_str(&rest[..index + 3]);
        let after = &rest[index + 3..];
        let end = after
            .find(|c: char| {
                c == '/' || c == '"' || c == '\'' || c.is_whitespace() || c == '?' || c == ')'
            })
            .unwrap_or(after.len());
        out.push_str("<token>");
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// A log sink that scrubs every write (see [`scrub`]); `tracing-subscriber` writes whole lines.
pub struct ScrubbingWriter<W: Write> {
    inner: Mutex<W>,
}

impl<W: Write> ScrubbingWriter<W> {
    pub fn new(inner: W) -> Self {
        ScrubbingWriter {
            inner: Mutex::new(inner),
        }
    }
}

/// The per-event writer handed out by [`ScrubbingWriter`].
pub struct ScrubbedLine<'a, W: Write> {
    sink: &'a Mutex<W>,
    buffer: Vec<u8>,
}

impl<W: Write> Write for ScrubbedLine<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<W: Write> Drop for ScrubbedLine<'_, W> {
    fn drop(&mut self) {
        let text = scrub(&String::from_utf8_lossy(&self.buffer));
        if let Ok(mut sink) = self.sink.lock() {
            let _ = sink.write_all(text.as_bytes());
            let _ = sink.flush();
        }
    }
}

impl<'a, W: Write + 'a> tracing_subscriber::fmt::MakeWriter<'a> for ScrubbingWriter<W> {
    type Writer = ScrubbedLine<'a, W>;
    fn make_writer(&'a self) -> Self::Writer {
        ScrubbedLine {
            sink: &self.inner,
            buffer: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_secrets_and_url_tokens_are_masked() {
        register("abc/def+ghi=");
        let text =
            scrub("GET http://h/api/repo/t/abc/def+ghi=/main/noarch and jwt abc/def+ghi= done");
        assert!(!text.contains("abc/def"), "{text}");
        assert!(!text.contains("def+ghi"), "{text}");
        assert_eq!(
            scrub("GET http://h/api/repo/t/zz9-unregistered/main"),
            "GET http://h/api/repo/t/<token>/main"
        );
        assert_eq!(scrub("no secret here"), "no secret here");
    }

    #[test]
    fn the_writer_scrubs_each_line() {
        use tracing_subscriber::fmt::MakeWriter;
        register("s3cr3t-value");
        let writer = ScrubbingWriter::new(Vec::new());
        {
            let mut line = writer.make_writer();
            line.write_all(b"token=s3cr3t-").unwrap();
            line.write_all(b"value\n").unwrap();
        }
        let out = writer.inner.into_inner().unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "token=<redacted>\n");
    }
}
