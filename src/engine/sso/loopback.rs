//! The browser's way back (RFC 8252): a listener on `127.0.0.1:<ephemeral port>` that takes exactly one
//! `GET /callback` carrying the expected `state`, and nothing else. Other paths get 404, a wrong or missing
//! `state` gets a page saying it was ignored (the wait goes on: a stray request must not end a sign-in), and
//! every answer closes its connection. Idle or slow connections (browsers open spare ones) are read in parallel
//! with a short limit each, so they cannot hold up the real answer. The listener closes when the callback
//! arrives, when the wait ends, or when the future is dropped (Cancel).

use std::collections::VecDeque;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::messages::{NO_LOOPBACK, WRONG_STATE_PAGE, refused, timed_out};
use super::pkce::same_secret;
use crate::engine::error::Result;

/// The largest request head read from the browser.
const MAX_REQUEST: usize = 16 * 1024;
/// How long one connection may take to send its request: browsers send theirs at once, so an idle connection is
/// closed quickly and cannot hold a place.
const READ_LIMIT: Duration = Duration::from_secs(5);
/// Connections read at the same time; a new one beyond that replaces the oldest (which is closed), so that idle
/// connections opened by anyone on this machine can never keep the browser's own request out.
const MAX_CONNECTIONS: usize = 32;

/// What the identity provider sent back through the browser.
#[derive(Clone, PartialEq, Eq)]
pub enum Answer {
    Code { code: String, iss: Option<String> },
    Error { error: String },
    Malformed,
}

impl std::fmt::Debug for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Answer::Code { iss, .. } => write!(f, "Code {{ code: <redacted>, iss: {iss:?} }}"),
            Answer::Error { error } => write!(f, "Error {{ error: {error:?} }}"),
            Answer::Malformed => f.write_str("Malformed"),
        }
    }
}

/// The one accepted callback; its connection waits for [`Callback::reply`].
pub struct Callback {
    pub answer: Answer,
    stream: TcpStream,
}

impl Callback {
    /// Answer the browser with a small page and close the connection.
    pub async fn reply(mut self, ok: bool, sentence: &str) {
        let status = if ok { "200 OK" } else { "400 Bad Request" };
        write_page(&mut self.stream, status, sentence).await;
    }
}

/// A bound, not yet waiting listener.
pub struct Loopback {
    listener: TcpListener,
    redirect_uri: String,
}

impl Loopback {
    pub async fn bind() -> Result<Loopback> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.map_err(|e| {
            tracing::error!(error = %e, "cannot listen on the loopback interface");
            refused(NO_LOOPBACK)
        })?;
        let port = listener
            .local_addr()
            .map_err(|e| {
                tracing::error!(error = %e, "no local address");
                refused(NO_LOOPBACK)
            })?
            .port();
        Ok(Loopback {
            listener,
            redirect_uri: format!("http://127.0.0.1:{port}/callback"),
        })
    }

    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// Wait up to `wait` for the one callback with `state`. The listener is closed when this returns.
    pub async fn wait(self, state: &str, wait: Duration) -> Result<Callback> {
        let deadline = Instant::now() + wait;
        let mut reading: JoinSet<Option<Callback>> = JoinSet::new();
        // oldest first, to make room for a new connection when all places are taken
        let mut open: VecDeque<(tokio::task::Id, tokio::task::AbortHandle)> = VecDeque::new();
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => {
                    tracing::warn!("no callback from the browser in time");
                    return Err(timed_out(wait));
                }
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        if open.len() >= MAX_CONNECTIONS
                            && let Some((_, oldest)) = open.pop_front()
                        {
                            tracing::warn!("many connections to the callback listener; the oldest is closed");
                            oldest.abort();
                        }
                        let state = state.to_string();
                        let handle = reading.spawn(read_callback(stream, state));
                        open.push_back((handle.id(), handle));
                    }
                    Err(error) => tracing::warn!(error = %error, "callback listener accept failed"),
                },
                Some(done) = reading.join_next_with_id(), if !reading.is_empty() => {
                    match done {
                        Ok((id, found)) => {
                            open.retain(|(open_id, _)| *open_id != id);
                            if let Some(callback) = found {
                                return Ok(callback);
                            }
                        }
                        Err(error) => open.retain(|(open_id, _)| *open_id != error.id()),
                    }
                }
            }
        }
    }
}

/// Read one request; answer and drop it unless it is the callback with the right state.
async fn read_callback(mut stream: TcpStream, state: String) -> Option<Callback> {
    let head = match tokio::time::timeout(READ_LIMIT, read_head(&mut stream)).await {
        Ok(Some(head)) => head,
        _ => return None,
    };
    let line = head.lines().next().unwrap_or("");
    let mut parts = line.split(' ');
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if method != "GET" || path != "/callback" {
        write_page(&mut stream, "404 Not Found", "Not found.").await;
        return None;
    }
    let fields: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let one = |name: &str| -> Result<Option<String>, ()> {
        let mut values = fields.iter().filter(|(k, _)| k == name).map(|(_, v)| v);
        match (values.next(), values.next()) {
            (None, _) => Ok(None),
            (Some(value), None) => Ok(Some(value.clone())),
            _ => Err(()),
        }
    };
    let got_state = one("state");
    if !matches!(&got_state, Ok(Some(received)) if same_secret(received, &state)) {
        tracing::warn!("a callback with a missing or wrong state was ignored");
        write_page(&mut stream, "400 Bad Request", WRONG_STATE_PAGE).await;
        return None;
    }
    let answer = match (one("code"), one("error"), one("iss")) {
        (Ok(Some(code)), Ok(None), Ok(iss)) if !code.is_empty() => Answer::Code { code, iss },
        (Ok(_), Ok(Some(error)), Ok(_)) => Answer::Error { error },
        (Ok(None), Ok(None), Ok(_)) => Answer::Code {
            code: String::new(),
            iss: None,
        },
        _ => Answer::Malformed,
    };
    if let Ok(Some(description)) = one("error_description") {
        let description = crate::engine::server_values::printable(&description).into_owned();
        tracing::warn!(%description, "the identity provider's error description");
    }
    Some(Callback { answer, stream })
}

/// The request line and headers, or `None` when the connection closes first or sends too much.
async fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::with_capacity(2048);
    let mut chunk = [0u8; 2048];
    loop {
        let count = stream.read(&mut chunk).await.ok()?;
        if count == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..count]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            buf.truncate(end);
            return String::from_utf8(buf).ok();
        }
        if buf.len() > MAX_REQUEST {
            tracing::warn!("oversized request to the callback listener");
            return None;
        }
    }
}

async fn write_page(stream: &mut TcpStream, status: &str, sentence: &str) {
    let body = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>conda-connect</title></head>\
         <body style=\"font-family: sans-serif; margin: 3em\"><h1>conda-connect</h1><p>{}</p></body></html>\n",
        escape(sentence)
    );
    // no-referrer: the page's address carries the code; nothing loaded from it may see that address
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nReferrer-Policy: no-referrer\r\nX-Content-Type-Options: nosniff\r\n\
         Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body.as_bytes()).await;
    let _ = stream.shutdown().await;
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
