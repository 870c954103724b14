//! An optional Keycloak-like realm (`EmulatorConfig::sso`): the server's `/api/auth/authorize` redirect into the
//! realm, the realm's OpenID configuration, a login form for the emulator's users, and a token endpoint that
//! checks the client, the redirect URI, single use of the code and the PKCE verifier. Access tokens it issues
//! are session JWTs the emulated API accepts. Refresh, revocation and end-session complete the set. Clients and
//! their redirect-URI patterns are data, so tests can make the realm refuse. Refusals look like Keycloak's: an
//! unknown client or a redirect URI not allowed get an error page (Keycloak never redirects to an unchecked
//! address), the other refusals go back to the redirect URI with `error=`; the token endpoint answers
//! `{"error", "error_description"}`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use chrono::Utc;
use serde_json::json;

use super::api::{make_jwt, random_hex};
use super::state::State;

/// The realm's name.
pub(crate) const REALM: &str = "conda";
/// The client of the server's own sign-in redirect, allowed to use loopback redirects (a command-line client).
pub const CLI_CLIENT: &str = "repo-service-cli";
/// A web client: known, but only its server address is an allowed redirect URI.
pub const WEB_CLIENT: &str = "repo-service";
/// A client without the standard (browser) flow.
pub const SERVICE_CLIENT: &str = "repo-service-sync";
/// How long a code is valid.
const CODE_LIFETIME: Duration = Duration::from_secs(60);

/// A client the realm knows (all public: no secret).
#[derive(Debug, Clone)]
pub struct OidcClient {
    pub id: String,
    /// May sign in through a browser (authorization code).
    pub standard_flow: bool,
    /// May sign in with a code on another device (RFC 8628).
    pub device_flow: bool,
    /// Allowed redirect URIs; `*` stands for a port number (`http://127.0.0.1:*/callback`).
    pub redirect_uris: Vec<String>,
}

impl OidcClient {
    fn allows(&self, uri: &str) -> bool {
        self.redirect_uris.iter().any(|p| matches_pattern(p, uri))
    }
}

/// A code handed to the browser, until the token endpoint takes it.
#[derive(Debug, Clone)]
struct Grant {
    username: String,
    client_id: String,
    redirect_uri: String,
    challenge: String,
    nonce: Option<String>,
    issued: Instant,
}

/// A signed-in identity-provider session.
#[derive(Debug, Clone)]
pub struct OidcSession {
    pub username: String,
    pub client_id: String,
    pub access_token: String,
}

/// A device sign-in (RFC 8628) waiting for the person's confirmation.
#[derive(Debug, Clone)]
struct DeviceGrant {
    user_code: String,
    client_id: String,
    expires: Instant,
    /// `Some(Ok(username))` confirmed, `Some(Err(()))` denied.
    decision: Option<Result<String, ()>>,
}

/// How the realm spoils its ID tokens (tests of the client's checks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IdTokenFault {
    /// Signed and correct.
    #[default]
    None,
    /// `alg: none`, no signature.
    Unsigned,
    /// Signed with another key than the published one.
    WrongKey,
    /// An `HS256` header (an algorithm the configuration does not list).
    UnlistedAlgorithm,
    WrongIssuer,
    WrongAudience,
    /// Two audiences and no `azp`.
    NoAuthorizedParty,
    Expired,
    IssuedInTheFuture,
    WrongNonce,
    /// The answer carries no ID token at all.
    Missing,
}

/// The realm's signing key (ES256), published as its JWKS.
struct SigningKey {
    pair: ring::signature::EcdsaKeyPair,
    kid: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({})", self.kid)
    }
}

impl SigningKey {
    fn generate() -> SigningKey {
        use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .expect("a P-256 key");
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .expect("the key just made");
        SigningKey {
            pair,
            kid: random_hex(16),
        }
    }

    fn jwk(&self) -> serde_json::Value {
        use ring::signature::KeyPair;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let point = self.pair.public_key().as_ref();
        json!({"kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": self.kid,
               "x": b64.encode(&point[1..33]), "y": b64.encode(&point[33..65])})
    }

    /// `header.payload.signature` of these claims.
    fn sign(&self, claims: &serde_json::Value) -> String {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header = json!({"alg": "ES256", "typ": "JWT", "kid": self.kid});
        let signed = format!(
            "{}.{}",
            b64.encode(header.to_string()),
            b64.encode(claims.to_string())
        );
        let rng = ring::rand::SystemRandom::new();
        let signature = self.pair.sign(&rng, signed.as_bytes()).expect("signing");
        format!("{signed}.{}", b64.encode(signature.as_ref()))
    }
}

/// The realm.
#[derive(Debug)]
pub struct SsoRealm {
    /// The emulator's own URL (`http://127.0.0.1:<port>`).
    pub base_url: String,
    /// The `client_id` of the `/api/auth/authorize` redirect.
    pub redirect_client_id: String,
    pub clients: Vec<OidcClient>,
    /// Refresh token → session.
    pub sessions: BTreeMap<String, OidcSession>,
    /// Advertise and serve the device flow.
    pub device_flow: bool,
    /// The polling interval handed out (seconds).
    pub device_interval: u64,
    /// How long a device code lives.
    pub device_lifetime: Duration,
    /// Answer this many of the next device polls with `slow_down` (tests).
    pub slow_down_polls: u32,
    /// When each device poll arrived (tests check the interval is honoured).
    pub device_polls: Vec<Instant>,
    /// How the next ID tokens are spoiled (tests).
    pub id_token_fault: IdTokenFault,
    codes: BTreeMap<String, Grant>,
    devices: BTreeMap<String, DeviceGrant>,
    key: SigningKey,
}

impl SsoRealm {
    pub fn new(base_url: &str) -> SsoRealm {
        let base_url = base_url.trim_end_matches('/').to_string();
        SsoRealm {
            clients: vec![
                OidcClient {
                    id: CLI_CLIENT.into(),
                    standard_flow: true,
                    device_flow: true,
                    redirect_uris: vec!["http://127.0.0.1:*/callback".into()],
                },
                OidcClient {
                    id: WEB_CLIENT.into(),
                    standard_flow: true,
                    device_flow: false,
                    redirect_uris: vec![format!("{base_url}/api/auth/callback/kc")],
                },
                OidcClient {
                    id: SERVICE_CLIENT.into(),
                    standard_flow: false,
                    device_flow: false,
                    redirect_uris: vec!["http://127.0.0.1:*/callback".into()],
                },
            ],
            redirect_client_id: CLI_CLIENT.into(),
            base_url,
            sessions: BTreeMap::new(),
            device_flow: true,
            device_interval: 5,
            device_lifetime: Duration::from_secs(600),
            slow_down_polls: 0,
            device_polls: Vec::new(),
            id_token_fault: IdTokenFault::None,
            codes: BTreeMap::new(),
            devices: BTreeMap::new(),
            key: SigningKey::generate(),
        }
    }

    /// `<base>/auth/realms/<realm>`: the issuer.
    pub fn issuer(&self) -> String {
        format!("{}/auth/realms/{REALM}", self.base_url)
    }

    fn endpoint(&self, tail: &str) -> String {
        format!("{}/protocol/openid-connect/{tail}", self.issuer())
    }

    fn client(&self, id: &str) -> Option<&OidcClient> {
        self.clients.iter().find(|c| c.id == id)
    }
}

/// `*` in a pattern matches one port number (digits only); everything else must be equal.
fn matches_pattern(pattern: &str, uri: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == uri,
        Some((head, tail)) => {
            uri.len() > head.len() + tail.len()
                && uri.starts_with(head)
                && uri.ends_with(tail)
                && uri[head.len()..uri.len() - tail.len()]
                    .bytes()
                    .all(|b| b.is_ascii_digit())
        }
    }
}

/// Route a request to the realm; `None` when it is not the realm's (or the realm is off).
pub(super) fn dispatch(
    st: &mut State,
    method: &str,
    segments: &[&str],
    query: &str,
    body: &Bytes,
) -> Option<Response> {
    let realm = st.sso.as_ref()?;
    let response = match (method, segments) {
        ("GET", ["api", "auth", "authorize"]) => {
            let mut location = url::Url::parse(&realm.endpoint("auth")).ok()?;
            location
                .query_pairs_mut()
                .append_pair("client_id", &realm.redirect_client_id)
                .append_pair("response_type", "code")
                .append_pair("scope", "openid")
                .append_pair(
                    "redirect_uri",
                    &format!("{}/api/auth/callback/kc", realm.base_url),
                );
            redirect(location.as_str())
        }
        (_, ["auth", "realms", name, rest @ ..]) if *name == REALM => match (method, rest) {
            ("GET", [".well-known", "openid-configuration"]) => configuration(realm),
            ("GET", ["protocol", "openid-connect", "certs"]) => (
                StatusCode::OK,
                axum::Json(json!({"keys": [realm.key.jwk()]})),
            )
                .into_response(),
            ("GET", ["protocol", "openid-connect", "auth"]) => {
                let form = fields(query.as_bytes());
                check_request(realm, &form).unwrap_or_else(|| login_page(&form, None))
            }
            ("POST", ["protocol", "openid-connect", "auth"]) => login(st, &fields(body)),
            ("POST", ["protocol", "openid-connect", "token"]) => token(st, &fields(body)),
            ("POST", ["protocol", "openid-connect", "revoke"]) => revoke(st, &fields(body)),
            ("POST", ["protocol", "openid-connect", "logout"]) => logout(st, &fields(body)),
            ("POST", ["protocol", "openid-connect", "auth", "device"]) if realm.device_flow => {
                device_authorization(st, &fields(body))
            }
            ("GET", ["device"]) if realm.device_flow => {
                device_page(field(&fields(query.as_bytes()), "user_code"), None)
            }
            ("POST", ["device"]) if realm.device_flow => device_confirm(st, &fields(body)),
            _ => page(StatusCode::NOT_FOUND, "Page not found"),
        },
        _ => return None,
    };
    Some(response)
}

type Fields = BTreeMap<String, String>;

fn fields(bytes: &[u8]) -> Fields {
    url::form_urlencoded::parse(bytes).into_owned().collect()
}

fn field<'a>(form: &'a Fields, key: &str) -> &'a str {
    form.get(key).map(String::as_str).unwrap_or("")
}

fn configuration(realm: &SsoRealm) -> Response {
    let mut doc = json!({
        "issuer": realm.issuer(),
        "authorization_endpoint": realm.endpoint("auth"),
        "token_endpoint": realm.endpoint("token"),
        "end_session_endpoint": realm.endpoint("logout"),
        "revocation_endpoint": realm.endpoint("revoke"),
        "jwks_uri": realm.endpoint("certs"),
        "id_token_signing_alg_values_supported": ["ES256", "RS256"],
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": ["openid"],
    });
    if realm.device_flow {
        doc["device_authorization_endpoint"] = json!(realm.endpoint("auth/device"));
    }
    (StatusCode::OK, axum::Json(doc)).into_response()
}

/// Keycloak's checks of an authorization request, in Keycloak's order: `Some(refusal)` or `None` (go on).
fn check_request(realm: &SsoRealm, form: &Fields) -> Option<Response> {
    let Some(client) = realm.client(field(form, "client_id")) else {
        return Some(page(StatusCode::BAD_REQUEST, "Client not found."));
    };
    let redirect_uri = field(form, "redirect_uri");
    if !client.allows(redirect_uri) {
        return Some(page(
            StatusCode::BAD_REQUEST,
            "Invalid parameter: redirect_uri",
        ));
    }
    let state = field(form, "state");
    if field(form, "response_type") != "code" {
        return Some(back(redirect_uri, state, "unsupported_response_type"));
    }
    if !client.standard_flow {
        return Some(back(redirect_uri, state, "unauthorized_client"));
    }
    if field(form, "code_challenge_method") != "S256" || field(form, "code_challenge").is_empty() {
        return Some(back(redirect_uri, state, "invalid_request"));
    }
    None
}

const CARRIED: [&str; 8] = [
    "client_id",
    "redirect_uri",
    "response_type",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
];

fn login_page(form: &Fields, error: Option<&str>) -> Response {
    let hidden: String = CARRIED
        .iter()
        .map(|k| {
            format!(
                "<input type=\"hidden\" name=\"{k}\" value=\"{}\">",
                escape(field(form, k))
            )
        })
        .collect();
    let error = error
        .map(|e| format!("<p class=\"error\">{}</p>", escape(e)))
        .unwrap_or_default();
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Sign in to {REALM}</title></head><body>\
         <h1>Sign in to {REALM}</h1>{error}<form method=\"post\">{hidden}\
         <label>Username <input name=\"username\"></label>\
         <label>Password <input name=\"password\" type=\"password\"></label>\
         <button type=\"submit\" name=\"login\" value=\"1\">Sign In</button>\
         <button type=\"submit\" name=\"cancel\" value=\"1\">Cancel</button></form></body></html>"
    );
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html,
    )
        .into_response()
}

fn login(st: &mut State, form: &Fields) -> Response {
    let realm = st.sso.as_ref().expect("realm on");
    if let Some(refusal) = check_request(realm, form) {
        return refusal;
    }
    let (redirect_uri, state) = (field(form, "redirect_uri"), field(form, "state"));
    if form.contains_key("cancel") {
        return back(redirect_uri, state, "access_denied");
    }
    let username = field(form, "username").to_lowercase();
    let Some(user) = st
        .users
        .iter()
        .find(|u| u.username == username && u.password == field(form, "password"))
    else {
        return login_page(form, Some("Invalid username or password."));
    };
    let code = random_hex(40);
    let grant = Grant {
        username: user.username.clone(),
        client_id: field(form, "client_id").to_string(),
        redirect_uri: redirect_uri.to_string(),
        challenge: field(form, "code_challenge").to_string(),
        nonce: form.get("nonce").cloned(),
        issued: Instant::now(),
    };
    let realm = st.sso.as_mut().expect("realm on");
    realm.codes.insert(code.clone(), grant);
    let issuer = realm.issuer();
    with_query(
        redirect_uri,
        &[
            ("state", state),
            ("session_state", &random_hex(16)),
            ("iss", &issuer),
            ("code", &code),
        ],
    )
}

fn token(st: &mut State, form: &Fields) -> Response {
    let realm = st.sso.as_mut().expect("realm on");
    let client_id = field(form, "client_id");
    if realm.client(client_id).is_none() {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Invalid client or Invalid client credentials",
        );
    }
    match field(form, "grant_type") {
        "authorization_code" => {
            // a code is used once, whatever the outcome
            let Some(grant) = realm.codes.remove(field(form, "code")) else {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "Code not valid");
            };
            if grant.issued.elapsed() > CODE_LIFETIME || grant.client_id != client_id {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "Code not valid");
            }
            if grant.redirect_uri != field(form, "redirect_uri") {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Incorrect redirect_uri",
                );
            }
            let verifier = field(form, "code_verifier");
            if verifier.is_empty() {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "PKCE code verifier not specified",
                );
            }
            let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
            let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest);
            if challenge != grant.challenge {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "PKCE verification failed: Invalid code verifier",
                );
            }
            issue(st, &grant.username, client_id, grant.nonce.as_deref())
        }
        "refresh_token" => {
            let refresh = field(form, "refresh_token");
            match realm.sessions.get(refresh) {
                Some(session) if session.client_id == client_id => {
                    let old = realm.sessions.remove(refresh).expect("present");
                    st.sessions.remove(&old.access_token);
                    issue(st, &old.username, client_id, None)
                }
                _ => oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Invalid refresh token",
                ),
            }
        }
        "urn:ietf:params:oauth:grant-type:device_code" if realm.device_flow => {
            device_poll(st, field(form, "device_code"), client_id)
        }
        _ => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Unsupported grant_type",
        ),
    }
}

fn device_authorization(st: &mut State, form: &Fields) -> Response {
    let realm = st.sso.as_mut().expect("realm on");
    let client_id = field(form, "client_id");
    let Some(client) = realm.client(client_id) else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Invalid client or Invalid client credentials",
        );
    };
    if !client.device_flow {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            "Client is not allowed to initiate OAuth 2.0 Device Authorization Grant. The flow is disabled for the client.",
        );
    }
    let device_code = random_hex(48);
    let letters = random_hex(8).to_uppercase();
    let user_code = format!("{}-{}", &letters[..4], &letters[4..]);
    realm.devices.insert(
        device_code.clone(),
        DeviceGrant {
            user_code: user_code.clone(),
            client_id: client_id.to_string(),
            expires: Instant::now() + realm.device_lifetime,
            decision: None,
        },
    );
    let verification_uri = format!("{}/device", realm.issuer());
    (
        StatusCode::OK,
        axum::Json(json!({
            "device_code": device_code, "user_code": user_code,
            "verification_uri": verification_uri,
            "verification_uri_complete": format!("{verification_uri}?user_code={user_code}"),
            "expires_in": realm.device_lifetime.as_secs().max(1), "interval": realm.device_interval,
        })),
    )
        .into_response()
}

fn device_poll(st: &mut State, device_code: &str, client_id: &str) -> Response {
    let realm = st.sso.as_mut().expect("realm on");
    realm.device_polls.push(Instant::now());
    let Some(grant) = realm.devices.get(device_code).cloned() else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Device code not valid",
        );
    };
    if grant.client_id != client_id {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Device code not valid",
        );
    }
    if Instant::now() > grant.expires {
        realm.devices.remove(device_code);
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "expired_token",
            "Device code is expired",
        );
    }
    if realm.slow_down_polls > 0 {
        realm.slow_down_polls -= 1;
        return oauth_error(StatusCode::BAD_REQUEST, "slow_down", "Slow down");
    }
    match grant.decision {
        None => oauth_error(
            StatusCode::BAD_REQUEST,
            "authorization_pending",
            "The authorization request is still pending",
        ),
        Some(Err(())) => {
            realm.devices.remove(device_code);
            oauth_error(StatusCode::BAD_REQUEST, "access_denied", "Consent denied")
        }
        Some(Ok(username)) => {
            realm.devices.remove(device_code);
            issue(st, &username, client_id, None)
        }
    }
}

fn device_page(user_code: &str, message: Option<&str>) -> Response {
    let message = message
        .map(|m| format!("<p class=\"error\">{}</p>", escape(m)))
        .unwrap_or_default();
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Device Login</title></head><body>\
         <h1>Device Login</h1>{message}<form method=\"post\">\
         <label>Code <input name=\"user_code\" value=\"{}\"></label>\
         <label>Username <input name=\"username\"></label>\
         <label>Password <input name=\"password\" type=\"password\"></label>\
         <button type=\"submit\" name=\"login\" value=\"1\">Sign In</button>\
         <button type=\"submit\" name=\"cancel\" value=\"1\">No</button></form></body></html>",
        escape(user_code)
    );
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html,
    )
        .into_response()
}

fn device_confirm(st: &mut State, form: &Fields) -> Response {
    let user_code = field(form, "user_code").trim().to_uppercase();
    let username = field(form, "username").to_lowercase();
    let user = st
        .users
        .iter()
        .find(|u| u.username == username && u.password == field(form, "password"))
        .map(|u| u.username.clone());
    let realm = st.sso.as_mut().expect("realm on");
    let Some(grant) = realm
        .devices
        .values_mut()
        .find(|g| g.user_code == user_code && g.decision.is_none())
    else {
        return device_page(&user_code, Some("Invalid code."));
    };
    if form.contains_key("cancel") {
        grant.decision = Some(Err(()));
        return page(StatusCode::OK, "Consent denied.");
    }
    match user {
        Some(name) => {
            grant.decision = Some(Ok(name));
            page(StatusCode::OK, "Device Login Successful")
        }
        None => device_page(&user_code, Some("Invalid username or password.")),
    }
}

/// New access, refresh and ID tokens; the access token becomes a session of the emulated API. The ID token is
/// signed with the realm's key (ES256), unless a test asked the realm to spoil it.
fn issue(st: &mut State, username: &str, client_id: &str, nonce: Option<&str>) -> Response {
    let Some(user) = st.users.iter().find(|u| u.username == username).cloned() else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "User not found");
    };
    let lifetime = st.session_lifetime;
    let access = make_jwt(&user.user_id, &user.username, &user.roles, lifetime);
    let refresh = random_hex(64);
    st.sessions.insert(access.clone(), user.username.clone());
    st.refresh_tokens.push(refresh.clone());
    let realm = st.sso.as_mut().expect("realm on");
    realm.sessions.insert(
        refresh.clone(),
        OidcSession {
            username: user.username.clone(),
            client_id: client_id.to_string(),
            access_token: access.clone(),
        },
    );
    let now = Utc::now().timestamp();
    let fault = realm.id_token_fault;
    let mut claims = json!({
        "iss": realm.issuer(), "aud": client_id, "azp": client_id, "sub": user.user_id,
        "preferred_username": user.username, "exp": now + 300, "iat": now, "typ": "ID",
    });
    if let Some(nonce) = nonce {
        claims["nonce"] = json!(nonce);
    }
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    match fault {
        IdTokenFault::WrongIssuer => claims["iss"] = json!("https://impostor.example/realms/conda"),
        IdTokenFault::WrongAudience => {
            claims["aud"] = json!("another-client");
            claims["azp"] = json!("another-client");
        }
        IdTokenFault::NoAuthorizedParty => {
            claims["aud"] = json!([client_id, "another-client"]);
            claims.as_object_mut().expect("object").remove("azp");
        }
        IdTokenFault::Expired => claims["exp"] = json!(now - 600),
        IdTokenFault::IssuedInTheFuture => claims["iat"] = json!(now + 3600),
        IdTokenFault::WrongNonce => claims["nonce"] = json!("not-the-nonce"),
        _ => {}
    }
    let id_token = match fault {
        IdTokenFault::Unsigned => format!(
            "{}.{}.",
            b64.encode(br#"{"alg":"none","typ":"JWT"}"#),
            b64.encode(claims.to_string())
        ),
        IdTokenFault::WrongKey => SigningKey::generate().sign(&claims),
        IdTokenFault::UnlistedAlgorithm => format!(
            "{}.{}.{}",
            b64.encode(br#"{"alg":"HS256","typ":"JWT"}"#),
            b64.encode(claims.to_string()),
            random_hex(43)
        ),
        _ => realm.key.sign(&claims),
    };
    let mut answer = json!({
        "access_token": access, "expires_in": lifetime.as_secs(), "refresh_expires_in": 1800,
        "refresh_token": refresh, "token_type": "Bearer", "id_token": id_token,
        "scope": "openid profile email",
    });
    if fault == IdTokenFault::Missing {
        answer.as_object_mut().expect("object").remove("id_token");
    }
    (
        StatusCode::OK,
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(answer),
    )
        .into_response()
}

/// RFC 7009: the token's session ends; an unknown token is not an error.
fn revoke(st: &mut State, form: &Fields) -> Response {
    let realm = st.sso.as_mut().expect("realm on");
    if realm.client(field(form, "client_id")).is_none() {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Invalid client or Invalid client credentials",
        );
    }
    if let Some(session) = realm.sessions.remove(field(form, "token")) {
        st.sessions.remove(&session.access_token);
    }
    StatusCode::OK.into_response()
}

/// Keycloak's end-session with a refresh token (back-channel logout).
fn logout(st: &mut State, form: &Fields) -> Response {
    let realm = st.sso.as_mut().expect("realm on");
    match realm.sessions.get(field(form, "refresh_token")) {
        Some(session) if session.client_id == field(form, "client_id") => {
            let session = realm
                .sessions
                .remove(field(form, "refresh_token"))
                .expect("present");
            st.sessions.remove(&session.access_token);
            StatusCode::NO_CONTENT.into_response()
        }
        _ => oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Invalid refresh token",
        ),
    }
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

fn redirect(location: &str) -> Response {
    (
        StatusCode::FOUND,
        [(header::LOCATION, location.to_string())],
    )
        .into_response()
}

/// Back to the client's redirect URI with `error=`.
fn back(redirect_uri: &str, state: &str, error: &str) -> Response {
    with_query(redirect_uri, &[("error", error), ("state", state)])
}

fn with_query(uri: &str, pairs: &[(&str, &str)]) -> Response {
    match url::Url::parse(uri) {
        Ok(mut u) => {
            u.query_pairs_mut().extend_pairs(pairs);
            redirect(u.as_str())
        }
        Err(_) => page(StatusCode::BAD_REQUEST, "Invalid parameter: redirect_uri"),
    }
}

fn page(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        format!(
            "<!doctype html><html><head><title>Sign in to {REALM}</title></head><body><h1>{REALM}</h1>\
             <p>{}</p></body></html>",
            escape(message)
        ),
    )
        .into_response()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::matches_pattern;

    #[test]
    fn redirect_patterns() {
        let pattern = "http://127.0.0.1:*/callback";
        assert!(matches_pattern(pattern, "http://127.0.0.1:49152/callback"));
        assert!(!matches_pattern(pattern, "http://127.0.0.1:/callback"));
        assert!(!matches_pattern(
            pattern,
            "http://127.0.0.1:80.evil.example/callback"
        ));
        assert!(!matches_pattern(
            pattern,
            "http://127.0.0.1:8080/callback/x"
        ));
        assert!(!matches_pattern(pattern, "http://localhost:8080/callback"));
        assert!(matches_pattern("http://a/b", "http://a/b"));
    }
}
