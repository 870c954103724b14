//! The emulator's HTTP surface: one handler that logs the request, applies any injected fault, then dispatches
//! to the Anaconda Server endpoints (`/api/...`), the conda file paths (`/api/repo/...`, with the token as
//! `/api/repo/t/<token>/…`, `/t/<token>/api/repo/…`, `X-Auth`, or Basic `<token>:x-auth-token`), and the test
//! control API (`/__emulator/...`). Shapes and status codes follow the public API as docs/server-api.md describes
//! it; change that file with this one.

use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use chrono::{NaiveDate, Utc};
use serde_json::{Value, json};

use super::state::{AccessToken, Fault, FaultKind, LogEntry, SCOPES, State};

pub(crate) type Shared = Arc<Mutex<State>>;

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"code": code, "message": message, "status": status.as_u16()})),
    )
        .into_response()
}

fn ok_json(value: Value) -> Response {
    (StatusCode::OK, axum::Json(value)).into_response()
}

pub(super) fn random_hex(len: usize) -> String {
    let mut hex = String::new();
    while hex.len() < len {
        hex.push_str(&uuid::Uuid::new_v4().simple().to_string());
    }
    hex.truncate(len);
    hex
}

pub(super) fn make_jwt(
    user_id: &str,
    username: &str,
    roles: &[String],
    lifetime: std::time::Duration,
) -> String {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = b64.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let exp = Utc::now().timestamp() + lifetime.as_secs() as i64;
    let payload = json!({"sub": user_id, "preferred_username": username, "realm_access": {"roles": roles}, "exp": exp});
    format!(
        "{header}.{}.{}",
        b64.encode(payload.to_string()),
        random_hex(43)
    )
}

/// True when a JWT's `exp` claim has passed.
pub(super) fn jwt_expired(jwt: &str) -> bool {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    jwt.split('.')
        .nth(1)
        .and_then(|p| b64.decode(p).ok())
        .and_then(|p| serde_json::from_slice::<Value>(&p).ok())
        .and_then(|v| v.get("exp").and_then(|e| e.as_i64()))
        .is_some_and(|exp| exp <= Utc::now().timestamp())
}

/// Where the credentials of a request came from.
struct Credentials {
    /// Bearer JWT (or Navigator's `token` cookie).
    jwt: Option<String>,
    /// Access token from X-Auth, Basic, or the URL.
    token: Option<String>,
    form: &'static str,
}

fn credentials(headers: &HeaderMap, url_token: Option<String>) -> Credentials {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if let Some(token) = url_token {
        return Credentials {
            jwt: None,
            token: Some(token),
            form: "url-token",
        };
    }
    if let Some(jwt) = auth.strip_prefix("Bearer ") {
        return Credentials {
            jwt: Some(jwt.to_string()),
            token: None,
            form: "bearer",
        };
    }
    if let Some(basic) = auth.strip_prefix("Basic ") {
        let decoded = base64::engine::general_purpose::STANDARD.decode(basic).ok();
        let text = decoded
            .and_then(|d| String::from_utf8(d).ok())
            .unwrap_or_default();
        if let Some((user, pw)) = text.split_once(':')
            && pw == "x-auth-token"
        {
            return Credentials {
                jwt: None,
                token: Some(user.to_string()),
                form: "basic",
            };
        }
    }
    if let Some(token) = headers.get("x-auth").and_then(|v| v.to_str().ok()) {
        return Credentials {
            jwt: None,
            token: Some(token.to_string()),
            form: "x-auth",
        };
    }
    let cookie = headers
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    for part in cookie.split(';') {
        if let Some(jwt) = part.trim().strip_prefix("token=") {
            return Credentials {
                jwt: Some(jwt.to_string()),
                token: None,
                form: "cookie",
            };
        }
    }
    Credentials {
        jwt: None,
        token: None,
        form: "none",
    }
}

/// Split `/t/<token>/` out of a path (either at the root or right after `/api/repo`).
fn split_url_token(path: &str) -> (String, Option<String>) {
    for prefix in ["/api/repo/t/", "/t/"] {
        if let Some(rest) = path.strip_prefix(prefix)
            && let Some((tok, tail)) = rest.split_once('/')
        {
            let base = if prefix == "/t/" {
                String::new()
            } else {
                "/api/repo".to_string()
            };
            return (format!("{base}/{tail}"), Some(tok.to_string()));
        }
    }
    (path.to_string(), None)
}

pub(crate) async fn handle(
    axum::extract::State(shared): axum::extract::State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let decoded = percent_encoding::percent_decode_str(uri.path())
        .decode_utf8_lossy()
        .into_owned();
    let (path, url_token) = split_url_token(&decoded);
    let mut creds = credentials(&headers, url_token);
    let (fault, delay) = {
        let mut st = shared.lock().unwrap();
        if st.basic_refused_on_repo && creds.form == "basic" && path.starts_with("/api/repo/") {
            // a server that reads its repository's tokens from the path only: Basic counts as anonymous
            creds = Credentials {
                jwt: None,
                token: None,
                form: "basic-ignored",
            };
        }
        let idx = st.faults.iter().position(|f| {
            path.starts_with(&f.path_prefix)
                && f.method
                    .as_deref()
                    .is_none_or(|m| m.eq_ignore_ascii_case(method.as_str()))
        });
        let fault = idx.map(|i| {
            let matched = st.faults[i].clone();
            if let Some(remaining) = st.faults[i].times.as_mut() {
                *remaining -= 1;
                if *remaining == 0 {
                    st.faults.remove(i);
                }
            }
            matched
        });
        (fault, st.delay)
    };
    if !delay.is_zero() && !path.starts_with("/__emulator") {
        tokio::time::sleep(delay).await;
    }
    let response = match fault {
        Some(fault) => apply_fault(fault).await,
        None => dispatch(
            &shared,
            &method,
            &path,
            uri.query().unwrap_or(""),
            &headers,
            &creds,
            &body,
        ),
    };
    if !path.starts_with("/__emulator") {
        let mut st = shared.lock().unwrap();
        st.log.push(LogEntry {
            method: method.to_string(),
            path: path.clone(),
            auth: creds.form.to_string(),
            status: response.status().as_u16(),
        });
    }
    response
}

async fn apply_fault(fault: Fault) -> Response {
    match fault.kind {
        FaultKind::Status { status } => {
            let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            error(code, "injected", "injected fault")
        }
        FaultKind::Delay { ms } => {
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
            error(StatusCode::SERVICE_UNAVAILABLE, "injected", "slow")
        }
        FaultKind::Malformed => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            "{\"items\": [tru",
        )
            .into_response(),
        FaultKind::Drop => {
            let stream = futures_util::stream::iter(vec![
                Ok::<Bytes, std::io::Error>(Bytes::from_static(b"{\"partial\": ")),
                Err(std::io::Error::other(
                    "connection dropped by fault injection",
                )),
            ]);
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                Body::from_stream(stream),
            )
                .into_response()
        }
        FaultKind::Redirect { location } => (
            StatusCode::TEMPORARY_REDIRECT,
            [(header::LOCATION, location)],
            "",
        )
            .into_response(),
        FaultKind::Body {
            status,
            content_type,
            body,
        } => {
            let code = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            (code, [(header::CONTENT_TYPE, content_type)], body).into_response()
        }
        FaultKind::Huge { bytes } => {
            let body = vec![b' '; bytes];
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                body,
            )
                .into_response()
        }
    }
}

fn query_param(query: &str, key: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// The route table: each endpoint is one function below.
fn dispatch(
    shared: &Shared,
    method: &Method,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    creds: &Credentials,
    body: &Bytes,
) -> Response {
    let mut st = shared.lock().unwrap();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    if let Some(handled) = super::oidc::dispatch(&mut st, method.as_str(), &segments, query, body) {
        return handled;
    }
    match (method.as_str(), segments.as_slice()) {
        ("GET", ["api", "system"]) => system(),
        ("POST", ["api", "auth", "login"]) => password_login(&mut st, body),
        ("GET", ["api", "account"]) => account(&st, creds),
        ("GET", ["api", "account", "token-info"]) => token_info(&st, creds),
        ("GET", ["api", "account", "scopes"]) => match jwt_user(&st, creds) {
            Some(_) => ok_json(json!({"scopes": SCOPES})),
            None => unauthorized(),
        },
        ("GET", ["api", "account", "tokens"]) => list_tokens(&st, creds),
        ("POST", ["api", "account", "tokens"]) => create_token(&mut st, creds, body),
        ("PUT", ["api", "account", "tokens", id]) => update_token(&mut st, creds, id, query, body),
        ("DELETE", ["api", "account", "tokens", id]) => delete_token(&mut st, creds, id),
        ("GET", ["api", "account", "channels"]) => list_channels(&st, creds, query, true),
        ("GET", ["api", "channels"]) => list_channels(&st, creds, query, false),
        (verb, ["api", "repo", rest @ ..])
            if (verb == "GET" || verb == "HEAD")
                && rest.iter().any(|s| *s == "simple" || *s == "pypi") =>
        {
            python_file(&st, rest, creds)
        }
        (verb, ["api", "repo", rest @ ..]) if verb == "GET" || verb == "HEAD" => {
            repo_file(&st, rest, headers, creds)
        }
        (verb, ["__emulator", rest @ ..]) => control(&mut st, verb, rest, body),
        _ => not_found(),
    }
}

fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "not-found", "not found")
}

fn bad_parameter(message: &str) -> Response {
    error(StatusCode::BAD_REQUEST, "bad-parameter", message)
}

/// `GET /api/system`: the server's health.
fn system() -> Response {
    ok_json(json!({
        "status": "ok", "service_name": "repo", "version": "6.5.0", "product_version": "6.5.0 (conda-connect emulator)",
        "errors": [], "queue_status": {}
    }))
}

/// `POST /api/auth/login`: a username and password for a session (a JWT and a refresh token).
fn password_login(st: &mut State, body: &Bytes) -> Response {
    let Ok(req) = serde_json::from_slice::<Value>(body) else {
        return bad_parameter("invalid JSON body");
    };
    let (Some(username), Some(password)) = (req["username"].as_str(), req["password"].as_str())
    else {
        return bad_parameter("username and password are required");
    };
    let Some(user) = st
        .users
        .iter()
        .find(|x| x.username == username.to_lowercase() && x.password == password)
        .cloned()
    else {
        return error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Invalid username or password",
        );
    };
    let jwt = make_jwt(
        &user.user_id,
        &user.username,
        &user.roles,
        st.session_lifetime,
    );
    st.sessions.insert(jwt.clone(), user.username.clone());
    let refresh = random_hex(64);
    st.refresh_tokens.push(refresh.clone());
    // with a realm, the server signs passwords in through it (its own client): the refresh token renews the
    // session at the realm's token endpoint, as an SSO one does
    if let Some(realm) = st.sso.as_mut() {
        let client_id = realm.redirect_client_id.clone();
        realm.sessions.insert(
            refresh.clone(),
            super::oidc::OidcSession {
                username: user.username.clone(),
                client_id,
                access_token: jwt.clone(),
            },
        );
    }
    ok_json(json!({"token": jwt, "refresh_token": refresh}))
}

/// `GET /api/account`: who the credentials belong to (a token may be forbidden to read it).
fn account(st: &State, creds: &Credentials) -> Response {
    let unreadable = creds.jwt.is_none()
        && creds
            .token
            .as_deref()
            .and_then(|t| st.token(t))
            .is_some_and(|t| !t.account_readable);
    if unreadable {
        return error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this token may not read the account",
        );
    }
    match current_user(st, creds) {
        Some(user) => ok_json(json!({
            "user_id": user.user_id, "username": user.username, "default_channel_name": user.username, "roles": user.roles
        })),
        None => unauthorized(),
    }
}

/// `GET /api/account/token-info`: an access token's expiry, owner and kind.
fn token_info(st: &State, creds: &Credentials) -> Response {
    match creds.token.as_deref().and_then(|t| st.token(t)) {
        Some(token) => ok_json(json!({
            "expires_at": token.expires_at, "default_channel_name": token.username,
            "type": if token.channels.is_empty() { "scope" } else { "resource" },
        })),
        None => unauthorized(),
    }
}

/// `GET /api/account/tokens`: the signed-in user's access tokens (never their values).
fn list_tokens(st: &State, creds: &Credentials) -> Response {
    let Some(user) = jwt_user(st, creds) else {
        return unauthorized();
    };
    let items: Vec<Value> = st
        .tokens
        .iter()
        .filter(|t| t.username == user)
        .map(|t| {
            json!({"id": t.id, "name": t.name, "created_at": t.created_at, "expires_at": t.expires_at,
                   "scopes": t.scopes, "metadata": {}, "type": "scope"})
        })
        .collect();
    ok_json(json!({"items": items}))
}

/// `POST /api/account/tokens`: a new access token with a name, scopes and an optional expiry date.
fn create_token(st: &mut State, creds: &Credentials, body: &Bytes) -> Response {
    let Some(user) = jwt_user(st, creds) else {
        return unauthorized();
    };
    let Ok(req) = serde_json::from_slice::<Value>(body) else {
        return bad_parameter("invalid JSON body");
    };
    let name = req["name"].as_str().unwrap_or("").to_string();
    let scopes: Vec<String> = req["scopes"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if name.is_empty() || scopes.is_empty() {
        return bad_parameter("name and at least one scope are required");
    }
    if let Some(bad) = scopes.iter().find(|s| !SCOPES.contains(&s.as_str())) {
        return bad_parameter(&format!("unknown scope {bad}"));
    }
    let expires_at = match req.get("expires_at").and_then(|v| v.as_str()) {
        Some(date) if NaiveDate::parse_from_str(date, "%Y-%m-%d").is_ok() => date.to_string(),
        Some(_) => return bad_parameter("expires_at must be YYYY-MM-DD"),
        None => State::default_expiry(),
    };
    let token = AccessToken {
        id: uuid::Uuid::new_v4().to_string(),
        name,
        token: random_hex(48),
        username: user,
        scopes,
        created_at: Utc::now().to_rfc3339(),
        expires_at: Some(expires_at),
        channels: Vec::new(),
        account_readable: true,
    };
    let out = json!({"id": token.id, "token": token.token});
    st.tokens.push(token);
    ok_json(out)
}

/// `PUT /api/account/tokens/<id>`: rename, re-date and (unless `reissue_token=false`) reissue a token.
fn update_token(
    st: &mut State,
    creds: &Credentials,
    id: &str,
    query: &str,
    body: &Bytes,
) -> Response {
    let Some(user) = jwt_user(st, creds) else {
        return unauthorized();
    };
    let reissue = query_param(query, "reissue_token").as_deref() != Some("false");
    let Some(token) = st
        .tokens
        .iter_mut()
        .find(|t| t.id == id && t.username == user)
    else {
        return error(StatusCode::NOT_FOUND, "not-found", "token not found");
    };
    if let Ok(req) = serde_json::from_slice::<Value>(body) {
        if let Some(name) = req.get("name").and_then(|v| v.as_str()) {
            token.name = name.to_string();
        }
        if let Some(expires) = req.get("expires_at").and_then(|v| v.as_str()) {
            token.expires_at = Some(expires.to_string());
        }
    }
    if reissue {
        token.token = random_hex(48);
        ok_json(json!({"token": token.token}))
    } else {
        ok_json(json!({"token": null}))
    }
}

/// `DELETE /api/account/tokens/<id>`: revoke one of the user's tokens.
fn delete_token(st: &mut State, creds: &Credentials, id: &str) -> Response {
    let Some(user) = jwt_user(st, creds) else {
        return unauthorized();
    };
    let before = st.tokens.len();
    st.tokens.retain(|t| !(t.id == id && t.username == user));
    if st.tokens.len() == before {
        error(StatusCode::NOT_FOUND, "not-found", "token not found")
    } else {
        StatusCode::NO_CONTENT.into_response()
    }
}

/// `GET /api/channels` and (`mine`) `GET /api/account/channels`: the channels the credentials may see, a page at a
/// time (`offset`, `limit`), sub-channels with `include_subchannels=true`.
fn list_channels(st: &State, creds: &Credentials, query: &str, mine: bool) -> Response {
    let user = current_user(st, creds).map(|u| u.username.clone());
    if mine && user.is_none() {
        return unauthorized();
    }
    let subs = query_param(query, "include_subchannels").as_deref() == Some("true");
    let offset: usize = query_param(query, "offset")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let limit: usize = query_param(query, "limit")
        .and_then(|v| v.parse().ok())
        .unwrap_or(100)
        .min(1000);
    let mut visible: Vec<&super::state::Channel> = st
        .channels
        .iter()
        .filter(|c| subs || c.parent.is_none())
        .filter(|c| c.can_read(user.as_deref()))
        .filter(|c| !mine || c.privacy != "public" || c.mirror_count > 0)
        .filter(|c| {
            creds.jwt.is_some()
                || creds
                    .token
                    .as_deref()
                    .is_none_or(|t| st.token_reaches(t, &c.full_name()))
        })
        .collect();
    visible.sort_by_key(|c| c.full_name());
    let total = visible.len();
    let items: Vec<Value> = visible
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|c| {
            let mut value = serde_json::to_value(c).unwrap();
            if c.parent.is_none() {
                value.as_object_mut().unwrap().remove("parent");
            }
            value
        })
        .collect();
    ok_json(json!({"items": items, "total_count": total}))
}

/// The test control API, `/__emulator/…`: faults, the request log, the tokens, tokens given out by hand.
fn control(st: &mut State, method: &str, rest: &[&str], body: &Bytes) -> Response {
    match (method, rest) {
        ("POST", ["faults"]) => match serde_json::from_slice::<Fault>(body) {
            Ok(fault) => {
                st.faults.push(fault);
                StatusCode::NO_CONTENT.into_response()
            }
            Err(failure) => bad_parameter(&failure.to_string()),
        },
        ("DELETE", ["faults"]) => {
            st.faults.clear();
            StatusCode::NO_CONTENT.into_response()
        }
        ("GET", ["log"]) => ok_json(serde_json::to_value(&st.log).unwrap()),
        ("GET", ["tokens"]) => ok_json(serde_json::to_value(&st.tokens).unwrap()),
        ("POST", ["given-tokens"]) => {
            match serde_json::from_slice::<super::state::GivenToken>(body) {
                Ok(kind) => ok_json(json!({"token": st.give_token(&kind)})),
                Err(failure) => bad_parameter(&failure.to_string()),
            }
        }
        _ => not_found(),
    }
}

fn unauthorized() -> Response {
    error(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "no or invalid credentials",
    )
}

fn jwt_user(st: &State, creds: &Credentials) -> Option<String> {
    creds
        .jwt
        .as_deref()
        .and_then(|j| st.user_by_jwt(j))
        .map(|u| u.username.clone())
}

fn current_user<'a>(st: &'a State, creds: &Credentials) -> Option<&'a super::state::User> {
    if let Some(jwt) = &creds.jwt {
        return st.user_by_jwt(jwt);
    }
    let token = st.token(creds.token.as_deref()?)?;
    st.users.iter().find(|u| u.username == token.username)
}

/// The user a repository request reads as: `Ok(None)` anonymous, `Ok(Some)` a valid token with a download
/// scope, `Err` a token that is not (answered 401).
fn repo_reader_for(
    st: &State,
    creds: &Credentials,
    channel: &str,
) -> Result<Option<String>, InvalidToken> {
    let reader = repo_reader(st, creds)?;
    match creds.token.as_deref() {
        // a resource token reads its own channels and nothing else (as if anonymous elsewhere)
        Some(token) if !st.token_reaches(token, channel) => Ok(None),
        _ => Ok(reader),
    }
}

fn repo_reader(st: &State, creds: &Credentials) -> Result<Option<String>, InvalidToken> {
    match creds.token.as_deref() {
        Some(token) => match st.token(token) {
            Some(tok)
                if tok
                    .scopes
                    .iter()
                    .any(|s| s.starts_with("artifact:") || s.ends_with("view-artifacts")) =>
            {
                Ok(Some(tok.username.clone()))
            }
            _ => Err(InvalidToken),
        },
        None => Ok(None),
    }
}

/// A repository request carried a token that is unknown, expired or without a download scope.
struct InvalidToken;

fn invalid_token() -> Response {
    error(StatusCode::UNAUTHORIZED, "unauthorized", "invalid token")
}

/// A channel's PyPI form: `…/<channel>/simple/[<project>/]` and `…/<channel>/pypi/<file>`.
fn python_file(st: &State, rest: &[&str], creds: &Credentials) -> Response {
    let Some(at) = rest.iter().position(|s| *s == "simple" || *s == "pypi") else {
        return error(StatusCode::NOT_FOUND, "not-found", "not found");
    };
    let channel_name = rest[..at].join("/");
    let Some(channel) = st.channel(&channel_name) else {
        return error(StatusCode::NOT_FOUND, "not-found", "channel not found");
    };
    let Ok(user) = repo_reader_for(st, creds, &channel_name) else {
        return invalid_token();
    };
    if !channel.can_read(user.as_deref()) {
        return if user.is_none() {
            (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Basic realm=\"Anaconda Server\"")],
                "authentication required",
            )
                .into_response()
        } else {
            error(
                StatusCode::FORBIDDEN,
                "forbidden",
                "no access to this channel",
            )
        };
    }
    let files = st
        .python_files
        .get(&channel_name)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let html = |page: String| {
        (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            page,
        )
            .into_response()
    };
    let tail: Vec<&str> = rest[at + 1..]
        .iter()
        .copied()
        .filter(|s| !s.is_empty())
        .collect();
    match (rest[at], tail.as_slice()) {
        ("simple", []) => html(super::pypi::index_page(files)),
        ("simple", [project]) => match super::pypi::project_page(project, files) {
            Some(page) => html(page),
            None => error(StatusCode::NOT_FOUND, "not-found", "no such project"),
        },
        ("pypi", [file]) => match files.iter().find(|f| f.filename == *file) {
            Some(found) => (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/octet-stream")],
                found.bytes.clone(),
            )
                .into_response(),
            None => error(StatusCode::NOT_FOUND, "not-found", "no such file"),
        },
        _ => error(StatusCode::NOT_FOUND, "not-found", "not found"),
    }
}

/// `/api/repo/<channel>[/<sub>]/<subdir>/<file>`.
fn repo_file(st: &State, rest: &[&str], headers: &HeaderMap, creds: &Credentials) -> Response {
    if rest.len() < 3 {
        return error(StatusCode::NOT_FOUND, "not-found", "not found");
    }
    let file = rest[rest.len() - 1];
    let subdir = rest[rest.len() - 2];
    let channel_name = rest[..rest.len() - 2].join("/");
    let Some(channel) = st.channel(&channel_name) else {
        return error(StatusCode::NOT_FOUND, "not-found", "channel not found");
    };
    let Ok(user) = repo_reader(st, creds) else {
        return invalid_token();
    };
    // a resource token reads its own channels only
    let outside = creds
        .token
        .as_deref()
        .is_some_and(|t| !st.token_reaches(t, &channel_name));
    if outside && channel.privacy != "public" {
        return error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "no access to this channel",
        );
    }
    if !channel.can_read(user.as_deref()) {
        return match user {
            None => error(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "authentication required",
            ),
            Some(_) => error(
                StatusCode::FORBIDDEN,
                "forbidden",
                "no access to this channel",
            ),
        };
    }
    // real files from the packages directory win
    if let Some(dir) = &st.packages_dir {
        let path = dir.join(&channel_name).join(subdir).join(file);
        if let Ok(meta) = std::fs::metadata(&path) {
            // ETag from size and mtime: a revalidation costs no read of a large file
            let mtime = meta
                .modified()
                .ok()
                .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok())
                .unwrap_or_default();
            let etag = format!("\"{:x}-{:x}\"", meta.len(), mtime.as_nanos());
            if headers
                .get(header::IF_NONE_MATCH)
                .and_then(|v| v.to_str().ok())
                == Some(etag.as_str())
            {
                return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
            }
            if let Ok(bytes) = std::fs::read(&path) {
                return (
                    StatusCode::OK,
                    [
                        (header::CONTENT_TYPE, "application/octet-stream".to_string()),
                        (header::ETAG, etag),
                    ],
                    bytes,
                )
                    .into_response();
            }
        }
    }
    match file {
        "repodata.json" => {
            let bytes = repodata(st, &channel_name, subdir);
            with_cache_headers(headers, bytes, "application/json")
        }
        "repodata.json.zst" if channel.zst => {
            let bytes =
                zstd::encode_all(&repodata(st, &channel_name, subdir)[..], 3).unwrap_or_default();
            with_cache_headers(headers, bytes, "application/zstd")
        }
        _ => match st.package_files.get(&(
            channel_name.clone(),
            subdir.to_string(),
            file.to_string(),
        )) {
            Some(bytes) => with_cache_headers(headers, bytes.clone(), "application/octet-stream"),
            None => error(StatusCode::NOT_FOUND, "not-found", "no such file"),
        },
    }
}

fn repodata(st: &State, channel: &str, subdir: &str) -> Vec<u8> {
    let mut conda = serde_json::Map::new();
    let mut bz2 = serde_json::Map::new();
    if let Some(records) = st.records.get(&(channel.to_string(), subdir.to_string())) {
        for (fname, rec) in records {
            if fname.ends_with(".tar.bz2") {
                bz2.insert(fname.clone(), rec.clone());
            } else {
                conda.insert(fname.clone(), rec.clone());
            }
        }
    }
    let doc = json!({"info": {"subdir": subdir}, "packages": bz2, "packages.conda": conda, "removed": [], "repodata_version": 1});
    serde_json::to_vec(&doc).unwrap()
}

fn with_cache_headers(headers: &HeaderMap, bytes: Vec<u8>, content_type: &str) -> Response {
    let etag = format!("\"{:x}\"", md5::compute(&bytes));
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        == Some(etag.as_str())
    {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (header::ETAG, etag),
        ],
        bytes,
    )
        .into_response()
}
